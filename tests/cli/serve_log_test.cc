// `serve` logs through base/log.h (docs/logging.md): --log-format / --log-level and their env
// vars are applied, JSON lines parse with typed numbers, recovery loss events are one WARN line
// each, and the stop is logged.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli/cli_test_util.h"

namespace ironbus::cli::testing {
namespace {

// `serve` on a data dir with extra arguments and environment; stderr goes to a file (not a TTY).
class LoggedServe {
 public:
  LoggedServe(const std::string& scratch, const std::string& data_dir, std::vector<std::string> extra,
              std::vector<std::pair<std::string, std::string>> env = {})
      : out_(scratch + "/serve.out") {
    pid_ = fork();
    if (pid_ == 0) {
      if (!std::freopen(out_.c_str(), "w", stdout)) _exit(127);
      if (!std::freopen((out_ + ".err").c_str(), "w", stderr)) _exit(127);
      for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
      std::vector<std::string> args = {IRONBUS_BINARY, "serve", "--addr", "127.0.0.1:0", "--data-dir", data_dir};
      args.insert(args.end(), extra.begin(), extra.end());
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(IRONBUS_BINARY, argv.data());
      _exit(127);
    }
  }
  ~LoggedServe() {
    if (pid_ > 0) (void)Stop(SIGKILL);
  }
  bool WaitReady() {
    for (int i = 0; i < 400; ++i) {
      if (out().find("materialized-config") != std::string::npos) return true;
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    return false;
  }
  int Stop(int sig = SIGTERM) {
    if (pid_ <= 0) return -1;
    kill(pid_, sig);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  std::string out() const { return Slurp(out_); }
  std::string err() const { return Slurp(out_ + ".err"); }

 private:
  pid_t pid_ = -1;
  std::string out_;
};

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

// The JSON log lines (the plain `WARN: ...` config lines of spec 2.2 come before logging starts).
std::vector<nlohmann::json> JsonEvents(const std::string& err) {
  std::vector<nlohmann::json> out;
  for (const std::string& line : Lines(err)) {
    if (line.rfind("WARN: ", 0) == 0) continue;
    EXPECT_TRUE(nlohmann::json::accept(line)) << "not a JSON line: " << line;
    if (nlohmann::json::accept(line)) out.push_back(nlohmann::json::parse(line));
  }
  return out;
}

const nlohmann::json* Find(const std::vector<nlohmann::json>& events, const std::string& name) {
  for (const auto& e : events) {
    if (e.value("event", "") == name) return &e;
  }
  return nullptr;
}

std::string SegmentPath(const std::string& dir, int id) {
  char name[64];
  std::snprintf(name, sizeof(name), "/seg-%016x.log", id);
  return dir + name;
}

class ServeLog : public ::testing::Test {
 protected:
  io::testing::TempDir scratch_;
  std::string data_ = scratch_.path() + "/data";
};

TEST_F(ServeLog, AutoIsJsonWhenStderrIsAFileWithTypedFields) {
  LoggedServe serve(scratch_.path(), data_, {});
  ASSERT_TRUE(serve.WaitReady()) << serve.out() << serve.err();
  EXPECT_EQ(serve.Stop(SIGTERM), 0) << serve.err();
  const auto events = JsonEvents(serve.err());
  const nlohmann::json* started = Find(events, "broker.started");
  ASSERT_NE(started, nullptr) << serve.err();
  EXPECT_EQ((*started)["level"], "info");
  EXPECT_TRUE((*started)["ts"].is_string());
  EXPECT_EQ((*started)["data_dir"], data_);
  EXPECT_TRUE((*started)["durable_offset"].is_number_unsigned()) << *started;
  EXPECT_TRUE((*started)["frozen"].is_boolean()) << *started;
  const nlohmann::json* stopped = Find(events, "broker.stopped");
  ASSERT_NE(stopped, nullptr) << serve.err();
  EXPECT_EQ((*stopped)["signal"], "SIGTERM");
  EXPECT_EQ((*stopped)["exit_code"], 0);
  // stdout keeps the banner only.
  EXPECT_EQ(serve.out().find("\"event\""), std::string::npos) << serve.out();
}

TEST_F(ServeLog, TextFormatAndWarnLevelFromFlags) {
  WriteLog(data_, 10, 1 << 20);
  const std::string seg = SegmentPath(data_, 0);
  const auto size = std::filesystem::file_size(seg);
  std::filesystem::resize_file(seg, size - 5);
  LoggedServe serve(scratch_.path(), data_, {"--log-format", "text", "--log-level", "warn"});
  ASSERT_TRUE(serve.WaitReady()) << serve.out() << serve.err();
  EXPECT_EQ(serve.Stop(SIGINT), 0) << serve.err();
  const std::string err = serve.err();
  EXPECT_EQ(err.find('{'), std::string::npos) << "text, not JSON:\n" << err;
  EXPECT_EQ(err.find("broker.started"), std::string::npos) << "INFO is below --log-level warn:\n" << err;
  EXPECT_EQ(err.find("broker.stopped"), std::string::npos) << err;
  // One WARN line for the torn tail, with its segment, byte range and reason.
  size_t loss_lines = 0;
  for (const std::string& line : Lines(err)) {
    if (line.find(" recovery.loss ") == std::string::npos) continue;
    ++loss_lines;
    EXPECT_NE(line.find("Z WARN  recovery.loss data_dir="), std::string::npos) << line;
    EXPECT_NE(line.find(" segment=0 "), std::string::npos) << line;
    EXPECT_NE(line.find(" byte_end=" + std::to_string(size - 5) + " "), std::string::npos) << line;
    EXPECT_NE(line.find(" reason=torn_tail "), std::string::npos) << line;
    EXPECT_NE(line.find(" data_loss=false "), std::string::npos) << line;
  }
  EXPECT_EQ(loss_lines, 1u) << err;
}

TEST_F(ServeLog, EnvironmentSelectsTheFormat) {
  LoggedServe serve(scratch_.path(), data_, {}, {{"IRONBUS_LOG_FORMAT", "text"}});
  ASSERT_TRUE(serve.WaitReady()) << serve.out() << serve.err();
  EXPECT_EQ(serve.Stop(SIGTERM), 0) << serve.err();
  EXPECT_NE(serve.err().find(" INFO  broker.started addr=127.0.0.1:"), std::string::npos) << serve.err();
  EXPECT_NE(serve.err().find(" INFO  broker.stopped signal=SIGTERM exit_code=0"), std::string::npos) << serve.err();
}

TEST_F(ServeLog, AnUnknownLevelIsAConfigError) {
  const RunResult r = RunIronbus("serve --addr 127.0.0.1:0 --data-dir " + data_ + " --log-level loud", scratch_.path());
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("error: "), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(data_)) << "refused before the data dir is touched";
}

}  // namespace
}  // namespace ironbus::cli::testing
