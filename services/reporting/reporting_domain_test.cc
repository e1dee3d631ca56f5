// Unit tests of reporting's pure rules: date ranges, scope validation, the statement structure and
// mapping, and the statements' arithmetic.

#include "services/reporting/reporting_domain.h"

#include <catch2/catch.hpp>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "libs/dates/dates.h"

namespace tahe::reporting {
namespace {

using absl::CivilDay;
using absl::CivilMonth;

std::string Show(const RangeSplit& s) {
  std::string out;
  if (s.first_month) {
    absl::StrAppend(&out, "months ", FormatPeriod(*s.first_month), "..",
                    FormatPeriod(*s.last_month), ";");
  }
  for (const DayRange& d : s.days) {
    absl::StrAppend(&out, " days ", FormatDate(d.from), "..", FormatDate(d.to), ";");
  }
  return out;
}

TEST_CASE("a range splits into whole months and the days at either end", "[reporting]") {
  CHECK(Show(SplitRange(CivilDay(2026, 1, 1), CivilDay(2026, 3, 31))) ==
        "months 2026-01..2026-03;");
  CHECK(Show(SplitRange(CivilDay(2026, 1, 15), CivilDay(2026, 3, 10))) ==
        "months 2026-02..2026-02; days 2026-01-15..2026-01-31; days 2026-03-01..2026-03-10;");
  CHECK(Show(SplitRange(CivilDay(2026, 1, 15), CivilDay(2026, 2, 10))) ==
        " days 2026-01-15..2026-01-31; days 2026-02-01..2026-02-10;");
  CHECK(Show(SplitRange(CivilDay(2026, 1, 5), CivilDay(2026, 1, 20))) ==
        " days 2026-01-05..2026-01-20;");
  CHECK(Show(SplitRange(CivilDay(2026, 1, 5), CivilDay(2026, 1, 31))) ==
        " days 2026-01-05..2026-01-31;");
  CHECK(Show(SplitRange(CivilDay(2026, 1, 1), CivilDay(2026, 1, 30))) ==
        " days 2026-01-01..2026-01-30;");
  CHECK(Show(SplitRange(CivilDay(2026, 2, 1), CivilDay(2026, 2, 28))) ==
        "months 2026-02..2026-02;");
  CHECK(Show(SplitRange(CivilDay(2026, 3, 7), CivilDay(2026, 3, 7))) ==
        " days 2026-03-07..2026-03-07;");
  CHECK(Show(SplitRange(kBeginningOfTime, CivilDay(2026, 3, 9))) ==
        "months 1900-01..2026-02; days 2026-03-01..2026-03-09;");
}

TEST_CASE("every day of a range is covered exactly once by its split", "[reporting]") {
  // Exhaustive over two years of start and end days.
  const CivilDay start(2023, 12, 1);
  for (int a = 0; a < 120; a += 3) {
    for (int b = a; b < a + 430; b += 7) {
      const CivilDay from = start + a;
      const CivilDay to = start + b;
      RangeSplit split = SplitRange(from, to);
      std::set<CivilDay> covered;
      int64_t count = 0;
      auto cover = [&](CivilDay d) {
        covered.insert(d);
        ++count;
      };
      if (split.first_month) {
        REQUIRE(split.last_month.has_value());
        for (CivilMonth m = *split.first_month; m <= *split.last_month; ++m) {
          for (CivilDay d(m); d <= LastDayOfMonth(m); ++d) cover(d);
        }
      }
      for (const DayRange& r : split.days) {
        REQUIRE(r.from <= r.to);
        REQUIRE(CivilMonth(r.from) == CivilMonth(r.to));  // the daily table, one month at a time
        for (CivilDay d = r.from; d <= r.to; ++d) cover(d);
      }
      INFO(FormatDate(from) << ".." << FormatDate(to) << ": " << Show(split));
      REQUIRE(count == (to - from) + 1);
      REQUIRE(static_cast<int64_t>(covered.size()) == count);
      REQUIRE(*covered.begin() == from);
      REQUIRE(*covered.rbegin() == to);
    }
  }
}

TEST_CASE("every month of a range of months is covered once by whole years and months",
          "[reporting]") {
  const MonthSplit year = SplitMonths(CivilMonth(2025, 1), CivilMonth(2025, 12));
  CHECK(year.first_year == absl::CivilYear(2025));
  CHECK(year.last_year == absl::CivilYear(2025));
  CHECK(year.months.empty());
  const MonthSplit both = SplitMonths(CivilMonth(2023, 11), CivilMonth(2026, 2));
  CHECK(both.first_year == absl::CivilYear(2024));
  CHECK(both.last_year == absl::CivilYear(2025));
  CHECK(both.months == std::vector<MonthRange>{{CivilMonth(2023, 11), CivilMonth(2023, 12)},
                                               {CivilMonth(2026, 1), CivilMonth(2026, 2)}});
  const MonthSplit inside = SplitMonths(CivilMonth(2025, 2), CivilMonth(2025, 12));
  CHECK(!inside.first_year.has_value());
  CHECK(inside.months == std::vector<MonthRange>{{CivilMonth(2025, 2), CivilMonth(2025, 12)}});
  // Exhaustive over four years of first and last months.
  const CivilMonth start(2023, 1);
  for (int a = 0; a < 48; ++a) {
    for (int b = a; b < 48; ++b) {
      const CivilMonth from = start + a;
      const CivilMonth to = start + b;
      const MonthSplit split = SplitMonths(from, to);
      std::multiset<CivilMonth> covered;
      if (split.first_year) {
        REQUIRE(split.last_year.has_value());
        REQUIRE(*split.first_year <= *split.last_year);
        for (CivilMonth m(*split.first_year); m < CivilMonth(*split.last_year + 1); ++m) {
          covered.insert(m);
        }
      }
      REQUIRE(split.months.size() <= 2);
      for (const MonthRange& r : split.months) {
        REQUIRE(r.from <= r.to);
        for (CivilMonth m = r.from; m <= r.to; ++m) covered.insert(m);
      }
      REQUIRE(static_cast<int64_t>(covered.size()) == (to - from) + 1);
      REQUIRE(std::set<CivilMonth>(covered.begin(), covered.end()).size() == covered.size());
      REQUIRE(*covered.begin() == from);
      REQUIRE(*covered.rbegin() == to);
    }
  }
}

TEST_CASE("a year earlier keeps month ends and clamps leap days", "[reporting]") {
  CHECK(ShiftYears(CivilDay(2026, 3, 15), -1) == CivilDay(2025, 3, 15));
  CHECK(ShiftYears(CivilDay(2024, 2, 29), -1) == CivilDay(2023, 2, 28));
  CHECK(ShiftYears(CivilDay(2025, 2, 28), -1) == CivilDay(2024, 2, 29));  // a month's end
  CHECK(ShiftYears(CivilDay(2024, 2, 28), -1) == CivilDay(2023, 2, 28));  // not a month's end
  CHECK(ShiftYears(CivilDay(2026, 1, 1), -1) == CivilDay(2025, 1, 1));
  CHECK(IsWholeMonths(CivilDay(2024, 2, 1), CivilDay(2024, 2, 29)));
  CHECK_FALSE(IsWholeMonths(CivilDay(2024, 2, 1), CivilDay(2024, 2, 28)));
  CHECK(LastDayOfMonth(CivilMonth(2026, 12)) == CivilDay(2026, 12, 31));
}

v1::ReportScope MakeScope(const std::string& from, const std::string& to) {
  v1::ReportScope s;
  s.set_from_date(from);
  s.set_to_date(to);
  return s;
}

void RequireInvalid(const absl::StatusOr<Scope>& scope, const std::string& field) {
  INFO(scope.status().ToString());
  REQUIRE(scope.status().code() == absl::StatusCode::kInvalidArgument);
  REQUIRE(absl::StartsWith(scope.status().message(), field + ":"));
}

TEST_CASE("scope validation names the field", "[reporting]") {
  absl::StatusOr<Scope> ok = ValidateScope(MakeScope("2026-01-15", "2026-03-10"), {});
  REQUIRE(ok.ok());
  CHECK(ok->from == CivilDay(2026, 1, 15));
  CHECK(ok->currency == "EUR");
  CHECK_FALSE(ok->has_dimension());

  RequireInvalid(ValidateScope(MakeScope("", "2026-03-10"), {}), "scope.from_date");
  RequireInvalid(ValidateScope(MakeScope("2026-01-01", ""), {}), "scope.to_date");
  RequireInvalid(ValidateScope(MakeScope("2026-13-01", "2026-12-31"), {}), "scope.from_date");
  RequireInvalid(ValidateScope(MakeScope("2026-02-01", "2026-02-30"), {}), "scope.to_date");
  RequireInvalid(ValidateScope(MakeScope("2026-03-01", "2026-02-28"), {}), "scope.to_date");
  v1::ReportScope currency = MakeScope("2026-01-01", "2026-01-31");
  currency.set_currency_code("eur");
  RequireInvalid(ValidateScope(currency, {}), "scope.currency_code");
  v1::ReportScope negative = MakeScope("2026-01-01", "2026-01-31");
  negative.set_min_sequence(-1);
  RequireInvalid(ValidateScope(negative, {}), "scope.min_sequence");

  // Dimension filters: both fields, a valid key, whole months.
  v1::ReportScope dim = MakeScope("2026-01-01", "2026-02-28");
  dim.set_dimension_key("cost_centre");
  RequireInvalid(ValidateScope(dim, {}), "scope.dimension_value");
  dim.set_dimension_value("CC-1");
  REQUIRE(ValidateScope(dim, {}).ok());
  RequireInvalid(ValidateScope(dim, {.allow_dimension = false}), "scope.dimension_key");
  dim.set_dimension_key("Cost Centre");
  RequireInvalid(ValidateScope(dim, {}), "scope.dimension_key");
  dim.set_dimension_key("");
  RequireInvalid(ValidateScope(dim, {}), "scope.dimension_key");
  dim.set_dimension_key("cost_centre");
  dim.set_from_date("2026-01-02");
  RequireInvalid(ValidateScope(dim, {}), "scope.from_date");
  dim.set_from_date("2026-01-01");
  dim.set_to_date("2026-02-27");
  RequireInvalid(ValidateScope(dim, {}), "scope.to_date");
  dim.set_dimension_value("bad\nvalue");
  dim.set_to_date("2026-02-28");
  RequireInvalid(ValidateScope(dim, {}), "scope.dimension_value");

  // Reports of whole months refuse partial ones without a filter too.
  RequireInvalid(ValidateScope(MakeScope("2026-01-15", "2026-03-31"), {.whole_months = true}),
                 "scope.from_date");
  REQUIRE(ValidateScope(MakeScope("2026-01-01", "2026-03-31"), {.whole_months = true}).ok());

  // The balance sheet: as of to_date, no from_date.
  absl::StatusOr<Scope> sheet = ValidateScope(MakeScope("", "2026-03-10"), {.needs_from = false});
  REQUIRE(sheet.ok());
  CHECK(sheet->from == kBeginningOfTime);
  RequireInvalid(ValidateScope(MakeScope("2026-01-01", "2026-03-10"), {.needs_from = false}),
                 "scope.from_date");
}

TEST_CASE("the default mapping puts the ledger's template accounts in their rows", "[reporting]") {
  StatementMapping m = StatementMapping::Default();
  CHECK(m.is_default());
  CHECK(m.RowOf("1000") == "AINEETTOMAT_HYODYKKEET");
  CHECK(m.RowOf("1130") == "AINEELLISET_HYODYKKEET");
  CHECK(m.RowOf("1700") == "SAAMISET");
  CHECK(m.RowOf("1910") == "RAHAT_JA_PANKKISAAMISET");
  CHECK(m.RowOf("2000") == "PERUSPAAOMA");
  CHECK(m.RowOf("2050") == "EDELLISTEN_TILIKAUSIEN_YLIJAAMA");
  CHECK(m.RowOf("2200") == "POISTOERO_JA_VAPAAEHTOISET_VARAUKSET");
  CHECK(m.RowOf("2500") == "PITKAAIKAINEN_VIERAS_PAAOMA");
  CHECK(m.RowOf("2880") == "LYHYTAIKAINEN_VIERAS_PAAOMA");
  CHECK(m.RowOf("3000") == "MYYNTITUOTOT");
  CHECK(m.RowOf("3100") == "MAKSUTUOTOT");
  CHECK(m.RowOf("3300") == "MUUT_TOIMINTATUOTOT");
  CHECK(m.RowOf("3500") == "VALMISTUS_OMAAN_KAYTTOON");
  CHECK(m.RowOf("4000") == "PALKAT_JA_PALKKIOT");
  CHECK(m.RowOf("4100") == "ELAKEKULUT");
  CHECK(m.RowOf("4150") == "MUUT_HENKILOSIVUKULUT");
  CHECK(m.RowOf("4300") == "PALVELUJEN_OSTOT");
  CHECK(m.RowOf("4400") == "AINEET_TARVIKKEET_JA_TAVARAT");
  CHECK(m.RowOf("4500") == "AVUSTUKSET");
  CHECK(m.RowOf("4700") == "MUUT_TOIMINTAKULUT");
  CHECK(m.RowOf("5000") == "VEROTULOT");
  CHECK(m.RowOf("5100") == "VALTIONOSUUDET");
  CHECK(m.RowOf("5210") == "RAHOITUSTUOTOT_JA_KULUT");
  CHECK(m.RowOf("5310") == "RAHOITUSTUOTOT_JA_KULUT");
  CHECK(m.RowOf("6000") == "POISTOT_JA_ARVONALENTUMISET");
  CHECK(m.RowOf("7100") == "SATUNNAISET_ERAT");
  CHECK(m.RowOf("8200") == "POISTOERON_VARAUSTEN_JA_RAHASTOJEN_MUUTOS");
  // Sub-accounts that extend a number stay in its range; gaps are unmapped.
  CHECK(m.RowOf("300012") == "MYYNTITUOTOT");
  CHECK(m.RowOf("5500") == kUnmappedRow);
  CHECK(m.RowOf("9000") == kUnmappedRow);
  CHECK(m.RowOf("") == kUnmappedRow);
  CHECK(m.RowOf("12a") == kUnmappedRow);
  v1::StatementMapping proto = m.ToProto();
  CHECK(proto.is_default());
  CHECK(proto.rules_size() == 29);
  CHECK(proto.row_codes_size() == static_cast<int>(MappableRowCodes().size()));
}

TEST_CASE("custom mappings are validated naming the rule", "[reporting]") {
  google::protobuf::RepeatedPtrField<v1::MappingRule> rules;
  auto add = [&](const std::string& row, const std::string& from, const std::string& to) {
    v1::MappingRule* r = rules.Add();
    r->set_row_code(row);
    r->set_from_account(from);
    r->set_to_account(to);
  };
  add("MYYNTITUOTOT", "3000", "3199");
  add("PALKAT_JA_PALKKIOT", "4000", "4199");
  add("RAHAT_JA_PANKKISAAMISET", "19", "19");
  absl::StatusOr<StatementMapping> m = StatementMapping::FromRules(rules);
  REQUIRE(m.ok());
  CHECK_FALSE(m->is_default());
  CHECK(m->RowOf("3150") == "MYYNTITUOTOT");
  CHECK(m->RowOf("4150") == "PALKAT_JA_PALKKIOT");
  CHECK(m->RowOf("1910") == "RAHAT_JA_PANKKISAAMISET");
  CHECK(m->RowOf("2000") == kUnmappedRow);
  CHECK(m->ToProto().rules_size() == 3);

  auto refused = [&](const std::string& field) {
    absl::StatusOr<StatementMapping> bad = StatementMapping::FromRules(rules);
    INFO(bad.status().ToString());
    REQUIRE(bad.status().code() == absl::StatusCode::kInvalidArgument);
    REQUIRE(absl::StartsWith(bad.status().message(), field));
  };
  add("TOIMINTAKATE", "9000", "9099");  // a subtotal
  refused("rules[3].row_code:");
  rules.RemoveLast();
  add("VEROTULOT", "50a0", "5099");
  refused("rules[3].from_account:");
  rules.RemoveLast();
  add("VEROTULOT", "5099", "5000");
  refused("rules[3].to_account:");
  rules.RemoveLast();
  add("VEROTULOT", "3100", "3200");  // overlaps rules[0]
  refused("rules[3]: overlaps rules[0]");
  rules.RemoveLast();
  REQUIRE(StatementMapping::FromRules(rules).ok());
  // No rules: the default.
  CHECK(StatementMapping::FromRules({})->is_default());
}

const v1::StatementRow& Row(const std::vector<v1::StatementRow>& rows, const std::string& code) {
  for (const v1::StatementRow& row : rows) {
    if (row.code() == code) return row;
  }
  FAIL("no row " << code);
  throw std::logic_error("unreachable");
}

TEST_CASE("the income statement adds up its subtotals in the JHS order", "[reporting]") {
  // Nets are debit - credit: income accounts negative, expenses positive.
  AccountNets current{{"3000", -100000}, {"3100", -20000}, {"3500", -5000}, {"4000", 60000},
                      {"4100", 14000},   {"4150", 3000},   {"4300", 20000}, {"4700", 1000},
                      {"5000", -50000},  {"5100", -30000}, {"5210", -700},  {"5300", 2000},
                      {"6000", 9000},    {"7000", -400},   {"8000", 1500},  {"1910", 55555},
                      {"9999", 10}};
  AccountNets previous{{"3000", -90000}, {"4000", 50000}};
  std::vector<v1::StatementRow> rows =
      BuildIncomeStatement(StatementMapping::Default(), current, previous);
  std::vector<std::string> codes;
  for (const auto& r : rows) codes.push_back(r.code());
  CHECK(codes == std::vector<std::string>{"TOIMINTATUOTOT",
                                          "MYYNTITUOTOT",
                                          "MAKSUTUOTOT",
                                          "TUET_JA_AVUSTUKSET",
                                          "MUUT_TOIMINTATUOTOT",
                                          "VALMISTUS_OMAAN_KAYTTOON",
                                          "TOIMINTAKULUT",
                                          "HENKILOSTOKULUT",
                                          "PALKAT_JA_PALKKIOT",
                                          "HENKILOSIVUKULUT",
                                          "ELAKEKULUT",
                                          "MUUT_HENKILOSIVUKULUT",
                                          "PALVELUJEN_OSTOT",
                                          "AINEET_TARVIKKEET_JA_TAVARAT",
                                          "AVUSTUKSET",
                                          "MUUT_TOIMINTAKULUT",
                                          "TOIMINTAKATE",
                                          "VEROTULOT",
                                          "VALTIONOSUUDET",
                                          "RAHOITUSTUOTOT_JA_KULUT",
                                          "VUOSIKATE",
                                          "POISTOT_JA_ARVONALENTUMISET",
                                          "SATUNNAISET_ERAT",
                                          "TILIKAUDEN_TULOS",
                                          "POISTOERON_VARAUSTEN_JA_RAHASTOJEN_MUUTOS",
                                          "TILIKAUDEN_YLIJAAMA",
                                          "UNMAPPED"});
  CHECK(Row(rows, "TOIMINTATUOTOT").amount_minor() == 120000);
  CHECK(Row(rows, "TOIMINTATUOTOT").is_subtotal());
  CHECK(Row(rows, "HENKILOSIVUKULUT").amount_minor() == -17000);
  CHECK(Row(rows, "HENKILOSTOKULUT").amount_minor() == -77000);
  CHECK(Row(rows, "TOIMINTAKULUT").amount_minor() == -98000);
  CHECK(Row(rows, "TOIMINTAKATE").amount_minor() == 120000 + 5000 - 98000);
  CHECK(Row(rows, "VUOSIKATE").amount_minor() == 27000 + 50000 + 30000 + 700 - 2000);
  CHECK(Row(rows, "RAHOITUSTUOTOT_JA_KULUT").accounts_size() == 2);
  CHECK(Row(rows, "TILIKAUDEN_TULOS").amount_minor() == 105700 - 9000 + 400);
  CHECK(Row(rows, "TILIKAUDEN_YLIJAAMA").amount_minor() == 97100 - 1500);
  CHECK(Row(rows, "UNMAPPED").amount_minor() == -10);
  CHECK(Row(rows, "UNMAPPED").accounts(0).account() == "9999");
  CHECK(Row(rows, "MYYNTITUOTOT").previous_minor() == 90000);
  CHECK(Row(rows, "TILIKAUDEN_YLIJAAMA").previous_minor() == 40000);
  CHECK(Row(rows, "PALKAT_JA_PALKKIOT").accounts(0).previous_minor() == -50000);
  CHECK(Row(rows, "HENKILOSTOKULUT").level() == 1);
  CHECK(Row(rows, "ELAKEKULUT").level() == 3);
  // The result is the negated sum of the mapped income-statement accounts' nets.
  int64_t sum = 0;
  for (const auto& [account, net] : current) {
    if (account != "1910" && account != "9999") sum += net;
  }
  CHECK(Row(rows, "TILIKAUDEN_YLIJAAMA").amount_minor() == -sum);
}

TEST_CASE("the balance sheet balances and carries the year's result", "[reporting]") {
  // A small but complete set of books: opening equity, a loan, a previous year's result not yet
  // closed, this year's income and expenses.
  BalanceSheetFigures now;
  now.at_year_start = {
      {"1910", 150000}, {"1110", 100000}, {"2000", -200000}, {"3000", -70000}, {"4000", 20000}};
  now.at_date = {{"1910", 180000},  {"1110", 100000}, {"1700", 12500},
                 {"2000", -200000}, {"2500", -10000}, {"3000", -130000},
                 {"4000", 45000},   {"2850", -2500},  {"9999", 5000}};
  BalanceSheetFigures before;  // a year earlier: nothing yet
  std::vector<v1::StatementRow> rows = BuildBalanceSheet(StatementMapping::Default(), now, before);
  const int64_t assets = Row(rows, "VASTAAVAA").amount_minor();
  CHECK(assets == 180000 + 100000 + 12500);
  CHECK(Row(rows, "VASTATTAVAA").amount_minor() == assets);
  CHECK(Row(rows, "TILIKAUDEN_YLIJAAMA").amount_minor() == (130000 - 70000) - (45000 - 20000));
  CHECK(Row(rows, "EDELLISTEN_TILIKAUSIEN_YLIJAAMA").amount_minor() == 70000 - 20000);
  CHECK(Row(rows, "PERUSPAAOMA").amount_minor() == 200000);
  CHECK(Row(rows, "PITKAAIKAINEN_VIERAS_PAAOMA").amount_minor() == 10000);
  CHECK(Row(rows, "LYHYTAIKAINEN_VIERAS_PAAOMA").amount_minor() == 2500);
  CHECK(Row(rows, "UNMAPPED").amount_minor() == -5000);
  CHECK(Row(rows, "RAHAT_JA_PANKKISAAMISET").accounts(0).account() == "1910");
  CHECK(Row(rows, "VASTAAVAA").previous_minor() == 0);
  CHECK(Row(rows, "VASTATTAVAA").previous_minor() == 0);
}

TEST_CASE("cost-centre income and expenses follow the rows' nature", "[reporting]") {
  IncomeAndExpenses ie = SplitIncomeAndExpenses(
      StatementMapping::Default(),
      {{"3000", -1000}, {"4000", 600}, {"5210", -30}, {"5300", 20}, {"1910", 999}, {"6000", 5}});
  CHECK(ie.income == 1030);
  CHECK(ie.expenses == 625);
}

TEST_CASE("cents are formatted exactly", "[reporting]") {
  CHECK(FormatCents(0) == "0.00");
  CHECK(FormatCents(5) == "0.05");
  CHECK(FormatCents(-5) == "-0.05");
  CHECK(FormatCents(123456) == "1234.56");
  CHECK(FormatCents(-100) == "-1.00");
  CHECK(FormatCents(INT64_MIN) == "-92233720368547758.08");
  CHECK(FormatCents(INT64_MAX) == "92233720368547758.07");
}

}  // namespace
}  // namespace tahe::reporting
