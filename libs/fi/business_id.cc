#include "libs/fi/business_id.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "libs/status/status.h"

namespace tahe::fi {

namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

bool IsValidBusinessId(absl::string_view id) {
  if (id.size() != 9 || id[7] != '-' || !IsDigit(id[8])) {
    return false;
  }
  static constexpr int kWeights[7] = {7, 9, 10, 5, 8, 4, 2};
  int sum = 0;
  for (int i = 0; i < 7; ++i) {
    if (!IsDigit(id[i])) {
      return false;
    }
    sum += (id[i] - '0') * kWeights[i];
  }
  int r = sum % 11;
  if (r == 1) {
    return false;  // never issued
  }
  int check = r == 0 ? 0 : 11 - r;
  return id[8] - '0' == check;
}

absl::Status ValidateBusinessId(absl::string_view field, absl::string_view business_id) {
  if (business_id.empty()) {
    return InvalidField(field, "required (a Y-tunnus, e.g. 2077474-0)");
  }
  if (!IsValidBusinessId(business_id)) {
    return InvalidField(field, absl::StrCat("\"", absl::CHexEscape(business_id),
                                            "\" is not a valid Y-tunnus (NNNNNNN-C with a "
                                            "correct check digit)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> VatNumberOf(absl::string_view business_id) {
  if (absl::Status status = ValidateBusinessId("business_id", business_id); !status.ok()) {
    return status;
  }
  return absl::StrCat("FI", business_id.substr(0, 7), business_id.substr(8));
}

absl::StatusOr<std::string> BusinessIdOfVatNumber(absl::string_view vat_number) {
  if (vat_number.size() == 10 && vat_number.substr(0, 2) == "FI") {
    std::string id = absl::StrCat(vat_number.substr(2, 7), "-", vat_number.substr(9));
    if (IsValidBusinessId(id)) {
      return id;
    }
  }
  return InvalidField("vat_number",
                      absl::StrCat("\"", absl::CHexEscape(vat_number),
                                   "\" is not a Finnish VAT number (FI and the eight digits of a "
                                   "valid Y-tunnus)"));
}

}  // namespace tahe::fi
