#include "services/invoicing/invoicing_service.h"

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "libs/server/polling_reactor.h"
#include "libs/server/stream_reactor.h"
#include "libs/status/status.h"
#include "services/invoicing/finvoice.h"
#include "services/invoicing/invoice_render.h"
#include "services/invoicing/invoicing_model.h"

namespace tahe::invoicing {

using server::HandleUnary;

// --- progress ------------------------------------------------------------------------------------

void BillingProgress::Set(const std::string& tenant, const std::string& run, Report report) {
  absl::MutexLock lock(&mu_);
  const std::string key = absl::StrCat(tenant, "/", run);  // a tenant slug holds no '/'
  if (report.running) {
    reports_[key] = report;
  } else {
    reports_.erase(key);
  }
}

BillingProgress::Report BillingProgress::Get(const std::string& tenant,
                                             const std::string& run) const {
  absl::MutexLock lock(&mu_);
  auto it = reports_.find(absl::StrCat(tenant, "/", run));
  return it == reports_.end() ? Report() : it->second;
}

// --- construction --------------------------------------------------------------------------------

InvoicingService::InvoicingService(InvoicingRepository* repository, server::HandlerEnv env,
                                   std::function<void()> on_posted, Options options)
    : repository_(repository), env_(env), on_posted_(std::move(on_posted)), options_(options) {}

void InvoicingService::Posted() {
  if (on_posted_) on_posted_();
}

// --- unary handlers ------------------------------------------------------------------------------

#define TAHE_UNARY(name, expr)                                        \
  return HandleUnary(ctx, env_, #name, [=](const CallContext& call) { \
    ASSIGN_OR_RETURN(*resp, expr);                                    \
    return absl::OkStatus();                                          \
  })

grpc::ServerUnaryReactor* InvoicingService::SetInvoicingSettings(
    grpc::CallbackServerContext* ctx, const v1::SetInvoicingSettingsRequest* req,
    v1::InvoicingSettings* resp) {
  TAHE_UNARY(SetInvoicingSettings, repository_->SetSettings(call, *req));
}

grpc::ServerUnaryReactor* InvoicingService::GetInvoicingSettings(
    grpc::CallbackServerContext* ctx, const v1::GetInvoicingSettingsRequest* req,
    v1::InvoicingSettings* resp) {
  (void)req;
  TAHE_UNARY(GetInvoicingSettings, repository_->GetSettings(call));
}

grpc::ServerUnaryReactor* InvoicingService::UpsertCustomer(grpc::CallbackServerContext* ctx,
                                                           const v1::UpsertCustomerRequest* req,
                                                           v1::Customer* resp) {
  TAHE_UNARY(UpsertCustomer, repository_->UpsertCustomer(call, *req));
}

grpc::ServerUnaryReactor* InvoicingService::GetCustomer(grpc::CallbackServerContext* ctx,
                                                        const v1::GetCustomerRequest* req,
                                                        v1::Customer* resp) {
  TAHE_UNARY(GetCustomer, repository_->GetCustomer(call, *req));
}

grpc::ServerUnaryReactor* InvoicingService::ListCustomers(grpc::CallbackServerContext* ctx,
                                                          const v1::ListCustomersRequest* req,
                                                          v1::ListCustomersResponse* resp) {
  TAHE_UNARY(ListCustomers, repository_->ListCustomers(call, *req));
}

grpc::ServerUnaryReactor* InvoicingService::UpsertProduct(grpc::CallbackServerContext* ctx,
                                                          const v1::UpsertProductRequest* req,
                                                          v1::Product* resp) {
  TAHE_UNARY(UpsertProduct, repository_->UpsertProduct(call, *req));
}

grpc::ServerUnaryReactor* InvoicingService::ListProducts(grpc::CallbackServerContext* ctx,
                                                         const v1::ListProductsRequest* req,
                                                         v1::ListProductsResponse* resp) {
  (void)req;
  TAHE_UNARY(ListProducts, repository_->ListProducts(call));
}

grpc::ServerUnaryReactor* InvoicingService::SetPriceList(grpc::CallbackServerContext* ctx,
                                                         const v1::SetPriceListRequest* req,
                                                         v1::PriceList* resp) {
  TAHE_UNARY(SetPriceList, repository_->SetPriceList(call, *req));
}

