#pragma once

// The gateway's rules, free of gRPC and SQL: validation of the directory's fields (slugs,
// Y-tunnus, upstream addresses), API keys (format, generation, hashing, verification, the
// `authorization` header), the role each gRPC method needs, the in-memory routing snapshot the
// proxy consults on every call, and the per-organisation token-bucket rate limiter.
//
//   ASSIGN_OR_RETURN(GeneratedApiKey key, GenerateApiKey());   // show key.token once
//   store(key.key_id, key.hash);                               // only the hash is kept
//   ...
//   ASSIGN_OR_RETURN(const KeyEntry* key, snapshot.Authenticate(authorization_header));
//   ASSIGN_OR_RETURN(std::string role, RequiredRole("/tahe.ledger.v1.LedgerService/GetEntry"));
//   RETURN_IF_ERROR(CheckRole(*key, role));
//   ASSIGN_OR_RETURN(std::string tenant, snapshot.ResolveTenant(*key, x_tahe_tenant_header));
//   ASSIGN_OR_RETURN(std::string upstream, snapshot.UpstreamFor(tenant, "/tahe.ledger.v1..."));
//   if (!limiter.TryAcquire(tenant)) return absl::ResourceExhaustedError(...);
//
// API keys are "tahe_<key_id>_<secret>": key_id is 12 lower-case hex characters (public, used to
// find the key), secret is 64 lower-case hex characters (32 bytes from OpenSSL's CSPRNG). The
// directory stores SHA-256 over a domain-separation prefix, the key id and the secret. A plain
// hash suffices (no bcrypt/argon2, no pepper): the secret is 256 random bits, so there is nothing
// to guess even with the hash in hand, and verification stays one cheap hash per call. A keyed
// hash with a server-side pepper would only matter for low-entropy secrets such as passwords, and
// would add a secret every gateway replica must share and rotate. Hashes are compared in constant
// time.

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "libs/fi/business_id.h"
#include "libs/status/status.h"

