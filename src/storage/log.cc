// storage::Log, writer side: open, append, roll, sync, freeze, retention.
// The reader side (Read and the accessors) is in log_read.cc.
#include "storage/log.h"

#include <algorithm>
#include <limits>
#include <string>
#include <tuple>
#include <utility>

#include "base/crash_point.h"
#include "base/log.h"
#include "format/compression.h"
#include "format/record_format.h"
#include "format/segment_name.h"

namespace ironbus::storage {
namespace {

// The free-disk watermark re-reads statvfs after this many appended bytes (or a quarter of the
// watermark, when that is smaller), so the check costs one syscall per MiB, not per record.
constexpr uint64_t kDiskCheckEveryBytes = 1 << 20;

std::string SegmentPath(const std::string& dir, uint64_t id) {
  return io::JoinPath(dir, format::SegmentFileName(id));
}

// The description recovery handed over must be one we can append to without breaking the
// chain; anything else is a bug upstream, refused rather than written on.
Status CheckState(const LogState& state) {
  if (state.dir.empty()) return Status::InvalidArgument("LogState.dir is empty");
  for (size_t i = 0; i < state.segments.size(); ++i) {
    const SegmentState& s = state.segments[i];
    if (s.end_offset < s.base_offset) return Status::InvalidArgument("segment end_offset below base_offset");
    if (!s.unreadable && s.valid_end < format::kSegmentHeaderSize) {
      return Status::InvalidArgument("segment valid_end below the header");
    }
    if (i > 0) {
      const SegmentState& prev = state.segments[i - 1];
      if (s.id <= prev.id) return Status::InvalidArgument("segment ids not ascending");
      if (s.base_offset != prev.end_offset) return Status::InvalidArgument("segment chain has a gap or overlap");
      if (!prev.sealed && !prev.unreadable) return Status::InvalidArgument("unsealed segment before the last");
    }
  }
  if (!state.segments.empty()) {
    const SegmentState& last = state.segments.back();
    if (state.next_offset != last.end_offset) {
      return Status::InvalidArgument("next_offset does not continue the last segment");
    }
    // offset = base_offset + (seq - base_seq) holds across the whole chain.
    if (state.next_seq != last.base_seq + (last.end_offset - last.base_offset)) {
      return Status::InvalidArgument("next_seq does not continue the last segment");
    }
    if (state.needs_new_active_segment && !last.sealed && !last.unreadable) {
      return Status::InvalidArgument("a new active segment was requested after an unsealed one");
    }
  }
  return Status::Ok();
}

// The suite and key id new segments get from the options: none without an active key.
std::pair<uint8_t, uint64_t> NewSegmentEncryption(const LogOptions& options) {
  if (options.keys == nullptr || !options.keys->has_active()) return {format::kAeadSuiteNone, format::kNoKeyId};
  return {static_cast<uint8_t>(options.keys->suite()), options.keys->active_id()};
}

}  // namespace

Log::Log(io::FileSystem* fs, std::string dir, const LogOptions& options, Clock* clock)
    : fs_(fs),
      dir_(std::move(dir)),
      options_(options),
      clock_(clock),
      retention_(options.retention),
      capacity_(options.capacity),
      bytes_since_disk_check_(std::numeric_limits<uint64_t>::max()) {}

Log::~Log() {
  std::lock_guard<std::mutex> lock(write_mu_);
  if (active_ != nullptr) (void)active_->Close();
}

Result<std::unique_ptr<Log>> Log::Open(io::FileSystem* fs, LogState state, const LogOptions& options,
                                       Clock* clock) {
  RETURN_IF_ERROR(options.Validate());
  RETURN_IF_ERROR(CheckState(state));
  std::unique_ptr<Log> log(new Log(fs, state.dir, options, clock));
  std::lock_guard<std::mutex> wlock(log->write_mu_);
  log->next_offset_ = state.next_offset;
  log->next_seq_ = state.next_seq;
  log->durable_offset_ = state.next_offset;  // everything recovered counts as durable (spec 6.1.10)
  log->readable_offset_ = state.next_offset;
  log->next_id_ = state.segments.empty() ? 0 : state.segments.back().id + 1;

  for (SegmentState& s : state.segments) {
    Published p;
    if (!s.unreadable) {
      ASSIGN_OR_RETURN(std::unique_ptr<io::File> file, fs->Open(SegmentPath(log->dir_, s.id), io::OpenMode::kRead));
      p.file = std::shared_ptr<io::File>(std::move(file));
    }
    p.state = std::make_shared<const SegmentState>(std::move(s));
    log->segments_.push_back(std::move(p));
  }
  log->RecountInactiveBytesLocked();

  if (state.frozen) {
    log->frozen_ = Status::FailedPrecondition("log frozen: " + state.frozen_reason);
    return log;
  }
  const SegmentState* last = log->segments_.empty() ? nullptr : log->segments_.back().state.get();
  if (last != nullptr && !last->sealed && !last->unreadable && !state.needs_new_active_segment) {
    ASSIGN_OR_RETURN(log->active_, SegmentWriter::Reopen(fs, log->dir_, *last));
    // A key was added, rotated or removed since this segment was created: it is never written
    // under anything but its own header's suite and key, so seal it (footer only, no record)
    // and write on in a new segment. This is where rotation takes effect.
    const auto [suite, key_id] = NewSegmentEncryption(log->options_);
    if (last->aead_suite == suite && last->key_id == key_id) return log;
    Status sealed = log->active_->Seal();
    if (!sealed.ok()) return log->Freeze(sealed);
    log->PublishActive(log->active_->appended_mark(), /*durable=*/true);
    (void)log->active_->Close();
    log->active_.reset();
  }
  // Fresh directory, or roll forward after a crash between seal and create (spec 6.1.7).
  Status s = log->CreateActive();
  if (!s.ok() && !s.IsUnavailable()) return s;
  return log;  // at capacity: open without an active segment; the next Append retries
}

Status Log::CheckWritable() const {
  if (!frozen_.ok()) return frozen_;  // frozen_ is written only under write_mu_, which we hold
  if (closed_) return Status::FailedPrecondition("log closed");
  return Status::Ok();
}

Status Log::Freeze(const Status& cause) {
  // The file's state after a failed write or sync is unknown: drop the handle, never retry
  // (fsyncgate). Recovery at the next start keeps exactly what reached the disk.
  if (active_ != nullptr) {
    (void)active_->Close();
    active_.reset();
  }
  std::unique_lock<std::shared_mutex> lock(mu_);
  if (frozen_.ok()) {
    frozen_ = Status::FailedPrecondition("log frozen: " + cause.ToString());
    logging::Error("log.frozen", {{"data_dir", dir_},
                                  {"cause", cause.ToString()},
                                  {"next_offset", next_offset_},
                                  {"action", "writes refused until a restart; reads of durable records continue"}});
  }
  return cause;
}

Status Log::CreateActive() {
  SegmentWriter::CreateParams params;
  params.dir = dir_;
  params.id = next_id_;
  params.base_seq = next_seq_;
  params.base_offset = next_offset_;
  params.created_unix_ms = clock_->NowUnixMs();
  params.preallocate_bytes = options_.max_segment_bytes;
  std::tie(params.aead_suite, params.key_id) = NewSegmentEncryption(options_);
  Result<std::unique_ptr<SegmentWriter>> created = SegmentWriter::Create(fs_, params);
  if (!created.ok()) {
    // At capacity: the file was removed again and nothing installed, so the same id is
    // tried next time (no record was ever written under it). Anything else freezes.
    if (created.status().IsUnavailable()) {
      at_capacity_.store(true, std::memory_order_relaxed);  // what /readyz shows until a create works
      return created.status();
    }
    return Freeze(created.status());
  }
  std::unique_ptr<SegmentWriter> writer = std::move(created).value();
  Result<std::unique_ptr<io::File>> reader = fs_->Open(writer->path(), io::OpenMode::kRead);
  if (!reader.ok()) return Freeze(reader.status());
  Published p;
  p.state = std::make_shared<const SegmentState>(writer->StateAt(writer->synced_mark()));
  p.file = std::shared_ptr<io::File>(std::move(reader).value());
  active_ = std::move(writer);
  ++next_id_;  // ids are never reused once a segment is installed
  {
    std::unique_lock<std::shared_mutex> lock(mu_);
    segments_.push_back(std::move(p));
  }
  RecountInactiveBytesLocked();
  return Status::Ok();
}

void Log::PublishActive(const SegmentMark& mark, bool durable) {
  auto state = std::make_shared<const SegmentState>(active_->StateAt(mark));
  std::unique_lock<std::shared_mutex> lock(mu_);
  CHECK(!segments_.empty() && segments_.back().state->id == state->id, "active segment is not the last");
  segments_.back().state = std::move(state);
  readable_offset_ = mark.end_offset;
  if (durable) durable_offset_ = mark.end_offset;
}

Status Log::Roll() {
  // Seal first (flush, footer, fsync), then create: a crash in between leaves a sealed last
  // segment, which recovery rolls forward (spec 4.5).
  Status s = active_->Seal();
  if (!s.ok()) return Freeze(s);
  PublishActive(active_->appended_mark(), /*durable=*/true);
  (void)active_->Close();
  active_.reset();
  CRASH_POINT("segment.after_seal_before_create");
  return CreateActive();
}

Result<uint64_t> Log::Append(const AppendRecord& rec) {
  std::lock_guard<std::mutex> lock(write_mu_);
  RETURN_IF_ERROR(CheckWritable());
  if ((rec.flags & ~format::kFlagCompressed) != 0) {
    return Status::InvalidArgument("append flags may only carry COMPRESSED");
  }
  format::RecordView view;
  view.flags = rec.flags;
  view.key = rec.key;
  view.headers = rec.headers;
  view.payload = rec.payload;
  std::optional<Bytes> compressed;
  if ((rec.flags & format::kFlagCompressed) != 0) {
    // Producer-compressed: stored as is, after the shape check of spec 5.2.
    if (!format::IsWellFormedCompressedPayload(rec.payload)) {
      return Status::InvalidArgument("malformed compressed payload");
    }
  } else {
    compressed = format::MaybeCompress(rec.payload, options_.compression);
    if (compressed.has_value()) {
      view.flags |= format::kFlagCompressed;
      view.payload = *compressed;
    }
  }
  if (next_seq_ == std::numeric_limits<uint64_t>::max() || next_offset_ == std::numeric_limits<uint64_t>::max()) {
    return Status::OutOfRange("offset or seq space exhausted");  // never wrap (I5)
  }
  view.seq = next_seq_;
  view.timestamp_ms = static_cast<uint64_t>(rec.timestamp_ms > 0 ? rec.timestamp_ms : clock_->NowUnixMs());
  const bool encrypt = options_.keys != nullptr && options_.keys->has_active();
  ASSIGN_OR_RETURN(uint64_t frame_len, format::EncodedRecordSize(view, encrypt));
  if (frame_len > options_.max_record_bytes) {
    return Status::OutOfRange("record of " + std::to_string(frame_len) + " bytes exceeds max_record_bytes " +
                              std::to_string(options_.max_record_bytes));
  }

  // Capacity before any byte is written or any segment created: a refusal consumes nothing.
  RETURN_IF_ERROR(CheckCapacityLocked(/*force_disk_check=*/active_ == nullptr));

  if (active_ == nullptr) {
    RETURN_IF_ERROR(CreateActive());  // after an at-capacity refusal
  } else {
    const SegmentMark& m = active_->appended_mark();
    // Roll rule (spec 4.4): at or past the cap and holding a record, so a segment overshoots
    // by at most one record and an empty segment is never rolled. The u32 footer count is
    // a second, practically unreachable, cap.
    const bool full = m.byte_pos >= options_.max_segment_bytes && m.has_records;
    // An encrypted segment also rolls before its record counter (the nonce's u32, holes
    // included) would reach 2^32 - 1: a nonce is never reused (spec/security.md 5.4).
    const bool counter_full = active_->aead_suite() != format::kAeadSuiteNone &&
                              next_offset_ - active_->base_offset() >= std::numeric_limits<uint32_t>::max();
    if (full || counter_full || m.record_count >= std::numeric_limits<uint32_t>::max()) RETURN_IF_ERROR(Roll());
  }

  format::RecordCipher cipher;
  const format::RecordCipher* sealer = nullptr;
  if (active_->aead_suite() != format::kAeadSuiteNone) {
    // Sealed under the active segment's own suite and key, which Open/CreateActive made the
    // options' active ones.
    cipher.suite = static_cast<format::AeadSuite>(active_->aead_suite());
    cipher.key = options_.keys != nullptr ? options_.keys->KeyBytes(active_->key_id()) : nullptr;
    cipher.segment_id = active_->id();
    const uint64_t counter = next_offset_ - active_->base_offset();
    if (cipher.key == nullptr || counter >= std::numeric_limits<uint32_t>::max()) {
      return Status::FailedPrecondition("active segment cannot seal record " + std::to_string(counter) +
                                        " under key id " + std::to_string(active_->key_id()));
    }
    cipher.record_counter = static_cast<uint32_t>(counter);
    sealer = &cipher;
  } else if (encrypt) {
    return Status::FailedPrecondition("active segment is plaintext but a key is configured");  // Open prevents it
  }

  scratch_.clear();
  Status s = format::EncodeRecord(view, &scratch_, sealer);
  if (!s.ok()) return s;  // cannot happen after EncodedRecordSize; nothing was written
  s = active_->Append(scratch_);
  if (!s.ok()) return Freeze(s);
  const uint64_t offset = next_offset_;
  ++next_offset_;
  ++next_seq_;
  // Saturating: the counter starts at its maximum to force the first statvfs.
  bytes_since_disk_check_ += std::min(frame_len, std::numeric_limits<uint64_t>::max() - bytes_since_disk_check_);
  if (scratch_.capacity() > 4 * kPendingFlushBytes) Bytes().swap(scratch_);
  return offset;
}

Status Log::Flush() {
  std::lock_guard<std::mutex> lock(write_mu_);
  RETURN_IF_ERROR(CheckWritable());
  if (active_ == nullptr) return Status::Ok();
  Status s = active_->Flush();
  if (!s.ok()) return Freeze(s);
  // Relaxed levels acknowledge at this point, so readers may see the records now too.
  if (options_.durability != Durability::kSync) PublishActive(active_->flushed_mark(), /*durable=*/false);
  return Status::Ok();
}

Status Log::Sync() {
  std::lock_guard<std::mutex> lock(write_mu_);
  RETURN_IF_ERROR(CheckWritable());
  if (active_ == nullptr) return Status::Ok();
  Status s = active_->Sync();
  if (!s.ok()) return Freeze(s);
  PublishActive(active_->synced_mark(), /*durable=*/true);
  return Status::Ok();
}

Status Log::Close() {
  std::lock_guard<std::mutex> lock(write_mu_);
  if (closed_) return Status::Ok();
  Status result = Status::Ok();
  if (frozen_.ok() && active_ != nullptr) {
    Status s = active_->Sync();  // the clean-shutdown barrier of every level
    if (s.ok()) {
      PublishActive(active_->synced_mark(), /*durable=*/true);
    } else {
      result = Freeze(s);
    }
  }
  if (active_ != nullptr) {
    Status s = active_->Close();
    if (result.ok()) result = s;
    active_.reset();
  }
  closed_ = true;
  return result;
}

uint64_t Log::unsynced_bytes() const {
  std::lock_guard<std::mutex> lock(write_mu_);
  if (active_ == nullptr) return 0;
  return active_->appended_mark().byte_pos - active_->synced_mark().byte_pos;
}

uint64_t Log::next_offset() const {
  std::lock_guard<std::mutex> lock(write_mu_);
  return next_offset_;
}

Result<RetentionResult> Log::ApplyRetention(uint64_t protect_floor_offset) {
  std::lock_guard<std::mutex> lock(write_mu_);
  RETURN_IF_ERROR(CheckWritable());
  RetentionResult result;
  const RetentionOptions r = retention_;
  if (!r.enabled()) return result;

  // segments_ changes only under write_mu_, which we hold, so reading it here needs no mu_.
  uint64_t total_bytes = 0;
  uint64_t total_records = 0;
  for (const Published& p : segments_) {
    total_bytes += p.state->DurableRecordBytes();
    total_records += p.state->record_count;
  }
  const int64_t now_ms = clock_->NowUnixMs();
  // The last segment is the active one (or, awaiting a create, the newest sealed one): kept.
  while (segments_.size() > 1) {
    const SegmentState& s = *segments_.front().state;
    if (!s.sealed && !s.unreadable) break;
    const bool by_bytes = r.max_retained_bytes != 0 && total_bytes > r.max_retained_bytes;
    const bool by_age = r.max_age_ms != 0 && s.max_timestamp_ms < now_ms - r.max_age_ms;
    const bool by_count = r.max_messages != 0 && total_records > r.max_messages;
    if (!(by_bytes || by_age || by_count)) break;
    // Every offset of the segment must be below the floor (no group still needs it). Stop
    // here rather than skip: only a prefix may go, or the next open sees a chain gap.
    if (s.end_offset > protect_floor_offset) break;
    const uint64_t bytes = s.DurableRecordBytes();
    const uint64_t records = s.record_count;
    RETURN_IF_ERROR(DeleteOldestLocked(&result));
    total_bytes -= bytes;
    total_records -= records;
  }
  return result;
}

Result<RetentionResult> Log::MakeRoom(uint64_t protect_floor_offset) {
  std::lock_guard<std::mutex> lock(write_mu_);
  RETURN_IF_ERROR(CheckWritable());
  RetentionResult result;
  // Each pass deletes one segment or rolls a fully consumed active one (after which the next
  // pass deletes it or stops: a fresh active segment holds no records), so this ends. No
  // active segment means the disk refused a segment create (ENOSPC): one deletion is then
  // enough to retry it.
  // (CapacityStatusLocked: the flag /readyz shows is left to the append that follows.)
  while (!CapacityStatusLocked(/*force_disk_check=*/true).ok() ||
         (active_ == nullptr && result.segments_deleted == 0)) {
    if (segments_.size() <= 1) {
      if (active_ == nullptr) break;
      const SegmentMark& m = active_->appended_mark();
      if (!m.has_records || m.end_offset > protect_floor_offset) break;
      // Everything the log holds sits in the active segment and every group consumed it:
      // seal it so it becomes deletable (one extra fsync, only at the cap).
      Status rolled = Roll();
      if (!rolled.ok() && !rolled.IsUnavailable()) return rolled;  // a freeze
      if (segments_.size() <= 1) break;
      continue;
    }
    const SegmentState& s = *segments_.front().state;
    if (!s.sealed && !s.unreadable) break;
    const bool consumed = s.end_offset <= protect_floor_offset;
    if (!consumed && capacity_.policy != DiskFullPolicy::kDropOldest) break;
    const uint64_t records = s.record_count;
    RETURN_IF_ERROR(DeleteOldestLocked(&result));
    if (!consumed) {
      result.force_reaped_segments += 1;
      result.force_reaped_records += records;
    }
  }
  return result;
}

Status Log::DeleteOldestLocked(RetentionResult* result) {
  const SegmentState s = *segments_.front().state;  // a copy: the entry is erased below
  Status removed = fs_->Remove(SegmentPath(dir_, s.id));
  if (!removed.ok() && !removed.IsNotFound()) return removed;
  CRASH_POINT("retention.after_unlink");
  // A crash before this fsync may bring the file back: a longer prefix, which recovery
  // accepts. Memory is updated only after the removal is durable.
  RETURN_IF_ERROR(fs_->SyncDir(dir_));
  result->segments_deleted += 1;
  result->records_deleted += s.record_count;
  result->bytes_deleted += s.DurableRecordBytes();
  {
    std::unique_lock<std::shared_mutex> mlock(mu_);
    segments_.erase(segments_.begin());  // readers holding the handle keep reading it
  }
  RecountInactiveBytesLocked();
  return Status::Ok();
}

void Log::RecountInactiveBytesLocked() {
  uint64_t sum = 0;
  for (size_t i = 0; i + 1 < segments_.size(); ++i) sum += segments_[i].state->DurableRecordBytes();
  inactive_record_bytes_ = sum;
}

uint64_t Log::TotalRecordBytesLocked() const {
  if (segments_.empty()) return 0;
  if (active_ == nullptr) return inactive_record_bytes_ + segments_.back().state->DurableRecordBytes();
  // The active segment never holds skipped spans (recovery starts a new one after damage), so
  // its record bytes are everything appended past the header.
  return inactive_record_bytes_ + (active_->appended_mark().byte_pos - format::kSegmentHeaderSize);
}

Status Log::CheckCapacityLocked(bool force_disk_check) {
  Status s = CapacityStatusLocked(force_disk_check);
  at_capacity_.store(!s.ok(), std::memory_order_relaxed);
  return s;
}

Status Log::CapacityStatusLocked(bool force_disk_check) {
  const CapacityOptions& c = capacity_;
  if (c.max_total_bytes != 0) {
    const uint64_t total = TotalRecordBytesLocked();
    if (total != 0 && total >= c.max_total_bytes) {
      return Status::Unavailable("at capacity: the log holds " + std::to_string(total) +
                                 " record bytes, at or above max_total_bytes " + std::to_string(c.max_total_bytes));
    }
  }
  if (c.min_free_bytes == 0) {
    below_watermark_ = false;
    return Status::Ok();
  }
  const uint64_t every = std::max<uint64_t>(4096, std::min<uint64_t>(kDiskCheckEveryBytes, c.min_free_bytes / 4));
  if (force_disk_check || below_watermark_ || bytes_since_disk_check_ >= every) {
    bytes_since_disk_check_ = 0;
    // A failed statvfs keeps the last reading: the watermark guards the disk, and an
    // unreadable figure is no reason to refuse publishes (real ENOSPC still sheds).
    if (Result<uint64_t> available = fs_->AvailableBytes(dir_); available.ok()) {
      available_bytes_.store(*available, std::memory_order_relaxed);
      below_watermark_ = *available < c.min_free_bytes;
    }
  }
  if (below_watermark_) {
    return Status::Unavailable("at capacity: " + std::to_string(available_bytes_.load(std::memory_order_relaxed)) +
                               " bytes free on the data directory's file system, below min_free_bytes " +
                               std::to_string(c.min_free_bytes));
  }
  return Status::Ok();
}

void Log::SetRetention(const RetentionOptions& retention) {
  std::lock_guard<std::mutex> lock(write_mu_);
  retention_ = retention;
}

void Log::SetCapacity(const CapacityOptions& capacity) {
  std::lock_guard<std::mutex> lock(write_mu_);
  capacity_ = capacity;
  bytes_since_disk_check_ = std::numeric_limits<uint64_t>::max();
  if (CheckWritable().ok()) (void)CheckCapacityLocked(/*force_disk_check=*/true);
}

RetentionOptions Log::retention() const {
  std::lock_guard<std::mutex> lock(write_mu_);
  return retention_;
}

CapacityOptions Log::capacity() const {
  std::lock_guard<std::mutex> lock(write_mu_);
  return capacity_;
}

uint64_t Log::total_record_bytes() const {
  std::lock_guard<std::mutex> lock(write_mu_);
  return TotalRecordBytesLocked();
}

uint64_t Log::last_available_bytes() const { return available_bytes_.load(std::memory_order_relaxed); }

}  // namespace ironbus::storage
