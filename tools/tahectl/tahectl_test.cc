// Unit tests of tahectl's pure parts: argument parsing, operand parsing, output formatting, the
// hand-written health messages and the demo data.
#include <catch2/catch.hpp>
#include <cstdint>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tools/tahectl/args.h"
#include "tools/tahectl/cli.h"
#include "tools/tahectl/client.h"
#include "tools/tahectl/format.h"
#include "tools/tahectl/health.h"
#include "tools/tahectl/ledger_commands.h"
#include "tools/tahectl/parse.h"
#include "tools/tahectl/seed_demo.h"

namespace tahe::tahectl {
namespace {

namespace v1 = ::tahe::ledger::v1;

EnvLookup FakeEnv(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](absl::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) {
      return std::nullopt;
    }
    return it->second;
  };
}

TEST_CASE("ParseArgs separates words from options placed anywhere") {
  absl::StatusOr<Args> args =
      ParseArgs({"--addr", "127.0.0.1:1", "ledger", "post", "--line", "1910:-5.00", "--line=4000:5",
                 "--date=2025-01-02", "--include-closed"});
  REQUIRE(args.ok());
  CHECK(args->positional() == std::vector<std::string>{"ledger", "post"});
  CHECK(args->Value("addr") == "127.0.0.1:1");
  // A value that starts with '-' is still the option's value.
  CHECK(args->Values("line") == std::vector<std::string>{"1910:-5.00", "4000:5"});
  CHECK(args->Value("date") == "2025-01-02");
  CHECK(args->Has("include-closed"));
  CHECK_FALSE(args->Has("tenant"));
}

TEST_CASE("ParseArgs refuses unknown, repeated, valueless and overvalued options") {
  CHECK(ParseArgs({"--bogus"}).status().message() == "unknown option --bogus");
  CHECK(ParseArgs({"--addr", "a", "--addr", "b"}).status().message() ==
        "--addr given more than once");
  CHECK(ParseArgs({"health", "--service"}).status().message() == "--service needs a value");
  CHECK(ParseArgs({"--include-closed=yes"}).status().message() ==
        "--include-closed takes no value");
  CHECK(ParseArgs({"-x"}).status().message() == "unknown option -x");
}

TEST_CASE("ParseArgs treats everything after -- as words") {
  absl::StatusOr<Args> args = ParseArgs({"ledger", "--", "--addr"});
  REQUIRE(args.ok());
  CHECK(args->positional() == std::vector<std::string>{"ledger", "--addr"});
}

TEST_CASE("Args::CheckOnly allows global options and the listed ones only") {
  absl::StatusOr<Args> args = ParseArgs({"health", "--addr", "x:1", "--service", "s"});
  REQUIRE(args.ok());
  CHECK(args->CheckOnly("health", {"service"}).ok());
  CHECK(args->CheckOnly("ledger accounts", {}).message() ==
        "--service is not an option of 'ledger accounts'");
}

TEST_CASE("ParseEntryLine converts euros to cents exactly") {
  struct Case {
    std::string text;
    int64_t cents;
  };
  for (const Case& c : std::vector<Case>{{"1910:123.45", 12345},
                                         {"1910:-123.45", -12345},
                                         {"1910:7", 700},
                                         {"1910:0.1", 10},
                                         {"1910:-0.05", -5},
                                         {"1910:1234,5", 123450},
                                         // Exact where a double would not be.
                                         {"1910:92233720368547758.07", INT64_MAX}}) {
    INFO(c.text);
    absl::StatusOr<v1::EntryLine> line = ParseEntryLine(c.text);
    REQUIRE(line.ok());
    CHECK(line->account() == "1910");
    CHECK(line->amount().amount_minor() == c.cents);
    CHECK(line->amount().currency_code() == "EUR");
    CHECK(line->dimensions().empty());
  }
}

