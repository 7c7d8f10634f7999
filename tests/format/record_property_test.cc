// RapidCheck properties of the record codec. RapidCheck prints the seed of a failing run
// ("Using configuration: seed=..."); rerun with RC_PARAMS="seed=<n>" to reproduce it.

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "format/corpus_fixtures.h"
#include "format/record.h"
#include "format/record_format.h"

namespace ironbus::format {
namespace {

// Bytes from a seed (splitmix64): big payloads without generating 70k shrinkable elements.
Bytes SeededBytes(uint64_t seed, size_t n) {
  Bytes out(n);
  for (size_t i = 0; i < n; ++i) {
    seed += 0x9E3779B97F4A7C15ull;
    uint64_t z = seed;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    out[i] = static_cast<uint8_t>(z ^ (z >> 31));
  }
  return out;
}

// Random record: any flags (the encoder derives five of them), small key and headers, a
// payload either small or around the 64 KiB xxh3 threshold, and at most one v2 field.
Record GenRecord() {
  Record r;
  r.flags = *rc::gen::arbitrary<uint8_t>();
  r.seq = *rc::gen::arbitrary<uint64_t>();
  r.timestamp_ms = *rc::gen::arbitrary<uint64_t>();
  r.key = *rc::gen::container<Bytes>(*rc::gen::inRange<size_t>(0, 40), rc::gen::arbitrary<uint8_t>());
  r.headers = *rc::gen::container<Bytes>(*rc::gen::inRange<size_t>(0, 40), rc::gen::arbitrary<uint8_t>());
  const size_t payload_len = *rc::gen::weightedOneOf<size_t>({
      {3, rc::gen::inRange<size_t>(0, 300)},
      {1, rc::gen::inRange<size_t>(kXxh3BodyThreshold - 100, kXxh3BodyThreshold + 5000)},
  });
  r.payload = SeededBytes(*rc::gen::arbitrary<uint64_t>(), payload_len);
  const int v2 = *rc::gen::inRange(0, 3);
  if (v2 != 0) {
    Bytes field = *rc::gen::container<Bytes>(*rc::gen::inRange<size_t>(1, 64), rc::gen::arbitrary<uint8_t>());
    (v2 == 1 ? r.subject : r.stream_tag) = std::move(field);
  }
  return r;
}

uint8_t ExpectedFlags(const Record& r) {
  uint8_t f = r.flags & static_cast<uint8_t>(
                            ~(kFlagHasKey | kFlagHasXxh3 | kFlagHasSubject | kFlagHasStreamTag | kFlagEncrypted));
  if (!r.key.empty()) f |= kFlagHasKey;
  if (r.key.size() + r.headers.size() + r.payload.size() >= kXxh3BodyThreshold) f |= kFlagHasXxh3;
  if (r.subject) f |= kFlagHasSubject;
  if (r.stream_tag) f |= kFlagHasStreamTag;
  return f;
}

RC_GTEST_PROP(RecordProperty, DecodeOfEncodeIsIdentity, ()) {
  Record r = GenRecord();
  const Bytes frame = testing::Encode(r);
  const Result<uint64_t> size = EncodedRecordSize(r.view());
  RC_ASSERT(size.ok());
  RC_ASSERT(*size == frame.size());

  RecordView v;
  const DecodeResult d = DecodeRecord(frame, &v);
  RC_ASSERT(d.outcome == ParseOutcome::kOk);
  RC_ASSERT(d.frame_len == frame.size());
  r.flags = ExpectedFlags(r);
  RC_ASSERT(Record::FromView(v) == r);

  // The probe sizes the frame from its first 38 bytes at most.
  const size_t prefix = std::min(frame.size(), kRecordHeaderSize + kTaggedFieldLenSize);
  const ProbeResult p = ProbeRecord(ByteView(frame).first(prefix));
  RC_ASSERT(p.outcome == ParseOutcome::kOk);
  RC_ASSERT(p.total_len == frame.size());

  // Re-encoding the decoded view reproduces the frame exactly.
  Bytes again;
  RC_ASSERT(EncodeRecord(v, &again).ok());
  RC_ASSERT(again == frame);
}

RC_GTEST_PROP(RecordProperty, AnySingleBitFlipIsDetected, ()) {
  const Record r = GenRecord();
  Bytes frame = testing::Encode(r);
  const size_t at = *rc::gen::inRange<size_t>(0, frame.size());
  const int bit = *rc::gen::inRange(0, 8);
  frame[at] ^= static_cast<uint8_t>(1u << bit);
  RecordView v;
  const ParseOutcome o = DecodeRecord(frame, &v).outcome;
  RC_ASSERT(o != ParseOutcome::kOk);
}

RC_GTEST_PROP(RecordProperty, AnyStrictPrefixIsTruncated, ()) {
  const Record r = GenRecord();
  const Bytes frame = testing::Encode(r);
  const size_t n = *rc::gen::inRange<size_t>(0, frame.size());
  RecordView v;
  RC_ASSERT(DecodeRecord(ByteView(frame).first(n), &v).outcome == ParseOutcome::kTruncated);
}

}  // namespace
}  // namespace ironbus::format
