#include "tools/tahectl/client.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "libs/status/status.h"
#include "tools/tahectl/parse.h"

namespace tahe::tahectl {

namespace fs = std::filesystem;

std::optional<std::string> GetEnv(absl::string_view name) {
  const char* value = std::getenv(std::string(name).c_str());
  if (value == nullptr) {
    return std::nullopt;
  }
  return std::string(value);
}

std::string RandomHex(int bytes) {
  // One generator per thread: absl::BitGen is not thread-safe, and seeding it is not free.
  thread_local absl::BitGen gen;
  std::string raw(bytes, '\0');
  for (char& c : raw) {
    c = static_cast<char>(absl::Uniform<unsigned>(gen, 0, 256));
  }
  return absl::BytesToHexString(raw);
}

std::string NewRequestId() { return absl::StrCat("tahectl-", RandomHex(12)); }

namespace {

constexpr size_t kKeyIdLength = 12;
constexpr size_t kKeySecretLength = 64;
constexpr absl::string_view kKeyPrefix = "tahe_";

bool IsLowerHex(absl::string_view text) {
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

bool IsEnvName(absl::string_view name) {
  if (name.empty() || absl::ascii_isdigit(name[0])) {
    return false;
  }
  for (char c : name) {
    if (!absl::ascii_isalnum(c) && c != '_') {
      return false;
    }
  }
  return true;
}

absl::StatusOr<std::string> ReadTextFile(absl::string_view setting, const std::string& path) {
  std::error_code error;
  if (fs::is_directory(path, error)) {
    return absl::InvalidArgumentError(absl::StrCat(setting, ": ", path, " is a directory"));
  }
  std::ifstream file(path);
  if (!file) {
    return absl::InvalidArgumentError(absl::StrCat(setting, ": cannot read ", path));
  }
  std::stringstream contents;
  contents << file.rdbuf();
  return contents.str();
}

absl::StatusOr<std::string> ReadSecretFile(absl::string_view setting, const std::string& path) {
  ASSIGN_OR_RETURN(std::string contents, ReadTextFile(setting, path));
  std::string secret(absl::StripAsciiWhitespace(contents));
  if (secret.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(setting, ": ", path, " is empty"));
  }
  return secret;
}

// The contents of the PEM file named by --OPTION, else by the variable VAR ("" when neither).
absl::StatusOr<std::string> PemSetting(const Args& args, const SettingSources& sources,
                                       absl::string_view option, absl::string_view var) {
  if (std::optional<std::string> path = args.Value(option)) {
    ASSIGN_OR_RETURN(std::string pem, ReadSecretFile(absl::StrCat("--", option), *path));
    return absl::StrCat(pem, "\n");
  }
  if (auto found = sources.Lookup({var}); found.has_value() && !found->value.empty()) {
    ASSIGN_OR_RETURN(std::string pem, ReadSecretFile(found->origin, sources.ResolvePath(*found)));
    return absl::StrCat(pem, "\n");
  }
  return std::string();
}

absl::StatusOr<EnvFile> ReadEnvFile(absl::string_view setting, const std::string& path) {
  ASSIGN_OR_RETURN(std::string contents, ReadTextFile(setting, path));
  EnvFile file;
  file.path = path;
  ASSIGN_OR_RETURN(file.vars, ParseEnvFile(contents, path));
  return file;
}

// The API key from a Found of TAHE_API_KEY (the key) or TAHE_API_KEY_FILE (a file holding it).
absl::StatusOr<std::string> KeyFrom(const SettingSources& sources,
                                    const SettingSources::Found& found) {
  if (absl::EndsWith(found.variable, "_FILE")) {
    return ReadSecretFile(found.origin, sources.ResolvePath(found));
  }
  return std::string(absl::StripAsciiWhitespace(found.value));
}

}  // namespace

bool IsWellFormedApiKey(absl::string_view key) {
  if (key.size() != kKeyPrefix.size() + kKeyIdLength + 1 + kKeySecretLength ||
      !absl::StartsWith(key, kKeyPrefix)) {
    return false;
  }
  const absl::string_view id = key.substr(kKeyPrefix.size(), kKeyIdLength);
  const absl::string_view secret = key.substr(kKeyPrefix.size() + kKeyIdLength + 1);
  return key[kKeyPrefix.size() + kKeyIdLength] == '_' && IsLowerHex(id) && IsLowerHex(secret);
}

std::string ApiKeyId(absl::string_view key) {
  if (!IsWellFormedApiKey(key)) {
    return "";
  }
  return std::string(key.substr(kKeyPrefix.size(), kKeyIdLength));
}

absl::StatusOr<std::map<std::string, std::string, std::less<>>> ParseEnvFile(
    absl::string_view contents, absl::string_view origin) {
  std::map<std::string, std::string, std::less<>> vars;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(contents, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);  // also the '\r' of CRLF files
    if (line.empty() || line[0] == '#') {
      continue;
    }
    if (absl::ConsumePrefix(&line, "export ")) {
      line = absl::StripLeadingAsciiWhitespace(line);
    }
    const size_t eq = line.find('=');
    const absl::string_view name =
        eq == absl::string_view::npos ? "" : absl::StripAsciiWhitespace(line.substr(0, eq));
    if (!IsEnvName(name)) {
      // The line is not repeated: it may be a secret pasted in the wrong place.
      return absl::InvalidArgumentError(
          absl::StrCat(origin, ":", line_number, ": not a KEY=value line"));
    }
    absl::string_view value = absl::StripAsciiWhitespace(line.substr(eq + 1));
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
        value.back() == value.front()) {
      value = value.substr(1, value.size() - 2);
    }
    vars[std::string(name)] = std::string(value);
  }
  return vars;
}

