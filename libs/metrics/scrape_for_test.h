#pragma once

// Test helpers for libs/metrics: scrape an exposer over real HTTP and read one sample out of the
// Prometheus text exposition format.
//
//   absl::StatusOr<HttpResponse> response = HttpGet(metrics->port(), "/metrics");
//   std::optional<double> value =
//       SampleValue(response->body, R"(grpc_server_started_total{grpc_method="Echo",...})");

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "prometheus/registry.h"

namespace tahe::metrics {

struct HttpResponse {
  int status_code = 0;
  std::string body;
};

// A plain HTTP/1.0 GET of http://127.0.0.1:<port><path>, read to the end of the connection.
absl::StatusOr<HttpResponse> HttpGet(int port, absl::string_view path);

// The registry in the text exposition format, without going through HTTP.
std::string Serialize(prometheus::Registry& registry);

// The value of the sample whose line starts with `series` ("name{label=\"v\",...}", labels in the
// sorted order prometheus-cpp writes them); nullopt if there is no such line.
std::optional<double> SampleValue(absl::string_view exposition, absl::string_view series);

}  // namespace tahe::metrics
