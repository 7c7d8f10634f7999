#include "storage/segment_reader.h"

#include <gtest/gtest.h>

#include "storage/segment_writer.h"
#include "storage_test_util.h"

namespace ironbus::storage {
namespace {

using testing::kDir;
using testing::SegPath;

class SegmentReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs_.CreateDirs(kDir).ok());
    fs_.SyncAll();
  }

  // Writes `n` records of `payload` bytes to segment 0 (base 0), synced; returns its state
  // (with the writer's sparse index).
  SegmentState Write(uint64_t n, size_t payload = 16) {
    SegmentWriter::CreateParams p;
    p.dir = kDir;
    auto w = SegmentWriter::Create(&fs_, p);
    EXPECT_TRUE(w.ok());
    for (uint64_t i = 0; i < n; ++i) {
      Bytes pl = testing::Payload(i, payload);
      format::RecordView v;
      v.seq = i;
      v.timestamp_ms = 1000 + i;
      v.payload = pl;
      Bytes frame;
      EXPECT_TRUE(format::EncodeRecord(v, &frame).ok());
      EXPECT_TRUE((*w)->Append(frame).ok());
    }
    EXPECT_TRUE((*w)->Sync().ok());
    return (*w)->StateAt((*w)->synced_mark());
  }

  std::unique_ptr<io::File> OpenRead() {
    auto f = fs_.Open(SegPath(0), io::OpenMode::kRead);
    EXPECT_TRUE(f.ok());
    return std::move(f).value();
  }

  // Offsets Next() yields until the end; stops at (and returns) the first error.
  static std::vector<uint64_t> Drain(SegmentReader& r, Status* error = nullptr) {
    std::vector<uint64_t> out;
    SegmentRecord rec;
    while (true) {
      Result<bool> more = r.Next(&rec);
      if (!more.ok()) {
        if (error != nullptr) *error = more.status();
        break;
      }
      if (!*more) break;
      EXPECT_EQ(rec.record.seq, rec.offset);
      EXPECT_EQ(Bytes(rec.record.payload.begin(), rec.record.payload.end()),
                testing::Payload(rec.offset, rec.record.payload.size()));
      out.push_back(rec.offset);
    }
    return out;
  }

  // Flips one byte on "disk" (durably), as bit rot after open would.
  void FlipByte(uint64_t pos) {
    Bytes content = *fs_.CurrentContent(SegPath(0));
    content[pos] ^= 0x40;
    ASSERT_TRUE(fs_.SetFileContent(SegPath(0), content).ok());
  }

  io::SimFileSystem fs_;
};

std::vector<uint64_t> Range(uint64_t a, uint64_t b) {
  std::vector<uint64_t> v;
  for (uint64_t i = a; i < b; ++i) v.push_back(i);
  return v;
}

TEST_F(SegmentReaderTest, ReadsEveryRecordInOrder) {
  SegmentState st = Write(20);
  auto f = OpenRead();
  SegmentReader r(f.get(), &st, st.valid_end);
  EXPECT_EQ(Drain(r), Range(0, 20));
  EXPECT_EQ(r.next_offset(), 20u);
}

TEST_F(SegmentReaderTest, SeekFindsTheOffsetThroughTheSparseIndex) {
  SegmentState st = Write(300, 1000);  // ~300 KiB: several anchors
  ASSERT_GE(st.index.size(), 3u);
  auto f = OpenRead();
  for (uint64_t target : {0ull, 1ull, 65ull, 66ull, 150ull, 299ull}) {
    SegmentReader r(f.get(), &st, st.valid_end);
    ASSERT_TRUE(r.Seek(target).ok());
    SegmentRecord rec;
    ASSERT_TRUE(*r.Next(&rec));
    EXPECT_EQ(rec.offset, target);
  }
  SegmentReader end(f.get(), &st, st.valid_end);
  ASSERT_TRUE(end.Seek(300).ok());
  SegmentRecord none;
  EXPECT_FALSE(*end.Next(&none));
}

TEST_F(SegmentReaderTest, FramesLargerThanTheReadWindowAreReadWhole) {
  SegmentState st = Write(4, kReadWindowBytes + 5000);  // with xxh3, past the window
  auto f = OpenRead();
  SegmentReader r(f.get(), &st, st.valid_end);
  EXPECT_EQ(Drain(r), Range(0, 4));
  SegmentReader seeker(f.get(), &st, st.valid_end);
  ASSERT_TRUE(seeker.Seek(3).ok());
  SegmentRecord rec;
  ASSERT_TRUE(*seeker.Next(&rec));
  EXPECT_EQ(rec.offset, 3u);
  EXPECT_EQ(rec.record.payload.size(), kReadWindowBytes + 5000);
}

