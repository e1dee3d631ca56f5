// tahe_soak_load: the load of the soak test (tests/load/soak.sh), through the gateway with one API
// key serving several organisations (the local suite's demo operator key).
//
//   # Capacity: closed-loop clients, each with one call of the mix in flight, as fast as the
//   # answers come back; prints one RESULT line with calls_per_s.
//   tahe_soak_load --mode=capacity --addr=127.0.0.1:25050 --bearer_file=key
//       --concurrency=32 --warmup_seconds=2 --duration_seconds=10
//
//   # Soak: an open loop at a fixed rate for a fixed time; a WINDOW line every
//   # --report_every_seconds, then a RESULT line with the totals.
//   tahe_soak_load --mode=soak --addr=127.0.0.1:25050 --bearer_file=key
//       --rate=400 --duration_seconds=600 --report_every_seconds=60
//
// The mix (--mix, NAME:WEIGHT,...): post = PostEntry of a balanced 2-line entry dated today
// (ledger; reporting then follows it through the change feed), balance = GetAccountBalance of
// --balance_account (ledger; by default 1700, which the posts leave alone: the ledger sums every
// line of the account on each read, so a read of 1910 would get slower with every post and the
// load would not stay steady), trial_balance = reporting's GetTrialBalance of this month, employees
// = payroll's ListEmployees, customers = invoicing's ListCustomers (first page of 10). Call i gets
// the op of a fixed weighted pattern (i modulo the sum of the weights) and organisation i % (number
// of
// --tenants), so every service of every cell gets a steady share.
//
// Open loop: call i is due at start + i / rate. One pacing thread starts each call when it is due
// (gRPC callback API), whatever happened to the calls before it, so a slow server gets the calls
// queued rather than fewer calls (no coordinated omission); latency runs from the due time to the
// completion. Bounded in time and count: exactly round(rate * duration) calls are due, each with a
// --call_timeout_seconds deadline, and at most --max_in_flight are outstanding: a call due while
// that many are outstanding is not sent and counted as `skipped`.
//
// Windows are by completion time: window k (1-based) holds the calls that completed in
// [(k-1) * S, k * S) after the start; completions after the end (the drain) go to the last one.
//   WINDOW index=3 end_s=180.0 due=... sent=... skipped=... completed=... ok=... errors=...
//       p50_us=... p99_us=... max_us=... in_flight=... codes=OK:12000,UNAVAILABLE:2
//   RESULT mode=soak rate=... seconds=... due=... sent=... skipped=... completed=... ok=...
//       errors=... p50_us=... p99_us=... codes=...
// `errors` counts every completion that is not OK; `codes` names each status code (OK included).
//
// Exit status: 0 when every call completed OK, 1 when the run could not be made or any call failed
// or was skipped (the RESULT line is printed first and says how many), 2 on a bad flag.

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "libs/config/config.h"
#include "libs/status/status.h"
#include "tahe/invoicing/v1/invoicing.grpc.pb.h"
#include "tahe/ledger/v1/ledger.grpc.pb.h"
#include "tahe/payroll/v1/payroll.grpc.pb.h"
#include "tahe/reporting/v1/reporting.grpc.pb.h"
#include "tests/bench/bench_common.h"

ABSL_FLAG(std::string, mode, "soak", "capacity: closed loop, as fast as possible; soak: open loop");
ABSL_FLAG(std::string, addr, "127.0.0.1:25050", "the gateway, host:port");
ABSL_FLAG(std::string, bearer_file, "", "file holding the API key (sent as Bearer)");
ABSL_FLAG(std::string, tenants, "lahti,phhyky,vaasa,seinajoki",
          "organisations the calls are spread over (x-tahe-tenant), comma-separated");
ABSL_FLAG(std::string, mix, "post:4,balance:3,trial_balance:1,employees:1,customers:1",
          "ops and their weights: post, balance, trial_balance, employees, customers");
ABSL_FLAG(std::string, balance_account, "1700",
          "balance: the account read; not 1910, which every post adds a line to (the ledger sums "
          "an account's lines per read, so that read would slow down as the soak goes on)");
