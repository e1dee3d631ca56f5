#pragma once

// The whole of a service's main(): signals, flags with environment fallbacks, the service's Run,
// and the exit code. Each services/<name>/main.cc keeps its flags and its wiring (Run) and ends
// with
//
//   int main(int argc, char** argv) {
//     return tahe::server::ServiceMain(argc, argv, "ledger",
//                                      {{"listen", "TAHE_LEDGER_LISTEN"}, ...}, Run);
//   }
//
// Order: BlockTerminationSignals (before any thread starts, so WaitForTerminationSignal in Run
// sees SIGTERM/SIGINT), log::SetServiceName, config::ParseCommandLineWithEnv (a bad flag exits 2
// naming it), then Run. A Run that fails with INVALID_ARGUMENT is a configuration error (exit 2,
// config::DieOnBadConfig); any other failure is logged as "<service> failed" and exits 1.

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "libs/config/config.h"

namespace tahe::server {

int ServiceMain(int argc, char** argv, absl::string_view service,
                const std::vector<config::EnvFallback>& env_fallbacks,
                const std::function<absl::Status()>& run);

// A secret from `--<setting>` or `--<setting>_file` (config::ReadSecret) that must be at least
// `min_bytes` long: INVALID_ARGUMENT naming the flag otherwise (the secret is never quoted).
// The internal credential needs 16, the identity codes' hash key 32.
absl::StatusOr<std::string> ReadSecretFlag(absl::string_view setting, absl::string_view value,
                                           absl::string_view file, size_t min_bytes);

// "http://host:port/metrics" of a metrics endpoint bound from `listen` ("host:0" allowed) on
// `port`, for the start-up log line.
std::string MetricsUrl(absl::string_view listen, int port);

}  // namespace tahe::server
