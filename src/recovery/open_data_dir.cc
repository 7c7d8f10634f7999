#include "recovery/open_data_dir.h"

#include "base/log.h"
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

// One WARN line per loss event (spec 6.4), an ERROR when the caps froze the log, and a summary.
void LogRecovery(const std::string& dir, const LossReport& report) {
  for (const LossEvent& e : report.events) {
    logging::Warn("recovery.loss", {{"data_dir", dir},
                                    {"segment", e.segment_id},
                                    {"segment_file", format::SegmentFileName(e.segment_id)},
                                    {"byte_start", e.byte_offset_start},
                                    {"byte_end", e.byte_offset_end},
                                    {"bytes", e.bytes_skipped()},
                                    {"first_offset", e.first_lost_offset},
                                    {"end_offset", e.end_lost_offset},
                                    {"offsets_exact", e.offsets_exact},
                                    {"records_lost_estimate", e.records_lost_estimate},
                                    {"reason", LossReasonMetricLabel(e.reason)},
                                    {"data_loss", e.data_loss()},
                                    {"truncated", e.truncated},
                                    {"accepted", e.accepted}});
  }
  if (report.frozen) {
    logging::Error("recovery.frozen", {{"data_dir", dir}, {"reason", report.frozen_reason}});
  }
  const LossTotals totals = report.Totals();
  logging::Info("recovery.completed", {{"data_dir", dir},
                                       {"loss_events", static_cast<uint64_t>(report.events.size())},
                                       {"data_loss_bytes", totals.data_loss_bytes},
                                       {"torn_tail_bytes", totals.torn_tail_bytes},
                                       {"records_lost", totals.records_lost},
                                       {"frozen", report.frozen}});
}

Result<std::unique_ptr<storage::Log>> RecoverAndOpen(io::FileSystem* fs, const std::string& dir,
                                                     const RecoveryOptions& options,
                                                     const storage::LogOptions& log_options, Clock* clock,
                                                     LossReport* report, std::vector<std::string>* warnings) {
  ASSIGN_OR_RETURN(Recovered rec, Recover(fs, dir, options));
  *report = rec.report;
  for (auto& w : rec.warnings) {
    logging::Warn("recovery.warning", {{"data_dir", dir}, {"msg", w}});
    warnings->push_back(dir + ": " + w);
  }
  LogRecovery(dir, rec.report);
  return storage::Log::Open(fs, std::move(rec.state), log_options, clock);
}

}  // namespace

Result<OpenedDataDir> OpenDataDir(io::FileSystem* fs, const std::string& dir, const RecoveryOptions& options,
                                  const storage::LogOptions& log_options, Clock* clock) {
  RecoveryOptions apply = options;
  apply.mode = Mode::kApply;
  // The per-event cap follows the roll size the log is opened with: one source of truth.
  apply.max_segment_bytes = log_options.max_segment_bytes;
  // Recovery authenticates with the keys the log writes and reads with (main log and DLQ).
  if (apply.keys == nullptr) apply.keys = log_options.keys;
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
