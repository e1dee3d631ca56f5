// tahe_gateway_load: the gateway benchmark's client and set-up tool. Wiring only; the load and
// the set-up are in gateway_load_driver.h. Used by run_gateway_bench.sh.
//
//   # The same read, directly on the ledger and through the gateway:
//   tahe_gateway_load --addr=127.0.0.1:50051 --target_name=direct
//       --internal_token_file=token --metadata x-tahe-tenant=bench --concurrency=64
//   tahe_gateway_load --addr=127.0.0.1:50000 --target_name=gateway --bearer_file=key
//
//   # Set-up: the tenant's ledger (directly), then the gateway's directory and a client key.
//   tahe_gateway_load --mode=setup_ledger --addr=127.0.0.1:50051 --internal_token_file=token
//       --tenant=bench
//   tahe_gateway_load --mode=setup_gateway --addr=127.0.0.1:50000 --bearer_file=admin_key
//       --tenant=bench --ledger_addr=127.0.0.1:50051 --api_key_out=client_key
//
// --metadata KEY=VALUE may be repeated. Credentials come from files only (--bearer_file sends
// `authorization: Bearer <file contents>`, --internal_token_file `x-tahe-internal-token`), never
// from the command line, so --metadata refuses those two keys.
//
// Mode read prints one line for people, then one `RESULT mode=read target=... key=value ...`
// line for scripts. Exit status: 0 when everything succeeded, 1 when the run could not be made or
// any call failed (the RESULT line is printed first and says how many), 2 on a bad flag.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "libs/config/config.h"
#include "tests/bench/gateway_load_driver.h"

ABSL_FLAG(std::string, mode, "read",
          "read: the load; setup_ledger: the tenant's chart, period and entries (on the ledger); "
          "setup_gateway: region, organisation and a client API key (on the gateway)");
ABSL_FLAG(std::string, addr, "127.0.0.1:50051", "gRPC address host:port of the ledger or proxy");
ABSL_FLAG(std::string, target_name, "direct", "read: name of the target in the RESULT line");
ABSL_FLAG(std::vector<std::string>, metadata, {},
          "read: KEY=VALUE metadata of every call; repeat the flag for several");
ABSL_FLAG(std::string, bearer_file, "",
          "File holding an API key: read sends `authorization: Bearer <key>`; setup_gateway "
          "authenticates with it (role admin)");
ABSL_FLAG(std::string, internal_token_file, "",
          "File holding the internal credential: read sends it as x-tahe-internal-token; "
          "setup_ledger needs it");
ABSL_FLAG(int, concurrency, 64, "read: clients, each with one call in flight");
ABSL_FLAG(int, clients_per_channel, 8, "read: clients sharing one HTTP/2 connection");
ABSL_FLAG(double, duration_seconds, 10, "read: length of the measurement window");
ABSL_FLAG(double, warmup_seconds, 2, "read: load before the measurement window starts");
ABSL_FLAG(std::string, account, tahe::bench::kReadAccount, "read: the account whose balance");
ABSL_FLAG(std::string, latency_file, "",
          "read: also write the latency of every measured call (microseconds, one a line) here");
ABSL_FLAG(std::string, tenant, "bench", "setup_*: the organisation's slug (the ledger's tenant)");
ABSL_FLAG(int, entries, 2, "setup_ledger: entries posted on --account's side of the read");
ABSL_FLAG(std::string, region, "bench", "setup_gateway: slug of the region to create");
ABSL_FLAG(std::string, ledger_addr, "",
          "setup_gateway: the ledger's address as the gateway sees it");
ABSL_FLAG(std::string, business_id, "0135202-4", "setup_gateway: the organisation's Y-tunnus");
ABSL_FLAG(std::string, api_key_out, "",
          "setup_gateway: file (created with mode 0600) for the issued client API key");

using tahe::bench::Fail;

