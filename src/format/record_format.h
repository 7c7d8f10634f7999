// Every on-disk constant of IronBus (spec/storage.md), defined once. No other file spells
// these numbers. Layouts are drawn here and mirrored in docs/format.md.
//
// Record frame (all integers little-endian, no padding, frames packed back to back):
//
//   +0  magic u16 = 0x4942 ("BI")   +2 version u8 = 1   +3 flags u8
//   +4  seq u64                     +12 timestamp_ms u64
//   +20 key_len u32   +24 hdr_len u32   +28 payload_len u32
//   +32 header_crc u32 = CRC32C of bytes [0, 32)                     (36-byte header)
//   [subject or stream tag: len u16 | bytes | CRC32C(len|bytes) u32]  (v2, flag 0x08 / 0x10)
//   key | headers | payload                                           (the body)
//   [AEAD tag, 16 bytes]                   (iff ENCRYPTED 0x20: body is then ciphertext)
//   [xxh3-64 of the body (+ tag), u64]                  (iff plaintext body length >= 64 KiB)
//   body_crc u32 = CRC32C(body (+ tag)) | total_len u32                (8-byte trailer)
//
// Segment file: 64-byte header at 0, frames from 64, and once sealed a 32-byte footer:
//
//   header: +0 "IRONBUS\0" | +8 version u8 | +9 checksum_algo u8 = 1 | +10 flags u16
//           +12 segment_id u64 | +20 base_seq u64 | +28 base_offset u64
//           +36 created_unix_ms u64 | +44 reserved[16] | +60 header_crc u32 = CRC32C [0, 60)
//           encrypted (flag 0x0002): +44 aead_suite u8 | +45 key_id u64 | +53 zero[7]
//   footer: +0 magic u16 = 0x4653 ("SF") | +2 version u8 | +3 checksum_algo u8
//           +4 segment_id u64 | +12 last_seq u64 | +20 record_count u32 | +24 reserved u32
//           +28 footer_crc u32 = CRC32C [0, 28)
//
// Two-slot checkpoint file: slot 0 at 0, slot 1 at SLOT_LEN = 14 + CAP; each slot is
//   seq u64 | len u16 | payload[CAP] (zero padded) | CRC32C of [0, 10 + len) u32
#pragma once

#include <cstddef>
#include <cstdint>

