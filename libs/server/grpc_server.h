#pragma once

// Builds and runs a Tahe gRPC server: the service's handlers plus the standard health service
// and server reflection, the grpc_server_* metrics interceptor, and graceful shutdown.
//
//   ASSIGN_OR_RETURN(auto server, GrpcServer::Start({.listen = "127.0.0.1:0",
//                                                    .services = {&ledger_service},
//                                                    .metrics = &metrics->registry()}));
//   BlockTerminationSignals();      // first thing in main, before any thread starts
//   WaitForTerminationSignal();     // SIGTERM or SIGINT
//   server->Shutdown(absl::Seconds(20));
//
// Shutdown: health turns NOT_SERVING, the server stops accepting, in-flight calls get the grace
// period to finish (then are cancelled), an AsyncGenericHandler stops its threads, and Shutdown
// returns; the process then exits 0.

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace prometheus {
class Registry;
}

namespace tahe::server {

// A generic service on gRPC's async API that brings its own completion queues and the threads
// that drain them (the gateway's proxy). GrpcServer drives its life: AddTo before the server is
// built, Start once it serves, Stop after grpc::Server::Shutdown has returned.
class AsyncGenericHandler {
 public:
  virtual ~AsyncGenericHandler() = default;
  // Registers the grpc::AsyncGenericService and adds the completion queues. Called once.
  virtual void AddTo(grpc::ServerBuilder& builder) = 0;
  // The server is serving: request the first calls and start the threads.
  virtual void Start() = 0;
  // The server has shut down: wait for the calls still running to end, shut the queues down,
  // drain them, join the threads.
  virtual void Stop() = 0;
};

// What serves every method no registered service handles: nothing, a callback generic service,
// or an AsyncGenericHandler. Converts implicitly from either pointer, so both read
// `.generic_service = &service`.
class GenericService {
 public:
  GenericService() = default;
  GenericService(std::nullptr_t) {}                       // NOLINT(google-explicit-constructor)
  GenericService(grpc::CallbackGenericService* callback)  // NOLINT(google-explicit-constructor)
      : callback_(callback) {}
  GenericService(AsyncGenericHandler* async)  // NOLINT(google-explicit-constructor)
      : async_(async) {}

  grpc::CallbackGenericService* callback() const { return callback_; }
  AsyncGenericHandler* async() const { return async_; }

 private:
  grpc::CallbackGenericService* callback_ = nullptr;
  AsyncGenericHandler* async_ = nullptr;
};

struct ServerOptions {
  // "host:port"; port 0 picks a free port (see GrpcServer::port()).
  std::string listen = "127.0.0.1:0";
  std::vector<grpc::Service*> services;
  // Full names of the services ("tahe.ledger.v1.LedgerService"), reported by the health service
  // alongside the overall "" status. A request to one of them that does not parse gets
  // INVALID_ARGUMENT (gRPC itself answers as for a method that does not exist).
  std::vector<std::string> health_names;
  // May be null: no grpc_server_* metrics.
  prometheus::Registry* metrics = nullptr;
  // Largest accepted message (bulk imports stream many entries per message).
  int max_receive_message_bytes = 64 << 20;
  // May be empty. Serves every method no registered service handles (the gateway's proxy).
  // REQUIRES: outlives the server.
  GenericService generic_service;
  // How `listen` is secured (see libs/server/tls.h); null: plaintext.
  std::shared_ptr<grpc::ServerCredentials> credentials;
  // "host:port" of a second, plaintext listener serving grpc.health.v1 with the same statuses
  // (probes that cannot present a client certificate) and server reflection. Empty: none.
  std::string health_listen;
};

class GrpcServer {
 public:
  static absl::StatusOr<std::unique_ptr<GrpcServer>> Start(ServerOptions options);
  ~GrpcServer();

  int port() const { return port_; }
  // The health listener's port; 0 without one.
  int health_port() const { return health_port_; }
  // "127.0.0.1:<port>" — the address clients use.
  std::string address() const;

  // Marks every service NOT_SERVING, stops accepting, waits up to `grace` for in-flight calls.
  // Idempotent.
  void Shutdown(absl::Duration grace);

 private:
  GrpcServer() = default;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<grpc::Server> health_server_;
  std::string host_;
  int port_ = 0;
  int health_port_ = 0;
  AsyncGenericHandler* async_generic_ = nullptr;
  bool shut_down_ = false;
};

// Turns off abseil's mutex deadlock detection, which Debian's abseil leaves on: every lock of
// every absl::Mutex (gRPC's own included) then pays for a lock-graph update, a few percent of a
// busy server's CPU. GrpcServer::Start calls it; gRPC clients under load may too.
void DisableMutexDeadlockDetection();

// Blocks SIGTERM and SIGINT in the calling thread and every thread it starts later.
// REQUIRES: called in main before any thread exists.
void BlockTerminationSignals();

// Waits for SIGTERM or SIGINT; returns the signal number.
int WaitForTerminationSignal();

}  // namespace tahe::server
