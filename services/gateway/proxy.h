#pragma once

// The gateway's forwarding core: a generic, byte-level gRPC proxy.
//
// Every call the gateway's server does not serve itself (health, reflection, the admin API are
// registered services and win) reaches ProxyService, whatever its method. The proxy asks the
// Router where the call goes and which metadata the backend gets, then relays the call as raw
// grpc::ByteBuffers: no message is parsed, so a new backend RPC passes without a gateway change.
// Unary, client-, server- and bidi-streaming calls are all bidi streams on the wire and are
// relayed the same way.
//
//   ProxyService proxy([&](const grpc::GenericServerContext& ctx) -> RouteDecision {
//     // authenticate, resolve tenant and cell (from memory: this runs on a proxy thread)
//     return {.status = absl::OkStatus(),
//             .upstream = cell_channel,   // e.g. metrics::CreateMeteredChannel(...)
//             .metadata = {{"x-tahe-tenant", "lahti"}, {"x-tahe-internal-token", token}}};
//   });
//   GrpcServer::Start({..., .generic_service = &proxy});  // or, with a bare grpc::ServerBuilder:
//   proxy.AddTo(builder); auto server = builder.BuildAndStart(); proxy.Start();
//   ...; server->Shutdown(deadline); proxy.Stop(); server->Wait();
//
// What the backend sees: the method, the messages, the client's deadline, and exactly the
// metadata the router returned. Nothing the client sent is forwarded (no tenant, principal,
// internal token, authorization, x-request-id), so the router is the only source of trusted
// metadata. gRPC's own headers (grpc-timeout, content-type, te, ...) are produced by gRPC itself.
//
// What the client sees: the backend's initial metadata (as soon as the backend sends it, also on
// a stream that then stays silent), messages, trailing metadata and status (code, message, binary
// details) unchanged, except headers gRPC reserves for itself (":"-, "grpc-"-prefixed,
// content-type, te, user-agent, ...), which gRPC regenerates. A router refusal is returned as the
// router's status without contacting a backend. A backend that cannot be reached fails the call
// with UNAVAILABLE as soon as the channel knows (calls are not wait_for_ready), bounded by the
// client's deadline.
//
// Cancellation and deadlines: the upstream call carries the client's deadline; a client that
// cancels (or whose deadline passes) cancels the upstream call; an upstream call that ends (in
// any way) ends the client's call with its status.
//
// Flow control: one outstanding read and one outstanding write per direction. A message read from
// one side is written to the other, and the next read on the first side starts only when that
// write completed, so a slow reader slows its writer instead of filling the gateway's memory.
//
// Threads: the proxy runs on gRPC's async (completion-queue) API, with `threads` completion
// queues each drained by a thread of its own. Both halves of a call (the client's call to the
// gateway and the gateway's call to the backend) report to the same queue, so every event of a
// call is handled on the thread that polled it: no hand-off between threads, no lock per call.
// The router and the on_done hook run on these threads, so a slow one stalls every call of its
// queue.
//
// Metrics: give the router channels made with metrics::CreateMeteredChannel to get the
// grpc_client_* families per upstream method, and an on_done hook for per-call figures of its own.
// Note that every proxied call is a generic bidi stream to gRPC, so interceptors (server and client
// side) label it grpc_type="bidi_stream". Upstream channels should raise
// GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH to the backends' limit (64 MiB), as should the gateway's
// server (ServerBuilder::SetMaxReceiveMessageSize).

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "libs/server/grpc_server.h"

namespace tahe::gateway {

// Where one call goes and what it carries.
struct RouteDecision {
  // Not OK: the call is refused with this status (code and message as given) and nothing is
  // forwarded.
  absl::Status status;
  // The backend channel. REQUIRES: non-null when `status` is OK.
  std::shared_ptr<grpc::Channel> upstream;
  // The complete metadata of the upstream call (keys lower-case, "-bin" suffix for binary values).
  std::vector<std::pair<std::string, std::string>> metadata;
  // Called once when a forwarded call ends, with the status the client gets (the backend's, or
  // the upstream channel's). Runs on a proxy thread: must be fast and must not throw. May be
  // empty.
  std::function<void(const grpc::Status& status)> on_done;
};

// Decides one call from its method (ctx.method(), "/pkg.Service/Method"), its metadata
// (ctx.client_metadata()) and its peer. Called once per call, on a proxy thread, before anything
// is forwarded.
// REQUIRES: fast and non-blocking (look-ups from memory, no database round trip); thread-safe.
// An exception it throws refuses the call with INTERNAL.
using Router = std::function<RouteDecision(const grpc::GenericServerContext& ctx)>;

struct ProxyOptions {
  // Completion queues, each drained by one proxy thread. 0: one per core.
  int threads = 0;
};

class ProxyService final : public server::AsyncGenericHandler {
 public:
  // REQUIRES: `router` non-empty.
  explicit ProxyService(Router router);
  ProxyService(Router router, ProxyOptions options);
  // Stop()s. REQUIRES: the server has shut down, or Start() never ran.
  ~ProxyService() override;

  // Registers the async generic service and adds the completion queues.
  // REQUIRES: called once, on the builder of the one server this proxy serves.
  void AddTo(grpc::ServerBuilder& builder) override;
  // REQUIRES: the server is built and started.
  void Start() override;
  // Waits for the calls still running to end, then shuts the queues down and joins the threads.
  // REQUIRES: grpc::Server::Shutdown has returned (it fails the pending requests for new calls
  // and, after its deadline, cancels the calls still running). Idempotent.
  void Stop() override;

 private:
  class Call;  // one proxied call (proxy.cc)

  void Drain(grpc::ServerCompletionQueue* queue);
  void CallStarted();
  void CallEnded();

  const Router router_;
  const int thread_count_;
  grpc::AsyncGenericService service_;
  std::vector<std::unique_ptr<grpc::ServerCompletionQueue>> queues_;
  std::vector<std::thread> threads_;
  bool started_ = false;
  bool stopped_ = false;

  absl::Mutex mu_;
  // Call objects alive: requests waiting for a call, and calls in progress.
  int live_calls_ ABSL_GUARDED_BY(mu_) = 0;
};

// True for metadata keys gRPC manages itself, which are never copied from one call to the other
// (":authority", "grpc-status", "grpc-timeout", "content-type", "te", "user-agent", ...).
bool IsReservedMetadataKey(std::string_view key);

}  // namespace tahe::gateway
