#include "services/payroll/rate_tables.h"

#include <catch2/catch.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace tahe::payroll {
namespace {

Percentage P(absl::string_view text) {
  absl::StatusOr<Percentage> rate = Percentage::Parse(text);
  REQUIRE(rate.ok());
  return *rate;
}

// The 2025 table in text form with the line of `key` replaced by `replacement` (dropped when
// empty), or `replacement` appended when `key` has no line.
std::string Edited2025(absl::string_view key, absl::string_view replacement) {
  std::string text = FormatRateTable(BuiltInRateTables()[0]);
  std::vector<std::string> lines = absl::StrSplit(text, '\n', absl::SkipEmpty());
  std::vector<std::string> out;
  bool replaced = false;
  for (const std::string& line : lines) {
    if (absl::StartsWith(line, absl::StrCat(key, " ="))) {
      replaced = true;
      if (!replacement.empty()) {
        out.push_back(std::string(replacement));
      }
    } else {
      out.push_back(line);
    }
  }
  if (!replaced) {
    out.push_back(std::string(replacement));
  }
  return absl::StrJoin(out, "\n");
}

TEST_CASE("Percentage parses up to four decimals between 0 and 100 and prints without zeros") {
  CHECK(P("7.15").ppm() == 71'500);
  CHECK(P("7,15%").ppm() == 71'500);
  CHECK(P("60").ppm() == 600'000);
  CHECK(P("0.0001").ppm() == 1);
  CHECK(P("100").ppm() == 1'000'000);
  CHECK(P("0").ppm() == 0);
  CHECK(P("7.15").ToString() == "7.15%");
  CHECK(P("0.20").ToString() == "0.2%");
  CHECK(P("60").ToString() == "60%");
  CHECK(Percentage().ToString() == "0%");
  for (absl::string_view bad : {"0.00001", "100.01", "-1", "", "7.1.5", "abc", "7 %"}) {
    INFO(bad);
    CHECK(Percentage::Parse(bad).status().code() == absl::StatusCode::kInvalidArgument);
  }
}

TEST_CASE("Percentage::ApplyTo rounds half a cent away from zero, and less than half toward it") {
  // 0.20 % of 2502.50 = 5.005 -> 5.01; of 2502.49 = 5.00498 -> 5.00; mirrored for negatives.
  Percentage rate = P("0.20");
  CHECK(rate.ApplyTo(250'250) == 501);
  CHECK(rate.ApplyTo(-250'250) == -501);
  CHECK(rate.ApplyTo(250'249) == 500);
  CHECK(rate.ApplyTo(-250'249) == -500);
  // 7.15 % of 1000.10 = 71.50715 -> 71.51.
  CHECK(P("7.15").ApplyTo(100'010) == 7'151);
  CHECK(P("100").ApplyTo(-12'345) == -12'345);
}

TEST_CASE("the built-in 2025 table carries finnish-rules.md section 7 and flags the unverified") {
  std::vector<RateTable> tables = BuiltInRateTables();
  REQUIRE(tables.size() == 2);
  const RateTable& t = tables[0];
  CHECK(t.version == "fi-2025");
  CHECK(t.valid_from == absl::CivilDay(2025, 1, 1));
  CHECK(t.no_tax_card_withholding == P("60"));
  CHECK(t.employee_pension ==
        std::vector<AgeBandRate>{{17, 52, P("7.15")}, {53, 62, P("8.65")}, {63, 67, P("7.15")}});
  CHECK(t.employee_unemployment == std::vector<AgeBandRate>{{18, 64, P("0.59")}});
  CHECK(t.employer_unemployment_lower == P("0.20"));
  CHECK(t.employer_health_insurance == P("1.87"));
  CHECK(t.tyel_total == P("24.85"));
  CHECK(t.keva_total == P("24.40"));
  CHECK(t.employee_health_medical_care == P("1.06"));
  CHECK(t.employee_health_daily_allowance == P("0.84"));
  CHECK(t.employee_health_daily_allowance_threshold_cents == 1'686'200);
  CHECK(t.provisional_fields == std::set<std::string>{"employer_unemployment_upper",
                                                      "employer_unemployment_threshold",
                                                      "keva_total"});
}

TEST_CASE("the built-in 2026 table carries finnish-rules.md section 7 and flags the unverified") {
  const RateTable t = BuiltInRateTables()[1];
  CHECK(t.version == "fi-2026");
  CHECK(t.valid_from == absl::CivilDay(2026, 1, 1));
  CHECK(t.employee_pension == std::vector<AgeBandRate>{{17, 67, P("7.30")}});
  CHECK(t.employee_unemployment == std::vector<AgeBandRate>{{18, 64, P("0.89")}});
  CHECK(t.employer_unemployment_lower == P("0.31"));
  CHECK(t.employer_unemployment_upper == P("0.72"));
  CHECK(t.employer_unemployment_threshold_cents == 250'950'000);
  // Employer average 17.10 % + employee 7.30 %.
  CHECK(t.tyel_total == P("24.40"));
  CHECK(t.provisional_fields == std::set<std::string>{"employer_health_insurance", "keva_total",
                                                      "employee_health_medical_care",
                                                      "employee_health_daily_allowance",
                                                      "employee_health_daily_allowance_threshold"});
}

TEST_CASE("a table survives formatting and parsing unchanged") {
  for (const RateTable& table : BuiltInRateTables()) {
    absl::StatusOr<RateTable> parsed = ParseRateTable(FormatRateTable(table));
    REQUIRE(parsed.ok());
    CHECK(*parsed == table);
  }
}

TEST_CASE("an operator loads a new year's table from text and it takes over from its date") {
  constexpr absl::string_view kText = R"(
# Rates an operator loaded for 2027.
version = fi-2027
valid_from = 2027-01-01
no_tax_card_withholding = 60
employee_pension[17-67] = 7.5
employee_unemployment[18-64] = 0.9
employer_unemployment_lower = 0.3
employer_unemployment_upper = 0.7
employer_unemployment_threshold = 2600000
employer_health_insurance = 1.9
tyel_total = 24.5
keva_total = 24.5
employee_health_medical_care = 1.1
employee_health_daily_allowance = 0.9
employee_health_daily_allowance_threshold = 17000,00
provisional =
)";
  absl::StatusOr<RateTable> loaded = ParseRateTable(kText);
  REQUIRE(loaded.ok());
  CHECK(loaded->employee_health_daily_allowance_threshold_cents == 1'700'000);
  CHECK(loaded->provisional_fields.empty());
  std::vector<RateTable> tables = BuiltInRateTables();
  tables.push_back(*loaded);
  absl::StatusOr<const RateTable*> selected = SelectRateTable(tables, absl::CivilDay(2027, 1, 1));
  REQUIRE(selected.ok());
  CHECK((*selected)->version == "fi-2027");
  selected = SelectRateTable(tables, absl::CivilDay(2026, 12, 31));
  REQUIRE(selected.ok());
  CHECK((*selected)->version == "fi-2026");
}

TEST_CASE("SelectRateTable takes the latest valid_from on or before the date") {
  std::vector<RateTable> tables = BuiltInRateTables();
  absl::StatusOr<const RateTable*> none = SelectRateTable(tables, absl::CivilDay(2024, 12, 31));
  CHECK(none.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(absl::StrContains(none.status().message(), "2024-12-31"));
  CHECK((*SelectRateTable(tables, absl::CivilDay(2025, 1, 1)))->version == "fi-2025");
  CHECK((*SelectRateTable(tables, absl::CivilDay(2025, 12, 31)))->version == "fi-2025");
  CHECK((*SelectRateTable(tables, absl::CivilDay(2026, 1, 1)))->version == "fi-2026");
  CHECK((*SelectRateTable(tables, absl::CivilDay(2031, 6, 1)))->version == "fi-2026");
  // A corrected table with the same valid_from, loaded later, replaces the earlier one.
  RateTable corrected = tables[1];
  corrected.version = "fi-2026.2";
  tables.push_back(corrected);
  CHECK((*SelectRateTable(tables, absl::CivilDay(2026, 3, 1)))->version == "fi-2026.2");
  CHECK(SelectRateTable({}, absl::CivilDay(2026, 3, 1)).status().code() ==
        absl::StatusCode::kFailedPrecondition);
}

TEST_CASE("table errors are INVALID_ARGUMENT naming the field") {
  struct Case {
    std::string text;
    std::string message_prefix;
  };
  std::vector<Case> cases = {
      {Edited2025("tyel_total", ""), "tyel_total: required"},
      {Edited2025("version", ""), "version: required"},
      {Edited2025("valid_from", "valid_from = 2025-02-30"), "valid_from: line"},
      {Edited2025("valid_from", "valid_from = 1.1.2025"), "valid_from: line"},
      {Edited2025("version", "version = fi 2025"), "version: line"},
      {Edited2025("employee_pension[53-62]", "employee_pension[53-62] = 8,655,"),
       "employee_pension[53-62]: line"},
      {Edited2025("employer_health_insurance", "employer_health_insurance = 187"),
       "employer_health_insurance: line"},
      {Edited2025("employer_health_insurance", "employer_health_insurance = 1.87001"),
       "employer_health_insurance: line"},
      {Edited2025("employer_unemployment_threshold", "employer_unemployment_threshold = -5"),
       "employer_unemployment_threshold: line"},
      {Edited2025("employer_unemployment_threshold", "employer_unemployment_threshold = 1.234"),
       "employer_unemployment_threshold: line"},
      {Edited2025("employee_pension[63-67]", "employee_pension[60-67] = 7.15"),
       "employee_pension[60-67]: line"},
      {Edited2025("employee_pension[63-67]", "employee_pension[67-63] = 7.15"),
       "employee_pension[67-63]: line"},
      {Edited2025("employee_pension[63-67]", "employee_pension = 7.15"), "employee_pension: line"},
      {Edited2025("employee_unemployment[18-64]", ""), "employee_unemployment: required"},
      {Edited2025("tyel_total[17-52]", "tyel_total[17-52] = 24"), "tyel_total[17-52]: line"},
      {Edited2025("tyel_totl", "tyel_totl = 24.85"), "tyel_totl: line"},
      {Edited2025("keva_total", "keva_total = 8.00"), "keva_total: line"},
      {Edited2025("provisional", "provisional = keva_total, health"), "provisional: line"},
      {Edited2025("garbage", "no equals sign here"), "line 18: expected"},
      {Edited2025("garbage", "tyel_total = 24.85"), "tyel_total: line 18: given more than once"},
  };
  for (const Case& c : cases) {
    INFO(c.text);
    absl::StatusOr<RateTable> parsed = ParseRateTable(c.text);
    REQUIRE(parsed.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(absl::StartsWith(parsed.status().message(), c.message_prefix));
  }
}

TEST_CASE("dates and periods parse strictly and format back") {
  CHECK(*ParseDate("d", "2024-02-29") == absl::CivilDay(2024, 2, 29));
  CHECK(ParseDate("d", "2025-02-29").status().message() ==
        "d: \"2025-02-29\" is not a calendar date");
  CHECK(!ParseDate("d", "2025-2-01").ok());
  CHECK(FormatDate(absl::CivilDay(2025, 3, 7)) == "2025-03-07");
  CHECK(*ParsePeriod("p", "2025-03") == absl::CivilMonth(2025, 3));
  CHECK(!ParsePeriod("p", "2025-13").ok());
  CHECK(FormatPeriod(absl::CivilMonth(2025, 3)) == "2025-03");
  CHECK(FormatCents(-5) == "-0.05");
  CHECK(FormatCents(123'456) == "1234.56");
}

}  // namespace
}  // namespace tahe::payroll
