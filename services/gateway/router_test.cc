// Tests of the real router: a gateway directory in a fresh TestDatabase (regions, organisations
// and API keys made through GatewayRepository), SnapshotCache + GatewayRouter + ProxyService on
// 127.0.0.1:0 (served by GrpcServer's generic_service), and behind it the real ledger (as in
// proxy_test.cc) for "tahe.ledger.v1" plus a recording backend for "tahe.reporting.v1" that shows
// the exact metadata the router gives the backend. Clients send `authorization: Bearer <key>`.

#include "services/gateway/router.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <prometheus/registry.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "libs/metrics/registry_for_test.h"
#include "libs/pg/pg.h"
#include "libs/server/call.h"
#include "libs/server/grpc_server.h"
#include "libs/server/tenant_data_service.h"
#include "libs/server/worker_pool.h"
#include "libs/status/status.h"
#include "libs/testing/pg_fixture.h"
#include "services/gateway/gateway_repository.h"
#include "services/gateway/proxy.h"
#include "services/ledger/group_commit.h"
#include "services/ledger/ledger_migrations.h"
#include "services/ledger/ledger_repository.h"
#include "services/ledger/ledger_service.h"

namespace tahe::gateway {
namespace {

using metrics::CounterSum;
using metrics::HistogramCount;

namespace ledger_v1 = ::tahe::ledger::v1;
using LedgerStub = ledger_v1::LedgerService::Stub;

constexpr char kToken[] = "gateway-router-test-internal-token";
constexpr int kPoolSize = 8;
constexpr char kBank[] = "1910";
constexpr char kSales[] = "3000";
constexpr absl::Duration kRefresh = absl::Milliseconds(100);

std::string CodeString(grpc::StatusCode code) {
  return CodeName(static_cast<absl::StatusCode>(code));
}

#define REQUIRE_CODE(status, code)                                             \
  do {                                                                         \
    const grpc::Status& s_ = (status);                                         \
    INFO("got " << CodeString(s_.error_code()) << ": " << s_.error_message()); \
    REQUIRE(CodeString(s_.error_code()) == CodeString(code));                  \
  } while (false)

std::chrono::system_clock::time_point In(std::chrono::milliseconds d) {
  return std::chrono::system_clock::now() + d;
}

// The proxy records a call's figures right after it finished the call, so a client may look a
// moment too early: poll (bounded) for the expected value.
template <typename Fn>
auto Eventually(Fn fn, decltype(fn()) want) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  auto got = fn();
  while (got != want && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    got = fn();
  }
  return got;
}

// Records each call's metadata and finishes it OK at once.
class RecordingBackend final : public grpc::CallbackGenericService {
 public:
  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext* ctx) override {
    std::multimap<std::string, std::string> md;
    for (const auto& [k, v] : ctx->client_metadata()) {
      md.emplace(std::string(k.data(), k.size()), std::string(v.data(), v.size()));
    }
    {
      absl::MutexLock lock(&mu_);
      seen_.push_back(std::move(md));
    }
    class Done final : public grpc::ServerGenericBidiReactor {
     public:
      Done() { Finish(grpc::Status::OK); }
      void OnDone() override { delete this; }
    };
    return new Done;
  }
  std::vector<std::multimap<std::string, std::string>> seen() {
    absl::MutexLock lock(&mu_);
    return seen_;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::multimap<std::string, std::string>> seen_ ABSL_GUARDED_BY(mu_);
};

template <typename T>
T OrThrow(absl::StatusOr<T> v) {
  if (!v.ok()) {
    throw std::runtime_error(v.status().ToString());
  }
  return *std::move(v);
}

struct Fixture {
  explicit Fixture(TokenBucketLimiter::Options rate = {.rate_per_second = 0, .burst = 1})
      : service(&repository, &committer, {&auth, &workers}, {}) {
    ledger_server = OrThrow(server::GrpcServer::Start({.listen = "127.0.0.1:0",
                                                       .services = {&service, &tenant_data},
                                                       .metrics = &ledger_registry}));
    reporting_server = OrThrow(
        server::GrpcServer::Start({.listen = "127.0.0.1:0", .generic_service = &recording}));

    call.principal = "key:test";
    call.deadline = absl::Now() + absl::Seconds(60);
    v1::CreateRegionRequest region;
    region.set_request_id("region-1");
    region.mutable_region()->set_slug("paijat-hame");
    region.mutable_region()->set_name("Päijät-Häme");
    (*region.mutable_region()->mutable_service_addresses())["tahe.ledger.v1"] =
        ledger_server->address();
    (*region.mutable_region()->mutable_service_addresses())["tahe.reporting.v1"] =
        reporting_server->address();
    REQUIRE(directory.CreateRegion(call, region).ok());
    for (const char* slug : {"lahti", "vaasa"}) {
      v1::CreateOrganisationRequest org;
      org.set_request_id(absl::StrCat("org-", slug));
      org.mutable_organisation()->set_slug(slug);
      org.mutable_organisation()->set_name(slug);
      org.mutable_organisation()->set_business_id("0245904-2");
      org.mutable_organisation()->set_region("paijat-hame");
      REQUIRE(directory.CreateOrganisation(call, org).ok());
    }
    writer = Key("k-writer", {"ledger.read", "ledger.write", "reports.read"}, {"lahti"});
    reader = Key("k-reader", {"ledger.read"}, {"lahti"});

    cache = OrThrow(SnapshotCache::Start(&directory, {.refresh = kRefresh}, &gateway_registry));
    router = std::make_unique<GatewayRouter>(
        cache.get(), gateway_registry,
        GatewayRouter::Options{.internal_token = kToken, .rate_limit = rate});
    proxy = std::make_unique<ProxyService>(router->AsRouter());
    gateway = OrThrow(server::GrpcServer::Start(
        {.listen = "127.0.0.1:0", .metrics = &gateway_registry, .generic_service = proxy.get()}));
    channel = grpc::CreateChannel(gateway->address(), grpc::InsecureChannelCredentials());
    stub = ledger_v1::LedgerService::NewStub(channel);
    direct = ledger_v1::LedgerService::NewStub(
        grpc::CreateChannel(ledger_server->address(), grpc::InsecureChannelCredentials()));
  }
  ~Fixture() {
    gateway->Shutdown(absl::Seconds(5));
    cache->Stop();
    reporting_server->Shutdown(absl::Seconds(5));
    service.BeginShutdown();
    ledger_server->Shutdown(absl::Seconds(5));
    committer.Stop();
    workers.Drain();
  }

