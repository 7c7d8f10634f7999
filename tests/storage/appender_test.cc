// The appender: group commit, ack-after-fdatasync, freeze on failure, backpressure, shedding,
// relaxed durability levels.
#include "storage/appender.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <thread>

#include "base/crash_point.h"
#include "storage_test_util.h"

namespace ironbus::storage {
namespace {

using testing::Eventually;
using testing::FrameLen;
using testing::kDir;
using testing::Payload;
using testing::SegPath;

// A one-shot gate: Wait() blocks until Open().
class Gate {
 public:
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return open_; });
  }
  void Open() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

AppendRequest Req(uint64_t i, size_t size = 16) {
  AppendRequest r;
  r.payload = Payload(i, size);
  return r;
}

class AppenderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs_.CreateDirs(kDir).ok());
    fs_.SyncAll();
  }

  void Start(LogOptions o = testing::RawOptions(), AppenderOptions a = {}, LogState st = testing::FreshState()) {
    log_ = testing::OpenLog(fs_, std::move(st), o, &clock_);
    ASSERT_NE(log_, nullptr);
    auto ap = Appender::Start(log_.get(), &clock_, std::move(a));
    ASSERT_TRUE(ap.ok());
    appender_ = std::move(ap).value();
    fs_.ResetCounters();
  }

  Result<uint64_t> SubmitAndWait(AppendRequest r) {
    auto p = std::make_shared<std::promise<Result<uint64_t>>>();
    auto f = p->get_future();
    Status s = appender_->Submit(std::move(r), [p](Result<uint64_t> off) { p->set_value(std::move(off)); });
    if (!s.ok()) return s;
    return f.get();
  }

  // Submits a request whose completion blocks the appender thread until `gate` opens, and
  // returns once the appender is inside that completion (so later submits queue up).
  void BlockAppender(Gate* gate, uint64_t i) {
    auto inside = std::make_shared<std::promise<void>>();
    auto entered = inside->get_future();
    ASSERT_TRUE(appender_
                    ->Submit(Req(i),
                             [gate, inside](Result<uint64_t> off) {
                               EXPECT_TRUE(off.ok()) << off.status().ToString();
                               inside->set_value();
                               gate->Wait();
                             })
                    .ok());
    entered.get();
  }

  io::SimFileSystem fs_;
  ManualClock clock_;
  std::unique_ptr<Log> log_;
  std::unique_ptr<Appender> appender_;
};

TEST_F(AppenderTest, AcksCarryConsecutiveOffsets) {
  Start();
  for (uint64_t i = 0; i < 5; ++i) {
    auto off = SubmitAndWait(Req(i));
    ASSERT_TRUE(off.ok()) << off.status().ToString();
    EXPECT_EQ(*off, i);
  }
  EXPECT_EQ(log_->durable_offset(), 5u);
}

TEST_F(AppenderTest, CrashPointsBracketTheFdatasync) {
  Start();
  std::vector<std::pair<std::string, uint64_t>> seen;  // name, durable records at that point
  SetCrashPointHook([&](std::string_view name) {
    seen.emplace_back(std::string(name), testing::DurableRecordCount(fs_, SegPath(0)));
  });
  auto off = SubmitAndWait(Req(0));
  SetCrashPointHook(nullptr);
  ASSERT_TRUE(off.ok());
  EXPECT_EQ(seen, (std::vector<std::pair<std::string, uint64_t>>{{"appender.after_write_before_sync", 0},
                                                                  {"appender.after_sync_before_ack", 1}}));
  EXPECT_EQ(fs_.CurrentContent(SegPath(0))->size(), 64 + FrameLen(16));
}

TEST_F(AppenderTest, GroupCommitCoversAWholeBatchWithOneFdatasync) {
  Start();
  Gate gate;
  BlockAppender(&gate, 0);
  constexpr int kWriters = 64;
  std::atomic<int> acked{0};
  std::atomic<int> acked_before_durable{0};
  std::vector<std::thread> writers;
  for (int t = 0; t < kWriters; ++t) {
    writers.emplace_back([&, t] {
      Status s = appender_->Submit(Req(100 + t), [&](Result<uint64_t> off) {
        ASSERT_TRUE(off.ok()) << off.status().ToString();
        // The completion runs after the covering fdatasync: the record is in the durable bytes.
        if (testing::DurableRecordCount(fs_, SegPath(0)) <= *off) acked_before_durable++;
        acked++;
      });
      EXPECT_TRUE(s.ok()) << s.ToString();
    });
  }
  for (auto& w : writers) w.join();
  ASSERT_EQ(appender_->queued(), static_cast<size_t>(kWriters));
  const uint64_t syncs_before = fs_.counters().syncs;
  gate.Open();
  ASSERT_TRUE(Eventually([&] { return acked.load() == kWriters; }));
  EXPECT_EQ(acked_before_durable.load(), 0);
  EXPECT_EQ(fs_.counters().syncs - syncs_before, 1u);  // 64 records, one fdatasync
  EXPECT_EQ(appender_->stats().max_batch, static_cast<uint64_t>(kWriters));
  EXPECT_EQ(log_->durable_offset(), kWriters + 1u);
}

