// Rules across segments: listing, chain gaps, unreadable headers (first, middle, last),
// duplicated and overlapping files, torn creates, and that storage::Log opens every state
// recovery produces and appends after it without reusing an offset.
#include <gtest/gtest.h>

#include "base/clock.h"
#include "format/checkpoint.h"
#include "io/sim_file_system.h"
#include "recovery/recover.h"
#include "recovery_test_util.h"
#include "storage/log.h"

namespace ironbus::recovery {
namespace {

using testing::MakeLog;
using testing::SegmentBuilder;
using testing::SegPath;

constexpr char kDir[] = "/data";

class ChainTest : public ::testing::Test {
 protected:
  Recovered MustRecover(Mode mode = Mode::kApply) {
    RecoveryOptions opts;
    opts.mode = mode;
    auto r = Recover(&fs_, kDir, opts);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(r).value() : Recovered();
  }
  Bytes Read(uint64_t id) { return testing::ReadFile(&fs_, SegPath(kDir, id)); }
  void Write(uint64_t id, const Bytes& b) { testing::WriteFile(&fs_, SegPath(kDir, id), b); }
  void BreakHeader(uint64_t id) {
    Bytes b = Read(id);
    b[20] ^= 0x01;  // base_seq byte: header CRC fails
    Write(id, b);
  }
  // Opens the recovered state as a Log, appends one record, closes, recovers again: the new
  // record must be served at the offset the first recovery promised.
  void ExpectAppendContinuesAt(const Recovered& r, uint64_t offset) {
    ManualClock clock;
    storage::LogOptions options;
    options.compression = format::Compression::kNone;
    auto log = storage::Log::Open(&fs_, r.state, options, &clock);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    storage::AppendRecord rec;
    const Bytes payload = ToBytes("after-recovery");
    rec.payload = payload;
    auto got = (*log)->Append(rec);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(*got, offset);
    ASSERT_TRUE((*log)->Close().ok());
    log->reset();
    Recovered again = MustRecover();
    EXPECT_FALSE(again.state.frozen);
    auto served = testing::ReadServed(&fs_, again.state);
    ASSERT_TRUE(served.count(offset));
    EXPECT_EQ(served[offset].payload, payload);
    EXPECT_EQ(again.state.next_offset, offset + 1);
  }

  io::SimFileSystem fs_;
};

TEST_F(ChainTest, EmptyDirectoryStartsAtOffsetZeroAndWritesTheLayoutMarker) {
  ASSERT_TRUE(fs_.CreateDirs(kDir).ok());
  Recovered r = MustRecover();
  EXPECT_TRUE(r.state.segments.empty());
  EXPECT_TRUE(r.state.needs_new_active_segment);
  EXPECT_EQ(r.state.next_offset, 0u);
  EXPECT_EQ(r.state.dir, kDir);
  // spec 17.2: slot 1 = 01 00.. | 08 00 | "IBDD" 01 00 00 00 | zeros | CRC 1e da 80 8d
  Bytes meta = testing::ReadFile(&fs_, "/data/layout.meta");
  ASSERT_EQ(meta.size(), 156u);
  EXPECT_EQ(meta[78], 0x01);
  EXPECT_EQ(meta[86], 0x08);
  EXPECT_EQ(meta[88], 'I');
  EXPECT_EQ(meta[152], 0x1e);
  EXPECT_EQ(meta[155], 0x8d);
  auto report = LossReport::FromJson(AsChars(testing::ReadFile(&fs_, "/data/recovery-report.json")));
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->events.empty());
  ExpectAppendContinuesAt(r, 0);
}

TEST_F(ChainTest, DryRunOnAnEmptyDirectoryWritesNothing) {
  ASSERT_TRUE(fs_.CreateDirs(kDir).ok());
  MustRecover(Mode::kDryRun);
  EXPECT_TRUE(fs_.Snapshot().empty());
}

TEST_F(ChainTest, MissingDirectoryIsNotFound) {
  auto r = Recover(&fs_, "/nope", RecoveryOptions{});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsNotFound()) << r.status().ToString();
}

TEST_F(ChainTest, ForeignFilesAndSubdirectoriesAreIgnored) {
  auto segs = MakeLog(2, 5);
  testing::PlantLog(&fs_, kDir, segs);
  const Bytes junk = ToBytes("not a segment");
  for (const char* name : {"/data/seg-000000000000000A.log", "/data/seg-0000000000000002.LOG", "/data/seg-2.log",
                           "/data/seg-0000000000000002.log.tmp", "/data/notes.txt",
                           "/data/streams/seg-0000000000000009.log", "/data/shared-wal/seg-0000000000000003.log",
                           "/data/pstreams/p0/seg-0000000000000000.log"}) {
    ASSERT_TRUE(fs_.SetFileContent(name, junk).ok());
  }
  ASSERT_TRUE(fs_.CreateDirs("/data/seg-0000000000000007.log").ok());  // a directory
  Recovered r = MustRecover();
  EXPECT_TRUE(r.report.events.empty());
  ASSERT_EQ(r.state.segments.size(), 2u);
  EXPECT_EQ(r.state.next_offset, 10u);
  EXPECT_EQ(testing::ReadServed(&fs_, r.state).size(), 10u);
}

