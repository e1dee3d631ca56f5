#pragma once

// Everything of tahe.invoicing.v1 that touches invoicing_db. Each method validates its request,
// then runs in one transaction of the call's tenant (row-level security on `tahe.tenant`);
// mutating methods are idempotent by request_id (libs/pg/idempotency.h) and write their ledger
// postings to the outbox (libs/outbox) in the same transaction, so a change and its posting are
// committed together or not at all.
//
//   InvoicingRepository repository(&pool, {.identity_key = key});
//   ASSIGN_OR_RETURN(v1::Invoice draft, repository.CreateInvoice(call, req));
//   ASSIGN_OR_RETURN(v1::Invoice issued, repository.IssueInvoice(call, issue_req));
//   // issued: numbered, referenced; its posting is in the outbox, LedgerOutboxRelay delivers it.
//
// Postings (request ids are the ledger's idempotency keys, unique per tenant):
//   issue of one invoice or credit note   "invoicing-<tenant>-invoice-<invoice_id>"
//   a billing run                         "invoicing-<tenant>-billing-<billing_run_id>"
//   a payment import (new payments only)  "invoicing-<tenant>-payments-<request_id>"
//   a manual allocation                   "invoicing-<tenant>-allocation-<request_id>"
//   a reminder round                      "invoicing-<tenant>-reminders-<request_id>"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "libs/outbox/outbox.h"
#include "libs/pg/migrations.h"
#include "libs/pg/pg.h"
#include "libs/server/call.h"
#include "tahe/invoicing/v1/invoicing.pb.h"
#include "tahe/tenancy/v1/tenancy.pb.h"

namespace prometheus {
class Registry;
class Counter;
class Histogram;
}  // namespace prometheus

namespace tahe::invoicing {

namespace v1 = ::tahe::invoicing::v1;
using server::CallContext;

// What invoicing did, counted once per change (a replayed request counts nothing):
//   tahe_invoicing_invoices_issued_total{kind="invoice"|"credit_note"}
//   tahe_invoicing_billing_run_duration_seconds   RunBilling calls that issued their run
//   tahe_invoicing_payments_total{outcome="matched"|"partially_allocated"|"unmatched"|"duplicate"}
//   tahe_invoicing_reminders_total
class InvoicingMetrics {
 public:
  // `registry` may be null: nothing is counted.
  explicit InvoicingMetrics(prometheus::Registry* registry);
  void Issued(int64_t invoices, int64_t credit_notes);
  void BillingRun(absl::Duration duration);
  void Payments(const v1::ImportPaymentsResponse& imported);
  void Reminders(int64_t sent);

 private:
  prometheus::Counter* invoices_ = nullptr;
  prometheus::Counter* credit_notes_ = nullptr;
  prometheus::Histogram* billing_duration_ = nullptr;
  prometheus::Counter* matched_ = nullptr;
  prometheus::Counter* partial_ = nullptr;
  prometheus::Counter* unmatched_ = nullptr;
  prometheus::Counter* duplicate_ = nullptr;
  prometheus::Counter* reminders_ = nullptr;
};

const std::vector<tahe::pg::Migration>& Migrations();
inline constexpr char kInvoicingAppRole[] = "tahe_invoicing_app";

class InvoicingRepository {
 public:
  struct Options {
    // Key of the personal identity codes' keyed hash (HMAC-SHA-256). REQUIRES: >= 32 bytes.
    std::string identity_key;
    // Today, for "" dates (invoice dates, reminder rounds, ageing); tests pin it.
    std::function<absl::CivilDay()> today;
    // May be null.
    InvoicingMetrics* metrics = nullptr;
  };
  // Drafts per ImportDraftInvoices batch, invoices issued per chunk of a billing run.
  static constexpr int kMaxDraftsPerBatch = 5000;
  static constexpr int kBillingChunk = 2000;
  // A camt.054 file may be this large.
  static constexpr size_t kMaxPaymentFileBytes = 256u << 20;

  // REQUIRES: pool outlives the repository.
  InvoicingRepository(pg::Pool* pool, Options options);

  // --- settings, customers, products ---
  absl::StatusOr<v1::InvoicingSettings> SetSettings(const CallContext& call,
                                                    const v1::SetInvoicingSettingsRequest& req);
  absl::StatusOr<v1::InvoicingSettings> GetSettings(const CallContext& call);
  absl::StatusOr<v1::Customer> UpsertCustomer(const CallContext& call,
                                              const v1::UpsertCustomerRequest& req);
  absl::StatusOr<v1::Customer> GetCustomer(const CallContext& call,
                                           const v1::GetCustomerRequest& req);
  absl::StatusOr<v1::ListCustomersResponse> ListCustomers(const CallContext& call,
                                                          const v1::ListCustomersRequest& req);
  absl::StatusOr<v1::Product> UpsertProduct(const CallContext& call,
                                            const v1::UpsertProductRequest& req);
  absl::StatusOr<v1::ListProductsResponse> ListProducts(const CallContext& call);
  absl::StatusOr<v1::PriceList> SetPriceList(const CallContext& call,
                                             const v1::SetPriceListRequest& req);

