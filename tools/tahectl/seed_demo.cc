#include "tools/tahectl/seed_demo.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "libs/status/status.h"
#include "tools/tahectl/ledger_client.h"
#include "tools/tahectl/parse.h"

namespace tahe::tahectl {

namespace v1 = ::tahe::ledger::v1;

namespace {

// The accounts of the demo story (see DemoAccounts).
constexpr char kReceivables[] = "1700";
constexpr char kBank[] = "1910";
constexpr char kPayables[] = "2800";
constexpr char kWithholdingPayable[] = "2870";
constexpr char kPensionPayable[] = "2871";
constexpr char kSales[] = "3000";
constexpr char kFees[] = "3100";
constexpr char kGrants[] = "3200";
constexpr char kWages[] = "4000";
constexpr char kPensions[] = "4100";
constexpr char kServices[] = "4300";
constexpr char kSupplies[] = "4400";
constexpr char kIncomeTax[] = "5000";
constexpr char kStateFunding[] = "5100";

v1::Account MakeAccount(absl::string_view number, absl::string_view name, v1::AccountType type,
                        absl::string_view group) {
  v1::Account account;
  account.set_number(std::string(number));
  account.set_name(std::string(name));
  account.set_type(type);
  account.set_parent_group(std::string(group));
  return account;
}

// What differs between a municipality and a wellbeing services county in the demo story.
struct Profile {
  std::string main_revenue_account;
  std::string main_revenue_text;
  std::string other_revenue_account;
  std::string other_revenue_text;
  // Administration, then three service areas: codes "100".."400".
  std::vector<std::string> cost_centres;
  // The cost_centre dimension's description, naming each code.
  std::string cost_centre_names;
  std::string services_purchase_text;
  std::string supplies_purchase_text;
  std::string sales_text;
  std::string fees_text;
};

Profile ProfileFor(absl::string_view tenant) {
  if (tenant == "phhyky") {
    // Päijät-Hämeen hyvinvointikuntayhtymä: funded by the state, not by local income tax.
    return Profile{
        .main_revenue_account = kStateFunding,
        .main_revenue_text = "Valtion rahoitus",
        .other_revenue_account = kGrants,
        .other_revenue_text = "Hankeavustus, hoitotakuun vahvistaminen",
        .cost_centres = {"100", "200", "300", "400"},
        .cost_centre_names =
            "Kustannuspaikka: 100 hallinto, 200 perusterveydenhuolto, "
            "300 erikoissairaanhoito, 400 sosiaalipalvelut",
        .services_purchase_text = "Ostolasku: ostopalvelut, kotihoito",
        .supplies_purchase_text = "Ostolasku: hoitotarvikkeet",
        .sales_text = "Myyntilasku: työterveyspalvelut",
        .fees_text = "Asiakasmaksut, poliklinikka",
    };
  }
  return Profile{
      .main_revenue_account = kIncomeTax,
      .main_revenue_text = "Kunnan tulovero, tilitys",
      .other_revenue_account = kStateFunding,
      .other_revenue_text = "Valtionosuudet",
      .cost_centres = {"100", "200", "300", "400"},
      .cost_centre_names =
          "Kustannuspaikka: 100 keskushallinto, 200 sivistystoimi, "
          "300 tekninen toimi, 400 kulttuuri ja vapaa-aika",
      .services_purchase_text = "Ostolasku: kiinteistöjen kunnossapito",
      .supplies_purchase_text = "Ostolasku: opetustarvikkeet",
      .sales_text = "Myyntilasku: toimitilavuokrat",
      .fees_text = "Asiakasmaksut, liikuntapaikat",
  };
}

// Size of the tenant relative to Lahti, in thousandths. Stable for any slug.
int64_t ScalePermille(absl::string_view tenant) {
  if (tenant == "lahti") {
    return 1000;
  }
  if (tenant == "phhyky") {
    return 1600;
  }
  uint32_t hash = 2166136261u;  // FNV-1a: deterministic across runs and platforms.
  for (char c : tenant) {
    hash = (hash ^ static_cast<uint8_t>(c)) * 16777619u;
  }
  return 200 + hash % 1000;
}

v1::EntryLine Line(absl::string_view account, int64_t cents, absl::string_view cost_centre = "") {
  v1::EntryLine line;
  line.set_account(std::string(account));
  line.mutable_amount()->set_amount_minor(cents);
  line.mutable_amount()->set_currency_code("EUR");
  if (!cost_centre.empty()) {
    (*line.mutable_dimensions())[std::string(kCostCentreDimension)] = std::string(cost_centre);
  }
  return line;
}

std::string SetupRequestId(absl::string_view tenant, absl::string_view what) {
  return absl::StrCat("demo-", tenant, "-", what);
}

}  // namespace

const std::vector<v1::Account>& DemoAccounts() {
  // Numbers and names as in the ledger's fi-municipal template, so that on a real ledger the
  // demo posts to the template's own accounts and creates none.
  static const auto* const kAccounts = new std::vector<v1::Account>{
      MakeAccount(kReceivables, "Myyntisaamiset", v1::ACCOUNT_TYPE_ASSET,
                  "Vaihtuvat vastaavat/Lyhytaikaiset saamiset"),
      MakeAccount(kBank, "Pankkitili", v1::ACCOUNT_TYPE_ASSET,
                  "Vaihtuvat vastaavat/Rahat ja pankkisaamiset"),
      MakeAccount(kPayables, "Ostovelat", v1::ACCOUNT_TYPE_LIABILITY,
                  "Vieras pääoma/Lyhytaikainen"),
      MakeAccount(kWithholdingPayable, "Ennakonpidätysvelka", v1::ACCOUNT_TYPE_LIABILITY,
                  "Vieras pääoma/Lyhytaikainen"),
      MakeAccount(kPensionPayable, "Eläkemaksuvelka", v1::ACCOUNT_TYPE_LIABILITY,
                  "Vieras pääoma/Lyhytaikainen"),
      MakeAccount(kSales, "Myyntituotot", v1::ACCOUNT_TYPE_INCOME, "Toimintatuotot/Myyntituotot"),
      MakeAccount(kFees, "Maksutuotot", v1::ACCOUNT_TYPE_INCOME, "Toimintatuotot/Maksutuotot"),
      MakeAccount(kGrants, "Tuet ja avustukset", v1::ACCOUNT_TYPE_INCOME,
                  "Toimintatuotot/Tuet ja avustukset"),
      MakeAccount(kWages, "Palkat ja palkkiot", v1::ACCOUNT_TYPE_EXPENSE,
                  "Toimintakulut/Henkilöstökulut/Palkat ja palkkiot"),
      MakeAccount(kPensions, "Eläkekulut", v1::ACCOUNT_TYPE_EXPENSE,
                  "Toimintakulut/Henkilöstökulut/Henkilösivukulut/Eläkekulut"),
      MakeAccount(kServices, "Palvelujen ostot", v1::ACCOUNT_TYPE_EXPENSE,
                  "Toimintakulut/Palvelujen ostot"),
      MakeAccount(kSupplies, "Aineet, tarvikkeet ja tavarat", v1::ACCOUNT_TYPE_EXPENSE,
                  "Toimintakulut/Aineet, tarvikkeet ja tavarat"),
      MakeAccount(kIncomeTax, "Kunnallisvero", v1::ACCOUNT_TYPE_INCOME, "Verotulot"),
      MakeAccount(kStateFunding, "Valtionosuudet", v1::ACCOUNT_TYPE_INCOME, "Valtionosuudet"),
  };
  return *kAccounts;
}

v1::Dimension DemoCostCentres(absl::string_view tenant) {
  v1::Dimension dimension;
  dimension.set_key(std::string(kCostCentreDimension));
  const Profile profile = ProfileFor(tenant);
  dimension.set_description(profile.cost_centre_names);
  for (const std::string& value : profile.cost_centres) {
    dimension.add_allowed_values(value);
  }
  return dimension;
}

absl::CivilMonth DemoMonth(absl::CivilDay today) {
  const absl::CivilMonth month(today);
  return month.month() == 1 ? month : month - 1;
}

std::vector<v1::PostEntryRequest> DemoEntries(absl::string_view tenant, absl::CivilMonth month) {
  const Profile profile = ProfileFor(tenant);
  const int64_t scale = ScalePermille(tenant);
  const std::string period = FormatPeriod(month);
  const std::string month_label = absl::StrFormat("%02d/%04d", month.month(), month.year());
  const std::vector<std::string>& cc = profile.cost_centres;

  // A base amount in cents scaled to the tenant, plus up to 999.99 euros that vary by month and
  // by entry so that months and entries differ.
  const auto amount = [&](int64_t base_cents, int n) {
    const int64_t jitter = (month.year() * 31 + month.month() * 7919 + n * 104729) % 100000;
    return base_cents * scale / 1000 + jitter;
  };

  const int64_t main_revenue = amount(4'825'000'000, 1);   // ~48 M EUR
  const int64_t other_revenue = amount(1'210'000'000, 2);  // ~12 M EUR
  const int64_t services = amount(23'456'780, 3);
  const int64_t supplies = amount(4'321'090, 4);
  const int64_t sales = amount(12'500'000, 5);
  const int64_t fees = amount(1'875'550, 6);
  const int64_t gross_wages = amount(2'015'000'000, 8);  // ~20 M EUR
  // Administration's share of the wages; withholding at an average rate of 22 %; the pension
  // contribution at 17.34 %. Integer division rounds toward zero, and the remainders go to the
  // last line, so each entry balances exactly.
  const int64_t admin_wages = gross_wages * 30 / 100;
  const int64_t withholding = gross_wages * 22 / 100;
  const int64_t pension = gross_wages * 1734 / 10000;

  struct Draft {
    int day;
    std::string description;
    std::vector<v1::EntryLine> lines;
  };
  const std::vector<Draft> drafts = {
      {3,
       absl::StrCat(profile.main_revenue_text, " ", month_label),
       {Line(kBank, main_revenue), Line(profile.main_revenue_account, -main_revenue)}},
      {5,
       absl::StrCat(profile.other_revenue_text, " ", month_label),
       {Line(kBank, other_revenue), Line(profile.other_revenue_account, -other_revenue, cc[0])}},
      {8,
       profile.services_purchase_text,
       {Line(kServices, services, cc[2]), Line(kPayables, -services)}},
      {10,
       profile.supplies_purchase_text,
       {Line(kSupplies, supplies, cc[1]), Line(kPayables, -supplies)}},
      {12, profile.sales_text, {Line(kReceivables, sales), Line(kSales, -sales, cc[2])}},
      {15, profile.fees_text, {Line(kBank, fees), Line(kFees, -fees, cc[3])}},
      {18,
       "Ostolaskujen maksu",
       {Line(kPayables, services + supplies), Line(kBank, -(services + supplies))}},
      {20,
       absl::StrCat("Palkat ", month_label),
       {Line(kWages, admin_wages, cc[0]), Line(kWages, gross_wages - admin_wages, cc[1]),
        Line(kWithholdingPayable, -withholding), Line(kBank, -(gross_wages - withholding))}},
      {20,
       absl::StrCat("Eläkevakuutusmaksut ", month_label),
       {Line(kPensions, pension, cc[0]), Line(kPensionPayable, -pension)}},
      {25, "Myyntisaamisten suoritukset", {Line(kBank, sales), Line(kReceivables, -sales)}},
  };

  std::vector<v1::PostEntryRequest> requests;
  for (size_t i = 0; i < drafts.size(); ++i) {
    const Draft& draft = drafts[i];
    v1::PostEntryRequest request;
    request.set_request_id(absl::StrFormat("demo-%s-%s-%02d", tenant, period, i + 1));
    v1::EntryDraft* entry = request.mutable_entry();
    entry->set_entry_date(FormatDate(absl::CivilDay(month.year(), month.month(), draft.day)));
    entry->set_description(draft.description);
    entry->mutable_source()->set_system("demo");
    entry->mutable_source()->set_reference(absl::StrCat("seed-demo ", period));
    for (const v1::EntryLine& line : draft.lines) {
      *entry->add_lines() = line;
    }
    requests.push_back(std::move(request));
  }
  return requests;
}

namespace {

absl::StatusOr<TenantSeedResult> SeedTenant(const ClientSettings& base_settings,
                                            const std::string& tenant, absl::CivilDay today) {
  ClientSettings settings = base_settings;
  settings.tenant = tenant;
  LedgerClient ledger(settings);
  TenantSeedResult result;
  result.tenant = tenant;

  v1::LoadChartTemplateRequest load;
  load.set_request_id(SetupRequestId(tenant, absl::StrCat("template-", kDemoChartTemplate)));
  load.set_template_(std::string(kDemoChartTemplate));
  ASSIGN_OR_RETURN(v1::LoadChartTemplateResponse loaded, ledger.LoadChartTemplate(load));
  result.template_accounts_created = loaded.accounts_created();
  result.template_accounts_existing = loaded.accounts_existing();

  v1::ListAccountsRequest list_accounts;
  list_accounts.set_include_closed(true);
  ASSIGN_OR_RETURN(v1::ListAccountsResponse accounts, ledger.ListAccounts(list_accounts));
  std::set<std::string> existing;
  for (const v1::Account& account : accounts.accounts()) {
    existing.insert(account.number());
  }
  for (const v1::Account& account : DemoAccounts()) {
    if (existing.count(account.number()) > 0) {
      continue;
    }
    v1::CreateAccountRequest create;
    create.set_request_id(SetupRequestId(tenant, absl::StrCat("account-", account.number())));
    *create.mutable_account() = account;
    RETURN_IF_ERROR(ledger.CreateAccount(create).status());
    ++result.demo_accounts_created;
  }

  v1::DefineDimensionRequest define;
  define.set_request_id(SetupRequestId(tenant, absl::StrCat("dimension-", kCostCentreDimension)));
  *define.mutable_dimension() = DemoCostCentres(tenant);
  RETURN_IF_ERROR(ledger.DefineDimension(define).status());

  ASSIGN_OR_RETURN(v1::ListPeriodsResponse periods, ledger.ListPeriods(v1::ListPeriodsRequest()));
  std::set<std::string> known_periods;
  for (const v1::Period& period : periods.periods()) {
    known_periods.insert(period.period());
  }
  const absl::CivilMonth current(today);
  for (absl::CivilMonth month(current.year(), 1); month <= current; ++month) {
    const std::string period = FormatPeriod(month);
    // A period that exists is left alone, closed or not: closing is the operator's decision.
    if (known_periods.count(period) > 0) {
      ++result.periods_existing;
      continue;
    }
    v1::OpenPeriodRequest open;
    open.set_request_id(SetupRequestId(tenant, absl::StrCat("period-", period)));
    open.set_period(period);
    absl::StatusOr<v1::Period> opened = ledger.OpenPeriod(open);
    if (opened.ok()) {
      ++result.periods_opened;
    } else if (opened.status().code() == absl::StatusCode::kAlreadyExists) {
      ++result.periods_existing;  // Opened concurrently by someone else.
    } else {
      return opened.status();
    }
  }

  for (const v1::PostEntryRequest& request : DemoEntries(tenant, DemoMonth(today))) {
    absl::StatusOr<v1::PostEntryResponse> posted = ledger.PostEntry(request);
    if (!posted.ok()) {
      return tahe::Annotate(posted.status(), absl::StrCat("demo entry ", request.request_id()));
    }
    if (posted->replayed()) {
      ++result.entries_replayed;
    } else {
      ++result.entries_posted;
    }
    const int64_t sequence = posted->entry().sequence();
    if (result.first_sequence == 0 || sequence < result.first_sequence) {
      result.first_sequence = sequence;
    }
    result.last_sequence = std::max(result.last_sequence, sequence);
  }
  return result;
}

}  // namespace

absl::StatusOr<std::vector<TenantSeedResult>> SeedDemo(const ClientSettings& settings,
                                                       const std::vector<std::string>& tenants,
                                                       absl::CivilDay today, std::ostream& out) {
  std::vector<TenantSeedResult> results;
  const absl::CivilMonth current(today);
  const std::string demo_period = FormatPeriod(DemoMonth(today));
  for (const std::string& tenant : tenants) {
    absl::StatusOr<TenantSeedResult> result = SeedTenant(settings, tenant, today);
    if (!result.ok()) {
      return tahe::Annotate(result.status(), absl::StrCat("seeding ", tenant));
    }
    out << absl::StrFormat(
        "%s: chart %s (%d accounts created, %d existing), %d demo accounts added, "
        "periods %s..%s open (%d opened now), entries %s: %d posted, %d replayed "
        "(sequences %d..%d)\n",
        tenant, kDemoChartTemplate, result->template_accounts_created,
        result->template_accounts_existing, result->demo_accounts_created,
        FormatPeriod(absl::CivilMonth(current.year(), 1)), FormatPeriod(current),
        result->periods_opened, demo_period, result->entries_posted, result->entries_replayed,
        result->first_sequence, result->last_sequence);
    results.push_back(*std::move(result));
  }
  return results;
}

}  // namespace tahe::tahectl
