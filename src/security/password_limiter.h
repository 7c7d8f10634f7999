// PasswordVerifyLimiter: at most N Argon2id verifies at once (spec/security.md 2.2, decided:
// `--max-concurrent-password-verifies`, default 2). Each verify holds about 19 MiB; without a
// bound, 128 half-open connections presenting passwords would need about 2.4 GiB.
//
// Waiters are served first come, first served. Acquire blocks the calling thread, so the server
// calls it off its io threads (where it runs the verify anyway). A waiting connection still holds
// its half-open slot (preauth.h), which is what bounds the queue.
//
//   PasswordVerifyLimiter::Permit permit = limiter.Acquire(std::chrono::seconds(10));
//   if (!permit) -> auth failure (audit reason: verify queue timeout)
//   AuthResult r = table->AuthenticatePassword(user, password);   // permit released at scope end
//
// Thread safety: every method is safe to call concurrently. The limiter must outlive its permits.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>

namespace ironbus::security {

class PasswordVerifyLimiter {
 public:
  // 0 = no bound (every Acquire succeeds at once).
  explicit PasswordVerifyLimiter(uint32_t max_concurrent = 2) : max_(max_concurrent) {}
  PasswordVerifyLimiter(const PasswordVerifyLimiter&) = delete;
  PasswordVerifyLimiter& operator=(const PasswordVerifyLimiter&) = delete;

  // RAII hold of one verify slot; empty when the wait timed out.
  class Permit {
   public:
    Permit() = default;
    Permit(Permit&& o) noexcept : owner_(o.owner_) { o.owner_ = nullptr; }
    Permit& operator=(Permit&& o) noexcept;
    Permit(const Permit&) = delete;
    Permit& operator=(const Permit&) = delete;
    ~Permit() { Release(); }
    explicit operator bool() const { return owner_ != nullptr; }
    void Release();

   private:
    friend class PasswordVerifyLimiter;
    explicit Permit(PasswordVerifyLimiter* owner) : owner_(owner) {}
    PasswordVerifyLimiter* owner_ = nullptr;
  };

  Permit Acquire(std::chrono::milliseconds timeout);

  uint32_t in_use() const;
  size_t waiting() const;
  uint64_t timeouts() const;

 private:
  struct Waiter {
    bool granted = false;
  };
  void ReleaseOne();

  const uint32_t max_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  uint32_t in_use_ = 0;        // GUARDED_BY(mu_)
  std::deque<Waiter*> queue_;  // GUARDED_BY(mu_), FIFO
  uint64_t timeouts_ = 0;      // GUARDED_BY(mu_)
};

}  // namespace ironbus::security
