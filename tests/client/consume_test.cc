// The consume calls against an in-process broker (BrokerHarness): subscribe, fetch and flow
// windows, each settle op and what it does to redelivery, cumulative-ack refusals, and a
// dropped connection.
#include <gtest/gtest.h>

#include "client/client.h"
#include "format/compression.h"
#include "client/consume_test_util.h"

namespace ironbus::client {
namespace {

using server::testing::MakePub;
using server::testing::RawConn;
using namespace testing;
namespace pr = protocol;

TEST(ClientConsume, FetchDeliversInOrderAndAckAllCommits) {
  BrokerHarness h;
  auto [c, window] = StartConsumer(h, "workers", 5);
  ASSERT_TRUE(c);
  ASSERT_EQ(window.messages.size(), 5u);
  for (uint64_t i = 0; i < 5; ++i) {
    EXPECT_EQ(window.messages[i].offset, i);
    EXPECT_EQ(window.messages[i].key, ToBytes("k" + std::to_string(i)));
    EXPECT_EQ(window.messages[i].payload, ToBytes("m" + std::to_string(i)));
  }
  auto outcomes = c->AckAll(window.messages);
  ASSERT_TRUE(outcomes.ok()) << outcomes.status().ToString();
  EXPECT_EQ(*outcomes, std::vector<AckOutcome>(5, AckOutcome::kDone));
  EXPECT_TRUE(MustFetch(*c).messages.empty());
  c->Close();

  auto again = Subscribed(h, "workers");
  ASSERT_TRUE(again);
  EXPECT_TRUE(MustFetch(*again).messages.empty()) << "acked messages are committed for the group";
  auto other = Subscribed(h, "auditors");
  ASSERT_TRUE(other);
  EXPECT_EQ(MustFetch(*other).messages.size(), 5u) << "another group has its own cursor";
}

TEST(ClientConsume, MaxRecordsAndFlowCreditBoundTheWindow) {
  BrokerHarness h;
  auto c = Subscribed(h, "g");
  ASSERT_TRUE(c);
  PublishN(*c, 6);
  FetchResult first = MustFetch(*c, 2);
  ASSERT_EQ(first.messages.size(), 2u);
  EXPECT_EQ(first.messages[1].offset, 1u);
  EXPECT_TRUE(MustFetch(*c, 0).messages.empty()) << "max_records 0 is an immediate FlowEnd(0)";
  auto flowed = c->Flow(3);
  ASSERT_TRUE(flowed.ok()) << flowed.status().ToString();
  ASSERT_TRUE(flowed->error.ok()) << flowed->error.ToString();
  ASSERT_EQ(flowed->messages.size(), 3u);
  EXPECT_EQ(flowed->messages[0].offset, 2u);
  EXPECT_EQ(flowed->delivered, 3u);
}

TEST(ClientConsume, APeekedLeaseIsHeldUntilItsConnectionCloses) {
  BrokerHarness h;
  auto [first, held] = StartConsumer(h, "g", 2);
  ASSERT_TRUE(first);
  ASSERT_EQ(held.messages.size(), 2u);
  auto second = Subscribed(h, "g");
  ASSERT_TRUE(second);
  EXPECT_TRUE(MustFetch(*second).messages.empty()) << "both are leased to the first connection";
  first->Close();
  // The broker releases the leases when it sees the close; poll briefly for that.
  FetchResult redelivered;
  for (int i = 0; i < 100 && redelivered.messages.empty(); ++i) {
    redelivered = MustFetch(*second);
    if (redelivered.messages.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(redelivered.messages.size(), 2u);
  EXPECT_GT(redelivered.messages[0].generation, held.messages[0].generation);
}

TEST(ClientConsume, NackRedeliversWithAHigherGenerationAndFencesTheOldOne) {
  BrokerHarness h;
  auto [c, first] = StartConsumer(h, "g", 1);
  ASSERT_TRUE(c);
  ASSERT_EQ(first.messages.size(), 1u);
  const Message m = first.messages[0];
  EXPECT_EQ(c->Nack(m.offset, m.generation, 0).value(), AckOutcome::kDone);
  FetchResult second = MustFetch(*c);
  ASSERT_EQ(second.messages.size(), 1u);
  EXPECT_EQ(second.messages[0].offset, m.offset);
  EXPECT_GT(second.messages[0].generation, m.generation);
  EXPECT_EQ(c->Ack(m.offset, m.generation).value(), AckOutcome::kFenced) << "the old generation";
  EXPECT_EQ(c->Ack(m.offset, second.messages[0].generation).value(), AckOutcome::kDone);
  EXPECT_EQ(c->Ack(m.offset, second.messages[0].generation).value(), AckOutcome::kFenced) << "already settled";
}

TEST(ClientConsume, TermCommitsWithoutRedelivery) {
  BrokerHarness h;
  auto [c, window] = StartConsumer(h, "g", 2);
  ASSERT_TRUE(c);
  ASSERT_EQ(window.messages.size(), 2u);
  EXPECT_EQ(c->Term(0, window.messages[0].generation).value(), AckOutcome::kDone);
  EXPECT_EQ(c->Ack(1, window.messages[1].generation).value(), AckOutcome::kDone);
  c->Close();
  auto again = Subscribed(h, "g");
  ASSERT_TRUE(again);
  EXPECT_TRUE(MustFetch(*again).messages.empty());
}

TEST(ClientConsume, ProgressExtendsALiveLeaseAndIsFencedOtherwise) {
  BrokerHarness h;
  auto [c, window] = StartConsumer(h, "g", 1);
  ASSERT_TRUE(c);
  ASSERT_EQ(window.messages.size(), 1u);
  const Message m = window.messages[0];
  EXPECT_EQ(c->Progress(m.offset, m.generation).value(), AckOutcome::kDone);
  EXPECT_EQ(c->Progress(m.offset, m.generation + 100).value(), AckOutcome::kFenced);
  EXPECT_EQ(c->Progress(42, 1).value(), AckOutcome::kFenced) << "never delivered";
}

TEST(ClientConsume, UnsubscribeGoesBackToTheDefaultGroup) {
  BrokerHarness h;
  auto [c, named] = StartConsumer(h, "named", 1);
  ASSERT_TRUE(c);
  ASSERT_EQ(named.messages.size(), 1u);
  ASSERT_TRUE(c->AckAll(named.messages).ok());
  ASSERT_TRUE(c->Unsubscribe().ok());
  FetchResult fallback = MustFetch(*c);
  ASSERT_EQ(fallback.messages.size(), 1u) << "the default group has not consumed offset 0";
  EXPECT_EQ(fallback.messages[0].offset, 0u);
}

TEST(ClientConsume, AnInvalidGroupNameIsRefusedWithItsCode) {
  BrokerHarness h;
  auto c = Connected(h);
  ASSERT_TRUE(c);
  // The broker may refuse at Sub or at the first poll (spec/protocol.md 8.1).
  Status s = c->Subscribe("no spaces allowed");
  std::string code = c->last_error().code;
  if (s.ok()) {
    auto window = c->Fetch();
    ASSERT_TRUE(window.ok()) << window.status().ToString();
    EXPECT_TRUE(window->error.IsFailedPrecondition());
    code = window->error_code;
  } else {
    EXPECT_TRUE(s.IsFailedPrecondition()) << s.ToString();
  }
  EXPECT_EQ(code, "ERR_INVALID_GROUP_NAME");
  EXPECT_TRUE(c->Ping().ok());
}

TEST(ClientConsume, CumulativeAckOnANonBroadcastGroupIsRefused) {
  BrokerHarness h;
  auto c = Connected(h);
  ASSERT_TRUE(c);
  PublishN(*c, 2);
  Status s = c->CumulativeAck("", 1);
  EXPECT_TRUE(s.IsFailedPrecondition()) << s.ToString();
  EXPECT_EQ(c->last_error().code, "ERR_CUMULATIVE_ACK_NOT_ALLOWED");
  s = c->CumulativeAck("workers", 1);
  EXPECT_TRUE(s.IsFailedPrecondition()) << s.ToString();
  EXPECT_EQ(c->last_error().code, "ERR_CUMULATIVE_ACK_NOT_ALLOWED");
  EXPECT_TRUE(c->Ping().ok());
}

TEST(ClientConsume, AProducerCompressedRecordIsFetchedInflated) {
  BrokerHarness h;
  const std::string text(4096, 'q');
  auto stored = format::MaybeCompress(AsBytes(text), format::Compression::kLz4);
  ASSERT_TRUE(stored.has_value());
  {
    RawConn raw(h.port());
    raw.Handshake();
    pr::Pub pub = MakePub("");
    pub.flags = pr::kPubFlagCompressed;
    pub.payload = *stored;
    ASSERT_TRUE(raw.SendFrame(pub));
    EXPECT_EQ(raw.ReadAs<pr::PubAck>().offset, 0u);
  }
  auto c = Subscribed(h, "g");
  ASSERT_TRUE(c);
  FetchResult window = MustFetch(*c);
  ASSERT_EQ(window.messages.size(), 1u);
  // Inflated either by the broker (bit 0 then cleared) or, with compressed delivery, here.
  EXPECT_EQ(window.messages[0].payload, ToBytes(text));
}

TEST(ClientConsume, AStoppedBrokerIsUnavailable) {
  BrokerHarness h;
  auto c = Subscribed(h, "g");
  ASSERT_TRUE(c);
  h.broker().Stop();
  auto window = c->Fetch();
  ASSERT_FALSE(window.ok());
  EXPECT_TRUE(window.status().IsUnavailable()) << window.status().ToString();
  EXPECT_TRUE(c->Ack(0, 1).status().IsUnavailable());
  EXPECT_TRUE(c->Subscribe("g").IsUnavailable());
}

}  // namespace
}  // namespace ironbus::client
