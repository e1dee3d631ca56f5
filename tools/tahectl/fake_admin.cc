#include "tools/tahectl/fake_admin.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace tahe::tahectl {

namespace gw = ::tahe::gateway::v1;

namespace {

constexpr char kNow[] = "2025-01-01T00:00:00.000000Z";

std::string Metadata(const grpc::ServerContext* context, const char* key) {
  const auto& metadata = context->client_metadata();
  auto it = metadata.find(key);
  return it == metadata.end() ? "" : std::string(it->second.data(), it->second.size());
}

}  // namespace

std::vector<FakeAdmin::CallRecord> FakeAdmin::calls() const {
  absl::MutexLock lock(&mu_);
  return calls_;
}

void FakeAdmin::FailNextCall(grpc::Status status) {
  absl::MutexLock lock(&mu_);
  fail_next_ = std::move(status);
}

void FakeAdmin::SetTenantData(const std::string& organisation, std::string description) {
  absl::MutexLock lock(&mu_);
  tenant_data_[organisation] = std::move(description);
}

grpc::Status FakeAdmin::Admit(grpc::ServerContext* context, const char* method,
                              const google::protobuf::Message& request) {
  std::shared_ptr<google::protobuf::Message> copy(request.New());
  copy->CopyFrom(request);
  CallRecord record{method,
                    Metadata(context, "authorization"),
                    Metadata(context, "x-tahe-tenant"),
                    Metadata(context, "x-tahe-internal-token"),
                    Metadata(context, "x-request-id"),
                    std::move(copy)};
  const std::string authorization = record.authorization;
  calls_.push_back(std::move(record));
  if (fail_next_.has_value()) {
    grpc::Status status = *fail_next_;
    fail_next_.reset();
    return status;
  }
  if (!absl::StartsWith(authorization, "Bearer ")) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "missing API key (authorization: Bearer <key>)");
  }
  if (authorization != absl::StrCat("Bearer ", admin_key_)) {
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "the API key lacks the role admin");
  }
  return grpc::Status::OK;
}

grpc::Status FakeAdmin::CheckReplay(const char* method, const std::string& request_id,
                                    const google::protobuf::Message& request,
                                    google::protobuf::Message* response, bool* replayed) {
  *replayed = false;
  if (request_id.empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "request_id: required");
  }
  auto it = by_request_id_.find(request_id);
  if (it == by_request_id_.end()) {
    return grpc::Status::OK;
  }
  if (it->second.method != method || it->second.request != request.SerializeAsString()) {
    return grpc::Status(grpc::StatusCode::ALREADY_EXISTS,
                        absl::StrCat("request_id ", request_id, " was used for another request"));
  }
  response->ParseFromString(it->second.response);
  *replayed = true;
  return grpc::Status::OK;
}

void FakeAdmin::Commit(const char* method, const std::string& request_id,
                       const google::protobuf::Message& request,
                       const google::protobuf::Message& response, const std::string& target) {
  by_request_id_[request_id] =
      Stored{method, request.SerializeAsString(), response.SerializeAsString()};
  gw::AuditEvent event;
  event.set_id(static_cast<int64_t>(audit_.size()) + 1);
  event.set_at(kNow);
  event.set_principal(absl::StrCat("key:", admin_key_.substr(5, 12)));
  event.set_action(method);
  event.set_target(target);
  event.set_request_id(request_id);
  event.set_details("{}");
  audit_.push_back(std::move(event));
}

grpc::Status FakeAdmin::CreateRegion(grpc::ServerContext* context,
                                     const gw::CreateRegionRequest* request, gw::Region* response) {
  absl::MutexLock lock(&mu_);
  if (grpc::Status s = Admit(context, "CreateRegion", *request); !s.ok()) {
    return s;
  }
  bool replayed = false;
  if (grpc::Status s =
          CheckReplay("CreateRegion", request->request_id(), *request, response, &replayed);
      !s.ok() || replayed) {
    return s;
  }
  if (regions_.count(request->region().slug()) > 0) {
    return grpc::Status(grpc::StatusCode::ALREADY_EXISTS,
                        absl::StrCat("region ", request->region().slug(), " exists"));
  }
  gw::Region& region = regions_[request->region().slug()];
  region = request->region();
  region.set_created_at(kNow);
  *response = region;
  Commit("CreateRegion", request->request_id(), *request, *response,
         absl::StrCat("region/", region.slug()));
  return grpc::Status::OK;
}

