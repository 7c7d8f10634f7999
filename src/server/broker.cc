#include "server/broker.h"

#include <asio/experimental/as_tuple.hpp>
#include <iostream>
#include <mutex>

#include "server/session.h"

namespace ironbus::server {

using asio::experimental::as_tuple;
using asio::use_awaitable;

struct Broker::Impl : std::enable_shared_from_this<Broker::Impl> {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor{io};
  std::vector<std::thread> threads;
  std::shared_ptr<BrokerShared> shared = std::make_shared<BrokerShared>();
  std::mutex sessions_mu;
  std::vector<std::weak_ptr<Session>> sessions;  // guarded by sessions_mu
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  bool started = false;
  bool stopped = false;

  asio::awaitable<void> AcceptLoop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(asio::make_strand(io), as_tuple(use_awaitable));
      if (ec) {
        if (ec == asio::error::operation_aborted || shared->stopping) co_return;
        continue;  // e.g. EMFILE: keep serving the connections we have
      }
      if (shared->stopping) co_return;
      if (shared->connections_open >= shared->options.max_connections) {
        shared->connections_refused++;
        asio::error_code ignored;
        socket.close(ignored);
        continue;
      }
      asio::error_code ignored;
      socket.set_option(asio::ip::tcp::no_delay(true), ignored);
      shared->connections_accepted++;
      shared->connections_open++;
      auto session = std::make_shared<Session>(std::move(socket), shared);
      {
        std::lock_guard<std::mutex> lock(sessions_mu);
        std::erase_if(sessions, [](const std::weak_ptr<Session>& w) { return w.expired(); });
        sessions.push_back(session);
      }
      session->Start();
    }
  }
};

Broker::Broker(storage::Log* log, storage::Appender* appender, BrokerOptions options)
    : impl_(std::make_shared<Impl>()) {
  impl_->shared->log = log;
  impl_->shared->appender = appender;
  impl_->shared->options = std::move(options);
}

Broker::~Broker() { Stop(); }

Status Broker::Start() {
  Impl& impl = *impl_;
  const BrokerOptions& o = impl.shared->options;
  asio::error_code ec;
  const auto address = asio::ip::make_address(o.host == "localhost" ? "127.0.0.1" : o.host, ec);
  if (ec) return Status::InvalidArgument("bad listen address " + o.host + ": " + ec.message());
  const asio::ip::tcp::endpoint endpoint(address, o.port);
  impl.acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl.acceptor.set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
  if (!ec) impl.acceptor.bind(endpoint, ec);
  if (!ec) impl.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::IOError("cannot listen on " + o.host + ":" + std::to_string(o.port) + ": " + ec.message(),
                           ec.value());
  }
  impl.work.emplace(impl.io.get_executor());
  auto self = impl_;
  asio::co_spawn(impl.io, [self] { return self->AcceptLoop(); }, asio::detached);
  for (int i = 0; i < std::max(1, o.io_threads); ++i) {
    impl.threads.emplace_back([self] { self->io.run(); });
  }
  impl.started = true;
  return Status::Ok();
}

uint16_t Broker::port() const {
  asio::error_code ec;
  return impl_->acceptor.local_endpoint(ec).port();
}

void Broker::Stop() {
  Impl& impl = *impl_;
  if (!impl.started || impl.stopped) return;
  impl.stopped = true;
  impl.shared->stopping = true;
  asio::post(impl.io, [self = impl_] {
    asio::error_code ignored;
    self->acceptor.close(ignored);
  });
  {
    // Every connection answers what it already received (in-flight fdatasyncs included), then
    // closes; the io threads return when nothing is left to run.
    std::lock_guard<std::mutex> lock(impl.sessions_mu);
    for (auto& weak : impl.sessions) {
      if (auto session = weak.lock()) session->Drain();
    }
  }
  impl.work.reset();
  for (auto& t : impl.threads) t.join();
  impl.threads.clear();
}

BrokerStats Broker::stats() const {
  const BrokerShared& s = *impl_->shared;
  return {s.connections_accepted, s.connections_refused, s.connections_open, s.frames_in,
          s.publishes_acked,      s.publishes_refused,   s.framing_errors};
}

}  // namespace ironbus::server
