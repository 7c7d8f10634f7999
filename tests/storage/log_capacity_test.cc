// Capacity (spec/storage.md 12.5, spec/consumers.md 12.2): the byte cap and the free-disk
// watermark refuse before anything is written; MakeRoom frees consumed segments under every
// policy and unconsumed ones only under drop-oldest; the appender retries once after freeing,
// holds under block, and counts what it shed and reaped.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

#include "storage/appender.h"
#include "storage/log.h"
#include "storage_test_util.h"

namespace ironbus::storage {
namespace {

using testing::FrameLen;
using testing::kDir;
using testing::Payload;
using testing::Rec;
using testing::SegPath;

constexpr uint64_t kPerSegment = 4;
const uint64_t kFrame = FrameLen(16);
const uint64_t kSegmentBytes = 64 + kPerSegment * kFrame;

class LogCapacityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs_.CreateDirs(kDir).ok());
    fs_.SyncAll();
  }

  void Open(CapacityOptions c, uint64_t segment_bytes = kSegmentBytes) {
    LogOptions o = testing::RawOptions(segment_bytes);
    o.capacity = c;
    log_ = testing::OpenLog(fs_, testing::FreshState(), o, &clock_);
    ASSERT_NE(log_, nullptr);
  }

  Result<uint64_t> Append(uint64_t i) { return log_->Append(Rec(Payload(i))); }

  io::SimFileSystem fs_;
  ManualClock clock_{1'000'000};
  std::unique_ptr<Log> log_;
};

TEST_F(LogCapacityTest, ByteCapRefusesBeforeAnythingIsWrittenAndConsumesNoOffset) {
  CapacityOptions c;
  c.max_total_bytes = 3 * kFrame;
  Open(c, 1 << 20);
  for (uint64_t i = 0; i < 3; ++i) ASSERT_TRUE(Append(i).ok());
  ASSERT_TRUE(log_->Sync().ok());
  const uint64_t size_before = fs_.CurrentContent(SegPath(0))->size();
  Result<uint64_t> refused = Append(3);
  ASSERT_TRUE(refused.status().IsUnavailable()) << refused.status().ToString();
  EXPECT_NE(refused.status().message().find("at capacity"), std::string::npos) << refused.status().message();
  EXPECT_NE(refused.status().message().find("max_total_bytes"), std::string::npos);
  EXPECT_EQ(log_->next_offset(), 3u);
  EXPECT_EQ(fs_.CurrentContent(SegPath(0))->size(), size_before);
  EXPECT_FALSE(log_->frozen());
  EXPECT_EQ(log_->total_record_bytes(), 3 * kFrame);
}

TEST_F(LogCapacityTest, CapCountsAppendedButUnsyncedBytes) {
  CapacityOptions c;
  c.max_total_bytes = 2 * kFrame;
  Open(c, 1 << 20);
  ASSERT_TRUE(Append(0).ok());
  ASSERT_TRUE(Append(1).ok());
  EXPECT_TRUE(Append(2).status().IsUnavailable()) << "nothing synced yet, still two frames held";
}

TEST_F(LogCapacityTest, AnEmptyLogAlwaysTakesOneRecord) {
  CapacityOptions c;
  c.max_total_bytes = 1;
  Open(c);
  EXPECT_TRUE(Append(0).ok());
  EXPECT_TRUE(Append(1).status().IsUnavailable());
}

TEST_F(LogCapacityTest, MakeRoomDeletesOnlyConsumedSegmentsUnderDropNew) {
  CapacityOptions c;
  c.max_total_bytes = 9 * kFrame;  // two full segments and one record in the third
  Open(c);
  for (uint64_t i = 0; i < 9; ++i) ASSERT_TRUE(Append(i).ok());
  ASSERT_TRUE(log_->Sync().ok());
  ASSERT_TRUE(Append(9).status().IsUnavailable());

  Result<RetentionResult> none = log_->MakeRoom(/*protect_floor_offset=*/3);  // segment 0 ends at 4
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->segments_deleted, 0u);
  EXPECT_TRUE(Append(9).status().IsUnavailable());

  Result<RetentionResult> freed = log_->MakeRoom(/*protect_floor_offset=*/4);
  ASSERT_TRUE(freed.ok());
  EXPECT_EQ(freed->segments_deleted, 1u);
  EXPECT_EQ(freed->force_reaped_segments, 0u);
  EXPECT_FALSE(fs_.Exists(SegPath(0)).value());
  EXPECT_EQ(log_->first_offset(), 4u);
  EXPECT_EQ(*Append(9), 9u);
}

