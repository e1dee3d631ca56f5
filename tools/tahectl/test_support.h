#pragma once

// Pieces of tahectl's tests that run commands in-process against an in-process fake service over
// real gRPC: a server on a free loopback port, a run of tahectl with an injected environment and
// stdin, files in the working directory that are removed afterwards, parsing --json output, and
// an import's problems as text.
//
//   FakeReporting reporting(kKey);
//   LoopbackServer server(&reporting);
//   RunResult result = RunInProcess({"report", "feed"},
//                                   {{"TAHE_GATEWAY_ADDR", server.address()}, ...});
//   CHECK(result.code == kExitOk);

#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/util/json_util.h"
#include "tools/tahectl/cli.h"
#include "tools/tahectl/csv.h"

namespace tahe::tahectl {

struct RunResult {
  int code;
  std::string out;
  std::string err;
};

// Runs tahectl with exactly the environment `env` (add TAHE_LOCAL_ENV=/dev/null to keep a real
// env file out), `stdin_text` as stdin, and polls every 10 ms.
inline RunResult RunInProcess(const std::vector<std::string>& args,
                              const std::map<std::string, std::string>& env,
                              const std::string& stdin_text = "") {
  std::ostringstream out;
  std::ostringstream err;
  std::istringstream in(stdin_text);
  RunEnvironment environment;
  environment.env = [env](absl::string_view name) -> std::optional<std::string> {
    auto it = env.find(std::string(name));
    if (it == env.end()) {
      return std::nullopt;
    }
    return it->second;
  };
  environment.in = &in;
  environment.poll_interval = absl::Milliseconds(10);
  const int code = RunTahectl(args, environment, out, err);
  return RunResult{code, out.str(), err.str()};
}

// A gRPC server with `service` on a free loopback port, for as long as it lives.
class LoopbackServer {
 public:
  explicit LoopbackServer(grpc::Service* service) {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.SetMaxReceiveMessageSize(64 << 20);
    builder.RegisterService(service);
    server_ = builder.BuildAndStart();
    REQUIRE(server_ != nullptr);
    REQUIRE(port > 0);
    address_ = absl::StrCat("127.0.0.1:", port);
  }
  ~LoopbackServer() { server_->Shutdown(std::chrono::system_clock::now()); }

  const std::string& address() const { return address_; }

 private:
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
};

// A file in the test's working directory, removed afterwards.
class TempFile {
 public:
  // The process id keeps test cases that ctest runs in parallel apart.
  TempFile(absl::string_view name, const std::string& contents)
      : path_(absl::StrCat(name, ".", getpid())) {
    std::ofstream file(path_, std::ios::binary);
    file << contents;
  }
  // A name only: no file (yet).
  explicit TempFile(absl::string_view name) : path_(absl::StrCat(name, ".", getpid())) {
    std::remove(path_.c_str());
  }
  ~TempFile() { std::remove(path_.c_str()); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline std::string ReadAll(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::stringstream contents;
  contents << file.rdbuf();
  return contents.str();
}

// A file's problems, one a line as FormatCsvProblem writes them.
template <typename Row>
std::string Problems(const CsvImport<Row>& parsed) {
  std::string text;
  for (const CsvProblem& problem : parsed.problems) {
    absl::StrAppend(&text, FormatCsvProblem(problem), "\n");
  }
  return text;
}

// --json output parsed back into its message; unknown fields fail the test.
template <typename Message>
Message ParsedJson(const std::string& json) {
  Message message;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  REQUIRE(google::protobuf::util::JsonStringToMessage(json, &message, options).ok());
  return message;
}

}  // namespace tahe::tahectl
