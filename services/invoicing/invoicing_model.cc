#include "services/invoicing/invoicing_model.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "libs/dates/dates.h"
#include "libs/fi/barcode.h"
#include "libs/fi/business_id.h"
#include "libs/fi/hetu.h"
#include "libs/fi/iban.h"
#include "libs/money/money.h"
#include "libs/status/status.h"

namespace tahe::invoicing {
namespace {

constexpr size_t kMaxNameLength = 200;
constexpr size_t kMaxTextLength = 1000;
constexpr int64_t kPpmPerHundredth = 100;

bool AllDigits(absl::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return absl::ascii_isdigit(static_cast<unsigned char>(c)); });
}

absl::Status ValidateAccount(absl::string_view field, absl::string_view account) {
  if (account.size() < 3 || account.size() > 10 || !AllDigits(account)) {
    return InvalidField(field, "must be an account number of 3-10 digits");
  }
  return absl::OkStatus();
}

absl::Status ValidateRequiredText(absl::string_view field, absl::string_view text, size_t max) {
  if (text.empty()) return InvalidField(field, "required");
  return ValidateText(field, text, max);
}

absl::Status ValidateAddress(absl::string_view field, v1::PostalAddress* address) {
  RETURN_IF_ERROR(ValidateText(absl::StrCat(field, ".street"), address->street(), 200));
  RETURN_IF_ERROR(ValidateText(absl::StrCat(field, ".postal_code"), address->postal_code(), 16));
  RETURN_IF_ERROR(ValidateText(absl::StrCat(field, ".city"), address->city(), 100));
  if (address->country().empty()) address->set_country("FI");
  const std::string& country = address->country();
  if (country.size() != 2 || !absl::ascii_isupper(static_cast<unsigned char>(country[0])) ||
      !absl::ascii_isupper(static_cast<unsigned char>(country[1]))) {
    return InvalidField(absl::StrCat(field, ".country"), "must be an ISO 3166 code such as FI");
  }
  return absl::OkStatus();
}

void DefaultAccount(std::string* account, absl::string_view fallback) {
  if (account->empty()) *account = std::string(fallback);
}

// Discounts: ppm in the API, hundredths of a percent in invoicing_domain.
absl::StatusOr<int32_t> DiscountHundredths(absl::string_view field, int64_t ppm) {
  if (ppm < 0 || ppm > 1'000'000) return InvalidField(field, "must be 0..1000000 ppm (0-100 %)");
  if (ppm % kPpmPerHundredth != 0) {
    return InvalidField(field, "must be a whole number of hundredths of a percent (100 ppm)");
  }
  return static_cast<int32_t>(ppm / kPpmPerHundredth);
}

// A series' reference prefix: 1-15 digits, not beginning with 0 (a reference's leading zeros are
// dropped, so "01" and "1" would collide).
absl::Status ValidateSeriesPrefix(absl::string_view field, absl::string_view prefix) {
  if (prefix.empty()) return InvalidField(field, "required: 1-15 digits");
  if (prefix.size() > 15 || !AllDigits(prefix) || prefix[0] == '0') {
    return InvalidField(field, "must be 1-15 digits, not beginning with 0");
  }
  return absl::OkStatus();
}

// Fills the computed amounts of `invoice` (lines, groups, totals) from `lines` with the VAT
// rates and groups of invoicing_domain.
absl::Status PriceLines(absl::string_view field, const std::vector<InvoiceLine>& lines,
                        absl::CivilDay delivery_date, v1::Invoice* invoice) {
  absl::StatusOr<InvoiceTotals> totals = ComputeInvoiceTotals(lines, delivery_date);
  if (!totals.ok()) return Annotate(totals.status(), field);
  for (size_t i = 0; i < lines.size(); ++i) {
    const ComputedLine& computed = totals->lines[i];
    v1::InvoiceLine* line = invoice->mutable_lines(static_cast<int>(i));
    line->set_net_cents(computed.net_cents);
    line->set_vat_rate_ppm(int64_t{computed.vat_rate.hundredths_of_percent} * kPpmPerHundredth);
    line->set_delivery_date(FormatDate(computed.delivery_date));
  }
  invoice->clear_vat_groups();
  for (const VatGroup& group : totals->groups) {
    v1::VatGroup* out = invoice->add_vat_groups();
    out->set_vat_category(ToProto(group.rate.category));
    out->set_vat_rate_ppm(int64_t{group.rate.hundredths_of_percent} * kPpmPerHundredth);
    out->set_net_cents(group.net_cents);
    out->set_vat_cents(group.vat_cents);
  }
  invoice->set_net_cents(totals->net_cents);
  invoice->set_vat_cents(totals->vat_cents);
  invoice->set_gross_cents(totals->gross_cents);
  return absl::OkStatus();
}

}  // namespace

// --- Conversions ---------------------------------------------------------------------------------

