#pragma once

// The CSV files of `tahectl payroll employees import` and `payroll items import`: reading them
// into PayrollService messages (exact euros, percentages and hours, no floating point), every
// problem named by row and column, and splitting the rows into import batches whose request ids
// follow from the file's content, so that importing the same file again changes nothing.
//
//   CsvImport<EmployeeRow> parsed = ParseEmployeesCsv(text);
//   if (!parsed.problems.empty()) { for (const CsvProblem& p : parsed.problems) ...; }
//   std::vector<v1::ImportEmployeesRequest> batches =
//       EmployeeBatches(parsed.rows, ContentRequestIdPrefix("employees", text));
//
// The files are CSV as csv.h reads them.
//
// Personal data: no problem found in an employees file repeats a cell's text, since a shifted
// column could put an identity code anywhere.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tahe/payroll/v1/payroll.pb.h"
#include "tools/tahectl/csv.h"

namespace tahe::tahectl {

// Employees and pay items go to the service this many to a streamed batch.
inline constexpr int kImportBatchSize = 1000;

struct EmployeeRow {
  int row = 0;
  tahe::payroll::v1::Employee employee;
};

struct PayItemRow {
  int row = 0;
  tahe::payroll::v1::PayItem item;
};

// Columns: employee_number, first_name, last_name, personal_identity_code, iban, bic (optional),
// start_date, end_date (optional), cost_centre, salary_basis (MONTHLY|HOURLY), monthly_salary
// and hourly_rate (euros; the one the basis needs is required), pension_scheme (KEVA|TYEL),
// union_fee_percent (optional, empty = none). Employee numbers must be unique in the file.
// What only the service can judge (identity code and IBAN check digits) is left to it.
CsvImport<EmployeeRow> ParseEmployeesCsv(absl::string_view text);

// Columns: item_id, employee_number, period (YYYY-MM), kind (MONTHLY_SALARY, HOURLY_WORK, ... as
// PayItemKind without its prefix), quantity (hours or units, at most two decimals) with
// unit_rate (euros), or amount (euros), and description (optional). Item ids must be unique.
CsvImport<PayItemRow> ParsePayItemsCsv(absl::string_view text);

// The rows in batches of `batch_size`, batch N with request id "<prefix>-b<N>" (N from 0, as
// Rejection::batch counts).
std::vector<tahe::payroll::v1::ImportEmployeesRequest> EmployeeBatches(
    const std::vector<EmployeeRow>& rows, absl::string_view request_id_prefix,
    int batch_size = kImportBatchSize);
std::vector<tahe::payroll::v1::ImportPayItemsRequest> PayItemBatches(
    const std::vector<PayItemRow>& rows, absl::string_view request_id_prefix,
    int batch_size = kImportBatchSize);

// Replaces anything shaped like a Finnish personal identity code (DDMMYY, a century sign, three
// digits and a check character) with "[identity code]": a last line of defence applied to every
// message from the payroll service before tahectl prints it.
std::string RedactIdentityCodes(absl::string_view text);

// A rejection of an import in the file's terms: "row 12 (employee E042), column iban: check
// digits do not match". `rows[k]` is the row of the k-th record sent (batches of `batch_size`);
// the service's "employees[3].employment.monthly_salary_minor: ..." becomes
// "column monthly_salary: ...". `key_name` names the key ("employee", "item").
std::string DescribeRejection(const tahe::payroll::v1::Rejection& rejection,
                              const std::vector<int>& rows, absl::string_view key_name,
                              int batch_size = kImportBatchSize);

}  // namespace tahe::tahectl
