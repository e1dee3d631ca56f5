#pragma once

// The Prometheus registry of one process and the HTTP endpoint that serves it.
//
// Every Tahe process owns exactly one MetricsRegistry, started before anything that reports
// metrics. It serves GET /metrics on its own "host:port" (the utility port, never the gRPC port).
// Libraries that report metrics (the database pool, the outbox relay, the gRPC interceptors in
// libs/metrics/grpc_metrics.h) take a `prometheus::Registry&` and register their families on it,
// so they depend on prometheus-cpp core only, never on this class or on the HTTP server.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<tahe::metrics::MetricsRegistry> metrics,
//                    tahe::metrics::MetricsRegistry::Start("0.0.0.0:9464"));
//   prometheus::Counter& posted = prometheus::BuildCounter()
//                                     .Name("tahe_ledger_entries_posted_total")
//                                     .Help("Journal entries posted.")
//                                     .Register(metrics->registry())
//                                     .Add({});
//   posted.Increment();
//
// Domain metrics are prefixed `tahe_`; see DESIGN.md §4.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "prometheus/exposer.h"
#include "prometheus/registry.h"

namespace tahe::metrics {

class MetricsRegistry {
 public:
  // Creates the registry and starts serving it at http://<listen_address>/metrics.
  // `listen_address` is "host:port" ("127.0.0.1:9464", "0.0.0.0:0", "[::1]:0") or ":port" for
  // every IPv4 interface. Port 0 picks a free port; port() reports it.
  // INVALID_ARGUMENT if the address is malformed, UNAVAILABLE if it cannot be bound (most often:
  // the port is taken).
  static absl::StatusOr<std::unique_ptr<MetricsRegistry>> Start(std::string listen_address);

  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;
  // Stops the HTTP endpoint; this takes up to 2 s (civetweb's listener polls with a 2 s quantum).
  // REQUIRES: nothing still reports into registry() (stop gRPC servers, close channels and pools
  // first).
  ~MetricsRegistry();

  // The registry every library of this process registers its metric families on.
  prometheus::Registry& registry() { return *registry_; }
  // The same registry, for code that must share ownership (prometheus::Exposer, tests).
  const std::shared_ptr<prometheus::Registry>& shared_registry() const { return registry_; }

  // The TCP port /metrics is served on (the bound one when started with port 0).
  int port() const { return port_; }

 private:
  MetricsRegistry(std::shared_ptr<prometheus::Registry> registry,
                  std::unique_ptr<prometheus::Exposer> exposer, int port);

  // Declared before exposer_: the exposer stops serving before the registry goes away.
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  int port_;
};

}  // namespace tahe::metrics
