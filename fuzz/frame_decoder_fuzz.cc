// libFuzzer target: the wire frame decoder and every body codec, as a server and as a client
// would receive them. The first input byte picks the chunk size the stream is fed in, so the
// streaming reassembly is exercised too. Invariants: no crash, the decoder never buffers more
// than one maximum frame, a decoded frame encodes again and decodes to the same value.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "protocol/codec.h"
#include "protocol/frame_decoder.h"

using namespace ironbus;            // NOLINT
using namespace ironbus::protocol;  // NOLINT

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t chunk = 1 + data[0] % 17;
  ByteView stream(data + 1, size - 1);
  // A small maximum so over-length frames are reachable with short inputs.
  FrameDecoder decoder(1024);
  for (size_t fed = 0; fed < stream.size();) {
    const size_t n = std::min(chunk, stream.size() - fed);
    decoder.Feed(stream.subspan(fed, n));
    fed += n;
    for (;;) {
      RawFrame raw;
      const auto state = decoder.Next(&raw);
      if (state == FrameDecoder::State::kBroken) return 0;
      if (state == FrameDecoder::State::kNeedMore) break;
      if (raw.body.size() + 1 > 1024) std::abort();
      for (Direction d : {Direction::kToServer, Direction::kToClient}) {
        auto frame = DecodeBody(raw.tag, raw.body, d);
        if (!frame.ok()) continue;
        auto encoded = EncodeFrame(*frame);
        if (!encoded.ok()) std::abort();
        FrameDecoder again;
        again.Feed(*encoded);
        RawFrame raw2;
        if (again.Next(&raw2) != FrameDecoder::State::kFrame) std::abort();
        auto frame2 = DecodeBody(raw2.tag, raw2.body, d);
        if (!frame2.ok() || !(*frame2 == *frame)) std::abort();
      }
    }
    if (decoder.buffered() > 1024 + 4 + chunk) std::abort();
  }
  return 0;
}
