// queue::DeadLetterLog: the dead-letter queue of a data directory (spec/consumers.md 8,
// spec/storage.md 8): a second, complete storage::Log in <data_dir>/dlq/, plus the exact set of
// (group, source_offset) pairs it already holds.
//
// Records: the poison record's key, payload and timestamp_ms verbatim; flags: COMPRESSED
// copied (so the stored payload stays decodable), HAS_KEY re-derived by the record encoder;
// headers = the DLQ1 prefix (format::EncodeDlqHeaders: source_offset, attempt, group) followed
// by the original headers.
//
// The directory is created on the first dead letter, not before: CreateDirs(dlq), SyncDir of
// the data directory (so the name survives a power cut), then recovery::Recover(kApply) and
// storage::Log::Open, the very path recovery::OpenDataDir takes at the next start for an
// existing dlq/. Recover on the empty directory yields a fresh state, and the shared path means
// a half-made dlq/ (a crash inside this sequence) is simply opened and recovered next time.
// When OpenDataDir already opened dlq/, that Log is handed in and used as is.
//
// Append (step 2 of the crash-atomic move) = Log::Append + Log::Sync (fdatasync). When it
// returns Ok the record is durable; only then may the caller commit the source cursor past
// the message (step 3). On any error nothing is recorded in the set, the caller must not
// commit, and a failed sync freezes the DLQ log (storage rule: never retried). A crash between
// the sync and the source commit leaves the record in the DLQ and the source uncommitted; at
// the next start the set is rebuilt by reading every DLQ record, so the same (group,
// source_offset) is never appended twice. It is an exact set, not a high-water mark: poison
// messages do not cross the threshold in offset order. `attempt` is not part of the key.
//
// Each pair also remembers a fingerprint of the message (xxh3 of timestamp_ms, key and
// original headers, all kept verbatim in the DLQ record). Under a relaxed durability level a
// power cut can take a source record the consumer saw, and was dead-lettered, away from the
// main log; a new record later takes the same offset. The fingerprint tells the two apart, so
// the new record is delivered (and dead-lettered on its own if it is poison too) instead of
// being skipped as "already moved". Under `sync` a dead-lettered source is always durable and
// the fingerprint always matches.
//
// Thread safety: every method may be called from any thread (one internal mutex), so groups on
// different strands share one DeadLetterLog. The mutex is held across the append+fdatasync.
// `fs` and `clock` must outlive the object.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>

#include "base/clock.h"
#include "base/result.h"
#include "format/record.h"
#include "io/file_system.h"
#include "storage/log.h"
#include "storage/log_options.h"

namespace ironbus::queue {

class DeadLetterLog {
 public:
  // `existing` is OpenedDataDir::dlq_log (null when dlq/ did not exist); its records are read
  // once to rebuild the set. `options` are used if this object creates dlq/ (the caller
  // passes retention off and compression none, so payloads are stored verbatim).
  static Result<std::unique_ptr<DeadLetterLog>> Open(io::FileSystem* fs, std::string data_dir,
                                                     std::unique_ptr<storage::Log> existing,
                                                     storage::LogOptions options, Clock* clock);
  ~DeadLetterLog();
  DeadLetterLog(const DeadLetterLog&) = delete;
  DeadLetterLog& operator=(const DeadLetterLog&) = delete;

  // The pair is held for this very message (same fingerprint).
  bool Contains(std::string_view group, uint64_t source_offset, const format::Record& source) const;
  // The pair is held for any message (tests, metrics).
  bool Contains(std::string_view group, uint64_t source_offset) const;
  // Appends and fdatasyncs one dead letter; Ok without a new record when the pair is already
  // held for this message. Crash point "dlq.after_sync" fires after the fdatasync.
  Status Append(std::string_view group, uint64_t source_offset, uint32_t attempt, const format::Record& source);
  // Forgets pairs below the group's watermark (they can never be polled again).
  void PruneBelow(std::string_view group, uint64_t watermark);
  // Source offsets of `group` held and not pruned (tests, metrics).
  std::set<uint64_t> HeldOffsets(std::string_view group) const;

  uint64_t record_count() const;     // DLQ depth: records found at open + appended since
  uint64_t foreign_records() const;  // records at open that are not DLQ records (skipped)
  bool exists() const;               // dlq/ is open (created or found)
  // Syncs and closes the DLQ log (clean shutdown). Idempotent.
  Status Close();

 private:
  DeadLetterLog(io::FileSystem* fs, std::string data_dir, storage::LogOptions options, Clock* clock);
  static uint64_t Fingerprint(uint64_t timestamp_ms, ByteView key, ByteView original_headers);
  Status Rebuild();       // REQUIRES mu_
  Status EnsureCreated();  // REQUIRES mu_

  io::FileSystem* const fs_;
  const std::string data_dir_;
  const storage::LogOptions options_;
  Clock* const clock_;

  mutable std::mutex mu_;
  std::unique_ptr<storage::Log> log_;                        // guarded by mu_
  // group -> source_offset -> message fingerprint; guarded by mu_
  std::map<std::string, std::map<uint64_t, uint64_t>, std::less<>> held_;
  uint64_t records_ = 0;                                     // guarded by mu_
  uint64_t foreign_ = 0;                                     // guarded by mu_
  bool closed_ = false;                                      // guarded by mu_
};

}  // namespace ironbus::queue
