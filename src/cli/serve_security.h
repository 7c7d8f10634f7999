// What `serve` loads for spec/security.md before anything opens, and re-reads on SIGHUP: the TLS
// context, the identity table, the audit log and the pre-auth options.
//
// Secret files (the TLS key, the identity table) pass the permission check first (mode 0600,
// owned by the broker's user): a refusal names the path and condition, goes to the audit log,
// and refuses the start. A bind is non-loopback when config validation classified it so; only
// then do the pre-auth defences run (spec 4: loopback is exempt).
#pragma once

#include <functional>
#include <memory>
#include <string_view>
#include <optional>

#include "base/result.h"
#include "config/config.h"
#include "security/audit.h"
#include "security/identities.h"
#include "security/preauth.h"
#include "security/tls.h"
#include "server/broker.h"

namespace ironbus::cli {

struct ServeSecurity {
  std::shared_ptr<const security::TlsContext> tls;            // null = plain TCP
  std::shared_ptr<const security::IdentityTable> identities;  // null = no authentication
  std::unique_ptr<security::AuditLog> audit;
  std::optional<security::PreauthOptions> preauth;  // set for a non-loopback bind
};

Result<ServeSecurity> LoadServeSecurity(const config::Config& cfg, bool loopback_bind);

// Copies what the broker needs into its options (the audit log stays owned by `security`).
void ApplyServeSecurity(const config::Config& cfg, ServeSecurity* security, server::BrokerOptions* options);

// For HealthSources::admin_authorized: with an identity table, /admin is served to a bearer token
// whose identity holds the admin scope (audited like a Connect); without one, empty (ungated).
std::function<bool(std::string_view)> AdminGate(server::Broker* broker, security::AuditLog* audit);

// SIGHUP: re-reads the TLS material and the identity table at the same paths and swaps them in
// for new connections; anything that does not load keeps the running one (logged).
void ReloadServeSecurity(const config::Config& cfg, ServeSecurity* security, server::Broker* broker);

}  // namespace ironbus::cli
