#pragma once

// Hand-computed invoices shared by the Finvoice and rendering tests. Every figure is worked out in
// the comments; references and barcodes come from finnish-rules.md §1, §2 and §5 where an example
// fits.

#include <string>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "services/invoicing/finvoice.h"

namespace tahe::invoicing::testdata {

inline FinvoiceSeller Municipality() {
  return FinvoiceSeller{
      .name = "Esimerkin kunta",
      .business_id = "2077474-0",
      .vat_number = "FI20774740",
      .address = {.street = "Kunnantie 1", .postal_code = "00100", .town = "Helsinki"},
      .iban = "FI3715903000000776",
      .bic = "NDEAFIHH",
  };
}

// A consumer on paper: barcode example 1 of finnish-rules.md §5 (FI37 1590 3000 0007 76, 12.25 €,
// reference 11112, due 2016-12-21). One row at 24 %: 9.88 net, 9.88 * 0.24 = 2.3712 -> 2.37 VAT,
// 9.88 + 2.37 = 12.25 gross.
inline FinvoiceInvoice ConsumerOnPaper() {
  FinvoiceInvoice invoice;
  invoice.seller = Municipality();
  invoice.buyer = FinvoiceBuyer{
      .kind = FinvoiceBuyerKind::kPerson,
      .name = "Matti Meikäläinen",
      .address = {.street = "Kotikatu 2 A 3", .postal_code = "00200", .town = "Helsinki"},
  };
  invoice.invoice_number = "100234";
  invoice.invoice_date = absl::CivilDay(2016, 12, 7);
  invoice.delivery_date = absl::CivilDay(2016, 12, 1);
  invoice.due_date = absl::CivilDay(2016, 12, 21);
  invoice.payment_terms_days = 14;
  invoice.penalty_interest_percent = "11.5";
  invoice.reference = "11112";
  invoice.virtual_barcode = "437159030000007760000122500000000000000000011112161221";
  invoice.rows.push_back(FinvoiceRow{
      .description = "Kerhohuoneen vuokra",
      .quantity_milli = 1000,
      .unit_code = "kpl",
      .unit_price_cents = 988,
      .vat_rate_centi_percent = 2400,
      .vat_category = "S",
      .net_cents = 988,
      .vat_cents = 237,
      .gross_cents = 1225,
  });
  invoice.vat_groups.push_back(FinvoiceVatGroup{
      .vat_rate_centi_percent = 2400, .vat_category = "S", .net_cents = 988, .vat_cents = 237});
  invoice.totals = {.net_cents = 988, .vat_cents = 237, .gross_cents = 1225};
  return invoice;
}

// An RF reference: barcode example 2 of §5 (1.10 €, RF98 11112, due 2017-01-01), for a Swedish-
// speaking consumer. 0.89 net, 0.89 * 0.24 = 0.2136 -> 0.21 VAT, 1.10 gross.
inline FinvoiceInvoice ConsumerWithRfReference() {
  FinvoiceInvoice invoice = ConsumerOnPaper();
  invoice.buyer.name = "Åsa Öhman";
  invoice.buyer.language = FinvoiceLanguage::kSwedish;
  invoice.invoice_number = "100235";
  invoice.invoice_date = absl::CivilDay(2016, 12, 18);
  invoice.delivery_date = absl::CivilDay(2016, 12, 18);
  invoice.due_date = absl::CivilDay(2017, 1, 1);
  invoice.reference = "RF98 11112";
  invoice.virtual_barcode = "537159030000007760000011098000000000000000011112170101";
  invoice.rows[0] = FinvoiceRow{
      .description = "Kopior",
      .quantity_milli = 1000,
      .unit_code = "st",
      .unit_price_cents = 89,
      .vat_rate_centi_percent = 2400,
      .vat_category = "S",
      .net_cents = 89,
      .vat_cents = 21,
      .gross_cents = 110,
  };
  invoice.vat_groups[0] = FinvoiceVatGroup{
      .vat_rate_centi_percent = 2400, .vat_category = "S", .net_cents = 89, .vat_cents = 21};
  invoice.totals = {.net_cents = 89, .vat_cents = 21, .gross_cents = 110};
  return invoice;
}

// An organisation with an e-invoice address, billed across the VAT change of 2024-09-01 (24 % ->
// 25.5 %, §6), with & and < in its name:
//   August:    10 h at 4.00 = 40.00 net, 40.00 * 0.24  = 9.60 VAT,          49.60 gross
//   September: 7.5 h at 5.40 = 40.50 net, 40.50 * 0.255 = 10.3275 -> 10.33, 50.83 gross
//   totals 80.50 net + 19.93 VAT = 100.43 gross.
// Reference 12345 67907 (§5 example 4); the barcode for this IBAN, amount and due date:
//   4 | 3715903000000776 | 000100 43 | 000 | 00000000001234567907 | 240929
inline FinvoiceInvoice OrganisationWithEInvoiceAddress() {
  FinvoiceInvoice invoice;
  invoice.message_identifier = "TAHE-2024-000123";
  invoice.message_time =
      absl::FromCivil(absl::CivilSecond(2024, 9, 15, 6, 30, 0), absl::UTCTimeZone());
  invoice.time_zone = absl::FixedTimeZone(3 * 60 * 60);
  invoice.seller = Municipality();
  invoice.seller.e_invoice = {.address = "003720774740", .intermediator = "003723327487"};
  invoice.buyer = FinvoiceBuyer{
      .kind = FinvoiceBuyerKind::kOrganisation,
      .name = "Meikäläinen & Poika <Oy>",
      .business_id = "0245904-2",
      .vat_number = "FI02459042",
      .address = {.street = "Teollisuuskatu 5", .postal_code = "33100", .town = "Tampere"},
      .e_invoice = {.address = "003702459042", .intermediator = "003721291126"},
  };
  invoice.invoice_number = "2024-000123";
  invoice.buyer_reference = "KP 4711 / Åström";
  invoice.invoice_date = absl::CivilDay(2024, 9, 15);
  invoice.delivery_period_start = absl::CivilDay(2024, 8, 1);
  invoice.delivery_period_end = absl::CivilDay(2024, 9, 10);
  invoice.due_date = absl::CivilDay(2024, 9, 29);
  invoice.payment_terms_days = 14;
  invoice.penalty_interest_percent = "12,5";
  invoice.reference = "12345 67907";
  invoice.virtual_barcode = "437159030000007760001004300000000000001234567907240929";
  invoice.rows.push_back(FinvoiceRow{
      .description = "Siivous elokuu",
      .quantity_milli = 10000,
      .unit_code = "h",
      .unit_price_cents = 400,
      .delivery_date = absl::CivilDay(2024, 8, 31),
      .vat_rate_centi_percent = 2400,
      .vat_category = "S",
      .net_cents = 4000,
      .vat_cents = 960,
      .gross_cents = 4960,
  });
  invoice.rows.push_back(FinvoiceRow{
      .description = "Siivous syyskuu",
      .quantity_milli = 7500,
      .unit_code = "h",
      .unit_price_cents = 540,
      .delivery_date = absl::CivilDay(2024, 9, 10),
      .vat_rate_centi_percent = 2550,
      .vat_category = "S",
      .net_cents = 4050,
      .vat_cents = 1033,
      .gross_cents = 5083,
  });
  invoice.vat_groups = {
      {.vat_rate_centi_percent = 2400, .vat_category = "S", .net_cents = 4000, .vat_cents = 960},
      {.vat_rate_centi_percent = 2550, .vat_category = "S", .net_cents = 4050, .vat_cents = 1033},
  };
  invoice.totals = {.net_cents = 8050, .vat_cents = 1993, .gross_cents = 10043};
  invoice.free_text = "Kiitos & tervetuloa <uudelleen>!";
  return invoice;
}

// A credit note for ConsumerOnPaper: everything negative, -1 piece at 9.88; no reference, no
// barcode (a barcode cannot carry a negative amount).
inline FinvoiceInvoice CreditNote() {
  FinvoiceInvoice invoice = ConsumerOnPaper();
  invoice.type = FinvoiceType::kCreditNote;
  invoice.invoice_number = "100240";
  invoice.original_invoice_number = "100234";
  invoice.invoice_date = absl::CivilDay(2016, 12, 12);
  invoice.due_date = absl::CivilDay(2016, 12, 12);
  invoice.payment_terms_days = 0;
  invoice.penalty_interest_percent.clear();
  invoice.reference.clear();
  invoice.virtual_barcode.clear();
  invoice.rows[0].quantity_milli = -1000;
  invoice.rows[0].net_cents = -988;
  invoice.rows[0].vat_cents = -237;
  invoice.rows[0].gross_cents = -1225;
  invoice.vat_groups[0].net_cents = -988;
  invoice.vat_groups[0].vat_cents = -237;
  invoice.totals = {.net_cents = -988, .vat_cents = -237, .gross_cents = -1225};
  return invoice;
}

// Reverse charge (AVL 8 c §) to a construction company, in English, with one standard-rated row:
//   asbestos removal 2 000.00 net, category AE, 0 % -> no VAT
//   waste transport    100.00 net, 25.5 % -> 25.50 VAT, 125.50 gross
//   totals 2 100.00 net + 25.50 VAT = 2 125.50 gross.
// RF reference RF08 12344 (§2); the barcode version 5 for this IBAN, amount and due date:
//   5 | 3715903000000776 | 002125 50 | 08 | 000000000000000012344 | 260316
inline FinvoiceInvoice ReverseCharge() {
  FinvoiceInvoice invoice;
  invoice.seller = Municipality();
  invoice.buyer = FinvoiceBuyer{
      .kind = FinvoiceBuyerKind::kOrganisation,
      .name = "Rakennus Äijälä Oy",
      .business_id = "1032053-4",
      .vat_number = "FI10320534",
      .address = {.street = "Sorakuja 3", .postal_code = "40100", .town = "Jyväskylä"},
      .language = FinvoiceLanguage::kEnglish,
  };
  invoice.invoice_number = "2026-000042";
  invoice.invoice_date = absl::CivilDay(2026, 3, 2);
  invoice.delivery_date = absl::CivilDay(2026, 2, 27);
  invoice.due_date = absl::CivilDay(2026, 3, 16);
  invoice.reference = "RF08 12344";
  invoice.virtual_barcode = "537159030000007760021255008000000000000000012344260316";
  invoice.rows.push_back(FinvoiceRow{
      .description = "Asbestos removal, building A",
      .quantity_milli = 1000,
      .unit_code = "kpl",
      .unit_price_cents = 200000,
      .vat_rate_centi_percent = 0,
      .vat_category = "AE",
      .net_cents = 200000,
      .vat_cents = 0,
      .gross_cents = 200000,
  });
  invoice.rows.push_back(FinvoiceRow{
      .description = "Waste transport",
      .quantity_milli = 1000,
      .unit_code = "kpl",
      .unit_price_cents = 10000,
      .vat_rate_centi_percent = 2550,
      .vat_category = "S",
      .net_cents = 10000,
      .vat_cents = 2550,
      .gross_cents = 12550,
  });
  invoice.vat_groups = {
      {.vat_rate_centi_percent = 0,
       .vat_category = "AE",
       .net_cents = 200000,
       .vat_cents = 0,
       .free_text = "Käännetty verovelvollisuus (AVL 8 c §)",
       .exemption_reason_code = "VATEX-EU-AE"},
      {.vat_rate_centi_percent = 2550, .vat_category = "S", .net_cents = 10000, .vat_cents = 2550},
  };
  invoice.totals = {.net_cents = 210000, .vat_cents = 2550, .gross_cents = 212550};
  return invoice;
}

}  // namespace tahe::invoicing::testdata
