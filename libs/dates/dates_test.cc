#include "libs/dates/dates.h"

#include <catch2/catch.hpp>

namespace tahe {
namespace {

TEST_CASE("dates parse only as existing calendar days YYYY-MM-DD", "[dates]") {
  CHECK(*ParseDate("d", "2024-02-29") == absl::CivilDay(2024, 2, 29));
  CHECK(FormatDate(absl::CivilDay(2026, 1, 5)) == "2026-01-05");
  for (const char* bad : {"", "2023-02-29", "2026-13-01", "2026-1-05", "26-01-05", "2026/01/05",
                          "1899-12-31", "2026-01-05 ", "+026-01-05"}) {
    INFO(bad);
    absl::StatusOr<absl::CivilDay> day = ParseDate("invoice.due_date", bad);
    REQUIRE(day.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(day.status().message().find("invoice.due_date") != absl::string_view::npos);
  }
}

TEST_CASE("periods parse as YYYY-MM and a day names its period", "[dates]") {
  CHECK(*ParsePeriod("p", "2026-11") == absl::CivilMonth(2026, 11));
  CHECK(ParsePeriod("p", "2026-00").status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(ParsePeriod("p", "2026-1").status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(PeriodOf(absl::CivilDay(2026, 2, 28)) == "2026-02");
  CHECK(FormatPeriod(absl::CivilMonth(2025, 3)) == "2025-03");
}

}  // namespace
}  // namespace tahe
