// Tests of the generic proxy. Most run the real ledger (a fresh TestDatabase, the real service and
// server on 127.0.0.1:0, as in services/ledger/ledger_service_test.cc) behind a gateway server on
// 127.0.0.1:0 that serves only the ProxyService, with a test router standing in for the real one:
// it takes the organisation from a test header `x-test-org` and sets the trusted metadata itself.
// Clients use the generated ledger stub against the gateway's address.
//
// A recording echo backend (a generic service that records what it receives and echoes every
// message) covers what the ledger cannot show: bidi streaming, the exact upstream metadata and
// deadline, and trailers relayed unchanged.

#include "services/gateway/proxy.h"

#include <arpa/inet.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <prometheus/registry.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "libs/metrics/grpc_metrics.h"
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

namespace tahe::gateway {
namespace {

using metrics::CounterSum;

namespace ledger_v1 = ::tahe::ledger::v1;
using LedgerStub = ledger_v1::LedgerService::Stub;
using grpc::ByteBuffer;

constexpr char kToken[] = "gateway-proxy-test-internal-token";
constexpr char kOrgHeader[] = "x-test-org";  // the test router's stand-in for an API key
constexpr int kPoolSize = 8;
constexpr char kBank[] = "1910";
constexpr char kSales[] = "3000";

std::string CodeString(grpc::StatusCode code) {
  return CodeName(static_cast<absl::StatusCode>(code));
}

#define REQUIRE_CODE(status, code)                                             \
  do {                                                                         \
    const grpc::Status& s_ = (status);                                         \
    INFO("got " << CodeString(s_.error_code()) << ": " << s_.error_message()); \
    REQUIRE(CodeString(s_.error_code()) == CodeString(code));                  \
  } while (false)

std::chrono::system_clock::time_point In(std::chrono::milliseconds d) {
  return std::chrono::system_clock::now() + d;
}

// Waits up to `timeout` for `done`; true if it happened.
bool Eventually(const std::function<bool()>& done, absl::Duration timeout = absl::Seconds(5)) {
  const absl::Time end = absl::Now() + timeout;
  while (absl::Now() < end) {
    if (done()) {
      return true;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  return done();
}

std::string ToString(const ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  REQUIRE(buffer.Dump(&slices).ok());
  std::string out;
  for (const grpc::Slice& s : slices) {
    out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return out;
}

ByteBuffer ToBuffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return ByteBuffer(&slice, 1);
}

std::multimap<std::string, std::string> Copy(
    const std::multimap<grpc::string_ref, grpc::string_ref>& md) {
  std::multimap<std::string, std::string> out;
  for (const auto& [k, v] : md) {
    out.emplace(std::string(k.data(), k.size()), std::string(v.data(), v.size()));
  }
  return out;
}

// A loopback port nothing listens on (bound, then closed).
int UnusedPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  close(fd);
  return ntohs(addr.sin_port);
}

// --- the gateway under test ----------------------------------------------------------------------

// A server whose only service is the proxy (plus gRPC's default health service, which must be
// answered by the gateway itself, not proxied).
class Gateway {
 public:
  explicit Gateway(Router router) : proxy_(std::move(router)) {
    server::DisableMutexDeadlockDetection();
    grpc::EnableDefaultHealthCheckService(true);
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.SetMaxReceiveMessageSize(64 << 20);
    proxy_.AddTo(builder);
    server_ = builder.BuildAndStart();
    REQUIRE(server_ != nullptr);
    REQUIRE(port_ > 0);
    proxy_.Start();
  }
  ~Gateway() {
    server_->Shutdown(In(std::chrono::seconds(5)));
    proxy_.Stop();
    server_->Wait();
  }

  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }
  std::shared_ptr<grpc::Channel> NewChannel() const {
    return grpc::CreateChannel(address(), grpc::InsecureChannelCredentials());
  }

 private:
  ProxyService proxy_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

// The test router: organisation from `x-test-org` (UNAUTHENTICATED without it), upstream and
// trusted metadata as configured.
struct TestRouter {
  std::shared_ptr<grpc::Channel> upstream;
  std::atomic<bool> send_token{true};
  std::atomic<int> calls{0};

  RouteDecision Route(const grpc::GenericServerContext& ctx) {
    ++calls;
    auto org = ctx.client_metadata().find(kOrgHeader);
    if (org == ctx.client_metadata().end()) {
      return {.status = absl::UnauthenticatedError("test router: no x-test-org")};
    }
    RouteDecision decision{.status = absl::OkStatus(), .upstream = upstream};
    decision.metadata.emplace_back(server::kTenantHeader,
                                   std::string(org->second.data(), org->second.size()));
    decision.metadata.emplace_back(server::kRequestIdHeader, "proxy-test");
    if (send_token) {
      decision.metadata.emplace_back(server::kInternalTokenHeader, kToken);
    }
    return decision;
  }
  Router AsRouter() {
    return [this](const grpc::GenericServerContext& ctx) { return Route(ctx); };
  }
};

// --- the real ledger behind it -------------------------------------------------------------------

std::unique_ptr<pg::Pool> AppPool(const testing::TestDatabase& db, prometheus::Registry* registry) {
  auto pool = pg::Pool::Create({.conninfo = db.app_conninfo(), .size = kPoolSize, .name = "ledger"},
                               registry);
  if (!pool.ok()) {
    throw std::runtime_error(pool.status().ToString());
  }
  return *std::move(pool);
}

// The ledger wired as in main.cc, its upstream channel made the way the real router makes them
// (metered: grpc_client_* on `gateway_registry`), and the gateway in front.
struct LedgerBehindGateway {
  LedgerBehindGateway() : service(&repository, &committer, {&auth, &workers}, {}) {
    auto started = server::GrpcServer::Start(
        {.listen = "127.0.0.1:0", .services = {&service}, .metrics = &ledger_registry});
    REQUIRE(started.ok());
    ledger_server = *std::move(started);
    router.upstream = metrics::CreateMeteredChannel(
        ledger_server->address(), grpc::InsecureChannelCredentials(), gateway_registry);
    gateway = std::make_unique<Gateway>(router.AsRouter());
    stub = ledger_v1::LedgerService::NewStub(gateway->NewChannel());
    direct = ledger_v1::LedgerService::NewStub(
        grpc::CreateChannel(ledger_server->address(), grpc::InsecureChannelCredentials()));
  }
  ~LedgerBehindGateway() {
    gateway.reset();
    service.BeginShutdown();
    ledger_server->Shutdown(absl::Seconds(5));
    committer.Stop();
    workers.Drain();
  }

  // A client context for the gateway: the organisation header and a 10 s deadline.
  static void ViaGateway(grpc::ClientContext* ctx, const std::string& org = "a") {
    ctx->set_deadline(In(std::chrono::seconds(10)));
    ctx->AddMetadata(kOrgHeader, org);
  }
  // A trusted caller straight to the ledger (to check what the gateway did).
  static void Direct(grpc::ClientContext* ctx, const std::string& tenant = "a") {
    ctx->set_deadline(In(std::chrono::seconds(10)));
    ctx->AddMetadata(server::kInternalTokenHeader, kToken);
    ctx->AddMetadata(server::kTenantHeader, tenant);
  }

  template <typename Req, typename Resp>
  Resp Ok(grpc::Status (LedgerStub::*method)(grpc::ClientContext*, const Req&, Resp*),
          const Req& req, const std::string& org = "a") {
    grpc::ClientContext ctx;
    ViaGateway(&ctx, org);
    Resp resp;
    grpc::Status status = ((*stub).*method)(&ctx, req, &resp);
    REQUIRE_CODE(status, grpc::StatusCode::OK);
    return resp;
  }

  // Through the gateway: the default chart and the period 2026-01.
  void SetUpTenant(const std::string& org) {
    ledger_v1::LoadChartTemplateRequest chart;
    chart.set_request_id("setup-chart");
    REQUIRE(Ok(&LedgerStub::LoadChartTemplate, chart, org).accounts_created() > 0);
    ledger_v1::OpenPeriodRequest open;
    open.set_request_id("setup-open");
    open.set_period("2026-01");
    REQUIRE(Ok(&LedgerStub::OpenPeriod, open, org).status() == ledger_v1::PERIOD_STATUS_OPEN);
  }

  static ledger_v1::PostEntryRequest Sale(const std::string& request_id, int64_t cents,
                                          int64_t credit = 0) {
    ledger_v1::PostEntryRequest req;
    req.set_request_id(request_id);
    ledger_v1::EntryDraft* draft = req.mutable_entry();
    draft->set_entry_date("2026-01-15");
    draft->set_description("proxy test");
    draft->mutable_source()->set_system("manual");
    draft->mutable_source()->set_reference(request_id);
    auto* debit = draft->add_lines();
    debit->set_account(kBank);
    debit->mutable_amount()->set_amount_minor(cents);
    auto* sales = draft->add_lines();
    sales->set_account(kSales);
    sales->mutable_amount()->set_amount_minor(credit == 0 ? -cents : -credit);
    return req;
  }

  static ledger_v1::GetTrialBalanceRequest Everything() {
    ledger_v1::GetTrialBalanceRequest req;
    req.set_as_of_date("2999-12-31");
    return req;
  }

  int64_t DirectTotalDebit(const std::string& tenant) {
    grpc::ClientContext ctx;
    Direct(&ctx, tenant);
    ledger_v1::GetTrialBalanceResponse tb;
    grpc::Status status = direct->GetTrialBalance(&ctx, Everything(), &tb);
    REQUIRE_CODE(status, grpc::StatusCode::OK);
    return tb.total_debit_minor();
  }

  testing::TestDatabase db{ledger::Migrations(), "tahe_ledger_app"};
  prometheus::Registry ledger_registry;   // the ledger's grpc_server_*
  prometheus::Registry gateway_registry;  // the gateway's grpc_client_* (upstream calls)
  std::unique_ptr<pg::Pool> pool = AppPool(db, &ledger_registry);
  ledger::LedgerMetrics metrics{&ledger_registry};
  ledger::LedgerRepository repository{pool.get(), &metrics};
  ledger::GroupCommitter committer{&repository, {.threads = 2, .max_batch = 256}};
  server::Authenticator auth{kToken};
  server::WorkerPool workers{kPoolSize};
  ledger::LedgerService service;
  std::unique_ptr<server::GrpcServer> ledger_server;
  TestRouter router;
  std::unique_ptr<Gateway> gateway;
  std::unique_ptr<LedgerStub> stub;    // through the gateway
  std::unique_ptr<LedgerStub> direct;  // straight to the ledger
};

// --- unary ---------------------------------------------------------------------------------------

TEST_CASE("unary ledger calls through the proxy land in the router's tenant", "[gateway][pg]") {
  LedgerBehindGateway f;
  f.SetUpTenant("a");

  ledger_v1::PostEntryResponse posted = f.Ok(&LedgerStub::PostEntry, f.Sale("sale-1", 12345));
  REQUIRE(posted.entry().sequence() == 1);
  REQUIRE_FALSE(posted.replayed());
  REQUIRE(posted.entry().lines_size() == 2);

  ledger_v1::GetTrialBalanceResponse tb = f.Ok(&LedgerStub::GetTrialBalance, f.Everything());
  REQUIRE(tb.total_debit_minor() == 12345);
  REQUIRE(tb.total_credit_minor() == 12345);
  bool bank_seen = false;
  for (const ledger_v1::TrialBalanceRow& row : tb.rows()) {
    if (row.account() == kBank) {
      bank_seen = true;
      REQUIRE(row.debit_minor() == 12345);
    }
  }
  REQUIRE(bank_seen);

  // The ledger itself agrees, for tenant a only.
  REQUIRE(f.DirectTotalDebit("a") == 12345);
  REQUIRE(f.DirectTotalDebit("b") == 0);
  // One routing decision per call, and every call reached the ledger.
  REQUIRE(f.router.calls == 4);
  REQUIRE(CounterSum(f.ledger_registry, "grpc_server_handled_total",
                     {{"grpc_method", "PostEntry"}, {"grpc_code", "OK"}}) == 1);
  REQUIRE(CounterSum(f.gateway_registry, "grpc_client_handled_total",
                     {{"grpc_method", "PostEntry"}, {"grpc_code", "OK"}}) == 1);
}

TEST_CASE("backend error statuses pass through the proxy unchanged", "[gateway][pg]") {
  LedgerBehindGateway f;
  f.SetUpTenant("a");
  const ledger_v1::PostEntryRequest unbalanced = f.Sale("bad-1", 100, 99);

  grpc::ClientContext via;
  f.ViaGateway(&via);
  ledger_v1::PostEntryResponse resp;
  grpc::Status proxied = f.stub->PostEntry(&via, unbalanced, &resp);

  grpc::ClientContext direct;
  f.Direct(&direct);
  grpc::Status expected = f.direct->PostEntry(&direct, unbalanced, &resp);

  REQUIRE_CODE(expected, grpc::StatusCode::INVALID_ARGUMENT);
  REQUIRE_FALSE(expected.error_message().empty());
  REQUIRE_CODE(proxied, grpc::StatusCode::INVALID_ARGUMENT);
  REQUIRE(proxied.error_message() == expected.error_message());
  REQUIRE(proxied.error_details() == expected.error_details());

  ledger_v1::GetEntryRequest missing;
  missing.set_sequence(999);
  ledger_v1::Entry entry;
  grpc::ClientContext via_get;
  f.ViaGateway(&via_get);
  grpc::Status not_found = f.stub->GetEntry(&via_get, missing, &entry);
  grpc::ClientContext direct_get;
  f.Direct(&direct_get);
  grpc::Status expected_not_found = f.direct->GetEntry(&direct_get, missing, &entry);
  REQUIRE_CODE(expected_not_found, grpc::StatusCode::NOT_FOUND);
  REQUIRE_CODE(not_found, grpc::StatusCode::NOT_FOUND);
  REQUIRE(not_found.error_message() == expected_not_found.error_message());
}

TEST_CASE("concurrent unary calls through one proxy all succeed", "[gateway][pg]") {
  LedgerBehindGateway f;
  f.SetUpTenant("a");
  constexpr int kThreads = 8;
  constexpr int kPerThread = 10;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        grpc::ClientContext ctx;
        f.ViaGateway(&ctx);
        ledger_v1::PostEntryResponse resp;
        if (!f.stub->PostEntry(&ctx, f.Sale(absl::StrCat("c-", t, "-", i), 100 + t), &resp).ok()) {
          ++failures;
        }
      }
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  REQUIRE(failures == 0);
  int64_t expected = 0;
  for (int t = 0; t < kThreads; ++t) {
    expected += kPerThread * (100 + t);
  }
  REQUIRE(f.Ok(&LedgerStub::GetTrialBalance, f.Everything()).total_debit_minor() == expected);
}

// --- streaming -----------------------------------------------------------------------------------

TEST_CASE("client-streaming PostEntries works through the proxy", "[gateway][pg]") {
  LedgerBehindGateway f;
  f.SetUpTenant("a");
  grpc::ClientContext ctx;
  f.ViaGateway(&ctx);
  ledger_v1::PostEntriesResponse resp;
  auto writer = f.stub->PostEntries(&ctx, &resp);
  int64_t cents = 0;
  for (int batch = 0; batch < 3; ++batch) {
    ledger_v1::PostEntriesRequest req;
    req.set_request_id(absl::StrCat("batch-", batch));
    for (int i = 0; i < 2; ++i) {
      const int64_t amount = 1000 * (batch + 1) + i;
      cents += amount;
      *req.add_entries() = f.Sale(absl::StrCat("bulk-", batch, "-", i), amount);
    }
    REQUIRE(writer->Write(req));
  }
  REQUIRE(writer->WritesDone());
  REQUIRE_CODE(writer->Finish(), grpc::StatusCode::OK);
  REQUIRE(resp.batches_committed() == 3);
  REQUIRE(resp.batches_rejected() == 0);
  REQUIRE(resp.entries_posted() == 6);
  REQUIRE(resp.first_sequence() == 1);
  REQUIRE(resp.last_sequence() == 6);
  REQUIRE(f.DirectTotalDebit("a") == cents);
}

TEST_CASE(
    "server-streaming WatchEntries works through the proxy and a client cancel cancels "
    "the upstream call",
    "[gateway][pg]") {
  LedgerBehindGateway f;
  f.SetUpTenant("a");
  for (int i = 1; i <= 3; ++i) {
    f.Ok(&LedgerStub::PostEntry, f.Sale(absl::StrCat("w-", i), 100 * i));
  }

  grpc::ClientContext ctx;
  f.ViaGateway(&ctx);
  ledger_v1::WatchEntriesRequest req;
  req.set_after_sequence(0);
  auto reader = f.stub->WatchEntries(&ctx, req);
  ledger_v1::Entry e;
  for (int i = 1; i <= 3; ++i) {
    REQUIRE(reader->Read(&e));
    REQUIRE(e.sequence() == i);
    REQUIRE(e.request_id() == absl::StrCat("w-", i));
  }
  // Posted while the stream is open and idle: it arrives through the proxy.
  f.Ok(&LedgerStub::PostEntry, f.Sale("w-4", 400));
  REQUIRE(reader->Read(&e));
  REQUIRE(e.sequence() == 4);

  const absl::Time cancelled_at = absl::Now();
  ctx.TryCancel();
  while (reader->Read(&e)) {
  }
  REQUIRE_CODE(reader->Finish(), grpc::StatusCode::CANCELLED);
  // The upstream call ended as cancelled, promptly (its deadline was 10 s away), and the ledger
  // finished its side of the feed.
  REQUIRE(Eventually([&] {
    return CounterSum(f.gateway_registry, "grpc_client_handled_total",
                      {{"grpc_method", "WatchEntries"}, {"grpc_code", "Canceled"}}) == 1;
  }));
  REQUIRE(absl::Now() - cancelled_at < absl::Seconds(5));
  REQUIRE(Eventually([&] {
    return CounterSum(f.ledger_registry, "grpc_server_handled_total",
                      {{"grpc_method", "WatchEntries"}}) == 1;
  }));
}

// --- trust boundary ------------------------------------------------------------------------------

TEST_CASE("a router refusal is returned as is and never reaches the backend", "[gateway][pg]") {
  LedgerBehindGateway f;
  grpc::ClientContext ctx;  // no x-test-org
  ctx.set_deadline(In(std::chrono::seconds(10)));
  ctx.AddMetadata(server::kInternalTokenHeader, kToken);
  ctx.AddMetadata(server::kTenantHeader, "a");
  ledger_v1::GetTrialBalanceResponse tb;
  grpc::Status status = f.stub->GetTrialBalance(&ctx, f.Everything(), &tb);
  REQUIRE_CODE(status, grpc::StatusCode::UNAUTHENTICATED);
  REQUIRE(status.error_message() == "test router: no x-test-org");
  REQUIRE(f.router.calls == 1);
  REQUIRE(CounterSum(f.ledger_registry, "grpc_server_started_total") == 0);
  REQUIRE(CounterSum(f.gateway_registry, "grpc_client_started_total") == 0);
}

TEST_CASE("client-sent tenant and internal token are not forwarded", "[gateway][pg]") {
  LedgerBehindGateway f;
  f.SetUpTenant("a");

  SECTION("a router that sets no token: the ledger refuses, whatever token the client sent") {
    f.router.send_token = false;
    grpc::ClientContext ctx;
    f.ViaGateway(&ctx);
    ctx.AddMetadata(server::kInternalTokenHeader, kToken);
    ctx.AddMetadata(server::kTenantHeader, "a");
    ledger_v1::GetTrialBalanceResponse tb;
    grpc::Status status = f.stub->GetTrialBalance(&ctx, f.Everything(), &tb);
    REQUIRE_CODE(status, grpc::StatusCode::UNAUTHENTICATED);
    // It was the ledger that said so.
    REQUIRE(CounterSum(f.ledger_registry, "grpc_server_handled_total",
                       {{"grpc_method", "GetTrialBalance"}, {"grpc_code", "Unauthenticated"}}) ==
            1);
  }

  SECTION("a client-sent tenant does not override the router's") {
    grpc::ClientContext ctx;
    f.ViaGateway(&ctx, "a");
    ctx.AddMetadata(server::kTenantHeader, "b");
    ledger_v1::PostEntryResponse resp;
    REQUIRE_CODE(f.stub->PostEntry(&ctx, f.Sale("spoof-1", 777), &resp), grpc::StatusCode::OK);
    REQUIRE(f.DirectTotalDebit("a") == 777);
    REQUIRE(f.DirectTotalDebit("b") == 0);
  }
}

// --- deadlines and failures ----------------------------------------------------------------------

TEST_CASE("the client's deadline ends a proxied WatchEntries with DEADLINE_EXCEEDED",
          "[gateway][pg]") {
  LedgerBehindGateway f;
  f.SetUpTenant("a");
  grpc::ClientContext ctx;
  ctx.AddMetadata(kOrgHeader, "a");
  ctx.set_deadline(In(std::chrono::milliseconds(500)));
  const absl::Time start = absl::Now();
  ledger_v1::WatchEntriesRequest req;
  auto reader = f.stub->WatchEntries(&ctx, req);
  ledger_v1::Entry e;
  REQUIRE_FALSE(reader->Read(&e));
  REQUIRE_CODE(reader->Finish(), grpc::StatusCode::DEADLINE_EXCEEDED);
  const absl::Duration took = absl::Now() - start;
  REQUIRE(took >= absl::Milliseconds(400));
  REQUIRE(took < absl::Seconds(3));
  // The upstream call did not outlive it.
  REQUIRE(Eventually([&] {
    return CounterSum(f.gateway_registry, "grpc_client_handled_total",
                      {{"grpc_method", "WatchEntries"}}) == 1;
  }));
}

TEST_CASE("an upstream with nothing listening gives UNAVAILABLE quickly", "[gateway]") {
  TestRouter router;
  router.upstream = grpc::CreateChannel(absl::StrCat("127.0.0.1:", UnusedPort()),
                                        grpc::InsecureChannelCredentials());
  Gateway gateway(router.AsRouter());
  auto stub = ledger_v1::LedgerService::NewStub(gateway.NewChannel());
  for (int attempt = 0; attempt < 2; ++attempt) {  // a fresh channel, then a failed one
    grpc::ClientContext ctx;
    ctx.AddMetadata(kOrgHeader, "a");
    ctx.set_deadline(In(std::chrono::seconds(5)));
    const absl::Time start = absl::Now();
    ledger_v1::GetTrialBalanceResponse tb;
    grpc::Status status = stub->GetTrialBalance(&ctx, ledger_v1::GetTrialBalanceRequest(), &tb);
    REQUIRE_CODE(status, grpc::StatusCode::UNAVAILABLE);
    REQUIRE(absl::Now() - start < absl::Seconds(2));
  }
}

// --- a recording echo backend: bidi, exact metadata, trailers ------------------------------------

constexpr char kFinishNow[] = "finish-now";

// Echoes every message. Sends initial metadata at once; at the client's half-close finishes with
// ABORTED, binary details and trailers; on a message "finish-now" finishes at once with
// FAILED_PRECONDITION (while the client may still be sending).
class RecordingEcho final : public grpc::CallbackGenericService {
 public:
  struct Seen {
    std::string method;
    std::multimap<std::string, std::string> metadata;
    std::chrono::system_clock::time_point deadline;
  };

  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext* ctx) override {
    {
      absl::MutexLock lock(&mu_);
      seen_.push_back({ctx->method(), Copy(ctx->client_metadata()), ctx->deadline()});
    }
    return new Echo(ctx, &ended_);
  }

