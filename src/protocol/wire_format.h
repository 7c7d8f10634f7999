// Every wire constant of the IronBus client protocol (spec/protocol.md), defined once. No other
// file spells these numbers; docs/protocol.md mirrors the diagrams below.
//
// Envelope (section 2); every integer is fixed-width little-endian, there are no varints:
//
//   +--------------------+---------+--------------------------+
//   | len u32 (4 bytes)  | tag u8  | body (len - 1 bytes)     |
//   +--------------------+---------+--------------------------+
//   len = 1 + body length (it counts the tag byte), 1 <= len <= kMaxFrameLen. The bound is checked
//   on the 4 prefix bytes alone, before anything is allocated; len 0 or over the bound means the
//   stream can no longer be framed and the connection closes.
//
// Body building blocks (section 3):
//   var field        | u16 n | n bytes |                       keys, headers, names, ids (n <= 65535)
//   rest field       | the remainder of the body |             payloads, Sub / CumulativeAck group
//   versioned block  | u8 body_version = 1 | u16 field_len | field_len bytes of known fields |
//                    unknown bytes inside the block after the known fields, and bytes after the
//                    block (unless the verb defines a tail), are ignored by readers.
//
// Fixed bodies (trailing bytes rejected):
//   PubAck 14 / PubAckDuplicate 20  | offset u64 |                                      8 bytes
//   Flow 10                         | credit u32 |                                      4 bytes
//   FlowEnd 16                      | delivered count u32 |                             4 bytes
//   AckStatus 15                    | status u8 |                                       1 byte
//   DeadLetter 17                   | offset u64 | reason u8 |                          9 bytes
//   ProduceConfirm 22               | offset u64 | status u8 |                          9 bytes
//   Truncated 18                    | earliest_retained u64 | skipped u64 |           16 bytes
//   GapMarker 21                    | from u64 | to u64 | bytes_skipped u64 | reason u8 | 25 bytes
//   Ack 8                           | op u8 | offset u64 | generation u64 | delay_ms u64 | 25 bytes
//
// Variable bodies (the layouts of messages.h; each struct names its section):
//   Connect 1   empty, or | 1 | field_len | flags u8 | credit u32 | credit_bytes u64 |
//               [ack_level u8 if flags 0x08] [tier u8 if 0x20] [flags2 u8 if non-zero] |
//               then optionally | 0xA7 | mechanism u8 | u16 n | material |
//   Info 2      empty, or | 1 | field_len | flags | credit neg u32 | credit cap u32 |
//               bytes neg u64 | bytes cap u64 | [ack_level] [tier] [flags2] |
//   Pub 5       | flags u8 | timestamp_ms u64 | var key | var headers |
//               [if 0x80: var producer_id | epoch u64 | var msg_id | [if 0x20: seq u64]] | rest payload |
//   Deliver 13  | offset u64 | generation u64 | flags u8 | timestamp_ms u64 | var key | var headers |
//               rest payload |
//   Fetch 23    | 1 | field_len = 21 | flags u8 | max_records u32 | max_bytes u64 | expires_ms u64 |
//   Err 12      uncoded: | text (never starts with 0x00) |
//               coded:   | 0x00 | code_len u8 | token | text |
//   v2 verbs    | 1 | field_len | var name [| var name] | (+ a whole Pub body as tail: PubTo, PubSubject)
//   NotLeader   | u8 version (not checked) | var leader_hint |
//
// Thread safety: constants only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ironbus::protocol {

// ---- envelope and limits ----
inline constexpr size_t kLengthPrefixSize = 4;
inline constexpr size_t kTagSize = 1;
inline constexpr size_t kEnvelopeSize = kLengthPrefixSize + kTagSize;
// 16 MiB + 64 KiB; applies both ways (a server never emits a larger frame). Not negotiated.
inline constexpr uint32_t kMaxFrameLen = 16u * 1024 * 1024 + 64u * 1024;
static_assert(kMaxFrameLen == 16'842'752);
inline constexpr size_t kMaxVarFieldLen = 65535;        // u16 length prefix
inline constexpr uint8_t kBodyVersion = 1;
inline constexpr size_t kVersionedBlockHeaderSize = 3;  // body_version u8 | field_len u16
inline constexpr size_t kMaxNameLen = 1024;             // stream ids, subjects, patterns (decode cap)