absl::StatusOr<VatCategory> VatCategoryOf(absl::string_view field, v1::VatCategory category) {
  switch (category) {
    case v1::VAT_CATEGORY_GENERAL:
      return VatCategory::kGeneral;
    case v1::VAT_CATEGORY_REDUCED:
      return VatCategory::kReduced;
    case v1::VAT_CATEGORY_LOWEST:
      return VatCategory::kLowest;
    case v1::VAT_CATEGORY_EXEMPT:
      return VatCategory::kExempt;
    case v1::VAT_CATEGORY_REVERSE_CHARGE:
      return VatCategory::kReverseCharge;
    default:
      return InvalidField(field, "required: general, reduced, lowest, exempt or reverse charge");
  }
}

v1::VatCategory ToProto(VatCategory category) {
  switch (category) {
    case VatCategory::kGeneral:
      return v1::VAT_CATEGORY_GENERAL;
    case VatCategory::kReduced:
      return v1::VAT_CATEGORY_REDUCED;
    case VatCategory::kLowest:
      return v1::VAT_CATEGORY_LOWEST;
    case VatCategory::kExempt:
      return v1::VAT_CATEGORY_EXEMPT;
    case VatCategory::kReverseCharge:
      return v1::VAT_CATEGORY_REVERSE_CHARGE;
  }
  return v1::VAT_CATEGORY_UNSPECIFIED;
}

absl::Status ValidateCode(absl::string_view field, absl::string_view code, size_t max_length) {
  if (code.empty()) return InvalidField(field, "required");
  if (code.size() > max_length) {
    return InvalidField(field, absl::StrCat("longer than ", max_length, " characters"));
  }
  if (!absl::ascii_isalnum(static_cast<unsigned char>(code[0]))) {
    return InvalidField(field, "must begin with a letter or digit");
  }
  for (char c : code) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-' &&
        c != ':') {
      return InvalidField(field, "may hold only letters, digits and _ . - :");
    }
  }
  return absl::OkStatus();
}

// --- Settings ----------------------------------------------------------------------------------

absl::StatusOr<v1::InvoicingSettings> NormaliseSettings(const v1::InvoicingSettings& in) {
  v1::InvoicingSettings s = in;
  RETURN_IF_ERROR(ValidateRequiredText("settings.seller_name", s.seller_name(), kMaxNameLength));
  RETURN_IF_ERROR(fi::ValidateBusinessId("settings.business_id", s.business_id()));
  RETURN_IF_ERROR(ValidateAddress("settings.address", s.mutable_address()));
  ASSIGN_OR_RETURN(std::string iban, fi::ParseIban("settings.iban", s.iban()));
  if (!absl::StartsWith(iban, "FI")) {
    return InvalidField("settings.iban", "must be a Finnish IBAN (the barcode needs one)");
  }
  s.set_iban(iban);
  if (s.bic().empty()) {
    ASSIGN_OR_RETURN(std::optional<std::string> bic, fi::BicOf("settings.iban", iban));
    if (!bic.has_value()) {
      return InvalidField("settings.bic", "required: the IBAN's bank is not on the BIC list");
    }
    s.set_bic(*bic);
  } else if ((s.bic().size() != 8 && s.bic().size() != 11) ||
             !std::all_of(s.bic().begin(), s.bic().end(), [](char c) {
               return absl::ascii_isupper(static_cast<unsigned char>(c)) ||
                      absl::ascii_isdigit(static_cast<unsigned char>(c));
             })) {
    return InvalidField("settings.bic", "must be a BIC of 8 or 11 upper-case letters and digits");
  }
  RETURN_IF_ERROR(ValidateText("settings.einvoice_address", s.einvoice_address(), 35));
  RETURN_IF_ERROR(ValidateText("settings.einvoice_operator", s.einvoice_operator(), 35));
  if (s.reference_prefix().empty()) s.set_reference_prefix("1");
  RETURN_IF_ERROR(ValidateSeriesPrefix("settings.reference_prefix", s.reference_prefix()));
  if (s.payment_terms_days() == 0) s.set_payment_terms_days(kDefaultPaymentTermsDays);
  if (s.payment_terms_days() < 0 || s.payment_terms_days() > kMaxPaymentTermsDays) {
    return InvalidField("settings.payment_terms_days", "must be 0..365 days (0 = 14)");
  }
  if (s.reminder_fee_cents() < 0 || s.reminder_fee_cents() > kMaxReminderFeeCents) {
    return InvalidField("settings.reminder_fee_cents", "must be 0..10000 cents");
  }
  v1::PostingAccounts* a = s.mutable_accounts();
  DefaultAccount(a->mutable_receivables(), "1700");
  DefaultAccount(a->mutable_bank(), "1910");
  DefaultAccount(a->mutable_vat_payable(), "2850");
  DefaultAccount(a->mutable_default_sales(), "3000");
  DefaultAccount(a->mutable_reminder_fees(), "3400");
  DefaultAccount(a->mutable_penalty_interest(), "5210");
  DefaultAccount(a->mutable_overpayments(), "2900");
  RETURN_IF_ERROR(ValidateAccount("settings.accounts.receivables", a->receivables()));
  RETURN_IF_ERROR(ValidateAccount("settings.accounts.bank", a->bank()));
  RETURN_IF_ERROR(ValidateAccount("settings.accounts.vat_payable", a->vat_payable()));
  RETURN_IF_ERROR(ValidateAccount("settings.accounts.default_sales", a->default_sales()));
  RETURN_IF_ERROR(ValidateAccount("settings.accounts.reminder_fees", a->reminder_fees()));
  RETURN_IF_ERROR(ValidateAccount("settings.accounts.penalty_interest", a->penalty_interest()));
  RETURN_IF_ERROR(ValidateAccount("settings.accounts.overpayments", a->overpayments()));

  // Series: "L" with reference_prefix unless listed; codes unique; no prefix begins another.
  bool has_default = false;
  std::set<std::string> codes;
  for (int i = 0; i < s.series_size(); ++i) {
    const v1::InvoiceSeries& series = s.series(i);
    const std::string field = absl::StrCat("settings.series[", i, "]");
    RETURN_IF_ERROR(ValidateSeriesCode(absl::StrCat(field, ".code"), series.code()));
    RETURN_IF_ERROR(
        ValidateSeriesPrefix(absl::StrCat(field, ".reference_prefix"), series.reference_prefix()));
    if (!codes.insert(series.code()).second) {
      return InvalidField(absl::StrCat(field, ".code"), "listed twice");
    }
    has_default = has_default || series.code() == kDefaultSeries;
  }
  if (!has_default) {
    v1::InvoiceSeries* series = s.add_series();
    series->set_code(kDefaultSeries);
    series->set_reference_prefix(s.reference_prefix());
  }
  for (int i = 0; i < s.series_size(); ++i) {
    for (int j = 0; j < s.series_size(); ++j) {
      if (i != j &&
          absl::StartsWith(s.series(j).reference_prefix(), s.series(i).reference_prefix())) {
        return InvalidField(absl::StrCat("settings.series[", j, "].reference_prefix"),
                            absl::StrCat("begins with the prefix of series ", s.series(i).code(),
                                         ": their reference numbers could coincide"));
      }
    }
  }
  return s;
}

