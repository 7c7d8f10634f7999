// queue::CompactOffsetMap<T>: a map from log offset to T stored as one sorted vector, whose
// memory follows the number of entries, not the distance between them.
//
// Why: a member of a group holds at most its credit of leases (spec/consumers.md 4.2), but in
// a competing group with many members the offsets it holds are spread over the whole in-flight
// window, each member a few offsets out of every hundred. queue::OffsetWindow sizes itself by
// that span, so every member's table would grow to the window's width and a group's memory to
// members x max_in_flight slots, which the boot-time RAM ceiling does not count. Here a member
// costs its own entries only: at most 2 x its held count plus a few tombstones, rounded up by
// the vector's growth.
//
// Shape of the work: deliveries add offsets in ascending order (an append), a redelivery of a
// low offset inserts (rare, at most credit entries to move), acks erase mostly from the front.
// Erase leaves a tombstone; the vector is compacted when the tombstones outnumber the live
// entries, so erasing from the front costs O(1) amortized instead of a move per erase.
//
// Thread safety: none.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace ironbus::queue {

template <typename T>
class CompactOffsetMap {
 public:
  T* Find(uint64_t offset) {
    auto it = LowerBound(offset);
    return it != entries_.end() && it->offset == offset && it->live ? &it->value : nullptr;
  }
  const T* Find(uint64_t offset) const { return const_cast<CompactOffsetMap*>(this)->Find(offset); }

  // Inserts or replaces the entry at `offset`.
  T& Put(uint64_t offset, T value) {
    if (entries_.empty() || offset > entries_.back().offset) {
      ++live_;
      return entries_.emplace_back(Entry{offset, std::move(value), true}).value;
    }
    auto it = LowerBound(offset);
    if (it != entries_.end() && it->offset == offset) {
      if (!it->live) {
        it->live = true;
        ++live_;
        --dead_;
      }
      it->value = std::move(value);
      return it->value;
    }
    ++live_;
    return entries_.insert(it, Entry{offset, std::move(value), true})->value;
  }

  bool Erase(uint64_t offset) {
    auto it = LowerBound(offset);
    if (it == entries_.end() || it->offset != offset || !it->live) return false;
    Kill(*it);
    MaybeCompact();
    return true;
  }

  // Removes every entry below `watermark`.
  void EraseBelow(uint64_t watermark) {
    EraseIf([](uint64_t, const T&) { return true; }, watermark);
  }

  // Removes the entries `pred(offset, value)` selects, visiting in offset order below `end`.
  template <typename Pred>
  void EraseIf(Pred pred, uint64_t end = UINT64_MAX) {
    for (Entry& e : entries_) {
      if (e.offset >= end || live_ == 0) break;
      if (e.live && pred(e.offset, std::as_const(e.value))) Kill(e);
    }
    MaybeCompact();
  }

  // Visits the live entries in offset order.
  template <typename Fn>
  void ForEach(Fn fn) const {
    for (const Entry& e : entries_) {
      if (e.live) fn(e.offset, e.value);
    }
  }

  size_t size() const { return live_; }
  bool empty() const { return live_ == 0; }
  size_t capacity() const { return entries_.capacity(); }

 private:
  struct Entry {
    uint64_t offset = 0;
    T value{};
    bool live = false;
  };
  // Tombstones allowed beyond the live count before compacting (so a table of one or two
  // entries is not compacted on every erase).
  static constexpr size_t kSlackTombstones = 8;
  // A table that emptied keeps at most this many entries of storage.
  static constexpr size_t kKeepWhenEmpty = 64;

  typename std::vector<Entry>::iterator LowerBound(uint64_t offset) {
    return std::lower_bound(entries_.begin(), entries_.end(), offset,
                            [](const Entry& e, uint64_t o) { return e.offset < o; });
  }

  void Kill(Entry& e) {
    e.live = false;
    e.value = T{};
    --live_;
    ++dead_;
  }

  void MaybeCompact() {
    if (live_ == 0) {
      entries_.clear();
      dead_ = 0;
      if (entries_.capacity() > kKeepWhenEmpty) entries_.shrink_to_fit();
      return;
    }
    if (dead_ <= live_ + kSlackTombstones) return;
    std::erase_if(entries_, [](const Entry& e) { return !e.live; });
    dead_ = 0;
    // Storage follows the live count: after a burst, give back what a quarter could not use.
    if (entries_.capacity() > kKeepWhenEmpty && entries_.size() < entries_.capacity() / 4) {
      entries_.shrink_to_fit();
    }
  }

  std::vector<Entry> entries_;  // sorted by offset, unique; !live entries are tombstones
  size_t live_ = 0;
  size_t dead_ = 0;
};

}  // namespace ironbus::queue
