#include "tests/bench/reporting_load_driver.h"

#include <google/protobuf/util/message_differencer.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "libs/pg/pg.h"
#include "services/reporting/reporting_domain.h"
#include "tahe/ledger/v1/ledger.grpc.pb.h"
#include "tahe/reporting/v1/reporting.grpc.pb.h"

namespace tahe::bench {
namespace {

namespace ledger_v1 = ::tahe::ledger::v1;
namespace v1 = ::tahe::reporting::v1;
using Clock = std::chrono::steady_clock;
using google::protobuf::util::MessageDifferencer;
using LedgerStub = ledger_v1::LedgerService::Stub;
using ReportingStub = v1::ReportingService::Stub;

std::string Day(absl::CivilDay d) {
  return absl::StrFormat("%04d-%02d-%02d", d.year(), d.month(), d.day());
}

std::string CostCentre(int k) { return absl::StrFormat("KP%03d", k); }

// --- the books -----------------------------------------------------------------------------------

// The kinds of entry, and which of them entry i is (i % 20): mostly sales, purchases and payroll,
// as a municipality's books are.
const std::vector<JournalKind>& Kinds() {
  static const std::vector<JournalKind> kinds = {
      // 0 sales and fees, against receivables
      {{"3000", "3100", "3200", "3300", "3400", "3500"}, -1, "1700", true, "invoicing"},
      // 1 purchases, against payables
      {{"4300", "4400", "4500", "4600", "4700"}, 1, "2800", true, "purchases"},
      // 2 payroll, against net wages
      {{"4000", "4100", "4150"}, 1, "2880", true, "payroll"},
      // 3 payroll liabilities paid
      {{"2870", "2871", "2872", "2873", "2880", "2950"}, 1, "1910", false, "bank"},
      // 4 suppliers, VAT and accruals paid
      {{"2800", "2850", "2900"}, 1, "1910", false, "bank"},
      // 5 collections
      {{"1700", "1750"}, -1, "1910", false, "bank"},
      // 6 tax revenue and state funding
      {{"5000", "5010", "5020", "5100"}, -1, "1910", false, "tax"},
      // 7 financial income
      {{"5200", "5210"}, -1, "1910", false, "bank"},
      // 8 financial expenses, against short-term loans
      {{"5300", "5310"}, 1, "2700", false, "bank"},
      // 9 depreciation, against machinery
      {{"6000", "6100"}, 1, "1130", true, "assets"},
      // 10 extraordinary income
      {{"7000"}, -1, "1910", false, "manual"},
      // 11 extraordinary expenses and appropriations
      {{"7100", "8000", "8100", "8200"}, 1, "2200", false, "manual"},
      // 12 investments, against long-term loans
      {{"1000", "1100", "1110", "1120", "1130", "1200", "1500", "1710", "1900"},
       1,
       "2500",
       false,
       "assets"},
      // 13 equity and other liabilities
      {{"2000", "2050", "2090", "2700"}, -1, "1910", false, "manual"},
  };
  return kinds;
}
constexpr int kSchedule[20] = {0, 1, 2, 0, 1, 5, 3, 0, 1, 2, 4, 6, 9, 5, 7, 8, 10, 11, 12, 13};

// Entries and the lines of entry i (see the header: the last entry takes the remainder).
struct Shape {
  int64_t entries = 0;
  int64_t lines = 0;
  int per_entry = 0;
  int LinesOf(int64_t i) const {
    const int64_t rest = lines - (entries - 1) * per_entry;
    return i + 1 < entries ? per_entry : static_cast<int>(rest);
  }
};

Shape ShapeOf(const JournalOptions& o) {
  Shape s{.entries = o.lines / o.lines_per_entry, .lines = o.lines, .per_entry = o.lines_per_entry};
  const int64_t rest = o.lines % o.lines_per_entry;
  if (s.entries == 0) {
    s.entries = 1;  // lines < per_entry: one short entry
  } else if (rest >= 2) {
    ++s.entries;  // a last, shorter entry
  }               // rest == 1: the last entry has one line more
  return s;
}

uint64_t Mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  return x;
}

void FillJournalEntry(const JournalOptions& o, const Shape& shape, const std::string& run_id,
                      int64_t i, ledger_v1::PostEntryRequest* req) {
  const JournalKind& kind = JournalKindOf(i);
  const absl::CivilDay first(o.first_year, 1, 1);
  const int64_t days = absl::CivilDay(o.first_year + 2, 1, 1) - first;
  const std::string request_id = absl::StrCat(run_id, "-e", i);
  req->set_request_id(request_id);
  ledger_v1::EntryDraft* e = req->mutable_entry();
  e->set_entry_date(Day(first + i * days / shape.entries));
  e->set_description(absl::StrCat("bench: ", kind.source));
  e->mutable_source()->set_system(kind.source);
  e->mutable_source()->set_reference(request_id);
  const std::string cost_centre = CostCentre(static_cast<int>(Mix(i) % o.cost_centres));
  const int lines = shape.LinesOf(i);
  const int64_t n = static_cast<int64_t>(kind.accounts.size());
  int64_t sum = 0;
  for (int j = 0; j + 1 < lines; ++j) {
    ledger_v1::EntryLine* line = e->add_lines();
    line->set_account(kind.accounts[(i / 20 + j) % n]);
    const int64_t amount = kind.sign * (100 + (i * 7919 + j * 104729) % 900000);
    line->mutable_amount()->set_amount_minor(amount);
    line->mutable_amount()->set_currency_code("EUR");
    if (kind.with_cost_centre) {
      (*line->mutable_dimensions())["cost_centre"] = cost_centre;
    }
    sum += amount;
  }
  ledger_v1::EntryLine* balancing = e->add_lines();
  balancing->set_account(kind.balancing);
  balancing->mutable_amount()->set_amount_minor(-sum);
  balancing->mutable_amount()->set_currency_code("EUR");
}

// --- reporting's feed status
// -----------------------------------------------------------------------

absl::StatusOr<v1::FeedStatus> FeedStatus(ReportingStub& stub, const Target& target) {
  v1::FeedStatus resp;
  if (absl::Status s = Call(stub, &ReportingStub::GetFeedStatus, target, "GetFeedStatus", "",
                            v1::GetFeedStatusRequest(), &resp, absl::Seconds(10));
      !s.ok()) {
    return s;
  }
  return resp;
}

// The sequence reporting has applied for target.tenant (0 before its checkpoint exists).
absl::StatusOr<int64_t> AppliedSequence(ReportingStub& stub, const Target& target) {
  absl::StatusOr<v1::FeedStatus> status = FeedStatus(stub, target);
  if (!status.ok()) {
    return status.status();
  }
  for (const v1::TenantFeedStatus& t : status->tenants()) {
    if (t.tenant() == target.tenant) {
      return t.applied_sequence();
    }
  }
  return 0;
}

// --- the naive queries
// -----------------------------------------------------------------------------

// Per account over every line up to the year's end: the opening balance (before the year), the
// year's debits and credits, and how many lines were read.
constexpr char kNaiveTrialBalance[] =
    "SELECT account,"
    " coalesce(sum(amount_minor) FILTER (WHERE entry_date < $2::date), 0)::bigint,"
    " coalesce(sum(amount_minor) FILTER (WHERE entry_date >= $2::date AND amount_minor > 0),"
    "          0)::bigint,"
    " coalesce(-sum(amount_minor) FILTER (WHERE entry_date >= $2::date AND amount_minor < 0),"
    "          0)::bigint,"
    " count(*)"
    " FROM entry_lines WHERE tenant_id = $1 AND currency = 'EUR' AND entry_date <= $3::date"
    " GROUP BY account ORDER BY account";
// Per account (and cost centre): the net of the year and of the year before; NULL where the
// account had no line in that year.
constexpr char kNaiveIncomeStatement[] =
    "SELECT account,"
    " sum(amount_minor) FILTER (WHERE entry_date >= $2::date)::bigint,"
    " sum(amount_minor) FILTER (WHERE entry_date < $2::date)::bigint"
    " FROM entry_lines WHERE tenant_id = $1 AND currency = 'EUR'"
    " AND entry_date BETWEEN $4::date AND $3::date"
    " GROUP BY account";
constexpr char kNaiveCostCentres[] =
    "SELECT coalesce(dimensions->>'cost_centre', ''), account,"
    " sum(amount_minor) FILTER (WHERE entry_date >= $2::date)::bigint,"
    " sum(amount_minor) FILTER (WHERE entry_date < $2::date)::bigint"
    " FROM entry_lines WHERE tenant_id = $1 AND currency = 'EUR'"
    " AND entry_date BETWEEN $4::date AND $3::date"
    " GROUP BY 1, 2";

struct Year {
  std::string from, to, previous_from;
};

// Runs `sql` (parameters: tenant, from, to and, but for the trial balance, previous from) in a
// read-only transaction of the tenant, `runs` times, timing each (transaction and rows read
// included); the last run's rows.
absl::StatusOr<pqxx::result> TimeNaive(pg::Pool& pool, const std::string& tenant, const char* sql,
                                       const Year& y, int runs, Timing* timing) {
  pqxx::result last;
  for (int r = 0; r < runs; ++r) {
    const Clock::time_point start = Clock::now();
    absl::StatusOr<pqxx::result> rows = pg::InTenantTransaction<pqxx::result>(
        pool, tenant, {.read_only = true}, [&](pqxx::work& tx) -> absl::StatusOr<pqxx::result> {
          if (sql == kNaiveTrialBalance) {
            return tx.exec_params(sql, tenant, y.from, y.to);
          }
          return tx.exec_params(sql, tenant, y.from, y.to, y.previous_from);
        });
    if (!rows.ok()) {
      return rows.status();
    }
    timing->ms.push_back(SecondsSince(start) * 1000);
    last = *std::move(rows);
  }
  std::sort(timing->ms.begin(), timing->ms.end());
  return last;
}

// Calls `call` warmup + calls times, timing the latter.
template <typename Resp>
absl::Status TimeCalls(int warmup, int calls, Timing* timing, Resp* last,
                       const std::function<grpc::Status(grpc::ClientContext*, Resp*)>& call,
                       const Target& target, const std::string& what, absl::Duration timeout) {
  for (int i = 0; i < warmup + calls; ++i) {
    grpc::ClientContext ctx;
    AddMetadata(&ctx, target, "");
    SetDeadline(&ctx, timeout);
    Resp resp;
    const Clock::time_point start = Clock::now();
    grpc::Status s = call(&ctx, &resp);
    const double ms = SecondsSince(start) * 1000;
    if (!s.ok()) {
      return CallError(what, s);
    }
    if (i >= warmup) {
      timing->ms.push_back(ms);
    }
    *last = std::move(resp);
  }
  std::sort(timing->ms.begin(), timing->ms.end());
  return absl::OkStatus();
}

// The first difference between two messages of a report, or "".
std::string Difference(const google::protobuf::Message& actual,
                       const google::protobuf::Message& expected) {
  std::string diff;
  MessageDifferencer d;
  d.ReportDifferencesToString(&diff);
  if (d.Compare(expected, actual)) {
    return "";
  }
  return diff.substr(0, 400);
}

std::optional<int64_t> MaybeInt(const pqxx::field& f) {
  if (f.is_null()) {
    return std::nullopt;
  }
  return f.as<int64_t>();
}

}  // namespace

