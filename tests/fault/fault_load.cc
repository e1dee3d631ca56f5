// tahe_fault_load: the posting load of the fault test (tests/fault/fault_test.sh) and its check.
//
//   # Post through the gateway until STOP_FILE exists (or --max_seconds), then let requests still
//   # failing retry for --drain_seconds; one record per request into --out.
//   tahe_fault_load --mode=post --addr=127.0.0.1:25050 --api_key_file=KEY
//       --tenants=lahti,phhyky,vaasa,seinajoki --clients=8 --stop_file=STOP --out=acks.tsv
//
//   # Compare the records with a dump of the ledgers (tests/fault/fault_load_lib.h says the
//   # formats); prints RESULT/TENANT/LOST/... lines, exits 1 if anything was lost, duplicated,
//   # unexpected or unbalanced.
//   tahe_fault_load --mode=check --acks=acks.tsv --ledger=ledger.tsv
//
// Each client is a thread posting one 2-line entry at a time (accounts 1910 / 3000 of the
// fi-municipal chart, dated --entry_date), with request id <run id>-c<client>-<n>, spread over
// the tenants in turn, source system "fault" and source reference = request id. An answer with a
// retryable code (UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, ABORTED) is retried with the
// SAME request id and the same entry after a short backoff (idempotency makes it safe), until it
// is acknowledged or the drain time is over; any other code ends that request as failed.
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "tahe/ledger/v1/ledger.grpc.pb.h"
#include "tests/fault/fault_load_lib.h"

ABSL_FLAG(std::string, mode, "post", "post: run the load; check: compare --acks with --ledger");
ABSL_FLAG(std::string, addr, "", "the gateway, host:port");
ABSL_FLAG(std::string, api_key_file, "", "file holding an API key with ledger.write");
ABSL_FLAG(std::string, tenants, "lahti", "organisations to post for, comma-separated");
ABSL_FLAG(int, clients, 8, "concurrent clients (threads), each with one request in flight");
ABSL_FLAG(std::string, stop_file, "", "stop starting new requests once this file exists");
ABSL_FLAG(int, max_seconds, 600, "stop starting new requests after this many seconds anyway");
ABSL_FLAG(int, drain_seconds, 90,
          "after the stop, how long a request still failing keeps being retried");
ABSL_FLAG(int, call_timeout_ms, 5000, "deadline of each call");
ABSL_FLAG(int, pause_ms, 0,
          "pause of each client between requests (0: closed loop; leaves the 2-core test machine "
          "room for the services' restarts)");
ABSL_FLAG(std::string, entry_date, "", "YYYY-MM-DD of every entry (default: today, UTC)");
ABSL_FLAG(std::string, run_id, "", "request id prefix (default: fault-<random>)");
ABSL_FLAG(std::string, out, "", "post: file for the per-request records");
ABSL_FLAG(std::string, acks, "", "check: the records of the load");
ABSL_FLAG(std::string, ledger, "", "check: the ledger dump");

namespace {

namespace v1 = ::tahe::ledger::v1;
using tahe::fault::AckRecord;
using tahe::fault::AckStatus;
using Clock = std::chrono::steady_clock;

std::string TodayUtc() {
  absl::CivilDay day = absl::ToCivilDay(absl::Now(), absl::UTCTimeZone());
  return absl::StrFormat("%04d-%02d-%02d", day.year(), day.month(), day.day());
}

std::string RandomHex() {
  std::random_device device;
  std::mt19937_64 rng((static_cast<uint64_t>(device()) << 32) ^ device());
  return absl::StrFormat("%08x", rng() & 0xffffffffULL);
}

struct LoadConfig {
  std::string address;
  std::string api_key;
  std::vector<std::string> tenants;
  std::string entry_date;
  std::string run_id;
  std::string stop_file;
  absl::Duration call_timeout;
  absl::Duration max_run;
  absl::Duration drain;
  absl::Duration pause;
};

// What every client shares: the moment new requests stop, and the records.
class LoadState {
 public:
  LoadState(const LoadConfig& config, Clock::time_point start) : config_(config), start_(start) {}

