// Every decoder branch, named after its rule, and round-trip properties for every frame type.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include "protocol/codec.h"
#include "protocol/frame_decoder.h"

namespace ironbus::protocol {
namespace {

Bytes Envelope(uint8_t tag, const Bytes& body) {
  Bytes out;
  PutFixed32(&out, static_cast<uint32_t>(body.size() + 1));
  out.push_back(tag);
  PutBytes(&out, body);
  return out;
}

TEST(FrameDecoder, ZeroLengthBreaksTheStream) {
  FrameDecoder d;
  const Bytes zero = {0, 0, 0, 0, 3};
  d.Feed(zero);
  RawFrame f;
  EXPECT_EQ(d.Next(&f), FrameDecoder::State::kBroken);
  EXPECT_NE(d.error().find("length 0"), std::string::npos);
  EXPECT_EQ(d.Next(&f), FrameDecoder::State::kBroken) << "broken is sticky";
}

TEST(FrameDecoder, OverMaximumLengthBreaksOnThePrefixAlone) {
  FrameDecoder d;
  Bytes prefix;
  PutFixed32(&prefix, kMaxFrameLen + 1);
  d.Feed(prefix);  // no body bytes at all: the check must not wait for them
  RawFrame f;
  EXPECT_EQ(d.Next(&f), FrameDecoder::State::kBroken);
  EXPECT_LE(d.buffered(), 4u) << "nothing was allocated for the announced body";
}

TEST(FrameDecoder, ExactlyTheMaximumIsAccepted) {
  FrameDecoder d(64);
  d.Feed(Envelope(3, Bytes(63, 0)));
  RawFrame f;
  EXPECT_EQ(d.Next(&f), FrameDecoder::State::kFrame);
  EXPECT_EQ(f.body.size(), 63u);
}

TEST(FrameDecoder, FrameCutMidwayWaitsForMore) {
  const Bytes whole = Envelope(5, Bytes(20, 7));
  FrameDecoder d;
  d.Feed(ByteView(whole.data(), 10));
  RawFrame f;
  EXPECT_EQ(d.Next(&f), FrameDecoder::State::kNeedMore);
  EXPECT_EQ(d.missing(), whole.size() - 10);
  d.Feed(ByteView(whole.data() + 10, whole.size() - 10));
  EXPECT_EQ(d.Next(&f), FrameDecoder::State::kFrame);
  EXPECT_EQ(f.tag, 5);
}

TEST(FrameDecoder, SeveralFramesInOneFeedComeOutInOrder) {
  Bytes stream = Envelope(3, {});
  PutBytes(&stream, Envelope(4, {}));
  PutBytes(&stream, Envelope(11, {}));
  FrameDecoder d;
  d.Feed(stream);
  RawFrame f;
  for (uint8_t tag : {3, 4, 11}) {
    ASSERT_EQ(d.Next(&f), FrameDecoder::State::kFrame);
    EXPECT_EQ(f.tag, tag);
  }
  EXPECT_EQ(d.Next(&f), FrameDecoder::State::kNeedMore);
}

TEST(Codec, UnknownTagIsNotFoundSoTheConnectionStays) {
  for (uint8_t tag : {0, 24, 27, 53, 255}) {
    auto r = DecodeBody(tag, {}, Direction::kToServer);
    ASSERT_FALSE(r.ok());
    EXPECT_TRUE(r.status().IsNotFound());
    EXPECT_EQ(r.status().message(), kTextUnknownFrameType);
  }
}

TEST(Codec, ReservedNackTagIsVerbNotSupported) {
  auto r = DecodeBody(static_cast<uint8_t>(Tag::kNack), {}, Direction::kToServer);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), kTextVerbNotSupported);
}

TEST(Codec, AckWithTrailingBytesIsMalformed) {
  EXPECT_FALSE(DecodeBody(8, Bytes(26, 0), Direction::kToServer).ok());
  EXPECT_FALSE(DecodeBody(8, Bytes(24, 0), Direction::kToServer).ok());
  EXPECT_TRUE(DecodeBody(8, Bytes(25, 0), Direction::kToServer).ok());
}

