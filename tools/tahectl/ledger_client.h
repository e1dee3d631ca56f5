#pragma once

// A thin synchronous client of tahe.ledger.v1.LedgerService for tahectl: every call gets its own
// context (fresh x-request-id, tenant, API key or internal token, deadline) and a failed call
// comes back as an absl::Status that keeps the gRPC code and names the method.
//
//   LedgerClient ledger(settings);
//   ListAccountsRequest request;
//   ASSIGN_OR_RETURN(ListAccountsResponse accounts, ledger.ListAccounts(request));

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tahe/ledger/v1/ledger.grpc.pb.h"
#include "tools/tahectl/client.h"

namespace tahe::tahectl {

class LedgerClient {
 public:
  explicit LedgerClient(ClientSettings settings);

  const ClientSettings& settings() const { return settings_; }

  absl::StatusOr<tahe::ledger::v1::Account> CreateAccount(
      const tahe::ledger::v1::CreateAccountRequest& request);
  absl::StatusOr<tahe::ledger::v1::ListAccountsResponse> ListAccounts(
      const tahe::ledger::v1::ListAccountsRequest& request);
  absl::StatusOr<tahe::ledger::v1::LoadChartTemplateResponse> LoadChartTemplate(
      const tahe::ledger::v1::LoadChartTemplateRequest& request);
  absl::StatusOr<tahe::ledger::v1::Dimension> DefineDimension(
      const tahe::ledger::v1::DefineDimensionRequest& request);
  absl::StatusOr<tahe::ledger::v1::Period> OpenPeriod(
      const tahe::ledger::v1::OpenPeriodRequest& request);
  absl::StatusOr<tahe::ledger::v1::ListPeriodsResponse> ListPeriods(
      const tahe::ledger::v1::ListPeriodsRequest& request);
  absl::StatusOr<tahe::ledger::v1::PostEntryResponse> PostEntry(
      const tahe::ledger::v1::PostEntryRequest& request);
  absl::StatusOr<tahe::ledger::v1::PostEntryResponse> ReverseEntry(
      const tahe::ledger::v1::ReverseEntryRequest& request);
  absl::StatusOr<tahe::ledger::v1::ListEntriesResponse> ListEntries(
      const tahe::ledger::v1::ListEntriesRequest& request);
  absl::StatusOr<tahe::ledger::v1::GetAccountBalanceResponse> GetAccountBalance(
      const tahe::ledger::v1::GetAccountBalanceRequest& request);
  absl::StatusOr<tahe::ledger::v1::GetTrialBalanceResponse> GetTrialBalance(
      const tahe::ledger::v1::GetTrialBalanceRequest& request);
  absl::StatusOr<tahe::ledger::v1::VerifyChainResponse> VerifyChain(
      const tahe::ledger::v1::VerifyChainRequest& request);

 private:
  ClientSettings settings_;
  std::unique_ptr<tahe::ledger::v1::LedgerService::Stub> stub_;
};

}  // namespace tahe::tahectl
