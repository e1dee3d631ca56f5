// Tests of the invoicing rules. Every expected figure is worked out by hand in the comment beside
// it: amounts in cents, quantities in thousandths, rates and discounts in hundredths of a percent,
// "x" is multiplication and "->" is rounding half away from zero to whole cents.

#include "services/invoicing/invoicing_domain.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <string>
#include <vector>

namespace tahe::invoicing {
namespace {

InvoiceLine Line(int64_t quantity_thousandths, int64_t unit_price_cents,
                 VatCategory category = VatCategory::kGeneral, int32_t discount_hundredths = 0,
                 std::optional<absl::CivilDay> delivery_date = std::nullopt) {
  InvoiceLine line;
  line.description = "Palvelu";
  line.quantity_thousandths = quantity_thousandths;
  line.unit_price_cents = unit_price_cents;
  line.vat_category = category;
  line.discount_hundredths = discount_hundredths;
  line.delivery_date = delivery_date;
  return line;
}

const absl::CivilDay k2025(2025, 3, 1);
const absl::CivilDay k2026(2026, 3, 1);

InvoiceTotals Totals(const std::vector<InvoiceLine>& lines, absl::CivilDay delivery_date) {
  absl::StatusOr<InvoiceTotals> totals = ComputeInvoiceTotals(lines, delivery_date);
  INFO(totals.status().ToString());
  REQUIRE(totals.ok());
  return *std::move(totals);
}

std::string Message(const absl::Status& status) { return std::string(status.message()); }

// --- Lines and totals --------------------------------------------------------------------------

TEST_CASE("a simple invoice: line net, group VAT and totals", "[totals]") {
  // 1.5 h x 40.00 = 60.00 net; 6000 x 25.5 % = 1530; gross 7530.
  InvoiceTotals totals = Totals({Line(1'500, 4'000)}, k2025);
  REQUIRE(totals.lines.size() == 1);
  CHECK(totals.lines[0] == ComputedLine{6'000, VatRate{VatCategory::kGeneral, 2550}, k2025, 1'530});
  REQUIRE(totals.groups.size() == 1);
  CHECK(totals.groups[0] == VatGroup{VatRate{VatCategory::kGeneral, 2550}, 6'000, 1'530, 7'530});
  CHECK(totals.net_cents == 6'000);
  CHECK(totals.vat_cents == 1'530);
  CHECK(totals.gross_cents == 7'530);
}

TEST_CASE("VAT is rounded per rate group, not summed from rounded lines", "[totals]") {
  // Three lines of 1.01 net at 25.5 %: each line's VAT is 101 x 0.255 = 25.755 -> 26, which
  // would sum to 78; the group's VAT is 303 x 0.255 = 77.265 -> 77.
  InvoiceTotals totals = Totals({Line(1'000, 101), Line(1'000, 101), Line(1'000, 101)}, k2025);
  for (const ComputedLine& line : totals.lines) {
    CHECK(line.net_cents == 101);
    CHECK(line.vat_cents == 26);  // informative only
  }
  REQUIRE(totals.groups.size() == 1);
  CHECK(totals.groups[0].net_cents == 303);
  CHECK(totals.groups[0].vat_cents == 77);
  CHECK(totals.vat_cents == 77);
  CHECK(totals.gross_cents == 380);  // 303 + 77
}

TEST_CASE("lines on both sides of 2024-09-01 make two general groups", "[totals]") {
  // Invoice delivery date 1.9.2024 (25.5 %); one line delivered 31.8.2024 (24 %).
  absl::CivilDay change(2024, 9, 1);
  InvoiceTotals totals =
      Totals({Line(1'000, 10'000, VatCategory::kGeneral, 0, absl::CivilDay(2024, 8, 31)),
              Line(1'000, 10'000)},
             change);
  CHECK(totals.lines[0].vat_rate.hundredths_of_percent == 2400);
  CHECK(totals.lines[0].delivery_date == absl::CivilDay(2024, 8, 31));
  CHECK(totals.lines[1].vat_rate.hundredths_of_percent == 2550);
  CHECK(totals.lines[1].delivery_date == change);
  // Higher rate first: 10 000 x 25.5 % = 2550; 10 000 x 24 % = 2400.
  REQUIRE(totals.groups.size() == 2);
  CHECK(totals.groups[0] == VatGroup{VatRate{VatCategory::kGeneral, 2550}, 10'000, 2'550, 12'550});
  CHECK(totals.groups[1] == VatGroup{VatRate{VatCategory::kGeneral, 2400}, 10'000, 2'400, 12'400});
  CHECK(totals.net_cents == 20'000);
  CHECK(totals.vat_cents == 4'950);  // 2550 + 2400
  CHECK(totals.gross_cents == 24'950);
}

TEST_CASE("every category in one invoice: groups in a stable order", "[totals]") {
  // 2026 rates: general 25.5 %, reduced 13.5 %, lowest 10 %, exempt and reverse charge 0 %.
  std::vector<InvoiceLine> lines = {
      Line(1'000, 5'000, VatCategory::kExempt),  Line(1'000, 3'000, VatCategory::kReverseCharge),
      Line(1'000, 1'000, VatCategory::kLowest),  Line(1'000, 2'000, VatCategory::kReduced),
      Line(1'000, 4'000, VatCategory::kGeneral), Line(2'000, 500, VatCategory::kExempt),
  };
  InvoiceTotals totals = Totals(lines, k2026);
  REQUIRE(totals.groups.size() == 5);
  // 4000 x 25.5 % = 1020; 2000 x 13.5 % = 270; 1000 x 10 % = 100; exempt 5000 + 2 x 500 = 6000.
  CHECK(totals.groups[0] == VatGroup{VatRate{VatCategory::kGeneral, 2550}, 4'000, 1'020, 5'020});
  CHECK(totals.groups[1] == VatGroup{VatRate{VatCategory::kReduced, 1350}, 2'000, 270, 2'270});
  CHECK(totals.groups[2] == VatGroup{VatRate{VatCategory::kLowest, 1000}, 1'000, 100, 1'100});
  CHECK(totals.groups[3] == VatGroup{VatRate{VatCategory::kExempt, 0}, 6'000, 0, 6'000});
  CHECK(totals.groups[4] == VatGroup{VatRate{VatCategory::kReverseCharge, 0}, 3'000, 0, 3'000});
  CHECK(totals.net_cents == 16'000);  // 4000 + 2000 + 1000 + 6000 + 3000
  CHECK(totals.vat_cents == 1'390);   // 1020 + 270 + 100
  CHECK(totals.gross_cents == 17'390);
  // The same lines in reverse give the same groups.
  std::vector<InvoiceLine> reversed(lines.rbegin(), lines.rend());
  CHECK(Totals(reversed, k2026).groups == totals.groups);
}

TEST_CASE("half cents round away from zero on both signs", "[totals]") {
  // Line net: 1.5 x 3.33 = 4.995 € = 499.5 cents -> 500; on a credit note -499.5 -> -500.
  CHECK(LineNetCents("l", Line(1'500, 333)).value() == 500);
  CHECK(LineNetCents("l", Line(-1'500, 333)).value() == -500);
  // 0.5 x 1 cent = 0.5 -> 1 and -0.5 -> -1; 0.4 x 1 cent = 0.4 -> 0.
  CHECK(LineNetCents("l", Line(500, 1)).value() == 1);
  CHECK(LineNetCents("l", Line(-500, 1)).value() == -1);
  CHECK(LineNetCents("l", Line(400, 1)).value() == 0);
  // With a discount: 3 x 1 cent x (1 - 50 %) = 1.5 -> 2; -1.5 -> -2.
  CHECK(LineNetCents("l", Line(3'000, 1, VatCategory::kGeneral, 5'000)).value() == 2);
  CHECK(LineNetCents("l", Line(-3'000, 1, VatCategory::kGeneral, 5'000)).value() == -2);
  // Group VAT: 100 x 25.5 % = 25.5 -> 26 and -100 -> -26.
  InvoiceTotals invoice = Totals({Line(1'000, 100)}, k2025);
  CHECK(invoice.vat_cents == 26);
  CHECK(invoice.gross_cents == 126);
  InvoiceTotals credit = Totals({Line(-1'000, 100)}, k2025);
  CHECK(credit.vat_cents == -26);
  CHECK(credit.gross_cents == -126);
  // 14 % in 2025: 25 x 14 % = 3.5 -> 4 and -25 -> -4. 13.5 % in 2026: 100 x 13.5 % = 13.5 -> 14.
  CHECK(Totals({Line(1'000, 25, VatCategory::kReduced)}, k2025).vat_cents == 4);
  CHECK(Totals({Line(-1'000, 25, VatCategory::kReduced)}, k2025).vat_cents == -4);
  CHECK(Totals({Line(1'000, 100, VatCategory::kReduced)}, k2026).vat_cents == 14);
  CHECK(Totals({Line(-1'000, 100, VatCategory::kReduced)}, k2026).vat_cents == -14);
}

TEST_CASE("discounts apply before rounding, once", "[totals]") {
  // 1 x 9.99 x (1 - 12.5 %) = 874.125 -> 874.
  CHECK(LineNetCents("l", Line(1'000, 999, VatCategory::kGeneral, 1'250)).value() == 874);
  // 100 % discount: 0.
  CHECK(LineNetCents("l", Line(1'000, 999, VatCategory::kGeneral, 10'000)).value() == 0);
  // 2.345 x 19.99 x (1 - 3.75 %) in cents: 2345 x 1999 x 9625 / (1000 x 10 000) =
  // 45 118 679 375 / 10 000 000 = 4511.87 -> 4512.
  CHECK(LineNetCents("l", Line(2'345, 1'999, VatCategory::kGeneral, 375)).value() == 4'512);
}

TEST_CASE("a credit note has negative amounts and must total below zero", "[totals]") {
  // Refund 2 x 50.00: -10 000 net, -10 000 x 25.5 % = -2550, gross -12 550.
  std::vector<InvoiceLine> lines = {Line(-2'000, 5'000)};
  REQUIRE(ValidateLine("lines[0]", lines[0], /*credit_note=*/true).ok());
  InvoiceTotals totals = Totals(lines, k2025);
  CHECK(totals.net_cents == -10'000);
  CHECK(totals.vat_cents == -2'550);
  CHECK(totals.gross_cents == -12'550);
  CHECK(ValidateCreditNoteTotals(totals).ok());
  // A credit note may carry a positive line, but must still give money back:
  // -10 000 + 2000 = -8000 net; -8000 x 25.5 % = -2040; gross -10 040.
  InvoiceTotals mixed = Totals({Line(-1'000, 10'000), Line(1'000, 2'000)}, k2025);
  CHECK(mixed.net_cents == -8'000);
  CHECK(mixed.vat_cents == -2'040);
  CHECK(mixed.gross_cents == -10'040);
  CHECK(ValidateCreditNoteTotals(mixed).ok());
  // A "credit note" that charges: 1 x 100.00 + 25.50 VAT.
  absl::Status positive = ValidateCreditNoteTotals(Totals({Line(1'000, 10'000)}, k2025));
  CHECK(positive.code() == absl::StatusCode::kInvalidArgument);
  CHECK(Message(positive) == "lines: a credit note's total must be negative, got 125.50");
  // Zero is not a credit either.
  CHECK_FALSE(ValidateCreditNoteTotals(Totals({Line(1'000, 0)}, k2025)).ok());
}

TEST_CASE("line validation names the field", "[lines]") {
  auto message = [](InvoiceLine line, bool credit_note = false) {
    return Message(ValidateLine("lines[2]", line, credit_note));
  };
  CHECK(ValidateLine("lines[2]", Line(1'000, 100), false).ok());
  InvoiceLine no_description = Line(1'000, 100);
  no_description.description.clear();
  CHECK(message(no_description) == "lines[2].description: required");
  InvoiceLine control = Line(1'000, 100);
  control.description = "Rivi\nkaksi";
  CHECK(message(control) == "lines[2].description: contains a control character");
  InvoiceLine long_description = Line(1'000, 100);
  long_description.description = std::string(513, 'a');
  CHECK(message(long_description) == "lines[2].description: longer than 512 characters");
  long_description.description = std::string(512, 'a');
  CHECK(ValidateLine("lines[2]", long_description, false).ok());

  CHECK(message(Line(0, 100)) == "lines[2].quantity: must not be zero");
  CHECK(message(Line(0, 100), true) == "lines[2].quantity: must not be zero");
  CHECK(message(Line(-1'000, 100)) ==
        "lines[2].quantity: must be positive (negative quantities only on a credit note)");
  CHECK(ValidateLine("lines[2]", Line(-1'000, 100), /*credit_note=*/true).ok());
  CHECK(ValidateLine("lines[2]", Line(kMaxQuantityThousandths, 100), false).ok());
  CHECK(message(Line(kMaxQuantityThousandths + 1, 100)) ==
        "lines[2].quantity: at most 1000000000000 thousandths in magnitude, got 1000000000001");
  CHECK(ValidateLine("lines[2]", Line(-kMaxQuantityThousandths, 100), true).ok());
  CHECK_FALSE(ValidateLine("lines[2]", Line(-kMaxQuantityThousandths - 1, 100), true).ok());

  CHECK(message(Line(1'000, -1)) ==
        "lines[2].unit_price_cents: must be 0..1000000000000 cents, got -1");
  CHECK(message(Line(1'000, kMaxUnitPriceCents + 1)) ==
        "lines[2].unit_price_cents: must be 0..1000000000000 cents, got 1000000000001");
  CHECK(ValidateLine("lines[2]", Line(1'000, 0), false).ok());

  CHECK(message(Line(1'000, 100, VatCategory::kGeneral, -1)) ==
        "lines[2].discount_hundredths: must be 0..10000 hundredths of a percent, got -1");
  CHECK(message(Line(1'000, 100, VatCategory::kGeneral, 10'001)) ==
        "lines[2].discount_hundredths: must be 0..10000 hundredths of a percent, got 10001");
}

TEST_CASE("amounts beyond the bounds are refused, never wrapped", "[totals]") {
  // 10^9 units x 10^10 € = 10^21 cents: far beyond int64 in a naive product, exact in 128 bits.
  InvoiceLine huge = Line(kMaxQuantityThousandths, kMaxUnitPriceCents);
  REQUIRE(ValidateLine("lines[0]", huge, false).ok());
  CHECK(Message(LineNetCents("lines[0]", huge).status()) ==
        "lines[0]: net amount exceeds 1000000000000000 cents");
  absl::StatusOr<InvoiceTotals> totals = ComputeInvoiceTotals({Line(1'000, 1), huge}, k2025);
  CHECK(totals.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(Message(totals.status()) == "lines[1]: net amount exceeds 1000000000000000 cents");
  // Exactly at the bound: 10^9 units x 10 000.00 € = 10^15 cents; one cent more a unit is over.
  CHECK(LineNetCents("l", Line(kMaxQuantityThousandths, 1'000'000)).value() == kMaxAmountCents);
  CHECK(LineNetCents("l", Line(-kMaxQuantityThousandths, 1'000'000)).value() == -kMaxAmountCents);
  CHECK_FALSE(LineNetCents("l", Line(kMaxQuantityThousandths, 1'000'001)).ok());
  // Unvalidated factors beyond the bounds are refused before any arithmetic.
  CHECK(Message(LineNetCents("lines[4]", Line(INT64_MAX, INT64_MAX)).status()) ==
        "lines[4]: quantity, unit price or discount out of bounds");
  CHECK_FALSE(LineNetCents("l", Line(1'000, 1, VatCategory::kGeneral, 10'001)).ok());
  CHECK_FALSE(ComputeInvoiceTotals({Line(INT64_MIN, 1)}, k2025).ok());
  // Two lines at the bound: 2 x 10^15 net in one group is over.
  InvoiceLine at_bound = Line(kMaxQuantityThousandths, 1'000'000, VatCategory::kExempt);
  CHECK(Message(ComputeInvoiceTotals({at_bound, at_bound}, k2025).status()) ==
        "lines: total exceeds 1000000000000000 cents");
  // One exempt line at the bound is fine; a general one is over with its VAT (gross 1.255 x 10^15).
  CHECK(Totals({at_bound}, k2025).gross_cents == kMaxAmountCents);
  CHECK(Message(ComputeInvoiceTotals({Line(kMaxQuantityThousandths, 1'000'000)}, k2025).status()) ==
        "lines: total exceeds 1000000000000000 cents");
  // Opposite signs within bounds cancel: 10^15 - 10^15 + 1 = 1 (credit note with a positive line).
  CHECK(Totals({Line(-kMaxQuantityThousandths, 1'000'000, VatCategory::kExempt), at_bound,
                Line(1'000, 1, VatCategory::kExempt)},
               k2025)
            .net_cents == 1);
}

TEST_CASE("invoice-level errors name lines and delivery dates", "[totals]") {
  CHECK(Message(ComputeInvoiceTotals({}, k2025).status()) ==
        "lines: at least one line is required");
  std::vector<InvoiceLine> too_many(kMaxLines + 1, Line(1'000, 1));
  CHECK(Message(ComputeInvoiceTotals(too_many, k2025).status()) == "lines: at most 10000 lines");
  too_many.pop_back();
  CHECK(Totals(too_many, k2025).net_cents == 10'000);  // 10 000 lines x 1 cent
  // A line's own delivery date before the table names that line.
  absl::StatusOr<InvoiceTotals> own = ComputeInvoiceTotals(
      {Line(1'000, 100), Line(1'000, 100, VatCategory::kGeneral, 0, absl::CivilDay(2012, 12, 31))},
      k2025);
  CHECK(Message(own.status()) ==
        "lines[1].delivery_date: no VAT rates before 2013-01-01, got 2012-12-31");
  // The invoice's delivery date names the invoice field.
  absl::StatusOr<InvoiceTotals> invoice =
      ComputeInvoiceTotals({Line(1'000, 100)}, absl::CivilDay(2012, 12, 31));
  CHECK(Message(invoice.status()) ==
        "delivery_date: no VAT rates before 2013-01-01, got 2012-12-31");
  // A line with its own valid date is fine even when the invoice's is not.
  CHECK(Totals({Line(1'000, 100, VatCategory::kGeneral, 0, absl::CivilDay(2013, 1, 1))},
               absl::CivilDay(2012, 12, 31))
            .vat_cents == 24);  // 100 x 24 %
}

TEST_CASE("each VAT category and each change date through the totals", "[totals]") {
  struct Case {
    VatCategory category;
    absl::CivilDay day;
    int64_t vat;  // on a net of 100.00 (10 000 cents)
  };
  const Case kCases[] = {
      {VatCategory::kGeneral, absl::CivilDay(2024, 8, 31), 2'400},   // 24 %
      {VatCategory::kGeneral, absl::CivilDay(2024, 9, 1), 2'550},    // 25.5 %
      {VatCategory::kReduced, absl::CivilDay(2025, 12, 31), 1'400},  // 14 %
      {VatCategory::kReduced, absl::CivilDay(2026, 1, 1), 1'350},    // 13.5 %
      {VatCategory::kLowest, absl::CivilDay(2024, 12, 31), 1'000},   // 10 %
      {VatCategory::kLowest, absl::CivilDay(2025, 1, 1), 1'000},     // 10 %
      {VatCategory::kExempt, absl::CivilDay(2026, 1, 1), 0},
      {VatCategory::kReverseCharge, absl::CivilDay(2024, 9, 1), 0},
  };
  for (const Case& c : kCases) {
    INFO(VatCategoryName(c.category) << " " << absl::FormatCivilTime(c.day));
    InvoiceTotals totals = Totals({Line(1'000, 10'000, c.category)}, c.day);
    CHECK(totals.vat_cents == c.vat);
    CHECK(totals.gross_cents == 10'000 + c.vat);
    CHECK(totals.groups[0].rate.category == c.category);
  }
}

// --- Due date ----------------------------------------------------------------------------------

TEST_CASE("due date: 14 days net by default, 0-365 days", "[due]") {
  // 20.2.2025 + 14 = 6.3.2025 (February 2025 has 28 days: 20 + 14 - 28 = 6).
  CHECK(DueDate(absl::CivilDay(2025, 2, 20)).value() == absl::CivilDay(2025, 3, 6));
  // 2024 is a leap year: 20.2.2024 + 14 = 5.3.2024.
  CHECK(DueDate(absl::CivilDay(2024, 2, 20)).value() == absl::CivilDay(2024, 3, 5));
  CHECK(DueDate(absl::CivilDay(2025, 12, 20), 30).value() == absl::CivilDay(2026, 1, 19));
  CHECK(DueDate(absl::CivilDay(2025, 5, 5), 0).value() == absl::CivilDay(2025, 5, 5));
  CHECK(DueDate(absl::CivilDay(2025, 1, 1), 365).value() == absl::CivilDay(2026, 1, 1));
  CHECK(Message(DueDate(absl::CivilDay(2025, 1, 1), -1).status()) ==
        "payment_terms_days: must be 0..365, got -1");
  CHECK(Message(DueDate(absl::CivilDay(2025, 1, 1), 366).status()) ==
        "payment_terms_days: must be 0..365, got 366");
}

// --- Payment reference -------------------------------------------------------------------------

TEST_CASE("invoice references: national and RF forms", "[reference]") {
  // finnish-rules.md §1-2: base 1234 -> 12344, RF0812344.
  CHECK(InvoiceReference("", 1234).value() == InvoiceReferences{"12344", "RF0812344"});
  // Prefix 1231 + invoice 23 = base 123123 -> 1231234 (§1 table); RF41 computed independently.
  CHECK(InvoiceReference("1231", 23).value() == InvoiceReferences{"1231234", "RF411231234"});
  // Prefix 2340 + 9678 = 23409678 -> 234096783; RF80234096783.
  CHECK(InvoiceReference("2340", 9678).value() == InvoiceReferences{"234096783", "RF80234096783"});
  // The shortest base, 3 digits: 1 + 23 = 123; 3x7 + 2x3 + 1x1 = 28 -> check (10 - 8) = 2.
  CHECK(InvoiceReference("1", 23).value() == InvoiceReferences{"1232", "RF111232"});
  // Leading zeros of the prefix are dropped with the base's: 000 + 1000 -> 10003, RF6810003 (§2).
  CHECK(InvoiceReference("000", 1000).value() == InvoiceReferences{"10003", "RF6810003"});
  // The longest base, 19 digits: 123456789012345678 + 5.
  CHECK(InvoiceReference("123456789012345678", 5).value() ==
        InvoiceReferences{"12345678901234567852", "RF7612345678901234567852"});
}

TEST_CASE("invoice references: length limits and bad input are clear errors", "[reference]") {
  absl::StatusOr<InvoiceReferences> short_base = InvoiceReference("", 42);
  CHECK(short_base.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(Message(short_base.status()) ==
        "invoice_number: the reference base (prefix + invoice number) has 2 digits without "
        "leading zeros; a national reference needs 3-19 (set a longer reference prefix)");
  // Leading zeros do not count: 00 + 42 is still 2 digits.
  CHECK_FALSE(InvoiceReference("00", 42).ok());
  // 18 + 2 = 20 digits.
  CHECK(Message(InvoiceReference("123456789012345678", 12).status()) ==
        "invoice_number: the reference base (prefix + invoice number) has 20 digits without "
        "leading zeros; a national reference needs 3-19 (set a shorter reference prefix)");
  CHECK(Message(InvoiceReference("1234567890123456789", 1).status()) ==
        "org_reference_prefix: a reference prefix has at most 18 digits");
  CHECK(Message(InvoiceReference("12a", 1).status()) ==
        "org_reference_prefix: a reference prefix has only digits");
  CHECK(Message(InvoiceReference("12 3", 1).status()) ==
        "org_reference_prefix: a reference prefix has only digits");
  CHECK(Message(InvoiceReference("123", 0).status()) == "invoice_number: must be positive, got 0");
  CHECK(Message(InvoiceReference("123", -5).status()) ==
        "invoice_number: must be positive, got -5");
  CHECK(ValidateReferencePrefix("p", "").ok());
  CHECK(ValidateReferencePrefix("p", "123456789012345678").ok());
}

// --- Reminders ---------------------------------------------------------------------------------

ReminderInput Reminder(absl::CivilDay due, absl::CivilDay today, Debtor debtor = Debtor::kConsumer,
                       int64_t fee = 800) {
  ReminderInput input;
  input.due_date = due;
  input.today = today;
  input.open_amount_cents = 100'000;
  input.debtor = debtor;
  input.org_fee_cents = fee;
  return input;
}

ReminderDecision Decide(const ReminderInput& input) {
  absl::StatusOr<ReminderDecision> decision = DecideReminder(input);
  INFO(decision.status().ToString());
  REQUIRE(decision.ok());
  return *std::move(decision);
}

TEST_CASE("a reminder needs 14 days overdue", "[reminder]") {
  absl::CivilDay due(2025, 3, 1);
  // 14.3.: 13 days overdue.
  ReminderDecision early = Decide(Reminder(due, absl::CivilDay(2025, 3, 14)));
  CHECK_FALSE(early.eligible);
  CHECK(early.days_overdue == 13);
  CHECK(early.earliest_date == absl::CivilDay(2025, 3, 15));
  CHECK(early.reason == "only 13 days overdue; a reminder needs 14");
  CHECK(early.fee_cents == 0);
  // Not yet due: 0 days overdue.
  ReminderDecision not_due = Decide(Reminder(due, absl::CivilDay(2025, 2, 20)));
  CHECK_FALSE(not_due.eligible);
  CHECK(not_due.days_overdue == 0);
  CHECK(not_due.earliest_date == absl::CivilDay(2025, 3, 15));
  // 15.3.: 14 days overdue. Consumer fee 8.00 capped at 5.00. Interest 2.3.-15.3. = 14 days at
  // 3.5 % + 7 = 10.5 %: 100 000 x 1050 x 14 = 1 470 000 000; / 3 650 000 = 402.74 -> 403.
  ReminderDecision consumer = Decide(Reminder(due, absl::CivilDay(2025, 3, 15)));
  CHECK(consumer.eligible);
  CHECK(consumer.reason.empty());
  CHECK_FALSE(consumer.earliest_date.has_value());
  CHECK(consumer.days_overdue == 14);
  CHECK(consumer.fee_cents == 500);
  CHECK(consumer.interest.interest_cents == 403);
  CHECK(consumer.interest.days == 14);
  // Business: the organisation's fee as is; 3.5 % + 8 = 11.5 %: 100 000 x 1150 x 14 =
  // 1 610 000 000; / 3 650 000 = 441.10 -> 441.
  ReminderDecision business = Decide(Reminder(due, absl::CivilDay(2025, 3, 15), Debtor::kBusiness));
  CHECK(business.eligible);
  CHECK(business.fee_cents == 800);
  CHECK(business.interest.interest_cents == 441);
  // A consumer fee below the cap stays as it is.
  CHECK(Decide(Reminder(due, absl::CivilDay(2025, 3, 15), Debtor::kConsumer, 300)).fee_cents ==
        300);
  CHECK(Decide(Reminder(due, absl::CivilDay(2025, 3, 15), Debtor::kConsumer, 0)).fee_cents == 0);
}

TEST_CASE("a further reminder needs 14 days since the last one", "[reminder]") {
  absl::CivilDay due(2025, 3, 1);
  ReminderInput input = Reminder(due, absl::CivilDay(2025, 4, 2));
  input.last_reminder_date = absl::CivilDay(2025, 3, 20);
  // 20.3. -> 2.4. is 13 days.
  ReminderDecision early = Decide(input);
  CHECK_FALSE(early.eligible);
  CHECK(early.days_overdue == 32);
  CHECK(early.earliest_date == absl::CivilDay(2025, 4, 3));
  CHECK(early.reason == "only 13 days since the last reminder; the next needs 14");
  // 3.4.: 14 days since. Interest 2.3.-3.4. = 33 days: 100 000 x 1050 x 33 = 3 465 000 000;
  // / 3 650 000 = 949.32 -> 949.
  input.today = absl::CivilDay(2025, 4, 3);
  ReminderDecision later = Decide(input);
  CHECK(later.eligible);
  CHECK(later.fee_cents == 500);
  CHECK(later.interest.interest_cents == 949);
  // The earliest is the later of due + 14 (15.3.) and the last reminder + 14 (2.3. + 14 = 16.3.).
  input.last_reminder_date = absl::CivilDay(2025, 3, 2);
  input.today = absl::CivilDay(2025, 3, 14);
  CHECK(Decide(input).earliest_date == absl::CivilDay(2025, 3, 16));
}

TEST_CASE("reminder input errors and nothing open", "[reminder]") {
  absl::CivilDay due(2025, 3, 1);
  absl::CivilDay today(2025, 4, 1);
  ReminderInput paid = Reminder(due, today);
  paid.open_amount_cents = 0;
  ReminderDecision nothing = Decide(paid);
  CHECK_FALSE(nothing.eligible);
  CHECK(nothing.reason == "nothing is open");
  CHECK_FALSE(nothing.earliest_date.has_value());
  paid.open_amount_cents = -500;  // overpaid
  CHECK_FALSE(Decide(paid).eligible);

  CHECK(Message(DecideReminder(Reminder(due, today, Debtor::kBusiness, 10'001)).status()) ==
        "org_fee_cents: must be 0..10000 cents, got 10001");
  CHECK(Message(DecideReminder(Reminder(due, today, Debtor::kBusiness, -1)).status()) ==
        "org_fee_cents: must be 0..10000 cents, got -1");
  CHECK(Decide(Reminder(due, today, Debtor::kBusiness, 10'000)).fee_cents == 10'000);
  ReminderInput future = Reminder(due, today);
  future.last_reminder_date = today + 1;
  CHECK(Message(DecideReminder(future).status()) == "last_reminder_date: must not be after today");
  ReminderInput huge = Reminder(due, today);
  huge.open_amount_cents = kMaxPrincipalCents + 1;
  CHECK(DecideReminder(huge).status().code() == absl::StatusCode::kInvalidArgument);
  // No reference rate for the interest: the operator must load the new half-year first.
  absl::StatusOr<ReminderDecision> no_rate =
      DecideReminder(Reminder(absl::CivilDay(2026, 6, 1), absl::CivilDay(2026, 7, 20)));
  CHECK(no_rate.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(Message(no_rate.status()) == "no reference rate for 2026 H2");
}

// --- Receivables ageing ------------------------------------------------------------------------

TEST_CASE("receivables ageing buckets by days overdue", "[ageing]") {
  absl::CivilDay due(2025, 3, 1);
  // March has 31 days: due + 30 = 31.3., + 31 = 1.4., + 60 = 30.4., + 61 = 1.5., + 90 = 30.5.
  CHECK(AgeingBucketOf(due, absl::CivilDay(2025, 2, 1)) == AgeingBucket::kCurrent);
  CHECK(AgeingBucketOf(due, due) == AgeingBucket::kCurrent);
  CHECK(AgeingBucketOf(due, absl::CivilDay(2025, 3, 2)) == AgeingBucket::k1To30);
  CHECK(AgeingBucketOf(due, absl::CivilDay(2025, 3, 31)) == AgeingBucket::k1To30);
  CHECK(AgeingBucketOf(due, absl::CivilDay(2025, 4, 1)) == AgeingBucket::k31To60);
  CHECK(AgeingBucketOf(due, absl::CivilDay(2025, 4, 30)) == AgeingBucket::k31To60);
  CHECK(AgeingBucketOf(due, absl::CivilDay(2025, 5, 1)) == AgeingBucket::k61To90);
  CHECK(AgeingBucketOf(due, absl::CivilDay(2025, 5, 30)) == AgeingBucket::k61To90);
  CHECK(AgeingBucketOf(due, absl::CivilDay(2025, 5, 31)) == AgeingBucket::kOver90);
  CHECK(AgeingBucketOf(due, absl::CivilDay(2030, 1, 1)) == AgeingBucket::kOver90);

  std::vector<std::string> names;
  for (AgeingBucket bucket : AllAgeingBuckets()) {
    names.emplace_back(AgeingBucketName(bucket));
  }
  CHECK(names == std::vector<std::string>{"current", "1-30", "31-60", "61-90", "over-90"});
}

// --- Invoice series ----------------------------------------------------------------------------

TEST_CASE("series codes and invoice numbers", "[series]") {
  for (const char* good : {"A", "INV-2025", "ABCDEFGHIJ", "2025", "-"}) {
    INFO(good);
    CHECK(ValidateSeriesCode("series", good).ok());
  }
  CHECK(Message(ValidateSeriesCode("series", "")) ==
        "series: required (1-10 characters of A-Z, 0-9 and '-')");
  CHECK(Message(ValidateSeriesCode("series", "ABCDEFGHIJK")) == "series: at most 10 characters");
  for (const char* bad : {"a", "A_B", "A B", "Ä", "INV/1"}) {
    INFO(bad);
    CHECK(Message(ValidateSeriesCode("series", bad)) ==
          "series: only upper-case A-Z, digits 0-9 and '-'");
  }
  CHECK(ValidateInvoiceNumber("number", 1).ok());
  CHECK(Message(ValidateInvoiceNumber("number", 0)) == "number: must be positive, got 0");
  CHECK(FormatInvoiceNumber("A", 42) == "A-42");
  CHECK(FormatInvoiceNumber("2025", 1007) == "2025-1007");
}

}  // namespace
}  // namespace tahe::invoicing
