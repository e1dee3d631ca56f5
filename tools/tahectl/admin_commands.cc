#include "tools/tahectl/admin_commands.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "libs/status/status.h"
#include "tools/tahectl/parse.h"

namespace tahe::tahectl {

namespace gw = ::tahe::gateway::v1;

AdminClient::AdminClient(ClientSettings settings)
    : settings_(std::move(settings)), stub_(gw::AdminService::NewStub(settings_.NewChannel())) {}

// One definition per RPC: a fresh context, the call, and the error named after the method.
#define TAHECTL_ADMIN_UNARY(Method, Request, Response)                           \
  absl::StatusOr<gw::Response> AdminClient::Method(const gw::Request& request) { \
    std::unique_ptr<grpc::ClientContext> context = settings_.NewContext();       \
    gw::Response response;                                                       \
    grpc::Status status = stub_->Method(context.get(), request, &response);      \
    if (!status.ok()) {                                                          \
      return RpcError(#Method, status);                                          \
    }                                                                            \
    return response;                                                             \
  }

TAHECTL_ADMIN_UNARY(CreateRegion, CreateRegionRequest, Region)
TAHECTL_ADMIN_UNARY(ListRegions, ListRegionsRequest, ListRegionsResponse)
TAHECTL_ADMIN_UNARY(UpdateRegion, UpdateRegionRequest, Region)
TAHECTL_ADMIN_UNARY(CreateOrganisation, CreateOrganisationRequest, Organisation)
TAHECTL_ADMIN_UNARY(ListOrganisations, ListOrganisationsRequest, ListOrganisationsResponse)
TAHECTL_ADMIN_UNARY(UpdateOrganisation, UpdateOrganisationRequest, Organisation)
TAHECTL_ADMIN_UNARY(IssueApiKey, IssueApiKeyRequest, IssueApiKeyResponse)
TAHECTL_ADMIN_UNARY(ListApiKeys, ListApiKeysRequest, ListApiKeysResponse)
TAHECTL_ADMIN_UNARY(RevokeApiKey, RevokeApiKeyRequest, ApiKey)
TAHECTL_ADMIN_UNARY(ListAuditEvents, ListAuditEventsRequest, ListAuditEventsResponse)

#undef TAHECTL_ADMIN_UNARY

namespace {

std::string RequestIdOf(const Args& args) {
  if (std::optional<std::string> id = args.Value("request-id"); id.has_value() && !id->empty()) {
    return *id;
  }
  return NewRequestId();
}

absl::Status CheckSlug(absl::string_view what, absl::string_view slug) {
  if (!IsValidTenantSlug(slug)) {
    return UsageError(absl::StrCat(
        what, ": \"", slug, "\" is not a slug (lower-case letters, digits, '-', at most 63)"));
  }
  return absl::OkStatus();
}

// --service PREFIX=ADDR, each prefix once.
absl::StatusOr<std::map<std::string, std::string>> ParseServices(const Args& args) {
  std::map<std::string, std::string> services;
  for (const std::string& text : args.Values("service")) {
    const size_t eq = text.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == text.size()) {
      return UsageError(absl::StrCat(
          "--service: want PREFIX=ADDR (tahe.ledger.v1=127.0.0.1:50051), got \"", text, "\""));
    }
    if (!services.emplace(text.substr(0, eq), text.substr(eq + 1)).second) {
      return UsageError(absl::StrCat("--service: ", text.substr(0, eq), " given twice"));
    }
  }
  return services;
}

std::string Scope(const gw::ApiKey& key) {
  if (key.organisations_size() > 0) {
    return absl::StrCat("organisations ", absl::StrJoin(key.organisations(), ","));
  }
  if (key.regions_size() > 0) {
    return absl::StrCat("regions ", absl::StrJoin(key.regions(), ","));
  }
  return "-";
}

// Creates `path` for a new key: mode 0600, never an existing file (O_EXCL also refuses a
// symlink planted in its place). Owns the descriptor; Discard removes the file again.
class KeyFile {
 public:
  static absl::StatusOr<KeyFile> Create(const std::string& path) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
      if (errno == EEXIST) {
        return UsageError(absl::FailedPreconditionError(absl::StrCat(
            "--key-file: ", path, " already exists; not overwriting it (no key was issued)")));
      }
      return UsageError(absl::FailedPreconditionError(
          absl::StrCat("--key-file: cannot create ", path, ": ", std::strerror(errno))));
    }
    return KeyFile(path, fd);
  }
  KeyFile(KeyFile&& other) noexcept
      : path_(std::move(other.path_)), fd_(std::exchange(other.fd_, -1)) {}
  KeyFile& operator=(KeyFile&&) = delete;
  ~KeyFile() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }

  absl::Status Write(absl::string_view key) {
    const std::string text = absl::StrCat(key, "\n");
    size_t written = 0;
    while (written < text.size()) {
      const ssize_t n = ::write(fd_, text.data() + written, text.size() - written);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        return absl::InternalError(
            absl::StrCat("cannot write ", path_, ": ", std::strerror(errno)));
      }
      written += static_cast<size_t>(n);
    }
    const int fd = std::exchange(fd_, -1);
    if (::fsync(fd) != 0 || ::close(fd) != 0) {
      return absl::InternalError(absl::StrCat("cannot write ", path_, ": ", std::strerror(errno)));
    }
    return absl::OkStatus();
  }

  void Discard() {
    if (fd_ >= 0) {
      ::close(std::exchange(fd_, -1));
    }
    ::unlink(path_.c_str());
  }

 private:
  KeyFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}

  std::string path_;
  int fd_;
};

