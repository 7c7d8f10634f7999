// OpenDataDir: directory creation, the exclusive lock, the writability probe, recovery of the
// log and of dlq/, frozen opens.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "../io/temp_dir.h"
#include "base/clock.h"
#include "io/posix_file_system.h"
#include "io/sim_file_system.h"
#include "recovery/open_data_dir.h"
#include "recovery_test_util.h"

namespace ironbus::recovery {
namespace {

using ::testing::HasSubstr;

storage::LogOptions RawOptions() {
  storage::LogOptions o;
  o.compression = format::Compression::kNone;
  return o;
}

Result<uint64_t> AppendOne(storage::Log* log, std::string_view payload) {
  storage::AppendRecord rec;
  rec.payload = AsBytes(payload);
  ASSIGN_OR_RETURN(uint64_t offset, log->Append(rec));
  RETURN_IF_ERROR(log->Sync());
  return offset;
}

TEST(OpenDataDirTest, CreatesTheDirectoryAndOpensAFreshLog) {
  io::SimFileSystem fs;
  ManualClock clock;
  auto opened = OpenDataDir(&fs, "/var/lib/ironbus", RecoveryOptions{}, RawOptions(), &clock);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_TRUE(*fs.IsDirectory("/var/lib/ironbus"));
  EXPECT_TRUE(*fs.Exists("/var/lib/ironbus/LOCK"));
  EXPECT_FALSE(*fs.Exists(std::string("/var/lib/ironbus/") + std::string(kWriteProbeFileName)));
  EXPECT_TRUE(opened->report.events.empty());
  EXPECT_EQ(opened->dlq_log, nullptr);
  auto offset = AppendOne(opened->log.get(), "hello");
  ASSERT_TRUE(offset.ok()) << offset.status().ToString();
  EXPECT_EQ(*offset, 0u);
}

TEST(OpenDataDirTest, SecondOpenOfTheSameDirectoryFailsWithTheLockMessage) {
  io::testing::TempDir tmp;
  io::PosixFileSystem fs;
  ManualClock clock;
  const std::string dir = tmp.path() + "/data";
  auto first = OpenDataDir(&fs, dir, RecoveryOptions{}, RawOptions(), &clock);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_TRUE(AppendOne(first->log.get(), "one").ok());

  auto second = OpenDataDir(&fs, dir, RecoveryOptions{}, RawOptions(), &clock);
  ASSERT_FALSE(second.ok());
  EXPECT_TRUE(second.status().IsFailedPrecondition());
  EXPECT_EQ(second.status().message(), "another ironbus broker is already running on " + dir);

  ASSERT_TRUE(first->log->Close().ok());
  *first = OpenedDataDir();  // releases the log, then the lock
  auto third = OpenDataDir(&fs, dir, RecoveryOptions{}, RawOptions(), &clock);
  ASSERT_TRUE(third.ok()) << third.status().ToString();
  EXPECT_EQ(third->log->next_offset(), 1u);
}

TEST(OpenDataDirTest, AnUnwritableDirectoryFailsBeforeRecovery) {
  io::SimFileSystem fs;
  ManualClock clock;
  fs.FailNextSync(std::string(kWriteProbeFileName));
  auto opened = OpenDataDir(&fs, "/data", RecoveryOptions{}, RawOptions(), &clock);
  ASSERT_FALSE(opened.ok());
  EXPECT_THAT(opened.status().message(), HasSubstr("not writable"));
  EXPECT_FALSE(*fs.Exists("/data/recovery-report.json"));
}

TEST(OpenDataDirTest, RecoversTheDeadLetterLogWhenPresent) {
  io::SimFileSystem fs;
  ManualClock clock;
  auto main_segs = testing::MakeLog(2, 3);
  testing::PlantLog(&fs, "/data", main_segs);
  testing::SegmentBuilder dlq(0, 0, 0);
  dlq.AddPayload("dead-1").AddPayload("dead-2");
  Bytes torn = dlq.Unsealed();
  torn.resize(torn.size() - 3);
  ASSERT_TRUE(fs.SetFileContent("/data/dlq/seg-0000000000000000.log", torn).ok());

  auto opened = OpenDataDir(&fs, "/data", RecoveryOptions{}, RawOptions(), &clock);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(opened->log->next_offset(), 6u);
  ASSERT_NE(opened->dlq_log, nullptr);
  EXPECT_EQ(opened->dlq_log->next_offset(), 1u);
  ASSERT_EQ(opened->dlq_report.events.size(), 1u);
  EXPECT_EQ(opened->dlq_report.events[0].reason, LossReason::kTornTail);
  EXPECT_TRUE(*fs.Exists("/data/dlq/recovery-report.json"));
}

TEST(OpenDataDirTest, LossOverACapOpensFrozenReadOnly) {
  io::SimFileSystem fs;
  ManualClock clock;
  auto segs = testing::MakeLog(3, 10);
  testing::PlantLog(&fs, "/data", segs);
  Bytes seg1 = testing::ReadFile(&fs, "/data/seg-0000000000000001.log");
  for (uint64_t i = segs[1].frames()[1].start; i < segs[1].frames()[8].start; ++i) seg1[i] = 0xEE;
  ASSERT_TRUE(fs.SetFileContent("/data/seg-0000000000000001.log", seg1).ok());
  storage::LogOptions log_options = RawOptions();
  log_options.max_segment_bytes = 200;  // per-event cap 200
  auto opened = OpenDataDir(&fs, "/data", RecoveryOptions{}, log_options, &clock);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_TRUE(opened->report.frozen);
  EXPECT_TRUE(opened->log->frozen());
  EXPECT_THAT(opened->log->frozen_status().message(), HasSubstr("per-event cap"));
  EXPECT_FALSE(AppendOne(opened->log.get(), "refused").ok());
  auto read = opened->log->Read(0, 100, 1 << 20);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->records.size(), 23u);
}

}  // namespace
}  // namespace ironbus::recovery
