#include "tools/tahectl/ledger_commands.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/util/json_util.h"
#include "libs/status/status.h"
#include "tools/tahectl/format.h"

namespace tahe::tahectl {

namespace v1 = ::tahe::ledger::v1;

std::string AccountTypeName(v1::AccountType type) {
  std::string name = v1::AccountType_Name(type);
  constexpr absl::string_view kPrefix = "ACCOUNT_TYPE_";
  if (absl::StartsWith(name, kPrefix)) {
    name.erase(0, kPrefix.size());
  }
  return name.empty() ? absl::StrCat("TYPE_", static_cast<int>(type)) : name;
}

void PrintAccounts(const v1::ListAccountsResponse& accounts, std::ostream& out) {
  Table table({"Number", "Type", "Name", "Group", ""},
              {Align::kLeft, Align::kLeft, Align::kLeft, Align::kLeft, Align::kLeft});
  for (const v1::Account& account : accounts.accounts()) {
    table.AddRow({account.number(), AccountTypeName(account.type()), account.name(),
                  account.parent_group(), account.closed() ? "closed" : ""});
  }
  table.Print(out);
  out << accounts.accounts_size() << " accounts\n";
}

void PrintTrialBalance(const v1::GetTrialBalanceResponse& balance, absl::string_view title,
                       std::ostream& out) {
  out << title << "\n\n";
  Table table(
      {"Account", "Name", "Type", "Debit", "Credit", "Net"},
      {Align::kLeft, Align::kLeft, Align::kLeft, Align::kRight, Align::kRight, Align::kRight});
  for (const v1::TrialBalanceRow& row : balance.rows()) {
    table.AddRow({row.account(), row.name(), AccountTypeName(row.type()),
                  FormatEuros(row.debit_minor()), FormatEuros(row.credit_minor()),
                  FormatEuros(row.net_minor())});
  }
  table.AddSeparator();
  table.AddRow({"Total", "", "", FormatEuros(balance.total_debit_minor()),
                FormatEuros(balance.total_credit_minor()),
                FormatEuros(balance.total_debit_minor() - balance.total_credit_minor())});
  table.Print(out);
}

void PrintEntry(const v1::Entry& entry, std::ostream& out) {
  out << "#" << entry.sequence() << "  " << entry.entry_date() << "  " << entry.description();
  if (entry.reverses_sequence() != 0) {
    out << "  (reverses #" << entry.reverses_sequence() << ")";
  }
  if (entry.reversed_by_sequence() != 0) {
    out << "  (reversed by #" << entry.reversed_by_sequence() << ")";
  }
  out << "\n";
  out << "    source " << entry.source().system();
  if (!entry.source().reference().empty()) {
    out << "/" << entry.source().reference();
  }
  out << "  request " << entry.request_id() << "  posted " << entry.posted_at() << "\n";
  out << "    hash " << entry.hash() << "\n";
  Table lines({"    Account", "Amount", "Currency", "Dimensions", "Text"},
              {Align::kLeft, Align::kRight, Align::kLeft, Align::kLeft, Align::kLeft});
  for (const v1::EntryLine& line : entry.lines()) {
    std::vector<std::pair<std::string, std::string>> dimensions(line.dimensions().begin(),
                                                                line.dimensions().end());
    std::sort(dimensions.begin(), dimensions.end());
    const std::string currency =
        line.amount().currency_code().empty() ? "EUR" : line.amount().currency_code();
    lines.AddRow({absl::StrCat("    ", line.account()), FormatEuros(line.amount().amount_minor()),
                  currency, absl::StrJoin(dimensions, ",", absl::PairFormatter("=")), line.text()});
  }
  lines.Print(out);
}

void PrintAccountBalance(const v1::GetAccountBalanceRequest& request,
                         const v1::GetAccountBalanceResponse& balance, std::ostream& out) {
  out << "Balance of account " << balance.account() << " as of "
      << (balance.as_of_date().empty() ? request.as_of_date() : balance.as_of_date());
  if (!request.dimension_value().empty()) {
    out << ", " << request.dimension_key() << "=" << request.dimension_value();
  }
  const std::string currency =
      balance.balance().currency_code().empty() ? "EUR" : balance.balance().currency_code();
  out << ", in " << currency << "\n\n";
  Table totals({"Debit", "Credit", "Balance"}, {Align::kRight, Align::kRight, Align::kRight});
  totals.AddRow({FormatEuros(balance.debit_total().amount_minor()),
                 FormatEuros(balance.credit_total().amount_minor()),
                 FormatEuros(balance.balance().amount_minor())});
  totals.Print(out);
  if (request.split_by_dimension()) {
    out << "\n";
    Table split({request.dimension_key(), "Balance"}, {Align::kLeft, Align::kRight});
    for (const v1::DimensionBalance& row : balance.by_dimension()) {
      split.AddRow({row.dimension_value().empty() ? "(none)" : row.dimension_value(),
                    FormatEuros(row.balance().amount_minor())});
    }
    split.Print(out);
  }
}

absl::StatusOr<v1::PostEntryRequest> ParsePostEntryJson(absl::string_view json,
                                                        absl::string_view origin) {
  v1::PostEntryRequest request;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  const auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), &request, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(origin, ": not a JSON PostEntryRequest: ", std::string(status.message())));
  }
  return request;
}

