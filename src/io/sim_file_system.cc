#include "io/sim_file_system.h"

#include <algorithm>
#include <cerrno>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <system_error>

namespace ironbus::io {
namespace {

// Far beyond any test, small enough that a bad offset cannot exhaust memory.
constexpr uint64_t kMaxFileBytes = uint64_t{1} << 30;

// A file's content, shared by its directory entries (before a rename is durable, the old and
// the new name may both point here) and its open handles.
struct Inode {
  uint64_t id = 0;
  Bytes current;
  Bytes durable;                      // as of the last successful Sync/FullSync
  std::vector<SimFileOp> unsynced;    // since then, in order
};

struct DirNode;

// What a name points at: a file or a directory (exactly one is set).
struct Entry {
  std::shared_ptr<Inode> file;
  std::shared_ptr<DirNode> dir;
  bool exists() const { return file || dir; }
  bool operator==(const Entry&) const = default;  // same object, not same content
};

struct DirNode {
  uint64_t id = 0;
  std::map<std::string, Entry> current;
  std::map<std::string, Entry> durable;  // as of the last successful SyncDir
};

Entry Get(const std::map<std::string, Entry>& entries, const std::string& name) {
  auto it = entries.find(name);
  return it == entries.end() ? Entry{} : it->second;
}

bool EntryIsDurable(const DirNode& dir, const std::string& name) {
  return Get(dir.current, name) == Get(dir.durable, name);
}

// A rename not yet durable on both sides; PowerCut flips its two names together.
struct RenameLink {
  std::shared_ptr<DirNode> from_dir;
  std::string from_name;
  std::shared_ptr<DirNode> to_dir;
  std::string to_name;
};

enum class FaultKind : uint8_t { kWrite, kNoSpaceWrite, kShortWrite, kSync, kRead, kSyncDir, kRename,
                                 kNoSpacePreallocate, kOpen };

struct Fault {
  FaultKind kind;
  std::string path_substring;
  int remaining;
};

std::vector<std::string> Components(std::string_view path) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t slash = path.find('/', pos);
    if (slash == std::string_view::npos) slash = path.size();
    std::string_view part = path.substr(pos, slash - pos);
    if (part == "..") {
      if (!out.empty()) out.pop_back();
    } else if (!part.empty() && part != ".") {
      out.emplace_back(part);
    }
    pos = slash + 1;
  }
  return out;
}

std::string Normalize(std::string_view path) {
  std::string out;
  for (const std::string& part : Components(path)) out += "/" + part;
  return out.empty() ? "/" : out;
}

Status Crashed(std::string_view op, const std::string& path) {
  return Status::IOError(std::string(op) + " " + path + ": simulated crash", EIO);
}
Status Injected(std::string_view op, const std::string& path, int err) {
  return Status::IOError(std::string(op) + " " + path + ": injected fault: " +
                         std::generic_category().message(err), err);
}
Status Errno(std::string_view op, const std::string& path, int err) {
  return Status::IOError(std::string(op) + " " + path + ": " + std::generic_category().message(err), err);
}
Status Missing(std::string_view op, const std::string& path) {
  return Status::NotFound(std::string(op) + " " + path + ": " + std::generic_category().message(ENOENT));
}

// A path resolved against the current tree. `parent` is null only for the root.
struct Located {
  std::shared_ptr<DirNode> parent;
  std::string name;
  Entry entry;  // empty when the name does not exist (yet)
};

}  // namespace

struct SimFileSystem::State {
  mutable std::mutex mu;
  std::shared_ptr<DirNode> root = std::make_shared<DirNode>();
  uint64_t next_id = 1;
  uint64_t epoch = 0;  // bumped by PowerCut; handles from an older epoch are dead
  std::vector<RenameLink> renames;
  std::vector<Fault> faults;
  std::optional<uint64_t> ops_until_crash;
  bool crashed = false;
  SimCounters counters;
  std::map<std::string, uint64_t> locks;  // normalized path -> holder id
  uint64_t next_lock_id = 1;
  uint64_t available_bytes = UINT64_MAX;

  // All helpers below REQUIRE mu held.

  Status CheckNotCrashed(std::string_view op, const std::string& path) const {
    return crashed ? Crashed(op, path) : Status::Ok();
  }

