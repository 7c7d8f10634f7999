#include "storage/appender.h"

#include <algorithm>
#include <chrono>
#include <utility>
#include <vector>

#include "base/crash_point.h"
#include "base/log.h"

namespace ironbus::storage {
namespace {

// Longest idle sleep while an interval window is open. The deadline itself comes from the
// injected clock; the cap only bounds how late a jump of a test's ManualClock is noticed.
constexpr int64_t kMaxIdleWaitMs = 50;

// How often a publish held under disk_full_policy block retries (MakeRoom, then the append).
// Room frees when consumers commit, which the appender is not told about: polling keeps the
// two decoupled, and 20 retries a second cost nothing next to a full disk.
constexpr int64_t kBlockPollMs = 50;

}  // namespace

Appender::Appender(Log* log, Clock* clock, AppenderOptions options)
    : log_(log), clock_(clock), options_(std::move(options)) {}

Result<std::unique_ptr<Appender>> Appender::Start(Log* log, Clock* clock, AppenderOptions options) {
  if (options.queue_capacity == 0) return Status::InvalidArgument("appender queue_capacity must be above 0");
  std::unique_ptr<Appender> a(new Appender(log, clock, std::move(options)));
  a->thread_ = std::thread([p = a.get()] { p->Run(); });
  return a;
}

Appender::~Appender() { (void)Stop(); }

Status Appender::Submit(AppendRequest request, Completion done) {
  return Enqueue(std::move(request), std::move(done), /*block=*/true);
}

Status Appender::TrySubmit(AppendRequest request, Completion done) {
  return Enqueue(std::move(request), std::move(done), /*block=*/false);
}

Status Appender::Enqueue(AppendRequest&& request, Completion&& done, bool block) {
  // Checked before queue_mu_ is taken: queue_mu_ stays a leaf lock.
  Status frozen = log_->frozen_status();
  if (!frozen.ok()) return frozen;
  {
    std::unique_lock<std::mutex> lock(queue_mu_);
    if (stopping_) return Status::FailedPrecondition("appender stopped");
    if (queue_.size() >= options_.queue_capacity) {
      if (!block) return Status::Unavailable("append queue full");
      not_full_.wait(lock, [&] { return queue_.size() < options_.queue_capacity || stopping_; });
      if (stopping_) return Status::FailedPrecondition("appender stopped");
    }
    queue_.push_back(Pending{std::move(request), std::move(done)});
  }
  not_empty_.notify_one();
  return Status::Ok();
}

int64_t Appender::IdleWaitMs() const {
  if (log_->options().durability != Durability::kInterval || first_unsynced_ns_ < 0) return -1;
  const int64_t interval_ms = log_->options().flush_interval_ms;
  if (interval_ms == 0) return -1;  // byte trigger only: checked after each batch
  const int64_t elapsed_ms = (clock_->MonotonicNanos() - first_unsynced_ns_) / 1'000'000;
  return std::clamp<int64_t>(interval_ms - elapsed_ms, 0, kMaxIdleWaitMs);
}

void Appender::Run() {
  std::deque<Pending> batch;
  while (true) {
    {
      std::unique_lock<std::mutex> lock(queue_mu_);
      if (queue_.empty() && !stopping_) {
        const int64_t wait_ms = IdleWaitMs();
        if (wait_ms < 0) {
          not_empty_.wait(lock, [&] { return !queue_.empty() || stopping_; });
        } else if (wait_ms > 0) {
          not_empty_.wait_for(lock, std::chrono::milliseconds(wait_ms),
                              [&] { return !queue_.empty() || stopping_; });
        }
      }
      if (queue_.empty() && stopping_) break;
      batch.swap(queue_);
    }
    if (!batch.empty()) {
      not_full_.notify_all();
      ProcessBatch(&batch);
      batch.clear();
    }
    MaybeIntervalSync();
  }
  // Clean stop: the barrier of every level. A failure here freezes the log like any other.
  if (!log_->frozen()) {
    final_sync_ = log_->Sync();
    std::lock_guard<std::mutex> lock(queue_mu_);
    stats_.syncs += 1;
  }
}

void Appender::ProcessBatch(std::deque<Pending>* batch) {
  // Under kBlock a request that meets the cap is held: what came before it is committed and
  // acknowledged first, then the appender waits for room (consumers committing, retention),
  // retrying every kBlockPollMs, at most block_timeout_ms; after that the held request and
  // the rest of the batch are refused as under drop-new. Every other policy never waits.
  bool may_block = log_->capacity().policy == DiskFullPolicy::kBlock;
  int64_t hold_started_ns = -1;
  size_t begin = 0;
  while (begin < batch->size()) {
    std::vector<Result<uint64_t>> results;
    const size_t end = AppendRun(*batch, begin, may_block, &results);
    if (end > begin) {
      if (hold_started_ns >= 0) {  // the held request went in: the hold is over (counted
        // before its completion runs, so whoever sees the ack also sees the count)
        RecordHold(clock_->MonotonicNanos() - hold_started_ns, /*timed_out=*/false);
        hold_started_ns = -1;
      }
      CommitAndComplete(batch, begin, std::move(results));
    }
    begin = end;
    if (begin == batch->size()) break;
    if (hold_started_ns < 0) hold_started_ns = clock_->MonotonicNanos();
    const int64_t timeout_ns = log_->capacity().block_timeout_ms * 1'000'000;
    if (!WaitForRoom(hold_started_ns + timeout_ns)) {
      RecordHold(clock_->MonotonicNanos() - hold_started_ns, /*timed_out=*/true);
      hold_started_ns = -1;
      may_block = false;  // timed out or stopping: refuse the rest of this batch
    }
  }
}

size_t Appender::AppendRun(std::deque<Pending>& batch, size_t begin, bool may_block,
                           std::vector<Result<uint64_t>>* results) {
  Status at_capacity;  // ok until the log stayed at capacity after MakeRoom in this run
  for (size_t i = begin; i < batch.size(); ++i) {
    if (!at_capacity.ok()) {
      // The log is full and nothing could be freed: shed the rest of the batch instead of
      // retrying (and, at ENOSPC, creating and removing a segment) per request.
      results->push_back(at_capacity);
      continue;
    }
    const AppendRequest& req = batch[i].request;
    AppendRecord rec;
    rec.key = req.key;
    rec.headers = req.headers;
    rec.payload = req.payload;
    rec.flags = req.flags;
    rec.timestamp_ms = req.timestamp_ms;
    Result<uint64_t> r = log_->Append(rec);
    if (r.status().IsUnavailable()) {
      // At the byte cap, under the free-disk watermark or out of space: free what the policy
      // allows, then try once more.
      if (ReapAtCapacity()) r = log_->Append(rec);
      if (r.status().IsUnavailable()) {
        if (may_block) return i;  // held: the caller commits [begin, i) and waits
        at_capacity = r.status();
        static logging::RateLimit limit;
        if (uint64_t suppressed = 0; limit.Allow(&suppressed)) {
          logging::Warn("produce.at_capacity",
                        {{"policy", DiskFullPolicyName(log_->capacity().policy)},
                         {"reason", r.status().message()},
                         {"refused_in_batch", static_cast<uint64_t>(batch.size() - i)},
                         {"suppressed", suppressed}});
        }
      }
    }
    results->push_back(std::move(r));
  }
  return batch.size();
}

bool Appender::ReapAtCapacity() {
  const uint64_t floor = options_.retention_floor ? options_.retention_floor() : 0;
  Result<RetentionResult> reaped = log_->MakeRoom(floor);
  if (!reaped.ok()) return false;  // the append is refused; the next one tries again
  std::lock_guard<std::mutex> lock(queue_mu_);
  stats_.segments_reaped += reaped->segments_deleted;
  stats_.segments_force_reaped += reaped->force_reaped_segments;
  stats_.records_force_reaped += reaped->force_reaped_records;
  if (reaped->force_reaped_segments > 0) {
    logging::Warn("retention.force_reaped", {{"policy", "drop-oldest"},
                                             {"segments", reaped->force_reaped_segments},
                                             {"records", reaped->force_reaped_records},
                                             {"first_offset", log_->first_offset()},
                                             {"msg", "unconsumed records deleted at capacity; groups behind get a truncation"}});
  }
  if (reaped->segments_deleted > reaped->force_reaped_segments) {
    logging::Info("retention.reaped", {{"trigger", "capacity"},
                                       {"segments", reaped->segments_deleted - reaped->force_reaped_segments},
                                       {"first_offset", log_->first_offset()}});
  }
  return reaped->segments_deleted > 0;
}

bool Appender::WaitForRoom(int64_t deadline_ns) {
  std::unique_lock<std::mutex> lock(queue_mu_);
  stats_.holding = true;
  const int64_t left_ms = (deadline_ns - clock_->MonotonicNanos()) / 1'000'000;
  const int64_t wait_ms = std::clamp<int64_t>(left_ms, 0, kBlockPollMs);
  if (wait_ms > 0) not_empty_.wait_for(lock, std::chrono::milliseconds(wait_ms), [&] { return stopping_; });
  stats_.holding = false;
  return !stopping_ && clock_->MonotonicNanos() < deadline_ns;
}

void Appender::RecordHold(int64_t held_ns, bool timed_out) {
  if (timed_out) {
    logging::Warn("produce.hold_timeout", {{"policy", "block"},
                                           {"held_ms", held_ns / 1'000'000},
                                           {"msg", "publish refused at capacity after block_timeout_ms"}});
  }
  std::lock_guard<std::mutex> lock(queue_mu_);
  stats_.holds += 1;
  stats_.hold_timeouts += timed_out ? 1 : 0;
  stats_.held_nanos += held_ns > 0 ? static_cast<uint64_t>(held_ns) : 0;
}

void Appender::CommitAndComplete(std::deque<Pending>* batch, size_t begin, std::vector<Result<uint64_t>> results) {
  bool appended_any = false;
  for (const Result<uint64_t>& r : results) appended_any = appended_any || r.ok();

  const Durability level = log_->options().durability;
  Status commit = Status::Ok();
  bool synced = false;
  int64_t sync_ns = 0;
  if (appended_any) {
    // One WriteAt for the batch (Flush), then under kSync one fdatasync for all of it.
    commit = log_->Flush();
    CRASH_POINT("appender.after_write_before_sync");
    if (commit.ok() && level == Durability::kSync) {
      const int64_t sync_start_ns = clock_->MonotonicNanos();
      commit = log_->Sync();
      sync_ns = clock_->MonotonicNanos() - sync_start_ns;
      synced = true;
    }
    if (commit.ok()) CRASH_POINT("appender.after_sync_before_ack");
    if (commit.ok() && level == Durability::kInterval && first_unsynced_ns_ < 0) {
      first_unsynced_ns_ = clock_->MonotonicNanos();
    }
  }
  // A failed commit (or a freeze inside some Append) means no record of this batch may be
  // acknowledged: their bytes are in an unknown state. Each gets the error instead.
  if (!commit.ok() || log_->frozen()) {
    const Status err = commit.ok() ? log_->frozen_status() : commit;
    for (Result<uint64_t>& r : results) {
      if (r.ok()) r = err;
    }
  }

  uint64_t appended = 0;
  uint64_t refused = 0;
  uint64_t at_capacity = 0;
  uint64_t appended_bytes = 0;
  for (size_t j = 0; j < results.size(); ++j) {
    if (!results[j].ok()) {
      refused += 1;
      at_capacity += results[j].status().IsUnavailable() ? 1 : 0;
      continue;
    }
    appended += 1;
    const AppendRequest& req = (*batch)[begin + j].request;
    appended_bytes += req.key.size() + req.headers.size() + req.payload.size();
  }
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    if (appended_any) stats_.batches += 1;
    stats_.records += appended;
    stats_.record_bytes += appended_bytes;
    stats_.refused += refused;
    stats_.refused_at_capacity += at_capacity;
    stats_.syncs += synced ? 1 : 0;
    if (synced) RecordSyncLocked(sync_ns);
    stats_.max_batch = std::max<uint64_t>(stats_.max_batch, results.size());
  }

