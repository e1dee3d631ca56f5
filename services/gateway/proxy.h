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
//   ProxyService proxy([&](const grpc::GenericCallbackServerContext& ctx) -> RouteDecision {
//     // authenticate, resolve tenant and cell (from memory: this runs on a gRPC thread)
//     return {.status = absl::OkStatus(),
//             .upstream = cell_channel,   // e.g. metrics::CreateMeteredChannel(...)
//             .metadata = {{"x-tahe-tenant", "lahti"}, {"x-tahe-internal-token", token}}};
//   });
//   grpc::ServerBuilder builder;
//   builder.RegisterCallbackGenericService(&proxy);
//
// What the backend sees: the method, the messages, the client's deadline, and exactly the
// metadata the router returned. Nothing the client sent is forwarded (no tenant, principal,
// internal token, authorization, x-request-id), so the router is the only source of trusted
// metadata. gRPC's own headers (grpc-timeout, content-type, te, ...) are produced by gRPC itself.
//
// What the client sees: the backend's initial metadata, messages, trailing metadata and status
// (code, message, binary details) unchanged, except headers gRPC reserves for itself (":"-,
// "grpc-"-prefixed, content-type, te, user-agent, ...), which gRPC regenerates. A router refusal
// is returned as the router's status without contacting a backend. A backend that cannot be
// reached fails the call with UNAVAILABLE as soon as the channel knows (calls are not
// wait_for_ready), bounded by the client's deadline.
//
// Cancellation and deadlines: the upstream call carries the client's deadline; a client that
// cancels (or whose deadline passes) cancels the upstream call; an upstream call that ends (in
// any way) ends the client's call with its status.
//
// Flow control: one outstanding read and one outstanding write per direction. A message read from
// one side is written to the other, and the next read on the first side starts only when that
// write completed, so a slow reader slows its writer instead of filling the gateway's memory.
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
#include <utility>
#include <vector>

#include "absl/status/status.h"

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
  // the upstream channel's). Runs on a gRPC thread: must be fast and must not throw. May be empty.
  std::function<void(const grpc::Status& status)> on_done;
};

// Decides one call from its method (ctx.method(), "/pkg.Service/Method"), its metadata
// (ctx.client_metadata()) and its peer. Called once per call, on a gRPC thread, before anything is
// forwarded.
// REQUIRES: fast and non-blocking (look-ups from memory, no database round trip); thread-safe.
// An exception it throws refuses the call with INTERNAL.
using Router = std::function<RouteDecision(const grpc::GenericCallbackServerContext& ctx)>;

class ProxyService final : public grpc::CallbackGenericService {
 public:
  // REQUIRES: `router` non-empty.
  explicit ProxyService(Router router);

  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext* ctx) override;

 private:
  const Router router_;
};

// True for metadata keys gRPC manages itself, which are never copied from one call to the other
// (":authority", "grpc-status", "grpc-timeout", "content-type", "te", "user-agent", ...).
bool IsReservedMetadataKey(std::string_view key);

}  // namespace tahe::gateway
