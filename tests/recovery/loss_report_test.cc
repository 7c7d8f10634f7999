// The loss report's vocabulary and JSON (spec/storage.md 15) plus the IronBus fields.
#include <gtest/gtest.h>

#include <limits>

#include "recovery/accepted_loss.h"
#include "recovery/loss_report.h"

namespace ironbus::recovery {
namespace {

TEST(LossReportTest, ReasonCodesNamesAndLabelsAreTheSpecs) {
  struct Row {
    LossReason reason;
    int code;
    const char* json;
    const char* label;
    bool data_loss;
  };
  const Row rows[] = {
      {LossReason::kTornTail, 1, "TornTail", "torn_tail", false},
      {LossReason::kCorruptRecordHeader, 2, "CorruptRecordHeader", "corrupt_record_header", true},
      {LossReason::kCorruptRecordBody, 3, "CorruptRecordBody", "corrupt_record_body", true},
      {LossReason::kCorruptSegmentHeader, 4, "CorruptSegmentHeader", "corrupt_segment_header", true},
      {LossReason::kSequenceGap, 5, "SequenceGap", "sequence_gap", true},
      {LossReason::kScrubberSuspect, 6, "ScrubberSuspect", "scrubber_suspect", true},
      {LossReason::kUnresolvedDictId, 7, "UnresolvedDictId", "unresolved_dict_id", true},
      {LossReason::kUnknownKeyId, 8, "UnknownKeyId", "unknown_key_id", true},
      {LossReason::kAeadTagMismatch, 9, "AeadTagMismatch", "aead_tag_mismatch", true},
  };
  for (const Row& row : rows) {
    EXPECT_EQ(static_cast<int>(row.reason), row.code);
    EXPECT_EQ(LossReasonJsonName(row.reason), row.json);
    EXPECT_EQ(LossReasonMetricLabel(row.reason), row.label);
    EXPECT_EQ(IsDataLoss(row.reason), row.data_loss);
    EXPECT_EQ(LossReasonFromJsonName(row.json), std::optional<LossReason>(row.reason));
  }
  EXPECT_EQ(LossReasonFromJsonName("torn_tail"), std::nullopt);
}

LossReport Sample() {
  LossReport r;
  r.events.push_back(LossEvent{0, 324, 328, 1, LossReason::kTornTail, 9, 9, false, false, true});
  r.events.push_back(LossEvent{3, 125, 178, 1, LossReason::kCorruptRecordBody, 4097, 4098, true, true, false});
  return r;
}

TEST(LossReportTest, JsonKeepsTheReferenceFieldsFirstInOrder) {
  const std::string json = Sample().ToJson();
  const char* order[] = {"\"schema_version\"",   "\"events\"",         "\"segment_id\"",       "\"byte_offset_start\"",
                         "\"byte_offset_end\"",  "\"bytes_skipped\"",  "\"records_lost_estimate\"",
                         "\"reason_code\"",      "\"first_lost_offset\"", "\"end_lost_offset\"",
                         "\"offsets_exact\"",    "\"data_loss\"",      "\"accepted\"",          "\"truncated\"",
                         "\"total_bytes_skipped\"", "\"data_loss_bytes\"", "\"torn_tail_bytes\"", "\"records_lost\"",
                         "\"frozen\"",           "\"frozen_reason\""};
  size_t pos = 0;
  for (const char* key : order) {
    const size_t at = json.find(key, pos);
    ASSERT_NE(at, std::string::npos) << key << " missing or out of order in\n" << json;
    pos = at;
  }
  EXPECT_NE(json.find("\"reason_code\": \"TornTail\""), std::string::npos);
  EXPECT_NE(json.find("\"bytes_skipped\": 4"), std::string::npos);
}

TEST(LossReportTest, TotalsSplitTornTailsFromDataLoss) {
  const LossTotals t = Sample().Totals();
  EXPECT_EQ(t.total_bytes_skipped, 57u);
  EXPECT_EQ(t.data_loss_bytes, 53u);
  EXPECT_EQ(t.torn_tail_bytes, 4u);
  EXPECT_EQ(t.records_lost, 1u);
}

TEST(LossReportTest, TotalsSaturate) {
  LossReport r;
  const uint64_t max = std::numeric_limits<uint64_t>::max();
  r.events.push_back(LossEvent{0, 0, max, max, LossReason::kCorruptRecordBody});
  r.events.push_back(LossEvent{1, 0, max, max, LossReason::kCorruptRecordBody});
  EXPECT_EQ(r.Totals().data_loss_bytes, max);
  EXPECT_EQ(r.Totals().records_lost, max);
}

TEST(LossReportTest, RoundTripsThroughJson) {
  LossReport r = Sample();
  r.frozen = true;
  r.frozen_reason = "recovery loss over the global cap";
  auto back = LossReport::FromJson(r.ToJson());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, r);
}

TEST(LossReportTest, ReadsAReferenceReport) {
  auto r = LossReport::FromJson(R"({"schema_version": 1, "events": [{"segment_id": 0, "byte_offset_start": 324,
      "byte_offset_end": 328, "bytes_skipped": 4, "records_lost_estimate": 1, "reason_code": "TornTail"}]})");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->events.size(), 1u);
  EXPECT_EQ(r->events[0].bytes_skipped(), 4u);
  EXPECT_EQ(r->events[0].reason, LossReason::kTornTail);
}

TEST(LossReportTest, MalformedJsonIsAnErrorNeverAThrow) {
  for (const char* bad : {"", "{", "[]", "{\"schema_version\": 2, \"events\": []}", "{\"schema_version\": 1}",
                          "{\"schema_version\": 1, \"events\": [1]}",
                          "{\"schema_version\": 1, \"events\": [{\"segment_id\": -1}]}",
                          "{\"schema_version\": 1, \"events\": [{\"segment_id\": 0, \"byte_offset_start\": 0, "
                          "\"byte_offset_end\": 0, \"records_lost_estimate\": 0, \"reason_code\": \"Nope\"}]}",
                          "\xff\xfe"}) {
    auto r = LossReport::FromJson(bad);
    EXPECT_FALSE(r.ok()) << bad;
  }
}

TEST(LossReportTest, InvalidUtf8InTheFrozenReasonStillSerializes) {
  LossReport r;
  r.frozen = true;
  r.frozen_reason = "dir \xff\xfe";
  EXPECT_FALSE(r.ToJson().empty());
}

TEST(AcceptedLossTest, RoundTripsAndRejectsMalformedFiles) {
  std::vector<AcceptedSpan> spans = {{3, 125, 178, LossReason::kCorruptRecordBody},
                                     {1, 0, 4096, LossReason::kCorruptSegmentHeader}};
  auto back = DecodeAcceptedLoss(EncodeAcceptedLoss(spans));
  ASSERT_TRUE(back.ok());
  std::sort(spans.begin(), spans.end());
  EXPECT_EQ(*back, spans);
  EXPECT_FALSE(DecodeAcceptedLoss("{\"schema_version\":1,\"accepted\":[{\"segment_id\":1}]}").ok());
  EXPECT_FALSE(DecodeAcceptedLoss("nope").ok());
}

}  // namespace
}  // namespace ironbus::recovery
