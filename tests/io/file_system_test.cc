// The FileSystem contract (file_system.h), checked against every implementation: the POSIX
// one on a temp dir and the simulation. Durability is tested in sim_file_system_test.cc.
#include "io/file_system.h"

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>

#include "io/posix_file_system.h"
#include "io/sim_file_system.h"
#include "io/temp_dir.h"

namespace ironbus::io {
namespace {

// One file system under test plus a directory in it that the test owns.
struct Fixture {
  virtual ~Fixture() = default;
  virtual FileSystem& fs() = 0;
  virtual std::string root() = 0;
};

struct PosixFixture : Fixture {
  PosixFileSystem posix;
  testing::TempDir dir;
  FileSystem& fs() override { return posix; }
  std::string root() override { return dir.path(); }
};

struct SimFixture : Fixture {
  SimFileSystem sim;
  SimFixture() { CHECK(sim.CreateDirs("/data").ok(), "create /data"); }
  FileSystem& fs() override { return sim; }
  std::string root() override { return "/data"; }
};

std::unique_ptr<Fixture> MakeFixture(const std::string& name) {
  if (name == "posix") return std::make_unique<PosixFixture>();
  return std::make_unique<SimFixture>();
}

class FileSystemContractTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { fixture_ = MakeFixture(GetParam()); }
  FileSystem& fs() { return fixture_->fs(); }
  std::string P(std::string_view name) { return JoinPath(fixture_->root(), name); }

  void WriteFile(const std::string& path, std::string_view content) {
    auto file = fs().Open(path, OpenMode::kCreateOrTruncate);
    ASSERT_TRUE(file.ok()) << file.status().ToString();
    ASSERT_TRUE((*file)->WriteAt(0, AsBytes(content)).ok());
    ASSERT_TRUE((*file)->Close().ok());
  }
  std::string ReadFile(const std::string& path) {
    auto content = ReadWholeFile(fs(), path, 1 << 20);
    EXPECT_TRUE(content.ok()) << content.status().ToString();
    return content.ok() ? std::string(AsChars(*content)) : std::string("<error>");
  }

