// tahectl commands run in-process against in-process gRPC servers: the standard health service,
// a fake ledger (fake_ledger.h) and a fake gateway AdminService (fake_admin.h) on one port. Checks
// exit codes, output, the metadata sent (API key, tenant, internal token), --json, key files and
// idempotent seeding.
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <sys/stat.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/util/json_util.h"
#include "tools/tahectl/cli.h"
#include "tools/tahectl/client.h"
#include "tools/tahectl/fake_admin.h"
#include "tools/tahectl/fake_ledger.h"
#include "tools/tahectl/health.h"
#include "tools/tahectl/seed_demo.h"

namespace tahe::tahectl {
namespace {

namespace v1 = ::tahe::ledger::v1;
namespace gw = ::tahe::gateway::v1;

constexpr char kToken[] = "0123456789abcdef";
// The operator's key (admitted by the fake ledger) and the admin key (by the fake AdminService).
constexpr char kOperatorKey[] =
    "tahe_0000000000aa_1111111111111111111111111111111111111111111111111111111111111111";
constexpr char kAdminKey[] =
    "tahe_0000000000ad_2222222222222222222222222222222222222222222222222222222222222222";

struct Result {
  int code;
  std::string out;
  std::string err;
};

// A gRPC server on a free loopback port with the default health service, a fake ledger and a
// fake AdminService: it stands for the gateway as well as for a ledger backend.
class Servers {
 public:
  Servers() {
    grpc::EnableDefaultHealthCheckService(true);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&ledger_);
    builder.RegisterService(&admin_);
    server_ = builder.BuildAndStart();
    REQUIRE(server_ != nullptr);
    REQUIRE(port > 0);
    address_ = absl::StrCat("127.0.0.1:", port);
  }
  ~Servers() { server_->Shutdown(std::chrono::system_clock::now()); }

  const std::string& address() const { return address_; }
  FakeLedger& ledger() { return ledger_; }
  FakeAdmin& admin() { return admin_; }
  grpc::Server& server() { return *server_; }

  // Runs tahectl in direct mode: TAHE_LEDGER_ADDR pointing here and the right token in the
  // environment, and no env file (TAHE_LOCAL_ENV=/dev/null keeps a developer's own
  // .tahe/local.env above the build directory out of the tests). `env` adds or overrides.
  Result Run(std::vector<std::string> args, std::map<std::string, std::string> env = {},
             const std::string& stdin_text = "") {
    env.emplace("TAHE_LEDGER_ADDR", address_);
    env.emplace("TAHE_INTERNAL_TOKEN", kToken);
    env.emplace("TAHE_LOCAL_ENV", "/dev/null");
    return RunWith(std::move(args), std::move(env), "", stdin_text);
  }

  // Runs tahectl as an operator would through the gateway: TAHE_GATEWAY_ADDR and TAHE_API_KEY,
  // and TAHE_INTERNAL_TOKEN still in the environment (it must not be sent with a key).
  Result RunWithKey(std::vector<std::string> args, const std::string& key,
                    std::map<std::string, std::string> env = {}) {
    env.emplace("TAHE_GATEWAY_ADDR", address_);
    env.emplace("TAHE_API_KEY", key);
    env.emplace("TAHE_INTERNAL_TOKEN", kToken);
    env.emplace("TAHE_LOCAL_ENV", "/dev/null");
    return RunWith(std::move(args), std::move(env), "", "");
  }

  // Runs tahectl with exactly `env`, from `working_directory`.
  static Result RunWith(std::vector<std::string> args, std::map<std::string, std::string> env,
                        const std::string& working_directory, const std::string& stdin_text) {
    std::ostringstream out;
    std::ostringstream err;
    std::istringstream in(stdin_text);
    const RunEnvironment environment{[&env](absl::string_view name) -> std::optional<std::string> {
                                       auto it = env.find(std::string(name));
                                       if (it == env.end()) {
                                         return std::nullopt;
                                       }
                                       return it->second;
                                     },
                                     working_directory, &in};
    const int code = RunTahectl(args, environment, out, err);
    return Result{code, out.str(), err.str()};
  }

 private:
  FakeLedger ledger_{kToken, kOperatorKey};
  FakeAdmin admin_{kAdminKey};
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
};

TEST_CASE("health exits 0 only when the server is SERVING") {
  Servers servers;
  Result serving = servers.Run({"health"});
  CHECK(serving.code == kExitOk);
  CHECK(serving.out == "SERVING\n");

  servers.server().GetHealthCheckService()->SetServingStatus(false);
  Result not_serving = servers.Run({"health", "--addr", servers.address()});
  CHECK(not_serving.code == kExitFailure);
  CHECK(not_serving.out == "NOT_SERVING\n");
  CHECK(not_serving.err ==
        absl::StrCat("tahectl: UNAVAILABLE: ", servers.address(), " is NOT_SERVING\n"));
}

TEST_CASE("health of an unknown service prints the gRPC code") {
  Servers servers;
  Result result = servers.Run({"health", "--service", "no.such.Service"});
  CHECK(result.code == kExitFailure);
  CHECK(result.out.empty());
  CHECK(result.err.rfind("tahectl: NOT_FOUND: Health/Check ", 0) == 0);
}

TEST_CASE("health against a port nobody listens on fails fast with UNAVAILABLE") {
  int port = 0;
  {
    // Bind a free port, then let it go: nothing listens there afterwards.
    FakeLedger ledger(kToken);
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&ledger);
    std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
    REQUIRE(server != nullptr);
    server->Shutdown();
  }
  const auto start = std::chrono::steady_clock::now();
  Result result = Servers::RunWith({"health", "--addr", absl::StrCat("127.0.0.1:", port)},
                                   {{"TAHE_LOCAL_ENV", "/dev/null"}}, "", "");
  CHECK(result.code == kExitFailure);
  CHECK(result.out.empty());
  CHECK(result.err.rfind("tahectl: UNAVAILABLE: ", 0) == 0);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
}