// ---- frame types (section 4; append-only, never renumbered) ----
enum class Tag : uint8_t {
  kConnect = 1,
  kInfo = 2,
  kPing = 3,
  kPong = 4,
  kPub = 5,
  kSub = 6,
  kUnsub = 7,
  kAck = 8,
  kNack = 9,  // reserved: never sent; nack rides kAck
  kFlow = 10,
  kOk = 11,
  kErr = 12,
  kDeliver = 13,
  kPubAck = 14,
  kAckStatus = 15,
  kFlowEnd = 16,
  kDeadLetter = 17,
  kTruncated = 18,
  kCumulativeAck = 19,
  kPubAckDuplicate = 20,
  kGapMarker = 21,
  kProduceConfirm = 22,
  kFetch = 23,
  kStreamFetch = 24,     // v2 Tier-S (not implemented)
  kStreamCommit = 25,    // v2 Tier-S (not implemented)
  kDeliverBatch = 26,    // v2; only to clients that negotiated kCapDeliverBatch
  kRaft = 27,            // peer
  kStreamDeclare = 28,
  kStreamInfo = 29,      // request (client to server) and response (server to client)
  kPubTo = 30,
  kSubTo = 31,
  kFetchRecords = 32,    // peer
  kFetchResponse = 33,   // peer
  kBindSubject = 34,
  kPubSubject = 35,
  kSubSubject = 36,
  kAckReplicated = 37,   // peer
  kOffsetForLeaderEpoch = 38,  // peer
  kSegmentFingerprints = 39,   // peer
  kMirrorPull = 40,      // peer (cross-cluster)
  kLeafPush = 41,        // peer (leaf link)
  kNotLeader = 42,
  kCommittedHwQuery = 43,  // peer
  kTxnPrepare = 44,      // v2 transactions (not implemented)
  kTxnCommit = 45,
  kTxnRollback = 46,
  kTxnCheck = 47,        // server push
  kTxnCheckResult = 48,
  kTxnListen = 49,
  kRaftAuth = 50,        // peer
  kDataPlaneAuth = 51,   // peer
  kPauseGroup = 52,      // v2 (not implemented)
};
inline constexpr uint8_t kMaxDefinedTag = 52;  // tag 0 and 53..255 are unknown

// Who may put a tag on the client port (the "dir" column of section 4).
enum class Sender : uint8_t {
  kNobody,  // tag 9 (reserved) and the unknown tags
  kClient,
  kServer,
  kEither,  // Ping 3, StreamInfo 29 (request one way, response the other)
  kPeer,    // peer and cross-cluster links only; never valid on the client port
};
constexpr Sender SenderOf(uint8_t tag) {
  switch (tag) {
    case 3: case 29: return Sender::kEither;
    case 1: case 5: case 6: case 7: case 8: case 10: case 19: case 23: case 24: case 25: case 28: case 30:
    case 31: case 34: case 35: case 36: case 44: case 45: case 46: case 48: case 49: case 52:
      return Sender::kClient;
    case 2: case 4: case 11: case 12: case 13: case 14: case 15: case 16: case 17: case 18: case 20: case 21:
    case 22: case 26: case 42: case 47:
      return Sender::kServer;
    case 27: case 32: case 33: case 37: case 38: case 39: case 40: case 41: case 43: case 50: case 51:
      return Sender::kPeer;
    default: return Sender::kNobody;  // 0, 9, 53..255
  }
}
constexpr bool IsDefinedTag(uint8_t tag) { return tag >= 1 && tag <= kMaxDefinedTag; }

