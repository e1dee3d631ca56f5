#include "services/payroll/render.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "services/payroll/rate_tables.h"

namespace tahe::payroll {
namespace {

constexpr int kNumberWidth = 11;
constexpr int kLabelWidth = 36;

std::string PadRight(absl::string_view text, size_t width) {
  std::string out(text);
  if (out.size() < width) {
    out.append(width - out.size(), ' ');
  }
  return out;
}

std::string PadLeft(absl::string_view text, size_t width) {
  std::string out;
  if (text.size() < width) {
    out.append(width - text.size(), ' ');
  }
  absl::StrAppend(&out, text);
  return out;
}

void StripTrailingSpaces(std::string& line) {
  while (!line.empty() && line.back() == ' ') {
    line.pop_back();
  }
}

// The cells a line has; empty strings for the values it does not have.
struct LineCells {
  std::string quantity;
  std::string base;
  std::string rate;  // without '%'
  std::string amount;
};

LineCells CellsOf(const v1::PayslipLine& line) {
  LineCells cells;
  if (line.quantity_centi() != 0) {
    cells.quantity = FormatCents(line.quantity_centi());
  }
  if (line.base_minor() != 0 || line.quantity_centi() != 0) {
    cells.base = FormatCents(line.base_minor());
  }
  if (line.rate_ppm() > 0) {
    cells.rate = FormatRatePercent(line.rate_ppm());
  }
  cells.amount = FormatCents(line.amount_minor());
  return cells;
}

std::string TextRow(absl::string_view code, size_t code_width, const LineCells& cells,
                    absl::string_view rate_cell, absl::string_view description) {
  std::string row = PadRight(code, code_width);
  for (absl::string_view cell : {absl::string_view(cells.quantity), absl::string_view(cells.base),
                                 rate_cell, absl::string_view(cells.amount)}) {
    absl::StrAppend(&row, "  ", PadLeft(cell, kNumberWidth));
  }
  absl::StrAppend(&row, "  ", description);
  StripTrailingSpaces(row);
  absl::StrAppend(&row, "\n");
  return row;
}

void AppendFigure(std::string& out, absl::string_view label, int64_t cents) {
  absl::StrAppend(&out, PadRight(label, kLabelWidth), PadLeft(FormatCents(cents), kNumberWidth),
                  "\n");
}

// A text cell a spreadsheet would otherwise take for a formula gets a leading apostrophe.
std::string DefuseFormula(absl::string_view text) {
  if (!text.empty() && (text[0] == '=' || text[0] == '+' || text[0] == '-' || text[0] == '@' ||
                        text[0] == '\t' || text[0] == '\r')) {
    return absl::StrCat("'", text);
  }
  return std::string(text);
}

}  // namespace

std::string FormatRatePercent(int64_t ppm) {
  std::string fraction = absl::StrFormat("%04d", static_cast<int>(ppm % 10'000));
  while (fraction.size() > 2 && fraction.back() == '0') {
    fraction.pop_back();
  }
  return absl::StrCat(ppm / 10'000, ".", fraction);
}

std::string CsvField(absl::string_view field) {
  if (field.find_first_of(",\"\r\n") == absl::string_view::npos) {
    return std::string(field);
  }
  std::string out = "\"";
  for (char c : field) {
    if (c == '"') {
      out.push_back('"');
    }
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

std::string RenderPayslipText(const v1::Payslip& slip) {
  std::string out = "PAYSLIP\n";
  const std::vector<std::pair<absl::string_view, std::string>> header = {
      {"Pay run", slip.pay_run_id()},
      {"Employee", absl::StrCat(slip.employee_name(), " (", slip.employee_number(), ")")},
      {"Period", slip.period()},
      {"Payment date", slip.payment_date()},
      {"Cost centre", slip.cost_centre()},
  };
  for (const auto& [label, value] : header) {
    absl::StrAppend(&out, PadRight(label, 14), value, "\n");
  }
  out.push_back('\n');

  size_t code_width = absl::string_view("Code").size();
  for (const v1::PayslipLine& line : slip.lines()) {
    code_width = std::max(code_width, line.code().size());
  }
  out += TextRow("Code", code_width, {.quantity = "Quantity", .base = "Base", .amount = "Amount"},
                 "Rate", "Description");
  for (const v1::PayslipLine& line : slip.lines()) {
    const LineCells cells = CellsOf(line);
    std::string description = line.description();
    if (!line.corrects_period().empty()) {
      absl::StrAppend(&description, description.empty() ? "" : ", ", "corrects ",
                      line.corrects_period());
    }
    if (line.provisional()) {
      absl::StrAppend(&description, description.empty() ? "" : " ", "(provisional rate)");
    }
    out += TextRow(line.code(), code_width, cells, cells.rate.empty() ? "" : cells.rate + "%",
                   description);
  }
  out.push_back('\n');

  // Net pay as a sum of the lines above it; then the taxable figures, then the employer's costs.
  const v1::PayRunTotalsFigures& f = slip.figures();
  AppendFigure(out, "Gross cash pay", f.gross_cash_minor());
  AppendFigure(out, "Withholding", -f.withholding_minor());
  AppendFigure(out, "Employee pension", -f.employee_pension_minor());
  AppendFigure(out, "Employee unemployment insurance", -f.employee_unemployment_minor());
  AppendFigure(out, "Union fees", -f.union_fees_minor());
  AppendFigure(out, "Deductions", -f.deductions_minor());
  AppendFigure(out, "Reimbursements (tax-free)", f.reimbursements_minor());
  AppendFigure(out, "Net pay", f.net_pay_minor());
  out.push_back('\n');
  AppendFigure(out, "Benefits in kind (not paid in cash)", f.benefits_in_kind_minor());
  AppendFigure(out, "Taxable pay", f.gross_cash_minor() + f.benefits_in_kind_minor());
  AppendFigure(out, "Taxable pay this year to date", slip.year_to_date_taxable_minor());
  out.push_back('\n');
  absl::StrAppend(&out, "Employer's contributions (not deducted from pay)\n");
  AppendFigure(out, "Pension", f.employer_pension_minor());
  AppendFigure(out, "Unemployment insurance", f.employer_unemployment_minor());
  AppendFigure(out, "Health insurance", f.employer_health_insurance_minor());
  AppendFigure(out, "Accident insurance", f.employer_accident_insurance_minor());
  AppendFigure(out, "Group life insurance", f.employer_group_life_minor());
  return out;
}

std::string RenderPayslipsText(absl::Span<const v1::Payslip> slips) {
  std::vector<std::string> rendered;
  rendered.reserve(slips.size());
  for (const v1::Payslip& slip : slips) {
    rendered.push_back(RenderPayslipText(slip));
  }
  return absl::StrJoin(rendered, "\n");
}

std::string RenderPayslipsCsv(absl::Span<const v1::Payslip> slips) {
  std::string out = absl::StrCat(kPayslipCsvColumns, "\r\n");
  for (const v1::Payslip& slip : slips) {
    for (int i = 0; i < slip.lines_size(); ++i) {
      const v1::PayslipLine& line = slip.lines(i);
      const LineCells cells = CellsOf(line);
      const std::vector<std::string> fields = {
          slip.pay_run_id(),
          slip.employee_number(),
          DefuseFormula(slip.employee_name()),
          slip.period(),
          slip.payment_date(),
          DefuseFormula(slip.cost_centre()),
          absl::StrCat(i + 1),
          line.code(),
          DefuseFormula(line.description()),
          cells.quantity,
          cells.base,
          cells.rate,
          cells.amount,
          line.corrects_period(),
          line.provisional() ? "true" : "false",
          line.rate_table_version(),
      };
      std::vector<std::string> quoted;
      quoted.reserve(fields.size());
      for (const std::string& field : fields) {
        quoted.push_back(CsvField(field));
      }
      absl::StrAppend(&out, absl::StrJoin(quoted, ","), "\r\n");
    }
  }
  return out;
}

}  // namespace tahe::payroll
