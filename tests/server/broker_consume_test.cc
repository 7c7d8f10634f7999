// The consume verbs over real sockets against an in-process broker (spec/protocol.md 8 and the
// Go live-test checklist of section 15): Sub/Fetch/Ack, Nack and redelivery with a higher
// generation, Term, Progress, max-deliver then DeadLetter, long-poll woken by a publish and by
// the broker's own lease timer, leases released on disconnect, tokens scoped to their
// connection, broadcast groups and CumulativeAck.
#include <gtest/gtest.h>

#include <thread>

#include "server/broker_test_util.h"

namespace ironbus::server {
namespace {

namespace pr = protocol;
using testing::BrokerHarness;
using testing::MakePub;
using testing::RawConn;
using testing::Str;

// One delivery window as read off the wire.
struct WindowSeen {
  std::vector<pr::Deliver> delivers;
  std::vector<pr::DeadLetter> dead_letters;
  std::vector<pr::GapMarker> gaps;
  std::optional<pr::FlowEnd> end;
  std::optional<pr::Err> err;
};

WindowSeen ReadWindow(RawConn& c, int timeout_ms = 10'000) {
  WindowSeen w;
  for (;;) {
    auto frame = c.Read(timeout_ms);
    EXPECT_TRUE(frame.ok()) << frame.status().ToString();
    if (!frame.ok()) return w;
    if (auto* d = std::get_if<pr::Deliver>(&*frame)) {
      w.delivers.push_back(*d);
    } else if (auto* dl = std::get_if<pr::DeadLetter>(&*frame)) {
      w.dead_letters.push_back(*dl);
    } else if (auto* g = std::get_if<pr::GapMarker>(&*frame)) {
      w.gaps.push_back(*g);
    } else if (auto* e = std::get_if<pr::FlowEnd>(&*frame)) {
      w.end = *e;
      return w;
    } else if (auto* err = std::get_if<pr::Err>(&*frame)) {
      w.err = *err;
      return w;
    } else {
      ADD_FAILURE() << "unexpected tag " << static_cast<int>(pr::TagOf(*frame)) << " inside a window";
      return w;
    }
  }
}

pr::Fetch NoWait(uint32_t max) { return pr::Fetch{true, max, 0, 0}; }

void Publish(RawConn& c, const std::vector<std::string>& payloads, const std::string& key = "") {
  for (const auto& p : payloads) ASSERT_TRUE(c.SendFrame(MakePub(p, key)));
  for (size_t i = 0; i < payloads.size(); ++i) (void)c.ReadAs<pr::PubAck>();
}

uint8_t Settle(RawConn& c, uint8_t op, const pr::Deliver& d, uint64_t delay_ms = 0) {
  EXPECT_TRUE(c.SendFrame(pr::Ack{op, d.offset, d.generation, delay_ms}));
  return c.ReadAs<pr::AckStatus>().status;
}

TEST(BrokerConsume, SubFetchAckDeliversEveryRecordInOrderWithKeys) {
  BrokerHarness h;
  RawConn c(h.port());
  c.Handshake();
  Publish(c, {"a", "b", "c", "d", "e"}, "k");
  ASSERT_TRUE(c.SendFrame(pr::Sub{ToBytes("workers")}));
  (void)c.ReadAs<pr::Ok>();
  ASSERT_TRUE(c.SendFrame(NoWait(64)));
  WindowSeen w = ReadWindow(c);
  ASSERT_TRUE(w.end.has_value());
  EXPECT_EQ(w.end->count, 5u);
  ASSERT_EQ(w.delivers.size(), 5u);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(w.delivers[i].offset, i);
    EXPECT_EQ(Str(w.delivers[i].key), "k");
    EXPECT_EQ(Str(w.delivers[i].payload), std::string(1, static_cast<char>('a' + i)));
  }
  for (const auto& d : w.delivers) EXPECT_EQ(Settle(c, pr::kAckOpAck, d), 1);
  ASSERT_TRUE(c.SendFrame(NoWait(64)));
  EXPECT_EQ(ReadWindow(c).end->count, 0u);
  EXPECT_EQ(h.groups().Find("workers")->committed(), 5u);
}

TEST(BrokerConsume, AConnectionThatNeverSubscribesConsumesTheDefaultGroup) {
  BrokerHarness h;
  RawConn c(h.port());
  c.Handshake();
  Publish(c, {"x"});
  ASSERT_TRUE(c.SendFrame(pr::Flow{8}));
  WindowSeen w = ReadWindow(c);
  ASSERT_EQ(w.delivers.size(), 1u);
  EXPECT_EQ(Settle(c, pr::kAckOpAck, w.delivers[0]), 1);
  ASSERT_TRUE(c.SendFrame(pr::Ping{}));
  (void)c.ReadAs<pr::Pong>();
  EXPECT_EQ(h.groups().Find("")->committed(), 1u);
}

TEST(BrokerConsume, ProgressNackTermAndAStaleGenerationAreAnsweredAsTheGoTestsExpect) {
  BrokerHarness h;
  RawConn c(h.port());
  c.Handshake();
  Publish(c, {"one", "two"});
  ASSERT_TRUE(c.SendFrame(pr::Sub{ToBytes("g")}));
  (void)c.ReadAs<pr::Ok>();
  ASSERT_TRUE(c.SendFrame(NoWait(1)));
  WindowSeen first = ReadWindow(c);
  ASSERT_EQ(first.delivers.size(), 1u);
  const pr::Deliver d0 = first.delivers[0];
  EXPECT_EQ(Settle(c, pr::kAckOpProgress, d0), 1);
  EXPECT_EQ(Settle(c, pr::kAckOpNack, d0, /*delay_ms=*/0), 1);
  ASSERT_TRUE(c.SendFrame(NoWait(1)));
  WindowSeen again = ReadWindow(c);
  ASSERT_EQ(again.delivers.size(), 1u);
  EXPECT_EQ(again.delivers[0].offset, d0.offset);
  EXPECT_GT(again.delivers[0].generation, d0.generation);
  EXPECT_EQ(Settle(c, pr::kAckOpAck, d0), 0) << "the old generation is fenced";
  EXPECT_EQ(Settle(c, pr::kAckOpAck, again.delivers[0]), 1);
  ASSERT_TRUE(c.SendFrame(NoWait(1)));
  WindowSeen second = ReadWindow(c);
  ASSERT_EQ(second.delivers.size(), 1u);
  EXPECT_EQ(Settle(c, pr::kAckOpTerm, second.delivers[0]), 1);
  EXPECT_EQ(h.groups().Find("g")->committed(), 2u);
}

TEST(BrokerConsume, AfterMaxDeliverTheWindowCarriesDeadLetterAndNoDelivery) {
  queue::QueueOptions q;
  q.max_deliver = 2;
  q.backoff_ms.clear();
  BrokerHarness h({}, {}, 1u << 20, q);
  RawConn c(h.port());
  c.Handshake();
  Publish(c, {"poison"});
  ASSERT_TRUE(c.SendFrame(pr::Sub{ToBytes("workers")}));
  (void)c.ReadAs<pr::Ok>();
  pr::Deliver last;
  for (int attempt = 0; attempt < 2; ++attempt) {
    ASSERT_TRUE(c.SendFrame(NoWait(1)));
    WindowSeen w = ReadWindow(c);
    ASSERT_EQ(w.delivers.size(), 1u) << "attempt " << attempt;
    last = w.delivers[0];
    EXPECT_EQ(Settle(c, pr::kAckOpNack, last, 0), 1);
  }
  ASSERT_TRUE(c.SendFrame(NoWait(64)));
  WindowSeen w = ReadWindow(c);
  EXPECT_TRUE(w.delivers.empty());
  ASSERT_EQ(w.dead_letters.size(), 1u);
  EXPECT_EQ(w.dead_letters[0].offset, 0u);
  EXPECT_EQ(w.dead_letters[0].reason, pr::kDeadLetterMaxDeliver);
  EXPECT_EQ(w.end->count, 0u);
  EXPECT_EQ(h.groups().dlq()->record_count(), 1u);
  EXPECT_EQ(Settle(c, pr::kAckOpAck, last), 0) << "an ack after the move to the DLQ is fenced";
  ASSERT_TRUE(c.SendFrame(NoWait(64)));
  WindowSeen after = ReadWindow(c);
  EXPECT_TRUE(after.dead_letters.empty()) << "reported once";
  EXPECT_TRUE(after.delivers.empty());
}

TEST(BrokerConsume, ALongPollIsAnsweredByTheNextDurablePublish) {
  BrokerHarness h;
  RawConn consumer(h.port());
  consumer.Handshake();
  ASSERT_TRUE(consumer.SendFrame(pr::Fetch{false, 4, 0, 10'000}));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  RawConn producer(h.port());
  producer.Handshake();
  Publish(producer, {"late"});
  WindowSeen w = ReadWindow(consumer, 5'000);
  ASSERT_EQ(w.delivers.size(), 1u);
  EXPECT_EQ(Str(w.delivers[0].payload), "late");
}

TEST(BrokerConsume, AnExpiredLeaseReachesAWaitingConsumerByTheBrokersTimer) {
  queue::QueueOptions q;
  q.visibility_timeout_ms = 200;
  BrokerHarness h({}, {}, 1u << 20, q);
  RawConn a(h.port());
  a.Handshake();
  Publish(a, {"slow"});
  ASSERT_TRUE(a.SendFrame(NoWait(1)));
  WindowSeen first = ReadWindow(a);
  ASSERT_EQ(first.delivers.size(), 1u);
  // b waits; nobody polls again. The lease expires at 200 ms and the timer redelivers to b.
  RawConn b(h.port());
  b.Handshake();
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(b.SendFrame(pr::Fetch{false, 1, 0, 5'000}));
  WindowSeen w = ReadWindow(b, 5'000);
  ASSERT_EQ(w.delivers.size(), 1u);
  EXPECT_EQ(w.delivers[0].offset, 0u);
  EXPECT_GT(w.delivers[0].generation, first.delivers[0].generation);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(4'000));
  EXPECT_EQ(Settle(a, pr::kAckOpAck, first.delivers[0]), 0) << "a's lease moved on";
}

TEST(BrokerConsume, ClosingAConnectionReleasesItsLeasesAtOnce) {
  BrokerHarness h;
  RawConn b(h.port());
  b.Handshake();
  {
    RawConn a(h.port());
    a.Handshake();
    Publish(a, {"m0", "m1"});
    ASSERT_TRUE(a.SendFrame(NoWait(8)));
    ASSERT_EQ(ReadWindow(a).delivers.size(), 2u);
  }  // a disconnects without acking; the visibility timeout is 30 s
  std::vector<uint64_t> got;
  for (int i = 0; i < 100 && got.size() < 2; ++i) {
    ASSERT_TRUE(b.SendFrame(NoWait(8)));
    for (const auto& d : ReadWindow(b).delivers) got.push_back(d.offset);
    if (got.size() < 2) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(got, (std::vector<uint64_t>{0, 1}));
}

TEST(BrokerConsume, ATokenOfAnotherConnectionIsFenced) {
  BrokerHarness h;
  RawConn a(h.port());
  a.Handshake();
  RawConn b(h.port());
  b.Handshake();
  Publish(a, {"mine"});
  ASSERT_TRUE(a.SendFrame(NoWait(1)));
  WindowSeen w = ReadWindow(a);
  ASSERT_EQ(w.delivers.size(), 1u);
  EXPECT_EQ(Settle(b, pr::kAckOpAck, w.delivers[0]), 0);
  EXPECT_EQ(Settle(a, pr::kAckOpAck, w.delivers[0]), 1);
}

TEST(BrokerConsume, MalformedConsumeBodiesGetErrAndTheConnectionIsKept) {
  BrokerHarness h;
  RawConn c(h.port());
  c.Handshake();
  const uint8_t short_ack[] = {0, 1, 2};
  ASSERT_TRUE(c.SendRaw(static_cast<uint8_t>(pr::Tag::kAck), short_ack));
  EXPECT_FALSE(c.ReadAs<pr::Err>().message.empty());
  const uint8_t bad_flow[] = {1, 2};
  ASSERT_TRUE(c.SendRaw(static_cast<uint8_t>(pr::Tag::kFlow), bad_flow));
  EXPECT_EQ(c.ReadAs<pr::Err>().message, "flow credit must be a u32");
  ASSERT_TRUE(c.SendFrame(pr::Sub{ToBytes("bad name")}));
  EXPECT_EQ(c.ReadAs<pr::Err>().code, "ERR_INVALID_GROUP_NAME");
  ASSERT_TRUE(c.SendFrame(pr::Ping{}));
  (void)c.ReadAs<pr::Pong>();
}

TEST(BrokerConsume, BroadcastGroupTakesOneSubscriberAndCumulativeAck) {
  queue::QueueOptions q;
  q.broadcast_groups = {"audit"};
  BrokerHarness h({}, {}, 1u << 20, q);
  RawConn a(h.port());
  a.Handshake();
  RawConn b(h.port());
  b.Handshake();
  Publish(a, {"1", "2", "3"});
  ASSERT_TRUE(a.SendFrame(pr::Sub{ToBytes("audit")}));
  (void)a.ReadAs<pr::Ok>();
  ASSERT_TRUE(b.SendFrame(pr::Sub{ToBytes("audit")}));
  EXPECT_EQ(b.ReadAs<pr::Err>().code, "ERR_BROADCAST_GROUP_BUSY");
  ASSERT_TRUE(a.SendFrame(NoWait(64)));
  EXPECT_EQ(ReadWindow(a).delivers.size(), 3u);
  ASSERT_TRUE(b.SendFrame(pr::CumulativeAck{3, ToBytes("audit")}));
  (void)b.ReadAs<pr::Ok>();
  EXPECT_EQ(h.groups().Find("audit")->committed(), 3u);
  ASSERT_TRUE(b.SendFrame(pr::CumulativeAck{99, ToBytes("audit")}));
  EXPECT_EQ(b.ReadAs<pr::Err>().code, "ERR_CUMULATIVE_ACK_OUT_OF_RANGE");
  ASSERT_TRUE(b.SendFrame(pr::CumulativeAck{1, {}}));
  EXPECT_EQ(b.ReadAs<pr::Err>().code, "ERR_CUMULATIVE_ACK_NOT_ALLOWED");
}

TEST(BrokerConsume, CreditBoundsTheWindowAndNothingIsDropped) {
  BrokerHarness h;
  RawConn c(h.port());
  pr::Connect connect;
  connect.requested_credit = 3;
  c.Handshake(connect);
  Publish(c, {"0", "1", "2", "3", "4"});
  ASSERT_TRUE(c.SendFrame(NoWait(64)));
  WindowSeen w = ReadWindow(c);
  ASSERT_EQ(w.delivers.size(), 3u);
  ASSERT_TRUE(c.SendFrame(NoWait(64)));
  EXPECT_EQ(ReadWindow(c).end->count, 0u) << "zero credit left: an empty window";
  for (const auto& d : w.delivers) EXPECT_EQ(Settle(c, pr::kAckOpAck, d), 1);
  ASSERT_TRUE(c.SendFrame(NoWait(64)));
  WindowSeen rest = ReadWindow(c);
  ASSERT_EQ(rest.delivers.size(), 2u);
  EXPECT_EQ(rest.delivers[0].offset, 3u);
}

TEST(BrokerConsume, StopWritesTheCursorCheckpoint) {
  auto h = std::make_unique<BrokerHarness>();
  RawConn c(h->port());
  c.Handshake();
  Publish(c, {"a", "b", "c"});
  ASSERT_TRUE(c.SendFrame(pr::Sub{ToBytes("w")}));
  (void)c.ReadAs<pr::Ok>();
  ASSERT_TRUE(c.SendFrame(NoWait(2)));
  for (const auto& d : ReadWindow(c).delivers) EXPECT_EQ(Settle(c, pr::kAckOpAck, d), 1);
  h->broker().Stop();
  // The checkpoint interval is 1024: only the stop (or the drained connection leaving) wrote it.
  EXPECT_EQ(h->groups().Find("w")->committed(), 2u);
  EXPECT_GE(h->groups().Find("w")->stats().checkpoint_writes, 1u);
  auto files = h->fs().List(testing::kDataDir);
  ASSERT_TRUE(files.ok());
  bool has_cursor = false;
  for (const auto& f : *files) has_cursor |= f.name.rfind("cursor-", 0) == 0;
  EXPECT_TRUE(has_cursor);
}

}  // namespace
}  // namespace ironbus::server
