#include "services/gateway/router.h"

#include <map>
#include <random>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "libs/log/log.h"
#include "libs/metrics/grpc_metrics.h"
#include "libs/server/call.h"
#include "libs/status/status.h"
#include "services/gateway/gateway_repository.h"
#include "tahe/tenancy/v1/tenancy.grpc.pb.h"

namespace tahe::gateway {

// --- SnapshotCache -------------------------------------------------------------------------------

SnapshotCache::SnapshotCache(Loader loader, Options options, prometheus::Registry* metrics)
    : loader_(std::move(loader)), options_(options) {
  if (metrics != nullptr) {
    refresh_failures_ = &prometheus::BuildCounter()
                             .Name("tahe_gateway_snapshot_refresh_failures_total")
                             .Help("Failed reloads of the routing directory (last good kept)")
                             .Register(*metrics)
                             .Add({});
    last_success_ = &prometheus::BuildGauge()
                         .Name("tahe_gateway_snapshot_last_success_timestamp_seconds")
                         .Help("Unix time of the last successful reload of the routing directory")
                         .Register(*metrics)
                         .Add({});
  }
}

absl::StatusOr<std::unique_ptr<SnapshotCache>> SnapshotCache::Start(Loader loader, Options options,
                                                                    prometheus::Registry* metrics) {
  std::unique_ptr<SnapshotCache> cache(new SnapshotCache(std::move(loader), options, metrics));
  absl::Status first = cache->Refresh();
  if (!first.ok()) {
    return absl::Status(first.code(),
                        absl::StrCat("loading the routing directory: ", first.message()));
  }
  cache->thread_ = std::thread([c = cache.get()] { c->Loop(); });
  return cache;
}

absl::StatusOr<std::unique_ptr<SnapshotCache>> SnapshotCache::Start(GatewayRepository* repository,
                                                                    Options options,
                                                                    prometheus::Registry* metrics) {
  return Start([repository](absl::Time deadline) { return repository->LoadSnapshot(deadline); },
               options, metrics);
}

SnapshotCache::~SnapshotCache() { Stop(); }

std::shared_ptr<const RoutingSnapshot> SnapshotCache::Get() const {
  absl::MutexLock lock(&snapshot_mu_);
  return snapshot_;
}

absl::Status SnapshotCache::Refresh() {
  absl::StatusOr<RoutingSnapshot> loaded = loader_(absl::Now() + options_.load_timeout);
  if (!loaded.ok()) {
    if (refresh_failures_ != nullptr) {
      refresh_failures_->Increment();
    }
    return loaded.status();
  }
  auto fresh = std::make_shared<const RoutingSnapshot>(*std::move(loaded));
  {
    absl::MutexLock lock(&snapshot_mu_);
    snapshot_.swap(fresh);
  }
  // `fresh` now holds the old snapshot; it is freed here, outside the lock (or by the last reader).
  if (last_success_ != nullptr) {
    last_success_->Set(absl::ToDoubleSeconds(absl::Now() - absl::UnixEpoch()));
  }
  return absl::OkStatus();
}

void SnapshotCache::Loop() {
  bool failing = false;
  while (true) {
    {
      absl::MutexLock lock(&stop_mu_);
      stop_mu_.AwaitWithTimeout(absl::Condition(&stopping_), options_.refresh);
      if (stopping_) {
        return;
      }
    }
    absl::Status status = Refresh();
    if (!status.ok()) {
      // Logged on every failure: a stale directory means revocations are not taking effect.
      log::Warn("routing directory reload failed; keeping the last good snapshot",
                {{"error", status.ToString()}});
      failing = true;
    } else if (failing) {
      log::Info("routing directory reload recovered");
      failing = false;
    }
  }
}

void SnapshotCache::Stop() {
  {
    absl::MutexLock lock(&stop_mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) {
    thread_.join();
  }
}

// --- GatewayRouter -------------------------------------------------------------------------------

namespace {

prometheus::Family<prometheus::Counter>& CounterFamily(prometheus::Registry& registry,
                                                       const std::string& name,
                                                       const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(registry);
}

// The single value of `key`, "" if absent. Sets *duplicate if it appears more than once.
absl::string_view OneHeader(const grpc::ServerContextBase& ctx, const char* key, bool* duplicate) {
  const auto& md = ctx.client_metadata();
  auto [begin, end] = md.equal_range(key);
  *duplicate = false;
  if (begin == end) {
    return {};
  }
  absl::string_view value(begin->second.data(), begin->second.size());
  if (std::next(begin) != end) {
    *duplicate = true;
  }
  return value;
}

}  // namespace

std::string NewRequestId() {
  thread_local std::mt19937_64 rng([] {
    std::random_device rd;
    return (static_cast<uint64_t>(rd()) << 32) ^ rd();
  }());
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(32, '0');
  for (int half = 0; half < 2; ++half) {
    uint64_t bits = rng();
    for (int i = 0; i < 16; ++i) {
      id[half * 16 + i] = kHex[bits & 0xf];
      bits >>= 4;
    }
  }
  return id;
}

absl::StatusOr<AuthenticatedKey> AuthenticateCall(const RoutingSnapshot& snapshot,
                                                  const grpc::ServerContextBase& ctx,
                                                  absl::string_view full_method,
                                                  AuthFailure* failure) {
  AuthFailure ignored;
  AuthFailure& reason = failure != nullptr ? *failure : ignored;
  reason = AuthFailure::kNone;

  // Who: the API key.
  bool duplicate = false;
  absl::string_view authorization = OneHeader(ctx, "authorization", &duplicate);
  if (authorization.empty()) {
    reason = AuthFailure::kMissing;
    return absl::UnauthenticatedError("missing API key (authorization: Bearer <key>)");
  }
  if (duplicate) {
    reason = AuthFailure::kMalformed;
    return absl::UnauthenticatedError("more than one authorization header");
  }
  if (absl::StatusOr<ApiKeyToken> parsed = ParseAuthorization(authorization); !parsed.ok()) {
    reason = AuthFailure::kMalformed;
    return parsed.status();
  }
  absl::StatusOr<const KeyEntry*> key = snapshot.Authenticate(authorization);
  if (!key.ok()) {
    reason = absl::StrContains(key.status().message(), "revoked") ? AuthFailure::kRevoked
                                                                  : AuthFailure::kInvalid;
    return key.status();
  }

  // May it call this method?
  absl::StatusOr<std::string> role = RequiredRole(full_method);
  if (!role.ok()) {
    reason = AuthFailure::kRole;
    return role.status();
  }
  if (absl::Status allowed = CheckRole(**key, *role); !allowed.ok()) {
    reason = AuthFailure::kRole;
    return allowed;
  }
  return AuthenticatedKey{.key = *key, .principal = absl::StrCat("key:", (*key)->key_id)};
}

std::string RequestIdOf(const grpc::ServerContextBase& ctx) {
  bool duplicate = false;
  absl::string_view client_request_id = OneHeader(ctx, server::kRequestIdHeader, &duplicate);
  return !duplicate && ValidateRequestId("x-request-id", client_request_id).ok()
             ? std::string(client_request_id)
             : NewRequestId();
}

GatewayRouter::GatewayRouter(const SnapshotCache* cache, prometheus::Registry& registry,
                             Options options)
    : cache_(cache),
      registry_(registry),
      options_(std::move(options)),
      limiter_(options_.rate_limit),
      requests_(CounterFamily(registry, "tahe_gateway_requests_total",
                              "Calls routed to a backend, by organisation")),
      responses_(CounterFamily(registry, "tahe_gateway_responses_total",
                               "Routed calls by organisation and the status code they ended with")),
      duration_(prometheus::BuildHistogram()
                    .Name("tahe_gateway_request_duration_seconds")
                    .Help("Routed calls, from routing to the final status, by organisation")
                    .Register(registry)),
      upstream_errors_(CounterFamily(
          registry, "tahe_gateway_upstream_errors_total",
          "Routed calls that ended UNAVAILABLE, UNKNOWN, INTERNAL or DATA_LOSS, by region")),
      auth_failures_(CounterFamily(registry, "tahe_gateway_auth_failures_total",
                                   "Calls refused as UNAUTHENTICATED, by reason")),
      permission_denied_(CounterFamily(registry, "tahe_gateway_permission_denied_total",
                                       "Calls refused as PERMISSION_DENIED, by reason")),
      rate_limited_(CounterFamily(registry, "tahe_gateway_rate_limited_total",
                                  "Calls refused by the per-organisation rate limiter")),
      auth_missing_(auth_failures_.Add({{"reason", "missing"}})),
      auth_malformed_(auth_failures_.Add({{"reason", "malformed"}})),
      auth_invalid_(auth_failures_.Add({{"reason", "invalid"}})),
      auth_revoked_(auth_failures_.Add({{"reason", "revoked"}})),
      denied_role_(permission_denied_.Add({{"reason", "role"}})),
      denied_tenant_(permission_denied_.Add({{"reason", "tenant"}})) {}

std::shared_ptr<grpc::Channel> GatewayRouter::ChannelFor(const std::string& address) {
  ChannelSet* set = nullptr;
  {
    absl::ReaderMutexLock lock(&channels_mu_);
    auto it = channels_.find(address);
    if (it != channels_.end()) {
      set = it->second.get();
    }
  }
  if (set == nullptr) {
    absl::MutexLock lock(&channels_mu_);
    std::unique_ptr<ChannelSet>& slot = channels_[address];
    if (slot == nullptr) {
      slot = std::make_unique<ChannelSet>();
      for (int i = 0; i < kChannelsPerAddress; ++i) {
        grpc::ChannelArguments args;
        args.SetMaxReceiveMessageSize(options_.max_receive_message_bytes);
        // Channels with equal arguments share subchannels (and so one connection) through
        // gRPC's global subchannel pool: a local pool gives each channel its own.
        args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
        slot->channels[i] = metrics::CreateMeteredChannel(address,
                                                          options_.upstream_credentials != nullptr
                                                              ? options_.upstream_credentials
                                                              : grpc::InsecureChannelCredentials(),
                                                          registry_, args);
      }
    }
    set = slot.get();
  }
  const uint32_t turn = set->next.fetch_add(1, std::memory_order_relaxed);
  return set->channels[turn % kChannelsPerAddress];
}

absl::Status GatewayRouter::CheckNoTenantData(const std::string& organisation,
                                              const std::string& region, absl::Time deadline) {
  std::shared_ptr<const RoutingSnapshot> snapshot = cache_->Get();
  auto services = snapshot->region_services.find(region);
  if (services == snapshot->region_services.end() || services->second.empty()) {
    return absl::OkStatus();  // a region without services holds no data
  }
  // One question per distinct address: a process serving several prefixes answers once.
  std::map<std::string, std::string> prefix_of_address;
  for (const auto& [prefix, address] : services->second) {
    prefix_of_address.emplace(address, prefix);
  }
  std::vector<std::string> found;
  const std::string request_id = NewRequestId();
  for (const auto& [address, prefix] : prefix_of_address) {
    auto stub = tahe::tenancy::v1::TenantDataService::NewStub(ChannelFor(address));
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(deadline));
    ctx.AddMetadata(server::kInternalTokenHeader, options_.internal_token);
    ctx.AddMetadata(server::kTenantHeader, organisation);
    ctx.AddMetadata(server::kPrincipalHeader, "gateway");
    ctx.AddMetadata(server::kRequestIdHeader, request_id);
    tahe::tenancy::v1::DescribeTenantDataResponse resp;
    grpc::Status status = stub->DescribeTenantData(&ctx, {}, &resp);
    if (!status.ok()) {
      return absl::UnavailableError(
          absl::StrCat("region: cannot tell whether organisation ", organisation,
                       " has data in region ", region, ": ", prefix, " at ", address, " answered ",
                       CodeName(static_cast<absl::StatusCode>(status.error_code())), ": ",
                       status.error_message(), "; the organisation was not moved"));
    }
    if (resp.has_data()) {
      found.push_back(
          absl::StrCat(resp.service().empty() ? prefix : resp.service(), ": ", resp.summary()));
    }
  }
  if (!found.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("region: organisation ", organisation, " has data in region ", region, " (",
                     absl::StrJoin(found, "; "),
                     "); moving it would strand that data. Migrate or remove it first"));
  }
  return absl::OkStatus();
}

