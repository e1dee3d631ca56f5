#pragma once

// Schema migrations: numbered SQL files per service, applied once each, in order, under a
// PostgreSQL advisory lock, and recorded in the table `tahe_schema_migrations`.
//
// A service embeds its migrations/NNNN_name.sql files with tahe_embed_migrations() in CMake and
// applies them at start-up with the owner role:
//
//   RETURN_IF_ERROR(tahe::pg::ApplyMigrations(owner_conninfo, ledger::Migrations()));
//
// Each migration runs in its own transaction together with its bookkeeping row, so a failed
// migration leaves nothing half-applied. A migration already recorded is never run again; one
// whose SQL changed after it was applied is refused (FAILED_PRECONDITION), because the schema
// would silently differ between databases.

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace tahe::pg {

struct Migration {
  int version;
  std::string name;
  std::string sql;
};

// REQUIRES: versions strictly increasing.
absl::Status ApplyMigrations(const std::string& conninfo, const std::vector<Migration>& migrations);

}  // namespace tahe::pg
