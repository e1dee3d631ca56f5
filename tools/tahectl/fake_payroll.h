#pragma once

// An in-memory stand-in for tahe.payroll.v1.PayrollService, for testing tahectl's payroll
// commands over real gRPC without a database. It keeps the parts of the contract a client relies
// on: `authorization: Bearer <api key>` with x-tahe-tenant (as the gateway forwards them),
// request-id idempotency (the first result again, ALREADY_EXISTS for a different request),
// streamed imports validated record by record, and a calculation that reports its progress to
// WatchPayRun one payslip at a time. Like the service, WatchPayRun first sends the run as it
// stands and ends once the run is settled (CALCULATED, POSTED or CANCELLED) with no calculation
// under way, so a watch begun just before a recalculation ends at once. It records every call's
// metadata and request. Its "payroll" is arithmetic on the monthly salaries, not the Finnish rules,
// and it is not a reference implementation.
//
//   FakePayroll payroll(kOperatorKey);
//   grpc::ServerBuilder builder;  builder.RegisterService(&payroll);  ...
//   payroll.calls()[0].request_ids;   // the request ids of an import's batches

#include <grpcpp/grpcpp.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "tahe/payroll/v1/payroll.grpc.pb.h"

namespace tahe::tahectl {

class FakePayroll final : public tahe::payroll::v1::PayrollService::Service {
 public:
  explicit FakePayroll(std::string api_key) : api_key_(std::move(api_key)) {}

  struct CallRecord {
    std::string method;
    std::string authorization;
    std::string tenant;
    std::string request_id_metadata;
    // The request (the last message of a client stream).
    std::shared_ptr<const google::protobuf::Message> request;
    // The request ids of a client stream's messages, in order.
    std::vector<std::string> request_ids;
    // The record counts of a client stream's messages, in order.
    std::vector<int> batch_sizes;
  };
  std::vector<CallRecord> calls() const;

  // How the fake behaves; set before the calls.
  struct Behaviour {
    // Time the calculation spends on each payslip.
    absl::Duration per_payslip = absl::Milliseconds(1);
    // The calculation waits (up to 5 s) until a WatchPayRun is following the run, so that the
    // watcher sees every step.
    bool calculation_waits_for_watcher = true;
    // The service predates WatchPayRun: the call fails as an unknown method would.
    bool predates_watch = false;
    // An approved run reaches POSTED this long after its approval (zero = at once).
    absl::Duration posted_after = absl::ZeroDuration();
    // The delivery error an approved run shows until then.
    std::string delivery_error;
  };
  void SetBehaviour(Behaviour behaviour);

  // The next call fails with this status (once), after it has been recorded.
  void FailNextCall(grpc::Status status);

  // Employees as stored (no identity codes: the fake keeps a flag that one was given).
  std::vector<tahe::payroll::v1::Employee> employees(const std::string& tenant) const;
  // The identity codes received, to check that they arrived and were never echoed.
  std::vector<std::string> identity_codes_received() const;

