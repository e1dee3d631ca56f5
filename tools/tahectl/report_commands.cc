#include "tools/tahectl/report_commands.h"

#include <unistd.h>

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "libs/status/status.h"
#include "tools/tahectl/parse.h"
#include "tools/tahectl/report_csv.h"

namespace tahe::tahectl {

namespace v1 = ::tahe::reporting::v1;

ReportingClient::ReportingClient(ClientSettings settings)
    : settings_(std::move(settings)),
      stub_(v1::ReportingService::NewStub(settings_.NewChannel())) {}

// One definition per unary RPC: a fresh context, the call, and the error named after the method.
#define TAHECTL_REPORTING_UNARY(Method, Request, Response)                           \
  absl::StatusOr<v1::Response> ReportingClient::Method(const v1::Request& request) { \
    std::unique_ptr<grpc::ClientContext> context = settings_.NewContext();           \
    v1::Response response;                                                           \
    grpc::Status status = stub_->Method(context.get(), request, &response);          \
    if (!status.ok()) {                                                              \
      return RpcError(#Method, status);                                              \
    }                                                                                \
    return response;                                                                 \
  }

TAHECTL_REPORTING_UNARY(GetTrialBalance, GetTrialBalanceRequest, TrialBalance)
TAHECTL_REPORTING_UNARY(GetIncomeStatement, GetIncomeStatementRequest, Statement)
TAHECTL_REPORTING_UNARY(GetBalanceSheet, GetBalanceSheetRequest, Statement)
TAHECTL_REPORTING_UNARY(GetCostCentreReport, GetCostCentreReportRequest, CostCentreReport)
TAHECTL_REPORTING_UNARY(UploadBudget, UploadBudgetRequest, UploadBudgetResponse)
TAHECTL_REPORTING_UNARY(GetBudgetReport, GetBudgetReportRequest, BudgetReport)
TAHECTL_REPORTING_UNARY(GetPayrollCosts, GetPayrollCostsRequest, PayrollCosts)
TAHECTL_REPORTING_UNARY(GetReceivablesAgeing, GetReceivablesAgeingRequest, ReceivablesAgeing)
TAHECTL_REPORTING_UNARY(SetStatementMapping, SetStatementMappingRequest, StatementMapping)
TAHECTL_REPORTING_UNARY(GetStatementMapping, GetStatementMappingRequest, StatementMapping)
TAHECTL_REPORTING_UNARY(ExportReport, ExportReportRequest, ExportReportResponse)
TAHECTL_REPORTING_UNARY(GetRegionalReport, GetRegionalReportRequest, RegionalReport)
TAHECTL_REPORTING_UNARY(GetFeedStatus, GetFeedStatusRequest, FeedStatus)

#undef TAHECTL_REPORTING_UNARY

// --- Printing ------------------------------------------------------------------------------------

std::string UpperLabel(absl::string_view label) {
  std::string upper = absl::AsciiStrToUpper(label);
  // å ä ö (U+00E5, U+00E4, U+00F6) are C3 A5, C3 A4, C3 B6; their capitals C3 85, C3 84, C3 96.
  for (size_t i = 0; i + 1 < upper.size(); ++i) {
    if (upper[i] != '\xC3') {
      continue;
    }
    char& second = upper[i + 1];
    if (second == '\xA5' || second == '\xA4' || second == '\xB6') {
      second = static_cast<char>(static_cast<unsigned char>(second) - 0x20);
    }
    ++i;
  }
  return upper;
}

namespace {

std::string CurrencyOf(const v1::ReportScope& scope) {
  return scope.currency_code().empty() ? "EUR" : scope.currency_code();
}

// "2026-01-01..2026-03-31, EUR, cost_centre=300" (the balance sheet: "at 2026-03-31, EUR").
std::string ScopeText(const v1::ReportScope& scope) {
  std::string text = scope.from_date().empty()
                         ? absl::StrCat("at ", scope.to_date())
                         : absl::StrCat(scope.from_date(), "..", scope.to_date());
  absl::StrAppend(&text, ", ", CurrencyOf(scope));
  if (!scope.dimension_key().empty()) {
    absl::StrAppend(&text, ", ", scope.dimension_key(), "=", scope.dimension_value());
  }
  return text;
}

std::string Range(const std::string& from, const std::string& to) {
  return from.empty() ? to : absl::StrCat(from, "..", to);
}

}  // namespace

void PrintTrialBalance(const v1::TrialBalance& report, std::ostream& out) {
  out << "Trial balance " << ScopeText(report.scope()) << "\n";
  Table table({"Account", "Opening", "Debit", "Credit", "Closing"},
              {Align::kLeft, Align::kRight, Align::kRight, Align::kRight, Align::kRight});
  for (const v1::TrialBalanceRow& row : report.rows()) {
    table.AddRow({row.account(), FormatEuros(row.opening_minor()), FormatEuros(row.debit_minor()),
                  FormatEuros(row.credit_minor()), FormatEuros(row.closing_minor())});
  }
  table.AddSeparator();
  table.AddRow({"Total", FormatEuros(report.total_opening_minor()),
                FormatEuros(report.total_debit_minor()), FormatEuros(report.total_credit_minor()),
                FormatEuros(report.total_closing_minor())});
  table.Print(out);
  out << Plural(report.rows_size(), "account", "accounts") << "\n";
}

void PrintStatement(const v1::Statement& report, std::ostream& out) {
  const bool balance_sheet = report.kind() == v1::STATEMENT_KIND_BALANCE_SHEET;
  out << (balance_sheet ? "Balance sheet " : "Income statement ") << ScopeText(report.scope())
      << "\n";
  Table table({"", Range(report.scope().from_date(), report.scope().to_date()),
               Range(report.previous_from_date(), report.previous_to_date())},
              {Align::kLeft, Align::kRight, Align::kRight});
  for (const v1::StatementRow& row : report.rows()) {
    const std::string indent(2 * static_cast<size_t>(std::max(0, row.level())), ' ');
    table.AddRow({absl::StrCat(indent, row.is_subtotal() ? UpperLabel(row.label()) : row.label()),
                  FormatEuros(row.amount_minor()), FormatEuros(row.previous_minor())});
  }
  table.Print(out);
}

void PrintCostCentreReport(const v1::CostCentreReport& report, std::ostream& out) {
  const std::string split_by = report.split_by().empty() ? "cost_centre" : report.split_by();
  out << "Income and expenses by " << split_by << " " << ScopeText(report.scope()) << "\n";
  Table table(
      {split_by, "Income", "Expenses", "Net", "Prev. income", "Prev. expenses", "Prev. net"},
      {Align::kLeft, Align::kRight, Align::kRight, Align::kRight, Align::kRight, Align::kRight,
       Align::kRight});
  const auto add = [&](const std::string& name, const v1::CostCentreRow& row) {
    table.AddRow({name, FormatEuros(row.income_minor()), FormatEuros(row.expenses_minor()),
                  FormatEuros(row.net_minor()), FormatEuros(row.previous_income_minor()),
                  FormatEuros(row.previous_expenses_minor()),
                  FormatEuros(row.previous_net_minor())});
  };
  for (const v1::CostCentreRow& row : report.rows()) {
    add(row.value().empty() ? "(none)" : row.value(), row);
  }
  table.AddSeparator();
  add("Total", report.total());
  table.Print(out);
}

void PrintBudgetReport(const v1::BudgetReport& report, std::ostream& out) {
  out << "Budget " << (report.budget().empty() ? "(default)" : report.budget())
      << " against actual " << ScopeText(report.scope()) << "\n";
  Table table({"Account", "Cost centre", "Budget", "Actual", "Difference"},
              {Align::kLeft, Align::kLeft, Align::kRight, Align::kRight, Align::kRight});
  for (const v1::BudgetRow& row : report.rows()) {
    table.AddRow({row.account(), OrDash(row.cost_centre()), FormatEuros(row.budget_minor()),
                  FormatEuros(row.actual_minor()), FormatEuros(row.difference_minor())});
  }
  table.AddSeparator();
  table.AddRow({"Total", "", FormatEuros(report.total_budget_minor()),
                FormatEuros(report.total_actual_minor()),
                FormatEuros(report.total_difference_minor())});
  table.Print(out);
}

void PrintReceivablesAgeing(const v1::ReceivablesAgeing& report, std::ostream& out) {
  out << "Receivables ageing as of " << report.as_of_date() << " (days past due)\n\n";
  Table table({"Overdue", "Invoices", "Open"}, {Align::kLeft, Align::kRight, Align::kRight});
  for (const v1::AgeingBucket& bucket : report.buckets()) {
    table.AddRow(
        {bucket.bucket(), absl::StrCat(bucket.invoices()), FormatEuros(bucket.open_minor())});
  }
  table.AddSeparator();
  table.AddRow(
      {"Total", absl::StrCat(report.total_invoices()), FormatEuros(report.total_open_minor())});
  table.Print(out);
}

void PrintPayrollCosts(const v1::PayrollCosts& report, std::ostream& out) {
  out << "Payroll costs " << ScopeText(report.scope()) << "\n";
  // One column per account: those of the totals, then any only a row names.
  std::vector<std::string> accounts;
  const auto note = [&](const std::string& account) {
    if (std::find(accounts.begin(), accounts.end(), account) == accounts.end()) {
      accounts.push_back(account);
    }
  };
  for (const v1::PayrollCostAccount& total : report.totals()) {
    note(total.account());
  }
  for (const v1::PayrollCostRow& row : report.rows()) {
    for (const v1::PayrollCostAccount& account : row.accounts()) {
      note(account.account());
    }
  }
  std::vector<std::string> header = {"Cost centre", "Month"};
  header.insert(header.end(), accounts.begin(), accounts.end());
  header.push_back("Total");
  std::vector<Align> align(header.size(), Align::kRight);
  align[0] = align[1] = Align::kLeft;
  Table table(std::move(header), std::move(align));
  const auto cells = [&](std::vector<std::string> start,
                         const google::protobuf::RepeatedPtrField<v1::PayrollCostAccount>& amounts,
                         int64_t total) {
    for (const std::string& account : accounts) {
      auto it = std::find_if(amounts.begin(), amounts.end(), [&](const v1::PayrollCostAccount& a) {
        return a.account() == account;
      });
      start.push_back(it == amounts.end() ? "" : FormatEuros(it->amount_minor()));
    }
    start.push_back(FormatEuros(total));
    return start;
  };
  for (const v1::PayrollCostRow& row : report.rows()) {
    table.AddRow(
        cells({OrDash(row.cost_centre()), row.month()}, row.accounts(), row.total_minor()));
  }
  table.AddSeparator();
  table.AddRow(cells({"Total", ""}, report.totals(), report.total_minor()));
  table.Print(out);
}

void PrintStatementMapping(const v1::StatementMapping& mapping, std::ostream& out) {
  out << "Statement mapping: "
      << (mapping.is_default() ? "the default (fi-municipal chart)" : "the organisation's own")
      << ", " << Plural(mapping.rules_size(), "rule", "rules") << "\n";
  Table table({"Row", "From account", "To account"}, {Align::kLeft, Align::kLeft, Align::kLeft});
  for (const v1::MappingRule& rule : mapping.rules()) {
    table.AddRow({rule.row_code(), rule.from_account(), rule.to_account()});
  }
  table.Print(out);
  out << "Rows rules may name: " << absl::StrJoin(mapping.row_codes(), " ") << "\n";
}

void PrintRegionalReport(const v1::RegionalReport& report, std::ostream& out) {
  out << "Regional report " << ScopeText(report.scope()) << ": "
      << Plural(report.organisations_size(), "organisation", "organisations") << "\n";
  Table table({"Organisation", "Operating income", "Operating expenses", "Toimintakate",
               "Vuosikate", "Tilikauden tulos", "Total assets"},
              {Align::kLeft, Align::kRight, Align::kRight, Align::kRight, Align::kRight,
               Align::kRight, Align::kRight});
  const auto add = [&](const std::string& name, const v1::KeyFigures& figures) {
    table.AddRow({name, FormatEuros(figures.operating_income_minor()),
                  FormatEuros(figures.operating_expenses_minor()),
                  FormatEuros(figures.toimintakate_minor()), FormatEuros(figures.vuosikate_minor()),
                  FormatEuros(figures.tilikauden_tulos_minor()),
                  FormatEuros(figures.total_assets_minor())});
  };
  for (const v1::KeyFigures& figures : report.organisations()) {
    add(figures.tenant(), figures);
  }
  table.AddSeparator();
  add("Total", report.total());
  table.Print(out);
  if (report.has_income_statement()) {
    out << "\nSummed over the organisations:\n";
    PrintStatement(report.income_statement(), out);
  }
}

void PrintFeedStatus(const v1::FeedStatus& status, std::ostream& out) {
  Table table({"Organisation", "Applied", "Ledger", "Behind", "Seconds behind"},
              {Align::kLeft, Align::kRight, Align::kRight, Align::kRight, Align::kRight});
  for (const v1::TenantFeedStatus& tenant : status.tenants()) {
    table.AddRow({tenant.tenant(), absl::StrCat(tenant.applied_sequence()),
                  tenant.ledger_sequence() == 0 ? "-" : absl::StrCat(tenant.ledger_sequence()),
                  absl::StrCat(tenant.events_behind()),
                  absl::StrFormat("%.1f", tenant.seconds_behind())});
  }
  table.AddSeparator();
  table.AddRow({"Total", "", "", absl::StrCat(status.events_behind()),
                absl::StrFormat("%.1f", status.seconds_behind())});
  table.Print(out);
  out << (status.events_behind() == 0
              ? "caught up"
              : absl::StrCat(Plural(status.events_behind(), "ledger event", "ledger events"),
                             " not applied yet"))
      << "\n";
}

// --- Command-line parsing ----------------------------------------------------------------------

namespace {

using Run = std::function<absl::Status(ReportingClient&, const CommandOutput&)>;
using Check =
    std::function<absl::Status(const std::vector<absl::string_view>&, size_t, absl::string_view)>;

// What a report's scope is made of.
struct ScopeKind {
  // --from/--to, --month or --year (required); else the balance sheet's --date (default today).
  bool range = true;
  bool dimension = true;
  // The report takes whole months only (so does any report with a dimension filter).
  bool whole_months = false;
};

std::vector<absl::string_view> ScopeOptions(const ScopeKind& kind) {
  std::vector<absl::string_view> options = {"currency", "min-sequence"};
  if (kind.range) {
    options.insert(options.end(), {"from", "to", "month", "year"});
  } else {
    options.push_back("date");
  }
  if (kind.dimension) {
    options.push_back("dimension");
  }
  return options;
}

absl::StatusOr<absl::CivilDay> DateFlag(const Args& args, absl::string_view name) {
  return AsUsage(ParseDate(absl::StrCat("--", name), args.Value(name).value_or("")));
}

// --currency as an upper-case ISO 4217 code; "" (EUR) when absent.
absl::StatusOr<std::string> CurrencyOption(const Args& args) {
  std::optional<std::string> currency = args.Value("currency");
  if (!currency.has_value()) {
    return std::string();
  }
  if (currency->size() != 3 || !std::all_of(currency->begin(), currency->end(), [](char c) {
        return absl::ascii_isalpha(static_cast<unsigned char>(c));
      })) {
    return UsageError(
        absl::StrCat("--currency: want an ISO 4217 code like EUR, got \"", *currency, "\""));
  }
  return absl::AsciiStrToUpper(*currency);
}

absl::StatusOr<v1::ReportScope> ParseScope(const Args& args, const std::string& command,
                                           const ScopeKind& kind) {
  v1::ReportScope scope;
  std::optional<absl::CivilDay> from;
  absl::CivilDay to;
  if (kind.range) {
    const bool range = args.Has("from") || args.Has("to");
    const int given = int{range} + int{args.Has("month")} + int{args.Has("year")};
    if (given != 1) {
      return UsageError(absl::StrCat(command, ": give ", given == 0 ? "" : "only one of ",
                                     "--from YYYY-MM-DD --to YYYY-MM-DD, --month YYYY-MM or "
                                     "--year YYYY"));
    }
    if (range) {
      if (!args.Has("from") || !args.Has("to")) {
        return UsageError(absl::StrCat(command, ": --from and --to go together"));
      }
      ASSIGN_OR_RETURN(from, DateFlag(args, "from"));
      ASSIGN_OR_RETURN(to, DateFlag(args, "to"));
      if (*from > to) {
        return UsageError(
            absl::StrCat("--to: ", FormatDate(to), " is before --from ", FormatDate(*from)));
      }
    } else if (std::optional<std::string> month = args.Value("month")) {
      ASSIGN_OR_RETURN(absl::CivilMonth parsed, AsUsage(ParsePeriod("--month", *month)));
      from = absl::CivilDay(parsed);
      to = absl::CivilDay(parsed + 1) - 1;
    } else {
      const std::string year = *args.Value("year");
      absl::StatusOr<absl::CivilMonth> january = ParsePeriod("--year", absl::StrCat(year, "-01"));
      if (!january.ok() || year.size() != 4) {
        return UsageError(absl::StrCat("--year: want a year YYYY, got \"", year, "\""));
      }
      from = absl::CivilDay(*january);
      to = absl::CivilDay(absl::CivilYear(*january) + 1) - 1;
    }
    scope.set_from_date(FormatDate(*from));
  } else if (args.Has("date")) {
    ASSIGN_OR_RETURN(to, DateFlag(args, "date"));
  } else {
    to = absl::ToCivilDay(absl::Now(), absl::LocalTimeZone());
  }
  scope.set_to_date(FormatDate(to));

  if (args.Has("dimension")) {
    if (absl::Status s = args.AtMostOnce({"dimension"}); !s.ok()) {
      return UsageError(absl::StrCat(s.message(), " (a report filters on one dimension)"));
    }
    const std::string dimension = *args.Value("dimension");
    const size_t eq = dimension.find('=');
    if (eq == 0 || eq == std::string::npos || eq + 1 == dimension.size()) {
      return UsageError(absl::StrCat("--dimension: want KEY=VALUE, got \"", dimension, "\""));
    }
    scope.set_dimension_key(dimension.substr(0, eq));
    scope.set_dimension_value(dimension.substr(eq + 1));
  }
  if ((kind.whole_months || args.Has("dimension")) && from.has_value() &&
      (from->day() != 1 || (to + 1).day() != 1)) {
    return UsageError(absl::StrCat(
        command, ": ", kind.whole_months ? "this report takes" : "with --dimension, give",
        " whole months (--from the 1st, --to a month's last day; or --month, --year)"));
  }
  ASSIGN_OR_RETURN(*scope.mutable_currency_code(), CurrencyOption(args));
  if (std::optional<std::string> text = args.Value("min-sequence")) {
    int64_t sequence = 0;
    if (!absl::SimpleAtoi(*text, &sequence) || sequence < 1) {
      return UsageError(absl::StrCat("--min-sequence: want a ledger sequence number from 1, got \"",
                                     *text, "\""));
    }
    scope.set_min_sequence(sequence);
  }
  return scope;
}

// Where --export puts a report.
struct ExportTarget {
  v1::ExportFormat format = v1::EXPORT_FORMAT_UNSPECIFIED;
  std::string path;
};

absl::StatusOr<std::optional<ExportTarget>> ParseExport(const Args& args,
                                                        const std::string& command, bool html) {
  if (!args.Has("export") && !args.Has("out")) {
    return std::nullopt;
  }
  if (!args.Has("export") || !args.Has("out") || args.Value("out")->empty()) {
    return UsageError(absl::StrCat(command, ": --export FORMAT and --out FILE go together"));
  }
  ExportTarget target;
  const std::string format = *args.Value("export");
  if (format == "csv") {
    target.format = v1::EXPORT_FORMAT_CSV;
  } else if (format == "json") {
    target.format = v1::EXPORT_FORMAT_JSON;
  } else if (format == "html" && html) {
    target.format = v1::EXPORT_FORMAT_HTML;
  } else if (format == "html") {
    return UsageError(
        "--export html: only the income statement and the balance sheet; this report exports as "
        "csv or json");
  } else {
    return UsageError(absl::StrCat("--export: want csv, json",
                                   html ? " or html" : " (or html for a statement)", ", got \"",
                                   format, "\""));
  }
  target.path = *args.Value("out");
  // Checked now as well as when it is created, so that an existing file costs no call.
  if (::access(target.path.c_str(), F_OK) == 0) {
    return UsageError(absl::FailedPreconditionError(
        absl::StrCat("--out: ", target.path, " already exists; not overwriting it")));
  }
  return target;
}

// ExportReport, its content into the file; the response without the content is what --json
// prints.
Run ExportRun(v1::ExportReportRequest request, std::string path) {
  return [request = std::move(request), path = std::move(path)](
             ReportingClient& reporting, const CommandOutput& output) -> absl::Status {
    ASSIGN_OR_RETURN(v1::ExportReportResponse exported, reporting.ExportReport(request));
    RETURN_IF_ERROR(CreateAndWrite(path, exported.content()));
    const size_t bytes = exported.content().size();
    exported.clear_content();  // it is in the file
    if (output.format == OutputFormat::kJson) {
      PrintJson(exported, output.out);
    } else {
      output.out << "wrote " << path << " (" << exported.content_type() << ", "
                 << Plural(static_cast<int64_t>(bytes), "byte", "bytes")
                 << "; the service names it " << OrDash(exported.file_name()) << ")\n";
    }
    return absl::OkStatus();
  };
}

// A report: shown (a table or --json), or exported into a file. `field` is the member of
// ExportReportRequest's oneof that carries this report's request.
template <typename Request, typename Report>
Run ReportRun(Request request, const std::optional<ExportTarget>& target,
              Request* (v1::ExportReportRequest::*field)(),
              absl::StatusOr<Report> (ReportingClient::*get)(const Request&),
              void (*print)(const Report&, std::ostream&)) {
  if (target.has_value()) {
    v1::ExportReportRequest export_request;
    *(export_request.*field)() = std::move(request);
    export_request.set_format(target->format);
    return ExportRun(std::move(export_request), target->path);
  }
  return [request = std::move(request), get, print](ReportingClient& reporting,
                                                    const CommandOutput& output) -> absl::Status {
    ASSIGN_OR_RETURN(Report report, (reporting.*get)(request));
    output.format == OutputFormat::kJson ? PrintJson(report, output.out)
                                         : print(report, output.out);
    return absl::OkStatus();
  };
}

// A budget name as the service takes it: [a-z0-9_-]{0,32}.
absl::StatusOr<std::string> BudgetName(const Args& args) {
  const std::string name = args.Value("budget").value_or("");
  if (name.size() > 32 || !std::all_of(name.begin(), name.end(), [](char c) {
        return absl::ascii_islower(static_cast<unsigned char>(c)) ||
               absl::ascii_isdigit(static_cast<unsigned char>(c)) || c == '_' || c == '-';
      })) {
    return UsageError(
        absl::StrCat("--budget: want at most 32 of a-z, 0-9, _ and -, got \"", name, "\""));
  }
  return name;
}

// A call's INVALID_ARGUMENT about one element of the list it sent ("lines[3].month: ...") told
// in the file's rows and columns; any other error as it is.
absl::Status InFileTerms(const absl::Status& status, absl::string_view method,
                         absl::string_view path, absl::string_view list,
                         const std::vector<int>& rows) {
  if (status.code() != absl::StatusCode::kInvalidArgument || rows.empty()) {
    return status;
  }
  absl::string_view message = status.message();
  if (!absl::ConsumePrefix(&message, absl::StrCat(method, ": "))) {
    return status;
  }
  const std::string described = DescribeListRefusal(message, list, rows);
  if (described == message) {
    return status;
  }
  return absl::InvalidArgumentError(absl::StrCat(method, ": ", path, ": ", described));
}

absl::StatusOr<Run> ParseBudgetUpload(const Args& args, std::istream& in, const Check& check) {
  constexpr absl::string_view kName = "report budget upload";
  RETURN_IF_ERROR(check({"file", "budget", "currency", "request-id"}, 3,
                        "report budget upload --file budget.csv [--budget NAME] "
                        "[--currency CODE] [--request-id ID]"));
  ASSIGN_OR_RETURN(std::string path, RequiredOption(args, kName, "file"));
  ASSIGN_OR_RETURN(std::string budget, BudgetName(args));
  ASSIGN_OR_RETURN(std::string currency, CurrencyOption(args));
  ASSIGN_OR_RETURN(std::string text, ReadInput(kName, path, in));
  CsvImport<BudgetLineRow> parsed = ParseBudgetCsv(text);
  if (!parsed.problems.empty()) {
    return FileProblems(path, parsed.problems);
  }
  v1::UploadBudgetRequest request;
  request.set_request_id(RequestIdOf(args));
  request.set_budget(budget);
  request.set_currency_code(currency);
  std::vector<int> rows;
  for (BudgetLineRow& row : parsed.rows) {
    rows.push_back(row.row);
    *request.add_lines() = std::move(row.line);
  }
  return Run([request, path, rows](ReportingClient& reporting,
                                   const CommandOutput& output) -> absl::Status {
    absl::StatusOr<v1::UploadBudgetResponse> stored = reporting.UploadBudget(request);
    if (!stored.ok()) {
      return InFileTerms(stored.status(), "UploadBudget", path, "lines", rows);
    }
    if (output.format == OutputFormat::kJson) {
      PrintJson(*stored, output.out);
      return absl::OkStatus();
    }
    output.out << path << ": " << Plural(stored->lines_stored(), "line", "lines")
               << " stored in budget "
               << (request.budget().empty() ? "(default)" : request.budget()) << ", "
               << (request.currency_code().empty() ? "EUR" : request.currency_code())
               << " (request id " << request.request_id() << ")\n";
    return absl::OkStatus();
  });
}

absl::StatusOr<Run> ParseMapping(const Args& args, std::istream& in, const std::string& verb,
                                 const Check& check) {
  if (verb == "show") {
    RETURN_IF_ERROR(check({}, 3, "report mapping show"));
    return Run([](ReportingClient& reporting, const CommandOutput& output) -> absl::Status {
      ASSIGN_OR_RETURN(v1::StatementMapping mapping,
                       reporting.GetStatementMapping(v1::GetStatementMappingRequest()));
      output.format == OutputFormat::kJson ? PrintJson(mapping, output.out)
                                           : PrintStatementMapping(mapping, output.out);
      return absl::OkStatus();
    });
  }
  if (verb != "set") {
    return UsageError(absl::StrCat("unknown command 'report mapping ", verb, "' (show, set)"));
  }
  constexpr absl::string_view kName = "report mapping set";
  RETURN_IF_ERROR(check({"file", "default", "request-id"}, 3,
                        "report mapping set (--file mapping.csv|mapping.json | --default) "
                        "[--request-id ID]"));
  if (args.Has("file") == args.Has("default")) {
    return UsageError(absl::StrCat(
        kName, ": give --file mapping.csv|mapping.json, or --default for the default mapping"));
  }
  v1::SetStatementMappingRequest request;
  request.set_request_id(RequestIdOf(args));
  std::string path;
  std::vector<int> rows;  // the file's row of each rule (a CSV file)
  if (args.Has("file")) {
    ASSIGN_OR_RETURN(path, RequiredOption(args, kName, "file"));
    ASSIGN_OR_RETURN(std::string text, ReadInput(kName, path, in));
    absl::string_view content = absl::StripLeadingAsciiWhitespace(text);
    absl::ConsumePrefix(&content, "\xEF\xBB\xBF");
    if (absl::StartsWith(absl::StripLeadingAsciiWhitespace(content), "{")) {
      // A StatementMapping as `report mapping show --json` prints it; only its rules count.
      v1::StatementMapping mapping;
      RETURN_IF_ERROR(ParseJsonInput(path, text, "StatementMapping", &mapping));
      *request.mutable_rules() = std::move(*mapping.mutable_rules());
    } else {
      CsvImport<MappingRuleRow> parsed = ParseMappingCsv(text);
      if (!parsed.problems.empty()) {
        return FileProblems(path, parsed.problems);
      }
      for (MappingRuleRow& row : parsed.rows) {
        rows.push_back(row.row);
        *request.add_rules() = std::move(row.rule);
      }
    }
    if (request.rules().empty()) {
      return UsageError(absl::StrCat(
          kName, ": ", path, " holds no rules (--default goes back to the default mapping)"));
    }
  }
  return Run([request, path, rows](ReportingClient& reporting,
                                   const CommandOutput& output) -> absl::Status {
    absl::StatusOr<v1::StatementMapping> saved = reporting.SetStatementMapping(request);
    if (!saved.ok()) {
      return InFileTerms(saved.status(), "SetStatementMapping", path, "rules", rows);
    }
    if (output.format == OutputFormat::kJson) {
      PrintJson(*saved, output.out);
      return absl::OkStatus();
    }
    output.out << (path.empty() ? "back to the default statement mapping"
                                : absl::StrCat("saved the statement mapping of ", path))
               << " (request id " << request.request_id() << ")\n";
    PrintStatementMapping(*saved, output.out);
    return absl::OkStatus();
  });
}

// `report KIND` for the six reports of an organisation.
absl::StatusOr<Run> ParseOrganisationReport(const Args& args, const std::string& kind,
                                            const std::string& name, const Check& check) {
  const auto options = [](const ScopeKind& scope, std::vector<absl::string_view> extra) {
    std::vector<absl::string_view> all = ScopeOptions(scope);
    all.insert(all.end(), {"export", "out"});
    all.insert(all.end(), extra.begin(), extra.end());
    return all;
  };
  constexpr absl::string_view kRange =
      "(--from YYYY-MM-DD --to YYYY-MM-DD | --month YYYY-MM | --year YYYY)";
  constexpr absl::string_view kCommon =
      "[--currency CODE] [--min-sequence N] [--export csv|json --out FILE]";
  const auto synopsis = [&](absl::string_view extra) {
    return absl::StrCat(name, " ", kRange, " ", extra, extra.empty() ? "" : " ",
                        "[--dimension KEY=VALUE] ", kCommon);
  };
  if (kind == "trial-balance") {
    const ScopeKind scope{};
    RETURN_IF_ERROR(check(options(scope, {}), 2, synopsis("")));
    v1::GetTrialBalanceRequest request;
    ASSIGN_OR_RETURN(*request.mutable_scope(), ParseScope(args, name, scope));
    ASSIGN_OR_RETURN(std::optional<ExportTarget> target, ParseExport(args, name, false));
    return ReportRun(std::move(request), target, &v1::ExportReportRequest::mutable_trial_balance,
                     &ReportingClient::GetTrialBalance, &PrintTrialBalance);
  }
  if (kind == "income-statement") {
    const ScopeKind scope{};
    RETURN_IF_ERROR(check(options(scope, {}), 2, synopsis("")));
    v1::GetIncomeStatementRequest request;
    ASSIGN_OR_RETURN(*request.mutable_scope(), ParseScope(args, name, scope));
    ASSIGN_OR_RETURN(std::optional<ExportTarget> target, ParseExport(args, name, true));
    return ReportRun(std::move(request), target, &v1::ExportReportRequest::mutable_income_statement,
                     &ReportingClient::GetIncomeStatement, &PrintStatement);
  }
  if (kind == "balance-sheet") {
    const ScopeKind scope{.range = false};
    RETURN_IF_ERROR(
        check(options(scope, {}), 2,
              absl::StrCat(name, " [--date YYYY-MM-DD] [--dimension KEY=VALUE] ", kCommon)));
    v1::GetBalanceSheetRequest request;
    ASSIGN_OR_RETURN(*request.mutable_scope(), ParseScope(args, name, scope));
    ASSIGN_OR_RETURN(std::optional<ExportTarget> target, ParseExport(args, name, true));
    return ReportRun(std::move(request), target, &v1::ExportReportRequest::mutable_balance_sheet,
                     &ReportingClient::GetBalanceSheet, &PrintStatement);
  }
  if (kind == "cost-centres") {
    const ScopeKind scope{.whole_months = true};
    RETURN_IF_ERROR(check(options(scope, {"split-by"}), 2, synopsis("[--split-by KEY]")));
    v1::GetCostCentreReportRequest request;
    ASSIGN_OR_RETURN(*request.mutable_scope(), ParseScope(args, name, scope));
    request.set_split_by(args.Value("split-by").value_or(""));
    ASSIGN_OR_RETURN(std::optional<ExportTarget> target, ParseExport(args, name, false));
    return ReportRun(std::move(request), target, &v1::ExportReportRequest::mutable_cost_centre,
                     &ReportingClient::GetCostCentreReport, &PrintCostCentreReport);
  }
  if (kind == "budget") {
    const ScopeKind scope{.whole_months = true};
    RETURN_IF_ERROR(check(options(scope, {"budget"}), 2, synopsis("[--budget NAME]")));
    v1::GetBudgetReportRequest request;
    ASSIGN_OR_RETURN(*request.mutable_scope(), ParseScope(args, name, scope));
    ASSIGN_OR_RETURN(*request.mutable_budget(), BudgetName(args));
    ASSIGN_OR_RETURN(std::optional<ExportTarget> target, ParseExport(args, name, false));
    return ReportRun(std::move(request), target, &v1::ExportReportRequest::mutable_budget,
                     &ReportingClient::GetBudgetReport, &PrintBudgetReport);
  }
  if (kind == "ageing") {
    RETURN_IF_ERROR(
        check({"as-of", "export", "out"}, 2,
              absl::StrCat(name, " [--as-of YYYY-MM-DD] [--export csv|json --out FILE]")));
    v1::GetReceivablesAgeingRequest request;
    if (args.Has("as-of")) {
      ASSIGN_OR_RETURN(absl::CivilDay day, DateFlag(args, "as-of"));
      request.set_as_of_date(FormatDate(day));
    }
    ASSIGN_OR_RETURN(std::optional<ExportTarget> target, ParseExport(args, name, false));
    return ReportRun(std::move(request), target,
                     &v1::ExportReportRequest::mutable_receivables_ageing,
                     &ReportingClient::GetReceivablesAgeing, &PrintReceivablesAgeing);
  }
  // payroll-costs
  const ScopeKind scope{.dimension = false, .whole_months = true};
  RETURN_IF_ERROR(check(options(scope, {}), 2, absl::StrCat(name, " ", kRange, " ", kCommon)));
  v1::GetPayrollCostsRequest request;
  ASSIGN_OR_RETURN(*request.mutable_scope(), ParseScope(args, name, scope));
  ASSIGN_OR_RETURN(std::optional<ExportTarget> target, ParseExport(args, name, false));
  return ReportRun(std::move(request), target, &v1::ExportReportRequest::mutable_payroll_costs,
                   &ReportingClient::GetPayrollCosts, &PrintPayrollCosts);
}

}  // namespace

absl::StatusOr<ReportCommand> ParseReportCommand(const Args& args, std::istream& in) {
  const std::vector<std::string>& words = args.positional();
  constexpr absl::string_view kSynopsis =
      "usage: tahectl report trial-balance|income-statement|balance-sheet|cost-centres|budget|"
      "payroll-costs|ageing|mapping|regional|feed ...  (see tahectl --help)";
  if (words.size() < 2) {
    return UsageError(kSynopsis);
  }
  const std::string& kind = words[1];
  const bool has_verb = kind == "mapping" || (kind == "budget" && words.size() > 2);
  const std::string verb = has_verb && words.size() > 2 ? words[2] : "";
  ReportCommand command;
  command.name = absl::StrCat("report ", kind, verb.empty() ? "" : " ", verb);
  const Check check = [&](const std::vector<absl::string_view>& allowed, size_t operands,
                          absl::string_view synopsis) -> absl::Status {
    if (absl::Status s = args.CheckOnly(command.name, allowed); !s.ok()) {
      return UsageError(s);
    }
    if (words.size() != operands) {
      return UsageError(absl::StrCat("usage: tahectl ", synopsis));
    }
    return absl::OkStatus();
  };

  if (kind == "trial-balance" || kind == "income-statement" || kind == "balance-sheet" ||
      kind == "cost-centres" || (kind == "budget" && !has_verb) || kind == "payroll-costs" ||
      kind == "ageing") {
    ASSIGN_OR_RETURN(command.run, ParseOrganisationReport(args, kind, command.name, check));
  } else if (kind == "budget") {
    if (verb != "upload") {
      return UsageError(absl::StrCat("unknown command '", command.name, "' (upload)"));
    }
    ASSIGN_OR_RETURN(command.run, ParseBudgetUpload(args, in, check));
  } else if (kind == "mapping") {
    if (verb.empty()) {
      return UsageError("usage: tahectl report mapping show|set ...  (see tahectl --help)");
    }
    ASSIGN_OR_RETURN(command.run, ParseMapping(args, in, verb, check));
  } else if (kind == "regional") {
    const ScopeKind scope{.dimension = false};
    std::vector<absl::string_view> allowed = ScopeOptions(scope);
    allowed.push_back("with-income-statement");
    RETURN_IF_ERROR(check(allowed, 2,
                          "report regional (--from YYYY-MM-DD --to YYYY-MM-DD | --month YYYY-MM | "
                          "--year YYYY) [--with-income-statement] [--currency CODE] "
                          "[--min-sequence N]"));
    v1::GetRegionalReportRequest request;
    ASSIGN_OR_RETURN(*request.mutable_scope(), ParseScope(args, command.name, scope));
    request.set_include_income_statement(args.Has("with-income-statement"));
    command.needs_tenant = false;
    command.run = [request](ReportingClient& reporting,
                            const CommandOutput& output) -> absl::Status {
      ASSIGN_OR_RETURN(v1::RegionalReport report, reporting.GetRegionalReport(request));
      output.format == OutputFormat::kJson ? PrintJson(report, output.out)
                                           : PrintRegionalReport(report, output.out);
      return absl::OkStatus();
    };
  } else if (kind == "feed") {
    RETURN_IF_ERROR(check({}, 2, "report feed"));
    command.needs_tenant = false;
    command.run = [](ReportingClient& reporting, const CommandOutput& output) -> absl::Status {
      ASSIGN_OR_RETURN(v1::FeedStatus status, reporting.GetFeedStatus(v1::GetFeedStatusRequest()));
      output.format == OutputFormat::kJson ? PrintJson(status, output.out)
                                           : PrintFeedStatus(status, output.out);
      return absl::OkStatus();
    };
  } else {
    return UsageError(absl::StrCat("unknown command 'report ", kind, "'"));
  }
  return command;
}

}  // namespace tahe::tahectl