TEST_F(LogCapacityTest, DropOldestForceReapsUnconsumedSegmentsAndCountsThem) {
  CapacityOptions c;
  c.max_total_bytes = 9 * kFrame;
  c.policy = DiskFullPolicy::kDropOldest;
  Open(c);
  for (uint64_t i = 0; i < 9; ++i) ASSERT_TRUE(Append(i).ok());
  ASSERT_TRUE(log_->Sync().ok());
  Result<RetentionResult> freed = log_->MakeRoom(/*protect_floor_offset=*/0);
  ASSERT_TRUE(freed.ok());
  EXPECT_EQ(freed->segments_deleted, 1u);
  EXPECT_EQ(freed->force_reaped_segments, 1u);
  EXPECT_EQ(freed->force_reaped_records, kPerSegment);
  EXPECT_EQ(log_->first_offset(), 4u);
  EXPECT_EQ(*Append(9), 9u);
}

TEST_F(LogCapacityTest, DropOldestNeverDeletesTheActiveSegmentAndThenRefuses) {
  CapacityOptions c;
  c.max_total_bytes = 2 * kFrame;
  c.policy = DiskFullPolicy::kDropOldest;
  Open(c, 1 << 20);  // everything stays in the active segment
  ASSERT_TRUE(Append(0).ok());
  ASSERT_TRUE(Append(1).ok());
  ASSERT_TRUE(log_->Sync().ok());
  Result<RetentionResult> freed = log_->MakeRoom(/*protect_floor_offset=*/0);
  ASSERT_TRUE(freed.ok());
  EXPECT_EQ(freed->segments_deleted, 0u);
  EXPECT_TRUE(Append(2).status().IsUnavailable());
  EXPECT_EQ(log_->segments().size(), 1u);
}

TEST_F(LogCapacityTest, AFullyConsumedActiveSegmentIsRolledSoItCanGo) {
  CapacityOptions c;
  c.max_total_bytes = 2 * kFrame;
  Open(c, 1 << 20);
  ASSERT_TRUE(Append(0).ok());
  ASSERT_TRUE(Append(1).ok());
  ASSERT_TRUE(log_->Sync().ok());
  Result<RetentionResult> freed = log_->MakeRoom(/*protect_floor_offset=*/2);  // every group past 1
  ASSERT_TRUE(freed.ok());
  EXPECT_EQ(freed->segments_deleted, 1u);
  EXPECT_EQ(log_->first_offset(), 2u);
  EXPECT_EQ(*Append(2), 2u);
  EXPECT_EQ(log_->segments().front().id, 1u);
}

