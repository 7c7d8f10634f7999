// The metadata prefix a dead-letter record carries in its headers blob (spec/consumers.md 8.3,
// layout in format/record_format.h). This build writes DLQ1 and reads DLQ1 and DLQ2.
#pragma once

#include <cstdint>
#include <optional>

#include "base/bytes.h"
#include "base/result.h"

namespace ironbus::format {

struct DlqHeader {
  uint64_t source_offset = 0;  // offset of the poison record in the main log
  uint32_t attempt = 0;        // delivery count when it was dead-lettered
  uint8_t reason = 0;          // DLQ2 only; DLQ1 reads as kDlqReasonMaxDeliver
  ByteView group;              // views into the parsed blob
  ByteView original_headers;
};

// DLQ1 prefix + original headers. InvalidArgument when the group or headers exceed u16.
Result<Bytes> EncodeDlqHeaders(uint64_t source_offset, uint32_t attempt, ByteView group, ByteView original_headers);

// nullopt: not a DLQ record (unknown magic, unknown DLQ2 reason, or a length that does not
// add up exactly); such records are skipped on read, never misreported.
std::optional<DlqHeader> DecodeDlqHeaders(ByteView headers_blob);

}  // namespace ironbus::format
