// Fuzzes ledger entry validation (services/ledger/ledger_domain.h, ValidateDraft): the
// EntryDraft every PostEntry/PostEntries call brings from other systems. The bytes are split into
// the draft's fields with FuzzInput (strings from the front, numbers and choices from the back):
// that reaches every check of ValidateDraft far more often than parsing the bytes as a serialised
// message would. With a choice from the input, a line per currency is added that balances the
// others, so that valid drafts are common and the checks after validation run.
//
// Invariants: the outcome is OK or INVALID_ARGUMENT naming a field under "entry"; a valid draft
// has at least two valid lines with non-zero amounts, sums to zero in each currency, survives a
// serialise/parse round trip with the same canonical bytes and fingerprint, and its reversal is
// valid too; a date that parses prints back as the same text. Drafts whose strings are not UTF-8
// are skipped: the ledger only sees what gRPC parsed, and that refuses them.

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/stubs/logging.h"
#include "libs/dates/dates.h"
#include "services/ledger/ledger_domain.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

namespace v1 = ::tahe::ledger::v1;
using tahe::fuzz::FuzzInput;

std::string DateText(FuzzInput& in) {
  if (in.IntInRange(0, 3) == 0) {
    return in.String(16);
  }
  const int year = in.IntInRange(1890, 3010);
  const int month = in.IntInRange(0, 13);
  const int day = in.IntInRange(0, 32);
  return absl::StrFormat("%04d-%02d-%02d", year, month, day);
}

