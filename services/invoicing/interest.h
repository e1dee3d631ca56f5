#pragma once

// Late-payment interest (viivästyskorko, finnish-rules.md §8), free of gRPC and SQL: the
// reference rate by half-year as data, and the penalty interest on an overdue amount as an exact
// sum rounded once, with the segments that explain it.
//
//   ASSIGN_OR_RETURN(PenaltyInterest interest,
//                    ComputePenaltyInterest(/*principal_cents=*/100'000,
//                                           /*due_date=*/absl::CivilDay(2025, 3, 10),
//                                           /*until=*/absl::CivilDay(2025, 4, 9),
//                                           Debtor::kConsumer));
//   // 30 days at 3.5 % + 7 = 10.5 %: interest.interest_cents == 863
//
// The rules:
// - Penalty interest = the reference rate of the half-year + 7 percentage points for a consumer
//   debtor, + 8 points between businesses.
// - Interest runs from the day after the due date up to and including `until` (the payment or
//   calculation date); nothing when `until` is on or before the due date.
// - Each day earns the annual rate of the half-year (1.1.-30.6. = H1, 1.7.-31.12. = H2) it falls
//   in, divided by 365 in every year (actual/365, policy here), so a period across 30.6./1.7.
//   is two segments at two rates.
// - The exact sum over the days is rounded once, half away from zero, to cents.
// - A rate the table marks provisional (unverified, like 2025 H2) makes the result provisional.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/types/span.h"

namespace tahe::invoicing {

// Who owes: decides the points added to the reference rate.
enum class Debtor { kConsumer, kBusiness };

// Percentage points added to the reference rate, in hundredths of a percent: 700 for a consumer,
// 800 between businesses.
int32_t PenaltyMarginHundredths(Debtor debtor);

// The reference rate (viitekorko) of one half-year, in hundredths of a percent (2.5 % = 250).
struct ReferenceRate {
  int year = 0;
  int half = 1;  // 1 = January-June, 2 = July-December
  int32_t hundredths_of_percent = 0;
  // The figure could not be confirmed from a primary source (finnish-rules.md: unverified).
  bool provisional = false;
};

// 2023 H1 2.5, 2023 H2 4.0, 2024 H1 4.5, 2024 H2 4.5, 2025 H1 3.5, 2025 H2 2.5 (provisional:
// derived, unverified), 2026 H1 2.5.
absl::Span<const ReferenceRate> BuiltInReferenceRates();

// "2026 H2": how a half-year is named in messages and explanations.
std::string HalfYearName(int year, int half);

// One stretch of consecutive days at the same annual rate.
struct InterestSegment {
  absl::CivilDay from;  // first day that earns interest
  absl::CivilDay to;    // last day, inclusive
  int64_t days = 0;
  int32_t annual_rate_hundredths = 0;  // reference rate + margin
  int32_t reference_rate_hundredths = 0;
  bool provisional = false;

  friend bool operator==(const InterestSegment&, const InterestSegment&) = default;
};

struct PenaltyInterest {
  int64_t interest_cents = 0;
  int64_t days = 0;
  // In date order; empty when no day earns interest.
  std::vector<InterestSegment> segments;
  // Some segment used a provisional reference rate.
  bool provisional = false;
};

// Upper bound of a principal: 10 000 000 000 000.00 €, far above any invoice, low enough that
// principal x rate x days stays exact in 128 bits for any period.
inline constexpr int64_t kMaxPrincipalCents = 1'000'000'000'000'000;

// The penalty interest on `principal_cents` (0..kMaxPrincipalCents) overdue since `due_date`,
// up to and including `until`. INVALID_ARGUMENT naming "principal_cents" for a principal out of
// range; FAILED_PRECONDITION naming the half-year ("no reference rate for 2026 H2") when a day
// of the period has no rate in `rates` (of two entries for one half-year, the later one wins).
absl::StatusOr<PenaltyInterest> ComputePenaltyInterest(int64_t principal_cents,
                                                       absl::CivilDay due_date,
                                                       absl::CivilDay until, Debtor debtor,
                                                       absl::Span<const ReferenceRate> rates);
absl::StatusOr<PenaltyInterest> ComputePenaltyInterest(int64_t principal_cents,
                                                       absl::CivilDay due_date,
                                                       absl::CivilDay until, Debtor debtor);

}  // namespace tahe::invoicing