TEST(Codec, AckWithAnUnknownOpIsRejected) {
  Bytes body(25, 0);
  body[0] = 4;
  EXPECT_FALSE(DecodeBody(8, body, Direction::kToServer).ok());
}

TEST(Codec, FlowCreditMustBeExactlyAU32) {
  auto r = DecodeBody(10, Bytes(5, 0), Direction::kToServer);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), kTextFlowCreditMustBeU32);
}

TEST(Codec, PubWithSeqButNoDedupIsMalformed) {
  Bytes body = {kPubFlagHasSeq, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  auto r = DecodeBody(5, body, Direction::kToServer);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "malformed pub body");
}

TEST(Codec, PubWhoseKeyLengthRunsPastTheBodyIsMalformed) {
  Bytes body = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0x00};  // key_len 255, nothing follows
  EXPECT_FALSE(DecodeBody(5, body, Direction::kToServer).ok());
}

TEST(Codec, ConnectWithAnUnknownBodyVersionIsMalformed) {
  Bytes body = {2, 13, 0};
  body.resize(16, 0);
  auto r = DecodeBody(1, body, Direction::kToServer);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().code() == StatusCode::kInvalidArgument);
}

TEST(Codec, ConnectBlockShorterThanItsFieldLenIsMalformed) {
  Bytes body = {1, 13, 0, 0, 0};  // field_len says 13, 2 bytes follow
  EXPECT_FALSE(DecodeBody(1, body, Direction::kToServer).ok());
}

TEST(Codec, EmptyConnectIsALegacyClient) {
  auto r = DecodeBody(1, {}, Direction::kToServer);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(std::get<Connect>(*r).legacy);
}

TEST(Codec, ConnectIgnoresUnknownBytesAfterTheKnownFields) {
  Connect c;
  c.requested_credit = 7;
  auto encoded = EncodeFrame(Frame(c));
  ASSERT_TRUE(encoded.ok());
  Bytes body(encoded->begin() + 5, encoded->end());
  body[1] += 3;  // field_len grows by 3 unknown bytes: flags2 and two more
  body.insert(body.end(), {0x01, 0xAA, 0xBB});
  auto r = DecodeBody(1, body, Direction::kToServer);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(std::get<Connect>(*r).requested_credit, 7u);
  EXPECT_EQ(std::get<Connect>(*r).flags2, 0x01);
}

TEST(Codec, ErrWithACodeLengthThatDoesNotFitIsUncoded) {
  Bytes body = {0x00, 50, 'x'};
  auto r = DecodeBody(12, body, Direction::kToClient);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(std::get<Err>(*r).code.empty());
  EXPECT_EQ(std::get<Err>(*r).message.size(), 3u);
}

TEST(Codec, UncodedMessageStartingWithZeroRoundTrips) {
  Err e;
  e.message = std::string("\0\0abc", 5);
  auto wire = EncodeFrame(Frame(e));
  ASSERT_TRUE(wire.ok());
  auto back = DecodeBody(12, ByteView(wire->data() + 5, wire->size() - 5), Direction::kToClient);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(std::get<Err>(*back), e);
}

TEST(Codec, CumulativeAckShorterThanEightBytesIsMalformed) {
  EXPECT_FALSE(DecodeBody(19, Bytes(7, 0), Direction::kToServer).ok());
}

TEST(Codec, StreamNameOverTheCapIsMalformed) {
  StreamDeclare s;
  s.stream_id = Bytes(kMaxNameLen + 1, 'a');
  EXPECT_FALSE(EncodeFrame(Frame(s)).ok()) << "the encoder refuses it too";
  Bytes body = {1};
  PutFixed16(&body, static_cast<uint16_t>(kMaxNameLen + 3));
  PutFixed16(&body, static_cast<uint16_t>(kMaxNameLen + 1));
  body.resize(body.size() + kMaxNameLen + 1, 'a');
  EXPECT_FALSE(DecodeBody(28, body, Direction::kToServer).ok());
}

