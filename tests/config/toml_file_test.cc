// Spec 5.3: the TOML file layer: units, types, unknown keys with did-you-mean and line numbers,
// reserved sections, missing and broken files.
#include <gtest/gtest.h>

#include "config_test_util.h"

namespace ironbus::config {
namespace {

using testing::ConfigTest;

TEST_F(ConfigTest, SpecExampleFileValidates) {
  const Loaded l = LoadWith(R"(profile = "edge-tiny"

[storage]
data_dir = "/var/lib/ironbus"
max_total_bytes = "256MiB"

[retention]
max_retained_bytes = "128MiB"

[delivery]
visibility_timeout_ms = "30s"
backoff_ms = [100, 500, 2000, 10000, 30000]

[network]
listen = "127.0.0.1:7777"
health_addr = "127.0.0.1:9090"
enable_admin = true
)");
  ASSERT_TRUE(l.ok()) << Joined(l.errors);
  EXPECT_EQ(l.config.max_total_bytes, 256u << 20);
  EXPECT_EQ(l.config.max_retained_bytes, 128u << 20);
  EXPECT_EQ(l.config.visibility_timeout_ms, 30000u);
  EXPECT_EQ(l.config.data_dir, "/var/lib/ironbus");
  EXPECT_TRUE(l.config.enable_admin);
}

TEST_F(ConfigTest, SizeAndDurationUnits) {
  const Loaded l = LoadWith(
      "[storage]\nsegment_size = \"1GiB\"\n[retention]\nmax_age_ms = \"2d\"\nmax_retained_bytes = \"3KiB\"\n"
      "[durability]\nflush_interval_ms = \"2m\"\nflush_max_bytes = \"7B\"\n[delivery]\ndedup_window_ms = \"1h\"\n");
  ASSERT_TRUE(l.ok()) << Joined(l.errors);
  EXPECT_EQ(l.config.max_segment_bytes, 1u << 30);
  EXPECT_EQ(l.config.max_age_ms, 2u * 86400000);
  EXPECT_EQ(l.config.max_retained_bytes, 3072u);
  EXPECT_EQ(l.config.flush_interval_ms, 120000u);
  EXPECT_EQ(l.config.flush_max_bytes, 7u);
  EXPECT_EQ(l.config.dedup_window_ms, 3600000u);
}

TEST_F(ConfigTest, SiUnitsFractionsAndOverflowAreRefused) {
  for (const char* bad : {"\"64MB\"", "\"1.5GiB\"", "\"MiB\"", "\"99999999999TiB\"", "\"64 MiB\""}) {
    const Loaded l = LoadWith(std::string("\n[storage]\nsegment_size = ") + bad + "\n");
    ASSERT_FALSE(l.ok()) << bad;
    EXPECT_NE(l.errors[0].find("ironbus.toml:3:"), std::string::npos) << l.errors[0];
    EXPECT_NE(l.errors[0].find("config key `storage.segment_size`"), std::string::npos) << l.errors[0];
    EXPECT_NE(l.errors[0].find("hint:"), std::string::npos) << l.errors[0];
  }
}

TEST_F(ConfigTest, WrongTypeNamesKeyLineAndExpectation) {
  Loaded l = LoadWith("[delivery]\n\nmax_deliver = \"5\"\n");
  ASSERT_FALSE(l.ok());
  EXPECT_NE(l.errors[0].find("ironbus.toml:3:15: config key `delivery.max_deliver`: expected a non-negative integer"),
            std::string::npos)
      << l.errors[0];
  l = LoadWith("[network]\nenable_admin = \"yes\"\n");
  ASSERT_FALSE(l.ok());
  EXPECT_NE(l.errors[0].find("expected a boolean"), std::string::npos) << l.errors[0];
  l = LoadWith("[delivery]\nbackoff_ms = \"100,200\"\n");
  ASSERT_FALSE(l.ok());
  EXPECT_NE(l.errors[0].find("integer array"), std::string::npos) << l.errors[0];
  l = LoadWith("[durability]\nlevel = \"fast\"\n");
  ASSERT_FALSE(l.ok());
  EXPECT_NE(l.errors[0].find("must be one of sync|interval|async|none"), std::string::npos) << l.errors[0];
}

TEST_F(ConfigTest, NegativeSizeIsRefused) {
  const Loaded l = LoadWith("[retention]\nmax_retained_bytes = -1\n");
  ASSERT_FALSE(l.ok());
  EXPECT_NE(l.errors[0].find("ironbus.toml:2:"), std::string::npos) << l.errors[0];
  EXPECT_NE(l.errors[0].find("must not be negative"), std::string::npos) << l.errors[0];
}

TEST_F(ConfigTest, UnknownKeysAreAllReportedWithDidYouMean) {
  const Loaded l = LoadWith("[delivery]\nmax_delivr = 3\n[storage]\nsegment_sise = 4096\n[bogus]\nx = 1\n");
  ASSERT_EQ(l.errors.size(), 3u) << Joined(l.errors);
  const std::string all = Joined(l.errors);
  EXPECT_NE(all.find("ironbus.toml:2:14: unknown config key `delivery.max_delivr` (hint: did you mean "
                     "`delivery.max_deliver`?)"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("ironbus.toml:4:"), std::string::npos) << all;
  EXPECT_NE(all.find("`storage.segment_size`"), std::string::npos) << all;
  EXPECT_NE(all.find("unknown config key `bogus`"), std::string::npos) << all;
}

TEST_F(ConfigTest, MisplacedKeySuggestsItsSection) {
  const Loaded l = LoadWith("max_deliver = 3\n");
  ASSERT_FALSE(l.ok());
  EXPECT_NE(l.errors[0].find("did you mean `delivery.max_deliver`"), std::string::npos) << l.errors[0];
}

TEST_F(ConfigTest, AllowUnknownConfigDowngradesToWarnings) {
  Inputs in;
  in.config_path = WriteFile("[delivery]\nmax_delivr = 3\nmax_deliver = 4\n");
  in.allow_unknown_config = true;
  const Loaded l = Load(in);
  ASSERT_TRUE(l.ok()) << Joined(l.errors);
  EXPECT_EQ(l.config.max_deliver, 4u);
  EXPECT_EQ(l.warnings[0].rfind("ignoring ", 0), 0u) << Joined(l.warnings);
  EXPECT_NE(l.warnings[0].find("ironbus.toml:2:14: unknown config key `delivery.max_delivr`"), std::string::npos);
  EXPECT_NE(Joined(l.warnings).find("(--allow-unknown-config)"), std::string::npos);
}

TEST_F(ConfigTest, ReservedSectionsWarnOncePerSection) {
  const Loaded l = LoadWith("[observability]\na = 1\nb = 2\n[compression]\n");
  ASSERT_TRUE(l.ok()) << Joined(l.errors);
  ASSERT_EQ(l.warnings.size(), 1u) << Joined(l.warnings);  // the empty [compression] says nothing
  EXPECT_NE(Joined(l.warnings).find("ironbus.toml:1:1: section [observability] is reserved"), std::string::npos)
      << Joined(l.warnings);
}

TEST_F(ConfigTest, FlagOnlyKnobsHaveNoFileKey) {
  // Consents and the backend stay on the command line (spec 5.1).
  for (const char* key : {"storage", "ephemeral_loss_ack", "commit_gather_us", "compression"}) {
    const Loaded l = LoadWith(std::string("[storage]\n") + key + " = 1\n");
    EXPECT_FALSE(l.ok()) << key;
  }
}

TEST_F(ConfigTest, BrokenTomlNamesLineAndColumn) {
  const Loaded l = LoadWith("[storage]\nsegment_size = 4096\nmax_total_bytes = = 1\n");
  ASSERT_FALSE(l.ok());
  EXPECT_NE(l.errors[0].find("ironbus.toml:3:"), std::string::npos) << l.errors[0];
  EXPECT_NE(l.errors[0].find("not valid TOML"), std::string::npos) << l.errors[0];
}

TEST_F(ConfigTest, MissingFileIsAnErrorNamingThePath) {
  Inputs in;
  in.config_path = dir_.path() + "/nope.toml";
  const Loaded l = Load(in);
  ASSERT_FALSE(l.ok());
  EXPECT_NE(l.errors[0].find(in.config_path), std::string::npos);
  EXPECT_NE(l.errors[0].find("cannot read"), std::string::npos);
}

TEST_F(ConfigTest, ProfileKeyMustBeAString) {
  const Loaded l = LoadWith("profile = 3\n");
  ASSERT_FALSE(l.ok());
  EXPECT_NE(l.errors[0].find("ironbus.toml:1:"), std::string::npos) << l.errors[0];
}

TEST_F(ConfigTest, CharactersTheTomlParserMishandlesAreRefusedWithTheirPositionNotParsed) {
  // U+03B4 in a table name, U+FE7F in a comment, U+00E9 in a value: toml++ 3.3.0 reaches
  // __builtin_unreachable() on these (fuzz/config_fuzz found it); each is a clear error.
  for (const std::string& text : {std::string("[re\xce\xb4t]\n"), std::string("# \xef\xb9\xbf\n[storage]\n"),
                                 std::string("[storage]\ndata_dir = \"/caf\xc3\xa9\"\n")}) {
    const Loaded l = LoadWith(text);
    ASSERT_FALSE(l.ok()) << text;
    EXPECT_NE(l.errors[0].find("is not accepted in a config file"), std::string::npos) << l.errors[0];
    EXPECT_NE(l.errors[0].find("ironbus.toml:"), std::string::npos) << l.errors[0];
  }
  // Other non-ASCII text inside strings and comments is fine.
  EXPECT_TRUE(LoadWith("# \xe2\x9c\x93 ok\n[storage]\ndata_dir = \"/data/\xe2\x9c\x93\"\n").ok());
}

// [auth] is a real section now (spec/security.md): its keys load, a typo is an error.
TEST_F(ConfigTest, AuthSectionKeys) {
  const Loaded l = LoadWith(
      "[auth]\nconfig = \"/etc/ironbus/auth.toml\"\naudit_log = \"@/var/log/ironbus-audit.jsonl\"\n"
      "max_preauth_connections = 64\nfailure_lockout = 3\nmax_concurrent_password_verifies = 1\n");
  ASSERT_TRUE(l.ok()) << Joined(l.errors);
  EXPECT_EQ(l.config.auth_config, "/etc/ironbus/auth.toml");
  EXPECT_EQ(l.config.audit_log, "@/var/log/ironbus-audit.jsonl");
  EXPECT_EQ(l.config.max_preauth_connections, 64u);
  EXPECT_EQ(l.config.auth_failure_lockout, 3u);
  EXPECT_EQ(l.config.max_concurrent_password_verifies, 1u);
  const Loaded typo = LoadWith("[auth]\nconfg = \"/x\"\n");
  ASSERT_FALSE(typo.ok());
  EXPECT_NE(Joined(typo.errors).find("unknown config key `auth.confg`"), std::string::npos) << Joined(typo.errors);
}

// [network.tls] is the one nested table (spec/cli-config-ops.md 5.3, spec/security.md 1.1).
TEST_F(ConfigTest, NetworkTlsIsANestedTable) {
  const Loaded l = LoadWith(
      "[network]\nlisten = \"127.0.0.1:7777\"\nhandshake_timeout_ms = \"5s\"\n\n[network.tls]\n"
      "cert = \"/etc/ironbus/broker.pem\"\nkey = \"/etc/ironbus/broker.key\"\nclient_ca = \"/etc/ironbus/ca.pem\"\n"
      "[auth]\nconfig = \"/etc/ironbus/auth.toml\"\n");
  ASSERT_TRUE(l.ok()) << Joined(l.errors);
  EXPECT_EQ(l.config.tls_cert, "/etc/ironbus/broker.pem");
  EXPECT_EQ(l.config.tls_key, "/etc/ironbus/broker.key");
  EXPECT_EQ(l.config.tls_client_ca, "/etc/ironbus/ca.pem");
  EXPECT_EQ(l.config.handshake_timeout_ms, 5000u);
  const Loaded typo = LoadWith("[network.tls]\ncert = \"/c.pem\"\nkey = \"/c.key\"\nclient_cert = \"/x\"\n");
  ASSERT_FALSE(typo.ok());
  EXPECT_NE(Joined(typo.errors).find("ironbus.toml:4:15: unknown config key `network.tls.client_cert`"), std::string::npos)
      << Joined(typo.errors);
}

}  // namespace
}  // namespace ironbus::config