TEST_CASE("ParseEntryLine reads dimensions, whose values may contain colons") {
  absl::StatusOr<v1::EntryLine> line =
      ParseEntryLine("4300:-1250.00:cost_centre=3000-tekninen,project=P:1");
  REQUIRE(line.ok());
  CHECK(line->account() == "4300");
  CHECK(line->amount().amount_minor() == -125000);
  REQUIRE(line->dimensions().size() == 2);
  CHECK(line->dimensions().at("cost_centre") == "3000-tekninen");
  CHECK(line->dimensions().at("project") == "P:1");
}

TEST_CASE("ParseEntryLine rejects malformed lines") {
  for (const char* text :
       {"1910", "1910:", ":5", "1910:1.234", "1910:+5", "1910:1e3", "1910:12.3.4", "1910: 5",
        "1910:92233720368547758.08", "1910:5:", "1910:5:cost_centre", "1910:5:=x",
        "1910:5:cost_centre=", "1910:5:a=1,a=2"}) {
    INFO(text);
    absl::StatusOr<v1::EntryLine> line = ParseEntryLine(text);
    CHECK(line.status().code() == absl::StatusCode::kInvalidArgument);
  }
}

TEST_CASE("ParsePeriod and ParseDate accept only real months and days") {
  CHECK(ParsePeriod("p", "2025-01").ok());
  CHECK(ParsePeriod("p", "2025-12").ok());
  for (const char* bad : {"2025-00", "2025-13", "2025-1", "25-01", "2025/01", "2025-01-01", ""}) {
    INFO(bad);
    CHECK(ParsePeriod("--period", bad).status().message() ==
          absl::StrCat("--period: want a period YYYY-MM, got \"", bad, "\""));
  }
  CHECK(ParseDate("d", "2024-02-29").ok());
  CHECK(FormatDate(*ParseDate("d", "2025-03-05")) == "2025-03-05");
  for (const char* bad : {"2025-02-29", "2025-02-30", "2025-04-31", "2025-13-01", "2025-1-01",
                          "2025-01-00", "20250101", "2025-01-01T00"}) {
    INFO(bad);
    CHECK_FALSE(ParseDate("--date", bad).ok());
  }
  CHECK(FormatPeriod(absl::CivilMonth(987, 3)) == "0987-03");
}

TEST_CASE("ParseTimeout takes durations and plain seconds, only positive") {
  CHECK(*ParseTimeout("10s") == absl::Seconds(10));
  CHECK(*ParseTimeout("500ms") == absl::Milliseconds(500));
  CHECK(*ParseTimeout("1m30s") == absl::Seconds(90));
  CHECK(*ParseTimeout("2") == absl::Seconds(2));
  CHECK(*ParseTimeout("0.25") == absl::Milliseconds(250));
  for (const char* bad : {"0", "0s", "-1s", "-3", "soon", "", "inf", "nan"}) {
    INFO(bad);
    CHECK_FALSE(ParseTimeout(bad).ok());
  }
}

TEST_CASE("Tenant slugs and lists") {
  CHECK(IsValidTenantSlug("lahti"));
  CHECK(IsValidTenantSlug("phhyky"));
  CHECK(IsValidTenantSlug("paijat-hame-2"));
  CHECK_FALSE(IsValidTenantSlug(""));
  CHECK_FALSE(IsValidTenantSlug("-lahti"));
  CHECK_FALSE(IsValidTenantSlug("Lahti"));
  CHECK_FALSE(IsValidTenantSlug("lah ti"));
  CHECK_FALSE(IsValidTenantSlug(std::string(64, 'a')));
  CHECK(*ParseTenantList("lahti,phhyky") == std::vector<std::string>{"lahti", "phhyky"});
  CHECK_FALSE(ParseTenantList("lahti,,phhyky").ok());
  CHECK_FALSE(ParseTenantList("lahti,lahti").ok());
}

