// Smoke test of the benchmark's load driver against an in-process ledger on a throwaway database.
// It checks that the driver posts entries without errors and that the ledger holds what the
// driver reports; it never asserts on timings (those belong to run_ledger_bench.sh).

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "tests/bench/bench_testing.h"
#include "tests/bench/ledger_load_driver.h"

namespace tahe::bench {
namespace {

constexpr char kToken[] = "bench-smoke-internal-token";
constexpr char kTenant[] = "bench-smoke";

// The ledger of these tests, and its tenant kTenant.
struct SmokeLedger : InProcessLedger {
  SmokeLedger() : InProcessLedger(kToken) {}
  Target target() const { return InProcessLedger::target(kTenant); }
  int64_t EntriesInDatabase(const std::string& tenant = kTenant) {
    return InProcessLedger::EntriesInDatabase(tenant);
  }
};

TEST_CASE("post load posts entries without errors and the ledger holds them", "[bench]") {
  SmokeLedger ledger;
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
  SmokeLedger ledger;
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
  SmokeLedger ledger;
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
  SmokeLedger ledger;
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
