#pragma once

// Structured operator logs on stderr (spec/cli-config-ops.md 4.8 and 6.4; docs/logging.md).
//
// One line per event: a dotted lowercase event name and key=value fields an operator greps for.
//
//   text: 2026-11-27T05:33:07.123Z WARN  produce.shed reason=at_capacity bytes=123 msg="no room"
//   json: {"ts":"2026-11-27T05:33:07.123Z","level":"warn","event":"produce.shed","reason":"at_capacity","bytes":123}
//
// Text values are quoted (and escaped) only when they hold a space, a quote, '=', a backslash,
// a control character or nothing at all. JSON numbers and booleans stay numbers and booleans.
// A line is at most kMaxLineBytes: long values are cut and end in "...". Thread-safe (one
// mutex-guarded spdlog stderr sink, one write per line); nothing here throws.
//
// Never log payload or key bytes, nor secrets: lengths and offsets only.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

namespace ironbus::logging {

enum class Level { kTrace, kDebug, kInfo, kWarn, kError };
enum class Format { kText, kJson };

// Upper bound for one rendered line, newline excluded.
inline constexpr size_t kMaxLineBytes = 8192;

struct Field {
  Field(std::string_view key, std::string_view value);
  Field(std::string_view key, const std::string& value);
  Field(std::string_view key, const char* value);
  Field(std::string_view key, uint64_t value);
  Field(std::string_view key, int64_t value);
  Field(std::string_view key, int value);
  Field(std::string_view key, unsigned value);
  Field(std::string_view key, bool value);
  Field(std::string_view key, double value);
  // Every other integer type (long long, short, size_t where it is not uint64_t ...) without
  // ambiguity: widened to int64_t or uint64_t.
  template <typename T>
    requires(std::is_integral_v<T> && !std::is_same_v<T, bool> && !std::is_same_v<T, char>)
  Field(std::string_view key, T value) : Field(key, Widen(value)) {}

  template <typename T>
  static constexpr auto Widen(T v) {
    if constexpr (std::is_signed_v<T>) {
      return static_cast<int64_t>(v);
    } else {
      return static_cast<uint64_t>(v);
    }
  }

  std::string_view key;  // a literal at the call site: lowercase, [a-z0-9_.]
  std::string value;     // rendered value (numbers already formatted)
  bool quoted;           // true: a string (JSON string); false: number or bool, written bare
};

// Default: kInfo, kText. Safe to call at any time from any thread.
void Configure(Level min_level, Format format);

void Log(Level level, std::string_view event, std::initializer_list<Field> fields = {});
void Trace(std::string_view event, std::initializer_list<Field> fields = {});
void Debug(std::string_view event, std::initializer_list<Field> fields = {});
void Info(std::string_view event, std::initializer_list<Field> fields = {});
void Warn(std::string_view event, std::initializer_list<Field> fields = {});
void Error(std::string_view event, std::initializer_list<Field> fields = {});

bool Enabled(Level level);

// For a component with its own line seam (server::BrokerOptions::log_sink, set by tests): renders
// the line exactly as Log would (same level filter, format and timestamp) and hands it to `sink`;
// an empty `sink` means Log.
void LogTo(const std::function<void(std::string_view line)>& sink, Level level, std::string_view event,
           std::initializer_list<Field> fields = {});

// For events that can repeat per request (sheds, refusals): at most one line per `interval` from
// one call site. Allow() says whether to log now and, when it does, how many calls it suppressed
// since the last line (log them as a field). Thread-safe; a static at the call site.
class RateLimit {
 public:
  explicit RateLimit(std::chrono::milliseconds interval = std::chrono::seconds(1)) : interval_ms_(interval.count()) {}
  bool Allow(uint64_t* suppressed);

 private:
  const int64_t interval_ms_;
  std::atomic<int64_t> next_ms_{0};
  std::atomic<uint64_t> suppressed_{0};
};

// Test hook: capture lines (without the trailing newline) instead of writing stderr.
// nullptr restores stderr.
void SetSinkForTest(std::function<void(std::string_view line)> sink);

// Helpers for the CLI: "error|warn|info|debug|trace" and "text|json" ("auto" is resolved by the
// caller: json when stderr is not a TTY). nullopt for anything else.
std::optional<Level> ParseLevel(std::string_view name);
std::optional<Format> ParseFormat(std::string_view name);
// "auto" -> json when fd 2 is not a TTY, else text; "text"/"json" as named; nullopt otherwise.
std::optional<Format> ResolveFormat(std::string_view name);

// Renders one line (no newline) exactly as Log would write it; `ts` is the timestamp text.
std::string RenderForTest(Format format, std::string_view ts, Level level, std::string_view event,
                          std::initializer_list<Field> fields);

}  // namespace ironbus::logging
