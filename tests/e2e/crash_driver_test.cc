// The crash driver (crash_driver.h: load, crash choices, invariants) as a CI test: the real
// broker crashed C times, by SIGKILL or at a named crash point of the publish or consume path,
// under producers and a consumer that acks, nacks and terms with --max-deliver 2.
// IRONBUS_CRASH_CYCLES (default 40, times IRONBUS_SWEEP_SCALE, at least 12) and
// IRONBUS_CRASH_SEED (default random, printed) set the run; IRONBUS_CRASH_MODE is kill9, points
// or mixed (default). The long run uses the standalone ironbus_crash_driver (docs/kill9.md).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <random>
#include <string>

#include "e2e/crash_driver.h"
#include "io/temp_dir.h"

namespace ironbus::e2e {
namespace {

uint64_t EnvU64(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v == nullptr || *v == '\0' ? fallback : std::strtoull(v, nullptr, 10);
}

TEST(CrashDriver, AcknowledgedPublishesConsumesAndDeadLettersSurviveCrashes) {
  // ASan CI sets IRONBUS_SWEEP_SCALE=0.25: its broker restarts and dumps are about 3x slower.
  const char* scale_env = std::getenv("IRONBUS_SWEEP_SCALE");
  const double scale = scale_env == nullptr ? 1.0 : std::strtod(scale_env, nullptr);
  const uint64_t default_cycles = std::max<uint64_t>(12, static_cast<uint64_t>(40 * scale));
  CrashDriverOptions o;
  o.ironbus = IRONBUS_BINARY;
  o.cycles = EnvU64("IRONBUS_CRASH_CYCLES", default_cycles);
  o.seed = EnvU64("IRONBUS_CRASH_SEED", std::random_device{}());
  const std::string mode = std::getenv("IRONBUS_CRASH_MODE") == nullptr ? "mixed" : std::getenv("IRONBUS_CRASH_MODE");
  o.mode = mode == "kill9" ? CrashMode::kKill9 : mode == "points" ? CrashMode::kPoints : CrashMode::kMixed;
  o.verbose = std::getenv("IRONBUS_CRASH_VERBOSE") != nullptr;
  io::testing::TempDir scratch;
  o.scratch = scratch.path();
  o.data_dir = scratch.path() + "/data";
  // std::endl: a forked broker must not inherit (and print again) a buffered line.
  std::cout << "[crash] seed=" << o.seed << " cycles=" << o.cycles << " mode=" << mode
            << " (replay with IRONBUS_CRASH_SEED=" << o.seed << ")" << std::endl;
  RecordProperty("seed", std::to_string(o.seed));
  const CrashDriverSummary s = RunCrashDriver(o, std::cout);
  std::cout << "[crash] " << FormatSummary(s) << std::flush;
  EXPECT_TRUE(s.violations.empty()) << s.violations.front();
  EXPECT_EQ(s.cycles, o.cycles);
  EXPECT_GT(s.publishes_acked, 0u);
  EXPECT_GT(s.consumes_acked, 0u);
  if (o.mode != CrashMode::kKill9) {
    EXPECT_GT(s.points_fired, 0u);
  }
}

}  // namespace
}  // namespace ironbus::e2e
