#include "libs/metrics/metrics_registry.h"

#include <catch2/catch.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "libs/metrics/scrape_for_test.h"
#include "prometheus/counter.h"

namespace tahe::metrics {
namespace {

TEST_CASE("MetricsRegistry on port 0 serves its registry over HTTP at /metrics", "[metrics]") {
  absl::StatusOr<std::unique_ptr<MetricsRegistry>> metrics = MetricsRegistry::Start("127.0.0.1:0");
  REQUIRE(metrics.ok());
  const int port = (*metrics)->port();
  REQUIRE(port > 0);

  prometheus::BuildCounter()
      .Name("tahe_test_widgets_total")
      .Help("Widgets made by the test.")
      .Register((*metrics)->registry())
      .Add({{"colour", "blue"}})
      .Increment(3);

  absl::StatusOr<HttpResponse> response = HttpGet(port, "/metrics");
  REQUIRE(response.ok());
  CHECK(response->status_code == 200);
  CHECK(absl::StrContains(response->body, "# TYPE tahe_test_widgets_total counter\n"));
  CHECK(SampleValue(response->body, R"(tahe_test_widgets_total{colour="blue"})") == 3.0);
  // The same registry is what registry() hands to libraries.
  CHECK(SampleValue(Serialize(*(*metrics)->shared_registry()),
                    R"(tahe_test_widgets_total{colour="blue"})") == 3.0);
}

TEST_CASE("MetricsRegistry reports a taken port as UNAVAILABLE naming the address", "[metrics]") {
  absl::StatusOr<std::unique_ptr<MetricsRegistry>> first = MetricsRegistry::Start("127.0.0.1:0");
  REQUIRE(first.ok());
  const std::string address = absl::StrCat("127.0.0.1:", (*first)->port());

  absl::StatusOr<std::unique_ptr<MetricsRegistry>> second = MetricsRegistry::Start(address);
  REQUIRE_FALSE(second.ok());
  CHECK(second.status().code() == absl::StatusCode::kUnavailable);
  CHECK(absl::StrContains(second.status().message(), address));
  CHECK(absl::StrContains(second.status().message(), "in use"));

  // The first one still serves.
  absl::StatusOr<HttpResponse> response = HttpGet((*first)->port(), "/metrics");
  REQUIRE(response.ok());
  CHECK(response->status_code == 200);
}

TEST_CASE("MetricsRegistry rejects a malformed listen address", "[metrics]") {
  for (const char* address : {"", "9464", "localhost", "127.0.0.1:", "127.0.0.1:http",
                              "127.0.0.1:70000", "::1:9464", "127.0.0.1:-1"}) {
    INFO(address);
    absl::StatusOr<std::unique_ptr<MetricsRegistry>> metrics = MetricsRegistry::Start(address);
    REQUIRE_FALSE(metrics.ok());
    CHECK(metrics.status().code() == absl::StatusCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace tahe::metrics
