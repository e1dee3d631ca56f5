#include "tools/tahectl/report_csv.h"

#include <algorithm>
#include <map>
#include <tuple>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "libs/money/money.h"
#include "tools/tahectl/parse.h"

namespace tahe::tahectl {

namespace v1 = ::tahe::reporting::v1;

absl::StatusOr<int64_t> ParseSignedEuros(absl::string_view setting, absl::string_view text) {
  absl::StatusOr<tahe::money::Money> amount = tahe::money::Money::Parse(text);
  if (!amount.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        setting, ": want euros with at most two decimals, like -1234.50, got \"", text, "\""));
  }
  return amount->minor_units();
}

bool IsReportAccount(absl::string_view account) {
  return !account.empty() && account.size() <= 10 &&
         std::all_of(account.begin(), account.end(),
                     [](char c) { return absl::ascii_isdigit(static_cast<unsigned char>(c)); });
}

namespace {

// The cell of an account column, checked; "" after a problem.
std::string AccountCell(CsvRecordReader& cells, absl::string_view column, bool required) {
  const std::string text = required ? cells.Required(column) : cells.Cell(column);
  if (!text.empty() && !IsReportAccount(text)) {
    cells.Problem(column,
                  absl::StrCat("want an account number of 1-10 digits, got \"", text, "\""));
  }
  return text;
}

}  // namespace

CsvImport<BudgetLineRow> ParseBudgetCsv(absl::string_view text) {
  CsvImport<BudgetLineRow> result;
  std::vector<CsvRecord> records;
  CsvHeader header;
  if (!ReadCsvRecords(
          text, {{"account", true}, {"cost_centre", false}, {"month", true}, {"amount", true}},
          records, header, result.problems)) {
    return result;
  }
  if (records.size() > kMaxBudgetLines) {
    result.problems.push_back(
        {0, "",
         absl::StrCat(records.size(), " lines; one upload takes at most ", kMaxBudgetLines)});
    return result;
  }
  // (account, cost centre, month) -> the row it first appears on.
  std::map<std::tuple<std::string, std::string, std::string>, int> seen;
  for (const CsvRecord& record : records) {
    if (!CheckCsvWidth(record, header, result.problems)) {
      continue;
    }
    CsvRecordReader cells(header, record, /*echo=*/true, result.problems);
    BudgetLineRow row;
    row.row = record.row;
    v1::BudgetLine& line = row.line;
    line.set_account(AccountCell(cells, "account", true));
    line.set_cost_centre(cells.Cell("cost_centre"));
    if (const std::string month = cells.Required("month"); !month.empty()) {
      if (cells.Parsed("month", ParsePeriod("month", month)).has_value()) {
        line.set_month(month);
      }
    }
    if (const std::string amount = cells.Required("amount"); !amount.empty()) {
      line.set_amount_minor(cells.Parsed("amount", ParseSignedEuros("amount", amount)).value_or(0));
    }
    if (!line.account().empty() && !line.month().empty()) {
      auto [it, inserted] =
          seen.emplace(std::make_tuple(line.account(), line.cost_centre(), line.month()), row.row);
      if (!inserted) {
        cells.Problem(
            "", absl::StrCat("account ", line.account(), ", cost centre \"", line.cost_centre(),
                             "\", month ", line.month(), " again (first on row ", it->second, ")"));
      }
    }
    result.rows.push_back(std::move(row));
  }
  SortCsvProblems(result.problems);
  return result;
}

CsvImport<MappingRuleRow> ParseMappingCsv(absl::string_view text) {
  CsvImport<MappingRuleRow> result;
  std::vector<CsvRecord> records;
  CsvHeader header;
  if (!ReadCsvRecords(text, {{"row_code", true}, {"from_account", true}, {"to_account", false}},
                      records, header, result.problems)) {
    return result;
  }
  for (const CsvRecord& record : records) {
    if (!CheckCsvWidth(record, header, result.problems)) {
      continue;
    }
    CsvRecordReader cells(header, record, /*echo=*/true, result.problems);
    MappingRuleRow row;
    row.row = record.row;
    row.rule.set_row_code(absl::AsciiStrToUpper(cells.Required("row_code")));
    row.rule.set_from_account(AccountCell(cells, "from_account", true));
    std::string to = AccountCell(cells, "to_account", false);
    row.rule.set_to_account(to.empty() ? row.rule.from_account() : to);
    result.rows.push_back(std::move(row));
  }
  return result;
}

namespace {

// "lines[12]" at the start of `text`: consumes it and sets `index`.
bool ConsumeIndex(absl::string_view* text, absl::string_view list, size_t* index) {
  absl::string_view rest = *text;
  if (!absl::ConsumePrefix(&rest, list) || !absl::ConsumePrefix(&rest, "[")) {
    return false;
  }
  const size_t close = rest.find(']');
  if (close == absl::string_view::npos || !absl::SimpleAtoi(rest.substr(0, close), index)) {
    return false;
  }
  rest.remove_prefix(close + 1);
  *text = rest;
  return true;
}

// "lines[3]" -> "row 5" throughout `text`, for the indexes `rows` has.
std::string RowsFor(absl::string_view text, absl::string_view list, const std::vector<int>& rows) {
  std::string out;
  while (!text.empty()) {
    size_t index = 0;
    absl::string_view rest = text;
    if (ConsumeIndex(&rest, list, &index) && index < rows.size()) {
      absl::StrAppend(&out, "row ", rows[index]);
      text = rest;
    } else {
      out.push_back(text.front());
      text.remove_prefix(1);
    }
  }
  return out;
}

}  // namespace

std::string DescribeListRefusal(absl::string_view message, absl::string_view list,
                                const std::vector<int>& rows) {
  absl::string_view rest = message;
  size_t index = 0;
  if (!ConsumeIndex(&rest, list, &index) || index >= rows.size()) {
    return std::string(message);
  }
  std::string where = absl::StrCat("row ", rows[index]);
  if (absl::ConsumePrefix(&rest, ".")) {
    const size_t colon = rest.find(": ");
    std::string field(rest.substr(0, colon));
    if (field == "amount_minor") {
      field = "amount";
    }
    absl::StrAppend(&where, ", column ", field);
    rest = colon == absl::string_view::npos ? absl::string_view() : rest.substr(colon);
  }
  return absl::StrCat(where, RowsFor(rest, list, rows));
}

}  // namespace tahe::tahectl
