#pragma once

// The `tahectl ledger ...` commands: one function per command that makes the calls and prints
// the result (a table, or with OutputFormat::kJson the response message), and the printers on
// their own so that tests can check the output.
//
//   LedgerClient ledger(settings);
//   RETURN_IF_ERROR(TrialBalanceCommand(ledger, request, OutputFormat::kTable, std::cout));

#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tahe/ledger/v1/ledger.pb.h"
#include "tools/tahectl/format.h"
#include "tools/tahectl/ledger_client.h"

namespace tahe::tahectl {

// "ASSET" for ACCOUNT_TYPE_ASSET.
std::string AccountTypeName(tahe::ledger::v1::AccountType type);

// Number, type, name, group and a closed marker, one account a line.
void PrintAccounts(const tahe::ledger::v1::ListAccountsResponse& accounts, std::ostream& out);

// Account, name, debit, credit and net in euros, then the totals; `title` goes on top.
void PrintTrialBalance(const tahe::ledger::v1::GetTrialBalanceResponse& balance,
                       absl::string_view title, std::ostream& out);

// The entry's header line (sequence, date, description, links), its provenance, and one line per
// entry line (account, euros, dimensions sorted by key, text).
void PrintEntry(const tahe::ledger::v1::Entry& entry, std::ostream& out);

// The balance of one account: debit and credit totals and the balance, then, when split by a
// dimension, one row per dimension value.
void PrintAccountBalance(const tahe::ledger::v1::GetAccountBalanceRequest& request,
                         const tahe::ledger::v1::GetAccountBalanceResponse& balance,
                         std::ostream& out);

// A JSON PostEntryRequest (protobuf's JSON mapping, as `ledger post --file` reads it). Unknown
// fields are refused so that a misspelt field cannot silently drop data. INVALID_ARGUMENT
// naming `origin` otherwise.
absl::StatusOr<tahe::ledger::v1::PostEntryRequest> ParsePostEntryJson(absl::string_view json,
                                                                      absl::string_view origin);

absl::Status ListAccountsCommand(LedgerClient& ledger, bool include_closed, OutputFormat format,
                                 std::ostream& out);

absl::Status LoadTemplateCommand(LedgerClient& ledger,
                                 const tahe::ledger::v1::LoadChartTemplateRequest& request,
                                 OutputFormat format, std::ostream& out);

absl::Status OpenPeriodCommand(LedgerClient& ledger,
                               const tahe::ledger::v1::OpenPeriodRequest& request,
                               OutputFormat format, std::ostream& out);

// Prints "posted entry #N" (or "replayed entry #N" when the request id had been used with the
// same content) and the entry.
absl::Status PostEntryCommand(LedgerClient& ledger,
                              const tahe::ledger::v1::PostEntryRequest& request,
                              OutputFormat format, std::ostream& out);

// Posts the reversal of an entry; prints it like PostEntryCommand.
absl::Status ReverseEntryCommand(LedgerClient& ledger,
                                 const tahe::ledger::v1::ReverseEntryRequest& request,
                                 OutputFormat format, std::ostream& out);

absl::Status AccountBalanceCommand(LedgerClient& ledger,
                                   const tahe::ledger::v1::GetAccountBalanceRequest& request,
                                   OutputFormat format, std::ostream& out);

absl::Status TrialBalanceCommand(LedgerClient& ledger,
                                 const tahe::ledger::v1::GetTrialBalanceRequest& request,
                                 OutputFormat format, std::ostream& out);

// DATA_LOSS (after printing the finding) when the chain does not verify.
absl::Status VerifyChainCommand(LedgerClient& ledger, OutputFormat format, std::ostream& out);

// Every matching entry, following next_page_token to the end. As JSON: one ListEntriesResponse
// holding the entries of every page (and no page token).
absl::Status ListEntriesCommand(LedgerClient& ledger,
                                const tahe::ledger::v1::ListEntriesRequest& request,
                                OutputFormat format, std::ostream& out);

}  // namespace tahe::tahectl
