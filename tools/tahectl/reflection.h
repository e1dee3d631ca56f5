#pragma once

// Lists the services a server exposes through gRPC server reflection
// (/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo, a bidi stream), the way
// grpcurl's `list` does. Needs no tenant or token: reflection is open on every endpoint.
//
//   absl::StatusOr<std::vector<std::string>> names = ListServices(settings);

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tools/tahectl/client.h"

namespace tahe::tahectl {

absl::StatusOr<std::vector<std::string>> ListServices(const ClientSettings& settings);

}  // namespace tahe::tahectl
