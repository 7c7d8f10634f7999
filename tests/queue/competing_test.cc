// Competing groups: ordering, leases, ack-family verbs, the in-flight window and credit
// (spec/consumers.md 2, 3.2, 4, 5, 10; DESIGN.md D7). One test per rule.
#include <gtest/gtest.h>

#include "queue/queue_test_util.h"

namespace ironbus::queue {
namespace {

using testing::kMs;

class CompetingTest : public testing::QueueTest {
 protected:
  void SetUp() override {
    QueueTest::SetUp();
    options_.visibility_timeout_ms = 1000;
    options_.hard_cap_ms = 5000;
    Open();
    g_ = Subscribe(1);
  }
  Group* g_ = nullptr;
};

TEST_F(CompetingTest, FirstDeliveriesFollowOffsetOrder) {
  ProduceN(5);
  Window w = FetchN(g_, 1, 10);
  EXPECT_EQ(Offsets(w), (std::vector<uint64_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(w.delivered, 5u);
  for (const auto& d : Deliveries(w)) EXPECT_EQ(d.deliveries, 1u);
  EXPECT_EQ(AsChars(Deliveries(w)[3].record.payload), "m3");
}

TEST_F(CompetingTest, RecordsPastTheDurableHeadAreInvisible) {
  storage::AppendRecord r;
  const Bytes p = ToBytes("unsynced");
  r.payload = p;
  ASSERT_TRUE(log()->Append(r).ok());
  EXPECT_TRUE(FetchN(g_, 1, 10).items.empty());  // appended, not fdatasync'd: not readable
  ASSERT_TRUE(log()->Sync().ok());
  EXPECT_EQ(Offsets(FetchN(g_, 1, 10)), (std::vector<uint64_t>{0}));
}

TEST_F(CompetingTest, AnOffsetIsLeasedToOneMemberAtATime) {
  ASSERT_TRUE(g_->Join(2, {}).ok());
  ProduceN(4);
  Window a = FetchN(g_, 1, 2);
  Window b = FetchN(g_, 2, 10);
  EXPECT_EQ(Offsets(a), (std::vector<uint64_t>{0, 1}));
  EXPECT_EQ(Offsets(b), (std::vector<uint64_t>{2, 3}));
}

TEST_F(CompetingTest, AckAdvancesTheWatermarkOnlyOverAContiguousPrefix) {
  ProduceN(3);
  auto d = Deliveries(FetchN(g_, 1, 3));
  ASSERT_EQ(d.size(), 3u);
  EXPECT_EQ(Ack(g_, 1, d[1]), AckStatus::kOk);
  EXPECT_EQ(Ack(g_, 1, d[2]), AckStatus::kOk);
  EXPECT_EQ(g_->committed(), 0u);
  EXPECT_EQ(Ack(g_, 1, d[0]), AckStatus::kOk);
  EXPECT_EQ(g_->committed(), 3u);
}

TEST_F(CompetingTest, ExpiredLeaseIsRedeliveredBeforeNewRecordsButAfterEarlierOnes) {
  ProduceN(10);
  auto first = Deliveries(FetchN(g_, 1, 10));
  ASSERT_EQ(first.size(), 10u);
  for (const auto& d : first) {
    if (d.offset != 5) {
      ASSERT_EQ(Ack(g_, 1, d), AckStatus::kOk);
    }
  }
  Produce("m10");
  AdvanceMs(1000);  // offset 5's lease reaches its deadline
  Window w = FetchN(g_, 1, 10);
  EXPECT_EQ(Offsets(w), (std::vector<uint64_t>{5, 10}));  // 5 again, after 9 was seen
  EXPECT_EQ(Deliveries(w)[0].deliveries, 2u);
  EXPECT_GT(Deliveries(w)[0].generation, first[5].generation);
}

TEST_F(CompetingTest, LeaseIsInFlightUntilItsDeadlineAndClaimableAtIt) {
  ProduceN(1);
  ASSERT_EQ(FetchOne(g_, 1).offset, 0u);
  ASSERT_TRUE(g_->Join(2, {}).ok());
  AdvanceMs(999);
  EXPECT_EQ(FetchOne(g_, 2).offset, UINT64_MAX);  // 1 ms before: still in flight
  AdvanceMs(1);
  EXPECT_EQ(FetchOne(g_, 2).offset, 0u);  // at the deadline: expired, claimable
}

TEST_F(CompetingTest, AckAtTheDeadlineInstantWinsWhenNothingReGrantedIt) {
  ProduceN(1);
  Delivery d = FetchOne(g_, 1);
  AdvanceMs(1000);  // now == deadline
  EXPECT_EQ(Ack(g_, 1, d), AckStatus::kOk);  // generation still live: the ack wins
  EXPECT_EQ(g_->committed(), 1u);
  EXPECT_TRUE(g_->Tick(now()).empty());
}

TEST_F(CompetingTest, AckAtTheDeadlineInstantIsFencedOnceTheTickReGrantedIt) {
  ProduceN(1);
  ASSERT_TRUE(g_->Join(2, {}).ok());
  Delivery d = FetchOne(g_, 1);
  FetchRequest wait;
  wait.max_records = 1;
  wait.wait_until_ns = now() + 60'000 * kMs;
  ASSERT_TRUE(g_->Fetch(2, wait, now()).parked);
  AdvanceMs(1000);  // the deadline: the broker's timer fires first
  ASSERT_EQ(g_->NextDeadline(), now());
  auto done = g_->Tick(now());
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].member_id, 2u);
  EXPECT_EQ(Offsets(done[0].window), (std::vector<uint64_t>{0}));
  EXPECT_EQ(Ack(g_, 1, d), AckStatus::kFenced);  // the in-flight ack lost the race
  EXPECT_EQ(g_->committed(), 0u);
  EXPECT_EQ(Ack(g_, 2, Deliveries(done[0].window)[0]), AckStatus::kOk);
}

TEST_F(CompetingTest, HolderFetchAtTheDeadlineDropsItsOwnLeaseAndFencesItsLateAck) {
  ProduceN(1);
  Delivery d = FetchOne(g_, 1);
  AdvanceMs(1000);
  Window w = FetchN(g_, 1, 1);  // spec 4.2 step 1, then the offset is re-granted to the same member
  ASSERT_EQ(Offsets(w), (std::vector<uint64_t>{0}));
  EXPECT_EQ(Ack(g_, 1, d), AckStatus::kFenced);
  EXPECT_EQ(Ack(g_, 1, Deliveries(w)[0]), AckStatus::kOk);
}

TEST_F(CompetingTest, NackRequeuesWithAHigherGenerationAndAnEscalatedDeliveryCount) {
  ProduceN(1);
  Delivery d = FetchOne(g_, 1);
  EXPECT_EQ(Nack(g_, 1, d, 0), AckStatus::kOk);
  EXPECT_EQ(Ack(g_, 1, d), AckStatus::kFenced);  // the nacker is fenced
  Delivery again = FetchOne(g_, 1);
  EXPECT_EQ(again.offset, 0u);
  EXPECT_EQ(again.deliveries, 2u);
  EXPECT_GT(again.generation, d.generation);
}

// A window's records are moved out of the pass's read batch into their deliveries (no second
// copy); every delivery must still carry its own record, across several read batches, and a
// record handed out earlier must come back whole when it is delivered again.
TEST_F(CompetingTest, EveryDeliveryCarriesItsOwnRecordAcrossReadBatchesAndRedeliveries) {
  ASSERT_TRUE(g_->Join(2, MemberOptions{1000, 0}).ok());
  constexpr int kRecords = 700;  // more than one read batch (256 records) per window
  for (int i = 0; i < kRecords; ++i) {
    Produce("p" + std::to_string(i), "k" + std::to_string(i), "h" + std::to_string(i));
  }
  auto check = [](const Delivery& d) {
    const std::string n = std::to_string(d.offset);
    EXPECT_EQ(AsChars(d.record.payload), "p" + n);
    EXPECT_EQ(AsChars(d.record.key), "k" + n);
    EXPECT_EQ(AsChars(d.record.headers), "h" + n);
  };
  std::vector<Delivery> all = Deliveries(FetchN(g_, 2, 1000));
  ASSERT_EQ(all.size(), static_cast<size_t>(kRecords));
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].offset, i);
    check(all[i]);
  }
  for (uint64_t o : {3u, 300u, 650u}) EXPECT_EQ(Nack(g_, 2, all[o], 0), AckStatus::kOk);
  const std::vector<Delivery> again = Deliveries(FetchN(g_, 2, 1000));
  ASSERT_EQ(again.size(), 3u);
  EXPECT_EQ(again[0].offset, 3u);
  EXPECT_EQ(again[1].offset, 300u);
  EXPECT_EQ(again[2].offset, 650u);
  for (const Delivery& d : again) check(d);
}

