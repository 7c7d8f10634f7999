// The C++ client library (used by `ironbus pub`/`sub`, the e2e tests and the benches): one
// broker connection with the Connect/Info handshake, synchronous publish, pipelined publish with
// a window, fire-and-forget publish, ping, and the consume side: subscribe to a group, fetch a
// delivery window, settle each message (ack/nack/term/progress), cumulative-ack.
//
// TLS: with ClientOptions::tls the connection is TLS 1.3 from its first byte; the broker's
// certificate is verified against the context's anchor and the expected name before Connect is
// sent. A failed handshake is Unavailable naming OpenSSL's reason (exit 5).
//
// Sockets: asio on a private io_context that runs on the CALLING thread, only inside a call (no
// background thread). Each call queues its frames, then turns the context until its replies
// are in or its deadline passes; a read and a write can be in flight together, so a pipelined
// window never deadlocks against a broker that stops reading while its replies back up.
//
// Errors (every call; the CLI maps them to exit codes, spec/cli-config-ops.md 1.3):
//   Unavailable         the broker cannot be reached (connection refused, no route), the
//                       connection dropped, or a reply did not come within request_timeout:
//                       nothing is known about requests still unanswered (exit 5)
//   FailedPrecondition  the broker answered Err; last_error() / PublishResult carry its code
//                       token (empty when uncoded) and text (exit 70)
//   Corruption          the broker sent something that is not a valid reply (exit 70)
//   InvalidArgument     the request cannot be encoded (a key or headers over 65535 bytes)
// After Unavailable or Corruption the connection is closed and every later call fails the same
// way; after a broker Err it stays usable.
//
// Thread safety: none. One thread at a time per Client; use one Client per thread.
#pragma once

#include <asio.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "protocol/frame_decoder.h"
#include "protocol/messages.h"
#include "security/transport.h"

