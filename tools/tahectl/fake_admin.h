#pragma once

// An in-memory stand-in for the gateway's tahe.gateway.v1.AdminService, for testing tahectl's
// admin commands over real gRPC. It keeps the parts of the contract a client relies on: only
// `authorization: Bearer <admin key>` is admitted (UNAUTHENTICATED without a key,
// PERMISSION_DENIED for another key), request-id idempotency (replay, ALREADY_EXISTS for a
// different request; a replayed IssueApiKey has no secret), taken slugs, unknown slugs and
// moves refused while the organisation has data in its region (SetTenantData). It records every
// call's metadata and request. It validates little else and is not a reference implementation.
//
//   FakeAdmin admin(kAdminKey);
//   grpc::ServerBuilder builder;  builder.RegisterService(&admin);  ...
//   admin.calls()[0].authorization;   // "Bearer tahe_..."

#include <grpcpp/grpcpp.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "tahe/gateway/v1/admin.grpc.pb.h"

namespace tahe::tahectl {

class FakeAdmin final : public tahe::gateway::v1::AdminService::Service {
 public:
  explicit FakeAdmin(std::string admin_key) : admin_key_(std::move(admin_key)) {}

  struct CallRecord {
    std::string method;
    std::string authorization;
    std::string tenant;
    std::string internal_token;
    std::string request_id_metadata;
    // The request as received.
    std::shared_ptr<const google::protobuf::Message> request;
  };
  std::vector<CallRecord> calls() const;

  // The next call fails with this status (once), after it has been recorded.
  void FailNextCall(grpc::Status status);

  // What `organisation` has in its current region's cell ("ledger: 10 entries"); while it has
  // something, moving it to another region is FAILED_PRECONDITION.
  void SetTenantData(const std::string& organisation, std::string description);

  grpc::Status CreateRegion(grpc::ServerContext* context,
                            const tahe::gateway::v1::CreateRegionRequest* request,
                            tahe::gateway::v1::Region* response) override;
  grpc::Status ListRegions(grpc::ServerContext* context,
                           const tahe::gateway::v1::ListRegionsRequest* request,
                           tahe::gateway::v1::ListRegionsResponse* response) override;
  grpc::Status UpdateRegion(grpc::ServerContext* context,
                            const tahe::gateway::v1::UpdateRegionRequest* request,
                            tahe::gateway::v1::Region* response) override;
  grpc::Status CreateOrganisation(grpc::ServerContext* context,
                                  const tahe::gateway::v1::CreateOrganisationRequest* request,
                                  tahe::gateway::v1::Organisation* response) override;
  grpc::Status ListOrganisations(grpc::ServerContext* context,
                                 const tahe::gateway::v1::ListOrganisationsRequest* request,
                                 tahe::gateway::v1::ListOrganisationsResponse* response) override;
  grpc::Status UpdateOrganisation(grpc::ServerContext* context,
                                  const tahe::gateway::v1::UpdateOrganisationRequest* request,
                                  tahe::gateway::v1::Organisation* response) override;
  grpc::Status IssueApiKey(grpc::ServerContext* context,
                           const tahe::gateway::v1::IssueApiKeyRequest* request,
                           tahe::gateway::v1::IssueApiKeyResponse* response) override;
  grpc::Status ListApiKeys(grpc::ServerContext* context,
                           const tahe::gateway::v1::ListApiKeysRequest* request,
                           tahe::gateway::v1::ListApiKeysResponse* response) override;
  grpc::Status RevokeApiKey(grpc::ServerContext* context,
                            const tahe::gateway::v1::RevokeApiKeyRequest* request,
                            tahe::gateway::v1::ApiKey* response) override;
  grpc::Status ListAuditEvents(grpc::ServerContext* context,
                               const tahe::gateway::v1::ListAuditEventsRequest* request,
                               tahe::gateway::v1::ListAuditEventsResponse* response) override;

 private:
  struct Stored {
    std::string method;
    std::string request;
    std::string response;
  };

  // Records the call and checks the API key.
  grpc::Status Admit(grpc::ServerContext* context, const char* method,
                     const google::protobuf::Message& request) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // OK with *replayed = false for a new request id; the stored response and *replayed = true for
  // the same request; ALREADY_EXISTS for another request under the same id.
  grpc::Status CheckReplay(const char* method, const std::string& request_id,
                           const google::protobuf::Message& request,
                           google::protobuf::Message* response, bool* replayed)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Remembers the response of a request id and appends the audit event.
  void Commit(const char* method, const std::string& request_id,
              const google::protobuf::Message& request, const google::protobuf::Message& response,
              const std::string& target) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string admin_key_;
  mutable absl::Mutex mu_;
  std::vector<CallRecord> calls_ ABSL_GUARDED_BY(mu_);
  std::optional<grpc::Status> fail_next_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, tahe::gateway::v1::Region> regions_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, tahe::gateway::v1::Organisation> organisations_ ABSL_GUARDED_BY(mu_);
  std::vector<tahe::gateway::v1::ApiKey> keys_ ABSL_GUARDED_BY(mu_);
  std::vector<tahe::gateway::v1::AuditEvent> audit_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Stored> by_request_id_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string> tenant_data_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tahe::tahectl
