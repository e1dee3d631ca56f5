#include "libs/pg/pg.h"

#include <catch2/catch.hpp>

#include "libs/pg/binary_array.h"
#include "libs/pg/migrations.h"
#include "libs/testing/pg_fixture.h"

namespace tahe::pg {
namespace {

const std::vector<Migration>& TestMigrations() {
  static const auto* const kMigrations = new std::vector<Migration>{
      {1, "0001_notes.sql",
       "CREATE TABLE notes (tenant_id text NOT NULL DEFAULT current_setting('tahe.tenant'),"
       " id int NOT NULL, body text NOT NULL, PRIMARY KEY (tenant_id, id));"
       "ALTER TABLE notes ENABLE ROW LEVEL SECURITY; ALTER TABLE notes FORCE ROW LEVEL SECURITY;"
       "CREATE POLICY tenant_isolation ON notes USING (tenant_id = current_setting('tahe.tenant'))"
       " WITH CHECK (tenant_id = current_setting('tahe.tenant'));"
       "GRANT SELECT, INSERT ON notes TO tahe_pgtest_app;"},
      {2, "0002_counter.sql", "CREATE TABLE counter (n int); INSERT INTO counter VALUES (0);"},
  };
  return *kMigrations;
}

std::unique_ptr<Pool> AppPool(const testing::TestDatabase& db, int size = 4) {
  auto pool = Pool::Create(
      {.conninfo = db.app_conninfo(), .size = size, .acquire_timeout = absl::Milliseconds(200)},
      nullptr);
  REQUIRE(pool.ok());
  return *std::move(pool);
}

TEST_CASE("migrations apply once, are recorded, and a changed migration is refused") {
  testing::TestDatabase db(TestMigrations(), "tahe_pgtest_app");
  // Second run is a no-op: migration 2 would fail if it ran twice? It would insert another row.
  REQUIRE(ApplyMigrations(db.owner_conninfo(), TestMigrations()).ok());
  pqxx::connection owner(db.owner_conninfo());
  pqxx::work tx(owner);
  REQUIRE(tx.exec("SELECT count(*) FROM counter")[0][0].as<int>() == 1);
  REQUIRE(tx.exec("SELECT count(*) FROM tahe_schema_migrations")[0][0].as<int>() == 2);
  tx.commit();

  auto changed = TestMigrations();
  changed[1].sql += " SELECT 1;";
  absl::Status status = ApplyMigrations(db.owner_conninfo(), changed);
  REQUIRE(status.code() == absl::StatusCode::kFailedPrecondition);
  REQUIRE(status.message().find("0002_counter.sql") != absl::string_view::npos);
}

TEST_CASE("a failing migration leaves nothing half-applied") {
  testing::TestDatabase db(TestMigrations(), "tahe_pgtest_app");
  auto more = TestMigrations();
  more.push_back({3, "0003_bad.sql", "CREATE TABLE half (x int); SELECT no_such_function();"});
  REQUIRE_FALSE(ApplyMigrations(db.owner_conninfo(), more).ok());
  pqxx::connection owner(db.owner_conninfo());
  pqxx::work tx(owner);
  REQUIRE(tx.exec("SELECT to_regclass('half') IS NULL")[0][0].as<bool>());
  REQUIRE(tx.exec("SELECT max(version) FROM tahe_schema_migrations")[0][0].as<int>() == 2);
}

TEST_CASE("tenant transactions see only their tenant's rows, enforced by RLS") {
  testing::TestDatabase db(TestMigrations(), "tahe_pgtest_app");
  auto pool = AppPool(db);
  for (const char* tenant : {"lahti", "vaasa"}) {
    REQUIRE(RunInTransaction(*pool, tenant, {}, [&](pqxx::work& tx) {
              tx.exec_params("INSERT INTO notes (id, body) VALUES (1, $1)", std::string(tenant));
              return absl::OkStatus();
            }).ok());
  }
  auto bodies = InTenantTransaction<std::string>(
      *pool, "lahti", {}, [](pqxx::work& tx) -> absl::StatusOr<std::string> {
        std::string all;
        for (const auto& row : tx.exec("SELECT body FROM notes ORDER BY body")) {
          all += row[0].as<std::string>() + ";";
        }
        return all;
      });
  REQUIRE(bodies.value() == "lahti;");

  // Writing another tenant's row is refused by the policy's WITH CHECK.
  absl::Status cross = RunInTransaction(*pool, "lahti", {}, [](pqxx::work& tx) {
    tx.exec("INSERT INTO notes (tenant_id, id, body) VALUES ('vaasa', 2, 'sneaky')");
    return absl::OkStatus();
  });
  INFO(cross.ToString());
  REQUIRE(cross.code() == absl::StatusCode::kPermissionDenied);

  // No tenant at all: nothing is visible (or current_setting fails on a fresh connection).
  auto none = InTenantTransaction<int>(*pool, "", {}, [](pqxx::work& tx) -> absl::StatusOr<int> {
    return tx.exec("SELECT count(*) FROM notes")[0][0].as<int>();
  });
  REQUIRE((!none.ok() || *none == 0));
}

TEST_CASE("binary arrays reach the server element for element") {
  testing::TestDatabase db(TestMigrations(), "tahe_pgtest_app");
  auto pool = AppPool(db);
  BinaryArray texts(BinaryArray::kText), numbers(BinaryArray::kInt8);
  BinaryArray bytes(BinaryArray::kBytea), none(BinaryArray::kText);
  const std::string with_nul("a\0b", 3);
  for (absl::string_view text : {absl::string_view("É'\"{},"), absl::string_view(""),
                                 absl::string_view(with_nul.data(), 1)}) {
    texts.AddText(text);
  }
  for (int64_t n : {int64_t{0}, int64_t{-1}, INT64_MAX, INT64_MIN, int64_t{4294967296}}) {
    numbers.AddInt64(n);
  }
  bytes.AddText(with_nul);
  CHECK(texts.size() == 3);
  CHECK(none.empty());
  auto got = InTenantTransaction<std::string>(
      *pool, "lahti", {}, [&](pqxx::work& tx) -> absl::StatusOr<std::string> {
        std::string out;
        for (const auto& row : tx.exec_params(
                 "SELECT t FROM unnest($1::text[]) WITH ORDINALITY AS u(t, i) ORDER BY i",
                 texts.Param())) {
          out += "[" + row[0].as<std::string>() + "]";
        }
        for (const auto& row : tx.exec_params(
                 "SELECT n FROM unnest($1::bigint[]) WITH ORDINALITY AS u(n, i) ORDER BY i",
                 numbers.Param())) {
          out += " " + row[0].as<std::string>();
        }
        out += " " + tx.exec_params("SELECT encode(($1::bytea[])[1], 'hex')", bytes.Param())[0][0]
                         .as<std::string>();
        out +=
            " " +
            tx.exec_params("SELECT cardinality($1::text[])", none.Param())[0][0].as<std::string>();
        return out;
      });
  REQUIRE(got.ok());
  CHECK(*got == "[É'\"{},][][a] 0 -1 9223372036854775807 -9223372036854775808 4294967296 610062 0");
}

TEST_CASE("exceptions map to statuses and a failed body rolls back") {
  testing::TestDatabase db(TestMigrations(), "tahe_pgtest_app");
  auto pool = AppPool(db);
  REQUIRE(RunInTransaction(*pool, "lahti", {}, [](pqxx::work& tx) {
            tx.exec("INSERT INTO notes (id, body) VALUES (1, 'a')");
            return absl::OkStatus();
          }).ok());
  absl::Status dup = RunInTransaction(*pool, "lahti", {}, [](pqxx::work& tx) {
    tx.exec("INSERT INTO notes (id, body) VALUES (1, 'b')");
    return absl::OkStatus();
  });
  REQUIRE(dup.code() == absl::StatusCode::kAlreadyExists);
  REQUIRE(dup.message().find("DETAIL") == absl::string_view::npos);

  absl::Status refused = RunInTransaction(*pool, "lahti", {}, [](pqxx::work& tx) {
    tx.exec("INSERT INTO notes (id, body) VALUES (2, 'rolled back')");
    return absl::FailedPreconditionError("no");
  });
  REQUIRE(refused.code() == absl::StatusCode::kFailedPrecondition);
  auto count =
      InTenantTransaction<int>(*pool, "lahti", {}, [](pqxx::work& tx) -> absl::StatusOr<int> {
        return tx.exec("SELECT count(*) FROM notes")[0][0].as<int>();
      });
  REQUIRE(count.value() == 1);
}

TEST_CASE("retryable errors rerun the transaction, others do not") {
  testing::TestDatabase db(TestMigrations(), "tahe_pgtest_app");
  auto pool = AppPool(db);
  int runs = 0;
  absl::Status ok = RunInTransaction(*pool, "lahti", {.max_attempts = 3}, [&](pqxx::work&) {
    return ++runs < 3 ? absl::AbortedError("conflict") : absl::OkStatus();
  });
  REQUIRE(ok.ok());
  REQUIRE(runs == 3);
  runs = 0;
  absl::Status gave_up = RunInTransaction(*pool, "lahti", {.max_attempts = 2}, [&](pqxx::work&) {
    ++runs;
    return absl::AbortedError("conflict");
  });
  REQUIRE(gave_up.code() == absl::StatusCode::kUnavailable);
  REQUIRE(runs == 2);
}

TEST_CASE("an exhausted pool answers UNAVAILABLE after the acquire timeout") {
  testing::TestDatabase db(TestMigrations(), "tahe_pgtest_app");
  auto pool = AppPool(db, 2);
  auto a = pool->Acquire();
  auto b = pool->Acquire();
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  auto c = pool->Acquire();
  REQUIRE(c.status().code() == absl::StatusCode::kUnavailable);
  // A caller whose deadline has passed does not wait for the pool's timeout.
  REQUIRE(pool->Acquire(absl::Now() - absl::Seconds(1)).status().code() ==
          absl::StatusCode::kUnavailable);
  { auto released = std::move(*a); }
  REQUIRE(pool->Acquire().ok());
}

TEST_CASE("a bad connection string fails at pool creation") {
  auto pool =
      Pool::Create({.conninfo = testing::TestServerConninfo() + " dbname=no_such_db_x"}, nullptr);
  REQUIRE(pool.status().code() == absl::StatusCode::kUnavailable);
}

TEST_CASE("connection strings get a connect timeout unless they set one") {
  REQUIRE(WithConnectTimeout("host=db user=x") == "host=db user=x connect_timeout=5");
  REQUIRE(WithConnectTimeout("host=db connect_timeout=2") == "host=db connect_timeout=2");
  REQUIRE(WithConnectTimeout("postgresql://u@db/x") == "postgresql://u@db/x?connect_timeout=5");
  REQUIRE(WithConnectTimeout("postgresql://u@db/x?sslmode=require") ==
          "postgresql://u@db/x?sslmode=require&connect_timeout=5");
}

TEST_CASE("array literals quote their elements") {
  REQUIRE(TextArray({"a", "b\"c", "d\\e", ""}) == R"({"a","b\"c","d\\e",""})");
  REQUIRE(Int64Array({1, -2, 3}) == "{1,-2,3}");
}

}  // namespace
}  // namespace tahe::pg
