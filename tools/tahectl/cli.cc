#include "tools/tahectl/cli.h"

#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/protobuf/struct.pb.h"
#include "libs/status/status.h"
#include "tools/tahectl/admin_commands.h"
#include "tools/tahectl/args.h"
#include "tools/tahectl/format.h"
#include "tools/tahectl/health.h"
#include "tools/tahectl/invoicing_commands.h"
#include "tools/tahectl/ledger_client.h"
#include "tools/tahectl/ledger_commands.h"
#include "tools/tahectl/parse.h"
#include "tools/tahectl/payroll_commands.h"
#include "tools/tahectl/reflection.h"
#include "tools/tahectl/report_commands.h"
#include "tools/tahectl/seed_demo.h"

namespace tahe::tahectl {

namespace v1 = ::tahe::ledger::v1;

std::string Usage() {
  return R"(tahectl: command-line client of the Tahe gateway and services

usage: tahectl [GLOBAL OPTIONS] COMMAND [ARGS] [OPTIONS]

Global options (accepted anywhere on the line):
  --addr HOST:PORT             gateway address (default: $TAHE_GATEWAY_ADDR, else
                               $TAHE_LEDGER_ADDR: straight to a backend, for debugging)
  --api-key-file PATH          file holding the API key, sent as "authorization: Bearer KEY"
                               (default: $TAHE_API_KEY, else the file named by
                               $TAHE_API_KEY_FILE; admin commands first try
                               $TAHE_ADMIN_API_KEY and $TAHE_ADMIN_API_KEY_FILE). A key is
                               never accepted on the command line itself.
  --tenant SLUG                organisation, sent as x-tahe-tenant (default: $TAHE_TENANT);
                               needed with a key that serves several organisations
  --internal-token-file PATH   internal credential, sent as x-tahe-internal-token. Without an
                               API key it defaults to $TAHE_INTERNAL_TOKEN, else the file
                               named by $TAHE_INTERNAL_TOKEN_FILE (direct mode); with a key
                               it is sent only when this option is given. To call a backend
                               directly while the env file holds a key, give this option or
                               run with TAHE_API_KEY= TAHE_API_KEY_FILE= in the environment.
  --tls-ca-file PATH           connect over TLS, verifying the server with this PEM CA bundle
                               (default: the file named by $TAHE_TLS_CA_FILE; none: plaintext)
  --tls-cert-file PATH         client certificate for a server that requires mutual TLS (a
  --tls-key-file PATH          backend called directly), with its key (default: the files
                               named by $TAHE_TLS_CLIENT_CERT_FILE, $TAHE_TLS_CLIENT_KEY_FILE)
  --env-file PATH              settings file (default: $TAHE_LOCAL_ENV, else the nearest
                               .tahe/local.env in this directory or a parent)
  --json                       print one JSON object on one line instead of tables: the
                               response message in protobuf's JSON mapping (lowerCamelCase
                               names, 64-bit integers as strings, default values included).
                               `ledger entries` prints one ListEntriesResponse holding every
                               page's entries (`payroll employees list` likewise); health
                               prints {"status": ...}, reflection {"services": [...]},
                               seed-demo {"tenants": [{...}, ...]}. Errors stay text on stderr.
  --timeout DURATION           deadline of each call: 10s (default), 500ms, 2m, or seconds;
                               a payroll import allows it for each batch of 1 000
  --help, -h                   this text

Each setting comes from its option, else the process environment, else the env file
(KEY=value lines, as deploy/local/run.sh writes them). A variable set to "" in the
environment overrides the file: TAHE_API_KEY= tahectl ... uses no key from the file.
Every call carries a fresh random x-request-id.

Commands:
  health [--service NAME]
      grpc.health.v1.Health/Check; prints SERVING, NOT_SERVING, ...; exits 0 only when
      SERVING. Sends no credentials.
  reflection
      Lists the services the server exposes through gRPC server reflection, one a line.

  admin regions list
  admin regions create SLUG --name NAME --service PREFIX=ADDR ... [--request-id ID]
  admin regions update SLUG [--name NAME] [--service PREFIX=ADDR]...
                       [--remove-service PREFIX]... [--request-id ID]
      PREFIX is a gRPC service name prefix (tahe.ledger.v1), ADDR its upstream host:port.
  admin orgs list [--region SLUG]
  admin orgs create SLUG --name NAME --business-id 1234567-8 --region SLUG [--request-id ID]
  admin orgs update SLUG [--name NAME] [--business-id ID] [--region SLUG] [--request-id ID]
      A move to another region is refused (FAILED_PRECONDITION, saying what is there) while
      the organisation has data in its current region's cell.
  admin keys list [--include-revoked] [--organisation SLUG]
  admin keys issue --role ROLE... (--organisation SLUG... | --region SLUG...)
                   [--description TEXT] [--key-file PATH] [--request-id ID]
      Roles: ledger.read ledger.write payroll.run payroll.admin invoicing.write
      reports.read reports.write admin. Prints the key id and the key; the key is shown this
      once only.
      With --key-file the key goes into PATH instead (created with mode 0600; an existing
      file is never overwritten) and only the key id is printed.
  admin keys revoke KEY_ID [--request-id ID]
  admin audit [--target TARGET] [--after-id N] [--limit N]
      Admin commands need a key with the role admin.

