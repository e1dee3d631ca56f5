#pragma once

// Parsing of tahectl's operands into ledger API values. Pure functions, no I/O.
//
//   ASSIGN_OR_RETURN(tahe::ledger::v1::EntryLine line,
//                    ParseEntryLine("4300:1250.00:cost_centre=3000-tekninen"));
//   line.amount().amount_minor();  // 125000

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "tahe/ledger/v1/ledger.pb.h"

namespace tahe::tahectl {

// "YYYY-MM" for a real month. INVALID_ARGUMENT naming `setting` otherwise.
absl::StatusOr<absl::CivilMonth> ParsePeriod(absl::string_view setting, absl::string_view text);

// "YYYY-MM-DD" for a real calendar day (no 2025-02-30). INVALID_ARGUMENT naming `setting`.
absl::StatusOr<absl::CivilDay> ParseDate(absl::string_view setting, absl::string_view text);

// "YYYY-MM" and "YYYY-MM-DD", always with four-digit years.
std::string FormatPeriod(absl::CivilMonth month);
std::string FormatDate(absl::CivilDay day);

// One entry line, "ACCOUNT:AMOUNT[:key=value,...]": an account number, an amount in euros with
// at most two decimals ("123.45", "-123.45", "7", "1234,5"; debit positive, credit negative)
// converted to cents exactly, and optional dimensions. The currency is EUR.
// INVALID_ARGUMENT for a malformed line, amount or dimension, or a dimension key given twice.
absl::StatusOr<tahe::ledger::v1::EntryLine> ParseEntryLine(absl::string_view text);

// A deadline length: a Go-style duration ("10s", "500ms", "1m30s") or a plain number of seconds
// ("10", "2.5"). INVALID_ARGUMENT unless it is positive.
absl::StatusOr<absl::Duration> ParseTimeout(absl::string_view text);

// Euros with at most two decimals ("3500.00", "3500,5", "7") as cents, exactly; no sign, no
// whitespace, no thousands separators. INVALID_ARGUMENT naming `setting` otherwise; the message
// quotes `text` only when `echo` is true (a field of a personal-data file may not be repeated).
absl::StatusOr<int64_t> ParseEurosNonNegative(absl::string_view setting, absl::string_view text,
                                              bool echo = true);

// A non-negative quantity with at most two decimals ("7.5" hours) in hundredths (750), exactly.
absl::StatusOr<int64_t> ParseHundredths(absl::string_view setting, absl::string_view text,
                                        bool echo = true);

// A non-negative quantity with at most three decimals ("2.5" hours, "1,25") in thousandths
// (2500, 1250), exactly, up to 10^12 units.
absl::StatusOr<int64_t> ParseThousandths(absl::string_view setting, absl::string_view text,
                                         bool echo = true);

// Thousandths as a number without trailing zeros: 2500 -> "2.5", 1000 -> "1", 1 -> "0.001".
std::string FormatThousandths(int64_t thousandths);

// A percentage between 0 and 100 with at most four decimals ("1.5", "20,5", "7.15%") in parts
// per million (15000, 205000, 71500), exactly.
absl::StatusOr<int64_t> ParsePercentPpm(absl::string_view setting, absl::string_view text,
                                        bool echo = true);

// ppm as a percentage without trailing zeros: 15000 -> "1.5%", 205000 -> "20.5%", 0 -> "0%".
std::string FormatPpmPercent(int64_t ppm);

// A tenant slug as the gateway and services use it: [a-z0-9] then [a-z0-9-]{0,62}.
bool IsValidTenantSlug(absl::string_view slug);

// "lahti,phhyky" -> {"lahti", "phhyky"}: non-empty, valid slugs, no duplicates.
absl::StatusOr<std::vector<std::string>> ParseTenantList(absl::string_view text);

}  // namespace tahe::tahectl
