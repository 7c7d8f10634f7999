#include "recovery/segment_scan.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <string>

#include "format/crc32c.h"
#include "format/record.h"
#include "format/record_format.h"

namespace ironbus::recovery {
namespace {

using format::ParseOutcome;

constexpr uint64_t kU64Max = std::numeric_limits<uint64_t>::max();
constexpr size_t kWindowBytes = 64 * 1024;
// Sequential reads go through one read-ahead buffer: a frame that fits is decoded in place.
constexpr size_t kReadAheadBytes = 256 * 1024;
// The probe needs 38 bytes when a subject or stream-tag bit is set.
constexpr size_t kProbeBytes = format::kRecordHeaderSize + format::kTaggedFieldLenSize;
constexpr uint8_t kMagicLo = format::kRecordMagic & 0xff;
constexpr uint8_t kMagicHi = format::kRecordMagic >> 8;

enum class FrameKind : uint8_t { kOk, kShort, kPastEnd, kCorruptHeader, kCorruptBody };

struct Frame {
  FrameKind kind = FrameKind::kCorruptHeader;
  ParseOutcome outcome = ParseOutcome::kOk;
  uint64_t len = 0;
  uint64_t seq = 0;
  uint64_t timestamp_ms = 0;
  uint8_t version = 0;
  bool foreign_version = false;  // header CRC valid, record version unknown to this build
};

// Reads one segment file within [lo, end): one frame buffer, one search window.
class FrameReader {
 public:
  // `encrypted`: what the record ENCRYPTED flag must say; nullopt = either (the census of a
  // file whose header is unreadable).
  FrameReader(io::File* file, uint64_t lo, uint64_t end, std::optional<bool> encrypted = std::nullopt)
      : file_(file), lo_(lo), end_(end), encrypted_(encrypted) {}

  // The header-only probe at `pos`; the body is decoded only when `decode_body`.
  Result<Frame> Examine(uint64_t pos, bool decode_body) {
    Frame f;
    const uint64_t remaining = end_ - pos;
    if (remaining < format::kRecordHeaderSize) {
      f.kind = FrameKind::kShort;
      return f;
    }
    const size_t n = static_cast<size_t>(std::min<uint64_t>(remaining, kProbeBytes));
    ASSIGN_OR_RETURN(ByteView bytes, View(pos, n));
    const uint8_t* head = bytes.data();
    const format::ProbeResult probe = format::ProbeRecord(bytes);
    f.outcome = probe.outcome;
    f.version = probe.version;
    f.seq = DecodeFixed64(head + format::kRecordOffSeq);
    if (probe.outcome == ParseOutcome::kTruncated) {
      f.kind = FrameKind::kShort;  // a subject/tag bit set and its length field cut off
      return f;
    }
    if (probe.outcome != ParseOutcome::kOk) {
      f.kind = format::IsHeaderOutcome(probe.outcome) ? FrameKind::kCorruptHeader : FrameKind::kCorruptBody;
      // A version we do not know under a valid header CRC was written on purpose (reference
      // data from a newer build), not damaged: the caller fails closed on it (D3).
      f.foreign_version = probe.outcome == ParseOutcome::kUnsupportedVersion &&
                          format::crc32c::Value(head, format::kRecordHeaderCrcCoverage) ==
                              DecodeFixed32(head + format::kRecordOffHeaderCrc);
      return f;
    }
    f.len = probe.total_len;
    if (f.len > remaining) {
      f.kind = FrameKind::kPastEnd;
      return f;
    }
    f.kind = FrameKind::kOk;
    if (decode_body) RETURN_IF_ERROR(DecodeBody(pos, &f));
    return f;
  }

