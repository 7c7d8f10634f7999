#include "storage/checkpoint_file.h"

#include <gtest/gtest.h>

#include "format/record_format.h"
#include "io/sim_file_system.h"

namespace ironbus::storage {
namespace {

constexpr char kDir[] = "/data";
constexpr size_t kCap = format::kCursorCheckpointCap;
const std::string kPath = "/data/cursor.ckpt";

class CheckpointFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs_.CreateDirs(kDir).ok());
    fs_.SyncAll();
  }

  std::unique_ptr<CheckpointFile> Open(CheckpointFile::Mode mode = CheckpointFile::Mode::kOpenOrCreate) {
    auto c = CheckpointFile::Open(&fs_, kDir, "cursor.ckpt", kCap, mode);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? std::move(c).value() : nullptr;
  }

  io::SimFileSystem fs_;
};

TEST_F(CheckpointFileTest, CreateMakesTheNameDurableBeforeAnyWrite) {
  auto c = Open();
  EXPECT_TRUE(fs_.DurablyExists(kPath));
  EXPECT_FALSE(c->value().has_value());
  EXPECT_EQ(c->next_seq(), 1u);
  EXPECT_EQ(fs_.CurrentContent(kPath)->size(), 0u);
}

TEST_F(CheckpointFileTest, FirstWriteGoesToSlotOneAndIsFsynced) {
  auto c = Open();
  const uint64_t full_syncs = fs_.counters().full_syncs;
  ASSERT_TRUE(c->Write(ToBytes("v1")).ok());
  EXPECT_EQ(fs_.counters().full_syncs, full_syncs + 1);
  auto durable = fs_.DurableContent(kPath);
  ASSERT_EQ(durable->size(), format::CheckpointFileLen(kCap));  // full length, slot 0 still zero
  for (size_t i = 0; i < format::CheckpointSlotLen(kCap); ++i) ASSERT_EQ((*durable)[i], 0) << i;
  auto expected = format::EncodeCheckpointSlot(1, ToBytes("v1"), kCap);
  EXPECT_EQ(Bytes(durable->begin() + static_cast<std::ptrdiff_t>(format::CheckpointSlotLen(kCap)), durable->end()),
            *expected);
  EXPECT_EQ(c->next_seq(), 2u);
}

TEST_F(CheckpointFileTest, ReopenPicksTheNewestValueAndContinuesTheSeq) {
  {
    auto c = Open();
    for (const char* v : {"a", "b", "c"}) ASSERT_TRUE(c->Write(ToBytes(v)).ok());
  }
  auto c = Open(CheckpointFile::Mode::kOpenExisting);
  ASSERT_TRUE(c->value().has_value());
  EXPECT_EQ(c->value()->payload, ToBytes("c"));
  EXPECT_EQ(c->value()->seq, 3u);
  EXPECT_EQ(c->next_seq(), 4u);
  ASSERT_TRUE(c->Write(ToBytes("d")).ok());
  EXPECT_EQ(Open()->value()->payload, ToBytes("d"));
}

TEST_F(CheckpointFileTest, TornWriteFallsBackToThePreviousValue) {
  {
    auto c = Open();
    ASSERT_TRUE(c->Write(ToBytes("old")).ok());
    fs_.ShortNextWrite(kPath);
    EXPECT_FALSE(c->Write(ToBytes("new-value-that-tears")).ok());
  }
  auto c = Open();
  ASSERT_TRUE(c->value().has_value());
  EXPECT_EQ(c->value()->payload, ToBytes("old"));  // never a torn or invented value
}

TEST_F(CheckpointFileTest, PowerCutKeepsOnlySyncedValues) {
  {
    auto c = Open();
    ASSERT_TRUE(c->Write(ToBytes("one")).ok());
    fs_.FailNextSync(kPath);
    EXPECT_TRUE(c->Write(ToBytes("two")).IsIOError());
  }
  fs_.PowerCut(7, io::PowerCutMode::kDropAll);
  auto c = Open();
  ASSERT_TRUE(c->value().has_value());
  EXPECT_EQ(c->value()->payload, ToBytes("one"));
}

TEST_F(CheckpointFileTest, FailedWriteRetriesTheSameSlotKeepingThePreviousValue) {
  auto c = Open();
  ASSERT_TRUE(c->Write(ToBytes("one")).ok());  // seq 1, slot 1
  fs_.FailNextWrite(kPath);
  EXPECT_FALSE(c->Write(ToBytes("two")).ok());
  EXPECT_EQ(c->next_seq(), 2u);  // unchanged: the retry goes to slot 0 again
  EXPECT_EQ(c->value()->payload, ToBytes("one"));
  ASSERT_TRUE(c->Write(ToBytes("two")).ok());
  EXPECT_EQ(Open()->value()->seq, 2u);
}

TEST_F(CheckpointFileTest, PayloadAboveCapIsRefused) {
  auto c = Open();
  EXPECT_EQ(c->Write(Bytes(kCap + 1, 'x')).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(c->Write(Bytes(kCap, 'x')).ok());
}

TEST_F(CheckpointFileTest, OpenExistingDoesNotCreate) {
  auto c = CheckpointFile::Open(&fs_, kDir, "cursor.ckpt", kCap, CheckpointFile::Mode::kOpenExisting);
  EXPECT_TRUE(c.status().IsNotFound()) << c.status().ToString();
  EXPECT_FALSE(*fs_.Exists(kPath));
}

TEST_F(CheckpointFileTest, ShortFileHasNoValue) {
  ASSERT_TRUE(fs_.SetFileContent(kPath, Bytes(10, 0xAB)).ok());
  auto c = Open();
  EXPECT_FALSE(c->value().has_value());
  EXPECT_EQ(c->next_seq(), 1u);
}

}  // namespace
}  // namespace ironbus::storage
