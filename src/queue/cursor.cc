#include "queue/cursor.h"

#include <algorithm>
#include <limits>

namespace ironbus::queue {

Cursor Cursor::Restore(const format::CursorSnapshot& snapshot, uint64_t head, size_t max_runs) {
  Cursor c(std::min(snapshot.committed, head), max_runs);
  for (const auto& [start, end] : snapshot.acked_ahead) {
    // A range at or below the clamped watermark, or reaching past the head, would claim acks
    // for offsets the log may not hold any more (a power cut cut them): dropping it only
    // causes redelivery, keeping it could skip a record (I5b).
    if (start <= c.committed_ || end > head || start >= end) continue;
    c.Insert(start, end, /*enforce_cap=*/false);
  }
  return c;
}

Cursor::AckOutcome Cursor::Ack(uint64_t offset) {
  if (offset == std::numeric_limits<uint64_t>::max()) return AckOutcome::kRefused;
  if (IsAcked(offset)) return AckOutcome::kAlreadyAcked;
  return Insert(offset, offset + 1, /*enforce_cap=*/true);
}

bool Cursor::AckRange(uint64_t start, uint64_t end) {
  start = std::max(start, committed_);
  if (start >= end) return false;
  if (IsAcked(start) && NextUnacked(start) >= end) return false;
  Insert(start, end, /*enforce_cap=*/false);
  return true;
}

Cursor::AckOutcome Cursor::Insert(uint64_t start, uint64_t end, bool enforce_cap) {
  // First range that may overlap or touch [start, end): the one before `start` if it reaches it.
  auto it = ahead_.upper_bound(start);
  if (it != ahead_.begin()) {
    auto prev = std::prev(it);
    if (prev->second >= start) it = prev;
  }
  uint64_t new_start = start;
  uint64_t new_end = end;
  bool merged = false;
  while (it != ahead_.end() && it->first <= end) {
    new_start = std::min(new_start, it->first);
    new_end = std::max(new_end, it->second);
    it = ahead_.erase(it);
    merged = true;
  }
  if (new_start <= committed_) {
    committed_ = std::max(committed_, new_end);
    // Ranges are non-adjacent, so after absorbing the merged run no other range starts at the
    // new watermark; the check below keeps that true even for a caller's odd input.
    auto first = ahead_.begin();
    while (first != ahead_.end() && first->first <= committed_) {
      committed_ = std::max(committed_, first->second);
      first = ahead_.erase(first);
    }
    return AckOutcome::kAdvanced;
  }
  if (!merged && enforce_cap && max_runs_ != 0 && ahead_.size() >= max_runs_) return AckOutcome::kRefused;
  ahead_.emplace(new_start, new_end);
  return AckOutcome::kRecordedAhead;
}

bool Cursor::CommitUpTo(uint64_t up_to) {
  if (up_to <= committed_) return false;
  committed_ = up_to;
  auto it = ahead_.begin();
  // Drop ranges wholly below; a straddling or touching range is absorbed into the watermark.
  while (it != ahead_.end() && it->first <= committed_) {
    committed_ = std::max(committed_, it->second);
    it = ahead_.erase(it);
  }
  return true;
}

bool Cursor::IsAcked(uint64_t offset) const {
  if (offset < committed_) return true;
  auto it = ahead_.upper_bound(offset);
  if (it == ahead_.begin()) return false;
  --it;
  return offset < it->second;
}

uint64_t Cursor::NextUnacked(uint64_t offset) const {
  offset = std::max(offset, committed_);
  auto it = ahead_.upper_bound(offset);
  if (it == ahead_.begin()) return offset;
  --it;
  // Ranges never touch, so the end of the containing range is itself unacked.
  return offset < it->second ? it->second : offset;
}

std::vector<std::pair<uint64_t, uint64_t>> Cursor::ahead_ranges() const {
  return {ahead_.begin(), ahead_.end()};
}

format::CursorSnapshot Cursor::Snapshot() const {
  format::CursorSnapshot s;
  s.committed = committed_;
  s.acked_ahead = ahead_ranges();
  return s;
}

}  // namespace ironbus::queue
