// storage::Log: the segment set of one data directory (spec/storage.md 4, 12, 13). It owns
// which segment is active, rolls at size, deletes old segments for retention, maps offsets
// to segments for readers, and freezes for good when a write, sync, seal or create fails.
// Recovery decides what is valid before the log opens (LogState); the log never repairs.
//
// Writer side (Append, Flush, Sync, Close, ApplyRetention): one appending thread, the
// storage::Appender's in the broker. The calls are serialized by an internal mutex, so a
// second thread (a tool, a test) is safe, but offsets are assigned in call order.
//
// What is durable when (docs/durability.md):
//   Append  assigns the next offset and seq and buffers the frame. Not written, not durable,
//           not readable. A record refused here (too large, bad compressed shape, log frozen,
//           at capacity) consumes no offset.
//   Flush   writes buffered frames to the OS (one WriteAt). Survives a process crash, not a
//           power cut. Under kInterval/kNone they become readable here.
//   Sync    Flush + fdatasync. Every appended record is durable when it returns Ok; under
//           kSync they become readable here (consumers never see an undurable record).
//   a roll  seals the full segment (footer + fsync): a barrier in every level, so everything
//           appended before it is durable, then creates the next segment (ids +1, never reused).
//   Close   final Sync (clean shutdown); the active segment stays unsealed.
// A failed WriteAt, Sync, seal or segment create freezes the log: that call returns the
// cause, every later writer call returns FailedPrecondition("log frozen: <cause>"), the sync
// is never retried (fsyncgate), and reads of already-readable records keep working.
// ENOSPC while preallocating a new segment is not a failure but "at capacity": the append
// gets Unavailable, no segment is installed, and the next append tries again.
//
// Capacity (spec/storage.md 12.5, consumers.md 12.2; docs/config.md "Disk full"): Append
// refuses with Unavailable("at capacity: ...") before anything is written when the log holds
// max_total_bytes of records or more, or when the data directory's file system has fewer
// than min_free_bytes available (statvfs, re-read after every ~1 MiB appended and on every
// refusal). MakeRoom is what the appender runs then; the policy decides what it may delete.
//
// Reader side (Read and every accessor): any thread, concurrently with the writer. Readers
// see only published records: up to durable_offset() under kSync, up to the written head
// under kInterval/kNone (readable_offset()). They read through their own read-only handles.
//
// Lock order (docs/locking.md): write_mu_ -> mu_. Readers take mu_ shared, only to copy a
// snapshot; no file I/O happens under mu_.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/clock.h"
#include "base/result.h"
#include "format/record.h"
#include "io/file_system.h"
#include "storage/log_options.h"
#include "storage/log_state.h"
#include "storage/segment_writer.h"