absl::StatusOr<std::string> ReferencePrefixOf(const v1::InvoicingSettings& settings,
                                              absl::string_view series) {
  for (const v1::InvoiceSeries& s : settings.series()) {
    if (s.code() == series) return s.reference_prefix();
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "series: series \"", series, "\" is not set up in the organisation's invoicing settings"));
}

// --- Customers and products ----------------------------------------------------------------------

absl::StatusOr<ValidCustomer> ValidateCustomer(const v1::Customer& in,
                                               absl::string_view identity_key) {
  ValidCustomer out;
  v1::Customer& c = out.customer;
  c = in;
  RETURN_IF_ERROR(ValidateCode("customer.customer_number", c.customer_number(), 40));
  RETURN_IF_ERROR(ValidateRequiredText("customer.name", c.name(), kMaxNameLength));
  switch (c.kind()) {
    case v1::CUSTOMER_KIND_ORGANISATION:
      RETURN_IF_ERROR(fi::ValidateBusinessId("customer.business_id", c.business_id()));
      if (!c.personal_identity_code().empty()) {
        return InvalidField("customer.personal_identity_code",
                            "only a person has a personal identity code");
      }
      break;
    case v1::CUSTOMER_KIND_PERSON:
      if (!c.business_id().empty()) {
        return InvalidField("customer.business_id", "a person has no business ID");
      }
      if (!c.personal_identity_code().empty()) {
        ASSIGN_OR_RETURN(fi::PersonalIdentityCode code,
                         fi::ParsePersonalIdentityCode("customer.personal_identity_code",
                                                       c.personal_identity_code()));
        ASSIGN_OR_RETURN(out.identity_hash, fi::HmacSha256Hex(identity_key, code.code));
      }
      break;
    default:
      return InvalidField("customer.kind", "required: person or organisation");
  }
  c.clear_personal_identity_code();
  c.set_has_personal_identity_code(!out.identity_hash.empty());
  // Every invoice carries the buyer's postal address (paper, and the Finvoice buyer details).
  RETURN_IF_ERROR(ValidateRequiredText("customer.address.street", c.address().street(), 200));
  RETURN_IF_ERROR(
      ValidateRequiredText("customer.address.postal_code", c.address().postal_code(), 16));
  RETURN_IF_ERROR(ValidateRequiredText("customer.address.city", c.address().city(), 100));
  RETURN_IF_ERROR(ValidateAddress("customer.address", c.mutable_address()));
  RETURN_IF_ERROR(ValidateText("customer.email", c.email(), 254));
  RETURN_IF_ERROR(ValidateText("customer.einvoice_address", c.einvoice_address(), 35));
  RETURN_IF_ERROR(ValidateText("customer.einvoice_operator", c.einvoice_operator(), 35));
  switch (c.delivery_channel()) {
    case v1::DELIVERY_CHANNEL_UNSPECIFIED:
      c.set_delivery_channel(v1::DELIVERY_CHANNEL_PAPER);
      break;
    case v1::DELIVERY_CHANNEL_PAPER:
      break;
    case v1::DELIVERY_CHANNEL_EMAIL:
      if (c.email().find('@') == std::string::npos) {
        return InvalidField("customer.email", "required for delivery by email: an address");
      }
      break;
    case v1::DELIVERY_CHANNEL_EINVOICE:
      if (c.einvoice_address().empty() || c.einvoice_operator().empty()) {
        return InvalidField(c.einvoice_address().empty() ? "customer.einvoice_address"
                                                         : "customer.einvoice_operator",
                            "required for e-invoices");
      }
      break;
    default:
      return InvalidField("customer.delivery_channel", "unknown channel");
  }
  if (c.language().empty()) c.set_language("fi");
  if (c.language() != "fi" && c.language() != "sv" && c.language() != "en") {
    return InvalidField("customer.language", "must be fi, sv or en");
  }
  if (!c.price_list().empty()) {
    RETURN_IF_ERROR(ValidateCode("customer.price_list", c.price_list(), 40));
  }
  return out;
}

