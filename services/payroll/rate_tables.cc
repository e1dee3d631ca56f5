#include "services/payroll/rate_tables.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "libs/money/money.h"
#include "libs/status/status.h"

namespace tahe::payroll {
namespace {

constexpr int64_t kPpmPerUnit = 100 * Percentage::kPpmPerPercent;  // 1 000 000 = 100 %
constexpr int kMaxAge = 150;
constexpr size_t kMaxVersionLength = 64;
constexpr size_t kMaxTableTextBytes = 64 * 1024;

[[noreturn]] void DieOnContractViolation(const char* what) {
  std::fprintf(stderr, "tahe::payroll contract violation: %s\n", what);
  std::abort();
}

bool AllDigits(absl::string_view s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](char c) { return absl::ascii_isdigit(c); });
}

// How one rate field is written and where it lives in RateTable.
struct FieldSpec {
  enum class Kind { kPercentage, kAmount, kAgeBands };
  const char* name;
  Kind kind;
  Percentage RateTable::*percentage = nullptr;
  int64_t RateTable::*amount = nullptr;
  std::vector<AgeBandRate> RateTable::*bands = nullptr;
};

const std::vector<FieldSpec>& FieldSpecs() {
  using Kind = FieldSpec::Kind;
  static const auto* specs = new std::vector<FieldSpec>{
      {"no_tax_card_withholding", Kind::kPercentage, &RateTable::no_tax_card_withholding},
      {"employee_pension", Kind::kAgeBands, nullptr, nullptr, &RateTable::employee_pension},
      {"employee_unemployment", Kind::kAgeBands, nullptr, nullptr,
       &RateTable::employee_unemployment},
      {"employer_unemployment_lower", Kind::kPercentage, &RateTable::employer_unemployment_lower},
      {"employer_unemployment_upper", Kind::kPercentage, &RateTable::employer_unemployment_upper},
      {"employer_unemployment_threshold", Kind::kAmount, nullptr,
       &RateTable::employer_unemployment_threshold_cents},
      {"employer_health_insurance", Kind::kPercentage, &RateTable::employer_health_insurance},
      {"tyel_total", Kind::kPercentage, &RateTable::tyel_total},
      {"keva_total", Kind::kPercentage, &RateTable::keva_total},
      {"employee_health_medical_care", Kind::kPercentage, &RateTable::employee_health_medical_care},
      {"employee_health_daily_allowance", Kind::kPercentage,
       &RateTable::employee_health_daily_allowance},
      {"employee_health_daily_allowance_threshold", Kind::kAmount, nullptr,
       &RateTable::employee_health_daily_allowance_threshold_cents},
  };
  return *specs;
}

const FieldSpec* FindSpec(absl::string_view name) {
  for (const FieldSpec& spec : FieldSpecs()) {
    if (name == spec.name) {
      return &spec;
    }
  }
  return nullptr;
}

bool IsValidVersion(absl::string_view version) {
  return !version.empty() && version.size() <= kMaxVersionLength &&
         std::all_of(version.begin(), version.end(), [](char c) {
           return absl::ascii_isalnum(c) || c == '.' || c == '_' || c == '-';
         });
}

// "17-52" -> {17, 52}.
std::optional<std::pair<int, int>> ParseAgeRange(absl::string_view text) {
  std::vector<absl::string_view> parts = absl::StrSplit(text, '-');
  int min_age = 0;
  int max_age = 0;
  if (parts.size() != 2 || !AllDigits(parts[0]) || !AllDigits(parts[1]) || parts[0].size() > 3 ||
      parts[1].size() > 3 || !absl::SimpleAtoi(parts[0], &min_age) ||
      !absl::SimpleAtoi(parts[1], &max_age)) {
    return std::nullopt;
  }
  return std::make_pair(min_age, max_age);
}

