// Idle group eviction (spec/consumers.md 3.1, group_idle_evict_ms): only a named, caught-up,
// lease-free, member-free, non-key-shared group that saw no verb for the window leaves memory;
// its checkpoint is written first and a later GetOrCreate resumes from it; its cursor keeps
// protecting retention while it is out.
#include <gtest/gtest.h>

#include "queue/queue_test_util.h"

namespace ironbus::queue {
namespace {

class IdleEvictTest : public testing::QueueTest {
 protected:
  void SetUp() override {
    QueueTest::SetUp();
    options_.group_idle_evict_ms = 1000;
    options_.checkpoint_interval = 1'000'000;  // only eviction (or shutdown) writes the cursor
    options_.key_shared_groups = {"keyed"};
    Open();
  }

  // Delivers and acks everything in `name` with member 1, then leaves.
  void ConsumeAll(std::string_view name) {
    Group* g = Subscribe(1, name);
    for (;;) {
      Window w = FetchN(g, 1, 64);
      if (Deliveries(w).empty()) break;
      for (const Delivery& d : Deliveries(w)) ASSERT_EQ(Ack(g, 1, d), AckStatus::kOk);
    }
    ASSERT_TRUE(g->Leave(1, now(), /*clean=*/false).ok());
  }

  Result<bool> Evict(std::string_view name) { return groups_->EvictIfIdle(name, now()); }
};

TEST_F(IdleEvictTest, ACaughtUpIdleGroupIsCheckpointedEvictedAndResumesFromItsCursor) {
  ProduceN(5);
  ConsumeAll("work");
  EXPECT_FALSE(*Evict("work")) << "touched just now";
  AdvanceMs(999);
  EXPECT_FALSE(*Evict("work"));
  AdvanceMs(1);
  ASSERT_TRUE(*Evict("work"));
  EXPECT_EQ(groups_->Find("work"), nullptr);
  EXPECT_EQ(groups_->evicted_count(), 1u);
  EXPECT_EQ(groups_->named_group_count(), 0u);

  // Out of memory, the cursor still holds retention back at 5 (nothing past it is consumed).
  ProduceN(3);
  EXPECT_EQ(groups_->RetentionFloor(), 0u) << "the default group is at 0";
  ConsumeAll("");
  EXPECT_EQ(groups_->RetentionFloor(), 5u);

  // A later Sub resumes from the checkpoint written at eviction: only the new records.
  Group* back = Subscribe(2, "work");
  ASSERT_NE(back, nullptr);
  EXPECT_EQ(back->committed(), 5u);
  EXPECT_EQ(Offsets(FetchN(back, 2, 64)), (std::vector<uint64_t>{5, 6, 7}));
  EXPECT_EQ(groups_->evicted_count(), 0u);
}

TEST_F(IdleEvictTest, AGroupThatIsBehindHoldsLeasesOrMembersIsNeverEvicted) {
  ProduceN(4);
  Group* behind = Subscribe(1, "behind");
  const Delivery d = FetchOne(behind, 1);
  ASSERT_NE(d.offset, UINT64_MAX);
  AdvanceMs(10'000);
  EXPECT_FALSE(*Evict("behind")) << "a member and a lease";
  ASSERT_TRUE(behind->Leave(1, now(), false).ok());
  AdvanceMs(10'000);
  EXPECT_FALSE(*Evict("behind")) << "not caught up (committed 0 of 4)";
  EXPECT_NE(groups_->Find("behind"), nullptr);
}

TEST_F(IdleEvictTest, TheDefaultAndKeySharedGroupsAreNeverEvicted) {
  ProduceN(2);
  ConsumeAll("");
  ConsumeAll("keyed");
  AdvanceMs(60'000);
  EXPECT_FALSE(*Evict(""));
  EXPECT_FALSE(*Evict("keyed"));
  EXPECT_NE(groups_->Find(""), nullptr);
  EXPECT_NE(groups_->Find("keyed"), nullptr);
}

TEST_F(IdleEvictTest, AGroupLoadedAtOpenStartsItsIdleClockAtTheFirstSweep) {
  ProduceN(2);
  ConsumeAll("loaded");
  CloseClean();
  Open();
  ASSERT_NE(groups_->Find("loaded"), nullptr);
  EXPECT_FALSE(*Evict("loaded")) << "first sweep starts the clock";
  AdvanceMs(1000);
  EXPECT_TRUE(*Evict("loaded"));
}

TEST_F(IdleEvictTest, OffByDefault) {
  options_.group_idle_evict_ms = 0;
  Open();
  ProduceN(1);
  ConsumeAll("work");
  AdvanceMs(1'000'000);
  EXPECT_FALSE(*Evict("work"));
}

}  // namespace
}  // namespace ironbus::queue