ABSL_FLAG(int, channels, 4, "HTTP/2 connections to the gateway the calls are spread over");
ABSL_FLAG(int, concurrency, 32, "capacity: closed-loop clients, each with one call in flight");
ABSL_FLAG(double, warmup_seconds, 2, "capacity: load before the measurement window");
ABSL_FLAG(double, duration_seconds, 10, "capacity: measurement window; soak: length of the run");
ABSL_FLAG(double, rate, 100, "soak: calls per second, over every op and organisation");
ABSL_FLAG(double, report_every_seconds, 10, "soak: length of a WINDOW");
ABSL_FLAG(int, max_in_flight, 2000, "soak: outstanding calls at most; beyond: skipped");
ABSL_FLAG(double, call_timeout_seconds, 10, "deadline of every call");

namespace {

namespace ledger_v1 = ::tahe::ledger::v1;
namespace payroll_v1 = ::tahe::payroll::v1;
namespace invoicing_v1 = ::tahe::invoicing::v1;
namespace reporting_v1 = ::tahe::reporting::v1;
using Clock = std::chrono::steady_clock;
using Done = std::function<void(grpc::Status)>;

enum class Op { kPost, kBalance, kTrialBalance, kEmployees, kCustomers };

absl::StatusOr<Op> ParseOp(const std::string& name) {
  if (name == "post") return Op::kPost;
  if (name == "balance") return Op::kBalance;
  if (name == "trial_balance") return Op::kTrialBalance;
  if (name == "employees") return Op::kEmployees;
  if (name == "customers") return Op::kCustomers;
  return absl::InvalidArgumentError(absl::StrCat(
      "--mix: unknown op '", name, "' (post, balance, trial_balance, employees, customers)"));
}

// "post:4,balance:3" -> the op of every slot of the weighted pattern, in order.
absl::StatusOr<std::vector<Op>> ParseMix(const std::string& mix) {
  std::vector<Op> pattern;
  for (absl::string_view item : absl::StrSplit(mix, ',', absl::SkipEmpty())) {
    std::vector<std::string> parts = absl::StrSplit(item, ':');
    int weight = 0;
    if (parts.size() != 2 || !absl::SimpleAtoi(parts[1], &weight) || weight < 0 || weight > 1000) {
      return absl::InvalidArgumentError(
          absl::StrCat("--mix: NAME:WEIGHT (0..1000), not '", item, "'"));
    }
    absl::StatusOr<Op> op = ParseOp(parts[0]);
    if (!op.ok()) {
      return op.status();
    }
    pattern.insert(pattern.end(), weight, *op);
  }
  if (pattern.empty()) {
    return absl::InvalidArgumentError("--mix: at least one op with a weight above 0");
  }
  return pattern;
}

// Everything a call needs: the stubs of one channel each, the key, the organisations, the mix.
class Caller {
 public:
  Caller(std::vector<std::shared_ptr<grpc::Channel>> channels, std::string api_key,
         std::vector<std::string> tenants, std::vector<Op> pattern, absl::Duration timeout)
      : api_key_(std::move(api_key)),
        tenants_(std::move(tenants)),
        pattern_(std::move(pattern)),
        timeout_(timeout),
        run_id_(tahe::bench::RandomRunId()),
        today_(tahe::bench::TodayUtc()),
        balance_account_(absl::GetFlag(FLAGS_balance_account)) {
    for (const std::shared_ptr<grpc::Channel>& channel : channels) {
      ledger_.push_back(ledger_v1::LedgerService::NewStub(channel));
      payroll_.push_back(payroll_v1::PayrollService::NewStub(channel));
      invoicing_.push_back(invoicing_v1::InvoicingService::NewStub(channel));
      reporting_.push_back(reporting_v1::ReportingService::NewStub(channel));
    }
  }

