#pragma once

// Load generator of the payroll benchmark (issue 4, "Speed"), used by tahe_payroll_load and by
// its smoke test: one organisation of many employees, one month's pay run timed from its creation
// until the ledger has acknowledged its posting.
//
//   tahe::bench::PayrollBenchTarget target{.payroll_address = "127.0.0.1:50061",
//                                          .ledger_address = "127.0.0.1:50051",
//                                          .tenant = "bench", .internal_token = token};
//   ASSIGN_OR_RETURN(tahe::bench::PayrollSetUpResult setup,
//                    tahe::bench::SetUpPayrollBench(target, {.employees = 100000}));
//   ASSIGN_OR_RETURN(tahe::bench::PayRunResult run,
//                    tahe::bench::RunPayRun(target, {.payroll_pid = pid}));
//   std::cout << tahe::bench::ResultLine(run) << "\n";
//
// Set-up (not timed), every call directly on the services with the internal credential:
//  - ledger: the chart template fi-municipal, the period of the payment date opened, and the
//    dimension cost_centre with its `cost_centres` values KP000, KP001, ...
//  - payroll: the organisation's settings (accident and group-life insurance, the paying account);
//    the employees through one ImportEmployees stream in batches; a tax card for each employee
//    (SetTaxCard, `tax_card_clients` calls in flight); two pay items per employee through one
//    ImportPayItems stream in batches.
// Employee i (0-based) is "E" + i + 1 in six digits (BenchEmployeeNumber). Two in three are
// monthly-paid under Keva (2 500.00-4 999.00 a month) with overtime 50 % and a meal benefit, a
// phone benefit or a mileage allowance; one in three is hourly-paid under TyEL (15.00-29.99 an
// hour) with 120-159.5 hours and an evening supplement or a mileage allowance. Every fourth pays
// a union fee. The identity codes (BenchIdentityCode) and IBANs (BenchIban) are valid and
// distinct; cost centres go round the `cost_centres` values.
//
// The pay run (RunPayRun), each phase timed with std::chrono::steady_clock: CreatePayRun,
// CalculatePayRun, ApprovePayRun, then GetPayRun every `poll_interval` until the run is POSTED
// (the outbox relay has delivered the posting). Afterwards, not timed: the payslips and their
// lines are counted through ListPayslips (and written as CSV when asked, the baseline's input),
// and the ledger entry's lines through GetEntry.
//
// Every request id starts with a random run id, so repeated runs never replay each other.

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/bench/bench_common.h"

namespace tahe::bench {

// Payroll and the ledger of one cell, called as `tenant` with the internal credential.
struct PayrollBenchTarget {
  std::string payroll_address;  // host:port
  std::string ledger_address;   // host:port
  std::string tenant;
  std::string internal_token;

