#include "libs/money/money.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace tahe::money {
namespace {

constexpr int64_t kInt64Min = std::numeric_limits<int64_t>::min();
constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();

// A broken REQUIRES is a bug in the caller, not bad input: stop before a wrong amount is booked.
[[noreturn]] void DieOnContractViolation(const char* what) {
  std::fprintf(stderr, "tahe::money contract violation: %s\n", what);
  std::abort();
}

bool FitsInt64(__int128 value) { return value >= kInt64Min && value <= kInt64Max; }

// Input text quoted for an error message, cut short so hostile input cannot flood the logs.
std::string Quoted(absl::string_view text) {
  constexpr size_t kMaxShown = 64;
  std::string shown = absl::CHexEscape(text.substr(0, kMaxShown));
  return absl::StrCat("\"", shown, text.size() > kMaxShown ? "...\"" : "\"");
}

std::string UnsignedToString(unsigned __int128 value) {
  std::string digits;
  do {
    digits.push_back(static_cast<char>('0' + static_cast<int>(value % 10)));
    value /= 10;
  } while (value != 0);
  std::reverse(digits.begin(), digits.end());
  return digits;
}

std::optional<std::array<char, 3>> CurrencyArray(absl::string_view code) {
  if (!IsValidCurrencyCode(code)) {
    return std::nullopt;
  }
  return std::array<char, 3>{code[0], code[1], code[2]};
}

absl::Status BadCurrency(absl::string_view code) {
  return absl::InvalidArgumentError(
      absl::StrCat("invalid currency code ", Quoted(code), ": expected three upper-case letters"));
}

// "[-]digits[(.|,)digits]", split into its parts. No other characters are accepted.
struct DecimalText {
  bool negative = false;
  absl::string_view integer_digits;
  absl::string_view fraction_digits;
};

bool IsDigits(absl::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::optional<DecimalText> SplitDecimal(absl::string_view text) {
  DecimalText decimal;
  if (!text.empty() && text.front() == '-') {
    decimal.negative = true;
    text.remove_prefix(1);
  }
  size_t separator = text.find_first_of(".,");
  decimal.integer_digits = text.substr(0, separator);
  if (!IsDigits(decimal.integer_digits)) {
    return std::nullopt;
  }
  if (separator != absl::string_view::npos) {
    decimal.fraction_digits = text.substr(separator + 1);
    if (!IsDigits(decimal.fraction_digits)) {
      return std::nullopt;
    }
  }
  return decimal;
}

// The decimal times 10^scale as an int64, or nullopt if that does not fit.
// REQUIRES: decimal.fraction_digits.size() <= scale.
std::optional<int64_t> ScaledValue(const DecimalText& decimal, size_t scale) {
  // The magnitude of kInt64Min; positive values must stay one below it.
  constexpr unsigned __int128 kLimit = static_cast<unsigned __int128>(kInt64Max) + 1;
  unsigned __int128 magnitude = 0;
  auto push_digit = [&magnitude](char digit) {
    // magnitude <= kLimit here, so this cannot wrap.
    magnitude = magnitude * 10 + static_cast<unsigned>(digit - '0');
    return magnitude <= kLimit;
  };
  for (char digit : decimal.integer_digits) {
    if (!push_digit(digit)) {
      return std::nullopt;
    }
  }
  for (size_t i = 0; i < scale; ++i) {
    char digit = i < decimal.fraction_digits.size() ? decimal.fraction_digits[i] : '0';
    if (!push_digit(digit)) {
      return std::nullopt;
    }
  }
  if (decimal.negative) {
    return static_cast<int64_t>(-static_cast<__int128>(magnitude));
  }
  if (magnitude == kLimit) {
    return std::nullopt;
  }
  return static_cast<int64_t>(magnitude);
}

// numerator / denominator rounded half away from zero, as a full-width integer.
// REQUIRES: denominator > 0.
__int128 RoundedQuotient(__int128 numerator, __int128 denominator) {
  __int128 quotient = numerator / denominator;   // Truncates toward zero.
  __int128 remainder = numerator % denominator;  // Same sign as the numerator, |r| < denominator.
  __int128 magnitude = remainder < 0 ? -remainder : remainder;
  // "2 * |r| >= denominator", written so that it cannot overflow.
  if (magnitude != 0 && magnitude >= denominator - magnitude) {
    // A non-zero remainder means denominator >= 2, so |quotient| is far from the limits.
    quotient += numerator < 0 ? -1 : 1;
  }
  return quotient;
}

absl::Status CurrencyMismatch(const Money& a, const Money& b) {
  return absl::InvalidArgumentError(
      absl::StrCat("currency mismatch: ", a.currency(), " and ", b.currency()));
}

absl::Status Overflow(absl::string_view operation) {
  return absl::OutOfRangeError(absl::StrCat(operation, " overflows int64 minor units"));
}

absl::StatusOr<Rate> ParseScaledRate(absl::string_view text, int64_t unit_denominator,
                                     size_t max_decimals, absl::string_view what) {
  std::optional<DecimalText> decimal = SplitDecimal(text);
  if (!decimal.has_value() || decimal->fraction_digits.size() > max_decimals) {
    return absl::InvalidArgumentError(absl::StrCat("invalid ", what, " ", Quoted(text),
                                                   ": expected digits with at most ", max_decimals,
                                                   " decimals, like 25.5"));
  }
  size_t scale = decimal->fraction_digits.size();
  std::optional<int64_t> numerator = ScaledValue(*decimal, scale);
  if (!numerator.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(what, " ", Quoted(text), " is too large"));
  }
  // unit_denominator * 10^max_decimals <= 10^18 by the callers' choice, so this cannot overflow.
  int64_t denominator = unit_denominator;
  for (size_t i = 0; i < scale; ++i) {
    denominator *= 10;
  }
  return Rate::FromFraction(*numerator, denominator);
}

}  // namespace

