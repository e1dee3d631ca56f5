#include "services/invoicing/invoicing_model.h"

#include <catch2/catch.hpp>
#include <map>
#include <string>

#include "libs/fi/reference.h"

namespace tahe::invoicing {
namespace {

const std::string kKey(32, 'k');

v1::InvoicingSettings Seller() {
  v1::InvoicingSettings s;
  s.set_seller_name("Lahden kaupunki");
  s.set_business_id("0201256-6");
  s.set_iban("FI21 1234 5600 0007 85");
  s.set_bic("NDEAFIHH");
  return s;
}

v1::Customer Person() {
  v1::Customer c;
  c.set_customer_number("C-1");
  c.set_kind(v1::CUSTOMER_KIND_PERSON);
  c.set_name("Matti Meikäläinen");
  c.set_personal_identity_code("131052-308T");
  c.mutable_address()->set_street("Kauppakatu 1");
  c.mutable_address()->set_postal_code("15140");
  c.mutable_address()->set_city("Lahti");
  return c;
}

std::string ErrorOf(const absl::Status& status) { return std::string(status.message()); }

TEST_CASE("settings get their defaults, and errors name the field", "[settings]") {
  absl::StatusOr<v1::InvoicingSettings> s = NormaliseSettings(Seller());
  REQUIRE(s.ok());
  CHECK(s->iban() == "FI2112345600000785");
  CHECK(s->payment_terms_days() == 14);
  CHECK(s->accounts().receivables() == "1700");
  CHECK(s->accounts().vat_payable() == "2850");
  REQUIRE(s->series_size() == 1);
  CHECK(s->series(0).code() == "L");
  CHECK(s->address().country() == "FI");
  CHECK(s->reference_prefix() == "1");
  CHECK(s->series(0).reference_prefix() == "1");

  v1::InvoicingSettings bad = Seller();
  bad.set_business_id("0201256-5");
  CHECK(ErrorOf(NormaliseSettings(bad).status()).find("settings.business_id") == 0);
  bad = Seller();
  bad.set_iban("DE89370400440532013000");
  CHECK(ErrorOf(NormaliseSettings(bad).status()).find("settings.iban") == 0);
  bad = Seller();
  bad.mutable_accounts()->set_bank("19x0");
  CHECK(ErrorOf(NormaliseSettings(bad).status()).find("settings.accounts.bank") == 0);
  // Series "L" with prefix "1" and series "K" with prefix "12": invoice L-23 and K-3 would both
  // have the reference base 123.
  bad = Seller();
  bad.set_reference_prefix("012");
  CHECK(ErrorOf(NormaliseSettings(bad).status()).find("settings.reference_prefix") == 0);
  bad = Seller();
  bad.set_reference_prefix("1");
  v1::InvoiceSeries* k = bad.add_series();
  k->set_code("K");
  k->set_reference_prefix("12");
  absl::Status clash = NormaliseSettings(bad).status();
  CHECK(clash.code() == absl::StatusCode::kInvalidArgument);
  CHECK(ErrorOf(clash).find("reference_prefix") != std::string::npos);
}

TEST_CASE("customers: identity code hashed and dropped, organisations need a Y-tunnus",
          "[customers]") {
  absl::StatusOr<ValidCustomer> person = ValidateCustomer(Person(), kKey);
  REQUIRE(person.ok());
  CHECK(person->customer.personal_identity_code().empty());
  CHECK(person->customer.has_personal_identity_code());
  CHECK(person->identity_hash.size() == 64);
  CHECK(person->customer.delivery_channel() == v1::DELIVERY_CHANNEL_PAPER);
  CHECK(person->customer.language() == "fi");
  v1::Customer no_street = Person();
  no_street.mutable_address()->clear_street();
  CHECK(ErrorOf(ValidateCustomer(no_street, kKey).status()).find("customer.address.street") == 0);

  v1::Customer bad = Person();
  bad.set_personal_identity_code("131052-308U");
  absl::Status status = ValidateCustomer(bad, kKey).status();
  CHECK(ErrorOf(status).find("customer.personal_identity_code") == 0);
  // The code itself is never quoted back.
  CHECK(ErrorOf(status).find("131052") == std::string::npos);

  v1::Customer org;
  org.set_customer_number("ORG-7");
  org.set_kind(v1::CUSTOMER_KIND_ORGANISATION);
  org.set_name("Päijät-Hämeen hyvinvointialue");
  org.mutable_address()->set_street("Keskussairaalankatu 7");
  org.mutable_address()->set_postal_code("15850");
  org.mutable_address()->set_city("Lahti");
  CHECK(ErrorOf(ValidateCustomer(org, kKey).status()).find("customer.business_id") == 0);
  org.set_business_id("0201256-6");
  org.set_delivery_channel(v1::DELIVERY_CHANNEL_EINVOICE);
  CHECK(ErrorOf(ValidateCustomer(org, kKey).status()).find("customer.einvoice_address") == 0);
  org.set_einvoice_address("003702012566");
  org.set_einvoice_operator("003721291126");
  CHECK(ValidateCustomer(org, kKey).ok());
}

struct Fixture {
  v1::InvoicingSettings settings = *NormaliseSettings(Seller());
  v1::Customer customer = ValidateCustomer(Person(), kKey)->customer;
  std::map<std::string, v1::Product> products;
  v1::PriceList price_list;

