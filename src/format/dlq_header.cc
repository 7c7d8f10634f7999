#include "format/dlq_header.h"

#include <cstring>
#include <limits>

#include "format/record_format.h"

namespace ironbus::format {

Result<Bytes> EncodeDlqHeaders(uint64_t source_offset, uint32_t attempt, ByteView group, ByteView original_headers) {
  if (group.size() > std::numeric_limits<uint16_t>::max() ||
      original_headers.size() > std::numeric_limits<uint16_t>::max()) {
    return Status::InvalidArgument("dead-letter group or headers longer than 65535 bytes");
  }
  Bytes out;
  out.reserve(kDlqPrefixSizeV1 + group.size() + original_headers.size());
  out.insert(out.end(), kDlqMagicV1, kDlqMagicV1 + 4);
  PutFixed64(&out, source_offset);
  PutFixed32(&out, attempt);
  PutFixed16(&out, static_cast<uint16_t>(group.size()));
  PutFixed16(&out, static_cast<uint16_t>(original_headers.size()));
  PutBytes(&out, group);
  PutBytes(&out, original_headers);
  return out;
}

std::optional<DlqHeader> DecodeDlqHeaders(ByteView blob) {
  if (blob.size() < kDlqPrefixSizeV1) return std::nullopt;
  DlqHeader h;
  size_t pos = 4;
  if (std::memcmp(blob.data(), kDlqMagicV2, 4) == 0) {
    if (blob.size() < kDlqPrefixSizeV2) return std::nullopt;
    h.reason = blob[pos++];
    if (h.reason > kDlqReasonRejected) return std::nullopt;
  } else if (std::memcmp(blob.data(), kDlqMagicV1, 4) != 0) {
    return std::nullopt;
  }
  h.source_offset = DecodeFixed64(blob.data() + pos);
  h.attempt = DecodeFixed32(blob.data() + pos + 8);
  const uint16_t group_len = DecodeFixed16(blob.data() + pos + 12);
  const uint16_t headers_len = DecodeFixed16(blob.data() + pos + 14);
  pos += 16;
  // The blob must be exactly prefix + group + headers: anything else is foreign.
  if (blob.size() != pos + group_len + headers_len) return std::nullopt;
  h.group = blob.subspan(pos, group_len);
  h.original_headers = blob.subspan(pos + group_len, headers_len);
  return h;
}

}  // namespace ironbus::format