  std::vector<Seen> seen() {
    absl::MutexLock lock(&mu_);
    return seen_;
  }
  // Calls whose backend side is over (OnDone ran).
  int ended() const { return ended_.load(); }

 private:
  class Echo final : public grpc::ServerGenericBidiReactor {
   public:
    Echo(grpc::GenericCallbackServerContext* ctx, std::atomic<int>* ended)
        : ctx_(ctx), ended_(ended) {
      ctx_->AddInitialMetadata("x-upstream-initial", "hello");
      StartSendInitialMetadata();
      StartRead(&buffer_);
    }
    void OnReadDone(bool ok) override {
      if (!ok) {
        ctx_->AddTrailingMetadata("x-upstream-trailer", "bye");
        ctx_->AddTrailingMetadata("x-upstream-trailer-bin", std::string("\x00\xff\x01", 3));
        Finish(grpc::Status(grpc::StatusCode::ABORTED, "upstream says no",
                            std::string("details\x00\x01", 9)));
        return;
      }
      if (ToString(buffer_) == kFinishNow) {
        Finish(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "finished early"));
        return;
      }
      StartWrite(&buffer_);
    }
    void OnWriteDone(bool ok) override {
      if (!ok) {
        Finish(grpc::Status(grpc::StatusCode::CANCELLED, "write failed"));
        return;
      }
      StartRead(&buffer_);
    }
    void OnDone() override {
      ++*ended_;
      delete this;
    }

