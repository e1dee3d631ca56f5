// tahectl commands run in-process against in-process gRPC servers: the standard health service
// and a fake ledger (fake_ledger.h). Checks exit codes, output, metadata and idempotent seeding.
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "tools/tahectl/cli.h"
#include "tools/tahectl/fake_ledger.h"
#include "tools/tahectl/health.h"
#include "tools/tahectl/seed_demo.h"

namespace tahe::tahectl {
namespace {

namespace v1 = ::tahe::ledger::v1;

constexpr char kToken[] = "0123456789abcdef";

struct Result {
  int code;
  std::string out;
  std::string err;
};

// A gRPC server on a free loopback port with the default health service and a fake ledger.
class Servers {
 public:
  Servers() {
    grpc::EnableDefaultHealthCheckService(true);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&ledger_);
    server_ = builder.BuildAndStart();
    REQUIRE(server_ != nullptr);
    REQUIRE(port > 0);
    address_ = absl::StrCat("127.0.0.1:", port);
  }
  ~Servers() { server_->Shutdown(std::chrono::system_clock::now()); }

  const std::string& address() const { return address_; }
  FakeLedger& ledger() { return ledger_; }
  grpc::Server& server() { return *server_; }

  // Runs tahectl with TAHE_LEDGER_ADDR pointing here and the right token in the environment.
  Result Run(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
    env.emplace("TAHE_LEDGER_ADDR", address_);
    env.emplace("TAHE_INTERNAL_TOKEN", kToken);
    std::ostringstream out;
    std::ostringstream err;
    const int code = RunTahectl(
        args,
        [&env](absl::string_view name) -> std::optional<std::string> {
          auto it = env.find(std::string(name));
          if (it == env.end()) {
            return std::nullopt;
          }
          return it->second;
        },
        out, err);
    return Result{code, out.str(), err.str()};
  }

 private:
  FakeLedger ledger_{kToken};
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
  CHECK(not_serving.err == absl::StrCat("tahectl: ", servers.address(), " is NOT_SERVING\n"));
}

TEST_CASE("health of an unknown service prints the gRPC code") {
  Servers servers;
  Result result = servers.Run({"health", "--service", "no.such.Service"});
  CHECK(result.code == kExitFailure);
  CHECK(result.out.empty());
  CHECK(result.err.find("NOT_FOUND") != std::string::npos);
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
  std::ostringstream out;
  std::ostringstream err;
  const auto start = std::chrono::steady_clock::now();
  const int code = RunTahectl(
      {"health", "--addr", absl::StrCat("127.0.0.1:", port)},
      [](absl::string_view) { return std::nullopt; }, out, err);
  CHECK(code == kExitFailure);
  CHECK(out.str().empty());
  CHECK(err.str().find("UNAVAILABLE") != std::string::npos);
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
  CHECK(no_token.err ==
        "tahectl: ListAccounts: UNAUTHENTICATED: missing or wrong internal token\n");

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
        "tahectl: PostEntry: ALREADY_EXISTS: request_id r-1 was used for "
        "another request\n");

  Result closed = run({"ledger", "post", "--date", "2025-04-01", "--description", "x", "--line",
                       "1910:1", "--line", "5000:-1"});
  CHECK(closed.code == kExitFailure);
  CHECK(closed.err == "tahectl: PostEntry: FAILED_PRECONDITION: period 2025-04 is not open\n");

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
        "tahectl: seeding lahti: LoadChartTemplate: UNAUTHENTICATED: missing or wrong internal "
        "token\n");
}

}  // namespace
}  // namespace tahe::tahectl
