#include "tools/tahectl/payroll_csv.h"

#include <algorithm>
#include <map>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "tools/tahectl/parse.h"

namespace tahe::tahectl {

namespace v1 = ::tahe::payroll::v1;

CsvImport<EmployeeRow> ParseEmployeesCsv(absl::string_view text) {
  static const auto* const kColumns = new std::vector<CsvColumn>{{"employee_number", true},
                                                                 {"first_name", true},
                                                                 {"last_name", true},
                                                                 {"personal_identity_code", true},
                                                                 {"iban", true},
                                                                 {"bic", false},
                                                                 {"start_date", true},
                                                                 {"end_date", false},
                                                                 {"cost_centre", true},
                                                                 {"salary_basis", true},
                                                                 {"monthly_salary", false},
                                                                 {"hourly_rate", false},
                                                                 {"pension_scheme", true},
                                                                 {"union_fee_percent", false}};
  CsvImport<EmployeeRow> result;
  std::vector<CsvRecord> records;
  CsvHeader header;
  if (!ReadCsvRecords(text, *kColumns, records, header, result.problems)) {
    return result;
  }
  std::vector<std::pair<int, std::string>> numbers;
  for (const CsvRecord& record : records) {
    if (!CheckCsvWidth(record, header, result.problems)) {
      continue;
    }
    CsvRecordReader cells(header, record, /*echo=*/false, result.problems);
    EmployeeRow row;
    row.row = record.row;
    v1::Employee& employee = row.employee;
    employee.set_employee_number(cells.Required("employee_number"));
    employee.set_first_name(cells.Required("first_name"));
    employee.set_last_name(cells.Required("last_name"));
    employee.set_personal_identity_code(cells.Required("personal_identity_code"));
    employee.set_iban(cells.Required("iban"));
    employee.set_bic(cells.Cell("bic"));
    v1::Employment& job = *employee.mutable_employment();
    job.set_start_date(cells.Date("start_date", true));
    job.set_end_date(cells.Date("end_date", false));
    job.set_cost_centre(cells.Required("cost_centre"));
    job.set_salary_basis(cells.Enumerated<v1::SalaryBasis>(
        "salary_basis", "SALARY_BASIS_", &v1::SalaryBasis_Parse, "MONTHLY or HOURLY"));
    job.set_monthly_salary_minor(cells.Euros("monthly_salary"));
    job.set_hourly_rate_minor(cells.Euros("hourly_rate"));
    if (job.salary_basis() == v1::SALARY_BASIS_MONTHLY && cells.Cell("monthly_salary").empty()) {
      cells.Problem("monthly_salary", "required for salary_basis MONTHLY");
    }
    if (job.salary_basis() == v1::SALARY_BASIS_HOURLY && cells.Cell("hourly_rate").empty()) {
      cells.Problem("hourly_rate", "required for salary_basis HOURLY");
    }
    job.set_pension_scheme(cells.Enumerated<v1::PensionScheme>(
        "pension_scheme", "PENSION_SCHEME_", &v1::PensionScheme_Parse, "KEVA or TYEL"));
    if (const std::string fee = cells.Cell("union_fee_percent"); !fee.empty()) {
      job.set_union_fee_ppm(
          cells.Parsed("union_fee_percent", ParsePercentPpm("union_fee_percent", fee, false))
              .value_or(0));
    }
    numbers.emplace_back(record.row, employee.employee_number());
    result.rows.push_back(std::move(row));
  }
  CheckCsvUnique("employee_number", numbers, result.problems);
  SortCsvProblems(result.problems);
  return result;
}

CsvImport<PayItemRow> ParsePayItemsCsv(absl::string_view text) {
  static const auto* const kColumns = new std::vector<CsvColumn>{
      {"item_id", true},   {"employee_number", true}, {"period", true},  {"kind", true},
      {"quantity", false}, {"unit_rate", false},      {"amount", false}, {"description", false}};
  CsvImport<PayItemRow> result;
  std::vector<CsvRecord> records;
  CsvHeader header;
  if (!ReadCsvRecords(text, *kColumns, records, header, result.problems)) {
    return result;
  }
  std::vector<std::pair<int, std::string>> ids;
  for (const CsvRecord& record : records) {
    if (!CheckCsvWidth(record, header, result.problems)) {
      continue;
    }
    CsvRecordReader cells(header, record, /*echo=*/true, result.problems);
    PayItemRow row;
    row.row = record.row;
    v1::PayItem& item = row.item;
    item.set_item_id(cells.Required("item_id"));
    item.set_employee_number(cells.Required("employee_number"));
    item.set_period(cells.Required("period"));
    if (!item.period().empty()) {
      cells.Parsed("period", ParsePeriod("period", item.period()));
    }
    item.set_kind(cells.Enumerated<v1::PayItemKind>(
        "kind", "PAY_ITEM_KIND_", &v1::PayItemKind_Parse,
        "MONTHLY_SALARY, HOURLY_WORK, EVENING_SUPPLEMENT, NIGHT_SUPPLEMENT, SUNDAY_SUPPLEMENT, "
        "OVERTIME_50, OVERTIME_100, MEAL_BENEFIT, PHONE_BENEFIT, MILEAGE_ALLOWANCE, PER_DIEM or "
        "DEDUCTION"));
    const std::string quantity = cells.Cell("quantity");
    const std::string unit_rate = cells.Cell("unit_rate");
    const std::string amount = cells.Cell("amount");
    if (!quantity.empty()) {
      item.set_quantity_centi(
          cells.Parsed("quantity", ParseHundredths("quantity", quantity)).value_or(0));
    }
    item.set_unit_rate_minor(cells.Euros("unit_rate"));
    item.set_amount_minor(cells.Euros("amount"));
    if (!amount.empty() && (!quantity.empty() || !unit_rate.empty())) {
      cells.Problem("amount", "give either amount, or quantity and unit_rate, not both");
    } else if (amount.empty() && quantity.empty() && unit_rate.empty()) {
      cells.Problem("amount", "required (or quantity and unit_rate)");
    } else if (amount.empty() && quantity.empty()) {
      cells.Problem("quantity", "required with unit_rate");
    } else if (amount.empty() && unit_rate.empty()) {
      cells.Problem("unit_rate", "required with quantity");
    }
    item.set_description(cells.Cell("description"));
    ids.emplace_back(record.row, item.item_id());
    result.rows.push_back(std::move(row));
  }
  CheckCsvUnique("item_id", ids, result.problems);
  SortCsvProblems(result.problems);
  return result;
}

std::vector<v1::ImportEmployeesRequest> EmployeeBatches(const std::vector<EmployeeRow>& rows,
                                                        absl::string_view request_id_prefix,
                                                        int batch_size) {
  std::vector<v1::ImportEmployeesRequest> batches;
  for (size_t i = 0; i < rows.size(); ++i) {
    if (i % batch_size == 0) {
      const std::string request_id = absl::StrCat(request_id_prefix, "-b", batches.size());
      batches.emplace_back().set_request_id(request_id);
    }
    *batches.back().add_employees() = rows[i].employee;
  }
  return batches;
}

std::vector<v1::ImportPayItemsRequest> PayItemBatches(const std::vector<PayItemRow>& rows,
                                                      absl::string_view request_id_prefix,
                                                      int batch_size) {
  std::vector<v1::ImportPayItemsRequest> batches;
  for (size_t i = 0; i < rows.size(); ++i) {
    if (i % batch_size == 0) {
      const std::string request_id = absl::StrCat(request_id_prefix, "-b", batches.size());
      batches.emplace_back().set_request_id(request_id);
    }
    *batches.back().add_items() = rows[i].item;
  }
  return batches;
}

std::string RedactIdentityCodes(absl::string_view text) {
  constexpr size_t kLength = 11;  // DDMMYYCZZZQ
  constexpr absl::string_view kCenturySigns = "+-ABCDEFUVWXYabcdefuvwxy";
  const auto digits = [&](size_t from, size_t count) {
    return std::all_of(text.begin() + from, text.begin() + from + count,
                       [](char c) { return absl::ascii_isdigit(static_cast<unsigned char>(c)); });
  };
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    if (i + kLength <= text.size() && digits(i, 6) &&
        kCenturySigns.find(text[i + 6]) != absl::string_view::npos && digits(i + 7, 3) &&
        absl::ascii_isalnum(static_cast<unsigned char>(text[i + 10]))) {
      out += "[identity code]";
      i += kLength;
    } else {
      out.push_back(text[i]);
      ++i;
    }
  }
  return out;
}

