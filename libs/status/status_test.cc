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

}  // namespace
}  // namespace tahe
