#include "services/gateway/proxy.h"

#include <grpcpp/generic/generic_stub.h>

#include <algorithm>
#include <array>
#include <exception>
#include <string_view>

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

// Requests for new calls kept outstanding per completion queue. A call that arrives while none
// is outstanding waits in gRPC until the next one is made (at once, by the call that took the
// last one), so a few are enough.
constexpr int kRequestsPerQueue = 4;

RouteDecision Decide(const Router& router, const grpc::GenericServerContext& ctx) {
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

}  // namespace

// One call relayed between the downstream call (the client's call to the gateway, `down_`) and
// the upstream call (the gateway's call to the backend, `up_`). Both report to `queue_`, which
// one proxy thread drains, so every method of a Call runs on that thread, one at a time: its
// state needs no lock.
//
// Every operation started passes a tag (TagFor) that counts it in `pending_`; each completion
// comes back through OnEvent, which deletes the Call once nothing is pending. The operations:
//
//   kRequested       RequestCall: a new call arrived (ok) or the server is shutting down (!ok).
//   kDone            AsyncNotifyWhenDone: the downstream call is over; ctx_.IsCancelled() says
//                    whether the client cancelled (or its deadline passed, or it went away).
//   requests   (client -> backend):  down Read -> up Write -> down Read -> ...
//              client half-close (down Read !ok) -> up WritesDone; the pump stops.
//              The first up Write (or WritesDone) waits for StartCall's completion: they share
//              one batch object in gRPC (ClientAsyncReaderWriter's write_ops_).
//   responses  (backend -> client):  up ReadInitialMetadata -> copy it, down SendInitialMetadata
//                                    (at once: a silent stream's headers are not held back),
//                                    up Read -> down Write -> up Read -> ...
//              end of the upstream stream (up Read !ok) -> up Finish.
//
// The end: only the upstream call decides it. up Finish (status received) copies the trailing
// metadata and calls down Finish(status): the only Finish, except a router refusal, which never
// starts upstream. No downstream write is outstanding then (the response pump is idle); a
// downstream read may be, and completes with !ok. A client that cancels (kDone with
// IsCancelled) and a failed downstream write TryCancel the upstream call, whose up Read then
// fails and up Finish brings the status as usual. Requests that arrive after the upstream call
// ended are dropped and the request pump stops.
class ProxyService::Call {
 public:
  // Requests the next call on `queue`.
  Call(ProxyService* service, grpc::ServerCompletionQueue* queue)
      : service_(service), queue_(queue) {
    for (int op = 0; op < kOpCount; ++op) {
      tags_[op] = {this, static_cast<Op>(op)};
    }
    service_->CallStarted();
    // Delivered only if the request is matched with a call (counted then, in OnRequested).
    ctx_.AsyncNotifyWhenDone(&tags_[kDone]);
    service_->service_.RequestCall(&ctx_, &down_, queue_, queue_, TagFor(kRequested));
  }

  // What a completion-queue tag points to.
  struct Tag {
    Call* call;
    int op;
  };

  void OnEvent(int op, bool ok) {
    --pending_;
    switch (op) {
      case kRequested:
        OnRequested(ok);
        break;
      case kDone:
        OnDownDone();
        break;
      case kDownRead:
        OnDownRead(ok);
        break;
      case kUpStart:
        OnUpStart();
        break;
      case kUpWrite:
        OnUpWrite(ok);
        break;
      case kUpInitialMetadata:
        OnUpInitialMetadata(ok);
        break;
      case kUpRead:
        OnUpRead(ok);
        break;
      case kDownWrite:
        OnDownWrite(ok);
        break;
      case kUpFinish:
        OnUpFinish();
        break;
      default:  // kDownSendInitialMetadata, kDownFinish, kUpWritesDone: nothing follows them
        break;
    }
    if (pending_ == 0) {
      ProxyService* service = service_;
      delete this;
      service->CallEnded();
    }
  }

 private:
  enum Op : int {
    kRequested,
    kDone,
    kDownRead,
    kDownSendInitialMetadata,
    kDownWrite,
    kDownFinish,
    kUpStart,
    kUpInitialMetadata,
    kUpRead,
    kUpWrite,
    kUpWritesDone,
    kUpFinish,
    kOpCount,
  };
  // What the request pump does once StartCall completed.
  enum class Deferred { kNothing, kWrite, kWritesDone };

