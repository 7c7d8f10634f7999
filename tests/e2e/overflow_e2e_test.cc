// The overflow steps of the golden-path acceptance scenario (spec/consumers.md 18, steps 5 and
// 8) with the real binary and the CLI, as a user would run them:
//   5. Overload: under --max-total-bytes every pub exits 0 or fails with "at capacity",
//      promptly, and ironbus_produce_rejected_total equals the client's shed count.
//   8. Resume and truncate once: under drop-oldest a stuck group sees exactly one
//      "truncated: resumed at offset N" and then resumes at N.
// And the memory side of overflow: an idle, caught-up group leaves memory after
// --group-idle-evict-ms and a later sub resumes from its cursor.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "e2e/e2e_test_util.h"
#include "server/http_test_util.h"

namespace ironbus::e2e {
namespace {

using server::testing::HttpGet;

size_t Count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

class OverflowE2E : public E2ETest {
 protected:
  std::string Start(std::vector<std::string> extra) {
    extra.insert(extra.end(), {"--health-addr", "127.0.0.1:0"});
    broker_ = std::make_unique<Broker>(data_, scratch_.path(), extra);
    const std::string addr = broker_->WaitListening();
    EXPECT_FALSE(addr.empty()) << broker_->errors();
    health_port_ = broker_->HealthPort();
    EXPECT_NE(health_port_, 0) << broker_->output();
    return addr;
  }

  std::unique_ptr<Broker> broker_;
  uint16_t health_port_ = 0;
};

TEST_F(OverflowE2E, Step5OverloadShedsAtCapacityAndCountsEveryShed) {
  const std::string addr = Start({"--max-total-bytes", "100"});
  ASSERT_FALSE(addr.empty());
  int accepted = 0;
  int shed = 0;
  for (int i = 0; i < 10; ++i) {
    RunResult r = Run("pub --addr " + addr + " m" + std::to_string(i));
    if (r.exit_code == 0) {
      ++accepted;
    } else {
      EXPECT_NE(r.err.find("at capacity"), std::string::npos) << r.err;
      ++shed;
    }
  }
  EXPECT_GE(accepted, 1);
  EXPECT_GE(shed, 1);
  EXPECT_EQ(accepted + shed, 10);
  const std::string metrics = HttpGet(health_port_, "/metrics").body;
  EXPECT_EQ(MetricValue(metrics, "ironbus_produce_rejected_total"), shed) << metrics;
  EXPECT_EQ(MetricValue(metrics, "ironbus_produce_at_capacity_total"), shed);

  const auto start = std::chrono::steady_clock::now();
  RunResult again = Run("pub --addr " + addr + " one-more");
  EXPECT_NE(again.exit_code, 0);
  EXPECT_NE(again.err.find("at capacity"), std::string::npos) << again.err;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5)) << "the refusal must not hang";
  EXPECT_EQ(broker_->Stop(SIGTERM), 0) << broker_->errors();
}

TEST_F(OverflowE2E, Step8DropOldestResumesAStuckGroupWithExactlyOneTruncation) {
  const std::string addr =
      Start({"--disk-full-policy", "drop-oldest", "--max-segment-bytes", "4096", "--max-total-bytes", "7000"});
  ASSERT_FALSE(addr.empty());
  // 956 bytes that lz4 cannot shrink much: a counter rendered in base 36, no long repeats.
  auto payload = [](int i) {
    std::string p;
    uint64_t x = 0x9E3779B97F4A7C15ull * static_cast<uint64_t>(i + 1);
    while (p.size() < 956) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      p += "0123456789abcdefghijklmnopqrstuvwxyz"[x % 36];
    }
    return p;
  };
  RunResult first = Run("pub --addr " + addr + " " + payload(0));
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_EQ(first.out, "0\n");
  RunResult one = Run("sub --addr " + addr + " --group stuck --max 1 --ack");
  ASSERT_EQ(one.exit_code, 0) << one.err;
  EXPECT_NE(one.out.find("#0 gen="), std::string::npos) << one.out;
  EXPECT_EQ(one.out.find("truncated"), std::string::npos) << one.out;

  for (int i = 1; i <= 60; ++i) {
    RunResult r = Run("pub --addr " + addr + " " + payload(i));
    ASSERT_EQ(r.exit_code, 0) << i << ": " << r.err;
    ASSERT_EQ(r.out, std::to_string(i) + "\n");
  }
  const std::string metrics = HttpGet(health_port_, "/metrics").body;
  EXPECT_GT(MetricValue(metrics, "ironbus_segments_force_reaped_total"), 0) << metrics;

  RunResult resumed = Run("sub --addr " + addr + " --group stuck --max 100 --ack");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  ASSERT_EQ(Count(resumed.out, "truncated: resumed at offset "), 1u) << resumed.out;
  const size_t at = resumed.out.find("truncated: resumed at offset ");
  const uint64_t n = std::stoull(resumed.out.substr(at + 29));
  EXPECT_GT(n, 1u);
  const size_t first_delivery = resumed.out.find("#");
  ASSERT_NE(first_delivery, std::string::npos) << resumed.out;
  EXPECT_EQ(std::stoull(resumed.out.substr(first_delivery + 1)), n) << resumed.out;
  EXPECT_GT(first_delivery, at) << "the truncation is reported before the first delivery after the gap";

  RunResult later = Run("sub --addr " + addr + " --group stuck --max 100");
  EXPECT_EQ(later.exit_code, 0) << later.err;
  EXPECT_EQ(later.out.find("truncated"), std::string::npos) << later.out;
  const std::string after = HttpGet(health_port_, "/metrics").body;
  EXPECT_GE(MetricValue(after, "ironbus_truncations_total"), 1);
  EXPECT_EQ(broker_->Stop(SIGTERM), 0) << broker_->errors();
}

TEST_F(OverflowE2E, AnIdleCaughtUpGroupLeavesMemoryAndResumesFromItsCursor) {
  const std::string addr = Start({"--group-idle-evict-ms", "200", "--enable-admin"});
  ASSERT_FALSE(addr.empty());
  for (int i = 0; i < 3; ++i) ASSERT_EQ(Run("pub --addr " + addr + " e" + std::to_string(i)).exit_code, 0);
  RunResult drained = Run("sub --addr " + addr + " --group idle --max 10 --ack");
  ASSERT_EQ(drained.exit_code, 0) << drained.err;
  EXPECT_EQ(Count(drained.out, "  ack committed\n"), 3u) << drained.out;

  double evicted = 0;
  for (int i = 0; i < 100 && evicted < 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    evicted = MetricValue(HttpGet(health_port_, "/metrics").body, "ironbus_groups_evicted_total");
  }
  ASSERT_EQ(evicted, 1) << "the sweep evicts the idle group once";
  const std::string admin = HttpGet(health_port_, "/admin").body;
  EXPECT_EQ(admin.find("\"idle\""), std::string::npos) << "out of memory, out of the listing: " << admin;
  EXPECT_NE(broker_->errors().find("group.evicted"), std::string::npos) << broker_->errors();

  ASSERT_EQ(Run("pub --addr " + addr + " e3").exit_code, 0);
  RunResult resumed = Run("sub --addr " + addr + " --group idle --max 10 --ack");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(resumed.out.find("#3 gen="), std::string::npos) << resumed.out;
  EXPECT_EQ(resumed.out.find("#0 gen="), std::string::npos) << "no redelivery after the reload: " << resumed.out;
  EXPECT_EQ(broker_->Stop(SIGTERM), 0) << broker_->errors();
}

}  // namespace
}  // namespace ironbus::e2e
