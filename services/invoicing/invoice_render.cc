#include "services/invoicing/invoice_render.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "libs/fi/iban.h"
#include "libs/fi/reference.h"

namespace tahe::invoicing {
namespace {

// What both renderings show, already formatted; built once so that text and HTML cannot drift.
struct Fact {
  std::string label;
  std::string value;
};

struct Party {
  std::string heading;
  std::vector<std::string> lines;
};

struct RowCells {
  std::string quantity;
  std::string unit;
  std::string unit_price;
  std::string vat_rate;
  std::string net;
  std::string vat;
  std::string gross;
  std::string description;
};

struct VatCells {
  std::string rate;
  std::string net;
  std::string vat;
  std::string gross;
  std::string text;
};

struct InvoiceView {
  std::string title;
  std::string short_title;
  Party seller;
  Party buyer;
  std::vector<Fact> facts;
  std::vector<RowCells> rows;
  std::vector<VatCells> vat_groups;
  std::vector<Fact> totals;
  std::string free_text;
  std::string barcode;
};

constexpr absl::string_view kBarcodeLabel = "Virtuaaliviivakoodi (Virtual barcode):";

// Control characters (which the input should not have) become spaces, so that no value can break
// a line of the text layout.
std::string Clean(absl::string_view text) {
  std::string out(text);
  for (char& c : out) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) {
      c = ' ';
    }
  }
  return out;
}

std::string FormatRate(int64_t centi_percent) {
  return absl::StrCat(FormatFinvoicePercent(centi_percent), " %");
}

// The rate, and the category unless it is the standard one: "25,5 %", "0 % AE".
std::string FormatRateAndCategory(int64_t centi_percent, absl::string_view category) {
  std::string out = FormatRate(centi_percent);
  if (category != "S") {
    absl::StrAppend(&out, " ", Clean(category));
  }
  return out;
}

std::string FormatReference(absl::string_view reference) {
  const std::string compact = absl::StrReplaceAll(reference, {{" ", ""}});
  if (compact.size() >= 2 && absl::AsciiStrToUpper(compact.substr(0, 2)) == "RF") {
    return fi::FormatRfReference(compact);
  }
  return fi::FormatNationalReference(compact);
}

Party SellerOf(const FinvoiceSeller& seller) {
  Party party{.heading = "Myyjä (Seller)"};
  party.lines = {Clean(seller.name), Clean(seller.address.street),
                 Clean(absl::StrCat(seller.address.postal_code, " ", seller.address.town))};
  if (seller.address.country_code != "FI") {
    party.lines.push_back(Clean(seller.address.country_code));
  }
  party.lines.push_back(absl::StrCat("Y-tunnus (Business ID): ", Clean(seller.business_id)));
  if (!seller.vat_number.empty()) {
    party.lines.push_back(absl::StrCat("ALV-numero (VAT number): ", Clean(seller.vat_number)));
  }
  return party;
}

Party BuyerOf(const FinvoiceBuyer& buyer) {
  Party party{.heading = "Ostaja (Buyer)"};
  party.lines = {Clean(buyer.name), Clean(buyer.address.street),
                 Clean(absl::StrCat(buyer.address.postal_code, " ", buyer.address.town))};
  if (buyer.address.country_code != "FI") {
    party.lines.push_back(Clean(buyer.address.country_code));
  }
  if (buyer.kind == FinvoiceBuyerKind::kOrganisation) {
    if (!buyer.business_id.empty()) {
      party.lines.push_back(absl::StrCat("Y-tunnus (Business ID): ", Clean(buyer.business_id)));
    }
    if (!buyer.vat_number.empty()) {
      party.lines.push_back(absl::StrCat("ALV-numero (VAT number): ", Clean(buyer.vat_number)));
    }
  }
  return party;
}

