#pragma once

// Load generator of the invoicing benchmark ("Speed" of services/invoicing/README.md), used by
// tahe_invoicing_load and by its smoke test: one organisation billing many customers in one
// billing run, and the bank's camt.054 notification paying those invoices, each timed until the
// ledger has acknowledged its posting.
//
//   tahe::bench::InvoicingBenchTarget target{.invoicing_address = "127.0.0.1:50071",
//                                            .ledger_address = "127.0.0.1:50051",
//                                            .tenant = "bench", .internal_token = token};
//   ASSIGN_OR_RETURN(tahe::bench::InvoicingSetUpResult setup,
//                    tahe::bench::SetUpInvoicingBench(target, {.customers = 1000}));
//   ASSIGN_OR_RETURN(tahe::bench::InvoicingRunResult run,
//                    tahe::bench::RunInvoicingBench(target, {.invoices = 100000}));
//   std::cout << tahe::bench::ResultLine(run) << "\n";
//
// Set-up (SetUpInvoicingBench, not timed), every call directly on the services with the internal
// credential:
//  - ledger: the chart template fi-municipal, the periods of the invoice date and of the payment
//    date opened, and the dimension cost_centre with `cost_centres` values KP000, KP001, ...;
//  - invoicing: the settings (seller, IBAN, reference prefix "1", national references on the
//    invoices), `products` products (BenchProductCode: general, reduced, lowest and exempt VAT
//    in turn, sales accounts 3000 and 3100, cost centres in turn), the price list "alennus"
//    (10 % off every product) and `customers` customers (BenchCustomerNumber): every third an
//    organisation with a valid Y-tunnus (BenchBusinessId) by e-invoice, the others persons, half
//    of them with a personal identity code, by paper or email; every tenth on the price list.
//
// The run (RunInvoicingBench), each phase timed with std::chrono::steady_clock:
//  1. drafts: `invoices` drafts through one ImportDraftInvoices stream in batches of
//     `batch_size`; draft i (0-based) has 2 + i % 4 lines (3.5 on average) of products chosen by
//     i, quantities of 1-5 units, some in halves, every tenth line 10 % off;
//  2. billing: RunBilling of the run, then GetBillingRun every `poll_interval` until the run is
//     posted (the outbox relay has delivered its one summarised entry and marked it);
//  not timed: every invoice of the run listed (ListInvoices by billing run, pages of 1 000), its
//     lines written as CSV when asked (the baseline's input), the camt.054 file written
//     (WriteCamt054) paying each invoice (below);
//  3. payments: the file through one ImportPayments stream in chunks of `chunk_bytes`, then the
//     ledger's entries of the file's message id (ListEntries by source reference) every
//     `poll_interval` until the payment posting is there;
//  not timed: the file parsed once more in this process (ParseCamt054, the service's parser, to
//     show how much of the import parsing is), the ledger's two entries and its trial balance,
//     and the open receivables (GetReceivablesAgeing).
// The payment of invoice i (in invoice id order, which is draft order): by i % 100, 97 pays the
// gross to a reference that names no invoice (unmatched), 98 pays half the gross (the invoice
// stays partly paid), 99 pays the gross + 10.00 (partially allocated: 10.00 waits for an
// operator); the others pay the gross exactly, even i by the RF reference, odd i by the national
// one, every fourth written in groups of five digits as printed. 50 transactions make one entry
// of the notification, as banks group reference payments.
//
// Every request id starts with a random run id, so repeated runs never replay each other.

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/bench/bench_common.h"

namespace tahe::bench {

// Invoicing and the ledger of one cell, called as `tenant` with the internal credential.
struct InvoicingBenchTarget {
  std::string invoicing_address;  // host:port
  std::string ledger_address;     // host:port
  std::string tenant;
  std::string internal_token;

