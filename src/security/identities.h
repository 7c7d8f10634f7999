// The identity table (`--auth-config`, spec/security.md 2 and 6.3): who may connect, with which
// credential, holding which scopes and which tenant; and the three verifications of the Connect
// handshake.
//
// File format (TOML; docs/security.md has a full example):
//   [[identity]]                       repeated; `name` unique (1..128 printable ASCII, no space)
//   name = "svc-producer"
//   scopes = ["publish"]               required; subset of publish/subscribe/admin; [] = none
//   tenant = "acme"                    optional; 1..64 bytes of [A-Za-z0-9_-]
//   and exactly one credential kind:
//   token_hashes = ["<64 hex>", ...]   SHA-256 of bearer tokens, either case accepted
//   username = "svc" + password_phc = ["$argon2id$v=19$m=19456,t=2,p=1$...", ...]
//   san = ["spiffe://edge/producer", ...]   exact mTLS SAN strings
//   [[tenant]]                         optional: name, max_connections, max_streams,
//                                      max_storage_bytes, export, import (string lists).
// Unknown keys, duplicate identity names, usernames, SAN strings, digests or tenant names are
// errors with file:line:col. Parsed [[tenant]] ceilings are stored for the server but enforcing
// them (and export/import) is out of scope of this library.
//
// Secrets: digests and PHC strings live only in Secret buffers; errors, Describe() and Diff()
// name identities and counts, never a credential. The TOML text and the parser's copies of
// string values are wiped after parsing.
//
// Verification (each gives one AuthResult; the wire answer for every failure is the same
// `Authorization Violation`, the failure reason is for the audit log only):
//   bearer    SHA-256 of the token, then CRYPTO_memcmp against every digest of every bearer
//             identity, no early exit, so time does not depend on which digest matched.
//   password  argon2id_verify against the user's PHC strings (m/t/p/salt read from each string,
//             so a rotation may mix profiles), stopping at the first match. An unknown username
//             runs one verify against a fixed dummy PHC (edge profile, minted once per process,
//             at the first load of a table with password identities), so both paths cost one
//             verify. Residual: a user with k PHC strings (mid-rotation) costs k verifies on a
//             wrong password. The broker runs these on a pool of max_concurrent_password_verifies
//             threads (server/session_auth.cc), never on an io thread.
//   mtls      exact string match of the SAN identity (first URI SAN, else first DNS SAN; the
//             caller extracts it from the verified certificate).
//
// Reload (spec 2.4, decided): Load a whole new table; on success swap the shared_ptr the server
// holds (all or nothing); Diff(old, new) gives the identity_reload audit event. Connections keep
// the Identity they authenticated with.
//
// Thread safety: a loaded table is immutable; every const method may be called concurrently.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/result.h"
#include "security/scopes.h"
#include "security/secret.h"
#include "security/secret_file.h"

