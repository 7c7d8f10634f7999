// Two-slot checkpoint files and their payloads (spec/storage.md 7).

#include "format/checkpoint.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>

#include "format/crc32c.h"
#include "format/record_format.h"

namespace ironbus::format {
namespace {

constexpr size_t kCap = kCursorCheckpointCap;

// Writes `payload` at `seq` into the slot seq % 2 of *file, as storage would.
void WriteSlot(Bytes* file, uint64_t seq, ByteView payload, size_t cap = kCap) {
  const Result<Bytes> slot = EncodeCheckpointSlot(seq, payload, cap);
  ASSERT_TRUE(slot.ok()) << slot.status().ToString();
  std::copy(slot->begin(), slot->end(), file->begin() + static_cast<ptrdiff_t>((seq % 2) * CheckpointSlotLen(cap)));
}

Bytes EmptyFile(size_t cap = kCap) { return Bytes(CheckpointFileLen(cap), 0); }

TEST(CheckpointSlotTest, SlotLayoutIsSeqLenPayloadPaddingCrc) {
  const Result<Bytes> slot = EncodeCheckpointSlot(9, ToBytes("abc"), kCap);
  ASSERT_TRUE(slot.ok());
  ASSERT_EQ(slot->size(), CheckpointSlotLen(kCap));
  EXPECT_EQ(DecodeFixed64(slot->data()), 9u);
  EXPECT_EQ(DecodeFixed16(slot->data() + 8), 3u);
  EXPECT_EQ(AsChars(ByteView(*slot).subspan(10, 3)), "abc");
  EXPECT_TRUE(std::all_of(slot->begin() + 13, slot->begin() + 10 + kCap, [](uint8_t b) { return b == 0; }));
  EXPECT_EQ(DecodeFixed32(slot->data() + 10 + kCap), crc32c::Value(slot->data(), 13));
}

TEST(CheckpointSlotTest, SeqZeroIsRefused) {
  EXPECT_EQ(EncodeCheckpointSlot(0, ToBytes("x"), kCap).status().code(), StatusCode::kInvalidArgument);
}

TEST(CheckpointSlotTest, PayloadOverCapIsRefused) {
  EXPECT_EQ(EncodeCheckpointSlot(1, Bytes(kCap + 1, 1), kCap).status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(EncodeCheckpointSlot(1, Bytes(kCap, 1), kCap).ok());
}

TEST(CheckpointFileTest, NeverWrittenFileHasNoValue) { EXPECT_FALSE(DecodeCheckpointFile(EmptyFile(), kCap)); }

TEST(CheckpointFileTest, FirstWriteLandsInSlotOne) {
  Bytes file = EmptyFile();
  WriteSlot(&file, 1, ToBytes("one"));
  EXPECT_TRUE(std::all_of(file.begin(), file.begin() + CheckpointSlotLen(kCap), [](uint8_t b) { return b == 0; }));
  const auto v = DecodeCheckpointFile(file, kCap);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->seq, 1u);
  EXPECT_EQ(AsChars(v->payload), "one");
}

TEST(CheckpointFileTest, HigherSeqWins) {
  Bytes file = EmptyFile();
  for (uint64_t seq = 1; seq <= 6; ++seq) {
    const std::string value = "v" + std::to_string(seq);
    WriteSlot(&file, seq, AsBytes(value));
    const auto v = DecodeCheckpointFile(file, kCap);
    ASSERT_TRUE(v);
    EXPECT_EQ(v->seq, seq);
    EXPECT_EQ(AsChars(v->payload), value);
  }
}

TEST(CheckpointFileTest, TieGoesToSlotZero) {
  Bytes file = EmptyFile();
  const Bytes s0 = *EncodeCheckpointSlot(4, ToBytes("slot0"), kCap);
  const Bytes s1 = *EncodeCheckpointSlot(4, ToBytes("slot1"), kCap);
  std::copy(s0.begin(), s0.end(), file.begin());
  std::copy(s1.begin(), s1.end(), file.begin() + CheckpointSlotLen(kCap));
  const auto v = DecodeCheckpointFile(file, kCap);
  ASSERT_TRUE(v);
  EXPECT_EQ(AsChars(v->payload), "slot0");
}

TEST(CheckpointFileTest, ShortFileHasNoValue) {
  Bytes file = EmptyFile();
  WriteSlot(&file, 1, ToBytes("one"));
  file.pop_back();
  EXPECT_FALSE(DecodeCheckpointFile(file, kCap));
}

TEST(CheckpointFileTest, TornNewestSlotFallsBackToPrevious) {
  Bytes file = EmptyFile();
  WriteSlot(&file, 1, ToBytes("old"));
  WriteSlot(&file, 2, ToBytes("new"));
  file[10] ^= 0xFF;  // slot 0 (seq 2) payload torn
  const auto v = DecodeCheckpointFile(file, kCap);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->seq, 1u);
  EXPECT_EQ(AsChars(v->payload), "old");
}

TEST(CheckpointFileTest, LenOverCapMakesSlotInvalid) {
  Bytes file = EmptyFile();
  WriteSlot(&file, 1, ToBytes("old"));
  WriteSlot(&file, 2, ToBytes("new"));
  EncodeFixed16(file.data() + 8, kCap + 1);
  const auto v = DecodeCheckpointFile(file, kCap);
  ASSERT_TRUE(v);
  EXPECT_EQ(AsChars(v->payload), "old");
}

TEST(CheckpointFileTest, PaddingIsNotCoveredByTheSlotCrc) {
  Bytes file = EmptyFile();
  WriteSlot(&file, 1, ToBytes("abc"));
  file[CheckpointSlotLen(kCap) + 10 + 20] = 0x77;  // inside the padding
  const auto v = DecodeCheckpointFile(file, kCap);
  ASSERT_TRUE(v);
  EXPECT_EQ(AsChars(v->payload), "abc");
}

TEST(CheckpointFileTest, AttemptsCapacityFileSizes) {
  EXPECT_EQ(CheckpointSlotLen(kAttemptsCheckpointCap), 32782u);
  EXPECT_EQ(CheckpointFileLen(kAttemptsCheckpointCap), 65564u);
  EXPECT_EQ(CheckpointFileLen(kCountersCheckpointCap), 220u);
}

// ---- cursor snapshot ----

TEST(CursorSnapshotTest, KeepsLowestRangesThatFit) {
  CursorSnapshot s{10, {{12, 13}, {20, 30}, {40, 41}, {50, 60}, {70, 80}}};
  const Bytes b = EncodeCursorSnapshot(s);
  EXPECT_EQ(b.size(), kCursorSnapshotMinSize + 3 * 16);
  EXPECT_LE(b.size(), kCursorCheckpointCap);
  const CursorSnapshot d = DecodeCursorSnapshot(b);
  EXPECT_EQ(d.committed, 10u);
  EXPECT_EQ(d.acked_ahead, (std::vector<std::pair<uint64_t, uint64_t>>{{12, 13}, {20, 30}, {40, 41}}));
}

TEST(CursorSnapshotTest, LegacyEightBytePayloadIsCommitted) {
  Bytes b(8);
  EncodeFixed64(b.data(), 0x0102030405060708ull);
  EXPECT_EQ(DecodeCursorSnapshot(b), (CursorSnapshot{0x0102030405060708ull, {}}));
}

TEST(CursorSnapshotTest, LegacyShortPayloadReadsMissingBytesAsZero) {
  EXPECT_EQ(DecodeCursorSnapshot(Bytes{0x34, 0x12}).committed, 0x1234u);
  EXPECT_EQ(DecodeCursorSnapshot(Bytes{}).committed, 0u);
  Bytes twelve(12, 0);
  twelve[0] = 7;
  EXPECT_EQ(DecodeCursorSnapshot(twelve).committed, 7u);  // still legacy below 13 bytes
}

Bytes WithCrc(Bytes b) {
  PutFixed32(&b, crc32c::Value(b));
  return b;
}

Bytes SnapshotBody(uint8_t version, uint64_t committed, std::vector<std::pair<uint64_t, uint64_t>> ranges) {
  Bytes b{version};
  PutFixed64(&b, committed);
  for (auto [s, e] : ranges) {
    PutFixed64(&b, s);
    PutFixed64(&b, e);
  }
  return b;
}

TEST(CursorSnapshotTest, BadCrcKeepsOnlyCommitted) {
  Bytes b = EncodeCursorSnapshot(CursorSnapshot{5, {{7, 9}}});
  b.back() ^= 1;
  EXPECT_EQ(DecodeCursorSnapshot(b), (CursorSnapshot{5, {}}));
}

TEST(CursorSnapshotTest, UnknownVersionKeepsOnlyCommitted) {
  EXPECT_EQ(DecodeCursorSnapshot(WithCrc(SnapshotBody(2, 5, {{7, 9}}))), (CursorSnapshot{5, {}}));
}

TEST(CursorSnapshotTest, RaggedRangeBytesKeepOnlyCommitted) {
  Bytes body = SnapshotBody(1, 5, {{7, 9}});
  body.push_back(0);
  EXPECT_EQ(DecodeCursorSnapshot(WithCrc(body)), (CursorSnapshot{5, {}}));
}

TEST(CursorSnapshotTest, MalformedRangeSetKeepsOnlyCommitted) {
  const std::vector<std::vector<std::pair<uint64_t, uint64_t>>> bad = {
      {{5, 9}},            // starts at committed, not above it
      {{3, 4}},            // below committed
      {{9, 9}},            // empty
      {{9, 7}},            // reversed
      {{20, 30}, {7, 9}},  // unsorted
      {{7, 9}, {9, 12}},   // adjacent
      {{7, 12}, {10, 14}}  // overlapping
  };
  for (const auto& ranges : bad) {
    EXPECT_EQ(DecodeCursorSnapshot(WithCrc(SnapshotBody(1, 5, ranges))), (CursorSnapshot{5, {}}));
  }
  EXPECT_EQ(DecodeCursorSnapshot(WithCrc(SnapshotBody(1, 5, {{7, 9}, {10, 12}}))),
            (CursorSnapshot{5, {{7, 9}, {10, 12}}}));
}

RC_GTEST_PROP(CursorSnapshotProperty, RoundTripsUpToCapacityAndKeepsLowest,
              (uint32_t committed, std::vector<std::pair<uint16_t, uint16_t>> gaps)) {
  CursorSnapshot s{committed, {}};
  uint64_t pos = committed;
  for (auto [gap, len] : gaps) {
    const uint64_t start = pos + 1 + gap;  // above the previous end: never adjacent
    const uint64_t end = start + 1 + len;
    s.acked_ahead.emplace_back(start, end);
    pos = end;
  }
  const Bytes b = EncodeCursorSnapshot(s);
  RC_ASSERT(b.size() <= kCursorCheckpointCap);
  CursorSnapshot expected = s;
  if (expected.acked_ahead.size() > 3) expected.acked_ahead.resize(3);
  RC_ASSERT(DecodeCursorSnapshot(b) == expected);
  RC_ASSERT(EncodeCheckpointSlot(1, b, kCursorCheckpointCap).ok());
}

// ---- attempts snapshot ----

TEST(AttemptsSnapshotTest, RoundTrip) {
  const AttemptsSnapshot s{{{3, 1}, {9, 4}, {uint64_t{1} << 40, 5}}};
  const Result<Bytes> b = EncodeAttemptsSnapshot(s);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->size(), kAttemptsSnapshotMinSize + 3 * 12);
  EXPECT_EQ(DecodeAttemptsSnapshot(*b), s);
}

