#include "tests/bench/gateway_load_driver.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tahe/gateway/v1/admin.grpc.pb.h"
#include "tahe/ledger/v1/ledger.grpc.pb.h"

namespace tahe::bench {
namespace {

namespace ledger_v1 = ::tahe::ledger::v1;
namespace gateway_v1 = ::tahe::gateway::v1;
using Clock = std::chrono::steady_clock;

constexpr char kCounterAccount[] = "3000";  // Myyntituotot: the other side of the set-up entries

std::string StatusText(const grpc::Status& s) {
  return absl::StrCat(s.error_code(), " ", s.error_message());
}

void SetDeadline(grpc::ClientContext* ctx, absl::Duration timeout) {
  ctx->set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(timeout));
}

std::shared_ptr<grpc::Channel> NewChannel(const std::string& address, int index) {
  grpc::ChannelArguments args;
  // A connection of its own per channel (see ledger_load_driver.cc).
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt("tahe.bench.channel_index", index);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
}

absl::Status WaitConnected(grpc::Channel& channel, const std::string& address) {
  if (!channel.WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10))) {
    return absl::UnavailableError(absl::StrCat("cannot connect to ", address));
  }
  return absl::OkStatus();
}

// Nearest-rank percentile of sorted samples; 0 for none.
double Percentile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) {
    return 0;
  }
  size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

// What the clients share: the window and the count of clients still running.
struct ReadRun {
  Clock::time_point measure_start;
  Clock::time_point measure_end;
  std::mutex mu;
  std::condition_variable all_done;
  int running = 0;  // guarded by mu
};

// One closed-loop client: the next call starts from the completion callback of the previous one.
// The callbacks of one client never overlap, so its counters need no lock.
class ReadClient {
 public:
  ReadClient(ledger_v1::LedgerService::Stub* stub, const ReadLoadOptions& options, ReadRun* run)
      : stub_(stub), options_(options), run_(run) {
    request_.set_account(options.account);
    latencies_us_.reserve(1 << 14);
  }

  void Start() { Issue(); }

  const std::vector<double>& latencies_us() const { return latencies_us_; }
  int64_t calls_in_window() const { return calls_in_window_; }
  int64_t calls_total() const { return calls_total_; }
  int64_t errors() const { return errors_; }
  const std::string& first_error() const { return first_error_; }

 private:
  void Issue() {
    // A fresh context per call; the previous one is released here, after its call completed.
    context_ = std::make_unique<grpc::ClientContext>();
    for (const auto& [key, value] : options_.metadata) {
      context_->AddMetadata(key, value);
    }
    SetDeadline(context_.get(), options_.call_timeout);
    response_.Clear();
    Clock::time_point started = Clock::now();
    stub_->async()->GetAccountBalance(
        context_.get(), &request_, &response_,
        [this, started](grpc::Status status) { OnDone(status, started); });
  }

  void OnDone(const grpc::Status& status, Clock::time_point started) {
    Clock::time_point now = Clock::now();
    bool in_window = now >= run_->measure_start && now <= run_->measure_end;
    if (status.ok()) {
      ++calls_total_;
      if (in_window) {
        ++calls_in_window_;
        latencies_us_.push_back(std::chrono::duration<double, std::micro>(now - started).count());
      }
    } else {
      ++errors_;
      if (first_error_.empty()) {
        first_error_ = StatusText(status);
      }
    }
    if (now < run_->measure_end) {
      Issue();  // nothing may touch this client's call state after this
      return;
    }
    std::lock_guard<std::mutex> lock(run_->mu);
    if (--run_->running == 0) {
      run_->all_done.notify_all();
    }
  }

  ledger_v1::LedgerService::Stub* const stub_;
  const ReadLoadOptions& options_;
  ReadRun* const run_;

  std::unique_ptr<grpc::ClientContext> context_;
  ledger_v1::GetAccountBalanceRequest request_;
  ledger_v1::GetAccountBalanceResponse response_;
  std::vector<double> latencies_us_;
  int64_t calls_in_window_ = 0;
  int64_t calls_total_ = 0;
  int64_t errors_ = 0;
  std::string first_error_;
};

