// File names in a data directory, made and parsed in one place (spec/storage.md section 2).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ironbus::format {

// "seg-<16 lowercase hex>.log"
std::string SegmentFileName(uint64_t segment_id);
// Strict: prefix "seg-", exactly 16 chars of [0-9a-f], suffix ".log". Anything else: nullopt.
std::optional<uint64_t> ParseSegmentFileName(std::string_view name);

// "cursor.ckpt" for the default group (empty name), else "cursor-<hex(name)>.ckpt".
std::string CursorFileName(std::string_view group);
std::string AttemptsFileName(std::string_view group);
// 1..128 bytes, each 0x21..0x7E.
bool IsValidGroupName(std::string_view group);

inline constexpr std::string_view kLayoutFileName = "layout.meta";
inline constexpr std::string_view kCountersFileName = "counters.ckpt";
inline constexpr std::string_view kDlqRedriveFileName = "dlq-redrive.ckpt";
inline constexpr std::string_view kDlqDirName = "dlq";
inline constexpr std::string_view kQuarantineDirName = "quarantine";
inline constexpr std::string_view kLockFileName = "LOCK";
// IronBus C++ additions, outside the segment naming space:
inline constexpr std::string_view kRecoveryReportFileName = "recovery-report.json";
inline constexpr std::string_view kAcceptedLossFileName = "accepted-loss.json";

// "q-<segment_id 016x>-<reason label>-<start>-<end>.bin"
std::string QuarantineBlobName(uint64_t segment_id, std::string_view reason_label, uint64_t start, uint64_t end);
struct QuarantineBlobKey {
  uint64_t segment_id = 0;
  uint64_t start = 0;
  uint64_t end = 0;
};
std::optional<QuarantineBlobKey> ParseQuarantineBlobName(std::string_view name);

}  // namespace ironbus::format
