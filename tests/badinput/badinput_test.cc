// Bad input through the gateway against the real suite (deploy/local/run.sh: two cells, the
// gateway, PostgreSQL, all as separate processes). This binary starts nothing:
// tests/badinput/badinput_test.sh starts the suite and exports its local.env (plus TAHE_LOCAL_DIR)
// before running it.
//
// Every method of every public service the gateway routes (ledger, payroll, invoicing,
// reporting) and of the gateway's own AdminService is driven generically from the protobuf
// descriptors over a generic stub (raw bytes, so invalid UTF-8 reaches the server): for each
// field reachable in the request, one request with that field set to a hostile value (huge,
// invalid UTF-8, SQL, control characters, NUL, -1 / min / max integers, unknown enum values,
// 100 000 repeated elements), plus the request without request_id, an unknown tenant, a tenant
// of the other region, hostile tenant headers and bad API keys. Then hand-written requests that
// are valid but for one hostile field. Every call must end with a code that means "clear error"
// (OK only for reads), INVALID_ARGUMENT must name a field, every database of both cells and the
// gateway's must be unchanged (fingerprinted over PostgreSQL's unix socket as the superuser),
// and every process must still be serving. The last cases store hostile text that is valid
// input (SQL in a name) and read it back byte for byte.
//
// The test cases share the suite and run in declaration order (badinput_test.sh passes
// --order decl); each run of the binary uses fresh request ids (a random nonce).

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "libs/status/status.h"
#include "pqxx/pqxx"
#include "tahe/gateway/v1/admin.grpc.pb.h"
#include "tahe/invoicing/v1/invoicing.grpc.pb.h"
#include "tahe/ledger/v1/ledger.grpc.pb.h"
#include "tahe/payroll/v1/payroll.grpc.pb.h"
#include "tahe/reporting/v1/reporting.grpc.pb.h"
#include "tests/e2e/suite_env.h"

namespace {

namespace pb = ::google::protobuf;
namespace admin_v1 = ::tahe::gateway::v1;
namespace ledger_v1 = ::tahe::ledger::v1;
namespace payroll_v1 = ::tahe::payroll::v1;
namespace invoicing_v1 = ::tahe::invoicing::v1;
namespace reporting_v1 = ::tahe::reporting::v1;

constexpr char kTenantHeader[] = "x-tahe-tenant";
constexpr char kTenant[] = "lahti";             // paijat-hame
constexpr char kOtherRegionTenant[] = "vaasa";  // pohjanmaa
constexpr char kRegion[] = "paijat-hame";
// Deadline of ordinary calls; server-streaming calls get kStreamDeadline, after which a stream
// that is still open and waiting for news (WatchEntries past the head) counts as "OPEN".
constexpr auto kCallDeadline = std::chrono::seconds(60);
constexpr auto kStreamDeadline = std::chrono::seconds(3);
constexpr size_t kMiB = 1 << 20;
constexpr int kManyElements = 100000;

// The hostile texts.
const std::string kSqlDrop = "'; DROP TABLE entries; --";
const std::string kSqlOr = "' OR '1'='1";
const std::string kControl = std::string("a\x01\x1b[2J\r\nb");
const std::string kNul = std::string("a\0b", 3);
// Stands in for invalid UTF-8 while the message is built: protobuf's serializer would complain
// about (or refuse) the real thing, so the marker is replaced in the serialized bytes by as many
// bytes of 0xC3 0x28 (a lead byte followed by a non-continuation byte), keeping every length.
const std::string kUtf8Marker = "@@BADUTF8@@!";
const std::string kInvalidUtf8 = [] {
  std::string s;
  while (s.size() < kUtf8Marker.size()) s += "\xC3\x28";
  return s;
}();

std::string CodeName(grpc::StatusCode code) {
  return tahe::CodeName(static_cast<absl::StatusCode>(code));
}

std::string Env(const char* name) {
  return tahe::e2e::SuiteEnv(name, "tests/badinput/badinput_test.sh");
}

using tahe::e2e::ReadFileTrimmed;

struct Suite {
  std::string gateway_addr;
  std::string operator_key;  // every role but admin, both regions
  std::string admin_key;     // the bootstrap key: admin only
  std::string region_key;    // issued in setup: every role, admin included, paijat-hame only
  std::string local_dir;
  std::string pg_port;
  std::string nonce;
  std::vector<std::pair<std::string, std::string>> backends;  // name -> address
};

Suite& TheSuite() {
  static Suite* suite = [] {
    auto* s = new Suite;
    s->gateway_addr = Env("TAHE_GATEWAY_ADDR");
    s->operator_key = Env("TAHE_API_KEY");
    s->admin_key = ReadFileTrimmed(Env("TAHE_ADMIN_API_KEY_FILE"));
    s->local_dir = Env("TAHE_LOCAL_DIR");
    s->pg_port = Env("TAHE_PG_PORT");
    for (const char* service : {"LEDGER", "PAYROLL", "INVOICING", "REPORTING"}) {
      for (const char* cell : {"PAIJAT_HAME", "POHJANMAA"}) {
        std::string var = absl::StrCat("TAHE_", service, "_ADDR_", cell);
        s->backends.emplace_back(absl::AsciiStrToLower(absl::StrCat(service, "-", cell)),
                                 Env(var.c_str()));
      }
    }
    std::random_device random;
    s->nonce = absl::StrFormat("%08x%08x", random(), random());
    return s;
  }();
  return *suite;
}

std::string NewRequestId() {
  static int counter = 0;
  return absl::StrCat("badinput-", TheSuite().nonce, "-", ++counter);
}

std::string OpenDate() {
  std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  return absl::StrFormat("%04d-01-15", local.tm_year + 1900);
}

// --- Generic calls -----------------------------------------------------------------------------

using Headers = std::vector<std::pair<std::string, std::string>>;

Headers Bearer(const std::string& key, const std::string& tenant = "") {
  Headers h{{"authorization", "Bearer " + key}};
  if (!tenant.empty()) {
    h.emplace_back(kTenantHeader, tenant);
  }
  return h;
}

std::shared_ptr<grpc::Channel> ChannelTo(const std::string& addr) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);
  args.SetMaxSendMessageSize(-1);
  return grpc::CreateCustomChannel(addr, grpc::InsecureChannelCredentials(), args);
}

std::shared_ptr<grpc::Channel> GatewayChannel() {
  static std::shared_ptr<grpc::Channel> channel = ChannelTo(TheSuite().gateway_addr);
  return channel;
}

struct Result {
  grpc::StatusCode code = grpc::StatusCode::UNKNOWN;
  std::string message;
  std::vector<std::string> responses;
  bool open = false;  // a server stream still open at kStreamDeadline

  std::string CodeLabel() const { return open ? "OPEN" : CodeName(code); }
};

