// Secret's buffer is a plain heap array (not std::string) so a move is a pointer steal: a
// std::string move copies short strings out of the inline buffer and leaves the bytes behind.
#include "security/secret.h"

#include <openssl/crypto.h>

#include <cstring>

namespace ironbus::security {

Secret::Secret(std::string_view bytes) {
  if (bytes.empty()) return;
  data_ = std::make_unique<char[]>(bytes.size() + 1);
  std::memcpy(data_.get(), bytes.data(), bytes.size());
  data_[bytes.size()] = '\0';
  size_ = bytes.size();
}

Secret Secret::TakeFrom(std::string* source) {
  Secret s(*source);
  WipeString(source);
  return s;
}

Secret Secret::OfSize(size_t size) {
  Secret s;
  if (size == 0) return s;
  s.data_ = std::make_unique<char[]>(size + 1);  // value-initialised: zeros
  s.size_ = size;
  return s;
}

Secret::Secret(Secret&& other) noexcept : data_(std::move(other.data_)), size_(other.size_) { other.size_ = 0; }

Secret& Secret::operator=(Secret&& other) noexcept {
  if (this != &other) {
    Wipe();
    data_ = std::move(other.data_);
    size_ = other.size_;
    other.size_ = 0;
  }
  return *this;
}

void Secret::Wipe() noexcept {
  if (data_) OPENSSL_cleanse(data_.get(), size_ + 1);
  data_.reset();
  size_ = 0;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool ConstantTimeEquals(const Secret& a, const Secret& b) {
  return ConstantTimeEquals(a.RevealBytesForUse(), b.RevealBytesForUse());
}

void WipeString(std::string* s) {
  s->resize(s->capacity());  // the spare capacity may hold bytes of an earlier, longer value
  if (!s->empty()) OPENSSL_cleanse(s->data(), s->size());
  s->clear();
}

}  // namespace ironbus::security
