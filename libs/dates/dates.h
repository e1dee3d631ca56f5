#pragma once

// Dates and periods as they travel in the APIs: "YYYY-MM-DD" and "YYYY-MM", years 1900-2999.
//
//   ASSIGN_OR_RETURN(absl::CivilDay day, tahe::ParseDate("invoice.due_date", req.due_date()));
//   std::string text = tahe::FormatDate(day);   // "2026-11-23"

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"

namespace tahe {

// INVALID_ARGUMENT naming `field` unless `text` is an existing calendar date "YYYY-MM-DD".
absl::StatusOr<absl::CivilDay> ParseDate(absl::string_view field, absl::string_view text);
std::string FormatDate(absl::CivilDay day);

// INVALID_ARGUMENT naming `field` unless `text` is a month "YYYY-MM".
absl::StatusOr<absl::CivilMonth> ParsePeriod(absl::string_view field, absl::string_view text);
std::string FormatPeriod(absl::CivilMonth month);

// The period "YYYY-MM" of a day.
std::string PeriodOf(absl::CivilDay day);

}  // namespace tahe
