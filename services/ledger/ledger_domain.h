#pragma once

// The ledger's rules, free of gRPC and SQL: what makes an entry valid, the canonical content the
// hash chain covers, request fingerprints for idempotency, reversals, dates and periods, and the
// chart-of-accounts templates. Protobuf messages are used only as plain data.
//
//   RETURN_IF_ERROR(ValidateDraft(request.entry(), "entry"));
//   std::string hash = ChainHash(previous_hash, CanonicalEntry(tenant, seq, request_id, draft, 0));

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "libs/dates/dates.h"
#include "libs/status/status.h"
#include "tahe/ledger/v1/ledger.pb.h"

namespace tahe::ledger {

inline constexpr int kMaxLinesPerEntry = 10000;
inline constexpr int kHashBytes = 32;
// The largest amount of one line, 1 000 000 000 000.00 €: far above any real posting, and low
// enough that no entry (<= kMaxLinesPerEntry lines) and no account total can overflow int64.
inline constexpr int64_t kMaxAbsAmountMinor = 100'000'000'000'000;

// Free text must not carry control characters other than tab and newline (NUL would be cut by
// libpq, the others break exports): INVALID_ARGUMENT naming `field`.
absl::Status CheckText(absl::string_view field, absl::string_view text);
bool IsCleanText(absl::string_view text);

// Dates "YYYY-MM-DD" and periods "YYYY-MM" (libs/dates).
using ::tahe::FormatDate;
using ::tahe::FormatPeriod;
using ::tahe::ParseDate;
using ::tahe::ParsePeriod;
using ::tahe::PeriodOf;

bool IsValidAccountNumber(absl::string_view number);
bool IsValidDimensionKey(absl::string_view key);
// Empty -> "EUR"; otherwise must be three upper-case letters.
absl::StatusOr<std::string> NormalizeCurrency(absl::string_view field, absl::string_view code);

// Everything that can be checked without the database: date, texts, at least two lines, valid
// account numbers, non-zero amounts, currencies, dimension syntax, and balance per currency.
// Errors name the field, e.g. "entry.lines[2].amount.amount_minor: must not be zero".
absl::Status ValidateDraft(const v1::EntryDraft& draft, absl::string_view field);

// A request id is required on every mutating RPC (libs/status: 1-128 printable ASCII characters
// without spaces; INVALID_ARGUMENT naming the field otherwise).
using ::tahe::IsValidRequestId;
using ::tahe::ValidateRequestId;

// The bytes the hash chain covers for one entry: every field that matters, length-prefixed so no
// two different entries encode alike; dimensions sorted by key; currency normalised.
std::string CanonicalEntry(absl::string_view tenant, int64_t sequence, absl::string_view request_id,
                           const v1::EntryDraft& draft, int64_t reverses_sequence);

// SHA-256(previous_hash || canonical). The first entry's previous hash is GenesisHash().
std::string ChainHash(absl::string_view previous_hash, absl::string_view canonical);
std::string GenesisHash();
std::string Sha256(absl::string_view bytes);
std::string HexEncode(absl::string_view bytes);

// Fingerprint of a post request's content (not its id), to tell a replay from a conflict.
std::string DraftFingerprint(const v1::EntryDraft& draft, int64_t reverses_sequence);

// The reversal of `original`: every line negated, same dimensions, on `date`.
v1::EntryDraft ReversalDraft(const v1::Entry& original, absl::string_view date,
                             absl::string_view description);

// Chart templates ("fi-municipal", "fi-wellbeing-region"): accounts and default dimensions.
struct ChartTemplate {
  std::vector<v1::Account> accounts;
  std::vector<v1::Dimension> dimensions;
};
absl::StatusOr<ChartTemplate> LoadTemplate(absl::string_view name);

// Sum of amounts per currency; OUT_OF_RANGE on overflow.
absl::StatusOr<std::vector<std::pair<std::string, int64_t>>> SumByCurrency(
    const v1::EntryDraft& draft);

}  // namespace tahe::ledger
