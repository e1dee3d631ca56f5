#include "libs/fi/iban.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "libs/fi/mod97.h"
#include "libs/status/status.h"

namespace tahe::fi {

namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsUpper(char c) { return c >= 'A' && c <= 'Z'; }

struct CountryLength {
  absl::string_view country;
  int length;
};

// The countries of the SEPA schemes (EU and EEA, plus Andorra, Monaco, San Marino, Vatican,
// Switzerland, the United Kingdom, Gibraltar, and since 2024-2025 Albania, Moldova, Montenegro
// and North Macedonia) with their IBAN lengths from the SWIFT IBAN registry. Sorted by country.
constexpr CountryLength kIbanLengths[] = {
    {"AD", 24}, {"AL", 28}, {"AT", 20}, {"BE", 16}, {"BG", 22}, {"CH", 21}, {"CY", 28},
    {"CZ", 24}, {"DE", 22}, {"DK", 18}, {"EE", 20}, {"ES", 24}, {"FI", 18}, {"FR", 27},
    {"GB", 22}, {"GI", 23}, {"GR", 27}, {"HR", 21}, {"HU", 28}, {"IE", 22}, {"IS", 26},
    {"IT", 27}, {"LI", 21}, {"LT", 20}, {"LU", 20}, {"LV", 21}, {"MC", 27}, {"MD", 24},
    {"ME", 22}, {"MK", 19}, {"MT", 31}, {"NL", 18}, {"NO", 15}, {"PL", 28}, {"PT", 25},
    {"RO", 24}, {"SE", 24}, {"SI", 19}, {"SK", 24}, {"SM", 27}, {"VA", 22},
};

// A run of Finnish bank prefixes of `digits` digits, first..last inclusive.
struct BankPrefixes {
  int digits;
  int first;
  int last;
  absl::string_view bic;
};

// Finance Finland, "Suomalaiset rahalaitostunnukset ja BIC-koodit", 15.10.2025.
constexpr BankPrefixes kFinnishBanks[] = {
    {1, 1, 2, "NDEAFIHH"},      // Nordea
    {2, 33, 33, "ESSEFIHX"},    // SEB
    {2, 34, 34, "DABAFIHH"},    // Danske Bank
    {1, 8, 8, "DABAFIHH"},      // Danske Bank
    {2, 36, 36, "SBANFIHH"},    // S-Bank
    {2, 39, 39, "SBANFIHH"},    // S-Bank
    {2, 37, 37, "DNBAFIHX"},    // DNB
    {3, 405, 405, "HELSFIHH"},  // Aktia
    {3, 497, 497, "HELSFIHH"},  // Aktia
    {3, 470, 479, "POPFFI22"},  // POP Banks
    {1, 5, 5, "OKOYFIHH"},      // OP
    {1, 6, 6, "AABAFI22"},      // Ålandsbanken
    {3, 713, 713, "CITIFIHX"},  // Citibank
    {3, 714, 714, "EVSEFIHH"},  // Evli
    {3, 717, 717, "BIGKFIH1"},  // Bigbank
    {3, 718, 718, "UASNFIH2"},
    {3, 799, 799, "HOLVFIHH"},  // Holvi
    // Savings banks (Säästöpankit)
    {3, 400, 400, "ITELFIHH"},
    {3, 402, 403, "ITELFIHH"},
    {3, 406, 408, "ITELFIHH"},
    {3, 410, 412, "ITELFIHH"},
    {3, 414, 421, "ITELFIHH"},
    {3, 423, 432, "ITELFIHH"},
    {3, 435, 452, "ITELFIHH"},
    {3, 454, 464, "ITELFIHH"},
    {3, 483, 493, "ITELFIHH"},
    {3, 495, 496, "ITELFIHH"},
    {3, 715, 715, "ITELFIHH"},
};

int Digits(absl::string_view text) {
  int value = 0;
  for (char c : text) {
    value = value * 10 + (c - '0');
  }
  return value;
}

}  // namespace

