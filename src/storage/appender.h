// storage::Appender: the one thread that appends to a Log, with group commit (spec/storage.md
// 12.3; the Syncer of STYLE.md section 5). Producers hand it requests; it frames them, writes
// them, syncs once per batch, and completes each request with its offset.
//
// The loop: take EVERY request queued right now (no count or byte cap, no added linger),
// append each to the log (framing + CRC), write them out with one WriteAt, then
//   kSync      ONE fdatasync for the whole batch, then complete every request of the batch.
//              A completion never fires before the fdatasync covering its record returned:
//              an Ok completion means the record is on disk (invariant I2).
//   kInterval  complete after the write (records are in the OS cache); fdatasync when
//              flush_max_bytes of unsynced bytes accumulated or flush_interval_ms (clock's
//              monotonic time) passed since the first unsynced write, checked after each
//              batch and by a timed wake-up while idle.
//   kNone      complete after the write; fdatasync only at a segment seal and at Stop().
// Then, if a retention floor provider is set, retention runs (Log::ApplyRetention).
//
// Refusals: a request the log refuses before appending it (too large, malformed compressed
// payload, at capacity) is completed with that typed error and consumes no offset; the rest
// of the batch goes on. "At capacity" (Unavailable: the byte cap, the free-disk watermark or
// ENOSPC at a segment create) first runs Log::MakeRoom with the retention floor and retries
// once when that deleted something; if the log is still full, the request and the rest of the batch are shed with that
// error (drop-new, drop-oldest), or, under disk_full_policy block, the request is held: the
// requests before it are committed and completed, and the appender retries every 50 ms for
// at most block_timeout_ms before refusing it and the rest of the batch. A failed write, sync, seal or segment create freezes the log for
// good: every request of the batch that was not yet acknowledged is completed with the
// cause (never Ok), every later request gets FailedPrecondition("log frozen: <cause>"), and
// the sync is never retried. Reads of records already readable keep working.
//
// Queue: bounded (default 1024 requests). TrySubmit refuses with Unavailable when full (load
// shedding at the edge); Submit blocks until there is room (backpressure).
//
// Completions run on the appender thread, one at a time, in offset order within a batch.
// They must be short and must not call back into the Appender (Submit could deadlock on a
// full queue): the server posts each completion to its io_context and returns.
// A Submit/TrySubmit that returns Ok has its completion called exactly once; one that returns
// an error never has it called.
//
// Thread safety: Submit, TrySubmit, Stop and the accessors may be called from any thread.
// The Log must outlive the Appender; while an Appender runs, nothing else calls the Log's
// writer side. Lock order (docs/locking.md): queue_mu_ is a leaf; it is never held while
// calling the Log or a completion.
// Crash points: appender.after_write_before_sync, appender.after_sync_before_ack.
#pragma once

#include <array>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "base/bytes.h"
#include "base/clock.h"
#include "base/result.h"
#include "storage/log.h"

