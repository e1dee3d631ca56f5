#pragma once

// A client-streaming handler in the style of HandleUnary: authenticates, then runs each message's
// handler on the worker pool in order (never on a gRPC thread, one at a time), then, when the
// client half-closes, the end handler that fills the response. An error of either ends the call
// with that error (INTERNAL sanitised like HandleUnary); the messages handled before it stay
// handled, so a handler that commits per message must be idempotent per message.
//
//   grpc::ServerReadReactor<ImportRequest>* Import(grpc::CallbackServerContext* ctx,
//                                                 ImportResponse* resp) override {
//     auto state = std::make_shared<ImportState>();
//     return server::HandleClientStream<ImportRequest>(
//         ctx, env_, "Import", resp,
//         [=](const server::CallContext& call, const ImportRequest& req) {
//           return state->Add(call, req);
//         },
//         [=](const server::CallContext& call, ImportResponse* out) {
//           return state->Finish(call, out);
//         });
//   }

#include <grpcpp/grpcpp.h>

#include <functional>
#include <utility>

#include "absl/status/status.h"
#include "libs/server/call.h"
#include "libs/status/status.h"

namespace tahe::server {

template <typename Request, typename Response>
class ClientStreamReactor final : public grpc::ServerReadReactor<Request> {
 public:
  using OnMessage = std::function<absl::Status(const CallContext&, const Request&)>;
  using OnEnd = std::function<absl::Status(const CallContext&, Response*)>;

  ClientStreamReactor(grpc::CallbackServerContext* ctx, const HandlerEnv& env,
                      absl::string_view method, Response* resp, OnMessage on_message, OnEnd on_end)
      : ctx_(ctx),
        workers_(env.workers),
        resp_(resp),
        on_message_(std::move(on_message)),
        on_end_(std::move(on_end)) {
    absl::StatusOr<CallContext> call = StartCall(ctx, env, method);
    if (!call.ok()) {
      this->Finish(ToGrpcStatus(call.status()));
      return;
    }
    call_ = *std::move(call);
    this->StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    const bool end = !ok;  // the client half-closed (or went away)
    bool queued = workers_->Submit([this, end] {
      if (ctx_->IsCancelled()) {
        this->Finish(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
        return;
      }
      absl::Status status = GuardedRun(call_, [this, end] {
        return end ? on_end_(call_, resp_) : on_message_(call_, request_);
      });
      if (!status.ok() || end) {
        this->Finish(ToWireStatus(call_, status));
        return;
      }
      this->StartRead(&request_);
    });
    if (!queued) {
      this->Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "server overloaded"));
    }
  }

  void OnDone() override { delete this; }

 private:
  grpc::CallbackServerContext* const ctx_;
  WorkerPool* const workers_;
  Response* const resp_;
  const OnMessage on_message_;
  const OnEnd on_end_;
  CallContext call_;
  Request request_;
};

template <typename Request, typename Response>
grpc::ServerReadReactor<Request>* HandleClientStream(
    grpc::CallbackServerContext* ctx, const HandlerEnv& env, absl::string_view method,
    Response* resp, typename ClientStreamReactor<Request, Response>::OnMessage on_message,
    typename ClientStreamReactor<Request, Response>::OnEnd on_end) {
  return new ClientStreamReactor<Request, Response>(ctx, env, method, resp, std::move(on_message),
                                                    std::move(on_end));
}

}  // namespace tahe::server
