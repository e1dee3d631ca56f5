#pragma once

// The pure rules of reporting, free of gRPC and SQL: date ranges (validation, splitting into whole
// months and days, the same range a year earlier), the JHS 192 / JHS 207 statement structure, the
// mapping of accounts to statement rows, and the statements computed from account balances.
//
//   ASSIGN_OR_RETURN(Scope scope, ValidateScope(req.scope(), {.whole_months = true}));
//   RangeSplit split = SplitRange(scope.from, scope.to);   // months from the monthly table...
//   StatementMapping mapping = StatementMapping::Default();
//   v1::Statement is = BuildIncomeStatement(mapping, current_nets, previous_nets);
//
// Nets are debit - credit per account number (AccountNets); statements flip the sign where the
// statement shows credits positive.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "tahe/reporting/v1/reporting.pb.h"

namespace tahe::reporting {

namespace v1 = ::tahe::reporting::v1;

// --- dates ---------------------------------------------------------------------------------------

// The earliest day a report can reach (ParseDate accepts years from 1900).
inline constexpr absl::CivilDay kBeginningOfTime{1900, 1, 1};

struct DayRange {
  absl::CivilDay from;  // inclusive
  absl::CivilDay to;    // inclusive
  bool operator==(const DayRange&) const = default;
};

// A day range as whole months (served from the monthly aggregates) plus the days at either end
// that do not fill their month (served from the daily ones).
struct RangeSplit {
  std::optional<absl::CivilMonth> first_month;  // both set or neither
  std::optional<absl::CivilMonth> last_month;
  std::vector<DayRange> days;  // at most two: the head and the tail
};

// REQUIRES: from <= to.
RangeSplit SplitRange(absl::CivilDay from, absl::CivilDay to);

// A range of whole months as whole calendar years (served from the yearly dimension aggregates)
// plus the months at either end that do not fill their year (from the monthly ones).
struct MonthRange {
  absl::CivilMonth from;  // inclusive
  absl::CivilMonth to;    // inclusive
  bool operator==(const MonthRange&) const = default;
};
struct MonthSplit {
  std::optional<absl::CivilYear> first_year;  // both set or neither
  std::optional<absl::CivilYear> last_year;
  std::vector<MonthRange> months;  // at most two: the head and the tail
};

// REQUIRES: from <= to.
MonthSplit SplitMonths(absl::CivilMonth from, absl::CivilMonth to);

absl::CivilDay LastDayOfMonth(absl::CivilMonth month);
// from is the 1st of its month and to the last day of its month.
bool IsWholeMonths(absl::CivilDay from, absl::CivilDay to);

// The same day `years` years away; a month's last day stays its month's last day (2024-02-29 ->
// 2023-02-28, 2023-02-28 -> 2024-02-29), other days are clamped to the month's length.
absl::CivilDay ShiftYears(absl::CivilDay day, int years);

// --- request scope -------------------------------------------------------------------------------

struct ScopeRules {
  // from_date required (else: must be empty, the balance sheet).
  bool needs_from = true;
  // The range must be whole months even without a dimension filter.
  bool whole_months = false;
  bool allow_dimension = true;
};

struct Scope {
  absl::CivilDay from;  // kBeginningOfTime when from_date is empty
  absl::CivilDay to;
  std::string currency = "EUR";
  std::string dimension_key;  // empty: no filter
  std::string dimension_value;
  int64_t min_sequence = 0;
  bool has_dimension() const { return !dimension_key.empty(); }
};

// INVALID_ARGUMENT naming the field ("scope.from_date: ...").
absl::StatusOr<Scope> ValidateScope(const v1::ReportScope& scope, const ScopeRules& rules);

// A dimension key as the ledger allows it: [a-z][a-z0-9_]{0,31}.
bool IsValidDimensionKey(absl::string_view key);
// An account number as the mapping accepts it: 1-10 digits.
bool IsValidAccountNumber(absl::string_view account);

// --- statement structure -------------------------------------------------------------------------

// What kind of money a row holds, for the cost-centre report's income and expense columns.
enum class RowNature { kNone, kIncome, kExpense, kMixed };

struct RowDef {
  const char* code;
  const char* label;
  int level;
  // A sum of `parts` (rows by code, each signed +1); a leaf holds accounts.
  bool is_subtotal;
  std::vector<const char*> parts;
  // Leaves a rule may name (not computed rows such as TILIKAUDEN_YLIJAAMA of the balance sheet).
  bool mappable;
  RowNature nature;
  // Balance sheet: on the assets side (debit positive) rather than liabilities (credit positive).
  bool assets_side;
};

// In statement order.
const std::vector<RowDef>& IncomeStatementRows();
const std::vector<RowDef>& BalanceSheetRows();
// Row codes a MappingRule may name, income statement first.
std::vector<std::string> MappableRowCodes();
// The definition of a row of either statement; nullptr if none.
const RowDef* FindRow(absl::string_view code);
// True for a row of the income statement.
bool IsIncomeStatementRow(absl::string_view code);

inline constexpr char kUnmappedRow[] = "UNMAPPED";

// --- mapping -------------------------------------------------------------------------------------

class StatementMapping {
 public:
  // The default: account-number ranges of the ledger's fi-municipal chart template.
  static StatementMapping Default();
  // Validated rules (INVALID_ARGUMENT naming "rules[i]..."); empty rules are the default.
  static absl::StatusOr<StatementMapping> FromRules(
      const google::protobuf::RepeatedPtrField<v1::MappingRule>& rules);

