// spec/security.md 6.4, the mandatory redaction test: build every secret-bearing value around a
// sentinel, render every structure, error and diagnostic that could hold it, and check that the
// sentinel never appears (and that a Secret renders as <redacted>).
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <sstream>
#include <vector>

#include "security/audit.h"
#include "security/identities.h"
#include "security/secret.h"
#include "security/secret_file.h"
#include "security_test_util.h"

namespace ironbus::security {
namespace {

constexpr std::string_view kTokenSentinel = "SENTINEL-TOKEN-5e7e1e5e7e1e5e7e1e5e7e1e";
constexpr std::string_view kPasswordSentinel = "SENTINEL-PASSWORD-5e7e1e";

std::string Sha256Hex(std::string_view token) {
  unsigned char d[32];
  unsigned int n = 0;
  EVP_Digest(token.data(), token.size(), d, &n, EVP_sha256(), nullptr);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : d) out += {kHex[c >> 4], kHex[c & 15]};
  return out;
}

class RedactionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    digest_ = Sha256Hex(kTokenSentinel);
    Result<Secret> phc = HashPassword(kPasswordSentinel, Argon2Params{.m_kib = 64, .t = 1, .p = 1});
    ASSERT_TRUE(phc.ok());
    phc_ = std::string(phc->RevealBytesForUse());
    // Pieces any leak would contain: the token, the password, the digest (and a long slice of
    // it), the PHC string, its salt and its hash.
    needles_ = {std::string(kTokenSentinel), std::string(kPasswordSentinel), digest_, digest_.substr(8, 24),
                phc_};
    const size_t salt_at = phc_.rfind('$', phc_.rfind('$') - 1) + 1;
    needles_.push_back(phc_.substr(salt_at, phc_.rfind('$') - salt_at));
    needles_.push_back(phc_.substr(phc_.rfind('$') + 1));
    needles_.push_back("SENTINELSENTINEL");
  }

  void ExpectClean(const std::string& rendered, const std::string& what) {
    rendered_count_++;
    for (const std::string& n : needles_) {
      EXPECT_EQ(rendered.find(n), std::string::npos) << what << " leaks `" << n << "`:\n" << rendered;
    }
  }

  std::string Table(const std::string& digest, const std::string& phc) {
    return "[[identity]]\nname = \"bearer-id\"\nscopes = [\"publish\"]\ntoken_hashes = [\"" + digest +
           "\"]\n[[identity]]\nname = \"password-id\"\nscopes = [\"subscribe\"]\nusername = \"user\"\n"
           "password_phc = [\"" + phc + "\"]\n";
  }

  std::string ErrorOf(const std::string& text) {
    auto t = IdentityTable::Parse(text, "auth.toml");
    EXPECT_FALSE(t.ok()) << text;
    return t.ok() ? "" : t.status().ToString();
  }

  std::string digest_;
  std::string phc_;
  std::vector<std::string> needles_;
  int rendered_count_ = 0;
};

TEST_F(RedactionTest, SecretsRenderAsRedacted) {
  for (std::string_view bytes : {kTokenSentinel, std::string_view(digest_), std::string_view(phc_)}) {
    const Secret s(bytes);
    std::ostringstream os;
    os << s;
    for (const std::string& r : {os.str(), s.ToString(), fmt::format("{}", s), fmt::format("{:>40}", s),
                                 ::testing::PrintToString(s)}) {
      EXPECT_NE(r.find("<redacted>"), std::string::npos) << r;
      ExpectClean(r, "Secret rendering");
    }
  }
  Result<Secret> hashed = HashPassword(kPasswordSentinel, Argon2Params{.m_kib = 64, .t = 1, .p = 1});
  std::ostringstream os;
  os << *hashed;
  EXPECT_EQ(os.str(), "<redacted>");
}

