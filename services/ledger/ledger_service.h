#pragma once

// The gRPC handlers of tahe.ledger.v1.LedgerService (callback API). No handler blocks a gRPC
// thread: database work runs on the worker pool, posts go through the group committer. The class
// holds no start-up wiring, so a test can construct it and serve it in-process.

#include <atomic>
#include <memory>

#include "libs/server/call.h"
#include "services/ledger/group_commit.h"
#include "services/ledger/ledger_repository.h"
#include "tahe/ledger/v1/ledger.grpc.pb.h"

namespace tahe::ledger {

class LedgerService final : public v1::LedgerService::CallbackService {
 public:
  struct Options {
    // How often an idle change feed looks for new entries.
    absl::Duration watch_poll_interval = absl::Milliseconds(100);
    int watch_batch = 500;
    // Entries per streamed PostEntries batch.
    int max_bulk_batch_entries = 50000;
  };

  LedgerService(LedgerRepository* repository, GroupCommitter* committer, server::HandlerEnv env,
                Options options);

  // Ends open change-feed streams (UNAVAILABLE: reconnect elsewhere) so shutdown need not wait.
  void BeginShutdown() { stopping_ = true; }

  grpc::ServerUnaryReactor* CreateAccount(grpc::CallbackServerContext* ctx,
                                          const v1::CreateAccountRequest* req,
                                          v1::Account* resp) override;
  grpc::ServerUnaryReactor* ListAccounts(grpc::CallbackServerContext* ctx,
                                         const v1::ListAccountsRequest* req,
                                         v1::ListAccountsResponse* resp) override;
  grpc::ServerUnaryReactor* UpdateAccount(grpc::CallbackServerContext* ctx,
                                          const v1::UpdateAccountRequest* req,
                                          v1::Account* resp) override;
  grpc::ServerUnaryReactor* CloseAccount(grpc::CallbackServerContext* ctx,
                                         const v1::CloseAccountRequest* req,
                                         v1::Account* resp) override;
  grpc::ServerUnaryReactor* LoadChartTemplate(grpc::CallbackServerContext* ctx,
                                              const v1::LoadChartTemplateRequest* req,
                                              v1::LoadChartTemplateResponse* resp) override;
  grpc::ServerUnaryReactor* DefineDimension(grpc::CallbackServerContext* ctx,
                                            const v1::DefineDimensionRequest* req,
                                            v1::Dimension* resp) override;
  grpc::ServerUnaryReactor* ListDimensions(grpc::CallbackServerContext* ctx,
                                           const v1::ListDimensionsRequest* req,
                                           v1::ListDimensionsResponse* resp) override;
  grpc::ServerUnaryReactor* OpenPeriod(grpc::CallbackServerContext* ctx,
                                       const v1::OpenPeriodRequest* req, v1::Period* resp) override;
  grpc::ServerUnaryReactor* ClosePeriod(grpc::CallbackServerContext* ctx,
                                        const v1::ClosePeriodRequest* req,
                                        v1::Period* resp) override;
  grpc::ServerUnaryReactor* ReopenPeriod(grpc::CallbackServerContext* ctx,
                                         const v1::ReopenPeriodRequest* req,
                                         v1::Period* resp) override;
  grpc::ServerUnaryReactor* ListPeriods(grpc::CallbackServerContext* ctx,
                                        const v1::ListPeriodsRequest* req,
                                        v1::ListPeriodsResponse* resp) override;
  grpc::ServerUnaryReactor* PostEntry(grpc::CallbackServerContext* ctx,
                                      const v1::PostEntryRequest* req,
                                      v1::PostEntryResponse* resp) override;
  grpc::ServerReadReactor<v1::PostEntriesRequest>* PostEntries(
      grpc::CallbackServerContext* ctx, v1::PostEntriesResponse* resp) override;
  grpc::ServerUnaryReactor* ReverseEntry(grpc::CallbackServerContext* ctx,
                                         const v1::ReverseEntryRequest* req,
                                         v1::PostEntryResponse* resp) override;
  grpc::ServerUnaryReactor* GetEntry(grpc::CallbackServerContext* ctx,
                                     const v1::GetEntryRequest* req, v1::Entry* resp) override;
  grpc::ServerUnaryReactor* ListEntries(grpc::CallbackServerContext* ctx,
                                        const v1::ListEntriesRequest* req,
                                        v1::ListEntriesResponse* resp) override;
  grpc::ServerUnaryReactor* GetAccountBalance(grpc::CallbackServerContext* ctx,
                                              const v1::GetAccountBalanceRequest* req,
                                              v1::GetAccountBalanceResponse* resp) override;
  grpc::ServerUnaryReactor* GetTrialBalance(grpc::CallbackServerContext* ctx,
                                            const v1::GetTrialBalanceRequest* req,
                                            v1::GetTrialBalanceResponse* resp) override;
  grpc::ServerUnaryReactor* VerifyChain(grpc::CallbackServerContext* ctx,
                                        const v1::VerifyChainRequest* req,
                                        v1::VerifyChainResponse* resp) override;
  grpc::ServerWriteReactor<v1::Entry>* WatchEntries(grpc::CallbackServerContext* ctx,
                                                    const v1::WatchEntriesRequest* req) override;
  // Internal callers only (the credential, no tenant): the cell's organisations with entries.
  grpc::ServerUnaryReactor* ListFeedTenants(grpc::CallbackServerContext* ctx,
                                            const v1::ListFeedTenantsRequest* req,
                                            v1::ListFeedTenantsResponse* resp) override;

 private:
  class PostEntriesReactor;
  class WatchReactor;

  // Hands a validated post to the group committer and finishes `reactor` when it is decided.
  void SubmitPost(grpc::ServerUnaryReactor* reactor, const server::CallContext& call,
                  PostInput input, v1::PostEntryResponse* resp);

  LedgerRepository* const repository_;
  GroupCommitter* const committer_;
  const server::HandlerEnv env_;
  const Options options_;
  std::atomic<bool> stopping_{false};
};

// Builds a PostInput from a request (validation without the database).
absl::StatusOr<PostInput> MakePostInput(const std::string& tenant, v1::PostEntryRequest req,
                                        absl::string_view field);

}  // namespace tahe::ledger
