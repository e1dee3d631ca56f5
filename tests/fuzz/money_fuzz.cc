// Fuzzes amount and rate parsing (libs/money/money.h): amounts and percentages as callers type
// them. The whole input is the text, read as an amount, as a percentage and as basis points.
//
// Invariants: Money::Parse accepts exactly the documented grammar ([-]digits[(.|,)d[d]] within
// int64 cents), checked against an independent reading with 128-bit arithmetic, and
// Parse(m.ToString()) == m; a parsed rate prints as a percentage that parses back to an equal
// rate; Allocate and AllocateByWeights hand out the parsed amount cent for cent; MultiplyByRate
// rounds as an exact 128-bit computation does.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "libs/money/money.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

using tahe::money::Money;
using tahe::money::Rate;

// The documented grammar, read independently: nullopt unless Money::Parse must accept the text.
std::optional<int64_t> ExpectedCents(absl::string_view text) {
  bool negative = false;
  if (!text.empty() && text[0] == '-') {
    negative = true;
    text.remove_prefix(1);
  }
  __int128 value = 0;
  size_t i = 0;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
    value = value * 10 + (text[i] - '0');
    if (value > (__int128{1} << 64)) {
      return std::nullopt;
    }
  }
  if (i == 0) {
    return std::nullopt;
  }
  int decimals = 0;
  __int128 fraction = 0;
  if (i < text.size()) {
    if (text[i] != '.' && text[i] != ',') {
      return std::nullopt;
    }
    for (++i; i < text.size() && text[i] >= '0' && text[i] <= '9' && decimals < 3; ++i) {
      fraction = fraction * 10 + (text[i] - '0');
      ++decimals;
    }
    if (i != text.size() || decimals == 0 || decimals > 2) {
      return std::nullopt;
    }
  }
  __int128 cents = value * 100 + (decimals == 1 ? fraction * 10 : fraction);
  if (negative) {
    cents = -cents;
  }
  if (cents < std::numeric_limits<int64_t>::min() || cents > std::numeric_limits<int64_t>::max()) {
    return std::nullopt;
  }
  return static_cast<int64_t>(cents);
}

// Half away from zero, in 128 bits.
__int128 Rounded(__int128 numerator, __int128 denominator) {
  const __int128 magnitude = numerator < 0 ? -numerator : numerator;
  const __int128 remainder = magnitude % denominator;
  const __int128 rounded = magnitude / denominator + (remainder >= denominator - remainder ? 1 : 0);
  return numerator < 0 ? -rounded : rounded;
}

void CheckRate(const absl::StatusOr<Rate>& rate) {
  if (!rate.ok()) {
    FUZZ_CHECK(rate.status().code() == absl::StatusCode::kInvalidArgument);
    return;
  }
  FUZZ_CHECK(rate->denominator() > 0);
  const std::string printed = rate->ToString();
  if (absl::EndsWith(printed, "%")) {
    const absl::StatusOr<Rate> again = Rate::ParsePercent(printed);
    FUZZ_CHECK(again.ok() && *again == *rate);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);

  const absl::StatusOr<Money> money = Money::Parse(text);
  const std::optional<int64_t> expected = ExpectedCents(text);
  FUZZ_CHECK(money.ok() == expected.has_value());
  const absl::StatusOr<Rate> percent = Rate::ParsePercent(text);
  const absl::StatusOr<Rate> basis_points = Rate::ParseBasisPoints(text);
  CheckRate(percent);
  CheckRate(basis_points);
  if (!money.ok()) {
    FUZZ_CHECK(money.status().code() == absl::StatusCode::kInvalidArgument);
    return 0;
  }
  FUZZ_CHECK(money->minor_units() == *expected);
  FUZZ_CHECK(money->currency() == "EUR");
  const std::string printed = money->ToString();
  const absl::StatusOr<Money> again = Money::Parse(printed);
  FUZZ_CHECK(again.ok() && *again == *money);
  FUZZ_CHECK(Money::Parse(text, "SEK").value().minor_units() == money->minor_units());

  // Every parsed amount splits into parts that add up to it exactly.
  const int parts = 1 + static_cast<int>(size % 7);
  const absl::StatusOr<std::vector<Money>> split = tahe::money::Allocate(*money, parts);
  FUZZ_CHECK(split.ok() && split->size() == static_cast<size_t>(parts));
  __int128 sum = 0;
  for (const Money& part : *split) {
    sum += part.minor_units();
    const __int128 difference =
        static_cast<__int128>(part.minor_units()) - (*split)[0].minor_units();
    FUZZ_CHECK(difference >= -1 && difference <= 1);
  }
  FUZZ_CHECK(sum == money->minor_units());
  const int64_t weights[] = {static_cast<int64_t>(size), 0, 3, 1'000'000'007};
  const absl::StatusOr<std::vector<Money>> weighted =
      tahe::money::AllocateByWeights(*money, weights);
  FUZZ_CHECK(weighted.ok() && weighted->size() == 4 && (*weighted)[1].minor_units() == 0);
  sum = 0;
  for (const Money& part : *weighted) {
    sum += part.minor_units();
  }
  FUZZ_CHECK(sum == money->minor_units());

  // The amount at its own value as a percentage, when that parsed too.
  if (percent.ok()) {
    const absl::StatusOr<Money> product = tahe::money::MultiplyByRate(*money, *percent);
    const __int128 exact = Rounded(
        static_cast<__int128>(money->minor_units()) * percent->numerator(), percent->denominator());
    const bool fits = exact >= std::numeric_limits<int64_t>::min() &&
                      exact <= std::numeric_limits<int64_t>::max();
    FUZZ_CHECK(product.ok() == fits);
    if (fits) {
      FUZZ_CHECK(product->minor_units() == static_cast<int64_t>(exact));
    }
  }
  return 0;
}
