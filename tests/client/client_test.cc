// The client library against an in-process broker: handshake, sync and pipelined publish,
// fire-and-forget, ping, and its typed errors.
#include "client/client.h"

#include <gtest/gtest.h>

#include <thread>

#include "server/broker_test_util.h"

namespace ironbus::client {
namespace {

using server::testing::BrokerHarness;

PublishRequest Req(const std::string& payload, const std::string& key = "") {
  PublishRequest r;
  r.payload = ToBytes(payload);
  r.key = ToBytes(key);
  return r;
}

TEST(Client, ConnectPerformsTheHandshake) {
  BrokerHarness h;
  auto c = Client::Connect(h.addr());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_TRUE((*c)->info().credit.has_value());
  EXPECT_EQ((*c)->info().credit->negotiated, 64u);
  EXPECT_TRUE((*c)->info().gap_marker);
  EXPECT_TRUE((*c)->Ping().ok());
}

TEST(Client, ConnectionRefusedIsUnavailable) {
  uint16_t port = 0;
  {
    BrokerHarness h;  // a port that was just free; nothing listens there once h is gone
    port = h.port();
  }
  auto c = Client::Connect("127.0.0.1:" + std::to_string(port));
  ASSERT_FALSE(c.ok());
  EXPECT_TRUE(c.status().IsUnavailable()) << c.status().ToString();
}

TEST(Client, AMalformedAddressIsInvalidArgument) {
  auto c = Client::Connect("no-port-here");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
}

TEST(Client, SyncPublishReturnsDurableOffsetsInOrder) {
  BrokerHarness h;
  auto c = Client::Connect(h.addr());
  ASSERT_TRUE(c.ok());
  for (uint64_t i = 0; i < 10; ++i) {
    auto offset = (*c)->Publish(Req("m" + std::to_string(i), "key"));
    ASSERT_TRUE(offset.ok()) << offset.status().ToString();
    EXPECT_EQ(*offset, i);
    EXPECT_GT(h.log().durable_offset(), *offset);
  }
  PublishRequest level2 = Req("confirm me");
  level2.ack_level = 2;
  auto offset = (*c)->Publish(level2);
  ASSERT_TRUE(offset.ok());
  EXPECT_EQ(*offset, 10u);
}

TEST(Client, PipelinedPublishKeepsTheWindowAndReturnsEveryOffset) {
  BrokerHarness h;
  auto c = Client::Connect(h.addr());
  ASSERT_TRUE(c.ok());
  std::vector<PublishRequest> batch;
  for (int i = 0; i < 1000; ++i) batch.push_back(Req("p" + std::to_string(i)));
  for (size_t window : {size_t{1}, size_t{7}, size_t{256}, size_t{5000}}) {
    const uint64_t first = h.log().next_offset();
    auto offsets = (*c)->PublishPipelined(batch, window);
    ASSERT_TRUE(offsets.ok()) << "window " << window << ": " << offsets.status().ToString();
    ASSERT_EQ(offsets->size(), batch.size());
    for (size_t i = 0; i < offsets->size(); ++i) EXPECT_EQ((*offsets)[i], first + i) << "window " << window;
  }
  EXPECT_EQ(h.log().next_offset(), 4000u);
}

TEST(Client, AWindowLargerThanTheBrokersReplyQueueDoesNotDeadlock) {
  server::BrokerOptions o;
  o.max_pending_replies = 2;
  BrokerHarness h(o);
  auto c = Client::Connect(h.addr());
  ASSERT_TRUE(c.ok());
  std::vector<PublishRequest> batch(500, Req(std::string(2000, 'x')));
  auto results = (*c)->PublishWindow(batch, 500);
  ASSERT_EQ(results.size(), 500u);
  for (size_t i = 0; i < results.size(); ++i) {
    ASSERT_TRUE(results[i].ok()) << results[i].status.ToString();
    EXPECT_EQ(results[i].offset, i);
  }
}

TEST(Client, ABrokerErrCarriesItsCodeAndTheConnectionStaysUsable) {
  BrokerHarness h;
  auto c = Client::Connect(h.addr());
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE((*c)->Publish(Req("ok")).ok());
  h.fs().FailNextSync();  // freezes the log: the next Pub is a fatal storage error
  auto fatal = (*c)->Publish(Req("lost"));
  ASSERT_FALSE(fatal.ok());
  EXPECT_TRUE(fatal.status().IsFailedPrecondition()) << fatal.status().ToString();
  EXPECT_EQ((*c)->last_error().code, "ERR_STORAGE");

  auto other = Client::Connect(h.addr());
  ASSERT_TRUE(other.ok());
  std::vector<PublishRequest> batch(3, Req("refused"));
  auto results = (*other)->PublishWindow(batch, 3);
  for (const auto& r : results) {
    EXPECT_TRUE(r.status.IsFailedPrecondition()) << r.status.ToString();
    EXPECT_EQ(r.error_code, "ERR_STORAGE");
  }
  EXPECT_TRUE((*other)->Ping().ok()) << "a refusal keeps the connection";
}

TEST(Client, FireAndForgetIsNotAnsweredButAppended) {
  BrokerHarness h;
  auto c = Client::Connect(h.addr());
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE((*c)->PublishFireAndForget(Req("f0")).ok());
  ASSERT_TRUE((*c)->PublishFireAndForget(Req("f1")).ok());
  ASSERT_TRUE((*c)->Ping().ok());  // would see a stray reply if level 0 were answered
  auto offset = (*c)->Publish(Req("acked"));
  ASSERT_TRUE(offset.ok());
  EXPECT_EQ(*offset, 2u);
}

TEST(Client, AConnectionDroppedMidWindowIsUnavailableForTheUnansweredRest) {
  BrokerHarness h;
  auto c = Client::Connect(h.addr());
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE((*c)->Publish(Req("first")).ok());
  h.broker().Stop();  // graceful: the connection closes, nothing more is answered
  auto after = (*c)->Publish(Req("late"));
  ASSERT_FALSE(after.ok());
  EXPECT_TRUE(after.status().IsUnavailable()) << after.status().ToString();
  EXPECT_TRUE((*c)->broken());
  EXPECT_TRUE((*c)->Ping().IsUnavailable());
}

TEST(Client, ARequestTimeoutIsUnavailable) {
  // A listener that accepts and never answers.
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const uint16_t port = acceptor.local_endpoint().port();
  ClientOptions options;
  options.request_timeout = std::chrono::milliseconds(100);
  auto c = Client::Connect("127.0.0.1:" + std::to_string(port), options);
  ASSERT_FALSE(c.ok());
  EXPECT_TRUE(c.status().IsUnavailable()) << c.status().ToString();
}

TEST(Client, ARepeatedMsgIdIsReportedAsADuplicateOfTheOriginalOffset) {
  BrokerHarness h;
  auto c = Client::Connect(h.addr());
  ASSERT_TRUE(c.ok());
  PublishRequest r = Req("once");
  r.producer_id = ToBytes("producer");
  r.msg_id = ToBytes("id-1");
  auto results = (*c)->PublishWindow({r, Req("plain"), r}, 3);
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[0].offset, 0u);
  EXPECT_FALSE(results[0].duplicate);
  EXPECT_EQ(results[1].offset, 1u);
  EXPECT_TRUE(results[2].ok());
  EXPECT_TRUE(results[2].duplicate);
  EXPECT_EQ(results[2].offset, 0u);
  EXPECT_EQ(h.log().next_offset(), 2u);
}

}  // namespace
}  // namespace ironbus::client