   private:
    grpc::GenericCallbackServerContext* const ctx_;
    std::atomic<int>* const ended_;
    ByteBuffer buffer_;
  };

  std::atomic<int> ended_{0};
  absl::Mutex mu_;
  std::vector<Seen> seen_ ABSL_GUARDED_BY(mu_);
};

// A generic bidi client: writes `messages` one after another (optionally half-closing after the
// last), reads everything, and reports the outcome.
class BidiClient final : public grpc::ClientBidiReactor<ByteBuffer, ByteBuffer> {
 public:
  struct Result {
    std::vector<std::string> received;
    std::multimap<std::string, std::string> initial_metadata;
    std::multimap<std::string, std::string> trailing_metadata;
    grpc::Status status;
  };

  BidiClient(std::shared_ptr<grpc::Channel> channel, std::vector<std::string> messages,
             bool half_close)
      : stub_(std::move(channel)), messages_(std::move(messages)), half_close_(half_close) {}

  grpc::ClientContext& context() { return ctx_; }

  Result Run(const std::string& method) {
    Start(method);
    return Wait();
  }
  // Run in two steps, for many calls at once (assertions stay on the test's thread).
  void Start(const std::string& method) {
    stub_.PrepareBidiStreamingCall(&ctx_, method, grpc::StubOptions(), this);
    StartRead(&in_);
    WriteNext();
    StartCall();
  }
  Result Wait() {
    std::future<void> done = done_.get_future();
    REQUIRE(done.wait_for(std::chrono::seconds(20)) == std::future_status::ready);
    return std::move(result_);
  }
  // Messages received so far (safe while the call runs).
  int received_count() const { return received_count_.load(); }

