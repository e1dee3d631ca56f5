#include "tools/tahectl/invoicing_csv.h"

#include <map>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "tools/tahectl/parse.h"
#include "tools/tahectl/payroll_csv.h"

namespace tahe::tahectl {

namespace v1 = ::tahe::invoicing::v1;

namespace {

constexpr absl::string_view kVatCategories = "GENERAL, REDUCED, LOWEST, EXEMPT or REVERSE_CHARGE";
constexpr int kMaxPaymentTermsDays = 365;

v1::VatCategory VatCategoryCell(CsvRecordReader& cells, absl::string_view column, bool required) {
  return cells.Enumerated<v1::VatCategory>(column, "VAT_CATEGORY_", &v1::VatCategory_Parse,
                                           kVatCategories, required);
}

// The invoice-level columns of a drafts file: on an invoice's first row, and on later rows only
// empty or the same.
const std::vector<absl::string_view>& InvoiceColumns() {
  static const auto* const kColumns = new std::vector<absl::string_view>{
      "customer_number", "delivery_date", "series", "text", "payment_terms_days"};
  return *kColumns;
}

// Starts a draft from its first row's invoice-level cells.
void StartDraft(CsvRecordReader& cells, const std::string& invoice_id, v1::InvoiceDraftInput& d) {
  d.set_invoice_id(invoice_id);
  d.set_customer_number(cells.Required("customer_number"));
  d.set_delivery_date(cells.Date("delivery_date", true));
  d.set_series(cells.Cell("series"));
  d.set_text(cells.Cell("text"));
  if (const std::string terms = cells.Cell("payment_terms_days"); !terms.empty()) {
    int32_t days = 0;
    if (!absl::SimpleAtoi(terms, &days) || days < 0 || days > kMaxPaymentTermsDays) {
      cells.Problem("payment_terms_days",
                    absl::StrCat("want 0..", kMaxPaymentTermsDays, " days, got \"", terms, "\""));
    }
    d.set_payment_terms_days(days);
  }
}

// One line of a drafts file.
v1::LineInput ReadLine(CsvRecordReader& cells) {
  v1::LineInput line;
  line.set_product_code(cells.Cell("product_code"));
  line.set_description(cells.Cell("description"));
  if (line.product_code().empty() && line.description().empty()) {
    cells.Problem("product_code", "required (or a description with unit_price and vat_category)");
  }
  line.set_unit(cells.Cell("unit"));
  if (const std::string quantity = cells.Required("quantity"); !quantity.empty()) {
    std::optional<int64_t> milli =
        cells.Parsed("quantity", ParseThousandths("quantity", quantity, cells.echo()));
    if (milli.has_value() && *milli == 0) {
      cells.Problem("quantity", "must be positive");
    }
    line.set_quantity_milli(milli.value_or(0));
  }
  if (!cells.Cell("unit_price").empty()) {
    line.set_unit_price_cents(cells.Euros("unit_price"));
    line.set_has_unit_price(true);
  }
  line.set_vat_category(VatCategoryCell(cells, "vat_category", /*required=*/false));
  if (const std::string discount = cells.Cell("discount_percent"); !discount.empty()) {
    line.set_discount_ppm(
        cells.Parsed("discount_percent", ParsePercentPpm("discount_percent", discount))
            .value_or(0));
  }
  line.set_delivery_date(cells.Date("line_delivery_date", false));
  line.set_cost_centre(cells.Cell("cost_centre"));
  return line;
}

// The file's column of a customer's field path ("address.city" -> "city").
std::string CustomerColumn(absl::string_view path) {
  absl::ConsumePrefix(&path, "address.");
  return std::string(path);
}

std::string ProductColumn(absl::string_view path) {
  return path == "unit_price_cents" ? "unit_price" : std::string(path);
}

// The file's column of a line's field path ("quantity_milli" -> "quantity").
std::string LineColumn(absl::string_view field) {
  static const auto* const kColumns =
      new std::map<std::string, std::string, std::less<>>{{"quantity_milli", "quantity"},
                                                          {"unit_price_cents", "unit_price"},
                                                          {"discount_ppm", "discount_percent"},
                                                          {"delivery_date", "line_delivery_date"}};
  auto it = kColumns->find(field);
  return it == kColumns->end() ? std::string(field) : it->second;
}

// "lines[3].quantity_milli" -> line 3, field "quantity_milli"; nullopt for another path.
std::optional<std::pair<int, std::string>> LinePath(absl::string_view path) {
  if (!absl::ConsumePrefix(&path, "lines[")) {
    return std::nullopt;
  }
  const size_t close = path.find(']');
  int line = 0;
  if (close == absl::string_view::npos || !absl::SimpleAtoi(path.substr(0, close), &line)) {
    return std::nullopt;
  }
  path.remove_prefix(close + 1);
  absl::ConsumePrefix(&path, ".");
  return std::make_pair(line, std::string(path));
}

std::string Where(int row, absl::string_view key_name, absl::string_view key,
                  absl::string_view column) {
  std::string where = absl::StrCat("row ", row);
  if (!key.empty()) {
    absl::StrAppend(&where, " (", key_name, " ", key, ")");
  }
  if (!column.empty()) {
    absl::StrAppend(&where, ", column ", column);
  }
  return where;
}

}  // namespace

CsvImport<CustomerRow> ParseCustomersCsv(absl::string_view text) {
  static const auto* const kColumns = new std::vector<CsvColumn>{{"customer_number", true},
                                                                 {"kind", true},
                                                                 {"name", true},
                                                                 {"business_id", false},
                                                                 {"personal_identity_code", false},
                                                                 {"street", true},
                                                                 {"postal_code", true},
                                                                 {"city", true},
                                                                 {"country", false},
                                                                 {"delivery_channel", false},
                                                                 {"email", false},
                                                                 {"einvoice_address", false},
                                                                 {"einvoice_operator", false},
                                                                 {"language", false},
                                                                 {"price_list", false}};
  CsvImport<CustomerRow> result;
  std::vector<CsvRecord> records;
  CsvHeader header;
  if (!ReadCsvRecords(text, *kColumns, records, header, result.problems)) {
    return result;
  }
  std::vector<std::pair<int, std::string>> numbers;
  for (const CsvRecord& record : records) {
    if (!CheckCsvWidth(record, header, result.problems)) {
      continue;
    }
    // Names, addresses and identity codes: no problem repeats a cell.
    CsvRecordReader cells(header, record, /*echo=*/false, result.problems);
    CustomerRow row;
    row.row = record.row;
    v1::Customer& c = row.customer;
    c.set_customer_number(cells.Required("customer_number"));
    c.set_kind(cells.Enumerated<v1::CustomerKind>("kind", "CUSTOMER_KIND_", &v1::CustomerKind_Parse,
                                                  "PERSON or ORGANISATION"));
    c.set_name(cells.Required("name"));
    c.set_business_id(cells.Cell("business_id"));
    c.set_personal_identity_code(cells.Cell("personal_identity_code"));
    c.mutable_address()->set_street(cells.Required("street"));
    c.mutable_address()->set_postal_code(cells.Required("postal_code"));
    c.mutable_address()->set_city(cells.Required("city"));
    c.mutable_address()->set_country(cells.Cell("country"));
    c.set_delivery_channel(cells.Enumerated<v1::DeliveryChannel>(
        "delivery_channel", "DELIVERY_CHANNEL_", &v1::DeliveryChannel_Parse,
        "PAPER, EMAIL or EINVOICE", /*required=*/false));
    c.set_email(cells.Cell("email"));
    c.set_einvoice_address(cells.Cell("einvoice_address"));
    c.set_einvoice_operator(cells.Cell("einvoice_operator"));
    c.set_language(cells.Cell("language"));
    if (!c.language().empty() && c.language() != "fi" && c.language() != "sv" &&
        c.language() != "en") {
      cells.Problem("language", "want fi, sv or en");
    }
    c.set_price_list(cells.Cell("price_list"));
    numbers.emplace_back(record.row, c.customer_number());
    result.rows.push_back(std::move(row));
  }
  CheckCsvUnique("customer_number", numbers, result.problems);
  SortCsvProblems(result.problems);
  return result;
}

CsvImport<ProductRow> ParseProductsCsv(absl::string_view text) {
  static const auto* const kColumns = new std::vector<CsvColumn>{
      {"code", true},         {"name", true},           {"unit", false},       {"unit_price", true},
      {"vat_category", true}, {"sales_account", false}, {"cost_centre", false}};
  CsvImport<ProductRow> result;
  std::vector<CsvRecord> records;
  CsvHeader header;
  if (!ReadCsvRecords(text, *kColumns, records, header, result.problems)) {
    return result;
  }
  std::vector<std::pair<int, std::string>> codes;
  for (const CsvRecord& record : records) {
    if (!CheckCsvWidth(record, header, result.problems)) {
      continue;
    }
    CsvRecordReader cells(header, record, /*echo=*/true, result.problems);
    ProductRow row;
    row.row = record.row;
    v1::Product& p = row.product;
    p.set_code(cells.Required("code"));
    p.set_name(cells.Required("name"));
    p.set_unit(cells.Cell("unit"));
    if (!cells.Required("unit_price").empty()) {
      p.set_unit_price_cents(cells.Euros("unit_price"));
    }
    p.set_vat_category(VatCategoryCell(cells, "vat_category", /*required=*/true));
    p.set_sales_account(cells.Cell("sales_account"));
    p.set_cost_centre(cells.Cell("cost_centre"));
    codes.emplace_back(record.row, p.code());
    result.rows.push_back(std::move(row));
  }
  CheckCsvUnique("code", codes, result.problems);
  SortCsvProblems(result.problems);
  return result;
}

CsvImport<DraftRow> ParseDraftsCsv(absl::string_view text) {
  static const auto* const kColumns = new std::vector<CsvColumn>{{"invoice_id", true},
                                                                 {"customer_number", true},
                                                                 {"delivery_date", true},
                                                                 {"series", false},
                                                                 {"text", false},
                                                                 {"payment_terms_days", false},
                                                                 {"product_code", false},
                                                                 {"description", false},
                                                                 {"unit", false},
                                                                 {"quantity", true},
                                                                 {"unit_price", false},
                                                                 {"vat_category", false},
                                                                 {"discount_percent", false},
                                                                 {"line_delivery_date", false},
                                                                 {"cost_centre", false}};
  CsvImport<DraftRow> result;
  std::vector<CsvRecord> records;
  CsvHeader header;
  if (!ReadCsvRecords(text, *kColumns, records, header, result.problems)) {
    return result;
  }
  // Per invoice id: its draft, and the invoice-level cells of its first row.
  std::map<std::string, size_t, std::less<>> draft_of;
  std::vector<std::map<std::string, std::string, std::less<>>> first_cells;
  for (const CsvRecord& record : records) {
    if (!CheckCsvWidth(record, header, result.problems)) {
      continue;
    }
    CsvRecordReader cells(header, record, /*echo=*/true, result.problems);
    const std::string invoice_id = cells.Required("invoice_id");
    auto [it, first] = draft_of.emplace(invoice_id, result.rows.size());
    if (first) {
      DraftRow& draft = result.rows.emplace_back();
      StartDraft(cells, invoice_id, draft.draft);
      auto& remembered = first_cells.emplace_back();
      for (absl::string_view column : InvoiceColumns()) {
        remembered[std::string(column)] = cells.Cell(column);
      }
    } else {
      const DraftRow& draft = result.rows[it->second];
      for (absl::string_view column : InvoiceColumns()) {
        const std::string cell = cells.Cell(column);
        if (!cell.empty() && cell != first_cells[it->second].find(column)->second) {
          cells.Problem(column, absl::StrCat("differs from row ", draft.line_rows.front(),
                                             ", where invoice ", invoice_id, " starts"));
        }
      }
    }
    DraftRow& draft = result.rows[it->second];
    draft.line_rows.push_back(record.row);
    *draft.draft.add_lines() = ReadLine(cells);
  }
  SortCsvProblems(result.problems);
  return result;
}

std::vector<v1::ImportDraftInvoicesRequest> DraftBatches(const std::vector<DraftRow>& drafts,
                                                         absl::string_view billing_run_id,
                                                         absl::string_view request_id_prefix,
                                                         int batch_size) {
  std::vector<v1::ImportDraftInvoicesRequest> batches;
  for (size_t i = 0; i < drafts.size(); ++i) {
    if (i % batch_size == 0) {
      v1::ImportDraftInvoicesRequest& batch = batches.emplace_back();
      batch.set_request_id(absl::StrCat(request_id_prefix, "-b", batches.size() - 1));
      batch.set_billing_run_id(std::string(billing_run_id));
    }
    *batches.back().add_invoices() = drafts[i].draft;
  }
  return batches;
}

absl::StatusOr<v1::LineInput> ParseInvoiceLine(absl::string_view text) {
  const auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("--line \"", text, "\": ", why,
                     " (want PRODUCT:QUANTITY[:UNIT_PRICE], like KOTIHOITO:2.5)"));
  };
  std::vector<absl::string_view> parts = absl::StrSplit(text, ':');
  if (parts.size() < 2 || parts.size() > 3) {
    return bad(parts.size() < 2 ? "missing quantity" : "too many parts");
  }
  if (parts[0].empty()) {
    return bad("missing product code");
  }
  v1::LineInput line;
  line.set_product_code(std::string(parts[0]));
  absl::StatusOr<int64_t> quantity = ParseThousandths("quantity", parts[1]);
  if (!quantity.ok() || *quantity == 0) {
    return bad(absl::StrCat("bad quantity \"", parts[1],
                            "\", want a positive number with at most three decimals"));
  }
  line.set_quantity_milli(*quantity);
  if (parts.size() == 3) {
    absl::StatusOr<int64_t> price = ParseEurosNonNegative("unit price", parts[2]);
    if (!price.ok()) {
      return bad(absl::StrCat("bad unit price \"", parts[2], "\", want euros like 40.00"));
    }
    line.set_unit_price_cents(*price);
    line.set_has_unit_price(true);
  }
  return line;
}

