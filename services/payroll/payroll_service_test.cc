// Integration tests of the payroll service, wired the way main.cc wires it but in-process:
// Pool -> PayrollRepository (a fresh PostgreSQL database, connected as a member of
// tahe_payroll_app, so under row-level security) -> PayrollService -> GrpcServer on 127.0.0.1:0,
// and behind it the real ledger (LedgerRepository -> GroupCommitter -> LedgerService ->
// GrpcServer) that the outbox relay (libs/outbox) delivers approved runs to. Both are called
// through the generated stubs with the internal token and x-tahe-tenant, as the gateway calls them.
// The relay runs no thread here: each test calls DeliverDue(), so every delivery happens at a known
// point.
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
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "libs/metrics/registry_for_test.h"
#include "libs/outbox/outbox.h"
#include "libs/pg/pg.h"
#include "libs/server/call.h"
#include "libs/server/grpc_server.h"
#include "libs/server/worker_pool.h"
#include "libs/status/status.h"
#include "libs/testing/pg_fixture.h"
#include "libs/testing/xml_schema.h"
#include "services/ledger/group_commit.h"
#include "services/ledger/ledger_migrations.h"
#include "services/ledger/ledger_repository.h"
#include "services/ledger/ledger_service.h"
#include "services/payroll/payroll_repository.h"
#include "tahe/ledger/v1/ledger.grpc.pb.h"
#include "tahe/payroll/v1/payroll.grpc.pb.h"

