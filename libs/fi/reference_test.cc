// Tests of the national reference number and the RF creditor reference. Every example of
// finnish-rules.md §1-2 appears here (and the national references of the barcode table of §5).
// Derived cases:
//  - every single-digit substitution of a national reference (weights 7, 3, 1 are all coprime
//    with 10, so each changes the sum mod 10 and must be refused) and of an RF reference
//    (MOD 97-10 catches them all);
//  - the length limits on both sides: base 2/3 and 19/20 digits, reference 3/4 and 20/21 digits,
//    RF body 21/22 characters, counting leading zeros as the rules of §1 imply;
//  - RF check digits 01 and 99, which pass mod 97 when the computed digits are 98 and 02;
//  - a round trip base -> national -> RF -> national over a range of bases.
// Expected values not in finnish-rules.md were computed with an independent implementation.

#include "libs/fi/reference.h"

#include <catch2/catch.hpp>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace tahe::fi {
namespace {

using Catch::Matchers::Contains;

std::string NationalMessage(absl::string_view text) {
  return std::string(ParseNationalReference("reference", text).status().message());
}

std::string RfMessage(absl::string_view text) {
  return std::string(ParseRfReference("reference", text).status().message());
}

const std::vector<std::pair<const char*, const char*>> kNationalExamples = {
    {"123123", "1231234"},   {"1234", "12344"},     {"1000", "10003"}, {"23409678", "234096783"},
    {"1234567", "12345672"}, {"617435", "6174354"}, {"1111", "11112"}, {"123456", "1234561"},
};

TEST_CASE("national reference: the table of finnish-rules.md", "[reference]") {
  for (const auto& [base, reference] : kNationalExamples) {
    INFO(base);
    CHECK(MakeNationalReference(base).value() == reference);
    CHECK(NationalReferenceCheckDigit(base) == std::string(reference).back());
    CHECK(ParseNationalReference("reference", reference).value() == reference);
    CHECK(IsValidNationalReference(reference));
  }
  // The references of the barcode examples of §5.
  CHECK(IsValidNationalReference("12345 67907"));
  CHECK(IsValidNationalReference("11112"));
}

TEST_CASE("national reference: the invalid examples of finnish-rules.md", "[reference]") {
  CHECK(NationalMessage("12345673") == "reference: check digit does not match");
  CHECK_THAT(NationalMessage("123"), Contains("4-20 digits"));
  CHECK_THAT(NationalMessage("123456789012345678901"), Contains("4-20 digits"));
  CHECK_THAT(NationalMessage("1234567890123456789012"), Contains("4-20 digits"));
  CHECK_THAT(NationalMessage("1234-5"), Contains("only digits and spaces"));
  CHECK_THAT(NationalMessage("RF9811112"), Contains("only digits and spaces"));
  CHECK_THAT(NationalMessage("12344x"), Contains("only digits and spaces"));
  CHECK_THAT(NationalMessage(""), Contains("reference: required"));
  CHECK_THAT(NationalMessage(" "), Contains("reference: required"));
}

TEST_CASE("national reference: every single-digit error is caught", "[reference]") {
  const std::string valid = "12345678901234567894";
  REQUIRE(IsValidNationalReference(valid));
  for (size_t i = 0; i < valid.size(); ++i) {
    for (char c = '0'; c <= '9'; ++c) {
      if (c == valid[i] || (i == 0 && c == '0')) {
        continue;  // a leading zero is the same reference with fewer digits
      }
      std::string wrong = valid;
      wrong[i] = c;
      INFO(wrong);
      CHECK_FALSE(IsValidNationalReference(wrong));
    }
  }
}

TEST_CASE("national reference: spaces and leading zeros are dropped", "[reference]") {
  CHECK(ParseNationalReference("reference", "2340 96783").value() == "234096783");
  CHECK(ParseNationalReference("reference", "12 34561").value() == "1234561");
  // The machine-readable form pads with zeros to 20 digits.
  CHECK(ParseNationalReference("reference", "00000000000001234561").value() == "1234561");
  CHECK(ParseNationalReference("reference", " 0 12344\t").value() == "12344");
  // 21 digits as written is too long even if the extra one is a zero; "0123" has only the three
  // significant digits of "123" (base 12), which is too short.
  CHECK_THAT(NationalMessage("000000000000001234561"), Contains("4-20 digits"));
  CHECK_THAT(NationalMessage("0123"), Contains("4-20 digits"));
  CHECK_THAT(NationalMessage("0000"), Contains("4-20 digits"));
}

TEST_CASE("national reference: the length limits of the base", "[reference]") {
  CHECK(MakeNationalReference("100").value() == "1009");
  CHECK(MakeNationalReference("999").value() == "9991");
  CHECK(MakeNationalReference("1234567890123456789").value() == "12345678901234567894");
  CHECK(MakeNationalReference("0001234").value() == "12344");
  for (const char* bad :
       {"", "12", "012", "000", "12345678901234567890", "12a4", "12 34", "-123"}) {
    INFO(bad);
    absl::StatusOr<std::string> made = MakeNationalReference(bad);
    CHECK(made.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(std::string(made.status().message()), Contains("base: "));
  }
}

TEST_CASE("national reference: printed in groups of five from the right", "[reference]") {
  CHECK(FormatNationalReference("234096783") == "2340 96783");
  CHECK(FormatNationalReference("1234567907") == "12345 67907");
  CHECK(FormatNationalReference("1234561") == "12 34561");
  CHECK(FormatNationalReference("12344") == "12344");
  CHECK(FormatNationalReference("123445") == "1 23445");
  CHECK(FormatNationalReference("12345678901234567894") == "12345 67890 12345 67894");
  CHECK(FormatNationalReference("00000000000001234561") == "12 34561");
  CHECK(FormatNationalReference("12 34561") == "12 34561");
}

TEST_CASE("RF reference: the examples of finnish-rules.md", "[reference][rf]") {
  for (const char* rf : {"RF18539007547034", "RF9811112", "RF6810003", "RF0812344"}) {
    INFO(rf);
    CHECK(ParseRfReference("reference", rf).value() == rf);
    CHECK(IsValidRfReference(rf));
    std::string text = rf;
    CHECK(MakeRfReference(text.substr(4)).value() == rf);
  }
  CHECK(RfMessage("RF17539007547034") == "reference: check digits do not match");
  CHECK(ParseRfReference("reference", "RF18 5390 0754 7034").value() == "RF18539007547034");
  CHECK(ParseRfReference("reference", "rf98 11112").value() == "RF9811112");
}

TEST_CASE("RF reference: every single-character error is caught", "[reference][rf]") {
  const std::string valid = "RF18539007547034";
  for (size_t i = 2; i < valid.size(); ++i) {
    for (char c = '0'; c <= '9'; ++c) {
      if (c == valid[i]) {
        continue;
      }
      std::string wrong = valid;
      wrong[i] = c;
      INFO(wrong);
      CHECK_FALSE(IsValidRfReference(wrong));
    }
  }
}

TEST_CASE("RF reference: bodies of letters, and the length limits", "[reference][rf]") {
  CHECK(MakeRfReference("A").value() == "RF25A");
  CHECK(MakeRfReference("abcdefghijklmnopqrstu").value() == "RF95ABCDEFGHIJKLMNOPQRSTU");
  CHECK(IsValidRfReference("RF95ABCDEFGHIJKLMNOPQRSTU"));
  CHECK(MakeRfReference("1").value() == "RF741");
  CHECK(MakeRfReference("000000000000000000001").value() == "RF74000000000000000000001");
  for (const char* bad : {"", "  ", "ABCDEFGHIJKLMNOPQRSTUV", "12-34", "\xC3\xA4"}) {
    INFO(bad);
    absl::StatusOr<std::string> made = MakeRfReference(bad);
    CHECK(made.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(std::string(made.status().message()), Contains("body: "));
  }
  CHECK_THAT(RfMessage(""), Contains("reference: required"));
  CHECK_THAT(RfMessage("11112"), Contains("starts with RF"));
  CHECK_THAT(RfMessage("R"), Contains("starts with RF"));
  CHECK_THAT(RfMessage("RF98"), Contains("two check digits and 1-21"));
  CHECK_THAT(RfMessage("RFX811112"), Contains("two check digits and 1-21"));
  CHECK_THAT(RfMessage("RF95ABCDEFGHIJKLMNOPQRSTUV"), Contains("1-21 letters and digits"));
  CHECK_THAT(RfMessage("RF98-11112"), Contains("1-21 letters and digits"));
}

TEST_CASE("RF reference: check digits 00, 01 and 99 are refused even when mod 97 is 1",
          "[reference][rf]") {
  CHECK(MakeRfReference("1024").value() == "RF981024");
  CHECK(MakeRfReference("1006").value() == "RF021006");
  CHECK(RfMessage("RF011024") == "reference: check digits must be 02-98");
  CHECK(RfMessage("RF991006") == "reference: check digits must be 02-98");
  CHECK_FALSE(IsValidRfReference("RF001024"));
}

TEST_CASE("RF reference: printed in blocks of four", "[reference][rf]") {
  CHECK(FormatRfReference("RF18539007547034") == "RF18 5390 0754 7034");
  CHECK(FormatRfReference("RF9811112") == "RF98 1111 2");
  CHECK(FormatRfReference("rf98 11112") == "RF98 1111 2");
  CHECK(FormatRfReference("RF25A") == "RF25 A");
}

TEST_CASE("national <-> RF", "[reference][rf]") {
  const std::vector<std::pair<const char*, const char*>> pairs = {
      {"11112", "RF9811112"},     {"10003", "RF6810003"},
      {"12344", "RF0812344"},     {"234096783", "RF80234096783"},
      {"1234561", "RF341234561"}, {"12345678901234567894", "RF0912345678901234567894"},
  };
  for (const auto& [national, rf] : pairs) {
    INFO(national);
    CHECK(RfReferenceOfNational(national).value() == rf);
    CHECK(NationalReferenceOfRf(rf).value() == national);
  }
  CHECK(RfReferenceOfNational("000 11112").value() == "RF9811112");
  CHECK(RfReferenceOfNational("11113").status().code() == absl::StatusCode::kInvalidArgument);
  // A valid RF reference whose body is not a national reference: 53900754703 has check digit 7.
  absl::StatusOr<std::string> not_national = NationalReferenceOfRf("RF18539007547034");
  CHECK(not_national.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(not_national.status().message()),
             Contains("does not contain a valid national reference"));
  CHECK_FALSE(NationalReferenceOfRf("RF25A").ok());
  CHECK(NationalReferenceOfRf("RF17539007547034").status().message() ==
        "reference: check digits do not match");
}

TEST_CASE("reference round trip over many bases", "[reference]") {
  for (int base = 100; base < 200000; base += 7) {
    std::string national = MakeNationalReference(std::to_string(base)).value();
    std::string rf = RfReferenceOfNational(national).value();
    if (!IsValidNationalReference(national) || !IsValidRfReference(rf) ||
        NationalReferenceOfRf(rf).value() != national ||
        national.substr(0, national.size() - 1) != std::to_string(base)) {
      FAIL_CHECK(base);
    }
  }
}

}  // namespace
}  // namespace tahe::fi
