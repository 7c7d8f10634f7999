// TLS 1.3 between the broker and the client library (spec/security.md 1.1): the happy path,
// every refusal the security issue lists (plaintext to a TLS port, TLS to a plaintext port, an
// untrusted or expired certificate, a wrong name, a TLS 1.2-only client, a client without the
// certificate mTLS requires, a stalled handshake), and certificate rotation.
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdlib.h>

#include <filesystem>
#include <thread>

#include "client/client.h"
#include "security/test_pki.h"
#include "security/tls.h"
#include "server/broker_test_util.h"

namespace ironbus::server::testing {
namespace {

using ironbus::testing::TestCert;
using ironbus::testing::TestPki;

std::string TempDir() {
  char tmpl[] = "/tmp/ironbus-tls-test-XXXXXX";
  const char* dir = ::mkdtemp(tmpl);
  EXPECT_NE(dir, nullptr);
  return dir ? dir : "/tmp";
}

std::shared_ptr<const security::TlsContext> ServerContext(const TestCert& cert, const std::string& client_ca = "") {
  auto ctx = security::TlsContext::ForServer({cert.cert_file, cert.key_file, client_ca});
  EXPECT_TRUE(ctx.ok()) << ctx.status().ToString();
  return ctx.ok() ? *ctx : nullptr;
}

client::ClientOptions TlsClientOptions(const std::string& ca_file, const TestCert* client_cert = nullptr,
                                       const std::string& server_name = "") {
  security::TlsClientFiles files;
  files.ca_file = ca_file;
  if (client_cert != nullptr) {
    files.cert_file = client_cert->cert_file;
    files.key_file = client_cert->key_file;
  }
  auto ctx = security::TlsContext::ForClient(files);
  EXPECT_TRUE(ctx.ok()) << ctx.status().ToString();
  client::ClientOptions o;
  o.tls = ctx.ok() ? *ctx : nullptr;
  o.tls_server_name = server_name;
  o.connect_timeout = std::chrono::milliseconds(5'000);
  o.request_timeout = std::chrono::milliseconds(5'000);
  return o;
}

client::PublishRequest Payload(const std::string& text) {
  client::PublishRequest r;
  r.payload.assign(text.begin(), text.end());
  return r;
}

// Polls `done` for up to 10 s (a deadline for a hung test, never a performance bound).
template <typename F>
bool Eventually(F done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return done();
}

class TlsBroker : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TempDir();
    pki_ = std::make_unique<TestPki>(dir_);
    server_cert_ = pki_->Issue("broker", "DNS:localhost,DNS:broker.example,IP:127.0.0.1");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  BrokerOptions Options(const std::string& client_ca = "") {
    BrokerOptions o;
    o.tls = ServerContext(server_cert_, client_ca);
    return o;
  }

  std::string dir_;
  std::unique_ptr<TestPki> pki_;
  TestCert server_cert_;
};

TEST_F(TlsBroker, ClientPublishesAndConsumesOverTls13) {
  BrokerHarness h(Options());
  auto c = client::Client::Connect(h.addr(), TlsClientOptions(pki_->ca().cert_file));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ((*c)->tls_version(), "TLSv1.3");
  EXPECT_NE((*c)->tls_cipher().find("TLS_"), std::string::npos) << (*c)->tls_cipher();
  std::vector<client::PublishRequest> batch;
  for (int i = 0; i < 300; ++i) batch.push_back(Payload("over-tls-" + std::to_string(i)));
  auto offsets = (*c)->PublishPipelined(batch, 64);
  ASSERT_TRUE(offsets.ok()) << offsets.status().ToString();
  ASSERT_EQ(offsets->size(), 300u);
  ASSERT_TRUE((*c)->Subscribe("tls-readers").ok());
  std::vector<client::Message> got;
  while (got.size() < 300) {
    auto window = (*c)->Fetch();
    ASSERT_TRUE(window.ok()) << window.status().ToString();
    ASSERT_FALSE(window->messages.empty());
    auto acks = (*c)->AckAll(window->messages);
    ASSERT_TRUE(acks.ok());
    for (auto& m : window->messages) got.push_back(std::move(m));
  }
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(std::string(got[i].payload.begin(), got[i].payload.end()), "over-tls-" + std::to_string(i));
  }
  EXPECT_EQ(h.broker().stats().tls_handshakes, 1u);
  EXPECT_EQ(h.broker().stats().tls_handshake_failures, 0u);
}

TEST_F(TlsBroker, APlaintextClientOnATlsPortIsRefusedAndCounted) {
  BrokerHarness h(Options());
  client::ClientOptions plain;
  plain.request_timeout = std::chrono::milliseconds(5'000);
  auto c = client::Client::Connect(h.addr(), plain);
  ASSERT_FALSE(c.ok());
  EXPECT_TRUE(c.status().IsUnavailable()) << c.status().ToString();
  EXPECT_TRUE(Eventually([&] { return h.broker().stats().tls_handshake_failures == 1; }));
  EXPECT_NE(h.lines().find("session.tls_handshake_failed"), std::string::npos) << h.lines();
  // The broker keeps serving TLS clients.
  auto ok = client::Client::Connect(h.addr(), TlsClientOptions(pki_->ca().cert_file));
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_TRUE((*ok)->Publish(Payload("still-served")).ok());
}

TEST_F(TlsBroker, ATlsClientOnAPlaintextPortIsToldAtOnce) {
  BrokerHarness h;  // plain TCP
  auto c = client::Client::Connect(h.addr(), TlsClientOptions(pki_->ca().cert_file));
  ASSERT_FALSE(c.ok());
  EXPECT_TRUE(c.status().IsUnavailable());
  EXPECT_NE(c.status().message().find("TLS handshake"), std::string::npos) << c.status().ToString();
  // Closed on the ClientHello, not after waiting for a 66 KB "frame" (the client's connect
  // timeout would have reported "timed out").
  EXPECT_EQ(c.status().message().find("timed out"), std::string::npos) << c.status().ToString();
  EXPECT_NE(h.lines().find("session.tls_on_plaintext_port"), std::string::npos) << h.lines();
  // A plain client is still served.
  auto plain = client::Client::Connect(h.addr());
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
}

TEST_F(TlsBroker, TheBrokersNameIsChecked) {
  BrokerHarness h(Options());
  auto wrong = client::Client::Connect(h.addr(), TlsClientOptions(pki_->ca().cert_file, nullptr, "other.example"));
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().message().find("certificate verify failed"), std::string::npos) << wrong.status().ToString();
  auto right = client::Client::Connect(h.addr(), TlsClientOptions(pki_->ca().cert_file, nullptr, "broker.example"));
  EXPECT_TRUE(right.ok()) << right.status().ToString();
  auto by_ip = client::Client::Connect(h.addr(), TlsClientOptions(pki_->ca().cert_file));  // 127.0.0.1 IP SAN
  EXPECT_TRUE(by_ip.ok()) << by_ip.status().ToString();
}

TEST_F(TlsBroker, AnUntrustedCertificateIsRefusedByTheClient) {
  TestPki other(dir_, "other-ca");
  TestCert foreign = other.Issue("foreign-broker", "DNS:localhost,IP:127.0.0.1");
  BrokerOptions o;
  o.tls = ServerContext(foreign);
  BrokerHarness h(o);
  auto c = client::Client::Connect(h.addr(), TlsClientOptions(pki_->ca().cert_file));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("certificate verify failed"), std::string::npos) << c.status().ToString();
  TestCert self = pki_->SelfSigned("self-signed", "DNS:localhost,IP:127.0.0.1");
  BrokerOptions s;
  s.tls = ServerContext(self);
  BrokerHarness hs(s);
  auto c2 = client::Client::Connect(hs.addr(), TlsClientOptions(pki_->ca().cert_file));
  EXPECT_FALSE(c2.ok());
}

TEST_F(TlsBroker, AnExpiredCertificateIsRefusedByTheClient) {
  TestCert expired = pki_->Issue("expired", "DNS:localhost,IP:127.0.0.1", -7200, -3600);
  BrokerOptions o;
  o.tls = ServerContext(expired);
  BrokerHarness h(o);
  auto c = client::Client::Connect(h.addr(), TlsClientOptions(pki_->ca().cert_file));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("certificate verify failed"), std::string::npos) << c.status().ToString();
}