namespace tahe::payroll {
namespace {

namespace ledger_v1 = ::tahe::ledger::v1;
using LedgerStub = ledger_v1::LedgerService::Stub;
using PayrollStub = v1::PayrollService::Stub;
using metrics::CounterSum;
using metrics::HistogramCount;

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
constexpr char kAprilRun[] = "2026-04-1";
// How often the watch streams poll here (the default is 200 ms).
constexpr absl::Duration kWatchPollInterval = absl::Milliseconds(20);

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

// A valid personal identity code for person `i`: born 1960-1968 (contribution ages 57-66 in March
// 2026), check character by the mod-31 rule.
std::string IdentityCode(int i) {
  const int day = 1 + i % 28;
  const int month = 1 + (i / 28) % 12;
  const int year = 60 + (i / 336) % 9;
  const int individual = 2 + i % 898;
  int64_t n = 0;
  REQUIRE(absl::SimpleAtoi(absl::StrFormat("%02d%02d%02d%03d", day, month, year, individual), &n));
  constexpr char kCheck[] = "0123456789ABCDEFHJKLMNPRSTUVWXY";
  return absl::StrFormat("%02d%02d%02d-%03d%c", day, month, year, individual, kCheck[n % 31]);
}

// A monthly Keva employee of cost centre KP100 earning 3 000.00, paid to the Keva employee's
// account.
v1::Employee MonthlyEmployee(const std::string& number, int person) {
  v1::Employee e;
  e.set_employee_number(number);
  e.set_first_name("Testi");
  e.set_last_name(absl::StrCat("Henkilö ", person));
  e.set_personal_identity_code(IdentityCode(person));
  e.set_iban(kKevaIban);
  v1::Employment* job = e.mutable_employment();
  job->set_start_date("2020-01-01");
  job->set_cost_centre(kKevaCostCentre);
  job->set_salary_basis(v1::SALARY_BASIS_MONTHLY);
  job->set_monthly_salary_minor(300000);
  job->set_pension_scheme(v1::PENSION_SCHEME_KEVA);
  return e;
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

// Runs xmllint against the published pain.001.001.03 schema on `xml`.
testing::XmlValidation ValidateAgainstSchema(const std::string& xml) {
  return testing::ValidateXml(xml, TAHE_PAIN_001_XSD);
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
        payroll_service(&repository, {&auth, &payroll_workers}, [this] { ++approvals_announced; },
                        {.watch_poll_interval = kWatchPollInterval}) {
    ledger_server = OrThrow(server::GrpcServer::Start(
        {.listen = "127.0.0.1:0", .services = {&ledger_service}, .metrics = &ledger_registry}));
    payroll_server = OrThrow(
        server::GrpcServer::Start({.listen = "127.0.0.1:0", .services = {&payroll_service}}));
    ledger_channel =
        grpc::CreateChannel(ledger_server->address(), grpc::InsecureChannelCredentials());
    ledger = ledger_v1::LedgerService::NewStub(ledger_channel);
    payroll = v1::PayrollService::NewStub(
        grpc::CreateChannel(payroll_server->address(), grpc::InsecureChannelCredentials()));
    relay = NewRelay(ledger_channel, &relay_registry, absl::Seconds(30));
  }
  ~Fixture() {
    relay.reset();
    payroll_service.BeginShutdown();
    payroll_server->Shutdown(absl::Seconds(5));
    payroll_workers.Drain();
    ledger_service.BeginShutdown();
    ledger_server->Shutdown(absl::Seconds(5));
    committer.Stop();
    ledger_workers.Drain();
  }

  // The metadata the gateway sets, and a deadline.
  static void Authorise(grpc::ClientContext& ctx, const std::string& tenant,
                        std::chrono::seconds deadline = std::chrono::seconds(30)) {
    ctx.set_deadline(std::chrono::system_clock::now() + deadline);
    ctx.AddMetadata(server::kInternalTokenHeader, kToken);
    ctx.AddMetadata(server::kTenantHeader, tenant);
    ctx.AddMetadata(server::kPrincipalHeader, "user:payroll-test");
  }

  template <typename Stub, typename Req, typename Resp>
  static grpc::Status Invoke(Stub& stub,
                             grpc::Status (Stub::*method)(grpc::ClientContext*, const Req&, Resp*),
                             const Req& req, Resp* resp, const std::string& tenant) {
    grpc::ClientContext ctx;
    Authorise(ctx, tenant);
    return (stub.*method)(&ctx, req, resp);
  }

  // A client stream of `batches`, half-closed after the last; the call's status.
  template <typename Req, typename Resp>
  grpc::Status Stream(
      std::unique_ptr<grpc::ClientWriter<Req>> (PayrollStub::*method)(grpc::ClientContext*, Resp*),
      const std::vector<Req>& batches, Resp* resp, const std::string& tenant = kTenant) {
    grpc::ClientContext ctx;
    Authorise(ctx, tenant, std::chrono::seconds(120));
    std::unique_ptr<grpc::ClientWriter<Req>> writer = (payroll.get()->*method)(&ctx, resp);
    for (const Req& batch : batches) {
      if (!writer->Write(batch)) {
        break;  // the server ended the call; Finish says why
      }
    }
    writer->WritesDone();
    return writer->Finish();
  }

  grpc::Status ImportEmployees(const std::vector<v1::ImportEmployeesRequest>& batches,
                               v1::ImportEmployeesResponse* resp) {
    return Stream(&PayrollStub::ImportEmployees, batches, resp);
  }
  grpc::Status ImportPayItems(const std::vector<v1::ImportPayItemsRequest>& batches,
                              v1::ImportPayItemsResponse* resp) {
    return Stream(&PayrollStub::ImportPayItems, batches, resp);
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
    for (const char* table : {"employees", "tax_cards", "pay_items", "unpaid_items", "pay_runs",
                              "payslips", "pay_run_items", "pay_run_postings", "settings",
                              "idempotency", "outbox", "outbox_pending"}) {
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
  prometheus::Registry payroll_registry;
  PayrollRepository repository{payroll_pool.get(),
                               {.identity_key = kIdentityKey, .registry = &payroll_registry}};
  server::WorkerPool payroll_workers{kPoolSize};
  std::atomic<int> approvals_announced{0};
  PayrollService payroll_service;
  std::unique_ptr<server::GrpcServer> payroll_server;

  std::shared_ptr<grpc::Channel> ledger_channel;
  std::unique_ptr<LedgerStub> ledger;
  std::unique_ptr<PayrollStub> payroll;
  prometheus::Registry relay_registry;
  std::unique_ptr<outbox::LedgerOutboxRelay> relay;

  std::unique_ptr<outbox::LedgerOutboxRelay> NewRelay(std::shared_ptr<grpc::Channel> channel,
                                                      prometheus::Registry* registry,
                                                      absl::Duration call_timeout) {
    return std::make_unique<outbox::LedgerOutboxRelay>(
        repository.outbox(), std::move(channel), kToken, registry,
        outbox::LedgerOutboxRelay::Options{.metric_prefix = "tahe_payroll_outbox",
                                           .principal = "service:payroll",
                                           .call_timeout = call_timeout});
  }
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
  testing::XmlValidation validation = ValidateAgainstSchema(file.content());
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
    auto down = f.NewRelay(grpc::CreateChannel("127.0.0.1:1", grpc::InsecureChannelCredentials()),
                           &down_registry, absl::Seconds(5));
    REQUIRE(down->DeliverDue() == 0);
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
  SECTION("settings with an unknown unemployment tier, or a debtor BIC that is not a BIC") {
    v1::SetPayrollSettingsRequest req;
    req.set_request_id("settings-bad-tier");
    req.mutable_settings()->set_unemployment_tier(static_cast<v1::UnemploymentTier>(999));
    v1::PayrollSettings resp;
    REQUIRE_REFUSED(f.Payroll(&PayrollStub::SetPayrollSettings, req, &resp),
                    grpc::StatusCode::INVALID_ARGUMENT, "settings.unemployment_tier");
    for (const std::string& bic : {std::string("'; DROP TABLE settings; --"),
                                   std::string("NDEA\0FIHH", 9), std::string(1 << 20, 'X')}) {
      req.set_request_id(absl::StrCat("settings-bad-bic-", bic.size()));
      req.mutable_settings()->clear_unemployment_tier();
      req.mutable_settings()->set_debtor_bic(bic);
      REQUIRE_REFUSED(f.Payroll(&PayrollStub::SetPayrollSettings, req, &resp),
                      grpc::StatusCode::INVALID_ARGUMENT, "settings.debtor_bic");
    }
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
  // Every table with tenant rows is under forced row-level security; outbox_pending holds only
  // ids, for the relay (see the migration).
  pqxx::result unprotected = f.AsOwner(
      "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
      " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id'"
      " WHERE n.nspname = 'public' AND c.relkind = 'r'"
      " AND NOT (c.relrowsecurity AND c.relforcerowsecurity)");
  REQUIRE(unprotected.size() == 1);
  REQUIRE(unprotected[0][0].as<std::string>() == "outbox_pending");
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

  // Calculated is not paid: only an approval pays the items.
  v1::ListPayItemsRequest march_items;
  march_items.set_period(kMarch);
  v1::ListPayItemsResponse unpaid = f.PayrollOk(&PayrollStub::ListPayItems, march_items);
  REQUIRE(unpaid.items_size() == 6);
  for (const v1::PayItem& item : unpaid.items()) {
    REQUIRE(item.paid_in_pay_run().empty());
  }

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

// --- 7. bulk imports -----------------------------------------------------------------------------

// The rejection's batch, index, key and message, for comparing lists.
std::string Describe(const v1::Rejection& r) {
  return absl::StrCat(r.batch(), "/", r.index(), "/", r.key(), "/", r.message());
}

// `r` is (batch, index, key) and its message starts with `field`.
void RequireRejection(const v1::Rejection& r, int batch, int index, const std::string& key,
                      const std::string& field) {
  INFO("rejection " << Describe(r));
  REQUIRE(r.batch() == batch);
  REQUIRE(r.index() == index);
  REQUIRE(r.key() == key);
  REQUIRE(absl::StartsWith(r.message(), field + ": "));
}

TEST_CASE(
    "payroll: ImportEmployees stores the valid employees of each batch, rejects the others "
    "naming the field, and a replayed batch changes nothing",
    "[payroll][pg]") {
  Fixture f;
  std::vector<v1::ImportEmployeesRequest> batches(2);
  batches[0].set_request_id("import-employees-1");
  batches[1].set_request_id("import-employees-2");
  const std::string bad_code = "131052-308U";  // wrong check character
  {
    v1::ImportEmployeesRequest& b = batches[0];
    v1::Employee with_project = MonthlyEmployee("E3001", 1);
    (*with_project.mutable_employment()->mutable_dimensions())["project"] = "Koulu \"A\", 2026";
    *b.add_employees() = with_project;
    v1::Employee bad_iban = MonthlyEmployee("E3002", 2);
    bad_iban.set_iban("FI2112345600000786");
    *b.add_employees() = bad_iban;
    *b.add_employees() = MonthlyEmployee("E3003", 3);
    v1::Employee bad_hetu = MonthlyEmployee("E3004", 4);
    bad_hetu.set_personal_identity_code(bad_code);
    *b.add_employees() = bad_hetu;
  }
  {
    v1::ImportEmployeesRequest& b = batches[1];
    *b.add_employees() = MonthlyEmployee("E3005", 5);
    *b.add_employees() = MonthlyEmployee("E3005", 6);  // the same number again
    v1::Employee no_cost_centre = MonthlyEmployee("E3007", 7);
    no_cost_centre.mutable_employment()->clear_cost_centre();
    *b.add_employees() = no_cost_centre;
    v1::Employee unpayable = MonthlyEmployee("E3008", 8);
    unpayable.set_last_name("Virtanen \U0001F600");  // an emoji: not in the bank file's set
    *b.add_employees() = unpayable;
    v1::Employee bad_number = MonthlyEmployee("-E3009", 9);
    *b.add_employees() = bad_number;
  }
  v1::ImportEmployeesResponse resp;
  REQUIRE_CODE(f.ImportEmployees(batches, &resp), grpc::StatusCode::OK);
  INFO("response: " << resp.ShortDebugString());
  REQUIRE(resp.accepted() == 3);
  REQUIRE(resp.rejected_size() == 6);
  RequireRejection(resp.rejected(0), 0, 1, "E3002", "employees[1].iban");
  RequireRejection(resp.rejected(1), 0, 3, "E3004", "employees[3].personal_identity_code");
  RequireRejection(resp.rejected(2), 1, 1, "E3005", "employees[1].employee_number");
  RequireRejection(resp.rejected(3), 1, 2, "E3007", "employees[2].employment.cost_centre");
  RequireRejection(resp.rejected(4), 1, 3, "E3008", "employees[3].last_name");
  RequireRejection(resp.rejected(5), 1, 4, "", "employees[4].employee_number");
  // No identity code, nor the IBAN refused, comes back.
  const std::string wire = resp.SerializeAsString();
  REQUIRE(!absl::StrContains(wire, "131052"));
  REQUIRE(!absl::StrContains(wire, "308U"));
  REQUIRE(!absl::StrContains(wire, "FI2112345600000786"));
  for (int person : {1, 3, 5}) {
    REQUIRE(!absl::StrContains(wire, IdentityCode(person)));
  }

  // The valid ones are stored as UpsertEmployee stores them; the invalid ones are not.
  v1::ListEmployeesResponse list =
      f.PayrollOk(&PayrollStub::ListEmployees, v1::ListEmployeesRequest());
  std::vector<std::string> numbers;
  for (const v1::Employee& e : list.employees()) {
    numbers.push_back(e.employee_number());
    REQUIRE(e.personal_identity_code().empty());
  }
  REQUIRE(numbers == std::vector<std::string>{"E3001", "E3003", "E3005"});
  v1::GetEmployeeRequest get;
  get.set_employee_number("E3005");
  v1::Employee stored = f.PayrollOk(&PayrollStub::GetEmployee, get);
  REQUIRE(stored.last_name() == "Henkilö 5");
  REQUIRE(stored.birth_date() == "1960-01-06");  // person 5: 06.01.60
  REQUIRE(stored.employment().monthly_salary_minor() == 300000);
  get.set_employee_number("E3001");
  REQUIRE(f.PayrollOk(&PayrollStub::GetEmployee, get).employment().dimensions().at("project") ==
          "Koulu \"A\", 2026");
  get.set_employee_number("E3005");
  REQUIRE(f.OwnerCount("SELECT count(*) FROM employees WHERE identity_hash ~ '^[0-9a-f]{64}$'") ==
          3);

  // E3005 is changed by hand; then the whole stream is sent again, as a client does after a
  // broken connection. The replayed batches return their first results and write nothing: the
  // change by hand stays.
  v1::Employee raised = MonthlyEmployee("E3005", 5);
  raised.mutable_employment()->set_monthly_salary_minor(320000);
  f.UpsertEmployee("raise-e3005", raised);
  const std::map<std::string, int64_t> rows = f.RowCounts();
  const std::string updated_at =
      f.AsOwner("SELECT updated_at::text FROM employees WHERE employee_number = 'E3005'")[0][0]
          .as<std::string>();
  v1::ImportEmployeesResponse again;
  REQUIRE_CODE(f.ImportEmployees(batches, &again), grpc::StatusCode::OK);
  REQUIRE(again.DebugString() == resp.DebugString());
  REQUIRE(f.RowCounts() == rows);
  REQUIRE(f.PayrollOk(&PayrollStub::GetEmployee, get).employment().monthly_salary_minor() ==
          320000);
  REQUIRE(f.AsOwner("SELECT updated_at::text FROM employees WHERE employee_number = 'E3005'")[0][0]
              .as<std::string>() == updated_at);
  // Alone, the second batch is batch 0 of its stream.
  v1::ImportEmployeesResponse second_only;
  REQUIRE_CODE(f.ImportEmployees({batches[1]}, &second_only), grpc::StatusCode::OK);
  REQUIRE(second_only.accepted() == 1);
  REQUIRE(second_only.rejected_size() == 4);
  RequireRejection(second_only.rejected(0), 0, 1, "E3005", "employees[1].employee_number");

  // A request id reused for another batch ends the stream naming the batch; the batch before it
  // is committed.
  std::vector<v1::ImportEmployeesRequest> conflicting(2);
  conflicting[0].set_request_id("import-employees-3");
  *conflicting[0].add_employees() = MonthlyEmployee("E3010", 10);
  conflicting[1] = batches[0];
  conflicting[1].mutable_employees(0)->set_first_name("Toinen");
  v1::ImportEmployeesResponse refused;
  REQUIRE_REFUSED(f.ImportEmployees(conflicting, &refused), grpc::StatusCode::ALREADY_EXISTS,
                  "batch 1: request_id");
  get.set_employee_number("E3010");
  REQUIRE(f.PayrollOk(&PayrollStub::GetEmployee, get).first_name() == "Testi");
  get.set_employee_number("E3001");
  REQUIRE(f.PayrollOk(&PayrollStub::GetEmployee, get).first_name() == "Testi");

  // A batch without a request id is refused as a whole.
  v1::ImportEmployeesRequest anonymous;
  *anonymous.add_employees() = MonthlyEmployee("E3011", 11);
  REQUIRE_REFUSED(f.ImportEmployees({anonymous}, &refused), grpc::StatusCode::INVALID_ARGUMENT,
                  "batch 0: request_id");
  get.set_employee_number("E3011");
  v1::Employee missing;
  REQUIRE_CODE(f.Payroll(&PayrollStub::GetEmployee, get, &missing), grpc::StatusCode::NOT_FOUND);

  // A batch whose every row is refused writes nothing, not even its idempotency record; so do
  // pay items refused before the database is asked.
  const std::map<std::string, int64_t> before_refused = f.RowCounts();
  const int64_t keys = f.OwnerCount("SELECT count(*) FROM idempotency");
  v1::ImportEmployeesRequest all_bad;
  all_bad.set_request_id("import-employees-all-bad");
  *all_bad.add_employees() = MonthlyEmployee("'; DROP TABLE employees; --", 12);
  v1::ImportEmployeesResponse all_refused;
  REQUIRE_CODE(f.ImportEmployees({all_bad}, &all_refused), grpc::StatusCode::OK);
  REQUIRE(all_refused.accepted() == 0);
  REQUIRE(all_refused.rejected_size() == 1);
  RequireRejection(all_refused.rejected(0), 0, 0, "", "employees[0].employee_number");
  v1::ImportPayItemsRequest bad_items;
  bad_items.set_request_id("import-items-all-bad");
  *bad_items.add_items() = AmountItem("bad-1", "E3001", "2026-13", v1::PAY_ITEM_KIND_DEDUCTION, 1);
  v1::ImportPayItemsResponse items_refused;
  REQUIRE_CODE(f.ImportPayItems({bad_items}, &items_refused), grpc::StatusCode::OK);
  REQUIRE(items_refused.accepted() == 0);
  REQUIRE(items_refused.rejected_size() == 1);
  REQUIRE(f.RowCounts() == before_refused);
  REQUIRE(f.OwnerCount("SELECT count(*) FROM idempotency") == keys);
}

TEST_CASE(
    "payroll: ImportPayItems stores the valid items of each batch and rejects the others, an "
    "unknown employee included, naming the field",
    "[payroll][pg]") {
  Fixture f;
  f.SetUpPayroll();
  std::vector<v1::ImportPayItemsRequest> batches(2);
  batches[0].set_request_id("import-items-1");
  batches[1].set_request_id("import-items-2");
  const v1::PayItem phone =
      AmountItem("tt-phone-e1001", kKevaNumber, kMarch, v1::PAY_ITEM_KIND_PHONE_BENEFIT, 2000);
  {
    v1::ImportPayItemsRequest& b = batches[0];
    *b.add_items() = QuantityItem("tt-hours-e2002", kHourlyNumber, kMarch,
                                  v1::PAY_ITEM_KIND_HOURLY_WORK, 15000, 2000);
    *b.add_items() =
        AmountItem("tt-unknown", "E9999", kMarch, v1::PAY_ITEM_KIND_EVENING_SUPPLEMENT, 1000);
    *b.add_items() =
        AmountItem("tt-ot-e2002", kHourlyNumber, kMarch, v1::PAY_ITEM_KIND_OVERTIME_50, 30000);
    *b.add_items() = phone;
  }
  {
    v1::ImportPayItemsRequest& b = batches[1];
    *b.add_items() = AmountItem("tt-evening-e2002", kHourlyNumber, kMarch,
                                v1::PAY_ITEM_KIND_EVENING_SUPPLEMENT, 4500);
    *b.add_items() = AmountItem("tt-evening-e2002", kHourlyNumber, kMarch,
                                v1::PAY_ITEM_KIND_EVENING_SUPPLEMENT, 4600);
    *b.add_items() = QuantityItem("tt-hours-e2002", kHourlyNumber, kMarch,
                                  v1::PAY_ITEM_KIND_HOURLY_WORK, 16000, 2000);  // another item
    *b.add_items() = phone;  // the same item again: accepted, stored once
    *b.add_items() =
        AmountItem("tt-period", kKevaNumber, "2026-13", v1::PAY_ITEM_KIND_PHONE_BENEFIT, 2000);
  }
  v1::ImportPayItemsResponse resp;
  REQUIRE_CODE(f.ImportPayItems(batches, &resp), grpc::StatusCode::OK);
  INFO("response: " << resp.ShortDebugString());
  REQUIRE(resp.accepted() == 4);
  REQUIRE(resp.rejected_size() == 5);
  RequireRejection(resp.rejected(0), 0, 1, "tt-unknown", "items[1].employee_number");
  REQUIRE(absl::StrContains(resp.rejected(0).message(), "E9999 not found"));
  RequireRejection(resp.rejected(1), 0, 2, "tt-ot-e2002", "items[2].quantity_centi");
  RequireRejection(resp.rejected(2), 1, 1, "tt-evening-e2002", "items[1].item_id");
  RequireRejection(resp.rejected(3), 1, 2, "tt-hours-e2002", "items[2].item_id");
  REQUIRE(absl::StrContains(resp.rejected(3).message(), "already names a different pay item"));
  RequireRejection(resp.rejected(4), 1, 4, "tt-period", "items[4].period");

  v1::ListPayItemsResponse items =
      f.PayrollOk(&PayrollStub::ListPayItems, v1::ListPayItemsRequest());
  std::map<std::string, v1::PayItem> by_id;
  for (const v1::PayItem& item : items.items()) {
    by_id[item.item_id()] = item;
  }
  REQUIRE(by_id.size() == 3);
  REQUIRE(by_id.at("tt-hours-e2002").quantity_centi() == 15000);  // the first one stands
  REQUIRE(by_id.at("tt-evening-e2002").amount_minor() == 4500);
  REQUIRE(by_id.at("tt-phone-e1001").amount_minor() == 2000);

  // Replayed: the same answer, nothing written.
  const std::map<std::string, int64_t> rows = f.RowCounts();
  v1::ImportPayItemsResponse again;
  REQUIRE_CODE(f.ImportPayItems(batches, &again), grpc::StatusCode::OK);
  REQUIRE(again.DebugString() == resp.DebugString());
  REQUIRE(f.RowCounts() == rows);

  // The imported items are paid like added ones: E2002's March is 150 h x 20.00 + 45.00.
  f.CreateRun("create-march", kMarch, kMarchPayday);
  v1::PayRun run = f.Calculate("calculate-march", kMarchRun);
  REQUIRE(SlipOf(f.Payslips(kMarchRun), kHourlyNumber).figures().gross_cash_minor() == 304500);
  REQUIRE(run.totals().benefits_in_kind_minor() == 2000);
}

// --- 8. watching a pay run and the totals feed ---------------------------------------------------

// Every message of a server stream until it ends, and its status.
template <typename Message>
grpc::Status ReadAll(grpc::ClientReader<Message>& reader, std::vector<Message>& out) {
  Message m;
  while (reader.Read(&m)) {
    out.push_back(m);
  }
  return reader.Finish();
}

TEST_CASE(
    "payroll: WatchPayRun reports a calculation of 3 000 employees as it goes, ends when it is "
    "calculated, and follows an approved run until it is posted",
    "[payroll][pg]") {
  Fixture f;
  f.SetUpLedger();
  constexpr int kEmployees = 3000;
  std::vector<v1::ImportEmployeesRequest> batches(3);
  for (int i = 0; i < kEmployees; ++i) {
    v1::ImportEmployeesRequest& batch = batches[i / 1000];
    batch.set_request_id(absl::StrCat("import-", i / 1000));
    *batch.add_employees() = MonthlyEmployee(absl::StrFormat("W%04d", i), i);
  }
  v1::ImportEmployeesResponse imported;
  REQUIRE_CODE(f.ImportEmployees(batches, &imported), grpc::StatusCode::OK);
  INFO("import: " << imported.ShortDebugString().substr(0, 2000));
  REQUIRE(imported.accepted() == kEmployees);
  REQUIRE(imported.rejected().empty());
  f.CreateRun("create-march", kMarch, kMarchPayday);

  v1::WatchPayRunRequest watch;
  watch.set_pay_run_id(kMarchRun);
  std::vector<v1::PayRunProgress> updates;
  grpc::Status watched;
  {
    grpc::ClientContext ctx;
    Fixture::Authorise(ctx, kTenant, std::chrono::seconds(120));
    std::unique_ptr<grpc::ClientReader<v1::PayRunProgress>> reader =
        f.payroll->WatchPayRun(&ctx, watch);
    // The first message is the run as it is: the watch is under way before the calculation.
    v1::PayRunProgress first;
    REQUIRE(reader->Read(&first));
    REQUIRE(first.status() == v1::PAY_RUN_STATUS_DRAFT);
    REQUIRE(first.message() == "not calculated yet");
    v1::PayRun calculated = f.Calculate("calculate-march", kMarchRun);
    REQUIRE(calculated.totals().payslips() == kEmployees);
    watched = ReadAll(*reader, updates);
  }
  REQUIRE_CODE(watched, grpc::StatusCode::OK);
  REQUIRE(updates.size() >= 2);
  std::string log;
  for (const v1::PayRunProgress& u : updates) {
    absl::StrAppend(&log, u.ShortDebugString(), "\n");
  }
  INFO("updates:\n" << log);
  int intermediate = 0;
  int last_done = -1;
  for (size_t i = 0; i + 1 < updates.size(); ++i) {
    const v1::PayRunProgress& u = updates[i];
    REQUIRE(u.status() == v1::PAY_RUN_STATUS_DRAFT);
    REQUIRE(u.payslips_total() == kEmployees);
    REQUIRE(u.payslips_done() >= last_done);
    REQUIRE(u.payslips_done() % 1000 == 0);
    last_done = u.payslips_done();
    if (u.payslips_done() > 0 && u.payslips_done() < u.payslips_total()) {
      ++intermediate;
    }
  }
  REQUIRE(intermediate >= 1);
  const v1::PayRunProgress& final_update = updates.back();
  REQUIRE(final_update.status() == v1::PAY_RUN_STATUS_CALCULATED);
  REQUIRE(final_update.payslips_done() == kEmployees);
  REQUIRE(final_update.payslips_total() == kEmployees);
  REQUIRE(final_update.message() == "calculated: 3000 payslips");

  // A watch of the calculated run shows its state and ends.
  {
    grpc::ClientContext ctx;
    Fixture::Authorise(ctx, kTenant);
    std::unique_ptr<grpc::ClientReader<v1::PayRunProgress>> reader =
        f.payroll->WatchPayRun(&ctx, watch);
    std::vector<v1::PayRunProgress> states;
    REQUIRE_CODE(ReadAll(*reader, states), grpc::StatusCode::OK);
    REQUIRE(states.size() == 1);
    REQUIRE(states[0].DebugString() == final_update.DebugString());
  }

  // A watch of an approved run lasts until the ledger has taken the posting.
  v1::PayRun approved;
  REQUIRE_CODE(f.Approve("approve-march", kMarchRun, &approved), grpc::StatusCode::OK);
  {
    grpc::ClientContext ctx;
    Fixture::Authorise(ctx, kTenant);
    std::unique_ptr<grpc::ClientReader<v1::PayRunProgress>> reader =
        f.payroll->WatchPayRun(&ctx, watch);
    v1::PayRunProgress state;
    REQUIRE(reader->Read(&state));
    REQUIRE(state.status() == v1::PAY_RUN_STATUS_APPROVED);
    REQUIRE(f.relay->DeliverDue() == 1);
    std::vector<v1::PayRunProgress> rest;
    REQUIRE_CODE(ReadAll(*reader, rest), grpc::StatusCode::OK);
    REQUIRE(!rest.empty());
    REQUIRE(rest.back().status() == v1::PAY_RUN_STATUS_POSTED);
    REQUIRE(rest.back().payslips_done() == kEmployees);
    REQUIRE(absl::StartsWith(rest.back().message(), "posted to the ledger as entry "));
  }

  // Another tenant's run of the same id does not exist for this watch; nor does an unknown run.
  for (const auto& [tenant, run_id] : std::vector<std::pair<std::string, std::string>>{
           {kOtherTenant, kMarchRun}, {kTenant, "2026-03-9"}}) {
    grpc::ClientContext ctx;
    Fixture::Authorise(ctx, tenant);
    v1::WatchPayRunRequest other;
    other.set_pay_run_id(run_id);
    std::unique_ptr<grpc::ClientReader<v1::PayRunProgress>> reader =
        f.payroll->WatchPayRun(&ctx, other);
    std::vector<v1::PayRunProgress> none;
    REQUIRE_CODE(ReadAll(*reader, none), grpc::StatusCode::NOT_FOUND);
    REQUIRE(none.empty());
  }
}

TEST_CASE(
    "payroll: WatchPayRunTotals streams the totals of runs approved while it is open, in "
    "sequence, to the approving tenant only",
    "[payroll][pg]") {
  Fixture f;
  f.SetUpPayroll();
  REQUIRE(f.AddItems("march-items", MarchItems()) == 5);
  f.CreateRun("create-march", kMarch, kMarchPayday);
  f.Calculate("calculate-march", kMarchRun);

  grpc::ClientContext ctx;
  Fixture::Authorise(ctx, kTenant, std::chrono::seconds(60));
  std::unique_ptr<grpc::ClientReader<v1::PayRunTotals>> reader =
      f.payroll->WatchPayRunTotals(&ctx, v1::WatchPayRunTotalsRequest());

  v1::PayRun march;
  REQUIRE_CODE(f.Approve("approve-march", kMarchRun, &march), grpc::StatusCode::OK);
  v1::PayRunTotals first;
  REQUIRE(reader->Read(&first));
  INFO("first: " << first.ShortDebugString());
  REQUIRE(first.sequence() == 1);
  REQUIRE(first.pay_run_id() == kMarchRun);
  REQUIRE(first.period() == kMarch);
  REQUIRE(first.payment_date() == kMarchPayday);
  REQUIRE(first.totals().DebugString() == march.totals().DebugString());
  REQUIRE(first.totals().net_pay_minor() == 506677);
  REQUIRE(first.by_cost_centre().size() == 2);
  REQUIRE(first.by_cost_centre().at(kKevaCostCentre).DebugString() ==
          KevaMarchFigures().DebugString());
  REQUIRE(first.by_cost_centre().at(kHourlyCostCentre).DebugString() ==
          HourlyMarchFigures().DebugString());

  // The second run is approved after the first was received: it comes from a later poll.
  f.CreateRun("create-april", kApril, kAprilPayday);
  f.Calculate("calculate-april", kAprilRun);
  v1::PayRun april;
  REQUIRE_CODE(f.Approve("approve-april", kAprilRun, &april), grpc::StatusCode::OK);
  v1::PayRunTotals second;
  REQUIRE(reader->Read(&second));
  INFO("second: " << second.ShortDebugString());
  REQUIRE(second.sequence() == 2);
  REQUIRE(second.pay_run_id() == kAprilRun);
  // April pays only the monthly salary: the hourly employee has no April items.
  REQUIRE(second.totals().payslips() == 1);
  REQUIRE(second.totals().gross_cash_minor() == 350000);
  REQUIRE(second.totals().net_pay_minor() == 246085);
  REQUIRE(second.by_cost_centre().size() == 1);
  REQUIRE(second.totals().DebugString() == april.totals().DebugString());
  ctx.TryCancel();
  std::vector<v1::PayRunTotals> rest;
  REQUIRE_CODE(ReadAll(*reader, rest), grpc::StatusCode::CANCELLED);
  REQUIRE(rest.empty());

  // From a sequence on: only what follows it.
  {
    grpc::ClientContext after_ctx;
    Fixture::Authorise(after_ctx, kTenant);
    v1::WatchPayRunTotalsRequest after;
    after.set_after_sequence(1);
    std::unique_ptr<grpc::ClientReader<v1::PayRunTotals>> after_reader =
        f.payroll->WatchPayRunTotals(&after_ctx, after);
    v1::PayRunTotals only;
    REQUIRE(after_reader->Read(&only));
    REQUIRE(only.DebugString() == second.DebugString());
    after_ctx.TryCancel();
    std::vector<v1::PayRunTotals> more;
    ReadAll(*after_reader, more);
    REQUIRE(more.empty());
  }
  // Another tenant's feed is empty: its stream sees nothing before its deadline.
  {
    grpc::ClientContext other_ctx;
    Fixture::Authorise(other_ctx, kOtherTenant, std::chrono::seconds(1));
    std::unique_ptr<grpc::ClientReader<v1::PayRunTotals>> other =
        f.payroll->WatchPayRunTotals(&other_ctx, v1::WatchPayRunTotalsRequest());
    std::vector<v1::PayRunTotals> none;
    REQUIRE_CODE(ReadAll(*other, none), grpc::StatusCode::DEADLINE_EXCEEDED);
    REQUIRE(none.empty());
  }
  // A negative sequence is refused.
  {
    grpc::ClientContext bad_ctx;
    Fixture::Authorise(bad_ctx, kTenant);
    v1::WatchPayRunTotalsRequest bad;
    bad.set_after_sequence(-1);
    std::unique_ptr<grpc::ClientReader<v1::PayRunTotals>> bad_reader =
        f.payroll->WatchPayRunTotals(&bad_ctx, bad);
    std::vector<v1::PayRunTotals> none;
    REQUIRE_REFUSED(ReadAll(*bad_reader, none), grpc::StatusCode::INVALID_ARGUMENT,
                    "after_sequence");
  }
}

// --- 9. rendering payslips -----------------------------------------------------------------------

TEST_CASE("payroll: RenderPayslips writes the full month's payslips as text and as CSV",
          "[payroll][pg]") {
  Fixture f;
  f.ApprovedMarchRun();
  v1::RenderPayslipsRequest req;
  req.set_pay_run_id(kMarchRun);
  req.set_format(v1::RENDER_FORMAT_TEXT);
  v1::RenderPayslipsResponse text = f.PayrollOk(&PayrollStub::RenderPayslips, req);
  INFO("text:\n" << text.content());
  REQUIRE(text.content_type() == "text/plain; charset=utf-8");
  const std::string& t = text.content();
  // Both payslips, the Keva employee's first (employee-number order).
  REQUIRE(t.find("Employee      Aino Virtanen (E1001)\n") <
          t.find("Employee      Mikko Järvinen (E2002)\n"));
  REQUIRE(t.find("Employee      Mikko Järvinen (E2002)\n") != std::string::npos);
  for (const char* expected : {
           "Pay run       2026-03-1\n",
           "Period        2026-03\n",
           "Payment date  2026-03-31\n",
           "Cost centre   KP100\n",
           "Cost centre   KP200\n",
           // 10.50 h x 20.00 x 150 % = 315.00
           "     10.50        20.00      150.00%       315.00  Overtime 50%\n",
           // 250 km x 0.55 = 137.50, and the salary of 3 500.00
           "    250.00         0.55      100.00%       137.50  Mileage allowance (tax-free)\n",
           "   3500.00                   3500.00  Kuukausipalkka\n",
           // The Keva employee's withholding 20 % and net pay 2 460.85; the hourly one's net.
           "   3500.00       20.00%       700.00  Withholding at the base rate",
           "Net pay                                 2460.85\n",
           "Net pay                                 2605.92\n",
           "Taxable pay this year to date           3500.00\n",
           "Taxable pay this year to date           3435.00\n",
           "Accident insurance                        17.50\n",
           "(provisional rate)\n",
       }) {
    INFO("expected: " << expected);
    REQUIRE(absl::StrContains(t, expected));
  }
  REQUIRE(!absl::StrContains(t, kKevaIdentityCode));
  REQUIRE(!absl::StrContains(t, kHourlyIdentityCode));
  REQUIRE(!absl::StrContains(t, "150680"));

  req.set_format(v1::RENDER_FORMAT_CSV);
  v1::RenderPayslipsResponse csv = f.PayrollOk(&PayrollStub::RenderPayslips, req);
  INFO("csv:\n" << csv.content());
  REQUIRE(csv.content_type() == "text/csv; charset=utf-8; header=present");
  std::vector<std::string> rows = absl::StrSplit(csv.content(), "\r\n");
  REQUIRE(rows.back().empty());  // the last row ends with CRLF too
  rows.pop_back();
  const std::vector<v1::Payslip> slips = f.Payslips(kMarchRun);
  REQUIRE(static_cast<int>(rows.size()) ==
          1 + SlipOf(slips, kKevaNumber).lines_size() + SlipOf(slips, kHourlyNumber).lines_size());
  REQUIRE(rows[0] ==
          "pay_run_id,employee_number,employee_name,period,payment_date,cost_centre,line,code,"
          "description,quantity,base,rate_percent,amount,corrects_period,provisional,"
          "rate_table_version");
  const std::string keva = "2026-03-1,E1001,Aino Virtanen,2026-03,2026-03-31,KP100,";
  const std::string hourly = "2026-03-1,E2002,Mikko Järvinen,2026-03,2026-03-31,KP200,";
  REQUIRE(rows[1] == keva + "1,MONTHLY_SALARY,Kuukausipalkka,,3500.00,,3500.00,,false,");
  int overtime = 0, withholding = 0;
  for (const std::string& row : rows) {
    if (absl::StartsWith(row, hourly) &&
        absl::EndsWith(row, ",OVERTIME_50,Overtime 50%,10.50,20.00,150.00,315.00,,false,")) {
      ++overtime;
    }
    if (absl::StartsWith(row, keva) && absl::StrContains(row, ",WITHHOLDING_BASE_RATE,") &&
        absl::EndsWith(row, ",3500.00,20.00,700.00,,false,")) {
      ++withholding;
    }
  }
  REQUIRE(overtime == 1);
  REQUIRE(withholding == 1);
  REQUIRE(!absl::StrContains(csv.content(), kKevaIdentityCode));

  // One employee's payslip only.
  req.set_employee_number(kHourlyNumber);
  v1::RenderPayslipsResponse one = f.PayrollOk(&PayrollStub::RenderPayslips, req);
  REQUIRE(absl::StrContains(one.content(), hourly));
  REQUIRE(!absl::StrContains(one.content(), keva));

  // Refusals: an employee without a payslip in the run, no format, a draft run.
  v1::RenderPayslipsResponse refused;
  req.set_employee_number("E9999");
  REQUIRE_REFUSED(f.Payroll(&PayrollStub::RenderPayslips, req, &refused),
                  grpc::StatusCode::NOT_FOUND, "employee_number");
  req.clear_employee_number();
  req.set_format(v1::RENDER_FORMAT_UNSPECIFIED);
  REQUIRE_REFUSED(f.Payroll(&PayrollStub::RenderPayslips, req, &refused),
                  grpc::StatusCode::INVALID_ARGUMENT, "format");
  f.CreateRun("create-april", kApril, kAprilPayday);
  req.set_pay_run_id(kAprilRun);
  req.set_format(v1::RENDER_FORMAT_TEXT);
  REQUIRE_REFUSED(f.Payroll(&PayrollStub::RenderPayslips, req, &refused),
                  grpc::StatusCode::FAILED_PRECONDITION, "pay_run_id");
}

// --- 10. the payment file's identifiers and names ------------------------------------------------

TEST_CASE(
    "payroll: the payment file is valid whatever the employee numbers, and names the bank file "
    "cannot carry are refused at input",
    "[payroll][pg]") {
  Fixture f;
  f.SetUpPayroll();
  // Old end-to-end ids were "<run>-<number>" cut to 35 characters: '_' is not allowed in one, and
  // the two long numbers below shared their first 35 characters with the run id in front.
  const std::vector<std::string> numbers = {"E_3001", "LONG-EMPLOYEE-NUMBER-SHARED-PREFIX-00001",
                                            "LONG-EMPLOYEE-NUMBER-SHARED-PREFIX-00002"};
  for (size_t i = 0; i < numbers.size(); ++i) {
    f.UpsertEmployee(absl::StrCat("setup-", i), MonthlyEmployee(numbers[i], 100 + i));
  }
  // A name with letters outside the EPC set that have a transliteration is accepted.
  v1::Employee foreign = MonthlyEmployee("E3004", 104);
  foreign.set_first_name("Zoë");
  foreign.set_last_name("Müller-Øster");
  f.UpsertEmployee("setup-foreign", foreign);

  f.CreateRun("create-march", kMarch, kMarchPayday);
  v1::PayRun run = f.Calculate("calculate-march", kMarchRun);
  REQUIRE(run.totals().payslips() == 5);  // E2002 has no items: nothing to pay
  v1::PayRun approved;
  REQUIRE_CODE(f.Approve("approve-march", kMarchRun, &approved), grpc::StatusCode::OK);
  v1::GetPaymentFileRequest file_req;
  file_req.set_pay_run_id(kMarchRun);
  v1::PaymentFile file = f.PayrollOk(&PayrollStub::GetPaymentFile, file_req);
  INFO("file:\n" << file.content());
  REQUIRE(file.transactions() == 5);
  REQUIRE(file.control_sum_minor() == approved.totals().net_pay_minor());
  testing::XmlValidation validation = ValidateAgainstSchema(file.content());
  INFO("xmllint: " << validation.output);
  REQUIRE(validation.exit_code == 0);
  std::vector<std::string> ids = ElementTexts(file.content(), "EndToEndId");
  std::sort(ids.begin(), ids.end());
  REQUIRE(ids == std::vector<std::string>{"2026-03-1-1", "2026-03-1-2", "2026-03-1-3",
                                          "2026-03-1-4", "2026-03-1-5"});
  for (const std::string& number : numbers) {
    REQUIRE(!absl::StrContains(file.content(), number));
  }
  REQUIRE(absl::StrContains(file.content(), "<Nm>Zoe Muller-Oster</Nm>"));
  REQUIRE(ElementTexts(file.content(), "Ustrd") == std::vector<std::string>(5, "Palkka 2026-03"));
  // The same file every time.
  v1::PaymentFile again = f.PayrollOk(&PayrollStub::GetPaymentFile, file_req);
  REQUIRE(ElementTexts(again.content(), "EndToEndId") ==
          ElementTexts(file.content(), "EndToEndId"));

  // Names the bank file cannot carry, and a malformed BIC, are refused when entered.
  auto upsert = [&](const std::string& request_id, const v1::Employee& employee) {
    v1::UpsertEmployeeRequest req;
    req.set_request_id(request_id);
    *req.mutable_employee() = employee;
    v1::Employee resp;
    return f.Payroll(&PayrollStub::UpsertEmployee, req, &resp);
  };
  v1::Employee at_sign = MonthlyEmployee("E3005", 105);
  at_sign.set_first_name("Anna@");
  REQUIRE_REFUSED(upsert("bad-first-name", at_sign), grpc::StatusCode::INVALID_ARGUMENT,
                  "employee.first_name");
  v1::Employee cyrillic = MonthlyEmployee("E3005", 105);
  cyrillic.set_last_name("Иванова");
  REQUIRE_REFUSED(upsert("bad-last-name", cyrillic), grpc::StatusCode::INVALID_ARGUMENT,
                  "employee.last_name");
  // 35 + 1 + 35 = 71 characters: each part fits, together they do not.
  v1::Employee long_name = MonthlyEmployee("E3005", 105);
  long_name.set_first_name(std::string(35, 'A'));
  long_name.set_last_name(std::string(35, 'B'));
  grpc::Status too_long = upsert("long-name", long_name);
  REQUIRE_REFUSED(too_long, grpc::StatusCode::INVALID_ARGUMENT, "employee.last_name");
  REQUIRE(absl::StrContains(too_long.error_message(), "got 71"));
  long_name.set_last_name(std::string(34, 'B'));
  REQUIRE_CODE(upsert("long-name-fits", long_name), grpc::StatusCode::OK);
  v1::Employee bad_bic = MonthlyEmployee("E3006", 106);
  bad_bic.set_bic("NDEA-FIH");
  REQUIRE_REFUSED(upsert("bad-bic", bad_bic), grpc::StatusCode::INVALID_ARGUMENT, "employee.bic");
  v1::Employee lower_bic = MonthlyEmployee("E3006", 106);
  lower_bic.set_bic("ndeafihh");
  v1::UpsertEmployeeRequest lower_req;
  lower_req.set_request_id("lower-bic");
  *lower_req.mutable_employee() = lower_bic;
  REQUIRE(f.PayrollOk(&PayrollStub::UpsertEmployee, lower_req).bic() == "NDEAFIHH");
}

// --- 11. metrics ---------------------------------------------------------------------------------

// The sum of the observations of a histogram family's series whose labels include `labels`.
double HistogramSum(prometheus::Registry& registry, const std::string& family,
                    const std::map<std::string, std::string>& labels = {}) {
  double sum = 0;
  for (const prometheus::MetricFamily& f : registry.Collect()) {
    if (f.name != family) {
      continue;
    }
    for (const prometheus::ClientMetric& m : f.metric) {
      bool match = true;
      for (const auto& [name, value] : labels) {
        match = match && std::any_of(m.label.begin(), m.label.end(),
                                     [&](const prometheus::ClientMetric::Label& l) {
                                       return l.name == name && l.value == value;
                                     });
      }
      if (match) {
        sum += m.histogram.sample_sum;
      }
    }
  }
  return sum;
}

TEST_CASE(
    "payroll: the metrics count calculations, approvals, payslips, skipped employees and refused "
    "input, each once, replays not again",
    "[payroll][pg]") {
  Fixture f;
  prometheus::Registry& r = f.payroll_registry;
  const std::string kPhase = "tahe_payroll_pay_run_phase_seconds";
  const std::string kEmployees = "tahe_payroll_pay_run_employees";
  const std::string kPayslips = "tahe_payroll_payslips_calculated_total";
  const std::string kSkipped = "tahe_payroll_payslips_skipped_total";
  const std::string kFailures = "tahe_payroll_calculation_failures_total";
  const std::string kItemsRejected = "tahe_payroll_pay_items_rejected_total";
  const std::string kEmployeesRejected = "tahe_payroll_employees_rejected_total";
  f.SetUpLedger();
  f.SetUpPayroll();
  REQUIRE(CounterSum(r, kPayslips) == 0);
  REQUIRE(HistogramCount(r, kPhase) == 0);
  REQUIRE(CounterSum(r, kItemsRejected) == 0);
  REQUIRE(CounterSum(r, kEmployeesRejected) == 0);

  // AddPayItems is all or nothing: a request of 3 items, one for an unknown employee, refuses 3;
  // one of 2 with an overtime item without hours refuses 2 more.
  {
    v1::AddPayItemsRequest req;
    req.set_request_id("items-unknown");
    *req.add_items() =
        AmountItem("m-1", kKevaNumber, kMarch, v1::PAY_ITEM_KIND_PHONE_BENEFIT, 2000);
    *req.add_items() = AmountItem("m-2", "E9999", kMarch, v1::PAY_ITEM_KIND_PHONE_BENEFIT, 2000);
    *req.add_items() =
        AmountItem("m-3", kHourlyNumber, kMarch, v1::PAY_ITEM_KIND_PHONE_BENEFIT, 2000);
    v1::AddPayItemsResponse resp;
    REQUIRE_CODE(f.Payroll(&PayrollStub::AddPayItems, req, &resp), grpc::StatusCode::NOT_FOUND);
    req.clear_items();
    req.set_request_id("items-invalid");
    *req.add_items() =
        AmountItem("m-4", kKevaNumber, kMarch, v1::PAY_ITEM_KIND_PHONE_BENEFIT, 2000);
    *req.add_items() =
        AmountItem("m-5", kHourlyNumber, kMarch, v1::PAY_ITEM_KIND_OVERTIME_50, 30000);
    REQUIRE_CODE(f.Payroll(&PayrollStub::AddPayItems, req, &resp),
                 grpc::StatusCode::INVALID_ARGUMENT);
    // Refused for its request id, not for an item: not counted.
    req.clear_request_id();
    REQUIRE_CODE(f.Payroll(&PayrollStub::AddPayItems, req, &resp),
                 grpc::StatusCode::INVALID_ARGUMENT);
  }
  REQUIRE(CounterSum(r, kItemsRejected, {{"rpc", "AddPayItems"}}) == 5);  // 3 + 2
  REQUIRE(f.AddItems("march-items", MarchItems()) == 5);
  REQUIRE(CounterSum(r, kItemsRejected, {{"rpc", "AddPayItems"}}) == 5);

  // ImportPayItems counts each item it rejects, once: a replayed batch is not counted again.
  v1::ImportPayItemsRequest items_batch;
  items_batch.set_request_id("import-items");
  *items_batch.add_items() =
      AmountItem("i-unknown", "E9999", kMarch, v1::PAY_ITEM_KIND_EVENING_SUPPLEMENT, 1000);
  *items_batch.add_items() =
      AmountItem("i-period", kKevaNumber, "2026-13", v1::PAY_ITEM_KIND_PHONE_BENEFIT, 2000);
  v1::ImportPayItemsResponse items_resp;
  for (int send = 0; send < 2; ++send) {
    REQUIRE_CODE(f.ImportPayItems({items_batch}, &items_resp), grpc::StatusCode::OK);
    REQUIRE(items_resp.rejected_size() == 2);
    REQUIRE(CounterSum(r, kItemsRejected, {{"rpc", "ImportPayItems"}}) == 2);
  }
  REQUIRE(CounterSum(r, kItemsRejected) == 7);  // 5 + 2

  // Employees: an import batch of 2 invalid ones rejects 2 each time it is sent (refusing every
  // row writes nothing, not even the idempotency record, so a resend is refused anew), a refused
  // upsert 1.
  v1::ImportEmployeesRequest employees_batch;
  employees_batch.set_request_id("import-employees");
  v1::Employee bad_iban = MonthlyEmployee("E3001", 1);
  bad_iban.set_iban("FI2112345600000786");
  *employees_batch.add_employees() = bad_iban;
  v1::Employee no_cost_centre = MonthlyEmployee("E3002", 2);
  no_cost_centre.mutable_employment()->clear_cost_centre();
  *employees_batch.add_employees() = no_cost_centre;
  for (int send = 0; send < 2; ++send) {
    v1::ImportEmployeesResponse resp;
    REQUIRE_CODE(f.ImportEmployees({employees_batch}, &resp), grpc::StatusCode::OK);
    REQUIRE(resp.rejected_size() == 2);
  }
  REQUIRE(CounterSum(r, kEmployeesRejected, {{"rpc", "ImportEmployees"}}) == 4);
  v1::UpsertEmployeeRequest upsert;
  upsert.set_request_id("upsert-bad-iban");
  *upsert.mutable_employee() = bad_iban;
  v1::Employee upserted;
  REQUIRE_CODE(f.Payroll(&PayrollStub::UpsertEmployee, upsert, &upserted),
               grpc::StatusCode::INVALID_ARGUMENT);
  REQUIRE(CounterSum(r, kEmployeesRejected, {{"rpc", "UpsertEmployee"}}) == 1);

  // March: 2 employees in scope, 2 payslips. The replay of the same request calculates nothing.
  f.CreateRun("create-march", kMarch, kMarchPayday);
  f.Calculate("calculate-march", kMarchRun);
  f.Calculate("calculate-march", kMarchRun);
  REQUIRE(CounterSum(r, kPayslips) == 2);
  REQUIRE(HistogramCount(r, kPhase, {{"phase", "calculate"}}) == 1);
  REQUIRE(HistogramCount(r, kEmployees) == 1);
  REQUIRE(HistogramSum(r, kEmployees) == 2);
  REQUIRE(HistogramSum(r, kPhase, {{"phase", "calculate"}}) > 0);
  // A recalculation is another calculation: 2 more payslips.
  f.Calculate("recalculate-march", kMarchRun);
  REQUIRE(CounterSum(r, kPayslips) == 4);
  REQUIRE(HistogramCount(r, kPhase, {{"phase", "calculate"}}) == 2);
  REQUIRE(HistogramCount(r, kPhase, {{"phase", "approve"}}) == 0);

  // One approval, however often it is asked for with its request id.
  v1::PayRun approved;
  REQUIRE_CODE(f.Approve("approve-march", kMarchRun, &approved), grpc::StatusCode::OK);
  REQUIRE_CODE(f.Approve("approve-march", kMarchRun, &approved), grpc::StatusCode::OK);
  REQUIRE(HistogramCount(r, kPhase, {{"phase", "approve"}}) == 1);
  REQUIRE(CounterSum(r, kFailures) == 0);

  // Calculating the approved run fails, by its code; it calculated nothing.
  v1::CalculatePayRunRequest again;
  again.set_request_id("calculate-approved");
  again.set_pay_run_id(kMarchRun);
  v1::PayRun refused;
  REQUIRE_CODE(f.Payroll(&PayrollStub::CalculatePayRun, again, &refused),
               grpc::StatusCode::FAILED_PRECONDITION);
  REQUIRE(CounterSum(r, kFailures, {{"code", "FAILED_PRECONDITION"}}) == 1);
  REQUIRE(CounterSum(r, kFailures) == 1);
  REQUIRE(HistogramCount(r, kPhase, {{"phase", "calculate"}}) == 2);

  // April: the hourly employee has only a deduction, which no pay covers (a negative net pay):
  // skipped; the monthly employee is paid. 2 in scope, 1 payslip, 1 skipped.
  REQUIRE(f.AddItems("april-deduction", {AmountItem("2026-04-E2002-deduction", kHourlyNumber,
                                                    kApril, v1::PAY_ITEM_KIND_DEDUCTION, 10000)}) ==
          1);
  f.CreateRun("create-april", kApril, kAprilPayday);
  v1::PayRun april = f.Calculate("calculate-april", kAprilRun);
  REQUIRE(april.skipped_size() == 1);
  REQUIRE(april.totals().payslips() == 1);
  REQUIRE(CounterSum(r, kPayslips) == 5);  // 2 + 2 + 1
  REQUIRE(CounterSum(r, kSkipped) == 1);
  REQUIRE(HistogramCount(r, kEmployees) == 3);
  REQUIRE(HistogramSum(r, kEmployees) == 6);  // 2 + 2 + 2
  REQUIRE(HistogramCount(r, kPhase, {{"phase", "calculate"}}) == 3);
}

}  // namespace
}  // namespace tahe::payroll