  void OnReadInitialMetadataDone(bool ok) override {
    if (ok) {
      result_.initial_metadata = Copy(ctx_.GetServerInitialMetadata());
    }
  }
  void OnReadDone(bool ok) override {
    if (ok) {
      result_.received.push_back(ToString(in_));
      ++received_count_;
      StartRead(&in_);
    }
  }
  void OnWriteDone(bool ok) override {
    if (ok) {
      WriteNext();
    }
  }
  void OnDone(const grpc::Status& status) override {
    result_.status = status;
    result_.trailing_metadata = Copy(ctx_.GetServerTrailingMetadata());
    done_.set_value();
  }

 private:
  void WriteNext() {
    if (next_ < messages_.size()) {
      out_ = ToBuffer(messages_[next_++]);
      StartWrite(&out_);
    } else if (half_close_) {
      StartWritesDone();
    }
  }

  grpc::GenericStub stub_;
  grpc::ClientContext ctx_;
  std::vector<std::string> messages_;
  const bool half_close_;
  size_t next_ = 0;
  ByteBuffer in_;
  ByteBuffer out_;
  Result result_;
  std::atomic<int> received_count_{0};
  std::promise<void> done_;
};

struct EchoBehindGateway {
  EchoBehindGateway() {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &echo_port);
    builder.SetMaxReceiveMessageSize(64 << 20);
    builder.RegisterCallbackGenericService(&echo);
    echo_server = builder.BuildAndStart();
    REQUIRE(echo_server != nullptr);
    router.upstream = grpc::CreateChannel(absl::StrCat("127.0.0.1:", echo_port),
                                          grpc::InsecureChannelCredentials());
    gateway = std::make_unique<Gateway>(router.AsRouter());
  }
  ~EchoBehindGateway() {
    gateway.reset();
    echo_server->Shutdown(In(std::chrono::seconds(5)));
    echo_server->Wait();
  }

  RecordingEcho echo;
  int echo_port = 0;
  std::unique_ptr<grpc::Server> echo_server;
  TestRouter router;
  std::unique_ptr<Gateway> gateway;
};

