// Fuzzes the Finnish personal identity code (henkilötunnus, libs/fi/hetu.h): employees' codes as
// HR systems send them. The whole input is the text.
//
// Invariants: Parse and IsValid agree, with temporary codes accepted and refused; a valid code is
// the upper-cased, trimmed text, its birth date is the DDMMYY and century sign it was read from,
// its check character is the mod-31 one, and it re-parses to itself; no error message quotes the
// code (it is personal data); the keyed hash of a code is 64 lower-case hex characters.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "libs/fi/hetu.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

int CenturyOf(char sign) {
  if (sign == '+') {
    return 1800;
  }
  if (absl::string_view("-YXWVU").find(sign) != absl::string_view::npos) {
    return 1900;
  }
  return 2000;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tahe::fi;  // NOLINT: the fuzzer checks this one header.
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  const absl::StatusOr<PersonalIdentityCode> parsed =
      ParsePersonalIdentityCode("employee.hetu", text);
  const absl::StatusOr<PersonalIdentityCode> permanent =
      ParsePersonalIdentityCode("employee.hetu", text, TemporaryCodes::kReject);
  FUZZ_CHECK(parsed.ok() == IsValidPersonalIdentityCode(text));
  FUZZ_CHECK(permanent.ok() == IsValidPersonalIdentityCode(text, TemporaryCodes::kReject));
  FUZZ_CHECK(permanent.ok() == (parsed.ok() && !parsed->temporary));

  const std::string normalized = absl::AsciiStrToUpper(absl::StripAsciiWhitespace(text));
  for (const absl::StatusOr<PersonalIdentityCode>* result : {&parsed, &permanent}) {
    if (!result->ok()) {
      FUZZ_CHECK(result->status().code() == absl::StatusCode::kInvalidArgument);
      FUZZ_CHECK(absl::StartsWith(result->status().message(), "employee.hetu: "));
      // Personal data: a code-like text is never quoted back.
      if (normalized.size() >= 11 && normalized.find_first_of("0123456789") != std::string::npos) {
        FUZZ_CHECK(!absl::StrContains(result->status().message(), normalized));
      }
    }
  }
  if (!parsed.ok()) {
    return 0;
  }
  const PersonalIdentityCode& hetu = *parsed;
  FUZZ_CHECK(hetu.code == normalized);
  FUZZ_CHECK(hetu.code.size() == 11);
  char date[32];
  std::snprintf(date, sizeof(date), "%02d%02d%02d", hetu.birth_date.day(), hetu.birth_date.month(),
                static_cast<int>(hetu.birth_date.year() % 100));
  FUZZ_CHECK(hetu.code.substr(0, 6) == date);
  const int century = CenturyOf(hetu.code[6]);
  FUZZ_CHECK(hetu.birth_date.year() >= century && hetu.birth_date.year() < century + 100);
  const int individual = std::stoi(hetu.code.substr(7, 3));
  FUZZ_CHECK(individual >= 2 && individual <= 999);
  FUZZ_CHECK(hetu.temporary == (individual >= 900));
  const long number = std::stol(hetu.code.substr(0, 6)) * 1000 + individual;
  FUZZ_CHECK(hetu.code[10] == "0123456789ABCDEFHJKLMNPRSTUVWXY"[number % 31]);

  const absl::StatusOr<PersonalIdentityCode> again = ParsePersonalIdentityCode("", hetu.code);
  FUZZ_CHECK(again.ok() && again->code == hetu.code && again->birth_date == hetu.birth_date &&
             again->temporary == hetu.temporary);

  const absl::StatusOr<std::string> hash =
      HmacSha256Hex("fuzz-key-fuzz-key-fuzz-key-fuzz-key", hetu.code);
  FUZZ_CHECK(hash.ok() && hash->size() == 64);
  for (char c : *hash) {
    FUZZ_CHECK((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
  }
  return 0;
}
