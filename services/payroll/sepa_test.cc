#include "services/payroll/sepa.h"

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "libs/testing/xml_schema.h"

#ifndef TAHE_PAIN_001_XSD
#error "TAHE_PAIN_001_XSD (the path of pain.001.001.03.xsd) must be defined by CMake"
#endif

namespace tahe::payroll {
namespace {

// Valid Finnish IBANs from the domain rules (finnish-rules.md §3).
const std::vector<std::string> kIbans = {
    "FI2112345600000785", "FI5542345670000081", "FI5279988090000425", "FI4447327139000428",
    "FI9639585330009437", "FI5367749940003546", "FI3715903000000776",
};
const std::vector<std::string> kNames = {
    "Matti Meikäläinen", "Åsa Öhman", "Liisa Virtanen", "Pekka Ääpälä", "Sean O'Brien",
};

SepaPayment MakePayment(int i) {
  return SepaPayment{
      .end_to_end_id = absl::StrCat("PAYRUN-2026-11-E", i),
      .creditor_name = kNames[i % kNames.size()],
      .creditor_iban = kIbans[i % kIbans.size()],
      .creditor_bic = i % 3 == 0 ? "NDEAFIHH" : "",
      // Varied cents, including round euros and single cents.
      .amount_cents = i % 7 == 0 ? 100'000 + i * 100 : 154'321 + i * 1'337 + i % 97,
      .remittance_information = "Palkka 2026-11",
  };
}

SepaCreditTransfer MakeTransfer(int payments) {
  SepaCreditTransfer transfer;
  transfer.message_id = "PAYRUN-2026-11-1";
  transfer.creation_time =
      absl::FromCivil(absl::CivilSecond(2026, 11, 25, 8, 15, 0), absl::UTCTimeZone());
  transfer.time_zone = absl::FixedTimeZone(2 * 60 * 60);
  transfer.debtor = SepaDebtor{.name = "Esimerkin kunta",
                               .iban = "FI2112345600000785",
                               .bic = "NDEAFIHH",
                               .business_id = "2077474-0"};
  transfer.requested_execution_date = absl::CivilDay(2026, 11, 30);
  transfer.batch_booking = true;
  for (int i = 0; i < payments; ++i) {
    transfer.payments.push_back(MakePayment(i));
  }
  return transfer;
}

// Runs xmllint against the published pain.001.001.03 schema on `xml`.
testing::XmlValidation ValidateAgainstSchema(const std::string& xml) {
  return testing::ValidateXml(xml, TAHE_PAIN_001_XSD);
}

void RequireSchemaAndXmllint() {
  INFO("the schema must be at " << TAHE_PAIN_001_XSD << " (vendored under third_party/schemas)");
  REQUIRE(std::filesystem::is_regular_file(TAHE_PAIN_001_XSD));
  INFO("xmllint must be installed (Debian package libxml2-utils)");
  REQUIRE(testing::XmllintAvailable());
}

// The texts of every <tag ...>text</tag> in document order.
std::vector<std::string> ElementTexts(const std::string& xml, const std::string& tag) {
  std::vector<std::string> texts;
  const std::string open = "<" + tag;
  const std::string close = "</" + tag + ">";
  size_t at = 0;
  while ((at = xml.find(open, at)) != std::string::npos) {
    const char after = xml[at + open.size()];
    if (after != '>' && after != ' ') {
      at += open.size();
      continue;
    }
    const size_t start = xml.find('>', at) + 1;
    const size_t end = xml.find(close, start);
    REQUIRE(end != std::string::npos);
    texts.push_back(xml.substr(start, end - start));
    at = end + close.size();
  }
  return texts;
}

// "1234.50" -> 123450, exactly: digits, a point, two digits; anything else fails the test.
int64_t ParseCents(const std::string& amount) {
  INFO("amount \"" << amount << "\"");
  const size_t point = amount.find('.');
  REQUIRE(point != std::string::npos);
  REQUIRE(point > 0);
  REQUIRE(amount.size() == point + 3);
  int64_t cents = 0;
  for (size_t i = 0; i < amount.size(); ++i) {
    if (i == point) {
      continue;
    }
    REQUIRE((amount[i] >= '0' && amount[i] <= '9'));
    cents = cents * 10 + (amount[i] - '0');
  }
  return cents;
}

TEST_CASE("A file of 1, 3 or 1 000 net pays validates against pain.001.001.03 and sums exactly") {
  RequireSchemaAndXmllint();
  const int count = GENERATE(1, 3, 1000);
  const SepaCreditTransfer transfer = MakeTransfer(count);
  int64_t expected_cents = 0;
  for (const SepaPayment& payment : transfer.payments) {
    expected_cents += payment.amount_cents;
  }

  const absl::StatusOr<std::string> xml = WriteSepaCreditTransfer(transfer);
  REQUIRE(xml.ok());

  const testing::XmlValidation validation = ValidateAgainstSchema(*xml);
  INFO(validation.output);
  CHECK(validation.exit_code == 0);

  // GrpHdr and PmtInf both carry the count and the control sum.
  const std::vector<std::string> counts = ElementTexts(*xml, "NbOfTxs");
  REQUIRE(counts.size() == 2);
  CHECK(counts[0] == std::to_string(count));
  CHECK(counts[1] == std::to_string(count));
  const std::vector<std::string> sums = ElementTexts(*xml, "CtrlSum");
  REQUIRE(sums.size() == 2);
  CHECK(sums[0] == sums[1]);
  CHECK(ParseCents(sums[0]) == expected_cents);

  const std::vector<std::string> amounts = ElementTexts(*xml, "InstdAmt");
  REQUIRE(amounts.size() == static_cast<size_t>(count));
  int64_t written_cents = 0;
  for (size_t i = 0; i < amounts.size(); ++i) {
    CHECK(ParseCents(amounts[i]) == transfer.payments[i].amount_cents);
    written_cents += ParseCents(amounts[i]);
  }
  CHECK(written_cents == expected_cents);
  CHECK(ElementTexts(*xml, "EndToEndId").size() == static_cast<size_t>(count));
}

TEST_CASE("The schema check is live: it refuses a document that breaks the schema") {
  RequireSchemaAndXmllint();
  std::string xml = WriteSepaCreditTransfer(MakeTransfer(1)).value();
  const std::string valid_method = "<PmtMtd>TRF</PmtMtd>";
  const size_t at = xml.find(valid_method);
  REQUIRE(at != std::string::npos);
  xml.replace(at, valid_method.size(), "<PmtMtd>XXX</PmtMtd>");
  const testing::XmlValidation validation = ValidateAgainstSchema(xml);
  INFO(validation.output);
  CHECK(validation.exit_code != 0);
  CHECK(absl::StrContains(validation.output, "PmtMtd"));
}

TEST_CASE("The header carries ids, times, date, batch booking, SEPA and SALA") {
  SepaCreditTransfer transfer = MakeTransfer(1);
  transfer.batch_booking = false;
  const absl::StatusOr<std::string> xml = WriteSepaCreditTransfer(transfer);
  REQUIRE(xml.ok());

  CHECK(absl::StartsWith(*xml,
                         "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Document "
                         "xmlns=\"urn:iso:std:iso:20022:tech:xsd:pain.001.001.03\">"));
  CHECK(ElementTexts(*xml, "MsgId") == std::vector<std::string>{"PAYRUN-2026-11-1"});
  CHECK(ElementTexts(*xml, "PmtInfId") == std::vector<std::string>{"PAYRUN-2026-11-1"});
  CHECK(ElementTexts(*xml, "CreDtTm") == std::vector<std::string>{"2026-11-25T10:15:00+02:00"});
  CHECK(ElementTexts(*xml, "ReqdExctnDt") == std::vector<std::string>{"2026-11-30"});
  CHECK(ElementTexts(*xml, "BtchBookg") == std::vector<std::string>{"false"});
  CHECK(ElementTexts(*xml, "PmtMtd") == std::vector<std::string>{"TRF"});
  CHECK(ElementTexts(*xml, "ChrgBr") == std::vector<std::string>{"SLEV"});
  CHECK(absl::StrContains(*xml, "<SvcLvl>\n          <Cd>SEPA</Cd>"));
  CHECK(absl::StrContains(*xml, "<CtgyPurp>\n          <Cd>SALA</Cd>"));
  CHECK(absl::StrContains(*xml, "<InstdAmt Ccy=\"EUR\">1000.00</InstdAmt>"));
  // The business ID goes into InitgPty and Dbtr with the Finnish scheme code "Y".
  CHECK(ElementTexts(*xml, "SchmeNm").size() == 2);
  CHECK(absl::StrContains(*xml, "<Id>2077474-0</Id>"));
  CHECK(absl::StrContains(*xml, "<Cd>Y</Cd>"));
  CHECK(ElementTexts(*xml, "BIC") == std::vector<std::string>{"NDEAFIHH", "NDEAFIHH"});
}

TEST_CASE("Optional creditor BIC, remittance and business ID are left out when empty") {
  RequireSchemaAndXmllint();
  SepaCreditTransfer transfer = MakeTransfer(2);
  transfer.debtor.business_id.clear();
  transfer.payments[0].creditor_bic.clear();
  transfer.payments[1].creditor_bic.clear();
  transfer.payments[1].remittance_information.clear();
  const absl::StatusOr<std::string> xml = WriteSepaCreditTransfer(transfer);
  REQUIRE(xml.ok());
  const testing::XmlValidation validation = ValidateAgainstSchema(*xml);
  INFO(validation.output);
  CHECK(validation.exit_code == 0);
  CHECK_FALSE(absl::StrContains(*xml, "<CdtrAgt>"));
  CHECK_FALSE(absl::StrContains(*xml, "<OrgId>"));
  CHECK(ElementTexts(*xml, "Ustrd") == std::vector<std::string>{"Palkka 2026-11"});
  CHECK(ElementTexts(*xml, "BIC") == std::vector<std::string>{"NDEAFIHH"});
}

TEST_CASE("Amounts have a decimal point and exactly two decimals") {
  CHECK(FormatSepaAmount(1) == "0.01");
  CHECK(FormatSepaAmount(10) == "0.10");
  CHECK(FormatSepaAmount(100) == "1.00");
  CHECK(FormatSepaAmount(123'450) == "1234.50");
  CHECK(FormatSepaAmount(kSepaMaxAmountCents) == "999999999.99");
  CHECK(FormatSepaAmount(kSepaMaxControlSumCents) == "9999999999999999.99");
}

TEST_CASE("XML special characters are escaped and the file still validates") {
  RequireSchemaAndXmllint();
  SepaCreditTransfer transfer = MakeTransfer(1);
  transfer.debtor.name = "Tili & Palkka Oy";
  transfer.payments[0].creditor_name = "Sean O'Brien";
  transfer.payments[0].remittance_information = "Palkka & lomaraha 2026-11";
  transfer.payments[0].end_to_end_id = "E2E'1";
  const absl::StatusOr<std::string> xml = WriteSepaCreditTransfer(transfer);
  REQUIRE(xml.ok());
  const testing::XmlValidation validation = ValidateAgainstSchema(*xml);
  INFO(validation.output);
  CHECK(validation.exit_code == 0);
  CHECK(ElementTexts(*xml, "Nm") == std::vector<std::string>{"Tili &amp; Palkka Oy",
                                                             "Tili &amp; Palkka Oy",
                                                             "Sean O&apos;Brien"});
  CHECK(ElementTexts(*xml, "Ustrd") == std::vector<std::string>{"Palkka &amp; lomaraha 2026-11"});
  CHECK(ElementTexts(*xml, "EndToEndId") == std::vector<std::string>{"E2E&apos;1"});
  CHECK_FALSE(absl::StrContains(*xml, "O'Brien"));
  CHECK_FALSE(absl::StrContains(*xml, "& "));
}

TEST_CASE("Finnish letters are kept and other Latin letters transliterated") {
  CHECK(ToSepaText("f", "Åsa Öhman-Ääpälä", 70).value() == "Åsa Öhman-Ääpälä");
  CHECK(ToSepaText("f", "Jürgen Müller-Šimić", 70).value() == "Jurgen Muller-Simic");
  CHECK(ToSepaText("f", "Søren Ærø Straße Žižek Łódź", 70).value() ==
        "Soren AEro Strasse Zizek Lodz");
  CHECK(ToSepaText("f", "D\u2019Angelo \u2013 Palkka\u00A0marraskuu", 70).value() ==
        "D'Angelo - Palkka marraskuu");

  RequireSchemaAndXmllint();
  SepaCreditTransfer transfer = MakeTransfer(1);
  transfer.payments[0].creditor_name = "Jürgen Müller-Åström";
  const absl::StatusOr<std::string> xml = WriteSepaCreditTransfer(transfer);
  REQUIRE(xml.ok());
  CHECK(ElementTexts(*xml, "Nm").back() == "Jurgen Muller-Åström");
  const testing::XmlValidation validation = ValidateAgainstSchema(*xml);
  INFO(validation.output);
  CHECK(validation.exit_code == 0);
}

TEST_CASE("Lengths are counted in characters after transliteration") {
  // 140 characters, 40 of them two-byte Finnish letters: accepted.
  const std::string finnish_140 = std::string(100, 'a') + [] {
    std::string s;
    for (int i = 0; i < 40; ++i) {
      s += "ä";
    }
    return s;
  }();
  CHECK(ToSepaText("f", finnish_140, 140).value() == finnish_140);
  CHECK(ToSepaText("f", finnish_140 + "x", 140).status().message() ==
        "f: at most 140 characters, got 141");
  // ß becomes "ss": 69 + 2 characters is one too many for a name.
  CHECK(ToSepaText("f", std::string(69, 'a') + "ß", 70).status().message() ==
        "f: at most 70 characters, got 71");
}

TEST_CASE("Characters outside the SEPA set are refused naming the field") {
  CHECK(ToSepaText("payments[0].creditor_name", "matti@example.fi", 70).status().message() ==
        "payments[0].creditor_name: character U+0040 '@' at position 6 is outside the SEPA "
        "character set");
  CHECK(ToSepaText("f", "Иван", 70).status().message() ==
        "f: character U+0418 at position 1 is outside the SEPA character set");
  CHECK(ToSepaText("f", "a\nb", 70).status().message() ==
        "f: character U+000A at position 2 is outside the SEPA character set");
  CHECK(ToSepaText("f", "a<b", 70).status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(ToSepaText("f", "a\"b", 70).status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(ToSepaText("f", "\xC3", 70).status().message() == "f: not valid UTF-8 at character 1");
  CHECK(ToSepaText("f", "\xC0\xAF", 70).status().message() == "f: not valid UTF-8 at character 1");
  CHECK(ToSepaText("f", " \u00A0 ", 70).status().message() == "f: must not be empty");
}

TEST_CASE("IBANs are written normalised and refused without being quoted") {
  SepaCreditTransfer transfer = MakeTransfer(1);
  transfer.payments[0].creditor_iban = "fi55 4234 5670 0000 81";
  const absl::StatusOr<std::string> xml = WriteSepaCreditTransfer(transfer);
  REQUIRE(xml.ok());
  CHECK(ElementTexts(*xml, "IBAN") ==
        std::vector<std::string>{"FI2112345600000785", "FI5542345670000081"});

  transfer.payments[0].creditor_iban = "FI2112345600000786";
  const absl::StatusOr<std::string> refused = WriteSepaCreditTransfer(transfer);
  CHECK(refused.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(refused.status().message() == "payments[0].creditor_iban: check digits do not match");
}

struct InvalidCase {
  std::string what;
  std::function<void(SepaCreditTransfer&)> mutate;
  std::string expected_message_prefix;
};

TEST_CASE("Invalid input is refused naming the field, and nothing is written") {
  const std::vector<InvalidCase> cases = {
      {"empty creditor name", [](auto& t) { t.payments[2].creditor_name = ""; },
       "payments[2].creditor_name: must not be empty"},
      {"blank debtor name", [](auto& t) { t.debtor.name = "   "; },
       "debtor.name: must not be empty"},
      {"name of 71 characters", [](auto& t) { t.payments[0].creditor_name = std::string(71, 'a'); },
       "payments[0].creditor_name: at most 70 characters, got 71"},
      {"end-to-end id of 36 characters",
       [](auto& t) { t.payments[1].end_to_end_id = std::string(36, 'E'); },
       "payments[1].end_to_end_id: at most 35 characters, got 36"},
      {"empty end-to-end id", [](auto& t) { t.payments[1].end_to_end_id = ""; },
       "payments[1].end_to_end_id: must not be empty"},
      {"end-to-end id with a space", [](auto& t) { t.payments[1].end_to_end_id = "E 1"; },
       "payments[1].end_to_end_id: U+0020 at position 2 is not allowed in an identifier"},
      {"end-to-end id with ä", [](auto& t) { t.payments[1].end_to_end_id = "Eä"; },
       "payments[1].end_to_end_id: a non-ASCII character at position 2"},
      {"end-to-end id with //", [](auto& t) { t.payments[1].end_to_end_id = "A//B"; },
       "payments[1].end_to_end_id: must not start or end with '/'"},
      {"end-to-end id ending in /", [](auto& t) { t.payments[1].end_to_end_id = "AB/"; },
       "payments[1].end_to_end_id: must not start or end with '/'"},
      {"duplicate end-to-end id",
       [](auto& t) { t.payments[2].end_to_end_id = t.payments[0].end_to_end_id; },
       "payments[2].end_to_end_id: \"PAYRUN-2026-11-E0\" is used by an earlier payment"},
      {"zero amount", [](auto& t) { t.payments[1].amount_cents = 0; },
       "payments[1].amount_cents: must be between 1 and 99999999999 cents"},
      {"negative amount", [](auto& t) { t.payments[2].amount_cents = -500; },
       "payments[2].amount_cents: must be between 1 and 99999999999 cents"},
      {"amount above the SEPA maximum",
       [](auto& t) { t.payments[0].amount_cents = kSepaMaxAmountCents + 1; },
       "payments[0].amount_cents: must be between 1 and 99999999999 cents"},
      {"remittance of 141 characters",
       [](auto& t) { t.payments[2].remittance_information = std::string(141, 'r'); },
       "payments[2].remittance_information: at most 140 characters, got 141"},
      {"remittance with a character outside the set",
       [](auto& t) { t.payments[2].remittance_information = "Palkka_11"; },
       "payments[2].remittance_information: character U+005F '_' at position 7"},
      {"creditor IBAN with wrong check digits",
       [](auto& t) { t.payments[1].creditor_iban = "FI2212345600000785"; },
       "payments[1].creditor_iban: check digits do not match"},
      {"creditor IBAN with letters O for zeros",
       [](auto& t) { t.payments[1].creditor_iban = "FI527998809OOOO425"; },
       "payments[1].creditor_iban: "},
      {"creditor IBAN with a symbol", [](auto& t) { t.payments[1].creditor_iban = "FI21-1234"; },
       "payments[1].creditor_iban: "},
      {"empty creditor IBAN", [](auto& t) { t.payments[0].creditor_iban = ""; },
       "payments[0].creditor_iban: "},
      {"debtor IBAN too long", [](auto& t) { t.debtor.iban = "FI211234560000078500"; },
       "debtor.iban: "},
      {"creditor BIC of 7 characters", [](auto& t) { t.payments[0].creditor_bic = "NDEAFIH"; },
       "payments[0].creditor_bic: \"NDEAFIH\" is not a BIC"},
      {"creditor BIC with O in the 8th place",
       [](auto& t) { t.payments[0].creditor_bic = "NDEAFIHO"; },
       "payments[0].creditor_bic: \"NDEAFIHO\" is not a BIC"},
      {"missing debtor BIC", [](auto& t) { t.debtor.bic = ""; }, "debtor.bic: must not be empty"},
      {"malformed business ID", [](auto& t) { t.debtor.business_id = "2077474"; },
       "debtor.business_id: "},
      {"business ID with a wrong check digit", [](auto& t) { t.debtor.business_id = "2077474-1"; },
       "debtor.business_id: "},
      {"empty message id", [](auto& t) { t.message_id = ""; }, "message_id: must not be empty"},
      {"message id of 36 characters", [](auto& t) { t.message_id = std::string(36, 'M'); },
       "message_id: at most 35 characters, got 36"},
      {"no payments", [](auto& t) { t.payments.clear(); },
       "payments: at least one payment is required"},
      {"infinite creation time", [](auto& t) { t.creation_time = absl::InfiniteFuture(); },
       "creation_time: must be a finite time"},
      {"five-digit execution year",
       [](auto& t) { t.requested_execution_date = absl::CivilDay(10000, 1, 1); },
       "requested_execution_date: year must have four digits"},
  };
  for (const InvalidCase& invalid : cases) {
    INFO(invalid.what);
    SepaCreditTransfer transfer = MakeTransfer(3);
    invalid.mutate(transfer);
    const absl::StatusOr<std::string> xml = WriteSepaCreditTransfer(transfer);
    REQUIRE_FALSE(xml.ok());
    CHECK(xml.status().code() == absl::StatusCode::kInvalidArgument);
    INFO(xml.status().message());
    CHECK(absl::StartsWith(xml.status().message(), invalid.expected_message_prefix));
  }
}

TEST_CASE("Boundary values are accepted and validate") {
  RequireSchemaAndXmllint();
  SepaCreditTransfer transfer = MakeTransfer(2);
  transfer.message_id = std::string(35, 'M');
  transfer.payments[0].end_to_end_id = std::string(35, 'E');
  transfer.payments[0].amount_cents = 1;
  transfer.payments[1].amount_cents = kSepaMaxAmountCents;
  transfer.payments[0].creditor_name = std::string(70, 'n');
  transfer.payments[1].remittance_information = std::string(140, 'r');
  transfer.payments[1].creditor_bic = "okoyfihhxxx";
  const absl::StatusOr<std::string> xml = WriteSepaCreditTransfer(transfer);
  REQUIRE(xml.ok());
  CHECK(ElementTexts(*xml, "CtrlSum") ==
        std::vector<std::string>{"1000000000.00", "1000000000.00"});
  CHECK(absl::StrContains(*xml, "<BIC>OKOYFIHHXXX</BIC>"));
  const testing::XmlValidation validation = ValidateAgainstSchema(*xml);
  INFO(validation.output);
  CHECK(validation.exit_code == 0);
}

}  // namespace
}  // namespace tahe::payroll
