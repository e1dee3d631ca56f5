#pragma once

// The gRPC handlers of tahe.invoicing.v1.InvoicingService (callback API). Every call is
// authenticated (internal credential, tenant) before any work, and the work (InvoicingRepository's
// SQL) runs on the worker pool, never on a gRPC thread. A change that writes a ledger posting to
// the outbox wakes the outbox relay so that the posting leaves at once.
//
//   InvoicingService service(&repository, {&auth, &workers}, [&] { relay.Wake(); });
//   GrpcServer::Start({.services = {&service}, ...});
//   ...
//   service.BeginShutdown();  // ends the watch streams, then shut the server down
//
// Streaming RPCs:
//  - ImportDraftInvoices (client streaming): each message is one batch, handled on the worker pool
//    as it arrives (InvoicingRepository::ImportDraftsBatch: valid drafts stored in one
//    transaction, invalid ones rejected naming the field; a replayed batch returns its first
//    result and writes nothing). The response adds up the batches; at most kMaxListedRejections
//    rejections are listed, then one with index -1 counts the rest.
//  - ImportPayments (client streaming): the chunks of one camt.054 file (at most
//    InvoicingRepository::kMaxPaymentFileBytes), each parsed as it arrives and its payments
//    written meanwhile by the import's own thread (InvoicingRepository::PaymentImport), committed
//    when the client half-closes and the file has turned out valid.
//  - WatchBillingRun (server streaming): the run as stored, with the progress of a RunBilling
//    running in this process ("issued <done> of <total>"), every watch_poll_interval while it
//    changes, until the run is DONE or FAILED.
//
// Metrics are counted by the repository (InvoicingMetrics) and the outbox relay.

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "libs/server/call.h"
#include "services/invoicing/invoicing_repository.h"
#include "tahe/invoicing/v1/invoicing.grpc.pb.h"

namespace tahe::invoicing {

// Progress of the billing runs issuing in this process. Thread-safe.
class BillingProgress {
 public:
  struct Report {
    bool running = false;
    int64_t done = 0;
    int64_t total = 0;
  };
  void Set(const std::string& tenant, const std::string& run, Report report);
  Report Get(const std::string& tenant, const std::string& run) const;

 private:
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Report> reports_ ABSL_GUARDED_BY(mu_);
};

class InvoicingService final : public v1::InvoicingService::CallbackService {
 public:
  struct Options {
    absl::Duration watch_poll_interval = absl::Milliseconds(200);
  };
  static constexpr int kMaxListedRejections = 1000;

  // `on_posted` (may be empty) runs after every call that may have written a ledger posting.
  InvoicingService(InvoicingRepository* repository, server::HandlerEnv env,
                   std::function<void()> on_posted, Options options);
  InvoicingService(InvoicingRepository* repository, server::HandlerEnv env,
                   std::function<void()> on_posted)
      : InvoicingService(repository, env, std::move(on_posted), Options()) {}

  void BeginShutdown() { stopping_ = true; }

