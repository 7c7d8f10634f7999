// Power-cut sweep of the broker's durable state machine (reliability issue, item 2): the log,
// the consumer groups (cursor checkpoints, leases, max_deliver and the dead-letter log) and
// recovery, on the simulated file system with a manual clock, crashed at a seeded mutating
// operation, power-cut, reopened and checked against a model, several times per seed.
//
// Each seed drives, in a seeded random interleaving:
//   - producers appending batches as the Appender does (Append each request, one Sync, then
//     acknowledge the batch, then retention with the groups' floor on a third of the seeds);
//   - consumers of four groups: "work" (competing, two members), "" (the default group) and
//     "keyed" (key_shared, two members) with per-message Ack, Nack (backoff through the clock),
//     Term, and a small max_deliver so records reach the DLQ; "watch", a broadcast group,
//     settled with CumulativeAck;
//   - clean leaves (which write the checkpoints), clock advances past visibility timeouts;
// with checkpoint_interval from {0, 1, 3, 8}. An epoch ends with the FS crashed (CrashAfterOps,
// sometimes after an injected fsync failure on a checkpoint or the DLQ), or without a crash
// (a kill, or a clean shutdown); then PowerCut(seed, mode) and recovery::OpenDataDir +
// queue::Groups::Open (sometimes crashed and power-cut again inside recovery itself). After the
// last epoch every group is drained to the head, shut down cleanly and reopened.
//
// Invariants checked at every reopen:
//   (a) every acknowledged publish is present exactly once at its offset, identical, order kept,
//       no phantom (power_cut_model.h, I1-I3); a consumer only ever sees acknowledged records
//       (an unacknowledged batch a recovery kept counts as acknowledged from then on: it is
//       durable and consumers may have read it, so a later cut must keep it too);
//   (b) the recovered cursor covers the last cursor checkpoint that was acknowledged (a write
//       that returned Ok: its committed watermark always, its acked-ahead ranges unless a later
//       write was cut, which may legitimately replace them), and covers nothing the group did
//       not ack, term, cumulatively ack or dead-letter; an offset the cursor covers is never
//       delivered again;
//   (c) every dead letter whose move completed (the window reported it) is in dlq/ exactly
//       once; no (group, source_offset) is ever there twice; every DLQ record names an
//       acknowledged source record and an attempt past max_deliver; a dead-lettered offset is
//       never delivered again by its group; a move cut by the crash is either absent (the drain
//       delivers the record again) or present once (the drain resumes the move);
//   (d) loss events cover only unacknowledged offsets;
//   (e) retention reaps only records every group consumed (in memory): checked at each reap, at
//       reopen (a record below the earliest retained offset), and at each truncation notice (a
//       cursor whose checkpoint lagged the reap skips only what it had consumed);
// and at the end of a seed, liveness: every group drains to the head.
//
//   IRONBUS_BROKER_SWEEP_SEEDS=<n>      seeds (default 1000), times IRONBUS_SWEEP_SCALE
//   IRONBUS_SWEEP_SEED=<seed>           replays one seed (deterministic)
// The same invariants through the real server::Broker over TCP: broker_power_cut_tcp_test.cc.
//   build/.../tests/crash_tests --gtest_filter='BrokerPowerCut*'
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "base/clock.h"
#include "base/log.h"
#include "crash/power_cut_model.h"
#include "format/checkpoint.h"
#include "format/compression.h"
#include "format/dlq_header.h"
#include "format/record_format.h"
#include "io/sim_file_system.h"
#include "queue/groups.h"
#include "recovery/open_data_dir.h"

