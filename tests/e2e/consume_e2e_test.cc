// The consume path end to end through the real binary: `ironbus serve` on a free loopback
// port, driven by the client library (client::Client) and, where a user would, by the CLI
// (`sub`, `cumulative-ack`, `dump --dlq`). Covers competing consumers, key_shared ordering and
// affinity, a broadcast group with cumulative acks, redelivery after the visibility timeout,
// dead-lettering after max-deliver, cursors surviving a clean restart, and the README quick
// start. Timing enters only as generous upper bounds (each loop gives up after kDrainDeadline)
// and as sleeps well past a configured lease; nothing asserts how fast the broker is.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <latch>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "client/client.h"
#include "e2e/e2e_test_util.h"

namespace ironbus::e2e {
namespace {

using client::AckOutcome;
using client::Client;
using client::FetchOptions;
using client::FetchResult;
using client::Message;
using client::PublishRequest;
using SteadyClock = std::chrono::steady_clock;

// Upper bound for any drain loop; a healthy broker finishes each in well under a second.
constexpr auto kDrainDeadline = std::chrono::seconds(8);

std::unique_ptr<Client> ConnectTo(const std::string& addr) {
  auto c = Client::Connect(addr);
  EXPECT_TRUE(c.ok()) << addr << ": " << c.status().ToString();
  return c.ok() ? std::move(*c) : nullptr;
}

// A fetch that must end with FlowEnd; `wait` > 0 long-polls that long for an empty window.
FetchResult MustFetch(Client& c, uint32_t max_records = 64, std::chrono::milliseconds wait = {}) {
  FetchOptions options;
  options.max_records = max_records;
  options.no_wait = wait.count() == 0;
  options.expires = wait;
  auto window = c.Fetch(options);
  EXPECT_TRUE(window.ok()) << window.status().ToString();
  if (!window.ok()) return {};
  EXPECT_TRUE(window->error.ok()) << window->error.ToString() << " code=" << window->error_code;
  EXPECT_EQ(window->delivered, window->messages.size());
  return std::move(*window);
}

// Acks every message of a window; each must be committed.
void MustAckAll(Client& c, const std::vector<Message>& messages) {
  if (messages.empty()) return;
  auto outcomes = c.AckAll(messages);
  ASSERT_TRUE(outcomes.ok()) << outcomes.status().ToString();
  ASSERT_EQ(outcomes->size(), messages.size());
  for (size_t i = 0; i < messages.size(); ++i) {
    EXPECT_EQ((*outcomes)[i], AckOutcome::kDone) << "offset " << messages[i].offset;
  }
}

// Fetches and acks on `c` until a window comes back empty; returns the offsets in delivery order.
std::vector<uint64_t> DrainAndAck(Client& c) {
  std::vector<uint64_t> offsets;
  const auto deadline = SteadyClock::now() + kDrainDeadline;
  while (SteadyClock::now() < deadline) {
    FetchResult w = MustFetch(c);
    if (w.messages.empty()) break;
    for (const Message& m : w.messages) offsets.push_back(m.offset);
    MustAckAll(c, w.messages);
    if (::testing::Test::HasFatalFailure()) break;
  }
  return offsets;
}

// A 256-byte payload that starts with "id=<6 digits>;" and is padded with '.'.
Bytes IdPayload(uint64_t id) {
  char head[16];
  std::snprintf(head, sizeof head, "id=%06llu;", static_cast<unsigned long long>(id));
  std::string s(head);
  s.resize(256, '.');
  return ToBytes(s);
}

// The id of an IdPayload, or -1 when the payload is not one.
int64_t IdOf(const Bytes& payload) {
  const std::string s(AsChars(payload));
  if (s.size() != 256 || s.compare(0, 3, "id=") != 0 || s[9] != ';') return -1;
  return std::stoll(s.substr(3, 6));
}

// Publishes `requests` pipelined: success when every one was acked, at consecutive offsets
// from `first`. Use as ASSERT_TRUE(Published(...)).
::testing::AssertionResult Published(Client& c, const std::vector<PublishRequest>& requests, uint64_t first) {
  auto offsets = c.PublishPipelined(requests, 64);
  if (!offsets.ok()) return ::testing::AssertionFailure() << "publish: " << offsets.status().ToString();
  if (offsets->size() != requests.size()) return ::testing::AssertionFailure() << offsets->size() << " offsets";
  for (size_t i = 0; i < offsets->size(); ++i) {
    if ((*offsets)[i] != first + i) {
      return ::testing::AssertionFailure() << "record " << i << " got offset " << (*offsets)[i] << ", not " << first + i;
    }
  }
  return ::testing::AssertionSuccess();
}

std::vector<PublishRequest> TextRecords(const std::string& prefix, int n) {
  std::vector<PublishRequest> out(n);
  for (int i = 0; i < n; ++i) out[i].payload = ToBytes(prefix + std::to_string(i));
  return out;
}

class ConsumeE2E : public E2ETest {
 protected:
  // Starts a broker on data_ and returns its address ("" after a failed start, with a test
  // failure recorded).
  std::string Start(std::vector<std::string> extra = {}) {
    broker_ = std::make_unique<Broker>(data_, scratch_.path(), std::move(extra));
    const std::string addr = broker_->WaitListening();
    EXPECT_FALSE(addr.empty()) << broker_->output() << broker_->errors();
    return addr;
  }
  // A clean stop (SIGTERM) that must exit 0.
  void StopClean() {
    ASSERT_TRUE(broker_);
    EXPECT_EQ(broker_->Stop(SIGTERM), 0) << broker_->errors();
  }
  std::unique_ptr<Broker> broker_;
};

// ---- 1. competing consumers ----

TEST_F(ConsumeE2E, CompetingConsumersShareTheWorkAndEveryRecordIsAckedExactlyOnce) {
  const std::string addr = Start();
  ASSERT_FALSE(addr.empty());
  constexpr int kRecords = 2000;
  constexpr int kConsumers = 3;
  {
    auto producer = ConnectTo(addr);
    ASSERT_TRUE(producer);
    std::vector<PublishRequest> batch(kRecords);
    for (int i = 0; i < kRecords; ++i) batch[i].payload = IdPayload(i);
    ASSERT_TRUE(Published(*producer, batch, 0));
  }

  struct Seen {
    int consumer;
    uint64_t offset;
    int64_t id;
  };
  std::mutex mu;
  std::vector<Seen> seen;            // every delivery, GUARDED_BY(mu)
  std::vector<std::string> errors;   // GUARDED_BY(mu)
  std::atomic<int> acked{0};
  std::latch subscribed(kConsumers);
  std::vector<std::thread> threads;
  for (int t = 0; t < kConsumers; ++t) {
    threads.emplace_back([&, t] {
      auto fail = [&](const std::string& what) {
        std::lock_guard lock(mu);
        errors.push_back("consumer " + std::to_string(t) + ": " + what);
      };
      auto c = Client::Connect(addr);
      Status sub = c.ok() ? (*c)->Subscribe("workers") : c.status();
      subscribed.arrive_and_wait();  // everyone competes from the first fetch on
      if (!sub.ok()) return fail("subscribe: " + sub.ToString());
      Client& client = **c;
      const auto deadline = SteadyClock::now() + kDrainDeadline;
      while (acked.load() < kRecords && SteadyClock::now() < deadline) {
        FetchOptions options;
        options.max_records = 32;
        options.no_wait = false;
        options.expires = std::chrono::milliseconds(100);
        auto w = client.Fetch(options);
        if (!w.ok()) return fail("fetch: " + w.status().ToString());
        if (!w->error.ok()) return fail("fetch window: " + w->error.ToString());
        {
          std::lock_guard lock(mu);
          for (const Message& m : w->messages) seen.push_back({t, m.offset, IdOf(m.payload)});
        }
        if (w->messages.empty()) continue;
        auto outcomes = client.AckAll(w->messages);
        if (!outcomes.ok()) return fail("ack: " + outcomes.status().ToString());
        for (size_t i = 0; i < outcomes->size(); ++i) {
          if ((*outcomes)[i] == AckOutcome::kDone) {
            acked++;
          } else {
            fail("ack of offset " + std::to_string(w->messages[i].offset) + " not done");
          }
        }
      }
    });
  }
  for (auto& th : threads) th.join();

  EXPECT_TRUE(errors.empty()) << ::testing::PrintToString(errors);
  EXPECT_EQ(acked.load(), kRecords);
  // Every id delivered exactly once (the 30 s default visibility cannot expire in this test, so
  // a duplicate is a bug), at the offset it was published to, and none missing.
  std::vector<int> deliveries(kRecords, 0);
  std::vector<int> per_consumer(kConsumers, 0);
  for (const Seen& s : seen) {
    ASSERT_GE(s.id, 0) << "offset " << s.offset << ": payload is not an id record";
    ASSERT_LT(s.id, kRecords);
    EXPECT_EQ(s.offset, static_cast<uint64_t>(s.id));
    deliveries[s.id]++;
    per_consumer[s.consumer]++;
  }
  std::vector<int> missing, duplicated;
  for (int i = 0; i < kRecords; ++i) {
    if (deliveries[i] == 0) missing.push_back(i);
    if (deliveries[i] > 1) duplicated.push_back(i);
  }
  EXPECT_TRUE(missing.empty()) << missing.size() << " id(s) never delivered, first " << missing.front();
  EXPECT_TRUE(duplicated.empty()) << duplicated.size() << " id(s) delivered twice, first " << duplicated.front();
  int with_work = 0;
  for (int n : per_consumer) with_work += n > 0 ? 1 : 0;
  EXPECT_GT(with_work, 1) << "deliveries per consumer: " << ::testing::PrintToString(per_consumer);

  // Nothing is left for the group, and the default group still has everything.
  auto check = ConnectTo(addr);
  ASSERT_TRUE(check);
  ASSERT_TRUE(check->Subscribe("workers").ok());
  EXPECT_TRUE(MustFetch(*check).messages.empty());
  ASSERT_TRUE(check->Unsubscribe().ok());
  FetchResult fresh = MustFetch(*check, 5);
  ASSERT_EQ(fresh.messages.size(), 5u);
  EXPECT_EQ(fresh.messages[0].offset, 0u);
  check->Close();  // an open connection would hold the stop in its 1 s linger
  StopClean();
}

// ---- 2. key_shared ----

constexpr int kKeys = 8;

struct KeyedDelivery {
  int key;
  int seq;
  uint64_t offset;
};

// `per_key` records for each of kKeys keys, interleaved (key i % kKeys), with payload
// "<key>:<seq>" where seq continues from `first_seq`.
std::vector<PublishRequest> KeyedRecords(int per_key, int first_seq) {
  std::vector<PublishRequest> batch;
  for (int i = 0; i < per_key * kKeys; ++i) {
    PublishRequest r;
    const int key = i % kKeys;
    r.key = ToBytes("key-" + std::to_string(key));
    r.payload = ToBytes(std::to_string(key) + ":" + std::to_string(first_seq + i / kKeys));
    batch.push_back(std::move(r));
  }
  return batch;
}

// Each of `consumers` fetches and acks in its own thread until `total` records were acked by
// them all. Returns each consumer's deliveries in the order it received them; a window that
// carried two records of one key at once is reported through `errors` (a key_shared group has
// at most one record per key in flight).
std::vector<std::vector<KeyedDelivery>> DrainKeyShared(const std::vector<Client*>& consumers, int total,
                                                       std::vector<std::string>* errors) {
  std::vector<std::vector<KeyedDelivery>> got(consumers.size());
  std::mutex mu;
  std::atomic<int> acked{0};
  std::vector<std::thread> threads;
  for (size_t t = 0; t < consumers.size(); ++t) {
    threads.emplace_back([&, t] {
      auto fail = [&](const std::string& what) {
        std::lock_guard lock(mu);
        errors->push_back("consumer " + std::to_string(t) + ": " + what);
      };
      Client& c = *consumers[t];
      const auto deadline = SteadyClock::now() + kDrainDeadline;
      while (acked.load() < total && SteadyClock::now() < deadline) {
        FetchOptions options;
        options.no_wait = false;
        options.expires = std::chrono::milliseconds(50);
        auto w = c.Fetch(options);
        if (!w.ok()) return fail("fetch: " + w.status().ToString());
        if (!w->error.ok()) return fail("fetch window: " + w->error.ToString());
        std::set<int> keys_in_window;
        for (const Message& m : w->messages) {
          const std::string p(AsChars(m.payload));
          const size_t colon = p.find(':');
          if (colon == std::string::npos) return fail("unexpected payload " + p);
          const int key = std::stoi(p.substr(0, colon));
          if (AsChars(m.key) != "key-" + std::to_string(key)) return fail("key/payload mismatch at " + p);
          if (!keys_in_window.insert(key).second) {
            fail("window holds two records of key " + std::to_string(key) + " (offset " + std::to_string(m.offset) + ")");
          }
          got[t].push_back({key, std::stoi(p.substr(colon + 1)), m.offset});
        }
        if (w->messages.empty()) continue;
        auto outcomes = c.AckAll(w->messages);
        if (!outcomes.ok()) return fail("ack: " + outcomes.status().ToString());
        for (AckOutcome o : *outcomes) {
          if (o != AckOutcome::kDone) fail("an ack was not done");
        }
        acked += static_cast<int>(outcomes->size());
      }
    });
  }
  for (auto& th : threads) th.join();
  if (acked.load() != total) errors->push_back("acked " + std::to_string(acked.load()) + " of " + std::to_string(total));
  return got;
}

// key -> the consumers that received it; and per key the seqs in delivery order.
struct KeyView {
  std::map<int, std::set<size_t>> owners;
  std::map<int, std::vector<int>> seqs;
};
KeyView ViewOf(const std::vector<std::vector<KeyedDelivery>>& got) {
  KeyView v;
  for (size_t c = 0; c < got.size(); ++c) {
    for (const KeyedDelivery& d : got[c]) {
      v.owners[d.key].insert(c);
      v.seqs[d.key].push_back(d.seq);
    }
  }
  return v;
}

TEST_F(ConsumeE2E, KeySharedKeepsPerKeyOrderAndAffinityAcrossAMemberLeaving) {
  const std::string addr = Start({"--key-shared-group", "ks"});
  ASSERT_FALSE(addr.empty());
  auto producer = ConnectTo(addr);
  ASSERT_TRUE(producer);
  std::vector<std::unique_ptr<Client>> members;
  for (int i = 0; i < 3; ++i) {
    members.push_back(ConnectTo(addr));
    ASSERT_TRUE(members.back());
    ASSERT_TRUE(members.back()->Subscribe("ks").ok()) << members.back()->last_error().message;
  }

  // Phase 1: three members, 8 keys x 40 records.
  constexpr int kPerKey = 40;
  ASSERT_TRUE(Published(*producer, KeyedRecords(kPerKey, 0), 0));
  std::vector<std::string> errors;
  const auto phase1 = DrainKeyShared({members[0].get(), members[1].get(), members[2].get()}, kPerKey * kKeys, &errors);
  EXPECT_TRUE(errors.empty()) << ::testing::PrintToString(errors);
  const KeyView v1 = ViewOf(phase1);
  ASSERT_EQ(v1.owners.size(), static_cast<size_t>(kKeys));
  for (const auto& [key, owners] : v1.owners) {
    EXPECT_EQ(owners.size(), 1u) << "key " << key << " went to several connected members";
  }
  // No redelivery can happen (30 s visibility), so the deliveries are the first deliveries and
  // each key's must be exactly 0, 1, 2, ... in order.
  for (const auto& [key, seqs] : v1.seqs) {
    std::vector<int> expected(kPerKey);
    for (int i = 0; i < kPerKey; ++i) expected[i] = i;
    EXPECT_EQ(seqs, expected) << "key " << key;
  }

  // Phase 2: member 0 leaves (Unsub answers after the group dropped it), 8 x 40 more. Keys it
  // owned move; keys the others owned stay put (rendezvous hashing).
  ASSERT_TRUE(members[0]->Unsubscribe().ok());
  members[0]->Close();
  ASSERT_TRUE(Published(*producer, KeyedRecords(kPerKey, kPerKey), kPerKey * kKeys));
  errors.clear();
  const auto phase2 = DrainKeyShared({members[1].get(), members[2].get()}, kPerKey * kKeys, &errors);
  EXPECT_TRUE(errors.empty()) << ::testing::PrintToString(errors);
  const KeyView v2 = ViewOf(phase2);
  ASSERT_EQ(v2.owners.size(), static_cast<size_t>(kKeys));
  for (const auto& [key, owners] : v2.owners) {
    ASSERT_EQ(owners.size(), 1u) << "key " << key << " went to both remaining members";
    const size_t before = *v1.owners.at(key).begin();
    const size_t after = *owners.begin() + 1;  // phase 2 consumer i is member i + 1
    if (before != 0) {
      EXPECT_EQ(after, before) << "key " << key << " moved although its owner stayed";
    }
  }
  for (const auto& [key, seqs] : v2.seqs) {
    std::vector<int> expected(kPerKey);
    for (int i = 0; i < kPerKey; ++i) expected[i] = kPerKey + i;
    EXPECT_EQ(seqs, expected) << "key " << key;
  }
  for (auto& m : members) m->Close();
  producer->Close();
  StopClean();
}

// ---- 3. broadcast group ----

TEST_F(ConsumeE2E, BroadcastGroupHasOneSubscriberAndCommitsByCumulativeAck) {
  const std::string addr = Start({"--broadcast-group", "audit"});
  ASSERT_FALSE(addr.empty());
  auto a = ConnectTo(addr);
  auto b = ConnectTo(addr);
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(Published(*a, TextRecords("audit-", 50), 0));

  ASSERT_TRUE(a->Subscribe("audit").ok()) << a->last_error().message;
  std::vector<Message> all;
  const auto deadline = SteadyClock::now() + kDrainDeadline;
  while (all.size() < 50 && SteadyClock::now() < deadline) {
    FetchResult w = MustFetch(*a);
    if (w.messages.empty()) break;
    all.insert(all.end(), w.messages.begin(), w.messages.end());
  }
  ASSERT_EQ(all.size(), 50u);
  for (uint64_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].offset, i);
    EXPECT_EQ(AsChars(all[i].payload), "audit-" + std::to_string(i));
  }

