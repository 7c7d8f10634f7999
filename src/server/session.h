// Session: one client connection of the Broker (internal to src/server; broker.h is the
// public face).
//
// Three coroutines share the connection's strand (STYLE.md section 8, after asio's
// cpp20/coroutines/chat_server.cpp, with the queue bounded):
//   reader    reads, splits frames (protocol::FrameDecoder), handles each in arrival order and
//             pushes its reply slot; pauses while the reply queue or the in-flight append bytes
//             are over their bounds, so a client that does not read its replies stops being
//             read;
//   writer    writes the ready replies at the front of the ReplyQueue (a pending produce ack
//             holds back everything behind it); after a drain it closes: FIN, then it discards
//             input for a short linger so the client can read every reply before the close;
//   watchdog  closes an idle connection (idle_timeout) and one whose reply write is stuck
//             (write_timeout: the client stopped reading).
// A Pub goes to storage::Appender::TrySubmit (never blocks) with a completion that hands the
// outcome back to the strand (one post per group-commit batch, not per record); the PubAck is
// filled into the Pub's slot there.
//
// Lifetime: shared_ptr; the coroutines and every outstanding append completion hold a
// reference. When the last coroutine ends, BrokerShared::on_ended runs (on the strand).
// Thread safety: Drain and Abort may be called from any thread (they post to the strand);
// everything else runs on the strand.
#pragma once

#include <asio.hpp>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "protocol/frame_decoder.h"
#include "protocol/handshake.h"
#include "protocol/messages.h"
#include "server/broker.h"
#include "server/consume_service.h"
#include "queue/dedup_window.h"
#include "security/transport.h"
#include "server/reply_queue.h"
#include "server/strand_hand_off.h"
#include "storage/appender.h"
#include "storage/log.h"

namespace ironbus::server {

inline constexpr std::string_view kTextShuttingDown = "shutting down";
inline constexpr std::string_view kTextShedUnderLoad = "shed under load";

// What every session of one broker shares. Owned by Broker::Impl; outlives its sessions'
// coroutines (the broker waits for them) and is kept alive by shared_ptr for late completions.
struct BrokerShared {
  BrokerOptions options;
  storage::Log* log = nullptr;
  storage::Appender* appender = nullptr;
  std::atomic<uint64_t> connections_accepted{0};
  std::atomic<uint64_t> connections_refused{0};
  std::atomic<uint64_t> frames_in{0};
  std::atomic<uint64_t> publishes_acked{0};
  std::atomic<uint64_t> publishes_refused{0};
  std::atomic<uint64_t> publishes_shed{0};
  std::atomic<uint64_t> framing_errors{0};
  std::atomic<uint64_t> idle_closed{0};
  std::atomic<uint64_t> slow_closed{0};
  std::atomic<uint64_t> tls_handshakes{0};
  std::atomic<uint64_t> tls_handshake_failures{0};
  std::atomic<uint64_t> handshake_timeouts{0};
  std::atomic<uint64_t> auth_successes{0};
  std::atomic<uint64_t> auth_failures{0};
  std::atomic<uint64_t> authz_denials{0};
  std::unique_ptr<security::PreauthGate> preauth;  // null = the defences are off
  security::AuditLog* audit = nullptr;             // options.audit
  std::unique_ptr<asio::thread_pool> password_pool;  // Argon2id verifies, off the io threads
  std::unique_ptr<queue::DedupWindow> dedup;
  std::unique_ptr<ConsumeService> consume;
  std::function<void(std::string_view)> log_line;  // options.log_sink; empty = base/log.h on stderr
  std::function<void(uint64_t session_id)> on_ended;
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  using SteadyClock = std::chrono::steady_clock;

  // What the accept loop decided for this connection.
  struct Admission {
    std::shared_ptr<const security::TlsContext> tls;  // TLS 1.3 from the first byte; null = plain
    std::shared_ptr<const security::IdentityTable> identities;  // must authenticate; null = no auth
    security::PreauthGate::Slot preauth_slot;  // the half-open slot, given back once authenticated
    std::string peer_ip;                       // for the lockout and the audit log
  };

  // `socket`'s executor must be a strand.
  Session(asio::ip::tcp::socket socket, Admission admission, std::shared_ptr<BrokerShared> shared, uint64_t id);
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void Start();
  // Graceful: stop reading, answer frames already received with Err "shutting down", write
  // the acks of submitted appends, then close.
  void Drain();
  // Close now.
  void Abort();

 private:
  enum class Next : uint8_t { kContinue, kSubmitWait, kStopReading, kVerifyPassword };
  // One produce between its decode and its reply.
  struct Produce {
    std::optional<uint64_t> slot;  // its reply slot; none at level 0
    size_t bytes = 0;              // counted in inflight_append_bytes_ while submitted (slot only)
    uint64_t ticket = 0;           // its DedupWindow ticket; 0 = no dedup
  };
  struct WaitingSubmit {
    storage::AppendRequest request;
    Produce produce;
    SteadyClock::time_point since;
  };

  asio::awaitable<void> ReadLoop();
  asio::awaitable<void> WriteLoop();
  asio::awaitable<void> Watchdog();
  // Handles the frames the decoder holds; false when the reader must stop.
  asio::awaitable<bool> ProcessFrames();
  asio::awaitable<void> WaitForSubmitRoom();
  asio::awaitable<void> Linger();
  // The TLS handshake before the first frame; false when it failed (the session is closed).
  asio::awaitable<bool> TlsHandshake();
  void Exited();

