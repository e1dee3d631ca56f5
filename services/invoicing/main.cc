// tahe_invoicing: invoicing of one cell. Wiring only; see invoicing_repository.h,
// invoicing_service.h and libs/outbox/outbox.h.

#include <memory>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "libs/config/config.h"
#include "libs/log/log.h"
#include "libs/metrics/grpc_metrics.h"
#include "libs/metrics/metrics_registry.h"
#include "libs/outbox/outbox.h"
#include "libs/pg/migrations.h"
#include "libs/pg/pg.h"
#include "libs/server/grpc_server.h"
#include "libs/server/service_main.h"
#include "libs/server/tenant_data_service.h"
#include "libs/server/tls.h"
#include "libs/server/worker_pool.h"
#include "libs/status/status.h"
#include "services/invoicing/invoicing_repository.h"
#include "services/invoicing/invoicing_service.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:50071", "gRPC listen address host:port");
ABSL_FLAG(std::string, metrics_listen, "127.0.0.1:9480", "Prometheus /metrics address host:port");
ABSL_FLAG(std::string, db_url, "", "PostgreSQL conninfo of the application role (not the owner)");
ABSL_FLAG(std::string, db_migrate_url, "",
          "PostgreSQL conninfo of the owner role; if set, migrations are applied at start");
ABSL_FLAG(int, db_pool_size, 8, "Connections to invoicing_db (and worker threads)");
ABSL_FLAG(std::string, internal_token, "", "Internal credential callers must present");
ABSL_FLAG(std::string, internal_token_file, "", "File holding the internal credential");
ABSL_FLAG(std::string, identity_key, "",
          "Key of the personal identity codes' keyed hash (at least 32 bytes)");
ABSL_FLAG(std::string, identity_key_file, "", "File holding --identity_key");
ABSL_FLAG(std::string, ledger_addr, "", "The cell's ledger, host:port (the outbox's destination)");
ABSL_FLAG(int, shutdown_grace_seconds, 20, "How long in-flight calls may finish on SIGTERM");

namespace {

absl::Status Run() {
  using tahe::config::ValidateHostPort;
  const std::string listen = absl::GetFlag(FLAGS_listen);
  const std::string metrics_listen = absl::GetFlag(FLAGS_metrics_listen);
  RETURN_IF_ERROR(ValidateHostPort("--listen", listen));
  RETURN_IF_ERROR(ValidateHostPort("--metrics_listen", metrics_listen));
  RETURN_IF_ERROR(ValidateHostPort("--ledger_addr", absl::GetFlag(FLAGS_ledger_addr)));
  RETURN_IF_ERROR(tahe::config::ValidatePostgresUrl("--db_url", absl::GetFlag(FLAGS_db_url)));
  const int pool_size = absl::GetFlag(FLAGS_db_pool_size);
  RETURN_IF_ERROR(tahe::config::ValidateRange("--db_pool_size", pool_size, 1, 200));
  ASSIGN_OR_RETURN(std::string token, tahe::server::ReadSecretFlag(
                                          "--internal_token", absl::GetFlag(FLAGS_internal_token),
                                          absl::GetFlag(FLAGS_internal_token_file), 16));
  ASSIGN_OR_RETURN(std::string identity_key,
                   tahe::server::ReadSecretFlag("--identity_key", absl::GetFlag(FLAGS_identity_key),
                                                absl::GetFlag(FLAGS_identity_key_file), 32));
  if (!absl::GetFlag(FLAGS_db_migrate_url).empty()) {
    RETURN_IF_ERROR(tahe::pg::ApplyMigrations(absl::GetFlag(FLAGS_db_migrate_url),
                                              tahe::invoicing::Migrations()));
    tahe::log::Info("migrations applied");
  }

  ASSIGN_OR_RETURN(auto metrics, tahe::metrics::MetricsRegistry::Start(metrics_listen));
  ASSIGN_OR_RETURN(tahe::server::ServiceTls tls,
                   tahe::server::LoadServiceTls(&metrics->registry()));
  ASSIGN_OR_RETURN(auto pool, tahe::pg::Pool::Create({.conninfo = absl::GetFlag(FLAGS_db_url),
                                                      .size = pool_size + 1,
                                                      .name = "invoicing"},
                                                     &metrics->registry()));
  tahe::invoicing::InvoicingMetrics invoicing_metrics(&metrics->registry());
  tahe::invoicing::InvoicingRepository repository(
      pool.get(), {.identity_key = identity_key, .metrics = &invoicing_metrics});
  tahe::outbox::LedgerOutboxRelay relay(
      repository.outbox(),
      tahe::metrics::CreateMeteredChannel(absl::GetFlag(FLAGS_ledger_addr), tls.upstream,
                                          metrics->registry()),
      token, &metrics->registry(),
      {.metric_prefix = "tahe_invoicing_outbox", .principal = "service:invoicing"});
  relay.Start();
  tahe::server::Authenticator auth(token);
  tahe::server::WorkerPool workers(pool_size);
  tahe::invoicing::InvoicingService service(&repository, {&auth, &workers},
                                            [&relay] { relay.Wake(); });
  tahe::server::TenantDataService tenant_data({&auth, &workers},
                                              [&repository](const tahe::server::CallContext& call) {
                                                return repository.DescribeTenantData(call);
                                              });

  ASSIGN_OR_RETURN(
      auto server,
      tahe::server::GrpcServer::Start(
          {.listen = listen,
           .services = {&service, &tenant_data},
           .health_names = {tahe::invoicing::v1::InvoicingService::service_full_name()},
           .metrics = &metrics->registry(),
           .credentials = tls.server,
           .health_listen = tls.health_listen}));
  tahe::log::Info("invoicing serving",
                  {{"grpc", server->address()},
                   {"metrics", tahe::server::MetricsUrl(metrics_listen, metrics->port())}});

  int sig = tahe::server::WaitForTerminationSignal();
  tahe::log::Info("shutting down", {{"signal", absl::StrCat(sig)}});
  service.BeginShutdown();  // ends open watch streams so shutdown need not wait for them
  server->Shutdown(absl::Seconds(absl::GetFlag(FLAGS_shutdown_grace_seconds)));
  workers.Drain();
  relay.Stop();
  tahe::log::Info("stopped");
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  return tahe::server::ServiceMain(argc, argv, "invoicing",
                                   {{"listen", "TAHE_INVOICING_LISTEN"},
                                    {"metrics_listen", "TAHE_INVOICING_METRICS_LISTEN"},
                                    {"db_url", "TAHE_INVOICING_DB_URL"},
                                    {"db_migrate_url", "TAHE_INVOICING_DB_MIGRATE_URL"},
                                    {"db_pool_size", "TAHE_INVOICING_DB_POOL_SIZE"},
                                    {"internal_token", "TAHE_INTERNAL_TOKEN"},
                                    {"internal_token_file", "TAHE_INTERNAL_TOKEN_FILE"},
                                    {"identity_key", "TAHE_INVOICING_IDENTITY_KEY"},
                                    {"identity_key_file", "TAHE_INVOICING_IDENTITY_KEY_FILE"},
                                    {"ledger_addr", "TAHE_INVOICING_LEDGER_ADDR"},
                                    {"shutdown_grace_seconds", "TAHE_SHUTDOWN_GRACE_SECONDS"}},
                                   Run);
}
