// Segment header and footer codecs: each decode branch of spec/storage.md 4.1 and 4.2.

#include "format/segment.h"

#include <gtest/gtest.h>

#include "format/corpus_fixtures.h"
#include "format/crc32c.h"
#include "format/record_format.h"

namespace ironbus::format {
namespace {

void FixHeaderCrc(Bytes* b) {
  EncodeFixed32(b->data() + kSegmentOffHeaderCrc, crc32c::Value(b->data(), kSegmentHeaderCrcCoverage));
}
void FixFooterCrc(Bytes* b) { EncodeFixed32(b->data() + kFooterOffCrc, crc32c::Value(b->data(), kFooterCrcCoverage)); }

SegmentHeaderError Decode(ByteView in) {
  SegmentHeader h;
  return DecodeSegmentHeader(in, &h);
}

TEST(SegmentHeaderTest, RoundTripKeepsEveryField) {
  SegmentHeader h = testing::CorpusSegmentHeader();
  h.flags = 0x8000;  // unknown bits are preserved, not interpreted
  for (size_t i = 0; i < kSegmentReservedSize; ++i) h.reserved[i] = static_cast<uint8_t>(i + 1);
  SegmentHeader back;
  ASSERT_EQ(DecodeSegmentHeader(EncodeSegmentHeader(h), &back), SegmentHeaderError::kOk);
  EXPECT_EQ(back, h);
}

TEST(SegmentHeaderTest, ShortHeaderIsTruncated) {
  const Bytes b = testing::SegmentHeaderBytes();
  for (size_t n : {size_t{0}, size_t{8}, kSegmentHeaderSize - 1}) {
    EXPECT_EQ(Decode(ByteView(b).first(n)), SegmentHeaderError::kTruncated) << n;
  }
}

TEST(SegmentHeaderTest, ZeroedHeaderIsBadMagic) { EXPECT_EQ(Decode(Bytes(kSegmentHeaderSize, 0)), SegmentHeaderError::kBadMagic); }

TEST(SegmentHeaderTest, MagicWithoutTrailingZeroIsBadMagic) {
  Bytes b = testing::SegmentHeaderBytes();
  b[7] = ' ';
  FixHeaderCrc(&b);
  EXPECT_EQ(Decode(b), SegmentHeaderError::kBadMagic);
}

TEST(SegmentHeaderTest, HigherVersionIsUnsupported) {
  for (uint8_t version : {0, 3, 255}) {
    Bytes b = testing::SegmentHeaderBytes();
    b[kSegmentOffVersion] = version;
    FixHeaderCrc(&b);
    EXPECT_EQ(Decode(b), SegmentHeaderError::kUnsupportedVersion) << int{version};
  }
}

TEST(SegmentHeaderTest, Version2WithoutCompactedBitIsUnsupported) {
  Bytes b = testing::SegmentHeaderBytes();
  b[kSegmentOffVersion] = kSegmentVersionCompacted;
  FixHeaderCrc(&b);
  EXPECT_EQ(Decode(b), SegmentHeaderError::kUnsupportedVersion);
}

TEST(SegmentHeaderTest, Version1WithCompactedBitIsUnsupported) {
  Bytes b = testing::SegmentHeaderBytes();
  EncodeFixed16(b.data() + kSegmentOffFlags, kSegmentFlagCompacted);
  FixHeaderCrc(&b);
  EXPECT_EQ(Decode(b), SegmentHeaderError::kUnsupportedVersion);
}

TEST(SegmentHeaderTest, CompactedV2HeaderIsRecognisedAsCompacted) {
  SegmentHeader h = testing::CorpusSegmentHeader();
  h.version = kSegmentVersionCompacted;
  h.flags = kSegmentFlagCompacted;
  SegmentHeader back;
  EXPECT_EQ(DecodeSegmentHeader(EncodeSegmentHeader(h), &back), SegmentHeaderError::kCompacted);
  EXPECT_EQ(back.segment_id, 7u);  // filled so the caller can name it in the error
}

TEST(SegmentHeaderTest, CompactedHeaderWithBadCrcIsBadCrc) {
  SegmentHeader h = testing::CorpusSegmentHeader();
  h.version = kSegmentVersionCompacted;
  h.flags = kSegmentFlagCompacted;
  Bytes b = EncodeSegmentHeader(h);
  b[kSegmentOffBaseSeq] ^= 1;
  EXPECT_EQ(Decode(b), SegmentHeaderError::kBadCrc);
}

TEST(SegmentHeaderTest, OtherChecksumAlgoIsRefused) {
  Bytes b = testing::SegmentHeaderBytes();
  b[kSegmentOffChecksumAlgo] = 2;
  FixHeaderCrc(&b);
  EXPECT_EQ(Decode(b), SegmentHeaderError::kBadChecksumAlgo);
}

TEST(SegmentHeaderTest, ChecksumAlgoIsCheckedBeforeCrc) {
  Bytes b = testing::SegmentHeaderBytes();
  b[kSegmentOffChecksumAlgo] = 0;  // CRC stale as well
  EXPECT_EQ(Decode(b), SegmentHeaderError::kBadChecksumAlgo);
}

TEST(SegmentHeaderTest, DamagedFieldIsBadCrc) {
  for (size_t at : {kSegmentOffId, kSegmentOffBaseOffset, kSegmentOffReserved + 3, kSegmentOffHeaderCrc}) {
    Bytes b = testing::SegmentHeaderBytes();
    b[at] ^= 0x04;
    EXPECT_EQ(Decode(b), SegmentHeaderError::kBadCrc) << at;
  }
}

TEST(SegmentHeaderTest, ErrorNamesAreDistinct) {
  EXPECT_EQ(SegmentHeaderErrorName(SegmentHeaderError::kCompacted), "Compacted");
  EXPECT_NE(SegmentHeaderErrorName(SegmentHeaderError::kBadCrc), SegmentHeaderErrorName(SegmentHeaderError::kBadMagic));
}

SegmentFooter CorpusFooter() {
  SegmentFooter f;
  f.segment_id = 7;
  f.last_seq = 102;
  f.record_count = 3;
  return f;
}

TEST(SegmentFooterTest, RoundTrip) {
  SegmentFooter back;
  ASSERT_TRUE(DecodeSegmentFooter(EncodeSegmentFooter(CorpusFooter()), &back));
  EXPECT_EQ(back, CorpusFooter());
}

TEST(SegmentFooterTest, FooterIsReadFromTheLast32BytesOfALongerView) {
  const Bytes file = testing::SegmentSealedWithFooter();
  SegmentFooter back;
  ASSERT_TRUE(DecodeSegmentFooter(file, &back));
  EXPECT_EQ(back, CorpusFooter());
  // An unsealed segment's tail is record bytes, not a footer.
  EXPECT_FALSE(DecodeSegmentFooter(testing::SegmentActiveNoFooter(), &back));
}

TEST(SegmentFooterTest, ShortInputIsNoFooter) {
  const Bytes b = EncodeSegmentFooter(CorpusFooter());
  SegmentFooter f;
  EXPECT_FALSE(DecodeSegmentFooter(ByteView(b).first(kSegmentFooterSize - 1), &f));
}

TEST(SegmentFooterTest, BadMagicIsNoFooter) {
  Bytes b = EncodeSegmentFooter(CorpusFooter());
  b[kFooterOffMagic] = 0x42;  // a record magic byte instead
  FixFooterCrc(&b);
  SegmentFooter f;
  EXPECT_FALSE(DecodeSegmentFooter(b, &f));
}

TEST(SegmentFooterTest, OtherVersionIsNoFooter) {
  for (uint8_t version : {0, 2, 3}) {
    Bytes b = EncodeSegmentFooter(CorpusFooter());
    b[kFooterOffVersion] = version;
    FixFooterCrc(&b);
    SegmentFooter f;
    EXPECT_FALSE(DecodeSegmentFooter(b, &f)) << int{version};
  }
}

TEST(SegmentFooterTest, BadAlgoIsNoFooter) {
  Bytes b = EncodeSegmentFooter(CorpusFooter());
  b[kFooterOffChecksumAlgo] = 9;
  FixFooterCrc(&b);
  SegmentFooter f;
  EXPECT_FALSE(DecodeSegmentFooter(b, &f));
}

TEST(SegmentFooterTest, BadCrcIsNoFooter) {
  Bytes b = EncodeSegmentFooter(CorpusFooter());
  b[kFooterOffRecordCount] ^= 1;  // a lying count with a stale CRC
  SegmentFooter f;
  EXPECT_FALSE(DecodeSegmentFooter(b, &f));
}

TEST(SegmentFooterTest, ReservedBytesAreWrittenAsZero) {
  const Bytes b = EncodeSegmentFooter(CorpusFooter());
  EXPECT_EQ(DecodeFixed32(b.data() + kFooterOffReserved), 0u);
}

}  // namespace
}  // namespace ironbus::format
