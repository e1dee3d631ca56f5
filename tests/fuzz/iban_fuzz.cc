// Fuzzes IBAN validation (libs/fi/iban.h): employees' and customers' accounts as callers give
// them, and the account of a camt.054 notification. The whole input is the text. A valid Finnish
// IBAN also goes through the bank virtual barcode (libs/fi/barcode.h), which embeds it.
//
// Invariants: ParseIban, ValidateIban and IsValidIban agree; a valid IBAN has the normalised
// text, its country's length, check digits 02-98 and mod 97 == 1; it re-parses to itself, and so
// does its printed form; BicOf fails exactly when ParseIban does and knows only Finnish banks;
// the barcode carries the IBAN's digits.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "libs/fi/barcode.h"
#include "libs/fi/iban.h"
#include "libs/fi/mod97.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tahe::fi;  // NOLINT: the fuzzer checks this one header.
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  const absl::StatusOr<std::string> parsed = ParseIban("iban", text);
  FUZZ_CHECK(parsed.ok() == IsValidIban(text));
  FUZZ_CHECK(parsed.status() == ValidateIban("iban", text));
  const absl::StatusOr<std::optional<std::string>> bic = BicOf("iban", text);
  FUZZ_CHECK(bic.ok() == parsed.ok());
  if (!parsed.ok()) {
    FUZZ_CHECK(parsed.status().code() == absl::StatusCode::kInvalidArgument);
    FUZZ_CHECK(!MakeVirtualBarcode(text, 0, "11112", std::nullopt).ok());
    return 0;
  }
  const std::string& iban = *parsed;
  FUZZ_CHECK(iban == NormalizeIban(text));
  const std::optional<int> length = IbanLengthOf(iban.substr(0, 2));
  FUZZ_CHECK(length.has_value() && static_cast<size_t>(*length) == iban.size());
  const int check = (iban[2] - '0') * 10 + (iban[3] - '0');
  FUZZ_CHECK(check >= 2 && check <= 98);
  FUZZ_CHECK(tahe::fi::internal::Mod97(absl::StrCat(iban.substr(4), iban.substr(0, 4))) == 1);
  FUZZ_CHECK(ParseIban("iban", iban).value() == iban);
  const std::string printed = FormatIban(iban);
  FUZZ_CHECK(printed == FormatIban(text));
  FUZZ_CHECK(ParseIban("iban", printed).value() == iban);
  const bool finnish = iban.substr(0, 2) == "FI";
  if (bic->has_value()) {
    FUZZ_CHECK(finnish && (*bic)->size() == 8);
  }
  const absl::StatusOr<std::string> barcode =
      MakeVirtualBarcode(text, 1225, "11112", absl::CivilDay(2016, 12, 21));
  FUZZ_CHECK(barcode.ok() == finnish);
  if (finnish) {
    // Version 4, then the IBAN's 16 digits after "FI", the amount, the reference, the due date.
    FUZZ_CHECK(barcode->size() == 54);
    FUZZ_CHECK(*barcode ==
               absl::StrCat("4", iban.substr(2), "00001225", "00000000000000000011112", "161221"));
  }
  return 0;
}
