// SimFileSystem's injected faults: each fires the armed number of times, only on matching
// paths, and changes nothing it promises not to. CrashAfterOps cuts a protocol at every step.
#include <gtest/gtest.h>

#include <cerrno>

#include "io/sim_file_system.h"
#include "io/sim_test_util.h"

namespace ironbus::io {
namespace {

using testing::Content;
using testing::WriteNew;

class SimFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs_.SetFileContent("/d/seg-1", AsBytes("segment")).ok());
    ASSERT_TRUE(fs_.SetFileContent("/d/other", AsBytes("other")).ok());
    seg_ = Open("/d/seg-1");
    other_ = Open("/d/other");
  }
  std::unique_ptr<File> Open(const std::string& path) {
    auto file = fs_.Open(path, OpenMode::kReadWrite);
    EXPECT_TRUE(file.ok()) << file.status().ToString();
    return file.ok() ? std::move(file).value() : nullptr;
  }

  SimFileSystem fs_;
  std::unique_ptr<File> seg_;
  std::unique_ptr<File> other_;
};

TEST_F(SimFaultTest, FailNextWriteFiresOnceOnlyOnTheMatchingPathAndWritesNothing) {
  fs_.FailNextWrite("seg");
  EXPECT_TRUE(other_->WriteAt(5, AsBytes("!")).ok());
  Status failed = seg_->WriteAt(7, AsBytes("+x"));
  EXPECT_TRUE(failed.IsIOError());
  EXPECT_EQ(failed.sys_errno(), EIO);
  EXPECT_EQ(Content(fs_, "/d/seg-1"), "segment");
  EXPECT_EQ(fs_.armed_faults(), 0);
  EXPECT_TRUE(seg_->WriteAt(7, AsBytes("+x")).ok());
  EXPECT_EQ(Content(fs_, "/d/seg-1"), "segment+x");
}

TEST_F(SimFaultTest, NextWriteNoSpaceIsNoSpaceAndWritesNothing) {
  fs_.NextWriteNoSpace();
  Status failed = other_->WriteAt(0, AsBytes("zz"));
  EXPECT_TRUE(failed.IsNoSpace()) << failed.ToString();
  EXPECT_EQ(Content(fs_, "/d/other"), "other");
  EXPECT_TRUE(other_->WriteAt(0, AsBytes("zz")).ok());
}

TEST_F(SimFaultTest, ShortNextWriteWritesAPrefixThenFails) {
  fs_.ShortNextWrite("seg-1");
  Status failed = seg_->WriteAt(7, AsBytes("ABCDEF"));
  EXPECT_TRUE(failed.IsIOError());
  EXPECT_EQ(Content(fs_, "/d/seg-1"), "segmentABC");
  EXPECT_EQ(AsChars(*fs_.DurableContent("/d/seg-1")), "segment");  // the prefix is not synced
  EXPECT_EQ(fs_.counters().bytes_written, 3u);
}

TEST_F(SimFaultTest, FailNextSyncFiresForSyncAndFullSyncNTimes) {
  fs_.FailNextSync("seg", 2);
  ASSERT_TRUE(seg_->WriteAt(0, AsBytes("S")).ok());
  EXPECT_TRUE(other_->Sync().ok());
  EXPECT_TRUE(seg_->Sync().IsIOError());
  EXPECT_TRUE(seg_->FullSync().IsIOError());
  EXPECT_EQ(AsChars(*fs_.DurableContent("/d/seg-1")), "segment");
  EXPECT_TRUE(seg_->FullSync().ok());
  EXPECT_EQ(AsChars(*fs_.DurableContent("/d/seg-1")), "Segment");
}

TEST_F(SimFaultTest, FailNextReadFiresOnce) {
  fs_.FailNextRead("other");
  uint8_t buf[4];
  EXPECT_TRUE(seg_->ReadAt(0, std::span<uint8_t>(buf, 4)).ok());
  EXPECT_TRUE(other_->ReadAt(0, std::span<uint8_t>(buf, 4)).status().IsIOError());
  EXPECT_TRUE(other_->ReadAt(0, std::span<uint8_t>(buf, 4)).ok());
}

TEST_F(SimFaultTest, FailNextSyncDirLeavesEntriesNonDurable) {
  WriteNew(fs_, "/d/new", "n", /*sync=*/true);
  ASSERT_TRUE(fs_.CreateDirs("/e").ok());
  fs_.FailNextSyncDir("/d");
  EXPECT_TRUE(fs_.SyncDir("/").ok());  // "/" does not contain "/d"
  EXPECT_TRUE(fs_.SyncDir("/d").IsIOError());
  EXPECT_FALSE(fs_.DurablyExists("/d/new"));
  EXPECT_TRUE(fs_.SyncDir("/d").ok());
  EXPECT_TRUE(fs_.DurablyExists("/d/new"));
}

TEST_F(SimFaultTest, FailNextRenameMatchesEitherNameAndChangesNothing) {
  fs_.FailNextRename("target");
  EXPECT_TRUE(fs_.Rename("/d/other", "/d/target").IsIOError());
  EXPECT_TRUE(*fs_.Exists("/d/other"));
  EXPECT_FALSE(*fs_.Exists("/d/target"));
  EXPECT_TRUE(fs_.Rename("/d/other", "/d/target").ok());
}