namespace ironbus::crash {
namespace {

constexpr char kDir[] = "/data";
constexpr char kWork[] = "work";
constexpr char kWatch[] = "watch";
constexpr char kKeyed[] = "keyed";

// What the sweep exercised, printed at the end so a run shows its coverage.
struct BrokerSweepStats {
  uint64_t seeds = 0, epochs = 0, crashes = 0, injected_fsync_failures = 0, clean_shutdowns = 0;
  uint64_t acked_publishes = 0, deliveries = 0, redeliveries = 0, acks = 0, terms = 0, nacks = 0;
  uint64_t cumulative_acks = 0, dead_letters = 0, dlq_resumed = 0, checkpoint_writes = 0;
  uint64_t crash_in_checkpoint = 0, crash_in_dlq_move = 0, crash_in_roll = 0, crash_in_produce_sync = 0;
  uint64_t crash_elsewhere = 0, crash_in_recovery = 0, crash_in_retention = 0, segments_reaped = 0, truncations = 0;
  uint64_t loss_events = 0, data_loss_events = 0, dlq_loss_events = 0, frozen = 0, frozen_dlq = 0;
  uint64_t cursor_ahead_kept = 0, cut_moves_found = 0, unacked_survivors = 0;
};
BrokerSweepStats g_stats;

struct SeedConfig {
  uint64_t segment_bytes = 4096;
  format::Compression compression = format::Compression::kNone;
  storage::RetentionOptions retention;  // off, or a message-count bound (segments reaped)
  queue::QueueOptions queue;
};

SeedConfig ConfigFor(std::mt19937_64& rng) {
  static constexpr uint64_t kSizes[] = {512, 1024, 4096, 65536};
  static constexpr uint64_t kIntervals[] = {0, 1, 3, 8};
  SeedConfig c;
  c.segment_bytes = kSizes[rng() % 4];
  c.compression = rng() % 2 ? format::Compression::kLz4 : format::Compression::kNone;
  if (rng() % 3 == 0) c.retention.max_messages = 20 + rng() % 100;
  c.queue.visibility_timeout_ms = 1000;
  c.queue.hard_cap_ms = 5000;
  c.queue.max_deliver = 1 + static_cast<uint32_t>(rng() % 3);
  c.queue.backoff_ms = {50, 200, 400};
  c.queue.checkpoint_interval = kIntervals[rng() % 4];
  c.queue.attempts_flush_redeliveries = rng() % 2;
  c.queue.max_in_flight = rng() % 2 ? 1024 : 16;
  c.queue.broadcast_groups = {kWatch};
  c.queue.key_shared_groups = {kKeyed};
  return c;
}

// The cursor checkpoint as the encoder stores it (only the lowest ahead ranges fit the slot).
format::CursorSnapshot Stored(const queue::Cursor& c) {
  return format::DecodeCursorSnapshot(format::EncodeCursorSnapshot(c.Snapshot(), format::kCursorCheckpointCap));
}

// The model of one group, across epochs.
struct GroupModel {
  std::set<uint64_t> allowed;        // offsets the group acked, termed, cumulatively acked or dead-lettered
  std::set<uint64_t> dead_lettered;  // moves that completed (a notice) or were found in dlq/
  format::CursorSnapshot durable;    // the last cursor checkpoint acknowledged durable
  bool write_cut_since = false;      // a cursor write failed after it: its bytes may have landed
  // This epoch: the cursor at open plus every settlement since; never delivered again.
  queue::Cursor epoch_start;
  std::set<uint64_t> settled;
  uint64_t seen_writes = 0, seen_failures = 0;  // stats() last looked at
};

struct HeldLease {
  uint64_t offset = 0;
  uint64_t generation = 0;
};

struct Consumer {
  std::string group;
  uint64_t id = 0;
  bool joined = false;
  std::vector<HeldLease> held;
  uint64_t max_delivered = 0;  // one past the highest offset delivered (cumulative ack target)
};

class SeedRun {
 public:
  explicit SeedRun(uint64_t seed) : seed_(seed), rng_(seed) {}

  void Run() {
    g_stats.seeds += 1;
    ASSERT_TRUE(fs_.CreateDirs(kDir).ok());
    fs_.SyncAll();
    cfg_ = ConfigFor(rng_);
    // consumers_[3] is the broadcast group's one subscriber (Cumulative below).
    consumers_ = {{kWork, 1}, {kWork, 2}, {"", 10}, {kWatch, 40}, {kKeyed, 20}, {kKeyed, 21}};
    for (const char* g : {kWork, "", kWatch, kKeyed}) groups_model_[g];
    const int epochs = 1 + static_cast<int>(rng_() % 4);
    for (int epoch = 0; epoch < epochs; ++epoch) {
      if (!OpenAll(/*may_crash_in_recovery=*/epoch > 0)) return;
      if (::testing::Test::HasFailure()) return;
      RunEpoch(epoch);
      if (::testing::Test::HasFailure()) return;
      CloseAll();
      fs_.PowerCut(seed_ * 1000 + static_cast<uint64_t>(epoch), ModeFor(rng_));
    }
    if (!OpenAll(/*may_crash_in_recovery=*/true)) return;
    if (::testing::Test::HasFailure()) return;
    Drain();
    if (::testing::Test::HasFailure()) return;
    // Clean shutdown, then a power cut that keeps only synced state: every group is at the head.
    const uint64_t head = dir_->log->readable_offset();
    ASSERT_TRUE(groups_->CheckpointAll().ok());
    ASSERT_TRUE(groups_->Close().ok());
    ASSERT_TRUE(dir_->log->Close().ok());
    CloseAll();
    fs_.PowerCut(seed_ * 1000 + 999, io::PowerCutMode::kDropAll);
    if (!OpenAll(false)) return;
    for (const auto& [name, gm] : groups_model_) {
      auto g = groups_->GetOrCreate(name);
      ASSERT_TRUE(g.ok());
      EXPECT_EQ((*g)->committed(), head) << "group '" << name << "' after a clean shutdown";
    }
    CloseAll();
  }

 private:
  int64_t now() const { return clock_.MonotonicNanos(); }

