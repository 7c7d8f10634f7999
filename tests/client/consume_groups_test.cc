// The consume calls against an in-process broker with non-default queue options: a broadcast
// group's cumulative-ack, the dead-letter advisory, and Nack's backoff schedule.
#include <gtest/gtest.h>

#include "client/client.h"
#include "client/consume_test_util.h"

namespace ironbus::client {
namespace {

using namespace testing;
namespace pr = protocol;

std::unique_ptr<BrokerHarness> HarnessWith(const queue::QueueOptions& queue_options) {
  return std::make_unique<BrokerHarness>(server::BrokerOptions{}, storage::AppenderOptions{}, 1u << 20, queue_options);
}

// A broker whose group "bcast" is broadcast.
std::unique_ptr<BrokerHarness> BroadcastHarness() {
  queue::QueueOptions q;
  q.broadcast_groups = {"bcast"};
  return HarnessWith(q);
}

TEST(ClientConsumeGroups, CumulativeAckCommitsABroadcastGroup) {
  auto h = BroadcastHarness();
  auto c = Subscribed(*h, "bcast");
  ASSERT_TRUE(c);
  PublishN(*c, 5);
  ASSERT_TRUE(c->CumulativeAck("bcast", 3).ok()) << c->last_error().message;
  ASSERT_TRUE(c->CumulativeAck("bcast", 2).ok()) << "at or below the commit is a no-op success";
  FetchResult window = MustFetch(*c);
  ASSERT_EQ(window.messages.size(), 2u);
  EXPECT_EQ(window.messages[0].offset, 3u);

  Status past_head = c->CumulativeAck("bcast", 6);
  EXPECT_TRUE(past_head.IsFailedPrecondition()) << past_head.ToString();
  EXPECT_EQ(c->last_error().code, "ERR_CUMULATIVE_ACK_OUT_OF_RANGE");
  EXPECT_TRUE(c->Ping().ok());
}

// The pipelined ack is applied before the fetch behind it: with the credit (64) exhausted by
// the first window, the second window can only come from the credit the ack gave back.
TEST(ClientConsumeGroups, CumulativeAckThenFetchSettlesOneWindowAndReadsTheNext) {
  auto h = BroadcastHarness();
  auto c = Subscribed(*h, "bcast");
  ASSERT_TRUE(c);
  PublishN(*c, 130);
  FetchOptions options;
  options.max_records = 64;
  auto first = c->Fetch(options);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_EQ(first->messages.size(), 64u);
  auto held = c->Fetch(options);
  ASSERT_TRUE(held.ok());
  EXPECT_TRUE(held->messages.empty()) << "the credit is spent until an ack";

  auto next = c->CumulativeAckThenFetch("bcast", first->messages.back().offset + 1, options);
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  EXPECT_TRUE(next->ack.ok()) << next->ack.ToString();
  ASSERT_EQ(next->window.messages.size(), 64u);
  EXPECT_EQ(next->window.messages.front().offset, 64u);

  // A refused ack still gets the window read, and the connection stays usable.
  auto refused = c->CumulativeAckThenFetch("bcast", 1000, options);
  ASSERT_TRUE(refused.ok()) << refused.status().ToString();
  EXPECT_TRUE(refused->ack.IsFailedPrecondition()) << refused->ack.ToString();
  EXPECT_EQ(c->last_error().code, "ERR_CUMULATIVE_ACK_OUT_OF_RANGE");
  EXPECT_TRUE(refused->window.messages.empty()) << "the credit is still spent";
  auto last = c->CumulativeAckThenFetch("bcast", 128, options);
  ASSERT_TRUE(last.ok());
  EXPECT_TRUE(last->ack.ok());
  ASSERT_EQ(last->window.messages.size(), 2u);
  EXPECT_EQ(last->window.messages.front().offset, 128u);
  EXPECT_TRUE(c->Ping().ok());
}

TEST(ClientConsumeGroups, ASecondBroadcastSubscriberIsRefusedAndKeepsItsOldGroup) {
  auto h = BroadcastHarness();
  auto first = Subscribed(*h, "bcast");
  ASSERT_TRUE(first);
  PublishN(*first, 1);
  auto second = Subscribed(*h, "other");
  ASSERT_TRUE(second);
  Status s = second->Subscribe("bcast");
  EXPECT_TRUE(s.IsFailedPrecondition()) << s.ToString();
  EXPECT_EQ(second->last_error().code, "ERR_BROADCAST_GROUP_BUSY");
  FetchResult window = MustFetch(*second);
  ASSERT_EQ(window.messages.size(), 1u) << "still consuming `other`";
}

TEST(ClientConsumeGroups, AMessageOverMaxDeliverIsReportedAsADeadLetter) {
  queue::QueueOptions q;
  q.max_deliver = 1;
  auto h = HarnessWith(q);
  auto [c, first] = StartConsumer(*h, "g", 2);
  ASSERT_TRUE(c);
  ASSERT_EQ(first.messages.size(), 2u);
  EXPECT_EQ(c->Nack(0, first.messages[0].generation, 0).value(), AckOutcome::kDone);
  EXPECT_EQ(c->Ack(1, first.messages[1].generation).value(), AckOutcome::kDone);
  FetchResult second = MustFetch(*c);
  EXPECT_TRUE(second.messages.empty());
  ASSERT_EQ(second.dead_letters.size(), 1u);
  EXPECT_EQ(second.dead_letters[0], (pr::DeadLetter{0, pr::kDeadLetterMaxDeliver}));
  EXPECT_EQ(second.delivered, 0u) << "an advisory is not counted in FlowEnd";
  FetchResult third = MustFetch(*c);
  EXPECT_TRUE(third.dead_letters.empty()) << "reported once";
}

TEST(ClientConsumeGroups, NackWithoutADelayFollowsTheBackoffSchedule) {
  queue::QueueOptions q;
  q.backoff_ms = {60'000};
  auto h = HarnessWith(q);
  auto [c, first] = StartConsumer(*h, "g", 1);
  ASSERT_TRUE(c);
  ASSERT_EQ(first.messages.size(), 1u);
  EXPECT_EQ(c->Nack(0, first.messages[0].generation).value(), AckOutcome::kDone);
  EXPECT_TRUE(MustFetch(*c).messages.empty()) << "held back for the schedule's 60 s";
  EXPECT_EQ(c->Nack(0, first.messages[0].generation, 0).value(), AckOutcome::kFenced) << "already requeued";
}

}  // namespace
}  // namespace ironbus::client
