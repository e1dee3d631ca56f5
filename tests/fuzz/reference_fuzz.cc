// Fuzzes the payment references of libs/fi/reference.h: the Finnish national reference number
// and the RF creditor reference, as a payer's bank passes them on in camt.054 files and as
// callers give them. The whole input is the text.
//
// Invariants: Parse and IsValid agree; a valid reference's canonical form re-parses to itself,
// and so does its printed (grouped) form; a national reference converts to an RF reference and
// back to itself; whatever Make* returns is valid; an RF reference's check is mod 97 == 1.

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "libs/fi/mod97.h"
#include "libs/fi/reference.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

using namespace tahe::fi;  // NOLINT: the fuzzer checks this one header.

bool AllDigits(absl::string_view text) {
  for (char c : text) {
    if (c < '0' || c > '9') {
      return false;
    }
  }
  return true;
}

void CheckNational(absl::string_view text) {
  const absl::StatusOr<std::string> parsed = ParseNationalReference("reference", text);
  FUZZ_CHECK(parsed.ok() == IsValidNationalReference(text));
  if (!parsed.ok()) {
    FUZZ_CHECK(parsed.status().code() == absl::StatusCode::kInvalidArgument);
    return;
  }
  const std::string& national = *parsed;
  // Canonical: 4-20 digits, no leading zero, the last the check digit of the rest.
  FUZZ_CHECK(national.size() >= 4 && national.size() <= 20);
  FUZZ_CHECK(AllDigits(national) && national[0] != '0');
  FUZZ_CHECK(NationalReferenceCheckDigit(
                 absl::string_view(national).substr(0, national.size() - 1)) == national.back());
  FUZZ_CHECK(ParseNationalReference("reference", national).value() == national);
  const std::string printed = FormatNationalReference(national);
  FUZZ_CHECK(ParseNationalReference("reference", printed).value() == national);
  FUZZ_CHECK(FormatNationalReference(text) == printed);
  // Making the reference again from its base gives the same reference.
  FUZZ_CHECK(
      MakeNationalReference(absl::string_view(national).substr(0, national.size() - 1)).value() ==
      national);
  // National -> RF -> national.
  const absl::StatusOr<std::string> rf = RfReferenceOfNational(text);
  FUZZ_CHECK(rf.ok());
  FUZZ_CHECK(*rf == absl::StrCat(rf->substr(0, 4), national));
  FUZZ_CHECK(IsValidRfReference(*rf));
  FUZZ_CHECK(NationalReferenceOfRf(*rf).value() == national);
}

void CheckRf(absl::string_view text) {
  const absl::StatusOr<std::string> parsed = ParseRfReference("reference", text);
  FUZZ_CHECK(parsed.ok() == IsValidRfReference(text));
  if (!parsed.ok()) {
    FUZZ_CHECK(parsed.status().code() == absl::StatusCode::kInvalidArgument);
    FUZZ_CHECK(!NationalReferenceOfRf(text).ok());
    return;
  }
  const std::string& rf = *parsed;
  FUZZ_CHECK(rf.size() >= 5 && rf.size() <= 25 && rf.substr(0, 2) == "RF");
  const absl::string_view body = absl::string_view(rf).substr(4);
  FUZZ_CHECK(tahe::fi::internal::Mod97(absl::StrCat(body, rf.substr(0, 4))) == 1);
  FUZZ_CHECK(ParseRfReference("reference", rf).value() == rf);
  FUZZ_CHECK(ParseRfReference("reference", FormatRfReference(rf)).value() == rf);
  FUZZ_CHECK(FormatRfReference(text) == FormatRfReference(rf));
  // The check digits are a function of the body.
  FUZZ_CHECK(MakeRfReference(body).value() == rf);
  // RF -> national -> RF: the same up to leading zeros of the body, which change no check digit.
  const absl::StatusOr<std::string> national = NationalReferenceOfRf(rf);
  if (national.ok()) {
    FUZZ_CHECK(IsValidNationalReference(*national));
    const std::string again = RfReferenceOfNational(*national).value();
    FUZZ_CHECK(again.substr(0, 4) == rf.substr(0, 4));
    if (body[0] != '0') {
      FUZZ_CHECK(again == rf);
    }
  } else {
    FUZZ_CHECK(!IsValidNationalReference(body));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  CheckNational(text);
  CheckRf(text);
  // The same text as a base and as an RF body: whatever is made must be valid.
  if (const absl::StatusOr<std::string> made = MakeNationalReference(text); made.ok()) {
    FUZZ_CHECK(IsValidNationalReference(*made));
    FUZZ_CHECK(made->substr(0, made->size() - 1) ==
               absl::string_view(text).substr(text.find_first_not_of('0')));
  }
  if (const absl::StatusOr<std::string> made = MakeRfReference(text); made.ok()) {
    FUZZ_CHECK(IsValidRfReference(*made));
    FUZZ_CHECK(FormatRfReference(*made).substr(0, 4) == made->substr(0, 4));
  }
  return 0;
}
