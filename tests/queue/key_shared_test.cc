// key_shared groups (spec/consumers.md 2.5, 3.3): affinity by rendezvous hashing, one record
// per key in flight, per-key order across nacks, expiry, members joining and leaving.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "queue/queue_test_util.h"

namespace ironbus::queue {
namespace {

class KeySharedTest : public testing::QueueTest {
 protected:
  void SetUp() override {
    options_.visibility_timeout_ms = 1000;
    options_.key_shared_groups = {"keyed"};
    options_.backoff_ms = {};
    Open();
    g_ = GroupNamed("keyed");
    ASSERT_EQ(g_->mode(), GroupMode::kKeyShared);
  }
  // A key whose owner among `members` is `owner`.
  std::string KeyOwnedBy(const std::set<uint64_t>& members, uint64_t owner) {
    KeyRouter r;
    for (uint64_t m : members) r.Join(m);
    for (int i = 0; i < 10'000; ++i) {
      std::string k = "key" + std::to_string(i);
      if (r.OwnerOf(AsBytes(k)) == owner) return k;
    }
    ADD_FAILURE() << "no key for owner " << owner;
    return {};
  }
  Group* g_ = nullptr;
};

TEST(KeyRouterTest, OnlyKeysWhoseOwnerChangedMoveWhenMembersJoinOrLeave) {
  KeyRouter r;
  for (uint64_t m : {11, 22, 33}) r.Join(m);
  std::map<std::string, uint64_t> before;
  for (int i = 0; i < 2000; ++i) before["k" + std::to_string(i)] = r.OwnerOf(AsBytes("k" + std::to_string(i)));
  r.Join(44);
  int moved = 0;
  for (const auto& [k, owner] : before) {
    const uint64_t now_owner = r.OwnerOf(AsBytes(k));
    if (now_owner != owner) {
      EXPECT_EQ(now_owner, 44u) << k;  // a join only takes keys to the newcomer
      ++moved;
    }
  }
  EXPECT_GT(moved, 300);
  EXPECT_LT(moved, 700);  // about a quarter
  r.Leave(44);
  r.Leave(22);
  for (const auto& [k, owner] : before) {
    if (owner != 22) {
      EXPECT_EQ(r.OwnerOf(AsBytes(k)), owner) << k;  // only 22's keys moved
    }
  }
}

TEST(KeyRouterTest, JoinAndLeaveAreIdempotent) {
  KeyRouter r;
  r.Join(5);
  r.Join(5);
  EXPECT_EQ(r.members().size(), 1u);
  r.Leave(5);
  r.Leave(5);
  EXPECT_EQ(r.OwnerOf(AsBytes("k")), KeyRouter::kNoOwner);
}

TEST_F(KeySharedTest, AKeyAlwaysGoesToItsOwner) {
  ASSERT_TRUE(g_->Join(1, {}).ok());
  ASSERT_TRUE(g_->Join(2, {}).ok());
  const std::string k1 = KeyOwnedBy({1, 2}, 1);
  const std::string k2 = KeyOwnedBy({1, 2}, 2);
  Produce("a", k1);
  Produce("b", k2);
  EXPECT_EQ(Offsets(FetchN(g_, 2, 10)), (std::vector<uint64_t>{1}));
  EXPECT_EQ(Offsets(FetchN(g_, 1, 10)), (std::vector<uint64_t>{0}));
}

TEST_F(KeySharedTest, AtMostOneRecordPerKeyIsInFlightAndOrderIsKept) {
  ASSERT_TRUE(g_->Join(1, {}).ok());
  Produce("k0", "K");
  Produce("j0", "J");
  Produce("k1", "K");
  Produce("j1", "J");
  Produce("k2", "K");
  Window w = FetchN(g_, 1, 10);
  EXPECT_EQ(Offsets(w), (std::vector<uint64_t>{0, 1}));  // one K, one J
  for (const auto& d : Deliveries(w)) ASSERT_EQ(Ack(g_, 1, d), AckStatus::kOk);
  EXPECT_EQ(Offsets(FetchN(g_, 1, 10)), (std::vector<uint64_t>{2, 3}));
}

TEST_F(KeySharedTest, NackedRecordIsRedeliveredBeforeTheKeysNextRecord) {
  ASSERT_TRUE(g_->Join(1, {}).ok());
  Produce("k0", "K");
  Produce("k1", "K");
  Delivery d = FetchOne(g_, 1);
  ASSERT_EQ(Nack(g_, 1, d, 0), AckStatus::kOk);
  Window w = FetchN(g_, 1, 10);
  EXPECT_EQ(Offsets(w), (std::vector<uint64_t>{0}));  // not 1: the key stays busy with 0
  ASSERT_EQ(Ack(g_, 1, Deliveries(w)[0]), AckStatus::kOk);
  EXPECT_EQ(Offsets(FetchN(g_, 1, 10)), (std::vector<uint64_t>{1}));
}

TEST_F(KeySharedTest, KeylessRecordsAreSerializedOneInFlightAtATime) {
  ASSERT_TRUE(g_->Join(1, {}).ok());
  ASSERT_TRUE(g_->Join(2, {}).ok());
  Produce("a");
  Produce("b");
  Delivery d = FetchOne(g_, 1);
  EXPECT_EQ(d.offset, 0u);
  EXPECT_EQ(FetchOne(g_, 2).offset, UINT64_MAX);  // any member may take a keyless record, one at a time
  ASSERT_EQ(Ack(g_, 1, d), AckStatus::kOk);
  EXPECT_EQ(FetchOne(g_, 2).offset, 1u);
}

TEST_F(KeySharedTest, DeclinedOffsetsDoNotConsumeAGeneration) {
  ASSERT_TRUE(g_->Join(1, {}).ok());
  ASSERT_TRUE(g_->Join(2, {}).ok());
  Produce("x", KeyOwnedBy({1, 2}, 2));
  EXPECT_EQ(FetchOne(g_, 1).offset, UINT64_MAX);
  EXPECT_EQ(FetchOne(g_, 1).offset, UINT64_MAX);
  EXPECT_EQ(FetchOne(g_, 2).generation, 0u);  // the first generation ever minted
}

TEST_F(KeySharedTest, AMovedKeyDrainsItsOutstandingRecordBeforeTheNewOwnerGetsTheNext) {
  ASSERT_TRUE(g_->Join(1, {}).ok());
  // A key member 1 owns alone, that member 2 owns once it joins.
  std::string k;
  for (int i = 0; k.empty() && i < 10'000; ++i) {
    std::string c = "key" + std::to_string(i);
    KeyRouter r;
    r.Join(1);
    r.Join(2);
    if (r.OwnerOf(AsBytes(c)) == 2) k = c;
  }
  ASSERT_FALSE(k.empty());
  Produce("first", k);
  Produce("second", k);
  Delivery d = FetchOne(g_, 1);
  ASSERT_EQ(d.offset, 0u);
  ASSERT_TRUE(g_->Join(2, {}).ok());
  EXPECT_EQ(FetchOne(g_, 2).offset, UINT64_MAX);  // busy: waits for the old owner's record
  ASSERT_EQ(Ack(g_, 1, d), AckStatus::kOk);
  EXPECT_EQ(FetchOne(g_, 1).offset, UINT64_MAX);  // not the owner any more
  EXPECT_EQ(FetchOne(g_, 2).offset, 1u);
}

TEST_F(KeySharedTest, AnExpiredRecordOfAMovedKeyIsRedeliveredToTheNewOwner) {
  ASSERT_TRUE(g_->Join(1, {}).ok());
  ASSERT_TRUE(g_->Join(2, {}).ok());
  const std::string k = KeyOwnedBy({1, 2}, 1);
  Produce("first", k);
  Produce("second", k);
  ASSERT_EQ(FetchOne(g_, 1).offset, 0u);
  ASSERT_TRUE(g_->Leave(1, now(), false).ok());  // owner gone: its lease is released
  Delivery again = FetchOne(g_, 2);
  EXPECT_EQ(again.offset, 0u);  // the redelivery precedes the key's next record
  EXPECT_EQ(again.deliveries, 2u);
  EXPECT_EQ(FetchOne(g_, 2).offset, UINT64_MAX);
}

// Randomized, seeded: members join and leave, fetch, ack, nack and let leases expire. Every
// delivery of a key must be its lowest unacked record (per-key order, one in flight), made to
// the key's current owner; in the end every record is acked exactly in per-key offset order.
TEST(KeySharedRandomTest, PerKeyOrderHoldsWhileMembersJoinAndLeave) {
  int redeliveries = 0, joins = 0, leaves = 0;
  for (uint64_t seed = 1; seed <= 8; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    testing::QueueEnv env;
    env.options_.visibility_timeout_ms = 1000;
    env.options_.key_shared_groups = {"keyed"};
    env.options_.backoff_ms = {};
    env.options_.max_deliver = 0;
    env.options_.allow_unlimited_deliver = true;
    env.Open();
    Group* g = env.GroupNamed("keyed");
    std::mt19937_64 rng(seed);
    constexpr int kRecords = 120;
    std::map<std::string, std::vector<uint64_t>> by_key;
    for (int i = 0; i < kRecords; ++i) {
      const std::string k = "k" + std::to_string(rng() % 6);
      by_key[k].push_back(env.Produce("r" + std::to_string(i), k));
    }
    std::map<std::string, size_t> next;  // index of the key's lowest unacked record
    std::map<uint64_t, std::vector<Delivery>> held;
    std::set<uint64_t> members;
    auto join = [&](uint64_t m) {
      ASSERT_TRUE(g->Join(m, {}).ok());
      members.insert(m);
      ++joins;
    };
    join(1);
    join(2);
    int acked = 0;
    for (int step = 0; step < 6000 && acked < kRecords; ++step) {
      const uint64_t r = rng() % 100;
      const uint64_t m = 1 + rng() % 4;
      if (r < 6) {
        if (!members.count(m)) join(m);
      } else if (r < 10) {
        if (members.count(m) && members.size() > 1) {
          ASSERT_TRUE(g->Leave(m, env.now(), false).ok());
          members.erase(m);
          held.erase(m);
          ++leaves;
        }
      } else if (r < 40) {
        if (!members.count(m)) continue;
        for (const auto& d : testing::QueueEnv::Deliveries(env.FetchN(g, m, 3))) {
          const std::string k(AsChars(d.record.key));
          ASSERT_LT(next[k], by_key[k].size());
          ASSERT_EQ(d.offset, by_key[k][next[k]]) << "key " << k << " out of order";
          KeyRouter owners;
          for (uint64_t x : members) owners.Join(x);
          ASSERT_EQ(owners.OwnerOf(d.record.key), m) << "key " << k << " went to a non-owner";
          held[m].push_back(d);
          if (d.deliveries > 1) ++redeliveries;
        }
      } else if (r < 90) {
        if (held[m].empty()) continue;
        const size_t i = rng() % held[m].size();
        const Delivery d = held[m][i];
        held[m].erase(held[m].begin() + static_cast<long>(i));
        const std::string k(AsChars(d.record.key));
        if (rng() % 5 == 0) {
          env.Nack(g, m, d, 0);
        } else if (env.Ack(g, m, d) == AckStatus::kOk) {
          ASSERT_EQ(d.offset, by_key[k][next[k]]);
          next[k] += 1;
          ++acked;
        }
      } else {
        env.AdvanceMs(400);  // some leases expire and will be redelivered
      }
    }
    ASSERT_EQ(acked, kRecords) << "the run did not drain";
    EXPECT_EQ(g->committed(), static_cast<uint64_t>(kRecords));
  }
  // The runs really exercised what they claim to.
  EXPECT_GT(redeliveries, 0);
  EXPECT_GT(joins, 16);
  EXPECT_GT(leaves, 0);
}

}  // namespace
}  // namespace ironbus::queue
