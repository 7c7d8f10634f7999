// Rules inside one segment: resync (D1), zero tail (D2), footer handling, sequence gaps.
#include <gtest/gtest.h>

#include "io/sim_file_system.h"
#include "recovery/recover.h"
#include "recovery_test_util.h"

namespace ironbus::recovery {
namespace {

using testing::MakeLog;
using testing::SegmentBuilder;
using testing::SegPath;

constexpr char kDir[] = "/data";

class ScanTest : public ::testing::Test {
 protected:
  Recovered MustRecover() {
    auto r = Recover(&fs_, kDir, RecoveryOptions{});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(r).value() : Recovered();
  }
  Bytes Read(uint64_t id) { return testing::ReadFile(&fs_, SegPath(kDir, id)); }
  void Write(uint64_t id, const Bytes& b) { testing::WriteFile(&fs_, SegPath(kDir, id), b); }
  // Every frame of `segs` whose offset is not in [lost_begin, lost_end) is served, unchanged.
  void ExpectServedExcept(const Recovered& r, const std::vector<SegmentBuilder>& segs, uint64_t lost_begin,
                          uint64_t lost_end) {
    auto served = testing::ReadServed(&fs_, r.state);
    size_t want = 0;
    for (const auto& s : segs) {
      for (const auto& f : s.frames()) {
        if (f.offset >= lost_begin && f.offset < lost_end) {
          EXPECT_EQ(served.count(f.offset), 0u) << "offset " << f.offset << " should be lost";
          continue;
        }
        ++want;
        auto it = served.find(f.offset);
        ASSERT_NE(it, served.end()) << "offset " << f.offset << " missing";
        EXPECT_TRUE(testing::SameRecord(it->second, f.record)) << "offset " << f.offset;
      }
    }
    EXPECT_EQ(served.size(), want);
  }