  // A second subscriber is refused and keeps its old (default) subscription.
  Status busy = b->Subscribe("audit");
  EXPECT_TRUE(busy.IsFailedPrecondition()) << busy.ToString();
  EXPECT_EQ(b->last_error().code, "ERR_BROADCAST_GROUP_BUSY") << b->last_error().message;
  EXPECT_FALSE(b->broken());
  FetchResult b_default = MustFetch(*b, 1);
  ASSERT_EQ(b_default.messages.size(), 1u);
  EXPECT_EQ(b_default.messages[0].offset, 0u);  // the default group starts at 0

  // Cumulative acks: from the library, then from a separate CLI process (the acceptance run).
  EXPECT_TRUE(a->CumulativeAck("audit", 20).ok()) << a->last_error().message;
  EXPECT_TRUE(a->CumulativeAck("audit", 10).ok()) << "a re-commit below the cursor is a no-op success";
  RunResult cli = Run("cumulative-ack --addr " + addr + " --group audit --up-to 50");
  EXPECT_EQ(cli.exit_code, 0) << cli.out << cli.err;
  EXPECT_EQ(cli.out, "cumulative ack committed group `audit` up to offset 50\n");

  // Refusals: a competing group (existing), the default group, past the head.
  ASSERT_TRUE(b->Subscribe("workers").ok());
  (void)MustFetch(*b, 1);  // creates the group
  RunResult competing = Run("cumulative-ack --addr " + addr + " --group workers --up-to 1");
  EXPECT_EQ(competing.exit_code, 70) << competing.out << competing.err;
  EXPECT_NE(competing.err.find("ERR_CUMULATIVE_ACK_NOT_ALLOWED"), std::string::npos) << competing.err;
  RunResult default_group = Run("cumulative-ack --addr " + addr + " --up-to 1");
  EXPECT_EQ(default_group.exit_code, 70) << default_group.err;
  RunResult past_head = Run("cumulative-ack --addr " + addr + " --group audit --up-to 51");
  EXPECT_EQ(past_head.exit_code, 70) << past_head.err;
  EXPECT_NE(past_head.err.find("ERR_CUMULATIVE_ACK_OUT_OF_RANGE"), std::string::npos) << past_head.err;
  Status lib_refused = b->CumulativeAck("workers", 1);
  EXPECT_TRUE(lib_refused.IsFailedPrecondition()) << lib_refused.ToString();
  EXPECT_EQ(b->last_error().code, "ERR_CUMULATIVE_ACK_NOT_ALLOWED");

