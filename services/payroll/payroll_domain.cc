#include "services/payroll/payroll_domain.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <map>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "libs/money/money.h"
#include "libs/status/status.h"

namespace tahe::payroll {
namespace {

// Bounds of year-to-date figures; with kMaxAmountCents per item they keep every sum in int64.
constexpr int64_t kMaxYearToDateCents = 1'000'000'000'000'000;  // 10 000 000 000 000.00 €

[[noreturn]] void DieOnContractViolation(const char* what) {
  std::fprintf(stderr, "tahe::payroll contract violation: %s\n", what);
  std::abort();
}

struct KindInfo {
  PayItemKind kind;
  const char* name;
  PayItemGroup group;
  const char* label;
};

const std::vector<KindInfo>& KindInfos() {
  static const auto* infos = new std::vector<KindInfo>{
      {PayItemKind::kMonthlySalary, "MONTHLY_SALARY", PayItemGroup::kCashPay, "Monthly salary"},
      {PayItemKind::kHourlyPay, "HOURLY_PAY", PayItemGroup::kCashPay, "Hourly pay"},
      {PayItemKind::kEveningSupplement, "EVENING_SUPPLEMENT", PayItemGroup::kCashPay,
       "Evening supplement"},
      {PayItemKind::kNightSupplement, "NIGHT_SUPPLEMENT", PayItemGroup::kCashPay,
       "Night supplement"},
      {PayItemKind::kSundaySupplement, "SUNDAY_SUPPLEMENT", PayItemGroup::kCashPay,
       "Sunday supplement"},
      {PayItemKind::kOvertime50, "OVERTIME_50", PayItemGroup::kCashPay, "Overtime 50%"},
      {PayItemKind::kOvertime100, "OVERTIME_100", PayItemGroup::kCashPay, "Overtime 100%"},
      {PayItemKind::kMealBenefit, "MEAL_BENEFIT", PayItemGroup::kBenefitInKind,
       "Meal benefit (taxable, not paid in cash)"},
      {PayItemKind::kPhoneBenefit, "PHONE_BENEFIT", PayItemGroup::kBenefitInKind,
       "Phone benefit (taxable, not paid in cash)"},
      {PayItemKind::kMileageAllowance, "MILEAGE_ALLOWANCE", PayItemGroup::kReimbursement,
       "Mileage allowance (tax-free)"},
      {PayItemKind::kPerDiem, "PER_DIEM", PayItemGroup::kReimbursement, "Per diem (tax-free)"},
      {PayItemKind::kDeduction, "DEDUCTION", PayItemGroup::kDeduction, "Deduction"},
  };
  return *infos;
}

const KindInfo& InfoOf(PayItemKind kind) {
  for (const KindInfo& info : KindInfos()) {
    if (info.kind == kind) {
      return info;
    }
  }
  DieOnContractViolation("unknown PayItemKind");
}

// Overtime pays quantity x hourly rate x this percentage; every other item 100 %.
int64_t MultiplierPercent(PayItemKind kind) {
  switch (kind) {
    case PayItemKind::kOvertime50:
      return 150;
    case PayItemKind::kOvertime100:
      return 200;
    default:
      return 100;
  }
}

bool RequiresQuantity(PayItemKind kind) {
  return kind == PayItemKind::kHourlyPay || kind == PayItemKind::kOvertime50 ||
         kind == PayItemKind::kOvertime100;
}

bool IsCleanText(absl::string_view text) {
  return std::none_of(text.begin(), text.end(),
                      [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

absl::Status ValidateItem(const PayItem& item, absl::string_view field) {
  bool correction = item.corrects_period.has_value();
  if (item.description.size() > kMaxDescriptionLength || !IsCleanText(item.description)) {
    return InvalidField(
        absl::StrCat(field, ".description"),
        absl::StrCat("at most ", kMaxDescriptionLength, " characters without control characters"));
  }
  if (item.amount_cents.has_value()) {
    if (RequiresQuantity(item.kind)) {
      return InvalidField(absl::StrCat(field, ".amount_cents"),
                          absl::StrCat(PayItemKindName(item.kind),
                                       " is paid as quantity x hourly rate, not a fixed amount"));
    }
    if (item.quantity_hundredths != 0 || item.unit_rate_cents != 0) {
      return InvalidField(absl::StrCat(field, ".amount_cents"),
                          "give either a fixed amount or quantity x unit rate, not both");
    }
    int64_t amount = *item.amount_cents;
    if (amount == 0 || amount > kMaxAmountCents || amount < -kMaxAmountCents ||
        (amount < 0 && !correction)) {
      return InvalidField(absl::StrCat(field, ".amount_cents"),
                          absl::StrCat("must be between 0.01 and ", FormatCents(kMaxAmountCents),
                                       correction ? " in absolute value" : ""));
    }
    return absl::OkStatus();
  }
  int64_t quantity = item.quantity_hundredths;
  if (quantity == 0 || quantity > kMaxQuantityHundredths || quantity < -kMaxQuantityHundredths ||
      (quantity < 0 && !correction)) {
    return InvalidField(
        absl::StrCat(field, ".quantity_hundredths"),
        absl::StrCat("must be between 1 and ", kMaxQuantityHundredths,
                     correction ? " in absolute value" : "", " (or give a fixed amount_cents)"));
  }
  if (item.unit_rate_cents <= 0 || item.unit_rate_cents > kMaxUnitRateCents) {
    return InvalidField(absl::StrCat(field, ".unit_rate_cents"),
                        absl::StrCat("must be between 1 and ", kMaxUnitRateCents));
  }
  return absl::OkStatus();
}

absl::Status ValidateItems(absl::Span<const PayItem> items, absl::string_view field) {
  if (items.size() > static_cast<size_t>(kMaxItems)) {
    return InvalidField(field, absl::StrCat("at most ", kMaxItems, " items"));
  }
  for (size_t i = 0; i < items.size(); ++i) {
    RETURN_IF_ERROR(ValidateItem(items[i], absl::StrCat(field, "[", i, "]")));
  }
  return absl::OkStatus();
}

const AgeBandRate* BandFor(const std::vector<AgeBandRate>& bands, int age) {
  for (const AgeBandRate& band : bands) {
    if (band.min_age <= age && age <= band.max_age) {
      return &band;
    }
  }
  return nullptr;
}

std::string BandSource(absl::string_view field, const AgeBandRate& band) {
  return absl::StrCat(field, "[", band.min_age, "-", band.max_age, "]");
}

absl::string_view SchemeName(PensionScheme scheme) {
  return scheme == PensionScheme::kKeva ? "Keva" : "TyEL";
}

std::string CorrectionSuffix(const std::optional<absl::CivilMonth>& period) {
  return period.has_value() ? absl::StrCat(" (correction for ", FormatPeriod(*period), ")") : "";
}

// Builds the computed lines of one payslip and keeps track of provisional fields.
class SlipBuilder {
 public:
  SlipBuilder(const RateTable& table, Payslip* slip) : table_(table), slip_(slip) {}

  // A line of `amount = base x rate` whose rate comes from the table fields `table_fields` (and
  // possibly elsewhere, named in `source`). Nothing is added for a zero base.
  int64_t AddRateLine(absl::string_view code, LineGroup group, std::string description,
                      int64_t base_cents, Percentage rate, std::string source,
                      std::initializer_list<absl::string_view> table_fields) {
    if (base_cents == 0) {
      return 0;
    }
    PayslipLine line;
    line.code = std::string(code);
    line.group = group;
    line.description = std::move(description);
    line.base_cents = base_cents;
    line.rate = rate;
    line.amount_cents = rate.ApplyTo(base_cents);
    line.rate_source = std::move(source);
    for (absl::string_view field : table_fields) {
      line.rate_table_version = table_.version;
      if (table_.provisional_fields.contains(std::string(field))) {
        line.provisional = true;
        slip_->provisional_fields.insert(std::string(field));
      }
    }
    const int64_t amount = line.amount_cents;
    slip_->lines.push_back(std::move(line));
    return amount;
  }

 private:
  const RateTable& table_;
  Payslip* slip_;
};

}  // namespace

PayItemGroup GroupOf(PayItemKind kind) { return InfoOf(kind).group; }

absl::string_view PayItemKindName(PayItemKind kind) { return InfoOf(kind).name; }

absl::StatusOr<PayItemKind> ParsePayItemKind(absl::string_view field, absl::string_view name) {
  for (const KindInfo& info : KindInfos()) {
    if (name == info.name) {
      return info.kind;
    }
  }
  return InvalidField(field, absl::StrCat("unknown pay item kind \"", name, "\""));
}

const std::vector<PayItemKind>& AllPayItemKinds() {
  static const auto* kinds = [] {
    auto* result = new std::vector<PayItemKind>();
    for (const KindInfo& info : KindInfos()) {
      result->push_back(info.kind);
    }
    return result;
  }();
  return *kinds;
}

int64_t PayItemAmountCents(const PayItem& item) {
  if (item.amount_cents.has_value()) {
    return *item.amount_cents;
  }
  // quantity (1/100 unit) x rate (cents) x multiplier (%) / 100 / 100, rounded once.
  return money::RoundHalfAwayFromZero(static_cast<__int128>(item.quantity_hundredths) *
                                          item.unit_rate_cents * MultiplierPercent(item.kind),
                                      100 * 100);
}

std::optional<TaxCard> SelectTaxCard(absl::Span<const TaxCard> cards, absl::CivilDay payment_date) {
  const TaxCard* in_force = nullptr;
  for (const TaxCard& card : cards) {
    if (card.valid_from <= payment_date &&
        (in_force == nullptr || card.valid_from >= in_force->valid_from)) {
      in_force = &card;
    }
  }
  if (in_force == nullptr) {
    return std::nullopt;
  }
  return *in_force;
}

int AgeOn(absl::CivilDay birth_date, absl::CivilDay day) {
  if (day < birth_date) {
    DieOnContractViolation("AgeOn: day before birth date");
  }
  // The birthday in day's year; 29 February falls on 28 February in a common year (constructing
  // CivilDay(year, 2, 29) would normalise to 1 March, so it is built explicitly).
  absl::CivilDay birthday(day.year(), birth_date.month(), birth_date.day());
  if (birth_date.month() == 2 && birth_date.day() == 29 && birthday.month() != 2) {
    birthday = absl::CivilDay(day.year(), 2, 28);
  }
  int age = static_cast<int>(day.year() - birth_date.year());
  return day < birthday ? age - 1 : age;
}

int ContributionAge(absl::CivilDay birth_date, absl::CivilDay payment_date) {
  // The day before the first of the payment month: the last day of the previous month.
  absl::CivilDay last_day_of_previous_month = absl::CivilDay(absl::CivilMonth(payment_date)) - 1;
  return AgeOn(birth_date, last_day_of_previous_month);
}

absl::StatusOr<Payslip> CalculatePayslip(const PayslipInput& input,
                                         absl::Span<const RateTable> rate_tables) {
  // Validate everything before computing anything.
  RETURN_IF_ERROR(ValidateItems(input.items, "items"));
  absl::CivilMonth payment_month(input.payment_date);
  for (size_t i = 0; i < input.items.size(); ++i) {
    const std::optional<absl::CivilMonth>& period = input.items[i].corrects_period;
    if (period.has_value() && *period > payment_month) {
      return InvalidField(absl::StrCat("items[", i, "].corrects_period"),
                          absl::StrCat(FormatPeriod(*period), " is after the payment month ",
                                       FormatPeriod(payment_month)));
    }
  }
  if (input.employee.birth_date > absl::CivilDay(payment_month) - 1) {
    return InvalidField("employee.birth_date", absl::StrCat("must be before the payment month ",
                                                            FormatPeriod(payment_month)));
  }
  if (input.cumulative_taxable_pay_cents < 0 ||
      input.cumulative_taxable_pay_cents > kMaxYearToDateCents) {
    return InvalidField("cumulative_taxable_pay_cents",
                        absl::StrCat("must be between 0 and ", FormatCents(kMaxYearToDateCents)));
  }
  for (size_t i = 0; i < input.tax_cards.size(); ++i) {
    int64_t limit = input.tax_cards[i].income_limit_cents;
    if (limit < 0 || limit > kMaxYearToDateCents) {
      return InvalidField(absl::StrCat("tax_cards[", i, "].income_limit_cents"),
                          absl::StrCat("must be between 0 and ", FormatCents(kMaxYearToDateCents)));
    }
  }
  ASSIGN_OR_RETURN(const RateTable* table, SelectRateTable(rate_tables, input.payment_date));

  Payslip slip;
  slip.payment_date = input.payment_date;
  slip.rate_table_version = table->version;
  slip.contribution_age = ContributionAge(input.employee.birth_date, input.payment_date);
  slip.tax_card = SelectTaxCard(input.tax_cards, input.payment_date);
  PayslipTotals& totals = slip.totals;
  const int age = slip.contribution_age;

  const AgeBandRate* pension_band = BandFor(table->employee_pension, age);
  const AgeBandRate* unemployment_band = BandFor(table->employee_unemployment, age);

  // The organisation's pension total must leave a non-negative employer share.
  const bool keva = input.employee.pension_scheme == PensionScheme::kKeva;
  const std::optional<Percentage>& own_total =
      keva ? input.organisation.keva_total : input.organisation.tyel_total;
  if (own_total.has_value() && pension_band != nullptr && *own_total < pension_band->rate) {
    return InvalidField(keva ? "organisation.keva_total" : "organisation.tyel_total",
                        absl::StrCat(own_total->ToString(), " is below the employee pension rate ",
                                     pension_band->rate.ToString(), " of age ", age));
  }

  // Pay item lines.
  for (const PayItem& item : input.items) {
    const KindInfo& info = InfoOf(item.kind);
    PayslipLine line;
    line.code = info.name;
    line.description = absl::StrCat(item.description.empty() ? info.label : item.description,
                                    CorrectionSuffix(item.corrects_period));
    line.corrects_period = item.corrects_period;
    line.amount_cents = PayItemAmountCents(item);
    if (item.amount_cents.has_value()) {
      line.base_cents = *item.amount_cents;
    } else {
      line.quantity_hundredths = item.quantity_hundredths;
      line.unit_rate_cents = item.unit_rate_cents;
      line.base_cents = money::RoundHalfAwayFromZero(
          static_cast<__int128>(item.quantity_hundredths) * item.unit_rate_cents, 100);
      line.multiplier_percent = MultiplierPercent(item.kind);
    }
    line.rate_source = "pay item";
    switch (info.group) {
      case PayItemGroup::kCashPay:
        line.group = LineGroup::kCashPay;
        totals.gross_cash_pay_cents += line.amount_cents;
        break;
      case PayItemGroup::kBenefitInKind:
        line.group = LineGroup::kBenefitInKind;
        totals.benefits_in_kind_cents += line.amount_cents;
        break;
      case PayItemGroup::kReimbursement:
        line.group = LineGroup::kReimbursement;
        totals.reimbursements_cents += line.amount_cents;
        break;
      case PayItemGroup::kDeduction:
        line.group = LineGroup::kDeduction;
        totals.deductions_cents += line.amount_cents;
        break;
    }
    slip.lines.push_back(std::move(line));
  }
  totals.taxable_pay_cents = totals.gross_cash_pay_cents + totals.benefits_in_kind_cents;
  totals.cumulative_taxable_pay_after_cents =
      input.cumulative_taxable_pay_cents + totals.taxable_pay_cents;
  if (totals.cumulative_taxable_pay_after_cents < 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the employee's taxable pay for the year would become negative (",
        FormatCents(totals.cumulative_taxable_pay_after_cents),
        "): a negative correction larger than the year's pay cannot be paid in this run"));
  }
  const int64_t taxable = totals.taxable_pay_cents;
  SlipBuilder builder(*table, &slip);

  // Withholding.
  if (slip.tax_card.has_value()) {
    const TaxCard& card = *slip.tax_card;
    const int64_t before = input.cumulative_taxable_pay_cents;
    const int64_t after = totals.cumulative_taxable_pay_after_cents;
    // The part of [before, after] under the limit; signed, so a negative correction gives back
    // the part it removes from under the limit.
    const int64_t at_base_rate =
        std::min(after, card.income_limit_cents) - std::min(before, card.income_limit_cents);
    const int64_t at_additional_rate = taxable - at_base_rate;
    const std::string card_name = absl::StrCat("tax card valid from ", FormatDate(card.valid_from));
    totals.withholding_cents += builder.AddRateLine(
        "WITHHOLDING_BASE_RATE", LineGroup::kWithholding,
        absl::StrCat("Withholding at the base rate of the ", card_name,
                     " on taxable pay up to the income limit ",
                     FormatCents(card.income_limit_cents), " (taxable pay earlier this year ",
                     FormatCents(before), ")"),
        at_base_rate, card.base_rate, "tax_card.base_rate", {});
    totals.withholding_cents += builder.AddRateLine(
        "WITHHOLDING_ADDITIONAL_RATE", LineGroup::kWithholding,
        absl::StrCat("Withholding at the additional rate of the ", card_name,
                     " on taxable pay above the income limit ",
                     FormatCents(card.income_limit_cents)),
        at_additional_rate, card.additional_rate, "tax_card.additional_rate", {});
  } else {
    totals.withholding_cents += builder.AddRateLine(
        "WITHHOLDING_NO_TAX_CARD", LineGroup::kWithholding, "Withholding without a tax card",
        taxable, table->no_tax_card_withholding, "no_tax_card_withholding",
        {"no_tax_card_withholding"});
  }

  // Employee contributions.
  if (pension_band != nullptr) {
    totals.employee_pension_cents += builder.AddRateLine(
        "EMPLOYEE_PENSION", LineGroup::kEmployeeContribution,
        absl::StrCat("Employee pension contribution (", SchemeName(input.employee.pension_scheme),
                     "), contribution age ", age),
        taxable, pension_band->rate, BandSource("employee_pension", *pension_band),
        {"employee_pension"});
  }
  if (unemployment_band != nullptr) {
    totals.employee_unemployment_cents += builder.AddRateLine(
        "EMPLOYEE_UNEMPLOYMENT", LineGroup::kEmployeeContribution,
        absl::StrCat("Employee unemployment insurance contribution, contribution age ", age),
        taxable, unemployment_band->rate, BandSource("employee_unemployment", *unemployment_band),
        {"employee_unemployment"});
  }
  if (input.employee.union_fee_rate.has_value() && totals.gross_cash_pay_cents != 0) {
    PayslipLine line;
    line.code = "UNION_FEE";
    line.group = LineGroup::kEmployeeContribution;
    line.description = "Union membership fee on gross cash pay";
    line.base_cents = totals.gross_cash_pay_cents;
    line.rate = *input.employee.union_fee_rate;
    line.amount_cents = line.rate->ApplyTo(line.base_cents);
    line.rate_source = "employee.union_fee_rate";
    totals.union_fee_cents = line.amount_cents;
    slip.lines.push_back(std::move(line));
  }

  // Employee health insurance, for information only: it is part of the withholding percentage.
  builder.AddRateLine("EMPLOYEE_HEALTH_MEDICAL_CARE", LineGroup::kInformation,
                      "Employee health insurance, medical care contribution: included in the "
                      "withholding, not withheld separately",
                      taxable, table->employee_health_medical_care, "employee_health_medical_care",
                      {"employee_health_medical_care"});
  builder.AddRateLine(
      "EMPLOYEE_HEALTH_DAILY_ALLOWANCE", LineGroup::kInformation,
      absl::StrCat("Employee health insurance, daily allowance contribution: included in the "
                   "withholding, not withheld separately; due only when annual earnings reach ",
                   FormatCents(table->employee_health_daily_allowance_threshold_cents)),
      taxable, table->employee_health_daily_allowance, "employee_health_daily_allowance",
      {"employee_health_daily_allowance", "employee_health_daily_allowance_threshold"});

  // Employer contributions.
  if (pension_band != nullptr) {
    const char* table_total_field = keva ? "keva_total" : "tyel_total";
    Percentage total =
        own_total.has_value() ? *own_total : (keva ? table->keva_total : table->tyel_total);
    if (total < pension_band->rate) {
      // ParseRateTable refuses such a table; only one built in code can get here.
      return absl::FailedPreconditionError(absl::StrCat(
          "rate table ", table->version, ": ", table_total_field, " ", total.ToString(),
          " is below the employee pension rate ", pension_band->rate.ToString()));
    }
    Percentage employer_share = Percentage::FromPpm(total.ppm() - pension_band->rate.ppm());
    std::string total_source = own_total.has_value()
                                   ? absl::StrCat("organisation.", table_total_field)
                                   : std::string(table_total_field);
    std::string description = absl::StrCat(
        "Employer pension contribution (", SchemeName(input.employee.pension_scheme), "): total ",
        total.ToString(), own_total.has_value() ? " (organisation's own rate)" : " (average)",
        " - employee share ", pension_band->rate.ToString());
    std::string source =
        absl::StrCat(total_source, " - ", BandSource("employee_pension", *pension_band));
    if (own_total.has_value()) {
      totals.employer_pension_cents += builder.AddRateLine(
          "EMPLOYER_PENSION", LineGroup::kEmployerContribution, std::move(description), taxable,
          employer_share, std::move(source), {"employee_pension"});
    } else {
      totals.employer_pension_cents += builder.AddRateLine(
          "EMPLOYER_PENSION", LineGroup::kEmployerContribution, std::move(description), taxable,
          employer_share, std::move(source), {table_total_field, "employee_pension"});
    }
  }
  if (unemployment_band != nullptr) {
    const bool upper = input.organisation.unemployment_tier == UnemploymentTier::kUpper;
    const char* field = upper ? "employer_unemployment_upper" : "employer_unemployment_lower";
    totals.employer_unemployment_cents += builder.AddRateLine(
        "EMPLOYER_UNEMPLOYMENT", LineGroup::kEmployerContribution,
        absl::StrCat("Employer unemployment insurance contribution, ", upper ? "upper" : "lower",
                     " tier"),
        taxable, upper ? table->employer_unemployment_upper : table->employer_unemployment_lower,
        field, {field});
  }
  totals.employer_health_insurance_cents += builder.AddRateLine(
      "EMPLOYER_HEALTH_INSURANCE", LineGroup::kEmployerContribution,
      "Employer health insurance contribution", taxable, table->employer_health_insurance,
      "employer_health_insurance", {"employer_health_insurance"});
  if (input.organisation.accident_insurance_rate.has_value()) {
    totals.employer_accident_insurance_cents += builder.AddRateLine(
        "EMPLOYER_ACCIDENT_INSURANCE", LineGroup::kEmployerContribution,
        "Accident insurance (the organisation's own rate)", taxable,
        *input.organisation.accident_insurance_rate, "organisation.accident_insurance_rate", {});
  }
  if (input.organisation.group_life_insurance_rate.has_value()) {
    totals.employer_group_life_insurance_cents +=
        builder.AddRateLine("EMPLOYER_GROUP_LIFE_INSURANCE", LineGroup::kEmployerContribution,
                            "Group life insurance (the organisation's own rate)", taxable,
                            *input.organisation.group_life_insurance_rate,
                            "organisation.group_life_insurance_rate", {});
  }

  totals.net_pay_cents = totals.gross_cash_pay_cents - totals.withholding_cents -
                         totals.employee_pension_cents - totals.employee_unemployment_cents -
                         totals.union_fee_cents - totals.deductions_cents +
                         totals.reimbursements_cents;
  if (totals.net_pay_cents < 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "net pay would be negative (", FormatCents(totals.net_pay_cents),
        "): lower the deductions or spread the negative correction over several pay runs"));
  }
  slip.uses_provisional_rates = !slip.provisional_fields.empty();
  return slip;
}

