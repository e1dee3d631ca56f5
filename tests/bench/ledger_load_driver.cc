#include "tests/bench/ledger_load_driver.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tahe/ledger/v1/ledger.grpc.pb.h"

namespace tahe::bench {
namespace {

namespace v1 = ::tahe::ledger::v1;
using Clock = std::chrono::steady_clock;

// The two accounts of every benchmark entry: a sale paid into the bank account.
constexpr char kDebitAccount[] = "1910";   // Pankkitili
constexpr char kCreditAccount[] = "3000";  // Myyntituotot

// A 2-line balanced entry; the amount varies so that entries are not all identical.
void FillEntry(v1::PostEntryRequest* req, const std::string& request_id,
               const std::string& entry_date, int64_t amount_minor) {
  req->set_request_id(request_id);
  v1::EntryDraft* e = req->mutable_entry();
  e->set_entry_date(entry_date);
  e->set_description("bench: card sale");
  e->mutable_source()->set_system("bench");
  e->mutable_source()->set_reference(request_id);
  e->clear_lines();
  v1::EntryLine* debit = e->add_lines();
  debit->set_account(kDebitAccount);
  debit->mutable_amount()->set_amount_minor(amount_minor);
  debit->mutable_amount()->set_currency_code("EUR");
  v1::EntryLine* credit = e->add_lines();
  credit->set_account(kCreditAccount);
  credit->mutable_amount()->set_amount_minor(-amount_minor);
  credit->mutable_amount()->set_currency_code("EUR");
}

// One closed-loop client posting one 2-line entry per call.
class PostClient final : public ClosedLoopClient {
 public:
  PostClient(v1::LedgerService::Stub* stub, Target target, const PostLoadOptions& options,
             const std::string& run_id, const std::string& entry_date, int index)
      : stub_(stub),
        target_(std::move(target)),
        options_(options),
        id_prefix_(absl::StrCat(run_id, "-c", index, "-")),
        entry_date_(entry_date) {}

 private:
  void StartCall(grpc::ClientContext* ctx, std::function<void(grpc::Status)> done) override {
    std::string request_id = absl::StrCat(id_prefix_, sequence_);
    AddMetadata(ctx, target_, request_id);
    SetDeadline(ctx, options_.call_timeout);
    FillEntry(&request_, request_id, entry_date_, 100 + (sequence_ % 100000));
    ++sequence_;
    response_.Clear();
    stub_->async()->PostEntry(ctx, &request_, &response_, std::move(done));
  }

  v1::LedgerService::Stub* const stub_;
  const Target target_;
  const PostLoadOptions& options_;
  const std::string id_prefix_;
  const std::string entry_date_;

