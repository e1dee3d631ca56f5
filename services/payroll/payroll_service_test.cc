// Integration tests of the payroll service, wired the way main.cc wires it but in-process:
// Pool -> PayrollRepository (a fresh PostgreSQL database, connected as a member of
// tahe_payroll_app, so under row-level security) -> PayrollService -> GrpcServer on 127.0.0.1:0,
// and behind it the real ledger (LedgerRepository -> GroupCommitter -> LedgerService ->
// GrpcServer) that the OutboxRelay delivers approved runs to. Both are called through the
// generated stubs with the internal token and x-tahe-tenant, as the gateway calls them. The relay
// runs no thread here: each test calls DeliverDue(), so every delivery happens at a known point.
//
// The figures follow the built-in 2026 rate table: employee pension 7.30 % and unemployment
// 0.89 % (ages 18-64), employer unemployment (lower tier) 0.31 %, employer health insurance
// 1.87 %, Keva and TyEL totals 24.40 % (so an employer pension share of 17.10 %), plus the
// organisation's own accident insurance 0.50 %. Every component is its base times its rate,
// rounded half away from zero to cents.

#include "services/payroll/payroll_service.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <grpcpp/grpcpp.h>
#include <prometheus/registry.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <pqxx/pqxx>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "libs/metrics/registry_for_test.h"
#include "libs/pg/pg.h"
#include "libs/server/call.h"
#include "libs/server/grpc_server.h"
#include "libs/server/worker_pool.h"
#include "libs/status/status.h"
#include "libs/testing/pg_fixture.h"
#include "services/ledger/group_commit.h"
#include "services/ledger/ledger_migrations.h"
#include "services/ledger/ledger_repository.h"
#include "services/ledger/ledger_service.h"
#include "services/payroll/outbox_relay.h"
#include "services/payroll/payroll_repository.h"
#include "tahe/ledger/v1/ledger.grpc.pb.h"
#include "tahe/payroll/v1/payroll.grpc.pb.h"