TEST_CASE("ClientSettingsFromArgs: flags win over the environment") {
  Args args = *ParseArgs({"--addr", "flag:1", "--tenant", "lahti", "--timeout", "3s"});
  absl::StatusOr<ClientSettings> settings =
      ClientSettingsFromArgs(args, FakeEnv({{"TAHE_LEDGER_ADDR", "env:2"},
                                            {"TAHE_TENANT", "phhyky"},
                                            {"TAHE_INTERNAL_TOKEN", "  tok\n"}}));
  REQUIRE(settings.ok());
  CHECK(settings->address == "flag:1");
  CHECK(settings->tenant == "lahti");
  CHECK(settings->internal_token == "tok");
  CHECK(settings->timeout == absl::Seconds(3));

  settings = ClientSettingsFromArgs(
      *ParseArgs({}), FakeEnv({{"TAHE_LEDGER_ADDR", "env:2"}, {"TAHE_TENANT", "phhyky"}}));
  REQUIRE(settings.ok());
  CHECK(settings->address == "env:2");
  CHECK(settings->tenant == "phhyky");
  CHECK(settings->internal_token.empty());
  CHECK(settings->timeout == kDefaultTimeout);
}

TEST_CASE("ClientSettingsFromArgs: missing address, bad tenant, unreadable token file") {
  CHECK(ClientSettingsFromArgs(*ParseArgs({}), FakeEnv({})).status().code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK_FALSE(
      ClientSettingsFromArgs(*ParseArgs({"--addr", "a:1", "--tenant", "Bad!"}), FakeEnv({})).ok());
  const auto missing_file =
      FakeEnv({{"TAHE_LEDGER_ADDR", "a:1"}, {"TAHE_INTERNAL_TOKEN_FILE", "/nonexistent/token"}});
  absl::StatusOr<ClientSettings> settings = ClientSettingsFromArgs(*ParseArgs({}), missing_file);
  CHECK(settings.status().message() == "TAHE_INTERNAL_TOKEN_FILE: cannot read /nonexistent/token");
  // Health reads no token, so a stale token file does not break it.
  CHECK(ClientSettingsFromArgs(*ParseArgs({}), missing_file, /*read_token=*/false).ok());
}

TEST_CASE("RandomHex gives fresh lower-case hex of the asked length") {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    std::string id = RandomHex(16);
    REQUIRE(id.size() == 32);
    CHECK(id.find_first_not_of("0123456789abcdef") == std::string::npos);
    seen.insert(id);
  }
  CHECK(seen.size() == 100);
}

TEST_CASE("FormatEuros groups thousands and keeps every cent") {
  CHECK(FormatEuros(0) == "0.00");
  CHECK(FormatEuros(5) == "0.05");
  CHECK(FormatEuros(-5) == "-0.05");
  CHECK(FormatEuros(12345) == "123.45");
  CHECK(FormatEuros(123456) == "1 234.56");
  CHECK(FormatEuros(-100000000) == "-1 000 000.00");
  CHECK(FormatEuros(std::numeric_limits<int64_t>::max()) == "92 233 720 368 547 758.07");
  CHECK(FormatEuros(std::numeric_limits<int64_t>::min()) == "-92 233 720 368 547 758.08");
}

TEST_CASE("Table aligns columns by characters, not bytes") {
  Table table({"Account", "Name", "Net"}, {Align::kLeft, Align::kLeft, Align::kRight});
  table.AddRow({"4110", "Eläkekulut", "1.00"});
  table.AddRow({"1910", "Pankki", "-1 000.00"});
  table.AddSeparator();
  table.AddRow({"Total", "", "0.00"});
  std::ostringstream out;
  table.Print(out);
  CHECK(out.str() ==
        "Account  Name              Net\n"
        "4110     Eläkekulut       1.00\n"
        "1910     Pankki      -1 000.00\n"
        "-------  ----------  ---------\n"
        "Total                     0.00\n");
}

