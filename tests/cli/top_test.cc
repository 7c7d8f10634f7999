// `ironbus top` as a user runs it: the live ncurses screen inside a real 80x24 terminal (tmux on
// a private socket: capture-pane to read it, send-keys to quit) against a real broker, plus
// --once, --json, the offline view and the exit codes (1 usage, 2 missing dir, 5 unreachable,
// 70 without --enable-admin).
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli/cli_test_util.h"
#include "e2e/e2e_test_util.h"

namespace ironbus::cli {
namespace {

using e2e::Broker;
using e2e::RunResult;

std::string Capture(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  size_t n = 0;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// One tmux server on its own socket (-L), so parallel tests and a user's tmux never meet; no
// config file (-f /dev/null). The server is killed in the destructor whatever happened.
class Tmux {
 public:
  Tmux() : socket_("ironbus-top-" + std::to_string(getpid()) + "-" + std::to_string(++Counter())) {}
  ~Tmux() { (void)std::system((Base() + " kill-server >/dev/null 2>&1").c_str()); }
  Tmux(const Tmux&) = delete;
  Tmux& operator=(const Tmux&) = delete;

  static bool Available() { return std::system("tmux -V >/dev/null 2>&1") == 0; }

  // `command` runs through sh inside an 80x24 pane.
  bool Start(const std::string& command) {
    return std::system((Base() + " new-session -d -s top -x 80 -y 24 '" + command + "'").c_str()) == 0;
  }
  std::string Screen() const { return Capture(Base() + " capture-pane -p -t top 2>/dev/null"); }
  void Keys(const std::string& keys) { (void)std::system((Base() + " send-keys -t top " + keys).c_str()); }
  bool Alive() const { return std::system((Base() + " has-session -t top >/dev/null 2>&1").c_str()) == 0; }

  // Polls the screen until every needle is on it; returns the last screen either way.
  std::string WaitFor(const std::vector<std::string>& needles, std::chrono::seconds limit = std::chrono::seconds(15)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    std::string screen;
    while (std::chrono::steady_clock::now() < deadline) {
      screen = Screen();
      bool all = true;
      for (const auto& n : needles) all = all && screen.find(n) != std::string::npos;
      if (all) return screen;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return screen;
  }
  bool WaitGone(std::chrono::seconds limit = std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      if (!Alive()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

 private:
  static int& Counter() {
    static int n = 0;
    return n;
  }
  std::string Base() const { return "tmux -f /dev/null -L " + socket_; }
  std::string socket_;
};

bool Has(const std::string& haystack, const std::string& needle) { return haystack.find(needle) != std::string::npos; }

class TopLive : public ::testing::Test {
 protected:
  void StartBroker(bool enable_admin = true) {
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
    if (broker_) (void)broker_->Stop(SIGKILL);  // by PID (Broker owns it)
  }
  RunResult Run(const std::string& args) { return e2e::RunIronbus(args, scratch_.path()); }
  void Publish(int from, int to) {
    for (int i = from; i < to; ++i) ASSERT_EQ(Run("pub --addr " + addr_ + " r" + std::to_string(i)).exit_code, 0);
  }
  // The live screen inside tmux; its stderr and exit code land in the scratch dir.
  std::string TopCommand(const std::string& flags) {
    return "env -u NO_COLOR " + std::string(IRONBUS_BINARY) + " top " + flags + " 2>" + scratch_.path() +
           "/top.err; echo $? >" + scratch_.path() + "/top.rc";
  }
  std::string TopExit() { return e2e::Slurp(scratch_.path() + "/top.rc"); }

  io::testing::TempDir scratch_;
  std::unique_ptr<Broker> broker_;
  std::string addr_;
  std::string health_;
};

void ExpectFits80x24(const std::string& screen) {
  const auto lines = SplitLines(screen);
  EXPECT_LE(lines.size(), 24u);
  for (const auto& l : lines) EXPECT_LE(l.size(), 80u) << l;
}

TEST_F(TopLive, TmuxScreenShowsLiveCountsUpdatesAndQuitsOnQ) {
  ASSERT_TRUE(Tmux::Available()) << "tmux is required (scripts/install-deps.sh installs it)";
  StartBroker();
  Publish(0, 3);
  Tmux tmux;
  ASSERT_TRUE(tmux.Start(TopCommand("--admin-addr " + health_ + " --interval 1")));
  // The footer is the last line painted: waiting for it too avoids reading a half-drawn frame.
  std::string screen = tmux.WaitFor({"produced=3", "(default): committed=0 lag=3 in_flight=0", "q or Ctrl-C quits"});
  EXPECT_TRUE(Has(screen, "ironbus top -- LIVE (broker /admin v1 at " + health_ + ")")) << screen;
  EXPECT_TRUE(Has(screen, "produced=3")) << screen << e2e::Slurp(scratch_.path() + "/top.err");
  EXPECT_TRUE(Has(screen, "(default): committed=0 lag=3 in_flight=0")) << screen;
  EXPECT_TRUE(Has(screen, "[source: /admin consumers]")) << screen;
  EXPECT_TRUE(Has(screen, "q or Ctrl-C quits")) << screen;
  EXPECT_EQ(SplitLines(screen).front(), "ironbus top -- LIVE (broker /admin v1 at " + health_ + ")") << screen;
  ExpectFits80x24(screen);

  // The numbers move on a later refresh, and the rates come from the deltas.
  Publish(3, 8);
  screen = tmux.WaitFor({"produced=8", "(default): committed=0 lag=8 in_flight=0", "rates over the last", "q or Ctrl-C quits"});
  EXPECT_TRUE(Has(screen, "produced=8")) << screen;
  EXPECT_TRUE(Has(screen, "head=8")) << screen;
  EXPECT_TRUE(Has(screen, "(default): committed=0 lag=8 in_flight=0")) << screen;
  EXPECT_TRUE(Has(screen, "rates over the last")) << screen;
  ExpectFits80x24(screen);

  tmux.Keys("q");
  EXPECT_TRUE(tmux.WaitGone()) << "top did not exit on q:\n" << tmux.Screen();
  EXPECT_EQ(TopExit(), "0\n");
}

TEST_F(TopLive, TmuxBrokerGoneShowsUnreachableKeepsRetryingAndCtrlCQuits) {
  ASSERT_TRUE(Tmux::Available());
  StartBroker();
  Publish(0, 2);
  Tmux tmux;
  ASSERT_TRUE(tmux.Start(TopCommand("--health-addr " + health_)));
  std::string screen = tmux.WaitFor({"produced=2", "q or Ctrl-C quits"});
  ASSERT_TRUE(Has(screen, "produced=2")) << screen << e2e::Slurp(scratch_.path() + "/top.err");
  ASSERT_EQ(broker_->Stop(SIGKILL), -1);
  screen = tmux.WaitFor({"status: broker unreachable, retrying every 1s", "q or Ctrl-C quits"});
  EXPECT_TRUE(Has(screen, "status: broker unreachable, retrying every 1s")) << screen;
  EXPECT_TRUE(Has(screen, "produced=2")) << "the last data stays on screen:\n" << screen;
  ExpectFits80x24(screen);
  EXPECT_TRUE(tmux.Alive()) << "top keeps retrying";
  tmux.Keys("C-c");
  EXPECT_TRUE(tmux.WaitGone()) << tmux.Screen();
  EXPECT_EQ(TopExit(), "0\n");
}

TEST_F(TopLive, TmuxManyGroupsFit80x24WithMoreGroupsLine) {
  ASSERT_TRUE(Tmux::Available());
  StartBroker();
  Publish(0, 1);
  for (int g = 0; g < 12; ++g) {
    ASSERT_EQ(Run("sub --addr " + addr_ + " --group grp-" + std::to_string(g) + " --max 1 --ack").exit_code, 0);
  }
  Tmux tmux;
  ASSERT_TRUE(tmux.Start(TopCommand("--admin-addr " + health_)));
  // 13 groups (the default one too) cannot all fit under the fixed panels of a 24-line screen.
  const std::string screen = tmux.WaitFor({"more groups", "q or Ctrl-C quits"});
  EXPECT_TRUE(Has(screen, "  (default): committed=0 lag=1 in_flight=0")) << screen;
  EXPECT_TRUE(Has(screen, ": committed=1 lag=0 in_flight=0")) << screen;
  EXPECT_TRUE(Has(screen, "more groups")) << screen;
  ExpectFits80x24(screen);
  const auto lines = SplitLines(screen);
  ASSERT_EQ(lines.size(), 24u) << screen;
  EXPECT_EQ(lines.back(), "read-only view: nothing is changed. q or Ctrl-C quits");
  tmux.Keys("q");
  EXPECT_TRUE(tmux.WaitGone()) << tmux.Screen();
}

TEST_F(TopLive, OnceIsOnePlainSnapshot) {
  StartBroker();
  Publish(0, 3);
  RunResult r = Run("top --admin-addr " + health_ + " --once");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto lines = SplitLines(r.out);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.front(), "ironbus top -- LIVE (broker /admin v1 at " + health_ + ")");
  EXPECT_TRUE(Has(r.out, "produced=3")) << r.out;
  EXPECT_TRUE(Has(r.out, "(default): committed=0 lag=3 in_flight=0")) << r.out;
  for (const char* panel : {"\nbroker: ", "\nlog: ", "\nthroughput: ", "\ndlq: ", "\nresilience: ",
                            "\nconsumers (per-group lag + in-flight) [source: /admin consumers]"}) {
    EXPECT_TRUE(Has(r.out, panel)) << panel << "\n" << r.out;
  }
  EXPECT_EQ(lines.back().rfind("read-only view", 0), 0u) << r.out;
  EXPECT_FALSE(Has(r.out, "\x1b")) << "piped output has no escape sequences";
  // --addr names the health port here too (spec 10.1).
  EXPECT_EQ(Run("top --addr " + health_ + " --once").exit_code, 0);
}

TEST_F(TopLive, JsonIsTopV1) {
  StartBroker();
  Publish(0, 4);
  RunResult r = Run("top --health-addr " + health_ + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.out;
  EXPECT_EQ(j["schema"], "ironbus.cli.top.v1");
  EXPECT_EQ(j["mode"], "live");
  EXPECT_EQ(j["source"], health_);
  EXPECT_EQ(j["produced"], 4);
  EXPECT_EQ(j["durable_head"], 4);
  EXPECT_EQ(j["durable_record_count"], 4);
  EXPECT_GT(j["produced_bytes"].get<uint64_t>(), 0u);
  EXPECT_EQ(j["frozen"], false);
  EXPECT_EQ(j["dlq_last_dead_lettered_offset"], -1);
  ASSERT_EQ(j["consumers"].size(), 1u);
  EXPECT_EQ(j["consumers"][0]["consumer_lag"], 4);
  EXPECT_EQ(j["ok"], true);
  EXPECT_EQ(j["exit_code"], 0);
}

TEST_F(TopLive, WithoutEnableAdminIsExit70AndSaysWhy) {
  StartBroker(false);
  RunResult r = Run("top --admin-addr " + health_ + " --once");
  EXPECT_EQ(r.exit_code, 70);
  EXPECT_TRUE(Has(r.err, "start the broker with --enable-admin")) << r.err;
}

class TopCli : public ::testing::Test {
 protected:
  RunResult Run(const std::string& args) { return e2e::RunIronbus(args, scratch_.path()); }
  io::testing::TempDir scratch_;
};

TEST_F(TopCli, UnreachableBrokerOnFirstPollIsExit5) {
  RunResult r = Run("top --admin-addr 127.0.0.1:1 --once");
  EXPECT_EQ(r.exit_code, 5);
  EXPECT_TRUE(Has(r.err, "broker unreachable")) << r.err;
  r = Run("top --admin-addr 127.0.0.1:1 --json");
  EXPECT_EQ(r.exit_code, 5);
  const auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.out;
  EXPECT_EQ(j["error"]["kind"], "unreachable");
  // Also without --once: the first poll decides, the screen never opens.
  EXPECT_EQ(Run("top --admin-addr 127.0.0.1:1").exit_code, 5);
}

TEST_F(TopCli, UsageErrorsAreExit1) {
  RunResult r = Run("top --admin-addr 127.0.0.1:1 --interval 0");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Has(r.err, "--interval")) << r.err;
  EXPECT_EQ(Run("top --admin-addr 127.0.0.1:1 --interval x").exit_code, 1);
  EXPECT_EQ(Run("top").exit_code, 1) << "no mode";
  EXPECT_EQ(Run("top --addr 127.0.0.1:1 --data-dir " + scratch_.path()).exit_code, 1) << "two modes";
  EXPECT_EQ(Run("top --admin-addr nonsense --once").exit_code, 1) << "malformed address";
}

TEST_F(TopCli, OfflineViewOnceAndJson) {
  const std::string dir = scratch_.path() + "/data";
  testing::WriteLog(dir, 200);
  RunResult r = Run("top --data-dir " + dir + " --once");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(SplitLines(r.out).front(), "ironbus top -- OFFLINE (file-derived view of " + dir + ")");
  EXPECT_TRUE(Has(r.out, "throughput, fsync latency and in-flight panels")) << r.out;
  EXPECT_TRUE(Has(r.out, "head=200")) << r.out;
  EXPECT_TRUE(Has(r.out, "[source: ")) << r.out;

  r = Run("top --data-dir " + dir + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.out;
  EXPECT_EQ(j["schema"], "ironbus.cli.top.v1");
  EXPECT_EQ(j["mode"], "offline");
  EXPECT_EQ(j["source"], dir);
  EXPECT_EQ(j["durable_head"], 200);
  EXPECT_GE(j["segment_count"].get<uint64_t>(), 2u);
  EXPECT_EQ(j["loss_events"], 0);
  EXPECT_EQ(j["quarantine_blobs"], 0);

  r = Run("top --data-dir " + scratch_.path() + "/missing --json");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(nlohmann::json::parse(r.out, nullptr, false)["error"]["kind"], "not_found") << r.out;
}

}  // namespace
}  // namespace ironbus::cli
