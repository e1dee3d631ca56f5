#include "services/gateway/gateway_repository.h"

#include <algorithm>
#include <map>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "libs/log/log.h"
#include "libs/pg/idempotency.h"
#include "libs/status/status.h"

namespace tahe::gateway {

namespace {

constexpr int kMaxKeyIdAttempts = 4;
constexpr int kDefaultAuditLimit = 100;
constexpr int kMaxAuditLimit = 1000;

pg::TxOptions Tx(const CallContext& call, bool read_only = false) {
  return {.deadline = call.deadline, .read_only = read_only};
}

// --- SQL, named next to the code that uses it ---------------------------------------------------

// Timestamps leave the database as RFC 3339 UTC text; arrays as US-separated text (slugs and
// roles contain no control characters).
constexpr char kSelectRegions[] =
    "SELECT slug, name,"
    " to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
    " FROM regions ORDER BY slug";
constexpr char kSelectRegionServices[] =
    "SELECT region, service_prefix, address FROM region_services ORDER BY region, service_prefix";
constexpr char kInsertRegion[] =
    "INSERT INTO regions (slug, name) VALUES ($1, $2) ON CONFLICT DO NOTHING"
    " RETURNING to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')";
constexpr char kInsertRegionServices[] =
    "INSERT INTO region_services (region, service_prefix, address)"
    " SELECT $1, u.prefix, u.address FROM unnest($2::text[], $3::text[]) AS u(prefix, address)";
constexpr char kRegionExists[] = "SELECT 1 FROM regions WHERE slug = $1";
constexpr char kSelectRegionForUpdate[] =
    "SELECT name, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
    " FROM regions WHERE slug = $1 FOR UPDATE";
constexpr char kRenameRegion[] = "UPDATE regions SET name = $2 WHERE slug = $1";
constexpr char kUpsertRegionServices[] =
    "INSERT INTO region_services (region, service_prefix, address)"
    " SELECT $1, u.prefix, u.address FROM unnest($2::text[], $3::text[]) AS u(prefix, address)"
    " ON CONFLICT (region, service_prefix) DO UPDATE SET address = excluded.address";
constexpr char kDeleteRegionServices[] =
    "DELETE FROM region_services WHERE region = $1 AND service_prefix = ANY($2::text[])";
constexpr char kSelectServicesOfRegion[] =
    "SELECT service_prefix, address FROM region_services WHERE region = $1"
    " ORDER BY service_prefix";
constexpr char kRegionsExisting[] = "SELECT slug FROM regions WHERE slug = ANY($1::text[])";

constexpr char kOrganisationColumns[] =
    "slug, name, business_id, region,"
    " to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),"
    " to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')";
const std::string kInsertOrganisation = absl::StrCat(
    "INSERT INTO organisations (slug, name, business_id, region)",
    " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING ", kOrganisationColumns);
const std::string kSelectOrganisations =
    absl::StrCat("SELECT ", kOrganisationColumns,
                 " FROM organisations WHERE ($1 = '' OR region = $1) ORDER BY slug");
const std::string kSelectOrganisationForUpdate =
    absl::StrCat("SELECT ", kOrganisationColumns, " FROM organisations WHERE slug = $1 FOR UPDATE");
const std::string kUpdateOrganisation = absl::StrCat(
    "UPDATE organisations SET name = $2, business_id = $3, region = $4, updated_at = now()"
    " WHERE slug = $1 RETURNING ",
    kOrganisationColumns);
constexpr char kOrganisationsExisting[] =
    "SELECT slug FROM organisations WHERE slug = ANY($1::text[])";

constexpr char kApiKeyColumns[] =
    "key_id, description, array_to_string(roles, chr(31)),"
    " array_to_string(organisations, chr(31)), array_to_string(regions, chr(31)),"
    " to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),"
    " coalesce(to_char(revoked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), '')";
const std::string kInsertApiKey = absl::StrCat(
    "INSERT INTO api_keys (key_id, hash, roles, organisations, regions, description, created_by)"
    " VALUES ($1, decode($2, 'hex'), $3::text[], $4::text[], $5::text[], $6, $7)"
    " ON CONFLICT (key_id) DO NOTHING RETURNING ",
    kApiKeyColumns);
const std::string kSelectApiKeys =
    absl::StrCat("SELECT ", kApiKeyColumns,
                 " FROM api_keys WHERE ($1 OR revoked_at IS NULL)"
                 " AND ($2 = '' OR $2 = ANY(organisations)) ORDER BY created_at, key_id");
const std::string kSelectApiKeyForUpdate =
    absl::StrCat("SELECT ", kApiKeyColumns, " FROM api_keys WHERE key_id = $1 FOR UPDATE");
const std::string kRevokeApiKey = absl::StrCat(
    "UPDATE api_keys SET revoked_at = now() WHERE key_id = $1 RETURNING ", kApiKeyColumns);
constexpr char kSelectKeysForSnapshot[] =
    "SELECT key_id, encode(hash, 'hex'), array_to_string(roles, chr(31)),"
    " array_to_string(organisations, chr(31)), array_to_string(regions, chr(31)),"
    " revoked_at IS NOT NULL FROM api_keys";
constexpr char kSelectOrganisationRegions[] = "SELECT slug, region FROM organisations";

constexpr char kInsertAuditEvent[] =
    "INSERT INTO audit_events (principal, action, target, request_id, details)"
    " VALUES ($1, $2, $3, $4, $5::jsonb)";
// Target filter: the target itself or anything under it ("organisation" matches
// "organisation/lahti"); starts_with avoids LIKE's wildcards in the caller's text.
constexpr char kSelectAuditEvents[] =
    "SELECT id, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), principal,"
    " action, target, request_id, details::text FROM audit_events"
    " WHERE id > $1 AND ($2 = '' OR target = $2 OR starts_with(target, $2 || '/'))"
    " ORDER BY id LIMIT $3";

// --- helpers
// --------------------------------------------------------------------------------------

std::vector<std::string> SplitUnits(const std::string& text) {
  if (text.empty()) {
    return {};
  }
  return absl::StrSplit(text, '\x1f');
}

std::string JsonArray(const std::vector<std::string>& values) {
  std::string out = "[";
  for (size_t i = 0; i < values.size(); ++i) {
    absl::StrAppend(&out, i > 0 ? "," : "", log::JsonQuote(values[i]));
  }
  out.push_back(']');
  return out;
}

// {"k": <raw json>, ...} from pairs whose values are already JSON.
std::string JsonObject(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out = "{";
  for (size_t i = 0; i < fields.size(); ++i) {
    absl::StrAppend(&out, i > 0 ? "," : "", log::JsonQuote(fields[i].first), ":", fields[i].second);
  }
  out.push_back('}');
  return out;
}

void RecordAudit(pqxx::work& tx, const CallContext& call, absl::string_view action,
                 absl::string_view target, absl::string_view request_id,
                 const std::string& details_json) {
  tx.exec_params(kInsertAuditEvent, call.principal, std::string(action), std::string(target),
                 std::string(request_id), details_json);
}

// Runs `fn` once per request id: a replay with the same request returns the stored response; a
// different request under the same id is ALREADY_EXISTS. An advisory lock on the id makes
// concurrent duplicates wait for the first instead of racing it. `stored_form` turns the response
// into what is kept for replays (IssueApiKey drops the secret).
//
// Adapted from the ledger's helper of the same name (services/ledger/ledger_repository.cc), minus
// the tenant: a candidate for libs/pg once a third service needs it.
template <typename Resp>
absl::StatusOr<Resp> Idempotent(pqxx::work& tx, absl::string_view request_id,
                                absl::string_view method, const google::protobuf::Message& request,
                                const std::function<absl::StatusOr<Resp>()>& fn,
                                const std::function<Resp(const Resp&)>& stored_form = nullptr) {
  RETURN_IF_ERROR(ValidateRequestId("request_id", request_id));
  // The directory is not per tenant: its idempotency table has no tenant_id.
  return pg::Idempotent<Resp>(tx, {.tenant = "", .request_id = std::string(request_id)}, method,
                              request, fn, stored_form);
}

v1::Organisation OrganisationFromRow(const pqxx::row& row) {
  v1::Organisation o;
  o.set_slug(row[0].as<std::string>());
  o.set_name(row[1].as<std::string>());
  o.set_business_id(row[2].as<std::string>());
  o.set_region(row[3].as<std::string>());
  o.set_created_at(row[4].as<std::string>());
  o.set_updated_at(row[5].as<std::string>());
  return o;
}

v1::ApiKey ApiKeyFromRow(const pqxx::row& row) {
  v1::ApiKey k;
  k.set_key_id(row[0].as<std::string>());
  k.set_description(row[1].as<std::string>());
  for (std::string& role : SplitUnits(row[2].as<std::string>())) {
    k.add_roles(std::move(role));
  }
  for (std::string& org : SplitUnits(row[3].as<std::string>())) {
    k.add_organisations(std::move(org));
  }
  for (std::string& region : SplitUnits(row[4].as<std::string>())) {
    k.add_regions(std::move(region));
  }
  k.set_created_at(row[5].as<std::string>());
  k.set_revoked_at(row[6].as<std::string>());
  return k;
}

std::string KeyDetails(const v1::ApiKey& key) {
  return JsonObject(
      {{"description", log::JsonQuote(key.description())},
       {"roles", JsonArray({key.roles().begin(), key.roles().end()})},
       {"organisations", JsonArray({key.organisations().begin(), key.organisations().end()})},
       {"regions", JsonArray({key.regions().begin(), key.regions().end()})}});
}

// Sorted and without duplicates.
std::vector<std::string> SortedUnique(const google::protobuf::RepeatedPtrField<std::string>& in) {
  std::vector<std::string> out(in.begin(), in.end());
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// NOT_FOUND naming `field`[i] for the first slug of `wanted` that `existing_sql` does not return.
absl::Status CheckAllExist(pqxx::work& tx, const char* existing_sql, absl::string_view what,
                           absl::string_view field,
                           const google::protobuf::RepeatedPtrField<std::string>& wanted) {
  if (wanted.empty()) {
    return absl::OkStatus();
  }
  std::vector<std::string> slugs(wanted.begin(), wanted.end());
  std::vector<std::string> found;
  for (const auto& row : tx.exec_params(existing_sql, pg::TextArray(slugs))) {
    found.push_back(row[0].as<std::string>());
  }
  std::sort(found.begin(), found.end());
  for (int i = 0; i < wanted.size(); ++i) {
    if (!std::binary_search(found.begin(), found.end(), wanted[i])) {
      return absl::NotFoundError(
          absl::StrCat(field, "[", i, "]: ", what, " ", wanted[i], " does not exist"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateServiceAddresses(
    absl::string_view field_name,
    const google::protobuf::Map<std::string, std::string>& service_addresses) {
  for (const auto& [prefix, address] : service_addresses) {
    std::string field = absl::StrCat(field_name, "[\"", absl::CHexEscape(prefix), "\"]");
    if (!IsValidServicePrefix(prefix)) {
      return InvalidField(field,
                          "the key must be a gRPC service name or package prefix, e.g. "
                          "\"tahe.ledger.v1\"");
    }
    if (!IsValidUpstreamAddress(address)) {
      return InvalidField(field, absl::StrCat("\"", absl::CHexEscape(address),
                                              "\" is not a gRPC target like \"10.0.0.5:50051\""));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateRegion(const v1::Region& region) {
  RETURN_IF_ERROR(ValidateSlug("region.slug", region.slug()));
  RETURN_IF_ERROR(ValidateDisplayName("region.name", region.name()));
  return ValidateServiceAddresses("region.service_addresses", region.service_addresses());
}

absl::Status ValidateUpdateRegion(const v1::UpdateRegionRequest& req) {
  RETURN_IF_ERROR(ValidateRequestId("request_id", req.request_id()));
  RETURN_IF_ERROR(ValidateSlug("slug", req.slug()));
  if (!req.name().empty()) {
    RETURN_IF_ERROR(ValidateDisplayName("name", req.name()));
  }
  RETURN_IF_ERROR(ValidateServiceAddresses("service_addresses", req.service_addresses()));
  for (int i = 0; i < req.remove_service_prefixes_size(); ++i) {
    const std::string& prefix = req.remove_service_prefixes(i);
    std::string field = absl::StrCat("remove_service_prefixes[", i, "]");
    if (!IsValidServicePrefix(prefix)) {
      return InvalidField(field, "must be a gRPC service name or package prefix");
    }
    if (req.service_addresses().contains(prefix)) {
      return InvalidField(field, absl::StrCat("\"", prefix,
                                              "\" is also in service_addresses; set or remove it, "
                                              "not both"));
    }
  }
  if (req.name().empty() && req.service_addresses().empty() &&
      req.remove_service_prefixes().empty()) {
    return InvalidField("name",
                        "nothing to change: give a name, service_addresses or "
                        "remove_service_prefixes");
  }
  return absl::OkStatus();
}

absl::Status ValidateOrganisation(const v1::Organisation& org) {
  RETURN_IF_ERROR(ValidateSlug("organisation.slug", org.slug()));
  RETURN_IF_ERROR(ValidateDisplayName("organisation.name", org.name()));
  RETURN_IF_ERROR(ValidateBusinessId("organisation.business_id", org.business_id()));
  RETURN_IF_ERROR(ValidateSlug("organisation.region", org.region()));
  return absl::OkStatus();
}

absl::Status ValidateIssueRequest(const v1::IssueApiKeyRequest& req) {
  RETURN_IF_ERROR(ValidateRequestId("request_id", req.request_id()));
  RETURN_IF_ERROR(ValidateDescription("description", req.description()));
  if (req.roles().empty()) {
    return InvalidField("roles", "at least one role is required");
  }
  for (int i = 0; i < req.roles_size(); ++i) {
    if (!IsKnownRole(req.roles(i))) {
      return InvalidField(
          absl::StrCat("roles[", i, "]"),
          absl::StrCat("\"", absl::CHexEscape(req.roles(i)), "\" is not a role; roles are ",
                       absl::StrJoin(KnownRoles(), ", ")));
    }
  }
  for (int i = 0; i < req.organisations_size(); ++i) {
    RETURN_IF_ERROR(ValidateSlug(absl::StrCat("organisations[", i, "]"), req.organisations(i)));
  }
  for (int i = 0; i < req.regions_size(); ++i) {
    RETURN_IF_ERROR(ValidateSlug(absl::StrCat("regions[", i, "]"), req.regions(i)));
  }
  if (!req.organisations().empty() && !req.regions().empty()) {
    return InvalidField("regions",
                        "set either organisations or regions (an operator key), not both");
  }
  bool admin_only = std::all_of(req.roles().begin(), req.roles().end(),
                                [](const std::string& role) { return role == kRoleAdmin; });
  if (req.organisations().empty() && req.regions().empty() && !admin_only) {
    return InvalidField("organisations",
                        "required: the organisations the key may act for (or regions, for an "
                        "operator key); only a key whose sole role is admin may have neither");
  }
  return absl::OkStatus();
}

}  // namespace

GatewayRepository::GatewayRepository(pg::Pool* pool, Options options)
    : pool_(pool), options_(std::move(options)) {
  if (!options_.generate_key) {
    options_.generate_key = GenerateApiKey;
  }
}

// --- regions
// --------------------------------------------------------------------------------------

absl::StatusOr<v1::Region> GatewayRepository::CreateRegion(const CallContext& call,
                                                           const v1::CreateRegionRequest& req) {
  RETURN_IF_ERROR(ValidateRequestId("request_id", req.request_id()));
  RETURN_IF_ERROR(ValidateRegion(req.region()));
  return pg::InTenantTransaction<v1::Region>(
      *pool_, "", Tx(call), [&](pqxx::work& tx) -> absl::StatusOr<v1::Region> {
        return Idempotent<v1::Region>(
            tx, req.request_id(), "CreateRegion", req, [&]() -> absl::StatusOr<v1::Region> {
              const v1::Region& r = req.region();
              pqxx::result inserted = tx.exec_params(kInsertRegion, r.slug(), r.name());
              if (inserted.empty()) {
                return absl::AlreadyExistsError(
                    absl::StrCat("region.slug: region ", r.slug(), " already exists"));
              }
              std::map<std::string, std::string> sorted(r.service_addresses().begin(),
                                                        r.service_addresses().end());
              std::vector<std::string> prefixes, addresses;
              std::string addresses_json = "{";
              for (const auto& [prefix, address] : sorted) {
                absl::StrAppend(&addresses_json, prefixes.empty() ? "" : ",",
                                log::JsonQuote(prefix), ":", log::JsonQuote(address));
                prefixes.push_back(prefix);
                addresses.push_back(address);
              }
              addresses_json.push_back('}');
              if (!prefixes.empty()) {
                tx.exec_params(kInsertRegionServices, r.slug(), pg::TextArray(prefixes),
                               pg::TextArray(addresses));
              }
              RecordAudit(tx, call, "CreateRegion", absl::StrCat("region/", r.slug()),
                          req.request_id(),
                          JsonObject({{"name", log::JsonQuote(r.name())},
                                      {"service_addresses", addresses_json}}));
              v1::Region created = r;
              created.set_created_at(inserted[0][0].as<std::string>());
              return created;
            });
      });
}

absl::StatusOr<v1::Region> GatewayRepository::UpdateRegion(const CallContext& call,
                                                           const v1::UpdateRegionRequest& req) {
  RETURN_IF_ERROR(ValidateUpdateRegion(req));
  return pg::InTenantTransaction<v1::Region>(
      *pool_, "", Tx(call), [&](pqxx::work& tx) -> absl::StatusOr<v1::Region> {
        return Idempotent<v1::Region>(
            tx, req.request_id(), "UpdateRegion", req, [&]() -> absl::StatusOr<v1::Region> {
              pqxx::result current = tx.exec_params(kSelectRegionForUpdate, req.slug());
              if (current.empty()) {
                return absl::NotFoundError(
                    absl::StrCat("slug: region ", req.slug(), " does not exist"));
              }
              v1::Region region;
              region.set_slug(req.slug());
              region.set_name(current[0][0].as<std::string>());
              region.set_created_at(current[0][1].as<std::string>());
              std::vector<std::string> details;
              if (!req.name().empty() && req.name() != region.name()) {
                tx.exec_params(kRenameRegion, req.slug(), req.name());
                region.set_name(req.name());
                details.push_back(absl::StrCat("\"name\":", log::JsonQuote(req.name())));
              }
              if (!req.service_addresses().empty()) {
                std::map<std::string, std::string> sorted(req.service_addresses().begin(),
                                                          req.service_addresses().end());
                std::vector<std::string> prefixes, addresses;
                std::string set_json = "{";
                for (const auto& [prefix, address] : sorted) {
                  absl::StrAppend(&set_json, prefixes.empty() ? "" : ",", log::JsonQuote(prefix),
                                  ":", log::JsonQuote(address));
                  prefixes.push_back(prefix);
                  addresses.push_back(address);
                }
                set_json.push_back('}');
                tx.exec_params(kUpsertRegionServices, req.slug(), pg::TextArray(prefixes),
                               pg::TextArray(addresses));
                details.push_back(absl::StrCat("\"set_service_addresses\":", set_json));
              }
              if (!req.remove_service_prefixes().empty()) {
                std::vector<std::string> removed(req.remove_service_prefixes().begin(),
                                                 req.remove_service_prefixes().end());
                std::sort(removed.begin(), removed.end());
                tx.exec_params(kDeleteRegionServices, req.slug(), pg::TextArray(removed));
                details.push_back(absl::StrCat("\"remove_service_prefixes\":", JsonArray(removed)));
              }
              for (const auto& row : tx.exec_params(kSelectServicesOfRegion, req.slug())) {
                (*region.mutable_service_addresses())[row[0].as<std::string>()] =
                    row[1].as<std::string>();
              }
              RecordAudit(tx, call, "UpdateRegion", absl::StrCat("region/", req.slug()),
                          req.request_id(), absl::StrCat("{", absl::StrJoin(details, ","), "}"));
              return region;
            });
      });
}

absl::StatusOr<v1::ListRegionsResponse> GatewayRepository::ListRegions(
    const CallContext& call, const v1::ListRegionsRequest& req) {
  return pg::InTenantTransaction<v1::ListRegionsResponse>(
      *pool_, "", Tx(call, true), [&](pqxx::work& tx) -> absl::StatusOr<v1::ListRegionsResponse> {
        v1::ListRegionsResponse resp;
        std::map<std::string, v1::Region*> by_slug;
        for (const auto& row : tx.exec(kSelectRegions)) {
          v1::Region* region = resp.add_regions();
          region->set_slug(row[0].as<std::string>());
          region->set_name(row[1].as<std::string>());
          region->set_created_at(row[2].as<std::string>());
          by_slug[region->slug()] = region;
        }
        for (const auto& row : tx.exec(kSelectRegionServices)) {
          auto it = by_slug.find(row[0].as<std::string>());
          if (it != by_slug.end()) {
            (*it->second->mutable_service_addresses())[row[1].as<std::string>()] =
                row[2].as<std::string>();
          }
        }
        return resp;
      });
}

// --- organisations
// --------------------------------------------------------------------------------

absl::StatusOr<v1::Organisation> GatewayRepository::CreateOrganisation(
    const CallContext& call, const v1::CreateOrganisationRequest& req) {
  RETURN_IF_ERROR(ValidateRequestId("request_id", req.request_id()));
  RETURN_IF_ERROR(ValidateOrganisation(req.organisation()));
  return pg::InTenantTransaction<v1::Organisation>(
      *pool_, "", Tx(call), [&](pqxx::work& tx) -> absl::StatusOr<v1::Organisation> {
        return Idempotent<v1::Organisation>(
            tx, req.request_id(), "CreateOrganisation", req,
            [&]() -> absl::StatusOr<v1::Organisation> {
              const v1::Organisation& o = req.organisation();
              if (tx.exec_params(kRegionExists, o.region()).empty()) {
                return absl::NotFoundError(
                    absl::StrCat("organisation.region: region ", o.region(), " does not exist"));
              }
              pqxx::result inserted = tx.exec_params(kInsertOrganisation, o.slug(), o.name(),
                                                     o.business_id(), o.region());
              if (inserted.empty()) {
                return absl::AlreadyExistsError(
                    absl::StrCat("organisation.slug: organisation ", o.slug(), " already exists"));
              }
              RecordAudit(tx, call, "CreateOrganisation", absl::StrCat("organisation/", o.slug()),
                          req.request_id(),
                          JsonObject({{"name", log::JsonQuote(o.name())},
                                      {"business_id", log::JsonQuote(o.business_id())},
                                      {"region", log::JsonQuote(o.region())}}));
              return OrganisationFromRow(inserted[0]);
            });
      });
}

absl::StatusOr<v1::ListOrganisationsResponse> GatewayRepository::ListOrganisations(
    const CallContext& call, const v1::ListOrganisationsRequest& req) {
  if (!req.region().empty()) {
    RETURN_IF_ERROR(ValidateSlug("region", req.region()));
  }
  return pg::InTenantTransaction<v1::ListOrganisationsResponse>(
      *pool_, "", Tx(call, true),
      [&](pqxx::work& tx) -> absl::StatusOr<v1::ListOrganisationsResponse> {
        v1::ListOrganisationsResponse resp;
        for (const auto& row : tx.exec_params(kSelectOrganisations, req.region())) {
          *resp.add_organisations() = OrganisationFromRow(row);
        }
        return resp;
      });
}

absl::StatusOr<v1::Organisation> GatewayRepository::UpdateOrganisation(
    const CallContext& call, const v1::UpdateOrganisationRequest& req, const MoveCheck& may_move) {
  RETURN_IF_ERROR(ValidateRequestId("request_id", req.request_id()));
  RETURN_IF_ERROR(ValidateSlug("slug", req.slug()));
  if (!req.name().empty()) {
    RETURN_IF_ERROR(ValidateDisplayName("name", req.name()));
  }
  if (!req.business_id().empty()) {
    RETURN_IF_ERROR(ValidateBusinessId("business_id", req.business_id()));
  }
  if (!req.region().empty()) {
    RETURN_IF_ERROR(ValidateSlug("region", req.region()));
  }
  return pg::InTenantTransaction<v1::Organisation>(
      *pool_, "", Tx(call), [&](pqxx::work& tx) -> absl::StatusOr<v1::Organisation> {
        return Idempotent<v1::Organisation>(
            tx, req.request_id(), "UpdateOrganisation", req,
            [&]() -> absl::StatusOr<v1::Organisation> {
              pqxx::result current = tx.exec_params(kSelectOrganisationForUpdate, req.slug());
              if (current.empty()) {
                return absl::NotFoundError(
                    absl::StrCat("slug: organisation ", req.slug(), " does not exist"));
              }
              v1::Organisation org = OrganisationFromRow(current[0]);
              std::vector<std::pair<std::string, std::string>> changes;
              if (!req.name().empty() && req.name() != org.name()) {
                changes.emplace_back("name", log::JsonQuote(req.name()));
                org.set_name(req.name());
              }
              if (!req.business_id().empty() && req.business_id() != org.business_id()) {
                changes.emplace_back("business_id", log::JsonQuote(req.business_id()));
                org.set_business_id(req.business_id());
              }
              if (!req.region().empty() && req.region() != org.region()) {
                if (tx.exec_params(kRegionExists, req.region()).empty()) {
                  return absl::NotFoundError(
                      absl::StrCat("region: region ", req.region(), " does not exist"));
                }
                if (!may_move) {
                  return absl::FailedPreconditionError(
                      absl::StrCat("region: moving organisation ", org.slug(),
                                   " needs a check that it has no "
                                   "data in region ",
                                   org.region(), ", and none is configured"));
                }
                RETURN_IF_ERROR(may_move(org.slug(), org.region()));
                changes.emplace_back("previous_region", log::JsonQuote(org.region()));
                changes.emplace_back("region", log::JsonQuote(req.region()));
                org.set_region(req.region());
              }
              if (changes.empty()) {
                return org;  // nothing to change: no write, no audit event
              }
              pqxx::result updated = tx.exec_params(kUpdateOrganisation, org.slug(), org.name(),
                                                    org.business_id(), org.region());
              RecordAudit(tx, call, "UpdateOrganisation", absl::StrCat("organisation/", org.slug()),
                          req.request_id(), JsonObject(changes));
              return OrganisationFromRow(updated[0]);
            });
      });
}

// --- API keys
// -------------------------------------------------------------------------------------

absl::StatusOr<v1::IssueApiKeyResponse> GatewayRepository::IssueApiKey(
    const CallContext& call, const v1::IssueApiKeyRequest& req) {
  RETURN_IF_ERROR(ValidateIssueRequest(req));
  return pg::InTenantTransaction<v1::IssueApiKeyResponse>(
      *pool_, "", Tx(call), [&](pqxx::work& tx) -> absl::StatusOr<v1::IssueApiKeyResponse> {
        return Idempotent<v1::IssueApiKeyResponse>(
            tx, req.request_id(), "IssueApiKey", req,
            [&]() -> absl::StatusOr<v1::IssueApiKeyResponse> {
              RETURN_IF_ERROR(CheckAllExist(tx, kOrganisationsExisting, "organisation",
                                            "organisations", req.organisations()));
              RETURN_IF_ERROR(
                  CheckAllExist(tx, kRegionsExisting, "region", "regions", req.regions()));
              std::string roles = pg::TextArray(SortedUnique(req.roles()));
              std::string orgs = pg::TextArray(SortedUnique(req.organisations()));
              std::string regions = pg::TextArray(SortedUnique(req.regions()));
              // A 48-bit key id collides about once in 16 million keys issued; then draw again.
              for (int attempt = 0; attempt < kMaxKeyIdAttempts; ++attempt) {
                ASSIGN_OR_RETURN(GeneratedApiKey key, options_.generate_key());
                pqxx::result inserted =
                    tx.exec_params(kInsertApiKey, key.key_id, absl::BytesToHexString(key.hash),
                                   roles, orgs, regions, req.description(), call.principal);
                if (inserted.empty()) {
                  continue;
                }
                v1::IssueApiKeyResponse resp;
                *resp.mutable_key() = ApiKeyFromRow(inserted[0]);
                resp.set_api_key(key.token);
                RecordAudit(tx, call, "IssueApiKey", absl::StrCat("api_key/", key.key_id),
                            req.request_id(), KeyDetails(resp.key()));
                return resp;
              }
              return absl::InternalError("could not draw an unused API key id");
            },
            [](const v1::IssueApiKeyResponse& resp) {
              v1::IssueApiKeyResponse without_secret;
              *without_secret.mutable_key() = resp.key();
              return without_secret;
            });
      });
}

absl::StatusOr<v1::ListApiKeysResponse> GatewayRepository::ListApiKeys(
    const CallContext& call, const v1::ListApiKeysRequest& req) {
  if (!req.organisation().empty()) {
    RETURN_IF_ERROR(ValidateSlug("organisation", req.organisation()));
  }
  return pg::InTenantTransaction<v1::ListApiKeysResponse>(
      *pool_, "", Tx(call, true), [&](pqxx::work& tx) -> absl::StatusOr<v1::ListApiKeysResponse> {
        v1::ListApiKeysResponse resp;
        for (const auto& row :
             tx.exec_params(kSelectApiKeys, req.include_revoked(), req.organisation())) {
          *resp.add_keys() = ApiKeyFromRow(row);
        }
        return resp;
      });
}

absl::StatusOr<v1::ApiKey> GatewayRepository::RevokeApiKey(const CallContext& call,
                                                           const v1::RevokeApiKeyRequest& req) {
  RETURN_IF_ERROR(ValidateRequestId("request_id", req.request_id()));
  if (req.key_id().size() != kKeyIdHexChars ||
      !std::all_of(req.key_id().begin(), req.key_id().end(),
                   [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); })) {
    return InvalidField("key_id", "12 lower-case hex characters (the part after \"tahe_\")");
  }
  return pg::InTenantTransaction<v1::ApiKey>(
      *pool_, "", Tx(call), [&](pqxx::work& tx) -> absl::StatusOr<v1::ApiKey> {
        return Idempotent<v1::ApiKey>(
            tx, req.request_id(), "RevokeApiKey", req, [&]() -> absl::StatusOr<v1::ApiKey> {
              pqxx::result current = tx.exec_params(kSelectApiKeyForUpdate, req.key_id());
              if (current.empty()) {
                return absl::NotFoundError(
                    absl::StrCat("key_id: API key ", req.key_id(), " does not exist"));
              }
              v1::ApiKey key = ApiKeyFromRow(current[0]);
              if (!key.revoked_at().empty()) {
                return key;  // already revoked: unchanged, no audit event
              }
              key = ApiKeyFromRow(tx.exec_params(kRevokeApiKey, req.key_id())[0]);
              RecordAudit(tx, call, "RevokeApiKey", absl::StrCat("api_key/", key.key_id()),
                          req.request_id(), KeyDetails(key));
              return key;
            });
      });
}

// --- audit
// ----------------------------------------------------------------------------------------

absl::StatusOr<v1::ListAuditEventsResponse> GatewayRepository::ListAuditEvents(
    const CallContext& call, const v1::ListAuditEventsRequest& req) {
  if (req.after_id() < 0) {
    return InvalidField("after_id", "must not be negative");
  }
  if (req.limit() < 0 || req.limit() > kMaxAuditLimit) {
    return InvalidField("limit",
                        absl::StrCat("0 (default ", kDefaultAuditLimit, ") to ", kMaxAuditLimit));
  }
  RETURN_IF_ERROR(ValidateDescription("target", req.target()));
  int limit = req.limit() == 0 ? kDefaultAuditLimit : req.limit();
  return pg::InTenantTransaction<v1::ListAuditEventsResponse>(
      *pool_, "", Tx(call, true),
      [&](pqxx::work& tx) -> absl::StatusOr<v1::ListAuditEventsResponse> {
        v1::ListAuditEventsResponse resp;
        // One more than asked tells whether another page exists.
        pqxx::result rows =
            tx.exec_params(kSelectAuditEvents, req.after_id(), req.target(), limit + 1);
        for (int i = 0; i < static_cast<int>(rows.size()) && i < limit; ++i) {
          const pqxx::row& row = rows[i];
          v1::AuditEvent* e = resp.add_events();
          e->set_id(row[0].as<int64_t>());
          e->set_at(row[1].as<std::string>());
          e->set_principal(row[2].as<std::string>());
          e->set_action(row[3].as<std::string>());
          e->set_target(row[4].as<std::string>());
          e->set_request_id(row[5].as<std::string>());
          e->set_details(row[6].as<std::string>());
        }
        if (static_cast<int>(rows.size()) > limit) {
          resp.set_next_after_id(resp.events(limit - 1).id());
        }
        return resp;
      });
}

// --- snapshot
// -------------------------------------------------------------------------------------

absl::StatusOr<RoutingSnapshot> GatewayRepository::LoadSnapshot(absl::Time deadline) {
  return pg::InTenantTransaction<RoutingSnapshot>(
      *pool_, "", {.deadline = deadline, .serializable = true, .read_only = true},
      [&](pqxx::work& tx) -> absl::StatusOr<RoutingSnapshot> {
        RoutingSnapshot snapshot;
        for (const auto& row : tx.exec(kSelectRegions)) {
          snapshot.region_services[row[0].as<std::string>()];  // regions without services too
        }
        for (const auto& row : tx.exec(kSelectRegionServices)) {
          snapshot.region_services[row[0].as<std::string>()][row[1].as<std::string>()] =
              row[2].as<std::string>();
        }
        for (const auto& row : tx.exec(kSelectOrganisationRegions)) {
          snapshot.organisation_region[row[0].as<std::string>()] = row[1].as<std::string>();
        }
        for (const auto& row : tx.exec(kSelectKeysForSnapshot)) {
          KeyEntry key;
          key.key_id = row[0].as<std::string>();
          key.hash = absl::HexStringToBytes(row[1].as<std::string>());
          key.roles = SplitUnits(row[2].as<std::string>());
          key.organisations = SplitUnits(row[3].as<std::string>());
          key.regions = SplitUnits(row[4].as<std::string>());
          // Sorted when written; sorted again so lookups never depend on how a row was written.
          std::sort(key.roles.begin(), key.roles.end());
          std::sort(key.organisations.begin(), key.organisations.end());
          std::sort(key.regions.begin(), key.regions.end());
          key.revoked = row[5].as<bool>();
          std::string id = key.key_id;
          snapshot.keys.emplace(std::move(id), std::move(key));
        }
        return snapshot;
      });
}

}  // namespace tahe::gateway
