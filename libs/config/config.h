#pragma once

// Start-up configuration shared by every Tahe service: absl flags with environment-variable
// fallbacks, validators that name the offending setting, secrets read from files, and one way to
// stop on a bad configuration.
//
// Each setting is an absl flag. A flag given on the command line wins; otherwise its environment
// variable (if set) overrides the default. Configuration errors are fatal at start-up: the
// process prints one JSON line and exits with code 2.
//
//   ABSL_FLAG(std::string, listen, "127.0.0.1:0", "gRPC listen address, host:port");
//   ABSL_FLAG(std::string, database_url, "", "PostgreSQL URI or conninfo");
//   ABSL_FLAG(std::string, database_url_file, "", "File holding --database_url");
//
//   int main(int argc, char** argv) {
//     tahe::config::ExitIfError(tahe::config::ParseCommandLineWithEnv(
//         argc, argv, {{"listen", "TAHE_LISTEN"},
//                      {"database_url", "TAHE_DATABASE_URL"},
//                      {"database_url_file", "TAHE_DATABASE_URL_FILE"}}));
//     tahe::config::ExitIfError(
//         tahe::config::ValidateHostPort("--listen", absl::GetFlag(FLAGS_listen)));
//     absl::StatusOr<std::string> database_url = tahe::config::ReadSecret(
//         "--database_url", absl::GetFlag(FLAGS_database_url),
//         absl::GetFlag(FLAGS_database_url_file));
//     tahe::config::ExitIfError(database_url.status());
//     tahe::config::ExitIfError(tahe::config::ValidatePostgresUrl("--database_url",
//     *database_url));
//     ...
//   }
//
// The flag functions read and write process-wide state (argv, the environment, the flag
// registry): call them from main() before starting any threads.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tahe::config {

// Flag `flag_name` (without dashes) takes its value from environment variable `env_var` unless
// the flag was given on the command line.
struct EnvFallback {
  std::string flag_name;
  std::string env_var;
};

// Names of the flags that argv sets, without dashes, in order: "--name=value", "--name value"
// (for a non-boolean flag the next argument is its value), "-name" and "--noname" (reported as
// "name" when `name` is a defined boolean flag). Stops at "--"; skips positional arguments.
// Flags set inside a --flagfile are not seen.
std::vector<std::string> FlagsOnCommandLine(int argc, char** argv);

// For each fallback whose flag is not in `explicitly_set_flags` and whose environment variable is
// set (even to ""), parses the variable's value into the flag.
// A value the flag cannot parse is INVALID_ARGUMENT naming the variable and the flag; every such
// error is reported, not only the first. A fallback for a flag that is not defined is a
// programming error, reported as INTERNAL whether or not its variable is set.
absl::Status ApplyEnvFallbacks(const std::vector<EnvFallback>& fallbacks,
                               const std::vector<std::string>& explicitly_set_flags);

// absl::ParseCommandLine (which exits on a bad or unknown flag and handles --help), then
// ApplyEnvFallbacks for the flags argv did not set. Services take no positional arguments: any
// is INVALID_ARGUMENT, so that a forgotten "--" does not silently drop a setting.
absl::Status ParseCommandLineWithEnv(int argc, char** argv,
                                     const std::vector<EnvFallback>& fallbacks);

// Validators. Each returns OK or INVALID_ARGUMENT whose message starts with `setting` (such as
// "--listen" or "TAHE_LISTEN"), so the operator knows what to fix.

// "host:port" with a port in 0..65535 (0 = pick a free port). The host is a name or IPv4 address
// ("localhost", "db.internal", "0.0.0.0") or an IPv6 address in brackets ("[::1]", "[::]",
// "[fe80::1%eth0]").
absl::Status ValidateHostPort(absl::string_view setting, absl::string_view value);

// Not empty and not only whitespace.
absl::Status ValidateNonEmpty(absl::string_view setting, absl::string_view value);

// lo <= value <= hi.
// REQUIRES: lo <= hi.
absl::Status ValidateRange(absl::string_view setting, int64_t value, int64_t lo, int64_t hi);

// A libpq connection string: a "postgresql://" or "postgres://" URI, or key=value conninfo
// ("host=db port=5432 dbname=tahe", values optionally 'single-quoted'). The message never
// repeats the value, which may hold a password.
absl::Status ValidatePostgresUrl(absl::string_view setting, absl::string_view value);

// A secret given directly or, when `file_path` is not empty, read from that file (a mounted
// Kubernetes or Docker secret) with surrounding whitespace removed; the file wins over `value`.
// An unreadable or blank file is INVALID_ARGUMENT naming the setting and the path. The message
// never contains the secret.
absl::StatusOr<std::string> ReadSecret(absl::string_view setting, absl::string_view value,
                                       absl::string_view file_path);

// The line DieOnBadConfig prints, without the newline:
// {"level":"fatal","msg":"bad configuration","error":"INVALID_ARGUMENT: --listen: ..."}
std::string BadConfigLogLine(const absl::Status& status);

// Prints BadConfigLogLine(status) to stderr and exits with code 2.
// REQUIRES: !status.ok().
[[noreturn]] void DieOnBadConfig(const absl::Status& status);

// DieOnBadConfig(status) unless status is OK.
void ExitIfError(const absl::Status& status);

}  // namespace tahe::config
