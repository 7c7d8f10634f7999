#include "recovery/segment_auth.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <limits>
#include <optional>

#include "format/record.h"
#include "format/record_format.h"

namespace ironbus::recovery {
namespace {

Status ReadExact(io::File* file, uint64_t pos, uint8_t* out, size_t n) {
  size_t done = 0;
  while (done < n) {
    ASSIGN_OR_RETURN(size_t got, file->ReadAt(pos + done, std::span<uint8_t>(out + done, n - done)));
    if (got == 0) return Status::IOError(file->path() + ": file shrank during recovery");
    done += got;
  }
  return Status::Ok();
}

PlannedEvent Event(uint64_t segment_id, uint64_t byte_start, uint64_t byte_end, LossReason reason,
                   uint64_t first, uint64_t end) {
  PlannedEvent p;
  p.event.segment_id = segment_id;
  p.event.byte_offset_start = byte_start;
  p.event.byte_offset_end = byte_end;
  p.event.reason = reason;
  p.event.first_lost_offset = first;
  p.event.end_lost_offset = end;
  p.event.offsets_exact = true;
  p.event.records_lost_estimate = std::max<uint64_t>(end - first, 1);
  p.quarantine = false;  // ciphertext stays in place; nothing to copy
  p.persistent = true;
  return p;
}

// The whole readable range is unreadable without its key.
void LoseWholeSegment(SegmentOutcome* out) {
  storage::SegmentState& st = out->state;
  const uint64_t start = format::kSegmentHeaderSize;
  // Spans the scan found inside the range are part of this one now; a cut tail (past
  // valid_end, not persistent) stays its own event.
  std::erase_if(out->events, [&](const PlannedEvent& e) {
    return e.persistent && e.event.byte_offset_start >= start && e.event.byte_offset_end <= st.valid_end;
  });
  st.skipped.clear();
  if (st.valid_end > start || st.end_offset > st.base_offset) {
    out->events.push_back(Event(st.id, start, st.valid_end, LossReason::kUnknownKeyId, st.base_offset, st.end_offset));
    if (st.valid_end > start) st.skipped.push_back({start, st.valid_end, st.base_offset, st.end_offset});
  }
  // record_count, last_seq and the index keep describing the frames on disk: a footer written
  // later (a seal at open after rotation) must agree with the scan of the next open.
}

}  // namespace

Status AuthenticateSegment(io::File* file, const format::SegmentHeader& header, const format::KeyRing* keys,
                           SegmentOutcome* out) {
  storage::SegmentState& st = out->state;
  st.aead_suite = format::SegmentAeadSuiteId(header);
  st.key_id = format::SegmentKeyId(header);
  const std::optional<format::AeadSuite> suite = format::AeadSuiteFromId(st.aead_suite);
  const uint8_t* key = keys != nullptr ? keys->KeyBytes(st.key_id) : nullptr;
  if (!suite || key == nullptr) {
    LoseWholeSegment(out);
    return Status::Ok();
  }

  struct Run {
    uint64_t byte_start = 0, byte_end = 0, first = 0, end = 0;
  };
  std::optional<Run> run;
  std::vector<storage::SkippedSpan> found;
  auto flush = [&] {
    if (!run) return;
    found.push_back({run->byte_start, run->byte_end, run->first, run->end});
    out->events.push_back(Event(st.id, run->byte_start, run->byte_end, LossReason::kAeadTagMismatch, run->first, run->end));
    run.reset();
  };

  Bytes frame;
  Bytes plain;
  size_t span = 0;
  uint64_t pos = format::kSegmentHeaderSize;
  while (pos < st.valid_end) {
    // Step over what the scan already reported; a run never crosses such a span.
    if (span < st.skipped.size() && st.skipped[span].byte_start <= pos) {
      flush();
      pos = std::max(pos, st.skipped[span].byte_end);
      ++span;
      continue;
    }
    const uint64_t left = st.valid_end - pos;
    uint8_t head[format::kRecordHeaderSize + format::kTaggedFieldLenSize];
    const size_t head_len = static_cast<size_t>(std::min<uint64_t>(left, sizeof(head)));
    RETURN_IF_ERROR(ReadExact(file, pos, head, head_len));
    const format::ProbeResult probe = format::ProbeRecord(ByteView(head, head_len));
    if (probe.outcome != format::ParseOutcome::kOk || probe.total_len > left) {
      return Status::IOError(file->path() + ": byte " + std::to_string(pos) + " changed during recovery");
    }
    frame.resize(static_cast<size_t>(probe.total_len));
    RETURN_IF_ERROR(ReadExact(file, pos, frame.data(), frame.size()));
    format::RecordView view;
    const format::DecodeResult d = format::DecodeRecord(frame, &view);
    if (d.outcome != format::ParseOutcome::kOk || !view.sealed || view.seq < st.base_seq) {
      return Status::IOError(file->path() + ": byte " + std::to_string(pos) + " changed during recovery");
    }
    const uint64_t counter = view.seq - st.base_seq;
    const uint64_t offset = st.base_offset + counter;
    format::RecordCipher cipher{*suite, key, st.id, static_cast<uint32_t>(counter)};
    const bool opened = counter <= std::numeric_limits<uint32_t>::max() &&
                        format::OpenRecord(view, cipher, &plain, &view);
    if (!plain.empty()) OPENSSL_cleanse(plain.data(), plain.size());
    if (opened) {
      flush();
    } else {
      if (!run) run = Run{pos, pos, offset, offset};
      run->byte_end = pos + probe.total_len;
      run->end = offset + 1;
    }
    pos += probe.total_len;
  }
  flush();
  if (found.empty()) return Status::Ok();
  // Merge the new spans into the ascending, disjoint list readers step over.
  st.skipped.insert(st.skipped.end(), found.begin(), found.end());
  std::sort(st.skipped.begin(), st.skipped.end(),
            [](const storage::SkippedSpan& a, const storage::SkippedSpan& b) { return a.byte_start < b.byte_start; });
  // record_count and last_seq keep counting the frames on disk (see LoseWholeSegment).
  return Status::Ok();
}

}  // namespace ironbus::recovery
