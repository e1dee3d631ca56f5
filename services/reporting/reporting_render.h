#pragma once

// Exports of the reports, pure code (report message -> bytes): CSV (RFC 4180, comma-separated,
// amounts as "-1234.56"), JSON (protobuf's JSON mapping, field names as in the proto) and, for
// the income statement and the balance sheet, a readable HTML page with every text escaped.
//
//   ASSIGN_OR_RETURN(Export file, RenderExport(report, v1::EXPORT_FORMAT_CSV));
//   // file.content_type "text/csv; charset=utf-8", file.file_name "trial-balance-....csv"

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"
#include "tahe/reporting/v1/reporting.pb.h"

namespace tahe::reporting {

// One report of any kind, as ExportReport computed it.
struct AnyReport {
  // "trial-balance", "income-statement", "balance-sheet", "cost-centre", "budget",
  // "payroll-costs", "receivables-ageing".
  std::string kind;
  // Exactly one is set, matching kind.
  const v1::TrialBalance* trial_balance = nullptr;
  const v1::Statement* statement = nullptr;
  const v1::CostCentreReport* cost_centre = nullptr;
  const v1::BudgetReport* budget = nullptr;
  const v1::PayrollCosts* payroll_costs = nullptr;
  const v1::ReceivablesAgeing* receivables_ageing = nullptr;
};

// INVALID_ARGUMENT naming "format" for HTML of a report other than a statement, or no format.
absl::StatusOr<v1::ExportReportResponse> RenderExport(const AnyReport& report,
                                                      v1::ExportFormat format);

std::string TrialBalanceCsv(const v1::TrialBalance& report);
std::string StatementCsv(const v1::Statement& report);
std::string CostCentreCsv(const v1::CostCentreReport& report);
std::string BudgetCsv(const v1::BudgetReport& report);
std::string PayrollCostsCsv(const v1::PayrollCosts& report);
std::string ReceivablesAgeingCsv(const v1::ReceivablesAgeing& report);
std::string ReportJson(const google::protobuf::Message& report);
std::string StatementHtml(const v1::Statement& report);

// One CSV field: quoted when it holds a comma, quote or line break (quotes doubled); a text that
// a spreadsheet would run as a formula (starting with = + @) gets a leading apostrophe.
std::string CsvField(absl::string_view text);
std::string HtmlEscape(absl::string_view text);

}  // namespace tahe::reporting
