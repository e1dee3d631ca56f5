#pragma once

// The gRPC handlers of tahe.payroll.v1.PayrollService (callback API). Every call is authenticated
// (internal credential, tenant) before any work, and the work (PayrollRepository's SQL) runs on
// the worker pool, never on a gRPC thread. ApprovePayRun also wakes the outbox relay so that the
// ledger posting leaves at once.
//
//   PayrollService service(&repository, {&auth, &workers}, [&] { relay.Wake(); });
//   GrpcServer::Start({.services = {&service}, ...});
//   ...
//   service.BeginShutdown();  // ends the watch streams, then shut the server down
//
// Streaming RPCs:
//  - ImportEmployees / ImportPayItems (client streaming): each message is one batch, handled on
//    the worker pool as it arrives (PayrollRepository::ImportEmployeesBatch / ImportPayItemsBatch:
//    valid items stored in one transaction, invalid ones rejected with the field; the batch's
//    request_id makes a replayed batch return its first result and write nothing). The response,
//    sent when the client half-closes, adds up the batches: `accepted` and every rejection with
//    its batch (counted from 0 in the stream) and its index in the batch. At most
//    kMaxListedRejections are listed; a last rejection with index -1 counts the rest. A batch
//    that cannot be handled as a whole (no or reused request_id, too many items, the database
//    gone) ends the stream with that error, "batch 2: ..."; the batches before it are committed,
//    so the client can send the stream again with the same request ids.
//  - WatchPayRun (server streaming): the run's progress (see PayRunProgressRegistry). First the
//    run's state; then, for a calculation running when the watch opens or started after, every
//    report of it: "calculating: <done> of <total> employees" (the employees in scope, reported
//    at 0, every PayrollRepository::kProgressEvery and at the end, with the status the run had
//    while it ran); then every change of state: payslips_done = payslips_total = the payslips
//    of a calculated run, "calculation failed: ..." when a calculation of a draft or calculated
//    run fails. The stream ends when nothing further happens without a person acting: the run
//    is CALCULATED, POSTED or CANCELLED and no calculation is running. A DRAFT run is watched
//    until it is calculated; an APPROVED run until the ledger has taken its posting (POSTED),
//    with delivery errors in `message` meanwhile. Progress of a calculation running in another
//    replica is not seen; its result is, when it commits.
//  - WatchPayRunTotals (server streaming): the change feed of approved runs' totals
//    (PayrollRepository::TotalsAfter): every entry after after_sequence in sequence order, then
//    new ones as runs are approved, until the client cancels or the server shuts down.
//  Both watches poll the database every Options::watch_poll_interval with a grpc::Alarm; at most
//  one operation (a fetch on the worker pool, a write, or the alarm) is outstanding per stream.

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "libs/server/call.h"
#include "services/payroll/payroll_repository.h"
#include "tahe/payroll/v1/payroll.grpc.pb.h"
#include "tahe/tenancy/v1/tenancy.grpc.pb.h"

namespace tahe::payroll {

// Progress of the pay-run calculations running in this process, for WatchPayRun. Each
// CalculatePayRun is one generation of its run (tenant, pay_run_id): Begin starts it, Record
// keeps a Report "done of total employees" (every report is kept, so a watcher that polls less
// often than the reports come still sees each of them), End finishes it. A newer generation of the
// same run replaces an older one. Finished entries are forgotten kRetention after they end.
// Thread-safe.
class PayRunProgressRegistry {
 public:
  static constexpr absl::Duration kRetention = absl::Minutes(10);
  // Reports kept per generation; later ones replace the last (a run of 1 000 000 employees
  // reported every 1 000 fits).
  static constexpr size_t kMaxReports = 1000;

  struct Report {
    int done = 0;
    int total = 0;
  };
  struct Snapshot {
    // 0: no calculation of the run known here.
    int64_t generation = 0;
    bool running = false;
    std::vector<Report> reports;
    // Set when the generation ended with an error.
    absl::Status outcome;
  };

  // Starts a generation of (tenant, run) and returns its number (> 0).
  int64_t Begin(const std::string& tenant, const std::string& pay_run_id, absl::Time now);
  // Ignored unless `generation` is the run's current one.
  void Record(const std::string& tenant, const std::string& pay_run_id, int64_t generation,
              int done, int total);
  void End(const std::string& tenant, const std::string& pay_run_id, int64_t generation,
           absl::Status outcome, absl::Time now);
  Snapshot Get(const std::string& tenant, const std::string& pay_run_id) const;

 private:
  struct Entry {
    Snapshot snapshot;
    absl::Time ended = absl::InfiniteFuture();
  };
  static std::string KeyOf(const std::string& tenant, const std::string& pay_run_id);

  mutable absl::Mutex mu_;
  int64_t last_generation_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
};

class PayrollService final : public v1::PayrollService::CallbackService {
 public:
  struct Options {
    // How often WatchPayRun and WatchPayRunTotals look for changes.
    absl::Duration watch_poll_interval = absl::Milliseconds(200);
    // Feed entries read per poll of WatchPayRunTotals.
    int watch_batch = 500;
  };
  // Rejections listed in one ImportEmployees / ImportPayItems response.
  static constexpr int kMaxListedRejections = 1000;

  // `on_approved` (may be empty) runs after every successful ApprovePayRun.
  PayrollService(PayrollRepository* repository, server::HandlerEnv env,
                 std::function<void()> on_approved, Options options);
  PayrollService(PayrollRepository* repository, server::HandlerEnv env,
                 std::function<void()> on_approved)
      : PayrollService(repository, env, std::move(on_approved), Options()) {}

