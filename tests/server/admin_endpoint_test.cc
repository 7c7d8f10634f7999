// GET /admin (--enable-admin) over a real in-process broker: 404 when admin is off, the v1 JSON
// with the log, recovery summary and per-group rows when on, lag = head - committed, the
// frozen cause, the Accept version pin (406) and 405 for POST; plus AdminJson on a hand-made
// snapshot.
#include "server/admin.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "client/client.h"
#include "server/broker_test_util.h"
#include "server/health_server.h"
#include "server/http_test_util.h"

namespace ironbus::server {
namespace {

using testing::BrokerHarness;
using testing::HttpConn;
using testing::HttpGet;

struct AdminBroker {
  explicit AdminBroker(bool enable_admin) {
    sources.log = &h.log();
    sources.broker = &h.broker();
    sources.groups = &h.groups();
    sources.version = "test";
    HealthOptions options;
    options.enable_admin = enable_admin;
    auto started = HealthServer::Start(options, HealthSources{[this] { return CollectMetrics(sources); }});
    EXPECT_TRUE(started.ok()) << started.status().ToString();
    if (started.ok()) health = std::move(*started);
  }
  nlohmann::json Admin() {
    const auto r = HttpGet(health->port(), "/admin");
    EXPECT_EQ(r.status, 200) << r.head << r.body;
    EXPECT_NE(r.head.find("Content-Type: application/json"), std::string::npos) << r.head;
    return nlohmann::json::parse(r.body, nullptr, false);
  }
  BrokerHarness h;
  MetricsSources sources;
  std::unique_ptr<HealthServer> health;
};

testing::HttpReply GetWithAccept(uint16_t port, const std::string& accept) {
  HttpConn c(port);
  if (!c.Send("GET /admin HTTP/1.1\r\nHost: localhost\r\nAccept: " + accept + "\r\n\r\n")) return {};
  return c.Reply();
}

TEST(AdminEndpoint, WithoutEnableAdminIs404LikeAnUnknownPath) {
  AdminBroker b(false);
  ASSERT_NE(b.health, nullptr);
  const auto r = HttpGet(b.health->port(), "/admin");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, HttpGet(b.health->port(), "/nope").body);
  EXPECT_EQ(HttpGet(b.health->port(), "/admin", "POST").status, 405);
}

TEST(AdminEndpoint, ServesLogRecoveryAndPerGroupLagOfALiveBroker) {
  AdminBroker b(true);
  ASSERT_NE(b.health, nullptr);
  auto client = client::Client::Connect(b.h.addr());
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  for (int i = 0; i < 3; ++i) {
    client::PublishRequest req;
    req.payload = ToBytes("r" + std::to_string(i));
    ASSERT_TRUE((*client)->Publish(req).ok());
  }
  const nlohmann::json j = b.Admin();
  ASSERT_FALSE(j.is_discarded());
  EXPECT_EQ(j["schema_version"], 1);
  EXPECT_EQ(j["log"]["head_offset"], 3) << j.dump();
  EXPECT_EQ(j["log"]["durable_offset"], 3);
  EXPECT_EQ(j["log"]["first_offset"], 0);
  EXPECT_GE(j["log"]["segments"].get<uint64_t>(), 1u);
  EXPECT_EQ(j["log"]["records"], 3);
  EXPECT_GT(j["log"]["bytes"].get<uint64_t>(), 0u);
  EXPECT_EQ(j["log"]["frozen"], false);
  EXPECT_TRUE(j["log"].contains("durability"));
  EXPECT_EQ(j["recovery"]["data_loss_bytes"], 0);
  EXPECT_EQ(j["recovery"]["last_skip_offset"], -1);
  ASSERT_GE(j["consumers"].size(), 1u);
  const auto& def = j["consumers"][0];
  EXPECT_EQ(def["name"], "");
  EXPECT_EQ(def["mode"], "competing");
  EXPECT_EQ(def["committed_offset"], 0);
  EXPECT_EQ(def["consumer_lag"], 3) << "lag = head - committed";
  EXPECT_EQ(def["in_flight"], 0);
  EXPECT_TRUE(def.contains("members") && def.contains("dead_lettered") && def.contains("redelivered"));
  EXPECT_EQ(j["groups"], j["consumers"]) << "spec 6.3: groups is a copy of consumers";
  EXPECT_EQ(j["broker"]["consumer_lag"], 3);
  EXPECT_EQ(HttpGet(b.health->port(), "/admin", "POST").status, 405) << "method before path";
}

TEST(AdminEndpoint, FrozenLogShowsTheCause) {
  AdminBroker b(true);
  ASSERT_NE(b.health, nullptr);
  auto client = client::Client::Connect(b.h.addr());
  ASSERT_TRUE(client.ok());
  client::PublishRequest req;
  req.payload = ToBytes("x");
  b.h.fs().FailNextSync();
  EXPECT_FALSE((*client)->Publish(req).ok());
  ASSERT_TRUE(b.h.log().frozen());
  const nlohmann::json j = b.Admin();
  EXPECT_EQ(j["log"]["frozen"], true);
  EXPECT_FALSE(j["log"]["frozen_reason"].get<std::string>().empty()) << j.dump();
  EXPECT_EQ(j["broker"]["healthy"], false);
}

TEST(AdminEndpoint, AcceptPinsVersionOne) {
  AdminBroker b(true);
  ASSERT_NE(b.health, nullptr);
  EXPECT_EQ(GetWithAccept(b.health->port(), std::string(kAdminMediaTypeV1)).status, 200);
  EXPECT_EQ(GetWithAccept(b.health->port(), "*/*").status, 200);
  EXPECT_EQ(GetWithAccept(b.health->port(), "application/vnd.ironbus.admin.v2+json").status, 406);
}

TEST(AdminJson, LagModeAndDlqFromASnapshot) {
  MetricsSnapshot s;
  s.log.durable_offset = 10;
  s.log.first_offset = 4;
  s.writer_healthy = false;
  s.frozen_reason = "fsync failed";
  s.loss.truncated_bytes = 7;
  GroupMetrics a;
  a.name = "";
  a.mode = "competing";
  a.committed_offset = 10;
  a.lag = 0;
  GroupMetrics b;
  b.name = "orders";
  b.mode = "key_shared";
  b.committed_offset = 6;
  b.lag = 4;
  b.in_flight = 2;
  b.dead_lettered = 1;
  b.last_dead_lettered_offset = 5;
  s.groups = {a, b};
  const nlohmann::json j = AdminJson(s);
  EXPECT_EQ(j["log"]["head_offset"], 10);
  EXPECT_EQ(j["segments"]["earliest_retained_offset"], 4);
  EXPECT_EQ(j["log"]["frozen_reason"], "fsync failed");
  EXPECT_EQ(j["resilience"]["recovery_truncated_bytes"], 7);
  EXPECT_EQ(j["consumers"][1]["name"], "orders");
  EXPECT_EQ(j["consumers"][1]["mode"], "key_shared");
  EXPECT_EQ(j["consumers"][1]["consumer_lag"], 4);
  EXPECT_EQ(j["consumers"][1]["in_flight"], 2);
  EXPECT_EQ(j["dlq"]["last_dead_lettered_offset"], 5);
  EXPECT_EQ(j["broker"]["dead_lettered"], 1);
  EXPECT_TRUE(AdminAcceptable("GET /admin HTTP/1.1\r\nAccept: application/vnd.ironbus.admin.v1+json"));
  EXPECT_FALSE(AdminAcceptable("GET /admin HTTP/1.1\r\nAccept: application/vnd.IronBus.admin.v3+json"));
}

}  // namespace
}  // namespace ironbus::server
