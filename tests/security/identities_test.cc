// spec/security.md 2 and 6.3: the identity table file and the three verifications.
#include "security/identities.h"

#include <argon2.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <rapidcheck/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>

#include "security_test_util.h"

namespace ironbus::security {
namespace {

using testing::WriteFileWithMode;

// Cheap Argon2id for tests that only need a valid PHC; one test uses the edge profile.
constexpr Argon2Params kCheap{.m_kib = 64, .t = 1, .p = 1};

std::string Sha256Hex(std::string_view token) {
  unsigned char d[32];
  unsigned int n = 0;
  EVP_Digest(token.data(), token.size(), d, &n, EVP_sha256(), nullptr);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : d) out += {kHex[c >> 4], kHex[c & 15]};
  return out;
}

std::string Upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
  return s;
}

std::string CheapPhc(std::string_view password) {
  Result<Secret> phc = HashPassword(password, kCheap);
  EXPECT_TRUE(phc.ok()) << phc.status().ToString();
  return std::string(phc->RevealBytesForUse());
}

std::shared_ptr<const IdentityTable> MustParse(const std::string& text) {
  auto t = IdentityTable::Parse(text, "auth.toml");
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return t.ok() ? *t : nullptr;
}

std::string ParseError(const std::string& text) {
  auto t = IdentityTable::Parse(text, "auth.toml");
  EXPECT_FALSE(t.ok()) << text;
  return t.ok() ? "" : t.status().message();
}

TEST(IdentitiesTest, BearerMatchesAnyDigestOfAnyIdentityEitherCase) {
  const std::string a1 = Sha256Hex("token-a1"), a2 = Sha256Hex("token-a2"), b = Sha256Hex("token-b");
  auto t = MustParse("[[identity]]\nname = \"a\"\nscopes = [\"publish\"]\ntoken_hashes = [\"" + a1 + "\", \"" +
                     Upper(a2) + "\"]\n\n[[identity]]\nname = \"b\"\nscopes = [\"subscribe\", \"admin\"]\n"
                     "tenant = \"acme_1\"\ntoken_hashes = [\"" + b + "\"]\n");
  ASSERT_NE(t, nullptr);
  AuthResult r = t->AuthenticateBearer("token-a1");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.identity->name, "a");
  EXPECT_EQ(r.identity->scopes.ToString(), "publish");
  r = t->AuthenticateBearer("token-a2");  // configured in upper case
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.identity->name, "a");
  r = t->AuthenticateBearer("token-b");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.identity->name, "b");
  EXPECT_EQ(r.identity->tenant, "acme_1");
  EXPECT_EQ(r.identity->scopes.ToString(), "subscribe,admin");
  r = t->AuthenticateBearer("token-c");
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.failure, AuthFailure::kNoMatchingToken);
  EXPECT_EQ(t->AuthenticateBearer("").failure, AuthFailure::kMalformed);
  // The digest itself is not a token.
  EXPECT_FALSE(t->AuthenticateBearer(a1).ok());
  EXPECT_TRUE(t->HasMechanism(Mechanism::kBearer));
  EXPECT_FALSE(t->HasMechanism(Mechanism::kPassword));
}

TEST(IdentitiesTest, MalformedDigestsAreRefusedAtLoad) {
  const std::string good = Sha256Hex("x");
  for (const std::string& bad : {good.substr(1), good + "0", good.substr(0, 63) + "g", std::string()}) {
    const std::string e = ParseError("[[identity]]\nname = \"a\"\nscopes = []\ntoken_hashes = [\"" + bad + "\"]\n");
    EXPECT_NE(e.find("auth.toml:4:"), std::string::npos) << e;
    EXPECT_NE(e.find("token_hashes[0]"), std::string::npos) << e;
  }
  // The same digest on two identities is ambiguous.
  const std::string e = ParseError("[[identity]]\nname = \"a\"\nscopes = []\ntoken_hashes = [\"" + good +
                                   "\"]\n[[identity]]\nname = \"b\"\nscopes = []\ntoken_hashes = [\"" + Upper(good) +
                                   "\"]\n");
  EXPECT_NE(e.find("already given to identity `a`"), std::string::npos) << e;
}

