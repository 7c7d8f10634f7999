// End-to-end tests of the offline verbs and `serve` through the real binary, on real
// directories: output, --json, exit codes (spec/cli-config-ops.md 1.3, 3.4, 3.5).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>

#include "cli/cli_test_util.h"

namespace ironbus::cli::testing {
namespace {

using io::testing::TempDir;

std::map<std::string, std::string> SnapshotFiles(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) out[e.path().string()] = Slurp(e.path().string());
  }
  return out;
}

std::string SegmentPath(const std::string& dir, int id) {
  char name[64];
  std::snprintf(name, sizeof(name), "/seg-%016x.log", id);
  return dir + name;
}

class OfflineVerbs : public ::testing::Test {
 protected:
  void SetUp() override { data_ = scratch_.path() + "/data"; }
  RunResult Run(const std::string& args) { return RunIronbus(args, scratch_.path()); }

  TempDir scratch_;
  std::string data_;
};

TEST_F(OfflineVerbs, VersionAndUsageExitCodes) {
  RunResult v = Run("--version");
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_EQ(v.out.rfind("ironbus ", 0), 0u) << v.out;
  EXPECT_EQ(Run("no-such-verb").exit_code, 1);
  EXPECT_EQ(Run("scrub").exit_code, 1) << "missing --data-dir is a usage error";
  EXPECT_EQ(Run("peek --data-dir /tmp --no-such-flag").exit_code, 1);
}

TEST_F(OfflineVerbs, MissingDataDirIsExitTwo) {
  for (const char* verb : {"peek", "dump", "scrub", "verify", "repair"}) {
    RunResult r = Run(std::string(verb) + " --data-dir " + scratch_.path() + "/absent --json");
    EXPECT_EQ(r.exit_code, 2) << verb;
    if (std::string(verb) == "scrub" || std::string(verb) == "repair" || std::string(verb) == "verify") continue;
    auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["error"]["kind"], "not_found") << verb;
  }
}

TEST_F(OfflineVerbs, PeekShowsAWindowAndDumpEverything) {
  WriteLog(data_, 200);
  RunResult peek = Run("peek --data-dir " + data_ + " --from-offset 5 --limit 3");
  ASSERT_EQ(peek.exit_code, 0) << peek.err;
  EXPECT_NE(peek.out.find("offset=5 "), std::string::npos);
  EXPECT_NE(peek.out.find("offset=7 "), std::string::npos);
  EXPECT_EQ(peek.out.find("offset=8 "), std::string::npos);
  EXPECT_NE(peek.out.find("bytes=8 key_bytes=2 crc=ok codec=none"), std::string::npos) << peek.out;

  RunResult dump = Run("dump --data-dir " + data_ + " --json --payload text");
  ASSERT_EQ(dump.exit_code, 0) << dump.err;
  std::istringstream lines(dump.out);
  std::string line;
  uint64_t expected = 0;
  while (std::getline(lines, line)) {
    auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j["schema"], "ironbus.cli.dump-record.v1");
    EXPECT_EQ(j["offset"], expected);
    EXPECT_EQ(j["payload"], "record-" + std::to_string(expected));
    ++expected;
  }
  EXPECT_EQ(expected, 200u);

  RunResult window = Run("dump --data-dir " + data_ + " --from 190 --count 5 --payload hex");
  ASSERT_EQ(window.exit_code, 0);
  EXPECT_NE(window.out.find("offset=190 "), std::string::npos);
  EXPECT_NE(window.out.find("payload=7265636f72642d313930"), std::string::npos) << window.out;  // "record-190"
  EXPECT_EQ(window.out.find("offset=195 "), std::string::npos);
}

TEST_F(OfflineVerbs, ScrubIsCleanOnAnIntactLog) {
  WriteLog(data_, 100);
  RunResult r = Run("scrub --data-dir " + data_ + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["schema"], "ironbus.cli.scrub.v1");
  EXPECT_EQ(j["ok"], true);
  EXPECT_EQ(j["skipped_spans"], 0);
  EXPECT_GT(j["segments"].get<int>(), 1);
}

