// Tests of penalty interest (finnish-rules.md §8). Every expected amount is worked out by hand in
// the comment beside it: interest = sum over segments of principal x annual rate x days / 365,
// rates in hundredths of a percent (10.5 % = 1050, so the divisor is 10 000 x 365 = 3 650 000),
// rounded once half away from zero ("->").

#include "services/invoicing/interest.h"

#include <catch2/catch.hpp>

namespace tahe::invoicing {
namespace {

PenaltyInterest Compute(int64_t principal, absl::CivilDay due, absl::CivilDay until,
                        Debtor debtor) {
  absl::StatusOr<PenaltyInterest> interest = ComputePenaltyInterest(principal, due, until, debtor);
  INFO(interest.status().ToString());
  REQUIRE(interest.ok());
  return *std::move(interest);
}

TEST_CASE("penalty interest within one half-year, consumer and business", "[interest]") {
  // Due 10.3.2025, paid 9.4.2025: 11.3.-31.3. is 21 days, 1.4.-9.4. 9 days: 30 days in 2025 H1.
  absl::CivilDay due(2025, 3, 10);
  absl::CivilDay paid(2025, 4, 9);
  // Consumer: 3.5 % + 7 = 10.5 %. 100 000 x 1050 x 30 = 3 150 000 000; / 3 650 000 = 863.01 -> 863.
  PenaltyInterest consumer = Compute(100'000, due, paid, Debtor::kConsumer);
  CHECK(consumer.interest_cents == 863);
  CHECK(consumer.days == 30);
  CHECK_FALSE(consumer.provisional);
  REQUIRE(consumer.segments.size() == 1);
  CHECK(consumer.segments[0] ==
        InterestSegment{absl::CivilDay(2025, 3, 11), paid, 30, 1050, 350, false});
  // Business: 3.5 % + 8 = 11.5 %. 100 000 x 1150 x 30 = 3 450 000 000; / 3 650 000 = 945.21 -> 945.
  PenaltyInterest business = Compute(100'000, due, paid, Debtor::kBusiness);
  CHECK(business.interest_cents == 945);
  CHECK(business.segments[0].annual_rate_hundredths == 1150);
}

TEST_CASE("penalty interest across a half-year boundary uses two rates", "[interest]") {
  // Due 15.12.2023, paid 14.1.2024: 16.12.-31.12. = 16 days in 2023 H2 (4.0 %), 1.1.-14.1. =
  // 14 days in 2024 H1 (4.5 %).
  absl::CivilDay due(2023, 12, 15);
  absl::CivilDay paid(2024, 1, 14);
  // Business: 12 % and 12.5 %. 1 000 000 x 1200 x 16 = 19 200 000 000 plus 1 000 000 x 1250 x 14
  // = 17 500 000 000 is 36 700 000 000; / 3 650 000 = 10 054.79 -> 10 055.
  PenaltyInterest business = Compute(1'000'000, due, paid, Debtor::kBusiness);
  CHECK(business.interest_cents == 10'055);
  CHECK(business.days == 30);
  REQUIRE(business.segments.size() == 2);
  CHECK(business.segments[0] == InterestSegment{absl::CivilDay(2023, 12, 16),
                                                absl::CivilDay(2023, 12, 31), 16, 1200, 400,
                                                false});
  CHECK(business.segments[1] == InterestSegment{absl::CivilDay(2024, 1, 1),
                                                absl::CivilDay(2024, 1, 14), 14, 1250, 450, false});
  // Consumer: 11 % and 11.5 %. 1 000 000 x 1100 x 16 = 17 600 000 000 plus 1 000 000 x 1150 x 14
  // = 16 100 000 000 is 33 700 000 000; / 3 650 000 = 9 232.88 -> 9 233.
  CHECK(Compute(1'000'000, due, paid, Debtor::kConsumer).interest_cents == 9'233);
}

TEST_CASE("across 30.6./1.7.: rounded once, and a provisional rate is flagged", "[interest]") {
  // Due 20.6.2025, paid 10.7.2025: 21.6.-30.6. = 10 days at 3.5 % + 7 = 10.5 %, 1.7.-10.7. =
  // 10 days at 2.5 % + 7 = 9.5 % (2025 H2, provisional).
  absl::CivilDay due(2025, 6, 20);
  absl::CivilDay paid(2025, 7, 10);
  // 1 000 x 1050 x 10 = 10 500 000 and 1 000 x 950 x 10 = 9 500 000: 20 000 000 / 3 650 000 =
  // 5.48 -> 5. Rounding each segment would give 2.88 -> 3 plus 2.60 -> 3 = 6: the sum is exact.
  PenaltyInterest small = Compute(1'000, due, paid, Debtor::kConsumer);
  CHECK(small.interest_cents == 5);
  CHECK(small.days == 20);
  CHECK(small.provisional);
  REQUIRE(small.segments.size() == 2);
  CHECK_FALSE(small.segments[0].provisional);
  CHECK(small.segments[0].to == absl::CivilDay(2025, 6, 30));
  CHECK(small.segments[1].provisional);
  CHECK(small.segments[1].from == absl::CivilDay(2025, 7, 1));
  CHECK(small.segments[1].annual_rate_hundredths == 950);
  // 50 000: 525 000 000 + 475 000 000 = 1 000 000 000 / 3 650 000 = 273.97 -> 274.
  CHECK(Compute(50'000, due, paid, Debtor::kConsumer).interest_cents == 274);
}

TEST_CASE("a whole year of penalty interest spans the half-years it touches", "[interest]") {
  // Due 31.12.2023, paid 31.12.2024: 2024 is a leap year, so 366 days, each at 1/365 of a year:
  // 1.1.-30.6. = 182 days at 4.5 % + 8 = 12.5 %, 1.7.-31.12. = 184 days at 12.5 %.
  // 10 000 x 1250 x 366 = 4 575 000 000; / 3 650 000 = 1 253.42 -> 1 253 (more than 12.5 % of
  // 100.00 = 12.50 €, because actual/365 counts 366 days).
  PenaltyInterest interest = Compute(10'000, absl::CivilDay(2023, 12, 31),
                                     absl::CivilDay(2024, 12, 31), Debtor::kBusiness);
  CHECK(interest.interest_cents == 1'253);
  CHECK(interest.days == 366);
  REQUIRE(interest.segments.size() == 2);
  CHECK(interest.segments[0].days == 182);
  CHECK(interest.segments[1].days == 184);
}

TEST_CASE("no interest when not overdue, one day from the day after the due date", "[interest]") {
  absl::CivilDay due(2026, 2, 1);
  for (absl::CivilDay until : {due, due - 1, due - 30}) {
    PenaltyInterest none = Compute(100'000, due, until, Debtor::kConsumer);
    CHECK(none.interest_cents == 0);
    CHECK(none.days == 0);
    CHECK(none.segments.empty());
    CHECK_FALSE(none.provisional);
  }
  // Zero principal: days still counted, nothing earned.
  PenaltyInterest zero = Compute(0, due, due + 10, Debtor::kConsumer);
  CHECK(zero.interest_cents == 0);
  CHECK(zero.days == 10);
  // One day in 2026 H1 at 2.5 % + 7 = 9.5 %: 36 500 x 950 x 1 = 34 675 000; / 3 650 000 = 9.5
  // exactly -> 10 (half away from zero).
  PenaltyInterest one_day = Compute(36'500, due, due + 1, Debtor::kConsumer);
  CHECK(one_day.days == 1);
  CHECK(one_day.interest_cents == 10);
  // 36 499: 34 674 050 / 3 650 000 = 9.4998 -> 9.
  CHECK(Compute(36'499, due, due + 1, Debtor::kConsumer).interest_cents == 9);
}

TEST_CASE("a day without a reference rate names its half-year", "[interest]") {
  // 2026 H2 is not in the built-in table: due 20.6.2026, until 1.7.2026.
  absl::StatusOr<PenaltyInterest> later = ComputePenaltyInterest(
      100'000, absl::CivilDay(2026, 6, 20), absl::CivilDay(2026, 7, 1), Debtor::kConsumer);
  CHECK(later.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(later.status().message() == "no reference rate for 2026 H2");
  // Before the table: 2022 H2.
  absl::StatusOr<PenaltyInterest> earlier = ComputePenaltyInterest(
      100'000, absl::CivilDay(2022, 12, 1), absl::CivilDay(2023, 1, 5), Debtor::kBusiness);
  CHECK(earlier.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(earlier.status().message() == "no reference rate for 2022 H2");
  // Up to 30.6.2026 inclusive is still fine.
  CHECK(ComputePenaltyInterest(100'000, absl::CivilDay(2026, 6, 20), absl::CivilDay(2026, 6, 30),
                               Debtor::kConsumer)
            .ok());
}

TEST_CASE("an operator's reference-rate table: the later entry for a half-year wins",
          "[interest]") {
  const ReferenceRate kRates[] = {
      {2026, 2, 300, true}, {2026, 2, 200, false},  // the confirmed figure, loaded later
  };
  // Due 1.7.2026, until 11.7.2026: 2.7.-11.7. = 10 days at 2.0 % + 8 = 10 %:
  // 365 000 x 1000 x 10 = 3 650 000 000; / 3 650 000 = 1 000.
  absl::StatusOr<PenaltyInterest> interest = ComputePenaltyInterest(
      365'000, absl::CivilDay(2026, 7, 1), absl::CivilDay(2026, 7, 11), Debtor::kBusiness, kRates);
  REQUIRE(interest.ok());
  CHECK(interest->interest_cents == 1'000);
  CHECK_FALSE(interest->provisional);
}

TEST_CASE("the principal must be within bounds", "[interest]") {
  absl::CivilDay due(2025, 1, 1);
  absl::StatusOr<PenaltyInterest> negative =
      ComputePenaltyInterest(-1, due, due + 5, Debtor::kConsumer);
  CHECK(negative.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(negative.status().message() == "principal_cents: must be 0..1000000000000000, got -1");
  CHECK_FALSE(ComputePenaltyInterest(kMaxPrincipalCents + 1, due, due + 5, Debtor::kConsumer).ok());
  // The largest principal for 180 days (2.1.-30.6.2025 at 10.5 %), exact in 128 bits:
  // 10^15 x 1050 x 180 = 1.89 x 10^20; / 3 650 000 = 51 780 821 917 808.2 -> 51 780 821 917 808.
  absl::StatusOr<PenaltyInterest> largest = ComputePenaltyInterest(
      kMaxPrincipalCents, due, absl::CivilDay(2025, 6, 30), Debtor::kConsumer);
  REQUIRE(largest.ok());
  CHECK(largest->days == 180);
  CHECK(largest->interest_cents == 51'780'821'917'808);
}

TEST_CASE("margins and half-year names", "[interest]") {
  CHECK(PenaltyMarginHundredths(Debtor::kConsumer) == 700);
  CHECK(PenaltyMarginHundredths(Debtor::kBusiness) == 800);
  CHECK(HalfYearName(2026, 2) == "2026 H2");
  // The built-in table of finnish-rules.md §8, 2025 H2 provisional.
  absl::Span<const ReferenceRate> rates = BuiltInReferenceRates();
  REQUIRE(rates.size() == 7);
  CHECK(rates[1].hundredths_of_percent == 400);  // 2023 H2
  CHECK(rates[5].year == 2025);
  CHECK(rates[5].half == 2);
  CHECK(rates[5].provisional);
  CHECK(rates[6].hundredths_of_percent == 250);  // 2026 H1
}

}  // namespace
}  // namespace tahe::invoicing
