// io::SimFileSystem: an in-memory FileSystem that remembers what is durable, for power-cut
// and fault-injection tests (leveldb's fault_injection_test and rocksdb's
// FaultInjectionTestFS, with redpanda-style one-shot failures).
//
// Durability model (the same rules as file_system.h, applied strictly):
//   - File data: each file (inode) has its current bytes and its durable bytes, the bytes as
//     of its last successful Sync or FullSync, plus the ordered list of writes and truncates
//     made since. Sync and FullSync both make the whole current content, size included,
//     durable (Linux fdatasync persists a size change too); only the counters tell them apart.
//     A failed Sync makes nothing durable.
//   - Directory entries: each directory has its current entries and its durable entries, as
//     of its last successful SyncDir. A create, rename, remove, mkdir or rmdir is durable
//     only after SyncDir of the parent directory (both parents for a rename). Data and entry
//     durability are independent: a synced file whose name was never dir-synced can vanish,
//     and a dir-synced name can come back with empty or torn content. This includes
//     directories made by CreateDirs: sync their parent too (or call SyncAll in test setup).
//   - Open handles follow the inode, not the name (a renamed or removed file stays writable).
//
// PowerCut(seed, mode) then decides, deterministically from the seed, what survived:
//   kDropAll  only durable state: durable entries, durable bytes.
//   kKeepAll  everything: the current entries and bytes become durable.
//   kRandom   each non-durable directory entry independently keeps its durable or its current
//             value. The two names of a rename flip together, so a rename within a directory
//             is all or nothing; a rename across directories whose target directory alone was
//             synced may leave the file under both names (each a separate copy), never under
//             neither.
//             each surviving file gets its durable bytes plus a random subset of its unsynced
//             writes and truncates, in a random order (sometimes an in-order prefix), each
//             write possibly torn: only a prefix, or only some 512-byte sectors, landed. A
//             size-extending write may leave the size extended with zeros where its data did
//             not land (the ext4 zero tail). Bytes are only ever durable bytes, written bytes
//             or zeros, never invented.
// Every File opened before the cut is dead afterwards (each call returns IOError "power cut"),
// every lock is released, injected faults and CrashAfterOps are cleared, and the file system
// is ready for the "reboot": reopen files and recover.
//
// Fault injection: each Fail*/NoSpace*/Short* call arms `times` shots that fire on the next
// matching operations whose path contains `path_substring` (empty matches every path). Paths
// are matched after normalization ("/a//b/" -> "/a/b"); a File matches on the path it was
// opened with. A fired fault changes nothing on "disk" unless it says otherwise.
//
// Paths: '/'-separated; "." and empty components are dropped, ".." goes up; a relative path
// is taken from the root. No symlinks, no hard links, no permissions.
//
// Thread safety: every method (and every File method) may be called from any thread; one
// mutex serializes them. Files and locks keep the shared state alive, so they may outlive
// the SimFileSystem (they keep working on the orphaned state).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "io/file_system.h"

namespace ironbus::io {

enum class PowerCutMode : uint8_t {
  kDropAll,  // only what was synced (file data) and dir-synced (entries) survives
  kKeepAll,  // everything survives, as if the page cache reached the disk in time
  kRandom,   // a seeded, torn and reordered mix (see above)
};

// One unsynced change to a file's content, in the order it was made.
struct SimFileOp {
  enum class Kind : uint8_t { kWrite, kTruncate };
  Kind kind = Kind::kWrite;
  uint64_t offset = 0;  // kWrite: where the data goes; kTruncate: the new length
  Bytes data;           // kWrite only
};

// The per-file half of PowerCut, exposed so the torn-write model can be tested on its own:
// the content a file has after a power cut, given its durable bytes and its unsynced ops.
// Deterministic in (durable, unsynced, mode, seed).
Bytes ContentAfterPowerCut(ByteView durable, std::span<const SimFileOp> unsynced, PowerCutMode mode,
                           uint64_t seed);

// Counts since construction (or ResetCounters). Calls count whether or not they succeed.
struct SimCounters {
  uint64_t syncs = 0;          // File::Sync calls
  uint64_t full_syncs = 0;     // File::FullSync calls
  uint64_t sync_dirs = 0;      // SyncDir calls
  uint64_t writes = 0;         // File::WriteAt calls
  uint64_t bytes_written = 0;  // bytes that reached the simulated page cache (a short write counts its prefix)
  uint64_t mutating_ops = 0;   // operations CrashAfterOps counts (see there)
  uint64_t power_cuts = 0;
};

class SimFileSystem final : public FileSystem {
 public:
  // An empty file system: only the root directory "/" exists (always, durably).
  SimFileSystem();
  ~SimFileSystem() override;
  SimFileSystem(const SimFileSystem&) = delete;
  SimFileSystem& operator=(const SimFileSystem&) = delete;