TEST_F(AppenderTest, ConcurrentWritersNeverSeeAnAckBeforeItsSync) {
  Start();
  constexpr int kWriters = 16;
  constexpr int kEach = 40;
  std::atomic<int> violations{0};
  std::vector<std::thread> writers;
  std::vector<std::vector<uint64_t>> offsets(kWriters);
  for (int t = 0; t < kWriters; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        auto p = std::make_shared<std::promise<Result<uint64_t>>>();
        auto f = p->get_future();
        ASSERT_TRUE(appender_
                        ->Submit(Req(t * 1000 + i),
                                 [&, p](Result<uint64_t> off) {
                                   if (off.ok() && testing::DurableRecordCount(fs_, SegPath(0)) <= *off) {
                                     violations++;
                                   }
                                   p->set_value(std::move(off));
                                 })
                        .ok());
        auto off = f.get();
        ASSERT_TRUE(off.ok());
        offsets[t].push_back(*off);
      }
    });
  }
  for (auto& w : writers) w.join();
  EXPECT_EQ(violations.load(), 0);
  std::vector<uint64_t> all;
  for (auto& v : offsets) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  for (size_t i = 0; i < all.size(); ++i) ASSERT_EQ(all[i], i);  // unique and gap-free
  // Group commit: never more syncs than records (usually far fewer; not asserted, timing).
  EXPECT_LE(appender_->stats().syncs, static_cast<uint64_t>(kWriters * kEach));
}

TEST_F(AppenderTest, FailedFdatasyncFailsTheBatchAndFreezesForGood) {
  Start();
  Gate gate;
  BlockAppender(&gate, 0);  // record 0 is durable and acked
  constexpr int kBatch = 5;
  std::vector<std::future<Result<uint64_t>>> results;
  for (int i = 1; i <= kBatch; ++i) {
    auto p = std::make_shared<std::promise<Result<uint64_t>>>();
    results.push_back(p->get_future());
    ASSERT_TRUE(appender_->Submit(Req(i), [p](Result<uint64_t> off) { p->set_value(std::move(off)); }).ok());
  }
  fs_.FailNextSync("seg-");
  gate.Open();
  for (auto& f : results) {
    Result<uint64_t> r = f.get();
    EXPECT_TRUE(r.status().IsIOError()) << r.status().ToString();  // never acked
  }
  EXPECT_TRUE(log_->frozen());
  const uint64_t syncs = fs_.counters().syncs;
  Status later = appender_->Submit(Req(9), [](Result<uint64_t>) { ADD_FAILURE() << "refused submit completed"; });
  EXPECT_TRUE(later.IsFailedPrecondition());
  EXPECT_NE(later.message().find("log frozen"), std::string::npos) << later.ToString();
  EXPECT_EQ(appender_->TrySubmit(Req(10), nullptr), later);  // the same sticky error
  EXPECT_EQ(fs_.counters().syncs, syncs);                    // the sync is never retried
  EXPECT_EQ(log_->durable_offset(), 1u);
  auto batch = log_->Read(0, 100, 1 << 20);  // what was durable is still served
  ASSERT_TRUE(batch.ok());
  ASSERT_EQ(batch->records.size(), 1u);
  EXPECT_EQ(batch->records[0].record.payload, Payload(0));
  EXPECT_EQ(appender_->Stop(), later);
}

TEST_F(AppenderTest, FailedWriteFreezes) {
  Start();
  ASSERT_TRUE(SubmitAndWait(Req(0)).ok());
  fs_.FailNextWrite("seg-");
  EXPECT_TRUE(SubmitAndWait(Req(1)).status().IsIOError());
  EXPECT_TRUE(SubmitAndWait(Req(2)).status().IsFailedPrecondition());
  EXPECT_EQ(log_->Read(0, 10, 1 << 20)->records.size(), 1u);
}

