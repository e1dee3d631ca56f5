#include "services/invoicing/finvoice.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "libs/fi/barcode.h"
#include "libs/fi/business_id.h"
#include "libs/fi/iban.h"
#include "libs/fi/reference.h"
#include "libs/money/money.h"
#include "libs/status/status.h"

namespace tahe::invoicing {
namespace {

// The schema's amount pattern -?[0-9]{1,15}(,[0-9]{2,5})? holds at most 15 integer digits.
constexpr int64_t kMaxAmountCents = 99'999'999'999'999'99;
// VAT rates 0..100 %.
constexpr int64_t kMaxVatRateCentiPercent = 100'00;

// Decodes the UTF-8 character at the front of `text` and removes it; nullopt for a malformed,
// overlong or surrogate sequence.
std::optional<char32_t> PopUtf8(absl::string_view& text) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(0);
  size_t length;
  char32_t c;
  char32_t min;
  if (lead < 0x80) {
    text.remove_prefix(1);
    return lead;
  } else if ((lead & 0xE0) == 0xC0) {
    length = 2, c = lead & 0x1F, min = 0x80;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3, c = lead & 0x0F, min = 0x800;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4, c = lead & 0x07, min = 0x10000;
  } else {
    return std::nullopt;
  }
  if (text.size() < length) {
    return std::nullopt;
  }
  for (size_t i = 1; i < length; ++i) {
    if ((byte(i) & 0xC0) != 0x80) {
      return std::nullopt;
    }
    c = (c << 6) | (byte(i) & 0x3F);
  }
  if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) {
    return std::nullopt;
  }
  text.remove_prefix(length);
  return c;
}

bool IsControlOrNonCharacter(char32_t c) {
  return c < 0x20 || (c >= 0x7F && c <= 0x9F) || c == 0xFFFE || c == 0xFFFF;
}

absl::Status CheckDay(absl::string_view field, absl::CivilDay day) {
  if (day.year() < 1000 || day.year() > 9999) {
    return InvalidField(field, "year must have four digits");
  }
  return absl::OkStatus();
}

absl::Status CheckAmount(absl::string_view field, int64_t cents) {
  if (cents > kMaxAmountCents || cents < -kMaxAmountCents) {
    return InvalidField(
        field, absl::StrCat("beyond the 15 integer digits Finvoice allows: ", cents, " cents"));
  }
  return absl::OkStatus();
}

// Optional text: empty is fine, otherwise ValidateXmlText with a minimum of one character.
absl::Status CheckOptionalText(absl::string_view field, absl::string_view text, int max_chars) {
  if (text.empty()) {
    return absl::OkStatus();
  }
  return ValidateXmlText(field, text, 1, max_chars);
}

// The schema's BIC pattern for Finvoice is only 8..11 name characters; SEPA's is stricter:
// [A-Z]{6}[A-Z2-9][A-NP-Z0-9]([A-Z0-9]{3})?.
absl::Status CheckBic(absl::string_view field, absl::string_view bic) {
  bool valid = bic.size() == 8 || bic.size() == 11;
  for (size_t i = 0; valid && i < bic.size(); ++i) {
    const char c = bic[i];
    if (i < 6) {
      valid = absl::ascii_isupper(c);
    } else if (i == 6) {
      valid = absl::ascii_isupper(c) || (c >= '2' && c <= '9');
    } else if (i == 7) {
      valid = (absl::ascii_isupper(c) && c != 'O') || absl::ascii_isdigit(c);
    } else {
      valid = absl::ascii_isupper(c) || absl::ascii_isdigit(c);
    }
  }
  if (!valid) {
    return InvalidField(field, "not a BIC (8 or 11 upper-case letters or digits)");
  }
  return absl::OkStatus();
}

bool IsKnownVatCategory(absl::string_view category) {
  for (absl::string_view known : {"S", "Z", "E", "AE", "K", "G", "O", "L", "M"}) {
    if (category == known) {
      return true;
    }
  }
  return false;
}

// Categories without VAT: the rate and the VAT amount must be zero (EN 16931 BR-Z/E/AE/K/G/O).
bool IsZeroRatedCategory(absl::string_view category) {
  return category == "Z" || category == "E" || category == "AE" || category == "K" ||
         category == "G" || category == "O";
}

absl::Status CheckVatCategoryAndRate(absl::string_view field, absl::string_view category,
                                     int64_t rate) {
  const std::string category_field = absl::StrCat(field, ".vat_category");
  const std::string rate_field = absl::StrCat(field, ".vat_rate_centi_percent");
  if (!IsKnownVatCategory(category)) {
    return InvalidField(category_field,
                        "must be an EN 16931 VAT category: S, Z, E, AE, K, G, O, L or M");
  }
  if (rate < 0 || rate > kMaxVatRateCentiPercent) {
    return InvalidField(rate_field, absl::StrCat("must be 0..10000 (0..100 %), got ", rate));
  }
  if (IsZeroRatedCategory(category) && rate != 0) {
    return InvalidField(rate_field, absl::StrCat("must be 0 for VAT category ", category));
  }
  if (category == "S" && rate == 0) {
    return InvalidField(rate_field, "must be above 0 for VAT category S (use Z for zero rate)");
  }
  return absl::OkStatus();
}