// One call of `path` over `channel` as a generic stream: every message written, then the
// half-close, then every response read. Unary, client-, server- and bidi-streaming methods look
// the same on the wire.
Result GenericCall(const std::shared_ptr<grpc::Channel>& channel, const std::string& path,
                   const std::vector<std::string>& messages, const Headers& headers,
                   bool server_streaming = false) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() +
                   (server_streaming ? kStreamDeadline : kCallDeadline));
  for (const auto& [key, value] : headers) {
    ctx.AddMetadata(key, value);
  }
  grpc::CompletionQueue cq;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call = stub.PrepareCall(&ctx, path, &cq);
  void* tag = nullptr;
  bool ok = false;
  auto next = [&] {
    REQUIRE(cq.Next(&tag, &ok));
    return ok;
  };
  Result result;
  call->StartCall(&ctx);
  bool alive = next();
  for (size_t i = 0; alive && i < messages.size(); ++i) {
    grpc::Slice slice(messages[i]);
    grpc::ByteBuffer buffer(&slice, 1);
    call->Write(buffer, &ctx);
    alive = next();
  }
  if (alive) {
    call->WritesDone(&ctx);
    alive = next();
  }
  for (;;) {
    grpc::ByteBuffer buffer;
    call->Read(&buffer, &ctx);
    if (!next()) {
      break;
    }
    std::vector<grpc::Slice> slices;
    (void)buffer.Dump(&slices);
    std::string bytes;
    for (const grpc::Slice& s : slices) {
      bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
    result.responses.push_back(std::move(bytes));
  }
  grpc::Status status;
  call->Finish(&status, &ctx);
  next();
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  result.code = status.error_code();
  result.message = status.error_message();
  if (server_streaming && result.code == grpc::StatusCode::DEADLINE_EXCEEDED) {
    result.open = true;
  }
  return result;
}

std::string Serialize(const pb::Message& message) {
  std::string bytes;
  REQUIRE(message.SerializeToString(&bytes));
  size_t at = bytes.find(kUtf8Marker);
  if (at != std::string::npos) {
    bytes.replace(at, kUtf8Marker.size(), kInvalidUtf8);
    REQUIRE(bytes.find(kUtf8Marker) == std::string::npos);
  }
  return bytes;
}

// A typed unary call through the gateway (the setup and the hand-written cases).
template <typename Resp>
Result Unary(const std::string& path, const pb::Message& req, const Headers& headers,
             Resp* out = nullptr) {
  Result r = GenericCall(GatewayChannel(), path, {Serialize(req)}, headers);
  if (out != nullptr && r.code == grpc::StatusCode::OK) {
    REQUIRE(r.responses.size() == 1);
    REQUIRE(out->ParseFromString(r.responses[0]));
  }
  return r;
}

#define REQUIRE_OK(result)                                \
  do {                                                    \
    const Result& r_ = (result);                          \
    INFO("got " << r_.CodeLabel() << ": " << r_.message); \
    REQUIRE(r_.code == grpc::StatusCode::OK);             \
  } while (false)

// --- What a clear error is --------------------------------------------------------------------

const std::set<grpc::StatusCode>& ClearErrors() {
  static const std::set<grpc::StatusCode> codes = {
      grpc::StatusCode::INVALID_ARGUMENT,   grpc::StatusCode::FAILED_PRECONDITION,
      grpc::StatusCode::NOT_FOUND,          grpc::StatusCode::OUT_OF_RANGE,
      grpc::StatusCode::PERMISSION_DENIED,  grpc::StatusCode::UNAUTHENTICATED,
      grpc::StatusCode::RESOURCE_EXHAUSTED, grpc::StatusCode::ALREADY_EXISTS};
  return codes;
}

bool IsReadOnly(const pb::MethodDescriptor* method) {
  for (absl::string_view prefix : {"Get", "List", "Export", "Verify", "Watch", "Render"}) {
    if (absl::StartsWith(method->name(), prefix)) {
      return true;
    }
  }
  return false;
}

// Every field name of `type` and the messages below it.
void CollectFieldNames(const pb::Descriptor* type, std::set<std::string>* names, int depth = 0) {
  if (depth > 6) return;
  for (int i = 0; i < type->field_count(); ++i) {
    const pb::FieldDescriptor* f = type->field(i);
    names->insert(f->name());
    if (f->message_type() != nullptr) {
      CollectFieldNames(f->message_type(), names, depth + 1);
    }
  }
  for (int i = 0; i < type->oneof_decl_count(); ++i) {
    names->insert(type->oneof_decl(i)->name());
  }
}

// Whether an INVALID_ARGUMENT message names a field: "<path>: problem" where the path contains a
// field name of the request (or a metadata name), e.g. "entry.lines[2].account: unknown".
bool NamesField(const pb::MethodDescriptor* method, const std::string& message) {
  std::set<std::string> names = {kTenantHeader, "authorization"};
  if (method != nullptr) {
    CollectFieldNames(method->input_type(), &names);
  }
  for (const std::string& name : names) {
    // As a word: "name" delimited by non-identifier characters.
    size_t at = 0;
    while ((at = message.find(name, at)) != std::string::npos) {
      const bool left =
          at == 0 || !(absl::ascii_isalnum(message[at - 1]) || message[at - 1] == '_');
      const size_t end = at + name.size();
      const bool right =
          end == message.size() || !(absl::ascii_isalnum(message[end]) || message[end] == '_');
      if (left && right) return true;
      at = end;
    }
  }
  return false;
}

// --- Cases and their results -------------------------------------------------------------------

struct Case {
  const pb::MethodDescriptor* method = nullptr;
  std::string path;  // "/tahe.ledger.v1.LedgerService/PostEntry"
  std::string what;  // "entry.lines[0].account = 1 MiB"
  std::vector<std::string> messages;
  Headers headers;
  // If set: the only code accepted.
  std::optional<grpc::StatusCode> expect;
  // If not empty: an INVALID_ARGUMENT message must contain it.
  std::string expect_field;
  bool allow_ok = false;
};

struct MethodStats {
  int cases = 0;
  std::map<std::string, int> codes;
  int failures = 0;
  int known = 0;
};

std::map<std::string, MethodStats>& Stats() {
  static auto* stats = new std::map<std::string, MethodStats>;
  return *stats;
}

std::vector<std::string>& Findings() {
  static auto* findings = new std::vector<std::string>;
  return *findings;
}

// Known finding id -> the cases that showed it.
std::map<std::string, std::vector<std::string>>& Known() {
  static auto* known = new std::map<std::string, std::vector<std::string>>;
  return *known;
}

std::string Shorten(const std::string& text, size_t max = 200) {
  std::string s = absl::CHexEscape(text.substr(0, max));
  if (text.size() > max) absl::StrAppend(&s, "...(", text.size(), " bytes)");
  return s;
}

// An import (client stream) may answer OK with every row rejected: nothing accepted.
bool NothingAccepted(const Case& c, const Result& r) {
  if (c.method == nullptr || r.responses.size() != 1) return false;
  std::unique_ptr<pb::Message> resp(
      pb::MessageFactory::generated_factory()->GetPrototype(c.method->output_type())->New());
  if (!resp->ParseFromString(r.responses[0])) return false;
  const pb::Reflection* refl = resp->GetReflection();
  for (const char* name : {"accepted", "entries_posted", "entries_replayed", "lines_posted",
                           "lines_stored", "transactions"}) {
    const pb::FieldDescriptor* f = c.method->output_type()->FindFieldByName(name);
    if (f == nullptr) continue;
    const int64_t n = f->cpp_type() == pb::FieldDescriptor::CPPTYPE_INT64
                          ? refl->GetInt64(*resp, f)
                          : refl->GetInt32(*resp, f);
    if (n != 0) return false;
  }
  return true;
}

