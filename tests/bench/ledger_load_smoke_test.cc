// Smoke test of the benchmark's load driver against an in-process ledger on a throwaway database.
// It checks that the driver posts entries without errors and that the ledger holds what the
// driver reports; it never asserts on timings (those belong to run_ledger_bench.sh).

#include <prometheus/registry.h>

#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <vector>

#include "libs/pg/pg.h"
#include "libs/server/call.h"
#include "libs/server/grpc_server.h"
#include "libs/server/worker_pool.h"
#include "libs/testing/pg_fixture.h"
#include "services/ledger/group_commit.h"
#include "services/ledger/ledger_migrations.h"
#include "services/ledger/ledger_repository.h"
#include "services/ledger/ledger_service.h"
#include "tests/bench/ledger_load_driver.h"

namespace tahe::bench {
namespace {

constexpr char kToken[] = "bench-smoke-internal-token";

struct InProcessLedger {
  testing::TestDatabase db{ledger::Migrations(), "tahe_ledger_app"};
  prometheus::Registry registry;
  std::unique_ptr<pg::Pool> pool;
  std::unique_ptr<ledger::LedgerMetrics> metrics;
  std::unique_ptr<ledger::LedgerRepository> repository;
  std::unique_ptr<ledger::GroupCommitter> committer;
  server::Authenticator auth{kToken};
  server::WorkerPool workers{4};
  std::unique_ptr<ledger::LedgerService> service;
  std::unique_ptr<server::GrpcServer> server;

  InProcessLedger() {
    auto created = pg::Pool::Create({.conninfo = db.app_conninfo(), .size = 4}, nullptr);
    REQUIRE(created.ok());
    pool = *std::move(created);
    metrics = std::make_unique<ledger::LedgerMetrics>(&registry);
    repository = std::make_unique<ledger::LedgerRepository>(pool.get(), metrics.get());
    committer = std::make_unique<ledger::GroupCommitter>(repository.get(),
                                                         ledger::GroupCommitter::Options{});
    service = std::make_unique<ledger::LedgerService>(repository.get(), committer.get(),
                                                      server::HandlerEnv{&auth, &workers},
                                                      ledger::LedgerService::Options{});
    auto started =
        server::GrpcServer::Start({.listen = "127.0.0.1:0", .services = {service.get()}});
    REQUIRE(started.ok());
    server = *std::move(started);
  }

  ~InProcessLedger() {
    server->Shutdown(absl::Seconds(5));
    committer->Stop();
    workers.Drain();
  }

  Target target() const {
    return {.address = server->address(), .tenant = "bench-smoke", .internal_token = kToken};
  }

  int64_t EntriesInDatabase(const std::string& tenant = "bench-smoke") {
    pqxx::connection c(db.owner_conninfo());
    pqxx::work tx(c);
    return tx.exec_params("SELECT count(*) FROM entries WHERE tenant_id = $1", tenant)[0][0]
        .as<int64_t>();
  }
};

TEST_CASE("post load posts entries without errors and the ledger holds them", "[bench]") {
  InProcessLedger ledger;
  REQUIRE(SetUpTenant(ledger.target(), TodayUtc()).ok());
  REQUIRE(SetUpTenant(ledger.target(), TodayUtc()).ok());  // idempotent

  absl::StatusOr<PostLoadResult> r =
      RunPostLoad(ledger.target(), {.concurrency = 8,
                                    .warmup = absl::Milliseconds(200),
                                    .duration = absl::Seconds(2),
                                    .clients_per_channel = 4});
  REQUIRE(r.ok());
  INFO(HumanLine(*r));
  CHECK(r->errors == 0);
  CHECK(r->first_error.empty());
  CHECK(r->channels == 2);
  CHECK(r->entries > 0);
  CHECK(r->entries <= r->entries_total);
  CHECK(r->p50_ms <= r->p99_ms);
  CHECK(ledger.EntriesInDatabase() == r->entries_total);
  CHECK(ResultLine(*r).rfind("RESULT mode=post concurrency=8 tenants=1 ", 0) == 0);
}

TEST_CASE("post load spreads clients over several tenants, each with its own chain", "[bench]") {
  InProcessLedger ledger;
  std::vector<Target> targets = SpreadOverTenants(ledger.target(), 3);
  REQUIRE(targets.size() == 3);
  CHECK(targets[2].tenant == "bench-smoke-2");
  for (const Target& t : targets) {
    REQUIRE(SetUpTenant(t, TodayUtc()).ok());
  }
  absl::StatusOr<PostLoadResult> r = RunPostLoad(ledger.target(), {.concurrency = 6,
                                                                   .warmup = absl::ZeroDuration(),
                                                                   .duration = absl::Seconds(1),
                                                                   .tenants = 3});
  REQUIRE(r.ok());
  INFO(HumanLine(*r));
  CHECK(r->errors == 0);
  CHECK(r->tenants == 3);
  for (const Target& t : targets) {
    CHECK(ledger.EntriesInDatabase(t.tenant) > 0);
  }
  CHECK(ledger.EntriesInDatabase("bench-smoke-0") + ledger.EntriesInDatabase("bench-smoke-1") +
            ledger.EntriesInDatabase("bench-smoke-2") ==
        r->entries_total);
}

TEST_CASE("bulk load imports every entry in batches", "[bench]") {
  InProcessLedger ledger;
  REQUIRE(SetUpTenant(ledger.target(), TodayUtc()).ok());
  BulkLoadOptions options{.entries = 250, .batch_size = 100};
  absl::StatusOr<BulkLoadResult> r = RunBulkLoad(ledger.target(), options);
  REQUIRE(r.ok());
  INFO(HumanLine(*r, options));
  CHECK(r->errors == 0);
  CHECK(r->entries == 250);
  CHECK(r->lines == 500);
  CHECK(r->batches == 3);
  CHECK(ledger.EntriesInDatabase() == 250);
  CHECK(ResultLine(*r, options).rfind("RESULT mode=bulk batch_size=100 entries=250 ", 0) == 0);
}

TEST_CASE("a wrong credential shows up as errors, not as posted entries", "[bench]") {
  InProcessLedger ledger;
  REQUIRE(SetUpTenant(ledger.target(), TodayUtc()).ok());
  Target wrong = ledger.target();
  wrong.internal_token = "not-the-internal-token";
  absl::StatusOr<PostLoadResult> r = RunPostLoad(
      wrong, {.concurrency = 2, .warmup = absl::ZeroDuration(), .duration = absl::Seconds(0.3)});
  REQUIRE(r.ok());
  CHECK(r->entries == 0);
  CHECK(r->errors > 0);
  CHECK(r->first_error.find("internal credential") != std::string::npos);
  CHECK(ledger.EntriesInDatabase() == 0);
}

}  // namespace
}  // namespace tahe::bench