  for (size_t j = 0; j < results.size(); ++j) {
    Pending& p = (*batch)[begin + j];
    if (p.done) p.done(std::move(results[j]));
  }

  if (appended > 0 && options_.retention_floor) {
    // Retention failures do not endanger acknowledged data; the next batch tries again.
    Result<RetentionResult> reaped = log_->ApplyRetention(options_.retention_floor());
    if (reaped.ok() && reaped->segments_deleted > 0) {
      {
        std::lock_guard<std::mutex> lock(queue_mu_);
        stats_.segments_reaped += reaped->segments_deleted;
      }
      logging::Info("retention.reaped", {{"trigger", "retention"},
                                         {"segments", reaped->segments_deleted},
                                         {"records", reaped->records_deleted},
                                         {"bytes", reaped->bytes_deleted},
                                         {"first_offset", log_->first_offset()}});
    }
  }
  if (appended > 0 && options_.on_appended) options_.on_appended();
}

void Appender::MaybeIntervalSync() {
  if (log_->options().durability != Durability::kInterval || first_unsynced_ns_ < 0) return;
  const LogOptions& o = log_->options();
  const bool by_bytes = o.flush_max_bytes != 0 && log_->unsynced_bytes() >= o.flush_max_bytes;
  const bool by_time =
      o.flush_interval_ms != 0 && clock_->MonotonicNanos() - first_unsynced_ns_ >= o.flush_interval_ms * 1'000'000;
  if (!by_bytes && !by_time) return;
  // A failure freezes the log (inside Sync); later requests see it.
  const int64_t sync_start_ns = clock_->MonotonicNanos();
  (void)log_->Sync();
  const int64_t sync_ns = clock_->MonotonicNanos() - sync_start_ns;
  first_unsynced_ns_ = -1;
  std::lock_guard<std::mutex> lock(queue_mu_);
  stats_.syncs += 1;
  RecordSyncLocked(sync_ns);
}

void Appender::RecordSyncLocked(int64_t sync_ns) {
  const uint64_t ns = sync_ns > 0 ? static_cast<uint64_t>(sync_ns) : 0;
  size_t i = 0;
  while (i < kSyncBucketBoundsNs.size() && ns > kSyncBucketBoundsNs[i]) ++i;
  stats_.sync_buckets[i] += 1;
  stats_.sync_nanos += ns;
}

Status Appender::Stop() {
  std::lock_guard<std::mutex> stop_lock(stop_mu_);
  if (joined_) return stop_status_;
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    stopping_ = true;
  }
  not_empty_.notify_all();
  not_full_.notify_all();
  if (thread_.joinable()) thread_.join();
  joined_ = true;
  stop_status_ = log_->frozen() ? log_->frozen_status() : final_sync_;
  return stop_status_;
}

AppenderStats Appender::stats() const {
  std::lock_guard<std::mutex> lock(queue_mu_);
  return stats_;
}

size_t Appender::queued() const {
  std::lock_guard<std::mutex> lock(queue_mu_);
  return queue_.size();
}

}  // namespace ironbus::storage
