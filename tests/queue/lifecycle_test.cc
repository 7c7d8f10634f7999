// Membership, timer-driven redelivery, durable cursor and attempt state across restarts and
// power cuts, group creation rules and truncation (spec/consumers.md 3.1, 4.1, 5.4, 7, 12.4).
#include <gtest/gtest.h>

#include "format/record.h"
#include "format/segment.h"
#include "format/segment_name.h"
#include "queue/queue_test_util.h"

namespace ironbus::queue {
namespace {

using testing::kMs;

class LifecycleTest : public testing::QueueTest {
 protected:
  void SetUp() override {
    QueueTest::SetUp();
    options_.visibility_timeout_ms = 1000;
    options_.backoff_ms = {100};
  }
  FetchRequest Waiting(uint32_t n, int64_t wait_ms) {
    FetchRequest req;
    req.max_records = n;
    req.wait_until_ns = now() + wait_ms * kMs;
    return req;
  }
};

TEST_F(LifecycleTest, LeasesOfADisconnectedMemberAreReleasedAtOnceAndKeepTheirCount) {
  Open();
  Group* g = Subscribe(1);
  ASSERT_TRUE(g->Join(2, {}).ok());
  ProduceN(3);
  ASSERT_EQ(FetchN(g, 1, 3).delivered, 3u);
  ASSERT_TRUE(g->Leave(1, now(), /*clean=*/false).ok());
  Window w = FetchN(g, 2, 10);  // no visibility timeout to wait out
  EXPECT_EQ(Offsets(w), (std::vector<uint64_t>{0, 1, 2}));
  for (const auto& d : Deliveries(w)) EXPECT_EQ(d.deliveries, 2u);
  EXPECT_FALSE(g->IsMember(1));
}

TEST_F(LifecycleTest, SubscriptionSwitchReleasesLeasesAndCheckpointsTheOldGroup) {
  Open();
  Group* a = Subscribe(1, "a");
  ProduceN(3);
  auto d = Deliveries(FetchN(a, 1, 3));
  ASSERT_EQ(Ack(a, 1, d[0]), AckStatus::kOk);
  Group* b = Subscribe(1, "b");  // join the new group first, then leave the old one
  ASSERT_TRUE(a->Leave(1, now(), /*clean=*/true).ok());
  EXPECT_EQ(a->leases().Find(1)->deadline_ns, now());  // released, claimable now
  EXPECT_EQ(Offsets(FetchN(b, 1, 10)), (std::vector<uint64_t>{0, 1, 2}));
  PowerCut();
  Open();
  EXPECT_EQ(GroupNamed("a")->committed(), 1u);  // the clean leave wrote the cursor
}

TEST_F(LifecycleTest, ParkedFetchIsCompletedByTheTickWhenTheHeadAdvances) {
  Open();
  Group* g = Subscribe(1);
  Window w = g->Fetch(1, Waiting(5, 30'000), now());
  ASSERT_TRUE(w.parked);
  EXPECT_TRUE(g->has_parked_fetches());
  ProduceN(2);
  auto done = g->Tick(now());
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(Offsets(done[0].window), (std::vector<uint64_t>{0, 1}));
  EXPECT_FALSE(g->has_parked_fetches());
}

TEST_F(LifecycleTest, ParkedFetchEndsEmptyAtItsWaitDeadline) {
  Open();
  Group* g = Subscribe(1);
  const int64_t until = now() + 250 * kMs;
  ASSERT_TRUE(g->Fetch(1, Waiting(5, 250), now()).parked);
  EXPECT_EQ(g->NextDeadline(), until);
  EXPECT_TRUE(g->Tick(until - 1).empty());
  auto done = g->Tick(until);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].window.delivered, 0u);
  EXPECT_TRUE(done[0].window.error.ok());
}

TEST_F(LifecycleTest, NackBackoffEndRedeliversToAWaitingConsumerFromTheTimer) {
  Open();
  Group* g = Subscribe(1);
  ProduceN(1);
  Delivery d = FetchOne(g, 1);
  ASSERT_EQ(Nack(g, 1, d, kNackUseBackoff), AckStatus::kOk);  // 100 ms
  ASSERT_TRUE(g->Fetch(1, Waiting(1, 30'000), now()).parked);
  EXPECT_EQ(g->NextDeadline(), now() + 100 * kMs);
  AdvanceMs(100);
  auto done = g->Tick(now());  // the broker's timer, not a poll
  ASSERT_EQ(done.size(), 1u);
  ASSERT_EQ(Deliveries(done[0].window).size(), 1u);
  EXPECT_EQ(Deliveries(done[0].window)[0].deliveries, 2u);
}

TEST_F(LifecycleTest, ZeroCreditFetchIsAnsweredAtOnceNotParked) {
  Open();
  Group* g = Subscribe(1, "", MemberOptions{1, 0});
  ProduceN(2);
  ASSERT_EQ(FetchN(g, 1, 1).delivered, 1u);
  Window w = g->Fetch(1, Waiting(1, 30'000), now());
  EXPECT_FALSE(w.parked);
  EXPECT_EQ(w.delivered, 0u);
}

TEST_F(LifecycleTest, AFetchBehindAWaitingOneOfTheSameMemberWaitsBehindItAndLeaveDropsBoth) {
  Open();
  Group* g = Subscribe(1);
  ASSERT_TRUE(g->Fetch(1, Waiting(2, 30'000), now()).parked);
  ASSERT_TRUE(g->Fetch(1, Waiting(2, 30'000), now()).parked);
  Window no_wait = g->Fetch(1, Waiting(2, 0), now());
  EXPECT_FALSE(no_wait.parked);
  EXPECT_TRUE(no_wait.error.ok());
  EXPECT_EQ(no_wait.delivered, 0u) << "no pass ahead of the waiting fetches";
  ProduceN(3);
  auto done = g->Tick(now());
  ASSERT_EQ(done.size(), 2u);
  EXPECT_EQ(Offsets(done[0].window), (std::vector<uint64_t>{0, 1}));
  EXPECT_EQ(Offsets(done[1].window), (std::vector<uint64_t>{2}));
  EXPECT_FALSE(g->has_parked_fetches());

  ASSERT_TRUE(g->Fetch(1, Waiting(2, 30'000), now()).parked);
  ASSERT_TRUE(g->Fetch(1, Waiting(2, 30'000), now()).parked);
  ASSERT_TRUE(g->Leave(1, now(), false).ok());
  EXPECT_FALSE(g->has_parked_fetches());
}

TEST_F(LifecycleTest, AWaitingFetchBehindAnotherEndsNoEarlierThanTheOneAhead) {
  Open();
  Group* g = Subscribe(1);
  ASSERT_TRUE(g->Fetch(1, Waiting(1, 300), now()).parked);
  ASSERT_TRUE(g->Fetch(1, Waiting(1, 100), now()).parked);
  EXPECT_EQ(g->NextDeadline(), now() + 300 * kMs);
  EXPECT_TRUE(g->Tick(now() + 100 * kMs).empty()) << "its deadline was raised to the first one's";
  auto done = g->Tick(now() + 300 * kMs);
  ASSERT_EQ(done.size(), 2u);
  EXPECT_EQ(done[0].window.delivered, 0u);
  EXPECT_EQ(done[1].window.delivered, 0u);
}

TEST_F(LifecycleTest, CursorCheckpointFollowsTheIntervalCadence) {
  options_.checkpoint_interval = 4;
  Open();
  Group* g = Subscribe(1);
  ProduceN(7);
  for (const auto& d : Deliveries(FetchN(g, 1, 7))) ASSERT_EQ(Ack(g, 1, d), AckStatus::kOk);
  EXPECT_EQ(g->stats().checkpoint_writes, 1u);  // at committed 4; 5..7 not yet due
  PowerCut();
  Open();
  EXPECT_EQ(GroupNamed()->committed(), 4u);  // lags by < interval: 4..6 redeliver
  Group* again = Subscribe(1);
  EXPECT_EQ(Offsets(FetchN(again, 1, 10)), (std::vector<uint64_t>{4, 5, 6}));
}

TEST_F(LifecycleTest, CheckpointIntervalZeroWritesEveryAdvance) {
  options_.checkpoint_interval = 0;
  Open();
  Group* g = Subscribe(1);
  ProduceN(3);
  for (const auto& d : Deliveries(FetchN(g, 1, 3))) ASSERT_EQ(Ack(g, 1, d), AckStatus::kOk);
  EXPECT_EQ(g->stats().checkpoint_writes, 3u);
  PowerCut();
  Open();
  EXPECT_EQ(GroupNamed()->committed(), 3u);
}

TEST_F(LifecycleTest, GracefulShutdownCheckpointsEveryGroupExactly) {
  Open();
  Group* a = Subscribe(1, "a");
  Group* b = Subscribe(2, "b");
  ProduceN(5);
  auto da = Deliveries(FetchN(a, 1, 5));
  auto db = Deliveries(FetchN(b, 2, 2));
  for (const auto& d : da) {
    if (d.offset != 1) {
      ASSERT_EQ(Ack(a, 1, d), AckStatus::kOk);
    }
  }
  ASSERT_EQ(Ack(b, 2, db[0]), AckStatus::kOk);
  CloseClean();
  fs_.PowerCut(3, io::PowerCutMode::kDropAll);
  Open();
  EXPECT_EQ(GroupNamed("a")->committed(), 1u);
  EXPECT_TRUE(GroupNamed("a")->cursor().IsAcked(4));  // ahead ranges persisted too
  EXPECT_EQ(GroupNamed("b")->committed(), 1u);
  Group* a2 = Subscribe(1, "a");
  EXPECT_EQ(Offsets(FetchN(a2, 1, 10)), (std::vector<uint64_t>{1}));  // only the unacked one
}

TEST_F(LifecycleTest, CursorIsClampedToTheDurableHeadAfterAPowerCut) {
  // Relaxed durability: consumers may see (and ack) records a power cut then takes away.
  log_options_.durability = storage::Durability::kNone;
  log_options_.relaxed_durability_acknowledged = true;
  options_.checkpoint_interval = 0;
  Open();
  Group* g = Subscribe(1);
  ProduceN(2);  // Produce syncs: offsets 0 and 1 are durable
  for (int i = 2; i < 6; ++i) {
    storage::AppendRecord r;
    const Bytes p = ToBytes("volatile");
    r.payload = p;
    ASSERT_TRUE(log()->Append(r).ok());
  }
  ASSERT_TRUE(log()->Flush().ok());  // readable under kNone, not durable
  auto d = Deliveries(FetchN(g, 1, 10));
  ASSERT_EQ(d.size(), 6u);
  ASSERT_EQ(Ack(g, 1, d[5]), AckStatus::kOk);
  for (int i = 0; i < 4; ++i) ASSERT_EQ(Ack(g, 1, d[i]), AckStatus::kOk);
  ASSERT_EQ(g->committed(), 4u);  // written at every advance, with the ahead range [5, 6)
  PowerCut(5, io::PowerCutMode::kDropAll);
  Open();
  ASSERT_EQ(log()->readable_offset(), 2u);
  Group* again = GroupNamed();
  EXPECT_EQ(again->committed(), 2u);  // min(checkpointed 4, head 2): may lag, never lead
  EXPECT_TRUE(again->cursor().ahead_ranges().empty());
  // The offsets the cut took are reused by new records, and none of them is skipped.
  EXPECT_EQ(Produce("new-2"), 2u);
  EXPECT_EQ(Produce("new-3"), 3u);
  ASSERT_TRUE(again->Join(1, {}).ok());
  EXPECT_EQ(Offsets(FetchN(again, 1, 10)), (std::vector<uint64_t>{2, 3}));
}

TEST_F(LifecycleTest, AClampedCheckpointIsWrittenBackSoItNeverLeadsALaterOpen) {
  log_options_.durability = storage::Durability::kNone;
  log_options_.relaxed_durability_acknowledged = true;
  options_.checkpoint_interval = 0;
  Open();
  Group* g = Subscribe(1);
  ProduceN(2);
  for (int i = 2; i < 6; ++i) {
    storage::AppendRecord r;
    const Bytes p = ToBytes("volatile");
    r.payload = p;
    ASSERT_TRUE(log()->Append(r).ok());
  }
  ASSERT_TRUE(log()->Flush().ok());
  auto d = Deliveries(FetchN(g, 1, 10));
  ASSERT_EQ(d.size(), 6u);
  ASSERT_EQ(Nack(g, 1, d[3], 0), AckStatus::kOk);
  ASSERT_EQ(Ack(g, 1, d[5]), AckStatus::kOk);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(Ack(g, 1, d[i]), AckStatus::kOk);
  ASSERT_TRUE(g->Checkpoint().ok());  // cursor 3 + [5,6), attempts {3: 1, 4: 1}
  PowerCut(5, io::PowerCutMode::kDropAll);
  Open();  // head 2: clamped, and the files are rewritten
  ASSERT_EQ(GroupNamed()->committed(), 2u);
  ProduceN(4);  // offsets 2..5 again, new records, never consumed
  PowerCut(6, io::PowerCutMode::kDropAll);  // nobody wrote a checkpoint since the open
  Open();
  Group* again = GroupNamed();
  EXPECT_EQ(again->committed(), 2u);  // not the stale 3
  ASSERT_TRUE(again->Join(1, {}).ok());
  Window w = FetchN(again, 1, 10);
  EXPECT_EQ(Offsets(w), (std::vector<uint64_t>{2, 3, 4, 5}));  // 5 is not taken as acked
  for (const auto& x : Deliveries(w)) EXPECT_EQ(x.deliveries, 1u);  // no stale attempt counts
}

TEST_F(LifecycleTest, AttemptCountsSurviveACrashSoMaxDeliverStillFires) {
  options_.max_deliver = 3;
  Open();
  Group* g = Subscribe(1);
  ProduceN(1);
  ASSERT_EQ(Nack(g, 1, FetchOne(g, 1), 0), AckStatus::kOk);
  Delivery second = FetchOne(g, 1);  // a redelivery: the pass writes attempts*.ckpt
  ASSERT_EQ(second.deliveries, 2u);
  EXPECT_EQ(g->stats().attempts_writes, 1u);
  PowerCut();
  Open();
  g = Subscribe(1);
  Delivery third = FetchOne(g, 1);
  EXPECT_EQ(third.deliveries, 3u);  // carried 2 + 1
  ASSERT_EQ(Nack(g, 1, third, 0), AckStatus::kOk);
  Window w = FetchN(g, 1, 1);
  EXPECT_EQ(DeadLetters(w), (std::vector<uint64_t>{0}));
  EXPECT_EQ(w.delivered, 0u);
}

TEST_F(LifecycleTest, FirstDeliveriesNeverWriteTheAttemptsFile) {
  Open();
  Group* g = Subscribe(1);
  ProduceN(3);
  ASSERT_EQ(FetchN(g, 1, 3).delivered, 3u);
  EXPECT_EQ(g->stats().attempts_writes, 0u);
  EXPECT_FALSE(*fs_.Exists(std::string(testing::kDir) + "/" + format::AttemptsFileName("")));
}

TEST_F(LifecycleTest, RestartRedeliversEveryUnackedMessage) {
  Open();
  Group* g = Subscribe(1);
  ProduceN(3);
  auto d = Deliveries(FetchN(g, 1, 3));
  ASSERT_EQ(Ack(g, 1, d[1]), AckStatus::kOk);
  CloseClean();
  Open();
  g = Subscribe(7);
  Window w = FetchN(g, 7, 10);
  EXPECT_EQ(Offsets(w), (std::vector<uint64_t>{0, 2}));
  EXPECT_EQ(Deliveries(w)[0].deliveries, 2u);  // the attempts written at shutdown carry over
}

TEST_F(LifecycleTest, GroupIsCreatedOnSubscribeOrFetchNeverByAnAck) {
  Open();
  EXPECT_EQ(groups_->Find("orders"), nullptr);
  EXPECT_NE(groups_->Find(""), nullptr);  // the default group always exists
  ASSERT_NE(GroupNamed("orders"), nullptr);
  EXPECT_NE(groups_->Find("orders"), nullptr);
}

TEST_F(LifecycleTest, GroupNamesAreOneTo128GraphicAsciiBytes) {
  Open();
  EXPECT_EQ(ErrorCodeOf(groups_->GetOrCreate("bad name").status()), kErrInvalidGroupName);
  EXPECT_EQ(ErrorCodeOf(groups_->GetOrCreate(std::string(129, 'x')).status()), kErrInvalidGroupName);
  EXPECT_TRUE(groups_->GetOrCreate(std::string(128, 'x')).ok());
  EXPECT_TRUE(groups_->GetOrCreate("").ok());
}

TEST_F(LifecycleTest, MaxGroupsCapsNamedGroupsAndTheDefaultGroupIsNotCounted) {
  options_.max_groups = 2;
  Open();
  ASSERT_TRUE(groups_->GetOrCreate("a").ok());
  ASSERT_TRUE(groups_->GetOrCreate("b").ok());
  EXPECT_EQ(ErrorCodeOf(groups_->GetOrCreate("c").status()), kErrTooManyGroups);
  EXPECT_EQ(groups_->Find("c"), nullptr);
  EXPECT_TRUE(groups_->GetOrCreate("").ok());
  EXPECT_EQ(groups_->named_group_count(), 2u);
}

TEST_F(LifecycleTest, NamedGroupsWithCheckpointFilesAreLoadedAtOpen) {
  Open();
  Group* g = Subscribe(1, "orders");
  ProduceN(2);
  ASSERT_EQ(Ack(g, 1, FetchOne(g, 1)), AckStatus::kOk);
  CloseClean();
  Open();
  auto names = groups_->names();
  EXPECT_EQ(names, (std::vector<std::string>{"", "orders"}));
  EXPECT_EQ(groups_->Find("orders")->committed(), 1u);
  EXPECT_EQ(groups_->RetentionFloor(), 0u);  // the default group has consumed nothing
}

TEST_F(LifecycleTest, GroupFileNamesParseOnlyWhatTheMakerWrites) {
  EXPECT_EQ(Groups::ParseGroupFileName(format::CursorFileName("orders")), "orders");
  EXPECT_EQ(Groups::ParseGroupFileName(format::AttemptsFileName("a.b")), "a.b");
  EXPECT_EQ(Groups::ParseGroupFileName("cursor.ckpt"), std::nullopt);
  EXPECT_EQ(Groups::ParseGroupFileName("cursor-6F7264657273.ckpt"), std::nullopt);  // uppercase
  EXPECT_EQ(Groups::ParseGroupFileName("cursor-20.ckpt"), std::nullopt);  // a space is not graphic
  EXPECT_EQ(Groups::ParseGroupFileName("cursor-6f7.ckpt"), std::nullopt);
}

TEST_F(LifecycleTest, TruncationIsSignalledOnceWhenRecordsBelowTheCursorWereReaped) {
  log_options_.max_segment_bytes = 512;
  log_options_.retention.max_messages = 1;
  Open();
  Group* g = Subscribe(1, "", MemberOptions{1000, 0});
  for (int i = 0; i < 40; ++i) Produce(std::string(40, 'x'));
  // drop_oldest-style reap: delete segments the group has not consumed.
  auto reaped = log()->ApplyRetention(UINT64_MAX);
  ASSERT_TRUE(reaped.ok());
  ASSERT_GT(reaped->segments_deleted, 0u);
  const uint64_t earliest = log()->first_offset();
  Window w = FetchN(g, 1, 1000);
  ASSERT_FALSE(w.items.empty());
  const auto* t = std::get_if<TruncationNotice>(&w.items[0]);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->earliest_retained, earliest);
  EXPECT_EQ(t->skipped, earliest);
  EXPECT_EQ(Offsets(w).front(), earliest);
  EXPECT_EQ(g->stats().truncations, 1u);
  for (const auto& d : Deliveries(w)) ASSERT_EQ(Ack(g, 1, d), AckStatus::kOk);
  Produce("after");
  Window next = FetchN(g, 1, 10);
  for (const auto& item : next.items) EXPECT_FALSE(std::holds_alternative<TruncationNotice>(item));
}

TEST_F(LifecycleTest, ACheckpointWriteFailureDoesNotFailTheAckAndIsRetriedAtTheNextAdvance) {
  options_.checkpoint_interval = 0;
  Open();
  Group* g = Subscribe(1);
  ProduceN(2);
  auto d = Deliveries(FetchN(g, 1, 2));
  fs_.FailNextSync(format::CursorFileName(""));
  EXPECT_EQ(Ack(g, 1, d[0]), AckStatus::kOk);  // in memory; the durable cursor only lags
  EXPECT_EQ(g->stats().checkpoint_failures, 1u);
  EXPECT_FALSE(g->stats().last_checkpoint_error.ok());
  EXPECT_EQ(Ack(g, 1, d[1]), AckStatus::kOk);
  PowerCut();
  Open();
  EXPECT_EQ(GroupNamed()->committed(), 2u);
}

TEST_F(LifecycleTest, OffsetsRecoveryCouldNotKeepAreSteppedOver) {
  log_options_.max_segment_bytes = 512;
  Open();
  for (int i = 0; i < 20; ++i) Produce(std::string(16, static_cast<char>('a' + i)));
  CloseClean();
  // Damage the body of offset 2 inside the first (sealed) segment: recovery resynchronizes
  // past it (D1) and the offset becomes a hole; offsets never shift.
  const std::string seg = std::string(testing::kDir) + "/" + format::SegmentFileName(0);
  Bytes content = *fs_.CurrentContent(seg);
  uint64_t pos = format::kSegmentHeaderSize;
  for (int i = 0; i < 2; ++i) {
    format::RecordView v;
    pos += format::DecodeRecord(ByteView(content).subspan(pos), &v).frame_len;
  }
  format::RecordView v;
  const uint64_t frame_len = format::DecodeRecord(ByteView(content).subspan(pos), &v).frame_len;
  ASSERT_EQ(v.seq, 2u);
  content[pos + frame_len - 9] ^= 0x55;  // last payload byte: the body CRC fails
  ASSERT_TRUE(fs_.SetFileContent(seg, content).ok());
  Open();
  ASSERT_EQ(dir_->report.events.size(), 1u);
  Group* g = Subscribe(1, "", MemberOptions{100, 0});
  Window w = FetchN(g, 1, 100);
  std::vector<uint64_t> expect;
  for (uint64_t o = 0; o < 20; ++o) {
    if (o != 2) expect.push_back(o);
  }
  EXPECT_EQ(Offsets(w), expect);
  EXPECT_EQ(g->stats().holes_skipped, 1u);
  for (const auto& d : Deliveries(w)) ASSERT_EQ(Ack(g, 1, d), AckStatus::kOk);
  EXPECT_EQ(g->committed(), 20u);  // the watermark passes the hole
}

}  // namespace
}  // namespace ironbus::queue