namespace tahe::payroll {
namespace {

namespace ledger_v1 = ::tahe::ledger::v1;
using LedgerStub = ledger_v1::LedgerService::Stub;
using PayrollStub = v1::PayrollService::Stub;
using metrics::CounterSum;

constexpr char kToken[] = "payroll-service-test-internal-token";
// 44 bytes: the keyed hash needs at least 32.
constexpr char kIdentityKey[] = "payroll-service-test-identity-key-0123456789";
constexpr int kPoolSize = 8;
constexpr char kTenant[] = "lahti";
constexpr char kOtherTenant[] = "vaasa";

// The monthly Keva employee: born 15.6.1980 (contribution age 45 in March 2026).
constexpr char kKevaNumber[] = "E1001";
constexpr char kKevaIdentityCode[] = "150680-1234";
constexpr char kKevaIban[] = "FI5542345670000081";
constexpr char kKevaCostCentre[] = "KP100";
// The hourly TyEL employee: born 1.5.1994 (a temporary code, 903; contribution age 31).
constexpr char kHourlyNumber[] = "E2002";
constexpr char kHourlyIdentityCode[] = "010594Y9032";
constexpr char kHourlyIban[] = "FI4447327139000428";
constexpr char kHourlyCostCentre[] = "KP200";

constexpr char kMarch[] = "2026-03";
constexpr char kMarchPayday[] = "2026-03-31";
constexpr char kApril[] = "2026-04";
constexpr char kAprilPayday[] = "2026-04-30";
constexpr char kMarchRun[] = "2026-03-1";

std::string CodeString(grpc::StatusCode code) {
  return CodeName(static_cast<absl::StatusCode>(code));
}

#define REQUIRE_CODE(status, code)                                             \
  do {                                                                         \
    const grpc::Status& s_ = (status);                                         \
    INFO("got " << CodeString(s_.error_code()) << ": " << s_.error_message()); \
    REQUIRE(CodeString(s_.error_code()) == CodeString(code));                  \
  } while (false)

// A refusal with `code` whose message names `field`.
#define REQUIRE_REFUSED(status, code, field)                 \
  do {                                                       \
    const grpc::Status& r_ = (status);                       \
    REQUIRE_CODE(r_, code);                                  \
    INFO("message: " << r_.error_message());                 \
    REQUIRE(absl::StrContains(r_.error_message(), (field))); \
  } while (false)

template <typename T>
T OrThrow(absl::StatusOr<T> v) {
  if (!v.ok()) {
    throw std::runtime_error(v.status().ToString());
  }
  return *std::move(v);
}

// --- requests ------------------------------------------------------------------------------------

v1::Employee KevaEmployee() {
  v1::Employee e;
  e.set_employee_number(kKevaNumber);
  e.set_first_name("Aino");
  e.set_last_name("Virtanen");
  e.set_personal_identity_code(kKevaIdentityCode);
  e.set_iban(kKevaIban);
  v1::Employment* job = e.mutable_employment();
  job->set_start_date("2020-01-01");
  job->set_cost_centre(kKevaCostCentre);
  job->set_salary_basis(v1::SALARY_BASIS_MONTHLY);
  job->set_monthly_salary_minor(350000);  // 3 500.00
  job->set_pension_scheme(v1::PENSION_SCHEME_KEVA);
  job->set_union_fee_ppm(15000);  // 1.50 %
  return e;
}

v1::Employee HourlyEmployee() {
  v1::Employee e;
  e.set_employee_number(kHourlyNumber);
  e.set_first_name("Mikko");
  e.set_last_name("Järvinen");
  e.set_personal_identity_code(kHourlyIdentityCode);
  e.set_iban(kHourlyIban);
  v1::Employment* job = e.mutable_employment();
  job->set_start_date("2024-08-01");
  job->set_cost_centre(kHourlyCostCentre);
  job->set_salary_basis(v1::SALARY_BASIS_HOURLY);
  job->set_hourly_rate_minor(2000);  // 20.00 / h
  job->set_pension_scheme(v1::PENSION_SCHEME_TYEL);
  return e;
}

v1::PayItem QuantityItem(const std::string& id, const std::string& employee,
                         const std::string& period, v1::PayItemKind kind, int64_t quantity_centi,
                         int64_t unit_rate_minor) {
  v1::PayItem item;
  item.set_item_id(id);
  item.set_employee_number(employee);
  item.set_period(period);
  item.set_kind(kind);
  item.set_quantity_centi(quantity_centi);
  item.set_unit_rate_minor(unit_rate_minor);
  return item;
}

v1::PayItem AmountItem(const std::string& id, const std::string& employee,
                       const std::string& period, v1::PayItemKind kind, int64_t amount_minor) {
  v1::PayItem item;
  item.set_item_id(id);
  item.set_employee_number(employee);
  item.set_period(period);
  item.set_kind(kind);
  item.set_amount_minor(amount_minor);
  return item;
}

// The hourly employee's March: 150 h at 20.00, 10.5 h overtime 50 %, a meal benefit, 250 km of
// mileage at 0.55 and a deduction.
std::vector<v1::PayItem> MarchItems() {
  return {
      QuantityItem("2026-03-E2002-hours", kHourlyNumber, kMarch, v1::PAY_ITEM_KIND_HOURLY_WORK,
                   15000, 2000),  // 150.00 h x 20.00 = 3 000.00
      QuantityItem("2026-03-E2002-ot50", kHourlyNumber, kMarch, v1::PAY_ITEM_KIND_OVERTIME_50, 1050,
                   2000),  // 10.50 h x 20.00 x 1.5 = 315.00
      AmountItem("2026-03-E2002-meal", kHourlyNumber, kMarch, v1::PAY_ITEM_KIND_MEAL_BENEFIT,
                 12000),  // 120.00, taxable, not paid in cash
      QuantityItem("2026-03-E2002-km", kHourlyNumber, kMarch, v1::PAY_ITEM_KIND_MILEAGE_ALLOWANCE,
                   25000, 55),  // 250.00 km x 0.55 = 137.50, tax-free
      AmountItem("2026-03-E2002-deduction", kHourlyNumber, kMarch, v1::PAY_ITEM_KIND_DEDUCTION,
                 5000),  // 50.00 from net pay
  };
}

// --- expected figures ----------------------------------------------------------------------------

// The Keva employee's March payslip. Taxable pay 350 000 (salary; no benefits).
v1::PayRunTotalsFigures KevaMarchFigures() {
  v1::PayRunTotalsFigures f;
  f.set_payslips(1);
  f.set_gross_cash_minor(350000);
  f.set_withholding_minor(70000);                 // 350 000 x 20 % (all under the income limit)
  f.set_employee_pension_minor(25550);            // 350 000 x 7.30 %
  f.set_employee_unemployment_minor(3115);        // 350 000 x 0.89 %
  f.set_union_fees_minor(5250);                   // 350 000 x 1.50 %
  f.set_net_pay_minor(246085);                    // 350 000 - 70 000 - 25 550 - 3 115 - 5 250
  f.set_employer_pension_minor(59850);            // 350 000 x 17.10 %
  f.set_employer_unemployment_minor(1085);        // 350 000 x 0.31 %
  f.set_employer_health_insurance_minor(6545);    // 350 000 x 1.87 %
  f.set_employer_accident_insurance_minor(1750);  // 350 000 x 0.50 %
  return f;
}

// The hourly employee's March payslip. Gross cash 300 000 + 31 500 = 331 500; taxable pay
// 331 500 + 12 000 (meal benefit) = 343 500.
v1::PayRunTotalsFigures HourlyMarchFigures() {
  v1::PayRunTotalsFigures f;
  f.set_payslips(1);
  f.set_gross_cash_minor(331500);
  f.set_benefits_in_kind_minor(12000);
  f.set_reimbursements_minor(13750);
  f.set_withholding_minor(51525);           // 343 500 x 15 %
  f.set_employee_pension_minor(25076);      // 343 500 x 7.30 % = 25 075.5 -> 25 076
  f.set_employee_unemployment_minor(3057);  // 343 500 x 0.89 % = 3 057.15 -> 3 057
  f.set_deductions_minor(5000);
  // 331 500 - 51 525 - 25 076 - 3 057 - 5 000 + 13 750
  f.set_net_pay_minor(260592);
  f.set_employer_pension_minor(58739);            // 343 500 x 17.10 % = 58 738.5 -> 58 739
  f.set_employer_unemployment_minor(1065);        // 343 500 x 0.31 % = 1 064.85 -> 1 065
  f.set_employer_health_insurance_minor(6423);    // 343 500 x 1.87 % = 6 423.45 -> 6 423
  f.set_employer_accident_insurance_minor(1718);  // 343 500 x 0.50 % = 1 717.5 -> 1 718
  return f;
}

// Every numeric field of the payslips' figures, summed.
v1::PayRunTotalsFigures SumOf(const std::vector<v1::Payslip>& slips) {
  v1::PayRunTotalsFigures sum;
  const google::protobuf::Descriptor* d = sum.GetDescriptor();
  const google::protobuf::Reflection* r = sum.GetReflection();
  for (const v1::Payslip& slip : slips) {
    for (int i = 0; i < d->field_count(); ++i) {
      const google::protobuf::FieldDescriptor* f = d->field(i);
      switch (f->cpp_type()) {
        case google::protobuf::FieldDescriptor::CPPTYPE_INT64:
          r->SetInt64(&sum, f, r->GetInt64(sum, f) + r->GetInt64(slip.figures(), f));
          break;
        case google::protobuf::FieldDescriptor::CPPTYPE_INT32:
          r->SetInt32(&sum, f, r->GetInt32(sum, f) + r->GetInt32(slip.figures(), f));
          break;
        default:
          FAIL("PayRunTotalsFigures has a field that is not a count or an amount: " << f->name());
      }
    }
  }
  return sum;
}

void RequireNetIdentity(const v1::Payslip& slip) {
  const v1::PayRunTotalsFigures& f = slip.figures();
  INFO("payslip of " << slip.employee_number() << ": " << f.ShortDebugString());
  REQUIRE(f.net_pay_minor() == f.gross_cash_minor() - f.withholding_minor() -
                                   f.employee_pension_minor() - f.employee_unemployment_minor() -
                                   f.union_fees_minor() - f.deductions_minor() +
                                   f.reimbursements_minor());
}

const v1::Payslip& SlipOf(const std::vector<v1::Payslip>& slips, const std::string& employee) {
  for (const v1::Payslip& slip : slips) {
    if (slip.employee_number() == employee) {
      return slip;
    }
  }
  FAIL("no payslip for " << employee);
  throw std::logic_error("unreachable");
}

// (account, cost centre or "") -> the sum of the entry's lines there; every line in EUR.
std::map<std::pair<std::string, std::string>, int64_t> LinesOf(const ledger_v1::Entry& entry) {
  std::map<std::pair<std::string, std::string>, int64_t> lines;
  for (const ledger_v1::EntryLine& line : entry.lines()) {
    REQUIRE(line.amount().currency_code() == "EUR");
    auto cc = line.dimensions().find("cost_centre");
    lines[{line.account(), cc == line.dimensions().end() ? "" : cc->second}] +=
        line.amount().amount_minor();
  }
  return lines;
}

int64_t SumOfLines(const ledger_v1::Entry& entry) {
  int64_t sum = 0;
  for (const ledger_v1::EntryLine& line : entry.lines()) {
    sum += line.amount().amount_minor();
  }
  return sum;
}

// --- the SEPA file -------------------------------------------------------------------------------

struct Validation {
  int exit_code = -1;
  std::string output;
};

// Runs xmllint against the published pain.001.001.03 schema on `xml`.
Validation ValidateAgainstSchema(const std::string& xml) {
  static std::atomic<int> counter{0};
  const std::filesystem::path file =
      std::filesystem::temp_directory_path() /
      absl::StrCat("tahe_payroll_service_test_", getpid(), "_", counter++, ".xml");
  {
    std::ofstream out(file, std::ios::binary);
    out << xml;
  }
  const std::string command =
      absl::StrCat("xmllint --noout --schema '", TAHE_PAIN_001_XSD, "' '", file.string(), "' 2>&1");
  Validation result;
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[4096];
  while (size_t n = fread(buffer, 1, sizeof buffer, pipe)) {
    result.output.append(buffer, n);
  }
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::filesystem::remove(file);
  return result;
}

// The texts of every <tag>text</tag> (or <tag attributes>text</tag>) in document order.
std::vector<std::string> ElementTexts(const std::string& xml, const std::string& tag) {
  std::vector<std::string> texts;
  const std::string open = "<" + tag;
  const std::string close = "</" + tag + ">";
  size_t at = 0;
  while ((at = xml.find(open, at)) != std::string::npos) {
    const char after = xml[at + open.size()];
    if (after != '>' && after != ' ') {
      at += open.size();
      continue;
    }
    const size_t start = xml.find('>', at) + 1;
    const size_t end = xml.find(close, start);
    REQUIRE(end != std::string::npos);
    texts.push_back(xml.substr(start, end - start));
    at = end + close.size();
  }
  return texts;
}

// "1234.50" -> 123450, exactly; anything but digits, a point and two digits fails the test.
int64_t ParseCents(const std::string& amount) {
  INFO("amount \"" << amount << "\"");
  const size_t point = amount.find('.');
  REQUIRE(point != std::string::npos);
  REQUIRE(amount.size() == point + 3);
  int64_t units = 0;
  int64_t cents = 0;
  REQUIRE(absl::SimpleAtoi(amount.substr(0, point), &units));
  REQUIRE(absl::SimpleAtoi(amount.substr(point + 1), &cents));
  return units * 100 + cents;
}

// --- the fixture ---------------------------------------------------------------------------------

struct Fixture {
  Fixture()
      : ledger_service(&ledger_repository, &committer, {&auth, &ledger_workers}, {}),
        payroll_service(&repository, {&auth, &payroll_workers}, [this] { ++approvals_announced; }) {
    ledger_server = OrThrow(server::GrpcServer::Start(
        {.listen = "127.0.0.1:0", .services = {&ledger_service}, .metrics = &ledger_registry}));
    payroll_server = OrThrow(
        server::GrpcServer::Start({.listen = "127.0.0.1:0", .services = {&payroll_service}}));
    ledger_channel =
        grpc::CreateChannel(ledger_server->address(), grpc::InsecureChannelCredentials());
    ledger = ledger_v1::LedgerService::NewStub(ledger_channel);
    payroll = v1::PayrollService::NewStub(
        grpc::CreateChannel(payroll_server->address(), grpc::InsecureChannelCredentials()));
    relay = std::make_unique<OutboxRelay>(&repository, ledger_channel, kToken, &relay_registry);
  }
  ~Fixture() {
    relay.reset();
    payroll_server->Shutdown(absl::Seconds(5));
    payroll_workers.Drain();
    ledger_service.BeginShutdown();
    ledger_server->Shutdown(absl::Seconds(5));
    committer.Stop();
    ledger_workers.Drain();
  }