std::string ResponseText(const Case& c, const Result& r) {
  if (c.method == nullptr || r.responses.empty()) return "";
  std::unique_ptr<pb::Message> resp(
      pb::MessageFactory::generated_factory()->GetPrototype(c.method->output_type())->New());
  if (!resp->ParseFromString(r.responses[0])) return "(response does not parse)";
  return resp->ShortDebugString();
}

// Findings reported to the lead and not fixed here (see README.md "Known findings"): such a
// result is counted and listed as KNOWN, not failed. Returns the finding's id, or "".
std::string KnownFinding(const Case& c, const Result& r) {
  const bool unparseable = absl::StrContains(c.what, "invalid UTF-8") ||
                           absl::StrContains(c.what, "not a protobuf message");
  // K2: in a client stream, such a message reads as the end of the stream: the call ends OK with
  // what came before it (here: nothing).
  if (unparseable && c.method != nullptr && c.method->client_streaming() &&
      r.code == grpc::StatusCode::OK) {
    return "K2";
  }
  // K3: reporting answers min_sequence beyond the ledger's head with UNAVAILABLE ("retry"),
  // which a client retries for ever.
  if (absl::StrContains(c.what, "min_sequence = INT64_MAX") &&
      r.code == grpc::StatusCode::UNAVAILABLE && absl::StrContains(r.message, "min_sequence")) {
    return "K3";
  }
  return "";
}

// Why `r` is not a clear answer to `c`; empty if it is.
std::string Judge(const Case& c, const Result& r) {
  const bool server_streaming = c.method != nullptr && c.method->server_streaming();
  if (c.expect.has_value()) {
    if (r.open || r.code != *c.expect) {
      return absl::StrCat("want ", CodeName(*c.expect));
    }
  } else if (r.open) {
    if (!server_streaming || !IsReadOnly(c.method)) return "call did not end";
  } else if (r.code == grpc::StatusCode::OK) {
    const bool import = c.method != nullptr && c.method->client_streaming();
    if (!c.allow_ok && !(c.method != nullptr && IsReadOnly(c.method)) &&
        !(import && NothingAccepted(c, r))) {
      return "a mutating method accepted it";
    }
  } else if (ClearErrors().count(r.code) == 0) {
    return "not a clear error code";
  } else if (r.code == grpc::StatusCode::RESOURCE_EXHAUSTED &&
             absl::StrContains(r.message, "metadata size exceeds limit")) {
    // The answer's trailers were too big for the client: the error message quoted the input.
    return "error message too large for the trailers";
  }
  if (!r.open && r.code == grpc::StatusCode::INVALID_ARGUMENT) {
    if (!c.expect_field.empty()) {
      if (!absl::StrContains(r.message, c.expect_field)) {
        return absl::StrCat("message does not name ", c.expect_field);
      }
    } else if (!NamesField(c.method, r.message) &&
               // A request that does not parse at all (libs/server turns gRPC's UNIMPLEMENTED
               // into this): the whole request is the field.
               !absl::StartsWith(r.message, "request: not a valid ") &&
               !(c.method != nullptr && c.method->name() == "ImportPayments" &&
                 absl::StartsWith(r.message, "camt.054:"))) {
      // (A payment file's errors name the file and its line: the file is the field.)
      return "message names no field";
    }
  }
  return "";
}

// Runs `c`, records its code, and CHECKs it (every failing case is listed, the run goes on).
Result Run(const Case& c) {
  const bool server_streaming = c.method != nullptr && c.method->server_streaming();
  Result r = GenericCall(GatewayChannel(), c.path, c.messages, c.headers, server_streaming);
  MethodStats& stats = Stats()[c.path];
  ++stats.cases;
  ++stats.codes[r.CodeLabel()];
  std::string problem = Judge(c, r);
  const std::string known = KnownFinding(c, r);
  if (!known.empty()) {
    ++stats.known;
    Known()[known].push_back(absl::StrCat(c.path, " [", c.what, "] -> ", r.CodeLabel()));
    problem.clear();
  }
  if (!problem.empty()) {
    ++stats.failures;
    std::string finding =
        absl::StrCat(c.path, " [", c.what, "] -> ", r.CodeLabel(), ": \"", Shorten(r.message),
                     "\" (", problem, ") ", Shorten(ResponseText(c, r)));
    Findings().push_back(finding);
    UNSCOPED_INFO(finding);
  }
  CHECK(problem.empty());
  return r;
}

void PrintTable(std::ostream& out) {
  out << "\n| Method | Cases | Codes seen | Known findings | Not clear |\n|---|---|---|---|---|\n";
  int total = 0, failures = 0, known = 0;
  for (const auto& [path, stats] : Stats()) {
    std::vector<std::string> codes;
    for (const auto& [code, n] : stats.codes) codes.push_back(absl::StrCat(code, " ", n));
    out << "| `" << path.substr(1) << "` | " << stats.cases << " | " << absl::StrJoin(codes, ", ")
        << " | " << stats.known << " | " << stats.failures << " |\n";
    total += stats.cases;
    failures += stats.failures;
    known += stats.known;
  }
  out << "| **all " << Stats().size() << " methods** | " << total << " | | " << known << " | "
      << failures << " |\n\n";
  for (const auto& [id, cases] : Known()) {
    out << "known finding " << id << ": " << cases.size() << " cases, e.g. " << cases.front()
        << "\n";
  }
}

// --- Generating hostile requests from the descriptors --------------------------------------------

// One step of the way from the request to a field: the field, and for repeated fields the
// element (0: the first one, created when missing).
using FieldPath = std::vector<const pb::FieldDescriptor*>;

std::string PathName(const FieldPath& path) {
  std::string name;
  for (const pb::FieldDescriptor* f : path) {
    if (!name.empty()) name += ".";
    name += f->name();
    if (f->is_repeated() && f != path.back()) name += "[0]";
  }
  return name;
}

// The message holding the last field of `path`, creating the ones on the way.
pb::Message* Holder(pb::Message* root, const FieldPath& path) {
  pb::Message* m = root;
  for (size_t i = 0; i + 1 < path.size(); ++i) {
    const pb::FieldDescriptor* f = path[i];
    const pb::Reflection* refl = m->GetReflection();
    if (f->is_repeated()) {
      m = refl->FieldSize(*m, f) == 0 ? refl->AddMessage(m, f)
                                      : refl->MutableRepeatedMessage(m, f, 0);
    } else {
      m = refl->MutableMessage(m, f);
    }
  }
  return m;
}

struct Mutation {
  std::string label;
  std::function<void(pb::Message*, const pb::FieldDescriptor*)> apply;
};

void SetString(pb::Message* m, const pb::FieldDescriptor* f, const std::string& value) {
  const pb::Reflection* refl = m->GetReflection();
  if (f->is_repeated()) {
    refl->AddString(m, f, value);
  } else {
    refl->SetString(m, f, value);
  }
}

