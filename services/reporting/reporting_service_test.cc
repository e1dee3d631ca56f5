// Integration tests of the reporting service, wired the way main.cc wires it but in-process: the
// real ledger (its own fresh PostgreSQL database, LedgerRepository -> GroupCommitter ->
// LedgerService -> GrpcServer on 127.0.0.1:0) and reporting (a fresh reporting database,
// connected as a member of tahe_reporting_app, so under row-level security; ReportingRepository
// -> LedgerFollower on the ledger's real change feed -> ReportingService -> GrpcServer). Both are
// called through the generated stubs with the internal token and x-tahe-tenant, as the gateway
// calls them.
//
// The scripted books (ScriptMonth) are posted through the ledger's API. Every expected figure is
// computed in this file from the entries the ledger lists (ListEntries), never typed in: the
// reports must equal that direct computation to the cent.

#include "services/reporting/reporting_service.h"

#include <google/protobuf/util/message_differencer.h>
#include <grpcpp/grpcpp.h>
#include <prometheus/registry.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <pqxx/pqxx>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "libs/dates/dates.h"
#include "libs/metrics/registry_for_test.h"
#include "libs/pg/pg.h"
#include "libs/server/call.h"
#include "libs/server/grpc_server.h"
#include "libs/server/worker_pool.h"
#include "libs/status/status.h"
#include "libs/testing/pg_fixture.h"
#include "services/ledger/group_commit.h"
#include "services/ledger/ledger_migrations.h"
#include "services/ledger/ledger_repository.h"
#include "services/ledger/ledger_service.h"
#include "services/reporting/ledger_follower.h"
#include "services/reporting/reporting_domain.h"
#include "services/reporting/reporting_metrics.h"
#include "services/reporting/reporting_render.h"
#include "services/reporting/reporting_repository.h"
#include "tahe/ledger/v1/ledger.grpc.pb.h"
#include "tahe/reporting/v1/reporting.grpc.pb.h"

namespace tahe::reporting {
namespace {

namespace ledger_v1 = ::tahe::ledger::v1;
using google::protobuf::util::MessageDifferencer;
using LedgerStub = ledger_v1::LedgerService::Stub;
using ReportingStub = v1::ReportingService::Stub;

constexpr char kToken[] = "reporting-service-test-internal-token";
constexpr int kPoolSize = 6;
constexpr char kA[] = "lahti";
constexpr char kB[] = "vaasa";

std::string CodeString(grpc::StatusCode code) {
  return CodeName(static_cast<absl::StatusCode>(code));
}

template <typename T>
T OrThrow(absl::StatusOr<T> value) {
  if (!value.ok()) throw std::runtime_error(value.status().ToString());
  return *std::move(value);
}

#define REQUIRE_REFUSED(status, code, field)                                   \
  do {                                                                         \
    const grpc::Status& s_ = (status);                                         \
    INFO("got " << CodeString(s_.error_code()) << ": " << s_.error_message()); \
    REQUIRE(CodeString(s_.error_code()) == CodeString(code));                  \
    REQUIRE(absl::StrContains(s_.error_message(), (field)));                   \
  } while (false)

#define REQUIRE_SAME(actual, expected)                                                        \
  do {                                                                                        \
    INFO("actual:\n" << (actual).DebugString() << "expected:\n" << (expected).DebugString()); \
    REQUIRE(MessageDifferencer::Equals((actual), (expected)));                                \
  } while (false)

// --- the servers ---------------------------------------------------------------------------------

struct Fixture {
  Fixture()
      : ledger_service(&ledger_repository, &committer, {&auth, &ledger_workers},
                       {.watch_poll_interval = absl::Milliseconds(20)}),
        service(&repository, nullptr, &metrics, {&auth, &workers},
                {.freshness_poll = absl::Milliseconds(10),
                 .max_freshness_wait = absl::Milliseconds(300)}) {
    ledger_server = OrThrow(server::GrpcServer::Start(
        {.listen = "127.0.0.1:0", .services = {&ledger_service}, .metrics = nullptr}));
    server_ = OrThrow(server::GrpcServer::Start({.listen = "127.0.0.1:0", .services = {&service}}));
    ledger_channel =
        grpc::CreateChannel(ledger_server->address(), grpc::InsecureChannelCredentials());
    ledger_stub = ledger_v1::LedgerService::NewStub(ledger_channel);
    reporting = v1::ReportingService::NewStub(
        grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials()));
  }
  ~Fixture() {
    followers.clear();
    server_->Shutdown(absl::Seconds(5));
    workers.Drain();
    ledger_service.BeginShutdown();
    ledger_server->Shutdown(absl::Seconds(5));
    committer.Stop();
    ledger_workers.Drain();
  }

  // A follower of its own (own metrics registry), started.
  LedgerFollower& StartFollower(LedgerFollower::Options options = {}) {
    options.discovery_interval = absl::Milliseconds(50);
    options.min_backoff = absl::Milliseconds(20);
    registries.push_back(std::make_unique<prometheus::Registry>());
    follower_metrics.push_back(std::make_unique<ReportingMetrics>(registries.back().get()));
    followers.push_back(std::make_unique<LedgerFollower>(ledger_channel, kToken, &repository,
                                                         follower_metrics.back().get(), options));
    followers.back()->Start();
    return *followers.back();
  }

  double AppliedByAllFollowers() {
    double sum = 0;
    for (auto& r : registries) {
      sum += metrics::CounterSum(*r, "tahe_reporting_feed_events_applied_total");
    }
    return sum;
  }

  static void Authorise(grpc::ClientContext& ctx, const std::string& tenant) {
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    ctx.AddMetadata(server::kInternalTokenHeader, kToken);
    if (!tenant.empty()) ctx.AddMetadata(server::kTenantHeader, tenant);
    ctx.AddMetadata(server::kPrincipalHeader, "user:reporting-test");
  }

  template <typename Req, typename Resp>
  grpc::Status Call(grpc::Status (ReportingStub::*method)(grpc::ClientContext*, const Req&, Resp*),
                    const Req& req, Resp* resp, const std::string& tenant = kA) {
    grpc::ClientContext ctx;
    Authorise(ctx, tenant);
    return ((*reporting).*method)(&ctx, req, resp);
  }
  template <typename Req, typename Resp>
  Resp Ok(grpc::Status (ReportingStub::*method)(grpc::ClientContext*, const Req&, Resp*),
          const Req& req, const std::string& tenant = kA) {
    Resp resp;
    grpc::Status status = Call(method, req, &resp, tenant);
    INFO(CodeString(status.error_code()) << ": " << status.error_message());
    REQUIRE(status.ok());
    return resp;
  }
  template <typename Req, typename Resp>
  Resp LedgerOk(grpc::Status (LedgerStub::*method)(grpc::ClientContext*, const Req&, Resp*),
                const Req& req, const std::string& tenant) {
    grpc::ClientContext ctx;
    Authorise(ctx, tenant);
    Resp resp;
    grpc::Status status = ((*ledger_stub).*method)(&ctx, req, &resp);
    INFO(status.error_message());
    REQUIRE(status.ok());
    return resp;
  }

