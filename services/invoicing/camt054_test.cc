#include "services/invoicing/camt054.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "libs/fi/reference.h"
#include "libs/testing/xml_schema.h"

#ifndef TAHE_CAMT054_XSD
#error "TAHE_CAMT054_XSD (the path of camt.054.001.02.xsd) must be defined by CMake"
#endif
#ifndef TAHE_CAMT054_SAMPLE
#error "TAHE_CAMT054_SAMPLE (the path of camt054.v2.sample.xml) must be defined by CMake"
#endif

namespace tahe::invoicing {
namespace {

constexpr char kAccount[] = "FI2112345600000785";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void RequireXmllint() {
  INFO("xmllint must be installed (Debian package libxml2-utils)");
  REQUIRE(testing::XmllintAvailable());
}

std::string ErrorOf(absl::string_view xml) {
  const absl::StatusOr<Camt054File> file = ParseCamt054(xml);
  REQUIRE_FALSE(file.ok());
  CHECK(file.status().code() == absl::StatusCode::kInvalidArgument);
  return std::string(file.status().message());
}

// A national reference for invoice i and, every other time, its RF form, printed with spaces
// as a payer's bank may pass it on.
std::string ReferenceOf(int i, bool rf) {
  const std::string national = fi::MakeNationalReference(absl::StrCat(1000 + i)).value();
  return rf ? fi::FormatRfReference(fi::RfReferenceOfNational(national).value())
            : fi::FormatNationalReference(national);
}

// `count` incoming reference payments on one account: every tenth entry is a batch of three
// itemised transactions, the others one transaction each; amounts vary in the cents.
Camt054File MakeFile(int count) {
  Camt054File file;
  file.message_id = "NDEAFIHH-20260302-1";
  file.creation_date_time = "2026-03-02T08:15:00+02:00";
  Camt054Notification notification;
  notification.id = "NTF-20260302-1";
  notification.creation_date_time = "2026-03-02T08:15:00+02:00";
  notification.account_iban = kAccount;
  int i = 0;
  while (i < count) {
    Camt054Entry entry;
    entry.currency = "EUR";
    entry.credit_debit = CreditDebit::kCredit;
    entry.status = EntryStatus::kBooked;
    entry.booking_date = absl::CivilDay(2026, 3, 2);
    entry.value_date = absl::CivilDay(2026, 3, 2);
    entry.account_servicer_reference = absl::StrCat("ENTRY-", notification.entries.size());
    const int batch = notification.entries.size() % 10 == 9 ? 3 : 1;
    int64_t sum = 0;
    for (int k = 0; k < batch && i < count; ++k, ++i) {
      Camt054Transaction tx;
      tx.amount_cents = 1'000 + i * 137 % 100'000;
      tx.currency = "EUR";
      tx.end_to_end_id = i % 3 == 0 ? "NOTPROVIDED" : absl::StrCat("E2E-", i);
      tx.account_servicer_reference = absl::StrCat("ARCH-", i);
      tx.reference = ReferenceOf(i, i % 2 == 1);
      tx.debtor_name = i % 4 == 0 ? "Matti Meikäläinen" : "Åsa Öhman & Co";
      if (i % 5 == 0) {
        tx.unstructured = {absl::StrCat("Lasku ", 100000 + i)};
      }
      sum += *tx.amount_cents;
      entry.transactions.push_back(tx);
    }
    entry.amount_cents = sum;
    notification.entries.push_back(entry);
  }
  file.notifications.push_back(notification);
  return file;
}

TEST_CASE("The vendored camt.054 sample parses with the hand-checked values") {
  const std::string xml = ReadFile(TAHE_CAMT054_SAMPLE);
  const absl::StatusOr<Camt054File> file = ParseCamt054(xml);
  INFO(file.status());
  REQUIRE(file.ok());

  CHECK(file->message_id == "AAAASESS-FP-ACCR001");
  CHECK(file->creation_date_time == "2007-10-18T12:30:00+01:00");
  REQUIRE(file->notifications.size() == 1);
  const Camt054Notification& notification = file->notifications[0];
  CHECK(notification.id == "AAAASESS-FP-ACCR001");
  CHECK(notification.creation_date_time == "2007-10-18T12:30:00+01:00");
  CHECK(notification.account_iban.empty());
  CHECK(notification.account_other_id == "CH2801234000123456789");

  // One entry: 200000 SEK debited, booked on 2007-10-18 (from DtTm), value date 2007-10-18.
  REQUIRE(notification.entries.size() == 1);
  const Camt054Entry& entry = notification.entries[0];
  CHECK(entry.amount_cents == 20'000'000);
  CHECK(entry.currency == "SEK");
  CHECK(entry.credit_debit == CreditDebit::kDebit);
  CHECK_FALSE(entry.reversal);
  CHECK(entry.status == EntryStatus::kBooked);
  CHECK(entry.booking_date == absl::CivilDay(2007, 10, 18));
  CHECK(entry.value_date == absl::CivilDay(2007, 10, 18));
  CHECK(entry.account_servicer_reference == "AAAASESS-FP-ACCR001");

  // Three TxDtls without TxAmt: the amounts are unknown.
  REQUIRE(entry.transactions.size() == 3);
  for (const Camt054Transaction& tx : entry.transactions) {
    CHECK(tx.end_to_end_id == "MUELL/FINP/RA12345");
    CHECK(tx.account_servicer_reference.empty());
    CHECK(tx.debtor_name == "MUELLER");
    CHECK_FALSE(tx.amount_cents.has_value());
    CHECK(tx.currency == "SEK");
    CHECK_FALSE(tx.importable);
    CHECK(tx.not_importable_reason ==
          "currency SEK: only EUR is imported; a debit, not an incoming payment; amount unknown: "
          "the entry has several transactions and this one has no TxAmt");
  }
  // References keep their text without whitespace; Ustrd lines stay as they are.
  CHECK(entry.transactions[0].reference == "ISRrefnumberV1");
  CHECK(entry.transactions[0].other_references.empty());
  CHECK(entry.transactions[0].unstructured ==
        std::vector<std::string>{"Unstructured Remittance Information V1"});
  CHECK(entry.transactions[1].reference == "ISRrefnumberV2");
  CHECK(entry.transactions[1].unstructured.empty());
  CHECK(entry.transactions[2].reference == "RefnumberV3block1");
  CHECK(entry.transactions[2].other_references == std::vector<std::string>{"RefnumberV3block2"});
  CHECK(entry.transactions[2].unstructured ==
        std::vector<std::string>{"Unstructured Remittance Information V3 block 1",
                                 "Unstructured Remittance Information V3 block 2"});
  // No transaction has its own AcctSvcrRef; the entry's is unique in the file.
  CHECK(entry.transactions[0].transaction_key == "CH2801234000123456789|E:AAAASESS-FP-ACCR001|0");
  CHECK(entry.transactions[1].transaction_key == "CH2801234000123456789|E:AAAASESS-FP-ACCR001|1");
  CHECK(entry.transactions[2].transaction_key == "CH2801234000123456789|E:AAAASESS-FP-ACCR001|2");
}

TEST_CASE("Written files validate against the schema and read back the same") {
  RequireXmllint();
  const int count = GENERATE(1, 25, 10000);
  const Camt054File written = MakeFile(count);
  const absl::StatusOr<std::string> xml = WriteCamt054(written);
  INFO(xml.status());
  REQUIRE(xml.ok());
  const testing::XmlValidation validation = testing::ValidateXml(*xml, TAHE_CAMT054_XSD);
  INFO(validation.output.substr(0, 2000));
  REQUIRE(validation.exit_code == 0);

  const absl::StatusOr<Camt054File> read = ParseCamt054(*xml);
  INFO(read.status());
  REQUIRE(read.ok());
  CHECK(read->message_id == written.message_id);
  CHECK(read->creation_date_time == written.creation_date_time);
  REQUIRE(read->notifications.size() == 1);
  const Camt054Notification& notification = read->notifications[0];
  CHECK(notification.account_iban == kAccount);
  REQUIRE(notification.entries.size() == written.notifications[0].entries.size());

  std::set<std::string> keys;
  int transactions = 0;
  int rf_references = 0;
  for (size_t e = 0; e < notification.entries.size(); ++e) {
    const Camt054Entry& entry = notification.entries[e];
    const Camt054Entry& expected_entry = written.notifications[0].entries[e];
    CHECK(entry.amount_cents == expected_entry.amount_cents);
    CHECK(entry.credit_debit == CreditDebit::kCredit);
    CHECK(entry.booking_date == absl::CivilDay(2026, 3, 2));
    CHECK(entry.account_servicer_reference == expected_entry.account_servicer_reference);
    REQUIRE(entry.transactions.size() == expected_entry.transactions.size());
    for (size_t t = 0; t < entry.transactions.size(); ++t) {
      const Camt054Transaction& tx = entry.transactions[t];
      const Camt054Transaction& expected = expected_entry.transactions[t];
      INFO("entry " << e << " transaction " << t);
      CHECK(tx.importable);
      CHECK(tx.not_importable_reason.empty());
      CHECK(tx.amount_cents == expected.amount_cents);
      CHECK(tx.currency == "EUR");
      CHECK(tx.end_to_end_id == expected.end_to_end_id);
      CHECK(tx.account_servicer_reference == expected.account_servicer_reference);
      // Written with print spaces, read back without.
      CHECK(tx.reference == absl::StrReplaceAll(expected.reference, {{" ", ""}}));
      CHECK((fi::IsValidNationalReference(tx.reference) || fi::IsValidRfReference(tx.reference)));
      rf_references += absl::StartsWith(tx.reference, "RF");
      CHECK(tx.debtor_name == expected.debtor_name);
      CHECK(tx.unstructured == expected.unstructured);
      CHECK(tx.transaction_key ==
            absl::StrCat(kAccount, "|T:", expected.account_servicer_reference));
      keys.insert(tx.transaction_key);
      ++transactions;
    }
  }
  CHECK(transactions == count);
  CHECK(rf_references == count / 2);
  CHECK(keys.size() == static_cast<size_t>(count));

  // Importing the same file again gives the same keys.
  const absl::StatusOr<Camt054File> again = ParseCamt054(*xml);
  REQUIRE(again.ok());
  CHECK(again->notifications[0].entries.back().transactions.back().transaction_key ==
        notification.entries.back().transactions.back().transaction_key);
}

TEST_CASE("Transaction keys fall back to the entry reference and then to positions") {
  Camt054File file = MakeFile(25);
  std::vector<Camt054Entry>& entries = file.notifications[0].entries;
  // Entry 9 is the batch of three (transactions 9, 10, 11). Its transactions share one archive
  // id, so the entry's reference and the position are used.
  REQUIRE(entries[9].transactions.size() == 3);
  for (Camt054Transaction& tx : entries[9].transactions) {
    tx.account_servicer_reference = "ARCH-BATCH";
  }
  // Entry 0 has no references at all, and entry 1 shares its entry reference with entry 2.
  entries[0].transactions[0].account_servicer_reference.clear();
  entries[0].account_servicer_reference.clear();
  entries[1].transactions[0].account_servicer_reference.clear();
  entries[1].account_servicer_reference = "ENTRY-2";
  // A '|' inside a reference is escaped, so it cannot fake another key's parts.
  entries[3].transactions[0].account_servicer_reference = "A|B%C";

  const absl::StatusOr<Camt054File> read = ParseCamt054(WriteCamt054(file).value());
  REQUIRE(read.ok());
  const std::vector<Camt054Entry>& got = read->notifications[0].entries;
  const std::string account = kAccount;
  CHECK(got[9].transactions[0].transaction_key == account + "|E:ENTRY-9|0");
  CHECK(got[9].transactions[2].transaction_key == account + "|E:ENTRY-9|2");
  CHECK(got[0].transactions[0].transaction_key == account + "|N:NTF-20260302-1|0|0");
  CHECK(got[1].transactions[0].transaction_key == account + "|N:NTF-20260302-1|1|0");
  CHECK(got[2].transactions[0].transaction_key == account + "|T:ARCH-2");
  CHECK(got[3].transactions[0].transaction_key == account + "|T:A%7CB%25C");
}

TEST_CASE("Entries that are not incoming EUR payments are reported, not refused") {
  Camt054File file = MakeFile(12);
  std::vector<Camt054Entry>& entries = file.notifications[0].entries;
  entries[0].currency = "SEK";
  entries[0].transactions[0].currency = "SEK";
  entries[1].credit_debit = CreditDebit::kDebit;
  entries[2].status = EntryStatus::kPending;
  entries[3].reversal = true;
  // The batch (entry 9) claims one cent more than its three transactions.
  *entries[9].amount_cents += 1;
  // An entry without details is one transaction with the entry's amount.
  entries[4].transactions.clear();

  const absl::StatusOr<Camt054File> read = ParseCamt054(WriteCamt054(file).value());
  INFO(read.status());
  REQUIRE(read.ok());
  const std::vector<Camt054Entry>& got = read->notifications[0].entries;
  CHECK(got[0].transactions[0].not_importable_reason == "currency SEK: only EUR is imported");
  CHECK(got[0].transactions[0].amount_cents == entries[0].amount_cents);
  CHECK(got[1].transactions[0].not_importable_reason == "a debit, not an incoming payment");
  CHECK(got[2].transactions[0].not_importable_reason == "status PDNG: not booked");
  CHECK(got[3].transactions[0].not_importable_reason == "a reversal of an earlier entry");
  CHECK(got[3].reversal);
  for (const Camt054Transaction& tx : got[9].transactions) {
    CHECK_FALSE(tx.importable);
    CHECK(absl::StrContains(tx.not_importable_reason, "the transactions add up to"));
  }
  REQUIRE(got[4].transactions.size() == 1);
  CHECK(got[4].transactions[0].importable);
  CHECK(got[4].transactions[0].amount_cents == entries[4].amount_cents);
  CHECK(got[4].transactions[0].reference.empty());
  CHECK(got[5].transactions[0].importable);
}

TEST_CASE("Amounts are read exactly, in cents") {
  Camt054File file = MakeFile(1);
  const std::string xml = WriteCamt054(file).value();
  // The written amount is 10.00 (1 000 cents): try other spellings of amounts in its place.
  const std::string written = "<Amt Ccy=\"EUR\">10.00</Amt>";
  REQUIRE(absl::StrContains(xml, written));
  const auto with_amount = [&](const std::string& text) {
    return absl::StrReplaceAll(xml, {{written, absl::StrCat("<Amt Ccy=\"EUR\">", text, "</Amt>")}});
  };
  const auto amount_of = [&](const std::string& text) {
    const absl::StatusOr<Camt054File> read = ParseCamt054(with_amount(text));
    INFO(read.status());
    REQUIRE(read.ok());
    return read->notifications[0].entries[0].amount_cents.value();
  };
  CHECK(amount_of("12.5") == 1250);
  CHECK(amount_of("12") == 1200);
  CHECK(amount_of("0.01") == 1);
  CHECK(amount_of("007.10") == 710);
  CHECK(amount_of(" 1234567.89 ") == 123456789);
  // 16 integer digits is the most that fits: 9 999 999 999 999 999.99 euros.
  CHECK(amount_of("9999999999999999.99") == 999'999'999'999'999'999);
  CHECK(ErrorOf(with_amount("12.345")) ==
        "ntfctn[0].ntry[0].amt: \"12.345\" has more than two decimals (cents are the smallest "
        "unit)");
  CHECK(ErrorOf(with_amount("12.340")) ==
        "ntfctn[0].ntry[0].amt: \"12.340\" has more than two decimals (cents are the smallest "
        "unit)");
  CHECK(ErrorOf(with_amount("12345678901234567")) ==
        "ntfctn[0].ntry[0].amt: \"12345678901234567\" is too large (more than 16 digits)");
  CHECK(ErrorOf(with_amount("+12.00")) ==
        "ntfctn[0].ntry[0].amt: \"+12.00\" is not an amount such as 1234.50");
}

TEST_CASE("Input that is not a camt.054.001.02 document is refused with the reason") {
  const std::string valid = WriteCamt054(MakeFile(2)).value();

  SECTION("empty input") { CHECK(ErrorOf("") == "camt.054: the input is empty"); }
  SECTION("over the size limit") {
    const absl::StatusOr<Camt054File> file = ParseCamt054(valid, 100);
    REQUIRE_FALSE(file.ok());
    CHECK(file.status().message() == absl::StrCat("camt.054: the input has ", valid.size(),
                                                  " bytes, more than the limit of 100"));
  }
  SECTION("not XML") {
    CHECK(absl::StartsWith(ErrorOf("hello, bank"), "camt.054: not well-formed XML at line 1: "));
    CHECK(absl::StartsWith(ErrorOf(valid.substr(0, valid.size() / 2)),
                           "camt.054: not well-formed XML at line "));
  }
  SECTION("another message type in another namespace") {
    const std::string camt053 = absl::StrReplaceAll(
        valid,
        {{"camt.054.001.02", "camt.053.001.02"}, {"BkToCstmrDbtCdtNtfctn", "BkToCstmrStmt"}});
    CHECK(ErrorOf(camt053) ==
          "camt.054: not a camt.054.001.02 document: the root element Document is in namespace "
          "\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.02\", expected "
          "\"urn:iso:std:iso:20022:tech:xsd:camt.054.001.02\"");
    const std::string no_namespace = absl::StrReplaceAll(
        valid, {{" xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.054.001.02\"", ""}});
    CHECK(absl::StrContains(ErrorOf(no_namespace), "is in namespace \"\""));
  }
  SECTION("another message type in the camt.054 namespace") {
    const std::string statement =
        absl::StrReplaceAll(valid, {{"BkToCstmrDbtCdtNtfctn", "BkToCstmrStmt"}});
    CHECK(ErrorOf(statement) ==
          "camt.054: schema violation at line 3: Element 'BkToCstmrStmt': This element is not "
          "expected. Expected is ( BkToCstmrDbtCdtNtfctn ).");
  }
  SECTION("a schema violation: an entry without its amount") {
    const size_t amount = valid.find("<Amt Ccy=");
    REQUIRE(amount != std::string::npos);
    const size_t line_start = valid.rfind('\n', amount) + 1;
    const size_t line_end = valid.find('\n', amount) + 1;
    const std::string missing_amount = valid.substr(0, line_start) + valid.substr(line_end);
    // CdtDbtInd moves up to the line the amount was on.
    const int line =
        static_cast<int>(std::count(valid.begin(), valid.begin() + line_start, '\n')) + 1;
    CHECK(ErrorOf(missing_amount) ==
          absl::StrCat("camt.054: schema violation at line ", line,
                       ": Element 'CdtDbtInd': This element is not expected. Expected is one of "
                       "( NtryRef, Amt )."));
  }
  SECTION("schema violations never quote values, which may be personal data") {
    // A name too long: libxml2 gives only the lengths (18 + 141 = 159 characters).
    const std::string long_name = absl::StrCat("Matti Meikäläinen ", std::string(141, 'x'));
    const std::string xml = WriteCamt054(MakeFile(1)).value();
    const std::string too_long = absl::StrReplaceAll(
        xml, {{"<Nm>Matti Meikäläinen</Nm>", absl::StrCat("<Nm>", long_name, "</Nm>")}});
    const size_t name_line = std::count(xml.begin(), xml.begin() + xml.find("<Nm>"), '\n') + 1;
    CHECK(ErrorOf(too_long) ==
          absl::StrCat("camt.054: schema violation at line ", name_line,
                       ": Element 'Nm': [facet 'maxLength'] The value has a length of '159'; "
                       "this exceeds the allowed maximum length of '140'."));
    // A malformed account: the pattern is shown, the value is not.
    const std::string bad_iban = absl::StrReplaceAll(
        xml, {{"<IBAN>FI2112345600000785</IBAN>", "<IBAN>FI21 1234 5600 0007 85</IBAN>"}});
    const size_t iban_line = std::count(xml.begin(), xml.begin() + xml.find("<IBAN>"), '\n') + 1;
    CHECK(ErrorOf(bad_iban) ==
          absl::StrCat("camt.054: schema violation at line ", iban_line,
                       ": Element 'IBAN': [facet 'pattern'] The value '\u2026' is not accepted "
                       "by the pattern '[A-Z]{2,2}[0-9]{2,2}[a-zA-Z0-9]{1,30}'."));
    const std::string bad_amount = absl::StrReplaceAll(
        xml, {{"<Amt Ccy=\"EUR\">10.00</Amt>", "<Amt Ccy=\"EUR\">ten euros</Amt>"}});
    CHECK(absl::StrContains(ErrorOf(bad_amount),
                            ": Element 'Amt': '\u2026' is not a valid value of the atomic type "
                            "'ActiveOrHistoricCurrencyAndAmount_SimpleType'."));
    const std::string bad_code =
        absl::StrReplaceAll(xml, {{"<CdtDbtInd>CRDT</CdtDbtInd>", "<CdtDbtInd>X</CdtDbtInd>"}});
    CHECK(absl::StrContains(ErrorOf(bad_code),
                            ": Element 'CdtDbtInd': [facet 'enumeration'] The value '\u2026' is "
                            "not an element of the set {'CRDT', 'DBIT'}."));
  }
  SECTION("bytes that are not UTF-8 are not quoted") {
    const std::string latin1 =
        absl::StrReplaceAll(valid, {{"Matti Meik\u00e4l\u00e4inen", "Matti Meik\xe4l\xe4inen"}});
    const std::string error = ErrorOf(latin1);
    INFO(error);
    CHECK(absl::StartsWith(error, "camt.054: not well-formed XML at line "));
    CHECK(absl::StrContains(error, "UTF-8"));
    CHECK_FALSE(absl::StrContains(error, "0x"));
  }
  SECTION("an undeclared entity") {
    const std::string entity = absl::StrReplaceAll(valid, {{"Matti", "&matti;"}});
    CHECK(absl::StartsWith(ErrorOf(entity), "camt.054: not well-formed XML at line "));
  }
  SECTION("a date outside years 1000-9999") {
    const std::string old =
        absl::StrReplaceAll(valid, {{"<Dt>2026-03-02</Dt>", "<Dt>0999-03-02</Dt>"}});
    CHECK(ErrorOf(old) ==
          "ntfctn[0].ntry[0].bookg_dt: \"0999-03-02\" is not a date in years 1000-9999");
  }
}

TEST_CASE("A DOCTYPE is refused before any entity expands") {
  // Billion laughs: ten levels of ten references, 10^9 "lol"s if expanded.
  std::string doctype = "<!DOCTYPE Document [\n  <!ENTITY lol0 \"lol\">\n";
  for (int i = 1; i <= 9; ++i) {
    doctype += absl::StrCat("  <!ENTITY lol", i, " \"");
    for (int k = 0; k < 10; ++k) {
      doctype += absl::StrCat("&lol", i - 1, ";");
    }
    doctype += "\">\n";
  }
  doctype += "]>\n";
  std::string xml = WriteCamt054(MakeFile(1)).value();
  const size_t root = xml.find("<Document");
  xml.insert(root, doctype);
  xml = absl::StrReplaceAll(xml, {{"<Nm>Matti Meikäläinen</Nm>", "<Nm>&lol9;</Nm>"}});

  const auto start = std::chrono::steady_clock::now();
  CHECK(ErrorOf(xml) ==
        "camt.054: a DOCTYPE is not allowed in a camt.054 file (entities and DTDs are refused)");
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(1));

  // An external DTD or entity is never fetched either.
  std::string external = WriteCamt054(MakeFile(1)).value();
  external.insert(external.find("<Document"),
                  "<!DOCTYPE Document SYSTEM \"http://127.0.0.1:9/camt.dtd\">\n");
  CHECK(ErrorOf(external) ==
        "camt.054: a DOCTYPE is not allowed in a camt.054 file (entities and DTDs are refused)");
  std::string file_entity = WriteCamt054(MakeFile(1)).value();
  file_entity.insert(file_entity.find("<Document"),
                     "<!DOCTYPE Document [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>\n");
  CHECK(ErrorOf(file_entity) ==
        "camt.054: a DOCTYPE is not allowed in a camt.054 file (entities and DTDs are refused)");
}

TEST_CASE("The writer refuses what the schema would refuse, naming the field") {
  Camt054File file = MakeFile(3);
  const auto error_of = [](const Camt054File& f) {
    const absl::StatusOr<std::string> xml = WriteCamt054(f);
    REQUIRE_FALSE(xml.ok());
    CHECK(xml.status().code() == absl::StatusCode::kInvalidArgument);
    return std::string(xml.status().message());
  };
  SECTION("a message id over 35 characters") {
    file.message_id = std::string(36, 'M');
    CHECK(error_of(file) == "message_id: 1..35 characters, got 36");
  }
  SECTION("a creation time without a zone") {
    file.creation_date_time = "2026-03-02T08:15:00";
    CHECK(absl::StartsWith(error_of(file), "creation_date_time: must be an xs:dateTime"));
  }
  SECTION("no notifications") {
    file.notifications.clear();
    CHECK(error_of(file) == "notifications: at least one notification is required");
  }
  SECTION("both account ids") {
    file.notifications[0].account_other_id = "12345";
    CHECK(error_of(file) ==
          "notifications[0].account_iban: exactly one of account_iban and account_other_id is "
          "required");
  }
  SECTION("a negative amount") {
    file.notifications[0].entries[1].amount_cents = -5;
    CHECK(absl::StartsWith(error_of(file), "notifications[0].entries[1].amount_cents: required"));
  }
  SECTION("a reference over 35 characters") {
    file.notifications[0].entries[2].transactions[0].reference = std::string(36, '1');
    CHECK(error_of(file) ==
          "notifications[0].entries[2].transactions[0].reference: 1..35 characters, got 36");
  }
  SECTION("a control character in a name") {
    file.notifications[0].entries[0].transactions[0].debtor_name = "A\x01";
    CHECK(error_of(file) ==
          "notifications[0].entries[0].transactions[0].debtor_name: control character U+0001 at "
          "position 2");
  }
}

TEST_CASE("Files are parsed concurrently against the one compiled schema") {
  const std::string xml = WriteCamt054(MakeFile(200)).value();
  const std::string invalid = absl::StrReplaceAll(xml, {{"<CdtDbtInd>CRDT</CdtDbtInd>", ""}});
  std::vector<int> parsed(8, 0);
  std::vector<int> refused(8, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 10; ++round) {
        const absl::StatusOr<Camt054File> good = ParseCamt054(xml);
        parsed[t] += good.ok() && good->notifications[0].entries.size() == 168;
        refused[t] += !ParseCamt054(invalid).ok();
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  // 200 transactions: 16 groups of ten entries (nine single, one batch of three: 12
  // transactions) hold 192, then 8 single entries: 16 * 10 + 8 = 168 entries.
  for (int t = 0; t < 8; ++t) {
    CHECK(parsed[t] == 10);
    CHECK(refused[t] == 10);
  }
}

TEST_CASE("100 000 payments are written quickly") {
  const Camt054File file = MakeFile(100'000);
  const auto start = std::chrono::steady_clock::now();
  const absl::StatusOr<std::string> xml = WriteCamt054(file);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  REQUIRE(xml.ok());
  // Every transaction is written once: count its archive id element.
  size_t count = 0;
  for (size_t at = xml->find("<AcctSvcrRef>ARCH-"); at != std::string::npos;
       at = xml->find("<AcctSvcrRef>ARCH-", at + 1)) {
    ++count;
  }
  CHECK(count == 100'000);
  // Generous, for slow CI machines: the writer takes a few tens of milliseconds here.
  CHECK(elapsed < std::chrono::seconds(5));
}

TEST_CASE("Camt054Reader fed in pieces reads what ParseCamt054 reads, entry by entry") {
  const std::string xml = WriteCamt054(MakeFile(500)).value();
  const Camt054File whole = ParseCamt054(xml).value();
  for (size_t piece : {size_t{1}, size_t{7}, size_t{4096}}) {
    INFO("pieces of " << piece);
    Camt054Reader reader;
    std::vector<Camt054Reader::EntryRead> entries;
    size_t handed_out_before_end = 0;
    for (size_t at = 0; at < xml.size(); at += piece) {
      REQUIRE(reader.Feed(absl::string_view(xml).substr(at, piece)).ok());
      for (Camt054Reader::EntryRead& read : reader.TakeEntries()) {
        entries.push_back(std::move(read));
      }
      if (at + piece < xml.size()) handed_out_before_end = entries.size();
    }
    REQUIRE(reader.Finish().ok());
    for (Camt054Reader::EntryRead& read : reader.TakeEntries()) entries.push_back(std::move(read));
    // Most entries are handed out while the file is still arriving.
    CHECK(handed_out_before_end > entries.size() / 2);
    CHECK_FALSE(reader.FinalKeys().has_value());
    CHECK(reader.message_id() == whole.message_id);
    REQUIRE(entries.size() == whole.notifications[0].entries.size());
    for (size_t e = 0; e < entries.size(); ++e) {
      const Camt054Entry& want = whole.notifications[0].entries[e];
      const Camt054Entry& got = entries[e].entry;
      CHECK(entries[e].notification == 0);
      CHECK(got.amount_cents == want.amount_cents);
      CHECK(got.account_servicer_reference == want.account_servicer_reference);
      REQUIRE(got.transactions.size() == want.transactions.size());
      for (size_t t = 0; t < got.transactions.size(); ++t) {
        CHECK(got.transactions[t].transaction_key == want.transactions[t].transaction_key);
        CHECK(got.transactions[t].reference == want.transactions[t].reference);
        CHECK(got.transactions[t].amount_cents == want.transactions[t].amount_cents);
        CHECK(got.transactions[t].debtor_name == want.transactions[t].debtor_name);
        CHECK(got.transactions[t].importable == want.transactions[t].importable);
      }
    }
  }
}

TEST_CASE("Bytes the declared encoding cannot decode refuse the file instead of ending it") {
  // Found by tests/fuzz (camt054): libxml2 stops parsing at bytes it cannot convert from the
  // declared encoding without marking the document as not well-formed, so the entries before
  // them were accepted as the whole file.
  Camt054File file = MakeFile(20);
  for (Camt054Entry& entry : file.notifications[0].entries) {
    for (Camt054Transaction& tx : entry.transactions) tx.debtor_name = "Maksaja";
  }
  const std::string euc_jp = absl::StrReplaceAll(WriteCamt054(file).value(),
                                                 {{"encoding=\"UTF-8\"", "encoding=\"EUC-JP\""}});
  // Plain ASCII is valid EUC-JP: the file reads whole.
  const absl::StatusOr<Camt054File> whole = ParseCamt054(euc_jp);
  REQUIRE(whole.ok());
  REQUIRE(whole->notifications[0].entries.size() == file.notifications[0].entries.size());
  const std::string broken = absl::StrReplaceAll(euc_jp, {{"ARCH-15<", "ARCH-15\xff\xff<"}});
  const absl::StatusOr<Camt054File> parsed = ParseCamt054(broken);
  REQUIRE_FALSE(parsed.ok());
  CHECK(absl::StartsWith(parsed.status().message(), "camt.054: not well-formed XML at line "));
  for (size_t piece : {size_t{64}, size_t{4096}}) {
    INFO("pieces of " << piece);
    Camt054Reader reader;
    for (size_t at = 0; at < broken.size(); at += piece) {
      REQUIRE(reader.Feed(absl::string_view(broken).substr(at, piece)).ok());
    }
    const absl::Status finish = reader.Finish();
    CHECK(absl::StartsWith(finish.message(), "camt.054: not well-formed XML at line "));
  }
}

TEST_CASE("Camt054Reader: a file that fails at its end, and keys that change at its end") {
  const std::string xml = WriteCamt054(MakeFile(50)).value();
  {
    // Entries are handed out, then the end is missing: Finish refuses the file.
    Camt054Reader reader;
    REQUIRE(reader.Feed(xml.substr(0, xml.size() - 30)).ok());
    CHECK_FALSE(reader.TakeEntries().empty());
    const absl::Status end = reader.Finish();
    CHECK(absl::StartsWith(end.message(), "camt.054: not well-formed XML at line "));
  }
  {
    // The last transaction repeats the first one's bank reference: both keys change from the
    // bank's reference to the entry's, and FinalKeys says so; ParseCamt054 gives the final ones.
    const std::string repeated =
        absl::StrReplaceAll(xml, {{"<AcctSvcrRef>ARCH-49<", "<AcctSvcrRef>ARCH-0<"}});
    Camt054Reader reader;
    REQUIRE(reader.Feed(repeated).ok());
    REQUIRE(reader.Finish().ok());
    std::vector<Camt054Reader::EntryRead> entries = reader.TakeEntries();
    const std::string provisional = entries[0].entry.transactions[0].transaction_key;
    CHECK(absl::StrContains(provisional, "|T:ARCH-0"));
    const std::optional<std::vector<std::string>> keys = reader.FinalKeys();
    REQUIRE(keys.has_value());
    REQUIRE(keys->size() == 50);
    CHECK(keys->front() != provisional);
    CHECK(absl::StrContains(keys->front(), "|E:ENTRY-0|0"));
    const Camt054File parsed = ParseCamt054(repeated).value();
    CHECK(parsed.notifications[0].entries[0].transactions[0].transaction_key == keys->front());
    CHECK(parsed.notifications[0].entries.back().transactions.back().transaction_key ==
          keys->back());
  }
}

}  // namespace
}  // namespace tahe::invoicing