std::vector<Mutation> MutationsOf(const pb::FieldDescriptor* f, bool with_5mib) {
  std::vector<Mutation> out;
  auto text = [&](const std::string& label, std::string value) {
    out.push_back(
        {label, [value](pb::Message* m, const pb::FieldDescriptor* f) { SetString(m, f, value); }});
  };
  auto integer = [&](const std::string& label, int64_t value) {
    out.push_back(
        {label, [value](pb::Message* m, const pb::FieldDescriptor* f) {
           const pb::Reflection* refl = m->GetReflection();
           const bool wide = f->cpp_type() == pb::FieldDescriptor::CPPTYPE_INT64;
           if (f->is_repeated()) {
             wide ? refl->AddInt64(m, f, value) : refl->AddInt32(m, f, static_cast<int32_t>(value));
           } else {
             wide ? refl->SetInt64(m, f, value) : refl->SetInt32(m, f, static_cast<int32_t>(value));
           }
         }});
  };
  switch (f->cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_STRING:
      text("1 MiB of x", std::string(kMiB, 'x'));
      if (with_5mib) text("5 MiB of x", std::string(5 * kMiB, 'x'));
      text(f->type() == pb::FieldDescriptor::TYPE_BYTES ? "bytes C3 28" : "invalid UTF-8",
           kUtf8Marker);
      text("SQL drop", kSqlDrop);
      text("SQL or", kSqlOr);
      text("control characters", kControl);
      text("NUL", kNul);
      break;
    case pb::FieldDescriptor::CPPTYPE_INT64:
      integer("-1", -1);
      integer("INT64_MIN", INT64_MIN);
      integer("INT64_MAX", INT64_MAX);
      break;
    case pb::FieldDescriptor::CPPTYPE_INT32:
      integer("-1", -1);
      integer("INT32_MIN", INT32_MIN);
      integer("INT32_MAX", INT32_MAX);
      break;
    case pb::FieldDescriptor::CPPTYPE_ENUM:
      for (int value : {999, -7}) {
        out.push_back({absl::StrCat("unknown enum ", value),
                       [value](pb::Message* m, const pb::FieldDescriptor* f) {
                         const pb::Reflection* refl = m->GetReflection();
                         f->is_repeated() ? refl->AddEnumValue(m, f, value)
                                          : refl->SetEnumValue(m, f, value);
                       }});
      }
      break;
    case pb::FieldDescriptor::CPPTYPE_BOOL:
      out.push_back({"true", [](pb::Message* m, const pb::FieldDescriptor* f) {
                       if (f->is_repeated()) {
                         m->GetReflection()->AddBool(m, f, true);
                       } else {
                         m->GetReflection()->SetBool(m, f, true);
                       }
                     }});
      break;
    default:
      break;  // no double, float or unsigned fields in the requests
  }
  // Repeated fields of every kind: 100 000 elements.
  if (f->is_repeated()) {
    out.push_back({absl::StrCat(kManyElements, " elements"),
                   [](pb::Message* m, const pb::FieldDescriptor* f) {
                     const pb::Reflection* refl = m->GetReflection();
                     for (int i = 0; i < kManyElements; ++i) {
                       switch (f->cpp_type()) {
                         case pb::FieldDescriptor::CPPTYPE_MESSAGE:
                           refl->AddMessage(m, f);
                           break;
                         case pb::FieldDescriptor::CPPTYPE_STRING:
                           refl->AddString(m, f, absl::StrCat("x", i));
                           break;
                         case pb::FieldDescriptor::CPPTYPE_INT32:
                           refl->AddInt32(m, f, i);
                           break;
                         case pb::FieldDescriptor::CPPTYPE_INT64:
                           refl->AddInt64(m, f, i);
                           break;
                         case pb::FieldDescriptor::CPPTYPE_ENUM:
                           refl->AddEnumValue(m, f, 1);
                           break;
                         case pb::FieldDescriptor::CPPTYPE_BOOL:
                           refl->AddBool(m, f, true);
                           break;
                         default:
                           return;
                       }
                     }
                   }});
  }
  return out;
}

// Every field reachable from `type` (messages recursed into, repeated ones through element 0).
void CollectLeaves(const pb::Descriptor* type, FieldPath prefix, std::vector<FieldPath>* out,
                   int depth = 0) {
  if (depth > 5) return;
  for (int i = 0; i < type->field_count(); ++i) {
    const pb::FieldDescriptor* f = type->field(i);
    FieldPath path = prefix;
    path.push_back(f);
    if (f->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
      if (f->is_repeated()) out->push_back(path);  // for the 100 000 elements
      CollectLeaves(f->message_type(), path, out, depth + 1);
    } else {
      out->push_back(path);
    }
  }
}

struct Target {
  const pb::MethodDescriptor* method;
  std::string path;
  bool admin;  // the gateway's AdminService
};

std::vector<Target> Targets() {
  // Referencing a type of each file links its descriptors into the generated pool.
  std::vector<const pb::ServiceDescriptor*> services = {
      ledger_v1::PostEntryRequest::descriptor()->file()->FindServiceByName("LedgerService"),
      payroll_v1::Employee::descriptor()->file()->FindServiceByName("PayrollService"),
      invoicing_v1::Customer::descriptor()->file()->FindServiceByName("InvoicingService"),
      reporting_v1::ReportScope::descriptor()->file()->FindServiceByName("ReportingService"),
      admin_v1::Region::descriptor()->file()->FindServiceByName("AdminService"),
  };
  std::vector<Target> targets;
  for (const pb::ServiceDescriptor* service : services) {
    REQUIRE(service != nullptr);
    REQUIRE(pb::DescriptorPool::generated_pool()->FindServiceByName(service->full_name()) ==
            service);
    for (int i = 0; i < service->method_count(); ++i) {
      const pb::MethodDescriptor* m = service->method(i);
      // For the cell's own services only: refused to every key (the gateway's e2e test checks).
      if (m->full_name() == "tahe.ledger.v1.LedgerService.ListFeedTenants") continue;
      targets.push_back(Target{m, absl::StrCat("/", service->full_name(), "/", m->name()),
                               service->name() == "AdminService"});
    }
  }
  return targets;
}

// The request every mutation starts from: empty but for a fresh request_id (so that the mutated
// field, not the missing key, is what the service sees).
std::unique_ptr<pb::Message> BaseRequest(const pb::MethodDescriptor* method,
                                         bool with_request_id = true) {
  std::unique_ptr<pb::Message> m(
      pb::MessageFactory::generated_factory()->GetPrototype(method->input_type())->New());
  const pb::FieldDescriptor* id = method->input_type()->FindFieldByName("request_id");
  if (with_request_id && id != nullptr) {
    m->GetReflection()->SetString(m.get(), id, NewRequestId());
  }
  return m;
}

Headers HeadersFor(const Target& t) {
  return t.admin ? Bearer(TheSuite().admin_key) : Bearer(TheSuite().region_key, kTenant);
}

// --- Databases -----------------------------------------------------------------------------------

// database -> table -> "rows md5"
using Fingerprint = std::map<std::string, std::map<std::string, std::string>>;

std::string SuperuserConninfo(const std::string& db) {
  return absl::StrFormat("host=%s/pg port=%s user=tahe_admin dbname=%s connect_timeout=10",
                         TheSuite().local_dir, TheSuite().pg_port, db);
}