  // Opens the data directory and the groups, checks the recovered state, and resets the
  // per-epoch model. False when the log opened frozen (checked, nothing more to drive).
  bool OpenAll(bool may_crash_in_recovery) {
    // A crash inside recovery itself (cutting the tail, the probe, a checkpoint rewrite):
    // power-cut again and retry, as a reboot loop would.
    if (may_crash_in_recovery && rng_() % 8 == 0) {
      fs_.CrashAfterOps(rng_() % 6);
      for (int attempt = 0; attempt < 3; ++attempt) {
        if (TryOpen()) break;
        g_stats.crash_in_recovery += 1;
        CloseAll();
        fs_.PowerCut(seed_ * 1000 + 500 + static_cast<uint64_t>(attempt), ModeFor(rng_));
      }
      CloseAll();
      fs_.ResetFaults();
    }
    recovery::RecoveryOptions ro;
    storage::LogOptions lo;
    lo.max_segment_bytes = cfg_.segment_bytes;
    lo.compression = cfg_.compression;
    lo.retention = cfg_.retention;
    auto opened = recovery::OpenDataDir(&fs_, kDir, ro, lo, &clock_);
    EXPECT_TRUE(opened.ok()) << opened.status().ToString();
    if (!opened.ok()) return false;
    dir_.emplace(std::move(opened).value());
    bool frozen = CheckRecoveredLog();
    if (dir_->dlq_log != nullptr && dir_->dlq_log->frozen()) {
      // Over a loss cap (an unacknowledged DLQ append torn by the cut, larger than the roll
      // size): dead-letter moves fail until an operator repairs, so stop driving after the checks.
      g_stats.frozen_dlq += 1;
      frozen = true;
    }
    CheckRecoveredDlq();
    auto groups = queue::Groups::Open(&fs_, kDir, dir_->log.get(), std::move(dir_->dlq_log), cfg_.queue, &clock_);
    EXPECT_TRUE(groups.ok()) << groups.status().ToString();
    if (!groups.ok()) return false;
    groups_ = std::move(groups).value();
    CheckRecoveredCursors();
    for (Consumer& c : consumers_) {
      c.joined = false;
      c.held.clear();
      c.max_delivered = 0;
    }
    return !frozen;
  }

  // A trial open while a crash is armed: true when it got through (then it is discarded and
  // the real open below checks everything).
  bool TryOpen() {
    recovery::RecoveryOptions ro;
    storage::LogOptions lo;
    lo.max_segment_bytes = cfg_.segment_bytes;
    lo.compression = cfg_.compression;
    lo.retention = cfg_.retention;
    auto opened = recovery::OpenDataDir(&fs_, kDir, ro, lo, &clock_);
    if (!opened.ok()) return false;
    dir_.emplace(std::move(opened).value());
    auto groups = queue::Groups::Open(&fs_, kDir, dir_->log.get(), std::move(dir_->dlq_log), cfg_.queue, &clock_);
    if (!groups.ok()) return false;
    groups_ = std::move(groups).value();
    for (const char* name : {kWork, "", kWatch, kKeyed}) {
      if (!groups_->GetOrCreate(name).ok()) return false;
    }
    return !fs_.crashed();
  }

  // Drops every object without syncing: what a dying process leaves.
  void CloseAll() {
    groups_.reset();
    dir_.reset();
  }

  // (a) and (d) on the main log. Returns whether the log opened frozen.
  bool CheckRecoveredLog() {
    const storage::Log& log = *dir_->log;
    g_stats.loss_events += dir_->report.events.size();
    for (const auto& e : dir_->report.events) g_stats.data_loss_events += e.data_loss() ? 1 : 0;
    g_stats.frozen += log.frozen() ? 1 : 0;
    // Retention may have reaped a prefix; only records every group had consumed may be gone.
    CheckConsumedByAll(0, log.first_offset(), "retention reaped");
    Model kept = model_;
    kept.acked.erase(kept.acked.begin(), kept.acked.lower_bound(log.first_offset()));
    present_ = crash::CheckRecoveredLog(log, dir_->report, kept, seed_);
    if (!model_.acked.empty()) {
      EXPECT_GT(log.next_offset(), *model_.acked.rbegin()) << "a resumed log reuses an acknowledged offset";
    }
    // Offsets at or past the head were never acknowledged, so never seen by a consumer: new
    // records take them, so forget them.
    model_.appended.erase(model_.appended.lower_bound(log.next_offset()), model_.appended.end());
    // An unacknowledged batch that survived the cut is durable from now on and consumers may
    // read it: from here it is held to the same rules as an acknowledged one.
    for (uint64_t o : present_) {
      if (model_.acked.insert(o).second) g_stats.unacked_survivors += 1;
    }
    return log.frozen();
  }

