// Recover: the open-time scan of one log directory (spec/storage.md 6, with DESIGN.md D1/D2).
// It lists `seg-*.log`, scans every segment, resynchronizes past damage, decides what to cut,
// skip and quarantine, checks the loss caps, and returns the storage::LogState that
// storage::Log opens, with the loss report.
//
// Pure function of the bytes (I4): no clock, no randomness; the same directory gives the same
// LogState and report. kDryRun returns exactly what kApply would return (the plan) and never
// changes a byte, not even the layout marker.
//
// Fails closed (FailedPrecondition, naming the feature) only on reference data this build does
// not support: layout.meta version > 1, a compacted segment, a segment header flag bit it does
// not know or another segment version / checksum algorithm under a valid CRC,
// a record version it does not know under a valid header CRC. Damage is never fatal:
// I/O errors are (IOError), damage is reported.
//
// Caps (checked BEFORE anything is cut or copied): every event that is not accepted must be at
// most per_event = min(max_segment_bytes, 64 MiB) bytes, and the data-loss bytes of those events
// together at most max(durable_bytes / 100, per_event), durable_bytes being the valid record
// bytes after recovery. Over a cap, kApply changes nothing but writes the report file, and the
// returned state is frozen (reads only) until `repair --apply` (ignore_caps).
//
// What kApply writes, in this order, and when each is durable:
//   1. quarantine copies of the damaged spans (storage/quarantine.h; best-effort, each fsynced);
//   2. the active segment's tail cut: Truncate then FullSync (an error here fails recovery);
//   3. layout.meta v1 when absent, torn or foreign (best-effort, written atomically);
//   4. with ignore_caps: accepted-loss.json listing every loss that stays on disk (atomic);
//   5. recovery-report.json, the report as returned (best-effort, atomic: tmp, fsync, rename,
//      dir fsync).
// Best-effort failures are returned in Recovered::warnings, never as an error.
//
// Thread safety: run it alone on a directory (OpenDataDir holds the LOCK; offline tools must
// not run against a live broker's directory in kApply).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/result.h"
#include "format/key_ring.h"
#include "format/record_format.h"
#include "io/file_system.h"
#include "recovery/loss_report.h"
#include "storage/log_state.h"

namespace ironbus::recovery {

enum class Mode : uint8_t {
  kApply,   // broker open, repair --apply
  kDryRun,  // scrub, verify, repair plan: reads only
};

struct RecoveryOptions {
  uint64_t max_segment_bytes = format::kDefaultSegmentBytes;  // the log's roll size; sets the per-event cap
  Mode mode = Mode::kApply;
  // repair --apply: go ahead whatever the loss, and record every loss that stays on disk in
  // accepted-loss.json so later opens do not freeze on it again.
  bool ignore_caps = false;
  uint64_t max_quarantine_bytes = format::kDefaultQuarantineCapBytes;  // 0 = unlimited
  // At-rest keys (spec/security.md 5): every record of an encrypted segment is authenticated
  // with them at open; null = none loaded (encrypted segments are UnknownKeyId losses).
  std::shared_ptr<const format::KeyRing> keys;
};

struct Recovered {
  storage::LogState state;
  LossReport report;
  std::vector<std::string> warnings;  // best-effort steps that failed, for the log
};

struct LossCaps {
  uint64_t per_event = 0;
  uint64_t global = 0;
};
LossCaps ComputeLossCaps(uint64_t max_segment_bytes, uint64_t durable_bytes);

// `dir` must exist (NotFound otherwise). An empty directory gives a state with no segments,
// needs_new_active_segment set and next_offset 0.
Result<Recovered> Recover(io::FileSystem* fs, const std::string& dir, const RecoveryOptions& options);

}  // namespace ironbus::recovery