  // Counts a mutating operation, or crashes here if CrashAfterOps says so.
  Status BeginMutation(std::string_view op, const std::string& path) {
    if (crashed) return Crashed(op, path);
    if (ops_until_crash.has_value()) {
      if (*ops_until_crash == 0) {
        crashed = true;
        return Crashed(op, path);
      }
      --*ops_until_crash;
    }
    ++counters.mutating_ops;
    return Status::Ok();
  }

  bool TakeFault(FaultKind kind, const std::string& path, const std::string& other_path = "") {
    for (auto it = faults.begin(); it != faults.end(); ++it) {
      if (it->kind != kind) continue;
      bool match = path.find(it->path_substring) != std::string::npos ||
                   (!other_path.empty() && other_path.find(it->path_substring) != std::string::npos);
      if (!match) continue;
      if (--it->remaining <= 0) faults.erase(it);
      return true;
    }
    return false;
  }

  Result<Located> Locate(std::string_view op, const std::string& path) const {
    std::vector<std::string> parts = Components(path);
    if (parts.empty()) return Located{nullptr, "", Entry{nullptr, root}};
    std::shared_ptr<DirNode> dir = root;
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
      Entry e = Get(dir->current, parts[i]);
      if (!e.exists()) return Missing(op, path);
      if (!e.dir) return Errno(op, path, ENOTDIR);
      dir = e.dir;
    }
    return Located{dir, parts.back(), Get(dir->current, parts.back())};
  }

  std::shared_ptr<Inode> NewInode() {
    auto inode = std::make_shared<Inode>();
    inode->id = next_id++;
    return inode;
  }
  std::shared_ptr<DirNode> NewDir() {
    auto dir = std::make_shared<DirNode>();
    dir->id = next_id++;
    return dir;
  }

  // The PowerCut pass over one directory and, depth first, everything under it.
  void Resolve(DirNode& dir, PowerCutMode mode, std::mt19937_64& rng,
               const std::map<std::pair<uint64_t, std::string>, bool>& forced, std::set<const void*>& seen);
};

namespace {

class SimFile final : public File {
 public:
  SimFile(std::shared_ptr<SimFileSystem::State> state, std::shared_ptr<Inode> inode, std::string path,
          bool writable)
      : state_(std::move(state)),
        inode_(std::move(inode)),
        path_(std::move(path)),
        match_path_(Normalize(path_)),
        writable_(writable),
        epoch_(state_->epoch) {}

  Result<size_t> ReadAt(uint64_t offset, std::span<uint8_t> out) override {
    std::lock_guard<std::mutex> lock(state_->mu);
    RETURN_IF_ERROR(CheckUsable("read"));
    RETURN_IF_ERROR(state_->CheckNotCrashed("read", path_));
    if (state_->TakeFault(FaultKind::kRead, match_path_)) return Injected("read", path_, EIO);
    const Bytes& content = inode_->current;
    if (offset >= content.size()) return size_t{0};
    size_t n = static_cast<size_t>(std::min<uint64_t>(out.size(), content.size() - offset));
    std::copy_n(content.begin() + static_cast<ptrdiff_t>(offset), n, out.begin());
    return n;
  }

  Status WriteAt(uint64_t offset, ByteView data) override {
    std::lock_guard<std::mutex> lock(state_->mu);
    RETURN_IF_ERROR(CheckUsable("write"));
    if (!writable_) return Errno("write", path_, EBADF);
    RETURN_IF_ERROR(state_->BeginMutation("write", path_));
    ++state_->counters.writes;
    if (state_->TakeFault(FaultKind::kWrite, match_path_)) return Injected("write", path_, EIO);
    if (state_->TakeFault(FaultKind::kNoSpaceWrite, match_path_)) return Injected("write", path_, ENOSPC);
    if (offset > kMaxFileBytes || data.size() > kMaxFileBytes - offset) return Errno("write", path_, EFBIG);
    if (state_->TakeFault(FaultKind::kShortWrite, match_path_)) {
      Write(offset, data.first(data.size() / 2));
      return Injected("write (short, " + std::to_string(data.size() / 2) + " of " +
                          std::to_string(data.size()) + " bytes written)", path_, EIO);
    }
    Write(offset, data);
    return Status::Ok();
  }

  Status Sync() override { return SyncImpl("fdatasync", &SimCounters::syncs); }
  Status FullSync() override { return SyncImpl("fsync", &SimCounters::full_syncs); }

