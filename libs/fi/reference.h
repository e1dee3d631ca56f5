#pragma once

// Payment references: the Finnish national reference number (viitenumero, finnish-rules.md §1)
// and the RF creditor reference (ISO 11649, §2), which in Finland normally wraps a national one.
//
//   ASSIGN_OR_RETURN(std::string national, fi::MakeNationalReference("23409678"));
//   // "234096783"; printed fi::FormatNationalReference(national) == "2340 96783"
//   ASSIGN_OR_RETURN(std::string rf, fi::RfReferenceOfNational(national));
//   // "RF80234096783"; printed fi::FormatRfReference(rf) == "RF80 2340 9678 3"
//   ASSIGN_OR_RETURN(std::string paid, fi::ParseNationalReference("payment.reference", text));
//
// Canonical forms, which is what Make*, Parse* and the conversions return and what payments
// should be matched on: a national reference is its digits without spaces or leading zeros
// (banks pad it with zeros to 20 digits in machine-readable data, and a leading zero changes
// neither the check digit nor the RF check digits); an RF reference is upper case without spaces.

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tahe::fi {

// --- National reference number ---------------------------------------------------------------

// The check digit of `base`: its digits multiplied from right to left by 7, 3, 1, 7, 3, 1, ...;
// (10 - sum mod 10) mod 10. REQUIRES: `base` is only digits (any length).
char NationalReferenceCheckDigit(absl::string_view base);

// `base` + its check digit: "1234" -> "12344". `base` is 3-19 digits once leading zeros are
// dropped (they are dropped from the result too); INVALID_ARGUMENT (field "base") otherwise.
absl::StatusOr<std::string> MakeNationalReference(absl::string_view base);

// The canonical form of a national reference written with or without spaces and leading zeros:
// at most 20 digits as written, 4-20 once leading zeros are dropped, last digit the check digit
// of the rest. INVALID_ARGUMENT naming `field` and what is wrong otherwise.
absl::StatusOr<std::string> ParseNationalReference(absl::string_view field, absl::string_view text);
bool IsValidNationalReference(absl::string_view text);

// Groups of five digits counted from the right, without leading zeros: "234096783" ->
// "2340 96783". Meant for a valid reference; spaces in the input are ignored.
std::string FormatNationalReference(absl::string_view reference);

// --- RF creditor reference (ISO 11649) -------------------------------------------------------

// "RF" + the two check digits + `body`: 98 - mod97(body + "RF00"), as two digits. `body` is 1-21
// letters and digits once spaces are dropped and letters upper-cased ("11112" -> "RF9811112");
// INVALID_ARGUMENT (field "body") otherwise.
absl::StatusOr<std::string> MakeRfReference(absl::string_view body);

// Upper case without spaces if valid: "RF", two check digits 02-98, 1-21 letters and digits, and
// the number with the first four characters moved to the end (A=10 ... Z=35) mod 97 is 1.
// INVALID_ARGUMENT naming `field` and what is wrong otherwise.
absl::StatusOr<std::string> ParseRfReference(absl::string_view field, absl::string_view text);
bool IsValidRfReference(absl::string_view text);

// Blocks of four from the left: "RF18539007547034" -> "RF18 5390 0754 7034". Meant for a valid
// reference; spaces in the input are ignored and letters upper-cased.
std::string FormatRfReference(absl::string_view reference);

// A national reference as an RF reference with the canonical national reference as the body:
// "11112" -> "RF9811112". INVALID_ARGUMENT (field "reference") unless a valid national reference.
absl::StatusOr<std::string> RfReferenceOfNational(absl::string_view national);

// The inverse: "RF9811112" -> "11112". INVALID_ARGUMENT (field "reference") unless a valid RF
// reference whose body is a valid national reference.
absl::StatusOr<std::string> NationalReferenceOfRf(absl::string_view rf);

}  // namespace tahe::fi