absl::Status IssueKey(const gw::IssueApiKeyRequest& request, const std::string& key_file_path,
                      AdminClient& admin, OutputFormat format, std::ostream& out) {
  // The file is created before the call: a key that cannot be stored is never issued.
  std::optional<KeyFile> key_file;
  if (!key_file_path.empty()) {
    ASSIGN_OR_RETURN(KeyFile created, KeyFile::Create(key_file_path));
    key_file.emplace(std::move(created));
  }
  absl::StatusOr<gw::IssueApiKeyResponse> issued = admin.IssueApiKey(request);
  if (!issued.ok()) {
    if (key_file.has_value()) {
      key_file->Discard();
    }
    return issued.status();
  }
  const std::string& key_id = issued->key().key_id();
  if (issued->api_key().empty()) {
    if (key_file.has_value()) {
      key_file->Discard();
    }
    return absl::AlreadyExistsError(absl::StrCat(
        "IssueApiKey: request id ", request.request_id(), " was used before: key ", key_id,
        " was issued then and its secret is not shown again; revoke it (tahectl admin keys "
        "revoke ",
        key_id, ") and issue a new key"));
  }
  if (key_file.has_value()) {
    if (absl::Status written = key_file->Write(issued->api_key()); !written.ok()) {
      key_file->Discard();
      return tahe::Annotate(written, absl::StrCat("--key-file: key ", key_id,
                                                  " was issued but not stored; revoke it"));
    }
    issued->clear_api_key();
  }
  if (format == OutputFormat::kJson) {
    PrintJson(*issued, out);
    return absl::OkStatus();
  }
  out << "issued key " << key_id << ": roles " << absl::StrJoin(issued->key().roles(), ",") << "; "
      << Scope(issued->key()) << " (request id " << request.request_id() << ")\n";
  if (key_file.has_value()) {
    out << "the key is in " << key_file_path << " (mode 0600)\n";
  } else {
    out << "API key, shown only now (the gateway keeps only its hash):\n"
        << issued->api_key() << "\n";
  }
  return absl::OkStatus();
}

template <typename Message>
std::vector<Message> AsVector(const google::protobuf::RepeatedPtrField<Message>& items) {
  return std::vector<Message>(items.begin(), items.end());
}

}  // namespace

