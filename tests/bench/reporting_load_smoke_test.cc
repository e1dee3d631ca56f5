// Smoke test of the reporting benchmark's driver: the ledger and reporting in-process on
// throwaway databases (wired as their main.cc wire them, reporting's follower on the ledger's real
// change feed), an organisation set up and its books posted as run_reporting_bench.sh does with
// small numbers, the reports checked against the naive queries over the ledger's journal lines,
// and the lag measured under a short posting load. It checks results (every report equals its
// naive query, counts), never timings (those belong to run_reporting_bench.sh).

#include <prometheus/registry.h>

#include <catch2/catch.hpp>
#include <memory>
#include <pqxx/pqxx>
#include <set>
#include <string>

#include "libs/pg/pg.h"
#include "libs/server/call.h"
#include "libs/server/grpc_server.h"
#include "libs/server/worker_pool.h"
#include "libs/testing/pg_fixture.h"
#include "services/reporting/ledger_follower.h"
#include "services/reporting/reporting_metrics.h"
#include "services/reporting/reporting_repository.h"
#include "services/reporting/reporting_service.h"
#include "tests/bench/bench_testing.h"
#include "tests/bench/reporting_load_driver.h"

namespace tahe::bench {
namespace {

constexpr char kToken[] = "reporting-bench-smoke-internal-token";
constexpr char kTenant[] = "bench-smoke";
constexpr int kFirstYear = 2024;

// Reporting as services/reporting/main.cc wires it, following `ledger_address`.
class InProcessReporting {
 public:
  explicit InProcessReporting(const std::string& ledger_address)
      : follower_(grpc::CreateChannel(ledger_address, grpc::InsecureChannelCredentials()), kToken,
                  &repository_, &metrics_,
                  {.discovery_interval = absl::Milliseconds(50), .max_batch_entries = 64}),
        service_(&repository_, &follower_, &metrics_, {&auth_, &workers_}),
        server_(OrThrow(
            server::GrpcServer::Start({.listen = "127.0.0.1:0", .services = {&service_}}))) {
    follower_.Start();
  }
  ~InProcessReporting() {
    server_->Shutdown(absl::Seconds(5));
    workers_.Drain();
    follower_.Stop();
  }

  std::string address() const { return server_->address(); }

 private:
  testing::TestDatabase db_{reporting::Migrations(), reporting::kReportingAppRole};
  std::unique_ptr<pg::Pool> pool_ = OrThrow(
      pg::Pool::Create({.conninfo = db_.app_conninfo(), .size = 6, .name = "reporting"}, nullptr));
  prometheus::Registry registry_;
  reporting::ReportingMetrics metrics_{&registry_};
  reporting::ReportingRepository repository_{pool_.get()};
  reporting::LedgerFollower follower_;
  server::Authenticator auth_{kToken};
  server::WorkerPool workers_{4};
  reporting::ReportingService service_;
  std::unique_ptr<server::GrpcServer> server_;
};

struct Servers {
  InProcessLedger ledger{kToken};
  InProcessReporting reporting{ledger.address()};