std::vector<Fact> FactsOf(const FinvoiceInvoice& invoice) {
  std::vector<Fact> facts;
  facts.push_back({"Laskun numero (Invoice number)", Clean(invoice.invoice_number)});
  if (invoice.type == FinvoiceType::kCreditNote) {
    facts.push_back(
        {"Hyvitettävä lasku (Credited invoice)", Clean(invoice.original_invoice_number)});
  }
  facts.push_back({"Laskun päivämäärä (Invoice date)", FormatFinnishDate(invoice.invoice_date)});
  if (invoice.delivery_date.has_value()) {
    facts.push_back({"Toimituspäivä (Delivery date)", FormatFinnishDate(*invoice.delivery_date)});
  }
  if (invoice.delivery_period_start.has_value() && invoice.delivery_period_end.has_value()) {
    facts.push_back({"Toimituskausi (Delivery period)",
                     absl::StrCat(FormatFinnishDate(*invoice.delivery_period_start), "–",
                                  FormatFinnishDate(*invoice.delivery_period_end))});
  }
  if (!invoice.buyer_reference.empty()) {
    facts.push_back({"Tilaajan viite (Buyer reference)", Clean(invoice.buyer_reference)});
  }
  facts.push_back(
      {"Maksuehto (Payment terms)", invoice.payment_terms_days == 0
                                        ? std::string("heti (immediately)")
                                        : absl::StrCat(invoice.payment_terms_days, " pv netto (",
                                                       invoice.payment_terms_days, " days net)")});
  facts.push_back({"Eräpäivä (Due date)", FormatFinnishDate(invoice.due_date)});
  if (!invoice.penalty_interest_percent.empty()) {
    facts.push_back(
        {"Viivästyskorko (Penalty interest)",
         absl::StrCat(Clean(absl::StrReplaceAll(invoice.penalty_interest_percent, {{".", ","}})),
                      " %")});
  }
  if (!invoice.reference.empty()) {
    facts.push_back({"Viitenumero (Reference)", Clean(FormatReference(invoice.reference))});
  }
  facts.push_back({"Tilinumero (IBAN)", Clean(fi::FormatIban(invoice.seller.iban))});
  facts.push_back({"BIC", Clean(invoice.seller.bic)});
  return facts;
}

InvoiceView ViewOf(const FinvoiceInvoice& invoice) {
  InvoiceView view;
  const bool credit = invoice.type == FinvoiceType::kCreditNote;
  view.title = credit ? "HYVITYSLASKU (CREDIT NOTE)" : "LASKU (INVOICE)";
  view.short_title =
      absl::StrCat(credit ? "Hyvityslasku" : "Lasku", " ", Clean(invoice.invoice_number));
  view.seller = SellerOf(invoice.seller);
  view.buyer = BuyerOf(invoice.buyer);
  view.facts = FactsOf(invoice);
  for (const FinvoiceRow& row : invoice.rows) {
    view.rows.push_back(RowCells{
        .quantity = FormatFinvoiceQuantity(row.quantity_milli),
        .unit = Clean(row.unit_code),
        .unit_price = FormatInvoiceAmount(row.unit_price_cents),
        .vat_rate = FormatRateAndCategory(row.vat_rate_centi_percent, row.vat_category),
        .net = FormatInvoiceAmount(row.net_cents),
        .vat = FormatInvoiceAmount(row.vat_cents),
        .gross = FormatInvoiceAmount(row.gross_cents),
        .description = Clean(row.description),
    });
  }
  for (const FinvoiceVatGroup& group : invoice.vat_groups) {
    view.vat_groups.push_back(VatCells{
        .rate = FormatRateAndCategory(group.vat_rate_centi_percent, group.vat_category),
        .net = FormatInvoiceAmount(group.net_cents),
        .vat = FormatInvoiceAmount(group.vat_cents),
        .gross = FormatInvoiceAmount(group.net_cents + group.vat_cents),
        .text = Clean(group.free_text),
    });
  }
  const std::string currency = Clean(invoice.currency);
  view.totals = {
      {"Veroton yhteensä (Total excluding VAT)",
       absl::StrCat(FormatInvoiceAmount(invoice.totals.net_cents), " ", currency)},
      {"ALV yhteensä (VAT total)",
       absl::StrCat(FormatInvoiceAmount(invoice.totals.vat_cents), " ", currency)},
      {credit ? "Hyvitys yhteensä (Total credit)" : "Maksettava yhteensä (Total to pay)",
       absl::StrCat(FormatInvoiceAmount(invoice.totals.gross_cents), " ", currency)},
  };
  view.free_text = Clean(invoice.free_text);
  view.barcode = Clean(invoice.virtual_barcode);
  return view;
}

