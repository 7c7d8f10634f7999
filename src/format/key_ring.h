// KeyRing: the at-rest keys one broker holds (spec/security.md 5.6). Key id -> 32-byte key,
// plus the one active id under which NEW segments are written; every other id is kept only to
// read segments written under it (rotation never re-encrypts history).
//
// Key id 0 is the "no key" sentinel and never a real key. A key loaded from a file gets the id
// DeriveKeyId(key): the first 8 bytes (LE) of SHA-256("IronBus at-rest key id v1" || 0x00 ||
// key), so an operator never pairs ids and files by hand and a different key can never pass
// for another one's id (a ring built by hand, as tests do, may pair any id with any key).
//
// Key bytes live in OPENSSL_cleanse-wiped buffers, are never printed (there is no accessor that
// formats them) and never leave this object except through KeyBytes() for a seal/open call.
//
// Thread safety: immutable once built; share it as std::shared_ptr<const KeyRing>.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"
#include "format/aead.h"

namespace ironbus::format {

class KeyRing {
 public:
  KeyRing() = default;
  ~KeyRing();
  KeyRing(const KeyRing&) = delete;
  KeyRing& operator=(const KeyRing&) = delete;

  static uint64_t DeriveKeyId(ByteView key);

  // InvalidArgument for id 0, a key that is not exactly 32 bytes, or an id already present.
  Status Add(uint64_t id, ByteView key);
  // Adds `key` under DeriveKeyId(key); returns the id. A key whose derived id would be 0 is
  // refused (probability 2^-64, but 0 must never name a key).
  Result<uint64_t> AddDerived(ByteView key);
  // The id new segments are written under; NotFound when it is not in the ring.
  Status SetActive(uint64_t id);
  void set_suite(AeadSuite suite) { suite_ = suite; }

  uint64_t active_id() const { return active_id_; }  // kNoKeyId when none
  bool has_active() const { return active_id_ != kNoKeyId; }
  AeadSuite suite() const { return suite_; }          // for new segments
  bool Has(uint64_t id) const { return keys_.count(id) != 0; }
  // The 32 key bytes for `id`, or nullptr. Valid while the ring lives.
  const uint8_t* KeyBytes(uint64_t id) const;
  std::vector<uint64_t> ids() const;

 private:
  using Key = std::array<uint8_t, kAeadKeySize>;
  std::map<uint64_t, std::unique_ptr<Key>> keys_;  // unique_ptr: the bytes never move
  uint64_t active_id_ = kNoKeyId;
  AeadSuite suite_ = AeadSuite::kAes256Gcm;
};

}  // namespace ironbus::format
