// The consume calls against a scripted broker (fake_broker.h): what each call puts on the wire,
// and how it treats replies a real broker should never send. A reply of the wrong shape is
// Corruption and breaks the connection; a broker Err is FailedPrecondition and does not.
#include <gtest/gtest.h>

#include "client/client.h"
#include "client/fake_broker.h"
#include "format/compression.h"
#include "format/record_format.h"

namespace ironbus::client {
namespace {

using testing::FakeBroker;
namespace pr = protocol;

pr::Deliver Delivery(uint64_t offset, const std::string& payload, uint64_t generation = 1) {
  pr::Deliver d;
  d.offset = offset;
  d.generation = generation;
  d.timestamp_ms = 1000 + offset;
  d.key = ToBytes("k" + std::to_string(offset));
  d.payload = ToBytes(payload);
  return d;
}

// Offset 0 stored COMPRESSED: the LZ4 descriptor and block of `text`.
pr::Deliver CompressedDelivery(const std::string& text) {
  pr::Deliver d = Delivery(0, "");
  d.flags = format::kFlagCompressed;
  auto stored = format::MaybeCompress(AsBytes(text), format::Compression::kLz4);
  EXPECT_TRUE(stored.has_value()) << "too short to compress";
  if (stored) d.payload = *stored;
  return d;
}

std::unique_ptr<Client> ConnectTo(FakeBroker& fake) {
  ClientOptions options;
  options.request_timeout = std::chrono::milliseconds(2'000);
  auto c = Client::Connect(fake.addr(), options);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? std::move(*c) : nullptr;
}

// A Fetch of up to `max_records` answered with `window`: a wrong-shaped window is Corruption
// and leaves the connection broken.
void ExpectFetchBreaks(std::vector<pr::Frame> window, uint32_t max_records = 64) {
  FakeBroker fake({std::move(window)});
  auto c = ConnectTo(fake);
  ASSERT_TRUE(c);
  FetchOptions options;
  options.max_records = max_records;
  auto result = c->Fetch(options);
  ASSERT_FALSE(result.ok());
  EXPECT_TRUE(result.status().IsCorruption()) << result.status().ToString();
  EXPECT_TRUE(c->broken());
}

TEST(ClientConsumeWire, SubscribeSendsTheGroupAndUnsubscribeAnEmptyBody) {
  FakeBroker fake({{pr::Ok{}}, {pr::Ok{}}});
  auto c = ConnectTo(fake);
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->Subscribe("workers").ok());
  ASSERT_TRUE(c->Unsubscribe().ok());
  c->Close();
  auto requests = fake.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0], pr::Frame(pr::Sub{ToBytes("workers")}));
  EXPECT_EQ(requests[1], pr::Frame(pr::Unsub{}));
}

TEST(ClientConsumeWire, AnErrAnswerIsFailedPreconditionAndKeepsTheConnection) {
  FakeBroker fake({{pr::Err{"ERR_BROADCAST_GROUP_BUSY", "taken"}}, {pr::Pong{}}});
  auto c = ConnectTo(fake);
  ASSERT_TRUE(c);
  Status s = c->Subscribe("bcast");
  EXPECT_TRUE(s.IsFailedPrecondition()) << s.ToString();
  EXPECT_EQ(c->last_error().code, "ERR_BROADCAST_GROUP_BUSY");
  EXPECT_EQ(c->last_error().message, "taken");
  EXPECT_FALSE(c->broken());
  EXPECT_TRUE(c->Ping().ok());
}

TEST(ClientConsumeWire, AWrongShapedReplyIsCorruptionAndBreaksTheConnection) {
  FakeBroker fake({{pr::Pong{}}});
  auto c = ConnectTo(fake);
  ASSERT_TRUE(c);
  Status s = c->Subscribe("g");
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_TRUE(c->broken());
  EXPECT_TRUE(c->Ping().IsCorruption()) << "the first cause is sticky";
}

