#pragma once

// Load generator for the gateway benchmark, used by tahe_gateway_load (the benchmark binary) and
// by its smoke test. One cheap unary read, the same whatever sits in front of the ledger: the
// balance of one account (tahe.ledger.v1.LedgerService/GetAccountBalance), which costs the ledger
// one read-only transaction over a handful of rows. Called directly on the cell, through the
// gateway or through another proxy, the only difference is the address and the metadata, so the
// figures compare what the hop in front of the ledger costs.
//
// `concurrency` closed-loop clients each issue one call at a time, the next from the completion
// callback of the previous one (gRPC's callback API: no thread per client), for `warmup` +
// `duration`. Throughput and latency count the calls that complete inside the measurement window.
//
//   // Direct: the internal credential and the tenant; through the gateway: the API key only.
//   tahe::bench::ReadLoadOptions direct{
//       .address = "127.0.0.1:50051",
//       .metadata = {{"x-tahe-internal-token", token}, {"x-tahe-tenant", "bench"}},
//       .concurrency = 64};
//   RETURN_IF_ERROR(tahe::bench::SetUpReadTenant(
//       {.address = "127.0.0.1:50051", .tenant = "bench", .internal_token = token}));
//   ASSIGN_OR_RETURN(tahe::bench::ReadLoadResult r, tahe::bench::RunReadLoad(direct));
//   std::cout << tahe::bench::ResultLine(r, "direct") << "\n";
//
// Timing comes from std::chrono::steady_clock.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/bench/ledger_load_driver.h"

namespace tahe::bench {

// The account every read asks for (one of the accounts SetUpReadTenant posts to).
inline constexpr char kReadAccount[] = "1910";

struct ReadLoadOptions {
  std::string address;  // host:port of whatever serves tahe.ledger.v1
  // The metadata of every call, keys lower-case: for the ledger x-tahe-internal-token and
  // x-tahe-tenant, for the gateway authorization ("Bearer <key>").
  std::vector<std::pair<std::string, std::string>> metadata;
  std::string account = kReadAccount;
  int concurrency = 64;
  // Clients sharing one channel (one HTTP/2 connection), as in PostLoadOptions.
  int clients_per_channel = 8;
  absl::Duration warmup = absl::Seconds(2);
  absl::Duration duration = absl::Seconds(10);
  // Deadline of each call.
  absl::Duration call_timeout = absl::Seconds(10);
  // Keep every measured latency in ReadLoadResult::latencies_us (to merge several runs).
  bool keep_latencies = false;
};

struct ReadLoadResult {
  int concurrency = 0;
  int channels = 0;
  // Successful calls completed inside the measurement window.
  int64_t calls = 0;
  double seconds = 0;  // length of the measurement window
  double calls_per_s = 0;
  // Latency of those calls in microseconds (nearest-rank percentiles).
  double p50_us = 0;
  double p90_us = 0;
  double p99_us = 0;
  double max_us = 0;
  // Failed calls over the whole run, warm-up included, and the first failure's message.
  int64_t errors = 0;
  std::string first_error;
  // Successful calls over the whole run, warm-up and drain included.
  int64_t calls_total = 0;
  // Sorted latencies of the measured calls, when ReadLoadOptions::keep_latencies.
  std::vector<double> latencies_us;
};

// REQUIRES: options.concurrency >= 1, options.clients_per_channel >= 1, duration > 0,
// warmup >= 0. A target that cannot be connected to within 10 s is UNAVAILABLE; failed calls are
// counted in the result, not returned as an error.
absl::StatusOr<ReadLoadResult> RunReadLoad(const ReadLoadOptions& options);

// Makes the read meaningful, directly on the ledger: SetUpTenant (chart template, the period of
// today), then `entries` small entries on kReadAccount dated today. Every request carries a fixed
// request id, so running it again is a no-op.
absl::Status SetUpReadTenant(const Target& ledger, int entries = 2);

// The gateway's directory for the benchmark tenant, made through its AdminService.
struct GatewayTenant {
  std::string gateway_address;  // host:port of the gateway
  std::string admin_api_key;    // a key with the role `admin`
  std::string region = "bench";
  // service prefix "tahe.ledger.v1" -> this address (as the gateway reaches the ledger)
  std::string ledger_address;
  std::string organisation = "bench";  // the tenant's slug, as the ledger knows it
  std::string business_id = "0135202-4";
};

// Creates the region and the organisation (fixed request ids: a replay with the same values is a
// no-op) and issues a new API key with the roles ledger.read and ledger.write for the
// organisation. Returns the whole key ("tahe_<key id>_<secret>").
absl::StatusOr<std::string> SetUpGatewayTenant(const GatewayTenant& tenant);

// One line for people and one `RESULT mode=read target=<target> key=value ...` line for scripts.
std::string HumanLine(const ReadLoadResult& r, const std::string& target);
std::string ResultLine(const ReadLoadResult& r, const std::string& target);

}  // namespace tahe::bench
