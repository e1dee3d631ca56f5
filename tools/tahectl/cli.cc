#include "tools/tahectl/cli.h"

#include "absl/status/status.h"
#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "libs/status/status.h"
#include "tools/tahectl/args.h"
#include "tools/tahectl/health.h"
#include "tools/tahectl/ledger_client.h"
#include "tools/tahectl/ledger_commands.h"
#include "tools/tahectl/parse.h"
#include "tools/tahectl/reflection.h"
#include "tools/tahectl/seed_demo.h"

namespace tahe::tahectl {

namespace v1 = ::tahe::ledger::v1;

std::string Usage() {
  return R"(tahectl: command-line client of the Tahe services

usage: tahectl [GLOBAL OPTIONS] COMMAND [ARGS] [OPTIONS]

Global options (accepted anywhere on the line):
  --addr HOST:PORT             service address (default: $TAHE_LEDGER_ADDR)
  --tenant SLUG                organisation, sent as x-tahe-tenant (default: $TAHE_TENANT)
  --internal-token-file PATH   internal credential, sent as x-tahe-internal-token
                               (default: $TAHE_INTERNAL_TOKEN, else the file named by
                               $TAHE_INTERNAL_TOKEN_FILE)
  --timeout DURATION           deadline of each call: 10s (default), 500ms, 2m, or seconds
  --help, -h                   this text

Every call carries a fresh random x-request-id.

Commands:
  health [--service NAME]
      grpc.health.v1.Health/Check; prints SERVING, NOT_SERVING, ...; exits 0 only when
      SERVING. Needs no tenant or token.
  reflection
      Lists the services the server exposes through gRPC server reflection, one a line.
  ledger accounts [--include-closed]
  ledger load-template [--template fi-municipal|fi-wellbeing-region] [--request-id ID]
  ledger open-period YYYY-MM [--request-id ID]
  ledger post --date YYYY-MM-DD --description TEXT --line ACCOUNT:AMOUNT[:key=value,...] ...
              [--request-id ID] [--source-system manual] [--source-reference REF]
      AMOUNT is euros with at most two decimals, debit positive, credit negative
      (--line 1910:-123.45); dimensions as key=value pairs (--line 4300:50:cost_centre=300).
      Without --request-id a random one is used; give one to make retries safe.
  ledger trial-balance [--period YYYY-MM | --as-of YYYY-MM-DD]     (default: as of today)
  ledger verify-chain                 exits 1 when the hash chain is broken
  ledger entries [--period YYYY-MM] [--page-size N]
  seed-demo [--tenants lahti,phhyky] [--today YYYY-MM-DD]
      Loads the fi-municipal chart, opens this year's periods up to this month, defines
      cost centres and posts ten demo entries per tenant with fixed request ids: running it
      again changes nothing.

Exit codes: 0 success, 1 a call failed (its gRPC code and message are printed) or the
service is not serving, 2 usage or configuration error.
)";
}

