#pragma once

// The invoicing API's messages checked and computed, free of gRPC and SQL: validation of
// settings, customers, products and draft invoices (errors name the field), pricing a draft
// (invoicing_domain's lines, VAT groups and totals), the fields an invoice gets when it is issued
// (number, dates, references, barcode), and the summarised ledger postings of issued invoices,
// payments and reminders.
//
//   ASSIGN_OR_RETURN(v1::InvoicingSettings settings, NormaliseSettings(req.settings()));
//   ASSIGN_OR_RETURN(v1::Invoice draft, PriceDraft(input, "invoice", catalog, customer));
//   RETURN_IF_ERROR(ApplyIssue(settings, number, invoice_date, &draft));
//   ASSIGN_OR_RETURN(ledger::v1::EntryDraft posting,
//                    BuildSalesPosting(settings.accounts(), {&draft}, {...}));
//
// Units: the API's percentages are parts per million; invoicing_domain's are hundredths of a
// percent, so a discount must be a whole number of hundredths (a multiple of 100 ppm).

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "services/invoicing/finvoice.h"
#include "services/invoicing/invoicing_domain.h"
#include "tahe/invoicing/v1/invoicing.pb.h"
#include "tahe/ledger/v1/ledger.pb.h"

namespace tahe::invoicing {

namespace v1 = ::tahe::invoicing::v1;

inline constexpr char kDefaultSeries[] = "L";
// The ledger dimension of sales lines.
inline constexpr char kCostCentreDimension[] = "cost_centre";

// --- Settings ----------------------------------------------------------------------------------

// `settings` with defaults filled in (accounts, payment terms, reminder fee, country, series "L")
// or INVALID_ARGUMENT naming the field (prefixed "settings."): seller name, Y-tunnus, Finnish
// IBAN and its BIC, account numbers (3-10 digits), payment terms 0..365 days, reminder fee
// 0..100 €, series codes and reference prefixes (digits, none beginning another).
absl::StatusOr<v1::InvoicingSettings> NormaliseSettings(const v1::InvoicingSettings& settings);

// The reference prefix of `series`, or FAILED_PRECONDITION naming "series" if the organisation
// has not set it up. REQUIRES: settings passed NormaliseSettings.
absl::StatusOr<std::string> ReferencePrefixOf(const v1::InvoicingSettings& settings,
                                              absl::string_view series);

// --- Customers and products ----------------------------------------------------------------------

struct ValidCustomer {
  // Without the personal identity code; has_personal_identity_code set.
  v1::Customer customer;
  // HMAC-SHA-256 of the code under the service's key, "" when none.
  std::string identity_hash;
};

// INVALID_ARGUMENT naming the field (prefixed "customer."): number, kind, name, Y-tunnus (required
// for organisations), personal identity code (persons only, never quoted), delivery channel and
// its address (e-invoice address for e-invoices, email for email), language, price list name.
absl::StatusOr<ValidCustomer> ValidateCustomer(const v1::Customer& customer,
                                               absl::string_view identity_key);

// INVALID_ARGUMENT naming the field (prefixed "product."); fills the unit "kpl" when empty.
absl::StatusOr<v1::Product> ValidateProduct(const v1::Product& product);
absl::Status ValidatePriceList(const v1::PriceList& price_list);

// Codes of customers, products, price lists, billing runs and invoices.
absl::Status ValidateCode(absl::string_view field, absl::string_view code, size_t max_length);

// --- Drafts --------------------------------------------------------------------------------------

// What pricing a draft needs to know besides the input.
struct Catalog {
  const v1::InvoicingSettings* settings = nullptr;
  // The customer (as stored).
  const v1::Customer* customer = nullptr;
  // Products by code; the price list's prices override their default prices.
  const std::map<std::string, v1::Product>* products = nullptr;
  const v1::PriceList* price_list = nullptr;  // may be null
};

// A priced draft (status DRAFT, kind `kind`): every line resolved against its product, its net
// amount and VAT rate by delivery date; the VAT groups and totals (invoicing_domain). Errors name
// the field under `field` ("invoice.lines[2].quantity_milli: ..."). `draft.invoice_id` must be
// set by the caller (validated here).
absl::StatusOr<v1::Invoice> PriceDraft(const v1::InvoiceDraftInput& input, absl::string_view field,
                                       const Catalog& catalog);

// The credit note of `lines` (line numbers of `original`; empty = all) of an issued invoice:
// the same lines with negated quantities, priced again, status DRAFT, kind CREDIT_NOTE.
absl::StatusOr<v1::Invoice> CreditNoteDraft(const v1::Invoice& original,
                                            const std::vector<int32_t>& line_numbers,
                                            const std::string& credit_note_id,
                                            const std::string& text);

// --- Issue -----------------------------------------------------------------------------------

// Issues `invoice` as number `number` of its series on `invoice_date`: status ISSUED (a credit
// note: CREDITED), display number, due date (payment terms), national and RF references, the
// virtual barcode (version 5 with RF when the organisation prints RF, else 4; none for a credit
// note or an amount beyond the barcode's 999 999,99 €), open amount. REQUIRES: a priced draft.
absl::Status ApplyIssue(const v1::InvoicingSettings& settings, int64_t number,
                        absl::CivilDay invoice_date, v1::Invoice* invoice);

// --- Ledger postings ---------------------------------------------------------------------------

struct PostingHeader {
  std::string entry_date;   // "YYYY-MM-DD"
  std::string description;  // e.g. "Myyntilaskut L-1001..L-2000"
  std::string reference;    // Source.reference: invoice number, billing run, file id
};

// Issued invoices and credit notes added up for their posting (a billing run adds its invoices
// as it issues them, without keeping them).
struct SalesTotals {
  int64_t invoices = 0;
  int64_t gross_cents = 0;
  int64_t vat_cents = 0;
  // (sales account, cost centre) -> net.
  std::map<std::pair<std::string, std::string>, int64_t> net_cents;