TEST(ClientConsumeWire, FetchSendsItsOptionsAndReturnsTheWholeWindow) {
  FakeBroker fake({{Delivery(4, "a"), pr::DeadLetter{5, 0}, pr::Truncated{7, 2}, Delivery(7, "b"),
                    pr::GapMarker{9, 11, 0, pr::kGapReasonCompacted}, pr::FlowEnd{2}}});
  auto c = ConnectTo(fake);
  ASSERT_TRUE(c);
  FetchOptions options;
  options.max_records = 9;
  options.max_bytes = 4096;
  auto window = c->Fetch(options);
  ASSERT_TRUE(window.ok()) << window.status().ToString();
  EXPECT_TRUE(window->error.ok());
  EXPECT_EQ(window->delivered, 2u);
  ASSERT_EQ(window->messages.size(), 2u);
  EXPECT_EQ(window->messages[0].offset, 4u);
  EXPECT_EQ(window->messages[0].generation, 1u);
  EXPECT_EQ(window->messages[0].timestamp_ms, 1004u);
  EXPECT_EQ(window->messages[0].key, ToBytes("k4"));
  EXPECT_EQ(window->messages[0].payload, ToBytes("a"));
  EXPECT_EQ(window->messages[1].offset, 7u);
  ASSERT_EQ(window->dead_letters.size(), 1u);
  EXPECT_EQ(window->dead_letters[0].offset, 5u);
  ASSERT_EQ(window->truncations.size(), 1u);
  EXPECT_EQ(window->truncations[0], (pr::Truncated{7, 2}));
  ASSERT_EQ(window->gaps.size(), 1u);
  EXPECT_EQ(window->gaps[0].reason, pr::kGapReasonCompacted);
  c->Close();
  auto requests = fake.requests();
  ASSERT_EQ(requests.size(), 1u);
  pr::Fetch expected;
  expected.no_wait = true;
  expected.max_records = 9;
  expected.max_bytes = 4096;
  EXPECT_EQ(requests[0], pr::Frame(expected));
}

TEST(ClientConsumeWire, AnErrTerminatorEndsTheWindowAndKeepsItsMessages) {
  FakeBroker fake({{Delivery(0, "kept"), pr::Err{"ERR_STORAGE", "fetch failed"}}, {pr::Pong{}}});
  auto c = ConnectTo(fake);
  ASSERT_TRUE(c);
  auto window = c->Fetch();
  ASSERT_TRUE(window.ok()) << window.status().ToString();
  EXPECT_TRUE(window->error.IsFailedPrecondition()) << window->error.ToString();
  EXPECT_EQ(window->error_code, "ERR_STORAGE");
  ASSERT_EQ(window->messages.size(), 1u);
  EXPECT_EQ(window->messages[0].payload, ToBytes("kept"));
  EXPECT_FALSE(c->broken());
  EXPECT_TRUE(c->Ping().ok());
}

TEST(ClientConsumeWire, FlowSendsItsCreditAndReadsTheSameWindow) {
  FakeBroker fake({{Delivery(0, "x"), pr::FlowEnd{1}}});
  auto c = ConnectTo(fake);
  ASSERT_TRUE(c);
  auto window = c->Flow(3);
  ASSERT_TRUE(window.ok()) << window.status().ToString();
  ASSERT_EQ(window->messages.size(), 1u);
  c->Close();
  EXPECT_EQ(fake.requests().at(0), pr::Frame(pr::Flow{3}));
}

TEST(ClientConsumeWire, MoreWindowFramesThanRequestedIsCorruption) {
  ExpectFetchBreaks({Delivery(0, "a"), Delivery(1, "b"), Delivery(2, "c"), pr::FlowEnd{3}}, 2);
}

TEST(ClientConsumeWire, AFrameThatIsNotPartOfAWindowIsCorruption) {
  ExpectFetchBreaks({Delivery(0, "a"), pr::PubAck{3}});
}

