#pragma once

// Payroll's SQL: employees, tax cards, rate tables, settings, pay items, pay runs and payslips in
// payroll_db, and the outbox of ledger postings. Every tenant's rows are read and written in a
// transaction of that tenant (RLS); blocking: call from a worker thread.
//
//   PayrollRepository repository(pool.get(), {.identity_key = key});
//   ASSIGN_OR_RETURN(v1::Employee e, repository.UpsertEmployee(call, request));
//   ASSIGN_OR_RETURN(v1::PayRun run, repository.CalculatePayRun(call, calculate_request));
//   ASSIGN_OR_RETURN(v1::PayRun approved, repository.ApprovePayRun(call, approve_request));
//   // approved: the ledger posting is in the outbox; outbox::LedgerOutboxRelay delivers it.
//
// Every mutating method validates all input first (INVALID_ARGUMENT naming the field), is
// idempotent by request_id (pg::Idempotent), and writes in one transaction, so nothing is ever
// half-written. The import batches differ only in refusing invalid items one by one (in the
// response) rather than the whole batch.
//
// Metrics (payroll_metrics.h) are counted here, after the commit, so that a replayed request or a
// retried transaction is not counted twice.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "libs/outbox/outbox.h"
#include "libs/pg/migrations.h"
#include "libs/pg/pg.h"
#include "libs/server/call.h"
#include "services/payroll/payroll_domain.h"
#include "services/payroll/payroll_metrics.h"
#include "services/payroll/rate_tables.h"
#include "tahe/ledger/v1/ledger.pb.h"
#include "tahe/payroll/v1/payroll.pb.h"
#include "tahe/tenancy/v1/tenancy.pb.h"

namespace tahe::payroll {

namespace v1 = ::tahe::payroll::v1;
using server::CallContext;

const std::vector<tahe::pg::Migration>& Migrations();
inline constexpr char kPayrollAppRole[] = "tahe_payroll_app";

class PayrollRepository {
 public:
  struct Options {
    // Key of the personal identity codes' keyed hash (HMAC-SHA-256). REQUIRES: >= 32 bytes.
    std::string identity_key;
    // Where the pay-run and rejection metrics go (payroll_metrics.h); null: none.
    prometheus::Registry* registry = nullptr;
  };

  // REQUIRES: pool (and options.registry, if set) outlive the repository.
  PayrollRepository(pg::Pool* pool, Options options);

  // --- employees ---
  absl::StatusOr<v1::Employee> UpsertEmployee(const CallContext& call,
                                              const v1::UpsertEmployeeRequest& req);
  absl::StatusOr<v1::Employee> GetEmployee(const CallContext& call,
                                           const v1::GetEmployeeRequest& req);
  absl::StatusOr<v1::ListEmployeesResponse> ListEmployees(const CallContext& call,
                                                          const v1::ListEmployeesRequest& req);
  // One batch of ImportEmployees: every employee validated as UpsertEmployee validates one; the
  // valid ones upserted in one transaction, the invalid ones (and a number repeated in the batch)
  // in `rejected` with their index in the batch (`batch` left 0 for the caller), key = the
  // employee number when it is a valid one, and the field at fault ("employees[3].iban: ...").
  // Idempotent by request_id: a replay returns the first result and writes nothing. Refused as a
  // whole only without a valid request_id, with more than 10 000 employees, or on a database
  // error. Identity codes are neither stored nor quoted, here or in the stored response.
  absl::StatusOr<v1::ImportEmployeesResponse> ImportEmployeesBatch(
      const CallContext& call, const v1::ImportEmployeesRequest& req);

  // --- tax cards ---
  absl::StatusOr<v1::TaxCard> SetTaxCard(const CallContext& call, const v1::SetTaxCardRequest& req);
  absl::StatusOr<v1::ListTaxCardsResponse> ListTaxCards(const CallContext& call,
                                                        const v1::ListTaxCardsRequest& req);

  // --- rate tables and settings ---
  absl::StatusOr<v1::RateTable> LoadRateTable(const CallContext& call,
                                              const v1::LoadRateTableRequest& req);
  absl::StatusOr<v1::ListRateTablesResponse> ListRateTables(const CallContext& call);
  absl::StatusOr<v1::PayrollSettings> SetPayrollSettings(const CallContext& call,
                                                         const v1::SetPayrollSettingsRequest& req);
  absl::StatusOr<v1::PayrollSettings> GetPayrollSettings(const CallContext& call);

  // --- pay items ---
  absl::StatusOr<v1::AddPayItemsResponse> AddPayItems(const CallContext& call,
                                                      const v1::AddPayItemsRequest& req);
  absl::StatusOr<v1::ListPayItemsResponse> ListPayItems(const CallContext& call,
                                                        const v1::ListPayItemsRequest& req);
  // One batch of ImportPayItems, like ImportEmployeesBatch (key = the item id): items validated
  // as AddPayItems validates them; an unknown employee, an item id repeated in the batch, or an
  // item id already naming a different item rejects that item only. `accepted` counts the items
  // now stored, including those already stored unchanged under their id (re-sending an item
  // changes nothing).
  absl::StatusOr<v1::ImportPayItemsResponse> ImportPayItemsBatch(
      const CallContext& call, const v1::ImportPayItemsRequest& req);