  void SetUpLedger(const std::string& tenant) {
    ledger_v1::LoadChartTemplateRequest chart;
    chart.set_request_id("setup-chart");
    chart.set_template_("fi-municipal");
    LedgerOk(&LedgerStub::LoadChartTemplate, chart, tenant);
    for (const char* period : {"2025-01", "2025-02", "2025-03", "2026-01", "2026-02", "2026-03"}) {
      ledger_v1::OpenPeriodRequest open;
      open.set_request_id(absl::StrCat("setup-open-", period));
      open.set_period(period);
      LedgerOk(&LedgerStub::OpenPeriod, open, tenant);
    }
  }

  // Every entry of a tenant, as the ledger lists them.
  std::vector<ledger_v1::Entry> Entries(const std::string& tenant) {
    std::vector<ledger_v1::Entry> all;
    ledger_v1::ListEntriesRequest req;
    req.set_page_size(1000);
    for (;;) {
      auto resp = LedgerOk(&LedgerStub::ListEntries, req, tenant);
      for (const auto& e : resp.entries()) all.push_back(e);
      if (resp.next_page_token().empty()) break;
      req.set_page_token(resp.next_page_token());
    }
    return all;
  }

  int64_t Checkpoint(const std::string& tenant) {
    server::CallContext call;
    call.tenant = tenant;
    call.deadline = absl::Now() + absl::Seconds(10);
    auto cps = OrThrow(repository.Checkpoints(call));
    return cps.empty() ? 0 : cps[0].last_sequence;
  }

  // Waits (bounded) until reporting has applied `sequence` of `tenant`.
  void WaitApplied(const std::string& tenant, int64_t sequence) {
    const absl::Time until = absl::Now() + absl::Seconds(30);
    while (Checkpoint(tenant) < sequence && absl::Now() < until) {
      absl::SleepFor(absl::Milliseconds(10));
    }
    REQUIRE(Checkpoint(tenant) == sequence);
  }

  testing::TestDatabase ledger_db{ledger::Migrations(), "tahe_ledger_app"};
  testing::TestDatabase reporting_db{Migrations(), kReportingAppRole};
  std::unique_ptr<pg::Pool> ledger_pool = OrThrow(pg::Pool::Create(
      {.conninfo = ledger_db.app_conninfo(), .size = kPoolSize + 2, .name = "ledger"}, nullptr));
  std::unique_ptr<pg::Pool> pool = OrThrow(pg::Pool::Create(
      {.conninfo = reporting_db.app_conninfo(), .size = kPoolSize + 8, .name = "reporting"},
      nullptr));
  ledger::LedgerMetrics ledger_metrics{nullptr};
  ledger::LedgerRepository ledger_repository{ledger_pool.get(), &ledger_metrics};
  ledger::GroupCommitter committer{&ledger_repository, {.threads = 1, .max_batch = 64}};
  server::Authenticator auth{kToken};
  server::WorkerPool ledger_workers{kPoolSize};
  server::WorkerPool workers{kPoolSize};
  ledger::LedgerService ledger_service;
  prometheus::Registry registry;
  ReportingMetrics metrics{&registry};
  ReportingRepository repository{pool.get()};
  ReportingService service;
  std::unique_ptr<server::GrpcServer> ledger_server;
  std::unique_ptr<server::GrpcServer> server_;
  std::shared_ptr<grpc::Channel> ledger_channel;
  std::unique_ptr<LedgerStub> ledger_stub;
  std::unique_ptr<ReportingStub> reporting;
  std::vector<std::unique_ptr<prometheus::Registry>> registries;
  std::vector<std::unique_ptr<ReportingMetrics>> follower_metrics;
  std::vector<std::unique_ptr<LedgerFollower>> followers;
};

// --- the scripted books --------------------------------------------------------------------------

struct L {
  std::string account;
  int64_t cents;
  std::map<std::string, std::string> dims = {};
};

ledger_v1::PostEntryRequest Entry(const std::string& id, const std::string& date,
                                  const std::string& system, const std::vector<L>& lines) {
  ledger_v1::PostEntryRequest req;
  req.set_request_id(id);
  auto* d = req.mutable_entry();
  d->set_entry_date(date);
  d->set_description(id);
  d->mutable_source()->set_system(system);
  d->mutable_source()->set_reference(id);
  for (const L& l : lines) {
    auto* line = d->add_lines();
    line->set_account(l.account);
    line->mutable_amount()->set_amount_minor(l.cents);
    line->mutable_dimensions()->insert(l.dims.begin(), l.dims.end());
  }
  return req;
}

std::map<std::string, std::string> Cc(const std::string& cc) { return {{"cost_centre", cc}}; }

// A month of an organisation's books, scaled by `k` so that two organisations differ: opening
// balances and last year's figures, manual entries with cost centres, a payroll-sourced and an
// invoicing-sourced entry, an entry and its reversal, and entries in partial months. Returns the
// last sequence.
int64_t ScriptMonth(Fixture& f, const std::string& tenant, int64_t k) {
  f.SetUpLedger(tenant);
  auto post = [&](const ledger_v1::PostEntryRequest& req) {
    return f.LedgerOk(&LedgerStub::PostEntry, req, tenant).entry().sequence();
  };
  post(Entry("opening", "2025-01-02", "manual",
             {{"1910", 1000000 * k}, {"1110", 250000 * k}, {"2000", -1250000 * k}}));
  post(Entry("sale-2025", "2025-02-15", "manual",
             {{"1910", 5000 * k}, {"3000", -5000 * k, Cc("CC-1")}}));
  post(Entry("purchase-2025", "2025-03-10", "manual",
             {{"4300", 2000 * k, Cc("CC-2")}, {"1910", -2000 * k}}));
  post(Entry("fees-jan", "2026-01-20", "manual",
             {{"1910", 12000 * k}, {"3100", -12000 * k, Cc("CC-1")}}));
  post(Entry("supplies", "2026-02-03", "manual",
             {{"4400", 3456 * k, {{"cost_centre", "CC-2"}, {"project", "P1"}}},
              {"4700", 1000 * k, Cc("CC-1")},
              {"1910", -4456 * k}}));
  post(Entry("invoice-1", "2026-02-14", "invoicing",
             {{"1700", 12550 * k}, {"3000", -10000 * k, Cc("CC-3")}, {"2850", -2550 * k}}));
  const int64_t wrong = post(Entry(
      "wrong-booking", "2026-02-20", "manual",
      {{"4300", 9999 * k, {{"cost_centre", "CC-2"}, {"project", "P1"}}}, {"1910", -9999 * k}}));
  ledger_v1::ReverseEntryRequest reverse;
  reverse.set_request_id("reverse-wrong");
  reverse.set_sequence(wrong);
  reverse.set_reversal_date("2026-02-21");
  f.LedgerOk(&LedgerStub::ReverseEntry, reverse, tenant);
  // Payroll: wages and employer contributions per cost centre, liabilities without.
  const int64_t w1 = 300000 * k, w2 = 200000 * k, p1 = 50000 * k, p2 = 35000 * k, o1 = 8000 * k;
  const int64_t withholding = 120000 * k, pension_payable = 110000 * k;
  const int64_t net = w1 + w2 + p1 + p2 + o1 - withholding - pension_payable;
  post(Entry("payrun-2026-02", "2026-02-27", "payroll",
             {{"4000", w1, Cc("CC-1")},
              {"4000", w2, Cc("CC-2")},
              {"4100", p1, Cc("CC-1")},
              {"4100", p2, Cc("CC-2")},
              {"4150", o1, Cc("CC-1")},
              {"2870", -withholding},
              {"2871", -pension_payable},
              {"2880", -net}}));
  post(Entry("net-pay", "2026-02-28", "manual", {{"2880", net}, {"1910", -net}}));
  post(Entry("tax", "2026-03-05", "manual", {{"1910", 400000 * k}, {"5000", -400000 * k}}));
  post(Entry("interest", "2026-03-06", "manual", {{"5300", 1500 * k}, {"1910", -1500 * k}}));
  post(Entry("depreciation", "2026-03-09", "manual", {{"6000", 10000 * k}, {"1110", -10000 * k}}));
  post(Entry("rent-income", "2026-03-20", "manual", {{"1910", 700 * k}, {"3400", -700 * k}}));
  return post(Entry("late-march", "2026-03-31", "manual",
                    {{"4300", 4321 * k, Cc("CC-3")}, {"2800", -4321 * k}}));
}

// --- the direct computation ----------------------------------------------------------------------

struct Books {
  std::vector<ledger_v1::Entry> entries;

