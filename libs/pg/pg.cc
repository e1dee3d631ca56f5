#include "libs/pg/pg.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace tahe::pg {

namespace {

std::string FirstLine(const char* what) {
  absl::string_view text(what);
  size_t nl = text.find('\n');
  std::string line(nl == absl::string_view::npos ? text : text.substr(0, nl));
  // "ERROR:  message" -> "message"
  for (absl::string_view prefix : {"ERROR:  ", "FATAL:  "}) {
    if (absl::StartsWith(line, prefix)) {
      line = line.substr(prefix.size());
    }
  }
  return line;
}

}  // namespace

std::string WithConnectTimeout(const std::string& conninfo) {
  if (conninfo.find("connect_timeout") != std::string::npos) {
    return conninfo;
  }
  if (absl::StartsWith(conninfo, "postgresql://") || absl::StartsWith(conninfo, "postgres://")) {
    return absl::StrCat(conninfo, conninfo.find('?') == std::string::npos ? "?" : "&",
                        "connect_timeout=5");
  }
  return absl::StrCat(conninfo, " connect_timeout=5");
}

absl::Status StatusFromException(const std::exception& e) {
  if (dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr) {
    return absl::UnavailableError(absl::StrCat("database connection lost: ", FirstLine(e.what())));
  }
  if (dynamic_cast<const pqxx::in_doubt_error*>(&e) != nullptr ||
      dynamic_cast<const pqxx::statement_completion_unknown*>(&e) != nullptr) {
    return absl::UnavailableError(
        "database commit outcome unknown; retry with the same request id");
  }
  if (dynamic_cast<const pqxx::serialization_failure*>(&e) != nullptr ||
      dynamic_cast<const pqxx::deadlock_detected*>(&e) != nullptr ||
      dynamic_cast<const pqxx::transaction_rollback*>(&e) != nullptr) {
    return absl::AbortedError(absl::StrCat("transaction conflict: ", FirstLine(e.what())));
  }
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e); sql != nullptr) {
    std::string state = sql->sqlstate();
    if (state.empty()) {
      // libpqxx 6.4 does not always carry the SQLSTATE; fall back to the exception class.
      if (dynamic_cast<const pqxx::unique_violation*>(&e) != nullptr) {
        state = "23505";
      } else if (dynamic_cast<const pqxx::integrity_constraint_violation*>(&e) != nullptr) {
        state = "23000";
      } else if (dynamic_cast<const pqxx::data_exception*>(&e) != nullptr) {
        state = "22000";
      } else if (dynamic_cast<const pqxx::insufficient_privilege*>(&e) != nullptr) {
        state = "42501";
      } else if (dynamic_cast<const pqxx::plpgsql_raise*>(&e) != nullptr) {
        state = "P0001";
      }
    }
    std::string message = FirstLine(e.what());
    if (state == "23505") {
      return absl::AlreadyExistsError(message);
    }
    if (absl::StartsWith(state, "23")) {
      return absl::FailedPreconditionError(message);
    }
    if (state == "22003") {
      return absl::OutOfRangeError(message);
    }
    if (absl::StartsWith(state, "22")) {
      return absl::InvalidArgumentError(message);
    }
    if (state == "42501") {
      return absl::PermissionDeniedError(message);
    }
    if (state == "57014") {
      return absl::DeadlineExceededError(message);
    }
    if (state == "P0001") {
      return absl::FailedPreconditionError(message);
    }
    if (state == "40001" || state == "40P01") {
      return absl::AbortedError(message);
    }
    if (absl::StartsWith(state, "08") || state == "57P01" || state == "57P02" || state == "57P03" ||
        state == "53300") {
      return absl::UnavailableError(message);
    }
    return absl::InternalError(absl::StrCat("database error ", state, ": ", message));
  }
  return absl::InternalError(absl::StrCat("unexpected exception: ", FirstLine(e.what())));
}

bool IsRetryable(const absl::Status& status) { return status.code() == absl::StatusCode::kAborted; }