absl::Status ListAccountsCommand(LedgerClient& ledger, bool include_closed, OutputFormat format,
                                 std::ostream& out) {
  v1::ListAccountsRequest request;
  request.set_include_closed(include_closed);
  ASSIGN_OR_RETURN(v1::ListAccountsResponse accounts, ledger.ListAccounts(request));
  if (format == OutputFormat::kJson) {
    PrintJson(accounts, out);
  } else {
    PrintAccounts(accounts, out);
  }
  return absl::OkStatus();
}

absl::Status LoadTemplateCommand(LedgerClient& ledger, const v1::LoadChartTemplateRequest& request,
                                 OutputFormat format, std::ostream& out) {
  ASSIGN_OR_RETURN(v1::LoadChartTemplateResponse loaded, ledger.LoadChartTemplate(request));
  if (format == OutputFormat::kJson) {
    PrintJson(loaded, out);
    return absl::OkStatus();
  }
  out << absl::StrFormat(
      "chart template %s: %d accounts created, %d already existed, %d dimensions created\n",
      request.template_(), loaded.accounts_created(), loaded.accounts_existing(),
      loaded.dimensions_created());
  return absl::OkStatus();
}

absl::Status OpenPeriodCommand(LedgerClient& ledger, const v1::OpenPeriodRequest& request,
                               OutputFormat format, std::ostream& out) {
  ASSIGN_OR_RETURN(v1::Period period, ledger.OpenPeriod(request));
  if (format == OutputFormat::kJson) {
    PrintJson(period, out);
    return absl::OkStatus();
  }
  std::string status = v1::PeriodStatus_Name(period.status());
  constexpr absl::string_view kPrefix = "PERIOD_STATUS_";
  if (absl::StartsWith(status, kPrefix)) {
    status.erase(0, kPrefix.size());
  }
  out << "period " << period.period() << ": " << status << "\n";
  return absl::OkStatus();
}

absl::Status PostEntryCommand(LedgerClient& ledger, const v1::PostEntryRequest& request,
                              OutputFormat format, std::ostream& out) {
  ASSIGN_OR_RETURN(v1::PostEntryResponse posted, ledger.PostEntry(request));
  if (format == OutputFormat::kJson) {
    PrintJson(posted, out);
    return absl::OkStatus();
  }
  out << (posted.replayed() ? "replayed" : "posted") << " entry #" << posted.entry().sequence()
      << " (request id " << request.request_id() << ")\n";
  PrintEntry(posted.entry(), out);
  return absl::OkStatus();
}

