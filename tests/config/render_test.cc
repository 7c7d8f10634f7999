// The materialized-config line (spec 2.2), the JSON dump and the reload diff (spec 5.6).
#include <gtest/gtest.h>

#include "config_test_util.h"

namespace ironbus::config {
namespace {

using testing::ConfigTest;

TEST(Render, MaterializedLineCarriesTheRequiredKeysInOrder) {
  const std::string line = MaterializedLine(Config{});
  EXPECT_EQ(line.rfind("materialized-config profile=balanced profile_schema_version=1 data_dir=", 0), 0u) << line;
  for (const char* kv : {" durability_level=sync", " power_loss_safe=true", " compression=lz4",
                         " enable_admin=false", " ram_ceiling_bytes=0", " max_connections=256",
                         " max_segment_bytes=67108864"}) {
    EXPECT_NE(line.find(kv), std::string::npos) << kv;
  }
  EXPECT_EQ(line.substr(line.size() - 13), " storage=disk");
  EXPECT_LT(line.find(" addr="), line.find(" max_segment_bytes="));
  EXPECT_LT(line.find(" max_segment_bytes="), line.find(" durability_level="));
}

TEST(Render, JsonHasEveryKey) {
  const std::string json = ToJson(Config{});
  for (const KeySpec& k : Keys()) {
    EXPECT_NE(json.find("\"" + std::string(k.name) + "\":"), std::string::npos) << k.name;
  }
  EXPECT_NE(json.find("\"backoff_ms\":[100,500,2000,10000,30000]"), std::string::npos) << json;
  Config c;
  c.data_dir = "a\"b\\c";
  EXPECT_NE(ToJson(c).find("\"data_dir\":\"a\\\"b\\\\c\""), std::string::npos) << ToJson(c);
}

TEST(Render, DiffClassifiesEachKey) {
  Config a;
  Config b = a;
  EXPECT_TRUE(Diff(a, b).empty());
  b.max_retained_bytes = 5;
  b.max_deliver = 7;
  b.max_segment_bytes = 8192;
  const std::vector<Change> changes = Diff(a, b);
  ASSERT_EQ(changes.size(), 3u);
  EXPECT_EQ(changes[0].key->name, "max_segment_bytes");
  EXPECT_EQ(changes[0].key->reload, Reload::kCold);
  EXPECT_EQ(changes[0].from, "67108864");
  EXPECT_EQ(changes[0].to, "8192");
  EXPECT_EQ(changes[1].key->name, "max_retained_bytes");
  EXPECT_EQ(changes[1].key->reload, Reload::kLive);
  EXPECT_EQ(changes[2].key->name, "max_deliver");
  EXPECT_EQ(changes[2].key->reload, Reload::kHot);
  b = a;
  b.profile = "edge-tiny";
  ASSERT_EQ(Diff(a, b).size(), 1u);
  EXPECT_EQ(Diff(a, b)[0].key->reload, Reload::kCold);
}

TEST(Render, LiveKeysAreTheSpecsSubset) {
  std::vector<std::string> live;
  for (const KeySpec& k : Keys()) {
    if (k.reload == Reload::kLive) live.emplace_back(k.file_key);
  }
  // The spec's live subset (5.6) plus the capacity keys this build applies live too
  // (docs/config.md "Reload on SIGHUP"; tests/cli/config_verbs_test.cc SighupAppliesTheByteCapAndDiskFullPolicyLive).
  EXPECT_EQ(live, (std::vector<std::string>{"storage.max_total_bytes", "backpressure.disk_full_policy",
                                            "storage.min_free_bytes", "backpressure.block_timeout_ms",
                                            "retention.max_retained_bytes", "retention.max_age_ms",
                                            "retention.max_messages"}));
}

}  // namespace
}  // namespace ironbus::config
