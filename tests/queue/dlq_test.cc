// Max-deliver and the dead-letter queue (spec/consumers.md 8, spec/storage.md 8): the record
// layout, creation on first use, the crash-atomic exactly-once move, the exact per-group set.
#include <gtest/gtest.h>

#include <map>

#include "format/compression.h"
#include "queue/queue_test_util.h"

namespace ironbus::queue {
namespace {

using testing::kMs;

// Drives offset `offset` of group `g` through nacks until the window reports it dead-lettered.
// Returns the deliveries seen.
int DriveToDeadLetter(testing::QueueEnv& env, Group* g, uint64_t member, uint64_t offset, int bound = 20) {
  int seen = 0;
  for (int i = 0; i < bound; ++i) {
    Window w = env.FetchN(g, member, 100);
    for (const auto& d : testing::QueueEnv::Deliveries(w)) {
      if (d.offset == offset) {
        ++seen;
        EXPECT_EQ(env.Nack(g, member, d, 0), AckStatus::kOk);
      } else {
        EXPECT_EQ(env.Ack(g, member, d), AckStatus::kOk);
      }
    }
    for (uint64_t o : testing::QueueEnv::DeadLetters(w)) {
      if (o == offset) return seen;
    }
  }
  ADD_FAILURE() << "offset " << offset << " never dead-lettered";
  return seen;
}

class DlqTest : public testing::QueueTest {
 protected:
  void SetUp() override { options_.visibility_timeout_ms = 1000; }
};

TEST_F(DlqTest, FifthDeliveryIsTheLastAndTheSixthGrantDeadLetters) {
  Open();
  Group* g = Subscribe(1);
  Produce("poison", "k1", "h=1");
  Produce("next");
  for (uint32_t attempt = 1; attempt <= 5; ++attempt) {
    Window w = FetchN(g, 1, 1);
    ASSERT_EQ(Offsets(w), (std::vector<uint64_t>{0}));
    ASSERT_EQ(Deliveries(w)[0].deliveries, attempt);
    ASSERT_EQ(Nack(g, 1, Deliveries(w)[0], 0), AckStatus::kOk);
  }
  Window w = FetchN(g, 1, 2);
  ASSERT_EQ(w.items.size(), 2u);
  const auto* notice = std::get_if<DeadLetterNotice>(&w.items[0]);
  ASSERT_NE(notice, nullptr);
  EXPECT_EQ(notice->offset, 0u);
  EXPECT_EQ(notice->reason, format::kDlqReasonMaxDeliver);
  EXPECT_EQ(Offsets(w), (std::vector<uint64_t>{1}));  // advisories do not count in FlowEnd
  EXPECT_EQ(w.delivered, 1u);
  EXPECT_EQ(g->committed(), 1u);  // the source is committed past the poison message
  EXPECT_EQ(g->stats().dead_lettered, 1u);
  EXPECT_EQ(g->stats().last_dead_lettered_offset, 0);
}

TEST_F(DlqTest, DeadLetterRecordKeepsKeyPayloadTimestampAndCarriesTheDlq1Prefix) {
  options_.max_deliver = 1;
  Open();
  Group* g = Subscribe(1, "orders");
  Produce("poison", "k1", "h=1");
  const int64_t source_ts = static_cast<int64_t>(log()->Read(0, 1, 1 << 20)->records[0].record.timestamp_ms);
  ASSERT_EQ(DriveToDeadLetter(*this, g, 1, 0), 1);
  auto dlq = ReadDlq();
  ASSERT_EQ(dlq.size(), 1u);
  EXPECT_EQ(dlq[0].source_offset, 0u);
  EXPECT_EQ(dlq[0].attempt, 2u);  // the grant that crossed max_deliver
  EXPECT_EQ(dlq[0].group, "orders");
  EXPECT_EQ(AsChars(dlq[0].original_headers), "h=1");
  EXPECT_EQ(AsChars(dlq[0].stored.record.key), "k1");
  EXPECT_EQ(AsChars(dlq[0].stored.record.payload), "poison");
  EXPECT_EQ(static_cast<int64_t>(dlq[0].stored.record.timestamp_ms), source_ts);
  EXPECT_NE(dlq[0].stored.record.flags & format::kFlagHasKey, 0);
  EXPECT_EQ(dlq[0].stored.record.flags & format::kFlagCompressed, 0);
}

TEST_F(DlqTest, CompressedFlagIsCarriedAndHasKeyIsRecomputed) {
  log_options_.compression = format::Compression::kLz4;
  options_.max_deliver = 1;
  Open();
  Group* g = Subscribe(1);
  const std::string big(4096, 'z');  // compresses under D8
  Produce(big);
  const auto source = log()->Read(0, 1, 1 << 20)->records[0].record;
  ASSERT_NE(source.flags & format::kFlagCompressed, 0);
  ASSERT_EQ(DriveToDeadLetter(*this, g, 1, 0), 1);
  auto dlq = ReadDlq();
  ASSERT_EQ(dlq.size(), 1u);
  EXPECT_NE(dlq[0].stored.record.flags & format::kFlagCompressed, 0);
  EXPECT_EQ(dlq[0].stored.record.flags & format::kFlagHasKey, 0);  // keyless source
  EXPECT_EQ(dlq[0].stored.record.payload, source.payload);  // stored bytes verbatim, decodable
}

TEST_F(DlqTest, DlqDirectoryIsCreatedOnTheFirstDeadLetterAndIsDurable) {
  options_.max_deliver = 1;
  Open();
  Group* g = Subscribe(1);
  ProduceN(2);
  ASSERT_EQ(Ack(g, 1, FetchOne(g, 1)), AckStatus::kOk);
  EXPECT_FALSE(*fs_.Exists("/data/dlq"));
  EXPECT_FALSE(groups_->dlq()->exists());
  ASSERT_EQ(DriveToDeadLetter(*this, g, 1, 1), 1);
  EXPECT_TRUE(fs_.DurablyExists("/data/dlq"));
  PowerCut();
  EXPECT_EQ(ReadDlq().size(), 1u);  // fdatasync'd before the source commit
}

TEST_F(DlqTest, ExactSetKeepsALowerOffsetDeadLetteredAfterAHigherOne) {
  options_.max_deliver = 1;
  Open();
  Group* g = Subscribe(1);
  ProduceN(3);
  ASSERT_EQ(DriveToDeadLetter(*this, g, 1, 2), 1);  // 2 first (0 and 1 were acked meanwhile)
  PowerCut();  // the cursor (interval 1024) was never written: everything redelivers
  Open();
  EXPECT_EQ(groups_->dlq()->HeldOffsets(""), (std::set<uint64_t>{2}));  // rebuilt by scanning
  g = Subscribe(1);
  // Offset 0 becomes poison only now. A high-water mark (2) would wrongly skip its append.
  ASSERT_EQ(DriveToDeadLetter(*this, g, 1, 0), 1);
  std::multiset<uint64_t> sources;
  for (const auto& e : ReadDlq()) sources.insert(e.source_offset);
  EXPECT_EQ(sources, (std::multiset<uint64_t>{0, 2}));
}

TEST_F(DlqTest, AnOffsetAlreadyInTheDlqIsNeverDeliveredAgainNorAppendedTwice) {
  options_.max_deliver = 1;
  Open();
  Group* g = Subscribe(1);
  ProduceN(2);
  ASSERT_EQ(DriveToDeadLetter(*this, g, 1, 0), 1);
  PowerCut();  // committed 2 in memory, 0 on disk
  Open();
  g = Subscribe(1);
  Window w = FetchN(g, 1, 10);
  EXPECT_EQ(DeadLetters(w), (std::vector<uint64_t>{0}));  // step 3 finished, no delivery
  EXPECT_EQ(Offsets(w), (std::vector<uint64_t>{1}));
  EXPECT_EQ(ReadDlq().size(), 1u);
}

TEST_F(DlqTest, ALostDeadLetteredSourceDoesNotShadowANewRecordAtTheSameOffset) {
  // Relaxed durability: offset 1 is seen, dead-lettered (the DLQ is fdatasync'd), then a power
  // cut takes it out of the main log and a new record takes offset 1.
  log_options_.durability = storage::Durability::kNone;
  log_options_.relaxed_durability_acknowledged = true;
  options_.max_deliver = 1;
  Open();
  Group* g = Subscribe(1);
  Produce("durable");
  storage::AppendRecord r;
  const Bytes old_payload = ToBytes("lost");
  r.payload = old_payload;
  r.timestamp_ms = 1000;
  ASSERT_TRUE(log()->Append(r).ok());
  ASSERT_TRUE(log()->Flush().ok());
  ASSERT_EQ(DriveToDeadLetter(*this, g, 1, 1), 1);
  PowerCut(9, io::PowerCutMode::kDropAll);
  Open();
  ASSERT_EQ(log()->readable_offset(), 1u);
  r.timestamp_ms = 2000;
  const Bytes new_payload = ToBytes("fresh");
  r.payload = new_payload;
  ASSERT_EQ(*log()->Append(r), 1u);
  ASSERT_TRUE(log()->Sync().ok());
  g = Subscribe(1);
  Window w = FetchN(g, 1, 10);
  ASSERT_EQ(Offsets(w), (std::vector<uint64_t>{0, 1}));  // the new record is delivered
  EXPECT_EQ(AsChars(Deliveries(w)[1].record.payload), "fresh");
  EXPECT_TRUE(DeadLetters(w).empty());
  // If it turns out to be poison too, it is dead-lettered on its own.
  ASSERT_EQ(Nack(g, 1, Deliveries(w)[1], 0), AckStatus::kOk);
  EXPECT_EQ(DeadLetters(FetchN(g, 1, 10)), (std::vector<uint64_t>{1}));
  auto dlq = ReadDlq();
  ASSERT_EQ(dlq.size(), 2u);
  EXPECT_EQ(AsChars(dlq[0].stored.record.payload), "lost");
  EXPECT_EQ(AsChars(dlq[1].stored.record.payload), "fresh");
}

TEST_F(DlqTest, SetsAreKeptPerGroup) {
  options_.max_deliver = 1;
  Open();
  Group* a = Subscribe(1, "a");
  Group* b = Subscribe(2, "b");
  ProduceN(1);
  ASSERT_EQ(DriveToDeadLetter(*this, a, 1, 0), 1);
  ASSERT_EQ(DriveToDeadLetter(*this, b, 2, 0), 1);  // same source offset, another group
  std::map<std::string, int> per_group;
  for (const auto& e : ReadDlq()) per_group[e.group] += 1;
  EXPECT_EQ(per_group, (std::map<std::string, int>{{"a", 1}, {"b", 1}}));
}

TEST_F(DlqTest, FailedDlqAppendCommitsNothingAndTheMoveIsRetriedLater) {
  options_.max_deliver = 1;
  Open();
  Group* g = Subscribe(1);
  ProduceN(1);
  ASSERT_EQ(Nack(g, 1, FetchOne(g, 1), 0), AckStatus::kOk);
  fs_.FailNextSync("/data/dlq/seg-");
  Window w = g->Fetch(1, FetchRequest{1, 0, 0}, now());
  EXPECT_EQ(ErrorCodeOf(w.error), kErrStorage);
  EXPECT_TRUE(DeadLetters(w).empty());
  EXPECT_EQ(g->committed(), 0u);
  EXPECT_EQ(g->stats().dead_lettered, 0u);
  EXPECT_TRUE(ReadDlq().empty());
  // The lease stays until its deadline; then the move is tried again and succeeds.
  EXPECT_TRUE(FetchN(g, 1, 1).items.empty());
  AdvanceMs(1000);
  Window retry = FetchN(g, 1, 1);
  EXPECT_EQ(DeadLetters(retry), (std::vector<uint64_t>{0}));
  EXPECT_EQ(g->committed(), 1u);
  EXPECT_EQ(ReadDlq().size(), 1u);
}

TEST_F(DlqTest, PeekingWithoutAckingCountsAsAttemptsAndEventuallyDeadLetters) {
  Open();
  Group* g = Subscribe(1);
  ProduceN(1);
  for (uint32_t attempt = 1; attempt <= 5; ++attempt) {
    ASSERT_EQ(FetchOne(g, 1).deliveries, attempt);
    AdvanceMs(1000);  // never settled: the lease expires
  }
  EXPECT_EQ(DeadLetters(FetchN(g, 1, 1)), (std::vector<uint64_t>{0}));
  EXPECT_EQ(ReadDlq().size(), 1u);
}

// Sweep: crash at every mutating file-system operation of the poll that moves a message to the
// DLQ (DLQ directory creation, recovery, segment create, append, fdatasync, cursor commit,
// attempts write), power-cut, restart, and drive the message again. Whatever the cut point,
// the DLQ ends up holding the message exactly once and the source cursor is committed past it.
TEST(DlqCrashSweep, DeadLetterIsExactlyOnceAcrossACrashBetweenTheAppendAndTheCommit) {
  auto setup = [](testing::QueueEnv& env) {
    env.options_.max_deliver = 1;
    env.options_.checkpoint_interval = 0;  // the source commit writes the cursor at once
    env.Open();
    Group* g = env.Subscribe(1);
    env.Produce("poison", "k");
    EXPECT_EQ(env.Nack(g, 1, env.FetchOne(g, 1), 0), AckStatus::kOk);
    return g;
  };
  uint64_t total_ops = 0;
  {
    testing::QueueEnv env;
    Group* g = setup(env);
    env.fs_.ResetCounters();
    Window w = env.FetchN(g, 1, 1);
    ASSERT_EQ(testing::QueueEnv::DeadLetters(w), (std::vector<uint64_t>{0}));
    total_ops = env.fs_.counters().mutating_ops;
  }
  ASSERT_GT(total_ops, 5u);
  int between = 0;  // cases cut after the DLQ fdatasync and before the durable source commit
  for (uint64_t k = 0; k <= total_ops; ++k) {
    for (io::PowerCutMode mode : {io::PowerCutMode::kDropAll, io::PowerCutMode::kRandom}) {
      SCOPED_TRACE("crash after op " + std::to_string(k) + (mode == io::PowerCutMode::kRandom ? " random" : " drop"));
      testing::QueueEnv env;
      Group* g = setup(env);
      env.fs_.CrashAfterOps(k);
      Window crashed = g->Fetch(1, FetchRequest{1, 0, 0}, env.now());
      (void)crashed;  // anything from a window to a storage error, depending on the cut
      env.PowerCut(k, mode);
      env.Open();
      g = env.Subscribe(1);
      // A cut after the cursor commit was durable leaves nothing to do; otherwise the message
      // redelivers (its attempt count may have been lost) until the move completes.
      bool moved = g->committed() == 1;
      if (!moved && env.groups_->dlq()->Contains("", 0)) ++between;
      for (int i = 0; i < 10 && !moved; ++i) {
        Window w = env.FetchN(g, 1, 1);
        for (const auto& d : testing::QueueEnv::Deliveries(w)) EXPECT_EQ(env.Nack(g, 1, d, 0), AckStatus::kOk);
        moved = !testing::QueueEnv::DeadLetters(w).empty();
      }
      ASSERT_TRUE(moved);
      auto dlq = env.ReadDlq();
      ASSERT_EQ(dlq.size(), 1u);
      EXPECT_EQ(dlq[0].source_offset, 0u);
      EXPECT_EQ(AsChars(dlq[0].stored.record.key), "k");
      EXPECT_EQ(g->committed(), 1u);
      // And a further restart neither re-appends nor redelivers it.
      env.CloseClean();
      env.Open();
      g = env.Subscribe(1);
      EXPECT_TRUE(env.FetchN(g, 1, 10).items.empty());
      EXPECT_EQ(env.ReadDlq().size(), 1u);
    }
  }
  EXPECT_GT(between, 0) << "the sweep never cut between the DLQ append and the source commit";
}

}  // namespace
}  // namespace ironbus::queue
