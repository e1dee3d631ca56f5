#include "libs/metrics/grpc_metrics.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <future>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "libs/metrics/metrics_registry.h"
#include "libs/metrics/scrape_for_test.h"
#include "libs/metrics/testdata/echo.grpc.pb.h"
#include "prometheus/gauge.h"

namespace tahe::metrics {
namespace {

using tahe::test::v1::EchoRequest;
using tahe::test::v1::EchoResponse;
using tahe::test::v1::EchoService;

// Sends request.repeat() responses, then finishes OK (or ABORTED with abort_at_end).
class EchoStreamWriter final : public grpc::ServerWriteReactor<EchoResponse> {
 public:
  explicit EchoStreamWriter(const EchoRequest& request) : request_(request) { WriteNext(); }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "write failed"));
      return;
    }
    WriteNext();
  }
  void OnDone() override { delete this; }

 private:
  void WriteNext() {
    if (sent_ >= request_.repeat()) {
      Finish(request_.abort_at_end() ? grpc::Status(grpc::StatusCode::ABORTED, "aborted at end")
                                     : grpc::Status::OK);
      return;
    }
    ++sent_;
    response_.set_message(absl::StrCat(request_.message(), " ", sent_));
    StartWrite(&response_);
  }

  const EchoRequest request_;
  EchoResponse response_;
  int sent_ = 0;
};

class EchoServiceImpl final : public EchoService::CallbackService {
  grpc::ServerUnaryReactor* Echo(grpc::CallbackServerContext* context, const EchoRequest* request,
                                 EchoResponse* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    if (request->message().empty()) {
      reactor->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "message is empty"));
    } else if (request->message() == "missing") {
      reactor->Finish(grpc::Status(grpc::StatusCode::NOT_FOUND, "no such message"));
    } else {
      response->set_message(request->message());
      reactor->Finish(grpc::Status::OK);
    }
    return reactor;
  }

  grpc::ServerWriteReactor<EchoResponse>* EchoStream(grpc::CallbackServerContext* context,
                                                     const EchoRequest* request) override {
    return new EchoStreamWriter(*request);
  }
};

grpc::Status CallEcho(EchoService::Stub& stub, const std::string& message) {
  grpc::ClientContext context;
  EchoRequest request;
  request.set_message(message);
  EchoResponse response;
  return stub.Echo(&context, request, &response);
}

// Returns the final status; `received` counts the responses read.
grpc::Status CallEchoStream(EchoService::Stub& stub, int repeat, bool abort_at_end, int& received) {
  grpc::ClientContext context;
  EchoRequest request;
  request.set_message("tick");
  request.set_repeat(repeat);
  request.set_abort_at_end(abort_at_end);
  std::unique_ptr<grpc::ClientReader<EchoResponse>> reader = stub.EchoStream(&context, request);
  EchoResponse response;
  received = 0;
  while (reader->Read(&response)) {
    ++received;
  }
  return reader->Finish();
}

// grpc.health.v1.Health/Check through a generic stub; an empty HealthCheckRequest is zero bytes.
grpc::Status CallHealthCheck(const std::shared_ptr<grpc::Channel>& channel) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  grpc::Slice empty("");
  grpc::ByteBuffer request(&empty, 1);
  grpc::ByteBuffer response;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                 [&done](grpc::Status status) { done.set_value(std::move(status)); });
  return done.get_future().get();
}

// `name{grpc_method="<method>",grpc_service="tahe.test.v1.EchoService",grpc_type="<type>"}`.
std::string EchoSeries(const std::string& name, const std::string& method,
                       const std::string& type) {
  return absl::StrCat(name, "{grpc_method=\"", method,
                      "\",grpc_service=\"tahe.test.v1.EchoService\",grpc_type=\"", type, "\"}");
}

std::string EchoHandledSeries(const std::string& side, const std::string& code,
                              const std::string& method, const std::string& type) {
  return absl::StrCat("grpc_", side, "_handled_total{grpc_code=\"", code, "\",grpc_method=\"",
                      method, "\",grpc_service=\"tahe.test.v1.EchoService\",grpc_type=\"", type,
                      "\"}");
}

