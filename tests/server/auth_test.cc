// Authentication and authorization in the broker (spec/security.md 2-4, spec/protocol.md 5.3):
// each mechanism accepted and refused, each scope allowed and denied for every handled verb,
// the one uniform refusal and close, the audit events, and the pre-auth gate at accept.
#include <gtest/gtest.h>
#include <openssl/sha.h>

#include <filesystem>
#include <thread>

#include "client/client.h"
#include "protocol/handshake.h"
#include "security/audit.h"
#include "security/identities.h"
#include "security/test_pki.h"
#include "server/broker_test_util.h"

namespace ironbus::server::testing {
namespace {

using ironbus::testing::TestCert;
using ironbus::testing::TestPki;

constexpr char kViolation[] = "Authorization Violation";

std::string Sha256Hex(const std::string& token) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), md);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : md) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

// Cheap Argon2id parameters keep the test fast; the broker reads m/t/p from each PHC string.
std::string Phc(const std::string& password) {
  auto phc = security::HashPassword(password, security::Argon2Params{64, 1, 1});
  EXPECT_TRUE(phc.ok()) << phc.status().ToString();
  return phc.ok() ? std::string(phc->RevealBytesForUse()) : "";
}

std::shared_ptr<const security::IdentityTable> Table() {
  const std::string text = R"([[identity]]
name = "producer"
scopes = ["publish"]
token_hashes = [")" + Sha256Hex("producer-token") + R"("]

[[identity]]
name = "consumer"
scopes = ["subscribe"]
token_hashes = [")" + Sha256Hex("consumer-token") + R"("]

[[identity]]
name = "nothing"
scopes = []
token_hashes = [")" + Sha256Hex("nothing-token") + R"("]

[[identity]]
name = "operator"
scopes = ["publish", "subscribe", "admin"]
username = "ops"
password_phc = [")" + Phc("correct horse") + R"("]

[[identity]]
name = "sensor-1"
scopes = ["publish"]
san = ["spiffe://edge/sensor-1"]
)";
  auto table = security::IdentityTable::Parse(text, "auth.toml");
  EXPECT_TRUE(table.ok()) << table.status().ToString();
  return table.ok() ? *table : nullptr;
}

struct AuditLines {
  std::mutex mu;
  std::vector<std::string> lines;
  std::string Joined() {
    std::lock_guard<std::mutex> lock(mu);
    std::string out;
    for (auto& l : lines) out += l + "\n";
    return out;
  }
};

