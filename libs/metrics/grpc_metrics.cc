#include "libs/metrics/grpc_metrics.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/support/interceptor.h>

#include <array>
#include <atomic>
#include <chrono>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"

namespace tahe::metrics {
namespace {

using grpc::experimental::InterceptionHookPoints;
using grpc::experimental::InterceptorBatchMethods;
using Clock = std::chrono::steady_clock;

// Index = grpc::StatusCode value.
constexpr std::array<absl::string_view, 17> kCodeNames = {
    "OK",       "Canceled",       "Unknown",          "InvalidArgument",   "DeadlineExceeded",
    "NotFound", "AlreadyExists",  "PermissionDenied", "ResourceExhausted", "FailedPrecondition",
    "Aborted",  "OutOfRange",     "Unimplemented",    "Internal",          "Unavailable",
    "DataLoss", "Unauthenticated"};

// Index = ServerRpcInfo::Type / ClientRpcInfo::Type value (both follow RpcMethod::RpcType).
// ClientRpcInfo's UNKNOWN is only seen on default-constructed infos that never run interceptors.
constexpr std::array<absl::string_view, 5> kTypeNames = {"unary", "client_stream", "server_stream",
                                                         "bidi_stream", "unknown"};

// The default buckets of the Prometheus clients (Go's prometheus.DefBuckets).
const prometheus::Histogram::BucketBoundaries& HandlingBuckets() {
  static const auto* const kBuckets =
      new prometheus::Histogram::BucketBoundaries{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10};
  return *kBuckets;
}

struct SideNames {
  const char* started;
  const char* started_help;
  const char* handled;
  const char* handled_help;
  const char* handling_seconds;
  const char* handling_seconds_help;
  const char* msg_received;
  const char* msg_received_help;
  const char* msg_sent;
  const char* msg_sent_help;
};

// Names and help texts as go-grpc-prometheus registers them.
constexpr SideNames kServerNames = {
    "grpc_server_started_total",
    "Total number of RPCs started on the server.",
    "grpc_server_handled_total",
    "Total number of RPCs completed on the server, regardless of success or failure.",
    "grpc_server_handling_seconds",
    "Histogram of response latency (seconds) of gRPC that had been application-level handled by "
    "the server.",
    "grpc_server_msg_received_total",
    "Total number of RPC stream messages received on the server.",
    "grpc_server_msg_sent_total",
    "Total number of gRPC stream messages sent by the server.",
};
constexpr SideNames kClientNames = {
    "grpc_client_started_total",
    "Total number of RPCs started on the client.",
    "grpc_client_handled_total",
    "Total number of RPCs completed by the client, regardless of success or failure.",
    "grpc_client_handling_seconds",
    "Histogram of response latency (seconds) of the gRPC until it is finished by the application.",
    "grpc_client_msg_received_total",
    "Total number of RPC stream messages received by the client.",
    "grpc_client_msg_sent_total",
    "Total number of gRPC stream messages sent by the client.",
};

// The metric children of one (type, method), resolved once so a call only touches atomics.
class MethodMetrics {
 public:
  MethodMetrics(prometheus::Labels labels, prometheus::Family<prometheus::Counter>& started,
                prometheus::Family<prometheus::Counter>& handled,
                prometheus::Family<prometheus::Histogram>& handling_seconds,
                prometheus::Family<prometheus::Counter>& msg_received,
                prometheus::Family<prometheus::Counter>& msg_sent)
      : labels_(std::move(labels)),
        handled_family_(handled),
        started_(started.Add(labels_)),
        handling_seconds_(handling_seconds.Add(labels_, HandlingBuckets())),
        msg_received_(msg_received.Add(labels_)),
        msg_sent_(msg_sent.Add(labels_)) {
    for (std::atomic<prometheus::Counter*>& slot : handled_) {
      slot.store(nullptr, std::memory_order_relaxed);
    }
  }

  void Started() { started_.Increment(); }
  void MessageReceived() { msg_received_.Increment(); }
  void MessageSent() { msg_sent_.Increment(); }

  void Handled(grpc::StatusCode code, Clock::duration elapsed) {
    HandledCounter(code).Increment();
    handling_seconds_.Observe(std::chrono::duration<double>(elapsed).count());
  }

