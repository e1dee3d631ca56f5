#pragma once

// The CSV files tahectl imports (payroll employees and pay items, invoicing customers, products
// and billing-run drafts): reading them into records, checking the header against the columns a
// file may have, reading cells by column name with every problem named by row and column, and
// the request ids of an import that follow from the file's content.
//
//   CsvImport<MyRow> result;
//   std::vector<CsvRecord> records;
//   CsvHeader header;
//   if (!ReadCsvRecords(text, {{"number", true}, {"note", false}}, records, header,
//                       result.problems)) {
//     return result;
//   }
//   for (const CsvRecord& record : records) {
//     if (!CheckCsvWidth(record, header, result.problems)) continue;
//     CsvRecordReader cells(header, record, /*echo=*/true, result.problems);
//     row.number = cells.Required("number");
//   }
//
// The files: a header row naming the columns (any order, case-insensitive), then one record a
// row. Cells are separated by ',' or, when the header holds more ';' than ',', by ';' (as
// spreadsheets write CSV with decimal commas). A cell may be quoted ("Virtanen, Matti"); a quote
// inside a quoted cell is doubled; quoted cells may span lines. Unquoted cells lose surrounding
// whitespace; blank lines are skipped; a UTF-8 byte order mark is ignored. A record's row is the
// line on which it starts (the header is row 1), as a spreadsheet numbers it.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace tahe::tahectl {

struct CsvRecord {
  int row = 0;
  std::vector<std::string> cells;
};

// Every record of `text`, the header included. INVALID_ARGUMENT "row N: ..." for a quote left
// open or misplaced; the message never quotes the file.
absl::StatusOr<std::vector<CsvRecord>> ReadCsv(absl::string_view text);

struct CsvProblem {
  int row = 0;
  // The column at fault; empty for a problem of the whole row.
  std::string column;
  std::string message;
};

// "row 5, column iban: required", "row 7: 13 cells, the header has 14".
std::string FormatCsvProblem(const CsvProblem& problem);

// Orders problems by row, keeping the order of each row's own.
void SortCsvProblems(std::vector<CsvProblem>& problems);

template <typename Row>
struct CsvImport {
  std::vector<Row> rows;
  // Empty when the file can be imported.
  std::vector<CsvProblem> problems;
};

// A column a file may have.
struct CsvColumn {
  absl::string_view name;
  bool required;
};

// A file's columns by lower-case header name.
struct CsvHeader {
  std::map<std::string, size_t, std::less<>> index;
  size_t width = 0;
};

// The data records of a file (header excluded) with a header checked against `columns`: every
// required column present, none unknown or repeated. False, with problems, when the file cannot
// be imported at all (unreadable, empty, a bad header, no records).
bool ReadCsvRecords(absl::string_view text, const std::vector<CsvColumn>& columns,
                    std::vector<CsvRecord>& records, CsvHeader& header,
                    std::vector<CsvProblem>& problems);

// A problem for a record whose cell count differs from the header's; true when it is fine.
bool CheckCsvWidth(const CsvRecord& record, const CsvHeader& header,
                   std::vector<CsvProblem>& problems);

// A problem for each non-empty value of `column` seen on an earlier row.
void CheckCsvUnique(absl::string_view column,
                    const std::vector<std::pair<int, std::string>>& values,
                    std::vector<CsvProblem>& problems);

// One data record's cells by column name; each problem is recorded with the record's row.
// With `echo` false no problem repeats a cell's text (files with personal data).
class CsvRecordReader {
 public:
  CsvRecordReader(const CsvHeader& header, const CsvRecord& record, bool echo,
                  std::vector<CsvProblem>& problems)
      : header_(header), record_(record), echo_(echo), problems_(problems) {}

  // The cell, "" when the column is absent.
  std::string Cell(absl::string_view column) const;

  void Problem(absl::string_view column, absl::string_view message);

  // The cell; a problem "required" when it is empty.
  std::string Required(absl::string_view column);

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
  int64_t Euros(absl::string_view column);

  // An enumeration value by its name without `prefix`, case-insensitively; 0 when empty or bad.
  // Required unless `required` is false (then an empty cell is 0 without a problem).
  template <typename Enum>
  Enum Enumerated(absl::string_view column, absl::string_view prefix,
                  bool (*parse)(const std::string&, Enum*), absl::string_view choices,
                  bool required = true) {
    const std::string text = required ? Required(column) : Cell(column);
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
  std::string Date(absl::string_view column, bool required);

  bool echo() const { return echo_; }
  int row() const { return record_.row; }

 private:
  const CsvHeader& header_;
  const CsvRecord& record_;
  const bool echo_;
  std::vector<CsvProblem>& problems_;
};

// SHA-256 of `content` as 64 lower-case hex digits.
std::string Sha256Hex(absl::string_view content);

// "tahectl-<what>-<32 hex of SHA-256(content)>": the request-id prefix of an import, the same
// for the same file and a different one for any change to it.
std::string ContentRequestIdPrefix(absl::string_view what, absl::string_view content);

}  // namespace tahe::tahectl