class AuthBroker : public ::testing::Test {
 protected:
  BrokerOptions Options() {
    BrokerOptions o;
    o.identities = Table();
    o.audit = &audit_;
    return o;
  }
  client::ClientOptions WithCredential(std::optional<protocol::AuthSection> credential) {
    client::ClientOptions o;
    o.request_timeout = std::chrono::milliseconds(5'000);
    o.credential = std::move(credential);
    return o;
  }
  client::ClientOptions Bearer(const std::string& token) {
    return WithCredential(client::BearerCredential(AsBytes(token)));
  }

  AuditLines audit_lines_;
  security::AuditLog audit_{[this](std::string_view line) {
                              std::lock_guard<std::mutex> lock(audit_lines_.mu);
                              audit_lines_.lines.emplace_back(line);
                            },
                            SystemClock::Default()};
};

client::PublishRequest Payload(const std::string& text) {
  client::PublishRequest r;
  r.payload = ToBytes(text);
  return r;
}

TEST_F(AuthBroker, EachMechanismAuthenticatesAndIsPinnedToItsScopes) {
  BrokerHarness h(Options());
  auto producer = client::Client::Connect(h.addr(), Bearer("producer-token"));
  ASSERT_TRUE(producer.ok()) << producer.status().ToString();
  EXPECT_TRUE((*producer)->Publish(Payload("p1")).ok());

  auto password = client::PasswordCredential(AsBytes("ops"), AsBytes("correct horse"));
  ASSERT_TRUE(password.ok());
  auto ops = client::Client::Connect(h.addr(), WithCredential(*password));
  ASSERT_TRUE(ops.ok()) << ops.status().ToString();
  EXPECT_TRUE((*ops)->Publish(Payload("p2")).ok());
  ASSERT_TRUE((*ops)->Subscribe("g").ok());
  auto window = (*ops)->Fetch();
  ASSERT_TRUE(window.ok());
  EXPECT_EQ(window->messages.size(), 2u);

  const auto stats = h.broker().stats();
  EXPECT_EQ(stats.auth_successes, 2u);
  EXPECT_EQ(stats.auth_failures, 0u);
  const std::string audit = audit_lines_.Joined();
  EXPECT_NE(audit.find(R"("event":"authn","identity":"producer","mechanism":"bearer","outcome":"success")"),
            std::string::npos)
      << audit;
  EXPECT_NE(audit.find(R"("identity":"operator","mechanism":"password","outcome":"success")"), std::string::npos)
      << audit;
}

TEST_F(AuthBroker, EveryFailureGetsTheOneViolationAndAClose) {
  BrokerHarness h(Options());
  auto expect_refused = [&](client::ClientOptions o, const char* what) {
    auto c = client::Client::Connect(h.addr(), std::move(o));
    ASSERT_FALSE(c.ok()) << what;
    EXPECT_NE(c.status().message().find(kViolation), std::string::npos) << what << ": " << c.status().ToString();
  };
  expect_refused(WithCredential(std::nullopt), "no auth section");
  expect_refused(Bearer("wrong-token"), "unknown token");
  auto wrong = client::PasswordCredential(AsBytes("ops"), AsBytes("wrong horse"));
  expect_refused(WithCredential(*wrong), "wrong password");
  auto nobody = client::PasswordCredential(AsBytes("nobody"), AsBytes("x"));
  expect_refused(WithCredential(*nobody), "unknown user");
  expect_refused(WithCredential(client::MtlsCredential()), "mTLS without a certificate");
  expect_refused(WithCredential(protocol::AuthSection{9, ToBytes("x")}), "unknown mechanism");
  EXPECT_EQ(h.broker().stats().auth_failures, 6u);
  EXPECT_EQ(h.broker().stats().auth_successes, 0u);
  const std::string audit = audit_lines_.Joined();
  EXPECT_NE(audit.find(R"("identity":"operator","mechanism":"password","outcome":"failure","reason":"wrong_password")"),
            std::string::npos)
      << audit;
  EXPECT_NE(audit.find(R"("identity":"<unknown>","mechanism":"password","outcome":"failure","reason":"unknown_user")"),
            std::string::npos)
      << audit;
  // No credential ever reaches the audit log or the broker's log.
  EXPECT_EQ(audit.find("wrong-token"), std::string::npos);
  EXPECT_EQ(audit.find("horse"), std::string::npos);
  EXPECT_EQ(h.lines().find("horse"), std::string::npos);
}

// A raw connection: the exact bytes of the refusal, then EOF.
TEST_F(AuthBroker, AnythingBeforeAnAuthenticatedConnectIsAViolationThenEof) {
  BrokerHarness h(Options());
  for (const auto& first : std::vector<pr::Frame>{pr::Ping{}, pr::Sub{ToBytes("g")}}) {
    RawConn raw(h.port());
    ASSERT_TRUE(raw.SendFrame(first));
    const pr::Err err = raw.ReadAs<pr::Err>();
    EXPECT_EQ(err.code, "");
    EXPECT_EQ(err.message, kViolation);
    EXPECT_TRUE(raw.WaitClosed());
  }
}

TEST_F(AuthBroker, EachScopeAllowsItsVerbsAndDeniesTheOthers) {
  BrokerHarness h(Options());
  struct Case {
    const char* token;
    bool may_publish;
    bool may_subscribe;
  };
  for (const Case& c : {Case{"producer-token", true, false}, Case{"consumer-token", false, true},
                        Case{"nothing-token", false, false}}) {
    SCOPED_TRACE(c.token);
    {
      auto conn = client::Client::Connect(h.addr(), Bearer(c.token));
      ASSERT_TRUE(conn.ok()) << conn.status().ToString();
      EXPECT_TRUE((*conn)->Ping().ok());  // Ping needs no scope once authenticated
      auto pub = (*conn)->Publish(Payload("x"));
      EXPECT_EQ(pub.ok(), c.may_publish) << pub.status().ToString();
      if (!c.may_publish) {
        EXPECT_EQ((*conn)->last_error().message, kViolation);
      }
    }
    // Every subscribe-scoped verb the broker handles.
    for (int verb = 0; verb < 5; ++verb) {
      auto conn = client::Client::Connect(h.addr(), Bearer(c.token));
      ASSERT_TRUE(conn.ok());
      Status s;
      switch (verb) {
        case 0: s = (*conn)->Subscribe("g2"); break;
        case 1: s = (*conn)->Unsubscribe(); break;
        case 2: {
          auto w = (*conn)->Fetch();  // a window that ends in Err is ok() with the Err in `error`
          s = w.ok() ? w->error : w.status();
          break;
        }
        case 3: {
          auto w = (*conn)->Flow(1);
          s = w.ok() ? w->error : w.status();
          break;
        }
        case 4: s = (*conn)->Ack(0, 1).status(); break;
      }
      if (c.may_subscribe) {
        EXPECT_NE((*conn)->last_error().message, kViolation) << "verb " << verb << ": " << s.ToString();
      } else {
        EXPECT_FALSE(s.ok()) << "verb " << verb;
        EXPECT_EQ((*conn)->last_error().message, kViolation) << "verb " << verb << ": " << s.ToString();
      }
    }
  }
  const std::string audit = audit_lines_.Joined();
  EXPECT_NE(audit.find(R"("event":"authz_denial","identity":"producer","scope":"subscribe","verb":"Sub")"),
            std::string::npos)
      << audit;
  EXPECT_NE(audit.find(R"("event":"authz_denial","identity":"consumer","scope":"publish","verb":"Pub")"),
            std::string::npos)
      << audit;
  EXPECT_GE(h.broker().stats().authz_denials, 12u);
}

TEST_F(AuthBroker, MtlsAuthenticatesAsTheCertificatesSanIdentity) {
  char tmpl[] = "/tmp/ironbus-auth-test-XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  TestPki pki(dir);
  TestCert server = pki.Issue("broker", "DNS:localhost,IP:127.0.0.1");
  TestCert sensor = pki.Issue("sensor-1", "URI:spiffe://edge/sensor-1,DNS:sensor-1.local");
  TestCert stranger = pki.Issue("sensor-9", "URI:spiffe://edge/sensor-9");
  BrokerOptions o = Options();
  auto server_ctx = security::TlsContext::ForServer({server.cert_file, server.key_file, pki.ca().cert_file});
  ASSERT_TRUE(server_ctx.ok());
  o.tls = *server_ctx;
  BrokerHarness h(o);
  auto connect_as = [&](const TestCert& cert) {
    auto ctx = security::TlsContext::ForClient({pki.ca().cert_file, cert.cert_file, cert.key_file});
    EXPECT_TRUE(ctx.ok());
    client::ClientOptions co = WithCredential(client::MtlsCredential());
    co.tls = *ctx;
    return client::Client::Connect(h.addr(), co);
  };
  auto ok = connect_as(sensor);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_TRUE((*ok)->Publish(Payload("from-sensor")).ok());
  // Verified by the CA, but no identity has its SAN: verification alone grants nothing.
  auto refused = connect_as(stranger);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find(kViolation), std::string::npos) << refused.status().ToString();
  std::filesystem::remove_all(dir);
}

