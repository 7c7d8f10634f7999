// The log under I/O failure: freeze on a failed write, sync, seal or create (never retried),
// and the non-fatal "at capacity" shed when a new segment cannot be preallocated.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "base/crash_point.h"
#include "storage/log.h"
#include "storage_test_util.h"

namespace ironbus::storage {
namespace {

using testing::FrameLen;
using testing::kDir;
using testing::OpenLog;
using testing::Payload;
using testing::RawOptions;
using testing::Rec;
using testing::SegPath;

class LogFailureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs_.CreateDirs(kDir).ok());
    fs_.SyncAll();
    log_ = OpenLog(fs_, testing::FreshState(), RawOptions(64 + 4 * FrameLen(16)), &clock_);
    ASSERT_NE(log_, nullptr);
    for (uint64_t i = 0; i < 2; ++i) ASSERT_TRUE(log_->Append(Rec(Payload(i))).ok());
    ASSERT_TRUE(log_->Sync().ok());
  }

  // The log is frozen for good: appends and syncs refuse with the sticky status, no sync
  // reaches the disk again, and the durable records are still served.
  void ExpectFrozen(const std::string& cause_fragment) {
    EXPECT_TRUE(log_->frozen());
    Status frozen = log_->frozen_status();
    EXPECT_TRUE(frozen.IsFailedPrecondition());
    EXPECT_NE(frozen.message().find("log frozen"), std::string::npos) << frozen.ToString();
    EXPECT_NE(frozen.message().find(cause_fragment), std::string::npos) << frozen.ToString();
    const uint64_t syncs = fs_.counters().syncs + fs_.counters().full_syncs;
    EXPECT_EQ(log_->Append(Rec(Payload(99))).status(), frozen);
    EXPECT_EQ(log_->Sync(), frozen);
    EXPECT_EQ(log_->Flush(), frozen);
    EXPECT_EQ(log_->Append(Rec(Payload(99))).status(), frozen);  // sticky
    EXPECT_EQ(fs_.counters().syncs + fs_.counters().full_syncs, syncs);  // never retried
    auto batch = log_->Read(0, 100, 1 << 20);
    ASSERT_TRUE(batch.ok()) << batch.status().ToString();
    ASSERT_GE(batch->records.size(), 2u);
    EXPECT_EQ(batch->records[0].record.payload, Payload(0));
    EXPECT_EQ(log_->durable_offset(), batch->next_offset);
  }

  io::SimFileSystem fs_;
  ManualClock clock_;
  std::unique_ptr<Log> log_;
};

TEST_F(LogFailureTest, FailedFdatasyncFreezesAndIsNeverRetried) {
  ASSERT_TRUE(log_->Append(Rec(Payload(2))).ok());
  fs_.FailNextSync("seg-");
  Status s = log_->Sync();
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_EQ(log_->durable_offset(), 2u);  // the unsynced record never became readable
  ExpectFrozen("IOError");
  EXPECT_EQ(log_->Read(0, 100, 1 << 20)->records.size(), 2u);
}

TEST_F(LogFailureTest, FailedWriteFreezes) {
  ASSERT_TRUE(log_->Append(Rec(Payload(2))).ok());
  fs_.FailNextWrite("seg-");
  EXPECT_TRUE(log_->Sync().IsIOError());
  ExpectFrozen("IOError");
}

TEST_F(LogFailureTest, NoSpaceOnWriteFreezes) {
  ASSERT_TRUE(log_->Append(Rec(Payload(2))).ok());
  fs_.NextWriteNoSpace("seg-");
  Status s = log_->Flush();
  EXPECT_TRUE(s.IsNoSpace()) << s.ToString();
  ExpectFrozen("IOError");
}

TEST_F(LogFailureTest, FailedSealFreezes) {
  ASSERT_TRUE(log_->Append(Rec(Payload(2))).ok());
  ASSERT_TRUE(log_->Append(Rec(Payload(3))).ok());
  ASSERT_TRUE(log_->Sync().ok());
  fs_.FailNextSync("seg-0000000000000000");  // the seal's fsync
  Status s = log_->Append(Rec(Payload(4))).status();  // at the cap: roll, seal fails
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_FALSE(*fs_.Exists(SegPath(1)));  // no create after a failed seal
  ExpectFrozen("IOError");
}

TEST_F(LogFailureTest, FailedCreateFreezes) {
  for (uint64_t i = 2; i < 4; ++i) ASSERT_TRUE(log_->Append(Rec(Payload(i))).ok());
  fs_.FailNextSyncDir(kDir);  // the new segment's directory fsync
  Status s = log_->Append(Rec(Payload(4))).status();
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  ExpectFrozen("IOError");
  EXPECT_EQ(log_->durable_offset(), 4u);  // the seal made 2 and 3 durable before the create
}

TEST_F(LogFailureTest, NoSpaceAtPreallocationShedsWithoutFreezing) {
  for (uint64_t i = 2; i < 4; ++i) ASSERT_TRUE(log_->Append(Rec(Payload(i))).ok());
  fs_.NoSpaceOnPreallocate("seg-0000000000000001");
  Status s = log_->Append(Rec(Payload(4))).status();
  EXPECT_TRUE(s.IsUnavailable()) << s.ToString();
  EXPECT_FALSE(log_->frozen());
  EXPECT_FALSE(*fs_.Exists(SegPath(1)));
  EXPECT_EQ(log_->durable_offset(), 4u);  // sealed
  EXPECT_TRUE(log_->Sync().ok());         // nothing active: a no-op, not an error
  // The next append retries the create (same id: nothing was ever written under it).
  auto off = log_->Append(Rec(Payload(4)));
  ASSERT_TRUE(off.ok()) << off.status().ToString();
  EXPECT_EQ(*off, 4u);
  ASSERT_TRUE(log_->Sync().ok());
  EXPECT_TRUE(fs_.DurablyExists(SegPath(1)));
  EXPECT_EQ(log_->Read(0, 100, 1 << 20)->records.size(), 5u);
}

TEST_F(LogFailureTest, NamedCrashPointsFireInProtocolOrder) {
  std::vector<std::string> seen;
  SetCrashPointHook([&](std::string_view name) { seen.emplace_back(name); });
  for (uint64_t i = 2; i < 5; ++i) ASSERT_TRUE(log_->Append(Rec(Payload(i))).ok());  // rolls
  SetCrashPointHook(nullptr);
  EXPECT_EQ(seen, (std::vector<std::string>{"segment.after_seal_before_create", "segment.after_create",
                                            "segment.after_header_sync"}));
}

}  // namespace
}  // namespace ironbus::storage
