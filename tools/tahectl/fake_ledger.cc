#include "tools/tahectl/fake_ledger.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace tahe::tahectl {

namespace v1 = ::tahe::ledger::v1;

namespace {

std::string Metadata(const grpc::ServerContext* context, const char* key) {
  const auto& metadata = context->client_metadata();
  auto it = metadata.find(key);
  return it == metadata.end() ? "" : std::string(it->second.data(), it->second.size());
}

v1::Account Account(absl::string_view number, absl::string_view name, v1::AccountType type) {
  v1::Account account;
  account.set_number(std::string(number));
  account.set_name(std::string(name));
  account.set_type(type);
  return account;
}

}  // namespace

const std::vector<std::string>& FakeLedger::TemplateAccountNumbers() {
  static const auto* const kNumbers = new std::vector<std::string>{"1910", "3000", "4000", "5000"};
  return *kNumbers;
}

std::vector<FakeLedger::CallRecord> FakeLedger::calls() const {
  absl::MutexLock lock(&mu_);
  return calls_;
}

std::vector<v1::Entry> FakeLedger::entries(const std::string& tenant) const {
  absl::MutexLock lock(&mu_);
  auto it = tenants_.find(tenant);
  return it == tenants_.end() ? std::vector<v1::Entry>{} : it->second.entries;
}

std::vector<v1::Account> FakeLedger::accounts(const std::string& tenant) const {
  absl::MutexLock lock(&mu_);
  std::vector<v1::Account> result;
  if (auto it = tenants_.find(tenant); it != tenants_.end()) {
    for (const auto& [number, account] : it->second.accounts) {
      result.push_back(account);
    }
  }
  return result;
}

std::vector<v1::Period> FakeLedger::periods(const std::string& tenant) const {
  absl::MutexLock lock(&mu_);
  std::vector<v1::Period> result;
  if (auto it = tenants_.find(tenant); it != tenants_.end()) {
    for (const auto& [name, period] : it->second.periods) {
      result.push_back(period);
    }
  }
  return result;
}

grpc::Status FakeLedger::Admit(grpc::ServerContext* context, const char* method, Tenant** tenant) {
  CallRecord record{method, Metadata(context, "x-tahe-tenant"),
                    Metadata(context, "x-tahe-internal-token"), Metadata(context, "x-request-id"),
                    Metadata(context, "authorization")};
  calls_.push_back(record);
  const bool key_admitted =
      !api_key_.empty() && record.authorization == absl::StrCat("Bearer ", api_key_);
  if (!key_admitted && record.internal_token != internal_token_) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "missing or wrong internal token");
  }
  if (record.tenant.empty()) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "no tenant");
  }
  *tenant = &tenants_[record.tenant];
  return grpc::Status::OK;
}

grpc::Status FakeLedger::CheckReplay(Tenant& tenant, const char* method,
                                     const std::string& request_id,
                                     const google::protobuf::Message& request,
                                     google::protobuf::Message* response, bool* replayed) {
  *replayed = false;
  if (request_id.empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "request_id: required");
  }
  auto it = tenant.by_request_id.find(request_id);
  if (it == tenant.by_request_id.end()) {
    return grpc::Status::OK;
  }
  if (it->second.method != method || it->second.request != request.SerializeAsString()) {
    return grpc::Status(grpc::StatusCode::ALREADY_EXISTS,
                        absl::StrCat("request_id ", request_id, " was used for another request"));
  }
  response->ParseFromString(it->second.response);
  *replayed = true;
  return grpc::Status::OK;
}

void FakeLedger::Remember(Tenant& tenant, const char* method, const std::string& request_id,
                          const google::protobuf::Message& request,
                          const google::protobuf::Message& response) {
  tenant.by_request_id[request_id] =
      Stored{method, request.SerializeAsString(), response.SerializeAsString()};
}

