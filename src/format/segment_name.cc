// File names in a data directory (spec/storage.md 2 and 10).
//
// Parsing is strict on purpose: recovery lists the directory and treats every name that
// parses as part of the log, so a near miss (uppercase hex, 15 digits, ".LOG", a backup
// "seg-....log.bak") must be a foreign file, never a segment.

#include "format/segment_name.h"

#include <cstdio>

#include "base/bytes.h"

namespace ironbus::format {
namespace {

constexpr std::string_view kSegmentPrefix = "seg-";
constexpr std::string_view kSegmentSuffix = ".log";
constexpr size_t kIdHexDigits = 16;
constexpr std::string_view kCursorStem = "cursor";
constexpr std::string_view kAttemptsStem = "attempts";
constexpr std::string_view kCheckpointSuffix = ".ckpt";
constexpr std::string_view kQuarantinePrefix = "q-";
constexpr std::string_view kQuarantineSuffix = ".bin";
constexpr size_t kMaxGroupNameBytes = 128;

std::string Hex16(uint64_t v) {
  char buf[kIdHexDigits + 1];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(v));
  return std::string(buf, kIdHexDigits);
}

// Exactly 16 lowercase hex digits.
std::optional<uint64_t> ParseHex16(std::string_view s) {
  if (s.size() != kIdHexDigits) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    uint64_t d;
    if (c >= '0' && c <= '9') {
      d = static_cast<uint64_t>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      d = static_cast<uint64_t>(c - 'a' + 10);
    } else {
      return std::nullopt;
    }
    v = (v << 4) | d;
  }
  return v;
}

// One or more decimal digits, no sign, no overflow.
std::optional<uint64_t> ParseDecimal(std::string_view s) {
  if (s.empty()) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    const uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

// "<stem>.ckpt" for the default (empty) group, "<stem>-<hex>.ckpt" otherwise. The dot versus
// dash keeps the default group from ever colliding with a named one.
std::string GroupFileName(std::string_view stem, std::string_view group) {
  std::string name(stem);
  if (!group.empty()) {
    name += '-';
    name += HexEncode(AsBytes(group));
  }
  name += kCheckpointSuffix;
  return name;
}

}  // namespace

std::string SegmentFileName(uint64_t segment_id) {
  std::string name(kSegmentPrefix);
  name += Hex16(segment_id);
  name += kSegmentSuffix;
  return name;
}

std::optional<uint64_t> ParseSegmentFileName(std::string_view name) {
  if (name.size() != kSegmentPrefix.size() + kIdHexDigits + kSegmentSuffix.size()) return std::nullopt;
  if (!name.starts_with(kSegmentPrefix) || !name.ends_with(kSegmentSuffix)) return std::nullopt;
  return ParseHex16(name.substr(kSegmentPrefix.size(), kIdHexDigits));
}

std::string CursorFileName(std::string_view group) { return GroupFileName(kCursorStem, group); }
std::string AttemptsFileName(std::string_view group) { return GroupFileName(kAttemptsStem, group); }

bool IsValidGroupName(std::string_view group) {
  if (group.empty() || group.size() > kMaxGroupNameBytes) return false;
  for (char c : group) {
    const auto b = static_cast<unsigned char>(c);
    if (b < 0x21 || b > 0x7E) return false;  // graphic ASCII only: no space, control or non-ASCII
  }
  return true;
}

std::string QuarantineBlobName(uint64_t segment_id, std::string_view reason_label, uint64_t start, uint64_t end) {
  std::string name(kQuarantinePrefix);
  name += Hex16(segment_id);
  name += '-';
  name += reason_label;
  name += '-';
  name += std::to_string(start);
  name += '-';
  name += std::to_string(end);
  name += kQuarantineSuffix;
  return name;
}

std::optional<QuarantineBlobKey> ParseQuarantineBlobName(std::string_view name) {
  if (!name.starts_with(kQuarantinePrefix) || !name.ends_with(kQuarantineSuffix)) return std::nullopt;
  std::string_view rest = name.substr(kQuarantinePrefix.size());
  rest.remove_suffix(kQuarantineSuffix.size());
  // <id16>-<label>-<start>-<end>: the id has a fixed width, the two numbers are the last two
  // dash-separated fields, and the label is whatever non-empty text sits between.
  if (rest.size() < kIdHexDigits + 1 || rest[kIdHexDigits] != '-') return std::nullopt;
  const auto id = ParseHex16(rest.substr(0, kIdHexDigits));
  if (!id) return std::nullopt;
  rest = rest.substr(kIdHexDigits + 1);
  const size_t end_dash = rest.rfind('-');
  if (end_dash == std::string_view::npos) return std::nullopt;
  const auto end = ParseDecimal(rest.substr(end_dash + 1));
  rest = rest.substr(0, end_dash);
  const size_t start_dash = rest.rfind('-');
  if (start_dash == std::string_view::npos || start_dash == 0) return std::nullopt;  // empty label
  const auto start = ParseDecimal(rest.substr(start_dash + 1));
  if (!start || !end) return std::nullopt;
  return QuarantineBlobKey{*id, *start, *end};
}

}  // namespace ironbus::format
