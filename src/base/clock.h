// Clock seam (invariant I6): the wall clock gives record timestamps and retention age, the
// monotonic clock gives durations and windows. Neither ever orders records. Tests inject
// ManualClock so lease expiry, retention age and flush intervals are deterministic.
//
// Thread safety: SystemClock is stateless; ManualClock is safe to read and advance from any thread.
#pragma once

#include <atomic>
#include <cstdint>

namespace ironbus {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t NowUnixMs() const = 0;      // wall clock, milliseconds since the Unix epoch
  virtual int64_t MonotonicNanos() const = 0;  // monotonic, arbitrary origin
};

class SystemClock final : public Clock {
 public:
  int64_t NowUnixMs() const override;
  int64_t MonotonicNanos() const override;
  static SystemClock* Default();
};

class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t unix_ms = 1'700'000'000'000, int64_t mono_ns = 0)
      : unix_ms_(unix_ms), mono_ns_(mono_ns) {}
  int64_t NowUnixMs() const override { return unix_ms_.load(); }
  int64_t MonotonicNanos() const override { return mono_ns_.load(); }
  void AdvanceMs(int64_t ms) {
    unix_ms_ += ms;
    mono_ns_ += ms * 1'000'000;
  }
  void SetUnixMs(int64_t ms) { unix_ms_ = ms; }

 private:
  std::atomic<int64_t> unix_ms_;
  std::atomic<int64_t> mono_ns_;
};

}  // namespace ironbus