  // (c) on dlq/: read before Groups::Open takes the log over.
  void CheckRecoveredDlq() {
    g_stats.dlq_loss_events += dir_->dlq_report.events.size();
    std::map<std::pair<std::string, uint64_t>, int> count;
    if (dir_->dlq_log != nullptr) {
      const storage::Log& dlq = *dir_->dlq_log;
      for (uint64_t at = dlq.first_offset(); at < dlq.readable_offset();) {
        auto batch = dlq.Read(at, 512, 8ull << 20);
        if (!batch.ok()) {
          ADD_FAILURE() << "dlq read at " << at << ": " << batch.status().ToString();
          return;
        }
        for (const auto& r : batch->records) {
          auto h = format::DecodeDlqHeaders(r.record.headers);
          if (!h) {
            ADD_FAILURE() << "dlq record at " << r.offset << " has no DLQ header";
            continue;
          }
          const std::string group(AsChars(h->group));
          const uint64_t source = h->source_offset;
          count[{group, source}] += 1;
          auto it = model_.appended.find(source);
          if (!model_.acked.count(source) || it == model_.appended.end()) {
            ADD_FAILURE() << "dlq record for group '" << group << "' names source offset " << source
                          << ", which was never an acknowledged publish";
            continue;
          }
          EXPECT_EQ(StoredPayload(r.record), it->second) << "dlq copy of offset " << source << " differs";
          EXPECT_GT(h->attempt, cfg_.queue.max_deliver) << "dead-lettered before max_deliver";
        }
        if (batch->next_offset <= at) break;
        at = batch->next_offset;
      }
    }
    for (const auto& [pair, n] : count) {
      EXPECT_EQ(n, 1) << "group '" << pair.first << "' offset " << pair.second << " is in the DLQ " << n << " times";
    }
    for (auto& [name, gm] : groups_model_) {
      for (uint64_t o : gm.dead_lettered) {
        EXPECT_TRUE(count.count({name, o})) << "completed dead letter of group '" << name << "' offset " << o
                                            << " is missing from the DLQ";
      }
    }
    // A move the crash cut after its bytes landed counts as done: the group must resume it
    // (commit past, never deliver).
    for (const auto& [pair, n] : count) {
      GroupModel& gm = groups_model_[pair.first];
      if (gm.dead_lettered.insert(pair.second).second) g_stats.cut_moves_found += 1;
      gm.allowed.insert(pair.second);
    }
  }

  // (b) on every group's recovered cursor.
  void CheckRecoveredCursors() {
    const uint64_t head = dir_->log->readable_offset();
    for (auto& [name, gm] : groups_model_) {
      auto g = groups_->GetOrCreate(name);
      ASSERT_TRUE(g.ok()) << g.status().ToString();
      const queue::Cursor& c = (*g)->cursor();
      EXPECT_GE(c.committed(), gm.durable.committed)
          << "group '" << name << "': the recovered cursor is behind an acknowledged checkpoint";
      if (!gm.write_cut_since) {
        for (const auto& [start, end] : gm.durable.acked_ahead) {
          for (uint64_t o = start; o < end; ++o) {
            EXPECT_TRUE(c.IsAcked(o)) << "group '" << name << "': offset " << o
                                      << " was acked ahead in an acknowledged checkpoint, not in the recovered one";
          }
          g_stats.cursor_ahead_kept += 1;
        }
      }
      EXPECT_LE(c.committed(), head) << "group '" << name << "': the cursor leads the log";
      for (uint64_t o = 0; o < head; ++o) {
        if (!c.IsAcked(o) || !present_.count(o)) continue;
        EXPECT_TRUE(gm.allowed.count(o)) << "group '" << name << "': recovered cursor covers offset " << o
                                         << ", which was never acked or dead-lettered";
      }
      // After the power cut, what recovery found is the durable state.
      gm.durable = Stored(c);
      gm.write_cut_since = false;
      gm.epoch_start = c;
      gm.settled.clear();
      const queue::GroupStats st = (*g)->stats();
      gm.seen_writes = st.checkpoint_writes;
      gm.seen_failures = st.checkpoint_failures;
    }
  }

  queue::Group* GroupOf(const std::string& name) {
    queue::Group* g = groups_->Find(name);
    EXPECT_NE(g, nullptr) << name;
    return g;
  }

  bool Forbidden(const GroupModel& gm, uint64_t o) const {
    return gm.epoch_start.IsAcked(o) || gm.settled.count(o) || gm.dead_lettered.count(o);
  }

  // After any call into a group: note acknowledged checkpoint writes and failed ones.
  // `exact`: the cursor now is the one the last write stored (nothing committed after it).
  void AfterGroupOp(const std::string& name, uint64_t committed_before, bool exact, bool* cut_checkpoint) {
    GroupModel& gm = groups_model_[name];
    queue::Group* g = GroupOf(name);
    const queue::GroupStats st = g->stats();
    if (st.checkpoint_writes > gm.seen_writes) {
      g_stats.checkpoint_writes += st.checkpoint_writes - gm.seen_writes;
      if (exact) {
        gm.durable = Stored(g->cursor());
      } else {
        gm.durable = format::CursorSnapshot{std::max(gm.durable.committed, committed_before), {}};
      }
      gm.write_cut_since = false;
    }
    if (st.checkpoint_failures > gm.seen_failures) {
      gm.write_cut_since = true;
      if (cut_checkpoint != nullptr) *cut_checkpoint = true;
    }
    gm.seen_writes = st.checkpoint_writes;
    gm.seen_failures = st.checkpoint_failures;
  }

  // ---- Operations ----