TEST(Codec, KeyLongerThanAU16IsRefusedAtEncode) {
  Pub p;
  p.key = Bytes(kMaxVarFieldLen + 1, 'k');
  auto r = EncodeFrame(Frame(p));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kOutOfRange);
}

TEST(Codec, PubAckLevelsFollowTheFlagsByte) {
  Pub p;
  EXPECT_EQ(p.ack_level(), 1);
  p.flags = kPubFlagFireAndForget;
  EXPECT_EQ(p.ack_level(), 0);
  p.flags = 1 << kPubAckLevelShift;
  EXPECT_EQ(p.ack_level(), 0);
  p.flags = 2 << kPubAckLevelShift;
  EXPECT_EQ(p.ack_level(), 2);
  p.flags = 3 << kPubAckLevelShift;
  EXPECT_EQ(p.ack_level(), 1) << "3 is reserved and reads as level 1";
  p.flags = 0xFF;
  EXPECT_EQ(p.stored_flags(), 0x07);
}

// ---- properties ----

Bytes ArbBytes(size_t max) {
  return *rc::gen::container<Bytes>(*rc::gen::inRange<size_t>(0, max + 1), rc::gen::arbitrary<uint8_t>());
}

Pub ArbPub() {
  Pub p;
  p.flags = static_cast<uint8_t>(*rc::gen::arbitrary<uint8_t>() & ~(kPubFlagHasDedup | kPubFlagHasSeq));
  p.timestamp_ms = *rc::gen::arbitrary<uint64_t>();
  p.key = ArbBytes(40);
  p.headers = ArbBytes(40);
  if (*rc::gen::arbitrary<bool>()) {
    Dedup d;
    d.producer_id = ArbBytes(20);
    d.epoch = *rc::gen::arbitrary<uint64_t>();
    d.msg_id = ArbBytes(20);
    if (*rc::gen::arbitrary<bool>()) d.seq = *rc::gen::arbitrary<uint64_t>();
    p.dedup = d;
    p.flags |= kPubFlagHasDedup;
    if (d.seq) p.flags |= kPubFlagHasSeq;
  }
  p.payload = ArbBytes(300);
  return p;
}

Frame ArbFrame() {
  const int which = *rc::gen::inRange(0, 16);
  switch (which) {
    case 0: {
      Connect c;
      if (*rc::gen::arbitrary<bool>()) c.requested_credit = *rc::gen::arbitrary<uint32_t>();
      if (*rc::gen::arbitrary<bool>()) c.requested_credit_bytes = *rc::gen::arbitrary<uint64_t>();
      c.wants_gap_marker = *rc::gen::arbitrary<bool>();
      if (*rc::gen::arbitrary<bool>()) c.default_ack_level = *rc::gen::inRange<uint8_t>(0, 3);
      if (*rc::gen::arbitrary<bool>()) c.default_tier = *rc::gen::inRange<uint8_t>(0, 2);
      c.understands_streams = *rc::gen::arbitrary<bool>();
      c.flags2 = *rc::gen::arbitrary<uint8_t>();
      if (*rc::gen::arbitrary<bool>()) c.auth = AuthSection{*rc::gen::inRange<uint8_t>(1, 4), ArbBytes(60)};
      return c;
    }
    case 1: {
      Info i;
      if (*rc::gen::arbitrary<bool>()) i.credit = Advert<uint32_t>{*rc::gen::arbitrary<uint32_t>(), *rc::gen::arbitrary<uint32_t>()};
      if (*rc::gen::arbitrary<bool>()) i.credit_bytes = Advert<uint64_t>{*rc::gen::arbitrary<uint64_t>(), *rc::gen::arbitrary<uint64_t>()};
      i.gap_marker = *rc::gen::arbitrary<bool>();
      i.streams = *rc::gen::arbitrary<bool>();
      if (*rc::gen::arbitrary<bool>()) i.default_tier = *rc::gen::arbitrary<uint8_t>();
      return i;
    }
    case 2: return ArbPub();
    case 3: return Sub{ArbBytes(30)};
    case 4: return Ack{*rc::gen::inRange<uint8_t>(0, 4), *rc::gen::arbitrary<uint64_t>(), *rc::gen::arbitrary<uint64_t>(), *rc::gen::arbitrary<uint64_t>()};
    case 5: return Fetch{*rc::gen::arbitrary<bool>(), *rc::gen::arbitrary<uint32_t>(), *rc::gen::arbitrary<uint64_t>(), *rc::gen::arbitrary<uint64_t>()};
    case 6: return Deliver{*rc::gen::arbitrary<uint64_t>(), *rc::gen::arbitrary<uint64_t>(), *rc::gen::arbitrary<uint8_t>(), *rc::gen::arbitrary<uint64_t>(), ArbBytes(30), ArbBytes(30), ArbBytes(200)};
    case 7: return CumulativeAck{*rc::gen::arbitrary<uint64_t>(), ArbBytes(30)};
    case 8: return GapMarker{*rc::gen::arbitrary<uint64_t>(), *rc::gen::arbitrary<uint64_t>(), *rc::gen::arbitrary<uint64_t>(), *rc::gen::arbitrary<uint8_t>()};
    case 9: {
      Err e;
      e.code = *rc::gen::element<std::string>("", "ERR_AT_CAPACITY", "ERR_STORAGE");
      e.message = *rc::gen::element<std::string>("malformed pub body", "log at byte cap", "");
      if (e.code.empty() && e.message.empty()) e.message = "x";
      return e;
    }
    case 10: return PubTo{ArbBytes(30), ArbPub()};
    case 11: return SubSubject{ArbBytes(30), ArbBytes(30)};
    case 12: return PubAck{*rc::gen::arbitrary<uint64_t>()};
    case 13: return FlowEnd{*rc::gen::arbitrary<uint32_t>()};
    case 14: return Truncated{*rc::gen::arbitrary<uint64_t>(), *rc::gen::arbitrary<uint64_t>()};
    default: return NotLeader{"10.0.0.7:7777"};
  }
}

