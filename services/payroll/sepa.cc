#include "services/payroll/sepa.h"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "libs/fi/business_id.h"
#include "libs/fi/iban.h"
#include "libs/money/money.h"
#include "libs/status/status.h"

namespace tahe::payroll {
namespace {

constexpr absl::string_view kNamespace = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03";

// Replacements for U+00C0..U+017F (Latin-1 Supplement letters and Latin Extended-A), after the
// EPC conversion table: the base letter(s). nullptr: not a letter, refused. The Finnish letters
// å ä ö Å Ä Ö map to themselves.
// clang-format off
constexpr const char* kLatinLetters[0x180 - 0xC0] = {
    // U+00C0
    "A", "A", "A", "A", "\u00C4", "\u00C5", "AE", "C", "E", "E", "E", "E", "I", "I", "I", "I",
    // U+00D0
    "D", "N", "O", "O", "O", "O", "\u00D6", nullptr, "O", "U", "U", "U", "U", "Y", "TH", "ss",
    // U+00E0
    "a", "a", "a", "a", "\u00E4", "\u00E5", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",
    // U+00F0
    "d", "n", "o", "o", "o", "o", "\u00F6", nullptr, "o", "u", "u", "u", "u", "y", "th", "y",
    // U+0100
    "A", "a", "A", "a", "A", "a", "C", "c", "C", "c", "C", "c", "C", "c", "D", "d",
    // U+0110
    "D", "d", "E", "e", "E", "e", "E", "e", "E", "e", "E", "e", "G", "g", "G", "g",
    // U+0120
    "G", "g", "G", "g", "H", "h", "H", "h", "I", "i", "I", "i", "I", "i", "I", "i",
    // U+0130
    "I", "i", "IJ", "ij", "J", "j", "K", "k", "k", "L", "l", "L", "l", "L", "l", "L",
    // U+0140
    "l", "L", "l", "N", "n", "N", "n", "N", "n", "n", "N", "n", "O", "o", "O", "o",
    // U+0150
    "O", "o", "OE", "oe", "R", "r", "R", "r", "R", "r", "S", "s", "S", "s", "S", "s",
    // U+0160
    "S", "s", "T", "t", "T", "t", "T", "t", "U", "u", "U", "u", "U", "u", "U", "u",
    // U+0170
    "U", "u", "U", "u", "W", "w", "Y", "y", "Y", "Z", "z", "Z", "z", "Z", "z", "s",
};
// clang-format on

bool IsAsciiAlnum(char32_t c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// The EPC Latin set's punctuation, without the space.
bool IsEpcPunctuation(char32_t c) {
  return c == '/' || c == '-' || c == '?' || c == ':' || c == '(' || c == ')' || c == '.' ||
         c == ',' || c == '\'' || c == '+';
}

// The replacement of one free-text character, or nullopt if it has none.
std::optional<absl::string_view> SepaTextReplacement(char32_t c) {
  static constexpr absl::string_view kAscii =
      " !\"#$%&'()*+,-./"
      "0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz";
  if (IsAsciiAlnum(c) || IsEpcPunctuation(c) || c == ' ' || c == '&') {
    return kAscii.substr(c - ' ', 1);
  }
  if (c >= 0xC0 && c < 0x180) {
    const char* replacement = kLatinLetters[c - 0xC0];
    if (replacement == nullptr) {
      return std::nullopt;
    }
    return absl::string_view(replacement);
  }
  switch (c) {
    case 0x00A0:  // no-break space
      return " ";
    case 0x00B4:  // acute accent
    case 0x02BC:  // modifier letter apostrophe
    case 0x2018:  // left single quotation mark
    case 0x2019:  // right single quotation mark (the typographic apostrophe)
      return "'";
    case 0x2010:  // hyphen
    case 0x2011:  // non-breaking hyphen
    case 0x2012:  // figure dash
    case 0x2013:  // en dash
    case 0x2014:  // em dash
    case 0x2212:  // minus sign
      return "-";
    default:
      return std::nullopt;
  }
}

// Decodes the UTF-8 character at the front of `text` and removes it; nullopt for a malformed,
// overlong or surrogate sequence.
std::optional<char32_t> PopUtf8(absl::string_view& text) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(0);
  size_t length;
  char32_t c;
  char32_t min;
  if (lead < 0x80) {
    text.remove_prefix(1);
    return lead;
  } else if ((lead & 0xE0) == 0xC0) {
    length = 2, c = lead & 0x1F, min = 0x80;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3, c = lead & 0x0F, min = 0x800;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4, c = lead & 0x07, min = 0x10000;
  } else {
    return std::nullopt;
  }
  if (text.size() < length) {
    return std::nullopt;
  }
  for (size_t i = 1; i < length; ++i) {
    if ((byte(i) & 0xC0) != 0x80) {
      return std::nullopt;
    }
    c = (c << 6) | (byte(i) & 0x3F);
  }
  if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) {
    return std::nullopt;
  }
  text.remove_prefix(length);
  return c;
}

std::string DescribeCharacter(char32_t c) {
  if (c >= 0x21 && c < 0x7F) {
    return absl::StrFormat("U+%04X '%c'", static_cast<uint32_t>(c), static_cast<char>(c));
  }
  return absl::StrFormat("U+%04X", static_cast<uint32_t>(c));
}

// The identifier rules of the header: checked, never altered.
absl::Status CheckIdentifier(absl::string_view field, absl::string_view id) {
  if (id.empty()) {
    return InvalidField(field, "must not be empty");
  }
  if (id.size() > kSepaMaxIdLength) {
    return InvalidField(field,
                        absl::StrCat("at most ", kSepaMaxIdLength, " characters, got ", id.size()));
  }
  for (size_t i = 0; i < id.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(id[i]);
    if (!IsAsciiAlnum(c) && !IsEpcPunctuation(c)) {
      return InvalidField(field,
                          absl::StrCat(c < 0x80 ? DescribeCharacter(c) : "a non-ASCII character",
                                       " at position ", i + 1,
                                       " is not allowed in an identifier (letters, digits and "
                                       "/ - ? : ( ) . , ' + only)"));
    }
  }
  if (id.front() == '/' || id.back() == '/' || absl::StrContains(id, "//")) {
    return InvalidField(field, "must not start or end with '/' or contain \"//\"");
  }
  return absl::OkStatus();
}

}  // namespace

