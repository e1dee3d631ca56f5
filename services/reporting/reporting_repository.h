#pragma once

// Everything of reporting that touches reporting_db: applying batches of the ledger's change feed
// to the aggregates (exactly once, guarded by the tenant's checkpoint), and the reports read from
// the aggregates. Each method runs in one transaction of the call's tenant (row-level security on
// `tahe.tenant`); the regional report alone reads every tenant, in a read-only transaction that
// sets `tahe.scope` to 'region'. Blocking: call from a worker.
//
//   ReportingRepository repository(&pool);
//   ASSIGN_OR_RETURN(int64_t at, repository.LoadCheckpoint("lahti"));
//   ASSIGN_OR_RETURN(int64_t now_at, repository.ApplyEntries("lahti", at, entries));
//   ASSIGN_OR_RETURN(v1::TrialBalance tb, repository.GetTrialBalance(call, req));
//
// Aggregates (see migrations/0001_reporting.sql): per (tenant, currency, account, day) and
// (..., month) debit and credit; per (tenant, currency, dimension key, value, account, month);
// payroll lines per (tenant, currency, month, cost centre, account); the accounts seen. A date
// range is served as whole months from the monthly table plus the partial months from the daily
// one (SplitRange), so no report scans journal lines.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "libs/pg/migrations.h"
#include "libs/pg/pg.h"
#include "libs/server/call.h"
#include "services/reporting/reporting_domain.h"
#include "tahe/ledger/v1/ledger.pb.h"
#include "tahe/reporting/v1/reporting.pb.h"

namespace tahe::reporting {

using server::CallContext;

const std::vector<tahe::pg::Migration>& Migrations();
inline constexpr char kReportingAppRole[] = "tahe_reporting_app";

struct Checkpoint {
  std::string tenant;
  int64_t last_sequence = 0;
};

class ReportingRepository {
 public:
  explicit ReportingRepository(pg::Pool* pool) : pool_(pool) {}

  // --- the feed ---
  // The last sequence applied for `tenant` (its checkpoint row is created at 0 if missing).
  absl::StatusOr<int64_t> LoadCheckpoint(const std::string& tenant, absl::Time deadline);
  // Applies `entries` (in sequence order; those at or below `expected` are skipped, the rest must
  // follow it without a gap) in one transaction that first moves the checkpoint from `expected`
  // to the last entry's sequence. FAILED_PRECONDITION, and nothing written, if the checkpoint is
  // no longer `expected` (another follower applied the batch) or a sequence is missing. Returns
  // the new checkpoint.
  absl::StatusOr<int64_t> ApplyEntries(const std::string& tenant, int64_t expected,
                                       const std::vector<ledger::v1::Entry>& entries,
                                       absl::Time deadline);
  // The calling tenant's checkpoint, or every tenant's when call.tenant is empty.
  absl::StatusOr<std::vector<Checkpoint>> Checkpoints(const CallContext& call);

  // --- reports ---
  absl::StatusOr<v1::TrialBalance> GetTrialBalance(const CallContext& call,
                                                   const v1::GetTrialBalanceRequest& req);
  absl::StatusOr<v1::Statement> GetIncomeStatement(const CallContext& call,
                                                   const v1::GetIncomeStatementRequest& req);
  absl::StatusOr<v1::Statement> GetBalanceSheet(const CallContext& call,
                                                const v1::GetBalanceSheetRequest& req);
  absl::StatusOr<v1::CostCentreReport> GetCostCentreReport(
      const CallContext& call, const v1::GetCostCentreReportRequest& req);
  absl::StatusOr<v1::UploadBudgetResponse> UploadBudget(const CallContext& call,
                                                        const v1::UploadBudgetRequest& req);
  absl::StatusOr<v1::BudgetReport> GetBudgetReport(const CallContext& call,
                                                   const v1::GetBudgetReportRequest& req);
  absl::StatusOr<v1::PayrollCosts> GetPayrollCosts(const CallContext& call,
                                                   const v1::GetPayrollCostsRequest& req);
  absl::StatusOr<v1::StatementMapping> SetStatementMapping(
      const CallContext& call, const v1::SetStatementMappingRequest& req);
  absl::StatusOr<v1::StatementMapping> GetStatementMapping(const CallContext& call);
  // Every tenant of the cell (no call.tenant needed).
  absl::StatusOr<v1::RegionalReport> GetRegionalReport(const CallContext& call,
                                                       const v1::GetRegionalReportRequest& req);

 private:
  pg::Pool* pool_;
};

}  // namespace tahe::reporting