// `name{grpc_method="Check",grpc_service="grpc.health.v1.Health",grpc_type="unary"}`.
std::string HealthSeries(const std::string& name) {
  return absl::StrCat(name,
                      "{grpc_method=\"Check\",grpc_service=\"grpc.health.v1.Health\","
                      "grpc_type=\"unary\"}");
}

// Every sample of the grpc_<side>_* families for the calls the test below makes.
std::map<std::string, double> ExpectedSamples(const std::string& side) {
  const std::string p = "grpc_" + side;
  const bool server = side == "server";
  return {
      {EchoSeries(p + "_started_total", "Echo", "unary"), 4},
      {EchoHandledSeries(side, "OK", "Echo", "unary"), 2},
      {EchoHandledSeries(side, "InvalidArgument", "Echo", "unary"), 1},
      {EchoHandledSeries(side, "NotFound", "Echo", "unary"), 1},
      {EchoSeries(p + "_handling_seconds_count", "Echo", "unary"), 4},
      // One request per call; a response only from the two that succeeded.
      {EchoSeries(p + "_msg_received_total", "Echo", "unary"), server ? 4 : 2},
      {EchoSeries(p + "_msg_sent_total", "Echo", "unary"), server ? 2 : 4},

      {EchoSeries(p + "_started_total", "EchoStream", "server_stream"), 2},
      {EchoHandledSeries(side, "OK", "EchoStream", "server_stream"), 1},
      {EchoHandledSeries(side, "Aborted", "EchoStream", "server_stream"), 1},
      {EchoSeries(p + "_handling_seconds_count", "EchoStream", "server_stream"), 2},
      // Two requests in; 3 + 2 responses out.
      {EchoSeries(p + "_msg_received_total", "EchoStream", "server_stream"), server ? 2 : 5},
      {EchoSeries(p + "_msg_sent_total", "EchoStream", "server_stream"), server ? 5 : 2},

      // Health checks count like any other call.
      {HealthSeries(p + "_started_total"), 1},
      {absl::StrCat(p,
                    "_handled_total{grpc_code=\"OK\",grpc_method=\"Check\","
                    "grpc_service=\"grpc.health.v1.Health\",grpc_type=\"unary\"}"),
       1},
      {HealthSeries(p + "_handling_seconds_count"), 1},
      {HealthSeries(p + "_msg_received_total"), 1},
      {HealthSeries(p + "_msg_sent_total"), 1},
  };
}

// Lines of `exposition` that are samples (not comments) of metrics starting with `prefix`.
std::vector<std::string> SampleLines(const std::string& exposition, const std::string& prefix) {
  std::vector<std::string> lines;
  for (absl::string_view line : absl::StrSplit(exposition, '\n')) {
    if (absl::StartsWith(line, prefix)) {
      lines.emplace_back(line);
    }
  }
  return lines;
}

void CheckSamples(const std::string& exposition, const std::map<std::string, double>& expected) {
  for (const auto& [series, value] : expected) {
    INFO(series);
    CHECK(SampleValue(exposition, series) == value);
  }
}

