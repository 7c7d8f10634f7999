// cli/sd_notify: the datagrams reach a real AF_UNIX socket (path and abstract), the watchdog
// pings only while its probe answers, and the real `ironbus serve` tells a service manager
// READY=1, RELOADING=1/READY=1 around SIGHUP and STOPPING=1 on SIGTERM.
#include "cli/sd_notify.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "io/temp_dir.h"

extern char** environ;

namespace ironbus::cli {
namespace {

using namespace std::chrono_literals;

// The service manager's end: a bound AF_UNIX datagram socket. `name` is a path or "@abstract".
class NotifyReceiver {
 public:
  explicit NotifyReceiver(std::string name) : name_(std::move(name)) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    EXPECT_GE(fd_, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    EXPECT_LT(name_.size(), sizeof(addr.sun_path));
    std::memcpy(addr.sun_path, name_.data(), name_.size());
    socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name_.size());
    if (name_.front() == '@') {
      addr.sun_path[0] = '\0';
    } else {
      len += 1;
    }
    EXPECT_EQ(::bind(fd_, reinterpret_cast<const sockaddr*>(&addr), len), 0) << std::strerror(errno);
  }
  ~NotifyReceiver() {
    if (fd_ >= 0) ::close(fd_);
  }
  const std::string& name() const { return name_; }

  // One datagram, or nothing within `timeout`.
  std::optional<std::string> Receive(std::chrono::milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return std::nullopt;
    char buf[4096];
    const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n < 0) return std::nullopt;
    std::string message(buf, static_cast<size_t>(n));
    seen_.push_back(message);
    return message;
  }
  // The first datagram with a line equal to `line` (others are kept in seen()).
  std::optional<std::string> WaitForLine(const std::string& line, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      auto m = Receive(left);
      if (!m) return std::nullopt;
      if (HasLine(*m, line)) return m;
    }
  }
  static bool HasLine(const std::string& message, const std::string& line) {
    std::istringstream in(message);
    for (std::string l; std::getline(in, l);) {
      if (l == line) return true;
    }
    return false;
  }
  static std::optional<std::string> Value(const std::string& message, const std::string& key) {
    std::istringstream in(message);
    for (std::string l; std::getline(in, l);) {
      if (l.rfind(key + "=", 0) == 0) return l.substr(key.size() + 1);
    }
    return std::nullopt;
  }
  const std::vector<std::string>& seen() const { return seen_; }

 private:
  std::string name_;
  int fd_ = -1;
  std::vector<std::string> seen_;
};

std::string AbstractName() {
  static std::atomic<int> n{0};
  return "@ironbus-sd-notify-test-" + std::to_string(::getpid()) + "-" + std::to_string(++n);
}

class SdNotifyTest : public ::testing::Test {
 protected:
  void TearDown() override { ::unsetenv("NOTIFY_SOCKET"); }
  io::testing::TempDir scratch_;
};

TEST_F(SdNotifyTest, UnsetOrEmptyNotifySocketIsANoOp) {
  ::unsetenv("NOTIFY_SOCKET");
  EXPECT_FALSE(SdNotify("READY=1"));
  ::setenv("NOTIFY_SOCKET", "", 1);
  EXPECT_FALSE(SdNotify("READY=1"));
  EXPECT_EQ(SdWatchdog::StartFromEnv([](std::function<void()> done) { done(); }), nullptr);
}

TEST_F(SdNotifyTest, SendsToAPathSocket) {
  NotifyReceiver rx(scratch_.path() + "/notify");
  ::setenv("NOTIFY_SOCKET", rx.name().c_str(), 1);
  ASSERT_TRUE(SdNotify("READY=1\nSTATUS=serving"));
  auto m = rx.Receive(2000ms);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(*m, "READY=1\nSTATUS=serving");
}

TEST_F(SdNotifyTest, SendsToAnAbstractSocket) {
  NotifyReceiver rx(AbstractName());
  ::setenv("NOTIFY_SOCKET", rx.name().c_str(), 1);
  ASSERT_TRUE(SdNotify("STOPPING=1"));
  auto m = rx.Receive(2000ms);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(*m, "STOPPING=1");
}