TEST_CASE("bidi streaming relays every message both ways, with metadata and status unchanged",
          "[gateway]") {
  EchoBehindGateway f;
  std::vector<std::string> messages;
  for (int i = 0; i < 200; ++i) {
    // Mixed sizes up to 256 KiB, so flow control has work to do.
    messages.push_back(std::string((i % 8) * 32 * 1024 + 1, static_cast<char>('a' + i % 26)) +
                       std::to_string(i));
  }
  BidiClient client(f.gateway->NewChannel(), messages, /*half_close=*/true);
  client.context().AddMetadata(kOrgHeader, "a");
  client.context().AddMetadata(server::kTenantHeader, "spoofed");
  client.context().AddMetadata(server::kPrincipalHeader, "spoofed");
  client.context().AddMetadata(server::kInternalTokenHeader, "spoofed");
  client.context().AddMetadata("authorization", "Bearer secret");
  client.context().AddMetadata("x-other", "not forwarded");
  const auto deadline = In(std::chrono::seconds(15));
  client.context().set_deadline(deadline);
  BidiClient::Result result = client.Run("/tahe.test.v1.Anything/Chat");

  REQUIRE_CODE(result.status, grpc::StatusCode::ABORTED);
  REQUIRE(result.status.error_message() == "upstream says no");
  REQUIRE(result.status.error_details() == std::string("details\x00\x01", 9));
  REQUIRE(result.received == messages);
  REQUIRE(result.initial_metadata.count("x-upstream-initial") == 1);
  REQUIRE(result.initial_metadata.find("x-upstream-initial")->second == "hello");
  REQUIRE(result.trailing_metadata.count("x-upstream-trailer") == 1);
  REQUIRE(result.trailing_metadata.find("x-upstream-trailer")->second == "bye");
  REQUIRE(result.trailing_metadata.find("x-upstream-trailer-bin")->second ==
          std::string("\x00\xff\x01", 3));

  // Upstream: the method, the client's deadline, and only the router's metadata.
  std::vector<RecordingEcho::Seen> seen = f.echo.seen();
  REQUIRE(seen.size() == 1);
  REQUIRE(seen[0].method == "/tahe.test.v1.Anything/Chat");
  REQUIRE(std::chrono::abs(seen[0].deadline - deadline) < std::chrono::milliseconds(200));
  std::multimap<std::string, std::string> forwarded;
  for (const auto& [key, value] : seen[0].metadata) {
    if (!IsReservedMetadataKey(key)) {
      forwarded.emplace(key, value);
    }
  }
  const std::multimap<std::string, std::string> expected = {
      {server::kTenantHeader, "a"},
      {server::kRequestIdHeader, "proxy-test"},
      {server::kInternalTokenHeader, kToken}};
  REQUIRE(forwarded == expected);
}