  template <typename Fn>
  void ForLines(absl::CivilDay from, absl::CivilDay to, Fn fn) const {
    for (const auto& e : entries) {
      absl::CivilDay day = OrThrow(ParseDate("d", e.entry_date()));
      if (day < from || day > to) continue;
      for (const auto& line : e.lines()) fn(e, line);
    }
  }
  // Nets per account over [from, to], only lines `keep` accepts.
  template <typename Keep>
  AccountNets Nets(absl::CivilDay from, absl::CivilDay to, Keep keep) const {
    AccountNets nets;
    ForLines(from, to, [&](const ledger_v1::Entry& e, const ledger_v1::EntryLine& line) {
      if (keep(e, line)) nets[line.account()] += line.amount().amount_minor();
    });
    return nets;
  }
  AccountNets Nets(absl::CivilDay from, absl::CivilDay to) const {
    return Nets(from, to, [](const auto&, const auto&) { return true; });
  }
};

v1::ReportScope Scope(const std::string& from, const std::string& to) {
  v1::ReportScope s;
  s.set_from_date(from);
  s.set_to_date(to);
  return s;
}

absl::CivilDay Day(const std::string& text) { return OrThrow(ParseDate("d", text)); }

v1::TrialBalance ExpectedTrialBalance(const Books& books, const v1::ReportScope& scope,
                                      const std::string& dim_key = "",
                                      const std::string& dim_value = "") {
  auto keep = [&](const ledger_v1::Entry&, const ledger_v1::EntryLine& line) {
    if (dim_key.empty()) return true;
    auto it = line.dimensions().find(dim_key);
    return it != line.dimensions().end() && it->second == dim_value;
  };
  const absl::CivilDay from = Day(scope.from_date()), to = Day(scope.to_date());
  std::map<std::string, v1::TrialBalanceRow> rows;
  books.ForLines(kBeginningOfTime, to,
                 [&](const ledger_v1::Entry& e, const ledger_v1::EntryLine& line) {
                   if (!keep(e, line)) return;
                   v1::TrialBalanceRow& row = rows[line.account()];
                   row.set_account(line.account());
                   const int64_t amount = line.amount().amount_minor();
                   if (Day(e.entry_date()) < from) {
                     row.set_opening_minor(row.opening_minor() + amount);
                   } else if (amount > 0) {
                     row.set_debit_minor(row.debit_minor() + amount);
                   } else {
                     row.set_credit_minor(row.credit_minor() - amount);
                   }
                   row.set_closing_minor(row.closing_minor() + amount);
                 });
  v1::TrialBalance tb;
  *tb.mutable_scope() = scope;
  tb.mutable_scope()->set_currency_code("EUR");
  for (auto& [account, row] : rows) {
    tb.set_total_opening_minor(tb.total_opening_minor() + row.opening_minor());
    tb.set_total_debit_minor(tb.total_debit_minor() + row.debit_minor());
    tb.set_total_credit_minor(tb.total_credit_minor() + row.credit_minor());
    tb.set_total_closing_minor(tb.total_closing_minor() + row.closing_minor());
    *tb.add_rows() = row;
  }
  return tb;
}

v1::Statement ExpectedIncomeStatement(const Books& books, const v1::ReportScope& scope,
                                      const StatementMapping& mapping) {
  const absl::CivilDay from = Day(scope.from_date()), to = Day(scope.to_date());
  v1::Statement s;
  s.set_kind(v1::STATEMENT_KIND_INCOME_STATEMENT);
  *s.mutable_scope() = scope;
  s.mutable_scope()->set_currency_code("EUR");
  s.set_previous_from_date(FormatDate(ShiftYears(from, -1)));
  s.set_previous_to_date(FormatDate(ShiftYears(to, -1)));
  for (auto& row : BuildIncomeStatement(mapping, books.Nets(from, to),
                                        books.Nets(ShiftYears(from, -1), ShiftYears(to, -1)))) {
    *s.add_rows() = row;
  }
  return s;
}

v1::Statement ExpectedBalanceSheet(const Books& books, const std::string& as_of) {
  const absl::CivilDay to = Day(as_of);
  auto figures = [&](absl::CivilDay at) {
    return BalanceSheetFigures{books.Nets(kBeginningOfTime, at),
                               books.Nets(kBeginningOfTime, absl::CivilDay(at.year(), 1, 1) - 1)};
  };
  v1::Statement s;
  s.set_kind(v1::STATEMENT_KIND_BALANCE_SHEET);
  s.mutable_scope()->set_to_date(as_of);
  s.mutable_scope()->set_currency_code("EUR");
  s.set_previous_to_date(FormatDate(ShiftYears(to, -1)));
  for (auto& row :
       BuildBalanceSheet(StatementMapping::Default(), figures(to), figures(ShiftYears(to, -1)))) {
    *s.add_rows() = row;
  }
  return s;
}

v1::CostCentreReport ExpectedCostCentres(const Books& books, const v1::ReportScope& scope) {
  const StatementMapping mapping = StatementMapping::Default();
  const absl::CivilDay from = Day(scope.from_date()), to = Day(scope.to_date());
  std::map<std::string, AccountNets> now, before;
  auto collect = [&](absl::CivilDay a, absl::CivilDay b, std::map<std::string, AccountNets>& out) {
    books.ForLines(a, b, [&](const ledger_v1::Entry&, const ledger_v1::EntryLine& line) {
      auto it = line.dimensions().find("cost_centre");
      out[it == line.dimensions().end() ? "" : it->second][line.account()] +=
          line.amount().amount_minor();
    });
  };
  collect(from, to, now);
  collect(ShiftYears(from, -1), ShiftYears(to, -1), before);
  std::set<std::string> values;
  for (auto& [v, n] : now) values.insert(v);
  for (auto& [v, n] : before) values.insert(v);
  v1::CostCentreReport report;
  *report.mutable_scope() = scope;
  report.mutable_scope()->set_currency_code("EUR");
  report.set_split_by("cost_centre");
  auto* total = report.mutable_total();
  for (const std::string& v : values) {
    IncomeAndExpenses a = SplitIncomeAndExpenses(mapping, now[v]);
    IncomeAndExpenses b = SplitIncomeAndExpenses(mapping, before[v]);
    if (v.empty() && a.income == 0 && a.expenses == 0 && b.income == 0 && b.expenses == 0) {
      continue;
    }
    auto* row = report.add_rows();
    row->set_value(v);
    row->set_income_minor(a.income);
    row->set_expenses_minor(a.expenses);
    row->set_net_minor(a.income - a.expenses);
    row->set_previous_income_minor(b.income);
    row->set_previous_expenses_minor(b.expenses);
    row->set_previous_net_minor(b.income - b.expenses);
    total->set_income_minor(total->income_minor() + a.income);
    total->set_expenses_minor(total->expenses_minor() + a.expenses);
    total->set_net_minor(total->net_minor() + a.income - a.expenses);
    total->set_previous_income_minor(total->previous_income_minor() + b.income);
    total->set_previous_expenses_minor(total->previous_expenses_minor() + b.expenses);
    total->set_previous_net_minor(total->previous_net_minor() + b.income - b.expenses);
  }
  return report;
}

v1::PayrollCosts ExpectedPayroll(const Books& books, const v1::ReportScope& scope) {
  const StatementMapping mapping = StatementMapping::Default();
  std::map<std::pair<std::string, std::string>, std::map<std::string, int64_t>> cells;
  std::map<std::string, int64_t> totals;
  books.ForLines(
      Day(scope.from_date()), Day(scope.to_date()),
      [&](const ledger_v1::Entry& e, const ledger_v1::EntryLine& line) {
        if (e.source().system() != "payroll") return;
        if (!IsIncomeStatementRow(mapping.RowOf(line.account()))) return;
        auto it = line.dimensions().find("cost_centre");
        cells[{it == line.dimensions().end() ? "" : it->second, e.entry_date().substr(0, 7)}]
             [line.account()] += line.amount().amount_minor();
        totals[line.account()] += line.amount().amount_minor();
      });
  v1::PayrollCosts report;
  *report.mutable_scope() = scope;
  report.mutable_scope()->set_currency_code("EUR");
  for (auto& [key, accounts] : cells) {
    auto* row = report.add_rows();
    row->set_cost_centre(key.first);
    row->set_month(key.second);
    for (auto& [account, amount] : accounts) {
      auto* a = row->add_accounts();
      a->set_account(account);
      a->set_amount_minor(amount);
      row->set_total_minor(row->total_minor() + amount);
    }
  }
  for (auto& [account, amount] : totals) {
    auto* a = report.add_totals();
    a->set_account(account);
    a->set_amount_minor(amount);
    report.set_total_minor(report.total_minor() + amount);
  }
  return report;
}

// Checks every report of `tenant` against the direct computation from its entries.
void RequireReportsMatch(Fixture& f, const std::string& tenant) {
  Books books{f.Entries(tenant)};
  REQUIRE(books.entries.size() == 15);
  const StatementMapping mapping = StatementMapping::Default();
  for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
           {"2026-01-15", "2026-03-10"},  // partial months at both ends
           {"2026-02-01", "2026-02-28"},  // one whole month
           {"2026-02-21", "2026-02-21"},  // the reversal's day
           {"2025-01-01", "2026-03-31"},  // everything
           {"2026-03-31", "2026-03-31"}}) {
    INFO(tenant << " " << from << ".." << to);
    v1::GetTrialBalanceRequest tb;
    *tb.mutable_scope() = Scope(from, to);
    v1::TrialBalance trial = f.Ok(&ReportingStub::GetTrialBalance, tb, tenant);
    REQUIRE_SAME(trial, ExpectedTrialBalance(books, tb.scope()));
    // The books balance: debits equal credits, and the balances add up to zero.
    REQUIRE(trial.total_debit_minor() == trial.total_credit_minor());
    REQUIRE(trial.total_closing_minor() == 0);

    v1::GetIncomeStatementRequest is;
    *is.mutable_scope() = Scope(from, to);
    v1::Statement income = f.Ok(&ReportingStub::GetIncomeStatement, is, tenant);
    REQUIRE_SAME(income, ExpectedIncomeStatement(books, is.scope(), mapping));

    v1::GetBalanceSheetRequest bs;
    bs.mutable_scope()->set_to_date(to);
    v1::Statement sheet = f.Ok(&ReportingStub::GetBalanceSheet, bs, tenant);
    REQUIRE_SAME(sheet, ExpectedBalanceSheet(books, to));
    std::vector<v1::StatementRow> rows(sheet.rows().begin(), sheet.rows().end());
    REQUIRE(RowAmount(rows, "VASTAAVAA") > 0);
    REQUIRE(RowAmount(rows, "VASTAAVAA") == RowAmount(rows, "VASTATTAVAA"));
    REQUIRE(RowAmount(rows, "UNMAPPED") == 0);
  }
  // A year-to-date income statement by hand, from the entries: Toimintakate is minus the net of
  // the 3xxx and 4xxx accounts.
  {
    v1::GetIncomeStatementRequest is;
    *is.mutable_scope() = Scope("2026-01-01", "2026-03-31");
    v1::Statement income = f.Ok(&ReportingStub::GetIncomeStatement, is, tenant);
    std::vector<v1::StatementRow> rows(income.rows().begin(), income.rows().end());
    int64_t operating = 0, all = 0;
    for (const auto& [account, net] : books.Nets(Day("2026-01-01"), Day("2026-03-31"))) {
      if (account[0] == '3' || account[0] == '4') operating -= net;
      if (account[0] >= '3') all -= net;
    }
    REQUIRE(RowAmount(rows, "TOIMINTAKATE") == operating);
    REQUIRE(RowAmount(rows, "TILIKAUDEN_YLIJAAMA") == all);
    // And the balance sheet at the same date carries it as the year's result.
    v1::GetBalanceSheetRequest bs;
    bs.mutable_scope()->set_to_date("2026-03-31");
    v1::Statement sheet = f.Ok(&ReportingStub::GetBalanceSheet, bs, tenant);
    std::vector<v1::StatementRow> sheet_rows(sheet.rows().begin(), sheet.rows().end());
    REQUIRE(RowAmount(sheet_rows, "TILIKAUDEN_YLIJAAMA") == all);
  }
  // With a dimension filter (whole months).
  for (const char* cc : {"CC-1", "CC-2", "CC-9"}) {
    // Whole months, and a whole year (the yearly aggregates) plus months.
    for (const char* from : {"2026-02-01", "2025-01-01"}) {
      v1::GetTrialBalanceRequest tb;
      *tb.mutable_scope() = Scope(from, "2026-03-31");
      tb.mutable_scope()->set_dimension_key("cost_centre");
      tb.mutable_scope()->set_dimension_value(cc);
      v1::TrialBalance trial = f.Ok(&ReportingStub::GetTrialBalance, tb, tenant);
      REQUIRE_SAME(trial, ExpectedTrialBalance(books, tb.scope(), "cost_centre", cc));
    }
  }
  {
    v1::GetTrialBalanceRequest tb;
    *tb.mutable_scope() = Scope("2026-01-01", "2026-02-28");
    tb.mutable_scope()->set_dimension_key("project");
    tb.mutable_scope()->set_dimension_value("P1");
    v1::TrialBalance trial = f.Ok(&ReportingStub::GetTrialBalance, tb, tenant);
    REQUIRE_SAME(trial, ExpectedTrialBalance(books, tb.scope(), "project", "P1"));
    REQUIRE(trial.rows_size() == 2);  // 4300 (booked and reversed) and 4400
  }
  // Cost centres, with the previous year.
  for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
           {"2026-01-01", "2026-03-31"},
           {"2026-02-01", "2026-02-28"},
           {"2025-01-01", "2025-12-31"},     // a whole year, and the year before
           {"2024-12-01", "2026-03-31"}}) {  // a month, a whole year, three months
    v1::GetCostCentreReportRequest cc;
    *cc.mutable_scope() = Scope(from, to);
    v1::CostCentreReport report = f.Ok(&ReportingStub::GetCostCentreReport, cc, tenant);
    REQUIRE_SAME(report, ExpectedCostCentres(books, cc.scope()));
  }
  // Payroll costs.
  v1::GetPayrollCostsRequest pay;
  *pay.mutable_scope() = Scope("2026-01-01", "2026-03-31");
  v1::PayrollCosts payroll = f.Ok(&ReportingStub::GetPayrollCosts, pay, tenant);
  REQUIRE_SAME(payroll, ExpectedPayroll(books, pay.scope()));
  REQUIRE(payroll.rows_size() == 2);    // CC-1 and CC-2, 2026-02
  REQUIRE(payroll.totals_size() == 3);  // 4000, 4100, 4150
}

