#include "tests/bench/gateway_load_driver.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <functional>
#include <memory>
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

constexpr char kCounterAccount[] = "3000";  // Myyntituotot: the other side of the set-up entries

// One closed-loop client reading the balance of one account per call.
class ReadClient final : public ClosedLoopClient {
 public:
  explicit ReadClient(ledger_v1::LedgerService::Stub* stub, const ReadLoadOptions& options)
      : stub_(stub), options_(options) {
    request_.set_account(options.account);
  }

 private:
  void StartCall(grpc::ClientContext* ctx, std::function<void(grpc::Status)> done) override {
    for (const auto& [key, value] : options_.metadata) {
      ctx->AddMetadata(key, value);
    }
    SetDeadline(ctx, options_.call_timeout);
    response_.Clear();
    stub_->async()->GetAccountBalance(ctx, &request_, &response_, std::move(done));
  }

  ledger_v1::LedgerService::Stub* const stub_;
  const ReadLoadOptions& options_;
  ledger_v1::GetAccountBalanceRequest request_;
  ledger_v1::GetAccountBalanceResponse response_;
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
  absl::StatusOr<std::vector<std::shared_ptr<grpc::Channel>>> channels =
      ConnectChannels(options.address, channel_count);
  if (!channels.ok()) {
    return channels.status();
  }
  std::vector<std::unique_ptr<ledger_v1::LedgerService::Stub>> stubs;
  for (const std::shared_ptr<grpc::Channel>& channel : *channels) {
    stubs.push_back(ledger_v1::LedgerService::NewStub(channel));
  }

  std::vector<std::unique_ptr<ClosedLoopClient>> clients;
  for (int i = 0; i < options.concurrency; ++i) {
    clients.push_back(
        std::make_unique<ReadClient>(stubs[i / options.clients_per_channel].get(), options));
  }
  ClosedLoopResult run = RunClosedLoop(clients, options.warmup, options.duration);

  ReadLoadResult r;
  r.concurrency = options.concurrency;
  r.channels = channel_count;
  r.seconds = absl::ToDoubleSeconds(options.duration);
  r.calls = run.calls_in_window;
  r.calls_total = run.calls_total;
  r.errors = run.errors;
  r.first_error = run.first_error;
  std::vector<double>& latencies = run.latencies_us;
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
    AddMetadata(&ctx, ledger, req.request_id());
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
