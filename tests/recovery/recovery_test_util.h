// Helpers shared by the recovery tests: segment files built with the format encoders (no
// storage::Log involved), file I/O shortcuts, and a reader that lists every record a
// recovered LogState serves, through storage::SegmentReader.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "format/record.h"
#include "format/record_format.h"
#include "format/segment.h"
#include "format/segment_name.h"
#include "io/file_system.h"
#include "storage/log_state.h"
#include "storage/segment_reader.h"

namespace ironbus::recovery::testing {

inline constexpr uint64_t kTs = 1'700'000'000'000;

struct FrameInfo {
  uint64_t seq = 0;
  uint64_t offset = 0;
  uint64_t start = 0;  // byte range in the segment file
  uint64_t end = 0;
  format::Record record;
};

// One segment file, frames appended with consecutive seqs.
class SegmentBuilder {
 public:
  SegmentBuilder(uint64_t id, uint64_t base_seq, uint64_t base_offset) {
    header_.segment_id = id;
    header_.base_seq = base_seq;
    header_.base_offset = base_offset;
    header_.created_unix_ms = kTs;
    bytes_ = format::EncodeSegmentHeader(header_);
    next_seq_ = base_seq;
  }

  // Appends `r` with seq = the next seq (r.seq is overwritten).
  SegmentBuilder& Add(format::Record r) {
    r.seq = next_seq_++;
    FrameInfo f;
    f.seq = r.seq;
    f.offset = header_.base_offset + (r.seq - header_.base_seq);
    f.start = bytes_.size();
    Status st = format::EncodeRecord(r.view(), &bytes_);
    EXPECT_TRUE(st.ok()) << st.ToString();
    f.end = bytes_.size();
    f.record = std::move(r);
    frames_.push_back(std::move(f));
    return *this;
  }
  SegmentBuilder& AddPayload(std::string_view payload, uint64_t ts = kTs) {
    format::Record r;
    r.timestamp_ms = ts;
    r.payload = ToBytes(payload);
    return Add(std::move(r));
  }
  // Leaves seqs out (a writer bug / sequence gap): the next record gets seq + n.
  SegmentBuilder& SkipSeqs(uint64_t n) {
    next_seq_ += n;
    return *this;
  }

  Bytes Unsealed() const { return bytes_; }
  Bytes Sealed() const {
    Bytes out = bytes_;
    format::SegmentFooter footer;
    footer.segment_id = header_.segment_id;
    footer.record_count = static_cast<uint32_t>(frames_.size());
    footer.last_seq = frames_.empty() ? header_.base_seq : frames_.back().seq;
    PutBytes(&out, format::EncodeSegmentFooter(footer));
    return out;
  }

  const std::vector<FrameInfo>& frames() const { return frames_; }
  const format::SegmentHeader& header() const { return header_; }
  uint64_t next_seq() const { return next_seq_; }
  uint64_t next_offset() const { return header_.base_offset + (next_seq_ - header_.base_seq); }

 private:
  format::SegmentHeader header_;
  Bytes bytes_;
  std::vector<FrameInfo> frames_;
  uint64_t next_seq_ = 0;
};

// Same stored record, ignoring the flag bits the encoder derives (HAS_KEY, HAS_XXH3, ...).
inline bool SameRecord(const format::Record& a, const format::Record& b) {
  return a.seq == b.seq && a.timestamp_ms == b.timestamp_ms && a.key == b.key && a.headers == b.headers &&
         a.payload == b.payload && (a.flags & format::kFlagCompressed) == (b.flags & format::kFlagCompressed);
}

inline std::string SegPath(const std::string& dir, uint64_t id) {
  return io::JoinPath(dir, format::SegmentFileName(id));
}

// Creates or replaces `path` with `content`, synced.
inline void WriteFile(io::FileSystem* fs, const std::string& path, ByteView content) {
  auto file = fs->Open(path, io::OpenMode::kCreateOrTruncate);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  ASSERT_TRUE((*file)->WriteAt(0, content).ok());
  ASSERT_TRUE((*file)->Sync().ok());
  ASSERT_TRUE((*file)->Close().ok());
}

inline Bytes ReadFile(io::FileSystem* fs, const std::string& path) {
  auto bytes = io::ReadWholeFile(*fs, path, 1ull << 31);
  EXPECT_TRUE(bytes.ok()) << path << ": " << bytes.status().ToString();
  return bytes.ok() ? *bytes : Bytes();
}

// Every regular file under `root` (recursively), relative path -> bytes. For real dirs.
inline std::map<std::string, Bytes> SnapshotTree(const std::string& root) {
  std::map<std::string, Bytes> out;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    Bytes data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    out[std::filesystem::relative(entry.path(), root).string()] = std::move(data);
  }
  return out;
}

// `segments` segments of `records` records each, ids from `first_id`, offsets continuing;
// payload i is "r<offset>" padded to 20 + (offset * 7) % 90 bytes, so frames differ in size.
inline std::vector<SegmentBuilder> MakeLog(int segments, int records, uint64_t first_id = 0,
                                           uint64_t base_offset = 0) {
  std::vector<SegmentBuilder> out;
  uint64_t next = base_offset;
  for (int s = 0; s < segments; ++s) {
    SegmentBuilder b(first_id + static_cast<uint64_t>(s), next, next);
    for (int i = 0; i < records; ++i) {
      std::string payload = "r" + std::to_string(b.next_offset());
      payload.resize(20 + (b.next_offset() * 7) % 90, 'x');
      b.AddPayload(payload, kTs + b.next_offset());
    }
    next = b.next_offset();
    out.push_back(std::move(b));
  }
  return out;
}

// Writes the segments (all sealed but the last, which is sealed only if `last_sealed`).
inline void PlantLog(io::FileSystem* fs, const std::string& dir, const std::vector<SegmentBuilder>& segs,
                     bool last_sealed = false) {
  ASSERT_TRUE(fs->CreateDirs(dir).ok());
  for (size_t i = 0; i < segs.size(); ++i) {
    const bool sealed = i + 1 < segs.size() || last_sealed;
    WriteFile(fs, SegPath(dir, segs[i].header().segment_id), sealed ? segs[i].Sealed() : segs[i].Unsealed());
  }
}

// offset -> record, for every record the recovered state serves (storage::SegmentReader over
// each readable segment, up to valid_end, stepping over skipped spans). Fails the test on a
// read error or a repeated offset.
inline std::map<uint64_t, format::Record> ReadServed(io::FileSystem* fs, const storage::LogState& state) {
  std::map<uint64_t, format::Record> out;
  for (const storage::SegmentState& seg : state.segments) {
    if (seg.unreadable) continue;
    auto file = fs->Open(SegPath(state.dir, seg.id), io::OpenMode::kRead);
    EXPECT_TRUE(file.ok()) << file.status().ToString();
    if (!file.ok()) continue;
    storage::SegmentReader reader(file->get(), &seg, seg.valid_end);
    EXPECT_TRUE(reader.Seek(seg.base_offset).ok());
    while (true) {
      storage::SegmentRecord rec;
      auto more = reader.Next(&rec);
      EXPECT_TRUE(more.ok()) << "segment " << seg.id << ": " << more.status().ToString();
      if (!more.ok() || !*more) break;
      EXPECT_GE(rec.offset, seg.base_offset);
      EXPECT_LT(rec.offset, seg.end_offset);
      EXPECT_TRUE(out.emplace(rec.offset, format::Record::FromView(rec.record)).second)
          << "offset " << rec.offset << " served twice";
    }
  }
  return out;
}

}  // namespace ironbus::recovery::testing
