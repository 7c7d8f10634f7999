// HealthServer: the health and metrics HTTP listener of `serve --health-addr`
// (spec/cli-config-ops.md 3.6; docs/metrics.md). A minimal HTTP/1.1 GET handler on its own port,
// its own io_context and its own thread, so a slow scrape or a slow client never touches the
// broker's io threads; it only reads counters through the `snapshot` callback.
//
//   GET /livez    200 "ok": the process answers (this listener's loop runs).
//   GET /healthz  200 "ok"; 503 "no event-loop progress" when the broker's event loop has not
//                 run a liveness probe for liveness_window (an idle broker, a slow fsync and
//                 a frozen writer all stay 200).
//   GET /readyz   200 "ready", else 503 with the reason (CheckReadiness: not recovered, writer
//                 frozen, shutting down, connection cap or append queue full).
//   GET /metrics  200, Prometheus text format 0.0.4 (RenderPrometheus of the snapshot).
//   GET /admin    with enable_admin: 200, the read-only JSON of server/admin.h (406 for an
//                 explicit non-v1 IronBus admin media type); without it 404 like any unknown path.
//   other path    404; a method other than GET, or a malformed request line: 405.
// One request per connection (the response carries Connection: close); after the answer the
// server sends FIN and discards input until the client closes (at most 1 s or 64 KiB), so the
// answer to an oversized request is not lost to a reset.
//
// Bounds: at most max_connections connections at once (one more is accepted and closed at
// once); a request head over max_request_bytes gets 431 and the connection closes; a client
// that has not sent its whole request head within read_timeout, or does not take the response
// within write_timeout, is cut. Requests split across TCP segments work.
//
// Bind rule: loopback only ("127.0.0.1", "::1", "localhost", or any address that resolves to
// loopback) unless allow_public is set; Start refuses anything else with InvalidArgument naming
// the address, and an address that resolves to nothing.
//
// Thread safety: Start/Stop from one controlling thread; port() from any thread. The snapshot
// callback runs on the health thread, one request at a time, and must be thread-safe with
// respect to the broker (CollectMetrics is). The callback must outlive the server.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "base/result.h"
#include "server/metrics.h"

namespace ironbus::server {

struct HealthOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0 = any free port; port() tells which
  bool allow_public = false;
  size_t max_connections = 16;
  size_t max_request_bytes = 8 * 1024;
  std::chrono::milliseconds read_timeout{5'000};
  std::chrono::milliseconds write_timeout{5'000};
  // /healthz answers 503 "no event-loop progress" once a liveness probe (HealthSources::probe)
  // has been waiting this long (--health-liveness-window-ms); 0 = always 200 while up.
  std::chrono::milliseconds liveness_window{10'000};
  bool enable_admin = false;  // serve GET /admin (--enable-admin)

  // Options for `--health-addr` ("host:port" or "[v6]:port"; port 0 = any free port).
  // InvalidArgument naming the address when it is malformed. The bind rule is checked by Start.
  static Result<HealthOptions> FromAddress(std::string_view addr, bool allow_public);
};

struct HealthSources {
  // A fresh snapshot per /readyz or /metrics request (required).
  std::function<MetricsSnapshot()> snapshot;
  // Optional liveness probe: run the given callback on the broker's event loop (for example
  // Broker::PostProbe). The server sends one probe at a time, every 250 ms while none is
  // waiting; without it /healthz is the same as /livez.
  std::function<void(std::function<void()>)> probe;
  // The admin scope (spec/security.md 3): when set (the broker has an identity table), GET /admin
  // needs `Authorization: Bearer <token>` whose identity holds `admin`; this says whether the
  // token does. Missing: 401; refused: 403 with the uniform `Authorization Violation`. Unset:
  // /admin is served to anyone who can reach the (loopback by default) health port.
  std::function<bool(std::string_view bearer_token)> admin_authorized;
};

// The token of an `Authorization: Bearer <token>` header in a request head; "" when absent.
std::string BearerTokenOf(std::string_view head);

struct HealthStats {
  uint64_t requests = 0;       // requests answered (any status)
  uint64_t refused = 0;        // connections over max_connections
  uint64_t timed_out = 0;      // connections cut by read_timeout / write_timeout
  uint64_t oversized = 0;      // request heads over max_request_bytes (431)
};

class HealthServer {
 public:
  // The bind rule alone (resolve, every address loopback unless allow_public), without binding:
  // lets serve refuse a bad --health-addr with exit 1 before any listener opens.
  static Status CheckAddress(const HealthOptions& options);
  // Resolves, checks the bind rule, binds, listens and starts the health thread.
  static Result<std::unique_ptr<HealthServer>> Start(HealthOptions options, HealthSources sources);
  ~HealthServer();  // Stop()
  HealthServer(const HealthServer&) = delete;
  HealthServer& operator=(const HealthServer&) = delete;

  uint16_t port() const;
  std::string address() const;  // "host:port" as bound
  HealthStats stats() const;
  // Closes the listener and every connection, joins the thread. Idempotent.
  void Stop();

  struct Impl;

 private:
  explicit HealthServer(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

}  // namespace ironbus::server
