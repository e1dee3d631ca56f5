#include "services/ledger/ledger_service.h"

#include <grpcpp/alarm.h>

#include <mutex>

#include "absl/strings/str_cat.h"
#include "libs/status/status.h"

namespace tahe::ledger {

using server::CallContext;
using server::HandleUnary;

absl::StatusOr<PostInput> MakePostInput(const std::string& tenant, v1::PostEntryRequest req,
                                        absl::string_view field) {
  if (!IsValidRequestId(req.request_id())) {
    return ValidateRequestId(
        field == "entry" ? std::string("request_id") : absl::StrCat(field, ".request_id"),
        req.request_id());
  }
  if (!req.has_entry()) {
    return InvalidField(field, "required");
  }
  RETURN_IF_ERROR(ValidateDraft(req.entry(), field));
  PostInput input;
  input.tenant = tenant;
  input.request_id = req.request_id();
  input.draft = std::move(*req.mutable_entry());
  input.fingerprint = DraftFingerprint(input.draft, 0);
  input.field = std::string(field);
  return input;
}

LedgerService::LedgerService(LedgerRepository* repository, GroupCommitter* committer,
                             server::HandlerEnv env, Options options)
    : repository_(repository), committer_(committer), env_(env), options_(options) {}

// --- plain unary handlers: run on the worker pool ---------------------------------------------

#define TAHE_UNARY(Method, Call)                                                      \
  return HandleUnary(ctx, env_, #Method, [this, req, resp](const CallContext& call) { \
    ASSIGN_OR_RETURN(*resp, Call);                                                    \
    return absl::OkStatus();                                                          \
  })

grpc::ServerUnaryReactor* LedgerService::CreateAccount(grpc::CallbackServerContext* ctx,
                                                       const v1::CreateAccountRequest* req,
                                                       v1::Account* resp) {
  TAHE_UNARY(CreateAccount, repository_->CreateAccount(call, *req));
}
grpc::ServerUnaryReactor* LedgerService::ListAccounts(grpc::CallbackServerContext* ctx,
                                                      const v1::ListAccountsRequest* req,
                                                      v1::ListAccountsResponse* resp) {
  TAHE_UNARY(ListAccounts, repository_->ListAccounts(call, *req));
}
grpc::ServerUnaryReactor* LedgerService::UpdateAccount(grpc::CallbackServerContext* ctx,
                                                       const v1::UpdateAccountRequest* req,
                                                       v1::Account* resp) {
  TAHE_UNARY(UpdateAccount, repository_->UpdateAccount(call, *req));
}
grpc::ServerUnaryReactor* LedgerService::CloseAccount(grpc::CallbackServerContext* ctx,
                                                      const v1::CloseAccountRequest* req,
                                                      v1::Account* resp) {
  TAHE_UNARY(CloseAccount, repository_->CloseAccount(call, *req));
}
grpc::ServerUnaryReactor* LedgerService::LoadChartTemplate(grpc::CallbackServerContext* ctx,
                                                           const v1::LoadChartTemplateRequest* req,
                                                           v1::LoadChartTemplateResponse* resp) {
  TAHE_UNARY(LoadChartTemplate, repository_->LoadChartTemplate(call, *req));
}
grpc::ServerUnaryReactor* LedgerService::DefineDimension(grpc::CallbackServerContext* ctx,
                                                         const v1::DefineDimensionRequest* req,
                                                         v1::Dimension* resp) {
  TAHE_UNARY(DefineDimension, repository_->DefineDimension(call, *req));
}
grpc::ServerUnaryReactor* LedgerService::ListDimensions(grpc::CallbackServerContext* ctx,
                                                        const v1::ListDimensionsRequest* req,
                                                        v1::ListDimensionsResponse* resp) {
  TAHE_UNARY(ListDimensions, repository_->ListDimensions(call));
}
grpc::ServerUnaryReactor* LedgerService::OpenPeriod(grpc::CallbackServerContext* ctx,
                                                    const v1::OpenPeriodRequest* req,
                                                    v1::Period* resp) {
  TAHE_UNARY(OpenPeriod, repository_->OpenPeriod(call, *req));
}
grpc::ServerUnaryReactor* LedgerService::ClosePeriod(grpc::CallbackServerContext* ctx,
                                                     const v1::ClosePeriodRequest* req,
                                                     v1::Period* resp) {
  TAHE_UNARY(ClosePeriod, repository_->ClosePeriod(call, *req));
}
grpc::ServerUnaryReactor* LedgerService::ReopenPeriod(grpc::CallbackServerContext* ctx,
                                                      const v1::ReopenPeriodRequest* req,
                                                      v1::Period* resp) {
  TAHE_UNARY(ReopenPeriod, repository_->ReopenPeriod(call, *req));
}
grpc::ServerUnaryReactor* LedgerService::ListPeriods(grpc::CallbackServerContext* ctx,
                                                     const v1::ListPeriodsRequest* req,
                                                     v1::ListPeriodsResponse* resp) {
  TAHE_UNARY(ListPeriods, repository_->ListPeriods(call));
}
grpc::ServerUnaryReactor* LedgerService::GetEntry(grpc::CallbackServerContext* ctx,
                                                  const v1::GetEntryRequest* req, v1::Entry* resp) {
  TAHE_UNARY(GetEntry, repository_->GetEntry(call, req->sequence()));
}
grpc::ServerUnaryReactor* LedgerService::ListEntries(grpc::CallbackServerContext* ctx,
                                                     const v1::ListEntriesRequest* req,
                                                     v1::ListEntriesResponse* resp) {
  TAHE_UNARY(ListEntries, repository_->ListEntries(call, *req));
}
grpc::ServerUnaryReactor* LedgerService::GetAccountBalance(grpc::CallbackServerContext* ctx,
                                                           const v1::GetAccountBalanceRequest* req,
                                                           v1::GetAccountBalanceResponse* resp) {
  TAHE_UNARY(GetAccountBalance, repository_->GetAccountBalance(call, *req));
}
grpc::ServerUnaryReactor* LedgerService::GetTrialBalance(grpc::CallbackServerContext* ctx,
                                                         const v1::GetTrialBalanceRequest* req,
                                                         v1::GetTrialBalanceResponse* resp) {
  TAHE_UNARY(GetTrialBalance, repository_->GetTrialBalance(call, *req));
}
grpc::ServerUnaryReactor* LedgerService::VerifyChain(grpc::CallbackServerContext* ctx,
                                                     const v1::VerifyChainRequest* req,
                                                     v1::VerifyChainResponse* resp) {
  TAHE_UNARY(VerifyChain, repository_->VerifyChain(call));
}

