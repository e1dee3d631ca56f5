#include "libs/metrics/metrics_registry.h"

#include <algorithm>
#include <exception>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace tahe::metrics {
namespace {

// Checks "host:port" / ":port" and returns civetweb's spelling of it ("port" alone binds every
// IPv4 interface; civetweb rejects an empty host).
absl::StatusOr<std::string> ToCivetListeningPort(absl::string_view address) {
  const size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics listen address \"", address, "\" is not host:port"));
  }
  const absl::string_view host = address.substr(0, colon);
  const absl::string_view port_text = address.substr(colon + 1);
  int port = 0;
  if (port_text.empty() ||
      !std::all_of(port_text.begin(), port_text.end(),
                   [](char c) { return absl::ascii_isdigit(c); }) ||
      !absl::SimpleAtoi(port_text, &port) || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics listen address \"", address, "\" has no valid port"));
  }
  if (host.empty()) {
    return std::string(port_text);
  }
  if (host.find(':') != absl::string_view::npos && host.front() != '[') {
    return absl::InvalidArgumentError(absl::StrCat("metrics listen address \"", address,
                                                   "\": write IPv6 hosts in brackets, [::1]:9464"));
  }
  return std::string(address);
}

}  // namespace

absl::StatusOr<std::unique_ptr<MetricsRegistry>> MetricsRegistry::Start(
    std::string listen_address) {
  absl::StatusOr<std::string> civet_address = ToCivetListeningPort(listen_address);
  if (!civet_address.ok()) {
    return civet_address.status();
  }
  auto registry = std::make_shared<prometheus::Registry>();
  std::unique_ptr<prometheus::Exposer> exposer;
  try {
    exposer = std::make_unique<prometheus::Exposer>(*civet_address);
  } catch (const std::exception& e) {
    // civetweb reports every bind failure the same way; the usual cause is a port in use.
    return absl::UnavailableError(absl::StrCat("metrics: cannot listen on ", listen_address,
                                               " (is the port already in use?): ", e.what()));
  }
  const std::vector<int> ports = exposer->GetListeningPorts();
  if (ports.empty() || ports.front() <= 0) {
    return absl::InternalError(
        absl::StrCat("metrics: listening on ", listen_address, " but the bound port is unknown"));
  }
  exposer->RegisterCollectable(registry);
  return std::unique_ptr<MetricsRegistry>(
      new MetricsRegistry(std::move(registry), std::move(exposer), ports.front()));
}

MetricsRegistry::MetricsRegistry(std::shared_ptr<prometheus::Registry> registry,
                                 std::unique_ptr<prometheus::Exposer> exposer, int port)
    : registry_(std::move(registry)), exposer_(std::move(exposer)), port_(port) {}

MetricsRegistry::~MetricsRegistry() = default;

}  // namespace tahe::metrics