TEST_CASE("ledger commands send the tenant, the token and a fresh request id per call") {
  Servers servers;
  REQUIRE(servers.Run({"ledger", "load-template", "--tenant", "lahti"}).code == kExitOk);
  REQUIRE(servers.Run({"ledger", "accounts", "--tenant", "lahti"}).code == kExitOk);
  const std::vector<FakeLedger::CallRecord> calls = servers.ledger().calls();
  REQUIRE(calls.size() == 2);
  std::set<std::string> ids;
  for (const FakeLedger::CallRecord& call : calls) {
    CHECK(call.tenant == "lahti");
    CHECK(call.internal_token == kToken);
    CHECK(call.request_id_metadata.size() == 32);
    ids.insert(call.request_id_metadata);
  }
  CHECK(ids.size() == 2);
}

TEST_CASE("the token comes from --internal-token-file, else the environment") {
  Servers servers;
  Result no_token =
      servers.Run({"ledger", "accounts", "--tenant", "lahti"}, {{"TAHE_INTERNAL_TOKEN", ""}});
  CHECK(no_token.code == kExitFailure);
  // A failed call prints its gRPC code first, "tahectl: CODE: Method: message", so that scripts
  // can match the code.
  CHECK(no_token.err ==
        "tahectl: UNAUTHENTICATED: ListAccounts: missing or wrong internal token\n");

  const std::string path = "tahectl_grpc_test_token";
  {
    std::ofstream file(path);
    file << kToken << "\n";
  }
  Result from_file =
      servers.Run({"ledger", "accounts", "--tenant", "lahti", "--internal-token-file", path},
                  {{"TAHE_INTERNAL_TOKEN", "wrong"}});
  CHECK(from_file.code == kExitOk);
  Result from_env_file =
      servers.Run({"ledger", "accounts", "--tenant", "lahti"},
                  {{"TAHE_INTERNAL_TOKEN", ""}, {"TAHE_INTERNAL_TOKEN_FILE", path}});
  CHECK(from_env_file.code == kExitOk);
  std::remove(path.c_str());
}

TEST_CASE("post, trial-balance, entries and verify-chain work end to end") {
  Servers servers;
  const std::vector<std::string> tenant = {"--tenant", "lahti"};
  const auto run = [&](std::vector<std::string> args) {
    args.insert(args.end(), tenant.begin(), tenant.end());
    return servers.Run(args);
  };
  REQUIRE(run({"ledger", "load-template"}).code == kExitOk);
  REQUIRE(run({"ledger", "open-period", "2025-03"}).out == "period 2025-03: OPEN\n");

  const std::vector<std::string> post = {
      "ledger", "post",         "--date", "2025-03-05",    "--description", "Tilitys",
      "--line", "1910:1234.56", "--line", "5000:-1234.56", "--request-id",  "r-1"};
  Result posted = run(post);
  REQUIRE(posted.code == kExitOk);
  CHECK(posted.out.rfind("posted entry #1 (request id r-1)\n", 0) == 0);
  Result replayed = run(post);
  REQUIRE(replayed.code == kExitOk);
  CHECK(replayed.out.rfind("replayed entry #1 (request id r-1)\n", 0) == 0);

  std::vector<std::string> changed = post;
  changed[7] = "1910:1234.57";
  changed[9] = "5000:-1234.57";
  Result conflict = run(changed);
  CHECK(conflict.code == kExitFailure);
  CHECK(conflict.err ==
        "tahectl: ALREADY_EXISTS: PostEntry: request_id r-1 was used for "
        "another request\n");

  Result closed = run({"ledger", "post", "--date", "2025-04-01", "--description", "x", "--line",
                       "1910:1", "--line", "5000:-1"});
  CHECK(closed.code == kExitFailure);
  CHECK(closed.err == "tahectl: FAILED_PRECONDITION: PostEntry: period 2025-04 is not open\n");

  Result balance = run({"ledger", "trial-balance", "--period", "2025-03"});
  REQUIRE(balance.code == kExitOk);
  CHECK(balance.out ==
        "Trial balance of lahti, period 2025-03, in EUR\n"
        "\n"
        "Account  Name                     Type       Debit    Credit        Net\n"
        "1910     Rahat ja pankkisaamiset  ASSET   1 234.56      0.00   1 234.56\n"
        "5000     Verotulot                INCOME      0.00  1 234.56  -1 234.56\n"
        "-------  -----------------------  ------  --------  --------  ---------\n"
        "Total                                     1 234.56  1 234.56       0.00\n");

  Result entries = run({"ledger", "entries", "--period", "2025-03", "--page-size", "1"});
  REQUIRE(entries.code == kExitOk);
  CHECK(entries.out ==
        "#1  2025-03-05  Tilitys\n"
        "    source manual  request r-1  posted 2025-01-01T00:00:00Z\n"
        "    hash hash1\n"
        "    Account     Amount  Currency  Dimensions  Text\n"
        "    1910      1 234.56  EUR\n"
        "    5000     -1 234.56  EUR\n"
        "\n"
        "1 entries\n");

  Result chain = run({"ledger", "verify-chain"});
  CHECK(chain.code == kExitOk);
  CHECK(chain.out == "hash chain OK: 1 entries, head hash1\n");
}