absl::StatusOr<AdminCommand> ParseAdminCommand(const Args& args) {
  const std::vector<std::string>& words = args.positional();
  constexpr absl::string_view kSynopsis =
      "usage: tahectl admin regions|orgs|keys|audit ...  (see tahectl --help)";
  if (words.size() < 2) {
    return UsageError(kSynopsis);
  }
  const std::string& group = words[1];
  const std::string verb = group == "audit" ? "" : (words.size() > 2 ? words[2] : "");
  const std::string name = absl::StrCat("admin ", group, verb.empty() ? "" : " ", verb);
  const auto check = [&](const std::vector<absl::string_view>& allowed, size_t operands,
                         absl::string_view synopsis) -> absl::Status {
    if (absl::Status s = args.CheckOnly(name, allowed); !s.ok()) {
      return UsageError(s);
    }
    if (words.size() != operands) {
      return UsageError(absl::StrCat("usage: tahectl ", synopsis));
    }
    return absl::OkStatus();
  };
  const auto single = [&](const std::vector<absl::string_view>& names) -> absl::Status {
    if (absl::Status s = args.AtMostOnce(names); !s.ok()) {
      return UsageError(s);
    }
    return absl::OkStatus();
  };

  AdminCommand command;
  if (group == "regions" && verb == "list") {
    RETURN_IF_ERROR(check({}, 3, "admin regions list"));
    command.request = gw::ListRegionsRequest();
  } else if (group == "regions" && verb == "create") {
    constexpr absl::string_view kUsage =
        "admin regions create SLUG --name NAME --service PREFIX=ADDR ... [--request-id ID]";
    RETURN_IF_ERROR(check({"name", "service", "request-id"}, 4, kUsage));
    RETURN_IF_ERROR(CheckSlug("region", words[3]));
    const std::optional<std::string> display = args.Value("name");
    if (!display.has_value() || display->empty()) {
      return UsageError("admin regions create: --name NAME is required");
    }
    ASSIGN_OR_RETURN(auto services, ParseServices(args));
    if (services.empty()) {
      return UsageError("admin regions create: at least one --service PREFIX=ADDR is required");
    }
    gw::CreateRegionRequest request;
    request.set_request_id(RequestIdOf(args));
    request.mutable_region()->set_slug(words[3]);
    request.mutable_region()->set_name(*display);
    request.mutable_region()->mutable_service_addresses()->insert(services.begin(), services.end());
    command.request = std::move(request);
  } else if (group == "regions" && verb == "update") {
    constexpr absl::string_view kUsage =
        "admin regions update SLUG [--name NAME] [--service PREFIX=ADDR]... "
        "[--remove-service PREFIX]... [--request-id ID]";
    RETURN_IF_ERROR(check({"name", "service", "remove-service", "request-id"}, 4, kUsage));
    RETURN_IF_ERROR(CheckSlug("region", words[3]));
    ASSIGN_OR_RETURN(auto services, ParseServices(args));
    gw::UpdateRegionRequest request;
    request.set_request_id(RequestIdOf(args));
    request.set_slug(words[3]);
    request.set_name(args.Value("name").value_or(""));
    request.mutable_service_addresses()->insert(services.begin(), services.end());
    for (const std::string& prefix : args.Values("remove-service")) {
      if (prefix.empty()) {
        return UsageError("--remove-service: want a service prefix (tahe.ledger.v1)");
      }
      if (services.count(prefix) > 0) {
        return UsageError(absl::StrCat("--remove-service ", prefix, ": also given with --service"));
      }
      request.add_remove_service_prefixes(prefix);
    }
    if (request.name().empty() && services.empty() && request.remove_service_prefixes().empty()) {
      return UsageError(
          "admin regions update: nothing to change (give --name, --service or --remove-service)");
    }
    command.request = std::move(request);
  } else if (group == "orgs" && verb == "list") {
    RETURN_IF_ERROR(check({"region"}, 3, "admin orgs list [--region SLUG]"));
    RETURN_IF_ERROR(single({"region"}));
    gw::ListOrganisationsRequest request;
    if (std::optional<std::string> region = args.Value("region")) {
      RETURN_IF_ERROR(CheckSlug("--region", *region));
      request.set_region(*region);
    }
    command.request = std::move(request);
  } else if (group == "orgs" && verb == "create") {
    constexpr absl::string_view kUsage =
        "admin orgs create SLUG --name NAME --business-id 1234567-8 --region SLUG "
        "[--request-id ID]";
    RETURN_IF_ERROR(check({"name", "business-id", "region", "request-id"}, 4, kUsage));
    RETURN_IF_ERROR(single({"region"}));
    RETURN_IF_ERROR(CheckSlug("organisation", words[3]));
    gw::CreateOrganisationRequest request;
    request.set_request_id(RequestIdOf(args));
    gw::Organisation* organisation = request.mutable_organisation();
    organisation->set_slug(words[3]);
    for (absl::string_view option : {"name", "business-id", "region"}) {
      if (args.Value(option).value_or("").empty()) {
        return UsageError(absl::StrCat("admin orgs create: --", option, " is required"));
      }
    }
    organisation->set_name(*args.Value("name"));
    organisation->set_business_id(*args.Value("business-id"));
    RETURN_IF_ERROR(CheckSlug("--region", *args.Value("region")));
    organisation->set_region(*args.Value("region"));
    command.request = std::move(request);
  } else if (group == "orgs" && verb == "update") {
    constexpr absl::string_view kUsage =
        "admin orgs update SLUG [--name NAME] [--business-id ID] [--region SLUG] "
        "[--request-id ID]";
    RETURN_IF_ERROR(check({"name", "business-id", "region", "request-id"}, 4, kUsage));
    RETURN_IF_ERROR(single({"region"}));
    RETURN_IF_ERROR(CheckSlug("organisation", words[3]));
    gw::UpdateOrganisationRequest request;
    request.set_request_id(RequestIdOf(args));
    request.set_slug(words[3]);
    request.set_name(args.Value("name").value_or(""));
    request.set_business_id(args.Value("business-id").value_or(""));
    if (std::optional<std::string> region = args.Value("region")) {
      RETURN_IF_ERROR(CheckSlug("--region", *region));
      request.set_region(*region);
    }
    if (request.name().empty() && request.business_id().empty() && request.region().empty()) {
      return UsageError(
          "admin orgs update: nothing to change (give --name, --business-id or --region)");
    }
    command.request = std::move(request);
  } else if (group == "keys" && verb == "list") {
    RETURN_IF_ERROR(check({"include-revoked", "organisation"}, 3,
                          "admin keys list [--include-revoked] [--organisation SLUG]"));
    RETURN_IF_ERROR(single({"organisation"}));
    gw::ListApiKeysRequest request;
    request.set_include_revoked(args.Has("include-revoked"));
    if (std::optional<std::string> organisation = args.Value("organisation")) {
      RETURN_IF_ERROR(CheckSlug("--organisation", *organisation));
      request.set_organisation(*organisation);
    }
    command.request = std::move(request);
  } else if (group == "keys" && verb == "issue") {
    constexpr absl::string_view kUsage =
        "admin keys issue --role ROLE... (--organisation SLUG... | --region SLUG...) "
        "[--description TEXT] [--key-file PATH] [--request-id ID]";
    RETURN_IF_ERROR(check(
        {"role", "organisation", "region", "description", "key-file", "request-id"}, 3, kUsage));
    gw::IssueApiKeyRequest request;
    request.set_request_id(RequestIdOf(args));
    request.set_description(args.Value("description").value_or(""));
    for (const std::string& role : args.Values("role")) {
      request.add_roles(role);
    }
    if (request.roles().empty()) {
      return UsageError("admin keys issue: at least one --role is required");
    }
    if (args.Has("organisation") && args.Has("region")) {
      return UsageError(
          "admin keys issue: give --organisation (a client's key) or --region (an operator's "
          "key), not both");
    }
    for (const std::string& organisation : args.Values("organisation")) {
      RETURN_IF_ERROR(CheckSlug("--organisation", organisation));
      request.add_organisations(organisation);
    }
    for (const std::string& region : args.Values("region")) {
      RETURN_IF_ERROR(CheckSlug("--region", region));
      request.add_regions(region);
    }
    if (std::optional<std::string> path = args.Value("key-file")) {
      if (path->empty()) {
        return UsageError("--key-file: want a path");
      }
      command.key_file = *path;
    }
    command.request = std::move(request);
  } else if (group == "keys" && verb == "revoke") {
    RETURN_IF_ERROR(check({"request-id"}, 4, "admin keys revoke KEY_ID [--request-id ID]"));
    const std::string& key_id = words[3];
    if (key_id.size() != 12 || !std::all_of(key_id.begin(), key_id.end(), [](char c) {
          return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
        })) {
      // Not echoed: it might be a whole key pasted by mistake.
      return UsageError("admin keys revoke: KEY_ID is the key's 12 hex digit id");
    }
    gw::RevokeApiKeyRequest request;
    request.set_request_id(RequestIdOf(args));
    request.set_key_id(key_id);
    command.request = std::move(request);
  } else if (group == "audit") {
    RETURN_IF_ERROR(check({"target", "after-id", "limit"}, 2,
                          "admin audit [--target TARGET] [--after-id N] [--limit N]"));
    gw::ListAuditEventsRequest request;
    request.set_target(args.Value("target").value_or(""));
    if (std::optional<std::string> text = args.Value("after-id")) {
      int64_t after_id = 0;
      if (!absl::SimpleAtoi(*text, &after_id) || after_id < 0) {
        return UsageError(absl::StrCat("--after-id: want an event id >= 0, got \"", *text, "\""));
      }
      request.set_after_id(after_id);
    }
    if (std::optional<std::string> text = args.Value("limit")) {
      int32_t limit = 0;
      if (!absl::SimpleAtoi(*text, &limit) || limit < 1 || limit > 1000) {
        return UsageError(absl::StrCat("--limit: want 1..1000, got \"", *text, "\""));
      }
      request.set_limit(limit);
    }
    command.request = std::move(request);
  } else if (group == "regions" || group == "orgs" || group == "keys") {
    return UsageError(absl::StrCat("unknown command '", name, "'"));
  } else {
    return UsageError(absl::StrCat("unknown command 'admin ", group, "'"));
  }
  return command;
}

