// Broker: the TCP front end of IronBus (spec/protocol.md). Standalone asio with C++20
// coroutines on `io_threads` threads; one strand per connection running a reader coroutine
// and a writer coroutine that drains the connection's reply queue in request order.
//
// The produce path: a Pub is decoded on an io thread and handed to storage::Appender
// (TrySubmit: never blocks an io thread; a full append queue sheds with ERR_AT_CAPACITY).
// The Appender completes on its own thread after the covering fdatasync; the completion is
// posted back to the connection's strand, which fills the reply slot reserved for that Pub.
// Replies leave in arrival order, so a PubAck is never overtaken by a later reply.
//
// Bounds: at most max_connections sockets (one more is accepted and closed at once); at most
// max_pending_replies unanswered requests per connection (the reader stops reading until the
// writer catches up); frames above max_frame_len end the connection; a connection silent for
// idle_timeout is closed (a Ping keeps it alive).
//
// Not built yet (answered with Err "verb not supported on this connection", connection kept):
// the consumer verbs (Sub, Unsub, Ack, Flow, Fetch, CumulativeAck), the v2 stream and subject
// verbs, and producer dedup (a Pub's msg_id is accepted and ignored).
//
// Lifetime: Start() binds and returns; Stop() stops accepting, lets every connection answer
// what it already received (waiting for in-flight fdatasyncs), closes them and joins the io
// threads. `log` and `appender` must outlive the Broker; the caller stops the Appender and
// closes the Log after Stop().
//
// Thread safety: Start/Stop from one controlling thread; stats() from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/result.h"
#include "protocol/wire_format.h"
#include "storage/appender.h"
#include "storage/log.h"

namespace ironbus::server {

struct BrokerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 7777;  // 0 = any free port (tests); port() tells which
  int io_threads = 2;
  size_t max_connections = 256;
  std::chrono::milliseconds idle_timeout{30'000};
  uint32_t max_frame_len = protocol::kMaxFrameLen;
  size_t max_pending_replies = 1024;
  uint32_t credit = 64;                    // DESIGN.md D7: advertised in Info
  uint64_t credit_bytes = 8ull << 20;
};

struct BrokerStats {
  uint64_t connections_accepted = 0;
  uint64_t connections_refused = 0;  // over max_connections
  uint64_t connections_open = 0;
  uint64_t frames_in = 0;
  uint64_t publishes_acked = 0;
  uint64_t publishes_refused = 0;
  uint64_t framing_errors = 0;
};

class Broker {
 public:
  Broker(storage::Log* log, storage::Appender* appender, BrokerOptions options);
  ~Broker();  // Stop()
  Broker(const Broker&) = delete;
  Broker& operator=(const Broker&) = delete;

  // Binds, listens and starts the io threads. IOError naming the address when the bind fails.
  Status Start();
  uint16_t port() const;
  void Stop();
  BrokerStats stats() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace ironbus::server