void GatewayRouter::CountAuthFailure(AuthFailure failure) {
  switch (failure) {
    case AuthFailure::kMissing:
      auth_missing_.Increment();
      break;
    case AuthFailure::kMalformed:
      auth_malformed_.Increment();
      break;
    case AuthFailure::kInvalid:
      auth_invalid_.Increment();
      break;
    case AuthFailure::kRevoked:
      auth_revoked_.Increment();
      break;
    case AuthFailure::kRole:
      denied_role_.Increment();
      break;
    case AuthFailure::kNone:
      break;
  }
}

GatewayRouter::OrganisationMetrics& GatewayRouter::MetricsOf(const std::string& organisation) {
  {
    absl::ReaderMutexLock lock(&org_metrics_mu_);
    auto it = org_metrics_.find(organisation);
    if (it != org_metrics_.end()) {
      return *it->second;
    }
  }
  absl::MutexLock lock(&org_metrics_mu_);
  std::unique_ptr<OrganisationMetrics>& slot = org_metrics_[organisation];
  if (slot == nullptr) {
    slot = std::make_unique<OrganisationMetrics>();
    slot->requests = &requests_.Add({{"organisation", organisation}});
    // 250 µs .. 30 s: a proxied read takes well under a millisecond; a bulk import, seconds.
    slot->duration = &duration_.Add(
        {{"organisation", organisation}},
        prometheus::Histogram::BucketBoundaries{0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30});
  }
  return *slot;
}

