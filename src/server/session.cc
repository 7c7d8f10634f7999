// Session lifecycle and its three coroutines. Frame handling is in session_frames.cc.
#include "server/session.h"

#include <asio/experimental/as_tuple.hpp>
#include <exception>

#include "base/log.h"
#include "server/verbs.h"

namespace ironbus::server {
namespace {

using asio::use_awaitable;
using asio::experimental::as_tuple;

constexpr size_t kReadChunk = 64 * 1024;
// One gathered write takes at most this many reply bytes (at least one frame).
constexpr size_t kMaxWriteBatchBytes = 256 * 1024;
// A plaintext batch up to this size is copied into one buffer and sent with one call.
constexpr size_t kGatherMaxBytes = 64 * 1024;

// Runs one of the session's loops. Whatever escapes it (an allocation failure, an asio throw
// we did not expect) closes the connection instead of ending the process, and Exited() always
// runs, so the broker's session count stays exact.
asio::awaitable<void> RunGuarded(std::shared_ptr<Session> self, asio::awaitable<void> (Session::*loop)(),
                                 void (Session::*on_error)(const std::string&), void (Session::*exited)()) {
  try {
    co_await (self.get()->*loop)();
  } catch (const std::exception& e) {
    (self.get()->*on_error)(std::string("internal error: ") + e.what());
  } catch (...) {
    (self.get()->*on_error)("internal error");
  }
  (self.get()->*exited)();
}

// A TLS record header opening a handshake: type 22, version 3.x. Read as an IronBus frame it
// announces at least 0x00010316 = 66,326 bytes, more than any Connect (at most ~65.6 KB with
// auth material) or Ping, and a connection must open with one of those, so no valid client is
// mistaken for TLS.
bool LooksLikeTlsClientHello(ByteView first) {
  return first.size() >= 3 && first[0] == 0x16 && first[1] == 0x03 && first[2] <= 0x04;
}

}  // namespace

Session::Session(asio::ip::tcp::socket socket, Admission admission, std::shared_ptr<BrokerShared> shared, uint64_t id)
    : transport_(std::move(socket), std::move(admission.tls)),
      strand_(transport_.get_executor()),
      shared_(std::move(shared)),
      options_(shared_->options),
      id_(id),
      decoder_(shared_->options.max_frame_len),
      reader_wake_(strand_),
      writer_wake_(strand_),
      watchdog_(strand_),
      submit_timer_(strand_),
      identities_(std::move(admission.identities)),
      preauth_slot_(std::move(admission.preauth_slot)),
      peer_ip_(std::move(admission.peer_ip)),
      last_activity_(SteadyClock::now()),
      handshake_deadline_(last_activity_ + options_.handshake_timeout) {
  asio::error_code ec;
  const auto remote = transport_.socket().remote_endpoint(ec);
  peer_ = ec ? "connection " + std::to_string(id_)
             : "connection " + std::to_string(id_) + " from " + remote.address().to_string() + ":" +
                   std::to_string(remote.port());
}

void Session::Start() {
  auto self = shared_from_this();
  running_ = 3;
  for (auto loop : {&Session::ReadLoop, &Session::WriteLoop, &Session::Watchdog}) {
    asio::co_spawn(strand_, RunGuarded(self, loop, &Session::Close, &Session::Exited), asio::detached);
  }
}

void Session::Drain() {
  asio::post(strand_, [self = shared_from_this()] {
    if (self->closed_ || self->stop_requested_) return;
    self->stop_requested_ = true;
    self->read_cancel_.emit(asio::cancellation_type::all);  // a blocked read returns at once
    self->WakeReader();
    self->submit_timer_.cancel();
  });
}

void Session::Abort() {
  asio::post(strand_, [self = shared_from_this()] { self->Close("cut: the broker is stopping"); });
}

void Session::Exited() {
  if (--running_ > 0) return;
  Close("");
  if (shared_->on_ended) shared_->on_ended(id_);
}

bool Session::Owed() const { return !replies_.empty() || writing_ || waiting_.has_value(); }

bool Session::Backpressured() const {
  return replies_.size() + writing_frames_ >= options_.max_pending_replies ||
         replies_.bytes() + writing_bytes_ >= options_.max_pending_reply_bytes ||
         inflight_append_bytes_ >= options_.max_inflight_append_bytes;
}

void Session::StartDrain() {
  reader_done_ = true;
  WakeWriter();
}

void Session::Close(const std::string& reason) {
  if (closed_) return;
  closed_ = true;
  reader_done_ = true;
  if (!reason.empty()) {
    logging::LogTo(shared_->log_line, logging::Level::kWarn, "session.closed",
                   {{"peer", peer_}, {"session", id_}, {"reason", reason}});
  }
  // Its leases are released at once (redelivered to others, delivery counts kept).
  if (consumer_) shared_->consume->Disconnect(id_);
  preauth_slot_.Release();  // a dropped handshake frees its half-open slot at once
  asio::error_code ignored;
  transport_.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  transport_.socket().close(ignored);
  reader_wake_.cancel();
  writer_wake_.cancel();
  watchdog_.cancel();
  submit_timer_.cancel();
}

asio::awaitable<bool> Session::TlsHandshake() {
  handshaking_ = true;
  auto [ec] = co_await transport_.async_handshake(asio::ssl::stream_base::server, as_tuple(use_awaitable));
  handshaking_ = false;
  if (closed_) co_return false;
  if (ec) {
    // A plaintext client on a TLS port, TLS 1.2 only, an untrusted or missing client
    // certificate, a truncated handshake: OpenSSL's reason is the operator's only clue.
    shared_->tls_handshake_failures++;
    static logging::RateLimit limit;
    if (uint64_t suppressed = 0; limit.Allow(&suppressed)) {
      logging::LogTo(shared_->log_line, logging::Level::kWarn, "session.tls_handshake_failed",
                     {{"peer", peer_}, {"session", id_}, {"error", ec.message()}, {"suppressed", suppressed}});
    }
    Close("");
    co_return false;
  }
  shared_->tls_handshakes++;
  last_activity_ = SteadyClock::now();
  co_return true;
}

asio::awaitable<void> Session::ReadLoop() {
  if (transport_.is_tls() && !co_await TlsHandshake()) {
    StartDrain();
    co_return;
  }
  Bytes buffer(kReadChunk);
  while (!reader_done_ && !closed_ && !stop_requested_) {
    // Bounded replies: stop reading from a client whose replies back up (or whose appends are
    // still in flight) until the writer or the appender catches up.
    while (Backpressured() && !closed_ && !stop_requested_) {
      reader_wake_.expires_at(asio::steady_timer::time_point::max());
      co_await reader_wake_.async_wait(as_tuple(use_awaitable));
    }
    if (closed_ || stop_requested_) break;
    auto [ec, n] = co_await transport_.async_read_some(
        asio::buffer(buffer), asio::bind_cancellation_slot(read_cancel_.slot(), as_tuple(use_awaitable)));
    if (closed_) break;
    if (ec == asio::error::operation_aborted && stop_requested_) break;
    if (ec) {
      // The client closed its side (it may still read: answer what it sent, then close) or the
      // connection broke (nothing more can be written either).
      if (ec == asio::error::eof) {
        StartDrain();
      } else {
        Close("");
      }
      break;
    }
    last_activity_ = SteadyClock::now();
    const bool first_bytes = !read_any_;
    read_any_ = true;
    if (first_bytes && !transport_.is_tls() && LooksLikeTlsClientHello(ByteView(buffer.data(), n))) {
      // Cannot be a frame a client opens with (see LooksLikeTlsClientHello): say what it is
      // instead of waiting for 66 KB that never come.
      shared_->framing_errors++;
      logging::LogTo(shared_->log_line, logging::Level::kWarn, "session.tls_on_plaintext_port",
                     {{"peer", peer_}, {"session", id_}, {"action", "closing"},
                      {"hint", "this port is plain TCP; start serve with --tls-cert/--tls-key for TLS"}});
      Close("");
      break;
    }
    decoder_.Feed(ByteView(buffer.data(), n));
    if (!co_await ProcessFrames()) break;
  }
  if (stop_requested_ && !closed_ && !reader_done_) {
    // Frames already received get a definite answer; nothing new is read.
    (void)co_await ProcessFrames();
  }
  StartDrain();
}

asio::awaitable<bool> Session::ProcessFrames() {
  for (;;) {
    if (closed_ || reader_done_) co_return false;
    // Between frames too: a single read can hold thousands of small requests.
    while (Backpressured() && !closed_ && !stop_requested_) {
      reader_wake_.expires_at(asio::steady_timer::time_point::max());
      co_await reader_wake_.async_wait(as_tuple(use_awaitable));
    }
    if (closed_) co_return false;
    protocol::RawFrame raw;
    const auto state = decoder_.Next(&raw);
    if (state == protocol::FrameDecoder::State::kNeedMore) co_return true;
    if (state == protocol::FrameDecoder::State::kBroken) {
      // The stream can no longer be framed: answer what is queued, then close (spec 2).
      shared_->framing_errors++;
      logging::LogTo(shared_->log_line, logging::Level::kWarn, "session.framing_error",
                     {{"peer", peer_}, {"session", id_}, {"error", decoder_.error()}, {"action", "closing"}});
      co_return false;
    }
    shared_->frames_in++;
    switch (Dispatch(raw.tag, raw.body)) {
      case Next::kContinue:
        break;
      case Next::kSubmitWait:
        co_await WaitForSubmitRoom();
        break;
      case Next::kStopReading:
        co_return false;
      case Next::kVerifyPassword:
        co_await VerifyPassword();
        if (closed_ || reader_done_ || !identity_) co_return false;
        break;
    }
  }
}

asio::awaitable<void> Session::WaitForSubmitRoom() {
  // The append queue was full: retry without blocking the io thread and without reading on.
  auto backoff = std::chrono::milliseconds(1);
  while (waiting_) {
    WaitingSubmit& w = *waiting_;
    const Produce produce = w.produce;
    if (closed_) {
      waiting_.reset();
      FailSlot(produce, protocol::Err{"", "connection closed"}, false);
      break;
    }
    if (stop_requested_ || SteadyClock::now() - w.since >= options_.submit_wait) {
      waiting_.reset();
      if (!stop_requested_) shared_->publishes_shed++;
      FailSlot(produce,
               stop_requested_ ? protocol::Err{"", std::string(kTextShuttingDown)}
                               : protocol::Err{std::string(protocol::kErrAtCapacity), std::string(kTextShedUnderLoad)},
               false);
      break;
    }
    // A copy per attempt: a refused TrySubmit destroys the request it was given.
    Status s = shared_->appender->TrySubmit(w.request, MakeCompletion(produce));
    if (s.ok()) {
      waiting_.reset();
      break;
    }
    if (!s.IsUnavailable()) {
      waiting_.reset();
      const ProduceRefusal r = RefusalFor(s);
      FailSlot(produce, r.err, r.fatal);
      break;
    }
    submit_timer_.expires_after(backoff);
    co_await submit_timer_.async_wait(as_tuple(use_awaitable));
    backoff = std::min(backoff * 2, std::chrono::milliseconds(8));
  }
}

asio::awaitable<void> Session::WriteLoop() {
  std::vector<Bytes> batch;
  std::vector<asio::const_buffer> buffers;
  Bytes gathered;  // a batch copied into one buffer (TLS, or many small frames)
  while (!closed_) {
    if (replies_.front_ready()) {
      batch.clear();
      buffers.clear();
      replies_.TakeReady(&batch, kMaxWriteBatchBytes);
      writing_frames_ = batch.size();
      writing_bytes_ = 0;
      for (const Bytes& frame : batch) {
        writing_bytes_ += frame.size();
        buffers.push_back(asio::buffer(frame));
      }
      writing_ = true;
      write_started_ = SteadyClock::now();
      // Re-arm the watchdog if it sleeps past this write's deadline (rare: it normally wakes
      // within one idle window, and write_timeout is usually as long).
      if (options_.write_timeout.count() > 0 && watchdog_.expiry() > write_started_ + options_.write_timeout) {
        watchdog_.cancel();
      }
      if (buffers.size() > 1 && (transport_.is_tls() || writing_bytes_ <= kGatherMaxBytes)) {
        // asio's SSL stream writes one buffer per TLS record and write call: gather the batch
        // into one so a window of PubAcks is one record and one send, not hundreds. In plain
        // TCP asio sends at most 64 buffers per sendmsg, so a window of 256 PubAcks (13 bytes
        // each) would take four system calls; copying a few KiB makes it one.
        gathered.clear();
        for (const Bytes& frame : batch) gathered.insert(gathered.end(), frame.begin(), frame.end());
        buffers.assign(1, asio::buffer(gathered));
      }
      auto [ec, n] = co_await asio::async_write(transport_, buffers, as_tuple(use_awaitable));
      (void)n;
      writing_ = false;
      writing_frames_ = 0;
      writing_bytes_ = 0;
      if (ec) {
        Close("");
        break;
      }
      last_activity_ = SteadyClock::now();
      WakeReader();  // room in the reply queue
      continue;
    }
    if (reader_done_ && !Owed()) {
      co_await Linger();
      break;
    }
    writer_wake_.expires_at(asio::steady_timer::time_point::max());
    co_await writer_wake_.async_wait(as_tuple(use_awaitable));
  }
}

asio::awaitable<void> Session::Linger() {
  // Every reply is written. Send FIN and read until the client closes (or the linger runs
  // out): closing a socket with unread input sends RST, which can destroy replies the client
  // has not read yet.
  lingering_ = true;
  linger_deadline_ = SteadyClock::now() + options_.linger;
  watchdog_.cancel();  // re-arm for the linger deadline
  if (transport_.is_tls() && !handshaking_) {
    // close_notify first, so the client tells a clean end from a truncation; it waits for the
    // client's close_notify, bounded by the linger deadline.
    auto [ec] = co_await transport_.async_shutdown(as_tuple(use_awaitable));
    (void)ec;
  }
  asio::error_code ignored;
  transport_.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
  Bytes sink(4096);
  while (!closed_) {
    // Raw TCP: after close_notify nothing that arrives is for us.
    auto [ec, n] = co_await transport_.socket().async_read_some(asio::buffer(sink), as_tuple(use_awaitable));
    (void)n;
    if (ec) break;
  }
  Close("");
}

asio::awaitable<void> Session::Watchdog() {
  const auto idle = options_.idle_timeout;
  const auto write_bound = options_.write_timeout;
  while (!closed_) {
    const auto now = SteadyClock::now();
    auto next = SteadyClock::time_point::max();
    if (lingering_) {
      if (now >= linger_deadline_) {
        Close("");
        break;
      }
      next = linger_deadline_;
    } else if (AwaitingHandshake() && options_.handshake_timeout.count() > 0) {
      if (now >= handshake_deadline_) {
        shared_->handshake_timeouts++;
        static logging::RateLimit limit;
        if (uint64_t suppressed = 0; limit.Allow(&suppressed)) {
          logging::LogTo(shared_->log_line, logging::Level::kWarn, "session.handshake_timeout",
                         {{"peer", peer_},
                          {"session", id_},
                          {"handshake_timeout_ms", static_cast<int64_t>(options_.handshake_timeout.count())},
                          {"suppressed", suppressed}});
        }
        Close("");
        break;
      }
      next = handshake_deadline_;
    } else {
      if (writing_ && write_bound.count() > 0) {
        if (now - write_started_ >= write_bound) {
          shared_->slow_closed++;
          logging::LogTo(shared_->log_line, logging::Level::kWarn, "session.slow_closed",
                         {{"peer", peer_},
                          {"session", id_},
                          {"write_timeout_ms", static_cast<int64_t>(write_bound.count())},
                          {"reason", "the client has not read its replies"}});
          Close("");
          break;
        }
        next = std::min(next, write_started_ + write_bound);
      }
      if (idle.count() > 0) {
        // Idle = nothing owed and no byte either way for the whole window. While something is
        // owed the window restarts from now.
        if (!Owed() && now - last_activity_ >= idle) {
          shared_->idle_closed++;
          logging::LogTo(shared_->log_line, logging::Level::kInfo, "session.idle_closed",
                         {{"peer", peer_}, {"session", id_}, {"idle_ms", static_cast<int64_t>(idle.count())}});
          Close("");
          break;
        }
        next = std::min(next, Owed() ? now + idle : last_activity_ + idle);
      }
    }
    if (next == SteadyClock::time_point::max()) {
      watchdog_.expires_at(asio::steady_timer::time_point::max());
    } else {
      watchdog_.expires_at(next);
    }
    co_await watchdog_.async_wait(as_tuple(use_awaitable));
  }
}

}  // namespace ironbus::server
