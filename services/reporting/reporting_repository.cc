#include "services/reporting/reporting_repository.h"

#include <map>
#include <set>
#include <tuple>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "libs/dates/dates.h"
#include "libs/money/money.h"
#include "libs/pg/idempotency.h"
#include "libs/status/status.h"

namespace tahe::reporting {

namespace {

// Reports read several aggregates: one snapshot for all of them. The follower writes at READ
// COMMITTED, so a read-only SERIALIZABLE transaction never conflicts with it; it only pins the
// snapshot.
pg::TxOptions ReadTx(const CallContext& call) {
  return {.deadline = call.deadline, .serializable = true, .read_only = true};
}
pg::TxOptions WriteTx(absl::Time deadline) { return {.deadline = deadline}; }

// Empty date ranges for the unused parameters of kSumRange.
constexpr char kNoFrom[] = "2999-12-31";
constexpr char kNoTo[] = "1900-01-01";

std::string MonthDate(absl::CivilMonth month) { return FormatDate(absl::CivilDay(month)); }

// --- SQL -----------------------------------------------------------------------------------------

constexpr char kEnsureCheckpoint[] =
    "INSERT INTO feed_checkpoints (tenant_id, last_sequence) VALUES ($1, 0)"
    " ON CONFLICT (tenant_id) DO NOTHING";
constexpr char kSelectCheckpoint[] =
    "SELECT last_sequence FROM feed_checkpoints WHERE tenant_id = $1";
// The guard: only the follower that read `expected` moves the checkpoint; its row lock also
// makes a second follower of the same tenant wait for this transaction, then find 0 rows.
constexpr char kAdvanceCheckpoint[] =
    "UPDATE feed_checkpoints SET last_sequence = $3, last_posted_at = NULLIF($4, '')::timestamptz,"
    " updated_at = now() WHERE tenant_id = $1 AND last_sequence = $2";
// ($4 is an RFC 3339 time, '' when unknown.)

constexpr char kUpsertDays[] =
    "INSERT INTO account_days (tenant_id, currency, account, day, debit_minor, credit_minor)"
    " SELECT $1, u.c, u.a, u.d, u.dr, u.cr"
    " FROM unnest($2::text[], $3::text[], $4::date[], $5::bigint[], $6::bigint[])"
    "   AS u(c, a, d, dr, cr)"
    " ON CONFLICT (tenant_id, currency, day, account) DO UPDATE SET"
    " debit_minor = account_days.debit_minor + EXCLUDED.debit_minor,"
    " credit_minor = account_days.credit_minor + EXCLUDED.credit_minor";
constexpr char kUpsertMonths[] =
    "INSERT INTO account_months (tenant_id, currency, account, month, debit_minor, credit_minor)"
    " SELECT $1, u.c, u.a, u.m, u.dr, u.cr"
    " FROM unnest($2::text[], $3::text[], $4::date[], $5::bigint[], $6::bigint[])"
    "   AS u(c, a, m, dr, cr)"
    " ON CONFLICT (tenant_id, currency, month, account) DO UPDATE SET"
    " debit_minor = account_months.debit_minor + EXCLUDED.debit_minor,"
    " credit_minor = account_months.credit_minor + EXCLUDED.credit_minor";
constexpr char kUpsertDimensionMonths[] =
    "INSERT INTO dimension_months (tenant_id, currency, dimension_key, dimension_value, account,"
    " month, debit_minor, credit_minor)"
    " SELECT $1, u.c, u.k, u.v, u.a, u.m, u.dr, u.cr"
    " FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::date[], $7::bigint[],"
    "   $8::bigint[]) AS u(c, k, v, a, m, dr, cr)"
    " ON CONFLICT (tenant_id, currency, dimension_key, month, dimension_value, account)"
    " DO UPDATE SET debit_minor = dimension_months.debit_minor + EXCLUDED.debit_minor,"
    " credit_minor = dimension_months.credit_minor + EXCLUDED.credit_minor";
constexpr char kUpsertDimensionYears[] =
    "INSERT INTO dimension_years (tenant_id, currency, dimension_key, dimension_value, account,"
    " year, debit_minor, credit_minor)"
    " SELECT $1, u.c, u.k, u.v, u.a, u.y, u.dr, u.cr"
    " FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::date[], $7::bigint[],"
    "   $8::bigint[]) AS u(c, k, v, a, y, dr, cr)"
    " ON CONFLICT (tenant_id, currency, dimension_key, year, dimension_value, account)"
    " DO UPDATE SET debit_minor = dimension_years.debit_minor + EXCLUDED.debit_minor,"
    " credit_minor = dimension_years.credit_minor + EXCLUDED.credit_minor";
constexpr char kUpsertPayrollMonths[] =
    "INSERT INTO payroll_months (tenant_id, currency, month, cost_centre, account, debit_minor,"
    " credit_minor)"
    " SELECT $1, u.c, u.m, u.cc, u.a, u.dr, u.cr"
    " FROM unnest($2::text[], $3::date[], $4::text[], $5::text[], $6::bigint[], $7::bigint[])"
    "   AS u(c, m, cc, a, dr, cr)"
    " ON CONFLICT (tenant_id, currency, month, cost_centre, account) DO UPDATE SET"
    " debit_minor = payroll_months.debit_minor + EXCLUDED.debit_minor,"
    " credit_minor = payroll_months.credit_minor + EXCLUDED.credit_minor";
constexpr char kInsertAccountsSeen[] =
    "INSERT INTO accounts_seen (tenant_id, account) SELECT $1, a FROM unnest($2::text[]) AS a"
    " ON CONFLICT DO NOTHING";

// Debit and credit per tenant and account over whole months [$3, $4] plus two day ranges.
// `%TENANT%` is "tenant_id = $1" for one tenant, "$1::text = ''" for the regional scope (the RLS
// policy then admits every tenant's rows).
constexpr char kSumRange[] =
    "SELECT tenant_id, account, sum(debit_minor)::bigint, sum(credit_minor)::bigint FROM ("
    "  SELECT tenant_id, account, debit_minor, credit_minor FROM account_months"
    "  WHERE %TENANT% AND currency = $2 AND month BETWEEN $3::date AND $4::date"
    "  UNION ALL"
    "  SELECT tenant_id, account, debit_minor, credit_minor FROM account_days"
    "  WHERE %TENANT% AND currency = $2"
    "    AND (day BETWEEN $5::date AND $6::date OR day BETWEEN $7::date AND $8::date)"
    ") x GROUP BY tenant_id, account";
// Debit and credit per dimension value and account over whole years [$5, $6] plus two month
// ranges (SplitMonths), one row per year or month: the caller adds them up (a GROUP BY here cost
// PostgreSQL more than the rows it saves). `%VALUE%` is "dimension_value = $4" for one value,
// "$4::text = ''" for every value.
constexpr char kSumDimension[] =
    "SELECT dimension_value, account, debit_minor, credit_minor FROM dimension_years"
    " WHERE tenant_id = $1 AND currency = $2 AND dimension_key = $3 AND %VALUE%"
    "   AND year BETWEEN $5::date AND $6::date"
    " UNION ALL"
    " SELECT dimension_value, account, debit_minor, credit_minor FROM dimension_months"
    " WHERE tenant_id = $1 AND currency = $2 AND dimension_key = $3 AND %VALUE%"
    "   AND (month BETWEEN $7::date AND $8::date OR month BETWEEN $9::date AND $10::date)";

// Rows of kSumDimension over the whole months [from, to]: one value of `key`, or every value
// when `value` is empty.
pqxx::result SumDimension(pqxx::work& tx, const std::string& tenant, const std::string& currency,
                          const std::string& key, const std::string& value, absl::CivilMonth from,
                          absl::CivilMonth to) {
  static const std::string one_value =
      absl::StrReplaceAll(kSumDimension, {{"%VALUE%", "dimension_value = $4"}});
  static const std::string every_value =
      absl::StrReplaceAll(kSumDimension, {{"%VALUE%", "$4::text = ''"}});
  MonthSplit split = SplitMonths(from, to);
  std::string y1 = kNoFrom, y2 = kNoTo, m1 = kNoFrom, m2 = kNoTo, m3 = kNoFrom, m4 = kNoTo;
  if (split.first_year) {
    y1 = FormatDate(absl::CivilDay(*split.first_year));
    y2 = FormatDate(absl::CivilDay(*split.last_year));
  }
  if (!split.months.empty()) {
    m1 = MonthDate(split.months[0].from);
    m2 = MonthDate(split.months[0].to);
  }
  if (split.months.size() > 1) {
    m3 = MonthDate(split.months[1].from);
    m4 = MonthDate(split.months[1].to);
  }
  return tx.exec_params(value.empty() ? every_value : one_value, tenant, currency, key, value, y1,
                        y2, m1, m2, m3, m4);
}

std::string WithTenantPredicate(absl::string_view sql, bool regional) {
  std::string out(sql);
  const std::string predicate = regional ? "$1::text = ''" : "tenant_id = $1";
  for (size_t at = out.find("%TENANT%"); at != std::string::npos; at = out.find("%TENANT%")) {
    out.replace(at, 8, predicate);
  }
  return out;
}

// --- sums ----------------------------------------------------------------------------------------

struct Movement {
  int64_t debit = 0;
  int64_t credit = 0;
  int64_t net() const { return debit - credit; }
};
using Movements = std::map<std::string, Movement>;  // by account

AccountNets Nets(const Movements& movements) {
  AccountNets nets;
  for (const auto& [account, m] : movements) {
    nets[account] = m.net();
  }
  return nets;
}

// Movements per tenant and account over [from, to] (whole months if `dimension_key` is set).
// `tenant` empty: every tenant the transaction may read (the regional scope).
std::map<std::string, Movements> SumRange(pqxx::work& tx, const std::string& tenant,
                                          const Scope& scope, absl::CivilDay from,
                                          absl::CivilDay to) {
  std::map<std::string, Movements> out;
  if (from < kBeginningOfTime) {
    from = kBeginningOfTime;
  }
  if (to < from) {
    return out;
  }
  pqxx::result rows;
  if (scope.has_dimension()) {
    rows = SumDimension(tx, tenant, scope.currency, scope.dimension_key, scope.dimension_value,
                        absl::CivilMonth(from), absl::CivilMonth(to));
    // One tenant's rows, keyed by it as below.
    for (const auto& row : rows) {
      Movement& m = out[tenant][row[1].as<std::string>()];
      m.debit += row[2].as<int64_t>();
      m.credit += row[3].as<int64_t>();
    }
    return out;
  } else {
    RangeSplit split = SplitRange(from, to);
    std::string m1 = kNoFrom, m2 = kNoTo, d1 = kNoFrom, d2 = kNoTo, d3 = kNoFrom, d4 = kNoTo;
    if (split.first_month) {
      m1 = MonthDate(*split.first_month);
      m2 = MonthDate(*split.last_month);
    }
    if (!split.days.empty()) {
      d1 = FormatDate(split.days[0].from);
      d2 = FormatDate(split.days[0].to);
    }
    if (split.days.size() > 1) {
      d3 = FormatDate(split.days[1].from);
      d4 = FormatDate(split.days[1].to);
    }
    rows = tx.exec_params(WithTenantPredicate(kSumRange, tenant.empty()), tenant, scope.currency,
                          m1, m2, d1, d2, d3, d4);
  }
  for (const auto& row : rows) {
    Movement& m = out[row[0].as<std::string>()][row[1].as<std::string>()];
    m.debit += row[2].as<int64_t>();
    m.credit += row[3].as<int64_t>();
  }
  return out;
}

Movements SumTenant(pqxx::work& tx, const std::string& tenant, const Scope& scope,
                    absl::CivilDay from, absl::CivilDay to) {
  std::map<std::string, Movements> all = SumRange(tx, tenant, scope, from, to);
  auto it = all.find(tenant);
  return it == all.end() ? Movements() : std::move(it->second);
}

// --- mapping -------------------------------------------------------------------------------------

absl::StatusOr<StatementMapping> MappingFromBytes(const std::string& hex) {
  v1::StatementMapping stored;
  if (!stored.ParseFromString(absl::HexStringToBytes(hex))) {
    return absl::InternalError("stored statement mapping does not parse");
  }
  return StatementMapping::FromRules(stored.rules());
}

absl::StatusOr<StatementMapping> LoadMapping(pqxx::work& tx, const std::string& tenant) {
  pqxx::result r = tx.exec_params(
      "SELECT encode(mapping, 'hex') FROM statement_mappings WHERE tenant_id = $1", tenant);
  if (r.empty()) {
    return StatementMapping::Default();
  }
  return MappingFromBytes(r[0][0].as<std::string>());
}

// --- statements ----------------------------------------------------------------------------------

void SetPrevious(v1::Statement& s, absl::CivilDay from, absl::CivilDay to, bool with_from) {
  if (with_from) {
    s.set_previous_from_date(FormatDate(ShiftYears(from, -1)));
  }
  s.set_previous_to_date(FormatDate(ShiftYears(to, -1)));
}

std::vector<v1::StatementRow> IncomeRows(pqxx::work& tx, const std::string& tenant,
                                         const Scope& scope, const StatementMapping& mapping) {
  AccountNets current = Nets(SumTenant(tx, tenant, scope, scope.from, scope.to));
  AccountNets previous =
      Nets(SumTenant(tx, tenant, scope, ShiftYears(scope.from, -1), ShiftYears(scope.to, -1)));
  return BuildIncomeStatement(mapping, current, previous);
}

BalanceSheetFigures SheetFigures(pqxx::work& tx, const std::string& tenant, const Scope& scope,
                                 absl::CivilDay at) {
  BalanceSheetFigures figures;
  figures.at_date = Nets(SumTenant(tx, tenant, scope, kBeginningOfTime, at));
  figures.at_year_start =
      Nets(SumTenant(tx, tenant, scope, kBeginningOfTime, absl::CivilDay(at.year(), 1, 1) - 1));
  return figures;
}

// Adds `rows` into `sum` (same statement, same row order), merging accounts.
void AddRows(std::vector<v1::StatementRow>& sum, const std::vector<v1::StatementRow>& rows) {
  if (sum.empty()) {
    sum = rows;
    return;
  }
  for (size_t i = 0; i < sum.size() && i < rows.size(); ++i) {
    v1::StatementRow& s = sum[i];
    s.set_amount_minor(s.amount_minor() + rows[i].amount_minor());
    s.set_previous_minor(s.previous_minor() + rows[i].previous_minor());
    std::map<std::string, v1::StatementAccount> accounts;
    for (const auto* list : {&s.accounts(), &rows[i].accounts()}) {
      for (const v1::StatementAccount& a : *list) {
        v1::StatementAccount& m = accounts[a.account()];
        m.set_account(a.account());
        m.set_amount_minor(m.amount_minor() + a.amount_minor());
        m.set_previous_minor(m.previous_minor() + a.previous_minor());
      }
    }
    s.clear_accounts();
    for (auto& [account, a] : accounts) {
      *s.add_accounts() = std::move(a);
    }
  }
}

// Actuals per (account, dimension value) over whole months, with "" for the lines without the
// dimension (the account's total less its valued lines).
std::map<std::pair<std::string, std::string>, Movement> ByDimensionValue(
    pqxx::work& tx, const std::string& tenant, const std::string& currency, const std::string& key,
    absl::CivilDay from, absl::CivilDay to) {
  std::map<std::pair<std::string, std::string>, Movement> out;
  if (from < kBeginningOfTime) {
    from = kBeginningOfTime;
  }
  if (to < from) {
    return out;
  }
  Scope plain;
  plain.currency = currency;
  Movements totals = SumTenant(tx, tenant, plain, from, to);
  for (const auto& row :
       SumDimension(tx, tenant, currency, key, "", absl::CivilMonth(from), absl::CivilMonth(to))) {
    const std::string account = row[1].as<std::string>();
    Movement& m = out[{account, row[0].as<std::string>()}];
    m.debit += row[2].as<int64_t>();
    m.credit += row[3].as<int64_t>();
    totals[account].debit -= row[2].as<int64_t>();
    totals[account].credit -= row[3].as<int64_t>();
  }
  for (const auto& [account, rest] : totals) {
    if (rest.debit != 0 || rest.credit != 0) {
      out[{account, ""}] = rest;
    }
  }
  return out;
}

v1::ReportScope Echo(const v1::ReportScope& in, const Scope& scope) {
  v1::ReportScope out = in;
  out.set_currency_code(scope.currency);
  return out;
}

}  // namespace

// --- the feed ------------------------------------------------------------------------------------

absl::StatusOr<int64_t> ReportingRepository::LoadCheckpoint(const std::string& tenant,
                                                            absl::Time deadline) {
  return pg::InTenantTransaction<int64_t>(
      *pool_, tenant, WriteTx(deadline), [&](pqxx::work& tx) -> absl::StatusOr<int64_t> {
        tx.exec_params(kEnsureCheckpoint, tenant);
        return tx.exec_params1(kSelectCheckpoint, tenant)[0].as<int64_t>();
      });
}

absl::StatusOr<int64_t> ReportingRepository::ApplyEntries(
    const std::string& tenant, int64_t expected, const std::vector<ledger::v1::Entry>& entries,
    absl::Time deadline) {
  // Pre-aggregated in memory: one row per key, however many lines the batch has.
  using DayKey = std::tuple<std::string, std::string, std::string>;  // currency, account, day
  using DimKey = std::tuple<std::string, std::string, std::string, std::string, std::string>;
  using PayKey = std::tuple<std::string, std::string, std::string, std::string>;
  std::map<DayKey, Movement> days, months;
  std::map<DimKey, Movement> dims;       // currency, key, value, account, month
  std::map<DimKey, Movement> dim_years;  // currency, key, value, account, year
  std::map<PayKey, Movement> payroll;    // currency, month, cost centre, account
  std::set<std::string> accounts;
  int64_t last = expected;
  std::string last_posted_at;
  for (const ledger::v1::Entry& e : entries) {
    if (e.sequence() <= last) {
      continue;  // applied already (a replay after a reconnect)
    }
    if (e.sequence() != last + 1) {
      return absl::FailedPreconditionError(
          absl::StrCat("feed of ", tenant, " skipped from ", last, " to ", e.sequence()));
    }
    last = e.sequence();
    last_posted_at = e.posted_at();
    ASSIGN_OR_RETURN(absl::CivilDay day, ParseDate("entry_date", e.entry_date()));
    const std::string day_text = FormatDate(day);
    const std::string month_text = MonthDate(absl::CivilMonth(day));
    const std::string year_text = FormatDate(absl::CivilDay(absl::CivilYear(day)));
    const bool from_payroll = e.source().system() == "payroll";
    for (const ledger::v1::EntryLine& line : e.lines()) {
      const int64_t amount = line.amount().amount_minor();
      Movement delta;
      (amount >= 0 ? delta.debit : delta.credit) += amount >= 0 ? amount : -amount;
      const std::string currency =
          line.amount().currency_code().empty() ? "EUR" : line.amount().currency_code();
      auto add = [&](Movement& m) {
        m.debit += delta.debit;
        m.credit += delta.credit;
      };
      add(days[{currency, line.account(), day_text}]);
      add(months[{currency, line.account(), month_text}]);
      for (const auto& [key, value] : line.dimensions()) {
        add(dims[{currency, key, value, line.account(), month_text}]);
        add(dim_years[{currency, key, value, line.account(), year_text}]);
      }
      if (from_payroll) {
        auto cc = line.dimensions().find("cost_centre");
        add(payroll[{currency, month_text,
                     cc == line.dimensions().end() ? std::string() : cc->second, line.account()}]);
      }
      accounts.insert(line.account());
    }
  }
  if (last == expected) {
    return expected;
  }
  return pg::InTenantTransaction<int64_t>(
      *pool_, tenant, WriteTx(deadline), [&](pqxx::work& tx) -> absl::StatusOr<int64_t> {
        // The guard first: it also serialises two followers of one tenant.
        pqxx::result moved =
            tx.exec_params(kAdvanceCheckpoint, tenant, expected, last, last_posted_at);
        if (moved.affected_rows() != 1) {
          return absl::FailedPreconditionError(absl::StrCat("checkpoint of ", tenant,
                                                            " is no longer ", expected,
                                                            ": another follower applied it"));
        }
        auto upsert3 = [&](const char* sql, const std::map<DayKey, Movement>& rows) {
          std::vector<std::string> a, b, c;
          std::vector<int64_t> dr, cr;
          for (const auto& [key, m] : rows) {
            a.push_back(std::get<0>(key));
            b.push_back(std::get<1>(key));
            c.push_back(std::get<2>(key));
            dr.push_back(m.debit);
            cr.push_back(m.credit);
          }
          tx.exec_params(sql, tenant, pg::TextArray(a), pg::TextArray(b), pg::TextArray(c),
                         pg::Int64Array(dr), pg::Int64Array(cr));
        };
        upsert3(kUpsertDays, days);
        upsert3(kUpsertMonths, months);
        auto upsert_dims = [&](const char* sql, const std::map<DimKey, Movement>& rows) {
          if (rows.empty()) return;
          std::vector<std::string> c, k, v, a, m;
          std::vector<int64_t> dr, cr;
          for (const auto& [key, mv] : rows) {
            c.push_back(std::get<0>(key));
            k.push_back(std::get<1>(key));
            v.push_back(std::get<2>(key));
            a.push_back(std::get<3>(key));
            m.push_back(std::get<4>(key));
            dr.push_back(mv.debit);
            cr.push_back(mv.credit);
          }
          tx.exec_params(sql, tenant, pg::TextArray(c), pg::TextArray(k), pg::TextArray(v),
                         pg::TextArray(a), pg::TextArray(m), pg::Int64Array(dr),
                         pg::Int64Array(cr));
        };
        upsert_dims(kUpsertDimensionMonths, dims);
        upsert_dims(kUpsertDimensionYears, dim_years);
        if (!payroll.empty()) {
          std::vector<std::string> c, m, cc, a;
          std::vector<int64_t> dr, cr;
          for (const auto& [key, mv] : payroll) {
            c.push_back(std::get<0>(key));
            m.push_back(std::get<1>(key));
            cc.push_back(std::get<2>(key));
            a.push_back(std::get<3>(key));
            dr.push_back(mv.debit);
            cr.push_back(mv.credit);
          }
          tx.exec_params(kUpsertPayrollMonths, tenant, pg::TextArray(c), pg::TextArray(m),
                         pg::TextArray(cc), pg::TextArray(a), pg::Int64Array(dr),
                         pg::Int64Array(cr));
        }
        tx.exec_params(kInsertAccountsSeen, tenant,
                       pg::TextArray(std::vector<std::string>(accounts.begin(), accounts.end())));
        return last;
      });
}

absl::StatusOr<std::vector<Checkpoint>> ReportingRepository::Checkpoints(const CallContext& call) {
  return pg::InTenantTransaction<std::vector<Checkpoint>>(
      *pool_, call.tenant, ReadTx(call),
      [&](pqxx::work& tx) -> absl::StatusOr<std::vector<Checkpoint>> {
        pqxx::result rows;
        if (call.tenant.empty()) {
          tx.exec("SELECT set_config('tahe.scope', 'region', true)");
          rows = tx.exec("SELECT tenant_id, last_sequence FROM feed_checkpoints ORDER BY 1");
        } else {
          rows = tx.exec_params(
              "SELECT tenant_id, last_sequence FROM feed_checkpoints WHERE tenant_id = $1",
              call.tenant);
        }
        std::vector<Checkpoint> out;
        for (const auto& row : rows) {
          out.push_back({row[0].as<std::string>(), row[1].as<int64_t>()});
        }
        return out;
      });
}

// --- reports -------------------------------------------------------------------------------------

absl::StatusOr<v1::TrialBalance> ReportingRepository::GetTrialBalance(
    const CallContext& call, const v1::GetTrialBalanceRequest& req) {
  ASSIGN_OR_RETURN(Scope scope, ValidateScope(req.scope(), {}));
  return pg::InTenantTransaction<v1::TrialBalance>(
      *pool_, call.tenant, ReadTx(call), [&](pqxx::work& tx) -> absl::StatusOr<v1::TrialBalance> {
        Movements opening = SumTenant(tx, call.tenant, scope, kBeginningOfTime, scope.from - 1);
        Movements range = SumTenant(tx, call.tenant, scope, scope.from, scope.to);
        std::set<std::string> accounts;
        for (const auto& [a, m] : opening) accounts.insert(a);
        for (const auto& [a, m] : range) accounts.insert(a);
        v1::TrialBalance tb;
        *tb.mutable_scope() = Echo(req.scope(), scope);
        for (const std::string& account : accounts) {
          v1::TrialBalanceRow* row = tb.add_rows();
          row->set_account(account);
          const int64_t open = opening.count(account) ? opening[account].net() : 0;
          const Movement m = range.count(account) ? range[account] : Movement();
          row->set_opening_minor(open);
          row->set_debit_minor(m.debit);
          row->set_credit_minor(m.credit);
          row->set_closing_minor(open + m.debit - m.credit);
          tb.set_total_opening_minor(tb.total_opening_minor() + open);
          tb.set_total_debit_minor(tb.total_debit_minor() + m.debit);
          tb.set_total_credit_minor(tb.total_credit_minor() + m.credit);
          tb.set_total_closing_minor(tb.total_closing_minor() + row->closing_minor());
        }
        return tb;
      });
}

absl::StatusOr<v1::Statement> ReportingRepository::GetIncomeStatement(
    const CallContext& call, const v1::GetIncomeStatementRequest& req) {
  ASSIGN_OR_RETURN(Scope scope, ValidateScope(req.scope(), {}));
  return pg::InTenantTransaction<v1::Statement>(
      *pool_, call.tenant, ReadTx(call), [&](pqxx::work& tx) -> absl::StatusOr<v1::Statement> {
        ASSIGN_OR_RETURN(StatementMapping mapping, LoadMapping(tx, call.tenant));
        v1::Statement s;
        s.set_kind(v1::STATEMENT_KIND_INCOME_STATEMENT);
        *s.mutable_scope() = Echo(req.scope(), scope);
        SetPrevious(s, scope.from, scope.to, true);
        for (v1::StatementRow& row : IncomeRows(tx, call.tenant, scope, mapping)) {
          *s.add_rows() = std::move(row);
        }
        return s;
      });
}

absl::StatusOr<v1::Statement> ReportingRepository::GetBalanceSheet(
    const CallContext& call, const v1::GetBalanceSheetRequest& req) {
  ASSIGN_OR_RETURN(Scope scope, ValidateScope(req.scope(), {.needs_from = false}));
  return pg::InTenantTransaction<v1::Statement>(
      *pool_, call.tenant, ReadTx(call), [&](pqxx::work& tx) -> absl::StatusOr<v1::Statement> {
        ASSIGN_OR_RETURN(StatementMapping mapping, LoadMapping(tx, call.tenant));
        v1::Statement s;
        s.set_kind(v1::STATEMENT_KIND_BALANCE_SHEET);
        *s.mutable_scope() = Echo(req.scope(), scope);
        SetPrevious(s, scope.from, scope.to, false);
        BalanceSheetFigures current = SheetFigures(tx, call.tenant, scope, scope.to);
        BalanceSheetFigures previous =
            SheetFigures(tx, call.tenant, scope, ShiftYears(scope.to, -1));
        for (v1::StatementRow& row : BuildBalanceSheet(mapping, current, previous)) {
          *s.add_rows() = std::move(row);
        }
        return s;
      });
}

absl::StatusOr<v1::CostCentreReport> ReportingRepository::GetCostCentreReport(
    const CallContext& call, const v1::GetCostCentreReportRequest& req) {
  ASSIGN_OR_RETURN(Scope scope,
                   ValidateScope(req.scope(), {.whole_months = true, .allow_dimension = false}));
  const std::string split_by = req.split_by().empty() ? "cost_centre" : req.split_by();
  if (!IsValidDimensionKey(split_by)) {
    return InvalidField("split_by", "not a dimension key ([a-z][a-z0-9_]{0,31})");
  }
  return pg::InTenantTransaction<v1::CostCentreReport>(
      *pool_, call.tenant, ReadTx(call),
      [&](pqxx::work& tx) -> absl::StatusOr<v1::CostCentreReport> {
        ASSIGN_OR_RETURN(StatementMapping mapping, LoadMapping(tx, call.tenant));
        std::map<std::string, AccountNets> current, previous;  // value -> account nets
        for (const auto& [key, m] :
             ByDimensionValue(tx, call.tenant, scope.currency, split_by, scope.from, scope.to)) {
          current[key.second][key.first] += m.net();
        }
        for (const auto& [key, m] :
             ByDimensionValue(tx, call.tenant, scope.currency, split_by, ShiftYears(scope.from, -1),
                              ShiftYears(scope.to, -1))) {
          previous[key.second][key.first] += m.net();
        }
        std::set<std::string> values;
        for (const auto& [v, nets] : current) values.insert(v);
        for (const auto& [v, nets] : previous) values.insert(v);
        v1::CostCentreReport report;
        *report.mutable_scope() = Echo(req.scope(), scope);
        report.set_split_by(split_by);
        v1::CostCentreRow* total = report.mutable_total();
        for (const std::string& value : values) {
          IncomeAndExpenses now = SplitIncomeAndExpenses(mapping, current[value]);
          IncomeAndExpenses before = SplitIncomeAndExpenses(mapping, previous[value]);
          if (value.empty() && now.income == 0 && now.expenses == 0 && before.income == 0 &&
              before.expenses == 0) {
            continue;  // only balance-sheet lines lack the dimension
          }
          v1::CostCentreRow* row = report.add_rows();
          row->set_value(value);
          row->set_income_minor(now.income);
          row->set_expenses_minor(now.expenses);
          row->set_net_minor(now.income - now.expenses);
          row->set_previous_income_minor(before.income);
          row->set_previous_expenses_minor(before.expenses);
          row->set_previous_net_minor(before.income - before.expenses);
          total->set_income_minor(total->income_minor() + row->income_minor());
          total->set_expenses_minor(total->expenses_minor() + row->expenses_minor());
          total->set_net_minor(total->net_minor() + row->net_minor());
          total->set_previous_income_minor(total->previous_income_minor() +
                                           row->previous_income_minor());
          total->set_previous_expenses_minor(total->previous_expenses_minor() +
                                             row->previous_expenses_minor());
          total->set_previous_net_minor(total->previous_net_minor() + row->previous_net_minor());
        }
        return report;
      });
}

namespace {

bool IsValidBudgetName(absl::string_view name) {
  if (name.size() > 32) return false;
  for (char c : name) {
    if (!absl::ascii_islower(c) && !absl::ascii_isdigit(c) && c != '_' && c != '-') return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<v1::UploadBudgetResponse> ReportingRepository::UploadBudget(
    const CallContext& call, const v1::UploadBudgetRequest& req) {
  RETURN_IF_ERROR(ValidateRequestId("request_id", req.request_id()));
  if (!IsValidBudgetName(req.budget())) {
    return InvalidField("budget", "[a-z0-9_-]{0,32}");
  }
  std::string currency = req.currency_code().empty() ? "EUR" : req.currency_code();
  if (!money::IsValidCurrencyCode(currency)) {
    return InvalidField("currency_code", "not an ISO 4217 code such as EUR");
  }
  if (req.lines_size() == 0) {
    return InvalidField("lines", "required");
  }
  if (req.lines_size() > 100000) {
    return InvalidField("lines", "at most 100000 lines");
  }
  std::vector<std::string> accounts, centres, months;
  std::vector<int64_t> amounts;
  std::map<std::tuple<std::string, std::string, std::string>, int> seen;
  for (int i = 0; i < req.lines_size(); ++i) {
    const v1::BudgetLine& line = req.lines(i);
    const std::string field = absl::StrCat("lines[", i, "]");
    if (!IsValidAccountNumber(line.account())) {
      return InvalidField(absl::StrCat(field, ".account"), "1-10 digits");
    }
    RETURN_IF_ERROR(ValidateText(absl::StrCat(field, ".cost_centre"), line.cost_centre(), 64));
    ASSIGN_OR_RETURN(absl::CivilMonth month,
                     ParsePeriod(absl::StrCat(field, ".month"), line.month()));
    auto [it, inserted] =
        seen.emplace(std::make_tuple(line.account(), line.cost_centre(), line.month()), i);
    if (!inserted) {
      return InvalidField(
          field, absl::StrCat("repeats lines[", it->second, "] (account, cost centre and month)"));
    }
    accounts.push_back(line.account());
    centres.push_back(line.cost_centre());
    months.push_back(MonthDate(month));
    amounts.push_back(line.amount_minor());
  }
  return pg::InTenantTransaction<v1::UploadBudgetResponse>(
      *pool_, call.tenant, WriteTx(call.deadline),
      [&](pqxx::work& tx) -> absl::StatusOr<v1::UploadBudgetResponse> {
        return pg::Idempotent<v1::UploadBudgetResponse>(
            tx, {.tenant = call.tenant, .request_id = req.request_id()}, "UploadBudget", req,
            [&]() -> absl::StatusOr<v1::UploadBudgetResponse> {
              tx.exec_params(
                  "INSERT INTO budgets (tenant_id, budget, currency, account, cost_centre, month,"
                  " amount_minor)"
                  " SELECT $1, $2, $3, u.a, u.cc, u.m, u.amount"
                  " FROM unnest($4::text[], $5::text[], $6::date[], $7::bigint[])"
                  "   AS u(a, cc, m, amount)"
                  " ON CONFLICT (tenant_id, budget, currency, month, account, cost_centre)"
                  " DO UPDATE SET amount_minor = EXCLUDED.amount_minor, updated_at = now()",
                  call.tenant, req.budget(), currency, pg::TextArray(accounts),
                  pg::TextArray(centres), pg::TextArray(months), pg::Int64Array(amounts));
              v1::UploadBudgetResponse resp;
              resp.set_lines_stored(req.lines_size());
              return resp;
            });
      });
}

absl::StatusOr<v1::BudgetReport> ReportingRepository::GetBudgetReport(
    const CallContext& call, const v1::GetBudgetReportRequest& req) {
  ASSIGN_OR_RETURN(Scope scope,
                   ValidateScope(req.scope(), {.whole_months = true, .allow_dimension = false}));
  if (!IsValidBudgetName(req.budget())) {
    return InvalidField("budget", "[a-z0-9_-]{0,32}");
  }
  return pg::InTenantTransaction<v1::BudgetReport>(
      *pool_, call.tenant, ReadTx(call), [&](pqxx::work& tx) -> absl::StatusOr<v1::BudgetReport> {
        ASSIGN_OR_RETURN(StatementMapping mapping, LoadMapping(tx, call.tenant));
        struct Cell {
          int64_t budget = 0;
          int64_t actual = 0;
          bool budgeted = false;
        };
        std::map<std::pair<std::string, std::string>, Cell> cells;  // account, cost centre
        const auto actuals =
            ByDimensionValue(tx, call.tenant, scope.currency, "cost_centre", scope.from, scope.to);
        for (const auto& [key, m] : actuals) {
          if (IsIncomeStatementRow(mapping.RowOf(key.first)) && m.net() != 0) {
            cells[key].actual += m.net();
          }
        }
        for (const auto& row : tx.exec_params(
                 "SELECT account, cost_centre, sum(amount_minor)::bigint FROM budgets"
                 " WHERE tenant_id = $1 AND budget = $2 AND currency = $3"
                 " AND month BETWEEN $4::date AND $5::date GROUP BY account, cost_centre",
                 call.tenant, req.budget(), scope.currency, MonthDate(absl::CivilMonth(scope.from)),
                 MonthDate(absl::CivilMonth(scope.to)))) {
          Cell& cell = cells[{row[0].as<std::string>(), row[1].as<std::string>()}];
          cell.budget += row[2].as<int64_t>();
          cell.budgeted = true;
        }
        // Actuals of accounts with a budget count even when not on the income statement.
        for (const auto& [key, m] : actuals) {
          auto it = cells.find(key);
          if (it != cells.end() && it->second.budgeted &&
              !IsIncomeStatementRow(mapping.RowOf(key.first))) {
            it->second.actual += m.net();
          }
        }
        v1::BudgetReport report;
        *report.mutable_scope() = Echo(req.scope(), scope);
        report.set_budget(req.budget());
        for (const auto& [key, cell] : cells) {
          v1::BudgetRow* row = report.add_rows();
          row->set_account(key.first);
          row->set_cost_centre(key.second);
          row->set_budget_minor(cell.budget);
          row->set_actual_minor(cell.actual);
          row->set_difference_minor(cell.actual - cell.budget);
          report.set_total_budget_minor(report.total_budget_minor() + cell.budget);
          report.set_total_actual_minor(report.total_actual_minor() + cell.actual);
          report.set_total_difference_minor(report.total_difference_minor() +
                                            row->difference_minor());
        }
        return report;
      });
}

absl::StatusOr<v1::PayrollCosts> ReportingRepository::GetPayrollCosts(
    const CallContext& call, const v1::GetPayrollCostsRequest& req) {
  ASSIGN_OR_RETURN(Scope scope,
                   ValidateScope(req.scope(), {.whole_months = true, .allow_dimension = false}));
  return pg::InTenantTransaction<v1::PayrollCosts>(
      *pool_, call.tenant, ReadTx(call), [&](pqxx::work& tx) -> absl::StatusOr<v1::PayrollCosts> {
        ASSIGN_OR_RETURN(StatementMapping mapping, LoadMapping(tx, call.tenant));
        std::map<std::pair<std::string, std::string>, std::map<std::string, int64_t>> cells;
        std::map<std::string, int64_t> totals;
        for (const auto& row : tx.exec_params(
                 "SELECT cost_centre, to_char(month, 'YYYY-MM'), account,"
                 " sum(debit_minor - credit_minor)::bigint FROM payroll_months"
                 " WHERE tenant_id = $1 AND currency = $2 AND month BETWEEN $3::date AND $4::date"
                 " GROUP BY 1, 2, 3",
                 call.tenant, scope.currency, MonthDate(absl::CivilMonth(scope.from)),
                 MonthDate(absl::CivilMonth(scope.to)))) {
          const std::string account = row[2].as<std::string>();
          if (!IsIncomeStatementRow(mapping.RowOf(account))) {
            continue;  // the liabilities of the pay run: not a cost
          }
          const int64_t amount = row[3].as<int64_t>();
          cells[{row[0].as<std::string>(), row[1].as<std::string>()}][account] += amount;
          totals[account] += amount;
        }
        v1::PayrollCosts report;
        *report.mutable_scope() = Echo(req.scope(), scope);
        for (const auto& [key, accounts] : cells) {
          v1::PayrollCostRow* row = report.add_rows();
          row->set_cost_centre(key.first);
          row->set_month(key.second);
          for (const auto& [account, amount] : accounts) {
            v1::PayrollCostAccount* a = row->add_accounts();
            a->set_account(account);
            a->set_amount_minor(amount);
            row->set_total_minor(row->total_minor() + amount);
          }
        }
        for (const auto& [account, amount] : totals) {
          v1::PayrollCostAccount* a = report.add_totals();
          a->set_account(account);
          a->set_amount_minor(amount);
          report.set_total_minor(report.total_minor() + amount);
        }
        return report;
      });
}

absl::StatusOr<v1::StatementMapping> ReportingRepository::SetStatementMapping(
    const CallContext& call, const v1::SetStatementMappingRequest& req) {
  RETURN_IF_ERROR(ValidateRequestId("request_id", req.request_id()));
  ASSIGN_OR_RETURN(StatementMapping mapping, StatementMapping::FromRules(req.rules()));
  return pg::InTenantTransaction<v1::StatementMapping>(
      *pool_, call.tenant, WriteTx(call.deadline),
      [&](pqxx::work& tx) -> absl::StatusOr<v1::StatementMapping> {
        return pg::Idempotent<v1::StatementMapping>(
            tx, {.tenant = call.tenant, .request_id = req.request_id()}, "SetStatementMapping", req,
            [&]() -> absl::StatusOr<v1::StatementMapping> {
              v1::StatementMapping stored = mapping.ToProto();
              if (mapping.is_default()) {
                tx.exec_params("DELETE FROM statement_mappings WHERE tenant_id = $1", call.tenant);
              } else {
                v1::StatementMapping rules_only;
                *rules_only.mutable_rules() = stored.rules();
                tx.exec_params(
                    "INSERT INTO statement_mappings (tenant_id, mapping)"
                    " VALUES ($1, decode($2, 'hex')) ON CONFLICT (tenant_id) DO UPDATE"
                    " SET mapping = EXCLUDED.mapping, updated_at = now()",
                    call.tenant, absl::BytesToHexString(rules_only.SerializeAsString()));
              }
              return stored;
            });
      });
}

absl::StatusOr<v1::StatementMapping> ReportingRepository::GetStatementMapping(
    const CallContext& call) {
  return pg::InTenantTransaction<v1::StatementMapping>(
      *pool_, call.tenant, ReadTx(call),
      [&](pqxx::work& tx) -> absl::StatusOr<v1::StatementMapping> {
        ASSIGN_OR_RETURN(StatementMapping mapping, LoadMapping(tx, call.tenant));
        return mapping.ToProto();
      });
}

absl::StatusOr<v1::RegionalReport> ReportingRepository::GetRegionalReport(
    const CallContext& call, const v1::GetRegionalReportRequest& req) {
  ASSIGN_OR_RETURN(Scope scope, ValidateScope(req.scope(), {.allow_dimension = false}));
  // No tenant: the transaction reads every tenant through the regional policy, read-only.
  return pg::InTenantTransaction<v1::RegionalReport>(
      *pool_, "", ReadTx(call), [&](pqxx::work& tx) -> absl::StatusOr<v1::RegionalReport> {
        tx.exec("SELECT set_config('tahe.scope', 'region', true)");
        std::vector<std::string> tenants;
        for (const auto& row :
             tx.exec("SELECT tenant_id FROM feed_checkpoints WHERE last_sequence > 0 ORDER BY 1")) {
          tenants.push_back(row[0].as<std::string>());
        }
        std::map<std::string, StatementMapping> mappings;
        for (const auto& row :
             tx.exec("SELECT tenant_id, encode(mapping, 'hex') FROM statement_mappings")) {
          ASSIGN_OR_RETURN(mappings[row[0].as<std::string>()],
                           MappingFromBytes(row[1].as<std::string>()));
        }
        std::map<std::string, Movements> current = SumRange(tx, "", scope, scope.from, scope.to);
        std::map<std::string, Movements> previous =
            SumRange(tx, "", scope, ShiftYears(scope.from, -1), ShiftYears(scope.to, -1));
        std::map<std::string, Movements> at_date =
            SumRange(tx, "", scope, kBeginningOfTime, scope.to);

        v1::RegionalReport report;
        *report.mutable_scope() = Echo(req.scope(), scope);
        v1::KeyFigures* total = report.mutable_total();
        std::vector<v1::StatementRow> summed;
        for (const std::string& tenant : tenants) {
          auto m = mappings.find(tenant);
          const StatementMapping mapping =
              m == mappings.end() ? StatementMapping::Default() : m->second;
          std::vector<v1::StatementRow> rows =
              BuildIncomeStatement(mapping, Nets(current[tenant]), Nets(previous[tenant]));
          std::vector<v1::StatementRow> sheet =
              BuildBalanceSheet(mapping, {.at_date = Nets(at_date[tenant])}, {});
          v1::KeyFigures* k = report.add_organisations();
          k->set_tenant(tenant);
          k->set_operating_income_minor(RowAmount(rows, "TOIMINTATUOTOT"));
          k->set_operating_expenses_minor(RowAmount(rows, "TOIMINTAKULUT"));
          k->set_toimintakate_minor(RowAmount(rows, "TOIMINTAKATE"));
          k->set_vuosikate_minor(RowAmount(rows, "VUOSIKATE"));
          k->set_tilikauden_tulos_minor(RowAmount(rows, "TILIKAUDEN_TULOS"));
          k->set_total_assets_minor(RowAmount(sheet, "VASTAAVAA"));
          total->set_operating_income_minor(total->operating_income_minor() +
                                            k->operating_income_minor());
          total->set_operating_expenses_minor(total->operating_expenses_minor() +
                                              k->operating_expenses_minor());
          total->set_toimintakate_minor(total->toimintakate_minor() + k->toimintakate_minor());
          total->set_vuosikate_minor(total->vuosikate_minor() + k->vuosikate_minor());
          total->set_tilikauden_tulos_minor(total->tilikauden_tulos_minor() +
                                            k->tilikauden_tulos_minor());
          total->set_total_assets_minor(total->total_assets_minor() + k->total_assets_minor());
          if (req.include_income_statement()) {
            AddRows(summed, rows);
          }
        }
        if (req.include_income_statement()) {
          v1::Statement* s = report.mutable_income_statement();
          s->set_kind(v1::STATEMENT_KIND_INCOME_STATEMENT);
          *s->mutable_scope() = report.scope();
          SetPrevious(*s, scope.from, scope.to, true);
          if (summed.empty()) {
            summed = BuildIncomeStatement(StatementMapping::Default(), {}, {});
          }
          for (v1::StatementRow& row : summed) {
            *s->add_rows() = std::move(row);
          }
        }
        return report;
      });
}

}  // namespace tahe::reporting
