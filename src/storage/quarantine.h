// Quarantine (spec/storage.md section 10): forensic copies of the byte spans recovery skips or
// cuts, kept in <data_dir>/quarantine/ as
//   q-<segment_id 016x>-<reason metric label>-<start decimal>-<end decimal>.bin
// holding the raw bytes [start, end) of that segment file. Torn tails are never copied; whole
// segments with an unreadable header are (span [0, file_len), DESIGN.md D1).
//
// What is durable when: a blob exists under its final name only after it was fully written,
// fsynced, and the quarantine directory fsynced; any failure removes the partial file. A name
// that already exists means "already captured" and is left alone, so repeated recoveries of
// the same damage write nothing.
//
// Cap: before writing, the oldest blobs (ordered by the (segment_id, start, end) parsed from
// their names; names that do not parse go last, by name) are removed until the new blob fits
// under `max_bytes` (0 = unlimited). A span larger than the whole cap is not copied.
//
// Everything here is best-effort for the caller: recovery logs a failure and goes on, it never
// fails or changes its outcome because of the quarantine (spec section 10).
//
// Thread safety: none needed; recovery runs single-threaded before anything is served. Two
// processes never quarantine into one directory (the data-dir LOCK).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.h"
#include "io/file_system.h"

namespace ironbus::storage {

enum class QuarantineOutcome : uint8_t {
  kWritten,          // the blob is durable under its name
  kAlreadyCaptured,  // a blob with that name already existed
  kSkippedOverCap,   // the span alone is larger than the cap
  kNothingToCopy,    // empty span
};

struct QuarantineSpan {
  uint64_t segment_id = 0;
  std::string_view reason_label;  // the loss reason's metric label, e.g. "corrupt_record_body"
  uint64_t start = 0;             // byte range of the source segment file, end exclusive
  uint64_t end = 0;
};

// Copies `span` of `source` (an open segment file) into <data_dir>/quarantine/, creating the
// directory (0700) when absent. Reads and writes in bounded chunks: memory does not grow with
// the span. Errors (IOError, or Corruption when the source is shorter than the span) leave no
// partial blob behind.
Result<QuarantineOutcome> CopyToQuarantine(io::FileSystem* fs, const std::string& data_dir, io::File* source,
                                           const QuarantineSpan& span, uint64_t max_bytes);

// Sum of the sizes of the regular files in <data_dir>/quarantine/ (0 when it does not exist).
Result<uint64_t> QuarantineBytesUsed(io::FileSystem* fs, const std::string& data_dir);

}  // namespace ironbus::storage
