#include "recovery/segment_recovery.h"

#include <algorithm>
#include <limits>

#include "format/record_format.h"
#include "recovery/segment_scan.h"

namespace ironbus::recovery {
namespace {

constexpr uint64_t kU64Max = std::numeric_limits<uint64_t>::max();

uint64_t SatAdd(uint64_t a, uint64_t b) { return a > kU64Max - b ? kU64Max : a + b; }

// The footer candidate (spec 4.3 step 1): the last 32 bytes when they decode, else nullopt.
Result<std::optional<format::SegmentFooter>> ReadFooter(io::File* file, uint64_t file_len) {
  if (file_len < format::kSegmentHeaderSize + format::kSegmentFooterSize) return std::optional<format::SegmentFooter>();
  uint8_t raw[format::kSegmentFooterSize];
  size_t done = 0;
  while (done < sizeof(raw)) {
    ASSIGN_OR_RETURN(size_t got, file->ReadAt(file_len - sizeof(raw) + done,
                                              std::span<uint8_t>(raw + done, sizeof(raw) - done)));
    if (got == 0) return Status::IOError(file->path() + ": file shrank during recovery");
    done += got;
  }
  format::SegmentFooter footer;
  if (!format::DecodeSegmentFooter(ByteView(raw, sizeof(raw)), &footer)) return std::optional<format::SegmentFooter>();
  return std::optional<format::SegmentFooter>(footer);
}

class Builder {
 public:
  Builder(const SegmentContext& ctx, SegmentOutcome* out) : ctx_(ctx), out_(out) {}

  uint64_t OffsetOf(uint64_t seq) const {
    return SatAdd(ctx_.header.base_offset, seq - ctx_.header.base_seq);  // seq >= base_seq
  }

  // Fills record counts, index, the resynced spans and their events.
  void TakeScan(const SegmentScan& scan) {
    storage::SegmentState& st = out_->state;
    st.record_count = scan.record_count;
    st.has_records = scan.has_records;
    st.last_seq = scan.has_records ? scan.last_seq : 0;
    st.max_timestamp_ms = scan.max_timestamp_ms;
    st.index = scan.index;
    for (const ScanSpan& span : scan.spans) {
      const uint64_t first = OffsetOf(span.first_lost_seq);
      const uint64_t end = OffsetOf(span.end_lost_seq);
      // Zero-byte spans (sequence gaps) hold no bytes to skip; the hole is implied by seqs.
      if (span.byte_end > span.byte_start) st.skipped.push_back({span.byte_start, span.byte_end, first, end});
      AddEvent(span.byte_start, span.byte_end, span.reason, first, end, true, end - first,
               /*quarantine=*/span.byte_end > span.byte_start, /*persistent=*/true);
    }
  }

  void AddEvent(uint64_t byte_start, uint64_t byte_end, LossReason reason, uint64_t first, uint64_t end, bool exact,
                uint64_t records, bool quarantine, bool persistent, bool truncated = false) {
    PlannedEvent p;
    p.event.segment_id = ctx_.id;
    p.event.byte_offset_start = byte_start;
    p.event.byte_offset_end = byte_end;
    p.event.reason = reason;
    p.event.first_lost_offset = first;
    p.event.end_lost_offset = end;
    p.event.offsets_exact = exact;
    p.event.records_lost_estimate = records;
    p.event.truncated = truncated;
    p.quarantine = quarantine;
    p.persistent = persistent;
    out_->events.push_back(p);
  }

