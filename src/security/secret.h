// Secret: the one type that holds secret bytes (spec/security.md 6.4): bearer digests, password
// PHC strings, TLS and at-rest keys, the cluster peer secret, a password before it is hashed.
//
// Why a type and not a std::string: printing must never leak, comparing must never exit early,
// and the bytes must be wiped when released. So:
//   - streaming (operator<<), fmt formatting and ToString() all give kRedacted, the same text for
//     every secret; not even the length is shown;
//   - the bytes are read only through RevealBytesForUse(), one greppable name for every place
//     that touches secret material;
//   - there is no operator==; ConstantTimeEquals() compares with CRYPTO_memcmp;
//   - the buffer is wiped with OPENSSL_cleanse when the Secret dies or is assigned over; a move
//     steals the buffer pointer, so the moved-from Secret holds no copy (it is empty).
// Copying is deleted (every copy is one more place to wipe); Clone() is explicit.
//
// Limits (spec 6.4): no help against core dumps, swap or a debugger; copies the caller made before
// constructing a Secret are the caller's to wipe (TakeFrom() wipes a std::string source).
//
// Thread safety: a value type; concurrent const use is safe.
#pragma once

#include <cstddef>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>

#if __has_include(<fmt/format.h>)
#include <fmt/format.h>
#endif

namespace ironbus::security {

inline constexpr std::string_view kRedacted = "<redacted>";

class Secret {
 public:
  Secret() = default;
  // Copies `bytes`; the caller still owns (and should wipe) its own copy.
  explicit Secret(std::string_view bytes);
  // Copies `*source` and then wipes it (size and spare capacity) and clears it.
  static Secret TakeFrom(std::string* source);
  // A zero-filled secret of `size` bytes, to be filled through MutableBytesForFill().
  static Secret OfSize(size_t size);

  ~Secret() { Wipe(); }
  Secret(Secret&& other) noexcept;
  Secret& operator=(Secret&& other) noexcept;
  Secret(const Secret&) = delete;
  Secret& operator=(const Secret&) = delete;
  Secret Clone() const { return Secret(RevealBytesForUse()); }

  // The one accessor. The view dies with this Secret. The byte after the last is always '\0', so
  // data() is also a C string for APIs that need one (argon2id_verify).
  std::string_view RevealBytesForUse() const {
    return size_ == 0 ? std::string_view() : std::string_view(data_.get(), size_);
  }
  // Writable bytes of a secret made by OfSize (reading a file or the RNG into place).
  char* MutableBytesForFill() { return data_.get(); }

  bool empty() const { return size_ == 0; }
  size_t size() const { return size_; }  // needed to check a key length; never printed

  std::string ToString() const { return std::string(kRedacted); }
  friend std::ostream& operator<<(std::ostream& os, const Secret&) { return os << kRedacted; }

 private:
  void Wipe() noexcept;

  std::unique_ptr<char[]> data_;  // size_ + 1 bytes, the last one '\0'; null when empty
  size_t size_ = 0;
};

// CRYPTO_memcmp over the bytes. Different lengths give false at once: lengths are not secret
// where we compare (fixed-size digests and keys), contents are.
bool ConstantTimeEquals(const Secret& a, const Secret& b);
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// Wipes a transient buffer (a password read from a terminal, a decoded key) in a way the
// optimizer cannot drop: the whole capacity, then clear().
void WipeString(std::string* s);

}  // namespace ironbus::security

#if __has_include(<fmt/format.h>)
template <>
struct fmt::formatter<ironbus::security::Secret> : fmt::formatter<std::string_view> {
  template <typename FormatContext>
  auto format(const ironbus::security::Secret&, FormatContext& ctx) const {
    return fmt::formatter<std::string_view>::format(ironbus::security::kRedacted, ctx);
  }
};
#endif