  // One Appender batch: append each request, one Sync, acknowledge on Ok. Returns where a
  // crash landed: 1 = in an Append (a segment roll), 2 = in the Sync, 0 = nowhere.
  int Produce() {
    storage::Log* log = dir_->log.get();
    const int n = 1 + static_cast<int>(rng_() % 8);
    std::vector<uint64_t> pending;
    for (int i = 0; i < n; ++i) {
      const uint64_t r = rng_() % 10;
      const size_t size = r < 7 ? 24 + rng_() % 100 : r < 9 ? 200 + rng_() % 400 : 1024 + rng_() % 1024;
      const Bytes payload = ModelPayload(seed_, log->next_offset(), size);
      const std::string key = rng_() % 2 ? "k" + std::to_string(rng_() % 5) : "";
      const std::string headers = rng_() % 4 == 0 ? "h=" + std::to_string(rng_() % 100) : "";
      storage::AppendRecord rec;
      rec.payload = payload;
      rec.key = AsBytes(key);
      rec.headers = AsBytes(headers);
      auto offset = log->Append(rec);
      if (!offset.ok()) return fs_.crashed() ? 1 : 0;
      model_.appended[*offset] = payload;
      pending.push_back(*offset);
    }
    if (!log->Sync().ok()) return fs_.crashed() ? 2 : 0;
    model_.acked.insert(pending.begin(), pending.end());
    g_stats.acked_publishes += pending.size();
    if (cfg_.retention.enabled()) {
      // As the Appender does after each batch, with the groups' floor.
      const uint64_t first = log->first_offset();
      auto reaped = log->ApplyRetention(groups_->RetentionFloor());
      if (!reaped.ok()) return fs_.crashed() ? 3 : 0;
      g_stats.segments_reaped += reaped->segments_deleted;
      CheckConsumedByAll(first, log->first_offset(), "retention reaped");
    }
    return 0;
  }

  // Offsets in [from, to) that held a record must have been consumed by every group.
  void CheckConsumedByAll(uint64_t from, uint64_t to, const char* what) {
    for (auto it = model_.acked.lower_bound(from); it != model_.acked.end() && *it < to; ++it) {
      for (const auto& [name, gm] : groups_model_) {
        EXPECT_TRUE(gm.allowed.count(*it)) << what << " offset " << *it << ", which group '" << name
                                           << "' never consumed";
      }
    }
  }

  // The group's cursor was below the earliest retained offset (its checkpoint lagged a reap):
  // it jumps, and every record it skips must have been consumed by it before.
  void OnTruncation(const std::string& group, GroupModel& gm, const queue::TruncationNotice& t) {
    g_stats.truncations += 1;
    for (uint64_t o = t.earliest_retained - t.skipped; o < t.earliest_retained; ++o) {
      if (model_.acked.count(o)) {
        EXPECT_TRUE(gm.allowed.count(o)) << "group '" << group << "' skips offset " << o
                                         << " for retention, but never consumed it";
      }
      gm.allowed.insert(o);
      gm.settled.insert(o);
    }
  }

  bool EnsureJoined(Consumer& c) {
    if (c.joined) return true;
    queue::Group* g = GroupOf(c.group);
    if (g == nullptr) return false;
    queue::MemberOptions mo;
    mo.credit = 2 + static_cast<uint32_t>(rng_() % 6);
    Status st = g->Join(c.id, mo);
    EXPECT_TRUE(st.ok()) << st.ToString();
    c.joined = st.ok();
    return c.joined;
  }

  // Returns true when the window failed in the DLQ move.
  bool Fetch(Consumer& c) {
    if (!EnsureJoined(c)) return false;
    queue::Group* g = GroupOf(c.group);
    GroupModel& gm = groups_model_[c.group];
    const uint64_t before = g->committed();
    queue::FetchRequest req;
    req.max_records = 1 + static_cast<uint32_t>(rng_() % 4);
    const uint64_t holes_before = g->stats().holes_skipped;
    queue::Window w = g->Fetch(c.id, req, now());
    // Stepping over a hole commits without an item, so the write's cursor is then unknown.
    int commits = g->stats().holes_skipped != holes_before ? 2 : 0;
    for (const auto& item : w.items) {
      if (const auto* d = std::get_if<queue::Delivery>(&item)) {
        CheckDelivery(c.group, gm, *d);
        c.held.push_back({d->offset, d->generation});
        c.max_delivered = std::max(c.max_delivered, d->offset + 1);
      } else if (const auto* n = std::get_if<queue::DeadLetterNotice>(&item)) {
        commits += 1;
        g_stats.dead_letters += 1;
        EXPECT_TRUE(model_.acked.count(n->offset)) << "dead letter of an unacknowledged offset " << n->offset;
        if (gm.dead_lettered.count(n->offset)) g_stats.dlq_resumed += 1;
        EXPECT_FALSE(gm.epoch_start.IsAcked(n->offset) || gm.settled.count(n->offset))
            << "group '" << c.group << "' dead-letters offset " << n->offset << " which it already settled";
        gm.dead_lettered.insert(n->offset);
        gm.allowed.insert(n->offset);
        gm.settled.insert(n->offset);
      } else if (const auto* t = std::get_if<queue::TruncationNotice>(&item)) {
        commits += 2;  // a jump: the cursor a write stored during this window is unknown
        OnTruncation(c.group, gm, *t);
      }
    }
    bool cut = false;
    AfterGroupOp(c.group, before, commits <= 1, &cut);
    if (!w.error.ok()) {
      if (!fs_.crashed() && !fault_injected_) {
        ADD_FAILURE() << "fetch failed with no fault injected: " << w.error.ToString();
      }
      const std::string& m = w.error.message();
      return m.find("dead-letter") != std::string::npos || m.find("dlq") != std::string::npos;
    }
    return false;
  }

