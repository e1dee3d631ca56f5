// Integration tests of the ledger service: a real PostgreSQL (a fresh TestDatabase per test, the
// migrations applied as the owner, the service connected as a non-owner member of
// tahe_ledger_app, so row-level security applies exactly as in production) behind the real gRPC
// server on 127.0.0.1:0, wired the way main.cc wires it: Pool -> LedgerMetrics ->
// LedgerRepository -> GroupCommitter -> LedgerService -> GrpcServer.

#include "services/ledger/ledger_service.h"

#include <google/protobuf/util/message_differencer.h>
#include <grpcpp/grpcpp.h>
#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <functional>
#include <latch>
#include <limits>
#include <map>
#include <memory>
#include <ostream>
#include <pqxx/pqxx>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "libs/pg/pg.h"
#include "libs/server/call.h"
#include "libs/server/grpc_server.h"
#include "libs/server/tenant_data_service.h"
#include "libs/server/worker_pool.h"
#include "libs/status/status.h"
#include "libs/testing/pg_fixture.h"
#include "services/ledger/group_commit.h"
#include "services/ledger/ledger_domain.h"
#include "services/ledger/ledger_migrations.h"
#include "services/ledger/ledger_repository.h"

namespace tahe::ledger {
namespace {

using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using google::protobuf::util::MessageDifferencer;
using Stub = v1::LedgerService::Stub;

constexpr char kToken[] = "ledger-integration-test-internal-token";
constexpr int kPoolSize = 8;

// Accounts of the default chart template (fi-municipal).
constexpr char kBank[] = "1910";   // Pankkitili, asset
constexpr char kSales[] = "3000";  // Myyntituotot, income
constexpr char kWages[] = "4000";  // Palkat ja palkkiot, expense
constexpr char kOther[] = "4700";  // Muut toimintakulut, expense

// --- client side ---------------------------------------------------------------------------------

// Who calls: the tenant metadata and the internal credential (empty: the header is not sent).
struct Caller {
  std::string tenant = "a";
  std::string token = kToken;
};

// Metadata of a trusted caller and a 10 s deadline, so no test can hang on a call.
void PrepareContext(grpc::ClientContext* ctx, const Caller& caller) {
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  if (!caller.token.empty()) {
    ctx->AddMetadata(server::kInternalTokenHeader, caller.token);
  }
  if (!caller.tenant.empty()) {
    ctx->AddMetadata(server::kTenantHeader, caller.tenant);
  }
  ctx->AddMetadata(server::kRequestIdHeader, "ledger-itest");
}

std::string CodeString(grpc::StatusCode code) {
  return CodeName(static_cast<absl::StatusCode>(code));
}

// The status must have `code` and a message naming `field` first ("entry.lines[1].account: ...").
void RequireStatus(const grpc::Status& status, grpc::StatusCode code, const std::string& field) {
  INFO("got " << CodeString(status.error_code()) << ": " << status.error_message());
  REQUIRE(CodeString(status.error_code()) == CodeString(code));
  REQUIRE_THAT(status.error_message(), StartsWith(field + ":"));
}

template <typename Req, typename Resp>
using UnaryMethod = grpc::Status (Stub::*)(grpc::ClientContext*, const Req&, Resp*);

// --- requests ------------------------------------------------------------------------------------

v1::EntryLine Line(const std::string& account, int64_t cents,
                   const std::map<std::string, std::string>& dimensions = {},
                   const std::string& currency = "", const std::string& text = "") {
  v1::EntryLine line;
  line.set_account(account);
  line.mutable_amount()->set_amount_minor(cents);
  line.mutable_amount()->set_currency_code(currency);
  line.mutable_dimensions()->insert(dimensions.begin(), dimensions.end());
  line.set_text(text);
  return line;
}

v1::PostEntryRequest EntryRequest(const std::string& request_id, const std::string& date,
                                  const std::vector<v1::EntryLine>& lines,
                                  const std::string& description = "integration test") {
  v1::PostEntryRequest req;
  req.set_request_id(request_id);
  v1::EntryDraft* draft = req.mutable_entry();
  draft->set_entry_date(date);
  draft->set_description(description);
  draft->mutable_source()->set_system("manual");
  draft->mutable_source()->set_reference(request_id);
  for (const v1::EntryLine& line : lines) {
    *draft->add_lines() = line;
  }
  return req;
}

// A simple valid sale: bank debit, sales credit.
v1::PostEntryRequest Sale(const std::string& request_id, const std::string& date, int64_t cents) {
  return EntryRequest(request_id, date, {Line(kBank, cents), Line(kSales, -cents)});
}

// The hash an entry must carry, recomputed independently from its content and previous hash.
std::string ExpectedHash(const std::string& tenant, const v1::Entry& e) {
  v1::EntryDraft draft;
  draft.set_entry_date(e.entry_date());
  draft.set_description(e.description());
  *draft.mutable_source() = e.source();
  *draft.mutable_lines() = e.lines();
  return HexEncode(ChainHash(
      absl::HexStringToBytes(e.previous_hash()),
      CanonicalEntry(tenant, e.sequence(), e.request_id(), draft, e.reverses_sequence())));
}

// What a tenant's journal looks like from the outside; equal before and after a failed call
// means nothing was written.
struct JournalState {
  std::vector<int64_t> sequences;
  int64_t total_debit = 0;
  int64_t total_credit = 0;
  bool chain_ok = false;
  int64_t entries_checked = 0;
  std::string head_hash;
  bool operator==(const JournalState&) const = default;
};

std::ostream& operator<<(std::ostream& os, const JournalState& s) {
  return os << "{sequences=[" << absl::StrJoin(s.sequences, ",") << "] debit=" << s.total_debit
            << " credit=" << s.total_credit << " chain_ok=" << s.chain_ok
            << " checked=" << s.entries_checked << " head=" << s.head_hash << "}";
}

// --- the service under test ----------------------------------------------------------------------

std::unique_ptr<pg::Pool> AppPool(const testing::TestDatabase& db, prometheus::Registry* registry) {
  auto pool = pg::Pool::Create({.conninfo = db.app_conninfo(), .size = kPoolSize, .name = "ledger"},
                               registry);
  if (!pool.ok()) {
    throw std::runtime_error(pool.status().ToString());
  }
  return *std::move(pool);
}

struct LedgerFixture {
  explicit LedgerFixture(LedgerService::Options options = {})
      : service(&repository, &committer, {&auth, &workers}, options) {
    auto started = server::GrpcServer::Start(
        {.listen = "127.0.0.1:0", .services = {&service, &tenant_data}, .metrics = &registry});
    REQUIRE(started.ok());
    server = *std::move(started);
    REQUIRE(server->port() > 0);
    channel = grpc::CreateChannel(server->address(), grpc::InsecureChannelCredentials());
    stub = v1::LedgerService::NewStub(channel);
  }

  // The order of main.cc: stop serving, commit what is queued, finish blocking work; the members
  // (pool, then the database) go afterwards in reverse declaration order.
  ~LedgerFixture() {
    service.BeginShutdown();
    server->Shutdown(absl::Seconds(5));
    committer.Stop();
    workers.Drain();
  }

  template <typename Req, typename Resp>
  grpc::Status Call(UnaryMethod<Req, Resp> method, const Req& req, Resp* resp,
                    const Caller& caller = {}) {
    grpc::ClientContext ctx;
    PrepareContext(&ctx, caller);
    return ((*stub).*method)(&ctx, req, resp);
  }

  // A call that must succeed.
  template <typename Req, typename Resp>
  Resp Ok(UnaryMethod<Req, Resp> method, const Req& req, const std::string& tenant = "a") {
    Resp resp;
    grpc::Status status = Call(method, req, &resp, {.tenant = tenant});
    INFO("got " << CodeString(status.error_code()) << ": " << status.error_message());
    REQUIRE(status.ok());
    return resp;
  }

  // The default chart and the periods 2026-01..2026-03.
  void SetUpTenant(const std::string& tenant) {
    v1::LoadChartTemplateRequest chart;
    chart.set_request_id("setup-chart");
    REQUIRE(Ok(&Stub::LoadChartTemplate, chart, tenant).accounts_created() > 0);
    for (const char* period : {"2026-01", "2026-02", "2026-03"}) {
      v1::OpenPeriodRequest open;
      open.set_request_id(absl::StrCat("setup-open-", period));
      open.set_period(period);
      REQUIRE(Ok(&Stub::OpenPeriod, open, tenant).status() == v1::PERIOD_STATUS_OPEN);
    }
  }

  v1::PostEntryResponse Post(const v1::PostEntryRequest& req, const std::string& tenant = "a") {
    return Ok(&Stub::PostEntry, req, tenant);
  }

  grpc::Status TryPost(const v1::PostEntryRequest& req, const std::string& tenant = "a") {
    v1::PostEntryResponse resp;
    return Call(&Stub::PostEntry, req, &resp, {.tenant = tenant});
  }

  v1::Entry Get(int64_t sequence, const std::string& tenant = "a") {
    v1::GetEntryRequest req;
    req.set_sequence(sequence);
    return Ok(&Stub::GetEntry, req, tenant);
  }

  // Every entry, paging through ListEntries with page_token.
  std::vector<v1::Entry> AllEntries(const std::string& tenant = "a", int page_size = 1000,
                                    int* pages = nullptr) {
    std::vector<v1::Entry> all;
    v1::ListEntriesRequest req;
    req.set_page_size(page_size);
    int n = 0;
    for (;;) {
      v1::ListEntriesResponse resp = Ok(&Stub::ListEntries, req, tenant);
      ++n;
      for (const v1::Entry& e : resp.entries()) {
        all.push_back(e);
      }
      if (resp.next_page_token().empty()) {
        break;
      }
      REQUIRE(resp.entries_size() == page_size);
      req.set_page_token(resp.next_page_token());
    }
    if (pages != nullptr) {
      *pages = n;
    }
    return all;
  }

  v1::VerifyChainResponse Verify(const std::string& tenant = "a") {
    return Ok(&Stub::VerifyChain, v1::VerifyChainRequest(), tenant);
  }

  v1::GetAccountBalanceResponse Balance(const std::string& account, const std::string& as_of,
                                        const std::string& tenant = "a") {
    v1::GetAccountBalanceRequest req;
    req.set_account(account);
    req.set_as_of_date(as_of);
    return Ok(&Stub::GetAccountBalance, req, tenant);
  }

  v1::GetTrialBalanceResponse Trial(const v1::GetTrialBalanceRequest& req,
                                    const std::string& tenant = "a") {
    return Ok(&Stub::GetTrialBalance, req, tenant);
  }

  JournalState State(const std::string& tenant = "a") {
    JournalState state;
    for (const v1::Entry& e : AllEntries(tenant)) {
      state.sequences.push_back(e.sequence());
    }
    v1::GetTrialBalanceRequest trial;
    trial.set_as_of_date("2999-12-31");
    v1::GetTrialBalanceResponse tb = Trial(trial, tenant);
    state.total_debit = tb.total_debit_minor();
    state.total_credit = tb.total_credit_minor();
    v1::VerifyChainResponse chain = Verify(tenant);
    state.chain_ok = chain.ok();
    state.entries_checked = chain.entries_checked();
    state.head_hash = chain.head_hash();
    return state;
  }

