#pragma once

// An in-memory stand-in for tahe.invoicing.v1.InvoicingService, for testing tahectl's invoicing
// commands over real gRPC without a database. It keeps the parts of the contract a client relies
// on: `authorization: Bearer <api key>` with x-tahe-tenant (as the gateway forwards them),
// request-id idempotency (the first result again, ALREADY_EXISTS for a different request),
// refusals that name the field ("customer.personal_identity_code: ..."), streamed draft imports
// validated draft by draft, payment files streamed in chunks (a transaction imported before is a
// duplicate), and a billing run that reports its progress to WatchBillingRun one invoice at a
// time; WatchBillingRun first sends the run as it stands and ends once it is DONE or FAILED with
// no RunBilling under way. Issued invoices become posted after a configurable number of
// GetInvoice calls. It records every call's metadata and request.
//
// Its arithmetic is deliberately simple (fixed VAT rates per category, no dates in the rules,
// interest at 10.5 % a year): it is not a reference implementation of the Finnish rules.
//
//   FakeInvoicing invoicing(kOperatorKey);
//   grpc::ServerBuilder builder;  builder.RegisterService(&invoicing);  ...
//   invoicing.calls()[0].request_ids;   // the request ids of a stream's messages

#include <grpcpp/grpcpp.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "tahe/invoicing/v1/invoicing.grpc.pb.h"

namespace tahe::tahectl {

class FakeInvoicing final : public tahe::invoicing::v1::InvoicingService::Service {
 public:
  explicit FakeInvoicing(std::string api_key) : api_key_(std::move(api_key)) {}

  struct CallRecord {
    std::string method;
    std::string authorization;
    std::string tenant;
    std::string request_id_metadata;
    // The request (the last message of a client stream).
    std::shared_ptr<const google::protobuf::Message> request;
    // The request ids of a client stream's messages, in order ("" for those without one).
    std::vector<std::string> request_ids;
    // The sizes of a client stream's messages: invoices per batch, bytes per chunk.
    std::vector<size_t> message_sizes;
  };
  std::vector<CallRecord> calls() const;

  struct Behaviour {
    // Time a billing run spends on each invoice.
    absl::Duration per_invoice = absl::Milliseconds(1);
    // RunBilling waits (up to 5 s) until a WatchBillingRun follows the run.
    bool billing_waits_for_watcher = true;
    // An issued invoice is posted from this many GetInvoice calls after its issue on.
    int posted_after_gets = 1;
  };
  void SetBehaviour(Behaviour behaviour);

  // The identity codes received, to check that they arrived and were never echoed.
  std::vector<std::string> identity_codes_received() const;
  // The payments file as put together from its chunks, per import request id.
  std::map<std::string, std::string> payment_files() const;

  grpc::Status SetInvoicingSettings(grpc::ServerContext* context,
                                    const tahe::invoicing::v1::SetInvoicingSettingsRequest* request,
                                    tahe::invoicing::v1::InvoicingSettings* response) override;
  grpc::Status GetInvoicingSettings(grpc::ServerContext* context,
                                    const tahe::invoicing::v1::GetInvoicingSettingsRequest* request,
                                    tahe::invoicing::v1::InvoicingSettings* response) override;
  grpc::Status UpsertCustomer(grpc::ServerContext* context,
                              const tahe::invoicing::v1::UpsertCustomerRequest* request,
                              tahe::invoicing::v1::Customer* response) override;
  grpc::Status GetCustomer(grpc::ServerContext* context,
                           const tahe::invoicing::v1::GetCustomerRequest* request,
                           tahe::invoicing::v1::Customer* response) override;
  grpc::Status ListCustomers(grpc::ServerContext* context,
                             const tahe::invoicing::v1::ListCustomersRequest* request,
                             tahe::invoicing::v1::ListCustomersResponse* response) override;
  grpc::Status UpsertProduct(grpc::ServerContext* context,
                             const tahe::invoicing::v1::UpsertProductRequest* request,
                             tahe::invoicing::v1::Product* response) override;
  grpc::Status ListProducts(grpc::ServerContext* context,
                            const tahe::invoicing::v1::ListProductsRequest* request,
                            tahe::invoicing::v1::ListProductsResponse* response) override;
  grpc::Status CreateInvoice(grpc::ServerContext* context,
                             const tahe::invoicing::v1::CreateInvoiceRequest* request,
                             tahe::invoicing::v1::Invoice* response) override;
  grpc::Status DeleteDraftInvoice(grpc::ServerContext* context,
                                  const tahe::invoicing::v1::DeleteDraftInvoiceRequest* request,
                                  tahe::invoicing::v1::Invoice* response) override;
  grpc::Status IssueInvoice(grpc::ServerContext* context,
                            const tahe::invoicing::v1::IssueInvoiceRequest* request,
                            tahe::invoicing::v1::Invoice* response) override;
  grpc::Status CreateCreditNote(grpc::ServerContext* context,
                                const tahe::invoicing::v1::CreateCreditNoteRequest* request,
                                tahe::invoicing::v1::Invoice* response) override;
  grpc::Status GetInvoice(grpc::ServerContext* context,
                          const tahe::invoicing::v1::GetInvoiceRequest* request,
                          tahe::invoicing::v1::Invoice* response) override;
  grpc::Status ListInvoices(grpc::ServerContext* context,
                            const tahe::invoicing::v1::ListInvoicesRequest* request,
                            tahe::invoicing::v1::ListInvoicesResponse* response) override;
  grpc::Status RenderInvoice(grpc::ServerContext* context,
                             const tahe::invoicing::v1::RenderInvoiceRequest* request,
                             tahe::invoicing::v1::RenderInvoiceResponse* response) override;
  grpc::Status ImportDraftInvoices(
      grpc::ServerContext* context,
      grpc::ServerReader<tahe::invoicing::v1::ImportDraftInvoicesRequest>* reader,
      tahe::invoicing::v1::ImportDraftInvoicesResponse* response) override;
  grpc::Status RunBilling(grpc::ServerContext* context,
                          const tahe::invoicing::v1::RunBillingRequest* request,
                          tahe::invoicing::v1::BillingRun* response) override;
  grpc::Status GetBillingRun(grpc::ServerContext* context,
                             const tahe::invoicing::v1::GetBillingRunRequest* request,
                             tahe::invoicing::v1::BillingRun* response) override;
  grpc::Status WatchBillingRun(
      grpc::ServerContext* context, const tahe::invoicing::v1::WatchBillingRunRequest* request,
      grpc::ServerWriter<tahe::invoicing::v1::BillingRun>* writer) override;
  grpc::Status ImportPayments(
      grpc::ServerContext* context,
      grpc::ServerReader<tahe::invoicing::v1::ImportPaymentsRequest>* reader,
      tahe::invoicing::v1::ImportPaymentsResponse* response) override;
  grpc::Status ListPayments(grpc::ServerContext* context,
                            const tahe::invoicing::v1::ListPaymentsRequest* request,
                            tahe::invoicing::v1::ListPaymentsResponse* response) override;
  grpc::Status AllocatePayment(grpc::ServerContext* context,
                               const tahe::invoicing::v1::AllocatePaymentRequest* request,
                               tahe::invoicing::v1::Payment* response) override;
  grpc::Status RunReminderRound(grpc::ServerContext* context,
                                const tahe::invoicing::v1::RunReminderRoundRequest* request,
                                tahe::invoicing::v1::ReminderRound* response) override;
  grpc::Status GetReceivablesAgeing(grpc::ServerContext* context,
                                    const tahe::invoicing::v1::GetReceivablesAgeingRequest* request,
                                    tahe::invoicing::v1::ReceivablesAgeing* response) override;
  grpc::Status SetReferenceRate(grpc::ServerContext* context,
                                const tahe::invoicing::v1::SetReferenceRateRequest* request,
                                tahe::invoicing::v1::ReferenceRate* response) override;
  grpc::Status ListReferenceRates(
      grpc::ServerContext* context, const tahe::invoicing::v1::ListReferenceRatesRequest* request,
      tahe::invoicing::v1::ListReferenceRatesResponse* response) override;

