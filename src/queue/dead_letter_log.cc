#include "queue/dead_letter_log.h"

#include <utility>

#include <xxhash.h>

#include "base/crash_point.h"
#include "format/dlq_header.h"
#include "format/record_format.h"
#include "format/segment_name.h"
#include "recovery/recover.h"

namespace ironbus::queue {
namespace {

constexpr size_t kRebuildBatchRecords = 256;
constexpr uint64_t kRebuildBatchBytes = 4ull << 20;

}  // namespace

uint64_t DeadLetterLog::Fingerprint(uint64_t timestamp_ms, ByteView key, ByteView original_headers) {
  Bytes buf;
  buf.reserve(12 + key.size() + original_headers.size());
  PutFixed64(&buf, timestamp_ms);
  PutFixed32(&buf, static_cast<uint32_t>(key.size()));
  PutBytes(&buf, key);
  PutBytes(&buf, original_headers);
  return XXH3_64bits(buf.data(), buf.size());
}

DeadLetterLog::DeadLetterLog(io::FileSystem* fs, std::string data_dir, storage::LogOptions options, Clock* clock)
    : fs_(fs), data_dir_(std::move(data_dir)), options_(std::move(options)), clock_(clock) {}

DeadLetterLog::~DeadLetterLog() = default;

Result<std::unique_ptr<DeadLetterLog>> DeadLetterLog::Open(io::FileSystem* fs, std::string data_dir,
                                                           std::unique_ptr<storage::Log> existing,
                                                           storage::LogOptions options, Clock* clock) {
  std::unique_ptr<DeadLetterLog> d(new DeadLetterLog(fs, std::move(data_dir), std::move(options), clock));
  std::lock_guard<std::mutex> lock(d->mu_);
  d->log_ = std::move(existing);
  if (d->log_ != nullptr) RETURN_IF_ERROR(d->Rebuild());
  return d;
}

Status DeadLetterLog::Rebuild() {
  // Every record is read once: the set must be exact (a lower offset may have been
  // dead-lettered after a higher one), so no high-water shortcut is possible.
  uint64_t at = log_->first_offset();
  const uint64_t head = log_->readable_offset();
  while (at < head) {
    auto batch = log_->Read(at, kRebuildBatchRecords, kRebuildBatchBytes);
    if (!batch.ok()) return batch.status().WithContext("reading the dead-letter log at offset " + std::to_string(at));
    for (const storage::LogRecord& r : batch->records) {
      std::optional<format::DlqHeader> h = format::DecodeDlqHeaders(r.record.headers);
      if (!h) {
        // Unknown magic or a length that does not add up: not a DLQ record. Skipped, never
        // misread as one (spec 8.3).
        ++foreign_;
        continue;
      }
      held_[std::string(AsChars(h->group))][h->source_offset] =
          Fingerprint(r.record.timestamp_ms, r.record.key, h->original_headers);
      ++records_;
    }
    if (batch->next_offset <= at) break;  // defensive: Read always moves forward
    at = batch->next_offset;
  }
  return Status::Ok();
}

Status DeadLetterLog::EnsureCreated() {
  if (log_ != nullptr) return Status::Ok();
  const std::string dir = io::JoinPath(data_dir_, format::kDlqDirName);
  RETURN_IF_ERROR(fs_->CreateDirs(dir).WithContext("creating " + dir));
  // The new directory's name must survive a power cut before anything in it counts as durable.
  RETURN_IF_ERROR(fs_->SyncDir(data_dir_).WithContext("syncing " + data_dir_));
  recovery::RecoveryOptions ro;
  ro.mode = recovery::Mode::kApply;
  ro.max_segment_bytes = options_.max_segment_bytes;
  ro.keys = options_.keys;  // the DLQ log is encrypted under the main log's active key
  ASSIGN_OR_RETURN(recovery::Recovered rec, recovery::Recover(fs_, dir, ro));
  ASSIGN_OR_RETURN(log_, storage::Log::Open(fs_, std::move(rec.state), options_, clock_));
  // A dlq/ left half-made by an earlier crash may hold records already: count them in.
  return Rebuild();
}

bool DeadLetterLog::Contains(std::string_view group, uint64_t source_offset, const format::Record& source) const {
  uint64_t held_fp = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = held_.find(group);
    if (it == held_.end()) return false;
    auto e = it->second.find(source_offset);
    if (e == it->second.end()) return false;
    held_fp = e->second;
  }
  // Every delivery asks, and almost never for a held offset: hash only when the offset is held.
  return held_fp == Fingerprint(source.timestamp_ms, source.key, source.headers);
}

bool DeadLetterLog::Contains(std::string_view group, uint64_t source_offset) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = held_.find(group);
  return it != held_.end() && it->second.count(source_offset) > 0;
}

Status DeadLetterLog::Append(std::string_view group, uint64_t source_offset, uint32_t attempt,
                             const format::Record& source) {
  const uint64_t fp = Fingerprint(source.timestamp_ms, source.key, source.headers);
  std::lock_guard<std::mutex> lock(mu_);
  auto held = [&] {
    auto it = held_.find(group);
    if (it == held_.end()) return false;
    auto e = it->second.find(source_offset);
    return e != it->second.end() && e->second == fp;
  };
  if (held()) return Status::Ok();
  RETURN_IF_ERROR(EnsureCreated());
  if (held()) return Status::Ok();
  ASSIGN_OR_RETURN(Bytes headers, format::EncodeDlqHeaders(source_offset, attempt, AsBytes(group), source.headers));
  storage::AppendRecord rec;
  rec.key = source.key;
  rec.headers = headers;
  rec.payload = source.payload;
  rec.flags = source.flags & format::kFlagCompressed;  // HAS_KEY is re-derived from the key
  rec.timestamp_ms = static_cast<int64_t>(source.timestamp_ms);
  RETURN_IF_ERROR(log_->Append(rec).status().WithContext("dead-letter append"));
  // Written, not synced (kill -9 keeps the page cache): the restart may find the record, and
  // must then never append the same (group, source_offset) again.
  CRASH_POINT("dlq.after_append_before_sync");
  RETURN_IF_ERROR(log_->Sync().WithContext("dead-letter fdatasync"));
  CRASH_POINT("dlq.after_sync");
  held_[std::string(group)][source_offset] = fp;  // replaces a stale pair, if any
  ++records_;
  return Status::Ok();
}

void DeadLetterLog::PruneBelow(std::string_view group, uint64_t watermark) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = held_.find(group);
  if (it == held_.end()) return;
  it->second.erase(it->second.begin(), it->second.lower_bound(watermark));
}

std::set<uint64_t> DeadLetterLog::HeldOffsets(std::string_view group) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::set<uint64_t> out;
  auto it = held_.find(group);
  if (it != held_.end()) {
    for (const auto& [offset, fp] : it->second) out.insert(offset);
  }
  return out;
}

uint64_t DeadLetterLog::record_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return records_;
}

uint64_t DeadLetterLog::foreign_records() const {
  std::lock_guard<std::mutex> lock(mu_);
  return foreign_;
}

bool DeadLetterLog::exists() const {
  std::lock_guard<std::mutex> lock(mu_);
  return log_ != nullptr;
}

Status DeadLetterLog::Close() {
  std::lock_guard<std::mutex> lock(mu_);
  if (log_ == nullptr || closed_) return Status::Ok();
  closed_ = true;
  return log_->Close();
}

}  // namespace ironbus::queue
