#pragma once

// tahectl: the command-line client of the Tahe gateway and services, for operators, scripts,
// developers and the local launcher (deploy/local/run.sh). main() only forwards to RunTahectl,
// so tests can run any command in-process against in-process servers.
//
//   tahectl [--addr HOST:PORT] [--api-key-file PATH] [--tenant SLUG] [--env-file PATH]
//           [--internal-token-file PATH] [--json] [--timeout 10s] COMMAND ...
//
// Settings come from the options, else the environment, else .tahe/local.env (client.h). See
// Usage() for the commands. Exit codes: 0 success; 1 a call failed ("tahectl: CODE: message"),
// the service is not serving, or the hash chain is broken; 2 a usage or configuration error
// (nothing was called).

#include <istream>
#include <ostream>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "tools/tahectl/client.h"

namespace tahe::tahectl {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// The help text.
std::string Usage();

// What a run sees of its process besides the arguments; tests substitute every part.
struct RunEnvironment {
  // The environment variables (TAHE_GATEWAY_ADDR, TAHE_API_KEY, TAHE_LOCAL_ENV, ...).
  EnvLookup env;
  // Where the search for .tahe/local.env starts; empty = the process's current directory.
  std::string working_directory;
  // Read by `ledger post --file -` and the payroll and invoicing commands' "-" files;
  // null = std::cin.
  std::istream* in = nullptr;
  // The error stream is a terminal: progress bars redraw one line instead of printing lines.
  bool err_is_terminal = false;
  // How often `payroll run ...` and `invoicing billing run` poll a run's status when the service
  // cannot stream progress, and `invoicing invoice issue --wait-posted` its posting.
  absl::Duration poll_interval = absl::Seconds(1);
};

// Runs one tahectl command. `args` excludes the program name. Results go to `out`, errors to
// `err`. Returns the process exit code.
int RunTahectl(const std::vector<std::string>& args, const RunEnvironment& environment,
               std::ostream& out, std::ostream& err);

// The same with the current directory and std::cin.
int RunTahectl(const std::vector<std::string>& args, const EnvLookup& env, std::ostream& out,
               std::ostream& err);

}  // namespace tahe::tahectl
