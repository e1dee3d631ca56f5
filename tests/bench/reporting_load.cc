// tahe_reporting_load: the reporting benchmark's set-up tool and timed client. Wiring only; the
// books, the reports, the naive queries and the lag are in reporting_load_driver.h. Used by
// run_reporting_bench.sh.
//
//   # Not timed: the chart, 24 periods from --first_year, the cost centres.
//   tahe_reporting_load --mode=setup --ledger_addr=127.0.0.1:50051 --addr=127.0.0.1:50081
//       --internal_token_file=token --tenant=bench --cost_centres=200 --first_year=2024
//   # The books through PostEntries, until reporting has applied them.
//   tahe_reporting_load --mode=post ... --lines=10000000 --lines_per_entry=10 --streams=2
//   # The reports against the naive GROUP BY over the ledger's journal lines.
//   tahe_reporting_load --mode=reports ... --year=2025 --calls=50 --naive_runs=3
//       --ledger_db="host=127.0.0.1 port=25432 user=tahe_ledger_bench dbname=tahe_ledger"
//   # The feed's lag under the ledger benchmark's posting load on another organisation.
//   tahe_reporting_load --mode=lag ... --lag_tenant=bench-lag --concurrency=64
//       --duration_seconds=20
//
// Prints one line for people, then one `RESULT mode=... key=value ...` line for scripts. Exit
// status: 0 when the step succeeded and came out right, 1 when it failed, had errors or a report
// differed from its naive query (the RESULT line, when there is one, comes first), 2 on a bad
// flag.

#include <iostream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "libs/config/config.h"
#include "tests/bench/reporting_load_driver.h"

ABSL_FLAG(std::string, mode, "reports",
          "setup: the organisation in the ledger (not timed); post: the books, until reporting "
          "has applied them; reports: the reports against the naive queries; lag: the feed's lag "
          "under the posting load");
ABSL_FLAG(std::string, addr, "127.0.0.1:50081", "Reporting gRPC address host:port");
ABSL_FLAG(std::string, ledger_addr, "127.0.0.1:50051", "Ledger gRPC address host:port");
ABSL_FLAG(std::string, tenant, "bench", "Organisation slug (x-tahe-tenant) of the books");
ABSL_FLAG(std::string, internal_token_file, "", "File holding the internal credential");
ABSL_FLAG(int, first_year, 0, "The books cover this year and the next; 0: two years ago");
ABSL_FLAG(int, cost_centres, 200, "setup, post: cost centres (KP000, KP001, ...)");
ABSL_FLAG(int64_t, lines, 10000000, "post: journal lines");
ABSL_FLAG(int, lines_per_entry, 10, "post: lines per entry");
ABSL_FLAG(int, streams, 2, "post: concurrent PostEntries streams");
ABSL_FLAG(int, batch_size, 500, "post: entries per PostEntries batch");
ABSL_FLAG(std::string, ledger_db, "",
          "reports: libpq conninfo of the ledger's database, as its application role");
ABSL_FLAG(int, year, 0, "reports: the year reported (with the year before); 0: --first_year + 1");
ABSL_FLAG(int, calls, 50, "reports: timed calls of each report");
ABSL_FLAG(int, naive_runs, 3, "reports: timed runs of each naive query");
ABSL_FLAG(std::string, lag_tenant, "bench-lag", "lag: the organisation the posting load posts to");
ABSL_FLAG(int, concurrency, 64, "lag: posting clients, each with one call in flight");
ABSL_FLAG(double, warmup_seconds, 3, "lag: posting before the measurement window");
ABSL_FLAG(double, duration_seconds, 20, "lag: the posting load's measurement window");

using tahe::bench::Fail;

