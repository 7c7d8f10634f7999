// The v1 items of what the reference's Go SDK live tests require of a server
// (spec/protocol.md section 15, items 1-5), frame for frame as the Go client sends them. Items 6
// and 7 (named streams and subjects) are the v2 milestone V2-M2 and are not built: the broker
// does not confirm STREAMS in Info, so a client can tell.
#include <gtest/gtest.h>

#include "server/broker_test_util.h"

namespace ironbus::server {
namespace {

namespace pr = protocol;
using testing::BrokerHarness;
using testing::MakePub;
using testing::RawConn;
using testing::Str;

pr::Pub AtLevel(const std::string& payload, uint8_t level_field) {
  pr::Pub p = MakePub(payload);
  p.flags = static_cast<uint8_t>((p.flags & ~pr::kPubAckLevelMask) | (level_field << pr::kPubAckLevelShift));
  return p;
}

// Deliver frames then the FlowEnd of one window.
std::vector<pr::Deliver> Window(RawConn& c, std::vector<pr::DeadLetter>* dead = nullptr) {
  std::vector<pr::Deliver> out;
  for (;;) {
    auto frame = c.Read();
    EXPECT_TRUE(frame.ok()) << frame.status().ToString();
    if (!frame.ok()) return out;
    if (auto* d = std::get_if<pr::Deliver>(&*frame)) {
      out.push_back(*d);
    } else if (auto* dl = std::get_if<pr::DeadLetter>(&*frame)) {
      if (dead != nullptr) dead->push_back(*dl);
    } else {
      EXPECT_TRUE(std::holds_alternative<pr::FlowEnd>(*frame)) << "tag " << static_cast<int>(pr::TagOf(*frame));
      return out;
    }
  }
}

uint8_t AckOp(RawConn& c, uint8_t op, const pr::Deliver& d, uint64_t delay = 0) {
  EXPECT_TRUE(c.SendFrame(pr::Ack{op, d.offset, d.generation, delay}));
  return c.ReadAs<pr::AckStatus>().status;
}

TEST(GoLiveChecklist, Item1PubLevelsAndDedup) {
  BrokerHarness h;
  RawConn c(h.port());
  const pr::Info info = c.Handshake();
  EXPECT_FALSE(info.streams) << "named streams are v2 and not offered";
  ASSERT_TRUE(c.SendFrame(MakePub("first")));
  EXPECT_EQ(c.ReadAs<pr::PubAck>().offset, 0u);
  ASSERT_TRUE(c.SendFrame(AtLevel("level two", 2)));
  EXPECT_EQ(c.ReadAs<pr::PubAck>().offset, 1u);
  ASSERT_TRUE(c.SendFrame(AtLevel("level zero", 1)));  // field value 1 = level 0: no reply
  pr::Pub dedup = MakePub("once");
  dedup.dedup = pr::Dedup{ToBytes("producer"), 0, ToBytes("id-1"), std::nullopt};
  ASSERT_TRUE(c.SendFrame(dedup));
  EXPECT_EQ(c.ReadAs<pr::PubAck>().offset, 3u) << "the level-0 Pub took offset 2";
  ASSERT_TRUE(c.SendFrame(dedup));
  EXPECT_EQ(c.ReadAs<pr::PubAckDuplicate>().offset, 3u);
}

TEST(GoLiveChecklist, Item2SubWorkersFetchNoWaitGetsFiveRecordsInOrderAndAcks) {
  BrokerHarness h;
  RawConn c(h.port());
  c.Handshake();
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(c.SendFrame(MakePub("payload-" + std::to_string(i), "key-" + std::to_string(i))));
    (void)c.ReadAs<pr::PubAck>();
  }
  ASSERT_TRUE(c.SendFrame(pr::Sub{ToBytes("workers")}));
  (void)c.ReadAs<pr::Ok>();
  ASSERT_TRUE(c.SendFrame(pr::Fetch{true, 64, 0, 0}));
  const auto got = Window(c);
  ASSERT_EQ(got.size(), 5u);
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].offset, i);
    EXPECT_EQ(Str(got[i].key), "key-" + std::to_string(i));
    EXPECT_EQ(Str(got[i].payload), "payload-" + std::to_string(i));
    EXPECT_EQ(AckOp(c, pr::kAckOpAck, got[i]), 1);
  }
}

