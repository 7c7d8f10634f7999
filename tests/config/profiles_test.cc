// Spec 5.4: every cell of the profile table against the code, and the defaults equal balanced.
#include <gtest/gtest.h>

#include "config/config.h"
#include "config_test_util.h"
#include "protocol/wire_format.h"

namespace ironbus::config {
namespace {

using testing::ConfigTest;

TEST(Profiles, SchemaVersionIsOne) { EXPECT_EQ(kProfileSchemaVersion, 1); }

TEST(Profiles, EdgeTinyCells) {
  const Profile* p = FindProfile("edge-tiny");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->max_segment_bytes, 8388608u);
  EXPECT_EQ(p->consumer_credit, 8u);
  EXPECT_EQ(p->consumer_credit_bytes, 262144u);
  EXPECT_EQ(p->max_connections, 32u);
  EXPECT_EQ(p->max_groups, 64u);
  EXPECT_EQ(p->max_in_flight, 256u);
  EXPECT_EQ(p->disk_full_policy, "drop-new");
  EXPECT_EQ(p->checkpoint_interval, 1024u);
  EXPECT_EQ(p->visibility_timeout_ms, 30000u);
  EXPECT_EQ(p->max_deliver, 5u);
  EXPECT_EQ(p->ram_ceiling_bytes, 67108864u);
}

TEST(Profiles, BalancedCells) {
  const Profile* p = FindProfile("balanced");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->max_segment_bytes, 67108864u);
  EXPECT_EQ(p->consumer_credit, 64u);
  EXPECT_EQ(p->consumer_credit_bytes, 8388608u);
  EXPECT_EQ(p->max_connections, 256u);
  EXPECT_EQ(p->max_groups, 1024u);
  EXPECT_EQ(p->max_in_flight, 1024u);
  EXPECT_EQ(p->disk_full_policy, "drop-new");
  EXPECT_EQ(p->checkpoint_interval, 1024u);
  EXPECT_EQ(p->visibility_timeout_ms, 30000u);
  EXPECT_EQ(p->max_deliver, 5u);
  EXPECT_EQ(p->ram_ceiling_bytes, 0u);
}

TEST(Profiles, ThroughputCells) {
  const Profile* p = FindProfile("throughput");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->max_segment_bytes, 268435456u);
  EXPECT_EQ(p->consumer_credit, 512u);
  EXPECT_EQ(p->consumer_credit_bytes, 67108864u);
  EXPECT_EQ(p->max_connections, 1024u);
  EXPECT_EQ(p->max_groups, 4096u);
  EXPECT_EQ(p->max_in_flight, 8192u);
  EXPECT_EQ(p->disk_full_policy, "drop-oldest");
  EXPECT_EQ(p->checkpoint_interval, 4096u);
  EXPECT_EQ(p->visibility_timeout_ms, 30000u);
  EXPECT_EQ(p->max_deliver, 5u);
  EXPECT_EQ(p->ram_ceiling_bytes, 0u);
}

TEST(Profiles, CompiledDefaultsAreExactlyBalanced) {
  Config balanced;
  ApplyProfile(*FindProfile("balanced"), &balanced);
  EXPECT_EQ(balanced, Config{});
}

TEST_F(ConfigTest, ProfilePresetIsApplied) {
  const Loaded l = LoadFlags({{"--profile", "throughput"}});
  ASSERT_TRUE(l.ok()) << Joined(l.errors);
  EXPECT_EQ(l.config.profile, "throughput");
  EXPECT_EQ(l.config.max_segment_bytes, 268435456u);
  EXPECT_EQ(l.config.disk_full_policy, "drop-oldest");
  EXPECT_EQ(l.source_of.at("max_in_flight"), "profile throughput");
  // A profile never sets durability, retention or addresses.
  EXPECT_EQ(l.config.durability_level, "sync");
  EXPECT_EQ(l.config.max_retained_bytes, 0u);
  EXPECT_EQ(l.config.addr, "127.0.0.1:7777");
  // drop-oldest without a byte cap could never trigger (spec 5.5), but the free-disk watermark
  // (min_free_bytes, on by default) triggers it: no warning.
  EXPECT_EQ(Joined(l.warnings).find("can never trigger"), std::string::npos);
}

TEST_F(ConfigTest, UnknownProfileIsRefused) {
  const Loaded l = LoadFlags({{"--profile", "tiny"}});
  ASSERT_FALSE(l.ok());
  EXPECT_NE(l.errors[0].find("unknown profile \"tiny\""), std::string::npos) << l.errors[0];
}

TEST(Keys, EnvNamesFollowTheFlagRule) {
  // IRONBUS_ + the flag without "--", upper-cased, '-' -> '_' (spec 5.2).
  for (const KeySpec& k : Keys()) {
    if (k.env.empty()) continue;
    std::string expected = "IRONBUS_";
    for (char c : k.flag.substr(2)) expected += c == '-' ? '_' : static_cast<char>(std::toupper(c));
    EXPECT_EQ(k.env, expected) << k.flag;
    std::string name;
    for (char c : k.flag.substr(2)) name += c == '-' ? '_' : c;
    EXPECT_EQ(k.name, name);
  }
}

TEST(Keys, RamGuardFrameLenIsTheWireCap) { EXPECT_EQ(kRamMaxFrameLen, protocol::kMaxFrameLen); }

}  // namespace
}  // namespace ironbus::config