  Target invoicing() const { return {invoicing_address, tenant, internal_token}; }
  Target ledger() const { return {ledger_address, tenant, internal_token}; }
};

struct InvoicingSetUpOptions {
  int customers = 1000;
  int products = 20;
  int cost_centres = 10;
  // "YYYY-MM-DD" of the invoices; empty: today (UTC). Its period and that of the payment date
  // (payment_delay_days later) are opened in the ledger.
  std::string invoice_date;
  int payment_delay_days = 7;
  absl::Duration call_timeout = absl::Minutes(5);
};

struct InvoicingSetUpResult {
  int64_t customers = 0;
  int64_t products = 0;
  double ledger_seconds = 0;
  double customers_seconds = 0;
  double seconds = 0;  // the whole set-up
};

// REQUIRES: customers >= 1, 1 <= products <= 99, 1 <= cost_centres <= 1000,
// 0 <= payment_delay_days <= 60.
absl::StatusOr<InvoicingSetUpResult> SetUpInvoicingBench(const InvoicingBenchTarget& target,
                                                         const InvoicingSetUpOptions& options);

struct InvoicingRunOptions {
  int invoices = 100000;
  // Drafts per ImportDraftInvoices batch (each batch is one transaction; at most 5 000).
  int batch_size = 1000;
  // As set up.
  int customers = 1000;
  int products = 20;
  std::string invoice_date;  // empty: today (UTC)
  int payment_delay_days = 7;
  // Bytes of the camt.054 file per ImportPayments message.
  int chunk_bytes = 1 << 20;
  std::string run_id;  // request id prefix; empty: RandomRunId()
  // Deadlines of ImportDraftInvoices, RunBilling and ImportPayments, and how long to wait for
  // each posting.
  absl::Duration call_timeout = absl::Minutes(30);
  absl::Duration posting_timeout = absl::Minutes(10);
  absl::Duration poll_interval = absl::Milliseconds(50);
  // > 0: the invoicing process, whose peak resident set is reset before the billing run and
  // before the payments (Linux /proc/<pid>/clear_refs, "5") and read after each (VmHWM).
  int invoicing_pid = 0;
  // > 0: the postmaster of invoicing's database; the CPU time of its child processes (the
  // backends) is reported per phase, as is that of invoicing_pid.
  int postgres_pid = 0;
  // Not empty: every invoice line of the run is written to this file as CSV, one line a row.
  std::string lines_csv;
};

// The columns of InvoicingRunOptions::lines_csv, in order, without a header row: those of
// invoicing's invoice_lines table.
inline constexpr char kInvoiceLineCsvColumns[] =
    "tenant_id,invoice_id,line_number,product_code,description,quantity_milli,unit_price_cents,"
    "vat_rate_ppm,net_cents,sales_account,cost_centre";

struct InvoicingRunResult {
  std::string billing_run_id;
  // 1. drafts.
  int64_t drafts_accepted = 0;
  int64_t drafts_rejected = 0;
  std::string first_rejection;
  double import_seconds = 0;
  // 2. billing: RunBilling's answer, and from it until GetBillingRun shows the run posted.
  int64_t issued = 0;
  int64_t billing_rejected = 0;
  int64_t gross_cents = 0;
  std::string numbers;
  double billing_seconds = 0;
  double billing_posting_seconds = 0;
  double billing_total_seconds = 0;
  // Listed afterwards: the run's invoices, those shown posted, and their lines.
  int64_t invoices_listed = 0;
  int64_t invoices_posted = 0;
  int64_t invoice_lines = 0;
  // The file.
  int64_t file_bytes = 0;
  int64_t payments_in_file = 0;
  int64_t paid_cents = 0;  // the sum of the file's payments
  double write_file_seconds = 0;
  // 3. payments: ImportPayments's answer, and from it until the ledger has the posting.
  int64_t transactions = 0;
  int64_t matched = 0;
  int64_t partially_allocated = 0;
  int64_t unmatched = 0;
  int64_t duplicates = 0;
  int64_t skipped = 0;
  int64_t matched_cents = 0;
  int64_t unmatched_cents = 0;
  double payments_seconds = 0;
  double payments_posting_seconds = 0;
  double payments_total_seconds = 0;
  // ParseCamt054 of the same file in this process (not part of any phase).
  double parse_seconds = 0;
  // What the ledger has: the two entries (lines, balanced) and the trial balance of receivables
  // (1700), bank (1910) and overpayments (2900), as debit - credit.
  int64_t billing_entry_lines = 0;
  int64_t payment_entry_lines = 0;
  bool entries_balanced = false;
  int64_t ledger_entries = 0;  // entries of source system "invoicing"
  int64_t receivables_minor = 0;
  int64_t bank_minor = 0;
  int64_t overpayments_minor = 0;
  // Open receivables afterwards (GetReceivablesAgeing as of the payment date).
  int64_t open_invoices = 0;
  int64_t open_cents = 0;
  // What the file was made to give, by the rule in the header comment.
  int64_t expected_matched = 0;
  int64_t expected_partially_allocated = 0;
  int64_t expected_unmatched = 0;
  int64_t expected_open_invoices = 0;
  int64_t expected_open_cents = 0;
  // Of InvoicingRunOptions::invoicing_pid, in KiB: resident before each phase and its peak
  // during it; -1 unknown. Whether the peaks were reset before the phases (if not, they are
  // peaks since the process started).
  int64_t rss_before_billing_kib = -1;
  int64_t peak_billing_kib = -1;
  int64_t rss_before_payments_kib = -1;
  int64_t peak_payments_kib = -1;
  bool peak_reset = false;
  int64_t polls = 0;  // GetBillingRun and ListEntries calls while waiting for the postings
  // CPU seconds (user + system) of invoicing_pid and of postgres_pid's children in each phase
  // (drafts, billing, payments); -1 unknown.
  double invoicing_cpu[3] = {-1, -1, -1};
  double postgres_cpu[3] = {-1, -1, -1};

  // Everything came out as the data was made to: every draft issued and shown posted, every
  // payment counted as expected, both entries balanced, receivables what is open.
  bool Correct() const;
};

// An error when a phase fails as a whole or a posting does not arrive within posting_timeout;
// rejections and miscounts are in the result (Correct()).
// REQUIRES: invoices >= 1, 1 <= batch_size <= 5000, customers and products as set up,
// chunk_bytes >= 1.
absl::StatusOr<InvoicingRunResult> RunInvoicingBench(const InvoicingBenchTarget& target,
                                                     const InvoicingRunOptions& options);

// The generated data of customer, product and draft `index` (0-based).
std::string BenchCustomerNumber(int index);
std::string BenchProductCode(int index);
std::string BenchInvoiceId(const std::string& run_id, int index);
// A valid Y-tunnus: 7 digits made of `index` and its check digit.
std::string BenchBusinessId(int index);

// One line for people and one `RESULT mode=setup|run key=value ...` line for scripts.
std::string HumanLine(const InvoicingSetUpResult& r);
std::string ResultLine(const InvoicingSetUpResult& r);
std::string HumanLine(const InvoicingRunResult& r);
std::string ResultLine(const InvoicingRunResult& r);

}  // namespace tahe::bench
