#pragma once

// The `tahectl admin ...` commands: the operator's side of the gateway's AdminService (regions,
// organisations, API keys, audit log). The command line is parsed completely into one request
// before anything is called, so a usage error never leaves a half-done change.
//
//   ASSIGN_OR_RETURN(AdminCommand command, ParseAdminCommand(args));   // usage errors
//   AdminClient admin(settings);                                       // API key with `admin`
//   RETURN_IF_ERROR(RunAdminCommand(command, admin, OutputFormat::kTable, std::cout));
//
// Every mutation carries a request id (--request-id, else a random one, printed so that a
// retry can reuse it): the gateway replays a repeated request instead of doing it twice.

#include <memory>
#include <ostream>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tahe/gateway/v1/admin.grpc.pb.h"
#include "tools/tahectl/args.h"
#include "tools/tahectl/client.h"
#include "tools/tahectl/format.h"

namespace tahe::tahectl {

// A thin synchronous client of tahe.gateway.v1.AdminService: every call gets its own context
// (fresh x-request-id, API key, deadline); a failed call keeps its gRPC code and names the method.
class AdminClient {
 public:
  explicit AdminClient(ClientSettings settings);

  absl::StatusOr<tahe::gateway::v1::Region> CreateRegion(
      const tahe::gateway::v1::CreateRegionRequest& request);
  absl::StatusOr<tahe::gateway::v1::ListRegionsResponse> ListRegions(
      const tahe::gateway::v1::ListRegionsRequest& request);
  absl::StatusOr<tahe::gateway::v1::Region> UpdateRegion(
      const tahe::gateway::v1::UpdateRegionRequest& request);
  absl::StatusOr<tahe::gateway::v1::Organisation> CreateOrganisation(
      const tahe::gateway::v1::CreateOrganisationRequest& request);
  absl::StatusOr<tahe::gateway::v1::ListOrganisationsResponse> ListOrganisations(
      const tahe::gateway::v1::ListOrganisationsRequest& request);
  absl::StatusOr<tahe::gateway::v1::Organisation> UpdateOrganisation(
      const tahe::gateway::v1::UpdateOrganisationRequest& request);
  absl::StatusOr<tahe::gateway::v1::IssueApiKeyResponse> IssueApiKey(
      const tahe::gateway::v1::IssueApiKeyRequest& request);
  absl::StatusOr<tahe::gateway::v1::ListApiKeysResponse> ListApiKeys(
      const tahe::gateway::v1::ListApiKeysRequest& request);
  absl::StatusOr<tahe::gateway::v1::ApiKey> RevokeApiKey(
      const tahe::gateway::v1::RevokeApiKeyRequest& request);
  absl::StatusOr<tahe::gateway::v1::ListAuditEventsResponse> ListAuditEvents(
      const tahe::gateway::v1::ListAuditEventsRequest& request);

 private:
  ClientSettings settings_;
  std::unique_ptr<tahe::gateway::v1::AdminService::Stub> stub_;
};

// One admin command, parsed: the request of the RPC it makes (each command makes exactly one).
struct AdminCommand {
  std::variant<tahe::gateway::v1::ListRegionsRequest, tahe::gateway::v1::CreateRegionRequest,
               tahe::gateway::v1::UpdateRegionRequest, tahe::gateway::v1::ListOrganisationsRequest,
               tahe::gateway::v1::CreateOrganisationRequest,
               tahe::gateway::v1::UpdateOrganisationRequest, tahe::gateway::v1::ListApiKeysRequest,
               tahe::gateway::v1::IssueApiKeyRequest, tahe::gateway::v1::RevokeApiKeyRequest,
               tahe::gateway::v1::ListAuditEventsRequest>
      request;
  // `admin keys issue --key-file PATH`: where the new key goes instead of the output.
  std::string key_file;
};

// `args.positional()` starts with "admin". INVALID_ARGUMENT naming the operand or option at
// fault for anything that is not a well-formed admin command.
absl::StatusOr<AdminCommand> ParseAdminCommand(const Args& args);

// Makes the command's call and prints the result: a table, or the response message as JSON.
// `admin keys issue` prints the new key once (to `out`, or into command.key_file, which it
// creates with mode 0600 before the call and refuses to overwrite: FAILED_PRECONDITION).
absl::Status RunAdminCommand(const AdminCommand& command, AdminClient& admin, OutputFormat format,
                             std::ostream& out);

// Tables of the directory, one row per item, then a count.
void PrintRegions(const std::vector<tahe::gateway::v1::Region>& regions, std::ostream& out);
void PrintOrganisations(const std::vector<tahe::gateway::v1::Organisation>& organisations,
                        std::ostream& out);
void PrintApiKeys(const std::vector<tahe::gateway::v1::ApiKey>& keys, std::ostream& out);
void PrintAuditEvents(const tahe::gateway::v1::ListAuditEventsResponse& events, std::ostream& out);

}  // namespace tahe::tahectl
