#include <gtest/gtest.h>

#include <cerrno>

#include "base/bytes.h"
#include "base/clock.h"
#include "base/result.h"
#include "base/status.h"

namespace ironbus {
namespace {

TEST(Status, DefaultIsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.ToString(), "OK");
}

TEST(Status, WithContextKeepsCodeAndErrno) {
  Status s = Status::IOError("write failed", ENOSPC).WithContext("segment 0000000000000003");
  EXPECT_TRUE(s.IsIOError());
  EXPECT_TRUE(s.IsNoSpace());
  EXPECT_EQ(s.sys_errno(), ENOSPC);
  EXPECT_EQ(s.message(), "segment 0000000000000003: write failed");
  EXPECT_EQ(s.ToString(), "IOError: segment 0000000000000003: write failed");
}

TEST(Status, NoSpaceOnlyForEnospcIoErrors) {
  EXPECT_FALSE(Status::IOError("x", EIO).IsNoSpace());
  EXPECT_FALSE(Status::Unavailable("x").IsNoSpace());
}

Result<int> Half(int v) {
  if (v % 2 != 0) return Status::InvalidArgument("odd");
  return v / 2;
}

Result<int> Quarter(int v) {
  ASSIGN_OR_RETURN(int h, Half(v));
  ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

Status CheckEven(int v) {
  RETURN_IF_ERROR(Half(v).status());
  return Status::Ok();
}

TEST(Result, AssignOrReturnPropagatesTheFirstError) {
  EXPECT_EQ(*Quarter(8), 2);
  Result<int> r = Quarter(6);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(CheckEven(4).ok());
  EXPECT_FALSE(CheckEven(5).ok());
}

TEST(Bytes, FixedWidthCodingIsLittleEndian) {
  uint8_t buf[8];
  EncodeFixed32(buf, 0x01020304u);
  EXPECT_EQ(buf[0], 0x04);
  EXPECT_EQ(buf[3], 0x01);
  EXPECT_EQ(DecodeFixed32(buf), 0x01020304u);
  EncodeFixed64(buf, 0x0102030405060708ull);
  EXPECT_EQ(buf[0], 0x08);
  EXPECT_EQ(buf[7], 0x01);
  EXPECT_EQ(DecodeFixed64(buf), 0x0102030405060708ull);
  EncodeFixed16(buf, 0x4942);
  EXPECT_EQ(buf[0], 0x42);
  EXPECT_EQ(buf[1], 0x49);
  EXPECT_EQ(DecodeFixed16(buf), 0x4942);
}

TEST(Bytes, HexEncodeIsLowercaseTwoDigitsPerByte) {
  EXPECT_EQ(HexEncode(AsBytes("orders")), "6f7264657273");
  const uint8_t raw[] = {0x00, 0xAB, 0xFF};
  EXPECT_EQ(HexEncode(ByteView(raw, 3)), "00abff");
}

TEST(Clock, ManualClockAdvancesBothClocks) {
  ManualClock clock(1000, 0);
  clock.AdvanceMs(5);
  EXPECT_EQ(clock.NowUnixMs(), 1005);
  EXPECT_EQ(clock.MonotonicNanos(), 5'000'000);
}

}  // namespace
}  // namespace ironbus
