// Reference v2 data this build does not read fails closed with a message naming the feature
// (DESIGN.md D3), and changes nothing. Damage that merely looks like it does not.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>

#include "format/checkpoint.h"
#include "format/crc32c.h"
#include "io/sim_file_system.h"
#include "recovery/recover.h"
#include "recovery_test_util.h"

namespace ironbus::recovery {
namespace {

using testing::MakeLog;
using testing::SegPath;
using ::testing::HasSubstr;

constexpr char kDir[] = "/data";

class FailClosedTest : public ::testing::Test {
 protected:
  void SetUp() override { testing::PlantLog(&fs_, kDir, MakeLog(3, 4)); }
  // Replaces segment `id`'s header with `h` (CRC recomputed by the encoder).
  void RewriteHeader(uint64_t id, const format::SegmentHeader& h) {
    Bytes b = testing::ReadFile(&fs_, SegPath(kDir, id));
    Bytes head = format::EncodeSegmentHeader(h);
    std::copy(head.begin(), head.end(), b.begin());
    ASSERT_TRUE(fs_.SetFileContent(SegPath(kDir, id), b).ok());
  }
  format::SegmentHeader HeaderOf(uint64_t id) {
    format::SegmentHeader h;
    Bytes b = testing::ReadFile(&fs_, SegPath(kDir, id));
    EXPECT_EQ(format::DecodeSegmentHeader(b, &h), format::SegmentHeaderError::kOk);
    return h;
  }
  void ExpectFailsClosed(const std::string& needle) {
    const auto before = fs_.Snapshot();
    for (Mode mode : {Mode::kDryRun, Mode::kApply}) {
      RecoveryOptions opts;
      opts.mode = mode;
      auto r = Recover(&fs_, kDir, opts);
      ASSERT_FALSE(r.ok());
      EXPECT_TRUE(r.status().IsFailedPrecondition()) << r.status().ToString();
      EXPECT_THAT(r.status().message(), HasSubstr(needle));
    }
    EXPECT_EQ(fs_.Snapshot(), before);  // no marker, no report, no quarantine
  }

  io::SimFileSystem fs_;
};

TEST_F(FailClosedTest, NewerLayoutVersionFailsClosed) {
  auto slot = format::EncodeCheckpointSlot(1, format::EncodeLayoutMarker(2), format::kCursorCheckpointCap);
  ASSERT_TRUE(slot.ok());
  Bytes image(format::CheckpointFileLen(format::kCursorCheckpointCap), 0);
  std::copy(slot->begin(), slot->end(), image.begin() + format::CheckpointSlotLen(format::kCursorCheckpointCap));
  ASSERT_TRUE(fs_.SetFileContent("/data/layout.meta", image).ok());
  ExpectFailsClosed("layout version 2");
}

TEST_F(FailClosedTest, CompactedSegmentFailsClosed) {
  format::SegmentHeader h = HeaderOf(1);
  h.version = format::kSegmentVersionCompacted;
  h.flags = format::kSegmentFlagCompacted;
  RewriteHeader(1, h);
  ExpectFailsClosed("compacted");
}

TEST_F(FailClosedTest, UnknownSegmentFlagFailsClosedAsUnsupportedFeature) {
  // 0x0002 is SEGMENT_ENCRYPTED, which this build reads (tests/recovery/encryption_test.cc).
  for (uint16_t flag : {uint16_t{0x0004}, uint16_t{0x8000}}) {
    format::SegmentHeader h = HeaderOf(2);
    h.flags = flag;
    RewriteHeader(2, h);
    char hex[8];
    std::snprintf(hex, sizeof(hex), "%04x", flag);
    ExpectFailsClosed(std::string("unsupported segment feature: flags 0x") + hex);
    h.flags = 0;
    RewriteHeader(2, h);
  }
}

TEST_F(FailClosedTest, AuthenticHeaderOfAnotherVersionFailsClosed) {
  format::SegmentHeader h = HeaderOf(0);
  h.version = 3;
  RewriteHeader(0, h);
  ExpectFailsClosed("unsupported segment version 3");
}

TEST_F(FailClosedTest, AuthenticHeaderWithAnotherChecksumFailsClosed) {
  Bytes b = testing::ReadFile(&fs_, SegPath(kDir, 0));
  b[format::kSegmentOffChecksumAlgo] = 2;
  EncodeFixed32(b.data() + format::kSegmentOffHeaderCrc,
                format::crc32c::Value(b.data(), format::kSegmentHeaderCrcCoverage));
  ASSERT_TRUE(fs_.SetFileContent(SegPath(kDir, 0), b).ok());
  ExpectFailsClosed("checksum algorithm 2");
}

// A version or flag byte changed by a bit flip breaks the header CRC: that is damage, and
// damage is recovered around, never fatal.
TEST_F(FailClosedTest, FlippedVersionByteIsDamageNotAFeature) {
  Bytes b = testing::ReadFile(&fs_, SegPath(kDir, 1));
  b[format::kSegmentOffVersion] ^= 0x02;
  ASSERT_TRUE(fs_.SetFileContent(SegPath(kDir, 1), b).ok());
  b = testing::ReadFile(&fs_, SegPath(kDir, 2));
  b[format::kSegmentOffFlags] ^= 0x02;
  ASSERT_TRUE(fs_.SetFileContent(SegPath(kDir, 2), b).ok());
  auto r = Recover(&fs_, kDir, RecoveryOptions{});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->report.events.size(), 2u);
  EXPECT_EQ(r->report.events[0].reason, LossReason::kCorruptSegmentHeader);
  EXPECT_EQ(r->report.events[1].reason, LossReason::kCorruptSegmentHeader);
  EXPECT_TRUE(r->state.segments[1].unreadable);
  EXPECT_TRUE(r->state.segments[2].unreadable);
}

}  // namespace
}  // namespace ironbus::recovery
