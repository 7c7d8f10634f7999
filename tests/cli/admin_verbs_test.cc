// info, consumer ls and lag against a real `serve --health-addr 127.0.0.1:0 --enable-admin`:
// human and --json output, the --max-lag breach (exit 3), a broker without --enable-admin
// (404 -> exit 70), an unreachable address (exit 5) and a malformed one (exit 1).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "e2e/e2e_test_util.h"

namespace ironbus::cli {
namespace {

using e2e::Broker;
using e2e::RunResult;

class AdminVerbs : public ::testing::Test {
 protected:
  void StartBroker(bool enable_admin) {
    std::vector<std::string> extra = {"--health-addr", "127.0.0.1:0"};
    if (enable_admin) extra.push_back("--enable-admin");
    broker_ = std::make_unique<Broker>(scratch_.path() + "/data", scratch_.path(), extra);
    addr_ = broker_->WaitListening();
    ASSERT_FALSE(addr_.empty()) << broker_->output() << broker_->errors();
    const std::string out = broker_->output();
    const std::string marker = "ironbus health endpoints on ";
    const size_t at = out.find(marker);
    ASSERT_NE(at, std::string::npos) << out;
    health_ = out.substr(at + marker.size(), out.find(' ', at + marker.size()) - at - marker.size());
  }
  void TearDown() override {
    if (broker_) {
      EXPECT_EQ(broker_->Stop(), 0);
    }
  }
  RunResult Run(const std::string& args) { return e2e::RunIronbus(args, scratch_.path()); }
  void Publish(int n) {
    for (int i = 0; i < n; ++i) ASSERT_EQ(Run("pub --addr " + addr_ + " r" + std::to_string(i)).exit_code, 0);
  }

  io::testing::TempDir scratch_;
  std::unique_ptr<Broker> broker_;
  std::string addr_;
  std::string health_;
};

TEST_F(AdminVerbs, InfoShowsHeadSegmentsDurabilityAndRecovery) {
  StartBroker(true);
  Publish(3);
  RunResult r = Run("info --admin-addr " + health_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("log: head=3 first=0 durable=3 segments="), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("writer: healthy"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("recovery: "), std::string::npos) << r.out;

  r = Run("info --health-addr " + health_ + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_EQ(j["schema"], "ironbus.cli.info.v1");
  EXPECT_EQ(j["log"]["head_offset"], 3);
  EXPECT_EQ(j["log"]["records"], 3);
  EXPECT_EQ(j["log"]["frozen"], false);
  EXPECT_EQ(j["recovery"]["data_loss_bytes"], 0);
  EXPECT_EQ(j["ok"], true);
}

TEST_F(AdminVerbs, ConsumerLsListsEveryGroup) {
  StartBroker(true);
  Publish(2);
  RunResult r = Run("consumer ls --admin-addr " + health_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("(default): mode=competing committed=0 lag=2 in_flight=0"), std::string::npos) << r.out;
  r = Run("consumer ls --admin-addr " + health_ + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_EQ(j["schema"], "ironbus.cli.consumer-ls.v1");
  ASSERT_GE(j["groups"].size(), 1u);
  EXPECT_EQ(j["groups"][0]["name"], "");
  EXPECT_EQ(j["groups"][0]["consumer_lag"], 2);
}

TEST_F(AdminVerbs, LagOverMaxLagIsExit3) {
  StartBroker(true);
  Publish(3);
  RunResult r = Run("lag --admin-addr " + health_ + " --max-lag 3");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("(default): lag=3"), std::string::npos) << r.out;
  r = Run("lag --admin-addr " + health_ + " --max-lag 2 --json");
  EXPECT_EQ(r.exit_code, 3) << r.err;
  const auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_EQ(j["schema"], "ironbus.cli.lag.v1");
  EXPECT_EQ(j["ok"], false);
  EXPECT_EQ(j["exit_code"], 3);
  EXPECT_EQ(j["breached"], nlohmann::json::array({""}));
  EXPECT_EQ(Run("consumer lag --admin-addr " + health_ + " --group \"\" --max-lag 2").exit_code, 3);
  EXPECT_EQ(Run("lag --admin-addr " + health_ + " --group no-such-group").exit_code, 70);
  EXPECT_EQ(Run("lag --admin-addr " + health_).exit_code, 0) << "no --max-lag, no breach";
}

TEST_F(AdminVerbs, WithoutEnableAdminIsExit70AndSaysWhy) {
  StartBroker(false);
  RunResult r = Run("info --admin-addr " + health_ + " --json");
  EXPECT_EQ(r.exit_code, 70);
  EXPECT_NE(r.err.find("--enable-admin"), std::string::npos) << r.err;
  const auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_EQ(j["error"]["detail"]["http_status"], 404);
}

TEST_F(AdminVerbs, UnreachableIs5AndMalformedAddressIs1) {
  RunResult r = Run("lag --admin-addr 127.0.0.1:1 --json");
  EXPECT_EQ(r.exit_code, 5) << r.err;
  const auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_EQ(j["error"]["kind"], "unreachable");
  EXPECT_EQ(Run("info --admin-addr nonsense").exit_code, 1);
  EXPECT_EQ(Run("consumer ls").exit_code, 1) << "--admin-addr is required";
}

}  // namespace
}  // namespace ironbus::cli
