// The accept-time gate of preauth.h. Times are monotonic nanoseconds; the bucket counts
// milli-tokens so a rate of 10/s refills 1 milli-token every 100 us without floating point.
#include "security/preauth.h"

#include <algorithm>

namespace ironbus::security {
namespace {
constexpr int64_t kNsPerMs = 1'000'000;
}  // namespace

std::string_view PreauthVerdictName(PreauthVerdict v) {
  switch (v) {
    case PreauthVerdict::kAdmit: return "admit";
    case PreauthVerdict::kLockedOut: return "locked_out";
    case PreauthVerdict::kRateLimited: return "rate_limited";
    case PreauthVerdict::kHalfOpenCap: return "half_open_cap";
  }
  return "admit";
}

PreauthGate::Slot& PreauthGate::Slot::operator=(Slot&& o) noexcept {
  if (this != &o) {
    Release();
    gate_ = o.gate_;
    o.gate_ = nullptr;
  }
  return *this;
}

void PreauthGate::Slot::Release() {
  if (gate_ != nullptr) gate_->ReleaseHalfOpen();
  gate_ = nullptr;
}

PreauthGate::PreauthGate(PreauthOptions options, const Clock* clock) : options_([&] {
  if (options.burst == 0) options.burst = 1;
  if (options.max_tracked_ips == 0) options.max_tracked_ips = 1;
  if (options.lockout_max_ms < options.lockout_base_ms) options.lockout_max_ms = options.lockout_base_ms;
  return options;
}()), clock_(clock) {}

PreauthGate::Entry& PreauthGate::Touch(const std::string& ip, int64_t now_ns) {
  auto it = table_.find(ip);
  if (it != table_.end()) {
    lru_.splice(lru_.end(), lru_, it->second.lru);  // most recently seen goes to the back
    return it->second;
  }
  if (table_.size() >= options_.max_tracked_ips) {
    table_.erase(lru_.front());
    lru_.pop_front();
  }
  lru_.push_back(ip);
  Entry& e = table_[ip];
  e.lru = std::prev(lru_.end());
  e.tokens_milli = int64_t{options_.burst} * 1000;  // a new bucket starts full
  e.refill_ns = now_ns;
  return e;
}

void PreauthGate::Refill(Entry& e, int64_t now_ns) const {
  const int64_t cap = int64_t{options_.burst} * 1000;
  const int64_t rate = options_.rate_per_sec;  // milli-tokens per millisecond
  if (e.tokens_milli >= cap || now_ns <= e.refill_ns) {
    if (e.tokens_milli >= cap) e.refill_ns = now_ns;  // a full bucket banks no time
    return;
  }
  // ns needed to fill from empty, to keep the product below in range.
  const int64_t fill_ns = cap * kNsPerMs / rate + 1;
  const int64_t elapsed = now_ns - e.refill_ns;
  if (elapsed >= fill_ns) {
    e.tokens_milli = cap;
    e.refill_ns = now_ns;
    return;
  }
  // milli-tokens = elapsed_ns * rate [tokens/s] * 1000 / 1e9 ; keep the remainder of time.
  const int64_t add = elapsed * rate / kNsPerMs;
  e.tokens_milli = std::min(cap, e.tokens_milli + add);
  e.refill_ns += add * kNsPerMs / rate;
  if (e.tokens_milli >= cap) e.refill_ns = now_ns;
}

bool PreauthGate::TakeHalfOpen() {
  const uint32_t cap = options_.max_preauth_connections;
  uint32_t cur = half_open_.load(std::memory_order_relaxed);
  do {
    if (cap != 0 && cur >= cap) return false;
  } while (!half_open_.compare_exchange_weak(cur, cur + 1, std::memory_order_acq_rel, std::memory_order_relaxed));
  return true;
}

PreauthGate::Admission PreauthGate::Admit(std::string_view ip) {
  Admission a;
  if (TracksIps()) {
    const int64_t now = clock_->MonotonicNanos();
    std::lock_guard<std::mutex> lock(mu_);
    Entry& e = Touch(std::string(ip), now);
    if (options_.lockout_failures > 0 && now < e.locked_until_ns) {
      locked_out_.fetch_add(1, std::memory_order_relaxed);
      a.verdict = PreauthVerdict::kLockedOut;
      return a;
    }
    if (options_.rate_per_sec > 0) {
      Refill(e, now);
      if (e.tokens_milli < 1000) {
        rate_limited_.fetch_add(1, std::memory_order_relaxed);
        a.verdict = PreauthVerdict::kRateLimited;
        return a;
      }
      e.tokens_milli -= 1000;
    }
  }
  if (!TakeHalfOpen()) {
    half_open_cap_.fetch_add(1, std::memory_order_relaxed);
    a.verdict = PreauthVerdict::kHalfOpenCap;
    return a;
  }
  admitted_.fetch_add(1, std::memory_order_relaxed);
  a.slot = Slot(this);
  return a;
}

void PreauthGate::RecordAuthFailure(std::string_view ip) {
  if (options_.lockout_failures == 0) return;
  const int64_t now = clock_->MonotonicNanos();
  const int64_t window_ns = options_.failure_window_ms * kNsPerMs;
  std::lock_guard<std::mutex> lock(mu_);
  Entry& e = Touch(std::string(ip), now);
  if (e.failures == 0 || now - e.window_start_ns >= window_ns) {
    e.window_start_ns = now;
    e.failures = 0;
  }
  if (++e.failures < options_.lockout_failures) return;
  // A lockout. A whole quiet window since the last one ended resets the escalation.
  if (e.lockout_level > 0 && now - e.locked_until_ns >= window_ns) e.lockout_level = 0;
  int64_t cooldown_ms = options_.lockout_base_ms;
  for (uint32_t i = 0; i < e.lockout_level && cooldown_ms < options_.lockout_max_ms; ++i) cooldown_ms *= 2;
  cooldown_ms = std::min(cooldown_ms, options_.lockout_max_ms);
  e.locked_until_ns = now + cooldown_ms * kNsPerMs;
  if (cooldown_ms < options_.lockout_max_ms) ++e.lockout_level;
  e.failures = 0;
}

void PreauthGate::RecordAuthSuccess(std::string_view ip) {
  if (!TracksIps()) return;
  std::lock_guard<std::mutex> lock(mu_);
  (void)Touch(std::string(ip), clock_->MonotonicNanos());
}

uint64_t PreauthGate::rejected(PreauthVerdict reason) const {
  switch (reason) {
    case PreauthVerdict::kAdmit: return admitted_.load(std::memory_order_relaxed);
    case PreauthVerdict::kLockedOut: return locked_out_.load(std::memory_order_relaxed);
    case PreauthVerdict::kRateLimited: return rate_limited_.load(std::memory_order_relaxed);
    case PreauthVerdict::kHalfOpenCap: return half_open_cap_.load(std::memory_order_relaxed);
  }
  return 0;
}

size_t PreauthGate::tracked_ips() const {
  std::lock_guard<std::mutex> lock(mu_);
  return table_.size();
}

int64_t PreauthGate::LockoutRemainingMs(std::string_view ip) const {
  const int64_t now = clock_->MonotonicNanos();
  std::lock_guard<std::mutex> lock(mu_);
  const auto it = table_.find(std::string(ip));
  if (it == table_.end() || now >= it->second.locked_until_ns) return 0;
  return (it->second.locked_until_ns - now + kNsPerMs - 1) / kNsPerMs;
}

}  // namespace ironbus::security