// --- tests ---------------------------------------------------------------------------------------

TEST_CASE("every report equals the direct computation from the posted entries", "[reporting][pg]") {
  Fixture f;
  const int64_t last_a = ScriptMonth(f, kA, 1);
  const int64_t last_b = ScriptMonth(f, kB, 3);
  f.StartFollower();
  f.WaitApplied(kA, last_a);
  f.WaitApplied(kB, last_b);
  RequireReportsMatch(f, kA);
  RequireReportsMatch(f, kB);
  CHECK(f.AppliedByAllFollowers() == last_a + last_b);

  // The feed status and the lag metrics say it is caught up.
  v1::FeedStatus status = f.Ok(&ReportingStub::GetFeedStatus, v1::GetFeedStatusRequest(), kA);
  REQUIRE(status.tenants_size() == 1);
  CHECK(status.tenants(0).tenant() == kA);
  CHECK(status.tenants(0).applied_sequence() == last_a);
  v1::FeedStatus cell = f.Ok(&ReportingStub::GetFeedStatus, v1::GetFeedStatusRequest(), "");
  REQUIRE(cell.tenants_size() == 2);
  CHECK(cell.tenants(1).tenant() == kB);
  CHECK(cell.tenants(1).applied_sequence() == last_b);
  CHECK(cell.events_behind() == 0);
  std::vector<LedgerFollower::TenantStatus> seen = f.followers[0]->Status();
  REQUIRE(seen.size() == 2);
  for (const auto& s : seen) {
    CHECK(s.events_behind == 0);
    CHECK(s.seconds_behind == 0);
  }
  CHECK(metrics::HistogramCount(*f.registries[0], "tahe_reporting_feed_apply_delay_seconds") ==
        static_cast<uint64_t>(last_a + last_b));
  CHECK(metrics::CounterSum(f.registry, "tahe_reporting_report_duration_seconds") == 0);
  CHECK(metrics::HistogramCount(f.registry, "tahe_reporting_report_duration_seconds",
                                {{"report", "income_statement"}}) > 0);
}

