// Verification, Argon2id minting and the reload diff of identities.h. The TOML loading is in
// identities_load.cc.
#include "security/identities.h"

#include <argon2.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sys/random.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <set>

#include "base/log.h"

namespace ironbus::security {
namespace {

constexpr size_t kDigestBytes = 32;

bool Sha256(std::string_view data, unsigned char out[kDigestBytes]) {
  unsigned int len = 0;
  return EVP_Digest(data.data(), data.size(), out, &len, EVP_sha256(), nullptr) == 1 && len == kDigestBytes;
}

Status FillRandom(unsigned char* buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    const ssize_t r = ::getrandom(buf + got, n - got, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return Status::IOError("getrandom failed", errno);
    got += static_cast<size_t>(r);
  }
  return Status::Ok();
}

// The dummy PHC of the unknown-user path: edge profile, random password, minted once per
// process. Empty if minting failed (logged); the verify then fails fast.
const Secret& DummyPhc() {
  static const Secret dummy = [] {
    unsigned char pw[16];
    if (!FillRandom(pw, sizeof(pw)).ok()) return Secret();
    Result<Secret> phc = HashPassword(std::string_view(reinterpret_cast<const char*>(pw), sizeof(pw)));
    OPENSSL_cleanse(pw, sizeof(pw));
    if (!phc.ok()) {
      logging::Error("security.dummy_phc_failed", {{"error", phc.status().ToString()}});
      return Secret();
    }
    return std::move(phc).value();
  }();
  return dummy;
}

bool IsB64(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/')) return false;
  }
  return true;
}

// "m=19456" -> 19456 (1..2^32-1); nullopt otherwise.
std::optional<uint32_t> ParamValue(std::string_view field, char key) {
  if (field.size() < 3 || field[0] != key || field[1] != '=') return std::nullopt;
  uint64_t v = 0;
  for (char c : field.substr(2)) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
    if (v > UINT32_MAX) return std::nullopt;
  }
  if (field.size() > 3 && field[2] == '0') return std::nullopt;
  return static_cast<uint32_t>(v);
}

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

}  // namespace

void WarmDummyPhc() { (void)DummyPhc(); }

std::string_view MechanismName(Mechanism m) {
  switch (m) {
    case Mechanism::kBearer: return "bearer";
    case Mechanism::kPassword: return "password";
    case Mechanism::kMtls: return "mtls";
  }
  return "bearer";
}

std::string_view AuthFailureName(AuthFailure f) {
  switch (f) {
    case AuthFailure::kNone: return "none";
    case AuthFailure::kNoMatchingToken: return "no_matching_token";
    case AuthFailure::kUnknownUser: return "unknown_user";
    case AuthFailure::kWrongPassword: return "wrong_password";
    case AuthFailure::kUnknownSan: return "unknown_san";
    case AuthFailure::kMalformed: return "malformed";
  }
  return "none";
}

Result<Secret> HashPassword(std::string_view password, const Argon2Params& params) {
  unsigned char salt[kArgon2SaltBytes];
  RETURN_IF_ERROR(FillRandom(salt, sizeof(salt)));
  const size_t encoded_len =
      argon2_encodedlen(params.t, params.m_kib, params.p, kArgon2SaltBytes, kArgon2HashBytes, Argon2_id);
  Secret encoded = Secret::OfSize(encoded_len);
  const int rc = argon2id_hash_encoded(params.t, params.m_kib, params.p, password.data(), password.size(), salt,
                                       sizeof(salt), kArgon2HashBytes, encoded.MutableBytesForFill(), encoded_len);
  OPENSSL_cleanse(salt, sizeof(salt));
  if (rc != ARGON2_OK) return Status::Internal(std::string("argon2id_hash_encoded: ") + argon2_error_message(rc));
  const std::string_view all = encoded.RevealBytesForUse();
  return Secret(all.substr(0, std::strlen(all.data())));
}

bool VerifyPassword(const Secret& phc, std::string_view password) {
  if (phc.empty()) return false;
  return argon2id_verify(phc.RevealBytesForUse().data(), password.data(), password.size()) == ARGON2_OK;
}

