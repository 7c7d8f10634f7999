// Acceptor, io threads, the session registry and the stop sequence (broker.h).
#include "server/broker.h"

#include <asio/experimental/as_tuple.hpp>
#include <condition_variable>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/log.h"
#include "server/session.h"

namespace ironbus::server {
namespace {

using asio::use_awaitable;
using asio::experimental::as_tuple;

}  // namespace

struct Broker::Impl : std::enable_shared_from_this<Broker::Impl> {
  std::shared_ptr<BrokerShared> shared = std::make_shared<BrokerShared>();

  std::mutex mu;
  std::condition_variable cv;
  std::map<uint64_t, std::weak_ptr<Session>> sessions;  // guarded by mu
  uint64_t next_session_id = 0;                         // guarded by mu
  std::shared_ptr<const security::TlsContext> tls;      // guarded by mu; for new connections
  std::shared_ptr<const security::IdentityTable> identities;  // guarded by mu; for new connections
  bool stopping = false;                                // guarded by mu

  // Declared after `shared` and the registry: destroyed before them, so nothing the io
  // context still holds can outlive what it points to.
  asio::io_context io;
  // The accept loop and the close in Stop() both touch the acceptor: they run on this strand so
  // the close never races an async_accept being started on another io thread (found by TSan).
  asio::strand<asio::io_context::executor_type> accept_strand{asio::make_strand(io)};
  asio::ip::tcp::acceptor acceptor{io};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::vector<std::thread> threads;
  bool started = false;
  bool stopped = false;

  asio::awaitable<void> AcceptLoop() {
    asio::steady_timer backoff(io);
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(asio::make_strand(io), as_tuple(use_awaitable));
      if (ec) {
        {
          std::lock_guard<std::mutex> lock(mu);
          if (stopping) co_return;
        }
        if (ec == asio::error::operation_aborted) co_return;
        // EMFILE and friends: keep serving the connections we have, try again shortly.
        static logging::RateLimit accept_limit;
        if (uint64_t suppressed = 0; accept_limit.Allow(&suppressed)) {
          logging::LogTo(shared->log_line, logging::Level::kWarn, "conn.accept_failed",
                         {{"error", ec.message()}, {"suppressed", suppressed}});
        }
        backoff.expires_after(std::chrono::milliseconds(50));
        co_await backoff.async_wait(as_tuple(use_awaitable));
        continue;
      }
      // Pre-auth defences first (spec/security.md 4: lockout, rate, half-open cap), before any
      // byte is read or any session exists.
      Session::Admission admission;
      {
        asio::error_code peer_ec;
        auto remote = socket.remote_endpoint(peer_ec);
        if (!peer_ec) {
          auto address = remote.address();
          if (address.is_v6() && address.to_v6().is_v4_mapped()) {
            address = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
          }
          admission.peer_ip = address.to_string();
        }
      }
      if (shared->preauth) {
        security::PreauthGate::Admission a = shared->preauth->Admit(admission.peer_ip);
        if (a.verdict != security::PreauthVerdict::kAdmit) {
          if (shared->audit) shared->audit->PreauthRejection(admission.peer_ip, a.verdict);
          static logging::RateLimit preauth_limit;
          if (uint64_t suppressed = 0; preauth_limit.Allow(&suppressed)) {
            logging::LogTo(shared->log_line, logging::Level::kWarn, "conn.refused",
                           {{"reason", std::string(security::PreauthVerdictName(a.verdict))},
                            {"source_ip", admission.peer_ip},
                            {"suppressed", suppressed}});
          }
          asio::error_code ignored;
          socket.close(ignored);
          continue;
        }
        admission.preauth_slot = std::move(a.slot);
      }
      std::shared_ptr<Session> session;
      {
        std::lock_guard<std::mutex> lock(mu);
        if (stopping) co_return;
        if (sessions.size() < shared->options.max_connections) {
          asio::error_code ignored;
          socket.set_option(asio::ip::tcp::no_delay(true), ignored);
          if (shared->options.socket_send_buffer_bytes > 0) {
            socket.set_option(asio::socket_base::send_buffer_size(shared->options.socket_send_buffer_bytes), ignored);
          }
          const uint64_t id = next_session_id++;
          admission.tls = tls;
          admission.identities = identities;
          session = std::make_shared<Session>(std::move(socket), std::move(admission), shared, id);
          sessions.emplace(id, session);
        }
      }
      if (!session) {
        // At the cap: closed at once, no frame (spec 14).
        shared->connections_refused++;
        static logging::RateLimit refuse_limit;
        if (uint64_t suppressed = 0; refuse_limit.Allow(&suppressed)) {
          logging::LogTo(shared->log_line, logging::Level::kWarn, "conn.refused",
                         {{"reason", "max_connections"},
                          {"max_connections", static_cast<uint64_t>(shared->options.max_connections)},
                          {"suppressed", suppressed}});
        }
        asio::error_code ignored;
        socket.close(ignored);
        continue;
      }
      shared->connections_accepted++;
      session->Start();
    }
  }