void GatewayRouter::RecordDone(OrganisationMetrics& metrics, const std::string& organisation,
                               const std::string& region, absl::Time started,
                               const grpc::Status& status) {
  metrics.duration->Observe(absl::ToDoubleSeconds(absl::Now() - started));
  const int code = static_cast<int>(status.error_code());
  if (code < 0 || code >= static_cast<int>(metrics.responses.size())) {
    return;
  }
  prometheus::Counter* counter = metrics.responses[code].load(std::memory_order_acquire);
  if (counter == nullptr) {
    // Family::Add returns the same counter for the same labels, so a race only repeats a lookup.
    counter =
        &responses_.Add({{"organisation", organisation},
                         {"code", std::string(CodeName(static_cast<absl::StatusCode>(code)))}});
    metrics.responses[code].store(counter, std::memory_order_release);
  }
  counter->Increment();
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::UNKNOWN:
    case grpc::StatusCode::INTERNAL:
    case grpc::StatusCode::DATA_LOSS:
      upstream_errors_
          .Add({{"region", region},
                {"code", std::string(CodeName(static_cast<absl::StatusCode>(code)))}})
          .Increment();
      break;
    default:
      break;
  }
}

RouteDecision GatewayRouter::Route(const grpc::GenericServerContext& ctx) {
  std::shared_ptr<const RoutingSnapshot> snapshot = cache_->Get();
  if (snapshot == nullptr) {
    return Refuse(absl::UnavailableError("routing directory not loaded"));
  }
  const std::string& method = ctx.method();

  // Who, and may it call this method?
  AuthFailure failure = AuthFailure::kNone;
  absl::StatusOr<AuthenticatedKey> key = AuthenticateCall(*snapshot, ctx, method, &failure);
  if (!key.ok()) {
    CountAuthFailure(failure);
    return Refuse(key.status());
  }

  // For whom?
  bool duplicate = false;
  absl::string_view requested = OneHeader(ctx, server::kTenantHeader, &duplicate);
  if (duplicate) {
    return Refuse(absl::InvalidArgumentError("x-tahe-tenant given more than once"));
  }
  absl::StatusOr<std::string> tenant = snapshot->ResolveTenant(*key->key, requested);
  if (!tenant.ok()) {
    if (tenant.status().code() == absl::StatusCode::kPermissionDenied) {
      denied_tenant_.Increment();
    }
    return Refuse(tenant.status());
  }

  if (absl::Status scope = CheckRegionScope(*snapshot, *key->key, method, *tenant); !scope.ok()) {
    denied_tenant_.Increment();
    return Refuse(scope);
  }

  if (!limiter_.TryAcquire(*tenant)) {
    rate_limited_.Add({{"organisation", *tenant}}).Increment();
    return Refuse(absl::ResourceExhaustedError(
        absl::StrCat("rate limit exceeded for organisation ", *tenant)));
  }

  // Where?
  absl::StatusOr<std::string> address = snapshot->UpstreamFor(*tenant, method);
  if (!address.ok()) {
    return Refuse(address.status());
  }

  std::string request_id = RequestIdOf(ctx);

  OrganisationMetrics& metrics = MetricsOf(*tenant);
  metrics.requests->Increment();
  RouteDecision decision{.status = absl::OkStatus(), .upstream = ChannelFor(*address)};
  auto region = snapshot->organisation_region.find(*tenant);
  decision.on_done = [this, &metrics, organisation = *tenant,
                      region = region != snapshot->organisation_region.end() ? region->second
                                                                             : std::string(),
                      started = absl::Now()](const grpc::Status& status) {
    RecordDone(metrics, organisation, region, started, status);
  };
  decision.metadata.reserve(4);
  decision.metadata.emplace_back(server::kInternalTokenHeader, options_.internal_token);
  decision.metadata.emplace_back(server::kTenantHeader, *std::move(tenant));
  decision.metadata.emplace_back(server::kPrincipalHeader, std::move(key->principal));
  decision.metadata.emplace_back(server::kRequestIdHeader, std::move(request_id));
  return decision;
}

}  // namespace tahe::gateway
