#pragma once

// An invoice as a person reads it: plain text (for e-mail bodies, logs of what was sent, and
// tests) and a self-contained HTML5 page (for a browser or a PDF printer). Pure: the same
// FinvoiceInvoice that WriteFinvoice takes goes in, text comes out; no gRPC, no SQL.
//
//   std::string text = RenderInvoiceText(invoice);
//   std::string html = RenderInvoiceHtml(invoice);
//
// Both carry the same content in the same order, with Finnish labels and English in
// parentheses ("Eräpäivä (Due date)"):
//  - the title: "LASKU (INVOICE)" or "HYVITYSLASKU (CREDIT NOTE)";
//  - the seller (name, address, business ID, VAT number) and the buyer (name, address, and for
//    an organisation its business ID and VAT number; a person's identity code is never part of
//    the input);
//  - the invoice facts: number, credited invoice, date, delivery date or period, buyer's
//    reference, payment terms, due date, penalty interest, the reference in print groups
//    (national "2340 96783", RF "RF18 5390 0754 7034"), IBAN in groups of four, BIC;
//  - the rows: quantity and unit, unit price, VAT %, net, VAT, gross and the description; in
//    text the numeric columns are fixed-width and the description comes last, so a long one
//    never breaks the alignment;
//  - the VAT summary per rate group (rate and category, base, VAT, gross, the group's legal text);
//  - the totals: net, VAT and the amount to pay with its currency;
//  - the free text, and the virtual barcode alone on its line after the label
//    "Virtuaaliviivakoodi (Virtual barcode):".
// Dates are Finnish (d.m.yyyy: "2.3.2026"); amounts have a decimal comma and thousands
// separated by a space ("1 234,50", "-12,00"); VAT rates "25,5 %".
//
// The input should have passed ValidateFinvoiceInvoice. If it has not, the output is still safe:
// the HTML escapes every text it prints (& < > " '), and the text replaces control characters
// with spaces so that a name cannot break the layout.
//
// All functions are thread-safe.

#include <cstdint>
#include <string>

#include "absl/time/civil_time.h"
#include "services/invoicing/finvoice.h"

namespace tahe::invoicing {

inline constexpr char kInvoiceTextContentType[] = "text/plain; charset=utf-8";
inline constexpr char kInvoiceHtmlContentType[] = "text/html; charset=utf-8";

std::string RenderInvoiceText(const FinvoiceInvoice& invoice);
std::string RenderInvoiceHtml(const FinvoiceInvoice& invoice);

// Cents with a decimal comma and thousands separated by a space: 123450 -> "1 234,50",
// -1200 -> "-12,00", 123456789 -> "1 234 567,89".
std::string FormatInvoiceAmount(int64_t cents);

// d.m.yyyy: 2026-03-02 -> "2.3.2026".
std::string FormatFinnishDate(absl::CivilDay day);

// `text` with & < > " ' as HTML character references.
std::string HtmlEscape(absl::string_view text);

}  // namespace tahe::invoicing
