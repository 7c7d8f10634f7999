// Producer dedup by msg_id window (spec/consumers.md 9.1): pure, clock-injected.
#include "queue/dedup.h"

#include <gtest/gtest.h>

namespace ironbus::queue {
namespace {

constexpr int64_t kMs = 1'000'000;
using V = DedupTable::Verdict;

// Admit + Commit in one step (the append succeeded at `offset`).
DedupTable::Decision Publish(DedupTable& t, std::string_view producer, uint64_t epoch, std::string_view id,
                             int64_t now, uint64_t offset) {
  auto d = t.Admit(producer, epoch, id, now);
  EXPECT_TRUE(d.ok()) << d.status().ToString();
  if (d.ok() && d->verdict == V::kFresh) t.Commit(producer, epoch, id, offset);
  return d.ok() ? *d : DedupTable::Decision{};
}

TEST(Dedup, DuplicateWithinTheWindowGetsTheOriginalOffset) {
  DedupTable t;
  EXPECT_EQ(Publish(t, "p", 1, "m1", 0, 10).verdict, V::kFresh);
  auto dup = Publish(t, "p", 1, "m1", 5 * kMs, 11);
  EXPECT_EQ(dup.verdict, V::kDuplicate);
  EXPECT_EQ(dup.offset, 10u);
  EXPECT_EQ(t.hits(), 1u);
}

TEST(Dedup, AnIdIsFreshAgainOnceTheTimeWindowHasPassed) {
  DedupTable t(DedupOptions{100'000, 120'000, 4096});
  ASSERT_EQ(Publish(t, "p", 0, "m1", 0, 10).verdict, V::kFresh);
  EXPECT_EQ(Publish(t, "p", 0, "m1", 120'000 * kMs - 1, 0).verdict, V::kDuplicate);
  EXPECT_EQ(Publish(t, "p", 0, "m1", 120'000 * kMs, 20).verdict, V::kFresh);  // window reached
  EXPECT_EQ(t.out_of_window(), 1u);
}

TEST(Dedup, ADuplicateHitDoesNotRefreshTheEntry) {
  DedupTable t(DedupOptions{100, 1000, 16});
  ASSERT_EQ(Publish(t, "p", 0, "m", 0, 1).verdict, V::kFresh);
  ASSERT_EQ(Publish(t, "p", 0, "m", 900 * kMs, 0).verdict, V::kDuplicate);
  EXPECT_EQ(Publish(t, "p", 0, "m", 1000 * kMs, 2).verdict, V::kFresh);
}

TEST(Dedup, EvictedByCountFifoAndFreshAgain) {
  // Vector dedup_evicted_msg_id_is_fresh_again.
  DedupTable t(DedupOptions{3, 0, 16});
  for (int i = 0; i < 4; ++i) ASSERT_EQ(Publish(t, "p", 0, "m" + std::to_string(i), 0, i).verdict, V::kFresh);
  EXPECT_EQ(t.id_count("p"), 3u);
  EXPECT_EQ(Publish(t, "p", 0, "m1", 0, 0).verdict, V::kDuplicate);  // still held
  EXPECT_EQ(Publish(t, "p", 0, "m0", 0, 9).verdict, V::kFresh);      // the oldest went first
}

TEST(Dedup, ZeroWindowMeansNoTimeBound) {
  DedupTable t(DedupOptions{10, 0, 16});
  ASSERT_EQ(Publish(t, "p", 0, "m", 0, 1).verdict, V::kFresh);
  EXPECT_EQ(Publish(t, "p", 0, "m", int64_t{1} << 60, 0).verdict, V::kDuplicate);
}

TEST(Dedup, MaxIdsIsFlooredToOne) {
  DedupTable t(DedupOptions{0, 0, 0});
  ASSERT_EQ(Publish(t, "p", 0, "a", 0, 1).verdict, V::kFresh);
  EXPECT_EQ(Publish(t, "p", 0, "a", 0, 1).verdict, V::kDuplicate);
}

TEST(Dedup, WindowsArePerProducer) {
  DedupTable t;
  ASSERT_EQ(Publish(t, "a", 0, "m", 0, 1).verdict, V::kFresh);
  EXPECT_EQ(Publish(t, "b", 0, "m", 0, 2).verdict, V::kFresh);
  EXPECT_EQ(Publish(t, "", 0, "m", 0, 3).verdict, V::kFresh);  // anonymous is a window too
  EXPECT_EQ(Publish(t, "", 0, "m", 0, 0).offset, 3u);
}

TEST(Dedup, StaleEpochIsFencedAndANewerEpochStartsAFreshWindow) {
  DedupTable t;
  ASSERT_EQ(Publish(t, "p", 5, "m", 0, 1).verdict, V::kFresh);
  EXPECT_EQ(Publish(t, "p", 4, "x", 0, 0).verdict, V::kFenced);
  EXPECT_EQ(t.fenced(), 1u);
  EXPECT_EQ(Publish(t, "p", 6, "m", 0, 2).verdict, V::kFresh);  // old window discarded
  EXPECT_EQ(Publish(t, "p", 5, "m", 0, 0).verdict, V::kFenced);
}

TEST(Dedup, AnonymousProducerIsNeverFenced) {
  DedupTable t;
  ASSERT_EQ(Publish(t, "", 9, "m", 0, 1).verdict, V::kFresh);
  EXPECT_EQ(Publish(t, "", 0, "m", 0, 0).verdict, V::kDuplicate);
  EXPECT_EQ(Publish(t, "", 3, "n", 0, 2).verdict, V::kFresh);
}

TEST(Dedup, PendingOriginalIsReportedUntilItsAppendCompletes) {
  DedupTable t;
  ASSERT_EQ(t.Admit("p", 0, "m", 0)->verdict, V::kFresh);
  EXPECT_EQ(t.Admit("p", 0, "m", 0)->verdict, V::kDuplicatePending);
  t.Commit("p", 0, "m", 42);
  auto d = t.Admit("p", 0, "m", 0);
  EXPECT_EQ(d->verdict, V::kDuplicate);
  EXPECT_EQ(d->offset, 42u);
}

TEST(Dedup, AbortedAppendLeavesTheIdFresh) {
  DedupTable t;
  ASSERT_EQ(t.Admit("p", 0, "m", 0)->verdict, V::kFresh);
  t.Abort("p", 0, "m");
  EXPECT_EQ(t.Admit("p", 0, "m", 0)->verdict, V::kFresh);
  t.Commit("p", 0, "m", 7);
  // The stale FIFO slot of the aborted insert does not evict the live one.
  DedupTable small(DedupOptions{2, 0, 4});
  ASSERT_EQ(small.Admit("p", 0, "a", 0)->verdict, V::kFresh);
  small.Abort("p", 0, "a");
  ASSERT_EQ(Publish(small, "p", 0, "a", 0, 1).verdict, V::kFresh);
  ASSERT_EQ(Publish(small, "p", 0, "b", 0, 2).verdict, V::kFresh);
  EXPECT_EQ(Publish(small, "p", 0, "a", 0, 0).verdict, V::kDuplicate);
}

TEST(Dedup, OversizedIdsAreATypedError) {
  DedupTable t;
  EXPECT_TRUE(t.Admit(std::string(257, 'p'), 0, "m", 0).status().code() == StatusCode::kInvalidArgument);
  EXPECT_TRUE(t.Admit("p", 0, std::string(257, 'm'), 0).status().code() == StatusCode::kInvalidArgument);
  EXPECT_TRUE(t.Admit(std::string(256, 'p'), 0, std::string(256, 'm'), 0).ok());
}

TEST(Dedup, ProducerCapReapsEmptyWindowsFirstThenTheLeastRecentlyTouched) {
  DedupTable t(DedupOptions{10, 1000, 2});
  ASSERT_EQ(Publish(t, "a", 0, "m", 0, 1).verdict, V::kFresh);
  ASSERT_EQ(Publish(t, "b", 0, "m", 500 * kMs, 2).verdict, V::kFresh);
  // At 1200 ms a's window aged empty: it is reaped, b's survives.
  ASSERT_EQ(Publish(t, "c", 0, "m", 1200 * kMs, 3).verdict, V::kFresh);
  EXPECT_EQ(t.producer_count(), 2u);
  EXPECT_EQ(Publish(t, "b", 0, "m", 1200 * kMs, 0).verdict, V::kDuplicate);
  // Nothing aged now: the least recently touched (c; b was just touched) is evicted.
  ASSERT_EQ(Publish(t, "d", 0, "m", 1200 * kMs, 4).verdict, V::kFresh);
  EXPECT_EQ(Publish(t, "b", 0, "m", 1200 * kMs, 0).verdict, V::kDuplicate);
  EXPECT_EQ(Publish(t, "c", 0, "m", 1200 * kMs, 5).verdict, V::kFresh);
}

}  // namespace
}  // namespace ironbus::queue