  template <typename Stub, typename Req, typename Resp>
  static grpc::Status Invoke(Stub& stub,
                             grpc::Status (Stub::*method)(grpc::ClientContext*, const Req&, Resp*),
                             const Req& req, Resp* resp, const std::string& tenant) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    ctx.AddMetadata(server::kInternalTokenHeader, kToken);
    ctx.AddMetadata(server::kTenantHeader, tenant);
    ctx.AddMetadata(server::kPrincipalHeader, "user:payroll-test");
    return (stub.*method)(&ctx, req, resp);
  }

  template <typename Req, typename Resp>
  grpc::Status Payroll(grpc::Status (PayrollStub::*method)(grpc::ClientContext*, const Req&, Resp*),
                       const Req& req, Resp* resp, const std::string& tenant = kTenant) {
    return Invoke(*payroll, method, req, resp, tenant);
  }
  template <typename Req, typename Resp>
  Resp PayrollOk(grpc::Status (PayrollStub::*method)(grpc::ClientContext*, const Req&, Resp*),
                 const Req& req, const std::string& tenant = kTenant) {
    Resp resp;
    REQUIRE_CODE(Payroll(method, req, &resp, tenant), grpc::StatusCode::OK);
    return resp;
  }
  template <typename Req, typename Resp>
  Resp LedgerOk(grpc::Status (LedgerStub::*method)(grpc::ClientContext*, const Req&, Resp*),
                const Req& req, const std::string& tenant = kTenant) {
    Resp resp;
    REQUIRE_CODE(Invoke(*ledger, method, req, &resp, tenant), grpc::StatusCode::OK);
    return resp;
  }

  // The tenant's ledger: the municipal chart, March and April open, cost centres KP100 and KP200.
  void SetUpLedger(const std::string& tenant = kTenant) {
    ledger_v1::LoadChartTemplateRequest chart;
    chart.set_request_id("setup-chart");
    chart.set_template_("fi-municipal");
    REQUIRE(LedgerOk(&LedgerStub::LoadChartTemplate, chart, tenant).accounts_created() > 0);
    for (const char* period : {kMarch, kApril}) {
      ledger_v1::OpenPeriodRequest open;
      open.set_request_id(absl::StrCat("setup-open-", period));
      open.set_period(period);
      LedgerOk(&LedgerStub::OpenPeriod, open, tenant);
    }
    ledger_v1::DefineDimensionRequest dimension;
    dimension.set_request_id("setup-cost-centres");
    dimension.mutable_dimension()->set_key("cost_centre");
    dimension.mutable_dimension()->set_description("Kustannuspaikka");
    dimension.mutable_dimension()->add_allowed_values(kKevaCostCentre);
    dimension.mutable_dimension()->add_allowed_values(kHourlyCostCentre);
    LedgerOk(&LedgerStub::DefineDimension, dimension, tenant);
  }

  // Settings, the two employees and their tax cards.
  void SetUpPayroll(const std::string& tenant = kTenant) {
    v1::SetPayrollSettingsRequest settings;
    settings.set_request_id("setup-settings");
    settings.mutable_settings()->set_accident_insurance_ppm(5000);  // 0.50 %
    settings.mutable_settings()->set_debtor_name("Esimerkin kunta");
    settings.mutable_settings()->set_debtor_iban("FI2112345600000785");
    settings.mutable_settings()->set_debtor_bic("NDEAFIHH");
    settings.mutable_settings()->set_debtor_business_id("2077474-0");
    PayrollOk(&PayrollStub::SetPayrollSettings, settings, tenant);
    UpsertEmployee("setup-keva", KevaEmployee(), tenant);
    UpsertEmployee("setup-hourly", HourlyEmployee(), tenant);
    SetTaxCard("setup-card-keva", kKevaNumber, 200000, 400000, 3000000,
               tenant);  // 20 % / 40 %, limit 30 000.00
    SetTaxCard("setup-card-hourly", kHourlyNumber, 150000, 350000, 2500000,
               tenant);  // 15 % / 35 %, limit 25 000.00
  }

  v1::Employee UpsertEmployee(const std::string& request_id, const v1::Employee& employee,
                              const std::string& tenant = kTenant) {
    v1::UpsertEmployeeRequest req;
    req.set_request_id(request_id);
    *req.mutable_employee() = employee;
    return PayrollOk(&PayrollStub::UpsertEmployee, req, tenant);
  }

  void SetTaxCard(const std::string& request_id, const std::string& employee, int64_t base_ppm,
                  int64_t additional_ppm, int64_t limit_minor, const std::string& tenant) {
    v1::SetTaxCardRequest req;
    req.set_request_id(request_id);
    req.mutable_tax_card()->set_employee_number(employee);
    req.mutable_tax_card()->set_valid_from("2026-01-01");
    req.mutable_tax_card()->set_base_rate_ppm(base_ppm);
    req.mutable_tax_card()->set_additional_rate_ppm(additional_ppm);
    req.mutable_tax_card()->set_income_limit_minor(limit_minor);
    PayrollOk(&PayrollStub::SetTaxCard, req, tenant);
  }

  int AddItems(const std::string& request_id, const std::vector<v1::PayItem>& items,
               const std::string& tenant = kTenant) {
    v1::AddPayItemsRequest req;
    req.set_request_id(request_id);
    for (const v1::PayItem& item : items) {
      *req.add_items() = item;
    }
    return PayrollOk(&PayrollStub::AddPayItems, req, tenant).added();
  }

  v1::PayRun CreateRun(const std::string& request_id, const std::string& period,
                       const std::string& payment_date, const std::string& tenant = kTenant) {
    v1::CreatePayRunRequest req;
    req.set_request_id(request_id);
    req.set_period(period);
    req.set_payment_date(payment_date);
    return PayrollOk(&PayrollStub::CreatePayRun, req, tenant);
  }

  v1::PayRun Calculate(const std::string& request_id, const std::string& pay_run_id,
                       const std::string& tenant = kTenant) {
    v1::CalculatePayRunRequest req;
    req.set_request_id(request_id);
    req.set_pay_run_id(pay_run_id);
    return PayrollOk(&PayrollStub::CalculatePayRun, req, tenant);
  }

  grpc::Status Approve(const std::string& request_id, const std::string& pay_run_id,
                       v1::PayRun* out, const std::string& tenant = kTenant) {
    v1::ApprovePayRunRequest req;
    req.set_request_id(request_id);
    req.set_pay_run_id(pay_run_id);
    return Payroll(&PayrollStub::ApprovePayRun, req, out, tenant);
  }

  v1::PayRun GetRun(const std::string& pay_run_id, const std::string& tenant = kTenant) {
    v1::GetPayRunRequest req;
    req.set_pay_run_id(pay_run_id);
    return PayrollOk(&PayrollStub::GetPayRun, req, tenant);
  }

  std::vector<v1::Payslip> Payslips(const std::string& pay_run_id,
                                    const std::string& tenant = kTenant) {
    v1::ListPayslipsRequest req;
    req.set_pay_run_id(pay_run_id);
    v1::ListPayslipsResponse resp = PayrollOk(&PayrollStub::ListPayslips, req, tenant);
    REQUIRE(resp.next_page_token().empty());
    return {resp.payslips().begin(), resp.payslips().end()};
  }

  std::vector<ledger_v1::Entry> LedgerEntries(const std::string& source_system = "",
                                              const std::string& tenant = kTenant) {
    ledger_v1::ListEntriesRequest req;
    req.set_source_system(source_system);
    ledger_v1::ListEntriesResponse resp = LedgerOk(&LedgerStub::ListEntries, req, tenant);
    REQUIRE(resp.next_page_token().empty());
    return {resp.entries().begin(), resp.entries().end()};
  }

  // A calculated and approved March run of the standard set-up.
  v1::PayRun ApprovedMarchRun() {
    SetUpLedger();
    SetUpPayroll();
    REQUIRE(AddItems("march-items", MarchItems()) == 5);
    REQUIRE(CreateRun("create-march", kMarch, kMarchPayday).pay_run_id() == kMarchRun);
    Calculate("calculate-march", kMarchRun);
    v1::PayRun approved;
    REQUIRE_CODE(Approve("approve-march", kMarchRun, &approved), grpc::StatusCode::OK);
    REQUIRE(approved.status() == v1::PAY_RUN_STATUS_APPROVED);
    return approved;
  }

