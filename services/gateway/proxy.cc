#include "services/gateway/proxy.h"

#include <grpcpp/generic/generic_stub.h>

#include <atomic>
#include <exception>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "libs/log/log.h"
#include "libs/status/status.h"

namespace tahe::gateway {

bool IsReservedMetadataKey(std::string_view key) {
  // ":path", ":authority", ...: HTTP/2 pseudo-headers. "grpc-*": status, timeout, encoding,
  // status details, ... The rest are HTTP headers gRPC sets on every call.
  return key.empty() || key.front() == ':' || key.starts_with("grpc-") || key == "content-type" ||
         key == "te" || key == "user-agent" || key == "host" || key == "connection" ||
         key == "transfer-encoding" || key == "keep-alive" || key == "upgrade" ||
         key == "proxy-connection";
}

namespace {

using grpc::ByteBuffer;

// One proxied call; see ProxyCall below.
class ProxyCall;

// The upstream half of a ProxyCall: a client reactor whose reactions are handed to the ProxyCall
// that owns it. (One object cannot be both reactors: their reactions share names.)
class UpstreamReactor final : public grpc::ClientBidiReactor<ByteBuffer, ByteBuffer> {
 public:
  explicit UpstreamReactor(ProxyCall* call) : call_(call) {}

  void OnReadInitialMetadataDone(bool ok) override;
  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnDone(const grpc::Status& status) override;

 private:
  ProxyCall* const call_;
};

// One call relayed between the downstream call (the client's call to the gateway; this object is
// its server reactor) and the upstream call (the gateway's call to the backend; `upstream_`).
//
// State machine. Two message pumps, each with at most one message in flight:
//
//   requests   (client -> backend):  down.StartRead(request_) -> OnReadDone(ok)
//                                    -> up.StartWrite(request_) -> OnUpstreamWriteDone(ok)
//                                    -> down.StartRead(request_) -> ...
//              client half-close (OnReadDone(false)) -> up.StartWritesDone(); the pump stops.
//   responses  (backend -> client):  OnUpstreamInitialMetadata -> copy it, down.StartSend-
//                                    InitialMetadata, up.StartRead(response_)
//                                    -> OnUpstreamReadDone(ok) -> down.StartWrite(response_)
//                                    -> OnWriteDone(ok) -> up.StartRead(response_) -> ...
//              end of the upstream stream (OnUpstreamReadDone(false)): the pump stops.
//
// The end: only the upstream call decides it. OnUpstreamDone(status) (every upstream operation
// completed, status received) copies the trailing metadata and calls down.Finish(status): the only
// Finish, except a router refusal, which finishes in the constructor and never starts upstream.
// Client cancellation (OnCancel, also when its deadline passes) and a failed downstream write
// TryCancel the upstream call, whose OnDone then finishes the downstream call as usual.
//
// Client-reactor holds. The upstream reactor's OnDone must not run while this object may still
// start an upstream operation from a downstream reaction, so:
//   - the write hold, taken before StartCall, is held while the request pump may still write
//     (`up_write_open_`); released after StartWritesDone, after a failed upstream write, or when
//     the upstream stream ended (its call is over; a request still arriving is dropped);
//   - a read hold is taken for each response handed to the downstream write, and released in
//     OnWriteDone after the next upstream read started (or after TryCancel if the write failed).
// So when OnUpstreamDone runs, no downstream write is outstanding and Finish may be called.
//
// Server reactor: no operation is started after Finish (`down_finished_`); a downstream read may be
// outstanding at Finish and completes with ok=false.
//
// Lifetime: `refs_` counts the reactors whose OnDone has not run (2; 1 after a refusal). The last
// OnDone deletes this. The downstream OnDone cannot run before Finish, which only the upstream
// OnDone (or the constructor) calls, so every reaction of either reactor sees a live object.
//
// Locking: every reaction holds `mu_` while it reads or changes state and starts operations.
// gRPC runs reactions on its own threads, never inline in the thread that starts an operation
// (the callback tags are not inlineable, and RemoveHold/StartCall schedule OnDone), so starting
// operations under `mu_` cannot re-enter it.
class ProxyCall final : public grpc::ServerGenericBidiReactor {
 public:
  ProxyCall(grpc::GenericCallbackServerContext* ctx, const Router& router);

