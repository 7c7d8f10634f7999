// Power-cut sweep of the whole broker over TCP (reliability issue, item 2): the real
// server::Broker, storage::Appender and queue::Groups on the simulated file system.
//
// The same invariants through server::Broker and client::Client: producers learn their offsets
// from PubAck, one consumer of "work" acks, nacks (delay 0) and terms with max_deliver 2 and
// checkpoint_interval 0. The FS crashes at a seeded mutating op under load, the broker stops,
// PowerCut, a fresh broker on the recovered directory serves a second load and a drain to the
// head. Thread interleaving is the scheduler's, so a seed fixes the faults, not the schedule.
//
// Which acks are durable: with checkpoint_interval 0 every watermark advance writes the cursor
// before the AckStatus (or the DLQ notice) is sent, and the crash is sticky, so a reply that
// advanced the consumer's mirror of the cursor and was read while fs.crashed() was still false
// was written durably: the recovered cursor must reach that watermark.
//
//   IRONBUS_BROKER_TCP_SWEEP_SEEDS=<n>  seeds (default 50), times IRONBUS_SWEEP_SCALE
//   build/.../tests/crash_tests --gtest_filter='BrokerPowerCutTcp*'
// The deterministic sweep of the same state machine: broker_power_cut_test.cc.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <variant>
#include <vector>
#include "base/clock.h"
#include "base/log.h"
#include "client/client.h"
#include "crash/power_cut_model.h"
#include "format/checkpoint.h"
#include "format/compression.h"
#include "format/dlq_header.h"
#include "format/record_format.h"
#include "io/sim_file_system.h"
#include "queue/groups.h"
#include "recovery/open_data_dir.h"
#include "server/broker.h"
#include "storage/appender.h"

namespace ironbus::crash {
namespace {

constexpr char kDir[] = "/data";
constexpr char kWork[] = "work";

struct TcpStats {
  uint64_t seeds = 0, acked_publishes = 0, acks = 0, nacks = 0, terms = 0, dead_letters = 0, durable_marks = 0;
  uint64_t crashed = 0, loss_events = 0, frozen = 0;
};
TcpStats g_tcp;

class TcpSeedRun {
 public:
  explicit TcpSeedRun(uint64_t seed) : seed_(seed), rng_(seed) {}

  void Run() {
    g_tcp.seeds += 1;
    ASSERT_TRUE(fs_.CreateDirs(kDir).ok());
    fs_.SyncAll();
    segment_bytes_ = rng_() % 2 ? 1024 : 16384;
    // Epoch 0: load, crash at a seeded op (most seeds), stop, power cut.
    ASSERT_TRUE(Start());
    if (rng_() % 8 != 0) fs_.CrashAfterOps(rng_() % 300);
    Load(/*records_per_producer=*/40 + static_cast<int>(rng_() % 80), /*drain=*/false);
    if (fs_.crashed()) g_tcp.crashed += 1;
    StopBroker();
    fs_.PowerCut(seed_, ModeFor(rng_));
    // Epoch 1: a fresh broker on what survived; more load, then every record consumed.
    epoch_ = 1;
    if (!Start()) return;
    Load(10, /*drain=*/true);
    StopBroker();
    // The broker's stop wrote every checkpoint: after a cut that keeps only synced state the
    // group is at the head.
    fs_.PowerCut(seed_ + 1, io::PowerCutMode::kDropAll);
    if (!Start()) return;
    EXPECT_EQ(groups_->Find(kWork)->committed(), dir_->log->readable_offset()) << "after a clean stop";
    StopBroker();
  }

