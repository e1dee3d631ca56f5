#pragma once

// The `tahectl payroll ...` commands: employees, tax cards, settings, rate tables, pay items, pay
// runs, payslips and the payment file, all through tahe.payroll.v1.PayrollService (normally by
// way of the gateway, which routes the organisation's calls to its cell). The command line and
// every file it names are read and checked completely before anything is called, so a usage
// error never leaves half an import behind.
//
//   ASSIGN_OR_RETURN(PayrollCommand command, ParsePayrollCommand(args, std::cin));
//   PayrollClient payroll(settings);
//   RETURN_IF_ERROR(command.run(payroll, PayrollOutput{std::cout, std::cerr, OutputFormat::kTable,
//                                                       isatty(2) != 0, absl::Seconds(1)}));
//
// Personal identity codes are read from a file or stdin only (never a command-line value, which
// ps would show), and nothing tahectl prints contains one: every message from the service goes
// through RedactIdentityCodes first.

#include <grpcpp/grpcpp.h>

#include <functional>
#include <istream>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tahe/payroll/v1/payroll.grpc.pb.h"
#include "tools/tahectl/args.h"
#include "tools/tahectl/client.h"
#include "tools/tahectl/command_helpers.h"
#include "tools/tahectl/format.h"

namespace tahe::tahectl {

// How long `payroll run calculate` and `payroll run approve --wait-posted` wait by default.
inline constexpr absl::Duration kDefaultPayrollWait = absl::Minutes(30);

// A thin synchronous client of tahe.payroll.v1.PayrollService: every call gets its own context
// (fresh x-request-id, credentials, tenant, deadline); a failed call keeps its gRPC code, names
// the method and has any identity code in its message redacted.
class PayrollClient {
 public:
  explicit PayrollClient(ClientSettings settings);

  const ClientSettings& settings() const { return settings_; }

  absl::StatusOr<tahe::payroll::v1::Employee> UpsertEmployee(
      const tahe::payroll::v1::UpsertEmployeeRequest& request);
  absl::StatusOr<tahe::payroll::v1::Employee> GetEmployee(
      const tahe::payroll::v1::GetEmployeeRequest& request);
  absl::StatusOr<tahe::payroll::v1::ListEmployeesResponse> ListEmployees(
      const tahe::payroll::v1::ListEmployeesRequest& request);
  absl::StatusOr<tahe::payroll::v1::TaxCard> SetTaxCard(
      const tahe::payroll::v1::SetTaxCardRequest& request);
  absl::StatusOr<tahe::payroll::v1::ListTaxCardsResponse> ListTaxCards(
      const tahe::payroll::v1::ListTaxCardsRequest& request);
  absl::StatusOr<tahe::payroll::v1::RateTable> LoadRateTable(
      const tahe::payroll::v1::LoadRateTableRequest& request);
  absl::StatusOr<tahe::payroll::v1::ListRateTablesResponse> ListRateTables(
      const tahe::payroll::v1::ListRateTablesRequest& request);
  absl::StatusOr<tahe::payroll::v1::PayrollSettings> SetPayrollSettings(
      const tahe::payroll::v1::SetPayrollSettingsRequest& request);
  absl::StatusOr<tahe::payroll::v1::PayrollSettings> GetPayrollSettings(
      const tahe::payroll::v1::GetPayrollSettingsRequest& request);
  absl::StatusOr<tahe::payroll::v1::ListPayItemsResponse> ListPayItems(
      const tahe::payroll::v1::ListPayItemsRequest& request);
  absl::StatusOr<tahe::payroll::v1::PayRun> CreatePayRun(
      const tahe::payroll::v1::CreatePayRunRequest& request);
  absl::StatusOr<tahe::payroll::v1::PayRun> GetPayRun(
      const tahe::payroll::v1::GetPayRunRequest& request);
  absl::StatusOr<tahe::payroll::v1::ListPayRunsResponse> ListPayRuns(
      const tahe::payroll::v1::ListPayRunsRequest& request);
  absl::StatusOr<tahe::payroll::v1::RenderPayslipsResponse> RenderPayslips(
      const tahe::payroll::v1::RenderPayslipsRequest& request);
  absl::StatusOr<tahe::payroll::v1::PayRun> ApprovePayRun(
      const tahe::payroll::v1::ApprovePayRunRequest& request);
  absl::StatusOr<tahe::payroll::v1::PayRun> CancelPayRun(
      const tahe::payroll::v1::CancelPayRunRequest& request);
  absl::StatusOr<tahe::payroll::v1::PaymentFile> GetPaymentFile(
      const tahe::payroll::v1::GetPaymentFileRequest& request);

  // A calculation can take minutes: its deadline is `wait`, not the settings' timeout.
  absl::StatusOr<tahe::payroll::v1::PayRun> CalculatePayRun(
      const tahe::payroll::v1::CalculatePayRunRequest& request, absl::Duration wait);

  // Every batch in one client stream, with the settings' timeout for each batch. The response
  // counts accepted records over all batches and lists every rejection.
  absl::StatusOr<tahe::payroll::v1::ImportEmployeesResponse> ImportEmployees(
      const std::vector<tahe::payroll::v1::ImportEmployeesRequest>& batches);
  absl::StatusOr<tahe::payroll::v1::ImportPayItemsResponse> ImportPayItems(
      const std::vector<tahe::payroll::v1::ImportPayItemsRequest>& batches);

  // Opens the progress stream of a run in `context` (NewContext). Read until false, then Finish.
  std::unique_ptr<grpc::ClientReader<tahe::payroll::v1::PayRunProgress>> WatchPayRun(
      grpc::ClientContext* context, const tahe::payroll::v1::WatchPayRunRequest& request);

  // A context like every call's, with the deadline `timeout` from now.
  std::unique_ptr<grpc::ClientContext> NewContext(absl::Duration timeout) const;

 private:
  ClientSettings settings_;
  std::unique_ptr<tahe::payroll::v1::PayrollService::Stub> stub_;
};

// Where a payroll command writes (command_helpers.h).
using PayrollOutput = CommandOutput;

// One payroll command, parsed and checked, with its input files read: `run` makes the calls.
struct PayrollCommand {
  std::string name;
  std::function<absl::Status(PayrollClient& payroll, const PayrollOutput& output)> run;
};

// `args.positional()` starts with "payroll". `in` is stdin (`--personal-identity-code-file -`).
// A usage error (exit 2) for anything that is not a well-formed payroll command or whose file
// does not parse; an import's file problems are all listed, one a line.
absl::StatusOr<PayrollCommand> ParsePayrollCommand(const Args& args, std::istream& in);

// "CALCULATED" for PAY_RUN_STATUS_CALCULATED.
std::string PayRunStatusName(tahe::payroll::v1::PayRunStatus status);

// The run's header (id, period, payment date, status, rate tables) and its totals: payslips,
// gross pay, withholding, employee contributions, net pay, employer contributions; then the
// provisional rates used and the skipped employees with their reasons.
void PrintPayRun(const tahe::payroll::v1::PayRun& run, std::ostream& out);

// One row per run.
void PrintPayRuns(const std::vector<tahe::payroll::v1::PayRun>& runs, std::ostream& out);

// One row per employee (no IBAN: the list is for finding people, `get` shows the details).
void PrintEmployees(const std::vector<tahe::payroll::v1::Employee>& employees, std::ostream& out);

// Every field of one employee, one a line.
void PrintEmployee(const tahe::payroll::v1::Employee& employee, std::ostream& out);

void PrintPayrollSettings(const tahe::payroll::v1::PayrollSettings& settings, std::ostream& out);

}  // namespace tahe::tahectl
