#pragma once

// The gateway's directory in gateway_db: regions and their upstream addresses, organisations, API
// keys (hashes only) and the audit log, plus the routing snapshot the proxy reloads every second
// or two. Blocking: call from a worker thread, never a gRPC thread.
//
//   GatewayRepository repository(pool.get());
//   ASSIGN_OR_RETURN(v1::IssueApiKeyResponse issued, repository.IssueApiKey(call, request));
//   ASSIGN_OR_RETURN(RoutingSnapshot snapshot, repository.LoadSnapshot());
//
// Every mutating method is idempotent by the request's request_id (a replay returns the stored
// response, a different request under the same id is ALREADY_EXISTS), validates every field
// first (INVALID_ARGUMENT naming it), and records an audit event with `call.principal` in the
// same transaction as the change. Only `call.principal` and `call.deadline` of the call context
// are used: the directory is not per tenant.

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "libs/pg/migrations.h"
#include "libs/pg/pg.h"
#include "libs/server/call.h"
#include "services/gateway/gateway_domain.h"
#include "tahe/gateway/v1/admin.pb.h"

namespace tahe::gateway {

namespace v1 = ::tahe::gateway::v1;
using server::CallContext;

// The directory's schema, compiled in from migrations/*.sql (see cmake/TaheEmbed.cmake).
const std::vector<tahe::pg::Migration>& Migrations();

// The group role the gateway's login role is a member of.
inline constexpr char kGatewayAppRole[] = "tahe_gateway_app";

class GatewayRepository {
 public:
  struct Options {
    // Makes new API keys; tests inject a deterministic one. Default: GenerateApiKey (CSPRNG).
    std::function<absl::StatusOr<GeneratedApiKey>()> generate_key;
  };

  // REQUIRES: pool outlives the repository.
  explicit GatewayRepository(pg::Pool* pool, Options options = {});

  // --- regions ---
  absl::StatusOr<v1::Region> CreateRegion(const CallContext& call,
                                          const v1::CreateRegionRequest& req);
  // Renames and/or sets and removes upstream addresses. NOT_FOUND for an unknown region.
  absl::StatusOr<v1::Region> UpdateRegion(const CallContext& call,
                                          const v1::UpdateRegionRequest& req);
  absl::StatusOr<v1::ListRegionsResponse> ListRegions(const CallContext& call,
                                                      const v1::ListRegionsRequest& req);

  // --- organisations ---
  // NOT_FOUND if the region does not exist; ALREADY_EXISTS if the slug is taken.
  absl::StatusOr<v1::Organisation> CreateOrganisation(const CallContext& call,
                                                      const v1::CreateOrganisationRequest& req);
  absl::StatusOr<v1::ListOrganisationsResponse> ListOrganisations(
      const CallContext& call, const v1::ListOrganisationsRequest& req);
  // Decides whether `organisation` may leave `from_region`: OK if it has no data there, else the
  // error to return (FAILED_PRECONDITION saying what is there, UNAVAILABLE if unknown).
  using MoveCheck =
      std::function<absl::Status(const std::string& organisation, const std::string& from_region)>;
  // Moving to another region runs `may_move` inside the transaction, with the organisation's row
  // locked (no concurrent move); without a `may_move` a move is refused (FAILED_PRECONDITION).
  absl::StatusOr<v1::Organisation> UpdateOrganisation(const CallContext& call,
                                                      const v1::UpdateOrganisationRequest& req,
                                                      const MoveCheck& may_move = nullptr);

  // --- API keys ---
  // The response carries the secret (api_key) only on the first call; a replay has it empty.
  absl::StatusOr<v1::IssueApiKeyResponse> IssueApiKey(const CallContext& call,
                                                      const v1::IssueApiKeyRequest& req);
  absl::StatusOr<v1::ListApiKeysResponse> ListApiKeys(const CallContext& call,
                                                      const v1::ListApiKeysRequest& req);
  absl::StatusOr<v1::ApiKey> RevokeApiKey(const CallContext& call,
                                          const v1::RevokeApiKeyRequest& req);

  // --- audit ---
  absl::StatusOr<v1::ListAuditEventsResponse> ListAuditEvents(
      const CallContext& call, const v1::ListAuditEventsRequest& req);

  // Everything the router needs, read in one read-only serializable transaction (a consistent
  // picture: no key naming an organisation the snapshot lacks).
  absl::StatusOr<RoutingSnapshot> LoadSnapshot(absl::Time deadline = absl::InfiniteFuture());

 private:
  pg::Pool* pool_;
  Options options_;
};

}  // namespace tahe::gateway
