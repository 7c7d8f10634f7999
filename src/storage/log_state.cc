#include "storage/log_state.h"

#include "format/record_format.h"

namespace ironbus::storage {

uint64_t SegmentState::DurableRecordBytes() const {
  if (unreadable || valid_end <= format::kSegmentHeaderSize) return 0;
  uint64_t bytes = valid_end - format::kSegmentHeaderSize;
  for (const SkippedSpan& span : skipped) {
    // Spans lie inside [64, valid_end); clamp anyway so a malformed description can only
    // under-count, never wrap.
    if (span.byte_end <= span.byte_start) continue;
    const uint64_t len = span.byte_end - span.byte_start;
    bytes = len >= bytes ? 0 : bytes - len;
  }
  return bytes;
}

}  // namespace ironbus::storage
