#include "services/invoicing/invoicing_domain.h"

#include <algorithm>
#include <map>
#include <tuple>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "libs/fi/reference.h"
#include "libs/money/money.h"
#include "libs/status/status.h"

namespace tahe::invoicing {
namespace {

constexpr int64_t kThousandthsPerUnit = 1'000;
constexpr int64_t kHundredthsPerUnit = 10'000;  // 100 % in hundredths of a percent
constexpr size_t kMinReferenceBaseDigits = 3;
constexpr size_t kMaxReferenceBaseDigits = 19;

std::string Field(absl::string_view prefix, absl::string_view name) {
  return absl::StrCat(prefix, ".", name);
}

bool FitsAmount(__int128 cents) { return cents >= -kMaxAmountCents && cents <= kMaxAmountCents; }

// round_half_away_from_zero(net x rate). |net| <= kMaxAmountCents and the rate is below 2^31,
// so the product is exact in 128 bits and the result, with a rate of at most 100 %, fits.
int64_t VatOf(int64_t net_cents, const VatRate& rate) {
  return money::RoundHalfAwayFromZero(static_cast<__int128>(net_cents) * rate.hundredths_of_percent,
                                      kHundredthsPerUnit);
}

// The order of groups on an invoice: by category, then the higher rate first.
struct GroupKey {
  VatCategory category;
  int32_t hundredths_of_percent;

  bool operator<(const GroupKey& other) const {
    return std::make_tuple(category, -hundredths_of_percent) <
           std::make_tuple(other.category, -other.hundredths_of_percent);
  }
};

bool AllDigits(absl::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return absl::ascii_isdigit(c); });
}

}  // namespace

// --- Lines and totals --------------------------------------------------------------------------