  void* TagFor(Op op) {
    ++pending_;
    return &tags_[op];
  }

  void OnRequested(bool ok) {
    if (!ok) {
      return;  // the server is shutting down: no call, and no new request
    }
    new Call(service_, queue_);  // keep the queue's requests outstanding
    ++pending_;                  // kDone, armed in the constructor, now comes
    RouteDecision decision = Decide(service_->router_, ctx_);
    if (!decision.status.ok()) {
      down_finished_ = true;
      down_.Finish(ToGrpcStatus(decision.status), TagFor(kDownFinish));
      return;
    }
    channel_ = std::move(decision.upstream);
    on_done_ = std::move(decision.on_done);
    for (const auto& [key, value] : decision.metadata) {
      up_ctx_.AddMetadata(key, value);
    }
    // The client's deadline (infinite if it set none). Fail fast: a backend that is down is
    // UNAVAILABLE now, not when the deadline passes.
    up_ctx_.set_deadline(ctx_.raw_deadline());
    up_ctx_.set_wait_for_ready(false);
    grpc::GenericStub stub(channel_);
    up_ = stub.PrepareCall(&up_ctx_, ctx_.method(), queue_);
    up_write_open_ = true;
    up_->StartCall(TagFor(kUpStart));
    up_->ReadInitialMetadata(TagFor(kUpInitialMetadata));
    down_.Read(&request_, TagFor(kDownRead));
  }

  // --- requests: client -> backend ----------------------------------------------------------

  void OnDownRead(bool ok) {
    if (!up_write_open_) {
      return;  // the upstream call is over: drop the message, read no more
    }
    if (!up_start_done_) {
      deferred_ = ok ? Deferred::kWrite : Deferred::kWritesDone;
      return;
    }
    ForwardRequest(ok);
  }

  // ok: request_ holds a message for the backend. !ok: the client half-closed (or its call broke,
  // and kDone cancels upstream).
  void ForwardRequest(bool ok) {
    if (ok) {
      up_->Write(request_, TagFor(kUpWrite));
      return;
    }
    up_->WritesDone(TagFor(kUpWritesDone));
    up_write_open_ = false;
  }

  void OnUpStart() {
    // Not ok: the call failed; a write then fails too and up Finish brings the status.
    up_start_done_ = true;
    if (deferred_ != Deferred::kNothing && up_write_open_) {
      ForwardRequest(deferred_ == Deferred::kWrite);
    }
    deferred_ = Deferred::kNothing;
  }

  void OnUpWrite(bool ok) {
    if (!up_write_open_) {
      return;
    }
    if (ok && !down_finished_) {
      down_.Read(&request_, TagFor(kDownRead));
      return;
    }
    // The upstream call takes no more messages: it is ending, and up Finish reports how.
    up_write_open_ = false;
  }

  // --- responses: backend -> client ---------------------------------------------------------

  void OnUpInitialMetadata(bool ok) {
    // Not ok: the call failed, or the backend answered with trailers only (an error, usually);
    // the read below then fails and up Finish brings the status and trailers.
    if (ok && !down_finished_) {
      for (const auto& [key, value] : up_ctx_.GetServerInitialMetadata()) {
        std::string_view k(key.data(), key.size());
        if (!IsReservedMetadataKey(k)) {
          ctx_.AddInitialMetadata(std::string(k), std::string(value.data(), value.size()));
        }
      }
      down_.SendInitialMetadata(TagFor(kDownSendInitialMetadata));
    }
    up_->Read(&response_, TagFor(kUpRead));
  }

  void OnUpRead(bool ok) {
    if (ok) {
      down_.Write(response_, TagFor(kDownWrite));
      return;
    }
    // The backend's stream ended: its status has arrived or the call failed.
    up_->Finish(&up_status_, TagFor(kUpFinish));
  }

