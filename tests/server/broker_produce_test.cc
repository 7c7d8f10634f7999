// The broker's handshake, ping and produce path over real loopback sockets
// (spec/protocol.md sections 2, 5, 6, 7, 9).
#include <gtest/gtest.h>

#include <algorithm>
#include <thread>
#include <vector>

#include "server/broker_test_util.h"

namespace ironbus::server::testing {
namespace {

TEST(BrokerHandshake, ConnectIsAnsweredWithVersionedInfoAndNegotiatedCredit) {
  BrokerHarness h;
  RawConn c(h.port());
  ASSERT_TRUE(c.connected());
  pr::Connect connect;
  connect.requested_credit = 1000;  // above the cap: negotiated down to it
  connect.requested_credit_bytes = 1024;
  connect.wants_gap_marker = true;
  connect.understands_streams = true;
  const pr::Info info = c.Handshake(connect);
  EXPECT_FALSE(info.legacy);
  ASSERT_TRUE(info.credit.has_value());
  EXPECT_EQ(info.credit->negotiated, 64u);
  EXPECT_EQ(info.credit->cap, 64u);
  ASSERT_TRUE(info.credit_bytes.has_value());
  EXPECT_EQ(info.credit_bytes->negotiated, 1024u);
  EXPECT_TRUE(info.gap_marker);
  EXPECT_FALSE(info.streams) << "streams are not built yet: never confirmed";
  EXPECT_FALSE(info.streaming);
  EXPECT_FALSE(info.default_ack_level.has_value());
}

TEST(BrokerHandshake, LegacyEmptyConnectGetsDefaultCreditNeverZero) {
  BrokerHarness h;
  RawConn c(h.port());
  pr::Connect legacy;
  legacy.legacy = true;
  const pr::Info info = c.Handshake(legacy);
  ASSERT_TRUE(info.credit.has_value());
  EXPECT_EQ(info.credit->negotiated, 64u);
  EXPECT_EQ(info.credit_bytes->negotiated, 8u << 20);
  EXPECT_FALSE(info.gap_marker);

  pr::Connect zero;
  zero.requested_credit = 0;
  const pr::Info again = c.Handshake(zero);  // a second Connect re-negotiates
  EXPECT_EQ(again.credit->negotiated, 1u);
}

TEST(BrokerHandshake, MalformedConnectGetsErrAndTheConnectionStaysOpen) {
  BrokerHarness h;
  RawConn c(h.port());
  const uint8_t bad[] = {7, 1, 0, 0};  // body_version 7
  ASSERT_TRUE(c.SendRaw(1, bad));
  const auto err = c.ReadAs<pr::Err>();
  EXPECT_TRUE(err.code.empty());
  EXPECT_FALSE(err.message.empty());
  EXPECT_FALSE(c.Handshake().legacy);  // the retry succeeds on the same connection
}

TEST(BrokerHandshake, PingIsAnsweredBeforeConnectButPubIsNotConnected) {
  BrokerHarness h;
  RawConn c(h.port());
  ASSERT_TRUE(c.SendFrame(pr::Ping{}));
  c.ReadAs<pr::Pong>();
  ASSERT_TRUE(c.SendFrame(MakePub("early")));
  EXPECT_EQ(c.ReadAs<pr::Err>().message, "not connected");
  pr::Pub fire = MakePub("early, level 0");
  fire.flags = pr::kPubFlagFireAndForget;
  ASSERT_TRUE(c.SendFrame(fire));  // level 0: not even an Err
  ASSERT_TRUE(c.SendFrame(pr::Ping{}));
  c.ReadAs<pr::Pong>();
  EXPECT_EQ(h.log().next_offset(), 0u);
}

TEST(BrokerProduce, PubAckCarriesDenseOffsetsAndComesAfterTheRecordIsDurable) {
  BrokerHarness h;
  RawConn c(h.port());
  c.Handshake();
  for (uint64_t i = 0; i < 5; ++i) {
    ASSERT_TRUE(c.SendFrame(MakePub("payload-" + std::to_string(i), "k")));
    const auto ack = c.ReadAs<pr::PubAck>();
    EXPECT_EQ(ack.offset, i);
    // The ack leaves only after the covering fdatasync: the record is already durable.
    EXPECT_GT(h.log().durable_offset(), ack.offset);
  }
  auto batch = h.log().Read(0, 10, 1u << 20);
  ASSERT_TRUE(batch.ok());
  ASSERT_EQ(batch->records.size(), 5u);
  EXPECT_EQ(Str(batch->records[3].record.payload), "payload-3");
  EXPECT_EQ(Str(batch->records[3].record.key), "k");
}

TEST(BrokerProduce, PipelinedPubsAreAnsweredInRequestOrderWithAPingInBetween) {
  BrokerHarness h;
  RawConn c(h.port());
  c.Handshake();
  Bytes window;
  constexpr int kPubs = 300;
  for (int i = 0; i < kPubs; ++i) {
    ASSERT_TRUE(pr::EncodeFrame(pr::Frame(MakePub(std::to_string(i))), &window).ok());
    if (i == 150) {
      ASSERT_TRUE(pr::EncodeFrame(pr::Frame(pr::Ping{}), &window).ok());
    }
  }
  ASSERT_TRUE(c.Send(window));  // the whole window in one write, like the Go ProduceWindow
  uint64_t expected = 0;
  for (int i = 0; i < kPubs + 1; ++i) {
    auto frame = c.Read();
    ASSERT_TRUE(frame.ok()) << frame.status().ToString();
    if (i == 151) {
      // The Pong waited behind the 151 acks before it, fsyncs and all.
      EXPECT_TRUE(std::holds_alternative<pr::Pong>(*frame)) << "reply " << i;
      continue;
    }
    ASSERT_TRUE(std::holds_alternative<pr::PubAck>(*frame)) << "reply " << i;
    EXPECT_EQ(std::get<pr::PubAck>(*frame).offset, expected++);
  }
  EXPECT_EQ(h.broker().stats().publishes_acked, static_cast<uint64_t>(kPubs));
}

// A group commit completes many connections' publishes at once, and each connection gets its
// outcomes handed to its strand in one batch: every PubAck must still reach its own connection,
// in request order, and the offsets of all connections together must be dense and unique.
TEST(BrokerProduce, ConcurrentWindowsFromManyConnectionsEachGetTheirOwnPubAcksInOrder) {
  BrokerHarness h;
  constexpr int kConns = 4;
  constexpr int kRounds = 5;
  constexpr int kWindow = 64;
  std::vector<std::vector<uint64_t>> offsets(kConns);
  std::vector<std::thread> producers;
  for (int t = 0; t < kConns; ++t) {
    producers.emplace_back([&h, &offsets, t] {
      RawConn c(h.port());
      c.Handshake();
      for (int round = 0; round < kRounds; ++round) {
        Bytes window;
        for (int i = 0; i < kWindow; ++i) {
          ASSERT_TRUE(pr::EncodeFrame(pr::Frame(MakePub("c" + std::to_string(t))), &window).ok());
        }
        ASSERT_TRUE(c.Send(window));
        for (int i = 0; i < kWindow; ++i) offsets[t].push_back(c.ReadAs<pr::PubAck>().offset);
      }
    });
  }
  for (auto& p : producers) p.join();
  std::vector<uint64_t> all;
  for (int t = 0; t < kConns; ++t) {
    ASSERT_EQ(offsets[t].size(), static_cast<size_t>(kRounds * kWindow));
    EXPECT_TRUE(std::is_sorted(offsets[t].begin(), offsets[t].end())) << "connection " << t;
    all.insert(all.end(), offsets[t].begin(), offsets[t].end());
  }
  std::sort(all.begin(), all.end());
  for (size_t i = 0; i < all.size(); ++i) ASSERT_EQ(all[i], i);
  // Each acknowledged offset holds that connection's record.
  auto batch = h.log().Read(0, all.size(), 1u << 30);
  ASSERT_TRUE(batch.ok());
  ASSERT_EQ(batch->records.size(), all.size());
  for (int t = 0; t < kConns; ++t) {
    for (uint64_t o : offsets[t]) EXPECT_EQ(Str(batch->records[o].record.payload), "c" + std::to_string(t));
  }
}

TEST(BrokerProduce, FireAndForgetGetsNoReplyButTakesTheNextOffset) {
  BrokerHarness h;
  RawConn c(h.port());
  c.Handshake();
  pr::Pub fire = MakePub("level 0");
  fire.flags = pr::kPubFlagFireAndForget;
  ASSERT_TRUE(c.SendFrame(fire));
  const uint8_t malformed_level0[] = {pr::kPubFlagFireAndForget, 1, 2};  // timestamp cut short
  ASSERT_TRUE(c.SendRaw(5, malformed_level0));
  ASSERT_TRUE(c.SendFrame(pr::Ping{}));
  c.ReadAs<pr::Pong>();  // the first reply is the Pong: nothing answered either level-0 Pub
  pr::Pub level2 = MakePub("level 2");
  level2.flags = static_cast<uint8_t>(2 << pr::kPubAckLevelShift);
  ASSERT_TRUE(c.SendFrame(level2));
  EXPECT_EQ(c.ReadAs<pr::PubAck>().offset, 1u);
}

TEST(BrokerProduce, AWindowBiggerThanTheReplyQueueStillCompletes) {
  BrokerOptions o;
  o.max_pending_replies = 4;  // the reader pauses every 4 pending acks
  BrokerHarness h(o);
  RawConn c(h.port());
  c.Handshake();
  Bytes window;
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(pr::EncodeFrame(pr::Frame(MakePub("w")), &window).ok());
  ASSERT_TRUE(c.Send(window));
  for (uint64_t i = 0; i < 100; ++i) EXPECT_EQ(c.ReadAs<pr::PubAck>().offset, i);
}

TEST(BrokerProduce, AFullAppendQueueIsWaitedForWithinTheBound) {
  storage::AppenderOptions ao;
  ao.queue_capacity = 1;  // almost every submit finds the queue full
  BrokerHarness h({}, ao);
  RawConn c(h.port());
  c.Handshake();
  Bytes window;
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(pr::EncodeFrame(pr::Frame(MakePub("q")), &window).ok());
  ASSERT_TRUE(c.Send(window));
  for (uint64_t i = 0; i < 200; ++i) EXPECT_EQ(c.ReadAs<pr::PubAck>().offset, i);
  EXPECT_EQ(h.broker().stats().publishes_shed, 0u);
}

TEST(BrokerProduce, WithoutWaitingAFullAppendQueueShedsWithAtCapacity) {
  storage::AppenderOptions ao;
  ao.queue_capacity = 1;
  BrokerOptions o;
  o.submit_wait = std::chrono::milliseconds(0);
  BrokerHarness h(o, ao);
  RawConn c(h.port());
  c.Handshake();
  Bytes window;
  constexpr int kPubs = 300;
  for (int i = 0; i < kPubs; ++i) ASSERT_TRUE(pr::EncodeFrame(pr::Frame(MakePub("s")), &window).ok());
  ASSERT_TRUE(c.Send(window));
  uint64_t next_offset = 0;
  uint64_t shed = 0;
  for (int i = 0; i < kPubs; ++i) {
    auto frame = c.Read();
    ASSERT_TRUE(frame.ok()) << frame.status().ToString();
    if (auto* err = std::get_if<pr::Err>(&*frame)) {
      EXPECT_EQ(err->code, "ERR_AT_CAPACITY");
      EXPECT_EQ(err->message, "shed under load");
      ++shed;
    } else {
      ASSERT_TRUE(std::holds_alternative<pr::PubAck>(*frame));
      EXPECT_EQ(std::get<pr::PubAck>(*frame).offset, next_offset++);  // a shed Pub consumes no offset
    }
  }
  EXPECT_EQ(h.broker().stats().publishes_shed, shed);
  EXPECT_EQ(h.log().next_offset(), next_offset);
}

TEST(BrokerProduce, AProducerThatDisconnectsWithAppendsInFlightLeavesADensePrefixAndOthersAreServed) {
  BrokerHarness h;
  {
    RawConn gone(h.port());
    gone.Handshake();
    Bytes window;
    for (int i = 0; i < 500; ++i) ASSERT_TRUE(pr::EncodeFrame(pr::Frame(MakePub("inflight")), &window).ok());
    ASSERT_TRUE(gone.Send(window));
  }  // closed without reading a single ack
  RawConn next(h.port());
  next.Handshake();
  ASSERT_TRUE(next.SendFrame(MakePub("after")));
  const uint64_t after = next.ReadAs<pr::PubAck>().offset;
  EXPECT_LE(after, 500u);
  // The first connection's frames already received may still be appended around "after";
  // wait for the log to settle, then it must be dense with exactly one "after" at its offset.
  uint64_t head = h.log().readable_offset();
  for (int stable = 0, i = 0; stable < 10 && i < 500; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const uint64_t now = h.log().readable_offset();
    stable = now == head ? stable + 1 : 0;
    head = now;
  }
  auto batch = h.log().Read(0, 1'000, 64u << 20);
  ASSERT_TRUE(batch.ok()) << batch.status().ToString();
  ASSERT_EQ(batch->records.size(), head);
  for (uint64_t i = 0; i < head; ++i) {
    EXPECT_EQ(batch->records[i].offset, i);
    EXPECT_EQ(Str(batch->records[i].record.payload), i == after ? "after" : "inflight");
  }
}

pr::Pub DedupPub(const std::string& payload, const std::string& producer, uint64_t epoch, const std::string& msg_id) {
  pr::Pub p = MakePub(payload);
  p.dedup = pr::Dedup{ToBytes(producer), epoch, ToBytes(msg_id), std::nullopt};
  return p;
}

TEST(BrokerDedup, ARepeatedMsgIdGetsPubAckDuplicateWithTheFirstOffsetAndAppendsNothing) {
  BrokerHarness h;
  RawConn c(h.port());
  c.Handshake();
  ASSERT_TRUE(c.SendFrame(DedupPub("a", "producer-1", 1, "m-1")));
  EXPECT_EQ(c.ReadAs<pr::PubAck>().offset, 0u);
  ASSERT_TRUE(c.SendFrame(DedupPub("a again", "producer-1", 1, "m-1")));
  EXPECT_EQ(c.ReadAs<pr::PubAckDuplicate>().offset, 0u);
  ASSERT_TRUE(c.SendFrame(DedupPub("b", "producer-1", 1, "m-2")));
  EXPECT_EQ(c.ReadAs<pr::PubAck>().offset, 1u);
  // Another connection of the same producer shares the window.
  RawConn other(h.port());
  other.Handshake();
  ASSERT_TRUE(other.SendFrame(DedupPub("b again", "producer-1", 1, "m-2")));
  EXPECT_EQ(other.ReadAs<pr::PubAckDuplicate>().offset, 1u);
  EXPECT_EQ(h.log().next_offset(), 2u);
}

TEST(BrokerDedup, ADuplicateInTheSameWindowAnswersAfterItsOriginalInOrder) {
  BrokerHarness h;
  RawConn c(h.port());
  c.Handshake();
  Bytes window;
  ASSERT_TRUE(pr::EncodeFrame(pr::Frame(DedupPub("x", "p", 0, "same")), &window).ok());
  ASSERT_TRUE(pr::EncodeFrame(pr::Frame(DedupPub("x", "p", 0, "same")), &window).ok());
  ASSERT_TRUE(pr::EncodeFrame(pr::Frame(MakePub("plain")), &window).ok());
  ASSERT_TRUE(c.Send(window));
  EXPECT_EQ(c.ReadAs<pr::PubAck>().offset, 0u);
  EXPECT_EQ(c.ReadAs<pr::PubAckDuplicate>().offset, 0u);
  EXPECT_EQ(c.ReadAs<pr::PubAck>().offset, 1u);
}

TEST(BrokerDedup, AStaleEpochIsFencedAndOversizeIdsAreRefused) {
  BrokerHarness h;
  RawConn c(h.port());
  c.Handshake();
  ASSERT_TRUE(c.SendFrame(DedupPub("new", "p", 2, "m")));
  EXPECT_EQ(c.ReadAs<pr::PubAck>().offset, 0u);
  ASSERT_TRUE(c.SendFrame(DedupPub("zombie", "p", 1, "m2")));
  const auto fenced = c.ReadAs<pr::Err>();
  EXPECT_EQ(fenced.code, "ERR_PRODUCER_FENCED");
  EXPECT_EQ(fenced.message, "fenced: stale producer epoch");
  ASSERT_TRUE(c.SendFrame(DedupPub("long", "p", 2, std::string(257, 'i'))));
  EXPECT_EQ(c.ReadAs<pr::Err>().message, "msg_id too long");
  ASSERT_TRUE(c.SendFrame(DedupPub("long", std::string(257, 'p'), 2, "m")));
  EXPECT_EQ(c.ReadAs<pr::Err>().message, "producer_id too long");
  pr::Pub seq = DedupPub("seq", "", 0, "m");
  seq.dedup->seq = 1;
  ASSERT_TRUE(c.SendFrame(seq));
  EXPECT_EQ(c.ReadAs<pr::Err>().message, "idempotent sequence requires a non-empty producer_id");
  EXPECT_EQ(h.log().next_offset(), 1u) << "nothing refused was appended";
}

}  // namespace
}  // namespace ironbus::server::testing
