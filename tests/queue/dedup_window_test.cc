// The producer msg_id window (spec/consumers.md 9.1) as a pure state machine on a ManualClock.
#include "queue/dedup_window.h"

#include <gtest/gtest.h>

#include <optional>

namespace ironbus::queue {
namespace {

using Kind = DedupWindow::Kind;

ByteView B(const char* s) { return AsBytes(s); }
DedupWindow::Waiter Ignore() {
  return [](const Result<uint64_t>&) {};
}

TEST(DedupWindow, AResolvedIdIsADuplicateWithItsOriginalOffset) {
  ManualClock clock;
  DedupWindow w(&clock);
  auto first = w.Check(B("p"), 1, B("m1"), Ignore());
  ASSERT_EQ(first.kind, Kind::kFresh);
  w.Resolve(first.ticket, uint64_t{41});
  auto again = w.Check(B("p"), 1, B("m1"), Ignore());
  EXPECT_EQ(again.kind, Kind::kDuplicate);
  EXPECT_EQ(again.offset, 41u);
  EXPECT_EQ(w.Check(B("p"), 1, B("m2"), Ignore()).kind, Kind::kFresh) << "another id is fresh";
  EXPECT_EQ(w.Check(B("q"), 1, B("m1"), Ignore()).kind, Kind::kFresh) << "windows are per producer";
  EXPECT_EQ(w.stats().hits, 1u);
}

TEST(DedupWindow, ADuplicateOfAPendingOriginalWaitsForItsDurableOffset) {
  ManualClock clock;
  DedupWindow w(&clock);
  auto first = w.Check(B("p"), 0, B("m"), Ignore());
  std::optional<Result<uint64_t>> seen;
  auto dup = w.Check(B("p"), 0, B("m"), [&](const Result<uint64_t>& r) { seen = r; });
  EXPECT_EQ(dup.kind, Kind::kWaitForOriginal);
  EXPECT_FALSE(seen.has_value()) << "nothing is answered before the original is durable";
  w.Resolve(first.ticket, uint64_t{7});
  ASSERT_TRUE(seen.has_value());
  ASSERT_TRUE(seen->ok());
  EXPECT_EQ(**seen, 7u);
}

TEST(DedupWindow, AnOriginalThatFailedIsForgottenAndItsWaitersGetTheError) {
  ManualClock clock;
  DedupWindow w(&clock);
  auto first = w.Check(B("p"), 0, B("m"), Ignore());
  std::optional<Result<uint64_t>> seen;
  (void)w.Check(B("p"), 0, B("m"), [&](const Result<uint64_t>& r) { seen = r; });
  w.Resolve(first.ticket, Status::Unavailable("at capacity"));
  ASSERT_TRUE(seen.has_value());
  EXPECT_TRUE(seen->status().IsUnavailable());
  auto retry = w.Check(B("p"), 0, B("m"), Ignore());
  EXPECT_EQ(retry.kind, Kind::kFresh) << "a retry of an id that was not appended appends";
  w.Resolve(retry.ticket, uint64_t{3});
  EXPECT_EQ(w.Check(B("p"), 0, B("m"), Ignore()).offset, 3u);
}

TEST(DedupWindow, AStaleEpochIsFencedAndANewerOneDiscardsTheWindow) {
  ManualClock clock;
  DedupWindow w(&clock);
  auto a = w.Check(B("p"), 5, B("m"), Ignore());
  w.Resolve(a.ticket, uint64_t{1});
  EXPECT_EQ(w.Check(B("p"), 4, B("m"), Ignore()).kind, Kind::kFenced);
  EXPECT_EQ(w.Check(B("p"), 4, B("other"), Ignore()).kind, Kind::kFenced);
  EXPECT_EQ(w.Check(B("p"), 6, B("m"), Ignore()).kind, Kind::kFresh) << "a new epoch forgets the old ids";
  EXPECT_EQ(w.Check(B("p"), 5, B("m"), Ignore()).kind, Kind::kFenced) << "the high-water moved up";
  EXPECT_EQ(w.stats().fenced, 3u);
}

TEST(DedupWindow, TheAnonymousProducerIsNeverFenced) {
  ManualClock clock;
  DedupWindow w(&clock);
  auto a = w.Check(B(""), 9, B("m"), Ignore());
  w.Resolve(a.ticket, uint64_t{0});
  auto b = w.Check(B(""), 2, B("m"), Ignore());
  EXPECT_EQ(b.kind, Kind::kDuplicate);
}

TEST(DedupWindow, IdsOlderThanTheWindowAreFreshAgain) {
  ManualClock clock;
  DedupOptions o;
  o.window_ms = 1000;
  DedupWindow w(&clock, o);
  auto a = w.Check(B("p"), 0, B("m"), Ignore());
  w.Resolve(a.ticket, uint64_t{0});
  clock.AdvanceMs(999);
  EXPECT_EQ(w.Check(B("p"), 0, B("m"), Ignore()).kind, Kind::kDuplicate) << "a hit does not refresh";
  clock.AdvanceMs(1);
  EXPECT_EQ(w.Check(B("p"), 0, B("m"), Ignore()).kind, Kind::kFresh);
  EXPECT_EQ(w.stats().out_of_window, 1u);
}

TEST(DedupWindow, ThePendingOriginalOutlivesTheTimeBoundUntilItResolves) {
  ManualClock clock;
  DedupOptions o;
  o.window_ms = 10;
  DedupWindow w(&clock, o);
  auto a = w.Check(B("p"), 0, B("m"), Ignore());
  clock.AdvanceMs(100);
  EXPECT_EQ(w.Check(B("p"), 0, B("m"), Ignore()).kind, Kind::kWaitForOriginal);
  w.Resolve(a.ticket, uint64_t{0});
}

TEST(DedupWindow, TheCountBoundEvictsTheOldestIdFirst) {
  ManualClock clock;
  DedupOptions o;
  o.max_ids = 2;
  DedupWindow w(&clock, o);
  for (const char* id : {"a", "b", "c"}) {
    auto d = w.Check(B("p"), 0, B(id), Ignore());
    ASSERT_EQ(d.kind, Kind::kFresh);
    w.Resolve(d.ticket, uint64_t{0});
  }
  EXPECT_EQ(w.Check(B("p"), 0, B("c"), Ignore()).kind, Kind::kDuplicate);
  EXPECT_EQ(w.Check(B("p"), 0, B("b"), Ignore()).kind, Kind::kDuplicate);
  EXPECT_EQ(w.Check(B("p"), 0, B("a"), Ignore()).kind, Kind::kFresh) << "evicted: appends again";
}

TEST(DedupWindow, TheProducerCapEvictsTheLeastRecentlyTouchedWindow) {
  ManualClock clock;
  DedupOptions o;
  o.max_producers = 2;
  DedupWindow w(&clock, o);
  auto add = [&](const char* producer) {
    auto d = w.Check(B(producer), 0, B("m"), Ignore());
    if (d.kind == Kind::kFresh) w.Resolve(d.ticket, uint64_t{0});
    clock.AdvanceMs(1);
    return d.kind;
  };
  add("old");
  add("recent");
  EXPECT_EQ(add("old"), Kind::kDuplicate);  // touches "old": "recent" is now the least recent
  add("new");                               // over the cap: "recent" goes
  EXPECT_EQ(w.producers(), 2u);
  EXPECT_EQ(add("old"), Kind::kDuplicate);
  EXPECT_EQ(add("recent"), Kind::kFresh);
}

}  // namespace
}  // namespace ironbus::queue
