#include <grpcpp/grpcpp.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <thread>

#include "libs/metrics/testdata/echo.grpc.pb.h"
#include "libs/server/call.h"
#include "libs/server/grpc_server.h"
#include "libs/server/raw_call_for_test.h"
#include "libs/server/service_main.h"

namespace tahe::server {
namespace {

using tahe::test::v1::EchoRequest;
using tahe::test::v1::EchoResponse;
using tahe::test::v1::EchoService;

class EchoImpl final : public EchoService::CallbackService {
 public:
  explicit EchoImpl(const HandlerEnv& env) : env_(env) {}
  grpc::ServerUnaryReactor* Echo(grpc::CallbackServerContext* ctx, const EchoRequest* req,
                                 EchoResponse* resp) override {
    return HandleUnary(ctx, env_, "Echo", [req, resp](const CallContext& call) -> absl::Status {
      if (req->message() == "throw") {
        throw std::runtime_error("secret detail");
      }
      if (req->message() == "slow") {
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
      }
      resp->set_message(call.tenant + "/" + call.request_id + "/" + req->message());
      return absl::OkStatus();
    });
  }

 private:
  HandlerEnv env_;
};

struct Fixture {
  Authenticator auth{"s3cret"};
  WorkerPool workers{4};
  HandlerEnv env{&auth, &workers};
  EchoImpl service{env};
  std::unique_ptr<GrpcServer> server;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<EchoService::Stub> stub;

  Fixture() {
    auto started = GrpcServer::Start({.listen = "127.0.0.1:0", .services = {&service}});
    REQUIRE(started.ok());
    server = *std::move(started);
    REQUIRE(server->port() > 0);
    channel = grpc::CreateChannel(server->address(), grpc::InsecureChannelCredentials());
    stub = EchoService::NewStub(channel);
  }