 private:
  const SegmentContext& ctx_;
  SegmentOutcome* out_;
};

// The reason a skipped tail of a segment we never edit is reported under.
LossReason SealedTailReason(TailKind kind) {
  switch (kind) {
    case TailKind::kPastEnd:
    case TailKind::kCorruptBody:
      return LossReason::kCorruptRecordBody;
    default:
      // Zeros, a stub shorter than a header or a bad header inside a segment that was complete
      // once: its header bytes are what is damaged.
      return LossReason::kCorruptRecordHeader;
  }
}

}  // namespace

Result<SegmentOutcome> RecoverSegment(io::File* file, const SegmentContext& ctx) {
  const format::SegmentHeader& h = ctx.header;
  SegmentOutcome out;
  storage::SegmentState& st = out.state;
  st.id = ctx.id;
  st.base_seq = h.base_seq;
  st.base_offset = h.base_offset;
  st.file_len = ctx.file_len;
  Builder b(ctx, &out);

  // The next segment's base, in this segment's seq space: no record of ours may reach it.
  uint64_t next_limit_seq = kU64Max;
  if (ctx.next_base_offset && *ctx.next_base_offset >= h.base_offset) {
    next_limit_seq = SatAdd(h.base_seq, *ctx.next_base_offset - h.base_offset);
  }
  const uint64_t record_start = format::kSegmentHeaderSize;
  const bool encrypted = format::SegmentEncrypted(h);

  ASSIGN_OR_RETURN(auto footer, ReadFooter(file, ctx.file_len));
  const bool footer_names_other = footer && footer->segment_id != ctx.id;
  if (footer && !footer_names_other) {
    // An empty segment's footer carries last_seq = base_seq (spec 4.2).
    const bool empty = footer->record_count == 0;
    const bool shape_ok = empty ? footer->last_seq == h.base_seq
                                : footer->last_seq >= h.base_seq && footer->last_seq != kU64Max;
    const uint64_t footer_end_seq = empty ? h.base_seq : (shape_ok ? footer->last_seq + 1 : 0);
    if (shape_ok) {
      const uint64_t body_end = ctx.file_len - format::kSegmentFooterSize;
      ASSIGN_OR_RETURN(SegmentScan scan, ScanSegment(file, {h.base_seq, h.base_offset, record_start, body_end,
                                                            footer_end_seq, encrypted}));
      const bool trusted = scan.clean() && scan.record_count == footer->record_count && scan.next_seq == footer_end_seq;
      // Footer-guided only while the footer's end agrees with the next segment's base; a
      // trusted footer wins over a next segment that overlaps it (that one is the odd one).
      const bool guided = !scan.clean() && scan.next_seq <= footer_end_seq && footer_end_seq <= next_limit_seq;
      if (trusted || guided) {
        // Sealed: trusted, or footer-guided (D1: damage inside, end known from the footer).
        st.sealed = true;
        st.valid_end = body_end;
        st.end_offset = b.OffsetOf(footer_end_seq);
        b.TakeScan(scan);
        if (scan.tail_kind != TailKind::kNone) {
          const uint64_t first = b.OffsetOf(scan.next_seq);
          st.skipped.push_back({scan.tail_start, body_end, first, st.end_offset});
          b.AddEvent(scan.tail_start, body_end, SealedTailReason(scan.tail_kind), first, st.end_offset, true,
                     st.end_offset - first, true, true);
        }
        return out;
      }
    }
  }

  // Unsealed: the whole file is record bytes or tail (spec 4.3 step 4).
  ASSIGN_OR_RETURN(SegmentScan scan,
                   ScanSegment(file, {h.base_seq, h.base_offset, record_start, ctx.file_len, next_limit_seq,
                                                     encrypted}));
  b.TakeScan(scan);
  const uint64_t resume = b.OffsetOf(scan.next_seq);
  st.end_offset = resume;
  st.valid_end = scan.data_end;
  if (scan.tail_kind == TailKind::kNone) return out;

  const uint64_t tail_start = scan.tail_start;
  const uint64_t tail_end = ctx.file_len;
  if (!ctx.is_last) {
    // A segment that is not the last one is never edited: its tail is skipped. Its end is
    // the next segment's base when that one follows directly; otherwise the chain walk
    // reports the rest as a gap.
    const bool bounded = ctx.next_adjacent && next_limit_seq != kU64Max && next_limit_seq >= scan.next_seq;
    if (bounded) st.end_offset = b.OffsetOf(next_limit_seq);
    st.valid_end = tail_end;
    st.skipped.push_back({tail_start, tail_end, resume, st.end_offset});
    b.AddEvent(tail_start, tail_end, SealedTailReason(scan.tail_kind), resume, st.end_offset, bounded,
               bounded ? st.end_offset - resume : 1, true, true);
    return out;
  }

  // The active segment: the tail is cut at tail_start and appends resume there, at `resume`.
  // No offset is skipped, so the event's offset range is empty and not exact.
  LossReason reason;
  switch (scan.tail_kind) {
    case TailKind::kZero:     // preallocated or ext4 zero-extended tail (D2)
    case TailKind::kPastEnd:  // the writer crashed mid-frame
      reason = LossReason::kTornTail;
      break;
    case TailKind::kShort:
      // Fewer bytes than a header: a torn write, unless they are the remains of a footer that
      // names another segment (a mixed-up file: damage, kept for forensics).
      reason = footer_names_other && tail_start == tail_end - format::kSegmentFooterSize
                   ? LossReason::kCorruptRecordHeader
                   : LossReason::kTornTail;
      break;
    case TailKind::kCorruptBody:
      reason = LossReason::kCorruptRecordBody;
      break;
    default:
      reason = LossReason::kCorruptRecordHeader;
      break;
  }
  b.AddEvent(tail_start, tail_end, reason, resume, resume, false, 1, IsDataLoss(reason), false, true);
  out.truncate_to = tail_start;
  st.file_len = tail_start;
  st.valid_end = tail_start;
  return out;
}

}  // namespace ironbus::recovery
