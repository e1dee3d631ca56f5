#pragma once

// How tahectl reaches a Tahe service: the address, the credentials and tenant it sends, and the
// deadline of every call.
//
//   ASSIGN_OR_RETURN(std::optional<EnvFile> file, LoadEnvFile(args, GetEnv, ""));
//   ASSIGN_OR_RETURN(ClientSettings settings,
//                    ClientSettingsFromArgs(args, SettingSources(GetEnv, file)));
//   std::shared_ptr<grpc::Channel> channel = settings.NewChannel();
//   auto context = settings.NewContext();   // x-request-id, credentials, tenant, deadline
//   grpc::Status status = stub->ListAccounts(context.get(), request, &response);
//
// Every setting is taken from the first of: a command-line flag, the process environment, the
// env file (.tahe/local.env, which deploy/local/run.sh writes). Two modes:
//   - through the gateway: an API key is configured; every call carries
//     `authorization: Bearer <key>` and no internal token (unless --internal-token-file is given);
//   - direct to a backend (debugging, the launcher's own checks): no API key; calls carry the
//     internal token `x-tahe-internal-token`, as the gateway would.
// A key is never taken from the command line itself (ps would show it), and no message prints
// a key: only its public key id.

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/support/status.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "tools/tahectl/args.h"

namespace tahe::tahectl {

inline constexpr absl::string_view kTenantMetadata = "x-tahe-tenant";
inline constexpr absl::string_view kInternalTokenMetadata = "x-tahe-internal-token";
inline constexpr absl::string_view kAuthorizationMetadata = "authorization";
inline constexpr absl::string_view kRequestIdMetadata = "x-request-id";
inline constexpr absl::Duration kDefaultTimeout = absl::Seconds(10);
// The env file looked for in the current directory and each of its parents.
inline constexpr absl::string_view kLocalEnvRelativePath = ".tahe/local.env";

// Looks up an environment variable; injectable so that tests need not touch the process's.
using EnvLookup = std::function<std::optional<std::string>(absl::string_view name)>;

// The real environment.
std::optional<std::string> GetEnv(absl::string_view name);

// `bytes` random bytes as lower-case hex, from a generator seeded by the operating system.
std::string RandomHex(int bytes);

// A fresh request id for a mutation the user gave none for: "tahectl-<24 hex>".
std::string NewRequestId();

// "tahe_<12 lower-case hex>_<64 lower-case hex>", the form of the gateway's API keys.
bool IsWellFormedApiKey(absl::string_view key);

// The public part of a well-formed key ("0123456789ab"), safe to print; "" for anything else.
std::string ApiKeyId(absl::string_view key);

// An env file: `KEY=value` lines as a shell would source them.
struct EnvFile {
  std::string path;
  std::map<std::string, std::string, std::less<>> vars;
};

// Parses env-file text. Blank lines and lines starting with '#' are skipped; a line may start
// with "export "; KEY is [A-Za-z_][A-Za-z0-9_]*; whitespace around KEY and the value is dropped,
// then one level of matching surrounding quotes ("..." or '...'). A later line for the same KEY
// wins. Nothing is expanded. INVALID_ARGUMENT "ORIGIN:LINE: ..." for any other line; the message
// never repeats the line, which may hold a secret.
absl::StatusOr<std::map<std::string, std::string, std::less<>>> ParseEnvFile(
    absl::string_view contents, absl::string_view origin);

// The nearest ".tahe/local.env" (a regular file) in `start_directory` or one of its parents, up
// to and including "/".
std::optional<std::string> FindLocalEnvFile(absl::string_view start_directory);

// The env file of this run: --env-file PATH, else $TAHE_LOCAL_ENV, else FindLocalEnvFile from
// `working_directory` (empty = the process's current directory); nullopt when there is none.
// INVALID_ARGUMENT naming the setting when the file cannot be read or parsed.
absl::StatusOr<std::optional<EnvFile>> LoadEnvFile(const Args& args, const EnvLookup& env,
                                                   absl::string_view working_directory);

// The sources of settings below the command-line flags: the process environment, then the env
// file.
class SettingSources {
 public:
  // Implicit, so that callers without an env file can pass an EnvLookup.
  SettingSources(EnvLookup process_env, std::optional<EnvFile> file = std::nullopt);  // NOLINT