// --- Text ---------------------------------------------------------------------------------------

// Padding counts characters, not bytes, so that ä and ö keep the columns straight.
std::string PadRight(absl::string_view text, int width) {
  std::string out(text);
  out.append(std::max(0, width - Utf8Length(text)), ' ');
  return out;
}

std::string PadLeft(absl::string_view text, int width) {
  std::string out(std::max(0, width - Utf8Length(text)), ' ');
  absl::StrAppend(&out, text);
  return out;
}

void StripTrailingSpaces(std::string& line) {
  while (!line.empty() && line.back() == ' ') {
    line.pop_back();
  }
}

// "Label:" padded to the longest label, then the value; amounts (`right_aligned`) line up on
// their last digit.
void AppendFacts(std::string& out, const std::vector<Fact>& facts, bool right_aligned) {
  int label_width = 0;
  int value_width = 0;
  for (const Fact& fact : facts) {
    label_width = std::max(label_width, Utf8Length(fact.label) + 1);
    value_width = std::max(value_width, Utf8Length(fact.value));
  }
  for (const Fact& fact : facts) {
    std::string line = absl::StrCat(PadRight(absl::StrCat(fact.label, ":"), label_width), "  ",
                                    right_aligned ? PadLeft(fact.value, value_width) : fact.value);
    StripTrailingSpaces(line);
    absl::StrAppend(&out, line, "\n");
  }
}

void AppendParty(std::string& out, const Party& party) {
  absl::StrAppend(&out, party.heading, "\n");
  for (const std::string& line : party.lines) {
    absl::StrAppend(&out, "  ", line, "\n");
  }
}

// One table line: cells right-aligned in their widths (the first `left` of them left-aligned),
// two spaces apart, then the free-width last cell.
std::string TableLine(const std::vector<std::string>& cells, const std::vector<int>& widths,
                      size_t left) {
  std::string line;
  for (size_t i = 0; i < widths.size(); ++i) {
    absl::StrAppend(&line, i == 0 ? "" : "  ",
                    i < left ? PadRight(cells[i], widths[i]) : PadLeft(cells[i], widths[i]));
  }
  if (cells.size() > widths.size()) {
    absl::StrAppend(&line, "  ", cells.back());
  }
  StripTrailingSpaces(line);
  absl::StrAppend(&line, "\n");
  return line;
}

// The column widths: the widest of the headers and the cells.
std::vector<int> WidthsOf(const std::vector<std::vector<std::string>>& lines, size_t columns) {
  std::vector<int> widths(columns, 0);
  for (const std::vector<std::string>& cells : lines) {
    for (size_t i = 0; i < columns; ++i) {
      widths[i] = std::max(widths[i], Utf8Length(cells[i]));
    }
  }
  return widths;
}

void AppendTable(std::string& out, std::vector<std::vector<std::string>> lines, size_t columns,
                 size_t left) {
  const std::vector<int> widths = WidthsOf(lines, columns);
  for (const std::vector<std::string>& cells : lines) {
    out += TableLine(cells, widths, left);
  }
}

void AppendRowsText(std::string& out, const std::vector<RowCells>& rows) {
  std::vector<std::vector<std::string>> lines = {
      {"Määrä", "Yks.", "À-hinta", "ALV", "Veroton", "ALV €", "Yhteensä", "Kuvaus"},
      {"(Qty)", "(Unit)", "(Unit price)", "(VAT %)", "(Net)", "(VAT)", "(Total)", "(Description)"},
  };
  for (const RowCells& row : rows) {
    lines.push_back({row.quantity, row.unit, row.unit_price, row.vat_rate, row.net, row.vat,
                     row.gross, row.description});
  }
  // Columns: quantity right, unit left, then numbers right; the description is free-width.
  const std::vector<int> widths = WidthsOf(lines, 7);
  for (const std::vector<std::string>& cells : lines) {
    std::string line = PadLeft(cells[0], widths[0]);
    absl::StrAppend(&line, " ", PadRight(cells[1], widths[1]));
    for (size_t i = 2; i < 7; ++i) {
      absl::StrAppend(&line, "  ", PadLeft(cells[i], widths[i]));
    }
    absl::StrAppend(&line, "  ", cells[7]);
    StripTrailingSpaces(line);
    absl::StrAppend(&out, line, "\n");
  }
}

