#include "libs/fi/barcode.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "libs/fi/iban.h"
#include "libs/fi/reference.h"
#include "libs/status/status.h"

namespace tahe::fi {

namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// `digits` left-padded with zeros to `width`. REQUIRES: digits.size() <= width.
std::string ZeroPadded(absl::string_view digits, size_t width) {
  return absl::StrCat(std::string(width - digits.size(), '0'), digits);
}

bool LooksLikeRf(absl::string_view reference) {
  absl::string_view stripped = absl::StripLeadingAsciiWhitespace(reference);
  return stripped.size() >= 2 &&
         absl::ascii_toupper(static_cast<unsigned char>(stripped[0])) == 'R' &&
         absl::ascii_toupper(static_cast<unsigned char>(stripped[1])) == 'F';
}

}  // namespace

absl::StatusOr<std::string> MakeVirtualBarcode(absl::string_view iban, int64_t amount_cents,
                                               absl::string_view reference,
                                               std::optional<absl::CivilDay> due_date) {
  absl::StatusOr<std::string> account = ParseIban("iban", iban);
  if (!account.ok()) {
    return account.status();
  }
  if (account->substr(0, 2) != "FI") {
    return InvalidField("iban", "a virtual barcode takes only a Finnish (FI) IBAN");
  }
  if (amount_cents < 0) {
    return InvalidField("amount_cents", "must not be negative");
  }
  if (amount_cents > kMaxBarcodeAmountCents) {
    return InvalidField("amount_cents", "a virtual barcode holds at most 999999.99 euros");
  }
  std::string due = "000000";
  if (due_date.has_value()) {
    if (due_date->year() < 2000 || due_date->year() > 2099) {
      return InvalidField("due_date", "must be in 2000-2099 (the barcode has a two-digit year)");
    }
    due =
        absl::StrFormat("%02d%02d%02d", due_date->year() % 100, due_date->month(), due_date->day());
  }
  std::string reference_part;
  char version;
  if (LooksLikeRf(reference)) {
    absl::StatusOr<std::string> rf = ParseRfReference("reference", reference);
    if (!rf.ok()) {
      return rf.status();
    }
    absl::string_view body = absl::string_view(*rf).substr(4);
    if (!std::all_of(body.begin(), body.end(), IsDigit)) {
      return InvalidField("reference",
                          "an RF reference with letters cannot go in a virtual barcode (digits "
                          "only)");
    }
    version = '5';
    reference_part = absl::StrCat(absl::string_view(*rf).substr(2, 2), ZeroPadded(body, 21));
  } else {
    absl::StatusOr<std::string> national = ParseNationalReference("reference", reference);
    if (!national.ok()) {
      return national.status();
    }
    version = '4';
    reference_part = absl::StrCat("000", ZeroPadded(*national, 20));
  }
  std::string barcode = absl::StrCat(
      std::string(1, version), absl::string_view(*account).substr(2),
      absl::StrFormat("%06d%02d", amount_cents / 100, amount_cents % 100), reference_part, due);
  return barcode;
}

}  // namespace tahe::fi
