#include "recovery/recover.h"

#include <algorithm>
#include <limits>
#include <optional>

#include "format/checkpoint.h"
#include "format/segment_name.h"
#include "recovery/accepted_loss.h"
#include "recovery/chain.h"
#include "storage/quarantine.h"

namespace ironbus::recovery {
namespace {

constexpr uint64_t kU64Max = std::numeric_limits<uint64_t>::max();
// layout.meta is 156 bytes; anything far larger is foreign and is not read whole.
constexpr uint64_t kMaxLayoutFileBytes = 4096;

uint64_t SatAdd(uint64_t a, uint64_t b) { return a > kU64Max - b ? kU64Max : a + b; }

std::string SegmentName(uint64_t id) { return format::SegmentFileName(id); }

// Reads layout.meta (spec 7.6). Returns whether the v1 marker should be (re)written: absent,
// torn or foreign all read as version 1. Only a valid marker above version 1 is fatal.
Result<bool> CheckLayout(io::FileSystem* fs, const std::string& dir) {
  auto bytes = io::ReadWholeFile(*fs, io::JoinPath(dir, format::kLayoutFileName), kMaxLayoutFileBytes);
  if (!bytes.ok()) {
    if (bytes.status().IsNotFound() || bytes.status().code() == StatusCode::kOutOfRange) return true;
    return bytes.status().WithContext("reading layout.meta");
  }
  auto value = format::DecodeCheckpointFile(*bytes, format::kCursorCheckpointCap);
  if (!value) return true;
  auto version = format::DecodeLayoutMarker(value->payload);
  if (!version) return true;
  if (*version > format::kLayoutVersion) {
    return Status::FailedPrecondition(io::JoinPath(dir, format::kLayoutFileName) +
                                      " declares data-directory layout version " + std::to_string(*version) +
                                      "; this build supports version " + std::to_string(format::kLayoutVersion) +
                                      " (newer IronBus data directory)");
  }
  return false;
}

// The marker as the first write of a fresh two-slot file: seq 1 in slot 1, slot 0 zero.
Status WriteLayout(io::FileSystem* fs, const std::string& dir) {
  ASSIGN_OR_RETURN(Bytes slot, format::EncodeCheckpointSlot(1, format::EncodeLayoutMarker(format::kLayoutVersion),
                                                            format::kCursorCheckpointCap));
  Bytes image(format::CheckpointFileLen(format::kCursorCheckpointCap), 0);
  std::copy(slot.begin(), slot.end(), image.begin() + format::CheckpointSlotLen(format::kCursorCheckpointCap));
  return io::WriteFileAtomically(*fs, io::JoinPath(dir, format::kLayoutFileName), image);
}

// Valid record bytes after recovery (the planned state: cut tails excluded).
uint64_t DurableBytes(const storage::LogState& state) {
  uint64_t total = 0;
  for (const auto& seg : state.segments) total = SatAdd(total, seg.DurableRecordBytes());
  return total;
}

// Empty when within the caps; else why not, with the numbers.
std::string CheckCaps(const std::vector<PlannedEvent>& events, const LossCaps& caps, uint64_t durable) {
  uint64_t total = 0;
  for (const PlannedEvent& p : events) {
    const LossEvent& e = p.event;
    if (e.accepted) continue;
    if (e.bytes_skipped() > caps.per_event) {
      return "recovery loss over the per-event cap: segment " + SegmentName(e.segment_id) + " bytes [" +
             std::to_string(e.byte_offset_start) + ", " + std::to_string(e.byte_offset_end) + ") " +
             std::string(LossReasonJsonName(e.reason)) + " = " + std::to_string(e.bytes_skipped()) + " bytes > " +
             std::to_string(caps.per_event) + " (min(max_segment_bytes, 64 MiB))";
    }
    if (e.data_loss()) total = SatAdd(total, e.bytes_skipped());
  }
  if (total > caps.global) {
    return "recovery loss over the global cap: " + std::to_string(total) + " data-loss bytes > " +
           std::to_string(caps.global) + " (1% of " + std::to_string(durable) +
           " durable bytes, at least the per-event cap)";
  }
  return "";
}

void Quarantine(io::FileSystem* fs, const std::string& dir, const PlannedEvent& p, uint64_t cap,
                std::vector<std::string>* warnings) {
  const LossEvent& e = p.event;
  const std::string path = io::JoinPath(dir, SegmentName(e.segment_id));
  auto file = fs->Open(path, io::OpenMode::kRead);
  Status st = file.status();
  if (file.ok()) {
    storage::QuarantineSpan span{e.segment_id, LossReasonMetricLabel(e.reason), e.byte_offset_start, e.byte_offset_end};
    auto copied = storage::CopyToQuarantine(fs, dir, file->get(), span, cap);
    st = copied.status();
    if (copied.ok() && *copied == storage::QuarantineOutcome::kSkippedOverCap) {
      warnings->push_back("quarantine: " + path + " span larger than the quarantine cap, not copied");
    }
    (void)(*file)->Close();
  }
  if (!st.ok()) warnings->push_back("quarantine of " + path + " failed: " + st.ToString());
}

Status Cut(io::FileSystem* fs, const std::string& dir, const ChainPlan::Cut& cut) {
  const std::string path = io::JoinPath(dir, SegmentName(cut.segment_id));
  ASSIGN_OR_RETURN(auto file, fs->Open(path, io::OpenMode::kReadWrite));
  RETURN_IF_ERROR(file->Truncate(cut.at));
  // A length change is metadata: fdatasync does not promise it, fsync does.
  RETURN_IF_ERROR(file->FullSync());
  return file->Close();
}

}  // namespace

LossCaps ComputeLossCaps(uint64_t max_segment_bytes, uint64_t durable_bytes) {
  LossCaps caps;
  caps.per_event = max_segment_bytes == 0 ? format::kPerEventLossCapBytes
                                          : std::min(max_segment_bytes, format::kPerEventLossCapBytes);
  caps.global = std::max(durable_bytes / format::kGlobalLossCapDivisor, caps.per_event);
  return caps;
}

Result<Recovered> Recover(io::FileSystem* fs, const std::string& dir, const RecoveryOptions& options) {
  ASSIGN_OR_RETURN(bool write_layout, CheckLayout(fs, dir));

  ASSIGN_OR_RETURN(auto entries, fs->List(dir));
  std::vector<uint64_t> ids;
  for (const auto& entry : entries) {
    // Subdirectories (dlq/, quarantine/, the v2 streams/ pstreams/ shared-wal/) and foreign
    // names are not this log's segments.
    if (entry.is_dir) continue;
    if (auto id = format::ParseSegmentFileName(entry.name)) ids.push_back(*id);
  }
  std::sort(ids.begin(), ids.end());
  ASSIGN_OR_RETURN(ChainPlan plan, PlanChain(fs, dir, ids, options.keys.get()));

  Recovered out;
  auto accepted = LoadAcceptedLoss(fs, dir);
  if (!accepted.ok()) {
    out.warnings.push_back("ignoring " + std::string(format::kAcceptedLossFileName) + ": " +
                           accepted.status().ToString());
    accepted = std::vector<AcceptedSpan>();
  }
  for (PlannedEvent& p : plan.events) {
    p.event.accepted = p.persistent && std::binary_search(accepted->begin(), accepted->end(), AcceptedKey(p.event));
  }

  const uint64_t durable = DurableBytes(plan.state);
  const std::string over = CheckCaps(plan.events, ComputeLossCaps(options.max_segment_bytes, durable), durable);
  const bool frozen = !over.empty() && !options.ignore_caps;
  if (!over.empty() && options.ignore_caps) out.warnings.push_back("accepted by ignore_caps: " + over);
  if (frozen) {
    // Nothing is cut: the state describes the files as they are (the tail stays past
    // valid_end, where a frozen log never reads or writes).
    if (plan.cut) {
      for (auto& seg : plan.state.segments) {
        if (seg.id == plan.cut->segment_id) seg.file_len = plan.cut->file_len;
      }
      for (PlannedEvent& p : plan.events) p.event.truncated = false;
    }
    plan.state.frozen = true;
    plan.state.frozen_reason = over;
  }
  out.state = std::move(plan.state);
  for (const PlannedEvent& p : plan.events) out.report.events.push_back(p.event);
  out.report.frozen = frozen;
  out.report.frozen_reason = over.empty() || !frozen ? "" : over;
  if (options.mode == Mode::kDryRun) return out;

  if (!frozen) {
    // Copy before cutting: the cut destroys the bytes the copy keeps.
    for (const PlannedEvent& p : plan.events) {
      if (p.quarantine && !p.event.accepted && p.event.bytes_skipped() > 0) {
        Quarantine(fs, dir, p, options.max_quarantine_bytes, &out.warnings);
      }
    }
    if (plan.cut) {
      Status st = Cut(fs, dir, *plan.cut);
      if (!st.ok()) return st.WithContext("cutting the tail of " + SegmentName(plan.cut->segment_id));
    }
    if (write_layout) {
      Status st = WriteLayout(fs, dir);
      if (!st.ok()) out.warnings.push_back("writing layout.meta failed: " + st.ToString());
    }
    if (options.ignore_caps) {
      std::vector<AcceptedSpan> keep;
      for (const PlannedEvent& p : plan.events) {
        if (p.persistent) keep.push_back(AcceptedKey(p.event));
      }
      std::sort(keep.begin(), keep.end());
      keep.erase(std::unique(keep.begin(), keep.end()), keep.end());
      Status st = SaveAcceptedLoss(fs, dir, keep);
      if (!st.ok()) return st.WithContext("writing accepted-loss.json");
    }
  }
  const std::string json = out.report.ToJson();
  Status st = io::WriteFileAtomically(*fs, io::JoinPath(dir, format::kRecoveryReportFileName), AsBytes(json));
  if (!st.ok()) out.warnings.push_back("writing recovery-report.json failed: " + st.ToString());
  return out;
}

}  // namespace ironbus::recovery
