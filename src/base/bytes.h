// Byte buffers and little-endian fixed-width coding, field by field (never memcpy of a struct),
// so padding and host order stay off disk and off the wire. Shared by format/ and protocol/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ironbus {

using Bytes = std::vector<uint8_t>;
using ByteView = std::span<const uint8_t>;

inline ByteView AsBytes(std::string_view s) {
  return ByteView(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}
inline std::string_view AsChars(ByteView b) {
  return std::string_view(reinterpret_cast<const char*>(b.data()), b.size());
}
inline Bytes ToBytes(std::string_view s) { return Bytes(s.begin(), s.end()); }

inline void EncodeFixed16(uint8_t* dst, uint16_t v) {
  dst[0] = static_cast<uint8_t>(v);
  dst[1] = static_cast<uint8_t>(v >> 8);
}
inline void EncodeFixed32(uint8_t* dst, uint32_t v) {
  for (int i = 0; i < 4; ++i) dst[i] = static_cast<uint8_t>(v >> (8 * i));
}
inline void EncodeFixed64(uint8_t* dst, uint64_t v) {
  for (int i = 0; i < 8; ++i) dst[i] = static_cast<uint8_t>(v >> (8 * i));
}
inline uint16_t DecodeFixed16(const uint8_t* src) {
  return static_cast<uint16_t>(src[0] | (static_cast<uint16_t>(src[1]) << 8));
}
inline uint32_t DecodeFixed32(const uint8_t* src) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | src[i];
  return v;
}
inline uint64_t DecodeFixed64(const uint8_t* src) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | src[i];
  return v;
}

inline void PutFixed16(Bytes* dst, uint16_t v) {
  // resize + encode in place: vector::insert from a small array trips GCC 12's -Warray-bounds
  // false positive at -O3.
  const size_t at = dst->size();
  dst->resize(at + 2);
  EncodeFixed16(dst->data() + at, v);
}
inline void PutFixed32(Bytes* dst, uint32_t v) {
  // resize + encode in place: vector::insert from a small array trips GCC 12's -Warray-bounds
  // false positive at -O3.
  const size_t at = dst->size();
  dst->resize(at + 4);
  EncodeFixed32(dst->data() + at, v);
}
inline void PutFixed64(Bytes* dst, uint64_t v) {
  // resize + encode in place: vector::insert from a small array trips GCC 12's -Warray-bounds
  // false positive at -O3.
  const size_t at = dst->size();
  dst->resize(at + 8);
  EncodeFixed64(dst->data() + at, v);
}
inline void PutBytes(Bytes* dst, ByteView v) { dst->insert(dst->end(), v.begin(), v.end()); }

// Lowercase hex of the bytes, two digits per byte ("6f7264657273" for "orders").
std::string HexEncode(ByteView bytes);

}  // namespace ironbus