TEST_CASE("a call without a deadline has none upstream", "[gateway]") {
  EchoBehindGateway f;
  BidiClient client(f.gateway->NewChannel(), {"x"}, /*half_close=*/true);
  client.context().AddMetadata(kOrgHeader, "a");
  BidiClient::Result result = client.Run("/tahe.test.v1.Anything/Chat");
  REQUIRE_CODE(result.status, grpc::StatusCode::ABORTED);
  REQUIRE(result.received == std::vector<std::string>{"x"});
  std::vector<RecordingEcho::Seen> seen = f.echo.seen();
  REQUIRE(seen.size() == 1);
  REQUIRE(seen[0].deadline == std::chrono::system_clock::time_point::max());
}

TEST_CASE("an upstream that finishes early ends the client's call, even an idle one", "[gateway]") {
  EchoBehindGateway f;
  SECTION("client idle, not half-closed") {
    BidiClient client(f.gateway->NewChannel(), {"one", kFinishNow}, /*half_close=*/false);
    client.context().AddMetadata(kOrgHeader, "a");
    client.context().set_deadline(In(std::chrono::seconds(10)));
    BidiClient::Result result = client.Run("/tahe.test.v1.Anything/Chat");
    REQUIRE_CODE(result.status, grpc::StatusCode::FAILED_PRECONDITION);
    REQUIRE(result.status.error_message() == "finished early");
    REQUIRE(result.received == std::vector<std::string>{"one"});
  }
  SECTION("client still sending") {
    std::vector<std::string> messages = {kFinishNow};
    for (int i = 0; i < 100; ++i) {
      messages.push_back(std::string(64 * 1024, 'z'));
    }
    BidiClient client(f.gateway->NewChannel(), messages, /*half_close=*/true);
    client.context().AddMetadata(kOrgHeader, "a");
    client.context().set_deadline(In(std::chrono::seconds(10)));
    BidiClient::Result result = client.Run("/tahe.test.v1.Anything/Chat");
    REQUIRE_CODE(result.status, grpc::StatusCode::FAILED_PRECONDITION);
    REQUIRE(result.received.empty());
  }
}