  void OnSessionEnded(uint64_t id) {
    std::lock_guard<std::mutex> lock(mu);
    sessions.erase(id);
    cv.notify_all();
  }

  std::vector<std::shared_ptr<Session>> Live() {
    std::vector<std::shared_ptr<Session>> out;
    std::lock_guard<std::mutex> lock(mu);
    for (auto& [id, weak] : sessions) {
      if (auto s = weak.lock()) out.push_back(std::move(s));
    }
    return out;
  }

  bool WaitForSessions(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, timeout, [this] { return sessions.empty(); });
  }
};

Broker::Broker(storage::Log* log, storage::Appender* appender, queue::Groups* groups, BrokerOptions options)
    : impl_(std::make_shared<Impl>()) {
  BrokerShared& shared = *impl_->shared;
  shared.log = log;
  shared.appender = appender;
  shared.options = std::move(options);
  shared.log_line = shared.options.log_sink;  // empty: logging::Log (stderr)
  impl_->tls = shared.options.tls;
  impl_->identities = shared.options.identities;
  if (shared.options.preauth) {
    shared.preauth = std::make_unique<security::PreauthGate>(*shared.options.preauth, SystemClock::Default());
  }
  shared.audit = shared.options.audit;
  if (shared.options.identities) {
    shared.password_pool = std::make_unique<asio::thread_pool>(std::max(1, shared.options.max_concurrent_password_verifies));
  }
  shared.dedup = std::make_unique<queue::DedupWindow>(SystemClock::Default(), shared.options.dedup);
  if (groups != nullptr) {
    shared.consume = std::make_unique<ConsumeService>(groups, SystemClock::Default(), shared.log_line);
  }
  // The registry callback runs on a session's strand; the Impl outlives every session
  // coroutine (Stop waits for them), so a plain pointer is enough.
  Impl* impl = impl_.get();
  shared.on_ended = [impl](uint64_t id) { impl->OnSessionEnded(id); };
}

Broker::~Broker() { Stop(); }

Status Broker::Start() {
  Impl& impl = *impl_;
  if (impl.started) return Status::FailedPrecondition("broker already started");
  const BrokerOptions& o = impl.shared->options;
  if (o.io_threads < 1) return Status::InvalidArgument("io_threads must be at least 1");
  if (o.max_connections < 1) return Status::InvalidArgument("max_connections must be at least 1");
  if (o.max_pending_replies < 1) return Status::InvalidArgument("max_pending_replies must be at least 1");
  if (o.max_frame_len < 1) return Status::InvalidArgument("max_frame_len must be at least 1");
  asio::error_code ec;
  const std::string host = o.host == "localhost" ? "127.0.0.1" : o.host;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) return Status::InvalidArgument("bad listen address " + o.host + ": " + ec.message());
  if (!address.is_loopback() && o.tls == nullptr) {
    return Status::InvalidArgument("listen address " + o.host +
                                   " is not loopback: plaintext is allowed on loopback only; give --tls-cert and --tls-key");
  }
  if (impl.shared->log == nullptr || impl.shared->appender == nullptr || impl.shared->consume == nullptr) {
    return Status::InvalidArgument("a broker needs a log, an appender and the consumer groups");
  }
  const asio::ip::tcp::endpoint endpoint(address, o.port);
  impl.acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl.acceptor.set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
  if (!ec) impl.acceptor.bind(endpoint, ec);
  if (!ec) impl.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    asio::error_code ignored;
    impl.acceptor.close(ignored);
    return Status::IOError("cannot listen on " + o.host + ":" + std::to_string(o.port) + ": " + ec.message(),
                           ec.value());
  }
  impl.shared->consume->Start();
  impl.work.emplace(impl.io.get_executor());
  auto self = impl_;
  asio::co_spawn(impl.accept_strand, [self] { return self->AcceptLoop(); }, asio::detached);
  for (int i = 0; i < o.io_threads; ++i) {
    impl.threads.emplace_back([self] {
      // A handler that throws must not take the broker down with it.
      for (;;) {
        try {
          self->io.run();
          return;
        } catch (const std::exception& e) {
          logging::LogTo(self->shared->log_line, logging::Level::kError, "broker.io_thread_error",
                         {{"error", e.what()}});
        }
      }
    });
  }
  impl.started = true;
  return Status::Ok();
}

uint16_t Broker::port() const {
  asio::error_code ec;
  const auto endpoint = impl_->acceptor.local_endpoint(ec);
  return ec ? impl_->shared->options.port : endpoint.port();
}

std::string Broker::address() const {
  const std::string& host = impl_->shared->options.host;
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port());
}