namespace ironbus::storage {

struct AppendRequest {
  Bytes key;
  Bytes headers;
  Bytes payload;
  uint8_t flags = 0;         // format::kFlagCompressed passes a producer-compressed payload through
  int64_t timestamp_ms = 0;  // 0 = the clock's now at append
};

// Called once with the record's offset, or the reason it was not appended / not durable.
using Completion = std::function<void(Result<uint64_t> offset)>;

struct AppenderOptions {
  size_t queue_capacity = 1024;
  // When set, called on the appender thread after each batch that made records durable; its
  // value (the minimum committed offset over all consumer groups) protects segments from
  // retention. Unset: the appender never runs retention.
  std::function<uint64_t()> retention_floor;
  // When set, called on the appender thread after each batch that appended records (the
  // readable head may have moved). Must be short: the broker posts a wake-up for consumers
  // waiting on new records.
  std::function<void()> on_appended;
};

// Upper bounds (ns) of the fdatasync latency buckets: the fixed buckets of
// ironbus_fsync_duration_seconds (spec/cli-config-ops.md 6.2); one more bucket holds the rest.
inline constexpr std::array<uint64_t, 13> kSyncBucketBoundsNs = {
    500'000,     1'000'000,   2'000'000,   5'000'000,     10'000'000,    20'000'000,   50'000'000,
    100'000'000, 200'000'000, 500'000'000, 1'000'000'000, 2'000'000'000, 5'000'000'000};

struct AppenderStats {
  uint64_t batches = 0;       // batches that appended at least one record
  uint64_t records = 0;       // records appended
  uint64_t syncs = 0;         // fdatasyncs the appender asked for
  uint64_t refused = 0;       // requests completed with an error
  uint64_t refused_at_capacity = 0;  // of those, "at capacity" (byte cap, watermark, ENOSPC)
  uint64_t segments_reaped = 0;        // segments deleted by retention and at the cap
  uint64_t segments_force_reaped = 0;  // of those, unconsumed ones deleted by drop-oldest
  uint64_t records_force_reaped = 0;
  uint64_t holds = 0;          // publishes held at the cap under disk_full_policy block
  uint64_t hold_timeouts = 0;  // of those, refused after block_timeout_ms
  uint64_t held_nanos = 0;     // total time spent holding
  bool holding = false;        // a publish is held right now
  uint64_t max_batch = 0;     // largest batch seen
  uint64_t record_bytes = 0;  // key + headers + payload bytes of the records appended (as given)
  // Timed fdatasyncs (batch and interval syncs, on the appender's clock): per-bucket counts
  // (not cumulative; index i counts durations <= kSyncBucketBoundsNs[i] and above the previous
  // bound, the last entry everything above 5 s) and their total duration.
  std::array<uint64_t, kSyncBucketBoundsNs.size() + 1> sync_buckets{};
  uint64_t sync_nanos = 0;
};

class Appender {
 public:
  // Starts the appender thread. `log` and `clock` must outlive the Appender.
  static Result<std::unique_ptr<Appender>> Start(Log* log, Clock* clock, AppenderOptions options = {});
  ~Appender();  // Stop()
  Appender(const Appender&) = delete;
  Appender& operator=(const Appender&) = delete;

  // Blocks while the queue is full. FailedPrecondition when stopped or the log is frozen.
  Status Submit(AppendRequest request, Completion done);
  // Never blocks: Unavailable when the queue is full.
  Status TrySubmit(AppendRequest request, Completion done);

  // Drains the queue (every queued request is appended and completed), makes everything
  // durable with a final sync, and joins the thread. Later submits are refused. Returns the
  // log's frozen status if it froze. Idempotent.
  Status Stop();

  AppenderStats stats() const;
  size_t queued() const;
  size_t capacity() const { return options_.queue_capacity; }  // the queue bound

 private:
  struct Pending {
    AppendRequest request;
    Completion done;
  };

  Appender(Log* log, Clock* clock, AppenderOptions options);
  Status Enqueue(AppendRequest&& request, Completion&& done, bool block);
  void Run();
  // Appends and commits one batch, then completes it (in runs when kBlock holds a request).
  void ProcessBatch(std::deque<Pending>* batch);
  // Appends batch[begin..) into `results` (one per request) and returns where it stopped:
  // batch.size(), or, when `may_block`, the index of the request held at capacity.
  size_t AppendRun(std::deque<Pending>& batch, size_t begin, bool may_block, std::vector<Result<uint64_t>>* results);
  // Flushes/syncs the appended records of batch[begin, begin + results.size()), completes
  // each request, then runs retention and the on_appended hook.
  void CommitAndComplete(std::deque<Pending>* batch, size_t begin, std::vector<Result<uint64_t>> results);
  // Log::MakeRoom with the retention floor, counted in stats_. True when it deleted something
  // (an append is worth retrying).
  bool ReapAtCapacity();
  // Sleeps up to kBlockPollMs (less near the deadline). False once the deadline passed or a
  // Stop() began: the held request is then refused.
  bool WaitForRoom(int64_t deadline_ns);
  void RecordHold(int64_t held_ns, bool timed_out);
  // Under kInterval: fdatasyncs when a window trigger is due.
  void MaybeIntervalSync();
  // Adds one timed fdatasync to stats_. REQUIRES queue_mu_.
  void RecordSyncLocked(int64_t sync_ns);
  // Under kInterval with unsynced bytes: how long the idle loop may sleep before the time
  // trigger is due (capped, so a test's ManualClock advance is noticed). -1: no deadline.
  int64_t IdleWaitMs() const;

  Log* const log_;
  Clock* const clock_;
  const AppenderOptions options_;

  mutable std::mutex queue_mu_;
  std::condition_variable not_empty_;
  std::condition_variable not_full_;
  std::deque<Pending> queue_;  // guarded by queue_mu_
  bool stopping_ = false;      // guarded by queue_mu_
  AppenderStats stats_;        // guarded by queue_mu_

  // Appender-thread state.
  int64_t first_unsynced_ns_ = -1;  // monotonic time of the first unsynced write, -1 = none
  Status final_sync_;               // the Stop() barrier's outcome, read after join

  std::thread thread_;
  std::mutex stop_mu_;  // serializes Stop()
  Status stop_status_;
  bool joined_ = false;
};

}  // namespace ironbus::storage
