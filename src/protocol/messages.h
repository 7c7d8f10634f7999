// One struct per frame of the v1 protocol (and the v2 stream/subject verbs the Go SDK sends, plus
// DeliverBatch), and `Frame`, the variant over them. Each struct names its spec section; the byte
// layouts are drawn in wire_format.h.
//
// Ownership: decoded frames are OWNING values. The decoder copies keys, headers, names and
// payloads out of the receive buffer, so a frame may outlive FrameDecoder's buffer and be moved
// to another thread. (A zero-copy view variant is a later optimisation: payloads are at most
// 16 MiB and the copy is one memcpy per field.)
//
// Equality compares every field, so decode(encode(f)) == f is testable.
//
// Thread safety: plain values.
#pragma once

#include <cstdint>
#include <optional>
#include <variant>

#include "base/bytes.h"
#include "protocol/wire_format.h"

namespace ironbus::protocol {

struct AuthSection {
  uint8_t mechanism = 0;  // kAuthBearer, kAuthPassword, kAuthMtls
  Bytes material;
  friend bool operator==(const AuthSection&, const AuthSection&) = default;
};

// Tag 1 (5.1, 5.3). `legacy` = an empty body (an old client: every option defaults; the encoder
// then writes an empty body and ignores the other fields).
struct Connect {
  bool legacy = false;
  std::optional<uint32_t> requested_credit;
  std::optional<uint64_t> requested_credit_bytes;
  bool wants_gap_marker = false;
  std::optional<uint8_t> default_ack_level;
  bool understands_streaming = false;
  std::optional<uint8_t> default_tier;
  bool understands_deliver_batch = false;
  bool understands_streams = false;
  uint8_t flags2 = 0;  // v2 bits (kCap2*); written only when non-zero
  // The auth section after the block, when it parses (marker 0xA7, a complete material). The
  // mechanism is kept raw: 0 and values above 3 are invalid, which is an auth failure for the
  // server to report (Authorization Violation), not a malformed Connect.
  std::optional<AuthSection> auth;
  // Bytes after the block that do not form an auth section (another marker, or cut short). An
  // auth-required broker treats them as a failed authentication; a broker without identities
  // ignores them. Empty when `auth` is set. The encoder writes them after the block.
  Bytes unparsed_auth;
  friend bool operator==(const Connect&, const Connect&) = default;
};

template <typename T>
struct Advert {
  T negotiated = 0;
  T cap = 0;
  friend bool operator==(const Advert&, const Advert&) = default;
};

// Tag 2. `legacy` = an empty body (an old server).
struct Info {
  bool legacy = false;
  std::optional<Advert<uint32_t>> credit;
  std::optional<Advert<uint64_t>> credit_bytes;
  bool gap_marker = false;
  std::optional<uint8_t> default_ack_level;
  bool streaming = false;
  std::optional<uint8_t> default_tier;
  bool deliver_batch = false;
  bool streams = false;
  uint8_t flags2 = 0;
  friend bool operator==(const Info&, const Info&) = default;
};

struct Ping {
  friend bool operator==(const Ping&, const Ping&) = default;
};
struct Pong {
  friend bool operator==(const Pong&, const Pong&) = default;
};
struct Ok {
  friend bool operator==(const Ok&, const Ok&) = default;
};
struct Unsub {
  friend bool operator==(const Unsub&, const Unsub&) = default;
};

struct Dedup {
  Bytes producer_id;
  uint64_t epoch = 0;
  Bytes msg_id;
  std::optional<uint64_t> seq;
  friend bool operator==(const Dedup&, const Dedup&) = default;
};

// Tag 5. `flags` is the byte as sent; the encoder keeps HAS_DEDUP / HAS_SEQ consistent with
// `dedup`.
struct Pub {
  uint8_t flags = 0;
  uint64_t timestamp_ms = 0;
  Bytes key;
  Bytes headers;
  std::optional<Dedup> dedup;
  Bytes payload;