TEST_CASE("registered services (health) are served by the gateway, not proxied", "[gateway]") {
  TestRouter router;  // no upstream: a proxied call would fail with INTERNAL
  Gateway gateway(router.AsRouter());
  grpc::GenericStub stub(gateway.NewChannel());
  grpc::ClientContext ctx;
  ctx.set_deadline(In(std::chrono::seconds(5)));
  ByteBuffer request = ToBuffer("");  // HealthCheckRequest{service: ""}
  ByteBuffer response;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&ctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                 [&](grpc::Status s) { done.set_value(std::move(s)); });
  grpc::Status status = done.get_future().get();
  REQUIRE_CODE(status, grpc::StatusCode::OK);
  REQUIRE(ToString(response) == std::string("\x08\x01", 2));  // status: SERVING
  REQUIRE(router.calls == 0);
}

TEST_CASE("a router that returns no upstream or throws refuses with INTERNAL", "[gateway]") {
  std::atomic<int> calls{0};
  Gateway gateway([&](const grpc::GenericServerContext&) -> RouteDecision {
    if (++calls == 1) {
      return {.status = absl::OkStatus()};  // a bug: no upstream
    }
    throw std::runtime_error("router bug");
  });
  auto stub = ledger_v1::LedgerService::NewStub(gateway.NewChannel());
  for (int i = 0; i < 2; ++i) {
    grpc::ClientContext ctx;
    ctx.set_deadline(In(std::chrono::seconds(5)));
    ledger_v1::GetTrialBalanceResponse tb;
    grpc::Status status = stub->GetTrialBalance(&ctx, ledger_v1::GetTrialBalanceRequest(), &tb);
    REQUIRE_CODE(status, grpc::StatusCode::INTERNAL);
    REQUIRE(status.error_message() == "internal error");
  }
  REQUIRE(calls == 2);
}

// --- the async proxy: headers, load, cancellation, shutdown -------------------------------------

// Waits up to `timeout` for the next event of `cq`; the tag, or null if none came.
void* NextEvent(grpc::CompletionQueue& cq, bool* ok, std::chrono::milliseconds timeout) {
  void* tag = nullptr;
  if (cq.AsyncNext(&tag, ok, In(timeout)) != grpc::CompletionQueue::GOT_EVENT) {
    return nullptr;
  }
  return tag;
}

TEST_CASE("a backend's initial metadata reaches the client at once, even on a silent stream",
          "[gateway]") {
  EchoBehindGateway f;
  grpc::CompletionQueue cq;
  grpc::GenericStub stub(f.gateway->NewChannel());
  grpc::ClientContext ctx;
  ctx.AddMetadata(kOrgHeader, "a");
  ctx.set_deadline(In(std::chrono::seconds(10)));
  // No message either way and no half-close: only the backend's headers can arrive (as on a
  // WatchEntries with nothing new to send).
  auto call = stub.PrepareCall(&ctx, "/tahe.test.v1.Anything/Watch", &cq);
  REQUIRE(call != nullptr);
  int start_tag = 0;
  int metadata_tag = 0;
  int finish_tag = 0;
  call->StartCall(&start_tag);
  call->ReadInitialMetadata(&metadata_tag);
  bool metadata_ok = false;
  int events = 0;
  for (; events < 2; ++events) {
    bool ok = false;
    void* tag = NextEvent(cq, &ok, std::chrono::milliseconds(2000));
    if (tag == nullptr) {
      break;
    }
    if (tag == &metadata_tag) {
      metadata_ok = ok;
    }
  }
  REQUIRE(events == 2);
  REQUIRE(metadata_ok);
  std::multimap<std::string, std::string> initial = Copy(ctx.GetServerInitialMetadata());
  REQUIRE(initial.count("x-upstream-initial") == 1);
  REQUIRE(initial.find("x-upstream-initial")->second == "hello");

  ctx.TryCancel();
  grpc::Status status;
  call->Finish(&status, &finish_tag);
  bool ok = false;
  REQUIRE(NextEvent(cq, &ok, std::chrono::milliseconds(5000)) == &finish_tag);
  REQUIRE_CODE(status, grpc::StatusCode::CANCELLED);
  REQUIRE(Eventually([&] { return f.echo.ended() == 1; }));
  cq.Shutdown();
  void* tag = nullptr;
  while (cq.Next(&tag, &ok)) {
  }
}

std::vector<std::string> MessagesOf(int call, int count) {
  std::vector<std::string> messages;
  for (int i = 0; i < count; ++i) {
    // Sizes from a few bytes to 96 KiB, so calls interleave on the connections.
    messages.push_back(absl::StrCat("call-", call, "-", i, "-") +
                       std::string(((call + i) % 4) * 32 * 1024, 'm'));
  }
  return messages;
}

