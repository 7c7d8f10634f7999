// The segment scan (spec/storage.md 6.2) with resynchronization (DESIGN.md D1).
//
// Walks frames of one segment file over [start, end), one frame in memory at a time (bounded by
// the bytes left and format::kMaxRecordBytesCeiling). At a frame that fails at byte p it looks
// for the next position q > p holding a record that
//   - starts with the bytes 42 49 01 (magic, version 1: a cheap pre-filter),
//   - passes its header CRC and its full decode (body CRC, lengths, xxh3),
//   - has a seq greater than the last good seq (at least base_seq when none yet) and below
//     `resync_seq_limit` (the segment's known end), and
//   - is followed by a frame that decodes with seq + 1, or ends exactly at `end`, or is followed
//     by a torn tail (fewer than 36 bytes, or an intact header whose frame runs past `end`) or
//     by bytes that are all zero up to `end`.
// The skipped bytes [p, q) become one span; the seqs between the two good records are lost,
// exactly. A CRC-valid frame whose seq jumps forward and that passes the same rule with no
// damaged bytes before it is a sequence gap (a span of 0 bytes). A CRC-valid frame with a seq
// the segment cannot hold (not above the last good one) is damage, part of a span.
// The rule is a pure function of the bytes (I4): no clock, no randomness.
//
// When no record after p passes, [p, end) is the tail; the caller decides what it means (torn
// tail of the active segment, damage of a sealed one), from `tail_kind`.
//
// Thread safety: ScanSegment uses only its arguments; `file` must allow ReadAt.
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

#include "base/result.h"
#include "io/file_system.h"
#include "recovery/loss_report.h"
#include "storage/log_state.h"

namespace ironbus::recovery {

struct ScanParams {
  uint64_t base_seq = 0;
  uint64_t base_offset = 0;
  uint64_t start = 0;  // first byte of record data (64)
  uint64_t end = 0;    // scan end: file length, or file length - 32 when a footer is tested
  // Resync targets and sequence-gap frames must have seq < resync_seq_limit (the next segment's
  // base in this segment's seq space, or the footer's end). In-sequence frames are accepted
  // without it; the caller checks the chain afterwards.
  uint64_t resync_seq_limit = std::numeric_limits<uint64_t>::max();
  // The segment header's SEGMENT_ENCRYPTED bit: every frame must carry the record ENCRYPTED
  // flag exactly when it is set; a frame that disagrees is a bad-length (body) rejection
  // (spec/security.md 5.3). The scan never decrypts: tags are checked by segment_auth.h.
  bool encrypted = false;
};

// A resynchronized span or a sequence gap inside the scanned range.
struct ScanSpan {
  uint64_t byte_start = 0;
  uint64_t byte_end = 0;  // the first byte of the record the scan resumed at
  LossReason reason = LossReason::kCorruptRecordBody;
  uint64_t first_lost_seq = 0;  // [first, end) in seq space; exact
  uint64_t end_lost_seq = 0;
};

enum class TailKind : uint8_t {
  kNone = 0,       // the last good frame ends exactly at `end`
  kZero,           // [tail_start, end) is all zero
  kShort,          // fewer bytes than a record header left
  kPastEnd,        // an intact header whose frame runs past `end`
  kCorruptHeader,  // the frame at tail_start fails in its header (or has a seq out of place)
  kCorruptBody,    // the frame at tail_start fails in its body
};

struct SegmentScan {
  uint64_t record_count = 0;
  bool has_records = false;
  uint64_t last_seq = 0;    // of the last good record, when has_records
  uint64_t next_seq = 0;    // last_seq + 1, or base_seq when no record
  int64_t max_timestamp_ms = 0;
  uint64_t data_end = 0;    // end of the last good frame (or `start`)
  std::vector<ScanSpan> spans;
  TailKind tail_kind = TailKind::kNone;
  uint64_t tail_start = 0;  // == data_end; tail is [tail_start, end) when tail_kind != kNone
  std::vector<storage::IndexAnchor> index;

  bool clean() const { return spans.empty() && tail_kind == TailKind::kNone; }
};

// IOError when a read fails; FailedPrecondition when a frame with a valid header CRC carries a
// record version this build does not know (reference data we must not call corruption, D3).
Result<SegmentScan> ScanSegment(io::File* file, const ScanParams& params);

// For a file whose segment header is unreadable: every CRC-valid frame found anywhere in
// [0, end) (no seq rule). Used to bound the offsets the file may have held.
struct FrameCensus {
  uint64_t frames = 0;
  bool has_max = false;
  uint64_t max_seq = 0;
  uint64_t max_seq_frame_end = 0;  // byte after the frame holding max_seq
};
Result<FrameCensus> CensusFrames(io::File* file, uint64_t end);

}  // namespace ironbus::recovery