namespace {

constexpr char kMetadataFlag[] = "metadata";

// absl keeps only the last occurrence of a flag; --metadata may be repeated. Collects every
// `--metadata=V` / `--metadata V` and drops them from argv before absl parses the rest.
std::vector<std::string> TakeRepeatedFlag(int* argc, char** argv, const std::string& name) {
  std::vector<std::string> values;
  const std::string with_value = absl::StrCat("--", name, "=");
  const std::string bare = absl::StrCat("--", name);
  int out = 1;
  for (int i = 1; i < *argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--") {  // everything after it is positional
      while (i < *argc) {
        argv[out++] = argv[i++];
      }
      break;
    }
    if (absl::StartsWith(arg, "-") && !absl::StartsWith(arg, "--")) {
      arg = absl::StrCat("-", arg);  // absl accepts -flag as --flag
    }
    if (absl::StartsWith(arg, with_value)) {
      values.push_back(arg.substr(with_value.size()));
    } else if (arg == bare && i + 1 < *argc) {
      values.push_back(argv[++i]);
    } else {
      argv[out++] = argv[i];
    }
  }
  *argc = out;
  return values;
}

// "key=value" -> a metadata pair; the key as gRPC requires it (lower-case token characters).
absl::StatusOr<std::pair<std::string, std::string>> ParseMetadata(const std::string& item) {
  size_t eq = item.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == item.size()) {
    return absl::InvalidArgumentError(absl::StrCat("--metadata: KEY=VALUE, not '", item, "'"));
  }
  std::string key = item.substr(0, eq);
  for (char c : key) {
    if (!(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '-' || c == '_' || c == '.')) {
      return absl::InvalidArgumentError(
          absl::StrCat("--metadata: key '", key, "' must be lower-case [a-z0-9-_.]"));
    }
  }
  if (key == "authorization" || key == "x-tahe-internal-token") {
    return absl::InvalidArgumentError(absl::StrCat(
        "--metadata: ", key, " is a credential; use --bearer_file or --internal_token_file"));
  }
  return std::make_pair(std::move(key), item.substr(eq + 1));
}

// Creates (or truncates) `path` with mode 0600 and writes `secret` and a newline to it.
absl::Status WriteSecretFile(const std::string& path, const std::string& secret) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::UnavailableError(absl::StrCat(path, ": ", std::strerror(errno)));
  }
  std::string text = absl::StrCat(secret, "\n");
  bool ok = ::fchmod(fd, 0600) == 0 &&
            ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  int saved_errno = errno;
  ok = ::close(fd) == 0 && ok;
  if (!ok) {
    return absl::UnavailableError(absl::StrCat(path, ": ", std::strerror(saved_errno)));
  }
  return absl::OkStatus();
}

int RunRead() {
  tahe::bench::ReadLoadOptions options{
      .address = absl::GetFlag(FLAGS_addr),
      .account = absl::GetFlag(FLAGS_account),
      .concurrency = absl::GetFlag(FLAGS_concurrency),
      .clients_per_channel = absl::GetFlag(FLAGS_clients_per_channel),
      .warmup = absl::Seconds(absl::GetFlag(FLAGS_warmup_seconds)),
      .duration = absl::Seconds(absl::GetFlag(FLAGS_duration_seconds)),
      .keep_latencies = !absl::GetFlag(FLAGS_latency_file).empty()};
  for (const std::string& item : absl::GetFlag(FLAGS_metadata)) {
    absl::StatusOr<std::pair<std::string, std::string>> pair = ParseMetadata(item);
    tahe::config::ExitIfError(pair.status());
    options.metadata.push_back(*std::move(pair));
  }
  if (!absl::GetFlag(FLAGS_bearer_file).empty()) {
    absl::StatusOr<std::string> key =
        tahe::bench::ReadCredentialFile("--bearer_file", absl::GetFlag(FLAGS_bearer_file));
    tahe::config::ExitIfError(key.status());
    options.metadata.emplace_back("authorization", absl::StrCat("Bearer ", *key));
  }
  if (!absl::GetFlag(FLAGS_internal_token_file).empty()) {
    absl::StatusOr<std::string> token = tahe::bench::ReadCredentialFile(
        "--internal_token_file", absl::GetFlag(FLAGS_internal_token_file));
    tahe::config::ExitIfError(token.status());
    options.metadata.emplace_back("x-tahe-internal-token", *token);
  }

  absl::StatusOr<tahe::bench::ReadLoadResult> r = tahe::bench::RunReadLoad(options);
  if (!r.ok()) {
    return Fail(r.status());
  }
  const std::string target = absl::GetFlag(FLAGS_target_name);
  std::cout << tahe::bench::HumanLine(*r, target) << "\n"
            << tahe::bench::ResultLine(*r, target) << std::endl;
  if (options.keep_latencies) {
    std::ofstream out(absl::GetFlag(FLAGS_latency_file), std::ios::trunc);
    for (double us : r->latencies_us) {
      out << absl::StrFormat("%.1f\n", us);
    }
    out.close();
    if (!out) {
      return Fail(absl::UnavailableError(
          absl::StrCat("cannot write --latency_file ", absl::GetFlag(FLAGS_latency_file))));
    }
  }
  return r->errors == 0 ? 0 : 1;
}

