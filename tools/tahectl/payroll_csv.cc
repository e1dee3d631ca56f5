#include "tools/tahectl/payroll_csv.h"

#include <openssl/sha.h>

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

namespace {

constexpr absl::string_view kByteOrderMark = "\xEF\xBB\xBF";

// ';' when the header line holds more of them than ','.
char DetectDelimiter(absl::string_view text) {
  const absl::string_view header = text.substr(0, text.find('\n'));
  const auto commas = std::count(header.begin(), header.end(), ',');
  const auto semicolons = std::count(header.begin(), header.end(), ';');
  return semicolons > commas ? ';' : ',';
}

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

// A file's columns by lower-case header name.
struct Header {
  std::map<std::string, size_t, std::less<>> index;
  size_t width = 0;
};

struct ColumnSpec {
  absl::string_view name;
  bool required;
};

// Checks the header against `columns`: every required one present, none unknown or repeated.
Header ReadHeader(const CsvRecord& record, const std::vector<ColumnSpec>& columns,
                  std::vector<CsvProblem>& problems) {
  Header header;
  header.width = record.cells.size();
  for (size_t i = 0; i < record.cells.size(); ++i) {
    const std::string name = absl::AsciiStrToLower(absl::StripAsciiWhitespace(record.cells[i]));
    const bool known = std::any_of(columns.begin(), columns.end(),
                                   [&](const ColumnSpec& c) { return c.name == name; });
    if (!known) {
      // A header cell is not personal data, and a typo must be visible to be fixed.
      std::vector<absl::string_view> names;
      for (const ColumnSpec& c : columns) {
        names.push_back(c.name);
      }
      problems.push_back({record.row, "",
                          absl::StrCat("unknown column \"", absl::CHexEscape(name),
                                       "\" (the columns are ", absl::StrJoin(names, ", "), ")")});
      continue;
    }
    if (!header.index.emplace(name, i).second) {
      problems.push_back({record.row, name, "appears twice in the header"});
    }
  }
  for (const ColumnSpec& c : columns) {
    if (c.required && header.index.find(c.name) == header.index.end()) {
      problems.push_back({record.row, std::string(c.name), "missing from the header"});
    }
  }
  return header;
}

// One data record's cells by column name; records one problem at a time per column.
class RecordReader {
 public:
  RecordReader(const Header& header, const CsvRecord& record, bool echo,
               std::vector<CsvProblem>& problems)
      : header_(header), record_(record), echo_(echo), problems_(problems) {}

  // The cell, "" when the column is absent.
  std::string Cell(absl::string_view column) const {
    auto it = header_.index.find(column);
    return it == header_.index.end() ? "" : record_.cells[it->second];
  }

  void Problem(absl::string_view column, absl::string_view message) {
    problems_.push_back({record_.row, std::string(column), std::string(message)});
  }

  // The cell; a problem "required" when it is empty.
  std::string Required(absl::string_view column) {
    std::string value = Cell(column);
    if (value.empty()) {
      Problem(column, "required");
    }
    return value;
  }

  // A parsed cell; problems carry the parser's message without the column name it already has.
  template <typename T>
  std::optional<T> Parsed(absl::string_view column, const absl::StatusOr<T>& parsed) {
    if (parsed.ok()) {
      return *parsed;
    }
    absl::string_view message = parsed.status().message();
    absl::ConsumePrefix(&message, column);
    absl::ConsumePrefix(&message, ": ");
    Problem(column, message);
    return std::nullopt;
  }

  // Euros as cents; 0 for an empty cell.
  int64_t Euros(absl::string_view column) {
    const std::string text = Cell(column);
    if (text.empty()) {
      return 0;
    }
    return Parsed(column, ParseEurosNonNegative(column, text, echo_)).value_or(0);
  }

