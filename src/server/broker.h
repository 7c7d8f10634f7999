// Broker: the TCP front end of IronBus (spec/protocol.md; DESIGN.md section 2). Standalone asio
// with C++20 coroutines on `io_threads` threads; one strand per connection running a reader, a
// writer and a watchdog coroutine (session.h).
//
// The produce path: a Pub is decoded on an io thread and handed to storage::Appender with
// TrySubmit, which never blocks. The Appender completes on its own thread after the covering
// fdatasync; the completion is posted back to the connection's strand, which fills the reply
// slot reserved for that Pub. Replies leave in arrival order, so a PubAck is never overtaken.
// When the append queue is full, the connection stops reading and retries for up to
// submit_wait_ms (the producer feels TCP backpressure, no io thread blocks), then sheds that
// Pub with ERR_AT_CAPACITY "shed under load" (spec 14). Level-0 Pubs are never waited for.
//
// Bounds (BrokerOptions): max_connections (one more is accepted and closed at once), frames
// above max_frame_len end the connection, per connection a reply queue of
// max_pending_replies frames / max_pending_reply_bytes bytes and max_inflight_append_bytes of
// payload not yet durable; past any bound the connection stops being read. A reply write stuck
// for write_timeout (the client stopped reading) closes the connection; so does
// idle_timeout without any traffic while nothing is owed (a Ping keeps it alive).
//
// The consume path (consume_service.h): Sub, Unsub, Flow, Fetch, Ack and CumulativeAck run
// their queue::Group calls on one queue thread (log reads, checkpoint writes and DLQ appends
// never run on an io thread); each answer is posted back to the connection's strand into the
// reply slot the verb reserved on arrival, so replies still leave in request order. A delivery
// window holds Deliver frames only up to the readable (under `sync`: fdatasync'd) head. A
// connection's leases are released when it closes or changes subscription. Call
// NotifyAppended() from the appender's on_appended hook so waiting long-polls see new records.
//
// Not built yet (answered with Err "verb not supported on this connection", connection kept):
// the v2 stream and subject verbs, Tier-S, transactions and PauseGroup.
//
// Producer dedup (spec 7.4): a Pub with a msg_id goes through one DedupWindow shared by every
// connection (dedup_window.h); a duplicate gets PubAckDuplicate with the original, durable
// offset and appends nothing. The sequenced idempotent producer (HAS_SEQ) is v2: its seq is
// accepted and ignored, the msg_id window applies.
//
// Stop(), in order (spec/cli-config-ops.md section 8):
//   1. stop accepting;
//   2. every connection stops reading; frames it had already received are answered with Err
//      "shutting down" (level-0 Pubs get nothing); appends already submitted complete and their
//      acks are written; then it closes (FIN, then a short linger so the client reads them);
//   3. connections still open after drain_timeout are cut;
//   4. Appender::Stop() (everything queued is appended and synced), then the queue thread
//      writes every group's cursor and attempts checkpoints, then the io threads end.
// No append completion arrives after Stop() returns. The caller closes the Log.
//
// Lifetime: `log`, `appender` and `groups` must outlive the Broker. Thread safety: Start/Stop from one
// controlling thread (never an io thread); port(), address() and stats() from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"
#include "protocol/wire_format.h"
#include "queue/dedup_window.h"
#include "queue/groups.h"
#include "security/audit.h"
#include "security/identities.h"
#include "security/preauth.h"
#include "security/tls.h"
#include "storage/appender.h"
#include "storage/log.h"

