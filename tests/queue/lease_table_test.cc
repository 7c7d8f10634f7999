// The lease table on its own (spec/consumers.md 5.2, 5.3, 7.3), and the option rules.
#include "queue/lease_table.h"

#include <gtest/gtest.h>

#include "queue/queue_options.h"

namespace ironbus::queue {
namespace {

constexpr int64_t kMs = 1'000'000;

TEST(LeaseTable, ClaimMintsIncreasingGenerationsAndCountsDeliveries) {
  LeaseTable t(1000 * kMs, 5000 * kMs);
  auto a = t.TryClaim(7, 0, 1);
  ASSERT_EQ(a.kind, LeaseTable::ClaimKind::kGranted);
  EXPECT_EQ(a.deliveries, 1u);
  EXPECT_FALSE(a.redelivery);
  EXPECT_EQ(t.TryClaim(7, 999 * kMs, 2).kind, LeaseTable::ClaimKind::kInFlight);
  auto b = t.TryClaim(7, 1000 * kMs, 2);
  ASSERT_EQ(b.kind, LeaseTable::ClaimKind::kGranted);
  EXPECT_GT(b.generation, a.generation);
  EXPECT_EQ(b.deliveries, 2u);
  EXPECT_TRUE(b.redelivery);
  EXPECT_EQ(b.previous_holder, 1u);
}

TEST(LeaseTable, CarriedCountResumesAndTheSnapshotKeepsTheLarger) {
  LeaseTable t(1000 * kMs, 5000 * kMs);
  t.SetCarried({{3, 4}, {5, 2}});
  auto c = t.TryClaim(3, 0, 1);
  EXPECT_EQ(c.deliveries, 5u);
  EXPECT_TRUE(c.redelivery);
  EXPECT_EQ(t.CarriedCount(3), 0u);  // consumed by the claim
  EXPECT_EQ(t.AttemptSnapshot(), (std::map<uint64_t, uint32_t>{{3, 5}, {5, 2}}));
}

TEST(LeaseTable, DeliveriesSaturateAtTheU32Maximum) {
  LeaseTable t(0, 0);
  t.SetCarried({{1, UINT32_MAX}});
  EXPECT_EQ(t.TryClaim(1, 0, 1).deliveries, UINT32_MAX);
  EXPECT_EQ(t.TryClaim(1, 0, 1).deliveries, UINT32_MAX);
}

TEST(LeaseTable, SettleAndNackCheckTheGenerationNotTheDeadline) {
  LeaseTable t(1000 * kMs, 5000 * kMs);
  auto c = t.TryClaim(1, 0, 1);
  EXPECT_FALSE(t.Settle(1, c.generation + 1));
  EXPECT_TRUE(t.Nack(1, c.generation, 2000 * kMs, 0));  // past the deadline: still its generation
  EXPECT_FALSE(t.Settle(1, c.generation));              // the nack fenced it
  EXPECT_EQ(t.Find(1)->deliveries, 1u);                 // kept
}

TEST(LeaseTable, ReleaseMakesTheOffsetClaimableNowAndKeepsItsCount) {
  LeaseTable t(1000 * kMs, 5000 * kMs);
  t.TryClaim(1, 0, 9);
  t.Release(1, 10 * kMs);
  EXPECT_TRUE(t.IsClaimable(1, 10 * kMs));
  EXPECT_EQ(t.Find(1)->holder, kNoHolder);
  EXPECT_EQ(t.TryClaim(1, 10 * kMs, 3).deliveries, 2u);
}

TEST(LeaseTable, DeadlinesArePoppedOnceInOrder) {
  LeaseTable t(1000 * kMs, 5000 * kMs);
  t.TryClaim(1, 0, 1);
  t.TryClaim(2, 100 * kMs, 1);
  EXPECT_EQ(t.NextDeadline(), 1000 * kMs);
  EXPECT_TRUE(t.PopExpired(999 * kMs).empty());
  EXPECT_EQ(t.PopExpired(1100 * kMs), (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(t.NextDeadline(), kNoDeadline);
  EXPECT_TRUE(t.Settle(2, t.Find(2)->generation));
}

TEST(LeaseTable, EraseBelowDropsLeasesAndCarriedCounts) {
  LeaseTable t(1000 * kMs, 5000 * kMs);
  t.SetCarried({{1, 2}, {9, 2}});
  t.TryClaim(4, 0, 1);
  t.TryClaim(8, 0, 1);
  t.EraseBelow(5);
  EXPECT_EQ(t.size(), 1u);
  EXPECT_EQ(t.AttemptSnapshot(), (std::map<uint64_t, uint32_t>{{8, 1}, {9, 2}}));
  EXPECT_EQ(t.NextDeadline(), 1000 * kMs);  // 8's deadline is still armed, 4's is gone
}

TEST(LeaseTable, TimeArithmeticSaturates) {
  EXPECT_EQ(SaturatingAddNs(kNoDeadline - 1, 5), kNoDeadline);
  EXPECT_EQ(MsToNs(UINT64_MAX), kNoDeadline);
  EXPECT_EQ(MsToNs(3), 3 * kMs);
}

TEST(QueueOptionsTest, UnlimitedDeliverNeedsTheExplicitFlag) {
  QueueOptions o;
  o.max_deliver = 0;
  EXPECT_FALSE(o.Validate().ok());
  o.allow_unlimited_deliver = true;
  EXPECT_TRUE(o.Validate().ok());
  o.allow_unlimited_deliver = false;
  o.max_deliver = UINT32_MAX;
  EXPECT_FALSE(o.Validate().ok());
}

TEST(QueueOptionsTest, ZeroMaxInFlightIsRefusedWithItsCode) {
  QueueOptions o;
  o.max_in_flight = 0;
  EXPECT_EQ(ErrorCodeOf(o.Validate()), kErrZeroMaxInFlight);
}

}  // namespace
}  // namespace ironbus::queue