absl::Status ValidateLine(absl::string_view field_prefix, const InvoiceLine& line,
                          bool credit_note) {
  std::string description = Field(field_prefix, "description");
  if (line.description.empty()) {
    return InvalidField(description, "required");
  }
  RETURN_IF_ERROR(ValidateText(description, line.description, kMaxDescriptionLength));

  std::string quantity = Field(field_prefix, "quantity");
  if (line.quantity_thousandths == 0) {
    return InvalidField(quantity, "must not be zero");
  }
  if (line.quantity_thousandths < 0 && !credit_note) {
    return InvalidField(quantity, "must be positive (negative quantities only on a credit note)");
  }
  if (line.quantity_thousandths > kMaxQuantityThousandths ||
      line.quantity_thousandths < -kMaxQuantityThousandths) {
    return InvalidField(quantity,
                        absl::StrCat("at most ", kMaxQuantityThousandths,
                                     " thousandths in magnitude, got ", line.quantity_thousandths));
  }
  if (line.unit_price_cents < 0 || line.unit_price_cents > kMaxUnitPriceCents) {
    return InvalidField(
        Field(field_prefix, "unit_price_cents"),
        absl::StrCat("must be 0..", kMaxUnitPriceCents, " cents, got ", line.unit_price_cents));
  }
  if (line.discount_hundredths < 0 || line.discount_hundredths > kMaxDiscountHundredths) {
    return InvalidField(Field(field_prefix, "discount_hundredths"),
                        absl::StrCat("must be 0..", kMaxDiscountHundredths,
                                     " hundredths of a percent, got ", line.discount_hundredths));
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> LineNetCents(absl::string_view field_prefix, const InvoiceLine& line) {
  // The bounds of ValidateLine, checked again so that the product below is always exact.
  if (line.quantity_thousandths > kMaxQuantityThousandths ||
      line.quantity_thousandths < -kMaxQuantityThousandths || line.unit_price_cents < 0 ||
      line.unit_price_cents > kMaxUnitPriceCents || line.discount_hundredths < 0 ||
      line.discount_hundredths > kMaxDiscountHundredths) {
    return InvalidField(field_prefix, "quantity, unit price or discount out of bounds");
  }
  // |quantity x price x (10000 - discount)| <= 10^12 x 10^12 x 10^4 = 10^28 < 2^127: exact.
  __int128 numerator = static_cast<__int128>(line.quantity_thousandths) * line.unit_price_cents *
                       (kHundredthsPerUnit - line.discount_hundredths);
  __int128 denominator = kThousandthsPerUnit * kHundredthsPerUnit;
  // Compare before rounding: the rounded value fits int64 only if this bound holds.
  __int128 bound = static_cast<__int128>(kMaxAmountCents) * denominator;
  if (numerator > bound || numerator < -bound) {
    return InvalidField(field_prefix,
                        absl::StrCat("net amount exceeds ", kMaxAmountCents, " cents"));
  }
  return money::RoundHalfAwayFromZero(numerator, denominator);
}

absl::StatusOr<InvoiceTotals> ComputeInvoiceTotals(absl::Span<const InvoiceLine> lines,
                                                   absl::CivilDay delivery_date,
                                                   absl::Span<const VatRatePeriod> vat_periods) {
  if (lines.empty()) {
    return InvalidField("lines", "at least one line is required");
  }
  if (lines.size() > kMaxLines) {
    return InvalidField("lines", absl::StrCat("at most ", kMaxLines, " lines"));
  }
  InvoiceTotals totals;
  totals.lines.reserve(lines.size());
  // At most kMaxLines lines of at most kMaxAmountCents each: sums are exact in 128 bits.
  std::map<GroupKey, __int128> group_nets;
  for (size_t i = 0; i < lines.size(); ++i) {
    const InvoiceLine& line = lines[i];
    std::string prefix = absl::StrCat("lines[", i, "]");
    ComputedLine computed;
    computed.delivery_date = line.delivery_date.value_or(delivery_date);
    std::string date_field =
        line.delivery_date.has_value() ? Field(prefix, "delivery_date") : "delivery_date";
    ASSIGN_OR_RETURN(computed.vat_rate, VatRateForField(date_field, line.vat_category,
                                                        computed.delivery_date, vat_periods));
    ASSIGN_OR_RETURN(computed.net_cents, LineNetCents(prefix, line));
    computed.vat_cents = VatOf(computed.net_cents, computed.vat_rate);
    group_nets[GroupKey{line.vat_category, computed.vat_rate.hundredths_of_percent}] +=
        computed.net_cents;
    totals.lines.push_back(computed);
  }

  __int128 net = 0;
  __int128 vat = 0;
  for (const auto& [key, group_net] : group_nets) {
    if (!FitsAmount(group_net)) {
      return InvalidField("lines", absl::StrCat("total exceeds ", kMaxAmountCents, " cents"));
    }
    VatGroup group;
    group.rate = VatRate{key.category, key.hundredths_of_percent};
    group.net_cents = static_cast<int64_t>(group_net);
    group.vat_cents = VatOf(group.net_cents, group.rate);
    group.gross_cents = group.net_cents + group.vat_cents;
    net += group.net_cents;
    vat += group.vat_cents;
    totals.groups.push_back(group);
  }
  if (!FitsAmount(net) || !FitsAmount(net + vat)) {
    return InvalidField("lines", absl::StrCat("total exceeds ", kMaxAmountCents, " cents"));
  }
  totals.net_cents = static_cast<int64_t>(net);
  totals.vat_cents = static_cast<int64_t>(vat);
  totals.gross_cents = static_cast<int64_t>(net + vat);
  return totals;
}

absl::StatusOr<InvoiceTotals> ComputeInvoiceTotals(absl::Span<const InvoiceLine> lines,
                                                   absl::CivilDay delivery_date) {
  return ComputeInvoiceTotals(lines, delivery_date, BuiltInVatRatePeriods());
}

absl::Status ValidateCreditNoteTotals(const InvoiceTotals& totals) {
  if (totals.gross_cents >= 0) {
    return InvalidField("lines",
                        absl::StrCat("a credit note's total must be negative, got ",
                                     money::Money::FromMinor(totals.gross_cents).ToString()));
  }
  return absl::OkStatus();
}

// --- Due date ----------------------------------------------------------------------------------

absl::StatusOr<absl::CivilDay> DueDate(absl::CivilDay issue_date, int payment_terms_days) {
  if (payment_terms_days < 0 || payment_terms_days > kMaxPaymentTermsDays) {
    return InvalidField("payment_terms_days", absl::StrCat("must be 0..", kMaxPaymentTermsDays,
                                                           ", got ", payment_terms_days));
  }
  return issue_date + payment_terms_days;
}

// --- Payment reference -------------------------------------------------------------------------

absl::Status ValidateReferencePrefix(absl::string_view field, absl::string_view prefix) {
  if (!AllDigits(prefix)) {
    return InvalidField(field, "a reference prefix has only digits");
  }
  if (prefix.size() > kMaxReferencePrefixDigits) {
    return InvalidField(field, absl::StrCat("a reference prefix has at most ",
                                            kMaxReferencePrefixDigits, " digits"));
  }
  return absl::OkStatus();
}

absl::StatusOr<InvoiceReferences> InvoiceReference(absl::string_view org_reference_prefix,
                                                   int64_t invoice_number) {
  RETURN_IF_ERROR(ValidateReferencePrefix("org_reference_prefix", org_reference_prefix));
  RETURN_IF_ERROR(ValidateInvoiceNumber("invoice_number", invoice_number));
  std::string base = absl::StrCat(org_reference_prefix, invoice_number);
  size_t significant = base.size() - std::min(base.find_first_not_of('0'), base.size());
  if (significant < kMinReferenceBaseDigits || significant > kMaxReferenceBaseDigits) {
    return InvalidField(
        "invoice_number",
        absl::StrCat("the reference base (prefix + invoice number) has ", significant,
                     " digits without leading zeros; a national reference needs ",
                     kMinReferenceBaseDigits, "-", kMaxReferenceBaseDigits,
                     significant < kMinReferenceBaseDigits ? " (set a longer reference prefix)"
                                                           : " (set a shorter reference prefix)"));
  }
  InvoiceReferences references;
  ASSIGN_OR_RETURN(references.national, fi::MakeNationalReference(base));
  ASSIGN_OR_RETURN(references.rf, fi::RfReferenceOfNational(references.national));
  return references;
}

// --- Reminders ---------------------------------------------------------------------------------

absl::StatusOr<ReminderDecision> DecideReminder(const ReminderInput& input,
                                                absl::Span<const ReferenceRate> rates) {
  if (input.org_fee_cents < 0 || input.org_fee_cents > kMaxReminderFeeCents) {
    return InvalidField("org_fee_cents", absl::StrCat("must be 0..", kMaxReminderFeeCents,
                                                      " cents, got ", input.org_fee_cents));
  }
  if (input.open_amount_cents > kMaxPrincipalCents) {
    return InvalidField("open_amount_cents",
                        absl::StrCat("at most ", kMaxPrincipalCents, " cents"));
  }
  if (input.last_reminder_date.has_value() && *input.last_reminder_date > input.today) {
    return InvalidField("last_reminder_date", "must not be after today");
  }
  ReminderDecision decision;
  decision.days_overdue = std::max<int64_t>(0, input.today - input.due_date);
  if (input.open_amount_cents <= 0) {
    decision.reason = "nothing is open";
    return decision;
  }
  absl::CivilDay earliest = input.due_date + kReminderMinDaysOverdue;
  if (input.last_reminder_date.has_value()) {
    earliest = std::max(earliest, *input.last_reminder_date + kReminderMinDaysBetween);
  }
  if (input.today < earliest) {
    decision.earliest_date = earliest;
    if (decision.days_overdue < kReminderMinDaysOverdue) {
      decision.reason = absl::StrCat("only ", decision.days_overdue,
                                     " days overdue; a reminder needs ", kReminderMinDaysOverdue);
    } else {
      decision.reason =
          absl::StrCat("only ", input.today - *input.last_reminder_date,
                       " days since the last reminder; the next needs ", kReminderMinDaysBetween);
    }
    return decision;
  }
  ASSIGN_OR_RETURN(decision.interest,
                   ComputePenaltyInterest(input.open_amount_cents, input.due_date, input.today,
                                          input.debtor, rates));
  decision.eligible = true;
  decision.fee_cents = input.debtor == Debtor::kConsumer
                           ? std::min(input.org_fee_cents, kMaxConsumerReminderFeeCents)
                           : input.org_fee_cents;
  return decision;
}

absl::StatusOr<ReminderDecision> DecideReminder(const ReminderInput& input) {
  return DecideReminder(input, BuiltInReferenceRates());
}

// --- Receivables ageing ------------------------------------------------------------------------

AgeingBucket AgeingBucketOf(absl::CivilDay due_date, absl::CivilDay as_of) {
  int64_t days_overdue = as_of - due_date;
  if (days_overdue <= 0) {
    return AgeingBucket::kCurrent;
  }
  if (days_overdue <= 30) {
    return AgeingBucket::k1To30;
  }
  if (days_overdue <= 60) {
    return AgeingBucket::k31To60;
  }
  if (days_overdue <= 90) {
    return AgeingBucket::k61To90;
  }
  return AgeingBucket::kOver90;
}

absl::string_view AgeingBucketName(AgeingBucket bucket) {
  switch (bucket) {
    case AgeingBucket::kCurrent:
      return "current";
    case AgeingBucket::k1To30:
      return "1-30";
    case AgeingBucket::k31To60:
      return "31-60";
    case AgeingBucket::k61To90:
      return "61-90";
    case AgeingBucket::kOver90:
      return "over-90";
  }
  return "current";
}

absl::Span<const AgeingBucket> AllAgeingBuckets() {
  static constexpr AgeingBucket kBuckets[] = {AgeingBucket::kCurrent, AgeingBucket::k1To30,
                                              AgeingBucket::k31To60, AgeingBucket::k61To90,
                                              AgeingBucket::kOver90};
  return kBuckets;
}

// --- Invoice series ----------------------------------------------------------------------------

absl::Status ValidateSeriesCode(absl::string_view field, absl::string_view code) {
  if (code.empty()) {
    return InvalidField(field, "required (1-10 characters of A-Z, 0-9 and '-')");
  }
  if (code.size() > kMaxSeriesCodeLength) {
    return InvalidField(field, absl::StrCat("at most ", kMaxSeriesCodeLength, " characters"));
  }
  bool valid = std::all_of(code.begin(), code.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || absl::ascii_isdigit(c) || c == '-';
  });
  if (!valid) {
    return InvalidField(field, "only upper-case A-Z, digits 0-9 and '-'");
  }
  return absl::OkStatus();
}

absl::Status ValidateInvoiceNumber(absl::string_view field, int64_t number) {
  if (number <= 0) {
    return InvalidField(field, absl::StrCat("must be positive, got ", number));
  }
  return absl::OkStatus();
}

std::string FormatInvoiceNumber(absl::string_view series, int64_t number) {
  return absl::StrCat(series, "-", number);
}

}  // namespace tahe::invoicing
