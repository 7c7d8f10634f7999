// UTF-8 validation for the text fields of the protocol (Sub group names, NotLeader hints).
#include "protocol/codec.h"

namespace ironbus::protocol {

bool IsValidUtf8(ByteView text) {
  size_t i = 0;
  while (i < text.size()) {
    const uint8_t b = text[i];
    if (b < 0x80) {
      ++i;
      continue;
    }
    size_t n;        // continuation bytes
    uint32_t cp;     // code point being assembled
    uint32_t min;    // smallest code point this length may encode (rejects overlongs)
    if ((b & 0xE0) == 0xC0) {
      n = 1, cp = b & 0x1F, min = 0x80;
    } else if ((b & 0xF0) == 0xE0) {
      n = 2, cp = b & 0x0F, min = 0x800;
    } else if ((b & 0xF8) == 0xF0) {
      n = 3, cp = b & 0x07, min = 0x10000;
    } else {
      return false;  // a stray continuation byte or 0xF8..0xFF
    }
    if (text.size() - i - 1 < n) return false;
    for (size_t k = 1; k <= n; ++k) {
      const uint8_t c = text[i + k];
      if ((c & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (c & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n + 1;
  }
  return true;
}

}  // namespace ironbus::protocol
