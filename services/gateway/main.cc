// tahe_gateway: the suite's one public entry point. Wiring only; see router.h, proxy.h and
// admin_service.h. The admin API (tahe.gateway.v1.AdminService) is a registered service, which
// wins over the proxy (the generic service serves only methods no registered service handles).

#include <memory>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "libs/config/config.h"
#include "libs/log/log.h"
#include "libs/metrics/metrics_registry.h"
#include "libs/pg/migrations.h"
#include "libs/pg/pg.h"
#include "libs/server/grpc_server.h"
#include "libs/server/service_main.h"
#include "libs/server/tls.h"
#include "libs/server/worker_pool.h"
#include "libs/status/status.h"
#include "services/gateway/admin_service.h"
#include "services/gateway/gateway_repository.h"
#include "services/gateway/proxy.h"
#include "services/gateway/router.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:50000", "gRPC listen address host:port");
ABSL_FLAG(std::string, metrics_listen, "127.0.0.1:9460", "Prometheus /metrics address host:port");
ABSL_FLAG(std::string, db_url, "", "PostgreSQL conninfo of the application role (not the owner)");
ABSL_FLAG(std::string, db_migrate_url, "",
          "PostgreSQL conninfo of the owner role; if set, migrations are applied at start");
ABSL_FLAG(int, db_pool_size, 4, "Connections to gateway_db (snapshot reloads, admin API)");
ABSL_FLAG(std::string, internal_token, "", "Internal credential the backends require");
ABSL_FLAG(std::string, internal_token_file, "", "File holding the internal credential");
ABSL_FLAG(int, snapshot_refresh_ms, 1000,
          "How often the routing directory (keys, organisations, regions) is reloaded");
ABSL_FLAG(double, rate_per_second, 200,
          "Per-organisation token-bucket refill rate (calls/s); <= 0 disables rate limiting");
ABSL_FLAG(double, rate_burst, 400, "Per-organisation token-bucket size (largest burst)");
ABSL_FLAG(std::string, bootstrap_admin_key_file, "",
          "If set and the directory has no admin key yet, issue one (role admin) at start and "
          "write its secret to this file (mode 0600); see BootstrapAdminKey");
ABSL_FLAG(int, shutdown_grace_seconds, 20, "How long in-flight calls may finish on SIGTERM");
ABSL_FLAG(int, proxy_threads, 0,
          "Threads (each with its completion queue) that relay proxied calls; 0 = one per core");