TEST_F(SdNotifyTest, RefusesNamesItCannotAddress) {
  EXPECT_FALSE(SdNotifyTo("", "READY=1"));
  EXPECT_FALSE(SdNotifyTo("relative/notify", "READY=1"));
  EXPECT_FALSE(SdNotifyTo("/" + std::string(200, 'x'), "READY=1"));
  EXPECT_FALSE(SdNotifyTo(scratch_.path() + "/nobody-listens", "READY=1"));  // ENOENT, not a crash
  EXPECT_FALSE(SdNotifyTo(scratch_.path() + "/notify", ""));
}

TEST_F(SdNotifyTest, ReloadIsBracketedByReloadingAndReady) {
  NotifyReceiver rx(scratch_.path() + "/notify");
  ::setenv("NOTIFY_SOCKET", rx.name().c_str(), 1);
  const uint64_t before = MonotonicUsec();
  bool ran = false;
  std::optional<std::string> during;
  SdNotifyReload([&] {
    ran = true;
    during = rx.Receive(2000ms);  // RELOADING=1 is already out when the reload runs
  });
  const uint64_t after = MonotonicUsec();
  EXPECT_TRUE(ran);
  ASSERT_TRUE(during.has_value());
  EXPECT_TRUE(NotifyReceiver::HasLine(*during, "RELOADING=1")) << *during;
  auto usec = NotifyReceiver::Value(*during, "MONOTONIC_USEC");
  ASSERT_TRUE(usec.has_value()) << *during;
  const uint64_t stamp = std::stoull(*usec);
  EXPECT_GE(stamp, before);
  EXPECT_LE(stamp, after);
  auto ready = rx.Receive(2000ms);
  ASSERT_TRUE(ready.has_value());
  EXPECT_TRUE(NotifyReceiver::HasLine(*ready, "READY=1")) << *ready;
  EXPECT_TRUE(NotifyReceiver::Value(*ready, "STATUS").has_value()) << *ready;
}

TEST(SdWatchdogInterval, ReadsUsecAndHonoursThePid) {
  const pid_t self = 4242;
  EXPECT_EQ(WatchdogInterval(nullptr, nullptr, self), std::nullopt);
  EXPECT_EQ(WatchdogInterval("", nullptr, self), std::nullopt);
  EXPECT_EQ(WatchdogInterval("0", nullptr, self), std::nullopt);
  EXPECT_EQ(WatchdogInterval("-5", nullptr, self), std::nullopt);
  EXPECT_EQ(WatchdogInterval("30s", nullptr, self), std::nullopt);
  EXPECT_EQ(WatchdogInterval("99999999999999999999999", nullptr, self), std::nullopt);
  EXPECT_EQ(WatchdogInterval("30000000", nullptr, self), std::chrono::microseconds(30000000));
  EXPECT_EQ(WatchdogInterval("30000000", "", self), std::chrono::microseconds(30000000));
  EXPECT_EQ(WatchdogInterval("30000000", "4242", self), std::chrono::microseconds(30000000));
  EXPECT_EQ(WatchdogInterval("30000000", "4243", self), std::nullopt);  // for another process
  EXPECT_EQ(WatchdogInterval("30000000", "abc", self), std::nullopt);
}

TEST_F(SdNotifyTest, StartFromEnvNeedsBothTheSocketAndTheInterval) {
  NotifyReceiver rx(scratch_.path() + "/notify");
  ::setenv("NOTIFY_SOCKET", rx.name().c_str(), 1);
  ::unsetenv("WATCHDOG_USEC");
  EXPECT_EQ(SdWatchdog::StartFromEnv([](std::function<void()> done) { done(); }), nullptr);
  ::setenv("WATCHDOG_USEC", "100000", 1);
  ::setenv("WATCHDOG_PID", std::to_string(::getpid() + 1).c_str(), 1);
  EXPECT_EQ(SdWatchdog::StartFromEnv([](std::function<void()> done) { done(); }), nullptr);
  ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
  auto watchdog = SdWatchdog::StartFromEnv([](std::function<void()> done) { done(); });
  ASSERT_NE(watchdog, nullptr);
  EXPECT_TRUE(rx.WaitForLine("WATCHDOG=1", 2000ms).has_value());
  watchdog.reset();
  ::unsetenv("WATCHDOG_USEC");
  ::unsetenv("WATCHDOG_PID");
}

