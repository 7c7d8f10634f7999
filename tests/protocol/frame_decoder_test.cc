// The envelope rules of section 2: FrameDecoder, one test per branch.
#include <gtest/gtest.h>

#include "protocol/frame_decoder.h"
#include "protocol_test_util.h"

namespace ironbus::protocol {
namespace {

using testing::Envelope;

TEST(FrameDecoder, ZeroLengthBreaksTheStream) {
  FrameDecoder d;
  const Bytes zero = {0, 0, 0, 0, 3};
  d.Feed(zero);
  RawFrame f;
  EXPECT_EQ(d.Next(&f), FrameDecoder::State::kBroken);
  EXPECT_EQ(d.error_kind(), FrameError::kZeroLength);
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
  EXPECT_EQ(d.error_kind(), FrameError::kOverMaximum);
  EXPECT_LE(d.buffered(), 4u) << "nothing was allocated for the announced body";
}

TEST(FrameDecoder, LargestPossiblePrefixBreaksWithoutWaiting) {
  FrameDecoder d;
  d.Feed(Bytes{0xFF, 0xFF, 0xFF, 0xFF});
  RawFrame f;
  EXPECT_EQ(d.Next(&f), FrameDecoder::State::kBroken);
  EXPECT_EQ(d.error_kind(), FrameError::kOverMaximum);
}

TEST(FrameDecoder, TheDefaultMaximumIsTheSpecsSixteenMiBPlusSixtyFourKiB) {
  EXPECT_EQ(kMaxFrameLen, 16'842'752u);
  FrameDecoder d;
  Bytes prefix;
  PutFixed32(&prefix, kMaxFrameLen);
  d.Feed(prefix);
  RawFrame f;
  EXPECT_EQ(d.Next(&f), FrameDecoder::State::kNeedMore) << "exactly the maximum is a legal length";
  EXPECT_EQ(d.missing(), kMaxFrameLen);
}

TEST(FrameDecoder, ExactlyTheConfiguredMaximumIsAccepted) {
  FrameDecoder d(64);
  d.Feed(Envelope(3, Bytes(63, 0)));
  RawFrame f;
  EXPECT_EQ(d.Next(&f), FrameDecoder::State::kFrame);
  EXPECT_EQ(f.body.size(), 63u);
  EXPECT_EQ(d.error_kind(), FrameError::kNone);
}

TEST(FrameDecoder, OneOverTheConfiguredMaximumBreaks) {
  FrameDecoder d(64);
  d.Feed(Envelope(3, Bytes(64, 0)));
  RawFrame f;
  EXPECT_EQ(d.Next(&f), FrameDecoder::State::kBroken);
  EXPECT_EQ(d.error_kind(), FrameError::kOverMaximum);
}

// Regression (an idle connection must not pin its largest frame): found by the hostile-network
// campaign, where 4 idle connections that had each sent one 16 MiB Pub held 166 MiB.
TEST(FrameDecoder, ADrainedLargeFrameGivesItsBufferBack) {
  FrameDecoder d;
  d.Feed(Envelope(3, Bytes(4 << 20, 7)));
  RawFrame f;
  ASSERT_EQ(d.Next(&f), FrameDecoder::State::kFrame);
  EXPECT_EQ(f.body.size(), 4u << 20);
  EXPECT_GE(d.capacity(), 4u << 20);
  EXPECT_EQ(d.Next(&f), FrameDecoder::State::kNeedMore);
  EXPECT_LE(d.capacity(), FrameDecoder::kRetainedCapacity) << "drained: the 4 MiB buffer is released";
  // Still a working decoder afterwards.
  d.Feed(Envelope(3, Bytes(10, 1)));
  ASSERT_EQ(d.Next(&f), FrameDecoder::State::kFrame);
  EXPECT_EQ(f.body.size(), 10u);
}

TEST(FrameDecoder, CompactingAfterALargeFrameKeepsThePartialNextFrameInASmallBuffer) {
  FrameDecoder d;
  Bytes stream = Envelope(3, Bytes(2 << 20, 7));
  const Bytes next = Envelope(4, Bytes(100, 9));
  stream.insert(stream.end(), next.begin(), next.begin() + 50);  // half of the next frame
  d.Feed(stream);
  RawFrame f;
  ASSERT_EQ(d.Next(&f), FrameDecoder::State::kFrame);
  d.Feed(ByteView(next).subspan(50));
  EXPECT_LE(d.capacity(), FrameDecoder::kRetainedCapacity);
  ASSERT_EQ(d.Next(&f), FrameDecoder::State::kFrame);
  EXPECT_EQ(f.tag, 4);
  EXPECT_EQ(f.body.size(), 100u);
  EXPECT_EQ(f.body[0], 9);
}

TEST(FrameDecoder, FewerThanFourPrefixBytesWaitForMore) {
  FrameDecoder d;
  d.Feed(Bytes{1, 0, 0});
  RawFrame f;
  EXPECT_EQ(d.Next(&f), FrameDecoder::State::kNeedMore);
  EXPECT_EQ(d.missing(), 0u) << "unknown until the prefix is complete";
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
  EXPECT_EQ(d.buffered(), 0u);
}

TEST(FrameDecoder, TagOnlyFrameHasAnEmptyBody) {
  FrameDecoder d;
  d.Feed(Envelope(11, {}));
  RawFrame f;
  ASSERT_EQ(d.Next(&f), FrameDecoder::State::kFrame);
  EXPECT_EQ(f.tag, 11);
  EXPECT_TRUE(f.body.empty());
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

TEST(FrameDecoder, UnknownTagIsAWellFormedFrameNotABrokenStream) {
  // The envelope is fine; the body codec reports the tag and the connection stays open.
  FrameDecoder d;
  d.Feed(Envelope(200, Bytes{1, 2, 3}));
  RawFrame f;
  ASSERT_EQ(d.Next(&f), FrameDecoder::State::kFrame);
  EXPECT_EQ(f.tag, 200);
  DecodeError why = DecodeError::kNone;
  EXPECT_FALSE(DecodeBody(f.tag, f.body, Direction::kToServer, &why).ok());
  EXPECT_EQ(why, DecodeError::kUnknownTag);
}

TEST(FrameDecoder, FramesBeforeABadPrefixAreStillDelivered) {
  Bytes stream = Envelope(3, {});
  PutBytes(&stream, Bytes{0, 0, 0, 0});
  FrameDecoder d;
  d.Feed(stream);
  RawFrame f;
  EXPECT_EQ(d.Next(&f), FrameDecoder::State::kFrame) << "replies to earlier frames are still owed";
  EXPECT_EQ(d.Next(&f), FrameDecoder::State::kBroken);
}

TEST(FrameDecoder, FeedAfterBrokenIsIgnored) {
  FrameDecoder d;
  d.Feed(Bytes{0, 0, 0, 0});
  RawFrame f;
  ASSERT_EQ(d.Next(&f), FrameDecoder::State::kBroken);
  d.Feed(Envelope(3, {}));
  EXPECT_EQ(d.Next(&f), FrameDecoder::State::kBroken);
}

TEST(FrameDecoder, BufferHoldsOnlyThePartialFrameAfterDraining) {
  const Bytes one = Envelope(6, Bytes(100, 'g'));
  FrameDecoder d;
  RawFrame f;
  for (int i = 0; i < 50; ++i) {
    d.Feed(one);
    ASSERT_EQ(d.Next(&f), FrameDecoder::State::kFrame);
    ASSERT_EQ(d.Next(&f), FrameDecoder::State::kNeedMore);
  }
  d.Feed(ByteView(one.data(), 7));
  EXPECT_EQ(d.buffered(), 7u) << "consumed frames are compacted away";
}

}  // namespace
}  // namespace ironbus::protocol
