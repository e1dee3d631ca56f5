#pragma once

// Finnish VAT categories and the rate table by delivery date (finnish-rules.md §6), free of gRPC
// and SQL. A product carries a category; the rate comes from the table for the line's delivery
// or completion date, never from the invoice date and never from a constant in code.
//
//   ASSIGN_OR_RETURN(VatCategory category, ParseVatCategory("product.vat_category", "general"));
//   ASSIGN_OR_RETURN(VatRate rate, VatRateFor(category, absl::CivilDay(2024, 9, 1)));
//   // rate.hundredths_of_percent == 2550 (25.5 %); rate.AsRate().ToString() == "25.5%"
//
// Which goods fall in which category changed on 2025-01-01 (books, medicines, transport,
// accommodation, culture and sport moved from the lowest to the reduced rate) and 2026-01-01
// (public broadcasting moved to the reduced rate). That is product data: the table below maps a
// category to its rate on a date, and the operator re-categorises products when the law moves
// them.

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/types/span.h"
#include "libs/money/money.h"

namespace tahe::invoicing {

enum class VatCategory {
  kGeneral,        // yleinen verokanta: 24 %, 25.5 % from 2024-09-01
  kReduced,        // 14 %, 13.5 % from 2026-01-01 (food, restaurants, ...)
  kLowest,         // 10 % (newspapers, magazines, ...)
  kExempt,         // 0 %: exempt supplies such as most social and health services
  kReverseCharge,  // 0 % on the invoice: the buyer accounts for the VAT
};

// "general", "reduced", "lowest", "exempt", "reverse_charge".
absl::string_view VatCategoryName(VatCategory category);
// The inverse of VatCategoryName (exact, lower case); INVALID_ARGUMENT naming `field` otherwise.
absl::StatusOr<VatCategory> ParseVatCategory(absl::string_view field, absl::string_view name);
// Every category, in declaration order.
absl::Span<const VatCategory> AllVatCategories();

// The VAT category code of UN/CEFACT 5305 used by Finvoice and EN 16931: "S" (standard rated:
// general, reduced and lowest), "E" (exempt), "AE" (reverse charge).
absl::string_view VatCategoryCode(VatCategory category);
// True only for kReverseCharge: the invoice must then say so.
bool IsReverseCharge(VatCategory category);
// The note an invoice must print for the category, in Finnish: "Käännetty verovelvollisuus" for
// reverse charge, empty for the others.
absl::string_view VatNoteFi(VatCategory category);

// A VAT rate as applied to one line: the category and its percentage in hundredths of a percent
// (25.5 % = 2550), which holds every Finnish rate exactly and orders and groups trivially.
struct VatRate {
  VatCategory category = VatCategory::kGeneral;
  int32_t hundredths_of_percent = 0;

  // The same rate as an exact fraction for libs/money: 2550 -> 2550/10000.
  money::Rate AsRate() const;

  friend bool operator==(const VatRate&, const VatRate&) = default;
};

// The rates in force from `valid_from` until the next period's valid_from. Exempt and reverse
// charge are always 0 %.
struct VatRatePeriod {
  absl::CivilDay valid_from;
  int32_t general = 0;  // hundredths of a percent
  int32_t reduced = 0;
  int32_t lowest = 0;
};

// The Finnish table of finnish-rules.md §6, sorted by valid_from:
//   2013-01-01  24 %    14 %    10 %
//   2024-09-01  25.5 %  14 %    10 %
//   2025-01-01  25.5 %  14 %    10 %   (the reduced and lowest categories were redrawn)
//   2026-01-01  25.5 %  13.5 %  10 %
absl::Span<const VatRatePeriod> BuiltInVatRatePeriods();

// The rate of `category` for goods delivered or services completed on `delivery_date`, from the
// period of `periods` with the latest valid_from on or before it (of two with the same start, the
// later one in `periods` wins, so a corrected table appended later replaces the earlier one). A
// date before every period is INVALID_ARGUMENT naming the field "delivery_date".
absl::StatusOr<VatRate> VatRateFor(VatCategory category, absl::CivilDay delivery_date,
                                   absl::Span<const VatRatePeriod> periods);
absl::StatusOr<VatRate> VatRateFor(VatCategory category, absl::CivilDay delivery_date);

// Like VatRateFor, naming `field` (e.g. "lines[2].delivery_date") in the error instead.
absl::StatusOr<VatRate> VatRateForField(absl::string_view field, VatCategory category,
                                        absl::CivilDay delivery_date,
                                        absl::Span<const VatRatePeriod> periods);

}  // namespace tahe::invoicing