absl::StatusOr<int64_t> ParseAmountCents(absl::string_view text) {
  absl::StatusOr<money::Money> amount = money::Money::Parse(text);
  if (!amount.ok()) {
    return amount.status();
  }
  if (amount->minor_units() < 0) {
    return absl::InvalidArgumentError(absl::StrCat("amount ", text, " is negative"));
  }
  return amount->minor_units();
}

// The largest employee pension rate of any band: the lower bound of a pension total.
Percentage MaxEmployeePension(const RateTable& table) {
  Percentage max;
  for (const AgeBandRate& band : table.employee_pension) {
    max = std::max(max, band.rate);
  }
  return max;
}

std::string BandKey(absl::string_view name, const AgeBandRate& band) {
  return absl::StrCat(name, "[", band.min_age, "-", band.max_age, "]");
}

// Finnish statutory rates for 2025, from finnish-rules.md §7.
constexpr absl::string_view kFinland2025 =
    R"(# Finnish statutory payroll rates for 2025 (finnish-rules.md section 7).
version = fi-2025
valid_from = 2025-01-01
no_tax_card_withholding = 60%
employee_pension[17-52] = 7.15%
employee_pension[53-62] = 8.65%
employee_pension[63-67] = 7.15%
employee_unemployment[18-64] = 0.59%
employer_unemployment_lower = 0.20%
# Upper tier and threshold: unverified. 0.80 % and 2 251 500 EUR are the 2025 figures as
# remembered from Tyollisyysrahasto's announcement (consistent with its 2025 employer average of
# 0.62 %), not confirmed from a primary source.
employer_unemployment_upper = 0.80%
employer_unemployment_threshold = 2251500.00
employer_health_insurance = 1.87%
# TyEL average total including the employee share.
tyel_total = 24.85%
# Keva 2025: unverified. The 2024 wage-based contribution 23.60 % + 0.80 % disability part.
keva_total = 24.40%
employee_health_medical_care = 1.06%
employee_health_daily_allowance = 0.84%
employee_health_daily_allowance_threshold = 16862.00
provisional = employer_unemployment_upper, employer_unemployment_threshold, keva_total
)";

// Finnish statutory rates for 2026, from finnish-rules.md §7.
constexpr absl::string_view kFinland2026 =
    R"(# Finnish statutory payroll rates for 2026 (finnish-rules.md section 7).
version = fi-2026
valid_from = 2026-01-01
no_tax_card_withholding = 60%
employee_pension[17-67] = 7.30%
employee_unemployment[18-64] = 0.89%
employer_unemployment_lower = 0.31%
employer_unemployment_upper = 0.72%
employer_unemployment_threshold = 2509500.00
# Employer health insurance 2026: unverified; the 2025 rate carried over.
employer_health_insurance = 1.87%
# TyEL: the published 2026 figure is the employer average 17.10 %; with the employee share of
# 7.30 % at every age the total is 24.40 %.
tyel_total = 24.40%
# Keva 2026: unverified. The 2024 wage-based contribution 23.60 % + 0.80 % disability part.
keva_total = 24.40%
# Employee health insurance 2026: unverified; the 2025 figures carried over.
employee_health_medical_care = 1.06%
employee_health_daily_allowance = 0.84%
employee_health_daily_allowance_threshold = 16862.00
provisional = employer_health_insurance, keva_total, employee_health_medical_care, employee_health_daily_allowance, employee_health_daily_allowance_threshold
)";

}  // namespace

Percentage Percentage::FromPpm(int64_t ppm) {
  if (ppm < 0 || ppm > kMaxPpm) {
    DieOnContractViolation("Percentage::FromPpm: ppm outside 0..1000000");
  }
  return Percentage(ppm);
}

