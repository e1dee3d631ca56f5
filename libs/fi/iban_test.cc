// Tests of IBAN validation, printing and the Finnish BIC list. Every example of
// finnish-rules.md §3 appears here. Derived cases:
//  - every single-digit substitution and every adjacent transposition of a valid Finnish IBAN
//    (ISO 7064 MOD 97-10 catches all of them, so each must be refused);
//  - check digits 01 and 99, which pass mod 97 when the computed digits are 98 and 02 but are
//    never issued, and 00;
//  - the SWIFT IBAN registry's example IBAN of several SEPA countries, and each one's length
//    one character short or long;
//  - bank prefixes at both ends of each range of the BIC list and just outside them, with
//    IBANs built by FinnishIban() below (check digits computed independently of iban.cc).

#include "libs/fi/iban.h"

#include <catch2/catch.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace tahe::fi {
namespace {

using Catch::Matchers::Contains;

// "FI" + check digits + `bban` (14 digits): 98 - (bban "FI00" as digits) mod 97, in 128 bits.
std::string FinnishIban(const std::string& bban) {
  unsigned __int128 number = 0;
  for (char c : bban + "151800") {  // F = 15, I = 18, then the check digits 00
    number = number * 10 + static_cast<unsigned>(c - '0');
  }
  int check = 98 - static_cast<int>(number % 97);
  return absl::StrFormat("FI%02d%s", check, bban);
}

std::string MessageOf(absl::string_view text) {
  return std::string(ParseIban("iban", text).status().message());
}

TEST_CASE("IBAN: the valid examples of finnish-rules.md", "[iban]") {
  for (const char* iban :
       {"FI2112345600000785", "FI5542345670000081", "FI5279988090000425", "FI4447327139000428",
        "FI9639585330009437", "FI5367749940003546", "FI3715903000000776"}) {
    INFO(iban);
    CHECK(ParseIban("iban", iban).value() == iban);
    CHECK(IsValidIban(iban));
    CHECK(ValidateIban("iban", iban).ok());
    CHECK(ParseIban("iban", FormatIban(iban)).value() == iban);
  }
}

TEST_CASE("IBAN: the invalid examples of finnish-rules.md, each with its reason", "[iban]") {
  CHECK(MessageOf("FI2112345600000786") == "iban: check digits do not match");
  CHECK(MessageOf("FI2212345600000785") == "iban: check digits do not match");
  CHECK(MessageOf("FI527998809OOOO425") == "iban: a Finnish IBAN has only digits after FI");
  CHECK(ParseIban("iban", "FI2112345600000786").status().code() ==
        absl::StatusCode::kInvalidArgument);
}

TEST_CASE("IBAN: every single-digit error and adjacent transposition is caught", "[iban]") {
  const std::string valid = "FI2112345600000785";
  for (size_t i = 2; i < valid.size(); ++i) {
    for (char c = '0'; c <= '9'; ++c) {
      if (c == valid[i]) {
        continue;
      }
      std::string wrong = valid;
      wrong[i] = c;
      INFO(wrong);
      CHECK_FALSE(IsValidIban(wrong));
    }
    if (i + 1 < valid.size() && valid[i] != valid[i + 1]) {
      std::string swapped = valid;
      std::swap(swapped[i], swapped[i + 1]);
      INFO(swapped);
      CHECK_FALSE(IsValidIban(swapped));
    }
  }
}

TEST_CASE("IBAN: check digits 00, 01 and 99 are refused even when mod 97 is 1", "[iban]") {
  // FI9810000000000075 and FI0210000000000057 are valid; 01 = 98 - 97 and 99 = 2 + 97 leave the
  // remainder unchanged.
  CHECK(IsValidIban("FI9810000000000075"));
  CHECK(IsValidIban("FI0210000000000057"));
  CHECK(MessageOf("FI0110000000000075") == "iban: check digits must be 02-98");
  CHECK(MessageOf("FI9910000000000057") == "iban: check digits must be 02-98");
  CHECK_FALSE(IsValidIban("FI0010000000000075"));
}

TEST_CASE("IBAN: spaces and lower case are normalised, print groups of four", "[iban]") {
  CHECK(NormalizeIban(" fi21 1234 5600 0007 85\t") == "FI2112345600000785");
  CHECK(ParseIban("iban", "fi21 1234 5600 0007 85").value() == "FI2112345600000785");
  CHECK(ParseIban("iban", "FI21\n12345600000785").value() == "FI2112345600000785");
  CHECK(FormatIban("FI2112345600000785") == "FI21 1234 5600 0007 85");
  CHECK(FormatIban("fi21 1234 5600 0007 85") == "FI21 1234 5600 0007 85");
  CHECK(FormatIban("NO9386011117947") == "NO93 8601 1117 947");
  CHECK(FormatIban("MT84MALT011000012345MTLCAST001S") == "MT84 MALT 0110 0001 2345 MTLC AST0 01S");
  CHECK(FormatIban("BE68539007547034") == "BE68 5390 0754 7034");
  CHECK(FormatIban("") == "");
}

TEST_CASE("IBAN: other SEPA countries, with their registry lengths", "[iban]") {
  for (const char* iban :
       {"DE89370400440532013000", "GB29NWBK60161331926819", "NL91ABNA0417164300",
        "BE68539007547034", "FR1420041010050500013M02606", "SE4550000000058398257466",
        "NO9386011117947", "MT84MALT011000012345MTLCAST001S", "CH9300762011623852957",
        "AT611904300234573201", "EE382200221020145685", "DK5000400440116243",
        "ES9121000418450200051332", "IT60X0542811101000000123456",
        "PL61109010140000071219812874"}) {
    INFO(iban);
    CHECK(IsValidIban(iban));
    std::string text = iban;
    CHECK(IbanLengthOf(text.substr(0, 2)) == static_cast<int>(text.size()));
    CHECK_THAT(MessageOf(text.substr(0, text.size() - 1)),
               Contains(absl::StrCat("a ", text.substr(0, 2), " IBAN has ", text.size(),
                                     " characters, not ", text.size() - 1)));
    CHECK_FALSE(IsValidIban(text + "0"));
  }
  CHECK(IbanLengthOf("FI") == 18);
  CHECK(IbanLengthOf("NO") == 15);
  CHECK(IbanLengthOf("MT") == 31);
  CHECK_FALSE(IbanLengthOf("US").has_value());
  CHECK_FALSE(IbanLengthOf("fi").has_value());
  CHECK_FALSE(IbanLengthOf("").has_value());
}

TEST_CASE("IBAN: malformed text says what is wrong, never quoting the IBAN", "[iban]") {
  struct Case {
    const char* text;
    const char* problem;
  };
  const Case cases[] = {
      {"", "iban: required"},
      {"   ", "iban: required"},
      {"FI21-1234-5600-0007-85", "iban: may contain only letters, digits and spaces"},
      {"FI21 1234 5600 0007 8\xC3\xA4", "iban: may contain only letters, digits and spaces"},
      {"FI", "iban: must start with a two-letter country code and two check digits"},
      {"FI2", "iban: must start with a two-letter country code and two check digits"},
      {"21FI12345600000785", "iban: must start with a two-letter country code and two check"},
      {"FIX112345600000785", "iban: must start with a two-letter country code and two check"},
      {"US64SVBKUS6S3300958879", "iban: country US is not a SEPA IBAN country"},
      {"XX2112345600000785", "iban: country XX is not a SEPA IBAN country"},
      {"FI211234560000078", "iban: a FI IBAN has 18 characters, not 17"},
      {"FI21123456000007850", "iban: a FI IBAN has 18 characters, not 19"},
      {"FI21", "iban: a FI IBAN has 18 characters, not 4"},
      {"FI21123456000007A5", "iban: a Finnish IBAN has only digits after FI"},
  };
  for (const Case& c : cases) {
    INFO(c.text);
    absl::Status status = ValidateIban("iban", c.text);
    CHECK(status.code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(std::string(status.message()), Contains(c.problem));
    CHECK_FALSE(IsValidIban(c.text));
  }
  absl::Status status = ValidateIban("employee.iban", "FI2112345600000786");
  CHECK(std::string(status.message()) == "employee.iban: check digits do not match");
  CHECK_FALSE(absl::StrContains(status.message(), "12345600000786"));
}

TEST_CASE("BIC: the banks of the examples of finnish-rules.md", "[iban][bic]") {
  const std::vector<std::pair<const char*, const char*>> cases = {
      {"FI2112345600000785", "NDEAFIHH"},  // 1
      {"FI5542345670000081", "ITELFIHH"},  // 423, a savings bank
      {"FI5279988090000425", "HOLVFIHH"},  // 799
      {"FI4447327139000428", "POPFFI22"},  // 473
      {"FI9639585330009437", "SBANFIHH"},  // 39
      {"FI5367749940003546", "AABAFI22"},  // 6
      {"FI3715903000000776", "NDEAFIHH"},  // 1
      {"fi37 1590 3000 0007 76", "NDEAFIHH"},
  };
  for (const auto& [iban, bic] : cases) {
    INFO(iban);
    absl::StatusOr<std::optional<std::string>> found = BicOf("iban", iban);
    REQUIRE(found.ok());
    CHECK(found->value_or("(none)") == bic);
  }
}

TEST_CASE("BIC: longest matching prefix, range ends, and unknown prefixes", "[iban][bic]") {
  // The prefix, and the BIC, or "" for a prefix that is on no list.
  const std::vector<std::pair<const char*, const char*>> cases = {
      {"1", "NDEAFIHH"},
      {"2", "NDEAFIHH"},
      {"33", "ESSEFIHX"},
      {"34", "DABAFIHH"},
      {"8", "DABAFIHH"},
      {"36", "SBANFIHH"},
      {"39", "SBANFIHH"},
      {"399", "SBANFIHH"},
      {"37", "DNBAFIHX"},
      {"405", "HELSFIHH"},
      {"497", "HELSFIHH"},
      {"470", "POPFFI22"},
      {"479", "POPFFI22"},
      {"5", "OKOYFIHH"},
      {"6", "AABAFI22"},
      {"713", "CITIFIHX"},
      {"714", "EVSEFIHH"},
      {"717", "BIGKFIH1"},
      {"718", "UASNFIH2"},
      {"799", "HOLVFIHH"},
      // Savings banks: both ends of every range.
      {"400", "ITELFIHH"},
      {"402", "ITELFIHH"},
      {"403", "ITELFIHH"},
      {"406", "ITELFIHH"},
      {"408", "ITELFIHH"},
      {"410", "ITELFIHH"},
      {"412", "ITELFIHH"},
      {"414", "ITELFIHH"},
      {"421", "ITELFIHH"},
      {"423", "ITELFIHH"},
      {"432", "ITELFIHH"},
      {"435", "ITELFIHH"},
      {"452", "ITELFIHH"},
      {"454", "ITELFIHH"},
      {"464", "ITELFIHH"},
      {"483", "ITELFIHH"},
      {"493", "ITELFIHH"},
      {"495", "ITELFIHH"},
      {"496", "ITELFIHH"},
      {"715", "ITELFIHH"},
      // Just outside the ranges, and prefixes on no list.
      {"401", ""},
      {"404", ""},
      {"409", ""},
      {"413", ""},
      {"422", ""},
      {"433", ""},
      {"434", ""},
      {"453", ""},
      {"465", ""},
      {"469", ""},
      {"480", ""},
      {"482", ""},
      {"494", ""},
      {"498", ""},
      {"499", ""},
      {"700", ""},
      {"712", ""},
      {"716", ""},
      {"719", ""},
      {"798", ""},
      {"0", ""},
      {"9", ""},
      {"30", ""},
      {"31", ""},
      {"32", ""},
      {"35", ""},
      {"38", ""},
  };
  for (const auto& [prefix, bic] : cases) {
    std::string bban = prefix;
    bban.resize(14, '0');
    std::string iban = FinnishIban(bban);
    INFO(iban);
    absl::StatusOr<std::optional<std::string>> found = BicOf("iban", iban);
    REQUIRE(found.ok());
    CHECK(found->value_or("") == bic);
  }
}

TEST_CASE("BIC: unknown for a foreign IBAN, an error for an invalid one", "[iban][bic]") {
  absl::StatusOr<std::optional<std::string>> foreign = BicOf("iban", "DE89370400440532013000");
  REQUIRE(foreign.ok());
  CHECK_FALSE(foreign->has_value());
  absl::StatusOr<std::optional<std::string>> invalid = BicOf("payee.iban", "FI2112345600000786");
  CHECK(invalid.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(std::string(invalid.status().message()) == "payee.iban: check digits do not match");
}

}  // namespace
}  // namespace tahe::fi
