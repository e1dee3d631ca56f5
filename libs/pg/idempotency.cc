#include "libs/pg/idempotency.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/message.h>
#include <openssl/sha.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace tahe::pg {

std::string Sha256Hex(absl::string_view bytes) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
}

std::string RequestFingerprint(absl::string_view method, const google::protobuf::Message& request) {
  std::string serialized;
  {
    google::protobuf::io::StringOutputStream stream(&serialized);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    request.SerializeToCodedStream(&coded);
  }
  return Sha256Hex(absl::StrCat(method, ";", serialized));
}

namespace internal {

absl::StatusOr<std::optional<std::string>> LookUpResponse(pqxx::work& tx, const IdempotencyKey& key,
                                                          absl::string_view method,
                                                          const std::string& fingerprint) {
  tx.exec_params("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                 absl::StrCat(key.tenant, "/", key.request_id));
  pqxx::result prior =
      key.tenant.empty() ? tx.exec_params(
                               "SELECT method, encode(request_hash, 'hex'), encode(response, 'hex')"
                               " FROM idempotency WHERE request_id = $1",
                               key.request_id)
                         : tx.exec_params(
                               "SELECT method, encode(request_hash, 'hex'), encode(response, 'hex')"
                               " FROM idempotency WHERE tenant_id = $1 AND request_id = $2",
                               key.tenant, key.request_id);
  if (prior.empty()) {
    return std::nullopt;
  }
  if (prior[0][0].as<std::string>() != method || prior[0][1].as<std::string>() != fingerprint) {
    return absl::AlreadyExistsError(absl::StrCat("request_id: \"", key.request_id,
                                                 "\" was already used for a different request"));
  }
  return prior[0][2].as<std::string>();
}

void StoreResponse(pqxx::work& tx, const IdempotencyKey& key, absl::string_view method,
                   const std::string& fingerprint, const std::string& response_bytes) {
  const std::string hex = absl::BytesToHexString(response_bytes);
  if (key.tenant.empty()) {
    tx.exec_params(
        "INSERT INTO idempotency (request_id, method, request_hash, response)"
        " VALUES ($1, $2, decode($3, 'hex'), decode($4, 'hex'))",
        key.request_id, std::string(method), fingerprint, hex);
  } else {
    tx.exec_params(
        "INSERT INTO idempotency (tenant_id, request_id, method, request_hash, response)"
        " VALUES ($1, $2, $3, decode($4, 'hex'), decode($5, 'hex'))",
        key.tenant, key.request_id, std::string(method), fingerprint, hex);
  }
}

}  // namespace internal

}  // namespace tahe::pg
