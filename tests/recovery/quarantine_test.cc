// storage/quarantine: exclusive, durable copies; the cap and its eviction order; failures
// leave nothing behind and never fail recovery.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "format/segment_name.h"
#include "io/sim_file_system.h"
#include "recovery/recover.h"
#include "recovery_test_util.h"
#include "storage/quarantine.h"

namespace ironbus::storage {
namespace {

constexpr char kDir[] = "/data";
constexpr char kSource[] = "/data/seg-0000000000000003.log";

class QuarantineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    source_bytes_.resize(4 << 20);
    for (size_t i = 0; i < source_bytes_.size(); ++i) source_bytes_[i] = static_cast<uint8_t>(i * 131 + 7);
    ASSERT_TRUE(fs_.SetFileContent(kSource, source_bytes_).ok());
    auto f = fs_.Open(kSource, io::OpenMode::kRead);
    ASSERT_TRUE(f.ok());
    source_ = std::move(f).value();
  }
  Result<QuarantineOutcome> Copy(uint64_t start, uint64_t end, uint64_t cap, uint64_t id = 3) {
    return CopyToQuarantine(&fs_, kDir, source_.get(), QuarantineSpan{id, "corrupt_record_body", start, end}, cap);
  }
  std::string Blob(uint64_t id, uint64_t start, uint64_t end) {
    return std::string("/data/quarantine/") + format::QuarantineBlobName(id, "corrupt_record_body", start, end);
  }
  Bytes Slice(uint64_t start, uint64_t end) {
    return Bytes(source_bytes_.begin() + static_cast<ptrdiff_t>(start), source_bytes_.begin() + static_cast<ptrdiff_t>(end));
  }

  io::SimFileSystem fs_;
  Bytes source_bytes_;
  std::unique_ptr<io::File> source_;
};

TEST_F(QuarantineTest, CopiesTheSpanDurablyUnderItsName) {
  auto r = Copy(100, 300, 0);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, QuarantineOutcome::kWritten);
  EXPECT_EQ(Blob(3, 100, 300), "/data/quarantine/q-0000000000000003-corrupt_record_body-100-300.bin");
  // Durable: data synced and both directory entries synced (survives a power cut).
  fs_.PowerCut(1, io::PowerCutMode::kDropAll);
  auto content = fs_.CurrentContent(Blob(3, 100, 300));
  ASSERT_TRUE(content.ok()) << content.status().ToString();
  EXPECT_EQ(*content, Slice(100, 300));
}

TEST_F(QuarantineTest, LargeSpansAreCopiedInChunks) {
  auto r = Copy(5, (3 << 20) + 11, 0);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*fs_.CurrentContent(Blob(3, 5, (3 << 20) + 11)), Slice(5, (3 << 20) + 11));
}

TEST_F(QuarantineTest, AnExistingNameIsAlreadyCaptured) {
  ASSERT_TRUE(Copy(0, 50, 0).ok());
  ASSERT_TRUE(fs_.SetFileContent(Blob(3, 0, 50), ToBytes("kept")).ok());
  auto r = Copy(0, 50, 0);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, QuarantineOutcome::kAlreadyCaptured);
  EXPECT_EQ(*fs_.CurrentContent(Blob(3, 0, 50)), ToBytes("kept"));
}

TEST_F(QuarantineTest, EmptySpanCopiesNothing) {
  auto r = Copy(10, 10, 0);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, QuarantineOutcome::kNothingToCopy);
  EXPECT_FALSE(*fs_.Exists("/data/quarantine"));
}

TEST_F(QuarantineTest, CapEvictsOldestByParsedNameAndForeignNamesLast) {
  ASSERT_TRUE(Copy(0, 40, 0, /*id=*/1).ok());   // (1, 0, 40)
  ASSERT_TRUE(Copy(50, 90, 0, /*id=*/0).ok());  // (0, 50, 90): the oldest
  ASSERT_TRUE(fs_.SetFileContent("/data/quarantine/notes.txt", Bytes(10, 1)).ok());
  ASSERT_EQ(*QuarantineBytesUsed(&fs_, kDir), 90u);

  ASSERT_EQ(*Copy(100, 130, 100, /*id=*/2), QuarantineOutcome::kWritten);  // 90 + 30 > 100
  EXPECT_FALSE(*fs_.Exists(Blob(0, 50, 90)));
  EXPECT_TRUE(*fs_.Exists(Blob(1, 0, 40)));
  EXPECT_EQ(*QuarantineBytesUsed(&fs_, kDir), 80u);

  ASSERT_EQ(*Copy(200, 295, 100, /*id=*/5), QuarantineOutcome::kWritten);  // needs 95: all but itself
  EXPECT_FALSE(*fs_.Exists(Blob(1, 0, 40)));
  EXPECT_FALSE(*fs_.Exists(Blob(2, 100, 130)));
  EXPECT_FALSE(*fs_.Exists("/data/quarantine/notes.txt"));
  EXPECT_EQ(*QuarantineBytesUsed(&fs_, kDir), 95u);
}

TEST_F(QuarantineTest, SpanLargerThanTheCapIsSkipped) {
  ASSERT_TRUE(Copy(0, 40, 0).ok());
  auto r = Copy(100, 301, 200);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, QuarantineOutcome::kSkippedOverCap);
  EXPECT_TRUE(*fs_.Exists(Blob(3, 0, 40)));  // nothing evicted for it
  EXPECT_FALSE(*fs_.Exists(Blob(3, 100, 301)));
}

TEST_F(QuarantineTest, FailuresLeaveNoPartialBlob) {
  ASSERT_TRUE(fs_.CreateDirs("/data/quarantine").ok());
  fs_.FailNextWrite("quarantine");
  EXPECT_FALSE(Copy(0, 100, 0).ok());
  EXPECT_FALSE(*fs_.Exists(Blob(3, 0, 100)));
  fs_.ShortNextWrite("quarantine");
  EXPECT_FALSE(Copy(0, 100, 0).ok());
  EXPECT_FALSE(*fs_.Exists(Blob(3, 0, 100)));
  fs_.FailNextSync("quarantine");
  EXPECT_FALSE(Copy(0, 100, 0).ok());
  EXPECT_FALSE(*fs_.Exists(Blob(3, 0, 100)));
  // The next attempt starts clean.
  EXPECT_EQ(*Copy(0, 100, 0), QuarantineOutcome::kWritten);
}

TEST(QuarantineRecoveryTest, AQuarantineFailureNeverFailsRecovery) {
  io::SimFileSystem fs;
  recovery::testing::SegmentBuilder b(0, 0, 0);
  for (int i = 0; i < 4; ++i) b.AddPayload("rec-" + std::to_string(i));
  Bytes seg = b.Unsealed();
  seg[b.frames().back().start + 40] ^= 0x01;
  ASSERT_TRUE(fs.SetFileContent("/data/seg-0000000000000000.log", seg).ok());
  fs.FailNextOpen("quarantine", 10);
  auto r = recovery::Recover(&fs, kDir, recovery::RecoveryOptions{});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->report.events.size(), 1u);
  EXPECT_TRUE(r->report.events[0].truncated);
  ASSERT_FALSE(r->warnings.empty());
  EXPECT_THAT(r->warnings[0], ::testing::HasSubstr("quarantine"));
  EXPECT_EQ(recovery::testing::ReadFile(&fs, "/data/seg-0000000000000000.log").size(), b.frames().back().start);
}

}  // namespace
}  // namespace ironbus::storage