  // Runs `sql` on `conninfo` in one transaction with tahe.tenant = `tenant`; the result.
  static pqxx::result Sql(const std::string& conninfo, const std::string& tenant,
                          const std::string& sql) {
    pqxx::connection conn(conninfo);
    pqxx::work tx(conn);
    tx.exec_params("SELECT set_config('tahe.tenant', $1, true)", tenant);
    pqxx::result r = tx.exec(sql);
    tx.commit();
    return r;
  }
  // As the table owner (for set-up, inspection and simulated crashes).
  pqxx::result AsOwner(const std::string& sql, const std::string& tenant = kTenant) {
    return Sql(payroll_db.owner_conninfo(), tenant, sql);
  }
  int64_t OwnerCount(const std::string& sql, const std::string& tenant = kTenant) {
    return AsOwner(sql, tenant)[0][0].as<int64_t>();
  }
  // As the application role, under row-level security.
  int64_t AppCount(const std::string& sql, const std::string& tenant) {
    return Sql(payroll_db.app_conninfo(), tenant, sql)[0][0].as<int64_t>();
  }

  // Rows of every table a rejected request could have written, over all tenants.
  std::map<std::string, int64_t> RowCounts() {
    std::map<std::string, int64_t> counts;
    for (const char* table : {"employees", "tax_cards", "pay_items", "pay_runs", "payslips",
                              "settings", "idempotency", "outbox", "outbox_pending"}) {
      counts[table] = OwnerCount(absl::StrCat("SELECT count(*) FROM ", table));
    }
    return counts;
  }

  // The ledger.
  testing::TestDatabase ledger_db{ledger::Migrations(), "tahe_ledger_app"};
  prometheus::Registry ledger_registry;
  std::unique_ptr<pg::Pool> ledger_pool = OrThrow(
      pg::Pool::Create({.conninfo = ledger_db.app_conninfo(), .size = kPoolSize, .name = "ledger"},
                       &ledger_registry));
  ledger::LedgerMetrics ledger_metrics{&ledger_registry};
  ledger::LedgerRepository ledger_repository{ledger_pool.get(), &ledger_metrics};
  ledger::GroupCommitter committer{&ledger_repository, {.threads = 2, .max_batch = 256}};
  server::Authenticator auth{kToken};
  server::WorkerPool ledger_workers{kPoolSize};
  ledger::LedgerService ledger_service;
  std::unique_ptr<server::GrpcServer> ledger_server;

  // Payroll.
  testing::TestDatabase payroll_db{Migrations(), kPayrollAppRole};
  std::unique_ptr<pg::Pool> payroll_pool = OrThrow(pg::Pool::Create(
      {.conninfo = payroll_db.app_conninfo(), .size = kPoolSize, .name = "payroll"}, nullptr));
  PayrollRepository repository{payroll_pool.get(), {.identity_key = kIdentityKey}};
  server::WorkerPool payroll_workers{kPoolSize};
  std::atomic<int> approvals_announced{0};
  PayrollService payroll_service;
  std::unique_ptr<server::GrpcServer> payroll_server;

