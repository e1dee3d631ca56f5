#pragma once

// The ledger's schema, compiled in from migrations/*.sql (see cmake/TaheEmbed.cmake).

#include <vector>

#include "libs/pg/migrations.h"

namespace tahe::ledger {
const std::vector<tahe::pg::Migration>& Migrations();
}  // namespace tahe::ledger
