#pragma once

// A throwaway PostgreSQL database for tests.
//
// tests/run.sh starts a private PostgreSQL cluster and exports TAHE_TEST_PG_HOST,
// TAHE_TEST_PG_PORT and TAHE_TEST_PG_USER (a superuser). Each TestDatabase creates a database
// with a random name, applies the service's migrations as the owner, and creates a login role
// that is a member of the service's application group role but owns nothing, so tests run under
// row-level security exactly like the service. The database is dropped on destruction.
//
//   tahe::testing::TestDatabase db(ledger::Migrations(), "tahe_ledger_app");
//   auto pool = tahe::pg::Pool::Create({.conninfo = db.app_conninfo()}, nullptr);

#include <string>
#include <vector>

#include "libs/pg/migrations.h"

namespace tahe::testing {

class TestDatabase {
 public:
  // Fails the test run (throws std::runtime_error) if the environment is missing or the database
  // cannot be created: an integration test never silently skips.
  TestDatabase(const std::vector<pg::Migration>& migrations, const std::string& app_group_role);
  ~TestDatabase();
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  // Superuser (table owner) connection: for set-up and for tampering in tests.
  const std::string& owner_conninfo() const { return owner_conninfo_; }
  // Application role connection: not the owner, subject to FORCE ROW LEVEL SECURITY.
  const std::string& app_conninfo() const { return app_conninfo_; }
  const std::string& name() const { return name_; }

 private:
  std::string server_;  // "host=... port=... user=..."
  std::string name_;
  std::string owner_conninfo_;
  std::string app_conninfo_;
};

// The cluster connection settings from the environment ("host=... port=... user=...").
std::string TestServerConninfo();

}  // namespace tahe::testing
