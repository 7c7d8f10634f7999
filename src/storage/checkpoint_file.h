// CheckpointFile: I/O for one two-slot checkpoint file (spec/storage.md 7.1; bytes in
// format/checkpoint.h). Consumer cursors, attempt counts, counters and the layout marker are
// stored this way.
//
//   Open    reads both slots and picks the winner (the valid slot with the higher seq; slot 0
//           on a tie); next_seq = winner + 1, or 1 without one. A missing file is created
//           exclusively and the directory fsynced (so its name survives a power cut) before
//           anything is written to it; it then holds no value.
//   Write   encodes the slot for seq = next_seq, writes it whole with one WriteAt at
//           (seq % 2) * SLOT_LEN, then fsyncs the file (the first write extends it to full
//           length). The value is durable when Write returns Ok; only then does next_seq move.
//           A torn write can only lose the newest value: the other slot still holds the
//           previous one.
//
// A failed Write leaves next_seq where it was, so a retry rewrites the same slot with the
// same seq and never touches the slot holding the previous durable value. Rewriting the
// whole slot also makes the retry safe after a failed fsync: no earlier dirty page of that
// slot has to survive.
//
// Thread safety: none; one owner at a time. `fs` must outlive the object.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "base/result.h"
#include "format/checkpoint.h"
#include "io/file_system.h"

namespace ironbus::storage {

class CheckpointFile {
 public:
  enum class Mode : uint8_t {
    kOpenOrCreate,  // create the file (exclusive + directory fsync) when it is missing
    kOpenExisting,  // NotFound when it is missing (tools that must not write)
  };

  // `cap` is the payload capacity (format::kCursorCheckpointCap, ...).
  static Result<std::unique_ptr<CheckpointFile>> Open(io::FileSystem* fs, const std::string& dir,
                                                      std::string_view name, size_t cap,
                                                      Mode mode = Mode::kOpenOrCreate);
  CheckpointFile(const CheckpointFile&) = delete;
  CheckpointFile& operator=(const CheckpointFile&) = delete;

  // The newest durable value: the winner at open, then the last successful Write.
  const std::optional<format::CheckpointValue>& value() const { return value_; }
  uint64_t next_seq() const { return next_seq_; }
  size_t cap() const { return cap_; }
  const std::string& path() const { return path_; }

  // InvalidArgument when the payload exceeds cap; IOError from the write or fsync.
  Status Write(ByteView payload);

 private:
  CheckpointFile(std::string path, std::unique_ptr<io::File> file, size_t cap);

  std::string path_;
  std::unique_ptr<io::File> file_;
  size_t cap_;
  uint64_t next_seq_ = 1;
  std::optional<format::CheckpointValue> value_;
};

}  // namespace ironbus::storage