absl::Status CheckAddress(absl::string_view field, const FinvoicePostalAddress& address) {
  RETURN_IF_ERROR(ValidateXmlText(absl::StrCat(field, ".street"), address.street, 2, 35));
  RETURN_IF_ERROR(ValidateXmlText(absl::StrCat(field, ".postal_code"), address.postal_code, 2, 35));
  RETURN_IF_ERROR(ValidateXmlText(absl::StrCat(field, ".town"), address.town, 2, 35));
  const absl::string_view country = address.country_code;
  if (country.size() != 2 || !absl::ascii_isupper(country[0]) || !absl::ascii_isupper(country[1])) {
    return InvalidField(absl::StrCat(field, ".country_code"),
                        "must be two upper-case letters (ISO 3166-1 alpha-2)");
  }
  return absl::OkStatus();
}

absl::Status CheckEInvoiceAddress(absl::string_view field, const FinvoiceEInvoiceAddress& e) {
  if (e.address.empty() && e.intermediator.empty()) {
    return absl::OkStatus();
  }
  RETURN_IF_ERROR(ValidateXmlText(absl::StrCat(field, ".address"), e.address, 2, 35));
  return ValidateXmlText(absl::StrCat(field, ".intermediator"), e.intermediator, 2, 35);
}

bool HasEInvoiceAddress(const FinvoiceEInvoiceAddress& e) { return !e.address.empty(); }

// A foreign EU VAT number: two letters and 2..33 letters or digits.
absl::Status CheckVatNumber(absl::string_view field, absl::string_view vat_number) {
  if (vat_number.size() >= 2 && vat_number.substr(0, 2) == "FI") {
    return fi::BusinessIdOfVatNumber(vat_number).status().ok()
               ? absl::OkStatus()
               : InvalidField(field, "not a Finnish VAT number (FI + a business ID's 8 digits)");
  }
  bool valid = vat_number.size() >= 4 && vat_number.size() <= 35 &&
               absl::ascii_isupper(vat_number[0]) && absl::ascii_isupper(vat_number[1]);
  for (size_t i = 2; valid && i < vat_number.size(); ++i) {
    valid = absl::ascii_isupper(vat_number[i]) || absl::ascii_isdigit(vat_number[i]);
  }
  if (!valid) {
    return InvalidField(field, "not a VAT number (country code + 2..33 letters or digits)");
  }
  return absl::OkStatus();
}

absl::Status CheckSeller(const FinvoiceSeller& seller) {
  RETURN_IF_ERROR(ValidateXmlText("seller.name", seller.name, 2, 70));
  RETURN_IF_ERROR(fi::ValidateBusinessId("seller.business_id", seller.business_id));
  if (!seller.vat_number.empty()) {
    ASSIGN_OR_RETURN(const std::string expected, fi::VatNumberOf(seller.business_id));
    if (seller.vat_number != expected) {
      return InvalidField("seller.vat_number",
                          absl::StrCat("must be ", expected, ", the VAT number of business ID ",
                                       seller.business_id));
    }
  }
  RETURN_IF_ERROR(CheckAddress("seller.address", seller.address));
  RETURN_IF_ERROR(fi::ValidateIban("seller.iban", seller.iban));
  RETURN_IF_ERROR(CheckBic("seller.bic", seller.bic));
  return CheckEInvoiceAddress("seller.e_invoice", seller.e_invoice);
}

absl::Status CheckBuyer(const FinvoiceBuyer& buyer) {
  RETURN_IF_ERROR(ValidateXmlText("buyer.name", buyer.name, 2, 70));
  if (buyer.kind == FinvoiceBuyerKind::kPerson) {
    // A person has no business ID, and a personal identity code must never go into the file.
    if (!buyer.business_id.empty()) {
      return InvalidField("buyer.business_id",
                          "must be empty for a person (no identity code goes into the file)");
    }
    if (!buyer.vat_number.empty()) {
      return InvalidField("buyer.vat_number", "must be empty for a person");
    }
  } else {
    if (!buyer.business_id.empty()) {
      RETURN_IF_ERROR(fi::ValidateBusinessId("buyer.business_id", buyer.business_id));
    }
    if (!buyer.vat_number.empty()) {
      RETURN_IF_ERROR(CheckVatNumber("buyer.vat_number", buyer.vat_number));
    }
  }
  RETURN_IF_ERROR(CheckAddress("buyer.address", buyer.address));
  return CheckEInvoiceAddress("buyer.e_invoice", buyer.e_invoice);
}