 private:
  // Opens, checks the recovered state, starts the broker. False when it opened frozen.
  bool Start() {
    recovery::RecoveryOptions ro;
    storage::LogOptions lo;
    lo.max_segment_bytes = segment_bytes_;
    auto opened = recovery::OpenDataDir(&fs_, kDir, ro, lo, SystemClock::Default());
    EXPECT_TRUE(opened.ok()) << opened.status().ToString();
    if (!opened.ok()) return false;
    dir_.emplace(std::move(opened).value());
    const bool frozen = dir_->log->frozen() || (dir_->dlq_log != nullptr && dir_->dlq_log->frozen());
    g_tcp.frozen += frozen ? 1 : 0;
    CheckLog();
    CheckDlq();
    queue::QueueOptions qo;
    qo.visibility_timeout_ms = 200;
    qo.hard_cap_ms = 1000;
    qo.max_deliver = 2;
    qo.checkpoint_interval = 0;
    auto groups =
        queue::Groups::Open(&fs_, kDir, dir_->log.get(), std::move(dir_->dlq_log), qo, SystemClock::Default());
    EXPECT_TRUE(groups.ok()) << groups.status().ToString();
    if (!groups.ok()) return false;
    groups_ = std::move(groups).value();
    auto g = groups_->GetOrCreate(kWork);
    EXPECT_TRUE(g.ok());
    if (!g.ok()) return false;
    EXPECT_GE((*g)->committed(), durable_committed_) << "the recovered cursor is behind an acknowledged ack";
    for (uint64_t o = 0; o < dir_->log->readable_offset(); ++o) {
      if ((*g)->cursor().IsAcked(o) && present_.count(o)) {
        EXPECT_TRUE(settled_.count(o)) << "the recovered cursor covers offset " << o << ", never acked";
      }
    }
    mirror_ = (*g)->cursor();
    if (frozen) return false;
    storage::AppenderOptions ao;
    ao.retention_floor = [gs = groups_.get()] { return gs->RetentionFloor(); };
    ao.on_appended = [this] {
      if (server::Broker* b = wake_.load()) b->NotifyAppended();
    };
    auto appender = storage::Appender::Start(dir_->log.get(), SystemClock::Default(), ao);
    EXPECT_TRUE(appender.ok());
    if (!appender.ok()) return false;
    appender_ = std::move(appender).value();
    server::BrokerOptions bo;
    bo.port = 0;
    bo.drain_timeout = std::chrono::milliseconds(500);
    bo.linger = std::chrono::milliseconds(50);
    bo.log_sink = [](std::string_view) {};
    broker_ = std::make_unique<server::Broker>(dir_->log.get(), appender_.get(), groups_.get(), bo);
    Status st = broker_->Start();
    EXPECT_TRUE(st.ok()) << st.ToString();
    wake_ = broker_.get();
    return st.ok();
  }

  void StopBroker() {
    if (broker_) broker_->Stop();
    wake_ = nullptr;
    if (appender_) (void)appender_->Stop();
    broker_.reset();
    appender_.reset();
    groups_.reset();
    dir_.reset();
  }

  // (a), (d): acked publishes exactly once at their offset; every record is one that a producer
  // sent (no phantom), each at most once; a producer's acked records in send order.
  void CheckLog() {
    const storage::Log& log = *dir_->log;
    g_tcp.loss_events += dir_->report.events.size();
    present_.clear();
    std::map<std::string, uint64_t> seen;
    for (uint64_t at = log.first_offset(); at < log.readable_offset();) {
      auto batch = log.Read(at, 512, 8ull << 20);
      if (!batch.ok()) {
        ADD_FAILURE() << batch.status().ToString();
        return;
      }
      for (const auto& r : batch->records) {
        const Bytes payload = StoredPayload(r.record);
        const std::string text(AsChars(payload));
        present_.insert(r.offset);
        if (!sent_.count(text)) {
          ADD_FAILURE() << "phantom record at offset " << r.offset;
          continue;
        }
        EXPECT_TRUE(seen.emplace(text, r.offset).second) << "record sent once is in the log twice: " << text;
        auto it = acked_.find(r.offset);
        if (it != acked_.end()) {
          EXPECT_EQ(it->second, text) << "offset " << r.offset << " holds another record than its PubAck said";
        }
      }
      if (batch->next_offset <= at) break;
      at = batch->next_offset;
    }
    for (const auto& [offset, text] : acked_) {
      EXPECT_TRUE(present_.count(offset)) << "acknowledged publish at offset " << offset << " is missing";
      for (const auto& e : dir_->report.events) {
        if (e.data_loss() && e.first_lost_offset <= offset && offset < e.end_lost_offset) {
          ADD_FAILURE() << "a loss event covers acknowledged offset " << offset;
        }
      }
    }
    // Records that survived unacknowledged are durable from now on; forget offsets past the head.
    acked_.erase(acked_.lower_bound(log.next_offset()), acked_.end());
    for (uint64_t o : present_) {
      auto it = acked_.find(o);
      if (it == acked_.end()) {
        auto r = log.Read(o, 1, 8ull << 20);
        if (r.ok() && !r->records.empty() && r->records[0].offset == o) {
          acked_[o] = std::string(AsChars(StoredPayload(r->records[0].record)));
        }
      }
    }
    for (const auto& [p, offsets] : producer_offsets_) {
      for (size_t i = 1; i < offsets.size(); ++i) {
        EXPECT_LT(offsets[i - 1], offsets[i]) << "producer " << p << " acked records out of order";
      }
    }
  }

