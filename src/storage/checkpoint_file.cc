#include "storage/checkpoint_file.h"

#include <utility>

#include "base/crash_point.h"

namespace ironbus::storage {

CheckpointFile::CheckpointFile(std::string path, std::unique_ptr<io::File> file, size_t cap)
    : path_(std::move(path)), file_(std::move(file)), cap_(cap) {}

Result<std::unique_ptr<CheckpointFile>> CheckpointFile::Open(io::FileSystem* fs, const std::string& dir,
                                                             std::string_view name, size_t cap, Mode mode) {
  if (cap == 0 || cap > UINT16_MAX) return Status::InvalidArgument("checkpoint cap out of range");
  const std::string path = io::JoinPath(dir, name);
  Result<std::unique_ptr<io::File>> opened = fs->Open(path, io::OpenMode::kReadWrite);
  if (!opened.ok() && opened.status().IsNotFound() && mode == Mode::kOpenOrCreate) {
    // Create exclusively and make the name durable before the first write (spec 7.1).
    opened = fs->Open(path, io::OpenMode::kCreateExclusive);
    if (opened.ok()) {
      CRASH_POINT("checkpoint.after_create_before_dir_sync");
      Status s = fs->SyncDir(dir);
      if (!s.ok()) return s.WithContext(path);
    }
  }
  if (!opened.ok()) return opened.status().WithContext(path);
  std::unique_ptr<CheckpointFile> ckpt(new CheckpointFile(path, std::move(opened).value(), cap));

  // Read exactly the two slots. A shorter file has no valid slot (DecodeCheckpointFile
  // checks the length); bytes past the two slots are not ours and are ignored.
  Bytes image(format::CheckpointFileLen(cap));
  ASSIGN_OR_RETURN(size_t got, ckpt->file_->ReadAt(0, std::span<uint8_t>(image.data(), image.size())));
  image.resize(got);
  ckpt->value_ = format::DecodeCheckpointFile(image, cap);
  ckpt->next_seq_ = ckpt->value_.has_value() ? ckpt->value_->seq + 1 : 1;
  return ckpt;
}

Status CheckpointFile::Write(ByteView payload) {
  if (payload.size() > cap_) {
    return Status::InvalidArgument(path_ + ": checkpoint payload of " + std::to_string(payload.size()) +
                                   " bytes exceeds cap " + std::to_string(cap_));
  }
  const uint64_t seq = next_seq_;
  ASSIGN_OR_RETURN(Bytes slot, format::EncodeCheckpointSlot(seq, payload, cap_));
  const uint64_t at = (seq % 2) * format::CheckpointSlotLen(cap_);
  RETURN_IF_ERROR(file_->WriteAt(at, slot).WithContext(path_));
  // The new slot is written, not yet synced: a restart must pick a valid slot (this one or
  // the previous value), never a torn one.
  CRASH_POINT("checkpoint.after_write_before_sync");
  // fsync, not fdatasync: the first write changes the file length.
  RETURN_IF_ERROR(file_->FullSync().WithContext(path_));
  // Durable but not yet reported: the caller (an ack's AckStatus) never hears of it.
  CRASH_POINT("checkpoint.after_sync");
  next_seq_ = seq + 1;
  value_ = format::CheckpointValue{seq, Bytes(payload.begin(), payload.end())};
  return Status::Ok();
}

}  // namespace ironbus::storage
