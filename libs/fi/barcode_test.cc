// Tests of the bank virtual barcode. Every example of finnish-rules.md §5 appears here. Derived
// cases, each from one rule of §5: the amount at 0, 1 cent and 999 999.99 euros and just beyond
// (and negative); due dates at both ends of the two-digit year's century and just outside; a
// foreign or invalid IBAN; an RF reference with letters (the barcode has only digits); the
// longest national reference (20 digits) and RF body (21 digits), which fill their fields.

#include "libs/fi/barcode.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>

#include "absl/strings/match.h"
#include "libs/fi/reference.h"

namespace tahe::fi {
namespace {

using Catch::Matchers::Contains;

constexpr char kIban[] = "FI37 1590 3000 0007 76";

std::string MessageOf(absl::string_view iban, int64_t amount_cents, absl::string_view reference,
                      std::optional<absl::CivilDay> due_date) {
  absl::StatusOr<std::string> barcode = MakeVirtualBarcode(iban, amount_cents, reference, due_date);
  CHECK(barcode.status().code() == absl::StatusCode::kInvalidArgument);
  return std::string(barcode.status().message());
}

bool IsBarcode(const std::string& barcode) {
  return barcode.size() == 54 && barcode.find_first_not_of("0123456789") == std::string::npos;
}

TEST_CASE("barcode: the examples of finnish-rules.md", "[barcode]") {
  CHECK(MakeVirtualBarcode(kIban, 1225, "11112", absl::CivilDay(2016, 12, 21)).value() ==
        "437159030000007760000122500000000000000000011112161221");
  CHECK(MakeVirtualBarcode(kIban, 110, "RF98 11112", absl::CivilDay(2017, 1, 1)).value() ==
        "537159030000007760000011098000000000000000011112170101");
  CHECK(MakeVirtualBarcode(kIban, 0, "11112", std::nullopt).value() ==
        "437159030000007760000000000000000000000000011112000000");
  CHECK(MakeVirtualBarcode("FI49 5000 9420 0287 30", 10020, "12345 67907",
                           absl::CivilDay(2020, 12, 12))
            .value() == "449500094200287300001002000000000000001234567907201212");
}

TEST_CASE("barcode: the version follows the reference", "[barcode]") {
  std::string national =
      MakeVirtualBarcode("FI3715903000000776", 1225, "11112", std::nullopt).value();
  std::string rf = MakeVirtualBarcode("FI3715903000000776", 1225,
                                      RfReferenceOfNational("11112").value(), std::nullopt)
                       .value();
  CHECK(national[0] == '4');
  CHECK(rf[0] == '5');
  CHECK(national.substr(1, 24) == rf.substr(1, 24));
  CHECK(national.substr(25, 3) == "000");
  CHECK(rf.substr(25, 2) == "98");
  CHECK(MakeVirtualBarcode(kIban, 1225, "rf9811112", std::nullopt).value() == rf);
  // Leading zeros and spaces in the reference change nothing.
  CHECK(MakeVirtualBarcode(kIban, 1225, "000 11112", std::nullopt).value() == national);
}

TEST_CASE("barcode: amount limits", "[barcode]") {
  CHECK(MakeVirtualBarcode(kIban, 1, "11112", std::nullopt).value().substr(17, 8) == "00000001");
  CHECK(MakeVirtualBarcode(kIban, 100, "11112", std::nullopt).value().substr(17, 8) == "00000100");
  std::string largest =
      MakeVirtualBarcode(kIban, kMaxBarcodeAmountCents, "11112", std::nullopt).value();
  CHECK(largest.substr(17, 8) == "99999999");
  CHECK(IsBarcode(largest));
  CHECK(MessageOf(kIban, kMaxBarcodeAmountCents + 1, "11112", std::nullopt) ==
        "amount_cents: a virtual barcode holds at most 999999.99 euros");
  CHECK(MessageOf(kIban, std::numeric_limits<int64_t>::max(), "11112", std::nullopt) ==
        "amount_cents: a virtual barcode holds at most 999999.99 euros");
  CHECK(MessageOf(kIban, -1, "11112", std::nullopt) == "amount_cents: must not be negative");
  CHECK(MessageOf(kIban, std::numeric_limits<int64_t>::min(), "11112", std::nullopt) ==
        "amount_cents: must not be negative");
}

TEST_CASE("barcode: due dates in 2000-2099 only", "[barcode]") {
  CHECK(MakeVirtualBarcode(kIban, 0, "11112", absl::CivilDay(2000, 1, 1)).value().substr(48) ==
        "000101");
  CHECK(MakeVirtualBarcode(kIban, 0, "11112", absl::CivilDay(2099, 12, 31)).value().substr(48) ==
        "991231");
  CHECK(MakeVirtualBarcode(kIban, 0, "11112", absl::CivilDay(2024, 2, 29)).value().substr(48) ==
        "240229");
  CHECK_THAT(MessageOf(kIban, 0, "11112", absl::CivilDay(1999, 12, 31)),
             Contains("due_date: must be in 2000-2099"));
  CHECK_THAT(MessageOf(kIban, 0, "11112", absl::CivilDay(2100, 1, 1)),
             Contains("due_date: must be in 2000-2099"));
}

TEST_CASE("barcode: only a valid Finnish IBAN", "[barcode]") {
  CHECK(MessageOf("DE89370400440532013000", 100, "11112", std::nullopt) ==
        "iban: a virtual barcode takes only a Finnish (FI) IBAN");
  CHECK(MessageOf("FI3715903000000777", 100, "11112", std::nullopt) ==
        "iban: check digits do not match");
  CHECK_THAT(MessageOf("", 100, "11112", std::nullopt), Contains("iban: required"));
}

TEST_CASE("barcode: the reference must be valid and all digits", "[barcode]") {
  CHECK(MessageOf(kIban, 100, "11113", std::nullopt) == "reference: check digit does not match");
  CHECK(MessageOf(kIban, 100, "RF9711112", std::nullopt) == "reference: check digits do not match");
  CHECK_THAT(MessageOf(kIban, 100, "", std::nullopt), Contains("reference: required"));
  CHECK_THAT(MessageOf(kIban, 100, "RF25A", std::nullopt),
             Contains("reference: an RF reference with letters cannot go in a virtual barcode"));
  CHECK_THAT(MessageOf(kIban, 100, "123", std::nullopt), Contains("reference: "));
}

TEST_CASE("barcode: the longest references fill their fields", "[barcode]") {
  std::string national = "12345678901234567894";
  std::string v4 = MakeVirtualBarcode(kIban, 100, national, std::nullopt).value();
  CHECK(IsBarcode(v4));
  CHECK(v4.substr(25, 3) == "000");
  CHECK(v4.substr(28, 20) == national);
  std::string rf = MakeRfReference("123456789012345678901").value();
  std::string v5 = MakeVirtualBarcode(kIban, 100, rf, std::nullopt).value();
  CHECK(IsBarcode(v5));
  CHECK(v5.substr(25, 2) == rf.substr(2, 2));
  CHECK(v5.substr(27, 21) == "123456789012345678901");
}

}  // namespace
}  // namespace tahe::fi