absl::StatusOr<v1::Product> ValidateProduct(const v1::Product& in) {
  v1::Product p = in;
  RETURN_IF_ERROR(ValidateCode("product.code", p.code(), 40));
  RETURN_IF_ERROR(ValidateRequiredText("product.name", p.name(), kMaxDescriptionLength));
  if (p.unit().empty()) p.set_unit("kpl");
  RETURN_IF_ERROR(ValidateText("product.unit", p.unit(), 10));
  if (p.unit_price_cents() < 0 || p.unit_price_cents() > kMaxUnitPriceCents) {
    return InvalidField("product.unit_price_cents", "must be 0..10^12 cents");
  }
  RETURN_IF_ERROR(VatCategoryOf("product.vat_category", p.vat_category()).status());
  if (!p.sales_account().empty()) {
    RETURN_IF_ERROR(ValidateAccount("product.sales_account", p.sales_account()));
  }
  RETURN_IF_ERROR(ValidateText("product.cost_centre", p.cost_centre(), 64));
  return p;
}

absl::Status ValidatePriceList(const v1::PriceList& price_list) {
  RETURN_IF_ERROR(ValidateCode("price_list.name", price_list.name(), 40));
  for (const auto& [code, price] : price_list.prices()) {
    const std::string field = absl::StrCat("price_list.prices[", code, "]");
    RETURN_IF_ERROR(ValidateCode(field, code, 40));
    if (price < 0 || price > kMaxUnitPriceCents) {
      return InvalidField(field, "must be 0..10^12 cents");
    }
  }
  return absl::OkStatus();
}

// --- Drafts --------------------------------------------------------------------------------------