  grpc::ServerUnaryReactor* SetInvoicingSettings(grpc::CallbackServerContext* ctx,
                                                 const v1::SetInvoicingSettingsRequest* req,
                                                 v1::InvoicingSettings* resp) override;
  grpc::ServerUnaryReactor* GetInvoicingSettings(grpc::CallbackServerContext* ctx,
                                                 const v1::GetInvoicingSettingsRequest* req,
                                                 v1::InvoicingSettings* resp) override;
  grpc::ServerUnaryReactor* UpsertCustomer(grpc::CallbackServerContext* ctx,
                                           const v1::UpsertCustomerRequest* req,
                                           v1::Customer* resp) override;
  grpc::ServerUnaryReactor* GetCustomer(grpc::CallbackServerContext* ctx,
                                        const v1::GetCustomerRequest* req,
                                        v1::Customer* resp) override;
  grpc::ServerUnaryReactor* ListCustomers(grpc::CallbackServerContext* ctx,
                                          const v1::ListCustomersRequest* req,
                                          v1::ListCustomersResponse* resp) override;
  grpc::ServerUnaryReactor* UpsertProduct(grpc::CallbackServerContext* ctx,
                                          const v1::UpsertProductRequest* req,
                                          v1::Product* resp) override;
  grpc::ServerUnaryReactor* ListProducts(grpc::CallbackServerContext* ctx,
                                         const v1::ListProductsRequest* req,
                                         v1::ListProductsResponse* resp) override;
  grpc::ServerUnaryReactor* SetPriceList(grpc::CallbackServerContext* ctx,
                                         const v1::SetPriceListRequest* req,
                                         v1::PriceList* resp) override;
  grpc::ServerUnaryReactor* CreateInvoice(grpc::CallbackServerContext* ctx,
                                          const v1::CreateInvoiceRequest* req,
                                          v1::Invoice* resp) override;
  grpc::ServerUnaryReactor* DeleteDraftInvoice(grpc::CallbackServerContext* ctx,
                                               const v1::DeleteDraftInvoiceRequest* req,
                                               v1::Invoice* resp) override;
  grpc::ServerUnaryReactor* IssueInvoice(grpc::CallbackServerContext* ctx,
                                         const v1::IssueInvoiceRequest* req,
                                         v1::Invoice* resp) override;
  grpc::ServerUnaryReactor* CreateCreditNote(grpc::CallbackServerContext* ctx,
                                             const v1::CreateCreditNoteRequest* req,
                                             v1::Invoice* resp) override;
  grpc::ServerUnaryReactor* GetInvoice(grpc::CallbackServerContext* ctx,
                                       const v1::GetInvoiceRequest* req,
                                       v1::Invoice* resp) override;
  grpc::ServerUnaryReactor* ListInvoices(grpc::CallbackServerContext* ctx,
                                         const v1::ListInvoicesRequest* req,
                                         v1::ListInvoicesResponse* resp) override;
  grpc::ServerUnaryReactor* RenderInvoice(grpc::CallbackServerContext* ctx,
                                          const v1::RenderInvoiceRequest* req,
                                          v1::RenderInvoiceResponse* resp) override;
  grpc::ServerReadReactor<v1::ImportDraftInvoicesRequest>* ImportDraftInvoices(
      grpc::CallbackServerContext* ctx, v1::ImportDraftInvoicesResponse* resp) override;
  grpc::ServerUnaryReactor* RunBilling(grpc::CallbackServerContext* ctx,
                                       const v1::RunBillingRequest* req,
                                       v1::BillingRun* resp) override;
  grpc::ServerUnaryReactor* GetBillingRun(grpc::CallbackServerContext* ctx,
                                          const v1::GetBillingRunRequest* req,
                                          v1::BillingRun* resp) override;
  grpc::ServerWriteReactor<v1::BillingRun>* WatchBillingRun(
      grpc::CallbackServerContext* ctx, const v1::WatchBillingRunRequest* req) override;
  grpc::ServerReadReactor<v1::ImportPaymentsRequest>* ImportPayments(
      grpc::CallbackServerContext* ctx, v1::ImportPaymentsResponse* resp) override;
  grpc::ServerUnaryReactor* ListPayments(grpc::CallbackServerContext* ctx,
                                         const v1::ListPaymentsRequest* req,
                                         v1::ListPaymentsResponse* resp) override;
  grpc::ServerUnaryReactor* AllocatePayment(grpc::CallbackServerContext* ctx,
                                            const v1::AllocatePaymentRequest* req,
                                            v1::Payment* resp) override;
  grpc::ServerUnaryReactor* RunReminderRound(grpc::CallbackServerContext* ctx,
                                             const v1::RunReminderRoundRequest* req,
                                             v1::ReminderRound* resp) override;
  grpc::ServerUnaryReactor* GetReceivablesAgeing(grpc::CallbackServerContext* ctx,
                                                 const v1::GetReceivablesAgeingRequest* req,
                                                 v1::ReceivablesAgeing* resp) override;
  grpc::ServerUnaryReactor* SetReferenceRate(grpc::CallbackServerContext* ctx,
                                             const v1::SetReferenceRateRequest* req,
                                             v1::ReferenceRate* resp) override;
  grpc::ServerUnaryReactor* ListReferenceRates(grpc::CallbackServerContext* ctx,
                                               const v1::ListReferenceRatesRequest* req,
                                               v1::ListReferenceRatesResponse* resp) override;

 private:
  class WatchReactor;
  void Posted();

  InvoicingRepository* const repository_;
  const server::HandlerEnv env_;
  const std::function<void()> on_posted_;
  const Options options_;
  std::atomic<bool> stopping_{false};
  BillingProgress progress_;
};

}  // namespace tahe::invoicing
