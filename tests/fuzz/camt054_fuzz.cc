// Fuzzes the camt.054 bank file import (services/invoicing/camt054.h): the whole input is the
// file a bank sends. It is read twice, by ParseCamt054 in one go and by a Camt054Reader fed in
// three pieces (cut where the input's size and first byte say), and a file that reads is written
// back with WriteCamt054 and read again.
//
// Invariants:
//  - both readings agree: the same status (code and message; for XML that is not well-formed
//    only that, since libxml2's wording and line depend on where the pieces were cut) and, for a
//    file that reads, the same entries with the same transaction keys (the reader's keys after
//    FinalKeys);
//  - a refusal is INVALID_ARGUMENT (the only other outcome the header allows is RESOURCE_EXHAUSTED
//    or INTERNAL for the process itself, which a fuzz input cannot cause);
//  - in a file that reads: every entry has a transaction; every known amount is 0..10^18 cents;
//    dates lie in years 1000-9999; transaction keys are non-empty and unique in the file; an
//    importable transaction is a booked, non-reversed EUR credit with a known amount; and when
//    every transaction of an EUR entry is importable their amounts add up to the entry's;
//  - a file WriteCamt054 accepts is schema-valid, so it reads back, with the same entries.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "services/invoicing/camt054.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

using namespace tahe::invoicing;  // NOLINT: the fuzzer checks this one header.

constexpr int64_t kMaxCents = 1'000'000'000'000'000'000;

bool SameTransaction(const Camt054Transaction& a, const Camt054Transaction& b, bool keys) {
  return (!keys || a.transaction_key == b.transaction_key) && a.amount_cents == b.amount_cents &&
         a.currency == b.currency && a.end_to_end_id == b.end_to_end_id &&
         a.account_servicer_reference == b.account_servicer_reference &&
         a.reference == b.reference && a.other_references == b.other_references &&
         a.unstructured == b.unstructured && a.debtor_name == b.debtor_name &&
         a.importable == b.importable && a.not_importable_reason == b.not_importable_reason;
}

// `written`: b is a written and re-read a, in which a lone transaction takes the entry's amount
// and currency (the writer writes TxAmt only for several).
bool SameEntry(const Camt054Entry& a, const Camt054Entry& b, bool written) {
  if (a.amount_cents != b.amount_cents || a.currency != b.currency ||
      a.credit_debit != b.credit_debit || a.reversal != b.reversal || a.status != b.status ||
      a.booking_date != b.booking_date || a.value_date != b.value_date ||
      a.account_servicer_reference != b.account_servicer_reference ||
      a.transactions.size() != b.transactions.size()) {
    return false;
  }
  for (size_t i = 0; i < a.transactions.size(); ++i) {
    Camt054Transaction ta = a.transactions[i];
    if (written && a.transactions.size() == 1) {
      ta.amount_cents = a.amount_cents;
      ta.currency = a.currency;
      ta.importable = b.transactions[i].importable;
      ta.not_importable_reason = b.transactions[i].not_importable_reason;
    }
    if (!SameTransaction(ta, b.transactions[i], /*keys=*/true)) {
      return false;
    }
  }
  return true;
}

bool SameFile(const Camt054File& a, const Camt054File& b, bool written) {
  if (a.message_id != b.message_id || a.creation_date_time != b.creation_date_time ||
      a.notifications.size() != b.notifications.size()) {
    return false;
  }
  for (size_t n = 0; n < a.notifications.size(); ++n) {
    const Camt054Notification& na = a.notifications[n];
    const Camt054Notification& nb = b.notifications[n];
    if (na.id != nb.id || na.creation_date_time != nb.creation_date_time ||
        na.account_iban != nb.account_iban || na.account_other_id != nb.account_other_id ||
        na.entries.size() != nb.entries.size()) {
      return false;
    }
    for (size_t e = 0; e < na.entries.size(); ++e) {
      if (!SameEntry(na.entries[e], nb.entries[e], written)) {
        return false;
      }
    }
  }
  return true;
}

void CheckDate(const std::optional<absl::CivilDay>& day) {
  FUZZ_CHECK(!day.has_value() || (day->year() >= 1000 && day->year() <= 9999));
}

void CheckFile(const Camt054File& file) {
  std::set<std::string> keys;
  for (const Camt054Notification& notification : file.notifications) {
    for (const Camt054Entry& entry : notification.entries) {
      FUZZ_CHECK(!entry.transactions.empty());
      FUZZ_CHECK(!entry.amount_cents.has_value() ||
                 (*entry.amount_cents >= 0 && *entry.amount_cents < kMaxCents));
      FUZZ_CHECK(entry.amount_cents.has_value() || entry.currency != "EUR");
      CheckDate(entry.booking_date);
      CheckDate(entry.value_date);
      bool all_importable = true;
      __int128 sum = 0;
      for (const Camt054Transaction& tx : entry.transactions) {
        FUZZ_CHECK(!tx.transaction_key.empty());
        FUZZ_CHECK(keys.insert(tx.transaction_key).second);
        FUZZ_CHECK(!tx.amount_cents.has_value() ||
                   (*tx.amount_cents >= 0 && *tx.amount_cents < kMaxCents));
        FUZZ_CHECK(tx.importable == tx.not_importable_reason.empty());
        if (tx.importable) {
          FUZZ_CHECK(tx.currency == "EUR" && tx.amount_cents.has_value());
          FUZZ_CHECK(entry.credit_debit == CreditDebit::kCredit && !entry.reversal &&
                     entry.status == EntryStatus::kBooked);
          sum += *tx.amount_cents;
        } else {
          all_importable = false;
        }
      }
      if (all_importable && entry.currency == "EUR") {
        FUZZ_CHECK(sum == *entry.amount_cents);
      }
    }
  }
}