TEST_CASE("a follower stopped mid-feed and a new one give the same reports, nothing twice",
          "[reporting][pg]") {
  Fixture f;
  const int64_t last_a = ScriptMonth(f, kA, 1);
  const int64_t last_b = ScriptMonth(f, kB, 2);
  // Batches of one entry; the first follower "crashes" after three batches.
  LedgerFollower& first = f.StartFollower({.max_batch_entries = 1, .batch_limit = 3});
  const absl::Time until = absl::Now() + absl::Seconds(30);
  while (first.batches_applied() < 3 && absl::Now() < until) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  first.Stop();
  REQUIRE(first.batches_applied() == 3);
  const int64_t partial = f.Checkpoint(kA) + f.Checkpoint(kB);
  REQUIRE(partial == 3);
  CHECK(f.AppliedByAllFollowers() == 3);

  // A new follower resumes from the checkpoints.
  f.StartFollower({.max_batch_entries = 4});
  f.WaitApplied(kA, last_a);
  f.WaitApplied(kB, last_b);
  CHECK(f.AppliedByAllFollowers() == last_a + last_b);  // each entry applied exactly once
  RequireReportsMatch(f, kA);
  RequireReportsMatch(f, kB);
}

TEST_CASE("two followers at once apply every entry exactly once", "[reporting][pg]") {
  Fixture f;
  const int64_t last_a = ScriptMonth(f, kA, 1);
  f.StartFollower({.max_batch_entries = 1});
  f.StartFollower({.max_batch_entries = 2});
  f.WaitApplied(kA, last_a);
  // Post more while both run.
  for (int i = 0; i < 10; ++i) {
    f.LedgerOk(&LedgerStub::PostEntry,
               Entry(absl::StrCat("more-", i), "2026-03-15", "manual",
                     {{"1910", 100 + i}, {"3000", -(100 + i), Cc("CC-1")}}),
               kA);
  }
  f.WaitApplied(kA, last_a + 10);
  f.followers.clear();  // stops both
  CHECK(f.AppliedByAllFollowers() == last_a + 10);
  Books books{f.Entries(kA)};
  v1::GetTrialBalanceRequest tb;
  *tb.mutable_scope() = Scope("2026-01-01", "2026-03-31");
  REQUIRE_SAME(f.Ok(&ReportingStub::GetTrialBalance, tb, kA),
               ExpectedTrialBalance(books, tb.scope()));
}