  // Full decode of a frame whose header checked; downgrades f->kind on failure.
  Status DecodeBody(uint64_t pos, Frame* f) {
    // f->len <= bytes left in the file and <= the 1 GiB ceiling (the probe checked both).
    ASSIGN_OR_RETURN(ByteView bytes, View(pos, static_cast<size_t>(f->len)));
    format::RecordView view;
    const format::DecodeResult d = format::DecodeRecord(bytes, &view);
    f->outcome = d.outcome;
    if (d.outcome != ParseOutcome::kOk || d.frame_len != f->len) {
      f->kind = format::IsHeaderOutcome(d.outcome) ? FrameKind::kCorruptHeader : FrameKind::kCorruptBody;
      return Status::Ok();
    }
    if (encrypted_ && view.sealed.has_value() != *encrypted_) {
      f->outcome = ParseOutcome::kBadLength;  // a record flag that disagrees with its segment
      f->kind = FrameKind::kCorruptBody;
      return Status::Ok();
    }
    f->seq = view.seq;
    f->timestamp_ms = view.timestamp_ms;
    return Status::Ok();
  }

  // The next position q >= from holding 42 49 01 with room for a minimal frame before `end`.
  Result<std::optional<uint64_t>> NextPattern(uint64_t from) {
    while (from < end_ && end_ - from >= format::kMinRecordFrameSize) {
      if (!(from >= win_pos_ && from + 3 <= win_pos_ + window_.size())) {
        window_.resize(static_cast<size_t>(std::min<uint64_t>(kWindowBytes, end_ - from)));
        RETURN_IF_ERROR(ReadExact(from, window_.data(), window_.size()));
        win_pos_ = from;
      }
      const uint8_t* base = window_.data();
      const size_t limit = window_.size() - 2;
      for (size_t i = static_cast<size_t>(from - win_pos_); i < limit;) {
        const void* hit = std::memchr(base + i, kMagicLo, limit - i);
        if (hit == nullptr) break;
        i = static_cast<size_t>(static_cast<const uint8_t*>(hit) - base);
        if (base[i + 1] == kMagicHi && base[i + 2] == format::kRecordVersion) {
          const uint64_t q = win_pos_ + i;
          if (end_ - q < format::kMinRecordFrameSize) return std::optional<uint64_t>();
          return std::optional<uint64_t>(q);
        }
        ++i;
      }
      from = win_pos_ + limit;  // the next window overlaps this one by 2 bytes
    }
    return std::optional<uint64_t>();
  }

  // True when [pos, end) is all zero. The zero suffix is found once, scanning backwards.
  Result<bool> ZeroFrom(uint64_t pos) {
    if (!zero_start_) {
      Bytes chunk;
      uint64_t z = end_;
      uint64_t found = lo_;
      while (z > lo_) {
        const uint64_t from = z - std::min<uint64_t>(kWindowBytes, z - lo_);
        chunk.resize(static_cast<size_t>(z - from));
        RETURN_IF_ERROR(ReadExact(from, chunk.data(), chunk.size()));
        auto nonzero = std::find_if(chunk.rbegin(), chunk.rend(), [](uint8_t b) { return b != 0; });
        if (nonzero != chunk.rend()) {
          found = from + static_cast<uint64_t>(chunk.rend() - nonzero);
          break;
        }
        z = from;
      }
      zero_start_ = found;
    }
    return pos >= *zero_start_;
  }

 private:
  // Bytes [pos, pos + n), valid until the next View call: from the read-ahead buffer when they
  // fit in it, else read into the frame buffer (one frame in memory at a time).
  Result<ByteView> View(uint64_t pos, size_t n) {
    if (!(pos >= ra_pos_ && pos + n <= ra_pos_ + ahead_.size())) {
      if (n > kReadAheadBytes) {
        frame_.resize(n);
        RETURN_IF_ERROR(ReadExact(pos, frame_.data(), n));
        return ByteView(frame_.data(), n);
      }
      ahead_.resize(static_cast<size_t>(std::min<uint64_t>(kReadAheadBytes, end_ - pos)));
      RETURN_IF_ERROR(ReadExact(pos, ahead_.data(), ahead_.size()));
      ra_pos_ = pos;
    }
    return ByteView(ahead_.data() + (pos - ra_pos_), n);
  }

