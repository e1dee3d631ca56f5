#pragma once

// The gRPC handlers of tahe.reporting.v1.ReportingService (callback API). Every call is
// authenticated (internal credential; a tenant for all but GetRegionalReport and GetFeedStatus)
// before any work, and the work (ReportingRepository's SQL) runs on the worker pool, never on a
// gRPC thread. The class holds no start-up wiring, so tests serve it in-process.
//
//   ReportingService service(&repository, &follower, &metrics, {&auth, &workers});
//   GrpcServer::Start({.services = {&service}, ...});
//
// Freshness: a report whose scope carries min_sequence first waits (polling the checkpoint every
// `freshness_poll`, at most `max_freshness_wait` and never past the call's deadline) until the
// read model has applied that ledger sequence; otherwise UNAVAILABLE saying how far it is.

#include <string>

#include "absl/time/time.h"
#include "libs/server/call.h"
#include "services/reporting/ledger_follower.h"
#include "services/reporting/receivables_client.h"
#include "services/reporting/reporting_metrics.h"
#include "services/reporting/reporting_repository.h"
#include "tahe/reporting/v1/reporting.grpc.pb.h"

namespace tahe::reporting {

class ReportingService final : public v1::ReportingService::CallbackService {
 public:
  struct Options {
    absl::Duration freshness_poll = absl::Milliseconds(20);
    absl::Duration max_freshness_wait = absl::Seconds(10);
    // Where GetReceivablesAgeing reads from (InvoicingReceivables); null: FAILED_PRECONDITION.
    ReceivablesSource receivables;
  };

  // `follower` (the ledger's figures in GetFeedStatus) and `metrics` may be null.
  ReportingService(ReportingRepository* repository, const LedgerFollower* follower,
                   ReportingMetrics* metrics, server::HandlerEnv env, Options options);
  ReportingService(ReportingRepository* repository, const LedgerFollower* follower,
                   ReportingMetrics* metrics, server::HandlerEnv env)
      : ReportingService(repository, follower, metrics, env, Options()) {}

  grpc::ServerUnaryReactor* GetTrialBalance(grpc::CallbackServerContext* ctx,
                                            const v1::GetTrialBalanceRequest* req,
                                            v1::TrialBalance* resp) override;
  grpc::ServerUnaryReactor* GetIncomeStatement(grpc::CallbackServerContext* ctx,
                                               const v1::GetIncomeStatementRequest* req,
                                               v1::Statement* resp) override;
  grpc::ServerUnaryReactor* GetBalanceSheet(grpc::CallbackServerContext* ctx,
                                            const v1::GetBalanceSheetRequest* req,
                                            v1::Statement* resp) override;
  grpc::ServerUnaryReactor* GetCostCentreReport(grpc::CallbackServerContext* ctx,
                                                const v1::GetCostCentreReportRequest* req,
                                                v1::CostCentreReport* resp) override;
  grpc::ServerUnaryReactor* UploadBudget(grpc::CallbackServerContext* ctx,
                                         const v1::UploadBudgetRequest* req,
                                         v1::UploadBudgetResponse* resp) override;
  grpc::ServerUnaryReactor* GetBudgetReport(grpc::CallbackServerContext* ctx,
                                            const v1::GetBudgetReportRequest* req,
                                            v1::BudgetReport* resp) override;
  grpc::ServerUnaryReactor* GetPayrollCosts(grpc::CallbackServerContext* ctx,
                                            const v1::GetPayrollCostsRequest* req,
                                            v1::PayrollCosts* resp) override;
  grpc::ServerUnaryReactor* GetReceivablesAgeing(grpc::CallbackServerContext* ctx,
                                                 const v1::GetReceivablesAgeingRequest* req,
                                                 v1::ReceivablesAgeing* resp) override;
  grpc::ServerUnaryReactor* SetStatementMapping(grpc::CallbackServerContext* ctx,
                                                const v1::SetStatementMappingRequest* req,
                                                v1::StatementMapping* resp) override;
  grpc::ServerUnaryReactor* GetStatementMapping(grpc::CallbackServerContext* ctx,
                                                const v1::GetStatementMappingRequest* req,
                                                v1::StatementMapping* resp) override;
  grpc::ServerUnaryReactor* ExportReport(grpc::CallbackServerContext* ctx,
                                         const v1::ExportReportRequest* req,
                                         v1::ExportReportResponse* resp) override;
  grpc::ServerUnaryReactor* GetRegionalReport(grpc::CallbackServerContext* ctx,
                                              const v1::GetRegionalReportRequest* req,
                                              v1::RegionalReport* resp) override;
  grpc::ServerUnaryReactor* GetFeedStatus(grpc::CallbackServerContext* ctx,
                                          const v1::GetFeedStatusRequest* req,
                                          v1::FeedStatus* resp) override;

 private:
  // The ageing from options_.receivables (FAILED_PRECONDITION without one).
  absl::StatusOr<v1::ReceivablesAgeing> Ageing(const CallContext& call,
                                               const v1::GetReceivablesAgeingRequest& req);
  // Waits until the read model of call.tenant has applied `min_sequence` (see above).
  absl::Status AwaitSequence(const server::CallContext& call, int64_t min_sequence);
  // Authenticates without requiring a tenant, then runs `fn` on the worker pool.
  grpc::ServerUnaryReactor* HandleCellWide(grpc::CallbackServerContext* ctx,
                                           absl::string_view method,
                                           std::function<absl::Status(const CallContext&)> fn);

  ReportingRepository* const repository_;
  const LedgerFollower* const follower_;
  ReportingMetrics* const metrics_;
  const server::HandlerEnv env_;
  const Options options_;
};

}  // namespace tahe::reporting
