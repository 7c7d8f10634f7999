// libFuzzer target for the record decoder (spec/storage.md 3.8) and the payload decompressor
// (5.3). Besides "no crash, no hang, no unbounded allocation" it checks the invariants the
// recovery scan relies on:
//   - the header-only probe and the full decode agree on every header-stage outcome and on
//     the frame length;
//   - an accepted frame lies within the input and re-encodes to exactly the same bytes (so
//     every byte of an accepted frame is pinned by a check);
//   - any strict prefix of an accepted frame is Truncated, never corrupt;
//   - decompression of a COMPRESSED payload stays within the 8 MiB cap and agrees with the
//     descriptor.
//
// A fuzzer cannot guess a CRC32C, so each input is also run a second time with the magic, the
// version, every checksum and the stored total recomputed from the lengths its header states
// ("fixed up"). That lets
// it reach the derived-flag, tagged-field, xxh3 and decompression branches without a seed
// corpus, while the untouched run keeps the CRC-failure paths covered.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include <xxhash.h>

#include "format/compression.h"
#include "format/crc32c.h"
#include "format/record.h"
#include "format/record_format.h"

namespace {

void Require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "record_decoder_fuzz invariant broken: %s\n", what);
    std::abort();
  }
}

using namespace ironbus;
using namespace ironbus::format;

// Stamps magic and version, then recomputes header CRC, tagged-field CRC, xxh3, body CRC and
// total_len in place, as far as the bytes present allow; lengths and flags are left as the
// input states them. (libFuzzer's compare hints do not cover 2-byte constants well, so the
// magic is set here rather than left for it to find.)
void FixUp(Bytes* b) {
  if (b->size() < kRecordHeaderSize) return;
  uint8_t* p = b->data();
  EncodeFixed16(p + kRecordOffMagic, kRecordMagic);
  p[kRecordOffVersion] = kRecordVersion;
  EncodeFixed32(p + kRecordOffHeaderCrc, crc32c::Value(p, kRecordHeaderCrcCoverage));
  const uint8_t flags = p[kRecordOffFlags];
  size_t pos = kRecordHeaderSize;
  uint64_t tagged = 0;
  if (flags & (kFlagHasSubject | kFlagHasStreamTag)) {
    if (b->size() < kRecordHeaderSize + kTaggedFieldLenSize) return;
    tagged = DecodeFixed16(p + kRecordHeaderSize);
    pos += kTaggedFieldLenSize + tagged + kTaggedFieldCrcSize;
  }
  const uint64_t body = uint64_t{DecodeFixed32(p + kRecordOffKeyLen)} + DecodeFixed32(p + kRecordOffHdrLen) +
                        DecodeFixed32(p + kRecordOffPayloadLen);
  const uint64_t total = pos + body + ((flags & kFlagHasXxh3) ? kRecordXxh3Size : 0) + kRecordTrailerSize;
  if (total > b->size()) return;
  if (tagged != 0) {
    const size_t covered = kTaggedFieldLenSize + tagged;
    EncodeFixed32(p + kRecordHeaderSize + covered, crc32c::Value(p + kRecordHeaderSize, covered));
  }
  if (flags & kFlagHasXxh3) EncodeFixed64(p + pos + body, XXH3_64bits(p + pos, body));
  EncodeFixed32(p + total - kRecordTrailerSize, crc32c::Value(p + pos, body));
  EncodeFixed32(p + total - kRecordLengthFieldSize, static_cast<uint32_t>(total));
}

void CheckOne(const uint8_t* data, size_t size) {
  const ByteView in(data, size);

  const ProbeResult probe = ProbeRecord(in);
  RecordView view;
  const DecodeResult decoded = DecodeRecord(in, &view);

  if (probe.outcome != ParseOutcome::kOk) {
    // Steps 1-7 are shared: a probe failure is the decode failure.
    Require(decoded.outcome == probe.outcome, "probe failure differs from decode failure");
    return;
  }
  Require(probe.total_len >= kMinRecordFrameSize, "probe length below the minimal frame");
  Require(probe.total_len <= kMaxRecordBytesCeiling, "probe length above the ceiling");
  Require(!IsHeaderOutcome(decoded.outcome), "header-stage outcome after a clean probe");
  Require((decoded.outcome == ParseOutcome::kTruncated) == (size < probe.total_len),
          "Truncated iff fewer bytes than the probe's length");
  if (decoded.outcome != ParseOutcome::kOk) return;

  Require(decoded.frame_len == probe.total_len, "frame length differs from probe length");
  Require(decoded.frame_len <= size, "frame runs past the input");
  Require(!(view.subject && view.stream_tag), "both subject and stream tag decoded");

  Bytes again;
  Require(EncodeRecord(view, &again).ok(), "accepted frame does not re-encode");
  Require(again.size() == decoded.frame_len, "re-encoded length differs");
  for (size_t i = 0; i < again.size(); ++i) Require(again[i] == data[i], "re-encoded bytes differ");

  // One strict prefix (cheap): never corrupt, always "need more".
  RecordView unused;
  const size_t cut = decoded.frame_len - 1 - (data[0] % decoded.frame_len);
  Require(DecodeRecord(in.first(cut), &unused).outcome == ParseOutcome::kTruncated, "strict prefix not Truncated");

  if (view.flags & kFlagCompressed) {
    Bytes out;
    DescriptorInfo info;
    const DecompressError parsed = ParseDescriptor(view.payload, &info);
    const DecompressError e = Decompress(view.payload, &out);
    if (parsed != DecompressError::kOk) Require(e == parsed, "descriptor error differs from decompress error");
    if (e == DecompressError::kOk) {
      Require(out.size() == info.uncompressed_len, "output length differs from descriptor");
      Require(out.size() <= kMaxDecompressedBytes, "output above the decompressed cap");
      Require(IsWellFormedCompressedPayload(view.payload), "decodable payload fails the shape check");
    } else {
      Require(out.empty(), "failed decompression left output behind");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  CheckOne(data, size);
  Bytes fixed(data, data + size);
  FixUp(&fixed);
  CheckOne(fixed.data(), fixed.size());
  return 0;
}
