#include "tools/tahectl/parse.h"

#include <algorithm>
#include <cstdint>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "libs/money/money.h"

namespace tahe::tahectl {
namespace {

// True if `text` has the shape of `pattern`, where '9' stands for any digit and every other
// character for itself.
bool MatchesDigitPattern(absl::string_view text, absl::string_view pattern) {
  if (text.size() != pattern.size()) {
    return false;
  }
  for (size_t i = 0; i < text.size(); ++i) {
    if (pattern[i] == '9' ? !absl::ascii_isdigit(static_cast<unsigned char>(text[i]))
                          : text[i] != pattern[i]) {
      return false;
    }
  }
  return true;
}

int DigitsAt(absl::string_view text, size_t pos, size_t count) {
  int value = 0;
  for (size_t i = pos; i < pos + count; ++i) {
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

}  // namespace

absl::StatusOr<absl::CivilMonth> ParsePeriod(absl::string_view setting, absl::string_view text) {
  if (MatchesDigitPattern(text, "9999-99")) {
    const int year = DigitsAt(text, 0, 4);
    const int month = DigitsAt(text, 5, 2);
    if (month >= 1 && month <= 12) {
      return absl::CivilMonth(year, month);
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat(setting, ": want a period YYYY-MM, got \"", text, "\""));
}

absl::StatusOr<absl::CivilDay> ParseDate(absl::string_view setting, absl::string_view text) {
  if (MatchesDigitPattern(text, "9999-99-99")) {
    const int year = DigitsAt(text, 0, 4);
    const int month = DigitsAt(text, 5, 2);
    const int day = DigitsAt(text, 8, 2);
    // CivilDay normalises 2025-02-30 to 2025-03-02; a real date survives unchanged.
    const absl::CivilDay civil(year, month, day);
    if (civil.year() == year && civil.month() == month && civil.day() == day) {
      return civil;
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat(setting, ": want a date YYYY-MM-DD, got \"", text, "\""));
}

std::string FormatPeriod(absl::CivilMonth month) {
  return absl::StrFormat("%04d-%02d", month.year(), month.month());
}

std::string FormatDate(absl::CivilDay day) {
  return absl::StrFormat("%04d-%02d-%02d", day.year(), day.month(), day.day());
}

absl::StatusOr<tahe::ledger::v1::EntryLine> ParseEntryLine(absl::string_view text) {
  const auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("--line \"", text, "\": ", why, " (want ACCOUNT:AMOUNT[:key=value,...])"));
  };
  // At most three parts: the dimensions come last and their values may contain ':'.
  std::vector<absl::string_view> parts = absl::StrSplit(text, absl::MaxSplits(':', 2));
  if (parts.size() < 2) {
    return bad("missing amount");
  }
  if (parts[0].empty()) {
    return bad("missing account");
  }
  absl::StatusOr<tahe::money::Money> amount = tahe::money::Money::Parse(parts[1]);
  if (!amount.ok()) {
    return bad(absl::StrCat("bad amount \"", parts[1], "\", want euros like 123.45 or -123.45"));
  }
  tahe::ledger::v1::EntryLine line;
  line.set_account(std::string(parts[0]));
  line.mutable_amount()->set_amount_minor(amount->minor_units());
  line.mutable_amount()->set_currency_code(std::string(amount->currency()));
  if (parts.size() == 3) {
    if (parts[2].empty()) {
      return bad("empty dimension list");
    }
    for (absl::string_view pair : absl::StrSplit(parts[2], ',')) {
      std::pair<absl::string_view, absl::string_view> kv =
          absl::StrSplit(pair, absl::MaxSplits('=', 1));
      if (kv.first.empty() || kv.second.empty() || pair.find('=') == absl::string_view::npos) {
        return bad(absl::StrCat("bad dimension \"", pair, "\", want key=value"));
      }
      auto [it, inserted] =
          line.mutable_dimensions()->insert({std::string(kv.first), std::string(kv.second)});
      if (!inserted) {
        return bad(absl::StrCat("dimension ", kv.first, " given twice"));
      }
    }
  }
  return line;
}

absl::StatusOr<absl::Duration> ParseTimeout(absl::string_view text) {
  absl::Duration duration;
  double seconds = 0;
  if (absl::ParseDuration(text, &duration)) {
    // Accepted as is.
  } else if (absl::SimpleAtod(text, &seconds) && seconds == seconds) {
    duration = absl::Seconds(seconds);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("--timeout: want a duration like 10s or 500ms, got \"", text, "\""));
  }
  if (duration <= absl::ZeroDuration() || duration == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--timeout: must be positive and finite, got \"", text, "\""));
  }
  return duration;
}

namespace {

// ": want ..., got \"text\"" or, for a field that must not be repeated, ": want ...".
std::string Want(absl::string_view setting, absl::string_view want, absl::string_view text,
                 bool echo) {
  return echo ? absl::StrCat(setting, ": want ", want, ", got \"", text, "\"")
              : absl::StrCat(setting, ": want ", want);
}

}  // namespace

