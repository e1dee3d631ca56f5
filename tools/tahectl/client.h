#pragma once

// How tahectl reaches a Tahe service: the address, the trusted caller metadata and the deadline
// of every call.
//
//   ASSIGN_OR_RETURN(ClientSettings settings, ClientSettingsFromArgs(args, GetEnv));
//   std::shared_ptr<grpc::Channel> channel = settings.NewChannel();
//   auto context = settings.NewContext();   // x-request-id, tenant, token, deadline
//   grpc::Status status = stub->ListAccounts(context.get(), request, &response);

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/support/status.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "tools/tahectl/args.h"

namespace tahe::tahectl {

inline constexpr absl::string_view kTenantMetadata = "x-tahe-tenant";
inline constexpr absl::string_view kInternalTokenMetadata = "x-tahe-internal-token";
inline constexpr absl::string_view kRequestIdMetadata = "x-request-id";
inline constexpr absl::Duration kDefaultTimeout = absl::Seconds(10);

// Looks up an environment variable; injectable so that tests need not touch the process's.
using EnvLookup = std::function<std::optional<std::string>(absl::string_view name)>;

// The real environment.
std::optional<std::string> GetEnv(absl::string_view name);

// `bytes` random bytes as lower-case hex, from a generator seeded by the operating system.
std::string RandomHex(int bytes);

struct ClientSettings {
  // host:port of the service.
  std::string address;
  // Tenant slug sent as x-tahe-tenant; empty sends none.
  std::string tenant;
  // Internal credential sent as x-tahe-internal-token; empty sends none.
  std::string internal_token;
  absl::Duration timeout = kDefaultTimeout;

  // An insecure channel to `address` (loopback and in-cluster use; the gateway does TLS).
  std::shared_ptr<grpc::Channel> NewChannel() const;

  // A context for one call: a fresh random x-request-id, the deadline now + timeout, and, when
  // `with_credentials`, the tenant and internal token (if set).
  std::unique_ptr<grpc::ClientContext> NewContext(bool with_credentials = true) const;
};

// Resolves the global options:
//   --addr            else $TAHE_LEDGER_ADDR; required
//   --tenant          else $TAHE_TENANT; must be a valid slug when given
//   token             --internal-token-file, else $TAHE_INTERNAL_TOKEN, else the file named by
//                     $TAHE_INTERNAL_TOKEN_FILE (what deploy/local/run.sh writes to local.env);
//                     surrounding whitespace is dropped; an unreadable or empty file is an error
//   --timeout         default 10s
// The token is resolved only when `read_token` (health needs none, so a stale
// TAHE_INTERNAL_TOKEN_FILE must not break it). INVALID_ARGUMENT names the setting at fault.
absl::StatusOr<ClientSettings> ClientSettingsFromArgs(const Args& args, const EnvLookup& env,
                                                      bool read_token = true);

// "UNAVAILABLE: failed to connect to all addresses" for a failed call.
std::string DescribeRpcError(const grpc::Status& status);

}  // namespace tahe::tahectl