namespace {

constexpr absl::string_view kUsagePayload = "tahectl/usage";

// Marks an error found before any call, so that the exit code is kExitUsage.
absl::Status UsageError(const absl::Status& status) {
  absl::Status marked = status;
  marked.SetPayload(kUsagePayload, absl::Cord("1"));
  return marked;
}

absl::Status UsageError(absl::string_view message) {
  return UsageError(absl::InvalidArgumentError(message));
}

absl::Status ExpectOperands(const Args& args, size_t count, absl::string_view synopsis) {
  if (args.positional().size() != count) {
    return UsageError(absl::StrCat("usage: tahectl ", synopsis));
  }
  return absl::OkStatus();
}

absl::CivilDay LocalToday() { return absl::ToCivilDay(absl::Now(), absl::LocalTimeZone()); }

std::string RequestIdOrRandom(const Args& args) {
  if (std::optional<std::string> id = args.Value("request-id"); id.has_value() && !id->empty()) {
    return *id;
  }
  return absl::StrCat("tahectl-", RandomHex(12));
}

// Either a usage error or the settings; wraps the settings error as a usage error.
absl::StatusOr<ClientSettings> Settings(const Args& args, const EnvLookup& env, bool read_token) {
  absl::StatusOr<ClientSettings> settings = ClientSettingsFromArgs(args, env, read_token);
  if (!settings.ok()) {
    return UsageError(settings.status());
  }
  return settings;
}

absl::Status Health(const Args& args, const EnvLookup& env, std::ostream& out) {
  if (absl::Status s = args.CheckOnly("health", {"service"}); !s.ok()) {
    return UsageError(s);
  }
  RETURN_IF_ERROR(ExpectOperands(args, 1, "health [--service NAME]"));
  ASSIGN_OR_RETURN(ClientSettings settings, Settings(args, env, /*read_token=*/false));
  ASSIGN_OR_RETURN(ServingStatus status, CheckHealth(settings, args.Value("service").value_or("")));
  out << ServingStatusName(status) << "\n";
  if (status != ServingStatus::kServing) {
    return absl::UnavailableError(
        absl::StrCat(settings.address, " is ", ServingStatusName(status)));
  }
  return absl::OkStatus();
}

absl::Status Reflection(const Args& args, const EnvLookup& env, std::ostream& out) {
  if (absl::Status s = args.CheckOnly("reflection", {}); !s.ok()) {
    return UsageError(s);
  }
  RETURN_IF_ERROR(ExpectOperands(args, 1, "reflection"));
  ASSIGN_OR_RETURN(ClientSettings settings, Settings(args, env, /*read_token=*/false));
  ASSIGN_OR_RETURN(std::vector<std::string> names, ListServices(settings));
  for (const std::string& name : names) {
    out << name << "\n";
  }
  return absl::OkStatus();
}

absl::Status Ledger(const Args& args, const EnvLookup& env, std::ostream& out) {
  const std::vector<std::string>& words = args.positional();
  if (words.size() < 2) {
    return UsageError(
        "usage: tahectl ledger accounts|load-template|open-period|post|"
        "trial-balance|verify-chain|entries ...");
  }
  const std::string& command = words[1];
  const std::string name = absl::StrCat("ledger ", command);

  // Validate the command line completely before calling anything.
  v1::ListAccountsRequest accounts_request;
  v1::LoadChartTemplateRequest template_request;
  v1::OpenPeriodRequest period_request;
  v1::PostEntryRequest post_request;
  v1::GetTrialBalanceRequest balance_request;
  v1::ListEntriesRequest entries_request;
  const auto check = [&](const std::vector<absl::string_view>& allowed, size_t operands,
                         absl::string_view synopsis) -> absl::Status {
    if (absl::Status s = args.CheckOnly(name, allowed); !s.ok()) {
      return UsageError(s);
    }
    return ExpectOperands(args, operands, synopsis);
  };
  if (command == "accounts") {
    RETURN_IF_ERROR(check({"include-closed"}, 2, "ledger accounts [--include-closed]"));
  } else if (command == "load-template") {
    RETURN_IF_ERROR(check({"template", "request-id"}, 2,
                          "ledger load-template [--template NAME] [--request-id ID]"));
    template_request.set_request_id(RequestIdOrRandom(args));
    template_request.set_template_(args.Value("template").value_or("fi-municipal"));
  } else if (command == "open-period") {
    RETURN_IF_ERROR(check({"request-id"}, 3, "ledger open-period YYYY-MM [--request-id ID]"));
    if (absl::Status s = ParsePeriod("period", words[2]).status(); !s.ok()) {
      return UsageError(s);
    }
    period_request.set_request_id(RequestIdOrRandom(args));
    period_request.set_period(words[2]);
  } else if (command == "post") {
    RETURN_IF_ERROR(
        check({"date", "description", "line", "request-id", "source-system", "source-reference"}, 2,
              "ledger post --date YYYY-MM-DD --description TEXT "
              "--line ACCOUNT:AMOUNT[:key=value,...] --line ..."));
    const std::optional<std::string> date = args.Value("date");
    if (!date.has_value()) {
      return UsageError("ledger post: --date YYYY-MM-DD is required");
    }
    if (absl::Status s = ParseDate("--date", *date).status(); !s.ok()) {
      return UsageError(s);
    }
    const std::optional<std::string> description = args.Value("description");
    if (!description.has_value() || description->empty()) {
      return UsageError("ledger post: --description is required");
    }
    const std::vector<std::string> lines = args.Values("line");
    if (lines.size() < 2) {
      return UsageError("ledger post: an entry needs at least two --line options");
    }
    post_request.set_request_id(RequestIdOrRandom(args));
    v1::EntryDraft* entry = post_request.mutable_entry();
    entry->set_entry_date(*date);
    entry->set_description(*description);
    entry->mutable_source()->set_system(args.Value("source-system").value_or("manual"));
    entry->mutable_source()->set_reference(args.Value("source-reference").value_or(""));
    for (const std::string& text : lines) {
      absl::StatusOr<v1::EntryLine> line = ParseEntryLine(text);
      if (!line.ok()) {
        return UsageError(line.status());
      }
      *entry->add_lines() = *std::move(line);
    }
  } else if (command == "trial-balance") {
    RETURN_IF_ERROR(check({"period", "as-of"}, 2,
                          "ledger trial-balance [--period YYYY-MM | --as-of YYYY-MM-DD]"));
    if (args.Has("period") && args.Has("as-of")) {
      return UsageError("ledger trial-balance: give --period or --as-of, not both");
    }
    if (std::optional<std::string> period = args.Value("period")) {
      if (absl::Status s = ParsePeriod("--period", *period).status(); !s.ok()) {
        return UsageError(s);
      }
      balance_request.set_period(*period);
    } else if (std::optional<std::string> as_of = args.Value("as-of")) {
      if (absl::Status s = ParseDate("--as-of", *as_of).status(); !s.ok()) {
        return UsageError(s);
      }
      balance_request.set_as_of_date(*as_of);
    } else {
      balance_request.set_as_of_date(FormatDate(LocalToday()));
    }
  } else if (command == "verify-chain") {
    RETURN_IF_ERROR(check({}, 2, "ledger verify-chain"));
  } else if (command == "entries") {
    RETURN_IF_ERROR(
        check({"period", "page-size"}, 2, "ledger entries [--period YYYY-MM] [--page-size N]"));
    if (std::optional<std::string> period = args.Value("period")) {
      if (absl::Status s = ParsePeriod("--period", *period).status(); !s.ok()) {
        return UsageError(s);
      }
      entries_request.set_period(*period);
    }
    if (std::optional<std::string> size = args.Value("page-size")) {
      int32_t page_size = 0;
      if (!absl::SimpleAtoi(*size, &page_size) || page_size < 1 || page_size > 1000) {
        return UsageError(absl::StrCat("--page-size: want 1..1000, got \"", *size, "\""));
      }
      entries_request.set_page_size(page_size);
    }
  } else {
    return UsageError(absl::StrCat("unknown command 'ledger ", command, "'"));
  }

  ASSIGN_OR_RETURN(ClientSettings settings, Settings(args, env, /*read_token=*/true));
  if (settings.tenant.empty()) {
    return UsageError(absl::StrCat(name, ": --tenant SLUG (or TAHE_TENANT) is required"));
  }
  LedgerClient ledger(std::move(settings));
  if (command == "accounts") {
    return ListAccountsCommand(ledger, args.Has("include-closed"), out);
  }
  if (command == "load-template") {
    return LoadTemplateCommand(ledger, template_request, out);
  }
  if (command == "open-period") {
    return OpenPeriodCommand(ledger, period_request, out);
  }
  if (command == "post") {
    return PostEntryCommand(ledger, post_request, out);
  }
  if (command == "trial-balance") {
    return TrialBalanceCommand(ledger, balance_request, out);
  }
  if (command == "verify-chain") {
    return VerifyChainCommand(ledger, out);
  }
  return ListEntriesCommand(ledger, entries_request, out);
}

absl::Status SeedDemoCommand(const Args& args, const EnvLookup& env, std::ostream& out) {
  if (absl::Status s = args.CheckOnly("seed-demo", {"tenants", "today"}); !s.ok()) {
    return UsageError(s);
  }
  RETURN_IF_ERROR(
      ExpectOperands(args, 1, "seed-demo [--tenants lahti,phhyky] [--today YYYY-MM-DD]"));
  absl::StatusOr<std::vector<std::string>> tenants =
      ParseTenantList(args.Value("tenants").value_or("lahti,phhyky"));
  if (!tenants.ok()) {
    return UsageError(tenants.status());
  }
  absl::CivilDay today = LocalToday();
  if (std::optional<std::string> given = args.Value("today")) {
    absl::StatusOr<absl::CivilDay> parsed = ParseDate("--today", *given);
    if (!parsed.ok()) {
      return UsageError(parsed.status());
    }
    today = *parsed;
  }
  ASSIGN_OR_RETURN(ClientSettings settings, Settings(args, env, /*read_token=*/true));
  return SeedDemo(settings, *tenants, today, out).status();
}

}  // namespace