// Upper case and the schema's BICIdentifier pattern [A-Z]{6}[A-Z2-9][A-NP-Z0-9]([A-Z0-9]{3})?.
absl::StatusOr<std::string> NormaliseBic(absl::string_view field, absl::string_view bic) {
  const std::string upper = absl::AsciiStrToUpper(bic);
  bool valid = upper.size() == 8 || upper.size() == 11;
  for (size_t i = 0; valid && i < upper.size(); ++i) {
    const char c = upper[i];
    if (i < 6) {
      valid = absl::ascii_isupper(c);
    } else if (i == 6) {
      valid = absl::ascii_isupper(c) || (c >= '2' && c <= '9');
    } else if (i == 7) {
      valid = (absl::ascii_isupper(c) && c != 'O') || absl::ascii_isdigit(c);
    } else {
      valid = absl::ascii_isupper(c) || absl::ascii_isdigit(c);
    }
  }
  if (!valid && bic.size() > 11) {
    // Not quoted: an error message holding megabytes would not fit in the call's trailers.
    return InvalidField(
        field, absl::StrCat(bic.size(), " characters is not a BIC (8 or 11 letters or digits)"));
  }
  if (!valid) {
    return InvalidField(field, absl::StrCat("\"", absl::CEscape(bic),
                                            "\" is not a BIC (8 or 11 letters or digits)"));
  }
  return upper;
}

namespace {

void AppendEscaped(std::string& out, absl::string_view text) {
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out.push_back(c);
    }
  }
}

