#include "cli/serve_security.h"

#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"

namespace ironbus::cli {
namespace {

// The permission check of spec 6.2 for one secret file, audited when it refuses.
Status CheckSecret(const std::string& path, security::AuditLog* audit) {
  security::SecretFileCondition condition{};
  Status s = security::CheckSecretFile(path, ::geteuid(), &condition);
  if (!s.ok() && audit != nullptr) audit->SecretPermissionRefusal(path, condition);
  return s;
}

Result<std::shared_ptr<const security::TlsContext>> LoadTls(const config::Config& cfg, security::AuditLog* audit) {
  if (cfg.tls_cert.empty()) return std::shared_ptr<const security::TlsContext>();
  RETURN_IF_ERROR(CheckSecret(cfg.tls_key, audit));
  ASSIGN_OR_RETURN(std::shared_ptr<security::TlsContext> tls,
                   security::TlsContext::ForServer({cfg.tls_cert, cfg.tls_key, cfg.tls_client_ca}));
  return std::shared_ptr<const security::TlsContext>(std::move(tls));
}

Result<std::shared_ptr<const security::IdentityTable>> LoadIdentities(const config::Config& cfg,
                                                                      security::AuditLog* audit) {
  if (cfg.auth_config.empty()) return std::shared_ptr<const security::IdentityTable>();
  security::SecretFileCondition condition{};
  auto table = security::IdentityTable::Load(cfg.auth_config, ::geteuid(), &condition);
  if (!table.ok()) {
    if (table.status().IsNotFound() || table.status().IsFailedPrecondition() || table.status().IsIOError()) {
      if (audit != nullptr) audit->SecretPermissionRefusal(cfg.auth_config, condition);
    }
    return table.status();
  }
  if ((*table)->empty()) {
    return Status::InvalidArgument("--auth-config " + cfg.auth_config + " holds no [[identity]]: nobody could connect");
  }
  return *table;
}

}  // namespace

Result<ServeSecurity> LoadServeSecurity(const config::Config& cfg, bool loopback_bind) {
  ServeSecurity out;
  ASSIGN_OR_RETURN(out.audit, security::AuditLog::Open(cfg.audit_log, SystemClock::Default()));
  auto tls = LoadTls(cfg, out.audit.get());
  if (!tls.ok()) return Status::InvalidArgument("TLS: " + tls.status().message());
  out.tls = std::move(*tls);
  auto identities = LoadIdentities(cfg, out.audit.get());
  if (!identities.ok()) return Status::InvalidArgument("--auth-config: " + identities.status().message());
  out.identities = std::move(*identities);
  if (!loopback_bind) {
    security::PreauthOptions p;
    p.max_preauth_connections = static_cast<uint32_t>(cfg.max_preauth_connections);
    p.rate_per_sec = static_cast<uint32_t>(cfg.preauth_rate_per_ip);
    p.burst = std::max<uint32_t>(1, static_cast<uint32_t>(cfg.preauth_rate_per_ip));
    p.lockout_failures = static_cast<uint32_t>(cfg.auth_failure_lockout);
    p.failure_window_ms = static_cast<int64_t>(cfg.auth_failure_window_ms);
    p.lockout_max_ms = static_cast<int64_t>(cfg.auth_lockout_max_ms);
    out.preauth = p;
  }
  return out;
}

void ApplyServeSecurity(const config::Config& cfg, ServeSecurity* security, server::BrokerOptions* options) {
  options->tls = security->tls;
  options->identities = security->identities;
  options->audit = security->audit.get();
  options->preauth = security->preauth;
  options->max_concurrent_password_verifies = static_cast<int>(cfg.max_concurrent_password_verifies);
  options->handshake_timeout = std::chrono::milliseconds(cfg.handshake_timeout_ms);
}

std::function<bool(std::string_view)> AdminGate(server::Broker* broker, security::AuditLog* audit) {
  if (broker->identities() == nullptr) return {};
  return [broker, audit](std::string_view token) {
    const auto table = broker->identities();
    if (table == nullptr) return false;
    const security::AuthResult r = table->AuthenticateBearer(token);
    if (audit != nullptr) audit->Authn(r.ok() ? r.identity->name : std::string(), security::Mechanism::kBearer, r.ok(), r.failure);
    if (!r.ok()) return false;
    if (!r.identity->scopes.Has(security::Scope::kAdmin)) {
      if (audit != nullptr) audit->AuthzDenial(r.identity->name, "admin", "GET /admin");
      return false;
    }
    return true;
  };
}

void ReloadServeSecurity(const config::Config& cfg, ServeSecurity* security, server::Broker* broker) {
  if (security->tls) {
    auto next = LoadTls(cfg, security->audit.get());
    Status applied = next.ok() ? broker->ReplaceTls(*next) : next.status();
    if (!applied.ok()) {
      logging::Error("tls.reload", {{"result", "rejected"},
                                    {"cert", cfg.tls_cert},
                                    {"error", applied.message()},
                                    {"msg", "SIGHUP: TLS material rejected; new connections keep the running certificate"}});
    } else {
      security->tls = *next;
      logging::Info("tls.reload", {{"result", "applied"},
                                   {"cert", cfg.tls_cert},
                                   {"fingerprint_sha256", (*next)->certificate_fingerprint()},
                                   {"msg", "SIGHUP: TLS material re-read; new connections use it"}});
    }
  }
  if (security->identities) {
    auto next = LoadIdentities(cfg, security->audit.get());
    Status applied = next.ok() ? broker->ReplaceIdentities(*next) : next.status();
    if (!applied.ok()) {
      logging::Error("auth.reload", {{"result", "rejected"},
                                     {"path", cfg.auth_config},
                                     {"error", applied.message()},
                                     {"msg", "SIGHUP: identity table rejected; the running one stays"}});
      return;
    }
    const security::IdentityDiff diff = security::Diff(*security->identities, **next);
    security->audit->IdentityReload(diff);
    security->identities = *next;
    logging::Info("auth.reload", {{"result", "applied"},
                                  {"path", cfg.auth_config},
                                  {"identities", static_cast<uint64_t>((*next)->size())},
                                  {"changes", diff.ToString()},
                                  {"msg", "SIGHUP: identity table re-read; new connections use it"}});
  }
}

}  // namespace ironbus::cli
