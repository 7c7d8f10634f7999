// File names: strict segment parsing, group-name validity, hex group file names, quarantine
// blob names (spec/storage.md 2 and 10).

#include "format/segment_name.h"

#include <gtest/gtest.h>

#include <string>

namespace ironbus::format {
namespace {

TEST(SegmentNameTest, NameIsSixteenLowercaseHexDigits) {
  EXPECT_EQ(SegmentFileName(0), "seg-0000000000000000.log");
  EXPECT_EQ(SegmentFileName(0xABCDEF), "seg-0000000000abcdef.log");
  EXPECT_EQ(SegmentFileName(UINT64_MAX), "seg-ffffffffffffffff.log");
}

TEST(SegmentNameTest, ParseInvertsName) {
  for (uint64_t id : {uint64_t{0}, uint64_t{7}, uint64_t{0x0123456789abcdef}, UINT64_MAX}) {
    EXPECT_EQ(ParseSegmentFileName(SegmentFileName(id)), id);
  }
}

TEST(SegmentNameTest, UppercaseHexIsForeign) {
  EXPECT_FALSE(ParseSegmentFileName("seg-0000000000ABCDEF.log"));
  EXPECT_FALSE(ParseSegmentFileName("SEG-0000000000000000.log"));
}

TEST(SegmentNameTest, WrongWidthIsForeign) {
  EXPECT_FALSE(ParseSegmentFileName("seg-000000000000000.log"));    // 15 digits
  EXPECT_FALSE(ParseSegmentFileName("seg-00000000000000000.log"));  // 17 digits
  EXPECT_FALSE(ParseSegmentFileName("seg-.log"));
}

TEST(SegmentNameTest, WrongPrefixOrSuffixIsForeign) {
  EXPECT_FALSE(ParseSegmentFileName("seg-0000000000000000.LOG"));
  EXPECT_FALSE(ParseSegmentFileName("seg-0000000000000000.tindex"));
  EXPECT_FALSE(ParseSegmentFileName("seg-0000000000000000.log.bak"));
  EXPECT_FALSE(ParseSegmentFileName("seg_0000000000000000.log"));
  EXPECT_FALSE(ParseSegmentFileName("xseg-0000000000000000.log"));
  EXPECT_FALSE(ParseSegmentFileName(""));
}

TEST(SegmentNameTest, NonHexDigitIsForeign) {
  EXPECT_FALSE(ParseSegmentFileName("seg-000000000000000g.log"));
  EXPECT_FALSE(ParseSegmentFileName("seg-+000000000000000.log"));
  EXPECT_FALSE(ParseSegmentFileName("seg- 000000000000000.log"));
}

TEST(SegmentNameTest, LexicographicOrderIsNumericOrder) {
  EXPECT_LT(SegmentFileName(9), SegmentFileName(10));
  EXPECT_LT(SegmentFileName(0xff), SegmentFileName(0x100));
}

TEST(GroupFileNameTest, DefaultGroupUsesDotName) {
  EXPECT_EQ(CursorFileName(""), "cursor.ckpt");
  EXPECT_EQ(AttemptsFileName(""), "attempts.ckpt");
}

TEST(GroupFileNameTest, NamedGroupIsLowercaseHex) {
  EXPECT_EQ(CursorFileName("orders"), "cursor-6f7264657273.ckpt");
  EXPECT_EQ(AttemptsFileName("orders"), "attempts-6f7264657273.ckpt");
  EXPECT_EQ(CursorFileName("~Z"), "cursor-7e5a.ckpt");
}

TEST(GroupFileNameTest, GroupNameValidity) {
  EXPECT_TRUE(IsValidGroupName("orders"));
  EXPECT_TRUE(IsValidGroupName("!"));
  EXPECT_TRUE(IsValidGroupName("~"));
  EXPECT_TRUE(IsValidGroupName(std::string(128, 'g')));
  EXPECT_FALSE(IsValidGroupName(""));
  EXPECT_FALSE(IsValidGroupName(std::string(129, 'g')));
  EXPECT_FALSE(IsValidGroupName("has space"));
  EXPECT_FALSE(IsValidGroupName("tab\t"));
  EXPECT_FALSE(IsValidGroupName(std::string("nul\0", 4)));
  EXPECT_FALSE(IsValidGroupName("del\x7f"));
  EXPECT_FALSE(IsValidGroupName("caf\xc3\xa9"));
}

TEST(QuarantineNameTest, NameMatchesSpecExample) {
  EXPECT_EQ(QuarantineBlobName(3, "corrupt_record_body", 4096, 8192),
            "q-0000000000000003-corrupt_record_body-4096-8192.bin");
}

TEST(QuarantineNameTest, ParseInvertsName) {
  const auto key = ParseQuarantineBlobName(QuarantineBlobName(0xfeed, "corrupt_record_header", 64, UINT64_MAX));
  ASSERT_TRUE(key.has_value());
  EXPECT_EQ(key->segment_id, 0xfeedu);
  EXPECT_EQ(key->start, 64u);
  EXPECT_EQ(key->end, UINT64_MAX);
}

TEST(QuarantineNameTest, MalformedNamesDoNotParse) {
  for (const char* name : {
           "q-0000000000000003-corrupt_record_body-4096-8192.bi",  // suffix
           "q-0000000000000003-corrupt_record_body-4096.bin",      // one number
           "q-0000000000000003--4096-8192.bin",                    // empty label
           "q-000000000000003-corrupt_record_body-4096-8192.bin",  // 15 hex digits
           "q-000000000000000G-corrupt_record_body-4096-8192.bin",
           "q-0000000000000003-corrupt_record_body-40x6-8192.bin",
           "q-0000000000000003-corrupt_record_body-4096-.bin",
           "q-0000000000000003-corrupt_record_body-4096-18446744073709551616.bin",  // overflow
           "x-0000000000000003-corrupt_record_body-4096-8192.bin",
       }) {
    EXPECT_FALSE(ParseQuarantineBlobName(name).has_value()) << name;
  }
}

}  // namespace
}  // namespace ironbus::format
