// Broadcast groups (group-of-one) and cumulative ack (spec/consumers.md 3.4).
#include <gtest/gtest.h>

#include "queue/queue_test_util.h"

namespace ironbus::queue {
namespace {

class BroadcastTest : public testing::QueueTest {
 protected:
  void SetUp() override {
    options_.broadcast_groups = {"watch"};
    Open();
    g_ = GroupNamed("watch");
    ASSERT_EQ(g_->mode(), GroupMode::kBroadcast);
  }
  Group* g_ = nullptr;
};

TEST_F(BroadcastTest, OneLiveSubscriberAndTheSlotFreesOnLeave) {
  ASSERT_TRUE(g_->Join(1, {}).ok());
  EXPECT_TRUE(g_->Join(1, {}).ok());  // idempotent for the holder
  EXPECT_EQ(ErrorCodeOf(g_->Join(2, {})), kErrBroadcastGroupBusy);
  EXPECT_FALSE(g_->IsMember(2));
  ASSERT_TRUE(g_->Leave(1, now(), true).ok());
  EXPECT_TRUE(g_->Join(2, {}).ok());
}

TEST_F(BroadcastTest, CumulativeAckCommitsUpToExclusiveFromAnySender) {
  ASSERT_TRUE(g_->Join(1, {}).ok());
  ProduceN(5);
  EXPECT_EQ(FetchN(g_, 1, 100).delivered, 5u);  // acceptance: `sub --group watch` sees 5
  // The sender need not be the subscriber (the group is named in the frame body).
  ASSERT_TRUE(groups_->Find("watch")->CumulativeAck(5, now()).ok());
  EXPECT_EQ(g_->committed(), 5u);
  EXPECT_EQ(g_->leases().size(), 0u);  // every lease below up_to released
  EXPECT_EQ(g_->held_by(1), 0u);       // and its credit returned
  ASSERT_TRUE(g_->Leave(1, now(), true).ok());
  ASSERT_TRUE(g_->Join(2, {}).ok());
  EXPECT_EQ(FetchN(g_, 2, 100).delivered, 0u);  // "fetched 0 message(s)"
}

TEST_F(BroadcastTest, CumulativeAckIsRefusedOutsideABroadcastGroup) {
  ProduceN(2);
  EXPECT_EQ(ErrorCodeOf(GroupNamed("")->CumulativeAck(1, now())), kErrCumulativeAckNotAllowed);
  EXPECT_EQ(ErrorCodeOf(GroupNamed("work")->CumulativeAck(1, now())), kErrCumulativeAckNotAllowed);
  EXPECT_EQ(GroupNamed("work")->committed(), 0u);
}

TEST_F(BroadcastTest, CumulativeAckPastTheHeadOrBelowTheEarliestIsOutOfRange) {
  ProduceN(3);
  EXPECT_EQ(ErrorCodeOf(g_->CumulativeAck(4, now())), kErrCumulativeAckOutOfRange);
  EXPECT_EQ(g_->committed(), 0u);
  EXPECT_TRUE(g_->CumulativeAck(3, now()).ok());  // == head is fine
  EXPECT_EQ(g_->committed(), 3u);
}

TEST_F(BroadcastTest, CumulativeAckBelowTheEarliestRetainedIsOutOfRange) {
  Close();
  log_options_.max_segment_bytes = 512;
  log_options_.retention.max_messages = 1;
  Open();
  g_ = GroupNamed("watch");
  for (int i = 0; i < 30; ++i) Produce(std::string(40, 'x'));
  ASSERT_GT(log()->ApplyRetention(UINT64_MAX)->segments_deleted, 0u);
  ASSERT_GT(log()->first_offset(), 1u);
  EXPECT_EQ(ErrorCodeOf(g_->CumulativeAck(1, now())), kErrCumulativeAckOutOfRange);
  EXPECT_TRUE(g_->CumulativeAck(log()->first_offset(), now()).ok());
}

TEST_F(BroadcastTest, CumulativeAckAtOrBelowTheWatermarkIsAnIdempotentOk) {
  ProduceN(4);
  ASSERT_TRUE(g_->CumulativeAck(3, now()).ok());
  EXPECT_TRUE(g_->CumulativeAck(3, now()).ok());
  EXPECT_TRUE(g_->CumulativeAck(1, now()).ok());
  EXPECT_EQ(g_->committed(), 3u);  // never backwards
}

TEST_F(BroadcastTest, CumulativeAckDropsClipsAndAbsorbsAheadRanges) {
  ASSERT_TRUE(g_->Join(1, MemberOptions{100, 0}).ok());
  ProduceN(10);
  auto d = Deliveries(FetchN(g_, 1, 10));
  for (uint64_t o : {2, 5, 6, 7, 9}) ASSERT_EQ(Ack(g_, 1, d[o]), AckStatus::kOk);
  ASSERT_TRUE(g_->CumulativeAck(6, now()).ok());
  EXPECT_EQ(g_->committed(), 8u);  // [5,8) clipped at 6, then absorbed
  EXPECT_EQ(g_->cursor().ahead_ranges(), (std::vector<std::pair<uint64_t, uint64_t>>{{9, 10}}));
  EXPECT_EQ(Ack(g_, 1, d[3]), AckStatus::kFenced);  // its lease went with the commit
  EXPECT_EQ(Ack(g_, 1, d[8]), AckStatus::kOk);
  EXPECT_EQ(g_->committed(), 10u);
}

TEST_F(BroadcastTest, MarkingAGroupBroadcastIsRefusedWhileItHasLeasesAheadRangesOrSubscribers) {
  Group* w = GroupNamed("work");
  ASSERT_TRUE(w->Join(1, {}).ok());
  ASSERT_TRUE(w->Join(2, {}).ok());
  EXPECT_EQ(ErrorCodeOf(w->SetMode(GroupMode::kBroadcast)), kErrBroadcastGroupBusy);
  ASSERT_TRUE(w->Leave(2, now(), false).ok());
  ProduceN(2);
  auto d = Deliveries(FetchN(w, 1, 2));
  EXPECT_EQ(ErrorCodeOf(w->SetMode(GroupMode::kBroadcast)), kErrBroadcastGroupBusy);  // leases
  ASSERT_EQ(Ack(w, 1, d[1]), AckStatus::kOk);
  ASSERT_EQ(Nack(w, 1, d[0], 0), AckStatus::kOk);
  EXPECT_EQ(ErrorCodeOf(w->SetMode(GroupMode::kBroadcast)), kErrBroadcastGroupBusy);  // a lease and [1,2)
  Delivery again = FetchOne(w, 1);
  ASSERT_EQ(Ack(w, 1, again), AckStatus::kOk);
  EXPECT_TRUE(w->SetMode(GroupMode::kBroadcast).ok());
  EXPECT_EQ(ErrorCodeOf(GroupNamed("")->SetMode(GroupMode::kBroadcast)), kErrBroadcastGroupNotNamed);
}

TEST(BroadcastOptionsTest, DefaultGroupCannotBeBroadcastAndModesAreExclusive) {
  QueueOptions o;
  o.broadcast_groups = {""};
  EXPECT_EQ(ErrorCodeOf(o.Validate()), kErrBroadcastGroupNotNamed);
  o.broadcast_groups = {"x"};
  o.key_shared_groups = {"x"};
  EXPECT_FALSE(o.Validate().ok());
  o.key_shared_groups = {"y"};
  EXPECT_TRUE(o.Validate().ok());
}

}  // namespace
}  // namespace ironbus::queue
