// Session: one client connection of the Broker (broker.h). A reader coroutine and a writer
// coroutine on the connection's strand, plus an idle watchdog; replies leave in request order
// through a queue of slots (a pending PubAck holds back later replies).
//
// Thread safety: everything runs on the socket's strand, except Drain(), which posts to it.
#pragma once

#include <asio.hpp>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>

#include "base/bytes.h"
#include "format/record_format.h"
#include "protocol/codec.h"
#include "protocol/frame_decoder.h"
#include "protocol/messages.h"
#include "server/broker.h"
#include "storage/appender.h"
#include "storage/log.h"

namespace ironbus::server {

// State every session of one broker shares.
struct BrokerShared {
  BrokerOptions options;
  storage::Log* log = nullptr;
  storage::Appender* appender = nullptr;
  std::atomic<bool> stopping{false};
  std::atomic<uint64_t> connections_accepted{0};
  std::atomic<uint64_t> connections_refused{0};
  std::atomic<uint64_t> connections_open{0};
  std::atomic<uint64_t> frames_in{0};
  std::atomic<uint64_t> publishes_acked{0};
  std::atomic<uint64_t> publishes_refused{0};
  std::atomic<uint64_t> framing_errors{0};
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(asio::ip::tcp::socket socket, std::shared_ptr<BrokerShared> shared);
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void Start();
  // Stop reading; answer what was received, then close. Thread-safe.
  void Drain();

 private:
  struct Slot {
    std::optional<Bytes> bytes;  // empty while the reply is pending
  };

  asio::awaitable<void> ReadLoop();
  asio::awaitable<void> WriteLoop();
  asio::awaitable<void> Watchdog();
  void Close();
  void Wake() { wake_.cancel(); }
  std::shared_ptr<Slot> Reserve();
  void Fill(const std::shared_ptr<Slot>& slot, const protocol::Frame& frame);
  void Reply(const protocol::Frame& frame);
  void Dispatch(const protocol::RawFrame& raw);
  void HandlePub(protocol::Pub pub);

  asio::ip::tcp::socket socket_;
  std::shared_ptr<BrokerShared> shared_;
  asio::steady_timer wake_;
  asio::steady_timer room_;
  asio::steady_timer watchdog_;
  protocol::FrameDecoder decoder_;
  std::chrono::steady_clock::time_point last_activity_;
  std::deque<std::shared_ptr<Slot>> slots_;
  bool reading_ = true;
  bool closed_ = false;
  bool connected_ = false;
};

}  // namespace ironbus::server