  v1::IssueApiKeyResponse Key(const std::string& request_id, std::vector<std::string> roles,
                              std::vector<std::string> orgs) {
    v1::IssueApiKeyRequest req;
    req.set_request_id(request_id);
    req.set_description(request_id);
    for (const auto& r : roles) {
      req.add_roles(r);
    }
    for (const auto& o : orgs) {
      req.add_organisations(o);
    }
    absl::StatusOr<v1::IssueApiKeyResponse> resp = directory.IssueApiKey(call, req);
    INFO(resp.status().ToString());
    REQUIRE(resp.ok());
    return *resp;
  }

  static void WithKey(grpc::ClientContext* ctx, const std::string& key,
                      const std::string& tenant = "") {
    ctx->set_deadline(In(std::chrono::seconds(10)));
    if (!key.empty()) {
      ctx->AddMetadata("authorization", "Bearer " + key);
    }
    if (!tenant.empty()) {
      ctx->AddMetadata(server::kTenantHeader, tenant);
    }
  }

  template <typename Req, typename Resp>
  grpc::Status Call(grpc::Status (LedgerStub::*method)(grpc::ClientContext*, const Req&, Resp*),
                    const Req& req, const std::string& key, const std::string& tenant = "",
                    Resp* out = nullptr) {
    grpc::ClientContext ctx;
    WithKey(&ctx, key, tenant);
    Resp resp;
    grpc::Status status = ((*stub).*method)(&ctx, req, &resp);
    if (out != nullptr) {
      *out = resp;
    }
    return status;
  }

  void SetUpTenant(const std::string& key) {
    ledger_v1::LoadChartTemplateRequest chart;
    chart.set_request_id("setup-chart");
    REQUIRE_CODE(Call(&LedgerStub::LoadChartTemplate, chart, key), grpc::StatusCode::OK);
    ledger_v1::OpenPeriodRequest open;
    open.set_request_id("setup-open");
    open.set_period("2026-01");
    REQUIRE_CODE(Call(&LedgerStub::OpenPeriod, open, key), grpc::StatusCode::OK);
  }