  void CheckDelivery(const std::string& group, const GroupModel& gm, const queue::Delivery& d) {
    g_stats.deliveries += 1;
    if (d.deliveries > 1) g_stats.redeliveries += 1;
    auto it = model_.appended.find(d.offset);
    if (!model_.acked.count(d.offset) || it == model_.appended.end()) {
      ADD_FAILURE() << "group '" << group << "' delivered offset " << d.offset << ", never an acknowledged publish";
      return;
    }
    EXPECT_EQ(StoredPayload(d.record), it->second) << "delivered offset " << d.offset << " differs";
    EXPECT_FALSE(Forbidden(gm, d.offset)) << "group '" << group << "' delivers offset " << d.offset
                                          << " again after it was acked or dead-lettered"
                                          << (gm.dead_lettered.count(d.offset) ? " (dead-lettered)" : "");
    if (cfg_.queue.max_deliver != 0) {
      EXPECT_LE(d.deliveries, cfg_.queue.max_deliver) << "delivery past max_deliver at offset " << d.offset;
    }
  }

  // Settles one held lease: a random one with a random verb, or (`ack_oldest`) acks the first.
  void Settle(Consumer& c, bool ack_oldest = false) {
    if (!c.joined || c.held.empty()) return;
    queue::Group* g = GroupOf(c.group);
    GroupModel& gm = groups_model_[c.group];
    const size_t i = ack_oldest ? 0 : rng_() % c.held.size();
    const HeldLease h = c.held[i];
    c.held.erase(c.held.begin() + static_cast<std::ptrdiff_t>(i));
    const uint64_t r = ack_oldest ? 0 : rng_() % 20;
    queue::AckOp op = r < 12 ? queue::AckOp::kAck : r < 18 ? queue::AckOp::kNack : queue::AckOp::kTerm;
    const uint64_t delay = rng_() % 3 == 0 ? rng_() % 300 : queue::kNackUseBackoff;
    const uint64_t before = g->committed();
    const queue::AckStatus st = g->Settle(c.id, op, h.offset, h.generation, delay, now());
    if (st == queue::AckStatus::kOk) {
      if (op == queue::AckOp::kNack) {
        g_stats.nacks += 1;
      } else {
        (op == queue::AckOp::kAck ? g_stats.acks : g_stats.terms) += 1;
        gm.allowed.insert(h.offset);
        gm.settled.insert(h.offset);
      }
    }
    bool cut = false;
    AfterGroupOp(c.group, before, true, &cut);
    if (cut && fs_.crashed() && !crash_classified_) Classify(kCheckpoint);
  }

  void Cumulative(Consumer& c) {
    queue::Group* g = GroupOf(c.group);
    GroupModel& gm = groups_model_[c.group];
    const uint64_t head = dir_->log->readable_offset();
    const uint64_t before = g->committed();
    uint64_t up_to = c.max_delivered;
    if (rng_() % 3 == 0) up_to = before + rng_() % (head - std::min(head, before) + 1);
    up_to = std::min(std::max({up_to, before, dir_->log->first_offset()}), head);
    Status st = g->CumulativeAck(up_to, now());
    EXPECT_TRUE(st.ok()) << st.ToString();
    if (st.ok()) {
      g_stats.cumulative_acks += 1;
      for (uint64_t o = before; o < up_to; ++o) {
        gm.allowed.insert(o);
        gm.settled.insert(o);
      }
      c.held.erase(std::remove_if(c.held.begin(), c.held.end(), [&](const HeldLease& h) { return h.offset < up_to; }),
                   c.held.end());
    }
    bool cut = false;
    AfterGroupOp(c.group, before, true, &cut);
    if (cut && fs_.crashed() && !crash_classified_) Classify(kCheckpoint);
  }

  void Leave(Consumer& c) {
    if (!c.joined) return;
    queue::Group* g = GroupOf(c.group);
    const bool clean = rng_() % 2 == 0;
    const uint64_t before = g->committed();
    (void)g->Leave(c.id, now(), clean);  // a failed clean write is seen through stats
    c.joined = false;
    c.held.clear();
    bool cut = false;
    AfterGroupOp(c.group, before, true, &cut);
    if (cut && fs_.crashed() && !crash_classified_) Classify(kCheckpoint);
  }

  enum CrashSite { kCheckpoint, kDlqMove, kRoll, kProduceSync, kRetention, kElsewhere };
  void Classify(CrashSite site) {
    crash_classified_ = true;
    g_stats.crashes += 1;
    switch (site) {
      case kCheckpoint: g_stats.crash_in_checkpoint += 1; break;
      case kDlqMove: g_stats.crash_in_dlq_move += 1; break;
      case kRoll: g_stats.crash_in_roll += 1; break;
      case kProduceSync: g_stats.crash_in_produce_sync += 1; break;
      case kRetention: g_stats.crash_in_retention += 1; break;
      case kElsewhere: g_stats.crash_elsewhere += 1; break;
    }
  }