const JournalKind& JournalKindOf(int64_t entry_index) {
  return Kinds()[kSchedule[entry_index % 20]];
}

// --- set-up
// ----------------------------------------------------------------------------------------

absl::StatusOr<SetUpResult> SetUpReportingBench(const ReportingBenchTarget& target,
                                                const JournalOptions& options) {
  if (options.cost_centres < 1 || options.cost_centres > 1000 || options.first_year < 1901 ||
      options.first_year > 2998) {
    return absl::InvalidArgumentError("cost_centres 1-1000, first_year 1901-2998");
  }
  const Clock::time_point start = Clock::now();
  SetUpResult r;
  for (int m = 0; m < 24; ++m) {
    // The chart template (replayed after the first) and the month's period.
    const absl::CivilMonth month = absl::CivilMonth(options.first_year, 1) + m;
    if (absl::Status s = SetUpTenant(target.ledger(), Day(absl::CivilDay(month))); !s.ok()) {
      return s;
    }
    ++r.periods;
  }
  auto stub = ledger_v1::LedgerService::NewStub(NewChannel(target.ledger_address, 0));
  ledger_v1::DefineDimensionRequest req;
  req.set_request_id(absl::StrCat("bench-setup-cost-centres-", options.cost_centres));
  req.mutable_dimension()->set_key("cost_centre");
  req.mutable_dimension()->set_description("Kustannuspaikka");
  for (int k = 0; k < options.cost_centres; ++k) {
    req.mutable_dimension()->add_allowed_values(CostCentre(k));
  }
  ledger_v1::Dimension resp;
  if (absl::Status s = Call(*stub, &LedgerStub::DefineDimension, target.ledger(), "DefineDimension",
                            req.request_id(), req, &resp);
      !s.ok()) {
    return s;
  }
  r.cost_centres = resp.allowed_values_size();
  r.seconds = SecondsSince(start);
  return r;
}

