#include "storage/quarantine.h"

#include <algorithm>
#include <optional>
#include <tuple>
#include <vector>

#include "format/segment_name.h"

namespace ironbus::storage {
namespace {

constexpr uint64_t kCopyChunkBytes = 1 << 20;

struct Blob {
  std::string name;
  uint64_t size = 0;
  std::optional<format::QuarantineBlobKey> key;
};

// Eviction order: parsed names by (segment_id, start, end) first, oldest data first; names that
// do not parse last, by name, so the order is a pure function of the directory listing.
bool EvictBefore(const Blob& a, const Blob& b) {
  if (a.key.has_value() != b.key.has_value()) return a.key.has_value();
  if (a.key) {
    auto ka = std::tie(a.key->segment_id, a.key->start, a.key->end);
    auto kb = std::tie(b.key->segment_id, b.key->start, b.key->end);
    if (ka != kb) return ka < kb;
  }
  return a.name < b.name;
}

Result<std::vector<Blob>> ListBlobs(io::FileSystem* fs, const std::string& qdir) {
  ASSIGN_OR_RETURN(auto entries, fs->List(qdir));
  std::vector<Blob> blobs;
  for (const auto& entry : entries) {
    if (entry.is_dir) continue;
    Blob b;
    b.name = entry.name;
    ASSIGN_OR_RETURN(b.size, fs->FileSize(io::JoinPath(qdir, entry.name)));
    b.key = format::ParseQuarantineBlobName(entry.name);
    blobs.push_back(std::move(b));
  }
  std::sort(blobs.begin(), blobs.end(), EvictBefore);
  return blobs;
}

Status CopyBytes(io::File* source, io::File* dest, uint64_t start, uint64_t end) {
  Bytes buf(static_cast<size_t>(std::min<uint64_t>(kCopyChunkBytes, end - start)));
  for (uint64_t pos = start; pos < end;) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), end - pos));
    ASSIGN_OR_RETURN(size_t got, source->ReadAt(pos, std::span<uint8_t>(buf.data(), want)));
    // The source shrank under us (it must not: recovery holds the data-dir lock).
    if (got == 0) return Status::Corruption("source ends before the quarantined span does");
    RETURN_IF_ERROR(dest->WriteAt(pos - start, ByteView(buf.data(), got)));
    pos += got;
  }
  return Status::Ok();
}

}  // namespace

Result<uint64_t> QuarantineBytesUsed(io::FileSystem* fs, const std::string& data_dir) {
  const std::string qdir = io::JoinPath(data_dir, format::kQuarantineDirName);
  ASSIGN_OR_RETURN(bool exists, fs->Exists(qdir));
  if (!exists) return uint64_t{0};
  ASSIGN_OR_RETURN(auto blobs, ListBlobs(fs, qdir));
  uint64_t used = 0;
  for (const Blob& b : blobs) used += b.size;
  return used;
}

Result<QuarantineOutcome> CopyToQuarantine(io::FileSystem* fs, const std::string& data_dir, io::File* source,
                                           const QuarantineSpan& span, uint64_t max_bytes) {
  if (span.end <= span.start) return QuarantineOutcome::kNothingToCopy;
  const uint64_t len = span.end - span.start;
  if (max_bytes != 0 && len > max_bytes) return QuarantineOutcome::kSkippedOverCap;

  const std::string qdir = io::JoinPath(data_dir, format::kQuarantineDirName);
  const std::string path =
      io::JoinPath(qdir, format::QuarantineBlobName(span.segment_id, span.reason_label, span.start, span.end));
  ASSIGN_OR_RETURN(bool dir_exists, fs->Exists(qdir));
  if (!dir_exists) {
    RETURN_IF_ERROR(fs->CreateDirs(qdir));
    // The new directory entry must survive a power cut like the blobs inside it.
    RETURN_IF_ERROR(fs->SyncDir(data_dir));
  }
  // Checked before evicting, so a repeated recovery of the same damage evicts nothing.
  ASSIGN_OR_RETURN(bool captured, fs->Exists(path));
  if (captured) return QuarantineOutcome::kAlreadyCaptured;

  if (max_bytes != 0) {
    ASSIGN_OR_RETURN(auto blobs, ListBlobs(fs, qdir));
    uint64_t used = 0;
    for (const Blob& b : blobs) used += b.size;
    bool removed = false;
    for (const Blob& b : blobs) {
      if (used + len <= max_bytes) break;
      RETURN_IF_ERROR(fs->Remove(io::JoinPath(qdir, b.name)));
      used -= b.size;
      removed = true;
    }
    if (removed) RETURN_IF_ERROR(fs->SyncDir(qdir));
  }

  auto opened = fs->Open(path, io::OpenMode::kCreateExclusive);
  if (!opened.ok()) {
    // Lost a race with ourselves is impossible (single-threaded); an existing name means the
    // span was captured before.
    if (opened.status().IsFailedPrecondition()) return QuarantineOutcome::kAlreadyCaptured;
    return opened.status();
  }
  std::unique_ptr<io::File> dest = std::move(opened).value();
  Status st = CopyBytes(source, dest.get(), span.start, span.end);
  if (st.ok()) st = dest->FullSync();
  Status close = dest->Close();
  if (st.ok()) st = close;
  if (st.ok()) st = fs->SyncDir(qdir);
  if (!st.ok()) {
    // Never leave a partial blob under a final name: it would read as "already captured".
    (void)fs->Remove(path);
    (void)fs->SyncDir(qdir);
    return st.WithContext("quarantine " + path);
  }
  return QuarantineOutcome::kWritten;
}

}  // namespace ironbus::storage