// ---- Connect (5.1) / Info (5.2) ----
// `flags`: in Connect a request or presence bit; in Info the same bit confirmed (capability bits
// are the AND of "client asked" and "server supports").
inline constexpr uint8_t kCapHasCredit = 0x01;           // credit u32 is meaningful
inline constexpr uint8_t kCapHasCreditBytes = 0x02;      // credit_bytes u64 is meaningful
inline constexpr uint8_t kCapGapMarker = 0x04;           // GapMarker 21 instead of Truncated 18
inline constexpr uint8_t kCapHasDefaultAckLevel = 0x08;  // appended default_ack_level byte present
inline constexpr uint8_t kCapStreaming = 0x10;           // Tier-S consume (24/25)
inline constexpr uint8_t kCapHasDefaultTier = 0x20;      // appended default_tier byte present
inline constexpr uint8_t kCapDeliverBatch = 0x40;        // DeliverBatch 26
inline constexpr uint8_t kCapStreams = 0x80;             // stream and subject verbs (28-31, 34-36)
// Connect `flags2` (v2; present only when non-zero, always last in the block).
inline constexpr uint8_t kCap2CompressedDelivery = 0x01;
inline constexpr uint8_t kCap2WantsSubjectFilter = 0x02;   // placement unconfirmed
inline constexpr uint8_t kCap2WantsEphemeralGroups = 0x04; // placement unconfirmed
// Info `flags2`.
inline constexpr uint8_t kInfo2EphemeralGroups = 0x01;
inline constexpr size_t kConnectFixedFieldLen = 13;  // flags u8 | credit u32 | credit_bytes u64
inline constexpr size_t kInfoFixedFieldLen = 25;     // flags | credit u32 x2 | credit_bytes u64 x2
// default_tier values: 0 Tier-W, 1 Tier-S, anything else reads as Tier-W.
inline constexpr uint8_t kTierW = 0;
inline constexpr uint8_t kTierS = 1;

// Authentication section after the Connect block (5.3), outside field_len:
//   | 0xA7 | mechanism u8 | u16 material_len | material |
// Password material = | var username | var password |. Bearer = the raw token. mTLS = empty.
inline constexpr uint8_t kAuthMarker = 0xA7;
inline constexpr size_t kAuthHeaderSize = 4;  // marker | mechanism | u16 material_len
inline constexpr uint8_t kAuthBearer = 1;
inline constexpr uint8_t kAuthPassword = 2;
inline constexpr uint8_t kAuthMtls = 3;

// ---- Pub (7.1) / Deliver (8.2) flags ----
inline constexpr uint8_t kPubFlagCompressed = 0x01;  // stored (= format::kFlagCompressed)
inline constexpr uint8_t kPubFlagHasKey = 0x02;      // stored, derived by the server
inline constexpr uint8_t kPubFlagHasXxh3 = 0x04;     // stored, derived by storage
inline constexpr uint8_t kPubAckLevelMask = 0x18;    // 0 = level 1, 1 = level 0, 2 = level 2, 3 = level 1
inline constexpr int kPubAckLevelShift = 3;
inline constexpr uint8_t kPubFlagHasSeq = 0x20;      // only together with kPubFlagHasDedup
inline constexpr uint8_t kPubFlagFireAndForget = 0x40;  // level 0, canonical form
inline constexpr uint8_t kPubFlagHasDedup = 0x80;
inline constexpr uint8_t kPubWireOnlyMask = 0xF8;    // cleared before the byte is stored
inline constexpr size_t kPubFixedPrefixSize = 9;     // flags u8 | timestamp_ms u64
// Effective ack levels.
inline constexpr uint8_t kAckLevelNone = 0;     // no reply, ever
inline constexpr uint8_t kAckLevelDurable = 1;  // PubAck at durability (the default)
inline constexpr uint8_t kAckLevelConsumed = 2; // PubAck, then ProduceConfirm when consumed
inline constexpr uint8_t kAckLevelReserved = 3; // reads as kAckLevelDurable
inline constexpr size_t kDeliverFixedPrefixSize = 25;  // offset | generation | flags | timestamp_ms

