// One coroutine per connection on the health thread: read the request head under a deadline,
// answer, close. A shared Conn holds the socket and the deadline timer, so a timer that fires
// while the coroutine is finishing never touches a freed socket.
#include "server/health_server.h"

#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <algorithm>
#include <cctype>
#include <atomic>
#include <exception>
#include <thread>

#include "base/log.h"
#include "server/admin.h"

namespace ironbus::server {
namespace {

using asio::use_awaitable;
using asio::experimental::as_tuple;
using tcp = asio::ip::tcp;

constexpr std::string_view kTextType = "text/plain; charset=utf-8";
constexpr std::chrono::milliseconds kLinger{1'000};
constexpr size_t kMaxDiscardBytes = 64 * 1024;
constexpr std::string_view kJsonType = "application/json";
constexpr std::string_view kMetricsType = "text/plain; version=0.0.4; charset=utf-8";

struct Conn {
  explicit Conn(tcp::socket s) : socket(std::move(s)), deadline(socket.get_executor()) {}
  tcp::socket socket;
  asio::steady_timer deadline;

  // Arms the deadline: when it passes, `*counter` (if any) goes up, then the socket closes and
  // the pending read or write fails. The counter moves first, so whoever sees the close sees it.
  static void Arm(const std::shared_ptr<Conn>& conn, std::chrono::milliseconds timeout,
                  std::atomic<uint64_t>* counter) {
    conn->deadline.expires_after(timeout);
    conn->deadline.async_wait([weak = std::weak_ptr<Conn>(conn), counter](const asio::error_code& ec) {
      if (ec) return;  // re-armed or cancelled
      if (auto c = weak.lock()) {
        if (counter != nullptr) (*counter)++;
        asio::error_code ignored;
        c->socket.close(ignored);
      }
    });
  }
};

struct Response {
  int status = 200;
  std::string_view content_type = kTextType;
  std::string body;
};

std::string_view Reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 406:
      return "Not Acceptable";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Error";
  }
}

std::string Serialize(const Response& r) {
  std::string out = "HTTP/1.1 " + std::to_string(r.status) + " " + std::string(Reason(r.status)) + "\r\n";
  out += "Content-Type: " + std::string(r.content_type) + "\r\n";
  out += "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
  if (r.status == 405) out += "Allow: GET\r\n";
  out += "Connection: close\r\n\r\n";
  out += r.body;
  return out;
}

// The end of the request head ("\r\n\r\n", or bare "\n\n"), or npos.
size_t HeadEnd(std::string_view data) {
  const size_t crlf = data.find("\r\n\r\n");
  const size_t lf = data.find("\n\n");
  return std::min(crlf, lf);
}

}  // namespace

// One liveness probe in flight at a time; shared with the probe callback, which may run on the
// broker's thread after the server is gone.
struct Liveness {
  std::atomic<bool> waiting{false};
  std::atomic<int64_t> sent_ns{0};  // steady clock, when the waiting probe was sent
};

int64_t SteadyNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

struct HealthServer::Impl {
  HealthOptions options;
  HealthSources sources;
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  std::thread thread;
  std::string address;
  uint16_t port = 0;
  bool stopped = false;

  std::shared_ptr<Liveness> liveness = std::make_shared<Liveness>();
  size_t open = 0;  // health thread only
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> refused{0};
  std::atomic<uint64_t> timed_out{0};
  std::atomic<uint64_t> oversized{0};

