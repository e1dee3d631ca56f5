#pragma once

// PostgreSQL access for Tahe services: a bounded connection pool, tenant-scoped transactions
// under row-level security, retry of serialization failures and deadlocks, and one mapping of
// libpqxx exceptions to absl::Status. No libpqxx exception leaves this library's callers' lambdas
// through RunInTransaction: they come back as statuses.
//
//   ASSIGN_OR_RETURN(auto pool, tahe::pg::Pool::Create({.conninfo = url, .size = 16}, &registry));
//   absl::StatusOr<int64_t> count = tahe::pg::InTenantTransaction<int64_t>(
//       *pool, "lahti", {}, [&](pqxx::work& tx) -> absl::StatusOr<int64_t> {
//         return tx.exec("SELECT count(*) FROM accounts")[0][0].as<int64_t>();
//       });
//
// Every transaction sets `tahe.tenant` with SET LOCAL semantics (set_config(..., true)), which
// the RLS policies of every table read; a connection returned to the pool carries no tenant.

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "libs/status/status.h"

namespace prometheus {
class Registry;
template <typename T>
class Family;
class Gauge;
class Counter;
class Histogram;
}  // namespace prometheus

namespace tahe::pg {

// Maps a libpqxx (or other) exception to a status: unique violation -> ALREADY_EXISTS, other
// integrity violations and bad data -> FAILED_PRECONDITION / INVALID_ARGUMENT, serialization
// failure and deadlock -> ABORTED (retryable), broken connection and unknown commit outcome ->
// UNAVAILABLE, RLS or privilege violation -> PERMISSION_DENIED, statement timeout ->
// DEADLINE_EXCEEDED, anything else -> INTERNAL. Messages keep the server's first line and drop
// DETAIL lines, which can contain row values (personal data).
absl::Status StatusFromException(const std::exception& e);

// `conninfo` with connect_timeout=5 added unless it sets one: an unreachable database must fail a
// connection attempt in seconds, not hang a worker (and shutdown) on the kernel's TCP timeout.
std::string WithConnectTimeout(const std::string& conninfo);

// True for errors worth retrying the whole transaction for (serialization failure, deadlock).
bool IsRetryable(const absl::Status& status);

class Pool {
 public:
  struct Options {
    std::string conninfo;
    int size = 8;
    // How long Acquire waits for a free connection before answering UNAVAILABLE (retryable).
    absl::Duration acquire_timeout = absl::Seconds(5);
    // Label of the pool's metrics (tahe_db_pool_*{pool="..."}).
    std::string name = "main";
    // Run on every new connection (prepare statements, set session parameters).
    std::function<void(pqxx::connection&)> on_connect;
  };

  // A connection on loan; returned to the pool when destroyed.
  class Lease {
   public:
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    pqxx::connection& conn() { return *conn_; }
    // The connection is broken or in an unknown state: close it instead of returning it.
    void Discard() { discard_ = true; }

   private:
    friend class Pool;
    Lease(Pool* pool, std::unique_ptr<pqxx::connection> conn)
        : pool_(pool), conn_(std::move(conn)) {}
    Pool* pool_;
    std::unique_ptr<pqxx::connection> conn_;
    bool discard_ = false;
  };

  // Connects once to check the settings (a bad URL or password is an error now, not later).
  // `registry` may be null (no metrics).
  static absl::StatusOr<std::unique_ptr<Pool>> Create(Options options,
                                                      prometheus::Registry* registry);
  ~Pool();

  // UNAVAILABLE when no connection frees up within acquire_timeout (or before `deadline`, if
  // sooner) or the database is down.
  absl::StatusOr<Lease> Acquire(absl::Time deadline = absl::InfiniteFuture());

  int size() const { return options_.size; }
  const Options& options() const { return options_; }

 private:
  struct Metrics;
  Pool(Options options, prometheus::Registry* registry);
  void Return(std::unique_ptr<pqxx::connection> conn, bool discard);
  absl::StatusOr<std::unique_ptr<pqxx::connection>> Connect();

  const Options options_;
  std::unique_ptr<Metrics> metrics_;
  std::mutex mu_;
  std::condition_variable freed_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_;  // guarded by mu_
  int open_ = 0;                                         // guarded by mu_
};

struct TxOptions {
  // Retries of the whole transaction after a serialization failure or deadlock.
  int max_attempts = 5;
  // Statement timeout for the transaction; infinite = the server's default.
  absl::Time deadline = absl::InfiniteFuture();
  bool serializable = false;
  bool read_only = false;
};

// Runs `body` in one transaction scoped to `tenant` (empty: no tenant, for cross-tenant
// maintenance only). Commits when body returns OK, rolls back otherwise. Retries body on
// retryable errors, so body must be safe to run again (no side effects outside the transaction).
absl::Status RunInTransaction(Pool& pool, absl::string_view tenant, const TxOptions& options,
                              const std::function<absl::Status(pqxx::work&)>& body);

template <typename T>
absl::StatusOr<T> InTenantTransaction(Pool& pool, absl::string_view tenant,
                                      const TxOptions& options,
                                      const std::function<absl::StatusOr<T>(pqxx::work&)>& body) {
  std::optional<T> out;
  absl::Status status = RunInTransaction(pool, tenant, options, [&](pqxx::work& tx) {
    absl::StatusOr<T> result = body(tx);
    if (!result.ok()) {
      return result.status();
    }
    out = *std::move(result);
    return absl::OkStatus();
  });
  if (!status.ok()) {
    return status;
  }
  return *std::move(out);
}

// Sets the tenant (and the statement timeout of `options`) inside an open transaction.
void ScopeTransaction(pqxx::work& tx, absl::string_view tenant, const TxOptions& options);

// Quotes a text array literal for a parameter of type text[] ("{\"a\",\"b\"}").
std::string TextArray(const std::vector<std::string>& values);
std::string Int64Array(const std::vector<int64_t>& values);

}  // namespace tahe::pg
