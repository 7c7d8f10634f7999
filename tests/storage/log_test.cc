#include "storage/log.h"

#include <gtest/gtest.h>

#include "format/compression.h"
#include "format/segment.h"
#include "storage_test_util.h"

namespace ironbus::storage {
namespace {

using testing::FrameLen;
using testing::kDir;
using testing::OpenLog;
using testing::Payload;
using testing::RawOptions;
using testing::Rec;
using testing::SegPath;

class LogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs_.CreateDirs(kDir).ok());
    fs_.SyncAll();
  }

  // Appends payloads p<first>..p<first+n-1> of `size` bytes and syncs.
  void AppendN(Log& log, uint64_t first, uint64_t n, size_t size = 16, int64_t ts = 0) {
    for (uint64_t i = first; i < first + n; ++i) {
      auto off = log.Append(Rec(Payload(i, size), ts));
      ASSERT_TRUE(off.ok()) << off.status().ToString();
      ASSERT_EQ(*off, i);
    }
    ASSERT_TRUE(log.Sync().ok());
  }

  static std::vector<uint64_t> Offsets(const ReadBatch& b) {
    std::vector<uint64_t> v;
    for (const LogRecord& r : b.records) v.push_back(r.offset);
    return v;
  }

  io::SimFileSystem fs_;
  ManualClock clock_;
};

TEST_F(LogTest, FreshDirectoryGetsSegmentZeroAtOffsetZero) {
  auto log = OpenLog(fs_, testing::FreshState(), RawOptions(), &clock_);
  ASSERT_NE(log, nullptr);
  EXPECT_TRUE(fs_.DurablyExists(SegPath(0)));
  EXPECT_EQ(log->first_offset(), 0u);
  EXPECT_EQ(log->durable_offset(), 0u);
  ASSERT_EQ(log->segments().size(), 1u);
  EXPECT_TRUE(log->segments()[0].active);
  AppendN(*log, 0, 3);
  EXPECT_EQ(log->durable_offset(), 3u);
  auto batch = log->Read(0, 100, 1 << 20);
  ASSERT_TRUE(batch.ok());
  EXPECT_EQ(Offsets(*batch), (std::vector<uint64_t>{0, 1, 2}));
  EXPECT_EQ(batch->records[1].record.payload, Payload(1));
  EXPECT_EQ(batch->next_offset, 3u);
}

TEST_F(LogTest, RollsWhenWritePositionReachesTheCapAndSealsWithFooter) {
  const uint64_t frame = FrameLen(16);
  // Cap reached after exactly 5 records: 64 + 5 * 60 = 364.
  auto log = OpenLog(fs_, testing::FreshState(), RawOptions(64 + 5 * frame), &clock_);
  AppendN(*log, 0, 5);
  EXPECT_EQ(log->segments().size(), 1u);  // at the cap but nothing appended past it yet
  AppendN(*log, 5, 1);
  auto segs = log->segments();
  ASSERT_EQ(segs.size(), 2u);
  EXPECT_TRUE(segs[0].sealed);
  EXPECT_EQ(segs[0].record_count, 5u);
  EXPECT_EQ(segs[1].base_offset, 5u);
  EXPECT_EQ(segs[1].id, 1u);
  auto sealed = fs_.DurableContent(SegPath(0));
  ASSERT_EQ(sealed->size(), 64 + 5 * frame + format::kSegmentFooterSize);  // exactly header+records+footer
  format::SegmentFooter f;
  ASSERT_TRUE(format::DecodeSegmentFooter(ByteView(*sealed).subspan(64 + 5 * frame), &f));
  EXPECT_EQ(f.record_count, 5u);
  EXPECT_EQ(f.last_seq, 4u);
  EXPECT_EQ(f.segment_id, 0u);
  format::SegmentHeader h;
  ASSERT_EQ(format::DecodeSegmentHeader(*fs_.DurableContent(SegPath(1)), &h), format::SegmentHeaderError::kOk);
  EXPECT_EQ(h.base_offset, 5u);
  EXPECT_EQ(h.base_seq, 5u);
  // Reads cross the segment boundary.
  EXPECT_EQ(Offsets(*log->Read(3, 10, 1 << 20)), (std::vector<uint64_t>{3, 4, 5}));
}

TEST_F(LogTest, RecordLargerThanTheCapGetsASegmentOfItsOwn) {
  auto log = OpenLog(fs_, testing::FreshState(), RawOptions(format::kMinSegmentBytes), &clock_);
  AppendN(*log, 0, 1, 500);  // empty segment 0 takes it: an empty segment is never rolled
  AppendN(*log, 1, 1, 500);  // segment 0 is past the cap: roll first
  AppendN(*log, 2, 1, 10);
  auto segs = log->segments();
  ASSERT_EQ(segs.size(), 3u);
  for (const SegmentInfo& s : segs) EXPECT_EQ(s.record_count, 1u);
  EXPECT_EQ(fs_.CurrentContent(SegPath(0))->size(), 64 + FrameLen(500) + 32);  // never split
  EXPECT_EQ(Offsets(*log->Read(0, 10, 1 << 20)), (std::vector<uint64_t>{0, 1, 2}));
}

