// `config check` and the config side of `serve` through the real binary: the effective config,
// file errors with line numbers, the RAM guard refusing before any work, and SIGHUP reload
// (changes reported, cold keys refused, a broken file keeps the running config).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "cli/cli_test_util.h"

namespace ironbus::cli::testing {
namespace {

class ConfigVerbs : public ::testing::Test {
 protected:
  RunResult Run(const std::string& args) { return RunIronbus(args, scratch_.path()); }
  std::string Write(const std::string& text, const std::string& name = "ironbus.toml") {
    const std::string path = scratch_.path() + "/" + name;
    std::ofstream(path, std::ios::trunc) << text;
    return path;
  }
  io::testing::TempDir scratch_;
};

TEST_F(ConfigVerbs, CheckWithNoFilePrintsTheDefaults) {
  const RunResult r = Run("config check");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("config ok: no config file, profile balanced"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("backpressure.max_connections = 256  # profile balanced"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("delivery.backoff_ms = 100,500,2000,10000,30000  # default"), std::string::npos) << r.out;
}

TEST_F(ConfigVerbs, CheckJsonShowsTheFileLayerAndItsSources) {
  const std::string path = Write("profile = \"edge-tiny\"\n[delivery]\nvisibility_timeout_ms = \"45s\"\n");
  const RunResult r = Run("config check --json --config " + path);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.out;
  EXPECT_EQ(j["schema"], "ironbus.cli.config-check.v1");
  EXPECT_EQ(j["ok"], true);
  EXPECT_EQ(j["config"]["profile"], "edge-tiny");
  EXPECT_EQ(j["config"]["visibility_timeout_ms"], 45000);
  EXPECT_EQ(j["config"]["max_connections"], 32);
  EXPECT_EQ(j["ram"]["worst_case_bytes"], 15 << 20);
  EXPECT_EQ(j["ram"]["ceiling_bytes"], 64 << 20);
  EXPECT_EQ(j["sources"]["visibility_timeout_ms"].get<std::string>().find("file " + path + ":3:"), 0u);
}

TEST_F(ConfigVerbs, CheckRefusesABadFileWithLineAndHint) {
  const std::string path = Write("[delivery]\nmax_delivr = 3\n[storage]\nsegment_size = \"64MB\"\n");
  const RunResult r = Run("config check --config " + path);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("error: " + path + ":2:14: unknown config key `delivery.max_delivr` (hint: did you mean "
                       "`delivery.max_deliver`?)"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find(path + ":4:16: config key `storage.segment_size`: bad size \"64MB\""), std::string::npos)
      << r.err;
  const RunResult missing = Run("config check --config " + scratch_.path() + "/absent.toml");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("absent.toml: cannot read it"), std::string::npos) << missing.err;
}

TEST_F(ConfigVerbs, CheckReadsTheEnvironmentLikeServe) {
  setenv("IRONBUS_MAX_CONNECTIONS", "1024", 1);
  const RunResult r = Run("config check --profile edge-tiny");
  unsetenv("IRONBUS_MAX_CONNECTIONS");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("RAM guard"), std::string::npos) << r.err;
}

TEST_F(ConfigVerbs, ServeEdgeTinyWithMaxConnections1024RefusesBeforeAnyWork) {
  const std::string dir = scratch_.path() + "/data";
  const RunResult r = Run("serve --data-dir " + dir + " --addr 127.0.0.1:0 --profile edge-tiny --max-connections 1024");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");  // no listening line: no port was opened
  EXPECT_NE(r.err.find("RAM guard"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--max-connections (1024)"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir));  // refused before the data dir was touched
}

TEST_F(ConfigVerbs, ServeEdgeTinyDefaultStartsAndPrintsItsConfig) {
  ServeProcess serve("", scratch_.path(), {"--data-dir", scratch_.path() + "/data", "--profile", "edge-tiny", "--max-deliver=3"});
  ASSERT_TRUE(serve.WaitFor("materialized-config")) << serve.output() << serve.errors();
  const std::string out = serve.output();
  EXPECT_NE(out.find("materialized-config profile=edge-tiny profile_schema_version=1 "), std::string::npos) << out;
  for (const char* kv : {" max_connections=32 ", " max_segment_bytes=8388608 ", " ram_ceiling_bytes=67108864 ",
                         " max_deliver=3 ", " power_loss_safe=true ", " storage=disk"}) {
    EXPECT_NE(out.find(kv), std::string::npos) << kv << "\n" << out;
  }
  EXPECT_EQ(serve.Stop(SIGTERM), 0) << serve.errors();
}

TEST_F(ConfigVerbs, ServeHealthAddrFromTheFileStartsTheHealthListener) {
  const std::string path = Write("[network]\nhealth_addr = \"127.0.0.1:0\"\n");
  ServeProcess serve("", scratch_.path(), {"--data-dir", scratch_.path() + "/data", "--config", path});
  ASSERT_TRUE(serve.WaitFor("ironbus health endpoints on 127.0.0.1:")) << serve.output() << serve.errors();
  EXPECT_NE(serve.output().find(" health_addr=127.0.0.1:0 "), std::string::npos) << serve.output();
  EXPECT_EQ(serve.Stop(SIGTERM), 0) << serve.errors();
  const RunResult refused = Run("serve --data-dir " + scratch_.path() + "/data --health-addr 10.1.2.3:9090");
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("pass --health-allow-public"), std::string::npos) << refused.err;
  const RunResult unresolvable = Run("serve --data-dir " + scratch_.path() + "/data2 --addr 127.0.0.1:0 " +
                                     "--health-addr nosuchhost.invalid:9090 --health-allow-public");
  EXPECT_EQ(unresolvable.exit_code, 1) << unresolvable.err;
  EXPECT_EQ(unresolvable.out, "");  // refused before the wire listener opened
  EXPECT_NE(unresolvable.err.find("resolves to nothing"), std::string::npos) << unresolvable.err;
}

TEST_F(ConfigVerbs, ServeRefusesABadConfigFile) {
  const std::string path = Write("[backpressure]\nmax_connections = -5\n");
  const RunResult r = Run("serve --data-dir " + scratch_.path() + "/data --addr 127.0.0.1:0 --config " + path);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(path + ":2:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("must not be negative"), std::string::npos) << r.err;
}

TEST_F(ConfigVerbs, FlagsBeatTheFile) {
  const std::string path = Write("[delivery]\nmax_deliver = 7\ncheckpoint_interval = 10\n");
  ServeProcess serve("", scratch_.path(), {"--data-dir", scratch_.path() + "/data", "--config", path, "--max-deliver", "2"});
  ASSERT_TRUE(serve.WaitFor("materialized-config")) << serve.errors();
  EXPECT_NE(serve.output().find(" max_deliver=2 "), std::string::npos) << serve.output();
  EXPECT_NE(serve.output().find(" checkpoint_interval=10 "), std::string::npos) << serve.output();
  EXPECT_EQ(serve.Stop(SIGTERM), 0);
}

TEST_F(ConfigVerbs, SighupReportsChangesRefusesColdKeysAndSurvivesABrokenFile) {
  const std::string path = Write("[retention]\nmax_retained_bytes = \"128MiB\"\n[delivery]\nmax_deliver = 5\n");
  ServeProcess serve("", scratch_.path(), {"--data-dir", scratch_.path() + "/data", "--config", path});
  ASSERT_TRUE(serve.WaitFor("materialized-config")) << serve.errors();
  EXPECT_NE(serve.output().find(" max_retained_bytes=134217728 "), std::string::npos);

  serve.Signal(SIGHUP);
  ASSERT_TRUE(serve.WaitFor("re-read; nothing changed", true)) << serve.errors();

  Write("[retention]\nmax_retained_bytes = \"64MiB\"\n[delivery]\nmax_deliver = 6\n");
  serve.Signal(SIGHUP);
  ASSERT_TRUE(serve.WaitFor("delivery.max_deliver changed from 5 to 6: changed in file, takes effect after restart",
                            true))
      << serve.errors();
  EXPECT_NE(serve.errors().find("retention.max_retained_bytes changed from 134217728 to 67108864: applied"),
            std::string::npos)
      << serve.errors();

  Write("[retention]\nmax_retained_bytes = [\n");
  serve.Signal(SIGHUP);
  ASSERT_TRUE(serve.WaitFor("rejected; keeping the running config", true)) << serve.errors();

  Write("[retention]\nmax_retained_bytes = \"128MiB\"\n[storage]\nsegment_size = \"8MiB\"\n");
  serve.Signal(SIGHUP);
  ASSERT_TRUE(serve.WaitFor("cold-key storage.segment_size changed from 67108864 to 8388608; restart required", true))
      << serve.errors();
  ASSERT_TRUE(serve.WaitFor("reload rejected; the running config is unchanged", true)) << serve.errors();
  EXPECT_TRUE(serve.alive());
  EXPECT_EQ(serve.Stop(SIGTERM), 0) << serve.errors();
}

// The live keys reach the running log: a byte cap set in the file refuses publishes "at
// capacity"; raising it by SIGHUP lets them through without a restart, and lowering it again
// refuses again. Hot keys are still reported, not applied.
TEST_F(ConfigVerbs, SighupAppliesTheByteCapAndDiskFullPolicyLive) {
  const std::string path = Write("[storage]\nmax_total_bytes = 1\n");
  ServeProcess serve("", scratch_.path(), {"--data-dir", scratch_.path() + "/data", "--config", path});
  ASSERT_TRUE(serve.WaitFor("materialized-config")) << serve.errors();
  const std::string out = serve.output();
  const size_t at = out.find("listening on ");
  ASSERT_NE(at, std::string::npos) << out;
  const std::string addr = out.substr(at + 13, out.find(',', at) - at - 13);

  ASSERT_EQ(Run("pub --addr " + addr + " first").exit_code, 0);  // an empty log takes one record
  RunResult refused = Run("pub --addr " + addr + " second");
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("at capacity"), std::string::npos) << refused.err;

  Write("[storage]\nmax_total_bytes = \"1MiB\"\n[backpressure]\ndisk_full_policy = \"block\"\n");
  serve.Signal(SIGHUP);
  ASSERT_TRUE(serve.WaitFor("storage.max_total_bytes changed from 1 to 1048576: applied", true)) << serve.errors();
  ASSERT_TRUE(serve.WaitFor("backpressure.disk_full_policy changed from drop-new to block: applied", true));
  RunResult accepted = Run("pub --addr " + addr + " second");
  EXPECT_EQ(accepted.exit_code, 0) << accepted.err;

  Write("[storage]\nmax_total_bytes = 1\n[backpressure]\nblock_timeout_ms = 0\ndisk_full_policy = \"block\"\n");
  serve.Signal(SIGHUP);
  ASSERT_TRUE(serve.WaitFor("backpressure.block_timeout_ms changed from 5000 to 0: applied", true)) << serve.errors();
  RunResult refused_again = Run("pub --addr " + addr + " third");
  EXPECT_NE(refused_again.err.find("at capacity"), std::string::npos) << refused_again.err;
  EXPECT_EQ(serve.Stop(SIGTERM), 0) << serve.errors();
}

TEST_F(ConfigVerbs, SighupWithoutAConfigFileHasNothingToReload) {
  ServeProcess serve("", scratch_.path(), {"--data-dir", scratch_.path() + "/data"});
  ASSERT_TRUE(serve.WaitFor("materialized-config")) << serve.errors();
  serve.Signal(SIGHUP);
  ASSERT_TRUE(serve.WaitFor("nothing to reload", true)) << serve.errors();
  EXPECT_EQ(serve.Stop(SIGTERM), 0);
}

}  // namespace
}  // namespace ironbus::cli::testing