TEST_F(AuthBroker, AReplacedTableServesNewConnectionsAndOpenOnesKeepTheirIdentity) {
  BrokerHarness h(Options());
  auto before = client::Client::Connect(h.addr(), Bearer("producer-token"));
  ASSERT_TRUE(before.ok());
  auto next = security::IdentityTable::Parse("[[identity]]\nname = \"new\"\nscopes = [\"publish\"]\ntoken_hashes = [\"" +
                                                 Sha256Hex("new-token") + "\"]\n",
                                             "auth.toml");
  ASSERT_TRUE(next.ok());
  ASSERT_TRUE(h.broker().ReplaceIdentities(*next).ok());
  EXPECT_FALSE(h.broker().ReplaceIdentities(nullptr).ok());
  EXPECT_FALSE(client::Client::Connect(h.addr(), Bearer("producer-token")).ok());
  auto fresh = client::Client::Connect(h.addr(), Bearer("new-token"));
  ASSERT_TRUE(fresh.ok()) << fresh.status().ToString();
  EXPECT_TRUE((*before)->Publish(Payload("still-producer")).ok());
}

TEST_F(AuthBroker, ThePreauthGateRefusesAtAcceptAndLocksOutAfterFailures) {
  BrokerOptions o = Options();
  security::PreauthOptions p;
  p.lockout_failures = 3;
  p.rate_per_sec = 0;  // the rate limit is tested with a fake clock in tests/security
  o.preauth = p;
  BrokerHarness h(o);
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(client::Client::Connect(h.addr(), Bearer("guess")).ok());
  // Locked out: even the right credential is refused at accept (closed before any byte).
  auto locked = client::Client::Connect(h.addr(), Bearer("producer-token"));
  ASSERT_FALSE(locked.ok());
  EXPECT_EQ(locked.status().message().find(kViolation), std::string::npos) << locked.status().ToString();
  const auto stats = h.broker().stats();
  EXPECT_EQ(stats.preauth_locked_out, 1u);
  EXPECT_EQ(stats.preauth_half_open, 0u);
  EXPECT_NE(audit_lines_.Joined().find(R"("event":"preauth_rejection","source_ip":"127.0.0.1","reason":"locked_out")"),
            std::string::npos)
      << audit_lines_.Joined();
}