TEST_F(LogTest, RefusedRecordsConsumeNoOffset) {
  LogOptions o = RawOptions();
  o.max_record_bytes = FrameLen(100);
  auto log = OpenLog(fs_, testing::FreshState(), o, &clock_);
  EXPECT_EQ(*log->Append(Rec(Payload(0, 100))), 0u);
  EXPECT_TRUE(log->Append(Rec(Payload(1, 101))).status().code() == StatusCode::kOutOfRange);
  const Bytes not_compressed = ToBytes("not a compressed payload");
  AppendRecord bad = Rec(not_compressed);
  bad.flags = format::kFlagCompressed;
  EXPECT_TRUE(log->Append(bad).status().code() == StatusCode::kInvalidArgument);
  const Bytes p2 = Payload(2);
  AppendRecord unknown_flag = Rec(p2);
  unknown_flag.flags = 0x40;
  EXPECT_TRUE(log->Append(unknown_flag).status().code() == StatusCode::kInvalidArgument);
  EXPECT_EQ(*log->Append(Rec(Payload(1, 10))), 1u);
  EXPECT_FALSE(log->frozen());
}

TEST_F(LogTest, CompressesLargePayloadsWithLz4ByDefault) {
  auto log = OpenLog(fs_, testing::FreshState(), LogOptions(), &clock_);
  const Bytes big(8192, 'a');
  ASSERT_TRUE(log->Append(Rec(big)).ok());
  ASSERT_TRUE(log->Append(Rec(Payload(1, 100))).ok());  // below 1 KiB: raw
  ASSERT_TRUE(log->Sync().ok());
  auto b = log->Read(0, 10, 1 << 20);
  ASSERT_EQ(b->records.size(), 2u);
  const format::Record& r0 = b->records[0].record;
  EXPECT_EQ(r0.flags & format::kFlagCompressed, format::kFlagCompressed);
  EXPECT_LT(r0.payload.size(), big.size());
  Bytes restored;
  ASSERT_EQ(format::Decompress(r0.payload, &restored), format::DecompressError::kOk);
  EXPECT_EQ(restored, big);
  EXPECT_EQ(b->records[1].record.flags & format::kFlagCompressed, 0);
}

TEST_F(LogTest, ReadsServeOnlyUpToTheDurableOffset) {
  auto log = OpenLog(fs_, testing::FreshState(), RawOptions(), &clock_);
  AppendN(*log, 0, 2);
  ASSERT_TRUE(log->Append(Rec(Payload(2))).ok());
  ASSERT_TRUE(log->Flush().ok());  // written, not fdatasync'd
  EXPECT_EQ(log->durable_offset(), 2u);
  EXPECT_EQ(log->readable_offset(), 2u);
  EXPECT_EQ(Offsets(*log->Read(0, 10, 1 << 20)), (std::vector<uint64_t>{0, 1}));
  EXPECT_TRUE(log->Read(2, 10, 1 << 20)->records.empty());
  EXPECT_EQ(log->Read(3, 10, 1 << 20).status().code(), StatusCode::kOutOfRange);
  ASSERT_TRUE(log->Sync().ok());
  EXPECT_EQ(Offsets(*log->Read(2, 10, 1 << 20)), (std::vector<uint64_t>{2}));
}

TEST_F(LogTest, RelaxedLevelsServeWrittenRecordsBeforeTheSync) {
  LogOptions o = RawOptions();
  o.durability = Durability::kNone;
  o.relaxed_durability_acknowledged = true;
  auto log = OpenLog(fs_, testing::FreshState(), o, &clock_);
  ASSERT_TRUE(log->Append(Rec(Payload(0))).ok());
  EXPECT_TRUE(log->Read(0, 10, 1 << 20)->records.empty());  // still pending in memory
  ASSERT_TRUE(log->Flush().ok());
  EXPECT_EQ(log->readable_offset(), 1u);
  EXPECT_EQ(log->durable_offset(), 0u);
  EXPECT_EQ(log->Read(0, 10, 1 << 20)->records.size(), 1u);
}

