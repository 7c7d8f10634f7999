#include "storage/segment_reader.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <limits>
#include <optional>
#include <string>

#include "format/record_format.h"
#include "format/segment_name.h"

namespace ironbus::storage {
namespace {

// The probe needs 36 bytes, or 38 when a v2 subject/stream-tag bit is set.
constexpr size_t kProbeBytes = format::kRecordHeaderSize + format::kTaggedFieldLenSize;

}  // namespace

SegmentReader::SegmentReader(io::File* file, const SegmentState* state, uint64_t byte_limit,
                             const format::KeyRing* keys)
    : file_(file),
      state_(state),
      limit_(std::min(byte_limit, state->valid_end)),
      pos_(format::kSegmentHeaderSize),
      next_offset_(state->base_offset),
      keys_(keys) {
  // An unreadable segment (its header failed at open) serves nothing: its whole offset range
  // was reported lost.
  if (state->unreadable || limit_ < pos_) limit_ = pos_;
}

SegmentReader::~SegmentReader() {
  if (!plain_.empty()) OPENSSL_cleanse(plain_.data(), plain_.size());
}

Status SegmentReader::Corrupt(std::string what) {
  error_ = Status::Corruption(format::SegmentFileName(state_->id) + " byte " + std::to_string(pos_) + ": " +
                              std::move(what));
  return error_;
}

void SegmentReader::SkipSpans() {
  const auto& spans = state_->skipped;
  while (span_index_ < spans.size()) {
    const SkippedSpan& span = spans[span_index_];
    if (span.byte_end <= pos_) {
      ++span_index_;
      continue;
    }
    if (span.byte_start > pos_) return;
    // pos_ is inside a span recovery reported lost: the bytes there failed their checks at
    // open, so jump to the next valid frame and let the offsets in between be a hole.
    pos_ = span.byte_end;
    next_offset_ = std::max(next_offset_, span.end_lost_offset);
    ++span_index_;
  }
}

Result<ByteView> SegmentReader::Fetch(uint64_t pos, uint64_t n) {
  if (pos >= window_start_ && pos + n <= window_start_ + window_.size()) {
    return ByteView(window_).subspan(pos - window_start_, n);
  }
  if (n > kReadWindowBytes) {
    // A frame larger than the window gets a buffer of its own (bounded by the limit, which
    // the caller checked, and by the 1 GiB format ceiling).
    frame_.resize(n);
    ASSIGN_OR_RETURN(size_t got, file_->ReadAt(pos, std::span<uint8_t>(frame_.data(), frame_.size())));
    if (got != n) return Corrupt("file shorter than its valid data");
    return ByteView(frame_);
  }
  // Refill the window at `pos`, never past the limit: bytes beyond it may be pending or torn.
  const uint64_t len = std::min<uint64_t>(kReadWindowBytes, limit_ - pos);
  window_.resize(len);
  window_start_ = pos;
  ASSIGN_OR_RETURN(size_t got, file_->ReadAt(pos, std::span<uint8_t>(window_.data(), window_.size())));
  window_.resize(got);
  if (got < n) return Corrupt("file shorter than its valid data");
  return ByteView(window_).subspan(0, n);
}

Status SegmentReader::ProbeAt(uint64_t* total, uint64_t* seq) {
  const uint64_t remaining = limit_ - pos_;
  // The limit is always a frame boundary (a flushed, synced or recovered end), so a header
  // cut by it means the bytes changed under us.
  if (remaining < format::kRecordHeaderSize) return Corrupt("frame header cut by the end of valid data");
  const uint64_t want = std::min<uint64_t>(remaining, kProbeBytes);
  ASSIGN_OR_RETURN(ByteView prefix, Fetch(pos_, want));
  const format::ProbeResult probe = format::ProbeRecord(prefix);
  if (probe.outcome != format::ParseOutcome::kOk) {
    return Corrupt(std::string("record header: ") + std::string(format::ParseOutcomeName(probe.outcome)));
  }
  if (probe.total_len > remaining) return Corrupt("frame runs past the end of valid data");
  *total = probe.total_len;
  *seq = DecodeFixed64(prefix.data() + format::kRecordOffSeq);
  // The header CRC passed; the seq must still fit the segment: at or after the next offset
  // (holes allowed) and below the segment's end. A CRC-valid frame with the wrong seq is
  // never served (spec 16).
  if (*seq < state_->base_seq) return Corrupt("record seq below the segment's base_seq");
  const uint64_t offset = state_->base_offset + (*seq - state_->base_seq);
  if (offset < next_offset_ || offset >= state_->end_offset) {
    return Corrupt("record seq " + std::to_string(*seq) + " out of order");
  }
  return Status::Ok();
}

Status SegmentReader::Seek(uint64_t offset) {
  if (!error_.ok()) return error_;
  pos_ = format::kSegmentHeaderSize;
  next_offset_ = state_->base_offset;
  const auto& index = state_->index;
  // Last anchor at or before `offset` that lies inside the readable range.
  auto it = std::upper_bound(index.begin(), index.end(), offset,
                             [](uint64_t o, const IndexAnchor& a) { return o < a.offset; });
  while (it != index.begin()) {
    --it;
    if (it->byte_pos < limit_ && it->byte_pos >= format::kSegmentHeaderSize) {
      pos_ = it->byte_pos;
      next_offset_ = it->offset;
      break;
    }
  }
  span_index_ = 0;
  while (true) {
    SkipSpans();
    if (pos_ >= limit_) return Status::Ok();
    uint64_t total = 0;
    uint64_t seq = 0;
    RETURN_IF_ERROR(ProbeAt(&total, &seq));
    const uint64_t record_offset = state_->base_offset + (seq - state_->base_seq);
    if (record_offset >= offset) return Status::Ok();
    // Stepping over an earlier frame by its CRC-checked header; its body is checked only if
    // it is ever returned.
    pos_ += total;
    next_offset_ = record_offset + 1;
  }
}

Status SegmentReader::SeekNear(uint64_t offset, uint64_t byte_pos) {
  if (!error_.ok()) return error_;
  if (byte_pos >= format::kSegmentHeaderSize && byte_pos < limit_ && offset >= state_->base_offset) {
    pos_ = byte_pos;
    next_offset_ = offset;
    span_index_ = 0;
    SkipSpans();
    uint64_t total = 0;
    uint64_t seq = 0;
    // ProbeAt checks the header CRC and that the seq is at or after `offset`; equality makes
    // it the very frame asked for.
    if (pos_ == byte_pos && ProbeAt(&total, &seq).ok() && state_->base_offset + (seq - state_->base_seq) == offset) {
      return Status::Ok();
    }
    error_ = Status::Ok();  // the hint was stale, which says nothing about the file: seek anew
  }
  return Seek(offset);
}

Result<bool> SegmentReader::Next(SegmentRecord* out) {
  if (!error_.ok()) return error_;
  SkipSpans();
  if (pos_ >= limit_) return false;
  uint64_t total = 0;
  uint64_t seq = 0;
  RETURN_IF_ERROR(ProbeAt(&total, &seq));
  ASSIGN_OR_RETURN(ByteView frame, Fetch(pos_, total));
  format::RecordView view;
  const format::DecodeResult decoded = format::DecodeRecord(frame, &view);
  if (decoded.outcome != format::ParseOutcome::kOk) {
    return Corrupt(std::string("record: ") + std::string(format::ParseOutcomeName(decoded.outcome)));
  }
  if (decoded.frame_len != total || view.seq != seq) return Corrupt("frame changed while reading");
  // Every record of an encrypted segment is encrypted and no other is (security.md 5.3).
  const bool segment_encrypted = state_->aead_suite != format::kAeadSuiteNone;
  if (view.sealed.has_value() != segment_encrypted) return Corrupt("record: BadLength (encryption flag disagrees with the segment)");
  if (segment_encrypted) {
    // Checked last, after the CRCs and xxh3 (security.md 5.5).
    const std::optional<format::AeadSuite> suite = format::AeadSuiteFromId(state_->aead_suite);
    const uint8_t* key = keys_ != nullptr ? keys_->KeyBytes(state_->key_id) : nullptr;
    if (!suite || key == nullptr) {
      return Corrupt("record: UnknownKeyId (segment key id " + std::to_string(state_->key_id) + ", suite " +
                     std::to_string(state_->aead_suite) + ")");
    }
    format::RecordCipher cipher;
    cipher.suite = *suite;
    cipher.key = key;
    cipher.segment_id = state_->id;
    cipher.record_counter = static_cast<uint32_t>(seq - state_->base_seq);  // ProbeAt bounded the offset
    if (seq - state_->base_seq > std::numeric_limits<uint32_t>::max() ||
        !format::OpenRecord(view, cipher, &plain_, &view)) {
      return Corrupt("record: AeadTagMismatch");
    }
  }
  out->offset = state_->base_offset + (seq - state_->base_seq);
  out->byte_pos = pos_;
  out->frame_len = total;
  out->record = view;
  pos_ += total;
  next_offset_ = out->offset + 1;
  return true;
}

}  // namespace ironbus::storage
