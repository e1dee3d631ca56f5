// Tests of the admin API: a gateway directory in a fresh TestDatabase with one admin key made
// directly through GatewayRepository (as the launcher bootstraps it), the gateway's server on
// 127.0.0.1:0 serving AdminService next to the generic proxy (as main.cc wires them), and clients
// calling the generated AdminService stub with `authorization: Bearer <key>`. The snapshot's
// periodic reload is set to an hour, so a key works or stops working at once only because the
// admin call itself refreshes the snapshot.

#include "services/gateway/admin_service.h"

#include <grpcpp/grpcpp.h>
#include <prometheus/registry.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "libs/pg/pg.h"
#include "libs/server/call.h"
#include "libs/server/grpc_server.h"
#include "libs/server/worker_pool.h"
#include "libs/status/status.h"
#include "libs/testing/pg_fixture.h"
#include "services/gateway/gateway_repository.h"
#include "services/gateway/proxy.h"
#include "services/gateway/router.h"
#include "tahe/gateway/v1/admin.grpc.pb.h"
#include "tahe/ledger/v1/ledger.grpc.pb.h"

namespace tahe::gateway {
namespace {

using AdminStub = v1::AdminService::Stub;

std::string CodeString(grpc::StatusCode code) {
  return CodeName(static_cast<absl::StatusCode>(code));
}

#define REQUIRE_CODE(status, code)                                             \
  do {                                                                         \
    const grpc::Status& s_ = (status);                                         \
    INFO("got " << CodeString(s_.error_code()) << ": " << s_.error_message()); \
    REQUIRE(CodeString(s_.error_code()) == CodeString(code));                  \
  } while (false)

template <typename T>
T OrThrow(absl::StatusOr<T> v) {
  if (!v.ok()) {
    throw std::runtime_error(v.status().ToString());
  }
  return *std::move(v);
}

struct Fixture {
  Fixture() {
    // Bootstrap: the first admin key, straight into the directory.
    CallContext bootstrap;
    bootstrap.principal = "bootstrap";
    bootstrap.deadline = absl::Now() + absl::Seconds(60);
    v1::IssueApiKeyRequest req;
    req.set_request_id("bootstrap-admin");
    req.set_description("operator");
    req.add_roles("admin");
    admin_key = OrThrow(directory.IssueApiKey(bootstrap, req));
    REQUIRE(!admin_key.api_key().empty());

    cache = OrThrow(SnapshotCache::Start(&directory, {.refresh = absl::Hours(1)}, &registry));
    router = std::make_unique<GatewayRouter>(
        cache.get(), registry,
        GatewayRouter::Options{.internal_token = "admin-test-internal-token",
                               .rate_limit = {.rate_per_second = 0, .burst = 1}});
    proxy = std::make_unique<ProxyService>(router->AsRouter());
    admin = std::make_unique<AdminService>(&directory, cache.get(), &workers);
    gateway = OrThrow(server::GrpcServer::Start({.listen = "127.0.0.1:0",
                                                 .services = {admin.get()},
                                                 .metrics = &registry,
                                                 .generic_service = proxy.get()}));
    channel = grpc::CreateChannel(gateway->address(), grpc::InsecureChannelCredentials());
    stub = v1::AdminService::NewStub(channel);
  }
  ~Fixture() {
    gateway->Shutdown(absl::Seconds(5));
    workers.Drain();
    cache->Stop();
  }

  template <typename Req, typename Resp>
  grpc::Status Call(grpc::Status (AdminStub::*method)(grpc::ClientContext*, const Req&, Resp*),
                    const Req& req, const std::string& key, Resp* out = nullptr,
                    const std::string& request_id = "") {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    if (!key.empty()) {
      ctx.AddMetadata("authorization", "Bearer " + key);
    }
    if (!request_id.empty()) {
      ctx.AddMetadata(server::kRequestIdHeader, request_id);
    }
    Resp resp;
    grpc::Status status = ((*stub).*method)(&ctx, req, &resp);
    if (out != nullptr) {
      *out = resp;
    }
    return status;
  }

  const std::string& admin_token() const { return admin_key.api_key(); }

  testing::TestDatabase db{Migrations(), kGatewayAppRole};
  std::unique_ptr<pg::Pool> pool = OrThrow(
      pg::Pool::Create({.conninfo = db.app_conninfo(), .size = 4, .name = "gateway"}, nullptr));
  GatewayRepository directory{pool.get()};
  v1::IssueApiKeyResponse admin_key;

