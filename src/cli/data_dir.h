// Data-directory helpers shared by the verbs: the zero-config default (DESIGN.md D4) and a
// read-only open for the offline tools (recovery in kDryRun, then a frozen storage::Log that
// only serves reads, so nothing on disk changes).
#pragma once

#include <memory>
#include <string>

#include "base/clock.h"
#include "base/result.h"
#include "config/config.h"
#include "io/file_system.h"
#include "recovery/recover.h"
#include "storage/log.h"

namespace ironbus::cli {

// ${XDG_DATA_HOME:-$HOME/.local/share}/ironbus (DESIGN.md D4).
std::string DefaultDataDir();

// The data dir the broker uses: the configured one, else DefaultDataDir().
std::string ResolvedDataDir(const config::Config& c);

struct ReadOnlyLog {
  recovery::Recovered recovered;   // the plan recovery would apply, and the loss report
  std::unique_ptr<storage::Log> log;
};

// NotFound when `dir` does not exist (exit 2). FailedPrecondition for reference data this
// build does not support. Never writes to `dir`. `keys` (may be null) authenticates and opens
// encrypted segments; without them those are reported UnknownKeyId and serve nothing.
Result<ReadOnlyLog> OpenReadOnly(io::FileSystem* fs, const std::string& dir, uint64_t max_segment_bytes,
                                 std::shared_ptr<const format::KeyRing> keys = nullptr);

}  // namespace ironbus::cli
