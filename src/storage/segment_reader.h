// SegmentReader: reads the valid records of ONE segment, in order, from a given offset
// (spec/storage.md 4, DESIGN.md D1). It only unframes; it never truncates or repairs.
//
// What it reads: frames in [64, byte_limit), where byte_limit is the durable (or, under a
// relaxed durability level, the written) end the Log hands it; bytes past it may be pending
// or torn and are never looked at. SkippedSpans recovery reported are stepped over, so the
// offsets inside them are simply absent (a hole). An unreadable segment yields nothing.
//
// Every frame is fully checked (format::DecodeRecord: header CRC, lengths, body CRC, xxh3)
// before it is returned, and its seq must continue the segment. Bytes that rotted after the
// log was opened therefore become a typed Corruption error for this read, never a crash and
// never a wrong record. A Corruption is sticky for this reader (it does not guess where the
// next frame starts; that is recovery's job at the next open).
//
// Memory and I/O: a read-ahead window of at most kReadWindowBytes (never past byte_limit),
// plus one frame when a frame is larger than the window. Small frames are decoded straight
// from the window, so a sequential read costs one pread per window, not per record. The
// frame length is trusted only after the header CRC passed and it fits inside byte_limit.
//
// Seeking uses the sparse index anchors (log_state.h) to start at most about
// kSparseIndexStrideBytes before the wanted offset, then steps over earlier frames by their
// header alone (mostly inside the same window).
//
// Encrypted segments (spec/security.md 5.5): after the header CRC, body CRC and xxh3 checks
// of DecodeRecord, each record is opened with the segment's suite and key id from `keys` and
// the nonce (segment id, seq - base_seq). A record whose flag disagrees with its segment, a
// key id `keys` lacks, or a failed tag is a typed Corruption error for this read, never a
// record: no byte of a record that failed to open is returned.
//
// Lifetime and thread safety: `file`, `state` and `keys` must outlive the reader. A reader is used
// by one thread; many readers may share one io::File (ReadAt is thread-safe).
#pragma once

#include <cstdint>

#include "base/bytes.h"
#include "base/result.h"
#include "format/key_ring.h"
#include "format/record.h"
#include "io/file_system.h"
#include "storage/log_state.h"

namespace ironbus::storage {

inline constexpr uint64_t kReadWindowBytes = 64 * 1024;

// One record as read. `record` views into the reader's buffers: valid until the next
// Seek/Next call or the reader's destruction.
struct SegmentRecord {
  uint64_t offset = 0;
  uint64_t byte_pos = 0;   // start of the frame in the segment file
  uint64_t frame_len = 0;  // whole frame, header to trailer
  format::RecordView record;
};

class SegmentReader {
 public:
  ~SegmentReader();
  // byte_limit is clamped to state.valid_end.
  SegmentReader(io::File* file, const SegmentState* state, uint64_t byte_limit,
                const format::KeyRing* keys = nullptr);
  SegmentReader(const SegmentReader&) = delete;
  SegmentReader& operator=(const SegmentReader&) = delete;

  // Positions the reader so that Next() returns the first valid record whose offset is
  // >= `offset` (an offset inside a hole moves to the next valid record). Offsets below the
  // segment's base start at the first record. Corruption/IOError when a frame on the way
  // fails its header checks.
  Status Seek(uint64_t offset);
  // Seek for a sequential reader that knows where `offset` was: starts at `byte_pos` when the
  // frame there probes as `offset`, and otherwise falls back to Seek (a stale or wrong hint
  // costs one probe, never an error of its own).
  Status SeekNear(uint64_t offset, uint64_t byte_pos);

  // Reads the next record into *out. Returns false at byte_limit (no more records).
  Result<bool> Next(SegmentRecord* out);

  // Byte position of the next frame to read.
  uint64_t position() const { return pos_; }
  // Offset the next record would have if no hole intervenes: one past the last record
  // returned or stepped over (the segment's base before any).
  uint64_t next_offset() const { return next_offset_; }

 private:
  // Moves pos_ past any SkippedSpan it falls in.
  void SkipSpans();
  // Reads and probes the frame header at pos_; *total gets its length.
  Status ProbeAt(uint64_t* total, uint64_t* seq);
  // Bytes [pos, pos + n) (inside the limit): from the window, refilling it at `pos` when
  // needed, or read into frame_ when n exceeds the window.
  Result<ByteView> Fetch(uint64_t pos, uint64_t n);
  Status Corrupt(std::string what);

  io::File* file_;
  const SegmentState* state_;
  uint64_t limit_;
  uint64_t pos_;
  uint64_t next_offset_;
  size_t span_index_ = 0;  // first SkippedSpan that may still lie ahead of pos_
  Bytes window_;               // file bytes [window_start_, window_start_ + window_.size())
  uint64_t window_start_ = 0;
  Bytes frame_;                // a frame larger than the window
  const format::KeyRing* keys_;
  Bytes plain_;                // the opened body of the last encrypted record returned
  Status error_;
};

}  // namespace ironbus::storage
