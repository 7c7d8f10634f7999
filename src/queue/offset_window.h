// queue::OffsetWindow<T>: a map from log offset to T for keys that all lie inside one sliding
// window of offsets, stored flat in a ring instead of one tree node per entry.
//
// Why: a group's leases are keyed by offsets inside the group's in-flight window
// [committed, committed + max_in_flight) (spec/consumers.md 4.1), are added roughly in offset
// order and removed mostly from the bottom. A std::map paid an allocation, a free and a
// rebalance per delivered record; here a lookup is one index and the storage is reused as the
// window slides.
//
// Memory: capacity is the smallest power of two covering the span from the lowest to the
// highest live key. Every lease lies inside the in-flight window, so the table never has more
// than 2 * max_in_flight slots; a full window costs less than the tree nodes it replaces (a
// lease slot is 56 bytes, against about 180 for the three nodes a lease took), a sparse one
// more. A table that empties gives large storage back. Keys that may lie far apart for their
// number (a member's held leases) belong in a CompactOffsetMap instead.
//
// Thread safety: none.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace ironbus::queue {

template <typename T>
class OffsetWindow {
 public:
  T* Find(uint64_t offset) {
    if (!Covers(offset)) return nullptr;
    Slot& s = SlotOf(offset);
    return s.live ? &s.value : nullptr;
  }
  const T* Find(uint64_t offset) const { return const_cast<OffsetWindow*>(this)->Find(offset); }

  // Inserts or replaces the entry at `offset`.
  T& Put(uint64_t offset, T value) {
    if (live_ == 0) {
      Reserve(1);
      base_ = offset;
      span_ = 1;
    } else if (offset < base_) {
      Reserve(base_ + span_ - offset);
      span_ += base_ - offset;
      base_ = offset;
    } else if (offset >= base_ + span_) {
      Reserve(offset - base_ + 1);
      span_ = offset - base_ + 1;
    }
    Slot& s = SlotOf(offset);
    if (!s.live) ++live_;
    s.live = true;
    s.value = std::move(value);
    return s.value;
  }

  bool Erase(uint64_t offset) {
    if (!Covers(offset)) return false;
    Slot& s = SlotOf(offset);
    if (!s.live) return false;
    Kill(s);
    Trim();
    return true;
  }

  // Removes every entry below `watermark`.
  void EraseBelow(uint64_t watermark) {
    EraseIf([&](uint64_t offset, const T&) { return offset < watermark; }, watermark);
  }

  // Removes the entries `pred(offset, value)` selects, visiting in offset order below `end`.
  template <typename Pred>
  void EraseIf(Pred pred, uint64_t end = UINT64_MAX) {
    const uint64_t stop = base_ + span_;
    for (uint64_t o = base_; o < stop && o < end && live_ > 0; ++o) {
      Slot& s = SlotOf(o);
      if (s.live && pred(o, std::as_const(s.value))) Kill(s);
    }
    Trim();
  }

  // Visits the live entries in offset order.
  template <typename Fn>
  void ForEach(Fn fn) const {
    for (uint64_t o = base_; o < base_ + span_; ++o) {
      const Slot& s = slots_[o & mask_];
      if (s.live) fn(o, s.value);
    }
  }

  size_t size() const { return live_; }
  bool empty() const { return live_ == 0; }
  size_t capacity() const { return slots_.size(); }

 private:
  struct Slot {
    T value{};
    bool live = false;
  };
  // A table that emptied keeps at most this many slots (reused by the next window).
  static constexpr size_t kKeepWhenEmpty = 1024;

  bool Covers(uint64_t offset) const { return live_ > 0 && offset >= base_ && offset - base_ < span_; }
  Slot& SlotOf(uint64_t offset) { return slots_[offset & mask_]; }

  void Kill(Slot& s) {
    s.live = false;
    s.value = T{};
    --live_;
  }

  // Drops dead slots from both ends so base_ and the last slot are live (or the table is empty).
  void Trim() {
    if (live_ == 0) {
      span_ = 0;
      if (slots_.size() > kKeepWhenEmpty) {
        slots_.clear();
        slots_.shrink_to_fit();
        mask_ = 0;
      }
      return;
    }
    while (!SlotOf(base_).live) {
      ++base_;
      --span_;
    }
    while (!SlotOf(base_ + span_ - 1).live) --span_;
  }

  // Makes room for a span of `span` offsets starting at base_ (or at the new base below it).
  void Reserve(uint64_t span) {
    if (span <= slots_.size()) return;
    const size_t capacity = std::bit_ceil(static_cast<size_t>(span));
    std::vector<Slot> grown(capacity);
    const uint64_t mask = capacity - 1;
    for (uint64_t o = base_; o < base_ + span_; ++o) {
      Slot& s = slots_[o & mask_];
      if (s.live) grown[o & mask] = std::move(s);
    }
    slots_ = std::move(grown);
    mask_ = mask;
  }

  std::vector<Slot> slots_;  // size is 0 or a power of two; offset o lives at o & mask_
  uint64_t mask_ = 0;
  uint64_t base_ = 0;  // lowest live offset (when live_ > 0)
  uint64_t span_ = 0;  // highest live offset - base_ + 1 (when live_ > 0)
  size_t live_ = 0;
};

}  // namespace ironbus::queue