// ---- fixed body sizes ----
inline constexpr size_t kPubAckBodySize = 8;
inline constexpr size_t kFlowBodySize = 4;
inline constexpr size_t kFlowEndBodySize = 4;
inline constexpr size_t kAckStatusBodySize = 1;
inline constexpr size_t kDeadLetterBodySize = 9;
inline constexpr size_t kProduceConfirmBodySize = 9;
inline constexpr size_t kTruncatedBodySize = 16;
inline constexpr size_t kGapMarkerBodySize = 25;
inline constexpr size_t kCumulativeAckMinBodySize = 8;  // u64 up_to, then rest = group

// ---- Ack (8.4) ----
inline constexpr size_t kAckBodySize = 25;
inline constexpr uint8_t kAckOpAck = 0;
inline constexpr uint8_t kAckOpNack = 1;
inline constexpr uint8_t kAckOpTerm = 2;
inline constexpr uint8_t kAckOpProgress = 3;  // highest valid op; above it: DecodeError::kBadValue
inline constexpr uint64_t kNackUseBackoff = ~uint64_t{0};
inline constexpr uint8_t kAckStatusFenced = 0;
inline constexpr uint8_t kAckStatusDone = 1;
inline constexpr uint8_t kAckStatusProgressRefused = 2;

// ---- Fetch (8.3) ----
inline constexpr size_t kFetchFieldLen = 21;  // flags u8 | max_records u32 | max_bytes u64 | expires_ms u64
inline constexpr uint8_t kFetchNoWait = 0x01;

// ---- advisories and pushes ----
inline constexpr uint8_t kDeadLetterMaxDeliver = 0;  // DeadLetter reason
inline constexpr uint8_t kGapReasonTrimmed = 1;      // GapMarker reasons; unknown ones are legal
inline constexpr uint8_t kGapReasonCompacted = 2;
inline constexpr uint8_t kConfirmConsumed = 0;       // ProduceConfirm status
inline constexpr uint8_t kConfirmTimedOut = 1;
inline constexpr uint8_t kConfirmDeadLettered = 2;

// ---- v2 (sections 10-12) ----
inline constexpr size_t kStreamInfoResponseFieldLen = 9;  // exists u8 | head u64
// DeliverBatch 26: | 1 | field_len | first_offset u64 | generation u64 | record_count u32 |, then
// the records' on-disk frames verbatim (storage.md); record i has offset first_offset + i.
inline constexpr size_t kDeliverBatchFieldLen = 20;

// ---- Err (section 9) ----
inline constexpr uint8_t kErrCodedMarker = 0x00;
inline constexpr size_t kMaxErrCodeLen = 255;