namespace ironbus::client {

struct ClientOptions {
  std::chrono::milliseconds connect_timeout{5'000};
  // Longest wait for one reply (a PubAck waits for an fdatasync).
  std::chrono::milliseconds request_timeout{30'000};
  bool wants_gap_marker = true;
  // TLS 1.3 (spec/security.md 1.1): a context from security::TlsContext::ForClient, which always
  // verifies the broker's chain. null = plain TCP (a loopback broker).
  std::shared_ptr<const security::TlsContext> tls;
  // The name the broker's certificate must carry (a DNS name or an IP literal); empty = the
  // host part of the address.
  std::string tls_server_name;
  // The credential sent in Connect's auth section (spec/protocol.md 5.3); none = no section.
  // Make it with BearerCredential, PasswordCredential or MtlsCredential. A broker that refuses it
  // answers `Authorization Violation` and closes: Connect fails with FailedPrecondition.
  std::optional<protocol::AuthSection> credential;
};

// Credentials for ClientOptions::credential. The material is the secret itself: keep it out of
// logs (the client never prints it).
protocol::AuthSection BearerCredential(ByteView token);
// InvalidArgument when the username or password is over 65535 bytes.
Result<protocol::AuthSection> PasswordCredential(ByteView username, ByteView password);
// mTLS: the identity is the client certificate's (ClientOptions::tls must carry one).
protocol::AuthSection MtlsCredential();

struct PublishRequest {
  Bytes key;
  Bytes headers;
  Bytes payload;
  uint64_t timestamp_ms = 0;  // 0 = now (the producer's wall clock, as the Go client does)
  // 1 = PubAck at durability (default); 2 = the same plus a later ProduceConfirm (skipped).
  // Level 0 is PublishFireAndForget.
  uint8_t ack_level = 1;
  // Producer dedup (spec 7.4): with a non-empty msg_id the broker appends an id at most once
  // per producer window and answers a repeat with the original offset (duplicate = true).
  Bytes producer_id;
  uint64_t epoch = 0;
  Bytes msg_id;
};

// The outcome of one Pub of a window.
struct PublishResult {
  Status status;             // Ok, or the error for this record (see the header comment)
  uint64_t offset = 0;       // the durable offset when ok
  bool duplicate = false;    // PubAckDuplicate: nothing appended, `offset` is the original
  std::string error_code;    // the broker's Err token when status is FailedPrecondition
  // When the Pub was queued for sending and when its reply was decoded (PublishWindow only;
  // a load generator's per-message latency). Default when never sent / never answered.
  std::chrono::steady_clock::time_point sent_at{}, answered_at{};
  bool ok() const { return status.ok(); }
};

// One delivered message (a Deliver frame, spec/protocol.md 8.2). The payload is handed back
// decompressed (a COMPRESSED record is inflated here; `flags` still shows how it was stored).
struct Message {
  uint64_t offset = 0;
  uint64_t generation = 0;  // the lease token: echo it in Ack/Nack/Term/Progress
  uint8_t flags = 0;        // stored record flags (bit 0 COMPRESSED, bit 1 HAS_KEY, bit 2 HAS_XXH3)
  uint64_t timestamp_ms = 0;
  Bytes key;
  Bytes headers;
  Bytes payload;
};

struct FetchOptions {
  uint32_t max_records = 64;  // capped by the broker at the negotiated credit minus held leases
  uint64_t max_bytes = 0;     // 0 = no per-request byte cap
  // no_wait: the window ends as soon as nothing is deliverable. Otherwise the broker may hold
  // an empty window open up to `expires` waiting for a record or a redelivery (long-poll).
  bool no_wait = true;
  std::chrono::milliseconds expires{0};
};

// One delivery window: the frames before its terminator, in order of arrival per kind.
struct FetchResult {
  std::vector<Message> messages;
  std::vector<protocol::DeadLetter> dead_letters;  // moved to the DLQ (advisory, not in `delivered`)
  std::vector<protocol::Truncated> truncations;    // cursor fell below retention
  std::vector<protocol::GapMarker> gaps;           // with the gap-marker capability
  uint32_t delivered = 0;  // the FlowEnd count (== messages.size() on a well-behaved broker)
  // Ok when the window ended with FlowEnd. When the broker ended it with Err instead: that
  // error as FailedPrecondition (code in error_code); the messages before it are still valid
  // leases and are returned.
  Status error;
  std::string error_code;
};

// CumulativeAckThenFetch's two answers.
struct AckThenFetchResult {
  Status ack;          // the CumulativeAck's: Ok, or the broker's refusal (FailedPrecondition)
  FetchResult window;  // read whatever the ack's outcome: the broker answers both
};

// AckStatus (spec/protocol.md 8.4).
enum class AckOutcome : uint8_t {
  kFenced = 0,      // this connection does not hold that (offset, generation) lease
  kDone = 1,        // committed / requeued / dropped / extended
  kCapReached = 2,  // Progress refused: the lease reached its hard cap
};

class Client {
 public:
  // Connects to "host:port" (also "[v6]:port") and performs the handshake.
  static Result<std::unique_ptr<Client>> Connect(const std::string& addr, ClientOptions options = {});
  ~Client();  // Close()
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  const protocol::Info& info() const { return info_; }
  // The TLS version and suite negotiated ("TLSv1.3", "TLS_AES_256_GCM_SHA384"); "" when plain.
  std::string tls_version() { return security::NegotiatedVersion(transport_.ssl()); }
  std::string tls_cipher() { return security::NegotiatedCipher(transport_.ssl()); }

  // The durable offset (the broker answers after the covering fdatasync), or the error.
  Result<uint64_t> Publish(const PublishRequest& request);
  // Keeps up to `window` Pubs in flight (at least 1): one result per request, in order. After
  // the connection breaks, every unanswered request gets the same Unavailable status (those
  // already acked keep their offsets: they are durable).
  std::vector<PublishResult> PublishWindow(const std::vector<PublishRequest>& requests, size_t window);
  // Every offset in order, or the first error (PublishWindow when only success matters).
  Result<std::vector<uint64_t>> PublishPipelined(const std::vector<PublishRequest>& requests, size_t window);
  // Level 0: written and forgotten; the broker never answers (spec 7.2). Ok = handed to the
  // socket, not durable.
  Status PublishFireAndForget(const PublishRequest& request);
  Status Ping();

  // ---- consuming (spec/protocol.md 8) ----
  // Sub: later fetches and acks use `group` ("" = the default group). Err (for instance
  // ERR_BROADCAST_GROUP_BUSY, ERR_INVALID_GROUP_NAME) is FailedPrecondition with the code in
  // last_error(); the old subscription stays.
  Status Subscribe(std::string_view group);
  // Unsub: back to the default group; the broker releases this connection's leases.
  Status Unsubscribe();
  // Fetch (tag 23) on the subscribed group; returns the whole window.
  Result<FetchResult> Fetch(const FetchOptions& options = {});
  // Flow (tag 10) with `credit`: the same window, the reference's never-waiting poll.
  Result<FetchResult> Flow(uint32_t credit);
  Result<AckOutcome> Ack(uint64_t offset, uint64_t generation);
  // No delay_ms = the broker's backoff schedule; 0 = redeliver at once.
  Result<AckOutcome> Nack(uint64_t offset, uint64_t generation, std::optional<uint64_t> delay_ms = std::nullopt);
  Result<AckOutcome> Term(uint64_t offset, uint64_t generation);
  Result<AckOutcome> Progress(uint64_t offset, uint64_t generation);
  // Many acks pipelined (one write, then every AckStatus): one outcome per message, in order.
  Result<std::vector<AckOutcome>> AckAll(const std::vector<Message>& messages);
  // CumulativeAck (tag 19) of a broadcast group: commits [.., up_to). Rejections
  // (ERR_CUMULATIVE_ACK_NOT_ALLOWED, ERR_CUMULATIVE_ACK_OUT_OF_RANGE) are FailedPrecondition.
  Status CumulativeAck(std::string_view group, uint64_t up_to);
  // CumulativeAck, then Fetch, pipelined: both frames leave in one write and the replies are
  // read in order (the Ok or Err, then the window). A reader draining a broadcast group pays
  // one round trip per window instead of two, and every ack's answer is still checked. The
  // broker applies the ack before the fetch (one connection's requests run in order), so the
  // window is counted against the credit the ack gave back.
  Result<AckThenFetchResult> CumulativeAckThenFetch(std::string_view group, uint64_t up_to,
                                                    const FetchOptions& options = {});

  // ---- fetch-ahead: requests sent before the replies to earlier ones are read ----
  // A reader that asks for its next window before it has read the current one keeps the broker
  // preparing a window while the reader works through the last. SendFetch and
  // SendCumulativeAck write a request as far as the socket takes it without blocking (the rest
  // leaves with the next call that waits) and return at once; ReceiveWindow reads the replies
  // in the order their requests were sent, up to and including the oldest window not yet
  // read. The broker answers a connection's requests in order and counts each fetch against
  // the credit left after the acks before it, so N windows of `max_records` in flight need a
  // negotiated credit of N x max_records (a fetch beyond the credit comes back short, or waits
  // out its long-poll).
  // While a sent request is unanswered, every other call fails with FailedPrecondition and
  // sends nothing: its reply would be taken for the pipelined one's.
  Status SendFetch(const FetchOptions& options);
  Status SendCumulativeAck(std::string_view group, uint64_t up_to);
  // The oldest window not yet read. A CumulativeAck sent before it and refused by the broker
  // ends the call first, with that FailedPrecondition (the window stays for the next call).
  // FailedPrecondition when no fetch was sent.
  Result<FetchResult> ReceiveWindow();
  // Requests sent with Send* whose replies are not read yet.
  size_t unanswered() const { return pipelined_.size(); }

  // The last Err the broker sent on this connection.
  const protocol::Err& last_error() const { return last_error_; }
  bool broken() const { return !broken_.ok(); }
  // Sends FIN and closes. Idempotent.
  void Close();

 private:
  using SteadyClock = std::chrono::steady_clock;

  Client(std::string addr, ClientOptions options);
  Status Handshake();
  // TLS: the handshake, with the broker's name checked; within connect_timeout.
  Status TlsHandshake(const std::string& host, SteadyClock::time_point deadline);
  // A request sent by SendFetch or SendCumulativeAck, its reply not read yet.
  struct Pipelined {
    bool fetch = false;    // false: a CumulativeAck
    FetchOptions options;  // a fetch's: its frame cap and long-poll silence
  };

  // Appends an encoded frame to the outgoing buffer; FailedPrecondition while pipelined
  // replies are unread.
  Status Queue(const protocol::Frame& frame);
  // Queue without that check: the Send* calls.
  Status Encode(const protocol::Frame& frame);
  Status QueuePub(const PublishRequest& request, uint8_t level);
  // Hands the queued requests to the socket as far as it takes them without blocking (the
  // Send* calls: a pipelined request should reach the broker before the caller's next wait).
  void WriteWithoutWaiting();
  // Turns the io_context until `done()` holds, the connection breaks, or `deadline` passes.
  Status RunUntil(const std::function<bool()>& done, SteadyClock::time_point deadline);
  void StartIo(bool want_read);
  // The next reply, waiting at most request_timeout + `extra` for it (a long-poll's expires).
  Result<protocol::Frame> NextReply(SteadyClock::duration extra = SteadyClock::duration::zero());
  // Where a fetch's window is read from: NextReply, the first frame allowed the long-poll's
  // silence (`expires`) on top of the reply timeout.
  std::function<Result<protocol::Frame>()> WindowReplies(const FetchOptions& options);
  PublishResult ToPublishResult(const protocol::Frame& reply);
  Status Break(Status cause);

  const std::string addr_;
  const ClientOptions options_;
  asio::io_context io_;
  security::Transport transport_;
  protocol::FrameDecoder decoder_;
  Bytes out_;      // queued, not yet handed to a write
  Bytes writing_;  // the buffer of the write in flight
  Bytes read_buffer_;
  bool write_busy_ = false;
  bool read_busy_ = false;
  uint64_t reads_done_ = 0;  // reads fed to the decoder
  std::deque<Pipelined> pipelined_;  // in the order sent
  Status broken_;  // sticky once the connection is unusable
  protocol::Info info_;
  protocol::Err last_error_;
};

}  // namespace ironbus::client
