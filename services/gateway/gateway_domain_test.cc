// Unit tests of the gateway's pure rules: field validation (the Y-tunnus rule comes from
// libs/fi), API keys, the method -> role table, the routing snapshot and the token
// bucket under a fake clock.

#include "services/gateway/gateway_domain.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace tahe::gateway {
namespace {

using Catch::Matchers::Contains;

// The Y-tunnus rule itself is tested in libs/fi/business_id_test.cc; this checks that the
// directory's validation is that rule.
TEST_CASE("Y-tunnus: the gateway validates business IDs with libs/fi", "[business_id]") {
  CHECK(IsValidBusinessId("2077474-0"));
  CHECK_FALSE(IsValidBusinessId("2077474-1"));
  absl::Status status = ValidateBusinessId("organisation.business_id", "2077474-1");
  CHECK(status.code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(status.message()), Contains("organisation.business_id"));
  CHECK(ValidateBusinessId("business_id", "").code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("slugs: lower-case letters, digits and dashes, 1-63 characters", "[slug]") {
  for (const char* good : {"lahti", "phhyky", "paijat-hame", "a", "0", "x1-2-3",
                           "abcdefghijklmnopqrstuvwxyz0123456789-abcdefghijklmnopqrstuvwxyz"}) {
    INFO(good);
    CHECK(IsValidSlug(good));
  }
  for (const char* bad : {"", "-lahti", "Lahti", "lah ti", "lahti_", "lähti", "la/hti", "lahti.",
                          "abcdefghijklmnopqrstuvwxyz0123456789-abcdefghijklmnopqrstuvwxyz0"}) {
    INFO(bad);
    CHECK_FALSE(IsValidSlug(bad));
  }
  absl::Status status = ValidateSlug("organisation.slug", "Bad");
  CHECK(status.code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(status.message()), Contains("organisation.slug"));
}

TEST_CASE("service prefixes and upstream addresses", "[routing]") {
  CHECK(IsValidServicePrefix("tahe.ledger.v1"));
  CHECK(IsValidServicePrefix("tahe.ledger.v1.LedgerService"));
  CHECK(IsValidServicePrefix("tahe"));
  CHECK_FALSE(IsValidServicePrefix(""));
  CHECK_FALSE(IsValidServicePrefix("tahe..v1"));
  CHECK_FALSE(IsValidServicePrefix(".tahe"));
  CHECK_FALSE(IsValidServicePrefix("tahe.ledger.v1."));
  CHECK_FALSE(IsValidServicePrefix("tahe/ledger"));
  CHECK_FALSE(IsValidServicePrefix("1tahe"));

  for (const char* good : {"127.0.0.1:50051", "localhost:1", "ledger.cell-a.svc:65535",
                           "[::1]:50051", "dns:///ledger:50051", "dns:ledger:50051",
                           "unix:/run/tahe/ledger.sock", "ipv4:10.0.0.1:1,10.0.0.2:2"}) {
    INFO(good);
    CHECK(IsValidUpstreamAddress(good));
  }
  for (const char* bad : {"", "127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", ":50051",
                          "host name:1", "unix:", "dns:///", "[]:1", "host:port"}) {
    INFO(bad);
    CHECK_FALSE(IsValidUpstreamAddress(bad));
  }
}

TEST_CASE("roles: the fixed set", "[roles]") {
  CHECK(KnownRoles() == std::vector<std::string>{"admin", "invoicing.write", "ledger.read",
                                                 "ledger.write", "payroll.admin", "payroll.run",
                                                 "reports.read", "reports.write"});
  CHECK(IsKnownRole("ledger.read"));
  CHECK_FALSE(IsKnownRole("ledger"));
  CHECK_FALSE(IsKnownRole("Admin"));
  CHECK_FALSE(IsKnownRole(""));
}

TEST_CASE("required role of each method", "[roles]") {
  struct Row {
    const char* method;
    const char* role;
  };
  const Row table[] = {
      {"/tahe.ledger.v1.LedgerService/GetEntry", "ledger.read"},
      {"/tahe.ledger.v1.LedgerService/ListAccounts", "ledger.read"},
      {"/tahe.ledger.v1.LedgerService/ListEntries", "ledger.read"},
      {"/tahe.ledger.v1.LedgerService/GetTrialBalance", "ledger.read"},
      {"/tahe.ledger.v1.LedgerService/VerifyChain", "ledger.read"},
      {"/tahe.ledger.v1.LedgerService/WatchEntries", "ledger.read"},
      {"/tahe.ledger.v1.LedgerService/PostEntry", "ledger.write"},
      {"/tahe.ledger.v1.LedgerService/PostEntries", "ledger.write"},
      {"/tahe.ledger.v1.LedgerService/CreateAccount", "ledger.write"},
      {"/tahe.ledger.v1.LedgerService/ClosePeriod", "ledger.write"},
      {"/tahe.ledger.v1.LedgerService/ReverseEntry", "ledger.write"},
      {"/tahe.ledger.v1.LedgerService/LoadChartTemplate", "ledger.write"},
      // A read prefix must be a whole word: these are writes.
      {"/tahe.ledger.v1.LedgerService/Getaway", "ledger.write"},
      {"/tahe.ledger.v1.LedgerService/Listen", "ledger.write"},
      {"/tahe.ledger.v1.LedgerService/Get", "ledger.write"},
      // Any service of the package.
      {"/tahe.ledger.v1.OtherService/GetThing", "ledger.read"},
      {"tahe.ledger.v1.LedgerService/GetEntry", "ledger.read"},  // no leading slash
      {"/tahe.reporting.v1.ReportingService/GetIncomeStatement", "reports.read"},
      {"/tahe.reporting.v1.ReportingService/ExportReport", "reports.read"},
      // Budgets and the statement mapping change what every report says.
      {"/tahe.reporting.v1.ReportingService/UploadBudget", "reports.write"},
      {"/tahe.reporting.v1.ReportingService/SetStatementMapping", "reports.write"},
      {"/tahe.gateway.v1.AdminService/ListRegions", "admin"},
      {"/tahe.gateway.v1.AdminService/IssueApiKey", "admin"},
      // Payroll: runs, items and reads need payroll.run; master data payroll.admin; the cell's
      // statutory rate tables the operator's admin.
      {"/tahe.payroll.v1.PayrollService/CreatePayRun", "payroll.run"},
      {"/tahe.payroll.v1.PayrollService/ApprovePayRun", "payroll.run"},
      {"/tahe.payroll.v1.PayrollService/GetEmployee", "payroll.run"},
      {"/tahe.payroll.v1.PayrollService/UpsertEmployee", "payroll.admin"},
      {"tahe.payroll.v1.PayrollService/SetTaxCard", "payroll.admin"},
      {"/tahe.payroll.v1.PayrollService/ImportEmployees", "payroll.admin"},
      {"/tahe.payroll.v1.PayrollService/SetPayrollSettings", "payroll.admin"},
      {"/tahe.payroll.v1.PayrollService/LoadRateTable", "admin"},
      // Invoicing: one role for the billing team, reads included.
      {"/tahe.invoicing.v1.InvoicingService/IssueInvoice", "invoicing.write"},
      {"/tahe.invoicing.v1.InvoicingService/GetInvoice", "invoicing.write"},
      {"/tahe.invoicing.v1.InvoicingService/ImportPayments", "invoicing.write"},
      // The cell's reference rates: the operator's admin role; reading them is a read.
      {"/tahe.invoicing.v1.InvoicingService/SetReferenceRate", "admin"},
      {"/tahe.invoicing.v1.InvoicingService/ListReferenceRates", "invoicing.write"},
  };
  for (const Row& row : table) {
    INFO(row.method);
    absl::StatusOr<std::string> role = RequiredRole(row.method);
    REQUIRE(role.ok());
    CHECK(*role == row.role);
  }
}

TEST_CASE("methods for the services of a cell are refused to every key", "[roles]") {
  absl::StatusOr<std::string> role = RequiredRole("/tahe.ledger.v1.LedgerService/ListFeedTenants");
  REQUIRE(role.status().code() == absl::StatusCode::kPermissionDenied);
  CHECK(role.status().message().find("services of a cell only") != std::string::npos);
  // Its neighbours keep their ordinary roles.
  CHECK(*RequiredRole("/tahe.ledger.v1.LedgerService/ListEntries") == "ledger.read");
}

TEST_CASE("region methods need a key of the organisation's region", "[roles]") {
  RoutingSnapshot snapshot;
  snapshot.organisation_region = {{"lahti", "paijat-hame"}, {"vaasa", "pohjanmaa"}};
  KeyEntry operator_key{
      .key_id = "aaaaaaaaaaaa", .roles = {"reports.read"}, .regions = {"paijat-hame"}};
  KeyEntry org_key{.key_id = "bbbbbbbbbbbb", .roles = {"reports.read"}, .organisations = {"lahti"}};
  const char* regional = "/tahe.reporting.v1.ReportingService/GetRegionalReport";
  const char* ordinary = "/tahe.reporting.v1.ReportingService/GetTrialBalance";
  CHECK(IsRegionMethod(regional));
  CHECK_FALSE(IsRegionMethod(ordinary));
  CHECK_FALSE(IsRegionMethod("not a method"));
  CHECK(CheckRegionScope(snapshot, operator_key, regional, "lahti").ok());
  // Another region's organisation, an organisation's own key, an unknown organisation.
  CHECK(CheckRegionScope(snapshot, operator_key, regional, "vaasa").code() ==
        absl::StatusCode::kPermissionDenied);
  CHECK(CheckRegionScope(snapshot, org_key, regional, "lahti").code() ==
        absl::StatusCode::kPermissionDenied);
  CHECK(CheckRegionScope(snapshot, operator_key, regional, "nobody").code() ==
        absl::StatusCode::kPermissionDenied);
  // Ordinary methods are the tenant check's business only.
  CHECK(CheckRegionScope(snapshot, org_key, ordinary, "lahti").ok());
}

TEST_CASE("unknown services are denied, malformed methods refused", "[roles]") {
  for (const char* method :
       {"/tahe.invoicing.v2.InvoicingService/IssueInvoice", "/grpc.health.v1.Health/Check",
        "/tahe.ledger.v2.LedgerService/GetEntry", "/tahe.ledger.v10.LedgerService/GetEntry",
        "/tahe.gateway.v1.OtherService/ListRegions", "/tahe.ledger.v1x.S/GetEntry"}) {
    INFO(method);
    CHECK(RequiredRole(method).status().code() == absl::StatusCode::kPermissionDenied);
  }
  for (const char* method : {"", "/", "//", "/tahe.ledger.v1.LedgerService", "/a/b/c",
                             "/tahe.ledger.v1.LedgerService/"}) {
    INFO(method);
    CHECK(RequiredRole(method).status().code() == absl::StatusCode::kInvalidArgument);
  }
  CHECK(ServiceOf("/tahe.ledger.v1.LedgerService/GetEntry") == "tahe.ledger.v1.LedgerService");
}

TEST_CASE("API keys: generated keys have the documented format and verify", "[keys]") {
  absl::StatusOr<GeneratedApiKey> key = GenerateApiKey();
  REQUIRE(key.ok());
  CHECK(key->key_id.size() == 12);
  CHECK(key->token.size() == 5 + 12 + 1 + 64);
  CHECK(key->token.rfind("tahe_" + key->key_id + "_", 0) == 0);
  CHECK(key->hash.size() == 32);
  CHECK(key->token.find(key->hash) == std::string::npos);

  absl::StatusOr<ApiKeyToken> parsed = ParseApiKey(key->token);
  REQUIRE(parsed.ok());
  CHECK(parsed->key_id == key->key_id);
  CHECK(parsed->secret.size() == 64);
  CHECK(HashApiKey(parsed->key_id, parsed->secret) == key->hash);
  CHECK(VerifyApiKey(*parsed, key->hash));

  // One flipped secret character, another key id, a truncated hash: all refused.
  ApiKeyToken wrong = *parsed;
  wrong.secret[0] = wrong.secret[0] == 'a' ? 'b' : 'a';
  CHECK_FALSE(VerifyApiKey(wrong, key->hash));
  ApiKeyToken other_id = *parsed;
  other_id.key_id[0] = other_id.key_id[0] == 'a' ? 'b' : 'a';
  CHECK_FALSE(VerifyApiKey(other_id, key->hash));
  CHECK_FALSE(VerifyApiKey(*parsed, key->hash.substr(0, 31)));
  CHECK_FALSE(VerifyApiKey(*parsed, ""));
}

TEST_CASE("API keys: generation draws fresh randomness every time", "[keys]") {
  std::set<std::string> ids, tokens;
  for (int i = 0; i < 200; ++i) {
    absl::StatusOr<GeneratedApiKey> key = GenerateApiKey();
    REQUIRE(key.ok());
    ids.insert(key->key_id);
    tokens.insert(key->token);
  }
  CHECK(ids.size() == 200);
  CHECK(tokens.size() == 200);
}

TEST_CASE("API keys: the hash is SHA-256 over prefix, key id and secret", "[keys]") {
  // Pinned so a change of the scheme (which would lock out every issued key) cannot go unnoticed.
  // python3 -c "import hashlib; print(hashlib.sha256(
  //     b'tahe-api-key-v1\x00' + b'0123456789ab' + b'\x00' + b'f' * 64).hexdigest())"
  std::string hash = HashApiKey("0123456789ab", std::string(64, 'f'));
  CHECK(absl::BytesToHexString(hash) ==
        "8a2c32160e6097244ff9d226c148af251aef791635657d3c225d6a72bd51cbcc");
  CHECK(HashApiKey("0123456789ac", std::string(64, 'f')) != hash);
}

TEST_CASE("API keys: malformed keys are UNAUTHENTICATED without echoing them", "[keys]") {
  const std::string id = "0123456789ab";
  const std::string secret(64, 'e');
  CHECK(ParseApiKey("tahe_" + id + "_" + secret).ok());
  for (const std::string& bad : std::vector<std::string>{
           "",
           "tahe_" + id + "_" + secret.substr(1),            // short secret
           "tahe_" + id + "_" + secret + "e",                // long secret
           "tahe_" + id.substr(1) + "_" + secret + "e",      // short id
           "TAHE_" + id + "_" + secret,                      // prefix case
           "tahe-" + id + "_" + secret,                      // separator
           "tahe_" + id + "-" + secret,                      // separator
           "tahe_0123456789AB_" + secret,                    // upper-case hex
           "tahe_" + id + "_" + std::string(63, 'e') + "g",  // not hex
           "tahe_" + id + "_" + std::string(63, 'e') + " ",
       }) {
    INFO(bad);
    absl::StatusOr<ApiKeyToken> parsed = ParseApiKey(bad);
    CHECK(parsed.status().code() == absl::StatusCode::kUnauthenticated);
    if (!bad.empty()) {
      CHECK(std::string(parsed.status().message()).find(bad) == std::string::npos);
    }
  }
}

TEST_CASE("authorization header: Bearer scheme", "[keys]") {
  const std::string key = "tahe_0123456789ab_" + std::string(64, '7');
  for (const std::string& good :
       std::vector<std::string>{"Bearer " + key, "bearer " + key, "BEARER " + key,
                                "Bearer    " + key, "  Bearer " + key + " "}) {
    INFO(good);
    absl::StatusOr<ApiKeyToken> parsed = ParseAuthorization(good);
    REQUIRE(parsed.ok());
    CHECK(parsed->key_id == "0123456789ab");
    CHECK(parsed->secret == std::string(64, '7'));
  }
  for (const std::string& bad :
       std::vector<std::string>{"", "   ", key, "Basic " + key, "Bearer", "Bearer ", "Bearer" + key,
                                "Bearer " + key + " x", "Token " + key}) {
    INFO(bad);
    CHECK(ParseAuthorization(bad).status().code() == absl::StatusCode::kUnauthenticated);
  }
  CHECK_THAT(std::string(ParseAuthorization("").status().message()), Contains("missing"));
}

// Two regions, three organisations, keys of each kind.
struct SnapshotFixture {
  RoutingSnapshot snapshot;
  std::string lahti_token, multi_token, operator_token, revoked_token, admin_token;

  std::string AddKey(std::vector<std::string> roles, std::vector<std::string> orgs,
                     std::vector<std::string> regions, bool revoked = false) {
    GeneratedApiKey key = *GenerateApiKey();
    KeyEntry entry{key.key_id, key.hash, roles, orgs, regions, revoked};
    snapshot.keys[key.key_id] = entry;
    return key.token;
  }

  SnapshotFixture() {
    snapshot.region_services["paijat-hame"] = {{"tahe.ledger.v1", "10.0.0.1:50051"},
                                               {"tahe.ledger.v1.Special", "10.0.0.1:50099"},
                                               {"tahe", "10.0.0.1:50000"}};
    snapshot.region_services["pohjanmaa"] = {{"tahe.ledger.v1", "10.0.1.1:50051"}};
    snapshot.region_services["empty"] = {};
    snapshot.organisation_region = {{"lahti", "paijat-hame"},
                                    {"phhyky", "paijat-hame"},
                                    {"vaasa", "pohjanmaa"},
                                    {"lonely", "empty"}};
    lahti_token = AddKey({"ledger.read"}, {"lahti"}, {});
    multi_token = AddKey({"ledger.read", "ledger.write"}, {"lahti", "vaasa"}, {});
    operator_token = AddKey({"admin", "ledger.read"}, {}, {"paijat-hame"});
    revoked_token = AddKey({"ledger.read"}, {"lahti"}, {}, true);
    admin_token = AddKey({"admin"}, {}, {});
  }
};

TEST_CASE("snapshot: authentication", "[snapshot]") {
  SnapshotFixture f;
  absl::StatusOr<const KeyEntry*> key = f.snapshot.Authenticate("Bearer " + f.lahti_token);
  REQUIRE(key.ok());
  CHECK((*key)->organisations == std::vector<std::string>{"lahti"});

  absl::StatusOr<const KeyEntry*> revoked = f.snapshot.Authenticate("Bearer " + f.revoked_token);
  CHECK(revoked.status().code() == absl::StatusCode::kUnauthenticated);
  CHECK_THAT(std::string(revoked.status().message()), Contains("revoked"));

  // Right key id, wrong secret; unknown key id: the same answer.
  std::string wrong_secret = f.lahti_token;
  wrong_secret.back() = wrong_secret.back() == '0' ? '1' : '0';
  std::string unknown = "tahe_ffffffffffff_" + std::string(64, '0');
  absl::Status a = f.snapshot.Authenticate("Bearer " + wrong_secret).status();
  absl::Status b = f.snapshot.Authenticate("Bearer " + unknown).status();
  CHECK(a.code() == absl::StatusCode::kUnauthenticated);
  CHECK(a == b);
  CHECK(f.snapshot.Authenticate("").status().code() == absl::StatusCode::kUnauthenticated);
}

TEST_CASE("snapshot: roles", "[snapshot]") {
  SnapshotFixture f;
  const KeyEntry* reader = *f.snapshot.Authenticate("Bearer " + f.lahti_token);
  CHECK(CheckRole(*reader, "ledger.read").ok());
  CHECK(CheckRole(*reader, "ledger.write").code() == absl::StatusCode::kPermissionDenied);
  CHECK(CheckRole(*reader, "admin").code() == absl::StatusCode::kPermissionDenied);
}

TEST_CASE("snapshot: tenant resolution", "[snapshot]") {
  SnapshotFixture f;
  const KeyEntry& single = *(*f.snapshot.Authenticate("Bearer " + f.lahti_token));
  const KeyEntry& multi = *(*f.snapshot.Authenticate("Bearer " + f.multi_token));
  const KeyEntry& op = *(*f.snapshot.Authenticate("Bearer " + f.operator_token));
  const KeyEntry& admin = *(*f.snapshot.Authenticate("Bearer " + f.admin_token));
  auto code = [](const absl::StatusOr<std::string>& s) { return s.status().code(); };

  // One organisation: implied, or named.
  CHECK(*f.snapshot.ResolveTenant(single, "") == "lahti");
  CHECK(*f.snapshot.ResolveTenant(single, "lahti") == "lahti");
  CHECK(code(f.snapshot.ResolveTenant(single, "vaasa")) == absl::StatusCode::kPermissionDenied);
  CHECK(code(f.snapshot.ResolveTenant(single, "phhyky")) == absl::StatusCode::kPermissionDenied);

  // Several: the header must name one of them.
  CHECK(code(f.snapshot.ResolveTenant(multi, "")) == absl::StatusCode::kInvalidArgument);
  CHECK(*f.snapshot.ResolveTenant(multi, "vaasa") == "vaasa");
  CHECK(code(f.snapshot.ResolveTenant(multi, "phhyky")) == absl::StatusCode::kPermissionDenied);

  // Operator key of a region: any organisation of it, none of another, none unknown.
  CHECK(*f.snapshot.ResolveTenant(op, "phhyky") == "phhyky");
  CHECK(*f.snapshot.ResolveTenant(op, "lahti") == "lahti");
  CHECK(code(f.snapshot.ResolveTenant(op, "vaasa")) == absl::StatusCode::kPermissionDenied);
  CHECK(code(f.snapshot.ResolveTenant(op, "nosuch")) == absl::StatusCode::kPermissionDenied);
  CHECK(code(f.snapshot.ResolveTenant(op, "")) == absl::StatusCode::kInvalidArgument);

  // An admin-only key acts for no organisation.
  CHECK(code(f.snapshot.ResolveTenant(admin, "lahti")) == absl::StatusCode::kPermissionDenied);
}

TEST_CASE("snapshot: upstream by longest service prefix", "[snapshot]") {
  SnapshotFixture f;
  CHECK(*f.snapshot.UpstreamFor("lahti", "/tahe.ledger.v1.LedgerService/GetEntry") ==
        "10.0.0.1:50051");
  CHECK(*f.snapshot.UpstreamFor("lahti", "/tahe.ledger.v1.Special/GetEntry") == "10.0.0.1:50099");
  CHECK(*f.snapshot.UpstreamFor("lahti", "/tahe.payroll.v1.PayrollService/Run") ==
        "10.0.0.1:50000");
  // "tahe.ledger.v1" must not match "tahe.ledger.v10".
  CHECK(*f.snapshot.UpstreamFor("lahti", "/tahe.ledger.v10.LedgerService/GetEntry") ==
        "10.0.0.1:50000");
  CHECK(*f.snapshot.UpstreamFor("vaasa", "/tahe.ledger.v1.LedgerService/GetEntry") ==
        "10.0.1.1:50051");
  CHECK(f.snapshot.UpstreamFor("vaasa", "/tahe.payroll.v1.PayrollService/Run").status().code() ==
        absl::StatusCode::kUnimplemented);
  CHECK(
      f.snapshot.UpstreamFor("lonely", "/tahe.ledger.v1.LedgerService/GetEntry").status().code() ==
      absl::StatusCode::kUnimplemented);
  CHECK(
      f.snapshot.UpstreamFor("nosuch", "/tahe.ledger.v1.LedgerService/GetEntry").status().code() ==
      absl::StatusCode::kNotFound);
}

// A clock the test moves by hand.
struct FakeClock {
  absl::Time now = absl::FromUnixSeconds(1'700'000'000);
  TokenBucketLimiter::Clock AsClock() {
    return [this] { return now; };
  }
};

TEST_CASE("token bucket: burst, refill at the rate, cap at the burst", "[ratelimit]") {
  FakeClock clock;
  TokenBucketLimiter limiter({.rate_per_second = 10, .burst = 5}, clock.AsClock());
  for (int i = 0; i < 5; ++i) {
    CHECK(limiter.TryAcquire("lahti"));
  }
  CHECK_FALSE(limiter.TryAcquire("lahti"));
  CHECK(limiter.Available("lahti") == Approx(0));

  clock.now += absl::Milliseconds(100);  // one token
  CHECK(limiter.TryAcquire("lahti"));
  CHECK_FALSE(limiter.TryAcquire("lahti"));

  clock.now += absl::Milliseconds(250);  // 2.5 tokens
  CHECK(limiter.TryAcquire("lahti"));
  CHECK(limiter.TryAcquire("lahti"));
  CHECK_FALSE(limiter.TryAcquire("lahti"));
  CHECK(limiter.Available("lahti") == Approx(0.5));

  clock.now += absl::Hours(1);  // capped at the burst
  CHECK(limiter.Available("lahti") == Approx(5));
  int granted = 0;
  while (limiter.TryAcquire("lahti")) {
    ++granted;
  }
  CHECK(granted == 5);
}

TEST_CASE("token bucket: organisations have separate buckets", "[ratelimit]") {
  FakeClock clock;
  TokenBucketLimiter limiter({.rate_per_second = 1, .burst = 2}, clock.AsClock());
  CHECK(limiter.TryAcquire("lahti"));
  CHECK(limiter.TryAcquire("lahti"));
  CHECK_FALSE(limiter.TryAcquire("lahti"));
  CHECK(limiter.TryAcquire("vaasa"));
  CHECK(limiter.TryAcquire("vaasa"));
  CHECK_FALSE(limiter.TryAcquire("vaasa"));
}

TEST_CASE("token bucket: a cost larger than the tokens takes nothing", "[ratelimit]") {
  FakeClock clock;
  TokenBucketLimiter limiter({.rate_per_second = 1, .burst = 3}, clock.AsClock());
  CHECK_FALSE(limiter.TryAcquire("lahti", 4));
  CHECK(limiter.Available("lahti") == Approx(3));
  CHECK(limiter.TryAcquire("lahti", 3));
  CHECK(limiter.Available("lahti") == Approx(0));
}

TEST_CASE("token bucket: a clock stepping back adds nothing", "[ratelimit]") {
  FakeClock clock;
  TokenBucketLimiter limiter({.rate_per_second = 10, .burst = 1}, clock.AsClock());
  CHECK(limiter.TryAcquire("lahti"));
  clock.now -= absl::Seconds(10);
  CHECK_FALSE(limiter.TryAcquire("lahti"));
  clock.now += absl::Seconds(10) + absl::Milliseconds(100);
  CHECK(limiter.TryAcquire("lahti"));
}

TEST_CASE("token bucket: rate <= 0 is unlimited", "[ratelimit]") {
  TokenBucketLimiter limiter({.rate_per_second = 0, .burst = 1});
  for (int i = 0; i < 1000; ++i) {
    REQUIRE(limiter.TryAcquire("lahti"));
  }
}

TEST_CASE("token bucket: concurrent callers never get more than the burst", "[ratelimit]") {
  FakeClock clock;  // frozen: no refill while the threads run
  TokenBucketLimiter limiter({.rate_per_second = 1, .burst = 1000}, clock.AsClock());
  std::atomic<int> granted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 500; ++i) {
        if (limiter.TryAcquire("lahti")) {
          granted.fetch_add(1);
        }
        limiter.TryAcquire(absl::StrCat("other-", i % 7));
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  CHECK(granted.load() == 1000);
}

}  // namespace
}  // namespace tahe::gateway
