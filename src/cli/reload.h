// SIGHUP handling of `serve` (spec/cli-config-ops.md 5.6): re-read the config file with the
// env and flags of process start, validate it as a unit, refuse any cold change, apply the live
// subset to the running log and report every other change.
#pragma once

#include "config/config.h"
#include "storage/log.h"

namespace ironbus::cli {

// Runs on the signal-waiting thread of serve. `running` is the effective config; its live keys
// are updated when the reload is accepted, and applied to `log` (SetRetention, SetCapacity).
// Every outcome is logged (events config.reload, config.reload.change, config.reload.error).
void Reload(const config::Inputs& inputs, config::Config* running, storage::Log* log);

}  // namespace ironbus::cli