bool IsValidCurrencyCode(absl::string_view code) {
  return code.size() == 3 &&
         std::all_of(code.begin(), code.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

Money Money::FromMinor(int64_t minor_units, absl::string_view currency) {
  std::optional<std::array<char, 3>> code = CurrencyArray(currency);
  if (!code.has_value()) {
    DieOnContractViolation("Money::FromMinor: currency is not three upper-case letters");
  }
  return Money(minor_units, *code);
}

absl::StatusOr<Money> Money::Create(int64_t minor_units, absl::string_view currency) {
  std::optional<std::array<char, 3>> code = CurrencyArray(currency);
  if (!code.has_value()) {
    return BadCurrency(currency);
  }
  return Money(minor_units, *code);
}

absl::StatusOr<Money> Money::Parse(absl::string_view text, absl::string_view currency) {
  std::optional<std::array<char, 3>> code = CurrencyArray(currency);
  if (!code.has_value()) {
    return BadCurrency(currency);
  }
  std::optional<DecimalText> decimal = SplitDecimal(text);
  if (!decimal.has_value() || decimal->fraction_digits.size() > 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid amount ", Quoted(text),
                     ": expected digits with at most two decimals, like 1234.50"));
  }
  std::optional<int64_t> minor_units = ScaledValue(*decimal, 2);
  if (!minor_units.has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat("amount ", Quoted(text), " does not fit in int64 minor units"));
  }
  return Money(*minor_units, *code);
}

std::string Money::ToString() const {
  // Unsigned so that the magnitude of INT64_MIN is representable.
  uint64_t magnitude = minor_units_ < 0 ? 0 - static_cast<uint64_t>(minor_units_)
                                        : static_cast<uint64_t>(minor_units_);
  uint64_t cents = magnitude % 100;
  return absl::StrCat(minor_units_ < 0 ? "-" : "", magnitude / 100, cents < 10 ? ".0" : ".", cents);
}

std::ostream& operator<<(std::ostream& out, const Money& money) {
  return out << money.ToString() << " " << money.currency();
}

absl::StatusOr<Money> Add(Money a, Money b) {
  if (a.currency() != b.currency()) {
    return CurrencyMismatch(a, b);
  }
  int64_t sum;
  if (__builtin_add_overflow(a.minor_units(), b.minor_units(), &sum)) {
    return Overflow(absl::StrCat("adding ", a.ToString(), " and ", b.ToString()));
  }
  return Money::FromMinor(sum, a.currency());
}