TEST(IdentitiesTest, UnknownKeysAndStructureErrorsNameFileAndLine) {
  std::string e = ParseError("[[identity]]\nname = \"a\"\nscopes = []\nsan = [\"x\"]\ncolour = \"red\"\n");
  EXPECT_NE(e.find("auth.toml:5:"), std::string::npos) << e;
  EXPECT_NE(e.find("unknown key `colour`"), std::string::npos) << e;
  e = ParseError("[[identity]]\nname = \"a\"\nscopes = []\nsan = [\"x\"]\n[extra]\nk = 1\n");
  EXPECT_NE(e.find("unknown key `extra`"), std::string::npos) << e;
  e = ParseError("[[identity]]\nname = \"a\"\nscopes = [\"read\"]\nsan = [\"x\"]\n");
  EXPECT_NE(e.find("unknown scope `read`"), std::string::npos) << e;
  e = ParseError("[[identity]]\nname = \"a\"\nsan = [\"x\"]\n");
  EXPECT_NE(e.find("`scopes` is required"), std::string::npos) << e;
  e = ParseError("[[identity]]\nname = \"a\"\nscopes = []\n");
  EXPECT_NE(e.find("exactly one credential kind"), std::string::npos) << e;
  e = ParseError("[[identity]]\nname = \"a\"\nscopes = []\nsan = [\"x\"]\ntoken_hashes = [\"" + Sha256Hex("t") + "\"]\n");
  EXPECT_NE(e.find("exactly one credential kind"), std::string::npos) << e;
  e = ParseError("[[identity]]\nname = \"a\"\nscopes = []\nsan = [\"x\"]\n[[identity]]\nname = \"a\"\nscopes = []\n"
                 "san = [\"y\"]\n");
  EXPECT_NE(e.find("auth.toml:6:"), std::string::npos) << e;
  EXPECT_NE(e.find("used twice"), std::string::npos) << e;
  e = ParseError("[[identity]]\nname = \"a\"\nscopes = []\ntenant = \"a.b\"\nsan = [\"x\"]\n");
  EXPECT_NE(e.find("`tenant` must be 1..64"), std::string::npos) << e;
  e = ParseError("[[identity]]\nname = \"a\"\nscopes = []\ntenant = \"" + std::string(65, 't') + "\"\nsan = [\"x\"]\n");
  EXPECT_NE(e.find("`tenant` must be 1..64"), std::string::npos) << e;
  e = ParseError("[[identity]]\nname = \"a\"\nscopes = []\nusername = \"u\"\n");
  EXPECT_NE(e.find("`password_phc` is required"), std::string::npos) << e;
  e = ParseError("[[identity]]\nname = \"a b\"\nscopes = []\nsan = [\"x\"]\n");
  EXPECT_NE(e.find("identity name"), std::string::npos) << e;
  e = ParseError("identity = 3\n");
  EXPECT_NE(e.find("[[identity]]"), std::string::npos) << e;
  // Every error is reported, not only the first.
  e = ParseError("[[identity]]\nname = \"a\"\nscopes = []\nsan = [\"x\"]\nk1 = 1\nk2 = 2\n");
  EXPECT_NE(e.find("`k1`"), std::string::npos) << e;
  EXPECT_NE(e.find("`k2`"), std::string::npos) << e;
  // Not TOML at all.
  e = ParseError("[[identity]\n");
  EXPECT_NE(e.find("auth.toml:1:"), std::string::npos) << e;
  // A character toml++ 3.3.0 mishandles (base/toml_hazard.h) is refused before parsing.
  e = ParseError("# \xce\xb4\n");
  EXPECT_NE(e.find("U+03B4"), std::string::npos) << e;
}

