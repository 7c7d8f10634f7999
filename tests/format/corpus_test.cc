// Known-answer tests: regenerate the conformance fixtures of spec/storage.md 17.1 and compare
// them byte for byte with the vectors of 17.2 (computed by an independent encoder that
// reproduces the reference's frozen record_max_size digest).

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "format/checkpoint.h"
#include "format/corpus_fixtures.h"
#include "format/crc32c.h"
#include "format/record.h"
#include "format/record_format.h"
#include "format/segment.h"

namespace ironbus::format {
namespace {

using testing::FromHex;

std::string Crc8(ByteView b) {
  char buf[9];
  std::snprintf(buf, sizeof(buf), "%08x", crc32c::Value(b));
  return buf;
}

// Decodes a whole-frame fixture and checks it is intact and consumes exactly its bytes.
RecordView DecodeIntact(const Bytes& frame) {
  RecordView v;
  const DecodeResult r = DecodeRecord(frame, &v);
  EXPECT_EQ(r.outcome, ParseOutcome::kOk) << ParseOutcomeName(r.outcome);
  EXPECT_EQ(r.frame_len, frame.size());
  return v;
}

TEST(CorpusTest, RecordMinimalMatchesVector) {
  const Bytes b = testing::RecordMinimal();
  EXPECT_EQ(b, FromHex("42 49 01 00 01 00 00 00 00 00 00 00 00 68 e5 cf 8b 01 00 00 00 00 00 00"
                       "00 00 00 00 01 00 00 00 7b c7 2f 0e 78 93 5f 3c a9 2d 00 00 00"));
  EXPECT_EQ(b.size(), 45u);
  EXPECT_EQ(Crc8(b), "0c9093eb");
  const RecordView v = DecodeIntact(b);
  EXPECT_EQ(AsChars(v.payload), "x");
}

TEST(CorpusTest, RecordKeyOnlyMatchesVectorAndDerivesHasKey) {
  const Bytes b = testing::RecordKeyOnly();
  EXPECT_EQ(b, FromHex("42 49 01 02 02 00 00 00 00 00 00 00 0a 68 e5 cf 8b 01 00 00 08 00 00 00"
                       "00 00 00 00 00 00 00 00 c7 95 f5 85 6f 72 64 65 72 2d 34 32 86 2e 45 f2"
                       "34 00 00 00"));
  EXPECT_EQ(Crc8(b), "37feea1b");
  const RecordView v = DecodeIntact(b);
  EXPECT_EQ(v.flags, kFlagHasKey);
  EXPECT_EQ(AsChars(v.key), "order-42");
}

TEST(CorpusTest, RecordKeyHeadersPayloadMatchesVector) {
  const Bytes b = testing::RecordKeyHeadersPayload();
  EXPECT_EQ(b, FromHex("42 49 01 02 03 00 00 00 00 00 00 00 14 68 e5 cf 8b 01 00 00 01 00 00 00"
                       "15 00 00 00 07 00 00 00 d2 49 d4 1b 6b 63 6f 6e 74 65 6e 74 2d 74 79 70"
                       "65 3d 61 70 70 2f 6a 73 6f 6e 7b 22 76 22 3a 31 7d 5b c1 db 69 49 00 00"
                       "00"));
  EXPECT_EQ(Crc8(b), "523f6186");
  const RecordView v = DecodeIntact(b);
  EXPECT_EQ(AsChars(v.headers), "content-type=app/json");
  EXPECT_EQ(AsChars(v.payload), "{\"v\":1}");
}

TEST(CorpusTest, RecordCompressedCarriesFlagWithUnchangedFraming) {
  const Bytes b = testing::RecordCompressed();
  EXPECT_EQ(b.size(), 96u);
  EXPECT_EQ(Crc8(b), "a96817b0");
  const RecordView v = DecodeIntact(b);
  EXPECT_EQ(v.flags, kFlagCompressed | kFlagHasKey);
  EXPECT_EQ(Bytes(v.payload.begin(), v.payload.end()), testing::Pattern(0xC5, 48));
}

TEST(CorpusTest, RecordCompressedOverThresholdHasXxh3Field) {
  const Bytes b = testing::RecordCompressedOverThreshold();
  EXPECT_EQ(b.size(), 65623u);
  EXPECT_EQ(b[kRecordOffFlags], 0x07);
  EXPECT_EQ(Crc8(b), "818a737f");
  const uint64_t xxh3 = DecodeFixed64(b.data() + b.size() - kRecordTrailerSize - kRecordXxh3Size);
  EXPECT_EQ(xxh3, 0x250c1dcd622e29e9ull);
  DecodeIntact(b);
}

TEST(CorpusTest, RecordMaxSizeMatchesFrozenDigest) {
  const Bytes b = testing::RecordMaxSize();
  ASSERT_EQ(b.size(), 16777216u);
  EXPECT_EQ(Crc8(b), "dc329a06");
  EXPECT_EQ(Crc8(ByteView(b).first(kRecordHeaderCrcCoverage)), "8cddda0f");
  EXPECT_EQ(Crc8(ByteView(b).subspan(kRecordHeaderSize, b.size() - kRecordHeaderSize - kRecordTrailerSize)),
            "64c5bfc4");
  EXPECT_EQ(b[kRecordOffFlags], kFlagHasXxh3);
  DecodeIntact(b);
}

TEST(CorpusTest, RecordNewerVersionIsRejectedAsUnsupportedVersion2) {
  const Bytes b = testing::RecordNewerVersionReject();
  EXPECT_EQ(b, FromHex("42 49 02 02 09 00 00 00 00 00 00 00 3c 68 e5 cf 8b 01 00 00 01 00 00 00"
                       "00 00 00 00 06 00 00 00 1c 48 d9 1c 6b 66 75 74 75 72 65 d3 4b 0e dc 33"
                       "00 00 00"));
  RecordView v;
  const DecodeResult r = DecodeRecord(b, &v);
  EXPECT_EQ(r.outcome, ParseOutcome::kUnsupportedVersion);
  EXPECT_EQ(r.version, 2);
  EXPECT_EQ(ProbeRecord(b).version, 2);
}

TEST(CorpusTest, SegmentHeaderMatchesVector) {
  const Bytes b = testing::SegmentHeaderBytes();
  EXPECT_EQ(b, FromHex("49 52 4f 4e 42 55 53 00 01 01 00 00 07 00 00 00 00 00 00 00 64 00 00 00"
                       "00 00 00 00 00 10 00 00 00 00 00 00 00 68 e5 cf 8b 01 00 00 00 00 00 00"
                       "00 00 00 00 00 00 00 00 00 00 00 00 ff 91 78 7e"));
  EXPECT_EQ(Crc8(b), "48674bc7");
  SegmentHeader h;
  ASSERT_EQ(DecodeSegmentHeader(b, &h), SegmentHeaderError::kOk);
  EXPECT_EQ(h, testing::CorpusSegmentHeader());
}

// Walks the record region like the spec 6.2 scan and returns the frame lengths.
std::vector<uint64_t> FrameLengths(ByteView records) {
  std::vector<uint64_t> lens;
  while (!records.empty()) {
    RecordView v;
    const DecodeResult r = DecodeRecord(records, &v);
    EXPECT_EQ(r.outcome, ParseOutcome::kOk) << ParseOutcomeName(r.outcome);
    if (r.outcome != ParseOutcome::kOk) break;
    EXPECT_EQ(v.seq, 100 + lens.size());
    lens.push_back(r.frame_len);
    records = records.subspan(r.frame_len);
  }
  return lens;
}

TEST(CorpusTest, SegmentActiveNoFooterMatchesWholeFileCrc) {
  const Bytes b = testing::SegmentActiveNoFooter();
  EXPECT_EQ(b.size(), 246u);
  EXPECT_EQ(Crc8(b), "d2979a9f");
  EXPECT_EQ(FrameLengths(ByteView(b).subspan(kSegmentHeaderSize)), (std::vector<uint64_t>{61, 53, 68}));
}

TEST(CorpusTest, SegmentSealedWithFooterMatchesVector) {
  const Bytes b = testing::SegmentSealedWithFooter();
  EXPECT_EQ(b.size(), 278u);
  EXPECT_EQ(Crc8(b), "4c45654f");
  const ByteView footer = ByteView(b).last(kSegmentFooterSize);
  EXPECT_EQ(Bytes(footer.begin(), footer.end()),
            FromHex("53 46 01 01 07 00 00 00 00 00 00 00 66 00 00 00 00 00 00 00 03 00 00 00"
                    "00 00 00 00 96 d3 db ad"));
  SegmentFooter f;
  ASSERT_TRUE(DecodeSegmentFooter(footer, &f));
  EXPECT_EQ(f.segment_id, 7u);
  EXPECT_EQ(f.last_seq, 102u);
  EXPECT_EQ(f.record_count, 3u);
  EXPECT_EQ(FrameLengths(ByteView(b).subspan(kSegmentHeaderSize, b.size() - kSegmentHeaderSize - kSegmentFooterSize))
                .size(),
            3u);
}

// Builds a checkpoint file image after one write of `payload` (seq 1 -> slot 1).
Bytes FirstWriteImage(ByteView payload, size_t cap) {
  Bytes file(CheckpointFileLen(cap), 0);
  const Result<Bytes> slot = EncodeCheckpointSlot(1, payload, cap);
  EXPECT_TRUE(slot.ok());
  std::copy(slot->begin(), slot->end(), file.begin() + CheckpointSlotLen(cap));
  return file;
}

TEST(CorpusTest, CursorCheckpointFirstWriteMatchesExample) {
  const Bytes snapshot = EncodeCursorSnapshot(CursorSnapshot{5, {}});
  EXPECT_EQ(snapshot, FromHex("01 05 00 00 00 00 00 00 00 a1 41 fa 27"));
  const Bytes file = FirstWriteImage(snapshot, kCursorCheckpointCap);
  ASSERT_EQ(file.size(), 156u);
  Bytes expected(78, 0);
  PutBytes(&expected, FromHex("01 00 00 00 00 00 00 00 0d 00 01 05 00 00 00 00 00 00 00 a1 41 fa 27"));
  expected.resize(expected.size() + 51, 0);
  PutBytes(&expected, FromHex("11 ab f6 08"));
  EXPECT_EQ(file, expected);

  const auto value = DecodeCheckpointFile(file, kCursorCheckpointCap);
  ASSERT_TRUE(value.has_value());
  EXPECT_EQ(value->seq, 1u);
  EXPECT_EQ(DecodeCursorSnapshot(value->payload), (CursorSnapshot{5, {}}));
}

TEST(CorpusTest, LayoutMarkerFirstWriteMatchesExample) {
  const Bytes marker = EncodeLayoutMarker(kLayoutVersion);
  const Bytes file = FirstWriteImage(marker, kCursorCheckpointCap);
  Bytes expected(78, 0);
  PutBytes(&expected, FromHex("01 00 00 00 00 00 00 00 08 00 49 42 44 44 01 00 00 00"));
  expected.resize(expected.size() + 56, 0);
  PutBytes(&expected, FromHex("1e da 80 8d"));
  EXPECT_EQ(file, expected);
  const auto value = DecodeCheckpointFile(file, kCursorCheckpointCap);
  ASSERT_TRUE(value.has_value());
  EXPECT_EQ(DecodeLayoutMarker(value->payload), kLayoutVersion);
}

}  // namespace
}  // namespace ironbus::format
