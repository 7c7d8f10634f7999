#include "security/tls.h"

#include "base/cpu_features.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <memory>


namespace ironbus::security {
namespace {

struct FileCloser {
  void operator()(FILE* f) const { std::fclose(f); }
};
struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};

Status Failed(const std::string& what, const std::string& path) {
  std::string reason = TakeOpenSslErrors();
  return Status::InvalidArgument(what + " " + path + ": " + (reason.empty() ? "not usable" : reason));
}

// Counts the certificates of a PEM file: an anchor or client-CA file must hold at least one.
Result<int> CountPemCertificates(const std::string& path) {
  std::unique_ptr<FILE, FileCloser> f(std::fopen(path.c_str(), "r"));
  if (!f) return Status::InvalidArgument("cannot open " + path);
  int count = 0;
  while (std::unique_ptr<X509, X509Deleter> cert{PEM_read_X509(f.get(), nullptr, nullptr, nullptr)}) ++count;
  ERR_clear_error();  // the read that ends the loop leaves "no start line" behind
  return count;
}

std::string Fingerprint(X509* cert) {
  if (cert == nullptr) return "";
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_digest(cert, EVP_sha256(), md, &len) != 1) return "";
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 15]);
  }
  return out;
}

// The policy both sides share: TLS 1.3 only, the three AEAD suites, X25519 first.
Status ApplyProtocolPolicy(SSL_CTX* ctx) {
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1) {
    return Status::Internal("cannot pin TLS 1.3: " + TakeOpenSslErrors());
  }
  const char* suites = CpuHasAes() ? kTls13SuitesAesFirst : kTls13SuitesChachaFirst;
  if (SSL_CTX_set_ciphersuites(ctx, suites) != 1) return Status::Internal("cipher suites: " + TakeOpenSslErrors());
  if (SSL_CTX_set1_groups_list(ctx, kTlsGroups) != 1) return Status::Internal("groups: " + TakeOpenSslErrors());
  // Idle connections give their 2 x 16 KiB record buffers back (edge RAM); compression is
  // never on in TLS 1.3 anyway.
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_CIPHER_SERVER_PREFERENCE);
  return Status::Ok();
}

Status LoadCertificateAndKey(SSL_CTX* ctx, const std::string& cert_file, const std::string& key_file) {
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1) return Failed("certificate", cert_file);
  if (SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
      return Failed("private key does not match the certificate:", key_file);
    }
    return Failed("private key", key_file);
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return Failed("private key does not match the certificate:", key_file);
  }
  return Status::Ok();
}

Status LoadAnchors(SSL_CTX* ctx, const std::string& file, const char* what) {
  ASSIGN_OR_RETURN(int count, CountPemCertificates(file));
  if (count == 0) return Status::InvalidArgument(std::string(what) + " " + file + " holds no PEM certificate");
  if (SSL_CTX_load_verify_locations(ctx, file.c_str(), nullptr) != 1) return Failed(what, file);
  return Status::Ok();
}

}  // namespace

Result<std::shared_ptr<TlsContext>> TlsContext::ForServer(const TlsServerFiles& files) {
  if (files.cert_chain_file.empty() || files.key_file.empty()) {
    return Status::InvalidArgument("TLS needs both a certificate (--tls-cert) and its key (--tls-key)");
  }
  asio::ssl::context context(asio::ssl::context::tls_server);
  SSL_CTX* ctx = context.native_handle();
  RETURN_IF_ERROR(ApplyProtocolPolicy(ctx));
  RETURN_IF_ERROR(LoadCertificateAndKey(ctx, files.cert_chain_file, files.key_file));
  std::shared_ptr<TlsContext> out(new TlsContext(std::move(context)));
  if (!files.client_ca_file.empty()) {
    RETURN_IF_ERROR(LoadAnchors(ctx, files.client_ca_file, "client CA file"));
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(files.client_ca_file.c_str());
    if (names != nullptr) SSL_CTX_set_client_CA_list(ctx, names);  // takes ownership
    ERR_clear_error();
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    out->requires_client_certificate_ = true;
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  }
  out->fingerprint_ = Fingerprint(SSL_CTX_get0_certificate(ctx));
  return out;
}

Result<std::shared_ptr<TlsContext>> TlsContext::ForClient(const TlsClientFiles& files) {
  if (files.ca_file.empty()) {
    return Status::InvalidArgument("TLS needs the broker's CA or certificate (--tls-ca): verification is never skipped");
  }
  if (files.cert_file.empty() != files.key_file.empty()) {
    return Status::InvalidArgument("a client certificate needs both --tls-cert and --tls-key");
  }
  asio::ssl::context context(asio::ssl::context::tls_client);
  SSL_CTX* ctx = context.native_handle();
  RETURN_IF_ERROR(ApplyProtocolPolicy(ctx));
  RETURN_IF_ERROR(LoadAnchors(ctx, files.ca_file, "CA file"));
  if (!files.cert_file.empty()) RETURN_IF_ERROR(LoadCertificateAndKey(ctx, files.cert_file, files.key_file));
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  std::shared_ptr<TlsContext> out(new TlsContext(std::move(context)));
  out->fingerprint_ = Fingerprint(SSL_CTX_get0_certificate(ctx));
  return out;
}

Status ExpectPeerName(SSL* ssl, const std::string& name) {
  if (name.empty()) return Status::InvalidArgument("TLS needs the broker's name to check its certificate");
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  // An IP literal is checked against the IP SANs; a name against the DNS SANs (and sent as SNI,
  // which RFC 6066 forbids for literals).
  if (X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str()) == 1) return Status::Ok();
  ERR_clear_error();
  if (SSL_set_tlsext_host_name(ssl, name.c_str()) != 1 || SSL_set1_host(ssl, name.c_str()) != 1) {
    return Status::InvalidArgument("cannot expect broker name \"" + name + "\": " + TakeOpenSslErrors());
  }
  return Status::Ok();
}

std::optional<std::string> CertificateSanIdentity(X509* certificate) {
  if (certificate == nullptr) return std::nullopt;
  GENERAL_NAMES* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(certificate, NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr) return std::nullopt;
  std::optional<std::string> uri;
  std::optional<std::string> dns;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
    const ASN1_IA5STRING* s = nullptr;
    if (n->type == GEN_URI && !uri) s = n->d.uniformResourceIdentifier;
    if (n->type == GEN_DNS && !dns) s = n->d.dNSName;
    if (s == nullptr) continue;
    std::string value(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)), static_cast<size_t>(ASN1_STRING_length(s)));
    if (value.empty() || value.find('\0') != std::string::npos) continue;  // never an embedded NUL
    (n->type == GEN_URI ? uri : dns) = std::move(value);
  }
  GENERAL_NAMES_free(names);
  if (uri) return uri;
  return dns;
}

std::optional<std::string> VerifiedPeerIdentity(SSL* ssl) {
  if (ssl == nullptr || SSL_get_verify_result(ssl) != X509_V_OK) return std::nullopt;
  X509* cert = SSL_get0_peer_certificate(ssl);
  return CertificateSanIdentity(cert);
}

std::string NegotiatedVersion(SSL* ssl) { return ssl ? SSL_get_version(ssl) : ""; }

std::string NegotiatedCipher(SSL* ssl) {
  const SSL_CIPHER* c = ssl ? SSL_get_current_cipher(ssl) : nullptr;
  return c ? SSL_CIPHER_get_name(c) : "";
}


std::string TakeOpenSslErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

}  // namespace ironbus::security
