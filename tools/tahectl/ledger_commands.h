#pragma once

// The `tahectl ledger ...` commands: one function per command that makes the calls and prints
// the result, and the printers on their own so that tests can check the output.
//
//   LedgerClient ledger(settings);
//   RETURN_IF_ERROR(PrintTrialBalanceCommand(ledger, request, std::cout));

#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "tahe/ledger/v1/ledger.pb.h"
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

absl::Status ListAccountsCommand(LedgerClient& ledger, bool include_closed, std::ostream& out);

absl::Status LoadTemplateCommand(LedgerClient& ledger,
                                 const tahe::ledger::v1::LoadChartTemplateRequest& request,
                                 std::ostream& out);

absl::Status OpenPeriodCommand(LedgerClient& ledger,
                               const tahe::ledger::v1::OpenPeriodRequest& request,
                               std::ostream& out);

// Prints "posted entry #N" (or "replayed entry #N" when the request id had been used with the
// same content) and the entry.
absl::Status PostEntryCommand(LedgerClient& ledger,
                              const tahe::ledger::v1::PostEntryRequest& request, std::ostream& out);

absl::Status TrialBalanceCommand(LedgerClient& ledger,
                                 const tahe::ledger::v1::GetTrialBalanceRequest& request,
                                 std::ostream& out);

// DATA_LOSS (after printing the finding) when the chain does not verify.
absl::Status VerifyChainCommand(LedgerClient& ledger, std::ostream& out);

// Every matching entry, following next_page_token to the end.
absl::Status ListEntriesCommand(LedgerClient& ledger,
                                const tahe::ledger::v1::ListEntriesRequest& request,
                                std::ostream& out);

}  // namespace tahe::tahectl
