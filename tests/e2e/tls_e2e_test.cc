// TLS with the real binary (spec/security.md 1.1, 1.2): the CLI over TLS 1.3 and mTLS, a
// TLS 1.2-only `openssl s_client` refused, a non-loopback bind without TLS refused before
// anything opens, and certificate rotation by SIGHUP that keeps connected clients.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "client/client.h"
#include "e2e/e2e_test_util.h"
#include "security/test_pki.h"

namespace ironbus::e2e {
namespace {

using ironbus::testing::TestCert;
using ironbus::testing::TestPki;

client::ClientOptions TlsOptions(const std::string& ca_file) {
  auto ctx = security::TlsContext::ForClient({ca_file, "", ""});
  EXPECT_TRUE(ctx.ok()) << ctx.status().ToString();
  client::ClientOptions o;
  o.tls = ctx.ok() ? *ctx : nullptr;
  return o;
}

client::PublishRequest Payload(const std::string& text) {
  client::PublishRequest r;
  r.payload.assign(text.begin(), text.end());
  return r;
}

void CopyFile(const std::string& from, const std::string& to) {
  std::filesystem::copy_file(from, to, std::filesystem::copy_options::overwrite_existing);
  std::filesystem::permissions(to, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
}

class TlsE2E : public E2ETest {
 protected:
  void SetUp() override {
    E2ETest::SetUp();
    pki_ = std::make_unique<TestPki>(scratch_.path());
    server_ = pki_->Issue("broker", "DNS:localhost,IP:127.0.0.1");
  }
  std::vector<std::string> TlsFlags(const TestCert& cert, const std::string& client_ca = "") {
    std::vector<std::string> flags = {"--tls-cert", cert.cert_file, "--tls-key", cert.key_file};
    if (!client_ca.empty()) {
      flags.push_back("--tls-client-ca");
      flags.push_back(client_ca);
    }
    return flags;
  }
  std::unique_ptr<TestPki> pki_;
  TestCert server_;
};

TEST_F(TlsE2E, TheCliPublishesAndConsumesOverTls13) {
  Broker broker(data_, scratch_.path(), TlsFlags(server_));
  const std::string addr = broker.WaitListening();
  ASSERT_FALSE(addr.empty()) << broker.errors();
  EXPECT_NE(broker.output().find("tls: TLS 1.3 only"), std::string::npos) << broker.output();
  const std::string ca = " --tls-ca " + pki_->ca().cert_file;
  for (int i = 0; i < 3; ++i) {
    RunResult pub = Run("pub --addr " + addr + ca + " tls-record-" + std::to_string(i));
    ASSERT_EQ(pub.exit_code, 0) << pub.err;
    EXPECT_EQ(pub.out, std::to_string(i) + "\n");
  }
  // Plain TCP to the TLS port: refused, and the message points at the fix.
  RunResult plain = Run("pub --addr " + addr + " not-over-tls");
  EXPECT_EQ(plain.exit_code, 5) << plain.out << plain.err;
  EXPECT_NE(plain.err.find("give --tls-ca"), std::string::npos) << plain.err;
  RunResult sub = Run("sub --addr " + addr + ca + " --group tls-e2e --max 3 --ack");
  ASSERT_EQ(sub.exit_code, 0) << sub.err;
  for (int i = 0; i < 3; ++i) EXPECT_NE(sub.out.find("tls-record-" + std::to_string(i)), std::string::npos) << sub.out;
  EXPECT_EQ(sub.out.find("not-over-tls"), std::string::npos);
  // The certificate must name the host that was dialled.
  RunResult wrong_name = Run("pub --addr " + addr + ca + " --tls-server-name other.example x");
  EXPECT_EQ(wrong_name.exit_code, 5);
  EXPECT_NE(wrong_name.err.find("certificate verify failed"), std::string::npos) << wrong_name.err;
  EXPECT_EQ(broker.Stop(), 0) << broker.errors();
}

TEST_F(TlsE2E, MutualTlsNeedsAClientCertificateFromTheConfiguredCa) {
  // mTLS maps the certificate's SAN to an identity of the table; verification alone grants nothing.
  const std::string table = WriteFile("auth.toml", "[[identity]]\nname = \"sensor-7\"\nscopes = [\"publish\"]\n"
                                                   "san = [\"spiffe://edge/sensor-7\"]\n");
  ASSERT_EQ(::chmod(table.c_str(), 0600), 0);
  std::vector<std::string> flags = TlsFlags(server_, pki_->ca().cert_file);
  flags.insert(flags.end(), {"--auth-config", table});
  Broker broker(data_, scratch_.path(), flags);
  const std::string addr = broker.WaitListening();
  ASSERT_FALSE(addr.empty()) << broker.errors();
  EXPECT_NE(broker.output().find("client certificates required"), std::string::npos) << broker.output();
  const std::string ca = " --tls-ca " + pki_->ca().cert_file;
  RunResult anonymous = Run("pub --addr " + addr + ca + " no-certificate");
  EXPECT_EQ(anonymous.exit_code, 5) << anonymous.out << anonymous.err;
  TestCert sensor = pki_->Issue("sensor-7", "URI:spiffe://edge/sensor-7");
  const std::string cert = " --tls-cert " + sensor.cert_file + " --tls-key " + sensor.key_file;
  RunResult with_cert = Run("pub --addr " + addr + ca + cert + " --auth-mtls hello");
  EXPECT_EQ(with_cert.exit_code, 0) << with_cert.err;
  // A certificate the CA signed, but no mTLS credential in Connect: Authorization Violation.
  RunResult no_credential = Run("pub --addr " + addr + ca + cert + " hello");
  EXPECT_NE(no_credential.exit_code, 0);
  EXPECT_NE(no_credential.err.find("Authorization Violation"), std::string::npos) << no_credential.err;
  TestCert stranger = pki_->Issue("sensor-9", "URI:spiffe://edge/sensor-9");
  RunResult unknown = Run("pub --addr " + addr + ca + " --tls-cert " + stranger.cert_file + " --tls-key " +
                          stranger.key_file + " --auth-mtls hello");
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_NE(unknown.err.find("Authorization Violation"), std::string::npos) << unknown.err;
  RunResult half = Run("pub --addr " + addr + ca + " --tls-cert " + sensor.cert_file + " x");
  EXPECT_EQ(half.exit_code, 1) << half.err;  // usage: a certificate without its key
  EXPECT_EQ(broker.Stop(), 0) << broker.errors();
  EXPECT_NE(broker.errors().find("session.tls_handshake_failed"), std::string::npos) << broker.errors();
}

TEST_F(TlsE2E, OpensslClientsGetTls13AndATls12OnlyClientIsRefused) {
  Broker broker(data_, scratch_.path(), TlsFlags(server_));
  const std::string addr = broker.WaitListening();
  ASSERT_FALSE(addr.empty()) << broker.errors();
  const std::string out = scratch_.path() + "/s_client.out";
  const std::string base = "timeout 20 openssl s_client -connect " + addr + " -CAfile " + pki_->ca().cert_file;
  const int old = std::system((base + " -tls1_2 </dev/null >" + out + " 2>&1").c_str());
  const std::string old_out = Slurp(out);
  EXPECT_NE(old_out.find("alert protocol version"), std::string::npos) << old_out;
  EXPECT_NE(WEXITSTATUS(old), 0);
  const int now = std::system((base + " -tls1_3 </dev/null >" + out + " 2>&1").c_str());
  const std::string new_out = Slurp(out);
  EXPECT_EQ(WEXITSTATUS(now), 0) << new_out;
  EXPECT_NE(new_out.find("New, TLSv1.3"), std::string::npos) << new_out;
  EXPECT_NE(new_out.find("Verify return code: 0 (ok)"), std::string::npos) << new_out;
  EXPECT_EQ(broker.Stop(), 0) << broker.errors();
}

TEST_F(TlsE2E, ANonLoopbackBindIsRefusedBeforeAnythingOpens) {
  RunResult plain = Run("serve --data-dir " + data_ + " --addr 0.0.0.0:0");
  EXPECT_EQ(plain.exit_code, 1) << plain.out << plain.err;
  EXPECT_NE(plain.err.find("plaintext is never allowed off loopback"), std::string::npos) << plain.err;
  RunResult tls_only = Run("serve --data-dir " + data_ + " --addr 0.0.0.0:0 --tls-cert " + server_.cert_file +
                           " --tls-key " + server_.key_file);
  EXPECT_EQ(tls_only.exit_code, 1) << tls_only.err;
  EXPECT_NE(tls_only.err.find("identity table"), std::string::npos) << tls_only.err;
  RunResult insecure = Run("serve --data-dir " + data_ + " --addr 0.0.0.0:0 --insecure-plaintext-wire");
  EXPECT_EQ(insecure.exit_code, 1) << insecure.err;
  EXPECT_NE(insecure.err.find("plaintext and anonymous"), std::string::npos) << insecure.err;
  RunResult half = Run("serve --data-dir " + data_ + " --tls-cert " + server_.cert_file);
  EXPECT_EQ(half.exit_code, 1) << half.err;
  EXPECT_NE(half.err.find("--tls-cert needs --tls-key"), std::string::npos) << half.err;
  EXPECT_FALSE(std::filesystem::exists(data_)) << "a refused start must not create the data directory";
}

TEST_F(TlsE2E, SighupRotatesTheCertificateAndConnectedClientsKeepWorking) {
  const std::string cert = scratch_.path() + "/live.pem";
  const std::string key = scratch_.path() + "/live.key";
  CopyFile(server_.cert_file, cert);
  CopyFile(server_.key_file, key);
  Broker broker(data_, scratch_.path(), {"--tls-cert", cert, "--tls-key", key});
  const std::string addr = broker.WaitListening();
  ASSERT_FALSE(addr.empty()) << broker.errors();
  auto before = client::Client::Connect(addr, TlsOptions(pki_->ca().cert_file));
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  ASSERT_TRUE((*before)->Publish(Payload("before-rotation")).ok());

  // A broken key first: rejected, the running certificate stays.
  std::ofstream(key, std::ios::trunc) << "not a key\n";
  broker.Signal(SIGHUP);
  for (int i = 0; i < 400 && broker.errors().find("tls.reload") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  EXPECT_NE(broker.errors().find("rejected"), std::string::npos) << broker.errors();
  auto still_old = client::Client::Connect(addr, TlsOptions(pki_->ca().cert_file));
  EXPECT_TRUE(still_old.ok()) << still_old.status().ToString();

  TestPki next(scratch_.path(), "next-ca");
  TestCert rotated = next.Issue("broker-next", "DNS:localhost,IP:127.0.0.1");
  CopyFile(rotated.cert_file, cert);
  CopyFile(rotated.key_file, key);
  broker.Signal(SIGHUP);
  for (int i = 0; i < 400 && broker.errors().find("applied") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  ASSERT_NE(broker.errors().find("applied"), std::string::npos) << broker.errors();

  auto with_new = client::Client::Connect(addr, TlsOptions(next.ca().cert_file));
  ASSERT_TRUE(with_new.ok()) << with_new.status().ToString();
  EXPECT_TRUE((*with_new)->Publish(Payload("after-rotation")).ok());
  auto with_old = client::Client::Connect(addr, TlsOptions(pki_->ca().cert_file));
  EXPECT_FALSE(with_old.ok());
  // Connected before the rotation: not dropped.
  auto offset = (*before)->Publish(Payload("still-connected"));
  EXPECT_TRUE(offset.ok()) << offset.status().ToString();
  EXPECT_TRUE((*still_old)->Publish(Payload("also-still-connected")).ok());
  EXPECT_EQ(broker.Stop(), 0) << broker.errors();
}

// The credential flags of the client verbs: secrets come from files, one credential at a time.
// A broker with no identity table accepts (and ignores) the auth section (spec/protocol.md 5.3).
TEST_F(TlsE2E, CredentialFlagsReadSecretsFromFilesOneAtATime) {
  Broker broker(data_, scratch_.path());
  const std::string addr = broker.WaitListening();
  ASSERT_FALSE(addr.empty()) << broker.errors();
  const std::string token = WriteFile("token", "a-bearer-token-of-32-bytes-or-more\n");
  const std::string password = WriteFile("password", "correct horse battery staple\n");
  RunResult by_token = Run("pub --addr " + addr + " --token-file " + token + " with-token");
  EXPECT_EQ(by_token.exit_code, 0) << by_token.err;
  RunResult by_password = Run("pub --addr " + addr + " --user svc --password-file " + password + " with-password");
  EXPECT_EQ(by_password.exit_code, 0) << by_password.err;
  RunResult both = Run("pub --addr " + addr + " --token-file " + token + " --user svc --password-file " + password + " x");
  EXPECT_EQ(both.exit_code, 1);
  EXPECT_NE(both.err.find("give one credential"), std::string::npos) << both.err;
  RunResult no_password = Run("pub --addr " + addr + " --user svc x");
  EXPECT_EQ(no_password.exit_code, 1);
  EXPECT_NE(no_password.err.find("--user and --password-file go together"), std::string::npos) << no_password.err;
  RunResult missing = Run("pub --addr " + addr + " --token-file " + scratch_.path() + "/nope x");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("cannot be read"), std::string::npos) << missing.err;
  RunResult mtls_without_cert = Run("pub --addr " + addr + " --auth-mtls x");
  EXPECT_EQ(mtls_without_cert.exit_code, 1);
  // The secret never shows up in what the CLI prints.
  for (const RunResult* r : {&by_token, &by_password, &both, &no_password, &missing, &mtls_without_cert}) {
    EXPECT_EQ(r->out.find("a-bearer-token"), std::string::npos);
    EXPECT_EQ(r->err.find("a-bearer-token"), std::string::npos);
    EXPECT_EQ(r->err.find("correct horse"), std::string::npos);
  }
  EXPECT_EQ(broker.Stop(), 0) << broker.errors();
}

// An identity table with the real binary: bearer tokens and a password minted by
// `ironbus server passwd`, scopes enforced per verb, the secret-file permission check, the audit
// log, and a SIGHUP that swaps the table without dropping connected clients.
TEST_F(TlsE2E, AnIdentityTableAuthenticatesEveryConnectionAndEnforcesScopes) {
  const std::string pw_file = WriteFile("pw", "correct horse battery staple\n");
  RunResult minted = Run("server passwd", pw_file);
  ASSERT_EQ(minted.exit_code, 0) << minted.err;
  std::string phc = minted.out;
  while (!phc.empty() && (phc.back() == '\n' || phc.back() == '\r')) phc.pop_back();
  ASSERT_EQ(phc.rfind("$argon2id$", 0), 0u) << phc;
  const std::string producer_token = WriteFile("producer.token", "producer-token-0123456789abcdef0123\n");
  // The table stores only the token's SHA-256 (docs/security.md: minting credentials).
  const std::string hash_cmd = "printf %s producer-token-0123456789abcdef0123 | sha256sum | cut -c1-64 > " +
                               scratch_.path() + "/digest";
  ASSERT_EQ(std::system(hash_cmd.c_str()), 0);
  std::string hex = Slurp(scratch_.path() + "/digest");
  while (!hex.empty() && hex.back() == '\n') hex.pop_back();
  const std::string table = WriteFile("auth.toml", "[[identity]]\nname = \"producer\"\nscopes = [\"publish\"]\n"
                                                   "token_hashes = [\"" + hex + "\"]\n\n[[identity]]\nname = \"ops\"\n"
                                                   "scopes = [\"subscribe\"]\nusername = \"ops\"\npassword_phc = [\"" + phc + "\"]\n");
  // Readable by others: refused before anything opens, with the condition named.
  ASSERT_EQ(::chmod(table.c_str(), 0644), 0);
  RunResult loose = Run("serve --data-dir " + data_ + " --addr 127.0.0.1:0 --auth-config " + table);
  EXPECT_EQ(loose.exit_code, 1) << loose.err;
  EXPECT_NE(loose.err.find("group_world_readable"), std::string::npos) << loose.err;
  EXPECT_NE(loose.err.find("secret_permission_refusal"), std::string::npos) << loose.err;
  ASSERT_EQ(::chmod(table.c_str(), 0600), 0);

  Broker broker(data_, scratch_.path(), {"--auth-config", table});
  const std::string addr = broker.WaitListening();
  ASSERT_FALSE(addr.empty()) << broker.errors();
  EXPECT_NE(broker.output().find("auth: 2 identities"), std::string::npos) << broker.output();
  RunResult anonymous = Run("pub --addr " + addr + " nobody");
  EXPECT_NE(anonymous.exit_code, 0);
  EXPECT_NE(anonymous.err.find("Authorization Violation"), std::string::npos) << anonymous.err;
  RunResult pub = Run("pub --addr " + addr + " --token-file " + producer_token + " hello-authenticated");
  ASSERT_EQ(pub.exit_code, 0) << pub.err;
  // The producer may not consume; ops may consume but not publish.
  RunResult producer_sub = Run("sub --addr " + addr + " --token-file " + producer_token + " --max 1");
  EXPECT_NE(producer_sub.exit_code, 0);
  EXPECT_NE(producer_sub.out.find("Authorization Violation") + producer_sub.err.find("Authorization Violation"),
            2 * std::string::npos)
      << producer_sub.out << producer_sub.err;
  RunResult ops_sub = Run("sub --addr " + addr + " --user ops --password-file " + pw_file + " --max 1 --ack");
  ASSERT_EQ(ops_sub.exit_code, 0) << ops_sub.err;
  EXPECT_NE(ops_sub.out.find("hello-authenticated"), std::string::npos) << ops_sub.out;
  RunResult ops_pub = Run("pub --addr " + addr + " --user ops --password-file " + pw_file + " x");
  EXPECT_NE(ops_pub.exit_code, 0);
  // The CLI says which scope the verb needs (the broker never does).
  EXPECT_NE(ops_pub.err.find("pub needs an identity with the publish scope"), std::string::npos) << ops_pub.err;

  // SIGHUP: the producer is removed; a connected producer keeps its identity.
  auto token = Slurp(producer_token);
  token.pop_back();
  client::ClientOptions o;
  o.credential = client::BearerCredential(AsBytes(token));
  auto connected = client::Client::Connect(addr, o);
  ASSERT_TRUE(connected.ok()) << connected.status().ToString();
  std::ofstream(table, std::ios::trunc) << "[[identity]]\nname = \"ops\"\nscopes = [\"subscribe\"]\nusername = \"ops\"\n"
                                        << "password_phc = [\"" << phc << "\"]\n";
  broker.Signal(SIGHUP);
  for (int i = 0; i < 400 && broker.errors().find("auth.reload") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  EXPECT_NE(broker.errors().find("identity_reload"), std::string::npos) << broker.errors();
  RunResult removed = Run("pub --addr " + addr + " --token-file " + producer_token + " after-removal");
  EXPECT_NE(removed.exit_code, 0);
  EXPECT_TRUE((*connected)->Publish(client::PublishRequest{{}, {}, ToBytes("still-connected")}).ok());
  EXPECT_EQ(broker.Stop(), 0) << broker.errors();
  const std::string log = broker.errors();
  EXPECT_NE(log.find(R"("event":"authn","identity":"producer","mechanism":"bearer","outcome":"success")"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find(R"("event":"authz_denial","identity":"producer","scope":"subscribe","verb":"Sub")"),
            std::string::npos)
      << log;
  // Never a secret in what the broker printed.
  EXPECT_EQ(log.find("producer-token-0123"), std::string::npos);
  EXPECT_EQ(log.find("correct horse"), std::string::npos);
  EXPECT_EQ(log.find(hex), std::string::npos);
}

// The admin verbs read /admin on the health port; with an identity table it needs the admin scope,
// and the CLI says so (spec/security.md 3).
TEST_F(TlsE2E, AdminVerbsNeedAnAdminTokenOnABrokerWithIdentities) {
  auto digest = [&](const std::string& token) {
    const std::string cmd = "printf %s " + token + " | sha256sum | cut -c1-64 > " + scratch_.path() + "/d";
    EXPECT_EQ(std::system(cmd.c_str()), 0);
    std::string hex = Slurp(scratch_.path() + "/d");
    while (!hex.empty() && hex.back() == '\n') hex.pop_back();
    return hex;
  };
  const std::string table = WriteFile("auth.toml", "[[identity]]\nname = \"ops\"\nscopes = [\"admin\"]\ntoken_hashes = [\"" +
                                                   digest("admin-token-0123456789") + "\"]\n\n[[identity]]\nname = \"app\"\n"
                                                   "scopes = [\"publish\"]\ntoken_hashes = [\"" + digest("app-token-0123456789") + "\"]\n");
  ASSERT_EQ(::chmod(table.c_str(), 0600), 0);
  const std::string admin_token = WriteFile("admin.token", "admin-token-0123456789\n");
  const std::string app_token = WriteFile("app.token", "app-token-0123456789\n");
  Broker broker(data_, scratch_.path(), {"--auth-config", table, "--health-addr", "127.0.0.1:0", "--enable-admin"});
  ASSERT_FALSE(broker.WaitListening().empty()) << broker.errors();
  const std::string health = "127.0.0.1:" + std::to_string(broker.HealthPort());
  RunResult anonymous = Run("info --admin-addr " + health);
  EXPECT_EQ(anonymous.exit_code, 70) << anonymous.err;
  EXPECT_NE(anonymous.err.find("info needs the admin scope"), std::string::npos) << anonymous.err;
  RunResult app = Run("lag --admin-addr " + health + " --token-file " + app_token);
  EXPECT_EQ(app.exit_code, 70);
  EXPECT_NE(app.err.find("Authorization Violation: lag needs a token of an identity with the admin scope"),
            std::string::npos)
      << app.err;
  RunResult ops = Run("info --admin-addr " + health + " --token-file " + admin_token);
  EXPECT_EQ(ops.exit_code, 0) << ops.err;
  EXPECT_EQ(broker.Stop(), 0) << broker.errors();
  EXPECT_NE(broker.errors().find(R"("event":"authz_denial","identity":"app","scope":"admin","verb":"GET /admin")"),
            std::string::npos)
      << broker.errors();
}

}  // namespace
}  // namespace ironbus::e2e