std::optional<std::string> FindLocalEnvFile(absl::string_view start_directory) {
  std::error_code error;
  fs::path dir = fs::absolute(fs::path(std::string(start_directory)), error).lexically_normal();
  if (error) {
    return std::nullopt;
  }
  while (true) {
    const fs::path candidate = dir / std::string(kLocalEnvRelativePath);
    if (fs::is_regular_file(candidate, error)) {
      return candidate.string();
    }
    if (!dir.has_relative_path()) {
      return std::nullopt;  // checked "/" itself
    }
    // "/a/b/" has the parent "/a/b": drop a trailing separator first.
    dir = dir.has_filename() ? dir.parent_path() : dir.parent_path().parent_path();
  }
}

absl::StatusOr<std::optional<EnvFile>> LoadEnvFile(const Args& args, const EnvLookup& env,
                                                   absl::string_view working_directory) {
  if (std::optional<std::string> path = args.Value("env-file")) {
    return ReadEnvFile("--env-file", *path);
  }
  if (std::optional<std::string> path = env("TAHE_LOCAL_ENV"); path.has_value() && !path->empty()) {
    return ReadEnvFile("TAHE_LOCAL_ENV", *path);
  }
  std::string start(working_directory);
  if (start.empty()) {
    std::error_code error;
    start = fs::current_path(error).string();
    if (error) {
      return std::nullopt;
    }
  }
  std::optional<std::string> found = FindLocalEnvFile(start);
  if (!found.has_value()) {
    return std::nullopt;
  }
  return ReadEnvFile(*found, *found);
}

SettingSources::SettingSources(EnvLookup process_env, std::optional<EnvFile> file)
    : process_env_(std::move(process_env)), file_(std::move(file)) {}

std::optional<SettingSources::Found> SettingSources::Lookup(
    const std::vector<absl::string_view>& names) const {
  // The process environment first, then the file; the first source setting any name decides.
  for (int source = 0; source < 2; ++source) {
    const bool from_file = source == 1;
    if (from_file && !file_.has_value()) {
      break;
    }
    std::optional<Found> decided;
    for (absl::string_view name : names) {
      std::optional<std::string> value;
      if (from_file) {
        if (auto it = file_->vars.find(name); it != file_->vars.end()) {
          value = it->second;
        }
      } else {
        value = process_env_(name);
      }
      if (!value.has_value()) {
        continue;
      }
      Found found{std::string(name),
                  from_file ? absl::StrCat(name, " in ", file_->path) : std::string(name), *value,
                  from_file};
      if (!value->empty()) {
        return found;
      }
      if (!decided.has_value()) {
        decided = std::move(found);
      }
    }
    if (decided.has_value()) {
      return decided;
    }
  }
  return std::nullopt;
}

std::string SettingSources::ResolvePath(const Found& found) const {
  if (!found.from_file || !file_.has_value()) {
    return found.value;
  }
  const fs::path path(found.value);
  if (path.is_absolute()) {
    return found.value;
  }
  return (fs::path(file_->path).parent_path() / path).string();
}

std::shared_ptr<grpc::Channel> ClientSettings::NewChannel() const {
  if (tls_ca_pem.empty()) {
    return grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  }
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = tls_ca_pem;
  options.pem_cert_chain = tls_cert_pem;
  options.pem_private_key = tls_key_pem;
  return grpc::CreateChannel(address, grpc::SslCredentials(options));
}

std::unique_ptr<grpc::ClientContext> ClientSettings::NewContext(bool with_credentials) const {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  context->AddMetadata(std::string(kRequestIdMetadata), RandomHex(16));
  if (with_credentials) {
    if (!tenant.empty()) {
      context->AddMetadata(std::string(kTenantMetadata), tenant);
    }
    if (!api_key.empty()) {
      context->AddMetadata(std::string(kAuthorizationMetadata), absl::StrCat("Bearer ", api_key));
    }
    if (!internal_token.empty()) {
      context->AddMetadata(std::string(kInternalTokenMetadata), internal_token);
    }
  }
  return context;
}