TEST_F(OfflineVerbs, BitFlipInASealedSegmentIsReportedSkippedAndRepaired) {
  WriteLog(data_, 200);
  // Inside the body of the first record of segment 0 (header 64 + record header 36 + 3).
  FlipByte(SegmentPath(data_, 0), 64 + 36 + 3);
  const auto before = SnapshotFiles(data_);

  RunResult scrub = Run("scrub --data-dir " + data_ + " --json");
  EXPECT_EQ(scrub.exit_code, 3) << scrub.out << scrub.err;
  auto j = nlohmann::json::parse(scrub.out);
  ASSERT_EQ(j["events"].size(), 1u) << scrub.out;
  EXPECT_EQ(j["events"][0]["reason"], "corrupt_record_body");
  EXPECT_EQ(j["events"][0]["first_lost_offset"], 0);
  EXPECT_EQ(j["events"][0]["end_lost_offset"], 1);
  EXPECT_EQ(j["ok"], false);

  // Every other record is still served at its original offset.
  RunResult dump = Run("dump --data-dir " + data_ + " --payload text");
  EXPECT_EQ(dump.exit_code, 0);
  EXPECT_EQ(dump.out.find("offset=0 "), std::string::npos);
  EXPECT_NE(dump.out.find("offset=1 "), std::string::npos);
  EXPECT_NE(dump.out.find("payload=record-199"), std::string::npos);
  EXPECT_NE(dump.out.find("reason=corrupt_record_body offsets [0, 1)"), std::string::npos) << dump.out;

  RunResult plan = Run("repair --data-dir " + data_);
  EXPECT_EQ(plan.exit_code, 3);
  EXPECT_NE(plan.out.find("nothing changed"), std::string::npos) << plan.out;
  EXPECT_EQ(SnapshotFiles(data_), before) << "scrub, dump and the repair plan must not change a byte";

  RunResult apply = Run("repair --data-dir " + data_ + " --apply --json");
  EXPECT_EQ(apply.exit_code, 0) << apply.out << apply.err;
  EXPECT_EQ(nlohmann::json::parse(apply.out)["applied"], true);
  EXPECT_TRUE(std::filesystem::exists(data_ + "/accepted-loss.json"));
  EXPECT_FALSE(std::filesystem::is_empty(data_ + "/quarantine"));
  EXPECT_EQ(Run("scrub --data-dir " + data_).exit_code, 0) << "accepted loss no longer fails scrub";
}

TEST_F(OfflineVerbs, TornTailIsReportedButNotDataLoss) {
  WriteLog(data_, 10, 1 << 20);
  const std::string seg = SegmentPath(data_, 0);
  std::filesystem::resize_file(seg, std::filesystem::file_size(seg) - 3);
  RunResult r = Run("scrub --data-dir " + data_ + " --json");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["events"].size(), 1u);
  EXPECT_EQ(j["events"][0]["reason"], "torn_tail");
  EXPECT_EQ(j["data_loss_bytes"], 0);
  EXPECT_GT(j["torn_tail_bytes"].get<int>(), 0);
}

TEST_F(OfflineVerbs, VerifyReportsACheckpointWithNoValidSlot) {
  WriteLog(data_, 5);
  std::ofstream(data_ + "/cursor.ckpt", std::ios::binary) << std::string(156, '\x7f');
  RunResult r = Run("verify --data-dir " + data_ + " --json");
  EXPECT_EQ(r.exit_code, 3) << r.out;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["checkpoint_problems"].size(), 1u);
  EXPECT_EQ(j["checkpoint_problems"][0]["file"], "cursor.ckpt");
}

TEST_F(OfflineVerbs, ServeHoldsTheLockAndStopsCleanly) {
  ServeProcess serve(data_, scratch_.path());
  ASSERT_TRUE(serve.WaitReady()) << serve.output() << serve.errors();
  EXPECT_NE(serve.output().find(", data dir " + data_), std::string::npos);
  EXPECT_EQ(serve.addr().rfind("127.0.0.1:", 0), 0u) << serve.output();
  EXPECT_NE(serve.output().find("recovery: 1 segment(s)"), std::string::npos) << serve.output();

  RunResult second = Run("serve --addr 127.0.0.1:0 --data-dir " + data_);
  EXPECT_EQ(second.exit_code, 70);
  EXPECT_NE(second.err.find("another ironbus broker is already running on " + data_), std::string::npos)
      << second.err;
  RunResult repair = Run("repair --data-dir " + data_ + " --apply");
  EXPECT_EQ(repair.exit_code, 5) << repair.err;

  EXPECT_EQ(serve.Stop(SIGTERM), 0);
  EXPECT_EQ(Run("repair --data-dir " + data_ + " --apply").exit_code, 0);
}

TEST_F(OfflineVerbs, ServeReportsRecoveryOfATornTail) {
  WriteLog(data_, 10, 1 << 20);
  const std::string seg = SegmentPath(data_, 0);
  std::filesystem::resize_file(seg, std::filesystem::file_size(seg) - 5);
  ServeProcess serve(data_, scratch_.path());
  ASSERT_TRUE(serve.WaitReady()) << serve.output() << serve.errors();
  EXPECT_NE(serve.output().find("9 record(s), offsets [0, 9)"), std::string::npos) << serve.output();
  EXPECT_NE(serve.output().find("reason=torn_tail"), std::string::npos) << serve.output();
  EXPECT_EQ(serve.Stop(SIGINT), 0);
  EXPECT_TRUE(std::filesystem::exists(data_ + "/recovery-report.json"));
}

}  // namespace
}  // namespace ironbus::cli::testing
