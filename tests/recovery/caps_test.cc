// Loss caps (checked before anything changes), frozen opens, accepted loss after
// `repair --apply`, dry runs, the report file, and idempotence.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "base/clock.h"
#include "format/segment_name.h"
#include "io/sim_file_system.h"
#include "recovery/accepted_loss.h"
#include "recovery/recover.h"
#include "recovery_test_util.h"
#include "storage/log.h"

namespace ironbus::recovery {
namespace {

using testing::MakeLog;
using testing::SegPath;
using ::testing::HasSubstr;

constexpr char kDir[] = "/data";
constexpr uint64_t kSegmentBytes = 1000;  // per-event cap = 1000

class CapsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    segs_ = MakeLog(4, 20);
    testing::PlantLog(&fs_, kDir, segs_);
  }
  Result<Recovered> Run(Mode mode = Mode::kApply, bool ignore_caps = false) {
    RecoveryOptions opts;
    opts.mode = mode;
    opts.ignore_caps = ignore_caps;
    opts.max_segment_bytes = kSegmentBytes;
    return Recover(&fs_, kDir, opts);
  }
  Recovered MustRun(Mode mode = Mode::kApply, bool ignore_caps = false) {
    auto r = Run(mode, ignore_caps);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(r).value() : Recovered();
  }
  // Zeroes bytes [from frame a's start + 1, frame b's start) of segment `id`.
  void ZeroFrames(uint64_t id, size_t a, size_t b) {
    Bytes bytes = testing::ReadFile(&fs_, SegPath(kDir, id));
    const auto& f = segs_[id].frames();
    for (uint64_t i = f[a].start + 1; i < f[b].start; ++i) bytes[i] = 0;
    ASSERT_TRUE(fs_.SetFileContent(SegPath(kDir, id), bytes).ok());
  }
  // A corrupt last record in the active segment (a tail recovery would cut).
  void CorruptActiveTail() {
    const uint64_t id = segs_.size() - 1;
    Bytes bytes = testing::ReadFile(&fs_, SegPath(kDir, id));
    bytes[segs_[id].frames().back().start + 40] ^= 0x01;
    ASSERT_TRUE(fs_.SetFileContent(SegPath(kDir, id), bytes).ok());
  }
  uint64_t SpanBytes(uint64_t id, size_t a, size_t b) {
    return segs_[id].frames()[b].start - segs_[id].frames()[a].start;
  }

  io::SimFileSystem fs_;
  std::vector<testing::SegmentBuilder> segs_;
};

TEST_F(CapsTest, LossWithinTheCapsIsRecovered) {
  ZeroFrames(1, 2, 5);
  ASSERT_LE(SpanBytes(1, 2, 5), kSegmentBytes);
  Recovered r = MustRun();
  EXPECT_FALSE(r.state.frozen);
  EXPECT_FALSE(r.report.frozen);
  ASSERT_EQ(r.report.events.size(), 1u);
  EXPECT_TRUE(*fs_.Exists("/data/quarantine"));
}

TEST_F(CapsTest, OverThePerEventCapFreezesAndChangesNothing) {
  ZeroFrames(1, 2, 14);
  ASSERT_GT(SpanBytes(1, 2, 14), kSegmentBytes);
  CorruptActiveTail();
  const auto before = fs_.Snapshot();
  Recovered r = MustRun();
  EXPECT_TRUE(r.state.frozen);
  EXPECT_TRUE(r.report.frozen);
  EXPECT_THAT(r.state.frozen_reason, HasSubstr("per-event cap"));
  EXPECT_THAT(r.state.frozen_reason, HasSubstr(format::SegmentFileName(1)));
  // Only the report file was written: no cut, no quarantine, no layout marker.
  auto after = fs_.Snapshot();
  ASSERT_EQ(after.erase("/data/recovery-report.json"), 1u);
  EXPECT_EQ(after, before);
  const auto& active = r.state.segments.back();
  EXPECT_EQ(active.file_len, before.at(SegPath(kDir, 3)).size());
  EXPECT_LT(active.valid_end, active.file_len);
  for (const auto& e : r.report.events) EXPECT_FALSE(e.truncated);
  auto file = LossReport::FromJson(AsChars(testing::ReadFile(&fs_, "/data/recovery-report.json")));
  ASSERT_TRUE(file.ok());
  EXPECT_TRUE(file->frozen);
  EXPECT_EQ(file->frozen_reason, r.state.frozen_reason);

  // The frozen log serves what is valid and refuses appends.
  ManualClock clock;
  auto log = storage::Log::Open(&fs_, r.state, storage::LogOptions{}, &clock);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  EXPECT_TRUE((*log)->frozen());
  storage::AppendRecord rec;
  auto appended = (*log)->Append(rec);
  ASSERT_FALSE(appended.ok());
  EXPECT_TRUE(appended.status().IsFailedPrecondition());
  auto read = (*log)->Read(0, 1000, 1 << 20);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(read->records.size(), 80u - 12u - 1u);
  log->reset();
  EXPECT_EQ(fs_.Snapshot().size(), before.size() + 1);
}

TEST_F(CapsTest, OverTheGlobalCapFreezes) {
  // Three spans, each under the per-event cap, together over max(1% of durable, 1000).
  ZeroFrames(0, 2, 6);
  ZeroFrames(1, 2, 6);
  ZeroFrames(2, 2, 6);
  ASSERT_LE(SpanBytes(1, 2, 6), kSegmentBytes);
  Recovered r = MustRun();
  EXPECT_TRUE(r.state.frozen);
  EXPECT_THAT(r.state.frozen_reason, HasSubstr("global cap"));
}