TEST_CASE("PrintTrialBalance shows euros and totals") {
  v1::GetTrialBalanceResponse balance;
  v1::TrialBalanceRow* bank = balance.add_rows();
  bank->set_account("1910");
  bank->set_name("Pankkitilit");
  bank->set_type(v1::ACCOUNT_TYPE_ASSET);
  bank->set_debit_minor(123456);
  bank->set_net_minor(123456);
  v1::TrialBalanceRow* tax = balance.add_rows();
  tax->set_account("5000");
  tax->set_name("Kunnan tulovero");
  tax->set_type(v1::ACCOUNT_TYPE_INCOME);
  tax->set_credit_minor(123456);
  tax->set_net_minor(-123456);
  balance.set_total_debit_minor(123456);
  balance.set_total_credit_minor(123456);
  std::ostringstream out;
  PrintTrialBalance(balance, "Trial balance of lahti", out);
  CHECK(out.str() ==
        "Trial balance of lahti\n"
        "\n"
        "Account  Name             Type       Debit    Credit        Net\n"
        "1910     Pankkitilit      ASSET   1 234.56      0.00   1 234.56\n"
        "5000     Kunnan tulovero  INCOME      0.00  1 234.56  -1 234.56\n"
        "-------  ---------------  ------  --------  --------  ---------\n"
        "Total                             1 234.56  1 234.56       0.00\n");
}

TEST_CASE("Health request encoding matches protobuf's wire format") {
  CHECK(EncodeHealthCheckRequest("").empty());
  CHECK(EncodeHealthCheckRequest("ab") == std::string("\x0a\x02"
                                                      "ab",
                                                      4));
  const std::string long_name(200, 's');
  // A length of 200 needs a two-byte varint: 0xC8 0x01.
  CHECK(EncodeHealthCheckRequest(long_name) == std::string("\x0a\xc8\x01", 3) + long_name);
}

TEST_CASE("Health response decoding reads field 1 and skips the rest") {
  CHECK(*DecodeHealthCheckResponse("") == ServingStatus::kUnknown);
  CHECK(*DecodeHealthCheckResponse(std::string("\x08\x01", 2)) == ServingStatus::kServing);
  CHECK(*DecodeHealthCheckResponse(std::string("\x08\x02", 2)) == ServingStatus::kNotServing);
  // Unknown fields of every wire type before it: varint 2, fixed64 3, bytes 4, fixed32 5.
  const std::string with_unknown = std::string("\x10\x96\x01", 3) +
                                   std::string(
                                       "\x19"
                                       "12345678",
                                       9) +
                                   std::string("\x22\x02xy", 4) +
                                   std::string(
                                       "\x2d"
                                       "1234",
                                       5) +
                                   std::string("\x08\x01", 2);
  CHECK(*DecodeHealthCheckResponse(with_unknown) == ServingStatus::kServing);
  for (const std::string& bad :
       {std::string("\x08", 1), std::string("\x08\x80", 2), std::string("\x22\x05xy", 4),
        std::string("\x19"
                    "123",
                    4),
        std::string("\x0b", 1), std::string("\x00\x01", 2)}) {
    CHECK(DecodeHealthCheckResponse(bad).status().code() == absl::StatusCode::kDataLoss);
  }
  CHECK(ServingStatusName(ServingStatus::kServing) == "SERVING");
  CHECK(ServingStatusName(static_cast<ServingStatus>(9)) == "STATUS_9");
}

TEST_CASE("Demo entries balance, use demo accounts and fixed ids") {
  std::set<std::string> accounts;
  for (const v1::Account& account : DemoAccounts()) {
    accounts.insert(account.number());
  }
  for (const char* tenant : {"lahti", "phhyky", "heinola"}) {
    const v1::Dimension cost_centres = DemoCostCentres(tenant);
    const std::set<std::string> allowed(cost_centres.allowed_values().begin(),
                                        cost_centres.allowed_values().end());
    for (int month = 1; month <= 12; ++month) {
      const std::vector<v1::PostEntryRequest> entries =
          DemoEntries(tenant, absl::CivilMonth(2025, month));
      REQUIRE(entries.size() == 10);
      std::set<std::string> ids;
      for (const v1::PostEntryRequest& request : entries) {
        INFO(request.request_id());
        ids.insert(request.request_id());
        CHECK(request.request_id().rfind(absl::StrFormat("demo-%s-2025-%02d-", tenant, month), 0) ==
              0);
        CHECK(ParseDate("date", request.entry().entry_date()).ok());
        CHECK(request.entry().entry_date().substr(0, 7) == absl::StrFormat("2025-%02d", month));
        REQUIRE(request.entry().lines_size() >= 2);
        int64_t sum = 0;
        for (const v1::EntryLine& line : request.entry().lines()) {
          CHECK(accounts.count(line.account()) == 1);
          CHECK(line.amount().amount_minor() != 0);
          sum += line.amount().amount_minor();
          for (const auto& [key, value] : line.dimensions()) {
            CHECK(key == kCostCentreDimension);
            CHECK(allowed.count(value) == 1);
          }
        }
        CHECK(sum == 0);
      }
      CHECK(ids.size() == 10);
    }
  }
}

