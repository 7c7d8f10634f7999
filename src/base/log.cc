#include "base/log.h"

#include <fmt/format.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <memory>
#include <mutex>

namespace ironbus::logging {
namespace {

// Room kept at the end of a line for the closing brace and the "truncated" marker.
constexpr size_t kReserve = 48;
constexpr std::string_view kCut = "...";

std::atomic<int> g_min_level{static_cast<int>(Level::kInfo)};
std::atomic<int> g_format{static_cast<int>(Format::kText)};

struct Output {
  std::mutex mu;
  std::function<void(std::string_view)> test_sink;
  std::shared_ptr<spdlog::logger> logger;
};

Output& Out() {
  static Output* out = [] {
    auto* o = new Output();  // leaked on purpose: logging must work during static destruction
    try {
      auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
      o->logger = std::make_shared<spdlog::logger>("ironbus", std::move(sink));
      o->logger->set_pattern("%v");
      o->logger->set_level(spdlog::level::trace);
      o->logger->flush_on(spdlog::level::trace);
    } catch (...) {
      o->logger.reset();
    }
    return o;
  }();
  return *out;
}

std::string_view TextLevel(Level level) {
  switch (level) {
    case Level::kTrace: return "TRACE";
    case Level::kDebug: return "DEBUG";
    case Level::kInfo: return "INFO ";
    case Level::kWarn: return "WARN ";
    case Level::kError: return "ERROR";
  }
  return "INFO ";
}

std::string_view JsonLevel(Level level) {
  switch (level) {
    case Level::kTrace: return "trace";
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarn: return "warn";
    case Level::kError: return "error";
  }
  return "info";
}

std::string Timestamp() {
  const auto now = std::chrono::system_clock::now();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const time_t secs = static_cast<time_t>(ms / 1000);
  struct tm tm {};
  gmtime_r(&secs, &tm);
  char buf[40];
  const int n = snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return std::string(buf, n > 0 ? static_cast<size_t>(n) : 0);
}

// Keys and event names are code literals; still, keep them to [a-z0-9_.-] so a line always parses.
void AppendName(std::string& out, std::string_view name) {
  if (name.empty()) {
    out += '_';
    return;
  }
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
    if (ok) {
      out += c;
    } else if (c >= 'A' && c <= 'Z') {
      out += static_cast<char>(c - 'A' + 'a');
    } else {
      out += '_';
    }
  }
}

bool TextNeedsQuotes(std::string_view v) {
  if (v.empty()) return true;
  for (unsigned char c : v) {
    if (c <= 0x20 || c == 0x7f || c == '"' || c == '=' || c == '\\') return true;
  }
  return false;
}

// Length of the valid UTF-8 sequence starting at s[i], or 0 if invalid.
size_t Utf8Length(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  size_t len;
  uint32_t cp;
  if (c < 0x80) return 1;
  if ((c & 0xE0) == 0xC0) {
    len = 2;
    cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3;
    cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
      (cp >= 0xD800 && cp <= 0xDFFF)) {
    return 0;
  }
  return len;
}

// Appends `v` escaped (no surrounding quotes) using at most `budget` bytes; returns false when it
// had to stop early. Text: \" \\ \n \r \t, \xNN for other control and invalid bytes. JSON: the
// JSON escapes, \u00NN for control characters, U+FFFD for bytes that are not valid UTF-8.
bool AppendEscaped(std::string& out, std::string_view v, bool json, size_t budget) {
  size_t used = 0;
  char esc[16];
  for (size_t i = 0; i < v.size();) {
    const unsigned char c = static_cast<unsigned char>(v[i]);
    std::string_view piece;
    size_t advance = 1;
    switch (c) {
      case '"': piece = "\\\""; break;
      case '\\': piece = "\\\\"; break;
      case '\n': piece = "\\n"; break;
      case '\r': piece = "\\r"; break;
      case '\t': piece = "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          const int n = json ? snprintf(esc, sizeof(esc), "\\u%04x", c) : snprintf(esc, sizeof(esc), "\\x%02x", c);
          piece = std::string_view(esc, static_cast<size_t>(n));
        } else if (c < 0x80) {
          piece = v.substr(i, 1);
        } else {
          const size_t len = Utf8Length(v, i);
          if (len == 0) {
            if (json) {
              piece = "\xEF\xBF\xBD";
            } else {
              const int n = snprintf(esc, sizeof(esc), "\\x%02x", c);
              piece = std::string_view(esc, static_cast<size_t>(n));
            }
          } else {
            piece = v.substr(i, len);
            advance = len;
          }
        }
    }
    if (used + piece.size() > budget) return false;
    out.append(piece);
    used += piece.size();
    i += advance;
  }
  return true;
}

void AppendField(std::string& out, const Field& f, bool json, size_t limit) {
  const size_t start = out.size();
  if (json) {
    out += ",\"";
    AppendName(out, f.key);
    out += "\":";
  } else {
    out += ' ';
    AppendName(out, f.key);
    out += '=';
  }
  const bool quote = json ? f.quoted : TextNeedsQuotes(f.value);
  if (!quote) {
    if (out.size() + f.value.size() <= limit) {
      out += f.value;
      return;
    }
    // A number never gets here (short); a long unquoted text value is cut like any other.
  }
  const size_t fixed = out.size() + 2 + kCut.size();  // the quotes and a possible cut marker
  if (fixed + 8 > limit) {
    out.resize(start);  // not even the key and a few bytes fit: drop the field
    return;
  }
  out += '"';
  if (!AppendEscaped(out, f.value, json, limit - fixed)) out += kCut;
  out += '"';
}