namespace ironbus::storage {

// One record to append; the views must stay valid for the duration of Append.
struct AppendRecord {
  ByteView key;
  ByteView headers;
  ByteView payload;
  uint8_t flags = 0;         // only format::kFlagCompressed is honoured (producer-compressed)
  int64_t timestamp_ms = 0;  // 0 = the clock's now
};

// A record read back, owned.
struct LogRecord {
  uint64_t offset = 0;
  uint64_t frame_len = 0;  // bytes the frame takes in the segment
  format::Record record;   // the stored record (payload still compressed if COMPRESSED)
};

struct ReadBatch {
  std::vector<LogRecord> records;  // ascending offsets; holes are simply absent
  // Where the next Read should start: past the last record returned, or the readable head
  // when the read reached it.
  uint64_t next_offset = 0;
};

// Where a sequential reader stopped inside a segment, so its next Read starts at that byte
// instead of seeking from the sparse index (which steps over up to kSparseIndexStrideBytes of
// frame headers). Only a hint: Read uses it when `offset` and `segment_id` match and the frame
// there probes as that offset, and otherwise seeks as usual.
struct ReadPosition {
  uint64_t segment_id = 0;
  uint64_t offset = 0;    // the offset of the frame at byte_pos
  uint64_t byte_pos = 0;  // 0 = no position
};

struct SegmentInfo {
  uint64_t id = 0;
  uint64_t base_offset = 0;
  uint64_t end_offset = 0;    // one past the last offset covered (holes included)
  uint64_t record_count = 0;  // readable records
  uint64_t record_bytes = 0;  // readable record bytes (DurableRecordBytes of the published state)
  int64_t max_timestamp_ms = 0;
  bool sealed = false;
  bool active = false;
  bool unreadable = false;
};

struct LogStats {
  uint64_t segment_count = 0;
  uint64_t record_count = 0;
  uint64_t record_bytes = 0;
  uint64_t first_offset = 0;
  uint64_t durable_offset = 0;
  uint64_t readable_offset = 0;
};

struct RetentionResult {
  uint64_t segments_deleted = 0;  // every deletion, force-reaped ones included
  uint64_t records_deleted = 0;
  uint64_t bytes_deleted = 0;
  // Of those, segments deleted by drop-oldest although some group had not consumed them.
  uint64_t force_reaped_segments = 0;
  uint64_t force_reaped_records = 0;
};

class Log {
 public:
  // Opens the log recovery described. Creates the active segment when there is none (fresh
  // directory: no segments, next_offset = next_seq = 0), when state.needs_new_active_segment
  // is set, or when the last segment is sealed or unreadable (roll forward) — unless
  // state.frozen, in which case the log only serves reads. A create that meets ENOSPC leaves
  // the log open without an active segment (the next Append retries).
  // InvalidArgument for bad options or an inconsistent state. `fs` and `clock` must outlive
  // the log.
  static Result<std::unique_ptr<Log>> Open(io::FileSystem* fs, LogState state, const LogOptions& options,
                                           Clock* clock);
  ~Log();  // closes files; does not sync (call Close() for a clean shutdown)
  Log(const Log&) = delete;
  Log& operator=(const Log&) = delete;

  // ---- writer side ----

  // Returns the offset assigned to the record (buffered; see the contract above).
  // OutOfRange: frame above max_record_bytes, or seq/offset exhausted. InvalidArgument: a
  // COMPRESSED payload that fails the shape check, or unknown flag bits. Unavailable: at
  // capacity (new segment could not be preallocated). FailedPrecondition: frozen.
  Result<uint64_t> Append(const AppendRecord& record);
  Status Flush();
  Status Sync();
  Status Close();

  // Deletes whole sealed segments, oldest first, while some enabled retention bound selects
  // the oldest and every one of its offsets is below `protect_floor_offset` (the minimum
  // committed offset over all groups). Stops at the first segment that is not eligible, so
  // only a prefix goes; never the last (active) segment. Per segment: unlink, fsync the
  // directory, then update memory. An unlink or directory-fsync error stops, leaves memory as
  // it was and is returned; the log does not freeze (acked data is not at risk), and the next
  // call retries (a file already gone counts as removed). FailedPrecondition when frozen or
  // closed: nothing is deleted then.
  Result<RetentionResult> ApplyRetention(uint64_t protect_floor_offset);

  // Frees room while the log is at capacity (byte cap or free-disk watermark), oldest sealed
  // segment first and only a prefix, like ApplyRetention: a segment every group consumed
  // (all offsets below `protect_floor_offset`) goes under every policy; under kDropOldest an
  // unconsumed one goes too (counted as force-reaped). When only the active segment is left
  // and every group consumed it, it is rolled (sealed) so it can go. Returns what it deleted;
  // the caller retries the append. Errors as ApplyRetention.
  Result<RetentionResult> MakeRoom(uint64_t protect_floor_offset);

  // The running retention bounds and capacity; Set* apply from the next append or retention
  // pass (SIGHUP reload). Safe from any thread.
  void SetRetention(const RetentionOptions& retention);
  void SetCapacity(const CapacityOptions& capacity);
  RetentionOptions retention() const;
  CapacityOptions capacity() const;

  // Record bytes the log holds, appended-but-unsynced included: what max_total_bytes counts.
  uint64_t total_record_bytes() const;
  // The last free-space reading of the watermark check; UINT64_MAX before the first one
  // (min_free_bytes 0 never reads it).
  uint64_t last_available_bytes() const;
  // Whether the last capacity check (an append, MakeRoom, SetCapacity) found the log at
  // capacity: what /readyz reports. Lock-free.
  bool at_capacity() const { return at_capacity_.load(std::memory_order_relaxed); }
  // statvfs of the data directory now (for /metrics); takes no lock.
  Result<uint64_t> AvailableBytesNow() const { return fs_->AvailableBytes(dir_); }

