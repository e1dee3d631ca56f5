#include "services/gateway/gateway_domain.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cctype>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "libs/status/status.h"

namespace tahe::gateway {

namespace {

bool IsLowerHex(absl::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool IsCleanText(absl::string_view text) {
  return std::none_of(text.begin(), text.end(), [](char c) {
    auto byte = static_cast<unsigned char>(c);
    return byte < 0x20 || byte == 0x7f;
  });
}

bool IsIdentifier(absl::string_view part) {
  if (part.empty() || std::isdigit(static_cast<unsigned char>(part[0]))) {
    return false;
  }
  return std::all_of(part.begin(), part.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

bool IsValidPort(absl::string_view port) {
  int value = 0;
  return !port.empty() && port.size() <= 5 &&
         std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
         absl::SimpleAtoi(port, &value) && value >= 1 && value <= 65535;
}

// "host:port" or "[v6]:port" with a non-empty host of letters, digits, '.', '-', '_'.
bool IsHostPort(absl::string_view target) {
  size_t colon = target.rfind(':');
  if (colon == absl::string_view::npos || !IsValidPort(target.substr(colon + 1))) {
    return false;
  }
  absl::string_view host = target.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    absl::string_view v6 = host.substr(1, host.size() - 2);
    return !v6.empty() && std::all_of(v6.begin(), v6.end(), [](char c) {
      return absl::ascii_isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.';
    });
  }
  return !host.empty() && std::all_of(host.begin(), host.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_';
  });
}

// A read method: `prefix` followed by an upper-case letter.
bool HasReadPrefix(absl::string_view method, absl::string_view prefix) {
  return method.size() > prefix.size() && absl::StartsWith(method, prefix) &&
         absl::ascii_isupper(static_cast<unsigned char>(method[prefix.size()]));
}

// The rule table of RequiredRole. A service matches a rule when its full name starts with
// `service_prefix` followed by a dot (a package) or equals it (one service).
struct RoleRule {
  absl::string_view service_prefix;
  absl::string_view read_role;
  absl::string_view write_role;
  // Method name prefixes that make a call a read; empty = every method is a read.
  std::vector<absl::string_view> read_prefixes;
};

const std::vector<RoleRule>& RoleRules() {
  static const auto* rules = new std::vector<RoleRule>{
      {"tahe.ledger.v1", kRoleLedgerRead, kRoleLedgerWrite, {"Get", "List", "Verify", "Watch"}},
      {"tahe.reporting.v1", kRoleReportsRead, kRoleReportsWrite, {"Get", "List", "Export"}},
      // Pay runs, pay items and reads; the methods of kMethodRoles below need more.
      {"tahe.payroll.v1", kRolePayrollRun, kRolePayrollRun, {}},
      // Invoices, payments, reminders and their reads: the billing team's one role.
      {"tahe.invoicing.v1", kRoleInvoicingWrite, kRoleInvoicingWrite, {}},
      {kAdminService, kRoleAdmin, kRoleAdmin, {}},
  };
  return *rules;
}

// Methods whose role is not their service's rule: master data of payroll needs payroll.admin, and
// statutory rate tables (shared by every organisation of a cell) only the operator's admin role.
const absl::flat_hash_map<absl::string_view, absl::string_view>& MethodRoles() {
  static const auto* roles = new absl::flat_hash_map<absl::string_view, absl::string_view>{
      {"/tahe.payroll.v1.PayrollService/UpsertEmployee", kRolePayrollAdmin},
      {"/tahe.payroll.v1.PayrollService/ImportEmployees", kRolePayrollAdmin},
      {"/tahe.payroll.v1.PayrollService/SetTaxCard", kRolePayrollAdmin},
      {"/tahe.payroll.v1.PayrollService/SetPayrollSettings", kRolePayrollAdmin},
      {"/tahe.payroll.v1.PayrollService/LoadRateTable", kRoleAdmin},
      {"/tahe.invoicing.v1.InvoicingService/SetReferenceRate", kRoleAdmin},
  };
  return *roles;
}

// Methods for the services of a cell only (a sibling follows the ledger's feed of every
// organisation of the cell): never forwarded, whatever the key.
const absl::flat_hash_set<absl::string_view>& InternalMethods() {
  static const auto* methods = new absl::flat_hash_set<absl::string_view>{
      "/tahe.ledger.v1.LedgerService/ListFeedTenants",
  };
  return *methods;
}

// Methods that answer for a whole region (every organisation of the cell that serves the named
// one): only keys of that region, the operator's, may call them.
const absl::flat_hash_set<absl::string_view>& RegionMethods() {
  static const auto* methods = new absl::flat_hash_set<absl::string_view>{
      "/tahe.reporting.v1.ReportingService/GetRegionalReport",
  };
  return *methods;
}

std::string CanonicalMethod(absl::string_view full_method) {
  absl::string_view service = ServiceOf(full_method);
  absl::string_view method = full_method.substr(full_method.rfind('/') + 1);
  return absl::StrCat("/", service, "/", method);
}

bool ServiceMatches(absl::string_view service, absl::string_view prefix) {
  return service == prefix || (service.size() > prefix.size() &&
                               absl::StartsWith(service, prefix) && service[prefix.size()] == '.');
}

absl::Status Unauthenticated(absl::string_view why) {
  return absl::UnauthenticatedError(
      absl::StrCat(why, ": expected `authorization: Bearer tahe_<key_id>_<secret>`"));
}

bool Contains(const std::vector<std::string>& sorted, absl::string_view value) {
  return std::binary_search(sorted.begin(), sorted.end(), value);
}

}  // namespace

// --- Field validation ------------------------------------------------------------------------

bool IsValidSlug(absl::string_view slug) {
  if (slug.empty() || slug.size() > 63 || slug[0] == '-') {
    return false;
  }
  return std::all_of(slug.begin(), slug.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

absl::Status ValidateSlug(absl::string_view field, absl::string_view slug) {
  if (slug.empty()) {
    return InvalidField(field, "required");
  }
  if (!IsValidSlug(slug)) {
    return InvalidField(field,
                        "must be 1-63 characters of a-z, 0-9 and '-', not starting with '-'");
  }
  return absl::OkStatus();
}

absl::Status ValidateDisplayName(absl::string_view field, absl::string_view name) {
  if (name.empty() || name.size() > 200) {
    return InvalidField(field, "required, at most 200 characters");
  }
  if (!IsCleanText(name)) {
    return InvalidField(field, "contains a control character");
  }
  return absl::OkStatus();
}

absl::Status ValidateDescription(absl::string_view field, absl::string_view text) {
  if (text.size() > 200) {
    return InvalidField(field, "at most 200 characters");
  }
  if (!IsCleanText(text)) {
    return InvalidField(field, "contains a control character");
  }
  return absl::OkStatus();
}

bool IsValidServicePrefix(absl::string_view prefix) {
  if (prefix.empty() || prefix.size() > 200) {
    return false;
  }
  for (absl::string_view part : absl::StrSplit(prefix, '.')) {
    if (!IsIdentifier(part)) {
      return false;
    }
  }
  return true;
}

bool IsValidUpstreamAddress(absl::string_view address) {
  if (address.empty() || address.size() > 255 ||
      !std::all_of(address.begin(), address.end(), [](char c) { return c > 0x20 && c < 0x7f; })) {
    return false;
  }
  if (absl::ConsumePrefix(&address, "unix:")) {
    return !address.empty();
  }
  if (absl::ConsumePrefix(&address, "dns:")) {
    // dns:host:port or dns:///host:port or dns://authority/host:port
    if (absl::ConsumePrefix(&address, "//")) {
      size_t slash = address.find('/');
      if (slash == absl::string_view::npos) {
        return false;
      }
      address.remove_prefix(slash + 1);
    }
    return IsHostPort(address);
  }
  if (absl::ConsumePrefix(&address, "ipv4:") || absl::ConsumePrefix(&address, "ipv6:")) {
    for (absl::string_view one : absl::StrSplit(address, ',')) {
      if (!IsHostPort(one)) {
        return false;
      }
    }
    return true;
  }
  return IsHostPort(address);
}

// --- Roles -----------------------------------------------------------------------------------

const std::vector<std::string>& KnownRoles() {
  static const auto* roles = [] {
    auto* r = new std::vector<std::string>{kRoleLedgerRead,   kRoleLedgerWrite,    kRolePayrollRun,
                                           kRolePayrollAdmin, kRoleInvoicingWrite, kRoleReportsRead,
                                           kRoleReportsWrite, kRoleAdmin};
    std::sort(r->begin(), r->end());
    return r;
  }();
  return *roles;
}

bool IsKnownRole(absl::string_view role) { return Contains(KnownRoles(), role); }

absl::string_view ServiceOf(absl::string_view full_method) {
  absl::ConsumePrefix(&full_method, "/");
  size_t slash = full_method.find('/');
  if (slash == absl::string_view::npos || slash == 0 || slash + 1 == full_method.size() ||
      full_method.find('/', slash + 1) != absl::string_view::npos) {
    return {};
  }
  return full_method.substr(0, slash);
}

absl::StatusOr<std::string> RequiredRole(absl::string_view full_method) {
  absl::string_view service = ServiceOf(full_method);
  if (service.empty()) {
    return absl::InvalidArgumentError("method: expected \"/package.Service/Method\"");
  }
  absl::string_view method = full_method.substr(full_method.rfind('/') + 1);
  const std::string canonical = CanonicalMethod(full_method);
  if (InternalMethods().contains(canonical)) {
    return absl::PermissionDeniedError(
        absl::StrCat("method ", canonical, " is for the services of a cell only"));
  }
  if (auto it = MethodRoles().find(canonical); it != MethodRoles().end()) {
    return std::string(it->second);
  }
  for (const RoleRule& rule : RoleRules()) {
    if (!ServiceMatches(service, rule.service_prefix)) {
      continue;
    }
    if (rule.read_prefixes.empty()) {
      return std::string(rule.read_role);
    }
    for (absl::string_view prefix : rule.read_prefixes) {
      if (HasReadPrefix(method, prefix)) {
        return std::string(rule.read_role);
      }
    }
    return std::string(rule.write_role);
  }
  return absl::PermissionDeniedError(
      absl::StrCat("service ", service, " is not available through the gateway"));
}

bool IsRegionMethod(absl::string_view full_method) {
  return !ServiceOf(full_method).empty() && RegionMethods().contains(CanonicalMethod(full_method));
}

absl::Status CheckRegionScope(const RoutingSnapshot& snapshot, const KeyEntry& key,
                              absl::string_view full_method, absl::string_view organisation) {
  if (!IsRegionMethod(full_method)) {
    return absl::OkStatus();
  }
  auto region = snapshot.organisation_region.find(organisation);
  if (region != snapshot.organisation_region.end() && Contains(key.regions, region->second)) {
    return absl::OkStatus();
  }
  return absl::PermissionDeniedError(
      absl::StrCat("API key ", key.key_id, " is not an operator key of the region of \"",
                   organisation, "\": this method answers for the whole region"));
}

absl::Status CheckRole(const KeyEntry& key, absl::string_view role) {
  if (Contains(key.roles, role)) {
    return absl::OkStatus();
  }
  return absl::PermissionDeniedError(
      absl::StrCat("API key ", key.key_id, " lacks the role ", role, " this method needs"));
}

// --- API keys --------------------------------------------------------------------------------

absl::StatusOr<GeneratedApiKey> GenerateApiKey() {
  unsigned char id_bytes[kKeyIdHexChars / 2];
  unsigned char secret_bytes[kSecretBytes];
  if (RAND_bytes(id_bytes, sizeof(id_bytes)) != 1 ||
      RAND_bytes(secret_bytes, sizeof(secret_bytes)) != 1) {
    return absl::InternalError("the CSPRNG failed to produce an API key");
  }
  GeneratedApiKey key;
  key.key_id = absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(id_bytes), sizeof(id_bytes)));
  std::string secret = absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(secret_bytes), sizeof(secret_bytes)));
  OPENSSL_cleanse(secret_bytes, sizeof(secret_bytes));
  key.token = absl::StrCat("tahe_", key.key_id, "_", secret);
  key.hash = HashApiKey(key.key_id, secret);
  OPENSSL_cleanse(secret.data(), secret.size());
  return key;
}

