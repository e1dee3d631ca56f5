// tahe_reporting: reporting of one cell. Wiring only; see reporting_repository.h,
// ledger_follower.h and reporting_service.h.

#include <memory>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "libs/config/config.h"
#include "libs/log/log.h"
#include "libs/metrics/grpc_metrics.h"
#include "libs/metrics/metrics_registry.h"
#include "libs/pg/migrations.h"
#include "libs/pg/pg.h"
#include "libs/server/grpc_server.h"
#include "libs/server/service_main.h"
#include "libs/server/tenant_data_service.h"
#include "libs/server/tls.h"
#include "libs/server/worker_pool.h"
#include "libs/status/status.h"
#include "services/reporting/ledger_follower.h"
#include "services/reporting/receivables_client.h"
#include "services/reporting/reporting_metrics.h"
#include "services/reporting/reporting_repository.h"
#include "services/reporting/reporting_service.h"
#include "services/reporting/tenant_data.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:50081", "gRPC listen address host:port");
ABSL_FLAG(std::string, metrics_listen, "127.0.0.1:9490", "Prometheus /metrics address host:port");
ABSL_FLAG(std::string, db_url, "", "PostgreSQL conninfo of the application role (not the owner)");
ABSL_FLAG(std::string, db_migrate_url, "",
          "PostgreSQL conninfo of the owner role; if set, migrations are applied at start");
ABSL_FLAG(int, db_pool_size, 8, "Connections to reporting_db for reports (and worker threads)");
ABSL_FLAG(std::string, internal_token, "", "Internal credential callers must present");
ABSL_FLAG(std::string, internal_token_file, "", "File holding the internal credential");
ABSL_FLAG(std::string, ledger_addr, "", "The cell's ledger, host:port (the change feed)");
ABSL_FLAG(std::string, invoicing_addr, "",
          "The cell's invoicing, host:port (receivables ageing); empty: no ageing");
ABSL_FLAG(int, feed_apply_threads, 2, "Threads applying feed batches (each holds a connection)");
ABSL_FLAG(int, feed_max_batch, 2000, "Most ledger entries applied in one transaction");
ABSL_FLAG(int, shutdown_grace_seconds, 20, "How long in-flight calls may finish on SIGTERM");