Status ValidatePhc(std::string_view phc) {
  const auto bad = [](const std::string& why) {
    return Status::InvalidArgument("not an Argon2id PHC string: " + why +
                                   " (expected $argon2id$v=19$m=M,t=T,p=P$<salt>$<hash>, as printed by "
                                   "`ironbus server passwd`; the value is not shown)");
  };
  constexpr std::string_view kPrefix = "$argon2id$v=19$";
  if (phc.substr(0, 9) != "$argon2id") return bad("the algorithm is not argon2id");
  if (phc.substr(0, kPrefix.size()) != kPrefix) return bad("the version is not v=19 (0x13)");
  std::string_view rest = phc.substr(kPrefix.size());
  std::vector<std::string_view> parts;
  for (size_t at; (at = rest.find('$')) != std::string_view::npos; rest.remove_prefix(at + 1)) {
    parts.push_back(rest.substr(0, at));
  }
  parts.push_back(rest);
  if (parts.size() != 3) return bad("wrong number of `$` fields");
  std::vector<std::string_view> params;
  std::string_view p = parts[0];
  for (size_t at; (at = p.find(',')) != std::string_view::npos; p.remove_prefix(at + 1)) params.push_back(p.substr(0, at));
  params.push_back(p);
  if (params.size() != 3) return bad("parameters must be m=..,t=..,p=..");
  const auto m = ParamValue(params[0], 'm');
  const auto t = ParamValue(params[1], 't');
  const auto par = ParamValue(params[2], 'p');
  if (!m || !t || !par) return bad("parameters must be m=..,t=..,p=.. with decimal numbers");
  if (*par < 1 || *par > 16) return bad("p must be 1..16");
  if (*t < 1 || *t > 64) return bad("t must be 1..64");
  if (*m < 8 * *par || *m > kMaxPhcMemoryKib) {
    return bad("m must be between 8*p and " + std::to_string(kMaxPhcMemoryKib) + " KiB");
  }
  if (!IsB64(parts[1]) || parts[1].size() < 11) return bad("the salt is not base64 of at least 8 bytes");
  if (!IsB64(parts[2]) || parts[2].size() < 22) return bad("the hash is not base64 of at least 16 bytes");
  return Status::Ok();
}

AuthResult IdentityTable::AuthenticateBearer(std::string_view token) const {
  AuthResult r;
  if (token.empty()) {
    r.failure = AuthFailure::kMalformed;
    return r;
  }
  unsigned char digest[kDigestBytes];
  if (!Sha256(token, digest)) {
    r.failure = AuthFailure::kMalformed;
    return r;
  }
  // Every slot is compared; the match is selected without a data-dependent early exit.
  const std::string_view all = digests_.RevealBytesForUse();
  size_t found = SIZE_MAX;
  for (size_t slot = 0; slot < digest_owner_.size(); ++slot) {
    const int diff = CRYPTO_memcmp(all.data() + slot * kDigestBytes, digest, kDigestBytes);
    const size_t mask = static_cast<size_t>(0) - static_cast<size_t>(diff == 0);  // all ones on a match
    found = (slot & mask) | (found & ~mask);
  }
  OPENSSL_cleanse(digest, sizeof(digest));
  if (found == SIZE_MAX) {
    r.failure = AuthFailure::kNoMatchingToken;
    return r;
  }
  r.identity = entries_[digest_owner_[found]].identity;
  return r;
}

AuthResult IdentityTable::AuthenticatePassword(std::string_view username, std::string_view password) const {
  AuthResult r;
  const auto it = by_username_.find(std::string(username));
  if (it == by_username_.end()) {
    // Same cost as a known user with one PHC string (spec 2.2, decided).
    password_verifies_.fetch_add(1, std::memory_order_relaxed);
    (void)VerifyPassword(DummyPhc(), password);
    r.failure = AuthFailure::kUnknownUser;
    return r;
  }
  const Entry& e = entries_[it->second];
  for (const Secret& phc : e.phcs) {
    password_verifies_.fetch_add(1, std::memory_order_relaxed);
    if (VerifyPassword(phc, password)) {
      r.identity = e.identity;
      return r;
    }
  }
  r.failure = AuthFailure::kWrongPassword;
  r.claimed_identity = e.identity.name;
  return r;
}