TEST_CASE("gRPC interceptors export go-grpc-prometheus metrics for served and made calls",
          "[metrics][grpc]") {
  absl::StatusOr<std::unique_ptr<MetricsRegistry>> metrics = MetricsRegistry::Start("127.0.0.1:0");
  REQUIRE(metrics.ok());
  prometheus::Registry& registry = (*metrics)->registry();

  grpc::EnableDefaultHealthCheckService(true);
  EchoServiceImpl service;
  int grpc_port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &grpc_port);
  builder.RegisterService(&service);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
  creators.push_back(NewServerMetricsInterceptorFactory(registry));
  builder.experimental().SetInterceptorCreators(std::move(creators));
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  REQUIRE(server != nullptr);
  REQUIRE(grpc_port > 0);

  std::shared_ptr<grpc::Channel> channel = CreateMeteredChannel(
      absl::StrCat("127.0.0.1:", grpc_port), grpc::InsecureChannelCredentials(), registry);
  std::unique_ptr<EchoService::Stub> stub = EchoService::NewStub(channel);

  CHECK(CallEcho(*stub, "hello").ok());
  CHECK(CallEcho(*stub, "again").ok());
  CHECK(CallEcho(*stub, "").error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(CallEcho(*stub, "missing").error_code() == grpc::StatusCode::NOT_FOUND);
  int received = 0;
  CHECK(CallEchoStream(*stub, 3, /*abort_at_end=*/false, received).ok());
  CHECK(received == 3);
  CHECK(CallEchoStream(*stub, 2, /*abort_at_end=*/true, received).error_code() ==
        grpc::StatusCode::ABORTED);
  CHECK(received == 2);
  CHECK(CallHealthCheck(channel).ok());

  // The server counts a sent message once the send completes, which can be just after the client
  // already has the status; shutting down waits for every call to finish.
  server->Shutdown();
  server->Wait();

  std::map<std::string, double> expected = ExpectedSamples("server");
  expected.merge(ExpectedSamples("client"));

  // Several views of one setup rather than SECTIONs: each MetricsRegistry takes ~2 s to stop.

  {
    INFO("in the registry");
    const std::string exposition = Serialize(registry);
    CheckSamples(exposition, expected);
    // Exact lines, as a dashboard query would match them.
    CHECK(absl::StrContains(
        exposition,
        "\ngrpc_server_handled_total{grpc_code=\"InvalidArgument\",grpc_method=\"Echo\","
        "grpc_service=\"tahe.test.v1.EchoService\",grpc_type=\"unary\"} 1\n"));
    CHECK(absl::StrContains(
        exposition,
        "\ngrpc_client_started_total{grpc_method=\"EchoStream\","
        "grpc_service=\"tahe.test.v1.EchoService\",grpc_type=\"server_stream\"} 2\n"));
    CHECK(absl::StrContains(exposition, "# TYPE grpc_server_handling_seconds histogram\n"));
    CHECK(absl::StrContains(exposition, "# TYPE grpc_client_handling_seconds histogram\n"));
    CHECK(absl::StrContains(exposition, "# TYPE grpc_server_handled_total counter\n"));
  }

  {
    INFO("over HTTP from the exposer");
    absl::StatusOr<HttpResponse> response = HttpGet((*metrics)->port(), "/metrics");
    REQUIRE(response.ok());
    REQUIRE(response->status_code == 200);
    CheckSamples(response->body, expected);
  }

  {
    INFO("and nothing else: no other label sets, no skipped calls");
    const std::string exposition = Serialize(registry);
    std::vector<std::string> expected_lines;
    for (const auto& [series, value] : expected) {
      if (!absl::StrContains(series, "_handling_seconds")) {
        expected_lines.push_back(absl::StrCat(series, " ", value));
      }
    }
    std::vector<std::string> actual_lines;
    for (const char* prefix :
         {"grpc_server_started_total", "grpc_server_handled_total", "grpc_server_msg_",
          "grpc_client_started_total", "grpc_client_handled_total", "grpc_client_msg_"}) {
      for (std::string& line : SampleLines(exposition, prefix)) {
        actual_lines.push_back(std::move(line));
      }
    }
    std::sort(expected_lines.begin(), expected_lines.end());
    std::sort(actual_lines.begin(), actual_lines.end());
    CHECK(actual_lines == expected_lines);
  }

  {
    INFO("with the default Prometheus buckets");
    const std::string exposition = Serialize(registry);
    const std::vector<std::string> buckets =
        SampleLines(exposition,
                    "grpc_server_handling_seconds_bucket{grpc_method=\"Echo\","
                    "grpc_service=\"tahe.test.v1.EchoService\",grpc_type=\"unary\",le=");
    std::vector<std::string> bounds;
    for (const std::string& line : buckets) {
      const size_t le = line.find("le=\"") + 4;
      bounds.push_back(line.substr(le, line.find('"', le) - le));
    }
    CHECK(bounds == std::vector<std::string>{"0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5",
                                             "1", "2.5", "5", "10", "+Inf"});
    CHECK(SampleValue(exposition,
                      "grpc_server_handling_seconds_bucket{grpc_method=\"Echo\","
                      "grpc_service=\"tahe.test.v1.EchoService\",grpc_type=\"unary\","
                      "le=\"+Inf\"}") == 4);
  }

  {
    INFO("a call that never reaches a server counts on the client only");
    CHECK(CallEcho(*stub, "hello").error_code() == grpc::StatusCode::UNAVAILABLE);
    const std::string exposition = Serialize(registry);
    CHECK(SampleValue(exposition, EchoHandledSeries("client", "Unavailable", "Echo", "unary")) ==
          1);
    CHECK(SampleValue(exposition, EchoSeries("grpc_client_started_total", "Echo", "unary")) == 5);
    CHECK(SampleValue(exposition, EchoSeries("grpc_server_started_total", "Echo", "unary")) == 4);
  }
}