  // True once the stop file exists or the run is over; from then on a request that is still
  // failing is retried only until DrainDeadline().
  bool StopRequested() {
    if (stopped_.load()) {
      return true;
    }
    bool stop = Clock::now() - start_ > absl::ToChronoMilliseconds(config_.max_run) ||
                (!config_.stop_file.empty() && std::filesystem::exists(config_.stop_file));
    if (stop) {
      std::lock_guard<std::mutex> lock(mu_);
      if (!stopped_.load()) {
        stop_time_ = Clock::now();
        stopped_.store(true);
      }
    }
    return stop;
  }
  bool PastDrainDeadline() {
    if (!StopRequested()) {
      return false;
    }
    std::lock_guard<std::mutex> lock(mu_);
    return Clock::now() - stop_time_ > absl::ToChronoMilliseconds(config_.drain);
  }
  void Record(AckRecord record) {
    std::lock_guard<std::mutex> lock(mu_);
    records_.push_back(std::move(record));
  }
  std::vector<AckRecord> TakeRecords() {
    std::lock_guard<std::mutex> lock(mu_);
    return std::move(records_);
  }

 private:
  const LoadConfig& config_;
  const Clock::time_point start_;
  std::atomic<bool> stopped_{false};
  std::mutex mu_;
  Clock::time_point stop_time_;     // guarded by mu_
  std::vector<AckRecord> records_;  // guarded by mu_
};

void FillEntry(v1::PostEntryRequest* req, const std::string& request_id,
               const std::string& entry_date, int64_t amount_minor) {
  req->set_request_id(request_id);
  v1::EntryDraft* e = req->mutable_entry();
  e->set_entry_date(entry_date);
  e->set_description("fault test: card sale");
  e->mutable_source()->set_system("fault");
  e->mutable_source()->set_reference(request_id);
  v1::EntryLine* debit = e->add_lines();
  debit->set_account("1910");
  debit->mutable_amount()->set_amount_minor(amount_minor);
  debit->mutable_amount()->set_currency_code("EUR");
  v1::EntryLine* credit = e->add_lines();
  credit->set_account("3000");
  credit->mutable_amount()->set_amount_minor(-amount_minor);
  credit->mutable_amount()->set_currency_code("EUR");
}

// One client: one request at a time, each retried with its own request id until acknowledged.
void RunClient(const LoadConfig& config, LoadState* state, int index) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // a connection of its own
  // Reconnect quickly after the gateway comes back (the default backoff grows to 120 s).
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  auto channel =
      grpc::CreateCustomChannel(config.address, grpc::InsecureChannelCredentials(), args);
  auto stub = v1::LedgerService::NewStub(channel);

  for (int64_t n = 0; !state->StopRequested(); ++n) {
    AckRecord record;
    record.tenant = config.tenants[(index + n) % config.tenants.size()];
    record.request_id = absl::StrCat(config.run_id, "-c", index, "-", n);
    v1::PostEntryRequest request;
    FillEntry(&request, record.request_id, config.entry_date, 100 + (n * 37 + index) % 100000);
    absl::Duration backoff = absl::Milliseconds(50);
    while (true) {
      grpc::ClientContext ctx;
      ctx.AddMetadata("authorization", absl::StrCat("Bearer ", config.api_key));
      ctx.AddMetadata("x-tahe-tenant", record.tenant);
      ctx.AddMetadata("x-request-id", record.request_id);
      ctx.set_deadline(std::chrono::system_clock::now() +
                       absl::ToChronoMilliseconds(config.call_timeout));
      v1::PostEntryResponse response;
      grpc::Status status = stub->PostEntry(&ctx, request, &response);
      ++record.attempts;
      if (status.ok()) {
        record.status = AckStatus::kAcknowledged;
        record.sequence = response.entry().sequence();
        record.replayed = response.replayed();
        record.detail.clear();
        break;
      }
      record.detail = absl::StrCat(status.error_code(), " ", status.error_message());
      if (!tahe::fault::IsRetryableCode(status.error_code())) {
        record.status = AckStatus::kFailed;
        break;
      }
      if (state->PastDrainDeadline()) {
        record.status = AckStatus::kUnacknowledged;
        break;
      }
      absl::SleepFor(backoff);
      backoff = std::min(backoff * 2, absl::Seconds(1));
    }
    state->Record(std::move(record));
    if (config.pause > absl::ZeroDuration()) {
      absl::SleepFor(config.pause);
    }
  }
}