TEST(ClientConsumeWire, ACompressedPayloadIsHandedBackInflated) {
  const std::string text(4096, 'z');
  FakeBroker fake({{CompressedDelivery(text), pr::FlowEnd{1}}});
  auto c = ConnectTo(fake);
  ASSERT_TRUE(c);
  auto window = c->Fetch();
  ASSERT_TRUE(window.ok()) << window.status().ToString();
  ASSERT_EQ(window->messages.size(), 1u);
  EXPECT_EQ(window->messages[0].payload, ToBytes(text));
  EXPECT_EQ(window->messages[0].flags & format::kFlagCompressed, format::kFlagCompressed);
}

TEST(ClientConsumeWire, ACompressedPayloadThatDoesNotInflateIsCorruption) {
  pr::Deliver d = CompressedDelivery(std::string(4096, 'z'));
  d.payload.resize(d.payload.size() - 3);  // the lz4 block is cut short
  ExpectFetchBreaks({d, pr::FlowEnd{1}});
}

TEST(ClientConsumeWire, TheSettleOpsSendTheirOpAndDelay) {
  FakeBroker fake({{pr::AckStatus{1}}, {pr::AckStatus{0}}, {pr::AckStatus{1}}, {pr::AckStatus{1}}, {pr::AckStatus{2}}});
  auto c = ConnectTo(fake);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->Ack(1, 10).value(), AckOutcome::kDone);
  EXPECT_EQ(c->Nack(2, 20).value(), AckOutcome::kFenced);
  EXPECT_EQ(c->Nack(3, 30, 0).value(), AckOutcome::kDone);
  EXPECT_EQ(c->Term(4, 40).value(), AckOutcome::kDone);
  EXPECT_EQ(c->Progress(5, 50).value(), AckOutcome::kCapReached);
  c->Close();
  auto requests = fake.requests();
  ASSERT_EQ(requests.size(), 5u);
  EXPECT_EQ(requests[0], pr::Frame(pr::Ack{pr::kAckOpAck, 1, 10, 0}));
  EXPECT_EQ(requests[1], pr::Frame(pr::Ack{pr::kAckOpNack, 2, 20, pr::kNackUseBackoff}));
  EXPECT_EQ(requests[2], pr::Frame(pr::Ack{pr::kAckOpNack, 3, 30, 0}));
  EXPECT_EQ(requests[3], pr::Frame(pr::Ack{pr::kAckOpTerm, 4, 40, 0}));
  EXPECT_EQ(requests[4], pr::Frame(pr::Ack{pr::kAckOpProgress, 5, 50, 0}));
}

TEST(ClientConsumeWire, AnUnknownAckStatusIsCorruption) {
  FakeBroker fake({{pr::AckStatus{3}}});
  auto c = ConnectTo(fake);
  ASSERT_TRUE(c);
  auto outcome = c->Ack(1, 1);
  ASSERT_FALSE(outcome.ok());
  EXPECT_TRUE(outcome.status().IsCorruption()) << outcome.status().ToString();
  EXPECT_TRUE(c->broken());
}

TEST(ClientConsumeWire, AckAllReadsEveryReplyEvenAfterARefusal) {
  FakeBroker fake({{pr::AckStatus{1}}, {pr::Err{"", "malformed ack body"}}, {pr::AckStatus{0}}, {pr::Pong{}}});
  auto c = ConnectTo(fake);
  ASSERT_TRUE(c);
  std::vector<Message> messages(3);
  for (uint64_t i = 0; i < 3; ++i) {
    messages[i].offset = i;
    messages[i].generation = 7;
  }
  auto outcomes = c->AckAll(messages);
  ASSERT_FALSE(outcomes.ok());
  EXPECT_TRUE(outcomes.status().IsFailedPrecondition()) << outcomes.status().ToString();
  EXPECT_TRUE(c->Ping().ok()) << "the third AckStatus was read, so the Pong answers the Ping";
}

