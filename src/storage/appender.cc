#include "storage/appender.h"

#include <algorithm>
#include <chrono>
#include <utility>
#include <vector>

#include "base/crash_point.h"

namespace ironbus::storage {
namespace {

// Longest idle sleep while an interval window is open. The deadline itself comes from the
// injected clock; the cap only bounds how late a jump of a test's ManualClock is noticed.
constexpr int64_t kMaxIdleWaitMs = 50;

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
  std::vector<Result<uint64_t>> results;
  results.reserve(batch->size());
  bool appended_any = false;
  Status at_capacity;  // ok until a create was refused at capacity in this batch
  for (Pending& p : *batch) {
    if (!at_capacity.ok()) {
      // The disk just said it is full: shed the rest of the batch instead of trying (and
      // removing) a new segment per request. The next batch tries again.
      results.push_back(at_capacity);
      continue;
    }
    AppendRecord rec;
    rec.key = p.request.key;
    rec.headers = p.request.headers;
    rec.payload = p.request.payload;
    rec.flags = p.request.flags;
    rec.timestamp_ms = p.request.timestamp_ms;
    Result<uint64_t> r = log_->Append(rec);
    if (r.ok()) appended_any = true;
    if (r.status().IsUnavailable()) at_capacity = r.status();
    results.push_back(std::move(r));
  }

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
  uint64_t appended_bytes = 0;
  for (size_t j = 0; j < results.size(); ++j) {
    if (!results[j].ok()) {
      refused += 1;
      continue;
    }
    appended += 1;
    const AppendRequest& req = (*batch)[j].request;
    appended_bytes += req.key.size() + req.headers.size() + req.payload.size();
  }
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    if (appended_any) stats_.batches += 1;
    stats_.records += appended;
    stats_.record_bytes += appended_bytes;
    stats_.refused += refused;
    stats_.syncs += synced ? 1 : 0;
    if (synced) RecordSyncLocked(sync_ns);
    stats_.max_batch = std::max<uint64_t>(stats_.max_batch, batch->size());
  }

  size_t i = 0;
  for (Pending& p : *batch) {
    if (p.done) p.done(std::move(results[i]));
    ++i;
  }

  if (appended > 0 && options_.retention_floor) {
    // Retention failures do not endanger acknowledged data; the next batch tries again.
    (void)log_->ApplyRetention(options_.retention_floor());
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