TEST_CASE("ledger reverse posts the negated entry once and checks its operand") {
  Servers servers;
  const auto run = [&](std::vector<std::string> args) {
    args.insert(args.end(), {"--tenant", "lahti"});
    return servers.Run(args);
  };
  REQUIRE(run({"ledger", "load-template"}).code == kExitOk);
  REQUIRE(run({"ledger", "open-period", "2025-03"}).code == kExitOk);
  REQUIRE(run({"ledger", "post", "--date", "2025-03-05", "--description", "Tilitys", "--line",
               "1910:10.00", "--line", "5000:-10.00"})
              .code == kExitOk);

  Result reversed =
      run({"ledger", "reverse", "1", "--date", "2025-03-31", "--request-id", "rev-1"});
  REQUIRE(reversed.code == kExitOk);
  CHECK(reversed.out.rfind("posted reversal #2 of entry #1 (request id rev-1)\n", 0) == 0);
  CHECK(reversed.out.find("(reverses #1)") != std::string::npos);
  CHECK(reversed.out.find("1910     -10.00  EUR") != std::string::npos);
  CHECK(reversed.out.find("5000      10.00  EUR") != std::string::npos);
  CHECK(reversed.out.find("2025-03-31") != std::string::npos);
  // The same request id replays; another is refused, the entry being reversed already.
  CHECK(run({"ledger", "reverse", "1", "--date", "2025-03-31", "--request-id", "rev-1"})
            .out.rfind("replayed reversal #2", 0) == 0);
  Result again = run({"ledger", "reverse", "1"});
  CHECK(again.code == kExitFailure);
  CHECK(again.err.rfind("tahectl: FAILED_PRECONDITION: ReverseEntry: ", 0) == 0);

  Result balance = run({"ledger", "trial-balance", "--period", "2025-03"});
  REQUIRE(balance.code == kExitOk);
  // Both sides of each account, netting to zero.
  CHECK(balance.out.find("1910     Rahat ja pankkisaamiset  ASSET   10.00   10.00  0.00") !=
        std::string::npos);
  CHECK(balance.out.find("5000     Verotulot                INCOME  10.00   10.00  0.00") !=
        std::string::npos);

  for (const std::vector<std::string>& bad : {std::vector<std::string>{"ledger", "reverse"},
                                              {"ledger", "reverse", "0"},
                                              {"ledger", "reverse", "x1"},
                                              {"ledger", "reverse", "1", "--date", "31.3.2025"}}) {
    Result usage = run(bad);
    CHECK(usage.code == kExitUsage);
  }
}

TEST_CASE("entries follows page tokens to the end") {
  Servers servers;
  REQUIRE(servers.Run({"seed-demo", "--tenants", "phhyky", "--today", "2025-03-10"}).code ==
          kExitOk);
  Result entries = servers.Run({"ledger", "entries", "--tenant", "phhyky", "--page-size", "3"});
  REQUIRE(entries.code == kExitOk);
  CHECK(entries.out.find("\n10 entries\n") != std::string::npos);
  CHECK(entries.out.find("#10  2025-02-25") != std::string::npos);
}