  // Record bytes written to the OS but not yet fdatasync'd (the kInterval byte trigger).
  uint64_t unsynced_bytes() const;
  // The offset the next Append would get.
  uint64_t next_offset() const;

  // ---- reader side: any thread ----

  // Up to max_records records (at least one if any is readable, even above max_bytes),
  // stopping before the total frame bytes would exceed max_bytes, starting at the first
  // readable record at or after `offset`. OutOfRange if `offset` is below first_offset()
  // (retention removed it) or above readable_offset(). Corruption if a frame fails its
  // checks before any record was collected (records collected before it are returned).
  // `position`, if given, is read as a hint for where `offset` lies and set to where this
  // read stopped (byte_pos 0 when it did not stop inside a readable segment).
  Result<ReadBatch> Read(uint64_t offset, size_t max_records, uint64_t max_bytes,
                         ReadPosition* position = nullptr) const;

  uint64_t first_offset() const;     // oldest retained offset
  uint64_t durable_offset() const;   // next offset after the last fdatasync'd record
  uint64_t readable_offset() const;  // what Read serves up to (== durable_offset under kSync)
  LogStats stats() const;
  std::vector<SegmentInfo> segments() const;
  bool frozen() const;
  Status frozen_status() const;  // Ok, or FailedPrecondition("log frozen: <cause>")
  const LogOptions& options() const { return options_; }
  const std::string& dir() const { return dir_; }

 private:
  // One segment as readers see it: an immutable published state and a read-only handle.
  struct Published {
    std::shared_ptr<const SegmentState> state;
    std::shared_ptr<io::File> file;  // null for an unreadable segment
  };

  Log(io::FileSystem* fs, std::string dir, const LogOptions& options, Clock* clock);

  // All REQUIRE write_mu_ held.
  Status CheckWritable() const;
  Status Freeze(const Status& cause);
  Status CreateActive();  // next id, continuing next_offset_/next_seq_
  Status Roll();
  // Publishes the active writer's state at `mark`; `durable` also moves durable_offset_.
  void PublishActive(const SegmentMark& mark, bool durable);
  uint64_t TotalRecordBytesLocked() const;
  // Sums the record bytes of every segment but the last into inactive_record_bytes_; called
  // whenever the segment list changes shape.
  void RecountInactiveBytesLocked();
  // Ok, or Unavailable("at capacity: ...") naming the bound. `force_disk_check` re-reads the
  // free space now instead of after the next ~1 MiB.
  Status CheckCapacityLocked(bool force_disk_check);
  Status CapacityStatusLocked(bool force_disk_check);  // the check without updating at_capacity_
  // Unlinks the oldest segment, fsyncs the directory, then drops it from memory.
  Status DeleteOldestLocked(RetentionResult* result);

  io::FileSystem* const fs_;
  const std::string dir_;
  const LogOptions options_;
  Clock* const clock_;

  // Writer state, guarded by write_mu_.
  mutable std::mutex write_mu_;
  std::unique_ptr<SegmentWriter> active_;  // null when frozen, closed or awaiting a create
  uint64_t next_id_ = 0;      // id of the next segment to create
  uint64_t next_offset_ = 0;  // offset the next append gets
  uint64_t next_seq_ = 0;     // seq the next append gets
  bool closed_ = false;
  Bytes scratch_;  // frame encoding buffer
  RetentionOptions retention_;
  CapacityOptions capacity_;
  uint64_t inactive_record_bytes_ = 0;   // every segment but the last
  uint64_t bytes_since_disk_check_ = 0;  // appended since the last statvfs
  bool below_watermark_ = false;         // the last reading was under min_free_bytes
  std::atomic<uint64_t> available_bytes_{UINT64_MAX};
  std::atomic<bool> at_capacity_{false};

  // Published state, guarded by mu_ (written only with write_mu_ also held).
  mutable std::shared_mutex mu_;
  std::vector<Published> segments_;
  uint64_t durable_offset_ = 0;
  uint64_t readable_offset_ = 0;
  Status frozen_;  // ok while writable
};

}  // namespace ironbus::storage
