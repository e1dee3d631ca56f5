#pragma once

// Human-readable output for tahectl: euro amounts and aligned text tables.
//
//   Table table({"Account", "Debit"}, {Align::kLeft, Align::kRight});
//   table.AddRow({"1910", FormatEuros(123456)});    // "1 234.56"
//   table.Print(std::cout);

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

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

}  // namespace tahe::tahectl