TEST_CASE("seed-demo seeds every tenant and changes nothing when run again") {
  Servers servers;
  const std::vector<std::string> seed = {"seed-demo", "--tenants", "lahti,phhyky", "--today",
                                         "2025-11-23"};
  Result first = servers.Run(seed);
  INFO(first.err);
  REQUIRE(first.code == kExitOk);
  CHECK(first.out ==
        "lahti: chart fi-municipal (4 accounts created, 0 existing), 10 demo accounts added, "
        "periods 2025-01..2025-11 open (11 opened now), entries 2025-10: 10 posted, 0 replayed "
        "(sequences 1..10)\n"
        "phhyky: chart fi-municipal (4 accounts created, 0 existing), 10 demo accounts added, "
        "periods 2025-01..2025-11 open (11 opened now), entries 2025-10: 10 posted, 0 replayed "
        "(sequences 1..10)\n");

  for (const std::string tenant : {"lahti", "phhyky"}) {
    const std::vector<v1::Entry> entries = servers.ledger().entries(tenant);
    REQUIRE(entries.size() == 10);
    CHECK(entries.front().request_id() == absl::StrCat("demo-", tenant, "-2025-10-01"));
    CHECK(servers.ledger().periods(tenant).size() == 11);
    CHECK(servers.ledger().accounts(tenant).size() == DemoAccounts().size());
  }
  for (const FakeLedger::CallRecord& call : servers.ledger().calls()) {
    CHECK((call.tenant == "lahti" || call.tenant == "phhyky"));
    CHECK(call.internal_token == kToken);
  }

  Result second = servers.Run(seed);
  REQUIRE(second.code == kExitOk);
  CHECK(second.out ==
        "lahti: chart fi-municipal (4 accounts created, 0 existing), 0 demo accounts added, "
        "periods 2025-01..2025-11 open (0 opened now), entries 2025-10: 0 posted, 10 replayed "
        "(sequences 1..10)\n"
        "phhyky: chart fi-municipal (4 accounts created, 0 existing), 0 demo accounts added, "
        "periods 2025-01..2025-11 open (0 opened now), entries 2025-10: 0 posted, 10 replayed "
        "(sequences 1..10)\n");
  CHECK(servers.ledger().entries("lahti").size() == 10);

  // A month later the next month's entries are added and the earlier ones stay as they are.
  Result next_month = servers.Run({"seed-demo", "--tenants", "lahti", "--today", "2025-12-01"});
  REQUIRE(next_month.code == kExitOk);
  CHECK(next_month.out.find("(1 opened now), entries 2025-11: 10 posted, 0 replayed "
                            "(sequences 11..20)") != std::string::npos);
}

TEST_CASE("seed-demo stops at the first failed call and names it") {
  Servers servers;
  Result result = servers.Run({"seed-demo", "--tenants", "lahti"}, {{"TAHE_INTERNAL_TOKEN", "x"}});
  CHECK(result.code == kExitFailure);
  CHECK(result.err ==
        "tahectl: UNAUTHENTICATED: seeding lahti: LoadChartTemplate: missing or wrong internal "
        "token\n");
}

// --- Through the gateway: API keys, admin commands, --json ------------------------------------

template <typename Message>
Message ParseJson(const std::string& text) {
  Message message;
  const auto status = google::protobuf::util::JsonStringToMessage(text, &message);
  INFO(text);
  REQUIRE(status.ok());
  return message;
}

