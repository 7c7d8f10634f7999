// storage::Log, reader side: Read and the accessors. Everything here takes mu_ shared just
// long enough to copy a snapshot (shared_ptrs to immutable published states and read-only
// handles); the file reads run without any lock, concurrently with the appender.
#include <algorithm>
#include <string>

#include "storage/log.h"
#include "storage/segment_reader.h"

namespace ironbus::storage {

Result<ReadBatch> Log::Read(uint64_t offset, size_t max_records, uint64_t max_bytes, ReadPosition* position) const {
  const ReadPosition hint = position != nullptr ? *position : ReadPosition{};
  if (position != nullptr) *position = ReadPosition{};
  std::vector<Published> snapshot;
  uint64_t head = 0;
  uint64_t first = 0;
  {
    std::shared_lock<std::shared_mutex> lock(mu_);
    head = readable_offset_;
    first = segments_.empty() ? head : segments_.front().state->base_offset;
    if (offset >= first && offset < head) {
      // The segment holding `offset`: the last one whose base is at or below it.
      auto it = std::upper_bound(segments_.begin(), segments_.end(), offset,
                                 [](uint64_t o, const Published& p) { return o < p.state->base_offset; });
      if (it != segments_.begin()) --it;
      snapshot.assign(it, segments_.end());
    }
  }
  if (offset < first) {
    return Status::OutOfRange("offset " + std::to_string(offset) + " is below the oldest retained offset " +
                              std::to_string(first));
  }
  if (offset > head) {
    return Status::OutOfRange("offset " + std::to_string(offset) + " is past the readable head " +
                              std::to_string(head));
  }
  ReadBatch batch;
  batch.next_offset = offset;
  if (offset == head || max_records == 0) return batch;

  // Where this read stopped, for the caller's next one (set only when a segment was read).
  ReadPosition stop;
  auto done = [&] {
    if (position != nullptr) *position = stop;
    return std::move(batch);
  };
  uint64_t bytes = 0;
  for (const Published& seg : snapshot) {
    const SegmentState& st = *seg.state;
    if (st.base_offset >= head) break;
    if (seg.file == nullptr || st.unreadable) {
      // A segment quarantined whole: its offsets are a hole.
      batch.next_offset = std::max(batch.next_offset, std::min(st.end_offset, head));
      continue;
    }
    SegmentReader reader(seg.file.get(), &st, st.valid_end, options_.keys.get());
    const uint64_t from = std::max(offset, st.base_offset);
    const bool hinted = hint.byte_pos != 0 && hint.segment_id == st.id && hint.offset == from;
    Status s = hinted ? reader.SeekNear(from, hint.byte_pos) : reader.Seek(from);
    if (!s.ok()) {
      if (!batch.records.empty()) return done();
      return s;
    }
    while (true) {
      if (batch.records.size() >= max_records) return done();
      SegmentRecord rec;
      Result<bool> more = reader.Next(&rec);
      if (!more.ok()) {
        // Bit rot after open: serve what was read; the next read starting here gets the error.
        if (!batch.records.empty()) return done();
        return more.status();
      }
      if (!*more) break;
      if (rec.offset >= head) return done();  // cannot happen: the published state ends at head
      if (!batch.records.empty() && bytes + rec.frame_len > max_bytes) {
        stop = ReadPosition{st.id, rec.offset, rec.byte_pos};  // not returned: start there
        return done();
      }
      LogRecord out;
      out.offset = rec.offset;
      out.frame_len = rec.frame_len;
      out.record = format::Record::FromView(rec.record);
      bytes += rec.frame_len;
      batch.records.push_back(std::move(out));
      batch.next_offset = rec.offset + 1;
      stop = ReadPosition{st.id, rec.offset + 1, reader.position()};
    }
    // The whole segment was read: continue after it (past any hole at its end).
    batch.next_offset = std::max(batch.next_offset, std::min(st.end_offset, head));
  }
  return done();
}

uint64_t Log::first_offset() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  return segments_.empty() ? readable_offset_ : segments_.front().state->base_offset;
}

uint64_t Log::durable_offset() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  return durable_offset_;
}

uint64_t Log::readable_offset() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  return readable_offset_;
}

bool Log::frozen() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  return !frozen_.ok();
}

Status Log::frozen_status() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  return frozen_;
}

std::vector<SegmentInfo> Log::segments() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  std::vector<SegmentInfo> out;
  out.reserve(segments_.size());
  for (size_t i = 0; i < segments_.size(); ++i) {
    const SegmentState& s = *segments_[i].state;
    SegmentInfo info;
    info.id = s.id;
    info.base_offset = s.base_offset;
    info.end_offset = s.end_offset;
    info.record_count = s.record_count;
    info.record_bytes = s.DurableRecordBytes();
    info.max_timestamp_ms = s.max_timestamp_ms;
    info.sealed = s.sealed;
    info.unreadable = s.unreadable;
    info.active = i + 1 == segments_.size() && !s.sealed && !s.unreadable;
    out.push_back(info);
  }
  return out;
}

LogStats Log::stats() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  LogStats st;
  st.segment_count = segments_.size();
  for (const Published& p : segments_) {
    st.record_count += p.state->record_count;
    st.record_bytes += p.state->DurableRecordBytes();
  }
  st.first_offset = segments_.empty() ? readable_offset_ : segments_.front().state->base_offset;
  st.durable_offset = durable_offset_;
  st.readable_offset = readable_offset_;
  return st;
}

}  // namespace ironbus::storage