void PrintRegions(const std::vector<gw::Region>& regions, std::ostream& out) {
  Table table({"Slug", "Name", "Services", "Created"},
              {Align::kLeft, Align::kLeft, Align::kLeft, Align::kLeft});
  for (const gw::Region& region : regions) {
    const std::map<std::string, std::string> sorted(region.service_addresses().begin(),
                                                    region.service_addresses().end());
    table.AddRow({region.slug(), region.name(),
                  absl::StrJoin(sorted, " ", absl::PairFormatter("=")), region.created_at()});
  }
  table.Print(out);
  out << regions.size() << (regions.size() == 1 ? " region\n" : " regions\n");
}

void PrintOrganisations(const std::vector<gw::Organisation>& organisations, std::ostream& out) {
  Table table({"Slug", "Name", "Business ID", "Region", "Updated"},
              {Align::kLeft, Align::kLeft, Align::kLeft, Align::kLeft, Align::kLeft});
  for (const gw::Organisation& organisation : organisations) {
    table.AddRow({organisation.slug(), organisation.name(), organisation.business_id(),
                  organisation.region(), organisation.updated_at()});
  }
  table.Print(out);
  out << organisations.size()
      << (organisations.size() == 1 ? " organisation\n" : " organisations\n");
}

void PrintApiKeys(const std::vector<gw::ApiKey>& keys, std::ostream& out) {
  Table table({"Key ID", "Roles", "Scope", "Description", "Created", "Revoked"},
              {Align::kLeft, Align::kLeft, Align::kLeft, Align::kLeft, Align::kLeft, Align::kLeft});
  for (const gw::ApiKey& key : keys) {
    table.AddRow({key.key_id(), absl::StrJoin(key.roles(), ","), Scope(key), key.description(),
                  key.created_at(), key.revoked_at()});
  }
  table.Print(out);
  out << keys.size() << (keys.size() == 1 ? " key\n" : " keys\n");
}