TEST_CASE("many concurrent streams through the proxy each get exactly their own messages",
          "[gateway]") {
  EchoBehindGateway f;
  constexpr int kCalls = 96;
  constexpr int kChannels = 4;
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int i = 0; i < kChannels; ++i) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // a connection each
    channels.push_back(
        grpc::CreateCustomChannel(f.gateway->address(), grpc::InsecureChannelCredentials(), args));
  }
  std::vector<std::unique_ptr<BidiClient>> clients;
  for (int i = 0; i < kCalls; ++i) {
    clients.push_back(std::make_unique<BidiClient>(channels[i % kChannels], MessagesOf(i, 10),
                                                   /*half_close=*/true));
    clients.back()->context().AddMetadata(kOrgHeader, "a");
    clients.back()->context().set_deadline(In(std::chrono::seconds(20)));
  }
  for (auto& client : clients) {
    client->Start("/tahe.test.v1.Anything/Chat");
  }
  for (int i = 0; i < kCalls; ++i) {
    INFO("call " << i);
    BidiClient::Result result = clients[i]->Wait();
    REQUIRE_CODE(result.status, grpc::StatusCode::ABORTED);
    REQUIRE(result.received == MessagesOf(i, 10));
    REQUIRE(result.trailing_metadata.count("x-upstream-trailer") == 1);
  }
  REQUIRE(f.router.calls == kCalls);
  REQUIRE(Eventually([&] { return f.echo.ended() == kCalls; }));
}

TEST_CASE("client cancellations under load cancel every upstream call", "[gateway]") {
  EchoBehindGateway f;
  constexpr int kCalls = 64;
  std::vector<std::unique_ptr<BidiClient>> clients;
  for (int i = 0; i < kCalls; ++i) {
    // Never half-closed: only a cancel ends these calls before their deadline.
    clients.push_back(std::make_unique<BidiClient>(f.gateway->NewChannel(), MessagesOf(i, 5),
                                                   /*half_close=*/false));
    clients.back()->context().AddMetadata(kOrgHeader, "a");
    clients.back()->context().set_deadline(In(std::chrono::seconds(20)));
  }
  for (auto& client : clients) {
    client->Start("/tahe.test.v1.Anything/Chat");
  }
  // A third cancelled at once (maybe before the gateway routed them), a third once some echoes
  // came back, the rest once all of theirs did (idle streams).
  for (int i = 0; i < kCalls; i += 3) {
    clients[i]->context().TryCancel();
  }
  for (int i = 1; i < kCalls; i += 3) {
    REQUIRE(Eventually([&] { return clients[i]->received_count() >= 1; }));
    clients[i]->context().TryCancel();
  }
  for (int i = 2; i < kCalls; i += 3) {
    REQUIRE(Eventually([&] { return clients[i]->received_count() == 5; }));
    clients[i]->context().TryCancel();
  }
  for (int i = 0; i < kCalls; ++i) {
    INFO("call " << i);
    REQUIRE_CODE(clients[i]->Wait().status, grpc::StatusCode::CANCELLED);
  }
  // Every call that reached the backend ended there too, well before the 20 s deadline.
  REQUIRE(Eventually([&] { return f.echo.ended() == static_cast<int>(f.echo.seen().size()); }));
  REQUIRE(f.echo.seen().size() >= static_cast<size_t>(2 * kCalls / 3));
}

TEST_CASE(
    "GrpcServer serves health beside the proxy and its shutdown ends a call in flight, upstream "
    "too",
    "[gateway]") {
  EchoBehindGateway f;
  ProxyService proxy(f.router.AsRouter(), {.threads = 2});
  auto started = server::GrpcServer::Start({.listen = "127.0.0.1:0", .generic_service = &proxy});
  REQUIRE(started.ok());
  std::unique_ptr<server::GrpcServer> gateway = *std::move(started);
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateChannel(gateway->address(), grpc::InsecureChannelCredentials());

  grpc::GenericStub stub(channel);
  grpc::ClientContext health_ctx;
  health_ctx.set_deadline(In(std::chrono::seconds(5)));
  ByteBuffer request = ToBuffer("");
  ByteBuffer response;
  std::promise<grpc::Status> health_done;
  stub.UnaryCall(&health_ctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request,
                 &response, [&](grpc::Status s) { health_done.set_value(std::move(s)); });
  REQUIRE_CODE(health_done.get_future().get(), grpc::StatusCode::OK);
  REQUIRE(ToString(response) == std::string("\x08\x01", 2));
  REQUIRE(f.router.calls == 0);

  BidiClient client(channel, {"ping"}, /*half_close=*/false);
  client.context().AddMetadata(kOrgHeader, "a");
  client.context().set_deadline(In(std::chrono::seconds(20)));
  client.Start("/tahe.test.v1.Anything/Chat");
  REQUIRE(Eventually([&] { return client.received_count() == 1; }));

  const absl::Time shutdown_at = absl::Now();
  gateway->Shutdown(absl::Milliseconds(300));
  REQUIRE(absl::Now() - shutdown_at < absl::Seconds(3));
  BidiClient::Result result = client.Wait();
  REQUIRE_FALSE(result.status.ok());
  REQUIRE(result.received == std::vector<std::string>{"ping"});
  REQUIRE(Eventually([&] { return f.echo.ended() == 1; }));
}

TEST_CASE("reserved metadata keys are never copied between calls", "[gateway]") {
  for (const char* key : {":authority", ":path", "grpc-status", "grpc-timeout", "grpc-encoding",
                          "grpc-status-details-bin", "content-type", "te", "user-agent", ""}) {
    INFO(key);
    REQUIRE(IsReservedMetadataKey(key));
  }
  for (const char* key :
       {"x-tahe-tenant", "x-request-id", "x-upstream-trailer-bin", "authorization", "grpcx"}) {
    INFO(key);
    REQUIRE_FALSE(IsReservedMetadataKey(key));
  }
}

}  // namespace
}  // namespace tahe::gateway