  // session_frames.cc
  Next Dispatch(uint8_t tag, ByteView body);
  void HandleConnect(ByteView body);
  void HandleConnect(const protocol::Connect& connect);
  // session_auth.cc: the Connect of a connection that must authenticate, and the scope gate.
  Next AuthenticateConnect(ByteView body);
  asio::awaitable<void> VerifyPassword();
  void FinishAuthentication(security::Mechanism mechanism, const security::AuthResult& result);
  // Sends `Authorization Violation` and stops reading; the writer closes after it (spec 2).
  Next AuthorizationViolation();
  bool AwaitingHandshake() const;
  Next HandlePub(ByteView body, bool fire_and_forget);
  Next Submit(storage::AppendRequest request, const Produce& produce);
  storage::Completion MakeCompletion(const Produce& produce);
  queue::DedupWindow::Waiter MakeDuplicateWaiter(uint64_t slot);
  // On the strand: answers every append outcome the appender has handed over (appended_).
  void DrainAppended();
  void OnAppended(const Produce& produce, Result<uint64_t> offset);
  // Answers a produce that was not appended (and tells the dedup window).
  void FailSlot(const Produce& produce, const protocol::Err& err, bool fatal);
  // session_consume.cc
  void HandleConsumeVerb(uint8_t tag, ByteView body);
  void StartFetch(uint32_t max_records, uint64_t max_bytes, uint64_t wait_ms);
  ConsumeService::StatusHandler OkOrErrInto(uint64_t slot);
  Bytes EncodeWindow(const queue::Window& window) const;
  queue::MemberOptions Credit() const;
  void FillSlot(uint64_t slot, Bytes bytes);
  // From any thread (the queue thread's answers): hands a slot's encoded reply to the strand,
  // one post per burst (see filled_).
  static void FillSlotFromAnyThread(const std::shared_ptr<Session>& self, uint64_t slot, Bytes bytes);
  void DrainFilled();

  void Reply(const protocol::Frame& frame);
  void ReplyErr(std::string_view code, std::string_view message);

  bool Backpressured() const;
  bool Owed() const;  // replies queued, being written or pending
  // Stop handling frames; the writer closes once every queued reply is written.
  void StartDrain();
  void Close(const std::string& reason);
  void WakeReader() { reader_wake_.cancel(); }
  void WakeWriter() { writer_wake_.cancel(); }

  security::Transport transport_;
  const asio::any_io_executor strand_;
  const std::shared_ptr<BrokerShared> shared_;
  const BrokerOptions& options_;
  const uint64_t id_;
  std::string peer_;

  protocol::FrameDecoder decoder_;
  ReplyQueue replies_;
  asio::steady_timer reader_wake_;
  asio::steady_timer writer_wake_;
  asio::steady_timer watchdog_;
  asio::steady_timer submit_timer_;
  asio::cancellation_signal read_cancel_;

  bool read_any_ = false;        // the connection's first bytes have arrived
  // Authentication: the table this connection checks against (fixed at accept), the identity it
  // is pinned to once its Connect authenticated, and a Connect waiting for a password verify.
  const std::shared_ptr<const security::IdentityTable> identities_;
  std::optional<security::Identity> identity_;
  security::PreauthGate::Slot preauth_slot_;
  const std::string peer_ip_;
  struct PendingPassword {
    protocol::Connect connect;
    Bytes username;
    Bytes password;
  };
  std::optional<PendingPassword> pending_password_;
  bool handshaking_ = false;     // a TLS handshake has not finished yet (handshake_timeout runs)
  bool connected_ = false;       // a Connect was answered with Info
  bool consumer_ = false;        // used a consume verb: its group membership ends with it
  protocol::Negotiated negotiated_;  // what it agreed (credit, gap markers, ...)
  bool stop_requested_ = false;  // Drain()
  bool reader_done_ = false;     // no more frames will be handled
  bool lingering_ = false;
  bool closed_ = false;
  bool writing_ = false;
  size_t writing_frames_ = 0;
  size_t writing_bytes_ = 0;
  size_t inflight_append_bytes_ = 0;
  std::optional<WaitingSubmit> waiting_;
  // Append outcomes on their way from the appender thread to the strand: a group commit
  // completes a whole window of this connection's publishes at once, and the batch costs the
  // connection one DrainAppended instead of one post per record (strand_hand_off.h).
  struct Appended {
    Produce produce;
    Result<uint64_t> offset;
  };
  StrandHandOff<Appended> appended_;
  // The same for replies the queue thread encodes (AckStatus, Ok/Err of Sub, Unsub and
  // CumulativeAck): a window of per-message acks is answered with one DrainFilled.
  struct Filled {
    uint64_t slot;
    Bytes bytes;
  };
  StrandHandOff<Filled> filled_;
  SteadyClock::time_point last_activity_;
  SteadyClock::time_point write_started_;
  SteadyClock::time_point linger_deadline_;
  SteadyClock::time_point handshake_deadline_;
  int running_ = 0;  // coroutines still running
};

}  // namespace ironbus::server