struct Pool::Metrics {
  prometheus::Gauge* in_use = nullptr;
  prometheus::Gauge* idle = nullptr;
  prometheus::Gauge* max = nullptr;
  prometheus::Counter* timeouts = nullptr;
  prometheus::Counter* connects = nullptr;
  prometheus::Counter* discarded = nullptr;
  prometheus::Histogram* wait = nullptr;
};

Pool::Pool(Options options, prometheus::Registry* registry)
    : options_(std::move(options)), metrics_(std::make_unique<Metrics>()) {
  if (registry == nullptr) {
    return;
  }
  const std::map<std::string, std::string> labels{{"pool", options_.name}};
  auto& conns = prometheus::BuildGauge()
                    .Name("tahe_db_pool_connections")
                    .Help("Database connections of the pool by state (in_use, idle, max)")
                    .Register(*registry);
  metrics_->in_use = &conns.Add({{"pool", options_.name}, {"state", "in_use"}});
  metrics_->idle = &conns.Add({{"pool", options_.name}, {"state", "idle"}});
  metrics_->max = &conns.Add({{"pool", options_.name}, {"state", "max"}});
  metrics_->max->Set(options_.size);
  metrics_->timeouts = &prometheus::BuildCounter()
                            .Name("tahe_db_pool_acquire_timeouts_total")
                            .Help("Acquires that found no free connection in time (pool exhausted)")
                            .Register(*registry)
                            .Add(labels);
  metrics_->connects = &prometheus::BuildCounter()
                            .Name("tahe_db_pool_connects_total")
                            .Help("New database connections opened")
                            .Register(*registry)
                            .Add(labels);
  metrics_->discarded = &prometheus::BuildCounter()
                             .Name("tahe_db_pool_discarded_total")
                             .Help("Connections closed because they broke")
                             .Register(*registry)
                             .Add(labels);
  metrics_->wait = &prometheus::BuildHistogram()
                        .Name("tahe_db_pool_acquire_seconds")
                        .Help("Time spent waiting for a free connection")
                        .Register(*registry)
                        .Add(labels, prometheus::Histogram::BucketBoundaries{
                                         0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5});
}

Pool::~Pool() = default;

absl::StatusOr<std::unique_ptr<Pool>> Pool::Create(Options options,
                                                   prometheus::Registry* registry) {
  if (options.size < 1) {
    return absl::InvalidArgumentError("database pool size must be at least 1");
  }
  std::unique_ptr<Pool> pool(new Pool(std::move(options), registry));
  ASSIGN_OR_RETURN(auto first, pool->Connect());
  std::lock_guard<std::mutex> lock(pool->mu_);
  pool->open_ = 1;
  pool->idle_.push_back(std::move(first));
  if (pool->metrics_->idle != nullptr) {
    pool->metrics_->idle->Set(1);
  }
  return pool;
}

absl::StatusOr<std::unique_ptr<pqxx::connection>> Pool::Connect() {
  try {
    auto conn = std::make_unique<pqxx::connection>(WithConnectTimeout(options_.conninfo));
    if (options_.on_connect) {
      options_.on_connect(*conn);
    }
    if (metrics_->connects != nullptr) {
      metrics_->connects->Increment();
    }
    return conn;
  } catch (const std::exception& e) {
    absl::Status status = StatusFromException(e);
    return absl::UnavailableError(
        absl::StrCat("cannot connect to the database: ", status.message()));
  }
}

