#include "libs/server/tls.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <ctime>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "libs/status/status.h"

ABSL_FLAG(std::string, tls_cert_file, "",
          "PEM certificate (chain) to serve TLS with; empty serves plaintext");
ABSL_FLAG(std::string, tls_key_file, "", "PEM private key of --tls_cert_file");
ABSL_FLAG(std::string, tls_client_ca_file, "",
          "PEM CA bundle: require client certificates it signed (mutual TLS)");
ABSL_FLAG(std::string, upstream_tls_ca_file, "",
          "PEM CA bundle to verify upstream services with; empty calls them in plaintext");
ABSL_FLAG(std::string, upstream_tls_cert_file, "",
          "PEM client certificate presented to upstream services (mutual TLS)");
ABSL_FLAG(std::string, upstream_tls_key_file, "", "PEM private key of --upstream_tls_cert_file");
ABSL_FLAG(
    std::string, health_listen, "",
    "host:port of a plaintext listener serving only grpc.health.v1 (for probes); empty: none");

namespace tahe::server {
namespace {

struct BioDeleter {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Deleter {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct KeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};

std::unique_ptr<BIO, BioDeleter> MemoryBio(absl::string_view pem) {
  return std::unique_ptr<BIO, BioDeleter>(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

std::unique_ptr<X509, X509Deleter> FirstCertificate(absl::string_view pem) {
  auto bio = MemoryBio(pem);
  return std::unique_ptr<X509, X509Deleter>(
      bio == nullptr ? nullptr : PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

// The PEM in `path`, which must hold a certificate (or, with `key`, a private key matching none
// in particular). INVALID_ARGUMENT names `flag`.
absl::StatusOr<std::string> ReadPem(absl::string_view flag, const std::string& path) {
  absl::StatusOr<std::string> pem = config::ReadSecret(flag, "", path);
  if (!pem.ok()) return pem.status();
  return absl::StrCat(*pem, "\n");
}

absl::StatusOr<std::string> ReadCertificate(absl::string_view flag, const std::string& path) {
  ASSIGN_OR_RETURN(std::string pem, ReadPem(flag, path));
  if (FirstCertificate(pem) == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(flag, ": ", path, " holds no PEM certificate"));
  }
  return pem;
}

// A certificate and its key: both flags given, both readable, and the key the certificate's.
absl::StatusOr<grpc::SslServerCredentialsOptions::PemKeyCertPair> ReadKeyPair(
    absl::string_view cert_flag, const std::string& cert_file, absl::string_view key_flag,
    const std::string& key_file) {
  if (key_file.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(key_flag, ": required with ", cert_flag));
  }
  ASSIGN_OR_RETURN(std::string cert, ReadCertificate(cert_flag, cert_file));
  ASSIGN_OR_RETURN(std::string key, ReadPem(key_flag, key_file));
  absl::Status match = CheckKeyMatchesCertificate(cert, key);
  if (!match.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(key_flag, ": ", match.message()));
  }
  return grpc::SslServerCredentialsOptions::PemKeyCertPair{key, cert};
}

// The expiry gauge of each certificate a process presents, registered on first use.
class ExpiryGauges {
 public:
  explicit ExpiryGauges(prometheus::Registry* registry) : registry_(registry) {}
  void Set(absl::string_view role, int64_t not_after) {
    if (registry_ == nullptr) return;
    if (family_ == nullptr) {
      family_ = &prometheus::BuildGauge()
                     .Name("tahe_tls_certificate_expiry_timestamp_seconds")
                     .Help("notAfter of a certificate this process presents, in Unix seconds")
                     .Register(*registry_);
    }
    family_->Add({{"role", std::string(role)}}).Set(static_cast<double>(not_after));
  }

 private:
  prometheus::Registry* registry_;
  prometheus::Family<prometheus::Gauge>* family_ = nullptr;
};

}  // namespace

TlsSettings TlsSettingsFromFlags() {
  return {.cert_file = absl::GetFlag(FLAGS_tls_cert_file),
          .key_file = absl::GetFlag(FLAGS_tls_key_file),
          .client_ca_file = absl::GetFlag(FLAGS_tls_client_ca_file),
          .upstream_ca_file = absl::GetFlag(FLAGS_upstream_tls_ca_file),
          .upstream_cert_file = absl::GetFlag(FLAGS_upstream_tls_cert_file),
          .upstream_key_file = absl::GetFlag(FLAGS_upstream_tls_key_file)};
}

const std::vector<config::EnvFallback>& TlsEnvFallbacks() {
  static const auto* fallbacks = new std::vector<config::EnvFallback>{
      {"tls_cert_file", "TAHE_TLS_CERT_FILE"},
      {"tls_key_file", "TAHE_TLS_KEY_FILE"},
      {"tls_client_ca_file", "TAHE_TLS_CLIENT_CA_FILE"},
      {"upstream_tls_ca_file", "TAHE_UPSTREAM_TLS_CA_FILE"},
      {"upstream_tls_cert_file", "TAHE_UPSTREAM_TLS_CERT_FILE"},
      {"upstream_tls_key_file", "TAHE_UPSTREAM_TLS_KEY_FILE"},
      {"health_listen", "TAHE_HEALTH_LISTEN"}};
  return *fallbacks;
}

absl::StatusOr<int64_t> CertificateNotAfter(absl::string_view pem) {
  auto cert = FirstCertificate(pem);
  if (cert == nullptr) {
    return absl::InvalidArgumentError("no PEM certificate");
  }
  struct tm not_after = {};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert.get()), &not_after) != 1) {
    return absl::InvalidArgumentError("certificate has an unreadable notAfter");
  }
  return static_cast<int64_t>(timegm(&not_after));
}

