#include "tools/tahectl/invoicing_commands.h"

#include <unistd.h>

#include <algorithm>
#include <optional>
#include <thread>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "google/protobuf/struct.pb.h"
#include "libs/status/status.h"
#include "tools/tahectl/invoicing_csv.h"
#include "tools/tahectl/parse.h"
#include "tools/tahectl/payroll_csv.h"
#include "tools/tahectl/progress.h"

namespace tahe::tahectl {

namespace v1 = ::tahe::invoicing::v1;

namespace {

// RpcError with any identity code in the service's message redacted.
absl::Status InvoicingRpcError(absl::string_view method, const grpc::Status& status) {
  const absl::Status error = RpcError(method, status);
  return absl::Status(error.code(), RedactIdentityCodes(error.message()));
}

}  // namespace

InvoicingClient::InvoicingClient(ClientSettings settings)
    : settings_(std::move(settings)),
      stub_(v1::InvoicingService::NewStub(settings_.NewChannel())) {}

std::unique_ptr<grpc::ClientContext> InvoicingClient::NewContext(absl::Duration timeout) const {
  std::unique_ptr<grpc::ClientContext> context = settings_.NewContext();
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  return context;
}

// One definition per unary RPC: a fresh context, the call, and the error named after the method.
#define TAHECTL_INVOICING_UNARY(Method, Request, Response)                           \
  absl::StatusOr<v1::Response> InvoicingClient::Method(const v1::Request& request) { \
    std::unique_ptr<grpc::ClientContext> context = settings_.NewContext();           \
    v1::Response response;                                                           \
    grpc::Status status = stub_->Method(context.get(), request, &response);          \
    if (!status.ok()) {                                                              \
      return InvoicingRpcError(#Method, status);                                     \
    }                                                                                \
    return response;                                                                 \
  }

TAHECTL_INVOICING_UNARY(SetInvoicingSettings, SetInvoicingSettingsRequest, InvoicingSettings)
TAHECTL_INVOICING_UNARY(GetInvoicingSettings, GetInvoicingSettingsRequest, InvoicingSettings)
TAHECTL_INVOICING_UNARY(UpsertCustomer, UpsertCustomerRequest, Customer)
TAHECTL_INVOICING_UNARY(GetCustomer, GetCustomerRequest, Customer)
TAHECTL_INVOICING_UNARY(ListCustomers, ListCustomersRequest, ListCustomersResponse)
TAHECTL_INVOICING_UNARY(UpsertProduct, UpsertProductRequest, Product)
TAHECTL_INVOICING_UNARY(ListProducts, ListProductsRequest, ListProductsResponse)
TAHECTL_INVOICING_UNARY(CreateInvoice, CreateInvoiceRequest, Invoice)
TAHECTL_INVOICING_UNARY(DeleteDraftInvoice, DeleteDraftInvoiceRequest, Invoice)
TAHECTL_INVOICING_UNARY(IssueInvoice, IssueInvoiceRequest, Invoice)
TAHECTL_INVOICING_UNARY(CreateCreditNote, CreateCreditNoteRequest, Invoice)
TAHECTL_INVOICING_UNARY(GetInvoice, GetInvoiceRequest, Invoice)
TAHECTL_INVOICING_UNARY(ListInvoices, ListInvoicesRequest, ListInvoicesResponse)
TAHECTL_INVOICING_UNARY(RenderInvoice, RenderInvoiceRequest, RenderInvoiceResponse)
TAHECTL_INVOICING_UNARY(GetBillingRun, GetBillingRunRequest, BillingRun)
TAHECTL_INVOICING_UNARY(ListPayments, ListPaymentsRequest, ListPaymentsResponse)
TAHECTL_INVOICING_UNARY(AllocatePayment, AllocatePaymentRequest, Payment)
TAHECTL_INVOICING_UNARY(RunReminderRound, RunReminderRoundRequest, ReminderRound)
TAHECTL_INVOICING_UNARY(GetReceivablesAgeing, GetReceivablesAgeingRequest, ReceivablesAgeing)
TAHECTL_INVOICING_UNARY(SetReferenceRate, SetReferenceRateRequest, ReferenceRate)
TAHECTL_INVOICING_UNARY(ListReferenceRates, ListReferenceRatesRequest, ListReferenceRatesResponse)

#undef TAHECTL_INVOICING_UNARY

absl::StatusOr<v1::BillingRun> InvoicingClient::RunBilling(const v1::RunBillingRequest& request,
                                                           absl::Duration wait) {
  std::unique_ptr<grpc::ClientContext> context = NewContext(std::max(wait, settings_.timeout));
  v1::BillingRun response;
  grpc::Status status = stub_->RunBilling(context.get(), request, &response);
  if (!status.ok()) {
    return InvoicingRpcError("RunBilling", status);
  }
  return response;
}

absl::StatusOr<v1::ImportDraftInvoicesResponse> InvoicingClient::ImportDraftInvoices(
    const std::vector<v1::ImportDraftInvoicesRequest>& batches) {
  const int64_t budget = std::max<int64_t>(1, static_cast<int64_t>(batches.size()));
  std::unique_ptr<grpc::ClientContext> context = NewContext(settings_.timeout * budget);
  v1::ImportDraftInvoicesResponse response;
  std::unique_ptr<grpc::ClientWriter<v1::ImportDraftInvoicesRequest>> writer =
      stub_->ImportDraftInvoices(context.get(), &response);
  for (const v1::ImportDraftInvoicesRequest& batch : batches) {
    if (!writer->Write(batch)) {
      break;  // the stream is broken; Finish says why
    }
  }
  writer->WritesDone();
  grpc::Status status = writer->Finish();
  if (!status.ok()) {
    return InvoicingRpcError("ImportDraftInvoices", status);
  }
  for (v1::DraftRejection& rejection : *response.mutable_rejections()) {
    rejection.set_message(RedactIdentityCodes(rejection.message()));
  }
  return response;
}

absl::StatusOr<v1::ImportPaymentsResponse> InvoicingClient::ImportPayments(
    const std::string& request_id, const std::string& file, size_t chunk_bytes) {
  const size_t chunks = std::max<size_t>(1, (file.size() + chunk_bytes - 1) / chunk_bytes);
  // Each chunk's transfer, and the parse and import once the file is complete.
  std::unique_ptr<grpc::ClientContext> context =
      NewContext(settings_.timeout * static_cast<int64_t>(chunks + 1));
  v1::ImportPaymentsResponse response;
  std::unique_ptr<grpc::ClientWriter<v1::ImportPaymentsRequest>> writer =
      stub_->ImportPayments(context.get(), &response);
  size_t at = 0;
  do {
    v1::ImportPaymentsRequest chunk;
    if (at == 0) {
      chunk.set_request_id(request_id);
    }
    chunk.set_chunk(file.substr(at, chunk_bytes));
    at += chunk_bytes;
    if (!writer->Write(chunk)) {
      break;  // the stream is broken; Finish says why
    }
  } while (at < file.size());
  writer->WritesDone();
  grpc::Status status = writer->Finish();
  if (!status.ok()) {
    return InvoicingRpcError("ImportPayments", status);
  }
  return response;
}

std::unique_ptr<grpc::ClientReader<v1::BillingRun>> InvoicingClient::WatchBillingRun(
    grpc::ClientContext* context, const v1::WatchBillingRunRequest& request) {
  return stub_->WatchBillingRun(context, request);
}

// --- Printing ------------------------------------------------------------------------------------

std::string InvoiceStatusName(v1::InvoiceStatus status) {
  return EnumName(v1::InvoiceStatus_Name(status), "INVOICE_STATUS_", status);
}
std::string BillingRunStatusName(v1::BillingRunStatus status) {
  return EnumName(v1::BillingRunStatus_Name(status), "BILLING_RUN_STATUS_", status);
}
std::string PaymentStatusName(v1::PaymentStatus status) {
  return EnumName(v1::PaymentStatus_Name(status), "PAYMENT_STATUS_", status);
}

namespace {

std::string VatCategoryName(v1::VatCategory category) {
  return EnumName(v1::VatCategory_Name(category), "VAT_CATEGORY_", category);
}
std::string CustomerKindName(v1::CustomerKind kind) {
  return EnumName(v1::CustomerKind_Name(kind), "CUSTOMER_KIND_", kind);
}
std::string DeliveryChannelName(v1::DeliveryChannel channel) {
  return channel == v1::DELIVERY_CHANNEL_UNSPECIFIED
             ? "-"
             : EnumName(v1::DeliveryChannel_Name(channel), "DELIVERY_CHANNEL_", channel);
}

std::string AddressOf(const v1::PostalAddress& a) {
  std::vector<std::string> parts;
  for (const std::string& part :
       {a.street(), absl::StrCat(a.postal_code(), a.postal_code().empty() ? "" : " ", a.city()),
        a.country()}) {
    if (!part.empty()) {
      parts.push_back(part);
    }
  }
  return OrDash(absl::StrJoin(parts, ", "));
}

}  // namespace

void PrintInvoice(const v1::Invoice& invoice, std::ostream& out) {
  const bool credit_note = invoice.kind() == v1::INVOICE_KIND_CREDIT_NOTE;
  out << (credit_note ? "Credit note " : "Invoice ") << invoice.invoice_id();
  if (!invoice.display_number().empty()) {
    out << " (" << invoice.display_number() << ")";
  }
  out << ": " << InvoiceStatusName(invoice.status());
  if (invoice.status() != v1::INVOICE_STATUS_DRAFT) {
    out << (invoice.posted()
                ? absl::StrCat(", posted (ledger entry #", invoice.ledger_sequence(), ")")
                : ", not yet posted to the ledger");
  }
  out << "\n";
  Table header({"Customer", absl::StrCat(invoice.customer_number(), " ", invoice.customer_name())},
               {Align::kLeft, Align::kLeft});
  if (credit_note) {
    header.AddRow({"credits", OrDash(invoice.credits_display_number())});
  }
  header.AddRow({"invoice date", OrDash(invoice.invoice_date())});
  header.AddRow({"delivery date", OrDash(invoice.delivery_date())});
  header.AddRow({"due date", invoice.due_date().empty()
                                 ? "-"
                                 : absl::StrCat(invoice.due_date(), " (",
                                                invoice.payment_terms_days(), " days net)")});
  header.AddRow({"reference", OrDash(invoice.reference())});
  header.AddRow({"RF reference", OrDash(invoice.rf_reference())});
  header.AddRow({"virtual barcode", OrDash(invoice.virtual_barcode())});
  if (!invoice.billing_run_id().empty()) {
    header.AddRow({"billing run", invoice.billing_run_id()});
  }
  if (invoice.reminders_sent() > 0) {
    header.AddRow({"reminders", absl::StrCat(invoice.reminders_sent(), ", last ",
                                             invoice.last_reminder_date())});
  }
  if (!invoice.text().empty()) {
    header.AddRow({"text", invoice.text()});
  }
  header.Print(out);
  out << "\n";

  Table lines(
      {"#", "Product", "Description", "Quantity", "Unit", "Unit price", "Discount", "VAT", "Net",
       "Account", "Cost centre"},
      {Align::kRight, Align::kLeft, Align::kLeft, Align::kRight, Align::kLeft, Align::kRight,
       Align::kRight, Align::kRight, Align::kRight, Align::kLeft, Align::kLeft});
  for (const v1::InvoiceLine& line : invoice.lines()) {
    lines.AddRow({absl::StrCat(line.line_number()), line.product_code(), line.description(),
                  FormatThousandths(line.quantity_milli()), line.unit(),
                  FormatEuros(line.unit_price_cents()),
                  line.discount_ppm() == 0 ? "" : FormatPpmPercent(line.discount_ppm()),
                  FormatPpmPercent(line.vat_rate_ppm()), FormatEuros(line.net_cents()),
                  line.sales_account(), line.cost_centre()});
  }
  lines.Print(out);
  out << "\n";

  Table vat({"VAT group", "Rate", "Net", "VAT"},
            {Align::kLeft, Align::kRight, Align::kRight, Align::kRight});
  for (const v1::VatGroup& group : invoice.vat_groups()) {
    vat.AddRow({VatCategoryName(group.vat_category()), FormatPpmPercent(group.vat_rate_ppm()),
                FormatEuros(group.net_cents()), FormatEuros(group.vat_cents())});
  }
  vat.Print(out);
  out << "\n";

  Table totals({"Totals", "EUR"}, {Align::kLeft, Align::kRight});
  totals.AddRow({"Net", FormatEuros(invoice.net_cents())});
  totals.AddRow({"VAT", FormatEuros(invoice.vat_cents())});
  totals.AddRow({"Gross", FormatEuros(invoice.gross_cents())});
  if (!credit_note) {
    totals.AddSeparator();
    totals.AddRow({"Paid", FormatEuros(invoice.paid_cents())});
    totals.AddRow({"Credited", FormatEuros(invoice.credited_cents())});
    totals.AddRow({"Reminder fees", FormatEuros(invoice.fees_cents())});
    totals.AddRow({"Penalty interest", FormatEuros(invoice.interest_cents())});
    totals.AddSeparator();
    totals.AddRow({"Open", FormatEuros(invoice.open_cents())});
  }
  totals.Print(out);
}

void PrintInvoices(const std::vector<v1::Invoice>& invoices, std::ostream& out) {
  Table table(
      {"Invoice", "Number", "Customer", "Status", "Invoice date", "Due", "Gross", "Open", "Posted"},
      {Align::kLeft, Align::kLeft, Align::kLeft, Align::kLeft, Align::kLeft, Align::kLeft,
       Align::kRight, Align::kRight, Align::kLeft});
  int64_t gross = 0;
  int64_t open = 0;
  for (const v1::Invoice& invoice : invoices) {
    const bool draft = invoice.status() == v1::INVOICE_STATUS_DRAFT;
    table.AddRow({invoice.invoice_id(), OrDash(invoice.display_number()), invoice.customer_number(),
                  InvoiceStatusName(invoice.status()), OrDash(invoice.invoice_date()),
                  OrDash(invoice.due_date()), FormatEuros(invoice.gross_cents()),
                  FormatEuros(invoice.open_cents()),
                  draft              ? "-"
                  : invoice.posted() ? "yes"
                                     : "no"});
    gross += invoice.gross_cents();
    open += invoice.open_cents();
  }
  table.AddSeparator();
  table.AddRow({"Total", "", "", "", "", "", FormatEuros(gross), FormatEuros(open), ""});
  table.Print(out);
  out << Plural(static_cast<int64_t>(invoices.size()), "invoice", "invoices") << "\n";
}

void PrintBillingRun(const v1::BillingRun& run, std::ostream& out) {
  out << "Billing run " << run.billing_run_id() << ": " << BillingRunStatusName(run.status());
  if (run.status() == v1::BILLING_RUN_STATUS_DONE) {
    out << (run.posted() ? ", posted to the ledger" : ", not yet posted to the ledger");
  }
  out << "\n";
  Table table({"Invoice date", OrDash(run.invoice_date())}, {Align::kLeft, Align::kLeft});
  table.AddRow({"drafts", absl::StrCat(run.drafts_total())});
  table.AddRow({"issued", absl::StrCat(run.issued())});
  table.AddRow({"rejected", absl::StrCat(run.rejected())});
  table.AddRow({"numbers", OrDash(run.numbers())});
  table.AddRow({"gross", absl::StrCat(FormatEuros(run.gross_cents()), " EUR")});
  if (!run.message().empty()) {
    table.AddRow({"message", RedactIdentityCodes(run.message())});
  }
  table.Print(out);
  for (const v1::DraftRejection& rejection : run.rejections()) {
    out << "rejected: " << OrDash(rejection.invoice_id()) << ": " << rejection.code() << ": "
        << RedactIdentityCodes(rejection.message()) << "\n";
  }
}

namespace {

void PrintSettings(const v1::InvoicingSettings& s, std::ostream& out) {
  const v1::PostingAccounts& a = s.accounts();
  Table table({"Setting", "Value"}, {Align::kLeft, Align::kLeft});
  table.AddRow({"seller name", OrDash(s.seller_name())});
  table.AddRow({"business id", OrDash(s.business_id())});
  table.AddRow({"address", AddressOf(s.address())});
  table.AddRow({"IBAN", OrDash(s.iban())});
  table.AddRow({"BIC", OrDash(s.bic())});
  table.AddRow({"e-invoice address", OrDash(s.einvoice_address())});
  table.AddRow({"e-invoice operator", OrDash(s.einvoice_operator())});
  table.AddRow({"reference prefix", OrDash(s.reference_prefix())});
  for (const v1::InvoiceSeries& series : s.series()) {
    table.AddRow({absl::StrCat("series ", series.code()),
                  absl::StrCat("reference prefix ", series.reference_prefix())});
  }
  table.AddRow({"payment terms", absl::StrCat(s.payment_terms_days(), " days net")});
  table.AddRow({"reminder fee", absl::StrCat(FormatEuros(s.reminder_fee_cents()), " EUR")});
  table.AddRow({"RF references", s.use_rf_reference() ? "yes" : "no"});
  table.AddRow({"account receivables", OrDash(a.receivables())});
  table.AddRow({"account bank", OrDash(a.bank())});
  table.AddRow({"account VAT payable", OrDash(a.vat_payable())});
  table.AddRow({"account default sales", OrDash(a.default_sales())});
  table.AddRow({"account reminder fees", OrDash(a.reminder_fees())});
  table.AddRow({"account penalty interest", OrDash(a.penalty_interest())});
  table.AddRow({"account overpayments", OrDash(a.overpayments())});
  table.Print(out);
}

void PrintCustomers(const v1::ListCustomersResponse& customers, std::ostream& out) {
  Table table(
      {"Number", "Kind", "Name", "Business id", "Identity code", "City", "Delivery", "Price list"},
      {Align::kLeft, Align::kLeft, Align::kLeft, Align::kLeft, Align::kLeft, Align::kLeft,
       Align::kLeft, Align::kLeft});
  for (const v1::Customer& c : customers.customers()) {
    table.AddRow({c.customer_number(), CustomerKindName(c.kind()), c.name(), c.business_id(),
                  c.has_personal_identity_code() ? "on file" : "", c.address().city(),
                  DeliveryChannelName(c.delivery_channel()), c.price_list()});
  }
  table.Print(out);
  out << Plural(customers.customers_size(), "customer", "customers") << "\n";
}

void PrintCustomer(const v1::Customer& c, std::ostream& out) {
  Table table({"Customer", c.customer_number()}, {Align::kLeft, Align::kLeft});
  table.AddRow({"kind", CustomerKindName(c.kind())});
  table.AddRow({"name", c.name()});
  table.AddRow({"business id", OrDash(c.business_id())});
  table.AddRow({"identity code", c.has_personal_identity_code() ? "on file (never shown)" : "-"});
  table.AddRow({"address", AddressOf(c.address())});
  table.AddRow({"delivery", DeliveryChannelName(c.delivery_channel())});
  table.AddRow({"email", OrDash(c.email())});
  table.AddRow({"e-invoice address", OrDash(c.einvoice_address())});
  table.AddRow({"e-invoice operator", OrDash(c.einvoice_operator())});
  table.AddRow({"language", OrDash(c.language())});
  table.AddRow({"price list", OrDash(c.price_list())});
  table.Print(out);
}

void PrintProducts(const v1::ListProductsResponse& products, std::ostream& out) {
  Table table({"Code", "Name", "Unit", "Unit price", "VAT", "Sales account", "Cost centre"},
              {Align::kLeft, Align::kLeft, Align::kLeft, Align::kRight, Align::kLeft, Align::kLeft,
               Align::kLeft});
  for (const v1::Product& p : products.products()) {
    table.AddRow({p.code(), p.name(), p.unit(), FormatEuros(p.unit_price_cents()),
                  VatCategoryName(p.vat_category()), OrDash(p.sales_account()),
                  OrDash(p.cost_centre())});
  }
  table.Print(out);
  out << Plural(products.products_size(), "product", "products") << "\n";
}

void PrintPayments(const v1::ListPaymentsResponse& payments, std::ostream& out) {
  Table table({"Payment", "Status", "Booked", "Amount", "Allocated", "Reference", "Invoices"},
              {Align::kLeft, Align::kLeft, Align::kLeft, Align::kRight, Align::kRight, Align::kLeft,
               Align::kLeft});
  int64_t amount = 0;
  int64_t allocated = 0;
  for (const v1::Payment& p : payments.payments()) {
    // No payer name: it is personal data, and `payments list` is for finding money.
    table.AddRow({p.payment_id(), PaymentStatusName(p.status()), p.booking_date(),
                  FormatEuros(p.amount_cents()), FormatEuros(p.allocated_cents()),
                  OrDash(p.reference()), OrDash(absl::StrJoin(p.invoice_ids(), ","))});
    amount += p.amount_cents();
    allocated += p.allocated_cents();
  }
  table.AddSeparator();
  table.AddRow({"Total", "", "", FormatEuros(amount), FormatEuros(allocated), "", ""});
  table.Print(out);
  out << Plural(payments.payments_size(), "payment", "payments") << "\n";
}

void PrintPaymentImport(const v1::ImportPaymentsResponse& r, absl::string_view path,
                        absl::string_view request_id, std::ostream& out) {
  out << path << ": message " << OrDash(r.message_id()) << ", "
      << Plural(r.transactions(), "transaction", "transactions") << " (request id " << request_id
      << ")\n";
  Table table({"Outcome", "Payments", "EUR"}, {Align::kLeft, Align::kRight, Align::kRight});
  table.AddRow({"matched", absl::StrCat(r.matched()), FormatEuros(r.matched_cents())});
  table.AddRow({"partially allocated", absl::StrCat(r.partially_allocated()), ""});
  table.AddRow({"unmatched", absl::StrCat(r.unmatched()), FormatEuros(r.unmatched_cents())});
  table.AddRow({"duplicates (imported before)", absl::StrCat(r.duplicates()), ""});
  table.AddRow({"skipped (debits, other currencies)", absl::StrCat(r.skipped()), ""});
  table.Print(out);
}

void PrintReminderRound(const v1::ReminderRound& round, std::ostream& out) {
  out << "Reminder round as of " << round.as_of() << ": "
      << Plural(round.reminders_size(), "reminder", "reminders") << "\n";
  if (round.reminders_size() == 0) {
    return;
  }
  Table table({"Invoice", "Number", "Customer", "Days late", "Open", "Fee", "Interest", "How"},
              {Align::kLeft, Align::kLeft, Align::kLeft, Align::kRight, Align::kRight,
               Align::kRight, Align::kRight, Align::kLeft});
  for (const v1::Reminder& r : round.reminders()) {
    table.AddRow({r.invoice_id(), r.display_number(), r.customer_number(),
                  absl::StrCat(r.days_late()), FormatEuros(r.open_cents()),
                  FormatEuros(r.fee_cents()), FormatEuros(r.interest_cents()),
                  absl::StrCat(r.interest_explanation(),
                               r.provisional_rate() ? " (provisional rate)" : "")});
  }
  table.AddSeparator();
  table.AddRow({"Total", "", "", "", "", FormatEuros(round.fees_cents()),
                FormatEuros(round.interest_cents()), ""});
  table.Print(out);
}

// Hundredths of a percent as a percentage: 250 -> "2.50 %".
std::string RateText(int32_t hundredths) {
  return absl::StrFormat("%d.%02d %%", hundredths / 100, hundredths % 100);
}

void PrintReferenceRates(const v1::ListReferenceRatesResponse& rates, std::ostream& out) {
  Table table({"Half-year", "Reference rate", "Provisional", "Source"},
              {Align::kLeft, Align::kRight, Align::kLeft, Align::kLeft});
  for (const v1::ReferenceRate& rate : rates.rates()) {
    table.AddRow({absl::StrCat(rate.year(), " H", rate.half()), RateText(rate.rate_hundredths()),
                  rate.provisional() ? "yes" : "", rate.source()});
  }
  table.Print(out);
}

void PrintAgeing(const v1::ReceivablesAgeing& ageing, std::ostream& out) {
  out << "Receivables as of " << ageing.as_of() << "\n";
  Table table({"Days overdue", "Invoices", "Open"}, {Align::kLeft, Align::kRight, Align::kRight});
  int64_t invoices = 0;
  for (const v1::AgeingBucket& bucket : ageing.buckets()) {
    table.AddRow(
        {bucket.bucket(), absl::StrCat(bucket.invoices()), FormatEuros(bucket.open_cents())});
    invoices += bucket.invoices();
  }
  table.AddSeparator();
  table.AddRow({"Total", absl::StrCat(invoices), FormatEuros(ageing.open_cents())});
  table.Print(out);
}

// --- Waiting -------------------------------------------------------------------------------------

// What the bar says a billing run is doing.
std::string RunPhase(v1::BillingRunStatus status) {
  switch (status) {
    case v1::BILLING_RUN_STATUS_DONE:
      return "issued";
    case v1::BILLING_RUN_STATUS_FAILED:
      return "failed";
    default:
      return "issuing";
  }
}

// RunBilling on a thread of its own while this one follows WatchBillingRun into the bar. The call
// decides the outcome; the stream only shows progress. A stream that ends before the call does
// (the run still looked settled from an earlier, failed attempt) is opened again; a service that
// cannot stream or refuses to is polled with GetBillingRun instead.
absl::StatusOr<v1::BillingRun> RunBillingWithProgress(InvoicingClient& invoicing,
                                                      const v1::RunBillingRequest& request,
                                                      absl::Duration wait,
                                                      const CommandOutput& output) {
  ProgressBar bar(output.err, output.err_is_terminal, "invoices");
  bar.Update("issuing", 0, 0, "");
  CallOutcome<v1::BillingRun> outcome;
  std::thread call(
      [&invoicing, &request, wait, &outcome] { outcome.Set(invoicing.RunBilling(request, wait)); });

  v1::WatchBillingRunRequest watch_request;
  watch_request.set_billing_run_id(request.billing_run_id());
  bool streaming = true;
  while (streaming) {
    std::unique_ptr<grpc::ClientContext> context = invoicing.NewContext(wait);
    if (!outcome.Attach(context.get())) {
      break;
    }
    std::unique_ptr<grpc::ClientReader<v1::BillingRun>> reader =
        invoicing.WatchBillingRun(context.get(), watch_request);
    v1::BillingRun seen;
    while (reader->Read(&seen)) {
      if (seen.status() == v1::BILLING_RUN_STATUS_RUNNING && seen.drafts_total() > 0) {
        bar.Update("issuing", seen.issued(), seen.drafts_total(), "");
      }
    }
    const grpc::Status status = reader->Finish();
    outcome.Detach();
    if (!status.ok() && status.error_code() != grpc::StatusCode::CANCELLED) {
      streaming = false;  // a service without WatchBillingRun, or refused: poll instead
    } else if (outcome.WaitFor(output.poll_interval)) {
      break;
    }
  }
  v1::GetBillingRunRequest get;
  get.set_billing_run_id(request.billing_run_id());
  while (!outcome.WaitFor(output.poll_interval)) {
    absl::StatusOr<v1::BillingRun> run = invoicing.GetBillingRun(get);
    bar.Update("issuing", 0, 0, run.ok() ? "" : absl::StrCat("(", run.status().message(), ")"));
  }
  call.join();
  absl::StatusOr<v1::BillingRun> result = outcome.Take();
  if (result.ok()) {
    bar.Update(RunPhase(result->status()), result->issued(), result->drafts_total(), "");
  }
  bar.Finish();
  return result;
}

// Polls GetInvoice until the ledger has taken the invoice's posting. DEADLINE_EXCEEDED after
// `wait`; the bar (table output only) says what it waits for.
absl::StatusOr<v1::Invoice> WaitUntilPosted(InvoicingClient& invoicing, const v1::Invoice& issued,
                                            absl::Duration wait, const CommandOutput& output) {
  std::optional<ProgressBar> bar;
  if (output.format == OutputFormat::kTable) {
    bar.emplace(output.err, output.err_is_terminal, "invoices");
  }
  const absl::Time deadline = absl::Now() + wait;
  v1::GetInvoiceRequest get;
  get.set_invoice_id(issued.invoice_id());
  v1::Invoice invoice = issued;
  while (!invoice.posted()) {
    if (bar.has_value()) {
      bar->Update("issued, posting to the ledger", 0, 0, "");
    }
    if (absl::Now() + output.poll_interval > deadline) {
      if (bar.has_value()) {
        bar->Finish();
      }
      return absl::DeadlineExceededError(absl::StrCat(
          "invoice ", issued.invoice_id(), " is issued but its ledger posting is still ",
          "waiting after ", absl::FormatDuration(wait), "; the outbox keeps retrying"));
    }
    absl::SleepFor(output.poll_interval);
    absl::StatusOr<v1::Invoice> got = invoicing.GetInvoice(get);
    if (!got.ok()) {
      if (bar.has_value()) {
        bar->Finish();
      }
      return got.status();
    }
    invoice = *std::move(got);
  }
  if (bar.has_value()) {
    bar->Update("posted to the ledger", 0, 0, "");
    bar->Finish();
  }
  return invoice;
}

// --- Command-line parsing ----------------------------------------------------------------------

using Run = std::function<absl::Status(InvoicingClient&, const CommandOutput&)>;
using Check =
    std::function<absl::Status(const std::vector<absl::string_view>&, size_t, absl::string_view)>;

// A date option checked as YYYY-MM-DD; "" when absent.
absl::StatusOr<std::string> DateOption(const Args& args, absl::string_view name) {
  std::optional<std::string> value = args.Value(name);
  if (!value.has_value()) {
    return std::string();
  }
  RETURN_IF_ERROR(AsUsage(ParseDate(absl::StrCat("--", name), *value)).status());
  return *value;
}

// The file of an import: --file PATH or the operand after the verb (one of them).
absl::StatusOr<std::string> ImportPath(const Args& args, absl::string_view command,
                                       size_t operand) {
  const std::vector<std::string>& words = args.positional();
  const bool given_as_operand = words.size() > operand;
  if (args.Has("file") == given_as_operand) {
    return UsageError(absl::StrCat(command, ": give the file as --file PATH (or PATH), once"));
  }
  return given_as_operand ? words[operand] : *args.Value("file");
}

// Every page of a listing, the responses' items appended into the first.
template <typename Response, typename Request, typename Items>
absl::StatusOr<Response> AllPages(
    Request request, const std::function<absl::StatusOr<Response>(const Request&)>& list,
    Items (Response::*items)()) {
  Response all;
  while (true) {
    ASSIGN_OR_RETURN(Response page, list(request));
    for (auto& item : *(page.*items)()) {
      *(all.*items)()->Add() = std::move(item);
    }
    if (page.next_page_token().empty()) {
      return all;
    }
    request.set_page_token(page.next_page_token());
  }
}

// Settings: `settings show`, `settings set --file F`, `settings set --seller-name ... `.
const std::vector<absl::string_view>& SettingsFlags() {
  static const auto* const kFlags = new std::vector<absl::string_view>{
      "seller-name", "business-id", "iban", "bic",           "reference-prefix",
      "street",      "postal-code", "city", "payment-terms", "reminder-fee"};
  return *kFlags;
}

absl::StatusOr<Run> ParseSettings(const Args& args, std::istream& in, const std::string& verb,
                                  const Check& check) {
  if (verb == "show") {
    RETURN_IF_ERROR(check({}, 3, "invoicing settings show"));
    return Run([](InvoicingClient& invoicing, const CommandOutput& output) -> absl::Status {
      ASSIGN_OR_RETURN(v1::InvoicingSettings settings,
                       invoicing.GetInvoicingSettings(v1::GetInvoicingSettingsRequest()));
      output.format == OutputFormat::kJson ? PrintJson(settings, output.out)
                                           : PrintSettings(settings, output.out);
      return absl::OkStatus();
    });
  }
  if (verb != "set") {
    return UsageError(absl::StrCat("unknown command 'invoicing settings ", verb, "' (show, set)"));
  }
  std::vector<absl::string_view> allowed = {"file", "request-id"};
  allowed.insert(allowed.end(), SettingsFlags().begin(), SettingsFlags().end());
  RETURN_IF_ERROR(check(allowed, 3,
                        "invoicing settings set (--file settings.json | --seller-name NAME "
                        "--business-id ID --iban IBAN ...) [--request-id ID]"));
  const bool any_flag = std::any_of(SettingsFlags().begin(), SettingsFlags().end(),
                                    [&](absl::string_view flag) { return args.Has(flag); });
  const std::string request_id = RequestIdOf(args);
  if (args.Has("file")) {
    if (any_flag) {
      return UsageError("invoicing settings set: --file holds every setting; give no other ones");
    }
    ASSIGN_OR_RETURN(v1::InvoicingSettings settings,
                     JsonFile<v1::InvoicingSettings>("invoicing settings set", *args.Value("file"),
                                                     "InvoicingSettings", in));
    v1::SetInvoicingSettingsRequest request;
    request.set_request_id(request_id);
    *request.mutable_settings() = std::move(settings);
    return Run([request](InvoicingClient& invoicing, const CommandOutput& output) -> absl::Status {
      ASSIGN_OR_RETURN(v1::InvoicingSettings saved, invoicing.SetInvoicingSettings(request));
      if (output.format == OutputFormat::kJson) {
        PrintJson(saved, output.out);
        return absl::OkStatus();
      }
      output.out << "saved invoicing settings (request id " << request.request_id() << ")\n";
      PrintSettings(saved, output.out);
      return absl::OkStatus();
    });
  }
  if (!any_flag) {
    return UsageError("invoicing settings set: nothing to change (--file or a setting's option)");
  }
  // Read, change what the options name, write back: SetInvoicingSettings replaces every setting.
  v1::InvoicingSettings change;
  change.set_seller_name(args.Value("seller-name").value_or(""));
  change.set_business_id(args.Value("business-id").value_or(""));
  change.set_iban(args.Value("iban").value_or(""));
  change.set_bic(args.Value("bic").value_or(""));
  change.set_reference_prefix(args.Value("reference-prefix").value_or(""));
  change.mutable_address()->set_street(args.Value("street").value_or(""));
  change.mutable_address()->set_postal_code(args.Value("postal-code").value_or(""));
  change.mutable_address()->set_city(args.Value("city").value_or(""));
  if (std::optional<std::string> days = args.Value("payment-terms")) {
    int32_t value = 0;
    if (!absl::SimpleAtoi(*days, &value) || value < 1 || value > 365) {
      return UsageError(absl::StrCat("--payment-terms: want 1..365 days, got \"", *days, "\""));
    }
    change.set_payment_terms_days(value);
  }
  const bool fee_given = args.Has("reminder-fee");
  if (fee_given) {
    ASSIGN_OR_RETURN(int64_t fee,
                     AsUsage(ParseEurosNonNegative("--reminder-fee", *args.Value("reminder-fee"))));
    change.set_reminder_fee_cents(fee);
  }
  return Run([change, fee_given, request_id](InvoicingClient& invoicing,
                                             const CommandOutput& output) -> absl::Status {
    absl::StatusOr<v1::InvoicingSettings> current =
        invoicing.GetInvoicingSettings(v1::GetInvoicingSettingsRequest());
    if (!current.ok() && current.status().code() != absl::StatusCode::kFailedPrecondition) {
      return current.status();  // FAILED_PRECONDITION: none yet, start from nothing
    }
    v1::InvoicingSettings settings = current.ok() ? *current : v1::InvoicingSettings();
    const std::string old_prefix = settings.reference_prefix();
    // Merging sets the fields given (non-empty strings, non-zero numbers); a fee may be 0.
    settings.MergeFrom(change);
    if (fee_given) {
      settings.set_reminder_fee_cents(change.reminder_fee_cents());
    }
    if (!change.iban().empty() && change.bic().empty()) {
      settings
          .clear_bic();  // the service derives the new IBAN's BIC; the old one is another bank's
    }
    if (!change.reference_prefix().empty()) {
      for (v1::InvoiceSeries& series : *settings.mutable_series()) {
        if (series.code() == "L" && series.reference_prefix() == old_prefix) {
          series.set_reference_prefix(change.reference_prefix());
        }
      }
    }
    v1::SetInvoicingSettingsRequest request;
    request.set_request_id(request_id);
    *request.mutable_settings() = settings;
    ASSIGN_OR_RETURN(v1::InvoicingSettings saved, invoicing.SetInvoicingSettings(request));
    if (output.format == OutputFormat::kJson) {
      PrintJson(saved, output.out);
      return absl::OkStatus();
    }
    output.out << "saved invoicing settings (request id " << request_id << ")\n";
    PrintSettings(saved, output.out);
    return absl::OkStatus();
  });
}

// The outcome of an import made of one call per row.
struct RowRefusal {
  int row = 0;
  std::string key;
  absl::StatusCode code = absl::StatusCode::kOk;
  std::string text;  // in the file's terms
};

// A refusal of the row itself (bad data, a state problem, a request id reused for another row)
// is reported and the import goes on; anything else (unavailable, permission, deadline) stops it.
bool IsRowRefusal(absl::StatusCode code) {
  return code == absl::StatusCode::kInvalidArgument ||
         code == absl::StatusCode::kFailedPrecondition ||
         code == absl::StatusCode::kAlreadyExists || code == absl::StatusCode::kNotFound;
}

// Prints the outcome of a row-by-row import and turns refusals into the command's error.
absl::Status ReportRows(absl::string_view method, absl::string_view path, absl::string_view noun,
                        size_t rows, int64_t saved, const std::vector<RowRefusal>& refusals,
                        const CommandOutput& output) {
  if (output.format == OutputFormat::kJson) {
    google::protobuf::Struct response;
    auto& fields = *response.mutable_fields();
    fields["saved"].set_number_value(static_cast<double>(saved));
    google::protobuf::ListValue* list = fields["refused"].mutable_list_value();
    for (const RowRefusal& refusal : refusals) {
      auto& f = *list->add_values()->mutable_struct_value()->mutable_fields();
      f["row"].set_number_value(refusal.row);
      f["key"].set_string_value(RedactIdentityCodes(refusal.key));
      f["code"].set_string_value(CodeName(refusal.code));
      f["message"].set_string_value(refusal.text);
    }
    PrintJson(response, output.out);
  } else {
    output.out << path << ": " << rows << " " << noun << ": " << saved << " saved, "
               << refusals.size() << " refused\n";
    for (const RowRefusal& refusal : refusals) {
      output.out << "refused: " << refusal.text << "\n";
    }
  }
  if (refusals.empty()) {
    return absl::OkStatus();
  }
  return absl::Status(refusals.front().code,
                      absl::StrCat(method, ": ", refusals.size(), " of ", rows, " ", noun,
                                   " refused; the first: ", refusals.front().text));
}

absl::StatusOr<Run> ParseCustomers(const Args& args, std::istream& in, const std::string& verb,
                                   const Check& check) {
  const std::vector<std::string>& words = args.positional();
  if (verb == "import") {
    RETURN_IF_ERROR(check({"file", "request-id"}, args.Has("file") ? 3 : 4,
                          "invoicing customers import --file customers.csv "
                          "[--request-id PREFIX]"));
    ASSIGN_OR_RETURN(std::string path, ImportPath(args, "invoicing customers import", 3));
    ASSIGN_OR_RETURN(std::string text, ReadInput("invoicing customers import", path, in));
    CsvImport<CustomerRow> parsed = ParseCustomersCsv(text);
    if (!parsed.problems.empty()) {
      return FileProblems(path, parsed.problems);
    }
    const std::string prefix =
        args.Value("request-id").value_or(ContentRequestIdPrefix("customers", text));
    return Run([path, prefix, rows = std::move(parsed.rows)](
                   InvoicingClient& invoicing, const CommandOutput& output) -> absl::Status {
      std::vector<RowRefusal> refusals;
      int64_t saved = 0;
      for (const CustomerRow& row : rows) {
        v1::UpsertCustomerRequest request;
        request.set_request_id(absl::StrCat(prefix, "-r", row.row));
        *request.mutable_customer() = row.customer;
        absl::StatusOr<v1::Customer> result = invoicing.UpsertCustomer(request);
        if (result.ok()) {
          ++saved;
          continue;
        }
        if (!IsRowRefusal(result.status().code())) {
          return Annotate(result.status(),
                          absl::StrCat("row ", row.row, " (", saved, " rows before it saved)"));
        }
        absl::string_view message = result.status().message();
        absl::ConsumePrefix(&message, "UpsertCustomer: ");
        refusals.push_back({row.row, row.customer.customer_number(), result.status().code(),
                            DescribeRowRefusal(row.row, "customer", row.customer.customer_number(),
                                               "customer.", message)});
      }
      return ReportRows("UpsertCustomer", path, "customers", rows.size(), saved, refusals, output);
    });
  }
  if (verb == "list") {
    RETURN_IF_ERROR(check({}, 3, "invoicing customers list"));
    return Run([](InvoicingClient& invoicing, const CommandOutput& output) -> absl::Status {
      ASSIGN_OR_RETURN(
          v1::ListCustomersResponse all,
          (AllPages<v1::ListCustomersResponse, v1::ListCustomersRequest>(
              v1::ListCustomersRequest(),
              [&](const v1::ListCustomersRequest& r) { return invoicing.ListCustomers(r); },
              &v1::ListCustomersResponse::mutable_customers)));
      output.format == OutputFormat::kJson ? PrintJson(all, output.out)
                                           : PrintCustomers(all, output.out);
      return absl::OkStatus();
    });
  }
  if (verb == "show") {
    RETURN_IF_ERROR(check({}, 4, "invoicing customers show NUMBER"));
    v1::GetCustomerRequest request;
    request.set_customer_number(words[3]);
    return Run([request](InvoicingClient& invoicing, const CommandOutput& output) -> absl::Status {
      ASSIGN_OR_RETURN(v1::Customer customer, invoicing.GetCustomer(request));
      output.format == OutputFormat::kJson ? PrintJson(customer, output.out)
                                           : PrintCustomer(customer, output.out);
      return absl::OkStatus();
    });
  }
  return UsageError(
      absl::StrCat("unknown command 'invoicing customers ", verb, "' (import, list, show)"));
}

absl::StatusOr<Run> ParseProducts(const Args& args, std::istream& in, const std::string& verb,
                                  const Check& check) {
  if (verb == "import") {
    RETURN_IF_ERROR(check({"file", "request-id"}, args.Has("file") ? 3 : 4,
                          "invoicing products import --file products.csv [--request-id PREFIX]"));
    ASSIGN_OR_RETURN(std::string path, ImportPath(args, "invoicing products import", 3));
    ASSIGN_OR_RETURN(std::string text, ReadInput("invoicing products import", path, in));
    CsvImport<ProductRow> parsed = ParseProductsCsv(text);
    if (!parsed.problems.empty()) {
      return FileProblems(path, parsed.problems);
    }
    const std::string prefix =
        args.Value("request-id").value_or(ContentRequestIdPrefix("products", text));
    return Run([path, prefix, rows = std::move(parsed.rows)](
                   InvoicingClient& invoicing, const CommandOutput& output) -> absl::Status {
      std::vector<RowRefusal> refusals;
      int64_t saved = 0;
      for (const ProductRow& row : rows) {
        v1::UpsertProductRequest request;
        request.set_request_id(absl::StrCat(prefix, "-r", row.row));
        *request.mutable_product() = row.product;
        absl::StatusOr<v1::Product> result = invoicing.UpsertProduct(request);
        if (result.ok()) {
          ++saved;
          continue;
        }
        if (!IsRowRefusal(result.status().code())) {
          return Annotate(result.status(),
                          absl::StrCat("row ", row.row, " (", saved, " rows before it saved)"));
        }
        absl::string_view message = result.status().message();
        absl::ConsumePrefix(&message, "UpsertProduct: ");
        refusals.push_back(
            {row.row, row.product.code(), result.status().code(),
             DescribeRowRefusal(row.row, "product", row.product.code(), "product.", message)});
      }
      return ReportRows("UpsertProduct", path, "products", rows.size(), saved, refusals, output);
    });
  }
  if (verb == "list") {
    RETURN_IF_ERROR(check({}, 3, "invoicing products list"));
    return Run([](InvoicingClient& invoicing, const CommandOutput& output) -> absl::Status {
      ASSIGN_OR_RETURN(v1::ListProductsResponse products,
                       invoicing.ListProducts(v1::ListProductsRequest()));
      output.format == OutputFormat::kJson ? PrintJson(products, output.out)
                                           : PrintProducts(products, output.out);
      return absl::OkStatus();
    });
  }
  return UsageError(absl::StrCat("unknown command 'invoicing products ", verb, "' (import, list)"));
}

// "issued,paid" -> {ISSUED, PAID}.
absl::StatusOr<std::vector<v1::InvoiceStatus>> ParseStatuses(absl::string_view text) {
  std::vector<v1::InvoiceStatus> statuses;
  for (absl::string_view word : absl::StrSplit(text, ',')) {
    v1::InvoiceStatus status{};
    const std::string name =
        absl::StrCat("INVOICE_STATUS_", absl::AsciiStrToUpper(absl::StripAsciiWhitespace(word)));
    if (!v1::InvoiceStatus_Parse(name, &status) || status == v1::INVOICE_STATUS_UNSPECIFIED) {
      return UsageError(absl::StrCat(
          "--status: want draft, issued, partially_paid, paid, overdue, reminded, collection or "
          "credited (comma-separated), got \"",
          word, "\""));
    }
    statuses.push_back(status);
  }
  return statuses;
}

// "1,2" -> {1, 2}: line numbers from 1.
absl::StatusOr<std::vector<int32_t>> ParseLineNumbers(absl::string_view text) {
  std::vector<int32_t> numbers;
  for (absl::string_view word : absl::StrSplit(text, ',')) {
    int32_t number = 0;
    if (!absl::SimpleAtoi(word, &number) || number < 1) {
      return UsageError(
          absl::StrCat("--lines: want line numbers from 1, like 1,3, got \"", text, "\""));
    }
    numbers.push_back(number);
  }
  return numbers;
}

Run PrintInvoiceResult(std::function<absl::StatusOr<v1::Invoice>(InvoicingClient&)> call,
                       std::string verb, std::string request_id) {
  return [call = std::move(call), verb = std::move(verb), request_id = std::move(request_id)](
             InvoicingClient& invoicing, const CommandOutput& output) -> absl::Status {
    ASSIGN_OR_RETURN(v1::Invoice invoice, call(invoicing));
    if (output.format == OutputFormat::kJson) {
      PrintJson(invoice, output.out);
      return absl::OkStatus();
    }
    if (!verb.empty()) {
      output.out << verb << " " << invoice.invoice_id()
                 << (invoice.display_number().empty()
                         ? ""
                         : absl::StrCat(" as ", invoice.display_number()))
                 << " (request id " << request_id << ")\n";
    }
    PrintInvoice(invoice, output.out);
    return absl::OkStatus();
  };
}

absl::StatusOr<Run> ParseInvoiceCreate(const Args& args, std::istream& in, const Check& check) {
  constexpr absl::string_view kName = "invoicing invoice create";
  RETURN_IF_ERROR(check({"file", "customer", "delivery-date", "line", "invoice-id", "series",
                         "text", "payment-terms", "request-id"},
                        3,
                        "invoicing invoice create (--file draft.json | --customer NUMBER "
                        "--delivery-date YYYY-MM-DD --line PRODUCT:QUANTITY[:UNIT_PRICE]...) "
                        "[--invoice-id ID] [--series S] [--text TEXT] [--payment-terms DAYS] "
                        "[--request-id ID]"));
  v1::CreateInvoiceRequest request;
  request.set_request_id(RequestIdOf(args));
  if (args.Has("file")) {
    for (absl::string_view option :
         {"customer", "delivery-date", "line", "series", "text", "payment-terms"}) {
      if (args.Has(option)) {
        return UsageError(absl::StrCat(kName, ": --", option,
                                       " cannot be combined with --file (the file holds the "
                                       "whole draft)"));
      }
    }
    ASSIGN_OR_RETURN(
        *request.mutable_invoice(),
        JsonFile<v1::InvoiceDraftInput>(kName, *args.Value("file"), "InvoiceDraftInput", in));
    if (std::optional<std::string> id = args.Value("invoice-id")) {
      request.mutable_invoice()->set_invoice_id(*id);
    }
  } else {
    v1::InvoiceDraftInput& draft = *request.mutable_invoice();
    ASSIGN_OR_RETURN(*draft.mutable_customer_number(), RequiredOption(args, kName, "customer"));
    ASSIGN_OR_RETURN(*draft.mutable_delivery_date(), RequiredOption(args, kName, "delivery-date"));
    RETURN_IF_ERROR(AsUsage(ParseDate("--delivery-date", draft.delivery_date())).status());
    const std::vector<std::string> lines = args.Values("line");
    if (lines.empty()) {
      return UsageError(absl::StrCat(kName, ": at least one --line PRODUCT:QUANTITY is required"));
    }
    for (const std::string& text : lines) {
      ASSIGN_OR_RETURN(*draft.add_lines(), AsUsage(ParseInvoiceLine(text)));
    }
    draft.set_invoice_id(args.Value("invoice-id").value_or(""));
    draft.set_series(args.Value("series").value_or(""));
    draft.set_text(args.Value("text").value_or(""));
    if (std::optional<std::string> days = args.Value("payment-terms")) {
      int32_t value = 0;
      if (!absl::SimpleAtoi(*days, &value) || value < 1 || value > 365) {
        return UsageError(absl::StrCat("--payment-terms: want 1..365 days, got \"", *days, "\""));
      }
      draft.set_payment_terms_days(value);
    }
  }
  return PrintInvoiceResult(
      [request](InvoicingClient& invoicing) { return invoicing.CreateInvoice(request); },
      "created draft", request.request_id());
}

absl::StatusOr<Run> ParseInvoice(const Args& args, std::istream& in, const std::string& verb,
                                 const Check& check) {
  const std::vector<std::string>& words = args.positional();
  if (verb == "create") {
    return ParseInvoiceCreate(args, in, check);
  }
  if (verb == "issue") {
    RETURN_IF_ERROR(check({"date", "wait-posted", "wait-timeout", "request-id"}, 4,
                          "invoicing invoice issue ID [--date YYYY-MM-DD] [--wait-posted "
                          "[--wait-timeout DURATION]] [--request-id ID]"));
    if (args.Has("wait-timeout") && !args.Has("wait-posted")) {
      return UsageError("invoicing invoice issue: --wait-timeout goes with --wait-posted");
    }
    ASSIGN_OR_RETURN(absl::Duration wait,
                     DurationOption(args, "wait-timeout", kDefaultInvoicingWait));
    v1::IssueInvoiceRequest request;
    request.set_request_id(RequestIdOf(args));
    request.set_invoice_id(words[3]);
    ASSIGN_OR_RETURN(*request.mutable_invoice_date(), DateOption(args, "date"));
    const bool wait_posted = args.Has("wait-posted");
    return Run([request, wait, wait_posted](InvoicingClient& invoicing,
                                            const CommandOutput& output) -> absl::Status {
      ASSIGN_OR_RETURN(v1::Invoice invoice, invoicing.IssueInvoice(request));
      if (output.format == OutputFormat::kTable) {
        output.out << "issued " << invoice.invoice_id() << " as " << invoice.display_number()
                   << " (request id " << request.request_id() << ")\n";
      }
      if (wait_posted) {
        ASSIGN_OR_RETURN(invoice, WaitUntilPosted(invoicing, invoice, wait, output));
      }
      output.format == OutputFormat::kJson ? PrintJson(invoice, output.out)
                                           : PrintInvoice(invoice, output.out);
      return absl::OkStatus();
    });
  }
  if (verb == "show") {
    RETURN_IF_ERROR(check({}, 4, "invoicing invoice show ID"));
    v1::GetInvoiceRequest request;
    request.set_invoice_id(words[3]);
    return PrintInvoiceResult(
        [request](InvoicingClient& invoicing) { return invoicing.GetInvoice(request); }, "", "");
  }
  if (verb == "delete") {
    RETURN_IF_ERROR(check({"request-id"}, 4, "invoicing invoice delete ID [--request-id ID]"));
    v1::DeleteDraftInvoiceRequest request;
    request.set_request_id(RequestIdOf(args));
    request.set_invoice_id(words[3]);
    return PrintInvoiceResult(
        [request](InvoicingClient& invoicing) { return invoicing.DeleteDraftInvoice(request); },
        "deleted draft", request.request_id());
  }
  if (verb == "list") {
    RETURN_IF_ERROR(check({"customer", "status", "due-from", "due-to", "billing-run"}, 3,
                          "invoicing invoice list [--customer NUMBER] [--status S[,S...]] "
                          "[--due-from YYYY-MM-DD] [--due-to YYYY-MM-DD] [--billing-run RUN]"));
    v1::ListInvoicesRequest request;
    request.set_customer_number(args.Value("customer").value_or(""));
    if (std::optional<std::string> statuses = args.Value("status")) {
      ASSIGN_OR_RETURN(std::vector<v1::InvoiceStatus> parsed, ParseStatuses(*statuses));
      for (v1::InvoiceStatus status : parsed) {
        request.add_statuses(status);
      }
    }
    ASSIGN_OR_RETURN(*request.mutable_due_from(), DateOption(args, "due-from"));
    ASSIGN_OR_RETURN(*request.mutable_due_to(), DateOption(args, "due-to"));
    request.set_billing_run_id(args.Value("billing-run").value_or(""));
    return Run([request](InvoicingClient& invoicing, const CommandOutput& output) -> absl::Status {
      ASSIGN_OR_RETURN(
          v1::ListInvoicesResponse all,
          (AllPages<v1::ListInvoicesResponse, v1::ListInvoicesRequest>(
              request, [&](const v1::ListInvoicesRequest& r) { return invoicing.ListInvoices(r); },
              &v1::ListInvoicesResponse::mutable_invoices)));
      output.format == OutputFormat::kJson
          ? PrintJson(all, output.out)
          : PrintInvoices({all.invoices().begin(), all.invoices().end()}, output.out);
      return absl::OkStatus();
    });
  }
  if (verb == "credit") {
    RETURN_IF_ERROR(check({"lines", "date", "text", "request-id"}, 4,
                          "invoicing invoice credit ID [--lines 1,2] [--date YYYY-MM-DD] "
                          "[--text TEXT] [--request-id ID]"));
    v1::CreateCreditNoteRequest request;
    request.set_request_id(RequestIdOf(args));
    request.set_invoice_id(words[3]);
    if (std::optional<std::string> lines = args.Value("lines")) {
      ASSIGN_OR_RETURN(std::vector<int32_t> numbers, ParseLineNumbers(*lines));
      for (int32_t number : numbers) {
        request.add_line_numbers(number);
      }
    }
    ASSIGN_OR_RETURN(*request.mutable_invoice_date(), DateOption(args, "date"));
    request.set_text(args.Value("text").value_or(""));
    return PrintInvoiceResult(
        [request](InvoicingClient& invoicing) { return invoicing.CreateCreditNote(request); },
        "issued credit note", request.request_id());
  }
  if (verb == "render") {
    RETURN_IF_ERROR(check({"format", "out"}, 4,
                          "invoicing invoice render ID --format finvoice|text|html [--out FILE]"));
    v1::RenderInvoiceRequest request;
    request.set_invoice_id(words[3]);
    ASSIGN_OR_RETURN(std::string format,
                     RequiredOption(args, "invoicing invoice render", "format"));
    if (format == "finvoice") {
      request.set_format(v1::RENDER_FORMAT_FINVOICE);
    } else if (format == "text") {
      request.set_format(v1::RENDER_FORMAT_TEXT);
    } else if (format == "html") {
      request.set_format(v1::RENDER_FORMAT_HTML);
    } else {
      return UsageError(
          absl::StrCat("--format: want finvoice, text or html, got \"", format, "\""));
    }
    const std::string path = args.Value("out").value_or("");
    // Checked now as well as when it is created, so that an existing file costs no call.
    if (!path.empty() && ::access(path.c_str(), F_OK) == 0) {
      return UsageError(absl::FailedPreconditionError(
          absl::StrCat("--out: ", path, " already exists; not overwriting it")));
    }
    return Run(
        [request, path](InvoicingClient& invoicing, const CommandOutput& output) -> absl::Status {
          ASSIGN_OR_RETURN(v1::RenderInvoiceResponse rendered, invoicing.RenderInvoice(request));
          if (!path.empty()) {
            RETURN_IF_ERROR(CreateAndWrite(path, rendered.content()));
            rendered.clear_content();  // it is in the file
            if (output.format == OutputFormat::kTable) {
              output.out << "wrote " << path << " (" << rendered.content_type() << ")\n";
            }
          }
          if (output.format == OutputFormat::kJson) {
            PrintJson(rendered, output.out);
          } else if (path.empty()) {
            output.out << rendered.content();
          }
          return absl::OkStatus();
        });
  }
  return UsageError(absl::StrCat("unknown command 'invoicing invoice ", verb,
                                 "' (create, issue, show, delete, list, credit, render)"));
}

absl::StatusOr<Run> ParseBilling(const Args& args, std::istream& in, const std::string& verb,
                                 const Check& check) {
  const std::vector<std::string>& words = args.positional();
  if (verb == "import") {
    RETURN_IF_ERROR(check({"run", "file", "request-id"}, args.Has("file") ? 3 : 4,
                          "invoicing billing import --run RUN --file drafts.csv "
                          "[--request-id PREFIX]"));
    ASSIGN_OR_RETURN(std::string run, RequiredOption(args, "invoicing billing import", "run"));
    ASSIGN_OR_RETURN(std::string path, ImportPath(args, "invoicing billing import", 3));
    ASSIGN_OR_RETURN(std::string text, ReadInput("invoicing billing import", path, in));
    CsvImport<DraftRow> parsed = ParseDraftsCsv(text);
    if (!parsed.problems.empty()) {
      return FileProblems(path, parsed.problems);
    }
    // The run belongs to the content: the same file imported into two runs is two imports.
    const std::string prefix =
        args.Value("request-id")
            .value_or(ContentRequestIdPrefix("drafts", absl::StrCat(run, "\n", text)));
    std::vector<v1::ImportDraftInvoicesRequest> batches = DraftBatches(parsed.rows, run, prefix);
    return Run([path, batches = std::move(batches), drafts = std::move(parsed.rows)](
                   InvoicingClient& invoicing, const CommandOutput& output) -> absl::Status {
      ASSIGN_OR_RETURN(v1::ImportDraftInvoicesResponse response,
                       invoicing.ImportDraftInvoices(batches));
      if (output.format == OutputFormat::kJson) {
        PrintJson(response, output.out);
      } else {
        const int64_t total = static_cast<int64_t>(drafts.size());
        output.out << path << ": " << Plural(total, "draft", "drafts") << " in "
                   << Plural(static_cast<int64_t>(batches.size()), "batch", "batches") << ": "
                   << response.accepted() << " accepted, " << total - response.accepted()
                   << " rejected\n";
        for (const v1::DraftRejection& rejection : response.rejections()) {
          output.out << "rejected: " << DescribeDraftRejection(rejection, drafts) << "\n";
        }
      }
      if (response.rejections_size() == 0) {
        return absl::OkStatus();
      }
      const int64_t total = static_cast<int64_t>(drafts.size());
      return absl::InvalidArgumentError(absl::StrCat(
          "ImportDraftInvoices: ", total - response.accepted(), " of ", total,
          " drafts rejected; the first: ", DescribeDraftRejection(response.rejections(0), drafts)));
    });
  }
  if (verb == "run") {
    RETURN_IF_ERROR(check({"date", "wait-timeout", "request-id"}, 4,
                          "invoicing billing run RUN [--date YYYY-MM-DD] "
                          "[--wait-timeout DURATION] [--request-id ID]"));
    ASSIGN_OR_RETURN(absl::Duration wait,
                     DurationOption(args, "wait-timeout", kDefaultInvoicingWait));
    v1::RunBillingRequest request;
    request.set_request_id(RequestIdOf(args));
    request.set_billing_run_id(words[3]);
    ASSIGN_OR_RETURN(*request.mutable_invoice_date(), DateOption(args, "date"));
    return Run(
        [request, wait](InvoicingClient& invoicing, const CommandOutput& output) -> absl::Status {
          if (output.format == OutputFormat::kJson) {
            ASSIGN_OR_RETURN(v1::BillingRun run, invoicing.RunBilling(request, wait));
            PrintJson(run, output.out);
            return absl::OkStatus();
          }
          ASSIGN_OR_RETURN(v1::BillingRun run,
                           RunBillingWithProgress(invoicing, request, wait, output));
          output.out << "ran billing run " << run.billing_run_id() << " (request id "
                     << request.request_id() << ")\n";
          PrintBillingRun(run, output.out);
          return absl::OkStatus();
        });
  }
  if (verb == "show") {
    RETURN_IF_ERROR(check({}, 4, "invoicing billing show RUN"));
    v1::GetBillingRunRequest request;
    request.set_billing_run_id(words[3]);
    return Run([request](InvoicingClient& invoicing, const CommandOutput& output) -> absl::Status {
      ASSIGN_OR_RETURN(v1::BillingRun run, invoicing.GetBillingRun(request));
      output.format == OutputFormat::kJson ? PrintJson(run, output.out)
                                           : PrintBillingRun(run, output.out);
      return absl::OkStatus();
    });
  }
  return UsageError(
      absl::StrCat("unknown command 'invoicing billing ", verb, "' (import, run, show)"));
}

absl::StatusOr<Run> ParsePayments(const Args& args, std::istream& in, const std::string& verb,
                                  const Check& check) {
  const std::vector<std::string>& words = args.positional();
  if (verb == "import") {
    RETURN_IF_ERROR(check({"file", "request-id"}, args.Has("file") ? 3 : 4,
                          "invoicing payments import --file camt054.xml [--request-id ID]"));
    ASSIGN_OR_RETURN(std::string path, ImportPath(args, "invoicing payments import", 3));
    ASSIGN_OR_RETURN(std::string file, ReadInput("invoicing payments import", path, in));
    if (file.empty()) {
      return UsageError(absl::StrCat("invoicing payments import: ", path, " is empty"));
    }
    // The same file imports once: its content names the import. What the file holds is for the
    // service to judge (it validates the document against the camt.054 schema).
    const std::string request_id =
        args.Value("request-id").value_or(ContentRequestIdPrefix("payments", file));
    return Run([path, request_id, file = std::move(file)](
                   InvoicingClient& invoicing, const CommandOutput& output) -> absl::Status {
      ASSIGN_OR_RETURN(v1::ImportPaymentsResponse response,
                       invoicing.ImportPayments(request_id, file));
      output.format == OutputFormat::kJson
          ? PrintJson(response, output.out)
          : PrintPaymentImport(response, path, request_id, output.out);
      return absl::OkStatus();
    });
  }
  if (verb == "list") {
    RETURN_IF_ERROR(check({"unmatched"}, 3, "invoicing payments list [--unmatched]"));
    v1::ListPaymentsRequest request;
    if (args.Has("unmatched")) {
      // The operator's queue: money not (wholly) allocated to an invoice.
      request.add_statuses(v1::PAYMENT_STATUS_UNMATCHED);
      request.add_statuses(v1::PAYMENT_STATUS_PARTIALLY_ALLOCATED);
    }
    return Run([request](InvoicingClient& invoicing, const CommandOutput& output) -> absl::Status {
      ASSIGN_OR_RETURN(
          v1::ListPaymentsResponse all,
          (AllPages<v1::ListPaymentsResponse, v1::ListPaymentsRequest>(
              request, [&](const v1::ListPaymentsRequest& r) { return invoicing.ListPayments(r); },
              &v1::ListPaymentsResponse::mutable_payments)));
      output.format == OutputFormat::kJson ? PrintJson(all, output.out)
                                           : PrintPayments(all, output.out);
      return absl::OkStatus();
    });
  }
  if (verb == "allocate") {
    RETURN_IF_ERROR(check({"amount", "request-id"}, 5,
                          "invoicing payments allocate PAYMENT INVOICE [--amount EUR] "
                          "[--request-id ID]"));
    v1::AllocatePaymentRequest request;
    request.set_request_id(RequestIdOf(args));
    request.set_payment_id(words[3]);
    request.set_invoice_id(words[4]);
    if (std::optional<std::string> amount = args.Value("amount")) {
      ASSIGN_OR_RETURN(int64_t cents, AsUsage(ParseEurosNonNegative("--amount", *amount)));
      if (cents == 0) {
        return UsageError("--amount: must be positive (leave it out to allocate all there is)");
      }
      request.set_amount_cents(cents);
    }
    return Run([request](InvoicingClient& invoicing, const CommandOutput& output) -> absl::Status {
      ASSIGN_OR_RETURN(v1::Payment payment, invoicing.AllocatePayment(request));
      if (output.format == OutputFormat::kJson) {
        PrintJson(payment, output.out);
        return absl::OkStatus();
      }
      output.out << "allocated payment " << payment.payment_id() << " to " << request.invoice_id()
                 << " (request id " << request.request_id() << ")\n";
      v1::ListPaymentsResponse one;
      *one.add_payments() = payment;
      PrintPayments(one, output.out);
      return absl::OkStatus();
    });
  }
  return UsageError(
      absl::StrCat("unknown command 'invoicing payments ", verb, "' (import, list, allocate)"));
}

}  // namespace

absl::StatusOr<InvoicingCommand> ParseInvoicingCommand(const Args& args, std::istream& in) {
  const std::vector<std::string>& words = args.positional();
  constexpr absl::string_view kSynopsis =
      "usage: tahectl invoicing settings|customers|products|invoice|billing|payments|reminders|"
      "reference-rates|ageing ...  (see tahectl --help)";
  if (words.size() < 2) {
    return UsageError(kSynopsis);
  }
  const std::string& group = words[1];
  const bool has_verb = group != "ageing";
  const std::string verb = has_verb && words.size() > 2 ? words[2] : "";
  InvoicingCommand command;
  command.name = absl::StrCat("invoicing ", group, verb.empty() ? "" : " ", verb);
  const Check check = [&](const std::vector<absl::string_view>& allowed, size_t operands,
                          absl::string_view synopsis) -> absl::Status {
    if (absl::Status s = args.CheckOnly(command.name, allowed); !s.ok()) {
      return UsageError(s);
    }
    if (words.size() != operands) {
      return UsageError(absl::StrCat("usage: tahectl ", synopsis));
    }
    return absl::OkStatus();
  };
  if (has_verb && verb.empty()) {
    return UsageError(
        absl::StrCat("usage: tahectl invoicing ", group, " ...  (see tahectl --help)"));
  }

  if (group == "settings") {
    ASSIGN_OR_RETURN(command.run, ParseSettings(args, in, verb, check));
  } else if (group == "customers") {
    ASSIGN_OR_RETURN(command.run, ParseCustomers(args, in, verb, check));
  } else if (group == "products") {
    ASSIGN_OR_RETURN(command.run, ParseProducts(args, in, verb, check));
  } else if (group == "invoice") {
    ASSIGN_OR_RETURN(command.run, ParseInvoice(args, in, verb, check));
  } else if (group == "billing") {
    ASSIGN_OR_RETURN(command.run, ParseBilling(args, in, verb, check));
  } else if (group == "payments") {
    ASSIGN_OR_RETURN(command.run, ParsePayments(args, in, verb, check));
  } else if (group == "reminders" && verb == "run") {
    RETURN_IF_ERROR(
        check({"as-of", "request-id"}, 3, "invoicing reminders run [--as-of YYYY-MM-DD]"));
    v1::RunReminderRoundRequest request;
    request.set_request_id(RequestIdOf(args));
    ASSIGN_OR_RETURN(*request.mutable_as_of(), DateOption(args, "as-of"));
    command.run = [request](InvoicingClient& invoicing,
                            const CommandOutput& output) -> absl::Status {
      ASSIGN_OR_RETURN(v1::ReminderRound round, invoicing.RunReminderRound(request));
      if (output.format == OutputFormat::kJson) {
        PrintJson(round, output.out);
        return absl::OkStatus();
      }
      output.out << "ran a reminder round (request id " << request.request_id() << ")\n";
      PrintReminderRound(round, output.out);
      return absl::OkStatus();
    };
  } else if (group == "ageing") {
    RETURN_IF_ERROR(check({"as-of"}, 2, "invoicing ageing [--as-of YYYY-MM-DD]"));
    v1::GetReceivablesAgeingRequest request;
    ASSIGN_OR_RETURN(*request.mutable_as_of(), DateOption(args, "as-of"));
    command.run = [request](InvoicingClient& invoicing,
                            const CommandOutput& output) -> absl::Status {
      ASSIGN_OR_RETURN(v1::ReceivablesAgeing ageing, invoicing.GetReceivablesAgeing(request));
      output.format == OutputFormat::kJson ? PrintJson(ageing, output.out)
                                           : PrintAgeing(ageing, output.out);
      return absl::OkStatus();
    };
  } else if (group == "reference-rates" && verb == "list") {
    RETURN_IF_ERROR(check({}, 3, "invoicing reference-rates list"));
    command.run = [](InvoicingClient& invoicing, const CommandOutput& output) -> absl::Status {
      ASSIGN_OR_RETURN(v1::ListReferenceRatesResponse rates,
                       invoicing.ListReferenceRates(v1::ListReferenceRatesRequest()));
      output.format == OutputFormat::kJson ? PrintJson(rates, output.out)
                                           : PrintReferenceRates(rates, output.out);
      return absl::OkStatus();
    };
  } else if (group == "reference-rates" && verb == "set") {
    constexpr absl::string_view kName = "invoicing reference-rates set";
    RETURN_IF_ERROR(check({"year", "half", "rate", "provisional", "request-id"}, 3,
                          "invoicing reference-rates set --year YYYY --half 1|2 --rate PERCENT "
                          "[--provisional] [--request-id ID]"));
    v1::SetReferenceRateRequest request;
    request.set_request_id(RequestIdOf(args));
    ASSIGN_OR_RETURN(std::string year, RequiredOption(args, kName, "year"));
    ASSIGN_OR_RETURN(std::string half, RequiredOption(args, kName, "half"));
    ASSIGN_OR_RETURN(std::string rate, RequiredOption(args, kName, "rate"));
    int year_number = 0;
    if (!absl::SimpleAtoi(year, &year_number) || year_number < 2000 || year_number > 2100) {
      return UsageError(absl::StrCat(kName, ": --year: want a year 2000-2100"));
    }
    if (half != "1" && half != "2") {
      return UsageError(
          absl::StrCat(kName, ": --half: want 1 (January-June) or 2 (July-December)"));
    }
    absl::StatusOr<int64_t> hundredths = ParseHundredths("--rate", rate);
    if (!hundredths.ok() || *hundredths > 5000) {
      return UsageError(absl::StrCat(
          kName, ": --rate: want a percentage 0-50 with at most two decimals (2.5 for 2.5 %)"));
    }
    request.mutable_rate()->set_year(year_number);
    request.mutable_rate()->set_half(half == "1" ? 1 : 2);
    request.mutable_rate()->set_rate_hundredths(static_cast<int32_t>(*hundredths));
    request.mutable_rate()->set_provisional(args.Has("provisional"));
    command.run = [request](InvoicingClient& invoicing,
                            const CommandOutput& output) -> absl::Status {
      ASSIGN_OR_RETURN(v1::ReferenceRate stored, invoicing.SetReferenceRate(request));
      if (output.format == OutputFormat::kJson) {
        PrintJson(stored, output.out);
        return absl::OkStatus();
      }
      output.out << "reference rate of " << stored.year() << " H" << stored.half() << ": "
                 << RateText(stored.rate_hundredths())
                 << (stored.provisional() ? " (provisional)" : "") << " (request id "
                 << request.request_id() << ")\n";
      return absl::OkStatus();
    };
  } else if (group == "reference-rates") {
    return UsageError(absl::StrCat("unknown command '", command.name, "' (list, set)"));
  } else if (group == "reminders") {
    return UsageError(absl::StrCat("unknown command '", command.name, "' (run)"));
  } else {
    return UsageError(absl::StrCat("unknown command 'invoicing ", group, "'"));
  }
  return command;
}

}  // namespace tahe::tahectl
