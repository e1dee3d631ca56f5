#pragma once

// The trusted context of one call, and the wrapper every handler runs inside.
//
// Backends accept tenant metadata only from trusted callers: the gateway or a sibling service,
// which prove themselves with the internal credential (`x-tahe-internal-token`; mTLS in
// production). A call without it is UNAUTHENTICATED; a call without a tenant is
// INVALID_ARGUMENT naming the metadata. Health and reflection are
// separate services and stay open.
//
//   grpc::ServerUnaryReactor* GetEntry(grpc::CallbackServerContext* ctx, const GetEntryRequest*
//   req,
//                                      Entry* resp) override {
//     return server::HandleUnary(ctx, *env_, "GetEntry", [=](const server::CallContext& call) {
//       ASSIGN_OR_RETURN(*resp, repository_->GetEntry(call, req->sequence()));
//       return absl::OkStatus();
//     });
//   }

#include <grpcpp/grpcpp.h>

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/log/log.h"
#include "libs/server/worker_pool.h"

namespace tahe::server {

inline constexpr char kTenantHeader[] = "x-tahe-tenant";
inline constexpr char kPrincipalHeader[] = "x-tahe-principal";
inline constexpr char kRequestIdHeader[] = "x-request-id";
inline constexpr char kInternalTokenHeader[] = "x-tahe-internal-token";

struct CallContext {
  std::string tenant;
  std::string principal;
  std::string request_id;
  // The caller's deadline (InfiniteFuture if none); database work is bounded by it.
  absl::Time deadline = absl::InfiniteFuture();
  std::string method;

  // request_id and tenant, plus `extra`, for a log line.
  log::Fields LogFields(log::Fields extra = {}) const;
};

// Checks the internal credential and reads the trusted metadata.
class Authenticator {
 public:
  // REQUIRES: internal_token non-empty.
  explicit Authenticator(std::string internal_token);
  // UNAUTHENTICATED without a valid credential; INVALID_ARGUMENT if the tenant is missing or not
  // a slug ([a-z0-9][a-z0-9-]{0,62}) when `require_tenant`.
  absl::StatusOr<CallContext> Authenticate(const grpc::ServerContextBase& ctx,
                                           absl::string_view method,
                                           bool require_tenant = true) const;

 private:
  std::string token_;
};

bool IsValidTenantSlug(absl::string_view slug);

// Shared by every handler of a service.
struct HandlerEnv {
  const Authenticator* auth;
  WorkerPool* workers;
};

// Runs `fn` and turns any exception into INTERNAL; an INTERNAL status is logged with the request
// id and replaced by a message that leaks no details.
absl::Status GuardedRun(const CallContext& call, const std::function<absl::Status()>& fn);

// The unary handler wrapper: authenticates, checks the deadline, runs `fn` on the worker pool
// (never on a gRPC thread), and finishes the call with fn's status. No exception escapes.
grpc::ServerUnaryReactor* HandleUnary(grpc::CallbackServerContext* ctx, const HandlerEnv& env,
                                      absl::string_view method,
                                      std::function<absl::Status(const CallContext&)> fn);

// The caller's deadline as absl::Time (InfiniteFuture if none).
absl::Time DeadlineOf(const grpc::ServerContextBase& ctx);

// The second half of HandleUnary, for a call already authenticated some other way (the
// gateway's API keys): runs `fn` on `workers` unless the call was cancelled or its deadline
// passed, guards exceptions, and finishes `reactor` with fn's status (RESOURCE_EXHAUSTED when the
// pool refuses the task).
void RunUnaryOnWorkers(grpc::CallbackServerContext* ctx, grpc::ServerUnaryReactor* reactor,
                       WorkerPool& workers, CallContext call,
                       std::function<absl::Status(const CallContext&)> fn);

// For handlers that complete asynchronously (group commit): authenticates and returns the context,
// or finishes the reactor with the error and returns nullopt-like status.
absl::StatusOr<CallContext> StartCall(grpc::CallbackServerContext* ctx, const HandlerEnv& env,
                                      absl::string_view method);

// Finishes `reactor` with `status` after GuardedRun-style sanitising of INTERNAL errors.
void FinishUnary(grpc::ServerUnaryReactor* reactor, const CallContext& call, absl::Status status);

// Sanitises INTERNAL statuses (logs the detail with the request id) before they go on the wire.
grpc::Status ToWireStatus(const CallContext& call, const absl::Status& status);

}  // namespace tahe::server