// A raw OpenSSL client limited to TLS 1.2: the broker never goes below 1.3.
TEST_F(TlsBroker, ATls12OnlyClientIsRefused) {
  BrokerHarness h(Options());
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  ASSERT_NE(ctx, nullptr);
  SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION);
  SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  RawConn raw(h.port());
  ASSERT_TRUE(raw.connected());
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, raw.fd());
  EXPECT_NE(SSL_connect(ssl), 1);
  ERR_clear_error();
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  EXPECT_TRUE(Eventually([&] { return h.broker().stats().tls_handshake_failures == 1; }));
  EXPECT_EQ(h.broker().stats().tls_handshakes, 0u);
}

TEST_F(TlsBroker, MutualTlsRefusesAClientWithoutACertificate) {
  BrokerHarness h(Options(pki_->ca().cert_file));
  // TLS 1.3 finishes the client's side of the handshake before the server checks the client
  // certificate; the refusal arrives as an alert on the first read (the Connect reply).
  auto c = client::Client::Connect(h.addr(), TlsClientOptions(pki_->ca().cert_file));
  ASSERT_FALSE(c.ok());
  EXPECT_TRUE(Eventually([&] { return h.broker().stats().tls_handshake_failures == 1; }));

  TestPki other(dir_, "rogue-ca");
  TestCert rogue = other.Issue("rogue", "URI:spiffe://edge/rogue");
  auto r = client::Client::Connect(h.addr(), TlsClientOptions(pki_->ca().cert_file, &rogue));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Eventually([&] { return h.broker().stats().tls_handshake_failures == 2; }));

  TestCert sensor = pki_->Issue("sensor-1", "URI:spiffe://edge/sensor-1,DNS:sensor-1.local");
  auto ok = client::Client::Connect(h.addr(), TlsClientOptions(pki_->ca().cert_file, &sensor));
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_TRUE((*ok)->Publish(Payload("from-sensor-1")).ok());
}