  Status Truncate(uint64_t size) override {
    std::lock_guard<std::mutex> lock(state_->mu);
    RETURN_IF_ERROR(CheckUsable("truncate"));
    if (!writable_) return Errno("truncate", path_, EBADF);
    RETURN_IF_ERROR(state_->BeginMutation("truncate", path_));
    if (size > kMaxFileBytes) return Errno("truncate", path_, EFBIG);
    inode_->current.resize(static_cast<size_t>(size), 0);
    inode_->unsynced.push_back(SimFileOp{SimFileOp::Kind::kTruncate, size, {}});
    return Status::Ok();
  }

  Result<uint64_t> Size() override {
    std::lock_guard<std::mutex> lock(state_->mu);
    RETURN_IF_ERROR(CheckUsable("size"));
    RETURN_IF_ERROR(state_->CheckNotCrashed("size", path_));
    return static_cast<uint64_t>(inode_->current.size());
  }

  Status Preallocate(uint64_t length) override {
    std::lock_guard<std::mutex> lock(state_->mu);
    RETURN_IF_ERROR(CheckUsable("preallocate"));
    if (!writable_) return Errno("preallocate", path_, EBADF);
    RETURN_IF_ERROR(state_->BeginMutation("preallocate", path_));
    if (state_->TakeFault(FaultKind::kNoSpacePreallocate, match_path_)) {
      return Injected("preallocate " + std::to_string(length) + " bytes of", path_, ENOSPC);
    }
    return Status::Ok();  // keep-size: nothing visible changes
  }

  Status Close() override {
    std::lock_guard<std::mutex> lock(state_->mu);
    if (closed_) return Status::Ok();
    Status usable = CheckUsable("close");
    closed_ = true;
    RETURN_IF_ERROR(usable);
    return state_->CheckNotCrashed("close", path_);
  }

  const std::string& path() const override { return path_; }

 private:
  // REQUIRES state_->mu held.
  Status CheckUsable(std::string_view op) const {
    if (epoch_ != state_->epoch) {
      return Status::IOError(std::string(op) + " " + path_ + ": power cut (file opened before it)", EIO);
    }
    if (closed_) return Errno(op, path_, EBADF);
    return Status::Ok();
  }

  // REQUIRES state_->mu held.
  void Write(uint64_t offset, ByteView data) {
    Bytes& content = inode_->current;
    if (content.size() < offset + data.size()) content.resize(static_cast<size_t>(offset + data.size()), 0);
    std::copy(data.begin(), data.end(), content.begin() + static_cast<ptrdiff_t>(offset));
    inode_->unsynced.push_back(SimFileOp{SimFileOp::Kind::kWrite, offset, Bytes(data.begin(), data.end())});
    state_->counters.bytes_written += data.size();
  }

  Status SyncImpl(std::string_view op, uint64_t SimCounters::*counter) {
    std::lock_guard<std::mutex> lock(state_->mu);
    RETURN_IF_ERROR(CheckUsable(op));
    RETURN_IF_ERROR(state_->BeginMutation(op, path_));
    ++(state_->counters.*counter);
    // fsyncgate: a failed sync makes nothing durable, and the dirty data stays at the mercy
    // of the next power cut.
    if (state_->TakeFault(FaultKind::kSync, match_path_)) return Injected(op, path_, EIO);
    inode_->durable = inode_->current;
    inode_->unsynced.clear();
    return Status::Ok();
  }

  const std::shared_ptr<SimFileSystem::State> state_;
  const std::shared_ptr<Inode> inode_;
  const std::string path_;
  const std::string match_path_;
  const bool writable_;
  const uint64_t epoch_;
  bool closed_ = false;  // GUARDED_BY(state_->mu)
};

class SimLock final : public FileLock {
 public:
  SimLock(std::shared_ptr<SimFileSystem::State> state, std::string path, uint64_t id)
      : state_(std::move(state)), path_(std::move(path)), id_(id) {}
  ~SimLock() override {
    std::lock_guard<std::mutex> lock(state_->mu);
    // After a PowerCut the lock may already belong to a new holder: release only our own.
    auto it = state_->locks.find(path_);
    if (it != state_->locks.end() && it->second == id_) state_->locks.erase(it);
  }