  Status ReadExact(uint64_t pos, uint8_t* out, size_t n) {
    size_t done = 0;
    while (done < n) {
      ASSIGN_OR_RETURN(size_t got, file_->ReadAt(pos + done, std::span<uint8_t>(out + done, n - done)));
      if (got == 0) {
        return Status::IOError(file_->path() + ": file shrank during recovery (short read at byte " +
                               std::to_string(pos + done) + ")");
      }
      done += got;
    }
    return Status::Ok();
  }

  io::File* file_;
  uint64_t lo_;
  uint64_t end_;
  std::optional<bool> encrypted_;
  Bytes frame_;
  Bytes ahead_;
  uint64_t ra_pos_ = 0;
  Bytes window_;
  uint64_t win_pos_ = 0;
  std::optional<uint64_t> zero_start_;
};

// The last seq this segment can hold without its offset or seq + 1 overflowing u64.
uint64_t OverflowLimit(uint64_t base_seq, uint64_t base_offset) {
  const uint64_t room = kU64Max - base_offset;  // seq - base_seq must stay below this
  return base_seq > kU64Max - room ? kU64Max : base_seq + room;
}

LossReason ReasonOf(const Frame& f) {
  // A frame that decodes but carries a seq out of place is damage of its header's seq field.
  return f.kind == FrameKind::kCorruptBody || f.kind == FrameKind::kPastEnd ? LossReason::kCorruptRecordBody
                                                                             : LossReason::kCorruptRecordHeader;
}

Status ForeignVersion(io::File* file, uint64_t pos, const Frame& f) {
  return Status::FailedPrecondition(file->path() + ": record at byte " + std::to_string(pos) + " has version " +
                                    std::to_string(f.version) +
                                    " under a valid header CRC: unsupported record version (newer IronBus data); "
                                    "this build does not read it");
}

// The resync rule's last clause: what follows a candidate record ending at `at`.
Result<bool> SuccessorChecks(FrameReader& r, uint64_t at, uint64_t end, uint64_t seq) {
  if (at == end) return true;
  ASSIGN_OR_RETURN(Frame next, r.Examine(at, true));
  if (next.kind == FrameKind::kShort || next.kind == FrameKind::kPastEnd) return true;  // torn tail
  if (next.kind == FrameKind::kOk) return next.seq == seq + 1;
  return r.ZeroFrom(at);  // an all-zero tail (D2)
}

struct Target {
  uint64_t pos = 0;
  Frame frame;
};

// The first q >= from that passes the resync rule for seqs in [lo_seq, limit).
Result<std::optional<Target>> FindResync(FrameReader& r, uint64_t from, uint64_t end, uint64_t lo_seq,
                                         uint64_t limit) {
  while (true) {
    ASSIGN_OR_RETURN(std::optional<uint64_t> q, r.NextPattern(from));
    if (!q) return std::optional<Target>();
    ASSIGN_OR_RETURN(Frame f, r.Examine(*q, false));
    // The seq check runs on the CRC-checked header, before the body is read.
    if (f.kind == FrameKind::kOk && f.seq >= lo_seq && f.seq < limit) {
      RETURN_IF_ERROR(r.DecodeBody(*q, &f));
      if (f.kind == FrameKind::kOk) {
        ASSIGN_OR_RETURN(bool follows, SuccessorChecks(r, *q + f.len, end, f.seq));
        if (follows) return std::optional<Target>(Target{*q, f});
      }
    }
    from = *q + 1;
  }
}

}  // namespace

Result<SegmentScan> ScanSegment(io::File* file, const ScanParams& p) {
  SegmentScan s;
  s.next_seq = p.base_seq;
  s.data_end = p.start;
  s.tail_start = p.start;
  const uint64_t end = std::max(p.start, p.end);
  FrameReader r(file, p.start, end, p.encrypted);
  const uint64_t overflow_limit = OverflowLimit(p.base_seq, p.base_offset);
  const uint64_t resync_limit = std::min(p.resync_seq_limit, overflow_limit);
  uint64_t last_anchor_pos = 0;

  auto accept = [&](uint64_t at, const Frame& f, bool after_hole) {
    if (s.index.empty() || after_hole || at - last_anchor_pos >= storage::kSparseIndexStrideBytes) {
      s.index.push_back({p.base_offset + (f.seq - p.base_seq), at});
      last_anchor_pos = at;
    }
    ++s.record_count;
    s.has_records = true;
    s.last_seq = f.seq;
    s.next_seq = f.seq + 1;  // f.seq < overflow_limit <= u64 max
    const int64_t ts = f.timestamp_ms > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())
                           ? std::numeric_limits<int64_t>::max()
                           : static_cast<int64_t>(f.timestamp_ms);
    s.max_timestamp_ms = std::max(s.max_timestamp_ms, ts);
    s.data_end = at + f.len;
  };

