// tahe_payroll_load: the payroll benchmark's set-up tool and timed client. Wiring only; the
// set-up and the run are in payroll_load_driver.h. Used by run_payroll_bench.sh.
//
//   # Not timed: the ledger's chart, period and cost centres; payroll's settings, employees,
//   # tax cards and a month of pay items.
//   tahe_payroll_load --mode=setup --addr=127.0.0.1:50061 --ledger_addr=127.0.0.1:50051
//       --internal_token_file=token --tenant=bench --employees=100000
//   # Timed: create, calculate, approve, and wait until the ledger has the posting.
//   tahe_payroll_load --mode=run --addr=127.0.0.1:50061 --ledger_addr=127.0.0.1:50051
//       --internal_token_file=token --tenant=bench --payroll_pid=1234 --lines_csv=lines.csv
//
// Prints one line for people, then one `RESULT mode=setup|run key=value ...` line for scripts.
// Exit status: 0 when everything succeeded, 1 when the set-up or the run failed or anything was
// rejected (the RESULT line, when there is one, comes first), 2 on a bad flag.

#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "libs/config/config.h"
#include "tests/bench/payroll_load_driver.h"

ABSL_FLAG(std::string, mode, "run",
          "setup: the organisation in the ledger and in payroll (not timed); run: one timed pay "
          "run");
ABSL_FLAG(std::string, addr, "127.0.0.1:50061", "Payroll gRPC address host:port");
ABSL_FLAG(std::string, ledger_addr, "127.0.0.1:50051", "Ledger gRPC address host:port");
ABSL_FLAG(std::string, tenant, "bench", "Organisation slug (x-tahe-tenant)");
ABSL_FLAG(std::string, internal_token_file, "", "File holding the internal credential");
ABSL_FLAG(std::string, period, "", "Pay period YYYY-MM; empty: the current month (UTC)");
ABSL_FLAG(std::string, payment_date, "",
          "Payment date YYYY-MM-DD; empty: the last day of --period");
ABSL_FLAG(int, employees, 100000, "setup: employees to create");
ABSL_FLAG(int, batch_size, 1000, "setup: employees or pay items per streamed batch");
ABSL_FLAG(int, cost_centres, 200, "setup: cost centres the employees are spread over");
ABSL_FLAG(bool, tax_cards, true, "setup: a tax card for every employee");
ABSL_FLAG(int, tax_card_clients, 32, "setup: SetTaxCard calls in flight");
ABSL_FLAG(int, payroll_pid, 0,
          "run: pid of tahe_payroll, whose peak resident set is reset before the run and read "
          "after it; 0: not measured");
ABSL_FLAG(double, calculate_timeout_seconds, 600, "run: deadline of calculate and approve");
ABSL_FLAG(double, posting_timeout_seconds, 600, "run: how long to wait for POSTED");
ABSL_FLAG(std::string, lines_csv, "",
          "run: also write every payslip line of the run to this file as CSV (not timed)");

using tahe::bench::Fail;

int main(int argc, char** argv) {
  tahe::bench::InitBenchBinary(argc, argv);
  const std::string mode = absl::GetFlag(FLAGS_mode);
  if (mode != "setup" && mode != "run") {
    tahe::config::DieOnBadConfig(absl::InvalidArgumentError("--mode: setup or run"));
  }
  using tahe::config::ExitIfError;
  using tahe::config::ValidateRange;
  ExitIfError(tahe::config::ValidateHostPort("--addr", absl::GetFlag(FLAGS_addr)));
  ExitIfError(tahe::config::ValidateHostPort("--ledger_addr", absl::GetFlag(FLAGS_ledger_addr)));
  ExitIfError(ValidateRange("--employees", absl::GetFlag(FLAGS_employees), 1, 10000000));
  ExitIfError(ValidateRange("--batch_size", absl::GetFlag(FLAGS_batch_size), 1, 10000));
  ExitIfError(ValidateRange("--cost_centres", absl::GetFlag(FLAGS_cost_centres), 1, 1000));
  ExitIfError(ValidateRange("--tax_card_clients", absl::GetFlag(FLAGS_tax_card_clients), 1, 256));
  ExitIfError(ValidateRange("--payroll_pid", absl::GetFlag(FLAGS_payroll_pid), 0, 1 << 30));
  if (absl::GetFlag(FLAGS_calculate_timeout_seconds) <= 0 ||
      absl::GetFlag(FLAGS_posting_timeout_seconds) <= 0) {
    tahe::config::DieOnBadConfig(absl::InvalidArgumentError(
        "--calculate_timeout_seconds and --posting_timeout_seconds must be > 0"));
  }
  const std::string period = absl::GetFlag(FLAGS_period).empty() ? tahe::bench::CurrentPeriodUtc()
                                                                 : absl::GetFlag(FLAGS_period);
  if (tahe::bench::LastDayOfPeriod(period).empty()) {
    tahe::config::DieOnBadConfig(absl::InvalidArgumentError("--period: YYYY-MM"));
  }
  absl::StatusOr<std::string> token = tahe::bench::ReadCredentialFile(
      "--internal_token_file", absl::GetFlag(FLAGS_internal_token_file));
  ExitIfError(token.status());

  const tahe::bench::PayrollBenchTarget target{.payroll_address = absl::GetFlag(FLAGS_addr),
                                               .ledger_address = absl::GetFlag(FLAGS_ledger_addr),
                                               .tenant = absl::GetFlag(FLAGS_tenant),
                                               .internal_token = *token};
  if (mode == "setup") {
    absl::StatusOr<tahe::bench::PayrollSetUpResult> r = tahe::bench::SetUpPayrollBench(
        target, {.employees = absl::GetFlag(FLAGS_employees),
                 .batch_size = absl::GetFlag(FLAGS_batch_size),
                 .cost_centres = absl::GetFlag(FLAGS_cost_centres),
                 .period = period,
                 .payment_date = absl::GetFlag(FLAGS_payment_date),
                 .tax_cards = absl::GetFlag(FLAGS_tax_cards),
                 .tax_card_clients = absl::GetFlag(FLAGS_tax_card_clients)});
    if (!r.ok()) {
      return Fail(r.status());
    }
    std::cout << tahe::bench::HumanLine(*r) << "\n" << tahe::bench::ResultLine(*r) << std::endl;
    return r->rejected == 0 ? 0 : 1;
  }
  absl::StatusOr<tahe::bench::PayRunResult> r = tahe::bench::RunPayRun(
      target, {.period = period,
               .payment_date = absl::GetFlag(FLAGS_payment_date),
               .calculate_timeout = absl::Seconds(absl::GetFlag(FLAGS_calculate_timeout_seconds)),
               .posting_timeout = absl::Seconds(absl::GetFlag(FLAGS_posting_timeout_seconds)),
               .payroll_pid = absl::GetFlag(FLAGS_payroll_pid),
               .lines_csv = absl::GetFlag(FLAGS_lines_csv)});
  if (!r.ok()) {
    return Fail(r.status());
  }
  std::cout << tahe::bench::HumanLine(*r) << "\n" << tahe::bench::ResultLine(*r) << std::endl;
  return r->ledger_balanced && r->skipped == 0 ? 0 : 1;
}
