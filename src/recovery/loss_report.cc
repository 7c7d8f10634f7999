#include "recovery/loss_report.h"

#include <array>
#include <limits>

#include <nlohmann/json.hpp>

namespace ironbus::recovery {
namespace {

struct ReasonInfo {
  LossReason reason;
  std::string_view json_name;
  std::string_view metric_label;
};

constexpr std::array<ReasonInfo, 9> kReasons = {{
    {LossReason::kTornTail, "TornTail", "torn_tail"},
    {LossReason::kCorruptRecordHeader, "CorruptRecordHeader", "corrupt_record_header"},
    {LossReason::kCorruptRecordBody, "CorruptRecordBody", "corrupt_record_body"},
    {LossReason::kCorruptSegmentHeader, "CorruptSegmentHeader", "corrupt_segment_header"},
    {LossReason::kSequenceGap, "SequenceGap", "sequence_gap"},
    {LossReason::kScrubberSuspect, "ScrubberSuspect", "scrubber_suspect"},
    {LossReason::kUnresolvedDictId, "UnresolvedDictId", "unresolved_dict_id"},
    {LossReason::kUnknownKeyId, "UnknownKeyId", "unknown_key_id"},
    {LossReason::kAeadTagMismatch, "AeadTagMismatch", "aead_tag_mismatch"},
}};

const ReasonInfo* Find(LossReason reason) {
  for (const auto& info : kReasons) {
    if (info.reason == reason) return &info;
  }
  return nullptr;
}

uint64_t SatAdd(uint64_t a, uint64_t b) {
  return a > std::numeric_limits<uint64_t>::max() - b ? std::numeric_limits<uint64_t>::max() : a + b;
}

// Reads an unsigned field; absent is `fallback`, present but not an unsigned number is an error.
bool GetU64(const nlohmann::json& obj, const char* key, uint64_t* out, bool required) {
  auto it = obj.find(key);
  if (it == obj.end()) return !required;
  if (!it->is_number_unsigned()) return false;
  *out = it->get<uint64_t>();
  return true;
}

bool GetBool(const nlohmann::json& obj, const char* key, bool* out) {
  auto it = obj.find(key);
  if (it == obj.end()) return true;
  if (!it->is_boolean()) return false;
  *out = it->get<bool>();
  return true;
}

}  // namespace

std::string_view LossReasonJsonName(LossReason reason) {
  const ReasonInfo* info = Find(reason);
  return info ? info->json_name : "Unknown";
}

std::string_view LossReasonMetricLabel(LossReason reason) {
  const ReasonInfo* info = Find(reason);
  return info ? info->metric_label : "unknown";
}

std::optional<LossReason> LossReasonFromJsonName(std::string_view name) {
  for (const auto& info : kReasons) {
    if (info.json_name == name) return info.reason;
  }
  return std::nullopt;
}

bool IsDataLoss(LossReason reason) { return reason != LossReason::kTornTail; }

LossTotals LossReport::Totals() const {
  LossTotals t;
  for (const LossEvent& e : events) {
    t.total_bytes_skipped = SatAdd(t.total_bytes_skipped, e.bytes_skipped());
    if (e.data_loss()) {
      t.data_loss_bytes = SatAdd(t.data_loss_bytes, e.bytes_skipped());
      t.records_lost = SatAdd(t.records_lost, e.records_lost_estimate);
    } else {
      t.torn_tail_bytes = SatAdd(t.torn_tail_bytes, e.bytes_skipped());
    }
  }
  return t;
}

std::string LossReport::ToJson() const {
  // nlohmann::ordered_json keeps insertion order, so the reference's field order holds.
  nlohmann::ordered_json root;
  root["schema_version"] = kLossReportSchemaVersion;
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const LossEvent& e : events) {
    nlohmann::ordered_json j;
    j["segment_id"] = e.segment_id;
    j["byte_offset_start"] = e.byte_offset_start;
    j["byte_offset_end"] = e.byte_offset_end;
    j["bytes_skipped"] = e.bytes_skipped();
    j["records_lost_estimate"] = e.records_lost_estimate;
    j["reason_code"] = std::string(LossReasonJsonName(e.reason));
    j["first_lost_offset"] = e.first_lost_offset;
    j["end_lost_offset"] = e.end_lost_offset;
    j["offsets_exact"] = e.offsets_exact;
    j["data_loss"] = e.data_loss();
    j["accepted"] = e.accepted;
    j["truncated"] = e.truncated;
    list.push_back(std::move(j));
  }
  root["events"] = std::move(list);
  const LossTotals t = Totals();
  root["total_bytes_skipped"] = t.total_bytes_skipped;
  root["data_loss_bytes"] = t.data_loss_bytes;
  root["torn_tail_bytes"] = t.torn_tail_bytes;
  root["records_lost"] = t.records_lost;
  root["frozen"] = frozen;
  root["frozen_reason"] = frozen_reason;
  return root.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

Result<LossReport> LossReport::FromJson(std::string_view json) {
  // allow_exceptions = false: a parse error yields a discarded value instead of throwing.
  const nlohmann::json root = nlohmann::json::parse(json.begin(), json.end(), nullptr, false);
  if (root.is_discarded() || !root.is_object()) return Status::InvalidArgument("loss report: not a JSON object");
  uint64_t version = 0;
  if (!GetU64(root, "schema_version", &version, true) || version != kLossReportSchemaVersion) {
    return Status::InvalidArgument("loss report: missing or unsupported schema_version");
  }
  auto events = root.find("events");
  if (events == root.end() || !events->is_array()) return Status::InvalidArgument("loss report: no events list");
  LossReport report;
  for (const auto& j : *events) {
    if (!j.is_object()) return Status::InvalidArgument("loss report: event is not an object");
    LossEvent e;
    uint64_t bytes = 0;
    auto reason = j.find("reason_code");
    if (!GetU64(j, "segment_id", &e.segment_id, true) || !GetU64(j, "byte_offset_start", &e.byte_offset_start, true) ||
        !GetU64(j, "byte_offset_end", &e.byte_offset_end, true) || !GetU64(j, "bytes_skipped", &bytes, false) ||
        !GetU64(j, "records_lost_estimate", &e.records_lost_estimate, true) ||
        !GetU64(j, "first_lost_offset", &e.first_lost_offset, false) ||
        !GetU64(j, "end_lost_offset", &e.end_lost_offset, false) || !GetBool(j, "offsets_exact", &e.offsets_exact) ||
        !GetBool(j, "accepted", &e.accepted) || !GetBool(j, "truncated", &e.truncated) || reason == j.end() ||
        !reason->is_string()) {
      return Status::InvalidArgument("loss report: malformed event");
    }
    auto parsed = LossReasonFromJsonName(reason->get<std::string>());
    if (!parsed) return Status::InvalidArgument("loss report: unknown reason_code");
    e.reason = *parsed;
    report.events.push_back(e);
  }
  if (!GetBool(root, "frozen", &report.frozen)) return Status::InvalidArgument("loss report: malformed frozen");
  auto reason = root.find("frozen_reason");
  if (reason != root.end()) {
    if (!reason->is_string()) return Status::InvalidArgument("loss report: malformed frozen_reason");
    report.frozen_reason = reason->get<std::string>();
  }
  return report;
}

}  // namespace ironbus::recovery