  static ledger_v1::PostEntryRequest Sale(const std::string& request_id, int64_t cents) {
    ledger_v1::PostEntryRequest req;
    req.set_request_id(request_id);
    ledger_v1::EntryDraft* draft = req.mutable_entry();
    draft->set_entry_date("2026-01-15");
    draft->set_description("router test");
    draft->mutable_source()->set_system("manual");
    draft->mutable_source()->set_reference(request_id);
    auto* debit = draft->add_lines();
    debit->set_account(kBank);
    debit->mutable_amount()->set_amount_minor(cents);
    auto* sales = draft->add_lines();
    sales->set_account(kSales);
    sales->mutable_amount()->set_amount_minor(-cents);
    return req;
  }

  static ledger_v1::GetTrialBalanceRequest Everything() {
    ledger_v1::GetTrialBalanceRequest req;
    req.set_as_of_date("2999-12-31");
    return req;
  }

  int64_t DirectTotalDebit(const std::string& tenant) {
    grpc::ClientContext ctx;
    ctx.set_deadline(In(std::chrono::seconds(10)));
    ctx.AddMetadata(server::kInternalTokenHeader, kToken);
    ctx.AddMetadata(server::kTenantHeader, tenant);
    ledger_v1::GetTrialBalanceResponse tb;
    grpc::Status status = direct->GetTrialBalance(&ctx, Everything(), &tb);
    REQUIRE_CODE(status, grpc::StatusCode::OK);
    return tb.total_debit_minor();
  }

  // The ledger behind the gateway.
  testing::TestDatabase ledger_db{ledger::Migrations(), "tahe_ledger_app"};
  prometheus::Registry ledger_registry;
  std::unique_ptr<pg::Pool> ledger_pool = OrThrow(
      pg::Pool::Create({.conninfo = ledger_db.app_conninfo(), .size = kPoolSize, .name = "ledger"},
                       &ledger_registry));
  ledger::LedgerMetrics ledger_metrics{&ledger_registry};
  ledger::LedgerRepository repository{ledger_pool.get(), &ledger_metrics};
  ledger::GroupCommitter committer{&repository, {.threads = 2, .max_batch = 256}};
  server::Authenticator auth{kToken};
  server::WorkerPool workers{kPoolSize};
  ledger::LedgerService service;
  server::TenantDataService tenant_data{{&auth, &workers}, [this](const server::CallContext& call) {
                                          return repository.DescribeTenantData(call);
                                        }};
  std::unique_ptr<server::GrpcServer> ledger_server;
  RecordingBackend recording;
  std::unique_ptr<server::GrpcServer> reporting_server;

  // The gateway's directory.
  testing::TestDatabase gateway_db{Migrations(), kGatewayAppRole};
  std::unique_ptr<pg::Pool> gateway_pool = OrThrow(pg::Pool::Create(
      {.conninfo = gateway_db.app_conninfo(), .size = 4, .name = "gateway"}, nullptr));
  GatewayRepository directory{gateway_pool.get()};
  CallContext call;
  v1::IssueApiKeyResponse writer;
  v1::IssueApiKeyResponse reader;

