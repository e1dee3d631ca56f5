#include "tools/tahectl/fake_reporting.h"

#include "absl/strings/str_cat.h"

namespace tahe::tahectl {

namespace v1 = ::tahe::reporting::v1;

namespace {

std::string Metadata(const grpc::ServerContext* context, const char* key) {
  const auto& metadata = context->client_metadata();
  auto it = metadata.find(key);
  return it == metadata.end() ? "" : std::string(it->second.data(), it->second.size());
}

}  // namespace

std::vector<FakeReporting::CallRecord> FakeReporting::calls() const {
  absl::MutexLock lock(&mu_);
  return calls_;
}

void FakeReporting::SetResponse(const std::string& method,
                                const google::protobuf::Message& response) {
  absl::MutexLock lock(&mu_);
  responses_[method] = response.SerializeAsString();
  errors_.erase(method);
}

void FakeReporting::SetError(const std::string& method, grpc::Status status) {
  absl::MutexLock lock(&mu_);
  errors_[method] = std::move(status);
}

grpc::Status FakeReporting::Answer(grpc::ServerContext* context, const char* method,
                                   const google::protobuf::Message& request,
                                   google::protobuf::Message* response) {
  absl::MutexLock lock(&mu_);
  CallRecord record;
  record.method = method;
  record.authorization = Metadata(context, "authorization");
  record.tenant = Metadata(context, "x-tahe-tenant");
  record.internal_token = Metadata(context, "x-tahe-internal-token");
  record.request_id_metadata = Metadata(context, "x-request-id");
  std::shared_ptr<google::protobuf::Message> copy(request.New());
  copy->CopyFrom(request);
  record.request = std::move(copy);
  const bool admitted = record.authorization == absl::StrCat("Bearer ", api_key_) ||
                        (!internal_token_.empty() && record.internal_token == internal_token_);
  calls_.push_back(std::move(record));
  if (!admitted) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "missing or unknown API key");
  }
  if (auto it = errors_.find(method); it != errors_.end()) {
    return it->second;
  }
  if (auto it = responses_.find(method);
      it != responses_.end() && !response->ParseFromString(it->second)) {
    return grpc::Status(grpc::StatusCode::INTERNAL, "the canned response is of another type");
  }
  return grpc::Status::OK;
}

// Every method answers the same way.
#define TAHECTL_FAKE_REPORTING(Method, Request, Response)                                      \
  grpc::Status FakeReporting::Method(grpc::ServerContext* context, const v1::Request* request, \
                                     v1::Response* response) {                                 \
    return Answer(context, #Method, *request, response);                                       \
  }

TAHECTL_FAKE_REPORTING(GetTrialBalance, GetTrialBalanceRequest, TrialBalance)
TAHECTL_FAKE_REPORTING(GetIncomeStatement, GetIncomeStatementRequest, Statement)
TAHECTL_FAKE_REPORTING(GetBalanceSheet, GetBalanceSheetRequest, Statement)
TAHECTL_FAKE_REPORTING(GetCostCentreReport, GetCostCentreReportRequest, CostCentreReport)
TAHECTL_FAKE_REPORTING(UploadBudget, UploadBudgetRequest, UploadBudgetResponse)
TAHECTL_FAKE_REPORTING(GetBudgetReport, GetBudgetReportRequest, BudgetReport)
TAHECTL_FAKE_REPORTING(GetPayrollCosts, GetPayrollCostsRequest, PayrollCosts)
TAHECTL_FAKE_REPORTING(GetReceivablesAgeing, GetReceivablesAgeingRequest, ReceivablesAgeing)
TAHECTL_FAKE_REPORTING(SetStatementMapping, SetStatementMappingRequest, StatementMapping)
TAHECTL_FAKE_REPORTING(GetStatementMapping, GetStatementMappingRequest, StatementMapping)
TAHECTL_FAKE_REPORTING(ExportReport, ExportReportRequest, ExportReportResponse)
TAHECTL_FAKE_REPORTING(GetRegionalReport, GetRegionalReportRequest, RegionalReport)
TAHECTL_FAKE_REPORTING(GetFeedStatus, GetFeedStatusRequest, FeedStatus)

#undef TAHECTL_FAKE_REPORTING

}  // namespace tahe::tahectl
