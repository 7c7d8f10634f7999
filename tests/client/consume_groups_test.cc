// The consume calls against an in-process broker with non-default queue options: a broadcast
// group's cumulative-ack, the dead-letter advisory, and Nack's backoff schedule.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

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

// Fetch-ahead: two windows asked for before either is read come back in order; an ack sent
// between fetches is answered before the window behind it, and a refused one is reported
// without putting the reads out of step.
TEST(ClientConsumeGroups, FetchAheadReadsWindowsInOrderAndChecksTheAcksBetweenThem) {
  auto h = BroadcastHarness();
  auto c = Subscribed(*h, "bcast");
  ASSERT_TRUE(c);
  PublishN(*c, 100);
  FetchOptions options;
  options.max_records = 32;
  ASSERT_TRUE(c->SendFetch(options).ok());
  ASSERT_TRUE(c->SendFetch(options).ok());
  EXPECT_EQ(c->unanswered(), 2u);
  Status blocked = c->Ping();
  EXPECT_TRUE(blocked.IsFailedPrecondition()) << "its reply would be taken for a window's: " << blocked.ToString();
  auto first = c->ReceiveWindow();
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_EQ(first->messages.size(), 32u);
  EXPECT_EQ(first->messages.front().offset, 0u);
  auto second = c->ReceiveWindow();
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  ASSERT_EQ(second->messages.size(), 32u);
  EXPECT_EQ(second->messages.front().offset, 32u);

  // The credit (64) is spent: each fetch below gets records only from the ack sent before it.
  ASSERT_TRUE(c->SendCumulativeAck("bcast", 64).ok());
  ASSERT_TRUE(c->SendFetch(options).ok());
  ASSERT_TRUE(c->SendCumulativeAck("bcast", 1000).ok());  // past the head: refused
  ASSERT_TRUE(c->SendFetch(options).ok());
  auto third = c->ReceiveWindow();
  ASSERT_TRUE(third.ok()) << third.status().ToString();
  ASSERT_EQ(third->messages.size(), 32u);
  EXPECT_EQ(third->messages.front().offset, 64u);
  auto refused = c->ReceiveWindow();
  EXPECT_TRUE(refused.status().IsFailedPrecondition()) << refused.status().ToString();
  EXPECT_EQ(c->last_error().code, "ERR_CUMULATIVE_ACK_OUT_OF_RANGE");
  EXPECT_EQ(c->unanswered(), 1u) << "the window behind the refused ack is still to be read";
  auto fourth = c->ReceiveWindow();
  ASSERT_TRUE(fourth.ok()) << fourth.status().ToString();
  ASSERT_EQ(fourth->messages.size(), 4u) << "32 of the credit are held by 64..95";
  EXPECT_EQ(fourth->messages.front().offset, 96u);

  EXPECT_TRUE(c->ReceiveWindow().status().IsFailedPrecondition()) << "no fetch in flight";
  EXPECT_TRUE(c->Ping().ok());
}

// Long-polls pipelined on one connection wait in order: the records that arrive go to the
// oldest first, and the one behind it takes the next ones (it used to be refused with
// "a fetch of this member is already waiting").
TEST(ClientConsumeGroups, PipelinedLongPollsWaitInOrderAndShareWhatArrives) {
  auto h = BroadcastHarness();
  auto c = Subscribed(*h, "bcast");
  ASSERT_TRUE(c);
  FetchOptions options;
  options.max_records = 2;
  options.no_wait = false;
  options.expires = std::chrono::milliseconds(20'000);
  ASSERT_TRUE(c->SendFetch(options).ok());
  ASSERT_TRUE(c->SendFetch(options).ok());
  auto producer = Connected(*h);
  ASSERT_TRUE(producer);
  // Give both fetches time to park on the empty log (whatever comes first, the windows must
  // come back in order and both non-empty).
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  PublishN(*producer, 4);  // one by one: each may complete a window on its own
  auto first = c->ReceiveWindow();
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_TRUE(first->error.ok()) << first->error.ToString();
  ASSERT_FALSE(first->messages.empty());
  EXPECT_EQ(first->messages.front().offset, 0u);
  auto second = c->ReceiveWindow();
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_TRUE(second->error.ok()) << second->error.ToString();
  ASSERT_FALSE(second->messages.empty());
  EXPECT_EQ(second->messages.front().offset, first->messages.back().offset + 1);
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