namespace {

absl::Status Run() {
  using tahe::config::ValidateHostPort;
  const std::string listen = absl::GetFlag(FLAGS_listen);
  const std::string metrics_listen = absl::GetFlag(FLAGS_metrics_listen);
  RETURN_IF_ERROR(ValidateHostPort("--listen", listen));
  RETURN_IF_ERROR(ValidateHostPort("--metrics_listen", metrics_listen));
  RETURN_IF_ERROR(tahe::config::ValidatePostgresUrl("--db_url", absl::GetFlag(FLAGS_db_url)));
  RETURN_IF_ERROR(
      tahe::config::ValidateRange("--db_pool_size", absl::GetFlag(FLAGS_db_pool_size), 1, 100));
  RETURN_IF_ERROR(tahe::config::ValidateRange(
      "--snapshot_refresh_ms", absl::GetFlag(FLAGS_snapshot_refresh_ms), 50, 600000));
  const double rate = absl::GetFlag(FLAGS_rate_per_second);
  const double burst = absl::GetFlag(FLAGS_rate_burst);
  if (rate > 0 && !(burst >= 1)) {
    return absl::InvalidArgumentError("--rate_burst: at least 1 when rate limiting is on");
  }
  ASSIGN_OR_RETURN(std::string token, tahe::server::ReadSecretFlag(
                                          "--internal_token", absl::GetFlag(FLAGS_internal_token),
                                          absl::GetFlag(FLAGS_internal_token_file), 16));
  RETURN_IF_ERROR(
      tahe::config::ValidateRange("--proxy_threads", absl::GetFlag(FLAGS_proxy_threads), 0, 64));
  if (!absl::GetFlag(FLAGS_db_migrate_url).empty()) {
    RETURN_IF_ERROR(tahe::pg::ApplyMigrations(absl::GetFlag(FLAGS_db_migrate_url),
                                              tahe::gateway::Migrations()));
    tahe::log::Info("migrations applied");
  }

  ASSIGN_OR_RETURN(auto metrics, tahe::metrics::MetricsRegistry::Start(metrics_listen));
  ASSIGN_OR_RETURN(tahe::server::ServiceTls tls,
                   tahe::server::LoadServiceTls(&metrics->registry()));
  ASSIGN_OR_RETURN(auto pool, tahe::pg::Pool::Create({.conninfo = absl::GetFlag(FLAGS_db_url),
                                                      .size = absl::GetFlag(FLAGS_db_pool_size),
                                                      .name = "gateway"},
                                                     &metrics->registry()));
  tahe::gateway::GatewayRepository repository(pool.get());
  if (const std::string bootstrap = absl::GetFlag(FLAGS_bootstrap_admin_key_file);
      !bootstrap.empty()) {
    RETURN_IF_ERROR(tahe::gateway::BootstrapAdminKey(repository, bootstrap).status());
  }
  ASSIGN_OR_RETURN(
      auto cache,
      tahe::gateway::SnapshotCache::Start(
          &repository, {.refresh = absl::Milliseconds(absl::GetFlag(FLAGS_snapshot_refresh_ms))},
          &metrics->registry()));
  tahe::gateway::GatewayRouter router(cache.get(), metrics->registry(),
                                      {.internal_token = token,
                                       .rate_limit = {.rate_per_second = rate, .burst = burst},
                                       .upstream_credentials = tls.upstream});
  tahe::gateway::ProxyService proxy(router.AsRouter(),
                                    {.threads = absl::GetFlag(FLAGS_proxy_threads)});
  // Admin calls block on gateway_db: one worker per pool connection.
  tahe::server::WorkerPool admin_workers(absl::GetFlag(FLAGS_db_pool_size));
  tahe::gateway::AdminService admin(
      &repository, cache.get(), &admin_workers,
      {.on_auth_failure =
           [&router](tahe::gateway::AuthFailure failure) { router.CountAuthFailure(failure); },
       .may_move =
           [&router](const std::string& organisation, const std::string& from_region,
                     absl::Time deadline) {
             return router.CheckNoTenantData(organisation, from_region, deadline);
           }});

  ASSIGN_OR_RETURN(auto server,
                   tahe::server::GrpcServer::Start({.listen = listen,
                                                    .services = {&admin},
                                                    .health_names = {tahe::gateway::kAdminService},
                                                    .metrics = &metrics->registry(),
                                                    .generic_service = &proxy,
                                                    .credentials = tls.server,
                                                    .health_listen = tls.health_listen}));
  tahe::log::Info("gateway serving",
                  {{"grpc", server->address()},
                   {"metrics", tahe::server::MetricsUrl(metrics_listen, metrics->port())}});

  int sig = tahe::server::WaitForTerminationSignal();
  tahe::log::Info("shutting down", {{"signal", absl::StrCat(sig)}});
  server->Shutdown(absl::Seconds(absl::GetFlag(FLAGS_shutdown_grace_seconds)));
  admin_workers.Drain();
  cache->Stop();
  tahe::log::Info("stopped");
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  return tahe::server::ServiceMain(
      argc, argv, "gateway",
      {{"listen", "TAHE_GATEWAY_LISTEN"},
       {"metrics_listen", "TAHE_GATEWAY_METRICS_LISTEN"},
       {"db_url", "TAHE_GATEWAY_DB_URL"},
       {"db_migrate_url", "TAHE_GATEWAY_DB_MIGRATE_URL"},
       {"db_pool_size", "TAHE_GATEWAY_DB_POOL_SIZE"},
       {"internal_token", "TAHE_INTERNAL_TOKEN"},
       {"internal_token_file", "TAHE_INTERNAL_TOKEN_FILE"},
       {"snapshot_refresh_ms", "TAHE_GATEWAY_SNAPSHOT_REFRESH_MS"},
       {"rate_per_second", "TAHE_GATEWAY_RATE_PER_SECOND"},
       {"rate_burst", "TAHE_GATEWAY_RATE_BURST"},
       {"bootstrap_admin_key_file", "TAHE_GATEWAY_BOOTSTRAP_ADMIN_KEY_FILE"},
       {"shutdown_grace_seconds", "TAHE_SHUTDOWN_GRACE_SECONDS"},
       {"proxy_threads", "TAHE_GATEWAY_PROXY_THREADS"}},
      Run);
}