absl::StatusOr<Percentage> Percentage::Parse(absl::string_view text) {
  absl::StatusOr<money::Rate> rate = money::Rate::ParsePercent(text);
  if (!rate.ok()) {
    return rate.status();
  }
  // rate = numerator / denominator of the base; in ppm that is numerator * 10^6 / denominator,
  // exact only when the percentage has at most four decimals. Both fit int64, so the product
  // fits 128 bits.
  __int128 scaled = static_cast<__int128>(rate->numerator()) * kPpmPerUnit;
  if (scaled % rate->denominator() != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("percentage \"", text, "\" has more than four decimals"));
  }
  __int128 ppm = scaled / rate->denominator();
  if (ppm < 0 || ppm > kMaxPpm) {
    return absl::InvalidArgumentError(
        absl::StrCat("percentage \"", text, "\" is not between 0% and 100%"));
  }
  return Percentage(static_cast<int64_t>(ppm));
}

std::string Percentage::ToString() const {
  return money::Rate::FromFraction(ppm_, kPpmPerUnit)->ToString();
}

int64_t Percentage::ApplyTo(int64_t base_cents) const {
  return money::RoundHalfAwayFromZero(static_cast<__int128>(base_cents) * ppm_, kPpmPerUnit);
}

const std::vector<std::string>& RateTableFieldNames() {
  static const auto* names = [] {
    auto* result = new std::vector<std::string>();
    for (const FieldSpec& spec : FieldSpecs()) {
      result->push_back(spec.name);
    }
    return result;
  }();
  return *names;
}