TEST_F(ChainTest, LogStartingAfterRetentionIsNotALoss) {
  auto segs = MakeLog(2, 5, /*first_id=*/4, /*base_offset=*/1000);
  testing::PlantLog(&fs_, kDir, segs);
  Recovered r = MustRecover();
  EXPECT_TRUE(r.report.events.empty());
  EXPECT_EQ(r.state.segments.front().base_offset, 1000u);
  ExpectAppendContinuesAt(r, 1010);
}

TEST_F(ChainTest, DeletedMiddleSegmentIsASequenceGap) {
  auto segs = MakeLog(4, 5);
  testing::PlantLog(&fs_, kDir, segs);
  ASSERT_TRUE(fs_.Remove(SegPath(kDir, 1)).ok());
  Recovered r = MustRecover();
  ASSERT_EQ(r.report.events.size(), 1u);
  const LossEvent& e = r.report.events[0];
  EXPECT_EQ(e.reason, LossReason::kSequenceGap);
  EXPECT_EQ(e.segment_id, 2u);
  EXPECT_EQ(e.bytes_skipped(), 0u);
  EXPECT_EQ(e.first_lost_offset, 5u);
  EXPECT_EQ(e.end_lost_offset, 10u);
  EXPECT_EQ(e.records_lost_estimate, 5u);
  EXPECT_TRUE(e.offsets_exact);
  EXPECT_FALSE(r.state.frozen);  // no bytes lost: under every cap
  EXPECT_EQ(r.state.segments[0].end_offset, 10u);  // the hole belongs to the segment before it
  EXPECT_EQ(testing::ReadServed(&fs_, r.state).size(), 15u);
  ExpectAppendContinuesAt(r, 20);
}

TEST_F(ChainTest, UnreadableMiddleSegmentLosesExactlyItsRange) {
  auto segs = MakeLog(3, 5);
  testing::PlantLog(&fs_, kDir, segs);
  BreakHeader(1);
  const Bytes broken = Read(1);
  Recovered r = MustRecover(Mode::kDryRun);  // over the per-event cap? no: segments are tiny
  r = MustRecover();
  ASSERT_EQ(r.report.events.size(), 1u);
  const LossEvent& e = r.report.events[0];
  EXPECT_EQ(e.reason, LossReason::kCorruptSegmentHeader);
  EXPECT_EQ(e.segment_id, 1u);
  EXPECT_EQ(e.byte_offset_start, 0u);
  EXPECT_EQ(e.byte_offset_end, broken.size());
  EXPECT_EQ(e.first_lost_offset, 5u);
  EXPECT_EQ(e.end_lost_offset, 10u);
  EXPECT_TRUE(e.offsets_exact);
  EXPECT_TRUE(r.state.segments[1].unreadable);
  EXPECT_EQ(Read(1), broken);  // left in place
  auto blob = fs_.CurrentContent("/data/quarantine/q-0000000000000001-corrupt_segment_header-0-" +
                                 std::to_string(broken.size()) + ".bin");
  ASSERT_TRUE(blob.ok());
  EXPECT_EQ(*blob, broken);
  EXPECT_EQ(testing::ReadServed(&fs_, r.state).size(), 10u);
  ExpectAppendContinuesAt(r, 15);
}

TEST_F(ChainTest, UnreadableFirstSegmentLeavesTheRestServed) {
  auto segs = MakeLog(3, 5);
  testing::PlantLog(&fs_, kDir, segs);
  BreakHeader(0);
  Recovered r = MustRecover();
  ASSERT_EQ(r.report.events.size(), 1u);
  EXPECT_EQ(r.report.events[0].reason, LossReason::kCorruptSegmentHeader);
  EXPECT_FALSE(r.report.events[0].offsets_exact);
  EXPECT_EQ(r.report.events[0].records_lost_estimate, 1u);
  EXPECT_EQ(r.state.segments[0].base_offset, 5u);  // offsets below the first readable one
  EXPECT_EQ(r.state.segments[0].end_offset, 5u);
  EXPECT_EQ(testing::ReadServed(&fs_, r.state).size(), 10u);
  ExpectAppendContinuesAt(r, 15);
}

TEST_F(ChainTest, UnreadableLastSegmentNeverReusesItsOffsets) {
  auto segs = MakeLog(3, 5);
  testing::PlantLog(&fs_, kDir, segs);
  BreakHeader(2);
  Recovered r = MustRecover();
  ASSERT_EQ(r.report.events.size(), 1u);
  EXPECT_EQ(r.report.events[0].reason, LossReason::kCorruptSegmentHeader);
  EXPECT_TRUE(r.state.needs_new_active_segment);
  // Frames still decode in it: the bound is its highest seq + 1 (nothing after it).
  EXPECT_EQ(r.state.next_offset, 15u);
  EXPECT_EQ(r.report.events[0].first_lost_offset, 10u);
  EXPECT_EQ(r.report.events[0].end_lost_offset, 15u);
  ExpectAppendContinuesAt(r, 15);
  EXPECT_TRUE(*fs_.Exists(SegPath(kDir, 3)));  // the new active segment: max id + 1
}