  std::unique_ptr<Fixture> fixture_;
};

TEST_P(FileSystemContractTest, WriteThenReadReturnsTheSameBytes) {
  auto file = fs().Open(P("a"), OpenMode::kCreateExclusive);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  ASSERT_TRUE((*file)->WriteAt(0, AsBytes("hello ")).ok());
  ASSERT_TRUE((*file)->WriteAt(6, AsBytes("world")).ok());
  ASSERT_TRUE((*file)->Sync().ok());
  EXPECT_EQ(*(*file)->Size(), 11u);
  uint8_t buf[32];
  auto n = (*file)->ReadAt(0, std::span<uint8_t>(buf, sizeof buf));
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(std::string(reinterpret_cast<char*>(buf), *n), "hello world");
  n = (*file)->ReadAt(6, std::span<uint8_t>(buf, 3));
  EXPECT_EQ(std::string(reinterpret_cast<char*>(buf), *n), "wor");
  EXPECT_EQ(*fs().FileSize(P("a")), 11u);
  EXPECT_EQ((*file)->path(), P("a"));
}

TEST_P(FileSystemContractTest, ReadAtOrPastEndReturnsZero) {
  WriteFile(P("a"), "abc");
  auto file = fs().Open(P("a"), OpenMode::kRead);
  ASSERT_TRUE(file.ok());
  uint8_t buf[8];
  EXPECT_EQ(*(*file)->ReadAt(1, std::span<uint8_t>(buf, 8)), 2u);
  EXPECT_EQ(*(*file)->ReadAt(3, std::span<uint8_t>(buf, 8)), 0u);
  EXPECT_EQ(*(*file)->ReadAt(100, std::span<uint8_t>(buf, 8)), 0u);
}

TEST_P(FileSystemContractTest, WritePastEndLeavesZerosInTheGap) {
  auto file = fs().Open(P("a"), OpenMode::kCreateExclusive);
  ASSERT_TRUE(file.ok());
  ASSERT_TRUE((*file)->WriteAt(4, AsBytes("xy")).ok());
  EXPECT_EQ(ReadFile(P("a")), std::string("\0\0\0\0xy", 6));
}

TEST_P(FileSystemContractTest, TruncateShrinksAndGrowsWithZeros) {
  WriteFile(P("a"), "abcdef");
  auto file = fs().Open(P("a"), OpenMode::kReadWrite);
  ASSERT_TRUE(file.ok());
  ASSERT_TRUE((*file)->Truncate(2).ok());
  EXPECT_EQ(*(*file)->Size(), 2u);
  ASSERT_TRUE((*file)->Truncate(4).ok());
  EXPECT_EQ(ReadFile(P("a")), std::string("ab\0\0", 4));
}

TEST_P(FileSystemContractTest, CreateExclusiveRefusesAnExistingFile) {
  WriteFile(P("a"), "x");
  auto file = fs().Open(P("a"), OpenMode::kCreateExclusive);
  ASSERT_FALSE(file.ok());
  EXPECT_TRUE(file.status().IsFailedPrecondition()) << file.status().ToString();
}

TEST_P(FileSystemContractTest, CreateOrTruncateEmptiesAnExistingFile) {
  WriteFile(P("a"), "old content");
  WriteFile(P("a"), "new");
  EXPECT_EQ(ReadFile(P("a")), "new");
}

TEST_P(FileSystemContractTest, MissingPathsAreNotFound) {
  EXPECT_TRUE(fs().Open(P("nope"), OpenMode::kRead).status().IsNotFound());
  EXPECT_TRUE(fs().Open(P("nope"), OpenMode::kReadWrite).status().IsNotFound());
  EXPECT_TRUE(fs().Open(P("nodir/x"), OpenMode::kCreateExclusive).status().IsNotFound());
  EXPECT_TRUE(fs().FileSize(P("nope")).status().IsNotFound());
  EXPECT_TRUE(fs().Remove(P("nope")).IsNotFound());
  EXPECT_TRUE(fs().Rename(P("nope"), P("b")).IsNotFound());
  EXPECT_TRUE(fs().List(P("nope")).status().IsNotFound());
  EXPECT_FALSE(*fs().Exists(P("nope")));
  EXPECT_FALSE(*fs().IsDirectory(P("nope")));
}

TEST_P(FileSystemContractTest, ReadOnlyFileRefusesWrites) {
  WriteFile(P("a"), "abc");
  auto file = fs().Open(P("a"), OpenMode::kRead);
  ASSERT_TRUE(file.ok());
  Status s = (*file)->WriteAt(0, AsBytes("z"));
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_EQ(ReadFile(P("a")), "abc");
}

TEST_P(FileSystemContractTest, ClosedFileRefusesEveryOperation) {
  auto file = fs().Open(P("a"), OpenMode::kCreateExclusive);
  ASSERT_TRUE(file.ok());
  ASSERT_TRUE((*file)->Close().ok());
  uint8_t buf[1];
  EXPECT_FALSE((*file)->ReadAt(0, std::span<uint8_t>(buf, 1)).ok());
  EXPECT_FALSE((*file)->WriteAt(0, AsBytes("z")).ok());
  EXPECT_FALSE((*file)->Sync().ok());
  EXPECT_FALSE((*file)->Size().ok());
}

TEST_P(FileSystemContractTest, RenameReplacesTheTargetAndRemovesTheSource) {
  WriteFile(P("a"), "from a");
  WriteFile(P("b"), "old b");
  ASSERT_TRUE(fs().Rename(P("a"), P("b")).ok());
  EXPECT_FALSE(*fs().Exists(P("a")));
  EXPECT_EQ(ReadFile(P("b")), "from a");
}

TEST_P(FileSystemContractTest, OpenHandleFollowsTheFileAcrossRename) {
  auto file = fs().Open(P("a"), OpenMode::kCreateExclusive);
  ASSERT_TRUE(file.ok());
  ASSERT_TRUE(fs().Rename(P("a"), P("b")).ok());
  ASSERT_TRUE((*file)->WriteAt(0, AsBytes("late")).ok());
  EXPECT_EQ(ReadFile(P("b")), "late");
}

TEST_P(FileSystemContractTest, RemoveDeletesAFile) {
  WriteFile(P("a"), "x");
  ASSERT_TRUE(fs().Remove(P("a")).ok());
  EXPECT_FALSE(*fs().Exists(P("a")));
}

TEST_P(FileSystemContractTest, ListNamesFilesAndDirectoriesOnly) {
  WriteFile(P("f1"), "x");
  WriteFile(P("f2"), "y");
  ASSERT_TRUE(fs().CreateDirs(P("sub/deeper")).ok());
  WriteFile(P("sub/inner"), "z");
  auto entries = fs().List(fixture_->root());
  ASSERT_TRUE(entries.ok()) << entries.status().ToString();
  std::map<std::string, bool> got;
  for (const DirEntry& e : *entries) got[e.name] = e.is_dir;
  EXPECT_EQ(got, (std::map<std::string, bool>{{"f1", false}, {"f2", false}, {"sub", true}}));
}

TEST_P(FileSystemContractTest, CreateDirsMakesParentsAndAcceptsAnExistingDirectory) {
  ASSERT_TRUE(fs().CreateDirs(P("x/y/z")).ok());
  EXPECT_TRUE(*fs().IsDirectory(P("x")));
  EXPECT_TRUE(*fs().IsDirectory(P("x/y/z")));
  EXPECT_TRUE(fs().CreateDirs(P("x/y")).ok());
  EXPECT_TRUE(fs().CreateDirs(P("x/y/z/")).ok());
  WriteFile(P("file"), "x");
  EXPECT_FALSE(fs().CreateDirs(P("file")).ok());
  EXPECT_FALSE(fs().CreateDirs(P("file/sub")).ok());
  EXPECT_TRUE(fs().SyncDir(P("x/y")).ok());
}

TEST_P(FileSystemContractTest, RemoveDirRemovesOnlyEmptyDirectories) {
  ASSERT_TRUE(fs().CreateDirs(P("d")).ok());
  WriteFile(P("d/f"), "x");
  EXPECT_FALSE(fs().RemoveDir(P("d")).ok());
  ASSERT_TRUE(fs().Remove(P("d/f")).ok());
  ASSERT_TRUE(fs().RemoveDir(P("d")).ok());
  EXPECT_FALSE(*fs().Exists(P("d")));
}

TEST_P(FileSystemContractTest, ExistsAndIsDirectoryTellFilesFromDirectories) {
  WriteFile(P("f"), "x");
  ASSERT_TRUE(fs().CreateDirs(P("d")).ok());
  EXPECT_TRUE(*fs().Exists(P("f")));
  EXPECT_TRUE(*fs().Exists(P("d")));
  EXPECT_FALSE(*fs().IsDirectory(P("f")));
  EXPECT_TRUE(*fs().IsDirectory(P("d")));
  EXPECT_FALSE(fs().FileSize(P("d")).ok());
}

TEST_P(FileSystemContractTest, SecondLockOnTheSamePathFailsUntilTheFirstIsReleased) {
  auto first = fs().LockExclusive(P("LOCK"));
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_TRUE(*fs().Exists(P("LOCK")));
  auto second = fs().LockExclusive(P("LOCK"));
  ASSERT_FALSE(second.ok());
  EXPECT_TRUE(second.status().IsFailedPrecondition()) << second.status().ToString();
  EXPECT_NE(second.status().message().find("locked by another process"), std::string::npos);
  auto other = fs().LockExclusive(P("OTHER"));
  EXPECT_TRUE(other.ok());
  first->reset();
  EXPECT_TRUE(fs().LockExclusive(P("LOCK")).ok());
}

TEST_P(FileSystemContractTest, PreallocateKeepsTheFileSize) {
  auto file = fs().Open(P("seg"), OpenMode::kCreateExclusive);
  ASSERT_TRUE(file.ok());
  ASSERT_TRUE((*file)->WriteAt(0, AsBytes("header")).ok());
  ASSERT_TRUE((*file)->Preallocate(1 << 20).ok());
  EXPECT_EQ(*(*file)->Size(), 6u);
  EXPECT_EQ(*fs().FileSize(P("seg")), 6u);
  ASSERT_TRUE((*file)->WriteAt(6, AsBytes("more")).ok());
  EXPECT_EQ(*(*file)->Size(), 10u);
}

TEST_P(FileSystemContractTest, ReadWholeFileIsBounded) {
  WriteFile(P("a"), "0123456789");
  auto exact = ReadWholeFile(fs(), P("a"), 10);
  ASSERT_TRUE(exact.ok());
  EXPECT_EQ(AsChars(*exact), "0123456789");
  auto over = ReadWholeFile(fs(), P("a"), 9);
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.status().code(), StatusCode::kOutOfRange);
  EXPECT_TRUE(ReadWholeFile(fs(), P("missing"), 9).status().IsNotFound());
  WriteFile(P("empty"), "");
  auto empty = ReadWholeFile(fs(), P("empty"), 0);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST_P(FileSystemContractTest, ReadWholeFileReadsFilesLargerThanOneChunk) {
  std::string big(200 * 1024 + 7, 'q');
  big[123456] = 'Z';
  WriteFile(P("big"), big);
  EXPECT_EQ(ReadFile(P("big")), big);
  EXPECT_FALSE(ReadWholeFile(fs(), P("big"), big.size() - 1).ok());
}

TEST_P(FileSystemContractTest, WriteFileAtomicallyReplacesContentAndLeavesNoTempFile) {
  ASSERT_TRUE(WriteFileAtomically(fs(), P("state"), AsBytes("v1")).ok());
  EXPECT_EQ(ReadFile(P("state")), "v1");
  ASSERT_TRUE(WriteFileAtomically(fs(), P("state"), AsBytes("version two")).ok());
  EXPECT_EQ(ReadFile(P("state")), "version two");
  EXPECT_FALSE(*fs().Exists(P("state.tmp")));
  EXPECT_TRUE(WriteFileAtomically(fs(), P("nodir/state"), AsBytes("x")).IsNotFound());
}

INSTANTIATE_TEST_SUITE_P(AllFileSystems, FileSystemContractTest, ::testing::Values("posix", "sim"),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

TEST(JoinPathTest, JoinsWithExactlyOneSeparator) {
  EXPECT_EQ(JoinPath("/data", "seg"), "/data/seg");
  EXPECT_EQ(JoinPath("/data/", "seg"), "/data/seg");
  EXPECT_EQ(JoinPath("/data", "/seg"), "/data/seg");
  EXPECT_EQ(JoinPath("/", "seg"), "/seg");
  EXPECT_EQ(JoinPath("", "seg"), "seg");
  EXPECT_EQ(JoinPath("rel", "a/b"), "rel/a/b");
  EXPECT_EQ(JoinPath("/data", ""), "/data");
}

}  // namespace
}  // namespace ironbus::io
