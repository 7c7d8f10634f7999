#include "io/posix_file_system.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace ironbus::io {
namespace {

constexpr mode_t kFileMode = 0600;
constexpr mode_t kDirMode = 0700;

// std::generic_category().message is strerror without strerror's shared static buffer.
std::string ErrnoText(int err) { return std::generic_category().message(err); }

// "<op> <path>: <strerror>"; ENOENT becomes NotFound (unless the caller says it cannot mean
// "the path does not exist"), everything else an IOError carrying errno.
Status PosixError(std::string_view op, const std::string& path, int err, bool enoent_is_not_found = true) {
  std::string message = std::string(op) + " " + path + ": " + ErrnoText(err);
  if (err == ENOENT && enoent_is_not_found) return Status::NotFound(std::move(message));
  return Status::IOError(std::move(message), err);
}

// Runs a system call, retrying while it is interrupted by a signal.
template <typename F>
auto RetryOnEintr(F call) {
  while (true) {
    auto r = call();
    if (r != -1 || errno != EINTR) return r;
  }
}

class PosixFile final : public File {
 public:
  PosixFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~PosixFile() override {
    // A caller that wanted the close error called Close(); here we can only drop it.
    if (fd_ >= 0) ::close(fd_);
  }

  Result<size_t> ReadAt(uint64_t offset, std::span<uint8_t> out) override {
    RETURN_IF_ERROR(CheckOpen("pread"));
    size_t done = 0;
    while (done < out.size()) {
      ssize_t n = RetryOnEintr([&] {
        return ::pread(fd_, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
      });
      if (n < 0) return PosixError("pread at " + std::to_string(offset + done), path_, errno, false);
      if (n == 0) break;  // end of file
      done += static_cast<size_t>(n);
    }
    return done;
  }

  Status WriteAt(uint64_t offset, ByteView data) override {
    RETURN_IF_ERROR(CheckOpen("pwrite"));
    size_t done = 0;
    while (done < data.size()) {
      ssize_t n = RetryOnEintr([&] {
        return ::pwrite(fd_, data.data() + done, data.size() - done, static_cast<off_t>(offset + done));
      });
      std::string op = "pwrite at " + std::to_string(offset + done);
      if (n < 0) return PosixError(op, path_, errno, false);
      // A short write is normal (the next call reports why, e.g. ENOSPC); a write of zero
      // bytes would loop forever, and the bytes before it may already be in the file.
      if (n == 0) {
        return Status::IOError(op + " " + path_ + ": wrote 0 of " + std::to_string(data.size() - done) +
                               " bytes (" + std::to_string(done) + " written before)");
      }
      done += static_cast<size_t>(n);
    }
    return Status::Ok();
  }

  Status Sync() override {
    RETURN_IF_ERROR(CheckOpen("fdatasync"));
#if defined(__APPLE__)
    return FullFsyncApple("fdatasync");
#else
    if (RetryOnEintr([&] { return ::fdatasync(fd_); }) != 0) return PosixError("fdatasync", path_, errno, false);
    return Status::Ok();
#endif
  }

  Status FullSync() override {
    RETURN_IF_ERROR(CheckOpen("fsync"));
#if defined(__APPLE__)
    return FullFsyncApple("fsync");
#else
    if (RetryOnEintr([&] { return ::fsync(fd_); }) != 0) return PosixError("fsync", path_, errno, false);
    return Status::Ok();
#endif
  }

  Status Truncate(uint64_t size) override {
    RETURN_IF_ERROR(CheckOpen("ftruncate"));
    if (RetryOnEintr([&] { return ::ftruncate(fd_, static_cast<off_t>(size)); }) != 0) {
      return PosixError("ftruncate to " + std::to_string(size), path_, errno, false);
    }
    return Status::Ok();
  }

  Result<uint64_t> Size() override {
    RETURN_IF_ERROR(CheckOpen("fstat"));
    struct stat st;
    if (::fstat(fd_, &st) != 0) return PosixError("fstat", path_, errno, false);
    return static_cast<uint64_t>(st.st_size);
  }

  Status Preallocate(uint64_t length) override {
    RETURN_IF_ERROR(CheckOpen("preallocate"));
    if (length == 0) return Status::Ok();
    int err = 0;
#if defined(__linux__)
    if (RetryOnEintr([&] { return ::fallocate(fd_, FALLOC_FL_KEEP_SIZE, 0, static_cast<off_t>(length)); }) != 0) {
      err = errno;
    }
#elif defined(__APPLE__)
    // Contiguous blocks first, then any blocks; F_PREALLOCATE never changes the length.
    fstore_t store = {F_ALLOCATECONTIG | F_ALLOCATEALL, F_PEOFPOSMODE, 0, static_cast<off_t>(length), 0};
    if (::fcntl(fd_, F_PREALLOCATE, &store) == -1) {
      store.fst_flags = F_ALLOCATEALL;
      if (::fcntl(fd_, F_PREALLOCATE, &store) == -1) err = errno;
    }
#else
    (void)length;  // no keep-size preallocation here: appends grow the file as they go
#endif
    if (err == 0) return Status::Ok();
    // spec/storage.md 4.6: a file system that cannot preallocate just grows on append.
    if (err == EOPNOTSUPP || err == ENOSYS || err == ENOTSUP) return Status::Ok();
    return PosixError("preallocate " + std::to_string(length) + " bytes of", path_, err, false);
  }

  Status Close() override {
    if (fd_ < 0) return Status::Ok();
    int fd = fd_;
    fd_ = -1;
    // Never retry close on EINTR: on Linux the descriptor is gone either way.
    if (::close(fd) != 0) return PosixError("close", path_, errno, false);
    return Status::Ok();
  }

  const std::string& path() const override { return path_; }

 private:
  Status CheckOpen(std::string_view op) const {
    if (fd_ >= 0) return Status::Ok();
    return Status::IOError(std::string(op) + " " + path_ + ": file is closed", EBADF);
  }

#if defined(__APPLE__)
  // macOS fsync only reaches the drive's cache; F_FULLFSYNC asks the drive to flush it. Some
  // file systems (network, FUSE) refuse it, and fsync is the best left then.
  Status FullFsyncApple(std::string_view op) {
    if (::fcntl(fd_, F_FULLFSYNC) == 0) return Status::Ok();
    if (RetryOnEintr([&] { return ::fsync(fd_); }) != 0) return PosixError(op, path_, errno, false);
    return Status::Ok();
  }
#endif

  int fd_;
  const std::string path_;
};

class PosixFileLock final : public FileLock {
 public:
  explicit PosixFileLock(int fd) : fd_(fd) {}
  ~PosixFileLock() override {
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
  }

