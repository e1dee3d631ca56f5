// Smoke test of the payroll benchmark's driver: in-process ledger and payroll servers on throwaway
// databases (wired as their main.cc wire them, the outbox relay running), an organisation of 200
// employees set up as run_payroll_bench.sh sets one up, and one pay run driven to POSTED. It
// checks counts and that the generated personal data is valid, never timings (those belong to
// run_payroll_bench.sh).

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <pqxx/pqxx>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "libs/fi/hetu.h"
#include "libs/fi/iban.h"
#include "libs/outbox/outbox.h"
#include "libs/pg/pg.h"
#include "libs/server/call.h"
#include "libs/server/grpc_server.h"
#include "libs/server/worker_pool.h"
#include "libs/testing/pg_fixture.h"
#include "services/payroll/payroll_repository.h"
#include "services/payroll/payroll_service.h"
#include "tests/bench/bench_testing.h"
#include "tests/bench/payroll_load_driver.h"

namespace tahe::bench {
namespace {

constexpr char kToken[] = "payroll-bench-smoke-internal-token";
constexpr char kIdentityKey[] = "payroll-bench-smoke-identity-key-0123456789";
constexpr char kTenant[] = "bench-smoke";
// A fixed month, so that the built-in 2026 rate table applies whatever the date.
constexpr char kPeriod[] = "2026-03";
constexpr int kEmployees = 200;

// Payroll as services/payroll/main.cc wires it, delivering to `ledger_address`.
class InProcessPayroll {
 public:
  explicit InProcessPayroll(const std::string& ledger_address)
      : relay_(repository_.outbox(),
               grpc::CreateChannel(ledger_address, grpc::InsecureChannelCredentials()), kToken,
               nullptr, {.metric_prefix = "tahe_payroll_outbox", .principal = "service:payroll"}),
        service_(&repository_, {&auth_, &workers_}, [this] { relay_.Wake(); }),
        server_(OrThrow(
            server::GrpcServer::Start({.listen = "127.0.0.1:0", .services = {&service_}}))) {
    relay_.Start();
  }
  ~InProcessPayroll() {
    service_.BeginShutdown();
    server_->Shutdown(absl::Seconds(5));
    workers_.Drain();
    relay_.Stop();
  }

  std::string address() const { return server_->address(); }

  // Rows of `table` of kTenant, counted as the owner.
  int64_t Count(const std::string& table) {
    pqxx::connection c(db_.owner_conninfo());
    pqxx::work tx(c);
    return tx
        .exec_params(absl::StrCat("SELECT count(*) FROM ", table, " WHERE tenant_id = $1"),
                     kTenant)[0][0]
        .as<int64_t>();
  }

 private:
  testing::TestDatabase db_{payroll::Migrations(), payroll::kPayrollAppRole};
  std::unique_ptr<pg::Pool> pool_ = OrThrow(
      pg::Pool::Create({.conninfo = db_.app_conninfo(), .size = 4, .name = "payroll"}, nullptr));
  payroll::PayrollRepository repository_{pool_.get(), {.identity_key = kIdentityKey}};
  server::Authenticator auth_{kToken};
  server::WorkerPool workers_{4};
  outbox::LedgerOutboxRelay relay_;
  payroll::PayrollService service_;
  std::unique_ptr<server::GrpcServer> server_;
};

// The ledger, and payroll delivering to it.
struct Servers {
  InProcessLedger ledger{kToken};
  InProcessPayroll payroll{ledger.address()};