  grpc::Status UpsertEmployee(grpc::ServerContext* context,
                              const tahe::payroll::v1::UpsertEmployeeRequest* request,
                              tahe::payroll::v1::Employee* response) override;
  grpc::Status GetEmployee(grpc::ServerContext* context,
                           const tahe::payroll::v1::GetEmployeeRequest* request,
                           tahe::payroll::v1::Employee* response) override;
  grpc::Status ListEmployees(grpc::ServerContext* context,
                             const tahe::payroll::v1::ListEmployeesRequest* request,
                             tahe::payroll::v1::ListEmployeesResponse* response) override;
  grpc::Status ImportEmployees(
      grpc::ServerContext* context,
      grpc::ServerReader<tahe::payroll::v1::ImportEmployeesRequest>* reader,
      tahe::payroll::v1::ImportEmployeesResponse* response) override;
  grpc::Status SetTaxCard(grpc::ServerContext* context,
                          const tahe::payroll::v1::SetTaxCardRequest* request,
                          tahe::payroll::v1::TaxCard* response) override;
  grpc::Status ListTaxCards(grpc::ServerContext* context,
                            const tahe::payroll::v1::ListTaxCardsRequest* request,
                            tahe::payroll::v1::ListTaxCardsResponse* response) override;
  grpc::Status LoadRateTable(grpc::ServerContext* context,
                             const tahe::payroll::v1::LoadRateTableRequest* request,
                             tahe::payroll::v1::RateTable* response) override;
  grpc::Status ListRateTables(grpc::ServerContext* context,
                              const tahe::payroll::v1::ListRateTablesRequest* request,
                              tahe::payroll::v1::ListRateTablesResponse* response) override;
  grpc::Status SetPayrollSettings(grpc::ServerContext* context,
                                  const tahe::payroll::v1::SetPayrollSettingsRequest* request,
                                  tahe::payroll::v1::PayrollSettings* response) override;
  grpc::Status GetPayrollSettings(grpc::ServerContext* context,
                                  const tahe::payroll::v1::GetPayrollSettingsRequest* request,
                                  tahe::payroll::v1::PayrollSettings* response) override;
  grpc::Status ImportPayItems(grpc::ServerContext* context,
                              grpc::ServerReader<tahe::payroll::v1::ImportPayItemsRequest>* reader,
                              tahe::payroll::v1::ImportPayItemsResponse* response) override;
  grpc::Status ListPayItems(grpc::ServerContext* context,
                            const tahe::payroll::v1::ListPayItemsRequest* request,
                            tahe::payroll::v1::ListPayItemsResponse* response) override;
  grpc::Status CreatePayRun(grpc::ServerContext* context,
                            const tahe::payroll::v1::CreatePayRunRequest* request,
                            tahe::payroll::v1::PayRun* response) override;
  grpc::Status CalculatePayRun(grpc::ServerContext* context,
                               const tahe::payroll::v1::CalculatePayRunRequest* request,
                               tahe::payroll::v1::PayRun* response) override;
  grpc::Status WatchPayRun(grpc::ServerContext* context,
                           const tahe::payroll::v1::WatchPayRunRequest* request,
                           grpc::ServerWriter<tahe::payroll::v1::PayRunProgress>* writer) override;
  grpc::Status GetPayRun(grpc::ServerContext* context,
                         const tahe::payroll::v1::GetPayRunRequest* request,
                         tahe::payroll::v1::PayRun* response) override;
  grpc::Status ListPayRuns(grpc::ServerContext* context,
                           const tahe::payroll::v1::ListPayRunsRequest* request,
                           tahe::payroll::v1::ListPayRunsResponse* response) override;
  grpc::Status RenderPayslips(grpc::ServerContext* context,
                              const tahe::payroll::v1::RenderPayslipsRequest* request,
                              tahe::payroll::v1::RenderPayslipsResponse* response) override;
  grpc::Status ApprovePayRun(grpc::ServerContext* context,
                             const tahe::payroll::v1::ApprovePayRunRequest* request,
                             tahe::payroll::v1::PayRun* response) override;
  grpc::Status CancelPayRun(grpc::ServerContext* context,
                            const tahe::payroll::v1::CancelPayRunRequest* request,
                            tahe::payroll::v1::PayRun* response) override;
  grpc::Status GetPaymentFile(grpc::ServerContext* context,
                              const tahe::payroll::v1::GetPaymentFileRequest* request,
                              tahe::payroll::v1::PaymentFile* response) override;

 private:
  struct Stored {
    std::string method;
    std::string request;
    std::string response;
  };
  struct Tenant {
    std::map<std::string, tahe::payroll::v1::Employee> employees;
    std::map<std::string, std::vector<tahe::payroll::v1::TaxCard>> tax_cards;
    tahe::payroll::v1::PayrollSettings settings;
    std::map<std::string, tahe::payroll::v1::PayItem> items;
    std::map<std::string, tahe::payroll::v1::PayRun> runs;
    // Per run: every progress step so far, in order (WatchPayRun sends those after it started).
    std::map<std::string, std::vector<tahe::payroll::v1::PayRunProgress>> progress;
    // Per run: the watches following it (not those about to end at a settled run).
    std::map<std::string, int> watchers;
    // Runs whose calculation is under way: their watchers wait for it whatever the status.
    std::map<std::string, bool> calculating;
    std::map<std::string, absl::Time> approved_at;
    std::map<std::string, Stored> by_request_id;
  };

  // Records the call and checks the credentials; on success *tenant is the caller's state.
  grpc::Status Admit(grpc::ServerContext* context, const char* method,
                     const google::protobuf::Message* request, Tenant** tenant)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  grpc::Status CheckReplay(Tenant& tenant, const char* method, const std::string& request_id,
                           const google::protobuf::Message& request,
                           google::protobuf::Message* response, bool* replayed)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Remember(Tenant& tenant, const char* method, const std::string& request_id,
                const google::protobuf::Message& request, const google::protobuf::Message& response)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Publish(Tenant& tenant, const std::string& pay_run_id,
               tahe::payroll::v1::PayRunProgress progress) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Moves an approved run to POSTED once Behaviour::posted_after has passed.
  void AdvanceDelivery(Tenant& tenant, const std::string& pay_run_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Records the call; OK when the credentials are right.
  grpc::Status Record(grpc::ServerContext* context, const char* method,
                      const google::protobuf::Message* request, std::string* tenant_name)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string api_key_;
  mutable absl::Mutex mu_;
  Behaviour behaviour_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<grpc::Status> fail_next_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Tenant> tenants_ ABSL_GUARDED_BY(mu_);
  std::vector<CallRecord> calls_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> identity_codes_ ABSL_GUARDED_BY(mu_);
  int next_run_ ABSL_GUARDED_BY(mu_) = 1;
};

}  // namespace tahe::tahectl
