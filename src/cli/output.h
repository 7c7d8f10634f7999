// Output helpers shared by the verbs: human lines on stdout, `error: ...` on stderr, and the
// --json failure object `ironbus.cli.result.v1` (spec/cli-config-ops.md sections 1.2-1.4, 3.8).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "base/status.h"

namespace ironbus::cli {

// Prints one JSON object as a single line on stdout.
void PrintJsonLine(const nlohmann::json& object);

// Reports a failure the way every verb does: `error: <message>` on stderr, and with --json the
// result object on stdout. Returns `code` so callers can `return Fail(...)`.
int Fail(std::string_view command, bool json, int code, const std::string& message,
         nlohmann::json detail = nlohmann::json::object());

// Maps a Status from opening/reading a data directory to the exit-code table:
// NotFound -> 2, Corruption -> 4, FailedPrecondition (lock held) -> 5, anything else -> 70.
int ExitCodeFor(const Status& status);

}  // namespace ironbus::cli
