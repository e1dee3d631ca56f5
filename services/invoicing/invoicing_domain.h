#pragma once

// The pure rules of invoicing, free of gRPC and SQL (finnish-rules.md §1-2, §6 and §8): invoice
// lines and their VAT totals per rate group, the due date, the payment reference of an invoice,
// the reminder decision, receivables ageing and invoice series codes. The service gathers the
// facts (lines, dates, the organisation's settings, the next number of a series) and stores the
// results.
//
//   std::vector<InvoiceLine> lines = {{.description = "Kotihoito, tunti",
//                                      .quantity_thousandths = 1'500,  // 1.5 h
//                                      .unit_price_cents = 4'000,      // 40.00 € net
//                                      .vat_category = VatCategory::kGeneral}};
//   for (size_t i = 0; i < lines.size(); ++i) {
//     RETURN_IF_ERROR(ValidateLine(absl::StrCat("lines[", i, "]"), lines[i], false));
//   }
//   ASSIGN_OR_RETURN(InvoiceTotals totals,
//                    ComputeInvoiceTotals(lines, /*delivery_date=*/absl::CivilDay(2025, 3, 1)));
//   // totals.net_cents == 6000, totals.vat_cents == 1530 (25.5 %), totals.gross_cents == 7530
//   ASSIGN_OR_RETURN(absl::CivilDay due, DueDate(absl::CivilDay(2025, 3, 3)));  // 2025-03-17
//   ASSIGN_OR_RETURN(InvoiceReferences refs, InvoiceReference("2340", 9678));
//   // refs.national == "234096783", refs.rf == "RF80234096783"
//
// The rules, including those finnish-rules.md leaves open:
//
// - A line is quantity (thousandths of a unit) x unit price (cents, net of VAT) less an optional
//   discount (hundredths of a percent). Its net amount is rounded once, half away from zero, to
//   cents. Quantities may be negative only on a credit note, whose total must be negative.
// - The VAT rate of a line comes from its category and its delivery date: the line's own, else
//   the invoice's. Lines with the same category and rate form a VAT group. VAT is computed per
//   group from the group's net total and rounded half away from zero (the EN 16931 way), not
//   summed from rounded line VATs; so one invoice with deliveries on both sides of 2024-09-01 has
//   two general groups, 24 % and 25.5 %.
// - The reference base of an invoice is the organisation's reference prefix followed by the
//   invoice number in decimal. References must identify one invoice among an organisation's
//   receivables, so each series of an organisation needs its own prefix, and no prefix may be a
//   prefix of another (with prefixes "1" and "12", invoice 23 and invoice 3 would share "123").
// - Reminders follow §8: at the earliest 14 days after the due date and 14 days after the
//   previous reminder; a consumer's fee is at most 5 €; penalty interest on the open amount.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/types/span.h"
#include "services/invoicing/interest.h"
#include "services/invoicing/vat_rates.h"

namespace tahe::invoicing {

// Input bounds, far above any real invoice. Every line net amount and every total must stay
// within kMaxAmountCents, so nothing here can overflow int64 cents.
inline constexpr size_t kMaxLines = 10'000;
inline constexpr size_t kMaxDescriptionLength = 512;
inline constexpr int64_t kMaxQuantityThousandths = 1'000'000'000'000;  // 10^9 units
inline constexpr int64_t kMaxUnitPriceCents = 1'000'000'000'000;       // 10^10 € a unit
inline constexpr int64_t kMaxAmountCents = 1'000'000'000'000'000;      // 10^13 €
inline constexpr int32_t kMaxDiscountHundredths = 10'000;              // 100 %

// --- Lines and totals --------------------------------------------------------------------------

struct InvoiceLine {
  std::string description;
  // 1.5 units = 1 500. Not zero; negative only on a credit note.
  int64_t quantity_thousandths = 0;
  // Net of VAT, 0..kMaxUnitPriceCents.
  int64_t unit_price_cents = 0;
  // 12.5 % = 1 250; 0..10 000.
  int32_t discount_hundredths = 0;
  VatCategory vat_category = VatCategory::kGeneral;
  // The delivery or completion date of this line when it differs from the invoice's.
  std::optional<absl::CivilDay> delivery_date;

