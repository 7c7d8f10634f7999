// One exit-code table for every verb (spec/cli-config-ops.md section 1.3). Scripts branch on
// these; no other codes are emitted.
#pragma once

#include <string_view>

namespace ironbus::cli {

enum ExitCode : int {
  kExitOk = 0,
  kExitUsage = 1,              // bad invocation or configuration
  kExitNotFound = 2,           // an offline verb's --data-dir does not exist
  kExitHandledCorruption = 3,  // finished; found real data loss
  kExitCorrupt = 4,            // gave up: structurally unreadable
  kExitUnreachable = 5,        // broker unreachable, or the data-dir lock is held by a broker
  kExitInternal = 70,          // runtime failure (I/O error, ...)
};

// The --json `error.kind` spelling of a code ("usage", "not_found", ...).
std::string_view ExitKind(int code);

}  // namespace ironbus::cli