// --- the posting
// -----------------------------------------------------------------------------------

absl::StatusOr<JournalResult> PostJournal(const ReportingBenchTarget& target,
                                          const JournalOptions& options) {
  if (options.lines < 2 || options.lines_per_entry < 2 || options.lines_per_entry > 1000 ||
      options.streams < 1 || options.batch_size < 1 || options.cost_centres < 1) {
    return absl::InvalidArgumentError(
        "lines >= 2, lines_per_entry 2-1000, streams >= 1, batch_size >= 1, cost_centres >= 1");
  }
  const std::string run_id = options.run_id.empty() ? RandomRunId() : options.run_id;
  const Shape shape = ShapeOf(options);
  const int64_t batches = (shape.entries + options.batch_size - 1) / options.batch_size;

  absl::StatusOr<std::vector<std::shared_ptr<grpc::Channel>>> channels =
      ConnectChannels(target.ledger_address, options.streams);
  if (!channels.ok()) {
    return channels.status();
  }
  std::vector<ledger_v1::PostEntriesResponse> responses(options.streams);
  std::vector<grpc::Status> statuses(options.streams);
  const Clock::time_point start = Clock::now();
  std::vector<std::thread> streams;
  for (int s = 0; s < options.streams; ++s) {
    streams.emplace_back([&, s] {
      auto stub = ledger_v1::LedgerService::NewStub((*channels)[s]);
      grpc::ClientContext ctx;
      AddMetadata(&ctx, target.ledger(), absl::StrCat(run_id, "-stream-", s));
      SetDeadline(&ctx, options.call_timeout);
      std::unique_ptr<grpc::ClientWriter<ledger_v1::PostEntriesRequest>> writer =
          stub->PostEntries(&ctx, &responses[s]);
      ledger_v1::PostEntriesRequest batch;
      for (int64_t b = s; b < batches; b += options.streams) {
        batch.Clear();
        batch.set_request_id(absl::StrCat(run_id, "-b", b));
        const int64_t last = std::min(shape.entries, (b + 1) * options.batch_size);
        for (int64_t i = b * options.batch_size; i < last; ++i) {
          FillJournalEntry(options, shape, run_id, i, batch.add_entries());
        }
        if (!writer->Write(batch)) {
          break;  // the server ended the call; Finish says why
        }
      }
      writer->WritesDone();
      statuses[s] = writer->Finish();
    });
  }
  for (std::thread& t : streams) {
    t.join();
  }
  JournalResult r;
  r.post_seconds = SecondsSince(start);
  const Clock::time_point post_end = Clock::now();
  for (int s = 0; s < options.streams; ++s) {
    const ledger_v1::PostEntriesResponse& resp = responses[s];
    r.entries += resp.entries_posted();
    r.lines += resp.lines_posted();
    r.batches += resp.batches_committed();
    r.last_sequence = std::max(r.last_sequence, resp.last_sequence());
    r.errors += resp.batches_rejected() + resp.errors_size();
    if (resp.errors_size() > 0 && r.first_error.empty()) {
      const ledger_v1::EntryError& e = resp.errors(0);
      r.first_error = absl::StrCat("entry ", e.entry_index(), ": ", e.code(), " ", e.message());
    }
    if (!statuses[s].ok()) {
      ++r.errors;
      r.first_error = absl::StrCat("stream ", s, ": ", StatusText(statuses[s]));
    }
  }
  r.lines_per_s = static_cast<double>(r.lines) / r.post_seconds;

  // Reporting, until it has applied the ledger's last sequence.
  auto reporting = v1::ReportingService::NewStub(NewChannel(target.reporting_address, 0));
  bool first = true;
  for (;;) {
    absl::StatusOr<int64_t> applied = AppliedSequence(*reporting, target.reporting());
    if (!applied.ok()) {
      return applied.status();
    }
    if (first) {
      r.behind_at_post_end = std::max<int64_t>(0, r.last_sequence - *applied);
      first = false;
    }
    if (*applied >= r.last_sequence) {
      break;
    }
    if (Clock::now() - post_end > absl::ToChronoNanoseconds(options.catch_up_timeout)) {
      return absl::DeadlineExceededError(absl::StrCat("reporting applied ", *applied, " of ",
                                                      r.last_sequence, " entries in time"));
    }
    std::this_thread::sleep_for(absl::ToChronoNanoseconds(options.poll_interval));
  }
  r.catch_up_seconds = SecondsSince(post_end);
  r.applied_seconds = SecondsSince(start);
  r.applied_lines_per_s = static_cast<double>(r.lines) / r.applied_seconds;
  return r;
}