  // The slot frees on Unsub; the next subscriber starts at the committed 50.
  ASSERT_TRUE(a->Unsubscribe().ok());
  ASSERT_TRUE(b->Subscribe("audit").ok()) << b->last_error().code << " " << b->last_error().message;
  EXPECT_TRUE(MustFetch(*b).messages.empty()) << "records below the cumulative ack were redelivered";
  ASSERT_TRUE(Published(*a, TextRecords("late-", 3), 50));
  FetchResult late = MustFetch(*b);
  ASSERT_EQ(late.messages.size(), 3u);
  for (uint64_t i = 0; i < 3; ++i) EXPECT_EQ(late.messages[i].offset, 50 + i);
  EXPECT_TRUE(b->CumulativeAck("audit", 53).ok()) << b->last_error().message;
  a->Close();
  b->Close();
  StopClean();

  // The commit survives a clean restart.
  const std::string addr2 = Start({"--broadcast-group", "audit"});
  ASSERT_FALSE(addr2.empty());
  auto c = ConnectTo(addr2);
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->Subscribe("audit").ok()) << c->last_error().message;
  EXPECT_TRUE(MustFetch(*c).messages.empty());
  c->Close();
  StopClean();
}

// ---- 4. redelivery after the visibility timeout ----

TEST_F(ConsumeE2E, AnUnackedLeaseIsRedeliveredAfterTheVisibilityTimeoutWithANewGeneration) {
  const std::string addr = Start({"--visibility-timeout-ms", "300"});
  ASSERT_FALSE(addr.empty());
  auto c = ConnectTo(addr);
  auto other = ConnectTo(addr);
  ASSERT_TRUE(c && other);
  ASSERT_TRUE(Published(*c, TextRecords("lease-", 1), 0));

  const auto leased_at = SteadyClock::now();
  FetchResult first = MustFetch(*c);
  ASSERT_EQ(first.messages.size(), 1u);
  EXPECT_EQ(first.messages[0].offset, 0u);
  const uint64_t old_generation = first.messages[0].generation;
  // While the lease runs nobody gets the record (checked only while surely inside it).
  FetchResult during = MustFetch(*other);
  if (SteadyClock::now() - leased_at < std::chrono::milliseconds(200)) {
    EXPECT_TRUE(during.messages.empty()) << "a live lease was handed to another connection";
  }

  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  FetchResult again = MustFetch(*c, 64, std::chrono::milliseconds(3000));
  ASSERT_EQ(again.messages.size(), 1u);
  EXPECT_EQ(again.messages[0].offset, 0u);
  EXPECT_EQ(AsChars(again.messages[0].payload), "lease-0");
  const uint64_t new_generation = again.messages[0].generation;
  EXPECT_GT(new_generation, old_generation);

  auto stale = c->Ack(0, old_generation);
  ASSERT_TRUE(stale.ok()) << stale.status().ToString();
  EXPECT_EQ(*stale, AckOutcome::kFenced);
  auto foreign = other->Ack(0, new_generation);  // leases belong to the connection
  ASSERT_TRUE(foreign.ok());
  EXPECT_EQ(*foreign, AckOutcome::kFenced);
  auto current = c->Ack(0, new_generation);
  ASSERT_TRUE(current.ok());
  EXPECT_EQ(*current, AckOutcome::kDone);
  auto twice = c->Ack(0, new_generation);
  ASSERT_TRUE(twice.ok());
  EXPECT_EQ(*twice, AckOutcome::kFenced);

  // Acked: not redelivered after another timeout.
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  EXPECT_TRUE(MustFetch(*other).messages.empty());
  EXPECT_TRUE(MustFetch(*c).messages.empty());
  c->Close();
  other->Close();
  StopClean();
}

