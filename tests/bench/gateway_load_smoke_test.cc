// Smoke test of the gateway benchmark's load driver: an in-process ledger on a throwaway database,
// read directly and through an in-process gateway (its directory on a second throwaway database,
// set up through the admin API as run_gateway_bench.sh does). It checks counts and that the
// percentiles are ordered, never timings (those belong to run_gateway_bench.sh).

#include <grpcpp/grpcpp.h>
#include <prometheus/registry.h>

#include <catch2/catch.hpp>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

#include "libs/pg/pg.h"
#include "libs/server/call.h"
#include "libs/server/grpc_server.h"
#include "libs/server/worker_pool.h"
#include "libs/testing/pg_fixture.h"
#include "services/gateway/admin_service.h"
#include "services/gateway/gateway_repository.h"
#include "services/gateway/proxy.h"
#include "services/gateway/router.h"
#include "tahe/gateway/v1/admin.pb.h"
#include "tests/bench/bench_testing.h"
#include "tests/bench/gateway_load_driver.h"

namespace tahe::bench {
namespace {

constexpr char kToken[] = "gateway-bench-smoke-internal-token";
constexpr char kTenant[] = "bench-smoke";

// The ledger of these tests, and its tenant kTenant.
struct SmokeLedger : InProcessLedger {
  SmokeLedger() : InProcessLedger(kToken) {}
  Target target() const { return InProcessLedger::target(kTenant); }
};

// The gateway as main.cc wires it, with one admin key made straight in the directory (as the
// gateway's --bootstrap_admin_key_file does) and rate limiting off (as the benchmark runs it).
struct InProcessGateway {
  InProcessGateway() {
    server::CallContext bootstrap;
    bootstrap.principal = "bootstrap";
    bootstrap.deadline = absl::Now() + absl::Seconds(60);
    gateway::v1::IssueApiKeyRequest req;
    req.set_request_id("bench-smoke-bootstrap-admin");
    req.add_roles("admin");
    admin_key = OrThrow(directory.IssueApiKey(bootstrap, req)).api_key();
    cache =
        OrThrow(gateway::SnapshotCache::Start(&directory, {.refresh = absl::Hours(1)}, &registry));
    router = std::make_unique<gateway::GatewayRouter>(
        cache.get(), registry,
        gateway::GatewayRouter::Options{.internal_token = kToken,
                                        .rate_limit = {.rate_per_second = 0, .burst = 1}});
    proxy = std::make_unique<gateway::ProxyService>(router->AsRouter());
    admin = std::make_unique<gateway::AdminService>(&directory, cache.get(), &workers);
    server = OrThrow(server::GrpcServer::Start({.listen = "127.0.0.1:0",
                                                .services = {admin.get()},
                                                .metrics = &registry,
                                                .generic_service = proxy.get()}));
  }
  ~InProcessGateway() {
    server->Shutdown(absl::Seconds(5));
    workers.Drain();
    cache->Stop();
  }

