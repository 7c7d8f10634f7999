// Two-slot checkpoint file format and the payloads stored in it (spec/storage.md section 7).
// Pure byte code; storage/checkpoint_file.h does the I/O.
//
// A write goes to slot (seq % 2), so a torn write can lose only the newest value, never
// produce a torn or invented one.
#pragma once

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"

namespace ironbus::format {

inline constexpr size_t CheckpointSlotLen(size_t cap) { return 14 + cap; }
inline constexpr size_t CheckpointFileLen(size_t cap) { return 2 * CheckpointSlotLen(cap); }

// One encoded slot of SlotLen(cap) bytes. InvalidArgument when payload exceeds cap or seq == 0.
Result<Bytes> EncodeCheckpointSlot(uint64_t seq, ByteView payload, size_t cap);

struct CheckpointValue {
  uint64_t seq = 0;
  Bytes payload;
};
// Picks the winning slot of a whole file image: valid = seq != 0, len <= cap, CRC matches;
// the higher seq wins, slot 0 on a tie. A file shorter than FileLen(cap): no valid slot.
// nullopt = "no value".
std::optional<CheckpointValue> DecodeCheckpointFile(ByteView file, size_t cap);

// Cursor snapshot: version 1 | committed u64 | n x (start u64, end u64) | CRC32C u32.
struct CursorSnapshot {
  uint64_t committed = 0;
  std::vector<std::pair<uint64_t, uint64_t>> acked_ahead;  // half-open, sorted, disjoint, > committed
  friend bool operator==(const CursorSnapshot&, const CursorSnapshot&) = default;
};
// Keeps the lowest ranges that fit in `cap` (dropping ahead ranges only causes redelivery).
Bytes EncodeCursorSnapshot(const CursorSnapshot& s, size_t cap = 64);
// Legacy payloads (< 13 bytes): the first 8 bytes are committed (missing bytes read as 0).
// A bad CRC or malformed range set keeps only the leading committed value.
CursorSnapshot DecodeCursorSnapshot(ByteView payload);

// Attempts snapshot: version 1 | count u32 | count x (offset u64, attempt u32) | CRC32C u32.
struct AttemptsSnapshot {
  std::vector<std::pair<uint64_t, uint32_t>> attempts;  // strictly ascending offset
  friend bool operator==(const AttemptsSnapshot&, const AttemptsSnapshot&) = default;
};
Result<Bytes> EncodeAttemptsSnapshot(const AttemptsSnapshot& s, size_t cap = 32768);
std::optional<AttemptsSnapshot> DecodeAttemptsSnapshot(ByteView payload);

// Layout marker payload: "IBDD" | version u32.
Bytes EncodeLayoutMarker(uint32_t version);
std::optional<uint32_t> DecodeLayoutMarker(ByteView payload);  // nullopt = absent/foreign

}  // namespace ironbus::format