int RunSetUpLedger() {
  absl::StatusOr<std::string> token = tahe::bench::ReadCredentialFile(
      "--internal_token_file", absl::GetFlag(FLAGS_internal_token_file));
  tahe::config::ExitIfError(token.status());
  tahe::config::ExitIfError(
      tahe::config::ValidateRange("--entries", absl::GetFlag(FLAGS_entries), 0, 10000));
  absl::Status s = tahe::bench::SetUpReadTenant({.address = absl::GetFlag(FLAGS_addr),
                                                 .tenant = absl::GetFlag(FLAGS_tenant),
                                                 .internal_token = *token},
                                                absl::GetFlag(FLAGS_entries));
  if (!s.ok()) {
    return Fail(s);
  }
  std::cout << "ledger tenant " << absl::GetFlag(FLAGS_tenant) << " set up" << std::endl;
  return 0;
}

int RunSetUpGateway() {
  absl::StatusOr<std::string> admin_key =
      tahe::bench::ReadCredentialFile("--bearer_file", absl::GetFlag(FLAGS_bearer_file));
  tahe::config::ExitIfError(admin_key.status());
  tahe::config::ExitIfError(
      tahe::config::ValidateHostPort("--ledger_addr", absl::GetFlag(FLAGS_ledger_addr)));
  tahe::config::ExitIfError(
      tahe::config::ValidateNonEmpty("--api_key_out", absl::GetFlag(FLAGS_api_key_out)));
  absl::StatusOr<std::string> key =
      tahe::bench::SetUpGatewayTenant({.gateway_address = absl::GetFlag(FLAGS_addr),
                                       .admin_api_key = *admin_key,
                                       .region = absl::GetFlag(FLAGS_region),
                                       .ledger_address = absl::GetFlag(FLAGS_ledger_addr),
                                       .organisation = absl::GetFlag(FLAGS_tenant),
                                       .business_id = absl::GetFlag(FLAGS_business_id)});
  if (!key.ok()) {
    return Fail(key.status());
  }
  if (absl::Status s = WriteSecretFile(absl::GetFlag(FLAGS_api_key_out), *key); !s.ok()) {
    return Fail(s);
  }
  std::cout << "gateway: region " << absl::GetFlag(FLAGS_region) << ", organisation "
            << absl::GetFlag(FLAGS_tenant) << ", client key written to "
            << absl::GetFlag(FLAGS_api_key_out) << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> metadata = TakeRepeatedFlag(&argc, argv, kMetadataFlag);
  tahe::bench::InitBenchBinary(argc, argv);
  absl::SetFlag(&FLAGS_metadata, metadata);

  const std::string mode = absl::GetFlag(FLAGS_mode);
  tahe::config::ExitIfError(tahe::config::ValidateHostPort("--addr", absl::GetFlag(FLAGS_addr)));
  if (mode == "read") {
    tahe::config::ExitIfError(
        tahe::config::ValidateRange("--concurrency", absl::GetFlag(FLAGS_concurrency), 1, 10000));
    tahe::config::ExitIfError(tahe::config::ValidateRange(
        "--clients_per_channel", absl::GetFlag(FLAGS_clients_per_channel), 1, 10000));
    if (absl::GetFlag(FLAGS_duration_seconds) <= 0 || absl::GetFlag(FLAGS_warmup_seconds) < 0) {
      tahe::config::DieOnBadConfig(
          absl::InvalidArgumentError("--duration_seconds must be > 0 and --warmup_seconds >= 0"));
    }
    return RunRead();
  }
  if (mode == "setup_ledger") {
    return RunSetUpLedger();
  }
  if (mode == "setup_gateway") {
    return RunSetUpGateway();
  }
  tahe::config::DieOnBadConfig(
      absl::InvalidArgumentError("--mode: read, setup_ledger or setup_gateway"));
}
