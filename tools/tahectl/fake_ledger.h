#pragma once

// An in-memory stand-in for the ledger service, for testing tahectl over real gRPC without a
// database. It keeps the parts of the contract a client relies on: the trusted metadata
// (x-tahe-internal-token, x-tahe-tenant; or, standing in for the gateway in front of it,
// `authorization: Bearer <api key>` with x-tahe-tenant), request-id idempotency (replay or
// ALREADY_EXISTS), balanced entries in open periods on known accounts and allowed dimension values,
// gapless sequences, trial balances and paged listings. It is not a reference implementation.
//
//   FakeLedger ledger("token");
//   grpc::ServerBuilder builder;  builder.RegisterService(&ledger);  ...

#include <grpcpp/grpcpp.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "tahe/ledger/v1/ledger.grpc.pb.h"

namespace tahe::tahectl {

class FakeLedger final : public tahe::ledger::v1::LedgerService::Service {
 public:
  // The chart template creates these account numbers; the demo adds the rest.
  static const std::vector<std::string>& TemplateAccountNumbers();

  // Admits calls with `internal_token`, or, when `api_key` is not empty, with
  // `authorization: Bearer <api_key>` (as the gateway would; the tenant is still required).
  explicit FakeLedger(std::string internal_token, std::string api_key = "")
      : internal_token_(std::move(internal_token)), api_key_(std::move(api_key)) {}

  // What every call carried, for assertions.
  struct CallRecord {
    std::string method;
    std::string tenant;
    std::string internal_token;
    std::string request_id_metadata;
    std::string authorization;
  };
  std::vector<CallRecord> calls() const;
  std::vector<tahe::ledger::v1::Entry> entries(const std::string& tenant) const;
  std::vector<tahe::ledger::v1::Account> accounts(const std::string& tenant) const;
  std::vector<tahe::ledger::v1::Period> periods(const std::string& tenant) const;

  grpc::Status CreateAccount(grpc::ServerContext* context,
                             const tahe::ledger::v1::CreateAccountRequest* request,
                             tahe::ledger::v1::Account* response) override;
  grpc::Status ListAccounts(grpc::ServerContext* context,
                            const tahe::ledger::v1::ListAccountsRequest* request,
                            tahe::ledger::v1::ListAccountsResponse* response) override;
  grpc::Status LoadChartTemplate(grpc::ServerContext* context,
                                 const tahe::ledger::v1::LoadChartTemplateRequest* request,
                                 tahe::ledger::v1::LoadChartTemplateResponse* response) override;
  grpc::Status DefineDimension(grpc::ServerContext* context,
                               const tahe::ledger::v1::DefineDimensionRequest* request,
                               tahe::ledger::v1::Dimension* response) override;
  grpc::Status OpenPeriod(grpc::ServerContext* context,
                          const tahe::ledger::v1::OpenPeriodRequest* request,
                          tahe::ledger::v1::Period* response) override;
  grpc::Status ListPeriods(grpc::ServerContext* context,
                           const tahe::ledger::v1::ListPeriodsRequest* request,
                           tahe::ledger::v1::ListPeriodsResponse* response) override;
  grpc::Status PostEntry(grpc::ServerContext* context,
                         const tahe::ledger::v1::PostEntryRequest* request,
                         tahe::ledger::v1::PostEntryResponse* response) override;
  grpc::Status ReverseEntry(grpc::ServerContext* context,
                            const tahe::ledger::v1::ReverseEntryRequest* request,
                            tahe::ledger::v1::PostEntryResponse* response) override;
  grpc::Status ListEntries(grpc::ServerContext* context,
                           const tahe::ledger::v1::ListEntriesRequest* request,
                           tahe::ledger::v1::ListEntriesResponse* response) override;
  grpc::Status GetAccountBalance(grpc::ServerContext* context,
                                 const tahe::ledger::v1::GetAccountBalanceRequest* request,
                                 tahe::ledger::v1::GetAccountBalanceResponse* response) override;
  grpc::Status GetTrialBalance(grpc::ServerContext* context,
                               const tahe::ledger::v1::GetTrialBalanceRequest* request,
                               tahe::ledger::v1::GetTrialBalanceResponse* response) override;
  grpc::Status VerifyChain(grpc::ServerContext* context,
                           const tahe::ledger::v1::VerifyChainRequest* request,
                           tahe::ledger::v1::VerifyChainResponse* response) override;

 private:
  struct Stored {
    std::string method;
    std::string request;
    std::string response;
  };
  struct Tenant {
    std::map<std::string, tahe::ledger::v1::Account> accounts;
    std::map<std::string, tahe::ledger::v1::Dimension> dimensions;
    std::map<std::string, tahe::ledger::v1::Period> periods;
    std::vector<tahe::ledger::v1::Entry> entries;
    std::map<std::string, Stored> by_request_id;
  };

  // Records the call and checks the credentials; on success *tenant is the caller's state.
  grpc::Status Admit(grpc::ServerContext* context, const char* method, Tenant** tenant)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // OK with *replayed = false when request_id is new; OK with the stored response parsed into
  // `response` and *replayed = true for the same request; ALREADY_EXISTS for a different one.
  grpc::Status CheckReplay(Tenant& tenant, const char* method, const std::string& request_id,
                           const google::protobuf::Message& request,
                           google::protobuf::Message* response, bool* replayed)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Remember(Tenant& tenant, const char* method, const std::string& request_id,
                const google::protobuf::Message& request, const google::protobuf::Message& response)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  grpc::Status CheckEntry(const Tenant& tenant, const tahe::ledger::v1::EntryDraft& draft) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string internal_token_;
  const std::string api_key_;
  mutable absl::Mutex mu_;
  std::map<std::string, Tenant> tenants_ ABSL_GUARDED_BY(mu_);
  std::vector<CallRecord> calls_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tahe::tahectl
