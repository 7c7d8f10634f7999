// spec/security.md 2.2 (decided): at most N Argon2id verifies at once, the rest wait in order.
#include "security/password_limiter.h"

#include <gtest/gtest.h>

#include <mutex>
#include <thread>
#include <vector>

namespace ironbus::security {
namespace {

using namespace std::chrono_literals;

TEST(PasswordLimiterTest, AtMostNAtOnceAndTimeouts) {
  PasswordVerifyLimiter lim(2);
  auto a = lim.Acquire(0ms);
  auto b = lim.Acquire(0ms);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(lim.in_use(), 2u);
  auto c = lim.Acquire(20ms);
  EXPECT_FALSE(c);
  EXPECT_EQ(lim.timeouts(), 1u);
  EXPECT_EQ(lim.waiting(), 0u);  // the timed-out waiter left the queue
  a.Release();
  auto d = lim.Acquire(0ms);
  EXPECT_TRUE(d);
}

TEST(PasswordLimiterTest, WaitersAreServedInArrivalOrder) {
  PasswordVerifyLimiter lim(1);
  auto first = lim.Acquire(0ms);
  ASSERT_TRUE(first);
  std::mutex mu;
  std::vector<int> order;
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      auto p = lim.Acquire(10s);
      ASSERT_TRUE(p);
      std::lock_guard<std::mutex> lock(mu);
      order.push_back(i);
    });
    // Queue them one by one so arrival order is known.
    while (lim.waiting() != static_cast<size_t>(i + 1)) std::this_thread::yield();
  }
  first.Release();
  for (auto& t : threads) t.join();
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(lim.in_use(), 0u);
}

TEST(PasswordLimiterTest, ZeroMeansUnbounded) {
  PasswordVerifyLimiter lim(0);
  std::vector<PasswordVerifyLimiter::Permit> held;
  for (int i = 0; i < 50; ++i) {
    held.push_back(lim.Acquire(0ms));
    ASSERT_TRUE(held.back());
  }
}

}  // namespace
}  // namespace ironbus::security