grpc::Status FakeLedger::CreateAccount(grpc::ServerContext* context,
                                       const v1::CreateAccountRequest* request,
                                       v1::Account* response) {
  absl::MutexLock lock(&mu_);
  Tenant* tenant = nullptr;
  bool replayed = false;
  if (grpc::Status s = Admit(context, "CreateAccount", &tenant); !s.ok()) {
    return s;
  }
  if (grpc::Status s = CheckReplay(*tenant, "CreateAccount", request->request_id(), *request,
                                   response, &replayed);
      !s.ok() || replayed) {
    return s;
  }
  if (tenant->accounts.count(request->account().number()) > 0) {
    return grpc::Status(grpc::StatusCode::ALREADY_EXISTS, "account exists");
  }
  *response = request->account();
  tenant->accounts[response->number()] = *response;
  Remember(*tenant, "CreateAccount", request->request_id(), *request, *response);
  return grpc::Status::OK;
}

grpc::Status FakeLedger::ListAccounts(grpc::ServerContext* context,
                                      const v1::ListAccountsRequest* request,
                                      v1::ListAccountsResponse* response) {
  absl::MutexLock lock(&mu_);
  Tenant* tenant = nullptr;
  if (grpc::Status s = Admit(context, "ListAccounts", &tenant); !s.ok()) {
    return s;
  }
  for (const auto& [number, account] : tenant->accounts) {
    if (request->include_closed() || !account.closed()) {
      *response->add_accounts() = account;
    }
  }
  return grpc::Status::OK;
}

grpc::Status FakeLedger::LoadChartTemplate(grpc::ServerContext* context,
                                           const v1::LoadChartTemplateRequest* request,
                                           v1::LoadChartTemplateResponse* response) {
  absl::MutexLock lock(&mu_);
  Tenant* tenant = nullptr;
  bool replayed = false;
  if (grpc::Status s = Admit(context, "LoadChartTemplate", &tenant); !s.ok()) {
    return s;
  }
  if (grpc::Status s = CheckReplay(*tenant, "LoadChartTemplate", request->request_id(), *request,
                                   response, &replayed);
      !s.ok() || replayed) {
    return s;
  }
  if (request->template_() != "fi-municipal" && !request->template_().empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "template: unknown");
  }
  const std::vector<v1::Account> chart = {
      Account("1910", "Rahat ja pankkisaamiset", v1::ACCOUNT_TYPE_ASSET),
      Account("3000", "Myyntituotot", v1::ACCOUNT_TYPE_INCOME),
      Account("4000", "Palkat ja palkkiot", v1::ACCOUNT_TYPE_EXPENSE),
      Account("5000", "Verotulot", v1::ACCOUNT_TYPE_INCOME)};
  for (const v1::Account& account : chart) {
    if (tenant->accounts.emplace(account.number(), account).second) {
      response->set_accounts_created(response->accounts_created() + 1);
    } else {
      response->set_accounts_existing(response->accounts_existing() + 1);
    }
  }
  Remember(*tenant, "LoadChartTemplate", request->request_id(), *request, *response);
  return grpc::Status::OK;
}

grpc::Status FakeLedger::DefineDimension(grpc::ServerContext* context,
                                         const v1::DefineDimensionRequest* request,
                                         v1::Dimension* response) {
  absl::MutexLock lock(&mu_);
  Tenant* tenant = nullptr;
  bool replayed = false;
  if (grpc::Status s = Admit(context, "DefineDimension", &tenant); !s.ok()) {
    return s;
  }
  if (grpc::Status s = CheckReplay(*tenant, "DefineDimension", request->request_id(), *request,
                                   response, &replayed);
      !s.ok() || replayed) {
    return s;
  }
  *response = request->dimension();
  tenant->dimensions[response->key()] = *response;
  Remember(*tenant, "DefineDimension", request->request_id(), *request, *response);
  return grpc::Status::OK;
}