std::string AccountText(FuzzInput& in) {
  if (in.IntInRange(0, 3) == 0) {
    return in.String(12);
  }
  return absl::StrCat(in.IntInRange<int64_t>(0, 99'999'999'999));
}

int64_t Amount(FuzzInput& in) {
  switch (in.IntInRange(0, 3)) {
    case 0:
      return in.Int<int64_t>();
    case 1:
      return in.IntInRange<int64_t>(-tahe::ledger::kMaxAbsAmountMinor - 2,
                                    tahe::ledger::kMaxAbsAmountMinor + 2);
    default:
      return in.IntInRange<int64_t>(-100'000'00, 100'000'00);
  }
}

std::string Currency(FuzzInput& in) {
  static constexpr const char* kCurrencies[] = {"",    "EUR", "SEK",  "USD",
                                                "eur", "EU",  "EURO", "E1R"};
  if (in.IntInRange(0, 7) == 0) {
    return in.String(5);
  }
  return in.Pick(kCurrencies);
}

v1::EntryDraft DraftOf(FuzzInput& in) {
  v1::EntryDraft draft;
  draft.set_entry_date(DateText(in));
  draft.set_description(in.String(520));
  draft.mutable_source()->set_system(in.String(70));
  draft.mutable_source()->set_reference(in.String(210));
  const int lines = in.IntInRange(0, 12);
  for (int i = 0; i < lines; ++i) {
    v1::EntryLine* line = draft.add_lines();
    line->set_account(AccountText(in));
    line->mutable_amount()->set_amount_minor(Amount(in));
    line->mutable_amount()->set_currency_code(Currency(in));
    const int dimensions = in.IntInRange(0, 3);
    for (int d = 0; d < dimensions; ++d) {
      static constexpr const char* kKeys[] = {"cost_centre", "project", "function", "Project"};
      const std::string key = in.Bool() ? std::string(in.Pick(kKeys)) : in.String(34);
      (*line->mutable_dimensions())[key] = in.String(66);
    }
    line->set_text(in.String(210));
  }
  if (in.Bool()) {
    // Balance each currency with one more line (currencies as the ledger reads them).
    std::map<std::string, __int128> sums;
    for (const v1::EntryLine& line : draft.lines()) {
      const std::string& code = line.amount().currency_code();
      sums[code.empty() ? "EUR" : code] += line.amount().amount_minor();
    }
    for (const auto& [currency, sum] : sums) {
      if (sum != 0 && sum >= -tahe::ledger::kMaxAbsAmountMinor &&
          sum <= tahe::ledger::kMaxAbsAmountMinor) {
        v1::EntryLine* line = draft.add_lines();
        line->set_account("2990");
        line->mutable_amount()->set_amount_minor(static_cast<int64_t>(-sum));
        line->mutable_amount()->set_currency_code(currency);
      }
    }
  }
  return draft;
}

void CheckBalanced(const v1::EntryDraft& draft) {
  const auto sums = tahe::ledger::SumByCurrency(draft);
  FUZZ_CHECK(sums.ok());
  for (const auto& [currency, sum] : *sums) {
    FUZZ_CHECK(currency.size() == 3 && sum == 0);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Protobuf logs every string that is not UTF-8; such drafts are skipped below.
  static const bool quiet = [] {
    google::protobuf::SetLogHandler(nullptr);
    return true;
  }();
  (void)quiet;
  FuzzInput in(data, size);
  const v1::EntryDraft built = DraftOf(in);
  // The ledger sees a draft only as gRPC parsed it: proto3 strings that are not UTF-8 never get
  // that far (the parse fails), so such a draft is not an input ValidateDraft can meet.
  v1::EntryDraft draft;
  if (!draft.ParseFromString(built.SerializeAsString())) {
    return 0;
  }

  // The date on its own.
  const absl::StatusOr<absl::CivilDay> date = tahe::ParseDate("date", draft.entry_date());
  if (date.ok()) {
    FUZZ_CHECK(tahe::FormatDate(*date) == draft.entry_date());
    FUZZ_CHECK(tahe::ParsePeriod("period", tahe::PeriodOf(*date)).ok());
  }

  const absl::Status status = tahe::ledger::ValidateDraft(draft, "entry");
  if (!status.ok()) {
    FUZZ_CHECK(status.code() == absl::StatusCode::kInvalidArgument);
    FUZZ_CHECK(absl::StartsWith(status.message(), "entry."));
    return 0;
  }
  FUZZ_CHECK(date.ok());
  FUZZ_CHECK(draft.lines_size() >= 2);
  for (const v1::EntryLine& line : draft.lines()) {
    FUZZ_CHECK(tahe::ledger::IsValidAccountNumber(line.account()));
    FUZZ_CHECK(line.amount().amount_minor() != 0);
    FUZZ_CHECK(tahe::ledger::NormalizeCurrency("c", line.amount().currency_code()).ok());
    for (const auto& [key, value] : line.dimensions()) {
      FUZZ_CHECK(tahe::ledger::IsValidDimensionKey(key) && !value.empty());
    }
  }
  CheckBalanced(draft);

  // What travels over the wire is what was validated, and hashes the same.
  v1::EntryDraft copy;
  FUZZ_CHECK(copy.ParseFromString(draft.SerializeAsString()));
  FUZZ_CHECK(tahe::ledger::ValidateDraft(copy, "entry").ok());
  const std::string canonical = tahe::ledger::CanonicalEntry("org", 7, "req-1", draft, 0);
  FUZZ_CHECK(tahe::ledger::CanonicalEntry("org", 7, "req-1", copy, 0) == canonical);
  FUZZ_CHECK(tahe::ledger::DraftFingerprint(copy, 0) == tahe::ledger::DraftFingerprint(draft, 0));
  FUZZ_CHECK(tahe::ledger::DraftFingerprint(draft, 0) != tahe::ledger::DraftFingerprint(draft, 1));
  FUZZ_CHECK(tahe::ledger::ChainHash(tahe::ledger::GenesisHash(), canonical).size() ==
             static_cast<size_t>(tahe::ledger::kHashBytes));

  // The reversal of a valid entry is valid, balanced, and hashes differently.
  v1::Entry posted;
  posted.set_sequence(7);
  posted.set_entry_date(draft.entry_date());
  posted.set_description(draft.description());
  *posted.mutable_source() = draft.source();
  *posted.mutable_lines() = draft.lines();
  const v1::EntryDraft reversal = tahe::ledger::ReversalDraft(posted, "", "");
  FUZZ_CHECK(tahe::ledger::ValidateDraft(reversal, "reversal").ok());
  CheckBalanced(reversal);
  FUZZ_CHECK(reversal.lines_size() == draft.lines_size());
  for (int i = 0; i < draft.lines_size(); ++i) {
    FUZZ_CHECK(reversal.lines(i).amount().amount_minor() ==
               -draft.lines(i).amount().amount_minor());
  }
  FUZZ_CHECK(tahe::ledger::CanonicalEntry("org", 8, "req-2", reversal, 7) != canonical);
  return 0;
}
