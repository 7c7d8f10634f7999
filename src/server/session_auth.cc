// Authentication of a connection (spec/security.md 2, 3; spec/protocol.md 5.3): the Connect of
// a connection that must authenticate, the password verify off the io threads, and the one
// uniform refusal.
//
// Bearer and mTLS checks are a SHA-256 and constant-time compares, or a string match: cheap,
// done on the strand. A password is an Argon2id verify (~19 MiB, tens to hundreds of ms): it
// runs on the broker's password pool while this connection's reader waits, so an io thread never
// blocks and at most max_concurrent_password_verifies run at once (the rest wait in order).
#include <openssl/crypto.h>

#include "base/log.h"
#include "protocol/codec.h"
#include "protocol/handshake.h"
#include "security/tls.h"
#include "server/session.h"

namespace ironbus::server {
namespace {

namespace pr = protocol;

constexpr std::string_view kAuthorizationViolation = "Authorization Violation";

std::string_view AsText(const Bytes& b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

void Wipe(Bytes* b) {
  if (!b->empty()) OPENSSL_cleanse(b->data(), b->size());
  b->clear();
}

// Runs the Argon2id verify on `pool` and completes on `back` (the session's strand).
asio::awaitable<security::AuthResult> AsyncVerifyPassword(asio::thread_pool& pool, asio::any_io_executor back,
                                                          std::shared_ptr<const security::IdentityTable> table,
                                                          std::shared_ptr<Bytes> username, std::shared_ptr<Bytes> password) {
  return asio::async_initiate<const asio::use_awaitable_t<>, void(security::AuthResult)>(
      [&pool, back, table, username, password](auto handler) {
        asio::post(pool, [back, table, username, password, h = std::move(handler)]() mutable {
          security::AuthResult r = table->AuthenticatePassword(AsText(*username), AsText(*password));
          Wipe(password.get());
          asio::post(back, [r = std::move(r), h = std::move(h)]() mutable { std::move(h)(std::move(r)); });
        });
      },
      asio::use_awaitable);
}

}  // namespace

bool Session::AwaitingHandshake() const { return handshaking_ || (identities_ != nullptr && !identity_); }

Session::Next Session::AuthorizationViolation() {
  ReplyErr("", kAuthorizationViolation);
  return Next::kStopReading;
}

Session::Next Session::AuthenticateConnect(ByteView body) {
  auto frame = pr::DecodeBody(static_cast<uint8_t>(pr::Tag::kConnect), body, pr::Direction::kToServer);
  if (!frame.ok()) {
    // A malformed block may be retried (spec/protocol.md 5.2); the handshake deadline bounds it.
    ReplyErr("", frame.status().message());
    return Next::kContinue;
  }
  pr::Connect& connect = std::get<pr::Connect>(*frame);
  if (!connect.auth || !pr::IsValidAuthMechanism(connect.auth->mechanism)) {
    FinishAuthentication(security::Mechanism::kBearer, security::AuthResult{std::nullopt, security::AuthFailure::kMalformed, ""});
    return Next::kStopReading;
  }
  const auto mechanism = static_cast<security::Mechanism>(connect.auth->mechanism);
  security::AuthResult result;
  switch (mechanism) {
    case security::Mechanism::kBearer:
      result = identities_->AuthenticateBearer(AsText(connect.auth->material));
      break;
    case security::Mechanism::kMtls: {
      // The identity comes from the certificate the TLS handshake verified, never from bytes the
      // client sends; without one, mTLS is a failure (spec 2.3).
      const auto san = security::VerifiedPeerIdentity(transport_.ssl());
      result = san ? identities_->AuthenticateMtls(*san)
                   : security::AuthResult{std::nullopt, security::AuthFailure::kMalformed, ""};
      break;
    }
    case security::Mechanism::kPassword: {
      auto creds = pr::ParsePasswordMaterial(connect.auth->material);
      Wipe(&connect.auth->material);
      if (!creds.ok()) {
        result = security::AuthResult{std::nullopt, security::AuthFailure::kMalformed, ""};
        break;
      }
      pending_password_.emplace(PendingPassword{std::move(connect), std::move(creds->username), std::move(creds->password)});
      return Next::kVerifyPassword;
    }
  }
  Wipe(&connect.auth->material);
  FinishAuthentication(mechanism, result);
  if (!identity_) return Next::kStopReading;
  HandleConnect(connect);
  return Next::kContinue;
}

asio::awaitable<void> Session::VerifyPassword() {
  if (!pending_password_) co_return;
  // The operation is built in its own statement: GCC 12 mishandles lambda temporaries that live
  // across the suspension point of a co_await expression.
  auto verify = AsyncVerifyPassword(*shared_->password_pool, strand_, identities_,
                                    std::make_shared<Bytes>(std::move(pending_password_->username)),
                                    std::make_shared<Bytes>(std::move(pending_password_->password)));
  security::AuthResult result = co_await std::move(verify);
  pr::Connect connect = std::move(pending_password_->connect);
  pending_password_.reset();
  if (closed_) co_return;
  FinishAuthentication(security::Mechanism::kPassword, result);
  if (identity_) {
    HandleConnect(connect);
  } else {
    StartDrain();  // the Authorization Violation is queued; the writer closes after it
  }
}

void Session::FinishAuthentication(security::Mechanism mechanism, const security::AuthResult& result) {
  security::PreauthGate* gate = shared_->preauth.get();
  if (result.ok()) {
    identity_ = *result.identity;
    shared_->auth_successes++;
    if (gate != nullptr) gate->RecordAuthSuccess(peer_ip_);
    preauth_slot_.Release();  // authenticated: no longer half-open
    if (shared_->audit) shared_->audit->Authn(identity_->name, mechanism, true);
    return;
  }
  shared_->auth_failures++;
  preauth_slot_.Release();  // the handshake failed: the connection is closing, not half-open
  // The lockout counts the failure; its penalty applies at this address's next connection,
  // never here (the compare stays constant-time, spec 4).
  if (gate != nullptr) gate->RecordAuthFailure(peer_ip_);
  if (shared_->audit) shared_->audit->Authn(result.claimed_identity, mechanism, false, result.failure);
  static logging::RateLimit limit;
  if (uint64_t suppressed = 0; limit.Allow(&suppressed)) {
    logging::LogTo(shared_->log_line, logging::Level::kWarn, "session.auth_failed",
                   {{"peer", peer_},
                    {"session", id_},
                    {"mechanism", std::string(security::MechanismName(mechanism))},
                    {"reason", std::string(security::AuthFailureName(result.failure))},
                    {"suppressed", suppressed}});
  }
  AuthorizationViolation();
}

}  // namespace ironbus::server
