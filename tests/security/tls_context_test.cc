// TlsContext construction and the certificate identity rule (spec/security.md 1.1, 2.3).
#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <stdlib.h>

#include <algorithm>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>
#include <filesystem>
#include <fstream>

#include "security/test_pki.h"
#include "security/tls.h"

namespace ironbus::security {
namespace {

using ironbus::testing::TestCert;
using ironbus::testing::TestPki;

class TlsContextTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ironbus-tls-ctx-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    pki_ = std::make_unique<TestPki>(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& content) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path) << content;
    return path;
  }

  // The first SAN identity of a certificate file.
  std::optional<std::string> IdentityOf(const std::string& cert_file) {
    FILE* f = std::fopen(cert_file.c_str(), "r");
    X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
    std::fclose(f);
    auto out = CertificateSanIdentity(cert);
    X509_free(cert);
    return out;
  }

  std::string dir_;
  std::unique_ptr<TestPki> pki_;
};

TEST_F(TlsContextTest, AServerContextPinsTls13AndItsSuitesAndGroups) {
  TestCert cert = pki_->Issue("broker", "DNS:localhost");
  auto ctx = TlsContext::ForServer({cert.cert_file, cert.key_file, ""});
  ASSERT_TRUE(ctx.ok()) << ctx.status().ToString();
  SSL_CTX* native = (*ctx)->asio_context().native_handle();
  EXPECT_EQ(SSL_CTX_get_min_proto_version(native), TLS1_3_VERSION);
  EXPECT_EQ(SSL_CTX_get_max_proto_version(native), TLS1_3_VERSION);
  EXPECT_FALSE((*ctx)->requires_client_certificate());
  EXPECT_EQ((*ctx)->certificate_fingerprint().size(), 64u);
  // Only the three TLS 1.3 AEAD suites are offered.
  SSL* ssl = SSL_new(native);
  STACK_OF(SSL_CIPHER)* ciphers = SSL_get1_supported_ciphers(ssl);
  std::vector<std::string> names;
  for (int i = 0; i < sk_SSL_CIPHER_num(ciphers); ++i) names.push_back(SSL_CIPHER_get_name(sk_SSL_CIPHER_value(ciphers, i)));
  sk_SSL_CIPHER_free(ciphers);
  SSL_free(ssl);
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                                             "TLS_CHACHA20_POLY1305_SHA256"}));
}

TEST_F(TlsContextTest, ClientCaMakesAClientCertificateRequired) {
  TestCert cert = pki_->Issue("broker", "DNS:localhost");
  auto ctx = TlsContext::ForServer({cert.cert_file, cert.key_file, pki_->ca().cert_file});
  ASSERT_TRUE(ctx.ok()) << ctx.status().ToString();
  EXPECT_TRUE((*ctx)->requires_client_certificate());
  EXPECT_EQ(SSL_CTX_get_verify_mode((*ctx)->asio_context().native_handle()),
            SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT);
}

TEST_F(TlsContextTest, BadMaterialIsRefusedNamingTheFile) {
  TestCert cert = pki_->Issue("broker", "DNS:localhost");
  TestCert other = pki_->Issue("other", "DNS:localhost");
  auto missing = TlsContext::ForServer({dir_ + "/nope.pem", cert.key_file, ""});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("nope.pem"), std::string::npos) << missing.status().ToString();
  auto mismatched = TlsContext::ForServer({cert.cert_file, other.key_file, ""});
  ASSERT_FALSE(mismatched.ok());
  EXPECT_NE(mismatched.status().message().find("does not match"), std::string::npos) << mismatched.status().ToString();
  auto half = TlsContext::ForServer({cert.cert_file, "", ""});
  EXPECT_FALSE(half.ok());
  // An anchor file with no certificate is an error, never an empty trust store.
  const std::string empty = Write("empty.pem", "# nothing here\n");
  auto no_anchor = TlsContext::ForServer({cert.cert_file, cert.key_file, empty});
  ASSERT_FALSE(no_anchor.ok());
  EXPECT_NE(no_anchor.status().message().find("holds no PEM certificate"), std::string::npos);
  auto client_no_anchor = TlsContext::ForClient({empty, "", ""});
  ASSERT_FALSE(client_no_anchor.ok());
  EXPECT_NE(client_no_anchor.status().message().find("holds no PEM certificate"), std::string::npos);
}

TEST_F(TlsContextTest, AClientAlwaysVerifiesTheBroker) {
  auto none = TlsContext::ForClient({"", "", ""});
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("never skipped"), std::string::npos);
  TestCert cert = pki_->Issue("client", "URI:spiffe://edge/c");
  EXPECT_FALSE(TlsContext::ForClient({pki_->ca().cert_file, cert.cert_file, ""}).ok());
  auto ctx = TlsContext::ForClient({pki_->ca().cert_file, cert.cert_file, cert.key_file});
  ASSERT_TRUE(ctx.ok()) << ctx.status().ToString();
  EXPECT_EQ(SSL_CTX_get_verify_mode((*ctx)->asio_context().native_handle()), SSL_VERIFY_PEER);
  EXPECT_EQ(SSL_CTX_get_min_proto_version((*ctx)->asio_context().native_handle()), TLS1_3_VERSION);
}

TEST_F(TlsContextTest, IdentityIsTheFirstUriSanThenTheFirstDnsSanNeverTheCommonName) {
  EXPECT_EQ(IdentityOf(pki_->Issue("a", "DNS:a.local,URI:spiffe://edge/a,URI:spiffe://edge/a2").cert_file),
            "spiffe://edge/a");
  EXPECT_EQ(IdentityOf(pki_->Issue("b", "DNS:b.local,DNS:b2.local,IP:10.0.0.1").cert_file), "b.local");
  EXPECT_EQ(IdentityOf(pki_->Issue("cn-only", "").cert_file), std::nullopt);
  EXPECT_EQ(IdentityOf(pki_->Issue("ip-only", "IP:10.0.0.2").cert_file), std::nullopt);
  EXPECT_EQ(CertificateSanIdentity(nullptr), std::nullopt);
  EXPECT_EQ(VerifiedPeerIdentity(nullptr), std::nullopt);
}

TEST(TlsPeerName, AnEmptyExpectedNameIsRefused) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL* ssl = SSL_new(ctx);
  EXPECT_FALSE(ExpectPeerName(ssl, "").ok());
  EXPECT_TRUE(ExpectPeerName(ssl, "broker.example").ok());
  SSL_free(ssl);
  ssl = SSL_new(ctx);
  EXPECT_TRUE(ExpectPeerName(ssl, "127.0.0.1").ok());
  SSL_free(ssl);
  SSL_CTX_free(ctx);
}

}  // namespace
}  // namespace ironbus::security