namespace tahe::gateway {

// --- Field validation ------------------------------------------------------------------------

// [a-z0-9][a-z0-9-]{0,62}: region and organisation slugs (the tenant id of the whole suite).
bool IsValidSlug(absl::string_view slug);
// INVALID_ARGUMENT naming `field` unless IsValidSlug.
absl::Status ValidateSlug(absl::string_view field, absl::string_view slug);

// Y-tunnus validation is the shared Finnish rule of libs/fi/business_id.h.
using ::tahe::fi::IsValidBusinessId;
using ::tahe::fi::ValidateBusinessId;

// 1-200 characters, no control characters.
absl::Status ValidateDisplayName(absl::string_view field, absl::string_view name);
// At most 200 characters, no control characters; may be empty.
absl::Status ValidateDescription(absl::string_view field, absl::string_view text);

// A prefix of a gRPC full service name at a dot boundary: "tahe.ledger.v1" or
// "tahe.ledger.v1.LedgerService". Dot-separated identifiers ([A-Za-z_][A-Za-z0-9_]*).
bool IsValidServicePrefix(absl::string_view prefix);
// A gRPC target: "host:port", "[v6]:port", "dns:///host:port", "ipv4:..."/"ipv6:..." or
// "unix:/path"; at most 255 printable characters without spaces.
bool IsValidUpstreamAddress(absl::string_view address);

// Request ids: libs/status (1-128 printable ASCII characters without spaces).
using ::tahe::ValidateRequestId;

// --- Roles -----------------------------------------------------------------------------------

inline constexpr char kRoleLedgerRead[] = "ledger.read";
inline constexpr char kRoleLedgerWrite[] = "ledger.write";
inline constexpr char kRolePayrollRun[] = "payroll.run";
inline constexpr char kRolePayrollAdmin[] = "payroll.admin";
inline constexpr char kRoleInvoicingWrite[] = "invoicing.write";
inline constexpr char kRoleReportsRead[] = "reports.read";
inline constexpr char kRoleReportsWrite[] = "reports.write";
inline constexpr char kRoleAdmin[] = "admin";

// The fixed set, sorted.
const std::vector<std::string>& KnownRoles();
bool IsKnownRole(absl::string_view role);

inline constexpr char kAdminService[] = "tahe.gateway.v1.AdminService";

// The role a call of `full_method` ("/tahe.ledger.v1.LedgerService/GetEntry", the HTTP/2 :path;
// the leading slash is optional) needs:
//   tahe.ledger.v1.*                 Get*, List*, Verify*, Watch* -> ledger.read; else ledger.write
//   tahe.payroll.v1.*                payroll.run, except UpsertEmployee, ImportEmployees,
//                                    SetTaxCard, SetPayrollSettings -> payroll.admin and
//                                    LoadRateTable -> admin (rates shared by the whole cell)
//   tahe.invoicing.v1.*              invoicing.write, except SetReferenceRate -> admin (the
//                                    reference rates are shared by the whole cell)
//   tahe.reporting.v1.*              Get*, List*, Export* -> reports.read; else (budgets, the
//                                    statement mapping) reports.write
//   tahe.gateway.v1.AdminService/*   admin
// Methods for the services of a cell only (tahe.ledger.v1.LedgerService/ListFeedTenants) are
// PERMISSION_DENIED to every key.
// A read prefix counts only when an upper-case letter follows it ("Getaway" is a write), so a
// misclassified method errs towards the stronger role. Any other service: PERMISSION_DENIED
// (deny by default; services get a line in the rule table when their roles are decided).
// INVALID_ARGUMENT for a malformed method name.
absl::StatusOr<std::string> RequiredRole(absl::string_view full_method);

// "/pkg.Service/Method" -> "pkg.Service"; empty if malformed.
absl::string_view ServiceOf(absl::string_view full_method);

// --- API keys --------------------------------------------------------------------------------

inline constexpr int kKeyIdHexChars = 12;
inline constexpr int kSecretBytes = 32;
inline constexpr int kKeyHashBytes = 32;

struct GeneratedApiKey {
  std::string key_id;  // 12 hex chars
  std::string token;   // "tahe_<key_id>_<secret>": give to the caller once, never store
  std::string hash;    // kKeyHashBytes raw bytes: store this
};

// A fresh key from OpenSSL's CSPRNG (RAND_bytes). INTERNAL if the CSPRNG fails (it never returns
// predictable bytes instead).
absl::StatusOr<GeneratedApiKey> GenerateApiKey();

// The parts of a presented key.
struct ApiKeyToken {
  std::string key_id;
  std::string secret;  // 64 hex chars
};

// "tahe_<12 hex>_<64 hex>", lower case. UNAUTHENTICATED otherwise; the message never repeats the
// presented text (it may be a secret).
absl::StatusOr<ApiKeyToken> ParseApiKey(absl::string_view token);

// The value of an `authorization` header: "Bearer <key>" (scheme case-insensitive, one or more
// spaces, surrounding whitespace ignored). UNAUTHENTICATED if empty, another scheme, or a
// malformed key.
absl::StatusOr<ApiKeyToken> ParseAuthorization(absl::string_view header_value);

// SHA-256("tahe-api-key-v1" NUL key_id NUL secret), 32 raw bytes.
std::string HashApiKey(absl::string_view key_id, absl::string_view secret);

// Constant-time comparison of HashApiKey(token) with `stored_hash`.
bool VerifyApiKey(const ApiKeyToken& token, absl::string_view stored_hash);

// --- Routing snapshot ------------------------------------------------------------------------

// One API key as the router needs it.
struct KeyEntry {
  std::string key_id;
  std::string hash;                        // kKeyHashBytes raw bytes
  std::vector<std::string> roles;          // sorted
  std::vector<std::string> organisations;  // sorted
  std::vector<std::string> regions;        // sorted
  bool revoked = false;
};

// Whether `full_method` answers for a whole region rather than one organisation
// (tahe.reporting.v1.ReportingService/GetRegionalReport).
bool IsRegionMethod(absl::string_view full_method);

// OK unless `full_method` is a region method and `key` is not a key of the region of
// `organisation` (the organisation the call is routed by): PERMISSION_DENIED then, also for
// keys that hold every organisation of the region one by one.
struct RoutingSnapshot;
absl::Status CheckRegionScope(const RoutingSnapshot& snapshot, const KeyEntry& key,
                              absl::string_view full_method, absl::string_view organisation);

// PERMISSION_DENIED unless `key` has `role`.
absl::Status CheckRole(const KeyEntry& key, absl::string_view role);

// Everything the router needs, loaded from the directory in one consistent read and swapped in
// whole (readers hold a shared_ptr to an immutable snapshot).
struct RoutingSnapshot {
  // region slug -> (service prefix -> upstream address)
  absl::flat_hash_map<std::string, std::map<std::string, std::string>> region_services;
  // organisation slug -> region slug
  absl::flat_hash_map<std::string, std::string> organisation_region;
  // key id -> key (revoked keys included, marked)
  absl::flat_hash_map<std::string, KeyEntry> keys;