TEST_F(RedactionTest, TableDescriptionsDiffsAndAuditLinesHoldNoCredential) {
  auto a = IdentityTable::Parse(Table(digest_, phc_), "auth.toml");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ExpectClean((*a)->Describe(), "Describe");
  EXPECT_NE((*a)->Describe().find("1 token digest(s)"), std::string::npos);  // digests as a count
  // A rotation: same names, other credentials.
  Result<Secret> other = HashPassword("x", Argon2Params{.m_kib = 64, .t = 1, .p = 1});
  auto b = IdentityTable::Parse(Table(Sha256Hex("other"), std::string(other->RevealBytesForUse())), "auth.toml");
  ASSERT_TRUE(b.ok());
  const IdentityDiff d = Diff(**a, **b);
  EXPECT_EQ(d.changed.size(), 2u);
  ExpectClean(d.ToString(), "Diff");

  ManualClock clock;
  std::vector<std::string> lines;
  AuditLog log([&](std::string_view l) { lines.emplace_back(l); }, &clock);
  const AuthResult ok = (*a)->AuthenticateBearer(kTokenSentinel);
  ASSERT_TRUE(ok.ok());
  log.Authn(ok.identity->name, Mechanism::kBearer, true);
  const AuthResult bad = (*a)->AuthenticatePassword("user", "wrong");
  log.Authn("user", Mechanism::kPassword, bad.ok(), bad.failure);
  log.IdentityReload(d);
  for (const std::string& l : lines) ExpectClean(l, "audit line");
}

TEST_F(RedactionTest, LoadErrorsHoldNoCredential) {
  std::vector<std::string> errors = {
      // Digest one character short, one too long, with a non-hex character.
      ErrorOf(Table(digest_.substr(1), phc_)),
      ErrorOf(Table(digest_ + "a", phc_)),
      ErrorOf(Table(digest_.substr(0, 63) + "z", phc_)),
      // The same digest twice.
      ErrorOf(Table(digest_, phc_) + "[[identity]]\nname = \"again\"\nscopes = []\ntoken_hashes = [\"" + digest_ +
              "\"]\n"),
      // A PHC string with the wrong algorithm, version, parameters, or a broken salt.
      ErrorOf(Table(digest_, "$argon2i" + phc_.substr(9))),
      ErrorOf(Table(digest_, "$argon2id$v=19$m=1,t=1,p=1$U0VOVElORUxTRU5USU5FTA$SENTINELSENTINELSENTINEL")),
      ErrorOf(Table(digest_, phc_.substr(0, phc_.rfind('$')))),
      // A credential under an unknown key, and as the value of a misplaced key.
      ErrorOf(Table(digest_, phc_) + "[[identity]]\nname = \"x\"\nscopes = []\nsan = [\"s\"]\npassword = \"" +
              std::string(kPasswordSentinel) + "\"\n"),
      ErrorOf("token = \"" + std::string(kTokenSentinel) + "\"\n"),
      // Broken TOML right after and inside a credential.
      ErrorOf("[[identity]]\nname = \"a\"\nscopes = []\ntoken_hashes = [\"" + digest_ + "\"\n"),
      ErrorOf("[[identity]]\nname = \"a\"\nscopes = []\npassword_phc = [\"" + phc_ + "\n"),
      ErrorOf("[[identity]]\nname = \"a\"\nscopes = []\ntoken_hashes = [\"" + digest_ + "\" \"" + digest_ + "\"]\n"),
  };
  for (const std::string& e : errors) {
    EXPECT_FALSE(e.empty());
    ExpectClean(e, "load error");
  }
}

TEST_F(RedactionTest, SecretFileRefusalsNeverQuoteTheContents) {
  io::testing::TempDir dir;
  const std::string text = Table(digest_, phc_) + std::string(kTokenSentinel) + "\n";
  const std::string p = testing::WriteFileWithMode(dir.path(), "auth.toml", text, 0644);
  ExpectClean(CheckSecretFile(p, ::geteuid()).ToString(), "CheckSecretFile");
  ExpectClean(ReadSecretFile(p, ::geteuid()).status().ToString(), "ReadSecretFile");
  ExpectClean(IdentityTable::Load(p, ::geteuid()).status().ToString(), "IdentityTable::Load (mode)");
  ::chmod(p.c_str(), 0600);
  // Readable now, but the trailing bare token is not TOML.
  ExpectClean(IdentityTable::Load(p, ::geteuid()).status().ToString(), "IdentityTable::Load (parse)");
  ::setenv("IRONBUS_TEST_REDACT", std::string(kTokenSentinel).c_str(), 1);
  Result<Secret> env = ReadSecretFromEnv("IRONBUS_TEST_REDACT");
  ASSERT_TRUE(env.ok());
  ExpectClean(::testing::PrintToString(*env), "env secret");
  ::unsetenv("IRONBUS_TEST_REDACT");
  ExpectClean(ReadSecretFromEnv("IRONBUS_TEST_REDACT").status().ToString(), "env error");
}

}  // namespace
}  // namespace ironbus::security
