// RapidCheck properties: decode(encode(f)) == f for every frame type, through the streaming
// decoder fed one byte at a time and in random chunk sizes; arbitrary bodies never crash.
// RapidCheck prints the seed of a failing case (RC_PARAMS="seed=..." replays it).
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <algorithm>

#include "protocol/codec.h"
#include "protocol_test_util.h"

namespace ironbus::protocol {
namespace {

using testing::DirectionFor;

template <typename T>
T Any() {
  return *rc::gen::arbitrary<T>();
}
bool Maybe() { return Any<bool>(); }
Bytes ArbBytes(size_t max) {
  return *rc::gen::container<Bytes>(*rc::gen::inRange<size_t>(0, max + 1), rc::gen::arbitrary<uint8_t>());
}
std::string ArbText(size_t max) {
  return *rc::gen::container<std::string>(*rc::gen::inRange<size_t>(0, max + 1), rc::gen::inRange<char>(0x20, 0x7F));
}
template <typename T>
std::optional<T> MaybeAny() {
  return Maybe() ? std::optional<T>(Any<T>()) : std::nullopt;
}

Pub ArbPub() {
  Pub p;
  p.flags = static_cast<uint8_t>(Any<uint8_t>() & ~(kPubFlagHasDedup | kPubFlagHasSeq));
  p.timestamp_ms = Any<uint64_t>();
  p.key = ArbBytes(40);
  p.headers = ArbBytes(40);
  if (Maybe()) {
    p.dedup = Dedup{ArbBytes(20), Any<uint64_t>(), ArbBytes(20), MaybeAny<uint64_t>()};
    p.flags |= kPubFlagHasDedup;
    if (p.dedup->seq) p.flags |= kPubFlagHasSeq;
  }
  p.payload = ArbBytes(300);
  return p;
}

Connect ArbConnect() {
  Connect c;
  if (*rc::gen::inRange(0, 10) == 0) {
    c.legacy = true;  // an empty body: every other field at its default
    return c;
  }
  c.requested_credit = MaybeAny<uint32_t>();
  c.requested_credit_bytes = MaybeAny<uint64_t>();
  c.wants_gap_marker = Maybe();
  c.default_ack_level = MaybeAny<uint8_t>();
  c.understands_streaming = Maybe();
  c.default_tier = MaybeAny<uint8_t>();
  c.understands_deliver_batch = Maybe();
  c.understands_streams = Maybe();
  c.flags2 = Any<uint8_t>();
  switch (*rc::gen::inRange(0, 3)) {
    case 0: c.auth = AuthSection{Any<uint8_t>(), ArbBytes(60)}; break;
    case 1: {
      c.unparsed_auth = ArbBytes(10);
      c.unparsed_auth.insert(c.unparsed_auth.begin(), *rc::gen::suchThat<uint8_t>([](uint8_t b) { return b != kAuthMarker; }));
      break;
    }
    default: break;
  }
  return c;
}

Info ArbInfo() {
  Info i;
  if (*rc::gen::inRange(0, 10) == 0) {
    i.legacy = true;
    return i;
  }
  if (Maybe()) i.credit = Advert<uint32_t>{Any<uint32_t>(), Any<uint32_t>()};
  if (Maybe()) i.credit_bytes = Advert<uint64_t>{Any<uint64_t>(), Any<uint64_t>()};
  i.gap_marker = Maybe();
  i.default_ack_level = MaybeAny<uint8_t>();
  i.streaming = Maybe();
  i.default_tier = MaybeAny<uint8_t>();
  i.deliver_batch = Maybe();
  i.streams = Maybe();
  i.flags2 = Any<uint8_t>();
  return i;
}

// One arbitrary value of the variant's alternative `index`.
Frame ArbFrame(size_t index) {
  switch (index) {
    case 0: return ArbConnect();
    case 1: return ArbInfo();
    case 2: return Ping{};
    case 3: return Pong{};
    case 4: return ArbPub();
    case 5: return Sub{ArbBytes(30)};
    case 6: return Unsub{};
    case 7: return Ack{*rc::gen::inRange<uint8_t>(0, kAckOpProgress + 1), Any<uint64_t>(), Any<uint64_t>(), Any<uint64_t>()};
    case 8: return Flow{Any<uint32_t>()};
    case 9: return Ok{};
    case 10: return Err{*rc::gen::container<std::string>(*rc::gen::inRange<size_t>(0, 40), rc::gen::arbitrary<char>()),
                        *rc::gen::container<std::string>(*rc::gen::inRange<size_t>(0, 60), rc::gen::arbitrary<char>())};
    case 11: return Deliver{Any<uint64_t>(), Any<uint64_t>(), Any<uint8_t>(), Any<uint64_t>(), ArbBytes(30), ArbBytes(30), ArbBytes(200)};
    case 12: return PubAck{Any<uint64_t>()};
    case 13: return AckStatus{Any<uint8_t>()};
    case 14: return FlowEnd{Any<uint32_t>()};
    case 15: return DeadLetter{Any<uint64_t>(), Any<uint8_t>()};
    case 16: return Truncated{Any<uint64_t>(), Any<uint64_t>()};
    case 17: return CumulativeAck{Any<uint64_t>(), ArbBytes(30)};
    case 18: return PubAckDuplicate{Any<uint64_t>()};
    case 19: return GapMarker{Any<uint64_t>(), Any<uint64_t>(), Any<uint64_t>(), Any<uint8_t>()};
    case 20: return ProduceConfirm{Any<uint64_t>(), Any<uint8_t>()};
    case 21: return Fetch{Maybe(), Any<uint32_t>(), Any<uint64_t>(), Any<uint64_t>()};
    case 22: return StreamDeclare{ArbBytes(40)};
    case 23: return StreamInfoRequest{ArbBytes(40)};
    case 24: return StreamInfoResponse{Maybe(), Any<uint64_t>()};
    case 25: return PubTo{ArbBytes(30), ArbPub()};
    case 26: return SubTo{ArbBytes(30), ArbBytes(30)};
    case 27: return BindSubject{ArbBytes(30), ArbBytes(30)};
    case 28: return PubSubject{ArbBytes(30), ArbPub()};
    case 29: return SubSubject{ArbBytes(30), ArbBytes(30)};
    case 30: return NotLeader{ArbText(40)};
    case 31: return DeliverBatch{Any<uint64_t>(), Any<uint64_t>(), Any<uint32_t>(), ArbBytes(200)};
  }
  RC_FAIL("no generator for alternative " + std::to_string(index));
  return Ping{};
}
constexpr size_t kAlternatives = std::variant_size_v<Frame>;
static_assert(kAlternatives == 32, "a new frame type needs a generator in ArbFrame");

// Every alternative once, shuffled, plus a few random extra frames.
std::vector<Frame> ArbStream() {
  std::vector<size_t> order(kAlternatives);
  for (size_t i = 0; i < kAlternatives; ++i) order[i] = i;
  const int extra = *rc::gen::inRange(0, 4);
  for (int i = 0; i < extra; ++i) order.push_back(*rc::gen::inRange<size_t>(0, kAlternatives));
  for (size_t i = order.size() - 1; i > 0; --i) std::swap(order[i], order[*rc::gen::inRange<size_t>(0, i + 1)]);
  std::vector<Frame> frames;
  for (size_t i : order) frames.push_back(ArbFrame(i));
  return frames;
}

// Feeds `stream` in chunks of `chunk_size()` bytes and checks every frame comes back equal.
template <typename ChunkSize>
void RoundTrip(const std::vector<Frame>& frames, ChunkSize chunk_size) {
  Bytes stream;
  for (const Frame& f : frames) RC_ASSERT(EncodeFrame(f, &stream).ok());
  FrameDecoder decoder;
  size_t fed = 0;
  size_t next = 0;
  while (next < frames.size()) {
    RawFrame raw;
    const auto state = decoder.Next(&raw);
    RC_ASSERT(state != FrameDecoder::State::kBroken);
    if (state == FrameDecoder::State::kNeedMore) {
      RC_ASSERT(fed < stream.size());
      const size_t chunk = std::min(stream.size() - fed, chunk_size());
      decoder.Feed(ByteView(stream.data() + fed, chunk));
      fed += chunk;
      continue;
    }
    RC_ASSERT(raw.tag == static_cast<uint8_t>(TagOf(frames[next])));
    DecodeError why = DecodeError::kUnknownTag;
    auto decoded = DecodeBody(raw.tag, raw.body, DirectionFor(frames[next]), &why);
    RC_ASSERT(decoded.ok());
    RC_ASSERT(why == DecodeError::kNone);
    RC_ASSERT(*decoded == frames[next]);
    ++next;
  }
  RC_ASSERT(fed == stream.size());
  RC_ASSERT(decoder.buffered() == 0u);
}

RC_GTEST_PROP(CodecProperty, EveryFrameTypeRoundTripsFedOneByteAtATime, ()) {
  RoundTrip(ArbStream(), [] { return size_t{1}; });
}

RC_GTEST_PROP(CodecProperty, EveryFrameTypeRoundTripsInRandomChunks, ()) {
  RoundTrip(ArbStream(), [] { return *rc::gen::inRange<size_t>(1, 300); });
}

// The server's direct Deliver encoder writes the bytes the Frame path writes, appended after
// whatever the buffer held; a key or headers field over 65535 bytes fails and leaves it as it was.
RC_GTEST_PROP(CodecProperty, EncodeDeliverWritesTheFramePathsBytes, ()) {
  Deliver d;
  d.offset = Any<uint64_t>();
  d.generation = Any<uint64_t>();
  d.flags = Any<uint8_t>();
  d.timestamp_ms = Any<uint64_t>();
  d.key = ArbBytes(40);
  d.headers = ArbBytes(40);
  d.payload = ArbBytes(300);
  if (*rc::gen::inRange(0, 8) == 0) (Maybe() ? d.key : d.headers).resize(kMaxVarFieldLen + 1);
  const Bytes prefix = ArbBytes(20);
  Bytes via_frame = prefix;
  const Status framed = EncodeFrame(Frame(d), &via_frame);
  Bytes direct = prefix;
  const Status status =
      EncodeDeliver(DeliverView{d.offset, d.generation, d.flags, d.timestamp_ms, d.key, d.headers, d.payload}, &direct);
  RC_ASSERT(status.ok() == framed.ok());
  RC_ASSERT(direct == via_frame);
  if (!status.ok()) RC_ASSERT(direct == prefix);
}

RC_GTEST_PROP(CodecProperty, ArbitraryBodiesNeverCrashAndErrorsAreTyped, ()) {
  const auto tag = Any<uint8_t>();
  const Bytes body = ArbBytes(100);
  for (Direction d : {Direction::kToServer, Direction::kToClient}) {
    DecodeError why = DecodeError::kNone;
    auto r = DecodeBody(tag, body, d, &why);
    RC_ASSERT(r.ok() == (why == DecodeError::kNone));
    if (r.ok()) {
      // Whatever decodes encodes again, and decodes to the same value.
      auto again = EncodeFrame(*r);
      RC_ASSERT(again.ok());
      auto back = DecodeBody(tag, ByteView(*again).subspan(kEnvelopeSize), d);
      RC_ASSERT(back.ok());
      RC_ASSERT(*back == *r);
    } else {
      RC_ASSERT((why == DecodeError::kUnknownTag) == r.status().IsNotFound());
    }
  }
}

}  // namespace
}  // namespace ironbus::protocol