Fingerprint TakeFingerprint() {
  Fingerprint fp;
  std::vector<std::string> databases;
  {
    pqxx::connection conn(SuperuserConninfo("postgres"));
    pqxx::work tx(conn);
    for (const pqxx::row& row :
         tx.exec("SELECT datname FROM pg_database WHERE datname LIKE 'tahe\\_%' ORDER BY 1")) {
      databases.push_back(row[0].as<std::string>());
    }
  }
  REQUIRE(databases.size() == 9);  // 4 services x 2 cells + the gateway
  for (const std::string& db : databases) {
    pqxx::connection conn(SuperuserConninfo(db));
    pqxx::work tx(conn);
    std::vector<std::string> tables;
    for (const pqxx::row& row :
         tx.exec("SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                 "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY 1")) {
      tables.push_back(row[0].as<std::string>());
    }
    for (const std::string& table : tables) {
      pqxx::row row = tx.exec1(absl::StrCat(
          "SELECT count(*)::text || ' ' || md5(coalesce(string_agg(t::text, E'\\n' ORDER BY "
          "t::text), '')) FROM public.",
          tx.quote_name(table), " t"));
      fp[db][table] = row[0].as<std::string>();
    }
  }
  return fp;
}

// "db.table: before -> after" for every difference.
std::vector<std::string> Differences(const Fingerprint& before, const Fingerprint& after) {
  std::vector<std::string> out;
  for (const auto& [db, tables] : before) {
    auto it = after.find(db);
    if (it == after.end()) {
      out.push_back(absl::StrCat(db, ": gone"));
      continue;
    }
    for (const auto& [table, print] : tables) {
      auto t = it->second.find(table);
      if (t == it->second.end()) {
        out.push_back(absl::StrCat(db, ".", table, ": gone"));
      } else if (t->second != print) {
        out.push_back(absl::StrCat(db, ".", table, ": ", print, " -> ", t->second));
      }
    }
    for (const auto& [table, print] : it->second) {
      if (tables.count(table) == 0) out.push_back(absl::StrCat(db, ".", table, ": new"));
    }
  }
  return out;
}

Fingerprint& Before() {
  static auto* fp = new Fingerprint;
  return *fp;
}

// --- Health ----------------------------------------------------------------------------------

// grpc.health.v1.Health/Check with an empty request; SERVING is the response bytes 08 01.
bool Serving(const std::string& addr) {
  Result r = GenericCall(ChannelTo(addr), "/grpc.health.v1.Health/Check", {std::string()}, {});
  return r.code == grpc::StatusCode::OK && r.responses.size() == 1 &&
         r.responses[0] == std::string("\x08\x01", 2);
}

}  // namespace

// =================================================================================================