void AppendVatText(std::string& out, const std::vector<VatCells>& groups) {
  std::vector<std::vector<std::string>> lines = {
      {"ALV-kanta (VAT rate)", "Veroton (Net)", "ALV (VAT)", "Yhteensä (Total)", ""},
  };
  for (const VatCells& group : groups) {
    lines.push_back({group.rate, group.net, group.vat, group.gross, group.text});
  }
  AppendTable(out, std::move(lines), 4, 1);
}

// --- HTML ---------------------------------------------------------------------------------------

constexpr absl::string_view kStyle =
    "body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em}"
    "table{border-collapse:collapse;margin:1em 0}"
    "th,td{padding:.2em .6em;text-align:left;vertical-align:top}"
    "th{border-bottom:1px solid #888}"
    ".num{text-align:right;white-space:nowrap}"
    ".parties{display:flex;gap:4em}"
    ".total th,.total td{border-top:1px solid #888;font-weight:bold}"
    ".barcode code{font-size:1.1em;word-break:break-all}";

void AppendHtmlParty(std::string& out, const Party& party) {
  absl::StrAppend(&out, "<div class=\"party\">\n<h2>", HtmlEscape(party.heading), "</h2>\n<p>");
  for (size_t i = 0; i < party.lines.size(); ++i) {
    absl::StrAppend(&out, i == 0 ? "" : "<br>\n", HtmlEscape(party.lines[i]));
  }
  absl::StrAppend(&out, "</p>\n</div>\n");
}

void AppendHtmlCells(std::string& out, absl::string_view tag,
                     const std::vector<std::pair<std::string, bool>>& cells) {
  absl::StrAppend(&out, "<tr>");
  for (const auto& [text, numeric] : cells) {
    absl::StrAppend(&out, "<", tag, numeric ? " class=\"num\"" : "", ">", HtmlEscape(text), "</",
                    tag, ">");
  }
  absl::StrAppend(&out, "</tr>\n");
}

void AppendHtmlRows(std::string& out, const std::vector<RowCells>& rows) {
  out += "<table class=\"rows\">\n<thead>\n";
  AppendHtmlCells(out, "th",
                  {{"Kuvaus (Description)", false},
                   {"Määrä (Qty)", true},
                   {"Yks. (Unit)", false},
                   {"À-hinta (Unit price)", true},
                   {"ALV (VAT %)", true},
                   {"Veroton (Net)", true},
                   {"ALV (VAT)", true},
                   {"Yhteensä (Total)", true}});
  out += "</thead>\n<tbody>\n";
  for (const RowCells& row : rows) {
    AppendHtmlCells(out, "td",
                    {{row.description, false},
                     {row.quantity, true},
                     {row.unit, false},
                     {row.unit_price, true},
                     {row.vat_rate, true},
                     {row.net, true},
                     {row.vat, true},
                     {row.gross, true}});
  }
  out += "</tbody>\n</table>\n";
}

void AppendHtmlVat(std::string& out, const std::vector<VatCells>& groups) {
  out += "<h2>ALV-erittely (VAT breakdown)</h2>\n<table class=\"vat\">\n<thead>\n";
  AppendHtmlCells(out, "th",
                  {{"ALV-kanta (VAT rate)", true},
                   {"Veroton (Net)", true},
                   {"ALV (VAT)", true},
                   {"Yhteensä (Total)", true},
                   {"", false}});
  out += "</thead>\n<tbody>\n";
  for (const VatCells& group : groups) {
    AppendHtmlCells(out, "td",
                    {{group.rate, true},
                     {group.net, true},
                     {group.vat, true},
                     {group.gross, true},
                     {group.text, false}});
  }
  out += "</tbody>\n</table>\n";
}