TEST(AttemptsSnapshotTest, EmptySnapshotIsNineBytes) {
  const Result<Bytes> b = EncodeAttemptsSnapshot(AttemptsSnapshot{});
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->size(), kAttemptsSnapshotMinSize);
  EXPECT_EQ(DecodeAttemptsSnapshot(*b), AttemptsSnapshot{});
}

TEST(AttemptsSnapshotTest, OverCapacityIsRefused) {
  const size_t fit = (kAttemptsCheckpointCap - kAttemptsSnapshotMinSize) / 12;
  AttemptsSnapshot s;
  for (uint64_t i = 0; i < fit; ++i) s.attempts.emplace_back(i, 1);
  EXPECT_TRUE(EncodeAttemptsSnapshot(s).ok());
  s.attempts.emplace_back(fit, 1);
  EXPECT_EQ(EncodeAttemptsSnapshot(s).status().code(), StatusCode::kInvalidArgument);
}

TEST(AttemptsSnapshotTest, NonAscendingOffsetsAreRefused) {
  EXPECT_FALSE(EncodeAttemptsSnapshot(AttemptsSnapshot{{{5, 1}, {5, 2}}}).ok());
  EXPECT_FALSE(EncodeAttemptsSnapshot(AttemptsSnapshot{{{6, 1}, {5, 2}}}).ok());
}