// Indented elements, one a line; text is escaped.
class XmlWriter {
 public:
  explicit XmlWriter(size_t expected_size) { out_.reserve(expected_size); }

  // `attributes` is written verbatim: ` name="value"`.
  void Open(absl::string_view tag, absl::string_view attributes = "") {
    Indent();
    absl::StrAppend(&out_, "<", tag, attributes, ">\n");
    ++depth_;
  }
  void Close(absl::string_view tag) {
    --depth_;
    Indent();
    absl::StrAppend(&out_, "</", tag, ">\n");
  }
  void Leaf(absl::string_view tag, absl::string_view text, absl::string_view attributes = "") {
    Indent();
    absl::StrAppend(&out_, "<", tag, attributes, ">");
    AppendEscaped(out_, text);
    absl::StrAppend(&out_, "</", tag, ">\n");
  }
  void Raw(absl::string_view line) {
    Indent();
    absl::StrAppend(&out_, line, "\n");
  }

  std::string Release() && { return std::move(out_); }

 private:
  void Indent() { out_.append(2 * depth_, ' '); }

  std::string out_;
  int depth_ = 0;
};

// Party name and, when given, the business ID with the Finnish scheme code "Y".
void WriteParty(XmlWriter& xml, absl::string_view tag, absl::string_view name,
                absl::string_view business_id) {
  xml.Open(tag);
  xml.Leaf("Nm", name);
  if (!business_id.empty()) {
    xml.Open("Id");
    xml.Open("OrgId");
    xml.Open("Othr");
    xml.Leaf("Id", business_id);
    xml.Open("SchmeNm");
    xml.Leaf("Cd", "Y");
    xml.Close("SchmeNm");
    xml.Close("Othr");
    xml.Close("OrgId");
    xml.Close("Id");
  }
  xml.Close(tag);
}

void WriteAccount(XmlWriter& xml, absl::string_view tag, absl::string_view iban) {
  xml.Open(tag);
  xml.Open("Id");
  xml.Leaf("IBAN", iban);
  xml.Close("Id");
  xml.Close(tag);
}

void WriteAgent(XmlWriter& xml, absl::string_view tag, absl::string_view bic) {
  xml.Open(tag);
  xml.Open("FinInstnId");
  xml.Leaf("BIC", bic);
  xml.Close("FinInstnId");
  xml.Close(tag);
}

// Fields as they go into the document: converted, normalised and checked.
struct CheckedPayment {
  std::string end_to_end_id;
  std::string creditor_name;
  std::string creditor_iban;
  std::string creditor_bic;
  int64_t amount_cents;
  std::string remittance_information;
};

absl::StatusOr<CheckedPayment> CheckPayment(absl::string_view field, const SepaPayment& payment) {
  CheckedPayment checked;
  RETURN_IF_ERROR(CheckIdentifier(absl::StrCat(field, ".end_to_end_id"), payment.end_to_end_id));
  checked.end_to_end_id = payment.end_to_end_id;
  ASSIGN_OR_RETURN(checked.creditor_name, ToSepaText(absl::StrCat(field, ".creditor_name"),
                                                     payment.creditor_name, kSepaMaxNameLength));
  ASSIGN_OR_RETURN(checked.creditor_iban,
                   fi::ParseIban(absl::StrCat(field, ".creditor_iban"), payment.creditor_iban));
  if (!payment.creditor_bic.empty()) {
    ASSIGN_OR_RETURN(checked.creditor_bic,
                     NormaliseBic(absl::StrCat(field, ".creditor_bic"), payment.creditor_bic));
  }
  if (payment.amount_cents <= 0 || payment.amount_cents > kSepaMaxAmountCents) {
    return InvalidField(
        absl::StrCat(field, ".amount_cents"),
        absl::StrCat("must be between 1 and ", kSepaMaxAmountCents, " cents (0.01 to ",
                     FormatSepaAmount(kSepaMaxAmountCents), " EUR), got ", payment.amount_cents));
  }
  checked.amount_cents = payment.amount_cents;
  if (!payment.remittance_information.empty()) {
    ASSIGN_OR_RETURN(checked.remittance_information,
                     ToSepaText(absl::StrCat(field, ".remittance_information"),
                                payment.remittance_information, kSepaMaxRemittanceLength));
  }
  return checked;
}

}  // namespace

