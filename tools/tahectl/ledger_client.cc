#include "tools/tahectl/ledger_client.h"

#include "absl/strings/str_cat.h"
#include "libs/status/status.h"

namespace tahe::tahectl {

namespace v1 = ::tahe::ledger::v1;

LedgerClient::LedgerClient(ClientSettings settings)
    : settings_(std::move(settings)), stub_(v1::LedgerService::NewStub(settings_.NewChannel())) {}

// One definition per RPC: a fresh context, the call, and the error named after the method.
#define TAHECTL_LEDGER_UNARY(Method, Request, Response)                           \
  absl::StatusOr<v1::Response> LedgerClient::Method(const v1::Request& request) { \
    std::unique_ptr<grpc::ClientContext> context = settings_.NewContext();        \
    v1::Response response;                                                        \
    grpc::Status status = stub_->Method(context.get(), request, &response);       \
    if (!status.ok()) {                                                           \
      return RpcError(#Method, status);                                           \
    }                                                                             \
    return response;                                                              \
  }

TAHECTL_LEDGER_UNARY(CreateAccount, CreateAccountRequest, Account)
TAHECTL_LEDGER_UNARY(ListAccounts, ListAccountsRequest, ListAccountsResponse)
TAHECTL_LEDGER_UNARY(LoadChartTemplate, LoadChartTemplateRequest, LoadChartTemplateResponse)
TAHECTL_LEDGER_UNARY(DefineDimension, DefineDimensionRequest, Dimension)
TAHECTL_LEDGER_UNARY(OpenPeriod, OpenPeriodRequest, Period)
TAHECTL_LEDGER_UNARY(ListPeriods, ListPeriodsRequest, ListPeriodsResponse)
TAHECTL_LEDGER_UNARY(PostEntry, PostEntryRequest, PostEntryResponse)
TAHECTL_LEDGER_UNARY(ReverseEntry, ReverseEntryRequest, PostEntryResponse)
TAHECTL_LEDGER_UNARY(ListEntries, ListEntriesRequest, ListEntriesResponse)
TAHECTL_LEDGER_UNARY(GetAccountBalance, GetAccountBalanceRequest, GetAccountBalanceResponse)
TAHECTL_LEDGER_UNARY(GetTrialBalance, GetTrialBalanceRequest, GetTrialBalanceResponse)
TAHECTL_LEDGER_UNARY(VerifyChain, VerifyChainRequest, VerifyChainResponse)

#undef TAHECTL_LEDGER_UNARY

}  // namespace tahe::tahectl
