// CRC32C (Castagnoli): reflected polynomial 0x82F63B78, initial value and final XOR 0xFFFFFFFF.
// Check value: Value("123456789") == 0xE3069283 (RFC 3720 B.4 vectors in the tests).
//
// The implementation is chosen once at run time: SSE4.2 crc32 instructions on x86-64, the ARMv8
// CRC32C instructions on aarch64 when the CPU has them, else a slicing-by-8 table. All paths
// give identical results (property-tested).
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/bytes.h"

namespace ironbus::format::crc32c {

// CRC32C of data[0, n) continuing a previous result: Extend(Value(a), b) == Value(a ++ b).
uint32_t Extend(uint32_t crc, const uint8_t* data, size_t n);
inline uint32_t Value(const uint8_t* data, size_t n) { return Extend(0, data, n); }
inline uint32_t Value(ByteView data) { return Extend(0, data.data(), data.size()); }
inline uint32_t Extend(uint32_t crc, ByteView data) { return Extend(crc, data.data(), data.size()); }

// The two paths, exposed for tests and benchmarks.
uint32_t ExtendPortable(uint32_t crc, const uint8_t* data, size_t n);
bool HardwareAvailable();
uint32_t ExtendHardware(uint32_t crc, const uint8_t* data, size_t n);  // REQUIRES: HardwareAvailable()

}  // namespace ironbus::format::crc32c
