// Durable cursor and attempt state of one group (spec/consumers.md 7, storage.md 7.2/7.3).
#include "queue/group_checkpoint.h"

#include <gtest/gtest.h>

#include "format/segment_name.h"
#include "io/sim_file_system.h"

namespace ironbus::queue {
namespace {

constexpr char kDir[] = "/data";

class GroupCheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs_.CreateDirs(kDir).ok());
    fs_.SyncAll();
  }
  std::unique_ptr<GroupCheckpoint> Open(const std::string& group) {
    auto g = GroupCheckpoint::Open(&fs_, kDir, group);
    EXPECT_TRUE(g.ok()) << g.status().ToString();
    return g.ok() ? std::move(g).value() : nullptr;
  }
  io::SimFileSystem fs_;
};

TEST_F(GroupCheckpointTest, NoFileUntilTheFirstWrite) {
  auto g = Open("orders");
  auto loaded = g->Load(100, 0);
  EXPECT_FALSE(loaded.had_cursor);
  EXPECT_EQ(loaded.cursor.committed(), 0u);
  EXPECT_FALSE(*fs_.Exists(std::string(kDir) + "/" + format::CursorFileName("orders")));
}

TEST_F(GroupCheckpointTest, CursorAndAttemptsSurviveAPowerCutOnceWritten) {
  {
    auto g = Open("orders");
    Cursor c(5);
    ASSERT_EQ(c.Ack(7), Cursor::AckOutcome::kRecordedAhead);
    ASSERT_TRUE(g->WriteCursor(c).ok());
    ASSERT_TRUE(g->WriteAttempts({{5, 3}, {6, 1}}).ok());
    EXPECT_EQ(g->last_written_committed(), 5u);
  }
  fs_.PowerCut(1, io::PowerCutMode::kDropAll);
  auto g = Open("orders");
  auto loaded = g->Load(100, 0);
  EXPECT_TRUE(loaded.had_cursor);
  EXPECT_EQ(loaded.cursor.committed(), 5u);
  EXPECT_TRUE(loaded.cursor.IsAcked(7));
  EXPECT_EQ(loaded.carried, (AttemptMap{{5, 3}, {6, 1}}));
}

TEST_F(GroupCheckpointTest, LoadClampsToTheHeadAndDropsCarriedCountsPastIt) {
  {
    auto g = Open("");
    Cursor c(10);
    ASSERT_EQ(c.Ack(12), Cursor::AckOutcome::kRecordedAhead);
    ASSERT_TRUE(g->WriteCursor(c).ok());
    ASSERT_TRUE(g->WriteAttempts({{10, 2}, {11, 4}, {12, 1}}).ok());
  }
  auto g = Open("");
  auto loaded = g->Load(/*head=*/11, 0);
  EXPECT_EQ(loaded.cursor.committed(), 10u);
  EXPECT_TRUE(loaded.cursor.ahead_ranges().empty());  // [12,13) is past the head
  EXPECT_EQ(loaded.carried, (AttemptMap{{10, 2}}));
}

TEST_F(GroupCheckpointTest, CarriedCountsOfAckedOffsetsAreDropped) {
  {
    auto g = Open("g");
    Cursor c(3);
    ASSERT_EQ(c.Ack(5), Cursor::AckOutcome::kRecordedAhead);
    ASSERT_TRUE(g->WriteCursor(c).ok());
    ASSERT_TRUE(g->WriteAttempts({{1, 2}, {4, 2}, {5, 2}}).ok());
  }
  auto g = Open("g");
  EXPECT_EQ(g->Load(100, 0).carried, (AttemptMap{{4, 2}}));
}

TEST_F(GroupCheckpointTest, TornCursorWriteFallsBackToThePreviousValue) {
  auto g = Open("g");
  ASSERT_TRUE(g->WriteCursor(Cursor(4)).ok());
  fs_.FailNextSync(format::CursorFileName("g"));
  EXPECT_FALSE(g->WriteCursor(Cursor(9)).ok());
  fs_.PowerCut(7, io::PowerCutMode::kDropAll);
  auto again = Open("g");
  EXPECT_EQ(again->Load(100, 0).cursor.committed(), 4u);
}

TEST_F(GroupCheckpointTest, AttemptOverflowKeepsTheLowestOffsets) {
  auto g = Open("g");
  AttemptMap big;
  const size_t cap = GroupCheckpoint::MaxAttemptPairs();
  ASSERT_GT(cap, 2000u);
  for (uint64_t o = 0; o < cap + 10; ++o) big[o] = 2;
  ASSERT_TRUE(g->WriteAttempts(big).ok());
  auto again = Open("g");
  auto loaded = again->Load(1'000'000, 0);
  EXPECT_EQ(loaded.carried.size(), cap);
  EXPECT_EQ(loaded.carried.begin()->first, 0u);
  EXPECT_EQ(loaded.carried.rbegin()->first, cap - 1);
}

}  // namespace
}  // namespace ironbus::queue