namespace ironbus::format {

// ---- record frame ----
inline constexpr uint16_t kRecordMagic = 0x4942;
inline constexpr uint8_t kRecordVersion = 1;

inline constexpr size_t kRecordMagicSize = 2;
inline constexpr size_t kRecordVersionSize = 1;
inline constexpr size_t kRecordFlagsSize = 1;
inline constexpr size_t kRecordSeqSize = 8;
inline constexpr size_t kRecordTimestampSize = 8;
inline constexpr size_t kRecordLengthFieldSize = 4;  // key_len, hdr_len, payload_len each
inline constexpr size_t kRecordHeaderCrcSize = 4;
inline constexpr size_t kRecordHeaderSize = kRecordMagicSize + kRecordVersionSize + kRecordFlagsSize +
                                            kRecordSeqSize + kRecordTimestampSize +
                                            3 * kRecordLengthFieldSize + kRecordHeaderCrcSize;
static_assert(kRecordHeaderSize == 36);
inline constexpr size_t kRecordHeaderCrcCoverage = 32;  // header_crc covers [0, 32)

inline constexpr size_t kRecordOffMagic = 0;
inline constexpr size_t kRecordOffVersion = 2;
inline constexpr size_t kRecordOffFlags = 3;
inline constexpr size_t kRecordOffSeq = 4;
inline constexpr size_t kRecordOffTimestamp = 12;
inline constexpr size_t kRecordOffKeyLen = 20;
inline constexpr size_t kRecordOffHdrLen = 24;
inline constexpr size_t kRecordOffPayloadLen = 28;
inline constexpr size_t kRecordOffHeaderCrc = 32;

inline constexpr size_t kRecordTrailerSize = 8;   // body_crc u32, total_len u32
inline constexpr size_t kRecordXxh3Size = 8;
inline constexpr size_t kTaggedFieldLenSize = 2;  // v2 subject / stream-tag: len u16
inline constexpr size_t kTaggedFieldCrcSize = 4;
inline constexpr size_t kMinRecordFrameSize = kRecordHeaderSize + kRecordTrailerSize;
static_assert(kMinRecordFrameSize == 44);

inline constexpr uint8_t kFlagCompressed = 0x01;
inline constexpr uint8_t kFlagHasKey = 0x02;       // derived: key_len != 0
inline constexpr uint8_t kFlagHasXxh3 = 0x04;      // derived: body length >= kXxh3BodyThreshold
inline constexpr uint8_t kFlagHasSubject = 0x08;   // v2
// v2; the reference's value is unconfirmed (spec/storage.md 3.2): the next free bit.
inline constexpr uint8_t kFlagHasStreamTag = 0x10;
// At-rest encryption (spec/security.md 5.3; the value is ours, the reference's is unconfirmed:
// the next free bit). The body is ciphertext followed by kAeadTagSize tag bytes; key_len,
// hdr_len and payload_len still give plaintext lengths.
inline constexpr uint8_t kFlagEncrypted = 0x20;

inline constexpr uint64_t kXxh3BodyThreshold = 65536;
inline constexpr uint64_t kDefaultMaxRecordBytes = 16ull * 1024 * 1024;
inline constexpr uint64_t kMaxRecordBytesCeiling = 1ull << 30;  // exactly 1 GiB is allowed

// ---- segment file ----
inline constexpr char kSegmentMagic[8] = {'I', 'R', 'O', 'N', 'B', 'U', 'S', '\0'};
inline constexpr uint8_t kSegmentVersion = 1;
inline constexpr uint8_t kSegmentVersionCompacted = 2;  // v2: refused by this build
inline constexpr uint8_t kChecksumAlgoCrc32c = 1;
inline constexpr uint16_t kSegmentFlagCompacted = 0x0001;
// Every record of the segment is encrypted under the suite and key id in the reserved bytes.
inline constexpr uint16_t kSegmentFlagEncrypted = 0x0002;

inline constexpr size_t kSegmentHeaderSize = 64;
inline constexpr size_t kSegmentHeaderCrcCoverage = 60;
inline constexpr size_t kSegmentOffMagic = 0;
inline constexpr size_t kSegmentOffVersion = 8;
inline constexpr size_t kSegmentOffChecksumAlgo = 9;
inline constexpr size_t kSegmentOffFlags = 10;
inline constexpr size_t kSegmentOffId = 12;
inline constexpr size_t kSegmentOffBaseSeq = 20;
inline constexpr size_t kSegmentOffBaseOffset = 28;
inline constexpr size_t kSegmentOffCreated = 36;
inline constexpr size_t kSegmentOffReserved = 44;
inline constexpr size_t kSegmentReservedSize = 16;
inline constexpr size_t kSegmentOffHeaderCrc = 60;
static_assert(kSegmentOffReserved + kSegmentReservedSize == kSegmentOffHeaderCrc);
// Encrypted segments use the reserved block: aead_suite u8 at [44], key_id u64 LE at [45, 53),
// zeros after (spec/security.md 5.3; the offsets are our decision, the reference's unconfirmed).
inline constexpr size_t kSegmentOffAeadSuite = 44;
inline constexpr size_t kSegmentOffKeyId = 45;
static_assert(kSegmentOffKeyId + 8 <= kSegmentOffHeaderCrc);

// ---- at-rest encryption (spec/security.md 5) ----
inline constexpr uint8_t kAeadSuiteNone = 0;              // not encrypted
inline constexpr uint8_t kAeadSuiteAes256Gcm = 1;         // decided: AES = 1
inline constexpr uint8_t kAeadSuiteChaCha20Poly1305 = 2;  // decided: ChaCha = 2
inline constexpr size_t kAeadKeySize = 32;
inline constexpr size_t kAeadNonceSize = 12;  // segment_id u64 LE | record_counter u32 LE
inline constexpr size_t kAeadTagSize = 16;
inline constexpr uint64_t kNoKeyId = 0;       // the "no key" sentinel, never a real key

inline constexpr uint16_t kFooterMagic = 0x4653;
inline constexpr size_t kSegmentFooterSize = 32;
inline constexpr size_t kFooterCrcCoverage = 28;
inline constexpr size_t kFooterOffMagic = 0;
inline constexpr size_t kFooterOffVersion = 2;
inline constexpr size_t kFooterOffChecksumAlgo = 3;
inline constexpr size_t kFooterOffSegmentId = 4;
inline constexpr size_t kFooterOffLastSeq = 12;
inline constexpr size_t kFooterOffRecordCount = 20;
inline constexpr size_t kFooterOffReserved = 24;
inline constexpr size_t kFooterOffCrc = 28;

inline constexpr uint64_t kDefaultSegmentBytes = 64ull * 1024 * 1024;
inline constexpr uint64_t kEdgeSegmentBytes = 8ull * 1024 * 1024;
// Header, footer and two minimal frames: a smaller roll size is refused at config time.
inline constexpr uint64_t kMinSegmentBytes = kSegmentHeaderSize + kSegmentFooterSize + 2 * kMinRecordFrameSize;
static_assert(kMinSegmentBytes == 184);

// ---- payload compression descriptor (inside the payload, inside the CRC) ----
inline constexpr uint8_t kCodecNone = 0;
inline constexpr uint8_t kCodecLz4 = 1;
inline constexpr uint8_t kCodecZstd = 2;
inline constexpr size_t kCompressionDescriptorSize = 9;  // codec u8 | dict_id u32 | uncompressed_len u32
inline constexpr uint64_t kMaxDecompressedBytes = 8ull * 1024 * 1024;
inline constexpr size_t kCompressMinPayloadBytes = 1024;  // DESIGN.md D8: lz4 only from 1 KiB

// ---- two-slot checkpoint files ----
inline constexpr size_t kCheckpointSlotSeqSize = 8;
inline constexpr size_t kCheckpointSlotLenSize = 2;
inline constexpr size_t kCheckpointSlotCrcSize = 4;
inline constexpr size_t kCheckpointSlotOverhead = kCheckpointSlotSeqSize + kCheckpointSlotLenSize + kCheckpointSlotCrcSize;
static_assert(kCheckpointSlotOverhead == 14);
inline constexpr size_t kCursorCheckpointCap = 64;     // cursor*.ckpt, layout.meta, dlq-redrive.ckpt
inline constexpr size_t kCountersCheckpointCap = 96;   // counters.ckpt
inline constexpr size_t kAttemptsCheckpointCap = 32768;  // attempts*.ckpt

inline constexpr uint8_t kCursorSnapshotVersion = 1;
inline constexpr size_t kCursorSnapshotMinSize = 13;   // version | committed u64 | crc u32
inline constexpr uint8_t kAttemptsSnapshotVersion = 1;
inline constexpr size_t kAttemptsSnapshotMinSize = 9;  // version | count u32 | crc u32
inline constexpr char kLayoutMagic[4] = {'I', 'B', 'D', 'D'};
inline constexpr uint32_t kLayoutVersion = 1;

// ---- dead-letter metadata prefix of a DLQ record's headers blob (spec/consumers.md 8.3) ----
//   DLQ1: magic "DLQ1" | source_offset u64 | attempt u32 | group_len u16 | orig_headers_len u16
//         | group | original headers                       (exactly 20 + g + h bytes)
//   DLQ2: magic "DLQ2" | reason u8 | then the DLQ1 fields     (exactly 21 + g + h bytes)
inline constexpr char kDlqMagicV1[4] = {'D', 'L', 'Q', '1'};
inline constexpr char kDlqMagicV2[4] = {'D', 'L', 'Q', '2'};
inline constexpr size_t kDlqPrefixSizeV1 = 20;
inline constexpr size_t kDlqPrefixSizeV2 = 21;
inline constexpr uint8_t kDlqReasonMaxDeliver = 0;
inline constexpr uint8_t kDlqReasonTtlExpired = 1;
inline constexpr uint8_t kDlqReasonRejected = 2;

// ---- loss caps (spec/storage.md 15, DESIGN.md D1) ----
inline constexpr uint64_t kPerEventLossCapBytes = 64ull * 1024 * 1024;
inline constexpr uint64_t kGlobalLossCapDivisor = 100;  // 1 % of durable bytes

// ---- quarantine ----
inline constexpr uint64_t kDefaultQuarantineCapBytes = 256ull * 1024 * 1024;

}  // namespace ironbus::format