TEST_F(CompetingTest, NackWithoutDelayFollowsTheBackoffScheduleByAttempt) {
  Close();
  options_.max_deliver = 10;
  Open();
  g_ = Subscribe(1);
  ProduceN(1);
  const std::vector<int64_t> schedule_ms = {100, 500, 2000, 10000, 30000, 30000};  // clamps to the last
  for (size_t attempt = 0; attempt < schedule_ms.size(); ++attempt) {
    Delivery d = FetchOne(g_, 1);
    ASSERT_EQ(d.offset, 0u) << "attempt " << attempt + 1;
    ASSERT_EQ(d.deliveries, attempt + 1);
    ASSERT_EQ(Nack(g_, 1, d, kNackUseBackoff), AckStatus::kOk);
    EXPECT_EQ(g_->leases().Find(0)->deadline_ns, now() + schedule_ms[attempt] * kMs);
    AdvanceMs(schedule_ms[attempt] - 1);
    EXPECT_EQ(FetchOne(g_, 1).offset, UINT64_MAX) << "claimable before its backoff ended";
    AdvanceMs(1);
  }
}

TEST_F(CompetingTest, NackExplicitDelayIsNotClampedToTheHardCap) {
  ProduceN(1);
  Delivery d = FetchOne(g_, 1);
  ASSERT_EQ(Nack(g_, 1, d, 60'000), AckStatus::kOk);  // beyond the 5 s hard cap
  AdvanceMs(59'999);
  EXPECT_EQ(FetchOne(g_, 1).offset, UINT64_MAX);
  AdvanceMs(1);
  EXPECT_EQ(FetchOne(g_, 1).offset, 0u);
}

TEST_F(CompetingTest, TermCommitsLikeAckAndNeverDeadLetters) {
  ProduceN(2);
  auto d = Deliveries(FetchN(g_, 1, 2));
  EXPECT_EQ(g_->Settle(1, AckOp::kTerm, d[0].offset, d[0].generation, 0, now()), AckStatus::kOk);
  EXPECT_EQ(g_->committed(), 1u);
  EXPECT_EQ(g_->stats().acks, 1u);
  EXPECT_EQ(g_->stats().dead_lettered, 0u);
}

TEST_F(CompetingTest, StaleOrForeignTokensAreFenced) {
  ASSERT_TRUE(g_->Join(2, {}).ok());
  ProduceN(1);
  Delivery d = FetchOne(g_, 1);
  EXPECT_EQ(Ack(g_, 2, d), AckStatus::kFenced);  // member 2 was never handed this token
  Delivery stale = d;
  stale.generation += 7;
  EXPECT_EQ(Ack(g_, 1, stale), AckStatus::kFenced);
  EXPECT_EQ(g_->committed(), 0u);
  EXPECT_EQ(Ack(g_, 1, d), AckStatus::kOk);
  EXPECT_EQ(Ack(g_, 1, d), AckStatus::kFenced);  // already settled
}

TEST_F(CompetingTest, ProgressExtendsUpToTheHardCapFromAttemptStart) {
  ProduceN(1);
  Delivery d = FetchOne(g_, 1);
  const int64_t start = now();
  for (int i = 0; i < 4; ++i) {
    AdvanceMs(900);
    ASSERT_EQ(g_->Settle(1, AckOp::kProgress, 0, d.generation, 0, now()), AckStatus::kOk);
  }
  EXPECT_EQ(g_->leases().Find(0)->deadline_ns, start + 4600 * kMs);  // now + visibility
  AdvanceMs(900);  // 4.5 s in: the extension is cut at the 5 s cap
  ASSERT_EQ(g_->Settle(1, AckOp::kProgress, 0, d.generation, 0, now()), AckStatus::kOk);
  EXPECT_EQ(g_->leases().Find(0)->deadline_ns, start + 5000 * kMs);
  AdvanceMs(500);
  EXPECT_EQ(g_->Settle(1, AckOp::kProgress, 0, d.generation, 0, now()), AckStatus::kCapReached);
}

TEST_F(CompetingTest, FencedProgressDropsTheHeldEntry) {
  ProduceN(1);
  Delivery d = FetchOne(g_, 1);
  ASSERT_EQ(Nack(g_, 1, d, 10'000), AckStatus::kOk);
  EXPECT_EQ(g_->Settle(1, AckOp::kProgress, 0, d.generation, 0, now()), AckStatus::kFenced);
  EXPECT_EQ(g_->held_by(1), 0u);
}

TEST_F(CompetingTest, MaxInFlightWindowStallsTheGroupBehindAnUnackedWatermark) {
  Close();
  options_.max_in_flight = 4;
  Open();
  g_ = Subscribe(1, "", MemberOptions{100, 0});
  ProduceN(10);
  auto d = Deliveries(FetchN(g_, 1, 100));
  ASSERT_EQ(d.size(), 4u);  // [0, 4)
  for (size_t i = 1; i < d.size(); ++i) ASSERT_EQ(Ack(g_, 1, d[i]), AckStatus::kOk);
  EXPECT_TRUE(FetchN(g_, 1, 100).items.empty());  // 0 unacked: the window does not move
  ASSERT_EQ(Ack(g_, 1, d[0]), AckStatus::kOk);
  EXPECT_EQ(Offsets(FetchN(g_, 1, 100)), (std::vector<uint64_t>{4, 5, 6, 7}));
}

TEST_F(CompetingTest, CreditBoundsWhatOneMemberHoldsAndAZeroCreditFetchIsAHold) {
  ASSERT_TRUE(g_->Join(1, MemberOptions{3, 0}).ok());
  ProduceN(10);
  auto d = Deliveries(FetchN(g_, 1, 100));
  EXPECT_EQ(d.size(), 3u);
  Window hold = FetchN(g_, 1, 100);
  EXPECT_TRUE(hold.items.empty());
  EXPECT_EQ(hold.delivered, 0u);
  ASSERT_EQ(Ack(g_, 1, d[0]), AckStatus::kOk);
  EXPECT_EQ(Offsets(FetchN(g_, 1, 100)), (std::vector<uint64_t>{3}));  // one slot came back
  EXPECT_EQ(Offsets(FetchN(g_, 1, 2)).size(), 0u);
}

// Many members taking one record each in turn hold offsets spread over the whole in-flight
// window. What a member's held map stores follows what it holds (at most its credit), not the
// window's width: the boot-time RAM ceiling counts credit per connection and leases per group,
// never members x max_in_flight.
TEST_F(CompetingTest, AMembersHeldStorageFollowsItsCreditNotTheWindowWidth) {
  Close();
  options_.max_in_flight = 8192;
  Open();
  constexpr uint64_t kMembers = 64;
  constexpr uint32_t kCredit = 64;
  for (uint64_t m = 1; m <= kMembers; ++m) g_ = Subscribe(m, "", MemberOptions{kCredit, 0});
  ProduceN(static_cast<int>(kMembers * kCredit));
  std::vector<std::vector<Delivery>> held(kMembers + 1);
  for (uint32_t round = 0; round < kCredit; ++round) {
    for (uint64_t m = 1; m <= kMembers; ++m) {
      auto d = Deliveries(FetchN(g_, m, 1));
      ASSERT_EQ(d.size(), 1u);
      held[m].push_back(d[0]);
    }
  }
  for (uint64_t m = 1; m <= kMembers; ++m) {
    ASSERT_EQ(g_->held_by(m), kCredit);
    // Its offsets span (kCredit - 1) * kMembers + 1 = 4,033; its storage is about kCredit.
    EXPECT_EQ(held[m].back().offset - held[m].front().offset, (kCredit - 1) * kMembers);
    EXPECT_LE(g_->held_storage_by(m), 2u * kCredit) << "member " << m;
  }
  for (uint64_t m = 1; m <= kMembers; ++m) {
    for (const Delivery& d : held[m]) ASSERT_EQ(Ack(g_, m, d), AckStatus::kOk);
    EXPECT_EQ(g_->held_by(m), 0u);
    EXPECT_LE(g_->held_storage_by(m), 2u * kCredit);
  }
  EXPECT_EQ(g_->committed(), kMembers * kCredit);
}

TEST_F(CompetingTest, RequestedCountBoundsTheWindowBelowTheCredit) {
  ProduceN(10);
  EXPECT_EQ(FetchN(g_, 1, 2).delivered, 2u);
  EXPECT_EQ(FetchN(g_, 1, 0).delivered, 0u);
}

TEST_F(CompetingTest, CreditZeroIsTreatedAsOne) {
  ASSERT_TRUE(g_->Join(1, MemberOptions{0, 0}).ok());
  ProduceN(3);
  EXPECT_EQ(FetchN(g_, 1, 10).delivered, 1u);
}

TEST_F(CompetingTest, ByteBudgetIsNeverExceededExceptByASingleRecord) {
  ASSERT_TRUE(g_->Join(1, MemberOptions{64, 100}).ok());
  Produce(std::string(60, 'a'));
  Produce(std::string(60, 'b'));
  Produce(std::string(30, 'c'));
  // 60 fits; 60 more would make 120 > 100: the window ends there (the 30-byte one waits, in order).
  EXPECT_EQ(Offsets(FetchN(g_, 1, 10)), (std::vector<uint64_t>{0}));
  auto d = Deliveries(FetchN(g_, 1, 10));
  EXPECT_TRUE(d.empty());
  // A member holding nothing gets one record whatever its size.
  ASSERT_TRUE(g_->Join(2, MemberOptions{64, 10}).ok());
  EXPECT_EQ(Offsets(FetchN(g_, 2, 10)), (std::vector<uint64_t>{1}));
}

TEST_F(CompetingTest, RequestByteCapTightensTheNegotiatedBudget) {
  Produce(std::string(40, 'a'));
  Produce(std::string(40, 'b'));
  FetchRequest req;
  req.max_records = 10;
  req.max_bytes = 50;
  EXPECT_EQ(g_->Fetch(1, req, now()).delivered, 1u);
}

TEST_F(CompetingTest, AnExpiredLeaseReturnsItsCreditAtTheNextFetch) {
  ASSERT_TRUE(g_->Join(1, MemberOptions{1, 0}).ok());
  ProduceN(2);
  ASSERT_EQ(FetchOne(g_, 1).offset, 0u);
  EXPECT_EQ(FetchOne(g_, 1).offset, UINT64_MAX);  // window full
  AdvanceMs(1000);
  EXPECT_EQ(FetchOne(g_, 1).offset, 0u);  // slot freed by expiry; the redelivery is charged again
  EXPECT_EQ(g_->held_by(1), 1u);
}

TEST_F(CompetingTest, ZeroVisibilityRedeliversContinuously) {
  Close();
  options_.visibility_timeout_ms = 0;
  options_.max_deliver = 100;
  Open();
  g_ = Subscribe(1);
  ProduceN(1);
  EXPECT_EQ(FetchOne(g_, 1).deliveries, 1u);
  EXPECT_EQ(FetchOne(g_, 1).deliveries, 2u);
}

TEST_F(CompetingTest, HardCapBelowTheVisibilityTimeoutClampsTheDeadline) {
  Close();
  options_.visibility_timeout_ms = 1000;
  options_.hard_cap_ms = 200;
  Open();
  g_ = Subscribe(1);
  ProduceN(1);
  ASSERT_EQ(FetchOne(g_, 1).offset, 0u);
  EXPECT_EQ(g_->leases().Find(0)->deadline_ns, now() + 200 * kMs);
}

TEST_F(CompetingTest, ExhaustedGenerationSpaceIsAnErrorNotAWrap) {
  ProduceN(1);
  g_->set_next_generation_for_testing(UINT64_MAX);
  FetchRequest req;
  req.max_records = 1;
  Window w = g_->Fetch(1, req, now());
  EXPECT_EQ(ErrorCodeOf(w.error), kErrGenerationExhausted);
  EXPECT_EQ(w.delivered, 0u);
}

TEST_F(CompetingTest, FetchOfANonMemberIsRefused) {
  FetchRequest req;
  req.max_records = 1;
  EXPECT_EQ(ErrorCodeOf(g_->Fetch(99, req, now()).error), kErrNotSubscribed);
}

}  // namespace
}  // namespace ironbus::queue