// Frozen error tokens (spellings are part of the contract).
inline constexpr std::string_view kErrAtCapacity = "ERR_AT_CAPACITY";
inline constexpr std::string_view kErrNotEnoughIsr = "ERR_NOT_ENOUGH_ISR";
inline constexpr std::string_view kErrStorage = "ERR_STORAGE";
inline constexpr std::string_view kErrProducerFenced = "ERR_PRODUCER_FENCED";
inline constexpr std::string_view kErrOutOfOrderSequence = "ERR_OUT_OF_ORDER_SEQUENCE";
inline constexpr std::string_view kErrCumulativeAckNotAllowed = "ERR_CUMULATIVE_ACK_NOT_ALLOWED";
inline constexpr std::string_view kErrCumulativeAckOutOfRange = "ERR_CUMULATIVE_ACK_OUT_OF_RANGE";
inline constexpr std::string_view kErrBroadcastGroupBusy = "ERR_BROADCAST_GROUP_BUSY";
inline constexpr std::string_view kErrBroadcastGroupNotNamed = "ERR_BROADCAST_GROUP_NOT_NAMED";
inline constexpr std::string_view kErrEphemeralGroupConflict = "ERR_EPHEMERAL_GROUP_CONFLICT";
inline constexpr std::string_view kErrTooManyGroups = "ERR_TOO_MANY_GROUPS";
inline constexpr std::string_view kErrTooManyStreams = "ERR_TOO_MANY_STREAMS";
inline constexpr std::string_view kErrInvalidGroupName = "ERR_INVALID_GROUP_NAME";
inline constexpr std::string_view kErrInvalidStreamName = "ERR_INVALID_STREAM_NAME";
inline constexpr std::string_view kErrUnknownStream = "ERR_UNKNOWN_STREAM";
inline constexpr std::string_view kErrMirrorReadOnly = "ERR_MIRROR_READ_ONLY";
inline constexpr std::string_view kErrInvalidSubject = "ERR_INVALID_SUBJECT";
inline constexpr std::string_view kErrBindRejected = "ERR_BIND_REJECTED";
inline constexpr std::string_view kErrBindingTableFull = "ERR_BINDING_TABLE_FULL";
inline constexpr std::string_view kErrNoStreamForSubject = "ERR_NO_STREAM_FOR_SUBJECT";
inline constexpr std::string_view kErrAmbiguousSubject = "ERR_AMBIGUOUS_SUBJECT";
inline constexpr std::string_view kErrGenerationExhausted = "ERR_GENERATION_EXHAUSTED";
inline constexpr std::string_view kErrMissingRecord = "ERR_MISSING_RECORD";
inline constexpr std::string_view kErrZeroMaxInFlight = "ERR_ZERO_MAX_IN_FLIGHT";
inline constexpr std::string_view kErrTxn = "ERR_TXN";
inline constexpr std::string_view kErrTxnCheckUnauthorized = "ERR_TXN_CHECK_UNAUTHORIZED";
inline constexpr std::string_view kErrDelayTooLong = "ERR_DELAY_TOO_LONG";
inline constexpr std::string_view kErrInvalidDelayHeader = "ERR_INVALID_DELAY_HEADER";
inline constexpr std::string_view kErrImportNotGranted = "ERR_IMPORT_NOT_GRANTED";
// security.md adds these three.
inline constexpr std::string_view kErrTenantMaxConnections = "ERR_TENANT_MAX_CONNECTIONS";
inline constexpr std::string_view kErrTenantMaxStreams = "ERR_TENANT_MAX_STREAMS";
inline constexpr std::string_view kErrTenantMaxStorageBytes = "ERR_TENANT_MAX_STORAGE_BYTES";
// Every token above, for tests and tools that list them.
inline constexpr std::string_view kAllErrTokens[] = {
    kErrAtCapacity, kErrNotEnoughIsr, kErrStorage, kErrProducerFenced, kErrOutOfOrderSequence,
    kErrCumulativeAckNotAllowed, kErrCumulativeAckOutOfRange, kErrBroadcastGroupBusy,
    kErrBroadcastGroupNotNamed, kErrEphemeralGroupConflict, kErrTooManyGroups, kErrTooManyStreams,
    kErrInvalidGroupName, kErrInvalidStreamName, kErrUnknownStream, kErrMirrorReadOnly, kErrInvalidSubject,
    kErrBindRejected, kErrBindingTableFull, kErrNoStreamForSubject, kErrAmbiguousSubject,
    kErrGenerationExhausted, kErrMissingRecord, kErrZeroMaxInFlight, kErrTxn, kErrTxnCheckUnauthorized,
    kErrDelayTooLong, kErrInvalidDelayHeader, kErrImportNotGranted, kErrTenantMaxConnections,
    kErrTenantMaxStreams, kErrTenantMaxStorageBytes};

// Uncoded texts the protocol fixes (framing, decoding and state errors are sent uncoded).
inline constexpr std::string_view kTextUnknownFrameType = "unknown frame type";
inline constexpr std::string_view kTextVerbNotSupported = "verb not supported on this connection";
inline constexpr std::string_view kTextNotConnected = "not connected";
inline constexpr std::string_view kTextAuthorizationViolation = "Authorization Violation";  // exact bytes
inline constexpr std::string_view kTextFlowCreditMustBeU32 = "flow credit must be a u32";
inline constexpr std::string_view kTextSubNameNotUtf8 = "subscription name must be valid UTF-8";

}  // namespace ironbus::protocol