absl::StatusOr<ApiKeyToken> ParseApiKey(absl::string_view token) {
  constexpr size_t kSecretHexChars = 2 * kSecretBytes;
  constexpr size_t kLength = 5 + kKeyIdHexChars + 1 + kSecretHexChars;
  if (token.size() != kLength || !absl::StartsWith(token, "tahe_") ||
      token[5 + kKeyIdHexChars] != '_') {
    return Unauthenticated("malformed API key");
  }
  ApiKeyToken parsed;
  parsed.key_id = std::string(token.substr(5, kKeyIdHexChars));
  parsed.secret = std::string(token.substr(5 + kKeyIdHexChars + 1));
  if (!IsLowerHex(parsed.key_id) || !IsLowerHex(parsed.secret)) {
    return Unauthenticated("malformed API key");
  }
  return parsed;
}

absl::StatusOr<ApiKeyToken> ParseAuthorization(absl::string_view header_value) {
  header_value = absl::StripAsciiWhitespace(header_value);
  if (header_value.empty()) {
    return Unauthenticated("missing API key");
  }
  constexpr absl::string_view kScheme = "bearer";
  if (header_value.size() <= kScheme.size() ||
      !absl::EqualsIgnoreCase(header_value.substr(0, kScheme.size()), kScheme) ||
      header_value[kScheme.size()] != ' ') {
    return Unauthenticated("unsupported authorization scheme");
  }
  return ParseApiKey(absl::StripLeadingAsciiWhitespace(header_value.substr(kScheme.size())));
}