TEST_F(CapsTest, RepairApplyAcceptsTheLossAndLaterOpensStayWritable) {
  ZeroFrames(1, 2, 14);
  CorruptActiveTail();
  ASSERT_TRUE(MustRun().state.frozen);

  Recovered repaired = MustRun(Mode::kApply, /*ignore_caps=*/true);
  EXPECT_FALSE(repaired.state.frozen);
  EXPECT_FALSE(repaired.warnings.empty());  // says which cap it went past
  ASSERT_EQ(repaired.report.events.size(), 2u);
  EXPECT_TRUE(repaired.report.events[1].truncated);
  auto accepted = LoadAcceptedLoss(&fs_, kDir);
  ASSERT_TRUE(accepted.ok());
  ASSERT_EQ(accepted->size(), 1u);  // the skipped span; the cut tail is gone
  EXPECT_EQ((*accepted)[0], AcceptedKey(repaired.report.events[0]));

  // The span is still there at every open, reported as accepted, not counted, not copied again.
  EXPECT_TRUE(*fs_.Exists("/data/quarantine/" + format::QuarantineBlobName(
                                                    1, "corrupt_record_header", repaired.report.events[0].byte_offset_start,
                                                    repaired.report.events[0].byte_offset_end)));
  auto blobs = fs_.List("/data/quarantine");
  ASSERT_TRUE(blobs.ok());
  for (const auto& entry : *blobs) ASSERT_TRUE(fs_.Remove("/data/quarantine/" + entry.name).ok());
  Recovered later = MustRun();
  EXPECT_FALSE(later.state.frozen);
  ASSERT_EQ(later.report.events.size(), 1u);
  EXPECT_TRUE(later.report.events[0].accepted);
  EXPECT_EQ(later.report.Totals().data_loss_bytes, SpanBytes(1, 2, 14));  // still reported
  auto q = fs_.List("/data/quarantine");
  ASSERT_TRUE(q.ok());
  EXPECT_TRUE(q->empty());

  // New damage elsewhere is counted again.
  ZeroFrames(2, 1, 15);
  Recovered again = MustRun();
  EXPECT_TRUE(again.state.frozen);
}

TEST_F(CapsTest, MalformedAcceptedLossIsIgnoredFailSafe) {
  ZeroFrames(1, 2, 14);
  ASSERT_TRUE(fs_.SetFileContent("/data/accepted-loss.json", ToBytes("{not json")).ok());
  Recovered r = MustRun();
  EXPECT_TRUE(r.state.frozen);
  ASSERT_FALSE(r.warnings.empty());
  EXPECT_THAT(r.warnings[0], HasSubstr("accepted-loss.json"));
}

TEST_F(CapsTest, DryRunChangesNoByteAndPlansExactlyWhatApplyDoes) {
  ZeroFrames(1, 2, 5);
  CorruptActiveTail();
  Bytes seg2 = testing::ReadFile(&fs_, SegPath(kDir, 2));
  seg2[3] ^= 0x20;  // header magic
  ASSERT_TRUE(fs_.SetFileContent(SegPath(kDir, 2), seg2).ok());
  const auto before = fs_.Snapshot();
  Recovered plan = MustRun(Mode::kDryRun, /*ignore_caps=*/true);
  EXPECT_EQ(fs_.Snapshot(), before);
  Recovered done = MustRun(Mode::kApply, /*ignore_caps=*/true);
  EXPECT_EQ(plan.report, done.report);
  ASSERT_EQ(plan.state.segments.size(), done.state.segments.size());
  for (size_t i = 0; i < plan.state.segments.size(); ++i) {
    const auto& a = plan.state.segments[i];
    const auto& b = done.state.segments[i];
    EXPECT_EQ(a.valid_end, b.valid_end);
    EXPECT_EQ(a.file_len, b.file_len);
    EXPECT_EQ(a.end_offset, b.end_offset);
    EXPECT_EQ(a.skipped.size(), b.skipped.size());
    EXPECT_EQ(a.unreadable, b.unreadable);
  }
  EXPECT_EQ(plan.state.next_offset, done.state.next_offset);
  EXPECT_NE(fs_.Snapshot(), before);
}

TEST_F(CapsTest, ReportFileIsTheReturnedReportAndRecoveryIsIdempotent) {
  ZeroFrames(1, 2, 5);
  CorruptActiveTail();
  Recovered first = MustRun();
  auto file = LossReport::FromJson(AsChars(testing::ReadFile(&fs_, "/data/recovery-report.json")));
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(*file, first.report);

  const auto after_first = fs_.Snapshot();
  Recovered second = MustRun();
  ASSERT_EQ(second.report.events.size(), 1u);  // the cut tail is gone, the span stays
  EXPECT_EQ(second.report.events[0], first.report.events[0]);
  EXPECT_EQ(second.state.next_offset, first.state.next_offset);
  EXPECT_EQ(fs_.Snapshot().size(), after_first.size());  // nothing new quarantined
}

TEST(LossCapsTest, CapsFollowTheSpec) {
  EXPECT_EQ(ComputeLossCaps(8 << 20, 0).per_event, 8u << 20);
  EXPECT_EQ(ComputeLossCaps(1ull << 40, 0).per_event, 64u << 20);
  EXPECT_EQ(ComputeLossCaps(1000, 50'000).global, 1000u);      // floored at the per-event cap
  EXPECT_EQ(ComputeLossCaps(1000, 500'000).global, 5000u);     // 1 % of durable bytes
  EXPECT_EQ(ComputeLossCaps(1000, 500'099).global, 5000u);     // integer division
}

}  // namespace
}  // namespace ironbus::recovery
