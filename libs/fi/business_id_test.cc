// Tests of the Y-tunnus rules. Every example of finnish-rules.md §4 appears here; the derived
// cases are: every wrong check digit of each valid ID (a single-digit error in C must always be
// caught), an ID whose weighted sum is 1 mod 11 (never issued, whatever its check digit), and the
// shapes a form field produces (missing or extra digits, no dash, spaces, the VAT form).

#include "libs/fi/business_id.h"

#include <catch2/catch.hpp>
#include <string>

#include "absl/strings/str_cat.h"

namespace tahe::fi {
namespace {

using Catch::Matchers::Contains;

constexpr const char* kValidIds[] = {"2077474-0", "0245904-2", "1032053-4", "2441631-8",
                                     "0196831-2"};

TEST_CASE("Y-tunnus: the examples of finnish-rules.md are valid", "[business_id]") {
  for (const char* id : kValidIds) {
    INFO(id);
    CHECK(IsValidBusinessId(id));
    CHECK(ValidateBusinessId("business_id", id).ok());
  }
}

TEST_CASE("Y-tunnus: the documented invalid example and every wrong check digit are invalid",
          "[business_id]") {
  CHECK_FALSE(IsValidBusinessId("2077474-1"));
  for (const char* id : kValidIds) {
    std::string valid = id;
    for (char c = '0'; c <= '9'; ++c) {
      std::string candidate = absl::StrCat(valid.substr(0, 8), std::string(1, c));
      INFO(candidate);
      CHECK(IsValidBusinessId(candidate) == (candidate == valid));
    }
  }
}

TEST_CASE("Y-tunnus: a weighted sum of 1 mod 11 is never issued", "[business_id]") {
  // 1000008: 1*7 + 8*2 = 23 = 2*11 + 1. 11 - 1 = 10 is not a digit, so no check digit exists.
  for (char c = '0'; c <= '9'; ++c) {
    CHECK_FALSE(IsValidBusinessId(absl::StrCat("1000008-", std::string(1, c))));
  }
}

TEST_CASE("Y-tunnus: malformed shapes are invalid", "[business_id]") {
  for (const char* bad : {"", "20774740", "2077474 0", "207747-0", "02077474-0", "2077474-",
                          "2077474-00", "20774a4-0", "2077474-x", "FI20774740", " 2077474-0",
                          "2077474-0 ", "2077474_0", "245904-2"}) {
    INFO(bad);
    CHECK_FALSE(IsValidBusinessId(bad));
  }
}

TEST_CASE("Y-tunnus: ValidateBusinessId names the field", "[business_id]") {
  absl::Status status = ValidateBusinessId("organisation.business_id", "2077474-1");
  CHECK(status.code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(status.message()), Contains("organisation.business_id: "));
  CHECK_THAT(std::string(status.message()), Contains("not a valid Y-tunnus"));
  absl::Status empty = ValidateBusinessId("business_id", "");
  CHECK(empty.code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(empty.message()), Contains("business_id: required"));
}

TEST_CASE("VAT number: FI and the eight digits, and back", "[business_id]") {
  CHECK(VatNumberOf("2077474-0").value() == "FI20774740");
  CHECK(VatNumberOf("0245904-2").value() == "FI02459042");
  for (const char* id : kValidIds) {
    INFO(id);
    std::string vat = VatNumberOf(id).value();
    CHECK(vat.size() == 10);
    CHECK(BusinessIdOfVatNumber(vat).value() == id);
  }
  absl::StatusOr<std::string> invalid = VatNumberOf("2077474-1");
  CHECK(invalid.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(invalid.status().message()), Contains("business_id: "));
  // Derived: a wrong check digit, the wrong case or country, a missing or extra digit, a dash.
  for (const char* bad :
       {"FI20774741", "fi20774740", "SE20774740", "FI2077474", "FI207747400", "FI2077474-0", ""}) {
    INFO(bad);
    absl::StatusOr<std::string> id = BusinessIdOfVatNumber(bad);
    CHECK(id.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(std::string(id.status().message()), Contains("vat_number: "));
  }
}

}  // namespace
}  // namespace tahe::fi
