// SIGHUP handling of `serve` (spec/cli-config-ops.md 5.6): re-read the config file with the
// env and flags of process start, validate it as a unit, refuse any cold change, apply the live
// subset to the running engine and report every other change.
#pragma once

#include "config/config.h"

namespace ironbus::cli {

// Runs on the signal-waiting thread of serve. `running` is the effective config; it is
// updated to the new one when the reload is accepted.
void Reload(const config::Inputs& inputs, config::Config* running);

}  // namespace ironbus::cli