  grpc::Status Call(const std::string& message, bool token, const std::string& tenant,
                    std::string* reply) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    if (token) {
      ctx.AddMetadata(kInternalTokenHeader, "s3cret");
    }
    if (!tenant.empty()) {
      ctx.AddMetadata(kTenantHeader, tenant);
    }
    ctx.AddMetadata(kRequestIdHeader, "req-1");
    EchoRequest req;
    req.set_message(message);
    EchoResponse resp;
    grpc::Status status = stub->Echo(&ctx, req, &resp);
    *reply = resp.message();
    return status;
  }
};

TEST_CASE("calls need the internal credential and a valid tenant") {
  Fixture f;
  std::string reply;
  REQUIRE(f.Call("hi", false, "lahti", &reply).error_code() == grpc::StatusCode::UNAUTHENTICATED);
  grpc::Status no_tenant = f.Call("hi", true, "", &reply);
  REQUIRE(no_tenant.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  REQUIRE(no_tenant.error_message().find("x-tahe-tenant") != std::string::npos);
  REQUIRE(f.Call("hi", true, "Bad Slug", &reply).error_code() ==
          grpc::StatusCode::INVALID_ARGUMENT);
  REQUIRE(f.Call("hi", true, "lahti", &reply).ok());
  REQUIRE(reply == "lahti/req-1/hi");
}

TEST_CASE("an exception in a handler becomes INTERNAL without its details") {
  Fixture f;
  std::string reply;
  grpc::Status status = f.Call("throw", true, "lahti", &reply);
  REQUIRE(status.error_code() == grpc::StatusCode::INTERNAL);
  REQUIRE(status.error_message().find("secret") == std::string::npos);
  REQUIRE(status.error_message().find("req-1") != std::string::npos);
  // The server is still fine afterwards.
  REQUIRE(f.Call("again", true, "lahti", &reply).ok());
}

TEST_CASE("shutdown drains in-flight calls and then refuses new ones") {
  Fixture f;
  std::atomic<bool> slow_ok{false};
  std::thread slow([&] {
    std::string reply;
    slow_ok = f.Call("slow", true, "lahti", &reply).ok() && reply == "lahti/req-1/slow";
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  f.server->Shutdown(absl::Seconds(5));
  slow.join();
  REQUIRE(slow_ok);
  std::string reply;
  REQUIRE_FALSE(f.Call("after", true, "lahti", &reply).ok());
}

// A unary call of `method` with `bytes` as the request, as a trusted caller for lahti.
grpc::Status RawCall(const std::string& address, const std::string& method,
                     const std::string& bytes) {
  return RawUnaryCall(address, method, bytes,
                      {{"x-tahe-internal-token", "s3cret"}, {"x-tahe-tenant", "lahti"}});
}

TEST_CASE("a request that does not parse is INVALID_ARGUMENT, an unknown method UNIMPLEMENTED") {
  Authenticator auth{"s3cret"};
  WorkerPool workers{2};
  EchoImpl service{HandlerEnv{&auth, &workers}};
  auto started = GrpcServer::Start({.listen = "127.0.0.1:0",
                                    .services = {&service},
                                    .health_names = {"tahe.test.v1.EchoService"}});
  REQUIRE(started.ok());
  std::unique_ptr<GrpcServer> server = *std::move(started);

  // message = "hei" parses; field 1 holding 0xC3 0x28 is not UTF-8; 0xFF is no message at all.
  CHECK(RawCall(server->address(), "/tahe.test.v1.EchoService/Echo", "\x0a\x03hei").ok());
  for (const std::string& bytes : {std::string("\x0a\x02\xC3\x28"), std::string("\xFF\xFF\xFF")}) {
    grpc::Status status = RawCall(server->address(), "/tahe.test.v1.EchoService/Echo", bytes);
    CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(status.error_message() ==
          "request: not a valid tahe.test.v1.EchoService/Echo message (malformed protobuf, or a "
          "string field that is not UTF-8)");
  }
  CHECK(RawCall(server->address(), "/tahe.test.v1.EchoService/Nope", "").error_code() ==
        grpc::StatusCode::UNIMPLEMENTED);
  CHECK(RawCall(server->address(), "/tahe.other.v1.Other/Echo", "").error_code() ==
        grpc::StatusCode::UNIMPLEMENTED);
  server->Shutdown(absl::Seconds(1));
}

TEST_CASE("tenant slugs") {
  REQUIRE(IsValidTenantSlug("lahti"));
  REQUIRE(IsValidTenantSlug("phhyky"));
  REQUIRE(IsValidTenantSlug("paijat-hame2"));
  REQUIRE_FALSE(IsValidTenantSlug(""));
  REQUIRE_FALSE(IsValidTenantSlug("-x"));
  REQUIRE_FALSE(IsValidTenantSlug("Lahti"));
  REQUIRE_FALSE(IsValidTenantSlug("a'b"));
  REQUIRE_FALSE(IsValidTenantSlug(std::string(64, 'a')));
}

TEST_CASE("worker pool runs every task and drains on shutdown") {
  std::atomic<int> done{0};
  {
    WorkerPool pool(3, 1000);
    for (int i = 0; i < 500; ++i) {
      REQUIRE(pool.Submit([&] { done++; }));
    }
    pool.Drain();
    REQUIRE_FALSE(pool.Submit([] {}));
  }
  REQUIRE(done == 500);
}

}  // namespace
}  // namespace tahe::server

TEST_CASE("secret flags must be long enough, and are never quoted") {
  absl::StatusOr<std::string> ok =
      tahe::server::ReadSecretFlag("--internal_token", "0123456789abcdef", "", 16);
  REQUIRE(ok.ok());
  CHECK(*ok == "0123456789abcdef");
  absl::StatusOr<std::string> short_one =
      tahe::server::ReadSecretFlag("--identity_key", "too-short-secret", "", 32);
  REQUIRE(short_one.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(std::string(short_one.status().message()) == "--identity_key: at least 32 bytes");
  CHECK(tahe::server::MetricsUrl("127.0.0.1:0", 9470) == "http://127.0.0.1:9470/metrics");
}