  // kAckLevelNone (no reply), kAckLevelDurable (PubAck at durability, the default) or
  // kAckLevelConsumed (PubAck, then ProduceConfirm). The reserved field value 3 reads as 1.
  uint8_t ack_level() const;
  bool fire_and_forget() const { return (flags & kPubFlagFireAndForget) != 0; }
  // The flags byte as stored in the record: wire-only bits cleared.
  uint8_t stored_flags() const { return static_cast<uint8_t>(flags & ~kPubWireOnlyMask); }
  friend bool operator==(const Pub&, const Pub&) = default;
};

struct PubAck {  // tag 14
  uint64_t offset = 0;
  friend bool operator==(const PubAck&, const PubAck&) = default;
};
struct PubAckDuplicate {  // tag 20: the original offset; nothing appended
  uint64_t offset = 0;
  friend bool operator==(const PubAckDuplicate&, const PubAckDuplicate&) = default;
};
struct ProduceConfirm {  // tag 22
  uint64_t offset = 0;
  uint8_t status = 0;
  friend bool operator==(const ProduceConfirm&, const ProduceConfirm&) = default;
};

struct Sub {  // tag 6: rest = group name (empty = the default group)
  Bytes group;
  friend bool operator==(const Sub&, const Sub&) = default;
};

struct Ack {  // tag 8
  uint8_t op = kAckOpAck;
  uint64_t offset = 0;
  uint64_t generation = 0;
  uint64_t delay_ms = 0;  // Nack: kNackUseBackoff = the schedule
  friend bool operator==(const Ack&, const Ack&) = default;
};
struct AckStatus {  // tag 15
  uint8_t status = 0;
  friend bool operator==(const AckStatus&, const AckStatus&) = default;
};

struct Flow {  // tag 10
  uint32_t credit = 0;
  friend bool operator==(const Flow&, const Flow&) = default;
};
struct Fetch {  // tag 23
  bool no_wait = false;
  uint32_t max_records = 0;
  uint64_t max_bytes = 0;
  uint64_t expires_ms = 0;
  friend bool operator==(const Fetch&, const Fetch&) = default;
};
struct Deliver {  // tag 13
  uint64_t offset = 0;
  uint64_t generation = 0;
  uint8_t flags = 0;
  uint64_t timestamp_ms = 0;
  Bytes key;
  Bytes headers;
  Bytes payload;
  friend bool operator==(const Deliver&, const Deliver&) = default;
};
struct FlowEnd {  // tag 16
  uint32_t count = 0;
  friend bool operator==(const FlowEnd&, const FlowEnd&) = default;
};
struct DeadLetter {  // tag 17
  uint64_t offset = 0;
  uint8_t reason = kDeadLetterMaxDeliver;
  friend bool operator==(const DeadLetter&, const DeadLetter&) = default;
};
struct Truncated {  // tag 18
  uint64_t earliest_retained = 0;
  uint64_t skipped = 0;
  friend bool operator==(const Truncated&, const Truncated&) = default;
};
struct GapMarker {  // tag 21
  uint64_t from = 0;
  uint64_t to = 0;
  uint64_t bytes_skipped = 0;
  uint8_t reason = 0;
  friend bool operator==(const GapMarker&, const GapMarker&) = default;
};
struct CumulativeAck {  // tag 19
  uint64_t up_to = 0;
  Bytes group;
  friend bool operator==(const CumulativeAck&, const CumulativeAck&) = default;
};

struct Err {  // tag 12. Empty code = uncoded.
  std::string code;
  std::string message;
  friend bool operator==(const Err&, const Err&) = default;
};

// ---- v2 stream and subject verbs (section 10) ----
struct StreamDeclare {  // tag 28
  Bytes stream_id;
  friend bool operator==(const StreamDeclare&, const StreamDeclare&) = default;
};
struct StreamInfoRequest {  // tag 29, client to server
  Bytes stream_id;
  friend bool operator==(const StreamInfoRequest&, const StreamInfoRequest&) = default;
};
struct StreamInfoResponse {  // tag 29, server to client
  bool exists = false;
  uint64_t head = 0;
  friend bool operator==(const StreamInfoResponse&, const StreamInfoResponse&) = default;
};
struct PubTo {  // tag 30
  Bytes stream_id;
  Pub pub;
  friend bool operator==(const PubTo&, const PubTo&) = default;
};
struct SubTo {  // tag 31
  Bytes stream_id;
  Bytes group;
  friend bool operator==(const SubTo&, const SubTo&) = default;
};
struct BindSubject {  // tag 34
  Bytes stream_id;
  Bytes pattern;
  friend bool operator==(const BindSubject&, const BindSubject&) = default;
};
struct PubSubject {  // tag 35
  Bytes subject;
  Pub pub;
  friend bool operator==(const PubSubject&, const PubSubject&) = default;
};
struct SubSubject {  // tag 36
  Bytes subject;
  Bytes group;
  friend bool operator==(const SubSubject&, const SubSubject&) = default;
};
struct NotLeader {  // tag 42 (12): UTF-8 host:port of the leader, empty while unknown
  std::string leader_hint;
  friend bool operator==(const NotLeader&, const NotLeader&) = default;
};

// Tag 26 (11.1), server to client, only after both sides set kCapDeliverBatch. `records` are the
// records' on-disk frames verbatim (format/ parses them); record i has offset first_offset + i.
// Placement of the records after the block: unconfirmed (our reading of the spec).
struct DeliverBatch {
  uint64_t first_offset = 0;
  uint64_t generation = 0;
  uint32_t record_count = 0;
  Bytes records;
  friend bool operator==(const DeliverBatch&, const DeliverBatch&) = default;
};

using Frame = std::variant<Connect, Info, Ping, Pong, Pub, Sub, Unsub, Ack, Flow, Ok, Err, Deliver, PubAck, AckStatus,
                           FlowEnd, DeadLetter, Truncated, CumulativeAck, PubAckDuplicate, GapMarker, ProduceConfirm,
                           Fetch, StreamDeclare, StreamInfoRequest, StreamInfoResponse, PubTo, SubTo, BindSubject,
                           PubSubject, SubSubject, NotLeader, DeliverBatch>;

Tag TagOf(const Frame& frame);

}  // namespace ironbus::protocol
