// Fuzzes the Finnish business ID (Y-tunnus) and the VAT number derived from it
// (libs/fi/business_id.h): customers' and organisations' IDs as callers give them. The whole
// input is the text, tried both as a business ID and as a VAT number.
//
// Invariants: IsValidBusinessId and ValidateBusinessId agree; a valid ID has the NNNNNNN-C shape
// and the check digit of its weights; VatNumberOf and BusinessIdOfVatNumber are inverses.

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "libs/fi/business_id.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tahe::fi;  // NOLINT: the fuzzer checks this one header.
  const absl::string_view text(reinterpret_cast<const char*>(data), size);

  const bool valid = IsValidBusinessId(text);
  const absl::Status status = ValidateBusinessId("business_id", text);
  FUZZ_CHECK(valid == status.ok());
  FUZZ_CHECK(valid || status.code() == absl::StatusCode::kInvalidArgument);
  const absl::StatusOr<std::string> vat = VatNumberOf(text);
  FUZZ_CHECK(vat.ok() == valid);
  if (valid) {
    FUZZ_CHECK(text.size() == 9 && text[7] == '-');
    static constexpr int kWeights[7] = {7, 9, 10, 5, 8, 4, 2};
    int sum = 0;
    for (int i = 0; i < 7; ++i) {
      FUZZ_CHECK(text[i] >= '0' && text[i] <= '9');
      sum += (text[i] - '0') * kWeights[i];
    }
    FUZZ_CHECK(sum % 11 != 1);
    FUZZ_CHECK(text[8] - '0' == (sum % 11 == 0 ? 0 : 11 - sum % 11));
    FUZZ_CHECK(*vat == absl::StrCat("FI", text.substr(0, 7), text.substr(8)));
    FUZZ_CHECK(BusinessIdOfVatNumber(*vat).value() == text);
  }

  const absl::StatusOr<std::string> id = BusinessIdOfVatNumber(text);
  if (id.ok()) {
    FUZZ_CHECK(IsValidBusinessId(*id));
    FUZZ_CHECK(VatNumberOf(*id).value() == text);
  } else {
    FUZZ_CHECK(id.status().code() == absl::StatusCode::kInvalidArgument);
  }
  return 0;
}
