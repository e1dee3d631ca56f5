#pragma once

// The `tahectl invoicing ...` commands: the organisation's invoicing settings, customers and
// products (CSV imports), invoices (drafts, issue, credit notes, renderings), billing runs
// (streamed draft imports, the run with its progress), payments (camt.054 files streamed in
// chunks, the unmatched queue, manual allocation), reminder rounds and receivables ageing, all
// through tahe.invoicing.v1.InvoicingService (normally by way of the gateway, which routes the
// organisation's calls to its cell). The command line and every file it names are read and
// checked completely before anything is called.
//
//   ASSIGN_OR_RETURN(InvoicingCommand command, ParseInvoicingCommand(args, std::cin));
//   InvoicingClient invoicing(settings);
//   RETURN_IF_ERROR(command.run(invoicing, CommandOutput{std::cout, std::cerr}));
//
// Request ids: every mutation takes --request-id; without it a command makes a fresh random one,
// except the imports, whose ids follow from the file's content (customers and products
// "<prefix>-r<row>" per row, drafts "<prefix>-b<batch>" per batch, a payment file the SHA-256
// prefix itself), so that running the same import again changes nothing.
//
// Personal identity codes appear only in a customers file; nothing tahectl prints contains one:
// every message from the service goes through RedactIdentityCodes first.

#include <grpcpp/grpcpp.h>

#include <cstddef>
#include <functional>
#include <istream>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tahe/invoicing/v1/invoicing.grpc.pb.h"
#include "tools/tahectl/args.h"
#include "tools/tahectl/client.h"
#include "tools/tahectl/command_helpers.h"

namespace tahe::tahectl {

// A payment file goes to ImportPayments in chunks of this many bytes.
inline constexpr size_t kPaymentChunkBytes = size_t{1} << 20;
// How long `invoicing billing run` and `invoice issue --wait-posted` wait by default.
inline constexpr absl::Duration kDefaultInvoicingWait = absl::Minutes(30);

// A thin synchronous client of tahe.invoicing.v1.InvoicingService: every call gets its own
// context (fresh x-request-id, credentials, tenant, deadline); a failed call keeps its gRPC code,
// names the method and has any identity code in its message redacted.
class InvoicingClient {
 public:
  explicit InvoicingClient(ClientSettings settings);

  const ClientSettings& settings() const { return settings_; }

  absl::StatusOr<tahe::invoicing::v1::InvoicingSettings> SetInvoicingSettings(
      const tahe::invoicing::v1::SetInvoicingSettingsRequest& request);
  absl::StatusOr<tahe::invoicing::v1::InvoicingSettings> GetInvoicingSettings(
      const tahe::invoicing::v1::GetInvoicingSettingsRequest& request);
  absl::StatusOr<tahe::invoicing::v1::Customer> UpsertCustomer(
      const tahe::invoicing::v1::UpsertCustomerRequest& request);
  absl::StatusOr<tahe::invoicing::v1::Customer> GetCustomer(
      const tahe::invoicing::v1::GetCustomerRequest& request);
  absl::StatusOr<tahe::invoicing::v1::ListCustomersResponse> ListCustomers(
      const tahe::invoicing::v1::ListCustomersRequest& request);
  absl::StatusOr<tahe::invoicing::v1::Product> UpsertProduct(
      const tahe::invoicing::v1::UpsertProductRequest& request);
  absl::StatusOr<tahe::invoicing::v1::ListProductsResponse> ListProducts(
      const tahe::invoicing::v1::ListProductsRequest& request);
  absl::StatusOr<tahe::invoicing::v1::Invoice> CreateInvoice(
      const tahe::invoicing::v1::CreateInvoiceRequest& request);
  absl::StatusOr<tahe::invoicing::v1::Invoice> DeleteDraftInvoice(
      const tahe::invoicing::v1::DeleteDraftInvoiceRequest& request);
  absl::StatusOr<tahe::invoicing::v1::Invoice> IssueInvoice(
      const tahe::invoicing::v1::IssueInvoiceRequest& request);
  absl::StatusOr<tahe::invoicing::v1::Invoice> CreateCreditNote(
      const tahe::invoicing::v1::CreateCreditNoteRequest& request);
  absl::StatusOr<tahe::invoicing::v1::Invoice> GetInvoice(
      const tahe::invoicing::v1::GetInvoiceRequest& request);
  absl::StatusOr<tahe::invoicing::v1::ListInvoicesResponse> ListInvoices(
      const tahe::invoicing::v1::ListInvoicesRequest& request);
  absl::StatusOr<tahe::invoicing::v1::RenderInvoiceResponse> RenderInvoice(
      const tahe::invoicing::v1::RenderInvoiceRequest& request);
  absl::StatusOr<tahe::invoicing::v1::BillingRun> GetBillingRun(
      const tahe::invoicing::v1::GetBillingRunRequest& request);
  absl::StatusOr<tahe::invoicing::v1::ListPaymentsResponse> ListPayments(
      const tahe::invoicing::v1::ListPaymentsRequest& request);
  absl::StatusOr<tahe::invoicing::v1::Payment> AllocatePayment(
      const tahe::invoicing::v1::AllocatePaymentRequest& request);
  absl::StatusOr<tahe::invoicing::v1::ReminderRound> RunReminderRound(
      const tahe::invoicing::v1::RunReminderRoundRequest& request);
  absl::StatusOr<tahe::invoicing::v1::ReceivablesAgeing> GetReceivablesAgeing(
      const tahe::invoicing::v1::GetReceivablesAgeingRequest& request);
  absl::StatusOr<tahe::invoicing::v1::ReferenceRate> SetReferenceRate(
      const tahe::invoicing::v1::SetReferenceRateRequest& request);
  absl::StatusOr<tahe::invoicing::v1::ListReferenceRatesResponse> ListReferenceRates(
      const tahe::invoicing::v1::ListReferenceRatesRequest& request);

