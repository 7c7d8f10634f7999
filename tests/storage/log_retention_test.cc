// Retention (spec/storage.md 13): whole sealed segments, oldest first, only a prefix, never
// the active segment, never past the protect floor; unlink, directory fsync, then memory.
#include <gtest/gtest.h>

#include "base/crash_point.h"
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

class LogRetentionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs_.CreateDirs(kDir).ok());
    fs_.SyncAll();
  }

  // Opens a log whose segments hold kPerSegment records each and appends `segments` full
  // segments plus one record in the active one; segment i's records carry timestamp ts(i).
  void Fill(RetentionOptions r, uint64_t segments, int64_t (*ts)(uint64_t)) {
    LogOptions o = testing::RawOptions(64 + kPerSegment * kFrame);
    o.retention = r;
    log_ = testing::OpenLog(fs_, testing::FreshState(), o, &clock_);
    ASSERT_NE(log_, nullptr);
    for (uint64_t i = 0; i < segments * kPerSegment + 1; ++i) {
      ASSERT_TRUE(log_->Append(Rec(Payload(i), ts(i / kPerSegment))).ok());
    }
    ASSERT_TRUE(log_->Sync().ok());
    ASSERT_EQ(log_->segments().size(), segments + 1);
  }

  std::vector<uint64_t> Ids() const {
    std::vector<uint64_t> v;
    for (const SegmentInfo& s : log_->segments()) v.push_back(s.id);
    return v;
  }

  io::SimFileSystem fs_;
  ManualClock clock_{1'000'000};
  std::unique_ptr<Log> log_;
};

int64_t Old(uint64_t) { return 1000; }
int64_t Ascending(uint64_t seg) { return 1000 + static_cast<int64_t>(seg) * 100; }
int64_t NewestFirst(uint64_t seg) { return seg == 0 ? 999'000 : 1000; }

TEST_F(LogRetentionTest, ByBytesDeletesOldestWhileTotalExceedsTheBound) {
  RetentionOptions r;
  r.max_retained_bytes = 6 * kFrame;  // 13 records held: keep deleting while above 6
  Fill(r, 3, Old);
  auto res = log_->ApplyRetention(UINT64_MAX);
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  EXPECT_EQ(res->segments_deleted, 2u);
  EXPECT_EQ(res->records_deleted, 8u);
  EXPECT_EQ(Ids(), (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(log_->first_offset(), 8u);
  EXPECT_FALSE(*fs_.Exists(SegPath(0)));
  EXPECT_FALSE(fs_.DurablyExists(SegPath(1)));  // the unlink was dir-synced
  EXPECT_EQ(log_->Read(0, 10, 1 << 20).status().code(), StatusCode::kOutOfRange);
  EXPECT_EQ(log_->Read(8, 100, 1 << 20)->records.size(), 5u);
  EXPECT_EQ(log_->stats().record_bytes, 5 * kFrame);
}

TEST_F(LogRetentionTest, ByCountDeletesWhileRecordCountExceedsTheBound) {
  RetentionOptions r;
  r.max_messages = 5;
  Fill(r, 3, Old);
  ASSERT_TRUE(log_->ApplyRetention(UINT64_MAX).ok());
  EXPECT_EQ(Ids(), (std::vector<uint64_t>{2, 3}));  // 13 -> 9 -> 5
}

TEST_F(LogRetentionTest, ByAgeUsesEachSegmentsNewestTimestamp) {
  RetentionOptions r;
  r.max_age_ms = 1000;
  Fill(r, 3, Ascending);                 // newest timestamps 1000, 1100, 1200
  clock_.SetUnixMs(1100 + 1000 + 1);     // segments 0 and 1 are older than now - 1000
  ASSERT_TRUE(log_->ApplyRetention(UINT64_MAX).ok());
  EXPECT_EQ(Ids(), (std::vector<uint64_t>{2, 3}));
}

TEST_F(LogRetentionTest, ProtectFloorKeepsSegmentsAGroupStillNeeds) {
  RetentionOptions r;
  r.max_messages = 1;
  Fill(r, 3, Old);
  ASSERT_TRUE(log_->ApplyRetention(0).ok());  // a group at 0 blocks everything
  EXPECT_EQ(Ids(), (std::vector<uint64_t>{0, 1, 2, 3}));
  ASSERT_TRUE(log_->ApplyRetention(7).ok());  // segment 1 ends at 8 > 7: only segment 0 goes
  EXPECT_EQ(Ids(), (std::vector<uint64_t>{1, 2, 3}));
  ASSERT_TRUE(log_->ApplyRetention(8).ok());
  EXPECT_EQ(Ids(), (std::vector<uint64_t>{2, 3}));
}

TEST_F(LogRetentionTest, OnlyAPrefixGoes) {
  RetentionOptions r;
  r.max_age_ms = 1000;
  Fill(r, 3, NewestFirst);  // segment 0 is young, 1 and 2 are old
  clock_.SetUnixMs(500'000);
  ASSERT_TRUE(log_->ApplyRetention(UINT64_MAX).ok());
  EXPECT_EQ(Ids(), (std::vector<uint64_t>{0, 1, 2, 3}));  // stops at the first ineligible one
}

TEST_F(LogRetentionTest, NeverTheActiveSegment) {
  RetentionOptions all;
  all.max_messages = 1;
  Fill(all, 2, Old);
  ASSERT_TRUE(log_->ApplyRetention(UINT64_MAX).ok());
  EXPECT_EQ(Ids(), (std::vector<uint64_t>{2}));  // the active segment stays
  EXPECT_TRUE(log_->segments()[0].active);
}

TEST_F(LogRetentionTest, DisabledBoundsDeleteNothing) {
  Fill(RetentionOptions{}, 2, Old);
  auto res = log_->ApplyRetention(UINT64_MAX);
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->segments_deleted, 0u);
  EXPECT_EQ(Ids().size(), 3u);
}

TEST_F(LogRetentionTest, UnlinkIsDirSyncedBeforeMemoryChanges) {
  RetentionOptions r;
  r.max_messages = 1;
  Fill(r, 2, Old);
  std::vector<std::string> seen;
  SetCrashPointHook([&](std::string_view name) {
    seen.emplace_back(name);
    // At the crash point the file is gone but memory still lists the segment.
    EXPECT_EQ(log_->segments().front().id, 0u);
  });
  fs_.FailNextSyncDir(kDir);
  auto res = log_->ApplyRetention(UINT64_MAX);
  SetCrashPointHook(nullptr);
  EXPECT_TRUE(res.status().IsIOError()) << res.status().ToString();
  EXPECT_EQ(seen, (std::vector<std::string>{"retention.after_unlink"}));
  EXPECT_EQ(Ids().front(), 0u);   // memory not updated without a durable unlink
  EXPECT_FALSE(log_->frozen());   // retention failures never freeze the log
  ASSERT_TRUE(log_->ApplyRetention(UINT64_MAX).ok());  // the retry finds the file gone
  EXPECT_EQ(Ids(), (std::vector<uint64_t>{2}));
}

}  // namespace
}  // namespace ironbus::storage