TEST(IdentitiesTest, EmptyFileIsAnEmptyTable) {
  auto t = MustParse("# nobody yet\n");
  ASSERT_NE(t, nullptr);
  EXPECT_TRUE(t->empty());
  EXPECT_FALSE(t->AuthenticateBearer("x").ok());
}

TEST(IdentitiesTest, PasswordMintAndVerifyWithTheEdgeProfile) {
  Result<Secret> phc = HashPassword("correct horse battery staple");  // m=19456, t=2, p=1 (~100 ms)
  ASSERT_TRUE(phc.ok()) << phc.status().ToString();
  const std::string s(phc->RevealBytesForUse());
  EXPECT_EQ(s.rfind("$argon2id$v=19$m=19456,t=2,p=1$", 0), 0u) << s;
  EXPECT_TRUE(ValidatePhc(s).ok());
  EXPECT_TRUE(VerifyPassword(*phc, "correct horse battery staple"));
  EXPECT_FALSE(VerifyPassword(*phc, "correct horse battery stapl"));
  // libargon2 agrees.
  EXPECT_EQ(argon2id_verify(s.c_str(), "correct horse battery staple", 28), ARGON2_OK);
  // A fresh salt each time.
  Result<Secret> again = HashPassword("correct horse battery staple", kCheap);
  ASSERT_TRUE(again.ok());
  EXPECT_NE(std::string(again->RevealBytesForUse()).substr(30), s.substr(30));
}

TEST(IdentitiesTest, PasswordIdentitiesAndTheUnknownUserPath) {
  const std::string old_phc = CheapPhc("old-pw"), new_phc = CheapPhc("new-pw");
  auto t = MustParse("[[identity]]\nname = \"svc\"\nscopes = [\"publish\"]\nusername = \"svc-producer\"\n"
                     "password_phc = [\"" + old_phc + "\", \"" + new_phc + "\"]\n");
  ASSERT_NE(t, nullptr);
  AuthResult r = t->AuthenticatePassword("svc-producer", "new-pw");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.identity->name, "svc");
  EXPECT_TRUE(t->AuthenticatePassword("svc-producer", "old-pw").ok());  // additive rotation
  const uint64_t before = t->password_verifies();
  r = t->AuthenticatePassword("svc-producer", "nope");
  EXPECT_EQ(r.failure, AuthFailure::kWrongPassword);
  EXPECT_EQ(r.claimed_identity, "svc");
  EXPECT_EQ(t->password_verifies() - before, 2u);  // every PHC of the user
  // Unknown user: exactly one verify (against the dummy), same wire result.
  r = t->AuthenticatePassword("svc-consumer", "new-pw");
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.failure, AuthFailure::kUnknownUser);
  EXPECT_TRUE(r.claimed_identity.empty());
  EXPECT_EQ(t->password_verifies() - before, 3u);
  // Usernames are exact.
  EXPECT_FALSE(t->AuthenticatePassword("SVC-producer", "new-pw").ok());
}

TEST(IdentitiesTest, BadPhcStringsAreRefusedAtLoad) {
  const std::string good = CheapPhc("pw");
  const std::string tail = good.substr(good.find("$m="));  // "$m=64,t=1,p=1$salt$hash"
  for (const std::string& bad :
       {std::string("plaintext"), "$argon2i$v=19" + tail, "$argon2id$v=16" + tail,
        std::string("$argon2id$v=19$m=64,t=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"),
        std::string("$argon2id$v=19$m=4,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"),
        std::string("$argon2id$v=19$m=2000000,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"),
        std::string("$argon2id$v=19$m=64,t=1,p=1$c2Fs$aGFzaGhhc2hoYXNoaGFzaA"),
        std::string("$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$!!")}) {
    const std::string e = ParseError("[[identity]]\nname = \"u\"\nscopes = []\nusername = \"u\"\npassword_phc = [\"" +
                                     bad + "\"]\n");
    EXPECT_NE(e.find("password_phc[0] is not an Argon2id PHC string"), std::string::npos) << e;
  }
  // Duplicate usernames.
  const std::string e = ParseError("[[identity]]\nname = \"a\"\nscopes = []\nusername = \"u\"\npassword_phc = [\"" +
                                   good + "\"]\n[[identity]]\nname = \"b\"\nscopes = []\nusername = \"u\"\n"
                                   "password_phc = [\"" + good + "\"]\n");
  EXPECT_NE(e.find("username `u` is already used"), std::string::npos) << e;
}