grpc::Status FakeLedger::OpenPeriod(grpc::ServerContext* context,
                                    const v1::OpenPeriodRequest* request, v1::Period* response) {
  absl::MutexLock lock(&mu_);
  Tenant* tenant = nullptr;
  bool replayed = false;
  if (grpc::Status s = Admit(context, "OpenPeriod", &tenant); !s.ok()) {
    return s;
  }
  if (grpc::Status s =
          CheckReplay(*tenant, "OpenPeriod", request->request_id(), *request, response, &replayed);
      !s.ok() || replayed) {
    return s;
  }
  if (tenant->periods.count(request->period()) > 0) {
    return grpc::Status(grpc::StatusCode::ALREADY_EXISTS, "period exists");
  }
  response->set_period(request->period());
  response->set_status(v1::PERIOD_STATUS_OPEN);
  tenant->periods[request->period()] = *response;
  Remember(*tenant, "OpenPeriod", request->request_id(), *request, *response);
  return grpc::Status::OK;
}

grpc::Status FakeLedger::ListPeriods(grpc::ServerContext* context,
                                     const v1::ListPeriodsRequest* request,
                                     v1::ListPeriodsResponse* response) {
  absl::MutexLock lock(&mu_);
  Tenant* tenant = nullptr;
  if (grpc::Status s = Admit(context, "ListPeriods", &tenant); !s.ok()) {
    return s;
  }
  for (const auto& [name, period] : tenant->periods) {
    *response->add_periods() = period;
  }
  return grpc::Status::OK;
}

grpc::Status FakeLedger::CheckEntry(const Tenant& tenant, const v1::EntryDraft& draft) const {
  const auto invalid = [](const std::string& message) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, message);
  };
  if (draft.lines_size() < 2) {
    return invalid("entry.lines: at least two");
  }
  auto period = tenant.periods.find(draft.entry_date().substr(0, 7));
  if (period == tenant.periods.end() || period->second.status() != v1::PERIOD_STATUS_OPEN) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        absl::StrCat("period ", draft.entry_date().substr(0, 7), " is not open"));
  }
  int64_t sum = 0;
  for (int i = 0; i < draft.lines_size(); ++i) {
    const v1::EntryLine& line = draft.lines(i);
    if (tenant.accounts.count(line.account()) == 0) {
      return invalid(
          absl::StrCat("entry.lines[", i, "].account: unknown account ", line.account()));
    }
    if (line.amount().amount_minor() == 0) {
      return invalid(absl::StrCat("entry.lines[", i, "].amount: zero"));
    }
    for (const auto& [key, value] : line.dimensions()) {
      auto dimension = tenant.dimensions.find(key);
      if (dimension == tenant.dimensions.end()) {
        return invalid(absl::StrCat("entry.lines[", i, "].dimensions: unknown key ", key));
      }
      const auto& allowed = dimension->second.allowed_values();
      if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), value) == allowed.end()) {
        return invalid(absl::StrCat("entry.lines[", i, "].dimensions: ", value, " not allowed"));
      }
    }
    sum += line.amount().amount_minor();
  }
  if (sum != 0) {
    return invalid(absl::StrCat("entry.lines: do not balance (", sum, ")"));
  }
  return grpc::Status::OK;
}

grpc::Status FakeLedger::PostEntry(grpc::ServerContext* context,
                                   const v1::PostEntryRequest* request,
                                   v1::PostEntryResponse* response) {
  absl::MutexLock lock(&mu_);
  Tenant* tenant = nullptr;
  bool replayed = false;
  if (grpc::Status s = Admit(context, "PostEntry", &tenant); !s.ok()) {
    return s;
  }
  if (grpc::Status s =
          CheckReplay(*tenant, "PostEntry", request->request_id(), *request, response, &replayed);
      !s.ok() || replayed) {
    response->set_replayed(replayed);
    return s;
  }
  if (grpc::Status s = CheckEntry(*tenant, request->entry()); !s.ok()) {
    return s;
  }
  v1::Entry& entry = tenant->entries.emplace_back();
  entry.set_sequence(static_cast<int64_t>(tenant->entries.size()));
  entry.set_entry_date(request->entry().entry_date());
  entry.set_description(request->entry().description());
  *entry.mutable_source() = request->entry().source();
  *entry.mutable_lines() = request->entry().lines();
  entry.set_request_id(request->request_id());
  entry.set_posted_at("2025-01-01T00:00:00Z");
  entry.set_hash(absl::StrCat("hash", entry.sequence()));
  entry.set_previous_hash(absl::StrCat("hash", entry.sequence() - 1));
  *response->mutable_entry() = entry;
  Remember(*tenant, "PostEntry", request->request_id(), *request, *response);
  return grpc::Status::OK;
}

