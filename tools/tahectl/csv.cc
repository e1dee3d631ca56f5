#include "tools/tahectl/csv.h"

#include <openssl/sha.h>

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/str_join.h"
#include "tools/tahectl/parse.h"

namespace tahe::tahectl {

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

// Checks the header against `columns`: every required one present, none unknown or repeated.
CsvHeader ReadHeader(const CsvRecord& record, const std::vector<CsvColumn>& columns,
                     std::vector<CsvProblem>& problems) {
  CsvHeader header;
  header.width = record.cells.size();
  for (size_t i = 0; i < record.cells.size(); ++i) {
    const std::string name = absl::AsciiStrToLower(absl::StripAsciiWhitespace(record.cells[i]));
    const bool known = std::any_of(columns.begin(), columns.end(),
                                   [&](const CsvColumn& c) { return c.name == name; });
    if (!known) {
      // A header cell is not personal data, and a typo must be visible to be fixed.
      std::vector<absl::string_view> names;
      for (const CsvColumn& c : columns) {
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
  for (const CsvColumn& c : columns) {
    if (c.required && header.index.find(c.name) == header.index.end()) {
      problems.push_back({record.row, std::string(c.name), "missing from the header"});
    }
  }
  return header;
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

void SortCsvProblems(std::vector<CsvProblem>& problems) {
  std::stable_sort(problems.begin(), problems.end(),
                   [](const CsvProblem& a, const CsvProblem& b) { return a.row < b.row; });
}

bool ReadCsvRecords(absl::string_view text, const std::vector<CsvColumn>& columns,
                    std::vector<CsvRecord>& records, CsvHeader& header,
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

bool CheckCsvWidth(const CsvRecord& record, const CsvHeader& header,
                   std::vector<CsvProblem>& problems) {
  if (record.cells.size() == header.width) {
    return true;
  }
  problems.push_back(
      {record.row, "", absl::StrCat(record.cells.size(), " cells, the header has ", header.width)});
  return false;
}

void CheckCsvUnique(absl::string_view column,
                    const std::vector<std::pair<int, std::string>>& values,
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

std::string CsvRecordReader::Cell(absl::string_view column) const {
  auto it = header_.index.find(column);
  return it == header_.index.end() ? "" : record_.cells[it->second];
}

void CsvRecordReader::Problem(absl::string_view column, absl::string_view message) {
  problems_.push_back({record_.row, std::string(column), std::string(message)});
}

std::string CsvRecordReader::Required(absl::string_view column) {
  std::string value = Cell(column);
  if (value.empty()) {
    Problem(column, "required");
  }
  return value;
}

int64_t CsvRecordReader::Euros(absl::string_view column) {
  const std::string text = Cell(column);
  if (text.empty()) {
    return 0;
  }
  return Parsed(column, ParseEurosNonNegative(column, text, echo_)).value_or(0);
}

std::string CsvRecordReader::Date(absl::string_view column, bool required) {
  const std::string text = required ? Required(column) : Cell(column);
  if (!text.empty() && !ParseDate(column, text).ok()) {
    Problem(column, echo_ ? absl::StrCat("want a date YYYY-MM-DD, got \"", text, "\"")
                          : "want a date YYYY-MM-DD");
  }
  return text;
}

std::string Sha256Hex(absl::string_view content) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(content.data()), content.size(), digest);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
}

std::string ContentRequestIdPrefix(absl::string_view what, absl::string_view content) {
  return absl::StrCat("tahectl-", what, "-", Sha256Hex(content).substr(0, 32));
}

}  // namespace tahe::tahectl