#undef TAHE_UNARY

grpc::ServerUnaryReactor* LedgerService::ListFeedTenants(grpc::CallbackServerContext* ctx,
                                                         const v1::ListFeedTenantsRequest* req,
                                                         v1::ListFeedTenantsResponse* resp) {
  (void)req;
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  // A feed follower asks for the whole cell: the credential is required, a tenant is not.
  absl::StatusOr<CallContext> call =
      env_.auth->Authenticate(*ctx, "ListFeedTenants", /*require_tenant=*/false);
  if (!call.ok()) {
    reactor->Finish(ToGrpcStatus(call.status()));
    return reactor;
  }
  server::RunUnaryOnWorkers(ctx, reactor, *env_.workers, *std::move(call),
                            [this, resp](const CallContext& c) -> absl::Status {
                              ASSIGN_OR_RETURN(*resp, repository_->ListFeedTenants(c));
                              return absl::OkStatus();
                            });
  return reactor;
}

// --- posting: through the group committer -----------------------------------------------------

void LedgerService::SubmitPost(grpc::ServerUnaryReactor* reactor, const CallContext& call,
                               PostInput input, v1::PostEntryResponse* resp) {
  bool queued = committer_->Submit(std::move(input), [reactor, call, resp](PostOutcome outcome) {
    if (outcome.status.ok()) {
      *resp->mutable_entry() = std::move(outcome.entry);
      resp->set_replayed(outcome.replayed);
    }
    server::FinishUnary(reactor, call, outcome.status);
  });
  if (!queued) {
    server::FinishUnary(reactor, call, absl::UnavailableError("ledger is shutting down; retry"));
  }
}

grpc::ServerUnaryReactor* LedgerService::PostEntry(grpc::CallbackServerContext* ctx,
                                                   const v1::PostEntryRequest* req,
                                                   v1::PostEntryResponse* resp) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  absl::StatusOr<CallContext> call = server::StartCall(ctx, env_, "PostEntry");
  if (!call.ok()) {
    reactor->Finish(ToGrpcStatus(call.status()));
    return reactor;
  }
  absl::StatusOr<PostInput> input = MakePostInput(call->tenant, *req, "entry");
  if (!input.ok()) {
    server::FinishUnary(reactor, *call, input.status());
    return reactor;
  }
  SubmitPost(reactor, *call, *std::move(input), resp);
  return reactor;
}

