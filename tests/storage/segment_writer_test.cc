#include "storage/segment_writer.h"

#include <gtest/gtest.h>

#include "format/record.h"
#include "format/segment.h"
#include "storage_test_util.h"

namespace ironbus::storage {
namespace {

using testing::kDir;
using testing::SegPath;

class SegmentWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs_.CreateDirs(kDir).ok());
    fs_.SyncAll();
    fs_.ResetCounters();
  }

  std::unique_ptr<SegmentWriter> Create(uint64_t id = 0, uint64_t base = 0, uint64_t prealloc = 0) {
    SegmentWriter::CreateParams p;
    p.dir = kDir;
    p.id = id;
    p.base_seq = base;
    p.base_offset = base;
    p.created_unix_ms = 1234;
    p.preallocate_bytes = prealloc;
    auto w = SegmentWriter::Create(&fs_, p);
    EXPECT_TRUE(w.ok()) << w.status().ToString();
    return w.ok() ? std::move(w).value() : nullptr;
  }

  static Bytes Frame(uint64_t seq, size_t payload_size = 16, int64_t ts = 100) {
    Bytes payload = testing::Payload(seq, payload_size);
    format::RecordView v;
    v.seq = seq;
    v.timestamp_ms = static_cast<uint64_t>(ts);
    v.payload = payload;
    Bytes out;
    EXPECT_TRUE(format::EncodeRecord(v, &out).ok());
    return out;
  }

  io::SimFileSystem fs_;
};

TEST_F(SegmentWriterTest, CreateWritesHeaderThenDataSyncThenDirSync) {
  auto w = Create(7, 100);
  ASSERT_NE(w, nullptr);
  auto durable = fs_.DurableContent(SegPath(7));
  ASSERT_TRUE(durable.ok());
  ASSERT_EQ(durable->size(), format::kSegmentHeaderSize);
  format::SegmentHeader h;
  ASSERT_EQ(format::DecodeSegmentHeader(*durable, &h), format::SegmentHeaderError::kOk);
  EXPECT_EQ(h.segment_id, 7u);
  EXPECT_EQ(h.base_seq, 100u);
  EXPECT_EQ(h.base_offset, 100u);
  EXPECT_EQ(h.created_unix_ms, 1234u);
  EXPECT_TRUE(fs_.DurablyExists(SegPath(7)));  // the name survives a power cut
  EXPECT_EQ(fs_.counters().syncs, 1u);
  EXPECT_EQ(fs_.counters().sync_dirs, 1u);
  EXPECT_EQ(w->write_pos(), format::kSegmentHeaderSize);
  EXPECT_EQ(w->next_seq(), 100u);
}

TEST_F(SegmentWriterTest, CreateRefusesAnExistingFile) {
  ASSERT_NE(Create(3), nullptr);
  SegmentWriter::CreateParams p;
  p.dir = kDir;
  p.id = 3;
  auto again = SegmentWriter::Create(&fs_, p);
  EXPECT_TRUE(again.status().IsFailedPrecondition()) << again.status().ToString();
}

TEST_F(SegmentWriterTest, NoSpaceAtPreallocationRemovesTheFileAndReportsUnavailable) {
  fs_.NoSpaceOnPreallocate("seg-");
  SegmentWriter::CreateParams p;
  p.dir = kDir;
  p.id = 1;
  p.preallocate_bytes = 1 << 20;
  auto w = SegmentWriter::Create(&fs_, p);
  EXPECT_TRUE(w.status().IsUnavailable()) << w.status().ToString();
  EXPECT_FALSE(*fs_.Exists(SegPath(1)));
  EXPECT_FALSE(fs_.DurablyExists(SegPath(1)));  // the removal was dir-synced too
}

TEST_F(SegmentWriterTest, AppendsStayPendingUntilFlushThenOneWrite) {
  auto w = Create();
  const uint64_t writes_before = fs_.counters().writes;
  for (uint64_t i = 0; i < 10; ++i) ASSERT_TRUE(w->Append(Frame(i)).ok());
  EXPECT_EQ(fs_.counters().writes, writes_before);
  EXPECT_EQ(fs_.CurrentContent(SegPath(0))->size(), format::kSegmentHeaderSize);
  ASSERT_TRUE(w->Flush().ok());
  EXPECT_EQ(fs_.counters().writes, writes_before + 1);
  EXPECT_EQ(fs_.CurrentContent(SegPath(0))->size(), 64 + 10 * testing::FrameLen(16));
  EXPECT_EQ(fs_.DurableContent(SegPath(0))->size(), 64u);  // written, not durable
  ASSERT_TRUE(w->Sync().ok());
  EXPECT_EQ(fs_.DurableContent(SegPath(0))->size(), 64 + 10 * testing::FrameLen(16));
  EXPECT_EQ(w->synced_mark().record_count, 10u);
  EXPECT_EQ(w->synced_mark().end_offset, 10u);
}

TEST_F(SegmentWriterTest, PendingBufferSpillsAt256KiB) {
  auto w = Create();
  const uint64_t writes_before = fs_.counters().writes;
  const Bytes big = Frame(0, 200 * 1024);
  ASSERT_TRUE(w->Append(big).ok());
  EXPECT_EQ(fs_.counters().writes, writes_before);
  ASSERT_TRUE(w->Append(Frame(1, 100 * 1024)).ok());  // 300 KiB pending: spills
  EXPECT_EQ(fs_.counters().writes, writes_before + 1);
  EXPECT_EQ(w->pending_bytes(), 0u);
  EXPECT_EQ(w->flushed_mark().record_count, 2u);
}

