// Segment header (64 bytes) and footer (32 bytes) codecs, spec/storage.md section 4.
// Layout in format/record_format.h. Pure code.
#pragma once

#include <cstdint>

#include "base/bytes.h"
#include "base/result.h"

namespace ironbus::format {

struct SegmentHeader {
  uint8_t version = 1;
  uint16_t flags = 0;
  uint64_t segment_id = 0;
  uint64_t base_seq = 0;
  uint64_t base_offset = 0;
  uint64_t created_unix_ms = 0;
  uint8_t reserved[16] = {};
  friend bool operator==(const SegmentHeader&, const SegmentHeader&) = default;
};

// The at-rest encryption fields of a header (spec/security.md 5.3): the SEGMENT_ENCRYPTED flag,
// aead_suite u8 at [44] and key_id u64 LE at [45, 53) of the reserved block. The header CRC
// covers them like every other header byte.
bool SegmentEncrypted(const SegmentHeader& h);
uint8_t SegmentAeadSuiteId(const SegmentHeader& h);  // raw byte, may be unknown to this build
uint64_t SegmentKeyId(const SegmentHeader& h);
// Sets the flag and the two fields (zeroing the rest of the reserved block).
void SetSegmentEncryption(SegmentHeader* h, uint8_t suite_id, uint64_t key_id);

struct SegmentFooter {
  uint8_t version = 1;
  uint64_t segment_id = 0;
  uint64_t last_seq = 0;  // base_seq for an empty segment
  uint32_t record_count = 0;
  friend bool operator==(const SegmentFooter&, const SegmentFooter&) = default;
};

enum class SegmentHeaderError : uint8_t {
  kOk = 0,
  kTruncated,           // fewer than 64 bytes
  kBadMagic,
  kUnsupportedVersion,  // any version/flag combination other than v1 without COMPACTED
  kCompacted,           // a reference v2 compacted segment: recognised, refused by this build
  kBadChecksumAlgo,
  kBadCrc,
};
std::string_view SegmentHeaderErrorName(SegmentHeaderError e);

void EncodeSegmentHeader(const SegmentHeader& h, uint8_t out[64]);
Bytes EncodeSegmentHeader(const SegmentHeader& h);
// Decode order: length, magic, version gate, checksum algo, CRC (spec 4.1). A compacted v2
// header with a valid CRC is kCompacted so the caller can fail closed with a clear message.
SegmentHeaderError DecodeSegmentHeader(ByteView in, SegmentHeader* out);

void EncodeSegmentFooter(const SegmentFooter& f, uint8_t out[32]);
Bytes EncodeSegmentFooter(const SegmentFooter& f);
// True when `in` (exactly the last 32 bytes) is a well-formed footer: magic, version 1,
// algo, CRC. A footer is only a candidate; the scan decides (spec 4.3).
bool DecodeSegmentFooter(ByteView in, SegmentFooter* out);

}  // namespace ironbus::format