grpc::ServerUnaryReactor* LedgerService::ReverseEntry(grpc::CallbackServerContext* ctx,
                                                      const v1::ReverseEntryRequest* req,
                                                      v1::PostEntryResponse* resp) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  absl::StatusOr<CallContext> call = server::StartCall(ctx, env_, "ReverseEntry");
  if (!call.ok()) {
    reactor->Finish(ToGrpcStatus(call.status()));
    return reactor;
  }
  bool queued = env_.workers->Submit([this, reactor, call = *call, req, resp] {
    absl::StatusOr<PostInput> input;
    absl::Status status = server::GuardedRun(call, [&]() -> absl::Status {
      RETURN_IF_ERROR(ValidateRequestId("request_id", req->request_id()));
      if (!req->reversal_date().empty()) {
        RETURN_IF_ERROR(ParseDate("reversal_date", req->reversal_date()).status());
      }
      if (req->description().size() > 500) {
        return InvalidField("description", "longer than 500 characters");
      }
      RETURN_IF_ERROR(CheckText("description", req->description()));
      ASSIGN_OR_RETURN(v1::Entry original, repository_->GetEntry(call, req->sequence()));
      PostInput in;
      in.tenant = call.tenant;
      in.request_id = req->request_id();
      in.draft = ReversalDraft(original, req->reversal_date(), req->description());
      in.reverses_sequence = original.sequence();
      in.fingerprint = DraftFingerprint(in.draft, in.reverses_sequence);
      in.field = "reversal";
      RETURN_IF_ERROR(ValidateDraft(in.draft, "reversal"));
      input = std::move(in);
      return absl::OkStatus();
    });
    if (!status.ok()) {
      server::FinishUnary(reactor, call, status);
      return;
    }
    SubmitPost(reactor, call, *std::move(input), resp);
  });
  if (!queued) {
    reactor->Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "server overloaded"));
  }
  return reactor;
}

// --- bulk import: client streaming, each message one atomic batch -----------------------------

class LedgerService::PostEntriesReactor final
    : public grpc::ServerReadReactor<v1::PostEntriesRequest> {
 public:
  PostEntriesReactor(LedgerService* service, grpc::CallbackServerContext* ctx,
                     v1::PostEntriesResponse* resp)
      : service_(service), resp_(resp) {
    absl::StatusOr<CallContext> call = server::StartCall(ctx, service_->env_, "PostEntries");
    if (!call.ok()) {
      Finish(ToGrpcStatus(call.status()));
      return;
    }
    call_ = *std::move(call);
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the client half-closed: report
      Finish(grpc::Status::OK);
      return;
    }
    bool queued = service_->env_.workers->Submit([this] {
      absl::Status status = server::GuardedRun(call_, [this] { return ProcessBatch(); });
      if (!status.ok()) {
        Finish(server::ToWireStatus(call_, status));
        return;
      }
      StartRead(&request_);
    });
    if (!queued) {
      Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "server overloaded"));
    }
  }

  void OnDone() override { delete this; }

 private:
  static constexpr int kMaxReportedErrors = 1000;

  void AddError(int entry_index, const std::string& request_id, const absl::Status& status) {
    if (resp_->errors_size() >= kMaxReportedErrors) {
      return;
    }
    v1::EntryError* e = resp_->add_errors();
    e->set_entry_index(entry_index);
    e->set_batch_index(batch_index_);
    e->set_request_id(request_id);
    e->set_code(CodeName(status.code()));
    e->set_message(std::string(status.message()));
  }

  absl::Status ProcessBatch() {
    const int first_index = entry_index_;
    const int n = request_.entries_size();
    entry_index_ += n;
    RETURN_IF_ERROR(Annotate(ValidateRequestId("request_id", request_.request_id()),
                             absl::StrCat("batch ", batch_index_)));
    if (n > service_->options_.max_bulk_batch_entries) {
      return InvalidField("entries",
                          absl::StrCat("at most ", service_->options_.max_bulk_batch_entries,
                                       " entries per streamed batch"));
    }
    std::vector<PostInput> inputs;
    inputs.reserve(n);
    bool rejected = false;
    for (int i = 0; i < n; ++i) {
      std::string request_id = request_.entries(i).request_id();
      absl::StatusOr<PostInput> input =
          MakePostInput(call_.tenant, std::move(*request_.mutable_entries(i)),
                        absl::StrCat("entries[", first_index + i, "]"));
      if (!input.ok()) {
        rejected = true;
        AddError(first_index + i, request_id, input.status());
        continue;
      }
      inputs.push_back(*std::move(input));
    }
    if (!rejected && !inputs.empty()) {
      ASSIGN_OR_RETURN(std::vector<PostOutcome> outcomes,
                       service_->repository_->PostAtomically(call_, inputs));
      for (int i = 0; i < n; ++i) {
        const PostOutcome& o = outcomes[i];
        if (!o.status.ok()) {
          rejected = true;
          AddError(first_index + i, inputs[i].request_id, o.status);
        }
      }
      if (!rejected) {
        for (const PostOutcome& o : outcomes) {
          if (o.replayed) {
            resp_->set_entries_replayed(resp_->entries_replayed() + 1);
            continue;
          }
          resp_->set_entries_posted(resp_->entries_posted() + 1);
          resp_->set_lines_posted(resp_->lines_posted() + o.lines);
          if (resp_->first_sequence() == 0) {
            resp_->set_first_sequence(o.entry.sequence());
          }
          resp_->set_last_sequence(o.entry.sequence());
        }
      }
    }
    if (rejected) {
      resp_->set_batches_rejected(resp_->batches_rejected() + 1);
    } else {
      resp_->set_batches_committed(resp_->batches_committed() + 1);
    }
    ++batch_index_;
    return absl::OkStatus();
  }

  LedgerService* const service_;
  v1::PostEntriesResponse* const resp_;
  CallContext call_;
  v1::PostEntriesRequest request_;
  int entry_index_ = 0;
  int batch_index_ = 0;
};