absl::StatusOr<std::string> ToSepaText(absl::string_view field, absl::string_view text,
                                       int max_length) {
  std::string converted;
  converted.reserve(text.size());
  int length = 0;
  bool blank = true;
  absl::string_view rest = text;
  for (int position = 1; !rest.empty(); ++position) {
    const std::optional<char32_t> c = PopUtf8(rest);
    if (!c.has_value()) {
      return InvalidField(field, absl::StrCat("not valid UTF-8 at character ", position));
    }
    const std::optional<absl::string_view> replacement = SepaTextReplacement(*c);
    if (!replacement.has_value()) {
      return InvalidField(field, absl::StrCat("character ", DescribeCharacter(*c), " at position ",
                                              position, " is outside the SEPA character set"));
    }
    converted.append(replacement->data(), replacement->size());
    // Every replacement is ASCII except the Finnish letters, which are one character each.
    length += static_cast<unsigned char>(replacement->front()) < 0x80
                  ? static_cast<int>(replacement->size())
                  : 1;
    blank = blank && *replacement == " ";
  }
  if (blank) {
    return InvalidField(field, "must not be empty");
  }
  if (length > max_length) {
    return InvalidField(field, absl::StrCat("at most ", max_length, " characters, got ", length));
  }
  return converted;
}

std::string FormatSepaAmount(int64_t cents) { return money::Money::FromMinor(cents).ToString(); }

