// SegmentWriter: appends already-framed records to ONE segment file (spec/storage.md 4.5).
//
// It owns the write protocol of a segment, not the policy: it never decides when to sync or
// when to roll (that is storage::Log and storage::Appender, STYLE.md section 5).
//
//   Create  exclusive create, 64-byte header at 0, fdatasync, fsync of the directory, then a
//           best-effort keep-size preallocation of `preallocate_bytes` (spec 4.6). ENOSPC at
//           preallocation means "at capacity": the new file is removed (and the removal made
//           durable) and Create returns Unavailable; nothing was installed.
//   Reopen  resumes the active segment recovery described, writing at its valid_end.
//   Append  copies a frame into the pending buffer; nothing reaches the file yet, unless
//           kPendingFlushBytes are pending, when the buffer is written out (Flush).
//   Flush   writes every pending byte with ONE positional WriteAt at the flushed position.
//           After it the bytes survive a process crash, not a power cut.
//   Sync    Flush, then fdatasync: every appended frame is durable when it returns Ok.
//   Seal    Flush, the 32-byte footer right after the last frame, then fsync (full). A
//           sealed file is exactly 64 + record bytes + 32 long. No append after a seal.
//
// After any failed WriteAt, Sync or Seal the writer is broken for good: every later call
// returns the same error (the file's state is unknown; a failed sync is never retried).
//
// Progress is tracked as three marks (appended >= flushed >= synced). A mark carries the
// record count, last seq, max timestamp, next offset and sparse-index length at that byte
// position, so the Log can publish exactly the synced (or flushed) prefix to readers with
// StateAt(mark).
//
// Thread safety: none. One thread (the log's writer) uses a SegmentWriter at a time.
// Crash points: segment.after_create, segment.after_header_sync.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"
#include "io/file_system.h"
#include "storage/log_state.h"

namespace ironbus::storage {

// Pending frames are written out once this many bytes wait (spec 18, "writer pending buffer
// spill"). A writer tuning, not an on-disk constant.
inline constexpr uint64_t kPendingFlushBytes = 256 * 1024;

// The segment as of one byte position.
struct SegmentMark {
  uint64_t byte_pos = 0;       // end of the last frame covered (>= 64)
  uint64_t record_count = 0;   // valid records before byte_pos
  bool has_records = false;
  uint64_t last_seq = 0;       // meaningful with has_records
  int64_t max_timestamp_ms = 0;
  uint64_t end_offset = 0;     // next offset after the covered records (holes included)
  size_t index_size = 0;       // sparse-index anchors below byte_pos
};

class SegmentWriter {
 public:
  struct CreateParams {
    std::string dir;
    uint64_t id = 0;
    uint64_t base_seq = 0;
    uint64_t base_offset = 0;
    int64_t created_unix_ms = 0;
    uint64_t preallocate_bytes = 0;  // 0 = do not preallocate
    // At-rest encryption: a non-zero suite and key id set SEGMENT_ENCRYPTED in the header.
    uint8_t aead_suite = 0;
    uint64_t key_id = 0;
  };

  // Creates a new segment file (steps 1-5 of spec 4.5; step 6, install, is the caller's).
  // Unavailable = at capacity (ENOSPC at preallocation; the file is gone again). Any other
  // error leaves the directory in an unknown state: the caller must freeze.
  // `fs` must outlive the writer.
  static Result<std::unique_ptr<SegmentWriter>> Create(io::FileSystem* fs, const CreateParams& params);

  // Reopens the unsealed segment `state` (from recovery) for appending at state.valid_end.
  // FailedPrecondition if it is sealed or unreadable, or if the file is not exactly
  // valid_end bytes long (recovery truncates a torn tail before the log opens).
  static Result<std::unique_ptr<SegmentWriter>> Reopen(io::FileSystem* fs, const std::string& dir,
                                                       const SegmentState& state);

  ~SegmentWriter();
  SegmentWriter(const SegmentWriter&) = delete;
  SegmentWriter& operator=(const SegmentWriter&) = delete;

  // Appends one encoded frame. Its seq (read from the frame header) must be next_seq(), and
  // the frame at least a minimal frame: a breach is a CHECK failure (it would write bad bytes).
  // Returns an error only when the 256 KiB spill write failed.
  Status Append(ByteView frame);

  Status Flush();  // one WriteAt of everything pending
  Status Sync();   // Flush + fdatasync
  Status Seal();   // Flush + footer + fsync; the writer accepts no more appends
  // Closes the file handle without flushing (pending bytes are dropped). Idempotent.
  Status Close();

  uint64_t id() const { return state_.id; }
  const std::string& path() const { return path_; }
  uint64_t base_offset() const { return state_.base_offset; }
  uint64_t base_seq() const { return state_.base_seq; }
  uint8_t aead_suite() const { return state_.aead_suite; }  // 0 = plaintext segment
  uint64_t key_id() const { return state_.key_id; }
  // The seq the next frame must carry; the offset it will get.
  uint64_t next_seq() const;
  uint64_t next_offset() const { return appended_.end_offset; }
  // Write position including pending bytes (the roll rule compares it with the cap).
  uint64_t write_pos() const { return appended_.byte_pos; }
  uint64_t pending_bytes() const { return pending_.size(); }
  bool sealed() const { return sealed_; }
  const Status& error() const { return error_; }  // sticky; ok while healthy

  const SegmentMark& appended_mark() const { return appended_; }
  const SegmentMark& flushed_mark() const { return flushed_; }
  const SegmentMark& synced_mark() const { return synced_; }

  // The segment as it stands at `mark` (one of the three above): counts, index anchors and
  // valid_end limited to it. sealed/file_len reflect the file after Seal().
  SegmentState StateAt(const SegmentMark& mark) const;

 private:
  SegmentWriter(io::FileSystem* fs, std::string path, std::unique_ptr<io::File> file, SegmentState state);
  Status Fail(Status s);

  io::FileSystem* fs_;
  std::string path_;
  std::unique_ptr<io::File> file_;
  SegmentState state_;            // base values, recovered spans, and every index anchor
  uint64_t last_anchor_pos_ = 0;  // byte position of the newest anchor (or of the first frame)
  Bytes pending_;
  SegmentMark appended_;
  SegmentMark flushed_;
  SegmentMark synced_;
  bool sealed_ = false;
  Status error_;
};

}  // namespace ironbus::storage
