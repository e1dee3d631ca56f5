#include "services/reporting/reporting_render.h"

#include <google/protobuf/util/json_util.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "libs/status/status.h"
#include "services/reporting/reporting_domain.h"

namespace tahe::reporting {

namespace {

void CsvLine(std::string& out, const std::vector<std::string>& fields) {
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) out.push_back(',');
    out += CsvField(fields[i]);
  }
  out += "\r\n";
}

std::string Money(int64_t cents) { return FormatCents(cents); }

std::string RangeText(const v1::ReportScope& scope) {
  return scope.from_date().empty() ? scope.to_date()
                                   : absl::StrCat(scope.from_date(), "-", scope.to_date());
}

}  // namespace

std::string CsvField(absl::string_view text) {
  std::string value(text);
  if (!value.empty() && (value[0] == '=' || value[0] == '+' || value[0] == '@')) {
    value.insert(value.begin(), '\'');
  }
  if (value.find_first_of(",\"\r\n") == std::string::npos) {
    return value;
  }
  std::string quoted = "\"";
  for (char c : value) {
    if (c == '"') quoted.push_back('"');
    quoted.push_back(c);
  }
  quoted.push_back('"');
  return quoted;
}

std::string HtmlEscape(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::string TrialBalanceCsv(const v1::TrialBalance& report) {
  std::string out;
  CsvLine(out, {"account", "opening", "debit", "credit", "closing"});
  for (const v1::TrialBalanceRow& row : report.rows()) {
    CsvLine(out, {row.account(), Money(row.opening_minor()), Money(row.debit_minor()),
                  Money(row.credit_minor()), Money(row.closing_minor())});
  }
  CsvLine(out, {"total", Money(report.total_opening_minor()), Money(report.total_debit_minor()),
                Money(report.total_credit_minor()), Money(report.total_closing_minor())});
  return out;
}

std::string StatementCsv(const v1::Statement& report) {
  std::string out;
  CsvLine(out, {"code", "label", "level", "subtotal", "account", "amount", "previous"});
  for (const v1::StatementRow& row : report.rows()) {
    CsvLine(out,
            {row.code(), row.label(), absl::StrCat(row.level()), row.is_subtotal() ? "yes" : "no",
             "", Money(row.amount_minor()), Money(row.previous_minor())});
    for (const v1::StatementAccount& a : row.accounts()) {
      CsvLine(out, {row.code(), row.label(), absl::StrCat(row.level() + 1), "no", a.account(),
                    Money(a.amount_minor()), Money(a.previous_minor())});
    }
  }
  return out;
}

std::string CostCentreCsv(const v1::CostCentreReport& report) {
  std::string out;
  CsvLine(out, {report.split_by(), "income", "expenses", "net", "previous_income",
                "previous_expenses", "previous_net"});
  auto line = [&](const std::string& name, const v1::CostCentreRow& row) {
    CsvLine(out, {name, Money(row.income_minor()), Money(row.expenses_minor()),
                  Money(row.net_minor()), Money(row.previous_income_minor()),
                  Money(row.previous_expenses_minor()), Money(row.previous_net_minor())});
  };
  for (const v1::CostCentreRow& row : report.rows()) {
    line(row.value(), row);
  }
  line("total", report.total());
  return out;
}

std::string BudgetCsv(const v1::BudgetReport& report) {
  std::string out;
  CsvLine(out, {"account", "cost_centre", "budget", "actual", "difference"});
  for (const v1::BudgetRow& row : report.rows()) {
    CsvLine(out, {row.account(), row.cost_centre(), Money(row.budget_minor()),
                  Money(row.actual_minor()), Money(row.difference_minor())});
  }
  CsvLine(out, {"total", "", Money(report.total_budget_minor()), Money(report.total_actual_minor()),
                Money(report.total_difference_minor())});
  return out;
}

std::string PayrollCostsCsv(const v1::PayrollCosts& report) {
  std::string out;
  CsvLine(out, {"cost_centre", "month", "account", "amount"});
  for (const v1::PayrollCostRow& row : report.rows()) {
    for (const v1::PayrollCostAccount& a : row.accounts()) {
      CsvLine(out, {row.cost_centre(), row.month(), a.account(), Money(a.amount_minor())});
    }
    CsvLine(out, {row.cost_centre(), row.month(), "total", Money(row.total_minor())});
  }
  for (const v1::PayrollCostAccount& a : report.totals()) {
    CsvLine(out, {"total", "", a.account(), Money(a.amount_minor())});
  }
  CsvLine(out, {"total", "", "total", Money(report.total_minor())});
  return out;
}

std::string ReceivablesAgeingCsv(const v1::ReceivablesAgeing& report) {
  std::string out;
  CsvLine(out, {"bucket", "invoices", "open"});
  for (const v1::AgeingBucket& bucket : report.buckets()) {
    CsvLine(out, {bucket.bucket(), absl::StrCat(bucket.invoices()), Money(bucket.open_minor())});
  }
  CsvLine(out, {"total", absl::StrCat(report.total_invoices()), Money(report.total_open_minor())});
  return out;
}

std::string ReportJson(const google::protobuf::Message& report) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string json;
  // Printing a valid message to a string cannot fail.
  (void)google::protobuf::util::MessageToJsonString(report, &json, options);
  return json;
}

