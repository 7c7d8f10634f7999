// Runs the real `ironbus` binary (IRONBUS_BINARY): a broker process on a free loopback port
// and one-shot verbs with their stdout, stderr and exit code.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "io/temp_dir.h"

namespace ironbus::e2e {

inline std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// `args` goes to the shell as is (tests pass only safe, quoted arguments). stdin is /dev/null
// unless `stdin_path` names a file.
inline RunResult RunIronbus(const std::string& args, const std::string& scratch, const std::string& stdin_path = "") {
  const std::string out = scratch + "/run.out";
  const std::string err = scratch + "/run.err";
  const std::string in = stdin_path.empty() ? "/dev/null" : stdin_path;
  const std::string cmd = std::string(IRONBUS_BINARY) + " " + args + " >" + out + " 2>" + err + " <" + in;
  const int status = std::system(cmd.c_str());
  RunResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = Slurp(out);
  r.err = Slurp(err);
  return r;
}

// `ironbus serve --data-dir <dir> --addr 127.0.0.1:0 [extra...]` in the background.
class Broker {
 public:
  Broker(const std::string& data_dir, const std::string& scratch, std::vector<std::string> extra = {})
      : out_path_(scratch + "/serve-" + std::to_string(++Counter()) + ".out") {
    pid_ = fork();
    if (pid_ == 0) {
      if (!std::freopen(out_path_.c_str(), "w", stdout)) _exit(127);
      if (!std::freopen((out_path_ + ".err").c_str(), "w", stderr)) _exit(127);
      std::vector<std::string> args = {IRONBUS_BINARY, "serve", "--data-dir", data_dir, "--addr", "127.0.0.1:0"};
      args.insert(args.end(), extra.begin(), extra.end());
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(IRONBUS_BINARY, argv.data());
      _exit(127);
    }
  }
  ~Broker() {
    if (pid_ > 0) (void)Stop(SIGKILL);
  }
  Broker(const Broker&) = delete;
  Broker& operator=(const Broker&) = delete;

  // Waits for "ironbus listening on <addr>, ..." and returns <addr> ("" if the process died or
  // never got there).
  std::string WaitListening() {
    for (int i = 0; i < 1200; ++i) {
      const std::string out = Slurp(out_path_);
      const std::string marker = "ironbus listening on ";
      const size_t at = out.find(marker);
      if (at != std::string::npos && out.find('\n', at) != std::string::npos) {
        const size_t end = out.find(',', at);
        return out.substr(at + marker.size(), end - at - marker.size());
      }
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return "";
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    return "";
  }
  // Sends `sig`, waits, and returns the exit code (-1 if killed by a signal).
  int Stop(int sig = SIGTERM) {
    if (pid_ <= 0) return -1;
    kill(pid_, sig);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    term_signal_ = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  // Sends `sig` without waiting (SIGHUP).
  void Signal(int sig) {
    if (pid_ > 0) kill(pid_, sig);
  }
  // The signal that ended the process at the last Stop (0 when it exited by itself).
  int term_signal() const { return term_signal_; }
  std::string output() const { return Slurp(out_path_); }
  std::string errors() const { return Slurp(out_path_ + ".err"); }
  // The health port from the banner ("health endpoints on 127.0.0.1:<port>"), 0 when absent
  // (the broker was started without --health-addr 127.0.0.1:0, or has not printed it yet).
  uint16_t HealthPort() const {
    const std::string out = output();
    const std::string marker = "health endpoints on 127.0.0.1:";
    const size_t at = out.find(marker);
    return at == std::string::npos ? 0 : static_cast<uint16_t>(std::stoul(out.substr(at + marker.size())));
  }

 private:
  static int& Counter() {
    static int n = 0;
    return n;
  }
  pid_t pid_ = -1;
  int term_signal_ = 0;
  std::string out_path_;
};

// A fixture with a scratch directory, a data directory path inside it, and the one-shot
// runner. Tests derive from it.
class E2ETest : public ::testing::Test {
 protected:
  void SetUp() override { data_ = scratch_.path() + "/data"; }
  RunResult Run(const std::string& args, const std::string& stdin_path = "") {
    return RunIronbus(args, scratch_.path(), stdin_path);
  }
  std::string WriteFile(const std::string& name, const std::string& content) {
    const std::string path = scratch_.path() + "/" + name;
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }

  io::testing::TempDir scratch_;
  std::string data_;
};

// A sample of metric `name` with exactly `labels` (e.g. `ironbus_connections_total{state="refused"}`)
// in a Prometheus text body; -1 when absent.
inline double MetricValue(const std::string& body, const std::string& name_and_labels) {
  const std::string key = name_and_labels + " ";
  for (size_t at = body.find(key); at != std::string::npos; at = body.find(key, at + 1)) {
    if (at == 0 || body[at - 1] == '\n') return std::stod(body.substr(at + key.size()));
  }
  return -1;
}

// Offsets `dump --json` shows for a stopped broker's directory, in order.
inline std::vector<uint64_t> DumpedOffsets(const std::string& data_dir, const std::string& scratch) {
  RunResult r = RunIronbus("dump --json --data-dir " + data_dir, scratch);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<uint64_t> offsets;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object() && j.contains("offset")) offsets.push_back(j["offset"].get<uint64_t>());
  }
  return offsets;
}

}  // namespace ironbus::e2e