 private:
  const std::shared_ptr<SimFileSystem::State> state_;
  const std::string path_;
  const uint64_t id_;
};

}  // namespace

SimFileSystem::SimFileSystem() : state_(std::make_shared<State>()) {}
SimFileSystem::~SimFileSystem() = default;

Result<std::unique_ptr<File>> SimFileSystem::Open(const std::string& path, OpenMode mode) {
  std::lock_guard<std::mutex> lock(state_->mu);
  const bool creates = mode == OpenMode::kCreateExclusive || mode == OpenMode::kCreateOrTruncate;
  RETURN_IF_ERROR(creates ? state_->BeginMutation("open", path) : state_->CheckNotCrashed("open", path));
  if (state_->TakeFault(FaultKind::kOpen, Normalize(path))) return Injected("open", path, EIO);
  ASSIGN_OR_RETURN(Located at, state_->Locate("open", path));
  std::shared_ptr<Inode> inode = at.entry.file;
  if (at.entry.dir) return Errno("open", path, EISDIR);
  if (inode) {
    if (mode == OpenMode::kCreateExclusive) {
      return Status::FailedPrecondition("open " + path + " exclusively: file exists");
    }
    if (mode == OpenMode::kCreateOrTruncate && !inode->current.empty()) {
      inode->current.clear();
      inode->unsynced.push_back(SimFileOp{SimFileOp::Kind::kTruncate, 0, {}});
    }
  } else {
    if (!creates) return Missing("open", path);
    inode = state_->NewInode();
    at.parent->current[at.name] = Entry{inode, nullptr};
  }
  return std::unique_ptr<File>(new SimFile(state_, inode, path, mode != OpenMode::kRead));
}

Result<std::vector<DirEntry>> SimFileSystem::List(const std::string& dir) {
  std::lock_guard<std::mutex> lock(state_->mu);
  RETURN_IF_ERROR(state_->CheckNotCrashed("list", dir));
  ASSIGN_OR_RETURN(Located at, state_->Locate("list", dir));
  if (!at.entry.exists()) return Missing("list", dir);
  if (!at.entry.dir) return Errno("list", dir, ENOTDIR);
  std::vector<DirEntry> entries;
  for (const auto& [name, e] : at.entry.dir->current) entries.push_back(DirEntry{name, e.dir != nullptr});
  return entries;
}

Result<bool> SimFileSystem::Exists(const std::string& path) {
  std::lock_guard<std::mutex> lock(state_->mu);
  RETURN_IF_ERROR(state_->CheckNotCrashed("stat", path));
  Result<Located> at = state_->Locate("stat", path);
  return at.ok() && at->entry.exists();
}

Result<bool> SimFileSystem::IsDirectory(const std::string& path) {
  std::lock_guard<std::mutex> lock(state_->mu);
  RETURN_IF_ERROR(state_->CheckNotCrashed("stat", path));
  Result<Located> at = state_->Locate("stat", path);
  return at.ok() && at->entry.dir != nullptr;
}

Result<uint64_t> SimFileSystem::FileSize(const std::string& path) {
  std::lock_guard<std::mutex> lock(state_->mu);
  RETURN_IF_ERROR(state_->CheckNotCrashed("stat", path));
  ASSIGN_OR_RETURN(Located at, state_->Locate("stat", path));
  if (!at.entry.exists()) return Missing("stat", path);
  if (at.entry.dir) return Status::InvalidArgument("file size of " + path + ": is a directory");
  return static_cast<uint64_t>(at.entry.file->current.size());
}

Status SimFileSystem::CreateDirs(const std::string& dir) {
  std::lock_guard<std::mutex> lock(state_->mu);
  RETURN_IF_ERROR(state_->BeginMutation("mkdir", dir));
  if (dir.empty()) return Status::InvalidArgument("create directories: empty path");
  std::shared_ptr<DirNode> node = state_->root;
  for (const std::string& part : Components(dir)) {
    Entry& e = node->current[part];
    if (e.file) return Errno("mkdir", dir, EEXIST);
    if (!e.dir) e.dir = state_->NewDir();
    node = e.dir;
  }
  return Status::Ok();
}

