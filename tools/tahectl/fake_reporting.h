#pragma once

// A stand-in for tahe.reporting.v1.ReportingService, for testing tahectl's report commands over
// real gRPC without a database or a ledger. It computes nothing: a test sets the answer of each
// method (a report built in the test, or an error such as the service's INVALID_ARGUMENT naming a
// field), and the fake records every call's metadata and request so that the test can check what
// the command sent. It checks the credential; a method without an answer returns its empty
// response.
//
//   FakeReporting reporting(kOperatorKey);
//   reporting.SetResponse("GetTrialBalance", balance);
//   reporting.SetError("GetBalanceSheet", grpc::Status(grpc::StatusCode::UNAVAILABLE, "..."));
//   grpc::ServerBuilder builder;  builder.RegisterService(&reporting);  ...
//   reporting.calls()[0].request;   // the GetTrialBalanceRequest

#include <grpcpp/grpcpp.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "tahe/reporting/v1/reporting.grpc.pb.h"

namespace tahe::tahectl {

class FakeReporting final : public tahe::reporting::v1::ReportingService::Service {
 public:
  // Calls must carry `authorization: Bearer <api_key>` (through the gateway) or, when
  // `internal_token` is not empty, `x-tahe-internal-token: <internal_token>` (straight to a cell).
  explicit FakeReporting(std::string api_key, std::string internal_token = "")
      : api_key_(std::move(api_key)), internal_token_(std::move(internal_token)) {}

  struct CallRecord {
    // "GetTrialBalance".
    std::string method;
    std::string authorization;
    std::string tenant;
    std::string internal_token;
    std::string request_id_metadata;
    std::shared_ptr<const google::protobuf::Message> request;
  };
  std::vector<CallRecord> calls() const;

  // Every later call of `method` answers `response` (which must be the method's response type).
  void SetResponse(const std::string& method, const google::protobuf::Message& response);
  // Every later call of `method` fails with `status`.
  void SetError(const std::string& method, grpc::Status status);

  grpc::Status GetTrialBalance(grpc::ServerContext* context,
                               const tahe::reporting::v1::GetTrialBalanceRequest* request,
                               tahe::reporting::v1::TrialBalance* response) override;
  grpc::Status GetIncomeStatement(grpc::ServerContext* context,
                                  const tahe::reporting::v1::GetIncomeStatementRequest* request,
                                  tahe::reporting::v1::Statement* response) override;
  grpc::Status GetBalanceSheet(grpc::ServerContext* context,
                               const tahe::reporting::v1::GetBalanceSheetRequest* request,
                               tahe::reporting::v1::Statement* response) override;
  grpc::Status GetCostCentreReport(grpc::ServerContext* context,
                                   const tahe::reporting::v1::GetCostCentreReportRequest* request,
                                   tahe::reporting::v1::CostCentreReport* response) override;
  grpc::Status UploadBudget(grpc::ServerContext* context,
                            const tahe::reporting::v1::UploadBudgetRequest* request,
                            tahe::reporting::v1::UploadBudgetResponse* response) override;
  grpc::Status GetBudgetReport(grpc::ServerContext* context,
                               const tahe::reporting::v1::GetBudgetReportRequest* request,
                               tahe::reporting::v1::BudgetReport* response) override;
  grpc::Status GetPayrollCosts(grpc::ServerContext* context,
                               const tahe::reporting::v1::GetPayrollCostsRequest* request,
                               tahe::reporting::v1::PayrollCosts* response) override;
  grpc::Status GetReceivablesAgeing(grpc::ServerContext* context,
                                    const tahe::reporting::v1::GetReceivablesAgeingRequest* request,
                                    tahe::reporting::v1::ReceivablesAgeing* response) override;
  grpc::Status SetStatementMapping(grpc::ServerContext* context,
                                   const tahe::reporting::v1::SetStatementMappingRequest* request,
                                   tahe::reporting::v1::StatementMapping* response) override;
  grpc::Status GetStatementMapping(grpc::ServerContext* context,
                                   const tahe::reporting::v1::GetStatementMappingRequest* request,
                                   tahe::reporting::v1::StatementMapping* response) override;
  grpc::Status ExportReport(grpc::ServerContext* context,
                            const tahe::reporting::v1::ExportReportRequest* request,
                            tahe::reporting::v1::ExportReportResponse* response) override;
  grpc::Status GetRegionalReport(grpc::ServerContext* context,
                                 const tahe::reporting::v1::GetRegionalReportRequest* request,
                                 tahe::reporting::v1::RegionalReport* response) override;
  grpc::Status GetFeedStatus(grpc::ServerContext* context,
                             const tahe::reporting::v1::GetFeedStatusRequest* request,
                             tahe::reporting::v1::FeedStatus* response) override;

 private:
  // Records the call, checks the credential, then answers what the test set for `method`.
  grpc::Status Answer(grpc::ServerContext* context, const char* method,
                      const google::protobuf::Message& request,
                      google::protobuf::Message* response);

  const std::string api_key_;
  const std::string internal_token_;
  mutable absl::Mutex mu_;
  std::vector<CallRecord> calls_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string> responses_ ABSL_GUARDED_BY(mu_);  // serialized
  std::map<std::string, grpc::Status> errors_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tahe::tahectl
