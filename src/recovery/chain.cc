#include "recovery/chain.h"

#include <algorithm>
#include <cstdio>
#include <limits>

#include "format/crc32c.h"
#include "format/record_format.h"
#include "format/segment.h"
#include "format/segment_name.h"
#include "recovery/segment_auth.h"
#include "recovery/segment_scan.h"

namespace ironbus::recovery {
namespace {

constexpr uint64_t kU64Max = std::numeric_limits<uint64_t>::max();

uint64_t SatAdd(uint64_t a, uint64_t b) { return a > kU64Max - b ? kU64Max : a + b; }

std::string Hex(uint64_t v, int width) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%0*llx", width, static_cast<unsigned long long>(v));
  return buf;
}

struct FileInfo {
  uint64_t id = 0;
  std::string path;
  uint64_t len = 0;
  bool readable = false;
  format::SegmentHeader header;
};

Status ReadFully(io::File* file, uint64_t pos, uint8_t* out, size_t n) {
  size_t done = 0;
  while (done < n) {
    ASSIGN_OR_RETURN(size_t got, file->ReadAt(pos + done, std::span<uint8_t>(out + done, n - done)));
    if (got == 0) return Status::IOError(file->path() + ": file shrank during recovery");
    done += got;
  }
  return Status::Ok();
}

// Reads and classifies one segment header. Fails closed (FailedPrecondition) only on an
// authentic header (valid CRC) that declares something this build does not support.
Result<FileInfo> ClassifyHeader(io::FileSystem* fs, const std::string& dir, uint64_t id) {
  FileInfo info;
  info.id = id;
  info.path = io::JoinPath(dir, format::SegmentFileName(id));
  ASSIGN_OR_RETURN(auto file, fs->Open(info.path, io::OpenMode::kRead));
  ASSIGN_OR_RETURN(info.len, file->Size());
  if (info.len < format::kSegmentHeaderSize) return info;  // short header: unreadable
  uint8_t raw[format::kSegmentHeaderSize];
  RETURN_IF_ERROR(ReadFully(file.get(), 0, raw, sizeof(raw)));
  const format::SegmentHeaderError err = format::DecodeSegmentHeader(ByteView(raw, sizeof(raw)), &info.header);
  const bool crc_ok = format::crc32c::Value(raw, format::kSegmentHeaderCrcCoverage) ==
                      DecodeFixed32(raw + format::kSegmentOffHeaderCrc);
  const std::string where = info.path + ": ";
  switch (err) {
    case format::SegmentHeaderError::kOk:
      // SEGMENT_ENCRYPTED is read by this build (spec/security.md 5); a key it cannot find is
      // a reported loss (segment_auth.h), never a refusal to open.
      if ((info.header.flags & ~format::kSegmentFlagEncrypted) != 0) {
        return Status::FailedPrecondition(where + "unsupported segment feature: flags 0x" + Hex(info.header.flags, 4) +
                                          " (reference v2 data such as at-rest encryption); this build does not "
                                          "read it");
      }
      // A header naming another segment: a copied or renamed file. Its bytes are not this
      // segment's, so the file is unreadable here (D1), never trusted.
      info.readable = info.header.segment_id == id;
      return info;
    case format::SegmentHeaderError::kCompacted:
      return Status::FailedPrecondition(where +
                                        "compacted segment (reference v2 key compaction): compacted logs are not "
                                        "supported by this build");
    case format::SegmentHeaderError::kUnsupportedVersion:
      if (crc_ok) {
        return Status::FailedPrecondition(where + "unsupported segment version " + std::to_string(raw[format::kSegmentOffVersion]) +
                                          " with flags 0x" + Hex(DecodeFixed16(raw + format::kSegmentOffFlags), 4) +
                                          " (newer IronBus data); this build does not read it");
      }
      return info;
    case format::SegmentHeaderError::kBadChecksumAlgo:
      if (crc_ok) {
        return Status::FailedPrecondition(where + "unsupported segment checksum algorithm " +
                                          std::to_string(raw[format::kSegmentOffChecksumAlgo]) +
                                          "; this build reads only CRC32C (1)");
      }
      return info;
    default:
      return info;  // bad magic, bad CRC: damaged
  }
}

// seq <-> offset of the last readable segment; identity before the first one.
struct Mapping {
  uint64_t base_seq = 0;
  uint64_t base_offset = 0;
  std::optional<uint64_t> OffsetOf(uint64_t seq) const {
    if (seq < base_seq) return std::nullopt;
    return SatAdd(base_offset, seq - base_seq);
  }
  uint64_t SeqOf(uint64_t offset) const {
    if (offset >= base_offset) return SatAdd(base_seq, offset - base_offset);
    return base_seq - std::min(base_seq, base_offset - offset);
  }
};

class ChainWalker {
 public:
  ChainWalker(io::FileSystem* fs, ChainPlan* plan, const format::KeyRing* keys)
      : fs_(fs), plan_(plan), keys_(keys) {}