Status SimFileSystem::SyncDir(const std::string& dir) {
  std::lock_guard<std::mutex> lock(state_->mu);
  RETURN_IF_ERROR(state_->BeginMutation("fsync directory", dir));
  ++state_->counters.sync_dirs;
  ASSIGN_OR_RETURN(Located at, state_->Locate("fsync directory", dir));
  if (!at.entry.exists()) return Missing("fsync directory", dir);
  if (!at.entry.dir) return Errno("fsync directory", dir, ENOTDIR);
  if (state_->TakeFault(FaultKind::kSyncDir, Normalize(dir))) return Injected("fsync directory", dir, EIO);
  at.entry.dir->durable = at.entry.dir->current;
  std::erase_if(state_->renames, [](const RenameLink& r) {
    return EntryIsDurable(*r.from_dir, r.from_name) && EntryIsDurable(*r.to_dir, r.to_name);
  });
  return Status::Ok();
}

Status SimFileSystem::Rename(const std::string& from, const std::string& to) {
  const std::string op = "rename to " + to + " from";
  std::lock_guard<std::mutex> lock(state_->mu);
  RETURN_IF_ERROR(state_->BeginMutation(op, from));
  if (state_->TakeFault(FaultKind::kRename, Normalize(from), Normalize(to))) return Injected(op, from, EIO);
  ASSIGN_OR_RETURN(Located src, state_->Locate(op, from));
  if (!src.entry.exists()) return Missing(op, from);
  if (!src.parent) return Errno(op, from, EBUSY);
  ASSIGN_OR_RETURN(Located dst, state_->Locate(op, to));
  if (!dst.parent) return Errno(op, from, EBUSY);
  if (src.entry == dst.entry) return Status::Ok();  // same name: rename(2) does nothing
  if (src.entry.dir) {
    std::string from_norm = Normalize(from) + "/";
    if (Normalize(to).rfind(from_norm, 0) == 0) return Errno(op, from, EINVAL);
    if (dst.entry.file) return Errno(op, from, ENOTDIR);
    if (dst.entry.dir && !dst.entry.dir->current.empty()) return Errno(op, from, ENOTEMPTY);
  } else if (dst.entry.dir) {
    return Errno(op, from, EISDIR);
  }
  dst.parent->current[dst.name] = src.entry;
  src.parent->current.erase(src.name);
  state_->renames.push_back(RenameLink{src.parent, src.name, dst.parent, dst.name});
  return Status::Ok();
}

Status SimFileSystem::Remove(const std::string& path) {
  std::lock_guard<std::mutex> lock(state_->mu);
  RETURN_IF_ERROR(state_->BeginMutation("unlink", path));
  ASSIGN_OR_RETURN(Located at, state_->Locate("unlink", path));
  if (!at.entry.exists()) return Missing("unlink", path);
  if (at.entry.dir) return Errno("unlink", path, EISDIR);
  at.parent->current.erase(at.name);
  return Status::Ok();
}

Status SimFileSystem::RemoveDir(const std::string& dir) {
  std::lock_guard<std::mutex> lock(state_->mu);
  RETURN_IF_ERROR(state_->BeginMutation("rmdir", dir));
  ASSIGN_OR_RETURN(Located at, state_->Locate("rmdir", dir));
  if (!at.entry.exists()) return Missing("rmdir", dir);
  if (at.entry.file) return Errno("rmdir", dir, ENOTDIR);
  if (!at.parent) return Errno("rmdir", dir, EBUSY);
  if (!at.entry.dir->current.empty()) return Errno("rmdir", dir, ENOTEMPTY);
  at.parent->current.erase(at.name);
  return Status::Ok();
}

Result<std::unique_ptr<FileLock>> SimFileSystem::LockExclusive(const std::string& path) {
  std::lock_guard<std::mutex> lock(state_->mu);
  RETURN_IF_ERROR(state_->BeginMutation("lock", path));
  ASSIGN_OR_RETURN(Located at, state_->Locate("lock", path));
  if (at.entry.dir) return Errno("lock", path, EISDIR);
  // Like open(O_CREAT) + flock: the lock file is created, and its entry is as durable as
  // any other new file's.
  if (!at.entry.exists()) at.parent->current[at.name] = Entry{state_->NewInode(), nullptr};
  std::string key = Normalize(path);
  if (state_->locks.count(key) != 0) {
    return Status::FailedPrecondition("lock " + path + ": " + path + " is locked by another process");
  }
  uint64_t id = state_->next_lock_id++;
  state_->locks[key] = id;
  return std::unique_ptr<FileLock>(new SimLock(state_, key, id));
}

