#pragma once

// The Finvoice 3.0 e-invoice message (Finance Finland's XML invoice, finnish-rules.md §9) for one
// sales invoice or credit note: a pure writer, free of gRPC and SQL. The input is a denormalised
// view with every figure already computed by the caller (VAT per rate group, totals, the
// reference and the virtual barcode); the writer only checks, formats and places them. It either
// returns the whole document, valid against third_party/schemas/finvoice/Finvoice3.0.xsd, or an
// INVALID_ARGUMENT naming the first offending field ("rows[2].unit_code: ..."), never a partial
// file.
//
//   FinvoiceInvoice invoice;
//   invoice.seller = {.name = "Esimerkin kunta", .business_id = "2077474-0", ...};
//   invoice.buyer = {.kind = FinvoiceBuyerKind::kPerson, .name = "Matti Meikäläinen", ...};
//   invoice.invoice_number = "100234";
//   invoice.reference = "11112";                // national: SPY; "RF9811112": ISO
//   invoice.rows.push_back({.description = "Tilavuokra", .quantity_milli = 1000, ...});
//   ...
//   ASSIGN_OR_RETURN(std::string xml, WriteFinvoice(invoice));
//
// What goes where (element order is the schema's sequence):
//  - MessageTransmissionDetails only when the buyer has an e-invoice address (then the seller
//    must have one too): From = seller, To = buyer, MessageIdentifier, MessageTimeStamp. A paper
//    invoice (printed by an operator's print service, which routes on its own) has none.
//  - SellerPartyDetails (business ID, name, VAT number as SellerOrganisationTaxCode, postal
//    address), SellerInformationDetails/SellerAccountDetails (IBAN and BIC),
//    InvoiceRecipientLanguageCode (FI, SV or EN), BuyerPartyDetails (business ID only for an
//    organisation: a person's identity code never goes into the file, the struct has no field
//    for it), DeliveryDetails (date or period).
//  - InvoiceDetails: InvoiceTypeCode INV01 (invoice) or INV02 (credit note) with
//    CodeListAgencyIdentifier="SPY", the EN 16931 code 380/381 as InvoiceTypeCodeUN, the type
//    text in the buyer's language, OriginCode Original, number and date, OriginalInvoiceNumber of
//    a credit note, the buyer's reference (BuyerReferenceIdentifier), the totals, one
//    VatSpecificationDetails per VAT group (base, rate, EN 16931 category code S/Z/E/AE/K/G/O,
//    VAT, the group's legal text and exemption reason), the free text, PaymentTermsDetails (terms
//    text, due date, penalty interest percent).
//  - VirtualBankBarcode, one InvoiceRow per row, and EpiDetails (the bank payment part: BIC,
//    beneficiary name, business ID and IBAN, the reference with IdentificationSchemeName SPY for
//    a national reference and ISO for an RF reference, the gross total, charges SHA, the due
//    date).
// Dates are CCYYMMDD, amounts have a decimal comma and two decimals ("1234,50", "-12,00"),
// percentages a decimal comma and no trailing zeros ("25,5", "24", "0").
//
// Checks beyond the schema: text is UTF-8 without control characters, within the schema's
// lengths (counted in characters) and not blank; the business IDs, IBAN, references and VAT
// numbers are checked with libs/fi; the virtual barcode must encode the seller's IBAN, the gross
// total (or 0), the reference and the due date; the EN 16931 category rules hold (S above 0 %;
// Z, E, AE, K, G and O at 0 % without VAT; AE and K with both parties' VAT numbers); and the
// figures must add up (row net + VAT = row gross, the rows of a VAT group sum to the group's base,
// the groups to the totals, net + VAT = gross), so a bug upstream never reaches a buyer as an
// inconsistent invoice.
//
// All functions are thread-safe.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace tahe::invoicing {

struct FinvoicePostalAddress {
  // Each 2..35 characters.
  std::string street;
  std::string postal_code;
  std::string town;
  // ISO 3166-1 alpha-2, upper case.
  std::string country_code = "FI";
};

