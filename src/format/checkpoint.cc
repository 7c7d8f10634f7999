// Two-slot checkpoint files and their payloads (spec/storage.md 7).
//
// The slot CRC covers seq, len and the meaningful payload but not the padding, so the padding
// is written as zeros yet never checked. The snapshot payloads carry a second CRC of their
// own; it is redundant behind the slot CRC on disk, but it is part of the reference's bytes.

#include "format/checkpoint.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <string>

#include "format/crc32c.h"
#include "format/record_format.h"

namespace ironbus::format {
namespace {

constexpr size_t kSlotOffSeq = 0;
constexpr size_t kSlotOffLen = kCheckpointSlotSeqSize;
constexpr size_t kSlotOffPayload = kSlotOffLen + kCheckpointSlotLenSize;
constexpr size_t SlotCrcOffset(size_t cap) { return kSlotOffPayload + cap; }
static_assert(CheckpointSlotLen(0) == kCheckpointSlotOverhead);

// Cursor snapshot: version u8 | committed u64 | n x (start u64, end u64) | CRC32C u32.
constexpr size_t kSnapVersionSize = 1;
constexpr size_t kCursorOffCommitted = kSnapVersionSize;
constexpr size_t kCursorOffRanges = kCursorOffCommitted + 8;
constexpr size_t kCursorRangeSize = 16;
constexpr size_t kSnapCrcSize = 4;
static_assert(kCursorOffRanges + kSnapCrcSize == kCursorSnapshotMinSize);

// Attempts snapshot: version u8 | count u32 | count x (offset u64, attempt u32) | CRC32C u32.
constexpr size_t kAttemptsOffCount = kSnapVersionSize;
constexpr size_t kAttemptsOffPairs = kAttemptsOffCount + 4;
constexpr size_t kAttemptsPairSize = 12;
static_assert(kAttemptsOffPairs + kSnapCrcSize == kAttemptsSnapshotMinSize);

// Layout marker: "IBDD" | version u32.
constexpr size_t kLayoutMarkerSize = sizeof(kLayoutMagic) + 4;

struct SlotView {
  bool valid = false;
  uint64_t seq = 0;
  ByteView payload;
};

SlotView ReadSlot(const uint8_t* slot, size_t cap) {
  SlotView v;
  v.seq = DecodeFixed64(slot + kSlotOffSeq);
  const uint16_t len = DecodeFixed16(slot + kSlotOffLen);
  // seq 0 is a never-written slot (the first write goes to slot 1, leaving slot 0 zero).
  if (v.seq == 0 || len > cap) return v;
  if (crc32c::Value(slot, kSlotOffPayload + len) != DecodeFixed32(slot + SlotCrcOffset(cap))) return v;
  v.valid = true;
  v.payload = ByteView(slot + kSlotOffPayload, len);
  return v;
}

void AppendSnapshotCrc(Bytes* out) { PutFixed32(out, crc32c::Value(*out)); }

// True when the last 4 bytes are the CRC32C of everything before them.
bool SnapshotCrcMatches(ByteView payload) {
  const size_t body = payload.size() - kSnapCrcSize;
  return crc32c::Value(payload.data(), body) == DecodeFixed32(payload.data() + body);
}

}  // namespace

Result<Bytes> EncodeCheckpointSlot(uint64_t seq, ByteView payload, size_t cap) {
  if (seq == 0) return Status::InvalidArgument("checkpoint slot seq 0 means never written");
  if (payload.size() > cap) {
    return Status::InvalidArgument("checkpoint payload of " + std::to_string(payload.size()) +
                                   " bytes exceeds the slot capacity " + std::to_string(cap));
  }
  if (payload.size() > std::numeric_limits<uint16_t>::max()) {
    return Status::InvalidArgument("checkpoint payload longer than a u16 length field");
  }
  Bytes slot(CheckpointSlotLen(cap), 0);
  EncodeFixed64(slot.data() + kSlotOffSeq, seq);
  EncodeFixed16(slot.data() + kSlotOffLen, static_cast<uint16_t>(payload.size()));
  if (!payload.empty()) std::memcpy(slot.data() + kSlotOffPayload, payload.data(), payload.size());
  EncodeFixed32(slot.data() + SlotCrcOffset(cap), crc32c::Value(slot.data(), kSlotOffPayload + payload.size()));
  return slot;
}

std::optional<CheckpointValue> DecodeCheckpointFile(ByteView file, size_t cap) {
  // A short file is one whose creation or first write was torn: neither slot is trusted.
  if (file.size() < CheckpointFileLen(cap)) return std::nullopt;
  const SlotView s0 = ReadSlot(file.data(), cap);
  const SlotView s1 = ReadSlot(file.data() + CheckpointSlotLen(cap), cap);
  const SlotView* winner = nullptr;
  if (s0.valid && (!s1.valid || s0.seq >= s1.seq)) {
    winner = &s0;  // ties go to slot 0
  } else if (s1.valid) {
    winner = &s1;
  }
  if (winner == nullptr) return std::nullopt;
  return CheckpointValue{winner->seq, Bytes(winner->payload.begin(), winner->payload.end())};
}

Bytes EncodeCursorSnapshot(const CursorSnapshot& s, size_t cap) {
  // Keep the lowest ranges that fit (the spec leaves the choice open; dropping an ahead range
  // only causes redelivery). `acked_ahead` is sorted, so the lowest are the first.
  const size_t room = cap > kCursorSnapshotMinSize ? cap - kCursorSnapshotMinSize : 0;
  const size_t n = std::min(s.acked_ahead.size(), room / kCursorRangeSize);
  Bytes out;
  out.reserve(kCursorSnapshotMinSize + n * kCursorRangeSize);
  out.push_back(kCursorSnapshotVersion);
  PutFixed64(&out, s.committed);
  for (size_t i = 0; i < n; ++i) {
    PutFixed64(&out, s.acked_ahead[i].first);
    PutFixed64(&out, s.acked_ahead[i].second);
  }
  AppendSnapshotCrc(&out);
  return out;
}

CursorSnapshot DecodeCursorSnapshot(ByteView payload) {
  CursorSnapshot s;
  if (payload.size() < kCursorSnapshotMinSize) {
    // Legacy format: a bare committed offset, little-endian, missing high bytes read as 0.
    for (size_t i = 0; i < payload.size() && i < 8; ++i) s.committed |= uint64_t{payload[i]} << (8 * i);
    return s;
  }
  s.committed = DecodeFixed64(payload.data() + kCursorOffCommitted);
  const size_t ranges_bytes = payload.size() - kCursorSnapshotMinSize;
  // Anything malformed keeps only the committed value: a broken range set is never restored.
  if (payload[0] != kCursorSnapshotVersion || ranges_bytes % kCursorRangeSize != 0 ||
      !SnapshotCrcMatches(payload)) {
    return s;
  }
  uint64_t floor = s.committed;  // every range starts above committed and above the previous end
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  ranges.reserve(ranges_bytes / kCursorRangeSize);
  for (size_t off = kCursorOffRanges; off < kCursorOffRanges + ranges_bytes; off += kCursorRangeSize) {
    const uint64_t start = DecodeFixed64(payload.data() + off);
    const uint64_t end = DecodeFixed64(payload.data() + off + 8);
    // Sorted, disjoint and non-adjacent: start > previous end (or > committed), start < end.
    if (start <= floor || end <= start) return s;
    ranges.emplace_back(start, end);
    floor = end;
  }
  s.acked_ahead = std::move(ranges);
  return s;
}

Result<Bytes> EncodeAttemptsSnapshot(const AttemptsSnapshot& s, size_t cap) {
  const uint64_t size = kAttemptsSnapshotMinSize + uint64_t{kAttemptsPairSize} * s.attempts.size();
  if (size > cap || s.attempts.size() > std::numeric_limits<uint32_t>::max()) {
    return Status::InvalidArgument("attempts snapshot of " + std::to_string(s.attempts.size()) +
                                   " entries does not fit " + std::to_string(cap) + " bytes");
  }
  for (size_t i = 1; i < s.attempts.size(); ++i) {
    if (s.attempts[i].first <= s.attempts[i - 1].first) {
      return Status::InvalidArgument("attempts snapshot offsets must be strictly ascending");
    }
  }
  Bytes out;
  out.reserve(size);
  out.push_back(kAttemptsSnapshotVersion);
  PutFixed32(&out, static_cast<uint32_t>(s.attempts.size()));
  for (const auto& [offset, attempt] : s.attempts) {
    PutFixed64(&out, offset);
    PutFixed32(&out, attempt);
  }
  AppendSnapshotCrc(&out);
  return out;
}

std::optional<AttemptsSnapshot> DecodeAttemptsSnapshot(ByteView payload) {
  if (payload.size() < kAttemptsSnapshotMinSize || payload[0] != kAttemptsSnapshotVersion) return std::nullopt;
  const uint32_t count = DecodeFixed32(payload.data() + kAttemptsOffCount);
  // The count is checked against the bytes present before anything is reserved.
  if (payload.size() != kAttemptsSnapshotMinSize + uint64_t{kAttemptsPairSize} * count) return std::nullopt;
  if (!SnapshotCrcMatches(payload)) return std::nullopt;
  AttemptsSnapshot s;
  s.attempts.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    const uint8_t* p = payload.data() + kAttemptsOffPairs + i * kAttemptsPairSize;
    const uint64_t offset = DecodeFixed64(p);
    if (!s.attempts.empty() && offset <= s.attempts.back().first) return std::nullopt;
    s.attempts.emplace_back(offset, DecodeFixed32(p + 8));
  }
  return s;
}

Bytes EncodeLayoutMarker(uint32_t version) {
  Bytes out(kLayoutMagic, kLayoutMagic + sizeof(kLayoutMagic));
  PutFixed32(&out, version);
  return out;
}

std::optional<uint32_t> DecodeLayoutMarker(ByteView payload) {
  // Wrong length or magic in a CRC-valid slot counts as absent (spec 7.6).
  if (payload.size() != kLayoutMarkerSize) return std::nullopt;
  if (std::memcmp(payload.data(), kLayoutMagic, sizeof(kLayoutMagic)) != 0) return std::nullopt;
  return DecodeFixed32(payload.data() + sizeof(kLayoutMagic));
}

}  // namespace ironbus::format
