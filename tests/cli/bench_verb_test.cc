// `ironbus bench` through the real binary against a real `ironbus serve` on a free loopback port
// (spec/cli-config-ops.md 10.3): the --json summary of each mode, counts that match what the
// broker stored, the open-loop --rate, and the usage and unreachable exits.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "e2e/e2e_test_util.h"
#include "server/http_test_util.h"

namespace ironbus::cli {
namespace {

using e2e::Broker;
using e2e::RunResult;

class BenchVerb : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_ = std::make_unique<Broker>(scratch_.path() + "/data", scratch_.path(), std::vector<std::string>{});
    addr_ = broker_->WaitListening();
    ASSERT_FALSE(addr_.empty()) << broker_->output() << broker_->errors();
  }
  RunResult Run(const std::string& args) { return e2e::RunIronbus(args, scratch_.path()); }
  // A bench that must exit 0 with one JSON object on stdout.
  nlohmann::json BenchJson(const std::string& flags) {
    RunResult r = Run("bench --addr " + addr_ + " --i-understand-this-is-live --json " + flags);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.out;
    return j;
  }

  io::testing::TempDir scratch_;
  std::unique_ptr<Broker> broker_;
  std::string addr_;
};

void ExpectLatencyFields(const nlohmann::json& j) {
  for (const char* k : {"latency_p50_us", "latency_p90_us", "latency_p99_us", "latency_p999_us", "latency_p9999_us",
                        "latency_max_us"}) {
    ASSERT_TRUE(j[k].is_number()) << k << " in " << j.dump();
    EXPECT_GT(j[k].get<double>(), 0.0) << k;
  }
  EXPECT_LE(j["latency_p50_us"].get<double>(), j["latency_p99_us"].get<double>());
  EXPECT_LE(j["latency_p99_us"].get<double>(), j["latency_p9999_us"].get<double>());
  EXPECT_LE(j["latency_p9999_us"].get<double>(), j["latency_max_us"].get<double>());
}

TEST_F(BenchVerb, PublishCountsMatchTheLog) {
  const auto j = BenchJson("--mode publish --count 300 --producers 2 --pubwindow 8 --size 100");
  EXPECT_EQ(j["schema"], "ironbus.cli.bench.v1");
  EXPECT_EQ(j["schema_version"], 1);
  EXPECT_EQ(j["mode"], "publish");
  EXPECT_EQ(j["bound"], "count");
  EXPECT_EQ(j["produced"], 300);
  EXPECT_EQ(j["publish_errors"], 0);
  EXPECT_EQ(j["consumed"], 0);
  EXPECT_EQ(j["payload_bytes"], 100);
  EXPECT_EQ(j["latency_kind"], "publish_ack");
  EXPECT_EQ(j["publish_latency"]["count"], 300);
  EXPECT_GT(j["msgs_per_sec"].get<double>(), 0.0);
  EXPECT_TRUE(j["ok"].get<bool>());
  EXPECT_EQ(j["exit_code"], 0);
  ExpectLatencyFields(j);
  // The broker stored exactly those records: a subscribe run on a fresh group reads all 300.
  const auto sub = BenchJson("--mode subscribe --count 300");
  EXPECT_EQ(sub["consumed"], 300);
  EXPECT_EQ(sub["produced"], 0);
  EXPECT_TRUE(sub["latency_p50_us"].is_null());
}

TEST_F(BenchVerb, RoundTripConsumesEveryPublishedRecord) {
  const auto j = BenchJson("--count 400 --producers 2 --consumers 2 --pubwindow 4");
  EXPECT_EQ(j["mode"], "round-trip");
  EXPECT_EQ(j["produced"], 400);
  EXPECT_EQ(j["consumed"], 400);
  EXPECT_EQ(j["latency_kind"], "end_to_end");
  EXPECT_EQ(j["end_to_end_latency"]["count"], 400);
  EXPECT_EQ(j["publish_latency"]["count"], 400);
  ExpectLatencyFields(j);
  // A second run on its own fresh group ignores the first run's records.
  const auto again = BenchJson("--mode rt --count 50");
  EXPECT_EQ(again["produced"], 50);
  EXPECT_EQ(again["consumed"], 50);
  EXPECT_NE(again["group"], j["group"]);
}

TEST_F(BenchVerb, OpenLoopRateAndDurationBound) {
  const auto j = BenchJson("--mode publish --duration 1 --rate 200");
  EXPECT_EQ(j["bound"], "duration");
  const uint64_t produced = j["produced"].get<uint64_t>();
  EXPECT_GE(produced, 150u);
  EXPECT_LE(produced, 210u);
  EXPECT_EQ(j["rate"], 200.0);
  ExpectLatencyFields(j);
}

