#pragma once

// The gRPC handlers of tahe.payroll.v1.PayrollService (callback API). Each unary call is
// authenticated (internal credential, tenant) and run on the worker pool by server::HandleUnary;
// the work is PayrollRepository's. ApprovePayRun also wakes the outbox relay so that the ledger
// posting leaves at once.
//
//   PayrollService service(&repository, {&auth, &workers}, [&] { relay.Wake(); });
//   GrpcServer::Start({.services = {&service}, ...});

#include <functional>

#include "libs/server/call.h"
#include "services/payroll/payroll_repository.h"
#include "tahe/payroll/v1/payroll.grpc.pb.h"
#include "tahe/tenancy/v1/tenancy.grpc.pb.h"

namespace tahe::payroll {

class PayrollService final : public v1::PayrollService::CallbackService {
 public:
  // `on_approved` (may be empty) runs after every successful ApprovePayRun.
  PayrollService(PayrollRepository* repository, server::HandlerEnv env,
                 std::function<void()> on_approved);

  grpc::ServerUnaryReactor* UpsertEmployee(grpc::CallbackServerContext* ctx,
                                           const v1::UpsertEmployeeRequest* req,
                                           v1::Employee* resp) override;
  grpc::ServerUnaryReactor* GetEmployee(grpc::CallbackServerContext* ctx,
                                        const v1::GetEmployeeRequest* req,
                                        v1::Employee* resp) override;
  grpc::ServerUnaryReactor* ListEmployees(grpc::CallbackServerContext* ctx,
                                          const v1::ListEmployeesRequest* req,
                                          v1::ListEmployeesResponse* resp) override;
  grpc::ServerUnaryReactor* SetTaxCard(grpc::CallbackServerContext* ctx,
                                       const v1::SetTaxCardRequest* req,
                                       v1::TaxCard* resp) override;
  grpc::ServerUnaryReactor* ListTaxCards(grpc::CallbackServerContext* ctx,
                                         const v1::ListTaxCardsRequest* req,
                                         v1::ListTaxCardsResponse* resp) override;
  grpc::ServerUnaryReactor* LoadRateTable(grpc::CallbackServerContext* ctx,
                                          const v1::LoadRateTableRequest* req,
                                          v1::RateTable* resp) override;
  grpc::ServerUnaryReactor* ListRateTables(grpc::CallbackServerContext* ctx,
                                           const v1::ListRateTablesRequest* req,
                                           v1::ListRateTablesResponse* resp) override;
  grpc::ServerUnaryReactor* SetPayrollSettings(grpc::CallbackServerContext* ctx,
                                               const v1::SetPayrollSettingsRequest* req,
                                               v1::PayrollSettings* resp) override;
  grpc::ServerUnaryReactor* GetPayrollSettings(grpc::CallbackServerContext* ctx,
                                               const v1::GetPayrollSettingsRequest* req,
                                               v1::PayrollSettings* resp) override;
  grpc::ServerUnaryReactor* AddPayItems(grpc::CallbackServerContext* ctx,
                                        const v1::AddPayItemsRequest* req,
                                        v1::AddPayItemsResponse* resp) override;
  grpc::ServerUnaryReactor* ListPayItems(grpc::CallbackServerContext* ctx,
                                         const v1::ListPayItemsRequest* req,
                                         v1::ListPayItemsResponse* resp) override;
  grpc::ServerUnaryReactor* CreatePayRun(grpc::CallbackServerContext* ctx,
                                         const v1::CreatePayRunRequest* req,
                                         v1::PayRun* resp) override;
  grpc::ServerUnaryReactor* CalculatePayRun(grpc::CallbackServerContext* ctx,
                                            const v1::CalculatePayRunRequest* req,
                                            v1::PayRun* resp) override;
  grpc::ServerUnaryReactor* GetPayRun(grpc::CallbackServerContext* ctx,
                                      const v1::GetPayRunRequest* req, v1::PayRun* resp) override;
  grpc::ServerUnaryReactor* ListPayRuns(grpc::CallbackServerContext* ctx,
                                        const v1::ListPayRunsRequest* req,
                                        v1::ListPayRunsResponse* resp) override;
  grpc::ServerUnaryReactor* ListPayslips(grpc::CallbackServerContext* ctx,
                                         const v1::ListPayslipsRequest* req,
                                         v1::ListPayslipsResponse* resp) override;
  grpc::ServerUnaryReactor* CancelPayRun(grpc::CallbackServerContext* ctx,
                                         const v1::CancelPayRunRequest* req,
                                         v1::PayRun* resp) override;
  grpc::ServerUnaryReactor* GetPaymentFile(grpc::CallbackServerContext* ctx,
                                           const v1::GetPaymentFileRequest* req,
                                           v1::PaymentFile* resp) override;
  grpc::ServerUnaryReactor* ApprovePayRun(grpc::CallbackServerContext* ctx,
                                          const v1::ApprovePayRunRequest* req,
                                          v1::PayRun* resp) override;

 private:
  PayrollRepository* repository_;
  server::HandlerEnv env_;
  std::function<void()> on_approved_;
};

// tahe.tenancy.v1.TenantDataService for payroll: what a tenant has in payroll_db.
class PayrollTenantDataService final
    : public tahe::tenancy::v1::TenantDataService::CallbackService {
 public:
  PayrollTenantDataService(PayrollRepository* repository, server::HandlerEnv env)
      : repository_(repository), env_(env) {}

  grpc::ServerUnaryReactor* DescribeTenantData(
      grpc::CallbackServerContext* ctx, const tahe::tenancy::v1::DescribeTenantDataRequest* req,
      tahe::tenancy::v1::DescribeTenantDataResponse* resp) override;

 private:
  PayrollRepository* repository_;
  server::HandlerEnv env_;
};

}  // namespace tahe::payroll