TEST_F(TlsBroker, AStalledHandshakeIsClosedAtTheDeadline) {
  BrokerOptions o = Options();
  o.handshake_timeout = std::chrono::milliseconds(200);
  BrokerHarness h(o);
  RawConn raw(h.port());
  ASSERT_TRUE(raw.connected());
  // Sends nothing: no ClientHello.
  EXPECT_TRUE(raw.WaitClosed(10'000));
  EXPECT_EQ(h.broker().stats().handshake_timeouts, 1u);
  EXPECT_NE(h.lines().find("session.handshake_timeout"), std::string::npos) << h.lines();
}

TEST_F(TlsBroker, ReplacedCertificatesServeNewConnectionsAndOpenOnesKeepWorking) {
  BrokerHarness h(Options());
  auto before = client::Client::Connect(h.addr(), TlsClientOptions(pki_->ca().cert_file));
  ASSERT_TRUE(before.ok()) << before.status().ToString();

  TestPki next(dir_, "next-ca");
  TestCert rotated = next.Issue("broker-next", "DNS:localhost,IP:127.0.0.1");
  ASSERT_TRUE(h.broker().ReplaceTls(ServerContext(rotated)).ok());
  EXPECT_FALSE(h.broker().ReplaceTls(nullptr).ok());  // turning TLS off needs a restart

  auto with_old_anchor = client::Client::Connect(h.addr(), TlsClientOptions(pki_->ca().cert_file));
  EXPECT_FALSE(with_old_anchor.ok());
  auto with_new_anchor = client::Client::Connect(h.addr(), TlsClientOptions(next.ca().cert_file));
  ASSERT_TRUE(with_new_anchor.ok()) << with_new_anchor.status().ToString();
  EXPECT_TRUE((*with_new_anchor)->Publish(Payload("new")).ok());
  // The connection made before the swap is untouched.
  EXPECT_TRUE((*before)->Publish(Payload("old")).ok());
}

TEST(PlainBroker, ANonLoopbackBindWithoutTlsIsRefusedBeforeListening) {
  for (const char* host : {"0.0.0.0", "::", "192.0.2.10"}) {
    BrokerOptions o;
    o.host = host;
    o.port = 0;
    Broker b(nullptr, nullptr, nullptr, o);
    Status s = b.Start();
    ASSERT_FALSE(s.ok()) << host;
    EXPECT_NE(s.message().find("not loopback"), std::string::npos) << s.ToString();
    EXPECT_NE(s.message().find("--tls-cert"), std::string::npos) << s.ToString();
  }
}

}  // namespace
}  // namespace ironbus::server::testing
