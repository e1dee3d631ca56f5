#pragma once

// Load generator of the reporting benchmark ("Speed" of services/reporting/README.md), used by
// tahe_reporting_load and by its smoke test: one organisation's two years of books posted to the
// ledger and followed by reporting, its reports timed against the equivalent naive GROUP BY over
// the ledger's journal lines, and the feed's lag under the ledger's posting load.
//
//   tahe::bench::ReportingBenchTarget target{.ledger_address = "127.0.0.1:50051",
//                                            .reporting_address = "127.0.0.1:50081",
//                                            .tenant = "bench", .internal_token = token};
//   JournalOptions journal{.lines = 10'000'000, .cost_centres = 200, .first_year = 2024};
//   RETURN_IF_ERROR(SetUpReportingBench(target, journal).status());
//   ASSIGN_OR_RETURN(JournalResult posted, PostJournal(target, journal));
//   ASSIGN_OR_RETURN(ReportsResult reports, MeasureReports(target, {.ledger_db = conninfo,
//                                                                   .year = 2025}));
//   std::cout << ResultLine(reports) << "\n";   // reports.match: reports = naive SQL
//
// The books (PostJournal): `lines` journal lines in entries of `lines_per_entry` lines (the last
// entry may be shorter, never below 2), dated evenly over the 24 months of `first_year` and the
// year after, in date order. Entry i is of kind i % 20 (JournalKindOf): sales and fees on income
// accounts 3000-3500 against receivables, purchases on 4300-4700 against payables, payroll (source
// system "payroll") on 4000-4150 against net wages, payroll liabilities and supplier payments and
// collections through the bank, tax revenue and state funding 5000-5100, financial items
// 5200-5310, depreciation 6000-6100 against fixed assets, extraordinary items and appropriations
// 7000-8200, investments and loans: every account of the ledger's fi-municipal chart (58). The
// income-statement lines of an entry carry the cost centre KPnnn (one of `cost_centres`) of the
// entry; tax revenue, financial items and balance-sheet lines carry none. Amounts are 1.00 to
// 9 000.99 euros, made from (i, line).
//
// Posting: `streams` concurrent PostEntries streams (each on its own connection) of batches of
// `batch_size` entries; batch b goes to stream b % streams, so the feed stays in date order.
// Batches are built while posting (10 M lines do not fit in memory as messages): the time counts
// building them too, which is a few per cent of it. Then GetFeedStatus every 50 ms until reporting
// has applied the ledger's last sequence.
//
// The reports (MeasureReports), for the calendar year `year` (and `year - 1` alongside): `calls`
// of GetTrialBalance, GetIncomeStatement and GetCostCentreReport each, straight to reporting over
// gRPC, one at a time after `warmup_calls`; then `naive_runs` of each equivalent query over
// entry_lines in the ledger's database, as the ledger's application role (the `ledger_db`
// conninfo; `SET LOCAL tahe.tenant`, so under row-level security as the ledger reads), one
// GROUP BY each:
//   trial balance:  per account, opening (before the year), debits and credits in the year;
//   income statement: per account, the net of the year and of the year before, then the same
//                   statement code (BuildIncomeStatement, default mapping) as reporting;
//   cost centres:   per (cost centre, account) the net of both years, then SplitIncomeAndExpenses.
// Every report must equal its naive result to the cent (ReportsResult::match, and `mismatch`
// says where it first differs).
//
// The lag (MeasureFeedLag): one entry on the organisation `lag_tenant` until reporting has applied
// it (reporting then follows it, as any organisation with books), then the ledger benchmark's
// posting load (RunPostLoad: `concurrency` clients, one 2-line PostEntry each at a time) on it
// while GetFeedStatus (no tenant: the whole cell) is sampled every `sample_interval`; then sampling
// goes on until reporting has applied everything. The max of seconds_behind.
//
// Every request id starts with a random run id, so repeated runs never replay each other.
// Timing comes from std::chrono::steady_clock.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/bench/bench_common.h"
#include "tests/bench/ledger_load_driver.h"

namespace tahe::bench {

// The ledger and reporting of one cell, called as `tenant` with the internal credential.
struct ReportingBenchTarget {
  std::string ledger_address;     // host:port
  std::string reporting_address;  // host:port
  std::string tenant;
  std::string internal_token;

