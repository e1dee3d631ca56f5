#include "services/ledger/ledger_repository.h"

#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <map>
#include <set>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "libs/log/log.h"
#include "libs/pg/idempotency.h"
#include "libs/status/status.h"

namespace tahe::ledger {

namespace {

constexpr absl::Duration kGroupCommitTimeout = absl::Seconds(30);

pg::TxOptions Tx(const CallContext& call, bool read_only = false) {
  return {.deadline = call.deadline, .read_only = read_only};
}

// --- SQL, named next to the code that uses it ---------------------------------------------------

constexpr char kSelectAccount[] =
    "SELECT number, name, type, parent_group, closed FROM accounts"
    " WHERE tenant_id = $1 AND number = $2";
// Locks the row: a concurrent post (which reads accounts FOR SHARE) waits, or is waited for.
constexpr char kSelectAccountForUpdate[] =
    "SELECT number, name, type, parent_group, closed FROM accounts"
    " WHERE tenant_id = $1 AND number = $2 FOR UPDATE";

constexpr char kSelectEntries[] =
    "SELECT e.sequence, e.request_id, to_char(e.entry_date, 'YYYY-MM-DD'), e.description, "
    "e.source_system,"
    " e.source_reference, coalesce(e.reverses_sequence, 0),"
    " to_char(e.posted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),"
    " encode(e.hash, 'hex'), encode(e.previous_hash, 'hex'), coalesce(r.sequence, 0)"
    " FROM entries e LEFT JOIN entries r"
    "   ON r.tenant_id = e.tenant_id AND r.reverses_sequence = e.sequence"
    " WHERE e.tenant_id = $1 AND e.sequence = ANY($2::bigint[]) ORDER BY e.sequence";

// Dimensions come back as key US value RS key US value (ASCII unit/record separators), which
// no key or value can contain (ValidateDraft refuses control characters).
constexpr char kSelectLines[] =
    "SELECT sequence, account, amount_minor, currency, text,"
    " coalesce((SELECT string_agg(key || chr(31) || value, chr(30) ORDER BY key)"
    "           FROM jsonb_each_text(dimensions)), '')"
    " FROM entry_lines WHERE tenant_id = $1 AND sequence = ANY($2::bigint[])"
    " ORDER BY sequence, line_no";

constexpr char kLockChainHead[] =
    "SELECT last_sequence, encode(last_hash, 'hex') FROM chain_heads WHERE tenant_id = $1"
    " FOR UPDATE";

// What a group of posts refers to, as text records (fields split by US, records by RS; no
// field can contain either: request ids are printable ASCII, account numbers digits, dimension
// values free of control characters).
constexpr char kLookupForPosting[] =
    "SELECT"
    " coalesce((SELECT string_agg(request_id || chr(31) || encode(request_hash, 'hex') || chr(31)"
    "   || sequence, chr(30)) FROM entries WHERE tenant_id = $1 AND request_id = ANY($2::text[])),"
    "   ''),"
    " coalesce((SELECT string_agg(number || chr(31) || closed::text, chr(30)) FROM accounts"
    "   WHERE tenant_id = $1 AND number = ANY($3::text[])), ''),"
    " coalesce((SELECT string_agg(period || chr(31) || status, chr(30)) FROM periods"
    "   WHERE tenant_id = $1 AND period = ANY($4::text[])), ''),"
    " coalesce((SELECT string_agg(key || chr(31) || array_to_string(allowed_values, chr(29)),"
    "   chr(30)) FROM dimensions WHERE tenant_id = $1), ''),"
    " coalesce((SELECT string_agg(reverses_sequence || chr(31) || sequence, chr(30)) FROM entries"
    "   WHERE tenant_id = $1 AND reverses_sequence = ANY($5::bigint[])), ''),"
    " coalesce((SELECT string_agg(sequence::text, chr(30)) FROM entries"
    "   WHERE tenant_id = $1 AND sequence = ANY($5::bigint[])), '')";

// Entries, their lines and the new chain head in one statement (data-modifying CTEs always run).
constexpr char kWriteGroup[] =
    "WITH new_entries AS ("
    "  INSERT INTO entries (tenant_id, sequence, request_id, request_hash, entry_date,"
    "    description, source_system, source_reference, reverses_sequence, posted_at,"
    "    previous_hash, hash)"
    "  SELECT $1, u.seq, u.rid, decode(u.rhash, 'hex'), u.d, u.descr, u.sys, u.ref,"
    "         NULLIF(u.rev, 0), now(), decode(u.prev, 'hex'), decode(u.hash, 'hex')"
    "  FROM unnest($2::bigint[], $3::text[], $4::text[], $5::date[], $6::text[], $7::text[],"
    "              $8::text[], $9::bigint[], $10::text[], $11::text[])"
    "    AS u(seq, rid, rhash, d, descr, sys, ref, rev, prev, hash)),"
    " new_lines AS ("
    "  INSERT INTO entry_lines (tenant_id, sequence, line_no, account, amount_minor, currency,"
    "    dimensions, text, entry_date)"
    "  SELECT $1, u.seq, u.line_no, u.account, u.amount, u.currency, u.dims::jsonb, u.txt, u.d"
    "  FROM unnest($12::bigint[], $13::int[], $14::text[], $15::bigint[], $16::text[],"
    "              $17::text[], $18::text[], $19::date[])"
    "    AS u(seq, line_no, account, amount, currency, dims, txt, d))"
    " UPDATE chain_heads SET last_sequence = $20, last_hash = decode($21, 'hex')"
    " WHERE tenant_id = $1"
    " RETURNING to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')";

// Splits kLookupForPosting's text records.
std::vector<std::vector<std::string>> Records(const std::string& text) {
  std::vector<std::vector<std::string>> records;
  if (text.empty()) {
    return records;
  }
  for (absl::string_view record : absl::StrSplit(text, '\x1e')) {
    records.push_back(absl::StrSplit(record, '\x1f'));
  }
  return records;
}

// Locks the tenant's chain head (creating it at the genesis hash if needed) until commit.
// Returns the last sequence and hash.
std::pair<int64_t, std::string> LockChainHead(pqxx::work& tx, const std::string& tenant);

std::string Unhex(const std::string& hex) { return absl::HexStringToBytes(hex); }

std::pair<int64_t, std::string> LockChainHead(pqxx::work& tx, const std::string& tenant) {
  pqxx::result head = tx.exec_params(kLockChainHead, tenant);
  if (head.empty()) {
    tx.exec_params(
        "INSERT INTO chain_heads (tenant_id, last_sequence, last_hash)"
        " VALUES ($1, 0, decode($2, 'hex')) ON CONFLICT DO NOTHING",
        tenant, HexEncode(GenesisHash()));
    head = tx.exec_params(kLockChainHead, tenant);
  }
  return {head[0][0].as<int64_t>(), Unhex(head[0][1].as<std::string>())};
}

v1::Account AccountFromRow(const pqxx::row& row) {
  v1::Account a;
  a.set_number(row[0].as<std::string>());
  a.set_name(row[1].as<std::string>());
  a.set_type(static_cast<v1::AccountType>(row[2].as<int>()));
  a.set_parent_group(row[3].as<std::string>());
  a.set_closed(row[4].as<bool>());
  return a;
}

// Loads entries with their lines, in sequence order.
std::vector<v1::Entry> LoadEntries(pqxx::work& tx, const std::string& tenant,
                                   const std::vector<int64_t>& sequences) {
  std::vector<v1::Entry> entries;
  if (sequences.empty()) {
    return entries;
  }
  std::string seqs = pg::Int64Array(sequences);
  std::map<int64_t, size_t> index;
  for (const auto& row : tx.exec_params(kSelectEntries, tenant, seqs)) {
    v1::Entry e;
    e.set_sequence(row[0].as<int64_t>());
    e.set_request_id(row[1].as<std::string>());
    e.set_entry_date(row[2].as<std::string>());
    e.set_description(row[3].as<std::string>());
    e.mutable_source()->set_system(row[4].as<std::string>());
    e.mutable_source()->set_reference(row[5].as<std::string>());
    e.set_reverses_sequence(row[6].as<int64_t>());
    e.set_posted_at(row[7].as<std::string>());
    e.set_hash(row[8].as<std::string>());
    e.set_previous_hash(row[9].as<std::string>());
    e.set_reversed_by_sequence(row[10].as<int64_t>());
    index[e.sequence()] = entries.size();
    entries.push_back(std::move(e));
  }
  for (const auto& row : tx.exec_params(kSelectLines, tenant, seqs)) {
    auto it = index.find(row[0].as<int64_t>());
    if (it == index.end()) {
      continue;
    }
    v1::EntryLine* line = entries[it->second].add_lines();
    line->set_account(row[1].as<std::string>());
    line->mutable_amount()->set_amount_minor(row[2].as<int64_t>());
    line->mutable_amount()->set_currency_code(row[3].as<std::string>());
    line->set_text(row[4].as<std::string>());
    std::string dims = row[5].as<std::string>();
    if (!dims.empty()) {
      for (absl::string_view pair : absl::StrSplit(dims, '\x1e')) {
        std::pair<std::string, std::string> kv = absl::StrSplit(pair, absl::MaxSplits('\x1f', 1));
        (*line->mutable_dimensions())[kv.first] = kv.second;
      }
    }
  }
  return entries;
}

// The draft an entry was posted from, for re-hashing.
v1::EntryDraft DraftOf(const v1::Entry& e) {
  v1::EntryDraft d;
  d.set_entry_date(e.entry_date());
  d.set_description(e.description());
  *d.mutable_source() = e.source();
  *d.mutable_lines() = e.lines();
  return d;
}

std::string DimensionsJson(const v1::EntryLine& line) {
  std::map<std::string, std::string> sorted(line.dimensions().begin(), line.dimensions().end());
  std::string json = "{";
  for (const auto& [k, v] : sorted) {
    if (json.size() > 1) {
      json.push_back(',');
    }
    absl::StrAppend(&json, log::JsonQuote(k), ":", log::JsonQuote(v));
  }
  json.push_back('}');
  return json;
}

// Runs `fn` once per request id: a replay with the same request returns the stored response; a
// different request under the same id is ALREADY_EXISTS. An advisory lock on the id makes
// concurrent duplicates wait for the first instead of racing it.
template <typename Resp>
absl::StatusOr<Resp> Idempotent(pqxx::work& tx, const CallContext& call,
                                absl::string_view request_id, absl::string_view method,
                                const google::protobuf::Message& request,
                                const std::function<absl::StatusOr<Resp>()>& fn) {
  RETURN_IF_ERROR(ValidateRequestId("request_id", request_id));
  return pg::Idempotent<Resp>(tx, {.tenant = call.tenant, .request_id = std::string(request_id)},
                              method, request, fn);
}

absl::StatusOr<v1::Account> LoadAccount(pqxx::work& tx, const std::string& tenant,
                                        const std::string& number, absl::string_view field,
                                        bool for_update = false) {
  pqxx::result r =
      tx.exec_params(for_update ? kSelectAccountForUpdate : kSelectAccount, tenant, number);
  if (r.empty()) {
    return absl::NotFoundError(absl::StrCat(field, ": account ", number, " does not exist"));
  }
  return AccountFromRow(r[0]);
}

absl::Status ValidateAccountFields(const v1::Account& a) {
  if (!IsValidAccountNumber(a.number())) {
    return InvalidField("account.number", "3-10 digits");
  }
  if (a.name().empty() || a.name().size() > 200) {
    return InvalidField("account.name", "required, at most 200 characters");
  }
  RETURN_IF_ERROR(CheckText("account.name", a.name()));
  RETURN_IF_ERROR(CheckText("account.parent_group", a.parent_group()));
  if (a.type() < v1::ACCOUNT_TYPE_ASSET || a.type() > v1::ACCOUNT_TYPE_EXPENSE) {
    return InvalidField("account.type", "one of ASSET, LIABILITY, EQUITY, INCOME, EXPENSE");
  }
  if (a.parent_group().size() > 200) {
    return InvalidField("account.parent_group", "at most 200 characters");
  }
  return absl::OkStatus();
}

v1::Period PeriodFromRow(const pqxx::row& row) {
  v1::Period p;
  p.set_period(row[0].as<std::string>());
  p.set_status(row[1].as<std::string>() == "open" ? v1::PERIOD_STATUS_OPEN
                                                  : v1::PERIOD_STATUS_CLOSED);
  p.set_reopen_reason(row[2].as<std::string>());
  return p;
}

constexpr char kSelectPeriod[] =
    "SELECT period, status, reopen_reason FROM periods WHERE tenant_id = $1 AND period = $2"
    " FOR UPDATE";

struct DateRange {
  std::string from;  // "" = open
  std::string to;
};

absl::StatusOr<DateRange> RangeOf(absl::string_view period, absl::string_view from,
                                  absl::string_view to, absl::string_view as_of) {
  DateRange range;
  if (!period.empty()) {
    ASSIGN_OR_RETURN(absl::CivilMonth month, ParsePeriod("period", period));
    range.from = FormatDate(absl::CivilDay(month));
    range.to = FormatDate(absl::CivilDay(month + 1) - 1);
    return range;
  }
  if (!from.empty()) {
    RETURN_IF_ERROR(ParseDate("from_date", from).status());
    range.from = std::string(from);
  }
  if (!to.empty()) {
    RETURN_IF_ERROR(ParseDate("to_date", to).status());
    range.to = std::string(to);
  }
  if (!as_of.empty()) {
    RETURN_IF_ERROR(ParseDate("as_of_date", as_of).status());
    range.to = std::string(as_of);
  }
  if (!range.from.empty() && !range.to.empty() && range.from > range.to) {
    return InvalidField("from_date", "after to_date");
  }
  return range;
}

}  // namespace

// --- metrics ------------------------------------------------------------------------------------

LedgerMetrics::LedgerMetrics(prometheus::Registry* registry) {
  if (registry == nullptr) {
    return;
  }
  entries_posted = &prometheus::BuildCounter()
                        .Name("tahe_ledger_entries_posted_total")
                        .Help("Journal entries committed")
                        .Register(*registry)
                        .Add({});
  lines_posted = &prometheus::BuildCounter()
                      .Name("tahe_ledger_lines_posted_total")
                      .Help("Journal entry lines committed")
                      .Register(*registry)
                      .Add({});
  entries_replayed = &prometheus::BuildCounter()
                          .Name("tahe_ledger_entries_replayed_total")
                          .Help("Posts answered from an earlier post with the same request id")
                          .Register(*registry)
                          .Add({});
  batch_size = &prometheus::BuildHistogram()
                    .Name("tahe_ledger_commit_batch_entries")
                    .Help("Entries committed per database transaction (group commit and bulk)")
                    .Register(*registry)
                    .Add({}, prometheus::Histogram::BucketBoundaries{1, 2, 4, 8, 16, 32, 64, 128,
                                                                     256, 512, 1024, 4096});
  auto& verify = prometheus::BuildCounter()
                     .Name("tahe_ledger_chain_verifications_total")
                     .Help("Hash chain verifications by result")
                     .Register(*registry);
  verify_ok = &verify.Add({{"result", "ok"}});
  verify_failed = &verify.Add({{"result", "mismatch"}});
}

void LedgerMetrics::Verified(bool ok) {
  if (verify_ok == nullptr) {
    return;
  }
  (ok ? verify_ok : verify_failed)->Increment();
}

// --- accounts -----------------------------------------------------------------------------------

absl::StatusOr<v1::Account> LedgerRepository::CreateAccount(const CallContext& call,
                                                            const v1::CreateAccountRequest& req) {
  RETURN_IF_ERROR(ValidateAccountFields(req.account()));
  return pg::InTenantTransaction<v1::Account>(
      *pool_, call.tenant, Tx(call), [&](pqxx::work& tx) -> absl::StatusOr<v1::Account> {
        return Idempotent<v1::Account>(
            tx, call, req.request_id(), "CreateAccount", req, [&]() -> absl::StatusOr<v1::Account> {
              const v1::Account& a = req.account();
              pqxx::result r = tx.exec_params(
                  "INSERT INTO accounts (tenant_id, number, name, type, parent_group)"
                  " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING number",
                  call.tenant, a.number(), a.name(), static_cast<int>(a.type()), a.parent_group());
              if (r.empty()) {
                return absl::AlreadyExistsError(
                    absl::StrCat("account.number: account ", a.number(), " already exists"));
              }
              v1::Account created = a;
              created.set_closed(false);
              return created;
            });
      });
}

absl::StatusOr<v1::ListAccountsResponse> LedgerRepository::ListAccounts(
    const CallContext& call, const v1::ListAccountsRequest& req) {
  return pg::InTenantTransaction<v1::ListAccountsResponse>(
      *pool_, call.tenant, Tx(call, true),
      [&](pqxx::work& tx) -> absl::StatusOr<v1::ListAccountsResponse> {
        v1::ListAccountsResponse resp;
        for (const auto& row :
             tx.exec_params("SELECT number, name, type, parent_group, closed FROM accounts"
                            " WHERE tenant_id = $1 AND ($2 OR NOT closed) ORDER BY number",
                            call.tenant, req.include_closed())) {
          *resp.add_accounts() = AccountFromRow(row);
        }
        return resp;
      });
}

absl::StatusOr<v1::Account> LedgerRepository::UpdateAccount(const CallContext& call,
                                                            const v1::UpdateAccountRequest& req) {
  if (!req.name().empty() && req.name().size() > 200) {
    return InvalidField("name", "at most 200 characters");
  }
  RETURN_IF_ERROR(CheckText("name", req.name()));
  RETURN_IF_ERROR(CheckText("parent_group", req.parent_group()));
  if (req.type() > v1::ACCOUNT_TYPE_EXPENSE || req.type() < 0) {
    return InvalidField("type", "unknown account type");
  }
  return pg::InTenantTransaction<v1::Account>(
      *pool_, call.tenant, Tx(call), [&](pqxx::work& tx) -> absl::StatusOr<v1::Account> {
        return Idempotent<v1::Account>(
            tx, call, req.request_id(), "UpdateAccount", req, [&]() -> absl::StatusOr<v1::Account> {
              LockChainHead(tx, call.tenant);  // serialise with posting
              ASSIGN_OR_RETURN(v1::Account account,
                               LoadAccount(tx, call.tenant, req.number(), "number", true));
              if (req.type() != v1::ACCOUNT_TYPE_UNSPECIFIED && req.type() != account.type()) {
                pqxx::result used = tx.exec_params(
                    "SELECT 1 FROM entry_lines WHERE tenant_id = $1 AND account = $2 LIMIT 1",
                    call.tenant, req.number());
                if (!used.empty()) {
                  return absl::FailedPreconditionError(absl::StrCat(
                      "type: account ", req.number(), " has postings; its type cannot change"));
                }
                account.set_type(req.type());
              }
              if (!req.name().empty()) {
                account.set_name(req.name());
              }
              if (!req.parent_group().empty()) {
                account.set_parent_group(req.parent_group());
              }
              tx.exec_params(
                  "UPDATE accounts SET name = $3, type = $4, parent_group = $5"
                  " WHERE tenant_id = $1 AND number = $2",
                  call.tenant, account.number(), account.name(), static_cast<int>(account.type()),
                  account.parent_group());
              return account;
            });
      });
}

absl::StatusOr<v1::Account> LedgerRepository::CloseAccount(const CallContext& call,
                                                           const v1::CloseAccountRequest& req) {
  return pg::InTenantTransaction<v1::Account>(
      *pool_, call.tenant, Tx(call), [&](pqxx::work& tx) -> absl::StatusOr<v1::Account> {
        return Idempotent<v1::Account>(
            tx, call, req.request_id(), "CloseAccount", req, [&]() -> absl::StatusOr<v1::Account> {
              LockChainHead(tx, call.tenant);  // serialise with posting
              ASSIGN_OR_RETURN(v1::Account account,
                               LoadAccount(tx, call.tenant, req.number(), "number", true));
              tx.exec_params(
                  "UPDATE accounts SET closed = true WHERE tenant_id = $1 AND number = $2",
                  call.tenant, req.number());
              account.set_closed(true);
              return account;
            });
      });
}

absl::StatusOr<v1::LoadChartTemplateResponse> LedgerRepository::LoadChartTemplate(
    const CallContext& call, const v1::LoadChartTemplateRequest& req) {
  ASSIGN_OR_RETURN(ChartTemplate chart, LoadTemplate(req.template_()));
  return pg::InTenantTransaction<v1::LoadChartTemplateResponse>(
      *pool_, call.tenant, Tx(call),
      [&](pqxx::work& tx) -> absl::StatusOr<v1::LoadChartTemplateResponse> {
        return Idempotent<v1::LoadChartTemplateResponse>(
            tx, call, req.request_id(), "LoadChartTemplate", req,
            [&]() -> absl::StatusOr<v1::LoadChartTemplateResponse> {
              v1::LoadChartTemplateResponse resp;
              for (const v1::Account& a : chart.accounts) {
                pqxx::result r = tx.exec_params(
                    "INSERT INTO accounts (tenant_id, number, name, type, parent_group)"
                    " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING number",
                    call.tenant, a.number(), a.name(), static_cast<int>(a.type()),
                    a.parent_group());
                if (r.empty()) {
                  resp.set_accounts_existing(resp.accounts_existing() + 1);
                } else {
                  resp.set_accounts_created(resp.accounts_created() + 1);
                }
              }
              for (const v1::Dimension& d : chart.dimensions) {
                pqxx::result r = tx.exec_params(
                    "INSERT INTO dimensions (tenant_id, key, description) VALUES ($1, $2, $3)"
                    " ON CONFLICT DO NOTHING RETURNING key",
                    call.tenant, d.key(), d.description());
                resp.set_dimensions_created(resp.dimensions_created() + (r.empty() ? 0 : 1));
              }
              return resp;
            });
      });
}

// --- dimensions ---------------------------------------------------------------------------------

absl::StatusOr<v1::Dimension> LedgerRepository::DefineDimension(
    const CallContext& call, const v1::DefineDimensionRequest& req) {
  const v1::Dimension& d = req.dimension();
  if (!IsValidDimensionKey(d.key())) {
    return InvalidField("dimension.key", "[a-z][a-z0-9_]{0,31}, e.g. cost_centre");
  }
  RETURN_IF_ERROR(CheckText("dimension.description", d.description()));
  std::set<std::string> seen;
  for (int i = 0; i < d.allowed_values_size(); ++i) {
    const std::string& v = d.allowed_values(i);
    if (v.empty() || v.size() > 64 || std::any_of(v.begin(), v.end(), [](char c) {
          return static_cast<unsigned char>(c) < 0x20;
        })) {
      return InvalidField(absl::StrCat("dimension.allowed_values[", i, "]"),
                          "1-64 characters without control characters");
    }
    if (!seen.insert(v).second) {
      return InvalidField(absl::StrCat("dimension.allowed_values[", i, "]"), "duplicate value");
    }
  }
  std::vector<std::string> values(d.allowed_values().begin(), d.allowed_values().end());
  return pg::InTenantTransaction<v1::Dimension>(
      *pool_, call.tenant, Tx(call), [&](pqxx::work& tx) -> absl::StatusOr<v1::Dimension> {
        return Idempotent<v1::Dimension>(
            tx, call, req.request_id(), "DefineDimension", req,
            [&]() -> absl::StatusOr<v1::Dimension> {
              LockChainHead(tx, call.tenant);  // serialise with posting
              tx.exec_params(
                  "INSERT INTO dimensions (tenant_id, key, description, allowed_values)"
                  " VALUES ($1, $2, $3, $4::text[]) ON CONFLICT (tenant_id, key) DO UPDATE"
                  " SET description = EXCLUDED.description, allowed_values = "
                  "EXCLUDED.allowed_values",
                  call.tenant, d.key(), d.description(), pg::TextArray(values));
              return d;
            });
      });
}

absl::StatusOr<v1::ListDimensionsResponse> LedgerRepository::ListDimensions(
    const CallContext& call) {
  return pg::InTenantTransaction<v1::ListDimensionsResponse>(
      *pool_, call.tenant, Tx(call, true),
      [&](pqxx::work& tx) -> absl::StatusOr<v1::ListDimensionsResponse> {
        v1::ListDimensionsResponse resp;
        for (const auto& row : tx.exec_params(
                 "SELECT key, description, coalesce(array_to_string(allowed_values, chr(30)), '')"
                 " FROM dimensions WHERE tenant_id = $1 ORDER BY key",
                 call.tenant)) {
          v1::Dimension* d = resp.add_dimensions();
          d->set_key(row[0].as<std::string>());
          d->set_description(row[1].as<std::string>());
          std::string values = row[2].as<std::string>();
          if (!values.empty()) {
            for (absl::string_view v : absl::StrSplit(values, '\x1e')) {
              d->add_allowed_values(std::string(v));
            }
          }
        }
        return resp;
      });
}

// --- periods ------------------------------------------------------------------------------------

absl::StatusOr<v1::Period> LedgerRepository::OpenPeriod(const CallContext& call,
                                                        const v1::OpenPeriodRequest& req) {
  RETURN_IF_ERROR(ParsePeriod("period", req.period()).status());
  return pg::InTenantTransaction<v1::Period>(
      *pool_, call.tenant, Tx(call), [&](pqxx::work& tx) -> absl::StatusOr<v1::Period> {
        return Idempotent<v1::Period>(
            tx, call, req.request_id(), "OpenPeriod", req, [&]() -> absl::StatusOr<v1::Period> {
              // Insert-or-nothing first: concurrent openers of a new period then queue on the
              // row instead of racing to insert it.
              pqxx::result inserted = tx.exec_params(
                  "INSERT INTO periods (tenant_id, period, status) VALUES ($1, $2, 'open')"
                  " ON CONFLICT DO NOTHING RETURNING period",
                  call.tenant, req.period());
              if (inserted.empty()) {
                pqxx::result existing = tx.exec_params(kSelectPeriod, call.tenant, req.period());
                v1::Period p = PeriodFromRow(existing.at(0));
                if (p.status() == v1::PERIOD_STATUS_CLOSED) {
                  return absl::FailedPreconditionError(absl::StrCat(
                      "period: ", req.period(), " is closed; reopen it with a reason instead"));
                }
                return p;  // already open
              }
              tx.exec_params(
                  "INSERT INTO period_events (tenant_id, period, action, request_id, principal)"
                  " VALUES ($1, $2, 'open', $3, $4)",
                  call.tenant, req.period(), req.request_id(), call.principal);
              v1::Period p;
              p.set_period(req.period());
              p.set_status(v1::PERIOD_STATUS_OPEN);
              return p;
            });
      });
}

absl::StatusOr<v1::Period> LedgerRepository::ClosePeriod(const CallContext& call,
                                                         const v1::ClosePeriodRequest& req) {
  RETURN_IF_ERROR(ParsePeriod("period", req.period()).status());
  return pg::InTenantTransaction<v1::Period>(
      *pool_, call.tenant, Tx(call), [&](pqxx::work& tx) -> absl::StatusOr<v1::Period> {
        return Idempotent<v1::Period>(
            tx, call, req.request_id(), "ClosePeriod", req, [&]() -> absl::StatusOr<v1::Period> {
              LockChainHead(tx, call.tenant);  // serialise with posting
              pqxx::result existing = tx.exec_params(kSelectPeriod, call.tenant, req.period());
              if (existing.empty()) {
                return absl::NotFoundError(
                    absl::StrCat("period: ", req.period(), " was never opened"));
              }
              v1::Period p = PeriodFromRow(existing[0]);
              if (p.status() == v1::PERIOD_STATUS_CLOSED) {
                return absl::FailedPreconditionError(
                    absl::StrCat("period: ", req.period(), " is already closed"));
              }
              tx.exec_params(
                  "UPDATE periods SET status = 'closed', updated_at = now()"
                  " WHERE tenant_id = $1 AND period = $2",
                  call.tenant, req.period());
              tx.exec_params(
                  "INSERT INTO period_events (tenant_id, period, action, request_id, principal)"
                  " VALUES ($1, $2, 'close', $3, $4)",
                  call.tenant, req.period(), req.request_id(), call.principal);
              p.set_status(v1::PERIOD_STATUS_CLOSED);
              return p;
            });
      });
}

absl::StatusOr<v1::Period> LedgerRepository::ReopenPeriod(const CallContext& call,
                                                          const v1::ReopenPeriodRequest& req) {
  RETURN_IF_ERROR(ParsePeriod("period", req.period()).status());
  if (req.reason().size() < 3 || req.reason().size() > 500) {
    return InvalidField("reason", "required (3-500 characters): why the period is reopened");
  }
  RETURN_IF_ERROR(CheckText("reason", req.reason()));
  return pg::InTenantTransaction<
      v1::Period>(*pool_, call.tenant, Tx(call), [&](pqxx::work& tx) -> absl::StatusOr<v1::Period> {
    return Idempotent<v1::Period>(
        tx, call, req.request_id(), "ReopenPeriod", req, [&]() -> absl::StatusOr<v1::Period> {
          pqxx::result existing = tx.exec_params(kSelectPeriod, call.tenant, req.period());
          if (existing.empty()) {
            return absl::NotFoundError(absl::StrCat("period: ", req.period(), " was never opened"));
          }
          v1::Period p = PeriodFromRow(existing[0]);
          if (p.status() == v1::PERIOD_STATUS_OPEN) {
            return absl::FailedPreconditionError(
                absl::StrCat("period: ", req.period(), " is open, not closed"));
          }
          tx.exec_params(
              "UPDATE periods SET status = 'open', reopen_reason = $3, updated_at = now()"
              " WHERE tenant_id = $1 AND period = $2",
              call.tenant, req.period(), req.reason());
          tx.exec_params(
              "INSERT INTO period_events (tenant_id, period, action, reason, request_id, principal)"
              " VALUES ($1, $2, 'reopen', $3, $4, $5)",
              call.tenant, req.period(), req.reason(), req.request_id(), call.principal);
          p.set_status(v1::PERIOD_STATUS_OPEN);
          p.set_reopen_reason(req.reason());
          return p;
        });
  });
}

absl::StatusOr<v1::ListPeriodsResponse> LedgerRepository::ListPeriods(const CallContext& call) {
  return pg::InTenantTransaction<v1::ListPeriodsResponse>(
      *pool_, call.tenant, Tx(call, true),
      [&](pqxx::work& tx) -> absl::StatusOr<v1::ListPeriodsResponse> {
        v1::ListPeriodsResponse resp;
        for (const auto& row :
             tx.exec_params("SELECT period, status, reopen_reason FROM periods WHERE tenant_id = $1"
                            " ORDER BY period",
                            call.tenant)) {
          *resp.add_periods() = PeriodFromRow(row);
        }
        return resp;
      });
}

// --- tenancy ------------------------------------------------------------------------------------

absl::StatusOr<tahe::tenancy::v1::DescribeTenantDataResponse> LedgerRepository::DescribeTenantData(
    const CallContext& call) {
  using Response = tahe::tenancy::v1::DescribeTenantDataResponse;
  return pg::InTenantTransaction<Response>(
      *pool_, call.tenant, Tx(call, true), [&](pqxx::work& tx) -> absl::StatusOr<Response> {
        pqxx::row counts = tx.exec_params1(
            "SELECT (SELECT count(*) FROM accounts WHERE tenant_id = $1),"
            " (SELECT count(*) FROM dimensions WHERE tenant_id = $1),"
            " (SELECT count(*) FROM periods WHERE tenant_id = $1),"
            " (SELECT count(*) FROM entries WHERE tenant_id = $1)",
            call.tenant);
        const int64_t accounts = counts[0].as<int64_t>(), dimensions = counts[1].as<int64_t>(),
                      periods = counts[2].as<int64_t>(), entries = counts[3].as<int64_t>();
        Response resp;
        resp.set_service("tahe.ledger.v1.LedgerService");
        resp.set_has_data(accounts + dimensions + periods + entries > 0);
        resp.set_summary(absl::StrCat(accounts, " accounts, ", dimensions, " dimensions, ", periods,
                                      " periods, ", entries, " entries"));
        return resp;
      });
}

// --- posting ------------------------------------------------------------------------------------

std::vector<PostOutcome> LedgerRepository::PostInTransaction(
    pqxx::work& tx, const std::vector<const PostInput*>& inputs, bool full_entries) {
  std::vector<PostOutcome> outcomes(inputs.size());
  // Group by tenant, keeping each tenant's inputs in arrival order.
  std::map<std::string, std::vector<size_t>> by_tenant;
  for (size_t i = 0; i < inputs.size(); ++i) {
    by_tenant[inputs[i]->tenant].push_back(i);
  }
  for (const auto& [tenant, indices] : by_tenant) {
    tx.exec_params("SELECT set_config('tahe.tenant', $1, true)", tenant);

    // 1. The chain head: locked until commit, so this tenant's sequences are gapless and commits
    //    arrive in sequence order. Closing a period or an account, and redefining a dimension,
    //    take the same lock, so what step 2 reads cannot change before this commit.
    auto [sequence, previous_hash] = LockChainHead(tx, tenant);

    // 2. Everything the inputs refer to, in one round trip.
    std::set<std::string> request_ids, accounts, periods;
    std::vector<int64_t> reversed;
    for (size_t i : indices) {
      request_ids.insert(inputs[i]->request_id);
      for (const auto& line : inputs[i]->draft.lines()) {
        accounts.insert(line.account());
      }
      periods.insert(inputs[i]->draft.entry_date().substr(0, 7));
      if (inputs[i]->reverses_sequence != 0) {
        reversed.push_back(inputs[i]->reverses_sequence);
      }
    }
    pqxx::row found = tx.exec_params1(
        kLookupForPosting, tenant, pg::TextArray({request_ids.begin(), request_ids.end()}),
        pg::TextArray({accounts.begin(), accounts.end()}),
        pg::TextArray({periods.begin(), periods.end()}), pg::Int64Array(reversed));
    std::map<std::string, std::pair<std::string, int64_t>> prior;  // request id -> (hash, seq)
    for (const auto& f : Records(found[0].as<std::string>())) {
      prior[f.at(0)] = {f.at(1), std::stoll(f.at(2))};
    }
    std::map<std::string, bool> account_closed;
    for (const auto& f : Records(found[1].as<std::string>())) {
      account_closed[f.at(0)] = f.at(1) == "true";
    }
    std::map<std::string, std::string> period_status;
    for (const auto& f : Records(found[2].as<std::string>())) {
      period_status[f.at(0)] = f.at(1);
    }
    std::map<std::string, std::set<std::string>> dimension_values;  // empty set = any value
    for (const auto& f : Records(found[3].as<std::string>())) {
      std::set<std::string>& allowed = dimension_values[f.at(0)];
      if (f.size() > 1 && !f[1].empty()) {
        for (absl::string_view v : absl::StrSplit(f[1], '\x1d')) {
          allowed.insert(std::string(v));
        }
      }
    }
    std::map<int64_t, int64_t> reversed_by;  // original -> reversal
    for (const auto& f : Records(found[4].as<std::string>())) {
      reversed_by[std::stoll(f.at(0))] = std::stoll(f.at(1));
    }
    std::set<int64_t> existing_originals;
    for (const auto& f : Records(found[5].as<std::string>())) {
      existing_originals.insert(std::stoll(f.at(0)));
    }

    // 3. Decide each input; valid ones get the next sequence and hash.
    std::vector<int64_t> e_seq, e_rev, l_seq, l_no, l_amount;
    std::vector<std::string> e_rid, e_rhash, e_date, e_desc, e_sys, e_ref, e_prev, e_hash;
    std::vector<std::string> l_account, l_currency, l_dims, l_text, l_date;
    std::vector<int64_t> replay_sequences;
    std::vector<size_t> replay_inputs;
    std::map<std::string, std::pair<std::string, size_t>> in_group;  // request id -> (fp, input)
    for (size_t i : indices) {
      const PostInput& in = *inputs[i];
      PostOutcome& out = outcomes[i];
      std::string fingerprint = HexEncode(in.fingerprint);
      if (auto it = prior.find(in.request_id); it != prior.end()) {
        if (it->second.first != fingerprint) {
          out.status = absl::AlreadyExistsError(
              absl::StrCat("request_id: \"", in.request_id,
                           "\" was already used for a different entry (", it->second.second, ")"));
        } else {
          out.replayed = true;
          replay_sequences.push_back(it->second.second);
          replay_inputs.push_back(i);
        }
        continue;
      }
      if (auto it = in_group.find(in.request_id); it != in_group.end()) {
        if (it->second.first != fingerprint) {
          out.status = absl::AlreadyExistsError(absl::StrCat(
              "request_id: \"", in.request_id, "\" is used twice with different content"));
        } else {
          out.replayed = true;
          replay_inputs.push_back(i);
          replay_sequences.push_back(-static_cast<int64_t>(it->second.second) -
                                     1);  // resolved below
        }
        continue;
      }
      // Database-dependent checks, naming the offending line.
      absl::Status status;
      std::string period = in.draft.entry_date().substr(0, 7);
      auto ps = period_status.find(period);
      if (ps == period_status.end()) {
        status = absl::FailedPreconditionError(
            absl::StrCat(in.field, ".entry_date: period ", period, " is not open (open it first)"));
      } else if (ps->second != "open") {
        status = absl::FailedPreconditionError(
            absl::StrCat(in.field, ".entry_date: period ", period, " is closed"));
      }
      for (int l = 0; status.ok() && l < in.draft.lines_size(); ++l) {
        const v1::EntryLine& line = in.draft.lines(l);
        std::string at = absl::StrCat(in.field, ".lines[", l, "]");
        auto acc = account_closed.find(line.account());
        if (acc == account_closed.end()) {
          status = InvalidField(absl::StrCat(at, ".account"),
                                absl::StrCat("account ", line.account(), " does not exist"));
          break;
        }
        if (acc->second) {
          status = absl::FailedPreconditionError(
              absl::StrCat(at, ".account: account ", line.account(), " is closed"));
          break;
        }
        for (const auto& [key, value] : line.dimensions()) {
          auto dim = dimension_values.find(key);
          if (dim == dimension_values.end()) {
            status = InvalidField(absl::StrCat(at, ".dimensions"),
                                  absl::StrCat("dimension \"", key, "\" is not defined"));
            break;
          }
          if (!dim->second.empty() && !dim->second.contains(value)) {
            status = InvalidField(absl::StrCat(at, ".dimensions[", key, "]"),
                                  absl::StrCat("\"", value, "\" is not an allowed value"));
            break;
          }
        }
      }
      if (status.ok() && in.reverses_sequence != 0) {
        if (!existing_originals.contains(in.reverses_sequence)) {
          status = absl::NotFoundError(
              absl::StrCat("sequence: entry ", in.reverses_sequence, " does not exist"));
        } else if (auto r = reversed_by.find(in.reverses_sequence); r != reversed_by.end()) {
          status = absl::FailedPreconditionError(
              absl::StrCat("sequence: entry ", in.reverses_sequence,
                           " is already reversed by entry ", r->second));
        }
      }
      if (!status.ok()) {
        out.status = status;
        continue;
      }
      if (in.reverses_sequence != 0) {
        reversed_by[in.reverses_sequence] = sequence + 1;
      }
      ++sequence;
      std::string hash = ChainHash(previous_hash, CanonicalEntry(tenant, sequence, in.request_id,
                                                                 in.draft, in.reverses_sequence));
      in_group[in.request_id] = {fingerprint, i};
      e_seq.push_back(sequence);
      e_rid.push_back(in.request_id);
      e_rhash.push_back(fingerprint);
      e_date.push_back(in.draft.entry_date());
      e_desc.push_back(in.draft.description());
      e_sys.push_back(in.draft.source().system());
      e_ref.push_back(in.draft.source().reference());
      e_rev.push_back(in.reverses_sequence);
      e_prev.push_back(HexEncode(previous_hash));
      e_hash.push_back(HexEncode(hash));
      for (int l = 0; l < in.draft.lines_size(); ++l) {
        const v1::EntryLine& line = in.draft.lines(l);
        l_seq.push_back(sequence);
        l_no.push_back(l + 1);
        l_account.push_back(line.account());
        l_amount.push_back(line.amount().amount_minor());
        l_currency.push_back(line.amount().currency_code().empty() ? "EUR"
                                                                   : line.amount().currency_code());
        l_dims.push_back(DimensionsJson(line));
        l_text.push_back(line.text());
        l_date.push_back(in.draft.entry_date());
      }
      // The response carries exactly what was stored; posted_at is filled in below. A bulk
      // import reports counts only, so it gets the sequence alone.
      v1::Entry& entry = out.entry;
      entry.set_sequence(sequence);
      out.lines = in.draft.lines_size();
      if (!full_entries) {
        previous_hash = hash;
        continue;
      }
      entry.set_request_id(in.request_id);
      entry.set_entry_date(in.draft.entry_date());
      entry.set_description(in.draft.description());
      *entry.mutable_source() = in.draft.source();
      *entry.mutable_lines() = in.draft.lines();
      for (auto& line : *entry.mutable_lines()) {
        if (line.amount().currency_code().empty()) {
          line.mutable_amount()->set_currency_code("EUR");
        }
      }
      entry.set_reverses_sequence(in.reverses_sequence);
      entry.set_hash(HexEncode(hash));
      entry.set_previous_hash(HexEncode(previous_hash));
      previous_hash = hash;
    }

    // 4. Write the group's entries and lines and move the chain head: one statement.
    if (!e_seq.empty()) {
      std::string posted_at =
          tx.exec_params1(kWriteGroup, tenant, pg::Int64Array(e_seq), pg::TextArray(e_rid),
                          pg::TextArray(e_rhash), pg::TextArray(e_date), pg::TextArray(e_desc),
                          pg::TextArray(e_sys), pg::TextArray(e_ref), pg::Int64Array(e_rev),
                          pg::TextArray(e_prev), pg::TextArray(e_hash), pg::Int64Array(l_seq),
                          pg::Int64Array(l_no), pg::TextArray(l_account), pg::Int64Array(l_amount),
                          pg::TextArray(l_currency), pg::TextArray(l_dims), pg::TextArray(l_text),
                          pg::TextArray(l_date), sequence, HexEncode(previous_hash))[0]
              .as<std::string>();
      for (size_t i : indices) {
        if (outcomes[i].status.ok() && !outcomes[i].replayed) {
          outcomes[i].entry.set_posted_at(posted_at);
        }
      }
    }
    // 5. Replays return the stored entry.
    std::vector<int64_t> stored;
    for (int64_t s : replay_sequences) {
      if (s > 0) {
        stored.push_back(s);
      }
    }
    std::map<int64_t, v1::Entry> loaded;
    for (v1::Entry& e : LoadEntries(tx, tenant, stored)) {
      int64_t seq = e.sequence();
      loaded[seq] = std::move(e);
    }
    for (size_t k = 0; k < replay_inputs.size(); ++k) {
      int64_t s = replay_sequences[k];
      outcomes[replay_inputs[k]].entry =
          s > 0 ? loaded[s] : outcomes[static_cast<size_t>(-(s + 1))].entry;
    }
  }
  return outcomes;
}

void LedgerMetrics::Committed(const std::vector<PostOutcome>& outcomes) {
  if (entries_posted == nullptr) {
    return;
  }
  int64_t entries = 0, lines = 0, replayed = 0;
  for (const PostOutcome& o : outcomes) {
    if (!o.status.ok()) {
      continue;
    }
    if (o.replayed) {
      ++replayed;
    } else {
      ++entries;
      lines += o.lines;
    }
  }
  entries_posted->Increment(static_cast<double>(entries));
  lines_posted->Increment(static_cast<double>(lines));
  entries_replayed->Increment(static_cast<double>(replayed));
  batch_size->Observe(static_cast<double>(outcomes.size()));
}

std::vector<PostOutcome> LedgerRepository::PostGroup(const std::vector<const PostInput*>& inputs) {
  std::vector<PostOutcome> outcomes;
  // Bounded: a stuck lock or a hung database must not hold the committer (and shutdown) forever.
  absl::Status status = pg::RunInTransaction(
      *pool_, "", {.deadline = absl::Now() + kGroupCommitTimeout}, [&](pqxx::work& tx) {
        outcomes = PostInTransaction(tx, inputs, /*full_entries=*/true);
        return absl::OkStatus();
      });
  if (status.ok()) {
    if (metrics_ != nullptr) {
      metrics_->Committed(outcomes);
    }
    return outcomes;
  }
  // Errors of the database as a whole (down, pool exhausted, too slow) are every input's answer:
  // retrying the inputs one by one would only wait that much longer for each. Other errors could
  // come from one input (a constraint it alone violates): isolate the inputs.
  const bool whole_group = status.code() == absl::StatusCode::kUnavailable ||
                           status.code() == absl::StatusCode::kDeadlineExceeded ||
                           status.code() == absl::StatusCode::kResourceExhausted;
  if (inputs.size() == 1 || whole_group) {
    outcomes.assign(inputs.size(), PostOutcome{});
    for (PostOutcome& o : outcomes) {
      o.status = status;
    }
    return outcomes;
  }
  // Only the code: the message can quote values of other callers' entries.
  log::Warn("group commit failed; posting one by one",
            {{"entries", absl::StrCat(inputs.size())}, {"code", CodeName(status.code())}});
  outcomes.assign(inputs.size(), PostOutcome{});
  for (size_t i = 0; i < inputs.size(); ++i) {
    outcomes[i] = PostGroup({inputs[i]})[0];
  }
  return outcomes;
}

absl::StatusOr<std::vector<PostOutcome>> LedgerRepository::PostAtomically(
    const CallContext& call, const std::vector<PostInput>& inputs) {
  std::vector<const PostInput*> pointers;
  for (const PostInput& in : inputs) {
    pointers.push_back(&in);
  }
  std::vector<PostOutcome> outcomes;
  bool rejected = false;
  absl::Status status = pg::RunInTransaction(*pool_, call.tenant, Tx(call), [&](pqxx::work& tx) {
    outcomes = PostInTransaction(tx, pointers, /*full_entries=*/false);
    rejected = std::any_of(outcomes.begin(), outcomes.end(),
                           [](const PostOutcome& o) { return !o.status.ok(); });
    // Any failing entry rolls back the whole batch; the outcomes say which entries failed.
    return rejected ? absl::CancelledError("batch rejected") : absl::OkStatus();
  });
  if (rejected) {
    for (PostOutcome& o : outcomes) {
      if (o.status.ok()) {
        o.entry.Clear();  // nothing of the batch was written
      }
    }
    return outcomes;
  }
  RETURN_IF_ERROR(status);
  if (metrics_ != nullptr) {
    metrics_->Committed(outcomes);
  }
  return outcomes;
}

// --- queries ------------------------------------------------------------------------------------

absl::StatusOr<v1::Entry> LedgerRepository::GetEntry(const CallContext& call, int64_t sequence) {
  if (sequence <= 0) {
    return InvalidField("sequence", "must be positive");
  }
  return pg::InTenantTransaction<v1::Entry>(
      *pool_, call.tenant, Tx(call, true), [&](pqxx::work& tx) -> absl::StatusOr<v1::Entry> {
        std::vector<v1::Entry> found = LoadEntries(tx, call.tenant, {sequence});
        if (found.empty()) {
          return absl::NotFoundError(absl::StrCat("sequence: entry ", sequence, " does not exist"));
        }
        return std::move(found[0]);
      });
}

absl::StatusOr<v1::ListEntriesResponse> LedgerRepository::ListEntries(
    const CallContext& call, const v1::ListEntriesRequest& req) {
  ASSIGN_OR_RETURN(DateRange range, RangeOf(req.period(), req.from_date(), req.to_date(), ""));
  int page_size = req.page_size() == 0 ? 100 : req.page_size();
  if (page_size < 1 || page_size > 1000) {
    return InvalidField("page_size", "1..1000");
  }
  int64_t after = 0;
  if (!req.page_token().empty() && (!absl::SimpleAtoi(req.page_token(), &after) || after < 0)) {
    return InvalidField("page_token", "not a token returned by ListEntries");
  }
  if (!req.account().empty() && !IsValidAccountNumber(req.account())) {
    return InvalidField("account", "3-10 digits");
  }
  if (req.dimension_key().empty() != req.dimension_value().empty()) {
    return InvalidField("dimension_value", "dimension_key and dimension_value go together");
  }
  return pg::InTenantTransaction<v1::ListEntriesResponse>(
      *pool_, call.tenant, Tx(call, true),
      [&](pqxx::work& tx) -> absl::StatusOr<v1::ListEntriesResponse> {
        std::vector<int64_t> sequences;
        for (const auto& row : tx.exec_params(
                 "SELECT e.sequence FROM entries e WHERE e.tenant_id = $1 AND e.sequence > $2"
                 " AND (NULLIF($3, '')::date IS NULL OR e.entry_date >= NULLIF($3, '')::date)"
                 " AND (NULLIF($4, '')::date IS NULL OR e.entry_date <= NULLIF($4, '')::date)"
                 " AND ($5 = '' OR e.source_system = $5)"
                 " AND ($6 = '' OR e.source_reference = $6)"
                 " AND ($7 = '' OR EXISTS (SELECT 1 FROM entry_lines l WHERE l.tenant_id = "
                 "e.tenant_id"
                 "      AND l.sequence = e.sequence AND l.account = $7))"
                 " AND ($8 = '' OR EXISTS (SELECT 1 FROM entry_lines l WHERE l.tenant_id = "
                 "e.tenant_id"
                 "      AND l.sequence = e.sequence AND l.dimensions ->> $8 = $9))"
                 " ORDER BY e.sequence LIMIT $10",
                 call.tenant, after, range.from, range.to, req.source_system(),
                 req.source_reference(), req.account(), req.dimension_key(), req.dimension_value(),
                 page_size + 1)) {
          sequences.push_back(row[0].as<int64_t>());
        }
        v1::ListEntriesResponse resp;
        bool more = static_cast<int>(sequences.size()) > page_size;
        if (more) {
          sequences.pop_back();
        }
        for (v1::Entry& e : LoadEntries(tx, call.tenant, sequences)) {
          *resp.add_entries() = std::move(e);
        }
        if (more) {
          resp.set_next_page_token(absl::StrCat(sequences.back()));
        }
        return resp;
      });
}

absl::StatusOr<v1::GetAccountBalanceResponse> LedgerRepository::GetAccountBalance(
    const CallContext& call, const v1::GetAccountBalanceRequest& req) {
  if (!IsValidAccountNumber(req.account())) {
    return InvalidField("account", "3-10 digits");
  }
  std::string as_of = req.as_of_date();
  if (as_of.empty()) {
    as_of = FormatDate(absl::ToCivilDay(absl::Now(), absl::UTCTimeZone()));
  }
  RETURN_IF_ERROR(ParseDate("as_of_date", as_of).status());
  ASSIGN_OR_RETURN(std::string currency, NormalizeCurrency("currency_code", req.currency_code()));
  if (!req.dimension_value().empty() && req.dimension_key().empty()) {
    return InvalidField("dimension_key", "required with dimension_value");
  }
  if (req.split_by_dimension() && req.dimension_key().empty()) {
    return InvalidField("dimension_key", "required with split_by_dimension");
  }
  return pg::InTenantTransaction<v1::GetAccountBalanceResponse>(
      *pool_, call.tenant, Tx(call, true),
      [&](pqxx::work& tx) -> absl::StatusOr<v1::GetAccountBalanceResponse> {
        RETURN_IF_ERROR(LoadAccount(tx, call.tenant, req.account(), "account").status());
        v1::GetAccountBalanceResponse resp;
        resp.set_account(req.account());
        resp.set_as_of_date(as_of);
        bool split = req.split_by_dimension() && req.dimension_value().empty();
        pqxx::result rows = tx.exec_params(
            "SELECT CASE WHEN $6 THEN coalesce(dimensions ->> $4, '') ELSE '' END AS value,"
            " coalesce(sum(greatest(amount_minor, 0)), 0)::bigint,"
            " coalesce(sum(greatest(-amount_minor, 0)), 0)::bigint"
            " FROM entry_lines WHERE tenant_id = $1 AND account = $2 AND currency = $3"
            " AND entry_date <= $7::date"
            " AND ($5 = '' OR dimensions ->> $4 = $5)"
            " GROUP BY 1 ORDER BY 1",
            call.tenant, req.account(), currency, req.dimension_key(), req.dimension_value(), split,
            as_of);
        int64_t debit = 0, credit = 0;
        for (const auto& row : rows) {
          int64_t d = row[1].as<int64_t>(), c = row[2].as<int64_t>();
          debit += d;
          credit += c;
          if (split) {
            v1::DimensionBalance* b = resp.add_by_dimension();
            b->set_dimension_value(row[0].as<std::string>());
            b->mutable_balance()->set_amount_minor(d - c);
            b->mutable_balance()->set_currency_code(currency);
          }
        }
        resp.mutable_balance()->set_amount_minor(debit - credit);
        resp.mutable_balance()->set_currency_code(currency);
        resp.mutable_debit_total()->set_amount_minor(debit);
        resp.mutable_debit_total()->set_currency_code(currency);
        resp.mutable_credit_total()->set_amount_minor(credit);
        resp.mutable_credit_total()->set_currency_code(currency);
        return resp;
      });
}

absl::StatusOr<v1::GetTrialBalanceResponse> LedgerRepository::GetTrialBalance(
    const CallContext& call, const v1::GetTrialBalanceRequest& req) {
  ASSIGN_OR_RETURN(DateRange range,
                   RangeOf(req.period(), req.from_date(), req.to_date(), req.as_of_date()));
  ASSIGN_OR_RETURN(std::string currency, NormalizeCurrency("currency_code", req.currency_code()));
  return pg::InTenantTransaction<v1::GetTrialBalanceResponse>(
      *pool_, call.tenant, Tx(call, true),
      [&](pqxx::work& tx) -> absl::StatusOr<v1::GetTrialBalanceResponse> {
        v1::GetTrialBalanceResponse resp;
        resp.set_currency_code(currency);
        int64_t total_debit = 0, total_credit = 0;
        for (const auto& row : tx.exec_params(
                 "SELECT t.account, coalesce(a.name, ''), coalesce(a.type, 0), t.debit, t.credit"
                 " FROM (SELECT account, sum(greatest(amount_minor, 0))::bigint AS debit,"
                 "              sum(greatest(-amount_minor, 0))::bigint AS credit"
                 "       FROM entry_lines WHERE tenant_id = $1 AND currency = $2"
                 "       AND (NULLIF($3, '')::date IS NULL OR entry_date >= NULLIF($3, '')::date)"
                 "       AND (NULLIF($4, '')::date IS NULL OR entry_date <= NULLIF($4, '')::date)"
                 "       GROUP BY account) t"
                 " LEFT JOIN accounts a ON a.tenant_id = $1 AND a.number = t.account"
                 " ORDER BY t.account",
                 call.tenant, currency, range.from, range.to)) {
          v1::TrialBalanceRow* r = resp.add_rows();
          r->set_account(row[0].as<std::string>());
          r->set_name(row[1].as<std::string>());
          r->set_type(static_cast<v1::AccountType>(row[2].as<int>()));
          r->set_debit_minor(row[3].as<int64_t>());
          r->set_credit_minor(row[4].as<int64_t>());
          r->set_net_minor(r->debit_minor() - r->credit_minor());
          total_debit += r->debit_minor();
          total_credit += r->credit_minor();
        }
        resp.set_total_debit_minor(total_debit);
        resp.set_total_credit_minor(total_credit);
        return resp;
      });
}

absl::StatusOr<v1::VerifyChainResponse> LedgerRepository::VerifyChain(const CallContext& call) {
  // The head first: the chain is checked up to it, so entries committed while the check runs
  // are not mistaken for a mismatch. Entries are immutable and appended in sequence order, so a
  // read-only transaction per chunk sees a consistent prefix.
  ASSIGN_OR_RETURN(auto head,
                   (pg::InTenantTransaction<std::pair<int64_t, std::string>>(
                       *pool_, call.tenant, Tx(call, true),
                       [&](pqxx::work& tx) -> absl::StatusOr<std::pair<int64_t, std::string>> {
                         pqxx::result r = tx.exec_params(
                             "SELECT last_sequence, encode(last_hash, 'hex')"
                             " FROM chain_heads WHERE tenant_id = $1",
                             call.tenant);
                         if (r.empty()) {
                           return std::make_pair(int64_t{0}, HexEncode(GenesisHash()));
                         }
                         return std::make_pair(r[0][0].as<int64_t>(), r[0][1].as<std::string>());
                       })));
  v1::VerifyChainResponse resp;
  resp.set_ok(true);
  std::string expected_previous = GenesisHash();
  int64_t last = 0;
  constexpr int kChunk = 2000;
  auto fail = [&](int64_t sequence, const std::string& problem) {
    resp.set_ok(false);
    resp.set_first_bad_sequence(sequence);
    resp.set_problem(problem);
    log::Error("hash chain verification failed",
               call.LogFields({{"sequence", absl::StrCat(sequence)}, {"problem", problem}}));
  };
  while (resp.ok() && last < head.first) {
    ASSIGN_OR_RETURN(
        std::vector<v1::Entry> chunk,
        EntriesAfter(call, last, static_cast<int>(std::min<int64_t>(kChunk, head.first - last))));
    if (chunk.empty()) {
      fail(last + 1, absl::StrCat("the chain head says ", head.first,
                                  " entries but the journal ends at ", last));
      break;
    }
    for (const v1::Entry& e : chunk) {
      resp.set_entries_checked(resp.entries_checked() + 1);
      std::string problem;
      if (e.sequence() != last + 1) {
        problem = absl::StrCat("sequence gap: expected ", last + 1, ", found ", e.sequence());
      } else if (Unhex(e.previous_hash()) != expected_previous) {
        problem = "previous_hash does not match the preceding entry's hash";
      } else if (ChainHash(expected_previous,
                           CanonicalEntry(call.tenant, e.sequence(), e.request_id(), DraftOf(e),
                                          e.reverses_sequence())) != Unhex(e.hash())) {
        problem = "content does not match its hash (the entry was altered)";
      }
      if (!problem.empty()) {
        fail(e.sequence(), problem);
        break;
      }
      expected_previous = Unhex(e.hash());
      last = e.sequence();
    }
  }
  if (resp.ok() && Unhex(head.second) != expected_previous) {
    fail(last, "the chain head's hash does not match the last entry");
  }
  resp.set_head_hash(HexEncode(expected_previous));
  if (metrics_ != nullptr) {
    metrics_->Verified(resp.ok());
  }
  return resp;
}

absl::StatusOr<std::vector<v1::Entry>> LedgerRepository::EntriesAfter(const CallContext& call,
                                                                      int64_t after, int limit) {
  return pg::InTenantTransaction<std::vector<v1::Entry>>(
      *pool_, call.tenant, Tx(call, true),
      [&](pqxx::work& tx) -> absl::StatusOr<std::vector<v1::Entry>> {
        std::vector<int64_t> sequences;
        for (const auto& row :
             tx.exec_params("SELECT sequence FROM entries WHERE tenant_id = $1 AND sequence > $2"
                            " ORDER BY sequence LIMIT $3",
                            call.tenant, after, limit)) {
          sequences.push_back(row[0].as<int64_t>());
        }
        return LoadEntries(tx, call.tenant, sequences);
      });
}

absl::StatusOr<v1::ListFeedTenantsResponse> LedgerRepository::ListFeedTenants(
    const CallContext& call) {
  return pg::InTenantTransaction<v1::ListFeedTenantsResponse>(
      *pool_, "", Tx(call, true),
      [&](pqxx::work& tx) -> absl::StatusOr<v1::ListFeedTenantsResponse> {
        v1::ListFeedTenantsResponse resp;
        for (const auto& row : tx.exec(
                 "SELECT tenant_id, last_sequence,"
                 " to_char(last_posted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
                 " FROM ledger_feed_tenants()")) {
          v1::FeedTenant* t = resp.add_tenants();
          t->set_tenant(row[0].as<std::string>());
          t->set_last_sequence(row[1].as<int64_t>());
          t->set_last_posted_at(row[2].as<std::string>());
        }
        return resp;
      });
}

}  // namespace tahe::ledger