// ---- 5. dead-letter after max-deliver ----

TEST_F(ConsumeE2E, AMessageNackedMaxDeliverTimesIsDeadLetteredAndDumpShowsIt) {
  const std::string addr = Start({"--max-deliver", "2", "--backoff-ms", "0"});
  ASSERT_FALSE(addr.empty());
  auto c = ConnectTo(addr);
  ASSERT_TRUE(c);
  PublishRequest poison;
  poison.key = ToBytes("poison-key");
  poison.payload = ToBytes("poison payload");
  PublishRequest healthy;
  healthy.payload = ToBytes("healthy");
  ASSERT_TRUE(Published(*c, {poison}, 0));
  ASSERT_TRUE(c->Subscribe("orders").ok());

  uint64_t last_generation = 0;
  for (int attempt = 1; attempt <= 2; ++attempt) {
    FetchResult w = MustFetch(*c);
    ASSERT_EQ(w.messages.size(), 1u) << "attempt " << attempt;
    EXPECT_TRUE(w.dead_letters.empty());
    EXPECT_EQ(w.messages[0].offset, 0u);
    if (attempt > 1) {
      EXPECT_GT(w.messages[0].generation, last_generation);
    }
    last_generation = w.messages[0].generation;
    auto nacked = c->Nack(0, last_generation);  // the schedule: --backoff-ms 0 = at once
    ASSERT_TRUE(nacked.ok()) << nacked.status().ToString();
    EXPECT_EQ(*nacked, AckOutcome::kDone);
  }
  FetchResult parked = MustFetch(*c);
  EXPECT_TRUE(parked.messages.empty());
  EXPECT_EQ(parked.delivered, 0u);
  ASSERT_EQ(parked.dead_letters.size(), 1u);
  EXPECT_EQ(parked.dead_letters[0].offset, 0u);
  EXPECT_EQ(parked.dead_letters[0].reason, 0);
  // Reported once; the group moved past it.
  FetchResult after = MustFetch(*c);
  EXPECT_TRUE(after.messages.empty());
  EXPECT_TRUE(after.dead_letters.empty());
  ASSERT_TRUE(Published(*c, {healthy}, 1));
  FetchResult next = MustFetch(*c);
  ASSERT_EQ(next.messages.size(), 1u);
  EXPECT_EQ(next.messages[0].offset, 1u);
  MustAckAll(*c, next.messages);
  c->Close();
  StopClean();

  RunResult dump = Run("dump --dlq --data-dir " + data_ + " --json");
  ASSERT_EQ(dump.exit_code, 0) << dump.err;
  std::vector<nlohmann::json> lines;
  std::istringstream in(dump.out);
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    ASSERT_TRUE(j.is_object()) << line;
    lines.push_back(j);
  }
  ASSERT_EQ(lines.size(), 1u) << dump.out;
  EXPECT_EQ(lines[0]["schema"], "ironbus.cli.dump-dlq-record.v1");
  EXPECT_EQ(lines[0]["dlq_offset"], 0);
  EXPECT_EQ(lines[0]["source_offset"], 0);
  EXPECT_EQ(lines[0]["group"], "orders");
  EXPECT_EQ(lines[0]["attempt"], 3);  // the grant past max_deliver is the one that parks it
  EXPECT_EQ(lines[0]["reason"], 0);
  EXPECT_EQ(lines[0]["bytes"], poison.payload.size());
  EXPECT_EQ(lines[0]["key_bytes"], poison.key.size());
  // The main log still holds both records (dead-lettering copies, it does not remove).
  EXPECT_EQ(DumpedOffsets(data_, scratch_.path()), (std::vector<uint64_t>{0, 1}));
}

