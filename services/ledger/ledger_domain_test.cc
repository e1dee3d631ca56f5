#include "services/ledger/ledger_domain.h"

#include <catch2/catch.hpp>

namespace tahe::ledger {
namespace {

v1::EntryDraft Draft(std::vector<std::pair<std::string, int64_t>> lines,
                     std::string date = "2026-03-15") {
  v1::EntryDraft d;
  d.set_entry_date(date);
  d.set_description("test");
  d.mutable_source()->set_system("manual");
  for (const auto& [account, amount] : lines) {
    v1::EntryLine* l = d.add_lines();
    l->set_account(account);
    l->mutable_amount()->set_amount_minor(amount);
  }
  return d;
}

TEST_CASE("a balanced two-line entry is valid") {
  REQUIRE(ValidateDraft(Draft({{"1910", 1000}, {"3000", -1000}}), "entry").ok());
}

TEST_CASE("invalid drafts name the offending field") {
  struct Case {
    v1::EntryDraft draft;
    std::string field;
  };
  std::vector<Case> cases;
  cases.push_back(
      {Draft({{"1910", 1000}, {"3000", -999}}), "entry.lines: entry does not balance in EUR"});
  cases.push_back({Draft({{"1910", 1000}}), "entry.lines: an entry needs at least two lines"});
  cases.push_back({Draft({{"1910", 0}, {"3000", 0}}), "entry.lines[0].amount.amount_minor"});
  cases.push_back({Draft({{"19x0", 1000}, {"3000", -1000}}), "entry.lines[0].account"});
  cases.push_back({Draft({{"1910", 1000}, {"30", -1000}}), "entry.lines[1].account"});
  cases.push_back({Draft({{"1910", 1}, {"3000", -1}}, "2026-02-30"), "entry.entry_date"});
  cases.push_back({Draft({{"1910", 1}, {"3000", -1}}, "15.3.2026"), "entry.entry_date"});
  {
    auto d = Draft({{"1910", 1}, {"3000", -1}});
    d.mutable_source()->clear_system();
    cases.push_back({d, "entry.source.system"});
  }
  {
    auto d = Draft({{"1910", 1}, {"3000", -1}});
    d.mutable_lines(1)->mutable_amount()->set_currency_code("eur");
    cases.push_back({d, "entry.lines[1].amount.currency_code"});
  }
  {
    auto d = Draft({{"1910", 1}, {"3000", -1}});
    (*d.mutable_lines(0)->mutable_dimensions())["Cost Centre"] = "x";
    cases.push_back({d, "entry.lines[0].dimensions"});
  }
  {
    auto d = Draft({{"1910", 1}, {"3000", -1}});
    (*d.mutable_lines(0)->mutable_dimensions())["cost_centre"] = "";
    cases.push_back({d, "entry.lines[0].dimensions[cost_centre]"});
  }
  {
    auto d = Draft({{"1910", 1}, {"3000", -1}});
    d.set_description(std::string(501, 'x'));
    cases.push_back({d, "entry.description"});
  }
  for (const Case& c : cases) {
    absl::Status s = ValidateDraft(c.draft, "entry");
    INFO(s.ToString());
    REQUIRE(s.code() == absl::StatusCode::kInvalidArgument);
    REQUIRE(std::string(s.message()).rfind(c.field, 0) == 0);
  }
}

TEST_CASE("balance is checked per currency") {
  auto d = Draft({{"1910", 1000}, {"3000", -1000}, {"1920", 500}, {"3001", -500}});
  d.mutable_lines(2)->mutable_amount()->set_currency_code("SEK");
  REQUIRE_FALSE(ValidateDraft(d, "entry").ok());
  d.mutable_lines(3)->mutable_amount()->set_currency_code("SEK");
  REQUIRE(ValidateDraft(d, "entry").ok());
}

TEST_CASE("line amounts are bounded so no sum can overflow") {
  auto d = Draft({{"1910", INT64_MAX}, {"1920", 1}, {"3000", -1}});
  absl::Status s = ValidateDraft(d, "entry");
  REQUIRE(s.code() == absl::StatusCode::kInvalidArgument);
  REQUIRE(std::string(s.message()).rfind("entry.lines[0].amount.amount_minor", 0) == 0);
  REQUIRE_FALSE(ValidateDraft(Draft({{"1910", INT64_MIN}, {"3000", INT64_MIN}}), "entry").ok());
  // The largest entry of the largest lines still sums exactly.
  v1::EntryDraft big = Draft({});
  for (int i = 0; i < kMaxLinesPerEntry; ++i) {
    auto* line = big.add_lines();
    line->set_account(i % 2 == 0 ? "1910" : "3000");
    line->mutable_amount()->set_amount_minor(i % 2 == 0 ? kMaxAbsAmountMinor : -kMaxAbsAmountMinor);
  }
  REQUIRE(ValidateDraft(big, "entry").ok());
  REQUIRE(SumByCurrency(big).value()[0].second == 0);
}

TEST_CASE("free text refuses control characters but keeps tabs and newlines") {
  REQUIRE(CheckText("entry.description", "Line one\nline\ttwo").ok());
  REQUIRE(CheckText("entry.description", std::string("a\0b", 3)).message() ==
          "entry.description: contains a control character");
  REQUIRE_FALSE(CheckText("x", "\x1b[31m").ok());
}

TEST_CASE("the hash chain covers every field and links to the previous hash") {
  auto d = Draft({{"1910", 1000}, {"3000", -1000}});
  (*d.mutable_lines(0)->mutable_dimensions())["cost_centre"] = "100";
  std::string base = CanonicalEntry("lahti", 1, "r1", d, 0);
  std::string h = ChainHash(GenesisHash(), base);
  REQUIRE(h.size() == 32);
  REQUIRE(h == ChainHash(GenesisHash(), CanonicalEntry("lahti", 1, "r1", d, 0)));
  REQUIRE(h != ChainHash(std::string(32, '\x01'), base));
  auto changed = [&](auto mutate) {
    auto copy = d;
    mutate(copy);
    return CanonicalEntry("lahti", 1, "r1", copy, 0) != base;
  };
  REQUIRE(changed([](v1::EntryDraft& x) { x.set_entry_date("2026-03-16"); }));
  REQUIRE(changed([](v1::EntryDraft& x) { x.set_description("other"); }));
  REQUIRE(changed([](v1::EntryDraft& x) { x.mutable_source()->set_reference("z"); }));
  REQUIRE(changed([](v1::EntryDraft& x) { x.mutable_lines(0)->set_account("1911"); }));
  REQUIRE(changed(
      [](v1::EntryDraft& x) { x.mutable_lines(0)->mutable_amount()->set_amount_minor(1001); }));
  REQUIRE(changed([](v1::EntryDraft& x) {
    (*x.mutable_lines(0)->mutable_dimensions())["cost_centre"] = "101";
  }));
  REQUIRE(changed([](v1::EntryDraft& x) { x.mutable_lines(1)->set_text("t"); }));
  REQUIRE(CanonicalEntry("vaasa", 1, "r1", d, 0) != base);
  REQUIRE(CanonicalEntry("lahti", 2, "r1", d, 0) != base);
  REQUIRE(CanonicalEntry("lahti", 1, "r1", d, 7) != base);
  // Length prefixes: moving a character between fields changes the encoding.
  auto a = d, b = d;
  a.set_description("ab");
  a.mutable_source()->set_system("c");
  b.set_description("a");
  b.mutable_source()->set_system("bc");
  REQUIRE(CanonicalEntry("t", 1, "r", a, 0) != CanonicalEntry("t", 1, "r", b, 0));
  // Empty currency and EUR are the same entry.
  auto eur = d;
  eur.mutable_lines(0)->mutable_amount()->set_currency_code("EUR");
  eur.mutable_lines(1)->mutable_amount()->set_currency_code("EUR");
  REQUIRE(CanonicalEntry("lahti", 1, "r1", eur, 0) == base);
}

TEST_CASE("a reversal negates every line and keeps dimensions") {
  v1::Entry original;
  original.set_sequence(12);
  original.set_entry_date("2026-03-15");
  auto d = Draft({{"4000", 250000}, {"1910", -250000}});
  (*d.mutable_lines(0)->mutable_dimensions())["cost_centre"] = "200";
  *original.mutable_lines() = d.lines();
  v1::EntryDraft r = ReversalDraft(original, "", "");
  REQUIRE(r.entry_date() == "2026-03-15");
  REQUIRE(r.lines(0).amount().amount_minor() == -250000);
  REQUIRE(r.lines(1).amount().amount_minor() == 250000);
  REQUIRE(r.lines(0).dimensions().at("cost_centre") == "200");
  REQUIRE(r.source().reference() == "12");
  REQUIRE(ValidateDraft(r, "reversal").ok());
  REQUIRE(ReversalDraft(original, "2026-04-01", "").entry_date() == "2026-04-01");
}

TEST_CASE("dates and periods") {
  REQUIRE(FormatDate(ParseDate("d", "2024-02-29").value()) == "2024-02-29");
  REQUIRE_FALSE(ParseDate("d", "2025-02-29").ok());
  REQUIRE(PeriodOf(ParseDate("d", "2026-12-31").value()) == "2026-12");
  REQUIRE(ParsePeriod("p", "2026-13").status().message() ==
          "p: \"2026-13\" is not a period YYYY-MM");
  REQUIRE(FormatPeriod(ParsePeriod("p", "2026-01").value()) == "2026-01");
}

TEST_CASE("the municipal template follows the JHS 192 ranges") {
  auto chart = LoadTemplate("fi-municipal").value();
  REQUIRE(chart.accounts.size() > 40);
  for (const auto& a : chart.accounts) {
    char first = a.number()[0];
    if (first == '1') {
      REQUIRE(a.type() == v1::ACCOUNT_TYPE_ASSET);
    }
    if (first == '3') {
      REQUIRE(a.type() == v1::ACCOUNT_TYPE_INCOME);
    }
    if (first == '4') {
      REQUIRE(a.type() == v1::ACCOUNT_TYPE_EXPENSE);
    }
  }
  auto region = LoadTemplate("fi-wellbeing-region").value();
  REQUIRE(std::none_of(region.accounts.begin(), region.accounts.end(),
                       [](const v1::Account& a) { return a.number() == "5000"; }));
  REQUIRE(LoadTemplate("nope").status().code() == absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tahe::ledger
