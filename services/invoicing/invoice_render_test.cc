#include "services/invoicing/invoice_render.h"

#include <catch2/catch.hpp>
#include <string>

#include "absl/strings/match.h"
#include "services/invoicing/testdata/sample_invoices.h"

namespace tahe::invoicing {
namespace {

TEST_CASE("Invoice amounts group thousands with a space and use the decimal comma") {
  CHECK(FormatInvoiceAmount(123450) == "1 234,50");
  CHECK(FormatInvoiceAmount(-1200) == "-12,00");
  CHECK(FormatInvoiceAmount(123456789) == "1 234 567,89");
  CHECK(FormatInvoiceAmount(-100000000) == "-1 000 000,00");
  CHECK(FormatInvoiceAmount(100000) == "1 000,00");
  CHECK(FormatInvoiceAmount(99999) == "999,99");
  CHECK(FormatInvoiceAmount(5) == "0,05");
  CHECK(FormatInvoiceAmount(0) == "0,00");
  CHECK(FormatFinnishDate(absl::CivilDay(2026, 3, 2)) == "2.3.2026");
  CHECK(FormatFinnishDate(absl::CivilDay(2016, 12, 21)) == "21.12.2016");
  CHECK(HtmlEscape("<a href=\"x\">'&'</a>") ==
        "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
}

// The value printed after "label:" on its line of `text`, without the padding; "" if none.
std::string ValueOf(const std::string& text, const std::string& label) {
  const std::string prefix = "\n" + label + ":";
  const size_t at = text.find(prefix);
  if (at == std::string::npos) {
    return "";
  }
  const size_t start = text.find_first_not_of(' ', at + prefix.size());
  return text.substr(start, text.find('\n', start) - start);
}

TEST_CASE("The text invoice of a consumer, in full") {
  // Reference 11112 is one print group; the IBAN in groups of four; 9.88 + 2.37 = 12.25. The
  // numeric columns are right-aligned to their widest cell or header, the description comes last.
  const std::string expected =
      "LASKU (INVOICE)\n"
      "\n"
      "Myyjä (Seller)\n"
      "  Esimerkin kunta\n"
      "  Kunnantie 1\n"
      "  00100 Helsinki\n"
      "  Y-tunnus (Business ID): 2077474-0\n"
      "  ALV-numero (VAT number): FI20774740\n"
      "\n"
      "Ostaja (Buyer)\n"
      "  Matti Meikäläinen\n"
      "  Kotikatu 2 A 3\n"
      "  00200 Helsinki\n"
      "\n"
      "Laskun numero (Invoice number):     100234\n"
      "Laskun päivämäärä (Invoice date):   7.12.2016\n"
      "Toimituspäivä (Delivery date):      1.12.2016\n"
      "Maksuehto (Payment terms):          14 pv netto (14 days net)\n"
      "Eräpäivä (Due date):                21.12.2016\n"
      "Viivästyskorko (Penalty interest):  11,5 %\n"
      "Viitenumero (Reference):            11112\n"
      "Tilinumero (IBAN):                  FI37 1590 3000 0007 76\n"
      "BIC:                                NDEAFIHH\n"
      "\n"
      "Määrä Yks.         À-hinta      ALV  Veroton  ALV €  Yhteensä  Kuvaus\n"
      "(Qty) (Unit)  (Unit price)  (VAT %)    (Net)  (VAT)   (Total)  (Description)\n"
      "    1 kpl             9,88     24 %     9,88   2,37     12,25  Kerhohuoneen vuokra\n"
      "\n"
      "ALV-erittely (VAT breakdown)\n"
      "ALV-kanta (VAT rate)  Veroton (Net)  ALV (VAT)  Yhteensä (Total)\n"
      "24 %                           9,88       2,37             12,25\n"
      "\n"
      "Veroton yhteensä (Total excluding VAT):   9,88 EUR\n"
      "ALV yhteensä (VAT total):                 2,37 EUR\n"
      "Maksettava yhteensä (Total to pay):      12,25 EUR\n"
      "\n"
      "Virtuaaliviivakoodi (Virtual barcode):\n"
      "437159030000007760000122500000000000000000011112161221\n";
  CHECK(RenderInvoiceText(testdata::ConsumerOnPaper()) == expected);
}

TEST_CASE("The text invoice groups references, amounts and shows VAT groups and categories") {
  const std::string org = RenderInvoiceText(testdata::OrganisationWithEInvoiceAddress());
  CHECK(ValueOf(org, "Viitenumero (Reference)") == "12345 67907");
  CHECK(ValueOf(org, "Toimituskausi (Delivery period)") == "1.8.2024–10.9.2024");
  CHECK(ValueOf(org, "Tilaajan viite (Buyer reference)") == "KP 4711 / Åström");
  CHECK(ValueOf(org, "Eräpäivä (Due date)") == "29.9.2024");
  CHECK(absl::StrContains(org, "\n  Meikäläinen & Poika <Oy>\n"));
  CHECK(absl::StrContains(org, "\n  Y-tunnus (Business ID): 0245904-2\n"));
  // 10 h at 4.00: 40.00 + 9.60 = 49.60; 7.5 h at 5.40: 40.50 + 10.33 = 50.83.
  CHECK(absl::StrContains(
      org, "\n   10 h               4,00     24 %    40,00   9,60     49,60  Siivous elokuu\n"));
  CHECK(absl::StrContains(
      org, "\n  7,5 h               5,40   25,5 %    40,50  10,33     50,83  Siivous syyskuu\n"));
  CHECK(absl::StrContains(org,
                          "\n24 %                          40,00       9,60             49,60\n"));
  CHECK(absl::StrContains(org,
                          "\n25,5 %                        40,50      10,33             50,83\n"));
  CHECK(ValueOf(org, "Maksettava yhteensä (Total to pay)") == "100,43 EUR");
  CHECK(ValueOf(org, "ALV yhteensä (VAT total)") == "19,93 EUR");
  CHECK(absl::StrContains(org, "\nKiitos & tervetuloa <uudelleen>!\n"));
  CHECK(absl::EndsWith(org,
                       "\nVirtuaaliviivakoodi (Virtual barcode):\n"
                       "437159030000007760001004300000000000001234567907240929\n"));

  const std::string rf = RenderInvoiceText(testdata::ConsumerWithRfReference());
  CHECK(ValueOf(rf, "Viitenumero (Reference)") == "RF98 1111 2");

  // 2 000.00 + 100.00 = 2 100.00 net; 2 125.50 to pay; the AE group with its legal text.
  const std::string reverse = RenderInvoiceText(testdata::ReverseCharge());
  CHECK(ValueOf(reverse, "Viitenumero (Reference)") == "RF08 1234 4");
  CHECK(ValueOf(reverse, "Maksettava yhteensä (Total to pay)") == "2 125,50 EUR");
  CHECK(ValueOf(reverse, "Veroton yhteensä (Total excluding VAT)") == "2 100,00 EUR");
  CHECK(ValueOf(reverse, "ALV yhteensä (VAT total)") == "25,50 EUR");
  CHECK(absl::StrContains(
      reverse,
      "\n    1 kpl         2 000,00   0 % AE  2 000,00   0,00  2 000,00  Asbestos "
      "removal, building A\n"));
  CHECK(absl::StrContains(reverse,
                          "\n0 % AE                     2 000,00       0,00          "
                          "2 000,00  Käännetty verovelvollisuus (AVL 8 c §)\n"));
}

TEST_CASE("The text of a credit note shows the credited invoice and negative amounts") {
  const std::string text = RenderInvoiceText(testdata::CreditNote());
  CHECK(absl::StartsWith(text, "HYVITYSLASKU (CREDIT NOTE)\n"));
  CHECK(ValueOf(text, "Hyvitettävä lasku (Credited invoice)") == "100234");
  CHECK(ValueOf(text, "Hyvitys yhteensä (Total credit)") == "-12,25 EUR");
  CHECK(ValueOf(text, "Maksuehto (Payment terms)") == "heti (immediately)");
  CHECK(absl::StrContains(
      text,
      "\n   -1 kpl             9,88     24 %    -9,88  -2,37    -12,25  Kerhohuoneen vuokra\n"));
  CHECK_FALSE(absl::StrContains(text, "Viitenumero"));
  CHECK_FALSE(absl::StrContains(text, "Virtuaaliviivakoodi"));
}

TEST_CASE("Control characters cannot break the text layout") {
  FinvoiceInvoice invoice = testdata::ConsumerOnPaper();
  invoice.buyer.name = "Matti\nMeikäläinen\r";
  const std::string text = RenderInvoiceText(invoice);
  CHECK(absl::StrContains(text, "  Matti Meikäläinen \n"));
}

TEST_CASE("The HTML invoice is a self-contained page with everything escaped") {
  FinvoiceInvoice invoice = testdata::OrganisationWithEInvoiceAddress();
  invoice.buyer.name = "<script>alert('x')</script>";
  invoice.rows[0].description = "Siivous \"elokuu\" <b>";
  const std::string html = RenderInvoiceHtml(invoice);

  CHECK(absl::StartsWith(html,
                         "<!DOCTYPE html>\n<html lang=\"fi\">\n<head>\n<meta charset=\"utf-8\">"));
  CHECK(absl::EndsWith(html, "</body>\n</html>\n"));
  CHECK(absl::StrContains(html, "<title>Lasku 2024-000123</title>"));
  // Self-contained: no external style sheet, script or image.
  CHECK_FALSE(absl::StrContains(html, "<link"));
  CHECK_FALSE(absl::StrContains(html, "src="));
  CHECK_FALSE(absl::StrContains(html, "<script"));
  CHECK(absl::StrContains(html, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
  CHECK(absl::StrContains(html, "<td>Siivous &quot;elokuu&quot; &lt;b&gt;</td>"));
  CHECK(absl::StrContains(html, "Kiitos &amp; tervetuloa &lt;uudelleen&gt;!"));

  CHECK(absl::StrContains(html, "<h1>LASKU (INVOICE)</h1>"));
  CHECK(absl::StrContains(html,
                          "<tr><th>Eräpäivä (Due date)</th><td class=\"num\">29.9.2024</td></tr>"));
  CHECK(absl::StrContains(
      html, "<tr><th>Viitenumero (Reference)</th><td class=\"num\">12345 67907</td></tr>"));
  CHECK(absl::StrContains(
      html, "<tr><th>Tilinumero (IBAN)</th><td class=\"num\">FI37 1590 3000 0007 76</td></tr>"));
  CHECK(absl::StrContains(html,
                          "<td class=\"num\">7,5</td><td>h</td><td class=\"num\">5,40</td>"
                          "<td class=\"num\">25,5 %</td><td class=\"num\">40,50</td>"
                          "<td class=\"num\">10,33</td><td class=\"num\">50,83</td>"));
  CHECK(absl::StrContains(html,
                          "<tr class=\"total\"><th>Maksettava yhteensä (Total to pay)</th>"
                          "<td class=\"num\">100,43 EUR</td></tr>"));
  CHECK(absl::StrContains(html,
                          "Virtuaaliviivakoodi (Virtual barcode):<br>\n<code>"
                          "437159030000007760001004300000000000001234567907240929</code>"));

  const std::string reverse = RenderInvoiceHtml(testdata::ReverseCharge());
  CHECK(absl::StrContains(reverse, "<td class=\"num\">2 125,50 EUR</td>"));
  CHECK(absl::StrContains(reverse, "<td>Käännetty verovelvollisuus (AVL 8 c §)</td>"));
}

}  // namespace
}  // namespace tahe::invoicing
