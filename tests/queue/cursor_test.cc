// Rules of the committed cursor (spec/consumers.md section 6, storage.md 7.2).
#include "queue/cursor.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <limits>
#include <set>

namespace ironbus::queue {
namespace {

using Ranges = std::vector<std::pair<uint64_t, uint64_t>>;

TEST(Cursor, OutOfOrderAckOnlyAdvancesContiguousPrefix) {
  // Vector ordering_out_of_order_ack_only_advances_contiguous_prefix.
  Cursor c;
  EXPECT_EQ(c.Ack(1), Cursor::AckOutcome::kRecordedAhead);
  EXPECT_EQ(c.Ack(2), Cursor::AckOutcome::kRecordedAhead);
  EXPECT_EQ(c.committed(), 0u);
  EXPECT_EQ(c.ahead_ranges(), (Ranges{{1, 3}}));
  EXPECT_EQ(c.Ack(0), Cursor::AckOutcome::kAdvanced);
  EXPECT_EQ(c.committed(), 3u);
  EXPECT_TRUE(c.ahead_ranges().empty());
}

TEST(Cursor, AheadRangesStaySortedDisjointAndNonAdjacent) {
  Cursor c(10);
  EXPECT_EQ(c.Ack(15), Cursor::AckOutcome::kRecordedAhead);
  EXPECT_EQ(c.Ack(12), Cursor::AckOutcome::kRecordedAhead);
  EXPECT_EQ(c.Ack(20), Cursor::AckOutcome::kRecordedAhead);
  EXPECT_EQ(c.ahead_ranges(), (Ranges{{12, 13}, {15, 16}, {20, 21}}));
  // 13 touches 12 on the left, 14 then bridges into 15.
  EXPECT_EQ(c.Ack(13), Cursor::AckOutcome::kRecordedAhead);
  EXPECT_EQ(c.Ack(14), Cursor::AckOutcome::kRecordedAhead);
  EXPECT_EQ(c.ahead_ranges(), (Ranges{{12, 16}, {20, 21}}));
  EXPECT_EQ(c.Ack(11), Cursor::AckOutcome::kRecordedAhead);
  EXPECT_EQ(c.Ack(10), Cursor::AckOutcome::kAdvanced);
  EXPECT_EQ(c.committed(), 16u);
  EXPECT_EQ(c.ahead_ranges(), (Ranges{{20, 21}}));
}

TEST(Cursor, DuplicateAckIsANoOp) {
  Cursor c;
  ASSERT_EQ(c.Ack(0), Cursor::AckOutcome::kAdvanced);
  ASSERT_EQ(c.Ack(5), Cursor::AckOutcome::kRecordedAhead);
  EXPECT_EQ(c.Ack(0), Cursor::AckOutcome::kAlreadyAcked);
  EXPECT_EQ(c.Ack(5), Cursor::AckOutcome::kAlreadyAcked);
  EXPECT_EQ(c.committed(), 1u);
  EXPECT_EQ(c.ahead_ranges(), (Ranges{{5, 6}}));
}

TEST(Cursor, AckOfMaxOffsetIsRefused) {
  Cursor c;
  EXPECT_EQ(c.Ack(std::numeric_limits<uint64_t>::max()), Cursor::AckOutcome::kRefused);
  EXPECT_EQ(c.ahead_run_count(), 0u);
}

TEST(Cursor, MaxRunsRefusesOnlyANewDisjointRange) {
  Cursor c(0, /*max_runs=*/2);
  ASSERT_EQ(c.Ack(2), Cursor::AckOutcome::kRecordedAhead);
  ASSERT_EQ(c.Ack(4), Cursor::AckOutcome::kRecordedAhead);
  EXPECT_EQ(c.Ack(6), Cursor::AckOutcome::kRefused);        // a third run
  EXPECT_EQ(c.Ack(5), Cursor::AckOutcome::kRecordedAhead);  // merges with a neighbour
  EXPECT_EQ(c.Ack(0), Cursor::AckOutcome::kAdvanced);       // at the watermark
  EXPECT_FALSE(c.IsAcked(6));
}

TEST(Cursor, CommitUpToClipsAndAbsorbsAndNeverMovesBack) {
  Cursor c(0);
  ASSERT_EQ(c.Ack(3), Cursor::AckOutcome::kRecordedAhead);
  ASSERT_EQ(c.Ack(6), Cursor::AckOutcome::kRecordedAhead);
  ASSERT_EQ(c.Ack(7), Cursor::AckOutcome::kRecordedAhead);
  ASSERT_EQ(c.Ack(10), Cursor::AckOutcome::kRecordedAhead);
  EXPECT_TRUE(c.CommitUpTo(7));  // drops [3,4), clips [6,8) to [7,8) and absorbs it
  EXPECT_EQ(c.committed(), 8u);
  EXPECT_EQ(c.ahead_ranges(), (Ranges{{10, 11}}));
  EXPECT_FALSE(c.CommitUpTo(5));
  EXPECT_EQ(c.committed(), 8u);
}

TEST(Cursor, NextUnackedStepsOverRanges) {
  Cursor c(2);
  ASSERT_EQ(c.Ack(3), Cursor::AckOutcome::kRecordedAhead);
  ASSERT_EQ(c.Ack(4), Cursor::AckOutcome::kRecordedAhead);
  EXPECT_EQ(c.NextUnacked(0), 2u);
  EXPECT_EQ(c.NextUnacked(3), 5u);
  EXPECT_EQ(c.NextUnacked(5), 5u);
}

TEST(Cursor, AckRangeStepsOverAHole) {
  Cursor c(0);
  ASSERT_EQ(c.Ack(9), Cursor::AckOutcome::kRecordedAhead);
  EXPECT_TRUE(c.AckRange(5, 9));
  EXPECT_EQ(c.ahead_ranges(), (Ranges{{5, 10}}));
  EXPECT_TRUE(c.AckRange(0, 5));
  EXPECT_EQ(c.committed(), 10u);
  EXPECT_FALSE(c.AckRange(2, 7));
}

TEST(Cursor, RestoreClampsToHeadAndKeepsOnlyRangesBetween) {
  format::CursorSnapshot snap;
  snap.committed = 10;
  snap.acked_ahead = {{12, 14}, {16, 18}, {19, 25}};
  Cursor c = Cursor::Restore(snap, /*head=*/20);
  EXPECT_EQ(c.committed(), 10u);
  EXPECT_EQ(c.ahead_ranges(), (Ranges{{12, 14}, {16, 18}}));  // [19,25) reaches past the head
  Cursor low = Cursor::Restore(snap, /*head=*/7);
  EXPECT_EQ(low.committed(), 7u);  // may lag, never lead (I5b)
  EXPECT_TRUE(low.ahead_ranges().empty());
}

// Property: against a set model, the watermark is the lowest unacked offset and every offset
// reported acked was acked.
RC_GTEST_PROP(CursorProperty, MatchesASetModel, ()) {
  const auto acks = *rc::gen::container<std::vector<uint64_t>>(rc::gen::inRange<uint64_t>(0, 64));
  Cursor c;
  std::set<uint64_t> model;
  for (uint64_t o : acks) {
    c.Ack(o);
    model.insert(o);
  }
  uint64_t expect = 0;
  while (model.count(expect)) ++expect;
  RC_ASSERT(c.committed() == expect);
  for (uint64_t o = 0; o < 70; ++o) RC_ASSERT(c.IsAcked(o) == (model.count(o) > 0));
  uint64_t prev_end = c.committed();
  for (const auto& [s, e] : c.ahead_ranges()) {
    RC_ASSERT(s > prev_end);  // strictly above the watermark and non-adjacent
    RC_ASSERT(e > s);
    prev_end = e;
  }
}

}  // namespace
}  // namespace ironbus::queue