  testing::TestDatabase db{Migrations(), "tahe_ledger_app"};
  prometheus::Registry registry;
  std::unique_ptr<pg::Pool> pool = AppPool(db, &registry);
  LedgerMetrics metrics{&registry};
  LedgerRepository repository{pool.get(), &metrics};
  GroupCommitter committer{&repository, {.threads = 2, .max_batch = 256}};
  server::Authenticator auth{kToken};
  server::WorkerPool workers{kPoolSize};
  LedgerService service;
  server::TenantDataService tenant_data{{&auth, &workers}, [this](const server::CallContext& call) {
                                          return repository.DescribeTenantData(call);
                                        }};
  std::unique_ptr<server::GrpcServer> server;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<Stub> stub;
};

std::vector<int64_t> OneTo(int64_t n) {
  std::vector<int64_t> v;
  for (int64_t i = 1; i <= n; ++i) {
    v.push_back(i);
  }
  return v;
}

void RequireBalanced(const v1::GetTrialBalanceResponse& tb) {
  int64_t debit = 0, credit = 0, net = 0;
  for (const v1::TrialBalanceRow& row : tb.rows()) {
    REQUIRE(row.net_minor() == row.debit_minor() - row.credit_minor());
    debit += row.debit_minor();
    credit += row.credit_minor();
    net += row.net_minor();
  }
  REQUIRE(debit == tb.total_debit_minor());
  REQUIRE(credit == tb.total_credit_minor());
  REQUIRE(tb.total_debit_minor() == tb.total_credit_minor());
  REQUIRE(net == 0);
}

// account -> {debit, credit}
std::map<std::string, std::pair<int64_t, int64_t>> Rows(const v1::GetTrialBalanceResponse& tb) {
  std::map<std::string, std::pair<int64_t, int64_t>> rows;
  for (const v1::TrialBalanceRow& row : tb.rows()) {
    rows[row.account()] = {row.debit_minor(), row.credit_minor()};
  }
  return rows;
}

using Totals = std::map<std::string, std::pair<int64_t, int64_t>>;

// --- posting -------------------------------------------------------------------------------------

TEST_CASE("balanced entries post with gapless sequences and a linked hash chain", "[ledger][pg]") {
  LedgerFixture f;
  f.SetUpTenant("a");
  std::vector<v1::Entry> posted;
  for (int i = 1; i <= 3; ++i) {
    v1::PostEntryResponse resp = f.Post(EntryRequest(
        absl::StrCat("post-", i), absl::StrCat("2026-01-1", i),
        {Line(kBank, 1000 * i, {{"cost_centre", "100"}}, "", "Myynti"), Line(kSales, -1000 * i)}));
    REQUIRE_FALSE(resp.replayed());
    posted.push_back(resp.entry());
  }
  for (int i = 0; i < 3; ++i) {
    const v1::Entry& e = posted[i];
    INFO("entry " << i + 1);
    REQUIRE(e.sequence() == i + 1);
    REQUIRE(e.request_id() == absl::StrCat("post-", i + 1));
    REQUIRE(e.hash().size() == 64);
    REQUIRE(e.previous_hash() == (i == 0 ? std::string(64, '0') : posted[i - 1].hash()));
    REQUIRE(e.hash() == ExpectedHash("a", e));
    REQUIRE_FALSE(e.posted_at().empty());
    REQUIRE(e.lines_size() == 2);
    REQUIRE(e.lines(0).amount().currency_code() == "EUR");  // the default is stored explicitly
    // The response is exactly what is stored.
    v1::Entry stored = f.Get(e.sequence());
    INFO("stored: " << stored.ShortDebugString() << "\nresponse: " << e.ShortDebugString());
    REQUIRE(MessageDifferencer::Equals(stored, e));
  }
  REQUIRE(posted[1].lines(0).dimensions().at("cost_centre") == "100");
  REQUIRE(posted[1].lines(0).text() == "Myynti");
  REQUIRE(posted[1].lines(0).amount().amount_minor() == 2000);

  v1::VerifyChainResponse chain = f.Verify();
  REQUIRE(chain.ok());
  REQUIRE(chain.entries_checked() == 3);
  REQUIRE(chain.first_bad_sequence() == 0);
  REQUIRE(chain.head_hash() == posted[2].hash());
  REQUIRE(f.metrics.entries_posted->Value() == 3);
}

TEST_CASE("a rejected entry writes nothing and consumes no sequence", "[ledger][pg]") {
  LedgerFixture f;
  f.SetUpTenant("a");
  REQUIRE(f.Post(Sale("good-1", "2026-01-05", 500)).entry().sequence() == 1);
  v1::CloseAccountRequest close;
  close.set_request_id("close-4700");
  close.set_number(kOther);
  REQUIRE(f.Ok(&Stub::CloseAccount, close).closed());
  v1::DefineDimensionRequest define;
  define.set_request_id("define-cost-centre");
  define.mutable_dimension()->set_key("cost_centre");
  define.mutable_dimension()->add_allowed_values("100");
  define.mutable_dimension()->add_allowed_values("200");
  f.Ok(&Stub::DefineDimension, define);
  const JournalState before = f.State();
  REQUIRE(before.sequences == std::vector<int64_t>{1});

  struct Case {
    std::string what;
    std::vector<v1::EntryLine> lines;
    grpc::StatusCode code;
    std::string field;
  };
  const std::vector<Case> cases = {
      {"unbalanced", {Line(kBank, 500), Line(kSales, -499)}, grpc::INVALID_ARGUMENT, "entry.lines"},
      {"one line", {Line(kBank, 500)}, grpc::INVALID_ARGUMENT, "entry.lines"},
      {"balanced overall but not per currency",
       {Line(kBank, 500, {}, "EUR"), Line(kSales, -500, {}, "SEK")},
       grpc::INVALID_ARGUMENT,
       "entry.lines"},
      {"unknown account",
       {Line(kBank, 500), Line("9999", -500)},
       grpc::INVALID_ARGUMENT,
       "entry.lines[1].account"},
      {"closed account",
       {Line(kOther, 500), Line(kBank, -500)},
       grpc::FAILED_PRECONDITION,
       "entry.lines[0].account"},
      {"undefined dimension",
       {Line(kBank, 500), Line(kSales, -500, {{"colour", "red"}})},
       grpc::INVALID_ARGUMENT,
       "entry.lines[1].dimensions"},
      {"dimension value not allowed",
       {Line(kBank, 500, {{"cost_centre", "300"}}), Line(kSales, -500)},
       grpc::INVALID_ARGUMENT,
       "entry.lines[0].dimensions[cost_centre]"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    INFO(c.what);
    RequireStatus(f.TryPost(EntryRequest(absl::StrCat("bad-", i), "2026-01-06", c.lines)), c.code,
                  c.field);
    REQUIRE(f.State() == before);
  }

  // A failed post leaves its request id unused, and the next good post gets sequence 2.
  v1::PostEntryResponse good = f.Post(EntryRequest(
      "bad-0", "2026-01-07", {Line(kBank, 700, {{"cost_centre", "200"}}), Line(kSales, -700)}));
  REQUIRE_FALSE(good.replayed());
  REQUIRE(good.entry().sequence() == 2);
  REQUIRE(good.entry().previous_hash() == before.head_hash);
  REQUIRE(f.Verify().ok());
}

TEST_CASE("bad entries committed in the same group do not fail their neighbours", "[ledger][pg]") {
  LedgerFixture f;
  f.SetUpTenant("a");
  constexpr int kThreads = 24;
  std::vector<grpc::Status> statuses(kThreads);
  std::vector<int64_t> sequences(kThreads, 0);
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      v1::PostEntryRequest req = t % 2 == 0 ? Sale(absl::StrCat("mixed-", t), "2026-01-08", 100 + t)
                                            : EntryRequest(absl::StrCat("mixed-", t), "2026-01-08",
                                                           {Line(kBank, 100), Line("9999", -100)});
      start.arrive_and_wait();
      v1::PostEntryResponse resp;
      statuses[t] = f.Call(&Stub::PostEntry, req, &resp);
      sequences[t] = resp.entry().sequence();
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  std::set<int64_t> good;
  for (int t = 0; t < kThreads; ++t) {
    INFO("thread " << t);
    if (t % 2 == 0) {
      REQUIRE(statuses[t].ok());
      good.insert(sequences[t]);
    } else {
      RequireStatus(statuses[t], grpc::INVALID_ARGUMENT, "entry.lines[1].account");
    }
  }
  std::vector<int64_t> expected = OneTo(kThreads / 2);
  REQUIRE(std::vector<int64_t>(good.begin(), good.end()) == expected);
  REQUIRE(f.State().sequences == expected);
  REQUIRE(f.Verify().ok());
}

// --- periods -------------------------------------------------------------------------------------

TEST_CASE("posting needs an open period, reopening needs a reason and is recorded",
          "[ledger][pg]") {
  LedgerFixture f;
  f.SetUpTenant("a");
  const JournalState empty = f.State();

  RequireStatus(f.TryPost(Sale("p-1", "2025-12-31", 100)), grpc::FAILED_PRECONDITION,
                "entry.entry_date");
  REQUIRE(f.State() == empty);

  v1::ClosePeriodRequest close;
  close.set_request_id("close-2026-01");
  close.set_period("2026-01");
  REQUIRE(f.Ok(&Stub::ClosePeriod, close).status() == v1::PERIOD_STATUS_CLOSED);
  RequireStatus(f.TryPost(Sale("p-2", "2026-01-15", 100)), grpc::FAILED_PRECONDITION,
                "entry.entry_date");
  REQUIRE(f.State() == empty);

  v1::Period period;
  close.set_request_id("close-2026-01-again");
  RequireStatus(f.Call(&Stub::ClosePeriod, close, &period), grpc::FAILED_PRECONDITION, "period");
  v1::OpenPeriodRequest open;
  open.set_request_id("open-closed");
  open.set_period("2026-01");
  RequireStatus(f.Call(&Stub::OpenPeriod, open, &period), grpc::FAILED_PRECONDITION, "period");

  v1::ReopenPeriodRequest reopen;
  reopen.set_request_id("reopen-2026-01");
  reopen.set_period("2026-01");
  RequireStatus(f.Call(&Stub::ReopenPeriod, reopen, &period), grpc::INVALID_ARGUMENT, "reason");
  reopen.set_request_id("reopen-2026-01-short");
  reopen.set_reason("x");
  RequireStatus(f.Call(&Stub::ReopenPeriod, reopen, &period), grpc::INVALID_ARGUMENT, "reason");
  v1::ListPeriodsResponse periods = f.Ok(&Stub::ListPeriods, v1::ListPeriodsRequest());
  REQUIRE(periods.periods(0).period() == "2026-01");
  REQUIRE(periods.periods(0).status() == v1::PERIOD_STATUS_CLOSED);

  const std::string reason = "Correction of the December payroll accrual (ticket 4711)";
  reopen.set_request_id("reopen-2026-01-ok");
  reopen.set_reason(reason);
  v1::Period reopened = f.Ok(&Stub::ReopenPeriod, reopen);
  REQUIRE(reopened.status() == v1::PERIOD_STATUS_OPEN);
  REQUIRE(reopened.reopen_reason() == reason);

  REQUIRE(f.Post(Sale("p-2", "2026-01-15", 100)).entry().sequence() == 1);

  periods = f.Ok(&Stub::ListPeriods, v1::ListPeriodsRequest());
  REQUIRE(periods.periods_size() == 3);
  REQUIRE(periods.periods(0).period() == "2026-01");
  REQUIRE(periods.periods(0).status() == v1::PERIOD_STATUS_OPEN);
  REQUIRE(periods.periods(0).reopen_reason() == reason);
  REQUIRE(periods.periods(1).period() == "2026-02");
  REQUIRE(periods.periods(1).status() == v1::PERIOD_STATUS_OPEN);
  REQUIRE(periods.periods(1).reopen_reason().empty());

  // Reopening an open period, or touching one never opened.
  reopen.set_request_id("reopen-open");
  RequireStatus(f.Call(&Stub::ReopenPeriod, reopen, &period), grpc::FAILED_PRECONDITION, "period");
  reopen.set_request_id("reopen-never");
  reopen.set_period("2027-01");
  RequireStatus(f.Call(&Stub::ReopenPeriod, reopen, &period), grpc::NOT_FOUND, "period");
  close.set_request_id("close-never");
  close.set_period("2027-01");
  RequireStatus(f.Call(&Stub::ClosePeriod, close, &period), grpc::NOT_FOUND, "period");
}

// --- idempotency ---------------------------------------------------------------------------------

TEST_CASE("a replayed post returns the original entry, a changed one is refused", "[ledger][pg]") {
  LedgerFixture f;
  f.SetUpTenant("a");
  const v1::PostEntryRequest post = EntryRequest(
      "idem-1", "2026-02-03", {Line(kBank, 4200, {{"project", "p1"}}), Line(kSales, -4200)});
  v1::PostEntryResponse first = f.Post(post);
  REQUIRE_FALSE(first.replayed());
  REQUIRE(first.entry().sequence() == 1);

  v1::PostEntryResponse again = f.Post(post);
  REQUIRE(again.replayed());
  INFO("first: " << first.entry().ShortDebugString()
                 << "\nreplay: " << again.entry().ShortDebugString());
  REQUIRE(MessageDifferencer::Equals(again.entry(), first.entry()));
  const JournalState after_first = f.State();
  REQUIRE(after_first.sequences == std::vector<int64_t>{1});
  REQUIRE(f.metrics.entries_replayed->Value() == 1);

  v1::PostEntryRequest changed_amount = post;
  changed_amount.mutable_entry()->mutable_lines(0)->mutable_amount()->set_amount_minor(4300);
  changed_amount.mutable_entry()->mutable_lines(1)->mutable_amount()->set_amount_minor(-4300);
  RequireStatus(f.TryPost(changed_amount), grpc::ALREADY_EXISTS, "request_id");
  v1::PostEntryRequest changed_description = post;
  changed_description.mutable_entry()->set_description("something else");
  RequireStatus(f.TryPost(changed_description), grpc::ALREADY_EXISTS, "request_id");
  REQUIRE(f.State() == after_first);

  REQUIRE(f.Post(Sale("idem-2", "2026-02-03", 1)).entry().sequence() == 2);
}

TEST_CASE("CreateAccount and OpenPeriod replay their response and refuse a reused id",
          "[ledger][pg]") {
  LedgerFixture f;
  v1::CreateAccountRequest create;
  create.set_request_id("acct-1");
  create.mutable_account()->set_number("4810");
  create.mutable_account()->set_name("Koulutuskulut");
  create.mutable_account()->set_type(v1::ACCOUNT_TYPE_EXPENSE);
  create.mutable_account()->set_parent_group("Toimintakulut/Muut toimintakulut");
  v1::Account created = f.Ok(&Stub::CreateAccount, create);
  REQUIRE(created.number() == "4810");
  REQUIRE(created.name() == "Koulutuskulut");
  REQUIRE_FALSE(created.closed());
  v1::Account replayed = f.Ok(&Stub::CreateAccount, create);
  REQUIRE(MessageDifferencer::Equals(replayed, created));

  v1::Account account;
  v1::CreateAccountRequest renamed = create;
  renamed.mutable_account()->set_name("Toinen nimi");
  RequireStatus(f.Call(&Stub::CreateAccount, renamed, &account), grpc::ALREADY_EXISTS,
                "request_id");
  v1::CreateAccountRequest other_id = create;
  other_id.set_request_id("acct-2");
  RequireStatus(f.Call(&Stub::CreateAccount, other_id, &account), grpc::ALREADY_EXISTS,
                "account.number");
  v1::ListAccountsResponse accounts = f.Ok(&Stub::ListAccounts, v1::ListAccountsRequest());
  REQUIRE(accounts.accounts_size() == 1);
  REQUIRE(accounts.accounts(0).name() == "Koulutuskulut");

  v1::OpenPeriodRequest open;
  open.set_request_id("open-1");
  open.set_period("2026-04");
  v1::Period opened = f.Ok(&Stub::OpenPeriod, open);
  REQUIRE(opened.status() == v1::PERIOD_STATUS_OPEN);
  REQUIRE(MessageDifferencer::Equals(f.Ok(&Stub::OpenPeriod, open), opened));
  v1::OpenPeriodRequest other_period = open;
  other_period.set_period("2026-05");
  v1::Period period;
  RequireStatus(f.Call(&Stub::OpenPeriod, other_period, &period), grpc::ALREADY_EXISTS,
                "request_id");
  // A request id names one request whatever the method.
  v1::OpenPeriodRequest cross_method;
  cross_method.set_request_id("acct-1");
  cross_method.set_period("2026-06");
  RequireStatus(f.Call(&Stub::OpenPeriod, cross_method, &period), grpc::ALREADY_EXISTS,
                "request_id");
  v1::ListPeriodsResponse periods = f.Ok(&Stub::ListPeriods, v1::ListPeriodsRequest());
  REQUIRE(periods.periods_size() == 1);
  REQUIRE(periods.periods(0).period() == "2026-04");

  // The chart template is idempotent too, and leaves existing accounts as they are.
  v1::LoadChartTemplateRequest chart;
  chart.set_request_id("chart-1");
  v1::LoadChartTemplateResponse loaded = f.Ok(&Stub::LoadChartTemplate, chart);
  REQUIRE(loaded.accounts_created() > 10);
  REQUIRE(loaded.accounts_existing() == 0);
  REQUIRE(loaded.dimensions_created() == 3);
  REQUIRE(MessageDifferencer::Equals(f.Ok(&Stub::LoadChartTemplate, chart), loaded));
  chart.set_request_id("chart-2");
  v1::LoadChartTemplateResponse reloaded = f.Ok(&Stub::LoadChartTemplate, chart);
  REQUIRE(reloaded.accounts_created() == 0);
  REQUIRE(reloaded.accounts_existing() == loaded.accounts_created());
  REQUIRE(reloaded.dimensions_created() == 0);
}

TEST_CASE("concurrent posts with one request id create exactly one entry", "[ledger][pg]") {
  LedgerFixture f;
  f.SetUpTenant("a");
  constexpr int kRounds = 10;
  constexpr int kThreads = 8;
  for (int round = 0; round < kRounds; ++round) {
    INFO("round " << round);
    // Round 0 is the plain case of two concurrent duplicates.
    const int threads_in_round = round == 0 ? 2 : kThreads;
    const v1::PostEntryRequest req = Sale(absl::StrCat("dup-", round), "2026-01-20", 100 + round);
    std::vector<grpc::Status> statuses(threads_in_round);
    std::vector<v1::PostEntryResponse> responses(threads_in_round);
    std::latch start(threads_in_round);
    std::vector<std::thread> threads;
    for (int t = 0; t < threads_in_round; ++t) {
      threads.emplace_back([&, t] {
        start.arrive_and_wait();
        statuses[t] = f.Call(&Stub::PostEntry, req, &responses[t]);
      });
    }
    for (std::thread& t : threads) {
      t.join();
    }
    int fresh = 0;
    for (int t = 0; t < threads_in_round; ++t) {
      INFO(statuses[t].error_message());
      REQUIRE(statuses[t].ok());
      REQUIRE(responses[t].entry().sequence() == round + 1);
      REQUIRE(responses[t].entry().hash() == responses[0].entry().hash());
      fresh += responses[t].replayed() ? 0 : 1;
    }
    REQUIRE(fresh == 1);
  }
  // Same id, different content, at the same time: one wins, the other is refused.
  std::latch start(2);
  std::vector<grpc::Status> statuses(2);
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      v1::PostEntryRequest req = Sale("dup-conflict", "2026-01-21", 1000 + t);
      start.arrive_and_wait();
      v1::PostEntryResponse resp;
      statuses[t] = f.Call(&Stub::PostEntry, req, &resp);
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  REQUIRE(statuses[0].ok() != statuses[1].ok());
  RequireStatus(statuses[0].ok() ? statuses[1] : statuses[0], grpc::ALREADY_EXISTS, "request_id");

  JournalState state = f.State();
  REQUIRE(state.sequences == OneTo(kRounds + 1));
  REQUIRE(state.chain_ok);
}

// --- reversal ------------------------------------------------------------------------------------

TEST_CASE("a reversal negates every line and links both entries, only once", "[ledger][pg]") {
  LedgerFixture f;
  f.SetUpTenant("a");
  f.Post(Sale("base", "2026-01-05", 1000));
  v1::GetTrialBalanceRequest everything;
  everything.set_as_of_date("2026-03-31");
  auto nets = [&] {
    std::map<std::string, int64_t> out;
    const v1::GetTrialBalanceResponse tb = f.Trial(everything);
    for (const v1::TrialBalanceRow& row : tb.rows()) {
      out[row.account()] = row.net_minor();
    }
    return out;
  };
  const std::map<std::string, int64_t> nets_before = nets();
  const int64_t bank_before = f.Balance(kBank, "2026-03-31").balance().amount_minor();
  REQUIRE(bank_before == 1000);

  v1::Entry original =
      f.Post(EntryRequest("sale", "2026-01-15",
                          {Line(kBank, 12345, {{"cost_centre", "100"}}, "", "Myynti"),
                           Line(kSales, -12345, {{"cost_centre", "100"}})}))
          .entry();
  REQUIRE(original.sequence() == 2);
  REQUIRE(f.Balance(kBank, "2026-03-31").balance().amount_minor() == bank_before + 12345);

  v1::ReverseEntryRequest reverse;
  reverse.set_request_id("rev-1");
  reverse.set_sequence(2);
  v1::PostEntryResponse reversal = f.Ok(&Stub::ReverseEntry, reverse);
  REQUIRE_FALSE(reversal.replayed());
  const v1::Entry& r = reversal.entry();
  REQUIRE(r.sequence() == 3);
  REQUIRE(r.reverses_sequence() == 2);
  REQUIRE(r.entry_date() == "2026-01-15");  // the original's date by default
  REQUIRE(r.source().system() == "ledger.reversal");
  REQUIRE(r.lines_size() == 2);
  for (int i = 0; i < 2; ++i) {
    REQUIRE(r.lines(i).account() == original.lines(i).account());
    REQUIRE(r.lines(i).amount().amount_minor() == -original.lines(i).amount().amount_minor());
    REQUIRE(r.lines(i).dimensions().at("cost_centre") == "100");
  }
  REQUIRE(r.lines(0).text() == "Myynti");
  REQUIRE(f.Get(2).reversed_by_sequence() == 3);
  REQUIRE(f.Get(3).reverses_sequence() == 2);
  REQUIRE(f.Get(3).reversed_by_sequence() == 0);
  REQUIRE(f.Balance(kBank, "2026-03-31").balance().amount_minor() == bank_before);
  REQUIRE(nets() == nets_before);

  // The same request replays; another request to reverse it again is refused.
  v1::PostEntryResponse replay = f.Ok(&Stub::ReverseEntry, reverse);
  REQUIRE(replay.replayed());
  REQUIRE(replay.entry().sequence() == 3);
  const JournalState after_reversal = f.State();
  v1::PostEntryResponse resp;
  reverse.set_request_id("rev-2");
  RequireStatus(f.Call(&Stub::ReverseEntry, reverse, &resp), grpc::FAILED_PRECONDITION, "sequence");
  reverse.set_request_id("rev-missing");
  reverse.set_sequence(99);
  RequireStatus(f.Call(&Stub::ReverseEntry, reverse, &resp), grpc::NOT_FOUND, "sequence");
  REQUIRE(f.State() == after_reversal);

  // A reversal on a chosen date moves the balance on that date, not before.
  REQUIRE(f.Post(EntryRequest("wages", "2026-01-20", {Line(kWages, 5000), Line(kBank, -5000)}))
              .entry()
              .sequence() == 4);
  reverse.set_request_id("rev-3");
  reverse.set_sequence(4);
  reverse.set_reversal_date("2026-02-01");
  reverse.set_description("Peruutus: väärä kuukausi");
  v1::Entry dated = f.Ok(&Stub::ReverseEntry, reverse).entry();
  REQUIRE(dated.sequence() == 5);
  REQUIRE(dated.entry_date() == "2026-02-01");
  REQUIRE(dated.description() == "Peruutus: väärä kuukausi");
  REQUIRE(f.Balance(kWages, "2026-01-31").balance().amount_minor() == 5000);
  REQUIRE(f.Balance(kWages, "2026-02-01").balance().amount_minor() == 0);

  // Not into a closed period.
  v1::ClosePeriodRequest close;
  close.set_request_id("close-2026-03");
  close.set_period("2026-03");
  f.Ok(&Stub::ClosePeriod, close);
  const JournalState before_closed = f.State();
  reverse.set_request_id("rev-4");
  reverse.set_sequence(1);
  reverse.set_reversal_date("2026-03-10");
  reverse.set_description("");
  RequireStatus(f.Call(&Stub::ReverseEntry, reverse, &resp), grpc::FAILED_PRECONDITION,
                "reversal.entry_date");
  REQUIRE(f.State() == before_closed);
  REQUIRE(f.Get(1).reversed_by_sequence() == 0);

  v1::VerifyChainResponse chain = f.Verify();
  REQUIRE(chain.ok());
  REQUIRE(chain.entries_checked() == 5);
}

// --- balances ------------------------------------------------------------------------------------

TEST_CASE("account balances as of a date and by dimension, trial balances", "[ledger][pg]") {
  LedgerFixture f;
  f.SetUpTenant("a");
  f.Post(EntryRequest("b-1", "2026-01-10",
                      {Line(kBank, 100000, {{"cost_centre", "100"}}),
                       Line(kSales, -100000, {{"cost_centre", "100"}})}));
  f.Post(EntryRequest("b-2", "2026-01-20",
                      {Line(kBank, 250000, {{"cost_centre", "200"}}), Line(kSales, -250000)}));
  f.Post(EntryRequest("b-3", "2026-02-05",
                      {Line(kWages, 70000), Line(kBank, -70000, {{"cost_centre", "100"}})}));
  f.Post(EntryRequest("b-4", "2026-02-06", {Line(kWages, 5000), Line(kBank, -5000)}));
  // Another currency is kept apart.
  f.Post(EntryRequest("b-5", "2026-02-07",
                      {Line(kBank, 900, {}, "SEK"), Line(kSales, -900, {}, "SEK")}));

  struct Expect {
    std::string as_of;
    int64_t balance, debit, credit;
  };
  for (const Expect& e : std::vector<Expect>{{"2026-01-09", 0, 0, 0},
                                             {"2026-01-10", 100000, 100000, 0},
                                             {"2026-01-19", 100000, 100000, 0},
                                             {"2026-01-20", 350000, 350000, 0},
                                             {"2026-02-05", 280000, 350000, 70000},
                                             {"2026-02-06", 275000, 350000, 75000},
                                             {"2026-12-31", 275000, 350000, 75000}}) {
    INFO("as of " << e.as_of);
    v1::GetAccountBalanceResponse b = f.Balance(kBank, e.as_of);
    REQUIRE(b.account() == kBank);
    REQUIRE(b.as_of_date() == e.as_of);
    REQUIRE(b.balance().amount_minor() == e.balance);
    REQUIRE(b.balance().currency_code() == "EUR");
    REQUIRE(b.debit_total().amount_minor() == e.debit);
    REQUIRE(b.credit_total().amount_minor() == e.credit);
  }
  REQUIRE(f.Balance(kSales, "2026-12-31").balance().amount_minor() == -350000);
  // Empty as_of_date means today.
  v1::GetAccountBalanceResponse today = f.Balance(kBank, "");
  REQUIRE(today.as_of_date() == FormatDate(absl::ToCivilDay(absl::Now(), absl::UTCTimeZone())));

  v1::GetAccountBalanceRequest req;
  req.set_account(kBank);
  req.set_as_of_date("2026-02-28");
  req.set_currency_code("SEK");
  REQUIRE(f.Ok(&Stub::GetAccountBalance, req).balance().amount_minor() == 900);
  req.set_currency_code("");
  req.set_dimension_key("cost_centre");
  req.set_dimension_value("100");
  REQUIRE(f.Ok(&Stub::GetAccountBalance, req).balance().amount_minor() == 30000);
  req.set_dimension_value("200");
  REQUIRE(f.Ok(&Stub::GetAccountBalance, req).balance().amount_minor() == 250000);
  req.set_dimension_value("999");
  REQUIRE(f.Ok(&Stub::GetAccountBalance, req).balance().amount_minor() == 0);

  req.set_dimension_value("");
  req.set_split_by_dimension(true);
  v1::GetAccountBalanceResponse split = f.Ok(&Stub::GetAccountBalance, req);
  REQUIRE(split.balance().amount_minor() == 275000);
  std::map<std::string, int64_t> by_value;
  int64_t sum = 0;
  for (const v1::DimensionBalance& d : split.by_dimension()) {
    by_value[d.dimension_value()] = d.balance().amount_minor();
    sum += d.balance().amount_minor();
  }
  // Lines without the dimension are reported under the empty value.
  REQUIRE(by_value == std::map<std::string, int64_t>{{"", -5000}, {"100", 30000}, {"200", 250000}});
  REQUIRE(sum == split.balance().amount_minor());
  req.set_as_of_date("2026-01-31");
  split = f.Ok(&Stub::GetAccountBalance, req);
  REQUIRE(split.by_dimension_size() == 2);
  REQUIRE(split.by_dimension(0).dimension_value() == "100");
  REQUIRE(split.by_dimension(0).balance().amount_minor() == 100000);
  REQUIRE(split.by_dimension(1).dimension_value() == "200");
  REQUIRE(split.by_dimension(1).balance().amount_minor() == 250000);

  // Trial balances: for a period, up to a date, for a range.
  v1::GetTrialBalanceRequest tb_req;
  tb_req.set_period("2026-01");
  v1::GetTrialBalanceResponse january = f.Trial(tb_req);
  RequireBalanced(january);
  REQUIRE(january.currency_code() == "EUR");
  REQUIRE(Rows(january) == Totals{{kBank, {350000, 0}}, {kSales, {0, 350000}}});
  REQUIRE(january.rows(0).name() == "Pankkitili");
  REQUIRE(january.rows(0).type() == v1::ACCOUNT_TYPE_ASSET);
  REQUIRE(january.rows(1).type() == v1::ACCOUNT_TYPE_INCOME);

  tb_req.set_period("2026-02");
  v1::GetTrialBalanceResponse february = f.Trial(tb_req);
  RequireBalanced(february);
  REQUIRE(Rows(february) == Totals{{kBank, {0, 75000}}, {kWages, {75000, 0}}});

  tb_req.set_period("2026-03");
  v1::GetTrialBalanceResponse march = f.Trial(tb_req);
  REQUIRE(march.rows_size() == 0);
  REQUIRE(march.total_debit_minor() == 0);

  tb_req.Clear();
  tb_req.set_as_of_date("2026-02-05");
  v1::GetTrialBalanceResponse as_of = f.Trial(tb_req);
  RequireBalanced(as_of);
  REQUIRE(Rows(as_of) ==
          Totals{{kBank, {350000, 70000}}, {kSales, {0, 350000}}, {kWages, {70000, 0}}});
  REQUIRE(as_of.total_debit_minor() == 420000);

  tb_req.Clear();
  tb_req.set_from_date("2026-01-15");
  tb_req.set_to_date("2026-02-05");
  v1::GetTrialBalanceResponse range = f.Trial(tb_req);
  RequireBalanced(range);
  REQUIRE(Rows(range) ==
          Totals{{kBank, {250000, 70000}}, {kSales, {0, 250000}}, {kWages, {70000, 0}}});

  tb_req.Clear();
  tb_req.set_period("2026-02");
  tb_req.set_currency_code("SEK");
  v1::GetTrialBalanceResponse sek = f.Trial(tb_req);
  RequireBalanced(sek);
  REQUIRE(sek.currency_code() == "SEK");
  REQUIRE(Rows(sek) == Totals{{kBank, {900, 0}}, {kSales, {0, 900}}});
}

// --- tamper evidence -----------------------------------------------------------------------------

TEST_CASE("verification finds the first altered entry", "[ledger][pg]") {
  LedgerFixture f;
  f.SetUpTenant("a");
  for (int i = 1; i <= 5; ++i) {
    f.Post(Sale(absl::StrCat("t-", i), "2026-01-1" + std::to_string(i), 1000 * i));
  }
  REQUIRE(f.Verify().ok());

  // The owner, with triggers disabled, is the only one who can change a journal row at all.
  auto tamper = [&](const std::string& sql) {
    pqxx::connection owner(f.db.owner_conninfo());
    pqxx::work tx(owner);
    tx.exec("SET LOCAL session_replication_role = replica");
    tx.exec("SELECT set_config('tahe.tenant', 'a', true)");
    tx.exec(sql);
    tx.commit();
  };

  SECTION("an amount, even when the entry still balances") {
    tamper(
        "UPDATE entry_lines SET amount_minor = amount_minor + sign(amount_minor) * 100"
        " WHERE tenant_id = 'a' AND sequence = 3");
    RequireBalanced(f.Trial([] {
      v1::GetTrialBalanceRequest r;
      r.set_period("2026-01");
      return r;
    }()));
    v1::VerifyChainResponse chain = f.Verify();
    REQUIRE_FALSE(chain.ok());
    REQUIRE(chain.first_bad_sequence() == 3);
    REQUIRE(chain.entries_checked() == 3);
    REQUIRE_THAT(chain.problem(), Contains("altered"));
  }
  SECTION("a description") {
    tamper(
        "UPDATE entries SET description = 'nothing to see' WHERE tenant_id = 'a' AND sequence = 3");
    v1::VerifyChainResponse chain = f.Verify();
    REQUIRE_FALSE(chain.ok());
    REQUIRE(chain.first_bad_sequence() == 3);
  }
  SECTION("a deleted last entry") {
    tamper("DELETE FROM entry_lines WHERE tenant_id = 'a' AND sequence = 5");
    tamper("DELETE FROM entries WHERE tenant_id = 'a' AND sequence = 5");
    v1::VerifyChainResponse chain = f.Verify();
    REQUIRE_FALSE(chain.ok());
    REQUIRE(chain.first_bad_sequence() == 5);
  }
  SECTION("the immutability trigger stops even the owner otherwise") {
    pqxx::connection owner(f.db.owner_conninfo());
    pqxx::work tx(owner);
    REQUIRE_THROWS_WITH(
        tx.exec("UPDATE entry_lines SET amount_minor = 1 WHERE tenant_id = 'a' AND sequence = 3"),
        Contains("immutable"));
    REQUIRE(f.Verify().ok());
  }
}

TEST_CASE("the application role cannot change or delete journal rows", "[ledger][pg]") {
  LedgerFixture f;
  f.SetUpTenant("a");
  f.Post(Sale("own-1", "2026-01-10", 1000));
  pqxx::connection app(f.db.app_conninfo());
  for (const char* sql : {"UPDATE entry_lines SET amount_minor = 1 WHERE tenant_id = 'a'",
                          "DELETE FROM entry_lines WHERE tenant_id = 'a'",
                          "UPDATE entries SET description = 'x' WHERE tenant_id = 'a'",
                          "DELETE FROM entries WHERE tenant_id = 'a'"}) {
    INFO(sql);
    pqxx::work tx(app);
    tx.exec("SELECT set_config('tahe.tenant', 'a', true)");
    // Its own tenant's rows are visible...
    REQUIRE(tx.exec("SELECT count(*) FROM entry_lines")[0][0].as<int>() == 2);
    // ...but not writable.
    REQUIRE_THROWS_WITH(tx.exec(sql), Contains("permission denied"));
  }
  v1::VerifyChainResponse chain = f.Verify();
  REQUIRE(chain.ok());
  REQUIRE(chain.entries_checked() == 1);
}

// --- change feed ---------------------------------------------------------------------------------

TEST_CASE("the change feed delivers every entry once and in order across reconnects",
          "[ledger][pg]") {
  // Small fetch batches so one stream spans several fetches.
  LedgerFixture f({.watch_poll_interval = absl::Milliseconds(20), .watch_batch = 2});
  f.SetUpTenant("a");
  int next = 1;
  auto post = [&] {
    REQUIRE(f.Post(Sale(absl::StrCat("feed-", next), "2026-01-15", next)).entry().sequence() ==
            next);
    ++next;
  };
  for (int i = 0; i < 5; ++i) {
    post();
  }

  std::vector<int64_t> seen;
  auto read = [&](grpc::ClientReader<v1::Entry>& reader) {
    v1::Entry e;
    REQUIRE(reader.Read(&e));
    REQUIRE(e.request_id() == absl::StrCat("feed-", e.sequence()));
    REQUIRE(e.lines_size() == 2);
    REQUIRE(e.hash() == ExpectedHash("a", e));
    seen.push_back(e.sequence());
  };
  auto cancel = [&](grpc::ClientContext& ctx, grpc::ClientReader<v1::Entry>& reader) {
    ctx.TryCancel();
    v1::Entry e;
    while (reader.Read(&e)) {
      seen.push_back(e.sequence());  // anything here would be a repeat or a stray entry
    }
    REQUIRE(reader.Finish().error_code() == grpc::StatusCode::CANCELLED);
  };

  {
    grpc::ClientContext ctx;
    PrepareContext(&ctx, {});
    v1::WatchEntriesRequest req;
    req.set_after_sequence(0);
    auto reader = f.stub->WatchEntries(&ctx, req);
    for (int i = 0; i < 5; ++i) {
      read(*reader);
    }
    cancel(ctx, *reader);
  }
  REQUIRE(seen == OneTo(5));

  for (int i = 0; i < 3; ++i) {
    post();
  }
  {
    grpc::ClientContext ctx;
    PrepareContext(&ctx, {});
    v1::WatchEntriesRequest req;
    req.set_after_sequence(seen.back());
    auto reader = f.stub->WatchEntries(&ctx, req);
    for (int i = 0; i < 3; ++i) {
      read(*reader);
    }
    REQUIRE(seen == OneTo(8));
    // Posted while the stream is open and idle: it arrives (the context's deadline bounds the
    // wait).
    post();
    read(*reader);
    post();
    post();
    read(*reader);
    read(*reader);
    cancel(ctx, *reader);
  }
  REQUIRE(seen == OneTo(11));

  grpc::ClientContext ctx;
  PrepareContext(&ctx, {});
  v1::WatchEntriesRequest bad;
  bad.set_after_sequence(-1);
  auto reader = f.stub->WatchEntries(&ctx, bad);
  v1::Entry e;
  REQUIRE_FALSE(reader->Read(&e));
  RequireStatus(reader->Finish(), grpc::INVALID_ARGUMENT, "after_sequence");
}

// --- concurrency ---------------------------------------------------------------------------------

TEST_CASE(
    "50 concurrent clients: every acknowledged cent is in the balance and no sequence is skipped",
    "[ledger][pg]") {
  LedgerFixture f;
  f.SetUpTenant("a");
  constexpr int kClients = 50;
  constexpr int kPerClient = 20;
  struct Result {
    int64_t acknowledged_cents = 0;
    std::vector<int64_t> sequences;
    int failures = 0;
    std::string last_error;
  };
  std::vector<Result> results(kClients);
  std::latch start(kClients);
  std::vector<std::thread> threads;
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] {
      std::mt19937_64 rng(1000 + c);  // deterministic amounts
      std::uniform_int_distribution<int64_t> cents(1, 10'000'000);
      Result& result = results[c];
      start.arrive_and_wait();
      for (int i = 0; i < kPerClient; ++i) {
        int64_t amount = cents(rng);
        v1::PostEntryResponse resp;
        grpc::Status status = f.Call(
            &Stub::PostEntry, Sale(absl::StrCat("load-", c, "-", i), "2026-02-14", amount), &resp);
        if (status.ok() && !resp.replayed()) {
          result.acknowledged_cents += amount;
          result.sequences.push_back(resp.entry().sequence());
        } else {
          ++result.failures;
          result.last_error = status.error_message();
        }
      }
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  int64_t acknowledged = 0;
  int failures = 0;
  std::vector<int64_t> acknowledged_sequences;
  for (const Result& r : results) {
    acknowledged += r.acknowledged_cents;
    failures += r.failures;
    acknowledged_sequences.insert(acknowledged_sequences.end(), r.sequences.begin(),
                                  r.sequences.end());
    INFO("a client's last error: " << r.last_error);
    CHECK(r.failures == 0);
  }
  const int64_t n = static_cast<int64_t>(acknowledged_sequences.size());
  REQUIRE(n + failures == kClients * kPerClient);
  std::sort(acknowledged_sequences.begin(), acknowledged_sequences.end());
  REQUIRE(acknowledged_sequences == OneTo(n));

  REQUIRE(f.Balance(kBank, "2026-12-31").balance().amount_minor() == acknowledged);
  REQUIRE(f.Balance(kSales, "2026-12-31").balance().amount_minor() == -acknowledged);

  int pages = 0;
  std::vector<int64_t> listed;
  for (const v1::Entry& e : f.AllEntries("a", 100, &pages)) {
    listed.push_back(e.sequence());
  }
  REQUIRE(listed == OneTo(n));
  REQUIRE(pages == (n + 99) / 100);

  v1::VerifyChainResponse chain = f.Verify();
  REQUIRE(chain.ok());
  REQUIRE(chain.entries_checked() == n);
  REQUIRE(f.metrics.entries_posted->Value() == static_cast<double>(n));
}

// --- bulk import ---------------------------------------------------------------------------------

v1::PostEntriesRequest Batch(const std::string& request_id,
                             const std::vector<v1::PostEntryRequest>& entries) {
  v1::PostEntriesRequest batch;
  batch.set_request_id(request_id);
  for (const v1::PostEntryRequest& e : entries) {
    *batch.add_entries() = e;
  }
  return batch;
}

grpc::Status Stream(LedgerFixture& f, const std::vector<v1::PostEntriesRequest>& batches,
                    v1::PostEntriesResponse* resp, const Caller& caller = {}) {
  grpc::ClientContext ctx;
  PrepareContext(&ctx, caller);
  auto writer = f.stub->PostEntries(&ctx, resp);
  for (const v1::PostEntriesRequest& batch : batches) {
    if (!writer->Write(batch)) {
      break;  // the server finished early; Finish has the status
    }
  }
  writer->WritesDone();
  return writer->Finish();
}

TEST_CASE("bulk import commits each batch atomically and replays idempotently", "[ledger][pg]") {
  LedgerFixture f;
  f.SetUpTenant("a");
  const std::vector<v1::PostEntriesRequest> batches = {
      Batch("batch-0", {Sale("bulk-0", "2026-01-02", 100), Sale("bulk-1", "2026-01-02", 200),
                        Sale("bulk-2", "2026-01-02", 300)}),
      // Rejected before the database: entry 4 does not balance.
      Batch("batch-1",
            {Sale("bulk-3", "2026-01-03", 400),
             EntryRequest("bulk-4", "2026-01-03", {Line(kBank, 500), Line(kSales, -1)})}),
      // Rejected by the database checks: entry 6 names an unknown account.
      Batch("batch-2",
            {Sale("bulk-5", "2026-01-04", 600),
             EntryRequest("bulk-6", "2026-01-04", {Line(kBank, 700), Line("9999", -700)})}),
      Batch("batch-3", {Sale("bulk-7", "2026-01-05", 800), Sale("bulk-8", "2026-01-05", 900)}),
  };

  v1::PostEntriesResponse resp;
  grpc::Status status = Stream(f, batches, &resp);
  INFO(status.error_message() << "\n" << resp.ShortDebugString());
  REQUIRE(status.ok());
  REQUIRE(resp.batches_committed() == 2);
  REQUIRE(resp.batches_rejected() == 2);
  REQUIRE(resp.entries_posted() == 5);
  REQUIRE(resp.entries_replayed() == 0);
  REQUIRE(resp.lines_posted() == 10);
  REQUIRE(resp.first_sequence() == 1);
  REQUIRE(resp.last_sequence() == 5);
  REQUIRE(resp.errors_size() == 2);
  REQUIRE(resp.errors(0).entry_index() == 4);
  REQUIRE(resp.errors(0).batch_index() == 1);
  REQUIRE(resp.errors(0).request_id() == "bulk-4");
  REQUIRE(resp.errors(0).code() == "INVALID_ARGUMENT");
  REQUIRE_THAT(resp.errors(0).message(), StartsWith("entries[4].lines:"));
  REQUIRE(resp.errors(1).entry_index() == 6);
  REQUIRE(resp.errors(1).batch_index() == 2);
  REQUIRE(resp.errors(1).request_id() == "bulk-6");
  REQUIRE(resp.errors(1).code() == "INVALID_ARGUMENT");
  REQUIRE_THAT(resp.errors(1).message(), StartsWith("entries[6].lines[1].account:"));

  auto stored_ids = [&] {
    std::vector<std::string> ids;
    for (const v1::Entry& e : f.AllEntries()) {
      ids.push_back(absl::StrCat(e.sequence(), ":", e.request_id()));
    }
    return ids;
  };
  const std::vector<std::string> expected = {"1:bulk-0", "2:bulk-1", "3:bulk-2", "4:bulk-7",
                                             "5:bulk-8"};
  REQUIRE(stored_ids() == expected);
  const JournalState after_import = f.State();
  REQUIRE(after_import.chain_ok);

  // The whole stream again: nothing new, the same batches rejected.
  v1::PostEntriesResponse replay;
  REQUIRE(Stream(f, batches, &replay).ok());
  INFO(replay.ShortDebugString());
  REQUIRE(replay.batches_committed() == 2);
  REQUIRE(replay.batches_rejected() == 2);
  REQUIRE(replay.entries_posted() == 0);
  REQUIRE(replay.entries_replayed() == 5);
  REQUIRE(replay.lines_posted() == 0);
  REQUIRE(replay.errors_size() == 2);
  REQUIRE(f.State() == after_import);

  // A reused request id with other content rejects its batch.
  v1::PostEntriesResponse conflict;
  REQUIRE(Stream(f,
                 {Batch("batch-x",
                        {Sale("bulk-9", "2026-01-06", 1), Sale("bulk-0", "2026-01-06", 12345)})},
                 &conflict)
              .ok());
  REQUIRE(conflict.batches_rejected() == 1);
  REQUIRE(conflict.entries_posted() == 0);
  REQUIRE(conflict.errors_size() == 1);
  REQUIRE(conflict.errors(0).entry_index() == 1);
  REQUIRE(conflict.errors(0).code() == "ALREADY_EXISTS");
  REQUIRE(f.State() == after_import);

  // Inside one batch, a repeated entry is a replay and a repeated id with other content refused.
  v1::PostEntriesResponse twice;
  REQUIRE(Stream(f,
                 {Batch("batch-dup",
                        {Sale("bulk-10", "2026-01-07", 5), Sale("bulk-10", "2026-01-07", 5)}),
                  Batch("batch-dup-conflict",
                        {Sale("bulk-11", "2026-01-07", 5), Sale("bulk-11", "2026-01-07", 6)})},
                 &twice)
              .ok());
  INFO(twice.ShortDebugString());
  REQUIRE(twice.batches_committed() == 1);
  REQUIRE(twice.batches_rejected() == 1);
  REQUIRE(twice.entries_posted() == 1);
  REQUIRE(twice.entries_replayed() == 1);
  REQUIRE(twice.first_sequence() == 6);
  REQUIRE(twice.errors_size() == 1);
  REQUIRE(twice.errors(0).entry_index() == 3);
  REQUIRE(twice.errors(0).code() == "ALREADY_EXISTS");
  REQUIRE(f.State().sequences == OneTo(6));
}

// --- tenants and authentication ------------------------------------------------------------------

TEST_CASE("tenants are isolated in the API and in the database", "[ledger][pg]") {
  LedgerFixture f;
  f.SetUpTenant("a");
  f.Post(Sale("a-1", "2026-01-10", 1000), "a");
  f.Post(Sale("a-2", "2026-01-11", 2000), "a");

  // B sees none of A's entries.
  v1::Entry entry;
  v1::GetEntryRequest get;
  get.set_sequence(1);
  RequireStatus(f.Call(&Stub::GetEntry, get, &entry, {.tenant = "b"}), grpc::NOT_FOUND, "sequence");
  REQUIRE(f.AllEntries("b").empty());
  v1::GetTrialBalanceRequest everything;
  everything.set_as_of_date("2999-12-31");
  REQUIRE(f.Trial(everything, "b").rows_size() == 0);
  REQUIRE(f.Ok(&Stub::ListAccounts, v1::ListAccountsRequest(), "b").accounts_size() == 0);
  v1::VerifyChainResponse b_chain = f.Verify("b");
  REQUIRE(b_chain.ok());
  REQUIRE(b_chain.entries_checked() == 0);

  // B posts only to its own chart: until it has one, A's account numbers are unknown to it.
  v1::OpenPeriodRequest open;
  open.set_request_id("b-open");
  open.set_period("2026-01");
  f.Ok(&Stub::OpenPeriod, open, "b");
  RequireStatus(f.TryPost(Sale("b-1", "2026-01-12", 500), "b"), grpc::INVALID_ARGUMENT,
                "entry.lines[0].account");
  v1::LoadChartTemplateRequest chart;
  chart.set_request_id("b-chart");
  f.Ok(&Stub::LoadChartTemplate, chart, "b");
  v1::Entry b_entry = f.Post(Sale("b-1", "2026-01-12", 500), "b").entry();
  REQUIRE(b_entry.sequence() == 1);  // B's own chain
  REQUIRE(b_entry.previous_hash() == std::string(64, '0'));
  REQUIRE(f.Get(1, "b").request_id() == "b-1");
  REQUIRE(f.Get(1, "a").request_id() == "a-1");
  REQUIRE(f.Balance(kBank, "2026-12-31", "b").balance().amount_minor() == 500);
  REQUIRE(f.Balance(kBank, "2026-12-31", "a").balance().amount_minor() == 3000);
  // The same request id in another tenant is another request.
  REQUIRE_FALSE(f.Post(Sale("a-1", "2026-01-12", 7), "b").replayed());
  REQUIRE(f.Verify("a").entries_checked() == 2);
  REQUIRE(f.Verify("b").entries_checked() == 2);

  // B's change feed carries only B's entries.
  {
    grpc::ClientContext ctx;
    PrepareContext(&ctx, {.tenant = "b"});
    v1::WatchEntriesRequest req;
    auto reader = f.stub->WatchEntries(&ctx, req);
    v1::Entry e;
    REQUIRE(reader->Read(&e));
    REQUIRE(e.request_id() == "b-1");
    REQUIRE(reader->Read(&e));
    REQUIRE(e.sequence() == 2);
    REQUIRE(e.lines(0).amount().amount_minor() == 7);
    ctx.TryCancel();
    while (reader->Read(&e)) {
    }
    reader->Finish();
  }

  // Row-level security holds for the application role whatever the query says.
  pqxx::connection app(f.db.app_conninfo());
  {
    pqxx::work tx(app);
    tx.exec("SELECT set_config('tahe.tenant', 'a', true)");
    REQUIRE(tx.exec("SELECT count(*) FROM entries")[0][0].as<int>() == 2);
  }
  {
    pqxx::work tx(app);
    tx.exec("SELECT set_config('tahe.tenant', 'b', true)");
    REQUIRE(tx.exec("SELECT count(*) FROM entries WHERE tenant_id = 'a'")[0][0].as<int>() == 0);
    REQUIRE(tx.exec("SELECT count(*) FROM entry_lines WHERE tenant_id = 'a'")[0][0].as<int>() == 0);
    REQUIRE(tx.exec("SELECT count(*) FROM accounts WHERE tenant_id = 'a'")[0][0].as<int>() == 0);
    REQUIRE(tx.exec("SELECT count(*) FROM entries")[0][0].as<int>() == 2);  // B's own
    // A's rows cannot be changed from B either: the policy hides them.
    REQUIRE(
        tx.exec("UPDATE accounts SET name = 'hijacked' WHERE tenant_id = 'a'").affected_rows() ==
        0);
  }
  {
    pqxx::work tx(app);
    tx.exec("SELECT set_config('tahe.tenant', 'b', true)");
    REQUIRE_THROWS_WITH(
        tx.exec("INSERT INTO entries (tenant_id, sequence, request_id, request_hash, entry_date,"
                " description, source_system, source_reference, posted_at, previous_hash, hash)"
                " VALUES ('a', 3, 'forged', '\\x00'::bytea, '2026-01-13', 'forged', 'manual', '',"
                " now(), '\\x00'::bytea, '\\x00'::bytea)"),
        Contains("row-level security"));
  }
  {
    pqxx::work tx(app);
    tx.exec("SELECT set_config('tahe.tenant', 'b', true)");
    REQUIRE_THROWS_WITH(tx.exec("INSERT INTO accounts (tenant_id, number, name, type)"
                                " VALUES ('a', '9999', 'forged', 1)"),
                        Contains("row-level security"));
  }
  {
    // No tenant chosen: nothing at all is visible.
    pqxx::connection fresh(f.db.app_conninfo());
    pqxx::work tx(fresh);
    REQUIRE(tx.exec("SELECT count(*) FROM entries")[0][0].as<int>() == 0);
    REQUIRE(tx.exec("SELECT count(*) FROM entry_lines")[0][0].as<int>() == 0);
    REQUIRE(tx.exec("SELECT count(*) FROM accounts")[0][0].as<int>() == 0);
  }
  {
    // Nor on a connection that had a tenant in an earlier transaction (SET LOCAL semantics).
    pqxx::work tx(app);
    REQUIRE(tx.exec("SELECT count(*) FROM entries")[0][0].as<int>() == 0);
  }
  REQUIRE(f.AllEntries("a").size() == 2);
  REQUIRE(f.Verify("a").ok());
}

TEST_CASE("calls need the internal credential and a tenant", "[ledger][pg]") {
  LedgerFixture f;
  f.SetUpTenant("a");
  const Caller no_token{.tenant = "a", .token = ""};
  const Caller wrong_token{.tenant = "a", .token = "not-the-internal-token-at-all"};
  const Caller no_tenant{.tenant = ""};

  v1::ListAccountsResponse accounts;
  REQUIRE(
      f.Call(&Stub::ListAccounts, v1::ListAccountsRequest(), &accounts, no_token).error_code() ==
      grpc::StatusCode::UNAUTHENTICATED);
  REQUIRE(
      f.Call(&Stub::ListAccounts, v1::ListAccountsRequest(), &accounts, wrong_token).error_code() ==
      grpc::StatusCode::UNAUTHENTICATED);
  REQUIRE(accounts.accounts_size() == 0);
  grpc::Status status =
      f.Call(&Stub::ListAccounts, v1::ListAccountsRequest(), &accounts, no_tenant);
  REQUIRE(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  REQUIRE_THAT(status.error_message(), Contains("x-tahe-tenant"));
  status =
      f.Call(&Stub::ListAccounts, v1::ListAccountsRequest(), &accounts, {.tenant = "Not A Slug"});
  REQUIRE(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);

  v1::PostEntryResponse posted;
  const v1::PostEntryRequest sale = Sale("auth-1", "2026-01-10", 100);
  REQUIRE(f.Call(&Stub::PostEntry, sale, &posted, no_token).error_code() ==
          grpc::StatusCode::UNAUTHENTICATED);
  status = f.Call(&Stub::PostEntry, sale, &posted, no_tenant);
  REQUIRE(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  REQUIRE_THAT(status.error_message(), Contains("x-tahe-tenant"));
  v1::ReverseEntryRequest reverse;
  reverse.set_request_id("auth-rev");
  reverse.set_sequence(1);
  REQUIRE(f.Call(&Stub::ReverseEntry, reverse, &posted, no_token).error_code() ==
          grpc::StatusCode::UNAUTHENTICATED);

  v1::PostEntriesResponse bulk;
  REQUIRE(Stream(f, {Batch("auth-batch", {sale})}, &bulk, no_token).error_code() ==
          grpc::StatusCode::UNAUTHENTICATED);
  REQUIRE(Stream(f, {Batch("auth-batch", {sale})}, &bulk, no_tenant).error_code() ==
          grpc::StatusCode::INVALID_ARGUMENT);

  for (const Caller& caller : {no_token, no_tenant}) {
    grpc::ClientContext ctx;
    PrepareContext(&ctx, caller);
    auto reader = f.stub->WatchEntries(&ctx, v1::WatchEntriesRequest());
    v1::Entry e;
    REQUIRE_FALSE(reader->Read(&e));
    REQUIRE(reader->Finish().error_code() == (caller.token.empty()
                                                  ? grpc::StatusCode::UNAUTHENTICATED
                                                  : grpc::StatusCode::INVALID_ARGUMENT));
  }

  // Nothing got in.
  REQUIRE(f.AllEntries("a").empty());
  REQUIRE(f.Post(sale).entry().sequence() == 1);
}

// --- input validation ----------------------------------------------------------------------------

TEST_CASE("every malformed request field is INVALID_ARGUMENT naming the field", "[ledger][pg]") {
  LedgerFixture f;
  f.SetUpTenant("a");
  const JournalState empty = f.State();
  const int accounts_before = f.Ok(&Stub::ListAccounts, v1::ListAccountsRequest()).accounts_size();

  const v1::PostEntryRequest valid =
      EntryRequest("valid-1", "2026-01-15",
                   {Line(kBank, 1000, {{"cost_centre", "100"}}, "EUR", "ok"), Line(kSales, -1000)});
  auto post = [&](std::function<void(v1::PostEntryRequest&)> mutate) {
    return [&valid, mutate](LedgerFixture& fx) {
      v1::PostEntryRequest req = valid;
      mutate(req);
      return fx.TryPost(req);
    };
  };
  auto create_account = [](std::string number, std::string name, v1::AccountType type,
                           std::string request_id = "acct") {
    return [=](LedgerFixture& fx) {
      v1::CreateAccountRequest req;
      req.set_request_id(request_id);
      req.mutable_account()->set_number(number);
      req.mutable_account()->set_name(name);
      req.mutable_account()->set_type(type);
      v1::Account resp;
      return fx.Call(&Stub::CreateAccount, req, &resp);
    };
  };
  auto open_period = [](std::string period, std::string request_id = "open") {
    return [=](LedgerFixture& fx) {
      v1::OpenPeriodRequest req;
      req.set_request_id(request_id);
      req.set_period(period);
      v1::Period resp;
      return fx.Call(&Stub::OpenPeriod, req, &resp);
    };
  };
  auto list_entries = [](std::function<void(v1::ListEntriesRequest&)> mutate) {
    return [=](LedgerFixture& fx) {
      v1::ListEntriesRequest req;
      mutate(req);
      v1::ListEntriesResponse resp;
      return fx.Call(&Stub::ListEntries, req, &resp);
    };
  };
  auto balance = [](std::function<void(v1::GetAccountBalanceRequest&)> mutate) {
    return [=](LedgerFixture& fx) {
      v1::GetAccountBalanceRequest req;
      req.set_account(kBank);
      mutate(req);
      v1::GetAccountBalanceResponse resp;
      return fx.Call(&Stub::GetAccountBalance, req, &resp);
    };
  };
  auto trial = [](std::function<void(v1::GetTrialBalanceRequest&)> mutate) {
    return [=](LedgerFixture& fx) {
      v1::GetTrialBalanceRequest req;
      mutate(req);
      v1::GetTrialBalanceResponse resp;
      return fx.Call(&Stub::GetTrialBalance, req, &resp);
    };
  };
  auto reverse = [](std::function<void(v1::ReverseEntryRequest&)> mutate) {
    return [=](LedgerFixture& fx) {
      v1::ReverseEntryRequest req;
      req.set_request_id("rev");
      req.set_sequence(1);
      mutate(req);
      v1::PostEntryResponse resp;
      return fx.Call(&Stub::ReverseEntry, req, &resp);
    };
  };
  auto define_dimension = [](std::string key, std::vector<std::string> values) {
    return [=](LedgerFixture& fx) {
      v1::DefineDimensionRequest req;
      req.set_request_id("dim");
      req.mutable_dimension()->set_key(key);
      for (const std::string& v : values) {
        req.mutable_dimension()->add_allowed_values(v);
      }
      v1::Dimension resp;
      return fx.Call(&Stub::DefineDimension, req, &resp);
    };
  };
  auto line0 = [](v1::PostEntryRequest& r) -> v1::EntryLine& {
    return *r.mutable_entry()->mutable_lines(0);
  };

  struct Case {
    std::string what;
    std::function<grpc::Status(LedgerFixture&)> call;
    std::string field;
  };
  const std::vector<Case> cases = {
      // PostEntry
      {"request_id empty", post([](auto& r) { r.set_request_id(""); }), "request_id"},
      {"request_id too long", post([](auto& r) { r.set_request_id(std::string(129, 'x')); }),
       "request_id"},
      {"request_id with a space", post([](auto& r) { r.set_request_id("a b"); }), "request_id"},
      {"entry missing", post([](auto& r) { r.clear_entry(); }), "entry"},
      {"entry_date empty", post([](auto& r) { r.mutable_entry()->set_entry_date(""); }),
       "entry.entry_date"},
      {"entry_date malformed",
       post([](auto& r) { r.mutable_entry()->set_entry_date("15.1.2026"); }), "entry.entry_date"},
      {"entry_date with slashes",
       post([](auto& r) { r.mutable_entry()->set_entry_date("2026/01/15"); }), "entry.entry_date"},
      {"entry_date not a calendar date",
       post([](auto& r) { r.mutable_entry()->set_entry_date("2026-02-30"); }), "entry.entry_date"},
      {"entry_date month 13",
       post([](auto& r) { r.mutable_entry()->set_entry_date("2026-13-01"); }), "entry.entry_date"},
      {"description too long",
       post([](auto& r) { r.mutable_entry()->set_description(std::string(501, 'd')); }),
       "entry.description"},
      {"source missing", post([](auto& r) { r.mutable_entry()->clear_source(); }),
       "entry.source.system"},
      {"source.system empty",
       post([](auto& r) { r.mutable_entry()->mutable_source()->set_system(""); }),
       "entry.source.system"},
      {"source.system too long",
       post([](auto& r) { r.mutable_entry()->mutable_source()->set_system(std::string(65, 's')); }),
       "entry.source"},
      {"lines missing", post([](auto& r) { r.mutable_entry()->clear_lines(); }), "entry.lines"},
      {"account malformed",
       post([](auto& r) { r.mutable_entry()->mutable_lines(1)->set_account("30x0"); }),
       "entry.lines[1].account"},
      {"account too short", post([&](auto& r) { line0(r).set_account("19"); }),
       "entry.lines[0].account"},
      {"account too long", post([&](auto& r) { line0(r).set_account("19101910191"); }),
       "entry.lines[0].account"},
      {"account empty", post([&](auto& r) { line0(r).set_account(""); }), "entry.lines[0].account"},
      {"amount zero", post([](auto& r) {
         r.mutable_entry()->mutable_lines(0)->mutable_amount()->set_amount_minor(0);
         r.mutable_entry()->mutable_lines(1)->mutable_amount()->set_amount_minor(0);
       }),
       "entry.lines[0].amount.amount_minor"},
      {"amount missing", post([&](auto& r) { line0(r).clear_amount(); }),
       "entry.lines[0].amount.amount_minor"},
      {"currency lower case",
       post([&](auto& r) { line0(r).mutable_amount()->set_currency_code("eur"); }),
       "entry.lines[0].amount.currency_code"},
      {"currency too long",
       post([&](auto& r) { line0(r).mutable_amount()->set_currency_code("EURO"); }),
       "entry.lines[0].amount.currency_code"},
      {"dimension key upper case",
       post([&](auto& r) { (*line0(r).mutable_dimensions())["Cost"] = "100"; }),
       "entry.lines[0].dimensions"},
      {"dimension key with a dash",
       post([&](auto& r) { (*line0(r).mutable_dimensions())["cost-centre"] = "100"; }),
       "entry.lines[0].dimensions"},
      {"dimension value empty",
       post([&](auto& r) { (*line0(r).mutable_dimensions())["cost_centre"] = ""; }),
       "entry.lines[0].dimensions[cost_centre]"},
      {"dimension value with a control character", post([&](auto& r) {
         (*line0(r).mutable_dimensions())["cost_centre"] =
             "1\x1e"
             "2";
       }),
       "entry.lines[0].dimensions[cost_centre]"},
      {"dimension value too long", post([&](auto& r) {
         (*line0(r).mutable_dimensions())["cost_centre"] = std::string(65, 'v');
       }),
       "entry.lines[0].dimensions[cost_centre]"},
      {"text too long", post([&](auto& r) { line0(r).set_text(std::string(201, 't')); }),
       "entry.lines[0].text"},
      {"unbalanced", post([&](auto& r) { line0(r).mutable_amount()->set_amount_minor(999); }),
       "entry.lines"},
      // CreateAccount
      {"account number too short", create_account("12", "Name", v1::ACCOUNT_TYPE_ASSET),
       "account.number"},
      {"account number not digits", create_account("abcd", "Name", v1::ACCOUNT_TYPE_ASSET),
       "account.number"},
      {"account name empty", create_account("4811", "", v1::ACCOUNT_TYPE_ASSET), "account.name"},
      {"account name too long",
       create_account("4811", std::string(201, 'n'), v1::ACCOUNT_TYPE_ASSET), "account.name"},
      {"account type unspecified", create_account("4811", "Name", v1::ACCOUNT_TYPE_UNSPECIFIED),
       "account.type"},
      {"account request_id empty", create_account("4811", "Name", v1::ACCOUNT_TYPE_ASSET, ""),
       "request_id"},
      // OpenPeriod, ClosePeriod, ReopenPeriod
      {"period month 13", open_period("2026-13"), "period"},
      {"period month 0", open_period("2026-00"), "period"},
      {"period one-digit month", open_period("2026-1"), "period"},
      {"period a date", open_period("2026-01-01"), "period"},
      {"period empty", open_period(""), "period"},
      {"open request_id empty", open_period("2026-04", ""), "request_id"},
      {"close period malformed",
       [](LedgerFixture& fx) {
         v1::ClosePeriodRequest req;
         req.set_request_id("close");
         req.set_period("26-01");
         v1::Period resp;
         return fx.Call(&Stub::ClosePeriod, req, &resp);
       },
       "period"},
      {"reopen without a reason",
       [](LedgerFixture& fx) {
         v1::ReopenPeriodRequest req;
         req.set_request_id("reopen");
         req.set_period("2026-01");
         v1::Period resp;
         return fx.Call(&Stub::ReopenPeriod, req, &resp);
       },
       "reason"},
      // DefineDimension
      {"dimension key malformed", define_dimension("Cost Centre", {}), "dimension.key"},
      {"dimension key too long", define_dimension(std::string(33, 'k'), {}), "dimension.key"},
      {"dimension allowed value duplicated", define_dimension("cost_centre", {"100", "100"}),
       "dimension.allowed_values[1]"},
      {"dimension allowed value empty", define_dimension("cost_centre", {""}),
       "dimension.allowed_values[0]"},
      // ListEntries
      {"page_size too large", list_entries([](auto& r) { r.set_page_size(5000); }), "page_size"},
      {"page_size negative", list_entries([](auto& r) { r.set_page_size(-1); }), "page_size"},
      {"page_token garbage", list_entries([](auto& r) { r.set_page_token("abc"); }), "page_token"},
      {"page_token negative", list_entries([](auto& r) { r.set_page_token("-5"); }), "page_token"},
      {"list period malformed", list_entries([](auto& r) { r.set_period("2026-13"); }), "period"},
      {"list from_date malformed", list_entries([](auto& r) { r.set_from_date("2026-01-32"); }),
       "from_date"},
      {"list to_date malformed", list_entries([](auto& r) { r.set_to_date("tomorrow"); }),
       "to_date"},
      {"list from_date after to_date", list_entries([](auto& r) {
         r.set_from_date("2026-02-01");
         r.set_to_date("2026-01-01");
       }),
       "from_date"},
      {"list account malformed", list_entries([](auto& r) { r.set_account("19"); }), "account"},
      {"list dimension_key without value",
       list_entries([](auto& r) { r.set_dimension_key("cost_centre"); }), "dimension_value"},
      // GetAccountBalance
      {"balance account empty", balance([](auto& r) { r.set_account(""); }), "account"},
      {"balance account malformed", balance([](auto& r) { r.set_account("19a0"); }), "account"},
      {"balance as_of_date not a calendar date",
       balance([](auto& r) { r.set_as_of_date("2026-02-30"); }), "as_of_date"},
      {"balance as_of_date malformed", balance([](auto& r) { r.set_as_of_date("20260101"); }),
       "as_of_date"},
      {"balance currency lower case", balance([](auto& r) { r.set_currency_code("eur"); }),
       "currency_code"},
      {"balance dimension_value without key",
       balance([](auto& r) { r.set_dimension_value("100"); }), "dimension_key"},
      {"balance split without key", balance([](auto& r) { r.set_split_by_dimension(true); }),
       "dimension_key"},
      // GetTrialBalance
      {"trial period month 13", trial([](auto& r) { r.set_period("2026-13"); }), "period"},
      {"trial period malformed", trial([](auto& r) { r.set_period("2026"); }), "period"},
      {"trial from_date malformed", trial([](auto& r) { r.set_from_date("2026-1-1"); }),
       "from_date"},
      {"trial as_of_date malformed", trial([](auto& r) { r.set_as_of_date("2026-04-31"); }),
       "as_of_date"},
      {"trial from after to", trial([](auto& r) {
         r.set_from_date("2026-03-01");
         r.set_to_date("2026-02-01");
       }),
       "from_date"},
      {"trial currency malformed", trial([](auto& r) { r.set_currency_code("E1R"); }),
       "currency_code"},
      // ReverseEntry, GetEntry
      {"reverse request_id empty", reverse([](auto& r) { r.set_request_id(""); }), "request_id"},
      {"reverse reversal_date malformed", reverse([](auto& r) { r.set_reversal_date("2026-2-1"); }),
       "reversal_date"},
      {"reverse description too long",
       reverse([](auto& r) { r.set_description(std::string(501, 'd')); }), "description"},
      {"reverse sequence zero", reverse([](auto& r) { r.set_sequence(0); }), "sequence"},
      {"get sequence zero",
       [](LedgerFixture& fx) {
         v1::GetEntryRequest req;
         v1::Entry resp;
         return fx.Call(&Stub::GetEntry, req, &resp);
       },
       "sequence"},
      {"get sequence negative",
       [](LedgerFixture& fx) {
         v1::GetEntryRequest req;
         req.set_sequence(-3);
         v1::Entry resp;
         return fx.Call(&Stub::GetEntry, req, &resp);
       },
       "sequence"},
  };
  for (const Case& c : cases) {
    grpc::Status status = c.call(f);
    INFO(c.what << " -> " << CodeString(status.error_code()) << ": " << status.error_message());
    CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK_THAT(status.error_message(), StartsWith(c.field + ":"));
  }

  // None of them wrote anything; the valid request itself is fine.
  REQUIRE(f.State() == empty);
  REQUIRE(f.Ok(&Stub::ListAccounts, v1::ListAccountsRequest()).accounts_size() == accounts_before);
  REQUIRE(f.Ok(&Stub::ListPeriods, v1::ListPeriodsRequest()).periods_size() == 3);
  REQUIRE(f.Ok(&Stub::ListDimensions, v1::ListDimensionsRequest()).dimensions_size() == 3);
  REQUIRE(f.Post(valid).entry().sequence() == 1);
}

// --- queries and reference data ------------------------------------------------------------------

TEST_CASE("ListEntries filters by period/dates/account/dimension/source and pages",
          "[ledger][pg]") {
  LedgerFixture f;
  f.SetUpTenant("a");
  auto post = [&](const std::string& date, const std::string& system, const std::string& reference,
                  const std::vector<v1::EntryLine>& lines) {
    v1::PostEntryRequest req = EntryRequest(absl::StrCat("list-", reference), date, lines);
    req.mutable_entry()->mutable_source()->set_system(system);
    req.mutable_entry()->mutable_source()->set_reference(reference);
    return f.Post(req).entry().sequence();
  };
  post("2026-01-05", "manual", "m-1",
       {Line(kBank, 100, {{"cost_centre", "100"}}), Line(kSales, -100)});
  post("2026-01-20", "payroll", "run-7",
       {Line(kWages, 200, {{"project", "p1"}}), Line(kBank, -200)});
  post("2026-02-03", "invoicing", "INV-2",
       {Line(kBank, 300, {{"cost_centre", "200"}}), Line(kSales, -300)});
  post("2026-02-15", "manual", "m-2", {Line(kOther, 400), Line(kBank, -400)});
  post("2026-03-01", "invoicing", "INV-3",
       {Line(kBank, 500), Line(kSales, -500, {{"cost_centre", "100"}})});

  auto list = [&](std::function<void(v1::ListEntriesRequest&)> filter) {
    v1::ListEntriesRequest req;
    filter(req);
    std::vector<int64_t> sequences;
    const v1::ListEntriesResponse resp = f.Ok(&Stub::ListEntries, req);
    for (const v1::Entry& e : resp.entries()) {
      sequences.push_back(e.sequence());
    }
    return sequences;
  };
  using Seqs = std::vector<int64_t>;
  REQUIRE(list([](auto&) {}) == Seqs{1, 2, 3, 4, 5});
  REQUIRE(list([](auto& r) { r.set_period("2026-01"); }) == Seqs{1, 2});
  REQUIRE(list([](auto& r) { r.set_period("2026-02"); }) == Seqs{3, 4});
  REQUIRE(list([](auto& r) { r.set_period("2026-04"); }).empty());
  REQUIRE(list([](auto& r) {
            r.set_from_date("2026-01-20");
            r.set_to_date("2026-02-15");
          }) == Seqs{2, 3, 4});
  REQUIRE(list([](auto& r) { r.set_from_date("2026-02-15"); }) == Seqs{4, 5});
  REQUIRE(list([](auto& r) { r.set_to_date("2026-01-05"); }) == Seqs{1});
  REQUIRE(list([](auto& r) { r.set_account(kWages); }) == Seqs{2});
  REQUIRE(list([](auto& r) { r.set_account(kSales); }) == Seqs{1, 3, 5});
  REQUIRE(list([](auto& r) { r.set_account(kBank); }) == Seqs{1, 2, 3, 4, 5});
  REQUIRE(list([](auto& r) { r.set_account("9999"); }).empty());
  REQUIRE(list([](auto& r) {
            r.set_dimension_key("cost_centre");
            r.set_dimension_value("100");
          }) == Seqs{1, 5});
  REQUIRE(list([](auto& r) {
            r.set_dimension_key("project");
            r.set_dimension_value("p1");
          }) == Seqs{2});
  REQUIRE(list([](auto& r) { r.set_source_system("invoicing"); }) == Seqs{3, 5});
  REQUIRE(list([](auto& r) {
            r.set_source_system("invoicing");
            r.set_source_reference("INV-3");
          }) == Seqs{5});
  REQUIRE(list([](auto& r) {
            r.set_period("2026-02");
            r.set_account(kBank);
          }) == Seqs{3, 4});

  // Paging keeps the filter.
  v1::ListEntriesRequest req;
  req.set_account(kBank);
  req.set_page_size(2);
  v1::ListEntriesResponse page = f.Ok(&Stub::ListEntries, req);
  REQUIRE(page.entries_size() == 2);
  REQUIRE(page.entries(1).sequence() == 2);
  REQUIRE_FALSE(page.next_page_token().empty());
  req.set_page_token(page.next_page_token());
  page = f.Ok(&Stub::ListEntries, req);
  REQUIRE(page.entries_size() == 2);
  REQUIRE(page.entries(0).sequence() == 3);
  req.set_page_token(page.next_page_token());
  page = f.Ok(&Stub::ListEntries, req);
  REQUIRE(page.entries_size() == 1);
  REQUIRE(page.entries(0).sequence() == 5);
  REQUIRE(page.next_page_token().empty());
}

TEST_CASE("accounts: rename, type changes until used, close, list", "[ledger][pg]") {
  LedgerFixture f;
  f.SetUpTenant("a");
  v1::UpdateAccountRequest update;
  update.set_request_id("rename-4700");
  update.set_number(kOther);
  update.set_name("Muut kulut");
  update.set_parent_group("Toimintakulut/Muut");
  v1::Account renamed = f.Ok(&Stub::UpdateAccount, update);
  REQUIRE(renamed.name() == "Muut kulut");
  REQUIRE(renamed.parent_group() == "Toimintakulut/Muut");
  REQUIRE(renamed.type() == v1::ACCOUNT_TYPE_EXPENSE);
  REQUIRE(MessageDifferencer::Equals(f.Ok(&Stub::UpdateAccount, update), renamed));

  // An unused account may change type; a used one may not.
  update.Clear();
  update.set_request_id("retype-4600");
  update.set_number("4600");
  update.set_type(v1::ACCOUNT_TYPE_INCOME);
  REQUIRE(f.Ok(&Stub::UpdateAccount, update).type() == v1::ACCOUNT_TYPE_INCOME);
  f.Post(EntryRequest("wages", "2026-01-31", {Line(kWages, 100), Line(kBank, -100)}));
  update.set_request_id("retype-4000");
  update.set_number(kWages);
  update.set_type(v1::ACCOUNT_TYPE_ASSET);
  v1::Account account;
  RequireStatus(f.Call(&Stub::UpdateAccount, update, &account), grpc::FAILED_PRECONDITION, "type");
  update.set_request_id("update-missing");
  update.set_number("4999");
  RequireStatus(f.Call(&Stub::UpdateAccount, update, &account), grpc::NOT_FOUND, "number");

  v1::CloseAccountRequest close;
  close.set_request_id("close-4700");
  close.set_number(kOther);
  v1::Account closed = f.Ok(&Stub::CloseAccount, close);
  REQUIRE(closed.closed());
  REQUIRE(closed.name() == "Muut kulut");
  close.set_request_id("close-missing");
  close.set_number("4999");
  RequireStatus(f.Call(&Stub::CloseAccount, close, &account), grpc::NOT_FOUND, "number");

  std::map<std::string, v1::Account> open_accounts, all_accounts;
  const v1::ListAccountsResponse open_listed = f.Ok(&Stub::ListAccounts, v1::ListAccountsRequest());
  for (const v1::Account& a : open_listed.accounts()) {
    open_accounts[a.number()] = a;
  }
  v1::ListAccountsRequest include_closed;
  include_closed.set_include_closed(true);
  v1::ListAccountsResponse listed = f.Ok(&Stub::ListAccounts, include_closed);
  for (const v1::Account& a : listed.accounts()) {
    all_accounts[a.number()] = a;
  }
  REQUIRE_FALSE(open_accounts.contains(kOther));
  REQUIRE(all_accounts.at(kOther).closed());
  REQUIRE(all_accounts.size() == open_accounts.size() + 1);
  REQUIRE(all_accounts.at(kWages).type() == v1::ACCOUNT_TYPE_EXPENSE);
  REQUIRE(all_accounts.at("4600").type() == v1::ACCOUNT_TYPE_INCOME);
  for (int i = 1; i < listed.accounts_size(); ++i) {
    REQUIRE(listed.accounts(i - 1).number() < listed.accounts(i).number());
  }
  // A closed account keeps its history and balance.
  REQUIRE(f.Balance(kWages, "2026-12-31").balance().amount_minor() == 100);
}

TEST_CASE("dimensions: the template's keys, closed value lists, redefinition", "[ledger][pg]") {
  LedgerFixture f;
  f.SetUpTenant("a");
  v1::ListDimensionsResponse dims = f.Ok(&Stub::ListDimensions, v1::ListDimensionsRequest());
  REQUIRE(dims.dimensions_size() == 3);
  REQUIRE(dims.dimensions(0).key() == "cost_centre");
  REQUIRE(dims.dimensions(1).key() == "function");
  REQUIRE(dims.dimensions(2).key() == "project");
  REQUIRE(dims.dimensions(0).allowed_values_size() == 0);

  v1::DefineDimensionRequest define;
  define.set_request_id("define-1");
  define.mutable_dimension()->set_key("cost_centre");
  define.mutable_dimension()->set_description("Kustannuspaikka");
  define.mutable_dimension()->add_allowed_values("100");
  define.mutable_dimension()->add_allowed_values("200 Sivistys");
  f.Ok(&Stub::DefineDimension, define);
  dims = f.Ok(&Stub::ListDimensions, v1::ListDimensionsRequest());
  REQUIRE(dims.dimensions(0).allowed_values_size() == 2);
  REQUIRE(dims.dimensions(0).allowed_values(1) == "200 Sivistys");

  const auto entry = [](const std::string& id, const std::string& cost_centre) {
    return EntryRequest(id, "2026-01-10",
                        {Line(kBank, 100, {{"cost_centre", cost_centre}}), Line(kSales, -100)});
  };
  f.Post(entry("cc-1", "200 Sivistys"));
  RequireStatus(f.TryPost(entry("cc-2", "300")), grpc::INVALID_ARGUMENT,
                "entry.lines[0].dimensions[cost_centre]");

  // Redefining with no list allows any value again.
  define.set_request_id("define-2");
  define.mutable_dimension()->clear_allowed_values();
  f.Ok(&Stub::DefineDimension, define);
  REQUIRE(f.Post(entry("cc-2", "300")).entry().sequence() == 2);

  define.set_request_id("define-vat");
  define.mutable_dimension()->set_key("vat_code");
  define.mutable_dimension()->add_allowed_values("25.5");
  f.Ok(&Stub::DefineDimension, define);
  REQUIRE(f.Ok(&Stub::ListDimensions, v1::ListDimensionsRequest()).dimensions_size() == 4);
  REQUIRE(f.Post(EntryRequest("vat", "2026-01-11",
                              {Line(kBank, 100, {{"vat_code", "25.5"}, {"cost_centre", "100"}}),
                               Line(kSales, -100)}))
              .entry()
              .lines(0)
              .dimensions_size() == 2);
}

TEST_CASE("free text round-trips exactly and stays covered by the hash", "[ledger][pg]") {
  LedgerFixture f;
  f.SetUpTenant("a");
  v1::PostEntryRequest req = EntryRequest(
      "text-1", "2026-01-11",
      {Line(kBank, 5, {{"project", "a\"b\\c{d},e NULL ä€"}}, "", "t \"q\" \\ {x,y} NULL"),
       Line(kSales, -5, {}, "", "")},
      "He said \"hi\" \\ {a,b} NULL Ääkköset € 'quoted'");
  req.mutable_entry()->mutable_source()->set_reference("ref,with\"quote\\ and } brace");
  v1::Entry posted = f.Post(req).entry();
  v1::Entry stored = f.Get(posted.sequence());
  INFO(stored.ShortDebugString());
  REQUIRE(MessageDifferencer::Equals(stored, posted));
  REQUIRE(stored.description() == req.entry().description());
  REQUIRE(stored.source().reference() == req.entry().source().reference());
  REQUIRE(stored.lines(0).dimensions().at("project") == "a\"b\\c{d},e NULL ä€");
  // The same request is recognised as a replay after the round trip.
  REQUIRE(f.Post(req).replayed());
  REQUIRE(f.Verify().ok());
}

// --- more concurrency, volume, shutdown ----------------------------------------------------------

TEST_CASE("tenants posting at the same time share group commits but keep their own chains",
          "[ledger][pg]") {
  LedgerFixture f;
  const std::vector<std::string> tenants = {"a", "b", "c"};
  for (const std::string& t : tenants) {
    f.SetUpTenant(t);
  }
  constexpr int kThreadsPerTenant = 8;
  constexpr int kPerThread = 10;
  std::vector<int64_t> sums(tenants.size() * kThreadsPerTenant, 0);
  std::vector<int> failures(sums.size(), 0);
  std::latch start(static_cast<std::ptrdiff_t>(sums.size()));
  std::vector<std::thread> threads;
  for (size_t k = 0; k < sums.size(); ++k) {
    threads.emplace_back([&, k] {
      const std::string& tenant = tenants[k % tenants.size()];
      start.arrive_and_wait();
      for (int i = 0; i < kPerThread; ++i) {
        int64_t cents = 1 + static_cast<int64_t>(k) * 100 + i;
        v1::PostEntryResponse resp;
        // Every tenant uses the same request ids: they must not collide.
        grpc::Status status =
            f.Call(&Stub::PostEntry,
                   Sale(absl::StrCat("mt-", k / tenants.size(), "-", i), "2026-03-03", cents),
                   &resp, {.tenant = tenant});
        if (status.ok() && !resp.replayed()) {
          sums[k] += cents;
        } else {
          ++failures[k];
        }
      }
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  for (size_t ti = 0; ti < tenants.size(); ++ti) {
    const std::string& tenant = tenants[ti];
    INFO("tenant " << tenant);
    int64_t expected = 0;
    for (size_t k = ti; k < sums.size(); k += tenants.size()) {
      REQUIRE(failures[k] == 0);
      expected += sums[k];
    }
    JournalState state = f.State(tenant);
    REQUIRE(state.sequences == OneTo(kThreadsPerTenant * kPerThread));
    REQUIRE(state.chain_ok);
    REQUIRE(f.Balance(kBank, "2026-12-31", tenant).balance().amount_minor() == expected);
  }
}

TEST_CASE("a large import verifies and streams across fetch chunks", "[ledger][pg]") {
  LedgerFixture f;
  f.SetUpTenant("a");
  constexpr int kEntries = 2500;  // more than one VerifyChain chunk (2000) and watch batch (500)
  std::vector<v1::PostEntryRequest> entries;
  int64_t total = 0;
  for (int i = 0; i < kEntries; ++i) {
    entries.push_back(Sale(absl::StrCat("big-", i), "2026-02-01", i + 1));
    total += i + 1;
  }
  v1::PostEntriesResponse resp;
  REQUIRE(Stream(f, {Batch("big", entries)}, &resp).ok());
  REQUIRE(resp.entries_posted() == kEntries);
  REQUIRE(resp.lines_posted() == 2 * kEntries);
  REQUIRE(resp.last_sequence() == kEntries);
  REQUIRE(f.Balance(kBank, "2026-02-01").balance().amount_minor() == total);
  v1::VerifyChainResponse chain = f.Verify();
  REQUIRE(chain.ok());
  REQUIRE(chain.entries_checked() == kEntries);

  grpc::ClientContext ctx;
  PrepareContext(&ctx, {});
  v1::WatchEntriesRequest watch;
  watch.set_after_sequence(10);
  auto reader = f.stub->WatchEntries(&ctx, watch);
  v1::Entry e;
  int64_t expected = 11;
  while (expected <= kEntries && reader->Read(&e)) {
    if (e.sequence() != expected) {
      break;
    }
    ++expected;
  }
  REQUIRE(expected == kEntries + 1);
  ctx.TryCancel();
  while (reader->Read(&e)) {
  }
  reader->Finish();
}

TEST_CASE("a streamed batch over the size limit ends the import, earlier batches stay",
          "[ledger][pg]") {
  LedgerFixture f({.max_bulk_batch_entries = 3});
  f.SetUpTenant("a");
  v1::PostEntriesResponse resp;
  grpc::Status status =
      Stream(f,
             {Batch("ok", {Sale("lim-0", "2026-01-02", 1), Sale("lim-1", "2026-01-02", 2)}),
              Batch("too-big", {Sale("lim-2", "2026-01-02", 3), Sale("lim-3", "2026-01-02", 4),
                                Sale("lim-4", "2026-01-02", 5), Sale("lim-5", "2026-01-02", 6)})},
             &resp);
  RequireStatus(status, grpc::INVALID_ARGUMENT, "entries");
  REQUIRE(f.State().sequences == OneTo(2));
}

TEST_CASE(
    "a streamed batch without a valid request id ends the import naming it, earlier "
    "batches stay",
    "[ledger][pg]") {
  LedgerFixture f;
  f.SetUpTenant("a");
  for (const std::string& bad : {std::string(), std::string("'; DROP TABLE entries; --"),
                                 std::string(1 << 20, 'x'), std::string("a\0b", 3)}) {
    v1::PostEntriesResponse resp;
    grpc::Status status =
        Stream(f,
               {Batch(absl::StrCat("ok-", bad.size()),
                      {Sale(absl::StrCat("rid-", bad.size()), "2026-01-02", 1)}),
                Batch(bad, {}), Batch("after", {Sale("rid-after", "2026-01-02", 2)})},
               &resp);
    RequireStatus(status, grpc::INVALID_ARGUMENT, "batch 1: request_id");
    REQUIRE(resp.batches_committed() == 0);  // the response of a failed call is not sent
  }
  REQUIRE(f.State().sequences == OneTo(4));
}

TEST_CASE("shutdown ends an open change feed with UNAVAILABLE", "[ledger][pg]") {
  LedgerFixture f;
  f.SetUpTenant("a");
  f.Post(Sale("s-1", "2026-01-02", 1));
  grpc::ClientContext ctx;
  PrepareContext(&ctx, {});
  auto reader = f.stub->WatchEntries(&ctx, v1::WatchEntriesRequest());
  v1::Entry e;
  REQUIRE(reader->Read(&e));
  REQUIRE(e.sequence() == 1);
  f.service.BeginShutdown();
  REQUIRE_FALSE(reader->Read(&e));
  REQUIRE(reader->Finish().error_code() == grpc::StatusCode::UNAVAILABLE);
}

TEST_CASE("concurrent reference-data and reversal requests resolve to one winner", "[ledger][pg]") {
  LedgerFixture f;
  f.SetUpTenant("a");
  constexpr int kThreads = 8;
  auto concurrently = [](int n, const std::function<grpc::Status(int)>& call) {
    std::vector<grpc::Status> statuses(n);
    std::latch start(n);
    std::vector<std::thread> threads;
    for (int i = 0; i < n; ++i) {
      threads.emplace_back([&, i] {
        start.arrive_and_wait();
        statuses[i] = call(i);
      });
    }
    for (std::thread& t : threads) {
      t.join();
    }
    return statuses;
  };
  auto count_ok = [](const std::vector<grpc::Status>& statuses) {
    return std::count_if(statuses.begin(), statuses.end(),
                         [](const grpc::Status& s) { return s.ok(); });
  };

  // One CreateAccount request sent eight times: all get the same answer.
  std::vector<v1::Account> created(kThreads);
  std::vector<grpc::Status> statuses = concurrently(kThreads, [&](int i) {
    v1::CreateAccountRequest req;
    req.set_request_id("same-create");
    req.mutable_account()->set_number("4810");
    req.mutable_account()->set_name("Koulutus");
    req.mutable_account()->set_type(v1::ACCOUNT_TYPE_EXPENSE);
    return f.Call(&Stub::CreateAccount, req, &created[i]);
  });
  REQUIRE(count_ok(statuses) == kThreads);
  for (const v1::Account& a : created) {
    REQUIRE(a.number() == "4810");
  }
  // Eight requests for one number: one creates it, the others are told it exists.
  statuses = concurrently(kThreads, [&](int i) {
    v1::CreateAccountRequest req;
    req.set_request_id(absl::StrCat("create-", i));
    req.mutable_account()->set_number("4820");
    req.mutable_account()->set_name(absl::StrCat("Tili ", i));
    req.mutable_account()->set_type(v1::ACCOUNT_TYPE_EXPENSE);
    v1::Account resp;
    return f.Call(&Stub::CreateAccount, req, &resp);
  });
  REQUIRE(count_ok(statuses) == 1);
  for (const grpc::Status& s : statuses) {
    if (!s.ok()) {
      RequireStatus(s, grpc::ALREADY_EXISTS, "account.number");
    }
  }
  // Eight reversals of one entry: exactly one is posted.
  const int64_t original = f.Post(Sale("to-reverse", "2026-01-10", 100)).entry().sequence();
  statuses = concurrently(kThreads, [&](int i) {
    v1::ReverseEntryRequest req;
    req.set_request_id(absl::StrCat("reverse-", i));
    req.set_sequence(original);
    v1::PostEntryResponse resp;
    return f.Call(&Stub::ReverseEntry, req, &resp);
  });
  REQUIRE(count_ok(statuses) == 1);
  for (const grpc::Status& s : statuses) {
    if (!s.ok()) {
      RequireStatus(s, grpc::FAILED_PRECONDITION, "sequence");
    }
  }
  REQUIRE(f.Get(original).reversed_by_sequence() == original + 1);
  JournalState state = f.State();
  REQUIRE(state.sequences == OneTo(2));
  REQUIRE(state.chain_ok);
}

TEST_CASE("change feeds cancelled at any point leave the server healthy", "[ledger][pg]") {
  LedgerFixture f({.watch_poll_interval = absl::Milliseconds(5), .watch_batch = 1});
  f.SetUpTenant("a");
  for (int i = 1; i <= 3; ++i) {
    f.Post(Sale(absl::StrCat("c-", i), "2026-01-10", i));
  }
  constexpr int kStreams = 24;
  std::vector<std::thread> threads;
  std::vector<int> read_counts(kStreams, -1);
  for (int k = 0; k < kStreams; ++k) {
    threads.emplace_back([&, k] {
      grpc::ClientContext ctx;
      PrepareContext(&ctx, {});
      auto reader = f.stub->WatchEntries(&ctx, v1::WatchEntriesRequest());
      // Cancel before reading, mid-stream, or while idle waiting for new entries.
      const int reads = k % 4;
      int n = 0;
      v1::Entry e;
      while (n < reads && reader->Read(&e)) {
        ++n;
      }
      if (k % 4 == 3) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20 + k));
      }
      ctx.TryCancel();
      while (reader->Read(&e)) {
      }
      reader->Finish();
      read_counts[k] = n;
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  for (int k = 0; k < kStreams; ++k) {
    REQUIRE(read_counts[k] == k % 4);
  }
  // Still serving, and new posts still reach a new feed.
  f.Post(Sale("c-4", "2026-01-10", 4));
  grpc::ClientContext ctx;
  PrepareContext(&ctx, {});
  v1::WatchEntriesRequest req;
  req.set_after_sequence(3);
  auto reader = f.stub->WatchEntries(&ctx, req);
  v1::Entry e;
  REQUIRE(reader->Read(&e));
  REQUIRE(e.request_id() == "c-4");
  ctx.TryCancel();
  while (reader->Read(&e)) {
  }
  reader->Finish();
}

// --- regressions: defects found by these tests and fixed ---------------------------------------

// A SELECT ... FOR UPDATE locks nothing while the period row does not exist yet: concurrent
// openers must not surface a raw unique violation.
TEST_CASE("concurrent OpenPeriod of one period all succeed as sequential ones do", "[ledger][pg]") {
  LedgerFixture f;
  constexpr int kRounds = 10;
  constexpr int kThreads = 8;
  int refused = 0;
  std::string example;
  for (int round = 0; round < kRounds; ++round) {
    const std::string period = absl::StrCat("2027-", round < 9 ? "0" : "", round + 1);
    std::vector<grpc::Status> statuses(kThreads);
    std::latch start(kThreads);
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i) {
      threads.emplace_back([&, i] {
        v1::OpenPeriodRequest req;
        req.set_request_id(absl::StrCat("open-", round, "-", i));
        req.set_period(period);
        v1::Period resp;
        start.arrive_and_wait();
        statuses[i] = f.Call(&Stub::OpenPeriod, req, &resp);
      });
    }
    for (std::thread& t : threads) {
      t.join();
    }
    for (const grpc::Status& s : statuses) {
      if (!s.ok()) {
        ++refused;
        example = CodeString(s.error_code()) + ": " + s.error_message();
      }
    }
  }
  INFO("example: " << example);
  CHECK(refused == 0);
  // Sequentially, opening an open period is fine.
  v1::OpenPeriodRequest again;
  again.set_request_id("open-again");
  again.set_period("2027-01");
  REQUIRE(f.Ok(&Stub::OpenPeriod, again).status() == v1::PERIOD_STATUS_OPEN);
}

// Unbounded line amounts once let SQL's sums overflow ("bigint out of range") and made
// ReversalDraft negate INT64_MIN.
TEST_CASE("extreme amounts never break balances or reversals", "[ledger][pg]") {
  LedgerFixture f;
  f.SetUpTenant("a");
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  // Balances per currency without overflowing: MIN + MAX + 1 == 0.
  v1::PostEntryResponse posted;
  grpc::Status status = f.Call(
      &Stub::PostEntry,
      EntryRequest("huge", "2026-01-10", {Line(kBank, kMin), Line(kSales, kMax), Line(kSales, 1)}),
      &posted);
  INFO("post: " << CodeString(status.error_code()) << ": " << status.error_message());
  if (!status.ok()) {
    // Refusing it is fine, naming the amount.
    RequireStatus(status, grpc::INVALID_ARGUMENT, "entry.lines[0].amount.amount_minor");
  } else {
    // Accepting it obliges the ledger to report on it and to reverse it.
    v1::GetAccountBalanceRequest balance;
    balance.set_account(kBank);
    balance.set_as_of_date("2026-12-31");
    v1::GetAccountBalanceResponse b;
    status = f.Call(&Stub::GetAccountBalance, balance, &b);
    INFO("balance: " << CodeString(status.error_code()) << ": " << status.error_message());
    CHECK(status.ok());
    v1::GetTrialBalanceRequest trial;
    trial.set_period("2026-01");
    v1::GetTrialBalanceResponse tb;
    status = f.Call(&Stub::GetTrialBalance, trial, &tb);
    INFO("trial balance: " << CodeString(status.error_code()) << ": " << status.error_message());
    CHECK(status.ok());
    v1::ReverseEntryRequest reverse;
    reverse.set_request_id("huge-reversal");
    reverse.set_sequence(posted.entry().sequence());
    status = f.Call(&Stub::ReverseEntry, reverse, &posted);
    INFO("reversal: " << CodeString(status.error_code()) << ": " << status.error_message());
    CHECK(status.ok());
  }
}

// The chain head once was read after the entries, so a post committing during the check looked
// like a truncated journal.
TEST_CASE("VerifyChain stays ok while entries are being posted", "[ledger][pg]") {
  LedgerFixture f;
  f.SetUpTenant("a");
  std::atomic<bool> done{false};
  std::atomic<int> failed{0};
  std::thread poster([&] {  // no Catch assertions off the main thread
    for (int i = 0; i < 150; ++i) {
      if (!f.TryPost(Sale(absl::StrCat("busy-", i), "2026-01-10", 100 + i)).ok()) {
        ++failed;
      }
    }
    done = true;
  });
  int checks = 0;
  while (!done || checks < 5) {
    v1::VerifyChainResponse chain = f.Ok(&Stub::VerifyChain, v1::VerifyChainRequest());
    INFO(chain.problem());
    REQUIRE(chain.ok());
    ++checks;
  }
  poster.join();
  REQUIRE(failed == 0);
  REQUIRE(f.Ok(&Stub::VerifyChain, v1::VerifyChainRequest()).entries_checked() == 150);
}

// libpq parameters are C strings: a NUL would cut the text (silently for single values, as a
// malformed array literal for the group insert).
TEST_CASE("control characters in free text are refused naming the field", "[ledger][pg]") {
  LedgerFixture f;
  f.SetUpTenant("a");
  v1::PostEntryRequest req = Sale("nul-1", "2026-01-10", 100);
  req.mutable_entry()->set_description(std::string("before\0after", 12));
  grpc::Status status = f.TryPost(req);
  CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK_THAT(status.error_message(), StartsWith("entry.description:"));

  req = Sale("nul-2", "2026-01-10", 100);
  req.mutable_entry()->mutable_lines(0)->set_text(std::string("a\0b", 3));
  status = f.TryPost(req);
  CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK_THAT(status.error_message(), StartsWith("entry.lines[0].text:"));

  v1::CreateAccountRequest create;
  create.set_request_id("nul-account");
  create.mutable_account()->set_number("4811");
  create.mutable_account()->set_name(std::string("ab\0cd", 5));
  create.mutable_account()->set_type(v1::ACCOUNT_TYPE_EXPENSE);
  v1::Account created;
  status = f.Call(&Stub::CreateAccount, create, &created);
  if (status.ok()) {
    // If accepted, what is stored must be what the response said.
    v1::ListAccountsResponse accounts = f.Ok(&Stub::ListAccounts, v1::ListAccountsRequest());
    REQUIRE(accounts.accounts_size() > 0);
    std::string stored_name;
    for (const v1::Account& a : accounts.accounts()) {
      if (a.number() == "4811") {
        stored_name = a.name();
      }
    }
    CHECK(stored_name == created.name());
  }
  CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK_THAT(status.error_message(), StartsWith("account.name:"));
  REQUIRE(f.State().sequences.empty());
}

}  // namespace
}  // namespace tahe::ledger

namespace tahe::ledger {
namespace {

TEST_CASE("DescribeTenantData tells whether a tenant has ledger data, for that tenant only",
          "[ledger][pg]") {
  LedgerFixture f;
  auto stub = tahe::tenancy::v1::TenantDataService::NewStub(f.channel);
  auto describe = [&](const Caller& caller, tahe::tenancy::v1::DescribeTenantDataResponse* out) {
    grpc::ClientContext ctx;
    PrepareContext(&ctx, caller);
    return stub->DescribeTenantData(&ctx, {}, out);
  };
  tahe::tenancy::v1::DescribeTenantDataResponse resp;
  REQUIRE(describe({.tenant = "a"}, &resp).ok());
  CHECK_FALSE(resp.has_data());
  CHECK(resp.service() == "tahe.ledger.v1.LedgerService");
  CHECK(resp.summary() == "0 accounts, 0 dimensions, 0 periods, 0 entries");

  f.SetUpTenant("a");
  REQUIRE(describe({.tenant = "a"}, &resp).ok());
  CHECK(resp.has_data());
  CHECK_THAT(resp.summary(), Catch::Matchers::Contains("3 periods, 0 entries"));
  REQUIRE(describe({.tenant = "b"}, &resp).ok());
  CHECK_FALSE(resp.has_data());

  // Like every ledger call: the internal credential and a tenant are required.
  CHECK(describe({.tenant = "a", .token = ""}, &resp).error_code() ==
        grpc::StatusCode::UNAUTHENTICATED);
  CHECK(describe({.tenant = ""}, &resp).error_code() == grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_CASE("ListFeedTenants lists the organisations with entries for internal callers",
          "[ledger][pg]") {
  LedgerFixture f;
  auto list = [&](const Caller& caller, v1::ListFeedTenantsResponse* out) {
    grpc::ClientContext ctx;
    PrepareContext(&ctx, caller);
    return f.stub->ListFeedTenants(&ctx, v1::ListFeedTenantsRequest(), out);
  };
  v1::ListFeedTenantsResponse resp;
  REQUIRE(list({.tenant = ""}, &resp).ok());
  CHECK(resp.tenants_size() == 0);

  f.SetUpTenant("a");
  f.SetUpTenant("b");
  f.SetUpTenant("c");  // accounts and periods but no entries: not listed
  f.Post(Sale("s1", "2026-01-10", 100), "a");
  f.Post(Sale("s2", "2026-01-11", 200), "a");
  v1::Entry last_b = f.Post(Sale("s1", "2026-02-01", 300), "b").entry();

  // No tenant needed; with one, the answer is the same (the whole cell).
  for (const std::string& tenant : {std::string(""), std::string("a")}) {
    REQUIRE(list({.tenant = tenant}, &resp).ok());
    REQUIRE(resp.tenants_size() == 2);
    CHECK(resp.tenants(0).tenant() == "a");
    CHECK(resp.tenants(0).last_sequence() == 2);
    CHECK(resp.tenants(0).last_posted_at() == f.Get(2, "a").posted_at());
    CHECK(resp.tenants(1).tenant() == "b");
    CHECK(resp.tenants(1).last_sequence() == 1);
    CHECK(resp.tenants(1).last_posted_at() == last_b.posted_at());
  }

  // The credential is still required.
  CHECK(list({.tenant = "", .token = ""}, &resp).error_code() == grpc::StatusCode::UNAUTHENTICATED);

  // The application role reads the directory only through the function: its own queries stay
  // confined to the transaction's tenant.
  pqxx::connection conn(f.db.app_conninfo());
  pqxx::work tx(conn);
  CHECK(tx.exec1("SELECT count(*) FROM chain_heads")[0].as<int>() == 0);
  CHECK(tx.exec1("SELECT count(*) FROM ledger_feed_tenants()")[0].as<int>() == 2);
  tx.exec("SELECT set_config('tahe.tenant', 'a', true)");
  CHECK(tx.exec1("SELECT count(*) FROM entries")[0].as<int>() == 2);
}

}  // namespace
}  // namespace tahe::ledger
