#pragma once

// The bank's notification of booked payments, ISO 20022 camt.054.001.02
// (BankToCustomerDebitCreditNotification, finnish-rules.md §9): a strict reader for the files
// banks send, and a writer for test files. Pure: no gRPC, no SQL.
//
//   ASSIGN_OR_RETURN(Camt054File file, ParseCamt054(bytes));
//   for (const Camt054Notification& notification : file.notifications) {
//     for (const Camt054Entry& entry : notification.entries) {
//       for (const Camt054Transaction& tx : entry.transactions) {
//         if (!tx.importable) continue;  // tx.not_importable_reason says why
//         Match(tx.transaction_key, *tx.amount_cents, tx.reference);
//       }
//     }
//   }
//
// Reading outside input. A bank file is untrusted, so ParseCamt054:
//  - refuses input over kCamt054MaxBytes (256 MiB) and empty input;
//  - parses with libxml2's push parser (SAX, no tree: memory does not grow with the file) without
//    network access (XML_PARSE_NONET), without entity substitution and without loading any DTD;
//    a document with a DOCTYPE is refused as soon as the parser reaches it, so entity tricks
//    (billion laughs, external entities) never expand;
//  - validates the document against the camt.054.001.02 schema compiled into the binary (parsed
//    once, on first use) as it parses (xmlSchemaSAXPlug); a violation is INVALID_ARGUMENT with
//    the line where the validator met it (the end tag's for a missing child) and libxml2's
//    message, in which values quoted from the document are masked ('…'), since they may be
//    personal data such as a payer's name;
//  - then extracts what payment matching needs, and refuses (INVALID_ARGUMENT naming the place,
//    "ntfctn[0].ntry[3].amt: ...") what the schema lets through but money must not: an EUR
//    amount with more than two decimals or beyond int64 cents, a date outside years 1000-9999.
// A document in another namespace (camt.053, camt.054.001.08, pain.002, ...) is refused before
// schema validation with a message naming its namespace.
//
// Importable. A transaction is importable as an incoming payment when it is a booked (BOOK)
// credit (CRDT) that is not a reversal, in EUR, and its amount is known. Anything else is still
// returned, with importable = false and the reasons, and is not a parse failure: a file is not
// refused because one of its entries is in SEK or still pending. Amounts of other currencies are
// read with the same two-decimal rule when they can be, and left unknown otherwise.
//
// Transactions. Each NtryDtls/TxDtls of an entry is one transaction, numbered across all the
// entry's NtryDtls; an entry without TxDtls is one transaction with the entry's amount. A
// transaction's amount is TxDtls/AmtDtls/TxAmt/Amt, or the entry's amount when the entry has
// exactly one transaction; otherwise it is unknown and the transaction is not importable. When
// every transaction of an EUR entry has an EUR amount, they must add up to the entry's amount,
// or none of them is importable.
//
// The transaction key. transaction_key identifies a transaction for idempotent import: the same
// for the same transaction however often the file is imported, different for different
// transactions. It never uses GrpHdr/MsgId, which a bank may change when it re-sends the same
// notification. In order of preference:
//   "<account>|T:<TxDtls/Refs/AcctSvcrRef>"                  the bank's own reference of the
//       transaction (the archive id of a Finnish reference payment), when it is unique in the
//       file: it also stays the same when the bank reports the payment again in another
//       notification (an intraday file followed by the day's file), which positions do not;
//   "<account>|E:<Ntry/AcctSvcrRef>|<tx index>"              the bank's reference of the entry
//       and the transaction's position in it, when that reference is unique in the file;
//   "<account>|N:<Ntfctn/Id>|<entry index>|<tx index>"       positions in the notification.
// <account> is the IBAN or the other account id of the notification; '|' and '%' inside the parts
// are written as %7C and %25, so that different parts never make the same key. A key is about 100
// characters at most (longer only if the bank's ids hold '|' or '%').
//
// Personal data: the payer's name (RltdPties/Dbtr/Nm) and the remittance texts are personal data;
// callers must not log them. No error message of this file quotes them.
//
// Writing. WriteCamt054 writes a schema-valid document for tests and benchmarks, straight into a
// reserved string (no DOM): 100 000 transactions take well under a second. Every entry gets
// BkTxCd PMNT/RCDT/ESCT (a received SEPA credit transfer) for a credit and PMNT/ICDT/ESCT for a
// debit, and each transaction its structured reference with type SCOR. The output-only fields
// (transaction_key, importable, not_importable_reason) are ignored.
//
// The functions are thread-safe; a Camt054Reader is used by one thread at a time.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"