TEST_F(LogCapacityTest, FreeDiskWatermarkRefusesAndRecoversWhenSpaceReturns) {
  CapacityOptions c;
  c.min_free_bytes = 1 << 20;
  Open(c);
  fs_.SetAvailableBytes(10ull << 20);
  ASSERT_TRUE(Append(0).ok());
  EXPECT_EQ(log_->last_available_bytes(), 10ull << 20);
  // The disk fills from elsewhere. The next statvfs comes after ~min_free/4 more bytes; a
  // publish that crosses it is refused, and every later one re-reads until space is back.
  fs_.SetAvailableBytes(1000);
  Status refused;
  for (uint64_t i = 1; i < 20'000 && refused.ok(); ++i) refused = Append(i).status();
  ASSERT_TRUE(refused.IsUnavailable()) << refused.ToString();
  EXPECT_NE(refused.message().find("below min_free_bytes 1048576"), std::string::npos) << refused.message();
  const uint64_t head = log_->next_offset();
  EXPECT_TRUE(Append(head).status().IsUnavailable());
  EXPECT_EQ(log_->next_offset(), head);
  fs_.SetAvailableBytes(2ull << 20);
  EXPECT_EQ(*Append(head), head);
}

TEST_F(LogCapacityTest, WatermarkIsCheckedAtOpenTimeFirstAppend) {
  CapacityOptions c;
  c.min_free_bytes = 4096;
  fs_.SetAvailableBytes(100);
  Open(c);
  EXPECT_TRUE(Append(0).status().IsUnavailable());
}

TEST_F(LogCapacityTest, SetCapacityAndSetRetentionApplyLive) {
  CapacityOptions c;
  c.max_total_bytes = 2 * kFrame;
  Open(c);
  ASSERT_TRUE(Append(0).ok());
  ASSERT_TRUE(Append(1).ok());
  ASSERT_TRUE(Append(2).status().IsUnavailable());
  c.max_total_bytes = 0;
  log_->SetCapacity(c);
  EXPECT_EQ(log_->capacity().max_total_bytes, 0u);
  for (uint64_t i = 2; i < 9; ++i) ASSERT_TRUE(Append(i).ok());
  ASSERT_TRUE(log_->Sync().ok());

  EXPECT_EQ(log_->ApplyRetention(100)->segments_deleted, 0u) << "no bound set at open";
  RetentionOptions r;
  r.max_messages = 5;
  log_->SetRetention(r);
  EXPECT_EQ(log_->retention().max_messages, 5u);
  EXPECT_EQ(log_->ApplyRetention(100)->segments_deleted, 1u);
  EXPECT_EQ(log_->first_offset(), 4u);
}

// ---- through the appender ----

class AppenderCapacityTest : public LogCapacityTest {
 protected:
  void Start(CapacityOptions c, uint64_t segment_bytes = kSegmentBytes) {
    Open(c, segment_bytes);
    AppenderOptions a;
    a.retention_floor = [this] { return floor_.load(); };
    auto ap = Appender::Start(log_.get(), &clock_, std::move(a));
    ASSERT_TRUE(ap.ok());
    appender_ = std::move(ap).value();
  }

  std::future<Result<uint64_t>> Submit(uint64_t i) {
    auto p = std::make_shared<std::promise<Result<uint64_t>>>();
    auto f = p->get_future();
    AppendRequest r;
    r.payload = Payload(i);
    Status s = appender_->Submit(std::move(r), [p](Result<uint64_t> off) { p->set_value(std::move(off)); });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return f;
  }

  void TearDown() override {
    if (appender_) (void)appender_->Stop();
  }

  std::atomic<uint64_t> floor_{0};
  std::unique_ptr<Appender> appender_;
};

TEST_F(AppenderCapacityTest, DropNewRefusesAtTheCapAndResumesOnceConsumersCommit) {
  CapacityOptions c;
  c.max_total_bytes = 9 * kFrame;
  Start(c);
  for (uint64_t i = 0; i < 9; ++i) ASSERT_TRUE(Submit(i).get().ok());
  Result<uint64_t> refused = Submit(9).get();
  ASSERT_TRUE(refused.status().IsUnavailable()) << refused.status().ToString();
  EXPECT_EQ(appender_->stats().refused_at_capacity, 1u);
  EXPECT_EQ(log_->durable_offset(), 9u) << "nothing acknowledged was dropped";

  floor_ = 8;  // every group committed past the first two segments
  Result<uint64_t> accepted = Submit(9).get();
  ASSERT_TRUE(accepted.ok()) << accepted.status().ToString();
  EXPECT_EQ(*accepted, 9u);
  EXPECT_EQ(appender_->stats().segments_reaped, 1u) << "one segment was enough to get under the cap";
  EXPECT_EQ(appender_->stats().segments_force_reaped, 0u);
  EXPECT_EQ(log_->first_offset(), 4u);
}

TEST_F(AppenderCapacityTest, DropOldestAcceptsByDeletingUnconsumedSegments) {
  CapacityOptions c;
  c.max_total_bytes = 9 * kFrame;
  c.policy = DiskFullPolicy::kDropOldest;
  Start(c);
  for (uint64_t i = 0; i < 30; ++i) ASSERT_TRUE(Submit(i).get().ok()) << i;
  const AppenderStats s = appender_->stats();
  EXPECT_EQ(s.refused_at_capacity, 0u);
  EXPECT_GT(s.segments_force_reaped, 0u);
  EXPECT_EQ(s.records_force_reaped, s.segments_force_reaped * kPerSegment);
  EXPECT_LE(log_->total_record_bytes(), 9 * kFrame + kFrame);
  EXPECT_EQ(log_->durable_offset(), 30u);
}

TEST_F(AppenderCapacityTest, BlockHoldsThePublishUntilRoomFrees) {
  CapacityOptions c;
  c.max_total_bytes = 9 * kFrame;
  c.policy = DiskFullPolicy::kBlock;
  c.block_timeout_ms = 60'000;  // on the manual clock: never, unless the test advances it
  Start(c);
  for (uint64_t i = 0; i < 9; ++i) ASSERT_TRUE(Submit(i).get().ok());
  std::future<Result<uint64_t>> held = Submit(9);
  EXPECT_EQ(held.wait_for(std::chrono::milliseconds(200)), std::future_status::timeout);
  EXPECT_TRUE(appender_->stats().holding || appender_->stats().holds == 0);
  floor_ = 4;
  Result<uint64_t> offset = held.get();
  ASSERT_TRUE(offset.ok()) << offset.status().ToString();
  EXPECT_EQ(*offset, 9u);
  EXPECT_EQ(appender_->stats().holds, 1u);
  EXPECT_EQ(appender_->stats().hold_timeouts, 0u);
}

TEST_F(AppenderCapacityTest, BlockRefusesAtCapacityAfterTheTimeout) {
  CapacityOptions c;
  c.max_total_bytes = 2 * kFrame;
  c.policy = DiskFullPolicy::kBlock;
  c.block_timeout_ms = 1000;
  Start(c);
  ASSERT_TRUE(Submit(0).get().ok());
  ASSERT_TRUE(Submit(1).get().ok());
  std::future<Result<uint64_t>> held = Submit(2);
  EXPECT_EQ(held.wait_for(std::chrono::milliseconds(100)), std::future_status::timeout);
  clock_.AdvanceMs(1001);
  Result<uint64_t> refused = held.get();
  EXPECT_TRUE(refused.status().IsUnavailable()) << refused.status().ToString();
  EXPECT_EQ(appender_->stats().hold_timeouts, 1u);
  EXPECT_EQ(log_->durable_offset(), 2u);
}

TEST_F(AppenderCapacityTest, StopReleasesAHeldPublishWithAnError) {
  CapacityOptions c;
  c.max_total_bytes = kFrame;
  c.policy = DiskFullPolicy::kBlock;
  c.block_timeout_ms = 60'000;
  Start(c);
  ASSERT_TRUE(Submit(0).get().ok());
  std::future<Result<uint64_t>> held = Submit(1);
  EXPECT_EQ(held.wait_for(std::chrono::milliseconds(100)), std::future_status::timeout);
  ASSERT_TRUE(appender_->Stop().ok());
  EXPECT_FALSE(held.get().ok());
}

TEST_F(AppenderCapacityTest, OutOfSpaceAtASegmentCreateFreesAConsumedSegmentAndRetries) {
  Start(CapacityOptions{});
  for (uint64_t i = 0; i < 8; ++i) ASSERT_TRUE(Submit(i).get().ok());  // two full segments
  floor_ = 4;
  fs_.NoSpaceOnPreallocate("seg-", 1);  // the create of segment 2 meets ENOSPC once
  Result<uint64_t> offset = Submit(8).get();
  ASSERT_TRUE(offset.ok()) << offset.status().ToString();
  EXPECT_EQ(*offset, 8u);
  EXPECT_EQ(log_->first_offset(), 4u);
  EXPECT_FALSE(log_->frozen());
}

}  // namespace
}  // namespace ironbus::storage
