#include "libs/outbox/outbox.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <algorithm>
#include <optional>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "libs/log/log.h"
#include "libs/server/call.h"
#include "libs/status/status.h"

namespace tahe::outbox {

void Enqueue(pqxx::work& tx, const std::string& tenant, const Enqueued& what,
             ledger::v1::PostEntryRequest request) {
  request.set_request_id(what.request_id);
  // Hex keeps libpqxx 6.4's text parameters simple; payloads are a few kilobytes.
  pqxx::row message = tx.exec_params1(
      "INSERT INTO outbox (tenant_id, destination, request_id, subject, payload)"
      " VALUES ($1, $2, $3, $4, decode($5, 'hex')) RETURNING message_id",
      tenant, std::string(kPostEntry), what.request_id, what.subject,
      absl::BytesToHexString(request.SerializeAsString()));
  tx.exec_params("INSERT INTO outbox_pending (tenant_id, message_id) VALUES ($1, $2)", tenant,
                 message[0].as<int64_t>());
}

absl::StatusOr<std::vector<Message>> OutboxStore::Due(int limit, absl::Time deadline) {
  ASSIGN_OR_RETURN(
      std::vector<Message> pending,
      (pg::InTenantTransaction<std::vector<Message>>(
          *pool_, "", {.deadline = deadline, .read_only = true},
          [&](pqxx::work& tx) -> absl::StatusOr<std::vector<Message>> {
            std::vector<Message> out;
            for (const auto& r : tx.exec_params("SELECT tenant_id, message_id FROM outbox_pending"
                                                " ORDER BY created_at, message_id LIMIT $1",
                                                limit)) {
              out.push_back({.tenant = r[0].as<std::string>(), .message_id = r[1].as<int64_t>()});
            }
            return out;
          })));
  std::vector<Message> due;
  for (Message& m : pending) {
    absl::StatusOr<std::optional<Message>> loaded = pg::InTenantTransaction<std::optional<Message>>(
        *pool_, m.tenant, {.deadline = deadline, .read_only = true},
        [&](pqxx::work& tx) -> absl::StatusOr<std::optional<Message>> {
          pqxx::result r = tx.exec_params(
              "SELECT request_id, subject, encode(payload, 'hex'), attempts FROM outbox"
              " WHERE tenant_id = $1 AND message_id = $2 AND delivered_at IS NULL AND"
              " next_attempt_at <= now()",
              m.tenant, m.message_id);
          if (r.empty()) return std::optional<Message>();
          Message out = m;
          out.request_id = r[0][0].as<std::string>();
          out.subject = r[0][1].as<std::string>();
          if (!out.request.ParseFromString(absl::HexStringToBytes(r[0][2].as<std::string>()))) {
            return absl::InternalError("an outbox payload does not parse");
          }
          out.attempts = r[0][3].as<int>();
          return std::optional<Message>(std::move(out));
        });
    if (!loaded.ok()) return loaded.status();
    if (loaded->has_value()) due.push_back(**std::move(loaded));
  }
  return due;
}

absl::Status OutboxStore::MarkDelivered(const Message& message, int64_t ledger_sequence) {
  return pg::RunInTransaction(*pool_, message.tenant, {}, [&](pqxx::work& tx) {
    tx.exec_params(
        "UPDATE outbox SET delivered_at = now(), attempts = attempts + 1, last_error = ''"
        " WHERE tenant_id = $1 AND message_id = $2",
        message.tenant, message.message_id);
    tx.exec_params("DELETE FROM outbox_pending WHERE tenant_id = $1 AND message_id = $2",
                   message.tenant, message.message_id);
    if (hooks_.on_delivered) hooks_.on_delivered(tx, message, ledger_sequence);
    return absl::OkStatus();
  });
}

absl::Status OutboxStore::MarkFailed(const Message& message, const std::string& error,
                                     absl::Duration retry_after) {
  return pg::RunInTransaction(*pool_, message.tenant, {}, [&](pqxx::work& tx) {
    tx.exec_params(
        "UPDATE outbox SET attempts = attempts + 1, last_error = $3,"
        " next_attempt_at = now() + make_interval(secs => $4) WHERE tenant_id = $1 AND"
        " message_id = $2",
        message.tenant, message.message_id, error, absl::ToDoubleSeconds(retry_after));
    if (hooks_.on_failed) hooks_.on_failed(tx, message, error);
    return absl::OkStatus();
  });
}

absl::StatusOr<Backlog> OutboxStore::GetBacklog() {
  return pg::InTenantTransaction<Backlog>(
      *pool_, "", {.read_only = true}, [&](pqxx::work& tx) -> absl::StatusOr<Backlog> {
        pqxx::row r = tx.exec1(
            "SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8"
            " FROM outbox_pending");
        return Backlog{.messages = r[0].as<int64_t>(), .oldest_age_seconds = r[1].as<double>()};
      });
}

LedgerOutboxRelay::LedgerOutboxRelay(OutboxStore* store, std::shared_ptr<grpc::Channel> ledger,
                                     std::string internal_token, prometheus::Registry* registry,
                                     Options options)
    : store_(store),
      ledger_(ledger::v1::LedgerService::NewStub(std::move(ledger))),
      token_(std::move(internal_token)),
      options_(std::move(options)) {
  if (registry == nullptr) return;
  const std::string& p = options_.metric_prefix;
  backlog_ = &prometheus::BuildGauge()
                  .Name(p + "_backlog_messages")
                  .Help("Ledger postings written but not yet acknowledged by the ledger")
                  .Register(*registry)
                  .Add({});
  oldest_age_ = &prometheus::BuildGauge()
                     .Name(p + "_oldest_age_seconds")
                     .Help("Age of the oldest undelivered ledger posting (0 when none)")
                     .Register(*registry)
                     .Add({});
  delivered_ = &prometheus::BuildCounter()
                    .Name(p + "_delivered_total")
                    .Help("Ledger postings acknowledged by the ledger")
                    .Register(*registry)
                    .Add({});
  failures_ = &prometheus::BuildCounter()
                   .Name(p + "_delivery_failures_total")
                   .Help("Failed delivery attempts (each retried later)")
                   .Register(*registry)
                   .Add({});
}

LedgerOutboxRelay::~LedgerOutboxRelay() { Stop(); }

void LedgerOutboxRelay::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void LedgerOutboxRelay::Wake() {
  absl::MutexLock lock(&mu_);
  woken_ = true;
}

void LedgerOutboxRelay::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

int LedgerOutboxRelay::DeliverDue() {
  absl::StatusOr<std::vector<Message>> due =
      store_->Due(options_.batch, absl::Now() + absl::Seconds(30));
  if (!due.ok()) {
    log::Warn("outbox: cannot read due messages", {{"error", due.status().ToString()}});
    return 0;
  }
  int delivered = 0;
  for (const Message& message : *due) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) break;
    }
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + options_.call_timeout));
    ctx.AddMetadata(server::kInternalTokenHeader, token_);
    ctx.AddMetadata(server::kTenantHeader, message.tenant);
    ctx.AddMetadata(server::kPrincipalHeader, options_.principal);
    ctx.AddMetadata(server::kRequestIdHeader, message.request_id);
    ledger::v1::PostEntryResponse response;
    grpc::Status status = ledger_->PostEntry(&ctx, message.request, &response);
    if (status.ok()) {
      absl::Status marked = store_->MarkDelivered(message, response.entry().sequence());
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
    absl::Status marked = store_->MarkFailed(message, error, backoff);
    if (!marked.ok()) {
      log::Warn("outbox: cannot record the failure",
                {{"request_id", message.request_id}, {"error", marked.ToString()}});
    }
  }
  if (backlog_ != nullptr) {
    absl::StatusOr<Backlog> backlog = store_->GetBacklog();
    if (backlog.ok()) {
      backlog_->Set(static_cast<double>(backlog->messages));
      oldest_age_->Set(backlog->oldest_age_seconds);
    }
  }
  return delivered;
}

void LedgerOutboxRelay::Loop() {
  for (;;) {
    DeliverDue();
    absl::MutexLock lock(&mu_);
    auto wake = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stopping_ || woken_; };
    mu_.AwaitWithTimeout(absl::Condition(&wake), options_.poll_interval);
    if (stopping_) return;
    woken_ = false;
  }
}

}  // namespace tahe::outbox
