#pragma once

// What the benchmark drivers' smoke tests share: the ledger as services/ledger/main.cc wires it,
// in-process on a throwaway database (libs/testing/pg_fixture.h) and served on 127.0.0.1:0, and
// OrThrow for set-up steps that must not fail.
//
//   InProcessLedger ledger("bench-smoke-internal-token");
//   REQUIRE(SetUpTenant(ledger.target("bench-smoke"), TodayUtc()).ok());
//   ... drive ledger.address() ...
//   CHECK(ledger.EntriesInDatabase("bench-smoke") == 250);

#include <prometheus/registry.h>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "libs/pg/pg.h"
#include "libs/server/call.h"
#include "libs/server/grpc_server.h"
#include "libs/server/worker_pool.h"
#include "libs/testing/pg_fixture.h"
#include "services/ledger/group_commit.h"
#include "services/ledger/ledger_repository.h"
#include "services/ledger/ledger_service.h"
#include "tests/bench/bench_common.h"

namespace tahe::bench {

// The value, or a std::runtime_error with the status (Catch2 reports it as the test's failure).
template <typename T>
T OrThrow(absl::StatusOr<T> v) {
  if (!v.ok()) {
    throw std::runtime_error(v.status().ToString());
  }
  return *std::move(v);
}

// The ledger in-process: a fresh database connected as a member of tahe_ledger_app (under
// row-level security), 4 connections and worker threads, and the default group commit. Calls
// must carry `internal_token`. Throws if the database or the server cannot be started.
class InProcessLedger {
 public:
  explicit InProcessLedger(const std::string& internal_token);
  ~InProcessLedger();
  InProcessLedger(const InProcessLedger&) = delete;
  InProcessLedger& operator=(const InProcessLedger&) = delete;

  std::string address() const { return server_->address(); }
  // libpq conninfo of the ledger's database as a member of tahe_ledger_app (under row-level
  // security, as the ledger itself connects).
  const std::string& app_conninfo() const { return db_.app_conninfo(); }
  // This ledger, as `tenant`.
  Target target(const std::string& tenant) const;
  // Journal entries of `tenant`, counted as the table owner.
  int64_t EntriesInDatabase(const std::string& tenant);

 private:
  const std::string internal_token_;
  testing::TestDatabase db_;
  prometheus::Registry registry_;
  std::unique_ptr<pg::Pool> pool_;
  ledger::LedgerMetrics metrics_;
  ledger::LedgerRepository repository_;
  ledger::GroupCommitter committer_;
  server::Authenticator auth_;
  server::WorkerPool workers_;
  ledger::LedgerService service_;
  std::unique_ptr<server::GrpcServer> server_;
};

}  // namespace tahe::bench