// ---- 6. cursors survive a clean restart ----

TEST_F(ConsumeE2E, CommittedCursorsSurviveACleanRestartAndLeasesDoNot) {
  std::string addr = Start();
  ASSERT_FALSE(addr.empty());
  {
    auto g = ConnectTo(addr);
    auto d = ConnectTo(addr);
    ASSERT_TRUE(g && d);
    ASSERT_TRUE(Published(*g, TextRecords("r", 100), 0));
    ASSERT_TRUE(g->Subscribe("g").ok());
    // Group g: ack 0..39, then hold 40..49 leased (unacked) across the stop.
    FetchResult acked = MustFetch(*g, 40);
    ASSERT_EQ(acked.messages.size(), 40u);
    EXPECT_EQ(acked.messages.front().offset, 0u);
    EXPECT_EQ(acked.messages.back().offset, 39u);
    MustAckAll(*g, acked.messages);
    FetchResult held = MustFetch(*g, 10);
    ASSERT_EQ(held.messages.size(), 10u);
    EXPECT_EQ(held.messages.front().offset, 40u);
    // Default group: ack 0..24 (a different cursor, so the two files cannot be confused).
    FetchResult d_acked = MustFetch(*d, 25);
    ASSERT_EQ(d_acked.messages.size(), 25u);
    MustAckAll(*d, d_acked.messages);
    // Stop with both connections still open: the stop itself must write the cursors.
    StopClean();
  }

  addr = Start();
  ASSERT_FALSE(addr.empty());
  EXPECT_NE(broker_->output().find("100 record(s), offsets [0, 100)"), std::string::npos) << broker_->output();
  auto g = ConnectTo(addr);
  auto d = ConnectTo(addr);
  ASSERT_TRUE(g && d);
  ASSERT_TRUE(g->Subscribe("g").ok());
  const std::vector<uint64_t> g_offsets = DrainAndAck(*g);
  ASSERT_FALSE(g_offsets.empty());
  EXPECT_EQ(g_offsets.front(), 40u) << "group g did not resume at its committed offset";
  std::vector<uint64_t> g_expected;
  for (uint64_t o = 40; o < 100; ++o) g_expected.push_back(o);
  EXPECT_EQ(g_offsets, g_expected);

  const std::vector<uint64_t> d_offsets = DrainAndAck(*d);
  ASSERT_FALSE(d_offsets.empty());
  EXPECT_EQ(d_offsets.front(), 25u) << "the default group did not resume at its committed offset";
  std::vector<uint64_t> d_expected;
  for (uint64_t o = 25; o < 100; ++o) d_expected.push_back(o);
  EXPECT_EQ(d_offsets, d_expected);
  g->Close();
  d->Close();
  StopClean();
}

