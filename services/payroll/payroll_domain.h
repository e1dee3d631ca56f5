#pragma once

// Gross-to-net for one employee and one payment, free of gRPC and SQL: pay items in, an
// explained payslip out (finnish-rules.md §7). The service gathers the facts (employee, tax
// cards, organisation settings, year-to-date taxable pay, rate tables) and stores the result.
//
//   PayslipInput input;
//   input.payment_date = absl::CivilDay(2025, 6, 30);
//   input.employee = {.birth_date = absl::CivilDay(1980, 5, 2),
//                     .pension_scheme = PensionScheme::kKeva};
//   input.tax_cards = {card};
//   input.cumulative_taxable_pay_cents = 1'500'000;  // paid by this employer earlier this year
//   input.items = {{.kind = PayItemKind::kMonthlySalary, .amount_cents = 350'000}};
//   ASSIGN_OR_RETURN(Payslip slip, CalculatePayslip(input, BuiltInRateTables()));
//   // slip.totals.net_pay_cents, slip.lines (each with base, rate and rate-table version)
//
// The rules, including those finnish-rules.md §7 leaves open:
//
// - Pay items fall in four groups. Cash pay (salary, hourly pay, supplements, overtime) and
//   benefits in kind (meal, phone) are taxable pay and the base of every contribution; benefits
//   in kind are not paid in cash. Reimbursements (mileage, per diem) are paid in cash, untaxed,
//   outside every contribution base. Deductions are taken from net pay.
// - An item is either quantity (hundredths of an hour, km or day) x unit rate, or a fixed amount.
//   Its amount is rounded once, half away from zero, to cents. Overtime 50 % / 100 % pays
//   quantity x hourly rate x 1.5 / 2.0.
// - Withholding is on taxable pay, not reduced by employee contributions. With a tax card, the
//   part of this payslip that fits under the card's income limit, given this employer's taxable
//   pay earlier in the calendar year, is withheld at the base rate and the rest at the additional
//   rate: two lines when the payslip crosses the limit. The card in force is the one with the
//   latest valid_from on or before the payment date (SelectTaxCard). No card: the rate table's
//   no_tax_card_withholding (60 %).
// - Age-dependent rates use the contribution age (ContributionAge): the age on the last day of
//   the month before the payment date's month, so a new rate applies from the start of the month
//   after the birthday month. Someone born on 29 February reaches a new age on 28 February in a
//   common year (the Finnish rule for periods counted in years: with no matching day, the last
//   day of the month).
// - Rates come from the table in force on the payment date (SelectRateTable) and the age on it:
//   a payment is contributed at the rates of the day it is paid, as TyEL does.
// - Employee pension and unemployment apply only where an age band of the table covers the
//   contribution age. The employer pension share (total - the employee's rate) applies exactly
//   where the employee pension does; the employer unemployment contribution applies exactly where
//   the employee's does (§7 names ages only for the employee share). Employer health insurance,
//   accident and group-life insurance apply at every age.
// - The pension total is the organisation's own rate for the employee's scheme when set, else
//   the table's average (tyel_total or keva_total). The unemployment tier is an organisation
//   setting. Accident and group-life rates are the organisation's own; unset means no line.
// - The union fee is a percentage of gross cash pay (benefits in kind are not paid out of which
//   a fee could be taken).
// - Employee health insurance (medical care on taxable pay, daily allowance on the earnings base)
//   is shown as information lines: it is inside the withholding percentage, never withheld again.
// - Each component is computed on its own base and rounded half away from zero to cents; totals
//   are sums of the rounded lines. net = gross cash pay - withholding - employee pension -
//   employee unemployment - union fee - deductions + reimbursements.
// - Negative net pay is refused (FAILED_PRECONDITION): nothing is carried forward silently. The
//   operator lowers a deduction or spreads a large negative correction over several runs.
// - Corrections: CorrectionItems turns "what was paid for a period" and "what should have been"
//   into difference items marked with the corrected period. They are paid, taxed and contributed
//   in the run that pays them, at that run's tax card, year-to-date pay, rates and age (corrections
//   are taxed when paid). Their lines say which period they correct.
// - Every rate used from a field the table lists as provisional marks its line provisional and
//   puts the field in Payslip::provisional_fields.

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/types/span.h"
#include "services/payroll/rate_tables.h"

