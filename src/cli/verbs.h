// Each verb registers its flags on the CLI11 app and runs through a callback that stores the
// verb's exit code. One file per verb (serve.cc, peek_dump.cc, scrub_repair.cc).
#pragma once

#include <CLI/CLI.hpp>

namespace ironbus::cli {

// `*exit_code` receives the verb's result when its callback runs.
void RegisterServe(CLI::App& app, int* exit_code);
void RegisterPeekAndDump(CLI::App& app, int* exit_code);
void RegisterScrubVerifyRepair(CLI::App& app, int* exit_code);
void RegisterPub(CLI::App& app, int* exit_code);

}  // namespace ironbus::cli
