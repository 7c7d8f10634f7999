// queue::Groups: every consumer group of one data directory, and the shared dead-letter log
// (spec/consumers.md 3.1, DESIGN.md section 2). The broker's entry point into queue/.
//
// Open (after recovery::OpenDataDir): loads every group that has a cursor*.ckpt or
// attempts*.ckpt file (C++ rule: all at open), each clamped to the log's head (I5b), and
// rebuilds the DLQ's exact (group, source_offset) set from dlq/ when it exists. The default
// group "" always exists.
//
// Group creation (spec 3.1): GetOrCreate on Sub / the first fetch. A named group must be 1 to
// 128 graphic ASCII bytes (ERR_INVALID_GROUP_NAME) and is refused past max_groups
// (ERR_TOO_MANY_GROUPS) before anything is allocated; the default group never counts. The
// mode comes from the startup declarations (key_shared_groups, broadcast_groups). Find never
// creates: an ack-family verb naming an unknown group is fenced by the caller.
// Groups are evicted only by EvictIfIdle (group_idle_evict_ms, off by default), which the
// broker calls on its queue thread for groups no connection uses; otherwise a Group* stays
// valid for the life of this object.
//
// Shutdown: CheckpointAll() writes every group's cursor and attempts (graceful stop), then
// Close() syncs and closes the DLQ log. The caller must have stopped calling into groups.
//
// Ownership: owns the groups and the DLQ log (moved in from OpenedDataDir::dlq_log, or created
// on the first dead letter); borrows `log`, `fs` and `clock`, which must outlive it. Destroy it
// before the data-directory lock (OpenedDataDir::lock) is released.
// Thread safety: GetOrCreate, Find, names, RetentionFloor and the accessors may be called from
// any thread (one registry mutex, never held while calling into a Group). Each Group is
// single-threaded (group.h): the broker serializes the calls of one group on one strand.
// RetentionFloor() is meant for the Appender's retention_floor callback.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/result.h"
#include "io/file_system.h"
#include "queue/dead_letter_log.h"
#include "queue/group.h"
#include "queue/queue_options.h"
#include "storage/log.h"

namespace ironbus::queue {

class Groups {
 public:
  static Result<std::unique_ptr<Groups>> Open(io::FileSystem* fs, std::string data_dir, storage::Log* log,
                                              std::unique_ptr<storage::Log> dlq_log, QueueOptions options,
                                              Clock* clock);
  ~Groups();
  Groups(const Groups&) = delete;
  Groups& operator=(const Groups&) = delete;

  Result<Group*> GetOrCreate(std::string_view name);
  Group* Find(std::string_view name) const;
  std::vector<std::string> names() const;
  size_t named_group_count() const;

  // Minimum committed offset over all groups, evicted ones included (segments below it may be
  // reaped).
  uint64_t RetentionFloor() const;

  // Idle eviction (QueueOptions::group_idle_evict_ms, spec 3.1): when `name` is evictable
  // (Group::EvictableAt), writes its checkpoints and drops it from memory; its committed offset
  // keeps protecting retention, and GetOrCreate reloads it from the checkpoint. True when it
  // was evicted. The caller guarantees no member or pointer still refers to the group (the
  // broker's queue thread, which owns every Group* it handed out). A failed checkpoint keeps
  // the group.
  Result<bool> EvictIfIdle(std::string_view name, int64_t now_ns);
  uint64_t evicted_count() const;  // groups out of memory now

  Status CheckpointAll();
  Status Close();

  DeadLetterLog* dlq() const { return dlq_.get(); }
  const QueueOptions& options() const { return options_; }

  // "cursor-<hex>.ckpt" / "attempts-<hex>.ckpt" -> the group name; nullopt for anything else
  // (the default group's "cursor.ckpt" is not a named group). Round-trips with
  // format::CursorFileName / AttemptsFileName.
  static std::optional<std::string> ParseGroupFileName(std::string_view file_name);

 private:
  Groups(io::FileSystem* fs, std::string data_dir, storage::Log* log, QueueOptions options);
  GroupMode DeclaredMode(std::string_view name) const;
  // REQUIRES mu_.
  Result<Group*> CreateLocked(std::string_view name);

  io::FileSystem* const fs_;
  const std::string data_dir_;
  storage::Log* const log_;
  const QueueOptions options_;
  std::unique_ptr<DeadLetterLog> dlq_;

  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Group>, std::less<>> groups_;  // guarded by mu_
  // Evicted group -> its committed offset at eviction (the retention floor). Guarded by mu_.
  std::map<std::string, uint64_t, std::less<>> evicted_;
};

}  // namespace ironbus::queue