TEST_CASE("one organisation's data never appears in another's reports", "[reporting][pg]") {
  Fixture f;
  const int64_t last_a = ScriptMonth(f, kA, 1);
  f.SetUpLedger(kB);
  const int64_t last_b =
      f.LedgerOk(
           &LedgerStub::PostEntry,
           Entry("b-only", "2026-02-10", "payroll",
                 {{"4000", 777777, Cc("CC-B")}, {"4500", 1234, Cc("CC-B")}, {"1910", -779011}}),
           kB)
          .entry()
          .sequence();
  f.StartFollower();
  f.WaitApplied(kA, last_a);
  f.WaitApplied(kB, last_b);
  // A's reports are exactly A's books (RequireReportsMatch compares whole messages).
  RequireReportsMatch(f, kA);
  v1::GetTrialBalanceRequest tb;
  *tb.mutable_scope() = Scope("2026-01-01", "2026-03-31");
  const v1::TrialBalance a_trial = f.Ok(&ReportingStub::GetTrialBalance, tb, kA);
  for (const auto& row : a_trial.rows()) {
    CHECK(row.account() != "4500");
  }
  v1::GetCostCentreReportRequest cc;
  *cc.mutable_scope() = Scope("2026-01-01", "2026-03-31");
  const v1::CostCentreReport a_centres = f.Ok(&ReportingStub::GetCostCentreReport, cc, kA);
  for (const auto& row : a_centres.rows()) {
    CHECK(row.value() != "CC-B");
  }
  v1::GetPayrollCostsRequest pay;
  *pay.mutable_scope() = Scope("2026-01-01", "2026-03-31");
  const v1::PayrollCosts a_payroll = f.Ok(&ReportingStub::GetPayrollCosts, pay, kA);
  for (const auto& row : a_payroll.rows()) {
    CHECK(row.cost_centre() != "CC-B");
  }
  // B sees only B.
  v1::TrialBalance b = f.Ok(&ReportingStub::GetTrialBalance, tb, kB);
  REQUIRE(b.rows_size() == 3);
  CHECK(b.total_debit_minor() == 779011);
  // An organisation without data gets zeros, not an error.
  v1::TrialBalance none = f.Ok(&ReportingStub::GetTrialBalance, tb, "espoo");
  CHECK(none.rows_size() == 0);
  CHECK(none.total_closing_minor() == 0);

  // Row-level security: the application role with tahe.tenant = A sees no B row in any table.
  pqxx::connection conn(f.reporting_db.app_conninfo());
  pqxx::work tx(conn);
  tx.exec_params("SELECT set_config('tahe.tenant', $1, true)", std::string(kA));
  for (const char* table : {"feed_checkpoints", "account_days", "account_months",
                            "dimension_months", "payroll_months", "accounts_seen"}) {
    INFO(table);
    CHECK(
        tx.exec1(absl::StrCat("SELECT count(*) FROM ", table, " WHERE tenant_id <> '", kA, "'"))[0]
            .as<int>() == 0);
    CHECK(tx.exec1(absl::StrCat("SELECT count(*) FROM ", table))[0].as<int>() > 0);
  }
  // Without a tenant nothing is visible; the regional scope reads but may not write.
  tx.exec("SELECT set_config('tahe.tenant', '', true)");
  CHECK(tx.exec1("SELECT count(*) FROM account_months")[0].as<int>() == 0);
  tx.exec("SELECT set_config('tahe.scope', 'region', true)");
  CHECK(tx.exec1("SELECT count(DISTINCT tenant_id) FROM account_months")[0].as<int>() == 2);
  CHECK(tx.exec1("SELECT count(*) FROM dimension_months")[0].as<int>() == 0);
  // The regional policy is for SELECT only: an update reaches no row.
  CHECK(tx.exec("UPDATE account_months SET debit_minor = 0").affected_rows() == 0);
}

TEST_CASE("the regional view equals the sum of its organisations", "[reporting][pg]") {
  Fixture f;
  const int64_t last_a = ScriptMonth(f, kA, 1);
  const int64_t last_b = ScriptMonth(f, kB, 5);
  f.StartFollower();
  f.WaitApplied(kA, last_a);
  f.WaitApplied(kB, last_b);
  // B maps its wages elsewhere: the regional view uses each organisation's own mapping.
  v1::SetStatementMappingRequest mapping;
  mapping.set_request_id("map-1");
  *mapping.mutable_rules() = StatementMapping::Default().ToProto().rules();
  for (auto& rule : *mapping.mutable_rules()) {
    if (rule.row_code() == "PALKAT_JA_PALKKIOT") rule.set_row_code("MUUT_TOIMINTAKULUT");
  }
  f.Ok(&ReportingStub::SetStatementMapping, mapping, kB);

  v1::GetRegionalReportRequest req;
  *req.mutable_scope() = Scope("2026-01-15", "2026-03-10");
  req.set_include_income_statement(true);
  v1::RegionalReport regional = f.Ok(&ReportingStub::GetRegionalReport, req, "");
  REQUIRE(regional.organisations_size() == 2);
  CHECK(regional.organisations(0).tenant() == kA);
  CHECK(regional.organisations(1).tenant() == kB);

  v1::KeyFigures sum;
  std::map<std::string, std::pair<int64_t, int64_t>> rows_sum;
  for (const v1::KeyFigures& k : regional.organisations()) {
    v1::GetIncomeStatementRequest is;
    *is.mutable_scope() = req.scope();
    v1::Statement income = f.Ok(&ReportingStub::GetIncomeStatement, is, k.tenant());
    std::vector<v1::StatementRow> rows(income.rows().begin(), income.rows().end());
    v1::GetBalanceSheetRequest bs;
    bs.mutable_scope()->set_to_date(req.scope().to_date());
    v1::Statement sheet = f.Ok(&ReportingStub::GetBalanceSheet, bs, k.tenant());
    std::vector<v1::StatementRow> sheet_rows(sheet.rows().begin(), sheet.rows().end());
    INFO(k.tenant());
    CHECK(k.operating_income_minor() == RowAmount(rows, "TOIMINTATUOTOT"));
    CHECK(k.operating_expenses_minor() == RowAmount(rows, "TOIMINTAKULUT"));
    CHECK(k.toimintakate_minor() == RowAmount(rows, "TOIMINTAKATE"));
    CHECK(k.vuosikate_minor() == RowAmount(rows, "VUOSIKATE"));
    CHECK(k.tilikauden_tulos_minor() == RowAmount(rows, "TILIKAUDEN_TULOS"));
    CHECK(k.total_assets_minor() == RowAmount(sheet_rows, "VASTAAVAA"));
    CHECK(k.toimintakate_minor() != 0);
    sum.set_operating_income_minor(sum.operating_income_minor() + k.operating_income_minor());
    sum.set_operating_expenses_minor(sum.operating_expenses_minor() + k.operating_expenses_minor());
    sum.set_toimintakate_minor(sum.toimintakate_minor() + k.toimintakate_minor());
    sum.set_vuosikate_minor(sum.vuosikate_minor() + k.vuosikate_minor());
    sum.set_tilikauden_tulos_minor(sum.tilikauden_tulos_minor() + k.tilikauden_tulos_minor());
    sum.set_total_assets_minor(sum.total_assets_minor() + k.total_assets_minor());
    for (const auto& row : rows) {
      rows_sum[row.code()].first += row.amount_minor();
      rows_sum[row.code()].second += row.previous_minor();
    }
  }
  REQUIRE_SAME(regional.total(), sum);
  REQUIRE(regional.income_statement().rows_size() == static_cast<int>(rows_sum.size()));
  for (const auto& row : regional.income_statement().rows()) {
    INFO(row.code());
    CHECK(row.amount_minor() == rows_sum[row.code()].first);
    CHECK(row.previous_minor() == rows_sum[row.code()].second);
  }
  // The organisation's own mapping counted: B's wages are in Muut toimintakulut.
  v1::GetIncomeStatementRequest is;
  *is.mutable_scope() = req.scope();
  v1::Statement b = f.Ok(&ReportingStub::GetIncomeStatement, is, kB);
  std::vector<v1::StatementRow> b_rows(b.rows().begin(), b.rows().end());
  CHECK(RowAmount(b_rows, "PALKAT_JA_PALKKIOT") == 0);
  CHECK(RowAmount(b_rows, "MUUT_TOIMINTAKULUT") < 0);

  // The credential is required; a tenant is not.
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::RegionalReport out;
  CHECK(f.reporting->GetRegionalReport(&ctx, req, &out).error_code() ==
        grpc::StatusCode::UNAUTHENTICATED);
  v1::GetRegionalReportRequest filtered = req;
  filtered.mutable_scope()->set_dimension_key("cost_centre");
  filtered.mutable_scope()->set_dimension_value("CC-1");
  REQUIRE_REFUSED(f.Call(&ReportingStub::GetRegionalReport, filtered, &out, ""),
                  grpc::StatusCode::INVALID_ARGUMENT, "scope.dimension_key");
}

