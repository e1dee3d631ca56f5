// Fuzzes pay-item validation and gross-to-net (services/payroll/payroll_domain.h): the pay items
// HR systems import, with the employee, tax cards and organisation settings they are computed
// against, through CalculatePayslip and CorrectionItems (whose first step is validating every
// item). The bytes are split into the fields with FuzzInput (strings from the front, numbers and
// choices from the back); values are drawn near the documented bounds as often as inside them.
//
// Invariants: the outcome is OK, INVALID_ARGUMENT or FAILED_PRECONDITION; a payslip has one line
// per item, in order, with PayItemAmountCents; its lines add up to its totals group by group;
// taxable = cash pay + benefits in kind; net = the documented sum and never negative; the
// year-to-date figure moves by the taxable pay. Corrections are the per-kind (and per-unit-rate)
// differences: paid + corrections = corrected, each correction item marked with the period.

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "services/payroll/payroll_domain.h"
#include "services/payroll/rate_tables.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

using namespace tahe::payroll;  // NOLINT: the fuzzer checks this one header.
using tahe::fuzz::FuzzInput;

const std::vector<RateTable>& Tables() {
  static const std::vector<RateTable>* const tables =
      new std::vector<RateTable>(BuiltInRateTables());
  return *tables;
}

absl::CivilDay Day(FuzzInput& in, int first_year, int last_year) {
  const int year = in.IntInRange(first_year, last_year);
  const int month = in.IntInRange(1, 12);
  const int day = in.IntInRange(1, 31);
  return absl::CivilDay(year, month, day);  // 31 June is 1 July
}

Percentage Rate(FuzzInput& in) {
  switch (in.IntInRange(0, 3)) {
    case 0:
      return Percentage::FromPpm(0);
    case 1:
      return Percentage::FromPpm(Percentage::kMaxPpm);
    default:
      return Percentage::FromPpm(in.IntInRange<int64_t>(0, Percentage::kMaxPpm));
  }
}

std::optional<Percentage> OptionalRate(FuzzInput& in) {
  if (in.Bool()) {
    return std::nullopt;
  }
  return Rate(in);
}

// A value within [-bound - 1, bound + 1], often at its edges.
int64_t Near(FuzzInput& in, int64_t bound) {
  switch (in.IntInRange(0, 7)) {
    case 0:
      return bound + in.IntInRange<int64_t>(-1, 1);
    case 1:
      return -bound + in.IntInRange<int64_t>(-1, 1);
    case 2:
      return in.IntInRange<int64_t>(-1, 1);
    case 3:
      return in.IntInRange<int64_t>(-bound - 1, bound + 1);
    default:
      return in.IntInRange<int64_t>(1, 1'000'000);
  }
}

PayItem Item(FuzzInput& in, absl::CivilDay payment_date) {
  PayItem item;
  const std::vector<PayItemKind>& kinds = AllPayItemKinds();
  item.kind = kinds[in.IntInRange<size_t>(0, kinds.size() - 1)];
  item.description = in.String(kMaxDescriptionLength + 2);
  if (in.Bool()) {
    item.amount_cents = Near(in, kMaxAmountCents);
  }
  if (!item.amount_cents.has_value() || in.IntInRange(0, 7) == 0) {
    item.quantity_hundredths = Near(in, kMaxQuantityHundredths);
    item.unit_rate_cents = Near(in, kMaxUnitRateCents);
  }
  if (in.IntInRange(0, 3) == 0) {
    item.corrects_period = absl::CivilMonth(payment_date) - in.IntInRange(-1, 14);
  }
  return item;
}

void CheckPayslip(const PayslipInput& input, const Payslip& slip) {
  const PayslipTotals& t = slip.totals;
  FUZZ_CHECK(slip.lines.size() >= input.items.size());
  std::map<LineGroup, int64_t> by_group;
  for (size_t i = 0; i < slip.lines.size(); ++i) {
    const PayslipLine& line = slip.lines[i];
    by_group[line.group] += line.amount_cents;
    if (i < input.items.size()) {
      const PayItem& item = input.items[i];
      FUZZ_CHECK(line.code == PayItemKindName(item.kind));
      FUZZ_CHECK(line.amount_cents == PayItemAmountCents(item));
      FUZZ_CHECK(line.corrects_period == item.corrects_period);
    } else {
      FUZZ_CHECK(line.rate.has_value());
      FUZZ_CHECK(line.amount_cents == line.rate->ApplyTo(line.base_cents));
    }
  }
  FUZZ_CHECK(by_group[LineGroup::kCashPay] == t.gross_cash_pay_cents);
  FUZZ_CHECK(by_group[LineGroup::kBenefitInKind] == t.benefits_in_kind_cents);
  FUZZ_CHECK(by_group[LineGroup::kReimbursement] == t.reimbursements_cents);
  FUZZ_CHECK(by_group[LineGroup::kDeduction] == t.deductions_cents);
  FUZZ_CHECK(by_group[LineGroup::kWithholding] == t.withholding_cents);
  FUZZ_CHECK(by_group[LineGroup::kEmployeeContribution] ==
             t.employee_pension_cents + t.employee_unemployment_cents + t.union_fee_cents);
  FUZZ_CHECK(by_group[LineGroup::kEmployerContribution] ==
             t.employer_pension_cents + t.employer_unemployment_cents +
                 t.employer_health_insurance_cents + t.employer_accident_insurance_cents +
                 t.employer_group_life_insurance_cents);
  FUZZ_CHECK(t.taxable_pay_cents == t.gross_cash_pay_cents + t.benefits_in_kind_cents);
  FUZZ_CHECK(t.cumulative_taxable_pay_after_cents ==
             input.cumulative_taxable_pay_cents + t.taxable_pay_cents);
  FUZZ_CHECK(t.net_pay_cents == t.gross_cash_pay_cents - t.withholding_cents -
                                    t.employee_pension_cents - t.employee_unemployment_cents -
                                    t.union_fee_cents - t.deductions_cents +
                                    t.reimbursements_cents);
  FUZZ_CHECK(t.net_pay_cents >= 0);
  FUZZ_CHECK(slip.uses_provisional_rates == !slip.provisional_fields.empty());
  FUZZ_CHECK(slip.payment_date == input.payment_date);
  FUZZ_CHECK(slip.tax_card.has_value() ==
             SelectTaxCard(input.tax_cards, input.payment_date).has_value());
}

