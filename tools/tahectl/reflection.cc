#include "tools/tahectl/reflection.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/impl/codegen/proto_utils.h>

#include <algorithm>

#include "absl/synchronization/notification.h"
#include "libs/status/status.h"
#include "tools/tahectl/proto/reflection_wire.pb.h"

namespace tahe::tahectl {
namespace {

namespace wire = ::tahe::tools::reflection;

constexpr char kReflectionMethod[] =
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo";

// Sends one list_services request, half-closes, and reads the single answer.
class ListServicesCall final : public grpc::ClientBidiReactor<wire::ServerReflectionRequest,
                                                              wire::ServerReflectionResponse> {
 public:
  ListServicesCall(grpc::TemplatedGenericStub<wire::ServerReflectionRequest,
                                              wire::ServerReflectionResponse>& stub,
                   grpc::ClientContext* ctx) {
    request_.set_list_services("");
    stub.PrepareBidiStreamingCall(ctx, kReflectionMethod, {}, this);
    StartWrite(&request_);
    StartWritesDone();
    StartRead(&response_);
    StartCall();
  }
  void OnReadDone(bool ok) override { got_response_ = got_response_ || ok; }
  void OnDone(const grpc::Status& status) override {
    status_ = status;
    done_.Notify();
  }
  grpc::Status Wait() {
    done_.WaitForNotification();
    return status_;
  }
  bool got_response() const { return got_response_; }
  const wire::ServerReflectionResponse& response() const { return response_; }

 private:
  wire::ServerReflectionRequest request_;
  wire::ServerReflectionResponse response_;
  bool got_response_ = false;
  grpc::Status status_;
  absl::Notification done_;
};

}  // namespace

absl::StatusOr<std::vector<std::string>> ListServices(const ClientSettings& settings) {
  grpc::TemplatedGenericStub<wire::ServerReflectionRequest, wire::ServerReflectionResponse> stub(
      settings.NewChannel());
  std::unique_ptr<grpc::ClientContext> ctx = settings.NewContext(/*with_credentials=*/false);
  ListServicesCall call(stub, ctx.get());
  grpc::Status status = call.Wait();
  if (!status.ok()) {
    return FromGrpcStatus(status);
  }
  if (!call.got_response()) {
    return absl::DataLossError("reflection stream ended without an answer");
  }
  if (call.response().has_error_response()) {
    return absl::UnknownError(call.response().error_response().error_message());
  }
  std::vector<std::string> names;
  for (const auto& service : call.response().list_services_response().service()) {
    names.push_back(service.name());
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace tahe::tahectl