namespace ironbus::security {

// Same numbers as the Connect auth section's mechanism byte (protocol/wire_format.h kAuth*).
enum class Mechanism : uint8_t { kBearer = 1, kPassword = 2, kMtls = 3 };
std::string_view MechanismName(Mechanism m);  // "bearer", "password", "mtls"

// What a connection is pinned to after a successful Connect.
struct Identity {
  std::string name;
  ScopeSet scopes;
  std::string tenant;  // "" = no tenant (names pass through unchanged)
  friend bool operator==(const Identity&, const Identity&) = default;
};

// Why an authentication failed: for the audit log only, never for the wire.
enum class AuthFailure : uint8_t {
  kNone,
  kNoMatchingToken,   // bearer: no digest matched
  kUnknownUser,       // password: no such username (the dummy verify ran)
  kWrongPassword,     // password: no PHC of the user matched
  kUnknownSan,        // mtls: no identity has this SAN string
  kMalformed,         // empty credential
};
std::string_view AuthFailureName(AuthFailure f);  // "no_matching_token", "unknown_user", ...

struct AuthResult {
  std::optional<Identity> identity;  // set on success
  AuthFailure failure = AuthFailure::kNone;
  // On kWrongPassword: the name of the identity whose username was presented (for the audit
  // event's `identity`, so an operator sees which account is being guessed). Empty otherwise.
  std::string claimed_identity;
  bool ok() const { return identity.has_value(); }
};

// Optional [[tenant]] table: stored, not enforced here.
struct TenantSpec {
  std::string name;
  std::optional<uint64_t> max_connections;
  std::optional<uint64_t> max_streams;
  std::optional<uint64_t> max_storage_bytes;
  std::vector<std::string> exports;
  std::vector<std::string> imports;
  friend bool operator==(const TenantSpec&, const TenantSpec&) = default;
};

// ---- Argon2id (spec 2.2) ----
struct Argon2Params {
  uint32_t m_kib = 19456;  // 19 MiB, the edge profile (OWASP minimum)
  uint32_t t = 2;
  uint32_t p = 1;
};
inline constexpr size_t kArgon2SaltBytes = 16;
inline constexpr size_t kArgon2HashBytes = 32;
// Load refuses PHC strings asking for more memory than this (1 GiB): a mistyped m must not take
// the device down at the first login.
inline constexpr uint32_t kMaxPhcMemoryKib = 1u << 20;

// A PHC string for `password`: Argon2id v0x13, a fresh 16-byte salt from getrandom(2).
// Tests may pass cheaper params; the broker and `ironbus server passwd` use the default.
Result<Secret> HashPassword(std::string_view password, const Argon2Params& params = {});
// argon2id_verify (constant-time compare inside libargon2).
bool VerifyPassword(const Secret& phc, std::string_view password);
// Shape check used at load: `$argon2id$v=19$m=M,t=T,p=P$<salt b64>$<hash b64>`, bounds on M/T/P.
// The message never quotes the string.
Status ValidatePhc(std::string_view phc);
// Mints the process-wide dummy PHC of the unknown-user path now (Parse does this for a table
// with password identities, so the first unknown-user attempt does not pay for the minting).
void WarmDummyPhc();

class IdentityTable;

// Reload audit: names only, each list sorted.
struct IdentityDiff {
  std::vector<std::string> added;
  std::vector<std::string> removed;
  std::vector<std::string> changed;  // same name; scopes, tenant or any credential differ
  bool empty() const { return added.empty() && removed.empty() && changed.empty(); }
  std::string ToString() const;  // "added [a], removed [], changed [b]"
};
IdentityDiff Diff(const IdentityTable& old_table, const IdentityTable& new_table);

class IdentityTable {
 public:
  // CheckSecretFile (`*condition` gets a refusal's condition), then ReadSecretFile, then Parse.
  static Result<std::shared_ptr<const IdentityTable>> Load(const std::string& path, uid_t expected_uid,
                                                           SecretFileCondition* condition = nullptr);
  // Parses TOML text; `source_name` prefixes every error ("<source>:<line>:<col>: ...").
  // Every error is reported (joined by newlines) in one InvalidArgument.
  static Result<std::shared_ptr<const IdentityTable>> Parse(std::string_view toml_text,
                                                            const std::string& source_name);

  AuthResult AuthenticateBearer(std::string_view token) const;
  AuthResult AuthenticatePassword(std::string_view username, std::string_view password) const;
  AuthResult AuthenticateMtls(std::string_view san_identity) const;

  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  // Whether any identity uses `m` (mtls: counts toward "auth identity configured", spec 1.2).
  bool HasMechanism(Mechanism m) const;
  std::vector<Identity> identities() const;
  const std::vector<TenantSpec>& tenants() const { return tenants_; }
  // One line per identity: name, mechanism, scopes, tenant, credential count. No credential.
  std::string Describe() const;
  // argon2id_verify calls made by AuthenticatePassword (dummy ones included).
  uint64_t password_verifies() const { return password_verifies_.load(std::memory_order_relaxed); }

  IdentityTable(const IdentityTable&) = delete;
  IdentityTable& operator=(const IdentityTable&) = delete;
  IdentityTable() = default;  // empty table; use Parse/Load

 private:
  struct Entry {
    Identity identity;
    Mechanism mechanism = Mechanism::kBearer;
    std::string username;             // password only
    std::vector<Secret> phcs;         // password only
    std::vector<std::string> sans;    // mtls only
    std::vector<size_t> digest_slots; // bearer only: indexes into digests_
  };
  friend IdentityDiff Diff(const IdentityTable&, const IdentityTable&);
  friend class TableBuilder;

  std::vector<Entry> entries_;
  Secret digests_;                  // 32 bytes per slot, contiguous
  std::vector<size_t> digest_owner_;  // slot -> entries_ index
  std::unordered_map<std::string, size_t> by_username_;
  std::unordered_map<std::string, size_t> by_san_;
  std::vector<TenantSpec> tenants_;
  mutable std::atomic<uint64_t> password_verifies_{0};
};

}  // namespace ironbus::security
