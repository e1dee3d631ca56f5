// Integration tests of the gateway's directory against a real PostgreSQL: a fresh TestDatabase
// per test with the gateway's migrations applied as the owner, the repository connected as a
// non-owner member of tahe_gateway_app (so the grants are exercised exactly as in production).

#include "services/gateway/gateway_repository.h"

#include <google/protobuf/util/message_differencer.h>

#include <catch2/catch.hpp>
#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "libs/pg/pg.h"
#include "libs/testing/pg_fixture.h"

namespace tahe::gateway {
namespace {

using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

constexpr char kLedger[] = "/tahe.ledger.v1.LedgerService/GetEntry";

struct Directory {
  testing::TestDatabase db{Migrations(), kGatewayAppRole};
  std::unique_ptr<pg::Pool> pool;
  std::unique_ptr<GatewayRepository> repo;
  CallContext call;

  Directory() {
    absl::StatusOr<std::unique_ptr<pg::Pool>> created =
        pg::Pool::Create({.conninfo = db.app_conninfo(), .size = 4}, nullptr);
    if (!created.ok()) {
      throw std::runtime_error(std::string(created.status().message()));
    }
    pool = *std::move(created);
    repo = std::make_unique<GatewayRepository>(pool.get());
    call.principal = "key:0000000000aa";
    call.deadline = absl::Now() + absl::Seconds(30);
  }

  // Runs SQL as the owner (to look behind the repository's back).
  pqxx::result Owner(const std::string& sql) {
    pqxx::connection conn(db.owner_conninfo());
    pqxx::work tx(conn);
    pqxx::result r = tx.exec(sql);
    tx.commit();
    return r;
  }
  int64_t Count(const std::string& table) {
    return Owner("SELECT count(*) FROM " + table)[0][0].as<int64_t>();
  }

  v1::Region Region(const std::string& slug, std::map<std::string, std::string> addresses,
                    const std::string& request_id = "") {
    v1::CreateRegionRequest req;
    req.set_request_id(request_id.empty() ? "region-" + slug : request_id);
    req.mutable_region()->set_slug(slug);
    req.mutable_region()->set_name("Region " + slug);
    for (const auto& [k, v] : addresses) {
      (*req.mutable_region()->mutable_service_addresses())[k] = v;
    }
    absl::StatusOr<v1::Region> region = repo->CreateRegion(call, req);
    REQUIRE(region.ok());
    return *region;
  }

  v1::CreateOrganisationRequest OrgRequest(const std::string& slug, const std::string& region) {
    v1::CreateOrganisationRequest req;
    req.set_request_id("org-" + slug);
    req.mutable_organisation()->set_slug(slug);
    req.mutable_organisation()->set_name("Organisation " + slug);
    req.mutable_organisation()->set_business_id("0245904-2");
    req.mutable_organisation()->set_region(region);
    return req;
  }
  v1::Organisation Org(const std::string& slug, const std::string& region) {
    absl::StatusOr<v1::Organisation> org = repo->CreateOrganisation(call, OrgRequest(slug, region));
    REQUIRE(org.ok());
    return *org;
  }

  v1::IssueApiKeyResponse Key(const std::string& request_id, std::vector<std::string> roles,
                              std::vector<std::string> orgs, std::vector<std::string> regions) {
    v1::IssueApiKeyRequest req;
    req.set_request_id(request_id);
    req.set_description("test key " + request_id);
    for (const auto& r : roles) {
      req.add_roles(r);
    }
    for (const auto& o : orgs) {
      req.add_organisations(o);
    }
    for (const auto& r : regions) {
      req.add_regions(r);
    }
    absl::StatusOr<v1::IssueApiKeyResponse> resp = repo->IssueApiKey(call, req);
    INFO(resp.status().ToString());
    REQUIRE(resp.ok());
    return *resp;
  }

  RoutingSnapshot Snapshot() {
    absl::StatusOr<RoutingSnapshot> snapshot = repo->LoadSnapshot();
    INFO(snapshot.status().ToString());
    REQUIRE(snapshot.ok());
    return *std::move(snapshot);
  }