  prometheus::Registry registry;
  server::WorkerPool workers{4};
  std::unique_ptr<SnapshotCache> cache;
  std::unique_ptr<GatewayRouter> router;
  std::unique_ptr<ProxyService> proxy;
  std::unique_ptr<AdminService> admin;
  std::unique_ptr<server::GrpcServer> gateway;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<AdminStub> stub;
};

v1::CreateRegionRequest Region(const std::string& request_id, const std::string& slug) {
  v1::CreateRegionRequest req;
  req.set_request_id(request_id);
  req.mutable_region()->set_slug(slug);
  req.mutable_region()->set_name("Päijät-Häme");
  // Nothing listens there: a proxied call fails UNAVAILABLE at once.
  (*req.mutable_region()->mutable_service_addresses())["tahe.ledger.v1"] = "127.0.0.1:1";
  return req;
}

v1::CreateOrganisationRequest Organisation(const std::string& request_id, const std::string& slug,
                                           const std::string& business_id) {
  v1::CreateOrganisationRequest req;
  req.set_request_id(request_id);
  req.mutable_organisation()->set_slug(slug);
  req.mutable_organisation()->set_name("Lahden kaupunki");
  req.mutable_organisation()->set_business_id(business_id);
  req.mutable_organisation()->set_region("paijat-hame");
  return req;
}

TEST_CASE("admin: an operator builds the directory and manages keys", "[gateway][pg]") {
  Fixture f;
  const std::string admin_principal = "key:" + f.admin_key.key().key_id();

  // Region.
  v1::Region region;
  REQUIRE_CODE(
      f.Call(&AdminStub::CreateRegion, Region("r-1", "paijat-hame"), f.admin_token(), &region),
      grpc::StatusCode::OK);
  REQUIRE(region.slug() == "paijat-hame");
  REQUIRE(region.service_addresses().at("tahe.ledger.v1") == "127.0.0.1:1");
  REQUIRE(!region.created_at().empty());
  v1::ListRegionsResponse regions;
  REQUIRE_CODE(f.Call(&AdminStub::ListRegions, v1::ListRegionsRequest(), f.admin_token(), &regions),
               grpc::StatusCode::OK);
  REQUIRE(regions.regions_size() == 1);
  REQUIRE(regions.regions(0).slug() == "paijat-hame");

  // Organisation: a bad Y-tunnus is refused naming the field, a good one is created.
  grpc::Status bad =
      f.Call(&AdminStub::CreateOrganisation, Organisation("o-bad", "lahti", "0245904-3"),
             f.admin_token(), static_cast<v1::Organisation*>(nullptr));
  REQUIRE_CODE(bad, grpc::StatusCode::INVALID_ARGUMENT);
  REQUIRE(absl::StrContains(bad.error_message(), "business_id"));
  v1::Organisation org;
  REQUIRE_CODE(f.Call(&AdminStub::CreateOrganisation, Organisation("o-1", "lahti", "0245904-2"),
                      f.admin_token(), &org),
               grpc::StatusCode::OK);
  REQUIRE(org.slug() == "lahti");
  REQUIRE(org.business_id() == "0245904-2");
  REQUIRE(org.region() == "paijat-hame");
  v1::ListOrganisationsResponse orgs;
  REQUIRE_CODE(
      f.Call(&AdminStub::ListOrganisations, v1::ListOrganisationsRequest(), f.admin_token(), &orgs),
      grpc::StatusCode::OK);
  REQUIRE(orgs.organisations_size() == 1);
  REQUIRE(orgs.organisations(0).slug() == "lahti");

  // A ledger key: the secret comes back once and never again.
  v1::IssueApiKeyRequest issue;
  issue.set_request_id("k-1");
  issue.set_description("Lahti HR system");
  issue.add_roles("ledger.read");
  issue.add_organisations("lahti");
  v1::IssueApiKeyResponse issued;
  REQUIRE_CODE(f.Call(&AdminStub::IssueApiKey, issue, f.admin_token(), &issued),
               grpc::StatusCode::OK);
  const std::string key_id = issued.key().key_id();
  REQUIRE(key_id.size() == 12);
  REQUIRE(absl::StartsWith(issued.api_key(), "tahe_" + key_id + "_"));
  REQUIRE(issued.key().roles_size() == 1);
  REQUIRE(issued.key().organisations(0) == "lahti");
  v1::IssueApiKeyResponse replay;
  REQUIRE_CODE(f.Call(&AdminStub::IssueApiKey, issue, f.admin_token(), &replay),
               grpc::StatusCode::OK);
  REQUIRE(replay.key().key_id() == key_id);
  REQUIRE(replay.api_key().empty());
  v1::ListApiKeysResponse keys;
  REQUIRE_CODE(f.Call(&AdminStub::ListApiKeys, v1::ListApiKeysRequest(), f.admin_token(), &keys),
               grpc::StatusCode::OK);
  REQUIRE(keys.keys_size() == 2);  // the bootstrap admin key and the new one
  const std::string secret = issued.api_key().substr(issued.api_key().rfind('_') + 1);
  REQUIRE(secret.size() == 64);
  REQUIRE(!absl::StrContains(keys.DebugString(), secret));
  REQUIRE(keys.keys(1).key_id() == key_id);
  REQUIRE(keys.keys(1).revoked_at().empty());

  // The new key works at once (the snapshot reloads only hourly by itself): it authenticates, but
  // it is not an admin key; and a non-admin service still goes to the proxy.
  REQUIRE_CODE(f.Call(&AdminStub::ListRegions, v1::ListRegionsRequest(), issued.api_key()),
               grpc::StatusCode::PERMISSION_DENIED);
  {
    auto ledger = ledger::v1::LedgerService::NewStub(f.channel);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    ctx.AddMetadata("authorization", "Bearer " + issued.api_key());
    ledger::v1::GetTrialBalanceResponse tb;
    REQUIRE_CODE(ledger->GetTrialBalance(&ctx, ledger::v1::GetTrialBalanceRequest(), &tb),
                 grpc::StatusCode::UNAVAILABLE);  // routed to the (absent) cell
  }

  // Revoke: refused at once.
  v1::RevokeApiKeyRequest revoke;
  revoke.set_request_id("revoke-1");
  revoke.set_key_id(key_id);
  v1::ApiKey revoked;
  REQUIRE_CODE(f.Call(&AdminStub::RevokeApiKey, revoke, f.admin_token(), &revoked),
               grpc::StatusCode::OK);
  REQUIRE(revoked.key_id() == key_id);
  REQUIRE(!revoked.revoked_at().empty());
  REQUIRE_CODE(f.Call(&AdminStub::ListRegions, v1::ListRegionsRequest(), issued.api_key()),
               grpc::StatusCode::UNAUTHENTICATED);
  v1::ListApiKeysResponse valid;
  REQUIRE_CODE(f.Call(&AdminStub::ListApiKeys, v1::ListApiKeysRequest(), f.admin_token(), &valid),
               grpc::StatusCode::OK);
  REQUIRE(valid.keys_size() == 1);
  v1::ListApiKeysRequest all_req;
  all_req.set_include_revoked(true);
  v1::ListApiKeysResponse all;
  REQUIRE_CODE(f.Call(&AdminStub::ListApiKeys, all_req, f.admin_token(), &all),
               grpc::StatusCode::OK);
  REQUIRE(all.keys_size() == 2);
  REQUIRE(!all.keys(1).revoked_at().empty());

  // Audit: every change through the API, with the operator's key as principal, never a secret.
  v1::ListAuditEventsResponse audit;
  REQUIRE_CODE(
      f.Call(&AdminStub::ListAuditEvents, v1::ListAuditEventsRequest(), f.admin_token(), &audit),
      grpc::StatusCode::OK);
  REQUIRE(!absl::StrContains(audit.DebugString(), secret));
  std::vector<std::string> actions;
  for (const v1::AuditEvent& e : audit.events()) {
    if (e.principal() == admin_principal) {
      actions.push_back(e.action() + " " + e.target() + " " + e.request_id());
    }
  }
  CHECK(actions == std::vector<std::string>{"CreateRegion region/paijat-hame r-1",
                                            "CreateOrganisation organisation/lahti o-1",
                                            "IssueApiKey api_key/" + key_id + " k-1",
                                            "RevokeApiKey api_key/" + key_id + " revoke-1"});
  REQUIRE(audit.events(0).principal() == "bootstrap");  // the bootstrap key, made directly
}

TEST_CASE("admin: calls without an admin key are refused", "[gateway][pg]") {
  Fixture f;
  // No key, a malformed key, a wrong secret.
  REQUIRE_CODE(f.Call(&AdminStub::ListRegions, v1::ListRegionsRequest(), ""),
               grpc::StatusCode::UNAUTHENTICATED);
  REQUIRE_CODE(f.Call(&AdminStub::CreateRegion, Region("r-x", "x"), "not-a-key"),
               grpc::StatusCode::UNAUTHENTICATED);
  std::string forged = f.admin_token();
  forged.back() = forged.back() == '0' ? '1' : '0';
  REQUIRE_CODE(f.Call(&AdminStub::CreateRegion, Region("r-x", "x"), forged),
               grpc::StatusCode::UNAUTHENTICATED);

  // A key without the admin role, made by the operator.
  REQUIRE_CODE(f.Call(&AdminStub::CreateRegion, Region("r-1", "paijat-hame"), f.admin_token()),
               grpc::StatusCode::OK);
  REQUIRE_CODE(f.Call(&AdminStub::CreateOrganisation, Organisation("o-1", "lahti", "0245904-2"),
                      f.admin_token()),
               grpc::StatusCode::OK);
  v1::IssueApiKeyRequest issue;
  issue.set_request_id("k-writer");
  issue.add_roles("ledger.read");
  issue.add_roles("ledger.write");
  issue.add_organisations("lahti");
  v1::IssueApiKeyResponse writer;
  REQUIRE_CODE(f.Call(&AdminStub::IssueApiKey, issue, f.admin_token(), &writer),
               grpc::StatusCode::OK);
  issue.set_request_id("k-escalate");
  issue.add_roles("admin");
  grpc::Status denied = f.Call(&AdminStub::IssueApiKey, issue, writer.api_key(),
                               static_cast<v1::IssueApiKeyResponse*>(nullptr));
  REQUIRE_CODE(denied, grpc::StatusCode::PERMISSION_DENIED);
  REQUIRE_CODE(f.Call(&AdminStub::ListAuditEvents, v1::ListAuditEventsRequest(), writer.api_key()),
               grpc::StatusCode::PERMISSION_DENIED);

  // Nothing the refused calls asked for happened.
  v1::ListAuditEventsResponse audit;
  REQUIRE_CODE(
      f.Call(&AdminStub::ListAuditEvents, v1::ListAuditEventsRequest(), f.admin_token(), &audit),
      grpc::StatusCode::OK);
  for (const v1::AuditEvent& e : audit.events()) {
    CHECK(e.request_id() != "r-x");
    CHECK(e.request_id() != "k-escalate");
  }
  v1::ListApiKeysResponse keys;
  REQUIRE_CODE(f.Call(&AdminStub::ListApiKeys, v1::ListApiKeysRequest(), f.admin_token(), &keys),
               grpc::StatusCode::OK);
  REQUIRE(keys.keys_size() == 2);
}

}  // namespace
}  // namespace tahe::gateway

