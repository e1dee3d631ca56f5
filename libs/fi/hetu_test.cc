// Tests of the personal identity code and its keyed hash. Every example of finnish-rules.md §4
// appears here. Derived cases, each from one rule of §4:
//  - every century sign, and every character that is not one;
//  - every DDMM of one year in each century, against a days-in-month table written here with
//    the Gregorian leap rule (so 29.2.1900 is refused, 29.2.1896 and 29.2.2000 accepted);
//  - every individual number 000-999 of one date (000 and 001 refused, 900-999 temporary),
//    with the check character from a second, independent implementation below;
//  - every wrong check character;
//  - that no error message contains the input, or depends on it beyond the rule broken.
// The HMAC vectors are RFC 4231 test case 6 and values computed with `openssl dgst -hmac`.

#include "libs/fi/hetu.h"

#include <catch2/catch.hpp>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace tahe::fi {
namespace {

using Catch::Matchers::Contains;

// The check character of DDMMYY + ZZZ, computed independently of hetu.cc.
char OracleCheck(int ddmmyy, int individual) {
  static const char kTable[] = "0123456789ABCDEFHJKLMNPRSTUVWXY";
  long long number = static_cast<long long>(ddmmyy) * 1000 + individual;
  return kTable[number % 31];
}

std::string Code(int day, int month, int yy, char sign, int individual) {
  int ddmmyy = day * 10000 + month * 100 + yy;
  return absl::StrFormat("%06d%c%03d%c", ddmmyy, sign, individual, OracleCheck(ddmmyy, individual));
}

bool IsLeap(int year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

int DaysIn(int year, int month) {
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && IsLeap(year) ? 29 : kDays[month - 1];
}

TEST_CASE("hetu: the valid examples of finnish-rules.md", "[hetu]") {
  struct Case {
    const char* code;
    absl::CivilDay birth_date;
    bool temporary;
  };
  const Case cases[] = {
      {"131052-308T", absl::CivilDay(1952, 10, 13), false},
      {"131052A308T", absl::CivilDay(2052, 10, 13), false},
      {"010594Y9032", absl::CivilDay(1994, 5, 1), true},
      {"020594X903P", absl::CivilDay(1994, 5, 2), true},
      {"010516B903X", absl::CivilDay(2016, 5, 1), true},
      {"020516C903K", absl::CivilDay(2016, 5, 2), true},
  };
  for (const Case& c : cases) {
    INFO(c.code);
    absl::StatusOr<PersonalIdentityCode> parsed = ParsePersonalIdentityCode("hetu", c.code);
    REQUIRE(parsed.ok());
    CHECK(parsed->code == c.code);
    CHECK(parsed->birth_date == c.birth_date);
    CHECK(parsed->temporary == c.temporary);
    CHECK(IsValidPersonalIdentityCode(c.code));
    CHECK(IsValidPersonalIdentityCode(c.code, TemporaryCodes::kReject) == !c.temporary);
  }
}

TEST_CASE("hetu: the invalid examples of finnish-rules.md, each for its own reason", "[hetu]") {
  struct Case {
    const char* code;
    const char* reason;
  };
  const Case cases[] = {
      {"131052-308U", "hetu: check character does not match"},
      {"131052/308T", "hetu: unknown century sign"},
      {"310252-308Y", "hetu: the birth date does not exist"},
      {"131052-000V", "hetu: individual number must be 002-899"},
  };
  for (const Case& c : cases) {
    INFO(c.code);
    absl::StatusOr<PersonalIdentityCode> parsed = ParsePersonalIdentityCode("hetu", c.code);
    CHECK(parsed.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(std::string(parsed.status().message()), Contains(c.reason));
    CHECK_FALSE(IsValidPersonalIdentityCode(c.code));
  }
}

TEST_CASE("hetu: every century sign maps to its century, nothing else is a sign", "[hetu]") {
  const std::map<char, int> centuries = {
      {'+', 1800}, {'-', 1900}, {'Y', 1900}, {'X', 1900}, {'W', 1900}, {'V', 1900}, {'U', 1900},
      {'A', 2000}, {'B', 2000}, {'C', 2000}, {'D', 2000}, {'E', 2000}, {'F', 2000}};
  for (int byte = 1; byte < 256; ++byte) {
    char sign = static_cast<char>(byte);
    std::string code = Code(13, 10, 52, sign, 308);
    INFO(code);
    absl::StatusOr<PersonalIdentityCode> parsed = ParsePersonalIdentityCode("hetu", code);
    // Lower-case signs are upper-cased first.
    char upper = sign >= 'a' && sign <= 'z' ? static_cast<char>(sign - 'a' + 'A') : sign;
    auto it = centuries.find(upper);
    if (it == centuries.end()) {
      CHECK_FALSE(parsed.ok());
    } else {
      REQUIRE(parsed.ok());
      CHECK(parsed->birth_date == absl::CivilDay(it->second + 52, 10, 13));
      CHECK(parsed->code[6] == upper);
    }
  }
}

TEST_CASE("hetu: the date must exist, with the Gregorian leap rule", "[hetu]") {
  // yy 00 of 1900 (not leap), 2000 (leap) and 1800 (not leap); yy 96 of 1896 (leap); yy 23 of
  // 2023 (not leap); every DD and MM from 00 to 99.
  const std::vector<std::pair<int, char>> years = {{1900, '-'}, {2000, 'A'}, {1800, '+'},
                                                   {1896, '+'}, {2023, 'B'}, {1999, 'U'}};
  for (const auto& [year, sign] : years) {
    int accepted = 0;
    for (int month = 0; month <= 99; ++month) {
      for (int day = 0; day <= 99; ++day) {
        std::string code = Code(day, month, year % 100, sign, 2);
        bool exists = month >= 1 && month <= 12 && day >= 1 && day <= DaysIn(year, month);
        absl::StatusOr<PersonalIdentityCode> parsed = ParsePersonalIdentityCode("hetu", code);
        if (parsed.ok() != exists) {
          FAIL_CHECK(code);
        }
        if (exists && parsed.ok()) {
          ++accepted;
          if (parsed->birth_date != absl::CivilDay(year, month, day)) {
            FAIL_CHECK(code);
          }
        } else if (!parsed.ok() &&
                   !absl::StrContains(parsed.status().message(), "birth date does not exist")) {
          FAIL_CHECK(code << ": " << parsed.status().message());
        }
      }
    }
    INFO(year);
    CHECK(accepted == (IsLeap(year) ? 366 : 365));
  }
  CHECK_FALSE(IsValidPersonalIdentityCode(Code(29, 2, 0, '-', 2)));  // 1900
  CHECK(IsValidPersonalIdentityCode(Code(29, 2, 0, 'A', 2)));        // 2000
  CHECK(IsValidPersonalIdentityCode(Code(29, 2, 96, '+', 2)));       // 1896
  CHECK(IsValidPersonalIdentityCode("290200A002C"));                 // from an independent tool
  CHECK(IsValidPersonalIdentityCode("290296+0025"));
  CHECK(IsValidPersonalIdentityCode("311299+8997"));  // the last day of the 1800s
  CHECK(IsValidPersonalIdentityCode("010100A002H"));  // the first day of the 2000s
}

TEST_CASE("hetu: individual numbers 002-899 are permanent, 900-999 temporary", "[hetu]") {
  for (int individual = 0; individual <= 999; ++individual) {
    std::string code = Code(13, 10, 52, '-', individual);
    INFO(code);
    absl::StatusOr<PersonalIdentityCode> parsed = ParsePersonalIdentityCode("hetu", code);
    if (individual < 2) {
      CHECK_THAT(std::string(parsed.status().message()),
                 Contains("individual number must be 002-899"));
      continue;
    }
    REQUIRE(parsed.ok());
    CHECK(parsed->temporary == (individual >= 900));
    absl::StatusOr<PersonalIdentityCode> strict =
        ParsePersonalIdentityCode("hetu", code, TemporaryCodes::kReject);
    CHECK(strict.ok() == (individual < 900));
    if (!strict.ok()) {
      CHECK_THAT(std::string(strict.status().message()),
                 Contains("hetu: a temporary identity code (individual number 900-999) is not "
                          "accepted"));
    }
  }
  // Values from an independent tool, at the edges of the ranges.
  CHECK_FALSE(IsValidPersonalIdentityCode("131052-001W"));
  CHECK(IsValidPersonalIdentityCode("131052-002X"));
  CHECK(IsValidPersonalIdentityCode("131052-899V", TemporaryCodes::kReject));
  CHECK(IsValidPersonalIdentityCode("131052-900W"));
  CHECK_FALSE(IsValidPersonalIdentityCode("131052-900W", TemporaryCodes::kReject));
  CHECK(IsValidPersonalIdentityCode("131052-9993"));
}

TEST_CASE("hetu: every wrong check character is refused", "[hetu]") {
  for (int byte = 1; byte < 256; ++byte) {
    std::string code = absl::StrCat("131052-308", std::string(1, static_cast<char>(byte)));
    INFO(code);
    CHECK(IsValidPersonalIdentityCode(code) == (byte == 'T' || byte == 't'));
  }
}

TEST_CASE("hetu: surrounding whitespace and lower case are normalised", "[hetu]") {
  for (const char* text : {" 131052a308t", "131052A308T\n", "\t131052a308T "}) {
    INFO(text);
    absl::StatusOr<PersonalIdentityCode> parsed = ParsePersonalIdentityCode("hetu", text);
    REQUIRE(parsed.ok());
    CHECK(parsed->code == "131052A308T");
  }
  // Inner whitespace, other dashes and the wrong length are not normalised away.
  for (const char* text : {"131052 308T",
                           "131052\xE2\x80\x93"
                           "308T",
                           "131052-308", "131052-308TT", "31052-308T", "1310520-308T",
                           "13105a-308T", "131052-3o8T", ""}) {
    INFO(text);
    CHECK_FALSE(IsValidPersonalIdentityCode(text));
  }
}

TEST_CASE("hetu: error messages never contain the code or any part of it", "[hetu]") {
  // Groups of inputs that fail for the same reason: within a group the message must be the same
  // (it cannot depend on the input), and it must not contain the input's date or number.
  const std::vector<std::vector<std::string>> groups = {
      {"", "   "},
      {"131052-308", "311288-9999L", "x"},
      {"13105X-308T", "131052-3O8T", "ABCDEF-GHIJ"},
      {"131052/308T", "010594*9032", "020516G903K"},
      {"310252-308Y", "290200-002C", "001052-308T", "131352-308T"},
      {"131052-000V", "131052-001W", "020516C000K"},
      {"131052-308U", "010594Y9033", "131052A308A"},
  };
  for (const auto& group : groups) {
    std::string first_message;
    for (const std::string& text : group) {
      INFO(text);
      absl::Status status = ParsePersonalIdentityCode("employee.hetu", text).status();
      REQUIRE(status.code() == absl::StatusCode::kInvalidArgument);
      std::string message(status.message());
      CHECK_THAT(message, Contains("employee.hetu: "));
      if (!text.empty() && text != "   ") {
        CHECK_FALSE(absl::StrContains(message, text));
      }
      if (text.size() >= 6) {
        CHECK_FALSE(absl::StrContains(message, text.substr(0, 6)));  // the birth date
      }
      if (text.size() == 11) {
        CHECK_FALSE(absl::StrContains(message, text.substr(7)));  // number and check character
      }
      if (first_message.empty()) {
        first_message = message;
      }
      CHECK(message == first_message);
    }
  }
  absl::Status temporary =
      ParsePersonalIdentityCode("hetu", "010594Y9032", TemporaryCodes::kReject).status();
  CHECK_FALSE(absl::StrContains(temporary.message(), "010594"));
  CHECK_FALSE(absl::StrContains(temporary.message(), "9032"));
}

TEST_CASE("HmacSha256Hex: RFC 4231 and OpenSSL's command line agree", "[hetu][hmac]") {
  // RFC 4231 test case 6: a 131-byte key of 0xaa.
  CHECK(HmacSha256Hex(std::string(131, '\xaa'),
                      "Test Using Larger Than Block-Size Key - Hash Key First")
            .value() == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  // printf '131052-308T' | openssl dgst -sha256 -hmac 0123456789abcdef0123456789abcdef
  const std::string key = "0123456789abcdef0123456789abcdef";
  CHECK(HmacSha256Hex(key, "131052-308T").value() ==
        "a441404dc00de28fb2678f474bb111294b2b1f0f55c1f199aa8f30fe4f21a661");
  // The same date and number with another century sign is another person: another hash.
  CHECK(HmacSha256Hex(key, "131052A308T").value() ==
        "805542dda53898a891c7cf744dd89d630d265e273787cf5dc1fb59072ae7d3fa");
  // The normalised code hashes the same however it was typed.
  CHECK(
      HmacSha256Hex(key, ParsePersonalIdentityCode("hetu", " 131052a308t").value().code).value() ==
      HmacSha256Hex(key, "131052A308T").value());
  CHECK(HmacSha256Hex(std::string(32, 'k'), "").value().size() == 64);
}

TEST_CASE("HmacSha256Hex: a key shorter than 32 bytes is refused", "[hetu][hmac]") {
  for (size_t size : {0, 1, 16, 31}) {
    INFO(size);
    absl::StatusOr<std::string> hash = HmacSha256Hex(std::string(size, 'k'), "131052-308T");
    CHECK(hash.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK_FALSE(absl::StrContains(hash.status().message(), "131052"));
  }
  CHECK(HmacSha256Hex(std::string(kMinHmacKeyBytes, 'k'), "131052-308T").ok());
}

}  // namespace
}  // namespace tahe::fi
