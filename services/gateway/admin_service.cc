#include "services/gateway/admin_service.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "libs/log/log.h"
#include "libs/status/status.h"

namespace tahe::gateway {

AdminService::AdminService(GatewayRepository* repository, SnapshotCache* cache,
                           server::WorkerPool* workers, Options options)
    : repository_(repository), cache_(cache), workers_(workers), options_(std::move(options)) {}

grpc::ServerUnaryReactor* AdminService::Handle(
    grpc::CallbackServerContext* ctx, absl::string_view method, Kind kind,
    std::function<absl::Status(const server::CallContext&)> fn) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  const std::string full_method = absl::StrCat("/", kAdminService, "/", method);

  std::shared_ptr<const RoutingSnapshot> snapshot = cache_->Get();
  if (snapshot == nullptr) {
    reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "routing directory not loaded"));
    return reactor;
  }
  AuthFailure failure = AuthFailure::kNone;
  absl::StatusOr<AuthenticatedKey> key = AuthenticateCall(*snapshot, *ctx, full_method, &failure);
  if (!key.ok()) {
    if (options_.on_auth_failure) {
      options_.on_auth_failure(failure);
    }
    reactor->Finish(ToGrpcStatus(key.status()));
    return reactor;
  }
  server::CallContext call;
  call.principal = std::move(key->principal);
  call.request_id = RequestIdOf(*ctx);
  call.deadline = server::DeadlineOf(*ctx);
  call.method = std::string(method);
  snapshot.reset();  // `key->key` is not used past this point

  server::RunUnaryOnWorkers(
      ctx, reactor, *workers_, std::move(call),
      [this, kind, fn = std::move(fn)](const server::CallContext& call) {
        absl::Status status = fn(call);
        if (status.ok() && kind == Kind::kMutation) {
          // So the change is in effect (new key accepted, revoked key refused) before the caller
          // hears of it. The change is committed either way; the background refresh retries.
          absl::Status refreshed = server::GuardedRun(call, [&] { return cache_->Refresh(); });
          if (!refreshed.ok()) {
            log::Warn("directory reload after an admin change failed; the periodic reload retries",
                      call.LogFields({{"error", refreshed.ToString()}}));
          }
        }
        return status;
      });
  return reactor;
}

#define TAHE_ADMIN_UNARY(Method, Kind_, Call)                                                   \
  return Handle(ctx, #Method, Kind::Kind_, [this, req, resp](const server::CallContext& call) { \
    ASSIGN_OR_RETURN(*resp, Call);                                                              \
    return absl::OkStatus();                                                                    \
  })

grpc::ServerUnaryReactor* AdminService::CreateRegion(grpc::CallbackServerContext* ctx,
                                                     const v1::CreateRegionRequest* req,
                                                     v1::Region* resp) {
  TAHE_ADMIN_UNARY(CreateRegion, kMutation, repository_->CreateRegion(call, *req));
}
grpc::ServerUnaryReactor* AdminService::UpdateRegion(grpc::CallbackServerContext* ctx,
                                                     const v1::UpdateRegionRequest* req,
                                                     v1::Region* resp) {
  TAHE_ADMIN_UNARY(UpdateRegion, kMutation, repository_->UpdateRegion(call, *req));
}
grpc::ServerUnaryReactor* AdminService::ListRegions(grpc::CallbackServerContext* ctx,
                                                    const v1::ListRegionsRequest* req,
                                                    v1::ListRegionsResponse* resp) {
  TAHE_ADMIN_UNARY(ListRegions, kRead, repository_->ListRegions(call, *req));
}
grpc::ServerUnaryReactor* AdminService::CreateOrganisation(grpc::CallbackServerContext* ctx,
                                                           const v1::CreateOrganisationRequest* req,
                                                           v1::Organisation* resp) {
  TAHE_ADMIN_UNARY(CreateOrganisation, kMutation, repository_->CreateOrganisation(call, *req));
}
grpc::ServerUnaryReactor* AdminService::ListOrganisations(grpc::CallbackServerContext* ctx,
                                                          const v1::ListOrganisationsRequest* req,
                                                          v1::ListOrganisationsResponse* resp) {
  TAHE_ADMIN_UNARY(ListOrganisations, kRead, repository_->ListOrganisations(call, *req));
}
grpc::ServerUnaryReactor* AdminService::UpdateOrganisation(grpc::CallbackServerContext* ctx,
                                                           const v1::UpdateOrganisationRequest* req,
                                                           v1::Organisation* resp) {
  return Handle(ctx, "UpdateOrganisation", Kind::kMutation,
                [this, req, resp](const server::CallContext& call) -> absl::Status {
                  GatewayRepository::MoveCheck may_move;
                  if (options_.may_move) {
                    may_move = [this, &call](const std::string& org, const std::string& from) {
                      return options_.may_move(org, from, call.deadline);
                    };
                  }
                  ASSIGN_OR_RETURN(*resp, repository_->UpdateOrganisation(call, *req, may_move));
                  return absl::OkStatus();
                });
}
grpc::ServerUnaryReactor* AdminService::IssueApiKey(grpc::CallbackServerContext* ctx,
                                                    const v1::IssueApiKeyRequest* req,
                                                    v1::IssueApiKeyResponse* resp) {
  TAHE_ADMIN_UNARY(IssueApiKey, kMutation, repository_->IssueApiKey(call, *req));
}
grpc::ServerUnaryReactor* AdminService::ListApiKeys(grpc::CallbackServerContext* ctx,
                                                    const v1::ListApiKeysRequest* req,
                                                    v1::ListApiKeysResponse* resp) {
  TAHE_ADMIN_UNARY(ListApiKeys, kRead, repository_->ListApiKeys(call, *req));
}
grpc::ServerUnaryReactor* AdminService::RevokeApiKey(grpc::CallbackServerContext* ctx,
                                                     const v1::RevokeApiKeyRequest* req,
                                                     v1::ApiKey* resp) {
  TAHE_ADMIN_UNARY(RevokeApiKey, kMutation, repository_->RevokeApiKey(call, *req));
}
grpc::ServerUnaryReactor* AdminService::ListAuditEvents(grpc::CallbackServerContext* ctx,
                                                        const v1::ListAuditEventsRequest* req,
                                                        v1::ListAuditEventsResponse* resp) {
  TAHE_ADMIN_UNARY(ListAuditEvents, kRead, repository_->ListAuditEvents(call, *req));
}

