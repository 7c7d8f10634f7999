// Text -> typed value for one key, shared by the env, flag and file layers (spec 5.2, 5.3).
// Internal to src/config.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.h"

namespace ironbus::config {

// Strict base-10 u64: digits only, no sign, no overflow.
std::optional<uint64_t> ParseU64(std::string_view text);
// "<int><unit>" for the file only: sizes B|KiB|MiB|GiB|TiB, durations ms|s|m|h|d. Sets *why.
std::optional<uint64_t> ParseWithUnit(std::string_view text, Kind kind, std::string* why);
// "an integer (bytes) or a size string" etc., for type errors.
const char* ExpectedText(Kind kind);
// " (hint: ...)" for a bad value of this kind, or "".
std::string Hint(Kind kind);
// Parses `text` (env/flag form; the file layer converts to it first) into the key's field.
// `who` names the source ("--max-deliver", "IRONBUS_MAX_DELIVER", "f.toml:3:1: config key `x`").
// Returns "" or the error line.
std::string SetFromText(Config* config, const KeySpec& key, std::string_view text, const std::string& who);

}  // namespace ironbus::config
