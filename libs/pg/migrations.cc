#include "libs/pg/migrations.h"

#include <pqxx/pqxx>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "libs/pg/idempotency.h"
#include "libs/pg/pg.h"

namespace tahe::pg {
namespace {

// Any constant shared by every Tahe service: one migrator per database at a time.
constexpr int64_t kMigrationLockKey = 0x7461686500000001;  // "tahe" 1

}  // namespace

absl::Status ApplyMigrations(const std::string& conninfo,
                             const std::vector<Migration>& migrations) {
  for (size_t i = 1; i < migrations.size(); ++i) {
    if (migrations[i].version <= migrations[i - 1].version) {
      return absl::InternalError(absl::StrCat("migrations out of order at ", migrations[i].name));
    }
  }
  try {
    pqxx::connection conn(conninfo);
    pqxx::nontransaction session(conn);
    session.exec_params("SELECT pg_advisory_lock($1)", kMigrationLockKey);
    session.exec(
        "CREATE TABLE IF NOT EXISTS tahe_schema_migrations ("
        " version integer PRIMARY KEY,"
        " name text NOT NULL,"
        " sha256 text NOT NULL,"
        " applied_at timestamptz NOT NULL DEFAULT now())");
    session.commit();
    absl::Status result = absl::OkStatus();
    for (const Migration& m : migrations) {
      std::string sha = Sha256Hex(m.sql);
      pqxx::work tx(conn);
      pqxx::result done =
          tx.exec_params("SELECT sha256 FROM tahe_schema_migrations WHERE version = $1", m.version);
      if (!done.empty()) {
        if (done[0][0].as<std::string>() != sha) {
          result = absl::FailedPreconditionError(
              absl::StrCat("migration ", m.name,
                           " was changed after it was applied; add a new migration instead"));
          break;
        }
        continue;
      }
      tx.exec(m.sql);
      tx.exec_params("INSERT INTO tahe_schema_migrations (version, name, sha256) VALUES ($1,$2,$3)",
                     m.version, m.name, sha);
      tx.commit();
    }
    pqxx::nontransaction unlock(conn);
    unlock.exec_params("SELECT pg_advisory_unlock($1)", kMigrationLockKey);
    return result;
  } catch (const std::exception& e) {
    return Annotate(StatusFromException(e), "applying migrations");
  }
}

}  // namespace tahe::pg
