// spec/security.md 4: lockout timing, the token bucket, the per-IP table cap and the half-open
// cap, all on a ManualClock.
#include "security/preauth.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace ironbus::security {
namespace {

using V = PreauthVerdict;

PreauthOptions LockoutOnly() {
  PreauthOptions o;
  o.rate_per_sec = 0;
  o.max_preauth_connections = 0;
  return o;
}

void FailTimes(PreauthGate& g, const std::string& ip, int n) {
  for (int i = 0; i < n; ++i) g.RecordAuthFailure(ip);
}

TEST(PreauthTest, LockoutEscalatesDoublesCapsAndResetsAfterAQuietWindow) {
  ManualClock clock;
  PreauthGate g(LockoutOnly(), &clock);
  const std::string ip = "203.0.113.9";
  FailTimes(g, ip, 4);
  EXPECT_EQ(g.Admit(ip).verdict, V::kAdmit);  // 4 < 5
  g.RecordAuthFailure(ip);
  EXPECT_EQ(g.Admit(ip).verdict, V::kLockedOut);
  EXPECT_EQ(g.Admit("198.51.100.1").verdict, V::kAdmit);  // per IP
  clock.AdvanceMs(999);
  EXPECT_EQ(g.Admit(ip).verdict, V::kLockedOut);
  clock.AdvanceMs(1);
  EXPECT_EQ(g.Admit(ip).verdict, V::kAdmit);  // first cooldown: 1 s
  // Each further lockout doubles: 2, 4, ..., 256 s, then the 300 s cap.
  for (int64_t expect_ms : {2'000, 4'000, 8'000, 16'000, 32'000, 64'000, 128'000, 256'000, 300'000, 300'000}) {
    FailTimes(g, ip, 5);
    EXPECT_EQ(g.LockoutRemainingMs(ip), expect_ms);
    clock.AdvanceMs(expect_ms - 1);
    EXPECT_EQ(g.Admit(ip).verdict, V::kLockedOut) << expect_ms;
    clock.AdvanceMs(1);
    EXPECT_EQ(g.Admit(ip).verdict, V::kAdmit) << expect_ms;
  }
  // One quiet window (60 s) after the last lockout ended: back to 1 s.
  clock.AdvanceMs(60'000);
  FailTimes(g, ip, 5);
  EXPECT_EQ(g.LockoutRemainingMs(ip), 1'000);
  EXPECT_GT(g.rejected(V::kLockedOut), 0u);
}

TEST(PreauthTest, FailuresOutsideTheWindowDoNotAccumulate) {
  ManualClock clock;
  PreauthGate g(LockoutOnly(), &clock);
  FailTimes(g, "a", 4);
  clock.AdvanceMs(60'000);  // the window opened by the first failure has closed
  FailTimes(g, "a", 4);
  EXPECT_EQ(g.Admit("a").verdict, V::kAdmit);
  g.RecordAuthFailure("a");
  EXPECT_EQ(g.Admit("a").verdict, V::kLockedOut);
}

TEST(PreauthTest, SuccessDoesNotForgiveFailures) {
  ManualClock clock;
  PreauthGate g(LockoutOnly(), &clock);
  FailTimes(g, "a", 4);
  g.RecordAuthSuccess("a");
  g.RecordAuthFailure("a");
  EXPECT_EQ(g.Admit("a").verdict, V::kLockedOut);
}

TEST(PreauthTest, TokenBucketStartsFullAndRefillsInMilliTokens) {
  ManualClock clock;
  PreauthOptions o;
  o.rate_per_sec = 10;
  o.burst = 3;
  o.lockout_failures = 0;
  o.max_preauth_connections = 0;
  PreauthGate g(o, &clock);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(g.Admit("a").verdict, V::kAdmit) << i;  // burst, new bucket full
  EXPECT_EQ(g.Admit("a").verdict, V::kRateLimited);
  EXPECT_EQ(g.Admit("b").verdict, V::kAdmit);  // keyed on the IP
  clock.AdvanceMs(99);
  EXPECT_EQ(g.Admit("a").verdict, V::kRateLimited);  // 0.99 of a token
  clock.AdvanceMs(1);
  EXPECT_EQ(g.Admit("a").verdict, V::kAdmit);  // 10/s = one token per 100 ms
  EXPECT_EQ(g.Admit("a").verdict, V::kRateLimited);
  // Many tiny steps still add up (fractions are carried, not dropped).
  for (int i = 0; i < 100; ++i) {
    clock.AdvanceMs(1);
    if (i < 99) {
      EXPECT_EQ(g.Admit("a").verdict, V::kRateLimited) << i;
    }
  }
  EXPECT_EQ(g.Admit("a").verdict, V::kAdmit);
  // A long idle refills to the burst, not beyond.
  clock.AdvanceMs(3'600'000);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(g.Admit("a").verdict, V::kAdmit);
  EXPECT_EQ(g.Admit("a").verdict, V::kRateLimited);
  EXPECT_EQ(g.rejected(V::kRateLimited), 4u + 99u);
}

TEST(PreauthTest, BurstZeroMeansOneAndFirstConnectAlwaysPasses) {
  ManualClock clock;
  PreauthOptions o;
  o.rate_per_sec = 1;
  o.burst = 0;
  PreauthGate g(o, &clock);
  EXPECT_EQ(g.Admit("a").verdict, V::kAdmit);
  EXPECT_EQ(g.Admit("a").verdict, V::kRateLimited);
}

TEST(PreauthTest, OrderIsLockoutThenRateThenHalfOpen) {
  ManualClock clock;
  PreauthOptions o;
  o.rate_per_sec = 1;
  o.burst = 1;
  o.max_preauth_connections = 1;
  PreauthGate g(o, &clock);
  PreauthGate::Admission held = g.Admit("a");
  ASSERT_EQ(held.verdict, V::kAdmit);
  EXPECT_EQ(g.Admit("b").verdict, V::kHalfOpenCap);  // b's rate is fine, the cap is not
  EXPECT_EQ(g.Admit("a").verdict, V::kRateLimited);  // rate before the cap
  FailTimes(g, "a", 5);
  EXPECT_EQ(g.Admit("a").verdict, V::kLockedOut);  // lockout before rate
  EXPECT_EQ(g.rejected(V::kHalfOpenCap), 1u);
  EXPECT_EQ(g.rejected(V::kRateLimited), 1u);
  EXPECT_EQ(g.rejected(V::kLockedOut), 1u);
  EXPECT_EQ(g.rejected(V::kAdmit), 1u);
}

TEST(PreauthTest, ZeroDisablesEachDefence) {
  ManualClock clock;
  PreauthOptions o;
  o.rate_per_sec = 0;
  o.lockout_failures = 0;
  o.max_preauth_connections = 0;
  PreauthGate g(o, &clock);
  std::vector<PreauthGate::Admission> held;
  for (int i = 0; i < 1000; ++i) {
    g.RecordAuthFailure("a");
    held.push_back(g.Admit("a"));
    ASSERT_EQ(held.back().verdict, V::kAdmit);
  }
  EXPECT_EQ(g.half_open(), 1000u);  // still counted for metrics
  EXPECT_EQ(g.tracked_ips(), 0u);   // nothing per IP to remember
}

TEST(PreauthTest, TableIsCappedAndEvictsTheLeastRecentlySeen) {
  ManualClock clock;
  PreauthOptions o = LockoutOnly();
  PreauthGate g(o, &clock);
  FailTimes(g, "victim-old", 5);  // locked; then pushed out by 4096 newer addresses
  FailTimes(g, "kept", 5);
  for (int i = 0; i < 4095; ++i) {
    if (i == 2000) {
      EXPECT_EQ(g.Admit("kept").verdict, V::kLockedOut);  // refreshes "kept"
    }
    (void)g.Admit("10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256));
  }
  EXPECT_EQ(g.tracked_ips(), 4096u);
  EXPECT_EQ(g.LockoutRemainingMs("victim-old"), 0);  // evicted: its state is gone
  EXPECT_GT(g.LockoutRemainingMs("kept"), 0);        // seen recently: still there
  EXPECT_EQ(g.tracked_ips(), 4096u);
}

TEST(PreauthTest, HalfOpenCapUnderConcurrentAdmits) {
  ManualClock clock;
  PreauthOptions o;
  o.rate_per_sec = 0;
  o.lockout_failures = 0;
  o.max_preauth_connections = 16;
  PreauthGate g(o, &clock);
  std::atomic<int> admitted{0};
  std::atomic<int> capped{0};
  std::vector<std::vector<PreauthGate::Admission>> kept(8);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        PreauthGate::Admission a = g.Admit("ip" + std::to_string(t));
        if (a.verdict == V::kAdmit) {
          ++admitted;
          EXPECT_LE(g.half_open(), 16u);
          if (i % 3 == 0) kept[t].push_back(std::move(a));  // hold some, drop the rest at once
        } else {
          EXPECT_EQ(a.verdict, V::kHalfOpenCap);
          ++capped;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  size_t held = 0;
  for (auto& k : kept) held += k.size();
  EXPECT_EQ(held, 16u);  // the held ones fill the cap exactly
  EXPECT_EQ(g.half_open(), 16u);
  EXPECT_EQ(admitted + capped, 1600);
  kept.clear();  // scope guards release every slot
  EXPECT_EQ(g.half_open(), 0u);
  PreauthGate::Admission a = g.Admit("x");
  ASSERT_TRUE(a.slot.held());
  a.slot.Release();  // released on success too
  a.slot.Release();  // once only
  EXPECT_EQ(g.half_open(), 0u);
}

TEST(PreauthTest, VerdictNames) {
  EXPECT_EQ(PreauthVerdictName(V::kLockedOut), "locked_out");
  EXPECT_EQ(PreauthVerdictName(V::kRateLimited), "rate_limited");
  EXPECT_EQ(PreauthVerdictName(V::kHalfOpenCap), "half_open_cap");
}

}  // namespace
}  // namespace ironbus::security
