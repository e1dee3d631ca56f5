#include "libs/server/service_main.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "libs/log/log.h"
#include "libs/server/grpc_server.h"

namespace tahe::server {

int ServiceMain(int argc, char** argv, absl::string_view service,
                const std::vector<config::EnvFallback>& env_fallbacks,
                const std::function<absl::Status()>& run) {
  BlockTerminationSignals();
  log::SetServiceName(std::string(service));
  config::ExitIfError(config::ParseCommandLineWithEnv(argc, argv, env_fallbacks));
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

}  // namespace tahe::server