std::string DescribeRejection(const v1::Rejection& rejection, const std::vector<int>& rows,
                              absl::string_view key_name, int batch_size) {
  static const auto* const kColumnOfField = new std::map<std::string, std::string, std::less<>>{
      {"monthly_salary_minor", "monthly_salary"}, {"hourly_rate_minor", "hourly_rate"},
      {"union_fee_ppm", "union_fee_percent"},     {"quantity_centi", "quantity"},
      {"unit_rate_minor", "unit_rate"},           {"amount_minor", "amount"}};
  const int64_t position = static_cast<int64_t>(rejection.batch()) * batch_size + rejection.index();
  std::string where =
      position >= 0 && position < static_cast<int64_t>(rows.size())
          ? absl::StrCat("row ", rows[position])
          : absl::StrCat("batch ", rejection.batch(), " record ", rejection.index());
  if (!rejection.key().empty()) {
    absl::StrAppend(&where, " (", key_name, " ", rejection.key(), ")");
  }
  const std::string message = RedactIdentityCodes(rejection.message());
  // "employees[3].employment.start_date: before ..." -> "column start_date: before ...".
  const size_t colon = message.find(": ");
  absl::string_view path = absl::string_view(message).substr(0, colon);
  const size_t dot = path.find('.');
  if (colon != std::string::npos && dot != absl::string_view::npos &&
      path.find(' ') == absl::string_view::npos) {
    path.remove_prefix(dot + 1);
    absl::ConsumePrefix(&path, "employment.");
    std::string column(path);
    if (auto it = kColumnOfField->find(column); it != kColumnOfField->end()) {
      column = it->second;
    }
    return absl::StrCat(where, ", column ", column, ": ", message.substr(colon + 2));
  }
  return absl::StrCat(where, ": ", message);
}

}  // namespace tahe::tahectl