absl::StatusOr<std::vector<PayItem>> CorrectionItems(absl::Span<const PayItem> paid,
                                                     absl::Span<const PayItem> corrected,
                                                     absl::CivilMonth period) {
  RETURN_IF_ERROR(ValidateItems(paid, "paid"));
  RETURN_IF_ERROR(ValidateItems(corrected, "corrected"));
  for (auto [items, field] : {std::pair{paid, "paid"}, std::pair{corrected, "corrected"}}) {
    for (size_t i = 0; i < items.size(); ++i) {
      const std::optional<absl::CivilMonth>& other = items[i].corrects_period;
      if (other.has_value() && *other != period) {
        return InvalidField(absl::StrCat(field, "[", i, "].corrects_period"),
                            absl::StrCat("corrects ", FormatPeriod(*other), ", not the period ",
                                         FormatPeriod(period), " being corrected"));
      }
    }
  }

  // Group key: kind, fixed or quantity form, unit rate. Totals are differences corrected - paid.
  using Key = std::tuple<PayItemKind, bool, int64_t>;
  struct Difference {
    int64_t quantity_hundredths = 0;
    int64_t amount_cents = 0;
    std::string description;
    bool described_by_corrected = false;
  };
  std::vector<Key> order;
  std::map<Key, Difference> differences;
  auto add = [&](const PayItem& item, int sign, bool from_corrected) {
    bool fixed = item.amount_cents.has_value();
    Key key{item.kind, fixed, fixed ? 0 : item.unit_rate_cents};
    auto [it, inserted] = differences.try_emplace(key);
    if (inserted) {
      order.push_back(key);
    }
    Difference& difference = it->second;
    if (fixed) {
      difference.amount_cents += sign * *item.amount_cents;
    } else {
      difference.quantity_hundredths += sign * item.quantity_hundredths;
    }
    if (!item.description.empty() && (difference.description.empty() ||
                                      (from_corrected && !difference.described_by_corrected))) {
      difference.description = item.description;
      difference.described_by_corrected = from_corrected;
    }
  };
  for (const PayItem& item : corrected) {
    add(item, +1, true);
  }
  for (const PayItem& item : paid) {
    add(item, -1, false);
  }

  std::vector<PayItem> result;
  for (const Key& key : order) {
    const Difference& difference = differences[key];
    auto [kind, fixed, unit_rate] = key;
    PayItem item;
    item.kind = kind;
    item.description = difference.description;
    item.corrects_period = period;
    if (fixed) {
      if (difference.amount_cents == 0) {
        continue;
      }
      item.amount_cents = difference.amount_cents;
    } else {
      if (difference.quantity_hundredths == 0) {
        continue;
      }
      item.quantity_hundredths = difference.quantity_hundredths;
      item.unit_rate_cents = unit_rate;
    }
    // A difference of many items can leave the bounds of a single item.
    RETURN_IF_ERROR(
        Annotate(ValidateItem(item, absl::StrCat("correction of ", PayItemKindName(kind))),
                 "the difference is too large for one item"));
    result.push_back(std::move(item));
  }
  return result;
}

}  // namespace tahe::payroll