namespace tahe::gateway {
namespace {

TEST_CASE("admin: the bootstrap key is issued once, to a 0600 file, and works", "[gateway][pg]") {
  testing::TestDatabase db{Migrations(), kGatewayAppRole};
  auto pool = OrThrow(pg::Pool::Create({.conninfo = db.app_conninfo(), .size = 2}, nullptr));
  GatewayRepository directory{pool.get()};
  char dir_template[] = "/tmp/tahe-bootstrap-XXXXXX";
  REQUIRE(::mkdtemp(dir_template) != nullptr);
  const std::string path = std::string(dir_template) + "/admin_key";

  std::string key_id = OrThrow(BootstrapAdminKey(directory, path));
  REQUIRE(key_id.size() == 12);
  struct stat st;
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  std::ifstream in(path);
  std::string secret;
  std::getline(in, secret);
  CHECK(absl::StartsWith(secret, "tahe_" + key_id + "_"));

  // The key authenticates and carries the admin role only.
  RoutingSnapshot snapshot = OrThrow(directory.LoadSnapshot());
  absl::StatusOr<const KeyEntry*> key = snapshot.Authenticate("Bearer " + secret);
  REQUIRE(key.ok());
  CHECK((*key)->roles == std::vector<std::string>{"admin"});
  CHECK((*key)->organisations.empty());

  // Again with the file in place: nothing new.
  CHECK(OrThrow(BootstrapAdminKey(directory, path)).empty());
  // The file lost, but an admin key exists: still nothing new (no second all-powerful key).
  REQUIRE(::unlink(path.c_str()) == 0);
  CHECK(OrThrow(BootstrapAdminKey(directory, path)).empty());
  CHECK(::access(path.c_str(), F_OK) != 0);
  CallContext call;
  call.deadline = absl::Now() + absl::Seconds(10);
  CHECK(OrThrow(directory.ListApiKeys(call, {})).keys_size() == 1);

  // An unwritable path: the error is returned and no usable key is left behind.
  testing::TestDatabase db2{Migrations(), kGatewayAppRole};
  auto pool2 = OrThrow(pg::Pool::Create({.conninfo = db2.app_conninfo(), .size = 2}, nullptr));
  GatewayRepository empty_directory{pool2.get()};
  absl::Status failed =
      BootstrapAdminKey(empty_directory, std::string(dir_template) + "/missing/dir/key").status();
  CHECK(failed.code() == absl::StatusCode::kFailedPrecondition);
  CHECK(OrThrow(empty_directory.ListApiKeys(call, {})).keys_size() == 0);
  ::rmdir(dir_template);
}

}  // namespace
}  // namespace tahe::gateway
