#include "services/invoicing/interest.h"

#include <algorithm>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "libs/money/money.h"
#include "libs/status/status.h"

namespace tahe::invoicing {
namespace {

constexpr int64_t kDaysPerYear = 365;           // actual/365, policy here
constexpr int64_t kHundredthsPerUnit = 10'000;  // 100 % in hundredths of a percent
constexpr int32_t kConsumerMarginHundredths = 700;
constexpr int32_t kBusinessMarginHundredths = 800;

int HalfOf(absl::CivilDay day) { return day.month() <= 6 ? 1 : 2; }

absl::CivilDay LastDayOfHalf(absl::CivilDay day) {
  return HalfOf(day) == 1 ? absl::CivilDay(day.year(), 6, 30) : absl::CivilDay(day.year(), 12, 31);
}

// The rate of the half-year `day` falls in; the later of two entries for one half-year wins.
const ReferenceRate* FindRate(absl::Span<const ReferenceRate> rates, absl::CivilDay day) {
  const ReferenceRate* found = nullptr;
  for (const ReferenceRate& rate : rates) {
    if (rate.year == day.year() && rate.half == HalfOf(day)) {
      found = &rate;
    }
  }
  return found;
}

}  // namespace

int32_t PenaltyMarginHundredths(Debtor debtor) {
  return debtor == Debtor::kConsumer ? kConsumerMarginHundredths : kBusinessMarginHundredths;
}

absl::Span<const ReferenceRate> BuiltInReferenceRates() {
  static constexpr ReferenceRate kRates[] = {
      {2023, 1, 250, false},
      {2023, 2, 400, false},
      {2024, 1, 450, false},
      {2024, 2, 450, false},
      {2025, 1, 350, false},
      // Unverified: derived from the ECB rate, not confirmed from the Ministry of Finance's
      // announcement (finnish-rules.md §8).
      {2025, 2, 250, true},
      {2026, 1, 250, false},
  };
  return kRates;
}

std::string HalfYearName(int year, int half) { return absl::StrCat(year, " H", half); }

absl::StatusOr<PenaltyInterest> ComputePenaltyInterest(int64_t principal_cents,
                                                       absl::CivilDay due_date,
                                                       absl::CivilDay until, Debtor debtor,
                                                       absl::Span<const ReferenceRate> rates) {
  if (principal_cents < 0 || principal_cents > kMaxPrincipalCents) {
    return InvalidField("principal_cents",
                        absl::StrCat("must be 0..", kMaxPrincipalCents, ", got ", principal_cents));
  }
  PenaltyInterest result;
  // Sum of principal x annual rate (hundredths of a percent) x days: the interest in cents is
  // this over 10 000 x 365. principal < 2^50, rate < 2^32, days < 2^22 for any CivilDay range
  // that has rates, so every term and the sum stay far inside 128 bits.
  __int128 numerator = 0;
  for (absl::CivilDay from = due_date + 1; from <= until;) {
    const ReferenceRate* rate = FindRate(rates, from);
    if (rate == nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat("no reference rate for ", HalfYearName(from.year(), HalfOf(from))));
    }
    absl::CivilDay to = std::min(until, LastDayOfHalf(from));
    InterestSegment segment;
    segment.from = from;
    segment.to = to;
    segment.days = (to - from) + 1;
    segment.reference_rate_hundredths = rate->hundredths_of_percent;
    segment.annual_rate_hundredths = rate->hundredths_of_percent + PenaltyMarginHundredths(debtor);
    segment.provisional = rate->provisional;
    numerator +=
        static_cast<__int128>(principal_cents) * segment.annual_rate_hundredths * segment.days;
    result.days += segment.days;
    result.provisional = result.provisional || segment.provisional;
    result.segments.push_back(segment);
    from = to + 1;
  }
  __int128 denominator = kHundredthsPerUnit * kDaysPerYear;
  __int128 limit = static_cast<__int128>(std::numeric_limits<int64_t>::max()) * denominator;
  if (numerator > limit || numerator < -limit) {
    return absl::OutOfRangeError("penalty interest does not fit in int64 cents");
  }
  result.interest_cents = money::RoundHalfAwayFromZero(numerator, denominator);
  return result;
}

absl::StatusOr<PenaltyInterest> ComputePenaltyInterest(int64_t principal_cents,
                                                       absl::CivilDay due_date,
                                                       absl::CivilDay until, Debtor debtor) {
  return ComputePenaltyInterest(principal_cents, due_date, until, debtor, BuiltInReferenceRates());
}

}  // namespace tahe::invoicing