 private:
  // The handled child of a code is created on the first call ending with it, so a method exports
  // only the codes it has returned. Family::Add is idempotent and thread-safe, so two threads
  // racing here store the same pointer.
  prometheus::Counter& HandledCounter(grpc::StatusCode code) {
    const int index = static_cast<int>(code);
    if (index < 0 || index >= static_cast<int>(handled_.size())) {
      return AddHandled(code);
    }
    prometheus::Counter* counter = handled_[index].load(std::memory_order_acquire);
    if (counter == nullptr) {
      counter = &AddHandled(code);
      handled_[index].store(counter, std::memory_order_release);
    }
    return *counter;
  }

  prometheus::Counter& AddHandled(grpc::StatusCode code) {
    prometheus::Labels labels = labels_;
    labels.emplace("grpc_code", GrpcCodeName(code));
    return handled_family_.Add(labels);
  }

  const prometheus::Labels labels_;
  prometheus::Family<prometheus::Counter>& handled_family_;
  prometheus::Counter& started_;
  prometheus::Histogram& handling_seconds_;
  prometheus::Counter& msg_received_;
  prometheus::Counter& msg_sent_;
  std::array<std::atomic<prometheus::Counter*>, kCodeNames.size()> handled_;
};

// The five families of one side (server or client) and the per-method cache.
class RpcMetrics {
 public:
  RpcMetrics(prometheus::Registry& registry, const SideNames& names)
      : started_(prometheus::BuildCounter()
                     .Name(names.started)
                     .Help(names.started_help)
                     .Register(registry)),
        handled_(prometheus::BuildCounter()
                     .Name(names.handled)
                     .Help(names.handled_help)
                     .Register(registry)),
        handling_seconds_(prometheus::BuildHistogram()
                              .Name(names.handling_seconds)
                              .Help(names.handling_seconds_help)
                              .Register(registry)),
        msg_received_(prometheus::BuildCounter()
                          .Name(names.msg_received)
                          .Help(names.msg_received_help)
                          .Register(registry)),
        msg_sent_(prometheus::BuildCounter()
                      .Name(names.msg_sent)
                      .Help(names.msg_sent_help)
                      .Register(registry)) {}

  // `type` is the RpcType value; `full_method_name` may be null (treated as "").
  MethodMetrics& ForMethod(int type, const char* full_method_name) {
    if (type < 0 || type >= static_cast<int>(kTypeNames.size())) {
      type = kTypeNames.size() - 1;
    }
    const absl::string_view name = full_method_name == nullptr ? "" : full_method_name;
    {
      absl::ReaderMutexLock lock(&mu_);
      auto it = by_type_[type].find(name);
      if (it != by_type_[type].end()) {
        return *it->second;
      }
    }
    absl::MutexLock lock(&mu_);
    std::unique_ptr<MethodMetrics>& slot = by_type_[type][name];
    if (slot == nullptr) {
      ServiceAndMethod split = SplitFullMethodName(name);
      prometheus::Labels labels = {{"grpc_type", std::string(kTypeNames[type])},
                                   {"grpc_service", std::move(split.service)},
                                   {"grpc_method", std::move(split.method)}};
      slot = std::make_unique<MethodMetrics>(std::move(labels), started_, handled_,
                                             handling_seconds_, msg_received_, msg_sent_);
    }
    return *slot;
  }

 private:
  prometheus::Family<prometheus::Counter>& started_;
  prometheus::Family<prometheus::Counter>& handled_;
  prometheus::Family<prometheus::Histogram>& handling_seconds_;
  prometheus::Family<prometheus::Counter>& msg_received_;
  prometheus::Family<prometheus::Counter>& msg_sent_;

  absl::Mutex mu_;
  // Indexed by RPC type, keyed by full method name ("/pkg.Service/Method").
  std::array<absl::flat_hash_map<std::string, std::unique_ptr<MethodMetrics>>, kTypeNames.size()>
      by_type_ ABSL_GUARDED_BY(mu_);
};

// One per server call. Started when the client's initial metadata arrives, handled when the
// status is about to be sent.
class ServerMetricsInterceptor final : public grpc::experimental::Interceptor {
 public:
  ServerMetricsInterceptor(std::shared_ptr<RpcMetrics> owner, MethodMetrics& metrics)
      : owner_(std::move(owner)), metrics_(metrics), started_at_(Clock::now()) {}