absl::StatusOr<ClientSettings> ClientSettingsFromArgs(const Args& args,
                                                      const SettingSources& sources,
                                                      Credentials credentials) {
  ClientSettings settings;

  if (std::optional<std::string> addr = args.Value("addr")) {
    settings.address = *addr;
  } else if (auto found = sources.Lookup({"TAHE_GATEWAY_ADDR", "TAHE_LEDGER_ADDR"})) {
    settings.address = found->value;
  }
  if (settings.address.empty()) {
    return absl::InvalidArgumentError(
        "no service address: give --addr host:port or set TAHE_GATEWAY_ADDR (or "
        "TAHE_LEDGER_ADDR for a backend); deploy/local/run.sh writes both to .tahe/local.env");
  }

  if (std::optional<std::string> tenant = args.Value("tenant")) {
    settings.tenant = *tenant;
  } else if (auto found = sources.Lookup({"TAHE_TENANT"})) {
    settings.tenant = found->value;
  }
  if (!settings.tenant.empty() && !IsValidTenantSlug(settings.tenant)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--tenant: \"", settings.tenant,
                     "\" is not a tenant slug (lower-case letters, digits, '-')"));
  }

  if (credentials != Credentials::kNone) {
    if (std::optional<std::string> path = args.Value("api-key-file")) {
      ASSIGN_OR_RETURN(settings.api_key, ReadSecretFile("--api-key-file", *path));
      settings.api_key_origin = absl::StrCat("--api-key-file ", *path);
    } else {
      std::optional<SettingSources::Found> found;
      if (credentials == Credentials::kAdmin) {
        found = sources.Lookup({"TAHE_ADMIN_API_KEY", "TAHE_ADMIN_API_KEY_FILE"});
      }
      if (!found.has_value() || found->value.empty()) {
        found = sources.Lookup({"TAHE_API_KEY", "TAHE_API_KEY_FILE"});
      }
      if (found.has_value() && !found->value.empty()) {
        ASSIGN_OR_RETURN(settings.api_key, KeyFrom(sources, *found));
        settings.api_key_origin = found->origin;
      }
    }
    if (!settings.api_key.empty() && !IsWellFormedApiKey(settings.api_key)) {
      return absl::InvalidArgumentError(
          absl::StrCat(settings.api_key_origin, ": not an API key (want tahe_<12 hex>_<64 hex>)"));
    }

    if (std::optional<std::string> path = args.Value("internal-token-file")) {
      ASSIGN_OR_RETURN(settings.internal_token, ReadSecretFile("--internal-token-file", *path));
    } else if (!settings.api_key.empty()) {
      // Through the gateway: it adds the internal token itself, and the token must not travel
      // over the client's network.
    } else if (auto found = sources.Lookup({"TAHE_INTERNAL_TOKEN", "TAHE_INTERNAL_TOKEN_FILE"});
               found.has_value() && !found->value.empty()) {
      if (found->variable == "TAHE_INTERNAL_TOKEN_FILE") {
        ASSIGN_OR_RETURN(settings.internal_token,
                         ReadSecretFile(found->origin, sources.ResolvePath(*found)));
      } else {
        settings.internal_token = std::string(absl::StripAsciiWhitespace(found->value));
      }
    }
  }

  ASSIGN_OR_RETURN(settings.tls_ca_pem,
                   PemSetting(args, sources, "tls-ca-file", "TAHE_TLS_CA_FILE"));
  ASSIGN_OR_RETURN(settings.tls_cert_pem,
                   PemSetting(args, sources, "tls-cert-file", "TAHE_TLS_CLIENT_CERT_FILE"));
  ASSIGN_OR_RETURN(settings.tls_key_pem,
                   PemSetting(args, sources, "tls-key-file", "TAHE_TLS_CLIENT_KEY_FILE"));
  if (settings.tls_cert_pem.empty() != settings.tls_key_pem.empty()) {
    return absl::InvalidArgumentError("--tls-cert-file and --tls-key-file: give both or neither");
  }
  if (!settings.tls_cert_pem.empty() && settings.tls_ca_pem.empty()) {
    return absl::InvalidArgumentError("--tls-ca-file: required with --tls-cert-file");
  }

  if (std::optional<std::string> timeout = args.Value("timeout")) {
    ASSIGN_OR_RETURN(settings.timeout, ParseTimeout(*timeout));
  }
  return settings;
}

absl::Status RpcError(absl::string_view method, const grpc::Status& status) {
  return tahe::Annotate(tahe::FromGrpcStatus(status), method);
}

}  // namespace tahe::tahectl