TEST_F(ChainTest, UnreadableLastSegmentWithNothingDecodableIsBoundedBySize) {
  auto segs = MakeLog(2, 5);
  testing::PlantLog(&fs_, kDir, segs);
  Bytes garbage(64 + 44 * 7 + 20, 0xA5);
  Write(1, garbage);
  Recovered r = MustRecover();
  EXPECT_EQ(r.state.next_offset, 5u + 7u);  // previous end + (len - 64) / 44
  ExpectAppendContinuesAt(r, 12);
}

TEST_F(ChainTest, DuplicateUnderANewerNameIsUnreadableAndHarmless) {
  auto segs = MakeLog(3, 5);
  testing::PlantLog(&fs_, kDir, segs);
  Write(9, Read(1));  // a copy of segment 1 named as segment 9
  Recovered r = MustRecover();
  ASSERT_EQ(r.report.events.size(), 1u);
  EXPECT_EQ(r.report.events[0].segment_id, 9u);
  EXPECT_EQ(r.report.events[0].reason, LossReason::kCorruptSegmentHeader);
  EXPECT_TRUE(r.state.segments.back().unreadable);
  EXPECT_TRUE(r.state.segments[2].sealed);        // the old active segment is closed
  EXPECT_EQ(r.state.segments[2].file_len, Read(2).size());
  EXPECT_EQ(r.state.next_offset, 15u);  // its frames' seqs are all below the chain's end
  EXPECT_EQ(testing::ReadServed(&fs_, r.state).size(), 15u);
  ExpectAppendContinuesAt(r, 15);
}

TEST_F(ChainTest, DuplicateUnderAnOlderNameIsUnreadable) {
  auto segs = MakeLog(3, 5, /*first_id=*/3, /*base_offset=*/300);
  testing::PlantLog(&fs_, kDir, segs);
  Write(1, Read(4));
  Recovered r = MustRecover();
  ASSERT_EQ(r.report.events.size(), 1u);
  EXPECT_EQ(r.report.events[0].segment_id, 1u);
  EXPECT_EQ(testing::ReadServed(&fs_, r.state).size(), 15u);
  ExpectAppendContinuesAt(r, 315);
}

TEST_F(ChainTest, SegmentOverlappingItsPredecessorIsUnreadable) {
  auto segs = MakeLog(2, 5);
  testing::PlantLog(&fs_, kDir, segs);
  SegmentBuilder overlap(2, 7, 7);  // claims offsets 7.. that segment 1 holds
  for (int i = 0; i < 3; ++i) overlap.AddPayload("overlap");
  Write(1, segs[1].Sealed());
  Write(2, overlap.Unsealed());
  Recovered r = MustRecover();
  ASSERT_EQ(r.report.events.size(), 1u);
  EXPECT_EQ(r.report.events[0].segment_id, 2u);
  EXPECT_TRUE(r.state.segments[2].unreadable);
  auto served = testing::ReadServed(&fs_, r.state);
  EXPECT_EQ(served.size(), 10u);
  EXPECT_NE(served[7].payload, ToBytes("overlap"));
  ExpectAppendContinuesAt(r, 10);
}

class TornCreateTest : public ChainTest, public ::testing::WithParamInterface<size_t> {};

// A crash while creating the next segment leaves a file of at most a header: it held no
// offset, so it is a torn tail, not data loss.
TEST_P(TornCreateTest, TornSegmentCreateIsATornTail) {
  auto segs = MakeLog(2, 5);
  testing::PlantLog(&fs_, kDir, segs, /*last_sealed=*/true);
  Write(2, Bytes(GetParam(), 0));
  Recovered r = MustRecover();
  ASSERT_EQ(r.report.events.size(), 1u);
  EXPECT_EQ(r.report.events[0].reason, LossReason::kTornTail);
  EXPECT_EQ(r.report.Totals().data_loss_bytes, 0u);
  EXPECT_TRUE(r.state.needs_new_active_segment);
  EXPECT_EQ(r.state.next_offset, 10u);
  ExpectAppendContinuesAt(r, 10);
}

INSTANTIATE_TEST_SUITE_P(Lengths, TornCreateTest, ::testing::Values(0, 30, 64));

TEST_F(ChainTest, ForeignLayoutMarkerIsRewrittenAndAValidOneKept) {
  auto segs = MakeLog(1, 3);
  testing::PlantLog(&fs_, kDir, segs);
  ASSERT_TRUE(fs_.SetFileContent("/data/layout.meta", ToBytes("garbage")).ok());
  MustRecover();
  Bytes meta = testing::ReadFile(&fs_, "/data/layout.meta");
  auto value = format::DecodeCheckpointFile(meta, format::kCursorCheckpointCap);
  ASSERT_TRUE(value.has_value());
  EXPECT_EQ(format::DecodeLayoutMarker(value->payload), std::optional<uint32_t>(1));
  MustRecover();
  EXPECT_EQ(testing::ReadFile(&fs_, "/data/layout.meta"), meta);
}

}  // namespace
}  // namespace ironbus::recovery