#undef TAHE_ADMIN_UNARY

namespace {

// Writes `content` to `path` through a 0600 temporary file renamed into place.
absl::Status WriteSecretFile(const std::string& path, const std::string& content) {
  const std::string tmp = absl::StrCat(path, ".tmp");
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::FailedPreconditionError(absl::StrCat("--bootstrap_admin_key_file: cannot create ",
                                                      tmp, ": ", std::strerror(errno)));
  }
  const std::string line = absl::StrCat(content, "\n");
  bool ok = ::fchmod(fd, 0600) == 0 &&
            ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) &&
            ::fsync(fd) == 0;
  int saved_errno = errno;
  ok = (::close(fd) == 0) && ok;
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    if (ok) {
      saved_errno = errno;
    }
    ::unlink(tmp.c_str());
    return absl::FailedPreconditionError(absl::StrCat("--bootstrap_admin_key_file: cannot write ",
                                                      path, ": ", std::strerror(saved_errno)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> BootstrapAdminKey(GatewayRepository& repository,
                                              const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && st.st_size > 0) {
    log::Info("bootstrap admin key file exists; nothing issued", {{"path", path}});
    return std::string();
  }
  CallContext call;
  call.principal = "bootstrap";
  call.request_id = NewRequestId();
  call.deadline = absl::Now() + absl::Seconds(30);
  ASSIGN_OR_RETURN(v1::ListApiKeysResponse keys, repository.ListApiKeys(call, {}));
  for (const v1::ApiKey& key : keys.keys()) {
    for (const std::string& role : key.roles()) {
      if (role == kRoleAdmin) {
        log::Warn("the directory has an admin key already; no bootstrap key issued",
                  {{"key_id", key.key_id()}, {"path", path}});
        return std::string();
      }
    }
  }
  v1::IssueApiKeyRequest req;
  req.set_request_id(absl::StrCat("bootstrap-", call.request_id));
  req.set_description("bootstrap admin key");
  req.add_roles(kRoleAdmin);
  ASSIGN_OR_RETURN(v1::IssueApiKeyResponse issued, repository.IssueApiKey(call, req));
  absl::Status written = WriteSecretFile(path, issued.api_key());
  if (!written.ok()) {
    v1::RevokeApiKeyRequest revoke;
    revoke.set_request_id(absl::StrCat("bootstrap-revoke-", call.request_id));
    revoke.set_key_id(issued.key().key_id());
    absl::Status revoked = repository.RevokeApiKey(call, revoke).status();
    if (!revoked.ok()) {
      log::Error("could not revoke the unwritten bootstrap key",
                 {{"key_id", issued.key().key_id()}, {"error", revoked.ToString()}});
    }
    return written;
  }
  log::Info("bootstrap admin key issued", {{"key_id", issued.key().key_id()}, {"path", path}});
  return issued.key().key_id();
}

}  // namespace tahe::gateway