  Response Route(std::string_view head) {
    const size_t eol = head.find_first_of("\r\n");
    const std::string_view line = head.substr(0, eol);
    // "METHOD SP target SP HTTP/x.y"; anything else is 405 (spec 3.6), never a crash.
    const size_t sp1 = line.find(' ');
    const size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos ||
        line.substr(sp2 + 1).substr(0, 5) != "HTTP/") {
      return {405, kTextType, "malformed request line\n"};
    }
    const std::string_view method = line.substr(0, sp1);
    std::string_view path = line.substr(sp1 + 1, sp2 - sp1 - 1);
    if (method != "GET") return {405, kTextType, "only GET is supported\n"};
    path = path.substr(0, path.find('?'));
    if (path == "/healthz" && sources.probe && options.liveness_window.count() > 0 && liveness->waiting &&
        SteadyNowNs() - liveness->sent_ns >= std::chrono::nanoseconds(options.liveness_window).count()) {
      return {503, kTextType, "no event-loop progress\n"};
    }
    if (path == "/livez" || path == "/healthz") return {200, kTextType, "ok\n"};
    const bool admin = path == "/admin" && options.enable_admin;
    if (admin && !AdminAcceptable(head)) return {406, kTextType, "only /admin v1 is served\n"};
    if (admin && sources.admin_authorized) {
      const std::string token = BearerTokenOf(head);
      if (token.empty()) return {401, kTextType, "/admin needs Authorization: Bearer <token> of an identity with the admin scope\n"};
      if (!sources.admin_authorized(token)) return {403, kTextType, "Authorization Violation\n"};
    }
    if (path == "/readyz" || path == "/metrics" || admin) {
      MetricsSnapshot snapshot;
      try {
        snapshot = sources.snapshot();
      } catch (const std::exception& e) {
        return {500, kTextType, std::string("snapshot failed: ") + e.what() + "\n"};
      }
      if (path == "/metrics") return {200, kMetricsType, RenderPrometheus(snapshot)};
      if (admin) return {200, kJsonType, RenderAdmin(snapshot)};
      const Readiness r = CheckReadiness(snapshot);
      return {r.ready ? 200 : 503, kTextType, r.reason + "\n"};
    }
    return {404, kTextType, "not found\n"};
  }

  asio::awaitable<void> Serve(std::shared_ptr<Conn> conn) {
    std::string head;
    std::array<char, 2048> chunk;
    Conn::Arm(conn, options.read_timeout, &timed_out);
    Response response;
    bool have_response = false;
    while (!have_response) {
      auto [ec, n] = co_await conn->socket.async_read_some(asio::buffer(chunk), as_tuple(use_awaitable));
      if (ec) co_return;  // closed by the peer, or cut by the deadline
      head.append(chunk.data(), n);
      const size_t end = HeadEnd(head);
      if (end != std::string::npos && end <= options.max_request_bytes) {
        response = Route(std::string_view(head).substr(0, end));
        have_response = true;
      } else if (head.size() > options.max_request_bytes) {
        oversized++;
        response = {431, kTextType, "request head over " + std::to_string(options.max_request_bytes) + " bytes\n"};
        have_response = true;
      }
    }
    requests++;
    const std::string bytes = Serialize(response);
    Conn::Arm(conn, options.write_timeout, &timed_out);
    auto [ec, n] = co_await asio::async_write(conn->socket, asio::buffer(bytes), as_tuple(use_awaitable));
    (void)n;
    if (ec) co_return;
    // Close gracefully: FIN, then discard what the client still sends (the rest of an oversized
    // head) until it closes, for a short while, so the answer is not lost to a reset.
    asio::error_code ignored;
    conn->socket.shutdown(tcp::socket::shutdown_send, ignored);
    Conn::Arm(conn, std::min<std::chrono::milliseconds>(options.write_timeout, kLinger), nullptr);
    for (size_t discarded = 0; discarded < kMaxDiscardBytes;) {
      auto [read_ec, got] = co_await conn->socket.async_read_some(asio::buffer(chunk), as_tuple(use_awaitable));
      if (read_ec) break;
      discarded += got;
    }
    conn->deadline.cancel();
    conn->socket.close(ignored);
  }

  asio::awaitable<void> ServeGuarded(std::shared_ptr<Conn> conn) {
    try {
      co_await Serve(conn);
    } catch (const std::exception& e) {
      // An allocation failure or an unexpected asio throw ends this connection only.
      logging::Error("health.request_failed", {{"error", e.what()}});
    } catch (...) {
      logging::Error("health.request_failed", {{"error", "unknown exception"}});
    }
    asio::error_code ignored;
    conn->socket.close(ignored);
    open--;
  }

  // Sends a liveness probe whenever none is waiting, every 250 ms.
  asio::awaitable<void> ProbeLoop() {
    asio::steady_timer tick(io);
    for (;;) {
      if (!liveness->waiting.exchange(true)) {
        liveness->sent_ns = SteadyNowNs();
        sources.probe([l = liveness] { l->waiting = false; });
      }
      tick.expires_after(std::chrono::milliseconds(250));
      auto [ec] = co_await tick.async_wait(as_tuple(use_awaitable));
      if (ec) co_return;
    }
  }

  asio::awaitable<void> AcceptLoop() {
    asio::steady_timer backoff(io);
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(as_tuple(use_awaitable));
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
        static logging::RateLimit accept_limit;
        if (uint64_t suppressed = 0; accept_limit.Allow(&suppressed)) {
          logging::Warn("health.accept_failed", {{"error", ec.message()}, {"suppressed", suppressed}});
        }
        // EMFILE and friends: pause instead of spinning, then try the next one.
        backoff.expires_after(std::chrono::milliseconds(100));
        co_await backoff.async_wait(as_tuple(use_awaitable));
        continue;
      }
      if (open >= options.max_connections) {
        refused++;
        static logging::RateLimit refuse_limit;
        if (uint64_t suppressed = 0; refuse_limit.Allow(&suppressed)) {
          logging::Warn("health.conn_refused", {{"reason", "at_capacity"},
                                                {"max_connections", static_cast<uint64_t>(options.max_connections)},
                                                {"suppressed", suppressed}});
        }
        asio::error_code ignored;
        socket.close(ignored);
        continue;
      }
      open++;
      asio::co_spawn(io, ServeGuarded(std::make_shared<Conn>(std::move(socket))), asio::detached);
    }
  }
};

