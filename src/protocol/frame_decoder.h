// FrameDecoder: splits a byte stream into frames (spec/protocol.md section 2).
//
// Feed bytes as they arrive; Next() yields one whole frame at a time. The 4-byte length is
// checked against the maximum BEFORE any allocation: a length of 0 or above max_frame_len
// means the stream can no longer be framed (kBroken; the connection must close). A bad body
// inside a well-formed envelope is not the decoder's business: DecodeBody reports it and the
// connection stays open.
//
// Memory: the caller drains Next() until kNeedMore after every Feed; then the buffer never holds
// more than one partial frame (at most max_frame_len + 4 bytes) plus what one Feed delivered,
// and consumed bytes are compacted away. A length over the maximum is refused before a single
// body byte is waited for. After a frame larger than kRetainedCapacity, the big buffer is freed
// once it is drained (the next Next) or compacted (the next Feed), so a connection that sent one
// 16 MiB frame and went idle holds kRetainedCapacity at most, not 16 MiB.
//
// Ownership: RawFrame::body points into the decoder's buffer and stays valid until the next
// Feed; DecodeBody copies what it keeps.
//
// Thread safety: one decoder per connection, used by its reader only.
#pragma once

#include <cstdint>
#include <string>

#include "base/bytes.h"
#include "protocol/wire_format.h"

namespace ironbus::protocol {

// Why the stream broke (the envelope rules of section 2). Either way the connection closes
// after the replies already queued are written (no Err is sent: our decision, the reference is
// unconfirmed).
enum class FrameError : uint8_t {
  kNone = 0,
  kZeroLength,   // len == 0: there is always a tag byte
  kOverMaximum,  // len > max_frame_len
};

struct RawFrame {
  uint8_t tag = 0;
  ByteView body;  // valid until the next Feed or Next
};

class FrameDecoder {
 public:
  enum class State : uint8_t { kFrame, kNeedMore, kBroken };

  explicit FrameDecoder(uint32_t max_frame_len = kMaxFrameLen) : max_frame_len_(max_frame_len) {}

  void Feed(ByteView bytes);
  // kFrame: *out holds the next frame. kNeedMore: feed more. kBroken: error() says why; every
  // later call returns kBroken.
  State Next(RawFrame* out);

  const std::string& error() const { return error_; }
  FrameError error_kind() const { return error_kind_; }
  // Bytes held that do not yet form a frame.
  size_t buffered() const { return buffer_.size() - start_; }
  // How many more bytes would complete the frame being received (0 when unknown: fewer than 4
  // prefix bytes). Lets a reader size its next read without over-allocating.
  size_t missing() const;
  // Bytes allocated for the buffer (tests: what an idle connection pins).
  size_t capacity() const { return buffer_.capacity(); }

  // Largest buffer kept across frames; above it the memory is given back once drained.
  static constexpr size_t kRetainedCapacity = 256 * 1024;

 private:
  void ReleaseIfDrained();

  const uint32_t max_frame_len_;
  Bytes buffer_;
  size_t start_ = 0;  // first byte not yet handed out
  std::string error_;
  FrameError error_kind_ = FrameError::kNone;
};

}  // namespace ironbus::protocol
