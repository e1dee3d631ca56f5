// Receivables ageing read through from invoicing: reporting's GetReceivablesAgeing and its CSV
// export against a stand-in InvoicingService served in-process on port 0, which records what
// reporting forwarded. No database: the ageing never touches reporting_db.

#include <grpcpp/grpcpp.h>

#include <catch2/catch.hpp>
#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "libs/server/call.h"
#include "libs/server/grpc_server.h"
#include "libs/server/worker_pool.h"
#include "services/reporting/receivables_client.h"
#include "services/reporting/reporting_service.h"
#include "tahe/invoicing/v1/invoicing.grpc.pb.h"
#include "tahe/reporting/v1/reporting.grpc.pb.h"

namespace tahe::reporting {
namespace {

namespace inv = tahe::invoicing::v1;

constexpr char kToken[] = "receivables-test-internal-token";

std::string Header(const grpc::ServerContextBase& ctx, const std::string& key) {
  auto it = ctx.client_metadata().find(key);
  return it == ctx.client_metadata().end() ? "" : std::string(it->second.data(), it->second.size());
}

// Answers GetReceivablesAgeing from `answer`, or fails with `error`; remembers the last call.
class StandInInvoicing final : public inv::InvoicingService::CallbackService {
 public:
  grpc::ServerUnaryReactor* GetReceivablesAgeing(grpc::CallbackServerContext* ctx,
                                                 const inv::GetReceivablesAgeingRequest* req,
                                                 inv::ReceivablesAgeing* resp) override {
    {
      absl::MutexLock lock(&mu);
      token = Header(*ctx, server::kInternalTokenHeader);
      tenant = Header(*ctx, server::kTenantHeader);
      principal = Header(*ctx, server::kPrincipalHeader);
      request_id = Header(*ctx, server::kRequestIdHeader);
      as_of = req->as_of();
      ++calls;
    }
    auto* reactor = ctx->DefaultReactor();
    if (!error.ok()) {
      reactor->Finish(error);
      return reactor;
    }
    *resp = answer;
    resp->set_as_of(req->as_of().empty() ? "2026-12-05" : req->as_of());
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  absl::Mutex mu;
  std::string token, tenant, principal, request_id, as_of;
  int calls = 0;
  inv::ReceivablesAgeing answer;
  grpc::Status error = grpc::Status::OK;
};

struct Fixture {
  Fixture() {
    for (auto [bucket, invoices, cents] : {std::tuple{"current", 3, 12000},
                                           {"1-30", 1, 4550},
                                           {"31-60", 0, 0},
                                           {"61-90", 2, 99},
                                           {"over-90", 1, 100000}}) {
      inv::AgeingBucket* b = invoicing.answer.add_buckets();
      b->set_bucket(bucket);
      b->set_invoices(invoices);
      b->set_open_cents(cents);
    }
    invoicing.answer.set_open_cents(116649);
    invoicing_server = *server::GrpcServer::Start(
        {.listen = "127.0.0.1:0", .services = {&invoicing}, .metrics = nullptr});
    receivables = std::make_unique<InvoicingReceivables>(
        grpc::CreateChannel(invoicing_server->address(), grpc::InsecureChannelCredentials()),
        kToken);
    with_invoicing = std::make_unique<ReportingService>(
        nullptr, nullptr, nullptr, server::HandlerEnv{&auth, &workers},
        ReportingService::Options{.receivables = receivables->AsSource()});
    without_invoicing = std::make_unique<ReportingService>(nullptr, nullptr, nullptr,
                                                           server::HandlerEnv{&auth, &workers});
    reporting_server = *server::GrpcServer::Start(
        {.listen = "127.0.0.1:0", .services = {with_invoicing.get()}, .metrics = nullptr});
    bare_server = *server::GrpcServer::Start(
        {.listen = "127.0.0.1:0", .services = {without_invoicing.get()}, .metrics = nullptr});
    reporting = v1::ReportingService::NewStub(
        grpc::CreateChannel(reporting_server->address(), grpc::InsecureChannelCredentials()));
    bare = v1::ReportingService::NewStub(
        grpc::CreateChannel(bare_server->address(), grpc::InsecureChannelCredentials()));
  }
  ~Fixture() {
    reporting_server->Shutdown(absl::Seconds(5));
    bare_server->Shutdown(absl::Seconds(5));
    workers.Drain();
    invoicing_server->Shutdown(absl::Seconds(5));
  }

  // A context as the gateway would make it for `tenant`.
  static std::unique_ptr<grpc::ClientContext> As(const std::string& tenant) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->AddMetadata(server::kInternalTokenHeader, kToken);
    ctx->AddMetadata(server::kTenantHeader, tenant);
    ctx->AddMetadata(server::kRequestIdHeader, "req-ageing-1");
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return ctx;
  }

