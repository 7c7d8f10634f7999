// The produce path end to end through the real binary: `serve`, then `pub` and the client
// library over loopback; the records are on disk for `dump` once the broker stopped; SIGTERM
// exits 0 with every acknowledged record present.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <set>
#include <thread>

#include "client/client.h"
#include "e2e/e2e_test_util.h"

namespace ironbus::e2e {
namespace {

using ProduceE2E = E2ETest;

TEST_F(ProduceE2E, PubPrintsDurableOffsetsThatDumpShowsAfterTheBrokerStopped) {
  Broker broker(data_, scratch_.path());
  const std::string addr = broker.WaitListening();
  ASSERT_FALSE(addr.empty()) << broker.output() << broker.errors();
  EXPECT_NE(broker.output().find(", data dir " + data_), std::string::npos) << broker.output();

  for (int i = 0; i < 3; ++i) {
    RunResult r = Run("pub --addr " + addr + " 'hello " + std::to_string(i) + "'");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, std::to_string(i) + "\n");
  }
  RunResult from_stdin = Run("pub --addr " + addr + " --key orders", WriteFile("in.txt", "from stdin\n"));
  ASSERT_EQ(from_stdin.exit_code, 0) << from_stdin.err;
  EXPECT_EQ(from_stdin.out, "3\n");
  RunResult dashed = Run("pub --addr " + addr + " -- --looks-like-a-flag");
  ASSERT_EQ(dashed.exit_code, 0) << dashed.err;
  EXPECT_EQ(dashed.out, "4\n");
  RunResult json = Run("pub --json --addr=" + addr + " 'json'");
  ASSERT_EQ(json.exit_code, 0) << json.err;
  auto j = nlohmann::json::parse(json.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << json.out;
  EXPECT_EQ(j["schema"], "ironbus.cli.pub-result.v1");
  EXPECT_EQ(j["offset"], 5);
  EXPECT_EQ(j["bytes"], 4);
  EXPECT_EQ(j["durable"], true);
  EXPECT_EQ(j["exit_code"], 0);

  // The library, pipelined.
  auto client = client::Client::Connect(addr);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  std::vector<client::PublishRequest> batch(50);
  for (size_t i = 0; i < batch.size(); ++i) batch[i].payload = ToBytes("lib-" + std::to_string(i));
  auto offsets = (*client)->PublishPipelined(batch, 16);
  ASSERT_TRUE(offsets.ok()) << offsets.status().ToString();
  for (size_t i = 0; i < offsets->size(); ++i) EXPECT_EQ((*offsets)[i], 6 + i);
  (*client)->Close();

  EXPECT_EQ(broker.Stop(SIGTERM), 0) << broker.errors();
  const std::vector<uint64_t> dumped = DumpedOffsets(data_, scratch_.path());
  ASSERT_EQ(dumped.size(), 56u);
  for (uint64_t i = 0; i < dumped.size(); ++i) EXPECT_EQ(dumped[i], i);
  RunResult peek = Run("peek --data-dir " + data_ + " --offset 3 --limit 1");
  EXPECT_EQ(peek.exit_code, 0);
  EXPECT_NE(peek.out.find("offset=3 "), std::string::npos) << peek.out;
  EXPECT_NE(peek.out.find("bytes=11 key_bytes=6"), std::string::npos) << peek.out;  // "from stdin\n", "orders"

  // A restarted broker continues the offsets.
  Broker again(data_, scratch_.path());
  const std::string addr2 = again.WaitListening();
  ASSERT_FALSE(addr2.empty()) << again.output() << again.errors();
  EXPECT_NE(again.output().find("56 record(s), offsets [0, 56)"), std::string::npos) << again.output();
  RunResult next = Run("pub --addr " + addr2 + " after-restart");
  ASSERT_EQ(next.exit_code, 0) << next.err;
  EXPECT_EQ(next.out, "56\n");
  EXPECT_EQ(again.Stop(SIGINT), 0);
}

TEST_F(ProduceE2E, PubExitCodes) {
  // Nothing listens: 5, with the failure object under --json.
  Broker probe(data_, scratch_.path());
  const std::string addr = probe.WaitListening();
  ASSERT_FALSE(addr.empty());
  ASSERT_EQ(probe.Stop(SIGTERM), 0);
  RunResult refused = Run("pub --addr " + addr + " x");
  EXPECT_EQ(refused.exit_code, 5);
  EXPECT_EQ(refused.err.rfind("error: ", 0), 0u) << refused.err;
  RunResult refused_json = Run("pub --json --addr " + addr + " x");
  EXPECT_EQ(refused_json.exit_code, 5);
  auto j = nlohmann::json::parse(refused_json.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << refused_json.out;
  EXPECT_EQ(j["schema"], "ironbus.cli.result.v1");
  EXPECT_EQ(j["error"]["kind"], "unreachable");
  EXPECT_FALSE(j.contains("offset"));

  // Usage errors: 1.
  EXPECT_EQ(Run("pub --addr " + addr + " one two").exit_code, 1);
  EXPECT_EQ(Run("pub --no-such-flag x").exit_code, 1);

  // The broker refuses (a record over the 16 MiB record cap that still fits a frame): 70.
  Broker broker(data_, scratch_.path());
  const std::string live = broker.WaitListening();
  ASSERT_FALSE(live.empty()) << broker.errors();
  const std::string big = WriteFile("big.bin", std::string((16u << 20) + 1024, 'b'));
  RunResult rejected = Run("pub --addr " + live, big);
  EXPECT_EQ(rejected.exit_code, 70) << rejected.out << rejected.err;
  EXPECT_EQ(rejected.out, "");
  RunResult fine = Run("pub --addr " + live + " small");
  EXPECT_EQ(fine.exit_code, 0) << fine.err;
  EXPECT_EQ(fine.out, "0\n") << "a refused record consumes no offset";
  EXPECT_EQ(broker.Stop(SIGTERM), 0);
}

TEST_F(ProduceE2E, SigtermUnderLoadExitsZeroWithEveryAckedRecordOnDisk) {
  Broker broker(data_, scratch_.path(), {"--io-threads", "2"});
  const std::string addr = broker.WaitListening();
  ASSERT_FALSE(addr.empty()) << broker.errors();

  std::atomic<bool> started{false};
  std::vector<std::set<uint64_t>> acked(3);
  std::vector<std::thread> producers;
  for (int p = 0; p < 3; ++p) {
    producers.emplace_back([&, p] {
      auto c = client::Client::Connect(addr);
      if (!c.ok()) return;
      std::vector<client::PublishRequest> batch(32);
      for (auto& r : batch) r.payload = ToBytes("producer-" + std::to_string(p));
      for (;;) {
        auto results = (*c)->PublishWindow(batch, 32);
        bool broken = false;
        for (const auto& r : results) {
          if (r.ok()) {
            acked[p].insert(r.offset);
            started = true;
          } else {
            broken = true;
          }
        }
        if (broken || (*c)->broken()) return;
      }
    });
  }
  for (int i = 0; i < 2000 && !started; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_TRUE(started.load());
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(broker.Stop(SIGTERM), 0) << broker.errors();
  for (auto& t : producers) t.join();

  const std::vector<uint64_t> dumped = DumpedOffsets(data_, scratch_.path());
  const std::set<uint64_t> on_disk(dumped.begin(), dumped.end());
  size_t total = 0;
  for (const auto& set : acked) {
    total += set.size();
    for (uint64_t offset : set) EXPECT_TRUE(on_disk.count(offset)) << "acked offset " << offset << " missing";
  }
  EXPECT_GT(total, 0u);
  // Offsets are dense: nothing was appended that is not on disk.
  for (uint64_t i = 0; i < dumped.size(); ++i) ASSERT_EQ(dumped[i], i);
}

}  // namespace
}  // namespace ironbus::e2e
