#pragma once

// Load generator for the ledger's posting paths, used by tahe_ledger_load (the benchmark binary)
// and by its smoke test. Two modes:
//
//  - post: `concurrency` closed-loop clients, each posting one 2-line entry (PostEntry) at a time,
//    as fast as the answers come back, for `warmup` + `duration`. Throughput and latency count
//    the calls that complete inside the measurement window (after the warm-up).
//  - bulk: one PostEntries stream of `entries` 2-line entries in batches of `batch_size`. The
//    batches are built before the clock starts, so only the import is timed.
//
//   tahe::bench::Target target{.address = "127.0.0.1:50051", .tenant = "bench",
//                              .internal_token = token};
//   RETURN_IF_ERROR(tahe::bench::SetUpTenant(target, tahe::bench::TodayUtc()));
//   ASSIGN_OR_RETURN(tahe::bench::PostLoadResult r,
//                    tahe::bench::RunPostLoad(target, {.concurrency = 64}));
//   std::cout << tahe::bench::ResultLine(r) << "\n";
//
// Every request id starts with a random run id, so repeated runs against the same database never
// replay each other's entries. Timing comes from std::chrono::steady_clock.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/bench/bench_common.h"

namespace tahe::bench {

struct PostLoadOptions {
  int concurrency = 64;
  absl::Duration warmup = absl::Seconds(3);
  absl::Duration duration = absl::Seconds(30);
  // Clients sharing one channel (one HTTP/2 connection); more channels spread the load over
  // several connections and server threads.
  int clients_per_channel = 8;
  // Organisations the clients are spread over (client i posts for tenant i % tenants): 1 is the
  // worst case, every post contending for one chain. Names as SpreadOverTenants; each must be set
  // up (SetUpTenant) first.
  int tenants = 1;
  // Request id prefix; empty: RandomRunId().
  std::string run_id;
  // "YYYY-MM-DD" of every entry; empty: TodayUtc(). Its period must be open.
  std::string entry_date;
  // Deadline of each call.
  absl::Duration call_timeout = absl::Seconds(30);
};

struct PostLoadResult {
  int concurrency = 0;
  int tenants = 0;
  int channels = 0;
  // Entries posted by calls that completed inside the measurement window.
  int64_t entries = 0;
  double seconds = 0;  // length of the measurement window
  double entries_per_s = 0;
  // Latency of the successful calls completed inside the window (nearest-rank percentiles).
  double p50_ms = 0;
  double p90_ms = 0;
  double p99_ms = 0;
  double max_ms = 0;
  // Failed calls over the whole run, warm-up included, and the first failure's message.
  int64_t errors = 0;
  std::string first_error;
  // Entries posted over the whole run, warm-up and drain included.
  int64_t entries_total = 0;
};

struct BulkLoadOptions {
  int64_t entries = 100000;
  int batch_size = 1000;
  std::string run_id;      // empty: RandomRunId()
  std::string entry_date;  // empty: TodayUtc()
  absl::Duration call_timeout = absl::Minutes(30);
};

struct BulkLoadResult {
  int64_t entries = 0;  // posted (the server's count)
  int64_t lines = 0;
  int64_t batches = 0;  // committed
  double seconds = 0;   // first Write to Finish
  double entries_per_s = 0;
  double lines_per_s = 0;
  // Rejected batches plus per-entry errors plus a failed call; and the first message.
  int64_t errors = 0;
  std::string first_error;
};

// Loads the default chart template (accounts 1910 and 3000 are used) and opens the period of
// `entry_date`. Both requests carry fixed request ids, so running it again is a no-op.
absl::Status SetUpTenant(const Target& target, const std::string& entry_date);

// The targets for `tenants` organisations: `target` itself when tenants == 1, otherwise its
// tenant with suffixes "-0", "-1", ...
std::vector<Target> SpreadOverTenants(const Target& target, int tenants);

// REQUIRES: options.concurrency >= 1, options.clients_per_channel >= 1, options.tenants >= 1,
// duration > 0.
absl::StatusOr<PostLoadResult> RunPostLoad(const Target& target, const PostLoadOptions& options);

// REQUIRES: options.entries >= 1, options.batch_size >= 1.
absl::StatusOr<BulkLoadResult> RunBulkLoad(const Target& target, const BulkLoadOptions& options);

// One line for people and one `RESULT key=value ...` line for scripts.
std::string HumanLine(const PostLoadResult& r);
std::string ResultLine(const PostLoadResult& r);
std::string HumanLine(const BulkLoadResult& r, const BulkLoadOptions& options);
std::string ResultLine(const BulkLoadResult& r, const BulkLoadOptions& options);

}  // namespace tahe::bench
