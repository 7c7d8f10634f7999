// queue::GroupCheckpoint: the durable state of one consumer group, in two two-slot checkpoint
// files of the data directory (spec/storage.md 7.2 and 7.3, spec/consumers.md 7):
//
//   cursor.ckpt / cursor-<hex(name)>.ckpt       committed + up to 3 acked-ahead ranges (CAP 64)
//   attempts.ckpt / attempts-<hex(name)>.ckpt   {offset -> attempt} of in-flight and carried
//                                               delivery counts (CAP 32 KiB, ~2,700 pairs)
//
// Files are opened when present and created (exclusive create + directory fsync, by
// storage::CheckpointFile) only at their first write, so a group that never committed leaves
// no file behind. What is durable when: a Write* call that returned Ok has fsynced its slot;
// a torn write loses only that newest value (the other slot keeps the previous one). This
// class only does the I/O; WHEN to write (the checkpoint_interval cadence, clean disconnect,
// shutdown, the redelivery trigger) is the Group's policy (group.h).
//
// Loading applies I5b: the cursor is clamped to the log's head (Cursor::Restore), and carried
// attempt counts are kept only for offsets that are still unacked and below the head.
//
// Thread safety: none; owned by one Group, called on that group's strand. `fs` must outlive it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "base/result.h"
#include "io/file_system.h"
#include "queue/cursor.h"
#include "storage/checkpoint_file.h"

namespace ironbus::queue {

// offset -> delivery attempt count (1-based).
using AttemptMap = std::map<uint64_t, uint32_t>;

class GroupCheckpoint {
 public:
  // Opens whatever checkpoint files the group already has; IOError if one exists but cannot be
  // read. A missing file is not an error (it is created at the first write).
  static Result<std::unique_ptr<GroupCheckpoint>> Open(io::FileSystem* fs, std::string dir, std::string group);
  GroupCheckpoint(const GroupCheckpoint&) = delete;
  GroupCheckpoint& operator=(const GroupCheckpoint&) = delete;

  struct Loaded {
    Cursor cursor;
    AttemptMap carried;       // attempt counts to resume from (spec 7.3)
    bool had_cursor = false;  // a valid cursor slot was found
    // The files hold more than the log can back (a checkpoint past the head after a power cut
    // under relaxed durability, ranges or counts above the head): the caller must write the
    // clamped state back before serving, or a later open, with new records at those offsets,
    // would trust the old values and skip them (I5b: a checkpoint may lag, never lead).
    bool needs_rewrite = false;
  };
  // The durable state clamped to `head` (one past the last offset a consumer may see).
  Loaded Load(uint64_t head, size_t max_runs);

  // Writes the cursor snapshot (the lowest ahead ranges that fit the slot) and fsyncs it.
  Status WriteCursor(const Cursor& cursor);
  // Writes the attempt map; when it has more pairs than the slot holds, the lowest offsets are
  // kept (those nearest the watermark, the next to redeliver) and the rest restart at 1.
  Status WriteAttempts(const AttemptMap& attempts);

  // The committed value of the last successful cursor write (or of the one loaded).
  uint64_t last_written_committed() const { return last_written_committed_; }
  const std::string& group() const { return group_; }

  // Pairs the attempts slot holds.
  static size_t MaxAttemptPairs();

 private:
  GroupCheckpoint(io::FileSystem* fs, std::string dir, std::string group);
  Status EnsureOpen(std::unique_ptr<storage::CheckpointFile>* file, const std::string& name, size_t cap);

  io::FileSystem* const fs_;
  const std::string dir_;
  const std::string group_;
  std::unique_ptr<storage::CheckpointFile> cursor_file_;    // null until present
  std::unique_ptr<storage::CheckpointFile> attempts_file_;  // null until present
  uint64_t last_written_committed_ = 0;
};

}  // namespace ironbus::queue
