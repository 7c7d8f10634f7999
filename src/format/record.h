// The record frame codec (spec/storage.md section 3): bytes <-> record, checks in the spec's
// order, bounds before allocation. Pure code: no I/O. Layout in format/record_format.h.
//
// Thread safety: free functions on caller-owned buffers; safe from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "base/bytes.h"
#include "base/result.h"
#include "format/aead.h"

namespace ironbus::format {

// A record as stored. Views point into a caller-owned buffer (the frame being decoded, or
// the caller's data when encoding) and are valid only while it lives.
struct RecordView {
  uint8_t flags = 0;  // only kFlagCompressed and unknown bits are taken from the caller on encode
  uint64_t seq = 0;
  uint64_t timestamp_ms = 0;
  ByteView key;
  ByteView headers;
  ByteView payload;   // the stored payload (a compression descriptor + stream when COMPRESSED)
  std::optional<ByteView> subject;     // v2, never written by this build's broker
  std::optional<ByteView> stream_tag;  // v2, never written by this build's broker
  // Set by DecodeRecord for an ENCRYPTED frame instead of key/headers/payload (which stay
  // empty, so nothing can mistake ciphertext for data): ciphertext || tag and the plaintext
  // lengths the header states. OpenRecord turns it into key/headers/payload.
  struct Sealed {
    ByteView bytes;
    uint32_t key_len = 0;
    uint32_t hdr_len = 0;
    uint32_t payload_len = 0;
  };
  std::optional<Sealed> sealed;
};

// What seals or opens one record body (spec/security.md 5.3, 5.4): the segment's suite, the
// key bytes (owned by a KeyRing that outlives the call), and the nonce inputs.
struct RecordCipher {
  AeadSuite suite = AeadSuite::kNone;
  const uint8_t* key = nullptr;  // kAeadKeySize bytes
  uint64_t segment_id = 0;
  uint32_t record_counter = 0;   // ordinal in the segment: seq - base_seq
};

// Owning copy, for tests and tools.
struct Record {
  uint8_t flags = 0;
  uint64_t seq = 0;
  uint64_t timestamp_ms = 0;
  Bytes key;
  Bytes headers;
  Bytes payload;
  std::optional<Bytes> subject;
  std::optional<Bytes> stream_tag;

  RecordView view() const;
  static Record FromView(const RecordView& v);
  friend bool operator==(const Record&, const Record&) = default;
};

// Typed parse outcomes (spec/storage.md 3.8). kTruncated means more bytes could complete the
// frame; every other non-ok outcome means the frame is corrupt.
enum class ParseOutcome : uint8_t {
  kOk = 0,
  kTruncated,
  kBadMagic,
  kUnsupportedVersion,
  kBadHeaderCrc,
  kBadLength,
  kTooLarge,
  kBadSubjectCrc,
  kBadStreamTagCrc,
  kBadBodyCrc,
  kBadXxh3,
};
std::string_view ParseOutcomeName(ParseOutcome outcome);

// True for outcomes found by the header-only probe (steps 1-7): recovery reports these as
// CorruptRecordHeader, the rest as CorruptRecordBody.
bool IsHeaderOutcome(ParseOutcome outcome);

// Size of the frame EncodeRecord would produce; InvalidArgument/OutOfRange when it cannot
// be encoded (a length over u32, total over 1 GiB, empty subject/tag, both present).
// `encrypted` adds the 16-byte AEAD tag.
Result<uint64_t> EncodedRecordSize(const RecordView& record, bool encrypted = false);

// Appends the frame to *out. Derives HAS_KEY, HAS_XXH3, HAS_SUBJECT, HAS_STREAM_TAG and
// ENCRYPTED (set iff `cipher`); keeps the caller's COMPRESSED and unknown bits. With a cipher
// the body is sealed after it is laid out (compression, if any, already happened: the payload
// given is the stored one), and body CRC and xxh3 cover ciphertext || tag.
Status EncodeRecord(const RecordView& record, Bytes* out, const RecordCipher* cipher = nullptr);

// Decrypts the sealed body of an ENCRYPTED record DecodeRecord returned. On success *plain
// holds key || headers || payload and *out is `sealed_view` with those views into *plain and
// `sealed` cleared. False when the tag fails (wrong key, forgery) or `sealed_view` is not
// sealed: *out is untouched and *plain holds no plaintext.
bool OpenRecord(const RecordView& sealed_view, const RecordCipher& cipher, Bytes* plain, RecordView* out);

struct ProbeResult {
  ParseOutcome outcome = ParseOutcome::kOk;
  uint64_t total_len = 0;       // valid when outcome == kOk
  uint8_t version = 0;          // the version byte seen (for kUnsupportedVersion messages)
};
// The header-only length probe (steps 1-7): needs the first 36 bytes, or 38 when a subject
// or stream-tag bit is set (kTruncated when fewer are given).
ProbeResult ProbeRecord(ByteView prefix);

struct DecodeResult {
  ParseOutcome outcome = ParseOutcome::kOk;
  uint64_t frame_len = 0;  // bytes consumed when outcome == kOk
  uint8_t version = 0;
};
// Full decode of the frame at the start of `in` (steps 1-13). On kOk, *out views into `in`.
DecodeResult DecodeRecord(ByteView in, RecordView* out);

}  // namespace ironbus::format
