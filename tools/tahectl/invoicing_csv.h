#pragma once

// The CSV files of `tahectl invoicing customers import`, `products import` and `billing import`
// (csv.h's format): reading them into InvoicingService messages (exact euros, percentages and
// quantities, no floating point) with every problem named by row and column, grouping the lines
// of a billing run's drafts into invoices and the invoices into streamed batches, and turning the
// service's refusals ("invoices[3].lines[1].product_code: unknown product") back into the file's
// rows and columns.
//
//   CsvImport<CustomerRow> parsed = ParseCustomersCsv(text);
//   if (!parsed.problems.empty()) return FileProblems(path, parsed.problems);
//   for (const CustomerRow& row : parsed.rows) UpsertCustomer(row.customer) ...;
//
//   CsvImport<DraftRow> drafts = ParseDraftsCsv(text);
//   std::vector<v1::ImportDraftInvoicesRequest> batches =
//       DraftBatches(drafts.rows, "2026-03-fees", ContentRequestIdPrefix("drafts", text));
//
// Personal data: a customers file holds personal identity codes and names, so no problem found
// in it repeats a cell's text, and every message about it passes RedactIdentityCodes.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tahe/invoicing/v1/invoicing.pb.h"
#include "tools/tahectl/csv.h"

namespace tahe::tahectl {

// Drafts go to ImportDraftInvoices this many invoices to a streamed batch.
inline constexpr int kDraftBatchSize = 1000;

struct CustomerRow {
  int row = 0;
  tahe::invoicing::v1::Customer customer;
};

struct ProductRow {
  int row = 0;
  tahe::invoicing::v1::Product product;
};

// One invoice of a drafts file: its lines may be on several rows.
struct DraftRow {
  // The row of each line, in order (line_rows[0] is where the invoice starts).
  std::vector<int> line_rows;
  tahe::invoicing::v1::InvoiceDraftInput draft;
};

// Columns: customer_number, kind (PERSON|ORGANISATION), name, business_id (organisations),
// personal_identity_code (persons, optional), street, postal_code, city, country (optional,
// default FI), delivery_channel (PAPER|EMAIL|EINVOICE, optional), email, einvoice_address,
// einvoice_operator, language (fi|sv|en), price_list; the last five optional. Customer numbers
// must be unique in the file. What only the service can judge (check digits of identity codes
// and business IDs) is left to it.
CsvImport<CustomerRow> ParseCustomersCsv(absl::string_view text);

// Columns: code, name, unit (optional, "kpl"), unit_price (euros, net of VAT), vat_category
// (GENERAL|REDUCED|LOWEST|EXEMPT|REVERSE_CHARGE), sales_account and cost_centre (optional).
// Codes must be unique in the file.
CsvImport<ProductRow> ParseProductsCsv(absl::string_view text);

// One row per invoice line. Columns: invoice_id, customer_number, delivery_date, series,
// text, payment_terms_days (the invoice's: on its first row; later rows leave them empty or
// repeat them), product_code, description, unit, quantity (at most three decimals), unit_price
// (euros), vat_category, discount_percent, line_delivery_date, cost_centre (the line's). A line
// needs a product_code or a description. The rows of one invoice_id form one draft, in the order
// in which the ids first appear; invoice_id, customer_number, delivery_date and quantity are
// required.
CsvImport<DraftRow> ParseDraftsCsv(absl::string_view text);

// The drafts in batches of `batch_size` invoices for `billing_run_id`, batch N with request id
// "<prefix>-b<N>" (N from 0, as DraftRejection::batch counts).
std::vector<tahe::invoicing::v1::ImportDraftInvoicesRequest> DraftBatches(
    const std::vector<DraftRow>& drafts, absl::string_view billing_run_id,
    absl::string_view request_id_prefix, int batch_size = kDraftBatchSize);

// One line given on the command line, "PRODUCT:QUANTITY[:UNIT_PRICE]": a product code, a
// quantity with at most three decimals (2.5 = 2500 thousandths) and optionally a unit price in
// euros that overrides the product's. INVALID_ARGUMENT naming --line otherwise.
absl::StatusOr<tahe::invoicing::v1::LineInput> ParseInvoiceLine(absl::string_view text);

// Where a service message about one request points: "customer.address.city: required" ->
// {"address.city", "required"} after `prefix` ("customer."); {"", message} when the message does
// not begin with a field path.
std::pair<std::string, std::string> SplitFieldPath(absl::string_view message,
                                                   absl::string_view prefix);

// A refusal of one row's UpsertCustomer or UpsertProduct in the file's terms:
// "row 3 (customer C-9), column personal_identity_code: not a valid personal identity code".
// `field_prefix` is "customer." or "product."; fields map to the file's columns
// (address.street -> street, unit_price_cents -> unit_price). Identity codes are redacted.
std::string DescribeRowRefusal(int row, absl::string_view key_name, absl::string_view key,
                               absl::string_view field_prefix, absl::string_view message);

// A rejection of ImportDraftInvoices in the file's terms: "row 7 (invoice F-3), column
// product_code: unknown product \"X\"". `drafts[k]` is the k-th invoice sent (batches of
// `batch_size`); a message about lines[j] names the row of line j.
std::string DescribeDraftRejection(const tahe::invoicing::v1::DraftRejection& rejection,
                                   const std::vector<DraftRow>& drafts,
                                   int batch_size = kDraftBatchSize);

}  // namespace tahe::tahectl
