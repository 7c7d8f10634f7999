// libFuzzer target for the checkpoint decoders (spec/storage.md 7, spec/consumers.md 7-8):
// the two-slot checkpoint file, the cursor and attempts snapshots, the layout marker and the
// dead-letter header prefix. Besides "no crash, no hang, no unbounded allocation" it checks
// round trip: whatever decodes re-encodes with the encoder and decodes to the same value, and
// where the decoder is strict (attempts, layout marker, DLQ1, a fully valid cursor snapshot,
// the winning slot) the re-encoding is exactly the input bytes, so no byte is accepted unchecked.
//
// Input: byte 0 selects the decoder (low 3 bits) and whether CRCs are fixed up (bit 3) so the
// fuzzer gets past the CRC checks it cannot guess; byte 1 selects the slot capacity for the
// checkpoint file mode; the rest is the decoder's input.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "base/bytes.h"
#include "format/checkpoint.h"
#include "format/crc32c.h"
#include "format/dlq_header.h"
#include "format/record_format.h"

namespace {

using namespace ironbus;
using namespace ironbus::format;

void Require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "checkpoint_fuzz invariant broken: %s\n", what);
    std::abort();
  }
}

bool Same(ByteView a, ByteView b) { return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size()) == 0); }

// Snapshot payloads end in CRC32C(everything before).
void FixSnapshotCrc(Bytes* b) {
  if (b->size() < 5) return;
  const size_t body = b->size() - 4;
  EncodeFixed32(b->data() + body, crc32c::Value(b->data(), body));
}

// Both slots: the CRC over seq | len | payload[0, len) where len fits the cap.
void FixSlotCrcs(Bytes* b, size_t cap) {
  if (b->size() < CheckpointFileLen(cap)) return;
  for (int i = 0; i < 2; ++i) {
    uint8_t* slot = b->data() + i * CheckpointSlotLen(cap);
    const uint16_t len = DecodeFixed16(slot + kCheckpointSlotSeqSize);
    if (len > cap) continue;
    const size_t covered = kCheckpointSlotSeqSize + kCheckpointSlotLenSize + len;
    EncodeFixed32(slot + kCheckpointSlotSeqSize + kCheckpointSlotLenSize + cap, crc32c::Value(slot, covered));
  }
}

void CheckFile(ByteView in, size_t cap) {
  const auto v = DecodeCheckpointFile(in, cap);
  if (in.size() < CheckpointFileLen(cap)) {
    Require(!v.has_value(), "short checkpoint file decoded");
    return;
  }
  if (!v) return;
  Require(v->seq != 0, "winning slot has seq 0");
  Require(v->payload.size() <= cap, "winning payload above the cap");
  auto slot = EncodeCheckpointSlot(v->seq, v->payload, cap);
  Require(slot.ok(), "decoded checkpoint value does not re-encode");
  // The winner is one of the two slots; its covered bytes and CRC are exactly the encoding.
  const size_t slot_len = CheckpointSlotLen(cap);
  const size_t covered = kCheckpointSlotSeqSize + kCheckpointSlotLenSize + v->payload.size();
  bool matched = false;
  for (int i = 0; i < 2 && !matched; ++i) {
    const ByteView s = in.subspan(i * slot_len, slot_len);
    matched = Same(s.first(covered), ByteView(*slot).first(covered)) &&
              Same(s.last(kCheckpointSlotCrcSize), ByteView(*slot).last(kCheckpointSlotCrcSize));
  }
  Require(matched, "winning slot is not the encoding of the decoded value");
  // decode(encode(x)) == x, in either slot position.
  for (int pos = 0; pos < 2; ++pos) {
    Bytes file(CheckpointFileLen(cap), 0);
    std::memcpy(file.data() + pos * slot_len, slot->data(), slot_len);
    const auto again = DecodeCheckpointFile(file, cap);
    Require(again && again->seq == v->seq && again->payload == v->payload, "checkpoint file round trip");
  }
}

