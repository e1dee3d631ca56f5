#include "libs/server/service_main.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "libs/log/log.h"
#include "libs/server/grpc_server.h"
#include "libs/server/tls.h"

namespace tahe::server {

int ServiceMain(int argc, char** argv, absl::string_view service,
                const std::vector<config::EnvFallback>& env_fallbacks,
                const std::function<absl::Status()>& run) {
  BlockTerminationSignals();
  log::SetServiceName(std::string(service));
  // Every service takes the shared TLS and health flags (libs/server/tls.h).
  std::vector<config::EnvFallback> fallbacks = env_fallbacks;
  fallbacks.insert(fallbacks.end(), TlsEnvFallbacks().begin(), TlsEnvFallbacks().end());
  config::ExitIfError(config::ParseCommandLineWithEnv(argc, argv, fallbacks));
  absl::Status status = run();
  if (!status.ok()) {
    if (status.code() == absl::StatusCode::kInvalidArgument) {
      config::DieOnBadConfig(status);
    }
    log::Error(absl::StrCat(service, " failed"), {{"error", status.ToString()}});
    return 1;
  }
  return 0;
}

absl::StatusOr<std::string> ReadSecretFlag(absl::string_view setting, absl::string_view value,
                                           absl::string_view file, size_t min_bytes) {
  absl::StatusOr<std::string> secret = config::ReadSecret(setting, value, file);
  if (!secret.ok()) return secret.status();
  if (secret->size() < min_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(setting, ": at least ", min_bytes, " bytes"));
  }
  return secret;
}

std::string MetricsUrl(absl::string_view listen, int port) {
  return absl::StrCat("http://", listen.substr(0, listen.rfind(':')), ":", port, "/metrics");
}

}  // namespace tahe::server