std::string HashApiKey(absl::string_view key_id, absl::string_view secret) {
  // The NULs separate the parts (neither contains one); the prefix versions the scheme.
  std::string input = absl::StrCat(absl::string_view("tahe-api-key-v1\0", 16), key_id,
                                   absl::string_view("\0", 1), secret);
  std::string out(kKeyHashBytes, '\0');
  SHA256(reinterpret_cast<const unsigned char*>(input.data()), input.size(),
         reinterpret_cast<unsigned char*>(out.data()));
  OPENSSL_cleanse(input.data(), input.size());
  return out;
}

bool VerifyApiKey(const ApiKeyToken& token, absl::string_view stored_hash) {
  std::string hash = HashApiKey(token.key_id, token.secret);
  return stored_hash.size() == hash.size() &&
         CRYPTO_memcmp(hash.data(), stored_hash.data(), hash.size()) == 0;
}

// --- Routing snapshot ------------------------------------------------------------------------

absl::StatusOr<const KeyEntry*> RoutingSnapshot::Authenticate(
    absl::string_view authorization) const {
  ASSIGN_OR_RETURN(ApiKeyToken token, ParseAuthorization(authorization));
  auto it = keys.find(token.key_id);
  if (it == keys.end()) {
    // Hash anyway, so an unknown key id costs the same time as a wrong secret.
    static const std::string kNoKey(kKeyHashBytes, '\0');
    VerifyApiKey(token, kNoKey);
    return absl::UnauthenticatedError("invalid API key");
  }
  if (!VerifyApiKey(token, it->second.hash)) {
    return absl::UnauthenticatedError("invalid API key");
  }
  if (it->second.revoked) {
    return absl::UnauthenticatedError(absl::StrCat("API key ", token.key_id, " was revoked"));
  }
  return &it->second;
}

