#pragma once

// Statutory payroll rates as versioned data: one RateTable per set of rates with the date from
// which it applies, the Finnish 2025 and 2026 tables built in, and a small text format so that an
// operator can load next year's table without a code change. Free of gRPC and SQL.
//
//   ASSIGN_OR_RETURN(RateTable table, ParseRateTable(text_from_operator));
//   std::vector<RateTable> tables = BuiltInRateTables();
//   tables.push_back(table);
//   ASSIGN_OR_RETURN(const RateTable* in_force, SelectRateTable(tables, payment_date));
//   int64_t pension_cents = in_force->employee_pension[0].rate.ApplyTo(base_cents);
//
// Text format (what FormatRateTable writes and ParseRateTable reads): one `key = value` a line,
// blank lines and lines starting with '#' ignored, every key at most once, unknown keys refused
// (a typo must not silently drop a rate). Percentages are written with or without '%' and with at
// most four decimals; amounts in euros with at most two decimals. Age-banded rates are written
// once per band with the inclusive age range in brackets:
//
//   version = fi-2025
//   valid_from = 2025-01-01
//   no_tax_card_withholding = 60%
//   employee_pension[17-52] = 7.15%
//   employee_pension[53-62] = 8.65%
//   employee_pension[63-67] = 7.15%
//   employee_unemployment[18-64] = 0.59%
//   employer_unemployment_lower = 0.2%
//   employer_unemployment_upper = 0.8%
//   employer_unemployment_threshold = 2251500.00
//   employer_health_insurance = 1.87%
//   tyel_total = 24.85%
//   keva_total = 24.4%
//   employee_health_medical_care = 1.06%
//   employee_health_daily_allowance = 0.84%
//   employee_health_daily_allowance_threshold = 16862.00
//   provisional = employer_unemployment_upper, employer_unemployment_threshold, keva_total
//
// `provisional` lists the fields whose figures could not be confirmed (finnish-rules.md marks
// them unverified). A payslip that uses one of them says so (Payslip::provisional_fields).
//
// Why rates are parts per million: every published Finnish payroll rate has at most two or three
// decimals of a percent, so ppm (four decimals of a percent) holds each one exactly, rates can be
// subtracted exactly (employer pension share = total - employee share), and base_cents * ppm fits
// comfortably in 128 bits.

#include <compare>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/types/span.h"

namespace tahe::payroll {

// A percentage between 0 % and 100 %, held exactly in parts per million of the base
// (7.15 % = 71 500 ppm).
class Percentage {
 public:
  static constexpr int64_t kPpmPerPercent = 10'000;
  static constexpr int64_t kMaxPpm = 100 * kPpmPerPercent;

  // 0 %.
  constexpr Percentage() = default;

  // REQUIRES: 0 <= ppm <= kMaxPpm; a violation aborts the process (a bug, not bad input).
  static Percentage FromPpm(int64_t ppm);

  // "7.15", "7,15", "7.15%", "60": at most four decimals, between 0 and 100 inclusive.
  // INVALID_ARGUMENT otherwise.
  static absl::StatusOr<Percentage> Parse(absl::string_view text);

  int64_t ppm() const { return ppm_; }

  // "7.15%", "60%", "0%": no trailing zeros. Parse(p.ToString()) == p.
  std::string ToString() const;

  // base_cents * rate, rounded half away from zero to whole cents (finnish-rules.md §7 policy).
  // Never overflows: |result| <= |base_cents| because the rate is at most 100 %.
  int64_t ApplyTo(int64_t base_cents) const;

  friend auto operator<=>(const Percentage&, const Percentage&) = default;

 private:
  explicit constexpr Percentage(int64_t ppm) : ppm_(ppm) {}

  int64_t ppm_ = 0;
};

// One age band of an age-dependent rate. Ages are inclusive and are contribution ages
// (see ContributionAge in payroll_domain.h), not ages on the payment date.
struct AgeBandRate {
  int min_age = 0;
  int max_age = 0;
  Percentage rate;