TEST(GoLiveChecklist, Item3LevelTwoProduceThenDefaultGroupFetchAckFetchPing) {
  BrokerHarness h;
  RawConn c(h.port());
  c.Handshake();
  ASSERT_TRUE(c.SendFrame(AtLevel("l2", 2)));
  EXPECT_EQ(c.ReadAs<pr::PubAck>().offset, 0u);
  ASSERT_TRUE(c.SendFrame(pr::Sub{}));
  (void)c.ReadAs<pr::Ok>();
  ASSERT_TRUE(c.SendFrame(pr::Fetch{true, 64, 0, 0}));
  const auto got = Window(c);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(AckOp(c, pr::kAckOpAck, got[0]), 1);
  ASSERT_TRUE(c.SendFrame(pr::Fetch{true, 64, 0, 0}));
  EXPECT_TRUE(Window(c).empty());
  ASSERT_TRUE(c.SendFrame(pr::Ping{}));
  (void)c.ReadAs<pr::Pong>();
}

TEST(GoLiveChecklist, Item4ProgressNackTermAndGenerations) {
  BrokerHarness h;
  RawConn c(h.port());
  c.Handshake();
  for (const char* p : {"a", "b"}) {
    ASSERT_TRUE(c.SendFrame(MakePub(p)));
    (void)c.ReadAs<pr::PubAck>();
  }
  ASSERT_TRUE(c.SendFrame(pr::Sub{ToBytes("g")}));
  (void)c.ReadAs<pr::Ok>();
  ASSERT_TRUE(c.SendFrame(pr::Fetch{true, 1, 0, 0}));
  const pr::Deliver first = Window(c).at(0);
  EXPECT_EQ(AckOp(c, pr::kAckOpProgress, first), 1);
  EXPECT_EQ(AckOp(c, pr::kAckOpNack, first, 0), 1);
  ASSERT_TRUE(c.SendFrame(pr::Fetch{true, 1, 0, 0}));
  const pr::Deliver again = Window(c).at(0);
  EXPECT_EQ(again.offset, first.offset);
  EXPECT_GT(again.generation, first.generation);
  EXPECT_EQ(AckOp(c, pr::kAckOpAck, first), 0);
  EXPECT_EQ(AckOp(c, pr::kAckOpAck, again), 1);
  ASSERT_TRUE(c.SendFrame(pr::Fetch{true, 1, 0, 0}));
  EXPECT_EQ(AckOp(c, pr::kAckOpTerm, Window(c).at(0)), 1);
}

TEST(GoLiveChecklist, Item5MaxDeliverTwoThenDeadLetterAdvisoryAndNoDelivery) {
  queue::QueueOptions q;  // serve --max-deliver 2 --backoff-ms 0
  q.max_deliver = 2;
  q.backoff_ms.clear();
  BrokerHarness h({}, {}, 1u << 20, q);
  RawConn c(h.port());
  c.Handshake();
  ASSERT_TRUE(c.SendFrame(MakePub("poison")));
  (void)c.ReadAs<pr::PubAck>();
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(c.SendFrame(pr::Fetch{true, 64, 0, 0}));
    EXPECT_EQ(AckOp(c, pr::kAckOpNack, Window(c).at(0), 0), 1);
  }
  ASSERT_TRUE(c.SendFrame(pr::Fetch{true, 64, 0, 0}));
  std::vector<pr::DeadLetter> dead;
  EXPECT_TRUE(Window(c, &dead).empty());
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].offset, 0u);
  EXPECT_EQ(dead[0].reason, 0);
}

}  // namespace
}  // namespace ironbus::server
