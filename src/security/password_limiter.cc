// FIFO handoff: a released slot goes straight to the oldest waiter (granted under the lock), so a
// newcomer can never overtake the queue.
#include "security/password_limiter.h"

#include <algorithm>

namespace ironbus::security {

PasswordVerifyLimiter::Permit& PasswordVerifyLimiter::Permit::operator=(Permit&& o) noexcept {
  if (this != &o) {
    Release();
    owner_ = o.owner_;
    o.owner_ = nullptr;
  }
  return *this;
}

void PasswordVerifyLimiter::Permit::Release() {
  if (owner_ != nullptr) owner_->ReleaseOne();
  owner_ = nullptr;
}

PasswordVerifyLimiter::Permit PasswordVerifyLimiter::Acquire(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  if (max_ == 0 || (in_use_ < max_ && queue_.empty())) {
    ++in_use_;
    return Permit(this);
  }
  Waiter me;
  queue_.push_back(&me);
  const bool granted = cv_.wait_for(lock, timeout, [&] { return me.granted; });
  if (granted) return Permit(this);  // in_use_ was counted for us by the releaser
  queue_.erase(std::find(queue_.begin(), queue_.end(), &me));
  ++timeouts_;
  return Permit();
}

void PasswordVerifyLimiter::ReleaseOne() {
  std::lock_guard<std::mutex> lock(mu_);
  --in_use_;
  if (!queue_.empty() && (max_ == 0 || in_use_ < max_)) {
    queue_.front()->granted = true;
    queue_.pop_front();
    ++in_use_;
    cv_.notify_all();
  }
}

uint32_t PasswordVerifyLimiter::in_use() const {
  std::lock_guard<std::mutex> lock(mu_);
  return in_use_;
}

size_t PasswordVerifyLimiter::waiting() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

uint64_t PasswordVerifyLimiter::timeouts() const {
  std::lock_guard<std::mutex> lock(mu_);
  return timeouts_;
}

}  // namespace ironbus::security