absl::Status CheckRow(absl::string_view field, const FinvoiceRow& row) {
  RETURN_IF_ERROR(ValidateXmlText(absl::StrCat(field, ".description"), row.description, 1, 100));
  RETURN_IF_ERROR(ValidateXmlText(absl::StrCat(field, ".unit_code"), row.unit_code, 1, 14));
  if (FormatFinvoiceQuantity(row.quantity_milli).size() > 14) {
    return InvalidField(absl::StrCat(field, ".quantity_milli"),
                        "too long for Finvoice's 14-character quantity");
  }
  RETURN_IF_ERROR(CheckAmount(absl::StrCat(field, ".unit_price_cents"), row.unit_price_cents));
  if (row.delivery_date.has_value()) {
    RETURN_IF_ERROR(CheckDay(absl::StrCat(field, ".delivery_date"), *row.delivery_date));
  }
  RETURN_IF_ERROR(CheckVatCategoryAndRate(field, row.vat_category, row.vat_rate_centi_percent));
  RETURN_IF_ERROR(CheckAmount(absl::StrCat(field, ".net_cents"), row.net_cents));
  RETURN_IF_ERROR(CheckAmount(absl::StrCat(field, ".vat_cents"), row.vat_cents));
  RETURN_IF_ERROR(CheckAmount(absl::StrCat(field, ".gross_cents"), row.gross_cents));
  if (IsZeroRatedCategory(row.vat_category) && row.vat_cents != 0) {
    return InvalidField(absl::StrCat(field, ".vat_cents"),
                        absl::StrCat("must be 0 for VAT category ", row.vat_category));
  }
  if (row.net_cents + row.vat_cents != row.gross_cents) {
    return InvalidField(absl::StrCat(field, ".gross_cents"),
                        absl::StrCat(row.gross_cents, " is not net + VAT (", row.net_cents, " + ",
                                     row.vat_cents, ")"));
  }
  return absl::OkStatus();
}

using GroupKey = std::pair<int64_t, std::string>;

// The groups, the rows' sums per group and the totals must agree.
absl::Status CheckFigures(const FinvoiceInvoice& invoice) {
  std::map<GroupKey, size_t> group_of;
  int64_t net = 0;
  int64_t vat = 0;
  for (size_t i = 0; i < invoice.vat_groups.size(); ++i) {
    const FinvoiceVatGroup& group = invoice.vat_groups[i];
    const std::string field = absl::StrCat("vat_groups[", i, "]");
    RETURN_IF_ERROR(
        CheckVatCategoryAndRate(field, group.vat_category, group.vat_rate_centi_percent));
    RETURN_IF_ERROR(CheckAmount(absl::StrCat(field, ".net_cents"), group.net_cents));
    RETURN_IF_ERROR(CheckAmount(absl::StrCat(field, ".vat_cents"), group.vat_cents));
    if (IsZeroRatedCategory(group.vat_category) && group.vat_cents != 0) {
      return InvalidField(absl::StrCat(field, ".vat_cents"),
                          absl::StrCat("must be 0 for VAT category ", group.vat_category));
    }
    RETURN_IF_ERROR(CheckOptionalText(absl::StrCat(field, ".free_text"), group.free_text, 70));
    for (char c : group.exemption_reason_code) {
      if (!absl::ascii_isalnum(c) && c != '-') {
        return InvalidField(absl::StrCat(field, ".exemption_reason_code"),
                            "only letters, digits and '-'");
      }
    }
    if (group.exemption_reason_code.size() > 20) {
      return InvalidField(absl::StrCat(field, ".exemption_reason_code"), "at most 20 characters");
    }
    if (!group_of.emplace(GroupKey(group.vat_rate_centi_percent, group.vat_category), i).second) {
      return InvalidField(field, "the same rate and category as an earlier group");
    }
    if ((group.vat_category == "AE" || group.vat_category == "K") &&
        (invoice.seller.vat_number.empty() || invoice.buyer.vat_number.empty())) {
      return InvalidField(absl::StrCat(field, ".vat_category"),
                          absl::StrCat("category ", group.vat_category,
                                       " needs the seller's and the buyer's VAT numbers"));
    }
    net += group.net_cents;
    vat += group.vat_cents;
  }
  std::vector<int64_t> rows_net(invoice.vat_groups.size(), 0);
  for (size_t i = 0; i < invoice.rows.size(); ++i) {
    const FinvoiceRow& row = invoice.rows[i];
    const auto it = group_of.find(GroupKey(row.vat_rate_centi_percent, row.vat_category));
    if (it == group_of.end()) {
      return InvalidField(absl::StrCat("rows[", i, "]"),
                          absl::StrCat("no VAT group for rate ", row.vat_rate_centi_percent,
                                       " and category ", row.vat_category));
    }
    rows_net[it->second] += row.net_cents;
  }
  for (size_t i = 0; i < invoice.vat_groups.size(); ++i) {
    if (rows_net[i] != invoice.vat_groups[i].net_cents) {
      return InvalidField(absl::StrCat("vat_groups[", i, "].net_cents"),
                          absl::StrCat(invoice.vat_groups[i].net_cents,
                                       " is not the sum of the group's rows (", rows_net[i], ")"));
    }
  }
  const FinvoiceTotals& totals = invoice.totals;
  RETURN_IF_ERROR(CheckAmount("totals.net_cents", totals.net_cents));
  RETURN_IF_ERROR(CheckAmount("totals.vat_cents", totals.vat_cents));
  RETURN_IF_ERROR(CheckAmount("totals.gross_cents", totals.gross_cents));
  if (totals.net_cents != net) {
    return InvalidField(
        "totals.net_cents",
        absl::StrCat(totals.net_cents, " is not the sum of the VAT groups (", net, ")"));
  }
  if (totals.vat_cents != vat) {
    return InvalidField(
        "totals.vat_cents",
        absl::StrCat(totals.vat_cents, " is not the sum of the VAT groups (", vat, ")"));
  }
  if (totals.gross_cents != net + vat) {
    return InvalidField("totals.gross_cents",
                        absl::StrCat(totals.gross_cents, " is not net + VAT (", net + vat, ")"));
  }
  if (invoice.type == FinvoiceType::kInvoice && totals.gross_cents < 0) {
    return InvalidField("totals.gross_cents", "negative on an invoice (write a credit note)");
  }
  return absl::OkStatus();
}