std::string NormalizeIban(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (!absl::ascii_isspace(static_cast<unsigned char>(c))) {
      out.push_back(absl::ascii_toupper(static_cast<unsigned char>(c)));
    }
  }
  return out;
}

std::optional<int> IbanLengthOf(absl::string_view country) {
  const auto* end = std::end(kIbanLengths);
  const auto* it = std::lower_bound(
      std::begin(kIbanLengths), end, country,
      [](const CountryLength& entry, absl::string_view code) { return entry.country < code; });
  if (it == end || it->country != country) {
    return std::nullopt;
  }
  return it->length;
}

absl::StatusOr<std::string> ParseIban(absl::string_view field, absl::string_view text) {
  std::string iban = NormalizeIban(text);
  if (iban.empty()) {
    return InvalidField(field, "required (an IBAN, e.g. FI21 1234 5600 0007 85)");
  }
  if (!std::all_of(iban.begin(), iban.end(), [](char c) { return IsDigit(c) || IsUpper(c); })) {
    return InvalidField(field, "may contain only letters, digits and spaces");
  }
  if (iban.size() < 4 || !IsUpper(iban[0]) || !IsUpper(iban[1]) || !IsDigit(iban[2]) ||
      !IsDigit(iban[3])) {
    return InvalidField(field, "must start with a two-letter country code and two check digits");
  }
  absl::string_view country = absl::string_view(iban).substr(0, 2);
  std::optional<int> length = IbanLengthOf(country);
  if (!length.has_value()) {
    return InvalidField(
        field, absl::StrCat("country ", country, " is not a SEPA IBAN country this system knows"));
  }
  if (static_cast<int>(iban.size()) != *length) {
    return InvalidField(field, absl::StrCat("a ", country, " IBAN has ", *length,
                                            " characters, not ", iban.size()));
  }
  if (country == "FI" && !std::all_of(iban.begin() + 2, iban.end(), IsDigit)) {
    return InvalidField(field, "a Finnish IBAN has only digits after FI");
  }
  // 98 - n for n in 0..96: a computed check is never 00, 01 or 99, though they can pass mod 97.
  int check = Digits(absl::string_view(iban).substr(2, 2));
  if (check < 2 || check > 98) {
    return InvalidField(field, "check digits must be 02-98");
  }
  if (internal::Mod97(absl::StrCat(absl::string_view(iban).substr(4),
                                   absl::string_view(iban).substr(0, 4))) != 1) {
    return InvalidField(field, "check digits do not match");
  }
  return iban;
}

absl::Status ValidateIban(absl::string_view field, absl::string_view text) {
  return ParseIban(field, text).status();
}

bool IsValidIban(absl::string_view text) { return ParseIban("iban", text).ok(); }

std::string FormatIban(absl::string_view iban) {
  std::string normalized = NormalizeIban(iban);
  std::string out;
  for (size_t i = 0; i < normalized.size(); ++i) {
    if (i > 0 && i % 4 == 0) {
      out.push_back(' ');
    }
    out.push_back(normalized[i]);
  }
  return out;
}

absl::StatusOr<std::optional<std::string>> BicOf(absl::string_view field, absl::string_view iban) {
  absl::StatusOr<std::string> parsed = ParseIban(field, iban);
  if (!parsed.ok()) {
    return parsed.status();
  }
  absl::string_view bban = absl::string_view(*parsed).substr(4);
  if (parsed->substr(0, 2) != "FI") {
    return std::optional<std::string>();
  }
  for (int digits = 3; digits >= 1; --digits) {
    int prefix = Digits(bban.substr(0, digits));
    for (const BankPrefixes& bank : kFinnishBanks) {
      if (bank.digits == digits && bank.first <= prefix && prefix <= bank.last) {
        return std::optional<std::string>(bank.bic);
      }
    }
  }
  return std::optional<std::string>();
}

}  // namespace tahe::fi
