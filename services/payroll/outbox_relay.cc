#include "services/payroll/outbox_relay.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "libs/log/log.h"
#include "libs/server/call.h"
#include "libs/status/status.h"

namespace tahe::payroll {

OutboxRelay::OutboxRelay(PayrollRepository* repository, std::shared_ptr<grpc::Channel> ledger,
                         std::string internal_token, prometheus::Registry* registry,
                         Options options)
    : repository_(repository),
      ledger_(ledger::v1::LedgerService::NewStub(std::move(ledger))),
      token_(std::move(internal_token)),
      options_(options) {
  if (registry != nullptr) {
    backlog_ = &prometheus::BuildGauge()
                    .Name("tahe_payroll_outbox_backlog_messages")
                    .Help("Ledger postings approved but not yet acknowledged by the ledger")
                    .Register(*registry)
                    .Add({});
    oldest_age_ = &prometheus::BuildGauge()
                       .Name("tahe_payroll_outbox_oldest_age_seconds")
                       .Help("Age of the oldest undelivered ledger posting (0 when none)")
                       .Register(*registry)
                       .Add({});
    delivered_ = &prometheus::BuildCounter()
                      .Name("tahe_payroll_outbox_delivered_total")
                      .Help("Ledger postings acknowledged by the ledger")
                      .Register(*registry)
                      .Add({});
    failures_ = &prometheus::BuildCounter()
                     .Name("tahe_payroll_outbox_delivery_failures_total")
                     .Help("Failed delivery attempts (each retried later)")
                     .Register(*registry)
                     .Add({});
  }
}

OutboxRelay::~OutboxRelay() { Stop(); }

void OutboxRelay::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void OutboxRelay::Wake() {
  absl::MutexLock lock(&mu_);
  woken_ = true;
}

void OutboxRelay::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) {
    thread_.join();
  }
}

int OutboxRelay::DeliverDue() {
  absl::StatusOr<std::vector<OutboxMessage>> due =
      repository_->DueMessages(options_.batch, absl::Now() + absl::Seconds(30));
  if (!due.ok()) {
    log::Warn("outbox: cannot read due messages", {{"error", due.status().ToString()}});
    return 0;
  }
  int delivered = 0;
  for (const OutboxMessage& message : *due) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) break;
    }
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + options_.call_timeout));
    ctx.AddMetadata(server::kInternalTokenHeader, token_);
    ctx.AddMetadata(server::kTenantHeader, message.tenant);
    ctx.AddMetadata(server::kPrincipalHeader, "service:payroll");
    ctx.AddMetadata(server::kRequestIdHeader, message.request_id);
    ledger::v1::PostEntryResponse response;
    grpc::Status status = ledger_->PostEntry(&ctx, message.request, &response);
    if (status.ok()) {
      absl::Status marked = repository_->MarkDelivered(message, response.entry().sequence());
      if (!marked.ok()) {
        // Delivered but not marked: the next pass sends it again and the ledger replays.
        log::Warn("outbox: delivered but not marked; will be replayed",
                  {{"request_id", message.request_id}, {"error", marked.ToString()}});
        continue;
      }
      ++delivered;
      if (delivered_ != nullptr) delivered_->Increment();
      log::Info("outbox: posting delivered",
                {{"request_id", message.request_id},
                 {"tenant", message.tenant},
                 {"ledger_sequence", absl::StrCat(response.entry().sequence())},
                 {"replayed", response.replayed() ? "true" : "false"}});
      continue;
    }
    if (failures_ != nullptr) failures_->Increment();
    const absl::Duration backoff =
        std::min(options_.max_backoff, absl::Seconds(1) * (1 << std::min(message.attempts, 6)));
    const std::string error = absl::StrCat(
        "ledger answered ", CodeName(static_cast<absl::StatusCode>(status.error_code())), ": ",
        status.error_message());
    log::Warn("outbox: delivery failed; retrying",
              {{"request_id", message.request_id},
               {"tenant", message.tenant},
               {"error", error},
               {"retry_in_seconds", absl::StrCat(absl::ToInt64Seconds(backoff))}});
    absl::Status marked = repository_->MarkFailed(message, error, backoff);
    if (!marked.ok()) {
      log::Warn("outbox: cannot record the failure",
                {{"request_id", message.request_id}, {"error", marked.ToString()}});
    }
  }
  if (backlog_ != nullptr) {
    absl::StatusOr<PayrollRepository::Backlog> backlog = repository_->OutboxBacklog();
    if (backlog.ok()) {
      backlog_->Set(static_cast<double>(backlog->messages));
      oldest_age_->Set(backlog->oldest_age_seconds);
    }
  }
  return delivered;
}

void OutboxRelay::Loop() {
  for (;;) {
    DeliverDue();
    absl::MutexLock lock(&mu_);
    auto wake = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stopping_ || woken_; };
    mu_.AwaitWithTimeout(absl::Condition(&wake), options_.poll_interval);
    if (stopping_) return;
    woken_ = false;
  }
}

}  // namespace tahe::payroll
