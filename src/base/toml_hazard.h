// The one check every TOML reader runs before toml++ sees a file (config/load.cc for --config,
// security/identities.cc for --auth-config). Here in base because both folders may include base
// and neither may include the other.
//
// toml++ 3.3.0 (Debian 12) reaches __builtin_unreachable() in its Unicode whitespace test
// (impl::is_non_ascii_horizontal_whitespace) for the code points of three of its 0x3FA-wide
// table buckets, U+00A1..U+0499, U+2C8E..U+3087 and U+FCF6..U+FEFE, except U+3000: undefined
// behaviour on a hostile or mistyped file (found by fuzz/config_fuzz; the set was checked against
// the header's function for every code point). Such a character is refused before the parser
// sees it. TOML allows non-ASCII only inside strings and comments, so no key is affected.
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <string_view>

namespace ironbus {

// The first such character as "line:col: character U+XXXX", or "" when none. Malformed UTF-8 is
// left to the parser, which rejects it.
std::string FindTomlParserHazard(std::string_view text);

}  // namespace ironbus