// --- the reports
// -----------------------------------------------------------------------------------

absl::StatusOr<ReportsResult> MeasureReports(const ReportingBenchTarget& target,
                                             const ReportsOptions& options) {
  if (options.calls < 1 || options.warmup_calls < 0 || options.naive_runs < 1) {
    return absl::InvalidArgumentError("calls >= 1, warmup_calls >= 0, naive_runs >= 1");
  }
  const Year y{.from = absl::StrFormat("%04d-01-01", options.year),
               .to = absl::StrFormat("%04d-12-31", options.year),
               .previous_from = absl::StrFormat("%04d-01-01", options.year - 1)};
  v1::ReportScope scope;
  scope.set_from_date(y.from);
  scope.set_to_date(y.to);
  ReportsResult r;

  // Reporting over gRPC.
  absl::StatusOr<std::vector<std::shared_ptr<grpc::Channel>>> channels =
      ConnectChannels(target.reporting_address, 1);
  if (!channels.ok()) {
    return channels.status();
  }
  auto stub = v1::ReportingService::NewStub(channels->front());
  const Target t = target.reporting();
  v1::TrialBalance tb;
  v1::GetTrialBalanceRequest tb_req;
  *tb_req.mutable_scope() = scope;
  if (absl::Status s = TimeCalls<v1::TrialBalance>(
          options.warmup_calls, options.calls, &r.trial_balance, &tb,
          [&](grpc::ClientContext* ctx, v1::TrialBalance* resp) {
            return stub->GetTrialBalance(ctx, tb_req, resp);
          },
          t, "GetTrialBalance", options.call_timeout);
      !s.ok()) {
    return s;
  }
  v1::Statement is;
  v1::GetIncomeStatementRequest is_req;
  *is_req.mutable_scope() = scope;
  if (absl::Status s = TimeCalls<v1::Statement>(
          options.warmup_calls, options.calls, &r.income_statement, &is,
          [&](grpc::ClientContext* ctx, v1::Statement* resp) {
            return stub->GetIncomeStatement(ctx, is_req, resp);
          },
          t, "GetIncomeStatement", options.call_timeout);
      !s.ok()) {
    return s;
  }
  v1::CostCentreReport cc;
  v1::GetCostCentreReportRequest cc_req;
  *cc_req.mutable_scope() = scope;
  if (absl::Status s = TimeCalls<v1::CostCentreReport>(
          options.warmup_calls, options.calls, &r.cost_centres, &cc,
          [&](grpc::ClientContext* ctx, v1::CostCentreReport* resp) {
            return stub->GetCostCentreReport(ctx, cc_req, resp);
          },
          t, "GetCostCentreReport", options.call_timeout);
      !s.ok()) {
    return s;
  }
  r.tb_accounts = tb.rows_size();
  r.tb_total_debit = tb.total_debit_minor();
  r.tb_total_credit = tb.total_credit_minor();
  const std::vector<v1::StatementRow> is_rows(is.rows().begin(), is.rows().end());
  r.tilikauden_tulos = reporting::RowAmount(is_rows, "TILIKAUDEN_TULOS");
  r.cc_rows = cc.rows_size();
  r.cc_total_income = cc.total().income_minor();
  r.cc_total_expenses = cc.total().expenses_minor();

  // The naive queries over the ledger's journal lines.
  absl::StatusOr<std::unique_ptr<pg::Pool>> pool =
      pg::Pool::Create({.conninfo = options.ledger_db, .size = 1, .name = "naive"}, nullptr);
  if (!pool.ok()) {
    return pool.status();
  }
  const reporting::StatementMapping mapping = reporting::StatementMapping::Default();

  absl::StatusOr<pqxx::result> rows = TimeNaive(**pool, target.tenant, kNaiveTrialBalance, y,
                                                options.naive_runs, &r.naive_trial_balance);
  if (!rows.ok()) {
    return rows.status();
  }
  v1::TrialBalance tb_expected;
  for (const auto& row : *rows) {
    v1::TrialBalanceRow* out = tb_expected.add_rows();
    out->set_account(row[0].as<std::string>());
    out->set_opening_minor(row[1].as<int64_t>());
    out->set_debit_minor(row[2].as<int64_t>());
    out->set_credit_minor(row[3].as<int64_t>());
    out->set_closing_minor(out->opening_minor() + out->debit_minor() - out->credit_minor());
    tb_expected.set_total_opening_minor(tb_expected.total_opening_minor() + out->opening_minor());
    tb_expected.set_total_debit_minor(tb_expected.total_debit_minor() + out->debit_minor());
    tb_expected.set_total_credit_minor(tb_expected.total_credit_minor() + out->credit_minor());
    tb_expected.set_total_closing_minor(tb_expected.total_closing_minor() + out->closing_minor());
    r.journal_lines += row[4].as<int64_t>();
  }
  *tb_expected.mutable_scope() = tb.scope();

  rows = TimeNaive(**pool, target.tenant, kNaiveIncomeStatement, y, options.naive_runs,
                   &r.naive_income_statement);
  if (!rows.ok()) {
    return rows.status();
  }
  reporting::AccountNets current, previous;
  for (const auto& row : *rows) {
    const std::string account = row[0].as<std::string>();
    if (std::optional<int64_t> v = MaybeInt(row[1])) current[account] = *v;
    if (std::optional<int64_t> v = MaybeInt(row[2])) previous[account] = *v;
  }
  v1::Statement is_expected = is;
  is_expected.clear_rows();
  for (v1::StatementRow& row : reporting::BuildIncomeStatement(mapping, current, previous)) {
    *is_expected.add_rows() = std::move(row);
  }

  rows = TimeNaive(**pool, target.tenant, kNaiveCostCentres, y, options.naive_runs,
                   &r.naive_cost_centres);
  if (!rows.ok()) {
    return rows.status();
  }
  std::map<std::string, reporting::AccountNets> by_value, by_value_previous;
  for (const auto& row : *rows) {
    const std::string value = row[0].as<std::string>();
    const std::string account = row[1].as<std::string>();
    if (std::optional<int64_t> v = MaybeInt(row[2])) by_value[value][account] = *v;
    if (std::optional<int64_t> v = MaybeInt(row[3])) by_value_previous[value][account] = *v;
  }
  std::map<std::string, bool> values;
  for (const auto& [v, nets] : by_value) values[v] = true;
  for (const auto& [v, nets] : by_value_previous) values[v] = true;
  v1::CostCentreReport cc_expected;
  *cc_expected.mutable_scope() = cc.scope();
  cc_expected.set_split_by("cost_centre");
  v1::CostCentreRow* total = cc_expected.mutable_total();
  for (const auto& [value, unused] : values) {
    const reporting::IncomeAndExpenses now =
        reporting::SplitIncomeAndExpenses(mapping, by_value[value]);
    const reporting::IncomeAndExpenses before =
        reporting::SplitIncomeAndExpenses(mapping, by_value_previous[value]);
    if (value.empty() && now.income == 0 && now.expenses == 0 && before.income == 0 &&
        before.expenses == 0) {
      continue;  // as reporting: only balance-sheet lines lack the cost centre
    }
    v1::CostCentreRow* row = cc_expected.add_rows();
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
    total->set_previous_income_minor(total->previous_income_minor() + before.income);
    total->set_previous_expenses_minor(total->previous_expenses_minor() + before.expenses);
    total->set_previous_net_minor(total->previous_net_minor() + row->previous_net_minor());
  }

  for (const auto& [what, diff] : std::vector<std::pair<std::string, std::string>>{
           {"trial balance", Difference(tb, tb_expected)},
           {"income statement", Difference(is, is_expected)},
           {"cost-centre report", Difference(cc, cc_expected)}}) {
    if (!diff.empty() && r.mismatch.empty()) {
      r.mismatch = absl::StrCat(what, " differs from the naive query: ", diff);
    }
  }
  r.match = r.mismatch.empty() && r.tb_accounts > 0;
  if (r.tb_accounts == 0 && r.mismatch.empty()) {
    r.mismatch = "the trial balance is empty";
  }
  return r;
}