  v1::PostEntryRequest request_;
  v1::PostEntryResponse response_;
  int64_t sequence_ = 0;
};

}  // namespace

std::vector<Target> SpreadOverTenants(const Target& target, int tenants) {
  if (tenants <= 1) {
    return {target};
  }
  std::vector<Target> targets;
  for (int i = 0; i < tenants; ++i) {
    Target t = target;
    t.tenant = absl::StrCat(target.tenant, "-", i);
    targets.push_back(std::move(t));
  }
  return targets;
}

absl::Status SetUpTenant(const Target& target, const std::string& entry_date) {
  std::shared_ptr<grpc::Channel> channel = NewChannel(target.address, 0);
  auto stub = v1::LedgerService::NewStub(channel);
  {
    grpc::ClientContext ctx;
    v1::LoadChartTemplateRequest req;
    req.set_request_id("bench-setup-chart-fi-municipal");
    req.set_template_("fi-municipal");
    AddMetadata(&ctx, target, req.request_id());
    SetDeadline(&ctx, absl::Seconds(60));
    ctx.set_wait_for_ready(true);
    v1::LoadChartTemplateResponse resp;
    grpc::Status s = stub->LoadChartTemplate(&ctx, req, &resp);
    if (!s.ok()) {
      return absl::UnavailableError(absl::StrCat("LoadChartTemplate: ", StatusText(s)));
    }
  }
  {
    grpc::ClientContext ctx;
    v1::OpenPeriodRequest req;
    std::string period = entry_date.substr(0, 7);
    req.set_request_id(absl::StrCat("bench-setup-open-", period));
    req.set_period(period);
    AddMetadata(&ctx, target, req.request_id());
    SetDeadline(&ctx, absl::Seconds(60));
    v1::Period resp;
    grpc::Status s = stub->OpenPeriod(&ctx, req, &resp);
    if (!s.ok()) {
      return absl::UnavailableError(absl::StrCat("OpenPeriod ", period, ": ", StatusText(s)));
    }
    if (resp.status() != v1::PERIOD_STATUS_OPEN) {
      return absl::FailedPreconditionError(absl::StrCat("period ", period, " is not open"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<PostLoadResult> RunPostLoad(const Target& target, const PostLoadOptions& options) {
  if (options.concurrency < 1 || options.clients_per_channel < 1 || options.tenants < 1 ||
      options.duration <= absl::ZeroDuration() || options.warmup < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "concurrency, clients_per_channel and tenants must be >= 1, duration > 0, warmup >= 0");
  }
  const std::string run_id = options.run_id.empty() ? RandomRunId() : options.run_id;
  const std::string entry_date = options.entry_date.empty() ? TodayUtc() : options.entry_date;
  const int channel_count =
      (options.concurrency + options.clients_per_channel - 1) / options.clients_per_channel;

  absl::StatusOr<std::vector<std::shared_ptr<grpc::Channel>>> channels =
      ConnectChannels(target.address, channel_count);
  if (!channels.ok()) {
    return channels.status();
  }
  std::vector<std::unique_ptr<v1::LedgerService::Stub>> stubs;
  for (const std::shared_ptr<grpc::Channel>& channel : *channels) {
    stubs.push_back(v1::LedgerService::NewStub(channel));
  }

  const std::vector<Target> targets = SpreadOverTenants(target, options.tenants);
  std::vector<std::unique_ptr<ClosedLoopClient>> clients;
  for (int i = 0; i < options.concurrency; ++i) {
    clients.push_back(std::make_unique<PostClient>(stubs[i / options.clients_per_channel].get(),
                                                   targets[i % targets.size()], options, run_id,
                                                   entry_date, i));
  }
  ClosedLoopResult run = RunClosedLoop(clients, options.warmup, options.duration);

  PostLoadResult r;
  r.concurrency = options.concurrency;
  r.tenants = static_cast<int>(targets.size());
  r.channels = channel_count;
  r.seconds = absl::ToDoubleSeconds(options.duration);
  r.entries = run.calls_in_window;
  r.entries_total = run.calls_total;
  r.errors = run.errors;
  r.first_error = run.first_error;
  std::vector<double> latencies;  // milliseconds
  latencies.reserve(run.latencies_us.size());
  for (double us : run.latencies_us) {
    latencies.push_back(us / 1000);
  }
  r.entries_per_s = static_cast<double>(r.entries) / r.seconds;
  r.p50_ms = Percentile(latencies, 0.50);
  r.p90_ms = Percentile(latencies, 0.90);
  r.p99_ms = Percentile(latencies, 0.99);
  r.max_ms = latencies.empty() ? 0 : latencies.back();
  return r;
}

absl::StatusOr<BulkLoadResult> RunBulkLoad(const Target& target, const BulkLoadOptions& options) {
  if (options.entries < 1 || options.batch_size < 1) {
    return absl::InvalidArgumentError("entries and batch_size must be >= 1");
  }
  const std::string run_id = options.run_id.empty() ? RandomRunId() : options.run_id;
  const std::string entry_date = options.entry_date.empty() ? TodayUtc() : options.entry_date;

  // Build every batch first: the clock measures the import, not the protobuf building.
  std::vector<v1::PostEntriesRequest> batches;
  for (int64_t first = 0; first < options.entries; first += options.batch_size) {
    v1::PostEntriesRequest& batch = batches.emplace_back();
    batch.set_request_id(absl::StrCat(run_id, "-batch-", batches.size() - 1));
    int64_t last = std::min(options.entries, first + options.batch_size);
    batch.mutable_entries()->Reserve(static_cast<int>(last - first));
    for (int64_t i = first; i < last; ++i) {
      FillEntry(batch.add_entries(), absl::StrCat(run_id, "-bulk-", i), entry_date,
                100 + (i % 100000));
    }
  }

  absl::StatusOr<std::vector<std::shared_ptr<grpc::Channel>>> channels =
      ConnectChannels(target.address, 1);
  if (!channels.ok()) {
    return channels.status();
  }
  auto stub = v1::LedgerService::NewStub(channels->front());
  grpc::ClientContext ctx;
  AddMetadata(&ctx, target, absl::StrCat(run_id, "-bulk"));
  SetDeadline(&ctx, options.call_timeout);
  v1::PostEntriesResponse resp;

  const Clock::time_point start = Clock::now();
  std::unique_ptr<grpc::ClientWriter<v1::PostEntriesRequest>> writer =
      stub->PostEntries(&ctx, &resp);
  for (const v1::PostEntriesRequest& batch : batches) {
    if (!writer->Write(batch)) {
      break;  // the server ended the call; Finish says why
    }
  }
  writer->WritesDone();
  grpc::Status status = writer->Finish();
  const Clock::time_point end = Clock::now();

  BulkLoadResult r;
  r.seconds = std::chrono::duration<double>(end - start).count();
  r.entries = resp.entries_posted();
  r.lines = resp.lines_posted();
  r.batches = resp.batches_committed();
  r.entries_per_s = static_cast<double>(r.entries) / r.seconds;
  r.lines_per_s = static_cast<double>(r.lines) / r.seconds;
  r.errors = resp.batches_rejected() + resp.errors_size();
  if (resp.errors_size() > 0) {
    const v1::EntryError& e = resp.errors(0);
    r.first_error = absl::StrCat("entry ", e.entry_index(), ": ", e.code(), " ", e.message());
  }
  if (!status.ok()) {
    ++r.errors;
    r.first_error = StatusText(status);
  }
  return r;
}

std::string HumanLine(const PostLoadResult& r) {
  std::string line = absl::StrFormat(
      "post: %d clients (%d tenants) on %d channels, %d entries in %.1f s = %.0f entries/s; "
      "latency p50 %.2f "
      "ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms; %d errors",
      r.concurrency, r.tenants, r.channels, r.entries, r.seconds, r.entries_per_s, r.p50_ms,
      r.p90_ms, r.p99_ms, r.max_ms, r.errors);
  if (!r.first_error.empty()) {
    absl::StrAppend(&line, " (first: ", r.first_error, ")");
  }
  return line;
}

std::string ResultLine(const PostLoadResult& r) {
  return absl::StrFormat(
      "RESULT mode=post concurrency=%d tenants=%d channels=%d entries=%d seconds=%.3f "
      "entries_per_s=%.1f "
      "p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f errors=%d entries_total=%d",
      r.concurrency, r.tenants, r.channels, r.entries, r.seconds, r.entries_per_s, r.p50_ms,
      r.p90_ms, r.p99_ms, r.max_ms, r.errors, r.entries_total);
}

std::string HumanLine(const BulkLoadResult& r, const BulkLoadOptions& options) {
  std::string line = absl::StrFormat(
      "bulk: %d entries (%d lines) in %d batches of up to %d in %.2f s = %.0f entries/s, %.0f "
      "lines/s; %d errors",
      r.entries, r.lines, r.batches, options.batch_size, r.seconds, r.entries_per_s, r.lines_per_s,
      r.errors);
  if (!r.first_error.empty()) {
    absl::StrAppend(&line, " (first: ", r.first_error, ")");
  }
  return line;
}

std::string ResultLine(const BulkLoadResult& r, const BulkLoadOptions& options) {
  return absl::StrFormat(
      "RESULT mode=bulk batch_size=%d entries=%d lines=%d batches=%d seconds=%.3f "
      "entries_per_s=%.1f lines_per_s=%.1f errors=%d",
      options.batch_size, r.entries, r.lines, r.batches, r.seconds, r.entries_per_s, r.lines_per_s,
      r.errors);
}

}  // namespace tahe::bench
