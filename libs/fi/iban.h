#pragma once

// IBAN (ISO 13616) validation and printing, and the BIC of a Finnish IBAN's bank, per
// finnish-rules.md §3.
//
//   ASSIGN_OR_RETURN(std::string iban, fi::ParseIban("employee.iban", "fi21 1234 5600 0007 85"));
//   // iban == "FI2112345600000785"
//   std::string printed = fi::FormatIban(iban);                   // "FI21 1234 5600 0007 85"
//   ASSIGN_OR_RETURN(std::optional<std::string> bic, fi::BicOf("employee.iban", iban));
//   // *bic == "NDEAFIHH"; nullopt for an unknown bank or a foreign IBAN
//
// Only the countries of the SEPA scheme are known (their lengths from the SWIFT IBAN registry);
// an IBAN of any other country is refused, since Tahe pays and bills only through SEPA. Bank
// accounts of people are personal data: no message returned here quotes the IBAN.

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tahe::fi {

// Removes all ASCII whitespace and upper-cases ASCII letters: "fi21 1234 5600 0007 85" ->
// "FI2112345600000785". Nothing is validated.
std::string NormalizeIban(absl::string_view text);

// The IBAN length of a SEPA country ("FI" -> 18, "DE" -> 22); nullopt for any other code.
std::optional<int> IbanLengthOf(absl::string_view country);

// NormalizeIban(text) if it is a valid IBAN: two letters of a known country, two check digits
// 02-98, the country's length, letters and digits only (digits only after "FI"), and the
// rearranged number (first four characters moved to the end, A=10 ... Z=35) mod 97 is 1.
// INVALID_ARGUMENT naming `field` and what is wrong ("iban: check digits do not match").
absl::StatusOr<std::string> ParseIban(absl::string_view field, absl::string_view text);
absl::Status ValidateIban(absl::string_view field, absl::string_view text);
bool IsValidIban(absl::string_view text);

// NormalizeIban(iban) in groups of four for print: "FI21 1234 5600 0007 85". Meant for a
// validated IBAN; any other text is grouped all the same.
std::string FormatIban(absl::string_view iban);

// The BIC of a Finnish IBAN's bank, looked up by the longest matching bank prefix (the digits
// after the check digits) in Finance Finland's list of 15.10.2025. nullopt when the prefix is not
// on the list or the IBAN is not Finnish: the BIC is then unknown, which does not make the IBAN
// invalid. INVALID_ARGUMENT naming `field` if ParseIban fails.
absl::StatusOr<std::optional<std::string>> BicOf(absl::string_view field, absl::string_view iban);

}  // namespace tahe::fi