// The same refusal. For XML that is not well-formed, only that: libxml2's message after it, and
// the line it names, depend on where the pieces were cut (a UTF-8 sequence split between two
// pieces is "Input is not proper UTF-8" whole, an error in the name or content it interrupts when
// cut; an unclosed CDATA section ends at a line that depends on the pieces), and a bank's file
// arrives cut anywhere. Every other refusal must be word for word the same.
bool SameError(const absl::Status& a, const absl::Status& b) {
  constexpr absl::string_view kNotWellFormed = "camt.054: not well-formed XML at line ";
  if (a.code() != b.code()) {
    return false;
  }
  if (absl::StartsWith(a.message(), kNotWellFormed) ||
      absl::StartsWith(b.message(), kNotWellFormed)) {
    return absl::StartsWith(a.message(), kNotWellFormed) &&
           absl::StartsWith(b.message(), kNotWellFormed);
  }
  return a.message() == b.message();
}

// The same bytes through a Camt054Reader in three pieces: the file as ParseCamt054 would build
// it, or the status Finish() gives.
absl::StatusOr<Camt054File> ReadInPieces(absl::string_view xml) {
  const size_t size = xml.size();
  const size_t first = size == 0 ? 0 : (static_cast<uint8_t>(xml[0]) * 131u + size) % (size + 1);
  const size_t second = first + (size - first) / 2;
  Camt054Reader reader;
  Camt054File file;
  std::vector<Camt054Reader::EntryRead> entries;
  const auto take = [&] {
    for (Camt054Reader::EntryRead& read : reader.TakeEntries()) {
      entries.push_back(std::move(read));
    }
  };
  for (const absl::string_view piece :
       {xml.substr(0, first), xml.substr(first, second - first), xml.substr(second)}) {
    if (!reader.Feed(piece).ok()) {
      break;
    }
    take();
  }
  if (absl::Status status = reader.Finish(); !status.ok()) {
    // Nothing more is handed out once an error has been met, and Finish() is final.
    FUZZ_CHECK(reader.TakeEntries().empty());
    FUZZ_CHECK(reader.Finish().code() == absl::StatusCode::kFailedPrecondition);
    return status;
  }
  take();
  file.message_id = reader.message_id();
  file.creation_date_time = reader.creation_date_time();
  file.notifications = reader.notifications();
  for (const Camt054Notification& notification : file.notifications) {
    FUZZ_CHECK(notification.entries.empty());
  }
  const std::optional<std::vector<std::string>> keys = reader.FinalKeys();
  size_t key = 0;
  for (Camt054Reader::EntryRead& read : entries) {
    FUZZ_CHECK(read.notification < file.notifications.size());
    if (keys.has_value()) {
      for (Camt054Transaction& tx : read.entry.transactions) {
        FUZZ_CHECK(key < keys->size());
        tx.transaction_key = (*keys)[key++];
      }
    }
    file.notifications[read.notification].entries.push_back(std::move(read.entry));
  }
  FUZZ_CHECK(!keys.has_value() || key == keys->size());
  return file;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view xml(reinterpret_cast<const char*>(data), size);
  const absl::StatusOr<Camt054File> parsed = ParseCamt054(xml);
  const absl::StatusOr<Camt054File> pieces = ReadInPieces(xml);
  if (!SameError(parsed.status(), pieces.status())) {
    std::fprintf(stderr, "ParseCamt054: %s\nCamt054Reader in pieces: %s\n",
                 parsed.status().ToString().c_str(), pieces.status().ToString().c_str());
  }
  FUZZ_CHECK(SameError(parsed.status(), pieces.status()));
  if (!parsed.ok()) {
    FUZZ_CHECK(parsed.status().code() == absl::StatusCode::kInvalidArgument);
    return 0;
  }
  FUZZ_CHECK(SameFile(*parsed, *pieces, /*written=*/false));
  CheckFile(*parsed);

  const absl::StatusOr<std::string> written = WriteCamt054(*parsed);
  if (written.ok()) {
    const absl::StatusOr<Camt054File> again = ParseCamt054(*written);
    FUZZ_CHECK(again.ok());
    FUZZ_CHECK(SameFile(*parsed, *again, /*written=*/true));
  }
  return 0;
}
