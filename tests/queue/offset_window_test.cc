// queue::OffsetWindow and queue::CompactOffsetMap against std::map, the structure they
// replaced: same entries, same order, whatever mix of puts and erases runs; OffsetWindow's
// storage stays within the window it covers, CompactOffsetMap's follows its entry count.
// RapidCheck prints the seed of a failing case (RC_PARAMS="seed=..." replays it).
#include "queue/offset_window.h"

#include "queue/compact_offset_map.h"

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <map>
#include <vector>

namespace ironbus::queue {
namespace {

template <typename Table>
std::vector<std::pair<uint64_t, int>> Entries(const Table& w) {
  std::vector<std::pair<uint64_t, int>> out;
  w.ForEach([&](uint64_t o, const int& v) { out.emplace_back(o, v); });
  return out;
}

std::vector<std::pair<uint64_t, int>> Entries(const std::map<uint64_t, int>& m) {
  return {m.begin(), m.end()};
}

TEST(OffsetWindow, PutFindEraseInsideAndAroundTheWindow) {
  OffsetWindow<int> w;
  EXPECT_EQ(w.Find(5), nullptr);
  w.Put(10, 1);
  w.Put(12, 2);
  w.Put(7, 3);  // below the lowest: the window grows downward
  EXPECT_EQ(w.size(), 3u);
  EXPECT_EQ(*w.Find(7), 3);
  EXPECT_EQ(w.Find(8), nullptr);
  EXPECT_EQ(w.Find(13), nullptr);
  w.Put(12, 4);  // replaces
  EXPECT_EQ(w.size(), 3u);
  EXPECT_EQ(*w.Find(12), 4);
  EXPECT_FALSE(w.Erase(8));
  EXPECT_TRUE(w.Erase(7));
  EXPECT_FALSE(w.Erase(7));
  w.EraseBelow(12);
  EXPECT_EQ(Entries(w), (std::vector<std::pair<uint64_t, int>>{{12, 4}}));
  w.EraseIf([](uint64_t, const int& v) { return v == 4; });
  EXPECT_TRUE(w.empty());
  EXPECT_EQ(w.Find(12), nullptr);
  w.Put(1'000'000, 5);  // an empty table starts a new window anywhere
  EXPECT_EQ(*w.Find(1'000'000), 5);
}

TEST(OffsetWindow, StorageFollowsTheSpanAndIsGivenBackWhenEmpty) {
  OffsetWindow<int> w;
  // A sliding window of 1,000 live entries over a million offsets reuses its slots.
  for (uint64_t o = 0; o < 1'000'000; ++o) {
    w.Put(o, 1);
    if (o >= 1000) {
      ASSERT_TRUE(w.Erase(o - 1000));
    }
  }
  EXPECT_EQ(w.size(), 1000u);
  EXPECT_EQ(w.capacity(), 1024u);
  // One straggler far below keeps the span (and so the storage) as wide as the distance.
  w.Put(999'000 - 5000, 1);
  EXPECT_EQ(w.capacity(), 8192u);
  w.EraseBelow(UINT64_MAX);
  EXPECT_TRUE(w.empty());
  EXPECT_EQ(w.capacity(), 0u);  // more than kKeepWhenEmpty slots: freed
}

// Random puts and erases on `w` and on a std::map; keys are one of 301 offsets `stride` apart
// from a random base. After every step both agree and `w`'s storage is at most `max_capacity`.
template <typename Table>
void CheckAgainstMap(uint64_t stride, size_t max_capacity) {
  Table w;
  std::map<uint64_t, int> model;
  const uint64_t base = *rc::gen::inRange<uint64_t>(0, 1ull << 40);
  const int steps = *rc::gen::inRange(1, 400);
  for (int i = 0; i < steps; ++i) {
    const uint64_t o = base + *rc::gen::inRange<uint64_t>(0, 301) * stride;
    switch (*rc::gen::inRange(0, 5)) {
      case 0:
      case 1: {
        const int v = *rc::gen::arbitrary<int>();
        w.Put(o, v);
        model[o] = v;
        break;
      }
      case 2:
        RC_ASSERT(w.Erase(o) == (model.erase(o) == 1));
        break;
      case 3:
        w.EraseBelow(o);
        model.erase(model.begin(), model.lower_bound(o));
        break;
      case 4: {
        const int parity = *rc::gen::inRange(0, 2);
        w.EraseIf([&](uint64_t key, const int&) { return static_cast<int>(key % 2) == parity; });
        std::erase_if(model, [&](const auto& e) { return static_cast<int>(e.first % 2) == parity; });
        break;
      }
    }
    RC_ASSERT(w.size() == model.size());
    const int* found = w.Find(o);
    auto it = model.find(o);
    RC_ASSERT((found == nullptr) == (it == model.end()));
    if (found != nullptr) RC_ASSERT(*found == it->second);
    RC_ASSERT(w.capacity() <= max_capacity);
  }
  RC_ASSERT(Entries(w) == Entries(model));
}

RC_GTEST_PROP(OffsetWindowProperty, BehavesLikeAnOrderedMapOverAWindow, ()) {
  CheckAgainstMap<OffsetWindow<int>>(1, 1024);  // keys span at most 301 offsets
}

RC_GTEST_PROP(CompactOffsetMapProperty, BehavesLikeAnOrderedMapWhateverTheSpread, ()) {
  // Storage follows the entries (at most 301 distinct keys), never how far apart they are.
  const uint64_t stride = *rc::gen::element<uint64_t>(1, 7, 1'000'000);
  CheckAgainstMap<CompactOffsetMap<int>>(stride, 1024);
}

TEST(CompactOffsetMap, PutFindEraseAndInsertBelow) {
  CompactOffsetMap<int> m;
  EXPECT_EQ(m.Find(5), nullptr);
  m.Put(10, 1);
  m.Put(12, 2);
  m.Put(7, 3);  // below the lowest: an insert
  m.Put(11, 6);  // between two: an insert
  EXPECT_EQ(m.size(), 4u);
  EXPECT_EQ(*m.Find(7), 3);
  EXPECT_EQ(*m.Find(11), 6);
  EXPECT_EQ(m.Find(8), nullptr);
  m.Put(12, 4);  // replaces
  EXPECT_EQ(*m.Find(12), 4);
  EXPECT_TRUE(m.Erase(11));
  EXPECT_FALSE(m.Erase(11));
  EXPECT_EQ(m.Find(11), nullptr);
  m.Put(11, 9);  // revives the tombstone
  EXPECT_EQ(*m.Find(11), 9);
  m.EraseBelow(12);
  EXPECT_EQ(Entries(m), (std::vector<std::pair<uint64_t, int>>{{12, 4}}));
  m.EraseIf([](uint64_t, const int& v) { return v == 4; });
  EXPECT_TRUE(m.empty());
  m.Put(1'000'000, 5);
  EXPECT_EQ(*m.Find(1'000'000), 5);
}

// The case OffsetWindow handles badly: 64 held offsets spread over a window a million wide
// (one member of many in a competing group). Storage is the 64 entries, not the span.
TEST(CompactOffsetMap, StorageFollowsTheEntriesNotTheirSpread) {
  CompactOffsetMap<int> m;
  for (uint64_t round = 0; round < 1000; ++round) {
    for (uint64_t i = 0; i < 64; ++i) m.Put(round * 64'000 + i * 1000, 1);
    for (uint64_t i = 0; i < 64; ++i) ASSERT_TRUE(m.Erase(round * 64'000 + i * 1000));  // acks, oldest first
  }
  EXPECT_TRUE(m.empty());
  EXPECT_LE(m.capacity(), 64u);
  for (uint64_t i = 0; i < 64; ++i) m.Put(i * 16'000, 1);
  EXPECT_EQ(m.size(), 64u);
  EXPECT_LE(m.capacity(), 128u);
  OffsetWindow<int> w;  // the same entries in a ring: the span decides
  for (uint64_t i = 0; i < 64; ++i) w.Put(i * 16'000, 1);
  EXPECT_GE(w.capacity(), 1'000'000u);
}

// Acks from the front leave tombstones that are compacted away in bulk: the live entries stay
// in order and the storage does not creep while a window slides a long way.
TEST(CompactOffsetMap, ASlidingWindowOfAcksKeepsStorageBounded) {
  CompactOffsetMap<int> m;
  for (uint64_t o = 0; o < 1'000'000; ++o) {
    m.Put(o, static_cast<int>(o));
    if (o >= 256) {
      ASSERT_TRUE(m.Erase(o - 256));
    }
  }
  EXPECT_EQ(m.size(), 256u);
  EXPECT_LE(m.capacity(), 1024u);
  EXPECT_EQ(*m.Find(999'999), 999'999);
  EXPECT_EQ(m.Find(999'743), nullptr);
  EXPECT_EQ(*m.Find(999'744), 999'744);
}

}  // namespace
}  // namespace ironbus::queue
