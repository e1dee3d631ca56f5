#pragma once

// tahectl's output: human-readable euro amounts and aligned text tables (the default), or the
// response messages as JSON for scripts (--json).
//
//   Table table({"Account", "Debit"}, {Align::kLeft, Align::kRight});
//   table.AddRow({"1910", FormatEuros(123456)});    // "1 234.56"
//   table.Print(std::cout);
//
//   PrintJson(response, std::cout);                 // {"accounts":[...]}

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"

namespace tahe::tahectl {

// Cents as euros with two decimals and a space between thousands: 123456 -> "1 234.56",
// -5 -> "-0.05". Exact for every int64, including the most negative.
std::string FormatEuros(int64_t cents);

// Width of UTF-8 text in terminal columns, counting each code point as one column (true for the
// Latin letters of Finnish and Swedish account names).
size_t DisplayWidth(absl::string_view text);

enum class Align { kLeft, kRight };

class Table {
 public:
  // REQUIRES: header.size() == align.size().
  Table(std::vector<std::string> header, std::vector<Align> align);

  // REQUIRES: cells.size() == the number of columns.
  void AddRow(std::vector<std::string> cells);
  // A dashed line across every column, e.g. above a totals row.
  void AddSeparator();

  // The header, then the rows, each column padded to its widest cell and separated by two
  // spaces; trailing spaces are trimmed.
  void Print(std::ostream& out) const;

 private:
  std::vector<std::string> header_;
  std::vector<Align> align_;
  // An empty row stands for a separator.
  std::vector<std::vector<std::string>> rows_;
};

enum class OutputFormat {
  // Tables and sentences for people.
  kTable,
  // One JSON object per command, on one line (PrintJson).
  kJson,
};

// `message` in protobuf's JSON mapping (lowerCamelCase field names, 64-bit integers as strings,
// enums by name), with fields at their default values included so that scripts need not know
// the defaults, on one line, followed by a newline.
void PrintJson(const google::protobuf::Message& message, std::ostream& out);

}  // namespace tahe::tahectl