  io::SimFileSystem fs_;
};

TEST_F(ScanTest, DamageInsideASealedSegmentIsSkippedAndEverythingAfterItKept) {
  auto segs = MakeLog(3, 10);
  testing::PlantLog(&fs_, kDir, segs);
  Bytes seg0 = Read(0);
  const auto& f = segs[0].frames();
  for (uint64_t i = f[3].start + 5; i < f[5].start + 10; ++i) seg0[i] = 0;
  Write(0, seg0);

  Recovered r = MustRecover();
  ASSERT_EQ(r.report.events.size(), 1u);
  const LossEvent& e = r.report.events[0];
  EXPECT_EQ(e.reason, LossReason::kCorruptRecordHeader);
  EXPECT_EQ(e.segment_id, 0u);
  EXPECT_EQ(e.byte_offset_start, f[3].start);
  EXPECT_EQ(e.byte_offset_end, f[6].start);
  EXPECT_EQ(e.first_lost_offset, 3u);
  EXPECT_EQ(e.end_lost_offset, 6u);
  EXPECT_TRUE(e.offsets_exact);
  EXPECT_EQ(e.records_lost_estimate, 3u);
  EXPECT_FALSE(e.truncated);
  ExpectServedExcept(r, segs, 3, 6);
  EXPECT_EQ(Read(0), seg0);  // a sealed segment is never edited
  EXPECT_TRUE(r.state.segments[0].sealed);
  EXPECT_EQ(r.state.segments[0].end_offset, 10u);
  EXPECT_EQ(r.state.next_offset, 30u);
  EXPECT_TRUE(*fs_.Exists("/data/quarantine/q-0000000000000000-corrupt_record_header-" +
                          std::to_string(f[3].start) + "-" + std::to_string(f[6].start) + ".bin"));
}

TEST_F(ScanTest, CutSealedSegmentLosesExactlyTheRecordsCut) {
  auto segs = MakeLog(3, 10);
  testing::PlantLog(&fs_, kDir, segs);
  Bytes seg0 = Read(0);
  const auto& f = segs[0].frames();
  seg0.resize(f[7].start + 40);  // header intact, body cut
  Write(0, seg0);

  Recovered r = MustRecover();
  ASSERT_EQ(r.report.events.size(), 1u);
  const LossEvent& e = r.report.events[0];
  EXPECT_EQ(e.reason, LossReason::kCorruptRecordBody);  // intact header, body missing
  EXPECT_EQ(e.byte_offset_start, f[7].start);
  EXPECT_EQ(e.byte_offset_end, seg0.size());
  EXPECT_EQ(e.first_lost_offset, 7u);
  EXPECT_EQ(e.end_lost_offset, 10u);  // the next segment's base
  EXPECT_TRUE(e.offsets_exact);
  EXPECT_TRUE(e.data_loss());
  EXPECT_FALSE(e.truncated);
  ExpectServedExcept(r, segs, 7, 10);
  EXPECT_EQ(Read(0), seg0);
  EXPECT_TRUE(r.state.segments[0].sealed);  // closed: a later segment exists
}

TEST_F(ScanTest, DamagedFooterLosesNoRecord) {
  auto segs = MakeLog(2, 10);
  testing::PlantLog(&fs_, kDir, segs);
  Bytes seg0 = Read(0);
  seg0[seg0.size() - 3] ^= 0x40;  // footer CRC
  Write(0, seg0);

  Recovered r = MustRecover();
  ASSERT_EQ(r.report.events.size(), 1u);
  const LossEvent& e = r.report.events[0];
  EXPECT_EQ(e.byte_offset_start, seg0.size() - format::kSegmentFooterSize);
  EXPECT_EQ(e.byte_offset_end, seg0.size());
  EXPECT_EQ(e.first_lost_offset, 10u);
  EXPECT_EQ(e.end_lost_offset, 10u);
  EXPECT_TRUE(e.offsets_exact);
  EXPECT_EQ(e.records_lost_estimate, 0u);
  ExpectServedExcept(r, segs, 0, 0);
}

TEST_F(ScanTest, SeqJumpWithNoDamagedByteIsASequenceGap) {
  SegmentBuilder b(0, 0, 0);
  for (int i = 0; i < 3; ++i) b.AddPayload("before-" + std::to_string(i));
  b.SkipSeqs(2);
  for (int i = 0; i < 3; ++i) b.AddPayload("after-" + std::to_string(i));
  testing::PlantLog(&fs_, kDir, {b});

  Recovered r = MustRecover();
  ASSERT_EQ(r.report.events.size(), 1u);
  const LossEvent& e = r.report.events[0];
  EXPECT_EQ(e.reason, LossReason::kSequenceGap);
  EXPECT_EQ(e.bytes_skipped(), 0u);
  EXPECT_EQ(e.byte_offset_start, b.frames()[3].start);
  EXPECT_EQ(e.first_lost_offset, 3u);
  EXPECT_EQ(e.end_lost_offset, 5u);
  EXPECT_TRUE(e.offsets_exact);
  EXPECT_EQ(e.records_lost_estimate, 2u);
  ExpectServedExcept(r, {b}, 3, 5);
  EXPECT_EQ(r.state.next_offset, 8u);
  EXPECT_TRUE(r.state.segments[0].skipped.empty());  // no bytes to step over
}

TEST_F(ScanTest, ValidFrameWithAnOldSeqIsDamage) {
  SegmentBuilder b(0, 0, 0);
  for (int i = 0; i < 6; ++i) b.AddPayload("rec-" + std::to_string(i));
  const Bytes good = b.Unsealed();
  const auto& f = b.frames();
  // frames 0..3, a stale copy of frame 1, then frames 4 and 5.
  Bytes seg(good.begin(), good.begin() + static_cast<ptrdiff_t>(f[4].start));
  const uint64_t copy_start = seg.size();
  seg.insert(seg.end(), good.begin() + static_cast<ptrdiff_t>(f[1].start),
             good.begin() + static_cast<ptrdiff_t>(f[1].end));
  const uint64_t copy_end = seg.size();
  seg.insert(seg.end(), good.begin() + static_cast<ptrdiff_t>(f[4].start), good.end());
  testing::PlantLog(&fs_, kDir, {});
  Write(0, seg);

  Recovered r = MustRecover();
  ASSERT_EQ(r.report.events.size(), 1u);
  const LossEvent& e = r.report.events[0];
  EXPECT_EQ(e.reason, LossReason::kCorruptRecordHeader);
  EXPECT_EQ(e.byte_offset_start, copy_start);
  EXPECT_EQ(e.byte_offset_end, copy_end);
  EXPECT_EQ(e.first_lost_offset, 4u);  // no offset lost: the copy replaced none
  EXPECT_EQ(e.end_lost_offset, 4u);
  EXPECT_EQ(e.records_lost_estimate, 0u);
  ExpectServedExcept(r, {b}, 0, 0);
}

// A frame hidden in a payload passes every CRC and has a plausible seq, but what follows it
// is not its successor: the resync must not stop there.
TEST_F(ScanTest, ResyncNeedsTheSuccessorToCheck) {
  Bytes embedded;
  {
    format::Record fake;
    fake.seq = 3;
    fake.payload = ToBytes("impostor");
    ASSERT_TRUE(format::EncodeRecord(fake.view(), &embedded).ok());
  }
  SegmentBuilder b(0, 0, 0);
  b.AddPayload("rec-0");
  b.AddPayload("rec-1");
  {
    format::Record carrier;
    carrier.timestamp_ms = testing::kTs;
    carrier.payload = ToBytes("carrier:");
    PutBytes(&carrier.payload, embedded);
    b.Add(carrier);
  }
  for (int i = 3; i < 6; ++i) b.AddPayload("rec-" + std::to_string(i));
  Bytes seg = b.Unsealed();
  seg[b.frames()[2].start + 10] ^= 0x01;  // the carrier's header
  testing::PlantLog(&fs_, kDir, {});
  Write(0, seg);

  Recovered r = MustRecover();
  ASSERT_EQ(r.report.events.size(), 1u);
  EXPECT_EQ(r.report.events[0].byte_offset_start, b.frames()[2].start);
  EXPECT_EQ(r.report.events[0].byte_offset_end, b.frames()[3].start);
  EXPECT_EQ(r.report.events[0].first_lost_offset, 2u);
  EXPECT_EQ(r.report.events[0].end_lost_offset, 3u);
  ExpectServedExcept(r, {b}, 2, 3);
}

TEST_F(ScanTest, ZeroTailOfTheActiveSegmentIsTornNotLost) {
  SegmentBuilder b(0, 0, 0);
  for (int i = 0; i < 5; ++i) b.AddPayload("rec-" + std::to_string(i));
  Bytes seg = b.Unsealed();
  seg.resize(seg.size() + 1000, 0);
  testing::PlantLog(&fs_, kDir, {});
  Write(0, seg);

  Recovered r = MustRecover();
  ASSERT_EQ(r.report.events.size(), 1u);
  EXPECT_EQ(r.report.events[0].reason, LossReason::kTornTail);
  EXPECT_EQ(r.report.events[0].bytes_skipped(), 1000u);
  EXPECT_EQ(r.report.Totals().data_loss_bytes, 0u);
  EXPECT_EQ(Read(0).size(), b.Unsealed().size());
  ExpectServedExcept(r, {b}, 0, 0);
}

TEST_F(ScanTest, ZerosFollowedByValidFramesAreCorruption) {
  SegmentBuilder b(0, 0, 0);
  for (int i = 0; i < 6; ++i) b.AddPayload("rec-" + std::to_string(i));
  const Bytes good = b.Unsealed();
  const uint64_t cut = b.frames()[3].start;
  Bytes seg(good.begin(), good.begin() + static_cast<ptrdiff_t>(cut));
  seg.resize(seg.size() + 200, 0);
  seg.insert(seg.end(), good.begin() + static_cast<ptrdiff_t>(cut), good.end());
  testing::PlantLog(&fs_, kDir, {});
  Write(0, seg);

  Recovered r = MustRecover();
  ASSERT_EQ(r.report.events.size(), 1u);
  EXPECT_EQ(r.report.events[0].reason, LossReason::kCorruptRecordHeader);
  EXPECT_EQ(r.report.events[0].byte_offset_start, cut);
  EXPECT_EQ(r.report.events[0].byte_offset_end, cut + 200);
  EXPECT_TRUE(r.report.events[0].data_loss());
  ExpectServedExcept(r, {b}, 0, 0);
  EXPECT_EQ(Read(0), seg);
}

TEST_F(ScanTest, CorruptLastRecordOfTheActiveSegmentIsCutAndQuarantined) {
  SegmentBuilder b(0, 0, 0);
  for (int i = 0; i < 4; ++i) b.AddPayload("rec-" + std::to_string(i));
  Bytes seg = b.Unsealed();
  const auto& last = b.frames().back();
  seg[last.start + format::kRecordHeaderSize] ^= 0x10;
  testing::PlantLog(&fs_, kDir, {});
  Write(0, seg);

  Recovered r = MustRecover();
  ASSERT_EQ(r.report.events.size(), 1u);
  const LossEvent& e = r.report.events[0];
  EXPECT_EQ(e.reason, LossReason::kCorruptRecordBody);
  EXPECT_TRUE(e.truncated);
  EXPECT_FALSE(e.offsets_exact);
  EXPECT_EQ(e.first_lost_offset, 3u);
  EXPECT_EQ(e.end_lost_offset, 3u);  // appends resume at 3: no hole
  EXPECT_EQ(Read(0).size(), last.start);
  EXPECT_EQ(r.state.next_offset, 3u);
  auto blob = fs_.CurrentContent("/data/quarantine/q-0000000000000000-corrupt_record_body-" +
                                 std::to_string(last.start) + "-" + std::to_string(last.end) + ".bin");
  ASSERT_TRUE(blob.ok());
  EXPECT_EQ(*blob, Bytes(seg.begin() + static_cast<ptrdiff_t>(last.start), seg.end()));
}

TEST_F(ScanTest, SealedLastSegmentWithDamageRollsForwardUntouched) {
  auto segs = MakeLog(2, 8);
  testing::PlantLog(&fs_, kDir, segs, /*last_sealed=*/true);
  Bytes seg1 = Read(1);
  seg1[segs[1].frames()[2].start + 40] ^= 0x02;
  Write(1, seg1);

  Recovered r = MustRecover();
  ASSERT_EQ(r.report.events.size(), 1u);
  EXPECT_EQ(r.report.events[0].first_lost_offset, 10u);
  EXPECT_EQ(r.report.events[0].end_lost_offset, 11u);
  EXPECT_TRUE(r.state.segments[1].sealed);
  EXPECT_TRUE(r.state.needs_new_active_segment);
  EXPECT_EQ(r.state.next_offset, 16u);
  EXPECT_EQ(Read(1), seg1);
}

TEST_F(ScanTest, IndexAnchorsPointAtFramesEveryStride) {
  SegmentBuilder b(0, 0, 0);
  for (int i = 0; i < 2500; ++i) b.AddPayload(std::string(100, 'a' + i % 26));
  testing::PlantLog(&fs_, kDir, {b});
  Recovered r = MustRecover();
  const auto& index = r.state.segments[0].index;
  ASSERT_GE(index.size(), 4u);
  for (size_t i = 0; i < index.size(); ++i) {
    const auto& frame = b.frames()[index[i].offset];
    EXPECT_EQ(frame.start, index[i].byte_pos);
    if (i > 0) {
      EXPECT_GE(index[i].byte_pos - index[i - 1].byte_pos, storage::kSparseIndexStrideBytes);
      EXPECT_LT(index[i].byte_pos - index[i - 1].byte_pos, storage::kSparseIndexStrideBytes + 200);
    }
  }
}

}  // namespace
}  // namespace ironbus::recovery
