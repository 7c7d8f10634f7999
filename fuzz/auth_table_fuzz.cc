// libFuzzer target: the identity table loader (`--auth-config`, spec/security.md 6.3). A hostile
// or mistyped table must give an error, never a crash or a hang, and a table that loads must
// describe itself, diff as unchanged against itself and answer every verification.
//
// Input: the whole input is the TOML text (given to IdentityTable::Parse; the file permission
// check has its own unit tests). Password verification is not called: Argon2id at the edge
// profile would make each input cost ~100 ms.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "security/identities.h"

using namespace ironbus;  // NOLINT

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto table = security::IdentityTable::Parse(text, "auth.toml");
  if (!table.ok()) {
    if (table.status().message().empty()) std::abort();
    return 0;
  }
  const security::IdentityTable& t = **table;
  (void)t.Describe();
  if (!security::Diff(t, t).empty()) std::abort();
  const auto bearer = t.AuthenticateBearer(text);
  if (bearer.ok() && !t.HasMechanism(security::Mechanism::kBearer)) std::abort();
  (void)t.AuthenticateMtls(text);
  if (t.identities().size() != t.size()) std::abort();
  return 0;
}