absl::StatusOr<std::string> RoutingSnapshot::ResolveTenant(const KeyEntry& key,
                                                           absl::string_view requested) const {
  if (requested.empty()) {
    if (key.organisations.size() == 1 && key.regions.empty()) {
      return key.organisations[0];
    }
    return InvalidField("x-tahe-tenant",
                        "required: this API key serves several organisations; name one");
  }
  if (Contains(key.organisations, requested)) {
    return std::string(requested);
  }
  if (!key.regions.empty()) {
    auto org = organisation_region.find(requested);
    if (org != organisation_region.end() && Contains(key.regions, org->second)) {
      return std::string(requested);
    }
  }
  return absl::PermissionDeniedError(
      absl::StrCat("API key ", key.key_id, " may not act for organisation \"",
                   IsValidSlug(requested) ? requested : "(malformed)", "\""));
}

absl::StatusOr<std::string> RoutingSnapshot::UpstreamFor(absl::string_view organisation,
                                                         absl::string_view full_method) const {
  auto org = organisation_region.find(organisation);
  if (org == organisation_region.end()) {
    return absl::NotFoundError(absl::StrCat("organisation ", organisation, " is not known"));
  }
  absl::string_view service = ServiceOf(full_method);
  if (service.empty()) {
    return absl::InvalidArgumentError("method: expected \"/package.Service/Method\"");
  }
  auto region = region_services.find(org->second);
  if (region != region_services.end()) {
    // Try the service itself, then each shorter dotted prefix: the longest match wins.
    absl::string_view candidate = service;
    while (!candidate.empty()) {
      auto it = region->second.find(std::string(candidate));
      if (it != region->second.end()) {
        return it->second;
      }
      size_t dot = candidate.rfind('.');
      candidate = dot == absl::string_view::npos ? absl::string_view() : candidate.substr(0, dot);
    }
  }
  return absl::UnimplementedError(
      absl::StrCat("service ", service, " is not served in region ", org->second));
}