// Per kind, form and unit rate: the quantity or fixed amount the items add up to.
using Key = std::tuple<PayItemKind, bool, int64_t>;
void Accumulate(std::map<Key, __int128>& sums, const std::vector<PayItem>& items, int sign) {
  for (const PayItem& item : items) {
    const bool fixed = item.amount_cents.has_value();
    sums[Key{item.kind, fixed, fixed ? 0 : item.unit_rate_cents}] +=
        sign * static_cast<__int128>(fixed ? *item.amount_cents : item.quantity_hundredths);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzInput in(data, size);
  PayslipInput input;
  input.payment_date = Day(in, 2023, 2028);
  input.employee.birth_date =
      in.IntInRange(0, 15) == 0
          ? absl::CivilDay(absl::CivilMonth(input.payment_date)) - in.IntInRange(-2, 2)
          : Day(in, 1930, 2027);
  input.employee.pension_scheme = in.Bool() ? PensionScheme::kKeva : PensionScheme::kTyel;
  input.employee.union_fee_rate = OptionalRate(in);
  input.organisation.tyel_total = OptionalRate(in);
  input.organisation.keva_total = OptionalRate(in);
  input.organisation.unemployment_tier =
      in.Bool() ? UnemploymentTier::kUpper : UnemploymentTier::kLower;
  input.organisation.accident_insurance_rate = OptionalRate(in);
  input.organisation.group_life_insurance_rate = OptionalRate(in);
  const int cards = in.IntInRange(0, 3);
  for (int i = 0; i < cards; ++i) {
    TaxCard card;
    card.valid_from = Day(in, 2023, 2028);
    card.base_rate = Rate(in);
    card.additional_rate = Rate(in);
    card.income_limit_cents = Near(in, 1'000'000'000'000'000);
    input.tax_cards.push_back(card);
  }
  input.cumulative_taxable_pay_cents = Near(in, 1'000'000'000'000'000);
  const int items = in.IntInRange(0, 8);
  for (int i = 0; i < items; ++i) {
    input.items.push_back(Item(in, input.payment_date));
  }
  // Sometimes many copies of the items, past kMaxItems.
  if (!input.items.empty() && in.IntInRange(0, 31) == 0) {
    const size_t copies = in.IntInRange<size_t>(1, kMaxItems / input.items.size() + 1);
    const std::vector<PayItem> one = input.items;
    for (size_t c = 0; c < copies; ++c) {
      input.items.insert(input.items.end(), one.begin(), one.end());
    }
  }

  const absl::StatusOr<Payslip> slip = CalculatePayslip(input, Tables());
  if (slip.ok()) {
    CheckPayslip(input, *slip);
  } else {
    FUZZ_CHECK(slip.status().code() == absl::StatusCode::kInvalidArgument ||
               slip.status().code() == absl::StatusCode::kFailedPrecondition);
  }

  // The same items as "paid" (the first half) and "corrected" (the rest) of one period.
  const absl::CivilMonth period = absl::CivilMonth(input.payment_date) - in.IntInRange(0, 3);
  const size_t half = input.items.size() / 2;
  const std::vector<PayItem> paid(input.items.begin(), input.items.begin() + half);
  const std::vector<PayItem> corrected(input.items.begin() + half, input.items.end());
  const absl::StatusOr<std::vector<PayItem>> corrections = CorrectionItems(paid, corrected, period);
  if (!corrections.ok()) {
    FUZZ_CHECK(corrections.status().code() == absl::StatusCode::kInvalidArgument);
    return 0;
  }
  std::map<Key, __int128> sums;
  Accumulate(sums, corrected, +1);
  Accumulate(sums, paid, -1);
  Accumulate(sums, *corrections, -1);
  for (const auto& [key, sum] : sums) {
    FUZZ_CHECK(sum == 0);
  }
  for (const PayItem& item : *corrections) {
    FUZZ_CHECK(item.corrects_period == period);
    FUZZ_CHECK(item.amount_cents.has_value() ? *item.amount_cents != 0
                                             : item.quantity_hundredths != 0);
  }
  return 0;
}