grpc::ServerReadReactor<v1::PostEntriesRequest>* LedgerService::PostEntries(
    grpc::CallbackServerContext* ctx, v1::PostEntriesResponse* resp) {
  return new PostEntriesReactor(this, ctx, resp);
}

// --- change feed: server streaming -------------------------------------------------------------
//
// At most one operation is outstanding at any time (a fetch on the worker pool, a write, or the
// poll alarm), and whichever completes decides the next step, so Finish runs exactly once and
// nothing touches the reactor after OnDone.

class LedgerService::WatchReactor final : public grpc::ServerWriteReactor<v1::Entry> {
 public:
  WatchReactor(LedgerService* service, grpc::CallbackServerContext* ctx,
               const v1::WatchEntriesRequest* req)
      : service_(service) {
    absl::StatusOr<CallContext> call = server::StartCall(ctx, service_->env_, "WatchEntries");
    if (!call.ok()) {
      Finish(ToGrpcStatus(call.status()));
      return;
    }
    call_ = *std::move(call);
    call_.deadline = absl::InfiniteFuture();  // each fetch gets its own timeout below
    if (req->after_sequence() < 0) {
      Finish(ToGrpcStatus(InvalidField("after_sequence", "must be >= 0")));
      return;
    }
    after_ = req->after_sequence();
    Fetch();
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "client went away"));
      return;
    }
    after_ = buffer_[next_].sequence();
    ++next_;
    if (next_ < buffer_.size()) {
      StartWrite(&buffer_[next_]);
    } else {
      Fetch();
    }
  }

  void OnCancel() override {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_ = true;
    if (alarm_ != nullptr) {
      alarm_->Cancel();  // its callback runs Fetch(), which sees cancelled_ and finishes
    }
  }

  void OnDone() override { delete this; }

 private:
  void Fetch() {
    if (cancelled_) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
      return;
    }
    if (service_->stopping_) {
      Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "ledger shutting down; reconnect"));
      return;
    }
    bool queued = service_->env_.workers->Submit([this] {
      CallContext call = call_;
      call.deadline = absl::Now() + absl::Seconds(30);
      absl::StatusOr<std::vector<v1::Entry>> entries;
      absl::Status status = server::GuardedRun(call, [&] {
        entries = service_->repository_->EntriesAfter(call, after_, service_->options_.watch_batch);
        return entries.status();
      });
      if (!status.ok()) {
        Finish(server::ToWireStatus(call_, status));
        return;
      }
      if (entries->empty()) {
        std::unique_lock<std::mutex> lock(mu_);
        if (cancelled_) {
          lock.unlock();
          Finish(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
          return;
        }
        // A fresh alarm per poll: the previous one's callback may still be returning.
        alarm_ = std::make_unique<grpc::Alarm>();
        alarm_->Set(absl::ToChronoTime(absl::Now() + service_->options_.watch_poll_interval),
                    [this](bool) { Fetch(); });
        return;
      }
      buffer_ = *std::move(entries);
      next_ = 0;
      StartWrite(&buffer_[0]);
    });
    if (!queued) {
      Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "ledger overloaded or shutting down"));
    }
  }

  LedgerService* const service_;
  CallContext call_;
  int64_t after_ = 0;
  std::vector<v1::Entry> buffer_;
  size_t next_ = 0;
  std::mutex mu_;
  std::unique_ptr<grpc::Alarm> alarm_;  // guarded by mu_
  std::atomic<bool> cancelled_{false};  // written under mu_
};

grpc::ServerWriteReactor<v1::Entry>* LedgerService::WatchEntries(
    grpc::CallbackServerContext* ctx, const v1::WatchEntriesRequest* req) {
  return new WatchReactor(this, ctx, req);
}

}  // namespace tahe::ledger
