#include "libs/status/status.h"

#include "absl/strings/str_cat.h"

namespace tahe {

std::string CapMessage(absl::string_view message) {
  if (message.size() <= kMaxWireMessageBytes) {
    return std::string(message);
  }
  size_t cut = kMaxWireMessageBytes;
  // Back to the start of a UTF-8 character (continuation bytes are 10xxxxxx; a character has at
  // most 3 of them, so bytes that are not UTF-8 cannot eat the whole message).
  while (cut > kMaxWireMessageBytes - 3 &&
         (static_cast<unsigned char>(message[cut]) & 0xC0) == 0x80) {
    --cut;
  }
  return absl::StrCat(message.substr(0, cut), "... (", message.size() - cut, " more bytes)");
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) {
    return grpc::Status::OK;
  }
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), CapMessage(status.message()));
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) {
    return absl::OkStatus();
  }
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

std::string CodeName(absl::StatusCode code) { return absl::StatusCodeToString(code); }

absl::Status InvalidField(absl::string_view field, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", problem));
}

absl::Status Annotate(const absl::Status& status, absl::string_view context) {
  if (status.ok()) {
    return status;
  }
  return absl::Status(status.code(), absl::StrCat(context, ": ", status.message()));
}

bool IsValidRequestId(absl::string_view request_id) {
  if (request_id.empty() || request_id.size() > 128) {
    return false;
  }
  for (char c : request_id) {
    if (c <= 0x20 || c >= 0x7f) {
      return false;
    }
  }
  return true;
}

absl::Status ValidateRequestId(absl::string_view field, absl::string_view request_id) {
  if (request_id.empty()) {
    return InvalidField(field, "required (an idempotency key chosen by the caller)");
  }
  if (!IsValidRequestId(request_id)) {
    return InvalidField(field, "must be 1-128 printable ASCII characters without spaces");
  }
  return absl::OkStatus();
}

absl::Status ValidateText(absl::string_view field, absl::string_view text, size_t max_chars) {
  if (text.size() > max_chars) {
    return InvalidField(field, absl::StrCat("longer than ", max_chars, " characters"));
  }
  for (unsigned char c : text) {
    if (c < 0x20 || c == 0x7f) {
      return InvalidField(field, "contains a control character");
    }
  }
  return absl::OkStatus();
}

}  // namespace tahe