  PayrollBenchTarget target() const {
    return {.payroll_address = payroll.address(),
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

TEST_CASE("payroll bench: set-up and one pay run reach POSTED with matching counts", "[bench]") {
  Servers servers;
  InProcessLedger& ledger = servers.ledger;
  InProcessPayroll& payroll = servers.payroll;
  const PayrollBenchTarget target = servers.target();

  absl::StatusOr<PayrollSetUpResult> setup = SetUpPayrollBench(
      target, {.employees = kEmployees, .batch_size = 64, .cost_centres = 7, .period = kPeriod});
  REQUIRE(setup.ok());
  INFO(HumanLine(*setup));
  CHECK(setup->rejected == 0);
  CHECK(setup->first_rejection.empty());
  CHECK(setup->employees == kEmployees);
  CHECK(setup->tax_cards == kEmployees);
  CHECK(setup->pay_items == 2 * kEmployees);
  CHECK(payroll.Count("employees") == kEmployees);
  CHECK(payroll.Count("tax_cards") == kEmployees);
  CHECK(payroll.Count("pay_items") == 2 * kEmployees);
  CHECK(ResultLine(*setup).rfind("RESULT mode=setup employees=200 tax_cards=200 pay_items=400 "
                                 "rejected=0 ",
                                 0) == 0);

  const std::string csv = (std::filesystem::temp_directory_path() /
                           absl::StrCat("payroll-bench-smoke-", ::getpid(), ".csv"))
                              .string();
  // Payroll runs in this process, so its peak resident set is this process's.
  absl::StatusOr<PayRunResult> run = RunPayRun(target, {.period = kPeriod,
                                                        .poll_interval = absl::Milliseconds(20),
                                                        .payroll_pid = static_cast<int>(::getpid()),
                                                        .lines_csv = csv});
  REQUIRE(run.ok());
  INFO(HumanLine(*run));
  CHECK(run->pay_run_id == "2026-03-1");
  CHECK(run->payslips == kEmployees);
  CHECK(run->skipped == 0);
  CHECK(run->payslips_listed == kEmployees);
  // Every payslip has its pay items, withholding and contribution lines.
  CHECK(run->payslip_lines >= 6 * kEmployees);
  CHECK(LinesOf(csv) == run->payslip_lines);
  CHECK(run->gross_cash_minor > run->net_pay_minor);
  CHECK(run->net_pay_minor > 0);
  CHECK(run->polls >= 1);
  CHECK(run->ledger_sequence > 0);
  CHECK(run->ledger_balanced);
  CHECK(run->ledger_net_pay_minor == -run->net_pay_minor);
  // Debits per cost centre (7) and the credits of the whole run.
  CHECK(run->ledger_lines > 7);
  CHECK(ledger.EntriesInDatabase(kTenant) == 1);
  CHECK(run->rss_before_kib > 0);
  CHECK(run->peak_rss_kib >= run->rss_before_kib);
  CHECK(ResultLine(*run).rfind("RESULT mode=run pay_run_id=2026-03-1 payslips=200 skipped=0 ", 0) ==
        0);
  std::remove(csv.c_str());
}

TEST_CASE(
    "payroll bench: a run of more payslips than the calculation writes at once is posted whole",
    "[bench]") {
  // CalculatePayRun writes the payslips 2 000 at a time, from a thread of its own, and sums them
  // for the posting as it goes: 5 001 payslips are three chunks, the last one short, and the
  // posting must add up all of them.
  constexpr int kMany = 5001;
  Servers servers;
  const PayrollBenchTarget target = servers.target();
  absl::StatusOr<PayrollSetUpResult> setup = SetUpPayrollBench(
      target, {.employees = kMany, .cost_centres = 3, .period = kPeriod, .tax_cards = false});
  REQUIRE(setup.ok());
  INFO(HumanLine(*setup));
  REQUIRE(setup->rejected == 0);
  absl::StatusOr<PayRunResult> run =
      RunPayRun(target, {.period = kPeriod, .poll_interval = absl::Milliseconds(20)});
  REQUIRE(run.ok());
  INFO(HumanLine(*run));
  CHECK(run->payslips == kMany);
  CHECK(run->payslips_listed == kMany);
  CHECK(run->ledger_balanced);
  CHECK(run->ledger_net_pay_minor == -run->net_pay_minor);
  CHECK(run->rss_before_kib == -1);  // no pid given: not measured
  CHECK(run->peak_rss_kib == -1);
}

TEST_CASE("payroll bench: generated identity codes and IBANs are valid and distinct", "[bench]") {
  std::set<std::string> codes;
  std::set<std::string> ibans;
  // Past the first round of birth dates (15 120) into the second individual number.
  constexpr int kPeople = 20000;
  for (int i = 0; i < kPeople; ++i) {
    const std::string code = BenchIdentityCode(i);
    const std::string iban = BenchIban(i);
    INFO("person " << i << ": " << code << ", " << iban);
    REQUIRE(fi::IsValidPersonalIdentityCode(code, fi::TemporaryCodes::kReject));
    REQUIRE(fi::IsValidIban(iban));
    absl::StatusOr<std::optional<std::string>> bic = fi::BicOf("iban", iban);
    REQUIRE(bic.ok());
    REQUIRE(bic->has_value());
    codes.insert(code);
    ibans.insert(iban);
  }
  CHECK(codes.size() == kPeople);
  CHECK(ibans.size() == kPeople);
  CHECK(BenchEmployeeNumber(0) == "E000001");
  CHECK(BenchEmployeeNumber(99999) == "E100000");
  CHECK(LastDayOfPeriod("2026-02") == "2026-02-28");
  CHECK(LastDayOfPeriod("2028-02") == "2028-02-29");
  CHECK(LastDayOfPeriod("2026-13").empty());
}

}  // namespace
}  // namespace tahe::bench
