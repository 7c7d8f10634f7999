// The conformance fixtures of spec/storage.md 17.1, regenerated with the format encoders and
// run through Recover. Two verdicts differ from the reference on purpose (DESIGN.md D1, D2):
//   - segment_mid_log_bit_flip: the reference cuts [125, 246) and keeps one record; IronBus
//     resynchronizes, skips only [125, 178) (the damaged record, offset 4097) and keeps 4098.
//   - segment_zero_window_tail: the reference reports CorruptRecordHeader [64, 320) as data
//     loss; IronBus calls an all-zero tail of the active segment a torn tail (not data loss).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "format/crc32c.h"
#include "format/segment_name.h"
#include "io/sim_file_system.h"
#include "recovery/recover.h"
#include "recovery_test_util.h"

namespace ironbus::recovery {
namespace {

using testing::kTs;
using testing::SegmentBuilder;
using ::testing::HasSubstr;

constexpr char kDir[] = "/data";
constexpr uint64_t kId = 7;

format::Record Rec(uint8_t flags, std::string_view key, std::string_view headers, std::string_view payload,
                   uint64_t ts) {
  format::Record r;
  r.flags = flags;
  r.key = ToBytes(key);
  r.headers = ToBytes(headers);
  r.payload = ToBytes(payload);
  r.timestamp_ms = ts;
  return r;
}

// The shared segment of 17.1: id 7, base_seq 100, base_offset 4096, three records of 61, 53
// and 68 bytes, record region [64, 246).
SegmentBuilder CorpusSegment() {
  SegmentBuilder b(kId, 100, 4096);
  b.Add(Rec(0, "alpha", "", "first-record", kTs));
  b.Add(Rec(0, "", "h=1", "second", kTs + 1));
  b.Add(Rec(format::kFlagCompressed, "key3", "", "third-record-payload", kTs + 2));
  return b;
}

class FixturesTest : public ::testing::Test {
 protected:
  void Plant(const Bytes& segment, uint64_t id = kId) {
    ASSERT_TRUE(fs_.CreateDirs(kDir).ok());
    ASSERT_TRUE(fs_.SetFileContent(testing::SegPath(kDir, id), segment).ok());
  }
  Recovered MustRecover(Mode mode = Mode::kApply) {
    RecoveryOptions opts;
    opts.mode = mode;
    auto r = Recover(&fs_, kDir, opts);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(r).value() : Recovered();
  }
  uint64_t FileLen(uint64_t id = kId) { return testing::ReadFile(&fs_, testing::SegPath(kDir, id)).size(); }