TEST_CASE("budgets: uploaded idempotently, replaced per key, reported against actuals",
          "[reporting][pg]") {
  Fixture f;
  const int64_t last_a = ScriptMonth(f, kA, 1);
  f.StartFollower();
  f.WaitApplied(kA, last_a);
  v1::UploadBudgetRequest upload;
  upload.set_request_id("budget-1");
  auto line = [&](const std::string& account, const std::string& cc, const std::string& month,
                  int64_t amount) {
    auto* l = upload.add_lines();
    l->set_account(account);
    l->set_cost_centre(cc);
    l->set_month(month);
    l->set_amount_minor(amount);
  };
  line("4000", "CC-1", "2026-02", 280000);
  line("4000", "CC-2", "2026-02", 210000);
  line("3000", "CC-3", "2026-02", -9000);
  line("4300", "CC-9", "2026-03", 1000);
  line("4000", "CC-1", "2026-04", 999999);  // outside the range below
  CHECK(f.Ok(&ReportingStub::UploadBudget, upload).lines_stored() == 5);
  CHECK(f.Ok(&ReportingStub::UploadBudget, upload).lines_stored() == 5);  // a replay
  v1::UploadBudgetRequest changed = upload;
  changed.mutable_lines(0)->set_amount_minor(1);
  v1::UploadBudgetResponse ignored;
  REQUIRE_REFUSED(f.Call(&ReportingStub::UploadBudget, changed, &ignored),
                  grpc::StatusCode::ALREADY_EXISTS, "request_id");
  // A new upload replaces the (account, cost centre, month) it names, nothing else.
  v1::UploadBudgetRequest second;
  second.set_request_id("budget-2");
  *second.add_lines() = upload.lines(0);
  second.mutable_lines(0)->set_amount_minor(290000);
  f.Ok(&ReportingStub::UploadBudget, second);

  v1::GetBudgetReportRequest req;
  *req.mutable_scope() = Scope("2026-01-01", "2026-03-31");
  v1::BudgetReport report = f.Ok(&ReportingStub::GetBudgetReport, req);
  // Expected: budgets as uploaded, actuals from the entries (income-statement accounts, by cost
  // centre).
  Books books{f.Entries(kA)};
  std::map<std::pair<std::string, std::string>, std::pair<int64_t, int64_t>> expected;
  books.ForLines(Day("2026-01-01"), Day("2026-03-31"),
                 [&](const ledger_v1::Entry&, const ledger_v1::EntryLine& l) {
                   if (!IsIncomeStatementRow(StatementMapping::Default().RowOf(l.account()))) {
                     return;
                   }
                   auto it = l.dimensions().find("cost_centre");
                   expected[{l.account(), it == l.dimensions().end() ? "" : it->second}].second +=
                       l.amount().amount_minor();
                 });
  for (auto it = expected.begin(); it != expected.end();) {
    it = it->second.second == 0 ? expected.erase(it) : std::next(it);
  }
  expected[{"4000", "CC-1"}].first = 290000;
  expected[{"4000", "CC-2"}].first = 210000;
  expected[{"3000", "CC-3"}].first = -9000;
  expected[{"4300", "CC-9"}].first = 1000;
  REQUIRE(report.rows_size() == static_cast<int>(expected.size()));
  int64_t total_budget = 0, total_actual = 0;
  for (const auto& row : report.rows()) {
    INFO(row.account() << "/" << row.cost_centre());
    auto [budget, actual] = expected.at({row.account(), row.cost_centre()});
    CHECK(row.budget_minor() == budget);
    CHECK(row.actual_minor() == actual);
    CHECK(row.difference_minor() == actual - budget);
    total_budget += budget;
    total_actual += actual;
  }
  CHECK(report.total_budget_minor() == total_budget);
  CHECK(report.total_actual_minor() == total_actual);
  CHECK(report.total_difference_minor() == total_actual - total_budget);

  // Bad lines change nothing and name the field.
  v1::UploadBudgetRequest bad;
  bad.set_request_id("budget-bad");
  *bad.add_lines() = upload.lines(0);
  *bad.add_lines() = upload.lines(1);
  bad.mutable_lines(1)->set_month("2026-13");
  REQUIRE_REFUSED(f.Call(&ReportingStub::UploadBudget, bad, &ignored),
                  grpc::StatusCode::INVALID_ARGUMENT, "lines[1].month");
  bad.mutable_lines(1)->set_month("2026-02");
  bad.mutable_lines(1)->set_account("40x0");
  REQUIRE_REFUSED(f.Call(&ReportingStub::UploadBudget, bad, &ignored),
                  grpc::StatusCode::INVALID_ARGUMENT, "lines[1].account");
  *bad.mutable_lines(1) = bad.lines(0);
  REQUIRE_REFUSED(f.Call(&ReportingStub::UploadBudget, bad, &ignored),
                  grpc::StatusCode::INVALID_ARGUMENT, "lines[1]: repeats lines[0]");
  CHECK(f.Ok(&ReportingStub::GetBudgetReport, req).total_budget_minor() == total_budget);
}

