#include "services/payroll/payroll_metrics.h"

#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "libs/status/status.h"

namespace tahe::payroll {

PayrollMetrics::PayrollMetrics(prometheus::Registry* registry) {
  if (registry == nullptr) {
    return;
  }
  // A small organisation calculates in hundredths of a second, a large one in a minute or two.
  auto& phase = prometheus::BuildHistogram()
                    .Name("tahe_payroll_pay_run_phase_seconds")
                    .Help("Seconds to calculate or approve a pay run (replays not counted)")
                    .Register(*registry);
  const prometheus::Histogram::BucketBoundaries seconds = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                                                           2.5,  5,     10,   20,  30,   60,  120};
  calculate_seconds_ = &phase.Add({{"phase", "calculate"}}, seconds);
  approve_seconds_ = &phase.Add({{"phase", "approve"}}, seconds);
  employees_ =
      &prometheus::BuildHistogram()
           .Name("tahe_payroll_pay_run_employees")
           .Help("Employees in the scope of each pay run calculated")
           .Register(*registry)
           .Add({}, prometheus::Histogram::BucketBoundaries{1, 10, 50, 100, 500, 1000, 5000, 10000,
                                                            50000, 100000, 500000, 1000000});
  payslips_ = &prometheus::BuildCounter()
                   .Name("tahe_payroll_payslips_calculated_total")
                   .Help("Payslips written by pay run calculations (a recalculation counts again)")
                   .Register(*registry)
                   .Add({});
  skipped_ = &prometheus::BuildCounter()
                  .Name("tahe_payroll_payslips_skipped_total")
                  .Help(
                      "Employees a calculation skipped because their payslip could not be"
                      " calculated (listed in the run's skipped)")
                  .Register(*registry)
                  .Add({});
  failures_ = &prometheus::BuildCounter()
                   .Name("tahe_payroll_calculation_failures_total")
                   .Help("CalculatePayRun calls that ended in an error, by status code")
                   .Register(*registry);
  auto& items = prometheus::BuildCounter()
                    .Name("tahe_payroll_pay_items_rejected_total")
                    .Help(
                        "Pay items refused (AddPayItems: every item of a refused request;"
                        " ImportPayItems: each item rejected)")
                    .Register(*registry);
  items_rejected_add_ = &items.Add({{"rpc", "AddPayItems"}});
  items_rejected_import_ = &items.Add({{"rpc", "ImportPayItems"}});
  auto& employees = prometheus::BuildCounter()
                        .Name("tahe_payroll_employees_rejected_total")
                        .Help(
                            "Employees refused (UpsertEmployee: a refused request;"
                            " ImportEmployees: each employee rejected)")
                        .Register(*registry);
  employees_rejected_upsert_ = &employees.Add({{"rpc", "UpsertEmployee"}});
  employees_rejected_import_ = &employees.Add({{"rpc", "ImportEmployees"}});
}

void PayrollMetrics::Calculated(const Calculation& calculation) {
  if (payslips_ == nullptr) {
    return;
  }
  calculate_seconds_->Observe(calculation.seconds);
  employees_->Observe(calculation.employees);
  payslips_->Increment(calculation.payslips);
  skipped_->Increment(calculation.skipped);
}

void PayrollMetrics::CalculationFailed(const absl::Status& status) {
  if (failures_ == nullptr || status.ok()) {
    return;
  }
  failures_->Add({{"code", CodeName(status.code())}}).Increment();
}

void PayrollMetrics::Approved(double seconds) {
  if (approve_seconds_ != nullptr) {
    approve_seconds_->Observe(seconds);
  }
}

void PayrollMetrics::PayItemsRejected(ItemRpc rpc, int items) {
  if (items_rejected_add_ == nullptr || items <= 0) {
    return;
  }
  (rpc == ItemRpc::kAddPayItems ? items_rejected_add_ : items_rejected_import_)->Increment(items);
}

void PayrollMetrics::EmployeesRejected(EmployeeRpc rpc, int employees) {
  if (employees_rejected_upsert_ == nullptr || employees <= 0) {
    return;
  }
  (rpc == EmployeeRpc::kUpsertEmployee ? employees_rejected_upsert_ : employees_rejected_import_)
      ->Increment(employees);
}

}  // namespace tahe::payroll