  void Add(const v1::Invoice& invoice);
};

// Receivables (gross, debit) against sales per account and cost centre (net, credit) and VAT
// payable (credit); credit notes give the opposite signs. Zero sums give no line;
// INVALID_ARGUMENT if everything sums to zero.
absl::StatusOr<ledger::v1::EntryDraft> BuildSalesPosting(const v1::PostingAccounts& accounts,
                                                         const SalesTotals& totals,
                                                         const PostingHeader& header);

// Money received: bank (debit, everything received) against receivables (what was allocated to
// invoices) and overpayments (the rest, until an operator allocates it).
absl::StatusOr<ledger::v1::EntryDraft> BuildPaymentPosting(const v1::PostingAccounts& accounts,
                                                           int64_t received_cents,
                                                           int64_t allocated_cents,
                                                           const PostingHeader& header);

// An operator allocated held money: overpayments (debit) against receivables (credit).
absl::StatusOr<ledger::v1::EntryDraft> BuildAllocationPosting(const v1::PostingAccounts& accounts,
                                                              int64_t amount_cents,
                                                              const PostingHeader& header);

// Reminder fees and penalty interest charged: receivables (debit) against fee income and interest
// income (credit).
absl::StatusOr<ledger::v1::EntryDraft> BuildReminderPosting(const v1::PostingAccounts& accounts,
                                                            int64_t fees_cents,
                                                            int64_t interest_cents,
                                                            const PostingHeader& header);

// --- Renderings
// ------------------------------------------------------------------------------------

// The issued invoice (or credit note) with its seller as the Finvoice/text/HTML writers' input.
// `now` stamps the e-invoice message. FAILED_PRECONDITION for a draft.
absl::StatusOr<FinvoiceInvoice> ToFinvoice(const v1::Invoice& invoice,
                                           const v1::InvoicingSettings& settings, absl::Time now);

// --- Conversions ---------------------------------------------------------------------------------

absl::StatusOr<VatCategory> VatCategoryOf(absl::string_view field, v1::VatCategory category);
v1::VatCategory ToProto(VatCategory category);

}  // namespace tahe::invoicing
