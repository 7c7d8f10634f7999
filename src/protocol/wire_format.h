// Every wire constant of the IronBus client protocol (spec/protocol.md), defined once.
//
// Envelope (all integers little-endian, no varints):
//
//   +0 len u32 = 1 + body length (counts the tag byte)   +4 tag u8   +5 body (len - 1 bytes)
//
// Body building blocks:
//   var field        u16 length | bytes                      (keys, headers, names; <= 65535)
//   rest field       the remainder of the body               (payloads, Sub group names)
//   versioned block  body_version u8 (= 1) | field_len u16 | field_len bytes of known fields;
//                    unknown trailing bytes inside the block and after it are ignored
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ironbus::protocol {

// ---- envelope ----
inline constexpr size_t kLengthPrefixSize = 4;
inline constexpr size_t kTagSize = 1;
// 16 MiB + 64 KiB: checked on the 4 prefix bytes alone, before any allocation, both ways.
inline constexpr uint32_t kMaxFrameLen = 16u * 1024 * 1024 + 64u * 1024;
static_assert(kMaxFrameLen == 16'842'752);
inline constexpr size_t kMaxVarFieldLen = 65535;
inline constexpr uint8_t kBodyVersion = 1;
inline constexpr size_t kVersionedBlockHeaderSize = 3;  // body_version u8 | field_len u16
inline constexpr size_t kMaxNameLen = 1024;             // stream ids, subjects, patterns

// ---- frame types (append-only, never renumbered) ----
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
  kStreamDeclare = 28,
  kStreamInfo = 29,  // request (client to server) and response (server to client)
  kPubTo = 30,
  kSubTo = 31,
  kBindSubject = 34,
  kPubSubject = 35,
  kSubSubject = 36,
  kNotLeader = 42,
};

// ---- Connect (5.1) / Info (5.2) flags ----
inline constexpr uint8_t kCapHasCredit = 0x01;
inline constexpr uint8_t kCapHasCreditBytes = 0x02;
inline constexpr uint8_t kCapGapMarker = 0x04;
inline constexpr uint8_t kCapHasDefaultAckLevel = 0x08;
inline constexpr uint8_t kCapStreaming = 0x10;
inline constexpr uint8_t kCapHasDefaultTier = 0x20;
inline constexpr uint8_t kCapDeliverBatch = 0x40;
inline constexpr uint8_t kCapStreams = 0x80;
inline constexpr size_t kConnectFixedFieldLen = 13;  // flags u8 | credit u32 | credit_bytes u64
inline constexpr size_t kInfoFixedFieldLen = 25;     // flags | credit u32 x2 | credit_bytes u64 x2

// Authentication section after the Connect block (5.3).
inline constexpr uint8_t kAuthMarker = 0xA7;
inline constexpr uint8_t kAuthBearer = 1;
inline constexpr uint8_t kAuthPassword = 2;
inline constexpr uint8_t kAuthMtls = 3;

// ---- Pub (7.1) flags ----
inline constexpr uint8_t kPubFlagCompressed = 0x01;
inline constexpr uint8_t kPubAckLevelMask = 0x18;
inline constexpr int kPubAckLevelShift = 3;
inline constexpr uint8_t kPubFlagHasSeq = 0x20;
inline constexpr uint8_t kPubFlagFireAndForget = 0x40;
inline constexpr uint8_t kPubFlagHasDedup = 0x80;
inline constexpr uint8_t kPubWireOnlyMask = 0xF8;  // cleared before the byte is stored

// ---- Ack (8.4) ----
inline constexpr size_t kAckBodySize = 25;
inline constexpr uint8_t kAckOpAck = 0;
inline constexpr uint8_t kAckOpNack = 1;
inline constexpr uint8_t kAckOpTerm = 2;
inline constexpr uint8_t kAckOpProgress = 3;
inline constexpr uint64_t kNackUseBackoff = ~uint64_t{0};
inline constexpr uint8_t kAckStatusFenced = 0;
inline constexpr uint8_t kAckStatusDone = 1;
inline constexpr uint8_t kAckStatusProgressRefused = 2;

// ---- Fetch (8.3) ----
inline constexpr size_t kFetchFieldLen = 21;  // flags u8 | max_records u32 | max_bytes u64 | expires_ms u64
inline constexpr uint8_t kFetchNoWait = 0x01;

// ---- advisories ----
inline constexpr uint8_t kDeadLetterMaxDeliver = 0;
inline constexpr uint8_t kGapReasonTrimmed = 1;
inline constexpr uint8_t kGapReasonCompacted = 2;

// ---- Err (9) ----
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

// Uncoded texts the protocol fixes.
inline constexpr std::string_view kTextUnknownFrameType = "unknown frame type";
inline constexpr std::string_view kTextVerbNotSupported = "verb not supported on this connection";
inline constexpr std::string_view kTextNotConnected = "not connected";
inline constexpr std::string_view kTextAuthorizationViolation = "Authorization Violation";
inline constexpr std::string_view kTextFlowCreditMustBeU32 = "flow credit must be a u32";

}  // namespace ironbus::protocol
