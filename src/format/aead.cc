// AEAD suites over OpenSSL EVP. Both suites take a 256-bit key, a 96-bit nonce and a 128-bit
// tag, so one code path serves both; only the EVP_CIPHER differs.
#include "format/aead.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <climits>
#include <memory>

namespace ironbus::format {
namespace {

const EVP_CIPHER* CipherOf(AeadSuite suite) {
  switch (suite) {
    case AeadSuite::kAes256Gcm: return EVP_aes_256_gcm();
    case AeadSuite::kChaCha20Poly1305: return EVP_chacha20_poly1305();
    case AeadSuite::kNone: break;
  }
  return nullptr;
}

struct CtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using Ctx = std::unique_ptr<EVP_CIPHER_CTX, CtxFree>;

// EVP lengths are int: a record body is at most 1 GiB (the format ceiling), which fits.
bool FitsInt(size_t n) { return n <= static_cast<size_t>(INT_MAX); }

}  // namespace

std::string_view AeadSuiteName(AeadSuite suite) {
  switch (suite) {
    case AeadSuite::kNone: return "none";
    case AeadSuite::kAes256Gcm: return "aes-256-gcm";
    case AeadSuite::kChaCha20Poly1305: return "chacha20-poly1305";
  }
  return "unknown";
}

std::optional<AeadSuite> AeadSuiteFromId(uint8_t id) {
  if (id == kAeadSuiteAes256Gcm) return AeadSuite::kAes256Gcm;
  if (id == kAeadSuiteChaCha20Poly1305) return AeadSuite::kChaCha20Poly1305;
  return std::nullopt;
}


AeadSuite DetectAeadSuite() { return CpuHasAes() ? AeadSuite::kAes256Gcm : AeadSuite::kChaCha20Poly1305; }

void BuildAeadNonce(uint64_t segment_id, uint32_t record_counter, uint8_t out[kAeadNonceSize]) {
  EncodeFixed64(out, segment_id);
  EncodeFixed32(out + 8, record_counter);
}

Status AeadSeal(AeadSuite suite, const uint8_t key[kAeadKeySize], const uint8_t nonce[kAeadNonceSize],
                ByteView plain, uint8_t* out) {
  const EVP_CIPHER* cipher = CipherOf(suite);
  if (cipher == nullptr) return Status::InvalidArgument("no AEAD suite to seal with");
  if (!FitsInt(plain.size())) return Status::InvalidArgument("record body too large to seal");
  Ctx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  // The nonce length is set explicitly: 12 is GCM's default but spelling it keeps both suites
  // on the same layout whatever the provider defaults become.
  const bool ok = ctx != nullptr && EVP_EncryptInit_ex(ctx.get(), cipher, nullptr, nullptr, nullptr) == 1 &&
                  EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_IVLEN, kAeadNonceSize, nullptr) == 1 &&
                  EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, key, nonce) == 1 &&
                  (plain.empty() ||
                   EVP_EncryptUpdate(ctx.get(), out, &len, plain.data(), static_cast<int>(plain.size())) == 1) &&
                  EVP_EncryptFinal_ex(ctx.get(), out + len, &len) == 1 &&
                  EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_GET_TAG, kAeadTagSize, out + plain.size()) == 1;
  if (!ok) return Status::Internal("AEAD seal failed in OpenSSL");
  return Status::Ok();
}

bool AeadOpen(AeadSuite suite, const uint8_t key[kAeadKeySize], const uint8_t nonce[kAeadNonceSize],
              ByteView sealed, uint8_t* out) {
  const EVP_CIPHER* cipher = CipherOf(suite);
  if (cipher == nullptr || sealed.size() < kAeadTagSize || !FitsInt(sealed.size())) return false;
  const size_t n = sealed.size() - kAeadTagSize;
  // EVP wants a mutable tag buffer.
  uint8_t tag[kAeadTagSize];
  std::copy(sealed.begin() + static_cast<std::ptrdiff_t>(n), sealed.end(), tag);
  Ctx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  const bool ok = ctx != nullptr && EVP_DecryptInit_ex(ctx.get(), cipher, nullptr, nullptr, nullptr) == 1 &&
                  EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_IVLEN, kAeadNonceSize, nullptr) == 1 &&
                  EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, key, nonce) == 1 &&
                  (n == 0 || EVP_DecryptUpdate(ctx.get(), out, &len, sealed.data(), static_cast<int>(n)) == 1) &&
                  EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_TAG, kAeadTagSize, tag) == 1 &&
                  EVP_DecryptFinal_ex(ctx.get(), out + len, &len) == 1;
  // Update wrote unauthenticated plaintext before Final checked the tag: wipe it.
  if (!ok && n > 0) OPENSSL_cleanse(out, n);
  return ok;
}

}  // namespace ironbus::format
