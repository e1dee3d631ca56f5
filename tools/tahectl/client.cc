#include "tools/tahectl/client.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "libs/status/status.h"
#include "tools/tahectl/parse.h"

namespace tahe::tahectl {

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

std::shared_ptr<grpc::Channel> ClientSettings::NewChannel() const {
  return grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
}

std::unique_ptr<grpc::ClientContext> ClientSettings::NewContext(bool with_credentials) const {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  context->AddMetadata(std::string(kRequestIdMetadata), RandomHex(16));
  if (with_credentials) {
    if (!tenant.empty()) {
      context->AddMetadata(std::string(kTenantMetadata), tenant);
    }
    if (!internal_token.empty()) {
      context->AddMetadata(std::string(kInternalTokenMetadata), internal_token);
    }
  }
  return context;
}

namespace {

absl::StatusOr<std::string> ReadTokenFile(absl::string_view setting, const std::string& path) {
  std::ifstream file(path);
  if (!file) {
    return absl::InvalidArgumentError(absl::StrCat(setting, ": cannot read ", path));
  }
  std::stringstream contents;
  contents << file.rdbuf();
  std::string token(absl::StripAsciiWhitespace(contents.str()));
  if (token.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(setting, ": ", path, " is empty"));
  }
  return token;
}

}  // namespace

absl::StatusOr<ClientSettings> ClientSettingsFromArgs(const Args& args, const EnvLookup& env,
                                                      bool read_token) {
  ClientSettings settings;

  if (std::optional<std::string> addr = args.Value("addr")) {
    settings.address = *addr;
  } else if (std::optional<std::string> from_env = env("TAHE_LEDGER_ADDR")) {
    settings.address = *from_env;
  }
  if (settings.address.empty()) {
    return absl::InvalidArgumentError(
        "no service address: give --addr host:port or set "
        "TAHE_LEDGER_ADDR (deploy/local/run.sh writes it to "
        ".tahe/local.env)");
  }

  if (std::optional<std::string> tenant = args.Value("tenant")) {
    settings.tenant = *tenant;
  } else if (std::optional<std::string> from_env = env("TAHE_TENANT")) {
    settings.tenant = *from_env;
  }
  if (!settings.tenant.empty() && !IsValidTenantSlug(settings.tenant)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--tenant: \"", settings.tenant,
                     "\" is not a tenant slug (lower-case letters, digits, '-')"));
  }

  if (!read_token) {
    // Leave the token empty.
  } else if (std::optional<std::string> path = args.Value("internal-token-file")) {
    ASSIGN_OR_RETURN(settings.internal_token, ReadTokenFile("--internal-token-file", *path));
  } else if (std::optional<std::string> token = env("TAHE_INTERNAL_TOKEN");
             token.has_value() && !absl::StripAsciiWhitespace(*token).empty()) {
    settings.internal_token = std::string(absl::StripAsciiWhitespace(*token));
  } else if (std::optional<std::string> path = env("TAHE_INTERNAL_TOKEN_FILE");
             path.has_value() && !path->empty()) {
    ASSIGN_OR_RETURN(settings.internal_token, ReadTokenFile("TAHE_INTERNAL_TOKEN_FILE", *path));
  }

  if (std::optional<std::string> timeout = args.Value("timeout")) {
    ASSIGN_OR_RETURN(settings.timeout, ParseTimeout(*timeout));
  }
  return settings;
}

std::string DescribeRpcError(const grpc::Status& status) {
  const absl::Status converted = tahe::FromGrpcStatus(status);
  return absl::StrCat(absl::StatusCodeToString(converted.code()), ": ", status.error_message());
}

}  // namespace tahe::tahectl