// The reference as written (no spaces) and whether it is an RF reference; empty for none.
struct Reference {
  std::string text;
  bool rf = false;
};

absl::StatusOr<Reference> ParseReference(absl::string_view text) {
  Reference reference;
  const std::string compact = absl::StrReplaceAll(text, {{" ", ""}});
  if (compact.empty()) {
    return reference;
  }
  if (compact.size() >= 2 && absl::AsciiStrToUpper(compact.substr(0, 2)) == "RF") {
    ASSIGN_OR_RETURN(reference.text, fi::ParseRfReference("reference", compact));
    reference.rf = true;
  } else {
    ASSIGN_OR_RETURN(reference.text, fi::ParseNationalReference("reference", compact));
  }
  return reference;
}

// The penalty interest with a decimal comma, matching [1-9]?[0-9]{1,2}(,[0-9]{1,4})?.
absl::StatusOr<std::string> NormalisePercent(absl::string_view field, absl::string_view text) {
  std::string out = absl::StrReplaceAll(text, {{".", ","}});
  const size_t comma = out.find(',');
  const absl::string_view whole = absl::string_view(out).substr(0, comma);
  const absl::string_view fraction =
      comma == std::string::npos ? absl::string_view() : absl::string_view(out).substr(comma + 1);
  bool valid = !whole.empty() && whole.size() <= 3 && (whole.size() < 3 || whole[0] != '0') &&
               (comma == std::string::npos || (!fraction.empty() && fraction.size() <= 4));
  for (char c : whole) {
    valid = valid && absl::ascii_isdigit(c);
  }
  for (char c : fraction) {
    valid = valid && absl::ascii_isdigit(c);
  }
  if (!valid) {
    return InvalidField(field, "must be a percentage such as \"11,5\" (0..999, up to 4 decimals)");
  }
  return out;
}

absl::Status CheckBarcode(const FinvoiceInvoice& invoice, const Reference& reference) {
  const absl::string_view barcode = invoice.virtual_barcode;
  if (barcode.empty()) {
    return absl::OkStatus();
  }
  if (barcode.size() != 54 || !std::all_of(barcode.begin(), barcode.end(), absl::ascii_isdigit)) {
    return InvalidField("virtual_barcode", "must be 54 digits");
  }
  if (reference.text.empty()) {
    return InvalidField("virtual_barcode", "needs a reference");
  }
  const int64_t gross = invoice.totals.gross_cents;
  for (int64_t amount : {gross, int64_t{0}}) {
    const absl::StatusOr<std::string> expected =
        fi::MakeVirtualBarcode(invoice.seller.iban, amount, reference.text, invoice.due_date);
    if (expected.ok() && *expected == barcode) {
      return absl::OkStatus();
    }
  }
  return InvalidField("virtual_barcode",
                      "does not encode the seller's IBAN, the gross total (or 0), the reference "
                      "and the due date");
}

const char* LanguageCode(FinvoiceLanguage language) {
  switch (language) {
    case FinvoiceLanguage::kSwedish:
      return "SV";
    case FinvoiceLanguage::kEnglish:
      return "EN";
    case FinvoiceLanguage::kFinnish:
      break;
  }
  return "FI";
}

std::string InvoiceTypeText(FinvoiceType type, FinvoiceLanguage language) {
  const bool credit = type == FinvoiceType::kCreditNote;
  switch (language) {
    case FinvoiceLanguage::kSwedish:
      return credit ? "KREDITFAKTURA" : "FAKTURA";
    case FinvoiceLanguage::kEnglish:
      return credit ? "CREDIT NOTE" : "INVOICE";
    case FinvoiceLanguage::kFinnish:
      break;
  }
  return credit ? "HYVITYSLASKU" : "LASKU";
}

std::string PaymentTermsText(int days, FinvoiceLanguage language) {
  switch (language) {
    case FinvoiceLanguage::kSwedish:
      return days == 0 ? "Omedelbart" : absl::StrCat(days, " dagar netto");
    case FinvoiceLanguage::kEnglish:
      return days == 0 ? "Immediately" : absl::StrCat(days, " days net");
    case FinvoiceLanguage::kFinnish:
      break;
  }
  return days == 0 ? "Heti" : absl::StrCat(days, " p\u00e4iv\u00e4\u00e4 netto");
}

// Up to `max_chars` characters of valid UTF-8 `text`, cut at a character boundary.
std::string TruncateUtf8(absl::string_view text, int max_chars) {
  absl::string_view rest = text;
  for (int i = 0; i < max_chars && !rest.empty(); ++i) {
    if (!PopUtf8(rest).has_value()) {
      break;
    }
  }
  return std::string(text.substr(0, text.size() - rest.size()));
}

// The invoice number as EpiReference, whose type admits only XML name characters; empty if the
// number has others.
std::string EpiReferenceOf(absl::string_view invoice_number) {
  for (char c : invoice_number) {
    if (!absl::ascii_isalnum(c) && c != '-' && c != '.' && c != '_' && c != ':') {
      return "";
    }
  }
  return std::string(invoice_number);
}

