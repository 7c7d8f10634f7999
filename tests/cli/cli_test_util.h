// Runs the real `ironbus` binary (IRONBUS_BINARY) and captures stdout, stderr and the exit code;
// builds a real on-disk log in-process to give the offline verbs something to read.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "io/posix_file_system.h"
#include "io/temp_dir.h"
#include "recovery/open_data_dir.h"

namespace ironbus::cli::testing {

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

inline std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// `args` is appended to the binary path as is (the tests pass only safe, quoted arguments).
inline RunResult RunIronbus(const std::string& args, const std::string& scratch) {
  const std::string out = scratch + "/stdout.txt";
  const std::string err = scratch + "/stderr.txt";
  const std::string cmd = std::string(IRONBUS_BINARY) + " " + args + " >" + out + " 2>" + err + " </dev/null";
  const int status = std::system(cmd.c_str());
  RunResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = Slurp(out);
  r.err = Slurp(err);
  return r;
}

// `serve --addr 127.0.0.1:0 [--data-dir <data_dir>] <extra...>` in the background, with `env`
// added to its environment; stdout and stderr go to files (not a TTY). An empty `data_dir`
// passes none (the test gives it in `extra` or a config file). Stopped with SIGKILL by the
// destructor if the test did not Stop() it.
class ServeProcess {
 public:
  ServeProcess(const std::string& data_dir, const std::string& scratch, std::vector<std::string> extra = {},
               std::vector<std::pair<std::string, std::string>> env = {})
      : out_path_(scratch + "/serve.out") {
    pid_ = fork();
    if (pid_ == 0) {
      if (!std::freopen(out_path_.c_str(), "w", stdout)) _exit(127);
      if (!std::freopen((out_path_ + ".err").c_str(), "w", stderr)) _exit(127);
      for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
      // Port 0: any free port, so tests can run in parallel; the banner names it.
      std::vector<std::string> args = {IRONBUS_BINARY, "serve", "--addr", "127.0.0.1:0"};
      if (!data_dir.empty()) args.insert(args.end(), {"--data-dir", data_dir});
      args.insert(args.end(), extra.begin(), extra.end());
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(IRONBUS_BINARY, argv.data());
      _exit(127);
    }
  }
  ~ServeProcess() {
    if (pid_ > 0) (void)Stop(SIGKILL);
  }
  ServeProcess(const ServeProcess&) = delete;
  ServeProcess& operator=(const ServeProcess&) = delete;

  // Waits until the banner is complete (or the process died).
  bool WaitReady() { return WaitFor("materialized-config"); }
  // Waits until `needle` is in stdout (or stderr); false if the process died without it or 10 s
  // passed.
  bool WaitFor(const std::string& needle, bool in_stderr = false) {
    for (int i = 0; i < 400; ++i) {
      if ((in_stderr ? errors() : output()).find(needle) != std::string::npos) return true;
      int status = 0;
      if (pid_ > 0 && waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return (in_stderr ? errors() : output()).find(needle) != std::string::npos;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    return false;
  }
  void Signal(int sig) { kill(pid_, sig); }
  bool alive() const { return pid_ > 0 && kill(pid_, 0) == 0; }
  // Sends `sig` and returns the exit code (-1 if killed by a signal).
  int Stop(int sig = SIGTERM) {
    if (pid_ <= 0) return -1;
    kill(pid_, sig);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  std::string output() const { return Slurp(out_path_); }
  std::string errors() const { return Slurp(out_path_ + ".err"); }
  // "127.0.0.1:<port>" from "ironbus listening on <addr>, data dir ...".
  std::string addr() const {
    const std::string out = output();
    const std::string marker = "ironbus listening on ";
    const size_t at = out.find(marker);
    if (at == std::string::npos) return "";
    const size_t end = out.find(',', at);
    return out.substr(at + marker.size(), end - at - marker.size());
  }

 private:
  pid_t pid_ = -1;
  std::string out_path_;
};

// Writes `count` records ("record-<i>" payloads, key "k<i>") through the real open path and
// closes cleanly. Small segments so the log has several sealed ones.
inline void WriteLog(const std::string& dir, int count, uint64_t segment_bytes = 4096) {
  recovery::RecoveryOptions ro;
  ro.max_segment_bytes = segment_bytes;
  storage::LogOptions lo;
  lo.max_segment_bytes = segment_bytes;
  lo.compression = format::Compression::kNone;
  auto opened = recovery::OpenDataDir(&io::DefaultFileSystem(), dir, ro, lo, SystemClock::Default());
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  for (int i = 0; i < count; ++i) {
    const std::string payload = "record-" + std::to_string(i);
    const std::string key = "k" + std::to_string(i);
    storage::AppendRecord rec;
    rec.key = AsBytes(key);
    rec.payload = AsBytes(payload);
    ASSERT_TRUE(opened->log->Append(rec).ok());
  }
  ASSERT_TRUE(opened->log->Close().ok());
}

inline void FlipByte(const std::string& path, uint64_t pos) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(pos));
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x40);
  f.seekp(static_cast<std::streamoff>(pos));
  f.write(&c, 1);
}

}  // namespace ironbus::cli::testing
