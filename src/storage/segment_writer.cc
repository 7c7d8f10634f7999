#include "storage/segment_writer.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "base/check.h"
#include "base/crash_point.h"
#include "format/record_format.h"
#include "format/segment.h"
#include "format/segment_name.h"

namespace ironbus::storage {

SegmentWriter::SegmentWriter(io::FileSystem* fs, std::string path, std::unique_ptr<io::File> file,
                             SegmentState state)
    : fs_(fs), path_(std::move(path)), file_(std::move(file)), state_(std::move(state)) {
  appended_.byte_pos = state_.valid_end;
  appended_.record_count = state_.record_count;
  appended_.has_records = state_.has_records;
  appended_.last_seq = state_.last_seq;
  appended_.max_timestamp_ms = state_.max_timestamp_ms;
  appended_.end_offset = state_.end_offset;
  appended_.index_size = state_.index.size();
  flushed_ = appended_;
  synced_ = appended_;
  last_anchor_pos_ = state_.index.empty() ? format::kSegmentHeaderSize : state_.index.back().byte_pos;
}

SegmentWriter::~SegmentWriter() { (void)Close(); }

Result<std::unique_ptr<SegmentWriter>> SegmentWriter::Create(io::FileSystem* fs, const CreateParams& p) {
  const std::string path = io::JoinPath(p.dir, format::SegmentFileName(p.id));
  // Step 1: exclusive create. An existing file means our id bookkeeping disagrees with the
  // directory; never write over it.
  ASSIGN_OR_RETURN(std::unique_ptr<io::File> file, fs->Open(path, io::OpenMode::kCreateExclusive));
  CRASH_POINT("segment.after_create");

  format::SegmentHeader header;
  header.segment_id = p.id;
  header.base_seq = p.base_seq;
  header.base_offset = p.base_offset;
  header.created_unix_ms = static_cast<uint64_t>(std::max<int64_t>(p.created_unix_ms, 0));
  // Without a key nothing here changes: flags and reserved stay zero (byte-identical format).
  if (p.aead_suite != format::kAeadSuiteNone) format::SetSegmentEncryption(&header, p.aead_suite, p.key_id);
  const Bytes header_bytes = format::EncodeSegmentHeader(header);
  // Steps 2-4: header, fdatasync, directory fsync. A crash before the directory fsync may
  // lose the file entirely; recovery then sees the previous (sealed) segment and rolls forward.
  RETURN_IF_ERROR(file->WriteAt(0, header_bytes).WithContext(path));
  RETURN_IF_ERROR(file->Sync().WithContext(path));
  CRASH_POINT("segment.after_header_sync");
  RETURN_IF_ERROR(fs->SyncDir(p.dir).WithContext(p.dir));

  // Step 5: preallocation is best effort (spec 4.6), except that ENOSPC means the disk is
  // full: a segment we could not fill is not installed. Remove it durably so the directory
  // goes back to its previous shape (the last segment sealed, which recovery rolls forward).
  if (p.preallocate_bytes > 0) {
    Status s = file->Preallocate(p.preallocate_bytes);
    if (s.IsNoSpace()) {
      (void)file->Close();
      file.reset();
      RETURN_IF_ERROR(fs->Remove(path).WithContext("removing segment refused at capacity"));
      RETURN_IF_ERROR(fs->SyncDir(p.dir).WithContext(p.dir));
      return Status::Unavailable("at capacity: no space to preallocate " + path + " (" + s.message() + ")");
    }
    // Any other failure: fall back to growing the file on append (best effort).
  }

  SegmentState state;
  state.id = p.id;
  state.base_seq = p.base_seq;
  state.base_offset = p.base_offset;
  state.end_offset = p.base_offset;
  state.valid_end = format::kSegmentHeaderSize;
  state.file_len = format::kSegmentHeaderSize;
  state.aead_suite = p.aead_suite;
  state.key_id = p.key_id;
  return std::unique_ptr<SegmentWriter>(new SegmentWriter(fs, path, std::move(file), std::move(state)));
}

Result<std::unique_ptr<SegmentWriter>> SegmentWriter::Reopen(io::FileSystem* fs, const std::string& dir,
                                                             const SegmentState& state) {
  const std::string path = io::JoinPath(dir, format::SegmentFileName(state.id));
  if (state.sealed) return Status::FailedPrecondition(path + ": a sealed segment is never written again");
  if (state.unreadable) return Status::FailedPrecondition(path + ": unreadable segment cannot be active");
  if (state.valid_end < format::kSegmentHeaderSize) {
    return Status::InvalidArgument(path + ": valid_end below the segment header");
  }
  ASSIGN_OR_RETURN(std::unique_ptr<io::File> file, fs->Open(path, io::OpenMode::kReadWrite));
  ASSIGN_OR_RETURN(uint64_t size, file->Size());
  // Writing at valid_end over a longer file would leave old bytes after our frames, which the
  // next recovery would read as corruption. Cutting them is recovery's decision, not ours.
  if (size != state.valid_end) {
    return Status::FailedPrecondition(path + ": file is " + std::to_string(size) + " bytes but valid_end is " +
                                      std::to_string(state.valid_end) + "; recovery must truncate first");
  }
  return std::unique_ptr<SegmentWriter>(new SegmentWriter(fs, path, std::move(file), state));
}

uint64_t SegmentWriter::next_seq() const {
  // offset = base_offset + (seq - base_seq) for every record, holes included.
  return state_.base_seq + (appended_.end_offset - state_.base_offset);
}

Status SegmentWriter::Fail(Status s) {
  if (error_.ok()) error_ = s.WithContext(path_);
  return error_;
}

Status SegmentWriter::Append(ByteView frame) {
  if (!error_.ok()) return error_;
  CHECK(!sealed_, "append to a sealed segment");
  CHECK(frame.size() >= format::kMinRecordFrameSize, "frame shorter than a minimal record");
  const uint64_t seq = DecodeFixed64(frame.data() + format::kRecordOffSeq);
  CHECK(seq == next_seq(), "frame seq does not continue the segment");
  const uint64_t ts = DecodeFixed64(frame.data() + format::kRecordOffTimestamp);
  const int64_t ts_ms = ts > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())
                            ? std::numeric_limits<int64_t>::max()
                            : static_cast<int64_t>(ts);

