// TLS 1.3 contexts for the broker and its clients (spec/security.md section 1.1).
//
// One policy, no knobs to weaken it: TLS 1.3 is both the floor and the ceiling; the three
// TLS 1.3 AEAD suites only (ChaCha20-Poly1305 preferred when the CPU has no AES instructions);
// ECDHE groups X25519 then P-256; a client always verifies the broker's chain against its
// configured anchor and the expected name, and there is no "skip verification" anywhere. An
// anchor file that yields no certificate is an error, never an empty trust store.
//
// A TlsContext is immutable once built and shared: each connection's SSL object takes its own
// reference on the SSL_CTX, so a SIGHUP that builds a new context (certificate rotation) never
// disturbs connections made from the old one.
//
// The private key's permission check (spec 6.2) is the caller's: it runs before ForServer and
// ForClient read any key file.
#pragma once

#include <asio/ssl/context.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "base/result.h"

typedef struct ssl_st SSL;
typedef struct x509_st X509;

namespace ironbus::security {

// Cipher suites in preference order; with no AES instructions ChaCha20 goes first.
inline constexpr char kTls13SuitesAesFirst[] =
    "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256";
inline constexpr char kTls13SuitesChachaFirst[] =
    "TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256";
inline constexpr char kTlsGroups[] = "X25519:P-256";

struct TlsServerFiles {
  std::string cert_chain_file;  // PEM, leaf first
  std::string key_file;         // PEM: PKCS#8, SEC1 or PKCS#1
  std::string client_ca_file;   // PEM bundle; non-empty = mTLS: a client certificate is required
};

struct TlsClientFiles {
  std::string ca_file;    // the anchor: a CA bundle or the pinned broker certificate (PEM)
  std::string cert_file;  // optional client certificate chain (mTLS)
  std::string key_file;   // its key; given together with cert_file
};

class TlsContext {
 public:
  // InvalidArgument naming the file and OpenSSL's reason when a file does not load, the key
  // does not match the certificate, or an anchor file holds no certificate.
  static Result<std::shared_ptr<TlsContext>> ForServer(const TlsServerFiles& files);
  static Result<std::shared_ptr<TlsContext>> ForClient(const TlsClientFiles& files);

  asio::ssl::context& asio_context() const { return context_; }
  bool requires_client_certificate() const { return requires_client_certificate_; }
  // The leaf certificate's SHA-256 fingerprint (hex, lowercase) when one is loaded, else "".
  const std::string& certificate_fingerprint() const { return fingerprint_; }

 private:
  explicit TlsContext(asio::ssl::context context) : context_(std::move(context)) {}

  mutable asio::ssl::context context_;
  bool requires_client_certificate_ = false;
  std::string fingerprint_;
};

// Sets what the client checks on this connection: SNI and the expected name (a DNS name, or
// an IP literal matched against the certificate's IP SANs). InvalidArgument for an empty name.
Status ExpectPeerName(SSL* ssl, const std::string& name);

// The identity of a verified peer certificate (spec 2.3): its first URI SAN, else its first DNS
// SAN; never the Common Name. Nothing when there is no verified certificate or no such SAN.
std::optional<std::string> VerifiedPeerIdentity(SSL* ssl);
std::optional<std::string> CertificateSanIdentity(X509* certificate);

// The negotiated protocol version and cipher suite ("TLSv1.3", "TLS_AES_256_GCM_SHA384").
std::string NegotiatedVersion(SSL* ssl);
std::string NegotiatedCipher(SSL* ssl);

// Drains OpenSSL's error queue into one line ("" when empty).
std::string TakeOpenSslErrors();

}  // namespace ironbus::security