TEST(AttemptsSnapshotTest, MalformedPayloadsAreAbsent) {
  const Bytes good = *EncodeAttemptsSnapshot(AttemptsSnapshot{{{3, 1}, {9, 4}}});
  EXPECT_FALSE(DecodeAttemptsSnapshot(ByteView(good).first(8)));  // below minimum
  Bytes bad_version = good;
  bad_version[0] = 2;
  EXPECT_FALSE(DecodeAttemptsSnapshot(bad_version));
  Bytes bad_crc = good;
  bad_crc[6] ^= 1;
  EXPECT_FALSE(DecodeAttemptsSnapshot(bad_crc));
  // A count that promises more pairs than the bytes hold, CRC made valid: refused before use.
  Bytes huge{kAttemptsSnapshotVersion};
  PutFixed32(&huge, 0xFFFFFFFFu);
  EXPECT_FALSE(DecodeAttemptsSnapshot(WithCrc(huge)));
  // Descending offsets behind a valid CRC.
  Bytes desc{kAttemptsSnapshotVersion};
  PutFixed32(&desc, 2);
  PutFixed64(&desc, 9);
  PutFixed32(&desc, 1);
  PutFixed64(&desc, 3);
  PutFixed32(&desc, 1);
  EXPECT_FALSE(DecodeAttemptsSnapshot(WithCrc(desc)));
}

