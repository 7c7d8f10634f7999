#include "recovery/accepted_loss.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "format/segment_name.h"

namespace ironbus::recovery {
namespace {

constexpr uint64_t kSchemaVersion = 1;
// Far above any real list (one entry per damaged span); bounds the read of a hostile file.
constexpr uint64_t kMaxFileBytes = 16ull << 20;

bool GetU64(const nlohmann::json& obj, const char* key, uint64_t* out) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_number_unsigned()) return false;
  *out = it->get<uint64_t>();
  return true;
}

}  // namespace

AcceptedSpan AcceptedKey(const LossEvent& event) {
  return AcceptedSpan{event.segment_id, event.byte_offset_start, event.byte_offset_end, event.reason};
}

std::string EncodeAcceptedLoss(const std::vector<AcceptedSpan>& spans) {
  nlohmann::ordered_json root;
  root["schema_version"] = kSchemaVersion;
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const AcceptedSpan& s : spans) {
    nlohmann::ordered_json j;
    j["segment_id"] = s.segment_id;
    j["byte_offset_start"] = s.byte_offset_start;
    j["byte_offset_end"] = s.byte_offset_end;
    j["reason_code"] = std::string(LossReasonJsonName(s.reason));
    list.push_back(std::move(j));
  }
  root["accepted"] = std::move(list);
  return root.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

Result<std::vector<AcceptedSpan>> DecodeAcceptedLoss(std::string_view json) {
  const nlohmann::json root = nlohmann::json::parse(json.begin(), json.end(), nullptr, false);
  uint64_t version = 0;
  if (root.is_discarded() || !root.is_object() || !GetU64(root, "schema_version", &version) ||
      version != kSchemaVersion) {
    return Status::InvalidArgument("accepted-loss.json: not a version 1 document");
  }
  auto list = root.find("accepted");
  if (list == root.end() || !list->is_array()) return Status::InvalidArgument("accepted-loss.json: no accepted list");
  std::vector<AcceptedSpan> spans;
  for (const auto& j : *list) {
    AcceptedSpan s;
    if (!j.is_object() || !GetU64(j, "segment_id", &s.segment_id) ||
        !GetU64(j, "byte_offset_start", &s.byte_offset_start) || !GetU64(j, "byte_offset_end", &s.byte_offset_end)) {
      return Status::InvalidArgument("accepted-loss.json: malformed entry");
    }
    auto reason = j.find("reason_code");
    if (reason == j.end() || !reason->is_string()) return Status::InvalidArgument("accepted-loss.json: malformed entry");
    auto parsed = LossReasonFromJsonName(reason->get<std::string>());
    if (!parsed) return Status::InvalidArgument("accepted-loss.json: unknown reason_code");
    s.reason = *parsed;
    spans.push_back(s);
  }
  std::sort(spans.begin(), spans.end());
  return spans;
}

Result<std::vector<AcceptedSpan>> LoadAcceptedLoss(io::FileSystem* fs, const std::string& dir) {
  auto bytes = io::ReadWholeFile(*fs, io::JoinPath(dir, format::kAcceptedLossFileName), kMaxFileBytes);
  if (!bytes.ok()) {
    if (bytes.status().IsNotFound()) return std::vector<AcceptedSpan>();
    return bytes.status();
  }
  return DecodeAcceptedLoss(AsChars(*bytes));
}

Status SaveAcceptedLoss(io::FileSystem* fs, const std::string& dir, const std::vector<AcceptedSpan>& spans) {
  const std::string text = EncodeAcceptedLoss(spans);
  return io::WriteFileAtomically(*fs, io::JoinPath(dir, format::kAcceptedLossFileName), AsBytes(text));
}

}  // namespace ironbus::recovery
