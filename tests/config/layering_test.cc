// Spec 5.1: defaults < profile < file < env < flags, the worked example, and the profile chain.
#include <gtest/gtest.h>

#include "config_test_util.h"

namespace ironbus::config {
namespace {

using testing::ConfigTest;

TEST_F(ConfigTest, NoLayersGiveTheCompiledDefaults) {
  const Loaded l = LoadFlags({});
  ASSERT_TRUE(l.ok()) << Joined(l.errors);
  EXPECT_EQ(l.config, Config{});
  EXPECT_EQ(l.source_of.at("addr"), "default");
}

// The worked example of spec 5.1 (storage.segment_size).
TEST_F(ConfigTest, SegmentSizeWorkedExample) {
  const std::string file = "profile = \"edge-tiny\"\n[storage]\nsegment_size = \"32MiB\"\n";
  EXPECT_EQ(LoadWith(file, {}, {{"--max-segment-bytes", "16777216"}}).config.max_segment_bytes, 16u << 20);
  EXPECT_EQ(LoadWith(file).config.max_segment_bytes, 32u << 20);
  EXPECT_EQ(LoadWith("profile = \"edge-tiny\"\n").config.max_segment_bytes, 8u << 20);
  EXPECT_EQ(LoadFlags({}).config.max_segment_bytes, 64u << 20);
}

TEST_F(ConfigTest, EnvBeatsFileAndFlagBeatsEnv) {
  const std::string file = "[delivery]\nmax_deliver = 7\n";
  Loaded l = LoadWith(file);
  EXPECT_EQ(l.config.max_deliver, 7u);
  EXPECT_NE(l.source_of.at("max_deliver").find("ironbus.toml:2:"), std::string::npos) << l.source_of.at("max_deliver");
  l = LoadWith(file, {{"IRONBUS_MAX_DELIVER", "8"}});
  EXPECT_EQ(l.config.max_deliver, 8u);
  EXPECT_EQ(l.source_of.at("max_deliver"), "env IRONBUS_MAX_DELIVER");
  l = LoadWith(file, {{"IRONBUS_MAX_DELIVER", "8"}}, {{"--max-deliver", "9"}});
  EXPECT_EQ(l.config.max_deliver, 9u);
  EXPECT_EQ(l.source_of.at("max_deliver"), "flag --max-deliver");
}

TEST_F(ConfigTest, FileBeatsProfile) {
  const Loaded l = LoadWith("profile = \"edge-tiny\"\n[backpressure]\nmax_connections = 16\n");
  ASSERT_TRUE(l.ok()) << Joined(l.errors);
  EXPECT_EQ(l.config.max_connections, 16u);
  EXPECT_EQ(l.config.consumer_credit, 8u);  // the rest of the profile still applies
}

TEST_F(ConfigTest, ProfileChainFlagThenEnvThenFile) {
  const std::string file = "profile = \"throughput\"\n";
  EXPECT_EQ(LoadWith(file).config.profile, "throughput");
  EXPECT_EQ(LoadWith(file, {{"IRONBUS_PROFILE", "edge-tiny"}}).config.profile, "edge-tiny");
  EXPECT_EQ(LoadWith(file, {{"IRONBUS_PROFILE", "edge-tiny"}}, {{"--profile", "balanced"}}).config.profile,
            "balanced");
}

TEST_F(ConfigTest, LastFlagWinsAndAliasesShareAKey) {
  const Loaded l = LoadFlags({{"--visibility-timeout-ms", "100"}, {"--visibility-timeout", "200"}});
  ASSERT_TRUE(l.ok()) << Joined(l.errors);
  EXPECT_EQ(l.config.visibility_timeout_ms, 200u);
}

TEST_F(ConfigTest, EnvBooleansListsAndStrictNumbers) {
  Loaded l = LoadWith("", {{"IRONBUS_ASYNC_LOSS_ACK", "1"}, {"IRONBUS_BACKOFF_MS", "100,500,2000"}});
  ASSERT_TRUE(l.ok()) << Joined(l.errors);
  EXPECT_TRUE(l.config.async_loss_ack);
  EXPECT_EQ(l.config.backoff_ms, (std::vector<uint64_t>{100, 500, 2000}));
  l = LoadWith("", {{"IRONBUS_ASYNC_LOSS_ACK", "yes"}});
  ASSERT_FALSE(l.ok());
  EXPECT_NE(l.errors[0].find("IRONBUS_ASYNC_LOSS_ACK"), std::string::npos) << l.errors[0];
  l = LoadWith("", {{"IRONBUS_MAX_DELIVER", "x"}});
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.errors[0], "IRONBUS_MAX_DELIVER needs a non-negative base-10 integer, got \"x\"");
  // No unit suffix outside the file.
  l = LoadFlags({{"--max-segment-bytes", "8MiB"}});
  ASSERT_FALSE(l.ok());
  EXPECT_NE(l.errors[0].find("--max-segment-bytes"), std::string::npos);
  l = LoadFlags({{"--max-deliver", "-1"}});
  EXPECT_FALSE(l.ok());
}

TEST_F(ConfigTest, RepeatableGroupFlagsAccumulate) {
  const Loaded l = LoadFlags({{"--key-shared-group", "a"}, {"--key-shared-group", "b"}, {"--broadcast-group", "c"}});
  ASSERT_TRUE(l.ok()) << Joined(l.errors);
  EXPECT_EQ(l.config.key_shared_groups, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(l.config.broadcast_groups, (std::vector<std::string>{"c"}));
}

TEST_F(ConfigTest, UnrelatedEnvIsIgnored) {
  const Loaded l = LoadWith("", {{"IRONBUS_STARTUP_GRACE_SEC", "30"}});
  EXPECT_TRUE(l.ok()) << Joined(l.errors);
}

TEST_F(ConfigTest, ToOptionsCarryTheValues) {
  const Loaded l = LoadFlags({{"--durability-level", "interval"}, {"--backoff-ms", "0"}, {"--max-deliver", "0"},
                              {"--allow-unlimited-deliver", "true"}, {"--max-retained-bytes", "1000"},
                              {"--visibility-timeout-ms", "400000"}, {"--compression", "none"}});
  ASSERT_TRUE(l.ok()) << Joined(l.errors);
  const storage::LogOptions lo = ToLogOptions(l.config);
  EXPECT_EQ(lo.durability, storage::Durability::kInterval);
  EXPECT_EQ(lo.retention.max_retained_bytes, 1000u);
  EXPECT_EQ(lo.compression, format::Compression::kNone);
  const queue::QueueOptions qo = ToQueueOptions(l.config);
  EXPECT_TRUE(qo.backoff_ms.empty());
  EXPECT_EQ(qo.max_deliver, 0u);
  EXPECT_TRUE(qo.allow_unlimited_deliver);
  EXPECT_EQ(qo.hard_cap_ms, 400000u);
  EXPECT_TRUE(qo.Validate().ok());
}

}  // namespace
}  // namespace ironbus::config
