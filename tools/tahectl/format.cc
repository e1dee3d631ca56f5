#include "tools/tahectl/format.h"

#include <algorithm>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"

namespace tahe::tahectl {

std::string FormatEuros(int64_t cents) {
  // Work on the magnitude as unsigned so that INT64_MIN has one too.
  const bool negative = cents < 0;
  const uint64_t magnitude =
      negative ? ~static_cast<uint64_t>(cents) + 1 : static_cast<uint64_t>(cents);
  const std::string euros = absl::StrCat(magnitude / 100);
  std::string grouped;
  for (size_t i = 0; i < euros.size(); ++i) {
    if (i > 0 && (euros.size() - i) % 3 == 0) {
      grouped.push_back(' ');
    }
    grouped.push_back(euros[i]);
  }
  const uint64_t rest = magnitude % 100;
  return absl::StrCat(negative ? "-" : "", grouped, ".", rest < 10 ? "0" : "", rest);
}

size_t DisplayWidth(absl::string_view text) {
  // Count every byte that does not continue a multi-byte UTF-8 sequence (10xxxxxx).
  return std::count_if(text.begin(), text.end(),
                       [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; });
}

Table::Table(std::vector<std::string> header, std::vector<Align> align)
    : header_(std::move(header)), align_(std::move(align)) {
  if (header_.size() != align_.size()) {
    std::abort();
  }
}

void Table::AddRow(std::vector<std::string> cells) {
  if (cells.size() != header_.size()) {
    std::abort();
  }
  rows_.push_back(std::move(cells));
}

void Table::AddSeparator() { rows_.emplace_back(); }

void Table::Print(std::ostream& out) const {
  std::vector<size_t> widths(header_.size());
  for (size_t c = 0; c < header_.size(); ++c) {
    widths[c] = DisplayWidth(header_[c]);
  }
  for (const auto& row : rows_) {
    for (size_t c = 0; c < row.size(); ++c) {
      widths[c] = std::max(widths[c], DisplayWidth(row[c]));
    }
  }
  const auto print_row = [&](const std::vector<std::string>& cells) {
    std::string line;
    for (size_t c = 0; c < cells.size(); ++c) {
      const std::string padding(widths[c] - DisplayWidth(cells[c]), ' ');
      if (c > 0) {
        line += "  ";
      }
      line += align_[c] == Align::kRight ? padding + cells[c] : cells[c] + padding;
    }
    line.erase(line.find_last_not_of(' ') + 1);
    out << line << "\n";
  };
  print_row(header_);
  for (const auto& row : rows_) {
    if (row.empty()) {
      std::vector<std::string> dashes;
      for (size_t width : widths) {
        dashes.emplace_back(width, '-');
      }
      print_row(dashes);
    } else {
      print_row(row);
    }
  }
}

void PrintJson(const google::protobuf::Message& message, std::ostream& out) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  std::string json;
  // Printing a valid message cannot fail (only Any with an unknown type could).
  if (!google::protobuf::util::MessageToJsonString(message, &json, options).ok()) {
    std::abort();
  }
  out << json << "\n";
}

}  // namespace tahe::tahectl
