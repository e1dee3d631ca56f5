#pragma once

// The bank virtual barcode (virtuaaliviivakoodi) printed on Finnish invoices, versions 4 and 5,
// per finnish-rules.md §5: 54 digits that a payer's bank reads to fill in the account, amount,
// reference and due date.
//
//   ASSIGN_OR_RETURN(std::string barcode,
//                    fi::MakeVirtualBarcode("FI37 1590 3000 0007 76", /*amount_cents=*/1225,
//                                           "11112", absl::CivilDay(2016, 12, 21)));
//   // "437159030000007760000122500000000000000000011112161221"
//
// The version follows from the reference: 4 for a national reference number, 5 for an RF
// creditor reference (convert with RfReferenceOfNational first to get version 5).

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"

namespace tahe::fi {

// The largest amount a barcode holds: 999 999.99 euros.
inline constexpr int64_t kMaxBarcodeAmountCents = 99'999'999;

// The 54-digit virtual barcode:
//   1      version: 4 (national reference) or 5 (RF reference)
//   2-17   the IBAN without "FI": check digits and the 14-digit BBAN
//   18-25  the amount: euros in 6 digits, cents in 2; all zeros lets the payer enter the amount
//   v4: 26-28 "000", 29-48 the national reference right-aligned, zero-padded to 20 digits
//   v5: 26-27 the RF check digits, 28-48 the RF body zero-padded to 21 digits
//   49-54  the due date YYMMDD, "000000" if none
// `iban` is a valid Finnish IBAN (spaces allowed); `amount_cents` is 0 (the payer enters the
// amount) to kMaxBarcodeAmountCents; `reference` is a valid national reference or an RF reference
// with a digits-only body (the barcode has no letters), spaces allowed; `due_date`, if any, lies
// in 2000-2099 (the barcode has a two-digit year). INVALID_ARGUMENT naming the field ("iban",
// "amount_cents", "reference" or "due_date") and what is wrong otherwise.
absl::StatusOr<std::string> MakeVirtualBarcode(absl::string_view iban, int64_t amount_cents,
                                               absl::string_view reference,
                                               std::optional<absl::CivilDay> due_date);

}  // namespace tahe::fi