TEST_F(SegmentWriterTest, SealPutsFooterRightAfterLastFrameAndFullSyncs) {
  auto w = Create(5, 40);
  for (uint64_t i = 40; i < 43; ++i) ASSERT_TRUE(w->Append(Frame(i)).ok());
  ASSERT_TRUE(w->Seal().ok());
  EXPECT_EQ(fs_.counters().full_syncs, 1u);
  auto durable = fs_.DurableContent(SegPath(5));
  ASSERT_TRUE(durable.ok());
  const uint64_t records_end = 64 + 3 * testing::FrameLen(16);
  ASSERT_EQ(durable->size(), records_end + format::kSegmentFooterSize);
  format::SegmentFooter f;
  ASSERT_TRUE(format::DecodeSegmentFooter(ByteView(*durable).subspan(records_end), &f));
  EXPECT_EQ(f.segment_id, 5u);
  EXPECT_EQ(f.last_seq, 42u);
  EXPECT_EQ(f.record_count, 3u);
  // Byte-exact: the footer is the codec's encoding of those values.
  EXPECT_EQ(Bytes(durable->begin() + static_cast<std::ptrdiff_t>(records_end), durable->end()),
            format::EncodeSegmentFooter(f));
  SegmentState st = w->StateAt(w->appended_mark());
  EXPECT_TRUE(st.sealed);
  EXPECT_EQ(st.file_len, records_end + 32);
  EXPECT_EQ(st.valid_end, records_end);
}

TEST_F(SegmentWriterTest, EmptySegmentFooterCarriesBaseSeq) {
  auto w = Create(2, 9);
  ASSERT_TRUE(w->Seal().ok());
  auto content = fs_.CurrentContent(SegPath(2));
  ASSERT_EQ(content->size(), 96u);
  format::SegmentFooter f;
  ASSERT_TRUE(format::DecodeSegmentFooter(ByteView(*content).subspan(64), &f));
  EXPECT_EQ(f.last_seq, 9u);
  EXPECT_EQ(f.record_count, 0u);
}

TEST_F(SegmentWriterTest, SparseIndexGetsOneAnchorPerStride) {
  auto w = Create();
  const size_t payload = 4000;  // ~4 KiB frames: about 16 per stride
  const uint64_t n = 64;
  for (uint64_t i = 0; i < n; ++i) ASSERT_TRUE(w->Append(Frame(i, payload)).ok());
  SegmentState st = w->StateAt(w->appended_mark());
  const uint64_t bytes = n * testing::FrameLen(payload);
  EXPECT_EQ(st.index.size(), bytes / kSparseIndexStrideBytes);
  uint64_t prev = format::kSegmentHeaderSize;
  for (const IndexAnchor& a : st.index) {
    EXPECT_GE(a.byte_pos, prev + kSparseIndexStrideBytes);
    EXPECT_EQ(a.byte_pos, 64 + a.offset * testing::FrameLen(payload));  // anchors sit on frames
    prev = a.byte_pos;
  }
  // A mark before the last anchors publishes only the anchors below it.
  EXPECT_TRUE(w->StateAt(w->synced_mark()).index.empty());
}

TEST_F(SegmentWriterTest, FailedWriteIsStickyAndNothingIsSynced) {
  auto w = Create();
  ASSERT_TRUE(w->Append(Frame(0)).ok());
  fs_.FailNextWrite("seg-");
  Status s = w->Flush();
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_EQ(w->Sync(), s);  // sticky: no second attempt
  EXPECT_EQ(w->Append(Frame(1)), s);
  EXPECT_EQ(fs_.DurableContent(SegPath(0))->size(), 64u);
}

TEST_F(SegmentWriterTest, ReopenResumesAtValidEndAndRefusesLongerFile) {
  {
    auto w = Create();
    for (uint64_t i = 0; i < 3; ++i) ASSERT_TRUE(w->Append(Frame(i)).ok());
    ASSERT_TRUE(w->Sync().ok());
  }
  LogState st = testing::ScanCleanDir(fs_);
  ASSERT_EQ(st.segments.size(), 1u);
  auto w = SegmentWriter::Reopen(&fs_, kDir, st.segments[0]);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ((*w)->next_seq(), 3u);
  ASSERT_TRUE((*w)->Append(Frame(3)).ok());
  ASSERT_TRUE((*w)->Sync().ok());
  EXPECT_EQ(testing::DurableRecordCount(fs_, SegPath(0)), 4u);

  SegmentState shorter = st.segments[0];  // claims fewer bytes than the file has
  auto refused = SegmentWriter::Reopen(&fs_, kDir, shorter);
  EXPECT_TRUE(refused.status().IsFailedPrecondition()) << refused.status().ToString();
  shorter.sealed = true;
  EXPECT_TRUE(SegmentWriter::Reopen(&fs_, kDir, shorter).status().IsFailedPrecondition());
}

}  // namespace
}  // namespace ironbus::storage