Result<uint64_t> SimFileSystem::AvailableBytes(const std::string& path) {
  std::lock_guard<std::mutex> lock(state_->mu);
  RETURN_IF_ERROR(state_->CheckNotCrashed("statvfs", path));
  ASSIGN_OR_RETURN(Located at, state_->Locate("statvfs", path));
  if (!at.entry.exists()) return Missing("statvfs", path);
  return state_->available_bytes;
}

void SimFileSystem::SetAvailableBytes(uint64_t bytes) {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->available_bytes = bytes;
}

// ---- Power loss ----

void SimFileSystem::State::Resolve(DirNode& dir, PowerCutMode mode, std::mt19937_64& rng,
                                   const std::map<std::pair<uint64_t, std::string>, bool>& forced,
                                   std::set<const void*>& seen) {
  std::set<std::string> names;
  for (const auto& kv : dir.current) names.insert(kv.first);
  for (const auto& kv : dir.durable) names.insert(kv.first);
  std::map<std::string, Entry> survived;
  for (const std::string& name : names) {
    Entry durable = Get(dir.durable, name);
    Entry current = Get(dir.current, name);
    bool keep_current = mode == PowerCutMode::kKeepAll;
    if (mode == PowerCutMode::kRandom && !(durable == current)) {
      auto it = forced.find({dir.id, name});
      keep_current = it != forced.end() ? it->second : (rng() & 1) != 0;
    }
    Entry chosen = keep_current ? current : durable;
    if (chosen.exists()) survived[name] = chosen;
  }
  for (auto it = survived.begin(); it != survived.end();) {
    Entry& e = it->second;
    if (e.dir) {
      // One directory under two names (possible only if renames chained before the cut):
      // keep the first, as a real fs would never show a directory twice.
      if (!seen.insert(e.dir.get()).second) {
        it = survived.erase(it);
        continue;
      }
      Resolve(*e.dir, mode, rng, forced, seen);
    } else if (!seen.insert(e.file.get()).second) {
      // One file under two names (a rename half-persisted): give the second its own copy of
      // the already-decided bytes, so the two names do not alias after the reboot.
      auto copy = NewInode();
      copy->current = copy->durable = e.file->current;
      e.file = copy;
      seen.insert(copy.get());
    } else {
      Inode& inode = *e.file;
      inode.current = ContentAfterPowerCut(inode.durable, inode.unsynced, mode, rng());
      inode.durable = inode.current;
      inode.unsynced.clear();
    }
    ++it;
  }
  dir.current = survived;
  dir.durable = std::move(survived);
}

void SimFileSystem::PowerCut(uint64_t seed, PowerCutMode mode) {
  std::lock_guard<std::mutex> lock(state_->mu);
  std::mt19937_64 rng(seed);
  // A rename is one journal transaction: its source and target names persist together.
  std::map<std::pair<uint64_t, std::string>, bool> forced;
  for (const RenameLink& r : state_->renames) {
    bool persisted = (rng() & 1) != 0;
    forced[{r.from_dir->id, r.from_name}] = persisted;
    forced[{r.to_dir->id, r.to_name}] = persisted;
  }
  std::set<const void*> seen;
  state_->Resolve(*state_->root, mode, rng, forced, seen);
  state_->renames.clear();
  ++state_->epoch;
  state_->locks.clear();
  state_->faults.clear();
  state_->ops_until_crash.reset();
  state_->crashed = false;
  ++state_->counters.power_cuts;
}

namespace {
void SyncTree(DirNode& dir) {
  dir.durable = dir.current;
  for (auto& [name, e] : dir.current) {
    if (e.dir) {
      SyncTree(*e.dir);
    } else {
      e.file->durable = e.file->current;
      e.file->unsynced.clear();
    }
  }
}
}  // namespace

void SimFileSystem::SyncAll() {
  std::lock_guard<std::mutex> lock(state_->mu);
  SyncTree(*state_->root);
  state_->renames.clear();
}

// ---- Faults ----

#define IRONBUS_SIM_FAULT(Method, kind)                                        \
  void SimFileSystem::Method(std::string path_substring, int times) {          \
    std::lock_guard<std::mutex> lock(state_->mu);                              \
    if (times > 0) state_->faults.push_back(Fault{kind, std::move(path_substring), times}); \
  }
