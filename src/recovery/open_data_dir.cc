#include "recovery/open_data_dir.h"

#include "format/segment_name.h"

namespace ironbus::recovery {
namespace {

// Create, write, fsync, remove, dir-fsync: every operation the broker will need, once, before
// anything is served.
Status ProbeWritable(io::FileSystem* fs, const std::string& dir) {
  const std::string path = io::JoinPath(dir, kWriteProbeFileName);
  ASSIGN_OR_RETURN(auto file, fs->Open(path, io::OpenMode::kCreateOrTruncate));
  Status st = file->WriteAt(0, AsBytes("ironbus"));
  if (st.ok()) st = file->Sync();
  Status close = file->Close();
  if (st.ok()) st = close;
  Status removed = fs->Remove(path);
  if (st.ok()) st = removed;
  if (st.ok()) st = fs->SyncDir(dir);
  return st;
}

Result<std::unique_ptr<storage::Log>> RecoverAndOpen(io::FileSystem* fs, const std::string& dir,
                                                     const RecoveryOptions& options,
                                                     const storage::LogOptions& log_options, Clock* clock,
                                                     LossReport* report, std::vector<std::string>* warnings) {
  ASSIGN_OR_RETURN(Recovered rec, Recover(fs, dir, options));
  *report = rec.report;
  for (auto& w : rec.warnings) warnings->push_back(dir + ": " + w);
  return storage::Log::Open(fs, std::move(rec.state), log_options, clock);
}

}  // namespace

Result<OpenedDataDir> OpenDataDir(io::FileSystem* fs, const std::string& dir, const RecoveryOptions& options,
                                  const storage::LogOptions& log_options, Clock* clock) {
  RecoveryOptions apply = options;
  apply.mode = Mode::kApply;
  // The per-event cap follows the roll size the log is opened with: one source of truth.
  apply.max_segment_bytes = log_options.max_segment_bytes;
  OpenedDataDir out;
  {
    Status st = fs->CreateDirs(dir);
    if (!st.ok()) return st.WithContext("creating data directory " + dir);
  }
  auto lock = fs->LockExclusive(io::JoinPath(dir, format::kLockFileName));
  if (!lock.ok()) {
    if (lock.status().IsFailedPrecondition()) {
      return Status::FailedPrecondition("another ironbus broker is already running on " + dir);
    }
    return lock.status().WithContext("locking " + dir);
  }
  out.lock = std::move(lock).value();
  {
    Status st = ProbeWritable(fs, dir);
    if (!st.ok()) return st.WithContext("data directory " + dir + " is not writable");
  }
  ASSIGN_OR_RETURN(out.log, RecoverAndOpen(fs, dir, apply, log_options, clock, &out.report, &out.warnings));

  const std::string dlq = io::JoinPath(dir, format::kDlqDirName);
  ASSIGN_OR_RETURN(bool has_dlq, fs->IsDirectory(dlq));
  if (has_dlq) {
    storage::LogOptions dlq_options = log_options;
    dlq_options.retention = storage::RetentionOptions();  // dead letters are evidence: never reaped
    ASSIGN_OR_RETURN(out.dlq_log, RecoverAndOpen(fs, dlq, apply, dlq_options, clock, &out.dlq_report, &out.warnings));
  }
  return out;
}

}  // namespace ironbus::recovery