void PrintAuditEvents(const gw::ListAuditEventsResponse& events, std::ostream& out) {
  Table table({"ID", "At", "Principal", "Action", "Target", "Request ID", "Details"},
              {Align::kRight, Align::kLeft, Align::kLeft, Align::kLeft, Align::kLeft, Align::kLeft,
               Align::kLeft});
  for (const gw::AuditEvent& event : events.events()) {
    table.AddRow({absl::StrCat(event.id()), event.at(), event.principal(), event.action(),
                  event.target(), event.request_id(), event.details()});
  }
  table.Print(out);
  out << events.events_size() << (events.events_size() == 1 ? " event" : " events");
  if (events.next_after_id() != 0) {
    out << "; more with --after-id " << events.next_after_id();
  }
  out << "\n";
}

absl::Status RunAdminCommand(const AdminCommand& command, AdminClient& admin, OutputFormat format,
                             std::ostream& out) {
  const bool json = format == OutputFormat::kJson;
  if (const auto* request = std::get_if<gw::ListRegionsRequest>(&command.request)) {
    ASSIGN_OR_RETURN(gw::ListRegionsResponse regions, admin.ListRegions(*request));
    json ? PrintJson(regions, out) : PrintRegions(AsVector(regions.regions()), out);
  } else if (const auto* request = std::get_if<gw::CreateRegionRequest>(&command.request)) {
    ASSIGN_OR_RETURN(gw::Region region, admin.CreateRegion(*request));
    if (json) {
      PrintJson(region, out);
    } else {
      out << "created region " << region.slug() << " (request id " << request->request_id()
          << ")\n";
      PrintRegions({region}, out);
    }
  } else if (const auto* request = std::get_if<gw::UpdateRegionRequest>(&command.request)) {
    ASSIGN_OR_RETURN(gw::Region region, admin.UpdateRegion(*request));
    if (json) {
      PrintJson(region, out);
    } else {
      out << "updated region " << region.slug() << " (request id " << request->request_id()
          << ")\n";
      PrintRegions({region}, out);
    }
  } else if (const auto* request = std::get_if<gw::ListOrganisationsRequest>(&command.request)) {
    ASSIGN_OR_RETURN(gw::ListOrganisationsResponse organisations,
                     admin.ListOrganisations(*request));
    json ? PrintJson(organisations, out)
         : PrintOrganisations(AsVector(organisations.organisations()), out);
  } else if (const auto* request = std::get_if<gw::CreateOrganisationRequest>(&command.request)) {
    ASSIGN_OR_RETURN(gw::Organisation organisation, admin.CreateOrganisation(*request));
    if (json) {
      PrintJson(organisation, out);
    } else {
      out << "created organisation " << organisation.slug() << " (request id "
          << request->request_id() << ")\n";
      PrintOrganisations({organisation}, out);
    }
  } else if (const auto* request = std::get_if<gw::UpdateOrganisationRequest>(&command.request)) {
    ASSIGN_OR_RETURN(gw::Organisation organisation, admin.UpdateOrganisation(*request));
    if (json) {
      PrintJson(organisation, out);
    } else {
      out << "updated organisation " << organisation.slug() << " (request id "
          << request->request_id() << ")\n";
      PrintOrganisations({organisation}, out);
    }
  } else if (const auto* request = std::get_if<gw::ListApiKeysRequest>(&command.request)) {
    ASSIGN_OR_RETURN(gw::ListApiKeysResponse keys, admin.ListApiKeys(*request));
    json ? PrintJson(keys, out) : PrintApiKeys(AsVector(keys.keys()), out);
  } else if (const auto* request = std::get_if<gw::IssueApiKeyRequest>(&command.request)) {
    return IssueKey(*request, command.key_file, admin, format, out);
  } else if (const auto* request = std::get_if<gw::RevokeApiKeyRequest>(&command.request)) {
    ASSIGN_OR_RETURN(gw::ApiKey key, admin.RevokeApiKey(*request));
    if (json) {
      PrintJson(key, out);
    } else {
      out << "revoked key " << key.key_id() << " at " << key.revoked_at() << " (request id "
          << request->request_id() << ")\n";
    }
  } else if (const auto* request = std::get_if<gw::ListAuditEventsRequest>(&command.request)) {
    ASSIGN_OR_RETURN(gw::ListAuditEventsResponse events, admin.ListAuditEvents(*request));
    json ? PrintJson(events, out) : PrintAuditEvents(events, out);
  }
  return absl::OkStatus();
}

}  // namespace tahe::tahectl