absl::Status ReverseEntryCommand(LedgerClient& ledger, const v1::ReverseEntryRequest& request,
                                 OutputFormat format, std::ostream& out) {
  ASSIGN_OR_RETURN(v1::PostEntryResponse posted, ledger.ReverseEntry(request));
  if (format == OutputFormat::kJson) {
    PrintJson(posted, out);
    return absl::OkStatus();
  }
  out << (posted.replayed() ? "replayed" : "posted") << " reversal #" << posted.entry().sequence()
      << " of entry #" << request.sequence() << " (request id " << request.request_id() << ")\n";
  PrintEntry(posted.entry(), out);
  return absl::OkStatus();
}

absl::Status AccountBalanceCommand(LedgerClient& ledger,
                                   const v1::GetAccountBalanceRequest& request, OutputFormat format,
                                   std::ostream& out) {
  ASSIGN_OR_RETURN(v1::GetAccountBalanceResponse balance, ledger.GetAccountBalance(request));
  if (format == OutputFormat::kJson) {
    PrintJson(balance, out);
  } else {
    PrintAccountBalance(request, balance, out);
  }
  return absl::OkStatus();
}

absl::Status TrialBalanceCommand(LedgerClient& ledger, const v1::GetTrialBalanceRequest& request,
                                 OutputFormat format, std::ostream& out) {
  ASSIGN_OR_RETURN(v1::GetTrialBalanceResponse balance, ledger.GetTrialBalance(request));
  if (format == OutputFormat::kJson) {
    PrintJson(balance, out);
    return absl::OkStatus();
  }
  std::string scope;
  if (!request.period().empty()) {
    scope = absl::StrCat("period ", request.period());
  } else if (!request.as_of_date().empty()) {
    scope = absl::StrCat("as of ", request.as_of_date());
  } else {
    scope = absl::StrCat(request.from_date(), "..", request.to_date());
  }
  const std::string currency = balance.currency_code().empty() ? "EUR" : balance.currency_code();
  // Through the gateway a single-organisation key implies the tenant, so none may be set here.
  const std::string& tenant = ledger.settings().tenant;
  PrintTrialBalance(balance,
                    absl::StrCat("Trial balance", tenant.empty() ? "" : " of ", tenant, ", ", scope,
                                 ", in ", currency),
                    out);
  return absl::OkStatus();
}

absl::Status VerifyChainCommand(LedgerClient& ledger, OutputFormat format, std::ostream& out) {
  ASSIGN_OR_RETURN(v1::VerifyChainResponse verified, ledger.VerifyChain(v1::VerifyChainRequest()));
  if (format == OutputFormat::kJson) {
    PrintJson(verified, out);
  } else if (verified.ok()) {
    out << "hash chain OK: " << verified.entries_checked() << " entries, head "
        << verified.head_hash() << "\n";
  } else {
    out << "hash chain BROKEN at entry #" << verified.first_bad_sequence() << ": "
        << verified.problem() << " (" << verified.entries_checked() << " entries checked)\n";
  }
  if (verified.ok()) {
    return absl::OkStatus();
  }
  return absl::DataLossError(
      absl::StrCat("hash chain broken at entry #", verified.first_bad_sequence()));
}

absl::Status ListEntriesCommand(LedgerClient& ledger, const v1::ListEntriesRequest& request,
                                OutputFormat format, std::ostream& out) {
  v1::ListEntriesRequest page_request = request;
  v1::ListEntriesResponse all;  // --json: every page's entries
  int64_t count = 0;
  while (true) {
    ASSIGN_OR_RETURN(v1::ListEntriesResponse page, ledger.ListEntries(page_request));
    for (v1::Entry& entry : *page.mutable_entries()) {
      ++count;
      if (format == OutputFormat::kJson) {
        *all.add_entries() = std::move(entry);
        continue;
      }
      if (count > 1) {
        out << "\n";
      }
      PrintEntry(entry, out);
    }
    if (page.next_page_token().empty()) {
      break;
    }
    if (page.next_page_token() == page_request.page_token()) {
      return absl::InternalError("ListEntries returned the same page token twice");
    }
    page_request.set_page_token(page.next_page_token());
  }
  if (format == OutputFormat::kJson) {
    PrintJson(all, out);
    return absl::OkStatus();
  }
  out << (count > 0 ? "\n" : "") << count << " entries\n";
  return absl::OkStatus();
}

}  // namespace tahe::tahectl
