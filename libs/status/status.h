#pragma once

// Error handling shared by every Tahe library and service.
//
// Every fallible function returns absl::Status or absl::StatusOr<T>. Two macros keep call sites
// short, and one pair of functions converts between absl::Status and grpc::Status, so the
// canonical code and the message cross the wire unchanged.
//
//   absl::StatusOr<Entry> LoadEntry(int64_t seq);
//   absl::Status Check() {
//     ASSIGN_OR_RETURN(Entry entry, LoadEntry(7));
//     RETURN_IF_ERROR(Validate(entry));
//     return absl::OkStatus();
//   }

#include <grpcpp/support/status.h>

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

#define TAHE_STATUS_CONCAT_INNER(a, b) a##b
#define TAHE_STATUS_CONCAT(a, b) TAHE_STATUS_CONCAT_INNER(a, b)

// Returns from the enclosing function if `expr` (an absl::Status) is not OK.
#define RETURN_IF_ERROR(expr)                    \
  do {                                           \
    ::absl::Status tahe_status_ = (expr);        \
    if (!tahe_status_.ok()) return tahe_status_; \
  } while (false)

// `lhs` = the value of `rexpr` (an absl::StatusOr<T>), or returns its error.
#define ASSIGN_OR_RETURN(lhs, rexpr) \
  TAHE_ASSIGN_OR_RETURN_IMPL(TAHE_STATUS_CONCAT(tahe_statusor_, __LINE__), lhs, rexpr)
#define TAHE_ASSIGN_OR_RETURN_IMPL(statusor, lhs, rexpr)   \
  auto statusor = (rexpr);                                 \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()

namespace tahe {

// The longest message sent to a client. A message travels in the grpc-message trailer, which
// percent-encoding may triple and the client's metadata limit (8 KiB by default) caps: a message
// quoting a huge input would turn a clear INVALID_ARGUMENT into the client's RESOURCE_EXHAUSTED.
inline constexpr size_t kMaxWireMessageBytes = 1024;

// `message` cut to kMaxWireMessageBytes at a UTF-8 character boundary, with "... (N more bytes)".
std::string CapMessage(absl::string_view message);

// absl::Status -> grpc::Status with the same canonical code and message (capped by CapMessage).
grpc::Status ToGrpcStatus(const absl::Status& status);

// grpc::Status -> absl::Status with the same canonical code and message.
absl::Status FromGrpcStatus(const grpc::Status& status);

// "INVALID_ARGUMENT" etc.
std::string CodeName(absl::StatusCode code);

// INVALID_ARGUMENT that names the offending field: "entry.lines[2].account: unknown account 9999".
absl::Status InvalidField(absl::string_view field, absl::string_view problem);

// Request ids (idempotency keys): 1-128 printable ASCII characters without spaces.
bool IsValidRequestId(absl::string_view request_id);
// INVALID_ARGUMENT naming `field` unless IsValidRequestId ("required" when empty).
absl::Status ValidateRequestId(absl::string_view field, absl::string_view request_id);

// Free text without control characters (tabs and newlines included): INVALID_ARGUMENT naming
// `field` otherwise, and when longer than `max_chars` bytes.
absl::Status ValidateText(absl::string_view field, absl::string_view text, size_t max_chars);

// Prefixes the message of a non-OK status with context, keeping the code.
absl::Status Annotate(const absl::Status& status, absl::string_view context);

}  // namespace tahe
