#pragma once

// The gateway's real router: API key -> principal -> tenant -> cell, decided from memory.
//
// SnapshotCache keeps the current RoutingSnapshot (from GatewayRepository::LoadSnapshot) and
// replaces it whole every `refresh` from a background thread; a failed reload is logged and
// counted, and the last good snapshot stays in use. Readers take a shared_ptr to an immutable
// snapshot, so a swap never disturbs a call that is being routed.
//
// GatewayRouter turns one incoming call into a proxy RouteDecision (see proxy.h):
//   authorization: Bearer <key>   -> RoutingSnapshot::Authenticate        UNAUTHENTICATED
//   method                        -> RequiredRole + CheckRole             PERMISSION_DENIED
//   x-tahe-tenant (optional)      -> ResolveTenant                        PERMISSION_DENIED
//   organisation                  -> TokenBucketLimiter                   RESOURCE_EXHAUSTED
//   organisation + method         -> UpstreamFor -> cached metered channels per address
// and gives the backend exactly: x-tahe-internal-token, x-tahe-tenant, x-tahe-principal
// ("key:<key_id>") and x-request-id (the client's if it is a sane one, else a fresh one).
//
//   ASSIGN_OR_RETURN(auto cache, SnapshotCache::Start(
//       [&](absl::Time deadline) { return repository.LoadSnapshot(deadline); },
//       {.refresh = absl::Seconds(1)}, &registry));
//   GatewayRouter router(cache.get(), registry, {.internal_token = token});
//   ProxyService proxy(router.AsRouter());
//   ...
//   cache->Stop();
//
// Metrics (on the given registry):
//   tahe_gateway_requests_total{organisation}        calls routed to a backend
//   tahe_gateway_responses_total{organisation,code}  routed calls by the status they ended with
//   tahe_gateway_request_duration_seconds{organisation}  routed calls, routing to final status
//   tahe_gateway_upstream_errors_total{region,code}  routed calls that ended UNAVAILABLE, UNKNOWN,
//                                                    INTERNAL or DATA_LOSS (backend down or
//                                                    failing)
//   tahe_gateway_auth_failures_total{reason}         missing | malformed | invalid | revoked
//   tahe_gateway_permission_denied_total{reason}     role | tenant
//                                                    (admin API refusals too: CountAuthFailure)
//   tahe_gateway_rate_limited_total{organisation}    calls refused by the rate limiter
//   tahe_gateway_snapshot_refresh_failures_total     failed directory reloads
//   tahe_gateway_snapshot_last_success_timestamp_seconds

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/gateway/gateway_domain.h"
#include "services/gateway/proxy.h"

namespace tahe::gateway {

class GatewayRepository;

class SnapshotCache {
 public:
  // Loads the directory; must give up by `deadline`.
  using Loader = std::function<absl::StatusOr<RoutingSnapshot>(absl::Time deadline)>;
  struct Options {
    // Time between reloads (from the end of one to the start of the next).
    absl::Duration refresh = absl::Seconds(1);
    // Deadline of one reload.
    absl::Duration load_timeout = absl::Seconds(10);
  };

  // Loads once synchronously (its error is returned: the gateway does not serve without a
  // directory), then starts the refresh thread. `metrics` may be null.
  static absl::StatusOr<std::unique_ptr<SnapshotCache>> Start(Loader loader, Options options,
                                                              prometheus::Registry* metrics);
  // Loader = repository->LoadSnapshot. REQUIRES: repository outlives the cache.
  static absl::StatusOr<std::unique_ptr<SnapshotCache>> Start(GatewayRepository* repository,
                                                              Options options,
                                                              prometheus::Registry* metrics);
  ~SnapshotCache();  // Stop()s.

  // The current snapshot; never null. Cheap (a mutex-protected shared_ptr copy).
  std::shared_ptr<const RoutingSnapshot> Get() const;

  // Reloads now, on the calling thread (blocking). The snapshot is replaced only on success.
  absl::Status Refresh();

  // Stops the refresh thread and waits for it. Idempotent. Get() keeps working.
  void Stop();

 private:
  SnapshotCache(Loader loader, Options options, prometheus::Registry* metrics);
  void Loop();

  const Loader loader_;
  const Options options_;
  prometheus::Counter* refresh_failures_ = nullptr;
  prometheus::Gauge* last_success_ = nullptr;

  mutable absl::Mutex snapshot_mu_;
  std::shared_ptr<const RoutingSnapshot> snapshot_ ABSL_GUARDED_BY(snapshot_mu_);

  absl::Mutex stop_mu_;
  bool stopping_ ABSL_GUARDED_BY(stop_mu_) = false;
  std::thread thread_;
};

// Why AuthenticateCall refused a call (the router counts these).
enum class AuthFailure {
  kNone,
  kMissing,    // no authorization header
  kMalformed,  // more than one, another scheme, or not a well-formed key
  kInvalid,    // unknown key id or wrong secret
  kRevoked,    // the key is revoked
  kRole,       // the method needs a role the key lacks (or is not routable at all)
};

class GatewayRouter {
 public:
  struct Options {
    // The credential the backends require (x-tahe-internal-token). REQUIRES: non-empty.
    std::string internal_token;
    // Per-organisation token bucket; rate <= 0 disables limiting.
    TokenBucketLimiter::Options rate_limit;
    // GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH of upstream channels (the backends' limit).
    int max_receive_message_bytes = 64 << 20;
    // Upstream channel credentials; null = insecure (one machine; mTLS in production).
    std::shared_ptr<grpc::ChannelCredentials> upstream_credentials;
  };

