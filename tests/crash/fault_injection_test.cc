// Fault injection sweep (reliability issue, part 4): a reference run of a small broker-like
// workload on the simulated file system counts its mutating operations; then, for every
// operation index k and every fault kind, the workload is replayed with that fault armed just
// before operation k (it fires on the first matching operation at or after k), followed by a
// power cut and a reopen. The workload: storage::Appender + storage::Log appends (small
// segments, so rolls, seals, preallocations and segment creates happen), reads, the DLQ move
// (DLQ log Append + Sync, then the cursor checkpoint commit; spec/consumers.md 8) and cursor
// checkpoint writes (storage::CheckpointFile, what queue::Groups uses; spec/consumers.md 7).
//
// Asserted for every (k, kind):
//   - nothing is acknowledged after the first write/sync failure: the log is frozen and every
//     later append is FailedPrecondition "log frozen" (a failed sync is never retried);
//   - ENOSPC at preallocate is "at capacity" (Unavailable, not frozen, the next append works);
//     ENOSPC at a write freezes (a write failure, spec/storage.md 12.4);
//   - a failed fdatasync / fsync / dir-sync at any sync site freezes the writer that hit it
//     (the main log or the DLQ log) or fails the checkpoint write that hit it;
//   - EIO on a read (or on opening a read handle) returns an error, no crash, and the next read
//     works and returns the acknowledged bytes;
//   - after the power cut, recovery keeps every acknowledged record (I1-I3 of the power-cut
//     model), every acknowledged dead letter, and the last acknowledged checkpoint; a recovered
//     cursor checkpoint never points past a dead letter that is not durable.
// Plus a slow disk (a decorator delays every Sync by 200 ms): producers stay bounded by the
// appender queue (TrySubmit sheds with Unavailable, Submit blocks) and everything is acked in
// offset order.
//
// Scale: IRONBUS_SWEEP_SCALE (like the other sweeps) scales the number of records, hence the
// number of operations swept. Replay one cell: IRONBUS_FAULT_K=<k> IRONBUS_FAULT_KIND=<name>.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "crash/power_cut_model.h"
#include "format/checkpoint.h"
#include "format/dlq_header.h"
#include "format/record_format.h"
#include "io/sim_file_system.h"
#include "recovery/open_data_dir.h"
#include "storage/appender.h"
#include "storage/checkpoint_file.h"

namespace ironbus::crash {
namespace {

constexpr char kDir[] = "/data";
constexpr char kDlqDir[] = "/data/dlq";
constexpr char kCkptName[] = "cursor-ft.ckpt";
constexpr char kGroup[] = "ft";

enum class Fault : uint8_t {
  kNone,
  kWriteEio,
  kWriteNoSpace,
  kShortWrite,
  kSyncEio,
  kReadEio,
  kSyncDirEio,
  kRenameEio,
  kPreallocateNoSpace,
  kOpenEio,
  kCrash,  // CrashAfterOps(0): this op and everything after fail until the power cut
};
constexpr Fault kAllFaults[] = {Fault::kWriteEio,   Fault::kWriteNoSpace, Fault::kShortWrite,
                                Fault::kSyncEio,    Fault::kReadEio,      Fault::kSyncDirEio,
                                Fault::kRenameEio,  Fault::kPreallocateNoSpace, Fault::kOpenEio,
                                Fault::kCrash};

const char* Name(Fault f) {
  switch (f) {
    case Fault::kNone: return "none";
    case Fault::kWriteEio: return "write_eio";
    case Fault::kWriteNoSpace: return "write_enospc";
    case Fault::kShortWrite: return "short_write";
    case Fault::kSyncEio: return "sync_eio";
    case Fault::kReadEio: return "read_eio";
    case Fault::kSyncDirEio: return "syncdir_eio";
    case Fault::kRenameEio: return "rename_eio";
    case Fault::kPreallocateNoSpace: return "preallocate_enospc";
    case Fault::kOpenEio: return "open_eio";
    case Fault::kCrash: return "crash";
  }
  return "?";
}

bool IsSyncFault(Fault f) { return f == Fault::kSyncEio || f == Fault::kSyncDirEio; }

// What the workload is doing, so a fired fault can be attributed to the component it hit.
enum class Phase : uint8_t { kSetup, kOpen, kCkptOpen, kAppend, kRead, kDlq, kCkpt, kStop };

// A FileSystem decorator over the SimFileSystem: arms the fault right before mutating
// operation k (the simulation counts mutating ops), remembers where it fired, and optionally
// delays every Sync (the slow disk).
class InjectFs final : public io::FileSystem {
 public:
  InjectFs(io::SimFileSystem* sim, Fault fault, int64_t k, int sync_delay_ms = 0)
      : sim_(sim), fault_(fault), k_(k), sync_delay_ms_(sync_delay_ms) {}