  ledger accounts [--include-closed]
  ledger load-template [--template fi-municipal|fi-wellbeing-region] [--request-id ID]
  ledger open-period YYYY-MM [--request-id ID]
  ledger post --date YYYY-MM-DD --description TEXT --line ACCOUNT:AMOUNT[:key=value,...] ...
              [--request-id ID] [--source-system manual] [--source-reference REF]
      AMOUNT is euros with at most two decimals, debit positive, credit negative
      (--line 1910:-123.45); dimensions as key=value pairs (--line 4300:50:cost_centre=300).
  ledger post --file PATH|- [--request-id ID]
      Posts a PostEntryRequest written in protobuf's JSON mapping (- reads stdin):
      {"entry": {"entryDate": "2025-03-05", "description": "...", "lines": [{"account":
      "1910", "amount": {"amountMinor": "123456", "currencyCode": "EUR"}}, ...]}}.
      The request id is --request-id, else the file's requestId, else a random one.
  ledger reverse SEQUENCE [--date YYYY-MM-DD] [--description TEXT] [--request-id ID]
      Posts the reversal of entry SEQUENCE (every line negated) on its date, or on --date.
      An entry is reversed at most once (FAILED_PRECONDITION the second time).
  ledger balance ACCOUNT [--as-of YYYY-MM-DD] [--dimension KEY=VALUE | --dimension KEY]
      Debit, credit and balance of one account (default: as of today); KEY=VALUE counts
      only lines with that dimension value, KEY alone splits the balance by its values.
  ledger trial-balance [--period YYYY-MM | --as-of YYYY-MM-DD]     (default: as of today)
  ledger verify-chain                 exits 1 when the hash chain is broken
  ledger entries [--period YYYY-MM] [--page-size N]
      Ledger commands need a tenant (--tenant) unless the API key serves one organisation.
      Mutations without --request-id use a random one; give one to make retries safe.

