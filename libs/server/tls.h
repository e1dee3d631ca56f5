#pragma once

// Transport security of a Tahe process, from flags every service and the gateway share:
//
//   --tls_cert_file, --tls_key_file   serve TLS with this PEM certificate (chain) and key
//   --tls_client_ca_file              and require client certificates signed by this CA (mTLS)
//   --upstream_tls_ca_file            call upstream services over TLS, verifying them with this CA
//   --upstream_tls_cert_file,         present this client certificate to them (mTLS)
//   --upstream_tls_key_file
//   --health_listen                   a second, plaintext listener that serves only
//                                     grpc.health.v1 (kubelet probes cannot present certificates)
//
// each with the environment fallback TAHE_<FLAG> (TAHE_TLS_CERT_FILE, TAHE_HEALTH_LISTEN, ...),
// which ServiceMain adds. With none of them set everything is plaintext, as on one machine.
//
//   ASSIGN_OR_RETURN(ServiceTls tls, LoadServiceTls(&metrics->registry()));
//   auto channel = metrics::CreateMeteredChannel(ledger_addr, tls.upstream, registry);
//   GrpcServer::Start({..., .credentials = tls.server, .health_listen = tls.health_listen});
//
// Files are read once at start: a renewed certificate takes effect on restart (a rolling restart
// in Kubernetes). Start-up fails with INVALID_ARGUMENT naming the flag when a file is unreadable,
// is not PEM, or the key does not belong to the certificate, rather than at the first handshake.
// The notAfter of each certificate presented (the first one of its file: the leaf) is exported as
// the gauge
// tahe_tls_certificate_expiry_timestamp_seconds{role="server"|"client"} for the expiry alert.

#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "libs/config/config.h"

namespace prometheus {
class Registry;
}

namespace tahe::server {

struct TlsSettings {
  std::string cert_file;
  std::string key_file;
  std::string client_ca_file;
  std::string upstream_ca_file;
  std::string upstream_cert_file;
  std::string upstream_key_file;
};

// What a process listens and calls with.
struct ServiceTls {
  // Insecure credentials when no certificate is configured.
  std::shared_ptr<grpc::ServerCredentials> server;
  std::shared_ptr<grpc::ChannelCredentials> upstream;
  // Empty: no separate health listener.
  std::string health_listen;
};

// The settings from the shared flags.
TlsSettings TlsSettingsFromFlags();

// The environment fallbacks of the shared flags (TAHE_TLS_CERT_FILE, ...).
const std::vector<config::EnvFallback>& TlsEnvFallbacks();

// Credentials from `settings`; registers the expiry gauges in `registry` (may be null).
absl::StatusOr<ServiceTls> LoadServiceTls(const TlsSettings& settings,
                                          const std::string& health_listen,
                                          prometheus::Registry* registry);
// The same from the shared flags.
absl::StatusOr<ServiceTls> LoadServiceTls(prometheus::Registry* registry);

// notAfter of the first certificate in `pem`, in Unix seconds. INVALID_ARGUMENT when `pem` holds
// no certificate.
absl::StatusOr<int64_t> CertificateNotAfter(absl::string_view pem);

// OK when `key_pem` is the private key of the first certificate in `cert_pem`.
absl::Status CheckKeyMatchesCertificate(absl::string_view cert_pem, absl::string_view key_pem);

}  // namespace tahe::server