  std::atomic<Phase> phase{Phase::kSetup};  // set by the test thread, read by the appender's I/O
  bool fired = false;
  Phase fired_phase = Phase::kSetup;
  std::string fired_path;

  void Before() {
    if (armed_ || fault_ == Fault::kNone || k_ < 0) return;
    if (sim_->counters().mutating_ops < static_cast<uint64_t>(k_)) return;
    armed_ = true;
    switch (fault_) {
      case Fault::kWriteEio: sim_->FailNextWrite(); break;
      case Fault::kWriteNoSpace: sim_->NextWriteNoSpace(); break;
      case Fault::kShortWrite: sim_->ShortNextWrite(); break;
      case Fault::kSyncEio: sim_->FailNextSync(); break;
      case Fault::kReadEio: sim_->FailNextRead(); break;
      case Fault::kSyncDirEio: sim_->FailNextSyncDir(); break;
      case Fault::kRenameEio: sim_->FailNextRename(); break;
      case Fault::kPreallocateNoSpace: sim_->NoSpaceOnPreallocate(); break;
      case Fault::kOpenEio: sim_->FailNextOpen(); break;
      case Fault::kCrash: sim_->CrashAfterOps(0); break;
      case Fault::kNone: break;
    }
  }
  void After(const std::string& path) {
    if (!armed_ || fired) return;
    const bool gone = fault_ == Fault::kCrash ? sim_->crashed() : sim_->armed_faults() == 0;
    if (gone) {
      fired = true;
      fired_phase = phase.load();
      fired_path = path;
    }
  }
  void SlowSync() {
    if (sync_delay_ms_ > 0) std::this_thread::sleep_for(std::chrono::milliseconds(sync_delay_ms_));
  }

  class F final : public io::File {
   public:
    F(InjectFs* fs, std::unique_ptr<io::File> f) : fs_(fs), f_(std::move(f)) {}
    Result<size_t> ReadAt(uint64_t offset, std::span<uint8_t> out) override {
      std::lock_guard<std::mutex> l(fs_->mu_);
      fs_->Before();
      auto r = f_->ReadAt(offset, out);
      fs_->After(f_->path());
      return r;
    }
    Status WriteAt(uint64_t offset, ByteView data) override { return Do([&] { return f_->WriteAt(offset, data); }); }
    Status Sync() override {
      fs_->SlowSync();
      return Do([&] { return f_->Sync(); });
    }
    Status FullSync() override {
      fs_->SlowSync();
      return Do([&] { return f_->FullSync(); });
    }
    Status Truncate(uint64_t size) override { return Do([&] { return f_->Truncate(size); }); }
    Result<uint64_t> Size() override { return f_->Size(); }
    Status Preallocate(uint64_t length) override { return Do([&] { return f_->Preallocate(length); }); }
    Status Close() override { return f_->Close(); }
    const std::string& path() const override { return f_->path(); }

   private:
    template <typename Fn>
    Status Do(Fn fn) {
      std::lock_guard<std::mutex> l(fs_->mu_);
      fs_->Before();
      Status s = fn();
      fs_->After(f_->path());
      return s;
    }
    InjectFs* fs_;
    std::unique_ptr<io::File> f_;
  };

