// tahe_ledger: the general ledger service of one cell. Wiring only; see README.md.

#include <memory>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "libs/config/config.h"
#include "libs/log/log.h"
#include "libs/metrics/metrics_registry.h"
#include "libs/pg/migrations.h"
#include "libs/pg/pg.h"
#include "libs/server/call.h"
#include "libs/server/grpc_server.h"
#include "libs/server/service_main.h"
#include "libs/server/tenant_data_service.h"
#include "libs/server/tls.h"
#include "services/ledger/group_commit.h"
#include "services/ledger/ledger_migrations.h"
#include "services/ledger/ledger_repository.h"
#include "services/ledger/ledger_service.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:50051", "gRPC listen address host:port");
ABSL_FLAG(std::string, metrics_listen, "127.0.0.1:9461", "Prometheus /metrics address host:port");
ABSL_FLAG(std::string, db_url, "", "PostgreSQL conninfo of the application role (not the owner)");
ABSL_FLAG(std::string, db_migrate_url, "",
          "PostgreSQL conninfo of the owner role; if set, migrations are applied at start");
ABSL_FLAG(int, db_pool_size, 16,
          "Worker threads for database work; the pool has this many connections plus one per "
          "commit thread, so committers never wait behind readers");
ABSL_FLAG(std::string, internal_token, "", "Internal credential trusted callers present");
ABSL_FLAG(std::string, internal_token_file, "", "File holding the internal credential");
ABSL_FLAG(int, commit_threads, 4, "Group-commit threads (each serves a share of the tenants)");
ABSL_FLAG(int, commit_max_batch, 256, "Most entries committed in one group transaction");
ABSL_FLAG(int, shutdown_grace_seconds, 20, "How long in-flight calls may finish on SIGTERM");

namespace ledger_v1 = ::tahe::ledger;

namespace {

absl::Status Run() {
  using tahe::config::ValidateHostPort;
  const std::string listen = absl::GetFlag(FLAGS_listen);
  const std::string metrics_listen = absl::GetFlag(FLAGS_metrics_listen);
  RETURN_IF_ERROR(ValidateHostPort("--listen", listen));
  RETURN_IF_ERROR(ValidateHostPort("--metrics_listen", metrics_listen));
  RETURN_IF_ERROR(tahe::config::ValidatePostgresUrl("--db_url", absl::GetFlag(FLAGS_db_url)));
  RETURN_IF_ERROR(
      tahe::config::ValidateRange("--db_pool_size", absl::GetFlag(FLAGS_db_pool_size), 1, 500));
  RETURN_IF_ERROR(
      tahe::config::ValidateRange("--commit_threads", absl::GetFlag(FLAGS_commit_threads), 1, 16));
  RETURN_IF_ERROR(tahe::config::ValidateRange("--commit_max_batch",
                                              absl::GetFlag(FLAGS_commit_max_batch), 1, 10000));
  ASSIGN_OR_RETURN(std::string token, tahe::server::ReadSecretFlag(
                                          "--internal_token", absl::GetFlag(FLAGS_internal_token),
                                          absl::GetFlag(FLAGS_internal_token_file), 16));
  if (!absl::GetFlag(FLAGS_db_migrate_url).empty()) {
    RETURN_IF_ERROR(
        tahe::pg::ApplyMigrations(absl::GetFlag(FLAGS_db_migrate_url), tahe::ledger::Migrations()));
    tahe::log::Info("migrations applied");
  }

  ASSIGN_OR_RETURN(auto metrics, tahe::metrics::MetricsRegistry::Start(metrics_listen));
  ASSIGN_OR_RETURN(tahe::server::ServiceTls tls,
                   tahe::server::LoadServiceTls(&metrics->registry()));
  const int pool_size = absl::GetFlag(FLAGS_db_pool_size);
  ASSIGN_OR_RETURN(auto pool,
                   tahe::pg::Pool::Create({.conninfo = absl::GetFlag(FLAGS_db_url),
                                           .size = pool_size + absl::GetFlag(FLAGS_commit_threads),
                                           .name = "ledger"},
                                          &metrics->registry()));
  tahe::ledger::LedgerMetrics ledger_metrics(&metrics->registry());
  tahe::ledger::LedgerRepository repository(pool.get(), &ledger_metrics);
  tahe::ledger::GroupCommitter committer(&repository,
                                         {.threads = absl::GetFlag(FLAGS_commit_threads),
                                          .max_batch = absl::GetFlag(FLAGS_commit_max_batch)});
  tahe::server::Authenticator auth(token);
  tahe::server::WorkerPool workers(pool_size);
  tahe::ledger::LedgerService service(&repository, &committer, {&auth, &workers}, {});
  tahe::server::TenantDataService tenant_data({&auth, &workers},
                                              [&repository](const tahe::server::CallContext& call) {
                                                return repository.DescribeTenantData(call);
                                              });

  ASSIGN_OR_RETURN(auto server,
                   tahe::server::GrpcServer::Start(
                       {.listen = listen,
                        .services = {&service, &tenant_data},
                        .health_names = {tahe::ledger::v1::LedgerService::service_full_name()},
                        .metrics = &metrics->registry(),
                        .credentials = tls.server,
                        .health_listen = tls.health_listen}));
  tahe::log::Info("ledger serving",
                  {{"grpc", server->address()},
                   {"metrics", tahe::server::MetricsUrl(metrics_listen, metrics->port())}});

  int sig = tahe::server::WaitForTerminationSignal();
  tahe::log::Info("shutting down", {{"signal", absl::StrCat(sig)}});
  service.BeginShutdown();
  server->Shutdown(absl::Seconds(absl::GetFlag(FLAGS_shutdown_grace_seconds)));
  committer.Stop();
  workers.Drain();
  tahe::log::Info("stopped");
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  return tahe::server::ServiceMain(argc, argv, "ledger",
                                   {{"listen", "TAHE_LEDGER_LISTEN"},
                                    {"metrics_listen", "TAHE_LEDGER_METRICS_LISTEN"},
                                    {"db_url", "TAHE_LEDGER_DB_URL"},
                                    {"db_migrate_url", "TAHE_LEDGER_DB_MIGRATE_URL"},
                                    {"db_pool_size", "TAHE_LEDGER_DB_POOL_SIZE"},
                                    {"internal_token", "TAHE_INTERNAL_TOKEN"},
                                    {"internal_token_file", "TAHE_INTERNAL_TOKEN_FILE"},
                                    {"commit_threads", "TAHE_LEDGER_COMMIT_THREADS"},
                                    {"commit_max_batch", "TAHE_LEDGER_COMMIT_MAX_BATCH"},
                                    {"shutdown_grace_seconds", "TAHE_SHUTDOWN_GRACE_SECONDS"}},
                                   Run);
}