  // Ends open watch streams (UNAVAILABLE: reconnect elsewhere) so that shutdown need not wait
  // for them.
  void BeginShutdown() { stopping_ = true; }

  grpc::ServerUnaryReactor* UpsertEmployee(grpc::CallbackServerContext* ctx,
                                           const v1::UpsertEmployeeRequest* req,
                                           v1::Employee* resp) override;
  grpc::ServerUnaryReactor* GetEmployee(grpc::CallbackServerContext* ctx,
                                        const v1::GetEmployeeRequest* req,
                                        v1::Employee* resp) override;
  grpc::ServerUnaryReactor* ListEmployees(grpc::CallbackServerContext* ctx,
                                          const v1::ListEmployeesRequest* req,
                                          v1::ListEmployeesResponse* resp) override;
  grpc::ServerUnaryReactor* SetTaxCard(grpc::CallbackServerContext* ctx,
                                       const v1::SetTaxCardRequest* req,
                                       v1::TaxCard* resp) override;
  grpc::ServerUnaryReactor* ListTaxCards(grpc::CallbackServerContext* ctx,
                                         const v1::ListTaxCardsRequest* req,
                                         v1::ListTaxCardsResponse* resp) override;
  grpc::ServerUnaryReactor* LoadRateTable(grpc::CallbackServerContext* ctx,
                                          const v1::LoadRateTableRequest* req,
                                          v1::RateTable* resp) override;
  grpc::ServerUnaryReactor* ListRateTables(grpc::CallbackServerContext* ctx,
                                           const v1::ListRateTablesRequest* req,
                                           v1::ListRateTablesResponse* resp) override;
  grpc::ServerUnaryReactor* SetPayrollSettings(grpc::CallbackServerContext* ctx,
                                               const v1::SetPayrollSettingsRequest* req,
                                               v1::PayrollSettings* resp) override;
  grpc::ServerUnaryReactor* GetPayrollSettings(grpc::CallbackServerContext* ctx,
                                               const v1::GetPayrollSettingsRequest* req,
                                               v1::PayrollSettings* resp) override;
  grpc::ServerUnaryReactor* AddPayItems(grpc::CallbackServerContext* ctx,
                                        const v1::AddPayItemsRequest* req,
                                        v1::AddPayItemsResponse* resp) override;
  grpc::ServerUnaryReactor* ListPayItems(grpc::CallbackServerContext* ctx,
                                         const v1::ListPayItemsRequest* req,
                                         v1::ListPayItemsResponse* resp) override;
  grpc::ServerUnaryReactor* CreatePayRun(grpc::CallbackServerContext* ctx,
                                         const v1::CreatePayRunRequest* req,
                                         v1::PayRun* resp) override;
  grpc::ServerUnaryReactor* CalculatePayRun(grpc::CallbackServerContext* ctx,
                                            const v1::CalculatePayRunRequest* req,
                                            v1::PayRun* resp) override;
  grpc::ServerUnaryReactor* GetPayRun(grpc::CallbackServerContext* ctx,
                                      const v1::GetPayRunRequest* req, v1::PayRun* resp) override;
  grpc::ServerUnaryReactor* ListPayRuns(grpc::CallbackServerContext* ctx,
                                        const v1::ListPayRunsRequest* req,
                                        v1::ListPayRunsResponse* resp) override;
  grpc::ServerUnaryReactor* ListPayslips(grpc::CallbackServerContext* ctx,
                                         const v1::ListPayslipsRequest* req,
                                         v1::ListPayslipsResponse* resp) override;
  grpc::ServerUnaryReactor* CancelPayRun(grpc::CallbackServerContext* ctx,
                                         const v1::CancelPayRunRequest* req,
                                         v1::PayRun* resp) override;
  grpc::ServerUnaryReactor* GetPaymentFile(grpc::CallbackServerContext* ctx,
                                           const v1::GetPaymentFileRequest* req,
                                           v1::PaymentFile* resp) override;
  grpc::ServerUnaryReactor* ApprovePayRun(grpc::CallbackServerContext* ctx,
                                          const v1::ApprovePayRunRequest* req,
                                          v1::PayRun* resp) override;
  grpc::ServerUnaryReactor* RenderPayslips(grpc::CallbackServerContext* ctx,
                                           const v1::RenderPayslipsRequest* req,
                                           v1::RenderPayslipsResponse* resp) override;
  grpc::ServerReadReactor<v1::ImportEmployeesRequest>* ImportEmployees(
      grpc::CallbackServerContext* ctx, v1::ImportEmployeesResponse* resp) override;
  grpc::ServerReadReactor<v1::ImportPayItemsRequest>* ImportPayItems(
      grpc::CallbackServerContext* ctx, v1::ImportPayItemsResponse* resp) override;
  grpc::ServerWriteReactor<v1::PayRunProgress>* WatchPayRun(
      grpc::CallbackServerContext* ctx, const v1::WatchPayRunRequest* req) override;
  grpc::ServerWriteReactor<v1::PayRunTotals>* WatchPayRunTotals(
      grpc::CallbackServerContext* ctx, const v1::WatchPayRunTotalsRequest* req) override;

  const PayRunProgressRegistry& progress() const { return progress_; }

 private:
  template <typename Request, typename Response>
  class ImportReactor;
  template <typename Message>
  class PollingWriteReactor;
  class WatchPayRunReactor;
  class WatchTotalsReactor;

  PayrollRepository* const repository_;
  const server::HandlerEnv env_;
  const std::function<void()> on_approved_;
  const Options options_;
  PayRunProgressRegistry progress_;
  std::atomic<bool> stopping_{false};
};

}  // namespace tahe::payroll