TEST_F(AuthBroker, TheHalfOpenCapCountsConnectionsUntilTheyAuthenticate) {
  BrokerOptions o = Options();
  security::PreauthOptions p;
  p.max_preauth_connections = 2;
  p.rate_per_sec = 0;
  p.lockout_failures = 0;
  o.preauth = p;
  BrokerHarness h(o);
  RawConn idle1(h.port());
  RawConn idle2(h.port());
  ASSERT_TRUE(idle1.connected() && idle2.connected());
  // Both slots are taken by connections that have not authenticated: a third is closed.
  for (int i = 0; i < 200 && h.broker().stats().preauth_half_open < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  RawConn third(h.port());
  EXPECT_TRUE(third.WaitClosed());
  EXPECT_EQ(h.broker().stats().preauth_half_open_cap, 1u);
  // Once one authenticates, its slot is free again.
  pr::Connect hello;
  hello.auth = client::BearerCredential(AsBytes("producer-token"));
  idle1.Handshake(hello);
  for (int i = 0; i < 200 && h.broker().stats().preauth_half_open > 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  auto c = client::Client::Connect(h.addr(), Bearer("consumer-token"));
  EXPECT_TRUE(c.ok()) << c.status().ToString();
}

// 1,000 failed logins from one address: after the lockout threshold every further attempt is
// refused at accept, before any byte is read or any credential checked; nothing accumulates.
TEST_F(AuthBroker, AThousandFailedLoginsFromOneAddressAreCutOffAtAccept) {
  BrokerOptions o = Options();
  security::PreauthOptions p;
  p.rate_per_sec = 0;  // only the lockout: every attempt reaches the gate
  // 5 failures in 60 s lock the address out (the defaults). The first cooldown is made longer
  // than any run of this loop can take (it is 1 s by default, and a sanitizer build can spend
  // that on the loop), so the lockout cannot lapse in the middle; the timing itself is tested on
  // a fake clock in tests/security/preauth_test.cc.
  p.lockout_base_ms = 600'000;
  p.lockout_max_ms = 600'000;
  o.preauth = p;
  BrokerHarness h(o);
  int refused_with_violation = 0;
  for (int i = 0; i < 1000; ++i) {
    auto c = client::Client::Connect(h.addr(), Bearer("guess-" + std::to_string(i)));
    ASSERT_FALSE(c.ok());
    if (c.status().message().find(kViolation) != std::string::npos) ++refused_with_violation;
  }
  const auto stats = h.broker().stats();
  EXPECT_EQ(refused_with_violation, 5);  // only the first five got as far as a credential check
  EXPECT_EQ(stats.auth_failures, 5u);
  EXPECT_EQ(stats.preauth_locked_out, 995u);
  EXPECT_EQ(stats.preauth_half_open, 0u);
  EXPECT_LE(stats.connections_open, 1u);
}

}  // namespace
}  // namespace ironbus::server::testing