absl::StatusOr<v1::Invoice> PriceDraft(const v1::InvoiceDraftInput& input, absl::string_view field,
                                       const Catalog& catalog) {
  v1::Invoice invoice;
  RETURN_IF_ERROR(ValidateCode(absl::StrCat(field, ".invoice_id"), input.invoice_id(), 64));
  invoice.set_invoice_id(input.invoice_id());
  invoice.set_kind(v1::INVOICE_KIND_INVOICE);
  invoice.set_status(v1::INVOICE_STATUS_DRAFT);
  invoice.set_customer_number(catalog.customer->customer_number());
  invoice.set_customer_name(catalog.customer->name());
  invoice.set_series(input.series().empty() ? kDefaultSeries : input.series());
  RETURN_IF_ERROR(ValidateSeriesCode(absl::StrCat(field, ".series"), invoice.series()));
  ASSIGN_OR_RETURN(absl::CivilDay delivery_date,
                   ParseDate(absl::StrCat(field, ".delivery_date"), input.delivery_date()));
  invoice.set_delivery_date(FormatDate(delivery_date));
  RETURN_IF_ERROR(ValidateText(absl::StrCat(field, ".text"), input.text(), kMaxTextLength));
  invoice.set_text(input.text());
  if (input.payment_terms_days() < 0 || input.payment_terms_days() > kMaxPaymentTermsDays) {
    return InvalidField(absl::StrCat(field, ".payment_terms_days"), "must be 0..365 days");
  }
  invoice.set_payment_terms_days(input.payment_terms_days() != 0
                                     ? input.payment_terms_days()
                                     : catalog.settings->payment_terms_days());
  if (input.lines_size() == 0) return InvalidField(absl::StrCat(field, ".lines"), "required");
  if (static_cast<size_t>(input.lines_size()) > kMaxLines) {
    return InvalidField(absl::StrCat(field, ".lines"),
                        absl::StrCat("more than ", kMaxLines, " lines"));
  }

  std::vector<InvoiceLine> lines;
  lines.reserve(input.lines_size());
  for (int i = 0; i < input.lines_size(); ++i) {
    const v1::LineInput& in = input.lines(i);
    const std::string lf = absl::StrCat(field, ".lines[", i, "]");
    const v1::Product* product = nullptr;
    if (!in.product_code().empty()) {
      auto found = catalog.products->find(in.product_code());
      if (found == catalog.products->end()) {
        return InvalidField(absl::StrCat(lf, ".product_code"),
                            absl::StrCat("unknown product \"", in.product_code(), "\""));
      }
      product = &found->second;
    }
    v1::InvoiceLine* out = invoice.add_lines();
    out->set_line_number(i + 1);
    out->set_product_code(in.product_code());
    out->set_description(!in.description().empty() ? in.description()
                         : product != nullptr      ? product->name()
                                                   : "");
    out->set_unit(!in.unit().empty() ? in.unit() : product != nullptr ? product->unit() : "kpl");
    RETURN_IF_ERROR(ValidateText(absl::StrCat(lf, ".unit"), out->unit(), 10));
    int64_t price = in.unit_price_cents();
    if (!in.has_unit_price()) {
      if (product == nullptr) {
        return InvalidField(absl::StrCat(lf, ".unit_price_cents"), "required without a product");
      }
      price = product->unit_price_cents();
      if (catalog.price_list != nullptr) {
        auto listed = catalog.price_list->prices().find(product->code());
        if (listed != catalog.price_list->prices().end()) price = listed->second;
      }
    }
    out->set_unit_price_cents(price);
    v1::VatCategory category = in.vat_category() != v1::VAT_CATEGORY_UNSPECIFIED ? in.vat_category()
                               : product != nullptr ? product->vat_category()
                                                    : v1::VAT_CATEGORY_UNSPECIFIED;
    ASSIGN_OR_RETURN(VatCategory vat, VatCategoryOf(absl::StrCat(lf, ".vat_category"), category));
    out->set_vat_category(category);
    ASSIGN_OR_RETURN(int32_t discount,
                     DiscountHundredths(absl::StrCat(lf, ".discount_ppm"), in.discount_ppm()));
    out->set_discount_ppm(in.discount_ppm());
    out->set_quantity_milli(in.quantity_milli());
    std::optional<absl::CivilDay> line_date;
    if (!in.delivery_date().empty()) {
      ASSIGN_OR_RETURN(line_date,
                       ParseDate(absl::StrCat(lf, ".delivery_date"), in.delivery_date()));
    }
    out->set_cost_centre(!in.cost_centre().empty() ? in.cost_centre()
                         : product != nullptr      ? product->cost_centre()
                                                   : "");
    RETURN_IF_ERROR(ValidateText(absl::StrCat(lf, ".cost_centre"), out->cost_centre(), 64));
    out->set_sales_account(product != nullptr && !product->sales_account().empty()
                               ? product->sales_account()
                               : catalog.settings->accounts().default_sales());
    InvoiceLine line{.description = out->description(),
                     .quantity_thousandths = in.quantity_milli(),
                     .unit_price_cents = price,
                     .discount_hundredths = discount,
                     .vat_category = vat,
                     .delivery_date = line_date};
    absl::Status valid = ValidateLine(lf, line, /*credit_note=*/false);
    if (!valid.ok()) {
      // invoicing_domain names its own fields; the API's are *_milli and *_cents.
      std::string message(valid.message());
      absl::StrReplaceAll({{".quantity:", ".quantity_milli:"},
                           {".unit_price:", ".unit_price_cents:"},
                           {".discount:", ".discount_ppm:"}},
                          &message);
      return absl::Status(valid.code(), message);
    }
    lines.push_back(std::move(line));
  }
  RETURN_IF_ERROR(PriceLines(field, lines, delivery_date, &invoice));
  invoice.set_open_cents(0);
  return invoice;
}

