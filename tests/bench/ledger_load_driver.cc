#include "tests/bench/ledger_load_driver.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <random>
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

void AddMetadata(grpc::ClientContext* ctx, const Target& target, const std::string& request_id) {
  ctx->AddMetadata("x-tahe-internal-token", target.internal_token);
  ctx->AddMetadata("x-tahe-tenant", target.tenant);
  ctx->AddMetadata("x-request-id", request_id);
}

void SetDeadline(grpc::ClientContext* ctx, absl::Duration timeout) {
  ctx->set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(timeout));
}

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

std::string StatusText(const grpc::Status& s) {
  return absl::StrCat(s.error_code(), " ", s.error_message());
}

std::shared_ptr<grpc::Channel> NewChannel(const std::string& address, int index) {
  grpc::ChannelArguments args;
  // A channel of its own connection: without a local subchannel pool, channels with equal
  // arguments share one subchannel (one TCP connection), which defeats having several.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt("tahe.bench.channel_index", index);
  args.SetMaxReceiveMessageSize(64 << 20);
  args.SetMaxSendMessageSize(64 << 20);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
}

absl::Status WaitConnected(grpc::Channel& channel, const std::string& address) {
  if (!channel.WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10))) {
    return absl::UnavailableError(absl::StrCat("cannot connect to the ledger at ", address));
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
struct PostRun {
  Clock::time_point measure_start;
  Clock::time_point measure_end;
  std::mutex mu;
  std::condition_variable all_done;
  int running = 0;  // guarded by mu
};

// One closed-loop client: issues the next call from the completion callback of the previous one,
// so there is exactly one call in flight per client and no thread per client. The callbacks of
// one client never overlap, so its counters need no lock.
class PostClient {
 public:
  PostClient(v1::LedgerService::Stub* stub, Target target, const PostLoadOptions& options,
             const std::string& run_id, const std::string& entry_date, int index, PostRun* run)
      : stub_(stub),
        target_(std::move(target)),
        options_(options),
        id_prefix_(absl::StrCat(run_id, "-c", index, "-")),
        entry_date_(entry_date),
        run_(run) {
    latencies_ms_.reserve(1 << 14);
  }

  void Start() { Issue(); }

  const std::vector<double>& latencies_ms() const { return latencies_ms_; }
  int64_t posted_in_window() const { return posted_in_window_; }
  int64_t posted_total() const { return posted_total_; }
  int64_t errors() const { return errors_; }
  const std::string& first_error() const { return first_error_; }

 private:
  void Issue() {
    // A fresh context per call, as gRPC's own callback benchmark client does; the previous one
    // is released here, after its call completed.
    context_ = std::make_unique<grpc::ClientContext>();
    std::string request_id = absl::StrCat(id_prefix_, sequence_);
    AddMetadata(context_.get(), target_, request_id);
    SetDeadline(context_.get(), options_.call_timeout);
    FillEntry(&request_, request_id, entry_date_, 100 + (sequence_ % 100000));
    ++sequence_;
    response_.Clear();
    Clock::time_point started = Clock::now();
    stub_->async()->PostEntry(context_.get(), &request_, &response_,
                              [this, started](grpc::Status status) { OnDone(status, started); });
  }

  void OnDone(const grpc::Status& status, Clock::time_point started) {
    Clock::time_point now = Clock::now();
    bool in_window = now >= run_->measure_start && now <= run_->measure_end;
    if (status.ok()) {
      ++posted_total_;
      if (in_window) {
        ++posted_in_window_;
        latencies_ms_.push_back(std::chrono::duration<double, std::milli>(now - started).count());
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

  v1::LedgerService::Stub* const stub_;
  const Target target_;
  const PostLoadOptions& options_;
  const std::string id_prefix_;
  const std::string entry_date_;
  PostRun* const run_;

  std::unique_ptr<grpc::ClientContext> context_;
  v1::PostEntryRequest request_;
  v1::PostEntryResponse response_;
  int64_t sequence_ = 0;
  std::vector<double> latencies_ms_;
  int64_t posted_in_window_ = 0;
  int64_t posted_total_ = 0;
  int64_t errors_ = 0;
  std::string first_error_;
};

}  // namespace

std::string RandomRunId() {
  std::random_device device;
  std::mt19937_64 rng((static_cast<uint64_t>(device()) << 32) ^ device() ^
                      static_cast<uint64_t>(Clock::now().time_since_epoch().count()));
  return absl::StrFormat("%012x", rng() & 0xffffffffffffULL);
}

std::string TodayUtc() {
  absl::CivilDay day = absl::ToCivilDay(absl::Now(), absl::UTCTimeZone());
  return absl::StrFormat("%04d-%02d-%02d", day.year(), day.month(), day.day());
}

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

  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::vector<std::unique_ptr<v1::LedgerService::Stub>> stubs;
  for (int i = 0; i < channel_count; ++i) {
    channels.push_back(NewChannel(target.address, i));
    if (absl::Status s = WaitConnected(*channels.back(), target.address); !s.ok()) {
      return s;
    }
    stubs.push_back(v1::LedgerService::NewStub(channels.back()));
  }

  const std::vector<Target> targets = SpreadOverTenants(target, options.tenants);
  PostRun run;
  std::vector<std::unique_ptr<PostClient>> clients;
  for (int i = 0; i < options.concurrency; ++i) {
    clients.push_back(std::make_unique<PostClient>(stubs[i / options.clients_per_channel].get(),
                                                   targets[i % targets.size()], options, run_id,
                                                   entry_date, i, &run));
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

  PostLoadResult r;
  r.concurrency = options.concurrency;
  r.tenants = static_cast<int>(targets.size());
  r.channels = channel_count;
  r.seconds = absl::ToDoubleSeconds(options.duration);
  std::vector<double> latencies;
  for (const auto& c : clients) {
    r.entries += c->posted_in_window();
    r.entries_total += c->posted_total();
    r.errors += c->errors();
    if (r.first_error.empty()) {
      r.first_error = c->first_error();
    }
    latencies.insert(latencies.end(), c->latencies_ms().begin(), c->latencies_ms().end());
  }
  std::sort(latencies.begin(), latencies.end());
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

  std::shared_ptr<grpc::Channel> channel = NewChannel(target.address, 0);
  if (absl::Status s = WaitConnected(*channel, target.address); !s.ok()) {
    return s;
  }
  auto stub = v1::LedgerService::NewStub(channel);
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
