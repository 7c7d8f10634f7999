// At-rest AEAD primitives (spec/security.md 5): the two suites, the nonce layout, seal/open of
// one record body, and the startup suite choice. Pure code over caller buffers; OpenSSL EVP.
//
// Nonce = segment_id u64 LE || record_counter u32 LE (12 bytes), record_counter being the
// record's ordinal inside its segment (seq - base_seq). Never stored, never random: uniqueness
// rests on segment ids never being reused and a segment refusing its 2^32-th record.
//
// Thread safety: free functions; each call uses its own EVP context.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "base/bytes.h"
#include "base/cpu_features.h"
#include "base/result.h"
#include "format/record_format.h"

namespace ironbus::format {

enum class AeadSuite : uint8_t {
  kNone = kAeadSuiteNone,
  kAes256Gcm = kAeadSuiteAes256Gcm,
  kChaCha20Poly1305 = kAeadSuiteChaCha20Poly1305,
};

// "aes-256-gcm", "chacha20-poly1305", "none".
std::string_view AeadSuiteName(AeadSuite suite);
// The suite for a stored suite byte; nullopt for 0 and every value this build does not know.
std::optional<AeadSuite> AeadSuiteFromId(uint8_t id);

// The suite for new segments when the operator says "auto": AES-256-GCM with AES
// instructions, ChaCha20-Poly1305 otherwise. Tests force either by naming it.
AeadSuite DetectAeadSuite();

void BuildAeadNonce(uint64_t segment_id, uint32_t record_counter, uint8_t out[kAeadNonceSize]);

// Encrypts `plain` into out[0, plain.size()) and writes the tag at out[plain.size(),
// plain.size() + 16). `out` may equal plain.data() (in place). No associated data.
// InvalidArgument for kNone, Internal when OpenSSL fails.
Status AeadSeal(AeadSuite suite, const uint8_t key[kAeadKeySize], const uint8_t nonce[kAeadNonceSize],
                ByteView plain, uint8_t* out);

// Verifies and decrypts `sealed` (ciphertext || tag) into out[0, sealed.size() - 16). Returns
// false on a bad tag, a short input or any OpenSSL failure; then out holds no plaintext (it
// is wiped), so a failed decrypt never hands plaintext to anyone.
bool AeadOpen(AeadSuite suite, const uint8_t key[kAeadKeySize], const uint8_t nonce[kAeadNonceSize],
              ByteView sealed, uint8_t* out);

}  // namespace ironbus::format
