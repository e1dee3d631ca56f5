// Smoke test of the invoicing benchmark's driver: in-process ledger and invoicing servers on
// throwaway databases (wired as their main.cc wire them, the outbox relay running), an
// organisation set up as run_invoicing_bench.sh sets one up, and one run driven through the
// billing run and the payments until both postings are in the ledger. It checks counts, sums and
// the generated data, never timings (those belong to run_invoicing_bench.sh).

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <pqxx/pqxx>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "libs/fi/business_id.h"
#include "libs/outbox/outbox.h"
#include "libs/pg/pg.h"
#include "libs/server/call.h"
#include "libs/server/grpc_server.h"
#include "libs/server/worker_pool.h"
#include "libs/testing/pg_fixture.h"
#include "services/invoicing/invoicing_repository.h"
#include "services/invoicing/invoicing_service.h"
#include "tests/bench/bench_testing.h"
#include "tests/bench/invoicing_load_driver.h"

namespace tahe::bench {
namespace {

constexpr char kToken[] = "invoicing-bench-smoke-internal-token";
constexpr char kIdentityKey[] = "invoicing-bench-smoke-identity-key-0123456789";
constexpr char kTenant[] = "bench-smoke";
// A fixed date, so that the 2026 VAT rates apply whatever the day: general 25.5 %, reduced
// 13.5 %, lowest 10 %. Payments a week later.
constexpr char kInvoiceDate[] = "2026-03-16";

// Invoicing as services/invoicing/main.cc wires it, delivering to `ledger_address`.
class InProcessInvoicing {
 public:
  explicit InProcessInvoicing(const std::string& ledger_address)
      : relay_(repository_.outbox(),
               grpc::CreateChannel(ledger_address, grpc::InsecureChannelCredentials()), kToken,
               nullptr,
               {.metric_prefix = "tahe_invoicing_outbox", .principal = "service:invoicing"}),
        service_(&repository_, {&auth_, &workers_}, [this] { relay_.Wake(); }),
        server_(OrThrow(
            server::GrpcServer::Start({.listen = "127.0.0.1:0", .services = {&service_}}))) {
    relay_.Start();
  }
  ~InProcessInvoicing() {
    service_.BeginShutdown();
    server_->Shutdown(absl::Seconds(5));
    workers_.Drain();
    relay_.Stop();
  }

  std::string address() const { return server_->address(); }

  // The result of `sql` (one number) over kTenant's rows, counted as the owner.
  int64_t Count(const std::string& sql) {
    pqxx::connection c(db_.owner_conninfo());
    pqxx::work tx(c);
    return tx.exec_params(sql, kTenant)[0][0].as<int64_t>();
  }

 private:
  testing::TestDatabase db_{invoicing::Migrations(), invoicing::kInvoicingAppRole};
  std::unique_ptr<pg::Pool> pool_ = OrThrow(
      pg::Pool::Create({.conninfo = db_.app_conninfo(), .size = 5, .name = "invoicing"}, nullptr));
  invoicing::InvoicingRepository repository_{pool_.get(), {.identity_key = kIdentityKey}};
  server::Authenticator auth_{kToken};
  server::WorkerPool workers_{4};
  outbox::LedgerOutboxRelay relay_;
  invoicing::InvoicingService service_;
  std::unique_ptr<server::GrpcServer> server_;
};

// The ledger, and invoicing delivering to it.
struct Servers {
  InProcessLedger ledger{kToken};
  InProcessInvoicing invoicing{ledger.address()};