TEST_CASE("bad report requests are INVALID_ARGUMENT naming the field", "[reporting][pg]") {
  Fixture f;
  v1::TrialBalance tb;
  auto trial = [&](v1::ReportScope scope) {
    v1::GetTrialBalanceRequest req;
    *req.mutable_scope() = scope;
    return f.Call(&ReportingStub::GetTrialBalance, req, &tb);
  };
  REQUIRE_REFUSED(trial(Scope("", "2026-01-31")), grpc::StatusCode::INVALID_ARGUMENT,
                  "scope.from_date");
  REQUIRE_REFUSED(trial(Scope("2026-01-01", "2026-02-30")), grpc::StatusCode::INVALID_ARGUMENT,
                  "scope.to_date");
  REQUIRE_REFUSED(trial(Scope("2026-02-01", "2026-01-31")), grpc::StatusCode::INVALID_ARGUMENT,
                  "scope.to_date");
  v1::ReportScope dim = Scope("2026-01-10", "2026-01-31");
  dim.set_dimension_key("cost_centre");
  dim.set_dimension_value("CC-1");
  REQUIRE_REFUSED(trial(dim), grpc::StatusCode::INVALID_ARGUMENT, "scope.from_date");
  v1::Statement statement;
  v1::GetBalanceSheetRequest sheet;
  *sheet.mutable_scope() = Scope("2026-01-01", "2026-01-31");
  REQUIRE_REFUSED(f.Call(&ReportingStub::GetBalanceSheet, sheet, &statement),
                  grpc::StatusCode::INVALID_ARGUMENT, "scope.from_date");
  v1::GetCostCentreReportRequest cc;
  *cc.mutable_scope() = Scope("2026-01-01", "2026-01-30");
  v1::CostCentreReport ccr;
  REQUIRE_REFUSED(f.Call(&ReportingStub::GetCostCentreReport, cc, &ccr),
                  grpc::StatusCode::INVALID_ARGUMENT, "scope.to_date");
  *cc.mutable_scope() = Scope("2026-01-01", "2026-01-31");
  cc.set_split_by("Cost Centre");
  REQUIRE_REFUSED(f.Call(&ReportingStub::GetCostCentreReport, cc, &ccr),
                  grpc::StatusCode::INVALID_ARGUMENT, "split_by");
  v1::SetStatementMappingRequest mapping;
  mapping.set_request_id("m");
  auto* rule = mapping.add_rules();
  rule->set_row_code("TOIMINTAKATE");
  rule->set_from_account("3000");
  rule->set_to_account("3999");
  v1::StatementMapping out;
  REQUIRE_REFUSED(f.Call(&ReportingStub::SetStatementMapping, mapping, &out),
                  grpc::StatusCode::INVALID_ARGUMENT, "rules[0].row_code");
  mapping.set_request_id("");
  REQUIRE_REFUSED(f.Call(&ReportingStub::SetStatementMapping, mapping, &out),
                  grpc::StatusCode::INVALID_ARGUMENT, "request_id");
  v1::ExportReportRequest html;
  *html.mutable_cost_centre()->mutable_scope() = Scope("2026-01-01", "2026-01-31");
  html.set_format(v1::EXPORT_FORMAT_HTML);
  v1::ExportReportResponse file;
  REQUIRE_REFUSED(f.Call(&ReportingStub::ExportReport, html, &file),
                  grpc::StatusCode::INVALID_ARGUMENT, "format");
  v1::ExportReportRequest bad_scope;
  *bad_scope.mutable_income_statement()->mutable_scope() = Scope("2026-01-01", "x");
  bad_scope.set_format(v1::EXPORT_FORMAT_CSV);
  REQUIRE_REFUSED(f.Call(&ReportingStub::ExportReport, bad_scope, &file),
                  grpc::StatusCode::INVALID_ARGUMENT, "income_statement.scope.to_date");
  // Without the credential: refused before any work.
  grpc::ClientContext ctx;
  ctx.AddMetadata(server::kTenantHeader, kA);
  v1::GetTrialBalanceRequest req;
  *req.mutable_scope() = Scope("2026-01-01", "2026-01-31");
  CHECK(f.reporting->GetTrialBalance(&ctx, req, &tb).error_code() ==
        grpc::StatusCode::UNAUTHENTICATED);
}

TEST_CASE("mappings, exports and freshness", "[reporting][pg]") {
  Fixture f;
  const int64_t last_a = ScriptMonth(f, kA, 1);
  LedgerFollower& follower = f.StartFollower();
  f.WaitApplied(kA, last_a);

  // The default mapping until one is set; a custom one moves accounts, and is idempotent.
  v1::StatementMapping current =
      f.Ok(&ReportingStub::GetStatementMapping, v1::GetStatementMappingRequest());
  CHECK(current.is_default());
  v1::SetStatementMappingRequest set;
  set.set_request_id("mapping-1");
  *set.mutable_rules() = current.rules();
  for (auto& rule : *set.mutable_rules()) {
    if (rule.row_code() == "MUUT_TOIMINTATUOTOT") rule.set_to_account("3399");
  }
  // 3400-3499 is now unmapped: the statement shows it in UNMAPPED.
  v1::StatementMapping stored = f.Ok(&ReportingStub::SetStatementMapping, set);
  CHECK_FALSE(stored.is_default());
  REQUIRE_SAME(f.Ok(&ReportingStub::SetStatementMapping, set), stored);
  REQUIRE_SAME(f.Ok(&ReportingStub::GetStatementMapping, v1::GetStatementMappingRequest()), stored);
  Books books{f.Entries(kA)};
  v1::GetIncomeStatementRequest is;
  *is.mutable_scope() = Scope("2026-01-01", "2026-03-31");
  auto custom = OrThrow(StatementMapping::FromRules(set.rules()));
  v1::Statement income = f.Ok(&ReportingStub::GetIncomeStatement, is);
  REQUIRE_SAME(income, ExpectedIncomeStatement(books, is.scope(), custom));
  std::vector<v1::StatementRow> rows(income.rows().begin(), income.rows().end());
  CHECK(RowAmount(rows, "UNMAPPED") == 700);
  // The balance sheet still balances (the unmapped account is in its UNMAPPED row).
  v1::GetBalanceSheetRequest bs;
  bs.mutable_scope()->set_to_date("2026-03-31");
  v1::Statement sheet = f.Ok(&ReportingStub::GetBalanceSheet, bs);
  std::vector<v1::StatementRow> sheet_rows(sheet.rows().begin(), sheet.rows().end());
  CHECK(RowAmount(sheet_rows, "VASTAAVAA") == RowAmount(sheet_rows, "VASTATTAVAA"));
  CHECK(RowAmount(sheet_rows, "UNMAPPED") == 700);
  // Back to the default.
  v1::SetStatementMappingRequest reset;
  reset.set_request_id("mapping-2");
  CHECK(f.Ok(&ReportingStub::SetStatementMapping, reset).is_default());

  // Exports: the same report in each format.
  v1::ExportReportRequest csv;
  *csv.mutable_income_statement() = is;
  csv.set_format(v1::EXPORT_FORMAT_CSV);
  v1::ExportReportResponse file = f.Ok(&ReportingStub::ExportReport, csv);
  CHECK(file.content_type() == "text/csv; charset=utf-8");
  CHECK(file.file_name() == "income-statement-2026-01-01-2026-03-31.csv");
  v1::Statement now = f.Ok(&ReportingStub::GetIncomeStatement, is);
  CHECK(file.content() == StatementCsv(now));
  csv.set_format(v1::EXPORT_FORMAT_HTML);
  file = f.Ok(&ReportingStub::ExportReport, csv);
  CHECK(file.content() == StatementHtml(now));
  v1::ExportReportRequest json;
  *json.mutable_trial_balance()->mutable_scope() = Scope("2026-01-01", "2026-03-31");
  json.set_format(v1::EXPORT_FORMAT_JSON);
  file = f.Ok(&ReportingStub::ExportReport, json);
  CHECK(file.content_type() == "application/json");
  CHECK(file.content() == ReportJson(f.Ok(&ReportingStub::GetTrialBalance, json.trial_balance())));

  // Freshness: a report asked with the sequence just posted includes it.
  const int64_t posted =
      f.LedgerOk(&LedgerStub::PostEntry,
                 Entry("fresh", "2026-03-31", "manual", {{"1910", 4242}, {"3000", -4242}}), kA)
          .entry()
          .sequence();
  v1::GetTrialBalanceRequest tb;
  *tb.mutable_scope() = Scope("2026-03-31", "2026-03-31");
  tb.mutable_scope()->set_min_sequence(posted);
  v1::TrialBalance fresh = f.Ok(&ReportingStub::GetTrialBalance, tb);
  Books after{f.Entries(kA)};
  REQUIRE_SAME(fresh, ExpectedTrialBalance(after, tb.scope()));
  // With the follower stopped, a sequence not applied is UNAVAILABLE saying how far it is.
  follower.Stop();
  tb.mutable_scope()->set_min_sequence(posted + 1);
  REQUIRE_REFUSED(f.Call(&ReportingStub::GetTrialBalance, tb, &fresh),
                  grpc::StatusCode::UNAVAILABLE, absl::StrCat("up to sequence ", posted));
}

}  // namespace
}  // namespace tahe::reporting