RC_GTEST_PROP(AttemptsSnapshotProperty, RoundTrips, (std::vector<std::pair<uint32_t, uint32_t>> raw)) {
  AttemptsSnapshot s;
  uint64_t offset = 0;
  for (auto [step, attempt] : raw) {
    offset += uint64_t{step} + 1;
    s.attempts.emplace_back(offset, attempt);
  }
  const Result<Bytes> b = EncodeAttemptsSnapshot(s);
  RC_ASSERT(b.ok());
  RC_ASSERT(DecodeAttemptsSnapshot(*b) == s);
}

// ---- layout marker ----

TEST(LayoutMarkerTest, RoundTripsAnyVersion) {
  EXPECT_EQ(DecodeLayoutMarker(EncodeLayoutMarker(1)), 1u);
  EXPECT_EQ(DecodeLayoutMarker(EncodeLayoutMarker(2)), 2u);  // the caller fails closed on > 1
}

TEST(LayoutMarkerTest, WrongMagicOrLengthIsAbsent) {
  Bytes b = EncodeLayoutMarker(1);
  b[0] = 'X';
  EXPECT_FALSE(DecodeLayoutMarker(b));
  Bytes longer = EncodeLayoutMarker(1);
  longer.push_back(0);
  EXPECT_FALSE(DecodeLayoutMarker(longer));
  EXPECT_FALSE(DecodeLayoutMarker(ByteView(EncodeLayoutMarker(1)).first(7)));
}

}  // namespace
}  // namespace ironbus::format