TEST(IdentitiesTest, MtlsIsExactMatchOnly) {
  auto t = MustParse("[[identity]]\nname = \"edge\"\nscopes = [\"publish\"]\n"
                     "san = [\"spiffe://edge/producer\", \"producer.edge.example\"]\n");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->AuthenticateMtls("spiffe://edge/producer").identity->name, "edge");
  EXPECT_TRUE(t->AuthenticateMtls("producer.edge.example").ok());
  for (const char* near : {"spiffe://edge/producer/", "spiffe://edge/produce", "SPIFFE://edge/producer",
                           "*.edge.example", "x.producer.edge.example", ""}) {
    EXPECT_FALSE(t->AuthenticateMtls(near).ok()) << near;
  }
  EXPECT_EQ(t->AuthenticateMtls("other").failure, AuthFailure::kUnknownSan);
  const std::string e = ParseError("[[identity]]\nname = \"a\"\nscopes = []\nsan = [\"x\"]\n[[identity]]\n"
                                   "name = \"b\"\nscopes = []\nsan = [\"x\"]\n");
  EXPECT_NE(e.find("san `x` is already used"), std::string::npos) << e;
}

TEST(IdentitiesTest, TenantTablesAreStored) {
  auto t = MustParse("[[tenant]]\nname = \"acme\"\nmax_connections = 10\nmax_storage_bytes = 1048576\n"
                     "export = [\"orders.>\"]\n\n[[identity]]\nname = \"a\"\nscopes = []\ntenant = \"acme\"\n"
                     "san = [\"x\"]\n");
  ASSERT_NE(t, nullptr);
  ASSERT_EQ(t->tenants().size(), 1u);
  EXPECT_EQ(t->tenants()[0].name, "acme");
  EXPECT_EQ(t->tenants()[0].max_connections, 10u);
  EXPECT_FALSE(t->tenants()[0].max_streams.has_value());
  EXPECT_EQ(t->tenants()[0].max_storage_bytes, 1048576u);
  EXPECT_EQ(t->tenants()[0].exports, std::vector<std::string>{"orders.>"});
  std::string e = ParseError("[[tenant]]\nname = \"acme\"\nmax_conns = 1\n");
  EXPECT_NE(e.find("unknown key `max_conns`"), std::string::npos) << e;
  e = ParseError("[[tenant]]\nname = \"acme\"\n[[tenant]]\nname = \"acme\"\n");
  EXPECT_NE(e.find("declared twice"), std::string::npos) << e;
}

TEST(IdentitiesTest, LoadRunsThePermissionCheckFirst) {
  io::testing::TempDir dir;
  const std::string text = "[[identity]]\nname = \"a\"\nscopes = []\nsan = [\"x\"]\n";
  const std::string p = WriteFileWithMode(dir.path(), "auth.toml", text, 0640);
  SecretFileCondition c{};
  auto t = IdentityTable::Load(p, ::geteuid(), &c);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(c, SecretFileCondition::kGroupWorldReadable);
  ::chmod(p.c_str(), 0600);
  t = IdentityTable::Load(p, ::geteuid());
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ((*t)->size(), 1u);
  // Errors name the real path.
  const std::string q = WriteFileWithMode(dir.path(), "bad.toml", "x = 1\n", 0600);
  t = IdentityTable::Load(q, ::geteuid());
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find(q + ":1:"), std::string::npos) << t.status().message();
}