int RunTahectl(const std::vector<std::string>& argv, const EnvLookup& env, std::ostream& out,
               std::ostream& err) {
  absl::StatusOr<Args> args = ParseArgs(argv);
  if (!args.ok()) {
    err << "tahectl: " << args.status().message() << "\nRun 'tahectl --help' for usage.\n";
    return kExitUsage;
  }
  if (args->Has("help")) {
    out << Usage();
    return kExitOk;
  }
  if (args->positional().empty()) {
    err << Usage();
    return kExitUsage;
  }

  const std::string& command = args->positional()[0];
  absl::Status status;
  if (command == "health") {
    status = Health(*args, env, out);
  } else if (command == "reflection") {
    status = Reflection(*args, env, out);
  } else if (command == "ledger") {
    status = Ledger(*args, env, out);
  } else if (command == "seed-demo") {
    status = SeedDemoCommand(*args, env, out);
  } else {
    status = UsageError(absl::StrCat("unknown command '", command, "'"));
  }
  if (status.ok()) {
    return kExitOk;
  }
  err << "tahectl: " << status.message() << "\n";
  if (status.GetPayload(kUsagePayload).has_value()) {
    err << "Run 'tahectl --help' for usage.\n";
    return kExitUsage;
  }
  return kExitFailure;
}

}  // namespace tahe::tahectl