  StandInInvoicing invoicing;
  server::Authenticator auth{kToken};
  server::WorkerPool workers{2};
  std::unique_ptr<server::GrpcServer> invoicing_server, reporting_server, bare_server;
  std::unique_ptr<InvoicingReceivables> receivables;
  std::unique_ptr<ReportingService> with_invoicing, without_invoicing;
  std::unique_ptr<v1::ReportingService::Stub> reporting, bare;
};

TEST_CASE("the ageing is invoicing's, asked for the caller's organisation with the credential") {
  Fixture f;
  v1::GetReceivablesAgeingRequest req;
  req.set_as_of_date("2026-11-30");
  v1::ReceivablesAgeing ageing;
  grpc::Status status = f.reporting->GetReceivablesAgeing(Fixture::As("lahti").get(), req, &ageing);
  INFO(status.error_message());
  REQUIRE(status.ok());
  CHECK(ageing.as_of_date() == "2026-11-30");
  REQUIRE(ageing.buckets_size() == 5);
  CHECK(ageing.buckets(1).bucket() == "1-30");
  CHECK(ageing.buckets(1).invoices() == 1);
  CHECK(ageing.buckets(1).open_minor() == 4550);
  CHECK(ageing.buckets(4).open_minor() == 100000);
  CHECK(ageing.total_open_minor() == 116649);
  CHECK(ageing.total_invoices() == 7);

  absl::MutexLock lock(&f.invoicing.mu);
  CHECK(f.invoicing.calls == 1);
  CHECK(f.invoicing.token == kToken);
  CHECK(f.invoicing.tenant == "lahti");
  CHECK(f.invoicing.principal == "service:reporting");
  CHECK(f.invoicing.request_id == "req-ageing-1");
  CHECK(f.invoicing.as_of == "2026-11-30");
}

TEST_CASE("the ageing exports as CSV with a row per bucket and the total") {
  Fixture f;
  v1::ExportReportRequest req;
  req.mutable_receivables_ageing()->set_as_of_date("2026-11-30");
  req.set_format(v1::EXPORT_FORMAT_CSV);
  v1::ExportReportResponse file;
  grpc::Status status = f.reporting->ExportReport(Fixture::As("lahti").get(), req, &file);
  INFO(status.error_message());
  REQUIRE(status.ok());
  CHECK(file.file_name() == "receivables-ageing-2026-11-30.csv");
  CHECK(file.content() ==
        "bucket,invoices,open\r\n"
        "current,3,120.00\r\n"
        "1-30,1,45.50\r\n"
        "31-60,0,0.00\r\n"
        "61-90,2,0.99\r\n"
        "over-90,1,1000.00\r\n"
        "total,7,1166.49\r\n");

  req.set_format(v1::EXPORT_FORMAT_HTML);
  status = f.reporting->ExportReport(Fixture::As("lahti").get(), req, &file);
  CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(status.error_message().find("format") != std::string::npos);
}

TEST_CASE("a bad date, a missing invoicing and a failing invoicing are told apart") {
  Fixture f;
  v1::ReceivablesAgeing ageing;
  v1::GetReceivablesAgeingRequest bad;
  bad.set_as_of_date("30.11.2026");
  grpc::Status status = f.reporting->GetReceivablesAgeing(Fixture::As("lahti").get(), bad, &ageing);
  CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(status.error_message().find("as_of_date") != std::string::npos);
  {
    absl::MutexLock lock(&f.invoicing.mu);
    CHECK(f.invoicing.calls == 0);  // refused before any call
  }

  status = f.bare->GetReceivablesAgeing(Fixture::As("lahti").get(), {}, &ageing);
  CHECK(status.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  CHECK(status.error_message().find("--invoicing_addr") != std::string::npos);

  f.invoicing.error = grpc::Status(grpc::StatusCode::UNAVAILABLE, "invoicing is restarting");
  status = f.reporting->GetReceivablesAgeing(Fixture::As("lahti").get(), {}, &ageing);
  CHECK(status.error_code() == grpc::StatusCode::UNAVAILABLE);
  CHECK(status.error_message().find("invoicing is restarting") != std::string::npos);

  // Without the internal credential reporting refuses the call itself.
  grpc::ClientContext anonymous;
  anonymous.AddMetadata(server::kTenantHeader, "lahti");
  status = f.reporting->GetReceivablesAgeing(&anonymous, {}, &ageing);
  CHECK(status.error_code() == grpc::StatusCode::UNAUTHENTICATED);
}

}  // namespace
}  // namespace tahe::reporting
