#include "cli/client_security.h"

#include <fstream>
#include <sstream>


namespace ironbus::cli {
namespace {

// A secret file's bytes, with one trailing newline dropped (`echo secret > file`).
Result<Bytes> ReadSecretFile(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::InvalidArgument(std::string(what) + " " + path + " cannot be read");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  if (!text.empty() && text.back() == '\n') text.pop_back();
  if (!text.empty() && text.back() == '\r') text.pop_back();
  if (text.empty()) return Status::InvalidArgument(std::string(what) + " " + path + " is empty");
  Bytes out(text.begin(), text.end());
  std::fill(text.begin(), text.end(), '\0');
  return out;
}

}  // namespace

void AddClientSecurityFlags(CLI::App* cmd, ClientSecurityFlags* flags) {
  cmd->add_option("--tls-ca", flags->ca,
                  "Connect with TLS 1.3, verifying the broker against this CA bundle or pinned certificate (PEM)");
  cmd->add_option("--tls-cert", flags->cert, "Client certificate chain for mTLS (PEM; needs --tls-ca and --tls-key)");
  cmd->add_option("--tls-key", flags->key, "Private key of --tls-cert (PEM)");
  cmd->add_option("--tls-server-name", flags->server_name,
                  "Name the broker's certificate must carry (default: the host of --addr)");
  cmd->add_option("--token-file", flags->token_file, "Authenticate with the bearer token in this file");
  cmd->add_option("--user", flags->user, "Authenticate as this user (the password from --password-file)");
  cmd->add_option("--password-file", flags->password_file, "File holding the password of --user");
  cmd->add_flag("--auth-mtls", flags->auth_mtls,
                "Authenticate as the identity of the client certificate (--tls-cert)");
}

Result<std::string> ReadTokenFile(const std::string& path) {
  if (path.empty()) return std::string();
  ASSIGN_OR_RETURN(Bytes token, ReadSecretFile(path, "--token-file"));
  std::string out(token.begin(), token.end());
  std::fill(token.begin(), token.end(), 0);
  return out;
}

std::string AdminRefusal(int http_status, std::string_view verb) {
  if (http_status == 401) {
    return std::string(verb) + " needs the admin scope: this broker has an identity table, so give --token-file with "
           "the token of an identity holding admin";
  }
  if (http_status == 403) {
    return "Authorization Violation: " + std::string(verb) + " needs a token of an identity with the admin scope";
  }
  return "";
}

std::string WithScopeHint(std::string message, std::string_view verb, std::string_view scope) {
  if (message.find("Authorization Violation") == std::string::npos) return message;
  return message + " (" + std::string(verb) + " needs an identity with the " + std::string(scope) +
         " scope; a refused credential looks the same)";
}

Result<client::ClientOptions> ClientOptionsWithSecurity(const ClientSecurityFlags& flags, client::ClientOptions base) {
  const int credentials = (flags.token_file.empty() ? 0 : 1) + (flags.user.empty() ? 0 : 1) + (flags.auth_mtls ? 1 : 0);
  if (credentials > 1) return Status::InvalidArgument("give one credential: --token-file, --user or --auth-mtls");
  if (flags.user.empty() != flags.password_file.empty()) {
    return Status::InvalidArgument("--user and --password-file go together");
  }
  if (!flags.token_file.empty()) {
    ASSIGN_OR_RETURN(Bytes token, ReadSecretFile(flags.token_file, "--token-file"));
    base.credential = client::BearerCredential(token);
  } else if (!flags.user.empty()) {
    ASSIGN_OR_RETURN(Bytes password, ReadSecretFile(flags.password_file, "--password-file"));
    const std::string& user = flags.user;
    auto credential = client::PasswordCredential(AsBytes(user), password);
    std::fill(password.begin(), password.end(), 0);
    if (!credential.ok()) return credential.status();
    base.credential = std::move(*credential);
  } else if (flags.auth_mtls) {
    if (flags.cert.empty()) return Status::InvalidArgument("--auth-mtls needs a client certificate (--tls-cert)");
    base.credential = client::MtlsCredential();
  }
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

}  // namespace ironbus::cli