namespace tahe::invoicing {

inline constexpr size_t kCamt054MaxBytes = size_t{256} << 20;
inline constexpr absl::string_view kCamt054Namespace =
    "urn:iso:std:iso:20022:tech:xsd:camt.054.001.02";

enum class CreditDebit { kCredit, kDebit };
enum class EntryStatus { kBooked, kPending, kInformation };

struct Camt054Transaction {
  // Output of ParseCamt054 (see the header comment); ignored by WriteCamt054.
  std::string transaction_key;
  // TxDtls/AmtDtls/TxAmt/Amt, or the entry's amount (see the header comment); nullopt if
  // unknown. Never negative: the direction is the entry's credit_debit.
  std::optional<int64_t> amount_cents;
  // The currency of amount_cents ("EUR").
  std::string currency;
  // Refs/EndToEndId and Refs/AcctSvcrRef, as written; empty if absent.
  std::string end_to_end_id;
  std::string account_servicer_reference;
  // The first RmtInf/Strd/CdtrRefInf/Ref with all whitespace removed ("RF18 5390 0754 7034" ->
  // "RF18539007547034"), not validated: matching decides what is a valid reference. Empty if
  // none.
  std::string reference;
  // Any further structured references, the same way (one payment for several invoices).
  std::vector<std::string> other_references;
  // Each RmtInf/Ustrd, trimmed. Personal data.
  std::vector<std::string> unstructured;
  // RltdPties/Dbtr/Nm, trimmed; empty if absent. Personal data.
  std::string debtor_name;
  // Output of ParseCamt054: whether the transaction is an importable incoming payment, and if
  // not, why ("currency SEK: only EUR is imported; status PDNG: not booked").
  bool importable = false;
  std::string not_importable_reason;
};

struct Camt054Entry {
  // Ntry/Amt and its currency; nullopt only for another currency's amount with more than two
  // decimals.
  std::optional<int64_t> amount_cents;
  std::string currency = "EUR";
  CreditDebit credit_debit = CreditDebit::kCredit;
  // RvslInd: the entry reverses an earlier one.
  bool reversal = false;
  EntryStatus status = EntryStatus::kBooked;
  // BookgDt and ValDt (Dt, or the date part of DtTm as written by the bank).
  std::optional<absl::CivilDay> booking_date;
  std::optional<absl::CivilDay> value_date;
  // Ntry/AcctSvcrRef; empty if absent.
  std::string account_servicer_reference;
  // At least one after ParseCamt054. WriteCamt054 writes NtryDtls only when there is at least
  // one, and TxAmt only when there are several.
  std::vector<Camt054Transaction> transactions;
};

struct Camt054Notification {
  // Ntfctn/Id and Ntfctn/CreDtTm (an xs:dateTime as written: "2026-03-02T08:15:00+02:00").
  std::string id;
  std::string creation_date_time;
  // Acct/Id: exactly one of the IBAN and another identifier (Othr/Id).
  std::string account_iban;
  std::string account_other_id;
  std::vector<Camt054Entry> entries;
};

struct Camt054File {
  // GrpHdr/MsgId and GrpHdr/CreDtTm (as written).
  std::string message_id;
  std::string creation_date_time;
  std::vector<Camt054Notification> notifications;
};

// The document, strictly checked as described in the header comment.
// INVALID_ARGUMENT for anything that is not a valid camt.054.001.02 document or holds an amount
// or date that cannot be represented; the message says what and where.
absl::StatusOr<Camt054File> ParseCamt054(absl::string_view xml,
                                         size_t max_bytes = kCamt054MaxBytes);

// The same reading as ParseCamt054 for a file that arrives in pieces: each piece is parsed and
// validated as it is fed, and the entries are handed out as soon as they have ended and the
// validator has seen them whole, so that the caller can work on them while the rest arrives and
// memory stays bounded by what the caller keeps.
//
//   Camt054Reader reader;
//   for (each chunk) {
//     RETURN_IF_ERROR(reader.Feed(chunk));
//     for (Camt054Reader::EntryRead& read : reader.TakeEntries()) Work(read.entry);
//   }
//   RETURN_IF_ERROR(reader.Finish());  // an error here: the whole file is refused
//   for (Camt054Reader::EntryRead& read : reader.TakeEntries()) Work(read.entry);
//   if (auto keys = reader.FinalKeys()) Rekey(*keys);
//
// The file is accepted only by an OK Finish(): whatever was handed out before belongs to a file
// that may still turn out invalid (an error further on, a truncated end), and the caller must
// then undo its work. Finish() gives the error ParseCamt054 would give for the same bytes (the
// same precedence: a DOCTYPE, not well-formed XML, another namespace, a schema violation, then
// an amount or date that cannot be represented, each the first of its kind); once any error has
// been met, no more entries are handed out. Feed() fails at once only for input that is refused
// outright: over `max_bytes`, or a DOCTYPE (the parser stops there).
//
// Transaction keys. A key depends on whether a bank reference is unique in the whole file. An
// entry handed out before the end has the keys its transactions would have if the references
// seen so far were all there are: final unless a reference repeats later. FinalKeys(), after an
// OK Finish(), is nullopt when every key handed out is final (the usual case), and otherwise the
// final key of every transaction handed out, in the order handed out.
//
// Not thread-safe; one reader per file. It may be fed from different threads in turn.
class Camt054Reader {
 public:
  struct EntryRead {
    // Index into notifications().
    size_t notification = 0;
    Camt054Entry entry;
  };

  explicit Camt054Reader(size_t max_bytes = kCamt054MaxBytes);
  ~Camt054Reader();
  Camt054Reader(const Camt054Reader&) = delete;
  Camt054Reader& operator=(const Camt054Reader&) = delete;

  absl::Status Feed(absl::string_view bytes);
  absl::Status Finish();

  // GrpHdr/MsgId and CreDtTm: they precede every entry, so they are known when the first entry
  // is handed out.
  const std::string& message_id() const;
  const std::string& creation_date_time() const;
  // The notifications begun so far, without their entries.
  const std::vector<Camt054Notification>& notifications() const;
  // The entries read since the last call, in document order.
  std::vector<EntryRead> TakeEntries();
  std::optional<std::vector<std::string>> FinalKeys() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// A camt.054.001.02 document, UTF-8 with an XML declaration, valid against the schema.
// INVALID_ARGUMENT naming the field ("notifications[0].entries[2].transactions[0].reference: ...")
// for what the schema would refuse: identifiers of 1..35 characters (account ids 1..34, names
// and remittance lines 1..140), an IBAN of the schema's pattern, amounts of 0..10^18 - 1 cents
// (known, never negative), a three-letter currency, xs:dateTime creation times with a numeric
// offset or Z, dates in years 1000-9999, text in UTF-8 without control characters.
absl::StatusOr<std::string> WriteCamt054(const Camt054File& file);

}  // namespace tahe::invoicing
