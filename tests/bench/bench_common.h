#pragma once

// What the benchmark drivers (ledger, gateway, payroll, invoicing, reporting) share: how they reach
// a service (channels of their own connection, the internal credential and the tenant), unary
// set-up calls, run ids and dates, nearest-rank percentiles, the closed-loop client machinery of
// the throughput benchmarks, and small helpers of their binaries.
//
//   // `concurrency` closed-loop clients, each with one call in flight, for warm-up + duration:
//   class ReadClient : public tahe::bench::ClosedLoopClient {
//     void StartCall(grpc::ClientContext* ctx, std::function<void(grpc::Status)> done) override {
//       stub_->async()->GetAccountBalance(ctx, &request_, &response_, std::move(done));
//     }
//   };
//   std::vector<std::unique_ptr<tahe::bench::ClosedLoopClient>> clients = ...;
//   tahe::bench::ClosedLoopResult r =
//       tahe::bench::RunClosedLoop(clients, absl::Seconds(2), absl::Seconds(10));
//
// Timing comes from std::chrono::steady_clock.

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace tahe::bench {

// Where and as whom to call a service of the cell (the ledger, payroll): directly, with the
// internal credential, as the gateway calls it.
struct Target {
  std::string address;         // host:port
  std::string tenant;          // x-tahe-tenant
  std::string internal_token;  // x-tahe-internal-token
};

// x-tahe-internal-token, x-tahe-tenant and x-request-id (when not empty) of `target`.
void AddMetadata(grpc::ClientContext* ctx, const Target& target, const std::string& request_id);
void SetDeadline(grpc::ClientContext* ctx, absl::Duration timeout);
// "<code> <message>" of a failed call.
std::string StatusText(const grpc::Status& s);

// A channel on a connection of its own (no subchannel shared with other channels of equal
// arguments), with messages up to 64 MiB either way. `index` only tells channels apart.
std::shared_ptr<grpc::Channel> NewChannel(const std::string& address, int index);
// UNAVAILABLE "cannot connect to <address>" when `channel` does not connect within 10 s.
absl::Status WaitConnected(grpc::Channel& channel, const std::string& address);
// `count` channels (NewChannel 0 .. count - 1), each connected.
absl::StatusOr<std::vector<std::shared_ptr<grpc::Channel>>> ConnectChannels(
    const std::string& address, int count);

// 12 random hex digits.
std::string RandomRunId();
// Today's date in UTC, "YYYY-MM-DD".
std::string TodayUtc();

// Nearest-rank percentile `q` (0 < q <= 1) of sorted samples; 0 for none.
double Percentile(const std::vector<double>& sorted, double q);
// Seconds (with fractions) since `start`.
double SecondsSince(std::chrono::steady_clock::time_point start);

// --- set-up and checking calls -------------------------------------------------------------------

// The status of a failed call `what`: the call's code, "<what>: <message>".
absl::Status CallError(const std::string& what, const grpc::Status& s);

// A unary call with the target's metadata, `request_id` and a deadline, waiting for the channel
// to be ready; the status names `what`.
//
//   RETURN_IF_ERROR(Call(*stub, &LedgerStub::OpenPeriod, target, "OpenPeriod", id, req, &resp));
template <typename Stub, typename Req, typename Resp>
absl::Status Call(Stub& stub, grpc::Status (Stub::*method)(grpc::ClientContext*, const Req&, Resp*),
                  const Target& target, const std::string& what, const std::string& request_id,
                  const Req& req, Resp* resp, absl::Duration timeout = absl::Seconds(60)) {
  grpc::ClientContext ctx;
  AddMetadata(&ctx, target, request_id);
  SetDeadline(&ctx, timeout);
  ctx.set_wait_for_ready(true);
  grpc::Status s = (stub.*method)(&ctx, req, resp);
  if (!s.ok()) {
    return CallError(what, s);
  }
  return absl::OkStatus();
}

// Runs `body(i)` for i in [0, count) on `threads` threads; the first error, if any.
absl::Status ParallelFor(int count, int threads, const std::function<absl::Status(int)>& body);

// --- closed-loop load ----------------------------------------------------------------------------

// What the clients of one closed-loop run share: the measurement window and the count of clients
// still running.
struct ClosedLoopWindow {
  std::chrono::steady_clock::time_point measure_start;
  std::chrono::steady_clock::time_point measure_end;
  std::mutex mu;
  std::condition_variable all_done;
  int running = 0;  // guarded by mu
};

// One closed-loop client: issues the next call from the completion callback of the previous one,
// so there is exactly one call in flight per client and no thread per client. The callbacks of
// one client never overlap, so its counters need no lock. A subclass says what the call is.
class ClosedLoopClient {
 public:
  ClosedLoopClient();
  virtual ~ClosedLoopClient() = default;
  ClosedLoopClient(const ClosedLoopClient&) = delete;
  ClosedLoopClient& operator=(const ClosedLoopClient&) = delete;

  // Issues calls until the window of `window` has ended. REQUIRES: `window` outlives the calls.
  void Start(ClosedLoopWindow* window);

  // Latencies (microseconds) of the successful calls completed inside the window.
  const std::vector<double>& latencies_us() const { return latencies_us_; }
  int64_t calls_in_window() const { return calls_in_window_; }
  int64_t calls_total() const { return calls_total_; }
  int64_t errors() const { return errors_; }
  const std::string& first_error() const { return first_error_; }

 protected:
  // Starts one call on `ctx` (a fresh context with nothing set yet: metadata and deadline are
  // the subclass's) and makes it run `done` when it completes.
  virtual void StartCall(grpc::ClientContext* ctx, std::function<void(grpc::Status)> done) = 0;

 private:
  void Issue();
  void OnDone(const grpc::Status& status, std::chrono::steady_clock::time_point started);

  ClosedLoopWindow* window_ = nullptr;
  std::unique_ptr<grpc::ClientContext> context_;
  std::vector<double> latencies_us_;
  int64_t calls_in_window_ = 0;
  int64_t calls_total_ = 0;
  int64_t errors_ = 0;
  std::string first_error_;
};

struct ClosedLoopResult {
  int64_t calls_in_window = 0;
  int64_t calls_total = 0;  // successful calls, warm-up and drain included
  int64_t errors = 0;       // failed calls over the whole run
  std::string first_error;
  std::vector<double> latencies_us;  // of the calls in the window, sorted
};

// Starts every client, measures calls completing in [start + warmup, start + warmup + duration],
// waits until every client has finished its last call, and adds their counts up.
// REQUIRES: duration > 0, warmup >= 0.
ClosedLoopResult RunClosedLoop(const std::vector<std::unique_ptr<ClosedLoopClient>>& clients,
                               absl::Duration warmup, absl::Duration duration);

// --- the benchmark binaries ----------------------------------------------------------------------

// The start of a benchmark binary's main(): turns off abseil's mutex deadlock detection (the
// client competes with the servers for the same cores), parses the flags, and exits with status 2
// on a positional argument.
void InitBenchBinary(int argc, char** argv);

// Prints "<program>: <status>" to stderr and returns 1, the exit status of a run that failed.
int Fail(const absl::Status& status);

// The contents of the credential file `path` given by `flag`: an error naming the flag if it
// cannot be read or is empty.
absl::StatusOr<std::string> ReadCredentialFile(const std::string& flag, const std::string& path);

}  // namespace tahe::bench
