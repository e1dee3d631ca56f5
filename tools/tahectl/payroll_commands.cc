#include "tools/tahectl/payroll_commands.h"

#include <unistd.h>

#include <algorithm>
#include <map>
#include <optional>
#include <thread>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "libs/status/status.h"
#include "tools/tahectl/command_helpers.h"
#include "tools/tahectl/parse.h"
#include "tools/tahectl/payroll_csv.h"
#include "tools/tahectl/progress.h"

namespace tahe::tahectl {

namespace v1 = ::tahe::payroll::v1;

namespace {

// RpcError with any identity code in the service's message redacted.
absl::Status PayrollRpcError(absl::string_view method, const grpc::Status& status) {
  const absl::Status error = RpcError(method, status);
  return absl::Status(error.code(), RedactIdentityCodes(error.message()));
}

template <typename Response>
void RedactRejections(Response& response) {
  for (v1::Rejection& rejection : *response.mutable_rejected()) {
    rejection.set_message(RedactIdentityCodes(rejection.message()));
    rejection.set_key(RedactIdentityCodes(rejection.key()));
  }
}

}  // namespace

PayrollClient::PayrollClient(ClientSettings settings)
    : settings_(std::move(settings)), stub_(v1::PayrollService::NewStub(settings_.NewChannel())) {}

std::unique_ptr<grpc::ClientContext> PayrollClient::NewContext(absl::Duration timeout) const {
  std::unique_ptr<grpc::ClientContext> context = settings_.NewContext();
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  return context;
}

// One definition per unary RPC: a fresh context, the call, and the error named after the method.
#define TAHECTL_PAYROLL_UNARY(Method, Request, Response)                           \
  absl::StatusOr<v1::Response> PayrollClient::Method(const v1::Request& request) { \
    std::unique_ptr<grpc::ClientContext> context = settings_.NewContext();         \
    v1::Response response;                                                         \
    grpc::Status status = stub_->Method(context.get(), request, &response);        \
    if (!status.ok()) {                                                            \
      return PayrollRpcError(#Method, status);                                     \
    }                                                                              \
    return response;                                                               \
  }

TAHECTL_PAYROLL_UNARY(UpsertEmployee, UpsertEmployeeRequest, Employee)
TAHECTL_PAYROLL_UNARY(GetEmployee, GetEmployeeRequest, Employee)
TAHECTL_PAYROLL_UNARY(ListEmployees, ListEmployeesRequest, ListEmployeesResponse)
TAHECTL_PAYROLL_UNARY(SetTaxCard, SetTaxCardRequest, TaxCard)
TAHECTL_PAYROLL_UNARY(ListTaxCards, ListTaxCardsRequest, ListTaxCardsResponse)
TAHECTL_PAYROLL_UNARY(LoadRateTable, LoadRateTableRequest, RateTable)
TAHECTL_PAYROLL_UNARY(ListRateTables, ListRateTablesRequest, ListRateTablesResponse)
TAHECTL_PAYROLL_UNARY(SetPayrollSettings, SetPayrollSettingsRequest, PayrollSettings)
TAHECTL_PAYROLL_UNARY(GetPayrollSettings, GetPayrollSettingsRequest, PayrollSettings)
TAHECTL_PAYROLL_UNARY(ListPayItems, ListPayItemsRequest, ListPayItemsResponse)
TAHECTL_PAYROLL_UNARY(CreatePayRun, CreatePayRunRequest, PayRun)
TAHECTL_PAYROLL_UNARY(GetPayRun, GetPayRunRequest, PayRun)
TAHECTL_PAYROLL_UNARY(ListPayRuns, ListPayRunsRequest, ListPayRunsResponse)
TAHECTL_PAYROLL_UNARY(RenderPayslips, RenderPayslipsRequest, RenderPayslipsResponse)
TAHECTL_PAYROLL_UNARY(ApprovePayRun, ApprovePayRunRequest, PayRun)
TAHECTL_PAYROLL_UNARY(CancelPayRun, CancelPayRunRequest, PayRun)
TAHECTL_PAYROLL_UNARY(GetPaymentFile, GetPaymentFileRequest, PaymentFile)

#undef TAHECTL_PAYROLL_UNARY

absl::StatusOr<v1::PayRun> PayrollClient::CalculatePayRun(const v1::CalculatePayRunRequest& request,
                                                          absl::Duration wait) {
  std::unique_ptr<grpc::ClientContext> context = NewContext(std::max(wait, settings_.timeout));
  v1::PayRun response;
  grpc::Status status = stub_->CalculatePayRun(context.get(), request, &response);
  if (!status.ok()) {
    return PayrollRpcError("CalculatePayRun", status);
  }
  return response;
}

namespace {

// Streams `batches` through a client-streaming import and returns its one response.
template <typename Request, typename Response, typename Open>
absl::StatusOr<Response> StreamBatches(absl::string_view method, const ClientSettings& settings,
                                       const std::vector<Request>& batches, Open open) {
  std::unique_ptr<grpc::ClientContext> context = settings.NewContext();
  const int64_t budget_batches = std::max<int64_t>(1, static_cast<int64_t>(batches.size()));
  context->set_deadline(absl::ToChronoTime(absl::Now() + settings.timeout * budget_batches));
  Response response;
  std::unique_ptr<grpc::ClientWriter<Request>> writer = open(context.get(), &response);
  for (const Request& batch : batches) {
    if (!writer->Write(batch)) {
      break;  // the stream is broken; Finish says why
    }
  }
  writer->WritesDone();
  grpc::Status status = writer->Finish();
  if (!status.ok()) {
    return PayrollRpcError(method, status);
  }
  RedactRejections(response);
  return response;
}

}  // namespace

absl::StatusOr<v1::ImportEmployeesResponse> PayrollClient::ImportEmployees(
    const std::vector<v1::ImportEmployeesRequest>& batches) {
  return StreamBatches<v1::ImportEmployeesRequest, v1::ImportEmployeesResponse>(
      "ImportEmployees", settings_, batches,
      [this](grpc::ClientContext* context, v1::ImportEmployeesResponse* response) {
        return stub_->ImportEmployees(context, response);
      });
}

absl::StatusOr<v1::ImportPayItemsResponse> PayrollClient::ImportPayItems(
    const std::vector<v1::ImportPayItemsRequest>& batches) {
  return StreamBatches<v1::ImportPayItemsRequest, v1::ImportPayItemsResponse>(
      "ImportPayItems", settings_, batches,
      [this](grpc::ClientContext* context, v1::ImportPayItemsResponse* response) {
        return stub_->ImportPayItems(context, response);
      });
}

std::unique_ptr<grpc::ClientReader<v1::PayRunProgress>> PayrollClient::WatchPayRun(
    grpc::ClientContext* context, const v1::WatchPayRunRequest& request) {
  return stub_->WatchPayRun(context, request);
}

// --- Printing ------------------------------------------------------------------------------------

namespace {

std::string SalaryBasisName(v1::SalaryBasis basis) {
  return EnumName(v1::SalaryBasis_Name(basis), "SALARY_BASIS_", basis);
}
std::string PensionSchemeName(v1::PensionScheme scheme) {
  return EnumName(v1::PensionScheme_Name(scheme), "PENSION_SCHEME_", scheme);
}
std::string PayItemKindName(v1::PayItemKind kind) {
  return EnumName(v1::PayItemKind_Name(kind), "PAY_ITEM_KIND_", kind);
}
std::string TierName(v1::UnemploymentTier tier) {
  return EnumName(v1::UnemploymentTier_Name(tier), "UNEMPLOYMENT_TIER_", tier);
}

std::string PayOf(const v1::Employment& job) {
  if (job.salary_basis() == v1::SALARY_BASIS_HOURLY) {
    return absl::StrCat(FormatEuros(job.hourly_rate_minor()), "/h");
  }
  return absl::StrCat(FormatEuros(job.monthly_salary_minor()), "/month");
}

}  // namespace

std::string PayRunStatusName(v1::PayRunStatus status) {
  return EnumName(v1::PayRunStatus_Name(status), "PAY_RUN_STATUS_", status);
}

void PrintPayRun(const v1::PayRun& run, std::ostream& out) {
  out << "Pay run " << run.pay_run_id() << ": period " << run.period() << ", payment date "
      << run.payment_date() << ", " << PayRunStatusName(run.status()) << "\n";
  out << "Rate tables: "
      << (run.rate_table_versions().empty() ? "-" : absl::StrJoin(run.rate_table_versions(), ", "))
      << "\n";
  if (run.ledger_sequence() != 0) {
    out << "Ledger entry: #" << run.ledger_sequence() << " (posted " << run.posted_at() << ")\n";
  }
  if (!run.delivery_error().empty()) {
    out << "Ledger delivery waiting: " << RedactIdentityCodes(run.delivery_error()) << "\n";
  }
  out << "\n";
  const v1::PayRunTotalsFigures& t = run.totals();
  Table table({"Totals", "EUR"}, {Align::kLeft, Align::kRight});
  table.AddRow({"Payslips", absl::StrCat(t.payslips())});
  table.AddRow({"Gross cash pay", FormatEuros(t.gross_cash_minor())});
  table.AddRow({"Benefits in kind", FormatEuros(t.benefits_in_kind_minor())});
  table.AddRow({"Tax-free reimbursements", FormatEuros(t.reimbursements_minor())});
  table.AddSeparator();
  table.AddRow({"Withholding", FormatEuros(t.withholding_minor())});
  table.AddRow({"Employee pension", FormatEuros(t.employee_pension_minor())});
  table.AddRow({"Employee unemployment", FormatEuros(t.employee_unemployment_minor())});
  table.AddRow({"Employee contributions",
                FormatEuros(t.employee_pension_minor() + t.employee_unemployment_minor())});
  table.AddRow({"Union fees", FormatEuros(t.union_fees_minor())});
  table.AddRow({"Deductions", FormatEuros(t.deductions_minor())});
  table.AddSeparator();
  table.AddRow({"Net pay", FormatEuros(t.net_pay_minor())});
  table.AddSeparator();
  table.AddRow({"Employer pension", FormatEuros(t.employer_pension_minor())});
  table.AddRow({"Employer unemployment", FormatEuros(t.employer_unemployment_minor())});
  table.AddRow({"Employer health insurance", FormatEuros(t.employer_health_insurance_minor())});
  table.AddRow({"Employer accident insurance", FormatEuros(t.employer_accident_insurance_minor())});
  table.AddRow({"Employer group life insurance", FormatEuros(t.employer_group_life_minor())});
  table.AddRow(
      {"Employer contributions",
       FormatEuros(t.employer_pension_minor() + t.employer_unemployment_minor() +
                   t.employer_health_insurance_minor() + t.employer_accident_insurance_minor() +
                   t.employer_group_life_minor())});
  table.Print(out);
  out << "\nProvisional rates used: "
      << (run.provisional_rates_used().empty() ? "none"
                                               : absl::StrJoin(run.provisional_rates_used(), ", "))
      << "\n";
  out << "Skipped employees: "
      << (run.skipped().empty() ? "none" : absl::StrCat(run.skipped_size())) << "\n";
  for (const v1::Rejection& skipped : run.skipped()) {
    out << "  " << OrDash(skipped.key()) << ": " << RedactIdentityCodes(skipped.message()) << "\n";
  }
}

void PrintPayRuns(const std::vector<v1::PayRun>& runs, std::ostream& out) {
  Table table(
      {"Pay run", "Period", "Payment date", "Status", "Payslips", "Gross", "Net", "Created"},
      {Align::kLeft, Align::kLeft, Align::kLeft, Align::kLeft, Align::kRight, Align::kRight,
       Align::kRight, Align::kLeft});
  for (const v1::PayRun& run : runs) {
    table.AddRow({run.pay_run_id(), run.period(), run.payment_date(),
                  PayRunStatusName(run.status()), absl::StrCat(run.totals().payslips()),
                  FormatEuros(run.totals().gross_cash_minor()),
                  FormatEuros(run.totals().net_pay_minor()), run.created_at()});
  }
  table.Print(out);
  out << Plural(static_cast<int64_t>(runs.size()), "pay run", "pay runs") << "\n";
}

void PrintEmployees(const std::vector<v1::Employee>& employees, std::ostream& out) {
  Table table(
      {"Number", "Name", "Birth date", "Cost centre", "Basis", "Pay", "Pension", "Start", "End"},
      {Align::kLeft, Align::kLeft, Align::kLeft, Align::kLeft, Align::kLeft, Align::kRight,
       Align::kLeft, Align::kLeft, Align::kLeft});
  for (const v1::Employee& e : employees) {
    const v1::Employment& job = e.employment();
    table.AddRow({e.employee_number(), absl::StrCat(e.last_name(), ", ", e.first_name()),
                  e.birth_date(), job.cost_centre(), SalaryBasisName(job.salary_basis()),
                  PayOf(job), PensionSchemeName(job.pension_scheme()), job.start_date(),
                  job.end_date()});
  }
  table.Print(out);
  out << Plural(static_cast<int64_t>(employees.size()), "employee", "employees") << "\n";
}

void PrintEmployee(const v1::Employee& e, std::ostream& out) {
  const v1::Employment& job = e.employment();
  std::map<std::string, std::string> dimensions(job.dimensions().begin(), job.dimensions().end());
  Table table({"Employee", e.employee_number()}, {Align::kLeft, Align::kLeft});
  table.AddRow({"name", absl::StrCat(e.first_name(), " ", e.last_name())});
  table.AddRow({"birth date", OrDash(e.birth_date())});
  table.AddRow({"IBAN", OrDash(e.iban())});
  table.AddRow({"BIC", OrDash(e.bic())});
  table.AddRow({"employment", absl::StrCat(job.start_date(), " - ",
                                           job.end_date().empty() ? "" : job.end_date())});
  table.AddRow({"cost centre", OrDash(job.cost_centre())});
  table.AddRow({"dimensions", OrDash(absl::StrJoin(dimensions, ",", absl::PairFormatter("=")))});
  table.AddRow({"salary basis", SalaryBasisName(job.salary_basis())});
  table.AddRow({"monthly salary", FormatEuros(job.monthly_salary_minor())});
  table.AddRow({"hourly rate", FormatEuros(job.hourly_rate_minor())});
  table.AddRow({"pension scheme", PensionSchemeName(job.pension_scheme())});
  table.AddRow({"union fee", FormatPpmPercent(job.union_fee_ppm())});
  table.AddRow({"updated", OrDash(e.updated_at())});
  table.Print(out);
}

void PrintPayrollSettings(const v1::PayrollSettings& s, std::ostream& out) {
  const v1::PostingAccounts& a = s.accounts();
  Table table({"Setting", "Value"}, {Align::kLeft, Align::kLeft});
  table.AddRow({"pension total", s.pension_total_ppm() == 0
                                     ? "the rate table's"
                                     : FormatPpmPercent(s.pension_total_ppm())});
  table.AddRow({"unemployment tier", TierName(s.unemployment_tier())});
  table.AddRow({"accident insurance", FormatPpmPercent(s.accident_insurance_ppm())});
  table.AddRow({"group life insurance", FormatPpmPercent(s.group_life_insurance_ppm())});
  table.AddRow({"debtor name", OrDash(s.debtor_name())});
  table.AddRow({"debtor IBAN", OrDash(s.debtor_iban())});
  table.AddRow({"debtor BIC", OrDash(s.debtor_bic())});
  table.AddRow({"debtor business id", OrDash(s.debtor_business_id())});
  table.AddRow({"account wages", OrDash(a.wages())});
  table.AddRow({"account reimbursements", OrDash(a.reimbursements())});
  table.AddRow({"account pension costs", OrDash(a.pension_costs())});
  table.AddRow({"account other social costs", OrDash(a.other_social_costs())});
  table.AddRow({"account withholding payable", OrDash(a.withholding_payable())});
  table.AddRow({"account pension payable", OrDash(a.pension_payable())});
  table.AddRow({"account unemployment payable", OrDash(a.unemployment_payable())});
  table.AddRow({"account health insurance payable", OrDash(a.health_insurance_payable())});
  table.AddRow({"account other payable", OrDash(a.other_payable())});
  table.AddRow({"account net pay payable", OrDash(a.net_pay_payable())});
  table.AddRow({"updated", OrDash(s.updated_at())});
  table.Print(out);
}

namespace {

void PrintTaxCards(const v1::ListTaxCardsResponse& cards, std::ostream& out) {
  Table table({"Employee", "Valid from", "Base rate", "Additional rate", "Income limit"},
              {Align::kLeft, Align::kLeft, Align::kRight, Align::kRight, Align::kRight});
  for (const v1::TaxCard& card : cards.tax_cards()) {
    table.AddRow({card.employee_number(), card.valid_from(), FormatPpmPercent(card.base_rate_ppm()),
                  FormatPpmPercent(card.additional_rate_ppm()),
                  FormatEuros(card.income_limit_minor())});
  }
  table.Print(out);
  out << Plural(cards.tax_cards_size(), "tax card", "tax cards") << "\n";
}

void PrintRateTables(const v1::ListRateTablesResponse& tables, std::ostream& out) {
  Table table({"Version", "Valid from", "Source", "Provisional", "Loaded"},
              {Align::kLeft, Align::kLeft, Align::kLeft, Align::kLeft, Align::kLeft});
  for (const v1::RateTable& t : tables.tables()) {
    table.AddRow({t.version(), t.valid_from(), t.built_in() ? "built in" : "loaded",
                  OrDash(absl::StrJoin(t.provisional_fields(), ",")), t.loaded_at()});
  }
  table.Print(out);
  out << Plural(tables.tables_size(), "rate table", "rate tables") << "\n";
}

void PrintPayItems(const v1::ListPayItemsResponse& items, std::ostream& out) {
  Table table({"Item", "Employee", "Period", "Kind", "Quantity", "Unit rate", "Amount",
               "Description", "Paid in"},
              {Align::kLeft, Align::kLeft, Align::kLeft, Align::kLeft, Align::kRight, Align::kRight,
               Align::kRight, Align::kLeft, Align::kLeft});
  for (const v1::PayItem& item : items.items()) {
    const bool by_quantity = item.quantity_centi() != 0 || item.unit_rate_minor() != 0;
    table.AddRow({item.item_id(), item.employee_number(), item.period(),
                  PayItemKindName(item.kind()),
                  by_quantity ? FormatEuros(item.quantity_centi()) : "",
                  by_quantity ? FormatEuros(item.unit_rate_minor()) : "",
                  by_quantity ? "" : FormatEuros(item.amount_minor()), item.description(),
                  item.paid_in_pay_run()});
  }
  table.Print(out);
  out << Plural(items.items_size(), "pay item", "pay items") << "\n";
}

// --- Progress ------------------------------------------------------------------------------------

// What the bar says a run is doing.
std::string Phase(v1::PayRunStatus status, int64_t done, int64_t total) {
  if (total > 0 && done < total) {
    return "calculating";
  }
  switch (status) {
    case v1::PAY_RUN_STATUS_CALCULATED:
      return "calculated";
    case v1::PAY_RUN_STATUS_APPROVED:
      return "approved, posting to the ledger";
    case v1::PAY_RUN_STATUS_POSTED:
      return "posted to the ledger";
    case v1::PAY_RUN_STATUS_CANCELLED:
      return "cancelled";
    default:
      return "calculating";
  }
}

// CalculatePayRun on a thread of its own while this one follows WatchPayRun into the bar. The
// calculation call decides the outcome; the stream only shows progress. A stream that ends before
// the calculation does (it began while the run still looked settled from an earlier calculation)
// is opened again; a service that cannot stream (an older one without WatchPayRun) or refuses to
// is polled with GetPayRun instead.
absl::StatusOr<v1::PayRun> CalculateWithProgress(PayrollClient& payroll,
                                                 const v1::CalculatePayRunRequest& request,
                                                 absl::Duration wait, const PayrollOutput& output) {
  ProgressBar bar(output.err, output.err_is_terminal, "payslips");
  bar.Update("calculating", 0, 0, "");
  CallOutcome<v1::PayRun> outcome;
  std::thread calculation([&payroll, &request, wait, &outcome] {
    outcome.Set(payroll.CalculatePayRun(request, wait));
  });

  v1::WatchPayRunRequest watch_request;
  watch_request.set_pay_run_id(request.pay_run_id());
  // Counts are shown once this calculation is counting: before that, a stream shows the run as
  // an earlier calculation left it (a recalculated run: "3 of 3, CALCULATED").
  bool counting = false;
  bool streaming = true;
  while (streaming) {
    std::unique_ptr<grpc::ClientContext> context = payroll.NewContext(wait);
    if (!outcome.Attach(context.get())) {
      break;
    }
    std::unique_ptr<grpc::ClientReader<v1::PayRunProgress>> reader =
        payroll.WatchPayRun(context.get(), watch_request);
    v1::PayRunProgress progress;
    while (reader->Read(&progress)) {
      const int64_t done = progress.payslips_done();
      const int64_t total = progress.payslips_total();
      counting = counting || (total > 0 && done < total);
      if (counting && total > 0) {
        bar.Update(Phase(progress.status(), done, total), done, total, "");
      }
    }
    const grpc::Status status = reader->Finish();
    outcome.Detach();
    if (!status.ok() && status.error_code() != grpc::StatusCode::CANCELLED) {
      streaming = false;  // an older service without WatchPayRun, or refused: poll instead
    } else if (outcome.WaitFor(output.poll_interval)) {
      break;
    }
  }
  // Polling shows that the service is answering; the run's status changes only when the
  // calculation is done, which the call itself reports.
  v1::GetPayRunRequest get;
  get.set_pay_run_id(request.pay_run_id());
  while (!outcome.WaitFor(output.poll_interval)) {
    absl::StatusOr<v1::PayRun> run = payroll.GetPayRun(get);
    bar.Update("calculating", 0, 0, run.ok() ? "" : absl::StrCat("(", run.status().message(), ")"));
  }
  calculation.join();
  absl::StatusOr<v1::PayRun> result = outcome.Take();
  if (result.ok()) {
    bar.Update(Phase(result->status(), 0, 0), result->totals().payslips(),
               result->totals().payslips(), "");
  }
  bar.Finish();
  return result;
}

bool Settled(v1::PayRunStatus status) {
  return status == v1::PAY_RUN_STATUS_POSTED || status == v1::PAY_RUN_STATUS_CANCELLED;
}

// Follows an approved run until the ledger has its posting (POSTED): WatchPayRun while it lasts,
// then GetPayRun every poll interval. The bar shows the service's own words for each state
// ("approved: delivery to the ledger failed, retrying: ..."). DEADLINE_EXCEEDED after `wait`.
absl::StatusOr<v1::PayRun> WaitUntilPosted(PayrollClient& payroll, const std::string& pay_run_id,
                                           absl::Duration wait, const PayrollOutput& output) {
  std::optional<ProgressBar> bar;
  if (output.format == OutputFormat::kTable) {
    bar.emplace(output.err, output.err_is_terminal, "payslips");
  }
  const absl::Time deadline = absl::Now() + wait;
  bool settled = false;
  {
    std::unique_ptr<grpc::ClientContext> context = payroll.NewContext(wait);
    v1::WatchPayRunRequest request;
    request.set_pay_run_id(pay_run_id);
    std::unique_ptr<grpc::ClientReader<v1::PayRunProgress>> reader =
        payroll.WatchPayRun(context.get(), request);
    v1::PayRunProgress progress;
    while (reader->Read(&progress)) {
      if (bar.has_value()) {
        const std::string message = RedactIdentityCodes(progress.message());
        bar->Update(message.empty() ? Phase(progress.status(), 0, 0) : message, 0, 0, "");
      }
      if (Settled(progress.status())) {
        settled = true;
        context->TryCancel();
        break;
      }
    }
    // Whatever the stream ended with, GetPayRun below has the last word.
    reader->Finish().ok();
  }
  v1::GetPayRunRequest get;
  get.set_pay_run_id(pay_run_id);
  while (true) {
    absl::StatusOr<v1::PayRun> run = payroll.GetPayRun(get);
    if (!run.ok()) {
      if (bar.has_value()) {
        bar->Finish();
      }
      return run.status();
    }
    if (bar.has_value() && !settled) {
      bar->Update(Phase(run->status(), 0, 0), 0, 0, RedactIdentityCodes(run->delivery_error()));
    }
    if (Settled(run->status())) {
      if (bar.has_value()) {
        bar->Finish();
      }
      return run;
    }
    if (absl::Now() + output.poll_interval > deadline) {
      if (bar.has_value()) {
        bar->Finish();
      }
      return absl::DeadlineExceededError(absl::StrCat(
          "pay run ", pay_run_id, " is approved but its ledger posting is still waiting after ",
          absl::FormatDuration(wait),
          run->delivery_error().empty()
              ? ""
              : absl::StrCat(" (", RedactIdentityCodes(run->delivery_error()), ")"),
          "; the outbox keeps retrying"));
    }
    absl::SleepFor(output.poll_interval);
  }
}

// --- Commands --------------------------------------------------------------------------------

template <typename Response>
absl::Status ReportImport(absl::string_view method, absl::string_view path, absl::string_view noun,
                          absl::string_view key_name, const std::vector<int>& rows, size_t batches,
                          const Response& response, const PayrollOutput& output) {
  if (output.format == OutputFormat::kJson) {
    PrintJson(response, output.out);
  } else {
    output.out << path << ": " << rows.size() << " " << noun << " in "
               << Plural(static_cast<int64_t>(batches), "batch", "batches") << ": "
               << response.accepted() << " accepted, " << response.rejected_size() << " rejected\n";
    for (const v1::Rejection& rejection : response.rejected()) {
      output.out << "rejected: " << DescribeRejection(rejection, rows, key_name) << "\n";
    }
  }
  if (response.rejected_size() == 0) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(method, ": ", response.rejected_size(), " of ",
                                                 rows.size(), " ", noun, " rejected"));
}

// The identity code for `employees add`: the file's (or stdin's) one word, never echoed.
absl::StatusOr<std::string> ReadIdentityCode(const Args& args, std::istream& in) {
  const std::string path = args.Value("personal-identity-code-file").value_or("-");
  ASSIGN_OR_RETURN(std::string text, ReadInput("--personal-identity-code-file", path, in));
  const std::string code(absl::StripAsciiWhitespace(text));
  const std::string where = path == "-" ? "on stdin" : absl::StrCat("in ", path);
  if (code.empty()) {
    return UsageError(absl::StrCat("payroll employees add: no personal identity code ", where,
                                   " (give --personal-identity-code-file PATH, or pipe it in)"));
  }
  if (std::any_of(code.begin(), code.end(),
                  [](char c) { return absl::ascii_isspace(static_cast<unsigned char>(c)); })) {
    return UsageError(absl::StrCat("payroll employees add: want one personal identity code ", where,
                                   ", found several words"));
  }
  return code;
}

using Run = std::function<absl::Status(PayrollClient&, const PayrollOutput&)>;

absl::StatusOr<Run> ParseEmployees(
    const Args& args, std::istream& in, const std::string& verb,
    const std::function<absl::Status(const std::vector<absl::string_view>&, size_t,
                                     absl::string_view)>& check) {
  const std::vector<std::string>& words = args.positional();
  if (verb == "import") {
    RETURN_IF_ERROR(
        check({"request-id"}, 4, "payroll employees import FILE.csv [--request-id PREFIX]"));
    const std::string path = words[3];
    ASSIGN_OR_RETURN(std::string text, ReadInput("payroll employees import", path, in));
    CsvImport<EmployeeRow> parsed = ParseEmployeesCsv(text);
    if (!parsed.problems.empty()) {
      return FileProblems(path, parsed.problems);
    }
    const std::string prefix =
        args.Value("request-id").value_or(ContentRequestIdPrefix("employees", text));
    std::vector<v1::ImportEmployeesRequest> batches = EmployeeBatches(parsed.rows, prefix);
    std::vector<int> rows;
    for (const EmployeeRow& row : parsed.rows) {
      rows.push_back(row.row);
    }
    return Run([path, batches = std::move(batches), rows = std::move(rows)](
                   PayrollClient& payroll, const PayrollOutput& output) -> absl::Status {
      ASSIGN_OR_RETURN(v1::ImportEmployeesResponse response, payroll.ImportEmployees(batches));
      return ReportImport("ImportEmployees", path, "employees", "employee", rows, batches.size(),
                          response, output);
    });
  }
  if (verb == "list") {
    RETURN_IF_ERROR(check({}, 3, "payroll employees list"));
    return Run([](PayrollClient& payroll, const PayrollOutput& output) -> absl::Status {
      v1::ListEmployeesRequest request;
      v1::ListEmployeesResponse all;
      while (true) {
        ASSIGN_OR_RETURN(v1::ListEmployeesResponse page, payroll.ListEmployees(request));
        for (v1::Employee& employee : *page.mutable_employees()) {
          *all.add_employees() = std::move(employee);
        }
        if (page.next_page_token().empty()) {
          break;
        }
        request.set_page_token(page.next_page_token());
      }
      if (output.format == OutputFormat::kJson) {
        PrintJson(all, output.out);
      } else {
        PrintEmployees({all.employees().begin(), all.employees().end()}, output.out);
      }
      return absl::OkStatus();
    });
  }
  if (verb == "get") {
    RETURN_IF_ERROR(check({}, 4, "payroll employees get NUMBER"));
    v1::GetEmployeeRequest request;
    request.set_employee_number(words[3]);
    return Run([request](PayrollClient& payroll, const PayrollOutput& output) -> absl::Status {
      ASSIGN_OR_RETURN(v1::Employee employee, payroll.GetEmployee(request));
      output.format == OutputFormat::kJson ? PrintJson(employee, output.out)
                                           : PrintEmployee(employee, output.out);
      return absl::OkStatus();
    });
  }
  if (verb == "add") {
    constexpr absl::string_view kUsage =
        "payroll employees add NUMBER --first-name NAME --last-name NAME --iban IBAN "
        "--start-date YYYY-MM-DD --cost-centre CC --salary-basis MONTHLY|HOURLY "
        "(--monthly-salary EUR | --hourly-rate EUR) --pension-scheme KEVA|TYEL "
        "[--personal-identity-code-file PATH|-] [...]  (see tahectl --help)";
    RETURN_IF_ERROR(
        check({"first-name", "last-name", "personal-identity-code-file", "iban", "bic",
               "start-date", "end-date", "cost-centre", "salary-basis", "monthly-salary",
               "hourly-rate", "pension-scheme", "union-fee-percent", "dimension", "request-id"},
              4, kUsage));
    constexpr absl::string_view kName = "payroll employees add";
    v1::UpsertEmployeeRequest request;
    request.set_request_id(RequestIdOf(args));
    v1::Employee& employee = *request.mutable_employee();
    employee.set_employee_number(words[3]);
    ASSIGN_OR_RETURN(*employee.mutable_first_name(), RequiredOption(args, kName, "first-name"));
    ASSIGN_OR_RETURN(*employee.mutable_last_name(), RequiredOption(args, kName, "last-name"));
    ASSIGN_OR_RETURN(*employee.mutable_iban(), RequiredOption(args, kName, "iban"));
    employee.set_bic(args.Value("bic").value_or(""));
    v1::Employment& job = *employee.mutable_employment();
    ASSIGN_OR_RETURN(*job.mutable_start_date(), RequiredOption(args, kName, "start-date"));
    RETURN_IF_ERROR(AsUsage(ParseDate("--start-date", job.start_date())).status());
    if (std::optional<std::string> end = args.Value("end-date")) {
      RETURN_IF_ERROR(AsUsage(ParseDate("--end-date", *end)).status());
      job.set_end_date(*end);
    }
    ASSIGN_OR_RETURN(*job.mutable_cost_centre(), RequiredOption(args, kName, "cost-centre"));
    ASSIGN_OR_RETURN(std::string basis, RequiredOption(args, kName, "salary-basis"));
    v1::SalaryBasis salary_basis{};
    if (!v1::SalaryBasis_Parse(absl::StrCat("SALARY_BASIS_", absl::AsciiStrToUpper(basis)),
                               &salary_basis) ||
        salary_basis == v1::SALARY_BASIS_UNSPECIFIED) {
      return UsageError(
          absl::StrCat("--salary-basis: want MONTHLY or HOURLY, got \"", basis, "\""));
    }
    job.set_salary_basis(salary_basis);
    if (std::optional<std::string> salary = args.Value("monthly-salary")) {
      ASSIGN_OR_RETURN(int64_t cents, AsUsage(ParseEurosNonNegative("--monthly-salary", *salary)));
      job.set_monthly_salary_minor(cents);
    } else if (salary_basis == v1::SALARY_BASIS_MONTHLY) {
      return UsageError(absl::StrCat(kName, ": --monthly-salary is required for MONTHLY"));
    }
    if (std::optional<std::string> rate = args.Value("hourly-rate")) {
      ASSIGN_OR_RETURN(int64_t cents, AsUsage(ParseEurosNonNegative("--hourly-rate", *rate)));
      job.set_hourly_rate_minor(cents);
    } else if (salary_basis == v1::SALARY_BASIS_HOURLY) {
      return UsageError(absl::StrCat(kName, ": --hourly-rate is required for HOURLY"));
    }
    ASSIGN_OR_RETURN(std::string scheme, RequiredOption(args, kName, "pension-scheme"));
    v1::PensionScheme pension_scheme{};
    if (!v1::PensionScheme_Parse(absl::StrCat("PENSION_SCHEME_", absl::AsciiStrToUpper(scheme)),
                                 &pension_scheme) ||
        pension_scheme == v1::PENSION_SCHEME_UNSPECIFIED) {
      return UsageError(absl::StrCat("--pension-scheme: want KEVA or TYEL, got \"", scheme, "\""));
    }
    job.set_pension_scheme(pension_scheme);
    if (std::optional<std::string> fee = args.Value("union-fee-percent")) {
      ASSIGN_OR_RETURN(int64_t ppm, AsUsage(ParsePercentPpm("--union-fee-percent", *fee)));
      job.set_union_fee_ppm(ppm);
    }
    for (const std::string& dimension : args.Values("dimension")) {
      const size_t eq = dimension.find('=');
      if (eq == std::string::npos || eq == 0 || eq + 1 == dimension.size()) {
        return UsageError(
            absl::StrCat("--dimension: want KEY=VALUE (project=P1), got \"", dimension, "\""));
      }
      if (!job.mutable_dimensions()
               ->insert({dimension.substr(0, eq), dimension.substr(eq + 1)})
               .second) {
        return UsageError(absl::StrCat("--dimension: ", dimension.substr(0, eq), " given twice"));
      }
    }
    // Last, so that a mistake above does not consume stdin for nothing.
    ASSIGN_OR_RETURN(*employee.mutable_personal_identity_code(), ReadIdentityCode(args, in));
    return Run([request](PayrollClient& payroll, const PayrollOutput& output) -> absl::Status {
      ASSIGN_OR_RETURN(v1::Employee employee, payroll.UpsertEmployee(request));
      if (output.format == OutputFormat::kJson) {
        PrintJson(employee, output.out);
        return absl::OkStatus();
      }
      output.out << "saved employee " << employee.employee_number() << " (request id "
                 << request.request_id() << ")\n";
      PrintEmployee(employee, output.out);
      return absl::OkStatus();
    });
  }
  return UsageError(absl::StrCat("unknown command 'payroll employees ", verb, "'"));
}

// The options of `payroll settings set` that take text as it is.
const std::vector<absl::string_view>& SettingsTextOptions() {
  static const auto* const kOptions =
      new std::vector<absl::string_view>{"debtor-name",
                                         "debtor-iban",
                                         "debtor-bic",
                                         "debtor-business-id",
                                         "account-wages",
                                         "account-reimbursements",
                                         "account-pension-costs",
                                         "account-other-social-costs",
                                         "account-withholding-payable",
                                         "account-pension-payable",
                                         "account-unemployment-payable",
                                         "account-health-insurance-payable",
                                         "account-other-payable",
                                         "account-net-pay-payable"};
  return *kOptions;
}

absl::StatusOr<Run> ParseSettingsSet(const Args& args) {
  // Read, change what the options name, write back: SetPayrollSettings replaces every setting.
  struct Change {
    std::optional<int64_t> pension_total_ppm;
    std::optional<v1::UnemploymentTier> tier;
    std::optional<int64_t> accident_ppm;
    std::optional<int64_t> group_life_ppm;
    std::map<std::string, std::string> text;  // option -> value
  };
  Change change;
  bool any = false;
  const auto percent = [&](absl::string_view option,
                           std::optional<int64_t>& target) -> absl::Status {
    if (std::optional<std::string> text = args.Value(option)) {
      ASSIGN_OR_RETURN(target, AsUsage(ParsePercentPpm(absl::StrCat("--", option), *text)));
      any = true;
    }
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(percent("pension-total", change.pension_total_ppm));
  RETURN_IF_ERROR(percent("accident-insurance", change.accident_ppm));
  RETURN_IF_ERROR(percent("group-life-insurance", change.group_life_ppm));
  if (std::optional<std::string> tier = args.Value("unemployment-tier")) {
    v1::UnemploymentTier parsed{};
    if (!v1::UnemploymentTier_Parse(
            absl::StrCat("UNEMPLOYMENT_TIER_", absl::AsciiStrToUpper(*tier)), &parsed) ||
        parsed == v1::UNEMPLOYMENT_TIER_UNSPECIFIED) {
      return UsageError(
          absl::StrCat("--unemployment-tier: want lower or upper, got \"", *tier, "\""));
    }
    change.tier = parsed;
    any = true;
  }
  for (absl::string_view option : SettingsTextOptions()) {
    if (std::optional<std::string> value = args.Value(option)) {
      if (value->empty()) {
        return UsageError(absl::StrCat("--", option, ": want a value"));
      }
      change.text[std::string(option)] = *value;
      any = true;
    }
  }
  if (!any) {
    return UsageError("payroll settings set: nothing to change (see tahectl --help)");
  }
  const std::string request_id = RequestIdOf(args);
  return Run(
      [change, request_id](PayrollClient& payroll, const PayrollOutput& output) -> absl::Status {
        ASSIGN_OR_RETURN(v1::PayrollSettings settings,
                         payroll.GetPayrollSettings(v1::GetPayrollSettingsRequest()));
        settings.clear_updated_at();
        if (change.pension_total_ppm.has_value()) {
          settings.set_pension_total_ppm(*change.pension_total_ppm);
        }
        if (change.tier.has_value()) {
          settings.set_unemployment_tier(*change.tier);
        }
        if (change.accident_ppm.has_value()) {
          settings.set_accident_insurance_ppm(*change.accident_ppm);
        }
        if (change.group_life_ppm.has_value()) {
          settings.set_group_life_insurance_ppm(*change.group_life_ppm);
        }
        v1::PostingAccounts& a = *settings.mutable_accounts();
        const std::map<std::string, std::string*> fields = {
            {"debtor-name", settings.mutable_debtor_name()},
            {"debtor-iban", settings.mutable_debtor_iban()},
            {"debtor-bic", settings.mutable_debtor_bic()},
            {"debtor-business-id", settings.mutable_debtor_business_id()},
            {"account-wages", a.mutable_wages()},
            {"account-reimbursements", a.mutable_reimbursements()},
            {"account-pension-costs", a.mutable_pension_costs()},
            {"account-other-social-costs", a.mutable_other_social_costs()},
            {"account-withholding-payable", a.mutable_withholding_payable()},
            {"account-pension-payable", a.mutable_pension_payable()},
            {"account-unemployment-payable", a.mutable_unemployment_payable()},
            {"account-health-insurance-payable", a.mutable_health_insurance_payable()},
            {"account-other-payable", a.mutable_other_payable()},
            {"account-net-pay-payable", a.mutable_net_pay_payable()}};
        for (const auto& [option, value] : change.text) {
          *fields.at(option) = value;
        }
        if (change.text.count("debtor-iban") > 0 && change.text.count("debtor-bic") == 0) {
          // The service derives the BIC of a new IBAN; the old one would belong to the old bank.
          settings.clear_debtor_bic();
        }
        v1::SetPayrollSettingsRequest request;
        request.set_request_id(request_id);
        *request.mutable_settings() = settings;
        ASSIGN_OR_RETURN(v1::PayrollSettings saved, payroll.SetPayrollSettings(request));
        if (output.format == OutputFormat::kJson) {
          PrintJson(saved, output.out);
          return absl::OkStatus();
        }
        output.out << "saved payroll settings (request id " << request_id << ")\n";
        PrintPayrollSettings(saved, output.out);
        return absl::OkStatus();
      });
}

absl::StatusOr<Run> ParseRun(const Args& args, const std::string& verb,
                             const std::function<absl::Status(const std::vector<absl::string_view>&,
                                                              size_t, absl::string_view)>& check) {
  const std::vector<std::string>& words = args.positional();
  if (verb == "create") {
    RETURN_IF_ERROR(check({"period", "payment-date", "request-id"}, 3,
                          "payroll run create --period YYYY-MM --payment-date YYYY-MM-DD "
                          "[--request-id ID]"));
    constexpr absl::string_view kName = "payroll run create";
    v1::CreatePayRunRequest request;
    request.set_request_id(RequestIdOf(args));
    ASSIGN_OR_RETURN(*request.mutable_period(), RequiredOption(args, kName, "period"));
    RETURN_IF_ERROR(AsUsage(ParsePeriod("--period", request.period())).status());
    ASSIGN_OR_RETURN(*request.mutable_payment_date(), RequiredOption(args, kName, "payment-date"));
    RETURN_IF_ERROR(AsUsage(ParseDate("--payment-date", request.payment_date())).status());
    return Run([request](PayrollClient& payroll, const PayrollOutput& output) -> absl::Status {
      ASSIGN_OR_RETURN(v1::PayRun run, payroll.CreatePayRun(request));
      if (output.format == OutputFormat::kJson) {
        PrintJson(run, output.out);
        return absl::OkStatus();
      }
      output.out << "created pay run " << run.pay_run_id() << " (request id "
                 << request.request_id() << ")\n";
      PrintPayRun(run, output.out);
      return absl::OkStatus();
    });
  }
  if (verb == "calculate") {
    RETURN_IF_ERROR(check({"wait-timeout", "request-id"}, 4,
                          "payroll run calculate RUN_ID [--wait-timeout DURATION] "
                          "[--request-id ID]"));
    ASSIGN_OR_RETURN(absl::Duration wait,
                     DurationOption(args, "wait-timeout", kDefaultPayrollWait));
    v1::CalculatePayRunRequest request;
    request.set_request_id(RequestIdOf(args));
    request.set_pay_run_id(words[3]);
    return Run(
        [request, wait](PayrollClient& payroll, const PayrollOutput& output) -> absl::Status {
          if (output.format == OutputFormat::kJson) {
            ASSIGN_OR_RETURN(v1::PayRun run, payroll.CalculatePayRun(request, wait));
            PrintJson(run, output.out);
            return absl::OkStatus();
          }
          ASSIGN_OR_RETURN(v1::PayRun run, CalculateWithProgress(payroll, request, wait, output));
          output.out << "calculated pay run " << run.pay_run_id() << " (request id "
                     << request.request_id() << ")\n";
          PrintPayRun(run, output.out);
          return absl::OkStatus();
        });
  }
  if (verb == "approve") {
    RETURN_IF_ERROR(check({"wait-posted", "wait-timeout", "request-id"}, 4,
                          "payroll run approve RUN_ID [--wait-posted] [--wait-timeout DURATION] "
                          "[--request-id ID]"));
    if (args.Has("wait-timeout") && !args.Has("wait-posted")) {
      return UsageError("payroll run approve: --wait-timeout goes with --wait-posted");
    }
    ASSIGN_OR_RETURN(absl::Duration wait,
                     DurationOption(args, "wait-timeout", kDefaultPayrollWait));
    const bool wait_posted = args.Has("wait-posted");
    v1::ApprovePayRunRequest request;
    request.set_request_id(RequestIdOf(args));
    request.set_pay_run_id(words[3]);
    return Run([request, wait, wait_posted](PayrollClient& payroll,
                                            const PayrollOutput& output) -> absl::Status {
      ASSIGN_OR_RETURN(v1::PayRun run, payroll.ApprovePayRun(request));
      if (output.format == OutputFormat::kTable) {
        output.out << "approved pay run " << run.pay_run_id() << " (request id "
                   << request.request_id() << ")\n";
      }
      if (wait_posted && !Settled(run.status())) {
        ASSIGN_OR_RETURN(run, WaitUntilPosted(payroll, run.pay_run_id(), wait, output));
        if (run.status() == v1::PAY_RUN_STATUS_CANCELLED) {
          return absl::FailedPreconditionError(
              absl::StrCat("pay run ", run.pay_run_id(), " was cancelled before it was posted"));
        }
      }
      if (output.format == OutputFormat::kJson) {
        PrintJson(run, output.out);
      } else {
        PrintPayRun(run, output.out);
      }
      return absl::OkStatus();
    });
  }
  if (verb == "cancel") {
    RETURN_IF_ERROR(check({"request-id"}, 4, "payroll run cancel RUN_ID [--request-id ID]"));
    v1::CancelPayRunRequest request;
    request.set_request_id(RequestIdOf(args));
    request.set_pay_run_id(words[3]);
    return Run([request](PayrollClient& payroll, const PayrollOutput& output) -> absl::Status {
      ASSIGN_OR_RETURN(v1::PayRun run, payroll.CancelPayRun(request));
      if (output.format == OutputFormat::kJson) {
        PrintJson(run, output.out);
        return absl::OkStatus();
      }
      output.out << "cancelled pay run " << run.pay_run_id() << " (request id "
                 << request.request_id() << ")\n";
      return absl::OkStatus();
    });
  }
  if (verb == "get") {
    RETURN_IF_ERROR(check({}, 4, "payroll run get RUN_ID"));
    v1::GetPayRunRequest request;
    request.set_pay_run_id(words[3]);
    return Run([request](PayrollClient& payroll, const PayrollOutput& output) -> absl::Status {
      ASSIGN_OR_RETURN(v1::PayRun run, payroll.GetPayRun(request));
      output.format == OutputFormat::kJson ? PrintJson(run, output.out)
                                           : PrintPayRun(run, output.out);
      return absl::OkStatus();
    });
  }
  return UsageError(absl::StrCat("unknown command 'payroll run ", verb,
                                 "' (create, calculate, approve, cancel or get)"));
}

}  // namespace

absl::StatusOr<PayrollCommand> ParsePayrollCommand(const Args& args, std::istream& in) {
  const std::vector<std::string>& words = args.positional();
  constexpr absl::string_view kSynopsis =
      "usage: tahectl payroll employees|tax-card|tax-cards|settings|rate-tables|items|run|runs|"
      "payslips|payment-file ...  (see tahectl --help)";
  if (words.size() < 2) {
    return UsageError(kSynopsis);
  }
  const std::string& group = words[1];
  const bool has_verb = group == "employees" || group == "tax-card" || group == "settings" ||
                        group == "rate-tables" || group == "items" || group == "run";
  const std::string verb = has_verb && words.size() > 2 ? words[2] : "";
  PayrollCommand command;
  command.name = absl::StrCat("payroll ", group, verb.empty() ? "" : " ", verb);
  const auto check = [&](const std::vector<absl::string_view>& allowed, size_t operands,
                         absl::string_view synopsis) -> absl::Status {
    if (absl::Status s = args.CheckOnly(command.name, allowed); !s.ok()) {
      return UsageError(s);
    }
    if (words.size() != operands) {
      return UsageError(absl::StrCat("usage: tahectl ", synopsis));
    }
    return absl::OkStatus();
  };
  if (has_verb && verb.empty()) {
    return UsageError(absl::StrCat("usage: tahectl payroll ", group, " ...  (see tahectl --help)"));
  }

  if (group == "employees") {
    ASSIGN_OR_RETURN(command.run, ParseEmployees(args, in, verb, check));
  } else if (group == "tax-card" && verb == "set") {
    RETURN_IF_ERROR(
        check({"valid-from", "base-rate", "additional-rate", "income-limit", "request-id"}, 4,
              "payroll tax-card set NUMBER --valid-from YYYY-MM-DD --base-rate PERCENT "
              "--additional-rate PERCENT --income-limit EUR [--request-id ID]"));
    constexpr absl::string_view kName = "payroll tax-card set";
    v1::SetTaxCardRequest request;
    request.set_request_id(RequestIdOf(args));
    v1::TaxCard& card = *request.mutable_tax_card();
    card.set_employee_number(words[3]);
    ASSIGN_OR_RETURN(*card.mutable_valid_from(), RequiredOption(args, kName, "valid-from"));
    RETURN_IF_ERROR(AsUsage(ParseDate("--valid-from", card.valid_from())).status());
    ASSIGN_OR_RETURN(std::string base, RequiredOption(args, kName, "base-rate"));
    ASSIGN_OR_RETURN(int64_t base_ppm, AsUsage(ParsePercentPpm("--base-rate", base)));
    card.set_base_rate_ppm(base_ppm);
    ASSIGN_OR_RETURN(std::string additional, RequiredOption(args, kName, "additional-rate"));
    ASSIGN_OR_RETURN(int64_t additional_ppm,
                     AsUsage(ParsePercentPpm("--additional-rate", additional)));
    card.set_additional_rate_ppm(additional_ppm);
    ASSIGN_OR_RETURN(std::string limit, RequiredOption(args, kName, "income-limit"));
    ASSIGN_OR_RETURN(int64_t limit_cents, AsUsage(ParseEurosNonNegative("--income-limit", limit)));
    card.set_income_limit_minor(limit_cents);
    command.run = [request](PayrollClient& payroll, const PayrollOutput& output) -> absl::Status {
      ASSIGN_OR_RETURN(v1::TaxCard card, payroll.SetTaxCard(request));
      if (output.format == OutputFormat::kJson) {
        PrintJson(card, output.out);
        return absl::OkStatus();
      }
      output.out << "saved tax card of " << card.employee_number() << " (request id "
                 << request.request_id() << ")\n";
      v1::ListTaxCardsResponse cards;
      *cards.add_tax_cards() = card;
      PrintTaxCards(cards, output.out);
      return absl::OkStatus();
    };
  } else if (group == "tax-cards") {
    RETURN_IF_ERROR(check({}, 3, "payroll tax-cards NUMBER"));
    v1::ListTaxCardsRequest request;
    request.set_employee_number(words[2]);
    command.run = [request](PayrollClient& payroll, const PayrollOutput& output) -> absl::Status {
      ASSIGN_OR_RETURN(v1::ListTaxCardsResponse cards, payroll.ListTaxCards(request));
      output.format == OutputFormat::kJson ? PrintJson(cards, output.out)
                                           : PrintTaxCards(cards, output.out);
      return absl::OkStatus();
    };
  } else if (group == "settings" && verb == "get") {
    RETURN_IF_ERROR(check({}, 3, "payroll settings get"));
    command.run = [](PayrollClient& payroll, const PayrollOutput& output) -> absl::Status {
      ASSIGN_OR_RETURN(v1::PayrollSettings settings,
                       payroll.GetPayrollSettings(v1::GetPayrollSettingsRequest()));
      output.format == OutputFormat::kJson ? PrintJson(settings, output.out)
                                           : PrintPayrollSettings(settings, output.out);
      return absl::OkStatus();
    };
  } else if (group == "settings" && verb == "set") {
    std::vector<absl::string_view> allowed = {"pension-total", "unemployment-tier",
                                              "accident-insurance", "group-life-insurance",
                                              "request-id"};
    allowed.insert(allowed.end(), SettingsTextOptions().begin(), SettingsTextOptions().end());
    RETURN_IF_ERROR(check(allowed, 3,
                          "payroll settings set [--pension-total PERCENT] "
                          "[--unemployment-tier lower|upper] [...]  (see tahectl --help)"));
    ASSIGN_OR_RETURN(command.run, ParseSettingsSet(args));
  } else if (group == "rate-tables" && verb == "list") {
    RETURN_IF_ERROR(check({}, 3, "payroll rate-tables list"));
    command.run = [](PayrollClient& payroll, const PayrollOutput& output) -> absl::Status {
      ASSIGN_OR_RETURN(v1::ListRateTablesResponse tables,
                       payroll.ListRateTables(v1::ListRateTablesRequest()));
      output.format == OutputFormat::kJson ? PrintJson(tables, output.out)
                                           : PrintRateTables(tables, output.out);
      return absl::OkStatus();
    };
  } else if (group == "rate-tables" && verb == "show") {
    RETURN_IF_ERROR(check({}, 4, "payroll rate-tables show VERSION"));
    const std::string version = words[3];
    command.run = [version](PayrollClient& payroll, const PayrollOutput& output) -> absl::Status {
      ASSIGN_OR_RETURN(v1::ListRateTablesResponse tables,
                       payroll.ListRateTables(v1::ListRateTablesRequest()));
      for (const v1::RateTable& table : tables.tables()) {
        if (table.version() == version) {
          if (output.format == OutputFormat::kJson) {
            PrintJson(table, output.out);
          } else {
            output.out << table.text();
            if (!table.text().empty() && table.text().back() != '\n') {
              output.out << "\n";
            }
          }
          return absl::OkStatus();
        }
      }
      return absl::NotFoundError(absl::StrCat("ListRateTables: no rate table ", version,
                                              " (tahectl payroll rate-tables "
                                              "list shows them)"));
    };
  } else if (group == "rate-tables" && verb == "load") {
    RETURN_IF_ERROR(check({"request-id"}, 4, "payroll rate-tables load FILE [--request-id ID]"));
    const std::string path = words[3];
    ASSIGN_OR_RETURN(std::string text, ReadInput("payroll rate-tables load", path, in));
    if (absl::StripAsciiWhitespace(text).empty()) {
      return UsageError(absl::StrCat("payroll rate-tables load: ", path, " is empty"));
    }
    v1::LoadRateTableRequest request;
    // The same file loads once: its content names the request.
    request.set_request_id(
        args.Value("request-id").value_or(ContentRequestIdPrefix("rate-table", text)));
    request.mutable_table()->set_text(text);
    command.run = [request](PayrollClient& payroll, const PayrollOutput& output) -> absl::Status {
      ASSIGN_OR_RETURN(v1::RateTable table, payroll.LoadRateTable(request));
      if (output.format == OutputFormat::kJson) {
        PrintJson(table, output.out);
        return absl::OkStatus();
      }
      output.out << "loaded rate table " << table.version() << ", valid from " << table.valid_from()
                 << " (request id " << request.request_id() << ")\n";
      if (!table.provisional_fields().empty()) {
        output.out << "provisional: " << absl::StrJoin(table.provisional_fields(), ", ") << "\n";
      }
      return absl::OkStatus();
    };
  } else if (group == "items" && verb == "import") {
    RETURN_IF_ERROR(
        check({"request-id"}, 4, "payroll items import FILE.csv [--request-id PREFIX]"));
    const std::string path = words[3];
    ASSIGN_OR_RETURN(std::string text, ReadInput("payroll items import", path, in));
    CsvImport<PayItemRow> parsed = ParsePayItemsCsv(text);
    if (!parsed.problems.empty()) {
      return FileProblems(path, parsed.problems);
    }
    const std::string prefix =
        args.Value("request-id").value_or(ContentRequestIdPrefix("pay-items", text));
    std::vector<v1::ImportPayItemsRequest> batches = PayItemBatches(parsed.rows, prefix);
    std::vector<int> rows;
    for (const PayItemRow& row : parsed.rows) {
      rows.push_back(row.row);
    }
    command.run = [path, batches = std::move(batches), rows = std::move(rows)](
                      PayrollClient& payroll, const PayrollOutput& output) -> absl::Status {
      ASSIGN_OR_RETURN(v1::ImportPayItemsResponse response, payroll.ImportPayItems(batches));
      return ReportImport("ImportPayItems", path, "pay items", "item", rows, batches.size(),
                          response, output);
    };
  } else if (group == "items" && verb == "list") {
    RETURN_IF_ERROR(check({"period", "employee"}, 3,
                          "payroll items list [--period YYYY-MM] [--employee NUMBER]"));
    v1::ListPayItemsRequest request;
    if (std::optional<std::string> period = args.Value("period")) {
      RETURN_IF_ERROR(AsUsage(ParsePeriod("--period", *period)).status());
      request.set_period(*period);
    }
    request.set_employee_number(args.Value("employee").value_or(""));
    command.run = [request](PayrollClient& payroll, const PayrollOutput& output) -> absl::Status {
      ASSIGN_OR_RETURN(v1::ListPayItemsResponse items, payroll.ListPayItems(request));
      output.format == OutputFormat::kJson ? PrintJson(items, output.out)
                                           : PrintPayItems(items, output.out);
      return absl::OkStatus();
    };
  } else if (group == "run") {
    ASSIGN_OR_RETURN(command.run, ParseRun(args, verb, check));
  } else if (group == "runs") {
    RETURN_IF_ERROR(check({"period"}, 2, "payroll runs [--period YYYY-MM]"));
    v1::ListPayRunsRequest request;
    if (std::optional<std::string> period = args.Value("period")) {
      RETURN_IF_ERROR(AsUsage(ParsePeriod("--period", *period)).status());
      request.set_period(*period);
    }
    command.run = [request](PayrollClient& payroll, const PayrollOutput& output) -> absl::Status {
      ASSIGN_OR_RETURN(v1::ListPayRunsResponse runs, payroll.ListPayRuns(request));
      output.format == OutputFormat::kJson
          ? PrintJson(runs, output.out)
          : PrintPayRuns({runs.pay_runs().begin(), runs.pay_runs().end()}, output.out);
      return absl::OkStatus();
    };
  } else if (group == "payslips") {
    RETURN_IF_ERROR(check({"employee", "format"}, 3,
                          "payroll payslips RUN_ID [--employee NUMBER] [--format text|csv]"));
    v1::RenderPayslipsRequest request;
    request.set_pay_run_id(words[2]);
    request.set_employee_number(args.Value("employee").value_or(""));
    const std::string format = args.Value("format").value_or("text");
    if (format == "text") {
      request.set_format(v1::RENDER_FORMAT_TEXT);
    } else if (format == "csv") {
      request.set_format(v1::RENDER_FORMAT_CSV);
    } else {
      return UsageError(absl::StrCat("--format: want text or csv, got \"", format, "\""));
    }
    command.run = [request](PayrollClient& payroll, const PayrollOutput& output) -> absl::Status {
      ASSIGN_OR_RETURN(v1::RenderPayslipsResponse rendered, payroll.RenderPayslips(request));
      if (output.format == OutputFormat::kJson) {
        PrintJson(rendered, output.out);
      } else {
        output.out << rendered.content();
      }
      return absl::OkStatus();
    };
  } else if (group == "payment-file") {
    RETURN_IF_ERROR(check({"out"}, 3, "payroll payment-file RUN_ID --out FILE"));
    ASSIGN_OR_RETURN(std::string path, RequiredOption(args, "payroll payment-file", "out"));
    // Checked now as well as when it is created, so that an existing file costs no call.
    if (::access(path.c_str(), F_OK) == 0) {
      return UsageError(absl::FailedPreconditionError(
          absl::StrCat("--out: ", path, " already exists; not overwriting it")));
    }
    v1::GetPaymentFileRequest request;
    request.set_pay_run_id(words[2]);
    command.run = [request, path](PayrollClient& payroll,
                                  const PayrollOutput& output) -> absl::Status {
      ASSIGN_OR_RETURN(v1::PaymentFile file, payroll.GetPaymentFile(request));
      RETURN_IF_ERROR(CreateAndWrite(path, file.content()));
      if (output.format == OutputFormat::kJson) {
        // The content is in the file.
        file.clear_content();
        PrintJson(file, output.out);
        return absl::OkStatus();
      }
      output.out << "wrote " << path << " (" << file.file_name() << ", " << file.content_type()
                 << "): " << Plural(file.transactions(), "transaction", "transactions")
                 << ", control sum " << FormatEuros(file.control_sum_minor()) << " EUR\n";
      return absl::OkStatus();
    };
  } else if (has_verb) {
    return UsageError(absl::StrCat("unknown command '", command.name, "'"));
  } else {
    return UsageError(absl::StrCat("unknown command 'payroll ", group, "'"));
  }
  return command;
}

}  // namespace tahe::tahectl
