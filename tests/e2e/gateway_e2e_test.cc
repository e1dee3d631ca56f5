// End-to-end tests of the gateway against the real suite: deploy/local/run.sh's two cells
// ("paijat-hame": lahti, phhyky; "pohjanmaa": vaasa, seinajoki), the gateway and PostgreSQL, all
// as separate processes. This binary starts nothing: tests/e2e/gateway_e2e_test.sh starts the
// suite and exports its local.env (plus TAHE_LOCAL_DIR) before running it. It talks to the suite
// with the generated stubs, and looks behind the gateway straight into each cell's ledger
// database as tahe_owner.
//
// The test cases run in declaration order and share the suite; the last one kills the pohjanmaa
// ledger, so nothing may come after it. Every run uses fresh request ids and markers (a random
// nonce), so the binary may run again against a suite that is still up (all but the last case).

// Catch prints std::map<std::string, int64_t> with its contents.
#define CATCH_CONFIG_ENABLE_PAIR_STRINGMAKER

#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <latch>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "libs/status/status.h"
#include "pqxx/pqxx"
#include "tahe/gateway/v1/admin.grpc.pb.h"
#include "tahe/ledger/v1/ledger.grpc.pb.h"
#include "tahe/payroll/v1/payroll.grpc.pb.h"
#include "tests/e2e/suite_env.h"

