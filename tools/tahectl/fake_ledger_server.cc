// A stand-in for build/services/ledger/tahe_ledger with the same command-line interface, used by
// deploy/local/run_test.sh to test the local launcher without the real service:
//
//   tahectl_fake_ledger_server --listen=127.0.0.1:P --metrics_listen=127.0.0.1:M
//       --db_url="... user=tahe_ledger ..." --db_migrate_url="... user=tahe_owner ..."
//       --internal_token_file=PATH
//
// At start it proves that the launcher's database set-up works: as the migration role it creates
// a table and grants it to tahe_ledger_app, then as the service role it reads it and checks that
// it is neither the table owner nor the database owner. It then serves the fake ledger
// (fake_ledger.h), the standard health service and /metrics, and exits 0 on SIGTERM or SIGINT.
// Any start-up failure prints one line and exits 2.
#include <grpcpp/grpcpp.h>
#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/registry.h>
#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <pqxx/pqxx>
#include <sstream>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "tools/tahectl/fake_ledger.h"

namespace {

[[noreturn]] void Fail(const std::string& message) {
  std::cerr << "fake ledger: " << message << std::endl;
  std::exit(2);
}

std::map<std::string, std::string> ParseFlags(int argc, char** argv) {
  std::map<std::string, std::string> flags;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const size_t eq = arg.find('=');
    if (!absl::StartsWith(arg, "--") || eq == std::string::npos) {
      Fail("want --name=value, got " + arg);
    }
    flags[arg.substr(2, eq - 2)] = arg.substr(eq + 1);
  }
  for (const char* required :
       {"listen", "metrics_listen", "db_url", "db_migrate_url", "internal_token_file"}) {
    if (flags[required].empty()) {
      Fail(std::string("--") + required + " is required");
    }
  }
  return flags;
}

void CheckDatabase(const std::string& migrate_url, const std::string& app_url) {
  try {
    pqxx::connection owner(migrate_url);
    pqxx::work migrate(owner);
    migrate.exec0("CREATE TABLE IF NOT EXISTS launcher_check (id int)");
    migrate.exec0("GRANT SELECT ON launcher_check TO tahe_ledger_app");
    migrate.commit();

    pqxx::connection app(app_url);
    pqxx::work read(app);
    read.exec1("SELECT count(*) FROM launcher_check");
    const pqxx::row who = read.exec1(
        "SELECT current_user, pg_get_userbyid(d.datdba), "
        "       (SELECT tableowner FROM pg_tables WHERE tablename = 'launcher_check') "
        "FROM pg_database d WHERE d.datname = current_database()");
    const std::string user = who[0].as<std::string>();
    if (user == who[1].as<std::string>() || user == who[2].as<std::string>()) {
      Fail("the service role " + user + " owns the database or the table");
    }
    std::cout << "database check passed: " << user << " reads what " << who[2].as<std::string>()
              << " created" << std::endl;
  } catch (const std::exception& e) {
    Fail(std::string("database check failed: ") + e.what());
  }
}

}  // namespace

int main(int argc, char** argv) {
  // Block the stop signals in every thread (threads inherit the mask); main waits for them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  std::map<std::string, std::string> flags = ParseFlags(argc, argv);
  std::ifstream token_file(flags["internal_token_file"]);
  std::stringstream token;
  token << token_file.rdbuf();
  const std::string internal_token(absl::StripAsciiWhitespace(token.str()));
  if (internal_token.empty()) {
    Fail("cannot read the internal token from " + flags["internal_token_file"]);
  }

  CheckDatabase(flags["db_migrate_url"], flags["db_url"]);

  std::unique_ptr<prometheus::Exposer> exposer;
  try {
    exposer = std::make_unique<prometheus::Exposer>(flags["metrics_listen"]);
  } catch (const std::exception& e) {
    Fail(std::string("cannot serve metrics: ") + e.what());
  }
  auto registry = std::make_shared<prometheus::Registry>();
  prometheus::BuildCounter()
      .Name("tahe_fake_ledger_starts_total")
      .Help("Starts of the fake ledger.")
      .Register(*registry)
      .Add({})
      .Increment();
  exposer->RegisterCollectable(registry);

  tahe::tahectl::FakeLedger ledger(internal_token);
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(flags["listen"], grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&ledger);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    Fail("cannot listen on " + flags["listen"]);
  }
  std::cout << "serving on " << flags["listen"] << std::endl;

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  std::cout << "signal " << signal_number << ": shutting down" << std::endl;
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  return 0;
}
