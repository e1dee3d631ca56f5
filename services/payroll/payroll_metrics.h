#pragma once

// Payroll's own Prometheus metrics (the outbox's are OutboxRelay's): how long pay runs take and
// how big they are, the payslips calculated, and the input refused. PayrollRepository reports
// them, because only it knows whether a request did the work or was an idempotent replay (a
// replay is not counted again) and how many items a batch refused.
//
//   PayrollMetrics metrics(&registry);   // or nullptr: every method does nothing
//   metrics.Calculated({.seconds = 7.2, .employees = 100000, .payslips = 99998, .skipped = 2});
//
// Families (no tenant, employee or run labels, so the series stay few):
//   tahe_payroll_pay_run_phase_seconds{phase="calculate"|"approve"}  histogram, 0.01 s to 120 s
//   tahe_payroll_pay_run_employees                     histogram, employees in scope, 1 to 1e6
//   tahe_payroll_payslips_calculated_total             counter
//   tahe_payroll_payslips_skipped_total                counter
//   tahe_payroll_calculation_failures_total{code}      counter, code = "FAILED_PRECONDITION", ...
//   tahe_payroll_pay_items_rejected_total{rpc="AddPayItems"|"ImportPayItems"}      counter
//   tahe_payroll_employees_rejected_total{rpc="UpsertEmployee"|"ImportEmployees"}  counter

#include <cstdint>

#include "absl/status/status.h"

namespace prometheus {
class Registry;
class Counter;
class Histogram;
template <typename T>
class Family;
}  // namespace prometheus

namespace tahe::payroll {

class PayrollMetrics {
 public:
  // `registry` may be null (no metrics). REQUIRES: registry outlives this object. Thread-safe.
  explicit PayrollMetrics(prometheus::Registry* registry);

  struct Calculation {
    double seconds = 0;
    int employees = 0;  // in the run's scope
    int payslips = 0;
    int skipped = 0;
  };
  // A CalculatePayRun that calculated (committed, not a replay).
  void Calculated(const Calculation& calculation);
  // A CalculatePayRun that ended in `status` (not OK).
  void CalculationFailed(const absl::Status& status);
  // An ApprovePayRun that approved (committed, not a replay).
  void Approved(double seconds);

  enum class ItemRpc { kAddPayItems, kImportPayItems };
  enum class EmployeeRpc { kUpsertEmployee, kImportEmployees };
  void PayItemsRejected(ItemRpc rpc, int items);
  void EmployeesRejected(EmployeeRpc rpc, int employees);

 private:
  prometheus::Family<prometheus::Counter>* failures_ = nullptr;
  prometheus::Histogram* calculate_seconds_ = nullptr;
  prometheus::Histogram* approve_seconds_ = nullptr;
  prometheus::Histogram* employees_ = nullptr;
  prometheus::Counter* payslips_ = nullptr;
  prometheus::Counter* skipped_ = nullptr;
  prometheus::Counter* items_rejected_add_ = nullptr;
  prometheus::Counter* items_rejected_import_ = nullptr;
  prometheus::Counter* employees_rejected_upsert_ = nullptr;
  prometheus::Counter* employees_rejected_import_ = nullptr;
};

}  // namespace tahe::payroll
