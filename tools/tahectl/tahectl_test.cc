// Unit tests of tahectl's pure parts: argument parsing, settings resolution (env file,
// precedence, credentials), operand parsing, admin command parsing, output formatting, the
// hand-written health messages and the demo data.
#include <catch2/catch.hpp>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "libs/status/status.h"
#include "tools/tahectl/admin_commands.h"
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
  CHECK(settings->api_key.empty());
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
  // Health reads no credentials, so a stale token file does not break it.
  CHECK(ClientSettingsFromArgs(*ParseArgs({}), missing_file, Credentials::kNone).ok());
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
    // TAHE_LOCAL_ENV: not the developer's own .tahe/local.env above the build directory.
    int code = RunTahectl(
        args, FakeEnv({{"TAHE_LEDGER_ADDR", "127.0.0.1:1"}, {"TAHE_LOCAL_ENV", "/dev/null"}}), out,
        err);
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

// --- Settings: env file, precedence, credentials ---------------------------------------------

constexpr char kKeyA[] =
    "tahe_aaaaaaaaaaaa_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
constexpr char kKeyB[] =
    "tahe_bbbbbbbbbbbb_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
constexpr char kKeyAdmin[] =
    "tahe_adadadadadad_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

// A fresh directory under the system's temporary directory, removed at the end of the test.
class TempDir {
 public:
  TempDir()
      : path_(std::filesystem::temp_directory_path() /
              absl::StrCat("tahectl_test_", RandomHex(8))) {
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::string Write(const std::string& relative, const std::string& contents) const {
    const std::filesystem::path file = path_ / relative;
    std::filesystem::create_directories(file.parent_path());
    std::ofstream(file) << contents;
    return file.string();
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

EnvFile MakeEnvFile(std::map<std::string, std::string, std::less<>> vars,
                    std::string path = "/etc/tahe/local.env") {
  return EnvFile{std::move(path), std::move(vars)};
}

TEST_CASE("ParseEnvFile reads KEY=value lines as run.sh writes them") {
  absl::StatusOr<std::map<std::string, std::string, std::less<>>> vars = ParseEnvFile(
      "# written by deploy/local/run.sh\n"
      "\n"
      "TAHE_GATEWAY_ADDR=127.0.0.1:7000\n"
      "  export TAHE_TENANT=lahti  \n"
      "TAHE_METRICS_URLS=\"http://a/metrics http://b/metrics\"\n"
      "SINGLE='quoted value'\n"
      "NESTED=\"\"twice\"\"\n"
      "EQUALS=a=b=c\r\n"
      "EMPTY=\n"
      "TAHE_TENANT=phhyky\n",
      "local.env");
  REQUIRE(vars.ok());
  CHECK(vars->at("TAHE_GATEWAY_ADDR") == "127.0.0.1:7000");
  CHECK(vars->at("TAHE_METRICS_URLS") == "http://a/metrics http://b/metrics");
  CHECK(vars->at("SINGLE") == "quoted value");
  CHECK(vars->at("NESTED") == "\"twice\"");  // one level of quotes only
  CHECK(vars->at("EQUALS") == "a=b=c");      // and no \r from a CRLF file
  CHECK(vars->at("EMPTY").empty());
  CHECK(vars->at("TAHE_TENANT") == "phhyky");  // the later line wins
  CHECK(vars->size() == 7);
}

TEST_CASE("ParseEnvFile names the bad line without repeating it") {
  const std::string secret = kKeyA;
  absl::StatusOr<std::map<std::string, std::string, std::less<>>> vars =
      ParseEnvFile(absl::StrCat("A=1\n", secret, "\n"), "/x/local.env");
  REQUIRE_FALSE(vars.ok());
  CHECK(vars.status().message() == "/x/local.env:2: not a KEY=value line");
  CHECK_FALSE(ParseEnvFile("1ABC=x\n", "f").ok());
  CHECK_FALSE(ParseEnvFile("=x\n", "f").ok());
}

TEST_CASE("FindLocalEnvFile walks up from the start directory") {
  TempDir dir;
  const std::string env_file = dir.Write("project/.tahe/local.env", "A=1\n");
  std::filesystem::create_directories(dir.path() / "project/src/deep");
  CHECK(FindLocalEnvFile((dir.path() / "project/src/deep").string()) == env_file);
  CHECK(FindLocalEnvFile((dir.path() / "project/src/deep/").string()) == env_file);
  CHECK(FindLocalEnvFile((dir.path() / "project").string()) == env_file);
  // A directory named .tahe/local.env is not a file.
  std::filesystem::create_directories(dir.path() / "other/.tahe/local.env");
  std::filesystem::create_directories(dir.path() / "other/sub");
  const std::optional<std::string> above = FindLocalEnvFile((dir.path() / "other/sub").string());
  CHECK((!above.has_value() || above->find(dir.path().string()) == std::string::npos));
}

TEST_CASE("LoadEnvFile: --env-file, else TAHE_LOCAL_ENV, else the walk up") {
  TempDir dir;
  const std::string walked = dir.Write("w/.tahe/local.env", "FROM=walk\n");
  const std::string named = dir.Write("named.env", "FROM=TAHE_LOCAL_ENV\n");
  const std::string flagged = dir.Write("flag.env", "FROM=flag\n");
  const std::string start = (dir.path() / "w").string();

  absl::StatusOr<std::optional<EnvFile>> file =
      LoadEnvFile(*ParseArgs({"--env-file", flagged}), FakeEnv({{"TAHE_LOCAL_ENV", named}}), start);
  REQUIRE(file.ok());
  REQUIRE(file->has_value());
  CHECK((*file)->vars.at("FROM") == "flag");

  file = LoadEnvFile(*ParseArgs({}), FakeEnv({{"TAHE_LOCAL_ENV", named}}), start);
  REQUIRE(file.ok());
  CHECK((*file)->vars.at("FROM") == "TAHE_LOCAL_ENV");

  file = LoadEnvFile(*ParseArgs({}), FakeEnv({}), start);
  REQUIRE(file.ok());
  REQUIRE(file->has_value());
  CHECK((*file)->path == walked);
  CHECK((*file)->vars.at("FROM") == "walk");

  // A file that was asked for must exist.
  file =
      LoadEnvFile(*ParseArgs({"--env-file", (dir.path() / "none").string()}), FakeEnv({}), start);
  CHECK(file.status().message() ==
        absl::StrCat("--env-file: cannot read ", (dir.path() / "none").string()));
  CHECK_FALSE(
      LoadEnvFile(*ParseArgs({}), FakeEnv({{"TAHE_LOCAL_ENV", "/nonexistent"}}), start).ok());
}

TEST_CASE("Settings: a flag beats the environment, which beats the env file") {
  const EnvFile file = MakeEnvFile({{"TAHE_GATEWAY_ADDR", "file-gw:1"},
                                    {"TAHE_LEDGER_ADDR", "file-ledger:2"},
                                    {"TAHE_TENANT", "filetenant"},
                                    {"TAHE_API_KEY", kKeyB}});
  // Only the file.
  absl::StatusOr<ClientSettings> settings =
      ClientSettingsFromArgs(*ParseArgs({}), SettingSources(FakeEnv({}), file));
  REQUIRE(settings.ok());
  CHECK(settings->address == "file-gw:1");  // the gateway before a backend
  CHECK(settings->tenant == "filetenant");
  CHECK(settings->api_key == kKeyB);
  CHECK(settings->api_key_origin == "TAHE_API_KEY in /etc/tahe/local.env");

  // The environment beats the file, setting by setting.
  settings = ClientSettingsFromArgs(*ParseArgs({}),
                                    SettingSources(FakeEnv({{"TAHE_LEDGER_ADDR", "env-ledger:3"},
                                                            {"TAHE_TENANT", "envtenant"},
                                                            {"TAHE_API_KEY", kKeyA}}),
                                                   file));
  REQUIRE(settings.ok());
  CHECK(settings->address == "env-ledger:3");
  CHECK(settings->tenant == "envtenant");
  CHECK(settings->api_key == kKeyA);
  CHECK(settings->api_key_origin == "TAHE_API_KEY");

  // Flags beat both.
  TempDir dir;
  const std::string key_file = dir.Write("key", absl::StrCat("  ", kKeyAdmin, "\n"));
  settings = ClientSettingsFromArgs(
      *ParseArgs({"--addr", "flag:4", "--tenant", "flagtenant", "--api-key-file", key_file}),
      SettingSources(FakeEnv({{"TAHE_GATEWAY_ADDR", "env-gw:5"}, {"TAHE_API_KEY", kKeyA}}), file));
  REQUIRE(settings.ok());
  CHECK(settings->address == "flag:4");
  CHECK(settings->tenant == "flagtenant");
  CHECK(settings->api_key == kKeyAdmin);

  // A variable set to "" in the environment overrides the file: no key.
  settings =
      ClientSettingsFromArgs(*ParseArgs({}), SettingSources(FakeEnv({{"TAHE_API_KEY", ""}}), file));
  REQUIRE(settings.ok());
  CHECK(settings->api_key.empty());
}

TEST_CASE("Settings: key files, relative to the env file, and the admin key") {
  TempDir dir;
  dir.Write("state/operator.key", absl::StrCat(kKeyA, "\n"));
  dir.Write("state/admin.key", absl::StrCat(kKeyAdmin, "\n"));
  const EnvFile file = MakeEnvFile({{"TAHE_GATEWAY_ADDR", "gw:1"},
                                    {"TAHE_API_KEY_FILE", "operator.key"},
                                    {"TAHE_ADMIN_API_KEY_FILE", "admin.key"}},
                                   (dir.path() / "state/local.env").string());
  const SettingSources sources(FakeEnv({}), file);
  absl::StatusOr<ClientSettings> service =
      ClientSettingsFromArgs(*ParseArgs({}), sources, Credentials::kService);
  REQUIRE(service.ok());
  CHECK(service->api_key == kKeyA);
  absl::StatusOr<ClientSettings> admin =
      ClientSettingsFromArgs(*ParseArgs({}), sources, Credentials::kAdmin);
  REQUIRE(admin.ok());
  CHECK(admin->api_key == kKeyAdmin);
  CHECK(admin->api_key_origin ==
        absl::StrCat("TAHE_ADMIN_API_KEY_FILE in ", (dir.path() / "state/local.env").string()));
  absl::StatusOr<ClientSettings> none =
      ClientSettingsFromArgs(*ParseArgs({}), sources, Credentials::kNone);
  REQUIRE(none.ok());
  CHECK(none->api_key.empty());

  // Without an admin key, admin commands use the operator's key.
  admin = ClientSettingsFromArgs(
      *ParseArgs({}),
      SettingSources(FakeEnv({{"TAHE_GATEWAY_ADDR", "gw:1"}, {"TAHE_API_KEY", kKeyB}})),
      Credentials::kAdmin);
  REQUIRE(admin.ok());
  CHECK(admin->api_key == kKeyB);
}

TEST_CASE("Settings: with an API key no internal token is sent unless asked for") {
  TempDir dir;
  const std::string token_file = dir.Write("token", "file-token\n");
  const EnvLookup env = FakeEnv({{"TAHE_GATEWAY_ADDR", "gw:1"},
                                 {"TAHE_API_KEY", kKeyA},
                                 {"TAHE_INTERNAL_TOKEN", "env-token"},
                                 {"TAHE_INTERNAL_TOKEN_FILE", token_file}});
  absl::StatusOr<ClientSettings> settings = ClientSettingsFromArgs(*ParseArgs({}), env);
  REQUIRE(settings.ok());
  CHECK(settings->api_key == kKeyA);
  CHECK(settings->internal_token.empty());

  settings = ClientSettingsFromArgs(*ParseArgs({"--internal-token-file", token_file}), env);
  REQUIRE(settings.ok());
  CHECK(settings->api_key == kKeyA);
  CHECK(settings->internal_token == "file-token");

  // Without a key (direct to a backend) the token comes from the environment as before.
  settings = ClientSettingsFromArgs(
      *ParseArgs({}), FakeEnv({{"TAHE_LEDGER_ADDR", "l:1"}, {"TAHE_INTERNAL_TOKEN", "env-token"}}));
  REQUIRE(settings.ok());
  CHECK(settings->internal_token == "env-token");
}

TEST_CASE("Settings: a malformed key is refused without being repeated") {
  const std::string not_a_key = "tahe_AAAAAAAAAAAA_secretsecret";
  absl::StatusOr<ClientSettings> settings = ClientSettingsFromArgs(
      *ParseArgs({}), FakeEnv({{"TAHE_GATEWAY_ADDR", "gw:1"}, {"TAHE_API_KEY", not_a_key}}));
  REQUIRE_FALSE(settings.ok());
  CHECK(settings.status().message() ==
        "TAHE_API_KEY: not an API key (want tahe_<12 hex>_<64 hex>)");
  CHECK(IsWellFormedApiKey(kKeyA));
  CHECK_FALSE(IsWellFormedApiKey(absl::StrCat(kKeyA, "0")));
  CHECK(ApiKeyId(kKeyA) == "aaaaaaaaaaaa");
  CHECK(ApiKeyId(not_a_key).empty());
}

TEST_CASE("A key is never taken from the command line") {
  for (const std::vector<std::string>& argv : std::vector<std::vector<std::string>>{
           {"ledger", "accounts", "--api-key", kKeyA},
           {"ledger", "accounts", absl::StrCat("--api-key=", kKeyA)},
           {"admin", "regions", "list", "--admin-api-key", kKeyA},
           {"admin", "regions", "list", "--key", kKeyA}}) {
    absl::StatusOr<Args> args = ParseArgs(argv);
    REQUIRE_FALSE(args.ok());
    CHECK(args.status().message().find("--api-key-file") != absl::string_view::npos);
    CHECK(args.status().message().find(kKeyA) == absl::string_view::npos);
  }
  // No option but the file ones carries a key.
  for (const OptionSpec& spec : KnownOptions()) {
    CHECK((spec.name.find("key") == absl::string_view::npos ||
           absl::EndsWith(spec.name, "key-file")));
  }
  std::ostringstream out;
  std::ostringstream err;
  CHECK(RunTahectl({"ledger", "accounts", "--api-key", kKeyA}, FakeEnv({}), out, err) ==
        kExitUsage);
  CHECK(err.str().find(kKeyA) == std::string::npos);
}

// --- Admin and ledger command parsing ----------------------------------------------------------

namespace gw = ::tahe::gateway::v1;

absl::StatusOr<AdminCommand> ParseAdmin(std::vector<std::string> argv) {
  ASSIGN_OR_RETURN(Args args, ParseArgs(argv));
  return ParseAdminCommand(args);
}

TEST_CASE("ParseAdminCommand builds the request of each command") {
  absl::StatusOr<AdminCommand> command =
      ParseAdmin({"admin", "regions", "create", "pohjanmaa", "--name", "Pohjanmaa", "--service",
                  "tahe.ledger.v1=127.0.0.1:1", "--service", "tahe.payroll.v1=127.0.0.1:2",
                  "--request-id", "r-1"});
  REQUIRE(command.ok());
  const auto* create = std::get_if<gw::CreateRegionRequest>(&command->request);
  REQUIRE(create != nullptr);
  CHECK(create->request_id() == "r-1");
  CHECK(create->region().slug() == "pohjanmaa");
  CHECK(create->region().name() == "Pohjanmaa");
  CHECK(create->region().service_addresses().at("tahe.ledger.v1") == "127.0.0.1:1");
  CHECK(create->region().service_addresses().size() == 2);

  command = ParseAdmin({"admin", "regions", "update", "pohjanmaa", "--service",
                        "tahe.ledger.v1=10.0.0.1:1", "--remove-service", "tahe.payroll.v1"});
  REQUIRE(command.ok());
  const auto* update = std::get_if<gw::UpdateRegionRequest>(&command->request);
  REQUIRE(update != nullptr);
  CHECK(update->name().empty());
  CHECK(update->service_addresses().at("tahe.ledger.v1") == "10.0.0.1:1");
  CHECK(update->remove_service_prefixes(0) == "tahe.payroll.v1");
  CHECK(absl::StartsWith(update->request_id(), "tahectl-"));  // random when not given

  command = ParseAdmin({"admin", "orgs", "update", "lahti", "--region", "pohjanmaa"});
  REQUIRE(command.ok());
  const auto* move = std::get_if<gw::UpdateOrganisationRequest>(&command->request);
  REQUIRE(move != nullptr);
  CHECK(move->slug() == "lahti");
  CHECK(move->region() == "pohjanmaa");
  CHECK(move->name().empty());
  CHECK(move->business_id().empty());

  command = ParseAdmin({"admin", "keys", "issue", "--role", "ledger.read", "--role", "ledger.write",
                        "--region", "paijat-hame", "--region", "pohjanmaa", "--description",
                        "operator", "--key-file", "/tmp/k"});
  REQUIRE(command.ok());
  const auto* issue = std::get_if<gw::IssueApiKeyRequest>(&command->request);
  REQUIRE(issue != nullptr);
  CHECK(issue->roles_size() == 2);
  CHECK(issue->regions_size() == 2);
  CHECK(issue->organisations().empty());
  CHECK(command->key_file == "/tmp/k");

  command = ParseAdmin(
      {"admin", "audit", "--target", "organisation", "--after-id", "7", "--limit", "20"});
  REQUIRE(command.ok());
  const auto* audit = std::get_if<gw::ListAuditEventsRequest>(&command->request);
  REQUIRE(audit != nullptr);
  CHECK(audit->after_id() == 7);
  CHECK(audit->limit() == 20);
  CHECK(audit->target() == "organisation");
}

TEST_CASE("ParseAdminCommand: usage errors name the option at fault") {
  const auto message = [](std::vector<std::string> argv) {
    absl::StatusOr<AdminCommand> command = ParseAdmin(std::move(argv));
    CHECK(IsUsageError(command.status()));
    return std::string(command.status().message());
  };
  CHECK(message({"admin", "regions", "create", "x", "--service", "a=b"}) ==
        "admin regions create: --name NAME is required");
  CHECK(message({"admin", "regions", "create", "x", "--name", "X", "--service", "noequals"})
            .rfind("--service: want PREFIX=ADDR", 0) == 0);
  CHECK(message({"admin", "regions", "update", "x"}).find("nothing to change") !=
        std::string::npos);
  CHECK(message({"admin", "orgs", "update", "lahti"}).find("nothing to change") !=
        std::string::npos);
  CHECK(message({"admin", "orgs", "create", "lahti", "--name", "Lahti", "--region", "r"}) ==
        "admin orgs create: --business-id is required");
  CHECK(message({"admin", "orgs", "list", "--region", "a", "--region", "b"}) ==
        "--region given more than once");
  CHECK(
      message({"admin", "keys", "issue", "--role", "admin", "--organisation", "a", "--region", "b"})
          .find("not both") != std::string::npos);
  CHECK(message({"admin", "keys", "issue", "--region", "b"}) ==
        "admin keys issue: at least one --role is required");
  CHECK(message({"admin", "keys", "revoke", kKeyA}) ==
        "admin keys revoke: KEY_ID is the key's 12 hex digit id");
  CHECK(message({"admin", "keys", "list", "--role", "x"}) ==
        "--role is not an option of 'admin keys list'");
  CHECK(message({"admin", "audit", "--limit", "0"}) == "--limit: want 1..1000, got \"0\"");
  CHECK(message({"admin", "frobs"}) == "unknown command 'admin frobs'");
}

TEST_CASE("ParsePostEntryJson reads the JSON mapping and refuses unknown fields") {
  absl::StatusOr<v1::PostEntryRequest> request = ParsePostEntryJson(
      R"({"requestId": "r-9", "entry": {"entryDate": "2025-03-05", "description": "Tilitys",
          "lines": [{"account": "1910", "amount": {"amountMinor": "123456"}},
                    {"account": "5000", "amount": {"amount_minor": -123456},
                     "dimensions": {"cost_centre": "100"}}]}})",
      "f.json");
  REQUIRE(request.ok());
  CHECK(request->request_id() == "r-9");
  CHECK(request->entry().lines_size() == 2);
  CHECK(request->entry().lines(0).amount().amount_minor() == 123456);
  CHECK(request->entry().lines(1).amount().amount_minor() == -123456);
  CHECK(request->entry().lines(1).dimensions().at("cost_centre") == "100");

  absl::StatusOr<v1::PostEntryRequest> typo =
      ParsePostEntryJson(R"({"entry": {"entrydate": "2025-03-05"}})", "f.json");
  REQUIRE_FALSE(typo.ok());
  CHECK(typo.status().message().rfind("f.json: not a JSON PostEntryRequest: ", 0) == 0);
  CHECK_FALSE(ParsePostEntryJson("not json", "f.json").ok());
}

TEST_CASE("PrintApiKeys shows the scope and never a secret") {
  gw::ApiKey key;
  key.set_key_id("0123456789ab");
  key.add_roles("ledger.read");
  key.add_roles("ledger.write");
  key.add_regions("paijat-hame");
  key.set_description("operator");
  key.set_created_at("2025-01-01T00:00:00Z");
  std::ostringstream out;
  PrintApiKeys({key}, out);
  CHECK(out.str() ==
        "Key ID        Roles                     Scope                Description  Created"
        "               Revoked\n"
        "0123456789ab  ledger.read,ledger.write  regions paijat-hame  operator     "
        "2025-01-01T00:00:00Z\n"
        "1 key\n");
}

}  // namespace
}  // namespace tahe::tahectl
