// The lease table on its own (spec/consumers.md 5.2, 5.3, 7.3), and the option rules.
#include "queue/lease_table.h"

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <set>

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

TEST(LeaseTable, MovedDeadlinesAreNotPoppedAndTheIndexStaysBounded) {
  LeaseTable t(1000 * kMs, 1'000'000 * kMs);
  auto c = t.TryClaim(1, 0, 1);
  // Extended again and again: only the latest deadline counts, and superseded entries do not
  // pile up in the index.
  for (int64_t now = 1; now <= 10'000; ++now) {
    ASSERT_EQ(t.Progress(1, c.generation, now * kMs), LeaseTable::ProgressResult::kExtended);
  }
  EXPECT_LE(t.deadline_entries(), 130u);
  EXPECT_EQ(t.NextDeadline(), 11'000 * kMs);
  EXPECT_TRUE(t.PopExpired(10'999 * kMs).empty());
  EXPECT_EQ(t.PopExpired(11'000 * kMs), (std::vector<uint64_t>{1}));
  EXPECT_TRUE(t.PopExpired(20'000 * kMs).empty());  // once per deadline
  // A drain: claimed in order, settled in order; the index never holds more than the window.
  for (uint64_t o = 10; o < 100'000; ++o) {
    t.TryClaim(o, 20'000 * kMs, 1);
    if (o >= 266) {
      ASSERT_TRUE(t.Settle(o - 256, t.Find(o - 256)->generation));
    }
  }
  EXPECT_LE(t.deadline_entries(), 2 * t.size() + 64);
}

// The deadline index against a model that keeps exactly one (deadline, offset) per armed lease
// (what the std::set it replaced held): the same NextDeadline and the same pops, in the same
// order, under any mix of claims, acks, nacks, progress, releases and erasures.
RC_GTEST_PROP(LeaseTableProperty, DeadlineIndexMatchesAnExactModel, ()) {
  LeaseTable t(50 * kMs, 200 * kMs);
  std::set<std::pair<int64_t, uint64_t>> armed;
  int64_t now = 0;
  auto rearm = [&](uint64_t o) {
    std::erase_if(armed, [&](const auto& e) { return e.second == o; });
    if (const Lease* l = t.Find(o); l != nullptr) armed.emplace(l->deadline_ns, o);
  };
  const int steps = *rc::gen::inRange(1, 300);
  for (int i = 0; i < steps; ++i) {
    const uint64_t o = *rc::gen::inRange<uint64_t>(0, 40);
    const Lease* l = t.Find(o);
    const uint64_t gen = l != nullptr ? l->generation : 0;
    switch (*rc::gen::inRange(0, 8)) {
      case 0:
      case 1:
        if (t.TryClaim(o, now, 1).kind == LeaseTable::ClaimKind::kGranted) rearm(o);
        break;
      case 2:
        if (t.Settle(o, gen)) rearm(o);
        break;
      case 3:
        if (t.Nack(o, gen, now, *rc::gen::inRange<int64_t>(0, 100) * kMs)) rearm(o);
        break;
      case 4:
        if (t.Progress(o, gen, now) == LeaseTable::ProgressResult::kExtended) rearm(o);
        break;
      case 5:
        if (l != nullptr && l->deadline_ns > now) {
          t.Release(o, now);
          rearm(o);
        }
        break;
      case 6:
        t.EraseBelow(o);
        std::erase_if(armed, [&](const auto& e) { return e.second < o; });
        break;
      case 7: {
        now += *rc::gen::inRange<int64_t>(0, 80) * kMs;
        std::vector<uint64_t> want;
        while (!armed.empty() && armed.begin()->first <= now) {
          want.push_back(armed.begin()->second);
          armed.erase(armed.begin());
        }
        RC_ASSERT(t.PopExpired(now) == want);
        break;
      }
    }
    RC_ASSERT(t.NextDeadline() == (armed.empty() ? kNoDeadline : armed.begin()->first));
  }
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