  // The key an `authorization` header value presents. UNAUTHENTICATED when missing, malformed,
  // unknown, wrong secret ("invalid API key", the same for both) or revoked ("API key revoked",
  // said only once the secret matched).
  absl::StatusOr<const KeyEntry*> Authenticate(absl::string_view authorization) const;

  // The tenant a call of `key` acts for. `requested` is the client's x-tahe-tenant header (empty
  // if absent). A key of exactly one organisation acts for it (the header, if sent, must name
  // it). Otherwise the header is required (INVALID_ARGUMENT) and must name one of the key's
  // organisations or an organisation of one of its regions: PERMISSION_DENIED otherwise,
  // including for organisations that do not exist (nothing is revealed about other tenants).
  absl::StatusOr<std::string> ResolveTenant(const KeyEntry& key, absl::string_view requested) const;

  // The upstream address serving `full_method` for `organisation`: its region's address with the
  // longest service prefix matching the method's service at a dot boundary. NOT_FOUND for an
  // unknown organisation; absl::UnimplementedError if its region lists no address for the service.
  absl::StatusOr<std::string> UpstreamFor(absl::string_view organisation,
                                          absl::string_view full_method) const;
};

// --- Rate limiting ---------------------------------------------------------------------------

// A token bucket per organisation: `rate_per_second` tokens are added continuously up to
// `burst`; a call takes one. A new organisation starts with a full bucket. Thread-safe; buckets
// are sharded by organisation so concurrent calls of different organisations rarely contend.
//
//   TokenBucketLimiter limiter({.rate_per_second = 200, .burst = 400});
//   if (!limiter.TryAcquire(tenant)) return absl::ResourceExhaustedError("rate limit");
class TokenBucketLimiter {
 public:
  struct Options {
    // <= 0: unlimited (TryAcquire always succeeds).
    double rate_per_second = 100;
    // The most tokens a bucket holds (the largest burst). REQUIRES: >= 1 when rate > 0.
    double burst = 200;
  };
  using Clock = std::function<absl::Time()>;

  // `clock` defaults to absl::Now; tests inject a fake one.
  explicit TokenBucketLimiter(Options options, Clock clock = nullptr);

  // Takes `cost` tokens from `organisation`'s bucket if it holds that many; false otherwise (and
  // takes nothing).
  bool TryAcquire(absl::string_view organisation, double cost = 1);

  // Tokens in the bucket now (for tests and metrics).
  double Available(absl::string_view organisation);

 private:
  struct Bucket {
    double tokens;
    absl::Time updated;
  };
  struct Shard {
    absl::Mutex mu;
    absl::flat_hash_map<std::string, Bucket> buckets ABSL_GUARDED_BY(mu);
  };
  static constexpr int kShards = 16;
  // Refills the bucket of `organisation` (creating it full) and returns it. REQUIRES: shard.mu.
  Bucket& Refill(Shard& shard, absl::string_view organisation, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(shard.mu);
  Shard& ShardOf(absl::string_view organisation);

  const Options options_;
  const Clock clock_;
  std::array<Shard, kShards> shards_;
};

}  // namespace tahe::gateway
