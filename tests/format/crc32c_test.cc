#include "format/crc32c.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>
#include <xxhash.h>

#include <algorithm>
#include <cstring>
#include <vector>

namespace ironbus::format {
namespace {

// Checks every path (dispatch, portable, hardware when present) against one expected value.
void ExpectAllPaths(const Bytes& data, uint32_t expected) {
  EXPECT_EQ(crc32c::Value(data), expected);
  EXPECT_EQ(crc32c::ExtendPortable(0, data.data(), data.size()), expected);
  if (crc32c::HardwareAvailable()) {
    EXPECT_EQ(crc32c::ExtendHardware(0, data.data(), data.size()), expected);
  }
}

TEST(Crc32cTest, CheckValueOf123456789) { ExpectAllPaths(ToBytes("123456789"), 0xE3069283u); }

TEST(Crc32cTest, Rfc3720ThirtyTwoZeroBytes) { ExpectAllPaths(Bytes(32, 0x00), 0x8A9136AAu); }

TEST(Crc32cTest, Rfc3720ThirtyTwoOnesBytes) { ExpectAllPaths(Bytes(32, 0xFF), 0x62A8AB43u); }

TEST(Crc32cTest, Rfc3720AscendingBytes) {
  Bytes data(32);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i);
  ExpectAllPaths(data, 0x46DD794Eu);
}

TEST(Crc32cTest, Rfc3720DescendingBytes) {
  Bytes data(32);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(31 - i);
  ExpectAllPaths(data, 0x113FDB5Cu);
}

TEST(Crc32cTest, Rfc3720IscsiReadPdu) {
  const Bytes pdu = {0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                     0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
                     0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
                     0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
  ExpectAllPaths(pdu, 0xD9963A56u);
}

TEST(Crc32cTest, EmptyInputLeavesValueUnchanged) {
  EXPECT_EQ(crc32c::Value(nullptr, 0), 0u);
  EXPECT_EQ(crc32c::Extend(0xE3069283u, nullptr, 0), 0xE3069283u);
}

TEST(Crc32cTest, ExtendInPiecesEqualsOnePass) {
  const Bytes all = ToBytes("123456789");
  const uint32_t a = crc32c::Value(all.data(), 4);
  EXPECT_EQ(crc32c::Extend(a, all.data() + 4, 5), 0xE3069283u);
}

TEST(Crc32cTest, Xxh3OfEmptyInputIsSpecCheckValue) { EXPECT_EQ(XXH3_64bits(nullptr, 0), 0x2D06800538D394C2ull); }

// Fills n bytes from a seed (splitmix64), so buffers of any size are cheap to generate.
Bytes SeededBytes(uint64_t seed, size_t n) {
  Bytes out(n);
  for (size_t i = 0; i < n; ++i) {
    seed += 0x9E3779B97F4A7C15ull;
    uint64_t z = seed;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    out[i] = static_cast<uint8_t>(z ^ (z >> 31));
  }
  return out;
}

// Every path, fed in arbitrary pieces at arbitrary (mis)alignments, equals the portable
// one-pass value.
RC_GTEST_PROP(Crc32cProperty, HardwareAndTablePathsAgreeAtRandomSplits,
              (uint64_t seed, uint16_t size_hint, uint8_t misalign, std::vector<uint16_t> cuts)) {
  const size_t n = size_hint % 4096;
  Bytes storage = SeededBytes(seed, n + 8);
  const uint8_t* data = storage.data() + (misalign % 8);
  const uint32_t one_pass = crc32c::ExtendPortable(0, data, n);

  std::vector<size_t> points;
  for (uint16_t c : cuts) points.push_back(n == 0 ? 0 : c % (n + 1));
  std::sort(points.begin(), points.end());
  points.push_back(n);

  uint32_t dispatched = 0, portable = 0, hardware = 0;
  size_t prev = 0;
  for (size_t p : points) {
    dispatched = crc32c::Extend(dispatched, data + prev, p - prev);
    portable = crc32c::ExtendPortable(portable, data + prev, p - prev);
    if (crc32c::HardwareAvailable()) hardware = crc32c::ExtendHardware(hardware, data + prev, p - prev);
    prev = p;
  }
  RC_ASSERT(dispatched == one_pass);
  RC_ASSERT(portable == one_pass);
  if (crc32c::HardwareAvailable()) {
    RC_ASSERT(hardware == one_pass);
    RC_ASSERT(crc32c::ExtendHardware(0, data, n) == one_pass);
  }
}

}  // namespace
}  // namespace ironbus::format
