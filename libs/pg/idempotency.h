#pragma once

// Fingerprints for idempotent requests: a mutating RPC stores the fingerprint of its request
// beside its request id, so a replay (same id, same fingerprint) is told from a conflict (same
// id, another request).
//
//   std::string fingerprint = tahe::pg::RequestFingerprint("CreateAccount", request);

#include <string>

#include "absl/strings/string_view.h"

namespace google::protobuf {
class Message;
}

namespace tahe::pg {

// Hex SHA-256 of `bytes`.
std::string Sha256Hex(absl::string_view bytes);

// Hex SHA-256 of the method name and the request's deterministic serialization (map fields in
// key order), so equal requests always give equal fingerprints.
std::string RequestFingerprint(absl::string_view method, const google::protobuf::Message& request);

}  // namespace tahe::pg