// --- the feed's lag
// --------------------------------------------------------------------------------

absl::StatusOr<LagResult> MeasureFeedLag(const ReportingBenchTarget& target,
                                         const LagOptions& options) {
  Target ledger = target.ledger();
  ledger.tenant = options.lag_tenant;
  const std::string entry_date =
      options.load.entry_date.empty() ? TodayUtc() : options.load.entry_date;
  if (absl::Status s = SetUpTenant(ledger, entry_date); !s.ok()) {
    return s;
  }
  Target cell = target.reporting();
  cell.tenant = "";  // GetFeedStatus of every organisation
  auto stub = v1::ReportingService::NewStub(NewChannel(target.reporting_address, 0));

  // One entry first, until reporting has applied it: the organisation is then one reporting
  // follows, as any organisation with books is (a new one waits for the next discovery, up to a
  // second, once).
  absl::StatusOr<BulkLoadResult> first =
      RunBulkLoad(ledger, {.entries = 1, .batch_size = 1, .entry_date = entry_date});
  if (!first.ok()) {
    return first.status();
  }
  if (first->errors > 0) {
    return absl::InternalError(absl::StrCat("the first entry: ", first->first_error));
  }
  Target lag_reporting = target.reporting();
  lag_reporting.tenant = options.lag_tenant;
  for (const Clock::time_point until =
           Clock::now() + absl::ToChronoNanoseconds(options.catch_up_timeout);
       ;) {
    absl::StatusOr<int64_t> applied = AppliedSequence(*stub, lag_reporting);
    if (!applied.ok()) {
      return applied.status();
    }
    if (*applied >= 1) {
      break;
    }
    if (Clock::now() > until) {
      return absl::DeadlineExceededError(
          "reporting did not apply the lag organisation's first entry");
    }
    std::this_thread::sleep_for(absl::ToChronoNanoseconds(options.sample_interval));
  }

  LagResult r;
  std::vector<double> samples;
  std::mutex mu;
  bool load_done = false;  // guarded by mu
  Clock::time_point load_end;
  bool caught_up = false;
  std::thread sampler([&] {
    for (;;) {
      const Clock::time_point next =
          Clock::now() + absl::ToChronoNanoseconds(options.sample_interval);
      absl::StatusOr<v1::FeedStatus> status = FeedStatus(*stub, cell);
      bool done;
      {
        std::lock_guard<std::mutex> lock(mu);
        done = load_done;
      }
      if (!status.ok()) {
        ++r.sample_errors;
      } else {
        samples.push_back(status->seconds_behind());
        r.max_events_behind = std::max(r.max_events_behind, status->events_behind());
        if (done && status->events_behind() == 0) {
          r.catch_up_seconds = SecondsSince(load_end);
          caught_up = true;
          return;
        }
      }
      if (done && Clock::now() - load_end > absl::ToChronoNanoseconds(options.catch_up_timeout)) {
        return;
      }
      std::this_thread::sleep_until(next);
    }
  });
  PostLoadOptions load = options.load;
  load.entry_date = entry_date;
  absl::StatusOr<PostLoadResult> posted = RunPostLoad(ledger, load);
  {
    std::lock_guard<std::mutex> lock(mu);
    load_done = true;
    load_end = Clock::now();
  }
  sampler.join();
  if (!posted.ok()) {
    return posted.status();
  }
  if (!caught_up) {
    return absl::DeadlineExceededError("reporting did not catch up with the posting load in time");
  }
  r.load = *posted;
  std::sort(samples.begin(), samples.end());
  r.samples = static_cast<int64_t>(samples.size());
  r.max_seconds_behind = samples.empty() ? 0 : samples.back();
  r.p99_seconds_behind = Percentile(samples, 0.99);
  return r;
}

