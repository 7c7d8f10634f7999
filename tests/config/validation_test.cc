// Spec 4.9 and 5.5: every whole-config rule, each named by the knob that broke it.
#include <gtest/gtest.h>

#include "config_test_util.h"

namespace ironbus::config {
namespace {

using testing::ConfigTest;
using Flags = std::vector<std::pair<std::string, std::string>>;

class Validation : public ConfigTest {
 protected:
  // Expects the flags to be refused with an error containing `needle`.
  void ExpectError(Flags flags, const std::string& needle) {
    const Loaded l = LoadFlags(flags);
    ASSERT_FALSE(l.ok()) << needle;
    EXPECT_NE(Joined(l.errors).find(needle), std::string::npos) << Joined(l.errors);
  }
  void ExpectOk(Flags flags) {
    const Loaded l = LoadFlags(flags);
    EXPECT_TRUE(l.ok()) << Joined(l.errors);
  }
};

TEST_F(Validation, AtLeastOneKnobs) {
  ExpectError({{"--max-connections", "0"}}, "--max-connections must be in 1..");
  ExpectError({{"--consumer-credit", "0"}}, "--consumer-credit must be in 1..");
  ExpectError({{"--max-in-flight", "0"}}, "--max-in-flight must be in 1..");
  ExpectError({{"--visibility-timeout-ms", "0"}}, "--visibility-timeout-ms must be in 1..");
  ExpectError({{"--io-threads", "0"}}, "--io-threads must be in 1..64");
  ExpectError({{"--retry-budget-window-ms", "0"}}, "--retry-budget-window-ms");
  ExpectError({{"--commit-gather-us", "1000001"}}, "--commit-gather-us");
}

TEST_F(Validation, SegmentSize) {
  ExpectError({{"--max-segment-bytes", "4095"}}, "--max-segment-bytes must be in 4096..");
  ExpectOk({{"--max-segment-bytes", "4096"}});
}

TEST_F(Validation, EnumsAreChecked) {
  ExpectError({{"--durability-level", "fast"}}, "--durability-level must be one of");
  ExpectError({{"--disk-full-policy", "wait"}}, "--disk-full-policy must be one of drop-new|drop-oldest|block");
  ExpectOk({{"--disk-full-policy", "block"}});  // opt-in (docs/config.md "Disk full")
  ExpectError({{"--storage", "tape"}}, "--storage must be one of disk|memory");
  ExpectError({{"--compression", "zstd"}}, "--compression zstd is not built");
  ExpectError({{"--io-mode", "direct"}}, "--io-mode direct is not built");
}

TEST_F(Validation, UnlimitedDeliverNeedsConsent) {
  ExpectError({{"--max-deliver", "0"}}, "pass --allow-unlimited-deliver");
  ExpectError({{"--max-deliver", "4294967295"}}, "pass --allow-unlimited-deliver");
  ExpectError({{"--max-deliver", "4294967296"}}, "at most 4294967294");
  const Loaded l = LoadFlags({{"--max-deliver", "0"}, {"--allow-unlimited-deliver", "true"}});
  ASSERT_TRUE(l.ok()) << Joined(l.errors);
  EXPECT_NE(Joined(l.warnings).find("unlimited delivery"), std::string::npos);
}

TEST_F(Validation, RelaxedDurabilityNeedsLossAck) {
  for (const char* level : {"async", "none"}) {
    ExpectError({{"--durability-level", level}}, "pass --async-loss-ack");
    const Loaded l = LoadFlags({{"--durability-level", level}, {"--async-loss-ack", "true"}});
    ASSERT_TRUE(l.ok()) << Joined(l.errors);
    EXPECT_NE(Joined(l.warnings).find("can be lost on a power cut"), std::string::npos);
  }
  ExpectError({{"--durability-level", "interval"}, {"--flush-interval-ms", "0"}, {"--flush-max-bytes", "0"}},
              "never syncs");
  ExpectOk({{"--durability-level", "interval"}, {"--flush-interval-ms", "0"}});
}

TEST_F(Validation, MemoryStorageConsents) {
  ExpectError({{"--storage", "memory"}}, "needs --ephemeral-loss-ack");
  ExpectError({{"--storage", "memory"}}, "needs --max-total-bytes > 0");
  ExpectError({{"--storage", "memory"}, {"--data-dir", "/tmp/x"}}, "a data dir is set");
  // Every consent given: still refused, the backend is not built yet.
  ExpectError({{"--storage", "memory"}, {"--ephemeral-loss-ack", "true"}, {"--max-total-bytes", "1048576"}},
              "not built");
}

TEST_F(Validation, LoadSheddingKnobsAreRefusedWhenEnabled) {
  for (const char* flag : {"--codel-target-ms", "--retry-budget-ratio-ppm", "--fire-and-forget-msg-rate",
                           "--fire-and-forget-byte-rate", "--egress-limit", "--wal-fsync-headroom-bytes"}) {
    ExpectError({{flag, "5"}}, std::string(flag) + " 5: this load-shedding feature is not built");
  }
  ExpectError({{"--retry-budget-ratio-ppm", "1000001"}}, "--retry-budget-ratio-ppm must be in 0..1000000");
  ExpectOk({{"--codel-interval-ms", "50"}, {"--fire-and-forget-refill-ms", "10"}});
}

TEST_F(Validation, Groups) {
  ExpectError({{"--broadcast-group", ""}}, "default group cannot be a broadcast group");
  ExpectError({{"--broadcast-group", "a"}, {"--key-shared-group", "a"}}, "both key_shared and broadcast");
  ExpectError({{"--key-shared-group", "bad name"}}, "ERR_INVALID_GROUP_NAME");
  ExpectError({{"--max-groups", "1"}, {"--key-shared-group", "a"}, {"--broadcast-group", "b"}},
              "more than --max-groups 1");
  ExpectOk({{"--max-groups", "0"}, {"--key-shared-group", "a"}, {"--broadcast-group", "b"}});
}

TEST_F(Validation, Addresses) {
  ExpectError({{"--addr", "0.0.0.0:7777"}}, "plaintext is never allowed off loopback");
  ExpectError({{"--addr", "127.0.0.1"}}, "--addr needs host:port");
  ExpectError({{"--addr", "127.0.0.1:70000"}}, "port in 0..65535");
  ExpectOk({{"--addr", "localhost:0"}});
  ExpectError({{"--health-addr", "10.0.0.1:9090"}}, "pass --health-allow-public");
  ExpectOk({{"--health-addr", "10.0.0.1:9090"}, {"--health-allow-public", "true"}});
  const Loaded l = LoadFlags({{"--enable-admin", "true"}});
  ASSERT_TRUE(l.ok());
  EXPECT_NE(Joined(l.warnings).find("--enable-admin has no effect without --health-addr"), std::string::npos);
}

// spec/security.md 1.2, the bind decision table, on resolved addresses.
TEST_F(Validation, TheBindRule) {
  const Flags tls = {{"--tls-cert", "/etc/ironbus/broker.pem"}, {"--tls-key", "/etc/ironbus/broker.key"}};
  auto with = [](Flags a, const Flags& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  };
  // Loopback: anything goes, TLS or not.
  ExpectOk({{"--addr", "127.0.0.1:7777"}});
  ExpectOk({{"--addr", "127.8.9.10:7777"}});  // all of 127.0.0.0/8
  ExpectOk({{"--addr", "[::1]:7777"}});
  ExpectOk(with({{"--addr", "localhost:7777"}}, tls));
  // Off loopback: never silent plaintext, never plaintext and anonymous, and (decided) never
  // TLS without an identity table.
  const Flags auth = {{"--auth-config", "/etc/ironbus/auth.toml"}};
  for (const char* addr : {"0.0.0.0:7777", "[::]:7777", "192.0.2.7:7777"}) {
    ExpectError({{"--addr", addr}}, "plaintext is never allowed off loopback");
    ExpectError(with({{"--addr", addr}}, auth), "plaintext is never allowed off loopback");
    ExpectError({{"--addr", addr}, {"--insecure-plaintext-wire", "true"}}, "plaintext and anonymous");
    ExpectError(with({{"--addr", addr}}, tls), "needs an identity table (--auth-config) as well as TLS");
    ExpectOk(with(with({{"--addr", addr}}, tls), auth));
    ExpectOk(with({{"--addr", addr}, {"--insecure-plaintext-wire", "true"}}, auth));  // warned at start
  }
  // A name that does not resolve to loopback only is not loopback.
  ExpectError({{"--addr", "no-such-host.invalid:7777"}}, "is not loopback");
}

TEST_F(Validation, TlsMaterialComesInPairs) {
  ExpectError({{"--tls-cert", "/c.pem"}}, "--tls-cert needs --tls-key");
  ExpectError({{"--tls-key", "/c.key"}}, "--tls-key needs --tls-cert");
  ExpectError({{"--tls-client-ca", "/ca.pem"}}, "--tls-client-ca needs --tls-cert and --tls-key");
  ExpectError({{"--tls-cert", "/c.pem"}, {"--tls-key", "/c.key"}, {"--tls-client-ca", "/ca.pem"}},
              "a verified certificate alone grants no scope");
  ExpectOk({{"--tls-cert", "/c.pem"}, {"--tls-key", "/c.key"}, {"--tls-client-ca", "/ca.pem"}, {"--auth-config", "/a"}});
}

TEST_F(Validation, AuthKnobs) {
  ExpectError({{"--max-concurrent-password-verifies", "0"}}, "--max-concurrent-password-verifies must be in 1..64");
  ExpectError({{"--audit-log", "syslog"}}, "--audit-log must be stderr or @<file>");
  ExpectOk({{"--audit-log", "@/var/log/ironbus-audit.jsonl"}});
  // Each Argon2id verify holds 19 MiB: the RAM guard counts them once an identity table is set.
  ExpectOk({{"--profile", "edge-tiny"}});
  ExpectError({{"--profile", "edge-tiny"}, {"--auth-config", "/a"}, {"--max-concurrent-password-verifies", "4"}},
              "password verifies");
  // Each TLS connection holds about 96 KiB of record buffers: counted once TLS is configured.
  const Loaded plain = LoadFlags({});
  const Loaded tls = LoadFlags({{"--tls-cert", "/c.pem"}, {"--tls-key", "/c.key"}});
  ASSERT_TRUE(plain.ok() && tls.ok());
  EXPECT_EQ(EstimateRam(tls.config).worst_case - EstimateRam(plain.config).worst_case,
            tls.config.max_connections * kRamPerTlsConnectionBytes);
}

TEST_F(Validation, RetentionSectionWithEveryBoundZeroIsRefused) {
  Loaded l = LoadWith("[retention]\nmax_age_ms = 0\n");
  ASSERT_FALSE(l.ok());
  EXPECT_NE(Joined(l.errors).find("retention requested but every limit is 0"), std::string::npos);
  l = LoadWith("[retention]\nmax_age_ms = \"7d\"\n");
  EXPECT_TRUE(l.ok()) << Joined(l.errors);
  // Not from flags: every bound 0 is simply "off".
  EXPECT_TRUE(LoadFlags({{"--max-age-ms", "0"}}).ok());
}

TEST_F(Validation, DropOldestWithoutAByteCapWarns) {
  const Loaded l = LoadFlags({{"--disk-full-policy", "drop-oldest"}, {"--min-free-bytes", "0"}});
  ASSERT_TRUE(l.ok());
  EXPECT_NE(Joined(l.warnings).find("can never trigger"), std::string::npos);
  // With the free-disk watermark (on by default) the policy can trigger: no warning.
  const Loaded w = LoadFlags({{"--disk-full-policy", "drop-oldest"}});
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(Joined(w.warnings).find("can never trigger"), std::string::npos);
}

TEST_F(Validation, UnbuiltKnobsAreReportedNotSilentlyIgnored) {
  const Loaded l = LoadFlags({{"--daily-physical-write-budget-bytes", "5"},
                              {"--enable-otlp-export", "true"}, {"--log-level", "debug"}});
  ASSERT_TRUE(l.ok()) << Joined(l.errors);
  const std::string w = Joined(l.warnings);
  for (const char* flag : {"--daily-physical-write-budget-bytes", "--enable-otlp-export"}) {
    EXPECT_NE(w.find(flag), std::string::npos) << flag << "\n" << w;
  }
  // serve applies --log-level and --log-format (base/log.h): no "not applied" warning for them.
  EXPECT_EQ(w.find("--log-level"), std::string::npos) << w;
}

}  // namespace
}  // namespace ironbus::config
