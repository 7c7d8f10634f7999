// CRC32C with one implementation picked at run time.
//
// Why three paths: the record and segment checks run on every append and every recovered
// byte, so the hardware instruction matters (roughly 10x the table), but the binary must still
// run on CPUs without it. The choice is made once, on first use, and cached; every path must
// give the same answer, which tests/format/crc32c_test.cc checks on random buffers.
//
// All paths work on the "raw" register (pre-inverted), so Extend() applies the initial value
// and the final XOR exactly once: Extend(Value(a), b) == Value(a ++ b).

#include "format/crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__) || defined(_M_X64)
#include <nmmintrin.h>
#define IRONBUS_CRC32C_X86 1
#elif defined(__aarch64__)
#include <arm_acle.h>
#if defined(__linux__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif
#define IRONBUS_CRC32C_ARM64 1
#endif

namespace ironbus::format::crc32c {
namespace {

// Reflected Castagnoli polynomial (normal form 0x1EDC6F41). An algorithm constant, not an
// on-disk layout constant, so it lives here rather than in record_format.h.
constexpr uint32_t kPolyReflected = 0x82F63B78u;
constexpr uint32_t kInvert = 0xFFFFFFFFu;

// kTables[0] is the classic byte table; kTables[k][b] is the CRC of byte b followed by k zero
// bytes, which lets the slicing loop fold 8 input bytes with 8 independent lookups.
using Tables = std::array<std::array<uint32_t, 256>, 8>;
constexpr Tables MakeTables() {
  Tables t{};
  for (uint32_t b = 0; b < 256; ++b) {
    uint32_t crc = b;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ ((crc & 1u) ? kPolyReflected : 0u);
    t[0][b] = crc;
  }
  for (size_t k = 1; k < 8; ++k) {
    for (uint32_t b = 0; b < 256; ++b) t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xFFu];
  }
  return t;
}
constexpr Tables kTables = MakeTables();
static_assert(kTables[0][1] == 0xF26B8303u, "CRC32C byte table");

inline uint32_t LoadLe32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}

uint32_t RawPortable(uint32_t l, const uint8_t* p, size_t n) {
  // Eight bytes per step; words are assembled byte by byte, so alignment and host byte order
  // do not matter on this path.
  while (n >= 8) {
    const uint32_t lo = LoadLe32(p) ^ l;
    const uint32_t hi = LoadLe32(p + 4);
    l = kTables[7][lo & 0xFF] ^ kTables[6][(lo >> 8) & 0xFF] ^ kTables[5][(lo >> 16) & 0xFF] ^
        kTables[4][lo >> 24] ^ kTables[3][hi & 0xFF] ^ kTables[2][(hi >> 8) & 0xFF] ^
        kTables[1][(hi >> 16) & 0xFF] ^ kTables[0][hi >> 24];
    p += 8;
    n -= 8;
  }
  while (n > 0) {
    l = kTables[0][(l ^ *p) & 0xFF] ^ (l >> 8);
    ++p;
    --n;
  }
  return l;
}

#if defined(IRONBUS_CRC32C_X86)

// Compiled for SSE4.2 only inside this function; callers reach it only after the CPU check.
__attribute__((target("sse4.2"))) uint32_t RawHardware(uint32_t l, const uint8_t* p, size_t n) {
  // Head bytes up to 8-byte alignment, then 8 bytes per instruction, then the tail.
  while (n > 0 && (reinterpret_cast<uintptr_t>(p) & 7u) != 0) {
    l = _mm_crc32_u8(l, *p);
    ++p;
    --n;
  }
  uint64_t l64 = l;
  while (n >= 8) {
    uint64_t word;
    std::memcpy(&word, p, sizeof(word));  // x86 is little-endian: the CRC's byte order
    l64 = _mm_crc32_u64(l64, word);
    p += 8;
    n -= 8;
  }
  l = static_cast<uint32_t>(l64);
  while (n > 0) {
    l = _mm_crc32_u8(l, *p);
    ++p;
    --n;
  }
  return l;
}

bool DetectHardware() {
  __builtin_cpu_init();  // required when this runs during static initialisation
  return __builtin_cpu_supports("sse4.2");
}

#elif defined(IRONBUS_CRC32C_ARM64)

// clang's arm_acle.h declares the CRC intrinsics only when the whole file targets +crc, so
// use its builtins directly; GCC's arm_acle.h always declares them (under a pushed target).
#if defined(__clang__)
#define IRONBUS_TARGET_CRC __attribute__((target("crc")))
#define IRONBUS_CRC32CB(crc, b) __builtin_arm_crc32cb((crc), (b))
#define IRONBUS_CRC32CD(crc, w) __builtin_arm_crc32cd((crc), (w))
#else
#define IRONBUS_TARGET_CRC __attribute__((target("+crc")))
#define IRONBUS_CRC32CB(crc, b) __crc32cb((crc), (b))
#define IRONBUS_CRC32CD(crc, w) __crc32cd((crc), (w))
#endif

IRONBUS_TARGET_CRC uint32_t RawHardware(uint32_t l, const uint8_t* p, size_t n) {
  while (n > 0 && (reinterpret_cast<uintptr_t>(p) & 7u) != 0) {
    l = IRONBUS_CRC32CB(l, *p);
    ++p;
    --n;
  }
  while (n >= 8) {
    uint64_t word;
    std::memcpy(&word, p, sizeof(word));  // aarch64 Linux is little-endian
    l = IRONBUS_CRC32CD(l, word);
    p += 8;
    n -= 8;
  }
  while (n > 0) {
    l = IRONBUS_CRC32CB(l, *p);
    ++p;
    --n;
  }
  return l;
}

bool DetectHardware() {
#if defined(__linux__) && defined(HWCAP_CRC32)
  return (getauxval(AT_HWCAP) & HWCAP_CRC32) != 0;
#elif defined(__ARM_FEATURE_CRC32)
  return true;  // the compiler was told the target always has it
#else
  return false;
#endif
}

#else

uint32_t RawHardware(uint32_t l, const uint8_t* p, size_t n) { return RawPortable(l, p, n); }
bool DetectHardware() { return false; }

#endif

using RawFn = uint32_t (*)(uint32_t, const uint8_t*, size_t);

// Chosen once; a function-local static is initialised thread-safely on first use, which also
// avoids depending on static initialisation order if another global calls Extend().
RawFn ChosenRaw() {
  static const RawFn fn = DetectHardware() ? &RawHardware : &RawPortable;
  return fn;
}

}  // namespace

uint32_t Extend(uint32_t crc, const uint8_t* data, size_t n) {
  return ChosenRaw()(crc ^ kInvert, data, n) ^ kInvert;
}

uint32_t ExtendPortable(uint32_t crc, const uint8_t* data, size_t n) {
  return RawPortable(crc ^ kInvert, data, n) ^ kInvert;
}

bool HardwareAvailable() {
  static const bool available = DetectHardware();
  return available;
}

uint32_t ExtendHardware(uint32_t crc, const uint8_t* data, size_t n) {
  return RawHardware(crc ^ kInvert, data, n) ^ kInvert;
}

}  // namespace ironbus::format::crc32c
