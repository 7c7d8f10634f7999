#include "cli/tls_setup.h"

#include "base/log.h"

namespace ironbus::cli {

void AddClientTlsFlags(CLI::App* cmd, ClientTlsFlags* flags) {
  cmd->add_option("--tls-ca", flags->ca,
                  "Connect with TLS 1.3, verifying the broker against this CA bundle or pinned certificate (PEM)");
  cmd->add_option("--tls-cert", flags->cert, "Client certificate chain for mTLS (PEM; needs --tls-ca and --tls-key)");
  cmd->add_option("--tls-key", flags->key, "Private key of --tls-cert (PEM)");
  cmd->add_option("--tls-server-name", flags->server_name,
                  "Name the broker's certificate must carry (default: the host of --addr)");
}

Result<client::ClientOptions> ClientOptionsWithTls(const ClientTlsFlags& flags, client::ClientOptions base) {
  if (flags.ca.empty()) {
    if (!flags.cert.empty() || !flags.key.empty() || !flags.server_name.empty()) {
      return Status::InvalidArgument("--tls-cert, --tls-key and --tls-server-name need --tls-ca (the broker is always verified)");
    }
    return base;
  }
  ASSIGN_OR_RETURN(std::shared_ptr<security::TlsContext> tls,
                   security::TlsContext::ForClient({flags.ca, flags.cert, flags.key}));
  base.tls = std::move(tls);
  base.tls_server_name = flags.server_name;
  return base;
}

Result<std::shared_ptr<const security::TlsContext>> ServerTlsFromConfig(const config::Config& cfg) {
  if (cfg.tls_cert.empty() && cfg.tls_key.empty()) return std::shared_ptr<const security::TlsContext>();
  ASSIGN_OR_RETURN(std::shared_ptr<security::TlsContext> tls,
                   security::TlsContext::ForServer({cfg.tls_cert, cfg.tls_key, cfg.tls_client_ca}));
  return std::shared_ptr<const security::TlsContext>(std::move(tls));
}

void ReloadServerTls(const config::Config& cfg, server::Broker* broker) {
  if (cfg.tls_cert.empty()) return;
  auto next = ServerTlsFromConfig(cfg);
  if (!next.ok()) {
    logging::Error("tls.reload", {{"result", "rejected"},
                                  {"cert", cfg.tls_cert},
                                  {"error", next.status().message()},
                                  {"msg", "SIGHUP: TLS material rejected; new connections keep the running certificate"}});
    return;
  }
  if (Status s = broker->ReplaceTls(*next); !s.ok()) {
    logging::Error("tls.reload", {{"result", "rejected"}, {"error", s.message()}});
    return;
  }
  logging::Info("tls.reload", {{"result", "applied"},
                               {"cert", cfg.tls_cert},
                               {"fingerprint_sha256", (*next)->certificate_fingerprint()},
                               {"msg", "SIGHUP: TLS material re-read; new connections use it"}});
}

}  // namespace ironbus::cli
