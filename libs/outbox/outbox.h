#pragma once

// The transactional outbox of ledger postings, shared by the services that post to the ledger
// (payroll, invoicing). A service writes the posting in the same local transaction as the change
// it announces (Enqueue); LedgerOutboxRelay then sends it to the ledger until the ledger
// acknowledges it, and marks it delivered. The posting's request_id is the ledger's idempotency
// key, so a message sent again after a crash (delivered but not yet marked) is answered with the
// entry the ledger already has: every posting lands exactly once.
//
// The service's migration creates the two tables (same shape in every service database):
//
//   CREATE TABLE outbox (
//     tenant_id text NOT NULL DEFAULT current_setting('tahe.tenant', true),
//     message_id bigserial, destination text NOT NULL, request_id text NOT NULL,
//     subject text NOT NULL,             -- what the message is about, e.g. "invoice:INV-1"
//     payload bytea NOT NULL,            -- the request, protobuf binary
//     created_at timestamptz NOT NULL DEFAULT now(), attempts integer NOT NULL DEFAULT 0,
//     next_attempt_at timestamptz NOT NULL DEFAULT now(), last_error text NOT NULL DEFAULT '',
//     delivered_at timestamptz,
//     PRIMARY KEY (tenant_id, message_id), UNIQUE (tenant_id, request_id));   -- FORCE RLS
//   CREATE TABLE outbox_pending (tenant_id text NOT NULL, message_id bigint NOT NULL,
//     created_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (tenant_id, message_id));
//
// outbox_pending has no row-level security and holds ids only, so that the relay can find work
// across tenants without seeing any tenant's data; it then reads each message in a transaction
// of that message's tenant.
//
//   // In the service's transaction (tenant already set):
//   outbox::Enqueue(tx, tenant, {.request_id = key, .subject = "invoice:42"}, post_entry_request);
//   // At start-up:
//   outbox::LedgerOutboxRelay relay(&pool, ledger_channel, token, &registry,
//                                   {.metric_prefix = "tahe_invoicing_outbox",
//                                    .principal = "service:invoicing"});
//   relay.Start();  ... relay.Wake();  ... relay.Stop();

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "libs/pg/pg.h"
#include "tahe/ledger/v1/ledger.grpc.pb.h"

namespace prometheus {
class Registry;
class Counter;
class Gauge;
}  // namespace prometheus

namespace tahe::outbox {

inline constexpr char kPostEntry[] = "/tahe.ledger.v1.LedgerService/PostEntry";

// A ledger posting waiting in the outbox.
struct Message {
  std::string tenant;
  int64_t message_id = 0;
  std::string request_id;
  std::string subject;
  ledger::v1::PostEntryRequest request;
  int attempts = 0;
};

struct Enqueued {
  // The ledger's idempotency key; also request.request_id.
  std::string request_id;
  std::string subject;
};

// Writes `request` (whose request_id is set to what.request_id) to the outbox in `tx`, which must
// be a transaction of `tenant`. A request_id already in the outbox is refused by the UNIQUE
// constraint (the caller's transaction fails): keys must be unique per tenant.
void Enqueue(pqxx::work& tx, const std::string& tenant, const Enqueued& what,
             ledger::v1::PostEntryRequest request);

// Undelivered messages and the age of the oldest.
struct Backlog {
  int64_t messages = 0;
  double oldest_age_seconds = 0;
};

// SQL over the outbox tables. Hooks let the owning service update its own rows in the same
// transaction as the outbox bookkeeping (e.g. a pay run becomes POSTED with the ledger sequence).
class OutboxStore {
 public:
  struct Hooks {
    std::function<void(pqxx::work&, const Message&, int64_t ledger_sequence)> on_delivered;
    std::function<void(pqxx::work&, const Message&, const std::string& error)> on_failed;
  };
  // REQUIRES: pool outlives the store.
  OutboxStore(pg::Pool* pool, Hooks hooks) : pool_(pool), hooks_(std::move(hooks)) {}

  // Messages due now, oldest first, at most `limit`, across tenants.
  absl::StatusOr<std::vector<Message>> Due(int limit, absl::Time deadline);
  // The ledger accepted `message` as entry `ledger_sequence`.
  absl::Status MarkDelivered(const Message& message, int64_t ledger_sequence);
  // Delivery failed: count the attempt and retry after `retry_after`.
  absl::Status MarkFailed(const Message& message, const std::string& error,
                          absl::Duration retry_after);
  absl::StatusOr<Backlog> GetBacklog();

 private:
  pg::Pool* pool_;
  Hooks hooks_;
};

// Delivers the outbox to the ledger's PostEntry, with exponential backoff (1 s doubling to
// max_backoff) per message while the ledger is unreachable or refuses.
//
// Metrics (<prefix> = Options::metric_prefix): <prefix>_backlog_messages,
// <prefix>_oldest_age_seconds, <prefix>_delivered_total, <prefix>_delivery_failures_total.
class LedgerOutboxRelay {
 public:
  struct Options {
    std::string metric_prefix;  // e.g. "tahe_invoicing_outbox"
    std::string principal;      // x-tahe-principal of the calls, e.g. "service:invoicing"
    absl::Duration poll_interval = absl::Seconds(1);
    absl::Duration call_timeout = absl::Seconds(30);
    absl::Duration max_backoff = absl::Seconds(60);
    int batch = 100;
  };

  // REQUIRES: store outlives the relay. `registry` may be null.
  LedgerOutboxRelay(OutboxStore* store, std::shared_ptr<grpc::Channel> ledger,
                    std::string internal_token, prometheus::Registry* registry, Options options);
  ~LedgerOutboxRelay();  // Stop()s.

  void Start();
  // Deliver now instead of at the next poll.
  void Wake();
  // Stops after the message in flight. Idempotent.
  void Stop();
  // One pass over the due messages, on the calling thread; the number delivered.
  int DeliverDue();

 private:
  void Loop();

  OutboxStore* store_;
  std::unique_ptr<ledger::v1::LedgerService::Stub> ledger_;
  const std::string token_;
  const Options options_;
  prometheus::Gauge* backlog_ = nullptr;
  prometheus::Gauge* oldest_age_ = nullptr;
  prometheus::Counter* delivered_ = nullptr;
  prometheus::Counter* failures_ = nullptr;

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool woken_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace tahe::outbox