// Indented elements, one a line; text and attribute values are escaped.
class XmlWriter {
 public:
  explicit XmlWriter(size_t expected_size) { out_.reserve(expected_size); }

  // `attributes` is written verbatim: ` name="value"`; build it with Attribute().
  void Open(absl::string_view tag, absl::string_view attributes = "") {
    Indent();
    absl::StrAppend(&out_, "<", tag, attributes, ">\n");
    ++depth_;
  }
  void Close(absl::string_view tag) {
    --depth_;
    Indent();
    absl::StrAppend(&out_, "</", tag, ">\n");
  }
  void Leaf(absl::string_view tag, absl::string_view text, absl::string_view attributes = "") {
    Indent();
    absl::StrAppend(&out_, "<", tag, attributes, ">");
    AppendXmlEscaped(out_, text);
    absl::StrAppend(&out_, "</", tag, ">\n");
  }
  void Amount(absl::string_view tag, int64_t cents, absl::string_view currency) {
    Leaf(tag, FormatFinvoiceAmount(cents), Attribute("AmountCurrencyIdentifier", currency));
  }
  void Date(absl::string_view tag, absl::CivilDay day) {
    Leaf(tag, FormatFinvoiceDate(day), R"( Format="CCYYMMDD")");
  }
  void Raw(absl::string_view line) {
    Indent();
    absl::StrAppend(&out_, line, "\n");
  }

  static std::string Attribute(absl::string_view name, absl::string_view value) {
    std::string out = absl::StrCat(" ", name, "=\"");
    AppendXmlEscaped(out, value);
    out.push_back('"');
    return out;
  }

  std::string Release() && { return std::move(out_); }

 private:
  void Indent() { out_.append(2 * depth_, ' '); }

  std::string out_;
  int depth_ = 0;
};

void WritePostalAddress(XmlWriter& xml, absl::string_view prefix,
                        const FinvoicePostalAddress& address) {
  xml.Open(absl::StrCat(prefix, "PostalAddressDetails"));
  xml.Leaf(absl::StrCat(prefix, "StreetName"), address.street);
  xml.Leaf(absl::StrCat(prefix, "TownName"), address.town);
  xml.Leaf(absl::StrCat(prefix, "PostCodeIdentifier"), address.postal_code);
  xml.Leaf("CountryCode", address.country_code);
  xml.Close(absl::StrCat(prefix, "PostalAddressDetails"));
}

void WriteMessageTransmission(XmlWriter& xml, const FinvoiceInvoice& invoice) {
  xml.Open("MessageTransmissionDetails");
  xml.Open("MessageSenderDetails");
  xml.Leaf("FromIdentifier", invoice.seller.e_invoice.address);
  xml.Leaf("FromIntermediator", invoice.seller.e_invoice.intermediator);
  xml.Close("MessageSenderDetails");
  xml.Open("MessageReceiverDetails");
  xml.Leaf("ToIdentifier", invoice.buyer.e_invoice.address);
  xml.Leaf("ToIntermediator", invoice.buyer.e_invoice.intermediator);
  xml.Close("MessageReceiverDetails");
  xml.Open("MessageDetails");
  xml.Leaf("MessageIdentifier", invoice.message_identifier);
  xml.Leaf("MessageTimeStamp",
           absl::FormatTime("%Y-%m-%dT%H:%M:%S%Ez", invoice.message_time, invoice.time_zone));
  xml.Close("MessageDetails");
  xml.Close("MessageTransmissionDetails");
}

void WriteSeller(XmlWriter& xml, const FinvoiceSeller& seller, absl::string_view iban) {
  xml.Open("SellerPartyDetails");
  xml.Leaf("SellerPartyIdentifier", seller.business_id);
  xml.Leaf("SellerOrganisationName", seller.name);
  if (!seller.vat_number.empty()) {
    xml.Leaf("SellerOrganisationTaxCode", seller.vat_number);
  }
  WritePostalAddress(xml, "Seller", seller.address);
  xml.Close("SellerPartyDetails");
  xml.Open("SellerInformationDetails");
  xml.Open("SellerAccountDetails");
  xml.Leaf("SellerAccountID", iban, R"( IdentificationSchemeName="IBAN")");
  xml.Leaf("SellerBic", seller.bic, R"( IdentificationSchemeName="BIC")");
  xml.Close("SellerAccountDetails");
  xml.Close("SellerInformationDetails");
}

void WriteBuyer(XmlWriter& xml, const FinvoiceBuyer& buyer) {
  xml.Leaf("InvoiceRecipientLanguageCode", LanguageCode(buyer.language));
  xml.Open("BuyerPartyDetails");
  if (!buyer.business_id.empty()) {
    xml.Leaf("BuyerPartyIdentifier", buyer.business_id);
  }
  xml.Leaf("BuyerOrganisationName", buyer.name);
  if (!buyer.vat_number.empty()) {
    xml.Leaf("BuyerOrganisationTaxCode", buyer.vat_number);
  }
  WritePostalAddress(xml, "Buyer", buyer.address);
  xml.Close("BuyerPartyDetails");
}

