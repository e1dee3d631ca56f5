// tahe_ledger_load: posts 2-line entries to a running ledger and prints throughput and latency.
// Wiring only; the load itself is in ledger_load_driver.h. Used by run_ledger_bench.sh.
//
//   tahe_ledger_load --addr=127.0.0.1:50051 --tenant=bench --internal_token_file=token
//                    --mode=post --concurrency=64 --warmup_seconds=3 --duration_seconds=30
//   tahe_ledger_load ... --mode=bulk --entries=100000 --batch_size=1000
//
// Prints one line for people, then one `RESULT mode=... key=value ...` line for scripts. Exits 0
// when the run completed (even with failed calls: `errors=` says how many), 1 when it could not
// run at all, 2 on a bad flag.

#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "libs/config/config.h"
#include "tests/bench/ledger_load_driver.h"

ABSL_FLAG(std::string, addr, "127.0.0.1:50051", "Ledger gRPC address host:port");
ABSL_FLAG(std::string, tenant, "bench", "Organisation slug (x-tahe-tenant)");
ABSL_FLAG(std::string, internal_token_file, "", "File holding the internal credential");
ABSL_FLAG(std::string, mode, "post", "post: concurrent PostEntry; bulk: one PostEntries stream");
ABSL_FLAG(int, concurrency, 64, "post: clients, each with one call in flight");
ABSL_FLAG(int, clients_per_channel, 8, "post: clients sharing one HTTP/2 connection");
ABSL_FLAG(int, tenants, 1,
          "post: organisations to spread the clients over (--tenant with suffixes -0, -1, ... "
          "when > 1); 1 puts every post on one hash chain");
ABSL_FLAG(double, duration_seconds, 30, "post: length of the measurement window");
ABSL_FLAG(double, warmup_seconds, 3, "post: load before the measurement window starts");
ABSL_FLAG(int64_t, entries, 100000, "bulk: entries to import");
ABSL_FLAG(int, batch_size, 1000, "bulk: entries per streamed (atomic) batch");
ABSL_FLAG(std::string, entry_date, "", "Date of every entry, YYYY-MM-DD; empty: today (UTC)");
ABSL_FLAG(bool, setup, true, "Load the chart template and open the period first");

using tahe::bench::Fail;

int main(int argc, char** argv) {
  tahe::bench::InitBenchBinary(argc, argv);
  const std::string mode = absl::GetFlag(FLAGS_mode);
  if (mode != "post" && mode != "bulk") {
    tahe::config::DieOnBadConfig(absl::InvalidArgumentError("--mode: post or bulk"));
  }
  tahe::config::ExitIfError(tahe::config::ValidateHostPort("--addr", absl::GetFlag(FLAGS_addr)));
  tahe::config::ExitIfError(
      tahe::config::ValidateRange("--concurrency", absl::GetFlag(FLAGS_concurrency), 1, 10000));
  tahe::config::ExitIfError(tahe::config::ValidateRange(
      "--clients_per_channel", absl::GetFlag(FLAGS_clients_per_channel), 1, 10000));
  tahe::config::ExitIfError(
      tahe::config::ValidateRange("--tenants", absl::GetFlag(FLAGS_tenants), 1, 10000));
  tahe::config::ExitIfError(
      tahe::config::ValidateRange("--batch_size", absl::GetFlag(FLAGS_batch_size), 1, 1000000));
  if (absl::GetFlag(FLAGS_duration_seconds) <= 0 || absl::GetFlag(FLAGS_warmup_seconds) < 0) {
    tahe::config::DieOnBadConfig(
        absl::InvalidArgumentError("--duration_seconds must be > 0 and --warmup_seconds >= 0"));
  }
  if (absl::GetFlag(FLAGS_entries) < 1) {
    tahe::config::DieOnBadConfig(absl::InvalidArgumentError("--entries must be >= 1"));
  }
  absl::StatusOr<std::string> token = tahe::bench::ReadCredentialFile(
      "--internal_token_file", absl::GetFlag(FLAGS_internal_token_file));
  tahe::config::ExitIfError(token.status());

  const tahe::bench::Target target{.address = absl::GetFlag(FLAGS_addr),
                                   .tenant = absl::GetFlag(FLAGS_tenant),
                                   .internal_token = *token};
  const std::string entry_date = absl::GetFlag(FLAGS_entry_date).empty()
                                     ? tahe::bench::TodayUtc()
                                     : absl::GetFlag(FLAGS_entry_date);
  const std::string run_id = tahe::bench::RandomRunId();
  const int tenants = mode == "post" ? absl::GetFlag(FLAGS_tenants) : 1;
  if (absl::GetFlag(FLAGS_setup)) {
    for (const tahe::bench::Target& t : tahe::bench::SpreadOverTenants(target, tenants)) {
      if (absl::Status s = tahe::bench::SetUpTenant(t, entry_date); !s.ok()) {
        return Fail(s);
      }
    }
  }

  if (mode == "post") {
    tahe::bench::PostLoadOptions options{
        .concurrency = absl::GetFlag(FLAGS_concurrency),
        .warmup = absl::Seconds(absl::GetFlag(FLAGS_warmup_seconds)),
        .duration = absl::Seconds(absl::GetFlag(FLAGS_duration_seconds)),
        .clients_per_channel = absl::GetFlag(FLAGS_clients_per_channel),
        .tenants = tenants,
        .run_id = run_id,
        .entry_date = entry_date};
    absl::StatusOr<tahe::bench::PostLoadResult> r = tahe::bench::RunPostLoad(target, options);
    if (!r.ok()) {
      return Fail(r.status());
    }
    std::cout << tahe::bench::HumanLine(*r) << "\n" << tahe::bench::ResultLine(*r) << std::endl;
    return 0;
  }
  tahe::bench::BulkLoadOptions options{.entries = absl::GetFlag(FLAGS_entries),
                                       .batch_size = absl::GetFlag(FLAGS_batch_size),
                                       .run_id = run_id,
                                       .entry_date = entry_date};
  absl::StatusOr<tahe::bench::BulkLoadResult> r = tahe::bench::RunBulkLoad(target, options);
  if (!r.ok()) {
    return Fail(r.status());
  }
  std::cout << tahe::bench::HumanLine(*r, options) << "\n"
            << tahe::bench::ResultLine(*r, options) << std::endl;
  return 0;
}
