// One readable segment: the footer rules (spec/storage.md 4.3, refined by DESIGN.md D1) around
// the scan (segment_scan.h), turned into a SegmentState and the loss events it implies.
// Internal to recovery; nothing here writes.
//
// Footer handling:
//   - A footer candidate (the last 32 bytes decode) naming this segment, whose end is
//     consistent with the next segment's base, is tested by scanning [64, len - 32). A clean
//     scan whose count and last seq match the footer: the segment is sealed and trusted.
//   - Same candidate but the scan is not clean: the segment is still sealed (never edited); the
//     scan resyncs within the footer's seq range and the footer's last_seq gives its end
//     offset, so the offsets of a damaged tail are known exactly.
//   - Otherwise (no candidate, a lying count, an end the chain contradicts): scan [64, len) as
//     unsealed. A footer naming another segment is damage, never a torn tail.
// Tail of the scan (no resync target):
//   - active (last, unsealed) segment: all-zero, short or a frame running past the end is a
//     TornTail (D2, not data loss); anything else is CorruptRecordHeader/Body. Either way the
//     file is to be cut at the tail start (the caller decides whether it may).
//   - any other segment: never edited; the tail becomes a SkippedSpan and a data-loss event.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "base/result.h"
#include "format/segment.h"
#include "io/file_system.h"
#include "recovery/loss_report.h"
#include "storage/log_state.h"

namespace ironbus::recovery {

struct PlannedEvent {
  LossEvent event;
  bool quarantine = false;  // copy [byte_offset_start, byte_offset_end) of the file first
  bool persistent = false;  // the span stays on disk (not a cut tail): it can be accepted
};

struct SegmentContext {
  uint64_t id = 0;
  format::SegmentHeader header;
  uint64_t file_len = 0;
  bool is_last = false;
  // Base offset of the next segment (by id) whose header is readable, when there is one.
  std::optional<uint64_t> next_base_offset;
  bool next_adjacent = false;  // that segment's id is id + 1 (no segment missing in between)
};

struct SegmentOutcome {
  storage::SegmentState state;  // as it will be after recovery (file_len after any cut)
  std::vector<PlannedEvent> events;
  std::optional<uint64_t> truncate_to;  // the active segment's tail is cut here
};

Result<SegmentOutcome> RecoverSegment(io::File* file, const SegmentContext& ctx);

}  // namespace ironbus::recovery