  Target ledger() const { return {ledger_address, tenant, internal_token}; }
  Target reporting() const { return {reporting_address, tenant, internal_token}; }
};

struct JournalOptions {
  int64_t lines = 10'000'000;
  int lines_per_entry = 10;
  int cost_centres = 200;
  // The books cover this calendar year and the next (24 months).
  int first_year = 2024;
  int streams = 2;
  int batch_size = 500;  // entries per PostEntries batch (one transaction)
  std::string run_id;    // empty: RandomRunId()
  absl::Duration call_timeout = absl::Hours(2);
  // How long to wait for reporting to apply everything after the posting.
  absl::Duration catch_up_timeout = absl::Minutes(30);
  absl::Duration poll_interval = absl::Milliseconds(50);
};

struct SetUpResult {
  int periods = 0;  // opened
  int cost_centres = 0;
  double seconds = 0;
};

// The chart template, the 24 periods opened and the dimension cost_centre with `cost_centres`
// values KP000, KP001, ...; repeatable (fixed request ids).
// REQUIRES: 1 <= cost_centres <= 1000, 1901 <= first_year <= 2998.
absl::StatusOr<SetUpResult> SetUpReportingBench(const ReportingBenchTarget& target,
                                                const JournalOptions& options);

struct JournalResult {
  int64_t entries = 0;  // posted (the ledger's count)
  int64_t lines = 0;
  int64_t batches = 0;
  int64_t errors = 0;  // rejected batches + per-entry errors + failed streams
  std::string first_error;
  int64_t last_sequence = 0;  // the ledger's, after the posting
  double post_seconds = 0;    // first Write to the last stream's Finish
  double lines_per_s = 0;
  // Reporting: how far it was when the posting ended, and when it had applied everything.
  int64_t behind_at_post_end = 0;  // entries
  double catch_up_seconds = 0;     // from the end of the posting
  double applied_seconds = 0;      // from the start of the posting
  double applied_lines_per_s = 0;  // lines / applied_seconds
};

// An error when a stream cannot start or reporting does not catch up in time; rejected entries
// are counted in the result.
// REQUIRES: lines >= 2, 2 <= lines_per_entry <= 1000, streams >= 1, batch_size >= 1.
absl::StatusOr<JournalResult> PostJournal(const ReportingBenchTarget& target,
                                          const JournalOptions& options);

// The entry kinds of the books, for tests: kind k's lines (all but the last) and its balancing
// account; `with_cost_centre` on its lines; `source` its source system.
struct JournalKind {
  std::vector<std::string> accounts;
  int sign = 1;  // +1: the lines are debits (expenses, assets), -1: credits (income)
  std::string balancing;
  bool with_cost_centre = false;
  std::string source;
};
const JournalKind& JournalKindOf(int64_t entry_index);

struct ReportsOptions {
  std::string ledger_db;  // libpq conninfo of the ledger's application role
  int year = 2025;
  int calls = 50;
  int warmup_calls = 3;
  int naive_runs = 3;
  absl::Duration call_timeout = absl::Minutes(5);
};

// Latencies of one report in milliseconds.
struct Timing {
  std::vector<double> ms;  // sorted
  double p50() const { return Percentile(ms, 0.50); }
  double p99() const { return Percentile(ms, 0.99); }
};

struct ReportsResult {
  Timing trial_balance, income_statement, cost_centres;                    // reporting, gRPC
  Timing naive_trial_balance, naive_income_statement, naive_cost_centres;  // SQL
  // What the reports hold (from the last call), for people.
  int64_t tb_accounts = 0;
  int64_t tb_total_debit = 0;
  int64_t tb_total_credit = 0;
  int64_t tilikauden_tulos = 0;  // TILIKAUDEN_TULOS of the year
  int64_t cc_rows = 0;
  int64_t cc_total_income = 0;
  int64_t cc_total_expenses = 0;
  int64_t journal_lines = 0;  // lines the naive queries read (every line up to the year's end)
  bool match = false;         // every report equals its naive result
  std::string mismatch;       // the first difference, when not
};

// REQUIRES: calls >= 1, warmup_calls >= 0, naive_runs >= 1.
absl::StatusOr<ReportsResult> MeasureReports(const ReportingBenchTarget& target,
                                             const ReportsOptions& options);

struct LagOptions {
  std::string lag_tenant = "bench-lag";
  // The ledger benchmark's posting load (PostLoadOptions): concurrency, warm-up, duration.
  PostLoadOptions load;
  absl::Duration sample_interval = absl::Milliseconds(100);
  absl::Duration catch_up_timeout = absl::Minutes(5);
};

struct LagResult {
  PostLoadResult load;
  int64_t samples = 0;
  double max_seconds_behind = 0;  // of GetFeedStatus over the whole cell
  double p99_seconds_behind = 0;  // of the samples
  int64_t max_events_behind = 0;
  double catch_up_seconds = 0;  // from the end of the load until nothing is behind
  int64_t sample_errors = 0;
};

absl::StatusOr<LagResult> MeasureFeedLag(const ReportingBenchTarget& target,
                                         const LagOptions& options);

// One line for people and one `RESULT mode=setup|post|reports|lag key=value ...` line for scripts.
std::string HumanLine(const SetUpResult& r);
std::string ResultLine(const SetUpResult& r);
std::string HumanLine(const JournalResult& r);
std::string ResultLine(const JournalResult& r);
std::string HumanLine(const ReportsResult& r);
std::string ResultLine(const ReportsResult& r);
std::string HumanLine(const LagResult& r);
std::string ResultLine(const LagResult& r);

}  // namespace tahe::bench