std::string StatementHtml(const v1::Statement& report) {
  const bool income = report.kind() == v1::STATEMENT_KIND_INCOME_STATEMENT;
  const std::string title = income ? "Tuloslaskelma" : "Tase";
  const std::string period =
      income ? absl::StrCat(report.scope().from_date(), " – ", report.scope().to_date())
             : report.scope().to_date();
  const std::string previous =
      income ? absl::StrCat(report.previous_from_date(), " – ", report.previous_to_date())
             : report.previous_to_date();
  std::string out = absl::StrCat(
      "<!DOCTYPE html>\n<html lang=\"fi\">\n<head>\n<meta charset=\"utf-8\">\n<title>",
      HtmlEscape(title), " ", HtmlEscape(period), "</title>\n<style>",
      "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
      "td,th{padding:2px 12px}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}"
      "tr.subtotal td{font-weight:bold;border-top:1px solid #888}tr.account td{color:#555;"
      "font-size:90%}",
      "</style>\n</head>\n<body>\n<h1>", HtmlEscape(title), "</h1>\n<p>", HtmlEscape(period), " (",
      HtmlEscape(report.scope().currency_code().empty() ? std::string("EUR")
                                                        : report.scope().currency_code()),
      ")</p>\n<table>\n<tr><th></th><th class=\"num\">", HtmlEscape(period),
      "</th><th class=\"num\">", HtmlEscape(previous), "</th></tr>\n");
  for (const v1::StatementRow& row : report.rows()) {
    absl::StrAppend(&out, "<tr", row.is_subtotal() ? " class=\"subtotal\"" : "",
                    "><td style=\"padding-left:", 12 + 16 * row.level(), "px\">",
                    HtmlEscape(row.label()), "</td><td class=\"num\">",
                    HtmlEscape(Money(row.amount_minor())), "</td><td class=\"num\">",
                    HtmlEscape(Money(row.previous_minor())), "</td></tr>\n");
    for (const v1::StatementAccount& a : row.accounts()) {
      absl::StrAppend(
          &out, "<tr class=\"account\"><td style=\"padding-left:", 28 + 16 * row.level(), "px\">",
          HtmlEscape(a.account()), "</td><td class=\"num\">", HtmlEscape(Money(a.amount_minor())),
          "</td><td class=\"num\">", HtmlEscape(Money(a.previous_minor())), "</td></tr>\n");
    }
  }
  out += "</table>\n</body>\n</html>\n";
  return out;
}

absl::StatusOr<v1::ExportReportResponse> RenderExport(const AnyReport& report,
                                                      v1::ExportFormat format) {
  v1::ExportReportResponse resp;
  const google::protobuf::Message* message = nullptr;
  const v1::ReportScope* scope = nullptr;
  if (report.trial_balance != nullptr) {
    message = report.trial_balance;
    scope = &report.trial_balance->scope();
  } else if (report.statement != nullptr) {
    message = report.statement;
    scope = &report.statement->scope();
  } else if (report.cost_centre != nullptr) {
    message = report.cost_centre;
    scope = &report.cost_centre->scope();
  } else if (report.budget != nullptr) {
    message = report.budget;
    scope = &report.budget->scope();
  } else if (report.payroll_costs != nullptr) {
    message = report.payroll_costs;
    scope = &report.payroll_costs->scope();
  } else if (report.receivables_ageing != nullptr) {
    message = report.receivables_ageing;
  } else {
    return InvalidField("report", "required");
  }
  const std::string base =
      scope != nullptr ? absl::StrCat(report.kind, "-", RangeText(*scope))
                       : absl::StrCat(report.kind, "-", report.receivables_ageing->as_of_date());
  switch (format) {
    case v1::EXPORT_FORMAT_CSV:
      resp.set_content_type("text/csv; charset=utf-8");
      resp.set_file_name(absl::StrCat(base, ".csv"));
      if (report.trial_balance != nullptr) {
        resp.set_content(TrialBalanceCsv(*report.trial_balance));
      } else if (report.statement != nullptr) {
        resp.set_content(StatementCsv(*report.statement));
      } else if (report.cost_centre != nullptr) {
        resp.set_content(CostCentreCsv(*report.cost_centre));
      } else if (report.budget != nullptr) {
        resp.set_content(BudgetCsv(*report.budget));
      } else if (report.payroll_costs != nullptr) {
        resp.set_content(PayrollCostsCsv(*report.payroll_costs));
      } else {
        resp.set_content(ReceivablesAgeingCsv(*report.receivables_ageing));
      }
      return resp;
    case v1::EXPORT_FORMAT_JSON:
      resp.set_content_type("application/json");
      resp.set_file_name(absl::StrCat(base, ".json"));
      resp.set_content(ReportJson(*message));
      return resp;
    case v1::EXPORT_FORMAT_HTML:
      if (report.statement == nullptr) {
        return InvalidField("format", "HTML is for the income statement and the balance sheet");
      }
      resp.set_content_type("text/html; charset=utf-8");
      resp.set_file_name(absl::StrCat(base, ".html"));
      resp.set_content(StatementHtml(*report.statement));
      return resp;
    default:
      return InvalidField("format", "required: CSV, JSON or HTML");
  }
}

}  // namespace tahe::reporting