AuthResult IdentityTable::AuthenticateMtls(std::string_view san_identity) const {
  AuthResult r;
  if (san_identity.empty()) {
    r.failure = AuthFailure::kMalformed;
    return r;
  }
  const auto it = by_san_.find(std::string(san_identity));
  if (it == by_san_.end()) {
    r.failure = AuthFailure::kUnknownSan;
    return r;
  }
  r.identity = entries_[it->second].identity;
  return r;
}

bool IdentityTable::HasMechanism(Mechanism m) const {
  return std::any_of(entries_.begin(), entries_.end(), [m](const Entry& e) { return e.mechanism == m; });
}

std::vector<Identity> IdentityTable::identities() const {
  std::vector<Identity> out;
  for (const Entry& e : entries_) out.push_back(e.identity);
  return out;
}

std::string IdentityTable::Describe() const {
  std::string out;
  for (const Entry& e : entries_) {
    out += "identity " + e.identity.name + ": mechanism " + std::string(MechanismName(e.mechanism)) + ", scopes [" +
           e.identity.scopes.ToString() + "]";
    if (!e.identity.tenant.empty()) out += ", tenant " + e.identity.tenant;
    switch (e.mechanism) {
      case Mechanism::kBearer: out += ", " + std::to_string(e.digest_slots.size()) + " token digest(s)"; break;
      case Mechanism::kPassword:
        out += ", username " + e.username + ", " + std::to_string(e.phcs.size()) + " password hash(es)";
        break;
      case Mechanism::kMtls: out += ", san [" + Join(e.sans) + "]"; break;
    }
    out += "\n";
  }
  return out;
}

std::string IdentityDiff::ToString() const {
  return "added [" + Join(added) + "], removed [" + Join(removed) + "], changed [" + Join(changed) + "]";
}

IdentityDiff Diff(const IdentityTable& old_table, const IdentityTable& new_table) {
  using Entry = IdentityTable::Entry;
  const auto digest_set = [](const IdentityTable& t, const Entry& e) {
    std::multiset<std::string> s;  // compared as sets: order in the file is not a change
    for (size_t slot : e.digest_slots) {
      s.insert(std::string(t.digests_.RevealBytesForUse().substr(slot * kDigestBytes, kDigestBytes)));
    }
    return s;
  };
  const auto phc_set = [](const Entry& e) {
    std::multiset<std::string> s;
    for (const Secret& p : e.phcs) s.insert(std::string(p.RevealBytesForUse()));
    return s;
  };
  const auto same = [&](const Entry& a, const Entry& b) {
    if (!(a.identity == b.identity) || a.mechanism != b.mechanism || a.username != b.username) return false;
    if (std::multiset<std::string>(a.sans.begin(), a.sans.end()) !=
        std::multiset<std::string>(b.sans.begin(), b.sans.end())) {
      return false;
    }
    // Credential sets hold secret bytes: built, compared and wiped here, never printed.
    auto da = digest_set(old_table, a), db = digest_set(new_table, b);
    auto pa = phc_set(a), pb = phc_set(b);
    const bool eq = da == db && pa == pb;
    for (auto* set : {&da, &db, &pa, &pb}) {
      for (const std::string& s : *set) OPENSSL_cleanse(const_cast<char*>(s.data()), s.size());
    }
    return eq;
  };
  std::unordered_map<std::string, const Entry*> old_by_name;
  for (const Entry& e : old_table.entries_) old_by_name[e.identity.name] = &e;
  IdentityDiff d;
  for (const Entry& e : new_table.entries_) {
    const auto it = old_by_name.find(e.identity.name);
    if (it == old_by_name.end()) {
      d.added.push_back(e.identity.name);
    } else {
      if (!same(*it->second, e)) d.changed.push_back(e.identity.name);
      old_by_name.erase(it);
    }
  }
  for (const auto& [name, e] : old_by_name) d.removed.push_back(name);
  std::sort(d.added.begin(), d.added.end());
  std::sort(d.removed.begin(), d.removed.end());
  std::sort(d.changed.begin(), d.changed.end());
  return d;
}

}  // namespace ironbus::security