// --- output
// ----------------------------------------------------------------------------------------

std::string HumanLine(const SetUpResult& r) {
  return absl::StrFormat("setup: chart, %d periods, %d cost centres in %.1f s", r.periods,
                         r.cost_centres, r.seconds);
}

std::string ResultLine(const SetUpResult& r) {
  return absl::StrFormat("RESULT mode=setup periods=%d cost_centres=%d seconds=%.3f", r.periods,
                         r.cost_centres, r.seconds);
}

std::string HumanLine(const JournalResult& r) {
  std::string line = absl::StrFormat(
      "post: %d entries (%d lines) in %d batches in %.1f s = %.0f lines/s; reporting %d entries "
      "behind at the end, caught up %.1f s later (%.0f lines/s applied overall); %d errors",
      r.entries, r.lines, r.batches, r.post_seconds, r.lines_per_s, r.behind_at_post_end,
      r.catch_up_seconds, r.applied_lines_per_s, r.errors);
  if (!r.first_error.empty()) {
    absl::StrAppend(&line, " (first: ", r.first_error, ")");
  }
  return line;
}

std::string ResultLine(const JournalResult& r) {
  return absl::StrFormat(
      "RESULT mode=post entries=%d lines=%d batches=%d last_sequence=%d post_seconds=%.3f "
      "lines_per_s=%.1f behind_at_post_end=%d catch_up_seconds=%.3f applied_seconds=%.3f "
      "applied_lines_per_s=%.1f errors=%d",
      r.entries, r.lines, r.batches, r.last_sequence, r.post_seconds, r.lines_per_s,
      r.behind_at_post_end, r.catch_up_seconds, r.applied_seconds, r.applied_lines_per_s, r.errors);
}