  // Two regions, three organisations.
  void Seed() {
    Region("paijat-hame", {{"tahe.ledger.v1", "127.0.0.1:50051"}, {"tahe", "127.0.0.1:50050"}});
    Region("pohjanmaa", {{"tahe.ledger.v1", "127.0.0.1:50151"}});
    Org("lahti", "paijat-hame");
    Org("phhyky", "paijat-hame");
    Org("vaasa", "pohjanmaa");
  }
};

TEST_CASE("directory: regions, organisations and keys show up in the snapshot", "[gateway][pg]") {
  Directory d;
  d.Seed();
  v1::IssueApiKeyResponse lahti = d.Key("k1", {"ledger.write", "ledger.read"}, {"lahti"}, {});
  v1::IssueApiKeyResponse op = d.Key("k2", {"admin", "ledger.read"}, {}, {"pohjanmaa"});

  CHECK_THAT(lahti.api_key(), StartsWith("tahe_" + lahti.key().key_id() + "_"));
  CHECK(lahti.key().roles().size() == 2);
  CHECK(lahti.key().roles(0) == "ledger.read");  // stored sorted
  CHECK(lahti.key().revoked_at().empty());
  CHECK_FALSE(lahti.key().created_at().empty());

  RoutingSnapshot s = d.Snapshot();
  CHECK(s.region_services.size() == 2);
  CHECK(s.region_services.at("paijat-hame").at("tahe.ledger.v1") == "127.0.0.1:50051");
  CHECK(s.region_services.at("pohjanmaa").size() == 1);
  CHECK(s.organisation_region.size() == 3);
  CHECK(s.organisation_region.at("vaasa") == "pohjanmaa");
  REQUIRE(s.keys.size() == 2);
  const KeyEntry& entry = s.keys.at(lahti.key().key_id());
  CHECK(entry.roles == std::vector<std::string>{"ledger.read", "ledger.write"});
  CHECK(entry.organisations == std::vector<std::string>{"lahti"});
  CHECK(entry.regions.empty());
  CHECK_FALSE(entry.revoked);
  CHECK(s.keys.at(op.key().key_id()).regions == std::vector<std::string>{"pohjanmaa"});

  // The whole path the router takes, from the header to the upstream.
  absl::StatusOr<const KeyEntry*> key = s.Authenticate("Bearer " + lahti.api_key());
  REQUIRE(key.ok());
  CHECK(*s.ResolveTenant(**key, "") == "lahti");
  CHECK(*s.UpstreamFor("lahti", kLedger) == "127.0.0.1:50051");
  const KeyEntry* operator_key = *s.Authenticate("Bearer " + op.api_key());
  CHECK(*s.ResolveTenant(*operator_key, "vaasa") == "vaasa");
  CHECK(s.ResolveTenant(*operator_key, "lahti").status().code() ==
        absl::StatusCode::kPermissionDenied);

  // Only the hash is stored: the secret appears in no table.
  std::string secret = lahti.api_key().substr(lahti.api_key().rfind('_') + 1);
  CHECK(d.Owner("SELECT 1 FROM api_keys WHERE encode(hash, 'hex') = '" + secret + "'").empty());
  CHECK(d.Owner("SELECT 1 FROM idempotency WHERE position(convert_to('" + secret +
                "', 'UTF8') in response) > 0")
            .empty());
  CHECK(d.Owner("SELECT 1 FROM audit_events WHERE details::text LIKE '%" + secret + "%'").empty());

  // The lists.
  absl::StatusOr<v1::ListRegionsResponse> regions = d.repo->ListRegions(d.call, {});
  REQUIRE(regions.ok());
  REQUIRE(regions->regions_size() == 2);
  CHECK(regions->regions(0).slug() == "paijat-hame");
  CHECK(regions->regions(0).service_addresses().at("tahe") == "127.0.0.1:50050");
  v1::ListOrganisationsRequest by_region;
  by_region.set_region("paijat-hame");
  absl::StatusOr<v1::ListOrganisationsResponse> orgs = d.repo->ListOrganisations(d.call, by_region);
  REQUIRE(orgs.ok());
  REQUIRE(orgs->organisations_size() == 2);
  CHECK(orgs->organisations(0).slug() == "lahti");
  CHECK(orgs->organisations(0).business_id() == "0245904-2");
  CHECK(orgs->organisations(1).slug() == "phhyky");
  v1::ListApiKeysRequest for_lahti;
  for_lahti.set_organisation("lahti");
  absl::StatusOr<v1::ListApiKeysResponse> keys = d.repo->ListApiKeys(d.call, for_lahti);
  REQUIRE(keys.ok());
  REQUIRE(keys->keys_size() == 1);
  CHECK(keys->keys(0).key_id() == lahti.key().key_id());
  CHECK(keys->keys(0).description() == "test key k1");
  CHECK(d.repo->ListApiKeys(d.call, {})->keys_size() == 2);
}

TEST_CASE("directory: a revoked key is refused in the next snapshot", "[gateway][pg]") {
  Directory d;
  d.Seed();
  v1::IssueApiKeyResponse issued = d.Key("k1", {"ledger.read"}, {"lahti"}, {});
  RoutingSnapshot before = d.Snapshot();
  REQUIRE(before.Authenticate("Bearer " + issued.api_key()).ok());

  v1::RevokeApiKeyRequest revoke;
  revoke.set_request_id("revoke-1");
  revoke.set_key_id(issued.key().key_id());
  absl::StatusOr<v1::ApiKey> revoked = d.repo->RevokeApiKey(d.call, revoke);
  REQUIRE(revoked.ok());
  CHECK_FALSE(revoked->revoked_at().empty());

  RoutingSnapshot after = d.Snapshot();
  CHECK(after.keys.at(issued.key().key_id()).revoked);
  absl::Status refused = after.Authenticate("Bearer " + issued.api_key()).status();
  CHECK(refused.code() == absl::StatusCode::kUnauthenticated);
  CHECK_THAT(std::string(refused.message()), Contains("revoked"));

  // Revoked keys drop out of the default list; revoking again changes nothing.
  CHECK(d.repo->ListApiKeys(d.call, {})->keys_size() == 0);
  v1::ListApiKeysRequest all;
  all.set_include_revoked(true);
  CHECK(d.repo->ListApiKeys(d.call, all)->keys_size() == 1);
  revoke.set_request_id("revoke-2");
  absl::StatusOr<v1::ApiKey> again = d.repo->RevokeApiKey(d.call, revoke);
  REQUIRE(again.ok());
  CHECK(again->revoked_at() == revoked->revoked_at());

  revoke.set_key_id("0123456789ab");
  revoke.set_request_id("revoke-3");
  CHECK(d.repo->RevokeApiKey(d.call, revoke).status().code() == absl::StatusCode::kNotFound);
}

TEST_CASE("directory: replays return the original result, conflicting replays are refused",
          "[gateway][pg]") {
  Directory d;
  d.Seed();
  int64_t audit_before = d.Count("audit_events");

  // Organisation: same request, same result, one row, one audit event.
  v1::CreateOrganisationRequest req = d.OrgRequest("hollola", "paijat-hame");
  absl::StatusOr<v1::Organisation> first = d.repo->CreateOrganisation(d.call, req);
  REQUIRE(first.ok());
  absl::StatusOr<v1::Organisation> replay = d.repo->CreateOrganisation(d.call, req);
  REQUIRE(replay.ok());
  CHECK(replay->SerializeAsString() == first->SerializeAsString());
  CHECK(d.Count("organisations WHERE slug = 'hollola'") == 1);
  CHECK(d.Count("audit_events") == audit_before + 1);

  // Same id, different request.
  v1::CreateOrganisationRequest changed = req;
  changed.mutable_organisation()->set_name("Something else");
  absl::Status conflict = d.repo->CreateOrganisation(d.call, changed).status();
  CHECK(conflict.code() == absl::StatusCode::kAlreadyExists);
  CHECK_THAT(std::string(conflict.message()), StartsWith("request_id:"));
  // Same id used for another method.
  v1::CreateRegionRequest region;
  region.set_request_id(req.request_id());
  region.mutable_region()->set_slug("kanta-hame");
  region.mutable_region()->set_name("Kanta-Häme");
  CHECK(d.repo->CreateRegion(d.call, region).status().code() == absl::StatusCode::kAlreadyExists);

  // A new id for a taken slug: ALREADY_EXISTS naming the slug.
  req.set_request_id("org-hollola-2");
  absl::Status taken = d.repo->CreateOrganisation(d.call, req).status();
  CHECK(taken.code() == absl::StatusCode::kAlreadyExists);
  CHECK_THAT(std::string(taken.message()), StartsWith("organisation.slug:"));

  // API key: the replay names the same key but never carries the secret again.
  v1::IssueApiKeyResponse issued = d.Key("key-1", {"ledger.read"}, {"lahti"}, {});
  REQUIRE_FALSE(issued.api_key().empty());
  v1::IssueApiKeyResponse again = d.Key("key-1", {"ledger.read"}, {"lahti"}, {});
  CHECK(again.key().key_id() == issued.key().key_id());
  CHECK(again.key().created_at() == issued.key().created_at());
  CHECK(again.api_key().empty());
  CHECK(d.Count("api_keys") == 1);
  v1::IssueApiKeyRequest different;
  different.set_request_id("key-1");
  different.add_roles("ledger.write");
  different.add_organisations("lahti");
  CHECK(d.repo->IssueApiKey(d.call, different).status().code() == absl::StatusCode::kAlreadyExists);
  CHECK(d.Count("api_keys") == 1);
}

TEST_CASE("directory: bad input is INVALID_ARGUMENT naming the field", "[gateway][pg]") {
  Directory d;
  d.Seed();
  auto expect_invalid = [](const absl::Status& status, const std::string& field) {
    INFO(field << " -> " << status.ToString());
    CHECK(status.code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(std::string(status.message()), StartsWith(field + ":"));
  };

  auto region_req = [] {
    v1::CreateRegionRequest r;
    r.set_request_id("r-new");
    r.mutable_region()->set_slug("uusimaa");
    r.mutable_region()->set_name("Uusimaa");
    (*r.mutable_region()->mutable_service_addresses())["tahe.ledger.v1"] = "127.0.0.1:1";
    return r;
  };
  {
    auto r = region_req();
    r.clear_request_id();
    expect_invalid(d.repo->CreateRegion(d.call, r).status(), "request_id");
    r = region_req();
    r.set_request_id("has space");
    expect_invalid(d.repo->CreateRegion(d.call, r).status(), "request_id");
    r = region_req();
    r.mutable_region()->set_slug("Uusimaa");
    expect_invalid(d.repo->CreateRegion(d.call, r).status(), "region.slug");
    r = region_req();
    r.mutable_region()->clear_name();
    expect_invalid(d.repo->CreateRegion(d.call, r).status(), "region.name");
    r = region_req();
    r.mutable_region()->set_name(std::string(201, 'x'));
    expect_invalid(d.repo->CreateRegion(d.call, r).status(), "region.name");
    r = region_req();
    (*r.mutable_region()->mutable_service_addresses())["tahe..v1"] = "127.0.0.1:1";
    expect_invalid(d.repo->CreateRegion(d.call, r).status(),
                   "region.service_addresses[\"tahe..v1\"]");
    r = region_req();
    (*r.mutable_region()->mutable_service_addresses())["tahe.ledger.v1"] = "127.0.0.1";
    expect_invalid(d.repo->CreateRegion(d.call, r).status(),
                   "region.service_addresses[\"tahe.ledger.v1\"]");
  }
  {
    auto o = d.OrgRequest("orimattila", "paijat-hame");
    o.mutable_organisation()->set_slug("-bad");
    expect_invalid(d.repo->CreateOrganisation(d.call, o).status(), "organisation.slug");
    o = d.OrgRequest("orimattila", "paijat-hame");
    o.mutable_organisation()->set_name("tab\x01");
    expect_invalid(d.repo->CreateOrganisation(d.call, o).status(), "organisation.name");
    o = d.OrgRequest("orimattila", "paijat-hame");
    o.mutable_organisation()->set_business_id("2077474-1");
    expect_invalid(d.repo->CreateOrganisation(d.call, o).status(), "organisation.business_id");
    o = d.OrgRequest("orimattila", "paijat-hame");
    o.mutable_organisation()->clear_business_id();
    expect_invalid(d.repo->CreateOrganisation(d.call, o).status(), "organisation.business_id");
    o = d.OrgRequest("orimattila", "");
    expect_invalid(d.repo->CreateOrganisation(d.call, o).status(), "organisation.region");
    o = d.OrgRequest("orimattila", "nosuch");
    absl::Status missing = d.repo->CreateOrganisation(d.call, o).status();
    CHECK(missing.code() == absl::StatusCode::kNotFound);
    CHECK_THAT(std::string(missing.message()), StartsWith("organisation.region:"));
  }
  {
    v1::UpdateOrganisationRequest u;
    u.set_request_id("u1");
    u.set_slug("lahti");
    u.set_business_id("1234567-8");
    expect_invalid(d.repo->UpdateOrganisation(d.call, u).status(), "business_id");
    u.clear_business_id();
    u.set_region("Nope");
    expect_invalid(d.repo->UpdateOrganisation(d.call, u).status(), "region");
    u.clear_region();
    u.set_name(std::string(201, 'n'));
    expect_invalid(d.repo->UpdateOrganisation(d.call, u).status(), "name");
    u.clear_name();
    u.set_slug("");
    expect_invalid(d.repo->UpdateOrganisation(d.call, u).status(), "slug");
    u.set_slug("nosuch");
    CHECK(d.repo->UpdateOrganisation(d.call, u).status().code() == absl::StatusCode::kNotFound);
  }
  {
    auto key_req = [] {
      v1::IssueApiKeyRequest k;
      k.set_request_id("k-new");
      k.add_roles("ledger.read");
      k.add_organisations("lahti");
      return k;
    };
    auto k = key_req();
    k.clear_roles();
    expect_invalid(d.repo->IssueApiKey(d.call, k).status(), "roles");
    k = key_req();
    k.add_roles("ledger.delete");
    expect_invalid(d.repo->IssueApiKey(d.call, k).status(), "roles[1]");
    k = key_req();
    k.add_organisations("Vaasa");
    expect_invalid(d.repo->IssueApiKey(d.call, k).status(), "organisations[1]");
    k = key_req();
    k.clear_organisations();
    k.add_regions("Bad Region");
    expect_invalid(d.repo->IssueApiKey(d.call, k).status(), "regions[0]");
    k = key_req();
    k.add_regions("pohjanmaa");
    expect_invalid(d.repo->IssueApiKey(d.call, k).status(), "regions");
    k = key_req();
    k.clear_organisations();
    expect_invalid(d.repo->IssueApiKey(d.call, k).status(), "organisations");
    k = key_req();
    k.set_description(std::string(201, 'd'));
    expect_invalid(d.repo->IssueApiKey(d.call, k).status(), "description");
    k = key_req();
    k.clear_request_id();
    expect_invalid(d.repo->IssueApiKey(d.call, k).status(), "request_id");
    k = key_req();
    k.add_organisations("nosuch");
    absl::Status missing = d.repo->IssueApiKey(d.call, k).status();
    CHECK(missing.code() == absl::StatusCode::kNotFound);
    CHECK_THAT(std::string(missing.message()), StartsWith("organisations[1]:"));
    k = key_req();
    k.clear_organisations();
    k.add_regions("nosuch");
    CHECK_THAT(std::string(d.repo->IssueApiKey(d.call, k).status().message()),
               StartsWith("regions[0]:"));
    // Nothing of the refused requests was written.
    CHECK(d.Count("api_keys") == 0);
  }
  {
    v1::RevokeApiKeyRequest r;
    r.set_request_id("rv");
    r.set_key_id("XYZ");
    expect_invalid(d.repo->RevokeApiKey(d.call, r).status(), "key_id");
    v1::ListAuditEventsRequest a;
    a.set_limit(1001);
    expect_invalid(d.repo->ListAuditEvents(d.call, a).status(), "limit");
    a.set_limit(0);
    a.set_after_id(-1);
    expect_invalid(d.repo->ListAuditEvents(d.call, a).status(), "after_id");
    v1::ListOrganisationsRequest lo;
    lo.set_region("BAD");
    expect_invalid(d.repo->ListOrganisations(d.call, lo).status(), "region");
  }
  // An admin-only key may have neither organisations nor regions.
  v1::IssueApiKeyResponse admin = d.Key("admin-key", {"admin"}, {}, {});
  CHECK(admin.key().organisations().empty());
  CHECK(admin.key().regions().empty());
}

TEST_CASE("directory: moving an organisation is refused while it has data in its region",
          "[gateway][pg]") {
  Directory d;
  d.Seed();
  v1::UpdateOrganisationRequest move;
  move.set_request_id("move-1");
  move.set_slug("lahti");
  move.set_region("pohjanmaa");
  // No check configured: refused.
  absl::Status refused = d.repo->UpdateOrganisation(d.call, move).status();
  CHECK(refused.code() == absl::StatusCode::kFailedPrecondition);
  CHECK(d.Snapshot().organisation_region.at("lahti") == "paijat-hame");

  // The cell says there is data: refused with its message; asked about the current region.
  std::vector<std::pair<std::string, std::string>> asked;
  bool has_data = true;
  GatewayRepository::MoveCheck check = [&](const std::string& org, const std::string& region) {
    asked.emplace_back(org, region);
    return has_data ? absl::FailedPreconditionError("lahti has data: ledger: 10 entries")
                    : absl::OkStatus();
  };
  refused = d.repo->UpdateOrganisation(d.call, move, check).status();
  CHECK(refused.code() == absl::StatusCode::kFailedPrecondition);
  CHECK_THAT(std::string(refused.message()), Contains("10 entries"));
  REQUIRE(asked.size() == 1);
  CHECK(asked[0] == std::pair<std::string, std::string>("lahti", "paijat-hame"));
  CHECK(d.Snapshot().organisation_region.at("lahti") == "paijat-hame");

  // The refusal was not remembered: the same request id goes through once the data is gone.
  has_data = false;
  move.set_name("Lahden kaupunki");
  absl::StatusOr<v1::Organisation> moved = d.repo->UpdateOrganisation(d.call, move, check);
  REQUIRE(moved.ok());
  CHECK(moved->region() == "pohjanmaa");
  CHECK(moved->name() == "Lahden kaupunki");
  CHECK(moved->business_id() == "0245904-2");  // unchanged
  RoutingSnapshot s = d.Snapshot();
  CHECK(s.organisation_region.at("lahti") == "pohjanmaa");
  CHECK(*s.UpstreamFor("lahti", kLedger) == "127.0.0.1:50151");

  // Renaming without moving asks nothing.
  asked.clear();
  v1::UpdateOrganisationRequest rename;
  rename.set_request_id("rename-1");
  rename.set_slug("lahti");
  rename.set_name("Lahti");
  REQUIRE(d.repo->UpdateOrganisation(d.call, rename, check).ok());
  CHECK(asked.empty());

  v1::UpdateOrganisationRequest to_nowhere;
  to_nowhere.set_request_id("move-2");
  to_nowhere.set_slug("lahti");
  to_nowhere.set_region("nosuch");
  CHECK(d.repo->UpdateOrganisation(d.call, to_nowhere, check).status().code() ==
        absl::StatusCode::kNotFound);

  v1::ListAuditEventsRequest q;
  q.set_target("organisation/lahti");
  absl::StatusOr<v1::ListAuditEventsResponse> events = d.repo->ListAuditEvents(d.call, q);
  REQUIRE(events.ok());
  REQUIRE(events->events_size() == 3);
  CHECK(events->events(1).action() == "UpdateOrganisation");
  CHECK_THAT(events->events(1).details(), Contains("\"previous_region\": \"paijat-hame\""));
  CHECK_THAT(events->events(1).details(), Contains("\"region\": \"pohjanmaa\""));
}

TEST_CASE("directory: every change is in the audit log, in order, pageable", "[gateway][pg]") {
  Directory d;
  d.Seed();
  v1::IssueApiKeyResponse key = d.Key("k1", {"ledger.read"}, {"lahti"}, {});
  v1::RevokeApiKeyRequest revoke;
  revoke.set_request_id("revoke-1");
  revoke.set_key_id(key.key().key_id());
  REQUIRE(d.repo->RevokeApiKey(d.call, revoke).ok());

  absl::StatusOr<v1::ListAuditEventsResponse> all = d.repo->ListAuditEvents(d.call, {});
  REQUIRE(all.ok());
  REQUIRE(all->events_size() == 7);
  CHECK(all->next_after_id() == 0);
  std::vector<std::string> actions, targets;
  for (const auto& e : all->events()) {
    actions.push_back(e.action());
    targets.push_back(e.target());
    CHECK(e.principal() == "key:0000000000aa");
    CHECK_FALSE(e.at().empty());
  }
  CHECK(actions == std::vector<std::string>{"CreateRegion", "CreateRegion", "CreateOrganisation",
                                            "CreateOrganisation", "CreateOrganisation",
                                            "IssueApiKey", "RevokeApiKey"});
  CHECK(targets[0] == "region/paijat-hame");
  CHECK(targets[2] == "organisation/lahti");
  CHECK(targets[5] == "api_key/" + key.key().key_id());
  CHECK(all->events(5).request_id() == "k1");
  CHECK_THAT(all->events(0).details(), Contains("127.0.0.1:50051"));
  CHECK_THAT(all->events(5).details(), Contains("\"roles\": [\"ledger.read\"]"));

  // Pages of three.
  v1::ListAuditEventsRequest page;
  page.set_limit(3);
  std::vector<int64_t> ids;
  for (int i = 0; i < 5; ++i) {
    absl::StatusOr<v1::ListAuditEventsResponse> p = d.repo->ListAuditEvents(d.call, page);
    REQUIRE(p.ok());
    for (const auto& e : p->events()) {
      ids.push_back(e.id());
    }
    if (p->next_after_id() == 0) {
      break;
    }
    page.set_after_id(p->next_after_id());
  }
  REQUIRE(ids.size() == 7);
  for (size_t i = 1; i < ids.size(); ++i) {
    CHECK(ids[i] > ids[i - 1]);
  }

  // Filter by kind of target; "organisation" does not match "organisations-x/..." prefixes.
  v1::ListAuditEventsRequest orgs;
  orgs.set_target("organisation");
  CHECK(d.repo->ListAuditEvents(d.call, orgs)->events_size() == 3);
  orgs.set_target("organisatio");
  CHECK(d.repo->ListAuditEvents(d.call, orgs)->events_size() == 0);
}

TEST_CASE("directory: the application role cannot rewrite or delete", "[gateway][pg]") {
  Directory d;
  d.Seed();
  v1::IssueApiKeyResponse key = d.Key("k1", {"ledger.read"}, {"lahti"}, {});
  auto as_app = [&](const std::string& sql) {
    return pg::RunInTransaction(*d.pool, "", {.max_attempts = 1}, [&](pqxx::work& tx) {
      tx.exec(sql);
      return absl::OkStatus();
    });
  };
  CHECK(as_app("DELETE FROM organisations").code() == absl::StatusCode::kPermissionDenied);
  CHECK(as_app("DELETE FROM api_keys").code() == absl::StatusCode::kPermissionDenied);
  CHECK(as_app("UPDATE api_keys SET roles = '{admin}'").code() ==
        absl::StatusCode::kPermissionDenied);
  CHECK(as_app("UPDATE api_keys SET hash = hash").code() == absl::StatusCode::kPermissionDenied);
  CHECK(as_app("UPDATE audit_events SET principal = 'x'").code() ==
        absl::StatusCode::kPermissionDenied);
  CHECK(as_app("DELETE FROM audit_events").code() == absl::StatusCode::kPermissionDenied);
  CHECK(as_app("UPDATE regions SET slug = 'x'").code() == absl::StatusCode::kPermissionDenied);
  CHECK(as_app("DELETE FROM regions").code() == absl::StatusCode::kPermissionDenied);
  CHECK(d.Snapshot().keys.at(key.key().key_id()).roles == std::vector<std::string>{"ledger.read"});
}

TEST_CASE("directory: a region's addresses can be changed and routing follows", "[gateway][pg]") {
  Directory d;
  d.Region("north", {{"tahe.ledger.v1", "10.0.0.1:50051"}, {"tahe.payroll.v1", "10.0.0.1:50052"}});
  d.Org("lahti", "north");
  REQUIRE(*d.Snapshot().UpstreamFor("lahti", kLedger) == "10.0.0.1:50051");

  v1::UpdateRegionRequest req;
  req.set_request_id("move-north");
  req.set_slug("north");
  req.set_name("Pohjoinen");
  (*req.mutable_service_addresses())["tahe.ledger.v1"] = "10.0.0.9:50051";
  (*req.mutable_service_addresses())["tahe.reporting.v1"] = "10.0.0.9:50054";
  req.add_remove_service_prefixes("tahe.payroll.v1");
  absl::StatusOr<v1::Region> updated = d.repo->UpdateRegion(d.call, req);
  INFO(updated.status().ToString());
  REQUIRE(updated.ok());
  CHECK(updated->name() == "Pohjoinen");
  CHECK(updated->service_addresses().size() == 2);
  CHECK(updated->service_addresses().at("tahe.ledger.v1") == "10.0.0.9:50051");
  CHECK(updated->service_addresses().at("tahe.reporting.v1") == "10.0.0.9:50054");
  CHECK_FALSE(updated->created_at().empty());

  RoutingSnapshot s = d.Snapshot();
  CHECK(*s.UpstreamFor("lahti", kLedger) == "10.0.0.9:50051");
  CHECK(s.UpstreamFor("lahti", "/tahe.payroll.v1.PayrollService/CreatePayRun").status().code() ==
        absl::StatusCode::kUnimplemented);

  // A replay returns the same region and changes nothing; the audit log has it once.
  absl::StatusOr<v1::Region> replay = d.repo->UpdateRegion(d.call, req);
  REQUIRE(replay.ok());
  CHECK(google::protobuf::util::MessageDifferencer::Equals(*replay, *updated));
  CHECK(d.Owner("SELECT count(*) FROM audit_events WHERE action = 'UpdateRegion'")[0][0]
            .as<int64_t>() == 1);

  v1::UpdateRegionRequest unknown;
  unknown.set_request_id("unknown-region");
  unknown.set_slug("south");
  unknown.set_name("Etelä");
  CHECK(d.repo->UpdateRegion(d.call, unknown).status().code() == absl::StatusCode::kNotFound);

  v1::UpdateRegionRequest empty;
  empty.set_request_id("nothing");
  empty.set_slug("north");
  absl::Status nothing = d.repo->UpdateRegion(d.call, empty).status();
  CHECK(nothing.code() == absl::StatusCode::kInvalidArgument);

  v1::UpdateRegionRequest bad;
  bad.set_request_id("bad-address");
  bad.set_slug("north");
  (*bad.mutable_service_addresses())["tahe.ledger.v1"] = "not an address";
  absl::Status bad_status = d.repo->UpdateRegion(d.call, bad).status();
  CHECK(bad_status.code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(bad_status.message()), Contains("service_addresses"));
  CHECK(*d.Snapshot().UpstreamFor("lahti", kLedger) == "10.0.0.9:50051");
}

TEST_CASE("directory: a key id collision draws a new key", "[gateway][pg]") {
  Directory d;
  d.Seed();
  // The first two draws return the same key id; the second must be redrawn.
  int draws = 0;
  GatewayRepository repo(d.pool.get(), {.generate_key = [&]() -> absl::StatusOr<GeneratedApiKey> {
                           ++draws;
                           absl::StatusOr<GeneratedApiKey> key = GenerateApiKey();
                           if (draws <= 2) {
                             std::string secret = key->token.substr(18);
                             key->key_id = "00000000000a";
                             key->token = "tahe_00000000000a_" + secret;
                             key->hash = HashApiKey(key->key_id, secret);
                           }
                           return key;
                         }});
  v1::IssueApiKeyRequest req;
  req.add_roles("ledger.read");
  req.add_organisations("lahti");
  req.set_request_id("a");
  absl::StatusOr<v1::IssueApiKeyResponse> a = repo.IssueApiKey(d.call, req);
  req.set_request_id("b");
  absl::StatusOr<v1::IssueApiKeyResponse> b = repo.IssueApiKey(d.call, req);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(a->key().key_id() == "00000000000a");
  CHECK(b->key().key_id() != "00000000000a");
  CHECK(draws == 3);
  RoutingSnapshot s = d.Snapshot();
  CHECK(s.Authenticate("Bearer " + a->api_key()).ok());
  CHECK(s.Authenticate("Bearer " + b->api_key()).ok());
}

}  // namespace
}  // namespace tahe::gateway