TEST_CASE("Demo entries depend only on tenant and month") {
  const auto first = DemoEntries("lahti", absl::CivilMonth(2025, 3));
  const auto again = DemoEntries("lahti", absl::CivilMonth(2025, 3));
  REQUIRE(first.size() == again.size());
  for (size_t i = 0; i < first.size(); ++i) {
    CHECK(first[i].SerializeAsString() == again[i].SerializeAsString());
  }
  CHECK(
      DemoEntries("lahti", absl::CivilMonth(2025, 4))[0].entry().lines(0).amount().amount_minor() !=
      first[0].entry().lines(0).amount().amount_minor());
  CHECK(DemoEntries("phhyky", absl::CivilMonth(2025, 3))[0].request_id() ==
        "demo-phhyky-2025-03-01");
}

TEST_CASE("The demo month is the previous month, or January in January") {
  CHECK(DemoMonth(absl::CivilDay(2025, 11, 23)) == absl::CivilMonth(2025, 10));
  CHECK(DemoMonth(absl::CivilDay(2025, 2, 1)) == absl::CivilMonth(2025, 1));
  CHECK(DemoMonth(absl::CivilDay(2025, 1, 15)) == absl::CivilMonth(2025, 1));
}

TEST_CASE("RunTahectl reports usage errors with exit code 2 before calling anything") {
  const auto run = [](std::vector<std::string> args, std::string* err_text = nullptr) {
    std::ostringstream out;
    std::ostringstream err;
    int code = RunTahectl(args, FakeEnv({{"TAHE_LEDGER_ADDR", "127.0.0.1:1"}}), out, err);
    if (err_text != nullptr) {
      *err_text = err.str();
    }
    return code;
  };
  std::string err;
  CHECK(run({}) == kExitUsage);
  CHECK(run({"--help"}) == kExitOk);
  CHECK(run({"frobnicate"}, &err) == kExitUsage);
  CHECK(err.find("unknown command 'frobnicate'") != std::string::npos);
  CHECK(run({"ledger", "accounts"}, &err) == kExitUsage);
  CHECK(err.find("--tenant SLUG (or TAHE_TENANT) is required") != std::string::npos);
  CHECK(run({"ledger", "open-period", "2025-13", "--tenant", "lahti"}) == kExitUsage);
  CHECK(run({"ledger", "post", "--tenant", "lahti", "--date", "2025-01-02", "--description", "x",
             "--line", "1910:1.001", "--line", "3000:-1"},
            &err) == kExitUsage);
  CHECK(err.find("bad amount \"1.001\"") != std::string::npos);
  CHECK(run({"ledger", "post", "--tenant", "lahti", "--date", "2025-01-02", "--description", "x",
             "--line", "1910:1"}) == kExitUsage);
  CHECK(run({"ledger", "accounts", "--tenant", "lahti", "--date", "2025-01-01"}, &err) ==
        kExitUsage);
  CHECK(err.find("--date is not an option of 'ledger accounts'") != std::string::npos);
  CHECK(run({"ledger", "trial-balance", "--tenant", "lahti", "--period", "2025-01", "--as-of",
             "2025-01-31"}) == kExitUsage);
  CHECK(run({"seed-demo", "--tenants", "Lahti"}) == kExitUsage);
  CHECK(run({"health", "--timeout", "0s"}) == kExitUsage);
}

}  // namespace
}  // namespace tahe::tahectl