  Status Walk(std::vector<FileInfo>& files) {
    const size_t n = files.size();
    std::vector<std::optional<size_t>> next_readable(n);
    for (size_t i = n; i-- > 0;) {
      if (i + 1 < n) next_readable[i] = files[i + 1].readable ? std::optional<size_t>(i + 1) : next_readable[i + 1];
    }
    for (size_t i = 0; i < n; ++i) {
      FileInfo& f = files[i];
      // A base below the previous segment's end overlaps offsets already held: unreadable.
      if (f.readable && prev_end_ && f.header.base_offset < *prev_end_) f.readable = false;
      if (!f.readable) {
        run_.push_back(&f);
        continue;
      }
      if (!run_.empty()) {
        RETURN_IF_ERROR(FlushRun(f.header.base_offset));
      } else if (prev_end_ && f.header.base_offset > *prev_end_) {
        // A hole between two readable segments (a deleted segment): offsets lost, no bytes.
        PlannedEvent gap;
        gap.event = LossEvent{f.id, format::kSegmentHeaderSize, format::kSegmentHeaderSize,
                              f.header.base_offset - *prev_end_, LossReason::kSequenceGap, *prev_end_,
                              f.header.base_offset, true};
        gap.persistent = true;
        plan_->events.push_back(gap);
        // storage::Log wants a contiguous chain: the hole belongs to the segment before it
        // (end_offset counts holes), so no offset in it is ever assigned again.
        plan_->state.segments.back().end_offset = f.header.base_offset;
      }
      SegmentContext ctx;
      ctx.id = f.id;
      ctx.header = f.header;
      ctx.file_len = f.len;
      ctx.is_last = i + 1 == n;
      if (next_readable[i]) {
        ctx.next_base_offset = files[*next_readable[i]].header.base_offset;
        ctx.next_adjacent = files[*next_readable[i]].id == f.id + 1;
      }
      ASSIGN_OR_RETURN(auto file, fs_->Open(f.path, io::OpenMode::kRead));
      ASSIGN_OR_RETURN(SegmentOutcome out, RecoverSegment(file.get(), ctx));
      if (format::SegmentEncrypted(f.header)) RETURN_IF_ERROR(AuthenticateSegment(file.get(), f.header, keys_, &out));
      // A segment with a later one after it is closed for appends whatever its footer says
      // (D1 accepts it without a trusted footer); storage::Log calls that `sealed`.
      if (!ctx.is_last) out.state.sealed = true;
      for (auto& e : out.events) plan_->events.push_back(e);
      if (out.truncate_to) plan_->cut = ChainPlan::Cut{f.id, *out.truncate_to, f.len};
      prev_end_ = out.state.end_offset;
      mapping_ = Mapping{out.state.base_seq, out.state.base_offset};
      plan_->state.segments.push_back(std::move(out.state));
    }
    return FlushRun(std::nullopt);
  }

