// Tag and fixed-size rules of the body codec: one test per branch, each asserting the typed
// DecodeError and the Err text the server would send.
#include <gtest/gtest.h>

#include <set>

#include "protocol/codec.h"
#include "protocol_test_util.h"

namespace ironbus::protocol {
namespace {

using testing::Decode;

TEST(DecodeErrors, UnknownTagIsReportedDistinctlySoTheConnectionStays) {
  for (int tag : {0, 53, 100, 255}) {
    for (Direction d : {Direction::kToServer, Direction::kToClient}) {
      auto r = Decode(static_cast<uint8_t>(tag), {}, d);
      ASSERT_FALSE(r.frame.ok()) << tag;
      EXPECT_EQ(r.why, DecodeError::kUnknownTag) << tag;
      EXPECT_TRUE(r.frame.status().IsNotFound()) << tag;
      EXPECT_EQ(r.frame.status().message(), kTextUnknownFrameType);
    }
  }
}

TEST(DecodeErrors, ReservedNackTagIsVerbNotSupported) {
  auto r = Decode(Tag::kNack, Bytes(25, 0), Direction::kToServer);
  ASSERT_FALSE(r.frame.ok());
  EXPECT_EQ(r.why, DecodeError::kNotSupported);
  EXPECT_EQ(r.frame.status().message(), kTextVerbNotSupported);
}

TEST(DecodeErrors, PeerLinkTagsAreNotSupportedOnTheClientPort) {
  for (int tag : {27, 32, 33, 37, 38, 39, 40, 41, 43, 50, 51}) {
    auto r = Decode(static_cast<uint8_t>(tag), {}, Direction::kToServer);
    ASSERT_FALSE(r.frame.ok()) << tag;
    EXPECT_EQ(r.why, DecodeError::kNotSupported) << tag;
    EXPECT_EQ(r.frame.status().message(), kTextVerbNotSupported);
  }
}

TEST(DecodeErrors, ServerFramesSentByAClientAreNotSupported) {
  for (int tag : {2, 4, 11, 12, 13, 14, 15, 16, 17, 18, 20, 21, 22, 26, 42, 47}) {
    auto r = Decode(static_cast<uint8_t>(tag), {}, Direction::kToServer);
    ASSERT_FALSE(r.frame.ok()) << tag;
    EXPECT_EQ(r.why, DecodeError::kNotSupported) << tag;
  }
}

TEST(DecodeErrors, ClientFramesReceivedByAClientAreNotSupported) {
  for (int tag : {1, 5, 6, 7, 8, 10, 19, 23, 28, 30, 31, 34, 35, 36}) {
    auto r = Decode(static_cast<uint8_t>(tag), {}, Direction::kToClient);
    ASSERT_FALSE(r.frame.ok()) << tag;
    EXPECT_EQ(r.why, DecodeError::kNotSupported) << tag;
  }
}

TEST(DecodeErrors, DefinedV2VerbsThisCodecDoesNotImplementAreNotSupported) {
  for (int tag : {24, 25, 44, 45, 46, 48, 49, 52}) {
    auto r = Decode(static_cast<uint8_t>(tag), Bytes(12, 1), Direction::kToServer);
    ASSERT_FALSE(r.frame.ok()) << tag;
    EXPECT_EQ(r.why, DecodeError::kNotSupported) << tag;
    EXPECT_EQ(r.frame.status().message(), kTextVerbNotSupported);
  }
}

TEST(DecodeErrors, PingAndStreamInfoAreReceivableBothWays) {
  EXPECT_TRUE(Decode(Tag::kPing, {}, Direction::kToServer).frame.ok());
  EXPECT_TRUE(Decode(Tag::kPing, {}, Direction::kToClient).frame.ok());
  const Bytes request = {1, 8, 0, 6, 0, 'o', 'r', 'd', 'e', 'r', 's'};
  EXPECT_TRUE(std::holds_alternative<StreamInfoRequest>(*Decode(Tag::kStreamInfo, request, Direction::kToServer).frame));
  const Bytes response = {1, 9, 0, 1, 2, 0, 0, 0, 0, 0, 0, 0};
  auto r = Decode(Tag::kStreamInfo, response, Direction::kToClient);
  ASSERT_TRUE(r.frame.ok());
  EXPECT_EQ(std::get<StreamInfoResponse>(*r.frame), (StreamInfoResponse{true, 2}));
}

struct FixedBody {
  Tag tag;
  size_t size;
  Direction direction;
};
const FixedBody kFixedBodies[] = {
    {Tag::kAck, kAckBodySize, Direction::kToServer},
    {Tag::kPubAck, kPubAckBodySize, Direction::kToClient},
    {Tag::kPubAckDuplicate, kPubAckBodySize, Direction::kToClient},
    {Tag::kAckStatus, kAckStatusBodySize, Direction::kToClient},
    {Tag::kFlowEnd, kFlowEndBodySize, Direction::kToClient},
    {Tag::kDeadLetter, kDeadLetterBodySize, Direction::kToClient},
    {Tag::kTruncated, kTruncatedBodySize, Direction::kToClient},
    {Tag::kGapMarker, kGapMarkerBodySize, Direction::kToClient},
    {Tag::kProduceConfirm, kProduceConfirmBodySize, Direction::kToClient},
    {Tag::kFlow, kFlowBodySize, Direction::kToServer},
};

TEST(DecodeErrors, FixedBodyOfExactlyItsSizeDecodes) {
  for (const auto& f : kFixedBodies) {
    auto r = Decode(f.tag, Bytes(f.size, 0), f.direction);
    EXPECT_TRUE(r.frame.ok()) << static_cast<int>(f.tag) << " " << r.frame.status().ToString();
    EXPECT_EQ(r.why, DecodeError::kNone);
  }
}

TEST(DecodeErrors, FixedBodyShorterThanItsSizeIsTruncated) {
  for (const auto& f : kFixedBodies) {
    for (size_t size : {size_t{0}, f.size - 1}) {
      auto r = Decode(f.tag, Bytes(size, 0), f.direction);
      ASSERT_FALSE(r.frame.ok()) << static_cast<int>(f.tag) << " size " << size;
      EXPECT_EQ(r.why, DecodeError::kTruncated) << static_cast<int>(f.tag);
      EXPECT_EQ(r.frame.status().code(), StatusCode::kInvalidArgument);
    }
  }
}

TEST(DecodeErrors, FixedBodyWithTrailingBytesIsRejected) {
  for (const auto& f : kFixedBodies) {
    auto r = Decode(f.tag, Bytes(f.size + 1, 0), f.direction);
    ASSERT_FALSE(r.frame.ok()) << static_cast<int>(f.tag);
    EXPECT_EQ(r.why, DecodeError::kTrailingBytes) << static_cast<int>(f.tag);
  }
}

TEST(DecodeErrors, FlowCreditMustBeExactlyAU32) {
  for (size_t size : {0, 3, 5, 8}) {
    auto r = Decode(Tag::kFlow, Bytes(size, 0), Direction::kToServer);
    ASSERT_FALSE(r.frame.ok());
    EXPECT_EQ(r.frame.status().message(), kTextFlowCreditMustBeU32) << size;
  }
  auto ok = Decode(Tag::kFlow, Bytes{0x40, 0, 0, 0}, Direction::kToServer);
  ASSERT_TRUE(ok.frame.ok());
  EXPECT_EQ(std::get<Flow>(*ok.frame).credit, 64u);
}

TEST(DecodeErrors, MalformedBodyTextNamesTheFrame) {
  EXPECT_EQ(Decode(Tag::kAck, Bytes(3, 0), Direction::kToServer).frame.status().message(), "malformed ack body");
  EXPECT_EQ(Decode(Tag::kPub, {}, Direction::kToServer).frame.status().message(), "malformed pub body");
  EXPECT_EQ(Decode(Tag::kFetch, {}, Direction::kToServer).frame.status().message(), "malformed fetch body");
}

TEST(DecodeErrors, AckWithAnUnknownOpIsABadValue) {
  for (uint8_t op : {4, 9, 255}) {
    Bytes body(kAckBodySize, 0);
    body[0] = op;
    auto r = Decode(Tag::kAck, body, Direction::kToServer);
    ASSERT_FALSE(r.frame.ok());
    EXPECT_EQ(r.why, DecodeError::kBadValue);
  }
  for (uint8_t op = kAckOpAck; op <= kAckOpProgress; ++op) {
    Bytes body(kAckBodySize, 0);
    body[0] = op;
    EXPECT_TRUE(Decode(Tag::kAck, body, Direction::kToServer).frame.ok()) << int{op};
  }
}

TEST(DecodeErrors, AckStatusValuesAboveTwoPassThroughToTheClient) {
  auto r = Decode(Tag::kAckStatus, Bytes{7}, Direction::kToClient);
  ASSERT_TRUE(r.frame.ok());
  EXPECT_EQ(std::get<AckStatus>(*r.frame).status, 7);
}

TEST(DecodeErrors, GapMarkerWithAnUnknownReasonIsLegal) {
  Bytes body(kGapMarkerBodySize, 0);
  body.back() = 99;
  auto r = Decode(Tag::kGapMarker, body, Direction::kToClient);
  ASSERT_TRUE(r.frame.ok());
  EXPECT_EQ(std::get<GapMarker>(*r.frame).reason, 99);
}

TEST(DecodeErrors, CumulativeAckShorterThanEightBytesIsTruncated) {
  auto r = Decode(Tag::kCumulativeAck, Bytes(7, 0), Direction::kToServer);
  ASSERT_FALSE(r.frame.ok());
  EXPECT_EQ(r.why, DecodeError::kTruncated);
  auto ok = Decode(Tag::kCumulativeAck, Bytes(8, 0), Direction::kToServer);
  ASSERT_TRUE(ok.frame.ok());
  EXPECT_TRUE(std::get<CumulativeAck>(*ok.frame).group.empty()) << "exactly 8 bytes = the default group";
}

TEST(DecodeErrors, EmptyBodiesIgnoreBytesANewerPeerAdds) {
  // Ping, Pong, Ok and Unsub have empty bodies; extra bytes are read past, never an error (our
  // decision: section 3 ignores unknown trailing bytes for extensible bodies).
  EXPECT_TRUE(Decode(Tag::kPing, Bytes{1, 2}, Direction::kToServer).frame.ok());
  EXPECT_TRUE(Decode(Tag::kUnsub, Bytes{1}, Direction::kToServer).frame.ok());
  EXPECT_TRUE(Decode(Tag::kOk, Bytes{1}, Direction::kToClient).frame.ok());
  EXPECT_TRUE(Decode(Tag::kPong, Bytes{1}, Direction::kToClient).frame.ok());
}

TEST(DecodeErrors, EveryErrorKindHasItsOwnName) {
  std::set<std::string_view> names;
  for (DecodeError e : {DecodeError::kNone, DecodeError::kUnknownTag, DecodeError::kNotSupported,
                        DecodeError::kTruncated, DecodeError::kTrailingBytes, DecodeError::kBadVersion,
                        DecodeError::kBadValue, DecodeError::kBadFlags, DecodeError::kNameTooLong}) {
    EXPECT_TRUE(names.insert(DecodeErrorName(e)).second) << DecodeErrorName(e);
  }
}

TEST(DecodeErrors, SuccessResetsTheErrorOutParameter) {
  DecodeError why = DecodeError::kBadFlags;
  ASSERT_TRUE(DecodeBody(static_cast<uint8_t>(Tag::kPing), {}, Direction::kToServer, &why).ok());
  EXPECT_EQ(why, DecodeError::kNone);
}

}  // namespace
}  // namespace ironbus::protocol
