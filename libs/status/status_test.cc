#include "libs/status/status.h"

#include <catch2/catch.hpp>

namespace tahe {
namespace {

absl::StatusOr<int> Half(int n) {
  if (n % 2 != 0) {
    return absl::InvalidArgumentError("odd");
  }
  return n / 2;
}

absl::StatusOr<int> Quarter(int n) {
  ASSIGN_OR_RETURN(int half, Half(n));
  ASSIGN_OR_RETURN(int quarter, Half(half));
  return quarter;
}

absl::Status CheckEven(int n) {
  RETURN_IF_ERROR(Half(n).status());
  return absl::OkStatus();
}

TEST_CASE("ASSIGN_OR_RETURN passes values and propagates the first error") {
  REQUIRE(Quarter(8).value() == 2);
  auto odd = Quarter(6);
  REQUIRE(odd.status().code() == absl::StatusCode::kInvalidArgument);
  REQUIRE(odd.status().message() == "odd");
}

TEST_CASE("RETURN_IF_ERROR returns the error unchanged") {
  REQUIRE(CheckEven(4).ok());
  REQUIRE(CheckEven(5).code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("absl and grpc statuses convert both ways with code and message") {
  for (auto code : {absl::StatusCode::kInvalidArgument, absl::StatusCode::kNotFound,
                    absl::StatusCode::kAlreadyExists, absl::StatusCode::kFailedPrecondition,
                    absl::StatusCode::kPermissionDenied, absl::StatusCode::kUnauthenticated,
                    absl::StatusCode::kResourceExhausted, absl::StatusCode::kUnavailable,
                    absl::StatusCode::kInternal}) {
    absl::Status original(code, "boom");
    grpc::Status wire = ToGrpcStatus(original);
    REQUIRE(static_cast<int>(wire.error_code()) == static_cast<int>(code));
    REQUIRE(wire.error_message() == "boom");
    REQUIRE(FromGrpcStatus(wire) == original);
  }
  REQUIRE(ToGrpcStatus(absl::OkStatus()).ok());
}

TEST_CASE("InvalidField names the field and Annotate keeps the code") {
  absl::Status s = InvalidField("entry.lines[1].account", "unknown account 9999");
  REQUIRE(s.code() == absl::StatusCode::kInvalidArgument);
  REQUIRE(s.message() == "entry.lines[1].account: unknown account 9999");
  absl::Status a = Annotate(absl::NotFoundError("x"), "loading");
  REQUIRE(a.code() == absl::StatusCode::kNotFound);
  REQUIRE(a.message() == "loading: x");
  REQUIRE(CodeName(absl::StatusCode::kAlreadyExists) == "ALREADY_EXISTS");
}

TEST_CASE("messages sent to clients are capped at a character boundary") {
  const std::string short_message = "entry.lines[0].account: unknown account 9999";
  CHECK(ToGrpcStatus(absl::InvalidArgumentError(short_message)).error_message() == short_message);

  // "ä" is two bytes: an odd prefix puts the cut inside one.
  std::string huge = "number: \"x" + std::string(1, 'x');
  while (huge.size() < 3 * kMaxWireMessageBytes) huge += "\xC3\xA4";
  grpc::Status capped = ToGrpcStatus(absl::InvalidArgumentError(huge));
  CHECK(capped.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  const std::string& message = capped.error_message();
  CHECK(message.rfind("number: ", 0) == 0);
  CHECK(message.size() < kMaxWireMessageBytes + 40);
  const size_t kept = message.find("... (");
  REQUIRE(kept != std::string::npos);
  CHECK(kept <= kMaxWireMessageBytes);
  // The kept part ends after a whole character, and the count is what was dropped.
  CHECK(huge.compare(0, kept, message, 0, kept) == 0);
  CHECK((static_cast<unsigned char>(huge[kept]) & 0xC0) != 0x80);
  CHECK(message.substr(kept) == "... (" + std::to_string(huge.size() - kept) + " more bytes)");

  // Bytes that are not UTF-8 (all continuation bytes) do not eat the message: at most 3 go.
  const std::string binary = "reference: " + std::string(3 * kMaxWireMessageBytes, '\x80');
  const std::string cut = ToGrpcStatus(absl::InvalidArgumentError(binary)).error_message();
  CHECK(cut.rfind("reference: ", 0) == 0);
  CHECK(cut.find("... (") >= kMaxWireMessageBytes - 3);
}

}  // namespace
}  // namespace tahe