absl::StatusOr<int64_t> ParseEurosNonNegative(absl::string_view setting, absl::string_view text,
                                              bool echo) {
  absl::StatusOr<tahe::money::Money> amount = tahe::money::Money::Parse(text);
  if (!amount.ok() || text.front() == '-') {
    return absl::InvalidArgumentError(
        Want(setting, "euros with at most two decimals, like 3500.00", text, echo));
  }
  return amount->minor_units();
}

absl::StatusOr<int64_t> ParseHundredths(absl::string_view setting, absl::string_view text,
                                        bool echo) {
  // The syntax of an amount, two decimals, no sign.
  absl::StatusOr<tahe::money::Money> quantity = tahe::money::Money::Parse(text);
  if (!quantity.ok() || text.front() == '-') {
    return absl::InvalidArgumentError(
        Want(setting, "a number with at most two decimals, like 7.5", text, echo));
  }
  return quantity->minor_units();
}

absl::StatusOr<int64_t> ParseThousandths(absl::string_view setting, absl::string_view text,
                                         bool echo) {
  constexpr int64_t kMaxUnits = 1'000'000'000'000;
  const auto bad = [&] {
    return absl::InvalidArgumentError(
        Want(setting, "a number with at most three decimals, like 2.5", text, echo));
  };
  const size_t point = text.find_first_of(".,");
  const absl::string_view units = text.substr(0, point);
  const absl::string_view decimals =
      point == absl::string_view::npos ? absl::string_view() : text.substr(point + 1);
  const auto all_digits = [](absl::string_view s) {
    return std::all_of(s.begin(), s.end(),
                       [](char c) { return absl::ascii_isdigit(static_cast<unsigned char>(c)); });
  };
  if (units.empty() || units.size() > 13 || !all_digits(units) || decimals.size() > 3 ||
      !all_digits(decimals) || (point != absl::string_view::npos && decimals.empty())) {
    return bad();
  }
  int64_t whole = 0;
  for (char c : units) {
    whole = whole * 10 + (c - '0');
  }
  if (whole > kMaxUnits) {
    return bad();
  }
  int64_t fraction = 0;
  for (size_t i = 0; i < 3; ++i) {
    fraction = fraction * 10 + (i < decimals.size() ? decimals[i] - '0' : 0);
  }
  return whole * 1000 + fraction;
}

std::string FormatThousandths(int64_t thousandths) {
  const uint64_t magnitude = thousandths < 0 ? ~static_cast<uint64_t>(thousandths) + 1
                                             : static_cast<uint64_t>(thousandths);
  std::string text = absl::StrCat(thousandths < 0 ? "-" : "", magnitude / 1000);
  if (const uint64_t rest = magnitude % 1000; rest != 0) {
    std::string decimals = absl::StrFormat("%03d", rest);
    decimals.erase(decimals.find_last_not_of('0') + 1);
    absl::StrAppend(&text, ".", decimals);
  }
  return text;
}

absl::StatusOr<int64_t> ParsePercentPpm(absl::string_view setting, absl::string_view text,
                                        bool echo) {
  constexpr int64_t kPpmPerUnit = 1'000'000;
  absl::StatusOr<tahe::money::Rate> rate = tahe::money::Rate::ParsePercent(text);
  if (rate.ok()) {
    const __int128 scaled = static_cast<__int128>(rate->numerator()) * kPpmPerUnit;
    if (scaled % rate->denominator() == 0) {
      const __int128 ppm = scaled / rate->denominator();
      if (ppm >= 0 && ppm <= kPpmPerUnit) {
        return static_cast<int64_t>(ppm);
      }
    }
  }
  return absl::InvalidArgumentError(Want(
      setting, "a percentage from 0 to 100 with at most four decimals, like 20.5", text, echo));
}

std::string FormatPpmPercent(int64_t ppm) {
  constexpr uint64_t kPpmPerPercent = 10'000;
  const uint64_t magnitude = ppm < 0 ? ~static_cast<uint64_t>(ppm) + 1 : static_cast<uint64_t>(ppm);
  std::string text = absl::StrCat(ppm < 0 ? "-" : "", magnitude / kPpmPerPercent);
  if (const uint64_t rest = magnitude % kPpmPerPercent; rest != 0) {
    std::string decimals = absl::StrFormat("%04d", rest);
    decimals.erase(decimals.find_last_not_of('0') + 1);
    absl::StrAppend(&text, ".", decimals);
  }
  return absl::StrCat(text, "%");
}

bool IsValidTenantSlug(absl::string_view slug) {
  if (slug.empty() || slug.size() > 63) {
    return false;
  }
  for (size_t i = 0; i < slug.size(); ++i) {
    const char c = slug[i];
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && !(i > 0 && c == '-')) {
      return false;
    }
  }
  return true;
}

absl::StatusOr<std::vector<std::string>> ParseTenantList(absl::string_view text) {
  std::vector<std::string> tenants;
  std::set<std::string, std::less<>> seen;
  for (absl::string_view slug : absl::StrSplit(text, ',')) {
    if (!IsValidTenantSlug(slug)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--tenants: \"", slug, "\" is not a tenant slug (lower-case letters, digits, '-')"));
    }
    if (!seen.insert(std::string(slug)).second) {
      return absl::InvalidArgumentError(absl::StrCat("--tenants: ", slug, " given twice"));
    }
    tenants.emplace_back(slug);
  }
  return tenants;
}

}  // namespace tahe::tahectl