 private:
  int fd_;
};

Result<struct stat> Stat(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return PosixError("stat", path, errno);
  return st;
}

}  // namespace

Result<std::unique_ptr<File>> PosixFileSystem::Open(const std::string& path, OpenMode mode) {
  int flags = O_CLOEXEC;
  switch (mode) {
    case OpenMode::kRead: flags |= O_RDONLY; break;
    case OpenMode::kReadWrite: flags |= O_RDWR; break;
    case OpenMode::kCreateExclusive: flags |= O_RDWR | O_CREAT | O_EXCL; break;
    case OpenMode::kCreateOrTruncate: flags |= O_RDWR | O_CREAT | O_TRUNC; break;
  }
  int fd = RetryOnEintr([&] { return ::open(path.c_str(), flags, kFileMode); });
  if (fd < 0) {
    int err = errno;
    if (err == EEXIST && mode == OpenMode::kCreateExclusive) {
      return Status::FailedPrecondition("open " + path + " exclusively: " + ErrnoText(err));
    }
    return PosixError("open", path, err);
  }
  return std::unique_ptr<File>(new PosixFile(fd, path));
}

Result<std::vector<DirEntry>> PosixFileSystem::List(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return PosixError("opendir", dir, errno);
  std::vector<DirEntry> entries;
  while (true) {
    errno = 0;
    struct dirent* e = ::readdir(d);
    if (e == nullptr) break;
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    bool is_dir = e->d_type == DT_DIR;
    // Some file systems (xfs without ftype, some FUSE) leave the type unknown; a symlink
    // counts as what it points at, like the other calls here that follow links.
    if (e->d_type == DT_UNKNOWN || e->d_type == DT_LNK) {
      struct stat st;
      is_dir = ::fstatat(::dirfd(d), e->d_name, &st, 0) == 0 && S_ISDIR(st.st_mode);
    }
    entries.push_back(DirEntry{std::move(name), is_dir});
  }
  int err = errno;
  ::closedir(d);
  if (err != 0) return PosixError("readdir", dir, err, false);
  return entries;
}

Result<bool> PosixFileSystem::Exists(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) return true;
  if (errno == ENOENT || errno == ENOTDIR) return false;
  return PosixError("stat", path, errno);
}