void WriteDelivery(XmlWriter& xml, const FinvoiceInvoice& invoice) {
  xml.Open("DeliveryDetails");
  if (invoice.delivery_date.has_value()) {
    xml.Date("DeliveryDate", *invoice.delivery_date);
  }
  if (invoice.delivery_period_start.has_value()) {
    xml.Open("DeliveryPeriodDetails");
    xml.Date("StartDate", *invoice.delivery_period_start);
    xml.Date("EndDate", *invoice.delivery_period_end);
    xml.Close("DeliveryPeriodDetails");
  }
  xml.Close("DeliveryDetails");
}

void WriteInvoiceDetails(XmlWriter& xml, const FinvoiceInvoice& invoice,
                         absl::string_view penalty_percent) {
  const bool credit = invoice.type == FinvoiceType::kCreditNote;
  const absl::string_view currency = invoice.currency;
  xml.Open("InvoiceDetails");
  xml.Leaf("InvoiceTypeCode", credit ? "INV02" : "INV01", R"( CodeListAgencyIdentifier="SPY")");
  xml.Leaf("InvoiceTypeCodeUN", credit ? "381" : "380");
  xml.Leaf("InvoiceTypeText", InvoiceTypeText(invoice.type, invoice.buyer.language));
  xml.Leaf("OriginCode", "Original");
  xml.Leaf("InvoiceNumber", invoice.invoice_number);
  xml.Date("InvoiceDate", invoice.invoice_date);
  if (credit) {
    xml.Leaf("OriginalInvoiceNumber", invoice.original_invoice_number);
  }
  if (!invoice.buyer_reference.empty()) {
    xml.Leaf("BuyerReferenceIdentifier", invoice.buyer_reference);
  }
  xml.Amount("InvoiceTotalVatExcludedAmount", invoice.totals.net_cents, currency);
  xml.Amount("InvoiceTotalVatAmount", invoice.totals.vat_cents, currency);
  xml.Amount("InvoiceTotalVatIncludedAmount", invoice.totals.gross_cents, currency);
  for (const FinvoiceVatGroup& group : invoice.vat_groups) {
    xml.Open("VatSpecificationDetails");
    xml.Amount("VatBaseAmount", group.net_cents, currency);
    xml.Leaf("VatRatePercent", FormatFinvoicePercent(group.vat_rate_centi_percent));
    xml.Leaf("VatCode", group.vat_category);
    xml.Amount("VatRateAmount", group.vat_cents, currency);
    if (!group.free_text.empty()) {
      xml.Leaf("VatFreeText", group.free_text);
    }
    if (!group.exemption_reason_code.empty()) {
      xml.Leaf("VatExemptionReasonCode", group.exemption_reason_code);
    }
    xml.Close("VatSpecificationDetails");
  }
  if (!invoice.free_text.empty()) {
    xml.Leaf("InvoiceFreeText", invoice.free_text);
  }
  xml.Open("PaymentTermsDetails");
  xml.Leaf("PaymentTermsFreeText",
           PaymentTermsText(invoice.payment_terms_days, invoice.buyer.language));
  xml.Date("InvoiceDueDate", invoice.due_date);
  if (!penalty_percent.empty()) {
    xml.Open("PaymentOverDueFineDetails");
    xml.Leaf("PaymentOverDueFinePercent", penalty_percent);
    xml.Close("PaymentOverDueFineDetails");
  }
  xml.Close("PaymentTermsDetails");
  xml.Close("InvoiceDetails");
}

void WriteRow(XmlWriter& xml, const FinvoiceRow& row, absl::string_view currency) {
  xml.Open("InvoiceRow");
  xml.Leaf("ArticleName", row.description);
  xml.Leaf("InvoicedQuantity", FormatFinvoiceQuantity(row.quantity_milli),
           XmlWriter::Attribute("QuantityUnitCode", row.unit_code));
  xml.Amount("UnitPriceAmount", row.unit_price_cents, currency);
  if (row.delivery_date.has_value()) {
    xml.Date("RowDeliveryDate", *row.delivery_date);
  }
  xml.Leaf("RowVatRatePercent", FormatFinvoicePercent(row.vat_rate_centi_percent));
  xml.Leaf("RowVatCode", row.vat_category);
  xml.Amount("RowVatAmount", row.vat_cents, currency);
  xml.Amount("RowVatExcludedAmount", row.net_cents, currency);
  xml.Amount("RowAmount", row.gross_cents, currency);
  xml.Close("InvoiceRow");
}

void WriteEpi(XmlWriter& xml, const FinvoiceInvoice& invoice, absl::string_view iban,
              const Reference& reference) {
  xml.Open("EpiDetails");
  xml.Open("EpiIdentificationDetails");
  xml.Date("EpiDate", invoice.invoice_date);
  xml.Leaf("EpiReference", EpiReferenceOf(invoice.invoice_number));
  xml.Close("EpiIdentificationDetails");
  xml.Open("EpiPartyDetails");
  xml.Open("EpiBfiPartyDetails");
  xml.Leaf("EpiBfiIdentifier", invoice.seller.bic, R"( IdentificationSchemeName="BIC")");
  xml.Close("EpiBfiPartyDetails");
  xml.Open("EpiBeneficiaryPartyDetails");
  xml.Leaf("EpiNameAddressDetails", TruncateUtf8(invoice.seller.name, 35));
  xml.Leaf("EpiBei", invoice.seller.business_id);
  xml.Leaf("EpiAccountID", iban, R"( IdentificationSchemeName="IBAN")");
  xml.Close("EpiBeneficiaryPartyDetails");
  xml.Close("EpiPartyDetails");
  xml.Open("EpiPaymentInstructionDetails");
  if (!reference.text.empty()) {
    xml.Leaf(
        "EpiRemittanceInfoIdentifier", reference.text,
        reference.rf ? R"( IdentificationSchemeName="ISO")" : R"( IdentificationSchemeName="SPY")");
  }
  xml.Amount("EpiInstructedAmount", invoice.totals.gross_cents, invoice.currency);
  xml.Leaf("EpiCharge", "SHA", R"( ChargeOption="SHA")");
  xml.Date("EpiDateOptionDate", invoice.due_date);
  xml.Close("EpiPaymentInstructionDetails");
  xml.Close("EpiDetails");
}

