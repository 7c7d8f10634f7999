// libFuzzer target: the streaming frame decoder and every body codec, as a server and as a client
// would receive them.
//
// Input layout: byte 0 picks the maximum frame length (small, so over-length prefixes are
// reachable with short inputs); byte 1 says how many of the following bytes form the chunk
// schedule (1..8 chunk sizes of 1..64 bytes, used round-robin); the rest is the byte stream.
//
// Invariants (std::abort on breach): no crash, hang or unbounded buffer; a broken stream names
// its FrameError; a body error names its DecodeError, and only an unknown tag is NotFound; a
// decoded frame encodes again and decodes to the same value.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "protocol/codec.h"
#include "protocol/frame_decoder.h"

using namespace ironbus;            // NOLINT
using namespace ironbus::protocol;  // NOLINT

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

void CheckBody(const RawFrame& raw) {
  for (Direction d : {Direction::kToServer, Direction::kToClient}) {
    DecodeError why = DecodeError::kNone;
    auto frame = DecodeBody(raw.tag, raw.body, d, &why);
    Check(frame.ok() == (why == DecodeError::kNone));
    if (!frame.ok()) {
      Check(frame.status().IsNotFound() == (why == DecodeError::kUnknownTag));
      continue;
    }
    auto encoded = EncodeFrame(*frame);
    Check(encoded.ok());
    FrameDecoder again;
    again.Feed(*encoded);
    RawFrame raw2;
    Check(again.Next(&raw2) == FrameDecoder::State::kFrame);
    Check(raw2.tag == raw.tag);
    auto frame2 = DecodeBody(raw2.tag, raw2.body, d);
    Check(frame2.ok() && *frame2 == *frame);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint32_t max_frame_len = 1 + data[0] * 8u;  // 1..2041
  const size_t schedule_len = 1 + data[1] % 8;
  if (size < 2 + schedule_len) return 0;
  std::vector<size_t> chunks;
  for (size_t i = 0; i < schedule_len; ++i) chunks.push_back(1 + data[2 + i] % 64);
  ByteView stream(data + 2 + schedule_len, size - 2 - schedule_len);

  FrameDecoder decoder(max_frame_len);
  size_t fed = 0;
  for (size_t step = 0; fed < stream.size(); ++step) {
    const size_t n = std::min(chunks[step % chunks.size()], stream.size() - fed);
    decoder.Feed(stream.subspan(fed, n));
    fed += n;
    for (;;) {
      RawFrame raw;
      const auto state = decoder.Next(&raw);
      if (state == FrameDecoder::State::kBroken) {
        Check(decoder.error_kind() != FrameError::kNone);
        return 0;
      }
      if (state == FrameDecoder::State::kNeedMore) break;
      Check(raw.body.size() + kTagSize <= max_frame_len);
      CheckBody(raw);
    }
    // Drained: at most one partial frame is held (its prefix is already checked).
    Check(decoder.buffered() <= kLengthPrefixSize + max_frame_len);
  }
  return 0;
}
