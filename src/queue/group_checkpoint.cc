#include "queue/group_checkpoint.h"

#include <algorithm>
#include <utility>

#include "format/record_format.h"
#include "format/segment_name.h"

namespace ironbus::queue {

GroupCheckpoint::GroupCheckpoint(io::FileSystem* fs, std::string dir, std::string group)
    : fs_(fs), dir_(std::move(dir)), group_(std::move(group)) {}

Result<std::unique_ptr<GroupCheckpoint>> GroupCheckpoint::Open(io::FileSystem* fs, std::string dir,
                                                               std::string group) {
  std::unique_ptr<GroupCheckpoint> g(new GroupCheckpoint(fs, std::move(dir), std::move(group)));
  using storage::CheckpointFile;
  auto cursor = CheckpointFile::Open(fs, g->dir_, format::CursorFileName(g->group_), format::kCursorCheckpointCap,
                                     CheckpointFile::Mode::kOpenExisting);
  if (cursor.ok()) {
    g->cursor_file_ = std::move(cursor).value();
  } else if (!cursor.status().IsNotFound()) {
    return cursor.status();
  }
  auto attempts = CheckpointFile::Open(fs, g->dir_, format::AttemptsFileName(g->group_),
                                       format::kAttemptsCheckpointCap, CheckpointFile::Mode::kOpenExisting);
  if (attempts.ok()) {
    g->attempts_file_ = std::move(attempts).value();
  } else if (!attempts.status().IsNotFound()) {
    return attempts.status();
  }
  return g;
}

GroupCheckpoint::Loaded GroupCheckpoint::Load(uint64_t head, size_t max_runs) {
  Loaded out;
  out.cursor = Cursor(0, max_runs);
  if (cursor_file_ != nullptr && cursor_file_->value().has_value()) {
    // A bad snapshot CRC or range shape decodes to its committed value alone (format layer).
    const format::CursorSnapshot snap = format::DecodeCursorSnapshot(cursor_file_->value()->payload);
    out.cursor = Cursor::Restore(snap, head, max_runs);
    out.had_cursor = true;
    if (!(out.cursor.Snapshot() == snap)) out.needs_rewrite = true;
  }
  if (attempts_file_ != nullptr && attempts_file_->value().has_value()) {
    // Absent or torn: every in-flight message restarts at attempt 1 (spec 7.3).
    if (auto snap = format::DecodeAttemptsSnapshot(attempts_file_->value()->payload)) {
      for (const auto& [offset, attempt] : snap->attempts) {
        if (attempt == 0 || offset >= head || out.cursor.IsAcked(offset)) {
          // A count past the head would be charged to a future record at that offset.
          if (offset >= head) out.needs_rewrite = true;
          continue;
        }
        out.carried[offset] = attempt;
      }
    }
  }
  last_written_committed_ = out.cursor.committed();
  return out;
}

Status GroupCheckpoint::EnsureOpen(std::unique_ptr<storage::CheckpointFile>* file, const std::string& name,
                                   size_t cap) {
  if (*file != nullptr) return Status::Ok();
  ASSIGN_OR_RETURN(*file, storage::CheckpointFile::Open(fs_, dir_, name, cap,
                                                        storage::CheckpointFile::Mode::kOpenOrCreate));
  return Status::Ok();
}

Status GroupCheckpoint::WriteCursor(const Cursor& cursor) {
  RETURN_IF_ERROR(EnsureOpen(&cursor_file_, format::CursorFileName(group_), format::kCursorCheckpointCap));
  const Bytes payload = format::EncodeCursorSnapshot(cursor.Snapshot(), format::kCursorCheckpointCap);
  RETURN_IF_ERROR(cursor_file_->Write(payload));
  last_written_committed_ = cursor.committed();
  return Status::Ok();
}

size_t GroupCheckpoint::MaxAttemptPairs() {
  // Derived from the encoder itself so the pair width is spelled only in format/.
  static const size_t pairs = [] {
    format::AttemptsSnapshot one;
    one.attempts.emplace_back(0, 1);
    const size_t empty = format::EncodeAttemptsSnapshot(format::AttemptsSnapshot{}).value().size();
    const size_t pair = format::EncodeAttemptsSnapshot(one).value().size() - empty;
    return (format::kAttemptsCheckpointCap - empty) / pair;
  }();
  return pairs;
}

Status GroupCheckpoint::WriteAttempts(const AttemptMap& attempts) {
  format::AttemptsSnapshot snap;
  const size_t n = std::min(attempts.size(), MaxAttemptPairs());
  snap.attempts.reserve(n);
  for (auto it = attempts.begin(); snap.attempts.size() < n; ++it) snap.attempts.emplace_back(it->first, it->second);
  ASSIGN_OR_RETURN(Bytes payload, format::EncodeAttemptsSnapshot(snap, format::kAttemptsCheckpointCap));
  RETURN_IF_ERROR(EnsureOpen(&attempts_file_, format::AttemptsFileName(group_), format::kAttemptsCheckpointCap));
  return attempts_file_->Write(payload);
}

}  // namespace ironbus::queue
