#include "services/ledger/ledger_domain.h"

#include <openssl/sha.h>

#include <algorithm>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "libs/status/status.h"

namespace tahe::ledger {

namespace {

bool AllDigits(absl::string_view s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](char c) { return absl::ascii_isdigit(c); });
}

// Length-prefixed field: "<len>:<bytes>;" — unambiguous whatever the bytes are.
void Field(std::string* out, absl::string_view value) {
  absl::StrAppend(out, value.size(), ":", value, ";");
}
void Field(std::string* out, int64_t value) { absl::StrAppend(out, value, ";"); }

std::string CurrencyOrEur(absl::string_view code) {
  return code.empty() ? "EUR" : std::string(code);
}

}  // namespace

bool IsValidAccountNumber(absl::string_view number) {
  return number.size() >= 3 && number.size() <= 10 && AllDigits(number);
}

bool IsValidDimensionKey(absl::string_view key) {
  if (key.empty() || key.size() > 32 || !absl::ascii_islower(key[0])) {
    return false;
  }
  return std::all_of(key.begin(), key.end(), [](char c) {
    return absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '_';
  });
}

bool IsCleanText(absl::string_view text) {
  return std::none_of(text.begin(), text.end(), [](char c) {
    auto byte = static_cast<unsigned char>(c);
    return (byte < 0x20 && c != '\t' && c != '\n') || byte == 0x7f;
  });
}