TEST_F(AppenderTest, RefusedRecordGetsItsErrorAndConsumesNoOffset) {
  LogOptions o = testing::RawOptions();
  o.max_record_bytes = FrameLen(100);
  Start(o);
  EXPECT_EQ(*SubmitAndWait(Req(0)), 0u);
  EXPECT_EQ(SubmitAndWait(Req(1, 500)).status().code(), StatusCode::kOutOfRange);
  AppendRequest bad = Req(2);
  bad.flags = format::kFlagCompressed;  // not a compressed payload
  EXPECT_EQ(SubmitAndWait(std::move(bad)).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(*SubmitAndWait(Req(3)), 1u);
  EXPECT_FALSE(log_->frozen());
}

TEST_F(AppenderTest, AtCapacityOnNewSegmentShedsWithoutFreezing) {
  Start(testing::RawOptions(64 + 2 * FrameLen(16)));
  EXPECT_EQ(*SubmitAndWait(Req(0)), 0u);
  EXPECT_EQ(*SubmitAndWait(Req(1)), 1u);
  fs_.NoSpaceOnPreallocate("seg-0000000000000001");
  EXPECT_TRUE(SubmitAndWait(Req(2)).status().IsUnavailable());
  EXPECT_FALSE(log_->frozen());
  EXPECT_EQ(*SubmitAndWait(Req(3)), 2u);
}

TEST_F(AppenderTest, AtCapacityShedsTheRestOfTheBatchWithOneAttempt) {
  Start(testing::RawOptions(64 + 2 * FrameLen(16)));
  Gate gate;
  BlockAppender(&gate, 0);
  std::vector<std::future<Result<uint64_t>>> results;
  for (int i = 1; i <= 4; ++i) {  // 1 fills segment 0; 2 needs segment 1: refused, 3 and 4 shed
    auto p = std::make_shared<std::promise<Result<uint64_t>>>();
    results.push_back(p->get_future());
    ASSERT_TRUE(appender_->Submit(Req(i), [p](Result<uint64_t> off) { p->set_value(std::move(off)); }).ok());
  }
  fs_.NoSpaceOnPreallocate("seg-", 2);
  gate.Open();
  EXPECT_EQ(*results[0].get(), 1u);
  for (int i = 1; i < 4; ++i) EXPECT_TRUE(results[i].get().status().IsUnavailable()) << i;
  EXPECT_EQ(fs_.armed_faults(), 1);  // only one create was tried
  EXPECT_FALSE(log_->frozen());
}

TEST_F(AppenderTest, TrySubmitShedsWhenTheQueueIsFull) {
  AppenderOptions a;
  a.queue_capacity = 2;
  Start(testing::RawOptions(), a);
  Gate gate;
  BlockAppender(&gate, 0);
  EXPECT_TRUE(appender_->TrySubmit(Req(1), nullptr).ok());
  EXPECT_TRUE(appender_->TrySubmit(Req(2), nullptr).ok());
  EXPECT_TRUE(appender_->TrySubmit(Req(3), nullptr).IsUnavailable());
  gate.Open();
  ASSERT_TRUE(Eventually([&] { return log_->durable_offset() == 3; }));
  EXPECT_TRUE(appender_->TrySubmit(Req(4), nullptr).ok());
}

TEST_F(AppenderTest, SubmitBlocksWhileTheQueueIsFull) {
  AppenderOptions a;
  a.queue_capacity = 1;
  Start(testing::RawOptions(), a);
  Gate gate;
  BlockAppender(&gate, 0);
  ASSERT_TRUE(appender_->Submit(Req(1), nullptr).ok());
  std::atomic<bool> returned{false};
  std::thread blocked([&] {
    EXPECT_TRUE(appender_->Submit(Req(2), nullptr).ok());
    returned = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(returned.load());  // backpressure: no room, so no return
  gate.Open();
  blocked.join();
  EXPECT_TRUE(returned.load());
  ASSERT_TRUE(Eventually([&] { return log_->durable_offset() == 3; }));
}

TEST_F(AppenderTest, StopDrainsTheQueueWithAFinalSync) {
  LogOptions o = testing::RawOptions();
  o.durability = Durability::kNone;
  o.relaxed_durability_acknowledged = true;
  Start(o);
  std::atomic<int> done{0};
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(appender_->Submit(Req(i), [&](Result<uint64_t> off) { done += off.ok() ? 1 : 0; }).ok());
  }
  ASSERT_TRUE(appender_->Stop().ok());
  EXPECT_EQ(done.load(), 50);
  EXPECT_EQ(log_->durable_offset(), 50u);
  EXPECT_EQ(testing::DurableRecordCount(fs_, SegPath(0)), 50u);
  EXPECT_TRUE(appender_->Submit(Req(51), nullptr).IsFailedPrecondition());
}

TEST_F(AppenderTest, NoneAcksAfterTheWriteAndSyncsOnlyAtStop) {
  LogOptions o = testing::RawOptions();
  o.durability = Durability::kNone;
  o.relaxed_durability_acknowledged = true;
  Start(o);
  for (uint64_t i = 0; i < 5; ++i) EXPECT_EQ(*SubmitAndWait(Req(i)), i);
  EXPECT_EQ(fs_.counters().syncs, 0u);
  EXPECT_EQ(log_->durable_offset(), 0u);
  EXPECT_EQ(log_->readable_offset(), 5u);  // acked records are readable
  EXPECT_EQ(testing::DurableRecordCount(fs_, SegPath(0)), 0u);
  ASSERT_TRUE(appender_->Stop().ok());
  EXPECT_EQ(log_->durable_offset(), 5u);
}

TEST_F(AppenderTest, IntervalSyncsWhenTheTimeWindowCloses) {
  LogOptions o = testing::RawOptions();
  o.durability = Durability::kInterval;
  o.flush_interval_ms = 1000;
  o.flush_max_bytes = 0;
  Start(o);
  EXPECT_EQ(*SubmitAndWait(Req(0)), 0u);  // acked after the write
  EXPECT_EQ(log_->durable_offset(), 0u);
  EXPECT_EQ(testing::DurableRecordCount(fs_, SegPath(0)), 0u);
  clock_.AdvanceMs(999);
  EXPECT_EQ(*SubmitAndWait(Req(1)), 1u);
  EXPECT_EQ(fs_.counters().syncs, 0u);  // still inside the window
  clock_.AdvanceMs(1);
  ASSERT_TRUE(Eventually([&] { return log_->durable_offset() == 2; }));  // the idle timer synced
  EXPECT_EQ(testing::DurableRecordCount(fs_, SegPath(0)), 2u);
}

TEST_F(AppenderTest, IntervalSyncsWhenTheByteWindowFills) {
  LogOptions o = testing::RawOptions();
  o.durability = Durability::kInterval;
  o.flush_interval_ms = 0;
  o.flush_max_bytes = 3 * FrameLen(16);
  Start(o);
  EXPECT_EQ(*SubmitAndWait(Req(0)), 0u);
  EXPECT_EQ(*SubmitAndWait(Req(1)), 1u);
  EXPECT_EQ(log_->durable_offset(), 0u);
  EXPECT_EQ(*SubmitAndWait(Req(2)), 2u);
  ASSERT_TRUE(Eventually([&] { return log_->durable_offset() == 3; }));
  EXPECT_EQ(fs_.counters().syncs, 1u);
}

TEST_F(AppenderTest, FrozenLogAtOpenRefusesEverySubmit) {
  LogState st = testing::FreshState();
  st.needs_new_active_segment = false;
  st.frozen = true;
  st.frozen_reason = "recovery loss over the cap";
  Start(testing::RawOptions(), {}, st);
  Status s = appender_->Submit(Req(0), nullptr);
  EXPECT_TRUE(s.IsFailedPrecondition());
  EXPECT_NE(s.message().find("recovery loss over the cap"), std::string::npos);
}

TEST_F(AppenderTest, RetentionRunsAfterDurableBatchesAboveTheFloor) {
  LogOptions o = testing::RawOptions(64 + 2 * FrameLen(16));
  o.retention.max_messages = 2;
  AppenderOptions a;
  std::atomic<uint64_t> floor{0};
  a.retention_floor = [&] { return floor.load(); };
  Start(o, a);
  for (uint64_t i = 0; i < 7; ++i) ASSERT_TRUE(SubmitAndWait(Req(i)).ok());
  EXPECT_EQ(log_->first_offset(), 0u);  // the floor protects everything
  floor = 4;
  ASSERT_TRUE(SubmitAndWait(Req(7)).ok());
  // Retention runs after the completions: wait for it, then check it stopped at the floor.
  ASSERT_TRUE(Eventually([&] { return log_->first_offset() == 4; }));
  ASSERT_TRUE(appender_->Stop().ok());
  EXPECT_EQ(log_->first_offset(), 4u);
}

}  // namespace
}  // namespace ironbus::storage