int main(int argc, char** argv) {
  tahe::bench::InitBenchBinary(argc, argv);
  using tahe::config::ExitIfError;
  using tahe::config::ValidateRange;
  const std::string mode = absl::GetFlag(FLAGS_mode);
  if (mode != "setup" && mode != "post" && mode != "reports" && mode != "lag") {
    tahe::config::DieOnBadConfig(absl::InvalidArgumentError("--mode: setup, post, reports or lag"));
  }
  ExitIfError(tahe::config::ValidateHostPort("--addr", absl::GetFlag(FLAGS_addr)));
  ExitIfError(tahe::config::ValidateHostPort("--ledger_addr", absl::GetFlag(FLAGS_ledger_addr)));
  ExitIfError(ValidateRange("--cost_centres", absl::GetFlag(FLAGS_cost_centres), 1, 1000));
  ExitIfError(ValidateRange("--lines_per_entry", absl::GetFlag(FLAGS_lines_per_entry), 2, 1000));
  ExitIfError(ValidateRange("--streams", absl::GetFlag(FLAGS_streams), 1, 64));
  ExitIfError(ValidateRange("--batch_size", absl::GetFlag(FLAGS_batch_size), 1, 5000));
  ExitIfError(ValidateRange("--calls", absl::GetFlag(FLAGS_calls), 1, 100000));
  ExitIfError(ValidateRange("--naive_runs", absl::GetFlag(FLAGS_naive_runs), 1, 1000));
  ExitIfError(ValidateRange("--concurrency", absl::GetFlag(FLAGS_concurrency), 1, 10000));
  if (absl::GetFlag(FLAGS_lines) < 2) {
    tahe::config::DieOnBadConfig(absl::InvalidArgumentError("--lines must be >= 2"));
  }
  if (absl::GetFlag(FLAGS_duration_seconds) <= 0 || absl::GetFlag(FLAGS_warmup_seconds) < 0) {
    tahe::config::DieOnBadConfig(
        absl::InvalidArgumentError("--duration_seconds must be > 0 and --warmup_seconds >= 0"));
  }
  if (mode == "reports" && absl::GetFlag(FLAGS_ledger_db).empty()) {
    tahe::config::DieOnBadConfig(absl::InvalidArgumentError("--ledger_db: required by reports"));
  }
  int first_year = absl::GetFlag(FLAGS_first_year);
  if (first_year == 0) {
    first_year = static_cast<int>(absl::ToCivilYear(absl::Now(), absl::UTCTimeZone()).year()) - 2;
  }
  ExitIfError(ValidateRange("--first_year", first_year, 1901, 2998));
  absl::StatusOr<std::string> token = tahe::bench::ReadCredentialFile(
      "--internal_token_file", absl::GetFlag(FLAGS_internal_token_file));
  ExitIfError(token.status());

  const tahe::bench::ReportingBenchTarget target{.ledger_address = absl::GetFlag(FLAGS_ledger_addr),
                                                 .reporting_address = absl::GetFlag(FLAGS_addr),
                                                 .tenant = absl::GetFlag(FLAGS_tenant),
                                                 .internal_token = *token};
  const tahe::bench::JournalOptions journal{.lines = absl::GetFlag(FLAGS_lines),
                                            .lines_per_entry = absl::GetFlag(FLAGS_lines_per_entry),
                                            .cost_centres = absl::GetFlag(FLAGS_cost_centres),
                                            .first_year = first_year,
                                            .streams = absl::GetFlag(FLAGS_streams),
                                            .batch_size = absl::GetFlag(FLAGS_batch_size)};

  if (mode == "setup") {
    absl::StatusOr<tahe::bench::SetUpResult> r = tahe::bench::SetUpReportingBench(target, journal);
    if (!r.ok()) {
      return Fail(r.status());
    }
    std::cout << HumanLine(*r) << "\n" << ResultLine(*r) << std::endl;
    return 0;
  }
  if (mode == "post") {
    absl::StatusOr<tahe::bench::JournalResult> r = tahe::bench::PostJournal(target, journal);
    if (!r.ok()) {
      return Fail(r.status());
    }
    std::cout << HumanLine(*r) << "\n" << ResultLine(*r) << std::endl;
    return r->errors == 0 ? 0 : 1;
  }
  if (mode == "reports") {
    const int year = absl::GetFlag(FLAGS_year) == 0 ? first_year + 1 : absl::GetFlag(FLAGS_year);
    absl::StatusOr<tahe::bench::ReportsResult> r =
        tahe::bench::MeasureReports(target, {.ledger_db = absl::GetFlag(FLAGS_ledger_db),
                                             .year = year,
                                             .calls = absl::GetFlag(FLAGS_calls),
                                             .naive_runs = absl::GetFlag(FLAGS_naive_runs)});
    if (!r.ok()) {
      return Fail(r.status());
    }
    std::cout << HumanLine(*r) << "\n" << ResultLine(*r) << std::endl;
    return r->match ? 0 : 1;
  }
  tahe::bench::LagOptions lag{.lag_tenant = absl::GetFlag(FLAGS_lag_tenant)};
  lag.load.concurrency = absl::GetFlag(FLAGS_concurrency);
  lag.load.warmup = absl::Seconds(absl::GetFlag(FLAGS_warmup_seconds));
  lag.load.duration = absl::Seconds(absl::GetFlag(FLAGS_duration_seconds));
  absl::StatusOr<tahe::bench::LagResult> r = tahe::bench::MeasureFeedLag(target, lag);
  if (!r.ok()) {
    return Fail(r.status());
  }
  std::cout << HumanLine(*r) << "\n" << ResultLine(*r) << std::endl;
  return r->load.errors == 0 && r->sample_errors == 0 ? 0 : 1;
}
