// queue::Cursor: the committed watermark of one consumer group plus its acked-ahead set
// (spec/consumers.md section 6; persisted form in format/checkpoint.h, spec/storage.md 7.2).
//
//   committed   every offset below it is acked; the next offset a resumed consumer starts at.
//   ahead       offsets at or above `committed` acked out of order, kept as half-open ranges
//               that are sorted, disjoint, non-adjacent, and each start strictly above
//               `committed` (a range starting at the watermark is absorbed at once).
//
// The watermark only moves over a contiguous acked prefix: ack 1, ack 2 leave committed at 0;
// ack 0 then moves it to 3. It never moves backwards (CommitUpTo below it is a no-op).
//
// Bounded fragmentation: with max_runs != 0, an ack that would open a new disjoint range while
// max_runs ranges exist is refused (the offset stays unacked and redelivers: a bounded
// duplicate, never a loss). Acks at the watermark and acks that touch a neighbour are always
// taken. With max_runs == 0 the set is bounded by the group's in-flight window instead.
//
// Pure value type: no I/O, no clock. Thread safety: none; the owning Group serializes calls.
#pragma once

#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include "format/checkpoint.h"

namespace ironbus::queue {

class Cursor {
 public:
  enum class AckOutcome : uint8_t {
    kAdvanced,       // the watermark moved
    kRecordedAhead,  // stored (or merged) as an ahead range; the watermark did not move
    kAlreadyAcked,   // below the watermark or inside an ahead range: no change
    kRefused,        // u64::MAX (would overflow a range end) or the max_runs cap
  };

  explicit Cursor(uint64_t committed = 0, size_t max_runs = 0) : committed_(committed), max_runs_(max_runs) {}

  // Restores a persisted snapshot against the log as it is now (spec 7.2, I5b "may lag, never
  // lead"): committed = min(snapshot, head); an ahead range is kept only when it starts
  // strictly above that and ends at or below `head`.
  static Cursor Restore(const format::CursorSnapshot& snapshot, uint64_t head, size_t max_runs = 0);

  AckOutcome Ack(uint64_t offset);
  // Marks [start, end) acked, merging as needed (used to step over offsets the log no longer
  // holds, D1 holes). Never refused by max_runs. Returns true if anything changed.
  bool AckRange(uint64_t start, uint64_t end);
  // Cumulative commit (spec 3.4 step 4): committed = up_to, ranges wholly below dropped, a
  // straddling range clipped and absorbed. False (no change) when up_to <= committed.
  bool CommitUpTo(uint64_t up_to);

  bool IsAcked(uint64_t offset) const;
  // The lowest offset >= `offset` that is not acked.
  uint64_t NextUnacked(uint64_t offset) const;

  uint64_t committed() const { return committed_; }
  std::vector<std::pair<uint64_t, uint64_t>> ahead_ranges() const;
  size_t ahead_run_count() const { return ahead_.size(); }
  // Every range for the snapshot; the encoder keeps the lowest that fit its 64-byte slot.
  format::CursorSnapshot Snapshot() const;

 private:
  // Inserts [start, end) (start > committed_ assumed handled by the caller), merging with
  // overlapping or adjacent ranges; absorbs into the watermark when it starts there.
  AckOutcome Insert(uint64_t start, uint64_t end, bool enforce_cap);

  uint64_t committed_;
  size_t max_runs_;
  std::map<uint64_t, uint64_t> ahead_;  // start -> end (exclusive)
};

}  // namespace ironbus::queue