Result<HealthOptions> HealthOptions::FromAddress(std::string_view addr, bool allow_public) {
  const std::string quoted = "\"" + std::string(addr) + "\"";
  const size_t colon = addr.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == addr.size()) {
    return Status::InvalidArgument("health address " + quoted + " is not host:port");
  }
  std::string_view host = addr.substr(0, colon);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return Status::InvalidArgument("health address " + quoted + " is not [v6]:port");
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return Status::InvalidArgument("health address " + quoted + ": write an IPv6 host as [v6]:port");
  }
  uint32_t port = 0;
  for (char c : addr.substr(colon + 1)) {
    if (c < '0' || c > '9' || port > 65535) return Status::InvalidArgument("health address " + quoted + ": bad port");
    port = port * 10 + static_cast<uint32_t>(c - '0');
  }
  if (port > 65535) return Status::InvalidArgument("health address " + quoted + ": bad port");
  HealthOptions o;
  o.host = std::string(host);
  o.port = static_cast<uint16_t>(port);
  o.allow_public = allow_public;
  return o;
}

namespace {

// Resolves the address and applies the bind rule; the endpoint to bind.
Result<tcp::endpoint> ResolveHealthAddress(const HealthOptions& o) {
  const std::string where = o.host + ":" + std::to_string(o.port);
  asio::io_context io;
  asio::error_code ec;
  tcp::resolver resolver(io);
  auto results = resolver.resolve(o.host, std::to_string(o.port), ec);
  if (ec || results.empty()) return Status::InvalidArgument("health address " + where + " resolves to nothing");
  for (const auto& entry : results) {
    if (!entry.endpoint().address().is_loopback() && !o.allow_public) {
      return Status::InvalidArgument("health address " + where + " is not loopback (" +
                                     entry.endpoint().address().to_string() +
                                     "); the health listener is unauthenticated: pass --health-allow-public to bind it");
    }
  }
  return results.begin()->endpoint();
}

}  // namespace

Status HealthServer::CheckAddress(const HealthOptions& options) { return ResolveHealthAddress(options).status(); }