absl::StatusOr<v1::Invoice> CreditNoteDraft(const v1::Invoice& original,
                                            const std::vector<int32_t>& line_numbers,
                                            const std::string& credit_note_id,
                                            const std::string& text) {
  if (original.kind() != v1::INVOICE_KIND_INVOICE ||
      original.status() == v1::INVOICE_STATUS_DRAFT) {
    return absl::FailedPreconditionError(
        "invoice_id: only an issued invoice can be credited (not a draft or a credit note)");
  }
  RETURN_IF_ERROR(ValidateText("text", text, kMaxTextLength));
  std::set<int32_t> wanted(line_numbers.begin(), line_numbers.end());
  if (wanted.size() != line_numbers.size()) return InvalidField("line_numbers", "listed twice");
  for (int32_t number : wanted) {
    if (number < 1 || number > original.lines_size()) {
      return InvalidField("line_numbers", absl::StrCat("the invoice has no line ", number));
    }
  }
  v1::Invoice note;
  note.set_invoice_id(credit_note_id);
  note.set_kind(v1::INVOICE_KIND_CREDIT_NOTE);
  note.set_status(v1::INVOICE_STATUS_DRAFT);
  note.set_customer_number(original.customer_number());
  note.set_customer_name(original.customer_name());
  note.set_series(original.series());
  note.set_delivery_date(original.delivery_date());
  note.set_credits_invoice_id(original.invoice_id());
  note.set_credits_display_number(original.display_number());
  note.set_text(text.empty() ? absl::StrCat("Hyvitys laskusta ", original.display_number()) : text);
  note.set_payment_terms_days(0);
  *note.mutable_buyer() = original.buyer();
  std::vector<InvoiceLine> lines;
  for (const v1::InvoiceLine& in : original.lines()) {
    if (!wanted.empty() && wanted.count(in.line_number()) == 0) continue;
    v1::InvoiceLine* out = note.add_lines();
    *out = in;
    out->set_line_number(note.lines_size());
    out->set_quantity_milli(-in.quantity_milli());
    ASSIGN_OR_RETURN(VatCategory vat, VatCategoryOf("lines", in.vat_category()));
    ASSIGN_OR_RETURN(absl::CivilDay day, ParseDate("lines.delivery_date", in.delivery_date()));
    lines.push_back(
        {.description = in.description(),
         .quantity_thousandths = -in.quantity_milli(),
         .unit_price_cents = in.unit_price_cents(),
         .discount_hundredths = static_cast<int32_t>(in.discount_ppm() / kPpmPerHundredth),
         .vat_category = vat,
         .delivery_date = day});
  }
  ASSIGN_OR_RETURN(absl::CivilDay delivery_date,
                   ParseDate("delivery_date", original.delivery_date()));
  RETURN_IF_ERROR(PriceLines("credit_note", lines, delivery_date, &note));
  InvoiceTotals totals;
  totals.gross_cents = note.gross_cents();
  RETURN_IF_ERROR(ValidateCreditNoteTotals(totals));
  return note;
}

// --- Issue -----------------------------------------------------------------------------------

absl::Status ApplyIssue(const v1::InvoicingSettings& settings, int64_t number,
                        absl::CivilDay invoice_date, v1::Invoice* invoice) {
  ASSIGN_OR_RETURN(std::string prefix, ReferencePrefixOf(settings, invoice->series()));
  // Numbers below 100 are zero-padded to three digits after the prefix, so that the reference
  // base has the three digits a reference needs: prefix 1, invoice 7 -> base 1007; invoice 1007
  // -> base 11007, still distinct.
  const std::string padding(number < 10 ? 2 : number < 100 ? 1 : 0, '0');
  ASSIGN_OR_RETURN(InvoiceReferences refs, InvoiceReference(absl::StrCat(prefix, padding), number));
  const bool credit_note = invoice->kind() == v1::INVOICE_KIND_CREDIT_NOTE;
  ASSIGN_OR_RETURN(absl::CivilDay due,
                   DueDate(invoice_date, credit_note ? 0 : invoice->payment_terms_days()));
  invoice->set_invoice_number(number);
  invoice->set_display_number(FormatInvoiceNumber(invoice->series(), number));
  invoice->set_invoice_date(FormatDate(invoice_date));
  invoice->set_due_date(FormatDate(due));
  invoice->set_reference(refs.national);
  invoice->set_rf_reference(refs.rf);
  invoice->set_status(credit_note ? v1::INVOICE_STATUS_CREDITED : v1::INVOICE_STATUS_ISSUED);
  invoice->set_open_cents(credit_note ? 0 : invoice->gross_cents());
  invoice->clear_virtual_barcode();
  if (!credit_note && invoice->gross_cents() > 0 &&
      invoice->gross_cents() <= fi::kMaxBarcodeAmountCents) {
    ASSIGN_OR_RETURN(
        std::string barcode,
        fi::MakeVirtualBarcode(settings.iban(), invoice->gross_cents(),
                               settings.use_rf_reference() ? refs.rf : refs.national, due));
    invoice->set_virtual_barcode(barcode);
  }
  return absl::OkStatus();
}

// --- Ledger postings ---------------------------------------------------------------------------

