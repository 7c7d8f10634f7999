// Helpers shared by the storage tests: record builders, and a minimal scan that turns a CLEAN
// data directory back into a LogState (a stand-in for recovery, which storage must not
// include). The scan handles intact segments only; damaged bytes are a test failure here.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/bytes.h"
#include "format/record.h"
#include "format/record_format.h"
#include "format/segment.h"
#include "format/segment_name.h"
#include "io/file_system.h"
#include "io/sim_file_system.h"
#include "storage/log.h"
#include "storage/log_state.h"

namespace ironbus::storage::testing {

inline constexpr char kDir[] = "/data";

// A fresh-directory LogState: no segments, next offset and seq 0.
inline LogState FreshState(const std::string& dir = kDir) {
  LogState s;
  s.dir = dir;
  s.needs_new_active_segment = true;
  return s;
}

// Options that keep payloads raw (so byte counts are predictable).
inline LogOptions RawOptions(uint64_t max_segment_bytes = format::kDefaultSegmentBytes) {
  LogOptions o;
  o.max_segment_bytes = max_segment_bytes;
  o.compression = format::Compression::kNone;
  return o;
}

// Views `payload`: keep it alive until the Append returns (a temporary inside the call is fine).
inline AppendRecord Rec(const Bytes& payload, int64_t ts = 0) {
  AppendRecord r;
  r.payload = payload;
  r.timestamp_ms = ts;
  return r;
}

// "p<i>" padded with 'x' to `size` bytes.
inline Bytes Payload(uint64_t i, size_t size = 16) {
  std::string s = "p" + std::to_string(i);
  s.resize(std::max(size, s.size()), 'x');
  return ToBytes(s);
}

// Frame length of a raw, keyless record with `payload_size` payload bytes (below 64 KiB).
inline uint64_t FrameLen(size_t payload_size) { return format::kMinRecordFrameSize + payload_size; }

inline std::string SegPath(uint64_t id, const std::string& dir = kDir) {
  return io::JoinPath(dir, format::SegmentFileName(id));
}

// Scans the frames of `content` from 64 to `end`; false on any bad frame.
inline bool ScanFrames(ByteView content, uint64_t end, SegmentState* s) {
  uint64_t pos = format::kSegmentHeaderSize;
  while (pos < end) {
    format::RecordView v;
    format::DecodeResult d = format::DecodeRecord(content.subspan(pos, end - pos), &v);
    if (d.outcome != format::ParseOutcome::kOk) return false;
    if (v.seq != s->base_seq + (s->end_offset - s->base_offset)) return false;
    s->record_count += 1;
    s->has_records = true;
    s->last_seq = v.seq;
    s->max_timestamp_ms = std::max<int64_t>(s->max_timestamp_ms, static_cast<int64_t>(v.timestamp_ms));
    s->end_offset += 1;
    pos += d.frame_len;
  }
  s->valid_end = pos;
  return pos == end;
}

// Rebuilds the LogState of a clean directory (every frame intact, footers exact).
inline LogState ScanCleanDir(io::FileSystem& fs, const std::string& dir = kDir) {
  LogState state;
  state.dir = dir;
  auto entries = fs.List(dir);
  EXPECT_TRUE(entries.ok()) << entries.status().ToString();
  std::vector<uint64_t> ids;
  for (const auto& e : *entries) {
    if (auto id = format::ParseSegmentFileName(e.name)) ids.push_back(*id);
  }
  std::sort(ids.begin(), ids.end());
  for (uint64_t id : ids) {
    auto content = io::ReadWholeFile(fs, SegPath(id, dir), 1ull << 30);
    EXPECT_TRUE(content.ok()) << content.status().ToString();
    format::SegmentHeader h;
    EXPECT_EQ(format::DecodeSegmentHeader(*content, &h), format::SegmentHeaderError::kOk);
    SegmentState s;
    s.id = id;
    s.base_seq = h.base_seq;
    s.base_offset = h.base_offset;
    s.end_offset = h.base_offset;
    s.file_len = content->size();
    if (format::SegmentEncrypted(h)) {
      s.aead_suite = format::SegmentAeadSuiteId(h);
      s.key_id = format::SegmentKeyId(h);
    }
    format::SegmentFooter f;
    const uint64_t len = content->size();
    bool sealed = false;
    if (len >= format::kSegmentHeaderSize + format::kSegmentFooterSize &&
        format::DecodeSegmentFooter(ByteView(*content).subspan(len - 32), &f)) {
      SegmentState probe = s;
      if (ScanFrames(*content, len - 32, &probe) && probe.record_count == f.record_count &&
          f.last_seq == (probe.has_records ? probe.last_seq : probe.base_seq)) {
        s = probe;
        sealed = true;
      }
    }
    if (!sealed) {
      EXPECT_TRUE(ScanFrames(*content, len, &s)) << "damaged segment " << id;
    }
    s.sealed = sealed;
    state.segments.push_back(s);
  }
  if (!state.segments.empty()) {
    state.next_offset = state.segments.back().end_offset;
    state.next_seq = state.segments.back().base_seq + (state.next_offset - state.segments.back().base_offset);
    state.needs_new_active_segment = state.segments.back().sealed;
  } else {
    state.needs_new_active_segment = true;
  }
  return state;
}

// Number of intact frames in the DURABLE bytes of a segment (what a power cut would keep).
inline uint64_t DurableRecordCount(const io::SimFileSystem& fs, const std::string& path) {
  auto content = fs.DurableContent(path);
  if (!content.ok() || content->size() < format::kSegmentHeaderSize) return 0;
  uint64_t pos = format::kSegmentHeaderSize;
  uint64_t n = 0;
  while (pos < content->size()) {
    format::RecordView v;
    format::DecodeResult d = format::DecodeRecord(ByteView(*content).subspan(pos), &v);
    if (d.outcome != format::ParseOutcome::kOk) break;
    ++n;
    pos += d.frame_len;
  }
  return n;
}

// Polls `cond` (the appender works on its own thread); false after a generous bound (20 s).
// Only ever a bound on a hang, never a timing assertion.
template <typename F>
bool Eventually(F cond) {
  for (int i = 0; i < 20000; ++i) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return cond();
}

inline std::unique_ptr<Log> OpenLog(io::FileSystem& fs, LogState state, const LogOptions& options, Clock* clock) {
  auto log = Log::Open(&fs, std::move(state), options, clock);
  EXPECT_TRUE(log.ok()) << log.status().ToString();
  return log.ok() ? std::move(log).value() : nullptr;
}

}  // namespace ironbus::storage::testing
