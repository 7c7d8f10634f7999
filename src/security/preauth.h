// Pre-authentication defences (spec/security.md 4), run by the accept loop after accept() and
// before any byte is read: failed-auth lockout, per-source-IP rate, half-open cap, in that order.
//
//   Admission a = gate.Admit(peer_ip);          // at accept
//   if (a.verdict != PreauthVerdict::kAdmit) -> close now; audit preauth_rejection(ip, reason)
//   ... keep a.slot alive for the handshake; it frees the half-open slot when the handshake
//   succeeds (call a.slot.Release()), fails, or the session dies with it.
//   gate.RecordAuthFailure(peer_ip) / gate.RecordAuthSuccess(peer_ip)   // at the auth outcome
//
// Rules:
//   - Lockout: `lockout_failures` failures from one IP within `failure_window_ms` (a fixed window
//     opened by the first failure) lock the IP out for a cooldown: `lockout_base_ms` (1 s) for
//     the first lockout, doubling for each further one up to `lockout_max_ms` (300 s). The
//     doubling resets when a whole window passes after a lockout ends without a new one
//     (decided; spec 4 "unconfirmed"). The penalty is applied here, at the next Admit, never
//     inside the credential compare.
//   - A success does not forgive earlier failures (decided): a client holding one valid
//     credential cannot reset the count between guesses. It only refreshes the entry's recency.
//   - Rate: token bucket per IP, `rate_per_sec` refill, `burst` capacity (at least 1), starting
//     full; integer milli-token arithmetic on the monotonic clock.
//   - Half-open cap: one atomic counter, compare-and-swap to take a slot; Slot gives it back.
//   - Each setting 0 turns off that defence alone (the half-open count is still kept for metrics).
//   - Per-IP state (bucket and lockout) lives in a table of at most `max_tracked_ips` (4096)
//     entries; when full the least recently seen entry is evicted (which may reset an attacker's
//     bucket; the global half-open cap still bounds work).
//   - Loopback exemption is the caller's: spec 4 applies these defences to non-loopback binds
//     only, so the server does not construct (or does not consult) a gate for a loopback bind.
//   - `ip` is the source address without the port, as the caller spells it; the caller should
//     map IPv4-mapped IPv6 (::ffff:a.b.c.d) to IPv4 so one host has one key.
//
// Thread safety: all methods may be called concurrently. The IP table has one mutex, taken only
// in Admit and Record* (accept and auth outcome, never on the record path); the half-open counter
// and the metric counters are atomics. The gate must outlive its Slots.
#pragma once

#include <atomic>
#include <cstdint>
#include <list>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "base/clock.h"

namespace ironbus::security {

struct PreauthOptions {
  uint32_t max_preauth_connections = 128;  // --max-preauth-connections; 0 = no cap
  uint32_t rate_per_sec = 10;              // --preauth-rate-per-ip; 0 = no rate limit
  uint32_t burst = 10;                     // bucket capacity; raised to 1 if 0
  uint32_t lockout_failures = 5;           // --auth-failure-lockout; 0 = no lockout
  int64_t failure_window_ms = 60'000;      // --auth-failure-window-ms
  int64_t lockout_base_ms = 1'000;         // first cooldown
  int64_t lockout_max_ms = 300'000;        // --auth-lockout-max-ms
  size_t max_tracked_ips = 4096;
};

enum class PreauthVerdict : uint8_t { kAdmit, kLockedOut, kRateLimited, kHalfOpenCap };
// "admit", "locked_out", "rate_limited", "half_open_cap" (the metric and audit reason).
std::string_view PreauthVerdictName(PreauthVerdict v);

class PreauthGate {
 public:
  // `clock` (its MonotonicNanos) must outlive the gate; tests pass a ManualClock.
  PreauthGate(PreauthOptions options, const Clock* clock);
  PreauthGate(const PreauthGate&) = delete;
  PreauthGate& operator=(const PreauthGate&) = delete;

  // One half-open slot; released once (Release() or destruction). Movable.
  class Slot {
   public:
    Slot() = default;
    Slot(Slot&& o) noexcept : gate_(o.gate_) { o.gate_ = nullptr; }
    Slot& operator=(Slot&& o) noexcept;
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot() { Release(); }
    bool held() const { return gate_ != nullptr; }
    void Release();

   private:
    friend class PreauthGate;
    explicit Slot(PreauthGate* gate) : gate_(gate) {}
    PreauthGate* gate_ = nullptr;
  };

  struct Admission {
    PreauthVerdict verdict = PreauthVerdict::kAdmit;
    Slot slot;  // held only when verdict == kAdmit
  };

  Admission Admit(std::string_view ip);
  void RecordAuthFailure(std::string_view ip);
  void RecordAuthSuccess(std::string_view ip);

  // Metrics (relaxed atomic reads).
  uint64_t rejected(PreauthVerdict reason) const;  // kAdmit gives the admitted count
  uint32_t half_open() const { return half_open_.load(std::memory_order_relaxed); }
  size_t tracked_ips() const;
  // Milliseconds of lockout left for `ip` now (0 = not locked); for tests and /admin.
  int64_t LockoutRemainingMs(std::string_view ip) const;

 private:
  struct Entry {
    int64_t tokens_milli = 0;
    int64_t refill_ns = 0;           // time the bucket was last brought up to date
    int64_t window_start_ns = 0;
    uint32_t failures = 0;           // in the current window
    uint32_t lockout_level = 0;      // lockouts so far without a quiet window
    int64_t locked_until_ns = INT64_MIN;
    std::list<std::string>::iterator lru;
  };
  Entry& Touch(const std::string& ip, int64_t now_ns);  // REQUIRES mu_; creates or refreshes
  void Refill(Entry& e, int64_t now_ns) const;
  bool TakeHalfOpen();
  void ReleaseHalfOpen() { half_open_.fetch_sub(1, std::memory_order_acq_rel); }
  bool TracksIps() const { return options_.rate_per_sec > 0 || options_.lockout_failures > 0; }

  const PreauthOptions options_;
  const Clock* const clock_;
  std::atomic<uint32_t> half_open_{0};
  std::atomic<uint64_t> admitted_{0};
  std::atomic<uint64_t> locked_out_{0};
  std::atomic<uint64_t> rate_limited_{0};
  std::atomic<uint64_t> half_open_cap_{0};

  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> table_;  // GUARDED_BY(mu_)
  std::list<std::string> lru_;                    // GUARDED_BY(mu_); front = least recently seen
};

}  // namespace ironbus::security