  // --- pay runs ---
  absl::StatusOr<v1::PayRun> CreatePayRun(const CallContext& call,
                                          const v1::CreatePayRunRequest& req);
  // The payslips are calculated on a thread of the calculation's own while this thread writes the
  // ones before them (PayslipCalculator in the .cc). `progress` (may be empty) is told how far
  // the calculation is: (0, total) once the employees in scope are known, (done, total) for every
  // kProgressEvery employees once their payslips are written, and (total, total) when every
  // payslip is written (before the commit). It runs on the calling thread and must not
  // block. A retried transaction starts again from 0.
  static constexpr int kProgressEvery = 1000;
  using ProgressCallback = std::function<void(int done, int total)>;
  absl::StatusOr<v1::PayRun> CalculatePayRun(const CallContext& call,
                                             const v1::CalculatePayRunRequest& req,
                                             const ProgressCallback& progress = nullptr);
  absl::StatusOr<v1::PayRun> GetPayRun(const CallContext& call, const v1::GetPayRunRequest& req);
  absl::StatusOr<v1::ListPayRunsResponse> ListPayRuns(const CallContext& call,
                                                      const v1::ListPayRunsRequest& req);
  absl::StatusOr<v1::ListPayslipsResponse> ListPayslips(const CallContext& call,
                                                        const v1::ListPayslipsRequest& req);
  // The payslips RenderPayslips renders, in employee-number order: the run's, or one employee's
  // when req.employee_number is set (NOT_FOUND if that employee has none in the run).
  // FAILED_PRECONDITION for a run that has no payslips to show (DRAFT, CANCELLED) and for more
  // than kMaxRenderedPayslips (one response must stay within gRPC's default 4 MB).
  static constexpr int kMaxRenderedPayslips = 1000;
  absl::StatusOr<std::vector<v1::Payslip>> PayslipsToRender(const CallContext& call,
                                                            const v1::RenderPayslipsRequest& req);
  absl::StatusOr<v1::PayRun> ApprovePayRun(const CallContext& call,
                                           const v1::ApprovePayRunRequest& req);
  absl::StatusOr<v1::PayRun> CancelPayRun(const CallContext& call,
                                          const v1::CancelPayRunRequest& req);
  // The SEPA file of an approved run's net pays. Each payment's end-to-end id is
  // "<pay_run_id>-<n>", n = 1, 2, ... its position among the run's payslips with net pay in
  // employee-number order: always a valid SEPA identifier (a run id is "YYYY-MM-N"), at most 35
  // characters, unique within the file and across the tenant's runs, and the same every time
  // the file is made (an approved run's payslips never change). The employee number is not in the
  // file (it may hold characters SEPA refuses); n maps back to it through that order. Names are
  // refused at input when the file could not carry them, so the file never fails on a stored
  // name; one stored before that check is FAILED_PRECONDITION naming the employee number.
  absl::StatusOr<v1::PaymentFile> GetPaymentFile(const CallContext& call,
                                                 const v1::GetPaymentFileRequest& req);
  // The change feed of approved runs' totals: entries after `after_sequence`, in sequence order,
  // at most `limit`.
  absl::StatusOr<std::vector<v1::PayRunTotals>> TotalsAfter(const CallContext& call,
                                                            int64_t after_sequence, int limit);

  // What call.tenant has here (employees, pay items, pay runs), for the gateway's check before an
  // organisation moves to another region.
  absl::StatusOr<tahe::tenancy::v1::DescribeTenantDataResponse> DescribeTenantData(
      const CallContext& call);

  // The outbox of ledger postings (libs/outbox); delivery marks the run POSTED, a failed attempt
  // shows its error on the run.
  outbox::OutboxStore* outbox() { return &outbox_; }

 private:
  absl::StatusOr<std::vector<RateTable>> AllRateTables(pqxx::work& tx);
  // What CalculatePayRunInTransaction did, for the metrics.
  struct CalculationStats {
    bool ran = false;   // false: a replay, which calculates nothing
    int employees = 0;  // in the run's scope
  };
  // CalculatePayRun without the metrics.
  absl::StatusOr<v1::PayRun> CalculatePayRunInTransaction(const CallContext& call,
                                                          const v1::CalculatePayRunRequest& req,
                                                          const ProgressCallback& progress,
                                                          CalculationStats* stats);

  pg::Pool* pool_;
  Options options_;
  PayrollMetrics metrics_;
  outbox::OutboxStore outbox_;
};

}  // namespace tahe::payroll
