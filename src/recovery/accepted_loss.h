// accepted-loss.json (format::kAcceptedLossFileName): the loss an operator accepted with
// `repair --apply` (DESIGN.md D1). A skipped span stays in its segment (offsets never shift),
// so every later open finds it again; an event that matches an entry here exactly (segment,
// byte range, reason) is still reported, marked "accepted", but not counted against the caps
// and not quarantined again. That is how a frozen log becomes writable after repair.
//
// File: {"schema_version": 1, "accepted": [{"segment_id", "byte_offset_start",
// "byte_offset_end", "reason_code"}, ...]}, replaced crash-atomically
// (io::WriteFileAtomically). A missing file is an empty list. A malformed one is treated as
// empty too (fail safe: more loss counts against the caps, never less) and reported as an error
// to the caller, who logs it.
//
// Thread safety: plain functions; recovery runs single-threaded under the data-dir lock.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"
#include "io/file_system.h"
#include "recovery/loss_report.h"

namespace ironbus::recovery {

struct AcceptedSpan {
  uint64_t segment_id = 0;
  uint64_t byte_offset_start = 0;
  uint64_t byte_offset_end = 0;
  LossReason reason = LossReason::kCorruptRecordBody;
  friend auto operator<=>(const AcceptedSpan&, const AcceptedSpan&) = default;
};

AcceptedSpan AcceptedKey(const LossEvent& event);

std::string EncodeAcceptedLoss(const std::vector<AcceptedSpan>& spans);
Result<std::vector<AcceptedSpan>> DecodeAcceptedLoss(std::string_view json);

// <dir>/accepted-loss.json; NotFound is an empty list. InvalidArgument when malformed.
Result<std::vector<AcceptedSpan>> LoadAcceptedLoss(io::FileSystem* fs, const std::string& dir);
Status SaveAcceptedLoss(io::FileSystem* fs, const std::string& dir, const std::vector<AcceptedSpan>& spans);

}  // namespace ironbus::recovery
