#pragma once

// Idempotent mutating RPCs: a mutating RPC stores the fingerprint of its request and its response
// beside its request id, so a replay (same id, same fingerprint) returns the first response and a
// conflict (same id, another request) is refused.
//
//   return pg::InTenantTransaction<v1::Account>(pool, tenant, options, [&](pqxx::work& tx) {
//     return pg::Idempotent<v1::Account>(tx, {.tenant = tenant, .request_id = req.request_id()},
//                                        "CreateAccount", req, [&]() -> StatusOr<v1::Account> {
//       ...  // the change, in the same transaction
//     });
//   });
//
// The service's database has a table
//   idempotency (tenant_id text, request_id text, method text, request_hash bytea,
//                response bytea, PRIMARY KEY (tenant_id, request_id))
// or, for a directory that is not per tenant (the gateway's), the same without tenant_id.

#include <functional>
#include <optional>
#include <pqxx/pqxx>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"
#include "libs/status/status.h"

namespace tahe::pg {

// Hex SHA-256 of `bytes`.
std::string Sha256Hex(absl::string_view bytes);

// Hex SHA-256 of the method name and the request's deterministic serialization (map fields in
// key order), so equal requests always give equal fingerprints.
std::string RequestFingerprint(absl::string_view method, const google::protobuf::Message& request);

struct IdempotencyKey {
  // The tenant of the transaction; empty for a table without tenant_id.
  std::string tenant;
  // Validated by the caller.
  std::string request_id;
};

namespace internal {
// The stored response of `key` as hex, if any; ALREADY_EXISTS for another method or request.
// Takes a transaction-scoped advisory lock on the key first, so concurrent replays wait for the
// first to commit.
absl::StatusOr<std::optional<std::string>> LookUpResponse(pqxx::work& tx, const IdempotencyKey& key,
                                                          absl::string_view method,
                                                          const std::string& fingerprint);
void StoreResponse(pqxx::work& tx, const IdempotencyKey& key, absl::string_view method,
                   const std::string& fingerprint, const std::string& response_bytes);
}  // namespace internal

// Runs `fn` once per request id: a replay with the same request returns the stored response
// (`stored_form(response)` if given: e.g. without a secret shown once) without running `fn`; a
// replay with another request is ALREADY_EXISTS naming request_id. An error of `fn` is not stored
// (the caller's transaction rolls back and a retry runs `fn` again).
template <typename Resp>
absl::StatusOr<Resp> Idempotent(pqxx::work& tx, const IdempotencyKey& key, absl::string_view method,
                                const google::protobuf::Message& request,
                                const std::function<absl::StatusOr<Resp>()>& fn,
                                const std::function<Resp(const Resp&)>& stored_form = nullptr) {
  const std::string fingerprint = RequestFingerprint(method, request);
  ASSIGN_OR_RETURN(std::optional<std::string> prior,
                   internal::LookUpResponse(tx, key, method, fingerprint));
  if (prior.has_value()) {
    Resp stored;
    if (!stored.ParseFromString(absl::HexStringToBytes(*prior))) {
      return absl::InternalError("stored idempotent response does not parse");
    }
    return stored;
  }
  ASSIGN_OR_RETURN(Resp response, fn());
  internal::StoreResponse(
      tx, key, method, fingerprint,
      stored_form ? stored_form(response).SerializeAsString() : response.SerializeAsString());
  return response;
}

}  // namespace tahe::pg