TEST_F(LogTest, ReadHonoursMaxRecordsAndMaxBytesButReturnsAtLeastOne) {
  auto log = OpenLog(fs_, testing::FreshState(), RawOptions(), &clock_);
  AppendN(*log, 0, 10);
  auto two = log->Read(0, 2, 1 << 20);
  EXPECT_EQ(Offsets(*two), (std::vector<uint64_t>{0, 1}));
  EXPECT_EQ(two->next_offset, 2u);
  auto by_bytes = log->Read(4, 100, 3 * FrameLen(16));
  EXPECT_EQ(Offsets(*by_bytes), (std::vector<uint64_t>{4, 5, 6}));
  auto tiny = log->Read(9, 100, 1);
  EXPECT_EQ(Offsets(*tiny), (std::vector<uint64_t>{9}));
  EXPECT_EQ(tiny->next_offset, 10u);
}

TEST_F(LogTest, ASequentialReaderResumesWhereItsLastReadStopped) {
  const uint64_t frame = FrameLen(16);
  auto log = OpenLog(fs_, testing::FreshState(), RawOptions(64 + 8 * frame), &clock_);  // 8 records a segment
  AppendN(*log, 0, 30);
  ReadPosition position;
  auto first = log->Read(0, 3, 1 << 20, &position);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(Offsets(*first), (std::vector<uint64_t>{0, 1, 2}));
  EXPECT_EQ(position.segment_id, 0u);
  EXPECT_EQ(position.offset, 3u);
  EXPECT_EQ(position.byte_pos, 64 + 3 * frame);
  // A byte cap stops before a record it already read: the position is that record's frame.
  auto capped = log->Read(3, 100, 2 * frame, &position);
  EXPECT_EQ(Offsets(*capped), (std::vector<uint64_t>{3, 4}));
  EXPECT_EQ(position.offset, 5u);
  EXPECT_EQ(position.byte_pos, 64 + 5 * frame);

  // Reading on with the position, in odd-sized batches across segment rolls, returns exactly
  // what reads without one return.
  std::vector<uint64_t> seen = Offsets(*first);
  for (uint64_t o : Offsets(*capped)) seen.push_back(o);
  uint64_t at = 5;
  while (at < 30) {
    auto with = log->Read(at, 7, 1 << 20, &position);
    auto without = log->Read(at, 7, 1 << 20);
    ASSERT_TRUE(with.ok() && without.ok());
    ASSERT_EQ(Offsets(*with), Offsets(*without));
    for (size_t i = 0; i < with->records.size(); ++i) {
      EXPECT_EQ(with->records[i].record.payload, Payload(with->records[i].offset));
    }
    for (uint64_t o : Offsets(*with)) seen.push_back(o);
    at = with->next_offset;
  }
  std::vector<uint64_t> all(30);
  for (uint64_t i = 0; i < 30; ++i) all[i] = i;
  EXPECT_EQ(seen, all);
  EXPECT_EQ(position.offset, 30u);  // at the head, pointing past the last record

  // A position that belongs to another offset or segment is ignored.
  ReadPosition wrong{0, 3, 64 + 3 * frame};
  EXPECT_EQ(Offsets(*log->Read(9, 2, 1 << 20, &wrong)), (std::vector<uint64_t>{9, 10}));
  wrong = ReadPosition{1, 9, 64 + 7 * frame};
  EXPECT_EQ(Offsets(*log->Read(9, 2, 1 << 20, &wrong)), (std::vector<uint64_t>{9, 10}));
}

TEST_F(LogTest, ReopenFromScannedStateResumesAtTheEnd) {
  {
    auto log = OpenLog(fs_, testing::FreshState(), RawOptions(64 + 4 * FrameLen(16)), &clock_);
    AppendN(*log, 0, 6);
    ASSERT_TRUE(log->Close().ok());
    EXPECT_TRUE(log->Append(Rec(Payload(6))).status().IsFailedPrecondition());
  }
  LogState st = testing::ScanCleanDir(fs_);
  ASSERT_EQ(st.segments.size(), 2u);
  EXPECT_TRUE(st.segments[0].sealed);
  EXPECT_FALSE(st.segments[1].sealed);
  auto log = OpenLog(fs_, st, RawOptions(64 + 4 * FrameLen(16)), &clock_);
  EXPECT_EQ(*log->Append(Rec(Payload(6))), 6u);
  ASSERT_TRUE(log->Sync().ok());
  EXPECT_EQ(log->Read(0, 100, 1 << 20)->records.size(), 7u);
  EXPECT_EQ(testing::ScanCleanDir(fs_).next_offset, 7u);
}