grpc::ServerUnaryReactor* InvoicingService::CreateInvoice(grpc::CallbackServerContext* ctx,
                                                          const v1::CreateInvoiceRequest* req,
                                                          v1::Invoice* resp) {
  TAHE_UNARY(CreateInvoice, repository_->CreateInvoice(call, *req));
}

grpc::ServerUnaryReactor* InvoicingService::DeleteDraftInvoice(
    grpc::CallbackServerContext* ctx, const v1::DeleteDraftInvoiceRequest* req, v1::Invoice* resp) {
  TAHE_UNARY(DeleteDraftInvoice, repository_->DeleteDraftInvoice(call, *req));
}

grpc::ServerUnaryReactor* InvoicingService::IssueInvoice(grpc::CallbackServerContext* ctx,
                                                         const v1::IssueInvoiceRequest* req,
                                                         v1::Invoice* resp) {
  return HandleUnary(ctx, env_, "IssueInvoice", [=](const CallContext& call) {
    ASSIGN_OR_RETURN(*resp, repository_->IssueInvoice(call, *req));
    Posted();
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* InvoicingService::CreateCreditNote(grpc::CallbackServerContext* ctx,
                                                             const v1::CreateCreditNoteRequest* req,
                                                             v1::Invoice* resp) {
  return HandleUnary(ctx, env_, "CreateCreditNote", [=](const CallContext& call) {
    ASSIGN_OR_RETURN(*resp, repository_->CreateCreditNote(call, *req));
    Posted();
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* InvoicingService::GetInvoice(grpc::CallbackServerContext* ctx,
                                                       const v1::GetInvoiceRequest* req,
                                                       v1::Invoice* resp) {
  TAHE_UNARY(GetInvoice, repository_->GetInvoice(call, *req));
}

grpc::ServerUnaryReactor* InvoicingService::ListInvoices(grpc::CallbackServerContext* ctx,
                                                         const v1::ListInvoicesRequest* req,
                                                         v1::ListInvoicesResponse* resp) {
  TAHE_UNARY(ListInvoices, repository_->ListInvoices(call, *req));
}

grpc::ServerUnaryReactor* InvoicingService::RenderInvoice(grpc::CallbackServerContext* ctx,
                                                          const v1::RenderInvoiceRequest* req,
                                                          v1::RenderInvoiceResponse* resp) {
  return HandleUnary(ctx, env_, "RenderInvoice", [=](const CallContext& call) -> absl::Status {
    if (req->format() < v1::RENDER_FORMAT_FINVOICE || req->format() > v1::RENDER_FORMAT_HTML) {
      return InvalidField("format", "required: FINVOICE, TEXT or HTML");
    }
    ASSIGN_OR_RETURN(InvoicingRepository::Renderable renderable,
                     repository_->GetRenderable(call, req->invoice_id()));
    ASSIGN_OR_RETURN(FinvoiceInvoice document,
                     ToFinvoice(renderable.invoice, renderable.settings, absl::Now()));
    switch (req->format()) {
      case v1::RENDER_FORMAT_FINVOICE: {
        ASSIGN_OR_RETURN(std::string xml, WriteFinvoice(document));
        resp->set_content_type("application/xml; charset=utf-8");
        resp->set_content(std::move(xml));
        break;
      }
      case v1::RENDER_FORMAT_TEXT:
        resp->set_content_type("text/plain; charset=utf-8");
        resp->set_content(RenderInvoiceText(document));
        break;
      default:
        resp->set_content_type("text/html; charset=utf-8");
        resp->set_content(RenderInvoiceHtml(document));
        break;
    }
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* InvoicingService::RunBilling(grpc::CallbackServerContext* ctx,
                                                       const v1::RunBillingRequest* req,
                                                       v1::BillingRun* resp) {
  return HandleUnary(ctx, env_, "RunBilling", [=](const CallContext& call) -> absl::Status {
    const std::string run = req->billing_run_id();
    absl::StatusOr<v1::BillingRun> result =
        repository_->RunBilling(call, *req, [&](int64_t done, int64_t total) {
          progress_.Set(call.tenant, run, {.running = true, .done = done, .total = total});
        });
    progress_.Set(call.tenant, run, {.running = false});
    if (!result.ok()) return result.status();
    *resp = *std::move(result);
    Posted();
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* InvoicingService::GetBillingRun(grpc::CallbackServerContext* ctx,
                                                          const v1::GetBillingRunRequest* req,
                                                          v1::BillingRun* resp) {
  TAHE_UNARY(GetBillingRun, repository_->GetBillingRun(call, *req));
}

grpc::ServerUnaryReactor* InvoicingService::ListPayments(grpc::CallbackServerContext* ctx,
                                                         const v1::ListPaymentsRequest* req,
                                                         v1::ListPaymentsResponse* resp) {
  TAHE_UNARY(ListPayments, repository_->ListPayments(call, *req));
}

grpc::ServerUnaryReactor* InvoicingService::AllocatePayment(grpc::CallbackServerContext* ctx,
                                                            const v1::AllocatePaymentRequest* req,
                                                            v1::Payment* resp) {
  return HandleUnary(ctx, env_, "AllocatePayment", [=](const CallContext& call) {
    ASSIGN_OR_RETURN(*resp, repository_->AllocatePayment(call, *req));
    Posted();
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* InvoicingService::RunReminderRound(grpc::CallbackServerContext* ctx,
                                                             const v1::RunReminderRoundRequest* req,
                                                             v1::ReminderRound* resp) {
  return HandleUnary(ctx, env_, "RunReminderRound", [=](const CallContext& call) {
    ASSIGN_OR_RETURN(*resp, repository_->RunReminderRound(call, *req));
    Posted();
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* InvoicingService::GetReceivablesAgeing(
    grpc::CallbackServerContext* ctx, const v1::GetReceivablesAgeingRequest* req,
    v1::ReceivablesAgeing* resp) {
  TAHE_UNARY(GetReceivablesAgeing, repository_->GetReceivablesAgeing(call, *req));
}

grpc::ServerUnaryReactor* InvoicingService::SetReferenceRate(grpc::CallbackServerContext* ctx,
                                                             const v1::SetReferenceRateRequest* req,
                                                             v1::ReferenceRate* resp) {
  TAHE_UNARY(SetReferenceRate, repository_->SetReferenceRate(call, *req));
}

grpc::ServerUnaryReactor* InvoicingService::ListReferenceRates(
    grpc::CallbackServerContext* ctx, const v1::ListReferenceRatesRequest* req,
    v1::ListReferenceRatesResponse* resp) {
  (void)req;
  TAHE_UNARY(ListReferenceRates, repository_->ListReferenceRates(call));
}

#undef TAHE_UNARY

// --- client streams ------------------------------------------------------------------------------

grpc::ServerReadReactor<v1::ImportDraftInvoicesRequest>* InvoicingService::ImportDraftInvoices(
    grpc::CallbackServerContext* ctx, v1::ImportDraftInvoicesResponse* resp) {
  struct State {
    int batch = 0;
    int64_t omitted = 0;
  };
  auto state = std::make_shared<State>();
  return server::HandleClientStream<v1::ImportDraftInvoicesRequest>(
      ctx, env_, "ImportDraftInvoices", resp,
      [this, state, resp](const CallContext& call,
                          const v1::ImportDraftInvoicesRequest& req) -> absl::Status {
        absl::StatusOr<v1::ImportDraftInvoicesResponse> batch =
            repository_->ImportDraftsBatch(call, req, state->batch);
        if (!batch.ok()) return Annotate(batch.status(), absl::StrCat("batch ", state->batch));
        resp->set_accepted(resp->accepted() + batch->accepted());
        for (v1::DraftRejection& rejection : *batch->mutable_rejections()) {
          if (resp->rejections_size() < kMaxListedRejections) {
            *resp->add_rejections() = std::move(rejection);
          } else {
            ++state->omitted;
          }
        }
        ++state->batch;
        return absl::OkStatus();
      },
      [state](const CallContext&, v1::ImportDraftInvoicesResponse* out) {
        if (state->omitted > 0) {
          v1::DraftRejection* more = out->add_rejections();
          more->set_index(-1);
          more->set_message(absl::StrCat(state->omitted,
                                         " more rejections are not listed (at most ",
                                         kMaxListedRejections, " are)"));
        }
        return absl::OkStatus();
      });
}

grpc::ServerReadReactor<v1::ImportPaymentsRequest>* InvoicingService::ImportPayments(
    grpc::CallbackServerContext* ctx, v1::ImportPaymentsResponse* resp) {
  // Each chunk is parsed as it arrives, and its payments written by the import's own thread
  // (InvoicingRepository::PaymentImport); the end commits. An import that fails or is left
  // unfinished is rolled back when it is destroyed (at once on an error here).
  struct State {
    std::string request_id;
    std::unique_ptr<InvoicingRepository::PaymentImport> import;
  };
  auto state = std::make_shared<State>();
  return server::HandleClientStream<v1::ImportPaymentsRequest>(
      ctx, env_, "ImportPayments", resp,
      [this, state](const CallContext& call, const v1::ImportPaymentsRequest& req) -> absl::Status {
        absl::Status added = [&]() -> absl::Status {
          if (state->request_id.empty()) {
            RETURN_IF_ERROR(ValidateRequestId("request_id", req.request_id()));
            ASSIGN_OR_RETURN(state->import,
                             repository_->StartPaymentImport(call, req.request_id()));
            state->request_id = req.request_id();
          } else if (!req.request_id().empty() && req.request_id() != state->request_id) {
            return InvalidField("request_id",
                                "must be the same in every chunk (or only the first)");
          }
          return state->import->Add(req.chunk());
        }();
        if (!added.ok()) state->import.reset();
        return added;
      },
      [this, state](const CallContext&, v1::ImportPaymentsResponse* out) -> absl::Status {
        if (state->request_id.empty()) return InvalidField("request_id", "required");
        absl::StatusOr<v1::ImportPaymentsResponse> imported = state->import->Finish();
        state->import.reset();
        if (!imported.ok()) return imported.status();
        *out = *std::move(imported);
        Posted();
        return absl::OkStatus();
      });
}

// --- WatchBillingRun -----------------------------------------------------------------------------

class InvoicingService::WatchReactor final : public server::PollingWriteReactor<v1::BillingRun> {
 public:
  WatchReactor(InvoicingService* service, grpc::CallbackServerContext* ctx,
               const v1::WatchBillingRunRequest* req)
      : PollingWriteReactor(service->env_, service->options_.watch_poll_interval,
                            &service->stopping_),
        service_(service),
        run_id_(req->billing_run_id()) {
    Start(ctx, "WatchBillingRun", ValidateCode("billing_run_id", run_id_, 64));
  }

 private:
  absl::Status Poll(const CallContext& call, std::vector<v1::BillingRun>& out,
                    bool& finished) override {
    v1::GetBillingRunRequest get;
    get.set_billing_run_id(run_id_);
    ASSIGN_OR_RETURN(v1::BillingRun run, service_->repository_->GetBillingRun(call, get));
    const BillingProgress::Report report = service_->progress_.Get(call.tenant, run_id_);
    if (report.running && run.status() != v1::BILLING_RUN_STATUS_DONE) {
      run.set_status(v1::BILLING_RUN_STATUS_RUNNING);
      run.set_drafts_total(report.total);
      run.set_issued(report.done);
      run.set_message(absl::StrCat("issued ", report.done, " of ", report.total));
    }
    finished = run.status() == v1::BILLING_RUN_STATUS_DONE ||
               run.status() == v1::BILLING_RUN_STATUS_FAILED;
    const std::string now = run.SerializeAsString();
    if (now != last_) {
      last_ = now;
      out.push_back(std::move(run));
    }
    return absl::OkStatus();
  }

  InvoicingService* const service_;
  const std::string run_id_;
  std::string last_;
};

grpc::ServerWriteReactor<v1::BillingRun>* InvoicingService::WatchBillingRun(
    grpc::CallbackServerContext* ctx, const v1::WatchBillingRunRequest* req) {
  return new WatchReactor(this, ctx, req);
}

}  // namespace tahe::invoicing
