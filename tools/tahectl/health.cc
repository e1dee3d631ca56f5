#include "tools/tahectl/health.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/slice.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "libs/status/status.h"

namespace tahe::tahectl {
namespace {

constexpr int kWireVarint = 0;
constexpr int kWireFixed64 = 1;
constexpr int kWireLengthDelimited = 2;
constexpr int kWireFixed32 = 5;

void AppendVarint(uint64_t value, std::string& out) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7F) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

// Reads a base-128 varint at `pos`, advancing it. False if truncated or longer than 10 bytes.
bool ReadVarint(absl::string_view bytes, size_t& pos, uint64_t& value) {
  value = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (pos >= bytes.size()) {
      return false;
    }
    const auto byte = static_cast<uint8_t>(bytes[pos++]);
    value |= static_cast<uint64_t>(byte & 0x7F) << shift;
    if ((byte & 0x80) == 0) {
      return true;
    }
  }
  return false;
}

}  // namespace

std::string ServingStatusName(ServingStatus status) {
  switch (status) {
    case ServingStatus::kUnknown:
      return "UNKNOWN";
    case ServingStatus::kServing:
      return "SERVING";
    case ServingStatus::kNotServing:
      return "NOT_SERVING";
    case ServingStatus::kServiceUnknown:
      return "SERVICE_UNKNOWN";
  }
  return absl::StrCat("STATUS_", static_cast<int64_t>(status));
}

std::string EncodeHealthCheckRequest(absl::string_view service) {
  std::string out;
  if (!service.empty()) {  // proto3 leaves a default-valued field off the wire.
    AppendVarint((1 << 3) | kWireLengthDelimited, out);
    AppendVarint(service.size(), out);
    out.append(service.data(), service.size());
  }
  return out;
}

absl::StatusOr<ServingStatus> DecodeHealthCheckResponse(absl::string_view bytes) {
  ServingStatus status = ServingStatus::kUnknown;
  size_t pos = 0;
  const auto malformed = [] {
    return absl::DataLossError("malformed grpc.health.v1.HealthCheckResponse");
  };
  while (pos < bytes.size()) {
    uint64_t tag = 0;
    if (!ReadVarint(bytes, pos, tag) || (tag >> 3) == 0) {
      return malformed();
    }
    const uint64_t field = tag >> 3;
    const int wire_type = static_cast<int>(tag & 7);
    uint64_t value = 0;
    switch (wire_type) {
      case kWireVarint:
        if (!ReadVarint(bytes, pos, value)) {
          return malformed();
        }
        if (field == 1) {
          // An enum is an int32 on the wire; the last occurrence wins.
          status = static_cast<ServingStatus>(static_cast<int32_t>(value));
        }
        break;
      case kWireFixed64:
      case kWireFixed32: {
        const size_t size = wire_type == kWireFixed64 ? 8 : 4;
        if (bytes.size() - pos < size) {
          return malformed();
        }
        pos += size;
        break;
      }
      case kWireLengthDelimited:
        if (!ReadVarint(bytes, pos, value) || bytes.size() - pos < value) {
          return malformed();
        }
        pos += value;
        break;
      default:
        return malformed();
    }
  }
  return status;
}

absl::StatusOr<ServingStatus> CheckHealth(const ClientSettings& settings,
                                          absl::string_view service) {
  grpc::GenericStub stub(settings.NewChannel());
  std::unique_ptr<grpc::ClientContext> context = settings.NewContext(/*with_credentials=*/false);

  const std::string request_bytes = EncodeHealthCheckRequest(service);
  grpc::Slice slice(request_bytes);
  const grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  grpc::Status rpc_status;
  absl::Notification done;
  stub.UnaryCall(context.get(), std::string(kHealthCheckMethod), grpc::StubOptions(), &request,
                 &response, [&](grpc::Status status) {
                   rpc_status = std::move(status);
                   done.Notify();
                 });
  done.WaitForNotification();
  if (!rpc_status.ok()) {
    return tahe::Annotate(tahe::FromGrpcStatus(rpc_status),
                          absl::StrCat("Health/Check ", settings.address));
  }

  std::vector<grpc::Slice> slices;
  if (!response.Dump(&slices).ok()) {
    return absl::DataLossError("cannot read the health check response");
  }
  std::string response_bytes;
  for (const grpc::Slice& part : slices) {
    response_bytes.append(reinterpret_cast<const char*>(part.begin()), part.size());
  }
  return DecodeHealthCheckResponse(response_bytes);
}

}  // namespace tahe::tahectl
