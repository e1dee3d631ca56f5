#pragma once

// The SEPA credit-transfer file that pays a pay run's net pays: an ISO 20022 pain.001.001.03
// customer credit transfer initiation, as accepted by Finnish banks. A pure writer, free of gRPC
// and SQL: it checks every field up front and either returns the whole document or an
// INVALID_ARGUMENT naming the first offending field ("payments[3].creditor_iban: ..."), never a
// partial file.
//
//   SepaCreditTransfer transfer;
//   transfer.message_id = "PAYRUN-2026-11-1";
//   transfer.creation_time = absl::Now();
//   transfer.debtor = {.name = "Esimerkin kunta", .iban = "FI2112345600000785",
//                      .bic = "NDEAFIHH", .business_id = "2077474-0"};
//   transfer.requested_execution_date = absl::CivilDay(2026, 11, 30);
//   transfer.payments.push_back({.end_to_end_id = "PAYRUN-2026-11-E17",
//                                .creditor_name = "Matti Meikäläinen",
//                                .creditor_iban = "FI5542345670000081",
//                                .amount_cents = 254'321,
//                                .remittance_information = "Palkka 2026-11"});
//   ASSIGN_OR_RETURN(std::string xml, WriteSepaCreditTransfer(transfer));
//
// The document holds one payment information block (PmtInf) for all payments: service level
// SEPA, category purpose SALA (salary), charges SLEV, currency EUR. GrpHdr and PmtInf both carry
// NbOfTxs and CtrlSum; CtrlSum is the exact sum of the amounts, computed in integer cents.
//
// Characters. ISO 20022 allows all of Unicode, but the EPC restricts SEPA to a Latin set
// (a-z A-Z 0-9 / - ? : ( ) . , ' + space), and Finnish banks also accept å ä ö Å Ä Ö in names and
// remittance text. So:
//  - Free text (names, remittance information) keeps the Latin set, å ä ö Å Ä Ö and '&' (listed
//    as permitted by Nordic and German bank guides). Other Latin letters are transliterated
//    the way the EPC conversion table does (é -> e, ü -> u, š -> s, ø -> o, ß -> ss, æ -> ae),
//    typographic apostrophes and dashes become ' and -, and a no-break space becomes a space.
//    Anything else (control characters, < > " @ _ and the like, other scripts, emoji) is
//    INVALID_ARGUMENT naming the field and the character, never silently dropped. Lengths are
//    counted in characters after transliteration.
//  - Identifiers (message id, end-to-end ids) are never altered: only letters, digits and
//    / - ? : ( ) . , ' + (no space, no å ä ö: some banks strip or refuse them, which would break
//    matching the camt.054 notification back to the payment), at most 35 characters, not starting
//    or ending with '/' and without "//" (EPC rule).
//  - The ampersand and the apostrophe are written as &amp; and &apos;.
//
// Limits beyond the schema's, from the EPC SCT implementation guidelines: names at most 70
// characters, one unstructured remittance line of at most 140, amounts 0.01 to 999 999 999.99.
//
// IBANs are checked by libs/fi (fi::ParseIban: a SEPA country, its length, the mod-97 check
// digits) and written normalised (no spaces, upper case); refusals never quote the IBAN, which is
// personal data. BICs are upper-cased and must match the schema's 8- or 11-character pattern. The
// business ID is checked by fi::ValidateBusinessId.
//
// All functions are thread-safe.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace tahe::payroll {

// Largest amount of one SEPA credit transfer, 999 999 999.99 € (EPC rulebook, AT-04).
inline constexpr int64_t kSepaMaxAmountCents = 99'999'999'999;
// Largest control sum the schema can carry: DecimalNumber has 18 digits, two of them decimals.
inline constexpr int64_t kSepaMaxControlSumCents = 999'999'999'999'999'999;
inline constexpr int kSepaMaxIdLength = 35;
inline constexpr int kSepaMaxNameLength = 70;
inline constexpr int kSepaMaxRemittanceLength = 140;

// The paying organisation: debtor and initiating party of the file.
struct SepaDebtor {
  // REQUIRES: 1..70 characters after transliteration.
  std::string name;
  std::string iban;
  // REQUIRES: the BIC of the debtor's bank; Finnish banks expect it in DbtrAgt.
  std::string bic;
  // Optional Finnish business ID (Y-tunnus, "NNNNNNN-C"), written as Id/OrgId/Othr/Id with
  // SchmeNm/Cd "Y" (the code Finnish banks use for it) in InitgPty and Dbtr.
  std::string business_id;
};

// One net pay.
struct SepaPayment {
  // Unique within the file; travels unchanged to the employee's bank and back in camt.054.
  std::string end_to_end_id;
  std::string creditor_name;
  std::string creditor_iban;
  // Optional: SEPA payments need only the IBAN. When empty, CdtrAgt is left out (fi::BicOf can
  // supply it for a Finnish IBAN if a bank insists).
  std::string creditor_bic;
  // REQUIRES: 1..kSepaMaxAmountCents.
  int64_t amount_cents = 0;
  // Optional unstructured remittance text, e.g. "Palkka 2026-11"; at most 140 characters.
  std::string remittance_information;
};

struct SepaCreditTransfer {
  // GrpHdr/MsgId, also used as PmtInf/PmtInfId (the file has one PmtInf). Identifier rules apply.
  std::string message_id;
  // GrpHdr/CreDtTm, written as local time in `time_zone` with its offset:
  // "2026-11-25T10:15:00+02:00".
  absl::Time creation_time;
  absl::TimeZone time_zone = absl::UTCTimeZone();
  SepaDebtor debtor;
  // The payment date.
  absl::CivilDay requested_execution_date;
  // true: one debit on the debtor's statement for the whole file (usual for salaries, so single
  // pays are not visible on the employer's statement); false: one debit per payment.
  bool batch_booking = true;
  // REQUIRES: at least one.
  std::vector<SepaPayment> payments;
};

// The pain.001.001.03 document, UTF-8 with an XML declaration; INVALID_ARGUMENT naming the first
// offending field when any field breaks the schema's or the EPC's limits (see above).
absl::StatusOr<std::string> WriteSepaCreditTransfer(const SepaCreditTransfer& transfer);

// `text` converted to the SEPA free-text character set as described above (not XML-escaped);
// INVALID_ARGUMENT naming `field` if it is blank, longer than `max_length` characters after
// conversion, not UTF-8, or holds a character that cannot be converted. Lets callers check a
// name when it is entered rather than on pay day.
absl::StatusOr<std::string> ToSepaText(absl::string_view field, absl::string_view text,
                                       int max_length);

// `bic` in upper case if it matches the schema's BICIdentifier pattern (8 or 11 letters or
// digits); INVALID_ARGUMENT naming `field` otherwise. Lets callers check a BIC when it is entered.
absl::StatusOr<std::string> NormaliseBic(absl::string_view field, absl::string_view bic);

// "1234.50": whole euros, a decimal point and exactly two decimals. REQUIRES: cents >= 0.
std::string FormatSepaAmount(int64_t cents);

}  // namespace tahe::payroll