  ReportingBenchTarget target() const {
    return {.ledger_address = ledger.address(),
            .reporting_address = reporting.address(),
            .tenant = kTenant,
            .internal_token = kToken};
  }
};

int64_t LinesInDatabase(const std::string& conninfo, const std::string& tenant) {
  pqxx::connection c(conninfo);
  pqxx::work tx(c);
  tx.exec_params("SELECT set_config('tahe.tenant', $1, true)", tenant);
  return tx.exec_params("SELECT count(*) FROM entry_lines WHERE tenant_id = $1", tenant)[0][0]
      .as<int64_t>();
}

TEST_CASE("reporting bench: two years of books, reports equal the naive queries", "[bench]") {
  Servers servers;
  const ReportingBenchTarget target = servers.target();
  const JournalOptions journal{.lines = 3001,
                               .lines_per_entry = 10,
                               .cost_centres = 7,
                               .first_year = kFirstYear,
                               .streams = 2,
                               .batch_size = 16,
                               .run_id = "smoke",
                               .poll_interval = absl::Milliseconds(20)};
  absl::StatusOr<SetUpResult> setup = SetUpReportingBench(target, journal);
  REQUIRE(setup.ok());
  CHECK(setup->periods == 24);
  CHECK(setup->cost_centres == 7);

  absl::StatusOr<JournalResult> posted = PostJournal(target, journal);
  INFO(posted.status().ToString());
  REQUIRE(posted.ok());
  INFO(HumanLine(*posted));
  CHECK(posted->errors == 0);
  // 3001 lines in entries of 10: 300 entries, the last with 11 lines.
  CHECK(posted->entries == 300);
  CHECK(posted->lines == 3001);
  CHECK(posted->batches == 19);  // ceil(300 / 16)
  CHECK(posted->last_sequence == 300);
  CHECK(LinesInDatabase(servers.ledger.app_conninfo(), kTenant) == 3001);
  CHECK(ResultLine(*posted).rfind("RESULT mode=post entries=300 lines=3001 batches=19 ", 0) == 0);

  absl::StatusOr<ReportsResult> reports =
      MeasureReports(target, {.ledger_db = servers.ledger.app_conninfo(),
                              .year = kFirstYear + 1,
                              .calls = 2,
                              .warmup_calls = 1,
                              .naive_runs = 1});
  INFO(reports.status().ToString());
  REQUIRE(reports.ok());
  INFO(HumanLine(*reports));
  CHECK(reports->mismatch == "");
  CHECK(reports->match);
  CHECK(reports->trial_balance.ms.size() == 2);
  CHECK(reports->naive_cost_centres.ms.size() == 1);
  // The naive trial balance reads every line up to the year's end: all of them.
  CHECK(reports->journal_lines == 3001);
  // Every kind of entry occurs, on every account of the schedule: the chart's accounts.
  CHECK(reports->tb_accounts >= 55);
  CHECK(reports->tb_total_debit > 0);
  // Balanced books: the year's debits equal its credits.
  CHECK(reports->tb_total_debit == reports->tb_total_credit);
  // Seven cost centres and the lines without one (tax revenue, financial and extraordinary items).
  CHECK(reports->cc_rows == 8);
  CHECK(reports->cc_total_income > 0);
  CHECK(reports->cc_total_expenses > 0);
  CHECK(ResultLine(*reports).find(" match=1") != std::string::npos);

  // The lag under a short posting load on another organisation; reporting catches up.
  LagOptions lag{.lag_tenant = "bench-smoke-lag", .sample_interval = absl::Milliseconds(20)};
  lag.load.concurrency = 4;
  lag.load.warmup = absl::ZeroDuration();
  lag.load.duration = absl::Seconds(1);
  absl::StatusOr<LagResult> lagged = MeasureFeedLag(target, lag);
  INFO(lagged.status().ToString());
  REQUIRE(lagged.ok());
  INFO(HumanLine(*lagged));
  CHECK(lagged->load.errors == 0);
  CHECK(lagged->load.entries_total > 0);
  CHECK(lagged->samples > 0);
  CHECK(lagged->sample_errors == 0);
  CHECK(lagged->max_seconds_behind >= lagged->p99_seconds_behind);
}

TEST_CASE("reporting bench: entry kinds balance and cover the chart", "[bench]") {
  // Every slot of the schedule names a kind whose lines are on one side and balance on another
  // account.
  std::set<std::string> accounts;
  for (int i = 0; i < 20; ++i) {
    const JournalKind& kind = JournalKindOf(i);
    CHECK(!kind.accounts.empty());
    CHECK((kind.sign == 1 || kind.sign == -1));
    for (const std::string& a : kind.accounts) {
      CHECK(a != kind.balancing);
      accounts.insert(a);
    }
    accounts.insert(kind.balancing);
  }
  CHECK(JournalKindOf(2).source == "payroll");
  CHECK(JournalKindOf(20).source == JournalKindOf(0).source);
  CHECK(accounts.size() >= 55);
}

}  // namespace
}  // namespace tahe::bench