  // A billing run can take minutes: its deadline is `wait`, not the settings' timeout.
  absl::StatusOr<tahe::invoicing::v1::BillingRun> RunBilling(
      const tahe::invoicing::v1::RunBillingRequest& request, absl::Duration wait);

  // Every batch in one client stream, with the settings' timeout for each batch. The response
  // counts accepted drafts over all batches and lists the rejections.
  absl::StatusOr<tahe::invoicing::v1::ImportDraftInvoicesResponse> ImportDraftInvoices(
      const std::vector<tahe::invoicing::v1::ImportDraftInvoicesRequest>& batches);

  // The file in one client stream of `chunk_bytes` chunks, the first carrying `request_id`; the
  // settings' timeout for each chunk and once more for the import itself.
  absl::StatusOr<tahe::invoicing::v1::ImportPaymentsResponse> ImportPayments(
      const std::string& request_id, const std::string& file,
      size_t chunk_bytes = kPaymentChunkBytes);

  // Opens the progress stream of a run in `context` (NewContext). Read until false, then Finish.
  std::unique_ptr<grpc::ClientReader<tahe::invoicing::v1::BillingRun>> WatchBillingRun(
      grpc::ClientContext* context, const tahe::invoicing::v1::WatchBillingRunRequest& request);

  // A context like every call's, with the deadline `timeout` from now.
  std::unique_ptr<grpc::ClientContext> NewContext(absl::Duration timeout) const;

 private:
  ClientSettings settings_;
  std::unique_ptr<tahe::invoicing::v1::InvoicingService::Stub> stub_;
};

// One invoicing command, parsed and checked, with its input files read: `run` makes the calls.
struct InvoicingCommand {
  std::string name;
  std::function<absl::Status(InvoicingClient& invoicing, const CommandOutput& output)> run;
};

// `args.positional()` starts with "invoicing". `in` is stdin (a file named "-"). A usage error
// (exit 2) for anything that is not a well-formed invoicing command or whose file does not parse;
// an import's file problems are all listed, one a line.
absl::StatusOr<InvoicingCommand> ParseInvoicingCommand(const Args& args, std::istream& in);

// "ISSUED" for INVOICE_STATUS_ISSUED; likewise for the other enums shown.
std::string InvoiceStatusName(tahe::invoicing::v1::InvoiceStatus status);
std::string BillingRunStatusName(tahe::invoicing::v1::BillingRunStatus status);
std::string PaymentStatusName(tahe::invoicing::v1::PaymentStatus status);

// The invoice's header (number, status, customer, dates, reference, barcode), its lines, its VAT
// groups and its totals.
void PrintInvoice(const tahe::invoicing::v1::Invoice& invoice, std::ostream& out);

// One row per invoice.
void PrintInvoices(const std::vector<tahe::invoicing::v1::Invoice>& invoices, std::ostream& out);

// The run's status, counts, numbers, gross total and rejections.
void PrintBillingRun(const tahe::invoicing::v1::BillingRun& run, std::ostream& out);

}  // namespace tahe::tahectl