absl::Status CheckText(absl::string_view field, absl::string_view text) {
  if (!IsCleanText(text)) {
    return InvalidField(field, "contains a control character");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> NormalizeCurrency(absl::string_view field, absl::string_view code) {
  if (code.empty()) {
    return std::string("EUR");
  }
  if (code.size() != 3 ||
      !std::all_of(code.begin(), code.end(), [](char c) { return c >= 'A' && c <= 'Z'; })) {
    return InvalidField(field, absl::StrCat("\"", code, "\" is not an ISO 4217 code like EUR"));
  }
  return std::string(code);
}

absl::StatusOr<std::vector<std::pair<std::string, int64_t>>> SumByCurrency(
    const v1::EntryDraft& draft) {
  std::map<std::string, int64_t> sums;
  for (const auto& line : draft.lines()) {
    int64_t& sum = sums[CurrencyOrEur(line.amount().currency_code())];
    if (__builtin_add_overflow(sum, line.amount().amount_minor(), &sum)) {
      return absl::OutOfRangeError("entry.lines: amounts overflow 64 bits");
    }
  }
  return std::vector<std::pair<std::string, int64_t>>(sums.begin(), sums.end());
}

absl::Status ValidateDraft(const v1::EntryDraft& draft, absl::string_view field) {
  RETURN_IF_ERROR(ParseDate(absl::StrCat(field, ".entry_date"), draft.entry_date()).status());
  if (draft.description().size() > 500) {
    return InvalidField(absl::StrCat(field, ".description"), "longer than 500 characters");
  }
  RETURN_IF_ERROR(CheckText(absl::StrCat(field, ".description"), draft.description()));
  RETURN_IF_ERROR(CheckText(absl::StrCat(field, ".source.system"), draft.source().system()));
  RETURN_IF_ERROR(CheckText(absl::StrCat(field, ".source.reference"), draft.source().reference()));
  if (draft.source().system().empty()) {
    return InvalidField(absl::StrCat(field, ".source.system"),
                        "required (the system that produced the entry, e.g. \"manual\")");
  }
  if (draft.source().system().size() > 64 || draft.source().reference().size() > 200) {
    return InvalidField(absl::StrCat(field, ".source"), "system or reference too long (64/200)");
  }
  if (draft.lines_size() < 2) {
    return InvalidField(absl::StrCat(field, ".lines"), "an entry needs at least two lines");
  }
  if (draft.lines_size() > kMaxLinesPerEntry) {
    return InvalidField(absl::StrCat(field, ".lines"),
                        absl::StrCat("at most ", kMaxLinesPerEntry, " lines per entry"));
  }
  for (int i = 0; i < draft.lines_size(); ++i) {
    const v1::EntryLine& line = draft.lines(i);
    // Field names are built only for an error: this loop runs for every line of every post.
    auto at = [&](absl::string_view suffix) {
      return absl::StrCat(field, ".lines[", i, "]", suffix);
    };
    if (!IsValidAccountNumber(line.account())) {
      return InvalidField(
          at(".account"),
          absl::StrCat("\"", line.account(), "\" is not an account number (3-10 digits)"));
    }
    const int64_t amount = line.amount().amount_minor();
    if (amount == 0) {
      return InvalidField(at(".amount.amount_minor"),
                          "must not be zero (debit positive, credit negative)");
    }
    if (amount > kMaxAbsAmountMinor || amount < -kMaxAbsAmountMinor) {
      return InvalidField(
          at(".amount.amount_minor"),
          absl::StrCat("beyond the largest line amount, ", kMaxAbsAmountMinor, " cents"));
    }
    if (!line.amount().currency_code().empty() && line.amount().currency_code() != "EUR") {
      RETURN_IF_ERROR(
          NormalizeCurrency(at(".amount.currency_code"), line.amount().currency_code()).status());
    }
    for (const auto& [key, value] : line.dimensions()) {
      if (!IsValidDimensionKey(key)) {
        return InvalidField(at(".dimensions"),
                            absl::StrCat("\"", key, "\" is not a dimension key ([a-z][a-z0-9_]*)"));
      }
      if (value.empty() || value.size() > 64 || std::any_of(value.begin(), value.end(), [](char c) {
            return static_cast<unsigned char>(c) < 0x20;
          })) {
        return InvalidField(at(absl::StrCat(".dimensions[", key, "]")),
                            "value must be 1-64 characters without control characters");
      }
    }
    if (line.text().size() > 200) {
      return InvalidField(at(".text"), "longer than 200 characters");
    }
    if (!IsCleanText(line.text())) {
      return CheckText(at(".text"), line.text());
    }
  }
  ASSIGN_OR_RETURN(auto sums, SumByCurrency(draft));
  for (const auto& [currency, sum] : sums) {
    if (sum != 0) {
      return InvalidField(absl::StrCat(field, ".lines"),
                          absl::StrCat("entry does not balance in ", currency,
                                       ": debits minus credits is ", sum, " cents"));
    }
  }
  return absl::OkStatus();
}

std::string CanonicalEntry(absl::string_view tenant, int64_t sequence, absl::string_view request_id,
                           const v1::EntryDraft& draft, int64_t reverses_sequence) {
  std::string out = "tahe.ledger.entry.v1;";
  Field(&out, tenant);
  Field(&out, sequence);
  Field(&out, request_id);
  Field(&out, draft.entry_date());
  Field(&out, draft.description());
  Field(&out, draft.source().system());
  Field(&out, draft.source().reference());
  Field(&out, reverses_sequence);
  Field(&out, static_cast<int64_t>(draft.lines_size()));
  for (const auto& line : draft.lines()) {
    Field(&out, line.account());
    Field(&out, line.amount().amount_minor());
    Field(&out, CurrencyOrEur(line.amount().currency_code()));
    std::map<std::string, std::string> dims(line.dimensions().begin(), line.dimensions().end());
    Field(&out, static_cast<int64_t>(dims.size()));
    for (const auto& [k, v] : dims) {
      Field(&out, k);
      Field(&out, v);
    }
    Field(&out, line.text());
  }
  return out;
}

std::string Sha256(absl::string_view bytes) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
  return std::string(reinterpret_cast<const char*>(digest), sizeof(digest));
}

std::string GenesisHash() { return std::string(kHashBytes, '\0'); }

std::string ChainHash(absl::string_view previous_hash, absl::string_view canonical) {
  return Sha256(absl::StrCat(previous_hash, canonical));
}

std::string HexEncode(absl::string_view bytes) { return absl::BytesToHexString(bytes); }

std::string DraftFingerprint(const v1::EntryDraft& draft, int64_t reverses_sequence) {
  return Sha256(CanonicalEntry("", 0, "", draft, reverses_sequence));
}

v1::EntryDraft ReversalDraft(const v1::Entry& original, absl::string_view date,
                             absl::string_view description) {
  v1::EntryDraft draft;
  draft.set_entry_date(date.empty() ? original.entry_date() : std::string(date));
  draft.set_description(description.empty()
                            ? absl::StrCat("Reversal of entry ", original.sequence())
                            : std::string(description));
  draft.mutable_source()->set_system("ledger.reversal");
  draft.mutable_source()->set_reference(absl::StrCat(original.sequence()));
  for (const auto& line : original.lines()) {
    v1::EntryLine* out = draft.add_lines();
    *out = line;
    out->mutable_amount()->set_amount_minor(-line.amount().amount_minor());
  }
  return draft;
}

namespace {

struct TemplateAccount {
  const char* number;
  const char* name;
  v1::AccountType type;
  const char* group;
};

// A default municipal chart following the JHS 192 statement structure (finnish-rules.md §10):
// 1xxx assets, 2xxx equity and liabilities, 3xxx operating income, 4xxx operating expenses,
// 5xxx tax revenue, state funding and financial items, 6xxx depreciation, 7xxx-8xxx closing items.
constexpr TemplateAccount kMunicipal[] = {
    {"1000", "Aineettomat hyödykkeet", v1::ACCOUNT_TYPE_ASSET,
     "Pysyvät vastaavat/Aineettomat hyödykkeet"},
    {"1100", "Maa- ja vesialueet", v1::ACCOUNT_TYPE_ASSET,
     "Pysyvät vastaavat/Aineelliset hyödykkeet"},
    {"1110", "Rakennukset", v1::ACCOUNT_TYPE_ASSET, "Pysyvät vastaavat/Aineelliset hyödykkeet"},
    {"1120", "Kiinteät rakenteet ja laitteet", v1::ACCOUNT_TYPE_ASSET,
     "Pysyvät vastaavat/Aineelliset hyödykkeet"},
    {"1130", "Koneet ja kalusto", v1::ACCOUNT_TYPE_ASSET,
     "Pysyvät vastaavat/Aineelliset hyödykkeet"},
    {"1200", "Osakkeet ja osuudet", v1::ACCOUNT_TYPE_ASSET, "Pysyvät vastaavat/Sijoitukset"},
    {"1500", "Aineet ja tarvikkeet", v1::ACCOUNT_TYPE_ASSET, "Vaihtuvat vastaavat/Vaihto-omaisuus"},
    {"1700", "Myyntisaamiset", v1::ACCOUNT_TYPE_ASSET,
     "Vaihtuvat vastaavat/Lyhytaikaiset saamiset"},
    {"1710", "Arvonlisäverosaamiset", v1::ACCOUNT_TYPE_ASSET,
     "Vaihtuvat vastaavat/Lyhytaikaiset saamiset"},
    {"1750", "Siirtosaamiset", v1::ACCOUNT_TYPE_ASSET,
     "Vaihtuvat vastaavat/Lyhytaikaiset saamiset"},
    {"1900", "Kassa", v1::ACCOUNT_TYPE_ASSET, "Vaihtuvat vastaavat/Rahat ja pankkisaamiset"},
    {"1910", "Pankkitili", v1::ACCOUNT_TYPE_ASSET, "Vaihtuvat vastaavat/Rahat ja pankkisaamiset"},
    {"2000", "Peruspääoma", v1::ACCOUNT_TYPE_EQUITY, "Oma pääoma"},
    {"2050", "Edellisten tilikausien ylijäämä (alijäämä)", v1::ACCOUNT_TYPE_EQUITY, "Oma pääoma"},
    {"2090", "Tilikauden ylijäämä (alijäämä)", v1::ACCOUNT_TYPE_EQUITY, "Oma pääoma"},
    {"2200", "Poistoero", v1::ACCOUNT_TYPE_EQUITY, "Poistoero ja vapaaehtoiset varaukset"},
    {"2500", "Lainat rahoituslaitoksilta, pitkäaikaiset", v1::ACCOUNT_TYPE_LIABILITY,
     "Vieras pääoma/Pitkäaikainen"},
    {"2700", "Lainat rahoituslaitoksilta, lyhytaikaiset", v1::ACCOUNT_TYPE_LIABILITY,
     "Vieras pääoma/Lyhytaikainen"},
    {"2800", "Ostovelat", v1::ACCOUNT_TYPE_LIABILITY, "Vieras pääoma/Lyhytaikainen"},
    {"2850", "Arvonlisäverovelka", v1::ACCOUNT_TYPE_LIABILITY, "Vieras pääoma/Lyhytaikainen"},
    {"2870", "Ennakonpidätysvelka", v1::ACCOUNT_TYPE_LIABILITY, "Vieras pääoma/Lyhytaikainen"},
    {"2871", "Eläkemaksuvelka", v1::ACCOUNT_TYPE_LIABILITY, "Vieras pääoma/Lyhytaikainen"},
    {"2872", "Työttömyysvakuutusmaksuvelka", v1::ACCOUNT_TYPE_LIABILITY,
     "Vieras pääoma/Lyhytaikainen"},
    {"2873", "Sosiaaliturvamaksuvelka", v1::ACCOUNT_TYPE_LIABILITY, "Vieras pääoma/Lyhytaikainen"},
    {"2880", "Palkkavelka (nettopalkat)", v1::ACCOUNT_TYPE_LIABILITY,
     "Vieras pääoma/Lyhytaikainen"},
    {"2900", "Siirtovelat", v1::ACCOUNT_TYPE_LIABILITY, "Vieras pääoma/Lyhytaikainen"},
    {"2950", "Lomapalkkajaksotus", v1::ACCOUNT_TYPE_LIABILITY, "Vieras pääoma/Lyhytaikainen"},
    {"3000", "Myyntituotot", v1::ACCOUNT_TYPE_INCOME, "Toimintatuotot/Myyntituotot"},
    {"3100", "Maksutuotot", v1::ACCOUNT_TYPE_INCOME, "Toimintatuotot/Maksutuotot"},
    {"3200", "Tuet ja avustukset", v1::ACCOUNT_TYPE_INCOME, "Toimintatuotot/Tuet ja avustukset"},
    {"3300", "Vuokratuotot", v1::ACCOUNT_TYPE_INCOME, "Toimintatuotot/Muut toimintatuotot"},
    {"3400", "Muut toimintatuotot", v1::ACCOUNT_TYPE_INCOME, "Toimintatuotot/Muut toimintatuotot"},
    {"3500", "Valmistus omaan käyttöön", v1::ACCOUNT_TYPE_INCOME, "Valmistus omaan käyttöön"},
    {"4000", "Palkat ja palkkiot", v1::ACCOUNT_TYPE_EXPENSE,
     "Toimintakulut/Henkilöstökulut/Palkat ja palkkiot"},
    {"4100", "Eläkekulut", v1::ACCOUNT_TYPE_EXPENSE,
     "Toimintakulut/Henkilöstökulut/Henkilösivukulut/Eläkekulut"},
    {"4150", "Muut henkilösivukulut", v1::ACCOUNT_TYPE_EXPENSE,
     "Toimintakulut/Henkilöstökulut/Henkilösivukulut/Muut henkilösivukulut"},
    {"4300", "Palvelujen ostot", v1::ACCOUNT_TYPE_EXPENSE, "Toimintakulut/Palvelujen ostot"},
    {"4400", "Aineet, tarvikkeet ja tavarat", v1::ACCOUNT_TYPE_EXPENSE,
     "Toimintakulut/Aineet, tarvikkeet ja tavarat"},
    {"4500", "Avustukset", v1::ACCOUNT_TYPE_EXPENSE, "Toimintakulut/Avustukset"},
    {"4600", "Vuokrakulut", v1::ACCOUNT_TYPE_EXPENSE, "Toimintakulut/Muut toimintakulut"},
    {"4700", "Muut toimintakulut", v1::ACCOUNT_TYPE_EXPENSE, "Toimintakulut/Muut toimintakulut"},
    {"5000", "Kunnallisvero", v1::ACCOUNT_TYPE_INCOME, "Verotulot"},
    {"5010", "Kiinteistövero", v1::ACCOUNT_TYPE_INCOME, "Verotulot"},
    {"5020", "Osuus yhteisöveron tuotosta", v1::ACCOUNT_TYPE_INCOME, "Verotulot"},
    {"5100", "Valtionosuudet", v1::ACCOUNT_TYPE_INCOME, "Valtionosuudet"},
    {"5200", "Korkotuotot", v1::ACCOUNT_TYPE_INCOME, "Rahoitustuotot ja -kulut"},
    {"5210", "Muut rahoitustuotot", v1::ACCOUNT_TYPE_INCOME, "Rahoitustuotot ja -kulut"},
    {"5300", "Korkokulut", v1::ACCOUNT_TYPE_EXPENSE, "Rahoitustuotot ja -kulut"},
    {"5310", "Muut rahoituskulut", v1::ACCOUNT_TYPE_EXPENSE, "Rahoitustuotot ja -kulut"},
    {"6000", "Suunnitelman mukaiset poistot", v1::ACCOUNT_TYPE_EXPENSE,
     "Poistot ja arvonalentumiset"},
    {"6100", "Arvonalentumiset", v1::ACCOUNT_TYPE_EXPENSE, "Poistot ja arvonalentumiset"},
    {"7000", "Satunnaiset tuotot", v1::ACCOUNT_TYPE_INCOME, "Satunnaiset erät"},
    {"7100", "Satunnaiset kulut", v1::ACCOUNT_TYPE_EXPENSE, "Satunnaiset erät"},
    {"8000", "Poistoeron muutos", v1::ACCOUNT_TYPE_EXPENSE,
     "Poistoeron, varausten ja rahastojen muutos"},
    {"8100", "Varausten muutos", v1::ACCOUNT_TYPE_EXPENSE,
     "Poistoeron, varausten ja rahastojen muutos"},
    {"8200", "Rahastojen muutos", v1::ACCOUNT_TYPE_EXPENSE,
     "Poistoeron, varausten ja rahastojen muutos"},
};

}  // namespace

absl::StatusOr<ChartTemplate> LoadTemplate(absl::string_view name) {
  if (name.empty()) {
    name = "fi-municipal";
  }
  if (name != "fi-municipal" && name != "fi-wellbeing-region") {
    return InvalidField("template", absl::StrCat("unknown template \"", name,
                                                 "\" (fi-municipal, fi-wellbeing-region)"));
  }
  ChartTemplate chart;
  for (const TemplateAccount& t : kMunicipal) {
    v1::Account account;
    account.set_number(t.number);
    account.set_type(t.type);
    account.set_parent_group(t.group);
    account.set_name(t.name);
    if (name == "fi-wellbeing-region") {
      // JHS 207: welfare regions have no tax revenue; they are funded by the state.
      if (absl::string_view(t.number) == "5000" || absl::string_view(t.number) == "5010" ||
          absl::string_view(t.number) == "5020") {
        continue;
      }
      if (absl::string_view(t.number) == "5100") {
        account.set_name("Valtion rahoitus");
        account.set_parent_group("Valtion rahoitus");
      }
    }
    chart.accounts.push_back(account);
  }
  for (const auto& [key, description] :
       std::vector<std::pair<std::string, std::string>>{{"cost_centre", "Kustannuspaikka"},
                                                        {"project", "Projekti"},
                                                        {"function", "Tehtävä (toimintoluokka)"}}) {
    v1::Dimension d;
    d.set_key(key);
    d.set_description(description);
    chart.dimensions.push_back(d);
  }
  return chart;
}

}  // namespace tahe::ledger
