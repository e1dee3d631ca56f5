#pragma once

// The ledger posting of an approved pay run, free of gRPC and SQL: one balanced entry summarised
// per account and cost centre (finnish-rules.md §7: never per employee).
//
//   std::vector<PostingGroup> groups = ...;   // the run's payslip totals per cost centre
//   ASSIGN_OR_RETURN(ledger::v1::EntryDraft draft,
//                    BuildPayRunPosting({.pay_run_id = "2026-11-1", ...}, accounts, groups));
//
// Expense lines (debits) carry the cost centre and the employment's other dimensions:
//   wages               gross cash pay
//   reimbursements      tax-free reimbursements (mileage, per diem)
//   pension costs       the employer's pension share
//   other social costs  employer unemployment, health, accident and group-life insurance
// Liability lines (credits) are summed over the whole run, without dimensions:
//   withholding payable        withholding
//   pension payable            employee + employer pension
//   unemployment payable       employee + employer unemployment insurance
//   health insurance payable   employer health insurance
//   other payable              union fees, deductions, accident and group-life insurance
//   net pay payable            net pays
// Benefits in kind are not booked here: their cost was booked when bought; payroll only taxes
// them (they raise the withholding and lower the net pay, so the entry still balances).
// debits = gross + reimbursements + employer contributions; credits = withholding + employee
// contributions + union fees + deductions + net + employer contributions; equal because
// net = gross - withholding - employee contributions - union fees - deductions + reimbursements.
// Zero amounts give no line.

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "services/payroll/payroll_domain.h"
#include "tahe/ledger/v1/ledger.pb.h"

namespace tahe::payroll {

struct PostingAccountNumbers {
  std::string wages = "4000";
  std::string reimbursements = "4700";
  std::string pension_costs = "4100";
  std::string other_social_costs = "4150";
  std::string withholding_payable = "2870";
  std::string pension_payable = "2871";
  std::string unemployment_payable = "2872";
  std::string health_insurance_payable = "2873";
  std::string other_payable = "2900";
  std::string net_pay_payable = "2880";
};

// The sum of the payslips of one cost centre (and set of other dimensions).
struct PostingGroup {
  // Ledger dimensions of the expense lines: "cost_centre" plus the employment's others.
  std::map<std::string, std::string> dimensions;
  PayslipTotals totals;
};

struct PayRunRef {
  std::string pay_run_id;
  std::string period;        // "YYYY-MM"
  std::string payment_date;  // "YYYY-MM-DD": the entry date
};

// Adds b's figures to a (every field, cumulative_taxable_pay_after_cents excluded).
void AddTotals(PayslipTotals& a, const PayslipTotals& b);

// The balanced entry of the run. FAILED_PRECONDITION if there is nothing to post (every amount
// zero); INTERNAL if it would not balance (a bug).
absl::StatusOr<ledger::v1::EntryDraft> BuildPayRunPosting(const PayRunRef& run,
                                                          const PostingAccountNumbers& accounts,
                                                          const std::vector<PostingGroup>& groups);

}  // namespace tahe::payroll
