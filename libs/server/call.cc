#include "libs/server/call.h"

#include <openssl/crypto.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "libs/status/status.h"

namespace tahe::server {
namespace {

std::string Metadata(const grpc::ServerContextBase& ctx, absl::string_view key) {
  const auto& md = ctx.client_metadata();
  auto it = md.find(grpc::string_ref(key.data(), key.size()));
  if (it == md.end()) {
    return "";
  }
  return std::string(it->second.data(), it->second.size());
}

}  // namespace

absl::Time DeadlineOf(const grpc::ServerContextBase& ctx) {
  auto deadline = ctx.deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) {
    return absl::InfiniteFuture();
  }
  return absl::FromChrono(deadline);
}

log::Fields CallContext::LogFields(log::Fields extra) const {
  log::Fields fields{{"request_id", request_id}, {"tenant", tenant}, {"method", method}};
  fields.insert(fields.end(), extra.begin(), extra.end());
  return fields;
}

bool IsValidTenantSlug(absl::string_view slug) {
  if (slug.empty() || slug.size() > 63) {
    return false;
  }
  for (size_t i = 0; i < slug.size(); ++i) {
    char c = slug[i];
    bool ok = absl::ascii_islower(c) || absl::ascii_isdigit(c) || (i > 0 && c == '-');
    if (!ok) {
      return false;
    }
  }
  return true;
}

Authenticator::Authenticator(std::string internal_token) : token_(std::move(internal_token)) {}

absl::StatusOr<CallContext> Authenticator::Authenticate(const grpc::ServerContextBase& ctx,
                                                        absl::string_view method,
                                                        bool require_tenant) const {
  std::string presented = Metadata(ctx, kInternalTokenHeader);
  if (presented.size() != token_.size() ||
      CRYPTO_memcmp(presented.data(), token_.data(), token_.size()) != 0) {
    return absl::UnauthenticatedError(
        "missing or invalid internal credential: call through the gateway");
  }
  CallContext call;
  call.method = std::string(method);
  call.tenant = Metadata(ctx, kTenantHeader);
  call.principal = Metadata(ctx, kPrincipalHeader);
  call.request_id = Metadata(ctx, kRequestIdHeader);
  call.deadline = DeadlineOf(ctx);
  if (require_tenant && !IsValidTenantSlug(call.tenant)) {
    return absl::InvalidArgumentError(
        call.tenant.empty() ? "metadata x-tahe-tenant: missing (no organisation chosen)"
                            : "metadata x-tahe-tenant: not a valid organisation slug");
  }
  return call;
}

grpc::Status ToWireStatus(const CallContext& call, const absl::Status& status) {
  if (status.code() == absl::StatusCode::kInternal || status.code() == absl::StatusCode::kUnknown) {
    log::Error("internal error", call.LogFields({{"error", std::string(status.message())}}));
    return grpc::Status(grpc::StatusCode::INTERNAL,
                        absl::StrCat("internal error (request id ", call.request_id, ")"));
  }
  return ToGrpcStatus(status);
}

absl::Status GuardedRun(const CallContext& call, const std::function<absl::Status()>& fn) {
  try {
    return fn();
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("exception: ", e.what()));
  } catch (...) {
    return absl::InternalError("unknown exception");
  }
}

void FinishUnary(grpc::ServerUnaryReactor* reactor, const CallContext& call, absl::Status status) {
  reactor->Finish(ToWireStatus(call, status));
}

absl::StatusOr<CallContext> StartCall(grpc::CallbackServerContext* ctx, const HandlerEnv& env,
                                      absl::string_view method) {
  return env.auth->Authenticate(*ctx, method);
}

void RunUnaryOnWorkers(grpc::CallbackServerContext* ctx, grpc::ServerUnaryReactor* reactor,
                       WorkerPool& workers, CallContext call,
                       std::function<absl::Status(const CallContext&)> fn) {
  bool queued = workers.Submit([reactor, ctx, call = std::move(call), fn = std::move(fn)] {
    absl::Status status;
    if (ctx->IsCancelled()) {
      status = absl::CancelledError("call cancelled before it ran");
    } else if (absl::Now() >= call.deadline) {
      status = absl::DeadlineExceededError("deadline exceeded before the call ran");
    } else {
      status = GuardedRun(call, [&] { return fn(call); });
    }
    FinishUnary(reactor, call, status);
  });
  if (!queued) {
    reactor->Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                 "server overloaded or shutting down; retry later"));
  }
}

grpc::ServerUnaryReactor* HandleUnary(grpc::CallbackServerContext* ctx, const HandlerEnv& env,
                                      absl::string_view method,
                                      std::function<absl::Status(const CallContext&)> fn) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  absl::StatusOr<CallContext> call = env.auth->Authenticate(*ctx, method);
  if (!call.ok()) {
    reactor->Finish(ToGrpcStatus(call.status()));
    return reactor;
  }
  RunUnaryOnWorkers(ctx, reactor, *env.workers, *std::move(call), std::move(fn));
  return reactor;
}

}  // namespace tahe::server
