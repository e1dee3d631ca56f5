#pragma once

// A client for the standard gRPC health service (grpc.health.v1.Health/Check) that needs no
// generated code: the two tiny messages are encoded by hand and sent with grpc::GenericStub.
//
//   HealthCheckRequest  { string service = 1; }
//   HealthCheckResponse { ServingStatus status = 1; }   // 1 = SERVING
//
//   absl::StatusOr<ServingStatus> status = CheckHealth(settings, "");   // "" = the whole server
//   if (status.ok() && *status == ServingStatus::kServing) { ... }

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tools/tahectl/client.h"

namespace tahe::tahectl {

inline constexpr absl::string_view kHealthCheckMethod = "/grpc.health.v1.Health/Check";

// grpc.health.v1.HealthCheckResponse.ServingStatus.
enum class ServingStatus : int64_t {
  kUnknown = 0,
  kServing = 1,
  kNotServing = 2,
  kServiceUnknown = 3,
};

// "SERVING", "NOT_SERVING", "UNKNOWN", "SERVICE_UNKNOWN", or "STATUS_<n>" for a value this
// client does not know.
std::string ServingStatusName(ServingStatus status);

// The wire form of HealthCheckRequest{service}: empty for "", else field 1 as a length-delimited
// string.
std::string EncodeHealthCheckRequest(absl::string_view service);

// Field 1 of a HealthCheckResponse (UNKNOWN when absent); other fields are skipped.
// DATA_LOSS for bytes that are not a well-formed protobuf message.
absl::StatusOr<ServingStatus> DecodeHealthCheckResponse(absl::string_view bytes);

// Calls Health/Check on settings.address with a fresh x-request-id and settings.timeout. No
// tenant or token is sent: health needs neither. A failed RPC is returned with its gRPC code.
absl::StatusOr<ServingStatus> CheckHealth(const ClientSettings& settings,
                                          absl::string_view service);

}  // namespace tahe::tahectl