 private:
  struct Stored {
    std::string method;
    std::string request;
    std::string response;
  };
  struct Tenant {
    std::unique_ptr<tahe::invoicing::v1::InvoicingSettings> settings;
    std::map<std::string, tahe::invoicing::v1::Customer> customers;
    std::map<std::string, tahe::invoicing::v1::Product> products;
    // By invoice id; issued ones count GetInvoice calls until posted.
    std::map<std::string, tahe::invoicing::v1::Invoice> invoices;
    std::map<std::string, int> gets_since_issue;
    int64_t next_number = 1;
    int64_t next_draft = 1;
    std::map<std::string, tahe::invoicing::v1::BillingRun> runs;
    // Per run: the states a RunBilling went through (WatchBillingRun sends those after it
    // started), whether one is under way, and how many watches follow it.
    std::map<std::string, std::vector<tahe::invoicing::v1::BillingRun>> progress;
    std::map<std::string, bool> running;
    std::map<std::string, int> watchers;
    std::vector<tahe::invoicing::v1::Payment> payments;
    std::map<std::string, Stored> by_request_id;
  };

  // A mutation: the credentials and replay checks, then `body(tenant)` under the lock, then its
  // answer remembered for its request id.
  template <typename Request, typename Response, typename Body>
  grpc::Status Mutate(grpc::ServerContext* context, const char* method, const Request* request,
                      Response* response, Body body);
  grpc::Status Admit(grpc::ServerContext* context, const char* method,
                     const google::protobuf::Message* request, Tenant** tenant)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // OK and *replayed when the request id was seen with the same request; ALREADY_EXISTS for
  // another request; INVALID_ARGUMENT for an empty id.
  grpc::Status CheckReplay(Tenant& tenant, const char* method, const std::string& request_id,
                           const google::protobuf::Message& request,
                           google::protobuf::Message* response, bool* replayed)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Remember(Tenant& tenant, const char* method, const std::string& request_id,
                const google::protobuf::Message& request, const google::protobuf::Message& response)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A draft priced, or INVALID_ARGUMENT naming `field`'s member at fault.
  grpc::Status Price(const Tenant& tenant, const tahe::invoicing::v1::InvoiceDraftInput& input,
                     const std::string& field, tahe::invoicing::v1::Invoice* invoice)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Issue(Tenant& tenant, const std::string& invoice_date, tahe::invoicing::v1::Invoice* invoice)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The invoice as GetInvoice shows it, counting towards its posting.
  tahe::invoicing::v1::Invoice Observe(Tenant& tenant, const std::string& invoice_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string api_key_;
  mutable absl::Mutex mu_;
  Behaviour behaviour_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Tenant> tenants_ ABSL_GUARDED_BY(mu_);
  std::vector<CallRecord> calls_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> identity_codes_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string> payment_files_ ABSL_GUARDED_BY(mu_);
  // The cell's loaded reference rates, by (year, half).
  std::map<std::pair<int, int>, tahe::invoicing::v1::ReferenceRate> reference_rates_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace tahe::tahectl