  payroll employees import FILE.csv [--request-id PREFIX]
      Columns (header row, any order): employee_number, first_name, last_name,
      personal_identity_code, iban, bic (optional), start_date, end_date (optional),
      cost_centre, salary_basis (MONTHLY|HOURLY), monthly_salary and hourly_rate (euros,
      3500.00; the basis's one is required), pension_scheme (KEVA|TYEL), union_fee_percent
      (1.5; optional). Cells separated by ',' (or ';' when the header has more of them);
      quoted cells as in RFC 4180. The file is checked whole first: any problem (listed by
      row and column, never quoting a cell of this file) and nothing is sent. Then batches of
      1 000 go to ImportEmployees with request ids from the file's SHA-256 and the batch
      number (PREFIX-b0, -b1, ... with --request-id), so importing the same file again
      changes nothing. Prints the accepted count and each rejection by row and column;
      exits 1 if any was rejected. FILE - reads stdin.
  payroll employees list
  payroll employees get NUMBER
  payroll employees add NUMBER --first-name NAME --last-name NAME --iban IBAN [--bic BIC]
                        --start-date YYYY-MM-DD [--end-date YYYY-MM-DD] --cost-centre CC
                        --salary-basis MONTHLY|HOURLY [--monthly-salary EUR] [--hourly-rate EUR]
                        --pension-scheme KEVA|TYEL [--union-fee-percent PERCENT]
                        [--dimension KEY=VALUE]... [--personal-identity-code-file PATH|-]
                        [--request-id ID]
      Creates or replaces the employee. The personal identity code is read from the file, or
      from stdin when the option is absent or "-"; it is never a command-line value (ps
      would show it) and tahectl never prints one.
  payroll tax-card set NUMBER --valid-from YYYY-MM-DD --base-rate PERCENT
                       --additional-rate PERCENT --income-limit EUR [--request-id ID]
  payroll tax-cards NUMBER
  payroll settings get
  payroll settings set [--pension-total PERCENT] [--unemployment-tier lower|upper]
                       [--accident-insurance PERCENT] [--group-life-insurance PERCENT]
                       [--debtor-name NAME] [--debtor-iban IBAN] [--debtor-bic BIC]
                       [--debtor-business-id 1234567-8] [--account-wages N]
                       [--account-reimbursements N] [--account-pension-costs N]
                       [--account-other-social-costs N] [--account-withholding-payable N]
                       [--account-pension-payable N] [--account-unemployment-payable N]
                       [--account-health-insurance-payable N] [--account-other-payable N]
                       [--account-net-pay-payable N] [--request-id ID]
      Changes only the settings given (reads the others first). --pension-total 0 means
      the rate table's rate. A new --debtor-iban without --debtor-bic lets the service
      derive the BIC.
  payroll rate-tables list
  payroll rate-tables show VERSION       prints the table in its text format
  payroll rate-tables load FILE [--request-id ID]
      FILE in the text format of services/payroll/rate_tables.h (version, valid_from and
      one `key = value` a line); the default request id follows from the content.
  payroll items import FILE.csv [--request-id PREFIX]
      Columns: item_id, employee_number, period (YYYY-MM), kind (MONTHLY_SALARY, HOURLY_WORK,
      EVENING_SUPPLEMENT, NIGHT_SUPPLEMENT, SUNDAY_SUPPLEMENT, OVERTIME_50, OVERTIME_100,
      MEAL_BENEFIT, PHONE_BENEFIT, MILEAGE_ALLOWANCE, PER_DIEM, DEDUCTION), quantity (hours,
      at most two decimals) with unit_rate (euros), or amount (euros), description. Checked,
      batched and reported like the employees file.
  payroll items list [--period YYYY-MM] [--employee NUMBER]
  payroll run create --period YYYY-MM --payment-date YYYY-MM-DD [--request-id ID]
  payroll run calculate RUN_ID [--wait-timeout DURATION] [--request-id ID]
      Calculates (or recalculates) every payslip, showing progress on stderr: one line
      redrawn in place on a terminal, otherwise a line per tenth of the payslips (from
      WatchPayRun; from polling GetPayRun when the service cannot stream). Then prints the
      totals: payslips, gross pay, withholding, employee contributions, net pay, employer
      contributions, provisional rates used and skipped employees. --wait-timeout (default
      30m) bounds the calculation instead of --timeout.
  payroll run approve RUN_ID [--wait-posted [--wait-timeout DURATION]] [--request-id ID]
      Freezes the run and queues its ledger posting. --wait-posted then waits, with
      progress, until the ledger has the entry (POSTED); exit 1 with DEADLINE_EXCEEDED if
      it is still waiting after --wait-timeout (the outbox keeps retrying).
  payroll run cancel RUN_ID [--request-id ID]
  payroll run get RUN_ID
  payroll runs [--period YYYY-MM]
  payroll payslips RUN_ID [--employee NUMBER] [--format text|csv]
      The rendered payslips on stdout (--json: the RenderPayslipsResponse, content base64).
  payroll payment-file RUN_ID --out FILE
      Writes the SEPA credit transfer (pain.001) of an approved run to FILE, which must not
      exist, and prints its transactions and control sum (--json: the PaymentFile without
      its content).
      Payroll commands need a tenant like the ledger's, and a key with the role payroll.run
      (payroll.admin to change employees, tax cards, settings and rate tables). No progress
      is drawn with --json.

  invoicing settings show
  invoicing settings set --file settings.json [--request-id ID]
  invoicing settings set [--seller-name NAME] [--business-id 1234567-8] [--iban IBAN]
                         [--bic BIC] [--street TEXT] [--postal-code CODE] [--city NAME]
                         [--reference-prefix DIGITS] [--payment-terms DAYS]
                         [--reminder-fee EUR] [--request-id ID]
      The file is an InvoicingSettings in protobuf's JSON mapping ({"sellerName": ...,
      "businessId": ..., "address": {...}, "iban": ..., "reminderFeeCents": "500",
      "accounts": {...}}) and replaces every setting; the options change only the settings
      given (the others are read first). A new --iban without --bic lets the service derive
      the BIC.
  invoicing customers import --file customers.csv [--request-id PREFIX]
      Columns (header row, any order): customer_number, kind (PERSON|ORGANISATION), name,
      business_id (organisations), personal_identity_code (persons, optional), street,
      postal_code, city, country (optional, FI), delivery_channel (PAPER|EMAIL|EINVOICE),
      email, einvoice_address, einvoice_operator, language (fi|sv|en), price_list (the
      last six optional). CSV as for payroll imports. The file is checked whole first; then
      one UpsertCustomer a row, request id PREFIX-r<ROW> (PREFIX from the file's SHA-256
      unless given), so importing the same file again changes nothing. A refused row is
      listed by row and column ("row 4 (customer C-9), column personal_identity_code: ...")
      and the others go on; exits 1 if any was refused. No message repeats a cell of it.
  invoicing customers list
  invoicing customers show NUMBER
  invoicing products import --file products.csv [--request-id PREFIX]
      Columns: code, name, unit (optional, kpl), unit_price (euros, net of VAT), vat_category
      (GENERAL|REDUCED|LOWEST|EXEMPT|REVERSE_CHARGE), sales_account and cost_centre
      (optional). Imported like customers.
  invoicing products list
  invoicing invoice create --customer NUMBER --delivery-date YYYY-MM-DD
                           --line PRODUCT:QUANTITY[:UNIT_PRICE] ... [--invoice-id ID]
                           [--series S] [--text TEXT] [--payment-terms DAYS] [--request-id ID]
  invoicing invoice create --file draft.json [--invoice-id ID] [--request-id ID]
      A draft, priced by the service (VAT by delivery date). QUANTITY has at most three
      decimals (2.5 hours); UNIT_PRICE in euros overrides the product's. The file is an
      InvoiceDraftInput in the JSON mapping ({"customerNumber": "C-1", "deliveryDate":
      "2025-03-01", "lines": [{"productCode": "KOTIHOITO", "quantityMilli": "2500"}]}).
  invoicing invoice issue ID [--date YYYY-MM-DD] [--wait-posted [--wait-timeout DURATION]]
                         [--request-id ID]
      Numbers the draft, dates it (default today) and queues its ledger posting;
      --wait-posted then waits until the ledger has it (DEADLINE_EXCEEDED after
      --wait-timeout, default 30m; the outbox keeps retrying).
  invoicing invoice show ID
  invoicing invoice delete ID [--request-id ID]               (drafts only)
  invoicing invoice list [--customer NUMBER] [--status S[,S...]] [--due-from YYYY-MM-DD]
                         [--due-to YYYY-MM-DD] [--billing-run RUN]
      Statuses: draft issued partially_paid paid overdue reminded collection credited.
  invoicing invoice credit ID [--lines 1,2] [--date YYYY-MM-DD] [--text TEXT]
                          [--request-id ID]
      A credit note of the given lines in full (default: every line), issued at once.
  invoicing invoice render ID --format finvoice|text|html [--out FILE]
      The rendering on stdout, or into FILE, which must not exist.
  invoicing billing import --run RUN --file drafts.csv [--request-id PREFIX]
      One row per invoice line. Columns: invoice_id, customer_number, delivery_date, series,
      text, payment_terms_days (the invoice's, on its first row; later rows leave them empty
      or repeat them), product_code, description, unit, quantity, unit_price (euros),
      vat_category, discount_percent, line_delivery_date, cost_centre (the line's). Rows
      with the same invoice_id make one draft. Streamed to ImportDraftInvoices in batches of
      1 000 drafts with request ids from the run and the file's SHA-256 (PREFIX-b0, -b1, ...
      with --request-id); rejected drafts are listed by row and column; exits 1 if any.
  invoicing billing run RUN [--date YYYY-MM-DD] [--wait-timeout DURATION] [--request-id ID]
      Issues every draft of the run, showing progress on stderr (from WatchBillingRun, or
      from polling GetBillingRun); then the counts, numbers, gross total and rejections.
      --wait-timeout (default 30m) bounds the run instead of --timeout.
  invoicing billing show RUN
  invoicing payments import --file camt054.xml [--request-id ID]
      A camt.054.001.02 bank notification, streamed in chunks of 1 MiB. The request id
      follows from the file's SHA-256 unless given, so running the command again returns
      the first import's answer; the same transactions under another request id are
      duplicates. Prints matched, partially allocated, unmatched, duplicate and skipped
      transactions.
  invoicing payments list [--unmatched]
      --unmatched: the money waiting for an operator (unmatched and partly allocated).
  invoicing payments allocate PAYMENT INVOICE [--amount EUR] [--request-id ID]
      Default amount: as much as the payment has left and the invoice has open.
  invoicing reminders run [--as-of YYYY-MM-DD] [--request-id ID]
      Reminders for invoices at least 14 days overdue, with the fee and penalty interest.
  invoicing reference-rates list
  invoicing reference-rates set --year YYYY --half 1|2 --rate PERCENT [--provisional]
                                [--request-id ID]
      The reference rates (viitekorko) penalty interest is priced with, per half-year: the
      built-in ones and those loaded. `set` loads a newly announced rate for every
      organisation of the cell (a key with the role admin); it takes the built-in one's place
      from the next reminder round on.
  invoicing ageing [--as-of YYYY-MM-DD]
      Invoicing commands need a tenant like the ledger's and a key with the role
      invoicing.write. No progress is drawn with --json.

  report trial-balance RANGE [--dimension KEY=VALUE] [REPORT OPTIONS]
      Opening balance, debits, credits and closing balance per account, with totals.
      RANGE is --from YYYY-MM-DD --to YYYY-MM-DD, or --month YYYY-MM, or --year YYYY.
  report income-statement RANGE [--dimension KEY=VALUE] [REPORT OPTIONS]
  report balance-sheet [--date YYYY-MM-DD] [--dimension KEY=VALUE] [REPORT OPTIONS]
      The JHS statements, one row a line indented by level, subtotals in capitals, with the
      same range (balance sheet: date, default today) a year earlier alongside.
  report cost-centres RANGE [--split-by KEY] [--dimension KEY=VALUE] [REPORT OPTIONS]
      Income, expenses and net per value of a dimension (default cost_centre) and the
      previous year's. Whole months only, as with any --dimension filter.
  report budget RANGE [--budget NAME] [--dimension KEY=VALUE] [REPORT OPTIONS]
      Budget against actual per account and cost centre. Whole months only.
  report budget upload --file budget.csv [--budget NAME] [--currency CODE] [--request-id ID]
      Columns (header row, any order): account, cost_centre (optional), month (YYYY-MM),
      amount (euros, debit positive and credit negative like ledger lines: an income budget
      is negative). CSV as for payroll imports; at most 100 000 lines, each (account, cost
      centre, month) once. The file is checked whole first (problems by row and column, and
      nothing is sent); each line given replaces its earlier budget.
  report payroll-costs RANGE [REPORT OPTIONS]
      Wages and employer contributions per cost centre and month. Whole months only.
  report ageing [--as-of YYYY-MM-DD] [--export csv|json --out FILE]
      Open receivables by days past due (current, 1-30, 31-60, 61-90, over 90), as
      invoicing has them (default: today).
  report mapping show
  report mapping set (--file mapping.csv|mapping.json | --default) [--request-id ID]
      Replaces the statement mapping. CSV columns: row_code, from_account, to_account
      (optional: the same account); JSON: a StatementMapping as `report mapping show --json`
      prints it. --default goes back to the default mapping.
  report regional RANGE [--with-income-statement] [--currency CODE] [--min-sequence N]
      Key figures of every organisation of the cell and their sum. Through the gateway only
      a key of the region (the operator's) may ask, with --tenant naming any organisation of
      the region (it picks the cell); straight to a cell's service no tenant is needed.
  report feed
      How far reporting's read model is behind the ledger: the organisation's, or without
      a tenant every organisation's of the cell.
      REPORT OPTIONS: --currency CODE (default EUR), --min-sequence N (wait until reporting
      has applied ledger sequence N, UNAVAILABLE otherwise), and --export csv|json|html
      --out FILE: the service's export of the report into FILE, which must not exist (html
      for the income statement and the balance sheet only). Report commands need a tenant
      like the ledger's (but regional and feed) and a key with the role reports.read
      (reports.write for budget upload and mapping set).

  seed-demo [--tenants lahti,phhyky] [--today YYYY-MM-DD]
      Loads the fi-municipal chart, opens this year's periods up to this month, defines
      cost centres and posts ten demo entries per tenant with fixed request ids: running it
      again changes nothing. Each tenant's calls carry its own x-tahe-tenant.

