// Segment header and footer codecs (spec/storage.md 4.1, 4.2).
//
// The header decode order is fixed by the spec: length, magic, version gate, checksum algo,
// CRC. A compacted v2 header is recognised only once its algo and CRC are good, so a damaged
// header is never mistaken for a foreign-but-valid one.
//
// The footer decoder only says "well-formed"; whether the segment is sealed is decided by the
// scan that must agree with it (spec 4.3), which lives in recovery.

#include "format/segment.h"

#include <cstring>

#include "format/crc32c.h"
#include "format/record_format.h"

namespace ironbus::format {

std::string_view SegmentHeaderErrorName(SegmentHeaderError e) {
  switch (e) {
    case SegmentHeaderError::kOk: return "Ok";
    case SegmentHeaderError::kTruncated: return "Truncated";
    case SegmentHeaderError::kBadMagic: return "BadMagic";
    case SegmentHeaderError::kUnsupportedVersion: return "UnsupportedVersion";
    case SegmentHeaderError::kCompacted: return "Compacted";
    case SegmentHeaderError::kBadChecksumAlgo: return "BadChecksumAlgo";
    case SegmentHeaderError::kBadCrc: return "BadCrc";
  }
  return "Unknown";
}

bool SegmentEncrypted(const SegmentHeader& h) { return (h.flags & kSegmentFlagEncrypted) != 0; }

uint8_t SegmentAeadSuiteId(const SegmentHeader& h) { return h.reserved[kSegmentOffAeadSuite - kSegmentOffReserved]; }

uint64_t SegmentKeyId(const SegmentHeader& h) { return DecodeFixed64(h.reserved + (kSegmentOffKeyId - kSegmentOffReserved)); }

void SetSegmentEncryption(SegmentHeader* h, uint8_t suite_id, uint64_t key_id) {
  h->flags |= kSegmentFlagEncrypted;
  std::memset(h->reserved, 0, sizeof(h->reserved));
  h->reserved[kSegmentOffAeadSuite - kSegmentOffReserved] = suite_id;
  EncodeFixed64(h->reserved + (kSegmentOffKeyId - kSegmentOffReserved), key_id);
}

void EncodeSegmentHeader(const SegmentHeader& h, uint8_t out[kSegmentHeaderSize]) {
  std::memcpy(out + kSegmentOffMagic, kSegmentMagic, sizeof(kSegmentMagic));
  out[kSegmentOffVersion] = h.version;
  out[kSegmentOffChecksumAlgo] = kChecksumAlgoCrc32c;
  EncodeFixed16(out + kSegmentOffFlags, h.flags);
  EncodeFixed64(out + kSegmentOffId, h.segment_id);
  EncodeFixed64(out + kSegmentOffBaseSeq, h.base_seq);
  EncodeFixed64(out + kSegmentOffBaseOffset, h.base_offset);
  EncodeFixed64(out + kSegmentOffCreated, h.created_unix_ms);
  std::memcpy(out + kSegmentOffReserved, h.reserved, kSegmentReservedSize);
  EncodeFixed32(out + kSegmentOffHeaderCrc, crc32c::Value(out, kSegmentHeaderCrcCoverage));
}

Bytes EncodeSegmentHeader(const SegmentHeader& h) {
  Bytes out(kSegmentHeaderSize);
  EncodeSegmentHeader(h, out.data());
  return out;
}

SegmentHeaderError DecodeSegmentHeader(ByteView in, SegmentHeader* out) {
  if (in.size() < kSegmentHeaderSize) return SegmentHeaderError::kTruncated;
  const uint8_t* p = in.data();
  if (std::memcmp(p + kSegmentOffMagic, kSegmentMagic, sizeof(kSegmentMagic)) != 0) {
    return SegmentHeaderError::kBadMagic;
  }
  const uint8_t version = p[kSegmentOffVersion];
  const uint16_t flags = DecodeFixed16(p + kSegmentOffFlags);
  const bool compacted_bit = (flags & kSegmentFlagCompacted) != 0;
  // Version gate: v1 never carries COMPACTED; v2 exists only with it. Every other pairing
  // (v2 without the bit, v1 with it, v3+) is a layout this reader does not know.
  bool compacted = false;
  if (version == kSegmentVersion && !compacted_bit) {
    compacted = false;
  } else if (version == kSegmentVersionCompacted && compacted_bit) {
    compacted = true;
  } else {
    return SegmentHeaderError::kUnsupportedVersion;
  }
  if (p[kSegmentOffChecksumAlgo] != kChecksumAlgoCrc32c) return SegmentHeaderError::kBadChecksumAlgo;
  if (crc32c::Value(p, kSegmentHeaderCrcCoverage) != DecodeFixed32(p + kSegmentOffHeaderCrc)) {
    return SegmentHeaderError::kBadCrc;
  }
  out->version = version;
  out->flags = flags;
  out->segment_id = DecodeFixed64(p + kSegmentOffId);
  out->base_seq = DecodeFixed64(p + kSegmentOffBaseSeq);
  out->base_offset = DecodeFixed64(p + kSegmentOffBaseOffset);
  out->created_unix_ms = DecodeFixed64(p + kSegmentOffCreated);
  std::memcpy(out->reserved, p + kSegmentOffReserved, kSegmentReservedSize);
  // Filled in either case so the caller can name the segment in its "compacted log not
  // supported" error.
  return compacted ? SegmentHeaderError::kCompacted : SegmentHeaderError::kOk;
}

void EncodeSegmentFooter(const SegmentFooter& f, uint8_t out[kSegmentFooterSize]) {
  EncodeFixed16(out + kFooterOffMagic, kFooterMagic);
  out[kFooterOffVersion] = f.version;
  out[kFooterOffChecksumAlgo] = kChecksumAlgoCrc32c;
  EncodeFixed64(out + kFooterOffSegmentId, f.segment_id);
  EncodeFixed64(out + kFooterOffLastSeq, f.last_seq);
  EncodeFixed32(out + kFooterOffRecordCount, f.record_count);
  EncodeFixed32(out + kFooterOffReserved, 0);
  EncodeFixed32(out + kFooterOffCrc, crc32c::Value(out, kFooterCrcCoverage));
}

Bytes EncodeSegmentFooter(const SegmentFooter& f) {
  Bytes out(kSegmentFooterSize);
  EncodeSegmentFooter(f, out.data());
  return out;
}

bool DecodeSegmentFooter(ByteView in, SegmentFooter* out) {
  // A footer is the last 32 bytes; accept a longer view (for example the whole file) and look
  // at its tail, so a caller cannot read a footer from the wrong place by passing extra bytes.
  if (in.size() < kSegmentFooterSize) return false;
  const uint8_t* p = in.data() + (in.size() - kSegmentFooterSize);
  if (DecodeFixed16(p + kFooterOffMagic) != kFooterMagic) return false;
  // Only v1 footers are candidates here: a v2 footer belongs to a compacted segment, which
  // this build refuses from its header.
  if (p[kFooterOffVersion] != kSegmentVersion) return false;
  if (p[kFooterOffChecksumAlgo] != kChecksumAlgoCrc32c) return false;
  if (crc32c::Value(p, kFooterCrcCoverage) != DecodeFixed32(p + kFooterOffCrc)) return false;
  out->version = p[kFooterOffVersion];
  out->segment_id = DecodeFixed64(p + kFooterOffSegmentId);
  out->last_seq = DecodeFixed64(p + kFooterOffLastSeq);
  out->record_count = DecodeFixed32(p + kFooterOffRecordCount);
  return true;
}

}  // namespace ironbus::format