  friend bool operator==(const AgeBandRate&, const AgeBandRate&) = default;
};

// The statutory rates in force from `valid_from` until the next table's valid_from.
struct RateTable {
  // Names this table on every payslip line that used it: 1-64 characters of [A-Za-z0-9._-].
  std::string version;
  absl::CivilDay valid_from;

  // Withholding when the employee has given no tax card.
  Percentage no_tax_card_withholding;

  // Employee contributions, withheld from pay; no band covering an age = no contribution.
  // Bands never overlap; kept sorted by min_age.
  std::vector<AgeBandRate> employee_pension;
  std::vector<AgeBandRate> employee_unemployment;

  // Employer unemployment insurance: the organisation's tier (an organisation setting) picks the
  // rate; the threshold is the annual payroll above which the upper tier applies, kept for the
  // operator deciding the tier.
  Percentage employer_unemployment_lower;
  Percentage employer_unemployment_upper;
  int64_t employer_unemployment_threshold_cents = 0;

  Percentage employer_health_insurance;

  // Default pension contribution totals including the employee share; the employer's share is
  // the total minus the employee's pension rate. An organisation may set its own total.
  Percentage tyel_total;
  Percentage keva_total;

  // The employee's health insurance contributions are part of the withholding percentage: shown
  // on the payslip for information, never withheld separately.
  Percentage employee_health_medical_care;
  Percentage employee_health_daily_allowance;
  int64_t employee_health_daily_allowance_threshold_cents = 0;

  // Names of fields (as in the text format, without an age range) whose figures are unverified.
  std::set<std::string> provisional_fields;

  friend bool operator==(const RateTable&, const RateTable&) = default;
};

// The names of the rate fields (everything but version, valid_from and provisional), in the order
// FormatRateTable writes them. These are the names `provisional` may list.
const std::vector<std::string>& RateTableFieldNames();

// Parses the text format above. Every error is INVALID_ARGUMENT naming the field (and the line),
// e.g. "employee_pension[53-62]: line 6: invalid percentage \"8,655,\"". Beyond syntax it checks:
// every field present, percentages within 0-100 %, amounts >= 0, age ranges 0-150 with
// min <= max and no overlap within a field, both pension totals at least every employee pension
// rate (an employer share cannot be negative), and provisional names being known fields.
absl::StatusOr<RateTable> ParseRateTable(absl::string_view text);

// The text format of `table`; ParseRateTable(FormatRateTable(t)) == t for every valid t.
std::string FormatRateTable(const RateTable& table);

// The tables shipped with the code: "fi-2025" from 2025-01-01 and "fi-2026" from 2026-01-01,
// with the figures of finnish-rules.md §7 and the unverified ones flagged provisional.
std::vector<RateTable> BuiltInRateTables();

// The table in force on `date`: the latest valid_from <= date. Among tables with the same
// valid_from the last one in `tables` wins, so a corrected table loaded later replaces the
// earlier one. FAILED_PRECONDITION if no table starts on or before `date`.
// The pointer points into `tables`.
absl::StatusOr<const RateTable*> SelectRateTable(absl::Span<const RateTable> tables,
                                                 absl::CivilDay date);

// "YYYY-MM-DD" (a real calendar date, years 1900-2999) -> civil day; INVALID_ARGUMENT naming
// `field` otherwise.
absl::StatusOr<absl::CivilDay> ParseDate(absl::string_view field, absl::string_view text);
std::string FormatDate(absl::CivilDay day);
// "YYYY-MM" -> civil month; INVALID_ARGUMENT naming `field` otherwise.
absl::StatusOr<absl::CivilMonth> ParsePeriod(absl::string_view field, absl::string_view text);
std::string FormatPeriod(absl::CivilMonth month);

// Cents as euros with two decimals: 123456 -> "1234.56", -5 -> "-0.05".
std::string FormatCents(int64_t cents);

}  // namespace tahe::payroll