  InvoicingBenchTarget target() const {
    return {.invoicing_address = invoicing.address(),
            .ledger_address = ledger.address(),
            .tenant = kTenant,
            .internal_token = kToken};
  }
};

int64_t LinesOf(const std::string& path) {
  std::ifstream in(path);
  int64_t lines = 0;
  for (std::string line; std::getline(in, line);) {
    ++lines;
  }
  return lines;
}

TEST_CASE("invoicing bench: 250 invoices issued, paid by one file and posted, as generated",
          "[bench]") {
  Servers servers;
  const InvoicingBenchTarget target = servers.target();
  absl::StatusOr<InvoicingSetUpResult> setup = SetUpInvoicingBench(
      target, {.customers = 40, .products = 12, .cost_centres = 4, .invoice_date = kInvoiceDate});
  REQUIRE(setup.ok());
  INFO(HumanLine(*setup));
  CHECK(setup->customers == 40);
  CHECK(setup->products == 12);
  CHECK(servers.invoicing.Count("SELECT count(*) FROM customers WHERE tenant_id = $1") == 40);
  // Every third customer is a person with an identity code (i % 3 == 1: 1, 4, ..., 37).
  CHECK(servers.invoicing.Count(
            "SELECT count(*) FROM customers WHERE tenant_id = $1 AND identity_hash <> ''") == 13);

  const std::string csv = (std::filesystem::temp_directory_path() /
                           absl::StrCat("invoicing-bench-smoke-", ::getpid(), ".csv"))
                              .string();
  // Invoicing runs in this process, so its peak resident set is this process's.
  absl::StatusOr<InvoicingRunResult> run =
      RunInvoicingBench(target, {.invoices = 250,
                                 .batch_size = 64,
                                 .customers = 40,
                                 .products = 12,
                                 .invoice_date = kInvoiceDate,
                                 .chunk_bytes = 4096,
                                 .run_id = "smoke",
                                 .poll_interval = absl::Milliseconds(20),
                                 .invoicing_pid = static_cast<int>(::getpid()),
                                 .lines_csv = csv});
  REQUIRE(run.ok());
  INFO(HumanLine(*run));
  CHECK(run->Correct());
  CHECK(run->billing_run_id == "bench-smoke");
  CHECK(run->drafts_accepted == 250);
  CHECK(run->drafts_rejected == 0);
  CHECK(run->issued == 250);
  CHECK(run->numbers == "L-1..L-250");
  CHECK(run->invoices_listed == 250);
  // 2 + i % 4 lines: 62 rounds of 2 + 3 + 4 + 5 = 14 (i < 248), then 2 and 3.
  CHECK(run->invoice_lines == 62 * 14 + 2 + 3);
  CHECK(LinesOf(csv) == run->invoice_lines);
  CHECK(servers.invoicing.Count("SELECT count(*) FROM invoice_lines WHERE tenant_id = $1") ==
        run->invoice_lines);
  // One payment per invoice. By i % 100: 97 and 197 name no invoice, 98 and 198 pay half, 99 and
  // 199 pay 10.00 too much; the other 244 pay exactly.
  CHECK(run->payments_in_file == 250);
  CHECK(run->transactions == 250);
  CHECK(run->unmatched == 2);
  CHECK(run->partially_allocated == 2);
  CHECK(run->matched == 244 + 2);
  CHECK(run->duplicates == 0);
  CHECK(run->skipped == 0);
  // What is not allocated: the two unknown payments and the two overpayments' 10.00.
  CHECK(run->unmatched_cents == run->paid_cents - run->matched_cents);
  CHECK(servers.invoicing.Count("SELECT count(*) FROM payments WHERE tenant_id = $1") == 250);
  CHECK(servers.invoicing.Count("SELECT count(*) FROM invoices WHERE tenant_id = $1 AND"
                                " status = 4") == 250 - 2 - 2);  // PAID
  // Open: the two invoices nobody paid and the two half-paid ones.
  CHECK(run->open_invoices == 4);
  CHECK(run->open_cents == run->receivables_minor);
  // Two entries, balanced: receivables / sales per account and cost centre / VAT; and
  // bank / receivables / overpayments. Sales: accounts 3000 (even products) and 3100 (odd),
  // cost centres k % 4, so 3000 with KP000 and KP002, 3100 with KP001 and KP003.
  CHECK(run->ledger_entries == 2);
  CHECK(servers.ledger.EntriesInDatabase(kTenant) == 2);
  CHECK(run->entries_balanced);
  CHECK(run->billing_entry_lines == 1 + 4 + 1);
  CHECK(run->payment_entry_lines == 3);
  CHECK(run->bank_minor == run->paid_cents);
  CHECK(run->receivables_minor == run->gross_cents - run->matched_cents);
  CHECK(run->overpayments_minor == -run->unmatched_cents);
  // The run's posting shows on every invoice of it.
  CHECK(run->invoices_posted == 250);
  CHECK(run->parse_seconds > 0);
  CHECK(run->rss_before_billing_kib > 0);
  CHECK(run->peak_billing_kib >= run->rss_before_billing_kib);
  CHECK(run->peak_payments_kib > 0);
  CHECK(ResultLine(*run).rfind("RESULT mode=run billing_run_id=bench-smoke drafts=250 "
                               "drafts_rejected=0 ",
                               0) == 0);
  std::remove(csv.c_str());
}

TEST_CASE("invoicing bench: four invoices add up to the hand-computed gross", "[bench]") {
  Servers servers;
  const InvoicingBenchTarget target = servers.target();
  REQUIRE(
      SetUpInvoicingBench(
          target, {.customers = 3, .products = 4, .cost_centres = 2, .invoice_date = kInvoiceDate})
          .ok());
  absl::StatusOr<InvoicingRunResult> run =
      RunInvoicingBench(target, {.invoices = 4,
                                 .customers = 3,
                                 .products = 4,
                                 .invoice_date = kInvoiceDate,
                                 .poll_interval = absl::Milliseconds(20)});
  REQUIRE(run.ok());
  INFO(HumanLine(*run));
  CHECK(run->Correct());
  // Products k: 500 + 1373 k cents, VAT general, reduced, lowest, exempt: P01 5.00 (25.5 %),
  // P02 18.73 (13.5 %), P03 32.46 (10 %), P04 46.19 (0 %). Draft i has 2 + i lines (i < 4), line
  // j of product (31 i + 7 j) % 4, 1 + (i + j) % 5 units (+ 0.5 when (i + j) % 3 == 0), 10 % off
  // when (i + j) % 10 == 0. Nets rounded once, VAT per rate group, half away from zero:
  //  0: P01 1.5 × 5.00 × 0.9 = 6.75; P04 2 × 46.19 = 92.38; VAT 6.75 × 25.5 % = 1.72125 → 1.72;
  //     gross 100.85
  //  1: P04 92.38; P03 3 × 32.46 = 97.38; P02 4.5 × 18.73 = 84.285 → 84.29;
  //     VAT 9.738 → 9.74 and 11.37915 → 11.38; gross 295.17
  //  2: P03 97.38; P02 84.29; P01 5 × 5.00 = 25.00; P04 46.19;
  //     VAT 9.74, 11.38, 6.375 → 6.38; gross 280.36
  //  3: P02 84.29; P01 25.00; P04 46.19; P03 2.5 × 32.46 = 81.15; P02 3 × 18.73 = 56.19;
  //     VAT (84.29 + 56.19) × 13.5 % = 18.9648 → 18.96, 6.38, 8.115 → 8.12; gross 326.28
  CHECK(run->gross_cents == 10085 + 29517 + 28036 + 32628);
  CHECK(run->invoice_lines == 2 + 3 + 4 + 5);
  // Every one paid exactly: nothing open, the bank has the whole 1 002.66.
  CHECK(run->matched == 4);
  CHECK(run->matched_cents == 100266);
  CHECK(run->bank_minor == 100266);
  CHECK(run->receivables_minor == 0);
  CHECK(run->open_invoices == 0);
  CHECK(run->rss_before_billing_kib == -1);  // no pid given: not measured
}

TEST_CASE("invoicing bench: generated business ids are valid and distinct", "[bench]") {
  std::set<std::string> ids;
  constexpr int kOrganisations = 20000;
  for (int i = 0; i < kOrganisations; ++i) {
    const std::string id = BenchBusinessId(i);
    INFO("organisation " << i << ": " << id);
    REQUIRE(fi::IsValidBusinessId(id));
    ids.insert(id);
  }
  CHECK(ids.size() == kOrganisations);
  CHECK(BenchCustomerNumber(0) == "A00001");
  CHECK(BenchProductCode(19) == "P20");
  CHECK(BenchInvoiceId("abc", 99999) == "abc-0100000");
}

}  // namespace
}  // namespace tahe::bench
