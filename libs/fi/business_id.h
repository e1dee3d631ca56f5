#pragma once

// The Finnish business ID (Y-tunnus, "2077474-0") and the VAT number derived from it
// ("FI20774740"), per finnish-rules.md §4.
//
//   RETURN_IF_ERROR(fi::ValidateBusinessId("organisation.business_id", text));
//   ASSIGN_OR_RETURN(std::string vat, fi::VatNumberOf("2077474-0"));   // "FI20774740"
//   ASSIGN_OR_RETURN(std::string id, fi::BusinessIdOfVatNumber(vat));  // "2077474-0"
//
// A business ID is public registry data, so error messages may quote it.

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tahe::fi {

// "NNNNNNN-C": weights 7 9 10 5 8 4 2 on the seven digits, r = sum mod 11, C = 0 if r = 0,
// never issued if r = 1, else C = 11 - r. Exactly seven digits: old six-digit IDs must be
// written left-padded with 0, as the registry does. No surrounding whitespace.
bool IsValidBusinessId(absl::string_view business_id);

// OK if IsValidBusinessId; INVALID_ARGUMENT naming `field` otherwise (also when empty).
absl::Status ValidateBusinessId(absl::string_view field, absl::string_view business_id);

// The VAT number of a business ID: "FI" + the eight digits ("2077474-0" -> "FI20774740").
// INVALID_ARGUMENT (field "business_id") unless IsValidBusinessId.
absl::StatusOr<std::string> VatNumberOf(absl::string_view business_id);

// The inverse of VatNumberOf: "FI20774740" -> "2077474-0". Upper-case "FI" and eight digits
// forming a valid business ID; INVALID_ARGUMENT (field "vat_number") otherwise.
absl::StatusOr<std::string> BusinessIdOfVatNumber(absl::string_view vat_number);

}  // namespace tahe::fi