Result<bool> PosixFileSystem::IsDirectory(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) return S_ISDIR(st.st_mode);
  if (errno == ENOENT || errno == ENOTDIR) return false;
  return PosixError("stat", path, errno);
}

Result<uint64_t> PosixFileSystem::FileSize(const std::string& path) {
  ASSIGN_OR_RETURN(struct stat st, Stat(path));
  if (S_ISDIR(st.st_mode)) return Status::InvalidArgument("file size of " + path + ": is a directory");
  return static_cast<uint64_t>(st.st_size);
}

Status PosixFileSystem::CreateDirs(const std::string& dir) {
  if (dir.empty()) return Status::InvalidArgument("create directories: empty path");
  // mkdir -p: each prefix ending before a '/', then the whole path.
  for (size_t pos = 1; pos <= dir.size(); ++pos) {
    if (pos < dir.size() && dir[pos] != '/') continue;
    std::string prefix = dir.substr(0, pos);
    if (prefix.back() == '/') continue;  // "a//b": the empty component
    if (::mkdir(prefix.c_str(), kDirMode) == 0) continue;
    int err = errno;
    if (err != EEXIST) return PosixError("mkdir", prefix, err, false);
    ASSIGN_OR_RETURN(struct stat st, Stat(prefix));
    if (!S_ISDIR(st.st_mode)) return Status::IOError("mkdir " + prefix + ": exists and is not a directory", ENOTDIR);
  }
  return Status::Ok();
}

Status PosixFileSystem::SyncDir(const std::string& dir) {
  int fd = RetryOnEintr([&] { return ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); });
  if (fd < 0) return PosixError("open directory", dir, errno);
  Status status;
  if (RetryOnEintr([&] { return ::fsync(fd); }) != 0) status = PosixError("fsync directory", dir, errno, false);
  ::close(fd);
  return status;
}

Status PosixFileSystem::Rename(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) return PosixError("rename to " + to + " from", from, errno);
  return Status::Ok();
}

Status PosixFileSystem::Remove(const std::string& path) {
  if (::unlink(path.c_str()) != 0) return PosixError("unlink", path, errno);
  return Status::Ok();
}

Status PosixFileSystem::RemoveDir(const std::string& dir) {
  if (::rmdir(dir.c_str()) != 0) return PosixError("rmdir", dir, errno);
  return Status::Ok();
}

Result<std::unique_ptr<FileLock>> PosixFileSystem::LockExclusive(const std::string& path) {
  int fd = RetryOnEintr([&] { return ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, kFileMode); });
  if (fd < 0) return PosixError("open lock file", path, errno);
  if (RetryOnEintr([&] { return ::flock(fd, LOCK_EX | LOCK_NB); }) != 0) {
    int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) {
      return Status::FailedPrecondition("lock " + path + ": " + path + " is locked by another process");
    }
    return PosixError("flock", path, err, false);
  }
  return std::unique_ptr<FileLock>(new PosixFileLock(fd));
}

Result<uint64_t> PosixFileSystem::AvailableBytes(const std::string& path) {
  struct statvfs st {};
  if (RetryOnEintr([&] { return ::statvfs(path.c_str(), &st); }) != 0) return PosixError("statvfs", path, errno);
  return static_cast<uint64_t>(st.f_bavail) * static_cast<uint64_t>(st.f_frsize);
}

FileSystem& DefaultFileSystem() {
  // Leaked on purpose: files may still be closed by static destructors at exit.
  static PosixFileSystem* fs = new PosixFileSystem();
  return *fs;
}

}  // namespace ironbus::io