namespace ironbus::server {

struct BrokerOptions {
  // An IP literal or "localhost". A non-loopback address needs `tls` (Start refuses plain TCP
  // off loopback); the whole bind rule of spec/security.md 1.2 is checked by the config first.
  std::string host = "127.0.0.1";
  uint16_t port = 7777;  // 0 = any free port (tests); port() tells which
  // `ironbus serve` passes --io-threads (default 1). This default stays 2 so the broker tests
  // run every connection path with handlers on more than one thread (TSan).
  int io_threads = 2;
  size_t max_connections = 256;
  std::chrono::milliseconds idle_timeout{30'000};
  std::chrono::milliseconds write_timeout{30'000};
  uint32_t max_frame_len = protocol::kMaxFrameLen;
  // Per-connection reply queue; pending produce acks count, so this is also the produce
  // window (the reference's MAX_PARKED_PRODUCES). One reply is always admitted.
  size_t max_pending_replies = 1024;
  size_t max_pending_reply_bytes = 8u << 20;
  size_t max_inflight_append_bytes = 64u << 20;
  std::chrono::milliseconds submit_wait{2'000};   // 0 = shed at once when the append queue is full
  std::chrono::milliseconds drain_timeout{10'000};
  // Closing after a drain: FIN, then discard input for up to this long (or until the client
  // closes) so the client reads every reply before the socket goes.
  std::chrono::milliseconds linger{1'000};
  // Consumer credit adverts of Info (spec 5.2, DESIGN.md D7). Negotiated = min(request, cap),
  // else the default; never 0.
  uint32_t credit = 64;
  uint32_t credit_cap = 64;
  uint64_t credit_bytes = 8ull << 20;
  uint64_t credit_bytes_cap = 8ull << 20;  // 0 = unlimited
  // Producer msg_id window (spec/consumers.md 9.1), shared by every connection.
  queue::DedupOptions dedup;
  // SO_SNDBUF for accepted sockets; 0 = the OS default (tests shrink it).
  int socket_send_buffer_bytes = 0;
  // TLS 1.3 on every connection (spec/security.md 1.1); null = plain TCP. ReplaceTls swaps it
  // for new connections (certificate rotation on SIGHUP).
  std::shared_ptr<const security::TlsContext> tls;
  // A connection must finish its handshake within this (TLS, and with identities an
  // authenticated Connect), or it is closed (a pre-auth defence: a stalled handshake holds a
  // slot). 0 = only idle_timeout applies.
  std::chrono::milliseconds handshake_timeout{10'000};
  // Authentication (spec/security.md 2, 3): with a table, every connection (loopback included)
  // authenticates in its Connect and is pinned to that identity's scopes until it closes; any
  // failure or a verb outside the scopes gets `Authorization Violation` and a close. null = no
  // authentication. ReplaceIdentities swaps it for new connections (SIGHUP).
  std::shared_ptr<const security::IdentityTable> identities;
  // Argon2id verifies run on this many threads of their own (never an io thread); the others
  // wait in order, each connection still holding its half-open slot (spec 2.2).
  int max_concurrent_password_verifies = 2;
  // Pre-authentication defences (spec 4): lockout, per-source rate, half-open cap, checked at
  // accept. serve sets them for a non-loopback bind only; none = off.
  std::optional<security::PreauthOptions> preauth;
  // Security audit events (authn, authz denial, pre-auth rejection). Must outlive the broker;
  // null = none.
  security::AuditLog* audit = nullptr;
  // Operator log lines (a malformed stream, an idle or slow client cut, a shed, a fatal storage
  // error), rendered by base/log.h (docs/logging.md). Called from io threads; must be
  // thread-safe. Empty = logging::Log, i.e. stderr.
  std::function<void(std::string_view line)> log_sink;
};

struct BrokerStats {
  uint64_t connections_accepted = 0;
  uint64_t connections_refused = 0;  // over max_connections
  uint64_t connections_open = 0;
  uint64_t frames_in = 0;
  uint64_t publishes_acked = 0;     // appends completed durable (all ack levels)
  uint64_t publishes_refused = 0;   // Err replies to Pubs, and level-0 Pubs dropped
  uint64_t publishes_shed = 0;      // of those: the append queue stayed full
  uint64_t framing_errors = 0;      // connections closed for an unframeable stream
  uint64_t idle_closed = 0;
  uint64_t slow_closed = 0;         // a reply write stuck for write_timeout
  uint64_t fetches = 0;             // Flow and Fetch requests
  uint64_t groups_evicted = 0;      // idle groups dropped from memory (group_idle_evict_ms)
  uint64_t delivered = 0;           // Deliver frames sent in windows
  uint64_t settles = 0;             // Ack-family requests
  uint64_t tls_handshakes = 0;          // completed TLS handshakes
  uint64_t tls_handshake_failures = 0;  // refused or broken TLS handshakes (incl. plaintext on TLS)
  uint64_t handshake_timeouts = 0;      // closed for not finishing the handshake in time
  uint64_t auth_successes = 0;          // authenticated Connects
  uint64_t auth_failures = 0;           // refused credentials (Authorization Violation)
  uint64_t authz_denials = 0;           // verbs outside the connection's scopes
  // Pre-auth refusals at accept (0 when the defences are off), and the half-open count now.
  uint64_t preauth_locked_out = 0;
  uint64_t preauth_rate_limited = 0;
  uint64_t preauth_half_open_cap = 0;
  uint64_t preauth_half_open = 0;
};

class Broker {
 public:
  Broker(storage::Log* log, storage::Appender* appender, queue::Groups* groups, BrokerOptions options);
  ~Broker();  // Stop()
  Broker(const Broker&) = delete;
  Broker& operator=(const Broker&) = delete;

  // Binds, listens and starts the io threads. InvalidArgument for a non-loopback host or bad
  // options; IOError naming the address when the bind fails.
  Status Start();
  uint16_t port() const;
  std::string address() const;  // "127.0.0.1:<port>"
  // Graceful stop (above). Idempotent.
  void Stop();
  BrokerStats stats() const;
  // Every consumer group's stats (default group ""), read on the queue thread; waits at most
  // `timeout` for it and returns nothing when it did not answer (or the broker is stopped).
  // For the metrics scrape; never call it from an io thread.
  std::vector<std::pair<std::string, queue::GroupStats>> GroupStatsSnapshot(std::chrono::milliseconds timeout) const;
  // Runs `done` on an io thread as soon as one is free: the /healthz liveness probe (an io
  // context that cannot run it within the window is not making progress). After Stop() it
  // never runs. Any thread; never blocks.
  void PostProbe(std::function<void()> done);
  // The readable head may have moved: wakes long-polling consumers. Any thread; cheap.
  void NotifyAppended();
  // New connections use `tls` from now on; open ones keep the context they were made with.
  // Refused (FailedPrecondition) when it would turn TLS on or off: that needs a restart.
  Status ReplaceTls(std::shared_ptr<const security::TlsContext> tls);
  // New connections authenticate against `identities` from now on; open ones keep the identity
  // they have. Refused when it would turn authentication on or off (a restart).
  Status ReplaceIdentities(std::shared_ptr<const security::IdentityTable> identities);
  // The identity table new connections check against (null = no authentication). Any thread.
  std::shared_ptr<const security::IdentityTable> identities() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace ironbus::server