absl::StatusOr<RateTable> ParseRateTable(absl::string_view text) {
  if (text.size() > kMaxTableTextBytes) {
    return InvalidField("rate_table", absl::StrCat("longer than ", kMaxTableTextBytes, " bytes"));
  }
  RateTable table;
  std::set<std::string> seen_keys;
  std::set<std::string> seen_fields;
  // Where each band and scalar came from, for error messages of the whole-table checks.
  std::map<std::string, int> line_of_field;
  int line_number = 0;
  for (absl::string_view raw_line : absl::StrSplit(text, '\n')) {
    ++line_number;
    absl::string_view line = absl::StripAsciiWhitespace(raw_line);
    if (line.empty() || line.front() == '#') {
      continue;
    }
    size_t equals = line.find('=');
    if (equals == absl::string_view::npos) {
      return InvalidField(absl::StrCat("line ", line_number), "expected \"key = value\"");
    }
    absl::string_view key = absl::StripAsciiWhitespace(line.substr(0, equals));
    absl::string_view value = absl::StripAsciiWhitespace(line.substr(equals + 1));
    auto fail = [&](absl::string_view problem) {
      return InvalidField(key.empty() ? absl::string_view("(empty key)") : key,
                          absl::StrCat("line ", line_number, ": ", problem));
    };
    if (!seen_keys.insert(std::string(key)).second) {
      return fail("given more than once");
    }

    absl::string_view name = key;
    std::optional<std::pair<int, int>> ages;
    size_t bracket = key.find('[');
    if (bracket != absl::string_view::npos) {
      if (key.back() != ']') {
        return fail("expected an age range like [17-52] at the end of the key");
      }
      name = key.substr(0, bracket);
      ages = ParseAgeRange(key.substr(bracket + 1, key.size() - bracket - 2));
      if (!ages.has_value()) {
        return fail("expected an age range like [17-52]");
      }
    }

    if (name == "version" || name == "valid_from" || name == "provisional") {
      if (ages.has_value()) {
        return fail("takes no age range");
      }
      seen_fields.insert(std::string(name));
      if (name == "version") {
        if (!IsValidVersion(value)) {
          return fail("expected 1-64 characters of letters, digits, '.', '_' and '-'");
        }
        table.version = std::string(value);
      } else if (name == "valid_from") {
        absl::StatusOr<absl::CivilDay> day = ParseDate("valid_from", value);
        if (!day.ok()) {
          return fail(absl::StrCat("\"", value, "\" is not a date YYYY-MM-DD"));
        }
        table.valid_from = *day;
      } else {
        for (absl::string_view listed : absl::StrSplit(value, ',', absl::SkipWhitespace())) {
          listed = absl::StripAsciiWhitespace(listed);
          if (FindSpec(listed) == nullptr) {
            return fail(absl::StrCat("\"", listed, "\" is not a rate field of the table"));
          }
          table.provisional_fields.insert(std::string(listed));
        }
      }
      continue;
    }

    const FieldSpec* spec = FindSpec(name);
    if (spec == nullptr) {
      return fail("unknown key");
    }
    if ((spec->kind == FieldSpec::Kind::kAgeBands) != ages.has_value()) {
      return fail(ages.has_value() ? "takes no age range"
                                   : "needs an age range, like employee_pension[17-52]");
    }
    seen_fields.insert(spec->name);
    line_of_field[std::string(key)] = line_number;
    switch (spec->kind) {
      case FieldSpec::Kind::kPercentage: {
        absl::StatusOr<Percentage> rate = Percentage::Parse(value);
        if (!rate.ok()) {
          return fail(rate.status().message());
        }
        table.*(spec->percentage) = *rate;
        break;
      }
      case FieldSpec::Kind::kAmount: {
        absl::StatusOr<int64_t> cents = ParseAmountCents(value);
        if (!cents.ok()) {
          return fail(cents.status().message());
        }
        table.*(spec->amount) = *cents;
        break;
      }
      case FieldSpec::Kind::kAgeBands: {
        auto [min_age, max_age] = *ages;
        if (min_age > max_age || max_age > kMaxAge) {
          return fail(absl::StrCat("age range must have min <= max <= ", kMaxAge));
        }
        absl::StatusOr<Percentage> rate = Percentage::Parse(value);
        if (!rate.ok()) {
          return fail(rate.status().message());
        }
        (table.*(spec->bands)).push_back(AgeBandRate{min_age, max_age, *rate});
        break;
      }
    }
  }

  for (absl::string_view required : {"version", "valid_from"}) {
    if (!seen_fields.contains(std::string(required))) {
      return InvalidField(required, "required");
    }
  }
  for (const FieldSpec& spec : FieldSpecs()) {
    if (!seen_fields.contains(spec.name)) {
      return InvalidField(spec.name, spec.kind == FieldSpec::Kind::kAgeBands
                                         ? "required: at least one age band, like [17-52]"
                                         : "required");
    }
    if (spec.kind != FieldSpec::Kind::kAgeBands) {
      continue;
    }
    std::vector<AgeBandRate>& bands = table.*(spec.bands);
    std::sort(bands.begin(), bands.end(),
              [](const AgeBandRate& a, const AgeBandRate& b) { return a.min_age < b.min_age; });
    for (size_t i = 1; i < bands.size(); ++i) {
      if (bands[i].min_age <= bands[i - 1].max_age) {
        std::string key = BandKey(spec.name, bands[i]);
        return InvalidField(key, absl::StrCat("line ", line_of_field[key], ": overlaps ",
                                              BandKey(spec.name, bands[i - 1])));
      }
    }
  }
  Percentage max_employee_pension = MaxEmployeePension(table);
  for (const char* total : {"tyel_total", "keva_total"}) {
    Percentage rate = table.*(FindSpec(total)->percentage);
    if (rate < max_employee_pension) {
      return InvalidField(total, absl::StrCat("line ", line_of_field[total], ": ", rate.ToString(),
                                              " is below the employee pension rate ",
                                              max_employee_pension.ToString(),
                                              ", which would make the employer share negative"));
    }
  }
  return table;
}