namespace tahe::payroll {

// Input bounds. Far above any real payslip, and low enough that no sum of items can overflow
// int64 cents (kMaxItems * kMaxQuantityHundredths * kMaxUnitRateCents * 2 / 100 < 2^63).
inline constexpr int kMaxItems = 1000;
inline constexpr int64_t kMaxAmountCents = 100'000'000'000;     // 1 000 000 000.00 €
inline constexpr int64_t kMaxQuantityHundredths = 100'000'000;  // 1 000 000 units
inline constexpr int64_t kMaxUnitRateCents = 100'000'000;       // 1 000 000.00 € a unit
inline constexpr size_t kMaxDescriptionLength = 200;

enum class PensionScheme { kTyel, kKeva };
enum class UnemploymentTier { kLower, kUpper };

enum class PayItemKind {
  // Cash pay.
  kMonthlySalary,
  kHourlyPay,
  kEveningSupplement,
  kNightSupplement,
  kSundaySupplement,
  kOvertime50,
  kOvertime100,
  // Taxable benefits in kind: taxed and contributed, not paid in cash.
  kMealBenefit,
  kPhoneBenefit,
  // Tax-free reimbursements: paid in cash, untaxed, no contributions.
  kMileageAllowance,
  kPerDiem,
  // One-off deductions from net pay.
  kDeduction,
};

enum class PayItemGroup { kCashPay, kBenefitInKind, kReimbursement, kDeduction };

PayItemGroup GroupOf(PayItemKind kind);
// "MONTHLY_SALARY", "OVERTIME_50", ...: the line code of the item.
absl::string_view PayItemKindName(PayItemKind kind);
// The inverse of PayItemKindName; INVALID_ARGUMENT naming `field` for an unknown name.
absl::StatusOr<PayItemKind> ParsePayItemKind(absl::string_view field, absl::string_view name);
const std::vector<PayItemKind>& AllPayItemKinds();

// One pay item of a period. Either quantity x unit rate (amount_cents unset), or a fixed amount.
// Hourly pay and overtime must use quantity x unit rate (the unit rate is the plain hourly rate;
// overtime multiplies it). Quantities and amounts may be negative only in a correction.
struct PayItem {
  PayItemKind kind = PayItemKind::kMonthlySalary;
  // Optional free text shown on the line, e.g. "Overtime week 23".
  std::string description;
  int64_t quantity_hundredths = 0;
  int64_t unit_rate_cents = 0;
  std::optional<int64_t> amount_cents;
  // Set on a correction item: the earlier period whose pay it corrects.
  std::optional<absl::CivilMonth> corrects_period;