  struct Found {
    // The variable that gave the value, e.g. "TAHE_API_KEY_FILE", and where it was set:
    // "TAHE_API_KEY_FILE in /home/x/.tahe/local.env" or "TAHE_API_KEY_FILE".
    std::string variable;
    std::string origin;
    // Empty when the deciding source sets the variables to "" (none).
    std::string value;
    bool from_file = false;
  };

  // One setting that several variables can give (e.g. TAHE_GATEWAY_ADDR, else TAHE_LEDGER_ADDR).
  // The first source that sets any of `names` decides, even to "": `TAHE_API_KEY= tahectl ...`
  // ignores the env file's key. Within that source the first non-empty of `names` in order wins.
  // nullopt when no source sets any of them.
  std::optional<Found> Lookup(const std::vector<absl::string_view>& names) const;

  // A path from Found::value: a relative path from the env file is relative to the file's
  // directory, one from the process environment to the current directory.
  std::string ResolvePath(const Found& found) const;

  const std::optional<EnvFile>& file() const { return file_; }

 private:
  EnvLookup process_env_;
  std::optional<EnvFile> file_;
};

struct ClientSettings {
  // host:port of the gateway or, in direct mode, of a service.
  std::string address;
  // Tenant slug sent as x-tahe-tenant; empty sends none.
  std::string tenant;
  // API key sent as `authorization: Bearer <key>`; empty sends none.
  std::string api_key;
  // Where the key came from, for error messages ("TAHE_API_KEY_FILE in /x/.tahe/local.env").
  std::string api_key_origin;
  // Internal credential sent as x-tahe-internal-token; empty sends none.
  std::string internal_token;
  absl::Duration timeout = kDefaultTimeout;
  // PEM CA bundle that verifies the server; empty: plaintext.
  std::string tls_ca_pem;
  // PEM client certificate and key for mutual TLS; empty: none.
  std::string tls_cert_pem;
  std::string tls_key_pem;

  // A channel to `address`: TLS when tls_ca_pem is set, else plaintext (loopback).
  std::shared_ptr<grpc::Channel> NewChannel() const;

  // A context for one call: a fresh random x-request-id, the deadline now + timeout, and, when
  // `with_credentials`, the tenant, API key and internal token (those that are set).
  std::unique_ptr<grpc::ClientContext> NewContext(bool with_credentials = true) const;
};

// Which credentials a command needs.
enum class Credentials {
  // None are resolved or sent (health, reflection): a stale key file must not break them.
  kNone,
  // Ledger and other service calls: the API key, else the internal token.
  kService,
  // The gateway's AdminService: the admin API key, else the API key; one of them is required.
  kAdmin,
};

// Resolves the global options, each from the flag, else the process environment, else the env
// file (see SettingSources::Lookup):
//   address   --addr, else TAHE_GATEWAY_ADDR, else TAHE_LEDGER_ADDR (direct mode); required
//   tenant    --tenant, else TAHE_TENANT; must be a valid slug when given
//   API key   --api-key-file PATH, else TAHE_API_KEY, else the file named by TAHE_API_KEY_FILE;
//             for kAdmin first TAHE_ADMIN_API_KEY / TAHE_ADMIN_API_KEY_FILE. Must be well formed.
//   token     with an API key: only --internal-token-file. Without one: --internal-token-file,
//             else TAHE_INTERNAL_TOKEN, else the file named by TAHE_INTERNAL_TOKEN_FILE
//   TLS       --tls-ca-file, else the file named by TAHE_TLS_CA_FILE; --tls-cert-file and
//             --tls-key-file, else TAHE_TLS_CLIENT_CERT_FILE and TAHE_TLS_CLIENT_KEY_FILE (both or
//             neither, and only with a CA)
//   timeout   --timeout, default 10s
// Secrets read from files lose surrounding whitespace; an unreadable or empty file is an error.
// INVALID_ARGUMENT names the setting at fault and never contains a secret.
absl::StatusOr<ClientSettings> ClientSettingsFromArgs(
    const Args& args, const SettingSources& sources,
    Credentials credentials = Credentials::kService);

// "ListAccounts: message" with the code of `status`, for a failed call of `method`.
absl::Status RpcError(absl::string_view method, const grpc::Status& status);

}  // namespace tahe::tahectl