TEST_F(SimFaultTest, NoSpaceOnPreallocateIsNoSpace) {
  fs_.NoSpaceOnPreallocate("seg");
  EXPECT_TRUE(other_->Preallocate(1 << 20).ok());
  Status failed = seg_->Preallocate(1 << 20);
  EXPECT_TRUE(failed.IsNoSpace()) << failed.ToString();
  EXPECT_TRUE(seg_->Preallocate(1 << 20).ok());
  EXPECT_EQ(*seg_->Size(), 7u);
}

TEST_F(SimFaultTest, FailNextOpenCreatesNothing) {
  fs_.FailNextOpen("seg-2");
  EXPECT_TRUE(fs_.Open("/d/seg-2", OpenMode::kCreateExclusive).status().IsIOError());
  EXPECT_FALSE(*fs_.Exists("/d/seg-2"));
  EXPECT_TRUE(fs_.Open("/d/seg-2", OpenMode::kCreateExclusive).ok());
}

TEST_F(SimFaultTest, PowerCutAndResetFaultsDisarmEverything) {
  fs_.FailNextWrite();
  fs_.FailNextSync("x", 3);
  EXPECT_EQ(fs_.armed_faults(), 4);
  fs_.ResetFaults();
  EXPECT_EQ(fs_.armed_faults(), 0);
  fs_.FailNextWrite();
  fs_.PowerCut(0, PowerCutMode::kKeepAll);
  EXPECT_EQ(fs_.armed_faults(), 0);
  auto file = fs_.Open("/d/seg-1", OpenMode::kReadWrite);
  ASSERT_TRUE(file.ok());
  EXPECT_TRUE((*file)->WriteAt(0, AsBytes("s")).ok());
}

TEST_F(SimFaultTest, CrashAfterOpsFailsEverythingAfterNMutations) {
  fs_.CrashAfterOps(2);
  EXPECT_TRUE(seg_->WriteAt(7, AsBytes("1")).ok());
  EXPECT_TRUE(seg_->Sync().ok());
  EXPECT_FALSE(fs_.crashed());
  Status crashed = seg_->WriteAt(8, AsBytes("2"));
  EXPECT_TRUE(crashed.IsIOError());
  EXPECT_NE(crashed.message().find("simulated crash"), std::string::npos) << crashed.message();
  EXPECT_TRUE(fs_.crashed());
  uint8_t buf[4];
  EXPECT_FALSE(seg_->ReadAt(0, std::span<uint8_t>(buf, 4)).ok());
  EXPECT_FALSE(fs_.Exists("/d/seg-1").ok());
  EXPECT_FALSE(fs_.List("/d").ok());
  EXPECT_FALSE(fs_.Open("/d/seg-1", OpenMode::kRead).ok());
  EXPECT_EQ(Content(fs_, "/d/seg-1"), "segment1");  // inspection still works
  fs_.PowerCut(0, PowerCutMode::kDropAll);
  EXPECT_FALSE(fs_.crashed());
  EXPECT_EQ(Content(fs_, "/d/seg-1"), "segment1");
  EXPECT_TRUE(fs_.Open("/d/seg-1", OpenMode::kRead).ok());
}

TEST_F(SimFaultTest, CrashAfterZeroOpsCrashesAtTheNextMutation) {
  fs_.CrashAfterOps(0);
  uint8_t buf[4];
  EXPECT_TRUE(seg_->ReadAt(0, std::span<uint8_t>(buf, 4)).ok());  // reads are not counted
  EXPECT_TRUE(fs_.CreateDirs("/z").IsIOError());
  EXPECT_FALSE(fs_.Exists("/z").ok());  // crashed: reads fail too
  fs_.ResetFaults();
  EXPECT_FALSE(*fs_.Exists("/z"));
}

// The pattern other suites use: cut WriteFileAtomically after every step, power-cut at random,
// and check that the state file is always the old or the new value, never a mix or missing.
TEST(SimCrashSweepTest, WriteFileAtomicallyIsAtomicAtEveryCrashPointAndPowerCut) {
  const std::string old_value(700, 'o');
  const std::string new_value(1300, 'N');
  auto setup = [&](SimFileSystem& fs) { ASSERT_TRUE(fs.SetFileContent("/d/state", AsBytes(old_value)).ok()); };

  SimFileSystem probe;
  setup(probe);
  probe.ResetCounters();
  ASSERT_TRUE(WriteFileAtomically(probe, "/d/state", AsBytes(new_value)).ok());
  const uint64_t steps = probe.counters().mutating_ops;
  ASSERT_GE(steps, 5u);  // create, write, fsync, rename, dir fsync

  for (uint64_t crash_after = 0; crash_after <= steps; ++crash_after) {
    for (uint64_t seed = 0; seed < 12; ++seed) {
      SCOPED_TRACE(::testing::Message() << "crash_after " << crash_after << " seed " << seed);
      SimFileSystem fs;
      setup(fs);
      fs.CrashAfterOps(crash_after);
      Status written = WriteFileAtomically(fs, "/d/state", AsBytes(new_value));
      EXPECT_EQ(written.ok(), crash_after == steps);
      fs.PowerCut(seed, PowerCutMode::kRandom);
      std::string after = Content(fs, "/d/state");
      EXPECT_TRUE(after == old_value || after == new_value) << "got " << after.size() << " bytes";
      if (crash_after == steps) {
        EXPECT_EQ(after, new_value);
      }
    }
  }
}

}  // namespace
}  // namespace ironbus::io
