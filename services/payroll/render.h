#pragma once

// Payslips as a person reads them (plain text) and as a spreadsheet imports them (CSV), for
// RenderPayslips. Pure: a stored v1::Payslip in, text out; no gRPC, no SQL.
//
//   std::string text = RenderPayslipsText(slips);  // one payslip after another
//   std::string csv = RenderPayslipsCsv(slips);    // a header row, then one row per line
//
// Both carry only what the payslip holds: the employee's name and number, never the personal
// identity code (the Payslip message has no field for it), and nothing of the organisation (the
// same layout serves every organisation of the cell). Money is euros with two decimals
// (FormatCents: "3500.00", "-60.00"); quantities are hundredths written the same way ("10.50");
// rates are percentages with at least two decimals and up to four ("7.30%", "0.8655%",
// "150.00%" for overtime).
//
// Text layout (UTF-8, '\n' line ends): a header (pay run, employee name and number, period,
// payment date, cost centre), a table of lines with fixed columns (code, quantity, base, rate,
// amount) and the free-width description last, so long descriptions never break the alignment;
// after the description ", corrects YYYY-MM" when the line corrects an earlier period and
// " (provisional rate)" when its rate is not verified from an official source. Lines are in the
// payslip's order (pay items, withholding, employee contributions, information lines, employer
// contributions). Then net pay as a sum (gross cash pay, what is withheld or deducted as negative
// amounts, reimbursements), the taxable figures (benefits in kind, taxable pay, the calendar
// year's taxable pay to date) and the employer's contributions. Blank cells are values the line
// does not have (a fixed amount has no quantity, a pay item in amount form no rate; quantity
// lines show their multiplier, 100 % or 150 % / 200 % for overtime, as the rate). Payslips are
// separated by a blank line.
//
// CSV (RFC 4180): the header row of kPayslipCsvColumns, one row per payslip line, CRLF line ends,
// fields holding a comma, a double quote, CR or LF in double quotes with quotes doubled. Amounts
// and quantities as above; the rate as a bare percentage number ("7.30") in rate_percent, blank
// when the line has no rate; provisional is "true" or "false". A text cell (name, cost centre,
// description) that begins with = + - @, a tab or CR gets a leading apostrophe so that a
// spreadsheet shows it instead of running it as a formula (OWASP's CSV injection advice).
//
// All functions are thread-safe.

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "tahe/payroll/v1/payroll.pb.h"

namespace tahe::payroll {

inline constexpr char kPayslipCsvColumns[] =
    "pay_run_id,employee_number,employee_name,period,payment_date,cost_centre,line,code,"
    "description,quantity,base,rate_percent,amount,corrects_period,provisional,"
    "rate_table_version";

inline constexpr char kPayslipTextContentType[] = "text/plain; charset=utf-8";
inline constexpr char kPayslipCsvContentType[] = "text/csv; charset=utf-8; header=present";

// One payslip in the text layout above.
std::string RenderPayslipText(const v1::Payslip& slip);

// Every payslip in the text layout, separated by a blank line; empty for no payslips.
std::string RenderPayslipsText(absl::Span<const v1::Payslip> slips);

// The header row and one row per line of every payslip.
std::string RenderPayslipsCsv(absl::Span<const v1::Payslip> slips);

// A rate in parts per million as a percentage with two to four decimals: 73000 -> "7.30",
// 8655 -> "0.8655", 1500000 -> "150.00". REQUIRES: ppm >= 0.
std::string FormatRatePercent(int64_t ppm);

// `field` as one CSV field: quoted (quotes doubled) when it holds a comma, a double quote, CR or
// LF; otherwise unchanged.
std::string CsvField(absl::string_view field);

}  // namespace tahe::payroll