  // An enumeration value by its name without `prefix`, case-insensitively; 0 when empty or bad.
  template <typename Enum>
  Enum Enumerated(absl::string_view column, absl::string_view prefix,
                  bool (*parse)(const std::string&, Enum*), absl::string_view choices) {
    const std::string text = Required(column);
    Enum value{};
    if (text.empty()) {
      return value;
    }
    if (!parse(absl::StrCat(prefix, absl::AsciiStrToUpper(text)), &value) ||
        static_cast<int>(value) == 0) {
      Problem(column, echo_ ? absl::StrCat("want ", choices, ", got \"", text, "\"")
                            : absl::StrCat("want ", choices));
      return Enum{};
    }
    return value;
  }

  // A date "YYYY-MM-DD" (checked) or "" when optional and empty.
  std::string Date(absl::string_view column, bool required) {
    const std::string text = required ? Required(column) : Cell(column);
    if (!text.empty() && !ParseDate(column, text).ok()) {
      Problem(column, echo_ ? absl::StrCat("want a date YYYY-MM-DD, got \"", text, "\"")
                            : "want a date YYYY-MM-DD");
    }
    return text;
  }

 private:
  const Header& header_;
  const CsvRecord& record_;
  const bool echo_;
  std::vector<CsvProblem>& problems_;
};

// The data records of a file with a checked header; false (with problems) when the file cannot
// be read at all.
bool ReadRecords(absl::string_view text, const std::vector<ColumnSpec>& columns,
                 std::vector<CsvRecord>& records, Header& header,
                 std::vector<CsvProblem>& problems) {
  absl::StatusOr<std::vector<CsvRecord>> read = ReadCsv(text);
  if (!read.ok()) {
    problems.push_back({0, "", std::string(read.status().message())});
    return false;
  }
  if (read->empty()) {
    problems.push_back({1, "", "the file is empty (want a header row, then one row a record)"});
    return false;
  }
  header = ReadHeader(read->front(), columns, problems);
  if (!problems.empty()) {
    return false;
  }
  records.assign(read->begin() + 1, read->end());
  if (records.empty()) {
    problems.push_back({1, "", "the file has a header but no records"});
    return false;
  }
  return true;
}

// A problem for a record whose cell count differs from the header's; true when it is fine.
bool CheckWidth(const CsvRecord& record, const Header& header, std::vector<CsvProblem>& problems) {
  if (record.cells.size() == header.width) {
    return true;
  }
  problems.push_back(
      {record.row, "", absl::StrCat(record.cells.size(), " cells, the header has ", header.width)});
  return false;
}

// A problem for each value of `column` seen on an earlier row.
void CheckUnique(absl::string_view column, const std::vector<std::pair<int, std::string>>& values,
                 std::vector<CsvProblem>& problems) {
  std::map<std::string, int, std::less<>> first_row;
  for (const auto& [row, value] : values) {
    if (value.empty()) {
      continue;
    }
    auto [it, inserted] = first_row.emplace(value, row);
    if (!inserted) {
      problems.push_back(
          {row, std::string(column), absl::StrCat("the same as on row ", it->second)});
    }
  }
}

std::string Sha256Hex(absl::string_view content) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(content.data()), content.size(), digest);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
}

}  // namespace