std::string HumanLine(const ReportsResult& r) {
  auto one = [](const char* what, const Timing& report, const Timing& naive) {
    return absl::StrFormat("%s p50 %.2f ms (p99 %.2f) vs naive %.0f ms = %.0f x", what,
                           report.p50(), report.p99(), naive.p50(),
                           naive.p50() / std::max(report.p50(), 1e-3));
  };
  return absl::StrCat(
      "reports over ", r.journal_lines,
      " lines: ", one("trial balance", r.trial_balance, r.naive_trial_balance), "; ",
      one("income statement", r.income_statement, r.naive_income_statement), "; ",
      one("cost centres", r.cost_centres, r.naive_cost_centres), "; ",
      r.match ? "every report equals its naive query" : absl::StrCat("MISMATCH: ", r.mismatch));
}

std::string ResultLine(const ReportsResult& r) {
  auto timing = [](const char* name, const Timing& t) {
    return absl::StrFormat(" %s_p50_ms=%.3f %s_p99_ms=%.3f %s_n=%d", name, t.p50(), name, t.p99(),
                           name, t.ms.size());
  };
  return absl::StrCat(
      "RESULT mode=reports", timing("tb", r.trial_balance), timing("is", r.income_statement),
      timing("cc", r.cost_centres), timing("naive_tb", r.naive_trial_balance),
      timing("naive_is", r.naive_income_statement), timing("naive_cc", r.naive_cost_centres),
      absl::StrFormat(" journal_lines=%d tb_accounts=%d tb_total_debit=%d tb_total_credit=%d "
                      "tilikauden_tulos=%d cc_rows=%d cc_total_income=%d cc_total_expenses=%d "
                      "match=%d",
                      r.journal_lines, r.tb_accounts, r.tb_total_debit, r.tb_total_credit,
                      r.tilikauden_tulos, r.cc_rows, r.cc_total_income, r.cc_total_expenses,
                      r.match ? 1 : 0));
}

std::string HumanLine(const LagResult& r) {
  return absl::StrCat(HumanLine(r.load),
                      absl::StrFormat("; reporting behind at most %.3f s (p99 of %d samples %.3f "
                                      "s, at most %d entries), caught up %.2f s after the load",
                                      r.max_seconds_behind, r.samples, r.p99_seconds_behind,
                                      r.max_events_behind, r.catch_up_seconds));
}

std::string ResultLine(const LagResult& r) {
  return absl::StrFormat(
      "RESULT mode=lag concurrency=%d entries=%d entries_per_s=%.1f post_p50_ms=%.3f "
      "post_p99_ms=%.3f errors=%d samples=%d sample_errors=%d max_seconds_behind=%.3f "
      "p99_seconds_behind=%.3f max_events_behind=%d catch_up_seconds=%.3f",
      r.load.concurrency, r.load.entries, r.load.entries_per_s, r.load.p50_ms, r.load.p99_ms,
      r.load.errors, r.samples, r.sample_errors, r.max_seconds_behind, r.p99_seconds_behind,
      r.max_events_behind, r.catch_up_seconds);
}

}  // namespace tahe::bench
