// LogState: the plain description of a data directory's segments that recovery produces and
// storage::Log opens. storage never includes recovery (STYLE.md section 1); this struct is the
// hand-off between them.
//
// Offsets never shift (DESIGN.md D1): a record's offset is
//   segment.base_offset + (record.seq - segment.base_seq),
// so a damaged span inside a segment leaves a hole in the offset space, described by a
// SkippedSpan. Readers step over holes; consumers see the next valid offset.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ironbus::storage {

// A byte range of a segment file that readers must skip: it failed its checks and was
// reported lost at open. Offsets [first_lost_offset, end_lost_offset) are missing from the log.
struct SkippedSpan {
  uint64_t byte_start = 0;  // inclusive, >= 64
  uint64_t byte_end = 0;    // exclusive; the first byte of the next valid frame or valid_end
  uint64_t first_lost_offset = 0;
  uint64_t end_lost_offset = 0;
};

// Every `kSparseIndexStrideBytes` of records, one (offset, byte position) anchor, so a reader
// can start near an offset instead of scanning the whole segment.
inline constexpr uint64_t kSparseIndexStrideBytes = 64 * 1024;
struct IndexAnchor {
  uint64_t offset = 0;
  uint64_t byte_pos = 0;  // start of the frame holding `offset`
};

struct SegmentState {
  uint64_t id = 0;
  uint64_t base_seq = 0;
  uint64_t base_offset = 0;
  // One past the last offset this segment covers, holes included. For the active segment it
  // is the next offset to assign when appends resume here.
  uint64_t end_offset = 0;
  uint64_t record_count = 0;    // valid records present (excludes holes)
  bool has_records = false;     // at least one valid record
  uint64_t last_seq = 0;        // seq of the last valid record; meaningful only with has_records
  int64_t max_timestamp_ms = 0; // of valid records; 0 when none
  uint64_t valid_end = 0;       // byte position where record bytes end (>= 64)
  uint64_t file_len = 0;        // bytes on disk (valid_end + 32 when a trusted footer follows)
  // Never appended to again. Every segment but the last is sealed: normally a trusted footer
  // follows valid_end; under D1 recovery also marks a damaged non-last segment sealed (its
  // footer may be gone), since nothing is ever written into it again. The last segment is
  // sealed only after a crash between seal and the next create (roll forward).
  bool sealed = false;
  // The header was unreadable: the whole file is skipped, [base_offset, end_offset) is lost
  // and nothing in it is served (base values are derived from the neighbours).
  bool unreadable = false;
  // At-rest encryption from the segment header (spec/security.md 5.3): kAeadSuiteNone (0) and
  // key id 0 for a plaintext segment. Readers open each record with this suite and key id.
  uint8_t aead_suite = 0;
  uint64_t key_id = 0;
  std::vector<SkippedSpan> skipped;  // ascending, disjoint, inside [64, valid_end)
  std::vector<IndexAnchor> index;    // ascending by offset; may be empty

  // Record bytes counted as durable data: valid_end - 64 minus skipped bytes.
  uint64_t DurableRecordBytes() const;
};

struct LogState {
  std::string dir;
  std::vector<SegmentState> segments;  // ascending id; the last one is the active segment
  uint64_t next_offset = 0;            // the durable head: offset the next append gets
  uint64_t next_seq = 0;
  // Recovery found loss over a cap (or another reason to stop writing): the log serves reads
  // and refuses appends with FailedPrecondition until `repair --apply` (DESIGN.md D1).
  bool frozen = false;
  std::string frozen_reason;
  // The active segment must be created (fresh directory, or roll-forward after a seal).
  bool needs_new_active_segment = false;
};

}  // namespace ironbus::storage