absl::Status CheckHeader(const FinvoiceInvoice& invoice) {
  if (HasEInvoiceAddress(invoice.buyer.e_invoice)) {
    if (!HasEInvoiceAddress(invoice.seller.e_invoice)) {
      return InvalidField("seller.e_invoice.address",
                          "required when the buyer has an e-invoice address");
    }
    RETURN_IF_ERROR(ValidateXmlText("message_identifier", invoice.message_identifier, 2, 48));
    if (invoice.message_time == absl::InfiniteFuture() ||
        invoice.message_time == absl::InfinitePast()) {
      return InvalidField("message_time", "must be a finite time");
    }
    const int64_t year = invoice.time_zone.At(invoice.message_time).cs.year();
    if (year < 1000 || year > 9999) {
      return InvalidField("message_time", "year must have four digits");
    }
  }
  RETURN_IF_ERROR(ValidateXmlText("invoice_number", invoice.invoice_number, 1, 20));
  if (invoice.type == FinvoiceType::kCreditNote) {
    RETURN_IF_ERROR(
        ValidateXmlText("original_invoice_number", invoice.original_invoice_number, 1, 20));
  } else if (!invoice.original_invoice_number.empty()) {
    return InvalidField("original_invoice_number", "only a credit note refers to an invoice");
  }
  RETURN_IF_ERROR(CheckOptionalText("buyer_reference", invoice.buyer_reference, 70));
  RETURN_IF_ERROR(CheckDay("invoice_date", invoice.invoice_date));
  RETURN_IF_ERROR(CheckDay("due_date", invoice.due_date));
  if (invoice.due_date < invoice.invoice_date) {
    return InvalidField("due_date", "before the invoice date");
  }
  const bool has_period =
      invoice.delivery_period_start.has_value() || invoice.delivery_period_end.has_value();
  if (!invoice.delivery_date.has_value() && !has_period) {
    return InvalidField("delivery_date", "a delivery date or a delivery period is required");
  }
  if (invoice.delivery_date.has_value()) {
    RETURN_IF_ERROR(CheckDay("delivery_date", *invoice.delivery_date));
  }
  if (has_period) {
    if (!invoice.delivery_period_start.has_value() || !invoice.delivery_period_end.has_value()) {
      return InvalidField("delivery_period_start", "a period needs both a start and an end");
    }
    RETURN_IF_ERROR(CheckDay("delivery_period_start", *invoice.delivery_period_start));
    RETURN_IF_ERROR(CheckDay("delivery_period_end", *invoice.delivery_period_end));
    if (*invoice.delivery_period_end < *invoice.delivery_period_start) {
      return InvalidField("delivery_period_end", "before the start of the period");
    }
  }
  if (invoice.payment_terms_days < 0 || invoice.payment_terms_days > 999) {
    return InvalidField("payment_terms_days", "must be 0..999");
  }
  if (!money::IsValidCurrencyCode(invoice.currency)) {
    return InvalidField("currency", "must be three upper-case letters (ISO 4217)");
  }
  return CheckOptionalText("free_text", invoice.free_text, 512);
}

// Everything the writer needs beyond the input, derived while checking it.
struct Checked {
  std::string iban;
  Reference reference;
  std::string penalty_percent;
};

absl::StatusOr<Checked> Check(const FinvoiceInvoice& invoice) {
  Checked checked;
  RETURN_IF_ERROR(CheckHeader(invoice));
  RETURN_IF_ERROR(CheckSeller(invoice.seller));
  ASSIGN_OR_RETURN(checked.iban, fi::ParseIban("seller.iban", invoice.seller.iban));
  RETURN_IF_ERROR(CheckBuyer(invoice.buyer));
  if (!invoice.penalty_interest_percent.empty()) {
    ASSIGN_OR_RETURN(checked.penalty_percent, NormalisePercent("penalty_interest_percent",
                                                               invoice.penalty_interest_percent));
  }
  ASSIGN_OR_RETURN(checked.reference, ParseReference(invoice.reference));
  if (checked.reference.text.empty() && invoice.type == FinvoiceType::kInvoice) {
    return InvalidField("reference", "required on an invoice");
  }
  RETURN_IF_ERROR(CheckBarcode(invoice, checked.reference));
  if (invoice.rows.empty()) {
    return InvalidField("rows", "at least one row is required");
  }
  if (invoice.vat_groups.empty()) {
    return InvalidField("vat_groups", "at least one VAT group is required");
  }
  for (size_t i = 0; i < invoice.rows.size(); ++i) {
    RETURN_IF_ERROR(CheckRow(absl::StrCat("rows[", i, "]"), invoice.rows[i]));
  }
  RETURN_IF_ERROR(CheckFigures(invoice));
  return checked;
}

}  // namespace

