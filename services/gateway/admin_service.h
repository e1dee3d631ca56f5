#pragma once

// The gRPC handlers of tahe.gateway.v1.AdminService (callback API), the operator's API of the
// directory. Served by the gateway's own server next to the generic proxy (a registered service
// wins over the proxy), so admin calls are never forwarded.
//
// Authentication is the router's, not the backends': the caller presents an API key
// (`authorization: Bearer <key>`), checked against the SnapshotCache's current snapshot with
// AuthenticateCall (UNAUTHENTICATED for a missing, malformed, unknown or revoked key;
// PERMISSION_DENIED without the role `admin`). The internal token plays no part. The call then
// runs on the worker pool as CallContext{principal "key:<key_id>", request id from x-request-id
// or a fresh one, the caller's deadline}; exceptions become a sanitised INTERNAL. After a
// successful mutating call the handler reloads the snapshot (SnapshotCache::Refresh, one
// directory read) before answering, so a key just issued works, and a key just revoked is
// refused, by the time the caller sees the response. A failed reload is logged, not returned: the
// change is committed, and the background refresh picks it up.
//
//   server::WorkerPool workers(4);
//   AdminService admin(&repository, cache.get(), &workers);
//   GrpcServer::Start({.services = {&admin}, .generic_service = &proxy, ...});

#include <functional>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "libs/server/call.h"
#include "libs/server/worker_pool.h"
#include "services/gateway/gateway_repository.h"
#include "services/gateway/router.h"
#include "tahe/gateway/v1/admin.grpc.pb.h"

namespace tahe::gateway {

class AdminService final : public v1::AdminService::CallbackService {
 public:
  struct Options {
    // Hears of every refused call (may be empty), e.g. GatewayRouter::CountAuthFailure.
    std::function<void(AuthFailure)> on_auth_failure;
    // Whether an organisation may leave its region (see GatewayRepository::MoveCheck), given
    // the call's deadline, e.g. GatewayRouter::CheckNoTenantData. Empty: moves are refused.
    std::function<absl::Status(const std::string& organisation, const std::string& from_region,
                               absl::Time deadline)>
        may_move;
  };

  // REQUIRES: all three outlive the service.
  AdminService(GatewayRepository* repository, SnapshotCache* cache, server::WorkerPool* workers,
               Options options = {});

  grpc::ServerUnaryReactor* CreateRegion(grpc::CallbackServerContext* ctx,
                                         const v1::CreateRegionRequest* req,
                                         v1::Region* resp) override;
  grpc::ServerUnaryReactor* UpdateRegion(grpc::CallbackServerContext* ctx,
                                         const v1::UpdateRegionRequest* req,
                                         v1::Region* resp) override;
  grpc::ServerUnaryReactor* ListRegions(grpc::CallbackServerContext* ctx,
                                        const v1::ListRegionsRequest* req,
                                        v1::ListRegionsResponse* resp) override;
  grpc::ServerUnaryReactor* CreateOrganisation(grpc::CallbackServerContext* ctx,
                                               const v1::CreateOrganisationRequest* req,
                                               v1::Organisation* resp) override;
  grpc::ServerUnaryReactor* ListOrganisations(grpc::CallbackServerContext* ctx,
                                              const v1::ListOrganisationsRequest* req,
                                              v1::ListOrganisationsResponse* resp) override;
  grpc::ServerUnaryReactor* UpdateOrganisation(grpc::CallbackServerContext* ctx,
                                               const v1::UpdateOrganisationRequest* req,
                                               v1::Organisation* resp) override;
  grpc::ServerUnaryReactor* IssueApiKey(grpc::CallbackServerContext* ctx,
                                        const v1::IssueApiKeyRequest* req,
                                        v1::IssueApiKeyResponse* resp) override;
  grpc::ServerUnaryReactor* ListApiKeys(grpc::CallbackServerContext* ctx,
                                        const v1::ListApiKeysRequest* req,
                                        v1::ListApiKeysResponse* resp) override;
  grpc::ServerUnaryReactor* RevokeApiKey(grpc::CallbackServerContext* ctx,
                                         const v1::RevokeApiKeyRequest* req,
                                         v1::ApiKey* resp) override;
  grpc::ServerUnaryReactor* ListAuditEvents(grpc::CallbackServerContext* ctx,
                                            const v1::ListAuditEventsRequest* req,
                                            v1::ListAuditEventsResponse* resp) override;

 private:
  enum class Kind { kRead, kMutation };
  // Authenticates (from memory, on the gRPC thread), then runs `fn` on the worker pool and
  // finishes the call with its status; after a successful kMutation, refreshes the snapshot.
  grpc::ServerUnaryReactor* Handle(grpc::CallbackServerContext* ctx, absl::string_view method,
                                   Kind kind,
                                   std::function<absl::Status(const server::CallContext&)> fn);

  GatewayRepository* repository_;
  SnapshotCache* cache_;
  server::WorkerPool* workers_;
  Options options_;
};

// The first admin key of a new directory, for launchers and operators setting up a gateway
// (`tahe_gateway --bootstrap_admin_key_file=PATH`):
//   - PATH exists and is not empty: nothing is done (the key was bootstrapped before);
//   - the directory already has an unrevoked key with the role `admin`: nothing is issued, and the
//     result says so (an operator holds that key; a second all-powerful key must not appear
//     because a file went missing);
//   - otherwise a key with the role `admin` and no organisations is issued (audited as principal
//     "bootstrap") and its secret written to PATH, created with mode 0600 (written to a temporary
//     file, then renamed). If the file cannot be written the key is revoked again and the error
//     returned.
// Returns the key id issued, or an empty string when nothing was issued.
absl::StatusOr<std::string> BootstrapAdminKey(GatewayRepository& repository,
                                              const std::string& path);

}  // namespace tahe::gateway