std::string FormatRateTable(const RateTable& table) {
  std::string out;
  absl::StrAppend(&out, "version = ", table.version, "\n");
  absl::StrAppend(&out, "valid_from = ", FormatDate(table.valid_from), "\n");
  for (const FieldSpec& spec : FieldSpecs()) {
    switch (spec.kind) {
      case FieldSpec::Kind::kPercentage:
        absl::StrAppend(&out, spec.name, " = ", (table.*(spec.percentage)).ToString(), "\n");
        break;
      case FieldSpec::Kind::kAmount:
        absl::StrAppend(&out, spec.name, " = ", FormatCents(table.*(spec.amount)), "\n");
        break;
      case FieldSpec::Kind::kAgeBands:
        for (const AgeBandRate& band : table.*(spec.bands)) {
          absl::StrAppend(&out, BandKey(spec.name, band), " = ", band.rate.ToString(), "\n");
        }
        break;
    }
  }
  if (!table.provisional_fields.empty()) {
    absl::StrAppend(&out, "provisional = ", absl::StrJoin(table.provisional_fields, ", "), "\n");
  }
  return out;
}

std::vector<RateTable> BuiltInRateTables() {
  std::vector<RateTable> tables;
  for (absl::string_view text : {kFinland2025, kFinland2026}) {
    absl::StatusOr<RateTable> table = ParseRateTable(text);
    if (!table.ok()) {
      // The shipped text is part of the program: failing to parse it is a bug.
      std::fprintf(stderr, "built-in rate table: %s\n", table.status().ToString().c_str());
      DieOnContractViolation("BuiltInRateTables: a shipped table does not parse");
    }
    tables.push_back(*std::move(table));
  }
  return tables;
}

absl::StatusOr<const RateTable*> SelectRateTable(absl::Span<const RateTable> tables,
                                                 absl::CivilDay date) {
  const RateTable* in_force = nullptr;
  for (const RateTable& table : tables) {
    if (table.valid_from <= date &&
        (in_force == nullptr || table.valid_from >= in_force->valid_from)) {
      in_force = &table;
    }
  }
  if (in_force == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("no payroll rate table is in force on ", FormatDate(date),
                     ": load a table whose valid_from is on or before that date"));
  }
  return in_force;
}

absl::StatusOr<absl::CivilDay> ParseDate(absl::string_view field, absl::string_view text) {
  int y = 0, m = 0, d = 0;
  if (text.size() != 10 || text[4] != '-' || text[7] != '-' || !AllDigits(text.substr(0, 4)) ||
      !AllDigits(text.substr(5, 2)) || !AllDigits(text.substr(8, 2)) ||
      !absl::SimpleAtoi(text.substr(0, 4), &y) || !absl::SimpleAtoi(text.substr(5, 2), &m) ||
      !absl::SimpleAtoi(text.substr(8, 2), &d)) {
    return InvalidField(field, absl::StrCat("\"", text, "\" is not a date YYYY-MM-DD"));
  }
  absl::CivilDay day(y, m, d);
  if (day.year() != y || day.month() != m || day.day() != d || y < 1900 || y > 2999) {
    return InvalidField(field, absl::StrCat("\"", text, "\" is not a calendar date"));
  }
  return day;
}

std::string FormatDate(absl::CivilDay day) {
  return absl::StrFormat("%04d-%02d-%02d", day.year(), day.month(), day.day());
}

absl::StatusOr<absl::CivilMonth> ParsePeriod(absl::string_view field, absl::string_view text) {
  int y = 0, m = 0;
  if (text.size() != 7 || text[4] != '-' || !AllDigits(text.substr(0, 4)) ||
      !AllDigits(text.substr(5, 2)) || !absl::SimpleAtoi(text.substr(0, 4), &y) ||
      !absl::SimpleAtoi(text.substr(5, 2), &m) || m < 1 || m > 12 || y < 1900 || y > 2999) {
    return InvalidField(field, absl::StrCat("\"", text, "\" is not a period YYYY-MM"));
  }
  return absl::CivilMonth(y, m);
}

std::string FormatPeriod(absl::CivilMonth month) {
  return absl::StrFormat("%04d-%02d", month.year(), month.month());
}

std::string FormatCents(int64_t cents) { return money::Money::FromMinor(cents).ToString(); }

}  // namespace tahe::payroll