TEST(IdentitiesTest, DiffNamesAddedRemovedChanged) {
  const std::string d1 = Sha256Hex("1"), d2 = Sha256Hex("2");
  auto a = MustParse("[[identity]]\nname = \"keep\"\nscopes = [\"publish\"]\ntoken_hashes = [\"" + d1 + "\"]\n"
                     "[[identity]]\nname = \"gone\"\nscopes = []\nsan = [\"g\"]\n"
                     "[[identity]]\nname = \"rotated\"\nscopes = []\ntoken_hashes = [\"" + d2 + "\"]\n"
                     "[[identity]]\nname = \"rescoped\"\nscopes = [\"admin\"]\nsan = [\"r\"]\n");
  auto b = MustParse("[[identity]]\nname = \"rescoped\"\nscopes = [\"admin\", \"publish\"]\nsan = [\"r\"]\n"
                     "[[identity]]\nname = \"rotated\"\nscopes = []\ntoken_hashes = [\"" + Upper(d2) + "\", \"" +
                     Sha256Hex("3") + "\"]\n"
                     "[[identity]]\nname = \"keep\"\nscopes = [\"publish\"]\ntoken_hashes = [\"" + Upper(d1) + "\"]\n"
                     "[[identity]]\nname = \"new\"\nscopes = []\nsan = [\"n\"]\n");
  ASSERT_TRUE(a && b);
  const IdentityDiff d = Diff(*a, *b);
  EXPECT_EQ(d.added, std::vector<std::string>{"new"});
  EXPECT_EQ(d.removed, std::vector<std::string>{"gone"});
  EXPECT_EQ(d.changed, (std::vector<std::string>{"rescoped", "rotated"}));
  EXPECT_EQ(d.ToString(), "added [new], removed [gone], changed [rescoped, rotated]");
  EXPECT_TRUE(Diff(*a, *a).empty());
}

// Property: any table that loads diffs as unchanged against a re-parse of its own text, and its
// names and scopes survive the round trip.
TEST(IdentitiesTest, PropertyLoadedTablesDiffUnchangedAgainstThemselves) {
  const bool ok = rc::check([] {
    const int n = *rc::gen::inRange(0, 6);
    std::string text;
    std::vector<std::pair<std::string, uint8_t>> want;
    for (int i = 0; i < n; ++i) {
      const uint8_t bits = *rc::gen::inRange<uint8_t>(0, 8);
      const std::string name = "id" + std::to_string(i) + *rc::gen::element<std::string>("", "-x", "_y", ".z");
      std::string scopes;
      for (auto [bit, s] : {std::pair{1, "publish"}, {2, "subscribe"}, {4, "admin"}}) {
        if (bits & bit) scopes += std::string(scopes.empty() ? "" : ", ") + "\"" + s + "\"";
      }
      text += "[[identity]]\nname = \"" + name + "\"\nscopes = [" + scopes + "]\n";
      switch (*rc::gen::inRange(0, 2)) {
        case 0: text += "token_hashes = [\"" + Sha256Hex(name + "-token") + "\"]\n"; break;
        default: text += "san = [\"spiffe://t/" + name + "\"]\n"; break;
      }
      want.emplace_back(name, bits);
    }
    auto a = IdentityTable::Parse(text, "p.toml");
    auto b = IdentityTable::Parse(text, "p.toml");
    RC_ASSERT(a.ok());
    RC_ASSERT(b.ok());
    RC_ASSERT(Diff(**a, **b).empty());
    const std::vector<Identity> ids = (*a)->identities();
    RC_ASSERT(ids.size() == want.size());
    for (size_t i = 0; i < ids.size(); ++i) {
      RC_ASSERT(ids[i].name == want[i].first);
      RC_ASSERT(ids[i].scopes.bits() == want[i].second);
    }
  });
  EXPECT_TRUE(ok);
}

}  // namespace
}  // namespace ironbus::security
