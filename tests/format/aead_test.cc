// At-rest AEAD (spec/security.md 5): pinned ids, bits, offsets and nonce layout, the seal/open
// round trip for both suites (RapidCheck), and the failures that must never yield plaintext.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>

#include "format/aead.h"
#include "format/crc32c.h"
#include "format/key_ring.h"
#include "format/record.h"
#include "format/record_format.h"
#include "format/segment.h"

namespace ironbus::format {
namespace {

Bytes Key(uint8_t fill) { return Bytes(kAeadKeySize, fill); }

Record Sample(size_t payload_len = 40) {
  Record r;
  r.seq = 7;
  r.timestamp_ms = 1'700'000'000'000;
  r.key = ToBytes("the-key");
  r.headers = ToBytes("h=1");
  r.payload = Bytes(payload_len, 'P');
  return r;
}

TEST(AeadFormatTest, SuiteIdsArePinnedAesOneChaChaTwo) {
  EXPECT_EQ(kAeadSuiteNone, 0);
  EXPECT_EQ(kAeadSuiteAes256Gcm, 1);
  EXPECT_EQ(kAeadSuiteChaCha20Poly1305, 2);
  EXPECT_EQ(static_cast<uint8_t>(AeadSuite::kAes256Gcm), 1);
  EXPECT_EQ(static_cast<uint8_t>(AeadSuite::kChaCha20Poly1305), 2);
  EXPECT_EQ(AeadSuiteFromId(1), AeadSuite::kAes256Gcm);
  EXPECT_EQ(AeadSuiteFromId(2), AeadSuite::kChaCha20Poly1305);
  EXPECT_FALSE(AeadSuiteFromId(0).has_value());
  EXPECT_FALSE(AeadSuiteFromId(3).has_value());
}

TEST(AeadFormatTest, FlagBitsAndHeaderOffsetsArePinned) {
  EXPECT_EQ(kFlagEncrypted, 0x20);
  EXPECT_EQ(kSegmentFlagEncrypted, 0x0002);
  EXPECT_EQ(kSegmentOffAeadSuite, 44u);
  EXPECT_EQ(kSegmentOffKeyId, 45u);
  EXPECT_EQ(kAeadTagSize, 16u);
  EXPECT_EQ(kAeadNonceSize, 12u);
  EXPECT_EQ(kNoKeyId, 0u);
}

TEST(AeadFormatTest, NonceIsSegmentIdThenRecordCounterLittleEndian) {
  uint8_t nonce[kAeadNonceSize];
  BuildAeadNonce(0x0102030405060708ull, 0x0A0B0C0Du, nonce);
  const uint8_t want[kAeadNonceSize] = {0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, 0x0D, 0x0C, 0x0B, 0x0A};
  EXPECT_TRUE(std::equal(nonce, nonce + kAeadNonceSize, want));
}

TEST(AeadFormatTest, Aes256GcmKnownAnswerEmptyPlaintext) {
  // NIST GCM test case 13: K = 0^256, IV = 0^96, P = "", no AAD.
  const Bytes key(32, 0);
  const uint8_t nonce[kAeadNonceSize] = {};
  uint8_t tag[kAeadTagSize];
  ASSERT_TRUE(AeadSeal(AeadSuite::kAes256Gcm, key.data(), nonce, ByteView(), tag).ok());
  const uint8_t want[kAeadTagSize] = {0x53, 0x0f, 0x8a, 0xfb, 0xc7, 0x45, 0x36, 0xb9,
                                      0xa9, 0x63, 0xb4, 0xf1, 0xc4, 0xcb, 0x73, 0x8b};
  EXPECT_TRUE(std::equal(tag, tag + kAeadTagSize, want));
}

TEST(AeadFormatTest, SegmentHeaderCarriesSuiteAndKeyIdInTheReservedBytes) {
  SegmentHeader h;
  h.segment_id = 3;
  SetSegmentEncryption(&h, kAeadSuiteChaCha20Poly1305, 0x1122334455667788ull);
  const Bytes raw = EncodeSegmentHeader(h);
  EXPECT_EQ(DecodeFixed16(raw.data() + kSegmentOffFlags), kSegmentFlagEncrypted);
  EXPECT_EQ(raw[44], 2);
  EXPECT_EQ(DecodeFixed64(raw.data() + 45), 0x1122334455667788ull);
  EXPECT_TRUE(std::all_of(raw.begin() + 53, raw.begin() + 60, [](uint8_t b) { return b == 0; }));
  SegmentHeader back;
  ASSERT_EQ(DecodeSegmentHeader(raw, &back), SegmentHeaderError::kOk);
  EXPECT_TRUE(SegmentEncrypted(back));
  EXPECT_EQ(SegmentAeadSuiteId(back), 2);
  EXPECT_EQ(SegmentKeyId(back), 0x1122334455667788ull);
  // The header CRC over [0, 60) covers the key id: one flipped bit is a bad header.
  Bytes bad = raw;
  bad[46] ^= 1;
  EXPECT_EQ(DecodeSegmentHeader(bad, &back), SegmentHeaderError::kBadCrc);
}

TEST(AeadFormatTest, PlaintextEncodingIsUnchangedWithoutACipher) {
  const Record r = Sample();
  Bytes a, b;
  ASSERT_TRUE(EncodeRecord(r.view(), &a).ok());
  ASSERT_TRUE(EncodeRecord(r.view(), &b, nullptr).ok());
  EXPECT_EQ(a, b);
  EXPECT_EQ(a[kRecordOffFlags] & kFlagEncrypted, 0);
  EXPECT_EQ(a.size(), kMinRecordFrameSize + r.key.size() + r.headers.size() + r.payload.size());
}

void RoundTrip(AeadSuite suite, const Record& r, const Bytes& key, uint64_t segment_id, uint32_t counter) {
  RecordCipher c{suite, key.data(), segment_id, counter};
  Bytes frame;
  RC_ASSERT(EncodeRecord(r.view(), &frame, &c).ok());
  const uint64_t body = r.key.size() + r.headers.size() + r.payload.size();
  RC_ASSERT(frame.size() == *EncodedRecordSize(r.view(), true));
  RC_ASSERT(frame.size() == *EncodedRecordSize(r.view(), false) + kAeadTagSize);
  RC_ASSERT((frame[kRecordOffFlags] & kFlagEncrypted) != 0);
  // Lengths in the header stay the plaintext ones.
  RC_ASSERT(DecodeFixed32(frame.data() + kRecordOffPayloadLen) == r.payload.size());
  RecordView sealed;
  const DecodeResult d = DecodeRecord(frame, &sealed);
  RC_ASSERT(d.outcome == ParseOutcome::kOk);
  RC_ASSERT(sealed.sealed.has_value());
  RC_ASSERT(sealed.payload.empty() && sealed.key.empty() && sealed.headers.empty());
  RC_ASSERT(sealed.sealed->bytes.size() == body + kAeadTagSize);
  Bytes plain;
  RecordView opened;
  RC_ASSERT(OpenRecord(sealed, c, &plain, &opened));
  RC_ASSERT(Bytes(opened.key.begin(), opened.key.end()) == r.key);
  RC_ASSERT(Bytes(opened.headers.begin(), opened.headers.end()) == r.headers);
  RC_ASSERT(Bytes(opened.payload.begin(), opened.payload.end()) == r.payload);
  RC_ASSERT(opened.seq == r.seq);
  RC_ASSERT(!opened.sealed.has_value());
  // Another nonce (the next record's) does not open it.
  RecordCipher other = c;
  other.record_counter = counter + 1;
  Bytes plain2;
  RecordView junk;
  RC_ASSERT(!OpenRecord(sealed, other, &plain2, &junk));
  RC_ASSERT(plain2.empty());
}

RC_GTEST_PROP(AeadRecordProperty, SealThenOpenGivesTheRecordBackForBothSuites, ()) {
  const AeadSuite suite = *rc::gen::element(AeadSuite::kAes256Gcm, AeadSuite::kChaCha20Poly1305);
  Record r;
  r.seq = *rc::gen::arbitrary<uint64_t>();
  r.timestamp_ms = *rc::gen::arbitrary<uint64_t>();
  r.flags = *rc::gen::element<uint8_t>(0, kFlagCompressed);
  r.key = *rc::gen::container<Bytes>(*rc::gen::inRange<size_t>(0, 40), rc::gen::arbitrary<uint8_t>());
  r.headers = *rc::gen::container<Bytes>(*rc::gen::inRange<size_t>(0, 40), rc::gen::arbitrary<uint8_t>());
  const size_t n = *rc::gen::weightedOneOf<size_t>(
      {{4, rc::gen::inRange<size_t>(0, 300)}, {1, rc::gen::inRange<size_t>(kXxh3BodyThreshold - 50, kXxh3BodyThreshold + 50)}});
  r.payload = Bytes(n, *rc::gen::arbitrary<uint8_t>());
  const Bytes key = *rc::gen::container<Bytes>(kAeadKeySize, rc::gen::arbitrary<uint8_t>());
  RoundTrip(suite, r, key, *rc::gen::arbitrary<uint64_t>(), *rc::gen::arbitrary<uint32_t>());
}

class AeadSuiteTest : public ::testing::TestWithParam<AeadSuite> {};

TEST_P(AeadSuiteTest, PayloadBytesAreNotInTheFrame) {
  Record r = Sample();
  r.payload = ToBytes("PLAINTEXT-MARKER-PLAINTEXT-MARKER");
  const Bytes key = Key(0x42);
  RecordCipher c{GetParam(), key.data(), 9, 0};
  Bytes frame;
  ASSERT_TRUE(EncodeRecord(r.view(), &frame, &c).ok());
  const std::string s(frame.begin(), frame.end());
  EXPECT_EQ(s.find("PLAINTEXT-MARKER"), std::string::npos);
  EXPECT_EQ(s.find("the-key"), std::string::npos);
}

TEST_P(AeadSuiteTest, TamperedCiphertextWithAFixedBodyCrcFailsTheTagOnly) {
  const Record r = Sample();
  const Bytes key = Key(0x42);
  RecordCipher c{GetParam(), key.data(), 9, 3};
  Bytes frame;
  ASSERT_TRUE(EncodeRecord(r.view(), &frame, &c).ok());
  const size_t body_at = kRecordHeaderSize;
  const size_t stored = r.key.size() + r.headers.size() + r.payload.size() + kAeadTagSize;
  frame[body_at + 5] ^= 0x01;
  // Without fixing the CRC the CRC catches it, before any decrypt.
  RecordView v;
  EXPECT_EQ(DecodeRecord(frame, &v).outcome, ParseOutcome::kBadBodyCrc);
  EncodeFixed32(frame.data() + frame.size() - kRecordTrailerSize, crc32c::Value(frame.data() + body_at, stored));
  ASSERT_EQ(DecodeRecord(frame, &v).outcome, ParseOutcome::kOk);
  Bytes plain = ToBytes("stale");
  RecordView out;
  const Bytes sentinel = ToBytes("untouched-sentinel");
  out.payload = sentinel;
  EXPECT_FALSE(OpenRecord(v, c, &plain, &out));
  EXPECT_TRUE(plain.empty());
  EXPECT_EQ(std::string(out.payload.begin(), out.payload.end()), "untouched-sentinel");
}

TEST_P(AeadSuiteTest, WrongKeyFailsTheTag) {
  const Record r = Sample();
  const Bytes key = Key(0x42);
  const Bytes wrong = Key(0x43);
  RecordCipher c{GetParam(), key.data(), 9, 3};
  Bytes frame;
  ASSERT_TRUE(EncodeRecord(r.view(), &frame, &c).ok());
  RecordView v;
  ASSERT_EQ(DecodeRecord(frame, &v).outcome, ParseOutcome::kOk);
  RecordCipher w = c;
  w.key = wrong.data();
  Bytes plain;
  RecordView out;
  EXPECT_FALSE(OpenRecord(v, w, &plain, &out));
  EXPECT_TRUE(plain.empty());
}

INSTANTIATE_TEST_SUITE_P(BothSuites, AeadSuiteTest,
                         ::testing::Values(AeadSuite::kAes256Gcm, AeadSuite::kChaCha20Poly1305),
                         [](const auto& info) { return std::string(info.param == AeadSuite::kAes256Gcm ? "Aes" : "ChaCha"); });

TEST(AeadFormatTest, DetectedSuiteFollowsTheCpu) {
  EXPECT_EQ(DetectAeadSuite(), CpuHasAes() ? AeadSuite::kAes256Gcm : AeadSuite::kChaCha20Poly1305);
}

TEST(KeyRingTest, RefusesIdZeroAndWrongLengthsAndDuplicates) {
  KeyRing ring;
  EXPECT_TRUE(ring.Add(0, Key(1)).code() == StatusCode::kInvalidArgument);
  EXPECT_TRUE(ring.Add(5, Bytes(31, 1)).code() == StatusCode::kInvalidArgument);
  EXPECT_TRUE(ring.Add(5, Bytes(33, 1)).code() == StatusCode::kInvalidArgument);
  ASSERT_TRUE(ring.Add(5, Key(1)).ok());
  EXPECT_TRUE(ring.Add(5, Key(2)).code() == StatusCode::kInvalidArgument);
  EXPECT_FALSE(ring.has_active());
  EXPECT_TRUE(ring.SetActive(6).IsNotFound());
  ASSERT_TRUE(ring.SetActive(5).ok());
  EXPECT_EQ(ring.active_id(), 5u);
  ASSERT_NE(ring.KeyBytes(5), nullptr);
  EXPECT_EQ(ring.KeyBytes(5)[0], 1);
  EXPECT_EQ(ring.KeyBytes(6), nullptr);
}

TEST(KeyRingTest, DerivedIdIsTheFirstEightBytesOfALabelledSha256) {
  // sha256(b"IronBus at-rest key id v1\0" + bytes(32)) [0:8], little-endian: computed
  // independently (python3 hashlib) and pinned here.
  EXPECT_EQ(KeyRing::DeriveKeyId(Bytes(32, 0)), 0xd7eb4252bf9de031ull);
  EXPECT_NE(KeyRing::DeriveKeyId(Key(1)), KeyRing::DeriveKeyId(Key(2)));
  KeyRing ring;
  auto id = ring.AddDerived(Key(7));
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(*id, KeyRing::DeriveKeyId(Key(7)));
  EXPECT_NE(*id, kNoKeyId);
}

}  // namespace
}  // namespace ironbus::format