  std::shared_ptr<grpc::Channel> ledger_channel;
  std::unique_ptr<LedgerStub> ledger;
  std::unique_ptr<PayrollStub> payroll;
  prometheus::Registry relay_registry;
  std::unique_ptr<OutboxRelay> relay;
};

// --- 1. a full month -----------------------------------------------------------------------------

TEST_CASE("payroll: a full month is calculated, approved, posted once and paid", "[payroll][pg]") {
  Fixture f;
  f.SetUpLedger();
  f.SetUpPayroll();
  REQUIRE(f.AddItems("march-items", MarchItems()) == 5);

  v1::PayRun draft = f.CreateRun("create-march", kMarch, kMarchPayday);
  REQUIRE(draft.pay_run_id() == kMarchRun);
  REQUIRE(draft.status() == v1::PAY_RUN_STATUS_DRAFT);

  v1::PayRun run = f.Calculate("calculate-march", kMarchRun);
  REQUIRE(run.status() == v1::PAY_RUN_STATUS_CALCULATED);
  REQUIRE(run.skipped().empty());
  REQUIRE(std::vector<std::string>(run.rate_table_versions().begin(),
                                   run.rate_table_versions().end()) ==
          std::vector<std::string>{"fi-2026"});
  // Keva's total and the employer health insurance of 2026 are not verified: the run says so.
  REQUIRE(std::find(run.provisional_rates_used().begin(), run.provisional_rates_used().end(),
                    "keva_total") != run.provisional_rates_used().end());

  std::vector<v1::Payslip> slips = f.Payslips(kMarchRun);
  REQUIRE(slips.size() == 2);
  for (const v1::Payslip& slip : slips) {
    RequireNetIdentity(slip);
    REQUIRE(slip.pay_run_id() == kMarchRun);
    REQUIRE(slip.period() == kMarch);
    REQUIRE(slip.payment_date() == kMarchPayday);
  }
  const v1::Payslip& keva = SlipOf(slips, kKevaNumber);
  const v1::Payslip& hourly = SlipOf(slips, kHourlyNumber);
  REQUIRE(keva.figures().DebugString() == KevaMarchFigures().DebugString());
  REQUIRE(hourly.figures().DebugString() == HourlyMarchFigures().DebugString());
  REQUIRE(keva.cost_centre() == kKevaCostCentre);
  REQUIRE(hourly.cost_centre() == kHourlyCostCentre);
  REQUIRE(keva.employee_name() == "Aino Virtanen");
  REQUIRE(keva.year_to_date_taxable_minor() == 350000);
  REQUIRE(hourly.year_to_date_taxable_minor() == 343500);
  // The overtime line explains itself: 10.50 h x 20.00 x 150 % = 315.00.
  bool overtime_seen = false;
  for (const v1::PayslipLine& line : hourly.lines()) {
    if (line.code() == "OVERTIME_50") {
      overtime_seen = true;
      REQUIRE(line.quantity_centi() == 1050);
      REQUIRE(line.base_minor() == 2000);
      REQUIRE(line.rate_ppm() == 1500000);
      REQUIRE(line.amount_minor() == 31500);
      REQUIRE(line.corrects_period().empty());
    }
  }
  REQUIRE(overtime_seen);

  // The run's totals are the sum of its payslips.
  v1::PayRunTotalsFigures sum = SumOf(slips);
  REQUIRE(run.totals().DebugString() == sum.DebugString());
  REQUIRE(run.totals().payslips() == 2);
  REQUIRE(run.totals().gross_cash_minor() == 681500);  // 350 000 + 331 500
  REQUIRE(run.totals().net_pay_minor() == 506677);     // 246 085 + 260 592

  v1::PayRun approved;
  REQUIRE_CODE(f.Approve("approve-march", kMarchRun, &approved), grpc::StatusCode::OK);
  REQUIRE(approved.status() == v1::PAY_RUN_STATUS_APPROVED);
  REQUIRE(approved.totals().DebugString() == sum.DebugString());
  REQUIRE(!approved.approved_at().empty());
  REQUIRE(f.approvals_announced == 1);
  // Nothing reaches the ledger before the relay runs.
  REQUIRE(f.LedgerEntries().empty());

  REQUIRE(f.relay->DeliverDue() == 1);
  REQUIRE(CounterSum(f.relay_registry, "tahe_payroll_outbox_delivered_total") == 1);

  std::vector<ledger_v1::Entry> all = f.LedgerEntries();
  std::vector<ledger_v1::Entry> payroll_entries = f.LedgerEntries("payroll");
  REQUIRE(all.size() == 1);
  REQUIRE(payroll_entries.size() == 1);
  ledger_v1::GetEntryRequest get;
  get.set_sequence(payroll_entries[0].sequence());
  ledger_v1::Entry entry = f.LedgerOk(&LedgerStub::GetEntry, get);
  REQUIRE(entry.source().system() == "payroll");
  REQUIRE(entry.source().reference() == kMarchRun);
  REQUIRE(entry.request_id() == absl::StrCat("payroll-", kTenant, "-", kMarchRun));
  REQUIRE(entry.entry_date() == kMarchPayday);
  REQUIRE(SumOfLines(entry) == 0);
  // Expenses per cost centre, liabilities for the whole run (finnish-rules.md §7).
  const std::map<std::pair<std::string, std::string>, int64_t> want = {
      {{"4000", kKevaCostCentre}, 350000},  // wages = gross cash pay
      {{"4100", kKevaCostCentre}, 59850},   // employer pension
      {{"4150", kKevaCostCentre}, 9380},    // 1 085 + 6 545 + 1 750
      {{"4000", kHourlyCostCentre}, 331500},
      {{"4700", kHourlyCostCentre}, 13750},  // mileage
      {{"4100", kHourlyCostCentre}, 58739},
      {{"4150", kHourlyCostCentre}, 9206},  // 1 065 + 6 423 + 1 718
      {{"2870", ""}, -121525},              // withholding 70 000 + 51 525
      {{"2871", ""}, -169215},              // pensions 25 550 + 25 076 + 59 850 + 58 739
      {{"2872", ""}, -8322},                // unemployment 3 115 + 3 057 + 1 085 + 1 065
      {{"2873", ""}, -12968},               // health 6 545 + 6 423
      {{"2900", ""}, -13718},               // union 5 250 + deduction 5 000 + accident 3 468
      {{"2880", ""}, -506677},              // net pay
  };
  INFO("entry: " << entry.ShortDebugString());
  REQUIRE(LinesOf(entry) == want);
  REQUIRE(entry.lines_size() == static_cast<int>(want.size()));
  // Each cost centre's wages equal its payslips' gross cash pay; net pay payable the run's net.
  REQUIRE(LinesOf(entry).at({"4000", kKevaCostCentre}) == keva.figures().gross_cash_minor());
  REQUIRE(LinesOf(entry).at({"4000", kHourlyCostCentre}) == hourly.figures().gross_cash_minor());
  REQUIRE(-LinesOf(entry).at({"2880", ""}) == approved.totals().net_pay_minor());

  v1::PayRun posted = f.GetRun(kMarchRun);
  REQUIRE(posted.status() == v1::PAY_RUN_STATUS_POSTED);
  REQUIRE(posted.ledger_sequence() == entry.sequence());
  REQUIRE(posted.delivery_error().empty());
  REQUIRE(!posted.posted_at().empty());

  // Delivered means delivered: the next pass finds nothing.
  REQUIRE(f.relay->DeliverDue() == 0);
  REQUIRE(f.LedgerEntries().size() == 1);
  REQUIRE(f.OwnerCount("SELECT count(*) FROM outbox_pending") == 0);

  // The SEPA file of the net pays.
  v1::GetPaymentFileRequest file_req;
  file_req.set_pay_run_id(kMarchRun);
  v1::PaymentFile file = f.PayrollOk(&PayrollStub::GetPaymentFile, file_req);
  REQUIRE(file.transactions() == 2);
  REQUIRE(file.control_sum_minor() == 506677);
  REQUIRE(file.content_type() == "application/xml");
  INFO("the schema must be at " << TAHE_PAIN_001_XSD);
  REQUIRE(std::filesystem::is_regular_file(TAHE_PAIN_001_XSD));
  Validation validation = ValidateAgainstSchema(file.content());
  INFO("xmllint: " << validation.output);
  REQUIRE(validation.exit_code == 0);
  std::vector<std::string> control_sums = ElementTexts(file.content(), "CtrlSum");
  REQUIRE(control_sums.size() == 2);  // group header and payment information
  for (const std::string& control_sum : control_sums) {
    REQUIRE(ParseCents(control_sum) == posted.totals().net_pay_minor());
  }
  std::vector<int64_t> amounts;
  for (const std::string& amount : ElementTexts(file.content(), "InstdAmt")) {
    amounts.push_back(ParseCents(amount));
  }
  // Ordered by employee number: E1001 then E2002.
  REQUIRE(amounts == std::vector<int64_t>{246085, 260592});
  REQUIRE(absl::StrContains(file.content(), kKevaIban));
  REQUIRE(absl::StrContains(file.content(), kHourlyIban));
  REQUIRE(absl::StrContains(file.content(), "FI2112345600000785"));
}

// --- 2. exactly once under failure ---------------------------------------------------------------

TEST_CASE("payroll: a posting waits while the ledger is down and is delivered once it is up",
          "[payroll][pg]") {
  Fixture f;
  f.ApprovedMarchRun();

  {
    // Nothing listens on port 1: every call fails at once with UNAVAILABLE.
    prometheus::Registry down_registry;
    OutboxRelay down(&f.repository,
                     grpc::CreateChannel("127.0.0.1:1", grpc::InsecureChannelCredentials()), kToken,
                     &down_registry, {.call_timeout = absl::Seconds(5)});
    REQUIRE(down.DeliverDue() == 0);
    REQUIRE(CounterSum(down_registry, "tahe_payroll_outbox_delivery_failures_total") == 1);
  }
  v1::PayRun waiting = f.GetRun(kMarchRun);
  REQUIRE(waiting.status() == v1::PAY_RUN_STATUS_APPROVED);
  INFO("delivery_error: " << waiting.delivery_error());
  REQUIRE(absl::StrContains(waiting.delivery_error(), "UNAVAILABLE"));
  REQUIRE(waiting.ledger_sequence() == 0);
  REQUIRE(f.LedgerEntries().empty());
  pqxx::result outbox = f.AsOwner("SELECT attempts, last_error, delivered_at IS NULL FROM outbox");
  REQUIRE(outbox.size() == 1);
  REQUIRE(outbox[0][0].as<int>() == 1);
  REQUIRE(outbox[0][1].as<std::string>() == waiting.delivery_error());
  REQUIRE(outbox[0][2].as<bool>());
  REQUIRE(f.OwnerCount("SELECT count(*) FROM outbox_pending") == 1);

  // The failed attempt set a backoff of 1 s; make the message due now instead of waiting.
  f.AsOwner("UPDATE outbox SET next_attempt_at = now()");
  REQUIRE(f.relay->DeliverDue() == 1);
  std::vector<ledger_v1::Entry> entries = f.LedgerEntries("payroll");
  REQUIRE(entries.size() == 1);
  REQUIRE(LinesOf(entries[0]).at({"2880", ""}) == -506677);
  v1::PayRun posted = f.GetRun(kMarchRun);
  REQUIRE(posted.status() == v1::PAY_RUN_STATUS_POSTED);
  REQUIRE(posted.ledger_sequence() == entries[0].sequence());
  REQUIRE(posted.delivery_error().empty());
  REQUIRE(f.relay->DeliverDue() == 0);
  REQUIRE(f.LedgerEntries().size() == 1);
}

TEST_CASE(
    "payroll: a relay that dies between the ledger's commit and marking delivered "
    "posts nothing twice",
    "[payroll][pg]") {
  Fixture f;
  f.ApprovedMarchRun();
  REQUIRE(f.relay->DeliverDue() == 1);
  std::vector<ledger_v1::Entry> before = f.LedgerEntries();
  REQUIRE(before.size() == 1);
  REQUIRE(CounterSum(f.ledger_registry, "tahe_ledger_entries_replayed_total") == 0);

  // The state a crash after the ledger's commit leaves: MarkDelivered's transaction never ran, so
  // the message looks undelivered and the run is still only approved.
  f.AsOwner(
      "UPDATE outbox SET delivered_at = NULL;"
      " INSERT INTO outbox_pending (tenant_id, message_id) SELECT tenant_id, message_id"
      " FROM outbox;"
      " UPDATE pay_runs SET status = 3, ledger_sequence = 0, posted_at = NULL");
  REQUIRE(f.OwnerCount("SELECT count(*) FROM outbox_pending") == 1);
  REQUIRE(f.GetRun(kMarchRun).status() == v1::PAY_RUN_STATUS_APPROVED);
  REQUIRE(f.GetRun(kMarchRun).ledger_sequence() == 0);

  REQUIRE(f.relay->DeliverDue() == 1);
  // The ledger recognised the request id and answered with the entry it already had.
  REQUIRE(CounterSum(f.ledger_registry, "tahe_ledger_entries_replayed_total") == 1);
  std::vector<ledger_v1::Entry> after = f.LedgerEntries();
  REQUIRE(after.size() == 1);
  REQUIRE(after[0].sequence() == before[0].sequence());
  REQUIRE(after[0].hash() == before[0].hash());
  REQUIRE(f.LedgerEntries("payroll").size() == 1);
  v1::PayRun posted = f.GetRun(kMarchRun);
  REQUIRE(posted.status() == v1::PAY_RUN_STATUS_POSTED);
  REQUIRE(posted.ledger_sequence() == before[0].sequence());
  REQUIRE(f.OwnerCount("SELECT count(*) FROM outbox_pending") == 0);
  REQUIRE(f.OwnerCount("SELECT count(*) FROM outbox WHERE delivered_at IS NOT NULL") == 1);

  // The stored payload itself, posted again by hand, is a replay of the same entry.
  pqxx::result payload = f.AsOwner("SELECT encode(payload, 'hex') FROM outbox");
  ledger_v1::PostEntryRequest again;
  REQUIRE(again.ParseFromString(absl::HexStringToBytes(payload[0][0].as<std::string>())));
  REQUIRE(again.request_id() == absl::StrCat("payroll-", kTenant, "-", kMarchRun));
  ledger_v1::PostEntryResponse replayed = f.LedgerOk(&LedgerStub::PostEntry, again);
  REQUIRE(replayed.replayed());
  REQUIRE(replayed.entry().sequence() == before[0].sequence());
  REQUIRE(f.LedgerEntries().size() == 1);
}

// --- 3. bad input --------------------------------------------------------------------------------

TEST_CASE("payroll: bad input is refused naming the field and writes nothing", "[payroll][pg]") {
  Fixture f;
  f.SetUpPayroll();
  // What the tables must hold after the refusal: what they held before it.
  std::map<std::string, int64_t> expected_rows = f.RowCounts();

  auto upsert = [&](const std::string& request_id, const v1::Employee& employee) {
    v1::UpsertEmployeeRequest req;
    req.set_request_id(request_id);
    *req.mutable_employee() = employee;
    v1::Employee resp;
    return f.Payroll(&PayrollStub::UpsertEmployee, req, &resp);
  };

  SECTION("a personal identity code whose check character is wrong, never quoted back") {
    v1::Employee e = KevaEmployee();
    e.set_employee_number("E3003");
    e.set_personal_identity_code("131052-308U");
    grpc::Status s = upsert("bad-hetu", e);
    REQUIRE_REFUSED(s, grpc::StatusCode::INVALID_ARGUMENT, "employee.personal_identity_code");
    REQUIRE(!absl::StrContains(s.error_message(), "131052"));
    REQUIRE(!absl::StrContains(s.error_message(), "308U"));
  }
  SECTION("an IBAN whose check digits are wrong") {
    v1::Employee e = KevaEmployee();
    e.set_employee_number("E3003");
    e.set_iban("FI2112345600000786");
    grpc::Status s = upsert("bad-iban", e);
    REQUIRE_REFUSED(s, grpc::StatusCode::INVALID_ARGUMENT, "employee.iban");
    REQUIRE(!absl::StrContains(s.error_message(), "FI2112345600000786"));
  }
  SECTION("an employment without a cost centre") {
    v1::Employee e = KevaEmployee();
    e.set_employee_number("E3003");
    e.mutable_employment()->clear_cost_centre();
    REQUIRE_REFUSED(upsert("no-cost-centre", e), grpc::StatusCode::INVALID_ARGUMENT,
                    "employee.employment.cost_centre");
  }
  SECTION("a batch of pay items with one for an unknown employee stores none of them") {
    v1::AddPayItemsRequest req;
    req.set_request_id("items-unknown");
    *req.add_items() =
        QuantityItem("ok-1", kHourlyNumber, kMarch, v1::PAY_ITEM_KIND_HOURLY_WORK, 1000, 2000);
    *req.add_items() =
        AmountItem("unknown-1", "E9999", kMarch, v1::PAY_ITEM_KIND_EVENING_SUPPLEMENT, 1000);
    *req.add_items() =
        AmountItem("ok-2", kKevaNumber, kMarch, v1::PAY_ITEM_KIND_PHONE_BENEFIT, 2000);
    v1::AddPayItemsResponse resp;
    REQUIRE_REFUSED(f.Payroll(&PayrollStub::AddPayItems, req, &resp), grpc::StatusCode::NOT_FOUND,
                    "items[1].employee_number");
    REQUIRE(f.PayrollOk(&PayrollStub::ListPayItems, v1::ListPayItemsRequest()).items().empty());
  }
  SECTION("overtime without a quantity") {
    v1::AddPayItemsRequest req;
    req.set_request_id("items-overtime");
    *req.add_items() =
        QuantityItem("ok-1", kHourlyNumber, kMarch, v1::PAY_ITEM_KIND_HOURLY_WORK, 1000, 2000);
    *req.add_items() =
        AmountItem("ot-1", kHourlyNumber, kMarch, v1::PAY_ITEM_KIND_OVERTIME_50, 30000);
    v1::AddPayItemsResponse resp;
    REQUIRE_REFUSED(f.Payroll(&PayrollStub::AddPayItems, req, &resp),
                    grpc::StatusCode::INVALID_ARGUMENT, "items[1].quantity_centi");
    REQUIRE(f.PayrollOk(&PayrollStub::ListPayItems, v1::ListPayItemsRequest()).items().empty());
  }
  SECTION("a tax card rate above 100 %") {
    v1::SetTaxCardRequest req;
    req.set_request_id("card-too-high");
    req.mutable_tax_card()->set_employee_number(kKevaNumber);
    req.mutable_tax_card()->set_valid_from("2026-06-01");
    req.mutable_tax_card()->set_base_rate_ppm(1000001);
    req.mutable_tax_card()->set_additional_rate_ppm(400000);
    req.mutable_tax_card()->set_income_limit_minor(3000000);
    v1::TaxCard resp;
    REQUIRE_REFUSED(f.Payroll(&PayrollStub::SetTaxCard, req, &resp),
                    grpc::StatusCode::INVALID_ARGUMENT, "tax_card.base_rate_ppm");
    v1::ListTaxCardsRequest list;
    list.set_employee_number(kKevaNumber);
    REQUIRE(f.PayrollOk(&PayrollStub::ListTaxCards, list).tax_cards_size() == 1);
  }
  SECTION("a request id replayed with different content") {
    v1::Employee e = KevaEmployee();
    e.set_last_name("Korhonen");
    REQUIRE_REFUSED(upsert("setup-keva", e), grpc::StatusCode::ALREADY_EXISTS, "request_id");
    v1::GetEmployeeRequest get;
    get.set_employee_number(kKevaNumber);
    REQUIRE(f.PayrollOk(&PayrollStub::GetEmployee, get).last_name() == "Virtanen");
    // The same request again is answered with the first result, and writes nothing either.
    REQUIRE_CODE(upsert("setup-keva", KevaEmployee()), grpc::StatusCode::OK);
  }
  SECTION("an item id reused for a different item") {
    REQUIRE(f.AddItems("items-first", {AmountItem("item-1", kKevaNumber, kMarch,
                                                  v1::PAY_ITEM_KIND_PHONE_BENEFIT, 2000)}) == 1);
    expected_rows = f.RowCounts();
    v1::AddPayItemsRequest req;
    req.set_request_id("items-second");
    *req.add_items() =
        AmountItem("item-1", kKevaNumber, kMarch, v1::PAY_ITEM_KIND_PHONE_BENEFIT, 2500);
    v1::AddPayItemsResponse resp;
    REQUIRE_REFUSED(f.Payroll(&PayrollStub::AddPayItems, req, &resp),
                    grpc::StatusCode::ALREADY_EXISTS, "items[0].item_id");
  }
  REQUIRE(f.RowCounts() == expected_rows);
  v1::ListEmployeesResponse employees =
      f.PayrollOk(&PayrollStub::ListEmployees, v1::ListEmployeesRequest());
  REQUIRE(employees.employees_size() == 2);
}

// --- 4. tenant isolation -------------------------------------------------------------------------

TEST_CASE("payroll: one tenant's employees, runs and payslips are invisible to another",
          "[payroll][pg]") {
  Fixture f;
  f.ApprovedMarchRun();
  REQUIRE(f.relay->DeliverDue() == 1);

  // Through the API.
  v1::GetEmployeeRequest get_employee;
  get_employee.set_employee_number(kKevaNumber);
  v1::Employee employee;
  REQUIRE_CODE(f.Payroll(&PayrollStub::GetEmployee, get_employee, &employee, kOtherTenant),
               grpc::StatusCode::NOT_FOUND);
  REQUIRE(f.PayrollOk(&PayrollStub::ListEmployees, v1::ListEmployeesRequest(), kOtherTenant)
              .employees()
              .empty());
  v1::ListTaxCardsRequest cards;
  cards.set_employee_number(kKevaNumber);
  REQUIRE(f.PayrollOk(&PayrollStub::ListTaxCards, cards, kOtherTenant).tax_cards().empty());
  REQUIRE(f.PayrollOk(&PayrollStub::ListPayItems, v1::ListPayItemsRequest(), kOtherTenant)
              .items()
              .empty());
  v1::GetPayRunRequest get_run;
  get_run.set_pay_run_id(kMarchRun);
  v1::PayRun run;
  REQUIRE_CODE(f.Payroll(&PayrollStub::GetPayRun, get_run, &run, kOtherTenant),
               grpc::StatusCode::NOT_FOUND);
  REQUIRE(f.PayrollOk(&PayrollStub::ListPayRuns, v1::ListPayRunsRequest(), kOtherTenant)
              .pay_runs()
              .empty());
  v1::ListPayslipsRequest slips;
  slips.set_pay_run_id(kMarchRun);
  v1::ListPayslipsResponse slips_resp;
  REQUIRE_CODE(f.Payroll(&PayrollStub::ListPayslips, slips, &slips_resp, kOtherTenant),
               grpc::StatusCode::NOT_FOUND);
  v1::GetPaymentFileRequest file;
  file.set_pay_run_id(kMarchRun);
  v1::PaymentFile file_resp;
  REQUIRE_CODE(f.Payroll(&PayrollStub::GetPaymentFile, file, &file_resp, kOtherTenant),
               grpc::StatusCode::NOT_FOUND);
  v1::CalculatePayRunRequest calculate;
  calculate.set_request_id("steal-calculate");
  calculate.set_pay_run_id(kMarchRun);
  REQUIRE_CODE(f.Payroll(&PayrollStub::CalculatePayRun, calculate, &run, kOtherTenant),
               grpc::StatusCode::NOT_FOUND);
  // The other tenant's settings are its own (the defaults), not the first tenant's debtor.
  REQUIRE(
      f.PayrollOk(&PayrollStub::GetPayrollSettings, v1::GetPayrollSettingsRequest(), kOtherTenant)
          .debtor_iban()
          .empty());

  // The same employee number and run id are free in the other tenant and change nothing here.
  v1::Employee other = KevaEmployee();
  other.set_first_name("Eeva");
  other.mutable_employment()->set_monthly_salary_minor(410000);
  f.UpsertEmployee("setup-keva", other, kOtherTenant);
  v1::PayRun other_run = f.CreateRun("create-march", kMarch, kMarchPayday, kOtherTenant);
  REQUIRE(other_run.pay_run_id() == kMarchRun);
  v1::PayRun other_calculated = f.Calculate("calculate-march", kMarchRun, kOtherTenant);
  REQUIRE(other_calculated.totals().payslips() == 1);
  REQUIRE(other_calculated.totals().gross_cash_minor() == 410000);
  REQUIRE(f.PayrollOk(&PayrollStub::GetEmployee, get_employee).first_name() == "Aino");
  REQUIRE(f.GetRun(kMarchRun).status() == v1::PAY_RUN_STATUS_POSTED);
  REQUIRE(f.GetRun(kMarchRun).totals().gross_cash_minor() == 681500);
  REQUIRE(f.Payslips(kMarchRun).size() == 2);
  REQUIRE(f.Payslips(kMarchRun, kOtherTenant).size() == 1);

  // The relay delivers each tenant's posting to that tenant's ledger.
  f.SetUpLedger(kOtherTenant);
  v1::PayRun other_approved;
  REQUIRE_CODE(f.Approve("approve-march", kMarchRun, &other_approved, kOtherTenant),
               grpc::StatusCode::OK);
  REQUIRE(f.relay->DeliverDue() == 1);
  std::vector<ledger_v1::Entry> other_entries = f.LedgerEntries("payroll", kOtherTenant);
  REQUIRE(other_entries.size() == 1);
  REQUIRE(other_entries[0].request_id() == absl::StrCat("payroll-", kOtherTenant, "-", kMarchRun));
  REQUIRE(LinesOf(other_entries[0]).at({"4000", kKevaCostCentre}) == 410000);
  REQUIRE(f.LedgerEntries("payroll").size() == 1);
  REQUIRE(LinesOf(f.LedgerEntries("payroll")[0]).at({"4000", kKevaCostCentre}) == 350000);
  REQUIRE(f.GetRun(kMarchRun, kOtherTenant).status() == v1::PAY_RUN_STATUS_POSTED);

  // By row-level security, as the application role.
  REQUIRE(f.AppCount("SELECT count(*) FROM employees", kTenant) == 2);
  REQUIRE(f.AppCount("SELECT count(*) FROM employees", kOtherTenant) == 1);
  REQUIRE(f.AppCount("SELECT count(*) FROM employees WHERE tenant_id = 'lahti'", kOtherTenant) ==
          0);
  REQUIRE(f.AppCount("SELECT count(*) FROM employees", "nobody") == 0);
  REQUIRE(f.AppCount("SELECT count(*) FROM payslips WHERE tenant_id = 'lahti'", kOtherTenant) == 0);
  REQUIRE(f.AppCount("SELECT count(*) FROM pay_runs WHERE tenant_id = 'lahti'", kOtherTenant) == 0);
  REQUIRE(f.AppCount("SELECT count(*) FROM outbox WHERE tenant_id = 'lahti'", kOtherTenant) == 0);
  // Nor can the application role write into another tenant's rows.
  REQUIRE_THROWS_WITH(
      f.AppCount("INSERT INTO pay_items (tenant_id, item_id, employee_number, period,"
                 " kind, amount_minor) VALUES ('lahti', 'x', 'E1001', '2026-03', 12, 1)"
                 " RETURNING 1",
                 kOtherTenant),
      Catch::Matchers::Contains("row-level security"));
}

// --- 5. recalculation and approval rules -------------------------------------------------------

TEST_CASE(
    "payroll: recalculation replaces payslips, approval is final and idempotent, late items "
    "correct their period in the next run",
    "[payroll][pg]") {
  Fixture f;
  f.SetUpLedger();
  f.SetUpPayroll();
  REQUIRE(f.AddItems("march-items", MarchItems()) == 5);
  f.CreateRun("create-march", kMarch, kMarchPayday);
  v1::PayRun first = f.Calculate("calculate-march", kMarchRun);
  REQUIRE(first.totals().net_pay_minor() == 506677);
  REQUIRE(f.Payslips(kMarchRun).size() == 2);

  // An evening supplement of 100.00 arrives before approval; the run is calculated again.
  REQUIRE(f.AddItems("march-evening", {AmountItem("2026-03-E2002-evening", kHourlyNumber, kMarch,
                                                  v1::PAY_ITEM_KIND_EVENING_SUPPLEMENT, 10000)}) ==
          1);
  v1::PayRun second = f.Calculate("recalculate-march", kMarchRun);
  REQUIRE(second.status() == v1::PAY_RUN_STATUS_CALCULATED);
  std::vector<v1::Payslip> slips = f.Payslips(kMarchRun);
  REQUIRE(slips.size() == 2);
  REQUIRE(f.OwnerCount("SELECT count(*) FROM payslips") == 2);
  REQUIRE(second.totals().DebugString() == SumOf(slips).DebugString());
  REQUIRE(second.totals().payslips() == 2);
  REQUIRE(second.totals().gross_cash_minor() == 691500);  // 681 500 + 10 000
  // The hourly employee's taxable pay is now 353 500: withholding 15 % = 53 025, pension 7.30 %
  // = 25 805.5 -> 25 806, unemployment 0.89 % = 3 146.15 -> 3 146; net 341 500 - 53 025
  // - 25 806 - 3 146 - 5 000 + 13 750 = 268 273.
  const v1::Payslip& hourly = SlipOf(slips, kHourlyNumber);
  RequireNetIdentity(hourly);
  REQUIRE(hourly.figures().withholding_minor() == 53025);
  REQUIRE(hourly.figures().employee_pension_minor() == 25806);
  REQUIRE(hourly.figures().employee_unemployment_minor() == 3146);
  REQUIRE(hourly.figures().net_pay_minor() == 268273);
  REQUIRE(second.totals().net_pay_minor() == 514358);  // 246 085 + 268 273
  // The Keva employee's payslip did not change.
  REQUIRE(SlipOf(slips, kKevaNumber).figures().DebugString() == KevaMarchFigures().DebugString());

  // Approving twice with the same request id returns the same run.
  v1::PayRun approved;
  REQUIRE_CODE(f.Approve("approve-march", kMarchRun, &approved), grpc::StatusCode::OK);
  v1::PayRun again;
  REQUIRE_CODE(f.Approve("approve-march", kMarchRun, &again), grpc::StatusCode::OK);
  REQUIRE(again.DebugString() == approved.DebugString());
  REQUIRE(f.OwnerCount("SELECT count(*) FROM outbox") == 1);
  REQUIRE(f.OwnerCount("SELECT count(*) FROM totals_feed") == 1);
  // Another approval of it is refused, as are cancelling and recalculating it.
  v1::PayRun refused;
  REQUIRE_REFUSED(f.Approve("approve-march-again", kMarchRun, &refused),
                  grpc::StatusCode::FAILED_PRECONDITION, "pay_run_id");
  v1::CancelPayRunRequest cancel;
  cancel.set_request_id("cancel-march");
  cancel.set_pay_run_id(kMarchRun);
  REQUIRE_REFUSED(f.Payroll(&PayrollStub::CancelPayRun, cancel, &refused),
                  grpc::StatusCode::FAILED_PRECONDITION, "pay_run_id");
  v1::CalculatePayRunRequest calculate;
  calculate.set_request_id("calculate-approved");
  calculate.set_pay_run_id(kMarchRun);
  REQUIRE_REFUSED(f.Payroll(&PayrollStub::CalculatePayRun, calculate, &refused),
                  grpc::StatusCode::FAILED_PRECONDITION, "pay_run_id");
  REQUIRE(f.GetRun(kMarchRun).status() == v1::PAY_RUN_STATUS_APPROVED);
  REQUIRE(f.Payslips(kMarchRun).size() == 2);

  // Every March item is now paid by the March run.
  v1::ListPayItemsRequest march_items;
  march_items.set_period(kMarch);
  v1::ListPayItemsResponse paid = f.PayrollOk(&PayrollStub::ListPayItems, march_items);
  REQUIRE(paid.items_size() == 6);
  for (const v1::PayItem& item : paid.items()) {
    REQUIRE(item.paid_in_pay_run() == kMarchRun);
  }

  // Two more overtime hours of March, reported after March was paid: 2.00 h x 20.00 x 1.5 = 60.00.
  REQUIRE(f.AddItems("march-late", {QuantityItem("2026-03-E2002-ot50-late", kHourlyNumber, kMarch,
                                                 v1::PAY_ITEM_KIND_OVERTIME_50, 200, 2000)}) == 1);
  v1::PayRun april = f.CreateRun("create-april", kApril, kAprilPayday);
  REQUIRE(april.pay_run_id() == "2026-04-1");
  v1::PayRun april_calculated = f.Calculate("calculate-april", april.pay_run_id());
  std::vector<v1::Payslip> april_slips = f.Payslips(april.pay_run_id());
  REQUIRE(april_slips.size() == 2);
  const v1::Payslip& late = SlipOf(april_slips, kHourlyNumber);
  REQUIRE(late.lines_size() > 0);
  const v1::PayslipLine& correction = late.lines(0);
  REQUIRE(correction.code() == "OVERTIME_50");
  REQUIRE(correction.corrects_period() == kMarch);
  REQUIRE(correction.quantity_centi() == 200);
  REQUIRE(correction.amount_minor() == 6000);
  int pay_item_lines = 0;
  for (const v1::PayslipLine& line : late.lines()) {
    if (line.code() == "HOURLY_PAY" || line.code() == "OVERTIME_50" ||
        line.code() == "MEAL_BENEFIT" || line.code() == "MILEAGE_ALLOWANCE") {
      ++pay_item_lines;
    }
  }
  REQUIRE(pay_item_lines == 1);  // March's own items are not paid again
  // 6 000 taxed at 15 % = 900, pension 438, unemployment 53.4 -> 53: net 6 000 - 900 - 438 - 53.
  REQUIRE(late.figures().gross_cash_minor() == 6000);
  REQUIRE(late.figures().net_pay_minor() == 4609);
  RequireNetIdentity(late);
  // Year-to-date taxable pay carries the approved March run: 353 500 + 6 000; 350 000 x 2.
  REQUIRE(late.year_to_date_taxable_minor() == 359500);
  REQUIRE(SlipOf(april_slips, kKevaNumber).year_to_date_taxable_minor() == 700000);
  REQUIRE(SlipOf(april_slips, kKevaNumber).figures().net_pay_minor() == 246085);
  REQUIRE(april_calculated.totals().DebugString() == SumOf(april_slips).DebugString());
}

TEST_CASE("payroll: the posting books each payslip to the cost centre it was calculated with",
          "[payroll][pg]") {
  Fixture f;
  f.SetUpLedger();
  f.SetUpPayroll();
  REQUIRE(f.AddItems("march-items", MarchItems()) == 5);
  f.CreateRun("create-march", kMarch, kMarchPayday);
  f.Calculate("calculate-march", kMarchRun);
  // The hourly employee moves to KP100 after the run was calculated: the payslip (and so the
  // posting) keeps the cost centre the pay was earned in.
  v1::Employee moved = HourlyEmployee();
  moved.mutable_employment()->set_cost_centre(kKevaCostCentre);
  f.UpsertEmployee("move-hourly", moved);
  REQUIRE(SlipOf(f.Payslips(kMarchRun), kHourlyNumber).cost_centre() == kHourlyCostCentre);
  v1::PayRun approved;
  REQUIRE_CODE(f.Approve("approve-march", kMarchRun, &approved), grpc::StatusCode::OK);
  REQUIRE(f.relay->DeliverDue() == 1);
  std::vector<ledger_v1::Entry> entries = f.LedgerEntries("payroll");
  REQUIRE(entries.size() == 1);
  INFO("entry: " << entries[0].ShortDebugString());
  const auto lines = LinesOf(entries[0]);
  REQUIRE(lines.at({"4000", kKevaCostCentre}) == 350000);
  REQUIRE(lines.at({"4000", kHourlyCostCentre}) == 331500);
  REQUIRE(lines.at({"4700", kHourlyCostCentre}) == 13750);
}

// --- 6. the personal identity code ---------------------------------------------------------------

TEST_CASE("payroll: the personal identity code is never stored or returned", "[payroll][pg]") {
  Fixture f;
  f.SetUpPayroll();
  v1::GetEmployeeRequest get;
  get.set_employee_number(kKevaNumber);
  v1::Employee employee = f.PayrollOk(&PayrollStub::GetEmployee, get);
  REQUIRE(employee.personal_identity_code().empty());
  REQUIRE(employee.birth_date() == "1980-06-15");
  REQUIRE(!absl::StrContains(employee.SerializeAsString(), kKevaIdentityCode));
  v1::ListEmployeesResponse list =
      f.PayrollOk(&PayrollStub::ListEmployees, v1::ListEmployeesRequest());
  REQUIRE(list.employees_size() == 2);
  for (const v1::Employee& e : list.employees()) {
    REQUIRE(e.personal_identity_code().empty());
  }
  REQUIRE(!absl::StrContains(list.SerializeAsString(), kKevaIdentityCode));
  REQUIRE(!absl::StrContains(list.SerializeAsString(), kHourlyIdentityCode));
  // The replay of the upsert (from the idempotency table) does not return it either.
  REQUIRE(f.UpsertEmployee("setup-keva", KevaEmployee()).personal_identity_code().empty());

  // As the owner: no column of any row of employees holds the code, nor any other table (bytea
  // columns are searched as bytes).
  REQUIRE(f.OwnerCount("SELECT count(*) FROM employees") == 2);
  pqxx::result tables = f.AsOwner(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
      " AND table_type = 'BASE TABLE'");
  REQUIRE(tables.size() >= 10);
  for (const char* code : {kKevaIdentityCode, kHourlyIdentityCode}) {
    const std::string hex = absl::BytesToHexString(code);
    const std::string digits = std::string(code).substr(0, 6) + std::string(code).substr(7, 3);
    for (const auto& row : tables) {
      const std::string table = row[0].as<std::string>();
      INFO("table " << table << ", code of " << code);
      REQUIRE(f.OwnerCount(absl::StrCat(
                  "SELECT count(*) FROM ", table, " t WHERE strpos(upper(row_to_json(t)::text), '",
                  code, "') > 0 OR strpos(row_to_json(t)::text, '", digits,
                  "') > 0 OR strpos(row_to_json(t)::text, '", hex, "') > 0")) == 0);
    }
  }
  // The stored hash is keyed: 64 hex digits, and not the plain SHA-256 of the code.
  pqxx::result hashes = f.AsOwner(
      "SELECT identity_hash, encode(sha256(convert_to(upper('150680-1234'), 'UTF8')), 'hex'),"
      " birth_date::text FROM employees WHERE employee_number = 'E1001'");
  REQUIRE(hashes.size() == 1);
  REQUIRE(hashes[0][0].as<std::string>().size() == 64);
  REQUIRE(hashes[0][0].as<std::string>() != hashes[0][1].as<std::string>());
  REQUIRE(hashes[0][2].as<std::string>() == "1980-06-15");
}

}  // namespace
}  // namespace tahe::payroll
