// The one value parser behind every layer: a number is plain base-10 digits in env and flags
// (units only in the file, where FileValueToText resolves them first), a boolean is
// true/1/false/0, an enum is one of its choices, a list is comma-separated.
#include "config/value_parse.h"

#include <vector>

namespace ironbus::config {

std::optional<uint64_t> ParseU64(std::string_view text) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    const uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

std::optional<uint64_t> ParseWithUnit(std::string_view text, Kind kind, std::string* why) {
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  const std::string_view unit = text.substr(digits);
  struct Unit {
    std::string_view name;
    uint64_t factor;
  };
  static constexpr Unit kSizes[] = {{"B", 1}, {"KiB", 1ull << 10}, {"MiB", 1ull << 20}, {"GiB", 1ull << 30},
                                    {"TiB", 1ull << 40}};
  static constexpr Unit kDurations[] = {{"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}, {"d", 86'400'000}};
  const auto* begin = kind == Kind::kBytes ? std::begin(kSizes) : std::begin(kDurations);
  const auto* end = kind == Kind::kBytes ? std::end(kSizes) : std::end(kDurations);
  const Unit* found = nullptr;
  for (const Unit* u = begin; u != end; ++u) {
    if (u->name == unit) found = u;
  }
  const auto number = ParseU64(text.substr(0, digits));
  if (!number || found == nullptr) {
    *why = "bad " + std::string(kind == Kind::kBytes ? "size" : "duration") + " \"" + std::string(text) + "\"";
    return std::nullopt;
  }
  if (*number > UINT64_MAX / found->factor) {
    *why = "\"" + std::string(text) + "\" overflows 64 bits";
    return std::nullopt;
  }
  return *number * found->factor;
}

const char* ExpectedText(Kind kind) {
  switch (kind) {
    case Kind::kBytes: return "an integer (bytes) or a size string such as \"64MiB\"";
    case Kind::kMillis: return "an integer (ms) or a duration string such as \"30s\"";
    case Kind::kCount: return "a non-negative integer";
    default: return "a value";
  }
}

std::string Hint(Kind kind) {
  switch (kind) {
    case Kind::kBytes: return " (hint: sizes are integers in bytes or strings with a binary unit: B, KiB, MiB, GiB, TiB; SI units such as MB are refused)";
    case Kind::kMillis: return " (hint: durations are integers in ms or strings with a unit: ms, s, m, h, d, e.g. \"30s\")";
    case Kind::kCount: return " (hint: a plain non-negative integer)";
    case Kind::kBool: return " (hint: write true or false without quotes)";
    default: return "";
  }
}

std::string SetFromText(Config* c, const KeySpec& k, std::string_view text, const std::string& who) {
  const std::string quoted = "\"" + std::string(text) + "\"";
  switch (k.kind) {
    case Kind::kBytes:
    case Kind::kMillis:
    case Kind::kCount: {
      const auto v = ParseU64(text);
      if (!v) return who + " needs a non-negative base-10 integer, got " + quoted;
      c->*std::get<uint64_t Config::*>(k.field) = *v;
      return "";
    }
    case Kind::kBool:
      if (text == "true" || text == "1") {
        c->*std::get<bool Config::*>(k.field) = true;
      } else if (text == "false" || text == "0") {
        c->*std::get<bool Config::*>(k.field) = false;
      } else {
        return who + " needs true, 1, false or 0, got " + quoted;
      }
      return "";
    case Kind::kEnum: {
      std::string_view rest = k.choices;
      while (!rest.empty()) {
        const size_t bar = rest.find('|');
        if (rest.substr(0, bar) == text) {
          c->*std::get<std::string Config::*>(k.field) = std::string(text);
          return "";
        }
        rest = bar == std::string_view::npos ? std::string_view() : rest.substr(bar + 1);
      }
      return who + " must be one of " + std::string(k.choices) + ", got " + quoted;
    }
    case Kind::kString:
      c->*std::get<std::string Config::*>(k.field) = std::string(text);
      return "";
    case Kind::kU64List: {
      std::vector<uint64_t> out;
      size_t start = 0;
      while (start <= text.size()) {
        const size_t comma = std::min(text.find(',', start), text.size());
        const auto v = ParseU64(text.substr(start, comma - start));
        if (!v) return who + " needs comma-separated non-negative integers, got " + quoted;
        out.push_back(*v);
        start = comma + 1;
      }
      c->*std::get<std::vector<uint64_t> Config::*>(k.field) = std::move(out);
      return "";
    }
    case Kind::kStringList:
      (c->*std::get<std::vector<std::string> Config::*>(k.field)).emplace_back(text);
      return "";
  }
  return who + ": unhandled kind";
}

}  // namespace ironbus::config