Direction DirectionFor(const Frame& f) {
  switch (TagOf(f)) {
    case Tag::kInfo: case Tag::kDeliver: case Tag::kPubAck: case Tag::kFlowEnd: case Tag::kTruncated:
    case Tag::kGapMarker: case Tag::kErr: case Tag::kNotLeader:
      return Direction::kToClient;
    default:
      return Direction::kToServer;
  }
}

RC_GTEST_PROP(CodecProperty, DecodeOfEncodeIsIdentityUnderAnyChunking, ()) {
  const int count = *rc::gen::inRange(1, 6);
  std::vector<Frame> frames;
  Bytes stream;
  for (int i = 0; i < count; ++i) {
    frames.push_back(ArbFrame());
    RC_ASSERT(EncodeFrame(frames.back(), &stream).ok());
  }
  FrameDecoder decoder;
  size_t fed = 0;
  size_t next = 0;
  while (next < frames.size()) {
    RawFrame raw;
    const auto state = decoder.Next(&raw);
    RC_ASSERT(state != FrameDecoder::State::kBroken);
    if (state == FrameDecoder::State::kNeedMore) {
      RC_ASSERT(fed < stream.size());
      const size_t chunk = std::min(stream.size() - fed, *rc::gen::inRange<size_t>(1, 64));
      decoder.Feed(ByteView(stream.data() + fed, chunk));
      fed += chunk;
      continue;
    }
    auto decoded = DecodeBody(raw.tag, raw.body, DirectionFor(frames[next]));
    RC_ASSERT(decoded.ok());
    RC_ASSERT(*decoded == frames[next]);
    ++next;
  }
}

RC_GTEST_PROP(CodecProperty, ArbitraryBodiesNeverCrashTheDecoder, ()) {
  const auto tag = *rc::gen::arbitrary<uint8_t>();
  const Bytes body = ArbBytes(100);
  for (Direction d : {Direction::kToServer, Direction::kToClient}) {
    auto r = DecodeBody(tag, body, d);
    if (r.ok()) {
      // Whatever decodes must encode again (bounded, no crash).
      RC_ASSERT(EncodeFrame(*r).ok());
    }
  }
}

}  // namespace
}  // namespace ironbus::protocol