namespace {

absl::Status Run() {
  using tahe::config::ValidateHostPort;
  const std::string listen = absl::GetFlag(FLAGS_listen);
  const std::string metrics_listen = absl::GetFlag(FLAGS_metrics_listen);
  RETURN_IF_ERROR(ValidateHostPort("--listen", listen));
  RETURN_IF_ERROR(ValidateHostPort("--metrics_listen", metrics_listen));
  RETURN_IF_ERROR(ValidateHostPort("--ledger_addr", absl::GetFlag(FLAGS_ledger_addr)));
  const std::string invoicing_addr = absl::GetFlag(FLAGS_invoicing_addr);
  if (!invoicing_addr.empty()) {
    RETURN_IF_ERROR(ValidateHostPort("--invoicing_addr", invoicing_addr));
  }
  RETURN_IF_ERROR(tahe::config::ValidatePostgresUrl("--db_url", absl::GetFlag(FLAGS_db_url)));
  const int pool_size = absl::GetFlag(FLAGS_db_pool_size);
  RETURN_IF_ERROR(tahe::config::ValidateRange("--db_pool_size", pool_size, 1, 200));
  const int apply_threads = absl::GetFlag(FLAGS_feed_apply_threads);
  RETURN_IF_ERROR(tahe::config::ValidateRange("--feed_apply_threads", apply_threads, 1, 32));
  const int max_batch = absl::GetFlag(FLAGS_feed_max_batch);
  RETURN_IF_ERROR(tahe::config::ValidateRange("--feed_max_batch", max_batch, 1, 100000));
  ASSIGN_OR_RETURN(std::string token, tahe::server::ReadSecretFlag(
                                          "--internal_token", absl::GetFlag(FLAGS_internal_token),
                                          absl::GetFlag(FLAGS_internal_token_file), 16));
  if (!absl::GetFlag(FLAGS_db_migrate_url).empty()) {
    RETURN_IF_ERROR(tahe::pg::ApplyMigrations(absl::GetFlag(FLAGS_db_migrate_url),
                                              tahe::reporting::Migrations()));
    tahe::log::Info("migrations applied");
  }

  ASSIGN_OR_RETURN(auto metrics, tahe::metrics::MetricsRegistry::Start(metrics_listen));
  ASSIGN_OR_RETURN(tahe::server::ServiceTls tls,
                   tahe::server::LoadServiceTls(&metrics->registry()));
  // Workers and appliers each hold a connection; the feed's readers load checkpoints through it
  // too, briefly.
  ASSIGN_OR_RETURN(auto pool, tahe::pg::Pool::Create({.conninfo = absl::GetFlag(FLAGS_db_url),
                                                      .size = pool_size + apply_threads + 2,
                                                      .name = "reporting"},
                                                     &metrics->registry()));
  tahe::reporting::ReportingMetrics reporting_metrics(&metrics->registry());
  tahe::reporting::ReportingRepository repository(pool.get());
  tahe::reporting::LedgerFollower follower(
      tahe::metrics::CreateMeteredChannel(absl::GetFlag(FLAGS_ledger_addr), tls.upstream,
                                          metrics->registry()),
      token, &repository, &reporting_metrics,
      {.max_batch_entries = max_batch, .apply_threads = apply_threads});
  follower.Start();
  tahe::server::Authenticator auth(token);
  tahe::server::WorkerPool workers(pool_size);
  std::unique_ptr<tahe::reporting::InvoicingReceivables> receivables;
  if (!invoicing_addr.empty()) {
    receivables = std::make_unique<tahe::reporting::InvoicingReceivables>(
        tahe::metrics::CreateMeteredChannel(invoicing_addr, tls.upstream, metrics->registry()),
        token);
  }
  tahe::reporting::ReportingService service(
      &repository, &follower, &reporting_metrics, {&auth, &workers},
      {.receivables = receivables ? receivables->AsSource() : nullptr});
  tahe::server::TenantDataService tenant_data(
      {&auth, &workers}, [&pool](const tahe::server::CallContext& call) {
        return tahe::reporting::DescribeReportingTenantData(*pool, call);
      });

  ASSIGN_OR_RETURN(
      auto server,
      tahe::server::GrpcServer::Start(
          {.listen = listen,
           .services = {&service, &tenant_data},
           .health_names = {tahe::reporting::v1::ReportingService::service_full_name()},
           .metrics = &metrics->registry(),
           .credentials = tls.server,
           .health_listen = tls.health_listen}));
  tahe::log::Info("reporting serving",
                  {{"grpc", server->address()},
                   {"metrics", tahe::server::MetricsUrl(metrics_listen, metrics->port())}});

  int sig = tahe::server::WaitForTerminationSignal();
  tahe::log::Info("shutting down", {{"signal", absl::StrCat(sig)}});
  server->Shutdown(absl::Seconds(absl::GetFlag(FLAGS_shutdown_grace_seconds)));
  workers.Drain();
  follower.Stop();
  tahe::log::Info("stopped");
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  return tahe::server::ServiceMain(argc, argv, "reporting",
                                   {{"listen", "TAHE_REPORTING_LISTEN"},
                                    {"metrics_listen", "TAHE_REPORTING_METRICS_LISTEN"},
                                    {"db_url", "TAHE_REPORTING_DB_URL"},
                                    {"db_migrate_url", "TAHE_REPORTING_DB_MIGRATE_URL"},
                                    {"db_pool_size", "TAHE_REPORTING_DB_POOL_SIZE"},
                                    {"internal_token", "TAHE_INTERNAL_TOKEN"},
                                    {"internal_token_file", "TAHE_INTERNAL_TOKEN_FILE"},
                                    {"ledger_addr", "TAHE_REPORTING_LEDGER_ADDR"},
                                    {"invoicing_addr", "TAHE_REPORTING_INVOICING_ADDR"},
                                    {"feed_apply_threads", "TAHE_REPORTING_FEED_APPLY_THREADS"},
                                    {"feed_max_batch", "TAHE_REPORTING_FEED_MAX_BATCH"},
                                    {"shutdown_grace_seconds", "TAHE_SHUTDOWN_GRACE_SECONDS"}},
                                   Run);
}
