// io::PosixFileSystem: the FileSystem of a real process, on top of open/pread/pwrite/fsync.
//
// What each call does on disk (the durability contract is the one in file_system.h):
//   - Open creates files with mode 0600 and O_CLOEXEC; CreateDirs makes directories 0700.
//   - Sync is fdatasync (F_FULLFSYNC on macOS, where fsync does not reach the platters);
//     FullSync is fsync (also F_FULLFSYNC on macOS).
//   - SyncDir opens the directory O_RDONLY|O_DIRECTORY and fsyncs it.
//   - Preallocate is fallocate(FALLOC_FL_KEEP_SIZE) on Linux and F_PREALLOCATE on macOS; the
//     length never changes. EOPNOTSUPP/ENOSYS/ENOTSUP are Ok (nothing reserved); ENOSPC is
//     an IOError with IsNoSpace().
//   - LockExclusive is open(O_CREAT) + flock(LOCK_EX|LOCK_NB). flock locks belong to the open
//     file description, so a second LockExclusive of the same path fails even inside one
//     process; the kernel drops the lock when the process dies.
//   - Reads and writes retry EINTR and loop over short transfers; a write that stops making
//     progress is an IOError.
//
// Errors name the operation and the path and carry strerror and errno ("pwrite
// /data/seg at 4096: No space left on device"). A missing path is NotFound; Exists and
// IsDirectory answer false for it instead. FileSize of a directory is InvalidArgument.
//
// Thread safety: PosixFileSystem has no state and may be used from any thread. A PosixFile
// allows concurrent ReadAt; WriteAt, Truncate and Close need one writer at a time.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "io/file_system.h"

namespace ironbus::io {

class PosixFileSystem final : public FileSystem {
 public:
  PosixFileSystem() = default;

  Result<std::unique_ptr<File>> Open(const std::string& path, OpenMode mode) override;
  Result<std::vector<DirEntry>> List(const std::string& dir) override;
  Result<bool> Exists(const std::string& path) override;
  Result<bool> IsDirectory(const std::string& path) override;
  Result<uint64_t> FileSize(const std::string& path) override;
  Status CreateDirs(const std::string& dir) override;
  Status SyncDir(const std::string& dir) override;
  Status Rename(const std::string& from, const std::string& to) override;
  Status Remove(const std::string& path) override;
  Status RemoveDir(const std::string& dir) override;
  Result<std::unique_ptr<FileLock>> LockExclusive(const std::string& path) override;
  Result<uint64_t> AvailableBytes(const std::string& path) override;
};

// The process-wide PosixFileSystem (created on first use, never destroyed).
FileSystem& DefaultFileSystem();

}  // namespace ironbus::io