  // Starts call `index` on `ctx` (fresh); `done` runs when it completes.
  void Start(int64_t index, grpc::ClientContext* ctx, Done done) {
    const std::string& tenant = tenants_[index % static_cast<int64_t>(tenants_.size())];
    ctx->AddMetadata("authorization", absl::StrCat("Bearer ", api_key_));
    ctx->AddMetadata("x-tahe-tenant", tenant);
    tahe::bench::SetDeadline(ctx, timeout_);
    const size_t channel = static_cast<size_t>(index) % ledger_.size();
    switch (pattern_[index % static_cast<int64_t>(pattern_.size())]) {
      case Op::kPost: {
        auto req = std::make_shared<ledger_v1::PostEntryRequest>();
        req->set_request_id(absl::StrCat("soak-", run_id_, "-", index));
        ledger_v1::EntryDraft* e = req->mutable_entry();
        e->set_entry_date(today_);
        e->set_description("soak: card sale");
        e->mutable_source()->set_system("soak");
        e->mutable_source()->set_reference(req->request_id());
        const int64_t amount = 100 + index % 10000;
        AddLine(e, "1910", amount);
        AddLine(e, "3000", -amount);
        ctx->AddMetadata("x-request-id", req->request_id());
        auto resp = std::make_shared<ledger_v1::PostEntryResponse>();
        ledger_[channel]->async()->PostEntry(ctx, req.get(), resp.get(),
                                             [req, resp, done](grpc::Status s) { done(s); });
        return;
      }
      case Op::kBalance: {
        auto req = std::make_shared<ledger_v1::GetAccountBalanceRequest>();
        req->set_account(balance_account_);
        auto resp = std::make_shared<ledger_v1::GetAccountBalanceResponse>();
        ledger_[channel]->async()->GetAccountBalance(
            ctx, req.get(), resp.get(), [req, resp, done](grpc::Status s) { done(s); });
        return;
      }
      case Op::kTrialBalance: {
        auto req = std::make_shared<reporting_v1::GetTrialBalanceRequest>();
        req->mutable_scope()->set_from_date(absl::StrCat(today_.substr(0, 8), "01"));
        req->mutable_scope()->set_to_date(today_);
        auto resp = std::make_shared<reporting_v1::TrialBalance>();
        reporting_[channel]->async()->GetTrialBalance(
            ctx, req.get(), resp.get(), [req, resp, done](grpc::Status s) { done(s); });
        return;
      }
      case Op::kEmployees: {
        auto req = std::make_shared<payroll_v1::ListEmployeesRequest>();
        req->set_page_size(10);
        auto resp = std::make_shared<payroll_v1::ListEmployeesResponse>();
        payroll_[channel]->async()->ListEmployees(ctx, req.get(), resp.get(),
                                                  [req, resp, done](grpc::Status s) { done(s); });
        return;
      }
      case Op::kCustomers: {
        auto req = std::make_shared<invoicing_v1::ListCustomersRequest>();
        req->set_page_size(10);
        auto resp = std::make_shared<invoicing_v1::ListCustomersResponse>();
        invoicing_[channel]->async()->ListCustomers(ctx, req.get(), resp.get(),
                                                    [req, resp, done](grpc::Status s) { done(s); });
        return;
      }
    }
  }

 private:
  static void AddLine(ledger_v1::EntryDraft* e, const char* account, int64_t cents) {
    ledger_v1::EntryLine* line = e->add_lines();
    line->set_account(account);
    line->mutable_amount()->set_amount_minor(cents);
    line->mutable_amount()->set_currency_code("EUR");
  }

  const std::string api_key_;
  const std::vector<std::string> tenants_;
  const std::vector<Op> pattern_;
  const absl::Duration timeout_;
  const std::string run_id_;
  const std::string today_;
  const std::string balance_account_;
  std::vector<std::unique_ptr<ledger_v1::LedgerService::Stub>> ledger_;
  std::vector<std::unique_ptr<payroll_v1::PayrollService::Stub>> payroll_;
  std::vector<std::unique_ptr<invoicing_v1::InvoicingService::Stub>> invoicing_;
  std::vector<std::unique_ptr<reporting_v1::ReportingService::Stub>> reporting_;
};

// --- capacity: closed loop -----------------------------------------------------------------------

class MixClient final : public tahe::bench::ClosedLoopClient {
 public:
  MixClient(Caller* caller, int id, int clients) : caller_(caller), next_(id), step_(clients) {}

