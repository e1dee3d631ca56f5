#pragma once

// tahectl: the command-line client of the Tahe services, for operators, developers and the local
// launcher (deploy/local/run.sh). main() only forwards to RunTahectl, so tests can run any
// command in-process against an in-process server.
//
//   tahectl [--addr HOST:PORT] [--tenant SLUG] [--internal-token-file PATH] [--timeout 10s]
//           COMMAND ...
//
// See Usage() for the commands. Exit codes: 0 success; 1 a call failed, the service is not
// serving, or the hash chain is broken; 2 a usage or configuration error (nothing was called).

#include <ostream>
#include <string>
#include <vector>

#include "tools/tahectl/client.h"

namespace tahe::tahectl {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// The help text.
std::string Usage();

// Runs one tahectl command. `args` excludes the program name; `env` supplies the environment
// variables (TAHE_LEDGER_ADDR, TAHE_TENANT, TAHE_INTERNAL_TOKEN, TAHE_INTERNAL_TOKEN_FILE).
// Results go to `out`, errors to `err`. Returns the process exit code.
int RunTahectl(const std::vector<std::string>& args, const EnvLookup& env, std::ostream& out,
               std::ostream& err);

}  // namespace tahe::tahectl
