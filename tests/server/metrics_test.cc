// RenderPrometheus and CheckReadiness on synthetic snapshots: the exposition shape of spec 6.1,
// the pinned (name, type) list, label escaping, loss-report totals, and every readiness reason.
#include "server/metrics.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace ironbus::server {
namespace {

MetricsSnapshot Sample() {
  MetricsSnapshot s;
  s.durability = "sync";
  s.version = "1.2.3";
  s.log.durable_offset = 10;
  s.broker.connections_open = 2;
  s.broker.connections_accepted = 5;
  s.appender.records = 10;
  s.appender.syncs = 4;
  GroupMetrics def;
  def.committed_offset = 4;
  def.lag = 6;
  GroupMetrics named;
  named.name = "a\"b\\c\nd";
  named.committed_offset = 10;
  named.redelivered = 2;
  named.dead_lettered = 1;
  named.last_dead_lettered_offset = 7;
  s.groups = {def, named};
  s.loss = LossMetricsFrom(nullptr);
  return s;
}

// name -> type, from the # TYPE lines; checks HELP/TYPE order and contiguity on the way.
std::map<std::string, std::string> ParseFamilies(const std::string& text) {
  std::map<std::string, std::string> types;
  std::set<std::string> finished;
  std::string current;
  std::istringstream in(text);
  std::string line;
  std::string pending_help;
  while (std::getline(in, line)) {
    if (line.rfind("# HELP ", 0) == 0) {
      pending_help = line.substr(7, line.find(' ', 7) - 7);
      continue;
    }
    if (line.rfind("# TYPE ", 0) == 0) {
      const std::string name = line.substr(7, line.find(' ', 7) - 7);
      EXPECT_EQ(name, pending_help) << "# HELP must come right before # TYPE for " << name;
      EXPECT_EQ(types.count(name), 0u) << "family declared twice: " << name;
      types[name] = line.substr(line.find(' ', 7) + 1);
      if (!current.empty()) finished.insert(current);
      current = name;
      continue;
    }
    EXPECT_FALSE(line.empty()) << "no blank lines";
    std::string name = line.substr(0, line.find_first_of("{ "));
    if (types.count(current) && types[current] == "histogram") {
      for (const char* suffix : {"_bucket", "_sum", "_count"}) {
        const std::string sfx(suffix);
        if (name.size() > sfx.size() && name.compare(name.size() - sfx.size(), sfx.size(), sfx) == 0) {
          name = name.substr(0, name.size() - sfx.size());
          break;
        }
      }
    }
    EXPECT_EQ(name, current) << "sample outside its family block: " << line;
    EXPECT_EQ(finished.count(name), 0u) << "family samples not contiguous: " << name;
    const std::string value = line.substr(line.rfind(' ') + 1);
    EXPECT_FALSE(value.empty());
    EXPECT_NE(value.find_first_of("0123456789"), std::string::npos) << line;
  }
  return types;
}

TEST(Metrics, ExpositionShapeAndNamingRules) {
  const std::string text = RenderPrometheus(Sample());
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  const auto types = ParseFamilies(text);
  for (const auto& [name, type] : types) {
    EXPECT_EQ(name.rfind("ironbus_", 0), 0u) << name;
    if (type == "counter") {
      EXPECT_EQ(name.substr(name.size() - 6), "_total") << "counter without _total: " << name;
    } else if (type == "histogram") {
      EXPECT_EQ(name.substr(name.size() - 8), "_seconds") << name;
    } else {
      EXPECT_EQ(type, "gauge") << name;
      EXPECT_NE(name.substr(name.size() - 6), "_total") << "gauge named like a counter: " << name;
    }
  }
}

// A deliberate edit: adding, renaming or retyping a family changes this list and
// docs/metrics.md together (spec 6.1).
TEST(Metrics, GoldenFamilyList) {
  const std::map<std::string, std::string> expected = {
      {"ironbus_acks_total", "counter"},
      {"ironbus_append_batches_total", "counter"},
      {"ironbus_append_queue_depth", "gauge"},
      {"ironbus_build_info", "gauge"},
      {"ironbus_bytes_skipped", "gauge"},
      {"ironbus_codel_backstop_shed_total", "counter"},
      {"ironbus_committed_offset", "gauge"},
      {"ironbus_connections_closed_total", "counter"},
      {"ironbus_authentications_total", "counter"},
      {"ironbus_authz_denials_total", "counter"},
      {"ironbus_connections_rejected_total", "counter"},
      {"ironbus_preauth_connections", "gauge"},
      {"ironbus_connections_open", "gauge"},
      {"ironbus_connections_total", "counter"},
      {"ironbus_consumer_lag", "gauge"},
      {"ironbus_dead_lettered_total", "counter"},
      {"ironbus_delivered_total", "counter"},
      {"ironbus_dlq_records_total", "counter"},
      {"ironbus_durability_level_info", "gauge"},
      {"ironbus_durability_power_loss_unsafe", "gauge"},
      {"ironbus_durable_record_bytes", "gauge"},
      {"ironbus_fetches_total", "counter"},
      {"ironbus_flushed_offset", "gauge"},
      {"ironbus_fsync_duration_seconds", "histogram"},
      {"ironbus_fsync_seconds", "histogram"},
      {"ironbus_fsyncs_total", "counter"},
      {"ironbus_group_committed_offset", "gauge"},
      {"ironbus_group_consumer_lag", "gauge"},
      {"ironbus_group_dead_lettered_total", "counter"},
      {"ironbus_group_delivered_total", "counter"},
      {"ironbus_group_in_flight", "gauge"},
      {"ironbus_group_members", "gauge"},
      {"ironbus_group_redelivered_total", "counter"},
      {"ironbus_in_flight", "gauge"},
      {"ironbus_last_dead_lettered_offset", "gauge"},
      {"ironbus_last_skip_offset", "gauge"},
      {"ironbus_produce_rejected_total", "counter"},
      {"ironbus_produce_saturated", "gauge"},
      {"ironbus_groups_evicted_total", "counter"},
      {"ironbus_at_capacity", "gauge"},
      {"ironbus_log_bytes", "gauge"},
      {"ironbus_max_total_bytes", "gauge"},
      {"ironbus_disk_free_bytes", "gauge"},
      {"ironbus_min_free_bytes", "gauge"},
      {"ironbus_produce_at_capacity_total", "counter"},
      {"ironbus_segments_reaped_total", "counter"},
      {"ironbus_segments_force_reaped_total", "counter"},
      {"ironbus_force_reaped_records_total", "counter"},
      {"ironbus_produce_holds_total", "counter"},
      {"ironbus_produce_hold_timeouts_total", "counter"},
      {"ironbus_produced_bytes_total", "counter"},
      {"ironbus_produced_total", "counter"},
      {"ironbus_records_skipped", "gauge"},
      {"ironbus_recovery_data_loss_bytes", "gauge"},
      {"ironbus_recovery_loss_bytes", "gauge"},
      {"ironbus_recovery_loss_records", "gauge"},
      {"ironbus_recovery_truncated_bytes", "gauge"},
      {"ironbus_redelivered_total", "counter"},
      {"ironbus_segment_count", "gauge"},
      {"ironbus_start_time_seconds", "gauge"},
      {"ironbus_tls_handshakes_total", "counter"},
      {"ironbus_truncated_records_total", "counter"},
      {"ironbus_truncations_total", "counter"},
      {"ironbus_uptime_seconds", "gauge"},
      {"ironbus_writer_healthy", "gauge"},
  };
  EXPECT_EQ(ParseFamilies(RenderPrometheus(Sample())), expected);
  // Every family is present even when everything is zero.
  MetricsSnapshot empty;
  empty.loss = LossMetricsFrom(nullptr);
  EXPECT_EQ(ParseFamilies(RenderPrometheus(empty)), expected);
}

TEST(Metrics, ValuesAndEscapedLabels) {
  const std::string text = RenderPrometheus(Sample());
  EXPECT_NE(text.find("\nironbus_produced_total 10\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\nironbus_fsyncs_total 4\n"), std::string::npos);
  EXPECT_NE(text.find("\nironbus_consumer_lag 6\n"), std::string::npos);
  EXPECT_NE(text.find("\nironbus_committed_offset 4\n"), std::string::npos);
  EXPECT_NE(text.find("\nironbus_redelivered_total 2\n"), std::string::npos);
  EXPECT_NE(text.find("\nironbus_last_dead_lettered_offset 7\n"), std::string::npos);
  EXPECT_NE(text.find("\nironbus_group_committed_offset{group=\"a\\\"b\\\\c\\nd\"} 10\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\nironbus_connections_total{state=\"accepted\"} 5\n"), std::string::npos);
  EXPECT_NE(text.find("\nironbus_durability_level_info{level=\"sync\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("\nironbus_build_info{version=\"1.2.3\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("\nironbus_recovery_loss_bytes{reason=\"torn_tail\"} 0\n"), std::string::npos);
  EXPECT_EQ(EscapeLabelValue("plain"), "plain");
}

TEST(Metrics, FsyncHistogramIsCumulativeWithSumAndCount) {
  MetricsSnapshot s = Sample();
  s.appender.sync_buckets[0] = 3;   // <= 0.5 ms
  s.appender.sync_buckets[3] = 2;   // (2 ms, 5 ms]
  s.appender.sync_buckets[13] = 1;  // > 5 s
  s.appender.sync_nanos = 6'500'000'000;
  const std::string text = RenderPrometheus(s);
  EXPECT_NE(text.find("\nironbus_fsync_duration_seconds_bucket{le=\"0.0005\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\nironbus_fsync_duration_seconds_bucket{le=\"0.002\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("\nironbus_fsync_duration_seconds_bucket{le=\"0.005\"} 5\n"), std::string::npos);
  EXPECT_NE(text.find("\nironbus_fsync_duration_seconds_bucket{le=\"5\"} 5\n"), std::string::npos);
  EXPECT_NE(text.find("\nironbus_fsync_duration_seconds_bucket{le=\"+Inf\"} 6\n"), std::string::npos);
  EXPECT_NE(text.find("\nironbus_fsync_duration_seconds_count 6\n"), std::string::npos);
  EXPECT_NE(text.find("\nironbus_fsync_duration_seconds_sum 6.500000000\n"), std::string::npos);
  EXPECT_NE(text.find("\nironbus_fsync_seconds_count 6\n"), std::string::npos);
}

TEST(Metrics, LossReportTotalsPerReason) {
  recovery::LossReport report;
  recovery::LossEvent torn;
  torn.reason = recovery::LossReason::kTornTail;
  torn.byte_offset_start = 100;
  torn.byte_offset_end = 150;
  recovery::LossEvent body;
  body.reason = recovery::LossReason::kCorruptRecordBody;
  body.byte_offset_start = 0;
  body.byte_offset_end = 64;
  body.records_lost_estimate = 1;
  body.first_lost_offset = 41;
  body.end_lost_offset = 42;
  report.events = {torn, body};
  const LossMetrics m = LossMetricsFrom(&report);
  EXPECT_EQ(m.truncated_bytes, 114u);
  EXPECT_EQ(m.data_loss_bytes, 64u);
  EXPECT_EQ(m.records_skipped, 1u);
  EXPECT_EQ(m.last_skip_offset, 41);
  EXPECT_EQ(m.bytes_by_reason.at("torn_tail"), 50u);
  EXPECT_EQ(m.bytes_by_reason.at("corrupt_record_body"), 64u);
  EXPECT_EQ(m.records_by_reason.at("corrupt_record_body"), 1u);
  EXPECT_EQ(m.bytes_by_reason.at("sequence_gap"), 0u) << "every reason is present";
}

TEST(Metrics, ReadinessReasons) {
  MetricsSnapshot s = Sample();
  EXPECT_TRUE(CheckReadiness(s).ready);
  EXPECT_EQ(CheckReadiness(s).reason, "ready");

  MetricsSnapshot frozen = s;
  frozen.writer_healthy = false;
  frozen.frozen_reason = "log frozen: fdatasync failed";
  EXPECT_FALSE(CheckReadiness(frozen).ready);
  EXPECT_EQ(CheckReadiness(frozen).reason, "writer frozen: log frozen: fdatasync failed");

  MetricsSnapshot stopping = s;
  stopping.shutting_down = true;
  EXPECT_EQ(CheckReadiness(stopping).reason, "shutting down");

  MetricsSnapshot not_recovered = s;
  not_recovered.recovered = false;
  EXPECT_EQ(CheckReadiness(not_recovered).reason, "not recovered");

  MetricsSnapshot full = s;
  full.max_connections = 2;
  EXPECT_EQ(CheckReadiness(full).reason, "connection cap reached (2 of 2)");

  MetricsSnapshot queue_full = s;
  queue_full.append_queue_capacity = 8;
  queue_full.append_queue_depth = 8;
  EXPECT_EQ(CheckReadiness(queue_full).reason, "append queue full (8 of 8)");
}

}  // namespace
}  // namespace ironbus::server
