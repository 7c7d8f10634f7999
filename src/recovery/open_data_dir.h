// OpenDataDir: what the broker runs at start before it serves anything.
//
//   1. create the data directory (0700) if missing;
//   2. take the exclusive lock on <dir>/LOCK: a second broker on the same directory gets
//      FailedPrecondition "another ironbus broker is already running on <dir>";
//   3. prove the directory is writable and syncable: create, write, fsync and remove a probe
//      file (a read-only or full disk fails here, loudly, not at the first produce);
//   4. Recover(kApply) (recover.h) and storage::Log::Open on the result;
//   5. the same for <dir>/dlq when that directory exists (the dead-letter log, spec 8).
// A frozen recovery (loss over a cap) still opens: the logs serve reads and refuse appends.
//
// Lifetime: the returned OpenedDataDir holds the lock for as long as it lives; the logs are
// destroyed before the lock is released (member order). `fs` and `clock` must outlive it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/result.h"
#include "io/file_system.h"
#include "recovery/loss_report.h"
#include "recovery/recover.h"
#include "storage/log.h"
#include "storage/log_options.h"

namespace ironbus::recovery {

// Name of the writability probe file; removed again before OpenDataDir returns.
inline constexpr std::string_view kWriteProbeFileName = ".ironbus-write-probe";

struct OpenedDataDir {
  std::unique_ptr<io::FileLock> lock;  // declared first: released last
  std::unique_ptr<storage::Log> log;
  LossReport report;
  std::unique_ptr<storage::Log> dlq_log;  // null when <dir>/dlq does not exist
  LossReport dlq_report;
  std::vector<std::string> warnings;  // best-effort recovery steps that failed
};

// `options.mode` is ignored (always kApply) and `options.max_segment_bytes` is taken from
// `log_options` (the caps follow the roll size the log runs with). The DLQ log uses the same
// options, with retention off (dead letters are never reaped).
Result<OpenedDataDir> OpenDataDir(io::FileSystem* fs, const std::string& dir, const RecoveryOptions& options,
                                  const storage::LogOptions& log_options, Clock* clock);

}  // namespace ironbus::recovery
