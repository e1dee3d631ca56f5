// Tests of the VAT categories and the rate table by delivery date (finnish-rules.md §6): every
// category in every period, the day before and the day of each change, a date before the table,
// and category names, codes and notes. Rates are in hundredths of a percent (25.5 % = 2550).

#include "services/invoicing/vat_rates.h"

#include <catch2/catch.hpp>
#include <string>

namespace tahe::invoicing {
namespace {

int32_t RateOn(VatCategory category, absl::CivilDay day) {
  absl::StatusOr<VatRate> rate = VatRateFor(category, day);
  INFO(rate.status().ToString());
  REQUIRE(rate.ok());
  CHECK(rate->category == category);
  return rate->hundredths_of_percent;
}

struct Expected {
  absl::CivilDay day;
  int32_t general, reduced, lowest;
};

TEST_CASE("every category in every period of the VAT table", "[vat]") {
  const Expected kExpected[] = {
      {absl::CivilDay(2013, 1, 1), 2400, 1400, 1000},   // first day of the table
      {absl::CivilDay(2019, 6, 15), 2400, 1400, 1000},  // mid-period
      {absl::CivilDay(2024, 9, 1), 2550, 1400, 1000},   // general 24 % -> 25.5 %
      {absl::CivilDay(2024, 11, 30), 2550, 1400, 1000},
      {absl::CivilDay(2025, 1, 1), 2550, 1400, 1000},  // categories redrawn, rates unchanged
      {absl::CivilDay(2025, 7, 1), 2550, 1400, 1000},
      {absl::CivilDay(2026, 1, 1), 2550, 1350, 1000},    // reduced 14 % -> 13.5 %
      {absl::CivilDay(2030, 12, 31), 2550, 1350, 1000},  // the last period stays in force
  };
  for (const Expected& expected : kExpected) {
    INFO(absl::FormatCivilTime(expected.day));
    CHECK(RateOn(VatCategory::kGeneral, expected.day) == expected.general);
    CHECK(RateOn(VatCategory::kReduced, expected.day) == expected.reduced);
    CHECK(RateOn(VatCategory::kLowest, expected.day) == expected.lowest);
    CHECK(RateOn(VatCategory::kExempt, expected.day) == 0);
    CHECK(RateOn(VatCategory::kReverseCharge, expected.day) == 0);
  }
}

TEST_CASE("the day before and the day of each VAT change", "[vat]") {
  // 2013-01-01: the table starts; a day earlier has no rate.
  CHECK(RateOn(VatCategory::kGeneral, absl::CivilDay(2013, 1, 1)) == 2400);
  // 2024-09-01: general 24 % -> 25.5 %; reduced and lowest unchanged.
  CHECK(RateOn(VatCategory::kGeneral, absl::CivilDay(2024, 8, 31)) == 2400);
  CHECK(RateOn(VatCategory::kGeneral, absl::CivilDay(2024, 9, 1)) == 2550);
  CHECK(RateOn(VatCategory::kReduced, absl::CivilDay(2024, 8, 31)) == 1400);
  CHECK(RateOn(VatCategory::kReduced, absl::CivilDay(2024, 9, 1)) == 1400);
  // 2025-01-01: the categories change, the rates of each category do not.
  CHECK(RateOn(VatCategory::kGeneral, absl::CivilDay(2024, 12, 31)) == 2550);
  CHECK(RateOn(VatCategory::kReduced, absl::CivilDay(2024, 12, 31)) == 1400);
  CHECK(RateOn(VatCategory::kLowest, absl::CivilDay(2024, 12, 31)) == 1000);
  CHECK(RateOn(VatCategory::kGeneral, absl::CivilDay(2025, 1, 1)) == 2550);
  CHECK(RateOn(VatCategory::kReduced, absl::CivilDay(2025, 1, 1)) == 1400);
  CHECK(RateOn(VatCategory::kLowest, absl::CivilDay(2025, 1, 1)) == 1000);
  // 2026-01-01: reduced 14 % -> 13.5 %.
  CHECK(RateOn(VatCategory::kReduced, absl::CivilDay(2025, 12, 31)) == 1400);
  CHECK(RateOn(VatCategory::kReduced, absl::CivilDay(2026, 1, 1)) == 1350);
  CHECK(RateOn(VatCategory::kGeneral, absl::CivilDay(2025, 12, 31)) == 2550);
  CHECK(RateOn(VatCategory::kGeneral, absl::CivilDay(2026, 1, 1)) == 2550);
  CHECK(RateOn(VatCategory::kLowest, absl::CivilDay(2026, 1, 1)) == 1000);
}

TEST_CASE("a delivery date before the VAT table is an error naming the field", "[vat]") {
  for (VatCategory category : AllVatCategories()) {
    absl::StatusOr<VatRate> rate = VatRateFor(category, absl::CivilDay(2012, 12, 31));
    REQUIRE_FALSE(rate.ok());
    CHECK(rate.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(rate.status().message() ==
          "delivery_date: no VAT rates before 2013-01-01, got 2012-12-31");
  }
  absl::StatusOr<VatRate> named =
      VatRateForField("lines[3].delivery_date", VatCategory::kGeneral, absl::CivilDay(1999, 1, 1),
                      BuiltInVatRatePeriods());
  CHECK(named.status().message() ==
        "lines[3].delivery_date: no VAT rates before 2013-01-01, got 1999-01-01");
  CHECK(VatRateFor(VatCategory::kGeneral, absl::CivilDay(2025, 1, 1), {}).status().message() ==
        "delivery_date: no VAT rate table");
}

TEST_CASE("an operator's table: a later entry with the same start replaces the earlier", "[vat]") {
  const VatRatePeriod kTable[] = {
      {absl::CivilDay(2027, 1, 1), 2550, 1350, 1000},
      {absl::CivilDay(2013, 1, 1), 2400, 1400, 1000},  // out of order on purpose
      {absl::CivilDay(2027, 1, 1), 2600, 1350, 900},   // the correction
  };
  CHECK(VatRateFor(VatCategory::kGeneral, absl::CivilDay(2026, 12, 31), kTable)
            ->hundredths_of_percent == 2400);
  CHECK(VatRateFor(VatCategory::kGeneral, absl::CivilDay(2027, 1, 1), kTable)
            ->hundredths_of_percent == 2600);
  CHECK(
      VatRateFor(VatCategory::kLowest, absl::CivilDay(2027, 1, 1), kTable)->hundredths_of_percent ==
      900);
  CHECK(VatRateFor(VatCategory::kGeneral, absl::CivilDay(2012, 1, 1), kTable).status().message() ==
        "delivery_date: no VAT rates before 2013-01-01, got 2012-01-01");
}

TEST_CASE("VAT category names round-trip and unknown names are refused", "[vat]") {
  const std::pair<VatCategory, const char*> kNames[] = {
      {VatCategory::kGeneral, "general"},
      {VatCategory::kReduced, "reduced"},
      {VatCategory::kLowest, "lowest"},
      {VatCategory::kExempt, "exempt"},
      {VatCategory::kReverseCharge, "reverse_charge"},
  };
  REQUIRE(AllVatCategories().size() == 5);
  for (const auto& [category, name] : kNames) {
    CHECK(VatCategoryName(category) == name);
    CHECK(ParseVatCategory("product.vat_category", name).value() == category);
  }
  for (const char* bad : {"standard", "General", "reverse-charge", "", " general"}) {
    absl::StatusOr<VatCategory> parsed = ParseVatCategory("product.vat_category", bad);
    INFO(bad);
    REQUIRE_FALSE(parsed.ok());
    CHECK(parsed.status().code() == absl::StatusCode::kInvalidArgument);
  }
  CHECK(ParseVatCategory("product.vat_category", "standard").status().message() ==
        "product.vat_category: unknown VAT category \"standard\" (general, reduced, lowest, "
        "exempt, reverse_charge)");
  // Hostile input is cut to 32 characters in the message.
  std::string long_name(1000, 'x');
  CHECK(ParseVatCategory("c", long_name).status().message().size() < 150);
}

TEST_CASE("category codes, the reverse-charge flag and note", "[vat]") {
  CHECK(VatCategoryCode(VatCategory::kGeneral) == "S");
  CHECK(VatCategoryCode(VatCategory::kReduced) == "S");
  CHECK(VatCategoryCode(VatCategory::kLowest) == "S");
  CHECK(VatCategoryCode(VatCategory::kExempt) == "E");
  CHECK(VatCategoryCode(VatCategory::kReverseCharge) == "AE");
  CHECK(IsReverseCharge(VatCategory::kReverseCharge));
  CHECK_FALSE(IsReverseCharge(VatCategory::kExempt));
  CHECK_FALSE(IsReverseCharge(VatCategory::kGeneral));
  CHECK(VatNoteFi(VatCategory::kReverseCharge) == "Käännetty verovelvollisuus");
  CHECK(VatNoteFi(VatCategory::kGeneral).empty());
  CHECK(VatNoteFi(VatCategory::kExempt).empty());
}

TEST_CASE("a VAT rate as an exact libs/money rate", "[vat]") {
  VatRate general{VatCategory::kGeneral, 2550};
  CHECK(general.AsRate() == money::Rate::ParsePercent("25.5").value());
  CHECK(general.AsRate().ToString() == "25.5%");
  CHECK(VatRate{VatCategory::kReduced, 1350}.AsRate().ToString() == "13.5%");
  CHECK(VatRate{VatCategory::kExempt, 0}.AsRate().ToString() == "0%");
  // 10 000.00 x 25.5 % = 2 550.00 through libs/money.
  CHECK(
      money::MultiplyByRate(money::Money::FromMinor(1'000'000), general.AsRate())->minor_units() ==
      255'000);
}

}  // namespace
}  // namespace tahe::invoicing