// ---- 7. the README quick start through the CLI ----

TEST_F(ConsumeE2E, ReadmeQuickStartPubThenSubAck) {
  const std::string addr = Start();
  ASSERT_FALSE(addr.empty());
  RunResult hello = Run("pub --addr " + addr + " hello");
  ASSERT_EQ(hello.exit_code, 0) << hello.err;
  EXPECT_EQ(hello.out, "0\n");
  RunResult keyed = Run("pub --addr " + addr + " --key orders", WriteFile("stdin.txt", "from stdin\n"));
  ASSERT_EQ(keyed.exit_code, 0) << keyed.err;
  EXPECT_EQ(keyed.out, "1\n");

  RunResult sub = Run("sub --addr " + addr + " --max 10 --ack");
  ASSERT_EQ(sub.exit_code, 0) << sub.out << sub.err;
  const std::string& out = sub.out;
  const size_t first = out.find("#0 gen=");
  const size_t second = out.find("#1 gen=");
  ASSERT_NE(first, std::string::npos) << out;
  ASSERT_NE(second, std::string::npos) << out;
  EXPECT_LT(first, second) << out;
  EXPECT_NE(out.find(" key= payload=hello\n", first), std::string::npos) << out;
  EXPECT_NE(out.find(" key=orders payload=from stdin\n", second), std::string::npos) << out;
  size_t committed = 0;
  for (size_t at = out.find("  ack committed\n"); at != std::string::npos; at = out.find("  ack committed\n", at + 1)) {
    ++committed;
  }
  EXPECT_EQ(committed, 2u) << out;
  const std::string tail = "fetched 2 message(s)\n";
  ASSERT_GE(out.size(), tail.size()) << out;
  EXPECT_EQ(out.substr(out.size() - tail.size()), tail) << out;

  RunResult empty = Run("sub --addr " + addr + " --max 10");
  EXPECT_EQ(empty.exit_code, 0) << empty.err;
  EXPECT_EQ(empty.out, "fetched 0 message(s)\n");

  // --json: one record line per message and the result line.
  RunResult pub3 = Run("pub --addr " + addr + " third");
  ASSERT_EQ(pub3.exit_code, 0) << pub3.err;
  RunResult json = Run("sub --addr " + addr + " --max 10 --ack --json");
  ASSERT_EQ(json.exit_code, 0) << json.err;
  std::vector<std::string> schemas;
  std::istringstream in(json.out);
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    ASSERT_TRUE(j.is_object()) << line;
    schemas.push_back(j.value("schema", ""));
    if (schemas.back() == "ironbus.cli.sub-record.v1") {
      EXPECT_EQ(j["offset"], 2);
      EXPECT_EQ(j["ack_status"], "committed");
    }
    if (schemas.back() == "ironbus.cli.sub.result.v1") {
      EXPECT_EQ(j["delivered"], 1);
      EXPECT_EQ(j["exit_code"], 0);
    }
  }
  EXPECT_EQ(schemas, (std::vector<std::string>{"ironbus.cli.sub.header.v1", "ironbus.cli.sub-record.v1",
                                                "ironbus.cli.sub.result.v1"}));

  StopClean();
  RunResult scrub = Run("scrub --data-dir " + data_);
  EXPECT_EQ(scrub.exit_code, 0) << scrub.out << scrub.err;
}

}  // namespace
}  // namespace ironbus::e2e
