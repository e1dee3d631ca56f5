#include "libs/testing/pg_fixture.h"

#include <cstdlib>
#include <pqxx/pqxx>
#include <random>
#include <stdexcept>

#include "absl/strings/str_cat.h"

namespace tahe::testing {

namespace {

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') {
    throw std::runtime_error(absl::StrCat(
        name, " is not set: run the tests through tests/run.sh, which starts PostgreSQL"));
  }
  return value;
}

std::string RandomSuffix() {
  std::random_device rd;
  std::mt19937_64 gen(rd());
  return absl::StrCat(absl::Hex(gen(), absl::kZeroPad16));
}

}  // namespace

std::string TestServerConninfo() {
  return absl::StrCat("host=", Env("TAHE_TEST_PG_HOST"), " port=", Env("TAHE_TEST_PG_PORT"),
                      " user=", Env("TAHE_TEST_PG_USER"));
}

TestDatabase::TestDatabase(const std::vector<pg::Migration>& migrations,
                           const std::string& app_group_role)
    : server_(TestServerConninfo()), name_(absl::StrCat("t_", RandomSuffix())) {
  const std::string login = absl::StrCat(app_group_role, "_test");
  {
    pqxx::connection admin(absl::StrCat(server_, " dbname=postgres"));
    pqxx::nontransaction n(admin);
    n.exec(absl::StrCat("CREATE DATABASE ", name_));
    // Roles are cluster-wide and tests run in parallel: create them under a lock.
    n.exec("SELECT pg_advisory_lock(7411)");
    n.exec(absl::StrCat("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '",
                        app_group_role, "') THEN CREATE ROLE ", app_group_role,
                        " NOLOGIN; END IF; IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '",
                        login, "') THEN CREATE ROLE ", login, " LOGIN IN ROLE ", app_group_role,
                        "; END IF; END $$"));
    n.exec("SELECT pg_advisory_unlock(7411)");
  }
  owner_conninfo_ = absl::StrCat(server_, " dbname=", name_);
  std::string host_port = server_.substr(0, server_.find(" user="));
  app_conninfo_ = absl::StrCat(host_port, " user=", login, " dbname=", name_);
  absl::Status status = pg::ApplyMigrations(owner_conninfo_, migrations);
  if (!status.ok()) {
    throw std::runtime_error(absl::StrCat("migrations failed: ", status.ToString()));
  }
}

TestDatabase::~TestDatabase() {
  try {
    pqxx::connection admin(absl::StrCat(server_, " dbname=postgres"));
    pqxx::nontransaction n(admin);
    n.exec(absl::StrCat("DROP DATABASE IF EXISTS ", name_, " WITH (FORCE)"));
  } catch (const std::exception&) {
    // The cluster is thrown away at the end of the run anyway.
  }
}

}  // namespace tahe::testing
