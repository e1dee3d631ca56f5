#pragma once

// The files of `tahectl report budget upload` and `report mapping set` (csv.h's format): reading
// them into ReportingService messages (budget amounts in exact cents, no floating point) with
// every problem named by row and column, and turning the service's refusals of a list
// ("lines[3].month: ...", "rules[1]: overlaps rules[0]") back into the file's rows and columns.
//
//   CsvImport<BudgetLineRow> parsed = ParseBudgetCsv(text);
//   if (!parsed.problems.empty()) return FileProblems(path, parsed.problems);
//   for (const BudgetLineRow& row : parsed.rows) *request.add_lines() = row.line;

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tahe/reporting/v1/reporting.pb.h"
#include "tools/tahectl/csv.h"

namespace tahe::tahectl {

// The most lines one UploadBudget takes.
inline constexpr size_t kMaxBudgetLines = 100000;

struct BudgetLineRow {
  int row = 0;
  tahe::reporting::v1::BudgetLine line;
};

struct MappingRuleRow {
  int row = 0;
  tahe::reporting::v1::MappingRule rule;
};

// Euros with at most two decimals and an optional leading '-' ("-1234.50", "1234,5", "7") as
// cents, exactly. INVALID_ARGUMENT naming `setting` otherwise.
absl::StatusOr<int64_t> ParseSignedEuros(absl::string_view setting, absl::string_view text);

// An account number as reporting takes it: 1-10 digits.
bool IsReportAccount(absl::string_view account);

// Columns: account (1-10 digits), cost_centre (optional), month (YYYY-MM), amount (euros, debit
// positive and credit negative like ledger lines: an income budget is negative). Each (account,
// cost centre, month) at most once; at most kMaxBudgetLines rows.
CsvImport<BudgetLineRow> ParseBudgetCsv(absl::string_view text);

// Columns: row_code (a statement row, as `report mapping show` lists them), from_account and
// to_account (1-10 digits, inclusive; to_account empty or absent = from_account). Whether the
// codes exist and the ranges overlap is the service's to judge (DescribeListRefusal).
CsvImport<MappingRuleRow> ParseMappingCsv(absl::string_view text);

// A refusal of one element of a list the request carried, in the file's terms: with `list`
// "lines" and rows {2, 3, 5}, "lines[2].amount_minor: too large" -> "row 5, column amount: too
// large", "rules[1]: overlaps rules[0]" -> "row 3: overlaps row 2". Fields are named by their
// column (amount_minor -> amount); a message about something else comes back unchanged.
std::string DescribeListRefusal(absl::string_view message, absl::string_view list,
                                const std::vector<int>& rows);

}  // namespace tahe::tahectl
