// TLS and credentials for the CLI (spec/security.md 1.1, 2): the client flags every verb that
// talks to the broker takes (--tls-ca, --tls-cert, --tls-key, --tls-server-name; --token-file,
// --user with --password-file, --auth-mtls), and serve's server context built from the config at
// start and again on each SIGHUP (certificate rotation). Secrets are read from files, never taken
// on the command line.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "base/result.h"
#include "client/client.h"
#include "security/tls.h"

namespace ironbus::cli {

struct ClientSecurityFlags {
  std::string ca;           // the broker's CA bundle or pinned certificate: turns TLS on
  std::string cert;         // mTLS client certificate chain
  std::string key;          // its key
  std::string server_name;  // the name the broker's certificate must carry (default: the host)
  std::string token_file;     // bearer token
  std::string user;           // password login: the username ...
  std::string password_file;  // ... and a file holding the password
  bool auth_mtls = false;     // authenticate as the client certificate's identity
};

void AddClientSecurityFlags(CLI::App* cmd, ClientSecurityFlags* flags);

// `message`, plus which scope the verb needs when the broker answered `Authorization Violation`
// (the broker never says why; spec/security.md 3): e.g. "... (pub needs an identity with the
// publish scope; a refused credential looks the same)".
std::string WithScopeHint(std::string message, std::string_view verb, std::string_view scope);

// The bearer token in `path` (one trailing newline dropped); "" for an empty path. For the admin
// verbs, which send it to /admin on the health port.
Result<std::string> ReadTokenFile(const std::string& path);

// What an /admin answer of 401 or 403 means for `verb` ("" for any other status).
std::string AdminRefusal(int http_status, std::string_view verb);

// ClientOptions with TLS and the credential set up from the flags (plain and anonymous when
// none is given). InvalidArgument for --tls-cert/--tls-key without --tls-ca, more than one
// credential, --user without --password-file, or a file that does not load.
Result<client::ClientOptions> ClientOptionsWithSecurity(const ClientSecurityFlags& flags, client::ClientOptions base = {});

}  // namespace ironbus::cli