 private:
  void StartCall(grpc::ClientContext* ctx, Done done) override {
    const int64_t index = next_;
    next_ += step_;
    caller_->Start(index, ctx, std::move(done));
  }

  Caller* const caller_;
  int64_t next_;
  const int step_;
};

int RunCapacity(Caller& caller) {
  const int concurrency = absl::GetFlag(FLAGS_concurrency);
  const absl::Duration duration = absl::Seconds(absl::GetFlag(FLAGS_duration_seconds));
  std::vector<std::unique_ptr<tahe::bench::ClosedLoopClient>> clients;
  for (int i = 0; i < concurrency; ++i) {
    clients.push_back(std::make_unique<MixClient>(&caller, i, concurrency));
  }
  tahe::bench::ClosedLoopResult r = tahe::bench::RunClosedLoop(
      clients, absl::Seconds(absl::GetFlag(FLAGS_warmup_seconds)), duration);
  const double seconds = absl::ToDoubleSeconds(duration);
  const double per_s = static_cast<double>(r.calls_in_window) / seconds;
  std::cout << absl::StrFormat(
                   "capacity: %d clients, %d calls in %.1f s = %.0f calls/s; latency p50 %.0f us, "
                   "p99 %.0f us; %d errors%s",
                   concurrency, r.calls_in_window, seconds, per_s,
                   tahe::bench::Percentile(r.latencies_us, 0.50),
                   tahe::bench::Percentile(r.latencies_us, 0.99), r.errors,
                   r.first_error.empty() ? "" : absl::StrCat(" (first: ", r.first_error, ")"))
            << "\n"
            << absl::StrFormat(
                   "RESULT mode=capacity concurrency=%d calls=%d seconds=%.3f calls_per_s=%.1f "
                   "p50_us=%.1f p99_us=%.1f errors=%d calls_total=%d",
                   concurrency, r.calls_in_window, seconds, per_s,
                   tahe::bench::Percentile(r.latencies_us, 0.50),
                   tahe::bench::Percentile(r.latencies_us, 0.99), r.errors, r.calls_total)
            << std::endl;
  return r.errors == 0 ? 0 : 1;
}

// --- soak: open loop -----------------------------------------------------------------------------

// The counts of one window (or of the whole run).
struct Tally {
  int64_t sent = 0;
  int64_t skipped = 0;
  int64_t completed = 0;
  std::map<int, int64_t> codes;  // grpc::StatusCode -> completions
  std::vector<double> latencies_us;

  void Add(const Tally& other) {
    sent += other.sent;
    skipped += other.skipped;
    completed += other.completed;
    for (const auto& [code, n] : other.codes) {
      codes[code] += n;
    }
    latencies_us.insert(latencies_us.end(), other.latencies_us.begin(), other.latencies_us.end());
  }
  int64_t ok() const {
    auto it = codes.find(0);
    return it == codes.end() ? 0 : it->second;
  }
  // "OK:120,UNAVAILABLE:2"
  std::string CodeList() const {
    std::string out;
    for (const auto& [code, n] : codes) {
      absl::StrAppend(&out, out.empty() ? "" : ",",
                      tahe::CodeName(static_cast<absl::StatusCode>(code)), ":", n);
    }
    return out.empty() ? "-" : out;
  }
  // " p50_us=... p99_us=... max_us=..." of the sorted latencies.
  std::string Latencies() {
    std::sort(latencies_us.begin(), latencies_us.end());
    return absl::StrFormat(" p50_us=%.1f p99_us=%.1f max_us=%.1f",
                           tahe::bench::Percentile(latencies_us, 0.50),
                           tahe::bench::Percentile(latencies_us, 0.99),
                           latencies_us.empty() ? 0.0 : latencies_us.back());
  }
};

class OpenLoop {
 public:
  OpenLoop(Caller* caller, double rate, absl::Duration duration, absl::Duration window,
           int max_in_flight)
      : caller_(caller),
        rate_(rate),
        duration_(duration),
        window_(absl::ToChronoNanoseconds(window)),
        max_in_flight_(max_in_flight),
        due_total_(static_cast<int64_t>(rate * absl::ToDoubleSeconds(duration) + 0.5)),
        windows_(std::max(
            1, static_cast<int>(std::ceil(absl::FDivDuration(duration, window) - 1e-9)))) {}