  io::SimFileSystem fs_;
};

TEST_F(FixturesTest, CorpusSegmentHasTheSpecFrameLayout) {
  SegmentBuilder b = CorpusSegment();
  ASSERT_EQ(b.frames().size(), 3u);
  EXPECT_EQ(b.frames()[0].start, 64u);
  EXPECT_EQ(b.frames()[1].start, 125u);
  EXPECT_EQ(b.frames()[2].start, 178u);
  EXPECT_EQ(b.frames()[2].end, 246u);
  EXPECT_EQ(b.Sealed().size(), 278u);
}

TEST_F(FixturesTest, SealedWithFooterRecoversSealedAndRollsForward) {
  Plant(CorpusSegment().Sealed());
  Recovered r = MustRecover();
  EXPECT_TRUE(r.report.events.empty());
  ASSERT_EQ(r.state.segments.size(), 1u);
  const auto& seg = r.state.segments[0];
  EXPECT_TRUE(seg.sealed);
  EXPECT_EQ(seg.record_count, 3u);
  EXPECT_EQ(seg.last_seq, 102u);
  EXPECT_EQ(seg.valid_end, 246u);
  EXPECT_EQ(seg.file_len, 278u);
  EXPECT_EQ(seg.end_offset, 4099u);
  EXPECT_EQ(seg.max_timestamp_ms, static_cast<int64_t>(kTs + 2));
  EXPECT_TRUE(r.state.needs_new_active_segment);
  EXPECT_EQ(r.state.next_offset, 4099u);
  EXPECT_EQ(r.state.next_seq, 103u);
  EXPECT_EQ(testing::ReadServed(&fs_, r.state).size(), 3u);
}

TEST_F(FixturesTest, ActiveNoFooterRecoversIntact) {
  Plant(CorpusSegment().Unsealed());
  Recovered r = MustRecover();
  EXPECT_TRUE(r.report.events.empty());
  ASSERT_EQ(r.state.segments.size(), 1u);
  EXPECT_FALSE(r.state.segments[0].sealed);
  EXPECT_EQ(r.state.segments[0].valid_end, 246u);
  EXPECT_FALSE(r.state.needs_new_active_segment);
  EXPECT_EQ(r.state.next_offset, 4099u);
  ASSERT_EQ(r.state.segments[0].index.size(), 1u);  // the first record anchors the index
  EXPECT_EQ(r.state.segments[0].index[0].offset, 4096u);
  EXPECT_EQ(r.state.segments[0].index[0].byte_pos, 64u);
}

void ExpectTornTail(const Recovered& r, uint64_t start, uint64_t end) {
  ASSERT_EQ(r.report.events.size(), 1u);
  const LossEvent& e = r.report.events[0];
  EXPECT_EQ(e.reason, LossReason::kTornTail);
  EXPECT_EQ(e.byte_offset_start, start);
  EXPECT_EQ(e.byte_offset_end, end);
  EXPECT_FALSE(e.data_loss());
  EXPECT_TRUE(e.truncated);
  EXPECT_EQ(r.report.Totals().data_loss_bytes, 0u);
  EXPECT_EQ(r.report.Totals().torn_tail_bytes, end - start);
}

TEST_F(FixturesTest, TornTailMidBodyIsCutNotLost) {
  Bytes seg = CorpusSegment().Unsealed();
  seg.resize(216);
  Plant(seg);
  Recovered r = MustRecover();
  ExpectTornTail(r, 178, 216);
  EXPECT_EQ(FileLen(), 178u);
  EXPECT_EQ(r.state.next_offset, 4098u);
  EXPECT_EQ(testing::ReadServed(&fs_, r.state).size(), 2u);
  // Torn tails are never quarantined.
  EXPECT_FALSE(*fs_.Exists("/data/quarantine/q-0000000000000007-torn_tail-178-216.bin"));
}

TEST_F(FixturesTest, TornTailMidTrailerIsCutNotLost) {
  Bytes seg = CorpusSegment().Unsealed();
  seg.resize(243);
  Plant(seg);
  Recovered r = MustRecover();
  ExpectTornTail(r, 178, 243);
  EXPECT_EQ(FileLen(), 178u);
}

// D1 divergence: the reference reports CorruptRecordBody [125, 246) and keeps one record.
TEST_F(FixturesTest, MidLogBitFlipSkipsOnlyTheDamagedRecord) {
  Bytes seg = CorpusSegment().Unsealed();
  seg[161] ^= 0x01;  // first body byte of the second record
  Plant(seg);
  Recovered r = MustRecover();
  ASSERT_EQ(r.report.events.size(), 1u);
  const LossEvent& e = r.report.events[0];
  EXPECT_EQ(e.reason, LossReason::kCorruptRecordBody);
  EXPECT_EQ(e.byte_offset_start, 125u);
  EXPECT_EQ(e.byte_offset_end, 178u);
  EXPECT_EQ(e.first_lost_offset, 4097u);
  EXPECT_EQ(e.end_lost_offset, 4098u);
  EXPECT_TRUE(e.offsets_exact);
  EXPECT_EQ(e.records_lost_estimate, 1u);
  EXPECT_FALSE(e.truncated);

  auto served = testing::ReadServed(&fs_, r.state);
  ASSERT_EQ(served.size(), 2u);
  EXPECT_TRUE(served.count(4096));
  EXPECT_TRUE(served.count(4098));
  EXPECT_EQ(served[4098].payload, ToBytes("third-record-payload"));
  EXPECT_EQ(FileLen(), 246u);  // nothing cut: the hole stays, offsets never shift
  EXPECT_EQ(r.state.next_offset, 4099u);
  ASSERT_EQ(r.state.segments[0].skipped.size(), 1u);
  EXPECT_EQ(r.state.segments[0].skipped[0].byte_start, 125u);
  EXPECT_EQ(r.state.segments[0].skipped[0].byte_end, 178u);

  auto blob = fs_.CurrentContent("/data/quarantine/q-0000000000000007-corrupt_record_body-125-178.bin");
  ASSERT_TRUE(blob.ok()) << blob.status().ToString();
  EXPECT_EQ(*blob, Bytes(seg.begin() + 125, seg.begin() + 178));
}

// D2 divergence: the reference reports CorruptRecordHeader [64, 320) as data loss.
TEST_F(FixturesTest, ZeroWindowTailIsATornTail) {
  Bytes seg = format::EncodeSegmentHeader(CorpusSegment().header());
  seg.resize(320, 0);
  Plant(seg);
  Recovered r = MustRecover();
  ExpectTornTail(r, 64, 320);
  EXPECT_EQ(FileLen(), 64u);
  EXPECT_EQ(r.state.next_offset, 4096u);
  EXPECT_EQ(r.state.segments[0].record_count, 0u);
}

TEST_F(FixturesTest, SegmentHeaderAloneIsAnEmptyActiveSegment) {
  Plant(format::EncodeSegmentHeader(CorpusSegment().header()));
  Recovered r = MustRecover();
  EXPECT_TRUE(r.report.events.empty());
  ASSERT_EQ(r.state.segments.size(), 1u);
  EXPECT_EQ(r.state.segments[0].valid_end, 64u);
  EXPECT_FALSE(r.state.needs_new_active_segment);
  EXPECT_EQ(r.state.next_offset, 4096u);
  EXPECT_EQ(r.state.next_seq, 100u);
}

// Each record fixture inside a segment whose base_seq is the record's seq: intact.
TEST_F(FixturesTest, RecordFixturesRecoverIntact) {
  struct Case {
    const char* name;
    format::Record record;
  };
  auto pattern = [](uint8_t seed, size_t n) {
    Bytes b(n);
    for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(seed ^ (i & 0xff));
    return b;
  };
  std::vector<Case> cases;
  cases.push_back({"record_minimal", Rec(0, "", "", "x", kTs)});
  cases.push_back({"record_key_only", Rec(0, "order-42", "", "", kTs + 10)});
  cases.push_back({"record_key_headers_payload", Rec(0, "k", "content-type=app/json", "{\"v\":1}", kTs + 20)});
  format::Record compressed = Rec(format::kFlagCompressed, "ckey", "", "", kTs + 30);
  compressed.payload = pattern(0xC5, 48);
  cases.push_back({"record_compressed", compressed});
  format::Record max_size = Rec(0, "", "", "", kTs + 40);
  max_size.payload = pattern(0x5A, (16u << 20) - 52);
  cases.push_back({"record_max_size", max_size});
  format::Record over = Rec(format::kFlagCompressed, "big", "", "", kTs + 50);
  over.payload = pattern(0x9E, 65568);
  cases.push_back({"record_compressed_over_threshold", over});
  uint64_t seq = 1;
  for (auto& c : cases) {
    SCOPED_TRACE(c.name);
    io::SimFileSystem fs;
    ASSERT_TRUE(fs.CreateDirs(kDir).ok());
    SegmentBuilder b(0, seq, seq);
    b.Add(c.record);
    ASSERT_TRUE(fs.SetFileContent(testing::SegPath(kDir, 0), b.Unsealed()).ok());
    auto r = Recover(&fs, kDir, RecoveryOptions{});
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_TRUE(r->report.events.empty());
    auto served = testing::ReadServed(&fs, r->state);
    ASSERT_EQ(served.size(), 1u);
    EXPECT_TRUE(testing::SameRecord(served.begin()->second, b.frames()[0].record));
    ++seq;
  }
}

// record_newer_version_reject: version 2 under a valid header CRC is reference data from a
// newer build, refused by name (D3), never treated as corruption.
TEST_F(FixturesTest, NewerRecordVersionFailsClosed) {
  Bytes seg = format::EncodeSegmentHeader(SegmentBuilder(0, 9, 9).header());
  Bytes frame;
  ASSERT_TRUE(format::EncodeRecord(Rec(0, "k", "", "future", kTs + 60).view(), &frame).ok());
  frame[0 + 4] = 9;  // seq 9
  frame[format::kRecordOffVersion] = 2;
  EncodeFixed32(frame.data() + format::kRecordOffHeaderCrc,
                format::crc32c::Value(frame.data(), format::kRecordHeaderCrcCoverage));
  PutBytes(&seg, frame);
  Plant(seg, 0);
  auto r = Recover(&fs_, kDir, RecoveryOptions{});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsFailedPrecondition());
  EXPECT_THAT(r.status().message(), HasSubstr("unsupported record version"));
  EXPECT_EQ(FileLen(0), seg.size());  // untouched
}

}  // namespace
}  // namespace ironbus::recovery