grpc::Status FakeLedger::ReverseEntry(grpc::ServerContext* context,
                                      const v1::ReverseEntryRequest* request,
                                      v1::PostEntryResponse* response) {
  absl::MutexLock lock(&mu_);
  Tenant* tenant = nullptr;
  bool replayed = false;
  if (grpc::Status s = Admit(context, "ReverseEntry", &tenant); !s.ok()) {
    return s;
  }
  if (grpc::Status s = CheckReplay(*tenant, "ReverseEntry", request->request_id(), *request,
                                   response, &replayed);
      !s.ok() || replayed) {
    response->set_replayed(replayed);
    return s;
  }
  const int64_t sequence = request->sequence();
  if (sequence < 1 || sequence > static_cast<int64_t>(tenant->entries.size())) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND, absl::StrCat("entry ", sequence));
  }
  if (tenant->entries[sequence - 1].reversed_by_sequence() != 0) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        absl::StrCat("entry ", sequence, " is already reversed"));
  }
  v1::Entry reversal = tenant->entries[sequence - 1];
  reversal.set_sequence(static_cast<int64_t>(tenant->entries.size()) + 1);
  if (!request->reversal_date().empty()) {
    reversal.set_entry_date(request->reversal_date());
  }
  reversal.set_description(request->description().empty()
                               ? absl::StrCat("Reversal of entry ", sequence)
                               : request->description());
  for (v1::EntryLine& line : *reversal.mutable_lines()) {
    line.mutable_amount()->set_amount_minor(-line.amount().amount_minor());
  }
  reversal.set_reverses_sequence(sequence);
  reversal.set_request_id(request->request_id());
  reversal.set_hash(absl::StrCat("hash", reversal.sequence()));
  reversal.set_previous_hash(absl::StrCat("hash", sequence));
  tenant->entries[sequence - 1].set_reversed_by_sequence(reversal.sequence());
  tenant->entries.push_back(reversal);
  *response->mutable_entry() = reversal;
  Remember(*tenant, "ReverseEntry", request->request_id(), *request, *response);
  return grpc::Status::OK;
}

grpc::Status FakeLedger::ListEntries(grpc::ServerContext* context,
                                     const v1::ListEntriesRequest* request,
                                     v1::ListEntriesResponse* response) {
  absl::MutexLock lock(&mu_);
  Tenant* tenant = nullptr;
  if (grpc::Status s = Admit(context, "ListEntries", &tenant); !s.ok()) {
    return s;
  }
  const int page_size = request->page_size() == 0 ? 100 : request->page_size();
  size_t start = 0;
  if (!request->page_token().empty() && !absl::SimpleAtoi(request->page_token(), &start)) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "page_token: malformed");
  }
  for (size_t i = start; i < tenant->entries.size(); ++i) {
    const v1::Entry& entry = tenant->entries[i];
    if (!request->period().empty() && entry.entry_date().substr(0, 7) != request->period()) {
      continue;
    }
    if (response->entries_size() == page_size) {
      response->set_next_page_token(absl::StrCat(i));
      break;
    }
    *response->add_entries() = entry;
  }
  return grpc::Status::OK;
}