absl::StatusOr<Pool::Lease> Pool::Acquire(absl::Time caller_deadline) {
  auto start = std::chrono::steady_clock::now();
  std::unique_lock<std::mutex> lock(mu_);
  absl::Duration wait = std::min(options_.acquire_timeout,
                                 std::max(absl::ZeroDuration(), caller_deadline - absl::Now()));
  auto deadline = start + absl::ToChronoNanoseconds(wait);
  while (idle_.empty() && open_ >= options_.size) {
    if (freed_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
        open_ >= options_.size) {
      if (metrics_->timeouts != nullptr) {
        metrics_->timeouts->Increment();
      }
      return absl::UnavailableError("database pool exhausted: no free connection in time");
    }
  }
  auto observe = [&] {
    if (metrics_->wait != nullptr) {
      metrics_->wait->Observe(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      metrics_->in_use->Increment();
      metrics_->idle->Set(static_cast<double>(idle_.size()));
    }
  };
  if (!idle_.empty()) {
    auto conn = std::move(idle_.back());
    idle_.pop_back();
    observe();
    return Lease(this, std::move(conn));
  }
  ++open_;  // reserve the slot, connect without holding the lock
  lock.unlock();
  absl::StatusOr<std::unique_ptr<pqxx::connection>> conn = Connect();
  lock.lock();
  if (!conn.ok()) {
    --open_;
    freed_.notify_one();
    return conn.status();
  }
  observe();
  return Lease(this, *std::move(conn));
}

void Pool::Return(std::unique_ptr<pqxx::connection> conn, bool discard) {
  std::lock_guard<std::mutex> lock(mu_);
  if (discard || !conn->is_open()) {
    --open_;
    if (metrics_->discarded != nullptr) {
      metrics_->discarded->Increment();
    }
  } else {
    idle_.push_back(std::move(conn));
  }
  if (metrics_->in_use != nullptr) {
    metrics_->in_use->Decrement();
    metrics_->idle->Set(static_cast<double>(idle_.size()));
  }
  freed_.notify_one();
}

Pool::Lease::Lease(Lease&& other) noexcept
    : pool_(other.pool_), conn_(std::move(other.conn_)), discard_(other.discard_) {
  other.pool_ = nullptr;
}

Pool::Lease::~Lease() {
  if (pool_ != nullptr && conn_ != nullptr) {
    pool_->Return(std::move(conn_), discard_);
  }
}

void ScopeTransaction(pqxx::work& tx, absl::string_view tenant, const TxOptions& options) {
  // Isolation and access mode must come before any query of the transaction.
  if (options.serializable) {
    tx.exec("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE");
  }
  if (options.read_only) {
    tx.exec("SET TRANSACTION READ ONLY");
  }
  if (!tenant.empty()) {
    tx.exec_params("SELECT set_config('tahe.tenant', $1, true)", std::string(tenant));
  }
  if (options.deadline != absl::InfiniteFuture()) {
    int64_t ms = absl::ToInt64Milliseconds(options.deadline - absl::Now());
    if (ms < 1) {
      ms = 1;
    }
    tx.exec_params("SELECT set_config('statement_timeout', $1, true)", std::to_string(ms));
  }
}

absl::Status RunInTransaction(Pool& pool, absl::string_view tenant, const TxOptions& options,
                              const std::function<absl::Status(pqxx::work&)>& body) {
  absl::Status status;
  for (int attempt = 1; attempt <= std::max(1, options.max_attempts); ++attempt) {
    if (absl::Now() >= options.deadline) {
      return absl::DeadlineExceededError("deadline exceeded before the transaction could run");
    }
    ASSIGN_OR_RETURN(Pool::Lease lease, pool.Acquire(options.deadline));
    try {
      pqxx::work tx(lease.conn());
      ScopeTransaction(tx, tenant, options);
      status = body(tx);
      if (status.ok()) {
        tx.commit();
        return status;
      }
      tx.abort();
    } catch (const std::exception& e) {
      status = StatusFromException(e);
      if (status.code() == absl::StatusCode::kUnavailable) {
        lease.Discard();  // broken or in an unknown state
      }
    }
    if (!IsRetryable(status)) {
      return status;
    }
  }
  return absl::UnavailableError(
      absl::StrCat("transaction kept conflicting, retry later: ", status.message()));
}

namespace {
std::string QuoteArrayElement(absl::string_view value) {
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
    }
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}
}  // namespace

std::string TextArray(const std::vector<std::string>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) {
      out.push_back(',');
    }
    out += QuoteArrayElement(values[i]);
  }
  out.push_back('}');
  return out;
}

std::string Int64Array(const std::vector<int64_t>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) {
      out.push_back(',');
    }
    absl::StrAppend(&out, values[i]);
  }
  out.push_back('}');
  return out;
}

}  // namespace tahe::pg
