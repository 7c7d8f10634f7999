// Payload compression: the D8 writer rule and the reader bounds of spec/storage.md 5.3.

#include "format/compression.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "format/corpus_fixtures.h"
#include "format/record_format.h"

namespace ironbus::format {
namespace {

Bytes Descriptor(uint8_t codec, uint32_t dict_id, uint32_t uncompressed_len, ByteView stream = {}) {
  Bytes b{codec};
  PutFixed32(&b, dict_id);
  PutFixed32(&b, uncompressed_len);
  PutBytes(&b, stream);
  return b;
}

Bytes Compressible(size_t n) { return testing::Pattern(0x41, n); }

Bytes Noise(size_t n) {
  Bytes out(n);
  uint64_t x = 0x243F6A8885A308D3ull;
  for (auto& b : out) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    b = static_cast<uint8_t>(x);
  }
  return out;
}

// ---- writer ----

TEST(CompressWriterTest, PayloadBelowOneKiBIsStoredRaw) {
  EXPECT_FALSE(MaybeCompress(Compressible(kCompressMinPayloadBytes - 1), Compression::kLz4));
  EXPECT_TRUE(MaybeCompress(Compressible(kCompressMinPayloadBytes), Compression::kLz4));
}

TEST(CompressWriterTest, NoneModeNeverCompresses) {
  EXPECT_FALSE(MaybeCompress(Compressible(64 * 1024), Compression::kNone));
}

TEST(CompressWriterTest, IncompressiblePayloadIsStoredRaw) {
  EXPECT_FALSE(MaybeCompress(Noise(4096), Compression::kLz4));
}

TEST(CompressWriterTest, PayloadAboveDecompressedCapIsStoredRaw) {
  EXPECT_FALSE(MaybeCompress(Bytes(kMaxDecompressedBytes + 1, 0), Compression::kLz4));
  EXPECT_TRUE(MaybeCompress(Bytes(kMaxDecompressedBytes, 0), Compression::kLz4));
}

TEST(CompressWriterTest, OutputIsLz4DescriptorAndStrictlyShorter) {
  const Bytes raw = Compressible(5000);
  const auto stored = MaybeCompress(raw, Compression::kLz4);
  ASSERT_TRUE(stored);
  EXPECT_LT(stored->size(), raw.size());
  DescriptorInfo info;
  ASSERT_EQ(ParseDescriptor(*stored, &info), DecompressError::kOk);
  EXPECT_EQ(info.codec, kCodecLz4);
  EXPECT_EQ(info.dict_id, 0u);
  EXPECT_EQ(info.uncompressed_len, raw.size());
  EXPECT_TRUE(IsWellFormedCompressedPayload(*stored));
}

TEST(CompressWriterTest, BarelyCompressiblePayloadMustSaveAtLeastOneByte) {
  // Mostly noise with a short repeated run: whatever lz4 produces, a stored result is always
  // strictly shorter than the raw payload.
  for (size_t run : {0, 8, 16, 32, 64}) {
    Bytes raw = Noise(2048);
    std::fill(raw.begin(), raw.begin() + static_cast<ptrdiff_t>(run), 0);
    const auto stored = MaybeCompress(raw, Compression::kLz4);
    if (stored) {
      EXPECT_LT(stored->size(), raw.size()) << run;
    }
  }
}

RC_GTEST_PROP(CompressProperty, DecompressInvertsCompress, (uint32_t size_hint, uint8_t alphabet, uint64_t seed)) {
  // Small alphabets compress; 0 means raw noise (mostly stored raw).
  const size_t n = size_hint % (200 * 1024);
  Bytes raw = Noise(n);
  uint64_t x = seed | 1;
  for (auto& b : raw) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    if (alphabet != 0) b = static_cast<uint8_t>(x % (alphabet % 16 + 1));
  }
  const auto stored = MaybeCompress(raw, Compression::kLz4);
  if (!stored) {
    RC_SUCCEED("stored raw");
  }
  RC_ASSERT(n >= kCompressMinPayloadBytes);
  RC_ASSERT(stored->size() < raw.size());
  Bytes back;
  RC_ASSERT(Decompress(*stored, &back) == DecompressError::kOk);
  RC_ASSERT(back == raw);
}

// ---- reader ----

TEST(DecompressTest, ShortPayloadIsTruncatedDescriptor) {
  const Bytes d = Descriptor(kCodecNone, 0, 0);
  for (size_t n = 0; n < kCompressionDescriptorSize; ++n) {
    Bytes out;
    EXPECT_EQ(Decompress(ByteView(d).first(n), &out), DecompressError::kTruncatedDescriptor) << n;
  }
}

TEST(DecompressTest, UnknownCodecIsPoison) {
  for (uint8_t codec : {kCodecZstd, uint8_t{3}, uint8_t{255}}) {
    Bytes out;
    EXPECT_EQ(Decompress(Descriptor(codec, 0, 5, ToBytes("hello")), &out), DecompressError::kUnknownCodec);
  }
}

TEST(DecompressTest, NonZeroDictIdIsUnresolvedPoison) {
  Bytes out;
  EXPECT_EQ(Decompress(Descriptor(kCodecLz4, 1, 5, Bytes{0x50, 'h', 'e', 'l', 'l', 'o'}), &out),
            DecompressError::kUnresolvedDict);
  EXPECT_EQ(Decompress(Descriptor(kCodecNone, 7, 1, ToBytes("x")), &out), DecompressError::kUnresolvedDict);
}