// --- Rate limiting ---------------------------------------------------------------------------

TokenBucketLimiter::TokenBucketLimiter(Options options, Clock clock)
    : options_(options), clock_(clock ? std::move(clock) : Clock([] { return absl::Now(); })) {}

TokenBucketLimiter::Shard& TokenBucketLimiter::ShardOf(absl::string_view organisation) {
  return shards_[absl::HashOf(organisation) % kShards];
}

TokenBucketLimiter::Bucket& TokenBucketLimiter::Refill(Shard& shard, absl::string_view organisation,
                                                       absl::Time now) {
  auto [it, inserted] = shard.buckets.try_emplace(organisation, Bucket{options_.burst, now});
  Bucket& bucket = it->second;
  if (!inserted && now > bucket.updated) {
    double elapsed = absl::ToDoubleSeconds(now - bucket.updated);
    bucket.tokens = std::min(options_.burst, bucket.tokens + elapsed * options_.rate_per_second);
    bucket.updated = now;
  }
  // A clock that steps back adds nothing and does not move `updated` back either.
  return bucket;
}

bool TokenBucketLimiter::TryAcquire(absl::string_view organisation, double cost) {
  if (options_.rate_per_second <= 0) {
    return true;
  }
  absl::Time now = clock_();
  Shard& shard = ShardOf(organisation);
  absl::MutexLock lock(&shard.mu);
  Bucket& bucket = Refill(shard, organisation, now);
  if (bucket.tokens < cost) {
    return false;
  }
  bucket.tokens -= cost;
  return true;
}

double TokenBucketLimiter::Available(absl::string_view organisation) {
  if (options_.rate_per_second <= 0) {
    return options_.burst;
  }
  absl::Time now = clock_();
  Shard& shard = ShardOf(organisation);
  absl::MutexLock lock(&shard.mu);
  return Refill(shard, organisation, now).tokens;
}

}  // namespace tahe::gateway