  // Runs the loop, printing a WINDOW line at the end of each window; returns the totals.
  Tally Run() {
    start_ = Clock::now();
    std::thread reporter([this] { Report(); });
    for (int64_t i = 0; i < due_total_; ++i) {
      const Clock::time_point due =
          start_ + std::chrono::duration_cast<Clock::duration>(
                       std::chrono::duration<double>(static_cast<double>(i) / rate_));
      std::this_thread::sleep_until(due);
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (in_flight_ >= max_in_flight_) {
          ++current_.skipped;
          continue;
        }
        ++in_flight_;
        ++current_.sent;
      }
      auto* ctx = new grpc::ClientContext();
      caller_->Start(i, ctx, [this, ctx, due](grpc::Status s) {
        const Clock::time_point now = Clock::now();
        delete ctx;
        std::lock_guard<std::mutex> lock(mu_);
        ++current_.completed;
        ++current_.codes[static_cast<int>(s.error_code())];
        if (s.ok()) {
          current_.latencies_us.push_back(
              std::chrono::duration<double, std::micro>(now - due).count());
        } else if (first_error_.empty()) {
          first_error_ = tahe::bench::StatusText(s);
        }
        if (--in_flight_ == 0) {
          drained_.notify_all();
        }
      });
    }
    {
      std::unique_lock<std::mutex> lock(mu_);
      pacing_done_ = true;
      drained_.notify_all();
      drained_.wait(lock, [this] { return in_flight_ == 0; });
    }
    reporter.join();
    return totals_;
  }

  const std::string& first_error() const { return first_error_; }
  int64_t due_total() const { return due_total_; }

 private:
  // Prints windows 1 .. windows_ - 1 at their ends, and the last one once every call is done.
  void Report() {
    for (int k = 1; k <= windows_; ++k) {
      Tally window;
      int64_t in_flight = 0;
      if (k < windows_) {
        std::this_thread::sleep_until(start_ + k * window_);
        std::lock_guard<std::mutex> lock(mu_);
        window = std::exchange(current_, Tally());
        in_flight = in_flight_;
      } else {
        std::unique_lock<std::mutex> lock(mu_);
        drained_.wait(lock, [this] { return pacing_done_ && in_flight_ == 0; });
        window = std::exchange(current_, Tally());
      }
      const double end_s = std::chrono::duration<double>(Clock::now() - start_).count();
      const int64_t due =
          std::min<int64_t>(
              due_total_,
              static_cast<int64_t>(std::min(end_s, absl::ToDoubleSeconds(duration_)) * rate_)) -
          due_reported_;
      due_reported_ += due;
      totals_.Add(window);
      std::cout << absl::StrFormat(
                       "WINDOW index=%d end_s=%.1f due=%d sent=%d skipped=%d completed=%d ok=%d "
                       "errors=%d",
                       k, end_s, due, window.sent, window.skipped, window.completed, window.ok(),
                       window.completed - window.ok())
                << window.Latencies()
                << absl::StrFormat(" in_flight=%d codes=%s", in_flight, window.CodeList())
                << std::endl;
    }
  }

  Caller* const caller_;
  const double rate_;
  const absl::Duration duration_;
  const std::chrono::nanoseconds window_;
  const int max_in_flight_;
  const int64_t due_total_;
  const int windows_;
  Clock::time_point start_;

  std::mutex mu_;
  std::condition_variable drained_;
  Tally current_;             // guarded by mu_
  int64_t in_flight_ = 0;     // guarded by mu_
  bool pacing_done_ = false;  // guarded by mu_
  std::string first_error_;   // guarded by mu_ (read after Run)