  void RunEpoch(int epoch) {
    g_stats.epochs += 1;
    crash_classified_ = false;
    fault_injected_ = false;
    const int steps = 60 + static_cast<int>(rng_() % 200);
    const uint64_t fault = rng_() % 20;
    if (fault < 15) {
      fs_.CrashAfterOps(rng_() % (static_cast<uint64_t>(steps) * 2));
    }
    if (fault == 15 || fault == 16) {
      // An fsync failure that the process survives: a checkpoint write fails (the next one
      // rewrites the slot), or the DLQ log freezes (moves fail until restart).
      fs_.FailNextSync(fault == 15 ? ".ckpt" : "dlq/", 1);
      fault_injected_ = true;
      g_stats.injected_fsync_failures += 1;
      if (rng_() % 2) fs_.CrashAfterOps(rng_() % (static_cast<uint64_t>(steps) * 2));
    }
    int after_crash = -1;
    const int run_on = static_cast<int>(rng_() % 4);  // ops the dying process still makes
    for (int step = 0; step < steps; ++step) {
      const bool crashed_before = fs_.crashed();
      const uint64_t r = rng_() % 100;
      if (r < 25) {
        const int site = Produce();
        if (!crashed_before && fs_.crashed() && !crash_classified_) {
          Classify(site == 1 ? kRoll : site == 2 ? kProduceSync : kRetention);
        }
      } else if (r < 50 || (r >= 80 && r < 88)) {
        // A fetch; or a burst (a consumer catching up: fetch and ack everything, a few times),
        // which lets every group pass sealed segments so retention reaps.
        Consumer& c = consumers_[rng_() % consumers_.size()];
        const int rounds = r < 50 ? 1 : 4;
        bool in_dlq = false;
        for (int k = 0; k < rounds && !in_dlq; ++k) {
          in_dlq = Fetch(c);
          if (r >= 50) {
            while (c.joined && !c.held.empty()) Settle(c, /*ack_oldest=*/true);
          }
        }
        if (!crashed_before && fs_.crashed() && !crash_classified_) {
          const GroupModel& gm = groups_model_[c.group];
          Classify(in_dlq ? kDlqMove : gm.write_cut_since ? kCheckpoint : kElsewhere);
        }
      } else if (r < 72) {
        // A consumer holding something settles one of its leases.
        Consumer& c = consumers_[rng_() % consumers_.size()];
        Settle(c.held.empty() ? consumers_[rng_() % consumers_.size()] : c);
      } else if (r < 76) {
        Cumulative(consumers_[3]);
      } else if (r < 80) {
        Leave(consumers_[rng_() % consumers_.size()]);
      } else {
        clock_.AdvanceMs(static_cast<int64_t>(rng_() % 3 == 0 ? 1000 + rng_() % 1500 : rng_() % 300));
      }
      if (!crashed_before && fs_.crashed() && !crash_classified_) Classify(kElsewhere);
      if (::testing::Test::HasFailure()) return;
      if (fs_.crashed() && after_crash < 0) after_crash = step;
      if (after_crash >= 0 && step - after_crash >= run_on) break;
    }
    if (!fs_.crashed() && epoch % 2 == 1 && rng_() % 2 == 0) {
      // A clean shutdown instead of a kill: every cursor is written, so even kDropAll keeps it.
      const bool ok = groups_->CheckpointAll().ok();
      for (auto& [name, gm] : groups_model_) AfterGroupOp(name, GroupOf(name)->committed(), true, nullptr);
      if (fs_.crashed() && !crash_classified_) Classify(kCheckpoint);
      if (ok && groups_->Close().ok() && dir_->log->Close().ok()) g_stats.clean_shutdowns += 1;
    }
  }