grpc::Status FakeAdmin::ListRegions(grpc::ServerContext* context,
                                    const gw::ListRegionsRequest* request,
                                    gw::ListRegionsResponse* response) {
  absl::MutexLock lock(&mu_);
  if (grpc::Status s = Admit(context, "ListRegions", *request); !s.ok()) {
    return s;
  }
  for (const auto& [slug, region] : regions_) {
    *response->add_regions() = region;
  }
  return grpc::Status::OK;
}

grpc::Status FakeAdmin::UpdateRegion(grpc::ServerContext* context,
                                     const gw::UpdateRegionRequest* request, gw::Region* response) {
  absl::MutexLock lock(&mu_);
  if (grpc::Status s = Admit(context, "UpdateRegion", *request); !s.ok()) {
    return s;
  }
  bool replayed = false;
  if (grpc::Status s =
          CheckReplay("UpdateRegion", request->request_id(), *request, response, &replayed);
      !s.ok() || replayed) {
    return s;
  }
  auto it = regions_.find(request->slug());
  if (it == regions_.end()) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND, absl::StrCat("no region ", request->slug()));
  }
  gw::Region& region = it->second;
  if (!request->name().empty()) {
    region.set_name(request->name());
  }
  for (const auto& [prefix, address] : request->service_addresses()) {
    (*region.mutable_service_addresses())[prefix] = address;
  }
  for (const std::string& prefix : request->remove_service_prefixes()) {
    region.mutable_service_addresses()->erase(prefix);
  }
  *response = region;
  Commit("UpdateRegion", request->request_id(), *request, *response,
         absl::StrCat("region/", region.slug()));
  return grpc::Status::OK;
}

grpc::Status FakeAdmin::CreateOrganisation(grpc::ServerContext* context,
                                           const gw::CreateOrganisationRequest* request,
                                           gw::Organisation* response) {
  absl::MutexLock lock(&mu_);
  if (grpc::Status s = Admit(context, "CreateOrganisation", *request); !s.ok()) {
    return s;
  }
  bool replayed = false;
  if (grpc::Status s =
          CheckReplay("CreateOrganisation", request->request_id(), *request, response, &replayed);
      !s.ok() || replayed) {
    return s;
  }
  const gw::Organisation& wanted = request->organisation();
  if (organisations_.count(wanted.slug()) > 0) {
    return grpc::Status(grpc::StatusCode::ALREADY_EXISTS,
                        absl::StrCat("organisation ", wanted.slug(), " exists"));
  }
  if (regions_.count(wanted.region()) == 0) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND, absl::StrCat("no region ", wanted.region()));
  }
  gw::Organisation& organisation = organisations_[wanted.slug()];
  organisation = wanted;
  organisation.set_created_at(kNow);
  organisation.set_updated_at(kNow);
  *response = organisation;
  Commit("CreateOrganisation", request->request_id(), *request, *response,
         absl::StrCat("organisation/", organisation.slug()));
  return grpc::Status::OK;
}

grpc::Status FakeAdmin::ListOrganisations(grpc::ServerContext* context,
                                          const gw::ListOrganisationsRequest* request,
                                          gw::ListOrganisationsResponse* response) {
  absl::MutexLock lock(&mu_);
  if (grpc::Status s = Admit(context, "ListOrganisations", *request); !s.ok()) {
    return s;
  }
  for (const auto& [slug, organisation] : organisations_) {
    if (request->region().empty() || organisation.region() == request->region()) {
      *response->add_organisations() = organisation;
    }
  }
  return grpc::Status::OK;
}

grpc::Status FakeAdmin::UpdateOrganisation(grpc::ServerContext* context,
                                           const gw::UpdateOrganisationRequest* request,
                                           gw::Organisation* response) {
  absl::MutexLock lock(&mu_);
  if (grpc::Status s = Admit(context, "UpdateOrganisation", *request); !s.ok()) {
    return s;
  }
  bool replayed = false;
  if (grpc::Status s =
          CheckReplay("UpdateOrganisation", request->request_id(), *request, response, &replayed);
      !s.ok() || replayed) {
    return s;
  }
  auto it = organisations_.find(request->slug());
  if (it == organisations_.end()) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("no organisation ", request->slug()));
  }
  gw::Organisation& organisation = it->second;
  if (!request->region().empty() && request->region() != organisation.region()) {
    if (auto data = tenant_data_.find(organisation.slug()); data != tenant_data_.end()) {
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                          absl::StrCat("organisation ", organisation.slug(), " has data in region ",
                                       organisation.region(), ": ", data->second));
    }
    organisation.set_region(request->region());
  }
  if (!request->name().empty()) {
    organisation.set_name(request->name());
  }
  if (!request->business_id().empty()) {
    organisation.set_business_id(request->business_id());
  }
  *response = organisation;
  Commit("UpdateOrganisation", request->request_id(), *request, *response,
         absl::StrCat("organisation/", organisation.slug()));
  return grpc::Status::OK;
}