// An e-invoice address (OVT code such as "003720774740", or an IBAN) and the operator
// (intermediator) that routes to it ("003721291126", or a bank's BIC). Both 2..35 characters, or
// both empty for none.
struct FinvoiceEInvoiceAddress {
  std::string address;
  std::string intermediator;
};

struct FinvoiceSeller {
  // 2..70 characters. The bank payment part (EpiNameAddressDetails) holds only 35: it gets the
  // name cut to 35 characters.
  std::string name;
  // Y-tunnus "NNNNNNN-C" (fi::ValidateBusinessId).
  std::string business_id;
  // Optional: "FI" + eight digits (fi::BusinessIdOfVatNumber must accept it).
  std::string vat_number;
  FinvoicePostalAddress address;
  // A valid IBAN (written normalised) and the BIC of its bank (8 or 11 letters/digits).
  std::string iban;
  std::string bic;
  FinvoiceEInvoiceAddress e_invoice;
};

enum class FinvoiceBuyerKind { kPerson, kOrganisation };
enum class FinvoiceLanguage { kFinnish, kSwedish, kEnglish };

struct FinvoiceBuyer {
  FinvoiceBuyerKind kind = FinvoiceBuyerKind::kPerson;
  // 2..70 characters.
  std::string name;
  // Organisations only, optional: Y-tunnus. Must be empty for a person.
  std::string business_id;
  // Organisations only, optional: a VAT number ("FI20774740", or another EU country's, 4..35
  // letters and digits); needed on a reverse-charge invoice. Must be empty for a person.
  std::string vat_number;
  FinvoicePostalAddress address;
  // Optional; when set, the invoice is sent as an e-invoice (MessageTransmissionDetails).
  FinvoiceEInvoiceAddress e_invoice;
  // The language of the texts in the file (invoice type, payment terms).
  FinvoiceLanguage language = FinvoiceLanguage::kFinnish;
};

enum class FinvoiceType { kInvoice, kCreditNote };

struct FinvoiceRow {
  // 1..100 characters.
  std::string description;
  // Thousandths of a unit: 1500 is 1.5 h. Negative on a credit note.
  int64_t quantity_milli = 0;
  // Free unit text, 1..14 characters: "kpl", "h", "kk".
  std::string unit_code;
  int64_t unit_price_cents = 0;
  // Optional: when the row was delivered, if it differs from the invoice's delivery date (rows
  // delivered on both sides of a VAT rate change).
  std::optional<absl::CivilDay> delivery_date;
  // Hundredths of a percent: 2550 is 25.5 %.
  int64_t vat_rate_centi_percent = 0;
  // EN 16931 VAT category (UNTDID 5305): S standard, Z zero, E exempt, AE reverse charge, K
  // intra-EU, G export, O outside scope.
  std::string vat_category;
  int64_t net_cents = 0;
  int64_t vat_cents = 0;
  int64_t gross_cents = 0;
};

// One VAT rate group: (rate, category) with its net base and VAT, as computed by the caller.
struct FinvoiceVatGroup {
  int64_t vat_rate_centi_percent = 0;
  std::string vat_category;
  int64_t net_cents = 0;
  int64_t vat_cents = 0;
  // Optional, 0..70 characters: the legal text an exempt or reverse-charge group needs
  // ("Käännetty verovelvollisuus, AVL 8 c §").
  std::string free_text;
  // Optional EN 16931 exemption reason code ("VATEX-EU-AE"), 1..20 letters, digits and '-'.
  std::string exemption_reason_code;
};

struct FinvoiceTotals {
  int64_t net_cents = 0;
  int64_t vat_cents = 0;
  int64_t gross_cents = 0;
};

