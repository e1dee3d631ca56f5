#include "services/reporting/reporting_domain.h"

#include <algorithm>
#include <functional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "libs/dates/dates.h"
#include "libs/money/money.h"
#include "libs/status/status.h"

namespace tahe::reporting {

// --- dates ---------------------------------------------------------------------------------------

absl::CivilDay LastDayOfMonth(absl::CivilMonth month) { return absl::CivilDay(month + 1) - 1; }

bool IsWholeMonths(absl::CivilDay from, absl::CivilDay to) {
  return from.day() == 1 && to == LastDayOfMonth(absl::CivilMonth(to));
}

RangeSplit SplitRange(absl::CivilDay from, absl::CivilDay to) {
  RangeSplit split;
  absl::CivilMonth first_full(from);
  absl::CivilMonth last_full(to);
  if (from.day() != 1) {
    absl::CivilDay head_end = std::min(to, LastDayOfMonth(absl::CivilMonth(from)));
    split.days.push_back({from, head_end});
    first_full = absl::CivilMonth(from) + 1;
  }
  if (to != LastDayOfMonth(absl::CivilMonth(to))) {
    absl::CivilDay tail_start = std::max(from, absl::CivilDay(absl::CivilMonth(to)));
    // A range inside one month that neither starts nor ends it is already the head.
    if (split.days.empty() || split.days.back().to < tail_start) {
      split.days.push_back({tail_start, to});
    }
    last_full = absl::CivilMonth(to) - 1;
  }
  if (first_full <= last_full) {
    split.first_month = first_full;
    split.last_month = last_full;
  }
  return split;
}

MonthSplit SplitMonths(absl::CivilMonth from, absl::CivilMonth to) {
  MonthSplit split;
  const absl::CivilYear first_full = absl::CivilYear(from) + (from.month() == 1 ? 0 : 1);
  const absl::CivilYear last_full = absl::CivilYear(to) - (to.month() == 12 ? 0 : 1);
  if (first_full > last_full) {
    split.months.push_back({from, to});  // no whole year inside
    return split;
  }
  split.first_year = first_full;
  split.last_year = last_full;
  if (from.month() != 1) {
    split.months.push_back({from, absl::CivilMonth(first_full) - 1});
  }
  if (to.month() != 12) {
    split.months.push_back({absl::CivilMonth(last_full) + 12, to});
  }
  return split;
}

absl::CivilDay ShiftYears(absl::CivilDay day, int years) {
  absl::CivilMonth month(day.year() + years, day.month());
  absl::CivilDay last = LastDayOfMonth(month);
  if (day == LastDayOfMonth(absl::CivilMonth(day))) {
    return last;
  }
  return absl::CivilDay(month.year(), month.month(), std::min(day.day(), last.day()));
}

// --- scope ---------------------------------------------------------------------------------------

bool IsValidDimensionKey(absl::string_view key) {
  if (key.empty() || key.size() > 32 || !absl::ascii_islower(key[0])) {
    return false;
  }
  for (char c : key) {
    if (!absl::ascii_islower(c) && !absl::ascii_isdigit(c) && c != '_') {
      return false;
    }
  }
  return true;
}

bool IsValidAccountNumber(absl::string_view account) {
  if (account.empty() || account.size() > 10) {
    return false;
  }
  return std::all_of(account.begin(), account.end(), [](char c) { return absl::ascii_isdigit(c); });
}

absl::StatusOr<Scope> ValidateScope(const v1::ReportScope& in, const ScopeRules& rules) {
  Scope scope;
  if (in.to_date().empty()) {
    return InvalidField("scope.to_date", "required");
  }
  ASSIGN_OR_RETURN(scope.to, ParseDate("scope.to_date", in.to_date()));
  if (rules.needs_from) {
    if (in.from_date().empty()) {
      return InvalidField("scope.from_date", "required");
    }
    ASSIGN_OR_RETURN(scope.from, ParseDate("scope.from_date", in.from_date()));
    if (scope.from > scope.to) {
      return InvalidField("scope.to_date", "before scope.from_date");
    }
  } else {
    if (!in.from_date().empty()) {
      return InvalidField("scope.from_date", "must be empty: a balance sheet is as of to_date");
    }
    scope.from = kBeginningOfTime;
  }
  if (!in.currency_code().empty()) {
    if (!money::IsValidCurrencyCode(in.currency_code())) {
      return InvalidField("scope.currency_code", "not an ISO 4217 code such as EUR");
    }
    scope.currency = in.currency_code();
  }
  if (in.min_sequence() < 0) {
    return InvalidField("scope.min_sequence", "must be >= 0");
  }
  scope.min_sequence = in.min_sequence();
  if (!in.dimension_key().empty() || !in.dimension_value().empty()) {
    if (!rules.allow_dimension) {
      return InvalidField(
          in.dimension_key().empty() ? "scope.dimension_value" : "scope.dimension_key",
          "this report takes no dimension filter");
    }
    if (in.dimension_key().empty()) {
      return InvalidField("scope.dimension_key", "required with dimension_value");
    }
    if (!IsValidDimensionKey(in.dimension_key())) {
      return InvalidField("scope.dimension_key", "not a dimension key ([a-z][a-z0-9_]{0,31})");
    }
    if (in.dimension_value().empty()) {
      return InvalidField("scope.dimension_value", "required with dimension_key");
    }
    RETURN_IF_ERROR(ValidateText("scope.dimension_value", in.dimension_value(), 64));
    scope.dimension_key = in.dimension_key();
    scope.dimension_value = in.dimension_value();
  }
  if (rules.whole_months || scope.has_dimension()) {
    const char* why = rules.whole_months ? "this report covers whole months"
                                         : "a dimension filter needs whole months";
    if (rules.needs_from && scope.from.day() != 1) {
      return InvalidField("scope.from_date", absl::StrCat("must be the 1st of a month: ", why));
    }
    if (scope.to != LastDayOfMonth(absl::CivilMonth(scope.to))) {
      return InvalidField("scope.to_date", absl::StrCat("must be a month's last day: ", why));
    }
  }
  return scope;
}

// --- statement structure -------------------------------------------------------------------------

namespace {

using N = RowNature;

const std::vector<RowDef>& IncomeDefs() {
  static const auto* const rows = new std::vector<RowDef>{
      {"TOIMINTATUOTOT",
       "Toimintatuotot",
       0,
       true,
       {"MYYNTITUOTOT", "MAKSUTUOTOT", "TUET_JA_AVUSTUKSET", "MUUT_TOIMINTATUOTOT"},
       false,
       N::kNone,
       false},
      {"MYYNTITUOTOT", "Myyntituotot", 1, false, {}, true, N::kIncome, false},
      {"MAKSUTUOTOT", "Maksutuotot", 1, false, {}, true, N::kIncome, false},
      {"TUET_JA_AVUSTUKSET", "Tuet ja avustukset", 1, false, {}, true, N::kIncome, false},
      {"MUUT_TOIMINTATUOTOT", "Muut toimintatuotot", 1, false, {}, true, N::kIncome, false},
      {"VALMISTUS_OMAAN_KAYTTOON",
       "Valmistus omaan käyttöön",
       0,
       false,
       {},
       true,
       N::kIncome,
       false},
      {"TOIMINTAKULUT",
       "Toimintakulut",
       0,
       true,
       {"HENKILOSTOKULUT", "PALVELUJEN_OSTOT", "AINEET_TARVIKKEET_JA_TAVARAT", "AVUSTUKSET",
        "MUUT_TOIMINTAKULUT"},
       false,
       N::kNone,
       false},
      {"HENKILOSTOKULUT",
       "Henkilöstökulut",
       1,
       true,
       {"PALKAT_JA_PALKKIOT", "HENKILOSIVUKULUT"},
       false,
       N::kNone,
       false},
      {"PALKAT_JA_PALKKIOT", "Palkat ja palkkiot", 2, false, {}, true, N::kExpense, false},
      {"HENKILOSIVUKULUT",
       "Henkilösivukulut",
       2,
       true,
       {"ELAKEKULUT", "MUUT_HENKILOSIVUKULUT"},
       false,
       N::kNone,
       false},
      {"ELAKEKULUT", "Eläkekulut", 3, false, {}, true, N::kExpense, false},
      {"MUUT_HENKILOSIVUKULUT", "Muut henkilösivukulut", 3, false, {}, true, N::kExpense, false},
      {"PALVELUJEN_OSTOT", "Palvelujen ostot", 1, false, {}, true, N::kExpense, false},
      {"AINEET_TARVIKKEET_JA_TAVARAT",
       "Aineet, tarvikkeet ja tavarat",
       1,
       false,
       {},
       true,
       N::kExpense,
       false},
      {"AVUSTUKSET", "Avustukset", 1, false, {}, true, N::kExpense, false},
      {"MUUT_TOIMINTAKULUT", "Muut toimintakulut", 1, false, {}, true, N::kExpense, false},
      {"TOIMINTAKATE",
       "Toimintakate",
       0,
       true,
       {"TOIMINTATUOTOT", "VALMISTUS_OMAAN_KAYTTOON", "TOIMINTAKULUT"},
       false,
       N::kNone,
       false},
      {"VEROTULOT", "Verotulot", 0, false, {}, true, N::kIncome, false},
      {"VALTIONOSUUDET",
       "Valtionosuudet (valtion rahoitus)",
       0,
       false,
       {},
       true,
       N::kIncome,
       false},
      {"RAHOITUSTUOTOT_JA_KULUT", "Rahoitustuotot ja -kulut", 0, false, {}, true, N::kMixed, false},
      {"VUOSIKATE",
       "Vuosikate",
       0,
       true,
       {"TOIMINTAKATE", "VEROTULOT", "VALTIONOSUUDET", "RAHOITUSTUOTOT_JA_KULUT"},
       false,
       N::kNone,
       false},
      {"POISTOT_JA_ARVONALENTUMISET",
       "Poistot ja arvonalentumiset",
       0,
       false,
       {},
       true,
       N::kExpense,
       false},
      {"SATUNNAISET_ERAT", "Satunnaiset erät", 0, false, {}, true, N::kMixed, false},
      {"TILIKAUDEN_TULOS",
       "Tilikauden tulos",
       0,
       true,
       {"VUOSIKATE", "POISTOT_JA_ARVONALENTUMISET", "SATUNNAISET_ERAT"},
       false,
       N::kNone,
       false},
      {"POISTOERON_VARAUSTEN_JA_RAHASTOJEN_MUUTOS",
       "Poistoeron, varausten ja rahastojen muutos",
       0,
       false,
       {},
       true,
       N::kExpense,
       false},
      {"TILIKAUDEN_YLIJAAMA",
       "Tilikauden ylijäämä (alijäämä)",
       0,
       true,
       {"TILIKAUDEN_TULOS", "POISTOERON_VARAUSTEN_JA_RAHASTOJEN_MUUTOS"},
       false,
       N::kNone,
       false},
      {kUnmappedRow, "Kohdistamattomat tilit", 0, false, {}, false, N::kNone, false},
  };
  return *rows;
}

const std::vector<RowDef>& BalanceDefs() {
  static const auto* const rows = new std::vector<RowDef>{
      {"VASTAAVAA",
       "VASTAAVAA",
       0,
       true,
       {"PYSYVAT_VASTAAVAT", "VAIHTUVAT_VASTAAVAT"},
       false,
       N::kNone,
       true},
      {"PYSYVAT_VASTAAVAT",
       "Pysyvät vastaavat",
       1,
       true,
       {"AINEETTOMAT_HYODYKKEET", "AINEELLISET_HYODYKKEET", "SIJOITUKSET"},
       false,
       N::kNone,
       true},
      {"AINEETTOMAT_HYODYKKEET", "Aineettomat hyödykkeet", 2, false, {}, true, N::kNone, true},
      {"AINEELLISET_HYODYKKEET", "Aineelliset hyödykkeet", 2, false, {}, true, N::kNone, true},
      {"SIJOITUKSET", "Sijoitukset", 2, false, {}, true, N::kNone, true},
      {"VAIHTUVAT_VASTAAVAT",
       "Vaihtuvat vastaavat",
       1,
       true,
       {"VAIHTO_OMAISUUS", "SAAMISET", "RAHAT_JA_PANKKISAAMISET"},
       false,
       N::kNone,
       true},
      {"VAIHTO_OMAISUUS", "Vaihto-omaisuus", 2, false, {}, true, N::kNone, true},
      {"SAAMISET", "Saamiset", 2, false, {}, true, N::kNone, true},
      {"RAHAT_JA_PANKKISAAMISET", "Rahat ja pankkisaamiset", 2, false, {}, true, N::kNone, true},
      {"VASTATTAVAA",
       "VASTATTAVAA",
       0,
       true,
       {"OMA_PAAOMA", "POISTOERO_JA_VAPAAEHTOISET_VARAUKSET", "VIERAS_PAAOMA", kUnmappedRow},
       false,
       N::kNone,
       false},
      {"OMA_PAAOMA",
       "Oma pääoma",
       1,
       true,
       {"PERUSPAAOMA", "EDELLISTEN_TILIKAUSIEN_YLIJAAMA", "TILIKAUDEN_YLIJAAMA"},
       false,
       N::kNone,
       false},
      {"PERUSPAAOMA", "Peruspääoma ja rahastot", 2, false, {}, true, N::kNone, false},
      {"EDELLISTEN_TILIKAUSIEN_YLIJAAMA",
       "Edellisten tilikausien ylijäämä (alijäämä)",
       2,
       false,
       {},
       true,
       N::kNone,
       false},
      {"TILIKAUDEN_YLIJAAMA",
       "Tilikauden ylijäämä (alijäämä)",
       2,
       false,
       {},
       false,
       N::kNone,
       false},
      {"POISTOERO_JA_VAPAAEHTOISET_VARAUKSET",
       "Poistoero ja vapaaehtoiset varaukset",
       1,
       false,
       {},
       true,
       N::kNone,
       false},
      {"VIERAS_PAAOMA",
       "Vieras pääoma",
       1,
       true,
       {"PITKAAIKAINEN_VIERAS_PAAOMA", "LYHYTAIKAINEN_VIERAS_PAAOMA"},
       false,
       N::kNone,
       false},
      {"PITKAAIKAINEN_VIERAS_PAAOMA", "Pitkäaikainen", 2, false, {}, true, N::kNone, false},
      {"LYHYTAIKAINEN_VIERAS_PAAOMA", "Lyhytaikainen", 2, false, {}, true, N::kNone, false},
      {kUnmappedRow, "Kohdistamattomat tilit", 1, false, {}, false, N::kNone, false},
  };
  return *rows;
}

struct DefaultRule {
  const char* from;
  const char* to;
  const char* row;
};

// The ledger's fi-municipal chart template (services/ledger/ledger_domain.cc) by number range.
constexpr DefaultRule kDefaultRules[] = {
    {"1000", "1099", "AINEETTOMAT_HYODYKKEET"},
    {"1100", "1199", "AINEELLISET_HYODYKKEET"},
    {"1200", "1499", "SIJOITUKSET"},
    {"1500", "1699", "VAIHTO_OMAISUUS"},
    {"1700", "1899", "SAAMISET"},
    {"1900", "1999", "RAHAT_JA_PANKKISAAMISET"},
    {"2000", "2049", "PERUSPAAOMA"},
    {"2050", "2099", "EDELLISTEN_TILIKAUSIEN_YLIJAAMA"},
    {"2100", "2499", "POISTOERO_JA_VAPAAEHTOISET_VARAUKSET"},
    {"2500", "2699", "PITKAAIKAINEN_VIERAS_PAAOMA"},
    {"2700", "2999", "LYHYTAIKAINEN_VIERAS_PAAOMA"},
    {"3000", "3099", "MYYNTITUOTOT"},
    {"3100", "3199", "MAKSUTUOTOT"},
    {"3200", "3299", "TUET_JA_AVUSTUKSET"},
    {"3300", "3499", "MUUT_TOIMINTATUOTOT"},
    {"3500", "3999", "VALMISTUS_OMAAN_KAYTTOON"},
    {"4000", "4099", "PALKAT_JA_PALKKIOT"},
    {"4100", "4149", "ELAKEKULUT"},
    {"4150", "4299", "MUUT_HENKILOSIVUKULUT"},
    {"4300", "4399", "PALVELUJEN_OSTOT"},
    {"4400", "4499", "AINEET_TARVIKKEET_JA_TAVARAT"},
    {"4500", "4599", "AVUSTUKSET"},
    {"4600", "4999", "MUUT_TOIMINTAKULUT"},
    {"5000", "5099", "VEROTULOT"},
    {"5100", "5199", "VALTIONOSUUDET"},
    {"5200", "5399", "RAHOITUSTUOTOT_JA_KULUT"},
    {"6000", "6999", "POISTOT_JA_ARVONALENTUMISET"},
    {"7000", "7999", "SATUNNAISET_ERAT"},
    {"8000", "8999", "POISTOERON_VARAUSTEN_JA_RAHASTOJEN_MUUTOS"},
};

// An account number padded on the right to 10 digits with `fill`.
uint64_t Padded(absl::string_view number, char fill) {
  uint64_t value = 0;
  for (size_t i = 0; i < 10; ++i) {
    char c = i < number.size() ? number[i] : fill;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  return value;
}

}  // namespace

const std::vector<RowDef>& IncomeStatementRows() { return IncomeDefs(); }
const std::vector<RowDef>& BalanceSheetRows() { return BalanceDefs(); }

std::vector<std::string> MappableRowCodes() {
  std::vector<std::string> codes;
  for (const auto* defs : {&IncomeDefs(), &BalanceDefs()}) {
    for (const RowDef& row : *defs) {
      if (row.mappable) {
        codes.push_back(row.code);
      }
    }
  }
  return codes;
}

const RowDef* FindRow(absl::string_view code) {
  for (const auto* defs : {&IncomeDefs(), &BalanceDefs()}) {
    for (const RowDef& row : *defs) {
      if (row.mappable && code == row.code) {
        return &row;
      }
    }
  }
  return nullptr;
}

bool IsIncomeStatementRow(absl::string_view code) {
  for (const RowDef& row : IncomeDefs()) {
    if (row.mappable && code == row.code) {
      return true;
    }
  }
  return false;
}

// --- mapping -------------------------------------------------------------------------------------

StatementMapping StatementMapping::Default() {
  google::protobuf::RepeatedPtrField<v1::MappingRule> rules;
  for (const DefaultRule& d : kDefaultRules) {
    v1::MappingRule* rule = rules.Add();
    rule->set_row_code(d.row);
    rule->set_from_account(d.from);
    rule->set_to_account(d.to);
  }
  absl::StatusOr<StatementMapping> mapping = FromRules(rules);
  // The table above is valid by construction; the unit tests check it.
  StatementMapping out = *std::move(mapping);
  out.is_default_ = true;
  return out;
}

absl::StatusOr<StatementMapping> StatementMapping::FromRules(
    const google::protobuf::RepeatedPtrField<v1::MappingRule>& rules) {
  if (rules.empty()) {
    return Default();
  }
  if (rules.size() > 1000) {
    return InvalidField("rules", "at most 1000 rules");
  }
  StatementMapping mapping;
  std::vector<std::pair<Rule, int>> indexed;
  for (int i = 0; i < rules.size(); ++i) {
    const v1::MappingRule& in = rules[i];
    const std::string field = absl::StrCat("rules[", i, "]");
    if (FindRow(in.row_code()) == nullptr) {
      return InvalidField(
          absl::StrCat(field, ".row_code"),
          absl::StrCat("\"", in.row_code(), "\" is not a statement row accounts can be mapped to"));
    }
    if (!IsValidAccountNumber(in.from_account())) {
      return InvalidField(absl::StrCat(field, ".from_account"), "1-10 digits");
    }
    if (!IsValidAccountNumber(in.to_account())) {
      return InvalidField(absl::StrCat(field, ".to_account"), "1-10 digits");
    }
    Rule rule{in.row_code(), in.from_account(), in.to_account(), Padded(in.from_account(), '0'),
              Padded(in.to_account(), '9')};
    if (rule.lo > rule.hi) {
      return InvalidField(absl::StrCat(field, ".to_account"), "before from_account");
    }
    indexed.emplace_back(std::move(rule), i);
  }
  std::sort(indexed.begin(), indexed.end(),
            [](const auto& a, const auto& b) { return a.first.lo < b.first.lo; });
  for (size_t i = 1; i < indexed.size(); ++i) {
    if (indexed[i].first.lo <= indexed[i - 1].first.hi) {
      int later = std::max(indexed[i].second, indexed[i - 1].second);
      int earlier = std::min(indexed[i].second, indexed[i - 1].second);
      return InvalidField(absl::StrCat("rules[", later, "]"),
                          absl::StrCat("overlaps rules[", earlier, "]"));
    }
  }
  for (auto& [rule, index] : indexed) {
    mapping.rules_.push_back(std::move(rule));
  }
  return mapping;
}

std::string StatementMapping::RowOf(absl::string_view account) const {
  if (!IsValidAccountNumber(account)) {
    return kUnmappedRow;
  }
  const uint64_t key = Padded(account, '0');
  // The last rule starting at or below the key.
  auto it = std::upper_bound(rules_.begin(), rules_.end(), key,
                             [](uint64_t k, const Rule& r) { return k < r.lo; });
  if (it == rules_.begin()) {
    return kUnmappedRow;
  }
  --it;
  return key <= it->hi ? it->row_code : std::string(kUnmappedRow);
}

v1::StatementMapping StatementMapping::ToProto() const {
  v1::StatementMapping out;
  for (const Rule& rule : rules_) {
    v1::MappingRule* r = out.add_rules();
    r->set_row_code(rule.row_code);
    r->set_from_account(rule.from);
    r->set_to_account(rule.to);
  }
  out.set_is_default(is_default_);
  for (const std::string& code : MappableRowCodes()) {
    out.add_row_codes(code);
  }
  return out;
}

// --- statements ----------------------------------------------------------------------------------

namespace {

struct Pair {
  int64_t current = 0;
  int64_t previous = 0;
};

// Leaf code -> account -> amounts (already signed as the statement shows them).
using LeafAccounts = std::map<std::string, std::map<std::string, Pair>>;

std::vector<v1::StatementRow> Assemble(const std::vector<RowDef>& defs, const LeafAccounts& leaves,
                                       const std::map<std::string, Pair>& extra) {
  std::map<std::string, Pair> leaf_totals;
  for (const auto& [code, accounts] : leaves) {
    for (const auto& [account, pair] : accounts) {
      leaf_totals[code].current += pair.current;
      leaf_totals[code].previous += pair.previous;
    }
  }
  for (const auto& [code, pair] : extra) {
    leaf_totals[code].current += pair.current;
    leaf_totals[code].previous += pair.previous;
  }
  std::map<std::string, const RowDef*> by_code;
  for (const RowDef& def : defs) {
    by_code[def.code] = &def;
  }
  std::function<Pair(const std::string&)> total = [&](const std::string& code) -> Pair {
    const RowDef* def = by_code.at(code);
    if (!def->is_subtotal) {
      auto it = leaf_totals.find(code);
      return it == leaf_totals.end() ? Pair() : it->second;
    }
    Pair sum;
    for (const char* part : def->parts) {
      Pair p = total(part);
      sum.current += p.current;
      sum.previous += p.previous;
    }
    return sum;
  };
  std::vector<v1::StatementRow> rows;
  for (const RowDef& def : defs) {
    v1::StatementRow row;
    row.set_code(def.code);
    row.set_label(def.label);
    row.set_level(def.level);
    row.set_is_subtotal(def.is_subtotal);
    Pair amount = total(def.code);
    row.set_amount_minor(amount.current);
    row.set_previous_minor(amount.previous);
    auto it = leaves.find(def.code);
    if (!def.is_subtotal && it != leaves.end()) {
      for (const auto& [account, pair] : it->second) {
        v1::StatementAccount* a = row.add_accounts();
        a->set_account(account);
        a->set_amount_minor(pair.current);
        a->set_previous_minor(pair.previous);
      }
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

int64_t NetOf(const AccountNets& nets, const std::string& account) {
  auto it = nets.find(account);
  return it == nets.end() ? 0 : it->second;
}

}  // namespace

std::vector<v1::StatementRow> BuildIncomeStatement(const StatementMapping& mapping,
                                                   const AccountNets& current,
                                                   const AccountNets& previous) {
  LeafAccounts leaves;
  auto add = [&](const AccountNets& nets, bool is_previous) {
    for (const auto& [account, net] : nets) {
      std::string row = mapping.RowOf(account);
      if (row != kUnmappedRow && !IsIncomeStatementRow(row)) {
        continue;  // a balance-sheet account
      }
      Pair& pair = leaves[row][account];
      (is_previous ? pair.previous : pair.current) += -net;  // credit positive
    }
  };
  add(current, false);
  add(previous, true);
  return Assemble(IncomeDefs(), leaves, {});
}

std::vector<v1::StatementRow> BuildBalanceSheet(const StatementMapping& mapping,
                                                const BalanceSheetFigures& current,
                                                const BalanceSheetFigures& previous) {
  LeafAccounts leaves;
  std::map<std::string, Pair> extra;
  auto add = [&](const BalanceSheetFigures& figures, bool is_previous) {
    auto slot = [&](Pair& pair) -> int64_t& { return is_previous ? pair.previous : pair.current; };
    for (const auto& [account, net] : figures.at_date) {
      std::string row = mapping.RowOf(account);
      if (row != kUnmappedRow && IsIncomeStatementRow(row)) {
        // The year's result so far, and the earlier years' results not closed to equity yet.
        const int64_t at_start = NetOf(figures.at_year_start, account);
        slot(extra["TILIKAUDEN_YLIJAAMA"]) += -(net - at_start);
        slot(extra["EDELLISTEN_TILIKAUSIEN_YLIJAAMA"]) += -at_start;
        continue;
      }
      bool assets = false;
      for (const RowDef& def : BalanceDefs()) {
        if (row == def.code) {
          assets = def.assets_side;
          break;
        }
      }
      slot(leaves[row][account]) += assets ? net : -net;
    }
  };
  add(current, false);
  add(previous, true);
  return Assemble(BalanceDefs(), leaves, extra);
}

int64_t RowAmount(const std::vector<v1::StatementRow>& rows, absl::string_view code) {
  for (const v1::StatementRow& row : rows) {
    if (row.code() == code) {
      return row.amount_minor();
    }
  }
  return 0;
}

IncomeAndExpenses SplitIncomeAndExpenses(const StatementMapping& mapping, const AccountNets& nets) {
  IncomeAndExpenses out;
  for (const auto& [account, net] : nets) {
    std::string row = mapping.RowOf(account);
    if (!IsIncomeStatementRow(row)) {
      continue;
    }
    switch (FindRow(row)->nature) {
      case RowNature::kIncome:
        out.income += -net;
        break;
      case RowNature::kExpense:
        out.expenses += net;
        break;
      case RowNature::kMixed:
        if (net <= 0) {
          out.income += -net;
        } else {
          out.expenses += net;
        }
        break;
      case RowNature::kNone:
        break;
    }
  }
  return out;
}

// --- formatting ----------------------------------------------------------------------------------

std::string FormatCents(int64_t cents) {
  const bool negative = cents < 0;
  const uint64_t magnitude =
      negative ? static_cast<uint64_t>(-(cents + 1)) + 1 : static_cast<uint64_t>(cents);
  const uint64_t fraction = magnitude % 100;
  return absl::StrCat(negative ? "-" : "", magnitude / 100, ".", fraction < 10 ? "0" : "",
                      fraction);
}

}  // namespace tahe::reporting