  Result<std::unique_ptr<io::File>> Open(const std::string& path, io::OpenMode mode) override {
    std::unique_lock<std::mutex> l(mu_);
    Before();
    auto r = sim_->Open(path, mode);
    After(path);
    l.unlock();
    if (!r.ok()) return r.status();
    return std::unique_ptr<io::File>(std::make_unique<F>(this, std::move(*r)));
  }
  Result<std::vector<io::DirEntry>> List(const std::string& dir) override { return sim_->List(dir); }
  Result<bool> Exists(const std::string& path) override { return sim_->Exists(path); }
  Result<bool> IsDirectory(const std::string& path) override { return sim_->IsDirectory(path); }
  Result<uint64_t> FileSize(const std::string& path) override { return sim_->FileSize(path); }
  Status CreateDirs(const std::string& dir) override { return Do(dir, [&] { return sim_->CreateDirs(dir); }); }
  Status SyncDir(const std::string& dir) override { return Do(dir, [&] { return sim_->SyncDir(dir); }); }
  Status Rename(const std::string& from, const std::string& to) override {
    return Do(to, [&] { return sim_->Rename(from, to); });
  }
  Status Remove(const std::string& path) override { return Do(path, [&] { return sim_->Remove(path); }); }
  Status RemoveDir(const std::string& dir) override { return Do(dir, [&] { return sim_->RemoveDir(dir); }); }
  Result<std::unique_ptr<io::FileLock>> LockExclusive(const std::string& path) override {
    std::lock_guard<std::mutex> l(mu_);
    Before();
    auto r = sim_->LockExclusive(path);
    After(path);
    return r;
  }
  Result<uint64_t> AvailableBytes(const std::string& path) override { return sim_->AvailableBytes(path); }

 private:
  template <typename Fn>
  Status Do(const std::string& path, Fn fn) {
    std::lock_guard<std::mutex> l(mu_);
    Before();
    Status s = fn();
    After(path);
    return s;
  }