absl::StatusOr<Money> Subtract(Money a, Money b) {
  if (a.currency() != b.currency()) {
    return CurrencyMismatch(a, b);
  }
  int64_t difference;
  if (__builtin_sub_overflow(a.minor_units(), b.minor_units(), &difference)) {
    return Overflow(absl::StrCat("subtracting ", b.ToString(), " from ", a.ToString()));
  }
  return Money::FromMinor(difference, a.currency());
}

absl::StatusOr<Money> Negate(Money amount) {
  int64_t negated;
  if (__builtin_sub_overflow(int64_t{0}, amount.minor_units(), &negated)) {
    return Overflow(absl::StrCat("negating ", amount.ToString()));
  }
  return Money::FromMinor(negated, amount.currency());
}

absl::StatusOr<Money> MultiplyByInt(Money amount, int64_t factor) {
  int64_t product;
  if (__builtin_mul_overflow(amount.minor_units(), factor, &product)) {
    return Overflow(absl::StrCat("multiplying ", amount.ToString(), " by ", factor));
  }
  return Money::FromMinor(product, amount.currency());
}

int64_t RoundHalfAwayFromZero(__int128 numerator, __int128 denominator) {
  if (denominator <= 0) {
    DieOnContractViolation("RoundHalfAwayFromZero: denominator must be positive");
  }
  __int128 rounded = RoundedQuotient(numerator, denominator);
  if (!FitsInt64(rounded)) {
    DieOnContractViolation("RoundHalfAwayFromZero: result does not fit in int64");
  }
  return static_cast<int64_t>(rounded);
}

absl::StatusOr<Rate> Rate::FromFraction(int64_t numerator, int64_t denominator) {
  if (denominator <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("rate denominator must be positive, got ", denominator));
  }
  return Rate(numerator, denominator);
}

absl::StatusOr<Rate> Rate::ParsePercent(absl::string_view text) {
  absl::string_view number = text;
  if (!number.empty() && number.back() == '%') {
    number.remove_suffix(1);
  }
  return ParseScaledRate(number, 100, 16, "percentage");
}

absl::StatusOr<Rate> Rate::ParseBasisPoints(absl::string_view text) {
  return ParseScaledRate(text, 10000, 14, "basis points");
}

std::string Rate::ToString() const {
  // Long division of numerator * 100 / denominator; a terminating decimal ends within a few
  // dozen digits, anything longer is shown as the fraction.
  constexpr int kMaxDecimals = 40;
  __int128 percent_numerator = static_cast<__int128>(numerator_) * 100;
  unsigned __int128 magnitude = percent_numerator < 0
                                    ? static_cast<unsigned __int128>(-percent_numerator)
                                    : static_cast<unsigned __int128>(percent_numerator);
  auto denominator = static_cast<unsigned __int128>(denominator_);
  std::string text = UnsignedToString(magnitude / denominator);
  unsigned __int128 remainder = magnitude % denominator;
  if (remainder != 0) {
    text.push_back('.');
  }
  for (int i = 0; remainder != 0; ++i) {
    if (i == kMaxDecimals) {
      return absl::StrCat(numerator_, "/", denominator_);
    }
    remainder *= 10;
    text.push_back(static_cast<char>('0' + static_cast<int>(remainder / denominator)));
    remainder %= denominator;
  }
  return absl::StrCat(numerator_ < 0 ? "-" : "", text, "%");
}

bool operator==(const Rate& a, const Rate& b) {
  return static_cast<__int128>(a.numerator_) * b.denominator_ ==
         static_cast<__int128>(b.numerator_) * a.denominator_;
}

std::ostream& operator<<(std::ostream& out, const Rate& rate) { return out << rate.ToString(); }