void CheckCursor(ByteView in) {
  const CursorSnapshot s = DecodeCursorSnapshot(in);
  uint64_t floor = s.committed;
  for (const auto& [start, end] : s.acked_ahead) {
    Require(start > floor && end > start, "decoded ranges not sorted, disjoint, above committed");
    floor = end;
  }
  const size_t cap = kCursorSnapshotMinSize + 16 * s.acked_ahead.size();
  const Bytes enc = EncodeCursorSnapshot(s, cap);
  Require(DecodeCursorSnapshot(enc) == s, "cursor snapshot round trip");
  // A fully valid snapshot (right version, CRC, range set kept whole) is exactly its encoding.
  if (in.size() >= kCursorSnapshotMinSize && in[0] == kCursorSnapshotVersion &&
      (in.size() - kCursorSnapshotMinSize) == 16 * s.acked_ahead.size() &&
      crc32c::Value(in.data(), in.size() - 4) == DecodeFixed32(in.data() + in.size() - 4)) {
    Require(Same(enc, in), "valid cursor snapshot does not re-encode to its bytes");
  }
}

void CheckAttempts(ByteView in) {
  const auto s = DecodeAttemptsSnapshot(in);
  if (!s) return;
  auto enc = EncodeAttemptsSnapshot(*s, in.size());
  Require(enc.ok(), "decoded attempts snapshot does not re-encode");
  Require(Same(*enc, in), "attempts snapshot does not re-encode to its bytes");
  const auto again = DecodeAttemptsSnapshot(*enc);
  Require(again && *again == *s, "attempts snapshot round trip");
}

void CheckLayout(ByteView in) {
  const auto v = DecodeLayoutMarker(in);
  if (!v) return;
  Require(Same(EncodeLayoutMarker(*v), in), "layout marker does not re-encode to its bytes");
  Require(DecodeLayoutMarker(EncodeLayoutMarker(*v)) == v, "layout marker round trip");
}

void CheckDlq(ByteView in) {
  const auto h = DecodeDlqHeaders(in);
  if (!h) return;
  // The views lie inside the input and the lengths add up exactly.
  Require(h->group.data() >= in.data() && h->original_headers.data() + h->original_headers.size() == in.data() + in.size(),
          "DLQ views outside the blob");
  Require(h->reason <= kDlqReasonRejected, "unknown DLQ reason accepted");
  const bool v2 = std::memcmp(in.data(), kDlqMagicV2, 4) == 0;
  Require(in.size() == (v2 ? kDlqPrefixSizeV2 : kDlqPrefixSizeV1) + h->group.size() + h->original_headers.size(),
          "DLQ lengths do not add up");
  if (!v2) Require(h->reason == kDlqReasonMaxDeliver, "DLQ1 reason not max-deliver");
  auto enc = EncodeDlqHeaders(h->source_offset, h->attempt, h->group, h->original_headers);
  Require(enc.ok(), "decoded DLQ header does not re-encode");
  if (!v2) Require(Same(*enc, in), "DLQ1 header does not re-encode to its bytes");
  const auto again = DecodeDlqHeaders(*enc);
  Require(again && again->source_offset == h->source_offset && again->attempt == h->attempt &&
              Same(again->group, h->group) && Same(again->original_headers, h->original_headers) &&
              again->reason == kDlqReasonMaxDeliver,
          "DLQ header round trip");
}

constexpr size_t kCaps[8] = {0, 8, 13, 16, 64, 96, 200, 1024};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint8_t mode = data[0];
  const size_t cap = kCaps[data[1] % 8];
  Bytes in(data + 2, data + size);
  const bool fix = (mode & 8) != 0;
  switch (mode & 7) {
    case 0:
      if (fix) FixSlotCrcs(&in, cap);
      CheckFile(in, cap);
      break;
    case 1:
      if (fix) FixSnapshotCrc(&in);
      CheckCursor(in);
      break;
    case 2:
      if (fix) FixSnapshotCrc(&in);
      CheckAttempts(in);
      break;
    case 3:
      CheckLayout(in);
      break;
    case 4:
      CheckDlq(in);
      break;
    default:
      // Every decoder on the raw bytes (the checkpoint file with the on-disk caps).
      CheckFile(in, kCursorCheckpointCap);
      CheckFile(in, kCountersCheckpointCap);
      CheckCursor(in);
      CheckAttempts(in);
      CheckLayout(in);
      CheckDlq(in);
      break;
  }
  return 0;
}
