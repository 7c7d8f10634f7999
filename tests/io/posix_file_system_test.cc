// What only the POSIX file system promises: modes, flock, error texts, the default instance.
#include "io/posix_file_system.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cerrno>

#include "io/temp_dir.h"

namespace ironbus::io {
namespace {

TEST(PosixFileSystemTest, FilesAreCreated0600AndDirectories0700) {
  testing::TempDir dir;
  PosixFileSystem fs;
  auto file = fs.Open(JoinPath(dir.path(), "f"), OpenMode::kCreateExclusive);
  ASSERT_TRUE(file.ok());
  ASSERT_TRUE(fs.CreateDirs(JoinPath(dir.path(), "a/b")).ok());
  struct stat st;
  ASSERT_EQ(::stat(JoinPath(dir.path(), "f").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777 & ~0077, 0600u);  // a umask may only take bits away
  EXPECT_EQ(st.st_mode & 0077, 0u);
  ASSERT_EQ(::stat(JoinPath(dir.path(), "a/b").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
}

TEST(PosixFileSystemTest, ErrorsNameTheOperationThePathAndTheReason) {
  testing::TempDir dir;
  PosixFileSystem fs;
  std::string missing = JoinPath(dir.path(), "missing");
  Status s = fs.Open(missing, OpenMode::kRead).status();
  EXPECT_TRUE(s.IsNotFound());
  EXPECT_NE(s.message().find("open"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find(missing), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("No such file"), std::string::npos) << s.message();

  ASSERT_TRUE(fs.CreateDirs(JoinPath(dir.path(), "d")).ok());
  ASSERT_TRUE(fs.Open(JoinPath(dir.path(), "d/f"), OpenMode::kCreateExclusive).ok());
  Status rmdir = fs.RemoveDir(JoinPath(dir.path(), "d"));
  EXPECT_TRUE(rmdir.IsIOError());
  EXPECT_EQ(rmdir.sys_errno(), ENOTEMPTY);
  EXPECT_NE(rmdir.message().find("rmdir"), std::string::npos) << rmdir.message();
}

TEST(PosixFileSystemTest, LockFileDescriptorsAreIndependentOfOpenFiles) {
  // Opening and closing the lock file through Open must not drop the flock: flock belongs to
  // the lock's own open file description (an fcntl lock would be lost here).
  testing::TempDir dir;
  PosixFileSystem fs;
  std::string lock_path = JoinPath(dir.path(), "LOCK");
  auto lock = fs.LockExclusive(lock_path);
  ASSERT_TRUE(lock.ok());
  {
    auto file = fs.Open(lock_path, OpenMode::kRead);
    ASSERT_TRUE(file.ok());
    ASSERT_TRUE((*file)->Close().ok());
  }
  EXPECT_TRUE(fs.LockExclusive(lock_path).status().IsFailedPrecondition());
}

TEST(PosixFileSystemTest, LockOnAMissingDirectoryIsNotFound) {
  testing::TempDir dir;
  PosixFileSystem fs;
  EXPECT_TRUE(fs.LockExclusive(JoinPath(dir.path(), "no/LOCK")).status().IsNotFound());
}

TEST(PosixFileSystemTest, SyncDirOfAMissingDirectoryIsNotFound) {
  testing::TempDir dir;
  PosixFileSystem fs;
  EXPECT_TRUE(fs.SyncDir(dir.path()).ok());
  EXPECT_TRUE(fs.SyncDir(JoinPath(dir.path(), "missing")).IsNotFound());
}

TEST(PosixFileSystemTest, FullSyncAndPreallocateOfZeroSucceed) {
  testing::TempDir dir;
  PosixFileSystem fs;
  auto file = fs.Open(JoinPath(dir.path(), "f"), OpenMode::kCreateExclusive);
  ASSERT_TRUE(file.ok());
  EXPECT_TRUE((*file)->Preallocate(0).ok());
  EXPECT_TRUE((*file)->FullSync().ok());
  EXPECT_EQ(*(*file)->Size(), 0u);
  EXPECT_TRUE((*file)->Close().ok());
  EXPECT_TRUE((*file)->Close().ok());  // a second Close is harmless
}

TEST(PosixFileSystemTest, DefaultFileSystemIsOneInstance) {
  EXPECT_EQ(&DefaultFileSystem(), &DefaultFileSystem());
  EXPECT_NE(dynamic_cast<PosixFileSystem*>(&DefaultFileSystem()), nullptr);
}

}  // namespace
}  // namespace ironbus::io
