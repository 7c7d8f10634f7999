// One test per branch of the record decoder (spec/storage.md 3.8) and encoder (3.7), named
// after the rule. Damaged frames are built by editing an encoded frame and, where the test
// needs the damage to get past an earlier check, recomputing that check's CRC.

#include "format/record.h"

#include <gtest/gtest.h>
#include <sys/mman.h>

#include "format/corpus_fixtures.h"
#include "format/crc32c.h"
#include "format/record_format.h"

namespace ironbus::format {
namespace {

using testing::Encode;

Record Simple() {
  Record r;
  r.seq = 42;
  r.timestamp_ms = 1'700'000'000'123;
  r.key = ToBytes("key");
  r.headers = ToBytes("h=v");
  r.payload = ToBytes("payload bytes");
  return r;
}

Record Large() {  // body of exactly the xxh3 threshold
  Record r = Simple();
  r.payload = testing::Pattern(0x33, kXxh3BodyThreshold - r.key.size() - r.headers.size());
  return r;
}

void FixHeaderCrc(Bytes* b) {
  EncodeFixed32(b->data() + kRecordOffHeaderCrc, crc32c::Value(b->data(), kRecordHeaderCrcCoverage));
}

ParseOutcome Decode(ByteView in) {
  RecordView v;
  return DecodeRecord(in, &v).outcome;
}

// Header fields as a raw 36-byte header with a valid CRC, for probe-stage tests.
Bytes RawHeader(uint8_t flags, uint32_t key_len, uint32_t hdr_len, uint32_t payload_len) {
  Bytes b(kRecordHeaderSize, 0);
  EncodeFixed16(b.data() + kRecordOffMagic, kRecordMagic);
  b[kRecordOffVersion] = kRecordVersion;
  b[kRecordOffFlags] = flags;
  EncodeFixed32(b.data() + kRecordOffKeyLen, key_len);
  EncodeFixed32(b.data() + kRecordOffHdrLen, hdr_len);
  EncodeFixed32(b.data() + kRecordOffPayloadLen, payload_len);
  FixHeaderCrc(&b);
  return b;
}

// ---- decoder, in step order ----

TEST(RecordDecodeTest, ShortHeaderNeedsMoreBytes) {
  const Bytes b = Encode(Simple());
  for (size_t n = 0; n < kRecordHeaderSize; ++n) {
    EXPECT_EQ(Decode(ByteView(b).first(n)), ParseOutcome::kTruncated) << n;
    EXPECT_EQ(ProbeRecord(ByteView(b).first(n)).outcome, ParseOutcome::kTruncated) << n;
  }
}

TEST(RecordDecodeTest, ZeroedHeaderIsBadMagic) {
  const Bytes zeros(kRecordHeaderSize + 64, 0);
  EXPECT_EQ(Decode(zeros), ParseOutcome::kBadMagic);
  EXPECT_EQ(ProbeRecord(ByteView(zeros).first(kRecordHeaderSize)).outcome, ParseOutcome::kBadMagic);
}

TEST(RecordDecodeTest, WrongMagicIsBadMagic) {
  Bytes b = Encode(Simple());
  b[kRecordOffMagic + 1] ^= 0x01;
  FixHeaderCrc(&b);
  EXPECT_EQ(Decode(b), ParseOutcome::kBadMagic);
}

TEST(RecordDecodeTest, OtherVersionIsUnsupportedVersionWithItsByte) {
  for (uint8_t version : {0, 2, 255}) {
    Bytes b = Encode(Simple());
    b[kRecordOffVersion] = version;
    FixHeaderCrc(&b);
    RecordView v;
    const DecodeResult r = DecodeRecord(b, &v);
    EXPECT_EQ(r.outcome, ParseOutcome::kUnsupportedVersion);
    EXPECT_EQ(r.version, version);
  }
}

TEST(RecordDecodeTest, VersionIsCheckedBeforeHeaderCrc) {
  Bytes b = Encode(Simple());
  b[kRecordOffVersion] = 2;  // CRC now stale as well
  EXPECT_EQ(Decode(b), ParseOutcome::kUnsupportedVersion);
}

TEST(RecordDecodeTest, BadHeaderCrcIsCorruptNotTruncated) {
  Bytes b = Encode(Simple());
  b[kRecordOffSeq] ^= 0x80;
  // Only the header present: still corruption, because the header itself is wrong.
  EXPECT_EQ(Decode(ByteView(b).first(kRecordHeaderSize)), ParseOutcome::kBadHeaderCrc);
  EXPECT_EQ(Decode(b), ParseOutcome::kBadHeaderCrc);
}

TEST(RecordDecodeTest, DamagedLengthIsBadHeaderCrcNotTooLarge) {
  Bytes b = Encode(Simple());
  EncodeFixed32(b.data() + kRecordOffPayloadLen, 0xFFFFFFFFu);  // CRC not recomputed
  EXPECT_EQ(Decode(b), ParseOutcome::kBadHeaderCrc);
  EXPECT_EQ(ProbeRecord(b).outcome, ParseOutcome::kBadHeaderCrc);
}

TEST(RecordDecodeTest, BothSubjectAndTagIsBadLength) {
  const Bytes b = RawHeader(kFlagHasSubject | kFlagHasStreamTag, 0, 0, 0);
  // Step 5 precedes step 6: no length bytes are needed to refuse it.
  EXPECT_EQ(Decode(b), ParseOutcome::kBadLength);
  EXPECT_EQ(ProbeRecord(b).outcome, ParseOutcome::kBadLength);
}

TEST(RecordDecodeTest, TaggedFieldLengthNeedsTwoMoreBytes) {
  Record r = Simple();
  r.subject = ToBytes("orders.eu");
  const Bytes b = Encode(r);
  EXPECT_EQ(ProbeRecord(ByteView(b).first(kRecordHeaderSize)).outcome, ParseOutcome::kTruncated);
  EXPECT_EQ(ProbeRecord(ByteView(b).first(kRecordHeaderSize + 1)).outcome, ParseOutcome::kTruncated);
  const ProbeResult p = ProbeRecord(ByteView(b).first(kRecordHeaderSize + kTaggedFieldLenSize));
  EXPECT_EQ(p.outcome, ParseOutcome::kOk);
  EXPECT_EQ(p.total_len, b.size());
}

TEST(RecordDecodeTest, ZeroLengthSubjectIsBadLength) {
  Bytes b = RawHeader(kFlagHasSubject, 0, 0, 0);
  PutFixed16(&b, 0);
  EXPECT_EQ(Decode(b), ParseOutcome::kBadLength);
  Bytes t = RawHeader(kFlagHasStreamTag, 0, 0, 0);
  PutFixed16(&t, 0);
  EXPECT_EQ(ProbeRecord(t).outcome, ParseOutcome::kBadLength);
}

TEST(RecordDecodeTest, LengthOverCeilingIsTooLargeBeforeAllocation) {
  // Only the 36 header bytes exist: TooLarge is decided from the header, before anything
  // would wait for (or allocate) a gigabyte of body.
  const Bytes b = RawHeader(kFlagHasXxh3, 0, 0, 0xFFFFFFFFu);
  EXPECT_EQ(Decode(b), ParseOutcome::kTooLarge);
  EXPECT_EQ(ProbeRecord(b).outcome, ParseOutcome::kTooLarge);
  EXPECT_TRUE(IsHeaderOutcome(ParseOutcome::kTooLarge));
}

TEST(RecordDecodeTest, LengthSumDoesNotWrapAt32Bits) {
  // 0xFFFFFFF0 + 0x20 wraps to 0x10 in 32 bits; summed in 64 bits it is over the ceiling.
  const Bytes b = RawHeader(kFlagHasKey | kFlagHasXxh3, 0xFFFFFFF0u, 0x20, 0);
  EXPECT_EQ(ProbeRecord(b).outcome, ParseOutcome::kTooLarge);
}

TEST(RecordDecodeTest, ExactlyOneGiBIsAllowedOneMoreIsTooLarge) {
  const uint32_t payload =
      static_cast<uint32_t>(kMaxRecordBytesCeiling - kRecordHeaderSize - kRecordXxh3Size - kRecordTrailerSize);
  const ProbeResult at = ProbeRecord(RawHeader(kFlagHasXxh3, 0, 0, payload));
  EXPECT_EQ(at.outcome, ParseOutcome::kOk);
  EXPECT_EQ(at.total_len, kMaxRecordBytesCeiling);
  // The stated frame is a gigabyte, only 36 bytes are here: a torn frame, not corruption.
  EXPECT_EQ(Decode(RawHeader(kFlagHasXxh3, 0, 0, payload)), ParseOutcome::kTruncated);
  EXPECT_EQ(ProbeRecord(RawHeader(kFlagHasXxh3, 0, 0, payload + 1)).outcome, ParseOutcome::kTooLarge);
}

TEST(RecordDecodeTest, TruncatedFrameNeedsMoreBytes) {
  const Bytes b = Encode(Large());
  for (size_t n : {kRecordHeaderSize, kRecordHeaderSize + 1, b.size() / 2, b.size() - kRecordTrailerSize,
                   b.size() - 1}) {
    EXPECT_EQ(Decode(ByteView(b).first(n)), ParseOutcome::kTruncated) << n;
  }
}

TEST(RecordDecodeTest, TruncationIsReportedBeforeDerivedFlagChecks) {
  Bytes b = Encode(Simple());
  b[kRecordOffFlags] &= static_cast<uint8_t>(~kFlagHasKey);
  FixHeaderCrc(&b);
  EXPECT_EQ(Decode(ByteView(b).first(b.size() - 1)), ParseOutcome::kTruncated);
  EXPECT_EQ(Decode(b), ParseOutcome::kBadLength);
}

TEST(RecordDecodeTest, DerivedHasKeyMismatchIsBadLength) {
  Bytes cleared = Encode(Simple());
  cleared[kRecordOffFlags] &= static_cast<uint8_t>(~kFlagHasKey);
  FixHeaderCrc(&cleared);
  EXPECT_EQ(Decode(cleared), ParseOutcome::kBadLength);

  Record keyless = Simple();
  keyless.key.clear();
  Bytes set = Encode(keyless);
  set[kRecordOffFlags] |= kFlagHasKey;
  FixHeaderCrc(&set);
  EXPECT_EQ(Decode(set), ParseOutcome::kBadLength);
}

TEST(RecordDecodeTest, DerivedHasXxh3SetOnSmallBodyIsBadLength) {
  Bytes b = Encode(Simple());
  b[kRecordOffFlags] |= kFlagHasXxh3;
  FixHeaderCrc(&b);
  b.resize(b.size() + kRecordXxh3Size, 0);  // enough bytes for the size the header now states
  EXPECT_EQ(Decode(b), ParseOutcome::kBadLength);
}

TEST(RecordDecodeTest, DerivedHasXxh3ClearedOnLargeBodyIsBadLength) {
  Bytes b = Encode(Large());
  b[kRecordOffFlags] &= static_cast<uint8_t>(~kFlagHasXxh3);
  FixHeaderCrc(&b);
  EXPECT_EQ(Decode(b), ParseOutcome::kBadLength);
}

TEST(RecordDecodeTest, BadSubjectCrcIsItsOwnError) {
  Record r = Simple();
  r.subject = ToBytes("orders.eu");
  Bytes b = Encode(r);
  b[kRecordHeaderSize + kTaggedFieldLenSize] ^= 0x01;
  EXPECT_EQ(Decode(b), ParseOutcome::kBadSubjectCrc);
}

TEST(RecordDecodeTest, BadStreamTagCrcIsItsOwnError) {
  Record r = Simple();
  r.stream_tag = ToBytes("tag");
  Bytes b = Encode(r);
  b[kRecordHeaderSize + kTaggedFieldLenSize + 2] ^= 0x40;
  EXPECT_EQ(Decode(b), ParseOutcome::kBadStreamTagCrc);
}

TEST(RecordDecodeTest, TaggedFieldCrcIsCheckedBeforeBodyCrc) {
  Record r = Simple();
  r.stream_tag = ToBytes("tag");
  Bytes b = Encode(r);
  b[kRecordHeaderSize + kTaggedFieldLenSize] ^= 0x01;
  b[b.size() - kRecordTrailerSize - 1] ^= 0x01;  // body damaged too
  EXPECT_EQ(Decode(b), ParseOutcome::kBadStreamTagCrc);
}

TEST(RecordDecodeTest, StoredTotalLenMismatchIsBadLength) {
  Bytes b = Encode(Simple());
  EncodeFixed32(b.data() + b.size() - kRecordLengthFieldSize, static_cast<uint32_t>(b.size() + 1));
  EXPECT_EQ(Decode(b), ParseOutcome::kBadLength);
}

TEST(RecordDecodeTest, TotalLenIsCheckedBeforeBodyCrc) {
  Bytes b = Encode(Simple());
  EncodeFixed32(b.data() + b.size() - kRecordLengthFieldSize, 0);
  b[kRecordHeaderSize] ^= 0x01;
  EXPECT_EQ(Decode(b), ParseOutcome::kBadLength);
}

TEST(RecordDecodeTest, DamagedBodyIsBadBodyCrc) {
  for (size_t at : {size_t{0}, size_t{3}, size_t{6}, size_t{12}}) {  // key, headers, payload
    Bytes b = Encode(Simple());
    b[kRecordHeaderSize + at] ^= 0x10;
    EXPECT_EQ(Decode(b), ParseOutcome::kBadBodyCrc) << at;
  }
  Bytes b = Encode(Simple());
  b[b.size() - kRecordTrailerSize] ^= 0x01;  // the stored body_crc itself
  EXPECT_EQ(Decode(b), ParseOutcome::kBadBodyCrc);
}

TEST(RecordDecodeTest, CrcRunsBeforeXxh3) {
  Bytes b = Encode(Large());
  b[kRecordHeaderSize + 1000] ^= 0x01;  // both checksums now disagree with the body
  EXPECT_EQ(Decode(b), ParseOutcome::kBadBodyCrc);
}

TEST(RecordDecodeTest, DamagedXxh3FieldIsBadXxh3) {
  Bytes b = Encode(Large());
  b[b.size() - kRecordTrailerSize - kRecordXxh3Size] ^= 0x01;
  EXPECT_EQ(Decode(b), ParseOutcome::kBadXxh3);
}

TEST(RecordDecodeTest, DecodeConsumesOneFrameAndIgnoresWhatFollows) {
  Bytes b = Encode(Simple());
  const size_t frame = b.size();
  PutBytes(&b, Encode(Large()));
  RecordView v;
  const DecodeResult r = DecodeRecord(b, &v);
  ASSERT_EQ(r.outcome, ParseOutcome::kOk);
  EXPECT_EQ(r.frame_len, frame);
  EXPECT_EQ(Record::FromView(v).payload, Simple().payload);
}

TEST(RecordDecodeTest, ProbeNeedsOnlyTheHeader) {
  const Bytes b = Encode(Large());
  const ProbeResult p = ProbeRecord(ByteView(b).first(kRecordHeaderSize));
  EXPECT_EQ(p.outcome, ParseOutcome::kOk);
  EXPECT_EQ(p.total_len, b.size());
  EXPECT_EQ(p.version, kRecordVersion);
}

TEST(RecordDecodeTest, HeaderOutcomesAreTheProbeOnlyOnes) {
  EXPECT_TRUE(IsHeaderOutcome(ParseOutcome::kBadMagic));
  EXPECT_TRUE(IsHeaderOutcome(ParseOutcome::kUnsupportedVersion));
  EXPECT_TRUE(IsHeaderOutcome(ParseOutcome::kBadHeaderCrc));
  EXPECT_TRUE(IsHeaderOutcome(ParseOutcome::kTooLarge));
  for (ParseOutcome o : {ParseOutcome::kOk, ParseOutcome::kTruncated, ParseOutcome::kBadLength,
                         ParseOutcome::kBadSubjectCrc, ParseOutcome::kBadStreamTagCrc, ParseOutcome::kBadBodyCrc,
                         ParseOutcome::kBadXxh3}) {
    EXPECT_FALSE(IsHeaderOutcome(o)) << ParseOutcomeName(o);
  }
}

// ---- encoder ----

TEST(RecordEncodeTest, EmptyRecordIsA44ByteFrame) {
  const Bytes b = Encode(Record{});
  EXPECT_EQ(b.size(), kMinRecordFrameSize);
  EXPECT_EQ(Decode(b), ParseOutcome::kOk);
}

TEST(RecordEncodeTest, EncoderOverwritesDerivedBitsAndKeepsOthers) {
  Record r;
  // ENCRYPTED (0x20) is derived too: set only when the encoder is given a cipher.
  r.flags = kFlagHasKey | kFlagHasXxh3 | kFlagHasSubject | kFlagHasStreamTag | kFlagEncrypted | kFlagCompressed | 0xC0;
  const Bytes b = Encode(r);
  EXPECT_EQ(b[kRecordOffFlags], kFlagCompressed | 0xC0);
  RecordView v;
  ASSERT_EQ(DecodeRecord(b, &v).outcome, ParseOutcome::kOk);
  EXPECT_EQ(v.flags, kFlagCompressed | 0xC0);  // unknown bits preserved on read
  EXPECT_FALSE(v.subject.has_value());
  EXPECT_FALSE(v.stream_tag.has_value());
}

TEST(RecordEncodeTest, Xxh3ThresholdCountsWholeBodyInclusive) {
  Record r;
  r.key = Bytes(16, 'k');
  r.headers = Bytes(16, 'h');
  r.payload = Bytes(kXxh3BodyThreshold - 32, 'p');
  Bytes at = Encode(r);
  EXPECT_EQ(at[kRecordOffFlags] & kFlagHasXxh3, kFlagHasXxh3);
  r.payload.pop_back();
  Bytes below = Encode(r);
  EXPECT_EQ(below[kRecordOffFlags] & kFlagHasXxh3, 0);
  EXPECT_EQ(at.size(), below.size() + 1 + kRecordXxh3Size);
}

TEST(RecordEncodeTest, Xxh3ThresholdIgnoresTheSubjectField) {
  Record r;
  r.payload = Bytes(kXxh3BodyThreshold - 1, 'p');
  r.subject = Bytes(100, 's');
  const Bytes b = Encode(r);
  EXPECT_EQ(b[kRecordOffFlags], kFlagHasSubject);
  RecordView v;
  ASSERT_EQ(DecodeRecord(b, &v).outcome, ParseOutcome::kOk);
  ASSERT_TRUE(v.subject.has_value());
  EXPECT_EQ(v.subject->size(), 100u);
}

TEST(RecordEncodeTest, EncodeAppendsToExistingBytes) {
  Bytes out = {0xAA, 0xBB};
  ASSERT_TRUE(EncodeRecord(Simple().view(), &out).ok());
  EXPECT_EQ(out[0], 0xAA);
  EXPECT_EQ(Bytes(out.begin() + 2, out.end()), Encode(Simple()));
}

TEST(RecordEncodeTest, SubjectAndStreamTagTogetherAreRefused) {
  Record r = Simple();
  r.subject = ToBytes("s");
  r.stream_tag = ToBytes("t");
  Bytes out = {1, 2, 3};
  const Status s = EncodeRecord(r.view(), &out);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(out, (Bytes{1, 2, 3}));  // refused before touching the output
}

TEST(RecordEncodeTest, EmptyOrOversizedSubjectIsRefused) {
  Record r = Simple();
  r.subject = Bytes{};
  EXPECT_EQ(EncodedRecordSize(r.view()).status().code(), StatusCode::kInvalidArgument);
  r.subject = Bytes(65536, 's');
  EXPECT_EQ(EncodedRecordSize(r.view()).status().code(), StatusCode::kInvalidArgument);
  r.subject = Bytes(65535, 's');
  EXPECT_TRUE(EncodedRecordSize(r.view()).ok());
}

// A huge inaccessible mapping stands in for huge inputs: the size checks must refuse them
// without reading a byte (a read would fault).
class HugeInputTest : public ::testing::Test {
 protected:
  static constexpr size_t kMapBytes = (size_t{1} << 32) + 4096;
  void SetUp() override {
    void* p = mmap(nullptr, kMapBytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    ASSERT_NE(p, MAP_FAILED);
    base_ = static_cast<const uint8_t*>(p);
  }
  void TearDown() override {
    if (base_ != nullptr) munmap(const_cast<uint8_t*>(base_), kMapBytes);
  }
  const uint8_t* base_ = nullptr;
};

TEST_F(HugeInputTest, KeyLongerThanU32IsRefused) {
  RecordView v;
  v.key = ByteView(base_, (size_t{1} << 32));
  EXPECT_EQ(EncodedRecordSize(v).status().code(), StatusCode::kInvalidArgument);
  Bytes out;
  EXPECT_FALSE(EncodeRecord(v, &out).ok());
  EXPECT_TRUE(out.empty());
}

TEST_F(HugeInputTest, FrameOverOneGiBIsRefusedAsOutOfRange) {
  RecordView v;
  v.payload = ByteView(base_, kMaxRecordBytesCeiling);
  EXPECT_EQ(EncodedRecordSize(v).status().code(), StatusCode::kOutOfRange);
  Bytes out;
  EXPECT_EQ(EncodeRecord(v, &out).code(), StatusCode::kOutOfRange);
  // The largest payload that still fits: exactly 1 GiB of frame.
  v.payload = ByteView(base_, kMaxRecordBytesCeiling - kRecordHeaderSize - kRecordXxh3Size - kRecordTrailerSize);
  const Result<uint64_t> size = EncodedRecordSize(v);
  ASSERT_TRUE(size.ok());
  EXPECT_EQ(*size, kMaxRecordBytesCeiling);
}

}  // namespace
}  // namespace ironbus::format
