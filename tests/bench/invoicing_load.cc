// tahe_invoicing_load: the invoicing benchmark's set-up tool and timed client. Wiring only; the
// set-up and the run are in invoicing_load_driver.h. Used by run_invoicing_bench.sh.
//
//   # Not timed: the ledger's chart, periods and cost centres; invoicing's settings, products,
//   # price list and customers.
//   tahe_invoicing_load --mode=setup --addr=127.0.0.1:50071 --ledger_addr=127.0.0.1:50051
//       --internal_token_file=token --tenant=bench --customers=1000
//   # Timed: the drafts, the billing run until posted, the payments until posted.
//   tahe_invoicing_load --mode=run --addr=127.0.0.1:50071 --ledger_addr=127.0.0.1:50051
//       --internal_token_file=token --tenant=bench --invoices=100000 --invoicing_pid=1234
//       --lines_csv=lines.csv
//
// Prints one line for people, then one `RESULT mode=setup|run key=value ...` line for scripts.
// Exit status: 0 when everything succeeded and came out as expected, 1 when the set-up or the
// run failed or anything came out otherwise (the RESULT line, when there is one, comes first),
// 2 on a bad flag.

#include <iostream>
#include <string>

#include "absl/flags/flag.h"
#include "libs/config/config.h"
#include "tests/bench/invoicing_load_driver.h"

ABSL_FLAG(std::string, mode, "run",
          "setup: the organisation in the ledger and in invoicing (not timed); run: one timed "
          "billing run and payment import");
ABSL_FLAG(std::string, addr, "127.0.0.1:50071", "Invoicing gRPC address host:port");
ABSL_FLAG(std::string, ledger_addr, "127.0.0.1:50051", "Ledger gRPC address host:port");
ABSL_FLAG(std::string, tenant, "bench", "Organisation slug (x-tahe-tenant)");
ABSL_FLAG(std::string, internal_token_file, "", "File holding the internal credential");
ABSL_FLAG(std::string, invoice_date, "", "Invoice date YYYY-MM-DD; empty: today (UTC)");
ABSL_FLAG(int, payment_delay_days, 7, "Days from the invoice date to the payments' booking date");
ABSL_FLAG(int, customers, 1000, "Customers of the organisation (setup and run alike)");
ABSL_FLAG(int, products, 20, "Products of the organisation (setup and run alike)");
ABSL_FLAG(int, cost_centres, 10, "setup: cost centres the products are spread over");
ABSL_FLAG(int, invoices, 100000, "run: drafts of the billing run, each paid by the bank's file");
ABSL_FLAG(int, batch_size, 1000, "run: drafts per ImportDraftInvoices batch");
ABSL_FLAG(int, chunk_bytes, 1 << 20, "run: bytes of the camt.054 file per ImportPayments message");
ABSL_FLAG(int, invoicing_pid, 0,
          "run: pid of tahe_invoicing, whose peak resident set is reset before the billing run "
          "and the payments and read after each; 0: not measured");
ABSL_FLAG(int, postgres_pid, 0,
          "run: pid of the postmaster of invoicing's database, whose backends' CPU time is "
          "reported per phase; 0: not measured");
ABSL_FLAG(double, call_timeout_seconds, 1800,
          "Deadline of ImportDraftInvoices, RunBilling and ImportPayments");
ABSL_FLAG(double, posting_timeout_seconds, 600, "run: how long to wait for each posting");
ABSL_FLAG(std::string, lines_csv, "",
          "run: also write every invoice line of the run to this file as CSV (not timed)");

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
  ExitIfError(
      ValidateRange("--payment_delay_days", absl::GetFlag(FLAGS_payment_delay_days), 0, 60));
  ExitIfError(ValidateRange("--customers", absl::GetFlag(FLAGS_customers), 1, 1000000));
  ExitIfError(ValidateRange("--products", absl::GetFlag(FLAGS_products), 1, 99));
  ExitIfError(ValidateRange("--cost_centres", absl::GetFlag(FLAGS_cost_centres), 1, 1000));
  ExitIfError(ValidateRange("--invoices", absl::GetFlag(FLAGS_invoices), 1, 10000000));
  ExitIfError(ValidateRange("--batch_size", absl::GetFlag(FLAGS_batch_size), 1, 5000));
  ExitIfError(ValidateRange("--chunk_bytes", absl::GetFlag(FLAGS_chunk_bytes), 1, 32 << 20));
  ExitIfError(ValidateRange("--invoicing_pid", absl::GetFlag(FLAGS_invoicing_pid), 0, 1 << 30));
  ExitIfError(ValidateRange("--postgres_pid", absl::GetFlag(FLAGS_postgres_pid), 0, 1 << 30));
  if (absl::GetFlag(FLAGS_call_timeout_seconds) <= 0 ||
      absl::GetFlag(FLAGS_posting_timeout_seconds) <= 0) {
    tahe::config::DieOnBadConfig(absl::InvalidArgumentError(
        "--call_timeout_seconds and --posting_timeout_seconds must be > 0"));
  }
  absl::StatusOr<std::string> token = tahe::bench::ReadCredentialFile(
      "--internal_token_file", absl::GetFlag(FLAGS_internal_token_file));
  ExitIfError(token.status());

  const tahe::bench::InvoicingBenchTarget target{.invoicing_address = absl::GetFlag(FLAGS_addr),
                                                 .ledger_address = absl::GetFlag(FLAGS_ledger_addr),
                                                 .tenant = absl::GetFlag(FLAGS_tenant),
                                                 .internal_token = *token};
  const absl::Duration call_timeout = absl::Seconds(absl::GetFlag(FLAGS_call_timeout_seconds));
  if (mode == "setup") {
    absl::StatusOr<tahe::bench::InvoicingSetUpResult> r = tahe::bench::SetUpInvoicingBench(
        target, {.customers = absl::GetFlag(FLAGS_customers),
                 .products = absl::GetFlag(FLAGS_products),
                 .cost_centres = absl::GetFlag(FLAGS_cost_centres),
                 .invoice_date = absl::GetFlag(FLAGS_invoice_date),
                 .payment_delay_days = absl::GetFlag(FLAGS_payment_delay_days),
                 .call_timeout = call_timeout});
    if (!r.ok()) {
      return Fail(r.status());
    }
    std::cout << tahe::bench::HumanLine(*r) << "\n" << tahe::bench::ResultLine(*r) << std::endl;
    return 0;
  }
  absl::StatusOr<tahe::bench::InvoicingRunResult> r = tahe::bench::RunInvoicingBench(
      target, {.invoices = absl::GetFlag(FLAGS_invoices),
               .batch_size = absl::GetFlag(FLAGS_batch_size),
               .customers = absl::GetFlag(FLAGS_customers),
               .products = absl::GetFlag(FLAGS_products),
               .invoice_date = absl::GetFlag(FLAGS_invoice_date),
               .payment_delay_days = absl::GetFlag(FLAGS_payment_delay_days),
               .chunk_bytes = absl::GetFlag(FLAGS_chunk_bytes),
               .call_timeout = call_timeout,
               .posting_timeout = absl::Seconds(absl::GetFlag(FLAGS_posting_timeout_seconds)),
               .invoicing_pid = absl::GetFlag(FLAGS_invoicing_pid),
               .postgres_pid = absl::GetFlag(FLAGS_postgres_pid),
               .lines_csv = absl::GetFlag(FLAGS_lines_csv)});
  if (!r.ok()) {
    return Fail(r.status());
  }
  std::cout << tahe::bench::HumanLine(*r) << "\n" << tahe::bench::ResultLine(*r) << std::endl;
  return r->Correct() ? 0 : 1;
}