// A probe that answers from another thread, like an io thread would.
TEST_F(SdNotifyTest, WatchdogPingsAtHalfTheIntervalWhileTheProbeAnswers) {
  NotifyReceiver rx(scratch_.path() + "/notify");
  const std::string socket_name = rx.name();
  std::atomic<int> probes{0};
  SdWatchdog watchdog(
      200ms,
      [&probes](std::function<void()> done) {
        ++probes;
        std::thread(std::move(done)).detach();
      },
      [socket_name](std::string_view state) { return SdNotifyTo(socket_name, state); });
  const auto start = std::chrono::steady_clock::now();
  int pings = 0;
  while (pings < 5) {
    auto m = rx.WaitForLine("WATCHDOG=1", 2000ms);
    ASSERT_TRUE(m.has_value()) << "after " << pings << " ping(s)";
    ++pings;
  }
  const auto elapsed = std::chrono::steady_clock::now() - start;
  // 5 pings at 100 ms: about 400 ms after the first; never a burst, never a stall.
  EXPECT_GE(elapsed, 300ms);
  EXPECT_LT(elapsed, 3000ms);
  watchdog.Stop();
  EXPECT_GE(watchdog.pings_sent(), 5u);
  EXPECT_EQ(watchdog.ticks_missed(), 0u);
}

TEST_F(SdNotifyTest, WatchdogIsSilentWhileTheProbeHangsAndPostsOnlyOneProbe) {
  NotifyReceiver rx(scratch_.path() + "/notify");
  const std::string socket_name = rx.name();
  std::mutex mu;
  std::vector<std::function<void()>> parked;  // the "stuck io thread" never runs these
  SdWatchdog watchdog(
      100ms,
      [&](std::function<void()> done) {
        std::lock_guard<std::mutex> guard(mu);
        parked.push_back(std::move(done));
      },
      [socket_name](std::string_view state) { return SdNotifyTo(socket_name, state); });
  // One STATUS line says why the pings stopped; no WATCHDOG=1 at all.
  const auto deadline = std::chrono::steady_clock::now() + 600ms;
  while (std::chrono::steady_clock::now() < deadline) (void)rx.Receive(50ms);
  for (const std::string& m : rx.seen()) EXPECT_FALSE(NotifyReceiver::HasLine(m, "WATCHDOG=1")) << m;
  ASSERT_EQ(rx.seen().size(), 1u);
  EXPECT_TRUE(NotifyReceiver::Value(rx.seen()[0], "STATUS").has_value());
  EXPECT_GE(watchdog.ticks_missed(), 3u);
  {
    std::lock_guard<std::mutex> guard(mu);
    EXPECT_EQ(parked.size(), 1u);  // no pile-up behind a stuck thread
    // The io thread comes back: the parked probe runs, and the pings resume.
    for (auto& done : parked) done();
    parked.clear();
  }
  auto resumed = rx.WaitForLine("WATCHDOG=1", 2000ms);
  ASSERT_TRUE(resumed.has_value());
  EXPECT_TRUE(NotifyReceiver::Value(*resumed, "STATUS").has_value()) << *resumed;
  watchdog.Stop();
}

TEST_F(SdNotifyTest, AProbeThatRunsAfterStopIsHarmless) {
  std::function<void()> late;
  {
    SdWatchdog watchdog(
        50ms, [&late](std::function<void()> done) { late = std::move(done); },
        [](std::string_view) { return true; });
    std::this_thread::sleep_for(20ms);
    watchdog.Stop();
  }
  ASSERT_TRUE(static_cast<bool>(late));
  late();  // the watchdog is gone; the callback owns what it touches
}

// ---- the real binary under a fake service manager ----

class ServeUnderNotify : public ::testing::Test {
 protected:
  ~ServeUnderNotify() override {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
  }
  void Start(const std::string& notify_socket, const std::string& watchdog_usec) {
    const std::string dir = scratch_.path();
    config_ = dir + "/ironbus.toml";
    std::ofstream(config_) << "[delivery]\nmax_deliver = 5\n";
    out_ = dir + "/serve.out";
    err_ = dir + "/serve.err";
    // Everything the child needs is built before fork.
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string kv(*e);
      if (kv.rfind("NOTIFY_SOCKET=", 0) == 0 || kv.rfind("WATCHDOG_", 0) == 0) continue;
      env.push_back(kv);
    }
    env.push_back("NOTIFY_SOCKET=" + notify_socket);
    env.push_back("WATCHDOG_USEC=" + watchdog_usec);
    std::vector<std::string> args = {IRONBUS_BINARY, "serve", "--config", config_, "--data-dir", dir + "/data",
                                     "--addr", "127.0.0.1:0"};
    std::vector<char*> argv, envp;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    pid_ = ::fork();
    ASSERT_GE(pid_, 0);
    if (pid_ == 0) {
      if (!std::freopen(out_.c_str(), "w", stdout)) _exit(127);
      if (!std::freopen(err_.c_str(), "w", stderr)) _exit(127);
      ::execve(IRONBUS_BINARY, argv.data(), envp.data());
      _exit(127);
    }
  }
  int Wait() {
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  static std::string Slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  io::testing::TempDir scratch_;
  std::string config_, out_, err_;
  pid_t pid_ = -1;
};