  // (c): each completed move once, nothing twice.
  void CheckDlq() {
    std::map<uint64_t, int> count;
    if (dir_->dlq_log != nullptr) {
      const storage::Log& dlq = *dir_->dlq_log;
      for (uint64_t at = dlq.first_offset(); at < dlq.readable_offset();) {
        auto batch = dlq.Read(at, 512, 8ull << 20);
        if (!batch.ok()) {
          ADD_FAILURE() << batch.status().ToString();
          return;
        }
        for (const auto& r : batch->records) {
          auto h = format::DecodeDlqHeaders(r.record.headers);
          if (h && AsChars(h->group) == kWork) count[h->source_offset] += 1;
        }
        if (batch->next_offset <= at) break;
        at = batch->next_offset;
      }
    }
    for (const auto& [o, n] : count) {
      EXPECT_EQ(n, 1) << "offset " << o << " is in the DLQ " << n << " times";
      dead_lettered_.insert(o);
      settled_.insert(o);
    }
    for (uint64_t o : dead_lettered_) {
      EXPECT_TRUE(count.count(o)) << "completed dead letter of offset " << o << " is missing from the DLQ";
    }
  }

  void Load(int records_per_producer, bool drain) {
    std::atomic<int> producers_running{2};
    std::mutex mu;  // guards the model while threads run
    std::vector<std::thread> threads;
    for (int p = 0; p < 2; ++p) {
      const uint64_t window = 1 + rng_() % 8;
      threads.emplace_back([&, p, window] {
        Produce(p, records_per_producer, window, &mu);
        producers_running -= 1;
      });
    }
    const uint64_t consumer_seed = rng_();
    threads.emplace_back([&] { Consume(consumer_seed, drain, &producers_running, &mu); });
    for (auto& t : threads) t.join();
  }

  void Produce(int p, int n, uint64_t window, std::mutex* mu) {
    auto c = client::Client::Connect(broker_->address());
    if (!c.ok()) return;
    for (int i = 0; i < n;) {
      std::vector<client::PublishRequest> reqs;
      std::vector<std::string> texts;
      for (int k = 0; k < 8 && i < n; ++k, ++i) {
        std::string text = "tcp seed=" + std::to_string(seed_) + " epoch=" + std::to_string(epoch_) +
                           " p=" + std::to_string(p) + " i=" + std::to_string(i) + ";";
        text.resize(text.size() + (i * 37) % 300, 'x');
        client::PublishRequest r;
        r.payload = ToBytes(text);
        reqs.push_back(std::move(r));
        texts.push_back(std::move(text));
        std::lock_guard<std::mutex> lock(*mu);
        sent_.insert(texts.back());
      }
      const auto results = (*c)->PublishWindow(reqs, window);
      bool failed = false;
      std::lock_guard<std::mutex> lock(*mu);
      for (size_t k = 0; k < results.size(); ++k) {
        if (!results[k].ok()) {
          failed = true;
          continue;
        }
        acked_[results[k].offset] = texts[k];
        producer_offsets_[p].push_back(results[k].offset);
        g_tcp.acked_publishes += 1;
      }
      if (failed) return;  // the broker refused (log frozen by the crash) or went away
    }
  }

  void Consume(uint64_t seed, bool drain, std::atomic<int>* producers_running, std::mutex* mu) {
    std::mt19937_64 rng(seed);
    auto c = client::Client::Connect(broker_->address());
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    ASSERT_TRUE((*c)->Subscribe(kWork).ok());
    int idle = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      client::FetchOptions fo;
      fo.max_records = 16;
      auto w = (*c)->Fetch(fo);
      if (!w.ok()) break;  // the connection broke
      const bool crashed_at_reply = fs_.crashed();
      std::unique_lock<std::mutex> lock(*mu);
      for (const auto& d : w->dead_letters) {
        dead_lettered_.insert(d.offset);
        settled_.insert(d.offset);
        g_tcp.dead_letters += 1;
        Advance(d.offset, crashed_at_reply);
      }
      for (const auto& m : w->messages) {
        const std::string text(AsChars(m.payload));
        EXPECT_TRUE(sent_.count(text)) << "delivered a record no producer sent, offset " << m.offset;
        auto it = acked_.find(m.offset);
        if (it != acked_.end()) {
          EXPECT_EQ(it->second, text) << "delivered offset " << m.offset << " differs from its PubAck";
        }
        EXPECT_FALSE(m.offset < durable_committed_ || dead_lettered_.count(m.offset) || mirror_.IsAcked(m.offset))
            << "offset " << m.offset << " delivered again after a durable ack or a dead letter";
        const uint64_t r = drain ? 0 : rng() % 20;
        Result<client::AckOutcome> out = Status::Internal("unset");
        bool commits = true;
        if (r < 14) {
          out = (*c)->Ack(m.offset, m.generation);
        } else if (r < 18) {
          out = (*c)->Nack(m.offset, m.generation, 0);
          commits = false;
        } else if (r < 19) {
          out = (*c)->Term(m.offset, m.generation);
        } else {
          continue;  // left to expire (visibility timeout) and come back
        }
        if (!out.ok()) break;
        if (*out != client::AckOutcome::kDone) continue;
        if (!commits) {
          g_tcp.nacks += 1;
          continue;
        }
        (r < 14 ? g_tcp.acks : g_tcp.terms) += 1;
        settled_.insert(m.offset);
        Advance(m.offset, fs_.crashed());
      }
      const bool empty = w->messages.empty() && w->dead_letters.empty();
      if (!w->error.ok() && !fs_.crashed()) {
        ADD_FAILURE() << "window failed with no crash: " << w->error.ToString();
        return;
      }
      idle = empty ? idle + 1 : 0;
      if (*producers_running == 0 && idle >= 3) {
        // A drain ends at the head (committed_floor is the group's one thread-safe reader).
        if (!drain || groups_->Find(kWork)->committed_floor() >= dir_->log->readable_offset()) break;
      }
      if (fs_.crashed() && idle >= 2) break;
      if (empty) {
        lock.unlock();
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    }
  }