  // The reporter thread's own.
  Tally totals_;
  int64_t due_reported_ = 0;
};

int RunSoak(Caller& caller) {
  const double rate = absl::GetFlag(FLAGS_rate);
  const absl::Duration duration = absl::Seconds(absl::GetFlag(FLAGS_duration_seconds));
  OpenLoop loop(&caller, rate, duration, absl::Seconds(absl::GetFlag(FLAGS_report_every_seconds)),
                absl::GetFlag(FLAGS_max_in_flight));
  Tally t = loop.Run();
  const int64_t errors = t.completed - t.ok();
  std::string first = loop.first_error();
  std::cout << absl::StrFormat(
                   "RESULT mode=soak rate=%.1f seconds=%.3f due=%d sent=%d skipped=%d "
                   "completed=%d ok=%d errors=%d",
                   rate, absl::ToDoubleSeconds(duration), loop.due_total(), t.sent, t.skipped,
                   t.completed, t.ok(), errors)
            << t.Latencies() << " codes=" << t.CodeList() << std::endl;
  if (!first.empty()) {
    std::cerr << "first error: " << first << std::endl;
  }
  return errors == 0 && t.skipped == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  tahe::bench::InitBenchBinary(argc, argv);
  using tahe::config::ExitIfError;
  const std::string mode = absl::GetFlag(FLAGS_mode);
  ExitIfError(tahe::config::ValidateHostPort("--addr", absl::GetFlag(FLAGS_addr)));
  ExitIfError(tahe::config::ValidateRange("--channels", absl::GetFlag(FLAGS_channels), 1, 64));
  ExitIfError(
      tahe::config::ValidateRange("--concurrency", absl::GetFlag(FLAGS_concurrency), 1, 10000));
  ExitIfError(tahe::config::ValidateRange("--max_in_flight", absl::GetFlag(FLAGS_max_in_flight), 1,
                                          1000000));
  if (absl::GetFlag(FLAGS_duration_seconds) <= 0 || absl::GetFlag(FLAGS_warmup_seconds) < 0 ||
      absl::GetFlag(FLAGS_call_timeout_seconds) <= 0 || absl::GetFlag(FLAGS_rate) <= 0 ||
      absl::GetFlag(FLAGS_rate) > 1e6 || absl::GetFlag(FLAGS_report_every_seconds) <= 0) {
    tahe::config::DieOnBadConfig(absl::InvalidArgumentError(
        "--duration_seconds, --call_timeout_seconds, --report_every_seconds must be > 0, "
        "--warmup_seconds >= 0, --rate in (0, 1e6]"));
  }
  if (mode != "capacity" && mode != "soak") {
    tahe::config::DieOnBadConfig(absl::InvalidArgumentError("--mode: capacity or soak"));
  }
  absl::StatusOr<std::vector<Op>> pattern = ParseMix(absl::GetFlag(FLAGS_mix));
  ExitIfError(pattern.status());
  std::vector<std::string> tenants =
      absl::StrSplit(absl::GetFlag(FLAGS_tenants), ',', absl::SkipEmpty());
  if (tenants.empty()) {
    tahe::config::DieOnBadConfig(absl::InvalidArgumentError("--tenants: at least one"));
  }
  absl::StatusOr<std::string> key =
      tahe::bench::ReadCredentialFile("--bearer_file", absl::GetFlag(FLAGS_bearer_file));
  ExitIfError(key.status());

  absl::StatusOr<std::vector<std::shared_ptr<grpc::Channel>>> channels =
      tahe::bench::ConnectChannels(absl::GetFlag(FLAGS_addr), absl::GetFlag(FLAGS_channels));
  if (!channels.ok()) {
    return tahe::bench::Fail(channels.status());
  }
  Caller caller(*std::move(channels), *std::move(key), std::move(tenants), *std::move(pattern),
                absl::Seconds(absl::GetFlag(FLAGS_call_timeout_seconds)));
  return mode == "capacity" ? RunCapacity(caller) : RunSoak(caller);
}