namespace {

namespace admin_v1 = ::tahe::gateway::v1;
namespace ledger_v1 = ::tahe::ledger::v1;
using LedgerStub = ledger_v1::LedgerService::Stub;
using AdminStub = admin_v1::AdminService::Stub;
using Clock = std::chrono::steady_clock;

constexpr char kTenantHeader[] = "x-tahe-tenant";
constexpr char kPrincipalHeader[] = "x-tahe-principal";
constexpr char kInternalTokenHeader[] = "x-tahe-internal-token";
constexpr char kPaijatHame[] = "paijat-hame";
constexpr char kPohjanmaa[] = "pohjanmaa";
// Accounts of the fi-municipal chart that seed-demo loads.
constexpr char kBank[] = "1910";
constexpr char kSales[] = "3000";
// Deadline of ordinary calls; "promptly" below means well within it.
constexpr auto kCallDeadline = std::chrono::seconds(30);

// "UNAVAILABLE", "PERMISSION_DENIED", ...: grpc and absl codes share their numbers.
std::string CodeName(grpc::StatusCode code) {
  return tahe::CodeName(static_cast<absl::StatusCode>(code));
}

#define REQUIRE_CODE(status, code)                                           \
  do {                                                                       \
    const grpc::Status& s_ = (status);                                       \
    INFO("got " << CodeName(s_.error_code()) << ": " << s_.error_message()); \
    REQUIRE(CodeName(s_.error_code()) == CodeName(code));                    \
  } while (false)

// --- The running suite, from local.env -------------------------------------------------------

std::string Env(const char* name) {
  return tahe::e2e::SuiteEnv(
      name,
      "tests/e2e/gateway_e2e_test.sh, or start deploy/local/run.sh --detach and "
      "export its local.env and TAHE_LOCAL_DIR");
}

using tahe::e2e::ReadFileTrimmed;

struct Suite {
  std::string gateway_addr;
  std::string operator_key;  // the demo operator key: both regions, every role but admin
  std::string admin_key;     // the bootstrap key: admin only
  std::string internal_token;
  std::map<std::string, std::string> ledger_addr;  // region -> its ledger's address
  std::string pg_conninfo;                         // without dbname
  std::string local_dir;
  std::string nonce;  // unique to this run of the binary
};

const Suite& TheSuite() {
  static const Suite* suite = [] {
    auto* s = new Suite;
    s->gateway_addr = Env("TAHE_GATEWAY_ADDR");
    s->operator_key = Env("TAHE_API_KEY");
    s->admin_key = ReadFileTrimmed(Env("TAHE_ADMIN_API_KEY_FILE"));
    s->internal_token = ReadFileTrimmed(Env("TAHE_INTERNAL_TOKEN_FILE"));
    s->ledger_addr[kPaijatHame] = Env("TAHE_LEDGER_ADDR_PAIJAT_HAME");
    s->ledger_addr[kPohjanmaa] = Env("TAHE_LEDGER_ADDR_POHJANMAA");
    s->pg_conninfo = absl::StrFormat("host=%s port=%s user=%s password='%s' connect_timeout=10",
                                     Env("TAHE_PG_HOST"), Env("TAHE_PG_PORT"), Env("TAHE_PG_USER"),
                                     Env("TAHE_PG_PASSWORD"));
    s->local_dir = Env("TAHE_LOCAL_DIR");
    std::random_device random;
    s->nonce = absl::StrFormat("%08x%08x", random(), random());
    return s;
  }();
  return *suite;
}

// "tahe_<key id>_<secret>" -> key id.
std::string KeyIdOf(const std::string& api_key) {
  std::vector<std::string> parts = absl::StrSplit(api_key, '_');
  REQUIRE(parts.size() == 3);
  return parts[1];
}

std::string Unique(absl::string_view what) { return absl::StrCat(what, "-", TheSuite().nonce); }

// A date whose period seed-demo has opened: this year's January (seed-demo opens every month of
// this year up to the current one).
std::string OpenDate() {
  std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  return absl::StrFormat("%04d-01-15", local.tm_year + 1900);
}

// --- Stubs and calls ---------------------------------------------------------------------------

std::shared_ptr<grpc::Channel> GatewayChannel() {
  static std::shared_ptr<grpc::Channel> channel =
      grpc::CreateChannel(TheSuite().gateway_addr, grpc::InsecureChannelCredentials());
  return channel;
}

std::unique_ptr<LedgerStub> Gateway() {
  return ledger_v1::LedgerService::NewStub(GatewayChannel());
}

std::unique_ptr<AdminStub> Admin() { return admin_v1::AdminService::NewStub(GatewayChannel()); }

// Straight to a cell's ledger, bypassing the gateway.
std::unique_ptr<LedgerStub> Backend(const std::string& region) {
  return ledger_v1::LedgerService::NewStub(
      grpc::CreateChannel(TheSuite().ledger_addr.at(region), grpc::InsecureChannelCredentials()));
}

// Metadata of one call, in order; a key may repeat.
using Headers = std::vector<std::pair<std::string, std::string>>;

Headers Bearer(const std::string& key, const std::string& tenant = "") {
  Headers h{{"authorization", "Bearer " + key}};
  if (!tenant.empty()) {
    h.emplace_back(kTenantHeader, tenant);
  }
  return h;
}

void Prepare(grpc::ClientContext* ctx, const Headers& headers,
             std::chrono::seconds deadline = kCallDeadline) {
  ctx->set_deadline(std::chrono::system_clock::now() + deadline);
  for (const auto& [key, value] : headers) {
    ctx->AddMetadata(key, value);
  }
}

template <typename Stub, typename Req, typename Resp>
grpc::Status Call(Stub& stub, grpc::Status (Stub::*method)(grpc::ClientContext*, const Req&, Resp*),
                  const Req& req, const Headers& headers, Resp* out = nullptr) {
  grpc::ClientContext ctx;
  Prepare(&ctx, headers);
  Resp resp;
  grpc::Status status = (stub.*method)(&ctx, req, &resp);
  if (out != nullptr) {
    *out = std::move(resp);
  }
  return status;
}

ledger_v1::PostEntryRequest Sale(const std::string& request_id, const std::string& description,
                                 const std::string& source_system, int64_t cents) {
  ledger_v1::PostEntryRequest req;
  req.set_request_id(request_id);
  ledger_v1::EntryDraft* draft = req.mutable_entry();
  draft->set_entry_date(OpenDate());
  draft->set_description(description);
  draft->mutable_source()->set_system(source_system);
  draft->mutable_source()->set_reference(request_id);
  auto* debit = draft->add_lines();
  debit->set_account(kBank);
  debit->mutable_amount()->set_amount_minor(cents);
  debit->mutable_amount()->set_currency_code("EUR");
  auto* credit = draft->add_lines();
  credit->set_account(kSales);
  credit->mutable_amount()->set_amount_minor(-cents);
  credit->mutable_amount()->set_currency_code("EUR");
  return req;
}

// The entries of `tenant` from `source_system`, read through the gateway with the operator key.
std::vector<ledger_v1::Entry> EntriesFrom(const std::string& tenant,
                                          const std::string& source_system) {
  auto stub = Gateway();
  std::vector<ledger_v1::Entry> entries;
  ledger_v1::ListEntriesRequest req;
  req.set_source_system(source_system);
  req.set_page_size(1000);
  for (;;) {
    ledger_v1::ListEntriesResponse resp;
    REQUIRE_CODE(
        Call(*stub, &LedgerStub::ListEntries, req, Bearer(TheSuite().operator_key, tenant), &resp),
        grpc::StatusCode::OK);
    for (ledger_v1::Entry& e : *resp.mutable_entries()) {
      entries.push_back(std::move(e));
    }
    if (resp.next_page_token().empty()) {
      return entries;
    }
    req.set_page_token(resp.next_page_token());
  }
}

// The last sequence of a tenant's chain (sequences are gapless from 1).
int64_t HeadSequence(const std::string& tenant) {
  auto stub = Gateway();
  ledger_v1::VerifyChainResponse chain;
  REQUIRE_CODE(Call(*stub, &LedgerStub::VerifyChain, ledger_v1::VerifyChainRequest(),
                    Bearer(TheSuite().operator_key, tenant), &chain),
               grpc::StatusCode::OK);
  REQUIRE(chain.ok());
  return chain.entries_checked();
}

admin_v1::IssueApiKeyResponse IssueKey(const std::string& name, std::vector<std::string> roles,
                                       std::vector<std::string> organisations) {
  auto admin = Admin();
  admin_v1::IssueApiKeyRequest req;
  req.set_request_id(Unique(name));
  req.set_description(absl::StrCat("gateway_e2e_test ", name));
  for (const std::string& role : roles) {
    req.add_roles(role);
  }
  for (const std::string& org : organisations) {
    req.add_organisations(org);
  }
  admin_v1::IssueApiKeyResponse resp;
  REQUIRE_CODE(Call(*admin, &AdminStub::IssueApiKey, req, Bearer(TheSuite().admin_key), &resp),
               grpc::StatusCode::OK);
  REQUIRE_FALSE(resp.api_key().empty());
  return resp;
}

// --- Behind the gateway: the cells' ledger databases -------------------------------------------

std::string LedgerDatabase(const std::string& region) {
  std::string db = absl::StrCat("tahe_", region, "_ledger");
  for (char& c : db) {
    if (c == '-') {
      c = '_';
    }
  }
  return db;
}

// tenant_id -> number of journal entries from `source_system`, over EVERY row of the cell's
// entries table, whichever tenant it belongs to.
//
// Why this is sound: the ledger tables have FORCE ROW LEVEL SECURITY with a policy on
// current_setting('tahe.tenant'), so even their owner (tahe_owner, which is what we may log in as)
// sees only the rows of the tenant it names; counting with one tenant set at a time could only
// cover the tenants we think of. The owner may however lift FORCE on its own table: inside a
// transaction that is always rolled back, `ALTER TABLE entries NO FORCE ROW LEVEL SECURITY` makes
// the owner exempt from the policy (owners bypass RLS unless it is forced), so the count sees all
// rows of all tenants, and nothing changes for anyone else (DDL is transactional; the ALTER's
// exclusive lock is held for the few milliseconds of one count, bounded by lock_timeout).
std::map<std::string, int64_t> EntriesByTenantIgnoringRls(const std::string& region,
                                                          const std::string& source_system) {
  pqxx::connection conn(absl::StrCat(TheSuite().pg_conninfo, " dbname=", LedgerDatabase(region)));
  pqxx::work tx(conn);
  tx.exec0("SET LOCAL lock_timeout = '10s'");
  tx.exec0("ALTER TABLE entries NO FORCE ROW LEVEL SECURITY");
  pqxx::result rows = tx.exec_params(
      "SELECT tenant_id, count(*) FROM entries WHERE source_system = $1 GROUP BY tenant_id",
      source_system);
  std::map<std::string, int64_t> counts;
  for (const pqxx::row& row : rows) {
    counts[row[0].as<std::string>()] = row[1].as<int64_t>();
  }
  tx.abort();
  return counts;
}

// The same count the way the ledger service sees the table: as `tenant`, through RLS.
int64_t EntriesAsTenant(const std::string& region, const std::string& tenant,
                        const std::string& source_system) {
  pqxx::connection conn(absl::StrCat(TheSuite().pg_conninfo, " dbname=", LedgerDatabase(region)));
  pqxx::work tx(conn);
  tx.exec_params("SELECT set_config('tahe.tenant', $1, true)", tenant);
  pqxx::result rows =
      tx.exec_params("SELECT count(*) FROM entries WHERE source_system = $1", source_system);
  tx.abort();
  return rows[0][0].as<int64_t>();
}

// The principal the ledger recorded for the period change made with `request_id`.
std::string PrincipalOfPeriodEvent(const std::string& region, const std::string& tenant,
                                   const std::string& request_id) {
  pqxx::connection conn(absl::StrCat(TheSuite().pg_conninfo, " dbname=", LedgerDatabase(region)));
  pqxx::work tx(conn);
  tx.exec_params("SELECT set_config('tahe.tenant', $1, true)", tenant);
  pqxx::result rows =
      tx.exec_params("SELECT principal FROM period_events WHERE request_id = $1", request_id);
  tx.abort();
  REQUIRE(rows.size() == 1);
  return rows[0][0].as<std::string>();
}

// --- The tests, in the order they must run ---------------------------------------------------

TEST_CASE("e2e gateway 1: an organisation's calls land in its own region's cell", "[e2e]") {
  const Suite& suite = TheSuite();
  auto stub = Gateway();
  const std::string source = Unique("e2e-region");
  // One operator key serves both regions: the gateway picks the cell from the organisation.
  for (const char* tenant : {"vaasa", "lahti"}) {
    ledger_v1::PostEntryResponse posted;
    REQUIRE_CODE(Call(*stub, &LedgerStub::PostEntry,
                      Sale(Unique(absl::StrCat("region-", tenant)),
                           absl::StrCat("region check for ", tenant), source, 4200),
                      Bearer(suite.operator_key, tenant), &posted),
                 grpc::StatusCode::OK);
    REQUIRE(posted.entry().sequence() > 0);
  }

  // vaasa's entry is in pohjanmaa's ledger database under tenant vaasa, and in no row of
  // paijat-hame's (for any tenant); lahti's the other way round.
  const std::map<std::string, int64_t> pohjanmaa = EntriesByTenantIgnoringRls(kPohjanmaa, source);
  const std::map<std::string, int64_t> paijat_hame =
      EntriesByTenantIgnoringRls(kPaijatHame, source);
  CHECK(pohjanmaa == std::map<std::string, int64_t>{{"vaasa", 1}});
  CHECK(paijat_hame == std::map<std::string, int64_t>{{"lahti", 1}});
  // And the services' own view (RLS with the tenant set) agrees.
  CHECK(EntriesAsTenant(kPohjanmaa, "vaasa", source) == 1);
  CHECK(EntriesAsTenant(kPaijatHame, "vaasa", source) == 0);
  CHECK(EntriesAsTenant(kPaijatHame, "lahti", source) == 1);
  CHECK(EntriesAsTenant(kPohjanmaa, "lahti", source) == 0);

  // Reading back through the gateway gives each organisation only its own entry.
  REQUIRE(EntriesFrom("vaasa", source).size() == 1);
  REQUIRE(EntriesFrom("vaasa", source)[0].description() == "region check for vaasa");
  REQUIRE(EntriesFrom("lahti", source).size() == 1);
  REQUIRE(EntriesFrom("lahti", source)[0].description() == "region check for lahti");
  REQUIRE(EntriesFrom("seinajoki", source).empty());
  REQUIRE(EntriesFrom("phhyky", source).empty());
}

TEST_CASE(
    "e2e gateway 2: calls without a key, with a malformed key, or straight to a backend without "
    "the internal credential are refused",
    "[e2e]") {
  const Suite& suite = TheSuite();
  auto stub = Gateway();
  ledger_v1::GetTrialBalanceRequest tb;
  tb.set_as_of_date("2999-12-31");

  SECTION("no key") {
    REQUIRE_CODE(Call(*stub, &LedgerStub::GetTrialBalance, tb, {{kTenantHeader, "lahti"}}),
                 grpc::StatusCode::UNAUTHENTICATED);
    REQUIRE_CODE(Call(*stub, &LedgerStub::GetTrialBalance, tb, {}),
                 grpc::StatusCode::UNAUTHENTICATED);
  }

  SECTION("malformed, unknown or forged keys") {
    std::string forged = suite.operator_key;
    forged.back() = forged.back() == '0' ? '1' : '0';
    const std::string unknown_id = absl::StrCat(
        "tahe_000000000000_", suite.operator_key.substr(suite.operator_key.rfind('_') + 1));
    const std::vector<std::string> authorizations = {
        "Bearer not-a-key",
        "Bearer ",
        "Bearer",
        "Bearer " + forged,
        "Bearer " + unknown_id,
        "Bearer " + suite.operator_key + "x",
        "Basic " + suite.operator_key,
        suite.operator_key,  // no scheme
    };
    for (const std::string& authorization : authorizations) {
      INFO("authorization: " << authorization);
      REQUIRE_CODE(Call(*stub, &LedgerStub::GetTrialBalance, tb,
                        {{"authorization", authorization}, {kTenantHeader, "lahti"}}),
                   grpc::StatusCode::UNAUTHENTICATED);
    }
    // The internal credential is not a client credential at the gateway.
    REQUIRE_CODE(Call(*stub, &LedgerStub::GetTrialBalance, tb,
                      {{kInternalTokenHeader, suite.internal_token}, {kTenantHeader, "lahti"}}),
                 grpc::StatusCode::UNAUTHENTICATED);
  }

  SECTION("a valid key without the needed role") {
    // The operator key has every role but admin: the admin API refuses it.
    auto admin = Admin();
    admin_v1::ListApiKeysResponse keys;
    REQUIRE_CODE(Call(*admin, &AdminStub::ListApiKeys, admin_v1::ListApiKeysRequest(),
                      Bearer(suite.operator_key), &keys),
                 grpc::StatusCode::PERMISSION_DENIED);
    // A read-only key may not post.
    admin_v1::IssueApiKeyResponse reader = IssueKey("reader-lahti", {"ledger.read"}, {"lahti"});
    const std::string source = Unique("e2e-role");
    REQUIRE_CODE(Call(*stub, &LedgerStub::PostEntry, Sale(Unique("role"), "reader", source, 100),
                      Bearer(reader.api_key())),
                 grpc::StatusCode::PERMISSION_DENIED);
    REQUIRE_CODE(Call(*stub, &LedgerStub::GetTrialBalance, tb, Bearer(reader.api_key())),
                 grpc::StatusCode::OK);
    REQUIRE(EntriesFrom("lahti", source).empty());
  }

  SECTION("straight to a backend without the internal credential") {
    const std::string source = Unique("e2e-direct");
    for (const auto& [region, tenant] : std::vector<std::pair<std::string, std::string>>{
             {kPaijatHame, "lahti"}, {kPohjanmaa, "vaasa"}}) {
      INFO(region);
      auto backend = Backend(region);
      const std::vector<Headers> attempts = {
          {{kTenantHeader, tenant}},
          {{kTenantHeader, tenant}, {kInternalTokenHeader, "not-the-token"}},
          {{kTenantHeader, tenant}, {kInternalTokenHeader, ""}},
          // A perfectly good API key is no internal credential either.
          Bearer(suite.operator_key, tenant),
          {{kTenantHeader, tenant}, {kPrincipalHeader, "key:" + KeyIdOf(suite.operator_key)}},
      };
      for (size_t i = 0; i < attempts.size(); ++i) {
        INFO("attempt " << i);
        REQUIRE_CODE(Call(*backend, &LedgerStub::GetTrialBalance, tb, attempts[i]),
                     grpc::StatusCode::UNAUTHENTICATED);
        REQUIRE_CODE(
            Call(*backend, &LedgerStub::PostEntry,
                 Sale(Unique(absl::StrCat("direct-", region, "-", i)), "direct", source, 100),
                 attempts[i]),
            grpc::StatusCode::UNAUTHENTICATED);
      }
      // The same call with the credential works, so the refusals were about the credential.
      REQUIRE_CODE(Call(*backend, &LedgerStub::GetTrialBalance, tb,
                        {{kTenantHeader, tenant}, {kInternalTokenHeader, suite.internal_token}}),
                   grpc::StatusCode::OK);
    }
    REQUIRE(EntriesByTenantIgnoringRls(kPaijatHame, source).empty());
    REQUIRE(EntriesByTenantIgnoringRls(kPohjanmaa, source).empty());
  }
}

TEST_CASE("e2e gateway 3: a key for one organisation cannot read or write another by any header",
          "[e2e]") {
  const Suite& suite = TheSuite();
  auto stub = Gateway();
  admin_v1::IssueApiKeyResponse vaasa =
      IssueKey("vaasa-only", {"ledger.read", "ledger.write"}, {"vaasa"});
  REQUIRE(vaasa.key().organisations_size() == 1);
  const std::string key = vaasa.api_key();
  const std::string operator_principal = "key:" + KeyIdOf(suite.operator_key);

  // A marker entry in every organisation, so that a read shows whose books it read.
  const std::string marker = Unique("e2e-marker");
  for (const char* tenant : {"lahti", "phhyky", "vaasa", "seinajoki"}) {
    REQUIRE_CODE(Call(*stub, &LedgerStub::PostEntry,
                      Sale(Unique(absl::StrCat("marker-", tenant)),
                           absl::StrCat("marker of ", tenant), marker, 100),
                      Bearer(suite.operator_key, tenant)),
                 grpc::StatusCode::OK);
  }

  // Every way we know to name another organisation or to borrow another identity. (Header names
  // are lower case on the wire by HTTP/2; gRPC refuses others before sending, so "odd casing" is
  // tried on the values.)
  const std::vector<Headers> attempts = {
      Bearer(key, "lahti"),
      Bearer(key, "seinajoki"),
      Bearer(key, "phhyky"),
      Bearer(key, "no-such-org"),
      Bearer(key, "LAHTI"),
      Bearer(key, "Seinajoki"),
      Bearer(key, " lahti"),
      Bearer(key, "lahti "),
      Bearer(key, " seinajoki "),
      Bearer(key, "VAASA"),
      Bearer(key, " vaasa"),
      Bearer(key, "lahti,vaasa"),
      Bearer(key, "vaasa,lahti"),
      Bearer(key, "vaasa lahti"),
      // Two tenant headers, in both orders.
      {{"authorization", "Bearer " + key}, {kTenantHeader, "vaasa"}, {kTenantHeader, "lahti"}},
      {{"authorization", "Bearer " + key}, {kTenantHeader, "lahti"}, {kTenantHeader, "vaasa"}},
      // The principal of the operator key, which may act for lahti.
      {{"authorization", "Bearer " + key}, {kPrincipalHeader, operator_principal}},
      {{"authorization", "Bearer " + key},
       {kPrincipalHeader, operator_principal},
       {kTenantHeader, "lahti"}},
      // The real internal credential, as if the call came from a trusted sibling.
      {{"authorization", "Bearer " + key},
       {kInternalTokenHeader, suite.internal_token},
       {kTenantHeader, "lahti"}},
      {{"authorization", "Bearer " + key}, {kInternalTokenHeader, suite.internal_token}},
      {{kInternalTokenHeader, suite.internal_token},
       {kPrincipalHeader, operator_principal},
       {kTenantHeader, "lahti"}},
      // Two authorization headers: this key and the operator key, in both orders.
      {{"authorization", "Bearer " + key},
       {"authorization", "Bearer " + suite.operator_key},
       {kTenantHeader, "lahti"}},
      {{"authorization", "Bearer " + suite.operator_key},
       {"authorization", "Bearer " + key},
       {kTenantHeader, "lahti"}},
      {{"authorization", "Bearer " + key}, {"authorization", "Bearer " + suite.operator_key}},
      // Both keys in one header value.
      {{"authorization", "Bearer " + key + ", Bearer " + suite.operator_key},
       {kTenantHeader, "lahti"}},
      {{"authorization", "Bearer " + key + " " + suite.operator_key}, {kTenantHeader, "lahti"}},
  };

  const std::string spoof = Unique("e2e-spoof");
  int writes_accepted = 0;
  for (size_t i = 0; i < attempts.size(); ++i) {
    std::string described;
    for (const auto& [k, v] : attempts[i]) {
      // The values of credentials stay out of the output; their positions are enough.
      const bool secret = k == "authorization" || k == kInternalTokenHeader;
      absl::StrAppend(&described, " ", k, "=", secret ? "(secret)" : absl::StrCat("\"", v, "\""));
    }
    INFO("attempt " << i << ":" << described);
    // Write: refused, or posted into vaasa (checked below).
    ledger_v1::PostEntryResponse posted;
    grpc::Status write = Call(
        *stub, &LedgerStub::PostEntry,
        Sale(Unique(absl::StrCat("spoof-", i)), absl::StrCat("spoof attempt ", i), spoof, 100 + i),
        attempts[i], &posted);
    INFO("write: " << CodeName(write.error_code()) << ": " << write.error_message());
    CHECK((write.ok() || write.error_code() == grpc::StatusCode::PERMISSION_DENIED ||
           write.error_code() == grpc::StatusCode::UNAUTHENTICATED ||
           write.error_code() == grpc::StatusCode::INVALID_ARGUMENT));
    writes_accepted += write.ok() ? 1 : 0;

    // Read: refused, or vaasa's books.
    ledger_v1::ListEntriesRequest list;
    list.set_source_system(marker);
    ledger_v1::ListEntriesResponse read;
    grpc::Status read_status = Call(*stub, &LedgerStub::ListEntries, list, attempts[i], &read);
    INFO("read: " << CodeName(read_status.error_code()) << ": " << read_status.error_message());
    if (read_status.ok()) {
      REQUIRE(read.entries_size() == 1);
      CHECK(read.entries(0).description() == "marker of vaasa");
    } else {
      CHECK((read_status.error_code() == grpc::StatusCode::PERMISSION_DENIED ||
             read_status.error_code() == grpc::StatusCode::UNAUTHENTICATED ||
             read_status.error_code() == grpc::StatusCode::INVALID_ARGUMENT));
    }
  }

  // The key does work for its own organisation (so the refusals above were about the headers).
  REQUIRE_CODE(Call(*stub, &LedgerStub::PostEntry,
                    Sale(Unique("spoof-control"), "spoof control", spoof, 99), Bearer(key)),
               grpc::StatusCode::OK);
  REQUIRE_CODE(Call(*stub, &LedgerStub::PostEntry,
                    Sale(Unique("spoof-control-named"), "spoof control named", spoof, 98),
                    Bearer(key, "vaasa")),
               grpc::StatusCode::OK);
  const int64_t in_vaasa = writes_accepted + 2;

  // Whatever was accepted is vaasa's, in vaasa's cell; no other organisation got anything.
  REQUIRE(EntriesFrom("vaasa", spoof).size() == static_cast<size_t>(in_vaasa));
  for (const char* other : {"lahti", "phhyky", "seinajoki"}) {
    INFO(other);
    REQUIRE(EntriesFrom(other, spoof).empty());
  }
  REQUIRE(EntriesByTenantIgnoringRls(kPohjanmaa, spoof) ==
          std::map<std::string, int64_t>{{"vaasa", in_vaasa}});
  REQUIRE(EntriesByTenantIgnoringRls(kPaijatHame, spoof).empty());

  // The backend sees the key's own principal, whatever the client claimed: the ledger records it
  // with every period change.
  const std::string period = [&] {
    const uint64_t n = std::hash<std::string>()(suite.nonce);
    return absl::StrFormat("%04d-%02d", 2100 + n % 800, 1 + (n / 800) % 12);
  }();
  ledger_v1::OpenPeriodRequest open;
  open.set_request_id(Unique("spoof-principal"));
  open.set_period(period);
  REQUIRE_CODE(Call(*stub, &LedgerStub::OpenPeriod, open,
                    {{"authorization", "Bearer " + key},
                     {kPrincipalHeader, operator_principal},
                     {kInternalTokenHeader, suite.internal_token}}),
               grpc::StatusCode::OK);
  REQUIRE(PrincipalOfPeriodEvent(kPohjanmaa, "vaasa", open.request_id()) ==
          "key:" + vaasa.key().key_id());

  // The key cannot reach the admin API either.
  admin_v1::ListOrganisationsResponse orgs;
  REQUIRE_CODE(Call(*Admin(), &AdminStub::ListOrganisations, admin_v1::ListOrganisationsRequest(),
                    Bearer(key), &orgs),
               grpc::StatusCode::PERMISSION_DENIED);
}

TEST_CASE("e2e gateway 4: a revoked key stops working", "[e2e]") {
  const Suite& suite = TheSuite();
  auto stub = Gateway();
  auto admin = Admin();
  admin_v1::IssueApiKeyResponse issued =
      IssueKey("revoke-me", {"ledger.read", "ledger.write"}, {"phhyky"});
  const std::string source = Unique("e2e-revoke");
  ledger_v1::GetTrialBalanceRequest tb;
  tb.set_as_of_date("2999-12-31");
  // Admin-API changes refresh the gateway's directory before they answer, so the new key works
  // at once.
  REQUIRE_CODE(Call(*stub, &LedgerStub::GetTrialBalance, tb, Bearer(issued.api_key())),
               grpc::StatusCode::OK);
  REQUIRE_CODE(Call(*stub, &LedgerStub::PostEntry,
                    Sale(Unique("revoke-before"), "before", source, 1), Bearer(issued.api_key())),
               grpc::StatusCode::OK);

  admin_v1::RevokeApiKeyRequest revoke;
  revoke.set_request_id(Unique("revoke"));
  revoke.set_key_id(issued.key().key_id());
  admin_v1::ApiKey revoked;
  REQUIRE_CODE(Call(*admin, &AdminStub::RevokeApiKey, revoke, Bearer(suite.admin_key), &revoked),
               grpc::StatusCode::OK);
  REQUIRE_FALSE(revoked.revoked_at().empty());

  // Refused on the very next call (revocation is effective on the reply), for reads and writes,
  // with or without naming its organisation.
  REQUIRE_CODE(Call(*stub, &LedgerStub::GetTrialBalance, tb, Bearer(issued.api_key())),
               grpc::StatusCode::UNAUTHENTICATED);
  REQUIRE_CODE(Call(*stub, &LedgerStub::GetTrialBalance, tb, Bearer(issued.api_key(), "phhyky")),
               grpc::StatusCode::UNAUTHENTICATED);
  REQUIRE_CODE(Call(*stub, &LedgerStub::PostEntry, Sale(Unique("revoke-after"), "after", source, 2),
                    Bearer(issued.api_key())),
               grpc::StatusCode::UNAUTHENTICATED);
  REQUIRE(EntriesFrom("phhyky", source).size() == 1);

  // The directory lists it as revoked; other keys for the same organisation keep working.
  admin_v1::ListApiKeysRequest list;
  list.set_include_revoked(true);
  list.set_organisation("phhyky");
  admin_v1::ListApiKeysResponse keys;
  REQUIRE_CODE(Call(*admin, &AdminStub::ListApiKeys, list, Bearer(suite.admin_key), &keys),
               grpc::StatusCode::OK);
  bool listed = false;
  for (const admin_v1::ApiKey& k : keys.keys()) {
    if (k.key_id() == issued.key().key_id()) {
      listed = true;
      CHECK_FALSE(k.revoked_at().empty());
    }
  }
  REQUIRE(listed);
  REQUIRE_CODE(Call(*stub, &LedgerStub::GetTrialBalance, tb, Bearer(suite.operator_key, "phhyky")),
               grpc::StatusCode::OK);
}

TEST_CASE("e2e gateway 5: the per-organisation rate limit engages", "[e2e]") {
  const Suite& suite = TheSuite();
  // More concurrent calls than the bucket holds: the launcher's TAHE_GATEWAY_RATE_BURST, which
  // tests/e2e/gateway_e2e_test.sh sets, else the gateway's default.
  const char* burst_env = std::getenv("TAHE_GATEWAY_RATE_BURST");
  const int burst = burst_env != nullptr && *burst_env != '\0' ? std::atoi(burst_env) : 400;
  REQUIRE(burst > 0);
  const int calls = 4 * burst;
  auto stub = Gateway();

  struct Pending {
    grpc::ClientContext ctx;
    ledger_v1::ListPeriodsRequest req;
    ledger_v1::ListPeriodsResponse resp;
  };
  std::vector<std::unique_ptr<Pending>> pending;
  pending.reserve(calls);
  absl::Mutex mu;
  // By code; the gateway's own refusals (its message names the limiter) as RATE_LIMITED, so that
  // a RESOURCE_EXHAUSTED from anywhere else would not pass for the rate limit.
  std::map<std::string, int> outcomes;
  std::latch done(calls);
  for (int i = 0; i < calls; ++i) {
    pending.push_back(std::make_unique<Pending>());
    Pending& p = *pending.back();
    Prepare(&p.ctx, Bearer(suite.operator_key, "seinajoki"));
    stub->async()->ListPeriods(&p.ctx, &p.req, &p.resp, [&](grpc::Status status) {
      const bool rate_limited = status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED &&
                                absl::StrContains(status.error_message(),
                                                  "rate limit exceeded for organisation seinajoki");
      {
        absl::MutexLock lock(&mu);
        ++outcomes[rate_limited ? "RATE_LIMITED" : CodeName(status.error_code())];
      }
      done.count_down();
    });
  }

  // Each organisation has its own bucket: another one, in the same cell, is served meanwhile.
  // (Checked after the flood has finished: the callbacks use this frame.)
  auto other = Gateway();
  ledger_v1::ListPeriodsResponse periods;
  const grpc::Status other_status =
      Call(*other, &LedgerStub::ListPeriods, ledger_v1::ListPeriodsRequest(),
           Bearer(suite.operator_key, "vaasa"), &periods);

  done.wait();
  REQUIRE_CODE(other_status, grpc::StatusCode::OK);
  REQUIRE(periods.periods_size() > 0);
  INFO("outcomes: " << [&] {
    std::string s;
    for (const auto& [outcome, n] : outcomes) {
      absl::StrAppend(&s, outcome, "=", n, " ");
    }
    return s;
  }());
  REQUIRE(outcomes["RATE_LIMITED"] > 0);
  REQUIRE(outcomes["OK"] > 0);
  REQUIRE(outcomes["OK"] + outcomes["RATE_LIMITED"] == calls);  // nothing else went wrong
}

TEST_CASE("e2e gateway 6: a bulk import (client stream) works through the gateway", "[e2e]") {
  const Suite& suite = TheSuite();
  constexpr int kBatches = 5;
  constexpr int kPerBatch = 100;
  constexpr int kEntries = kBatches * kPerBatch;
  const std::string source = Unique("e2e-bulk");
  auto stub = Gateway();

  ledger_v1::GetTrialBalanceRequest everything;
  everything.set_as_of_date("2999-12-31");
  ledger_v1::GetTrialBalanceResponse before;
  REQUIRE_CODE(Call(*stub, &LedgerStub::GetTrialBalance, everything,
                    Bearer(suite.operator_key, "phhyky"), &before),
               grpc::StatusCode::OK);

  grpc::ClientContext ctx;
  Prepare(&ctx, Bearer(suite.operator_key, "phhyky"), std::chrono::seconds(120));
  ledger_v1::PostEntriesResponse imported;
  std::unique_ptr<grpc::ClientWriter<ledger_v1::PostEntriesRequest>> writer =
      stub->PostEntries(&ctx, &imported);
  int64_t cents_total = 0;
  for (int b = 0; b < kBatches; ++b) {
    ledger_v1::PostEntriesRequest batch;
    batch.set_request_id(Unique(absl::StrCat("bulk-batch-", b)));
    for (int i = 0; i < kPerBatch; ++i) {
      const int n = b * kPerBatch + i;
      const int64_t cents = 1000 + n;
      cents_total += cents;
      *batch.add_entries() =
          Sale(Unique(absl::StrCat("bulk-", n)), absl::StrCat("bulk ", n), source, cents);
    }
    REQUIRE(writer->Write(batch));
  }
  REQUIRE(writer->WritesDone());
  REQUIRE_CODE(writer->Finish(), grpc::StatusCode::OK);
  INFO(imported.DebugString());
  REQUIRE(imported.batches_committed() == kBatches);
  REQUIRE(imported.batches_rejected() == 0);
  REQUIRE(imported.entries_posted() == kEntries);
  REQUIRE(imported.errors_size() == 0);
  REQUIRE(imported.last_sequence() - imported.first_sequence() + 1 == kEntries);

  // Read back through the gateway: every entry, and the totals moved by exactly their sum.
  std::vector<ledger_v1::Entry> entries = EntriesFrom("phhyky", source);
  REQUIRE(entries.size() == static_cast<size_t>(kEntries));
  std::set<int64_t> sequences;
  for (const ledger_v1::Entry& e : entries) {
    sequences.insert(e.sequence());
  }
  REQUIRE(sequences.size() == static_cast<size_t>(kEntries));
  REQUIRE(*sequences.begin() == imported.first_sequence());
  REQUIRE(*sequences.rbegin() == imported.last_sequence());
  ledger_v1::GetTrialBalanceResponse after;
  REQUIRE_CODE(Call(*stub, &LedgerStub::GetTrialBalance, everything,
                    Bearer(suite.operator_key, "phhyky"), &after),
               grpc::StatusCode::OK);
  REQUIRE(after.total_debit_minor() - before.total_debit_minor() == cents_total);
  REQUIRE(after.total_credit_minor() - before.total_credit_minor() == cents_total);
  // In phhyky's cell only.
  REQUIRE(EntriesByTenantIgnoringRls(kPaijatHame, source) ==
          std::map<std::string, int64_t>{{"phhyky", kEntries}});
  REQUIRE(EntriesByTenantIgnoringRls(kPohjanmaa, source).empty());
}

TEST_CASE("e2e gateway 7: the change feed (server stream) works through the gateway", "[e2e]") {
  const Suite& suite = TheSuite();
  const std::string source = Unique("e2e-feed");
  auto stub = Gateway();
  const int64_t head = HeadSequence("lahti");

  grpc::ClientContext ctx;
  Prepare(&ctx, Bearer(suite.operator_key, "lahti"), std::chrono::seconds(60));
  ledger_v1::WatchEntriesRequest watch;
  watch.set_after_sequence(head);
  std::unique_ptr<grpc::ClientReader<ledger_v1::Entry>> feed = stub->WatchEntries(&ctx, watch);

  // After the feed is open: an entry of another organisation (which must not show up) and one of
  // lahti's (which must).
  REQUIRE_CODE(
      Call(*stub, &LedgerStub::PostEntry, Sale(Unique("feed-vaasa"), "feed vaasa", source, 300),
           Bearer(suite.operator_key, "vaasa")),
      grpc::StatusCode::OK);
  REQUIRE_CODE(
      Call(*stub, &LedgerStub::PostEntry, Sale(Unique("feed-phhyky"), "feed phhyky", source, 301),
           Bearer(suite.operator_key, "phhyky")),
      grpc::StatusCode::OK);
  ledger_v1::PostEntryResponse posted;
  REQUIRE_CODE(
      Call(*stub, &LedgerStub::PostEntry, Sale(Unique("feed-lahti"), "feed lahti", source, 302),
           Bearer(suite.operator_key, "lahti"), &posted),
      grpc::StatusCode::OK);
  REQUIRE(posted.entry().sequence() == head + 1);

  ledger_v1::Entry entry;
  REQUIRE(feed->Read(&entry));
  REQUIRE(entry.sequence() == head + 1);
  REQUIRE(entry.description() == "feed lahti");
  REQUIRE(entry.source().system() == source);
  REQUIRE(entry.hash() == posted.entry().hash());

  ctx.TryCancel();
  while (feed->Read(&entry)) {
    FAIL("unexpected entry " << entry.sequence() << " " << entry.description());
  }
  REQUIRE_CODE(feed->Finish(), grpc::StatusCode::CANCELLED);
}

TEST_CASE(
    "e2e gateway 7b: payroll through the gateway: bad input is INVALID_ARGUMENT naming the field "
    "and writes nothing, master data needs payroll.admin",
    "[e2e]") {
  namespace pay = ::tahe::payroll::v1;
  using PayStub = pay::PayrollService::Stub;
  auto payroll = pay::PayrollService::NewStub(GatewayChannel());
  const std::string tenant = "seinajoki";
  const Headers op = Bearer(TheSuite().operator_key, tenant);
  auto employee = [&](const std::string& number) {
    pay::UpsertEmployeeRequest req;
    req.set_request_id(Unique("e2e-emp-" + number));
    pay::Employee* e = req.mutable_employee();
    e->set_employee_number(number);
    e->set_first_name("Aino");
    e->set_last_name("Virtanen");
    e->set_personal_identity_code("150680-1234");
    e->set_iban("FI2112345600000785");
    pay::Employment* job = e->mutable_employment();
    job->set_start_date("2020-01-01");
    job->set_cost_centre("100");
    job->set_salary_basis(pay::SALARY_BASIS_MONTHLY);
    job->set_monthly_salary_minor(350000);
    job->set_pension_scheme(pay::PENSION_SCHEME_KEVA);
    return req;
  };
  auto employees_stored = [&] {
    pay::ListEmployeesResponse list;
    REQUIRE_CODE(Call(*payroll, &PayStub::ListEmployees, pay::ListEmployeesRequest(), op, &list),
                 grpc::StatusCode::OK);
    return list.employees_size();
  };
  const int before = employees_stored();
  auto refused_naming = [&](const grpc::Status& status, const std::string& field) {
    INFO(status.error_message());
    CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(absl::StartsWith(status.error_message(), field));
  };

  pay::UpsertEmployeeRequest bad_code = employee(Unique("bad-code"));
  bad_code.mutable_employee()->set_personal_identity_code("150680-1235");
  pay::Employee out;
  grpc::Status status = Call(*payroll, &PayStub::UpsertEmployee, bad_code, op, &out);
  refused_naming(status, "employee.personal_identity_code");
  CHECK_FALSE(absl::StrContains(status.error_message(), "150680"));

  pay::UpsertEmployeeRequest bad_iban = employee(Unique("bad-iban"));
  bad_iban.mutable_employee()->set_iban("FI2112345600000786");
  refused_naming(Call(*payroll, &PayStub::UpsertEmployee, bad_iban, op, &out), "employee.iban");

  pay::UpsertEmployeeRequest no_cost_centre = employee(Unique("no-cc"));
  no_cost_centre.mutable_employee()->mutable_employment()->clear_cost_centre();
  refused_naming(Call(*payroll, &PayStub::UpsertEmployee, no_cost_centre, op, &out),
                 "employee.employment.cost_centre");
  CHECK(employees_stored() == before);

  // A key with payroll.run only may not change master data; payroll.admin may.
  admin_v1::IssueApiKeyResponse runner = IssueKey("payroll-runner", {"payroll.run"}, {tenant});
  const std::string number = Unique("E");
  CHECK(Call(*payroll, &PayStub::UpsertEmployee, employee(number), Bearer(runner.api_key()), &out)
            .error_code() == grpc::StatusCode::PERMISSION_DENIED);
  CHECK(employees_stored() == before);
  REQUIRE_CODE(Call(*payroll, &PayStub::UpsertEmployee, employee(number), op, &out),
               grpc::StatusCode::OK);
  CHECK(out.personal_identity_code().empty());
  CHECK(out.birth_date() == "1980-06-15");
  CHECK(employees_stored() == before + 1);

  pay::SetTaxCardRequest card;
  card.set_request_id(Unique("e2e-card"));
  card.mutable_tax_card()->set_employee_number(number);
  card.mutable_tax_card()->set_valid_from("2026-01-01");
  card.mutable_tax_card()->set_base_rate_ppm(1'500'000);
  pay::TaxCard card_out;
  refused_naming(Call(*payroll, &PayStub::SetTaxCard, card, op, &card_out),
                 "tax_card.base_rate_ppm");

  // One bad item refuses the whole request: nothing of it is stored.
  pay::AddPayItemsRequest items;
  items.set_request_id(Unique("e2e-items"));
  pay::PayItem* good = items.add_items();
  good->set_item_id(Unique("ok"));
  good->set_employee_number(number);
  good->set_period("2026-11");
  good->set_kind(pay::PAY_ITEM_KIND_MEAL_BENEFIT);
  good->set_amount_minor(15000);
  pay::PayItem* bad = items.add_items();
  *bad = *good;
  bad->set_item_id(Unique("overtime"));
  bad->set_kind(pay::PAY_ITEM_KIND_OVERTIME_50);  // overtime needs quantity x rate
  pay::AddPayItemsResponse added;
  refused_naming(Call(*payroll, &PayStub::AddPayItems, items, op, &added),
                 "items[1].quantity_centi");
  pay::ListPayItemsRequest list_items;
  list_items.set_employee_number(number);
  pay::ListPayItemsResponse stored;
  REQUIRE_CODE(Call(*payroll, &PayStub::ListPayItems, list_items, op, &stored),
               grpc::StatusCode::OK);
  CHECK(stored.items_size() == 0);
}

// Destructive: leaves the pohjanmaa cell without its ledger. Must stay the last test case.
TEST_CASE(
    "e2e gateway 8: a backend killed mid-call yields UNAVAILABLE and the gateway keeps serving "
    "other organisations",
    "[e2e]") {
  const Suite& suite = TheSuite();
  const std::string pid_file = suite.local_dir + "/run/ledger-pohjanmaa.pid";
  const pid_t pid = static_cast<pid_t>(std::stol(ReadFileTrimmed(pid_file)));
  REQUIRE(pid > 1);
  // Make sure the pid is the pohjanmaa ledger of this suite before killing it.
  const std::string cmdline = [&] {
    std::string s = ReadFileTrimmed(absl::StrCat("/proc/", pid, "/cmdline"));
    for (char& c : s) {
      if (c == '\0') {
        c = ' ';
      }
    }
    return s;
  }();
  INFO("pid " << pid << ": " << cmdline);
  REQUIRE(absl::StrContains(cmdline, "tahe_ledger"));
  REQUIRE(absl::StrContains(cmdline, suite.ledger_addr.at(kPohjanmaa)));

  auto stub = Gateway();
  const int64_t head = HeadSequence("vaasa");
  REQUIRE(head > 0);

  // A change feed of vaasa through the gateway, live end to end: it delivers the last entry, then
  // waits for more.
  grpc::ClientContext ctx;
  Prepare(&ctx, Bearer(suite.operator_key, "vaasa"), std::chrono::seconds(120));
  ledger_v1::WatchEntriesRequest watch;
  watch.set_after_sequence(head - 1);
  std::unique_ptr<grpc::ClientReader<ledger_v1::Entry>> feed = stub->WatchEntries(&ctx, watch);
  ledger_v1::Entry entry;
  REQUIRE(feed->Read(&entry));
  REQUIRE(entry.sequence() == head);

  REQUIRE(kill(pid, SIGKILL) == 0);
  const Clock::time_point killed = Clock::now();
  while (feed->Read(&entry)) {
    FAIL("unexpected entry " << entry.sequence());
  }
  const grpc::Status ended = feed->Finish();
  const auto feed_ended_after = Clock::now() - killed;
  REQUIRE_CODE(ended, grpc::StatusCode::UNAVAILABLE);
  // Promptly: not a hang until the stream's 120 s deadline.
  REQUIRE(feed_ended_after < std::chrono::seconds(30));

  // The gateway serves the other region as before, reads and writes.
  ledger_v1::GetTrialBalanceRequest tb;
  tb.set_as_of_date("2999-12-31");
  ledger_v1::GetTrialBalanceResponse balance;
  REQUIRE_CODE(
      Call(*stub, &LedgerStub::GetTrialBalance, tb, Bearer(suite.operator_key, "lahti"), &balance),
      grpc::StatusCode::OK);
  REQUIRE(balance.total_debit_minor() == balance.total_credit_minor());
  REQUIRE(balance.total_debit_minor() > 0);
  REQUIRE_CODE(Call(*stub, &LedgerStub::PostEntry,
                    Sale(Unique("after-kill"), "after the kill", Unique("e2e-kill"), 500),
                    Bearer(suite.operator_key, "phhyky")),
               grpc::StatusCode::OK);

  // A new call for the dead cell's organisations fails fast with UNAVAILABLE (retryable), not at
  // its deadline.
  for (const char* tenant : {"vaasa", "seinajoki"}) {
    INFO(tenant);
    const Clock::time_point started = Clock::now();
    REQUIRE_CODE(Call(*stub, &LedgerStub::GetTrialBalance, tb, Bearer(suite.operator_key, tenant)),
                 grpc::StatusCode::UNAVAILABLE);
    REQUIRE(Clock::now() - started < std::chrono::seconds(10));
  }

  // And the gateway itself is still up.
  const pid_t gateway =
      static_cast<pid_t>(std::stol(ReadFileTrimmed(suite.local_dir + "/run/gateway.pid")));
  REQUIRE(kill(gateway, 0) == 0);
  REQUIRE_CODE(Call(*stub, &LedgerStub::GetTrialBalance, tb, Bearer(suite.operator_key, "lahti")),
               grpc::StatusCode::OK);
}

}  // namespace
