// Spec 7.1: the worst-case formula and the refusal, with the spec's worked numbers.
#include <gtest/gtest.h>

#include "config_test_util.h"

namespace ironbus::config {
namespace {

using testing::ConfigTest;

TEST(RamGuard, EdgeTinyFitsAtFifteenMiB) {
  Config c;
  ApplyProfile(*FindProfile("edge-tiny"), &c);
  const RamEstimate r = EstimateRam(c);
  EXPECT_EQ(r.term1, 8u << 20);   // 32 x 256 KiB
  EXPECT_EQ(r.term3, 1u << 20);   // 64 x 256 x 64
  EXPECT_EQ(r.term5, 6u << 20);   // 4 MiB + 32 x 64 KiB
  EXPECT_EQ(r.worst_case, 15u << 20);
  EXPECT_EQ(r.ceiling, 64u << 20);
  EXPECT_TRUE(r.fits());
}

TEST_F(ConfigTest, EdgeTinyDefaultLoads) {
  const Loaded l = LoadFlags({{"--profile", "edge-tiny"}});
  EXPECT_TRUE(l.ok()) << Joined(l.errors);
}

TEST_F(ConfigTest, EdgeTinyWithMaxConnections1024IsRefusedNamingTheCaps) {
  const Loaded l = LoadFlags({{"--profile", "edge-tiny"}, {"--max-connections", "1024"}});
  ASSERT_FALSE(l.ok());
  ASSERT_EQ(l.errors.size(), 1u) << Joined(l.errors);
  const std::string& e = l.errors[0];
  const RamEstimate r = EstimateRam(l.config);
  EXPECT_EQ(r.worst_case, (256u + 1 + 68) << 20);
  EXPECT_NE(e.find("worst case of " + std::to_string(r.worst_case) + " bytes"), std::string::npos) << e;
  EXPECT_NE(e.find("--ram-ceiling-bytes 67108864"), std::string::npos) << e;
  EXPECT_NE(e.find("by " + std::to_string(r.worst_case - (64u << 20)) + " bytes"), std::string::npos) << e;
  for (const char* cap : {"--max-connections (1024)", "--consumer-credit-bytes (262144)", "--consumer-credit (8)",
                          "--max-groups (64)", "--max-in-flight (256)"}) {
    EXPECT_NE(e.find(cap), std::string::npos) << cap << "\n" << e;
  }
  EXPECT_NE(e.find("docs/config.md"), std::string::npos);
}

TEST_F(ConfigTest, BalancedUnderASixtyFourMiBCeilingIsRefused) {
  const Loaded l = LoadFlags({{"--ram-ceiling-bytes", "67108864"}});
  ASSERT_FALSE(l.ok());
  EXPECT_GE(EstimateRam(l.config).term1, 2ull << 30);  // 256 x 8 MiB
}

TEST_F(ConfigTest, NoByteBudgetWithASmallCeilingIsRefused) {
  const Loaded l = LoadFlags({{"--profile", "edge-tiny"}, {"--consumer-credit-bytes", "0"}});
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(EstimateRam(l.config).per_conn_inflight, 8 * kRamMaxFrameLen);
  EXPECT_NE(l.errors[0].find("--consumer-credit-bytes (0 = unlimited)"), std::string::npos) << l.errors[0];
}

TEST_F(ConfigTest, CeilingOffNeverRefuses) {
  const Loaded l = LoadFlags({{"--profile", "throughput"}, {"--max-connections", "1048576"}});
  EXPECT_TRUE(l.ok()) << Joined(l.errors);
}

TEST(RamGuard, SaturatesInsteadOfWrapping) {
  Config c;
  c.max_connections = UINT64_MAX;
  c.consumer_credit_bytes = UINT64_MAX;
  c.ram_ceiling_bytes = 1;
  const RamEstimate r = EstimateRam(c);
  EXPECT_EQ(r.worst_case, UINT64_MAX);
  EXPECT_FALSE(r.fits());
}

TEST_F(ConfigTest, FileRaisingConnectionsPastTheCeilingIsRefused) {
  const Loaded l = LoadWith("profile = \"edge-tiny\"\n[backpressure]\nmax_connections = 1024\n");
  ASSERT_FALSE(l.ok());
  EXPECT_NE(l.errors[0].find("RAM guard"), std::string::npos);
}

}  // namespace
}  // namespace ironbus::config