  friend bool operator==(const InvoiceLine&, const InvoiceLine&) = default;
};

// INVALID_ARGUMENT naming the field under `field_prefix` ("lines[2].quantity: ...") unless the
// description is 1..kMaxDescriptionLength characters without control characters, the quantity
// is non-zero and within kMaxQuantityThousandths (positive unless `credit_note`), the unit price
// is 0..kMaxUnitPriceCents and the discount 0..100 %.
absl::Status ValidateLine(absl::string_view field_prefix, const InvoiceLine& line,
                          bool credit_note);

// The line's net amount: quantity x unit price / 1000 x (1 - discount), rounded once half away
// from zero. INVALID_ARGUMENT naming `field_prefix` if it exceeds kMaxAmountCents in magnitude or
// a factor is outside the bounds of ValidateLine.
absl::StatusOr<int64_t> LineNetCents(absl::string_view field_prefix, const InvoiceLine& line);

// One line as computed: its net amount and the VAT rate of its delivery date.
struct ComputedLine {
  int64_t net_cents = 0;
  VatRate vat_rate;
  absl::CivilDay delivery_date;
  // The line's own VAT rounded half away from zero, for display (Finvoice RowVatAmount). It is
  // informative only: the VAT of the invoice is that of its groups.
  int64_t vat_cents = 0;

  friend bool operator==(const ComputedLine&, const ComputedLine&) = default;
};

// The lines of one category and rate.
struct VatGroup {
  VatRate rate;
  int64_t net_cents = 0;
  int64_t vat_cents = 0;  // round_half_away_from_zero(net_cents x rate)
  int64_t gross_cents = 0;

  friend bool operator==(const VatGroup&, const VatGroup&) = default;
};

struct InvoiceTotals {
  std::vector<ComputedLine> lines;  // in the order of the input lines
  // Ordered by category (general, reduced, lowest, exempt, reverse charge), then by rate from
  // highest to lowest: the same lines always give the same order.
  std::vector<VatGroup> groups;
  int64_t net_cents = 0;  // sum of the groups
  int64_t vat_cents = 0;
  int64_t gross_cents = 0;

  friend bool operator==(const InvoiceTotals&, const InvoiceTotals&) = default;
};

// The totals of an invoice whose lines without their own delivery date were delivered on
// `delivery_date`. INVALID_ARGUMENT for no lines or more than kMaxLines ("lines"), a delivery
// date before the VAT table ("lines[2].delivery_date" or "delivery_date"), a line amount beyond
// kMaxAmountCents ("lines[2]") or a total beyond it ("lines"). Validate each line with
// ValidateLine first: this checks only what the arithmetic needs.
absl::StatusOr<InvoiceTotals> ComputeInvoiceTotals(absl::Span<const InvoiceLine> lines,
                                                   absl::CivilDay delivery_date,
                                                   absl::Span<const VatRatePeriod> vat_periods);
absl::StatusOr<InvoiceTotals> ComputeInvoiceTotals(absl::Span<const InvoiceLine> lines,
                                                   absl::CivilDay delivery_date);

// A credit note refers to an original invoice and gives money back: INVALID_ARGUMENT ("lines")
// unless its gross total is negative.
absl::Status ValidateCreditNoteTotals(const InvoiceTotals& totals);

// --- Due date ----------------------------------------------------------------------------------

inline constexpr int kDefaultPaymentTermsDays = 14;  // 14 days net
inline constexpr int kMaxPaymentTermsDays = 365;

// issue_date + payment_terms_days. INVALID_ARGUMENT naming "payment_terms_days" unless 0..365.
absl::StatusOr<absl::CivilDay> DueDate(absl::CivilDay issue_date,
                                       int payment_terms_days = kDefaultPaymentTermsDays);

// --- Payment reference -------------------------------------------------------------------------

struct InvoiceReferences {
  std::string national;  // canonical digits, e.g. "234096783"
  std::string rf;        // the RF form of the same reference, e.g. "RF80234096783"