absl::StatusOr<std::string> WriteSepaCreditTransfer(const SepaCreditTransfer& transfer) {
  RETURN_IF_ERROR(CheckIdentifier("message_id", transfer.message_id));
  if (transfer.creation_time == absl::InfiniteFuture() ||
      transfer.creation_time == absl::InfinitePast()) {
    return InvalidField("creation_time", "must be a finite time");
  }
  const absl::CivilSecond created = transfer.time_zone.At(transfer.creation_time).cs;
  if (created.year() < 1000 || created.year() > 9999) {
    return InvalidField("creation_time", "year must have four digits");
  }
  const absl::CivilDay execution = transfer.requested_execution_date;
  if (execution.year() < 1000 || execution.year() > 9999) {
    return InvalidField("requested_execution_date", "year must have four digits");
  }

  ASSIGN_OR_RETURN(const std::string debtor_name,
                   ToSepaText("debtor.name", transfer.debtor.name, kSepaMaxNameLength));
  ASSIGN_OR_RETURN(const std::string debtor_iban,
                   fi::ParseIban("debtor.iban", transfer.debtor.iban));
  if (transfer.debtor.bic.empty()) {
    return InvalidField("debtor.bic", "must not be empty");
  }
  ASSIGN_OR_RETURN(const std::string debtor_bic, NormaliseBic("debtor.bic", transfer.debtor.bic));
  if (!transfer.debtor.business_id.empty()) {
    RETURN_IF_ERROR(fi::ValidateBusinessId("debtor.business_id", transfer.debtor.business_id));
  }

  if (transfer.payments.empty()) {
    return InvalidField("payments", "at least one payment is required");
  }
  std::vector<CheckedPayment> payments;
  payments.reserve(transfer.payments.size());
  absl::flat_hash_set<absl::string_view> end_to_end_ids;
  int64_t control_sum_cents = 0;
  for (size_t i = 0; i < transfer.payments.size(); ++i) {
    const std::string field = absl::StrCat("payments[", i, "]");
    ASSIGN_OR_RETURN(CheckedPayment payment, CheckPayment(field, transfer.payments[i]));
    if (!end_to_end_ids.insert(transfer.payments[i].end_to_end_id).second) {
      return InvalidField(absl::StrCat(field, ".end_to_end_id"),
                          absl::StrCat("\"", payment.end_to_end_id,
                                       "\" is used by an earlier payment; ids must be unique"));
    }
    // Both terms are at most kSepaMaxControlSumCents, so the check cannot overflow.
    if (payment.amount_cents > kSepaMaxControlSumCents - control_sum_cents) {
      return InvalidField("payments", "the sum of the amounts exceeds the 18 digits of CtrlSum");
    }
    control_sum_cents += payment.amount_cents;
    payments.push_back(std::move(payment));
  }

  const std::string count = absl::StrCat(payments.size());
  const std::string control_sum = FormatSepaAmount(control_sum_cents);
  const std::string business_id = transfer.debtor.business_id;

  XmlWriter xml(1024 + 640 * payments.size());
  xml.Raw(R"(<?xml version="1.0" encoding="UTF-8"?>)");
  xml.Open("Document", absl::StrCat(R"( xmlns=")", kNamespace, R"(")"));
  xml.Open("CstmrCdtTrfInitn");

  xml.Open("GrpHdr");
  xml.Leaf("MsgId", transfer.message_id);
  xml.Leaf("CreDtTm",
           absl::FormatTime("%Y-%m-%dT%H:%M:%S%Ez", transfer.creation_time, transfer.time_zone));
  xml.Leaf("NbOfTxs", count);
  xml.Leaf("CtrlSum", control_sum);
  WriteParty(xml, "InitgPty", debtor_name, business_id);
  xml.Close("GrpHdr");

  xml.Open("PmtInf");
  xml.Leaf("PmtInfId", transfer.message_id);
  xml.Leaf("PmtMtd", "TRF");
  xml.Leaf("BtchBookg", transfer.batch_booking ? "true" : "false");
  xml.Leaf("NbOfTxs", count);
  xml.Leaf("CtrlSum", control_sum);
  xml.Open("PmtTpInf");
  xml.Open("SvcLvl");
  xml.Leaf("Cd", "SEPA");
  xml.Close("SvcLvl");
  xml.Open("CtgyPurp");
  xml.Leaf("Cd", "SALA");
  xml.Close("CtgyPurp");
  xml.Close("PmtTpInf");
  xml.Leaf("ReqdExctnDt",
           absl::StrFormat("%04d-%02d-%02d", execution.year(), execution.month(), execution.day()));
  WriteParty(xml, "Dbtr", debtor_name, business_id);
  WriteAccount(xml, "DbtrAcct", debtor_iban);
  WriteAgent(xml, "DbtrAgt", debtor_bic);
  xml.Leaf("ChrgBr", "SLEV");

  for (const CheckedPayment& payment : payments) {
    xml.Open("CdtTrfTxInf");
    xml.Open("PmtId");
    xml.Leaf("EndToEndId", payment.end_to_end_id);
    xml.Close("PmtId");
    xml.Open("Amt");
    xml.Leaf("InstdAmt", FormatSepaAmount(payment.amount_cents), R"( Ccy="EUR")");
    xml.Close("Amt");
    if (!payment.creditor_bic.empty()) {
      WriteAgent(xml, "CdtrAgt", payment.creditor_bic);
    }
    xml.Open("Cdtr");
    xml.Leaf("Nm", payment.creditor_name);
    xml.Close("Cdtr");
    WriteAccount(xml, "CdtrAcct", payment.creditor_iban);
    if (!payment.remittance_information.empty()) {
      xml.Open("RmtInf");
      xml.Leaf("Ustrd", payment.remittance_information);
      xml.Close("RmtInf");
    }
    xml.Close("CdtTrfTxInf");
  }

  xml.Close("PmtInf");
  xml.Close("CstmrCdtTrfInitn");
  xml.Close("Document");
  return std::move(xml).Release();
}

}  // namespace tahe::payroll