// A fresh directory under the system's temporary directory, removed at the end of the test.
class TempDir {
 public:
  TempDir()
      : path_(std::filesystem::temp_directory_path() /
              absl::StrCat("tahectl_grpc_test_", RandomHex(8))) {
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::string Write(const std::string& relative, const std::string& contents) const {
    const std::filesystem::path file = path_ / relative;
    std::filesystem::create_directories(file.parent_path());
    std::ofstream(file) << contents;
    return file.string();
  }
  std::string Path(const std::string& relative) const { return (path_ / relative).string(); }

 private:
  std::filesystem::path path_;
};

std::string ReadFile(const std::string& path) {
  std::ifstream file(path);
  std::stringstream contents;
  contents << file.rdbuf();
  return contents.str();
}

TEST_CASE("with an API key, calls carry the bearer key and the tenant but no internal token") {
  Servers servers;
  Result result = servers.RunWithKey({"ledger", "accounts", "--tenant", "lahti"}, kOperatorKey);
  INFO(result.err);
  REQUIRE(result.code == kExitOk);
  Result admin =
      servers.RunWithKey({"admin", "regions", "list"}, kAdminKey, {{"TAHE_TENANT", "lahti"}});
  INFO(admin.err);
  REQUIRE(admin.code == kExitOk);

  const std::vector<FakeLedger::CallRecord> ledger_calls = servers.ledger().calls();
  REQUIRE(ledger_calls.size() == 1);
  CHECK(ledger_calls[0].authorization == absl::StrCat("Bearer ", kOperatorKey));
  CHECK(ledger_calls[0].tenant == "lahti");
  CHECK(ledger_calls[0].internal_token.empty());
  CHECK(ledger_calls[0].request_id_metadata.size() == 32);

  const std::vector<FakeAdmin::CallRecord> admin_calls = servers.admin().calls();
  REQUIRE(admin_calls.size() == 1);
  CHECK(admin_calls[0].method == "ListRegions");
  CHECK(admin_calls[0].authorization == absl::StrCat("Bearer ", kAdminKey));
  CHECK(admin_calls[0].internal_token.empty());
  CHECK(admin_calls[0].tenant.empty());  // the directory is no tenant's
}

TEST_CASE("an explicit internal token file sends the token along with the key") {
  Servers servers;
  TempDir dir;
  const std::string token_file = dir.Write("token", absl::StrCat(kToken, "\n"));
  Result result = servers.RunWithKey(
      {"ledger", "accounts", "--tenant", "lahti", "--internal-token-file", token_file},
      kOperatorKey);
  REQUIRE(result.code == kExitOk);
  const std::vector<FakeLedger::CallRecord> calls = servers.ledger().calls();
  REQUIRE(calls.size() == 1);
  CHECK(calls[0].authorization == absl::StrCat("Bearer ", kOperatorKey));
  CHECK(calls[0].internal_token == kToken);
}

TEST_CASE("admin commands use the admin key before the operator's key") {
  Servers servers;
  TempDir dir;
  const std::string admin_key_file = dir.Write("admin.key", absl::StrCat(kAdminKey, "\n"));
  Result result = servers.RunWithKey({"admin", "regions", "list"}, kOperatorKey,
                                     {{"TAHE_ADMIN_API_KEY_FILE", admin_key_file}});
  INFO(result.err);
  CHECK(result.code == kExitOk);
  // The operator key alone lacks the admin role here: PERMISSION_DENIED, with the key's id and
  // origin but never the key.
  Result denied = servers.RunWithKey({"admin", "regions", "list"}, kOperatorKey);
  CHECK(denied.code == kExitFailure);
  CHECK(denied.err ==
        "tahectl: PERMISSION_DENIED: ListRegions: the API key lacks the role admin (API key "
        "0000000000aa from TAHE_API_KEY)\n");
  CHECK(denied.err.find(kOperatorKey) == std::string::npos);
  // Admin commands need a key: direct mode has none.
  Result no_key = servers.Run({"admin", "regions", "list"});
  CHECK(no_key.code == kExitUsage);
  CHECK(no_key.err.find("admin commands need an API key") != std::string::npos);
  CHECK(servers.admin().calls().size() == 2);
}

TEST_CASE("a failed admin call prints the gRPC code name and exits 1") {
  Servers servers;
  servers.admin().FailNextCall(grpc::Status(grpc::StatusCode::UNAVAILABLE, "directory down"));
  Result result = servers.RunWithKey({"admin", "orgs", "list"}, kAdminKey);
  CHECK(result.code == kExitFailure);
  CHECK(result.out.empty());
  CHECK(result.err == "tahectl: UNAVAILABLE: ListOrganisations: directory down\n");

  Result missing = servers.RunWithKey(
      {"admin", "regions", "update", "nowhere", "--name", "X", "--request-id", "u-1"}, kAdminKey);
  CHECK(missing.code == kExitFailure);
  CHECK(missing.err == "tahectl: NOT_FOUND: UpdateRegion: no region nowhere\n");
}

TEST_CASE("admin regions, orgs and audit: tables by default, the messages with --json") {
  Servers servers;
  const auto admin = [&](std::vector<std::string> args) {
    Result result = servers.RunWithKey(std::move(args), kAdminKey);
    INFO(result.err);
    CHECK(result.code == kExitOk);
    return result;
  };
  Result created = admin({"admin", "regions", "create", "paijat-hame", "--name", "Päijät-Häme",
                          "--service", "tahe.ledger.v1=127.0.0.1:7001", "--request-id", "c-1"});
  CHECK(created.out ==
        "created region paijat-hame (request id c-1)\n"
        "Slug         Name         Services                       Created\n"
        "paijat-hame  Päijät-Häme  tahe.ledger.v1=127.0.0.1:7001  2025-01-01T00:00:00.000000Z\n"
        "1 region\n");
  admin({"admin", "regions", "update", "paijat-hame", "--service", "tahe.payroll.v1=127.0.0.1:7002",
         "--request-id", "u-1"});
  admin({"admin", "orgs", "create", "lahti", "--name", "Lahden kaupunki", "--business-id",
         "0157211-7", "--region", "paijat-hame", "--request-id", "o-1"});

  const gw::ListRegionsResponse regions =
      ParseJson<gw::ListRegionsResponse>(admin({"--json", "admin", "regions", "list"}).out);
  REQUIRE(regions.regions_size() == 1);
  CHECK(regions.regions(0).service_addresses().at("tahe.payroll.v1") == "127.0.0.1:7002");
  CHECK(regions.regions(0).service_addresses().size() == 2);

  Result orgs = admin({"admin", "orgs", "list", "--region", "paijat-hame"});
  CHECK(orgs.out.find("lahti  Lahden kaupunki  0157211-7    paijat-hame") != std::string::npos);
  const gw::ListOrganisationsResponse org_list =
      ParseJson<gw::ListOrganisationsResponse>(admin({"admin", "orgs", "list", "--json"}).out);
  REQUIRE(org_list.organisations_size() == 1);
  CHECK(org_list.organisations(0).business_id() == "0157211-7");

  // A move while the organisation has data in its region is the server's FAILED_PRECONDITION.
  servers.admin().SetTenantData("lahti", "ledger: 10 entries");
  Result move =
      servers.RunWithKey({"admin", "orgs", "update", "lahti", "--region", "pohjanmaa"}, kAdminKey);
  CHECK(move.code == kExitFailure);
  CHECK(move.err ==
        "tahectl: FAILED_PRECONDITION: UpdateOrganisation: organisation lahti has data in region "
        "paijat-hame: ledger: 10 entries\n");

  const gw::ListAuditEventsResponse audit = ParseJson<gw::ListAuditEventsResponse>(
      admin({"admin", "audit", "--json", "--limit", "2"}).out);
  REQUIRE(audit.events_size() == 2);
  CHECK(audit.events(0).action() == "CreateRegion");
  CHECK(audit.events(0).request_id() == "c-1");
  CHECK(audit.next_after_id() == 2);
  Result audit_table = admin({"admin", "audit", "--target", "organisation"});
  CHECK(audit_table.out.find("CreateOrganisation  organisation/lahti  o-1") != std::string::npos);
  CHECK(audit_table.out.find("CreateRegion") == std::string::npos);
  CHECK(audit_table.out.find("\n1 event\n") != std::string::npos);

  // Each mutation sent its request id; list calls have none to send.
  const std::vector<FakeAdmin::CallRecord> calls = servers.admin().calls();
  const auto* first = dynamic_cast<const gw::CreateRegionRequest*>(calls[0].request.get());
  REQUIRE(first != nullptr);
  CHECK(first->request_id() == "c-1");
}

TEST_CASE("admin keys issue prints the key once, or writes it to a new 0600 --key-file") {
  Servers servers;
  Result printed = servers.RunWithKey({"admin", "keys", "issue", "--role", "ledger.read",
                                       "--organisation", "lahti", "--request-id", "k-1"},
                                      kAdminKey);
  INFO(printed.err);
  REQUIRE(printed.code == kExitOk);
  const std::string first_key = absl::StrCat("tahe_000000abc000_", std::string(64, 'e'));
  CHECK(printed.out ==
        absl::StrCat("issued key 000000abc000: roles ledger.read; organisations lahti (request id "
                     "k-1)\nAPI key, shown only now (the gateway keeps only its hash):\n",
                     first_key, "\n"));

  TempDir dir;
  const std::string key_file = dir.Path("operator.key");
  Result stored = servers.RunWithKey(
      {"admin", "keys", "issue", "--role", "ledger.read", "--role", "ledger.write", "--region",
       "paijat-hame", "--description", "operator", "--key-file", key_file},
      kAdminKey);
  INFO(stored.err);
  REQUIRE(stored.code == kExitOk);
  const std::string second_key = absl::StrCat("tahe_000000abc001_", std::string(64, 'e'));
  CHECK(stored.out.find(second_key) == std::string::npos);
  CHECK(stored.out.find("issued key 000000abc001: roles ledger.read,ledger.write; regions "
                        "paijat-hame") == 0);
  CHECK(stored.out.find(absl::StrCat("the key is in ", key_file, " (mode 0600)")) !=
        std::string::npos);
  CHECK(ReadFile(key_file) == absl::StrCat(second_key, "\n"));
  struct stat info {};
  REQUIRE(::stat(key_file.c_str(), &info) == 0);
  CHECK((info.st_mode & 0777) == 0600);

  // An existing file is never overwritten, and no key is issued for it.
  const size_t calls_before = servers.admin().calls().size();
  Result again = servers.RunWithKey({"admin", "keys", "issue", "--role", "ledger.read", "--region",
                                     "paijat-hame", "--key-file", key_file},
                                    kAdminKey);
  CHECK(again.code == kExitUsage);
  CHECK(again.err.find(absl::StrCat("--key-file: ", key_file, " already exists")) !=
        std::string::npos);
  CHECK(ReadFile(key_file) == absl::StrCat(second_key, "\n"));
  CHECK(servers.admin().calls().size() == calls_before);

  // --json with --key-file: the response without the secret.
  const std::string third_file = dir.Path("third.key");
  Result json = servers.RunWithKey(
      {"--json", "admin", "keys", "issue", "--role", "admin", "--key-file", third_file}, kAdminKey);
  REQUIRE(json.code == kExitOk);
  const gw::IssueApiKeyResponse response = ParseJson<gw::IssueApiKeyResponse>(json.out);
  CHECK(response.key().key_id() == "000000abc002");
  CHECK(response.api_key().empty());
  CHECK(IsWellFormedApiKey(absl::StripAsciiWhitespace(ReadFile(third_file))));
}

TEST_CASE("a replayed admin keys issue fails: the secret is not shown again") {
  Servers servers;
  const std::vector<std::string> issue = {"admin", "keys",         "issue", "--role",
                                          "admin", "--request-id", "same"};
  REQUIRE(servers.RunWithKey(issue, kAdminKey).code == kExitOk);
  TempDir dir;
  std::vector<std::string> with_file = issue;
  with_file.insert(with_file.end(), {"--key-file", dir.Path("k")});
  Result replay = servers.RunWithKey(with_file, kAdminKey);
  CHECK(replay.code == kExitFailure);
  CHECK(replay.err.rfind("tahectl: ALREADY_EXISTS: IssueApiKey: request id same was used before: "
                         "key 000000abc000 was issued then",
                         0) == 0);
  CHECK_FALSE(std::filesystem::exists(dir.Path("k")));  // the empty file is removed again
}

TEST_CASE("admin keys list and revoke") {
  Servers servers;
  REQUIRE(servers
              .RunWithKey({"admin", "keys", "issue", "--role", "ledger.read", "--organisation",
                           "lahti", "--description", "Lahti HR"},
                          kAdminKey)
              .code == kExitOk);
  Result revoked = servers.RunWithKey(
      {"admin", "keys", "revoke", "000000abc000", "--request-id", "rv-1"}, kAdminKey);
  REQUIRE(revoked.code == kExitOk);
  CHECK(revoked.out ==
        "revoked key 000000abc000 at 2025-01-01T00:00:00.000000Z (request id rv-1)\n");
  CHECK(servers.RunWithKey({"admin", "keys", "list"}, kAdminKey).out.find("\n0 keys\n") !=
        std::string::npos);
  const gw::ListApiKeysResponse keys = ParseJson<gw::ListApiKeysResponse>(
      servers
          .RunWithKey(
              {"admin", "keys", "list", "--include-revoked", "--organisation", "lahti", "--json"},
              kAdminKey)
          .out);
  REQUIRE(keys.keys_size() == 1);
  CHECK(keys.keys(0).description() == "Lahti HR");
  CHECK_FALSE(keys.keys(0).revoked_at().empty());
}

TEST_CASE("ledger --json prints messages that parse back, entries merging every page") {
  Servers servers;
  REQUIRE(servers.Run({"seed-demo", "--tenants", "lahti", "--today", "2025-03-10"}).code ==
          kExitOk);
  Result entries =
      servers.Run({"ledger", "entries", "--tenant", "lahti", "--page-size", "3", "--json"});
  REQUIRE(entries.code == kExitOk);
  CHECK(std::count(entries.out.begin(), entries.out.end(), '\n') == 1);  // one object
  const v1::ListEntriesResponse all = ParseJson<v1::ListEntriesResponse>(entries.out);
  REQUIRE(all.entries_size() == 10);
  CHECK(all.entries(9).sequence() == 10);
  CHECK(all.next_page_token().empty());

  const v1::GetTrialBalanceResponse balance = ParseJson<v1::GetTrialBalanceResponse>(
      servers.Run({"ledger", "trial-balance", "--tenant", "lahti", "--period", "2025-02", "--json"})
          .out);
  CHECK(balance.total_debit_minor() == balance.total_credit_minor());
  CHECK(balance.total_debit_minor() > 0);

  const v1::VerifyChainResponse chain = ParseJson<v1::VerifyChainResponse>(
      servers.Run({"--json", "ledger", "verify-chain", "--tenant", "lahti"}).out);
  CHECK(chain.ok());
  CHECK(chain.entries_checked() == 10);
}

TEST_CASE("ledger post --file reads a JSON PostEntryRequest from a file or stdin") {
  Servers servers;
  const std::vector<std::string> tenant = {"--tenant", "lahti"};
  REQUIRE(servers.Run({"ledger", "load-template", "--tenant", "lahti"}).code == kExitOk);
  REQUIRE(servers.Run({"ledger", "open-period", "2025-03", "--tenant", "lahti"}).code == kExitOk);
  const std::string body =
      R"({"entry": {"entryDate": "2025-03-05", "description": "Tilitys",
          "source": {"system": "import", "reference": "T-1"},
          "lines": [{"account": "1910", "amount": {"amountMinor": "123456", "currencyCode": "EUR"}},
                    {"account": "5000", "amount": {"amountMinor": "-123456"}}]}})";
  TempDir dir;
  const std::string with_id =
      dir.Write("with_id.json", absl::StrCat(R"({"requestId": "from-file", )", body.substr(1)));

  Result from_file = servers.Run({"ledger", "post", "--file", with_id, "--tenant", "lahti"});
  INFO(from_file.err);
  REQUIRE(from_file.code == kExitOk);
  CHECK(from_file.out.rfind("posted entry #1 (request id from-file)\n", 0) == 0);

  Result overridden = servers.Run(
      {"ledger", "post", "--file", with_id, "--request-id", "from-flag", "--tenant", "lahti"});
  REQUIRE(overridden.code == kExitOk);
  CHECK(overridden.out.rfind("posted entry #2 (request id from-flag)\n", 0) == 0);

  Result from_stdin =
      servers.Run({"ledger", "post", "--file", "-", "--tenant", "lahti", "--json"}, {}, body);
  INFO(from_stdin.err);
  REQUIRE(from_stdin.code == kExitOk);
  const v1::PostEntryResponse posted = ParseJson<v1::PostEntryResponse>(from_stdin.out);
  CHECK(posted.entry().sequence() == 3);
  CHECK(absl::StartsWith(posted.entry().request_id(), "tahectl-"));
  CHECK(posted.entry().source().reference() == "T-1");
  CHECK(servers.ledger().entries("lahti").size() == 3);

  Result bad = servers.Run({"ledger", "post", "--file", "-", "--tenant", "lahti"}, {},
                           R"({"entry": {"entry_dat": "2025-03-05"}})");
  CHECK(bad.code == kExitUsage);
  CHECK(bad.err.find("--file (stdin): not a JSON PostEntryRequest") != std::string::npos);
  Result mixed = servers.Run(
      {"ledger", "post", "--file", with_id, "--date", "2025-03-05", "--tenant", "lahti"});
  CHECK(mixed.code == kExitUsage);
  CHECK(mixed.err.find("--date cannot be combined with --file") != std::string::npos);
  CHECK(servers.ledger().entries("lahti").size() == 3);
}

