#pragma once

// Prometheus metrics for every gRPC call a process serves or makes, under the names and labels of
// the grpc-ecosystem interceptors (go-grpc-prometheus), so the usual dashboards and alerts work
// unchanged:
//
//   grpc_server_started_total      {grpc_type, grpc_service, grpc_method}
//   grpc_server_handled_total      {grpc_type, grpc_service, grpc_method, grpc_code}
//   grpc_server_handling_seconds   {grpc_type, grpc_service, grpc_method}  histogram
//   grpc_server_msg_received_total {grpc_type, grpc_service, grpc_method}
//   grpc_server_msg_sent_total     {grpc_type, grpc_service, grpc_method}
//   grpc_client_...                the same five for outgoing calls
//
// grpc_type is unary, client_stream, server_stream or bidi_stream; "/tahe.ledger.v1.LedgerService/
// PostEntries" becomes grpc_service="tahe.ledger.v1.LedgerService", grpc_method="PostEntries";
// grpc_code is spelled as Go's codes.Code prints it ("OK", "InvalidArgument", "NotFound").
// Histogram buckets are Prometheus' defaults, .005 to 10 seconds. Every call counts, health checks
// and reflection included.
//
// Server:
//   std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
//   creators.push_back(tahe::metrics::NewServerMetricsInterceptorFactory(metrics->registry()));
//   builder.experimental().SetInterceptorCreators(std::move(creators));
// Client:
//   std::shared_ptr<grpc::Channel> channel = tahe::metrics::CreateMeteredChannel(
//       "ledger:50051", grpc::InsecureChannelCredentials(), metrics->registry());
//
// REQUIRES (both sides): the prometheus::Registry outlives the server or channel.

#include <grpcpp/channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>
#include <grpcpp/support/client_interceptor.h>
#include <grpcpp/support/server_interceptor.h>
#include <grpcpp/support/status.h>

#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "prometheus/registry.h"

namespace tahe::metrics {

// A factory for ServerBuilder::experimental().SetInterceptorCreators(). Registers the five
// grpc_server_* families on `registry` (or joins them if another factory already did).
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
NewServerMetricsInterceptorFactory(prometheus::Registry& registry);

// A factory for grpc::experimental::CreateCustomChannelWithInterceptors(). Registers the five
// grpc_client_* families on `registry` (or joins them if another factory already did).
std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>
NewClientMetricsInterceptorFactory(prometheus::Registry& registry);

// grpc::CreateCustomChannel with the client metrics interceptor as its only interceptor.
std::shared_ptr<grpc::Channel> CreateMeteredChannel(
    const std::string& target, const std::shared_ptr<grpc::ChannelCredentials>& credentials,
    prometheus::Registry& registry, const grpc::ChannelArguments& args = grpc::ChannelArguments());

// The grpc_code label value: Go's codes.Code.String(), "OK", "InvalidArgument", ...; a code
// outside 0..16 is "Code(17)".
std::string GrpcCodeName(grpc::StatusCode code);

// "/pkg.Service/Method" -> {"pkg.Service", "Method"}; a name without '/' after the leading one is
// {"unknown", "unknown"} (as in go-grpc-prometheus).
struct ServiceAndMethod {
  std::string service;
  std::string method;
};
ServiceAndMethod SplitFullMethodName(absl::string_view full_method_name);

}  // namespace tahe::metrics