  Fixture() {
    v1::Product care;
    care.set_code("KOTIHOITO");
    care.set_name("Kotihoito");
    care.set_unit("h");
    care.set_unit_price_cents(4000);
    care.set_vat_category(v1::VAT_CATEGORY_GENERAL);
    care.set_sales_account("3100");
    care.set_cost_centre("CC-200");
    products["KOTIHOITO"] = *ValidateProduct(care);
    price_list.set_name("SENIORI");
    (*price_list.mutable_prices())["KOTIHOITO"] = 3500;
  }
  Catalog catalog(const v1::PriceList* list = nullptr) {
    return {
        .settings = &settings, .customer = &customer, .products = &products, .price_list = list};
  }
};

v1::InvoiceDraftInput TwoDeliveries() {
  // 1.5 h delivered 31.8.2024 (24 %) and 2 h delivered 2.9.2024 (25.5 %).
  v1::InvoiceDraftInput in;
  in.set_invoice_id("inv-1");
  in.set_delivery_date("2024-09-02");
  v1::LineInput* a = in.add_lines();
  a->set_product_code("KOTIHOITO");
  a->set_quantity_milli(1500);
  a->set_delivery_date("2024-08-31");
  v1::LineInput* b = in.add_lines();
  b->set_product_code("KOTIHOITO");
  b->set_quantity_milli(2000);
  return in;
}

TEST_CASE("a draft is priced per line and taxed per rate group by delivery date", "[draft]") {
  Fixture f;
  absl::StatusOr<v1::Invoice> draft = PriceDraft(TwoDeliveries(), "invoice", f.catalog());
  REQUIRE(draft.ok());
  // 1.5 × 40.00 = 60.00 at 24 % → VAT 14.40; 2 × 40.00 = 80.00 at 25.5 % → VAT 20.40.
  REQUIRE(draft->lines_size() == 2);
  CHECK(draft->lines(0).net_cents() == 6000);
  CHECK(draft->lines(0).vat_rate_ppm() == 240000);
  CHECK(draft->lines(1).net_cents() == 8000);
  CHECK(draft->lines(1).vat_rate_ppm() == 255000);
  CHECK(draft->lines(1).delivery_date() == "2024-09-02");
  CHECK(draft->lines(0).sales_account() == "3100");
  CHECK(draft->lines(0).cost_centre() == "CC-200");
  REQUIRE(draft->vat_groups_size() == 2);
  CHECK(draft->net_cents() == 14000);
  CHECK(draft->vat_cents() == 1440 + 2040);
  CHECK(draft->gross_cents() == 17480);
  CHECK(draft->status() == v1::INVOICE_STATUS_DRAFT);
  CHECK(draft->payment_terms_days() == 14);

  // The customer's price list: 2 × 35.00 = 70.00 at 25.5 % → 17.85.
  absl::StatusOr<v1::Invoice> listed =
      PriceDraft(TwoDeliveries(), "invoice", f.catalog(&f.price_list));
  REQUIRE(listed.ok());
  CHECK(listed->lines(1).net_cents() == 7000);
  CHECK(listed->vat_cents() == 1260 + 1785);
}

TEST_CASE("bad draft lines are refused naming the line and the field", "[draft]") {
  Fixture f;
  v1::InvoiceDraftInput in = TwoDeliveries();
  in.mutable_lines(1)->set_product_code("NOPE");
  CHECK(ErrorOf(PriceDraft(in, "invoice", f.catalog()).status())
            .find("invoice.lines[1].product_code") == 0);
  in = TwoDeliveries();
  in.mutable_lines(0)->set_quantity_milli(-1000);
  CHECK(ErrorOf(PriceDraft(in, "invoice", f.catalog()).status()).find("invoice.lines[0]") == 0);
  in = TwoDeliveries();
  in.mutable_lines(0)->set_discount_ppm(12345);
  CHECK(ErrorOf(PriceDraft(in, "invoice", f.catalog()).status())
            .find("invoice.lines[0].discount_ppm") == 0);
  in = TwoDeliveries();
  in.mutable_lines(0)->set_delivery_date("2024-02-30");
  CHECK(ErrorOf(PriceDraft(in, "invoice", f.catalog()).status())
            .find("invoice.lines[0].delivery_date") == 0);
  in = TwoDeliveries();
  in.clear_lines();
  CHECK(ErrorOf(PriceDraft(in, "invoice", f.catalog()).status()).find("invoice.lines") == 0);
  in = TwoDeliveries();
  v1::LineInput* free = in.add_lines();
  free->set_description("Ilman tuotetta");
  free->set_quantity_milli(1000);
  CHECK(ErrorOf(PriceDraft(in, "invoice", f.catalog()).status())
            .find("invoice.lines[2].unit_price_cents") == 0);
}

TEST_CASE("issuing gives the number, due date, references and barcode", "[issue]") {
  Fixture f;
  v1::Invoice invoice = *PriceDraft(TwoDeliveries(), "invoice", f.catalog());
  REQUIRE(ApplyIssue(f.settings, 1042, absl::CivilDay(2026, 11, 23), &invoice).ok());
  CHECK(invoice.status() == v1::INVOICE_STATUS_ISSUED);
  CHECK(invoice.display_number() == "L-1042");
  CHECK(invoice.invoice_date() == "2026-11-23");
  CHECK(invoice.due_date() == "2026-12-07");  // 14 days net
  // Default prefix 1, base 11042. 7-3-1 from the right: 2×7 + 4×3 + 0×1 + 1×7 + 1×3 = 36 → check
  // digit 40 − 36 = 4.
  CHECK(invoice.reference() == "110424");
  CHECK(invoice.rf_reference() == *fi::RfReferenceOfNational("110424"));
  CHECK(invoice.open_cents() == 17480);
  // Version 4: IBAN digits, 174.80 € as 000174 80, "000", the reference in 20 digits, due date.
  CHECK(invoice.virtual_barcode() ==
        "4"
        "2112345600000785"
        "00017480"
        "000"
        "00000000000000110424"
        "261207");

  f.settings.set_use_rf_reference(true);
  v1::Invoice rf = *PriceDraft(TwoDeliveries(), "invoice", f.catalog());
  REQUIRE(ApplyIssue(f.settings, 1042, absl::CivilDay(2026, 11, 23), &rf).ok());
  CHECK(rf.virtual_barcode().substr(0, 1) == "5");

  v1::Invoice other_series = *PriceDraft(TwoDeliveries(), "invoice", f.catalog());
  other_series.set_series("X");
  CHECK(ApplyIssue(f.settings, 1, absl::CivilDay(2026, 11, 23), &other_series).code() ==
        absl::StatusCode::kFailedPrecondition);
}

TEST_CASE("a credit note negates the credited lines and posts the opposite", "[credit]") {
  Fixture f;
  v1::Invoice invoice = *PriceDraft(TwoDeliveries(), "invoice", f.catalog());
  REQUIRE(ApplyIssue(f.settings, 7, absl::CivilDay(2026, 11, 23), &invoice).ok());
  // Invoice 7 is padded: base 1007, 7×7 + 0×3 + 0×1 + 1×7 = 56 → check digit 4.
  CHECK(invoice.reference() == "10074");
  absl::StatusOr<v1::Invoice> note = CreditNoteDraft(invoice, {2}, "cn-1", "");
  REQUIRE(note.ok());
  REQUIRE(note->lines_size() == 1);
  CHECK(note->lines(0).quantity_milli() == -2000);
  CHECK(note->gross_cents() == -(8000 + 2040));
  CHECK(note->credits_invoice_id() == "inv-1");
  CHECK(CreditNoteDraft(invoice, {3}, "cn-2", "").status().code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(CreditNoteDraft(*note, {}, "cn-3", "").status().code() ==
        absl::StatusCode::kFailedPrecondition);

  SalesTotals totals;
  totals.Add(invoice);
  totals.Add(*note);
  absl::StatusOr<ledger::v1::EntryDraft> posting = BuildSalesPosting(
      f.settings.accounts(), totals,
      {.entry_date = "2026-11-23", .description = "Myyntilaskut", .reference = "L-7"});
  REQUIRE(posting.ok());
  // Receivables 174.80 − 100.40 = 74.40; sales 3100/CC-200 −(140.00 − 80.00) = −60.00;
  // VAT −(34.80 − 20.40) = −14.40.
  std::map<std::string, int64_t> by_account;
  int64_t sum = 0;
  for (const ledger::v1::EntryLine& line : posting->lines()) {
    by_account[line.account()] += line.amount().amount_minor();
    sum += line.amount().amount_minor();
  }
  CHECK(sum == 0);
  CHECK(by_account["1700"] == 7440);
  CHECK(by_account["3100"] == -6000);
  CHECK(by_account["2850"] == -1440);
  CHECK(posting->source().system() == "invoicing");
}

TEST_CASE("payment, allocation and reminder postings balance", "[posting]") {
  Fixture f;
  const v1::PostingAccounts& a = f.settings.accounts();
  PostingHeader header{.entry_date = "2026-11-23", .description = "x", .reference = "r"};
  absl::StatusOr<ledger::v1::EntryDraft> paid = BuildPaymentPosting(a, 10000, 7000, header);
  REQUIRE(paid.ok());
  REQUIRE(paid->lines_size() == 3);
  CHECK(paid->lines(0).account() == "1910");
  CHECK(paid->lines(0).amount().amount_minor() == 10000);
  CHECK(paid->lines(1).amount().amount_minor() == -7000);
  CHECK(paid->lines(2).account() == "2900");
  CHECK(paid->lines(2).amount().amount_minor() == -3000);
  // Everything matched: no overpayment line.
  CHECK(BuildPaymentPosting(a, 5000, 5000, header)->lines_size() == 2);
  CHECK(!BuildPaymentPosting(a, 0, 0, header).ok());
  CHECK(BuildAllocationPosting(a, 3000, header)->lines(1).amount().amount_minor() == -3000);
  absl::StatusOr<ledger::v1::EntryDraft> reminded = BuildReminderPosting(a, 500, 123, header);
  REQUIRE(reminded.ok());
  CHECK(reminded->lines(0).amount().amount_minor() == 623);
  CHECK(reminded->lines(1).account() == "3400");
  CHECK(reminded->lines(2).account() == "5210");
  CHECK(reminded->lines(2).amount().amount_minor() == -123);
}

}  // namespace
}  // namespace tahe::invoicing
