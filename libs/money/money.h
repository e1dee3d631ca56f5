#pragma once

// Exact money arithmetic for bookkeeping: an amount in integer minor units (cents) of one ISO 4217
// currency, with checked arithmetic, one explicit rounding rule and allocation helpers.
//
// Nothing here uses floating point. Every operation that can overflow returns
// absl::StatusOr<Money>; rounding happens in exactly one place (RoundHalfAwayFromZero), and the
// allocation helpers always hand out the whole total, cent for cent.
//
//   ASSIGN_OR_RETURN(Money net, Money::Parse("1234,50"));               // 1234.50 EUR
//   ASSIGN_OR_RETURN(Rate vat, Rate::ParsePercent("25.5"));             // 255/1000
//   ASSIGN_OR_RETURN(Money tax, MultiplyByRate(net, vat));             // 314.80 (314.7975)
//   ASSIGN_OR_RETURN(Money gross, Add(net, tax));                      // 1549.30
//   ASSIGN_OR_RETURN(std::vector<Money> installments, Allocate(gross, 3));
//   // 516.44, 516.43, 516.43
//
// Money is a small value type: copy it freely. All functions are thread-safe.

#include <array>
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace tahe::money {

inline constexpr absl::string_view kDefaultCurrency = "EUR";

// True for three upper-case ASCII letters ("EUR", "SEK"). Whether the code is actually assigned
// by ISO 4217 is not checked.
bool IsValidCurrencyCode(absl::string_view code);

// An amount of money: a signed count of minor units (cents) of one currency. Every currency is
// treated as having two decimals.
class Money {
 public:
  // Zero euros.
  Money() = default;

  // REQUIRES: IsValidCurrencyCode(currency); a violation aborts the process. Use Create() when
  // the code comes from outside the program.
  static Money FromMinor(int64_t minor_units, absl::string_view currency = kDefaultCurrency);

  // Like FromMinor, but INVALID_ARGUMENT for a malformed currency code.
  static absl::StatusOr<Money> Create(int64_t minor_units, absl::string_view currency);

  // Parses a decimal amount: an optional leading '-', one or more digits, then optionally '.' or
  // ',' and one or two digits ("1234.50", "1234,5", "-0.05", "7"). Anything else (whitespace,
  // '+', thousands separators, a third decimal, an amount beyond int64 cents, a malformed
  // currency code) is INVALID_ARGUMENT.
  static absl::StatusOr<Money> Parse(absl::string_view text,
                                     absl::string_view currency = kDefaultCurrency);

  int64_t minor_units() const { return minor_units_; }
  absl::string_view currency() const { return absl::string_view(currency_.data(), 3); }

  // Always two decimals with '.', no currency and no grouping: "1234.50", "-0.05", "0.00".
  // Parse(m.ToString(), m.currency()) == m for every m.
  std::string ToString() const;

  // Same amount and same currency.
  friend bool operator==(const Money& a, const Money& b) = default;

 private:
  Money(int64_t minor_units, std::array<char, 3> currency)
      : minor_units_(minor_units), currency_(currency) {}

  int64_t minor_units_ = 0;
  std::array<char, 3> currency_ = {'E', 'U', 'R'};
};

// "1234.50 EUR"; lets test frameworks print a Money.
std::ostream& operator<<(std::ostream& out, const Money& money);

// Checked arithmetic. A result outside int64 cents is OUT_OF_RANGE; operands of different
// currencies are INVALID_ARGUMENT. Results keep the operands' currency.
absl::StatusOr<Money> Add(Money a, Money b);
absl::StatusOr<Money> Subtract(Money a, Money b);
absl::StatusOr<Money> Negate(Money amount);
absl::StatusOr<Money> MultiplyByInt(Money amount, int64_t factor);

// numerator / denominator rounded to the nearest integer, halves away from zero:
// 5/2 -> 3, -5/2 -> -3, 7/3 -> 2, -7/3 -> -2. Exact for every input.
// REQUIRES: denominator > 0, and the rounded result fits in int64_t; a violation aborts the
// process.
int64_t RoundHalfAwayFromZero(__int128 numerator, __int128 denominator);

// An exact rational rate such as a VAT or withholding percentage. Parsed rates keep the precision
// they were written with: ParsePercent("25.5") is 255/1000, ParsePercent("7.15") is 715/10000.
class Rate {
 public:
  // INVALID_ARGUMENT unless denominator > 0.
  static absl::StatusOr<Rate> FromFraction(int64_t numerator, int64_t denominator);

  // A percentage: an optional '-', digits, optionally '.' or ',' and up to 16 decimals, and an
  // optional trailing '%' ("25.5", "7,15%", "0"). INVALID_ARGUMENT for anything else or for a
  // rate whose numerator would not fit in int64.
  static absl::StatusOr<Rate> ParsePercent(absl::string_view text);

  // Basis points (1 bp = 0.01 %), same syntax as ParsePercent without '%' and up to 14
  // decimals: ParseBasisPoints("25") is 25/10000.
  static absl::StatusOr<Rate> ParseBasisPoints(absl::string_view text);

  int64_t numerator() const { return numerator_; }
  int64_t denominator() const { return denominator_; }

  // As a percentage without trailing zeros when the rate is a terminating decimal: "25.5%",
  // "7.15%", "-3%", "0%". Otherwise as a plain fraction (not a percentage): "1/3".
  std::string ToString() const;

  // Equal values: 255/1000 == 51/200.
  friend bool operator==(const Rate& a, const Rate& b);

 private:
  Rate(int64_t numerator, int64_t denominator) : numerator_(numerator), denominator_(denominator) {}

  int64_t numerator_;
  int64_t denominator_;
};

std::ostream& operator<<(std::ostream& out, const Rate& rate);

// amount * rate_numerator / rate_denominator, rounded once with RoundHalfAwayFromZero.
// INVALID_ARGUMENT unless rate_denominator > 0; OUT_OF_RANGE if the result exceeds int64 cents.
absl::StatusOr<Money> MultiplyByRate(Money amount, int64_t rate_numerator,
                                     int64_t rate_denominator);
absl::StatusOr<Money> MultiplyByRate(Money amount, Rate rate);

// Splits `total` into `parts` amounts that differ by at most one cent and sum to `total`. The
// leftover cents go one each to the first parts, with the sign of the total:
// 100 into 3 -> 34, 33, 33; -100 into 3 -> -34, -33, -33. INVALID_ARGUMENT if parts <= 0.
absl::StatusOr<std::vector<Money>> Allocate(Money total, int parts);

// Splits `total` in proportion to `weights` with the largest-remainder method: each part first
// gets its share rounded toward zero, then the leftover cents go one each to the parts with the
// largest remainders, an earlier index winning a tie. The parts always sum to `total` exactly, a
// zero weight always gets zero, and a negative total splits as the mirror image of the positive
// one. Equal weights give the same result as Allocate.
// INVALID_ARGUMENT for no weights, a negative weight, or only zero weights.
absl::StatusOr<std::vector<Money>> AllocateByWeights(Money total,
                                                     absl::Span<const int64_t> weights);

}  // namespace tahe::money