grpc::Status FakeLedger::GetAccountBalance(grpc::ServerContext* context,
                                           const v1::GetAccountBalanceRequest* request,
                                           v1::GetAccountBalanceResponse* response) {
  absl::MutexLock lock(&mu_);
  Tenant* tenant = nullptr;
  if (grpc::Status s = Admit(context, "GetAccountBalance", &tenant); !s.ok()) {
    return s;
  }
  if (tenant->accounts.count(request->account()) == 0) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("no account ", request->account()));
  }
  int64_t debit = 0;
  int64_t credit = 0;
  std::map<std::string, int64_t> by_value;
  for (const v1::Entry& entry : tenant->entries) {
    if (!request->as_of_date().empty() && entry.entry_date() > request->as_of_date()) {
      continue;
    }
    for (const v1::EntryLine& line : entry.lines()) {
      if (line.account() != request->account()) {
        continue;
      }
      auto dimension = line.dimensions().find(request->dimension_key());
      const std::string value = dimension == line.dimensions().end() ? "" : dimension->second;
      if (!request->dimension_value().empty() && value != request->dimension_value()) {
        continue;
      }
      const int64_t amount = line.amount().amount_minor();
      (amount > 0 ? debit : credit) += amount > 0 ? amount : -amount;
      by_value[value] += amount;
    }
  }
  response->set_account(request->account());
  response->set_as_of_date(request->as_of_date());
  for (auto [money, cents] : {std::pair{response->mutable_balance(), debit - credit},
                              std::pair{response->mutable_debit_total(), debit},
                              std::pair{response->mutable_credit_total(), credit}}) {
    money->set_amount_minor(cents);
    money->set_currency_code("EUR");
  }
  if (request->split_by_dimension()) {
    for (const auto& [value, cents] : by_value) {
      v1::DimensionBalance* row = response->add_by_dimension();
      row->set_dimension_value(value);
      row->mutable_balance()->set_amount_minor(cents);
      row->mutable_balance()->set_currency_code("EUR");
    }
  }
  return grpc::Status::OK;
}

grpc::Status FakeLedger::GetTrialBalance(grpc::ServerContext* context,
                                         const v1::GetTrialBalanceRequest* request,
                                         v1::GetTrialBalanceResponse* response) {
  absl::MutexLock lock(&mu_);
  Tenant* tenant = nullptr;
  if (grpc::Status s = Admit(context, "GetTrialBalance", &tenant); !s.ok()) {
    return s;
  }
  std::map<std::string, v1::TrialBalanceRow> rows;
  for (const v1::Entry& entry : tenant->entries) {
    const bool included = !request->period().empty()
                              ? entry.entry_date().substr(0, 7) == request->period()
                              : entry.entry_date() <= request->as_of_date();
    if (!included) {
      continue;
    }
    for (const v1::EntryLine& line : entry.lines()) {
      v1::TrialBalanceRow& row = rows[line.account()];
      row.set_account(line.account());
      row.set_name(tenant->accounts[line.account()].name());
      row.set_type(tenant->accounts[line.account()].type());
      const int64_t amount = line.amount().amount_minor();
      if (amount > 0) {
        row.set_debit_minor(row.debit_minor() + amount);
        response->set_total_debit_minor(response->total_debit_minor() + amount);
      } else {
        row.set_credit_minor(row.credit_minor() - amount);
        response->set_total_credit_minor(response->total_credit_minor() - amount);
      }
      row.set_net_minor(row.debit_minor() - row.credit_minor());
    }
  }
  for (const auto& [account, row] : rows) {
    *response->add_rows() = row;
  }
  response->set_currency_code("EUR");
  return grpc::Status::OK;
}

grpc::Status FakeLedger::VerifyChain(grpc::ServerContext* context,
                                     const v1::VerifyChainRequest* request,
                                     v1::VerifyChainResponse* response) {
  absl::MutexLock lock(&mu_);
  Tenant* tenant = nullptr;
  if (grpc::Status s = Admit(context, "VerifyChain", &tenant); !s.ok()) {
    return s;
  }
  response->set_ok(true);
  response->set_entries_checked(static_cast<int64_t>(tenant->entries.size()));
  response->set_head_hash(tenant->entries.empty() ? "" : tenant->entries.back().hash());
  return grpc::Status::OK;
}

}  // namespace tahe::tahectl
