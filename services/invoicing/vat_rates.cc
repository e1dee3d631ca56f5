#include "services/invoicing/vat_rates.h"

#include "absl/strings/str_cat.h"
#include "libs/status/status.h"

namespace tahe::invoicing {
namespace {

constexpr int32_t kHundredthsPerUnit = 10'000;  // 100 % in hundredths of a percent

struct CategoryNames {
  VatCategory category;
  absl::string_view name;
  absl::string_view code;
};

constexpr CategoryNames kCategoryNames[] = {
    {VatCategory::kGeneral, "general", "S"},
    {VatCategory::kReduced, "reduced", "S"},
    {VatCategory::kLowest, "lowest", "S"},
    {VatCategory::kExempt, "exempt", "E"},
    {VatCategory::kReverseCharge, "reverse_charge", "AE"},
};

constexpr VatCategory kAllCategories[] = {VatCategory::kGeneral, VatCategory::kReduced,
                                          VatCategory::kLowest, VatCategory::kExempt,
                                          VatCategory::kReverseCharge};

const CategoryNames& NamesOf(VatCategory category) {
  for (const CategoryNames& names : kCategoryNames) {
    if (names.category == category) {
      return names;
    }
  }
  return kCategoryNames[0];  // Unreachable: every enumerator is in the table.
}

int32_t RateOf(const VatRatePeriod& period, VatCategory category) {
  switch (category) {
    case VatCategory::kGeneral:
      return period.general;
    case VatCategory::kReduced:
      return period.reduced;
    case VatCategory::kLowest:
      return period.lowest;
    case VatCategory::kExempt:
    case VatCategory::kReverseCharge:
      return 0;
  }
  return 0;
}

}  // namespace

absl::string_view VatCategoryName(VatCategory category) { return NamesOf(category).name; }

absl::StatusOr<VatCategory> ParseVatCategory(absl::string_view field, absl::string_view name) {
  for (const CategoryNames& names : kCategoryNames) {
    if (names.name == name) {
      return names.category;
    }
  }
  // The name is shown truncated: it is caller input and must not flood a log.
  return InvalidField(field, absl::StrCat("unknown VAT category \"", name.substr(0, 32),
                                          "\" (general, reduced, lowest, exempt, "
                                          "reverse_charge)"));
}

absl::Span<const VatCategory> AllVatCategories() { return kAllCategories; }

absl::string_view VatCategoryCode(VatCategory category) { return NamesOf(category).code; }

bool IsReverseCharge(VatCategory category) { return category == VatCategory::kReverseCharge; }

absl::string_view VatNoteFi(VatCategory category) {
  return IsReverseCharge(category) ? "Käännetty verovelvollisuus" : "";
}

money::Rate VatRate::AsRate() const {
  // The denominator is positive, so FromFraction cannot fail.
  return *money::Rate::FromFraction(hundredths_of_percent, kHundredthsPerUnit);
}

absl::Span<const VatRatePeriod> BuiltInVatRatePeriods() {
  static constexpr VatRatePeriod kPeriods[] = {
      {absl::CivilDay(2013, 1, 1), 2400, 1400, 1000},
      {absl::CivilDay(2024, 9, 1), 2550, 1400, 1000},
      {absl::CivilDay(2025, 1, 1), 2550, 1400, 1000},
      {absl::CivilDay(2026, 1, 1), 2550, 1350, 1000},
  };
  return kPeriods;
}

absl::StatusOr<VatRate> VatRateForField(absl::string_view field, VatCategory category,
                                        absl::CivilDay delivery_date,
                                        absl::Span<const VatRatePeriod> periods) {
  // The latest start on or before the date; on equal starts the later entry wins.
  const VatRatePeriod* in_force = nullptr;
  const VatRatePeriod* earliest = nullptr;
  for (const VatRatePeriod& period : periods) {
    if (period.valid_from <= delivery_date &&
        (in_force == nullptr || period.valid_from >= in_force->valid_from)) {
      in_force = &period;
    }
    if (earliest == nullptr || period.valid_from < earliest->valid_from) {
      earliest = &period;
    }
  }
  if (in_force == nullptr) {
    if (earliest == nullptr) {
      return InvalidField(field, "no VAT rate table");
    }
    return InvalidField(
        field, absl::StrCat("no VAT rates before ", absl::FormatCivilTime(earliest->valid_from),
                            ", got ", absl::FormatCivilTime(delivery_date)));
  }
  return VatRate{category, RateOf(*in_force, category)};
}

absl::StatusOr<VatRate> VatRateFor(VatCategory category, absl::CivilDay delivery_date,
                                   absl::Span<const VatRatePeriod> periods) {
  return VatRateForField("delivery_date", category, delivery_date, periods);
}

absl::StatusOr<VatRate> VatRateFor(VatCategory category, absl::CivilDay delivery_date) {
  return VatRateFor(category, delivery_date, BuiltInVatRatePeriods());
}

}  // namespace tahe::invoicing
