// The loss report (spec/storage.md section 15, schema `ironbus.loss-report.v1`): one event per
// byte span recovery skipped, cut or could not read, in the order recovery met them.
//
// The JSON keeps the reference's fields and order (schema_version, events with segment_id,
// byte_offset_start, byte_offset_end, bytes_skipped, records_lost_estimate, reason_code) and
// adds IronBus fields after them (additive, so a reference reader ignores them):
//   per event: first_lost_offset, end_lost_offset, offsets_exact, data_loss, accepted, truncated
//   per report: total_bytes_skipped, data_loss_bytes, torn_tail_bytes, records_lost, frozen,
//               frozen_reason
//
// Offsets never shift (DESIGN.md D1): [first_lost_offset, end_lost_offset) are offsets that are
// now holes in the log. offsets_exact is true when every offset in that range held a record
// that is gone (both neighbours of the hole were read). A truncated tail of the active segment
// leaves no hole (appends resume at first_lost_offset), so its range is empty and not exact.
//
// Thread safety: plain values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace ironbus::recovery {

inline constexpr uint16_t kLossReportSchemaVersion = 1;

// Codes are the reference's (append-only, never renumbered).
enum class LossReason : uint8_t {
  kTornTail = 1,             // end of the active segment cut mid-write, or all zero (D2)
  kCorruptRecordHeader = 2,  // a frame's header failed (magic, version, CRC, length), or its
                             // seq is not one the segment can hold
  kCorruptRecordBody = 3,    // header fine, body failed (CRC, xxh3, lengths, v2 field CRC)
  kCorruptSegmentHeader = 4, // the segment's own header is unreadable: whole file lost (D1)
  kSequenceGap = 5,          // offsets missing with no damaged bytes (deleted segment, seq jump)
  kScrubberSuspect = 6,
  kUnresolvedDictId = 7,
  kUnknownKeyId = 8,
  kAeadTagMismatch = 9,
};

std::string_view LossReasonJsonName(LossReason reason);    // "TornTail"
std::string_view LossReasonMetricLabel(LossReason reason); // "torn_tail"
std::optional<LossReason> LossReasonFromJsonName(std::string_view name);
// Everything but TornTail counts as data loss.
bool IsDataLoss(LossReason reason);

struct LossEvent {
  uint64_t segment_id = 0;
  uint64_t byte_offset_start = 0;  // in the segment file
  uint64_t byte_offset_end = 0;    // exclusive
  uint64_t records_lost_estimate = 0;
  LossReason reason = LossReason::kTornTail;
  uint64_t first_lost_offset = 0;
  uint64_t end_lost_offset = 0;  // exclusive
  bool offsets_exact = false;
  // Listed in accepted-loss.json by an earlier `repair --apply`: reported, not counted against
  // the caps and not quarantined again.
  bool accepted = false;
  // The span was (kApply) or would be (kDryRun) cut off the active segment.
  bool truncated = false;

  uint64_t bytes_skipped() const {
    return byte_offset_end > byte_offset_start ? byte_offset_end - byte_offset_start : 0;
  }
  bool data_loss() const { return IsDataLoss(reason); }
  friend bool operator==(const LossEvent&, const LossEvent&) = default;
};

// Sums saturate at UINT64_MAX.
struct LossTotals {
  uint64_t total_bytes_skipped = 0;  // all events, torn tails included
  uint64_t data_loss_bytes = 0;      // events whose reason counts as data loss
  uint64_t torn_tail_bytes = 0;
  uint64_t records_lost = 0;         // records_lost_estimate summed over data-loss events
};

struct LossReport {
  std::vector<LossEvent> events;
  // Recovery found loss over a cap and changed nothing (DESIGN.md D1): the log opens read-only.
  bool frozen = false;
  std::string frozen_reason;

  LossTotals Totals() const;
  bool empty() const { return events.empty(); }

  // Pretty-printed JSON, fields in the order above. Never throws (invalid UTF-8 in strings is
  // replaced).
  std::string ToJson() const;
  // Parses ToJson output (and a reference report, whose IronBus fields are absent).
  // InvalidArgument on malformed input; never throws.
  static Result<LossReport> FromJson(std::string_view json);

  friend bool operator==(const LossReport&, const LossReport&) = default;
};

}  // namespace ironbus::recovery