TEST_F(ServeUnderNotify, ReadyReloadingStoppingAndWatchdog) {
  NotifyReceiver rx(scratch_.path() + "/notify");
  Start(rx.name(), "1000000");  // WatchdogSec=1s: a ping every 500 ms
  auto ready = rx.WaitForLine("READY=1", 30000ms);
  ASSERT_TRUE(ready.has_value()) << Slurp(err_);
  // READY=1 comes after the banner: the port is bound and announced.
  EXPECT_NE(Slurp(out_).find("ironbus listening on 127.0.0.1:"), std::string::npos) << Slurp(out_);
  auto status = NotifyReceiver::Value(*ready, "STATUS");
  ASSERT_TRUE(status.has_value()) << *ready;
  EXPECT_NE(status->find("serving on 127.0.0.1:"), std::string::npos) << *status;
  ASSERT_TRUE(rx.WaitForLine("WATCHDOG=1", 5000ms).has_value());

  const uint64_t before = MonotonicUsec();
  ASSERT_EQ(::kill(pid_, SIGHUP), 0);
  auto reloading = rx.WaitForLine("RELOADING=1", 10000ms);
  ASSERT_TRUE(reloading.has_value()) << Slurp(err_);
  auto usec = NotifyReceiver::Value(*reloading, "MONOTONIC_USEC");
  ASSERT_TRUE(usec.has_value()) << *reloading;
  EXPECT_GE(std::stoull(*usec), before);  // the same CLOCK_MONOTONIC as systemd's
  EXPECT_LE(std::stoull(*usec), MonotonicUsec());
  ASSERT_TRUE(rx.WaitForLine("READY=1", 10000ms).has_value()) << Slurp(err_);
  // Still serving and still pinging after the reload.
  ASSERT_TRUE(rx.WaitForLine("WATCHDOG=1", 5000ms).has_value());

  ASSERT_EQ(::kill(pid_, SIGTERM), 0);
  ASSERT_TRUE(rx.WaitForLine("STOPPING=1", 10000ms).has_value()) << Slurp(err_);
  EXPECT_EQ(Wait(), 0) << Slurp(err_);
  // Nothing after STOPPING=1 but what was already queued: no READY=1 or WATCHDOG=1 once
  // the drain started.
  bool stopping_seen = false;
  for (const std::string& m : rx.seen()) {
    if (NotifyReceiver::HasLine(m, "STOPPING=1")) stopping_seen = true;
  }
  EXPECT_TRUE(stopping_seen);
  while (auto m = rx.Receive(100ms)) {
    EXPECT_FALSE(NotifyReceiver::HasLine(*m, "READY=1")) << *m;
    EXPECT_FALSE(NotifyReceiver::HasLine(*m, "WATCHDOG=1")) << *m;
  }
}

TEST_F(ServeUnderNotify, AbstractSocketAndNoWatchdogWhenTheIntervalIsZero) {
  NotifyReceiver rx(AbstractName());
  Start(rx.name(), "0");
  ASSERT_TRUE(rx.WaitForLine("READY=1", 30000ms).has_value()) << Slurp(err_);
  auto m = rx.WaitForLine("WATCHDOG=1", 1500ms);
  EXPECT_FALSE(m.has_value());
  ASSERT_EQ(::kill(pid_, SIGTERM), 0);
  ASSERT_TRUE(rx.WaitForLine("STOPPING=1", 10000ms).has_value()) << Slurp(err_);
  EXPECT_EQ(Wait(), 0) << Slurp(err_);
}

}  // namespace
}  // namespace ironbus::cli
