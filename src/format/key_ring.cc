#include "format/key_ring.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cstring>
#include <string>
#include <string_view>

namespace ironbus::format {
namespace {
// Domain separation: the id is a hash of the key used for nothing else.
constexpr std::string_view kKeyIdLabel = "IronBus at-rest key id v1";
}  // namespace

KeyRing::~KeyRing() {
  for (auto& [id, key] : keys_) OPENSSL_cleanse(key->data(), key->size());
}

uint64_t KeyRing::DeriveKeyId(ByteView key) {
  uint8_t digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  const uint8_t zero = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const bool ok = ctx != nullptr && EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1 &&
                  EVP_DigestUpdate(ctx, kKeyIdLabel.data(), kKeyIdLabel.size()) == 1 &&
                  EVP_DigestUpdate(ctx, &zero, 1) == 1 && EVP_DigestUpdate(ctx, key.data(), key.size()) == 1 &&
                  EVP_DigestFinal_ex(ctx, digest, &digest_len) == 1;
  EVP_MD_CTX_free(ctx);
  // A failed digest yields the sentinel, which AddDerived refuses.
  if (!ok || digest_len < 8) return kNoKeyId;
  const uint64_t id = DecodeFixed64(digest);
  OPENSSL_cleanse(digest, sizeof(digest));
  return id;
}

Status KeyRing::Add(uint64_t id, ByteView key) {
  if (id == kNoKeyId) return Status::InvalidArgument("key id 0 is the no-key sentinel");
  if (key.size() != kAeadKeySize) {
    return Status::InvalidArgument("an at-rest key is exactly 32 bytes, got " + std::to_string(key.size()));
  }
  if (keys_.count(id) != 0) return Status::InvalidArgument("key id " + std::to_string(id) + " loaded twice");
  auto bytes = std::make_unique<Key>();
  std::memcpy(bytes->data(), key.data(), kAeadKeySize);
  keys_.emplace(id, std::move(bytes));
  return Status::Ok();
}

Result<uint64_t> KeyRing::AddDerived(ByteView key) {
  const uint64_t id = DeriveKeyId(key);
  if (id == kNoKeyId) return Status::InvalidArgument("key refused: its derived id is the no-key sentinel");
  RETURN_IF_ERROR(Add(id, key));
  return id;
}

Status KeyRing::SetActive(uint64_t id) {
  if (keys_.count(id) == 0) return Status::NotFound("key id " + std::to_string(id) + " is not loaded");
  active_id_ = id;
  return Status::Ok();
}

const uint8_t* KeyRing::KeyBytes(uint64_t id) const {
  auto it = keys_.find(id);
  return it == keys_.end() ? nullptr : it->second->data();
}

std::vector<uint64_t> KeyRing::ids() const {
  std::vector<uint64_t> out;
  for (const auto& [id, key] : keys_) out.push_back(id);
  return out;
}

}  // namespace ironbus::format