  void Intercept(InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      started_at_ = Clock::now();
      metrics_.Started();
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_MESSAGE) &&
        methods->GetRecvMessage() != nullptr) {
      metrics_.MessageReceived();
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_SEND_MESSAGE) &&
        methods->GetSendMessageStatus()) {
      metrics_.MessageSent();
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      metrics_.Handled(methods->GetSendStatus().error_code(), Clock::now() - started_at_);
    }
    methods->Proceed();
  }

 private:
  const std::shared_ptr<RpcMetrics> owner_;  // Keeps metrics_ alive.
  MethodMetrics& metrics_;
  Clock::time_point started_at_;
};

// One per client call. Started when the call sends its initial metadata, handled when the
// application receives the status.
class ClientMetricsInterceptor final : public grpc::experimental::Interceptor {
 public:
  ClientMetricsInterceptor(std::shared_ptr<RpcMetrics> owner, MethodMetrics& metrics)
      : owner_(std::move(owner)), metrics_(metrics), started_at_(Clock::now()) {}

  void Intercept(InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      started_at_ = Clock::now();
      metrics_.Started();
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_SEND_MESSAGE) &&
        methods->GetSendMessageStatus()) {
      metrics_.MessageSent();
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_MESSAGE) &&
        methods->GetRecvMessage() != nullptr) {
      metrics_.MessageReceived();
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_STATUS)) {
      const grpc::Status* status = methods->GetRecvStatus();
      metrics_.Handled(status == nullptr ? grpc::StatusCode::UNKNOWN : status->error_code(),
                       Clock::now() - started_at_);
    }
    methods->Proceed();
  }

 private:
  const std::shared_ptr<RpcMetrics> owner_;  // Keeps metrics_ alive.
  MethodMetrics& metrics_;
  Clock::time_point started_at_;
};

class ServerMetricsInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit ServerMetricsInterceptorFactory(prometheus::Registry& registry)
      : metrics_(std::make_shared<RpcMetrics>(registry, kServerNames)) {}

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new ServerMetricsInterceptor(
        metrics_, metrics_->ForMethod(static_cast<int>(info->type()), info->method()));
  }

 private:
  const std::shared_ptr<RpcMetrics> metrics_;
};

class ClientMetricsInterceptorFactory final
    : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit ClientMetricsInterceptorFactory(prometheus::Registry& registry)
      : metrics_(std::make_shared<RpcMetrics>(registry, kClientNames)) {}

  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo* info) override {
    return new ClientMetricsInterceptor(
        metrics_, metrics_->ForMethod(static_cast<int>(info->type()), info->method()));
  }

 private:
  const std::shared_ptr<RpcMetrics> metrics_;
};

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
NewServerMetricsInterceptorFactory(prometheus::Registry& registry) {
  return std::make_unique<ServerMetricsInterceptorFactory>(registry);
}

std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>
NewClientMetricsInterceptorFactory(prometheus::Registry& registry) {
  return std::make_unique<ClientMetricsInterceptorFactory>(registry);
}

std::shared_ptr<grpc::Channel> CreateMeteredChannel(
    const std::string& target, const std::shared_ptr<grpc::ChannelCredentials>& credentials,
    prometheus::Registry& registry, const grpc::ChannelArguments& args) {
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> creators;
  creators.push_back(NewClientMetricsInterceptorFactory(registry));
  return grpc::experimental::CreateCustomChannelWithInterceptors(target, credentials, args,
                                                                 std::move(creators));
}

std::string GrpcCodeName(grpc::StatusCode code) {
  const int index = static_cast<int>(code);
  if (index >= 0 && index < static_cast<int>(kCodeNames.size())) {
    return std::string(kCodeNames[index]);
  }
  return absl::StrCat("Code(", index, ")");
}

ServiceAndMethod SplitFullMethodName(absl::string_view full_method_name) {
  absl::ConsumePrefix(&full_method_name, "/");
  const size_t slash = full_method_name.find('/');
  if (slash == absl::string_view::npos) {
    return {"unknown", "unknown"};
  }
  return {std::string(full_method_name.substr(0, slash)),
          std::string(full_method_name.substr(slash + 1))};
}

}  // namespace tahe::metrics