Exit codes: 0 success; 1 a call failed, the service is not serving or the hash chain is
broken: "tahectl: CODE: message" on stderr, CODE being the gRPC code (PERMISSION_DENIED,
UNAVAILABLE, ...); 2 usage or configuration error, nothing was called.
)";
}

namespace {

absl::Status ExpectOperands(const Args& args, size_t count, absl::string_view synopsis) {
  if (args.positional().size() != count) {
    return UsageError(absl::StrCat("usage: tahectl ", synopsis));
  }
  return absl::OkStatus();
}

absl::CivilDay LocalToday() { return absl::ToCivilDay(absl::Now(), absl::LocalTimeZone()); }

OutputFormat FormatOf(const Args& args) {
  return args.Has("json") ? OutputFormat::kJson : OutputFormat::kTable;
}

std::string RequestIdOrRandom(const Args& args) {
  if (std::optional<std::string> id = args.Value("request-id"); id.has_value() && !id->empty()) {
    return *id;
  }
  return NewRequestId();
}

// The settings of this run (env file included); every error is a usage error.
absl::StatusOr<ClientSettings> Settings(const Args& args, const RunEnvironment& environment,
                                        Credentials credentials) {
  absl::StatusOr<std::optional<EnvFile>> file =
      LoadEnvFile(args, environment.env, environment.working_directory);
  if (!file.ok()) {
    return UsageError(file.status());
  }
  absl::StatusOr<ClientSettings> settings =
      ClientSettingsFromArgs(args, SettingSources(environment.env, *std::move(file)), credentials);
  if (!settings.ok()) {
    return UsageError(settings.status());
  }
  return settings;
}

// Names the key a refused call used, so that "which key was that?" needs no guessing. The key
// id is the public part of the key.
absl::Status WithKeyHint(const absl::Status& status, const ClientSettings& settings) {
  if (settings.api_key.empty() || (status.code() != absl::StatusCode::kUnauthenticated &&
                                   status.code() != absl::StatusCode::kPermissionDenied)) {
    return status;
  }
  return absl::Status(status.code(),
                      absl::StrCat(status.message(), " (API key ", ApiKeyId(settings.api_key),
                                   " from ", settings.api_key_origin, ")"));
}

absl::Status Health(const Args& args, const RunEnvironment& environment, std::ostream& out) {
  if (absl::Status s = args.CheckOnly("health", {"service"}); !s.ok()) {
    return UsageError(s);
  }
  if (absl::Status s = args.AtMostOnce({"service"}); !s.ok()) {
    return UsageError(s);
  }
  RETURN_IF_ERROR(ExpectOperands(args, 1, "health [--service NAME]"));
  ASSIGN_OR_RETURN(ClientSettings settings, Settings(args, environment, Credentials::kNone));
  ASSIGN_OR_RETURN(ServingStatus status, CheckHealth(settings, args.Value("service").value_or("")));
  if (FormatOf(args) == OutputFormat::kJson) {
    // As grpc.health.v1.HealthCheckResponse in the JSON mapping.
    google::protobuf::Struct response;
    (*response.mutable_fields())["status"].set_string_value(ServingStatusName(status));
    PrintJson(response, out);
  } else {
    out << ServingStatusName(status) << "\n";
  }
  if (status != ServingStatus::kServing) {
    return absl::UnavailableError(
        absl::StrCat(settings.address, " is ", ServingStatusName(status)));
  }
  return absl::OkStatus();
}

absl::Status Reflection(const Args& args, const RunEnvironment& environment, std::ostream& out) {
  if (absl::Status s = args.CheckOnly("reflection", {}); !s.ok()) {
    return UsageError(s);
  }
  RETURN_IF_ERROR(ExpectOperands(args, 1, "reflection"));
  ASSIGN_OR_RETURN(ClientSettings settings, Settings(args, environment, Credentials::kNone));
  ASSIGN_OR_RETURN(std::vector<std::string> names, ListServices(settings));
  if (FormatOf(args) == OutputFormat::kJson) {
    google::protobuf::Struct response;
    google::protobuf::ListValue* services =
        (*response.mutable_fields())["services"].mutable_list_value();
    for (const std::string& name : names) {
      services->add_values()->set_string_value(name);
    }
    PrintJson(response, out);
    return absl::OkStatus();
  }
  for (const std::string& name : names) {
    out << name << "\n";
  }
  return absl::OkStatus();
}

absl::Status Admin(const Args& args, const RunEnvironment& environment, std::ostream& out) {
  ASSIGN_OR_RETURN(AdminCommand command, ParseAdminCommand(args));
  ASSIGN_OR_RETURN(ClientSettings settings, Settings(args, environment, Credentials::kAdmin));
  if (settings.api_key.empty()) {
    return UsageError(
        "admin commands need an API key with the role admin: --api-key-file PATH, "
        "TAHE_ADMIN_API_KEY_FILE or TAHE_API_KEY_FILE (deploy/local/run.sh writes them to "
        ".tahe/local.env)");
  }
  // The directory is not any organisation's: no tenant goes with admin calls.
  settings.tenant.clear();
  AdminClient admin(settings);
  return WithKeyHint(RunAdminCommand(command, admin, FormatOf(args), out), settings);
}

// `ledger post --file PATH|-`: the request in the JSON mapping, from a file or stdin.
absl::StatusOr<v1::PostEntryRequest> PostRequestFromFile(const Args& args,
                                                         const RunEnvironment& environment) {
  const std::string path = *args.Value("file");
  std::string json;
  if (path == "-") {
    std::istream& in = environment.in != nullptr ? *environment.in : std::cin;
    std::stringstream contents;
    contents << in.rdbuf();
    json = contents.str();
  } else {
    std::ifstream file(path);
    if (!file) {
      return UsageError(absl::StrCat("--file: cannot read ", path));
    }
    std::stringstream contents;
    contents << file.rdbuf();
    json = contents.str();
  }
  absl::StatusOr<v1::PostEntryRequest> request =
      ParsePostEntryJson(json, absl::StrCat("--file ", path == "-" ? "(stdin)" : path));
  if (!request.ok()) {
    return UsageError(request.status());
  }
  if (std::optional<std::string> id = args.Value("request-id"); id.has_value() && !id->empty()) {
    request->set_request_id(*id);
  } else if (request->request_id().empty()) {
    request->set_request_id(NewRequestId());
  }
  return request;
}

absl::Status Ledger(const Args& args, const RunEnvironment& environment, std::ostream& out) {
  const std::vector<std::string>& words = args.positional();
  if (words.size() < 2) {
    return UsageError(
        "usage: tahectl ledger accounts|load-template|open-period|post|reverse|balance|"
        "trial-balance|verify-chain|entries ...");
  }
  const std::string& command = words[1];
  const std::string name = absl::StrCat("ledger ", command);
  const OutputFormat format = FormatOf(args);

  // Validate the command line completely before calling anything.
  v1::LoadChartTemplateRequest template_request;
  v1::OpenPeriodRequest period_request;
  v1::PostEntryRequest post_request;
  v1::ReverseEntryRequest reverse_request;
  v1::GetAccountBalanceRequest account_balance_request;
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
  } else if (command == "post" && args.Has("file")) {
    for (absl::string_view option :
         {"date", "description", "line", "source-system", "source-reference"}) {
      if (args.Has(option)) {
        return UsageError(absl::StrCat("ledger post: --", option,
                                       " cannot be combined with --file (the file holds the "
                                       "whole entry)"));
      }
    }
    RETURN_IF_ERROR(
        check({"file", "request-id"}, 2, "ledger post --file PATH|- [--request-id ID]"));
    ASSIGN_OR_RETURN(post_request, PostRequestFromFile(args, environment));
  } else if (command == "post") {
    RETURN_IF_ERROR(
        check({"date", "description", "line", "request-id", "source-system", "source-reference"}, 2,
              "ledger post --date YYYY-MM-DD --description TEXT "
              "--line ACCOUNT:AMOUNT[:key=value,...] --line ...  (or ledger post --file PATH)"));
    const std::optional<std::string> date = args.Value("date");
    if (!date.has_value()) {
      return UsageError("ledger post: --date YYYY-MM-DD (or --file PATH) is required");
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
  } else if (command == "reverse") {
    RETURN_IF_ERROR(check({"date", "description", "request-id"}, 3,
                          "ledger reverse SEQUENCE [--date YYYY-MM-DD] [--description TEXT] "
                          "[--request-id ID]"));
    int64_t sequence = 0;
    if (!absl::SimpleAtoi(words[2], &sequence) || sequence < 1) {
      return UsageError("ledger reverse: SEQUENCE must be an entry's sequence number (1, 2, ...)");
    }
    reverse_request.set_sequence(sequence);
    if (const std::optional<std::string> date = args.Value("date"); date.has_value()) {
      if (absl::Status s = ParseDate("--date", *date).status(); !s.ok()) {
        return UsageError(s);
      }
      reverse_request.set_reversal_date(*date);
    }
    reverse_request.set_description(args.Value("description").value_or(""));
    reverse_request.set_request_id(RequestIdOrRandom(args));
  } else if (command == "balance") {
    RETURN_IF_ERROR(check({"as-of", "dimension"}, 3,
                          "ledger balance ACCOUNT [--as-of YYYY-MM-DD] "
                          "[--dimension KEY=VALUE | --dimension KEY]"));
    if (absl::Status s = args.AtMostOnce({"dimension"}); !s.ok()) {
      return UsageError(absl::StrCat(s.message(), " (the ledger filters on one dimension)"));
    }
    account_balance_request.set_account(words[2]);
    if (std::optional<std::string> as_of = args.Value("as-of")) {
      if (absl::Status s = ParseDate("--as-of", *as_of).status(); !s.ok()) {
        return UsageError(s);
      }
      account_balance_request.set_as_of_date(*as_of);
    } else {
      account_balance_request.set_as_of_date(FormatDate(LocalToday()));
    }
    if (std::optional<std::string> dimension = args.Value("dimension")) {
      const size_t eq = dimension->find('=');
      const std::string key = dimension->substr(0, eq);
      if (key.empty() || (eq != std::string::npos && eq + 1 == dimension->size())) {
        return UsageError(
            absl::StrCat("--dimension: want KEY=VALUE or KEY, got \"", *dimension, "\""));
      }
      account_balance_request.set_dimension_key(key);
      if (eq == std::string::npos) {
        account_balance_request.set_split_by_dimension(true);
      } else {
        account_balance_request.set_dimension_value(dimension->substr(eq + 1));
      }
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

  ASSIGN_OR_RETURN(ClientSettings settings, Settings(args, environment, Credentials::kService));
  if (settings.tenant.empty() && settings.api_key.empty()) {
    // Through the gateway a key of one organisation implies the tenant; a backend needs it.
    return UsageError(absl::StrCat(name, ": --tenant SLUG (or TAHE_TENANT) is required"));
  }
  LedgerClient ledger(settings);
  absl::Status status;
  if (command == "accounts") {
    status = ListAccountsCommand(ledger, args.Has("include-closed"), format, out);
  } else if (command == "load-template") {
    status = LoadTemplateCommand(ledger, template_request, format, out);
  } else if (command == "open-period") {
    status = OpenPeriodCommand(ledger, period_request, format, out);
  } else if (command == "post") {
    status = PostEntryCommand(ledger, post_request, format, out);
  } else if (command == "reverse") {
    status = ReverseEntryCommand(ledger, reverse_request, format, out);
  } else if (command == "balance") {
    status = AccountBalanceCommand(ledger, account_balance_request, format, out);
  } else if (command == "trial-balance") {
    status = TrialBalanceCommand(ledger, balance_request, format, out);
  } else if (command == "verify-chain") {
    status = VerifyChainCommand(ledger, format, out);
  } else {
    status = ListEntriesCommand(ledger, entries_request, format, out);
  }
  return WithKeyHint(status, settings);
}

absl::Status Payroll(const Args& args, const RunEnvironment& environment, std::ostream& out,
                     std::ostream& err) {
  std::istream& in = environment.in != nullptr ? *environment.in : std::cin;
  // The whole command line, and every file it names, is checked before anything is called.
  ASSIGN_OR_RETURN(PayrollCommand command, ParsePayrollCommand(args, in));
  ASSIGN_OR_RETURN(ClientSettings settings, Settings(args, environment, Credentials::kService));
  if (settings.tenant.empty() && settings.api_key.empty()) {
    // Through the gateway a key of one organisation implies the tenant; a backend needs it.
    return UsageError(absl::StrCat(command.name, ": --tenant SLUG (or TAHE_TENANT) is required"));
  }
  PayrollClient payroll(settings);
  const PayrollOutput output{out, err, FormatOf(args), environment.err_is_terminal,
                             environment.poll_interval};
  return WithKeyHint(command.run(payroll, output), settings);
}

// Whether a command acts for one organisation (and so, straight to a backend, needs --tenant).
bool NeedsTenant(const InvoicingCommand&) { return true; }
bool NeedsTenant(const ReportCommand& command) { return command.needs_tenant; }

// A service command whose parser returns {name, run(Client&, const CommandOutput&)}: the whole
// command line, and every file it names, is checked before anything is called.
template <typename Client, typename Command>
absl::Status RunServiceCommand(absl::StatusOr<Command> (*parse)(const Args&, std::istream&),
                               const Args& args, const RunEnvironment& environment,
                               std::ostream& out, std::ostream& err) {
  std::istream& in = environment.in != nullptr ? *environment.in : std::cin;
  ASSIGN_OR_RETURN(Command command, parse(args, in));
  ASSIGN_OR_RETURN(ClientSettings settings, Settings(args, environment, Credentials::kService));
  if (NeedsTenant(command) && settings.tenant.empty() && settings.api_key.empty()) {
    // Through the gateway a key of one organisation implies the tenant; a backend needs it.
    return UsageError(absl::StrCat(command.name, ": --tenant SLUG (or TAHE_TENANT) is required"));
  }
  Client client(settings);
  const CommandOutput output{out, err, FormatOf(args), environment.err_is_terminal,
                             environment.poll_interval};
  return WithKeyHint(command.run(client, output), settings);
}

absl::Status SeedDemoCommand(const Args& args, const RunEnvironment& environment,
                             std::ostream& out) {
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
  ASSIGN_OR_RETURN(ClientSettings settings, Settings(args, environment, Credentials::kService));
  if (FormatOf(args) == OutputFormat::kTable) {
    return WithKeyHint(SeedDemo(settings, *tenants, today, out).status(), settings);
  }
  std::ostringstream summary_lines;  // replaced by the JSON below
  absl::StatusOr<std::vector<TenantSeedResult>> results =
      SeedDemo(settings, *tenants, today, summary_lines);
  if (!results.ok()) {
    return WithKeyHint(results.status(), settings);
  }
  google::protobuf::Struct response;
  google::protobuf::ListValue* list = (*response.mutable_fields())["tenants"].mutable_list_value();
  for (const TenantSeedResult& result : *results) {
    auto& fields = *list->add_values()->mutable_struct_value()->mutable_fields();
    fields["tenant"].set_string_value(result.tenant);
    fields["templateAccountsCreated"].set_number_value(result.template_accounts_created);
    fields["templateAccountsExisting"].set_number_value(result.template_accounts_existing);
    fields["demoAccountsCreated"].set_number_value(result.demo_accounts_created);
    fields["periodsOpened"].set_number_value(result.periods_opened);
    fields["periodsExisting"].set_number_value(result.periods_existing);
    fields["entriesPosted"].set_number_value(result.entries_posted);
    fields["entriesReplayed"].set_number_value(result.entries_replayed);
    fields["firstSequence"].set_number_value(static_cast<double>(result.first_sequence));
    fields["lastSequence"].set_number_value(static_cast<double>(result.last_sequence));
  }
  PrintJson(response, out);
  return absl::OkStatus();
}

}  // namespace

int RunTahectl(const std::vector<std::string>& argv, const RunEnvironment& environment,
               std::ostream& out, std::ostream& err) {
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
    status = Health(*args, environment, out);
  } else if (command == "reflection") {
    status = Reflection(*args, environment, out);
  } else if (command == "admin") {
    status = Admin(*args, environment, out);
  } else if (command == "ledger") {
    status = Ledger(*args, environment, out);
  } else if (command == "payroll") {
    status = Payroll(*args, environment, out, err);
  } else if (command == "invoicing") {
    status =
        RunServiceCommand<InvoicingClient>(&ParseInvoicingCommand, *args, environment, out, err);
  } else if (command == "report") {
    status = RunServiceCommand<ReportingClient>(&ParseReportCommand, *args, environment, out, err);
  } else if (command == "seed-demo") {
    status = SeedDemoCommand(*args, environment, out);
  } else {
    status = UsageError(absl::StrCat("unknown command '", command, "'"));
  }
  if (status.ok()) {
    return kExitOk;
  }
  if (IsUsageError(status)) {
    err << "tahectl: " << status.message() << "\nRun 'tahectl --help' for usage.\n";
    return kExitUsage;
  }
  err << "tahectl: " << tahe::CodeName(status.code()) << ": " << status.message() << "\n";
  return kExitFailure;
}

int RunTahectl(const std::vector<std::string>& args, const EnvLookup& env, std::ostream& out,
               std::ostream& err) {
  return RunTahectl(args, RunEnvironment{env, "", nullptr}, out, err);
}

}  // namespace tahe::tahectl