std::pair<std::string, std::string> SplitFieldPath(absl::string_view message,
                                                   absl::string_view prefix) {
  const size_t colon = message.find(": ");
  if (colon == absl::string_view::npos) {
    return {"", std::string(message)};
  }
  absl::string_view path = message.substr(0, colon);
  if (path.empty() || path.find(' ') != absl::string_view::npos ||
      !absl::ConsumePrefix(&path, prefix)) {
    return {"", std::string(message)};
  }
  return {std::string(path), std::string(message.substr(colon + 2))};
}

std::string DescribeRowRefusal(int row, absl::string_view key_name, absl::string_view key,
                               absl::string_view field_prefix, absl::string_view message) {
  const std::string redacted = RedactIdentityCodes(message);
  auto [path, rest] = SplitFieldPath(redacted, field_prefix);
  const std::string column =
      field_prefix == "product." ? ProductColumn(path) : CustomerColumn(path);
  return absl::StrCat(Where(row, key_name, RedactIdentityCodes(key), column), ": ", rest);
}

std::string DescribeDraftRejection(const v1::DraftRejection& rejection,
                                   const std::vector<DraftRow>& drafts, int batch_size) {
  const std::string message = RedactIdentityCodes(rejection.message());
  const int64_t position = static_cast<int64_t>(rejection.batch()) * batch_size + rejection.index();
  if (rejection.index() < 0 || position >= static_cast<int64_t>(drafts.size())) {
    // The service's summary of rejections it did not list, or one it cannot place.
    return message;
  }
  const DraftRow& draft = drafts[position];
  const std::string invoice_prefix = absl::StrCat("invoices[", rejection.index(), "].");
  auto [path, rest] = SplitFieldPath(message, invoice_prefix);
  int row = draft.line_rows.front();
  std::string column = path;
  if (std::optional<std::pair<int, std::string>> line = LinePath(path)) {
    if (line->first >= 0 && line->first < static_cast<int>(draft.line_rows.size())) {
      row = draft.line_rows[line->first];
    }
    column = LineColumn(line->second);
  } else if (path == "lines") {
    column = "";
  }
  const std::string id =
      rejection.invoice_id().empty() ? draft.draft.invoice_id() : rejection.invoice_id();
  return absl::StrCat(Where(row, "invoice", id, column), ": ", rest);
}

}  // namespace tahe::tahectl