  Target payroll() const { return {payroll_address, tenant, internal_token}; }
  Target ledger() const { return {ledger_address, tenant, internal_token}; }
};

struct PayrollSetUpOptions {
  int employees = 100000;
  // Employees or pay items per streamed batch (each batch is one transaction).
  int batch_size = 1000;
  int cost_centres = 200;
  // "YYYY-MM" of the pay items and the run; empty: the current month (UTC).
  std::string period;
  // "YYYY-MM-DD" whose ledger period is opened; empty: the last day of `period`.
  std::string payment_date;
  // A tax card for every employee; without one, payroll withholds the table's 60 %.
  bool tax_cards = true;
  int tax_card_clients = 32;
  std::string run_id;  // request id prefix; empty: RandomRunId()
  absl::Duration call_timeout = absl::Minutes(30);
};

struct PayrollSetUpResult {
  int64_t employees = 0;  // accepted by ImportEmployees
  int64_t tax_cards = 0;  // set
  int64_t pay_items = 0;  // accepted by ImportPayItems
  // Employees and pay items rejected and tax cards refused, and the first message.
  int64_t rejected = 0;
  std::string first_rejection;
  double ledger_seconds = 0;
  double employees_seconds = 0;
  double tax_cards_seconds = 0;
  double pay_items_seconds = 0;
  double seconds = 0;  // the whole set-up
};

// REQUIRES: employees >= 1, batch_size >= 1, 1 <= cost_centres <= 1000, tax_card_clients >= 1.
// An error when a call fails as a whole (a stream ended by the server, a refused setting);
// rejected employees or items are counted in the result instead.
absl::StatusOr<PayrollSetUpResult> SetUpPayrollBench(const PayrollBenchTarget& target,
                                                     const PayrollSetUpOptions& options);

struct PayRunOptions {
  std::string period;        // empty: the current month (UTC)
  std::string payment_date;  // empty: the last day of `period`
  std::string run_id;        // request id prefix; empty: RandomRunId()
  // Deadlines of CalculatePayRun and ApprovePayRun, and how long to wait for POSTED.
  absl::Duration calculate_timeout = absl::Minutes(10);
  absl::Duration posting_timeout = absl::Minutes(10);
  absl::Duration poll_interval = absl::Milliseconds(50);
  // > 0: the payroll process, whose peak resident set is reset before the run (Linux
  // /proc/<pid>/clear_refs, "5") and read after it (VmHWM in /proc/<pid>/status).
  int payroll_pid = 0;
  // Not empty: every payslip line is written to this file as CSV, one line a row (below).
  std::string lines_csv;
};

// The account of net pays payable in the organisation's settings (payroll's default).
inline constexpr char kNetPayAccount[] = "2880";

// The columns of PayRunOptions::lines_csv, in order, without a header row.
inline constexpr char kPayslipLineCsvColumns[] =
    "tenant_id,pay_run_id,employee_number,line_no,code,description,quantity_centi,base_minor,"
    "rate_ppm,amount_minor,rate_table_version";

struct PayRunResult {
  std::string pay_run_id;
  // Wall seconds of each phase and of the whole run.
  double create_seconds = 0;
  double calculate_seconds = 0;
  double approve_seconds = 0;
  double posting_seconds = 0;  // from the approval's answer until GetPayRun shows POSTED
  double total_seconds = 0;
  int64_t payslips = 0;  // the run's totals
  int64_t skipped = 0;
  int64_t payslips_listed = 0;  // through ListPayslips
  int64_t payslip_lines = 0;
  int64_t gross_cash_minor = 0;
  int64_t net_pay_minor = 0;
  int64_t ledger_sequence = 0;
  int64_t ledger_lines = 0;
  bool ledger_balanced = false;
  // The entry's lines on the net pay payable account (kNetPayAccount): minus the run's net pay.
  int64_t ledger_net_pay_minor = 0;
  int64_t polls = 0;  // GetPayRun calls while waiting for POSTED
  std::string last_delivery_error;
  // Of PayRunOptions::payroll_pid, in KiB: resident before the run and its peak; -1 unknown.
  int64_t rss_before_kib = -1;
  int64_t peak_rss_kib = -1;
  // Whether the peak was reset before the run; if not, it is the peak since the process started.
  bool peak_reset = false;
};

// An error when a phase fails or the run is not POSTED within posting_timeout.
absl::StatusOr<PayRunResult> RunPayRun(const PayrollBenchTarget& target,
                                       const PayRunOptions& options);

// The generated data of employee `index` (0-based).
std::string BenchEmployeeNumber(int index);
std::string BenchIdentityCode(int index);
std::string BenchIban(int index);

// "YYYY-MM" of today (UTC), and the last day "YYYY-MM-DD" of a period "YYYY-MM".
std::string CurrentPeriodUtc();
std::string LastDayOfPeriod(const std::string& period);

// One line for people and one `RESULT mode=setup|run key=value ...` line for scripts.
std::string HumanLine(const PayrollSetUpResult& r);
std::string ResultLine(const PayrollSetUpResult& r);
std::string HumanLine(const PayRunResult& r);
std::string ResultLine(const PayRunResult& r);

}  // namespace tahe::bench