TEST_CASE("setup: a key of one region, invoicing settings, the databases fingerprinted") {
  Suite& suite = TheSuite();
  // A key with every role, admin included, for paijat-hame only: LoadRateTable and
  // SetReferenceRate need admin, and vaasa (pohjanmaa) is then a tenant of the other region.
  admin_v1::IssueApiKeyRequest issue;
  issue.set_request_id(NewRequestId());
  issue.set_description("badinput region key");
  for (const char* role : {"admin", "ledger.read", "ledger.write", "payroll.run", "payroll.admin",
                           "invoicing.write", "reports.read", "reports.write"}) {
    issue.add_roles(role);
  }
  issue.add_regions(kRegion);
  admin_v1::IssueApiKeyResponse issued;
  REQUIRE_OK(
      Unary("/tahe.gateway.v1.AdminService/IssueApiKey", issue, Bearer(suite.admin_key), &issued));
  suite.region_key = issued.api_key();

  // Invoicing settings and one customer of lahti, so that invoices get past "no settings".
  invoicing_v1::SetInvoicingSettingsRequest settings;
  settings.set_request_id(NewRequestId());
  auto* s = settings.mutable_settings();
  s->set_seller_name("Lahden kaupunki");
  s->set_business_id("0135202-4");
  s->mutable_address()->set_street("Harjukatu 31");
  s->mutable_address()->set_postal_code("15100");
  s->mutable_address()->set_city("Lahti");
  s->set_iban("FI2112345600000785");
  s->set_reference_prefix("12");
  s->set_reminder_fee_cents(500);
  // The key's organisation list is empty: every call names its tenant.
  for (int attempt = 0;; ++attempt) {
    // The gateway reloads its snapshot after IssueApiKey; allow it a moment anyway.
    Result r = Unary<invoicing_v1::InvoicingSettings>(
        "/tahe.invoicing.v1.InvoicingService/SetInvoicingSettings", settings,
        Bearer(suite.region_key, kTenant));
    if (r.code == grpc::StatusCode::OK) break;
    INFO("got " << r.CodeLabel() << ": " << r.message);
    REQUIRE(attempt < 20);
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  invoicing_v1::UpsertCustomerRequest customer;
  customer.set_request_id(NewRequestId());
  auto* c = customer.mutable_customer();
  c->set_customer_number("BAD-ORG");
  c->set_kind(invoicing_v1::CUSTOMER_KIND_ORGANISATION);
  c->set_name("Päijät-Hämeen hyvinvointialue");
  c->set_business_id("3221318-2");
  c->mutable_address()->set_street("Keskussairaalankatu 7");
  c->mutable_address()->set_postal_code("15850");
  c->mutable_address()->set_city("Lahti");
  c->set_delivery_channel(invoicing_v1::DELIVERY_CHANNEL_PAPER);
  REQUIRE_OK(Unary<invoicing_v1::Customer>("/tahe.invoicing.v1.InvoicingService/UpsertCustomer",
                                           customer, Bearer(suite.region_key, kTenant)));

  // Let background work settle (reporting following the feed, outbox relays), then check that
  // two fingerprints a few seconds apart agree: the comparison at the end is then meaningful.
  Fingerprint first;
  for (int attempt = 0;; ++attempt) {
    first = TakeFingerprint();
    std::this_thread::sleep_for(std::chrono::seconds(3));
    Before() = TakeFingerprint();
    std::vector<std::string> moving = Differences(first, Before());
    if (moving.empty()) break;
    INFO("still changing: " << absl::StrJoin(moving, "; "));
    REQUIRE(attempt < 10);
  }
  size_t tables = 0;
  for (const auto& [db, t] : Before()) tables += t.size();
  std::cout << "badinput: fingerprinted " << Before().size() << " databases, " << tables
            << " tables\n";
}

TEST_CASE("every method with every field hostile ends with a clear error") {
  const Suite& suite = TheSuite();
  for (const Target& t : Targets()) {
    const pb::MethodDescriptor* m = t.method;
    const Headers headers = HeadersFor(t);
    auto base_case = [&](std::string what) {
      Case c;
      c.method = m;
      c.path = t.path;
      c.what = std::move(what);
      c.headers = headers;
      return c;
    };

    // The empty request (request_id set): reads answer, writes refuse.
    {
      Case c = base_case("empty request");
      c.messages = {Serialize(*BaseRequest(m))};
      // Valid when empty: the default chart template (accounts already there are left alone).
      // Valid when empty, and writing: the default chart template (accounts already there are
      // left alone), a reminder round as of today, the default payroll settings, the default
      // statement mapping. Not sent.
      for (absl::string_view valid :
           {"LoadChartTemplate", "RunReminderRound", "SetPayrollSettings", "SetStatementMapping"}) {
        if (m->name() == valid) c.allow_ok = true;
      }
      if (!c.allow_ok) Run(c);
    }
    // Without request_id.
    if (m->input_type()->FindFieldByName("request_id") != nullptr) {
      Case c = base_case("request_id missing");
      c.messages = {Serialize(*BaseRequest(m, false))};
      Run(c);
      // Not a protobuf message at all.
      Case garbage = base_case("not a protobuf message");
      garbage.messages = {std::string("\xff\xff\xff\xff\x0f", 5)};
      Run(garbage);
    }

    // Every field, one at a time.
    std::vector<FieldPath> leaves;
    CollectLeaves(m->input_type(), {}, &leaves);
    bool first_string = true;
    for (const FieldPath& leaf : leaves) {
      const pb::FieldDescriptor* f = leaf.back();
      if (leaf.size() == 1 && f->name() == "request_id") {
        // The key itself: hostile values are refused naming it.
        for (const std::string& value :
             {std::string(kMiB, 'x'), kSqlOr, kControl, kNul, kUtf8Marker}) {
          auto req = BaseRequest(m);
          req->GetReflection()->SetString(req.get(), f, value);
          Case c = base_case(absl::StrCat(
              "request_id = ", value == kUtf8Marker ? "invalid UTF-8" : Shorten(value, 16)));
          c.messages = {Serialize(*req)};
          Run(c);
        }
        continue;
      }
      const bool with_5mib = first_string && f->cpp_type() == pb::FieldDescriptor::CPPTYPE_STRING;
      if (with_5mib) first_string = false;
      for (const Mutation& mutation : MutationsOf(f, with_5mib)) {
        if (f->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE &&
            !absl::EndsWith(mutation.label, "elements")) {
          continue;
        }
        // Valid input of a method that is valid when empty (so these would be stored): SQL in
        // the debtor's name (stored verbatim like any name) and the output-only updated_at
        // (ignored).
        if (m->name() == "SetPayrollSettings" &&
            (f->name() == "updated_at" ||
             (f->name() == "debtor_name" && absl::StartsWith(mutation.label, "SQL")))) {
          continue;
        }
        auto req = BaseRequest(m);
        mutation.apply(Holder(req.get(), leaf), f);
        Case c = base_case(absl::StrCat(PathName(leaf), " = ", mutation.label));
        c.messages = {Serialize(*req)};
        Run(c);
      }
    }

    // Who is calling: keys and tenants.
    const std::string empty = Serialize(*BaseRequest(m));
    auto identity_case = [&](std::string what, Headers h, grpc::StatusCode want) {
      Case c = base_case(std::move(what));
      c.headers = std::move(h);
      c.messages = {empty};
      c.expect = want;
      Run(c);
    };
    identity_case("no API key", {}, grpc::StatusCode::UNAUTHENTICATED);
    identity_case("API key of SQL", {{"authorization", "Bearer tahe_x'; DROP TABLE api_keys; --"}},
                  grpc::StatusCode::UNAUTHENTICATED);
    identity_case("API key of 2 KiB",
                  {{"authorization", "Bearer tahe_" + std::string(2048, 'a') + "_b"}},
                  grpc::StatusCode::UNAUTHENTICATED);
    if (t.admin) {
      identity_case("operator key on the admin API", Bearer(suite.operator_key),
                    grpc::StatusCode::PERMISSION_DENIED);
    } else {
      identity_case("unknown tenant", Bearer(suite.region_key, "no-such-organisation"),
                    grpc::StatusCode::PERMISSION_DENIED);
      identity_case("tenant of the other region", Bearer(suite.region_key, kOtherRegionTenant),
                    grpc::StatusCode::PERMISSION_DENIED);
      identity_case("unknown tenant, operator key", Bearer(suite.operator_key, "nosuchorg"),
                    grpc::StatusCode::PERMISSION_DENIED);
      for (const std::string& tenant :
           {kSqlOr, std::string("lahti'; DROP TABLE entries; --"), std::string(4096, 'a'),
            std::string("LAHTI"), std::string("lahti,vaasa")}) {
        Case c = base_case(absl::StrCat("tenant header ", Shorten(tenant, 24)));
        c.headers = Bearer(suite.region_key, tenant);
        c.messages = {empty};
        Run(c);
      }
      // Two tenant headers: the gateway must not pick one of them silently.
      Case two = base_case("two tenant headers");
      two.headers = Bearer(suite.region_key, kTenant);
      two.headers.emplace_back(kTenantHeader, kOtherRegionTenant);
      two.messages = {empty};
      Run(two);
    }
  }
  // Over the message size limit (64 MiB) once per service: RESOURCE_EXHAUSTED, nothing crashes.
  for (const auto& [path, field] : std::vector<std::pair<std::string, std::string>>{
           {"/tahe.ledger.v1.LedgerService/CreateAccount", "request_id"},
           {"/tahe.payroll.v1.PayrollService/UpsertEmployee", "request_id"},
           {"/tahe.invoicing.v1.InvoicingService/UpsertCustomer", "request_id"},
           {"/tahe.reporting.v1.ReportingService/UploadBudget", "request_id"},
           {"/tahe.gateway.v1.AdminService/CreateRegion", "request_id"}}) {
    const pb::MethodDescriptor* m = pb::DescriptorPool::generated_pool()->FindMethodByName(
        absl::StrReplaceAll(path.substr(1), {{"/", "."}}));
    REQUIRE(m != nullptr);
    auto req = BaseRequest(m);
    req->GetReflection()->SetString(req.get(), m->input_type()->FindFieldByName(field),
                                    std::string(65 * kMiB, 'x'));
    Case c;
    c.method = m;
    c.path = path;
    c.what = "65 MiB request_id (over the 64 MiB limit)";
    c.headers = absl::StartsWith(path, "/tahe.gateway") ? Bearer(suite.admin_key)
                                                        : Bearer(suite.region_key, kTenant);
    c.messages = {Serialize(*req)};
    Run(c);
  }
}

// --- Hand-written: valid but for one hostile field ------------------------------------------

namespace {

ledger_v1::PostEntryRequest Entry(const std::vector<std::pair<std::string, int64_t>>& lines,
                                  const std::string& description = "badinput") {
  ledger_v1::PostEntryRequest req;
  req.set_request_id(NewRequestId());
  auto* e = req.mutable_entry();
  e->set_entry_date(OpenDate());
  e->set_description(description);
  e->mutable_source()->set_system("badinput");
  e->mutable_source()->set_reference(req.request_id());
  for (const auto& [account, cents] : lines) {
    auto* line = e->add_lines();
    line->set_account(account);
    line->mutable_amount()->set_amount_minor(cents);
    line->mutable_amount()->set_currency_code("EUR");
  }
  return req;
}

// A hand-written case: must be refused (a clear error, never OK), INVALID_ARGUMENT naming
// `field` when given.
void Refused(const std::string& path, const std::string& what, const pb::Message& req,
             const std::string& field, bool admin = false) {
  Case c;
  c.method = pb::DescriptorPool::generated_pool()->FindMethodByName(
      absl::StrReplaceAll(path.substr(1), {{"/", "."}}));
  REQUIRE(c.method != nullptr);
  c.path = path;
  c.what = absl::StrCat("hand-written: ", what);
  c.headers = admin ? Bearer(TheSuite().admin_key) : Bearer(TheSuite().region_key, kTenant);
  c.messages = {Serialize(req)};
  c.expect_field = field;
  Result r = Run(c);
  CHECK(r.code != grpc::StatusCode::OK);
}

constexpr char kPostEntry[] = "/tahe.ledger.v1.LedgerService/PostEntry";
constexpr char kCreateInvoice[] = "/tahe.invoicing.v1.InvoicingService/CreateInvoice";

}  // namespace

TEST_CASE("valid requests but for one hostile field are refused naming it") {
  REQUIRE_FALSE(TheSuite().region_key.empty());
  // Amounts that balance only when the sum wraps around: INT64_MAX + 1 + INT64_MIN is 0 in
  // mathematics too, but INT64_MAX + 1 overflows on the way; INT64_MIN + INT64_MIN wraps to 0.
  Refused(kPostEntry, "lines INT64_MAX, 1, INT64_MIN",
          Entry({{"1910", INT64_MAX}, {"1910", 1}, {"3000", INT64_MIN}}), "entry.lines");
  Refused(kPostEntry, "lines INT64_MIN, INT64_MIN",
          Entry({{"1910", INT64_MIN}, {"3000", INT64_MIN}}), "entry.lines");
  Refused(
      kPostEntry, "lines INT64_MAX, INT64_MAX, INT64_MIN, INT64_MIN + 2",
      Entry(
          {{"1910", INT64_MAX}, {"1910", INT64_MAX}, {"3000", INT64_MIN}, {"3000", INT64_MIN + 2}}),
      "entry.lines");
  Refused(kPostEntry, "a zero line", Entry({{"1910", 100}, {"3000", -100}, {"3000", 0}}),
          "entry.lines[2]");
  {
    ledger_v1::PostEntryRequest req = Entry({{"1910", 100}, {"3000", -100}});
    req.mutable_entry()->mutable_lines(0)->set_account("1910' OR '1'='1");
    Refused(kPostEntry, "account of SQL", req, "entry.lines[0].account");
  }
  {
    ledger_v1::PostEntryRequest req = Entry({{"1910", 100}, {"3000", -100}});
    for (auto& line : *req.mutable_entry()->mutable_lines()) {
      line.mutable_amount()->set_currency_code("EUR'; DROP TABLE entries; --");
    }
    Refused(kPostEntry, "currency of SQL", req, "currency_code");
  }
  {
    ledger_v1::PostEntryRequest req = Entry({{"1910", 100}, {"3000", -100}});
    req.mutable_entry()->set_entry_date("2026-02-30");
    Refused(kPostEntry, "entry_date 2026-02-30", req, "entry.entry_date");
  }
  {
    ledger_v1::PostEntryRequest req = Entry({{"1910", 100}, {"3000", -100}});
    (*req.mutable_entry()->mutable_lines(0)->mutable_dimensions())["cost_centre'; --"] = "100";
    Refused(kPostEntry, "dimension key of SQL", req, "entry.lines[0].dimensions");
  }
  {
    ledger_v1::PostEntryRequest req = Entry({{"1910", 100}, {"3000", -100}});
    req.mutable_entry()->set_description(std::string(kMiB, 'x'));
    Refused(kPostEntry, "description of 1 MiB", req, "entry.description");
  }
  {
    ledger_v1::PostEntryRequest req = Entry({{"1910", 100}, {"3000", -100}});
    req.mutable_entry()->set_description(kControl);
    Refused(kPostEntry, "description with control characters", req, "entry.description");
  }

  // Invoices: prices and quantities whose product or sum overflows.
  auto invoice = [](int64_t price, int64_t quantity_milli, int lines) {
    invoicing_v1::CreateInvoiceRequest req;
    req.set_request_id(NewRequestId());
    auto* in = req.mutable_invoice();
    in->set_customer_number("BAD-ORG");
    in->set_delivery_date(OpenDate());
    for (int i = 0; i < lines; ++i) {
      auto* line = in->add_lines();
      line->set_description("badinput");
      line->set_unit("kpl");
      line->set_has_unit_price(true);
      line->set_unit_price_cents(price);
      line->set_vat_category(invoicing_v1::VAT_CATEGORY_GENERAL);
      line->set_quantity_milli(quantity_milli);
    }
    return req;
  };
  Refused(kCreateInvoice, "unit price and quantity INT64_MAX", invoice(INT64_MAX, INT64_MAX, 1),
          "invoice.lines[0]");
  Refused(kCreateInvoice, "unit price INT64_MIN", invoice(INT64_MIN, 1000, 1), "invoice.lines[0]");
  Refused(kCreateInvoice, "two lines whose sum overflows", invoice(INT64_MAX / 2 + 1, 1000, 2),
          "invoice.lines");

  // Reporting: a budget month that is no month; a range backwards.
  {
    reporting_v1::UploadBudgetRequest req;
    req.set_request_id(NewRequestId());
    req.set_budget("badinput");
    auto* line = req.add_lines();
    line->set_account("4400");
    line->set_cost_centre("100");
    line->set_month("2026-13");
    line->set_amount_minor(100);
    Refused("/tahe.reporting.v1.ReportingService/UploadBudget", "month 2026-13", req,
            "lines[0].month");
    line->set_month("2026-01");
    line->set_account("4400'; DROP TABLE budget_lines; --");
    Refused("/tahe.reporting.v1.ReportingService/UploadBudget", "account of SQL", req,
            "lines[0].account");
  }
  {
    reporting_v1::GetTrialBalanceRequest req;
    req.mutable_scope()->set_from_date("2026-12-31");
    req.mutable_scope()->set_to_date("2026-01-01");
    Refused("/tahe.reporting.v1.ReportingService/GetTrialBalance", "to_date before from_date", req,
            "scope");
  }

  // The admin API.
  {
    admin_v1::IssueApiKeyRequest req;
    req.set_request_id(NewRequestId());
    req.set_description("badinput");
    req.add_roles("admin' OR '1'='1");
    req.add_organisations(kTenant);
    Refused("/tahe.gateway.v1.AdminService/IssueApiKey", "role of SQL", req, "roles", true);
  }
  {
    admin_v1::CreateOrganisationRequest req;
    req.set_request_id(NewRequestId());
    req.mutable_organisation()->set_slug("x'; DROP TABLE organisations; --");
    req.mutable_organisation()->set_name("Badinput");
    req.mutable_organisation()->set_business_id("0135202-4");
    req.mutable_organisation()->set_region(kRegion);
    Refused("/tahe.gateway.v1.AdminService/CreateOrganisation", "slug of SQL", req,
            "organisation.slug", true);
  }
  {
    admin_v1::CreateRegionRequest req;
    req.set_request_id(NewRequestId());
    req.mutable_region()->set_slug("badinput");
    req.mutable_region()->set_name("Badinput");
    (*req.mutable_region()->mutable_service_addresses())["tahe.ledger.v1"] = "127.0.0.1:99999";
    Refused("/tahe.gateway.v1.AdminService/CreateRegion", "port 99999", req, "service_addresses",
            true);
  }
}

TEST_CASE("the databases are unchanged by the refused calls") {
  REQUIRE_FALSE(Before().empty());
  std::vector<std::string> changed = Differences(Before(), TakeFingerprint());
  for (const std::string& d : changed) {
    std::cout << "badinput: database changed: " << d << "\n";
  }
  CHECK(changed.empty());
}

TEST_CASE("hostile text that is valid input is stored and read back byte for byte") {
  const Suite& suite = TheSuite();
  const Headers lahti = Bearer(suite.region_key, kTenant);
  const std::string sql_name = "Robert'); DROP TABLE customers; -- ' OR '1'='1 Äö€";

  invoicing_v1::UpsertCustomerRequest customer;
  customer.set_request_id(NewRequestId());
  auto* c = customer.mutable_customer();
  c->set_customer_number("BAD-SQL");
  c->set_kind(invoicing_v1::CUSTOMER_KIND_ORGANISATION);
  c->set_name(sql_name);
  c->set_business_id("3221318-2");
  c->mutable_address()->set_street("'; DELETE FROM invoices; --");
  c->mutable_address()->set_postal_code("15850");
  c->mutable_address()->set_city("Lahti");
  c->set_delivery_channel(invoicing_v1::DELIVERY_CHANNEL_PAPER);
  REQUIRE_OK(Unary<invoicing_v1::Customer>("/tahe.invoicing.v1.InvoicingService/UpsertCustomer",
                                           customer, lahti));
  invoicing_v1::GetCustomerRequest get_customer;
  get_customer.set_customer_number("BAD-SQL");
  invoicing_v1::Customer stored;
  REQUIRE_OK(
      Unary("/tahe.invoicing.v1.InvoicingService/GetCustomer", get_customer, lahti, &stored));
  CHECK(stored.name() == sql_name);
  CHECK(stored.address().street() == "'; DELETE FROM invoices; --");

  ledger_v1::PostEntryRequest entry = Entry({{"1910", 123}, {"3000", -123}}, sql_name);
  ledger_v1::PostEntryResponse posted;
  REQUIRE_OK(Unary(kPostEntry, entry, lahti, &posted));
  ledger_v1::GetEntryRequest get_entry;
  get_entry.set_sequence(posted.entry().sequence());
  ledger_v1::Entry read;
  REQUIRE_OK(Unary("/tahe.ledger.v1.LedgerService/GetEntry", get_entry, lahti, &read));
  CHECK(read.description() == sql_name);

  // An entry of 100 000 lines: refused with a clear error, or posted whole.
  std::vector<std::pair<std::string, int64_t>> lines;
  for (int i = 0; i < kManyElements / 2; ++i) {
    lines.emplace_back("1910", 1);
    lines.emplace_back("3000", -1);
  }
  {
    Case big;
    big.method = pb::DescriptorPool::generated_pool()->FindMethodByName(
        "tahe.ledger.v1.LedgerService.PostEntry");
    big.path = kPostEntry;
    big.what = "hand-written: an entry of 100 000 lines";
    big.headers = lahti;
    big.messages = {Serialize(Entry(lines))};
    big.allow_ok = true;
    Result r = Run(big);
    std::cout << "badinput: an entry of 100 000 lines: " << r.CodeLabel() << " " << r.message
              << "\n";
    if (r.code == grpc::StatusCode::OK) {
      ledger_v1::PostEntryResponse big_posted;
      REQUIRE(big_posted.ParseFromString(r.responses[0]));
      get_entry.set_sequence(big_posted.entry().sequence());
      REQUIRE_OK(Unary("/tahe.ledger.v1.LedgerService/GetEntry", get_entry, lahti, &read));
      CHECK(read.lines_size() == kManyElements);
    }
  }
  ledger_v1::VerifyChainResponse chain;
  REQUIRE_OK(Unary("/tahe.ledger.v1.LedgerService/VerifyChain", ledger_v1::VerifyChainRequest(),
                   lahti, &chain));
  CHECK(chain.ok());

  // An organisation named in SQL, in the gateway's directory.
  std::mt19937 random(std::random_device{}());
  std::string business_id;
  for (;;) {
    std::string digits = absl::StrFormat("%07d", random() % 10000000);
    const int weights[] = {7, 9, 10, 5, 8, 4, 2};
    int sum = 0;
    for (int i = 0; i < 7; ++i) sum += (digits[i] - '0') * weights[i];
    const int rest = sum % 11;
    if (rest == 1) continue;
    business_id = absl::StrCat(digits, "-", rest == 0 ? 0 : 11 - rest);
    break;
  }
  admin_v1::CreateOrganisationRequest org;
  org.set_request_id(NewRequestId());
  org.mutable_organisation()->set_slug(absl::StrCat("bad-", suite.nonce));
  org.mutable_organisation()->set_name(sql_name);
  org.mutable_organisation()->set_business_id(business_id);
  org.mutable_organisation()->set_region(kRegion);
  REQUIRE_OK(Unary<admin_v1::Organisation>("/tahe.gateway.v1.AdminService/CreateOrganisation", org,
                                           Bearer(suite.admin_key)));
  admin_v1::ListOrganisationsResponse orgs;
  REQUIRE_OK(Unary("/tahe.gateway.v1.AdminService/ListOrganisations",
                   admin_v1::ListOrganisationsRequest(), Bearer(suite.admin_key), &orgs));
  bool found = false;
  for (const admin_v1::Organisation& o : orgs.organisations()) {
    if (o.slug() == org.organisation().slug()) {
      found = true;
      CHECK(o.name() == sql_name);
    }
  }
  CHECK(found);

  // No table was dropped and no row deleted anywhere.
  Fingerprint after = TakeFingerprint();
  for (const auto& [db, tables] : Before()) {
    for (const auto& [table, print] : tables) {
      INFO(db << "." << table);
      REQUIRE(after[db].count(table) == 1);
      const int64_t rows_before = std::stoll(print.substr(0, print.find(' ')));
      const int64_t rows_after = std::stoll(after[db][table].substr(0, after[db][table].find(' ')));
      CHECK(rows_after >= rows_before);
    }
  }
}

TEST_CASE("every process is still serving") {
  const Suite& suite = TheSuite();
  CHECK(Serving(suite.gateway_addr));
  for (const auto& [name, addr] : suite.backends) {
    INFO(name << " at " << addr);
    CHECK(Serving(addr));
  }
  // And none of them exited (a crashed process would not answer above either).
  for (const auto& entry : std::filesystem::directory_iterator(suite.local_dir + "/run")) {
    if (entry.path().extension() != ".pid" || entry.path().stem() == "launcher") continue;
    int pid = std::stoi(ReadFileTrimmed(entry.path().string()));
    INFO(entry.path().stem().string() << " pid " << pid);
    CHECK(kill(pid, 0) == 0);
  }
  PrintTable(std::cout);
  std::cout << "badinput: " << Findings().size() << " calls without a clear answer\n";
  for (const std::string& f : Findings()) std::cout << "  " << f << "\n";
}
