// The chain walk: every segment of a directory in ascending id order, each header classified,
// each readable segment recovered (segment_recovery.h), the offset space stitched together.
// Internal to recovery; reads only.
//
// Rules (DESIGN.md D1 over spec/storage.md 6.1):
//   - A header with a valid CRC that declares reference v2 data this build does not read
//     (compacted segment, an unknown flag bit, another version or checksum
//     algorithm) fails closed: FailedPrecondition naming the feature, never "corruption".
//   - A header that is short, has a bad magic or CRC, names another segment id, or whose base
//     overlaps the previous segment's offsets: the file is unreadable. It stays in place, is
//     listed with `unreadable`, and its offset range (derived from its neighbours) is lost.
//     A file of at most 64 bytes that can have held no offset is a torn segment create.
//   - Readable segments with a hole between them (a deleted segment): a SequenceGap event.
//   - The last segment sealed, or unreadable: a new active segment is needed. After an
//     unreadable last segment its offsets start above anything that file may have held:
//     (max seq found in it) + 1 + (bytes after that frame) / 44, or
//     (previous end) + (file_len - 64) / 44 when no frame decodes in it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "format/key_ring.h"
#include "io/file_system.h"
#include "recovery/segment_recovery.h"
#include "storage/log_state.h"

namespace ironbus::recovery {

struct ChainPlan {
  storage::LogState state;  // frozen unset; file lengths as they will be after the cut
  std::vector<PlannedEvent> events;
  struct Cut {
    uint64_t segment_id = 0;
    uint64_t at = 0;        // new length
    uint64_t file_len = 0;  // length now
  };
  std::optional<Cut> cut;  // the active segment's tail
};

// `ids` ascending. Reads each file; changes nothing.
// `keys` (may be null) opens encrypted segments (segment_auth.h).
Result<ChainPlan> PlanChain(io::FileSystem* fs, const std::string& dir, const std::vector<uint64_t>& ids,
                            const format::KeyRing* keys = nullptr);

}  // namespace ironbus::recovery
