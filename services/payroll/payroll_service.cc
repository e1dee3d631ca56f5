#include "services/payroll/payroll_service.h"

#include <utility>

#include "libs/status/status.h"

namespace tahe::payroll {

using server::HandleUnary;

PayrollService::PayrollService(PayrollRepository* repository, server::HandlerEnv env,
                               std::function<void()> on_approved)
    : repository_(repository), env_(env), on_approved_(std::move(on_approved)) {}

#define TAHE_PAYROLL_UNARY(Method, Call)                                              \
  return HandleUnary(ctx, env_, #Method, [this, req, resp](const CallContext& call) { \
    (void)req;                                                                        \
    ASSIGN_OR_RETURN(*resp, Call);                                                    \
    return absl::OkStatus();                                                          \
  })

grpc::ServerUnaryReactor* PayrollService::UpsertEmployee(grpc::CallbackServerContext* ctx,
                                                         const v1::UpsertEmployeeRequest* req,
                                                         v1::Employee* resp) {
  TAHE_PAYROLL_UNARY(UpsertEmployee, repository_->UpsertEmployee(call, *req));
}
grpc::ServerUnaryReactor* PayrollService::GetEmployee(grpc::CallbackServerContext* ctx,
                                                      const v1::GetEmployeeRequest* req,
                                                      v1::Employee* resp) {
  TAHE_PAYROLL_UNARY(GetEmployee, repository_->GetEmployee(call, *req));
}
grpc::ServerUnaryReactor* PayrollService::ListEmployees(grpc::CallbackServerContext* ctx,
                                                        const v1::ListEmployeesRequest* req,
                                                        v1::ListEmployeesResponse* resp) {
  TAHE_PAYROLL_UNARY(ListEmployees, repository_->ListEmployees(call, *req));
}
grpc::ServerUnaryReactor* PayrollService::SetTaxCard(grpc::CallbackServerContext* ctx,
                                                     const v1::SetTaxCardRequest* req,
                                                     v1::TaxCard* resp) {
  TAHE_PAYROLL_UNARY(SetTaxCard, repository_->SetTaxCard(call, *req));
}
grpc::ServerUnaryReactor* PayrollService::ListTaxCards(grpc::CallbackServerContext* ctx,
                                                       const v1::ListTaxCardsRequest* req,
                                                       v1::ListTaxCardsResponse* resp) {
  TAHE_PAYROLL_UNARY(ListTaxCards, repository_->ListTaxCards(call, *req));
}
grpc::ServerUnaryReactor* PayrollService::LoadRateTable(grpc::CallbackServerContext* ctx,
                                                        const v1::LoadRateTableRequest* req,
                                                        v1::RateTable* resp) {
  TAHE_PAYROLL_UNARY(LoadRateTable, repository_->LoadRateTable(call, *req));
}
grpc::ServerUnaryReactor* PayrollService::ListRateTables(grpc::CallbackServerContext* ctx,
                                                         const v1::ListRateTablesRequest* req,
                                                         v1::ListRateTablesResponse* resp) {
  TAHE_PAYROLL_UNARY(ListRateTables, repository_->ListRateTables(call));
}
grpc::ServerUnaryReactor* PayrollService::SetPayrollSettings(
    grpc::CallbackServerContext* ctx, const v1::SetPayrollSettingsRequest* req,
    v1::PayrollSettings* resp) {
  TAHE_PAYROLL_UNARY(SetPayrollSettings, repository_->SetPayrollSettings(call, *req));
}
grpc::ServerUnaryReactor* PayrollService::GetPayrollSettings(
    grpc::CallbackServerContext* ctx, const v1::GetPayrollSettingsRequest* req,
    v1::PayrollSettings* resp) {
  TAHE_PAYROLL_UNARY(GetPayrollSettings, repository_->GetPayrollSettings(call));
}
grpc::ServerUnaryReactor* PayrollService::AddPayItems(grpc::CallbackServerContext* ctx,
                                                      const v1::AddPayItemsRequest* req,
                                                      v1::AddPayItemsResponse* resp) {
  TAHE_PAYROLL_UNARY(AddPayItems, repository_->AddPayItems(call, *req));
}
grpc::ServerUnaryReactor* PayrollService::ListPayItems(grpc::CallbackServerContext* ctx,
                                                       const v1::ListPayItemsRequest* req,
                                                       v1::ListPayItemsResponse* resp) {
  TAHE_PAYROLL_UNARY(ListPayItems, repository_->ListPayItems(call, *req));
}
grpc::ServerUnaryReactor* PayrollService::CreatePayRun(grpc::CallbackServerContext* ctx,
                                                       const v1::CreatePayRunRequest* req,
                                                       v1::PayRun* resp) {
  TAHE_PAYROLL_UNARY(CreatePayRun, repository_->CreatePayRun(call, *req));
}
grpc::ServerUnaryReactor* PayrollService::CalculatePayRun(grpc::CallbackServerContext* ctx,
                                                          const v1::CalculatePayRunRequest* req,
                                                          v1::PayRun* resp) {
  TAHE_PAYROLL_UNARY(CalculatePayRun, repository_->CalculatePayRun(call, *req));
}
grpc::ServerUnaryReactor* PayrollService::GetPayRun(grpc::CallbackServerContext* ctx,
                                                    const v1::GetPayRunRequest* req,
                                                    v1::PayRun* resp) {
  TAHE_PAYROLL_UNARY(GetPayRun, repository_->GetPayRun(call, *req));
}
grpc::ServerUnaryReactor* PayrollService::ListPayRuns(grpc::CallbackServerContext* ctx,
                                                      const v1::ListPayRunsRequest* req,
                                                      v1::ListPayRunsResponse* resp) {
  TAHE_PAYROLL_UNARY(ListPayRuns, repository_->ListPayRuns(call, *req));
}
grpc::ServerUnaryReactor* PayrollService::ListPayslips(grpc::CallbackServerContext* ctx,
                                                       const v1::ListPayslipsRequest* req,
                                                       v1::ListPayslipsResponse* resp) {
  TAHE_PAYROLL_UNARY(ListPayslips, repository_->ListPayslips(call, *req));
}
grpc::ServerUnaryReactor* PayrollService::CancelPayRun(grpc::CallbackServerContext* ctx,
                                                       const v1::CancelPayRunRequest* req,
                                                       v1::PayRun* resp) {
  TAHE_PAYROLL_UNARY(CancelPayRun, repository_->CancelPayRun(call, *req));
}
grpc::ServerUnaryReactor* PayrollService::GetPaymentFile(grpc::CallbackServerContext* ctx,
                                                         const v1::GetPaymentFileRequest* req,
                                                         v1::PaymentFile* resp) {
  TAHE_PAYROLL_UNARY(GetPaymentFile, repository_->GetPaymentFile(call, *req));
}

grpc::ServerUnaryReactor* PayrollService::ApprovePayRun(grpc::CallbackServerContext* ctx,
                                                        const v1::ApprovePayRunRequest* req,
                                                        v1::PayRun* resp) {
  return HandleUnary(ctx, env_, "ApprovePayRun", [this, req, resp](const CallContext& call) {
    ASSIGN_OR_RETURN(*resp, repository_->ApprovePayRun(call, *req));
    if (on_approved_) {
      on_approved_();
    }
    return absl::OkStatus();
  });
}

#undef TAHE_PAYROLL_UNARY

grpc::ServerUnaryReactor* PayrollTenantDataService::DescribeTenantData(
    grpc::CallbackServerContext* ctx, const tahe::tenancy::v1::DescribeTenantDataRequest* req,
    tahe::tenancy::v1::DescribeTenantDataResponse* resp) {
  return HandleUnary(ctx, env_, "DescribeTenantData", [this, resp](const CallContext& call) {
    ASSIGN_OR_RETURN(*resp, repository_->DescribeTenantData(call));
    return absl::OkStatus();
  });
}

}  // namespace tahe::payroll