  // FileSystem. Files are created 0600-like (no permissions are modelled). IsDirectory and
  // Exists answer false for a missing path; FileSize of a directory is InvalidArgument.
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
  // What SetAvailableBytes set (unlimited by default); NotFound for a missing path.
  Result<uint64_t> AvailableBytes(const std::string& path) override;

  // The free space AvailableBytes reports from now on. The simulation does not shrink it as
  // files grow: a test sets it to model a disk filling up.
  void SetAvailableBytes(uint64_t bytes);

  // ---- Power loss ----

  // Simulates a power cut and the reboot after it (see the model above). Same state + same
  // seed + same mode -> the same surviving tree and bytes.
  void PowerCut(uint64_t seed, PowerCutMode mode);

  // Makes everything durable now, as if every file were synced and every directory
  // dir-synced (for test setup; counts nothing).
  void SyncAll();

  // ---- One-shot (N-shot) faults; path_substring "" matches any path ----

  void FailNextWrite(std::string path_substring = "", int times = 1);         // WriteAt: EIO, nothing written
  void NextWriteNoSpace(std::string path_substring = "", int times = 1);      // WriteAt: ENOSPC, nothing written
  void ShortNextWrite(std::string path_substring = "", int times = 1);        // WriteAt: first size/2 bytes written (unsynced), then EIO
  void FailNextSync(std::string path_substring = "", int times = 1);          // Sync/FullSync: EIO, data stays unsynced
  void FailNextRead(std::string path_substring = "", int times = 1);          // ReadAt: EIO
  void FailNextSyncDir(std::string path_substring = "", int times = 1);       // SyncDir: EIO, entries stay non-durable
  void FailNextRename(std::string path_substring = "", int times = 1);        // Rename (from or to matches): EIO, no change
  void NoSpaceOnPreallocate(std::string path_substring = "", int times = 1);  // Preallocate: ENOSPC
  void FailNextOpen(std::string path_substring = "", int times = 1);          // Open: EIO, nothing created

  // After `n` more mutating operations succeed, that one and every later operation of any
  // kind (reads, List, File calls too) fail with IOError "simulated crash" (EIO) and change
  // nothing, until PowerCut or ResetFaults. Mutating operations: WriteAt, Truncate, Sync,
  // FullSync, Preallocate, Open with kCreateExclusive/kCreateOrTruncate, CreateDirs, SyncDir,
  // Rename, Remove, RemoveDir, LockExclusive. n = 0 crashes at the next one. To cut a
  // protocol at every step: run it once, read counters().mutating_ops, then replay with
  // CrashAfterOps(k) for every k below that.
  void CrashAfterOps(uint64_t n);
  bool crashed() const;

  // Disarms every pending fault and CrashAfterOps, and clears a crash.
  void ResetFaults();
  // Shots armed and not yet fired, over all fault kinds.
  int armed_faults() const;

  // ---- Inspection and planting (tests) ----

  SimCounters counters() const;
  void ResetCounters();

  // The file's bytes now (what a read sees). NotFound if the path is not a file now.
  Result<Bytes> CurrentContent(const std::string& path) const;
  // The bytes of the file now at `path` as of its last successful sync: what kDropAll would
  // leave in it if its name survives. NotFound if the path is not a file now.
  Result<Bytes> DurableContent(const std::string& path) const;
  // Whether `path` exists in the durable directory tree (would survive kDropAll).
  bool DurablyExists(const std::string& path) const;
  // Every file now, full path -> current bytes (sorted by path).
  std::map<std::string, Bytes> Snapshot() const;

  // Creates or replaces the file at `path` with `content`, durable at once (data and entry);
  // missing parent directories are created durably. A file already at `path` keeps its
  // identity (open handles see the new bytes) and loses its unsynced ops. For planting
  // fixtures and corrupting bytes on "disk".
  Status SetFileContent(const std::string& path, ByteView content);

  struct State;  // defined in sim_file_system.cc

 private:
  std::shared_ptr<State> state_;
};

}  // namespace ironbus::io
