#include "io/file_system.h"

#include <algorithm>
#include <utility>

namespace ironbus::io {
namespace {

// Reads go in bounded chunks so a file that grows while we read (or lies about its size)
// can never make us allocate more than max_bytes + one chunk.
constexpr uint64_t kReadChunkBytes = 64 * 1024;

// "a/b/c" -> "a/b"; "c" -> "."; "/c" -> "/".
std::string ParentDir(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

std::string JoinPath(std::string_view dir, std::string_view name) {
  while (!name.empty() && name.front() == '/') name.remove_prefix(1);
  if (dir.empty()) return std::string(name);
  std::string out(dir);
  if (name.empty()) return out;
  if (out.back() != '/') out.push_back('/');
  out.append(name);
  return out;
}

Result<Bytes> ReadWholeFile(FileSystem& fs, const std::string& path, uint64_t max_bytes) {
  ASSIGN_OR_RETURN(std::unique_ptr<File> file, fs.Open(path, OpenMode::kRead));
  ASSIGN_OR_RETURN(uint64_t size, file->Size());
  if (size > max_bytes) {
    return Status::OutOfRange("read " + path + ": file is " + std::to_string(size) +
                              " bytes, more than the limit of " + std::to_string(max_bytes));
  }
  Bytes content;
  content.reserve(static_cast<size_t>(size));
  // Read until end of file rather than trusting `size`: the file may have changed since.
  while (true) {
    // One byte past the limit is enough to tell "exactly max_bytes" from "too big".
    uint64_t remaining = max_bytes - content.size();
    uint64_t want = remaining >= kReadChunkBytes ? kReadChunkBytes : remaining + 1;
    size_t old_len = content.size();
    content.resize(old_len + static_cast<size_t>(want));
    ASSIGN_OR_RETURN(size_t got,
                     file->ReadAt(old_len, std::span<uint8_t>(content.data() + old_len, want)));
    content.resize(old_len + got);
    if (content.size() > max_bytes) {
      return Status::OutOfRange("read " + path + ": file grew past the limit of " +
                                std::to_string(max_bytes) + " bytes");
    }
    if (got == 0) break;
  }
  RETURN_IF_ERROR(file->Close());
  return content;
}

Status WriteFileAtomically(FileSystem& fs, const std::string& path, ByteView content) {
  const std::string tmp_path = path + ".tmp";
  Status written = [&]() -> Status {
    ASSIGN_OR_RETURN(std::unique_ptr<File> file, fs.Open(tmp_path, OpenMode::kCreateOrTruncate));
    RETURN_IF_ERROR(file->WriteAt(0, content));
    // fsync, not fdatasync: the temp file's length is new metadata and must be on disk
    // before the rename makes it visible under the real name.
    RETURN_IF_ERROR(file->FullSync());
    return file->Close();
  }();
  if (!written.ok()) {
    // Best effort: a stale temp file is harmless (the next attempt truncates it), so a
    // failure to remove it must not hide the original error.
    (void)fs.Remove(tmp_path);
    return written.WithContext("write " + path + " atomically");
  }
  Status renamed = fs.Rename(tmp_path, path);
  if (!renamed.ok()) {
    (void)fs.Remove(tmp_path);
    return renamed.WithContext("write " + path + " atomically");
  }
  // Without this the rename may not survive a power cut and the old content comes back.
  return fs.SyncDir(ParentDir(path)).WithContext("write " + path + " atomically");
}

}  // namespace ironbus::io