TEST_F(SegmentReaderTest, StopsAtTheByteLimitItIsGiven) {
  SegmentState st = Write(10);
  auto f = OpenRead();
  const uint64_t limit = 64 + 4 * testing::FrameLen(16);  // the durable end after 4 records
  SegmentReader r(f.get(), &st, limit);
  EXPECT_EQ(Drain(r), Range(0, 4));
}

TEST_F(SegmentReaderTest, StepsOverSkippedSpansLeavingAHole) {
  SegmentState st = Write(10);
  const uint64_t frame = testing::FrameLen(16);
  // Records 4..6 were damaged and reported lost at open.
  FlipByte(64 + 4 * frame + 10);
  FlipByte(64 + 6 * frame + 40);
  st.skipped.push_back(SkippedSpan{64 + 4 * frame, 64 + 7 * frame, 4, 7});
  auto f = OpenRead();
  SegmentReader r(f.get(), &st, st.valid_end);
  std::vector<uint64_t> want = Range(0, 4);
  for (uint64_t i = 7; i < 10; ++i) want.push_back(i);
  EXPECT_EQ(Drain(r), want);

  SegmentReader into_hole(f.get(), &st, st.valid_end);
  ASSERT_TRUE(into_hole.Seek(5).ok());  // an offset inside the hole moves to the next record
  SegmentRecord rec;
  ASSERT_TRUE(*into_hole.Next(&rec));
  EXPECT_EQ(rec.offset, 7u);
}

TEST_F(SegmentReaderTest, BitRotAfterOpenIsATypedCorruptionNotACrash) {
  SegmentState st = Write(10);
  const uint64_t frame = testing::FrameLen(16);
  FlipByte(64 + 7 * frame + 40);  // inside record 7's payload: body CRC fails
  auto f = OpenRead();
  SegmentReader r(f.get(), &st, st.valid_end);
  Status error;
  EXPECT_EQ(Drain(r, &error), Range(0, 7));
  EXPECT_TRUE(error.IsCorruption()) << error.ToString();
  SegmentRecord rec;
  EXPECT_TRUE(r.Next(&rec).status().IsCorruption());  // sticky

  FlipByte(64 + 2 * frame + 5);  // record 2's header: even seeking past it reports it
  SegmentReader seeker(f.get(), &st, st.valid_end);
  EXPECT_TRUE(seeker.Seek(5).IsCorruption());
}

TEST_F(SegmentReaderTest, SeekNearStartsAtTheHintedByteWithoutSteppingFromTheAnchor) {
  SegmentState st = Write(10);
  const uint64_t frame = testing::FrameLen(16);
  // Record 2's header rotted: a seek from the anchor (byte 64) to 5 has to step over it and
  // reports it; a reader that knows where 5 starts never looks at record 2.
  FlipByte(64 + 2 * frame + 5);
  auto f = OpenRead();
  SegmentReader seeker(f.get(), &st, st.valid_end);
  ASSERT_TRUE(seeker.Seek(5).IsCorruption());
  SegmentReader hinted(f.get(), &st, st.valid_end);
  ASSERT_TRUE(hinted.SeekNear(5, 64 + 5 * frame).ok());
  EXPECT_EQ(hinted.position(), 64 + 5 * frame);
  EXPECT_EQ(Drain(hinted), Range(5, 10));
}

TEST_F(SegmentReaderTest, SeekNearWithAStaleHintSeeksAsUsual) {
  SegmentState st = Write(10);
  const uint64_t frame = testing::FrameLen(16);
  auto f = OpenRead();
  struct Case {
    uint64_t byte_pos;
    const char* what;
  };
  for (const Case& c : {Case{64 + 5 * frame + 7, "inside a frame"}, Case{64 + 4 * frame, "another record's frame"},
                        Case{64 + 6 * frame, "a later record's frame"}, Case{3, "inside the segment header"},
                        Case{st.valid_end + 100, "past the valid end"}}) {
    SegmentReader r(f.get(), &st, st.valid_end);
    ASSERT_TRUE(r.SeekNear(5, c.byte_pos).ok()) << c.what;
    EXPECT_EQ(Drain(r), Range(5, 10)) << c.what;
  }
}

TEST_F(SegmentReaderTest, UnreadableSegmentYieldsNothing) {
  SegmentState st = Write(3);
  st.unreadable = true;
  auto f = OpenRead();
  SegmentReader r(f.get(), &st, st.valid_end);
  EXPECT_TRUE(r.Seek(0).ok());
  EXPECT_TRUE(Drain(r).empty());
}

}  // namespace
}  // namespace ironbus::storage
