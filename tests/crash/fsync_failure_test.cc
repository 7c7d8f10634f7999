// A failed fdatasync (fsyncgate): nothing appended after it is ever acknowledged, the error is
// sticky until restart, and a restart's recovery keeps exactly the acknowledged records and
// opens writable again.
#include <gtest/gtest.h>

#include <future>

#include "base/clock.h"
#include "crash/power_cut_model.h"
#include "io/sim_file_system.h"
#include "recovery/open_data_dir.h"
#include "storage/appender.h"

namespace ironbus::crash {
namespace {

constexpr char kDir[] = "/data";

Result<uint64_t> AppendAndWait(storage::Appender* appender, const Bytes& payload) {
  std::promise<Result<uint64_t>> done;
  auto future = done.get_future();
  storage::AppendRequest req;
  req.payload = payload;
  Status s = appender->Submit(std::move(req), [&done](Result<uint64_t> r) { done.set_value(std::move(r)); });
  if (!s.ok()) return s;
  return future.get();
}

class FsyncFailure : public ::testing::TestWithParam<io::PowerCutMode> {};

TEST_P(FsyncFailure, NothingLaterIsAckedTheErrorIsStickyAndReopenRecovers) {
  ManualClock clock;
  io::SimFileSystem fs;
  ASSERT_TRUE(fs.CreateDirs(kDir).ok());
  fs.SyncAll();
  recovery::RecoveryOptions ro;
  storage::LogOptions lo;
  Model model;
  {
    auto opened = recovery::OpenDataDir(&fs, kDir, ro, lo, &clock);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    auto appender = storage::Appender::Start(opened->log.get(), &clock);
    ASSERT_TRUE(appender.ok());
    for (uint64_t i = 0; i < 10; ++i) {
      const Bytes payload = ModelPayload(0, i, 64);
      auto offset = AppendAndWait(appender->get(), payload);
      ASSERT_TRUE(offset.ok()) << offset.status().ToString();
      ASSERT_EQ(*offset, i);
      model.appended[i] = payload;
      model.acked.insert(i);
    }
    const uint64_t syncs_before = fs.counters().syncs + fs.counters().full_syncs;
    fs.FailNextSync("seg-");
    auto failed = AppendAndWait(appender->get(), ModelPayload(0, 10, 64));
    ASSERT_FALSE(failed.ok());
    EXPECT_TRUE(failed.status().IsIOError()) << failed.status().ToString();
    model.appended[10] = ModelPayload(0, 10, 64);  // written, never acknowledged

    for (int i = 0; i < 5; ++i) {
      auto later = AppendAndWait(appender->get(), ModelPayload(0, 11, 64));
      ASSERT_FALSE(later.ok()) << "an append after a failed fdatasync was acknowledged";
      EXPECT_TRUE(later.status().IsFailedPrecondition()) << later.status().ToString();
    }
    EXPECT_TRUE(opened->log->frozen());
    // The failed sync is never retried: exactly one more sync was attempted, the failing one.
    EXPECT_EQ(fs.counters().syncs + fs.counters().full_syncs, syncs_before + 1);
    // Reads of what was durable keep working while frozen.
    auto read = opened->log->Read(0, 100, 1 << 20);
    ASSERT_TRUE(read.ok());
    EXPECT_EQ(read->records.size(), 10u);
    (void)(*appender)->Stop();
  }
  fs.PowerCut(7, GetParam());

  auto reopened = recovery::OpenDataDir(&fs, kDir, ro, lo, &clock);
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  EXPECT_FALSE(reopened->log->frozen());
  CheckRecoveredLog(*reopened->log, reopened->report, model, 0);
  auto appender = storage::Appender::Start(reopened->log.get(), &clock);
  ASSERT_TRUE(appender.ok());
  auto resumed = AppendAndWait(appender->get(), ModelPayload(0, 99, 64));
  ASSERT_TRUE(resumed.ok()) << resumed.status().ToString();
  EXPECT_GE(*resumed, 10u) << "an acknowledged offset was reused";
}

INSTANTIATE_TEST_SUITE_P(PowerCutModes, FsyncFailure,
                         ::testing::Values(io::PowerCutMode::kDropAll, io::PowerCutMode::kKeepAll,
                                           io::PowerCutMode::kRandom));

}  // namespace
}  // namespace ironbus::crash