TEST(ClientConsumeWire, AckAllPipelinesOneAckPerMessage) {
  std::vector<std::vector<pr::Frame>> script(100, {pr::AckStatus{1}});
  FakeBroker fake(script);
  auto c = ConnectTo(fake);
  ASSERT_TRUE(c);
  std::vector<Message> messages(100);
  for (uint64_t i = 0; i < 100; ++i) {
    messages[i].offset = i;
    messages[i].generation = i + 1;
  }
  auto outcomes = c->AckAll(messages);
  ASSERT_TRUE(outcomes.ok()) << outcomes.status().ToString();
  EXPECT_EQ(*outcomes, std::vector<AckOutcome>(100, AckOutcome::kDone));
  EXPECT_TRUE(c->AckAll({}).value().empty());
  c->Close();
  auto requests = fake.requests();
  ASSERT_EQ(requests.size(), 100u);
  EXPECT_EQ(requests[99], pr::Frame(pr::Ack{pr::kAckOpAck, 99, 100, 0}));
}

TEST(ClientConsumeWire, CumulativeAckSendsUpToAndTheGroup) {
  FakeBroker fake({{pr::Ok{}}, {pr::Err{"ERR_CUMULATIVE_ACK_OUT_OF_RANGE", "past the head"}}});
  auto c = ConnectTo(fake);
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->CumulativeAck("bcast", 12).ok());
  Status s = c->CumulativeAck("bcast", 99);
  EXPECT_TRUE(s.IsFailedPrecondition()) << s.ToString();
  EXPECT_EQ(c->last_error().code, "ERR_CUMULATIVE_ACK_OUT_OF_RANGE");
  c->Close();
  EXPECT_EQ(fake.requests().at(0), pr::Frame(pr::CumulativeAck{12, ToBytes("bcast")}));
}

TEST(ClientConsumeWire, CumulativeAckThenFetchSendsBothAndReadsBothReplies) {
  FakeBroker fake({{pr::Err{"ERR_CUMULATIVE_ACK_OUT_OF_RANGE", "past the head"}}, {pr::FlowEnd{0}}});
  auto c = ConnectTo(fake);
  ASSERT_TRUE(c);
  FetchOptions options;
  options.max_records = 8;
  auto r = c->CumulativeAckThenFetch("bcast", 99, options);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->ack.IsFailedPrecondition()) << r->ack.ToString();
  EXPECT_EQ(c->last_error().code, "ERR_CUMULATIVE_ACK_OUT_OF_RANGE");
  EXPECT_EQ(r->window.delivered, 0u);
  EXPECT_TRUE(r->window.error.ok());
  c->Close();
  auto requests = fake.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0], pr::Frame(pr::CumulativeAck{99, ToBytes("bcast")}));
  pr::Fetch expected;
  expected.max_records = 8;
  expected.no_wait = true;
  EXPECT_EQ(requests[1], pr::Frame(expected));
}

TEST(ClientConsumeWire, ALongPollWaitsPastTheReplyTimeout) {
  using std::chrono::milliseconds;
  // The reply comes 600 ms after the request, past the 300 ms reply timeout but within the
  // long-poll's `expires`.
  FakeBroker fake({{pr::FlowEnd{0}}, {pr::FlowEnd{0}}}, milliseconds(600));
  ClientOptions client_options;
  client_options.request_timeout = milliseconds(300);
  auto c = Client::Connect(fake.addr(), client_options);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  FetchOptions options;
  options.no_wait = false;
  options.expires = milliseconds(1'000);
  auto window = (*c)->Fetch(options);
  ASSERT_TRUE(window.ok()) << window.status().ToString();
  EXPECT_TRUE(window->messages.empty());
  pr::Fetch expected;
  expected.max_records = 64;
  expected.expires_ms = 1'000;
  EXPECT_EQ(fake.requests().at(0), pr::Frame(expected));

  auto no_wait = (*c)->Fetch();  // no long-poll: the plain reply timeout applies
  ASSERT_FALSE(no_wait.ok());
  EXPECT_TRUE(no_wait.status().IsUnavailable()) << no_wait.status().ToString();
}

}  // namespace
}  // namespace ironbus::client
