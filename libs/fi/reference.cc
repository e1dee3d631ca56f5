#include "libs/fi/reference.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "libs/fi/mod97.h"
#include "libs/status/status.h"

namespace tahe::fi {

namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsDigitOrUpper(char c) { return IsDigit(c) || (c >= 'A' && c <= 'Z'); }

// `text` without ASCII whitespace, letters upper-cased.
std::string Compact(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (!absl::ascii_isspace(static_cast<unsigned char>(c))) {
      out.push_back(absl::ascii_toupper(static_cast<unsigned char>(c)));
    }
  }
  return out;
}

absl::string_view WithoutLeadingZeros(absl::string_view digits) {
  size_t first = digits.find_first_not_of('0');
  return first == absl::string_view::npos ? absl::string_view() : digits.substr(first);
}

// Groups of `size` characters counted from the left, or from the right if `from_right`.
std::string Group(absl::string_view text, size_t size, bool from_right) {
  std::string out;
  size_t offset = from_right ? (size - text.size() % size) % size : 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (i > 0 && (i + offset) % size == 0) {
      out.push_back(' ');
    }
    out.push_back(text[i]);
  }
  return out;
}

constexpr size_t kMaxRfBody = 21;

}  // namespace

// --- National reference number ---------------------------------------------------------------

char NationalReferenceCheckDigit(absl::string_view base) {
  static constexpr int kWeights[3] = {7, 3, 1};
  int sum = 0;
  for (size_t i = 0; i < base.size(); ++i) {
    sum += (base[base.size() - 1 - i] - '0') * kWeights[i % 3];
  }
  return static_cast<char>('0' + (10 - sum % 10) % 10);
}

absl::StatusOr<std::string> MakeNationalReference(absl::string_view base) {
  if (base.empty() || !std::all_of(base.begin(), base.end(), IsDigit)) {
    return InvalidField("base", "a reference base must be digits only");
  }
  absl::string_view significant = WithoutLeadingZeros(base);
  if (significant.size() < 3 || significant.size() > 19) {
    return InvalidField("base", "a reference base has 3-19 digits (leading zeros not counted)");
  }
  return absl::StrCat(significant, std::string(1, NationalReferenceCheckDigit(significant)));
}

absl::StatusOr<std::string> ParseNationalReference(absl::string_view field,
                                                   absl::string_view text) {
  std::string digits = Compact(text);
  if (digits.empty()) {
    return InvalidField(field, "required (a reference number, e.g. 12345 67907)");
  }
  if (!std::all_of(digits.begin(), digits.end(), IsDigit)) {
    return InvalidField(field, "a national reference number has only digits and spaces");
  }
  absl::string_view significant = WithoutLeadingZeros(digits);
  if (digits.size() > 20 || significant.size() < 4) {
    return InvalidField(field,
                        "a national reference number has 4-20 digits including the check digit");
  }
  if (significant.back() !=
      NationalReferenceCheckDigit(significant.substr(0, significant.size() - 1))) {
    return InvalidField(field, "check digit does not match");
  }
  return std::string(significant);
}

bool IsValidNationalReference(absl::string_view text) {
  return ParseNationalReference("reference", text).ok();
}

std::string FormatNationalReference(absl::string_view reference) {
  return Group(WithoutLeadingZeros(Compact(reference)), 5, /*from_right=*/true);
}

// --- RF creditor reference -------------------------------------------------------------------

absl::StatusOr<std::string> MakeRfReference(absl::string_view body) {
  std::string compact = Compact(body);
  if (compact.empty() || compact.size() > kMaxRfBody ||
      !std::all_of(compact.begin(), compact.end(), IsDigitOrUpper)) {
    return InvalidField("body", "an RF reference body is 1-21 letters and digits");
  }
  int check = 98 - internal::Mod97(absl::StrCat(compact, "RF00"));
  return absl::StrCat("RF", check < 10 ? "0" : "", check, compact);
}

absl::StatusOr<std::string> ParseRfReference(absl::string_view field, absl::string_view text) {
  std::string rf = Compact(text);
  if (rf.empty()) {
    return InvalidField(field, "required (an RF reference, e.g. RF18 5390 0754 7034)");
  }
  if (rf.size() < 2 || rf.substr(0, 2) != "RF") {
    return InvalidField(field, "an RF reference starts with RF");
  }
  if (rf.size() < 5 || !IsDigit(rf[2]) || !IsDigit(rf[3])) {
    return InvalidField(field, "an RF reference is RF, two check digits and 1-21 characters");
  }
  absl::string_view body = absl::string_view(rf).substr(4);
  if (body.size() > kMaxRfBody || !std::all_of(body.begin(), body.end(), IsDigitOrUpper)) {
    return InvalidField(field,
                        "an RF reference has 1-21 letters and digits after the check digits");
  }
  // 98 - n for n in 0..96: a computed check is never 00, 01 or 99, though they can pass mod 97.
  int check = (rf[2] - '0') * 10 + (rf[3] - '0');
  if (check < 2 || check > 98) {
    return InvalidField(field, "check digits must be 02-98");
  }
  if (internal::Mod97(absl::StrCat(body, absl::string_view(rf).substr(0, 4))) != 1) {
    return InvalidField(field, "check digits do not match");
  }
  return rf;
}

bool IsValidRfReference(absl::string_view text) { return ParseRfReference("reference", text).ok(); }

std::string FormatRfReference(absl::string_view reference) {
  return Group(Compact(reference), 4, /*from_right=*/false);
}

absl::StatusOr<std::string> RfReferenceOfNational(absl::string_view national) {
  absl::StatusOr<std::string> canonical = ParseNationalReference("reference", national);
  if (!canonical.ok()) {
    return canonical.status();
  }
  return MakeRfReference(*canonical);
}

absl::StatusOr<std::string> NationalReferenceOfRf(absl::string_view rf) {
  absl::StatusOr<std::string> parsed = ParseRfReference("reference", rf);
  if (!parsed.ok()) {
    return parsed.status();
  }
  absl::StatusOr<std::string> national =
      ParseNationalReference("reference", absl::string_view(*parsed).substr(4));
  if (!national.ok()) {
    return InvalidField("reference",
                        "the RF reference does not contain a valid national reference number");
  }
  return national;
}

}  // namespace tahe::fi