  friend bool operator==(const PayItem&, const PayItem&) = default;
};

// The item's amount in cents: the fixed amount, or quantity x unit rate (x 1.5 or x 2 for
// overtime) rounded half away from zero. REQUIRES: the item is within the input bounds.
int64_t PayItemAmountCents(const PayItem& item);

struct TaxCard {
  absl::CivilDay valid_from;
  Percentage base_rate;
  Percentage additional_rate;
  // Annual income limit of taxable pay from this employer, counted from 1 January.
  int64_t income_limit_cents = 0;
};

// The card in force on `payment_date`: the latest valid_from on or before it; a new card replaces
// the previous one from its date. Among cards with the same valid_from the last one in `cards`
// wins. nullopt when none applies (withholding at the no-tax-card rate).
std::optional<TaxCard> SelectTaxCard(absl::Span<const TaxCard> cards, absl::CivilDay payment_date);

// The whole years from birth_date to `day` (0 before the first birthday). A 29 February birthday
// falls on 28 February in common years. REQUIRES: birth_date <= day.
int AgeOn(absl::CivilDay birth_date, absl::CivilDay day);

// The age that selects age-dependent rates for a payment: the age on the last day of the month
// before the payment date's month. REQUIRES: birth_date <= that day.
int ContributionAge(absl::CivilDay birth_date, absl::CivilDay payment_date);

struct Employee {
  absl::CivilDay birth_date;
  PensionScheme pension_scheme = PensionScheme::kTyel;
  // The trade union's fee as a percentage of gross cash pay, when the employer collects it.
  std::optional<Percentage> union_fee_rate;
};

struct OrganisationSettings {
  // The organisation's own pension totals (incl. the employee share); unset = the table average.
  std::optional<Percentage> tyel_total;
  std::optional<Percentage> keva_total;
  UnemploymentTier unemployment_tier = UnemploymentTier::kLower;
  // The organisation's own insurance rates; unset = no line.
  std::optional<Percentage> accident_insurance_rate;
  std::optional<Percentage> group_life_insurance_rate;
};

struct PayslipInput {
  absl::CivilDay payment_date;
  Employee employee;
  OrganisationSettings organisation;
  // All of the employee's tax cards; the one in force on the payment date is used.
  std::vector<TaxCard> tax_cards;
  // Taxable pay (cash pay + benefits in kind) this employer paid the employee earlier in the
  // calendar year of payment_date, before this payslip.
  int64_t cumulative_taxable_pay_cents = 0;
  std::vector<PayItem> items;
};

enum class LineGroup {
  kCashPay,
  kBenefitInKind,
  kReimbursement,
  kDeduction,
  kWithholding,
  kEmployeeContribution,
  kEmployerContribution,
  // Shown for information; changes no total.
  kInformation,
};

// One line of a payslip, explaining itself: amount = base x rate (rounded) for computed lines,
// quantity x unit rate (x rate for overtime) for pay items.
struct PayslipLine {
  // A pay item's kind name ("MONTHLY_SALARY"), or "WITHHOLDING_BASE_RATE",
  // "WITHHOLDING_ADDITIONAL_RATE", "WITHHOLDING_NO_TAX_CARD", "EMPLOYEE_PENSION",
  // "EMPLOYEE_UNEMPLOYMENT", "UNION_FEE", "EMPLOYER_PENSION", "EMPLOYER_UNEMPLOYMENT",
  // "EMPLOYER_HEALTH_INSURANCE", "EMPLOYER_ACCIDENT_INSURANCE", "EMPLOYER_GROUP_LIFE_INSURANCE",
  // "EMPLOYEE_HEALTH_MEDICAL_CARE", "EMPLOYEE_HEALTH_DAILY_ALLOWANCE".
  std::string code;
  LineGroup group = LineGroup::kCashPay;
  std::string description;
  // Pay items in quantity form: amount = quantity x unit rate x multiplier_percent / 100
  // (150 and 200 for overtime), rounded once.
  int64_t quantity_hundredths = 0;
  int64_t unit_rate_cents = 0;
  int64_t multiplier_percent = 0;
  // What the rate applies to; for a pay item quantity x unit rate (rounded), or the fixed amount.
  int64_t base_cents = 0;
  // The applied rate; unset on pay items.
  std::optional<Percentage> rate;
  int64_t amount_cents = 0;
  // Where the rate comes from: a rate-table field ("employee_pension[53-62]"),
  // "tax_card.base_rate", "organisation.accident_insurance_rate", "employee.union_fee_rate", ...
  std::string rate_source;
  // The version of the rate table the rate (or part of it) comes from; empty if none.
  std::string rate_table_version;
  std::optional<absl::CivilMonth> corrects_period;
  bool provisional = false;
};

struct PayslipTotals {
  int64_t gross_cash_pay_cents = 0;
  int64_t benefits_in_kind_cents = 0;
  // Cash pay + benefits in kind: the withholding base, and with the item kinds here also the
  // base of every contribution.
  int64_t taxable_pay_cents = 0;
  int64_t withholding_cents = 0;
  int64_t employee_pension_cents = 0;
  int64_t employee_unemployment_cents = 0;
  int64_t union_fee_cents = 0;
  int64_t deductions_cents = 0;
  int64_t reimbursements_cents = 0;
  int64_t net_pay_cents = 0;
  int64_t employer_pension_cents = 0;
  int64_t employer_unemployment_cents = 0;
  int64_t employer_health_insurance_cents = 0;
  int64_t employer_accident_insurance_cents = 0;
  int64_t employer_group_life_insurance_cents = 0;
  // cumulative_taxable_pay_cents + taxable_pay_cents: the next payslip's year-to-date figure
  // when it falls in the same calendar year.
  int64_t cumulative_taxable_pay_after_cents = 0;
};

struct Payslip {
  absl::CivilDay payment_date;
  std::string rate_table_version;
  int contribution_age = 0;
  // The tax card used; nullopt = withheld at the no-tax-card rate.
  std::optional<TaxCard> tax_card;
  // Pay items first (in input order), then withholding, employee contributions, union fee,
  // information lines and employer contributions.
  std::vector<PayslipLine> lines;
  PayslipTotals totals;
  bool uses_provisional_rates = false;
  // The provisional rate-table fields this payslip used.
  std::set<std::string> provisional_fields;
};

// The payslip for `input`, with the rate table in force on the payment date.
// INVALID_ARGUMENT naming the field for bad input (bounds, a rate outside 0-100 %, a birth date
// after the payment date, an organisation pension total below the employee's pension rate, an
// hourly item without quantity x rate, a negative item outside a correction);
// FAILED_PRECONDITION when no rate table is in force or the net pay would be negative.
absl::StatusOr<Payslip> CalculatePayslip(const PayslipInput& input,
                                         absl::Span<const RateTable> rate_tables);

// The items that pay the difference between what was paid for `period` and what should have
// been, each with corrects_period = period. Items are compared per kind and form: quantity items
// per unit rate (so a retroactive raise shows as "-100 h at 20.00" and "+100 h at 21.00"), fixed
// items by amount. Unchanged groups give no item. The description is the corrected item's (else
// the paid one's). `paid` holds every item already paid for the period: the period's own items
// and earlier corrections of it. An item whose corrects_period is set to another period is
// INVALID_ARGUMENT, as is anything CalculatePayslip would refuse in an item.
absl::StatusOr<std::vector<PayItem>> CorrectionItems(absl::Span<const PayItem> paid,
                                                     absl::Span<const PayItem> corrected,
                                                     absl::CivilMonth period);

}  // namespace tahe::payroll
