#pragma once

// The `tahectl report ...` commands: an organisation's trial balance, income statement, balance
// sheet, cost-centre, budget and payroll-cost reports as tables (or --json, or exported by the
// service as CSV, JSON or HTML into a file), budget uploads from CSV, the statement mapping, the
// cell's regional report and the read model's feed status, all through
// tahe.reporting.v1.ReportingService (normally by way of the gateway). The command line and every
// file it names are read and checked completely before anything is called.
//
//   ASSIGN_OR_RETURN(ReportCommand command, ParseReportCommand(args, std::cin));
//   ReportingClient reporting(settings);
//   RETURN_IF_ERROR(command.run(reporting, CommandOutput{std::cout, std::cerr}));
//
// What a report covers (ReportScope): --from YYYY-MM-DD --to YYYY-MM-DD, or --month YYYY-MM, or
// --year YYYY (the balance sheet: --date YYYY-MM-DD, default today); --dimension KEY=VALUE,
// --currency CODE and --min-sequence N (wait until reporting has applied that ledger sequence).

#include <grpcpp/grpcpp.h>

#include <functional>
#include <istream>
#include <memory>
#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tahe/reporting/v1/reporting.grpc.pb.h"
#include "tools/tahectl/args.h"
#include "tools/tahectl/client.h"
#include "tools/tahectl/command_helpers.h"

namespace tahe::tahectl {

// A thin synchronous client of tahe.reporting.v1.ReportingService: every call gets its own
// context (fresh x-request-id, credentials, tenant, deadline); a failed call keeps its gRPC code
// and names the method.
class ReportingClient {
 public:
  explicit ReportingClient(ClientSettings settings);

  const ClientSettings& settings() const { return settings_; }

  absl::StatusOr<tahe::reporting::v1::TrialBalance> GetTrialBalance(
      const tahe::reporting::v1::GetTrialBalanceRequest& request);
  absl::StatusOr<tahe::reporting::v1::Statement> GetIncomeStatement(
      const tahe::reporting::v1::GetIncomeStatementRequest& request);
  absl::StatusOr<tahe::reporting::v1::Statement> GetBalanceSheet(
      const tahe::reporting::v1::GetBalanceSheetRequest& request);
  absl::StatusOr<tahe::reporting::v1::CostCentreReport> GetCostCentreReport(
      const tahe::reporting::v1::GetCostCentreReportRequest& request);
  absl::StatusOr<tahe::reporting::v1::UploadBudgetResponse> UploadBudget(
      const tahe::reporting::v1::UploadBudgetRequest& request);
  absl::StatusOr<tahe::reporting::v1::BudgetReport> GetBudgetReport(
      const tahe::reporting::v1::GetBudgetReportRequest& request);
  absl::StatusOr<tahe::reporting::v1::PayrollCosts> GetPayrollCosts(
      const tahe::reporting::v1::GetPayrollCostsRequest& request);
  absl::StatusOr<tahe::reporting::v1::ReceivablesAgeing> GetReceivablesAgeing(
      const tahe::reporting::v1::GetReceivablesAgeingRequest& request);
  absl::StatusOr<tahe::reporting::v1::StatementMapping> SetStatementMapping(
      const tahe::reporting::v1::SetStatementMappingRequest& request);
  absl::StatusOr<tahe::reporting::v1::StatementMapping> GetStatementMapping(
      const tahe::reporting::v1::GetStatementMappingRequest& request);
  absl::StatusOr<tahe::reporting::v1::ExportReportResponse> ExportReport(
      const tahe::reporting::v1::ExportReportRequest& request);
  absl::StatusOr<tahe::reporting::v1::RegionalReport> GetRegionalReport(
      const tahe::reporting::v1::GetRegionalReportRequest& request);
  absl::StatusOr<tahe::reporting::v1::FeedStatus> GetFeedStatus(
      const tahe::reporting::v1::GetFeedStatusRequest& request);

 private:
  ClientSettings settings_;
  std::unique_ptr<tahe::reporting::v1::ReportingService::Stub> stub_;
};

// One report command, parsed and checked, with its input file read: `run` makes the calls.
struct ReportCommand {
  std::string name;
  // False for the cell's reports (regional, feed), which an operator calls without a tenant.
  bool needs_tenant = true;
  std::function<absl::Status(ReportingClient& reporting, const CommandOutput& output)> run;
};

// `args.positional()` starts with "report". `in` is stdin (a file named "-"). A usage error
// (exit 2) for anything that is not a well-formed report command or whose file does not parse;
// a file's problems are all listed, one a line.
absl::StatusOr<ReportCommand> ParseReportCommand(const Args& args, std::istream& in);

// The tables. A statement: one row a line, indented by level, this period and the previous year
// side by side, subtotals in capitals; a trial balance with its totals row; and so on.
void PrintTrialBalance(const tahe::reporting::v1::TrialBalance& report, std::ostream& out);
void PrintStatement(const tahe::reporting::v1::Statement& report, std::ostream& out);
void PrintCostCentreReport(const tahe::reporting::v1::CostCentreReport& report, std::ostream& out);
void PrintBudgetReport(const tahe::reporting::v1::BudgetReport& report, std::ostream& out);
void PrintPayrollCosts(const tahe::reporting::v1::PayrollCosts& report, std::ostream& out);
void PrintStatementMapping(const tahe::reporting::v1::StatementMapping& mapping, std::ostream& out);
void PrintRegionalReport(const tahe::reporting::v1::RegionalReport& report, std::ostream& out);
void PrintFeedStatus(const tahe::reporting::v1::FeedStatus& status, std::ostream& out);

// "Toimintakulut" -> "TOIMINTAKULUT", "Tilikauden ylijäämä" -> "TILIKAUDEN YLIJÄÄMÄ": ASCII and
// the Finnish and Swedish letters å, ä, ö.
std::string UpperLabel(absl::string_view label);

}  // namespace tahe::tahectl
