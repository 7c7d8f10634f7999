#include "server/session.h"

#include <asio/experimental/as_tuple.hpp>
#include <iostream>

namespace ironbus::server {
namespace {

using asio::experimental::as_tuple;
using asio::use_awaitable;
namespace pr = protocol;

constexpr size_t kReadChunk = 64 * 1024;

pr::Err CodedErr(std::string_view code, std::string message) { return pr::Err{std::string(code), std::move(message)}; }

}  // namespace

Session::Session(asio::ip::tcp::socket socket, std::shared_ptr<BrokerShared> shared)
    : socket_(std::move(socket)),
      shared_(std::move(shared)),
      wake_(socket_.get_executor()),
      room_(socket_.get_executor()),
      watchdog_(socket_.get_executor()),
      decoder_(shared_->options.max_frame_len),
      last_activity_(std::chrono::steady_clock::now()) {
  wake_.expires_at(asio::steady_timer::time_point::max());
  room_.expires_at(asio::steady_timer::time_point::max());
}

void Session::Start() {
  auto self = shared_from_this();
  asio::co_spawn(socket_.get_executor(), [self]() { return self->ReadLoop(); }, asio::detached);
  asio::co_spawn(socket_.get_executor(), [self]() { return self->WriteLoop(); }, asio::detached);
  asio::co_spawn(socket_.get_executor(), [self]() { return self->Watchdog(); }, asio::detached);
}

void Session::Drain() {
  auto self = shared_from_this();
  asio::post(socket_.get_executor(), [self] {
    self->reading_ = false;
    asio::error_code ignored;
    self->socket_.shutdown(asio::ip::tcp::socket::shutdown_receive, ignored);
    self->room_.cancel();
    self->Wake();
  });
}

void Session::Close() {
  if (closed_) return;
  closed_ = true;
  reading_ = false;
  asio::error_code ignored;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  wake_.cancel();
  room_.cancel();
  watchdog_.cancel();
  shared_->connections_open--;
}

asio::awaitable<void> Session::ReadLoop() {
  Bytes buffer(kReadChunk);
  while (reading_ && !closed_) {
    // Bounded replies: stop reading from a client that does not read its replies.
    while (slots_.size() >= shared_->options.max_pending_replies && reading_ && !closed_) {
      room_.expires_at(asio::steady_timer::time_point::max());
      co_await room_.async_wait(as_tuple(use_awaitable));
    }
    if (!reading_ || closed_) break;
    auto [ec, n] = co_await socket_.async_read_some(asio::buffer(buffer), as_tuple(use_awaitable));
    if (ec || n == 0) break;  // peer closed or reset: pending acks are dropped with the socket
    last_activity_ = std::chrono::steady_clock::now();
    decoder_.Feed(ByteView(buffer.data(), n));
    for (;;) {
      pr::RawFrame raw;
      const auto state = decoder_.Next(&raw);
      if (state == pr::FrameDecoder::State::kNeedMore) break;
      if (state == pr::FrameDecoder::State::kBroken) {
        shared_->framing_errors++;
        std::cerr << "ironbus: closing connection " << socket_.remote_endpoint(ec) << ": " << decoder_.error() << '\n';
        reading_ = false;  // answer what was received, then close (the writer does it)
        break;
      }
      shared_->frames_in++;
      Dispatch(raw);
    }
  }
  reading_ = false;
  Wake();
}

asio::awaitable<void> Session::WriteLoop() {
  while (!closed_) {
    // Write every ready reply at the front, in order; a pending PubAck holds the line.
    Bytes batch;
    while (!slots_.empty() && slots_.front()->bytes) {
      PutBytes(&batch, *slots_.front()->bytes);
      slots_.pop_front();
    }
    if (!batch.empty()) {
      room_.cancel();
      auto [ec, n] = co_await asio::async_write(socket_, asio::buffer(batch), as_tuple(use_awaitable));
      (void)n;
      if (ec) break;
      continue;
    }
    if (!reading_ && slots_.empty()) break;  // drained: close
    wake_.expires_at(asio::steady_timer::time_point::max());
    co_await wake_.async_wait(as_tuple(use_awaitable));
  }
  Close();
}

asio::awaitable<void> Session::Watchdog() {
  const auto timeout = shared_->options.idle_timeout;
  if (timeout.count() <= 0) co_return;
  while (!closed_) {
    watchdog_.expires_after(std::min<std::chrono::milliseconds>(timeout, std::chrono::milliseconds(1000)));
    co_await watchdog_.async_wait(as_tuple(use_awaitable));
    if (closed_) break;
    // Idle = nothing received for the whole window and nothing owed to the client.
    if (std::chrono::steady_clock::now() - last_activity_ >= timeout && slots_.empty()) {
      Close();
    }
  }
}

std::shared_ptr<Session::Slot> Session::Reserve() {
  auto slot = std::make_shared<Slot>();
  slots_.push_back(slot);
  return slot;
}

void Session::Fill(const std::shared_ptr<Slot>& slot, const pr::Frame& frame) {
  Bytes bytes;
  if (!pr::EncodeFrame(frame, &bytes).ok()) {
    bytes.clear();
    (void)pr::EncodeFrame(pr::Frame(pr::Err{"", "reply could not be encoded"}), &bytes);
  }
  slot->bytes = std::move(bytes);
  Wake();
}

void Session::Reply(const pr::Frame& frame) { Fill(Reserve(), frame); }

void Session::Dispatch(const pr::RawFrame& raw) {
  auto decoded = pr::DecodeBody(raw.tag, raw.body, pr::Direction::kToServer);
  if (!decoded.ok()) {
    // Unknown tag or malformed body: one Err, the connection stays usable.
    Reply(pr::Err{"", decoded.status().message()});
    return;
  }
  pr::Frame& frame = *decoded;
  if (std::holds_alternative<pr::Ping>(frame)) return Reply(pr::Pong{});
  if (auto* connect = std::get_if<pr::Connect>(&frame)) {
    const BrokerOptions& o = shared_->options;
    pr::Info info;
    const uint32_t credit = connect->requested_credit ? std::min(*connect->requested_credit, o.credit) : o.credit;
    const uint64_t bytes =
        connect->requested_credit_bytes ? std::min(*connect->requested_credit_bytes, o.credit_bytes) : o.credit_bytes;
    info.credit = pr::Advert<uint32_t>{std::max<uint32_t>(credit, 1), o.credit};  // never advertise 0
    info.credit_bytes = pr::Advert<uint64_t>{bytes, o.credit_bytes};
    info.gap_marker = connect->wants_gap_marker;
    info.streams = connect->understands_streams;
    connected_ = true;
    return Reply(info);
  }
  if (!connected_) return Reply(pr::Err{"", std::string(pr::kTextNotConnected)});
  if (auto* pub = std::get_if<pr::Pub>(&frame)) return HandlePub(std::move(*pub));
  Reply(pr::Err{"", std::string(pr::kTextVerbNotSupported)});
}

void Session::HandlePub(pr::Pub pub) {
  const bool wants_reply = pub.ack_level() != 0;  // level 0: no reply at all, ever
  std::shared_ptr<Slot> slot = wants_reply ? Reserve() : nullptr;
  storage::AppendRequest request;
  request.key = std::move(pub.key);
  request.headers = std::move(pub.headers);
  request.payload = std::move(pub.payload);
  request.flags = pub.stored_flags() & format::kFlagCompressed;
  request.timestamp_ms = static_cast<int64_t>(pub.timestamp_ms);
  auto self = shared_from_this();
  Status submitted = shared_->appender->TrySubmit(std::move(request), [self, slot](Result<uint64_t> offset) {
    // On the appender thread, after the covering fdatasync: hop back to the strand.
    asio::post(self->socket_.get_executor(), [self, slot, offset = std::move(offset)]() {
      if (offset.ok()) {
        self->shared_->publishes_acked++;
      } else {
        self->shared_->publishes_refused++;
      }
      if (!slot) return;
      if (offset.ok()) return self->Fill(slot, pr::PubAck{*offset});
      const Status& s = offset.status();
      self->Fill(slot, CodedErr(s.IsUnavailable() ? pr::kErrAtCapacity : pr::kErrStorage, s.message()));
    });
  });
  if (!submitted.ok()) {
    shared_->publishes_refused++;
    if (slot) {
      Fill(slot, CodedErr(submitted.IsUnavailable() ? pr::kErrAtCapacity : pr::kErrStorage,
                          submitted.IsUnavailable() ? "append queue full; retry" : submitted.message()));
    }
  }
}

}  // namespace ironbus::server