  uint64_t pos = p.start;
  while (pos < end) {
    ASSIGN_OR_RETURN(Frame f, r.Examine(pos, true));
    if (f.foreign_version) return ForeignVersion(file, pos, f);
    if (f.kind == FrameKind::kOk) {
      if (f.seq == s.next_seq && f.seq < overflow_limit) {
        accept(pos, f, false);
        pos += f.len;
        continue;
      }
      if (f.seq > s.next_seq && f.seq < resync_limit) {
        ASSIGN_OR_RETURN(bool follows, SuccessorChecks(r, pos + f.len, end, f.seq));
        if (follows) {
          // Seqs jump with no damaged byte in between: a gap, 0 bytes (D1).
          s.spans.push_back({pos, pos, LossReason::kSequenceGap, s.next_seq, f.seq});
          accept(pos, f, true);
          pos += f.len;
          continue;
        }
      }
    }
    // The frame at pos is bad: look for the next record the resync rule accepts.
    ASSIGN_OR_RETURN(std::optional<Target> target, FindResync(r, pos + 1, end, s.next_seq, resync_limit));
    if (target) {
      s.spans.push_back({pos, target->pos, ReasonOf(f), s.next_seq, target->frame.seq});
      accept(target->pos, target->frame, true);
      pos = target->pos + target->frame.len;
      continue;
    }
    // No record after pos passes: [pos, end) is the tail. Classified by the frame at pos only
    // (spec 6.3), except that an all-zero tail is its own kind (D2).
    s.tail_start = pos;
    ASSIGN_OR_RETURN(bool zero, r.ZeroFrom(pos));
    if (zero) {
      s.tail_kind = TailKind::kZero;
    } else if (f.kind == FrameKind::kShort) {
      s.tail_kind = TailKind::kShort;
    } else if (f.kind == FrameKind::kPastEnd) {
      s.tail_kind = TailKind::kPastEnd;
    } else {
      s.tail_kind = ReasonOf(f) == LossReason::kCorruptRecordBody ? TailKind::kCorruptBody : TailKind::kCorruptHeader;
    }
    return s;
  }
  s.tail_start = s.data_end;
  return s;
}

Result<FrameCensus> CensusFrames(io::File* file, uint64_t end) {
  FrameCensus c;
  FrameReader r(file, 0, end);
  uint64_t from = 0;
  while (true) {
    ASSIGN_OR_RETURN(std::optional<uint64_t> q, r.NextPattern(from));
    if (!q) return c;
    ASSIGN_OR_RETURN(Frame f, r.Examine(*q, true));
    if (f.kind != FrameKind::kOk) {
      from = *q + 1;
      continue;
    }
    ++c.frames;
    if (!c.has_max || f.seq >= c.max_seq) {
      c.has_max = true;
      c.max_seq = f.seq;
      c.max_seq_frame_end = *q + f.len;
    }
    from = *q + f.len;
  }
}

}  // namespace ironbus::recovery