  void OnDownWrite(bool ok) {
    if (!ok) {
      // The client is gone: stop the backend's work too. The read below then fails.
      up_ctx_.TryCancel();
    }
    up_->Read(&response_, TagFor(kUpRead));
  }

  // --- the end ------------------------------------------------------------------------------

  void OnDownDone() {
    // The client cancelled, its deadline passed, or its connection broke.
    if (ctx_.IsCancelled() && up_ != nullptr && !up_done_) {
      up_ctx_.TryCancel();
    }
  }

  void OnUpFinish() {
    up_done_ = true;
    up_write_open_ = false;
    if (!down_finished_) {
      down_finished_ = true;
      for (const auto& [key, value] : up_ctx_.GetServerTrailingMetadata()) {
        std::string_view k(key.data(), key.size());
        if (!IsReservedMetadataKey(k)) {
          ctx_.AddTrailingMetadata(std::string(k), std::string(value.data(), value.size()));
        }
      }
      // Code, message and binary details as the backend (or the upstream channel) gave them.
      down_.Finish(up_status_, TagFor(kDownFinish));
    }
    if (on_done_) {
      on_done_(up_status_);
    }
  }

  ProxyService* const service_;
  grpc::ServerCompletionQueue* const queue_;
  std::array<Tag, kOpCount> tags_;
  int pending_ = 0;  // operations started whose tag has not come back

  grpc::GenericServerContext ctx_;
  grpc::GenericServerAsyncReaderWriter down_{&ctx_};
  // Keeps the channel of the upstream call alive as long as the call.
  std::shared_ptr<grpc::Channel> channel_;
  std::function<void(const grpc::Status&)> on_done_;
  grpc::ClientContext up_ctx_;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> up_;
  grpc::Status up_status_;

  ByteBuffer request_;   // in flight client -> backend
  ByteBuffer response_;  // in flight backend -> client
  bool down_finished_ = false;
  bool up_start_done_ = false;
  Deferred deferred_ = Deferred::kNothing;
  bool up_write_open_ = false;  // the request pump may still write upstream
  bool up_done_ = false;
};

ProxyService::ProxyService(Router router) : ProxyService(std::move(router), ProxyOptions()) {}

ProxyService::ProxyService(Router router, ProxyOptions options)
    : router_(std::move(router)),
      thread_count_(options.threads > 0
                        ? options.threads
                        : std::max(1, static_cast<int>(std::thread::hardware_concurrency()))) {}

ProxyService::~ProxyService() { Stop(); }

void ProxyService::AddTo(grpc::ServerBuilder& builder) {
  builder.RegisterAsyncGenericService(&service_);
  for (int i = 0; i < thread_count_; ++i) {
    queues_.push_back(builder.AddCompletionQueue());
  }
}

void ProxyService::Start() {
  started_ = true;
  for (const auto& queue : queues_) {
    for (int i = 0; i < kRequestsPerQueue; ++i) {
      new Call(this, queue.get());
    }
  }
  for (const auto& queue : queues_) {
    threads_.emplace_back([this, queue = queue.get()] { Drain(queue); });
  }
}

void ProxyService::Stop() {
  if (stopped_) {
    return;
  }
  stopped_ = true;
  if (started_) {
    // The proxy threads keep serving the calls that are still running (upstream calls ending
    // after a TryCancel, requests failed by the server's shutdown) until none is left.
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](int* live) { return *live == 0; }, &live_calls_));
  }
  for (const auto& queue : queues_) {
    queue->Shutdown();
  }
  if (started_) {
    for (std::thread& thread : threads_) {
      thread.join();
    }
  } else {
    for (const auto& queue : queues_) {
      Drain(queue.get());
    }
  }
}

void ProxyService::Drain(grpc::ServerCompletionQueue* queue) {
  void* tag = nullptr;
  bool ok = false;
  while (queue->Next(&tag, &ok)) {
    auto* t = static_cast<Call::Tag*>(tag);
    t->call->OnEvent(t->op, ok);
  }
}

void ProxyService::CallStarted() {
  absl::MutexLock lock(&mu_);
  ++live_calls_;
}

void ProxyService::CallEnded() {
  absl::MutexLock lock(&mu_);
  --live_calls_;
}

}  // namespace tahe::gateway
