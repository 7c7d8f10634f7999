// The envelope splitter. Why the length is checked before waiting for the body: a peer that
// announces 4 GiB must be refused on its 4 prefix bytes, not after we buffered what it sent.
#include "protocol/frame_decoder.h"

namespace ironbus::protocol {

void FrameDecoder::Feed(ByteView bytes) {
  if (!error_.empty()) return;
  // Compact what Next already handed out before growing: the buffer holds at most one partial
  // frame plus this feed.
  if (start_ > 0) {
    const size_t rest = buffer_.size() - start_;
    if (buffer_.capacity() > kRetainedCapacity && rest + bytes.size() <= kRetainedCapacity) {
      // A large frame went through: move the rest into a small buffer so the big one is freed.
      Bytes smaller;
      smaller.reserve(rest + bytes.size());
      smaller.insert(smaller.end(), buffer_.begin() + static_cast<std::ptrdiff_t>(start_), buffer_.end());
      buffer_.swap(smaller);
    } else {
      buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(start_));
    }
    start_ = 0;
  }
  buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
}

void FrameDecoder::ReleaseIfDrained() {
  // Everything handed out and the last frame's body no longer referenced (the contract: valid
  // until the next Next): an idle connection must not pin the memory of its largest frame.
  if (buffered() == 0 && buffer_.capacity() > kRetainedCapacity) {
    Bytes().swap(buffer_);
    start_ = 0;
  }
}

size_t FrameDecoder::missing() const {
  const size_t have = buffered();
  if (have < kLengthPrefixSize) return 0;
  const uint32_t len = DecodeFixed32(buffer_.data() + start_);
  const size_t total = kLengthPrefixSize + len;
  return total > have ? total - have : 0;
}

FrameDecoder::State FrameDecoder::Next(RawFrame* out) {
  if (!error_.empty()) return State::kBroken;
  ReleaseIfDrained();
  const size_t have = buffered();
  if (have < kLengthPrefixSize) return State::kNeedMore;
  const uint32_t len = DecodeFixed32(buffer_.data() + start_);
  // Checked on the prefix alone, before waiting for (or allocating) the body.
  if (len == 0) {
    error_kind_ = FrameError::kZeroLength;
    error_ = "frame length 0 (there is always a tag byte)";
    return State::kBroken;
  }
  if (len > max_frame_len_) {
    error_kind_ = FrameError::kOverMaximum;
    error_ = "frame length " + std::to_string(len) + " above the maximum " + std::to_string(max_frame_len_);
    return State::kBroken;
  }
  if (have < kLengthPrefixSize + len) return State::kNeedMore;
  out->tag = buffer_[start_ + kLengthPrefixSize];
  out->body = ByteView(buffer_.data() + start_ + kLengthPrefixSize + kTagSize, len - kTagSize);
  start_ += kLengthPrefixSize + len;
  return State::kFrame;
}

}  // namespace ironbus::protocol