  // The gateway.
  prometheus::Registry gateway_registry;
  std::unique_ptr<SnapshotCache> cache;
  std::unique_ptr<GatewayRouter> router;
  std::unique_ptr<ProxyService> proxy;
  std::unique_ptr<server::GrpcServer> gateway;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<LedgerStub> stub;
  std::unique_ptr<LedgerStub> direct;
};

TEST_CASE("router: a keyed ledger call lands in the key's organisation", "[gateway][pg]") {
  Fixture f;
  f.SetUpTenant(f.writer.api_key());
  ledger_v1::PostEntryResponse posted;
  REQUIRE_CODE(
      f.Call(&LedgerStub::PostEntry, f.Sale("sale-1", 12345), f.writer.api_key(), "", &posted),
      grpc::StatusCode::OK);
  REQUIRE(posted.entry().sequence() == 1);
  // Naming its own organisation explicitly is fine too.
  ledger_v1::GetTrialBalanceResponse tb;
  REQUIRE_CODE(
      f.Call(&LedgerStub::GetTrialBalance, f.Everything(), f.writer.api_key(), "lahti", &tb),
      grpc::StatusCode::OK);
  REQUIRE(tb.total_debit_minor() == 12345);

  REQUIRE(f.DirectTotalDebit("lahti") == 12345);
  REQUIRE(f.DirectTotalDebit("vaasa") == 0);
  REQUIRE(CounterSum(f.gateway_registry, "tahe_gateway_requests_total",
                     {{"organisation", "lahti"}}) == 4);
  REQUIRE(CounterSum(f.gateway_registry, "grpc_client_handled_total",
                     {{"grpc_method", "PostEntry"}, {"grpc_code", "OK"}}) == 1);
  REQUIRE(Eventually(
              [&] {
                return CounterSum(f.gateway_registry, "tahe_gateway_responses_total",
                                  {{"organisation", "lahti"}, {"code", "OK"}});
              },
              4.0) == 4.0);
  REQUIRE(Eventually(
              [&] {
                return HistogramCount(f.gateway_registry, "tahe_gateway_request_duration_seconds",
                                      {{"organisation", "lahti"}});
              },
              uint64_t{4}) == 4);
  REQUIRE(HistogramCount(f.gateway_registry, "tahe_gateway_request_duration_seconds",
                         {{"organisation", "vaasa"}}) == 0);
}

TEST_CASE("router: a cell that is down is UNAVAILABLE at once and counted as upstream error",
          "[gateway][pg]") {
  Fixture f;
  v1::CreateRegionRequest region;
  region.set_request_id("region-down");
  region.mutable_region()->set_slug("pohjanmaa");
  region.mutable_region()->set_name("Pohjanmaa");
  // Nothing listens on port 1.
  (*region.mutable_region()->mutable_service_addresses())["tahe.ledger.v1"] = "127.0.0.1:1";
  REQUIRE(f.directory.CreateRegion(f.call, region).ok());
  v1::CreateOrganisationRequest org;
  org.set_request_id("org-seinajoki");
  org.mutable_organisation()->set_slug("seinajoki");
  org.mutable_organisation()->set_name("Seinäjoki");
  org.mutable_organisation()->set_business_id("0245904-2");
  org.mutable_organisation()->set_region("pohjanmaa");
  REQUIRE(f.directory.CreateOrganisation(f.call, org).ok());
  v1::IssueApiKeyResponse key = f.Key("k-seinajoki", {"ledger.read"}, {"seinajoki"});
  REQUIRE(f.cache->Refresh().ok());

  auto started = std::chrono::steady_clock::now();
  ledger_v1::GetTrialBalanceResponse tb;
  REQUIRE_CODE(f.Call(&LedgerStub::GetTrialBalance, f.Everything(), key.api_key(), "", &tb),
               grpc::StatusCode::UNAVAILABLE);
  // Not a hang until the 10 s deadline.
  REQUIRE(std::chrono::steady_clock::now() - started < std::chrono::seconds(5));
  REQUIRE(Eventually(
              [&] {
                return CounterSum(f.gateway_registry, "tahe_gateway_upstream_errors_total",
                                  {{"region", "pohjanmaa"}, {"code", "UNAVAILABLE"}});
              },
              1.0) == 1.0);
  REQUIRE(Eventually(
              [&] {
                return CounterSum(f.gateway_registry, "tahe_gateway_responses_total",
                                  {{"organisation", "seinajoki"}, {"code", "UNAVAILABLE"}});
              },
              1.0) == 1.0);

  // The other region is served as before.
  f.SetUpTenant(f.writer.api_key());
  REQUIRE_CODE(f.Call(&LedgerStub::GetTrialBalance, f.Everything(), f.writer.api_key()),
               grpc::StatusCode::OK);
  REQUIRE(CounterSum(f.gateway_registry, "tahe_gateway_upstream_errors_total",
                     {{"region", "paijat-hame"}}) == 0);
}

TEST_CASE("router: the backend gets exactly the verified metadata", "[gateway][pg]") {
  Fixture f;
  grpc::GenericStub generic(f.channel);
  auto call = [&](const std::string& request_id) {
    grpc::ClientContext ctx;
    Fixture::WithKey(&ctx, f.writer.api_key());
    ctx.AddMetadata(server::kPrincipalHeader, "key:spoofed");
    ctx.AddMetadata(server::kInternalTokenHeader, "spoofed");
    if (!request_id.empty()) {
      ctx.AddMetadata(server::kRequestIdHeader, request_id);
    }
    grpc::Slice empty(std::string(""));
    grpc::ByteBuffer request(&empty, 1);
    grpc::ByteBuffer response;
    std::promise<grpc::Status> done;
    generic.UnaryCall(&ctx, "/tahe.reporting.v1.ReportingService/GetReport", grpc::StubOptions(),
                      &request, &response, [&](grpc::Status s) { done.set_value(std::move(s)); });
    return done.get_future().get();
  };
  REQUIRE_CODE(call("client-chosen-id-1"), grpc::StatusCode::OK);
  REQUIRE_CODE(call("bad id with spaces"), grpc::StatusCode::OK);
  REQUIRE_CODE(call(""), grpc::StatusCode::OK);

  std::vector<std::multimap<std::string, std::string>> seen = f.recording.seen();
  REQUIRE(seen.size() == 3);
  for (size_t i = 0; i < seen.size(); ++i) {
    std::map<std::string, std::string> forwarded;
    for (const auto& [k, v] : seen[i]) {
      if (!IsReservedMetadataKey(k)) {
        REQUIRE(forwarded.emplace(k, v).second);  // each key once
      }
    }
    INFO("call " << i);
    REQUIRE(forwarded.size() == 4);
    REQUIRE(forwarded[server::kInternalTokenHeader] == kToken);
    REQUIRE(forwarded[server::kTenantHeader] == "lahti");
    REQUIRE(forwarded[server::kPrincipalHeader] == "key:" + f.writer.key().key_id());
    if (i == 0) {
      REQUIRE(forwarded[server::kRequestIdHeader] == "client-chosen-id-1");
    } else {
      REQUIRE(forwarded[server::kRequestIdHeader].size() == 32);
    }
  }
  REQUIRE(seen[1].find(server::kRequestIdHeader)->second !=
          seen[2].find(server::kRequestIdHeader)->second);
}

TEST_CASE("router: calls without a valid key are UNAUTHENTICATED", "[gateway][pg]") {
  Fixture f;
  const auto tb = f.Everything();
  REQUIRE_CODE(f.Call(&LedgerStub::GetTrialBalance, tb, ""), grpc::StatusCode::UNAUTHENTICATED);
  REQUIRE_CODE(f.Call(&LedgerStub::GetTrialBalance, tb, "not-a-key"),
               grpc::StatusCode::UNAUTHENTICATED);
  // Well-formed, right key id, wrong secret.
  std::string forged = f.reader.api_key();
  forged.back() = forged.back() == '0' ? '1' : '0';
  REQUIRE_CODE(f.Call(&LedgerStub::GetTrialBalance, tb, forged), grpc::StatusCode::UNAUTHENTICATED);
  // Another scheme.
  grpc::ClientContext basic;
  basic.set_deadline(In(std::chrono::seconds(10)));
  basic.AddMetadata("authorization", "Basic " + f.reader.api_key());
  ledger_v1::GetTrialBalanceResponse resp;
  REQUIRE_CODE(f.stub->GetTrialBalance(&basic, tb, &resp), grpc::StatusCode::UNAUTHENTICATED);

  REQUIRE(CounterSum(f.gateway_registry, "tahe_gateway_auth_failures_total",
                     {{"reason", "missing"}}) == 1);
  REQUIRE(CounterSum(f.gateway_registry, "tahe_gateway_auth_failures_total",
                     {{"reason", "malformed"}}) == 2);
  REQUIRE(CounterSum(f.gateway_registry, "tahe_gateway_auth_failures_total",
                     {{"reason", "invalid"}}) == 1);
  REQUIRE(CounterSum(f.ledger_registry, "grpc_server_handled_total") == 0);  // nothing forwarded
}

TEST_CASE("router: roles decide what a key may call", "[gateway][pg]") {
  Fixture f;
  f.SetUpTenant(f.writer.api_key());
  REQUIRE_CODE(f.Call(&LedgerStub::PostEntry, f.Sale("sale-r", 100), f.reader.api_key()),
               grpc::StatusCode::PERMISSION_DENIED);
  REQUIRE_CODE(f.Call(&LedgerStub::GetTrialBalance, f.Everything(), f.reader.api_key()),
               grpc::StatusCode::OK);
  REQUIRE(f.DirectTotalDebit("lahti") == 0);
  REQUIRE(CounterSum(f.gateway_registry, "tahe_gateway_permission_denied_total",
                     {{"reason", "role"}}) == 1);
}

TEST_CASE("router: a key cannot choose another organisation's tenant", "[gateway][pg]") {
  Fixture f;
  f.SetUpTenant(f.writer.api_key());
  for (const char* other : {"vaasa", "no-such-org"}) {
    INFO(other);
    REQUIRE_CODE(f.Call(&LedgerStub::GetTrialBalance, f.Everything(), f.writer.api_key(), other),
                 grpc::StatusCode::PERMISSION_DENIED);
    REQUIRE_CODE(f.Call(&LedgerStub::PostEntry, f.Sale("x", 100), f.writer.api_key(), other),
                 grpc::StatusCode::PERMISSION_DENIED);
  }
  REQUIRE(f.DirectTotalDebit("vaasa") == 0);
  REQUIRE(CounterSum(f.gateway_registry, "tahe_gateway_permission_denied_total",
                     {{"reason", "tenant"}}) == 4);
}

TEST_CASE("router: a revoked key stops working after the next refresh", "[gateway][pg]") {
  Fixture f;
  REQUIRE_CODE(f.Call(&LedgerStub::GetTrialBalance, f.Everything(), f.reader.api_key()),
               grpc::StatusCode::OK);
  v1::RevokeApiKeyRequest revoke;
  revoke.set_request_id("revoke-1");
  revoke.set_key_id(f.reader.key().key_id());
  REQUIRE(f.directory.RevokeApiKey(f.call, revoke).ok());

  // Poll (no timing threshold): it must flip well within this generous deadline.
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  grpc::Status status;
  while (absl::Now() < deadline) {
    status = f.Call(&LedgerStub::GetTrialBalance, f.Everything(), f.reader.api_key());
    if (status.error_code() != grpc::StatusCode::OK) {
      break;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  REQUIRE_CODE(status, grpc::StatusCode::UNAUTHENTICATED);
  REQUIRE(CounterSum(f.gateway_registry, "tahe_gateway_auth_failures_total",
                     {{"reason", "revoked"}}) == 1);
  // Other keys keep working.
  REQUIRE_CODE(f.Call(&LedgerStub::GetTrialBalance, f.Everything(), f.writer.api_key()),
               grpc::StatusCode::OK);
}

TEST_CASE("router: the per-organisation rate limit engages", "[gateway][pg]") {
  Fixture f({.rate_per_second = 1e-6, .burst = 2});
  const auto tb = f.Everything();
  REQUIRE_CODE(f.Call(&LedgerStub::GetTrialBalance, tb, f.reader.api_key()), grpc::StatusCode::OK);
  REQUIRE_CODE(f.Call(&LedgerStub::GetTrialBalance, tb, f.writer.api_key()), grpc::StatusCode::OK);
  REQUIRE_CODE(f.Call(&LedgerStub::GetTrialBalance, tb, f.reader.api_key()),
               grpc::StatusCode::RESOURCE_EXHAUSTED);
  REQUIRE(CounterSum(f.gateway_registry, "tahe_gateway_rate_limited_total",
                     {{"organisation", "lahti"}}) == 1);
  // Another organisation has its own bucket.
  v1::IssueApiKeyResponse vaasa = f.Key("k-vaasa", {"ledger.read"}, {"vaasa"});
  REQUIRE(f.cache->Refresh().ok());
  REQUIRE_CODE(f.Call(&LedgerStub::GetTrialBalance, tb, vaasa.api_key()), grpc::StatusCode::OK);
}

TEST_CASE("snapshot cache keeps the last good snapshot when a reload fails", "[gateway]") {
  std::atomic<int> loads{0};
  std::atomic<bool> fail{false};
  prometheus::Registry registry;
  auto cache = OrThrow(SnapshotCache::Start(
      [&](absl::Time) -> absl::StatusOr<RoutingSnapshot> {
        ++loads;
        if (fail) {
          return absl::UnavailableError("database down");
        }
        RoutingSnapshot s;
        s.organisation_region["lahti"] = "paijat-hame";
        return s;
      },
      {.refresh = absl::Milliseconds(10)}, &registry));
  std::shared_ptr<const RoutingSnapshot> first = cache->Get();
  REQUIRE(first != nullptr);
  fail = true;
  REQUIRE_FALSE(cache->Refresh().ok());
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (CounterSum(registry, "tahe_gateway_snapshot_refresh_failures_total") < 3 &&
         absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  REQUIRE(CounterSum(registry, "tahe_gateway_snapshot_refresh_failures_total") >= 3);
  REQUIRE(cache->Get() == first);
  fail = false;
  REQUIRE(cache->Refresh().ok());
  REQUIRE(cache->Get() != first);
  REQUIRE(cache->Get()->organisation_region.contains("lahti"));
  cache->Stop();
  const int after_stop = loads;
  absl::SleepFor(absl::Milliseconds(50));
  REQUIRE(loads == after_stop);

  REQUIRE_FALSE(SnapshotCache::Start(
                    [](absl::Time) -> absl::StatusOr<RoutingSnapshot> {
                      return absl::UnavailableError("database down");
                    },
                    {}, nullptr)
                    .ok());
}

}  // namespace
}  // namespace tahe::gateway

namespace tahe::gateway {
namespace {

TEST_CASE("router: an organisation with data in its cell may not leave the region",
          "[gateway][pg]") {
  Fixture f;
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  // Nothing in the ledger yet for either organisation. (The fixture's stand-in reporting backend
  // answers every call OK without a message, which is no answer: it cannot be asked.)
  absl::Status stand_in = f.router->CheckNoTenantData("lahti", "paijat-hame", deadline);
  CHECK(stand_in.code() == absl::StatusCode::kUnavailable);
  CHECK_THAT(std::string(stand_in.message()), Catch::Matchers::Contains("tahe.reporting.v1 at"));
  v1::UpdateRegionRequest ledger_only;
  ledger_only.set_request_id("ledger-only");
  ledger_only.set_slug("paijat-hame");
  ledger_only.add_remove_service_prefixes("tahe.reporting.v1");
  REQUIRE(f.directory.UpdateRegion(f.call, ledger_only).ok());
  REQUIRE(f.cache->Refresh().ok());
  REQUIRE(f.router->CheckNoTenantData("lahti", "paijat-hame", deadline).ok());
  f.SetUpTenant(f.writer.api_key());
  absl::Status lahti = f.router->CheckNoTenantData("lahti", "paijat-hame", deadline);
  CHECK(lahti.code() == absl::StatusCode::kFailedPrecondition);
  CHECK_THAT(std::string(lahti.message()),
             Catch::Matchers::Contains("tahe.ledger.v1.LedgerService: ") &&
                 Catch::Matchers::Contains("1 periods"));
  CHECK(f.router->CheckNoTenantData("vaasa", "paijat-hame", deadline).ok());

  // A cell that cannot answer: no move.
  v1::CreateRegionRequest region;
  region.set_request_id("region-down");
  region.mutable_region()->set_slug("pohjanmaa");
  region.mutable_region()->set_name("Pohjanmaa");
  (*region.mutable_region()->mutable_service_addresses())["tahe.ledger.v1"] = "127.0.0.1:1";
  REQUIRE(f.directory.CreateRegion(f.call, region).ok());
  REQUIRE(f.cache->Refresh().ok());
  absl::Status down = f.router->CheckNoTenantData("vaasa", "pohjanmaa", deadline);
  CHECK(down.code() == absl::StatusCode::kUnavailable);
  CHECK_THAT(std::string(down.message()), Catch::Matchers::Contains("127.0.0.1:1"));

  // Through the repository, as the admin API does: lahti stays, vaasa moves.
  GatewayRepository::MoveCheck check = [&](const std::string& org, const std::string& from) {
    return f.router->CheckNoTenantData(org, from, deadline);
  };
  v1::UpdateOrganisationRequest move;
  move.set_request_id("move-lahti");
  move.set_slug("lahti");
  move.set_region("pohjanmaa");
  CHECK(f.directory.UpdateOrganisation(f.call, move, check).status().code() ==
        absl::StatusCode::kFailedPrecondition);
  move.set_request_id("move-vaasa");
  move.set_slug("vaasa");
  absl::StatusOr<v1::Organisation> moved = f.directory.UpdateOrganisation(f.call, move, check);
  INFO(moved.status().ToString());
  REQUIRE(moved.ok());
  CHECK(moved->region() == "pohjanmaa");
}

}  // namespace
}  // namespace tahe::gateway
