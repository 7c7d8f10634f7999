// A throwaway PKI for TLS tests, made with OpenSSL's API (no openssl CLI, nothing fixed in the
// tree that could expire): a CA, and leaf certificates with chosen SANs and validity, written as
// PEM files (keys 0600) under a directory. Shared by the security, server and e2e tests.
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>

namespace ironbus::testing {

struct TestCert {
  std::string cert_file;  // PEM leaf (for a leaf) or the CA certificate
  std::string key_file;   // PEM private key, mode 0600
};

class TestPki {
 public:
  // A CA named `ca_name`, written to <dir>/<ca_name>.pem and .key.
  TestPki(std::string dir, const std::string& ca_name = "test-ca") : dir_(std::move(dir)) {
    ca_key_.reset(EVP_EC_gen("P-256"));
    ca_cert_.reset(Make(ca_name, ca_name, ca_key_.get(), ca_key_.get(), nullptr, "", 0, 86400, /*is_ca=*/true));
    ca_ = Write(ca_name, ca_cert_.get(), ca_key_.get());
  }

  const TestCert& ca() const { return ca_; }

  // A leaf signed by this CA. `sans` uses OpenSSL's config syntax, e.g.
  // "DNS:localhost,IP:127.0.0.1" or "URI:spiffe://edge/sensor-1". Validity is
  // [now + not_before_s, now + not_after_s].
  TestCert Issue(const std::string& name, const std::string& sans, long not_before_s = -60,
                 long not_after_s = 86400) {
    std::unique_ptr<EVP_PKEY, KeyFree> key(EVP_EC_gen("P-256"));
    std::unique_ptr<X509, CertFree> cert(
        Make(name, "", key.get(), ca_key_.get(), ca_cert_.get(), sans, not_before_s, not_after_s, false));
    return Write(name, cert.get(), key.get());
  }

  // A self-signed certificate no CA here vouches for.
  TestCert SelfSigned(const std::string& name, const std::string& sans) {
    std::unique_ptr<EVP_PKEY, KeyFree> key(EVP_EC_gen("P-256"));
    std::unique_ptr<X509, CertFree> cert(Make(name, name, key.get(), key.get(), nullptr, sans, -60, 86400, false));
    return Write(name, cert.get(), key.get());
  }

 private:
  struct KeyFree {
    void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
  };
  struct CertFree {
    void operator()(X509* c) const { X509_free(c); }
  };

  static void Check(bool ok, const char* what) {
    if (!ok) throw std::runtime_error(std::string("test PKI: ") + what);
  }

  static void AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
    Check(ext != nullptr, "extension");
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
  }

  X509* Make(const std::string& cn, const std::string& self_issuer, EVP_PKEY* key, EVP_PKEY* signer, X509* issuer,
             const std::string& sans, long not_before_s, long not_after_s, bool is_ca) {
    X509* cert = X509_new();
    Check(cert != nullptr, "X509_new");
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), ++serial_);
    X509_gmtime_adj(X509_getm_notBefore(cert), not_before_s);
    X509_gmtime_adj(X509_getm_notAfter(cert), not_after_s);
    X509_NAME* subject = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1,
                               -1, 0);
    if (issuer != nullptr) {
      X509_set_issuer_name(cert, X509_get_subject_name(issuer));
    } else {
      (void)self_issuer;
      X509_set_issuer_name(cert, subject);
    }
    X509_set_pubkey(cert, key);
    X509* ext_issuer = issuer != nullptr ? issuer : cert;
    if (is_ca) {
      AddExtension(cert, ext_issuer, NID_basic_constraints, "critical,CA:TRUE");
      AddExtension(cert, ext_issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
      AddExtension(cert, ext_issuer, NID_basic_constraints, "critical,CA:FALSE");
      AddExtension(cert, ext_issuer, NID_key_usage, "critical,digitalSignature");
      AddExtension(cert, ext_issuer, NID_ext_key_usage, "serverAuth,clientAuth");
    }
    if (!sans.empty()) AddExtension(cert, ext_issuer, NID_subject_alt_name, sans);
    Check(X509_sign(cert, signer, EVP_sha256()) > 0, "X509_sign");
    return cert;
  }

  TestCert Write(const std::string& name, X509* cert, EVP_PKEY* key) {
    TestCert out{dir_ + "/" + name + ".pem", dir_ + "/" + name + ".key"};
    FILE* f = std::fopen(out.cert_file.c_str(), "w");
    Check(f != nullptr && PEM_write_X509(f, cert) == 1, "write certificate");
    std::fclose(f);
    f = std::fopen(out.key_file.c_str(), "w");
    Check(f != nullptr, "open key file");
    ::fchmod(fileno(f), 0600);
    Check(PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr) == 1, "write key");
    std::fclose(f);
    return out;
  }

  std::string dir_;
  long serial_ = 0;
  std::unique_ptr<EVP_PKEY, KeyFree> ca_key_;
  std::unique_ptr<X509, CertFree> ca_cert_;
  TestCert ca_;
};

}  // namespace ironbus::testing