namespace {

ledger::v1::EntryDraft NewDraft(const PostingHeader& header) {
  ledger::v1::EntryDraft draft;
  draft.set_entry_date(header.entry_date);
  draft.set_description(header.description);
  draft.mutable_source()->set_system("invoicing");
  draft.mutable_source()->set_reference(header.reference);
  return draft;
}

void AddLine(ledger::v1::EntryDraft& draft, const std::string& account, int64_t amount,
             const std::string& cost_centre, const std::string& text) {
  if (amount == 0) return;
  ledger::v1::EntryLine* line = draft.add_lines();
  line->set_account(account);
  line->mutable_amount()->set_amount_minor(amount);
  line->mutable_amount()->set_currency_code("EUR");
  if (!cost_centre.empty()) (*line->mutable_dimensions())[kCostCentreDimension] = cost_centre;
  line->set_text(text);
}

absl::StatusOr<ledger::v1::EntryDraft> NonEmpty(ledger::v1::EntryDraft draft) {
  if (draft.lines_size() < 2) {
    return absl::InvalidArgumentError("posting: every amount is zero; nothing to post");
  }
  return draft;
}

}  // namespace

void SalesTotals::Add(const v1::Invoice& invoice) {
  ++invoices;
  gross_cents += invoice.gross_cents();
  vat_cents += invoice.vat_cents();
  for (const v1::InvoiceLine& line : invoice.lines()) {
    net_cents[{line.sales_account(), line.cost_centre()}] += line.net_cents();
  }
}

absl::StatusOr<ledger::v1::EntryDraft> BuildSalesPosting(const v1::PostingAccounts& accounts,
                                                         const SalesTotals& totals,
                                                         const PostingHeader& header) {
  ledger::v1::EntryDraft draft = NewDraft(header);
  AddLine(draft, accounts.receivables(), totals.gross_cents, "", "Myyntisaamiset");
  for (const auto& [key, net] : totals.net_cents) {
    AddLine(draft, key.first, -net, key.second, "Myyntituotot");
  }
  AddLine(draft, accounts.vat_payable(), -totals.vat_cents, "", "Arvonlisävero");
  // The groups' nets are sums of the same line nets, so receivables = Σ net + Σ VAT exactly.
  return NonEmpty(std::move(draft));
}

absl::StatusOr<ledger::v1::EntryDraft> BuildPaymentPosting(const v1::PostingAccounts& accounts,
                                                           int64_t received_cents,
                                                           int64_t allocated_cents,
                                                           const PostingHeader& header) {
  if (allocated_cents < 0 || allocated_cents > received_cents) {
    return absl::InternalError("payment posting: allocated more than received");
  }
  ledger::v1::EntryDraft draft = NewDraft(header);
  AddLine(draft, accounts.bank(), received_cents, "", "Pankkitili");
  AddLine(draft, accounts.receivables(), -allocated_cents, "", "Myyntisaamiset");
  AddLine(draft, accounts.overpayments(), allocated_cents - received_cents, "",
          "Kohdistamattomat suoritukset");
  return NonEmpty(std::move(draft));
}

absl::StatusOr<ledger::v1::EntryDraft> BuildAllocationPosting(const v1::PostingAccounts& accounts,
                                                              int64_t amount_cents,
                                                              const PostingHeader& header) {
  ledger::v1::EntryDraft draft = NewDraft(header);
  AddLine(draft, accounts.overpayments(), amount_cents, "", "Kohdistamattomat suoritukset");
  AddLine(draft, accounts.receivables(), -amount_cents, "", "Myyntisaamiset");
  return NonEmpty(std::move(draft));
}

absl::StatusOr<ledger::v1::EntryDraft> BuildReminderPosting(const v1::PostingAccounts& accounts,
                                                            int64_t fees_cents,
                                                            int64_t interest_cents,
                                                            const PostingHeader& header) {
  ledger::v1::EntryDraft draft = NewDraft(header);
  AddLine(draft, accounts.receivables(), fees_cents + interest_cents, "", "Myyntisaamiset");
  AddLine(draft, accounts.reminder_fees(), -fees_cents, "", "Muistutusmaksut");
  AddLine(draft, accounts.penalty_interest(), -interest_cents, "", "Viivästyskorot");
  return NonEmpty(std::move(draft));
}

// --- Renderings
// ------------------------------------------------------------------------------------

namespace {

FinvoicePostalAddress AddressOf(const v1::PostalAddress& a) {
  return {.street = a.street(),
          .postal_code = a.postal_code(),
          .town = a.city(),
          .country_code = a.country().empty() ? "FI" : a.country()};
}

std::string VatNumberOrEmpty(const std::string& business_id) {
  if (business_id.empty()) return "";
  absl::StatusOr<std::string> vat = fi::VatNumberOf(business_id);
  return vat.ok() ? *vat : "";
}

}  // namespace