  testing::TestDatabase db{gateway::Migrations(), gateway::kGatewayAppRole};
  std::unique_ptr<pg::Pool> pool = OrThrow(
      pg::Pool::Create({.conninfo = db.app_conninfo(), .size = 4, .name = "gateway"}, nullptr));
  gateway::GatewayRepository directory{pool.get()};
  std::string admin_key;
  prometheus::Registry registry;
  server::WorkerPool workers{4};
  std::unique_ptr<gateway::SnapshotCache> cache;
  std::unique_ptr<gateway::GatewayRouter> router;
  std::unique_ptr<gateway::ProxyService> proxy;
  std::unique_ptr<gateway::AdminService> admin;
  std::unique_ptr<server::GrpcServer> server;
};

ReadLoadOptions DirectRead(const SmokeLedger& ledger) {
  return {.address = ledger.address(),
          .metadata = {{"x-tahe-internal-token", kToken}, {"x-tahe-tenant", kTenant}},
          .concurrency = 8,
          .clients_per_channel = 4,
          .warmup = absl::Milliseconds(200),
          .duration = absl::Seconds(1)};
}

TEST_CASE("read load against the ledger completes calls without errors", "[bench]") {
  SmokeLedger ledger;
  REQUIRE(SetUpReadTenant(ledger.target()).ok());
  REQUIRE(SetUpReadTenant(ledger.target()).ok());  // idempotent

  ReadLoadOptions options = DirectRead(ledger);
  options.keep_latencies = true;
  absl::StatusOr<ReadLoadResult> r = RunReadLoad(options);
  REQUIRE(r.ok());
  INFO(HumanLine(*r, "direct"));
  CHECK(r->errors == 0);
  CHECK(r->first_error.empty());
  CHECK(r->channels == 2);
  CHECK(r->calls > 0);
  CHECK(r->calls <= r->calls_total);
  CHECK(r->p50_us <= r->p90_us);
  CHECK(r->p90_us <= r->p99_us);
  CHECK(r->p99_us <= r->max_us);
  CHECK(static_cast<int64_t>(r->latencies_us.size()) == r->calls);
  CHECK(ResultLine(*r, "direct").rfind("RESULT mode=read target=direct concurrency=8 ", 0) == 0);
}

TEST_CASE("read load at concurrency 1 uses one channel", "[bench]") {
  SmokeLedger ledger;
  REQUIRE(SetUpReadTenant(ledger.target()).ok());
  ReadLoadOptions options = DirectRead(ledger);
  options.concurrency = 1;
  absl::StatusOr<ReadLoadResult> r = RunReadLoad(options);
  REQUIRE(r.ok());
  INFO(HumanLine(*r, "direct"));
  CHECK(r->errors == 0);
  CHECK(r->channels == 1);
  CHECK(r->calls > 0);
  CHECK(r->p50_us <= r->p99_us);
  CHECK(r->latencies_us.empty());  // not kept unless asked for
}

TEST_CASE("a wrong credential shows up as errors, not as calls", "[bench]") {
  SmokeLedger ledger;
  REQUIRE(SetUpReadTenant(ledger.target()).ok());
  ReadLoadOptions options = DirectRead(ledger);
  options.metadata = {{"x-tahe-internal-token", "not-the-internal-token"},
                      {"x-tahe-tenant", kTenant}};
  options.warmup = absl::ZeroDuration();
  options.duration = absl::Milliseconds(300);
  absl::StatusOr<ReadLoadResult> r = RunReadLoad(options);
  REQUIRE(r.ok());
  CHECK(r->calls == 0);
  CHECK(r->errors > 0);
  CHECK(r->first_error.find("internal credential") != std::string::npos);
}

TEST_CASE("read load through the gateway with a key made by SetUpGatewayTenant", "[bench]") {
  SmokeLedger ledger;
  REQUIRE(SetUpReadTenant(ledger.target()).ok());
  InProcessGateway gateway;
  absl::StatusOr<std::string> key =
      SetUpGatewayTenant({.gateway_address = gateway.server->address(),
                          .admin_api_key = gateway.admin_key,
                          .ledger_address = ledger.address(),
                          .organisation = kTenant});
  REQUIRE(key.ok());
  CHECK(key->rfind("tahe_", 0) == 0);
  // A second set-up replays the region and the organisation and issues another key.
  absl::StatusOr<std::string> second =
      SetUpGatewayTenant({.gateway_address = gateway.server->address(),
                          .admin_api_key = gateway.admin_key,
                          .ledger_address = ledger.address(),
                          .organisation = kTenant});
  REQUIRE(second.ok());
  CHECK(*second != *key);

  absl::StatusOr<ReadLoadResult> r = RunReadLoad({.address = gateway.server->address(),
                                                  .metadata = {{"authorization", "Bearer " + *key}},
                                                  .concurrency = 4,
                                                  .clients_per_channel = 2,
                                                  .warmup = absl::Milliseconds(200),
                                                  .duration = absl::Seconds(1)});
  REQUIRE(r.ok());
  INFO(HumanLine(*r, "gateway"));
  CHECK(r->errors == 0);
  CHECK(r->calls > 0);
  CHECK(r->p50_us <= r->p99_us);
}

TEST_CASE("SetUpGatewayTenant refuses a key without the admin role", "[bench]") {
  SmokeLedger ledger;
  InProcessGateway gateway;
  absl::StatusOr<std::string> key =
      SetUpGatewayTenant({.gateway_address = gateway.server->address(),
                          .admin_api_key = "tahe_000000000000_nope",
                          .ledger_address = ledger.address(),
                          .organisation = kTenant});
  REQUIRE(!key.ok());
  CHECK(key.status().message().find("CreateRegion") != std::string::npos);
}

}  // namespace
}  // namespace tahe::bench
