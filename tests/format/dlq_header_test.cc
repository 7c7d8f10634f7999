#include "format/dlq_header.h"

#include <gtest/gtest.h>

#include "format/record_format.h"

namespace ironbus::format {
namespace {

TEST(DlqHeader, V1RoundTripKeepsGroupAndOriginalHeaders) {
  auto blob = EncodeDlqHeaders(4242, 5, AsBytes("orders"), AsBytes("h=1"));
  ASSERT_TRUE(blob.ok());
  ASSERT_EQ(blob->size(), kDlqPrefixSizeV1 + 6 + 3);
  EXPECT_EQ(AsChars(ByteView(blob->data(), 4)), "DLQ1");
  auto h = DecodeDlqHeaders(*blob);
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->source_offset, 4242u);
  EXPECT_EQ(h->attempt, 5u);
  EXPECT_EQ(h->reason, kDlqReasonMaxDeliver);
  EXPECT_EQ(AsChars(h->group), "orders");
  EXPECT_EQ(AsChars(h->original_headers), "h=1");
}

TEST(DlqHeader, V2CarriesAReasonByte) {
  Bytes blob = ToBytes("DLQ2");
  blob.push_back(kDlqReasonTtlExpired);
  PutFixed64(&blob, 7);
  PutFixed32(&blob, 2);
  PutFixed16(&blob, 1);
  PutFixed16(&blob, 0);
  blob.push_back('g');
  auto h = DecodeDlqHeaders(blob);
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->reason, kDlqReasonTtlExpired);
  EXPECT_EQ(h->source_offset, 7u);
  EXPECT_EQ(AsChars(h->group), "g");
}

TEST(DlqHeader, LengthThatDoesNotAddUpIsNotADlqRecord) {
  auto blob = EncodeDlqHeaders(1, 1, AsBytes("g"), AsBytes("hh"));
  ASSERT_TRUE(blob.ok());
  Bytes longer = *blob;
  longer.push_back(0);
  EXPECT_FALSE(DecodeDlqHeaders(longer).has_value());
  Bytes shorter(blob->begin(), blob->end() - 1);
  EXPECT_FALSE(DecodeDlqHeaders(shorter).has_value());
}

TEST(DlqHeader, UnknownMagicOrReasonIsNotADlqRecord) {
  auto blob = EncodeDlqHeaders(1, 1, AsBytes("g"), {});
  ASSERT_TRUE(blob.ok());
  Bytes foreign = *blob;
  foreign[3] = '9';
  EXPECT_FALSE(DecodeDlqHeaders(foreign).has_value());
  Bytes v2 = ToBytes("DLQ2");
  v2.push_back(9);  // reason outside the enum
  PutFixed64(&v2, 1);
  PutFixed32(&v2, 1);
  PutFixed16(&v2, 0);
  PutFixed16(&v2, 0);
  EXPECT_FALSE(DecodeDlqHeaders(v2).has_value());
  EXPECT_FALSE(DecodeDlqHeaders(AsBytes("DLQ1")).has_value());
}

}  // namespace
}  // namespace ironbus::format
