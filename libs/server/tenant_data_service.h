#pragma once

// tahe.tenancy.v1.TenantDataService for any service of a cell: what the service's database holds
// of the calling tenant, asked by the gateway before an organisation moves to another region.
// The service supplies the description; authentication and the worker pool are HandleUnary's.
//
//   server::TenantDataService tenant_data({&auth, &workers}, [&](const server::CallContext& call) {
//     return repository.DescribeTenantData(call);
//   });
//   GrpcServer::Start({.services = {&service, &tenant_data}, ...});

#include <functional>
#include <utility>

#include "absl/status/statusor.h"
#include "libs/server/call.h"
#include "tahe/tenancy/v1/tenancy.grpc.pb.h"

namespace tahe::server {

class TenantDataService final : public tahe::tenancy::v1::TenantDataService::CallbackService {
 public:
  using Describe = std::function<absl::StatusOr<tahe::tenancy::v1::DescribeTenantDataResponse>(
      const CallContext&)>;

  TenantDataService(HandlerEnv env, Describe describe)
      : env_(env), describe_(std::move(describe)) {}

  grpc::ServerUnaryReactor* DescribeTenantData(
      grpc::CallbackServerContext* ctx, const tahe::tenancy::v1::DescribeTenantDataRequest*,
      tahe::tenancy::v1::DescribeTenantDataResponse* resp) override {
    return HandleUnary(ctx, env_, "DescribeTenantData", [this, resp](const CallContext& call) {
      absl::StatusOr<tahe::tenancy::v1::DescribeTenantDataResponse> described = describe_(call);
      if (!described.ok()) return described.status();
      *resp = *std::move(described);
      return absl::OkStatus();
    });
  }

 private:
  const HandlerEnv env_;
  const Describe describe_;
};

}  // namespace tahe::server