// The magnitude of `value` in unsigned arithmetic, so that the most negative value has one too.
uint64_t Magnitude(int64_t value) {
  return value < 0 ? uint64_t{0} - static_cast<uint64_t>(value) : static_cast<uint64_t>(value);
}

std::string FormatFinvoiceAmount(int64_t cents) {
  const uint64_t magnitude = Magnitude(cents);
  return absl::StrFormat("%s%d,%02d", cents < 0 ? "-" : "", magnitude / 100, magnitude % 100);
}

std::string FormatFinvoicePercent(int64_t centi_percent) {
  const uint64_t magnitude = Magnitude(centi_percent);
  std::string out = absl::StrCat(centi_percent < 0 ? "-" : "", magnitude / 100);
  const uint64_t fraction = magnitude % 100;
  if (fraction != 0) {
    absl::StrAppend(&out, fraction % 10 == 0 ? absl::StrCat(",", fraction / 10)
                                             : absl::StrFormat(",%02d", fraction));
  }
  return out;
}

std::string FormatFinvoiceQuantity(int64_t milli) {
  const uint64_t magnitude = Magnitude(milli);
  std::string out = absl::StrCat(milli < 0 ? "-" : "", magnitude / 1000);
  std::string fraction = absl::StrFormat("%03d", magnitude % 1000);
  while (!fraction.empty() && fraction.back() == '0') {
    fraction.pop_back();
  }
  if (!fraction.empty()) {
    absl::StrAppend(&out, ",", fraction);
  }
  return out;
}

std::string FormatFinvoiceDate(absl::CivilDay day) {
  return absl::StrFormat("%04d%02d%02d", day.year(), day.month(), day.day());
}

int Utf8Length(absl::string_view text) {
  int length = 0;
  for (char c : text) {
    // Count every byte that does not continue a sequence.
    length += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }
  return length;
}

absl::Status ValidateXmlText(absl::string_view field, absl::string_view text, int min_chars,
                             int max_chars) {
  int length = 0;
  bool blank = true;
  absl::string_view rest = text;
  for (int position = 1; !rest.empty(); ++position) {
    const std::optional<char32_t> c = PopUtf8(rest);
    if (!c.has_value()) {
      return InvalidField(field, absl::StrCat("not valid UTF-8 at character ", position));
    }
    if (IsControlOrNonCharacter(*c)) {
      return InvalidField(field, absl::StrFormat("control character U+%04X at position %d",
                                                 static_cast<uint32_t>(*c), position));
    }
    blank = blank && *c == ' ';
    ++length;
  }
  if (min_chars > 0 && (length == 0 || blank)) {
    return InvalidField(field, "must not be empty");
  }
  if (length < min_chars || length > max_chars) {
    return InvalidField(field,
                        absl::StrCat(min_chars, "..", max_chars, " characters, got ", length));
  }
  return absl::OkStatus();
}

void AppendXmlEscaped(std::string& out, absl::string_view text) {
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    absl::string_view entity;
    switch (text[i]) {
      case '&':
        entity = "&amp;";
        break;
      case '<':
        entity = "&lt;";
        break;
      case '>':
        entity = "&gt;";
        break;
      case '"':
        entity = "&quot;";
        break;
      case '\'':
        entity = "&apos;";
        break;
      default:
        continue;
    }
    out.append(text.data() + start, i - start);
    out.append(entity.data(), entity.size());
    start = i + 1;
  }
  out.append(text.data() + start, text.size() - start);
}

absl::Status ValidateFinvoiceInvoice(const FinvoiceInvoice& invoice) {
  return Check(invoice).status();
}

absl::StatusOr<std::string> WriteFinvoice(const FinvoiceInvoice& invoice) {
  ASSIGN_OR_RETURN(const Checked checked, Check(invoice));

  XmlWriter xml(4096 + 640 * invoice.rows.size());
  xml.Raw(R"(<?xml version="1.0" encoding="UTF-8"?>)");
  xml.Open("Finvoice", R"( Version="3.0" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance")"
                       R"( xsi:noNamespaceSchemaLocation="Finvoice3.0.xsd")");
  if (HasEInvoiceAddress(invoice.buyer.e_invoice)) {
    WriteMessageTransmission(xml, invoice);
  }
  WriteSeller(xml, invoice.seller, checked.iban);
  WriteBuyer(xml, invoice.buyer);
  WriteDelivery(xml, invoice);
  WriteInvoiceDetails(xml, invoice, checked.penalty_percent);
  if (!invoice.virtual_barcode.empty()) {
    xml.Leaf("VirtualBankBarcode", invoice.virtual_barcode);
  }
  for (const FinvoiceRow& row : invoice.rows) {
    WriteRow(xml, row, invoice.currency);
  }
  WriteEpi(xml, invoice, checked.iban, checked.reference);
  xml.Close("Finvoice");
  return std::move(xml).Release();
}

}  // namespace tahe::invoicing