absl::Status CheckKeyMatchesCertificate(absl::string_view cert_pem, absl::string_view key_pem) {
  auto cert = FirstCertificate(cert_pem);
  if (cert == nullptr) {
    return absl::InvalidArgumentError("no PEM certificate");
  }
  auto bio = MemoryBio(key_pem);
  // A passphrase callback that refuses: OpenSSL's default would ask on the terminal and wait.
  pem_password_cb* no_passphrase = [](char*, int, int, void*) { return -1; };
  std::unique_ptr<EVP_PKEY, KeyDeleter> key(
      bio == nullptr ? nullptr
                     : PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
  if (key == nullptr) {
    return absl::InvalidArgumentError("no PEM private key (or an encrypted one)");
  }
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    return absl::InvalidArgumentError("the private key does not belong to the certificate");
  }
  return absl::OkStatus();
}

absl::StatusOr<ServiceTls> LoadServiceTls(const TlsSettings& settings,
                                          const std::string& health_listen,
                                          prometheus::Registry* registry) {
  ServiceTls tls;
  ExpiryGauges expiry(registry);
  tls.health_listen = health_listen;

  if (settings.cert_file.empty()) {
    if (!settings.key_file.empty() || !settings.client_ca_file.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--tls_cert_file: required with ",
                       settings.key_file.empty() ? "--tls_client_ca_file" : "--tls_key_file"));
    }
    tls.server = grpc::InsecureServerCredentials();
  } else {
    ASSIGN_OR_RETURN(auto pair, ReadKeyPair("--tls_cert_file", settings.cert_file, "--tls_key_file",
                                            settings.key_file));
    grpc::SslServerCredentialsOptions options(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
    if (!settings.client_ca_file.empty()) {
      ASSIGN_OR_RETURN(options.pem_root_certs,
                       ReadCertificate("--tls_client_ca_file", settings.client_ca_file));
      options.client_certificate_request =
          GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
    }
    ASSIGN_OR_RETURN(int64_t not_after, CertificateNotAfter(pair.cert_chain));
    expiry.Set("server", not_after);
    options.pem_key_cert_pairs.push_back(std::move(pair));
    tls.server = grpc::SslServerCredentials(options);
  }

  if (settings.upstream_ca_file.empty()) {
    if (!settings.upstream_cert_file.empty() || !settings.upstream_key_file.empty()) {
      return absl::InvalidArgumentError(
          "--upstream_tls_ca_file: required with --upstream_tls_cert_file/--upstream_tls_key_file");
    }
    tls.upstream = grpc::InsecureChannelCredentials();
  } else {
    grpc::SslCredentialsOptions options;
    ASSIGN_OR_RETURN(options.pem_root_certs,
                     ReadCertificate("--upstream_tls_ca_file", settings.upstream_ca_file));
    if (!settings.upstream_cert_file.empty()) {
      ASSIGN_OR_RETURN(auto pair,
                       ReadKeyPair("--upstream_tls_cert_file", settings.upstream_cert_file,
                                   "--upstream_tls_key_file", settings.upstream_key_file));
      ASSIGN_OR_RETURN(int64_t not_after, CertificateNotAfter(pair.cert_chain));
      expiry.Set("client", not_after);
      options.pem_cert_chain = std::move(pair.cert_chain);
      options.pem_private_key = std::move(pair.private_key);
    } else if (!settings.upstream_key_file.empty()) {
      return absl::InvalidArgumentError(
          "--upstream_tls_cert_file: required with --upstream_tls_key_file");
    }
    tls.upstream = grpc::SslCredentials(options);
  }
  return tls;
}

absl::StatusOr<ServiceTls> LoadServiceTls(prometheus::Registry* registry) {
  return LoadServiceTls(TlsSettingsFromFlags(), absl::GetFlag(FLAGS_health_listen), registry);
}

}  // namespace tahe::server
