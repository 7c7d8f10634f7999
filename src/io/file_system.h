// io::File and io::FileSystem: every disk access in IronBus goes through these two interfaces
// (after leveldb's Env), so tests can swap in SimFileSystem (sim_file_system.h) and inject
// power cuts, torn writes, ENOSPC and fsync errors. The POSIX implementation is
// posix_file_system.h.
//
// Durability contract (what a caller may rely on):
//   - WriteAt puts bytes in the OS cache only. They survive a process crash, not a power cut.
//   - Sync() (fdatasync) makes every earlier WriteAt of this file durable, and a size change
//     made by those writes. FullSync() (fsync) also makes metadata durable; use it after
//     Truncate (a length change) and when sealing a segment.
//   - A new, renamed or removed directory entry is durable only after SyncDir() on its parent.
//   - A failed Sync/FullSync leaves the file in an unknown state: callers never retry it
//     (fsyncgate); the storage layer freezes instead.
//
// Errors: IOError with sys_errno() set (ENOSPC is distinguished with Status::IsNoSpace()),
// NotFound when a path does not exist, FailedPrecondition when an exclusive create finds the
// file or a lock is held.
//
// Thread safety: a FileSystem may be used from any thread. A File may be read (ReadAt) from
// several threads at once; writes to one File need external synchronization (one writer).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"
#include "base/status.h"

namespace ironbus::io {

enum class OpenMode : uint8_t {
  kRead,             // existing file, read only
  kReadWrite,        // existing file, read and write
  kCreateExclusive,  // create a new file, read and write; FailedPrecondition if it exists
  kCreateOrTruncate, // create or empty an existing file; for temp files that are then renamed
};

class File {
 public:
  virtual ~File() = default;
  File() = default;
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  // Reads up to out.size() bytes at `offset`; returns how many were read (fewer only at end
  // of file, 0 at or past it).
  virtual Result<size_t> ReadAt(uint64_t offset, std::span<uint8_t> out) = 0;

  // Writes all of `data` at `offset`, extending the file if needed. A short write that
  // cannot be completed is an IOError (a partial write may have reached the file).
  virtual Status WriteAt(uint64_t offset, ByteView data) = 0;

  virtual Status Sync() = 0;      // fdatasync
  virtual Status FullSync() = 0;  // fsync
  virtual Status Truncate(uint64_t size) = 0;
  virtual Result<uint64_t> Size() = 0;

  // Reserves `length` bytes of blocks from offset 0 without changing the file length
  // (FALLOC_FL_KEEP_SIZE). Unsupported by the file system: Ok (best effort, nothing done).
  // ENOSPC: IOError with IsNoSpace(), so callers can shed instead of failing.
  virtual Status Preallocate(uint64_t length) = 0;

  virtual Status Close() = 0;
  virtual const std::string& path() const = 0;
};

// Held while alive; releasing it (destruction) releases the lock. The OS releases a POSIX
// lock when the process dies, so it never goes stale.
class FileLock {
 public:
  virtual ~FileLock() = default;
};

struct DirEntry {
  std::string name;  // a single path component
  bool is_dir = false;
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;

  virtual Result<std::unique_ptr<File>> Open(const std::string& path, OpenMode mode) = 0;

  // Entries of `dir` (no "." or ".."), in no particular order; never descends.
  virtual Result<std::vector<DirEntry>> List(const std::string& dir) = 0;

  virtual Result<bool> Exists(const std::string& path) = 0;
  virtual Result<bool> IsDirectory(const std::string& path) = 0;
  virtual Result<uint64_t> FileSize(const std::string& path) = 0;

  // Creates `dir` and missing parents with mode 0700; Ok if it already is a directory.
  virtual Status CreateDirs(const std::string& dir) = 0;
  virtual Status SyncDir(const std::string& dir) = 0;
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  virtual Status Remove(const std::string& path) = 0;     // a file
  virtual Status RemoveDir(const std::string& dir) = 0;   // an empty directory

  // Exclusive, non-blocking lock on `path` (created if absent). FailedPrecondition when
  // another process (or, in the simulation, another holder) has it.
  virtual Result<std::unique_ptr<FileLock>> LockExclusive(const std::string& path) = 0;

  // Bytes an unprivileged writer may still allocate on the file system holding `path`
  // (statvfs f_bavail * f_frsize): the free-disk watermark's input. Space already reserved by
  // a preallocation is not free.
  virtual Result<uint64_t> AvailableBytes(const std::string& path) = 0;
};

// "<dir>/<name>" without doubling the separator.
std::string JoinPath(std::string_view dir, std::string_view name);

// Reads the whole file (for small state files and tests). Bounded by `max_bytes`:
// a larger file is OutOfRange, never an unbounded allocation.
Result<Bytes> ReadWholeFile(FileSystem& fs, const std::string& path, uint64_t max_bytes);

// Replaces `path` crash-atomically: write "<path>.tmp", fsync it, rename over `path`, fsync
// the directory. A crash leaves either the old or the new content, never a mix.
Status WriteFileAtomically(FileSystem& fs, const std::string& path, ByteView content);

}  // namespace ironbus::io