TEST_CASE("ledger balance: one account, filtered or split by a dimension") {
  Servers servers;
  REQUIRE(servers.Run({"seed-demo", "--tenants", "lahti", "--today", "2025-03-10"}).code ==
          kExitOk);
  // The wages entry books 4000 on cost centres 100 (30 %) and 200 (70 %).
  const v1::GetAccountBalanceResponse total = ParseJson<v1::GetAccountBalanceResponse>(
      servers
          .Run(
              {"ledger", "balance", "4000", "--tenant", "lahti", "--as-of", "2025-02-28", "--json"})
          .out);
  const v1::GetAccountBalanceResponse admin_only = ParseJson<v1::GetAccountBalanceResponse>(
      servers
          .Run({"ledger", "balance", "4000", "--tenant", "lahti", "--as-of", "2025-02-28",
                "--dimension", "cost_centre=100", "--json"})
          .out);
  CHECK(total.balance().amount_minor() > 0);
  CHECK(admin_only.balance().amount_minor() == total.balance().amount_minor() * 30 / 100);

  Result split = servers.Run({"ledger", "balance", "4000", "--tenant", "lahti", "--as-of",
                              "2025-02-28", "--dimension", "cost_centre"});
  REQUIRE(split.code == kExitOk);
  CHECK(split.out.rfind("Balance of account 4000 as of 2025-02-28, in EUR\n\n", 0) == 0);
  CHECK(split.out.find("\ncost_centre  ") != std::string::npos);
  CHECK(split.out.find("\n100") != std::string::npos);
  CHECK(split.out.find("\n200") != std::string::npos);

  Result twice = servers.Run({"ledger", "balance", "4000", "--tenant", "lahti", "--dimension",
                              "a=1", "--dimension", "b=2"});
  CHECK(twice.code == kExitUsage);
  CHECK(twice.err.find("--dimension given more than once") != std::string::npos);
}