int Post() {
  LoadConfig config;
  config.address = absl::GetFlag(FLAGS_addr);
  std::ifstream key_file(absl::GetFlag(FLAGS_api_key_file));
  std::getline(key_file, config.api_key);
  config.api_key = std::string(absl::StripAsciiWhitespace(config.api_key));
  for (absl::string_view t : absl::StrSplit(absl::GetFlag(FLAGS_tenants), ',', absl::SkipEmpty())) {
    config.tenants.emplace_back(t);
  }
  const std::string out = absl::GetFlag(FLAGS_out);
  const int clients = absl::GetFlag(FLAGS_clients);
  if (config.address.empty() || config.api_key.empty() || config.tenants.empty() || out.empty() ||
      clients < 1) {
    std::cerr << "tahe_fault_load: --addr, --api_key_file (not empty), --tenants, --out and "
                 "--clients >= 1 are required\n";
    return 2;
  }
  config.entry_date =
      absl::GetFlag(FLAGS_entry_date).empty() ? TodayUtc() : absl::GetFlag(FLAGS_entry_date);
  config.run_id = absl::GetFlag(FLAGS_run_id).empty() ? absl::StrCat("fault-", RandomHex())
                                                      : absl::GetFlag(FLAGS_run_id);
  config.stop_file = absl::GetFlag(FLAGS_stop_file);
  config.call_timeout = absl::Milliseconds(absl::GetFlag(FLAGS_call_timeout_ms));
  config.max_run = absl::Seconds(absl::GetFlag(FLAGS_max_seconds));
  config.drain = absl::Seconds(absl::GetFlag(FLAGS_drain_seconds));
  config.pause = absl::Milliseconds(absl::GetFlag(FLAGS_pause_ms));

  const Clock::time_point start = Clock::now();
  LoadState state(config, start);
  std::vector<std::thread> threads;
  for (int i = 0; i < clients; ++i) {
    threads.emplace_back(RunClient, std::cref(config), &state, i);
  }
  for (std::thread& t : threads) {
    t.join();
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();

  std::vector<AckRecord> records = state.TakeRecords();
  std::ofstream file(out);
  for (const AckRecord& r : records) {
    file << tahe::fault::FormatAckLine(r) << "\n";
  }
  file.close();
  if (!file) {
    std::cerr << "tahe_fault_load: cannot write " << out << "\n";
    return 1;
  }
  tahe::fault::AckSummary s = tahe::fault::Summarise(records);
  std::cout << absl::StrFormat(
      "RESULT run_id=%s clients=%d seconds=%.1f attempted=%d acknowledged=%d unacknowledged=%d "
      "failed=%d retried=%d replayed=%d calls=%d\n",
      config.run_id, clients, seconds, s.attempted, s.acknowledged, s.unacknowledged, s.failed,
      s.retried, s.replayed, s.calls);
  return 0;
}

template <typename T, typename Parse>
bool ReadRecords(const std::string& path, Parse parse, std::vector<T>* out) {
  std::ifstream in(path);
  if (!in) {
    std::cerr << "tahe_fault_load: cannot read " << path << "\n";
    return false;
  }
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) {
      continue;
    }
    auto parsed = parse(line);
    if (!parsed.ok()) {
      std::cerr << "tahe_fault_load: " << path << ": " << parsed.status().message() << "\n";
      return false;
    }
    out->push_back(*std::move(parsed));
  }
  return true;
}

int Check() {
  std::vector<AckRecord> acks;
  std::vector<tahe::fault::LedgerEntry> ledger;
  if (!ReadRecords(absl::GetFlag(FLAGS_acks), tahe::fault::ParseAckLine, &acks) ||
      !ReadRecords(absl::GetFlag(FLAGS_ledger), tahe::fault::ParseLedgerLine, &ledger)) {
    return 2;
  }
  tahe::fault::Comparison c = tahe::fault::CompareWithLedger(acks, ledger, {});
  std::cout << tahe::fault::ComparisonReport(c);
  return c.ok() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> rest = absl::ParseCommandLine(argc, argv);
  if (rest.size() > 1) {
    std::cerr << "tahe_fault_load: unexpected argument " << rest[1] << "\n";
    return 2;
  }
  const std::string mode = absl::GetFlag(FLAGS_mode);
  if (mode == "post") {
    return Post();
  }
  if (mode == "check") {
    return Check();
  }
  std::cerr << "tahe_fault_load: --mode is post or check\n";
  return 2;
}