  // Downstream reactions.
  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override { Unref(); }

  // Upstream reactions, from UpstreamReactor.
  void OnUpstreamInitialMetadata(bool ok);
  void OnUpstreamReadDone(bool ok);
  void OnUpstreamWriteDone(bool ok);
  void OnUpstreamDone(const grpc::Status& status);

 private:
  ~ProxyCall() override = default;
  void Unref() {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      delete this;
    }
  }
  void CloseUpstreamWritesLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  grpc::GenericCallbackServerContext* const ctx_;
  // Keeps the channel of the upstream call alive as long as the call.
  std::shared_ptr<grpc::Channel> channel_;
  std::function<void(const grpc::Status&)> on_done_;
  grpc::ClientContext up_ctx_;
  UpstreamReactor upstream_{this};
  std::atomic<int> refs_{1};

  absl::Mutex mu_;
  ByteBuffer request_ ABSL_GUARDED_BY(mu_);   // in flight client -> backend
  ByteBuffer response_ ABSL_GUARDED_BY(mu_);  // in flight backend -> client
  bool down_finished_ ABSL_GUARDED_BY(mu_) = false;
  bool up_started_ ABSL_GUARDED_BY(mu_) = false;
  bool up_write_open_ ABSL_GUARDED_BY(mu_) = false;  // the write hold is held
  bool up_done_ ABSL_GUARDED_BY(mu_) = false;
};

RouteDecision Decide(const Router& router, const grpc::GenericCallbackServerContext& ctx) {
  RouteDecision decision;
  try {
    decision = router(ctx);
  } catch (const std::exception& e) {
    log::Error("gateway router threw", {{"method", ctx.method()}, {"error", e.what()}});
    return {.status = absl::InternalError("internal error")};
  } catch (...) {
    log::Error("gateway router threw", {{"method", ctx.method()}});
    return {.status = absl::InternalError("internal error")};
  }
  if (decision.status.ok() && decision.upstream == nullptr) {
    log::Error("gateway router returned no upstream", {{"method", ctx.method()}});
    return {.status = absl::InternalError("internal error")};
  }
  return decision;
}

ProxyCall::ProxyCall(grpc::GenericCallbackServerContext* ctx, const Router& router) : ctx_(ctx) {
  RouteDecision decision = Decide(router, *ctx);
  absl::MutexLock lock(&mu_);
  if (!decision.status.ok()) {
    down_finished_ = true;
    Finish(ToGrpcStatus(decision.status));
    return;
  }
  channel_ = std::move(decision.upstream);
  on_done_ = std::move(decision.on_done);
  for (const auto& [key, value] : decision.metadata) {
    up_ctx_.AddMetadata(key, value);
  }
  // The client's deadline (infinite if it set none). Fail fast: a backend that is down is
  // UNAVAILABLE now, not when the deadline passes.
  up_ctx_.set_deadline(ctx->raw_deadline());
  up_ctx_.set_wait_for_ready(false);
  grpc::GenericStub stub(channel_);
  stub.PrepareBidiStreamingCall(&up_ctx_, ctx->method(), grpc::StubOptions(), &upstream_);
  refs_.store(2, std::memory_order_relaxed);
  up_started_ = true;
  upstream_.AddHold();  // the write hold
  up_write_open_ = true;
  upstream_.StartCall();
  StartRead(&request_);
}

// --- requests: client -> backend ------------------------------------------------------------

void ProxyCall::OnReadDone(bool ok) {
  absl::MutexLock lock(&mu_);
  if (!up_write_open_) {
    return;  // the upstream call is over: drop the message, read no more
  }
  if (ok) {
    upstream_.StartWrite(&request_);
    return;
  }
  // The client half-closed (or its call broke, and OnCancel cancels upstream).
  upstream_.StartWritesDone();
  CloseUpstreamWritesLocked();
}

void ProxyCall::OnUpstreamWriteDone(bool ok) {
  absl::MutexLock lock(&mu_);
  if (!up_write_open_) {
    return;
  }
  if (ok && !down_finished_) {
    StartRead(&request_);
    return;
  }
  // The upstream call takes no more messages: it is ending, and OnUpstreamDone reports how.
  CloseUpstreamWritesLocked();
}

void ProxyCall::CloseUpstreamWritesLocked() {
  up_write_open_ = false;
  upstream_.RemoveHold();
}

// --- responses: backend -> client -----------------------------------------------------------

void ProxyCall::OnUpstreamInitialMetadata(bool ok) {
  absl::MutexLock lock(&mu_);
  // Not ok: the call failed, or the backend answered with trailers only (an error, usually);
  // the read below then fails and OnUpstreamDone brings the status and trailers.
  if (ok && !down_finished_) {
    for (const auto& [key, value] : up_ctx_.GetServerInitialMetadata()) {
      std::string_view k(key.data(), key.size());
      if (!IsReservedMetadataKey(k)) {
        ctx_->AddInitialMetadata(std::string(k), std::string(value.data(), value.size()));
      }
    }
    StartSendInitialMetadata();
  }
  upstream_.StartRead(&response_);
}

void ProxyCall::OnUpstreamReadDone(bool ok) {
  absl::MutexLock lock(&mu_);
  if (ok) {
    // The next upstream read starts in OnWriteDone, a downstream reaction: hold the upstream
    // reactor's OnDone until then. down_finished_ is false: Finish waits for upstream OnDone.
    upstream_.AddHold();
    StartWrite(&response_);
    return;
  }
  // The backend's stream ended: its status has arrived or the call failed. Nothing more to send.
  if (up_write_open_) {
    CloseUpstreamWritesLocked();
  }
}

void ProxyCall::OnWriteDone(bool ok) {
  absl::MutexLock lock(&mu_);
  if (ok) {
    upstream_.StartRead(&response_);
  } else {
    // The client is gone: stop the backend's work too.
    up_ctx_.TryCancel();
  }
  upstream_.RemoveHold();  // the read hold of OnUpstreamReadDone
}

// --- the end --------------------------------------------------------------------------------

void ProxyCall::OnCancel() {
  absl::MutexLock lock(&mu_);
  // The client cancelled, its deadline passed, or its connection broke. While up_done_ is false
  // the upstream OnDone has not run, so up_ctx_ is alive.
  if (up_started_ && !up_done_) {
    up_ctx_.TryCancel();
  }
}

void ProxyCall::OnUpstreamDone(const grpc::Status& status) {
  {
    absl::MutexLock lock(&mu_);
    up_done_ = true;
    if (!down_finished_) {
      down_finished_ = true;
      for (const auto& [key, value] : up_ctx_.GetServerTrailingMetadata()) {
        std::string_view k(key.data(), key.size());
        if (!IsReservedMetadataKey(k)) {
          ctx_->AddTrailingMetadata(std::string(k), std::string(value.data(), value.size()));
        }
      }
      // Code, message and binary details as the backend (or the upstream channel) gave them.
      Finish(status);
    }
  }
  if (on_done_) {
    on_done_(status);
  }
  Unref();
}

void UpstreamReactor::OnReadInitialMetadataDone(bool ok) { call_->OnUpstreamInitialMetadata(ok); }
void UpstreamReactor::OnReadDone(bool ok) { call_->OnUpstreamReadDone(ok); }
void UpstreamReactor::OnWriteDone(bool ok) { call_->OnUpstreamWriteDone(ok); }
void UpstreamReactor::OnDone(const grpc::Status& status) { call_->OnUpstreamDone(status); }

}  // namespace

ProxyService::ProxyService(Router router) : router_(std::move(router)) {}

grpc::ServerGenericBidiReactor* ProxyService::CreateReactor(
    grpc::GenericCallbackServerContext* ctx) {
  return new ProxyCall(ctx, router_);
}

}  // namespace tahe::gateway