TEST_CASE("Interceptor factories register their families once per registry", "[metrics][grpc]") {
  prometheus::Registry registry;
  // A second server (or channel) in the same process joins the families instead of throwing.
  CHECK_NOTHROW(NewServerMetricsInterceptorFactory(registry));
  CHECK_NOTHROW(NewServerMetricsInterceptorFactory(registry));
  CHECK_NOTHROW(NewClientMetricsInterceptorFactory(registry));
  CHECK_NOTHROW(NewClientMetricsInterceptorFactory(registry));
  // The names are taken, as counters and histograms: another type under the same name is refused.
  for (const char* name :
       {"grpc_server_started_total", "grpc_server_handled_total", "grpc_server_handling_seconds",
        "grpc_server_msg_received_total", "grpc_server_msg_sent_total", "grpc_client_started_total",
        "grpc_client_handled_total", "grpc_client_handling_seconds",
        "grpc_client_msg_received_total", "grpc_client_msg_sent_total"}) {
    INFO(name);
    CHECK_THROWS(prometheus::BuildGauge().Name(name).Help("clash").Register(registry));
  }
}

TEST_CASE("GrpcCodeName spells codes as Go's codes.Code.String()", "[metrics]") {
  const std::vector<std::string> expected = {
      "OK",       "Canceled",       "Unknown",          "InvalidArgument",   "DeadlineExceeded",
      "NotFound", "AlreadyExists",  "PermissionDenied", "ResourceExhausted", "FailedPrecondition",
      "Aborted",  "OutOfRange",     "Unimplemented",    "Internal",          "Unavailable",
      "DataLoss", "Unauthenticated"};
  for (int code = 0; code < static_cast<int>(expected.size()); ++code) {
    CHECK(GrpcCodeName(static_cast<grpc::StatusCode>(code)) == expected[code]);
  }
  CHECK(GrpcCodeName(grpc::StatusCode::UNAUTHENTICATED) == "Unauthenticated");
  CHECK(GrpcCodeName(static_cast<grpc::StatusCode>(17)) == "Code(17)");
}

TEST_CASE("SplitFullMethodName splits /package.Service/Method like go-grpc-prometheus",
          "[metrics]") {
  ServiceAndMethod split = SplitFullMethodName("/tahe.ledger.v1.LedgerService/PostEntries");
  CHECK(split.service == "tahe.ledger.v1.LedgerService");
  CHECK(split.method == "PostEntries");

  split = SplitFullMethodName("grpc.health.v1.Health/Check");
  CHECK(split.service == "grpc.health.v1.Health");
  CHECK(split.method == "Check");

  split = SplitFullMethodName("/NoMethod");
  CHECK(split.service == "unknown");
  CHECK(split.method == "unknown");

  split = SplitFullMethodName("");
  CHECK(split.service == "unknown");
  CHECK(split.method == "unknown");
}

}  // namespace
}  // namespace tahe::metrics