  io::SimFileSystem* const sim_;
  const Fault fault_;
  const int64_t k_;
  const int sync_delay_ms_;
  bool armed_ = false;
  std::mutex mu_;  // serializes Before/op/After so the fault is attributed to the op it hit
};

Result<uint64_t> AppendAndWait(storage::Appender* appender, const Bytes& payload) {
  std::promise<Result<uint64_t>> done;
  auto future = done.get_future();
  storage::AppendRequest req;
  req.payload = payload;
  Status s = appender->Submit(std::move(req), [&done](Result<uint64_t> r) { done.set_value(std::move(r)); });
  if (!s.ok()) return s;
  return future.get();
}

bool Contains(const Status& s, const char* what) { return s.ToString().find(what) != std::string::npos; }

storage::LogOptions SmallSegments() {
  storage::LogOptions lo;
  lo.max_segment_bytes = 1024;  // a roll (seal + create + preallocate + dir sync) every few records
  return lo;
}
recovery::RecoveryOptions RecoveryFor() {
  recovery::RecoveryOptions ro;
  ro.max_segment_bytes = 1024;
  return ro;
}

int Records() { return ScaledSeeds(48); }

struct Outcome {
  uint64_t mutating_ops = 0;
  bool fired = false;
  uint64_t acked = 0, refused_at_capacity = 0, failed = 0, read_errors = 0, dlq_acked = 0, ckpt_acked = 0;
};

// One run of the workload with `fault` armed before mutating op k (k < 0: the reference run),
// then a power cut and the checks. Non-fatal failures carry the cell in their trace.
Outcome RunOnce(Fault fault, int64_t k) {
  SCOPED_TRACE(std::string("fault ") + Name(fault) + " at op " + std::to_string(k) +
               " (rerun: IRONBUS_FAULT_KIND=" + Name(fault) + " IRONBUS_FAULT_K=" + std::to_string(k) + ")");
  Outcome out;
  ManualClock clock;
  io::SimFileSystem sim;
  EXPECT_TRUE(sim.CreateDirs(kDlqDir).ok());
  sim.SyncAll();
  sim.ResetCounters();
  InjectFs fs(&sim, fault, k);

  Model model;
  std::map<uint64_t, uint64_t> dlq_acked;  // DLQ offset -> source offset, Append + Sync returned Ok
  std::set<uint64_t> dlq_sources;          // every source offset a DLQ append was attempted for
  std::optional<uint64_t> ckpt_acked;      // committed value of the last Ok checkpoint write
  std::set<uint64_t> ckpt_attempted;

  fs.phase = Phase::kOpen;
  auto opened = recovery::OpenDataDir(&fs, kDir, RecoveryFor(), SmallSegments(), &clock);
  if (opened.ok()) {
    storage::Log* log = opened->log.get();
    storage::Log* dlq = opened->dlq_log.get();
    EXPECT_NE(dlq, nullptr) << "dlq/ exists, OpenDataDir must open it";
    fs.phase = Phase::kCkptOpen;
    auto ckpt = storage::CheckpointFile::Open(&fs, kDir, kCkptName, format::kCursorCheckpointCap);
    fs.phase = Phase::kAppend;
    auto appender = storage::Appender::Start(log, &clock);
    EXPECT_TRUE(appender.ok()) << appender.status().ToString();
    bool failed = false;
    bool retry_must_work = false;
    std::optional<uint64_t> last_acked;
    for (int i = 0; appender.ok() && i < Records(); ++i) {
      fs.phase = Phase::kAppend;
      const uint64_t expect = log->next_offset();
      const Bytes payload = ModelPayload(static_cast<uint64_t>(i), expect, 60 + (i * 37) % 200);
      model.appended[expect] = payload;
      auto r = AppendAndWait(appender->get(), payload);
      if (retry_must_work) {
        EXPECT_TRUE(r.ok()) << "the append after a one-shot ENOSPC at preallocate: " << r.status().ToString();
        retry_must_work = false;
      }
      if (r.ok()) {
        EXPECT_FALSE(failed) << "record " << i << " acknowledged after a write/sync failure";
        EXPECT_EQ(*r, expect);
        model.acked.insert(*r);
        last_acked = *r;
        ++out.acked;
      } else if (r.status().IsUnavailable()) {
        EXPECT_TRUE(Contains(r.status(), "capacity")) << r.status().ToString();
        EXPECT_FALSE(log->frozen()) << "at capacity must not freeze the log";
        retry_must_work = fault == Fault::kPreallocateNoSpace;  // the shot is spent: the next create works
        ++out.refused_at_capacity;
      } else {
        EXPECT_TRUE(log->frozen()) << "append failed without freezing: " << r.status().ToString();
        if (failed) {
          EXPECT_TRUE(r.status().IsFailedPrecondition() && Contains(r.status(), "log frozen"))
              << r.status().ToString();
        }
        failed = true;
        ++out.failed;
      }

      // Reads: an EIO returns an error, and the next read works and serves the acked bytes.
      if (last_acked && i % 2 == 1) {
        fs.phase = Phase::kRead;
        auto read = log->Read(*last_acked, 1, 1 << 20);
        if (!read.ok()) {
          ++out.read_errors;
          EXPECT_TRUE(read.status().IsIOError()) << read.status().ToString();
          if (sim.crashed()) continue;  // after a crash every operation fails until the power cut
          read = log->Read(*last_acked, 1, 1 << 20);
        }
        EXPECT_TRUE(read.ok()) << "a read after a failed read: " << read.status().ToString();
        if (read.ok()) {
          EXPECT_EQ(read->records.size(), 1u);
          if (!read->records.empty()) {
            EXPECT_EQ(read->records[0].offset, *last_acked);
            EXPECT_EQ(read->records[0].record.payload, model.appended[*last_acked]);
          }
        }
      }

      // The DLQ move of the last acked record: DLQ Append + Sync, and only when that returned
      // Ok the source cursor commit past it (checkpoint write).
      if (last_acked && dlq != nullptr && i % 4 == 3) {
        fs.phase = Phase::kDlq;
        const uint64_t src = *last_acked;
        auto headers = format::EncodeDlqHeaders(src, 5, AsBytes(kGroup), ByteView());
        EXPECT_TRUE(headers.ok());
        const bool dlq_was_frozen = dlq->frozen();
        dlq_sources.insert(src);
        storage::AppendRecord rec;
        rec.headers = *headers;
        rec.payload = model.appended[src];
        auto at = dlq->Append(rec);
        Status synced = at.ok() ? dlq->Sync() : at.status();
        if (synced.ok()) {
          EXPECT_FALSE(dlq_was_frozen) << "a frozen DLQ log acknowledged a dead letter";
          dlq_acked[*at] = src;
          ++out.dlq_acked;
        } else if (!synced.IsUnavailable()) {
          EXPECT_TRUE(dlq->frozen()) << "DLQ append/sync failed without freezing: " << synced.ToString();
        }
        if (synced.ok() && ckpt.ok()) {
          fs.phase = Phase::kCkpt;
          const uint64_t committed = src + 1;
          ckpt_attempted.insert(committed);
          Status w = (*ckpt)->Write(format::EncodeCursorSnapshot(format::CursorSnapshot{committed, {}}));
          if (w.ok()) {
            ckpt_acked = committed;
            ++out.ckpt_acked;
          } else if (fs.fired && fs.fired_phase == Phase::kCkpt) {
            EXPECT_TRUE(w.IsIOError()) << w.ToString();
          }
        }
      }
    }
    fs.phase = Phase::kStop;
    if (appender.ok()) {
      Status stopped = (*appender)->Stop();
      EXPECT_EQ(stopped.ok(), !log->frozen()) << stopped.ToString();
    }
    // A failed sync or dir-sync at a writer's sync site froze that writer (never retried).
    if (fs.fired && IsSyncFault(fault) && fault != Fault::kCrash) {
      if (fs.fired_phase == Phase::kAppend) {
        EXPECT_TRUE(log->frozen()) << "a failed sync on " << fs.fired_path << " left the log writable";
      }
      if (fs.fired_phase == Phase::kDlq) {
        EXPECT_TRUE(dlq->frozen()) << "a failed sync on " << fs.fired_path << " left the DLQ log writable";
      }
    }
    if (fs.fired && fault == Fault::kPreallocateNoSpace && fs.fired_phase == Phase::kAppend) {
      EXPECT_FALSE(log->frozen()) << "ENOSPC at preallocate froze the log (it is 'at capacity')";
      EXPECT_GE(out.refused_at_capacity, 1u);
    }
    if (fault == Fault::kReadEio && fs.fired && fs.fired_phase == Phase::kRead) {
      EXPECT_FALSE(log->frozen()) << "a read error froze the writer";
    }
    if (dlq != nullptr) (void)dlq->Close();
  } else {
    EXPECT_TRUE(fault != Fault::kNone) << "the reference run failed to open: " << opened.status().ToString();
  }
  out.mutating_ops = sim.counters().mutating_ops;
  out.fired = fs.fired;
  opened = Status::Internal("closed");  // drop handles and the lock before the cut

  const uint64_t seed = static_cast<uint64_t>(k < 0 ? 0 : k) * 16 + static_cast<uint64_t>(fault);
  const io::PowerCutMode modes[] = {io::PowerCutMode::kRandom, io::PowerCutMode::kDropAll, io::PowerCutMode::kRandom,
                                    io::PowerCutMode::kKeepAll};
  sim.PowerCut(seed, modes[(seed / 16 + seed) % 4]);

  auto reopened = recovery::OpenDataDir(&sim, kDir, RecoveryFor(), SmallSegments(), &clock);
  EXPECT_TRUE(reopened.ok()) << "reopen after the power cut: " << reopened.status().ToString();
  if (!reopened.ok()) return out;
  EXPECT_FALSE(reopened->log->frozen());
  CheckRecoveredLog(*reopened->log, reopened->report, model, seed);

  // Every acknowledged dead letter survived, at its offset, naming its source.
  std::set<uint64_t> dlq_present_sources;
  if (reopened->dlq_log != nullptr) {
    const storage::Log& d = *reopened->dlq_log;
    uint64_t at = d.first_offset();
    while (at < d.readable_offset()) {
      auto batch = d.Read(at, 512, 8ull << 20);
      EXPECT_TRUE(batch.ok()) << batch.status().ToString();
      if (!batch.ok()) break;
      for (const auto& r : batch->records) {
        auto h = format::DecodeDlqHeaders(r.record.headers);
        EXPECT_TRUE(h.has_value()) << "DLQ record at " << r.offset << " has no DLQ header";
        if (!h) continue;
        EXPECT_TRUE(dlq_sources.count(h->source_offset)) << "phantom dead letter for source " << h->source_offset;
        dlq_present_sources.insert(h->source_offset);
        auto it = dlq_acked.find(r.offset);
        if (it != dlq_acked.end()) {
          EXPECT_EQ(h->source_offset, it->second);
        }
      }
      if (batch->next_offset <= at) break;
      at = batch->next_offset;
    }
  } else {
    EXPECT_TRUE(dlq_acked.empty()) << "the DLQ directory vanished";
  }
  for (const auto& [off, src] : dlq_acked) {
    EXPECT_TRUE(dlq_present_sources.count(src)) << "acknowledged dead letter (DLQ offset " << off << ", source "
                                                  << src << ") lost";
  }

  // The checkpoint: never older than the last acknowledged write, never invented, and never
  // past a dead letter that is not durable (the move commits the cursor only after the DLQ sync).
  auto ck = storage::CheckpointFile::Open(&sim, kDir, kCkptName, format::kCursorCheckpointCap,
                                          storage::CheckpointFile::Mode::kOpenExisting);
  if (ckpt_acked) {
    EXPECT_TRUE(ck.ok()) << "acknowledged checkpoint file lost: " << ck.status().ToString();
  }
  if (ck.ok() && (*ck)->value()) {
    const uint64_t committed = format::DecodeCursorSnapshot((*ck)->value()->payload).committed;
    EXPECT_TRUE(ckpt_attempted.count(committed)) << "invented checkpoint value " << committed;
    if (ckpt_acked) {
      EXPECT_GE(committed, *ckpt_acked) << "acknowledged checkpoint lost";
    }
    EXPECT_TRUE(dlq_present_sources.count(committed - 1))
        << "cursor committed past source " << committed - 1 << " whose dead letter is not durable";
  } else {
    EXPECT_FALSE(ckpt_acked.has_value()) << "acknowledged checkpoint value lost";
  }
  return out;
}

TEST(FaultInjection, EveryFaultKindAtEveryMutatingOp) {
  const Outcome ref = RunOnce(Fault::kNone, -1);
  ASSERT_FALSE(::testing::Test::HasFailure()) << "the reference run must pass";
  ASSERT_EQ(ref.acked, static_cast<uint64_t>(Records()));
  ASSERT_GT(ref.dlq_acked, 0u);
  ASSERT_GT(ref.ckpt_acked, 0u);
  const uint64_t ops = ref.mutating_ops;

  std::vector<Fault> kinds(std::begin(kAllFaults), std::end(kAllFaults));
  int64_t only_k = -1;
  if (const char* s = std::getenv("IRONBUS_FAULT_KIND")) {
    kinds.clear();
    for (Fault f : kAllFaults) {
      if (std::string(s) == Name(f)) kinds.push_back(f);
    }
  }
  if (const char* s = std::getenv("IRONBUS_FAULT_K")) only_k = std::atoll(s);

  std::map<Fault, uint64_t> fired, frozen_runs;
  uint64_t cells = 0, acked = 0, refused = 0, failed = 0, read_errors = 0;
  const auto start = std::chrono::steady_clock::now();
  for (uint64_t k = 0; k < ops; ++k) {
    if (only_k >= 0 && static_cast<int64_t>(k) != only_k) continue;
    for (Fault f : kinds) {
      const Outcome o = RunOnce(f, static_cast<int64_t>(k));
      ++cells;
      fired[f] += o.fired ? 1 : 0;
      frozen_runs[f] += o.failed > 0 ? 1 : 0;
      acked += o.acked;
      refused += o.refused_at_capacity;
      failed += o.failed;
      read_errors += o.read_errors;
      if (::testing::Test::HasFatalFailure()) return;
    }
    if (::testing::Test::HasFailure()) break;  // the first failing op index is enough to debug
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("fault injection sweep: %llu mutating ops x %zu fault kinds = %llu runs in %.1f s (%d records each)\n",
              static_cast<unsigned long long>(ops), kinds.size(), static_cast<unsigned long long>(cells), secs,
              Records());
  std::printf("  acked %llu, refused at capacity %llu, failed appends %llu, read errors %llu\n",
              static_cast<unsigned long long>(acked), static_cast<unsigned long long>(refused),
              static_cast<unsigned long long>(failed), static_cast<unsigned long long>(read_errors));
  for (Fault f : kinds) {
    std::printf("  %-20s fired in %llu runs, froze the main log in %llu\n", Name(f),
                static_cast<unsigned long long>(fired[f]), static_cast<unsigned long long>(frozen_runs[f]));
  }
}

// A slow disk: every fdatasync takes 200 ms. Producers are bounded by the appender queue:
// TrySubmit sheds with Unavailable when it is full, Submit blocks, the queue never exceeds
// its capacity, and every accepted request is acknowledged Ok, in offset order.
TEST(FaultInjection, SlowDiskKeepsProducersBoundedAndAcksInOrder) {
  SystemClock clock;
  io::SimFileSystem sim;
  ASSERT_TRUE(sim.CreateDirs(kDir).ok());
  sim.SyncAll();
  InjectFs fs(&sim, Fault::kNone, -1, /*sync_delay_ms=*/200);
  recovery::RecoveryOptions ro;
  storage::LogOptions lo;
  auto opened = recovery::OpenDataDir(&fs, kDir, ro, lo, &clock);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  storage::AppenderOptions ao;
  ao.queue_capacity = 16;
  auto appender = storage::Appender::Start(opened->log.get(), &clock, ao);
  ASSERT_TRUE(appender.ok());

  std::mutex mu;
  std::vector<uint64_t> order;  // offsets in completion order
  uint64_t errors = 0;
  auto done = [&](Result<uint64_t> r) {
    std::lock_guard<std::mutex> l(mu);
    if (r.ok()) {
      order.push_back(*r);
    } else {
      ++errors;
    }
  };
  std::atomic<bool> stop_watch{false};
  std::atomic<size_t> max_queued{0};
  std::thread watch([&] {
    while (!stop_watch.load()) {
      const size_t q = (*appender)->queued();
      if (q > max_queued.load()) max_queued.store(q);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  constexpr int kProducers = 4, kPerProducer = 20;
  std::atomic<uint64_t> shed{0}, accepted{0};
  std::vector<std::thread> producers;
  const auto start = std::chrono::steady_clock::now();
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      for (int i = 0; i < kPerProducer; ++i) {
        storage::AppendRequest req;
        req.payload = ModelPayload(static_cast<uint64_t>(p), static_cast<uint64_t>(i), 100);
        if (p % 2 == 0) {
          // Load shedding at the edge: retry a shed request after a short pause.
          for (;;) {
            storage::AppendRequest copy = req;
            Status s = (*appender)->TrySubmit(std::move(copy), done);
            if (s.ok()) break;
            EXPECT_TRUE(s.IsUnavailable()) << s.ToString();
            ++shed;
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
          }
        } else {
          ASSERT_TRUE((*appender)->Submit(std::move(req), done).ok());  // blocks while full
        }
        ++accepted;
      }
    });
  }
  for (auto& t : producers) t.join();
  ASSERT_TRUE((*appender)->Stop().ok());
  stop_watch = true;
  watch.join();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  EXPECT_EQ(errors, 0u);
  ASSERT_EQ(order.size(), static_cast<size_t>(kProducers * kPerProducer));
  for (size_t i = 0; i < order.size(); ++i) EXPECT_EQ(order[i], i) << "acked out of offset order";
  EXPECT_LE(max_queued.load(), ao.queue_capacity) << "the appender queue exceeded its bound";
  EXPECT_GT(shed.load(), 0u) << "TrySubmit never shed under a 200 ms fdatasync";
  const auto stats = (*appender)->stats();
  EXPECT_LE(stats.max_batch, ao.queue_capacity);
  std::printf("slow disk: %d records, 200 ms per sync, %llu syncs, max batch %llu, max queued %zu (cap %zu), "
              "%llu TrySubmit sheds, %.1f s\n",
              kProducers * kPerProducer, static_cast<unsigned long long>(stats.syncs),
              static_cast<unsigned long long>(stats.max_batch), max_queued.load(), ao.queue_capacity,
              static_cast<unsigned long long>(shed.load()), secs);
}

}  // namespace
}  // namespace ironbus::crash