absl::StatusOr<std::vector<CsvRecord>> ReadCsv(absl::string_view text) {
  absl::ConsumePrefix(&text, kByteOrderMark);
  const char delimiter = DetectDelimiter(text);
  std::vector<CsvRecord> records;
  CsvRecord record;
  std::string cell;
  bool in_quotes = false;    // inside "..."
  bool quoted = false;       // the current cell was quoted
  bool after_quote = false;  // the closing quote of the current cell was seen
  int line = 1;
  int quote_line = 0;
  record.row = 1;

  const auto end_cell = [&] {
    record.cells.push_back(quoted ? cell : std::string(absl::StripAsciiWhitespace(cell)));
    cell.clear();
    quoted = false;
    after_quote = false;
  };
  const auto end_record = [&](int next_row) {
    end_cell();
    const bool blank = record.cells.size() == 1 && record.cells[0].empty();
    if (!blank) {
      records.push_back(std::move(record));
    }
    record = CsvRecord();
    record.row = next_row;
  };
  const auto error = [&](int row, absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat("row ", row, ": ", what));
  };

  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_quotes) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          cell.push_back('"');
          ++i;
        } else {
          in_quotes = false;
          after_quote = true;
        }
      } else {
        if (c == '\n') {
          ++line;
        }
        cell.push_back(c);
      }
      continue;
    }
    if (c == delimiter) {
      end_cell();
    } else if (c == '\n') {
      ++line;
      end_record(line);
    } else if (c == '\r') {
      // The '\r' of a CRLF line end, or stray: either way not part of a cell.
    } else if (c == '"') {
      if (after_quote || quoted) {
        return error(
            line, absl::StrCat("a quote after the closing quote of cell ", record.cells.size() + 1,
                               " (double a quote inside a quoted cell)"));
      }
      if (!absl::StripAsciiWhitespace(cell).empty()) {
        return error(line,
                     absl::StrCat("a quote inside the unquoted cell ", record.cells.size() + 1,
                                  " (quote the whole cell and double the quote)"));
      }
      cell.clear();
      in_quotes = true;
      quoted = true;
      quote_line = line;
    } else if (after_quote) {
      if (!IsBlank(c)) {
        return error(
            line, absl::StrCat("text after the closing quote of cell ", record.cells.size() + 1));
      }
    } else {
      cell.push_back(c);
    }
  }
  if (in_quotes) {
    return error(quote_line, absl::StrCat("the quote opening cell ", record.cells.size() + 1,
                                          " is never closed"));
  }
  end_record(line);
  return records;
}

std::string FormatCsvProblem(const CsvProblem& problem) {
  std::string where = problem.row > 0 ? absl::StrCat("row ", problem.row) : "";
  if (!problem.column.empty()) {
    absl::StrAppend(&where, where.empty() ? "" : ", ", "column ", problem.column);
  }
  return where.empty() ? problem.message : absl::StrCat(where, ": ", problem.message);
}

CsvImport<EmployeeRow> ParseEmployeesCsv(absl::string_view text) {
  static const auto* const kColumns = new std::vector<ColumnSpec>{{"employee_number", true},
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
  Header header;
  if (!ReadRecords(text, *kColumns, records, header, result.problems)) {
    return result;
  }
  std::vector<std::pair<int, std::string>> numbers;
  for (const CsvRecord& record : records) {
    if (!CheckWidth(record, header, result.problems)) {
      continue;
    }
    RecordReader cells(header, record, /*echo=*/false, result.problems);
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
  CheckUnique("employee_number", numbers, result.problems);
  std::stable_sort(result.problems.begin(), result.problems.end(),
                   [](const CsvProblem& a, const CsvProblem& b) { return a.row < b.row; });
  return result;
}

CsvImport<PayItemRow> ParsePayItemsCsv(absl::string_view text) {
  static const auto* const kColumns = new std::vector<ColumnSpec>{
      {"item_id", true},   {"employee_number", true}, {"period", true},  {"kind", true},
      {"quantity", false}, {"unit_rate", false},      {"amount", false}, {"description", false}};
  CsvImport<PayItemRow> result;
  std::vector<CsvRecord> records;
  Header header;
  if (!ReadRecords(text, *kColumns, records, header, result.problems)) {
    return result;
  }
  std::vector<std::pair<int, std::string>> ids;
  for (const CsvRecord& record : records) {
    if (!CheckWidth(record, header, result.problems)) {
      continue;
    }
    RecordReader cells(header, record, /*echo=*/true, result.problems);
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
  CheckUnique("item_id", ids, result.problems);
  std::stable_sort(result.problems.begin(), result.problems.end(),
                   [](const CsvProblem& a, const CsvProblem& b) { return a.row < b.row; });
  return result;
}

std::string ContentRequestIdPrefix(absl::string_view what, absl::string_view content) {
  return absl::StrCat("tahectl-", what, "-", Sha256Hex(content).substr(0, 32));
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
