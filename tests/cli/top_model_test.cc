// The pure half of `ironbus top`: /admin and /metrics parsing, quantiles, rates from deltas,
// the ironbus.cli.top.v1 objects, and the layout at a given terminal size (80x24 above all).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cli/top_model.h"
#include "cli/top_render.h"

namespace ironbus::cli::top {
namespace {

std::string AdminBody(uint64_t produced, size_t groups = 1) {
  nlohmann::json consumers = nlohmann::json::array();
  for (size_t i = 0; i < groups; ++i) {
    consumers.push_back({{"name", i == 0 ? "" : "g" + std::to_string(i)},
                         {"mode", "competing"},
                         {"committed_offset", i},
                         {"consumer_lag", produced - i},
                         {"in_flight", 2 * i},
                         {"members", 0}});
  }
  nlohmann::json admin = {
      {"schema_version", 1},
      {"version", "0.1.0"},
      {"uptime_s", 12.5},
      {"log",
       {{"head_offset", produced}, {"first_offset", 0}, {"segments", 2}, {"records", produced}, {"bytes", 50 * produced},
        {"durability", "sync"}, {"frozen", false}, {"frozen_reason", ""}}},
      {"broker",
       {{"flushed_offset", produced}, {"committed_offset", 0}, {"consumer_lag", produced}, {"produced", produced},
        {"delivered", 4}, {"redelivered", 1}, {"acks", 3}, {"dead_lettered", 1}, {"healthy", true},
        {"connections_open", 2}}},
      {"segments",
       {{"count", 2}, {"earliest_retained_offset", 0}, {"head_offset", produced}, {"durable_record_count", produced},
        {"durable_record_bytes", 50 * produced}}},
      {"resilience",
       {{"frozen", false}, {"last_skip_offset", -1}, {"records_skipped", 0}, {"bytes_skipped", 0},
        {"recovery_truncated_bytes", 7}}},
      {"recovery", {{"data_loss_bytes", 0}}},
      {"consumers", consumers},
      {"groups", consumers},
      {"dlq", {{"records", 1}, {"last_dead_lettered_offset", 2}}}};
  return admin.dump();
}

// A /metrics exposition in the broker's format (cumulative buckets, labels in braces).
std::string MetricsBody(uint64_t produced_bytes, std::vector<uint64_t> cumulative) {
  const char* bounds[] = {"0.0005", "0.001", "0.002", "0.005"};
  std::string out = "# HELP ironbus_produced_bytes_total x\n# TYPE ironbus_produced_bytes_total counter\n";
  out += "ironbus_produced_bytes_total " + std::to_string(produced_bytes) + "\n";
  out += "# TYPE ironbus_fsync_duration_seconds histogram\n";
  for (size_t i = 0; i < 4; ++i) {
    out += std::string("ironbus_fsync_duration_seconds_bucket{le=\"") + bounds[i] + "\"} " +
           std::to_string(cumulative[i]) + "\n";
  }
  out += "ironbus_fsync_duration_seconds_bucket{le=\"+Inf\"} " + std::to_string(cumulative[4]) + "\n";
  out += "ironbus_fsync_duration_seconds_sum 0.001\nironbus_fsync_duration_seconds_count " +
         std::to_string(cumulative[4]) + "\n";
  out += "ironbus_fsync_seconds_bucket{le=\"+Inf\"} 999\n";  // the deprecated copy is ignored
  out += "ironbus_produce_rejected_total 4\nironbus_codel_backstop_shed_total 2\n";
  out += "ironbus_retry_shed_total{side=\"broker\"} 100\n";  // deferred, not dropped
  out += "ironbus_recovery_loss_records{reason=\"torn_tail\"} 1\n";
  out += "ironbus_recovery_loss_records{reason=\"corrupt_record_body\"} 3\n";
  out += "ironbus_recovery_loss_bytes{reason=\"sequence_gap\"} 0\n";
  return out;
}

LiveSnapshot Snap(uint64_t produced, uint64_t produced_bytes, std::vector<uint64_t> cumulative, size_t groups = 1) {
  auto parsed = ParseAdmin(AdminBody(produced, groups));
  EXPECT_TRUE(parsed.ok()) << parsed.status().ToString();
  LiveSnapshot s = *parsed;
  s.metrics = ParseMetrics(MetricsBody(produced_bytes, std::move(cumulative)));
  return s;
}

TEST(TopModel, ParsesAdminV1) {
  auto s = ParseAdmin(AdminBody(9, 2));
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->version, "0.1.0");
  EXPECT_EQ(s->durable_head, 9u);
  EXPECT_EQ(s->segment_count, 2u);
  EXPECT_EQ(s->durable_record_bytes, 450u);
  EXPECT_EQ(s->produced, 9u);
  EXPECT_EQ(s->delivered, 4u);
  EXPECT_EQ(s->connections_open, 2u);
  EXPECT_EQ(s->dlq_records, 1u);
  EXPECT_EQ(s->dlq_last_dead_lettered_offset, 2);
  EXPECT_EQ(s->last_skip_offset, -1);
  EXPECT_EQ(s->recovery_truncated_bytes, 7u);
  ASSERT_EQ(s->consumers.size(), 2u);
  EXPECT_EQ(s->consumers[1].name, "g1");
  EXPECT_EQ(s->consumers[1].consumer_lag, 8u);
  EXPECT_EQ(s->consumers[1].in_flight, 2u);
  EXPECT_FALSE(s->metrics.present);
}

TEST(TopModel, RejectsWhatIsNotAdminV1) {
  EXPECT_FALSE(ParseAdmin("not json").ok());
  EXPECT_FALSE(ParseAdmin("[]").ok());
  EXPECT_FALSE(ParseAdmin(R"({"schema_version":2,"log":{},"consumers":[]})").ok());
  EXPECT_FALSE(ParseAdmin(R"({"schema_version":1,"log":{}})").ok());
  auto minimal = ParseAdmin(R"({"schema_version":1,"log":{"head_offset":5,"frozen":true},"consumers":[]})");
  ASSERT_TRUE(minimal.ok());
  EXPECT_EQ(minimal->durable_head, 5u) << "falls back to log when segments is absent";
  EXPECT_TRUE(minimal->frozen);
}

TEST(TopModel, ParsesMetricsItNeeds) {
  MetricsView m = ParseMetrics(MetricsBody(1234, {1, 5, 9, 10, 10}));
  EXPECT_TRUE(m.present);
  EXPECT_EQ(m.produced_bytes, 1234u);
  EXPECT_EQ(m.fsync_bounds_s, (std::vector<double>{0.0005, 0.001, 0.002, 0.005}));
  EXPECT_EQ(m.fsync_cumulative, (std::vector<uint64_t>{1, 5, 9, 10, 10}));
  EXPECT_EQ(m.produce_rejected, 4u);
  EXPECT_EQ(m.sheds, 2u) << "retry-budget deferrals are not sheds";
  EXPECT_EQ(m.lost_records, 3u) << "torn tails are not lost records";
  EXPECT_EQ(m.loss_reasons, 2u);
  EXPECT_FALSE(ParseMetrics("# nothing\n").present);
}

TEST(TopModel, HistogramQuantileInterpolatesInsideTheBucket) {
  const std::vector<double> bounds = {0.001, 0.002, 0.005};
  EXPECT_FALSE(HistogramQuantile(bounds, {0, 0, 0, 0}, 0.5).has_value());
  EXPECT_FALSE(HistogramQuantile(bounds, {1, 2}, 0.5).has_value()) << "shape mismatch";
  EXPECT_DOUBLE_EQ(*HistogramQuantile(bounds, {0, 10, 10, 10}, 0.5), 0.0015);
  EXPECT_DOUBLE_EQ(*HistogramQuantile(bounds, {10, 10, 10, 10}, 0.5), 0.0005);
  EXPECT_DOUBLE_EQ(*HistogramQuantile(bounds, {0, 0, 0, 4}, 0.99), 0.005) << "+Inf reports the last bound";
}

TEST(TopModel, RatesComeFromDeltasBetweenPolls) {
  LiveSnapshot prev = Snap(10, 1'000'000, {0, 2, 2, 2, 2});
  LiveSnapshot cur = Snap(30, 2'000'000, {0, 2, 12, 12, 12});
  Rates r = ComputeRates(&prev, cur, 2.0);
  ASSERT_TRUE(r.valid);
  EXPECT_DOUBLE_EQ(r.produced_per_s, 10.0);
  ASSERT_TRUE(r.bytes_valid);
  EXPECT_DOUBLE_EQ(r.produced_mb_per_s, 0.5);
  EXPECT_FALSE(r.fsync_since_start);
  EXPECT_EQ(r.fsyncs, 10u);
  // All ten fsyncs of the window were in (0.001, 0.002]; the two older fast ones do not count.
  EXPECT_DOUBLE_EQ(*r.fsync_p50_s, 0.0015);
  EXPECT_GT(*r.fsync_p99_s, 0.00198);
}

TEST(TopModel, NoRatesOnFirstPollOrAfterARestart) {
  LiveSnapshot cur = Snap(30, 100, {0, 2, 2, 2, 2});
  Rates first = ComputeRates(nullptr, cur, 0);
  EXPECT_FALSE(first.valid);
  EXPECT_TRUE(first.fsync_since_start);
  EXPECT_EQ(first.fsyncs, 2u);
  LiveSnapshot later = Snap(5, 10, {0, 0, 0, 0, 0});  // counters went down: a restart
  EXPECT_FALSE(ComputeRates(&cur, later, 1.0).valid);
  EXPECT_FALSE(ComputeRates(&cur, cur, 0.0).valid);
}

TEST(TopModel, LiveJsonCarriesTheSpecFields) {
  LiveSnapshot s = Snap(3, 150, {0, 1, 1, 1, 1});
  nlohmann::json j = LiveJson(s, ComputeRates(nullptr, s, 0), "127.0.0.1:9");
  for (const char* key :
       {"schema", "mode", "source", "frozen", "durable_head", "committed", "earliest_retained", "segment_count",
        "durable_record_count", "durable_record_bytes", "produced", "produced_bytes", "delivered", "redelivered",
        "acks", "dead_lettered", "dlq_records", "dlq_last_dead_lettered_offset", "last_skip_offset",
        "records_skipped", "bytes_skipped", "consumers", "ok", "exit_code"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_EQ(j["schema"], "ironbus.cli.top.v1");
  EXPECT_EQ(j["mode"], "live");
  EXPECT_EQ(j["produced_bytes"], 150);
  EXPECT_EQ(j["consumers"][0], (nlohmann::json{{"name", ""}, {"committed_offset", 0}, {"consumer_lag", 3}, {"in_flight", 0}}));
}

TEST(TopModel, OfflineJsonCarriesTheSpecFields) {
  OfflineSnapshot s;
  s.data_dir = "/d";
  s.loss_events = 2;
  nlohmann::json j = OfflineJson(s);
  for (const char* key : {"schema", "mode", "source", "segment_count", "durable_head", "loss_events", "loss_bytes",
                          "loss_records_estimate", "quarantine_blobs", "quarantine_bytes"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_EQ(j["mode"], "offline");
  EXPECT_EQ(j["loss_events"], 2);
}

LiveView View(size_t groups) {
  LiveView v;
  v.addr = "127.0.0.1:40000";
  v.snapshot = Snap(100, 5000, {0, 1, 1, 1, 1}, groups);
  v.rates = ComputeRates(nullptr, *v.snapshot, 0);
  v.interactive = true;
  return v;
}

void ExpectFits(const std::vector<std::string>& lines, size_t width, size_t height) {
  EXPECT_LE(lines.size(), height);
  for (const auto& line : lines) EXPECT_LE(line.size(), width) << line;
}

TEST(TopRender, FitsIn80x24WithManyGroups) {
  const auto lines = RenderLive(View(50), 80, 24);
  ExpectFits(lines, 80, 24);
  ASSERT_EQ(lines.size(), 24u);
  EXPECT_EQ(lines.front(), "ironbus top -- LIVE (broker /admin v1 at 127.0.0.1:40000)");
  EXPECT_NE(lines.back().find("q or Ctrl-C quits"), std::string::npos);
  size_t shown = 0;
  for (const auto& l : lines) shown += l.find(": committed=") != std::string::npos ? 1 : 0;
  EXPECT_GT(shown, 0u);
  EXPECT_EQ(lines[lines.size() - 2], "  +" + std::to_string(50 - shown) + " more groups");
  EXPECT_EQ(lines[lines.size() - 3 - shown], "consumers (per-group lag + in-flight) [source: /admin consumers]");
  EXPECT_EQ(lines[lines.size() - 2 - shown], "  (default): committed=0 lag=100 in_flight=0");
}

TEST(TopRender, EveryPanelNamesItsSource) {
  const auto lines = RenderLive(View(1), 80, 24);
  for (const char* panel : {"broker:", "log:", "throughput:", "dlq:", "resilience:", "consumers (per-group"}) {
    bool found = false;
    for (const auto& l : lines) {
      if (l.rfind(panel, 0) == 0) {
        found = true;
        EXPECT_NE(l.find("[source: "), std::string::npos) << l;
      }
    }
    EXPECT_TRUE(found) << panel;
  }
}

TEST(TopRender, UnlimitedSizeShowsEveryGroup) {
  const auto lines = RenderLive(View(50), 0, 0);
  size_t shown = 0;
  for (const auto& l : lines) shown += l.find(": committed=") != std::string::npos ? 1 : 0;
  EXPECT_EQ(shown, 50u);
  EXPECT_EQ(lines.back(), "read-only view: nothing is changed. q or Ctrl-C quits");
}

TEST(TopRender, UnreachableKeepsTheLastDataAndSaysSo) {
  LiveView v = View(1);
  v.reachable = false;
  v.error = "cannot connect to 127.0.0.1:40000";
  v.stale_s = 3.2;
  const auto lines = RenderLive(v, 80, 24);
  ExpectFits(lines, 80, 24);
  EXPECT_EQ(lines[1].rfind("status: broker unreachable, retrying every 1s, data 3s old", 0), 0u) << lines[1];
  bool produced = false;
  for (const auto& l : lines) produced = produced || l.find("produced=100") != std::string::npos;
  EXPECT_TRUE(produced);
}

TEST(TopRender, NamesAreMadePrintableAndLongLinesCut) {
  LiveView v = View(2);
  v.snapshot->consumers[1].name = std::string("evil\x1b[2J") + std::string(200, 'x');
  const auto lines = RenderLive(v, 80, 24);
  ExpectFits(lines, 80, 24);
  for (const auto& l : lines) {
    EXPECT_EQ(l.find('\x1b'), std::string::npos);
    if (l.find("evil?[2J") != std::string::npos) {
      EXPECT_EQ(l.back(), '>');
    }
  }
}

TEST(TopRender, TinyTerminalKeepsHeaderAndFooter) {
  const auto lines = RenderLive(View(3), 40, 6);
  ExpectFits(lines, 40, 6);
  ASSERT_EQ(lines.size(), 6u);
  EXPECT_EQ(lines.front().rfind("ironbus top -- LIVE", 0), 0u);
  EXPECT_EQ(lines.back().rfind("read-only view", 0), 0u);
}

TEST(TopRender, NoDataYet) {
  LiveView v;
  v.addr = "h:1";
  v.reachable = false;
  v.error = "refused";
  const auto lines = RenderLive(v, 80, 24);
  ASSERT_GE(lines.size(), 3u);
  EXPECT_NE(lines[1].find("broker unreachable"), std::string::npos);
}

TEST(TopRender, OfflineSaysWhatDoesNotExistOffline) {
  OfflineSnapshot s;
  s.data_dir = "/var/lib/ironbus";
  s.segment_count = 3;
  s.loss_events = 1;
  const auto lines = RenderOffline(s, 80, 24);
  ExpectFits(lines, 80, 24);
  EXPECT_EQ(lines[0], "ironbus top -- OFFLINE (file-derived view of /var/lib/ironbus)");
  std::string all;
  for (const auto& l : lines) all += l + "\n";
  EXPECT_NE(all.find("throughput, fsync latency and in-flight panels"), std::string::npos);
  EXPECT_NE(all.find("[source: "), std::string::npos);
  EXPECT_NE(all.find("ironbus scrub --data-dir /var/lib/ironbus"), std::string::npos) << "suggested, not run";
}

}  // namespace
}  // namespace ironbus::cli::top