grpc::Status FakeAdmin::IssueApiKey(grpc::ServerContext* context,
                                    const gw::IssueApiKeyRequest* request,
                                    gw::IssueApiKeyResponse* response) {
  absl::MutexLock lock(&mu_);
  if (grpc::Status s = Admit(context, "IssueApiKey", *request); !s.ok()) {
    return s;
  }
  bool replayed = false;
  if (grpc::Status s =
          CheckReplay("IssueApiKey", request->request_id(), *request, response, &replayed);
      !s.ok() || replayed) {
    return s;  // the stored response has no secret
  }
  gw::ApiKey key;
  key.set_key_id(absl::StrFormat("%012x", keys_.size() + 0xabc000));
  key.set_description(request->description());
  key.mutable_roles()->CopyFrom(request->roles());
  std::sort(key.mutable_roles()->begin(), key.mutable_roles()->end());
  key.mutable_organisations()->CopyFrom(request->organisations());
  key.mutable_regions()->CopyFrom(request->regions());
  key.set_created_at(kNow);
  keys_.push_back(key);
  *response->mutable_key() = key;
  // Stored without the secret, as the gateway stores only its hash.
  Commit("IssueApiKey", request->request_id(), *request, *response,
         absl::StrCat("api_key/", key.key_id()));
  response->set_api_key(absl::StrCat("tahe_", key.key_id(), "_", std::string(64, 'e')));
  return grpc::Status::OK;
}

grpc::Status FakeAdmin::ListApiKeys(grpc::ServerContext* context,
                                    const gw::ListApiKeysRequest* request,
                                    gw::ListApiKeysResponse* response) {
  absl::MutexLock lock(&mu_);
  if (grpc::Status s = Admit(context, "ListApiKeys", *request); !s.ok()) {
    return s;
  }
  for (const gw::ApiKey& key : keys_) {
    if (!request->include_revoked() && !key.revoked_at().empty()) {
      continue;
    }
    if (!request->organisation().empty() &&
        std::find(key.organisations().begin(), key.organisations().end(),
                  request->organisation()) == key.organisations().end()) {
      continue;
    }
    *response->add_keys() = key;
  }
  return grpc::Status::OK;
}

grpc::Status FakeAdmin::RevokeApiKey(grpc::ServerContext* context,
                                     const gw::RevokeApiKeyRequest* request, gw::ApiKey* response) {
  absl::MutexLock lock(&mu_);
  if (grpc::Status s = Admit(context, "RevokeApiKey", *request); !s.ok()) {
    return s;
  }
  bool replayed = false;
  if (grpc::Status s =
          CheckReplay("RevokeApiKey", request->request_id(), *request, response, &replayed);
      !s.ok() || replayed) {
    return s;
  }
  for (gw::ApiKey& key : keys_) {
    if (key.key_id() == request->key_id()) {
      if (key.revoked_at().empty()) {
        key.set_revoked_at(kNow);
      }
      *response = key;
      Commit("RevokeApiKey", request->request_id(), *request, *response,
             absl::StrCat("api_key/", key.key_id()));
      return grpc::Status::OK;
    }
  }
  return grpc::Status(grpc::StatusCode::NOT_FOUND, absl::StrCat("no key ", request->key_id()));
}

grpc::Status FakeAdmin::ListAuditEvents(grpc::ServerContext* context,
                                        const gw::ListAuditEventsRequest* request,
                                        gw::ListAuditEventsResponse* response) {
  absl::MutexLock lock(&mu_);
  if (grpc::Status s = Admit(context, "ListAuditEvents", *request); !s.ok()) {
    return s;
  }
  const int limit = request->limit() > 0 ? request->limit() : 100;
  for (const gw::AuditEvent& event : audit_) {
    if (event.id() <= request->after_id()) {
      continue;
    }
    if (!request->target().empty() && event.target() != request->target() &&
        !absl::StartsWith(event.target(), absl::StrCat(request->target(), "/"))) {
      continue;
    }
    if (response->events_size() == limit) {
      response->set_next_after_id(response->events(limit - 1).id());
      break;
    }
    *response->add_events() = event;
  }
  return grpc::Status::OK;
}

}  // namespace tahe::tahectl
