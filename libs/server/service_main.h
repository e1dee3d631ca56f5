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
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "libs/config/config.h"

namespace tahe::server {

int ServiceMain(int argc, char** argv, absl::string_view service,
                const std::vector<config::EnvFallback>& env_fallbacks,
                const std::function<absl::Status()>& run);

}  // namespace tahe::server
