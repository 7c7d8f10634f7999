// SimFileSystem's durability model: what survives PowerCut in each mode.
#include "io/sim_file_system.h"

#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "io/sim_test_util.h"

namespace ironbus::io {
namespace {

using testing::Append;
using testing::Content;
using testing::WriteNew;

constexpr PowerCutMode kAllModes[] = {PowerCutMode::kDropAll, PowerCutMode::kKeepAll, PowerCutMode::kRandom};

// "/d" exists durably.
void MakeDurableDir(SimFileSystem& fs) {
  ASSERT_TRUE(fs.CreateDirs("/d").ok());
  ASSERT_TRUE(fs.SyncDir("/").ok());
}

TEST(SimFileSystemTest, SyncedDataSurvivesEveryPowerCut) {
  for (PowerCutMode mode : kAllModes) {
    for (uint64_t seed = 0; seed < 40; ++seed) {
      SCOPED_TRACE(::testing::Message() << "seed " << seed << " mode " << static_cast<int>(mode));
      SimFileSystem fs;
      MakeDurableDir(fs);
      WriteNew(fs, "/d/seg", std::string(1500, 'S'), /*sync=*/true);
      ASSERT_TRUE(fs.SyncDir("/d").ok());
      Append(fs, "/d/seg", std::string(2000, 'u'), /*sync=*/false);
      Append(fs, "/d/seg", "tail", /*sync=*/false);
      fs.PowerCut(seed, mode);
      std::string after = Content(fs, "/d/seg");
      ASSERT_GE(after.size(), 1500u);
      EXPECT_EQ(after.substr(0, 1500), std::string(1500, 'S'));
    }
  }
}

TEST(SimFileSystemTest, UnsyncedDataNeverSurvivesDropAll) {
  SimFileSystem fs;
  MakeDurableDir(fs);
  WriteNew(fs, "/d/a", "synced", /*sync=*/true);
  WriteNew(fs, "/d/b", "never synced", /*sync=*/false);
  ASSERT_TRUE(fs.SyncDir("/d").ok());
  {
    auto file = fs.Open("/d/a", OpenMode::kReadWrite);
    ASSERT_TRUE(file.ok());
    ASSERT_TRUE((*file)->WriteAt(0, AsBytes("XY")).ok());
    ASSERT_TRUE((*file)->WriteAt(6, AsBytes(" and more")).ok());
    ASSERT_TRUE((*file)->Truncate(3).ok());
  }
  EXPECT_EQ(AsChars(*fs.DurableContent("/d/a")), "synced");
  fs.PowerCut(1, PowerCutMode::kDropAll);
  EXPECT_EQ(Content(fs, "/d/a"), "synced");
  EXPECT_EQ(Content(fs, "/d/b"), "");  // its name was dir-synced, its data never was
}

TEST(SimFileSystemTest, KeepAllKeepsEveryUnsyncedChange) {
  SimFileSystem fs;
  MakeDurableDir(fs);
  WriteNew(fs, "/d/a", "hello", /*sync=*/false);
  ASSERT_TRUE(fs.CreateDirs("/d/sub").ok());
  WriteNew(fs, "/d/sub/b", "world", /*sync=*/false);
  auto before = fs.Snapshot();
  fs.PowerCut(7, PowerCutMode::kKeepAll);
  EXPECT_EQ(fs.Snapshot(), before);
  EXPECT_TRUE(fs.DurablyExists("/d/sub/b"));
  EXPECT_EQ(AsChars(*fs.DurableContent("/d/sub/b")), "world");
}

TEST(SimFileSystemTest, FileCreatedButNotDirSyncedMayVanish) {
  std::set<bool> outcomes;
  for (uint64_t seed = 0; seed < 64; ++seed) {
    SimFileSystem fs;
    MakeDurableDir(fs);
    WriteNew(fs, "/d/new", "data", /*sync=*/true);  // data durable, name not
    EXPECT_FALSE(fs.DurablyExists("/d/new"));
    fs.PowerCut(seed, PowerCutMode::kRandom);
    bool exists = *fs.Exists("/d/new");
    if (exists) {
      EXPECT_EQ(Content(fs, "/d/new"), "data") << "seed " << seed;
    }
    outcomes.insert(exists);
  }
  EXPECT_EQ(outcomes.size(), 2u) << "over 64 seeds the file should both survive and vanish";

  SimFileSystem fs;
  MakeDurableDir(fs);
  WriteNew(fs, "/d/new", "data", /*sync=*/true);
  fs.PowerCut(0, PowerCutMode::kDropAll);
  EXPECT_FALSE(*fs.Exists("/d/new"));
}

TEST(SimFileSystemTest, SyncDirMakesACreateDurable) {
  for (uint64_t seed = 0; seed < 20; ++seed) {
    SimFileSystem fs;
    MakeDurableDir(fs);
    WriteNew(fs, "/d/new", "data", /*sync=*/true);
    ASSERT_TRUE(fs.SyncDir("/d").ok());
    EXPECT_TRUE(fs.DurablyExists("/d/new"));
    fs.PowerCut(seed, PowerCutMode::kRandom);
    EXPECT_EQ(Content(fs, "/d/new"), "data") << "seed " << seed;
  }
}

TEST(SimFileSystemTest, NewDirectoriesNeedTheirParentSynced) {
  SimFileSystem fs;
  ASSERT_TRUE(fs.CreateDirs("/a/b").ok());
  ASSERT_TRUE(fs.SyncDir("/").ok());  // "/a" durable, "/a/b" not
  fs.PowerCut(0, PowerCutMode::kDropAll);
  EXPECT_TRUE(*fs.IsDirectory("/a"));
  EXPECT_FALSE(*fs.Exists("/a/b"));

  SimFileSystem fs2;
  ASSERT_TRUE(fs2.CreateDirs("/x").ok());
  WriteNew(fs2, "/x/f", "data", /*sync=*/true);
  ASSERT_TRUE(fs2.SyncDir("/x").ok());  // the file is durable in /x, but /x itself is not
  fs2.PowerCut(0, PowerCutMode::kDropAll);
  EXPECT_FALSE(*fs2.Exists("/x"));
}

TEST(SimFileSystemTest, RemoveWithoutDirSyncComesBack) {
  SimFileSystem fs;
  ASSERT_TRUE(fs.SetFileContent("/d/old", AsBytes("keep me")).ok());
  ASSERT_TRUE(fs.Remove("/d/old").ok());
  EXPECT_TRUE(fs.DurablyExists("/d/old"));
  fs.PowerCut(0, PowerCutMode::kDropAll);
  EXPECT_EQ(Content(fs, "/d/old"), "keep me");

  ASSERT_TRUE(fs.Remove("/d/old").ok());
  ASSERT_TRUE(fs.SyncDir("/d").ok());
  fs.PowerCut(0, PowerCutMode::kRandom);
  EXPECT_FALSE(*fs.Exists("/d/old"));
}

TEST(SimFileSystemTest, RenameRevertsWithoutDirSyncAndIsAllOrNothing) {
  std::set<std::string> outcomes;
  for (uint64_t seed = 0; seed < 64; ++seed) {
    SimFileSystem fs;
    ASSERT_TRUE(fs.SetFileContent("/d/state", AsBytes("old")).ok());
    ASSERT_TRUE(fs.SetFileContent("/d/state.tmp", AsBytes("new")).ok());
    ASSERT_TRUE(fs.Rename("/d/state.tmp", "/d/state").ok());
    fs.PowerCut(seed, PowerCutMode::kRandom);
    std::string outcome = Content(fs, "/d/state") + "|" + Content(fs, "/d/state.tmp");
    EXPECT_TRUE(outcome == "old|new" || outcome == "new|<missing>") << "seed " << seed << ": " << outcome;
    outcomes.insert(outcome);
  }
  EXPECT_EQ(outcomes.size(), 2u);

  SimFileSystem fs;
  ASSERT_TRUE(fs.SetFileContent("/d/state.tmp", AsBytes("new")).ok());
  ASSERT_TRUE(fs.Rename("/d/state.tmp", "/d/state").ok());
  fs.PowerCut(0, PowerCutMode::kDropAll);
  EXPECT_EQ(Content(fs, "/d/state"), "<missing>");
  EXPECT_EQ(Content(fs, "/d/state.tmp"), "new");
}

TEST(SimFileSystemTest, RenameAcrossDirectoriesNeverLosesOrDuplicatesTheFile) {
  for (uint64_t seed = 0; seed < 64; ++seed) {
    SimFileSystem fs;
    ASSERT_TRUE(fs.SetFileContent("/d/seg", AsBytes("segment")).ok());
    ASSERT_TRUE(fs.SetFileContent("/d/quarantine/keep", AsBytes("")).ok());
    ASSERT_TRUE(fs.Rename("/d/seg", "/d/quarantine/seg").ok());
    ASSERT_TRUE(fs.SyncDir("/d/quarantine").ok());  // only one side synced
    fs.PowerCut(seed, PowerCutMode::kRandom);
    int copies = (*fs.Exists("/d/seg") ? 1 : 0) + (*fs.Exists("/d/quarantine/seg") ? 1 : 0);
    EXPECT_GE(copies, 1) << "seed " << seed;
  }
}

TEST(SimFileSystemTest, FailedSyncLeavesDataNonDurable) {
  SimFileSystem fs;
  MakeDurableDir(fs);
  WriteNew(fs, "/d/seg", "durable", /*sync=*/true);
  ASSERT_TRUE(fs.SyncDir("/d").ok());
  auto file = fs.Open("/d/seg", OpenMode::kReadWrite);
  ASSERT_TRUE(file.ok());
  ASSERT_TRUE((*file)->WriteAt(7, AsBytes("+pending")).ok());
  fs.FailNextSync("seg");
  Status sync = (*file)->Sync();
  EXPECT_TRUE(sync.IsIOError());
  EXPECT_EQ(sync.sys_errno(), EIO);
  EXPECT_EQ(AsChars(*fs.DurableContent("/d/seg")), "durable");
  EXPECT_EQ(Content(fs, "/d/seg"), "durable+pending");
  fs.PowerCut(3, PowerCutMode::kDropAll);
  EXPECT_EQ(Content(fs, "/d/seg"), "durable");
}

TEST(SimFileSystemTest, PowerCutKillsEveryOpenHandle) {
  SimFileSystem fs;
  ASSERT_TRUE(fs.SetFileContent("/d/seg", AsBytes("abc")).ok());
  auto file = fs.Open("/d/seg", OpenMode::kReadWrite);
  ASSERT_TRUE(file.ok());
  fs.PowerCut(0, PowerCutMode::kKeepAll);
  uint8_t buf[4];
  Status read = (*file)->ReadAt(0, std::span<uint8_t>(buf, 4)).status();
  EXPECT_TRUE(read.IsIOError());
  EXPECT_NE(read.message().find("power cut"), std::string::npos) << read.message();
  EXPECT_TRUE((*file)->WriteAt(0, AsBytes("x")).IsIOError());
  EXPECT_TRUE((*file)->Sync().IsIOError());
  EXPECT_TRUE((*file)->Size().status().IsIOError());
  EXPECT_EQ(Content(fs, "/d/seg"), "abc");
  auto reopened = fs.Open("/d/seg", OpenMode::kReadWrite);
  ASSERT_TRUE(reopened.ok());
  EXPECT_TRUE((*reopened)->WriteAt(3, AsBytes("d")).ok());
  EXPECT_EQ(Content(fs, "/d/seg"), "abcd");
}

TEST(SimFileSystemTest, PowerCutReleasesLocksAndStaleHoldersCannotReleaseNewOnes) {
  SimFileSystem fs;
  ASSERT_TRUE(fs.CreateDirs("/d").ok());
  auto before = fs.LockExclusive("/d/LOCK");
  ASSERT_TRUE(before.ok());
  EXPECT_TRUE(fs.LockExclusive("/d//LOCK").status().IsFailedPrecondition());
  fs.PowerCut(0, PowerCutMode::kKeepAll);
  auto after = fs.LockExclusive("/d/LOCK");
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  before->reset();  // the pre-cut holder goes away
  EXPECT_TRUE(fs.LockExclusive("/d/LOCK").status().IsFailedPrecondition());
}

TEST(SimFileSystemTest, SetFileContentIsDurableAndKeepsOpenHandles) {
  SimFileSystem fs;
  ASSERT_TRUE(fs.SetFileContent("/a/b/c", AsBytes("planted")).ok());
  EXPECT_TRUE(fs.DurablyExists("/a/b/c"));
  auto file = fs.Open("/a/b/c", OpenMode::kRead);
  ASSERT_TRUE(file.ok());
  ASSERT_TRUE(fs.SetFileContent("/a/b/c", AsBytes("corrupt")).ok());
  uint8_t buf[8];
  size_t n = *(*file)->ReadAt(0, std::span<uint8_t>(buf, 8));
  EXPECT_EQ(std::string(reinterpret_cast<char*>(buf), n), "corrupt");
  fs.PowerCut(0, PowerCutMode::kDropAll);
  EXPECT_EQ(Content(fs, "/a/b/c"), "corrupt");
  EXPECT_FALSE(fs.SetFileContent("/a/b", AsBytes("x")).ok());  // a directory
}

TEST(SimFileSystemTest, SyncAllMakesEverythingDurable) {
  SimFileSystem fs;
  ASSERT_TRUE(fs.CreateDirs("/x/y").ok());
  WriteNew(fs, "/x/y/f", "data", /*sync=*/false);
  fs.SyncAll();
  EXPECT_TRUE(fs.DurablyExists("/x/y/f"));
  fs.PowerCut(0, PowerCutMode::kDropAll);
  EXPECT_EQ(Content(fs, "/x/y/f"), "data");
}

TEST(SimFileSystemTest, CountersCountCallsAndBytes) {
  SimFileSystem fs;
  ASSERT_TRUE(fs.CreateDirs("/d").ok());
  auto file = fs.Open("/d/f", OpenMode::kCreateExclusive);
  ASSERT_TRUE(file.ok());
  ASSERT_TRUE((*file)->WriteAt(0, AsBytes("12345")).ok());
  ASSERT_TRUE((*file)->WriteAt(5, AsBytes("678")).ok());
  ASSERT_TRUE((*file)->Sync().ok());
  ASSERT_TRUE((*file)->FullSync().ok());
  ASSERT_TRUE((*file)->FullSync().ok());
  ASSERT_TRUE(fs.SyncDir("/d").ok());
  fs.FailNextSync();
  EXPECT_FALSE((*file)->Sync().ok());
  SimCounters c = fs.counters();
  EXPECT_EQ(c.writes, 2u);
  EXPECT_EQ(c.bytes_written, 8u);
  EXPECT_EQ(c.syncs, 2u);  // the failed one counts: tests check it is never retried
  EXPECT_EQ(c.full_syncs, 2u);
  EXPECT_EQ(c.sync_dirs, 1u);
  EXPECT_EQ(c.mutating_ops, 9u);  // mkdir, create, 2 writes, 4 syncs, syncdir
  fs.ResetCounters();
  EXPECT_EQ(fs.counters().writes, 0u);
}

TEST(SimFileSystemTest, PathsAreNormalized) {
  SimFileSystem fs;
  ASSERT_TRUE(fs.CreateDirs("/d/").ok());
  WriteNew(fs, "//d/./f", "x", /*sync=*/false);
  EXPECT_EQ(Content(fs, "/d/f"), "x");
  EXPECT_EQ(Content(fs, "d/sub/../f"), "x");
  EXPECT_EQ(fs.Snapshot().count("/d/f"), 1u);
}

TEST(SimFileSystemTest, ConcurrentWriterAndReadersSeeConsistentState) {
  SimFileSystem fs;
  ASSERT_TRUE(fs.CreateDirs("/d").ok());
  auto writer = fs.Open("/d/log", OpenMode::kCreateExclusive);
  ASSERT_TRUE(writer.ok());
  constexpr int kRecords = 500;
  std::thread write_thread([&] {
    for (int i = 0; i < kRecords; ++i) {
      EXPECT_TRUE((*writer)->WriteAt(static_cast<uint64_t>(i) * 4, AsBytes("rec;")).ok());
      if (i % 50 == 0) {
        EXPECT_TRUE((*writer)->Sync().ok());
      }
    }
  });
  std::thread read_thread([&] {
    auto reader = fs.Open("/d/log", OpenMode::kRead);
    ASSERT_TRUE(reader.ok());
    for (int i = 0; i < kRecords; ++i) {
      uint64_t size = *(*reader)->Size();
      EXPECT_EQ(size % 4, 0u);
      (void)fs.Snapshot();
    }
  });
  write_thread.join();
  read_thread.join();
  EXPECT_EQ(*fs.FileSize("/d/log"), static_cast<uint64_t>(kRecords) * 4);
}

}  // namespace
}  // namespace ironbus::io