void AppendHtmlFacts(std::string& out, const std::vector<Fact>& facts, absl::string_view css,
                     size_t highlight_last) {
  absl::StrAppend(&out, "<table class=\"", css, "\">\n");
  for (size_t i = 0; i < facts.size(); ++i) {
    const bool total = i + highlight_last >= facts.size();
    absl::StrAppend(&out, total ? "<tr class=\"total\">" : "<tr>", "<th>",
                    HtmlEscape(facts[i].label), "</th><td class=\"num\">",
                    HtmlEscape(facts[i].value), "</td></tr>\n");
  }
  out += "</table>\n";
}

}  // namespace

std::string FormatInvoiceAmount(int64_t cents) {
  // In unsigned arithmetic, so that the most negative value has a magnitude too.
  const uint64_t magnitude =
      cents < 0 ? uint64_t{0} - static_cast<uint64_t>(cents) : static_cast<uint64_t>(cents);
  const std::string euros = absl::StrCat(magnitude / 100);
  std::string out = cents < 0 ? "-" : "";
  for (size_t i = 0; i < euros.size(); ++i) {
    if (i > 0 && (euros.size() - i) % 3 == 0) {
      out.push_back(' ');
    }
    out.push_back(euros[i]);
  }
  absl::StrAppend(&out, absl::StrFormat(",%02d", static_cast<int>(magnitude % 100)));
  return out;
}

std::string FormatFinnishDate(absl::CivilDay day) {
  return absl::StrCat(day.day(), ".", day.month(), ".", day.year());
}

std::string HtmlEscape(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::string RenderInvoiceText(const FinvoiceInvoice& invoice) {
  const InvoiceView view = ViewOf(invoice);
  std::string out = absl::StrCat(view.title, "\n\n");
  AppendParty(out, view.seller);
  out += "\n";
  AppendParty(out, view.buyer);
  out += "\n";
  AppendFacts(out, view.facts, /*right_aligned=*/false);
  out += "\n";
  AppendRowsText(out, view.rows);
  out += "\nALV-erittely (VAT breakdown)\n";
  AppendVatText(out, view.vat_groups);
  out += "\n";
  AppendFacts(out, view.totals, /*right_aligned=*/true);
  if (!view.free_text.empty()) {
    absl::StrAppend(&out, "\n", view.free_text, "\n");
  }
  if (!view.barcode.empty()) {
    absl::StrAppend(&out, "\n", kBarcodeLabel, "\n", view.barcode, "\n");
  }
  return out;
}

std::string RenderInvoiceHtml(const FinvoiceInvoice& invoice) {
  const InvoiceView view = ViewOf(invoice);
  std::string out = absl::StrCat(
      "<!DOCTYPE html>\n<html lang=\"fi\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>",
      HtmlEscape(view.short_title), "</title>\n<style>", kStyle, "</style>\n</head>\n<body>\n",
      "<h1>", HtmlEscape(view.title), "</h1>\n<div class=\"parties\">\n");
  AppendHtmlParty(out, view.seller);
  AppendHtmlParty(out, view.buyer);
  out += "</div>\n";
  AppendHtmlFacts(out, view.facts, "facts", 0);
  AppendHtmlRows(out, view.rows);
  AppendHtmlVat(out, view.vat_groups);
  AppendHtmlFacts(out, view.totals, "totals", 1);
  if (!view.free_text.empty()) {
    absl::StrAppend(&out, "<p class=\"free-text\">", HtmlEscape(view.free_text), "</p>\n");
  }
  if (!view.barcode.empty()) {
    absl::StrAppend(&out, "<p class=\"barcode\">", HtmlEscape(kBarcodeLabel), "<br>\n<code>",
                    HtmlEscape(view.barcode), "</code></p>\n");
  }
  out += "</body>\n</html>\n";
  return out;
}

}  // namespace tahe::invoicing
