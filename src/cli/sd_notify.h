// The systemd readiness protocol without libsystemd (sd_notify(3), "Type=notify" in
// systemd.service(5)): newline-separated VAR=value assignments sent as one datagram to the
// AF_UNIX socket named by $NOTIFY_SOCKET (a path, or an abstract name spelled with a leading
// '@'). Unset or empty NOTIFY_SOCKET makes every call a no-op, so `serve` outside systemd
// behaves exactly as before.
//
// What `serve` sends (docs/operations.md): READY=1 once it listens; RELOADING=1 with
// MONOTONIC_USEC at the start of a SIGHUP reload and READY=1 after it; STOPPING=1 when the
// drain starts; STATUS= lines along the way; WATCHDOG=1 from SdWatchdog while the io threads
// answer a probe.
//
// Standard library and POSIX only: tests/cli/sd_notify_test.cc compiles this file directly.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace ironbus::cli {

// Sends `state` to `socket` ("/run/systemd/notify" or "@abstract"). False when `socket` is
// empty, too long for sockaddr_un or not absolute/abstract, or the send fails; never throws,
// never raises SIGPIPE.
bool SdNotifyTo(std::string_view socket, std::string_view state);
// SdNotifyTo($NOTIFY_SOCKET, state); false (a no-op) when the variable is unset or empty.
bool SdNotify(std::string_view state);
// CLOCK_MONOTONIC in microseconds: the MONOTONIC_USEC= that goes with RELOADING=1.
uint64_t MonotonicUsec();
// Runs `reload` between "RELOADING=1\nMONOTONIC_USEC=<now>" and "READY=1" (with STATUS lines).
void SdNotifyReload(const std::function<void()>& reload);

// The watchdog interval asked for by the service manager: WATCHDOG_USEC (decimal, > 0) when
// WATCHDOG_PID is unset or equals `self`; nothing otherwise (or when malformed).
std::optional<std::chrono::microseconds> WatchdogInterval(const char* watchdog_usec, const char* watchdog_pid,
                                                          pid_t self);
std::optional<std::chrono::microseconds> WatchdogIntervalFromEnv();

// Sends WATCHDOG=1 every `interval / 2`, but only while the service answers: each tick first
// calls `probe(done)` (for serve: server::Broker::PostProbe, which runs `done` on a free io
// thread) and pings only if `done` ran within that half interval. A probe that has not answered
// is never re-posted, so a stuck io thread does not pile probes up; the pings stop, and systemd
// kills and restarts the service after WatchdogSec. `notify` is SdNotify unless a test swaps it.
class SdWatchdog {
 public:
  using Probe = std::function<void(std::function<void()> done)>;
  using Notify = std::function<bool(std::string_view)>;

  SdWatchdog(std::chrono::microseconds interval, Probe probe, Notify notify = SdNotify);
  ~SdWatchdog();  // Stop()
  SdWatchdog(const SdWatchdog&) = delete;
  SdWatchdog& operator=(const SdWatchdog&) = delete;

  // nullptr when WatchdogIntervalFromEnv() is empty or NOTIFY_SOCKET is unset.
  static std::unique_ptr<SdWatchdog> StartFromEnv(Probe probe);
  // Ends and joins the ping thread. Idempotent. A probe still queued may run later; it only
  // touches shared state it owns a reference to.
  void Stop();
  uint64_t pings_sent() const;
  uint64_t ticks_missed() const;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace ironbus::cli