TEST_CASE("seed-demo works through the gateway with an operator key, one tenant per call") {
  Servers servers;
  Result seeded = servers.RunWithKey(
      {"seed-demo", "--tenants", "lahti,phhyky", "--today", "2025-03-10", "--json"}, kOperatorKey);
  INFO(seeded.err);
  REQUIRE(seeded.code == kExitOk);
  CHECK(seeded.out.find(R"("tenant":"phhyky")") != std::string::npos);
  CHECK(seeded.out.find(R"("entriesPosted":10)") != std::string::npos);
  std::set<std::string> tenants;
  for (const FakeLedger::CallRecord& call : servers.ledger().calls()) {
    CHECK(call.authorization == absl::StrCat("Bearer ", kOperatorKey));
    CHECK(call.internal_token.empty());
    tenants.insert(call.tenant);
  }
  CHECK(tenants == std::set<std::string>{"lahti", "phhyky"});
  CHECK(servers.ledger().entries("phhyky").size() == 10);
}

TEST_CASE("settings come from .tahe/local.env found above the working directory") {
  Servers servers;
  TempDir dir;
  dir.Write("suite/.tahe/operator.key", absl::StrCat(kOperatorKey, "\n"));
  dir.Write("suite/.tahe/admin.key", absl::StrCat(kAdminKey, "\n"));
  dir.Write("suite/.tahe/local.env",
            absl::StrCat(
                "# deploy/local/run.sh\n"
                "TAHE_GATEWAY_ADDR=",
                servers.address(),
                "\n"
                "TAHE_LEDGER_ADDR=127.0.0.1:1\n"
                "TAHE_API_KEY_FILE=",
                dir.Path("suite/.tahe/operator.key"),
                "\n"
                "TAHE_ADMIN_API_KEY_FILE=admin.key\n"
                "TAHE_INTERNAL_TOKEN_FILE=/nonexistent\n"
                "TAHE_METRICS_URLS=\"http://127.0.0.1:1/metrics http://127.0.0.1:2/metrics\"\n"));
  std::filesystem::create_directories(dir.Path("suite/work/deep"));
  const std::string cwd = dir.Path("suite/work/deep");

  Result ledger = Servers::RunWith({"ledger", "accounts", "--tenant", "lahti"}, {}, cwd, "");
  INFO(ledger.err);
  CHECK(ledger.code == kExitOk);
  Result admin = Servers::RunWith({"admin", "regions", "list"}, {}, cwd, "");
  INFO(admin.err);
  CHECK(admin.code == kExitOk);
  REQUIRE(servers.ledger().calls().size() == 1);
  CHECK(servers.ledger().calls()[0].authorization == absl::StrCat("Bearer ", kOperatorKey));
  REQUIRE(servers.admin().calls().size() == 1);
  CHECK(servers.admin().calls()[0].authorization == absl::StrCat("Bearer ", kAdminKey));

  // The environment beats the file: TAHE_API_KEY= means no key, so tahectl goes direct
  // (needing the internal token, whose file in local.env does not exist).
  Result no_key = Servers::RunWith({"ledger", "accounts", "--tenant", "lahti"},
                                   {{"TAHE_API_KEY_FILE", ""}}, cwd, "");
  CHECK(no_key.code == kExitUsage);
  CHECK(no_key.err.find("TAHE_INTERNAL_TOKEN_FILE in ") != std::string::npos);
  // --env-file names another file.
  const std::string other = dir.Write("other.env", "TAHE_LEDGER_ADDR=127.0.0.1:1\n");
  Result other_file =
      Servers::RunWith({"admin", "regions", "list", "--env-file", other}, {}, cwd, "");
  CHECK(other_file.code == kExitUsage);
  CHECK(other_file.err.find("admin commands need an API key") != std::string::npos);
}

}  // namespace
}  // namespace tahe::tahectl