TEST_F(BenchVerb, FireAndForgetSendsWithoutAcks) {
  const auto j = BenchJson("--mode publish --fire-and-forget --count 100");
  EXPECT_EQ(j["fire_and_forget"], true);
  EXPECT_EQ(j["produced"], 100);
  EXPECT_TRUE(j["latency_p50_us"].is_null()) << "no acks, no latency";
  // The broker appended them: a subscribe run reads 100 records.
  const auto sub = BenchJson("--mode subscribe --count 100");
  EXPECT_EQ(sub["consumed"], 100);
  EXPECT_EQ(Run("bench --addr " + addr_ + " --i-understand-this-is-live --count 1 --fire-and-forget").exit_code, 1)
      << "round-trip mode";
  EXPECT_EQ(Run("bench --addr " + addr_ + " --i-understand-this-is-live --count 1 --mode pub --fire-and-forget "
                "--pubwindow 4")
                .exit_code,
            1);
}

TEST_F(BenchVerb, HumanSummaryAndProgressLine) {
  RunResult r = Run("bench --addr " + addr_ + " --i-understand-this-is-live --duration 1.5 --mode pub");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("produced "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("publish ack latency (us): p50 "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("p99.99 "), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("[  1s] pub "), std::string::npos) << "progress once a second on stderr: " << r.err;
  EXPECT_NE(r.err.find("in flight"), std::string::npos) << r.err;
}

TEST_F(BenchVerb, WithoutAddrItRunsAPrivateBrokerAndDeletesItsDataDir) {
  const std::string tmp = scratch_.path() + "/tmp";
  std::filesystem::create_directories(tmp);
  // RunIronbus has no env hook: TMPDIR points the private data dir into the scratch dir.
  const std::string cmd = "TMPDIR=" + tmp + " " + std::string(IRONBUS_BINARY) + " bench --count 100 --pubwindow 4 --json >" +
                          scratch_.path() + "/bench.out 2>" + scratch_.path() + "/bench.err";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << e2e::Slurp(scratch_.path() + "/bench.err");
  auto j = nlohmann::json::parse(e2e::Slurp(scratch_.path() + "/bench.out"), nullptr, false);
  ASSERT_FALSE(j.is_discarded());
  EXPECT_EQ(j["storage"], "disk");
  EXPECT_TRUE(j["fsync_measured"].get<bool>()) << j.dump();
  EXPECT_GT(j["fsync_cost_us"].get<double>(), 0.0);
  EXPECT_EQ(j["produced"], 100);
  EXPECT_EQ(j["consumed"], 100);
  EXPECT_TRUE(j["ok"].get<bool>());
  EXPECT_TRUE(std::filesystem::is_empty(tmp)) << "the private data dir is deleted";
}

// The value of one sample line ("name value" or "name{labels} value"), -1 when absent.
double MetricValue(const std::string& text, const std::string& series) {
  const size_t at = text.find("\n" + series + " ");
  return at == std::string::npos ? -1 : std::stod(text.substr(at + series.size() + 2));
}

TEST(BenchVerbHealth, MetricsOfARealServeMatchTheBenchCounts) {
  io::testing::TempDir scratch;
  Broker broker(scratch.path() + "/data", scratch.path(), {"--health-addr", "127.0.0.1:0"});
  const std::string addr = broker.WaitListening();
  ASSERT_FALSE(addr.empty()) << broker.output() << broker.errors();
  const std::string out = broker.output();
  const std::string marker = "ironbus health endpoints on 127.0.0.1:";
  const size_t at = out.find(marker);
  ASSERT_NE(at, std::string::npos) << out;
  const auto health_port = static_cast<uint16_t>(std::stoi(out.substr(at + marker.size())));
  EXPECT_EQ(server::testing::HttpGet(health_port, "/readyz").status, 200);

  RunResult r = e2e::RunIronbus("bench --addr " + addr + " --i-understand-this-is-live --json --count 200 --pubwindow 8 --group g1",
                                scratch.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_EQ(j["produced"], 200);

  const auto metrics = server::testing::HttpGet(health_port, "/metrics");
  ASSERT_EQ(metrics.status, 200);
  const std::string& m = metrics.body;
  EXPECT_EQ(MetricValue(m, "ironbus_produced_total"), 200) << m;
  EXPECT_EQ(MetricValue(m, "ironbus_flushed_offset"), 200);
  EXPECT_EQ(MetricValue(m, "ironbus_acks_total"), 200);
  EXPECT_GE(MetricValue(m, "ironbus_delivered_total"), 200);
  EXPECT_EQ(MetricValue(m, "ironbus_group_consumer_lag{group=\"g1\"}"), 0);
  EXPECT_EQ(MetricValue(m, "ironbus_group_committed_offset{group=\"g1\"}"), 200);
  EXPECT_GT(MetricValue(m, "ironbus_fsyncs_total"), 0);
  EXPECT_GT(MetricValue(m, "ironbus_fsync_duration_seconds_count"), 0);
  EXPECT_EQ(MetricValue(m, "ironbus_writer_healthy"), 1);
  EXPECT_GT(MetricValue(m, "ironbus_produced_bytes_total"), 200 * 256 - 1);
  EXPECT_EQ(broker.Stop(), 0);
}

// --ack cumulative settles each window with one CumulativeAck: the broadcast group ends
// committed at the head, and nothing was acked message by message.
TEST(BenchVerbHealth, CumulativeAckCommitsABroadcastGroupWithoutPerMessageAcks) {
  io::testing::TempDir scratch;
  Broker broker(scratch.path() + "/data", scratch.path(), {"--health-addr", "127.0.0.1:0", "--broadcast-group", "bc"});
  const std::string addr = broker.WaitListening();
  ASSERT_FALSE(addr.empty()) << broker.output() << broker.errors();
  const uint16_t health_port = broker.HealthPort();
  ASSERT_NE(health_port, 0);
  RunResult r = e2e::RunIronbus(
      "bench --addr " + addr + " --i-understand-this-is-live --json --count 300 --pubwindow 8 --group bc --ack cumulative",
      scratch.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_EQ(j["ack"], "cumulative");
  EXPECT_EQ(j["produced"], 300);
  EXPECT_EQ(j["consumed"], 300);
  const std::string m = server::testing::HttpGet(health_port, "/metrics").body;
  EXPECT_EQ(MetricValue(m, "ironbus_group_committed_offset{group=\"bc\"}"), 300) << m;
  EXPECT_EQ(MetricValue(m, "ironbus_acks_total"), 0) << "cumulative acks are not per-message acks";
  // The group is not a broadcast group: the broker refuses the CumulativeAck, bench says so.
  RunResult refused = e2e::RunIronbus(
      "bench --addr " + addr + " --i-understand-this-is-live --json --count 10 --group plain --ack cumulative",
      scratch.path());
  EXPECT_EQ(refused.exit_code, 70) << refused.out << refused.err;
  EXPECT_EQ(broker.Stop(), 0);
}

// --fetch-ahead 2 keeps two fetches in flight: pipelined long-polls while the producer runs,
// every record consumed once, the group committed at the head. Fetches in flight beyond the
// broker's credit (64 by default) are refused before the run, as is fetch-ahead without
// cumulative acks.
TEST(BenchVerbHealth, FetchAheadDrainsABroadcastGroupWithTwoFetchesInFlight) {
  io::testing::TempDir scratch;
  Broker broker(scratch.path() + "/data", scratch.path(), {"--health-addr", "127.0.0.1:0", "--broadcast-group", "bc"});
  const std::string addr = broker.WaitListening();
  ASSERT_FALSE(addr.empty()) << broker.output() << broker.errors();
  const uint16_t health_port = broker.HealthPort();
  ASSERT_NE(health_port, 0);
  const std::string live = "bench --addr " + addr + " --i-understand-this-is-live ";
  RunResult r = e2e::RunIronbus(
      live + "--json --count 300 --pubwindow 8 --group bc --ack cumulative --fetch-ahead 2 --fetch-batch 32",
      scratch.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_EQ(j["produced"], 300);
  EXPECT_EQ(j["consumed"], 300);
  const std::string m = server::testing::HttpGet(health_port, "/metrics").body;
  EXPECT_EQ(MetricValue(m, "ironbus_group_committed_offset{group=\"bc\"}"), 300) << m;

  RunResult over = e2e::RunIronbus(
      live + "--count 10 --group bc --ack cumulative --fetch-ahead 3 --fetch-batch 32", scratch.path());
  EXPECT_EQ(over.exit_code, 1) << over.err;
  EXPECT_NE(over.err.find("consumer credit of 96"), std::string::npos) << over.err;
  EXPECT_EQ(e2e::RunIronbus(live + "--count 10 --fetch-ahead 2", scratch.path()).exit_code, 1);
  EXPECT_EQ(broker.Stop(), 0);
}

// The window slides: with --pubwindow 64 every record's latency is its own (send to its own
// PubAck), so the count of latency samples is the count of records even when the count is not
// a multiple of the window.
TEST_F(BenchVerb, SlidingWindowTimesEveryRecord) {
  const auto j = BenchJson("--mode publish --count 1000 --pubwindow 64");
  EXPECT_EQ(j["produced"], 1000);
  EXPECT_EQ(j["publish_latency"]["count"], 1000);
  EXPECT_GT(j["elapsed_s"].get<double>(), 0.0);
  ExpectLatencyFields(j);
}

TEST_F(BenchVerb, UsageAndUnreachable) {
  EXPECT_EQ(Run("bench --addr " + addr_ + " --i-understand-this-is-live --count 1 --ack sometimes").exit_code, 1);
  EXPECT_EQ(Run("bench --addr " + addr_ + " --i-understand-this-is-live").exit_code, 1) << "no bound";
  EXPECT_EQ(Run("bench --addr " + addr_ + " --i-understand-this-is-live --count 1 --duration 1").exit_code, 1);
  EXPECT_EQ(Run("bench --addr " + addr_ + " --count 1").exit_code, 1) << "live broker without the ack flag";
  EXPECT_EQ(Run("bench --addr " + addr_ + " --i-understand-this-is-live --count 1 --mode sideways").exit_code, 1);
  EXPECT_EQ(Run("bench --count 1 --storage memory").exit_code, 1) << "not built yet";
  RunResult r = Run("bench --addr 127.0.0.1:1 --i-understand-this-is-live --count 1 --json");
  EXPECT_EQ(r.exit_code, 5) << r.err;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_EQ(j["exit_code"], 5);
  EXPECT_EQ(j["ok"], false);
}

}  // namespace
}  // namespace ironbus::cli