IRONBUS_SIM_FAULT(FailNextWrite, FaultKind::kWrite)
IRONBUS_SIM_FAULT(NextWriteNoSpace, FaultKind::kNoSpaceWrite)
IRONBUS_SIM_FAULT(ShortNextWrite, FaultKind::kShortWrite)
IRONBUS_SIM_FAULT(FailNextSync, FaultKind::kSync)
IRONBUS_SIM_FAULT(FailNextRead, FaultKind::kRead)
IRONBUS_SIM_FAULT(FailNextSyncDir, FaultKind::kSyncDir)
IRONBUS_SIM_FAULT(FailNextRename, FaultKind::kRename)
IRONBUS_SIM_FAULT(NoSpaceOnPreallocate, FaultKind::kNoSpacePreallocate)
IRONBUS_SIM_FAULT(FailNextOpen, FaultKind::kOpen)
#undef IRONBUS_SIM_FAULT

void SimFileSystem::CrashAfterOps(uint64_t n) {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->ops_until_crash = n;
}

bool SimFileSystem::crashed() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->crashed;
}

void SimFileSystem::ResetFaults() {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->faults.clear();
  state_->ops_until_crash.reset();
  state_->crashed = false;
}

int SimFileSystem::armed_faults() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  int total = 0;
  for (const Fault& f : state_->faults) total += f.remaining;
  return total;
}

// ---- Inspection (never subject to faults or crashes) ----

SimCounters SimFileSystem::counters() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->counters;
}

void SimFileSystem::ResetCounters() {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->counters = SimCounters{};
}

Result<Bytes> SimFileSystem::CurrentContent(const std::string& path) const {
  std::lock_guard<std::mutex> lock(state_->mu);
  ASSIGN_OR_RETURN(Located at, state_->Locate("read", path));
  if (!at.entry.file) return Missing("read", path);
  return at.entry.file->current;
}

Result<Bytes> SimFileSystem::DurableContent(const std::string& path) const {
  std::lock_guard<std::mutex> lock(state_->mu);
  ASSIGN_OR_RETURN(Located at, state_->Locate("read", path));
  if (!at.entry.file) return Missing("read", path);
  return at.entry.file->durable;
}

bool SimFileSystem::DurablyExists(const std::string& path) const {
  std::lock_guard<std::mutex> lock(state_->mu);
  std::shared_ptr<DirNode> dir = state_->root;
  std::vector<std::string> parts = Components(path);
  for (size_t i = 0; i < parts.size(); ++i) {
    Entry e = Get(dir->durable, parts[i]);
    if (!e.exists()) return false;
    if (i + 1 == parts.size()) return true;
    if (!e.dir) return false;
    dir = e.dir;
  }
  return true;  // the root
}

namespace {
void CollectFiles(const DirNode& dir, const std::string& prefix, std::map<std::string, Bytes>& out) {
  for (const auto& [name, e] : dir.current) {
    std::string path = prefix + "/" + name;
    if (e.dir) {
      CollectFiles(*e.dir, path, out);
    } else {
      out[path] = e.file->current;
    }
  }
}
}  // namespace

std::map<std::string, Bytes> SimFileSystem::Snapshot() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  std::map<std::string, Bytes> out;
  CollectFiles(*state_->root, "", out);
  return out;
}

Status SimFileSystem::SetFileContent(const std::string& path, ByteView content) {
  std::lock_guard<std::mutex> lock(state_->mu);
  std::vector<std::string> parts = Components(path);
  if (parts.empty()) return Errno("plant", path, EISDIR);
  if (content.size() > kMaxFileBytes) return Errno("plant", path, EFBIG);
  std::shared_ptr<DirNode> dir = state_->root;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    Entry& e = dir->current[parts[i]];
    if (e.file) return Errno("plant", path, ENOTDIR);
    if (!e.dir) e.dir = state_->NewDir();
    dir->durable[parts[i]] = e;
    dir = e.dir;
  }
  Entry& e = dir->current[parts.back()];
  if (e.dir) return Errno("plant", path, EISDIR);
  if (!e.file) e.file = state_->NewInode();
  e.file->current.assign(content.begin(), content.end());
  e.file->durable = e.file->current;
  e.file->unsynced.clear();
  dir->durable[parts.back()] = e;
  return Status::Ok();
}

}  // namespace ironbus::io