  // The row of an account; kUnmappedRow if no rule covers it.
  std::string RowOf(absl::string_view account) const;
  bool is_default() const { return is_default_; }
  v1::StatementMapping ToProto() const;

 private:
  struct Rule {
    std::string row_code;
    std::string from;
    std::string to;
    uint64_t lo;
    uint64_t hi;
  };
  std::vector<Rule> rules_;  // sorted by lo, not overlapping
  bool is_default_ = false;
};

// --- statements ----------------------------------------------------------------------------------

// Account number -> debit - credit.
using AccountNets = std::map<std::string, int64_t>;

// Rows in IncomeStatementRows() order; amounts credit positive. Accounts of the balance sheet are
// left out; unmapped accounts appear in the UNMAPPED row, which closes the statement outside the
// subtotals (it should be empty; a non-zero amount says the mapping misses accounts).
std::vector<v1::StatementRow> BuildIncomeStatement(const StatementMapping& mapping,
                                                   const AccountNets& current,
                                                   const AccountNets& previous);

// The balance sheet at a date. `at_date`: balances at the end of the date; `at_year_start`:
// balances at the end of the day before its fiscal (calendar) year began. The year's result
// (TILIKAUDEN_YLIJAAMA) is the income-statement accounts' movement between the two; earlier
// years' results are added to EDELLISTEN_TILIKAUSIEN_YLIJAAMA. Unmapped accounts appear in
// UNMAPPED on the liabilities side, so VASTAAVAA always equals VASTATTAVAA.
struct BalanceSheetFigures {
  AccountNets at_date;
  AccountNets at_year_start;
};
std::vector<v1::StatementRow> BuildBalanceSheet(const StatementMapping& mapping,
                                                const BalanceSheetFigures& current,
                                                const BalanceSheetFigures& previous);

// The amount of row `code` (0 if absent).
int64_t RowAmount(const std::vector<v1::StatementRow>& rows, absl::string_view code);

// Income and expenses (both positive) of a set of account nets, by the mapping's rows' natures.
struct IncomeAndExpenses {
  int64_t income = 0;
  int64_t expenses = 0;
};
IncomeAndExpenses SplitIncomeAndExpenses(const StatementMapping& mapping, const AccountNets& nets);

// --- formatting ----------------------------------------------------------------------------------

// Cents as "-1234.56".
std::string FormatCents(int64_t cents);

}  // namespace tahe::reporting
