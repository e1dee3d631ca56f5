#include "libs/money/money.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_replace.h"

namespace tahe::money {
namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();

Money Eur(int64_t cents) { return Money::FromMinor(cents); }

std::vector<int64_t> Cents(const std::vector<Money>& amounts) {
  std::vector<int64_t> cents;
  for (const Money& amount : amounts) {
    cents.push_back(amount.minor_units());
  }
  return cents;
}

__int128 Sum(const std::vector<Money>& amounts) {
  __int128 sum = 0;
  for (const Money& amount : amounts) {
    sum += amount.minor_units();
  }
  return sum;
}

__int128 Abs(__int128 value) { return value < 0 ? -value : value; }

// ---------------------------------------------------------------------------------------------
// Construction, parsing and formatting

TEST_CASE("FromMinor keeps the amount and defaults to euros") {
  Money amount = Money::FromMinor(123450);
  REQUIRE(amount.minor_units() == 123450);
  REQUIRE(amount.currency() == "EUR");
  REQUIRE(Money::FromMinor(-5, "SEK").currency() == "SEK");
  REQUIRE(Money() == Money::FromMinor(0, "EUR"));
  REQUIRE(Money::FromMinor(1, "EUR") != Money::FromMinor(1, "SEK"));
  REQUIRE(Money::FromMinor(1, "EUR") != Money::FromMinor(2, "EUR"));
}

TEST_CASE("Create and Parse reject malformed currency codes") {
  for (const char* code : {"", "EU", "EURO", "eur", "Eur", "E1R", "E R"}) {
    CAPTURE(code);
    REQUIRE_FALSE(IsValidCurrencyCode(code));
    REQUIRE(Money::Create(1, code).status().code() == absl::StatusCode::kInvalidArgument);
    REQUIRE(Money::Parse("1.00", code).status().code() == absl::StatusCode::kInvalidArgument);
  }
  REQUIRE(IsValidCurrencyCode("USD"));
  REQUIRE(Money::Create(7, "USD").value() == Money::FromMinor(7, "USD"));
  REQUIRE(Money::Parse("1.00", "USD").value() == Money::FromMinor(100, "USD"));
}

TEST_CASE("Parse accepts dot or comma and at most two decimals") {
  struct Case {
    const char* text;
    int64_t cents;
  };
  const Case cases[] = {
      {"1234.50", 123450},
      {"1234,50", 123450},
      {"1234.5", 123450},
      {"1234,5", 123450},
      {"1234", 123400},
      {"-0.05", -5},
      {"-0,05", -5},
      {"0.01", 1},
      {"0", 0},
      {"-0", 0},
      {"-0.00", 0},
      {"007.10", 710},
      {"-12.3", -1230},
      {"92233720368547758.07", kMax},
      {"-92233720368547758.08", kMin},
  };
  for (const Case& c : cases) {
    CAPTURE(c.text);
    absl::StatusOr<Money> parsed = Money::Parse(c.text);
    REQUIRE(parsed.ok());
    REQUIRE(parsed->minor_units() == c.cents);
    REQUIRE(parsed->currency() == "EUR");
  }
}

TEST_CASE("Parse rejects garbage, extra decimals and overflow with INVALID_ARGUMENT") {
  for (const char* text : {"",
                           "-",
                           ".5",
                           "-.5",
                           "5.",
                           "5,",
                           "1.234",
                           "0.001",
                           "1.2.3",
                           "1,2,3",
                           "1.2,3",
                           "+5",
                           " 5",
                           "5 ",
                           "1 234,50",
                           "1_000",
                           "abc",
                           "12a",
                           "--5",
                           "5-",
                           "1e5",
                           "0x10",
                           "5%",
                           "€5",
                           "92233720368547758.08",
                           "-92233720368547758.09",
                           "100000000000000000",
                           "99999999999999999999999999999999999999999"}) {
    CAPTURE(text);
    REQUIRE(Money::Parse(text).status().code() == absl::StatusCode::kInvalidArgument);
  }
}

TEST_CASE("Parse error messages quote the input") {
  absl::Status status = Money::Parse("12,345").status();
  REQUIRE(status.message().find("\"12,345\"") != absl::string_view::npos);
}

TEST_CASE("ToString always has two decimals and a leading minus for negatives") {
  struct Case {
    int64_t cents;
    const char* text;
  };
  const Case cases[] = {
      {123450, "1234.50"},
      {-5, "-0.05"},
      {0, "0.00"},
      {1, "0.01"},
      {10, "0.10"},
      {-100, "-1.00"},
      {-199, "-1.99"},
      {kMax, "92233720368547758.07"},
      {kMin, "-92233720368547758.08"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.cents);
    REQUIRE(Eur(c.cents).ToString() == c.text);
  }
}

TEST_CASE("Parse and ToString round-trip, with either decimal separator") {
  std::vector<int64_t> samples;
  for (int64_t cents = -20000; cents <= 20000; ++cents) {
    samples.push_back(cents);
  }
  for (int64_t offset = 0; offset < 1000; ++offset) {
    samples.push_back(kMax - offset);
    samples.push_back(kMin + offset);
  }
  for (int64_t cents : samples) {
    Money amount = Money::FromMinor(cents, "SEK");
    std::string text = amount.ToString();
    absl::StatusOr<Money> dot = Money::Parse(text, "SEK");
    absl::StatusOr<Money> comma = Money::Parse(absl::StrReplaceAll(text, {{".", ","}}), "SEK");
    if (!dot.ok() || *dot != amount || !comma.ok() || *comma != amount) {
      FAIL("round trip failed for " << cents << " via " << text);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Checked arithmetic

TEST_CASE("Add, Subtract, Negate and MultiplyByInt compute exact results") {
  REQUIRE(Add(Eur(150), Eur(-275)).value() == Eur(-125));
  REQUIRE(Subtract(Eur(150), Eur(-275)).value() == Eur(425));
  REQUIRE(Negate(Eur(42)).value() == Eur(-42));
  REQUIRE(Negate(Eur(0)).value() == Eur(0));
  REQUIRE(MultiplyByInt(Eur(-333), 3).value() == Eur(-999));
  REQUIRE(MultiplyByInt(Eur(333), 0).value() == Eur(0));
  REQUIRE(Add(Money::FromMinor(1, "SEK"), Money::FromMinor(2, "SEK")).value() ==
          Money::FromMinor(3, "SEK"));
}

TEST_CASE("arithmetic at the int64 limits succeeds exactly up to the limit") {
  REQUIRE(Add(Eur(kMax - 1), Eur(1)).value() == Eur(kMax));
  REQUIRE(Add(Eur(kMin + 1), Eur(-1)).value() == Eur(kMin));
  REQUIRE(Add(Eur(kMax), Eur(kMin)).value() == Eur(-1));
  REQUIRE(Subtract(Eur(kMin + 1), Eur(1)).value() == Eur(kMin));
  REQUIRE(Subtract(Eur(-1), Eur(kMax)).value() == Eur(kMin));
  REQUIRE(Negate(Eur(kMax)).value() == Eur(kMin + 1));
  REQUIRE(Negate(Eur(kMin + 1)).value() == Eur(kMax));
  REQUIRE(MultiplyByInt(Eur(kMax), 1).value() == Eur(kMax));
  REQUIRE(MultiplyByInt(Eur(kMax), -1).value() == Eur(kMin + 1));
  REQUIRE(MultiplyByInt(Eur(kMin / 2), 2).value() == Eur(kMin));
}

TEST_CASE("arithmetic overflow is OUT_OF_RANGE") {
  auto out_of_range = [](const absl::StatusOr<Money>& result) {
    return result.status().code() == absl::StatusCode::kOutOfRange;
  };
  REQUIRE(out_of_range(Add(Eur(kMax), Eur(1))));
  REQUIRE(out_of_range(Add(Eur(kMin), Eur(-1))));
  REQUIRE(out_of_range(Add(Eur(kMax), Eur(kMax))));
  REQUIRE(out_of_range(Add(Eur(kMin), Eur(kMin))));
  REQUIRE(out_of_range(Subtract(Eur(kMin), Eur(1))));
  REQUIRE(out_of_range(Subtract(Eur(kMax), Eur(-1))));
  REQUIRE(out_of_range(Subtract(Eur(0), Eur(kMin))));
  REQUIRE(out_of_range(Negate(Eur(kMin))));
  REQUIRE(out_of_range(MultiplyByInt(Eur(kMax), 2)));
  REQUIRE(out_of_range(MultiplyByInt(Eur(kMin), -1)));
  REQUIRE(out_of_range(MultiplyByInt(Eur(-1), kMin)));
  REQUIRE(out_of_range(MultiplyByInt(Eur(kMax / 2 + 1), 2)));
  REQUIRE(out_of_range(MultiplyByInt(Eur(4294967296), 4294967296)));
}

TEST_CASE("mixing currencies is INVALID_ARGUMENT") {
  Money eur = Money::FromMinor(100, "EUR");
  Money sek = Money::FromMinor(100, "SEK");
  REQUIRE(Add(eur, sek).status().code() == absl::StatusCode::kInvalidArgument);
  REQUIRE(Subtract(eur, sek).status().code() == absl::StatusCode::kInvalidArgument);
  REQUIRE(Add(eur, sek).status().message() == "currency mismatch: EUR and SEK");
}

// ---------------------------------------------------------------------------------------------
// Rounding

TEST_CASE("RoundHalfAwayFromZero rounds halves away from zero for both signs") {
  struct Case {
    int64_t numerator;
    int64_t denominator;
    int64_t rounded;
  };
  const Case cases[] = {
      {5, 2, 3},         {-5, 2, -3},         {3, 2, 2},     {-3, 2, -2},     {1, 2, 1},
      {-1, 2, -1},       {4, 2, 2},           {-4, 2, -2},   {7, 3, 2},       {-7, 3, -2},
      {8, 3, 3},         {-8, 3, -3},         {0, 7, 0},     {149, 100, 1},   {150, 100, 2},
      {-149, 100, -1},   {-150, 100, -2},     {151, 100, 2}, {-151, 100, -2}, {250, 100, 3},
      {-250, 100, -3},   {49, 100, 0},        {-49, 100, 0}, {50, 100, 1},    {-50, 100, -1},
      {12345, 1, 12345}, {-12345, 1, -12345},
  };
  for (const Case& c : cases) {
    CAPTURE(c.numerator, c.denominator);
    REQUIRE(RoundHalfAwayFromZero(c.numerator, c.denominator) == c.rounded);
  }
}

TEST_CASE("RoundHalfAwayFromZero matches the floor((2n + d) / 2d) reference everywhere") {
  auto reference = [](int64_t n, int64_t d) -> int64_t {
    // Non-negative operands only, so integer division is floor division.
    int64_t magnitude = (2 * (n < 0 ? -n : n) + d) / (2 * d);
    return n < 0 ? -magnitude : magnitude;
  };
  for (int64_t d = 1; d <= 64; ++d) {
    for (int64_t n = -2000; n <= 2000; ++n) {
      if (RoundHalfAwayFromZero(n, d) != reference(n, d)) {
        FAIL("mismatch for " << n << "/" << d);
      }
    }
  }
}

TEST_CASE("RoundHalfAwayFromZero is exact for 128-bit operands near the int64 limits") {
  const __int128 max = kMax;
  const __int128 min = kMin;
  REQUIRE(RoundHalfAwayFromZero(max * 1000 + 499, 1000) == kMax);
  REQUIRE(RoundHalfAwayFromZero(max * 1000 - 500, 1000) == kMax);
  REQUIRE(RoundHalfAwayFromZero(min * 1000 - 499, 1000) == kMin);
  REQUIRE(RoundHalfAwayFromZero(min * 1000 + 500, 1000) == kMin);
  REQUIRE(RoundHalfAwayFromZero(min * 1000 + 501, 1000) == kMin + 1);
  // Huge denominators: the remainder comparison must not overflow.
  const __int128 huge = (static_cast<__int128>(1) << 126) + 1;
  REQUIRE(RoundHalfAwayFromZero(huge / 2, huge) == 0);
  REQUIRE(RoundHalfAwayFromZero(huge / 2 + 1, huge) == 1);
  REQUIRE(RoundHalfAwayFromZero(-(huge / 2 + 1), huge) == -1);
  REQUIRE(RoundHalfAwayFromZero(huge - 1, huge) == 1);
}

TEST_CASE("MultiplyByRate rounds once, half away from zero") {
  struct Case {
    int64_t cents;
    int64_t numerator;
    int64_t denominator;
    int64_t expected;
  };
  const Case cases[] = {
      {123450, 255, 1000, 31480},  // 314.7975
      {-123450, 255, 1000, -31480},
      {10, 255, 1000, 3},  // 2.55
      {-10, 255, 1000, -3},
      {2, 1, 4, 1},  // 0.5
      {-2, 1, 4, -1},
      {1, 1, 2, 1},  // 0.5
      {-1, 1, 2, -1},
      {1, 1, 3, 0},
      {2, 1, 3, 1},  // 0.67
      {-2, 1, 3, -1},
      {20, 1, 40, 1},  // 0.5
      {19, 1, 40, 0},  // 0.475
      {10000, 14, 100, 1400},
      {10000, -14, 100, -1400},
      {10000, 0, 100, 0},
      {kMax, 1000, 1000, kMax},  // The intermediate product is 128-bit.
      {kMin, 1000, 1000, kMin},
      {kMax, kMax, kMax, kMax},
      {kMin, kMax, kMax, kMin},
  };
  for (const Case& c : cases) {
    CAPTURE(c.cents, c.numerator, c.denominator);
    REQUIRE(MultiplyByRate(Eur(c.cents), c.numerator, c.denominator).value() == Eur(c.expected));
  }
}

TEST_CASE("MultiplyByRate reports overflow and bad denominators") {
  REQUIRE(MultiplyByRate(Eur(kMax), 2, 1).status().code() == absl::StatusCode::kOutOfRange);
  REQUIRE(MultiplyByRate(Eur(kMax), 1001, 1000).status().code() == absl::StatusCode::kOutOfRange);
  REQUIRE(MultiplyByRate(Eur(kMin), -1, 1).status().code() == absl::StatusCode::kOutOfRange);
  REQUIRE(MultiplyByRate(Eur(kMin), kMin, 1).status().code() == absl::StatusCode::kOutOfRange);
  REQUIRE(MultiplyByRate(Eur(100), 1, 0).status().code() == absl::StatusCode::kInvalidArgument);
  REQUIRE(MultiplyByRate(Eur(100), 1, -3).status().code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("MultiplyByRate keeps the currency") {
  Money sek = Money::FromMinor(1000, "SEK");
  REQUIRE(MultiplyByRate(sek, 1, 4).value() == Money::FromMinor(250, "SEK"));
}

// ---------------------------------------------------------------------------------------------
// Rates

TEST_CASE("Rate::ParsePercent keeps the written precision exactly") {
  struct Case {
    const char* text;
    int64_t numerator;
    int64_t denominator;
  };
  const Case cases[] = {
      {"25.5", 255, 1000},    {"25,5", 255, 1000},
      {"25.5%", 255, 1000},   {"7.15", 715, 10000},
      {"24", 24, 100},        {"0", 0, 100},
      {"100", 100, 100},      {"-3", -3, 100},
      {"25.50", 2550, 10000}, {"0.0000000000000001", 1, 1000000000000000000},
  };
  for (const Case& c : cases) {
    CAPTURE(c.text);
    absl::StatusOr<Rate> rate = Rate::ParsePercent(c.text);
    REQUIRE(rate.ok());
    REQUIRE(rate->numerator() == c.numerator);
    REQUIRE(rate->denominator() == c.denominator);
  }
}

TEST_CASE("Rate::ParsePercent and ParseBasisPoints reject malformed text") {
  for (const char* text : {"", "%", "abc", "25.5.5", "25 %", " 25", "+1", "25%%", "1e2", ".5", "5.",
                           "0.00000000000000001", "99999999999999999999"}) {
    CAPTURE(text);
    REQUIRE(Rate::ParsePercent(text).status().code() == absl::StatusCode::kInvalidArgument);
  }
  for (const char* text : {"", "25%", "x", "0.000000000000001"}) {
    CAPTURE(text);
    REQUIRE(Rate::ParseBasisPoints(text).status().code() == absl::StatusCode::kInvalidArgument);
  }
}

TEST_CASE("Rate::ParseBasisPoints is hundredths of a percent") {
  Rate bp = Rate::ParseBasisPoints("25").value();
  REQUIRE(bp.numerator() == 25);
  REQUIRE(bp.denominator() == 10000);
  Rate half_bp = Rate::ParseBasisPoints("2.5").value();
  REQUIRE(half_bp.numerator() == 25);
  REQUIRE(half_bp.denominator() == 100000);
  REQUIRE(bp == Rate::ParsePercent("0.25").value());
  REQUIRE(half_bp.ToString() == "0.025%");
}

TEST_CASE("Rate equality compares values, not representations") {
  REQUIRE(Rate::ParsePercent("25.5").value() == Rate::FromFraction(51, 200).value());
  REQUIRE(Rate::ParsePercent("25.50").value() == Rate::ParsePercent("25.5").value());
  REQUIRE_FALSE(Rate::ParsePercent("25.5").value() == Rate::ParsePercent("25.4").value());
  REQUIRE(Rate::FromFraction(0, 7).value() == Rate::ParsePercent("0").value());
}

TEST_CASE("Rate::FromFraction requires a positive denominator") {
  REQUIRE(Rate::FromFraction(1, 0).status().code() == absl::StatusCode::kInvalidArgument);
  REQUIRE(Rate::FromFraction(1, -2).status().code() == absl::StatusCode::kInvalidArgument);
  REQUIRE(Rate::FromFraction(-1, 2).ok());
}

TEST_CASE("Rate::ToString prints exact percentages and falls back to the fraction") {
  REQUIRE(Rate::ParsePercent("25.5").value().ToString() == "25.5%");
  REQUIRE(Rate::ParsePercent("7.15").value().ToString() == "7.15%");
  REQUIRE(Rate::ParsePercent("25.50").value().ToString() == "25.5%");
  REQUIRE(Rate::ParsePercent("24").value().ToString() == "24%");
  REQUIRE(Rate::ParsePercent("0").value().ToString() == "0%");
  REQUIRE(Rate::ParsePercent("-3.5").value().ToString() == "-3.5%");
  REQUIRE(Rate::FromFraction(1, 8).value().ToString() == "12.5%");
  REQUIRE(Rate::FromFraction(-1, 8).value().ToString() == "-12.5%");
  REQUIRE(Rate::FromFraction(3, 1).value().ToString() == "300%");
  REQUIRE(Rate::FromFraction(kMax, 1).value().ToString() == "922337203685477580700%");
  REQUIRE(Rate::FromFraction(1, 3).value().ToString() == "1/3");
  REQUIRE(Rate::FromFraction(-2, 7).value().ToString() == "-2/7");
  // Terminates, but only after 62 decimals.
  REQUIRE(Rate::FromFraction(1, int64_t{1} << 62).value().ToString() == "1/4611686018427387904");
}

TEST_CASE("Rate::ToString round-trips through ParsePercent") {
  for (const char* text : {"25.5", "24", "14", "10", "0", "7.15", "-1.25", "0.0001", "123.456"}) {
    CAPTURE(text);
    Rate rate = Rate::ParsePercent(text).value();
    REQUIRE(Rate::ParsePercent(rate.ToString()).value() == rate);
  }
}

TEST_CASE("MultiplyByRate with a parsed Rate: Finnish VAT examples") {
  Rate vat = Rate::ParsePercent("25.5").value();
  REQUIRE(MultiplyByRate(Eur(10000), vat).value() == Eur(2550));
  REQUIRE(MultiplyByRate(Eur(123450), vat).value() == Eur(31480));
  REQUIRE(MultiplyByRate(Eur(1), Rate::ParsePercent("50").value()).value() == Eur(1));
  REQUIRE(MultiplyByRate(Eur(-1), Rate::ParsePercent("50").value()).value() == Eur(-1));
  REQUIRE(MultiplyByRate(Eur(99), Rate::ParsePercent("14").value()).value() == Eur(14));  // 13.86
}

// ---------------------------------------------------------------------------------------------
// Allocation

TEST_CASE("Allocate gives leftover cents to the first parts, with the total's sign") {
  REQUIRE(Cents(Allocate(Eur(100), 3).value()) == std::vector<int64_t>{34, 33, 33});
  REQUIRE(Cents(Allocate(Eur(-100), 3).value()) == std::vector<int64_t>{-34, -33, -33});
  REQUIRE(Cents(Allocate(Eur(101), 3).value()) == std::vector<int64_t>{34, 34, 33});
  REQUIRE(Cents(Allocate(Eur(1), 3).value()) == std::vector<int64_t>{1, 0, 0});
  REQUIRE(Cents(Allocate(Eur(-1), 3).value()) == std::vector<int64_t>{-1, 0, 0});
  REQUIRE(Cents(Allocate(Eur(0), 2).value()) == std::vector<int64_t>{0, 0});
  REQUIRE(Cents(Allocate(Eur(99), 1).value()) == std::vector<int64_t>{99});
}

TEST_CASE("Allocate rejects a non-positive number of parts") {
  REQUIRE(Allocate(Eur(100), 0).status().code() == absl::StatusCode::kInvalidArgument);
  REQUIRE(Allocate(Eur(100), -3).status().code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("Allocate handles the int64 limits") {
  REQUIRE(Cents(Allocate(Eur(kMin), 1).value()) == std::vector<int64_t>{kMin});
  REQUIRE(Cents(Allocate(Eur(kMin), 2).value()) == std::vector<int64_t>{kMin / 2, kMin / 2});
  REQUIRE(Cents(Allocate(Eur(kMax), 2).value()) == std::vector<int64_t>{kMax / 2 + 1, kMax / 2});
  for (int parts = 1; parts <= 50; ++parts) {
    for (int64_t total : {kMin, kMin + 1, kMax, kMax - 1}) {
      std::vector<Money> split = Allocate(Eur(total), parts).value();
      REQUIRE(Sum(split) == total);
    }
  }
}

TEST_CASE("Allocate: exhaustive properties for totals -1000..1000 and 1..12 parts") {
  for (int64_t total = -1000; total <= 1000; ++total) {
    for (int parts = 1; parts <= 12; ++parts) {
      Money amount = Money::FromMinor(total, "SEK");
      std::vector<Money> split = Allocate(amount, parts).value();
      bool ok = static_cast<int>(split.size()) == parts && Sum(split) == total;
      auto [smallest, largest] = std::minmax_element(
          split.begin(), split.end(),
          [](const Money& a, const Money& b) { return a.minor_units() < b.minor_units(); });
      ok = ok && largest->minor_units() - smallest->minor_units() <= 1;
      for (size_t i = 0; i < split.size(); ++i) {
        ok = ok && split[i].currency() == "SEK";
        // Every part has the total's sign (or is zero) ...
        ok = ok && (total >= 0 ? split[i].minor_units() >= 0 : split[i].minor_units() <= 0);
        // ... and the extra cents come first.
        if (i > 0) {
          ok = ok && Abs(split[i - 1].minor_units()) >= Abs(split[i].minor_units());
        }
      }
      // The negative total splits as the mirror image of the positive one.
      std::vector<Money> mirror = Allocate(Money::FromMinor(-total, "SEK"), parts).value();
      for (size_t i = 0; i < split.size(); ++i) {
        ok = ok && mirror[i].minor_units() == -split[i].minor_units();
      }
      // Equal weights split exactly like Allocate.
      std::vector<int64_t> equal_weights(static_cast<size_t>(parts), 7);
      ok = ok && AllocateByWeights(amount, equal_weights).value() == split;
      if (!ok) {
        FAIL("property violated for total " << total << " into " << parts << " parts");
      }
    }
  }
}

TEST_CASE("AllocateByWeights uses largest remainders, earlier index winning ties") {
  auto by_weights = [](int64_t total, std::vector<int64_t> weights) {
    return Cents(AllocateByWeights(Eur(total), weights).value());
  };
  REQUIRE(by_weights(100, {1, 1, 1}) == std::vector<int64_t>{34, 33, 33});
  REQUIRE(by_weights(100, {1, 2}) == std::vector<int64_t>{33, 67});
  REQUIRE(by_weights(-100, {1, 2}) == std::vector<int64_t>{-33, -67});
  REQUIRE(by_weights(10, {0, 1, 0}) == std::vector<int64_t>{0, 10, 0});
  REQUIRE(by_weights(1, {1, 1}) == std::vector<int64_t>{1, 0});
  REQUIRE(by_weights(1, {0, 1, 1}) == std::vector<int64_t>{0, 1, 0});
  // 1.5, 1.5, 2.0: one leftover cent, tie between index 0 and 1.
  REQUIRE(by_weights(5, {3, 3, 4}) == std::vector<int64_t>{2, 1, 2});
  // 0.9, 2.7, 6.4: remainders .9, .7, .4 -> the two leftover cents go to indexes 0 and 1.
  REQUIRE(by_weights(10, {9, 27, 64}) == std::vector<int64_t>{1, 3, 6});
  // VAT-style split of 100.00 between 24 % and 14 % lines worth 300 and 700.
  REQUIRE(by_weights(10000, {300, 700}) == std::vector<int64_t>{3000, 7000});
}

TEST_CASE("AllocateByWeights rejects empty, negative and all-zero weights") {
  REQUIRE(AllocateByWeights(Eur(100), {}).status().code() == absl::StatusCode::kInvalidArgument);
  REQUIRE(AllocateByWeights(Eur(100), {1, -1}).status().code() ==
          absl::StatusCode::kInvalidArgument);
  REQUIRE(AllocateByWeights(Eur(100), {0, 0}).status().code() ==
          absl::StatusCode::kInvalidArgument);
  REQUIRE(AllocateByWeights(Eur(100), {0}).status().code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("AllocateByWeights handles the int64 limits") {
  REQUIRE(Cents(AllocateByWeights(Eur(kMin), {1}).value()) == std::vector<int64_t>{kMin});
  REQUIRE(Cents(AllocateByWeights(Eur(kMin), {1, 1}).value()) ==
          std::vector<int64_t>{kMin / 2, kMin / 2});
  REQUIRE(Cents(AllocateByWeights(Eur(kMin), {0, kMax}).value()) == std::vector<int64_t>{0, kMin});
  std::vector<Money> split = AllocateByWeights(Eur(kMax), {kMax, kMax, 1}).value();
  REQUIRE(Sum(split) == kMax);
  split = AllocateByWeights(Eur(kMin), {kMax, kMax, kMax, 3}).value();
  REQUIRE(Sum(split) == kMin);
}

TEST_CASE("AllocateByWeights: randomized properties with a fixed seed") {
  std::mt19937_64 random(20240601);
  std::uniform_int_distribution<int> length(1, 9);
  std::uniform_int_distribution<int64_t> weight(0, 1000);
  std::uniform_int_distribution<int64_t> big_weight(0, kMax / 16);
  for (int round = 0; round < 20000; ++round) {
    std::vector<int64_t> weights(static_cast<size_t>(length(random)));
    bool big = round % 2 == 1;
    for (int64_t& w : weights) {
      // Make zero weights common so that their handling is exercised.
      w = random() % 4 == 0 ? 0 : (big ? big_weight(random) : weight(random));
    }
    __int128 weight_sum = 0;
    for (int64_t w : weights) {
      weight_sum += w;
    }
    if (weight_sum == 0) {
      weights.back() = 1;
      weight_sum = 1;
    }
    int64_t total = static_cast<int64_t>(random());
    if (round % 3 == 0) {
      total %= 100000;
    }
    std::vector<Money> split = AllocateByWeights(Eur(total), weights).value();
    std::vector<Money> mirror =
        total == kMin ? split : AllocateByWeights(Eur(-total), weights).value();
    bool ok = split.size() == weights.size() && Sum(split) == total;
    for (size_t i = 0; i < split.size(); ++i) {
      // Each part is its exact share rounded down or up in magnitude: |part - share| < 1 cent.
      __int128 error = static_cast<__int128>(split[i].minor_units()) * weight_sum -
                       static_cast<__int128>(total) * weights[i];
      ok = ok && Abs(error) < weight_sum;
      ok = ok && (weights[i] != 0 || split[i].minor_units() == 0);
      ok = ok && (total == kMin || mirror[i].minor_units() == -split[i].minor_units());
    }
    if (!ok) {
      FAIL("property violated in round " << round << " for total " << total);
    }
  }
}

}  // namespace
}  // namespace tahe::money
