#pragma once

// The Finnish personal identity code (henkilötunnus, "131052-308T"), per finnish-rules.md §4,
// and the keyed hash under which it is stored.
//
// The code is personal data: never log it, never put it in an error message, and store only
// HmacSha256Hex(key, code) beside the birth date. No message returned here contains any part of
// the text it was given.
//
//   ASSIGN_OR_RETURN(fi::PersonalIdentityCode hetu,
//                    fi::ParsePersonalIdentityCode("employee.hetu", text));
//   ASSIGN_OR_RETURN(std::string hetu_hash, fi::HmacSha256Hex(pepper, hetu.code));
//   store(hetu_hash, hetu.birth_date);  // not hetu.code
//
// Temporary codes (individual number 900-999, issued by e.g. hospitals to people without a
// permanent code) pass by default, because the verified examples of finnish-rules.md include
// them and a caller cannot tell them from permanent ones by eye; `temporary` says which it is,
// and TemporaryCodes::kReject refuses them where only a permanent code will do (reports to the
// Incomes Register, for instance).

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"

namespace tahe::fi {

// A valid personal identity code.
struct PersonalIdentityCode {
  // DDMMYYCZZZQ, upper case, no whitespace. Personal data: never log it.
  std::string code;
  absl::CivilDay birth_date;
  // Individual number 900-999: a temporary code, not one from the Population Information System.
  bool temporary = false;
};

enum class TemporaryCodes { kAccept, kReject };

// Parses "DDMMYYCZZZQ". Surrounding ASCII whitespace is ignored and lower-case letters are
// upper-cased first (the normalised text is `code`). C is the century sign: '+' 1800s; '-', 'Y',
// 'X', 'W', 'V', 'U' 1900s; 'A'-'F' 2000s. The date must exist (29 February only in leap years;
// 1900 is not one, 2000 is). ZZZ is 002-899, or 900-999 for a temporary code (refused with
// TemporaryCodes::kReject). Q = "0123456789ABCDEFHJKLMNPRSTUVWXY"[DDMMYYZZZ mod 31].
// INVALID_ARGUMENT naming `field` and the rule broken, never quoting `text`. A birth date in the
// future is not checked (the library has no clock).
absl::StatusOr<PersonalIdentityCode> ParsePersonalIdentityCode(
    absl::string_view field, absl::string_view text,
    TemporaryCodes temporary = TemporaryCodes::kAccept);

bool IsValidPersonalIdentityCode(absl::string_view text,
                                 TemporaryCodes temporary = TemporaryCodes::kAccept);

// The shortest key HmacSha256Hex accepts: a personal identity code has well under 40 bits of
// entropy, so without a strong secret key its hash is reversed by trying every code.
inline constexpr size_t kMinHmacKeyBytes = 32;

// HMAC-SHA-256 of `message` under `key`, as 64 lower-case hex characters. INVALID_ARGUMENT if the
// key is shorter than kMinHmacKeyBytes (the message names neither the key nor the message);
// INTERNAL if OpenSSL fails.
absl::StatusOr<std::string> HmacSha256Hex(absl::string_view key, absl::string_view message);

}  // namespace tahe::fi
