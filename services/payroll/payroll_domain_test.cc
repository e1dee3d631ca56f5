#include "services/payroll/payroll_domain.h"

#include <catch2/catch.hpp>

#include "absl/strings/match.h"

// Every expected figure below is worked out by hand in the comment beside it: amounts in cents,
// "x" is multiplication, and "->" is rounding half away from zero to whole cents.

namespace tahe::payroll {
namespace {

Percentage P(absl::string_view text) {
  absl::StatusOr<Percentage> rate = Percentage::Parse(text);
  REQUIRE(rate.ok());
  return *rate;
}

PayItem Fixed(PayItemKind kind, int64_t cents) {
  PayItem item;
  item.kind = kind;
  item.amount_cents = cents;
  return item;
}

PayItem Quantity(PayItemKind kind, int64_t hundredths, int64_t unit_rate_cents) {
  PayItem item;
  item.kind = kind;
  item.quantity_hundredths = hundredths;
  item.unit_rate_cents = unit_rate_cents;
  return item;
}

TaxCard Card(absl::CivilDay valid_from, absl::string_view base, absl::string_view additional,
             int64_t limit_cents) {
  return TaxCard{valid_from, P(base), P(additional), limit_cents};
}

// A TyEL employee with contribution age 40 on a 2025 payment, lower unemployment tier, no tax
// card unless a test adds one.
PayslipInput Input(absl::CivilDay payment_date, std::vector<PayItem> items) {
  PayslipInput input;
  input.payment_date = payment_date;
  input.employee.birth_date = absl::CivilDay(1985, 3, 10);
  input.items = std::move(items);
  return input;
}

Payslip Calculate(const PayslipInput& input) {
  absl::StatusOr<Payslip> slip = CalculatePayslip(input, BuiltInRateTables());
  INFO(slip.status().ToString());
  REQUIRE(slip.ok());
  return *std::move(slip);
}

const PayslipLine* Line(const Payslip& slip, absl::string_view code) {
  const PayslipLine* found = nullptr;
  for (const PayslipLine& line : slip.lines) {
    if (line.code == code) {
      REQUIRE(found == nullptr);  // codes of computed lines are unique per payslip
      found = &line;
    }
  }
  return found;
}

int64_t Amount(const Payslip& slip, absl::string_view code) {
  const PayslipLine* line = Line(slip, code);
  INFO(code);
  REQUIRE(line != nullptr);
  return line->amount_cents;
}

const absl::CivilDay kJune2025(2025, 6, 30);
// 20 % up to 30 000.00 a year, 40 % above, valid from 2025-02-01.
TaxCard Card2025() { return Card(absl::CivilDay(2025, 2, 1), "20", "40", 3'000'000); }

TEST_CASE("a payslip crossing the income limit withholds the two parts at the two rates") {
  PayslipInput input = Input(kJune2025, {Fixed(PayItemKind::kMonthlySalary, 350'000)});
  input.tax_cards = {Card2025()};
  input.cumulative_taxable_pay_cents = 2'850'000;
  Payslip slip = Calculate(input);

  // Year to date 28 500.00 -> 32 000.00 against a limit of 30 000.00:
  // 1 500.00 at 20 % = 300.00, the other 2 000.00 at 40 % = 800.00.
  const PayslipLine* base = Line(slip, "WITHHOLDING_BASE_RATE");
  const PayslipLine* additional = Line(slip, "WITHHOLDING_ADDITIONAL_RATE");
  REQUIRE(base != nullptr);
  REQUIRE(additional != nullptr);
  CHECK(base->base_cents == 150'000);
  CHECK(base->rate == P("20"));
  CHECK(base->amount_cents == 30'000);
  CHECK(base->rate_source == "tax_card.base_rate");
  CHECK(additional->base_cents == 200'000);
  CHECK(additional->amount_cents == 80'000);
  CHECK(slip.totals.withholding_cents == 110'000);
  CHECK(slip.totals.cumulative_taxable_pay_after_cents == 3'200'000);

  // Contribution age 40 (born 1985-03-10, age on 2025-05-31):
  // pension 350 000 x 7.15 % = 25 025; unemployment 350 000 x 0.59 % = 2 065.
  CHECK(slip.contribution_age == 40);
  CHECK(Amount(slip, "EMPLOYEE_PENSION") == 25'025);
  CHECK(Line(slip, "EMPLOYEE_PENSION")->rate_source == "employee_pension[17-52]");
  CHECK(Line(slip, "EMPLOYEE_PENSION")->rate_table_version == "fi-2025");
  CHECK(Amount(slip, "EMPLOYEE_UNEMPLOYMENT") == 2'065);
  // Net 350 000 - 110 000 - 25 025 - 2 065 = 212 910.
  CHECK(slip.totals.net_pay_cents == 212'910);

  // Employer: pension (24.85 - 7.15 =) 17.70 % = 61 950; unemployment 0.20 % = 700;
  // health 1.87 % = 6 545.
  CHECK(Amount(slip, "EMPLOYER_PENSION") == 61'950);
  CHECK(Line(slip, "EMPLOYER_PENSION")->rate == P("17.70"));
  CHECK(Amount(slip, "EMPLOYER_UNEMPLOYMENT") == 700);
  CHECK(Amount(slip, "EMPLOYER_HEALTH_INSURANCE") == 6'545);
  CHECK(slip.totals.employer_pension_cents == 61'950);
  CHECK(slip.totals.employer_unemployment_cents == 700);
  CHECK(slip.totals.employer_health_insurance_cents == 6'545);

  // Information only: medical care 1.06 % = 3 710, daily allowance 0.84 % = 2 940; no total moves.
  CHECK(Amount(slip, "EMPLOYEE_HEALTH_MEDICAL_CARE") == 3'710);
  CHECK(Line(slip, "EMPLOYEE_HEALTH_MEDICAL_CARE")->group == LineGroup::kInformation);
  CHECK(Amount(slip, "EMPLOYEE_HEALTH_DAILY_ALLOWANCE") == 2'940);

  // TyEL at the lower tier in 2025 uses no unverified figure.
  CHECK_FALSE(slip.uses_provisional_rates);
  CHECK(slip.provisional_fields.empty());
}

TEST_CASE("pay wholly under, exactly to, or wholly over the income limit gives one line") {
  PayslipInput input = Input(kJune2025, {Fixed(PayItemKind::kMonthlySalary, 350'000)});
  input.tax_cards = {Card2025()};

  // 26 500.00 + 3 500.00 reaches the limit exactly: all at 20 % = 70 000.
  input.cumulative_taxable_pay_cents = 2'650'000;
  Payslip exactly = Calculate(input);
  CHECK(Amount(exactly, "WITHHOLDING_BASE_RATE") == 70'000);
  CHECK(Line(exactly, "WITHHOLDING_ADDITIONAL_RATE") == nullptr);

  // Already at the limit: all at 40 % = 140 000.
  input.cumulative_taxable_pay_cents = 3'000'000;
  Payslip over = Calculate(input);
  CHECK(Line(over, "WITHHOLDING_BASE_RATE") == nullptr);
  CHECK(Amount(over, "WITHHOLDING_ADDITIONAL_RATE") == 140'000);

  // From zero: all at 20 %.
  input.cumulative_taxable_pay_cents = 0;
  Payslip under = Calculate(input);
  CHECK(Amount(under, "WITHHOLDING_BASE_RATE") == 70'000);
  CHECK(Line(under, "WITHHOLDING_ADDITIONAL_RATE") == nullptr);
}

TEST_CASE("without a tax card in force, 60 % is withheld") {
  PayslipInput input = Input(kJune2025, {Fixed(PayItemKind::kMonthlySalary, 200'000)});
  // A card valid only from the next day does not apply yet.
  input.tax_cards = {Card(absl::CivilDay(2025, 7, 1), "10", "30", 5'000'000)};
  Payslip slip = Calculate(input);
  CHECK_FALSE(slip.tax_card.has_value());
  // 200 000 x 60 % = 120 000; pension x 7.15 % = 14 300; unemployment x 0.59 % = 1 180.
  const PayslipLine* line = Line(slip, "WITHHOLDING_NO_TAX_CARD");
  REQUIRE(line != nullptr);
  CHECK(line->amount_cents == 120'000);
  CHECK(line->rate_source == "no_tax_card_withholding");
  CHECK(line->rate_table_version == "fi-2025");
  CHECK(Line(slip, "WITHHOLDING_BASE_RATE") == nullptr);
  // Net 200 000 - 120 000 - 14 300 - 1 180 = 64 520.
  CHECK(slip.totals.net_pay_cents == 64'520);
}

TEST_CASE("SelectTaxCard takes the latest card valid on the payment date") {
  TaxCard first = Card(absl::CivilDay(2025, 2, 1), "20", "40", 3'000'000);
  TaxCard second = Card(absl::CivilDay(2025, 6, 15), "25", "45", 3'500'000);
  std::vector<TaxCard> cards = {second, first};  // order of input does not matter
  CHECK_FALSE(SelectTaxCard(cards, absl::CivilDay(2025, 1, 31)).has_value());
  CHECK(SelectTaxCard(cards, absl::CivilDay(2025, 2, 1))->base_rate == P("20"));
  CHECK(SelectTaxCard(cards, absl::CivilDay(2025, 6, 14))->base_rate == P("20"));
  CHECK(SelectTaxCard(cards, absl::CivilDay(2025, 6, 15))->base_rate == P("25"));
  CHECK(SelectTaxCard(cards, absl::CivilDay(2026, 1, 15))->base_rate == P("25"));
  // Same valid_from: the card given last wins.
  TaxCard replacement = Card(absl::CivilDay(2025, 6, 15), "26", "46", 3'500'000);
  cards.push_back(replacement);
  CHECK(SelectTaxCard(cards, absl::CivilDay(2025, 6, 15))->base_rate == P("26"));
  CHECK_FALSE(SelectTaxCard({}, absl::CivilDay(2025, 6, 15)).has_value());
}

TEST_CASE("each 2025 age band gets its rates, and no contribution outside the bands") {
  // Payment 2025-06-15: the contribution age is the age on 2025-05-31. Salary 1 000.00.
  struct Case {
    absl::CivilDay birth;
    int age;
    int64_t pension;       // employee
    int64_t unemployment;  // employee
    int64_t employer_pension;
    int64_t employer_unemployment;
  };
  const std::vector<Case> cases = {
      // 16: no pension, no unemployment.
      {absl::CivilDay(2008, 6, 1), 16, 0, 0, 0, 0},
      // 17 (turned 17 on 2025-05-31): pension 7.15 % = 7 150, employer 17.70 % = 17 700;
      // unemployment starts at 18.
      {absl::CivilDay(2008, 5, 31), 17, 7'150, 0, 17'700, 0},
      // 18: unemployment 0.59 % = 590, employer 0.20 % = 200.
      {absl::CivilDay(2007, 1, 1), 18, 7'150, 590, 17'700, 200},
      {absl::CivilDay(1973, 1, 15), 52, 7'150, 590, 17'700, 200},
      // 53: 8.65 % = 8 650; employer 24.85 - 8.65 = 16.20 % = 16 200.
      {absl::CivilDay(1972, 5, 31), 53, 8'650, 590, 16'200, 200},
      {absl::CivilDay(1963, 1, 1), 62, 8'650, 590, 16'200, 200},
      {absl::CivilDay(1962, 1, 1), 63, 7'150, 590, 17'700, 200},
      {absl::CivilDay(1961, 1, 1), 64, 7'150, 590, 17'700, 200},
      // 65: unemployment ends (employee and employer), pension continues.
      {absl::CivilDay(1960, 1, 1), 65, 7'150, 0, 17'700, 0},
      {absl::CivilDay(1958, 1, 1), 67, 7'150, 0, 17'700, 0},
      // 68: no pension contribution either.
      {absl::CivilDay(1957, 1, 1), 68, 0, 0, 0, 0},
  };
  for (const Case& c : cases) {
    INFO("age " << c.age);
    PayslipInput input =
        Input(absl::CivilDay(2025, 6, 15), {Fixed(PayItemKind::kMonthlySalary, 100'000)});
    input.employee.birth_date = c.birth;
    Payslip slip = Calculate(input);
    CHECK(slip.contribution_age == c.age);
    CHECK(slip.totals.employee_pension_cents == c.pension);
    CHECK(slip.totals.employee_unemployment_cents == c.unemployment);
    CHECK(slip.totals.employer_pension_cents == c.employer_pension);
    CHECK(slip.totals.employer_unemployment_cents == c.employer_unemployment);
    CHECK((Line(slip, "EMPLOYEE_PENSION") != nullptr) == (c.pension != 0));
    // Employer health insurance at every age: 1.87 % = 1 870.
    CHECK(slip.totals.employer_health_insurance_cents == 1'870);
    // Withholding 60 % = 60 000 at every age.
    CHECK(slip.totals.withholding_cents == 60'000);
  }
}

TEST_CASE("an age-dependent rate changes from the start of the month after the birthday month") {
  auto pension_on = [](absl::CivilDay birth, absl::CivilDay payment) {
    PayslipInput input = Input(payment, {Fixed(PayItemKind::kMonthlySalary, 100'000)});
    input.employee.birth_date = birth;
    return Calculate(input).totals.employee_pension_cents;
  };
  // Turns 53 on 2025-06-15: 7.15 % (7 150) for all of June, 8.65 % (8 650) from 1 July.
  CHECK(pension_on(absl::CivilDay(1972, 6, 15), absl::CivilDay(2025, 6, 1)) == 7'150);
  CHECK(pension_on(absl::CivilDay(1972, 6, 15), absl::CivilDay(2025, 6, 30)) == 7'150);
  CHECK(pension_on(absl::CivilDay(1972, 6, 15), absl::CivilDay(2025, 7, 1)) == 8'650);
  // Birthday on the 1st of July: July is the birthday month, the new rate from 1 August.
  CHECK(pension_on(absl::CivilDay(1972, 7, 1), absl::CivilDay(2025, 7, 1)) == 7'150);
  CHECK(pension_on(absl::CivilDay(1972, 7, 1), absl::CivilDay(2025, 7, 31)) == 7'150);
  CHECK(pension_on(absl::CivilDay(1972, 7, 1), absl::CivilDay(2025, 8, 1)) == 8'650);
  // Birthday on the last day of July: the same.
  CHECK(pension_on(absl::CivilDay(1972, 7, 31), absl::CivilDay(2025, 7, 31)) == 7'150);
  CHECK(pension_on(absl::CivilDay(1972, 7, 31), absl::CivilDay(2025, 8, 1)) == 8'650);
  // Born 29 February 1972: turns 53 on 28 February 2025, so 8.65 % from 1 March.
  CHECK(pension_on(absl::CivilDay(1972, 2, 29), absl::CivilDay(2025, 2, 28)) == 7'150);
  CHECK(pension_on(absl::CivilDay(1972, 2, 29), absl::CivilDay(2025, 3, 1)) == 8'650);
  // Leaving the top band: turns 68 on 2025-06-15, so June still pays 7.15 % and July nothing.
  CHECK(pension_on(absl::CivilDay(1957, 6, 15), absl::CivilDay(2025, 6, 30)) == 7'150);
  CHECK(pension_on(absl::CivilDay(1957, 6, 15), absl::CivilDay(2025, 7, 1)) == 0);
}

TEST_CASE("AgeOn and ContributionAge around birthdays") {
  CHECK(AgeOn(absl::CivilDay(1972, 6, 15), absl::CivilDay(2025, 6, 14)) == 52);
  CHECK(AgeOn(absl::CivilDay(1972, 6, 15), absl::CivilDay(2025, 6, 15)) == 53);
  CHECK(AgeOn(absl::CivilDay(2025, 6, 15), absl::CivilDay(2025, 6, 15)) == 0);
  // 29 February: 28 February in common years, 29 February in leap years.
  CHECK(AgeOn(absl::CivilDay(1972, 2, 29), absl::CivilDay(2025, 2, 27)) == 52);
  CHECK(AgeOn(absl::CivilDay(1972, 2, 29), absl::CivilDay(2025, 2, 28)) == 53);
  CHECK(AgeOn(absl::CivilDay(1972, 2, 29), absl::CivilDay(2028, 2, 28)) == 55);
  CHECK(AgeOn(absl::CivilDay(1972, 2, 29), absl::CivilDay(2028, 2, 29)) == 56);
  // ContributionAge = age on the last day of the previous month.
  CHECK(ContributionAge(absl::CivilDay(1972, 2, 29), absl::CivilDay(2025, 3, 1)) == 53);
  CHECK(ContributionAge(absl::CivilDay(1972, 2, 29), absl::CivilDay(2025, 2, 28)) == 52);
  CHECK(ContributionAge(absl::CivilDay(1972, 2, 29), absl::CivilDay(2028, 3, 1)) == 56);
  CHECK(ContributionAge(absl::CivilDay(1972, 1, 31), absl::CivilDay(2025, 1, 31)) == 52);
  CHECK(ContributionAge(absl::CivilDay(1972, 1, 31), absl::CivilDay(2025, 2, 1)) == 53);
  // January payments look at 31 December of the previous year.
  CHECK(ContributionAge(absl::CivilDay(1972, 12, 31), absl::CivilDay(2026, 1, 1)) == 53);
}

TEST_CASE("the 2026 table: one pension rate for all ages, and provisional rates are reported") {
  PayslipInput input =
      Input(absl::CivilDay(2026, 6, 15), {Fixed(PayItemKind::kMonthlySalary, 100'000)});
  input.employee.birth_date = absl::CivilDay(1972, 5, 31);  // 54 on 2026-05-31
  Payslip slip = Calculate(input);
  CHECK(slip.rate_table_version == "fi-2026");
  // Pension 7.30 % = 7 300 (no 53-62 band any more); unemployment 0.89 % = 890;
  // employer pension 24.40 - 7.30 = 17.10 % = 17 100; unemployment lower 0.31 % = 310;
  // health 1.87 % = 1 870 (provisional).
  CHECK(Amount(slip, "EMPLOYEE_PENSION") == 7'300);
  CHECK(Line(slip, "EMPLOYEE_PENSION")->rate_source == "employee_pension[17-67]");
  CHECK(Amount(slip, "EMPLOYEE_UNEMPLOYMENT") == 890);
  CHECK(Amount(slip, "EMPLOYER_PENSION") == 17'100);
  CHECK(Amount(slip, "EMPLOYER_UNEMPLOYMENT") == 310);
  CHECK(Amount(slip, "EMPLOYER_HEALTH_INSURANCE") == 1'870);
  CHECK(Line(slip, "EMPLOYER_HEALTH_INSURANCE")->provisional);
  CHECK_FALSE(Line(slip, "EMPLOYER_PENSION")->provisional);
  CHECK_FALSE(Line(slip, "EMPLOYEE_PENSION")->provisional);
  CHECK(slip.uses_provisional_rates);
  CHECK(slip.provisional_fields ==
        std::set<std::string>{"employer_health_insurance", "employee_health_medical_care",
                              "employee_health_daily_allowance",
                              "employee_health_daily_allowance_threshold"});
}

TEST_CASE("Keva and TyEL employer shares, the table average or the organisation's own total") {
  auto employer_pension = [](PensionScheme scheme, OrganisationSettings organisation) {
    PayslipInput input = Input(kJune2025, {Fixed(PayItemKind::kMonthlySalary, 300'000)});
    input.employee.pension_scheme = scheme;
    input.organisation = organisation;
    return Calculate(input);
  };
  // TyEL average: (24.85 - 7.15 =) 17.70 % of 300 000 = 53 100; not provisional.
  Payslip tyel = employer_pension(PensionScheme::kTyel, {});
  CHECK(Amount(tyel, "EMPLOYER_PENSION") == 53'100);
  CHECK(Line(tyel, "EMPLOYER_PENSION")->rate_source == "tyel_total - employee_pension[17-52]");
  CHECK_FALSE(tyel.uses_provisional_rates);

  // Keva: (24.40 - 7.15 =) 17.25 % = 51 750; keva_total is unverified for 2025, so provisional.
  // The employee share is the same 7.15 % = 21 450 under both schemes.
  Payslip keva = employer_pension(PensionScheme::kKeva, {});
  CHECK(Amount(keva, "EMPLOYER_PENSION") == 51'750);
  CHECK(Amount(keva, "EMPLOYEE_PENSION") == 21'450);
  CHECK(Amount(tyel, "EMPLOYEE_PENSION") == 21'450);
  CHECK(Line(keva, "EMPLOYER_PENSION")->provisional);
  CHECK(keva.uses_provisional_rates);
  CHECK(keva.provisional_fields == std::set<std::string>{"keva_total"});
  CHECK(absl::StrContains(Line(keva, "EMPLOYEE_PENSION")->description, "Keva"));

  // The organisation's own totals replace the averages and are not provisional:
  // TyEL 25.30 - 7.15 = 18.15 % = 54 450; Keva 24.00 - 7.15 = 16.85 % = 50 550.
  OrganisationSettings own;
  own.tyel_total = P("25.30");
  own.keva_total = P("24.00");
  Payslip own_tyel = employer_pension(PensionScheme::kTyel, own);
  CHECK(Amount(own_tyel, "EMPLOYER_PENSION") == 54'450);
  CHECK(Line(own_tyel, "EMPLOYER_PENSION")->rate_source ==
        "organisation.tyel_total - employee_pension[17-52]");
  Payslip own_keva = employer_pension(PensionScheme::kKeva, own);
  CHECK(Amount(own_keva, "EMPLOYER_PENSION") == 50'550);
  CHECK_FALSE(own_keva.uses_provisional_rates);

  // An own total below the employee's rate would make the employer share negative.
  OrganisationSettings too_low;
  too_low.tyel_total = P("7.00");
  PayslipInput input = Input(kJune2025, {Fixed(PayItemKind::kMonthlySalary, 300'000)});
  input.organisation = too_low;
  absl::StatusOr<Payslip> refused = CalculatePayslip(input, BuiltInRateTables());
  CHECK(refused.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(absl::StartsWith(refused.status().message(), "organisation.tyel_total:"));
}

TEST_CASE("the unemployment tier, accident and group-life rates are organisation settings") {
  PayslipInput input = Input(kJune2025, {Fixed(PayItemKind::kMonthlySalary, 300'000)});
  input.organisation.unemployment_tier = UnemploymentTier::kUpper;
  input.organisation.accident_insurance_rate = P("0.563");
  input.organisation.group_life_insurance_rate = P("0.07");
  Payslip slip = Calculate(input);
  // Upper tier 0.80 % of 300 000 = 2 400, unverified for 2025; accident 0.563 % = 1 689;
  // group life 0.07 % = 210.
  CHECK(Amount(slip, "EMPLOYER_UNEMPLOYMENT") == 2'400);
  CHECK(Line(slip, "EMPLOYER_UNEMPLOYMENT")->provisional);
  CHECK(slip.provisional_fields == std::set<std::string>{"employer_unemployment_upper"});
  CHECK(Amount(slip, "EMPLOYER_ACCIDENT_INSURANCE") == 1'689);
  CHECK(Line(slip, "EMPLOYER_ACCIDENT_INSURANCE")->rate_source ==
        "organisation.accident_insurance_rate");
  CHECK(Line(slip, "EMPLOYER_ACCIDENT_INSURANCE")->rate_table_version.empty());
  CHECK(slip.totals.employer_accident_insurance_cents == 1'689);
  CHECK(slip.totals.employer_group_life_insurance_cents == 210);
  // Unset rates give no line.
  Payslip plain = Calculate(Input(kJune2025, {Fixed(PayItemKind::kMonthlySalary, 300'000)}));
  CHECK(Line(plain, "EMPLOYER_ACCIDENT_INSURANCE") == nullptr);
  CHECK(Line(plain, "EMPLOYER_GROUP_LIFE_INSURANCE") == nullptr);
}

TEST_CASE("benefits in kind are taxed and contributed but not paid in cash") {
  PayslipInput input = Input(kJune2025, {Fixed(PayItemKind::kMonthlySalary, 300'000),
                                         // 20 meals x 7.20 = 144.00
                                         Quantity(PayItemKind::kMealBenefit, 2'000, 720),
                                         Fixed(PayItemKind::kPhoneBenefit, 2'000)});
  input.tax_cards = {Card(absl::CivilDay(2025, 1, 1), "20", "40", 5'000'000)};
  Payslip slip = Calculate(input);
  CHECK(Amount(slip, "MEAL_BENEFIT") == 14'400);
  CHECK(Line(slip, "MEAL_BENEFIT")->group == LineGroup::kBenefitInKind);
  CHECK(slip.totals.gross_cash_pay_cents == 300'000);
  CHECK(slip.totals.benefits_in_kind_cents == 16'400);
  CHECK(slip.totals.taxable_pay_cents == 316'400);
  // Withholding 316 400 x 20 % = 63 280; pension x 7.15 % = 22 622.6 -> 22 623;
  // unemployment x 0.59 % = 1 866.76 -> 1 867.
  CHECK(slip.totals.withholding_cents == 63'280);
  CHECK(slip.totals.employee_pension_cents == 22'623);
  CHECK(slip.totals.employee_unemployment_cents == 1'867);
  // Net excludes the benefits: 300 000 - 63 280 - 22 623 - 1 867 = 212 230.
  CHECK(slip.totals.net_pay_cents == 212'230);
  // Employer health 316 400 x 1.87 % = 5 916.68 -> 5 917.
  CHECK(slip.totals.employer_health_insurance_cents == 5'917);
}

TEST_CASE("reimbursements are paid in cash without tax or contributions") {
  PayslipInput input = Input(kJune2025, {Fixed(PayItemKind::kMonthlySalary, 250'000),
                                         // 150 km x 0.59 = 88.50
                                         Quantity(PayItemKind::kMileageAllowance, 15'000, 59),
                                         // 2 days x 51.00 = 102.00
                                         Quantity(PayItemKind::kPerDiem, 200, 5'100)});
  input.tax_cards = {Card(absl::CivilDay(2025, 1, 1), "20", "40", 5'000'000)};
  Payslip slip = Calculate(input);
  CHECK(Amount(slip, "MILEAGE_ALLOWANCE") == 8'850);
  CHECK(Amount(slip, "PER_DIEM") == 10'200);
  CHECK(slip.totals.reimbursements_cents == 19'050);
  CHECK(slip.totals.taxable_pay_cents == 250'000);
  // Withholding 250 000 x 20 % = 50 000; pension 17 875; unemployment 1 475.
  CHECK(slip.totals.withholding_cents == 50'000);
  CHECK(slip.totals.employee_pension_cents == 17'875);
  CHECK(slip.totals.employee_unemployment_cents == 1'475);
  // Net 250 000 - 50 000 - 17 875 - 1 475 + 19 050 = 199 700.
  CHECK(slip.totals.net_pay_cents == 199'700);
  // Employer health on 250 000 only: 4 675.
  CHECK(slip.totals.employer_health_insurance_cents == 4'675);
  CHECK(slip.totals.cumulative_taxable_pay_after_cents == 250'000);
}

TEST_CASE("the union fee is taken from gross cash pay and deductions from net pay") {
  PayslipInput input = Input(kJune2025, {Fixed(PayItemKind::kMonthlySalary, 300'000),
                                         Quantity(PayItemKind::kMealBenefit, 2'000, 720),
                                         Fixed(PayItemKind::kDeduction, 10'000)});
  input.employee.union_fee_rate = P("1.5");
  input.tax_cards = {Card(absl::CivilDay(2025, 1, 1), "20", "40", 5'000'000)};
  Payslip slip = Calculate(input);
  // Union fee 300 000 x 1.5 % = 4 500 (not on the 14 400 meal benefit).
  const PayslipLine* fee = Line(slip, "UNION_FEE");
  REQUIRE(fee != nullptr);
  CHECK(fee->base_cents == 300'000);
  CHECK(fee->amount_cents == 4'500);
  CHECK(slip.totals.union_fee_cents == 4'500);
  CHECK(slip.totals.deductions_cents == 10'000);
  // Taxable 314 400: withholding 62 880; pension 22 479.6 -> 22 480; unemployment 1 854.96 ->
  // 1 855. Net 300 000 - 62 880 - 22 480 - 1 855 - 4 500 - 10 000 = 198 285.
  CHECK(slip.totals.withholding_cents == 62'880);
  CHECK(slip.totals.net_pay_cents == 198'285);
}

TEST_CASE("hourly pay, supplements and overtime at 150 % and 200 % of the hourly rate") {
  PayslipInput input = Input(kJune2025, {Quantity(PayItemKind::kHourlyPay, 16'000, 1'837),
                                         Quantity(PayItemKind::kOvertime50, 750, 1'837),
                                         Quantity(PayItemKind::kOvertime100, 325, 1'837),
                                         Quantity(PayItemKind::kEveningSupplement, 2'000, 125),
                                         Quantity(PayItemKind::kNightSupplement, 1'000, 250),
                                         Quantity(PayItemKind::kSundaySupplement, 800, 1'837)});
  Payslip slip = Calculate(input);
  // 160.00 h x 18.37 = 293 920.
  CHECK(Amount(slip, "HOURLY_PAY") == 293'920);
  // 7.50 h x 18.37 x 1.5 = 20 666.25 -> 20 666; base 7.50 x 18.37 = 13 777.5 -> 13 778.
  const PayslipLine* overtime = Line(slip, "OVERTIME_50");
  REQUIRE(overtime != nullptr);
  CHECK(overtime->amount_cents == 20'666);
  CHECK(overtime->base_cents == 13'778);
  CHECK(overtime->quantity_hundredths == 750);
  CHECK(overtime->unit_rate_cents == 1'837);
  CHECK(overtime->multiplier_percent == 150);
  // 3.25 h x 18.37 x 2 = 11 940.5 -> 11 941 (half a cent rounds up).
  CHECK(Amount(slip, "OVERTIME_100") == 11'941);
  CHECK(Line(slip, "OVERTIME_100")->multiplier_percent == 200);
  // 20.00 h x 1.25 = 2 500; 10.00 h x 2.50 = 2 500; 8.00 h x 18.37 = 14 696.
  CHECK(Amount(slip, "EVENING_SUPPLEMENT") == 2'500);
  CHECK(Amount(slip, "NIGHT_SUPPLEMENT") == 2'500);
  CHECK(Amount(slip, "SUNDAY_SUPPLEMENT") == 14'696);
  // Gross 293 920 + 20 666 + 11 941 + 2 500 + 2 500 + 14 696 = 346 223.
  CHECK(slip.totals.gross_cash_pay_cents == 346'223);
}

TEST_CASE("hourly pay and overtime need quantity x rate, bad items name their field") {
  struct Case {
    PayItem item;
    std::string field;
  };
  PayItem negative = Fixed(PayItemKind::kMonthlySalary, -100);
  PayItem both = Fixed(PayItemKind::kMonthlySalary, 100);
  both.quantity_hundredths = 100;
  PayItem control = Fixed(PayItemKind::kMonthlySalary, 100);
  control.description = "bad\x01text";
  std::vector<Case> cases = {
      {Fixed(PayItemKind::kHourlyPay, 100'000), "items[1].amount_cents:"},
      {Fixed(PayItemKind::kOvertime50, 100'000), "items[1].amount_cents:"},
      {negative, "items[1].amount_cents:"},
      {both, "items[1].amount_cents:"},
      {Quantity(PayItemKind::kHourlyPay, 0, 1'000), "items[1].quantity_hundredths:"},
      {Quantity(PayItemKind::kHourlyPay, -100, 1'000), "items[1].quantity_hundredths:"},
      {Quantity(PayItemKind::kHourlyPay, 100, 0), "items[1].unit_rate_cents:"},
      {Fixed(PayItemKind::kMonthlySalary, kMaxAmountCents + 1), "items[1].amount_cents:"},
      {control, "items[1].description:"},
  };
  for (const Case& c : cases) {
    INFO(c.field);
    PayslipInput input = Input(kJune2025, {Fixed(PayItemKind::kMonthlySalary, 100'000), c.item});
    absl::StatusOr<Payslip> slip = CalculatePayslip(input, BuiltInRateTables());
    REQUIRE(slip.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(absl::StartsWith(slip.status().message(), c.field));
  }
}

TEST_CASE("other refused inputs") {
  PayslipInput input = Input(kJune2025, {Fixed(PayItemKind::kMonthlySalary, 100'000)});
  SECTION("a birth date in the payment month or later") {
    input.employee.birth_date = absl::CivilDay(2025, 6, 1);
    CHECK(absl::StartsWith(CalculatePayslip(input, BuiltInRateTables()).status().message(),
                           "employee.birth_date:"));
  }
  SECTION("a negative year-to-date figure") {
    input.cumulative_taxable_pay_cents = -1;
    CHECK(absl::StartsWith(CalculatePayslip(input, BuiltInRateTables()).status().message(),
                           "cumulative_taxable_pay_cents:"));
  }
  SECTION("a correction of a later period") {
    input.items[0].corrects_period = absl::CivilMonth(2025, 7);
    CHECK(absl::StartsWith(CalculatePayslip(input, BuiltInRateTables()).status().message(),
                           "items[0].corrects_period:"));
  }
  SECTION("no rate table in force") {
    input.payment_date = absl::CivilDay(2024, 12, 31);
    CHECK(CalculatePayslip(input, BuiltInRateTables()).status().code() ==
          absl::StatusCode::kFailedPrecondition);
  }
  SECTION("negative net pay") {
    // 100 000 - 60 000 - 7 150 - 590 - 90 000 < 0.
    input.items.push_back(Fixed(PayItemKind::kDeduction, 90'000));
    absl::StatusOr<Payslip> slip = CalculatePayslip(input, BuiltInRateTables());
    CHECK(slip.status().code() == absl::StatusCode::kFailedPrecondition);
    CHECK(absl::StrContains(slip.status().message(), "-577.40"));
  }
}

TEST_CASE("half cents round away from zero on each component, for pay and for a clawback") {
  // Taxable 2 502.50 with no card.
  PayslipInput input = Input(kJune2025, {Fixed(PayItemKind::kMonthlySalary, 250'250)});
  Payslip slip = Calculate(input);
  // Withholding 250 250 x 60 % = 150 150; pension x 7.15 % = 17 892.875 -> 17 893;
  // unemployment x 0.59 % = 1 476.475 -> 1 476 (below half); employer unemployment
  // x 0.20 % = 500.5 -> 501; health x 1.87 % = 4 679.675 -> 4 680.
  CHECK(slip.totals.withholding_cents == 150'150);
  CHECK(slip.totals.employee_pension_cents == 17'893);
  CHECK(slip.totals.employee_unemployment_cents == 1'476);
  CHECK(slip.totals.employer_unemployment_cents == 501);
  CHECK(slip.totals.employer_health_insurance_cents == 4'680);
  // Net 250 250 - 150 150 - 17 893 - 1 476 = 80 731.
  CHECK(slip.totals.net_pay_cents == 80'731);

  // The same amount clawed back by a correction (with a reimbursement keeping net positive),
  // year to date 5 000.00 before: every component mirrors the figures above.
  PayItem clawback = Fixed(PayItemKind::kMonthlySalary, -250'250);
  clawback.corrects_period = absl::CivilMonth(2025, 5);
  PayslipInput negative =
      Input(kJune2025, {clawback, Fixed(PayItemKind::kMileageAllowance, 200'000)});
  negative.cumulative_taxable_pay_cents = 500'000;
  Payslip back = Calculate(negative);
  CHECK(back.totals.withholding_cents == -150'150);
  CHECK(back.totals.employee_pension_cents == -17'893);
  CHECK(back.totals.employee_unemployment_cents == -1'476);
  CHECK(back.totals.employer_unemployment_cents == -501);
  CHECK(back.totals.employer_health_insurance_cents == -4'680);
  // Net -250 250 + 150 150 + 17 893 + 1 476 + 200 000 = 119 269.
  CHECK(back.totals.net_pay_cents == 119'269);
  CHECK(back.totals.cumulative_taxable_pay_after_cents == 249'750);
}

TEST_CASE("a negative correction under a tax card gives back tax at the rates it was taken") {
  // Year to date 31 000.00 with a limit of 30 000.00; a clawback of 1 500.00 takes the year to
  // 29 500.00: 1 000.00 was above the limit (40 % = -40 000), 500.00 below (20 % = -10 000).
  PayItem clawback = Fixed(PayItemKind::kMonthlySalary, -150'000);
  clawback.corrects_period = absl::CivilMonth(2025, 5);
  PayslipInput input = Input(kJune2025, {Fixed(PayItemKind::kMonthlySalary, 300'000), clawback});
  input.cumulative_taxable_pay_cents = 3'100'000;
  input.tax_cards = {Card2025()};
  Payslip slip = Calculate(input);
  // Taxable this payslip 150 000: year to date 31 000.00 -> 32 500.00, all above the limit.
  CHECK(Line(slip, "WITHHOLDING_BASE_RATE") == nullptr);
  CHECK(Amount(slip, "WITHHOLDING_ADDITIONAL_RATE") == 60'000);

  PayslipInput alone = Input(kJune2025, {clawback, Fixed(PayItemKind::kPerDiem, 200'000)});
  alone.cumulative_taxable_pay_cents = 3'100'000;
  alone.tax_cards = {Card2025()};
  Payslip back = Calculate(alone);
  CHECK(Amount(back, "WITHHOLDING_BASE_RATE") == -10'000);
  CHECK(Line(back, "WITHHOLDING_BASE_RATE")->base_cents == -50'000);
  CHECK(Amount(back, "WITHHOLDING_ADDITIONAL_RATE") == -40'000);
}

TEST_CASE("a retroactive change is paid as a difference in the next run, marked by period") {
  const absl::CivilMonth march(2025, 3);
  std::vector<PayItem> paid = {Fixed(PayItemKind::kMonthlySalary, 300'000),
                               Quantity(PayItemKind::kEveningSupplement, 1'000, 120)};
  std::vector<PayItem> corrected = {Fixed(PayItemKind::kMonthlySalary, 310'000),
                                    Quantity(PayItemKind::kEveningSupplement, 1'200, 120)};
  corrected[0].description = "Monthly salary, new grade";
  absl::StatusOr<std::vector<PayItem>> difference = CorrectionItems(paid, corrected, march);
  REQUIRE(difference.ok());
  REQUIRE(difference->size() == 2);
  // +100.00 salary, +2.00 h x 1.20 evening supplement.
  CHECK((*difference)[0].kind == PayItemKind::kMonthlySalary);
  CHECK((*difference)[0].amount_cents == 10'000);
  CHECK((*difference)[0].description == "Monthly salary, new grade");
  CHECK((*difference)[0].corrects_period == march);
  CHECK((*difference)[1].kind == PayItemKind::kEveningSupplement);
  CHECK((*difference)[1].quantity_hundredths == 200);
  CHECK((*difference)[1].unit_rate_cents == 120);
  CHECK((*difference)[1].corrects_period == march);

  // Paid in the May run with May's own salary, taxed and contributed there.
  std::vector<PayItem> items = {Fixed(PayItemKind::kMonthlySalary, 310'000)};
  items.insert(items.end(), difference->begin(), difference->end());
  PayslipInput input = Input(absl::CivilDay(2025, 5, 29), items);
  input.tax_cards = {Card2025()};
  input.cumulative_taxable_pay_cents = 1'240'000;
  Payslip slip = Calculate(input);
  const PayslipLine& correction = slip.lines[1];
  CHECK(correction.code == "MONTHLY_SALARY");
  CHECK(correction.corrects_period == march);
  CHECK(correction.amount_cents == 10'000);
  CHECK(correction.description == "Monthly salary, new grade (correction for 2025-03)");
  CHECK(slip.lines[2].amount_cents == 240);
  CHECK(slip.lines[2].description == "Evening supplement (correction for 2025-03)");
  CHECK_FALSE(slip.lines[0].corrects_period.has_value());
  // Gross 310 000 + 10 000 + 240 = 320 240, all under the limit: withholding 64 048;
  // pension 22 897.16 -> 22 897; unemployment 1 889.416 -> 1 889.
  // Net 320 240 - 64 048 - 22 897 - 1 889 = 231 406.
  CHECK(slip.totals.gross_cash_pay_cents == 320'240);
  CHECK(slip.totals.withholding_cents == 64'048);
  CHECK(slip.totals.employee_pension_cents == 22'897);
  CHECK(slip.totals.employee_unemployment_cents == 1'889);
  CHECK(slip.totals.net_pay_cents == 231'406);
}

TEST_CASE("a retroactive rate change shows the old hours taken back and the new ones paid") {
  const absl::CivilMonth march(2025, 3);
  std::vector<PayItem> paid = {Quantity(PayItemKind::kHourlyPay, 10'000, 2'000)};
  std::vector<PayItem> corrected = {Quantity(PayItemKind::kHourlyPay, 10'000, 2'100)};
  absl::StatusOr<std::vector<PayItem>> difference = CorrectionItems(paid, corrected, march);
  REQUIRE(difference.ok());
  REQUIRE(difference->size() == 2);
  // +100.00 h x 21.00 and -100.00 h x 20.00: a net +100.00.
  CHECK((*difference)[0].quantity_hundredths == 10'000);
  CHECK((*difference)[0].unit_rate_cents == 2'100);
  CHECK((*difference)[1].quantity_hundredths == -10'000);
  CHECK((*difference)[1].unit_rate_cents == 2'000);
  CHECK(PayItemAmountCents((*difference)[0]) + PayItemAmountCents((*difference)[1]) == 10'000);
}

TEST_CASE("earlier corrections of the period count as paid, other periods are refused") {
  const absl::CivilMonth march(2025, 3);
  PayItem earlier = Fixed(PayItemKind::kMonthlySalary, 10'000);
  earlier.corrects_period = march;
  std::vector<PayItem> paid = {Fixed(PayItemKind::kMonthlySalary, 300'000), earlier};
  std::vector<PayItem> corrected = {Fixed(PayItemKind::kMonthlySalary, 310'000)};
  absl::StatusOr<std::vector<PayItem>> none = CorrectionItems(paid, corrected, march);
  REQUIRE(none.ok());
  CHECK(none->empty());

  // A dropped item is taken back in full.
  absl::StatusOr<std::vector<PayItem>> dropped =
      CorrectionItems({Fixed(PayItemKind::kPhoneBenefit, 2'000)}, {}, march);
  REQUIRE(dropped.ok());
  REQUIRE(dropped->size() == 1);
  CHECK((*dropped)[0].amount_cents == -2'000);

  earlier.corrects_period = absl::CivilMonth(2025, 1);
  paid[1] = earlier;
  absl::StatusOr<std::vector<PayItem>> refused = CorrectionItems(paid, corrected, march);
  CHECK(refused.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(absl::StartsWith(refused.status().message(), "paid[1].corrects_period:"));
}

TEST_CASE("pay item kinds have stable names") {
  for (PayItemKind kind : AllPayItemKinds()) {
    absl::StatusOr<PayItemKind> parsed = ParsePayItemKind("kind", PayItemKindName(kind));
    REQUIRE(parsed.ok());
    CHECK(*parsed == kind);
  }
  CHECK(PayItemKindName(PayItemKind::kOvertime50) == "OVERTIME_50");
  CHECK(GroupOf(PayItemKind::kPerDiem) == PayItemGroup::kReimbursement);
  CHECK(GroupOf(PayItemKind::kPhoneBenefit) == PayItemGroup::kBenefitInKind);
  CHECK(ParsePayItemKind("items[0].kind", "BONUS").status().message() ==
        "items[0].kind: unknown pay item kind \"BONUS\"");
}

}  // namespace
}  // namespace tahe::payroll