  // The consumer's mirror of the group's cursor: an advance made before the crash was written.
  void Advance(uint64_t offset, bool crashed_at_reply) {
    const uint64_t before = mirror_.committed();
    mirror_.Ack(offset);
    if (mirror_.committed() > before && !crashed_at_reply) {
      durable_committed_ = std::max(durable_committed_, mirror_.committed());
      g_tcp.durable_marks += 1;
    }
  }

  const uint64_t seed_;
  std::mt19937_64 rng_;
  uint64_t segment_bytes_ = 1024;
  int epoch_ = 0;
  io::SimFileSystem fs_;
  std::optional<recovery::OpenedDataDir> dir_;
  std::unique_ptr<queue::Groups> groups_;
  std::unique_ptr<storage::Appender> appender_;
  std::unique_ptr<server::Broker> broker_;
  std::atomic<server::Broker*> wake_{nullptr};
  // The model (guarded by the Load mutex while threads run).
  std::set<std::string> sent_;
  std::map<uint64_t, std::string> acked_;
  std::map<int, std::vector<uint64_t>> producer_offsets_;
  std::set<uint64_t> present_;
  std::set<uint64_t> settled_;        // acked, termed or dead-lettered by "work", every epoch
  std::set<uint64_t> dead_lettered_;  // completed moves of "work"
  uint64_t durable_committed_ = 0;    // the highest watermark known written
  queue::Cursor mirror_;
};

TEST(BrokerPowerCutTcpSweep, AcknowledgedPublishesAndFlushedAcksSurviveACrashUnderLoad) {
  if (const char* one = std::getenv("IRONBUS_SWEEP_SEED")) {
    TcpSeedRun(std::strtoull(one, nullptr, 10) + 5'000'000).Run();
    return;
  }
  int base = 50;
  if (const char* n = std::getenv("IRONBUS_BROKER_TCP_SWEEP_SEEDS")) base = std::max(1, std::atoi(n));
  const int seeds = ScaledSeeds(base);
  logging::SetSinkForTest([](std::string_view) {});
  const auto start = std::chrono::steady_clock::now();
  for (int s = 0; s < seeds; ++s) {
    {
      SCOPED_TRACE("tcp seed " + std::to_string(s) + " (rerun: IRONBUS_SWEEP_SEED=" + std::to_string(s) + ")");
      TcpSeedRun(5'000'000 + static_cast<uint64_t>(s)).Run();
    }
    if (HasFailure()) {
      logging::SetSinkForTest(nullptr);
      ADD_FAILURE() << "first failing tcp seed " << s;
      return;
    }
  }
  logging::SetSinkForTest(nullptr);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "broker tcp power-cut sweep: %llu seeds in %.1f s (%llu crashed under load); %llu acked publishes, %llu acks, "
      "%llu terms, %llu nacks, %llu dead letters, %llu acks known durable; %llu loss events, %llu frozen reopens\n",
      (unsigned long long)g_tcp.seeds, secs, (unsigned long long)g_tcp.crashed,
      (unsigned long long)g_tcp.acked_publishes, (unsigned long long)g_tcp.acks, (unsigned long long)g_tcp.terms,
      (unsigned long long)g_tcp.nacks, (unsigned long long)g_tcp.dead_letters,
      (unsigned long long)g_tcp.durable_marks, (unsigned long long)g_tcp.loss_events,
      (unsigned long long)g_tcp.frozen);
  EXPECT_GT(g_tcp.acked_publishes, 0u);
}
}  // namespace
}  // namespace ironbus::crash