  const uint64_t pos = appended_.byte_pos;
  const uint64_t offset = appended_.end_offset;
  if (pos >= last_anchor_pos_ + kSparseIndexStrideBytes) {
    state_.index.push_back(IndexAnchor{offset, pos});
    last_anchor_pos_ = pos;
  }
  pending_.insert(pending_.end(), frame.begin(), frame.end());
  appended_.byte_pos = pos + frame.size();
  appended_.record_count += 1;
  appended_.has_records = true;
  appended_.last_seq = seq;
  appended_.max_timestamp_ms = std::max(appended_.max_timestamp_ms, ts_ms);
  appended_.end_offset = offset + 1;
  appended_.index_size = state_.index.size();

  if (pending_.size() >= kPendingFlushBytes) return Flush();
  return Status::Ok();
}

Status SegmentWriter::Flush() {
  if (!error_.ok()) return error_;
  if (pending_.empty()) return Status::Ok();
  CHECK(file_ != nullptr, "flush on a closed segment writer");
  // One positional write for the whole batch. On failure some prefix may have reached the
  // file; the writer is broken from here on and the log freezes (recovery sorts it out).
  Status s = file_->WriteAt(flushed_.byte_pos, pending_);
  if (!s.ok()) return Fail(std::move(s));
  pending_.clear();
  if (pending_.capacity() > 4 * kPendingFlushBytes) Bytes().swap(pending_);  // after a huge frame
  flushed_ = appended_;
  return Status::Ok();
}

Status SegmentWriter::Sync() {
  RETURN_IF_ERROR(Flush());
  if (synced_.byte_pos == flushed_.byte_pos && synced_.record_count == flushed_.record_count) {
    return Status::Ok();  // nothing written since the last sync
  }
  Status s = file_->Sync();
  if (!s.ok()) return Fail(std::move(s));
  synced_ = flushed_;
  return Status::Ok();
}

Status SegmentWriter::Seal() {
  RETURN_IF_ERROR(Flush());
  CHECK(!sealed_, "segment sealed twice");
  CHECK(appended_.record_count <= std::numeric_limits<uint32_t>::max(), "footer record_count overflows u32");
  format::SegmentFooter footer;
  footer.segment_id = state_.id;
  footer.last_seq = appended_.has_records ? appended_.last_seq : state_.base_seq;
  footer.record_count = static_cast<uint32_t>(appended_.record_count);
  // The footer goes right after the last frame, so the file is exactly 64 + records + 32.
  Status s = file_->WriteAt(appended_.byte_pos, format::EncodeSegmentFooter(footer));
  if (!s.ok()) return Fail(std::move(s));
  // Full fsync, not fdatasync: the seal is a barrier for every level and the length changed.
  s = file_->FullSync();
  if (!s.ok()) return Fail(std::move(s));
  sealed_ = true;
  synced_ = appended_;
  return Status::Ok();
}

Status SegmentWriter::Close() {
  if (file_ == nullptr) return Status::Ok();
  Status s = file_->Close();
  file_.reset();
  pending_.clear();
  return s;
}

SegmentState SegmentWriter::StateAt(const SegmentMark& mark) const {
  SegmentState s;
  s.id = state_.id;
  s.base_seq = state_.base_seq;
  s.base_offset = state_.base_offset;
  s.aead_suite = state_.aead_suite;
  s.key_id = state_.key_id;
  s.end_offset = mark.end_offset;
  s.record_count = mark.record_count;
  s.has_records = mark.has_records;
  s.last_seq = mark.last_seq;
  s.max_timestamp_ms = mark.max_timestamp_ms;
  s.valid_end = mark.byte_pos;
  const bool sealed_here = sealed_ && mark.byte_pos == appended_.byte_pos;
  s.sealed = sealed_here;
  s.file_len = sealed_here ? mark.byte_pos + format::kSegmentFooterSize : mark.byte_pos;
  for (const SkippedSpan& span : state_.skipped) {
    if (span.byte_start < mark.byte_pos) s.skipped.push_back(span);
  }
  s.index.assign(state_.index.begin(), state_.index.begin() + static_cast<std::ptrdiff_t>(mark.index_size));
  return s;
}

}  // namespace ironbus::storage
