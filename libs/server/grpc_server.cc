#include "libs/server/grpc_server.h"

#include <google/protobuf/descriptor.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <signal.h>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "libs/log/log.h"
#include "libs/metrics/grpc_metrics.h"

namespace tahe::server {
namespace {

using grpc::experimental::InterceptionHookPoints;

// gRPC's callback API answers a request its handler cannot parse (bytes that are not the
// method's message, or a proto3 string field that is not UTF-8) with the "no such method" code
// and no message, as if the method did not exist. For the methods this server registered, that
// becomes INVALID_ARGUMENT saying so.
class MalformedRequestInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit MalformedRequestInterceptor(std::string method) : method_(std::move(method)) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      grpc::Status status = methods->GetSendStatus();
      if (status.error_code() == grpc::StatusCode::UNIMPLEMENTED &&
          status.error_message().empty()) {
        methods->ModifySendStatus(grpc::Status(
            grpc::StatusCode::INVALID_ARGUMENT,
            absl::StrCat("request: not a valid ", method_,
                         " message (malformed protobuf, or a string field that is not UTF-8)")));
      }
    }
    methods->Proceed();
  }

 private:
  const std::string method_;
};

class MalformedRequestInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  // The methods of `services` ("tahe.ledger.v1.LedgerService"), from their descriptors, once:
  // a path not among them (another service's, or one the service does not have, which reaches
  // interceptors with the same code) is left as it is.
  explicit MalformedRequestInterceptorFactory(const std::vector<std::string>& services) {
    for (const std::string& name : services) {
      const google::protobuf::ServiceDescriptor* service =
          google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(name);
      for (int i = 0; service != nullptr && i < service->method_count(); ++i) {
        methods_.insert(absl::StrCat("/", name, "/", service->method(i)->name()));
      }
    }
  }

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    // "/tahe.ledger.v1.LedgerService/PostEntry"; the set is never written after construction.
    if (info->method() == nullptr || !methods_.contains(info->method())) {
      return nullptr;
    }
    return new MalformedRequestInterceptor(info->method() + 1);
  }

 private:
  absl::flat_hash_set<std::string> methods_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<GrpcServer>> GrpcServer::Start(ServerOptions options) {
  size_t colon = options.listen.rfind(':');
  int requested_port = 0;
  if (colon == std::string::npos ||
      !absl::SimpleAtoi(options.listen.substr(colon + 1), &requested_port)) {
    return absl::InvalidArgumentError(
        absl::StrCat("listen address \"", options.listen, "\": expected host:port"));
  }
  DisableMutexDeadlockDetection();
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  std::unique_ptr<GrpcServer> server(new GrpcServer);
  server->host_ = options.listen.substr(0, colon);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(
      options.listen,
      options.credentials != nullptr ? options.credentials : grpc::InsecureServerCredentials(),
      &server->port_);
  builder.SetMaxReceiveMessageSize(options.max_receive_message_bytes);
  // Keep idle streaming clients (change feed consumers) honest without killing them.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 60000);
  for (grpc::Service* service : options.services) {
    builder.RegisterService(service);
  }
  if (options.generic_service.callback() != nullptr) {
    builder.RegisterCallbackGenericService(options.generic_service.callback());
  } else if (options.generic_service.async() != nullptr) {
    options.generic_service.async()->AddTo(builder);
  }
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
  // First, so that the metrics below count the code the client gets.
  creators.push_back(std::make_unique<MalformedRequestInterceptorFactory>(options.health_names));
  if (options.metrics != nullptr) {
    creators.push_back(metrics::NewServerMetricsInterceptorFactory(*options.metrics));
  }
  builder.experimental().SetInterceptorCreators(std::move(creators));
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.listen, " (address in use or invalid?)"));
  }
  if (options.generic_service.async() != nullptr) {
    server->async_generic_ = options.generic_service.async();
    server->async_generic_->Start();
  }
  if (!options.health_listen.empty()) {
    // The default health service, and server reflection (a global plugin every builder gets;
    // without a service of its own the builder would not add the health service either): the
    // services' schemas, no data; every call of theirs needs the main port's TLS.
    grpc::ServerBuilder health_builder;
    health_builder.AddListeningPort(options.health_listen, grpc::InsecureServerCredentials(),
                                    &server->health_port_);
    server->health_server_ = health_builder.BuildAndStart();
    if (server->health_server_ == nullptr || server->health_port_ == 0) {
      server->Shutdown(absl::ZeroDuration());
      return absl::UnavailableError(absl::StrCat("cannot listen on ", options.health_listen,
                                                 " (health_listen: address in use or invalid?)"));
    }
  }
  for (grpc::Server* s : {server->server_.get(), server->health_server_.get()}) {
    if (s == nullptr) continue;
    for (const std::string& name : options.health_names) {
      s->GetHealthCheckService()->SetServingStatus(name, true);
    }
    s->GetHealthCheckService()->SetServingStatus(true);
  }
  return server;
}

GrpcServer::~GrpcServer() { Shutdown(absl::ZeroDuration()); }

std::string GrpcServer::address() const {
  std::string host = host_;
  if (host.empty() || host == "0.0.0.0" || host == "[::]") {
    host = "127.0.0.1";
  }
  return absl::StrCat(host, ":", port_);
}

void GrpcServer::Shutdown(absl::Duration grace) {
  if (shut_down_ || server_ == nullptr) {
    return;
  }
  shut_down_ = true;
  server_->GetHealthCheckService()->SetServingStatus(false);
  if (health_server_ != nullptr) {
    health_server_->GetHealthCheckService()->SetServingStatus(false);
  }
  server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
  if (async_generic_ != nullptr) {
    async_generic_->Stop();  // after Shutdown, as gRPC requires of completion queues
  }
  server_->Wait();
  if (health_server_ != nullptr) {
    // Probes see NOT_SERVING during the grace period above; the listener goes last.
    health_server_->Shutdown(absl::ToChronoTime(absl::Now()));
    health_server_->Wait();
  }
}

void DisableMutexDeadlockDetection() {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
}

void BlockTerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int WaitForTerminationSignal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  int sig = 0;
  sigwait(&set, &sig);
  return sig;
}

}  // namespace tahe::server