 private:
  // Assigns offset ranges to a run of unreadable files between prev_end_ (if any) and
  // `next_base` (if any), in id order.
  Status FlushRun(std::optional<uint64_t> next_base) {
    if (run_.empty()) return Status::Ok();
    const bool leading = !prev_end_.has_value();
    uint64_t running = leading ? (next_base ? *next_base : 0) : *prev_end_;
    // Exact only for one file squeezed between two readable neighbours.
    const bool exact = !leading && next_base && run_.size() == 1;
    for (size_t k = 0; k < run_.size(); ++k) {
      const FileInfo& f = *run_[k];
      uint64_t end = running;
      if (leading && next_base) {
        end = running;  // offsets below the log's first readable one: nothing to skip
      } else if (next_base && k + 1 == run_.size()) {
        end = std::max(running, *next_base);
      } else {
        ASSIGN_OR_RETURN(uint64_t bound, Bound(f, running));
        end = next_base ? std::clamp(bound, running, std::max(running, *next_base)) : bound;
      }
      // A file of at most a header that holds no offset: a segment create torn by a crash.
      const bool torn_create = f.len <= format::kSegmentHeaderSize && end == running;
      const LossReason reason = torn_create ? LossReason::kTornTail : LossReason::kCorruptSegmentHeader;
      PlannedEvent e;
      e.event = LossEvent{f.id,    0,      f.len, exact ? end - running : (f.len > format::kSegmentHeaderSize ? 1u : 0u),
                          reason, running, end,   exact};
      e.quarantine = !torn_create && f.len > 0;
      e.persistent = true;
      plan_->events.push_back(e);

      storage::SegmentState st;
      st.id = f.id;
      st.base_offset = running;
      st.end_offset = end;
      st.base_seq = mapping_.SeqOf(running);
      st.valid_end = format::kSegmentHeaderSize;
      st.file_len = f.len;
      st.unreadable = true;
      plan_->state.segments.push_back(std::move(st));
      running = end;
    }
    run_.clear();
    prev_end_ = running;
    return Status::Ok();
  }

  // One past the highest offset an unreadable file may have held, given it starts at or after
  // `running`: from the highest-seq frame that still decodes in it plus room for minimal
  // frames after it, or room for minimal frames in the whole file.
  Result<uint64_t> Bound(const FileInfo& f, uint64_t running) {
    ASSIGN_OR_RETURN(auto file, fs_->Open(f.path, io::OpenMode::kRead));
    ASSIGN_OR_RETURN(FrameCensus census, CensusFrames(file.get(), f.len));
    uint64_t bound = SatAdd(running, f.len > format::kSegmentHeaderSize
                                         ? (f.len - format::kSegmentHeaderSize) / format::kMinRecordFrameSize
                                         : 0);
    if (census.has_max) {
      const uint64_t after = (f.len - census.max_seq_frame_end) / format::kMinRecordFrameSize;
      auto off = mapping_.OffsetOf(census.max_seq);
      // A highest seq below the chain's own (a stale copy) bounds nothing above `running`
      // except the frames that may follow it.
      bound = off ? SatAdd(SatAdd(*off, 1), after) : SatAdd(running, after);
    }
    return std::max(running, bound);
  }

  io::FileSystem* fs_;
  ChainPlan* plan_;
  const format::KeyRing* keys_;
  std::optional<uint64_t> prev_end_;
  Mapping mapping_;
  std::vector<const FileInfo*> run_;
};

}  // namespace

Result<ChainPlan> PlanChain(io::FileSystem* fs, const std::string& dir, const std::vector<uint64_t>& ids,
                            const format::KeyRing* keys) {
  ChainPlan plan;
  plan.state.dir = dir;
  std::vector<FileInfo> files;
  files.reserve(ids.size());
  // All headers first: a v2 marker anywhere fails the open before anything else is decided.
  for (uint64_t id : ids) {
    ASSIGN_OR_RETURN(FileInfo info, ClassifyHeader(fs, dir, id));
    files.push_back(std::move(info));
  }
  ChainWalker walker(fs, &plan, keys);
  RETURN_IF_ERROR(walker.Walk(files));

  storage::LogState& st = plan.state;
  if (st.segments.empty()) {
    st.needs_new_active_segment = true;  // fresh directory: segment 0 at offset 0
    return plan;
  }
  const storage::SegmentState& last = st.segments.back();
  st.next_offset = last.end_offset;
  st.next_seq = SatAdd(last.base_seq, last.end_offset - last.base_offset);
  // Sealed (crash between seal and create): roll forward. Unreadable: never appended to.
  st.needs_new_active_segment = last.sealed || last.unreadable;
  return plan;
}

}  // namespace ironbus::recovery
