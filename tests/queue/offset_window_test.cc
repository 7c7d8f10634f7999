// queue::OffsetWindow against std::map, the structure it replaced: same entries, same order,
// whatever mix of puts and erases runs; and its storage stays within the window it covers.
// RapidCheck prints the seed of a failing case (RC_PARAMS="seed=..." replays it).
#include "queue/offset_window.h"

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <map>
#include <vector>

namespace ironbus::queue {
namespace {

std::vector<std::pair<uint64_t, int>> Entries(const OffsetWindow<int>& w) {
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

RC_GTEST_PROP(OffsetWindowProperty, BehavesLikeAnOrderedMapOverAWindow, ()) {
  OffsetWindow<int> w;
  std::map<uint64_t, int> model;
  const uint64_t base = *rc::gen::inRange<uint64_t>(0, 1ull << 40);
  const int steps = *rc::gen::inRange(1, 400);
  for (int i = 0; i < steps; ++i) {
    const uint64_t o = base + *rc::gen::inRange<uint64_t>(0, 300);
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
    RC_ASSERT(w.capacity() <= 1024u);  // keys span at most 301 offsets
  }
  RC_ASSERT(Entries(w) == Entries(model));
}

}  // namespace
}  // namespace ironbus::queue