struct FinvoiceInvoice {
  // MessageDetails of an e-invoice: 2..48 characters, unique per sender; and the time stamp,
  // written in `time_zone` with its offset. Needed only when the buyer has an e-invoice address.
  std::string message_identifier;
  absl::Time message_time;
  absl::TimeZone time_zone = absl::UTCTimeZone();

  FinvoiceSeller seller;
  FinvoiceBuyer buyer;

  FinvoiceType type = FinvoiceType::kInvoice;
  // 1..20 characters.
  std::string invoice_number;
  // Credit notes only (and required there): the number of the invoice being credited.
  std::string original_invoice_number;
  // Optional, 0..70 characters: the buyer's own reference (tilaajan viite), which public-sector
  // buyers use to route an e-invoice to its approver (BuyerReferenceIdentifier).
  std::string buyer_reference;
  absl::CivilDay invoice_date;
  // Either a delivery date or a delivery period (start <= end), at least one of them.
  std::optional<absl::CivilDay> delivery_date;
  std::optional<absl::CivilDay> delivery_period_start;
  std::optional<absl::CivilDay> delivery_period_end;
  absl::CivilDay due_date;
  // Net payment term in days (0..999), written as "14 päivää netto" in the buyer's language.
  int payment_terms_days = 14;
  // Optional penalty interest in percent, "11,5" or "11.5" (written with a comma), 0..999.9999.
  std::string penalty_interest_percent;

  // A national reference ("11112", spaces allowed) or an RF reference ("RF98 11112"). Required on
  // an invoice, optional on a credit note. Written without spaces.
  std::string reference;
  // Optional: the 54-digit bank virtual barcode (fi::MakeVirtualBarcode), placed as given.
  std::string virtual_barcode;
  std::string currency = "EUR";

  // At least one.
  std::vector<FinvoiceRow> rows;
  // One per (rate, category) of the rows, at least one.
  std::vector<FinvoiceVatGroup> vat_groups;
  FinvoiceTotals totals;
  // Optional, 0..512 characters: InvoiceFreeText.
  std::string free_text;
};

// OK if `invoice` can be written: every check WriteFinvoice makes (see the header comment).
absl::Status ValidateFinvoiceInvoice(const FinvoiceInvoice& invoice);

// The Finvoice 3.0 document, UTF-8 with an XML declaration; INVALID_ARGUMENT naming the first
// offending field otherwise.
absl::StatusOr<std::string> WriteFinvoice(const FinvoiceInvoice& invoice);

// --- Formatting shared by the invoice formats -------------------------------------------------

// Cents with a decimal comma and two decimals: 123450 -> "1234,50", -1200 -> "-12,00".
std::string FormatFinvoiceAmount(int64_t cents);

// Hundredths of a percent with a decimal comma and no trailing zeros: 2550 -> "25,5",
// 2400 -> "24", 1 -> "0,01", 0 -> "0". (Finvoice's percentages are never negative; the writer
// checks that before it formats.)
std::string FormatFinvoicePercent(int64_t centi_percent);

// Thousandths with a decimal comma and no trailing zeros: 1500 -> "1,5", 2000 -> "2",
// -1000 -> "-1", 1 -> "0,001".
std::string FormatFinvoiceQuantity(int64_t milli);

// "CCYYMMDD": 2026-03-02 -> "20260302".
std::string FormatFinvoiceDate(absl::CivilDay day);

// OK if `text` is valid UTF-8 without control characters (C0, DEL, C1) or the non-characters
// U+FFFE/U+FFFF, has min_chars..max_chars characters (code points) and, when min_chars > 0, is not
// only spaces. INVALID_ARGUMENT naming `field` and what is wrong otherwise.
absl::Status ValidateXmlText(absl::string_view field, absl::string_view text, int min_chars,
                             int max_chars);

// Appends `text` with & < > " ' escaped as XML entities.
void AppendXmlEscaped(std::string& out, absl::string_view text);

// The number of characters (code points) of valid UTF-8 `text`.
int Utf8Length(absl::string_view text);

}  // namespace tahe::invoicing
