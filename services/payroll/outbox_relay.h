#pragma once

// Delivers payroll's outbox to the ledger, exactly once: each message (a PostEntryRequest whose
// request_id is the pay run's idempotency key) is sent until the ledger acknowledges it, then
// marked delivered in payroll_db. If payroll dies after the ledger committed but before it marked
// the message, the message is sent again and the ledger answers with the entry it already has
// (replayed), so nothing is posted twice; if the ledger is down, the message waits and is retried
// with exponential backoff (1 s doubling to 60 s), its last error shown on the pay run.
//
//   OutboxRelay relay(&repository, ledger_channel, token, &registry);
//   relay.Start();
//   ... relay.Wake();   // after an approval: deliver now instead of at the next poll
//   relay.Stop();
//
// Metrics: tahe_payroll_outbox_backlog_messages, tahe_payroll_outbox_oldest_age_seconds,
// tahe_payroll_outbox_delivered_total, tahe_payroll_outbox_delivery_failures_total.

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/payroll/payroll_repository.h"
#include "tahe/ledger/v1/ledger.grpc.pb.h"

namespace prometheus {
class Registry;
class Counter;
class Gauge;
}  // namespace prometheus

namespace tahe::payroll {

class OutboxRelay {
 public:
  struct Options {
    // How often the outbox is looked at without a Wake().
    absl::Duration poll_interval = absl::Seconds(1);
    absl::Duration call_timeout = absl::Seconds(30);
    absl::Duration max_backoff = absl::Seconds(60);
    int batch = 100;
  };

  // REQUIRES: repository outlives the relay. `registry` may be null.
  OutboxRelay(PayrollRepository* repository, std::shared_ptr<grpc::Channel> ledger,
              std::string internal_token, prometheus::Registry* registry, Options options);
  OutboxRelay(PayrollRepository* repository, std::shared_ptr<grpc::Channel> ledger,
              std::string internal_token, prometheus::Registry* registry)
      : OutboxRelay(repository, std::move(ledger), std::move(internal_token), registry, Options()) {
  }
  ~OutboxRelay();  // Stop()s.

  void Start();
  void Wake();
  // Stops after the message in flight. Idempotent.
  void Stop();

  // One pass over the due messages, on the calling thread; the number delivered.
  int DeliverDue();

 private:
  void Loop();

  PayrollRepository* repository_;
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

}  // namespace tahe::payroll