  friend bool operator==(const InvoiceReferences&, const InvoiceReferences&) = default;
};

// Longest organisation reference prefix: the base has at most 19 digits and needs at least one
// for the invoice number.
inline constexpr size_t kMaxReferencePrefixDigits = 18;

// INVALID_ARGUMENT naming `field` unless `prefix` is empty or 1..18 digits.
absl::Status ValidateReferencePrefix(absl::string_view field, absl::string_view prefix);

// The references of invoice `invoice_number` (positive) of an organisation whose reference prefix
// is `org_reference_prefix`: base = prefix + number in decimal; national = base + its 7-3-1 check
// digit (leading zeros dropped); rf = its RF form. INVALID_ARGUMENT naming
// "org_reference_prefix" for a bad prefix and "invoice_number" for a non-positive number or a
// base outside 3-19 significant digits (a national reference has 4-20 digits including the check
// digit).
absl::StatusOr<InvoiceReferences> InvoiceReference(absl::string_view org_reference_prefix,
                                                   int64_t invoice_number);

// --- Reminders ---------------------------------------------------------------------------------

inline constexpr int kReminderMinDaysOverdue = 14;
inline constexpr int kReminderMinDaysBetween = 14;
inline constexpr int64_t kMaxConsumerReminderFeeCents = 500;
inline constexpr int64_t kMaxReminderFeeCents = 10'000;

struct ReminderInput {
  absl::CivilDay due_date;
  absl::CivilDay today;
  // What is still unpaid of the invoice; nothing to remind of when <= 0.
  int64_t open_amount_cents = 0;
  Debtor debtor = Debtor::kConsumer;
  // The organisation's reminder fee, 0..kMaxReminderFeeCents.
  int64_t org_fee_cents = 0;
  std::optional<absl::CivilDay> last_reminder_date;
};

struct ReminderDecision {
  bool eligible = false;
  // Why not, when not eligible: "only 10 days overdue; a reminder needs 14".
  std::string reason;
  // When not eligible but something is open: the first day a reminder may be sent.
  std::optional<absl::CivilDay> earliest_date;
  int64_t days_overdue = 0;  // today - due_date, 0 when not yet due
  // When eligible: the fee to charge (the organisation's, at most 5 € for a consumer) and the
  // penalty interest on the open amount from the day after the due date up to today.
  int64_t fee_cents = 0;
  PenaltyInterest interest;
};

// Whether a reminder may be sent today and what it charges. INVALID_ARGUMENT naming
// "org_fee_cents" (outside 0..kMaxReminderFeeCents), "open_amount_cents" (beyond
// kMaxPrincipalCents) or "last_reminder_date" (after today); FAILED_PRECONDITION when a day of
// the interest period has no reference rate in `rates`.
absl::StatusOr<ReminderDecision> DecideReminder(const ReminderInput& input,
                                                absl::Span<const ReferenceRate> rates);
absl::StatusOr<ReminderDecision> DecideReminder(const ReminderInput& input);

// --- Receivables ageing ------------------------------------------------------------------------

enum class AgeingBucket { kCurrent, k1To30, k31To60, k61To90, kOver90 };

// The bucket of an invoice due on `due_date` as of `as_of`, by days overdue = as_of - due_date:
// not overdue (<= 0) is current, then 1-30, 31-60, 61-90 and over 90.
AgeingBucket AgeingBucketOf(absl::CivilDay due_date, absl::CivilDay as_of);
// "current", "1-30", "31-60", "61-90", "over-90".
absl::string_view AgeingBucketName(AgeingBucket bucket);
// Every bucket from current to over 90: the columns of an ageing report.
absl::Span<const AgeingBucket> AllAgeingBuckets();

// --- Invoice series ----------------------------------------------------------------------------

inline constexpr size_t kMaxSeriesCodeLength = 10;

// INVALID_ARGUMENT naming `field` unless `code` is 1-10 characters of A-Z, 0-9 and '-'.
absl::Status ValidateSeriesCode(absl::string_view field, absl::string_view code);
// INVALID_ARGUMENT naming `field` unless `number` is positive (numbers start at 1).
absl::Status ValidateInvoiceNumber(absl::string_view field, int64_t number);
// How an invoice number is shown: series, '-', number ("A-42", "2025-1007").
std::string FormatInvoiceNumber(absl::string_view series, int64_t number);

}  // namespace tahe::invoicing
