#include "server/strand_hand_off.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace ironbus::server {
namespace {

TEST(StrandHandOff, OnlyThePushThatFindsTheListEmptyAsksForADrain) {
  StrandHandOff<int> hand_off;
  EXPECT_TRUE(hand_off.Push(1));
  EXPECT_FALSE(hand_off.Push(2));
  EXPECT_FALSE(hand_off.Push(3));
  std::vector<int> seen;
  hand_off.Drain([&](int& v) { seen.push_back(v); });
  EXPECT_EQ(seen, (std::vector<int>{1, 2, 3}));
  EXPECT_TRUE(hand_off.Push(4)) << "after a drain the next push must post the next drain";
}

TEST(StrandHandOff, AnItemPushedWhileDrainingGoesToTheNextDrain) {
  StrandHandOff<int> hand_off;
  ASSERT_TRUE(hand_off.Push(1));
  bool posted_again = false;
  std::vector<int> first;
  hand_off.Drain([&](int& v) {
    first.push_back(v);
    posted_again = hand_off.Push(v + 10);
  });
  EXPECT_EQ(first, (std::vector<int>{1}));
  EXPECT_TRUE(posted_again);
  std::vector<int> second;
  hand_off.Drain([&](int& v) { second.push_back(v); });
  EXPECT_EQ(second, (std::vector<int>{11}));
}

// Many producer threads, one drainer that drains only when a push asked for it (as the strand
// does): every item arrives exactly once, each producer's items in push order.
TEST(StrandHandOff, EveryItemFromManyThreadsIsDrainedOnceInEachProducersOrder) {
  constexpr int kProducers = 4;
  constexpr int kPerProducer = 20000;
  struct Item {
    int producer;
    int seq;
  };
  StrandHandOff<Item> hand_off;
  std::atomic<int> drains_owed{0};
  std::atomic<bool> producing{true};
  std::vector<int> next(kProducers, 0);
  int received = 0;
  bool in_order = true;
  std::thread strand([&] {
    for (;;) {
      const bool done = !producing.load();
      if (drains_owed.load() > 0) {
        drains_owed.fetch_sub(1);
        hand_off.Drain([&](Item& it) {
          if (it.seq != next[it.producer]) in_order = false;
          next[it.producer] = it.seq + 1;
          ++received;
        });
      } else if (done) {
        break;
      } else {
        std::this_thread::yield();
      }
    }
  });
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      for (int i = 0; i < kPerProducer; ++i) {
        if (hand_off.Push(Item{p, i})) drains_owed.fetch_add(1);
      }
    });
  }
  for (auto& t : producers) t.join();
  producing.store(false);
  strand.join();
  EXPECT_EQ(received, kProducers * kPerProducer) << "an item pushed after the last posted drain was stranded";
  EXPECT_TRUE(in_order);
}

}  // namespace
}  // namespace ironbus::server