void Broker::Stop() {
  Impl& impl = *impl_;
  if (!impl.started || impl.stopped) return;
  impl.stopped = true;
  {
    std::lock_guard<std::mutex> lock(impl.mu);
    impl.stopping = true;  // an accept that completes from now on closes its socket
  }
  // 1. Stop accepting.
  asio::post(impl.accept_strand, [self = impl_] {
    asio::error_code ignored;
    self->acceptor.close(ignored);
  });
  // 2-3. Every connection answers what it received and closes; stragglers are cut.
  for (auto& session : impl.Live()) session->Drain();
  if (!impl.WaitForSessions(impl.shared->options.drain_timeout)) {
    logging::LogTo(impl.shared->log_line, logging::Level::kWarn, "shutdown.connections_cut",
                   {{"drain_timeout_ms", static_cast<int64_t>(impl.shared->options.drain_timeout.count())},
                    {"connections", static_cast<uint64_t>(impl.Live().size())}});
    for (auto& session : impl.Live()) session->Abort();
    (void)impl.WaitForSessions(std::chrono::milliseconds(5'000));
  }
  // Password verifies still running finish and post to the io context, which still runs.
  if (impl.shared->password_pool) impl.shared->password_pool->join();
  // 4. Whatever is still queued is appended and synced; its completions are posted to the
  // io context, which is still running, and find their sessions closed.
  Status appender_stopped = impl.shared->appender->Stop();
  if (!appender_stopped.ok()) {
    logging::LogTo(impl.shared->log_line, logging::Level::kError, "shutdown.appender_failed",
                   {{"error", appender_stopped.message()}});
  }
  // 5. Every ack the sessions sent is applied: write the cursors.
  impl.shared->consume->Stop();
  impl.work.reset();
  // The io threads return once the last handler ran. A handler that never finishes would
  // hang the stop: after a bounded wait, stop the context outright.
  for (int i = 0; i < 200 && !impl.io.stopped(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  impl.io.stop();
  for (auto& t : impl.threads) t.join();
  impl.threads.clear();
}

BrokerStats Broker::stats() const {
  const BrokerShared& s = *impl_->shared;
  BrokerStats out;
  out.connections_accepted = s.connections_accepted;
  out.connections_refused = s.connections_refused;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    out.connections_open = impl_->sessions.size();
  }
  out.frames_in = s.frames_in;
  out.publishes_acked = s.publishes_acked;
  out.publishes_refused = s.publishes_refused;
  out.publishes_shed = s.publishes_shed;
  out.framing_errors = s.framing_errors;
  out.idle_closed = s.idle_closed;
  out.slow_closed = s.slow_closed;
  out.tls_handshakes = s.tls_handshakes;
  out.tls_handshake_failures = s.tls_handshake_failures;
  out.handshake_timeouts = s.handshake_timeouts;
  out.auth_successes = s.auth_successes;
  out.auth_failures = s.auth_failures;
  out.authz_denials = s.authz_denials;
  if (s.preauth) {
    out.preauth_locked_out = s.preauth->rejected(security::PreauthVerdict::kLockedOut);
    out.preauth_rate_limited = s.preauth->rejected(security::PreauthVerdict::kRateLimited);
    out.preauth_half_open_cap = s.preauth->rejected(security::PreauthVerdict::kHalfOpenCap);
    out.preauth_half_open = s.preauth->half_open();
  }
  if (s.consume) {
    const ConsumeStats c = s.consume->stats();
    out.fetches = c.fetches;
    out.groups_evicted = c.groups_evicted;
    out.delivered = c.delivered;
    out.settles = c.settles;
  }
  return out;
}

std::vector<std::pair<std::string, queue::GroupStats>> Broker::GroupStatsSnapshot(
    std::chrono::milliseconds timeout) const {
  using Snapshot = std::vector<std::pair<std::string, queue::GroupStats>>;
  struct Waiter {
    std::mutex mu;
    std::condition_variable cv;
    std::optional<Snapshot> value;
  };
  if (!impl_->shared->consume) return {};
  auto waiter = std::make_shared<Waiter>();
  impl_->shared->consume->SnapshotGroupStats([waiter](Snapshot snapshot) {
    std::lock_guard<std::mutex> lock(waiter->mu);
    waiter->value = std::move(snapshot);
    waiter->cv.notify_all();
  });
  std::unique_lock<std::mutex> lock(waiter->mu);
  waiter->cv.wait_for(lock, timeout, [&] { return waiter->value.has_value(); });
  return waiter->value ? std::move(*waiter->value) : Snapshot{};
}

void Broker::PostProbe(std::function<void()> done) { asio::post(impl_->io, std::move(done)); }

void Broker::NotifyAppended() {
  if (impl_->shared->consume) impl_->shared->consume->NotifyAppended();
}

std::shared_ptr<const security::IdentityTable> Broker::identities() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->identities;
}

Status Broker::ReplaceIdentities(std::shared_ptr<const security::IdentityTable> identities) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  if ((identities == nullptr) != (impl_->identities == nullptr)) {
    return Status::FailedPrecondition(identities ? "authentication cannot be turned on without a restart"
                                                 : "authentication cannot be turned off without a restart");
  }
  impl_->identities = std::move(identities);
  return Status::Ok();
}

Status Broker::ReplaceTls(std::shared_ptr<const security::TlsContext> tls) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  if ((tls == nullptr) != (impl_->tls == nullptr)) {
    return Status::FailedPrecondition(tls ? "TLS cannot be turned on without a restart"
                                          : "TLS cannot be turned off without a restart");
  }
  impl_->tls = std::move(tls);
  return Status::Ok();
}

}  // namespace ironbus::server