TEST(DecompressTest, CodecIsCheckedBeforeDictAndSize) {
  Bytes out;
  EXPECT_EQ(Decompress(Descriptor(kCodecZstd, 1, 0xFFFFFFFFu), &out), DecompressError::kUnknownCodec);
  EXPECT_EQ(Decompress(Descriptor(kCodecLz4, 1, 0xFFFFFFFFu), &out), DecompressError::kUnresolvedDict);
}

TEST(DecompressTest, UncompressedLenOverCapIsRefusedBeforeAllocating) {
  Bytes out;
  const auto claim = static_cast<uint32_t>(kMaxDecompressedBytes + 1);
  EXPECT_EQ(Decompress(Descriptor(kCodecLz4, 0, claim, Bytes{0x00}), &out), DecompressError::kDecompressedTooLarge);
  EXPECT_EQ(out.capacity(), 0u);  // nothing was reserved for the claim
  EXPECT_EQ(Decompress(Descriptor(kCodecLz4, 0, 0xFFFFFFFFu, Bytes{0x00}), &out),
            DecompressError::kDecompressedTooLarge);
  EXPECT_EQ(out.capacity(), 0u);
}

TEST(DecompressTest, HandWrittenRawLz4BlockDecodes) {
  // One sequence, five literals, no match: the smallest raw block, as lz4_flex writes it.
  Bytes out;
  ASSERT_EQ(Decompress(Descriptor(kCodecLz4, 0, 5, Bytes{0x50, 'h', 'e', 'l', 'l', 'o'}), &out), DecompressError::kOk);
  EXPECT_EQ(AsChars(out), "hello");
}

TEST(DecompressTest, EmptyLz4PayloadDecodesFromOneZeroToken) {
  Bytes out{1, 2, 3};
  ASSERT_EQ(Decompress(Descriptor(kCodecLz4, 0, 0, Bytes{0x00}), &out), DecompressError::kOk);
  EXPECT_TRUE(out.empty());
}

TEST(DecompressTest, GarbageStreamIsCorrupt) {
  Bytes out;
  EXPECT_EQ(Decompress(Descriptor(kCodecLz4, 0, 100, Bytes{0xFF, 0xFF, 0xFF, 0x01}), &out),
            DecompressError::kCorruptStream);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(Decompress(Descriptor(kCodecLz4, 0, 5), &out), DecompressError::kCorruptStream);  // empty stream
}

TEST(DecompressTest, OutputLengthOtherThanClaimIsCorrupt) {
  const Bytes block{0x50, 'h', 'e', 'l', 'l', 'o'};
  Bytes out;
  EXPECT_EQ(Decompress(Descriptor(kCodecLz4, 0, 6, block), &out), DecompressError::kCorruptStream);  // short
  EXPECT_EQ(Decompress(Descriptor(kCodecLz4, 0, 4, block), &out), DecompressError::kCorruptStream);  // overflow
}

TEST(DecompressTest, TruncatedLz4StreamIsCorrupt) {
  const Bytes raw = Compressible(10000);
  Bytes stored = *MaybeCompress(raw, Compression::kLz4);
  stored.resize(stored.size() - 3);
  Bytes out;
  EXPECT_EQ(Decompress(stored, &out), DecompressError::kCorruptStream);
}

TEST(DecompressTest, RawCodecLengthMustMatch) {
  Bytes out;
  EXPECT_EQ(Decompress(Descriptor(kCodecNone, 0, 5, ToBytes("hello")), &out), DecompressError::kOk);
  EXPECT_EQ(AsChars(out), "hello");
  EXPECT_EQ(Decompress(Descriptor(kCodecNone, 0, 4, ToBytes("hello")), &out), DecompressError::kBadRawLength);
  EXPECT_EQ(Decompress(Descriptor(kCodecNone, 0, 6, ToBytes("hello")), &out), DecompressError::kBadRawLength);
}

TEST(DecompressTest, ErrorNamesFollowTheSpec) {
  EXPECT_EQ(DecompressErrorName(DecompressError::kUnknownCodec), "PoisonUnknownCodec");
  EXPECT_EQ(DecompressErrorName(DecompressError::kUnresolvedDict), "PoisonUnresolvedDict");
  EXPECT_EQ(DecompressErrorName(DecompressError::kTruncatedDescriptor), "TruncatedDescriptor");
}

// ---- produce-time shape check ----

TEST(CompressedShapeTest, ShapeRules) {
  EXPECT_FALSE(IsWellFormedCompressedPayload(Bytes(8, 0)));                           // no descriptor
  EXPECT_TRUE(IsWellFormedCompressedPayload(Descriptor(kCodecNone, 0, 2, ToBytes("ab"))));
  EXPECT_FALSE(IsWellFormedCompressedPayload(Descriptor(kCodecNone, 0, 3, ToBytes("ab"))));  // raw length
  EXPECT_TRUE(IsWellFormedCompressedPayload(Descriptor(kCodecLz4, 0, 100, Bytes{0x00})));
  EXPECT_FALSE(IsWellFormedCompressedPayload(Descriptor(kCodecLz4, 0, 100)));                // empty stream
  EXPECT_TRUE(IsWellFormedCompressedPayload(Descriptor(kCodecZstd, 0, 100, Bytes{0x28})));   // registered id
  EXPECT_FALSE(IsWellFormedCompressedPayload(Descriptor(kCodecZstd, 0, 100)));
  EXPECT_FALSE(IsWellFormedCompressedPayload(Descriptor(3, 0, 1, ToBytes("x"))));           // unregistered
  EXPECT_FALSE(IsWellFormedCompressedPayload(
      Descriptor(kCodecLz4, 0, static_cast<uint32_t>(kMaxDecompressedBytes + 1), Bytes{0x00})));
}

}  // namespace
}  // namespace ironbus::format