absl::StatusOr<FinvoiceInvoice> ToFinvoice(const v1::Invoice& invoice,
                                           const v1::InvoicingSettings& settings, absl::Time now) {
  if (invoice.invoice_number() == 0) {
    return absl::FailedPreconditionError("invoice_id: a draft is rendered once issued");
  }
  FinvoiceInvoice out;
  out.message_identifier = invoice.display_number().size() >= 2
                               ? invoice.display_number()
                               : absl::StrCat("M-", invoice.display_number());
  out.message_time = now;
  out.seller = {.name = settings.seller_name(),
                .business_id = settings.business_id(),
                .vat_number = VatNumberOrEmpty(settings.business_id()),
                .address = AddressOf(settings.address()),
                .iban = settings.iban(),
                .bic = settings.bic(),
                .e_invoice = {.address = settings.einvoice_address(),
                              .intermediator = settings.einvoice_operator()}};
  const v1::Customer& b = invoice.buyer();
  out.buyer.kind = b.kind() == v1::CUSTOMER_KIND_ORGANISATION ? FinvoiceBuyerKind::kOrganisation
                                                              : FinvoiceBuyerKind::kPerson;
  out.buyer.name = b.name().empty() ? invoice.customer_name() : b.name();
  out.buyer.business_id = b.business_id();
  out.buyer.vat_number = VatNumberOrEmpty(b.business_id());
  out.buyer.address = AddressOf(b.address());
  if (b.delivery_channel() == v1::DELIVERY_CHANNEL_EINVOICE) {
    out.buyer.e_invoice = {.address = b.einvoice_address(), .intermediator = b.einvoice_operator()};
  }
  out.buyer.language = b.language() == "sv"   ? FinvoiceLanguage::kSwedish
                       : b.language() == "en" ? FinvoiceLanguage::kEnglish
                                              : FinvoiceLanguage::kFinnish;
  const bool credit_note = invoice.kind() == v1::INVOICE_KIND_CREDIT_NOTE;
  out.type = credit_note ? FinvoiceType::kCreditNote : FinvoiceType::kInvoice;
  out.invoice_number = invoice.display_number();
  out.original_invoice_number = invoice.credits_display_number();
  ASSIGN_OR_RETURN(out.invoice_date, ParseDate("invoice_date", invoice.invoice_date()));
  ASSIGN_OR_RETURN(absl::CivilDay delivery, ParseDate("delivery_date", invoice.delivery_date()));
  out.delivery_date = delivery;
  ASSIGN_OR_RETURN(out.due_date, ParseDate("due_date", invoice.due_date()));
  out.payment_terms_days = invoice.payment_terms_days();
  out.reference = settings.use_rf_reference() ? invoice.rf_reference() : invoice.reference();
  out.virtual_barcode = invoice.virtual_barcode();
  for (const v1::InvoiceLine& line : invoice.lines()) {
    ASSIGN_OR_RETURN(VatCategory category,
                     VatCategoryOf("lines.vat_category", line.vat_category()));
    const int64_t rate = line.vat_rate_ppm() / kPpmPerHundredth;
    const int64_t vat =
        money::RoundHalfAwayFromZero(static_cast<__int128>(line.net_cents()) * rate, 10'000);
    FinvoiceRow row{.description = line.description(),
                    .quantity_milli = line.quantity_milli(),
                    .unit_code = line.unit(),
                    .unit_price_cents = line.unit_price_cents(),
                    .vat_rate_centi_percent = rate,
                    .vat_category = std::string(VatCategoryCode(category)),
                    .net_cents = line.net_cents(),
                    .vat_cents = vat,
                    .gross_cents = line.net_cents() + vat};
    if (line.delivery_date() != invoice.delivery_date()) {
      ASSIGN_OR_RETURN(row.delivery_date, ParseDate("lines.delivery_date", line.delivery_date()));
    }
    out.rows.push_back(std::move(row));
  }
  for (const v1::VatGroup& group : invoice.vat_groups()) {
    ASSIGN_OR_RETURN(VatCategory category, VatCategoryOf("vat_groups", group.vat_category()));
    FinvoiceVatGroup g{.vat_rate_centi_percent = group.vat_rate_ppm() / kPpmPerHundredth,
                       .vat_category = std::string(VatCategoryCode(category)),
                       .net_cents = group.net_cents(),
                       .vat_cents = group.vat_cents()};
    if (category == VatCategory::kReverseCharge) {
      g.free_text = std::string(VatNoteFi(category));
      g.exemption_reason_code = "VATEX-EU-AE";
    } else if (category == VatCategory::kExempt) {
      g.free_text = "Arvonlisäveroton myynti";
    }
    out.vat_groups.push_back(std::move(g));
  }
  out.totals = {.net_cents = invoice.net_cents(),
                .vat_cents = invoice.vat_cents(),
                .gross_cents = invoice.gross_cents()};
  out.free_text = invoice.text();
  return out;
}

}  // namespace tahe::invoicing