Result<std::unique_ptr<HealthServer>> HealthServer::Start(HealthOptions options, HealthSources sources) {
  if (!sources.snapshot) return Status::InvalidArgument("health server needs a snapshot callback");
  if (options.max_connections == 0 || options.max_request_bytes < 64) {
    return Status::InvalidArgument("health server: max_connections must be > 0 and max_request_bytes >= 64");
  }
  auto impl = std::make_shared<Impl>();
  impl->options = std::move(options);
  impl->sources = std::move(sources);
  const HealthOptions& o = impl->options;
  const std::string where = o.host + ":" + std::to_string(o.port);

  auto resolved = ResolveHealthAddress(o);
  if (!resolved.ok()) return resolved.status();
  asio::error_code ec;
  const tcp::endpoint endpoint = *resolved;
  impl->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(endpoint, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    logging::Error("health.listen_failed", {{"addr", where}, {"error", ec.message()}});
    return Status::IOError("health listener on " + where + ": " + ec.message());
  }
  const tcp::endpoint bound = impl->acceptor.local_endpoint(ec);
  impl->port = bound.port();
  impl->address = (bound.address().is_v6() ? "[" + bound.address().to_string() + "]" : bound.address().to_string()) +
                  ":" + std::to_string(impl->port);

  Impl* raw = impl.get();
  asio::co_spawn(raw->io, [raw] { return raw->AcceptLoop(); }, asio::detached);
  if (raw->sources.probe) asio::co_spawn(raw->io, [raw] { return raw->ProbeLoop(); }, asio::detached);
  raw->thread = std::thread([raw] {
    for (;;) {
      try {
        raw->io.run();
        return;
      } catch (const std::exception& e) {
        // A handler escaped its guard: keep serving; the connection it belonged to is gone.
        logging::Error("health.thread_error", {{"error", e.what()}});
      } catch (...) {
        logging::Error("health.thread_error", {{"error", "unknown exception"}});
      }
    }
  });
  logging::Info("health.started", {{"addr", raw->address}, {"admin", raw->options.enable_admin}});
  return std::unique_ptr<HealthServer>(new HealthServer(std::move(impl)));
}

HealthServer::~HealthServer() { Stop(); }

uint16_t HealthServer::port() const { return impl_->port; }
std::string HealthServer::address() const { return impl_->address; }

HealthStats HealthServer::stats() const {
  HealthStats s;
  s.requests = impl_->requests;
  s.refused = impl_->refused;
  s.timed_out = impl_->timed_out;
  s.oversized = impl_->oversized;
  return s;
}

void HealthServer::Stop() {
  if (impl_->stopped) return;
  impl_->stopped = true;
  Impl* raw = impl_.get();
  asio::post(raw->io, [raw] {
    asio::error_code ignored;
    raw->acceptor.close(ignored);
  });
  raw->io.stop();
  if (raw->thread.joinable()) raw->thread.join();
  logging::Info("health.stopped", {{"addr", raw->address}});
  // Suspended connection coroutines (and their sockets) are destroyed with the io_context.
}

std::string BearerTokenOf(std::string_view head) {
  size_t at = 0;
  while ((at = head.find('\n', at)) != std::string_view::npos) {
    ++at;
    const std::string_view rest = head.substr(at);
    const std::string_view line = rest.substr(0, rest.find_first_of("\r\n"));
    constexpr std::string_view kName = "authorization:";
    if (line.size() <= kName.size()) continue;
    bool match = true;
    for (size_t i = 0; i < kName.size() && match; ++i) {
      match = std::tolower(static_cast<unsigned char>(line[i])) == kName[i];
    }
    if (!match) continue;
    std::string_view value = line.substr(kName.size());
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    if (value.size() <= 7 || std::tolower(static_cast<unsigned char>(value[0])) != 'b' || value.substr(1, 6) != "earer ") {
      return "";
    }
    value.remove_prefix(7);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    return std::string(value);
  }
  return "";
}

}  // namespace ironbus::server
