// See toml_hazard.h for the toml++ 3.3.0 bug this guards against.
#include "base/toml_hazard.h"

#include <cstdint>
#include <cstdio>

namespace ironbus {
namespace {

bool HitsParserBug(uint32_t cp) {
  if (cp < 0xA0 || cp > 0xFEFF || cp == 0xA0 || cp == 0x3000 || cp == 0xFEFF) return false;
  const uint32_t bucket = (cp - 0xA0) / 0x3FA;
  return bucket == 0 || bucket == 11 || bucket == 63;
}

}  // namespace

std::string FindTomlParserHazard(std::string_view text) {
  size_t line = 1;
  size_t col = 1;
  for (size_t i = 0; i < text.size();) {
    const auto b = static_cast<uint8_t>(text[i]);
    size_t len = 1;
    uint32_t cp = b;
    if (b >= 0xC0 && b < 0xE0 && i + 1 < text.size()) {
      len = 2;
      cp = ((b & 0x1Fu) << 6) | (static_cast<uint8_t>(text[i + 1]) & 0x3Fu);
    } else if (b >= 0xE0 && b < 0xF0 && i + 2 < text.size()) {
      len = 3;
      cp = ((b & 0x0Fu) << 12) | ((static_cast<uint8_t>(text[i + 1]) & 0x3Fu) << 6) |
           (static_cast<uint8_t>(text[i + 2]) & 0x3Fu);
    }
    if (len > 1 && HitsParserBug(cp)) {
      char hex[16];
      std::snprintf(hex, sizeof(hex), "U+%04X", static_cast<unsigned>(cp));
      return std::to_string(line) + ":" + std::to_string(col) + ": character " + hex;
    }
    if (b == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
    i += len;
  }
  return "";
}

}  // namespace ironbus
