#include "libs/fi/hetu.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <limits>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "libs/status/status.h"

namespace tahe::fi {

namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

int Digits(absl::string_view text) {
  int value = 0;
  for (char c : text) {
    value = value * 10 + (c - '0');
  }
  return value;
}

// The first year of the century a sign stands for; 0 for an unknown sign.
int CenturyOf(char sign) {
  switch (sign) {
    case '+':
      return 1800;
    case '-':
    case 'Y':
    case 'X':
    case 'W':
    case 'V':
    case 'U':
      return 1900;
    case 'A':
    case 'B':
    case 'C':
    case 'D':
    case 'E':
    case 'F':
      return 2000;
    default:
      return 0;
  }
}

constexpr absl::string_view kCheckCharacters = "0123456789ABCDEFHJKLMNPRSTUVWXY";

}  // namespace

absl::StatusOr<PersonalIdentityCode> ParsePersonalIdentityCode(absl::string_view field,
                                                               absl::string_view text,
                                                               TemporaryCodes temporary) {
  // Every message below is a constant: none may quote the code or any part of it.
  std::string code = absl::AsciiStrToUpper(absl::StripAsciiWhitespace(text));
  if (code.empty()) {
    return InvalidField(field, "required (a personal identity code, DDMMYYCZZZQ)");
  }
  if (code.size() != 11) {
    return InvalidField(field,
                        "must be 11 characters DDMMYYCZZZQ (birth date, century sign, individual "
                        "number, check character)");
  }
  absl::string_view view = code;
  absl::string_view date = view.substr(0, 6);
  absl::string_view individual = view.substr(7, 3);
  for (char c : absl::StrCat(date, individual)) {
    if (!IsDigit(c)) {
      return InvalidField(field, "birth date DDMMYY and individual number ZZZ must be digits");
    }
  }
  int century = CenturyOf(code[6]);
  if (century == 0) {
    return InvalidField(field, "unknown century sign (expected + - U V W X Y A B C D E F)");
  }
  int day = Digits(date.substr(0, 2));
  int month = Digits(date.substr(2, 2));
  int year = century + Digits(date.substr(4, 2));
  absl::CivilDay birth_date(year, month, day);
  if (birth_date.year() != year || birth_date.month() != month || birth_date.day() != day) {
    return InvalidField(field, "the birth date does not exist");
  }
  int individual_number = Digits(individual);
  if (individual_number < 2) {
    return InvalidField(field, "individual number must be 002-899 (900-999 for a temporary code)");
  }
  bool is_temporary = individual_number >= 900;
  if (is_temporary && temporary == TemporaryCodes::kReject) {
    return InvalidField(field,
                        "a temporary identity code (individual number 900-999) is not accepted "
                        "here");
  }
  int number = Digits(date) * 1000 + individual_number;
  if (code[10] != kCheckCharacters[number % 31]) {
    return InvalidField(field, "check character does not match");
  }
  return PersonalIdentityCode{std::move(code), birth_date, is_temporary};
}

bool IsValidPersonalIdentityCode(absl::string_view text, TemporaryCodes temporary) {
  return ParsePersonalIdentityCode("", text, temporary).ok();
}

absl::StatusOr<std::string> HmacSha256Hex(absl::string_view key, absl::string_view message) {
  if (key.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return InvalidField("hmac key", "too long");
  }
  if (key.size() < kMinHmacKeyBytes) {
    return InvalidField("hmac key", absl::StrCat("must be at least ", kMinHmacKeyBytes,
                                                 " bytes (a random secret, not a password)"));
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_size = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest,
           &digest_size) == nullptr ||
      digest_size != 32) {
    return absl::InternalError("HMAC-SHA-256 failed in OpenSSL");
  }
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), digest_size));
}

}  // namespace tahe::fi
