// Shared fixture of the queue tests: a data directory on io::SimFileSystem opened the way the
// broker opens it (recovery::OpenDataDir, then queue::Groups::Open with the DLQ log handed
// over), a ManualClock for every `now`, and helpers to produce records and read windows.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "base/bytes.h"
#include "base/clock.h"
#include "format/dlq_header.h"
#include "format/record_format.h"
#include "io/sim_file_system.h"
#include "queue/groups.h"
#include "recovery/open_data_dir.h"

namespace ironbus::queue::testing {

inline constexpr char kDir[] = "/data";
inline constexpr int64_t kMs = 1'000'000;  // ns per ms

// Usable on its own (sweeps build one per case) or as a gtest fixture (QueueTest below).
class QueueEnv {
 public:
  QueueEnv() {
    EXPECT_TRUE(fs_.CreateDirs(kDir).ok());
    fs_.SyncAll();
    log_options_.compression = format::Compression::kNone;
  }
  virtual ~QueueEnv() { Close(); }

  // Opens (or reopens) the directory and the groups with `options_`.
  void Open() {
    Close();
    auto opened = recovery::OpenDataDir(&fs_, kDir, recovery::RecoveryOptions{}, log_options_, &clock_);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    dir_.emplace(std::move(opened).value());
    auto groups = Groups::Open(&fs_, kDir, dir_->log.get(), std::move(dir_->dlq_log), options_, &clock_);
    ASSERT_TRUE(groups.ok()) << groups.status().ToString();
    groups_ = std::move(groups).value();
  }
  // Clean shutdown: checkpoint every group, close the DLQ and the log.
  void CloseClean() {
    if (groups_) {
      EXPECT_TRUE(groups_->CheckpointAll().ok());
      EXPECT_TRUE(groups_->Close().ok());
    }
    if (dir_ && dir_->log) {
      EXPECT_TRUE(dir_->log->Close().ok());
    }
    Close();
  }
  // Drops every object without syncing (what a crash leaves).
  void Close() {
    groups_.reset();
    dir_.reset();
  }
  void PowerCut(uint64_t seed = 1, io::PowerCutMode mode = io::PowerCutMode::kDropAll) {
    Close();
    fs_.PowerCut(seed, mode);
  }

  storage::Log* log() { return dir_->log.get(); }
  int64_t now() const { return clock_.MonotonicNanos(); }
  void AdvanceMs(int64_t ms) { clock_.AdvanceMs(ms); }

  // Appends and makes durable one record; returns its offset.
  uint64_t Produce(std::string_view payload, std::string_view key = {}, std::string_view headers = {}) {
    storage::AppendRecord r;
    r.payload = AsBytes(payload);
    r.key = AsBytes(key);
    r.headers = AsBytes(headers);
    auto off = log()->Append(r);
    EXPECT_TRUE(off.ok()) << off.status().ToString();
    EXPECT_TRUE(log()->Sync().ok());
    return off.ok() ? *off : UINT64_MAX;
  }
  void ProduceN(int n) {
    for (int i = 0; i < n; ++i) Produce("m" + std::to_string(i));
  }

  Group* GroupNamed(std::string_view name = "") {
    auto g = groups_->GetOrCreate(name);
    EXPECT_TRUE(g.ok()) << g.status().ToString();
    return g.ok() ? *g : nullptr;
  }
  // Group + Join in one step.
  Group* Subscribe(uint64_t member, std::string_view name = "", MemberOptions mo = {}) {
    Group* g = GroupNamed(name);
    if (g) {
      EXPECT_TRUE(g->Join(member, mo).ok());
    }
    return g;
  }

  static std::vector<Delivery> Deliveries(const Window& w) {
    std::vector<Delivery> out;
    for (const auto& item : w.items) {
      if (const auto* d = std::get_if<Delivery>(&item)) out.push_back(*d);
    }
    return out;
  }
  static std::vector<uint64_t> Offsets(const Window& w) {
    std::vector<uint64_t> out;
    for (const auto& d : Deliveries(w)) out.push_back(d.offset);
    return out;
  }
  static std::vector<uint64_t> DeadLetters(const Window& w) {
    std::vector<uint64_t> out;
    for (const auto& item : w.items) {
      if (const auto* d = std::get_if<DeadLetterNotice>(&item)) out.push_back(d->offset);
    }
    return out;
  }
  Window FetchN(Group* g, uint64_t member, uint32_t n) {
    FetchRequest req;
    req.max_records = n;
    Window w = g->Fetch(member, req, now());
    EXPECT_TRUE(w.error.ok()) << w.error.ToString();
    return w;
  }
  // Fetches one record and returns its delivery (offset UINT64_MAX when none).
  Delivery FetchOne(Group* g, uint64_t member) {
    Window w = FetchN(g, member, 1);
    auto d = Deliveries(w);
    if (d.empty()) {
      Delivery none;
      none.offset = UINT64_MAX;
      return none;
    }
    return d[0];
  }
  AckStatus Ack(Group* g, uint64_t member, const Delivery& d) {
    return g->Settle(member, AckOp::kAck, d.offset, d.generation, 0, now());
  }
  AckStatus Nack(Group* g, uint64_t member, const Delivery& d, uint64_t delay_ms = 0) {
    return g->Settle(member, AckOp::kNack, d.offset, d.generation, delay_ms, now());
  }

  struct DlqEntry {
    uint64_t source_offset = 0;
    uint32_t attempt = 0;
    std::string group;
    Bytes original_headers;
    storage::LogRecord stored;
  };
  // Every record of the DLQ log, read from a dry-run recovery of dlq/ (never writes).
  std::vector<DlqEntry> ReadDlq() {
    std::vector<DlqEntry> out;
    const std::string dlq_dir = std::string(kDir) + "/dlq";
    if (!*fs_.IsDirectory(dlq_dir)) return out;
    recovery::RecoveryOptions ro;
    ro.mode = recovery::Mode::kDryRun;
    ro.keys = log_options_.keys;  // at-rest keys, when a test sets them
    auto rec = recovery::Recover(&fs_, dlq_dir, ro);
    EXPECT_TRUE(rec.ok()) << rec.status().ToString();
    if (!rec.ok()) return out;
    rec->state.frozen = true;  // read only: never create a segment here
    rec->state.needs_new_active_segment = false;
    auto log = storage::Log::Open(&fs_, rec->state, log_options_, &clock_);
    EXPECT_TRUE(log.ok()) << log.status().ToString();
    if (!log.ok()) return out;
    auto batch = (*log)->Read((*log)->first_offset(), 1 << 20, 1ull << 30);
    if (!batch.ok()) return out;
    for (auto& r : batch->records) {
      auto h = format::DecodeDlqHeaders(r.record.headers);
      EXPECT_TRUE(h.has_value());
      if (!h) continue;
      DlqEntry e;
      e.source_offset = h->source_offset;
      e.attempt = h->attempt;
      e.group = std::string(AsChars(h->group));
      e.original_headers = Bytes(h->original_headers.begin(), h->original_headers.end());
      e.stored = r;
      out.push_back(std::move(e));
    }
    return out;
  }

  io::SimFileSystem fs_;  // declared first: destroyed after everything holding its files
  ManualClock clock_{1'700'000'000'000, 1'000 * kMs};
  storage::LogOptions log_options_;
  QueueOptions options_;
  std::optional<recovery::OpenedDataDir> dir_;
  std::unique_ptr<Groups> groups_;
};

class QueueTest : public ::testing::Test, public QueueEnv {};

}  // namespace ironbus::queue::testing