  // REQUIRES: cache and registry outlive the router.
  GatewayRouter(const SnapshotCache* cache, prometheus::Registry& registry, Options options);

  // The proxy's Router: thread-safe, from memory only (the first call to a new upstream address
  // creates its channel, which does not block on connecting).
  RouteDecision Route(const grpc::GenericServerContext& ctx);
  Router AsRouter() {
    return [this](const grpc::GenericServerContext& ctx) { return Route(ctx); };
  }

  // A channel for an upstream address. Each address has kChannelsPerAddress channels (created
  // once, then shared), each with its own HTTP/2 connection, handed out in turn: concurrent calls
  // spread over that many connections, and so over more of the backend's pollers, instead of
  // queueing on one.
  static constexpr int kChannelsPerAddress = 2;
  std::shared_ptr<grpc::Channel> ChannelFor(const std::string& address);

  // OK if `organisation` has no data in any service of `region`'s cell: asks each distinct
  // upstream address of the region (tahe.tenancy.v1.TenantDataService/DescribeTenantData, with
  // the internal credential and the organisation as tenant) and waits for the answers (blocking:
  // call from a worker thread). FAILED_PRECONDITION naming what is there; UNAVAILABLE naming the
  // service that could not be asked (a move is never made without every answer).
  absl::Status CheckNoTenantData(const std::string& organisation, const std::string& region,
                                 absl::Time deadline);

  // Counts a refusal of AuthenticateCall in the auth_failures/permission_denied families (the
  // admin API authenticates without routing, and reports here).
  void CountAuthFailure(AuthFailure failure);

 private:
  // Per-organisation instruments, created on first use and kept (organisations are few).
  struct OrganisationMetrics {
    prometheus::Counter* requests = nullptr;
    prometheus::Histogram* duration = nullptr;
    std::array<std::atomic<prometheus::Counter*>, 17> responses{};  // by grpc::StatusCode
  };
  OrganisationMetrics& MetricsOf(const std::string& organisation);
  void RecordDone(OrganisationMetrics& metrics, const std::string& organisation,
                  const std::string& region, absl::Time started, const grpc::Status& status);

  RouteDecision Refuse(absl::Status status) { return {.status = std::move(status)}; }

  const SnapshotCache* cache_;
  prometheus::Registry& registry_;
  const Options options_;
  TokenBucketLimiter limiter_;

  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Counter>& responses_;
  prometheus::Family<prometheus::Histogram>& duration_;
  prometheus::Family<prometheus::Counter>& upstream_errors_;
  prometheus::Family<prometheus::Counter>& auth_failures_;
  prometheus::Family<prometheus::Counter>& permission_denied_;
  prometheus::Family<prometheus::Counter>& rate_limited_;
  prometheus::Counter& auth_missing_;
  prometheus::Counter& auth_malformed_;
  prometheus::Counter& auth_invalid_;
  prometheus::Counter& auth_revoked_;
  prometheus::Counter& denied_role_;
  prometheus::Counter& denied_tenant_;

  absl::Mutex org_metrics_mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<OrganisationMetrics>> org_metrics_
      ABSL_GUARDED_BY(org_metrics_mu_);

  struct ChannelSet {
    std::array<std::shared_ptr<grpc::Channel>, kChannelsPerAddress> channels;
    std::atomic<uint32_t> next{0};  // round-robin position
  };
  absl::Mutex channels_mu_;
  // Never erased: a ChannelSet outlives the lock that found it.
  absl::flat_hash_map<std::string, std::unique_ptr<ChannelSet>> channels_
      ABSL_GUARDED_BY(channels_mu_);
};

// A fresh request id: 32 lower-case hex characters (not a secret; a fast thread-local PRNG).
std::string NewRequestId();

// The key a call presents, checked against `full_method`'s role.
struct AuthenticatedKey {
  // Points into the snapshot: valid while the caller holds the snapshot.
  const KeyEntry* key = nullptr;
  // "key:<key_id>", what backends and the audit log see.
  std::string principal;
};

// Steps 1 and 2 of every call, shared by the router and the admin API: the single
// `authorization: Bearer <key>` header -> RoutingSnapshot::Authenticate (UNAUTHENTICATED), then
// RequiredRole(full_method) + CheckRole (PERMISSION_DENIED). `full_method` is
// "/pkg.Service/Method". Reads memory only. If `failure` is non-null it is set to the reason
// (kNone on success).
absl::StatusOr<AuthenticatedKey> AuthenticateCall(const RoutingSnapshot& snapshot,
                                                  const grpc::ServerContextBase& ctx,
                                                  absl::string_view full_method,
                                                  AuthFailure* failure = nullptr);

// The client's x-request-id if it is a single sane one (ValidateRequestId), else NewRequestId().
std::string RequestIdOf(const grpc::ServerContextBase& ctx);

}  // namespace tahe::gateway
