#include "tests/bench/bench_testing.h"

#include <pqxx/pqxx>

#include "services/ledger/ledger_migrations.h"

namespace tahe::bench {

InProcessLedger::InProcessLedger(const std::string& internal_token)
    : internal_token_(internal_token),
      db_(ledger::Migrations(), "tahe_ledger_app"),
      pool_(OrThrow(pg::Pool::Create({.conninfo = db_.app_conninfo(), .size = 4}, nullptr))),
      metrics_(&registry_),
      repository_(pool_.get(), &metrics_),
      committer_(&repository_, ledger::GroupCommitter::Options{}),
      auth_(internal_token),
      workers_(4),
      service_(&repository_, &committer_, server::HandlerEnv{&auth_, &workers_},
               ledger::LedgerService::Options{}),
      server_(
          OrThrow(server::GrpcServer::Start({.listen = "127.0.0.1:0", .services = {&service_}}))) {}

InProcessLedger::~InProcessLedger() {
  service_.BeginShutdown();
  server_->Shutdown(absl::Seconds(5));
  committer_.Stop();
  workers_.Drain();
}

Target InProcessLedger::target(const std::string& tenant) const {
  return {.address = address(), .tenant = tenant, .internal_token = internal_token_};
}

int64_t InProcessLedger::EntriesInDatabase(const std::string& tenant) {
  pqxx::connection c(db_.owner_conninfo());
  pqxx::work tx(c);
  return tx.exec_params("SELECT count(*) FROM entries WHERE tenant_id = $1", tenant)[0][0]
      .as<int64_t>();
}

}  // namespace tahe::bench