// A blocking admin call with the admin key; the status names the RPC.
template <typename Req, typename Resp>
absl::Status AdminCall(gateway_v1::AdminService::Stub& stub,
                       grpc::Status (gateway_v1::AdminService::Stub::*method)(grpc::ClientContext*,
                                                                              const Req&, Resp*),
                       const char* name, const std::string& api_key, const Req& req, Resp* resp) {
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", absl::StrCat("Bearer ", api_key));
  SetDeadline(&ctx, absl::Seconds(30));
  ctx.set_wait_for_ready(true);
  grpc::Status s = (stub.*method)(&ctx, req, resp);
  if (!s.ok()) {
    return absl::UnavailableError(absl::StrCat(name, ": ", StatusText(s)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ReadLoadResult> RunReadLoad(const ReadLoadOptions& options) {
  if (options.concurrency < 1 || options.clients_per_channel < 1 ||
      options.duration <= absl::ZeroDuration() || options.warmup < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "concurrency and clients_per_channel must be >= 1, duration > 0, warmup >= 0");
  }
  const int channel_count =
      (options.concurrency + options.clients_per_channel - 1) / options.clients_per_channel;
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::vector<std::unique_ptr<ledger_v1::LedgerService::Stub>> stubs;
  for (int i = 0; i < channel_count; ++i) {
    channels.push_back(NewChannel(options.address, i));
    if (absl::Status s = WaitConnected(*channels.back(), options.address); !s.ok()) {
      return s;
    }
    stubs.push_back(ledger_v1::LedgerService::NewStub(channels.back()));
  }

  ReadRun run;
  std::vector<std::unique_ptr<ReadClient>> clients;
  for (int i = 0; i < options.concurrency; ++i) {
    clients.push_back(
        std::make_unique<ReadClient>(stubs[i / options.clients_per_channel].get(), options, &run));
  }
  const Clock::time_point start = Clock::now();
  run.measure_start = start + absl::ToChronoNanoseconds(options.warmup);
  run.measure_end = run.measure_start + absl::ToChronoNanoseconds(options.duration);
  run.running = options.concurrency;
  for (auto& c : clients) {
    c->Start();
  }
  {
    std::unique_lock<std::mutex> lock(run.mu);
    run.all_done.wait(lock, [&] { return run.running == 0; });
  }

  ReadLoadResult r;
  r.concurrency = options.concurrency;
  r.channels = channel_count;
  r.seconds = absl::ToDoubleSeconds(options.duration);
  std::vector<double> latencies;
  for (const auto& c : clients) {
    r.calls += c->calls_in_window();
    r.calls_total += c->calls_total();
    r.errors += c->errors();
    if (r.first_error.empty()) {
      r.first_error = c->first_error();
    }
    latencies.insert(latencies.end(), c->latencies_us().begin(), c->latencies_us().end());
  }
  std::sort(latencies.begin(), latencies.end());
  r.calls_per_s = static_cast<double>(r.calls) / r.seconds;
  r.p50_us = Percentile(latencies, 0.50);
  r.p90_us = Percentile(latencies, 0.90);
  r.p99_us = Percentile(latencies, 0.99);
  r.max_us = latencies.empty() ? 0 : latencies.back();
  if (options.keep_latencies) {
    r.latencies_us = std::move(latencies);
  }
  return r;
}

absl::Status SetUpReadTenant(const Target& ledger, int entries) {
  if (absl::Status s = SetUpTenant(ledger, TodayUtc()); !s.ok()) {
    return s;
  }
  std::shared_ptr<grpc::Channel> channel = NewChannel(ledger.address, 0);
  auto stub = ledger_v1::LedgerService::NewStub(channel);
  const std::string today = TodayUtc();
  for (int i = 0; i < entries; ++i) {
    ledger_v1::PostEntryRequest req;
    // Fixed per tenant and day: a second set-up replays instead of posting again.
    req.set_request_id(absl::StrCat("bench-read-setup-", today, "-", i));
    ledger_v1::EntryDraft* e = req.mutable_entry();
    e->set_entry_date(today);
    e->set_description("bench: card sale");
    e->mutable_source()->set_system("bench");
    e->mutable_source()->set_reference(req.request_id());
    const int64_t amount = 1000 + 250 * i;
    ledger_v1::EntryLine* debit = e->add_lines();
    debit->set_account(kReadAccount);
    debit->mutable_amount()->set_amount_minor(amount);
    debit->mutable_amount()->set_currency_code("EUR");
    ledger_v1::EntryLine* credit = e->add_lines();
    credit->set_account(kCounterAccount);
    credit->mutable_amount()->set_amount_minor(-amount);
    credit->mutable_amount()->set_currency_code("EUR");

    grpc::ClientContext ctx;
    ctx.AddMetadata("x-tahe-internal-token", ledger.internal_token);
    ctx.AddMetadata("x-tahe-tenant", ledger.tenant);
    ctx.AddMetadata("x-request-id", req.request_id());
    SetDeadline(&ctx, absl::Seconds(60));
    ledger_v1::PostEntryResponse resp;
    grpc::Status s = stub->PostEntry(&ctx, req, &resp);
    if (!s.ok()) {
      return absl::UnavailableError(absl::StrCat("PostEntry ", i, ": ", StatusText(s)));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> SetUpGatewayTenant(const GatewayTenant& tenant) {
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateChannel(tenant.gateway_address, grpc::InsecureChannelCredentials());
  auto stub = gateway_v1::AdminService::NewStub(channel);
  using Stub = gateway_v1::AdminService::Stub;
  {
    gateway_v1::CreateRegionRequest req;
    req.set_request_id(absl::StrCat("bench-setup-region-", tenant.region));
    req.mutable_region()->set_slug(tenant.region);
    req.mutable_region()->set_name("Benchmark cell");
    (*req.mutable_region()->mutable_service_addresses())["tahe.ledger.v1"] = tenant.ledger_address;
    gateway_v1::Region resp;
    if (absl::Status s =
            AdminCall(*stub, &Stub::CreateRegion, "CreateRegion", tenant.admin_api_key, req, &resp);
        !s.ok()) {
      return s;
    }
  }
  {
    gateway_v1::CreateOrganisationRequest req;
    req.set_request_id(absl::StrCat("bench-setup-organisation-", tenant.organisation));
    req.mutable_organisation()->set_slug(tenant.organisation);
    req.mutable_organisation()->set_name("Benchmark organisation");
    req.mutable_organisation()->set_business_id(tenant.business_id);
    req.mutable_organisation()->set_region(tenant.region);
    gateway_v1::Organisation resp;
    if (absl::Status s = AdminCall(*stub, &Stub::CreateOrganisation, "CreateOrganisation",
                                   tenant.admin_api_key, req, &resp);
        !s.ok()) {
      return s;
    }
  }
  gateway_v1::IssueApiKeyRequest req;
  // A fresh request id: every set-up gets a key with its secret (a replay would come without).
  req.set_request_id(absl::StrCat("bench-setup-key-", RandomRunId()));
  req.set_description("benchmark client");
  req.add_roles("ledger.read");
  req.add_roles("ledger.write");
  req.add_organisations(tenant.organisation);
  gateway_v1::IssueApiKeyResponse resp;
  if (absl::Status s =
          AdminCall(*stub, &Stub::IssueApiKey, "IssueApiKey", tenant.admin_api_key, req, &resp);
      !s.ok()) {
    return s;
  }
  if (resp.api_key().empty()) {
    return absl::InternalError("IssueApiKey returned no secret");
  }
  return resp.api_key();
}

std::string HumanLine(const ReadLoadResult& r, const std::string& target) {
  std::string line = absl::StrFormat(
      "read (%s): %d clients on %d channels, %d calls in %.1f s = %.0f calls/s; latency p50 %.0f "
      "us, p90 %.0f us, p99 %.0f us, max %.0f us; %d errors",
      target, r.concurrency, r.channels, r.calls, r.seconds, r.calls_per_s, r.p50_us, r.p90_us,
      r.p99_us, r.max_us, r.errors);
  if (!r.first_error.empty()) {
    absl::StrAppend(&line, " (first: ", r.first_error, ")");
  }
  return line;
}

std::string ResultLine(const ReadLoadResult& r, const std::string& target) {
  return absl::StrFormat(
      "RESULT mode=read target=%s concurrency=%d channels=%d calls=%d seconds=%.3f "
      "calls_per_s=%.1f p50_us=%.1f p90_us=%.1f p99_us=%.1f max_us=%.1f errors=%d calls_total=%d",
      target, r.concurrency, r.channels, r.calls, r.seconds, r.calls_per_s, r.p50_us, r.p90_us,
      r.p99_us, r.max_us, r.errors, r.calls_total);
}

}  // namespace tahe::bench
