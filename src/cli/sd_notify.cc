#include "cli/sd_notify.h"

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>

namespace ironbus::cli {

bool SdNotifyTo(std::string_view socket_name, std::string_view state) {
  if (socket_name.empty() || state.empty()) return false;
  if (socket_name.front() != '/' && socket_name.front() != '@') return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  // A path needs room for its NUL; an abstract name uses every byte after the leading NUL.
  if (socket_name.size() >= sizeof(addr.sun_path)) return false;
  std::memcpy(addr.sun_path, socket_name.data(), socket_name.size());
  socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket_name.size());
  if (socket_name.front() == '@') {
    addr.sun_path[0] = '\0';
  } else {
    len += 1;  // the terminating NUL, as systemd's own clients send it
  }
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  // A wedged service manager must not wedge the signal thread: give up after 2 s.
  timeval timeout{};
  timeout.tv_sec = 2;
  (void)::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  ssize_t sent = -1;
  do {
    sent = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(&addr), len);
  } while (sent < 0 && errno == EINTR);
  ::close(fd);
  return sent == static_cast<ssize_t>(state.size());
}

bool SdNotify(std::string_view state) {
  const char* socket_name = std::getenv("NOTIFY_SOCKET");
  if (socket_name == nullptr || *socket_name == '\0') return false;
  return SdNotifyTo(socket_name, state);
}

uint64_t MonotonicUsec() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000u + static_cast<uint64_t>(ts.tv_nsec) / 1000u;
}

void SdNotifyReload(const std::function<void()>& reload) {
  SdNotify("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(MonotonicUsec()) + "\nSTATUS=reloading the configuration");
  reload();
  // Reload() reports its verdict on stderr (journald); the broker keeps serving either way.
  SdNotify("READY=1\nSTATUS=serving (configuration reload handled, see the log)");
}

namespace {

std::optional<uint64_t> ParseDecimal(const char* text) {
  if (text == nullptr || *text == '\0') return std::nullopt;
  const char* end = text + std::strlen(text);
  uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(text, end, value);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

}  // namespace

std::optional<std::chrono::microseconds> WatchdogInterval(const char* watchdog_usec, const char* watchdog_pid,
                                                          pid_t self) {
  const std::optional<uint64_t> usec = ParseDecimal(watchdog_usec);
  // Zero disables; anything past ~292 years is not a real interval.
  if (!usec || *usec == 0 || *usec > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
  if (watchdog_pid != nullptr && *watchdog_pid != '\0') {
    const std::optional<uint64_t> pid = ParseDecimal(watchdog_pid);
    if (!pid || *pid != static_cast<uint64_t>(self)) return std::nullopt;  // meant for another process
  }
  return std::chrono::microseconds(static_cast<int64_t>(*usec));
}

std::optional<std::chrono::microseconds> WatchdogIntervalFromEnv() {
  return WatchdogInterval(std::getenv("WATCHDOG_USEC"), std::getenv("WATCHDOG_PID"), ::getpid());
}

struct SdWatchdog::State {
  std::mutex mu;
  std::condition_variable cv;
  bool stop = false;
  bool answered = false;  // the outstanding probe ran
  uint64_t pings = 0;
  uint64_t missed = 0;
  std::thread thread;
};

namespace {

void WatchdogLoop(const std::shared_ptr<SdWatchdog::State>& s, std::chrono::microseconds interval,
                  const SdWatchdog::Probe& probe, const SdWatchdog::Notify& notify) {
  using Clock = std::chrono::steady_clock;
  const auto tick = std::max<Clock::duration>(interval / 2, std::chrono::milliseconds(1));
  auto next = Clock::now();
  bool outstanding = false;  // a probe was posted and has not run yet
  bool degraded = false;     // the last tick missed: STATUS says so until a probe answers again
  std::unique_lock<std::mutex> lock(s->mu);
  while (!s->stop) {
    if (!outstanding) {
      s->answered = false;
      outstanding = true;
      lock.unlock();
      // The callback holds its own reference: it may run after Stop() (or never, once the
      // broker stopped).
      probe([s] {
        std::lock_guard<std::mutex> guard(s->mu);
        s->answered = true;
        s->cv.notify_all();
      });
      lock.lock();
    }
    next += tick;
    const auto now = Clock::now();
    if (next < now) next = now + tick;  // the host slept or the thread was starved: no burst
    s->cv.wait_until(lock, next, [&s] { return s->stop || s->answered; });
    if (s->stop) break;
    if (s->answered) {
      outstanding = false;
      const bool recovered = degraded;
      degraded = false;
      lock.unlock();
      const bool sent = notify(recovered ? "WATCHDOG=1\nSTATUS=serving (io threads answer again)" : "WATCHDOG=1");
      lock.lock();
      if (sent) ++s->pings;
      // Keep the cadence: the next probe goes out at the next tick, not right away.
      s->cv.wait_until(lock, next, [&s] { return s->stop; });
    } else {
      ++s->missed;
      if (!degraded) {
        degraded = true;
        lock.unlock();
        (void)notify("STATUS=watchdog: the io threads did not answer a probe; not pinging");
        lock.lock();
      }
    }
  }
}

}  // namespace

SdWatchdog::SdWatchdog(std::chrono::microseconds interval, Probe probe, Notify notify)
    : state_(std::make_shared<State>()) {
  state_->thread = std::thread([s = state_, interval, probe = std::move(probe), notify = std::move(notify)] {
    WatchdogLoop(s, interval, probe, notify);
  });
}

SdWatchdog::~SdWatchdog() { Stop(); }

std::unique_ptr<SdWatchdog> SdWatchdog::StartFromEnv(Probe probe) {
  const char* socket_name = std::getenv("NOTIFY_SOCKET");
  if (socket_name == nullptr || *socket_name == '\0') return nullptr;
  const auto interval = WatchdogIntervalFromEnv();
  if (!interval) return nullptr;
  return std::make_unique<SdWatchdog>(*interval, std::move(probe));
}

void SdWatchdog::Stop() {
  {
    std::lock_guard<std::mutex> guard(state_->mu);
    state_->stop = true;
    state_->cv.notify_all();
  }
  if (state_->thread.joinable()) state_->thread.join();
}

uint64_t SdWatchdog::pings_sent() const {
  std::lock_guard<std::mutex> guard(state_->mu);
  return state_->pings;
}

uint64_t SdWatchdog::ticks_missed() const {
  std::lock_guard<std::mutex> guard(state_->mu);
  return state_->missed;
}

}  // namespace ironbus::cli
