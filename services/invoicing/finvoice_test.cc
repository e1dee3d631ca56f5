#include "services/invoicing/finvoice.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "libs/fi/barcode.h"
#include "libs/testing/xml_schema.h"
#include "services/invoicing/testdata/sample_invoices.h"

#ifndef TAHE_FINVOICE_XSD
#error "TAHE_FINVOICE_XSD (the path of Finvoice3.0.xsd) must be defined by CMake"
#endif

namespace tahe::invoicing {
namespace {

void RequireSchemaAndXmllint() {
  INFO("the schema must be at " << TAHE_FINVOICE_XSD << " (vendored under third_party/schemas)");
  REQUIRE(std::filesystem::is_regular_file(TAHE_FINVOICE_XSD));
  INFO("xmllint must be installed (Debian package libxml2-utils)");
  REQUIRE(testing::XmllintAvailable());
}

// Writes `invoice` and checks the result against the published Finvoice 3.0 schema.
std::string WriteValid(const FinvoiceInvoice& invoice) {
  RequireSchemaAndXmllint();
  const absl::StatusOr<std::string> xml = WriteFinvoice(invoice);
  INFO(xml.status());
  REQUIRE(xml.ok());
  const testing::XmlValidation validation = testing::ValidateXml(*xml, TAHE_FINVOICE_XSD);
  INFO(validation.output);
  INFO(*xml);
  REQUIRE(validation.exit_code == 0);
  return *xml;
}

// The texts of every <tag ...>text</tag> in document order.
std::vector<std::string> ElementTexts(const std::string& xml, const std::string& tag) {
  std::vector<std::string> texts;
  const std::string open = "<" + tag;
  const std::string close = "</" + tag + ">";
  size_t at = 0;
  while ((at = xml.find(open, at)) != std::string::npos) {
    const char after = xml[at + open.size()];
    if (after != '>' && after != ' ') {
      at += open.size();
      continue;
    }
    const size_t start = xml.find('>', at) + 1;
    const size_t end = xml.find(close, start);
    REQUIRE(end != std::string::npos);
    texts.push_back(xml.substr(start, end - start));
    at = end + close.size();
  }
  return texts;
}

using Texts = std::vector<std::string>;

std::string ErrorOf(const FinvoiceInvoice& invoice) {
  const absl::StatusOr<std::string> xml = WriteFinvoice(invoice);
  REQUIRE_FALSE(xml.ok());
  CHECK(xml.status().code() == absl::StatusCode::kInvalidArgument);
  // Validation and writing agree.
  CHECK(ValidateFinvoiceInvoice(invoice) == xml.status());
  return std::string(xml.status().message());
}

TEST_CASE("Finvoice amounts, percentages, quantities and dates use the decimal comma") {
  CHECK(FormatFinvoiceAmount(123450) == "1234,50");
  CHECK(FormatFinvoiceAmount(-1200) == "-12,00");
  CHECK(FormatFinvoiceAmount(5) == "0,05");
  CHECK(FormatFinvoiceAmount(-5) == "-0,05");
  CHECK(FormatFinvoiceAmount(0) == "0,00");
  CHECK(FormatFinvoicePercent(2550) == "25,5");
  CHECK(FormatFinvoicePercent(2400) == "24");
  CHECK(FormatFinvoicePercent(1350) == "13,5");
  CHECK(FormatFinvoicePercent(1) == "0,01");
  CHECK(FormatFinvoicePercent(0) == "0");
  CHECK(FormatFinvoiceQuantity(1500) == "1,5");
  CHECK(FormatFinvoiceQuantity(2000) == "2");
  CHECK(FormatFinvoiceQuantity(-1000) == "-1");
  CHECK(FormatFinvoiceQuantity(1) == "0,001");
  CHECK(FormatFinvoiceQuantity(-1250) == "-1,25");
  CHECK(FormatFinvoiceDate(absl::CivilDay(2026, 3, 2)) == "20260302");
}

TEST_CASE("Text checks name the field and the problem") {
  CHECK(ValidateXmlText("f", "Åsa", 2, 3).ok());
  CHECK(ValidateXmlText("f", "Åsaa", 2, 3).message() == "f: 2..3 characters, got 4");
  CHECK(ValidateXmlText("f", "a\x07", 1, 9).message() ==
        "f: control character U+0007 at position 2");
  CHECK(ValidateXmlText("f", "a\tb", 1, 9).message() ==
        "f: control character U+0009 at position 2");
  CHECK(ValidateXmlText("f", "\xC3", 1, 9).message() == "f: not valid UTF-8 at character 1");
  // An overlong encoding of '/' and a UTF-16 surrogate are not UTF-8.
  CHECK(ValidateXmlText("f", "\xC0\xAF", 1, 9).message() == "f: not valid UTF-8 at character 1");
  CHECK(ValidateXmlText("f", "\xED\xA0\x80", 1, 9).message() ==
        "f: not valid UTF-8 at character 1");
  CHECK(ValidateXmlText("f", "   ", 1, 9).message() == "f: must not be empty");
  CHECK(ValidateXmlText("f", "", 0, 9).ok());
  std::string escaped;
  AppendXmlEscaped(escaped, "a&b<c>d\"e'f");
  CHECK(escaped == "a&amp;b&lt;c&gt;d&quot;e&apos;f");
}

TEST_CASE("A consumer invoice on paper validates and carries the barcode example's values") {
  const std::string xml = WriteValid(testdata::ConsumerOnPaper());

  CHECK(absl::StartsWith(xml,
                         "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Finvoice "
                         "Version=\"3.0\""));
  // Paper: no e-invoice routing, and nothing that identifies the person beyond name and address.
  CHECK_FALSE(absl::StrContains(xml, "MessageTransmissionDetails"));
  CHECK_FALSE(absl::StrContains(xml, "BuyerPartyIdentifier"));
  CHECK(ElementTexts(xml, "BuyerOrganisationName") == Texts{"Matti Meikäläinen"});
  CHECK(ElementTexts(xml, "SellerPartyIdentifier") == Texts{"2077474-0"});
  CHECK(ElementTexts(xml, "SellerOrganisationTaxCode") == Texts{"FI20774740"});
  CHECK(absl::StrContains(
      xml,
      "<SellerAccountID IdentificationSchemeName=\"IBAN\">FI3715903000000776</SellerAccountID>"));
  CHECK(absl::StrContains(xml, "<SellerBic IdentificationSchemeName=\"BIC\">NDEAFIHH</SellerBic>"));
  CHECK(ElementTexts(xml, "InvoiceRecipientLanguageCode") == Texts{"FI"});

  CHECK(absl::StrContains(
      xml, "<InvoiceTypeCode CodeListAgencyIdentifier=\"SPY\">INV01</InvoiceTypeCode>"));
  CHECK(ElementTexts(xml, "InvoiceTypeCodeUN") == Texts{"380"});
  CHECK(ElementTexts(xml, "InvoiceTypeText") == Texts{"LASKU"});
  CHECK(ElementTexts(xml, "OriginCode") == Texts{"Original"});
  CHECK(ElementTexts(xml, "InvoiceNumber") == Texts{"100234"});
  CHECK(absl::StrContains(xml, "<InvoiceDate Format=\"CCYYMMDD\">20161207</InvoiceDate>"));
  CHECK(absl::StrContains(xml, "<DeliveryDate Format=\"CCYYMMDD\">20161201</DeliveryDate>"));
  CHECK(absl::StrContains(xml, "<InvoiceDueDate Format=\"CCYYMMDD\">20161221</InvoiceDueDate>"));
  // 9.88 + 2.37 = 12.25.
  CHECK(absl::StrContains(xml,
                          "<InvoiceTotalVatExcludedAmount AmountCurrencyIdentifier=\"EUR\">"
                          "9,88</InvoiceTotalVatExcludedAmount>"));
  CHECK(ElementTexts(xml, "InvoiceTotalVatAmount") == Texts{"2,37"});
  CHECK(ElementTexts(xml, "InvoiceTotalVatIncludedAmount") == Texts{"12,25"});
  CHECK(ElementTexts(xml, "VatBaseAmount") == Texts{"9,88"});
  CHECK(ElementTexts(xml, "VatRatePercent") == Texts{"24"});
  CHECK(ElementTexts(xml, "VatCode") == Texts{"S"});
  CHECK(ElementTexts(xml, "VatRateAmount") == Texts{"2,37"});
  CHECK(ElementTexts(xml, "PaymentTermsFreeText") == Texts{"14 päivää netto"});
  // "11.5" is written with a comma.
  CHECK(ElementTexts(xml, "PaymentOverDueFinePercent") == Texts{"11,5"});

  CHECK(ElementTexts(xml, "VirtualBankBarcode") ==
        Texts{"437159030000007760000122500000000000000000011112161221"});
  CHECK(ElementTexts(xml, "ArticleName") == Texts{"Kerhohuoneen vuokra"});
  CHECK(absl::StrContains(xml, "<InvoicedQuantity QuantityUnitCode=\"kpl\">1</InvoicedQuantity>"));
  CHECK(ElementTexts(xml, "UnitPriceAmount") == Texts{"9,88"});
  CHECK(ElementTexts(xml, "RowVatRatePercent") == Texts{"24"});
  CHECK(ElementTexts(xml, "RowVatAmount") == Texts{"2,37"});
  CHECK(ElementTexts(xml, "RowVatExcludedAmount") == Texts{"9,88"});
  CHECK(ElementTexts(xml, "RowAmount") == Texts{"12,25"});

  // The bank payment part.
  CHECK(absl::StrContains(xml, "<EpiDate Format=\"CCYYMMDD\">20161207</EpiDate>"));
  CHECK(ElementTexts(xml, "EpiReference") == Texts{"100234"});
  CHECK(absl::StrContains(
      xml, "<EpiBfiIdentifier IdentificationSchemeName=\"BIC\">NDEAFIHH</EpiBfiIdentifier>"));
  CHECK(ElementTexts(xml, "EpiNameAddressDetails") == Texts{"Esimerkin kunta"});
  CHECK(ElementTexts(xml, "EpiBei") == Texts{"2077474-0"});
  CHECK(absl::StrContains(
      xml, "<EpiAccountID IdentificationSchemeName=\"IBAN\">FI3715903000000776</EpiAccountID>"));
  CHECK(absl::StrContains(xml,
                          "<EpiRemittanceInfoIdentifier IdentificationSchemeName=\"SPY\">"
                          "11112</EpiRemittanceInfoIdentifier>"));
  CHECK(absl::StrContains(
      xml, "<EpiInstructedAmount AmountCurrencyIdentifier=\"EUR\">12,25</EpiInstructedAmount>"));
  CHECK(absl::StrContains(xml, "<EpiCharge ChargeOption=\"SHA\">SHA</EpiCharge>"));
  CHECK(absl::StrContains(xml,
                          "<EpiDateOptionDate Format=\"CCYYMMDD\">20161221</EpiDateOptionDate>"));
}

TEST_CASE("An RF reference goes in with scheme ISO and without spaces") {
  const std::string xml = WriteValid(testdata::ConsumerWithRfReference());
  CHECK(absl::StrContains(xml,
                          "<EpiRemittanceInfoIdentifier IdentificationSchemeName=\"ISO\">"
                          "RF9811112</EpiRemittanceInfoIdentifier>"));
  CHECK(ElementTexts(xml, "VirtualBankBarcode") ==
        Texts{"537159030000007760000011098000000000000000011112170101"});
  // 0.89 + 0.21 = 1.10.
  CHECK(ElementTexts(xml, "EpiInstructedAmount") == Texts{"1,10"});
  // Swedish texts for a Swedish-speaking buyer.
  CHECK(ElementTexts(xml, "InvoiceRecipientLanguageCode") == Texts{"SV"});
  CHECK(ElementTexts(xml, "InvoiceTypeText") == Texts{"FAKTURA"});
  CHECK(ElementTexts(xml, "PaymentTermsFreeText") == Texts{"14 dagar netto"});
  CHECK(ElementTexts(xml, "BuyerOrganisationName") == Texts{"Åsa Öhman"});
}

TEST_CASE("An organisation's e-invoice has routing, two VAT groups and escaped names") {
  const FinvoiceInvoice invoice = testdata::OrganisationWithEInvoiceAddress();
  // The sample's barcode is the one libs/fi computes for its IBAN, gross total, reference and due
  // date.
  CHECK(fi::MakeVirtualBarcode(invoice.seller.iban, invoice.totals.gross_cents, invoice.reference,
                               invoice.due_date)
            .value() == invoice.virtual_barcode);
  const std::string xml = WriteValid(invoice);

  CHECK(ElementTexts(xml, "FromIdentifier") == Texts{"003720774740"});
  CHECK(ElementTexts(xml, "FromIntermediator") == Texts{"003723327487"});
  CHECK(ElementTexts(xml, "ToIdentifier") == Texts{"003702459042"});
  CHECK(ElementTexts(xml, "ToIntermediator") == Texts{"003721291126"});
  CHECK(ElementTexts(xml, "MessageIdentifier") == Texts{"TAHE-2024-000123"});
  // 06:30 UTC at +03:00 (Finnish summer time).
  CHECK(ElementTexts(xml, "MessageTimeStamp") == Texts{"2024-09-15T09:30:00+03:00"});

  CHECK(ElementTexts(xml, "BuyerPartyIdentifier") == Texts{"0245904-2"});
  CHECK(ElementTexts(xml, "BuyerOrganisationTaxCode") == Texts{"FI02459042"});
  CHECK(ElementTexts(xml, "BuyerOrganisationName") == Texts{"Meikäläinen &amp; Poika &lt;Oy&gt;"});
  CHECK(ElementTexts(xml, "BuyerReferenceIdentifier") == Texts{"KP 4711 / Åström"});
  CHECK(ElementTexts(xml, "InvoiceFreeText") ==
        Texts{"Kiitos &amp; tervetuloa &lt;uudelleen&gt;!"});
  CHECK(absl::StrContains(xml, "<StartDate Format=\"CCYYMMDD\">20240801</StartDate>"));
  CHECK(absl::StrContains(xml, "<EndDate Format=\"CCYYMMDD\">20240910</EndDate>"));

  // 24 %: 40.00 + 9.60; 25.5 %: 40.50 + 10.33; totals 80.50 + 19.93 = 100.43.
  CHECK(ElementTexts(xml, "VatRatePercent") == Texts{"24", "25,5"});
  CHECK(ElementTexts(xml, "VatBaseAmount") == Texts{"40,00", "40,50"});
  CHECK(ElementTexts(xml, "VatRateAmount") == Texts{"9,60", "10,33"});
  CHECK(ElementTexts(xml, "InvoiceTotalVatExcludedAmount") == Texts{"80,50"});
  CHECK(ElementTexts(xml, "InvoiceTotalVatAmount") == Texts{"19,93"});
  CHECK(ElementTexts(xml, "InvoiceTotalVatIncludedAmount") == Texts{"100,43"});
  CHECK(ElementTexts(xml, "PaymentOverDueFinePercent") == Texts{"12,5"});
  CHECK(ElementTexts(xml, "InvoicedQuantity") == Texts{"10", "7,5"});
  CHECK(ElementTexts(xml, "UnitPriceAmount") == Texts{"4,00", "5,40"});
  CHECK(ElementTexts(xml, "RowDeliveryDate") == Texts{"20240831", "20240910"});
  CHECK(ElementTexts(xml, "RowVatRatePercent") == Texts{"24", "25,5"});
  CHECK(ElementTexts(xml, "RowAmount") == Texts{"49,60", "50,83"});
  CHECK(absl::StrContains(xml,
                          "<EpiRemittanceInfoIdentifier IdentificationSchemeName=\"SPY\">"
                          "1234567907</EpiRemittanceInfoIdentifier>"));
  CHECK(ElementTexts(xml, "EpiInstructedAmount") == Texts{"100,43"});
  CHECK(ElementTexts(xml, "EpiReference") == Texts{"2024-000123"});
}

TEST_CASE("A credit note is INV02 with the original invoice and negative amounts") {
  const std::string xml = WriteValid(testdata::CreditNote());
  CHECK(absl::StrContains(
      xml, "<InvoiceTypeCode CodeListAgencyIdentifier=\"SPY\">INV02</InvoiceTypeCode>"));
  CHECK(ElementTexts(xml, "InvoiceTypeCodeUN") == Texts{"381"});
  CHECK(ElementTexts(xml, "InvoiceTypeText") == Texts{"HYVITYSLASKU"});
  CHECK(ElementTexts(xml, "OriginalInvoiceNumber") == Texts{"100234"});
  CHECK(ElementTexts(xml, "InvoiceTotalVatExcludedAmount") == Texts{"-9,88"});
  CHECK(ElementTexts(xml, "InvoiceTotalVatAmount") == Texts{"-2,37"});
  CHECK(ElementTexts(xml, "InvoiceTotalVatIncludedAmount") == Texts{"-12,25"});
  CHECK(ElementTexts(xml, "InvoicedQuantity") == Texts{"-1"});
  CHECK(ElementTexts(xml, "RowAmount") == Texts{"-12,25"});
  CHECK(ElementTexts(xml, "EpiInstructedAmount") == Texts{"-12,25"});
  CHECK(ElementTexts(xml, "PaymentTermsFreeText") == Texts{"Heti"});
  // No reference, no barcode.
  CHECK_FALSE(absl::StrContains(xml, "EpiRemittanceInfoIdentifier"));
  CHECK_FALSE(absl::StrContains(xml, "VirtualBankBarcode"));
  CHECK_FALSE(absl::StrContains(xml, "PaymentOverDueFineDetails"));
}

TEST_CASE("A reverse-charge row is category AE at 0 % with the legal text") {
  const FinvoiceInvoice invoice = testdata::ReverseCharge();
  CHECK(fi::MakeVirtualBarcode(invoice.seller.iban, invoice.totals.gross_cents, invoice.reference,
                               invoice.due_date)
            .value() == invoice.virtual_barcode);
  const std::string xml = WriteValid(invoice);
  CHECK(ElementTexts(xml, "RowVatCode") == Texts{"AE", "S"});
  CHECK(ElementTexts(xml, "RowVatRatePercent") == Texts{"0", "25,5"});
  CHECK(ElementTexts(xml, "RowVatAmount") == Texts{"0,00", "25,50"});
  CHECK(ElementTexts(xml, "VatCode") == Texts{"AE", "S"});
  CHECK(ElementTexts(xml, "VatFreeText") == Texts{"Käännetty verovelvollisuus (AVL 8 c §)"});
  CHECK(ElementTexts(xml, "VatExemptionReasonCode") == Texts{"VATEX-EU-AE"});
  // 2 000.00 + 100.00 net, 25.50 VAT, 2 125.50 gross.
  CHECK(ElementTexts(xml, "InvoiceTotalVatExcludedAmount") == Texts{"2100,00"});
  CHECK(ElementTexts(xml, "InvoiceTotalVatIncludedAmount") == Texts{"2125,50"});
  CHECK(ElementTexts(xml, "BuyerOrganisationTaxCode") == Texts{"FI10320534"});
  CHECK(ElementTexts(xml, "InvoiceTypeText") == Texts{"INVOICE"});
  CHECK(ElementTexts(xml, "PaymentTermsFreeText") == Texts{"14 days net"});
  CHECK(absl::StrContains(xml,
                          "<EpiRemittanceInfoIdentifier IdentificationSchemeName=\"ISO\">"
                          "RF0812344</EpiRemittanceInfoIdentifier>"));
}

TEST_CASE("A long seller name is cut to 35 characters in the payment part only") {
  FinvoiceInvoice invoice = testdata::ConsumerOnPaper();
  // 36 characters; the payment part keeps the first 35.
  invoice.seller.name = "Pohjois-Pohjanmaan hyvinvointialueen ä kunta";
  const std::string xml = WriteValid(invoice);
  CHECK(ElementTexts(xml, "SellerOrganisationName") == Texts{invoice.seller.name});
  CHECK(ElementTexts(xml, "EpiNameAddressDetails") == Texts{"Pohjois-Pohjanmaan hyvinvointialuee"});
  // 36 characters, cut after the 35th (an ä: two bytes), never inside one.
  invoice.seller.name = "Åland Åbo Ääneko Öjan Örö Äijälä ääö";
  CHECK(ElementTexts(WriteValid(invoice), "EpiNameAddressDetails") ==
        Texts{"Åland Åbo Ääneko Öjan Örö Äijälä ää"});
}

TEST_CASE("Invalid invoices are refused with the field named") {
  FinvoiceInvoice invoice = testdata::ConsumerOnPaper();

  SECTION("a person with a business ID") {
    invoice.buyer.business_id = "0245904-2";
    CHECK(ErrorOf(invoice) ==
          "buyer.business_id: must be empty for a person (no identity code goes into the file)");
  }
  SECTION("a control character in a name") {
    invoice.buyer.name = "Matti\x07Meikäläinen";
    CHECK(ErrorOf(invoice) == "buyer.name: control character U+0007 at position 6");
  }
  SECTION("invalid UTF-8 in a row") {
    invoice.rows[0].description = "Vuokra \xFF";
    CHECK(ErrorOf(invoice) == "rows[0].description: not valid UTF-8 at character 8");
  }
  SECTION("a blank street") {
    invoice.buyer.address.street = "  ";
    CHECK(ErrorOf(invoice) == "buyer.address.street: must not be empty");
  }
  SECTION("totals that do not add up") {
    invoice.virtual_barcode.clear();
    invoice.totals.gross_cents = 1226;
    CHECK(ErrorOf(invoice) == "totals.gross_cents: 1226 is not net + VAT (1225)");
  }
  SECTION("a row whose gross is not net + VAT") {
    invoice.rows[0].gross_cents = 1224;
    CHECK(ErrorOf(invoice) == "rows[0].gross_cents: 1224 is not net + VAT (988 + 237)");
  }
  SECTION("a group whose rows do not sum to its base") {
    invoice.virtual_barcode.clear();
    invoice.vat_groups[0].net_cents = 987;
    invoice.totals = {.net_cents = 987, .vat_cents = 237, .gross_cents = 1224};
    CHECK(ErrorOf(invoice) ==
          "vat_groups[0].net_cents: 987 is not the sum of the group's rows (988)");
  }
  SECTION("a row without a VAT group") {
    invoice.rows[0].vat_rate_centi_percent = 2550;
    CHECK(ErrorOf(invoice) == "rows[0]: no VAT group for rate 2550 and category S");
  }
  SECTION("standard rate at 0 %") {
    invoice.rows[0].vat_rate_centi_percent = 0;
    CHECK(ErrorOf(invoice) ==
          "rows[0].vat_rate_centi_percent: must be above 0 for VAT category S (use Z for zero "
          "rate)");
  }
  SECTION("an unknown VAT category") {
    invoice.rows[0].vat_category = "X";
    CHECK(absl::StartsWith(ErrorOf(invoice), "rows[0].vat_category: must be an EN 16931"));
  }
  SECTION("an invoice without a reference") {
    invoice.reference.clear();
    invoice.virtual_barcode.clear();
    CHECK(ErrorOf(invoice) == "reference: required on an invoice");
  }
  SECTION("a reference with a wrong check digit") {
    invoice.reference = "11113";
    CHECK(absl::StartsWith(ErrorOf(invoice), "reference: "));
  }
  SECTION("a barcode for another amount") {
    invoice.virtual_barcode = "437159030000007760000122600000000000000000011112161221";
    CHECK(absl::StartsWith(ErrorOf(invoice), "virtual_barcode: does not encode"));
  }
  SECTION("an invalid IBAN") {
    invoice.seller.iban = "FI3715903000000777";
    CHECK(absl::StartsWith(ErrorOf(invoice), "seller.iban: "));
  }
  SECTION("a VAT number that is not the seller's") {
    invoice.seller.vat_number = "FI02459042";
    CHECK(ErrorOf(invoice) ==
          "seller.vat_number: must be FI20774740, the VAT number of business ID 2077474-0");
  }
  SECTION("an e-invoice buyer but no sender address") {
    invoice.buyer.e_invoice = {.address = "003702459042", .intermediator = "003721291126"};
    CHECK(ErrorOf(invoice) ==
          "seller.e_invoice.address: required when the buyer has an e-invoice address");
  }
  SECTION("a credit note without the original invoice") {
    invoice = testdata::CreditNote();
    invoice.original_invoice_number.clear();
    CHECK(ErrorOf(invoice) == "original_invoice_number: must not be empty");
  }
  SECTION("a due date before the invoice date") {
    invoice.due_date = absl::CivilDay(2016, 12, 6);
    CHECK(ErrorOf(invoice) == "due_date: before the invoice date");
  }
  SECTION("no delivery date") {
    invoice.delivery_date.reset();
    CHECK(ErrorOf(invoice) == "delivery_date: a delivery date or a delivery period is required");
  }
  SECTION("a malformed penalty interest") {
    invoice.penalty_interest_percent = "11,5%";
    CHECK(absl::StartsWith(ErrorOf(invoice), "penalty_interest_percent: must be a percentage"));
  }
  SECTION("a reverse charge without the buyer's VAT number") {
    invoice = testdata::ReverseCharge();
    invoice.buyer.vat_number.clear();
    CHECK(ErrorOf(invoice) ==
          "vat_groups[0].vat_category: category AE needs the seller's and the buyer's VAT "
          "numbers");
  }
  SECTION("VAT on a reverse-charge row") {
    invoice = testdata::ReverseCharge();
    invoice.rows[0].vat_cents = 1;
    CHECK(ErrorOf(invoice) == "rows[0].vat_cents: must be 0 for VAT category AE");
  }
  SECTION("an amount beyond 15 integer digits") {
    invoice.rows[0].unit_price_cents = 100'000'000'000'000'000;
    CHECK(ErrorOf(invoice) ==
          "rows[0].unit_price_cents: beyond the 15 integer digits Finvoice allows: "
          "100000000000000000 cents");
  }
}

}  // namespace
}  // namespace tahe::invoicing