std::string Render(Format format, std::string_view ts, Level level, std::string_view event,
                   std::initializer_list<Field> fields) {
  const bool json = format == Format::kJson;
  std::string out;
  out.reserve(128);
  if (json) {
    out += "{\"ts\":\"";
    out += ts;
    out += "\",\"level\":\"";
    out += JsonLevel(level);
    out += "\",\"event\":\"";
    AppendName(out, event.substr(0, 128));
    out += '"';
  } else {
    out += ts;
    out += ' ';
    out += TextLevel(level);
    out += ' ';
    AppendName(out, event.substr(0, 128));
  }
  const size_t limit = kMaxLineBytes - kReserve;
  bool dropped = false;
  for (const Field& f : fields) {
    if (out.size() >= limit) {
      dropped = true;
      break;
    }
    const size_t before = out.size();
    AppendField(out, f, json, limit);
    if (out.size() == before) dropped = true;
  }
  if (dropped) out += json ? ",\"truncated\":true" : " truncated=true";
  if (json) out += '}';
  return out;
}

void Emit(std::string_view line) {
  Output& o = Out();
  std::lock_guard<std::mutex> lock(o.mu);
  if (o.test_sink) {
    o.test_sink(line);
    return;
  }
  if (o.logger) {
    o.logger->log(spdlog::level::info, "{}", line);
  } else {
    std::string with_nl(line);
    with_nl += '\n';
    (void)!write(2, with_nl.data(), with_nl.size());
  }
}

std::string FormatDouble(double v) {
  try {
    return fmt::format("{}", v);
  } catch (...) {
    return "0";
  }
}

}  // namespace

Field::Field(std::string_view k, std::string_view v) : key(k), value(v), quoted(true) {}
Field::Field(std::string_view k, const std::string& v) : key(k), value(v), quoted(true) {}
Field::Field(std::string_view k, const char* v) : key(k), value(v ? v : ""), quoted(true) {}
Field::Field(std::string_view k, uint64_t v) : key(k), value(std::to_string(v)), quoted(false) {}
Field::Field(std::string_view k, int64_t v) : key(k), value(std::to_string(v)), quoted(false) {}
Field::Field(std::string_view k, int v) : key(k), value(std::to_string(v)), quoted(false) {}
Field::Field(std::string_view k, unsigned v) : key(k), value(std::to_string(v)), quoted(false) {}
Field::Field(std::string_view k, bool v) : key(k), value(v ? "true" : "false"), quoted(false) {}
Field::Field(std::string_view k, double v) : key(k), value(FormatDouble(v)), quoted(!std::isfinite(v)) {}

void Configure(Level min_level, Format format) {
  g_min_level.store(static_cast<int>(min_level), std::memory_order_relaxed);
  g_format.store(static_cast<int>(format), std::memory_order_relaxed);
}

bool Enabled(Level level) { return static_cast<int>(level) >= g_min_level.load(std::memory_order_relaxed); }

void Log(Level level, std::string_view event, std::initializer_list<Field> fields) {
  if (!Enabled(level)) return;
  try {
    const auto format = static_cast<Format>(g_format.load(std::memory_order_relaxed));
    Emit(Render(format, Timestamp(), level, event, fields));
  } catch (...) {
    // Logging never takes the broker down (out of memory, a throwing test sink).
  }
}

void LogTo(const std::function<void(std::string_view line)>& sink, Level level, std::string_view event,
           std::initializer_list<Field> fields) {
  if (!sink) {
    Log(level, event, fields);
    return;
  }
  if (!Enabled(level)) return;
  try {
    const auto format = static_cast<Format>(g_format.load(std::memory_order_relaxed));
    sink(Render(format, Timestamp(), level, event, fields));
  } catch (...) {
  }
}

bool RateLimit::Allow(uint64_t* suppressed) {
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now().time_since_epoch())
                          .count();
  int64_t next = next_ms_.load(std::memory_order_relaxed);
  if (now < next || !next_ms_.compare_exchange_strong(next, now + interval_ms_, std::memory_order_relaxed)) {
    suppressed_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  const uint64_t n = suppressed_.exchange(0, std::memory_order_relaxed);
  if (suppressed != nullptr) *suppressed = n;
  return true;
}

void Trace(std::string_view event, std::initializer_list<Field> fields) { Log(Level::kTrace, event, fields); }
void Debug(std::string_view event, std::initializer_list<Field> fields) { Log(Level::kDebug, event, fields); }
void Info(std::string_view event, std::initializer_list<Field> fields) { Log(Level::kInfo, event, fields); }
void Warn(std::string_view event, std::initializer_list<Field> fields) { Log(Level::kWarn, event, fields); }
void Error(std::string_view event, std::initializer_list<Field> fields) { Log(Level::kError, event, fields); }

void SetSinkForTest(std::function<void(std::string_view line)> sink) {
  Output& o = Out();
  std::lock_guard<std::mutex> lock(o.mu);
  o.test_sink = std::move(sink);
}

std::optional<Level> ParseLevel(std::string_view name) {
  if (name == "error") return Level::kError;
  if (name == "warn") return Level::kWarn;
  if (name == "info") return Level::kInfo;
  if (name == "debug") return Level::kDebug;
  if (name == "trace") return Level::kTrace;
  return std::nullopt;
}

std::optional<Format> ParseFormat(std::string_view name) {
  if (name == "text") return Format::kText;
  if (name == "json") return Format::kJson;
  return std::nullopt;
}

std::optional<Format> ResolveFormat(std::string_view name) {
  if (name == "auto") return isatty(2) ? Format::kText : Format::kJson;
  return ParseFormat(name);
}

std::string RenderForTest(Format format, std::string_view ts, Level level, std::string_view event,
                          std::initializer_list<Field> fields) {
  return Render(format, ts, level, event, fields);
}

}  // namespace ironbus::logging