TEST_F(LogTest, SealedLastSegmentRollsForwardToTheNextId) {
  {
    auto log = OpenLog(fs_, testing::FreshState(), RawOptions(64 + 2 * FrameLen(16)), &clock_);
    AppendN(*log, 0, 3);  // segment 0 sealed with 2, segment 1 holds 1
  }
  // Simulate a crash between seal and create: seal segment 1 by hand and drop nothing else.
  LogState st = testing::ScanCleanDir(fs_);
  ASSERT_EQ(st.segments.size(), 2u);
  {
    auto w = SegmentWriter::Reopen(&fs_, kDir, st.segments[1]);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Seal().ok());
  }
  st = testing::ScanCleanDir(fs_);
  ASSERT_TRUE(st.segments.back().sealed);
  auto log = OpenLog(fs_, st, RawOptions(64 + 2 * FrameLen(16)), &clock_);
  ASSERT_EQ(log->segments().size(), 3u);
  EXPECT_EQ(log->segments()[2].id, 2u);
  EXPECT_EQ(log->segments()[2].base_offset, 3u);
  EXPECT_EQ(*log->Append(Rec(Payload(3))), 3u);
}

TEST_F(LogTest, FrozenStateServesReadsAndRefusesAppends) {
  {
    auto log = OpenLog(fs_, testing::FreshState(), RawOptions(), &clock_);
    AppendN(*log, 0, 3);
  }
  LogState st = testing::ScanCleanDir(fs_);
  st.frozen = true;
  st.frozen_reason = "loss over the cap";
  auto log = OpenLog(fs_, st, RawOptions(), &clock_);
  EXPECT_TRUE(log->frozen());
  Status s = log->Append(Rec(Payload(3))).status();
  EXPECT_TRUE(s.IsFailedPrecondition());
  EXPECT_NE(s.message().find("loss over the cap"), std::string::npos);
  EXPECT_EQ(log->Read(0, 10, 1 << 20)->records.size(), 3u);
}

TEST_F(LogTest, ReadStepsOverHolesRecoveryReported) {
  {
    auto log = OpenLog(fs_, testing::FreshState(), RawOptions(), &clock_);
    AppendN(*log, 0, 6);
  }
  LogState st = testing::ScanCleanDir(fs_);
  const uint64_t frame = FrameLen(16);
  st.segments[0].skipped.push_back(SkippedSpan{64 + 2 * frame, 64 + 4 * frame, 2, 4});
  st.segments[0].record_count -= 2;
  auto log = OpenLog(fs_, st, RawOptions(), &clock_);
  EXPECT_EQ(Offsets(*log->Read(0, 10, 1 << 20)), (std::vector<uint64_t>{0, 1, 4, 5}));
  EXPECT_EQ(Offsets(*log->Read(2, 10, 1 << 20)), (std::vector<uint64_t>{4, 5}));
  EXPECT_EQ(log->stats().record_bytes, 4 * frame);
  EXPECT_EQ(*log->Append(Rec(Payload(6))), 6u);
}

TEST_F(LogTest, OpenRefusesAStateThatBreaksTheChain) {
  {
    auto log = OpenLog(fs_, testing::FreshState(), RawOptions(64 + 2 * FrameLen(16)), &clock_);
    AppendN(*log, 0, 5);
  }
  const LogState good = testing::ScanCleanDir(fs_);
  ASSERT_TRUE(Log::Open(&fs_, good, RawOptions(), &clock_).ok());
  LogState bad_seq = good;
  bad_seq.next_seq += 1;
  EXPECT_EQ(Log::Open(&fs_, bad_seq, RawOptions(), &clock_).status().code(), StatusCode::kInvalidArgument);
  LogState bad_offset = good;
  bad_offset.next_offset += 1;
  EXPECT_EQ(Log::Open(&fs_, bad_offset, RawOptions(), &clock_).status().code(), StatusCode::kInvalidArgument);
  LogState gap = good;
  gap.segments[1].base_offset += 1;
  EXPECT_EQ(Log::Open(&fs_, gap, RawOptions(), &clock_).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(LogTest, OptionsRefuseWhatTheSpecRefuses) {
  LogOptions o;
  o.durability = Durability::kNone;
  EXPECT_EQ(o.Validate().code(), StatusCode::kInvalidArgument);  // needs the acknowledgement
  o.relaxed_durability_acknowledged = true;
  EXPECT_TRUE(o.Validate().ok());
  LogOptions i;
  i.durability = Durability::kInterval;
  i.flush_interval_ms = 0;
  i.flush_max_bytes = 0;
  EXPECT_EQ(i.Validate().code(), StatusCode::kInvalidArgument);
  i.flush_max_bytes = 1;
  EXPECT_TRUE(i.Validate().ok());
  LogOptions small;
  small.max_segment_bytes = format::kMinSegmentBytes - 1;
  EXPECT_EQ(small.Validate().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(Log::Open(&fs_, testing::FreshState(), small, &clock_).ok());
}

}  // namespace
}  // namespace ironbus::storage