absl::StatusOr<Money> MultiplyByRate(Money amount, int64_t rate_numerator,
                                     int64_t rate_denominator) {
  if (rate_denominator <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("rate denominator must be positive, got ", rate_denominator));
  }
  // |int64 * int64| < 2^126: the product is exact in 128 bits.
  __int128 rounded = RoundedQuotient(static_cast<__int128>(amount.minor_units()) * rate_numerator,
                                     rate_denominator);
  if (!FitsInt64(rounded)) {
    return Overflow(absl::StrCat("multiplying ", amount.ToString(), " by ", rate_numerator, "/",
                                 rate_denominator));
  }
  return Money::FromMinor(static_cast<int64_t>(rounded), amount.currency());
}

absl::StatusOr<Money> MultiplyByRate(Money amount, Rate rate) {
  return MultiplyByRate(amount, rate.numerator(), rate.denominator());
}

absl::StatusOr<std::vector<Money>> Allocate(Money total, int parts) {
  if (parts <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot allocate into ", parts, " parts: need at least one"));
  }
  // Both truncate toward zero, so the remainder carries the sign of the total and
  // |remainder| < parts. The division cannot overflow because parts >= 1.
  int64_t share = total.minor_units() / parts;
  int64_t remainder = total.minor_units() % parts;
  int64_t extra_cent = remainder < 0 ? -1 : 1;
  int64_t cents_left = remainder < 0 ? -remainder : remainder;
  std::vector<Money> result;
  result.reserve(static_cast<size_t>(parts));
  for (int i = 0; i < parts; ++i) {
    // share + extra_cent stays within [total, 0] or [0, total] whenever cents_left > 0.
    result.push_back(
        Money::FromMinor(i < cents_left ? share + extra_cent : share, total.currency()));
  }
  return result;
}

absl::StatusOr<std::vector<Money>> AllocateByWeights(Money total,
                                                     absl::Span<const int64_t> weights) {
  if (weights.empty()) {
    return absl::InvalidArgumentError("cannot allocate by weights: no weights");
  }
  // At most 2^63 per weight, so the sum of any realistic number of weights fits in 128 bits.
  __int128 weight_sum = 0;
  for (size_t i = 0; i < weights.size(); ++i) {
    if (weights[i] < 0) {
      return absl::InvalidArgumentError(absl::StrCat("cannot allocate by weights: weight ", i,
                                                     " is negative (", weights[i], ")"));
    }
    weight_sum += weights[i];
  }
  if (weight_sum == 0) {
    return absl::InvalidArgumentError("cannot allocate by weights: all weights are zero");
  }

  // Split the magnitude, then apply the sign, so that -x splits as the mirror image of x.
  // The magnitude is at most 2^63 and each weight below 2^63: every product fits in 128 bits.
  bool negative = total.minor_units() < 0;
  __int128 magnitude = negative ? -static_cast<__int128>(total.minor_units())
                                : static_cast<__int128>(total.minor_units());
  std::vector<__int128> parts(weights.size());
  std::vector<__int128> remainders(weights.size());
  __int128 allocated = 0;
  for (size_t i = 0; i < weights.size(); ++i) {
    __int128 exact = magnitude * weights[i];
    parts[i] = exact / weight_sum;
    remainders[i] = exact % weight_sum;
    allocated += parts[i];
  }
  // The remainders sum to cents_left * weight_sum and each is below weight_sum, so at least
  // cents_left parts have a non-zero remainder: a zero weight never receives a cent.
  auto cents_left = static_cast<size_t>(magnitude - allocated);
  std::vector<size_t> order(weights.size());
  for (size_t i = 0; i < order.size(); ++i) {
    order[i] = i;
  }
  std::sort(order.begin(), order.end(), [&remainders](size_t a, size_t b) {
    return remainders[a] != remainders[b] ? remainders[a] > remainders[b] : a < b;
  });
  for (size_t i = 0; i < cents_left; ++i) {
    parts[order[i]] += 1;
  }

  std::vector<Money> result;
  result.reserve(parts.size());
  for (__int128 part : parts) {
    // Each part is at most the magnitude, so the signed value fits in int64.
    result.push_back(
        Money::FromMinor(static_cast<int64_t>(negative ? -part : part), total.currency()));
  }
  return result;
}

}  // namespace tahe::money