  // --- invoices ---
  absl::StatusOr<v1::Invoice> CreateInvoice(const CallContext& call,
                                            const v1::CreateInvoiceRequest& req);
  absl::StatusOr<v1::Invoice> DeleteDraftInvoice(const CallContext& call,
                                                 const v1::DeleteDraftInvoiceRequest& req);
  absl::StatusOr<v1::Invoice> IssueInvoice(const CallContext& call,
                                           const v1::IssueInvoiceRequest& req);
  absl::StatusOr<v1::Invoice> CreateCreditNote(const CallContext& call,
                                               const v1::CreateCreditNoteRequest& req);
  absl::StatusOr<v1::Invoice> GetInvoice(const CallContext& call, const v1::GetInvoiceRequest& req);
  absl::StatusOr<v1::ListInvoicesResponse> ListInvoices(const CallContext& call,
                                                        const v1::ListInvoicesRequest& req);
  // The issued invoice with the seller's settings, for rendering.
  struct Renderable {
    v1::Invoice invoice;
    v1::InvoicingSettings settings;
  };
  absl::StatusOr<Renderable> GetRenderable(const CallContext& call, const std::string& invoice_id);

  // --- billing runs ---
  // One batch of ImportDraftInvoices: valid drafts stored (replacing drafts with the same id),
  // invalid ones rejected naming the field; `batch` numbers the rejections.
  absl::StatusOr<v1::ImportDraftInvoicesResponse> ImportDraftsBatch(
      const CallContext& call, const v1::ImportDraftInvoicesRequest& req, int batch);
  // Issues every draft of the run in one transaction (so the numbers stay gapless if it fails);
  // `progress(done, total)` is called after each chunk of kBillingChunk drafts.
  absl::StatusOr<v1::BillingRun> RunBilling(const CallContext& call,
                                            const v1::RunBillingRequest& req,
                                            const std::function<void(int64_t, int64_t)>& progress);
  absl::StatusOr<v1::BillingRun> GetBillingRun(const CallContext& call,
                                               const v1::GetBillingRunRequest& req);

  // --- payments ---
  // One camt.054 import as its file arrives: Add each chunk, then Finish. Each chunk is parsed
  // and validated as it is added (Camt054Reader); the payments of the entries read are matched
  // and written in batches by a thread of the import's own, in one transaction that Finish
  // commits with the ledger posting and the idempotency record. A file found invalid (at any
  // point, also at its very end) writes nothing; so does an import destroyed before Finish.
  // Idempotent by request id (the fingerprint is the file's SHA-256, as before) and by
  // transaction: a transaction already imported, or imported by a concurrent import, is a
  // duplicate. Not thread-safe: Add and Finish are called one at a time.
  class PaymentImport {
   public:
    struct State;
    explicit PaymentImport(std::unique_ptr<State> state);
    ~PaymentImport();
    PaymentImport(const PaymentImport&) = delete;
    PaymentImport& operator=(const PaymentImport&) = delete;

    // INVALID_ARGUMENT naming "chunk" beyond kMaxPaymentFileBytes; an error of the file that is
    // known at once (a DOCTYPE) or of the database work so far.
    absl::Status Add(absl::string_view chunk);
    absl::StatusOr<v1::ImportPaymentsResponse> Finish();

   private:
    std::unique_ptr<State> state_;
  };
  absl::StatusOr<std::unique_ptr<PaymentImport>> StartPaymentImport(const CallContext& call,
                                                                    const std::string& request_id);
  // The whole file at once (StartPaymentImport, Add in chunks of 1 MiB, Finish).
  absl::StatusOr<v1::ImportPaymentsResponse> ImportPayments(const CallContext& call,
                                                            const std::string& request_id,
                                                            const std::string& file);
  absl::StatusOr<v1::ListPaymentsResponse> ListPayments(const CallContext& call,
                                                        const v1::ListPaymentsRequest& req);
  absl::StatusOr<v1::Payment> AllocatePayment(const CallContext& call,
                                              const v1::AllocatePaymentRequest& req);

  // --- reminders and ageing ---
  absl::StatusOr<v1::ReminderRound> RunReminderRound(const CallContext& call,
                                                     const v1::RunReminderRoundRequest& req);
  absl::StatusOr<v1::ReceivablesAgeing> GetReceivablesAgeing(
      const CallContext& call, const v1::GetReceivablesAgeingRequest& req);

  // The cell's reference rates: a loaded rate replaces the built-in one of its half-year.
  absl::StatusOr<v1::ReferenceRate> SetReferenceRate(const CallContext& call,
                                                     const v1::SetReferenceRateRequest& req);
  absl::StatusOr<v1::ListReferenceRatesResponse> ListReferenceRates(const CallContext& call);

  // What the cell holds for the call's tenant (for moving an organisation to another region).
  absl::StatusOr<tahe::tenancy::v1::DescribeTenantDataResponse> DescribeTenantData(
      const CallContext& call);

  // The outbox of ledger postings; delivery marks the posted invoice or run.
  outbox::OutboxStore* outbox() { return &outbox_; }

 private:
  absl::CivilDay Today() const;

  pg::Pool* pool_;
  Options options_;
  outbox::OutboxStore outbox_;
};

}  // namespace tahe::invoicing