  // Every group consumes to the head: records whose DLQ move was cut are delivered again (or
  // the move resumes), nothing acked is delivered, and each cursor ends at the head.
  void Drain() {
    const uint64_t head = dir_->log->readable_offset();
    uint64_t member = 1000;
    for (auto& [name, gm] : groups_model_) {
      queue::Group* g = GroupOf(name);
      ASSERT_NE(g, nullptr);
      // The epoch's members are gone with the old process; one fresh member per group.
      ASSERT_TRUE(g->Join(++member, queue::MemberOptions{64, 0}).ok());
      // Until the head, or until windows stop bringing anything (key_shared hands out one
      // record per key per window, so a drain can take many).
      for (int idle = 0; idle < 20 && g->committed() < head;) {
        clock_.AdvanceMs(10'000);  // past every lease and backoff
        queue::FetchRequest req;
        req.max_records = 64;
        const uint64_t before = g->committed();
        queue::Window w = g->Fetch(member, req, now());
        ASSERT_TRUE(w.error.ok()) << w.error.ToString();
        for (const auto& item : w.items) {
          if (const auto* d = std::get_if<queue::Delivery>(&item)) {
            CheckDelivery(name, gm, *d);
            EXPECT_EQ(g->Settle(member, queue::AckOp::kAck, d->offset, d->generation, 0, now()), queue::AckStatus::kOk);
            gm.allowed.insert(d->offset);
            gm.settled.insert(d->offset);
          } else if (const auto* t = std::get_if<queue::TruncationNotice>(&item)) {
            OnTruncation(name, gm, *t);
          } else if (const auto* n = std::get_if<queue::DeadLetterNotice>(&item)) {
            g_stats.dead_letters += 1;
            if (gm.dead_lettered.count(n->offset)) g_stats.dlq_resumed += 1;
            gm.dead_lettered.insert(n->offset);
            gm.allowed.insert(n->offset);
            gm.settled.insert(n->offset);
          }
        }
        AfterGroupOp(name, before, false, nullptr);
        if (::testing::Test::HasFailure()) return;
        idle = w.items.empty() ? idle + 1 : 0;
      }
      EXPECT_EQ(g->committed(), head) << "group '" << name << "' does not drain to the head";
    }
  }

  const uint64_t seed_;
  std::mt19937_64 rng_;
  SeedConfig cfg_;
  io::SimFileSystem fs_;  // declared before everything holding its files
  ManualClock clock_{1'700'000'000'000, 1'000'000'000};
  Model model_;
  std::set<uint64_t> present_;  // offsets the last recovery read back
  std::map<std::string, GroupModel> groups_model_;
  std::vector<Consumer> consumers_;
  std::optional<recovery::OpenedDataDir> dir_;
  std::unique_ptr<queue::Groups> groups_;
  bool crash_classified_ = false;
  bool fault_injected_ = false;
};

int SeedCount() {
  int base = 1000;
  if (const char* n = std::getenv("IRONBUS_BROKER_SWEEP_SEEDS")) base = std::max(1, std::atoi(n));
  return ScaledSeeds(base);
}

TEST(BrokerPowerCutSweep, DurableConsumerStateSurvivesEveryCutDeterministic) {
  if (const char* one = std::getenv("IRONBUS_SWEEP_SEED")) {
    const uint64_t seed = std::strtoull(one, nullptr, 10);
    SCOPED_TRACE("seed " + std::to_string(seed));
    SeedRun(seed).Run();
    return;
  }
  // Thousands of crashes log thousands of recovery lines: keep them out of the run's output
  // (a replayed seed above keeps them).
  logging::SetSinkForTest([](std::string_view) {});
  const auto start = std::chrono::steady_clock::now();
  const int seeds = SeedCount();
  for (int s = 0; s < seeds; ++s) {
    {
      SCOPED_TRACE("seed " + std::to_string(s) + " (rerun: IRONBUS_SWEEP_SEED=" + std::to_string(s) + ")");
      SeedRun(static_cast<uint64_t>(s)).Run();
    }
    if (HasFailure()) {
      logging::SetSinkForTest(nullptr);
      ADD_FAILURE() << "first failing seed " << s << "; rerun alone with IRONBUS_SWEEP_SEED=" << s;
      return;
    }
  }
  logging::SetSinkForTest(nullptr);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const BrokerSweepStats& s = g_stats;
  std::printf(
      "broker power-cut sweep: %llu seeds, %llu epochs in %.1f s; %llu acked publishes, %llu deliveries "
      "(%llu redeliveries), %llu acks, %llu terms, %llu nacks, %llu cumulative acks, %llu dead letters "
      "(%llu resumed, %llu cut moves found in dlq/), %llu checkpoint writes\n"
      "  crashes: %llu (checkpoint write %llu, DLQ move %llu, segment roll %llu, produce sync %llu, retention %llu, "
      "other %llu, inside recovery %llu)\n"
      "  %llu segments reaped, %llu truncation notices; %llu injected fsync failures; %llu clean shutdowns; "
      "loss events %llu (%llu data loss, %llu in dlq/); %llu frozen reopens (%llu of dlq/); "
      "%llu acked-ahead ranges checked; %llu unacknowledged records kept by recovery\n",
      (unsigned long long)s.seeds, (unsigned long long)s.epochs, secs, (unsigned long long)s.acked_publishes,
      (unsigned long long)s.deliveries, (unsigned long long)s.redeliveries, (unsigned long long)s.acks,
      (unsigned long long)s.terms, (unsigned long long)s.nacks, (unsigned long long)s.cumulative_acks,
      (unsigned long long)s.dead_letters, (unsigned long long)s.dlq_resumed, (unsigned long long)s.cut_moves_found,
      (unsigned long long)s.checkpoint_writes, (unsigned long long)s.crashes, (unsigned long long)s.crash_in_checkpoint,
      (unsigned long long)s.crash_in_dlq_move, (unsigned long long)s.crash_in_roll,
      (unsigned long long)s.crash_in_produce_sync, (unsigned long long)s.crash_in_retention,
      (unsigned long long)s.crash_elsewhere, (unsigned long long)s.crash_in_recovery,
      (unsigned long long)s.segments_reaped, (unsigned long long)s.truncations,
      (unsigned long long)s.injected_fsync_failures, (unsigned long long)s.clean_shutdowns,
      (unsigned long long)s.loss_events, (unsigned long long)s.data_loss_events,
      (unsigned long long)s.dlq_loss_events, (unsigned long long)s.frozen, (unsigned long long)s.frozen_dlq,
      (unsigned long long)s.cursor_ahead_kept, (unsigned long long)s.unacked_survivors);
  EXPECT_GT(s.acked_publishes, 0u);
  EXPECT_GT(s.dead_letters, 0u);
  EXPECT_GT(s.crash_in_checkpoint, 0u);
}

}  // namespace
}  // namespace ironbus::crash
