// Tests of `tahectl report ...`: the budget and mapping files (exact cents, every bad cell named
// by row and column), the service's refusals told in the file's rows, and the commands in-process
// against an in-process fake ReportingService (fake_reporting.h) over real gRPC: the request
// fields each command sends for its flags, the tables it prints from the canned reports, exports
// written byte for byte into new files only, --json, the service's error codes passed through,
// usage errors before any call.
#include <catch2/catch.hpp>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "tools/tahectl/cli.h"
#include "tools/tahectl/fake_reporting.h"
#include "tools/tahectl/parse.h"
#include "tools/tahectl/report_commands.h"
#include "tools/tahectl/report_csv.h"
#include "tools/tahectl/test_support.h"

namespace tahe::tahectl {
namespace {

namespace v1 = ::tahe::reporting::v1;

constexpr char kOperatorKey[] =
    "tahe_0000000000cc_3333333333333333333333333333333333333333333333333333333333333333";
constexpr char kInternalToken[] = "cell-internal-token";

// --- Files and pure pieces -----------------------------------------------------------------------

TEST_CASE("ParseBudgetCsv reads signed euros into exact cents") {
  CsvImport<BudgetLineRow> parsed = ParseBudgetCsv(
      "account,cost_centre,month,amount\n"
      "4000,300,2026-01,1234.56\n"
      "3000,300,2026-01,-98765432.10\n"
      "4000,,2026-02,0.07\n"
      "4000,300,2026-02,7\n");
  INFO(Problems(parsed));
  REQUIRE(parsed.problems.empty());
  REQUIRE(parsed.rows.size() == 4);
  CHECK(parsed.rows[0].row == 2);
  CHECK(parsed.rows[0].line.account() == "4000");
  CHECK(parsed.rows[0].line.cost_centre() == "300");
  CHECK(parsed.rows[0].line.month() == "2026-01");
  CHECK(parsed.rows[0].line.amount_minor() == 123456);
  // An income budget is credit, negative; no floating point on the way (0.07 stays 7 cents).
  CHECK(parsed.rows[1].line.amount_minor() == -9876543210);
  CHECK(parsed.rows[2].line.cost_centre().empty());
  CHECK(parsed.rows[2].line.amount_minor() == 7);
  CHECK(parsed.rows[3].line.amount_minor() == 700);

  // Semicolons with decimal commas, columns in any order, no cost_centre column at all.
  CsvImport<BudgetLineRow> finnish = ParseBudgetCsv("month;amount;account\n2026-03;-1500,5;3100\n");
  REQUIRE(finnish.problems.empty());
  CHECK(finnish.rows[0].line.amount_minor() == -150050);
  CHECK(finnish.rows[0].line.account() == "3100");
  CHECK(finnish.rows[0].line.cost_centre().empty());
}

TEST_CASE("ParseBudgetCsv names the row and column of every bad cell") {
  CHECK(Problems(ParseBudgetCsv("account,cost_centre,month,amount\n"
                                "4000,300,2026-01,12.345\n"
                                "40x0,300,2026-13,\n"
                                ",,2026-01,1\n"
                                "4000,300,2026-01,5\n"
                                "4000,300\n"
                                "4000,300,2026-02,1 000\n")) ==
        "row 2, column amount: want euros with at most two decimals, like -1234.50, got "
        "\"12.345\"\n"
        "row 3, column account: want an account number of 1-10 digits, got \"40x0\"\n"
        "row 3, column month: want a period YYYY-MM, got \"2026-13\"\n"
        "row 3, column amount: required\n"
        "row 4, column account: required\n"
        "row 5: account 4000, cost centre \"300\", month 2026-01 again (first on row 2)\n"
        "row 6: 2 cells, the header has 4\n"
        "row 7, column amount: want euros with at most two decimals, like -1234.50, got "
        "\"1 000\"\n");
  CHECK(Problems(ParseBudgetCsv("account,amount\n4000,1\n")) ==
        "row 1, column month: missing from the header\n");
  CHECK(Problems(ParseBudgetCsv("account,month,amount,note\n4000,2026-01,1,x\n")) ==
        "row 1: unknown column \"note\" (the columns are account, cost_centre, month, amount)\n");
}

TEST_CASE("ParseMappingCsv reads ranges and defaults to_account to from_account") {
  CsvImport<MappingRuleRow> parsed = ParseMappingCsv(
      "row_code,from_account,to_account\n"
      "myyntituotot,3000,3099\n"
      "HENKILOSTOKULUT,4000,\n");
  INFO(Problems(parsed));
  REQUIRE(parsed.problems.empty());
  REQUIRE(parsed.rows.size() == 2);
  CHECK(parsed.rows[0].rule.row_code() == "MYYNTITUOTOT");
  CHECK(parsed.rows[0].rule.from_account() == "3000");
  CHECK(parsed.rows[0].rule.to_account() == "3099");
  CHECK(parsed.rows[1].row == 3);
  CHECK(parsed.rows[1].rule.to_account() == "4000");
  CHECK(Problems(ParseMappingCsv("row_code,from_account,to_account\n"
                                 ",30a0,12345678901\n")) ==
        "row 2, column row_code: required\n"
        "row 2, column from_account: want an account number of 1-10 digits, got \"30a0\"\n"
        "row 2, column to_account: want an account number of 1-10 digits, got "
        "\"12345678901\"\n");
}

TEST_CASE("the service's refusals of a list are told in the file's rows and columns") {
  const std::vector<int> rows = {2, 3, 5};
  CHECK(DescribeListRefusal("lines[2].amount_minor: too large", "lines", rows) ==
        "row 5, column amount: too large");
  CHECK(DescribeListRefusal("lines[0].month: before 2000-01", "lines", rows) ==
        "row 2, column month: before 2000-01");
  CHECK(DescribeListRefusal("rules[1]: overlaps rules[0]", "rules", rows) ==
        "row 3: overlaps row 2");
  // Beyond the list, or about something else: unchanged.
  CHECK(DescribeListRefusal("lines[7].month: bad", "lines", rows) == "lines[7].month: bad");
  CHECK(DescribeListRefusal("budget: bad name", "lines", rows) == "budget: bad name");
}

TEST_CASE("subtotal labels are put in capitals, Finnish letters included") {
  CHECK(UpperLabel("Toimintakate") == "TOIMINTAKATE");
  CHECK(UpperLabel("Tilikauden ylijäämä (alijäämä)") == "TILIKAUDEN YLIJÄÄMÄ (ALIJÄÄMÄ)");
  CHECK(UpperLabel("Rahoitustuotot ja -kulut, Övriga, å") == "RAHOITUSTUOTOT JA -KULUT, ÖVRIGA, Å");
}

TEST_CASE("Usage documents every report command") {
  const std::string usage = Usage();
  for (const char* command :
       {"report trial-balance RANGE",
        "--from YYYY-MM-DD --to YYYY-MM-DD, or --month YYYY-MM, or --year YYYY",
        "report income-statement RANGE", "report balance-sheet [--date YYYY-MM-DD]",
        "report cost-centres RANGE [--split-by KEY]", "report budget RANGE [--budget NAME]",
        "report budget upload --file budget.csv [--budget NAME]", "report payroll-costs RANGE",
        "report ageing [--as-of YYYY-MM-DD]", "report mapping show",
        "report mapping set (--file mapping.csv|mapping.json | --default)",
        "report regional RANGE [--with-income-statement]", "report feed", "--dimension KEY=VALUE",
        "--min-sequence N", "--export csv|json|html", "--out FILE"}) {
    INFO(command);
    CHECK(absl::StrContains(usage, command));
  }
}

// --- Against the fake service --------------------------------------------------------------------

// A fake ReportingService on a free loopback port, standing for the gateway (or, for
// RunDirect, for the cell's reporting service itself).
class ReportingServer {
 public:
  FakeReporting& reporting() { return reporting_; }

  // Runs tahectl as an operator through the gateway: TAHE_GATEWAY_ADDR and TAHE_API_KEY.
  RunResult Run(const std::vector<std::string>& args, const std::string& stdin_text = "") {
    return RunInProcess(args,
                        {{"TAHE_GATEWAY_ADDR", server_.address()},
                         {"TAHE_API_KEY", kOperatorKey},
                         {"TAHE_LOCAL_ENV", "/dev/null"}},
                        stdin_text);
  }
  // Straight to the service with the internal token, and no tenant.
  RunResult RunDirect(const std::vector<std::string>& args) {
    return RunInProcess(args, {{"TAHE_LEDGER_ADDR", server_.address()},
                               {"TAHE_INTERNAL_TOKEN", kInternalToken},
                               {"TAHE_LOCAL_ENV", "/dev/null"}});
  }

  size_t CallCount() const { return reporting_.calls().size(); }

  // The request of the last call of `method`.
  template <typename Request>
  Request Last(const std::string& method) const {
    const std::vector<FakeReporting::CallRecord> calls = reporting_.calls();
    for (auto it = calls.rbegin(); it != calls.rend(); ++it) {
      if (it->method == method) {
        return dynamic_cast<const Request&>(*it->request);
      }
    }
    FAIL("no call of " << method);
    return Request();
  }

 private:
  FakeReporting reporting_{kOperatorKey, kInternalToken};
  LoopbackServer server_{&reporting_};
};

v1::ReportScope Scope(const std::string& from, const std::string& to) {
  v1::ReportScope scope;
  scope.set_from_date(from);
  scope.set_to_date(to);
  return scope;
}

v1::StatementRow Row(const std::string& code, const std::string& label, int level, bool subtotal,
                     int64_t amount, int64_t previous) {
  v1::StatementRow row;
  row.set_code(code);
  row.set_label(label);
  row.set_level(level);
  row.set_is_subtotal(subtotal);
  row.set_amount_minor(amount);
  row.set_previous_minor(previous);
  return row;
}

v1::Statement IncomeStatement() {
  v1::Statement statement;
  statement.set_kind(v1::STATEMENT_KIND_INCOME_STATEMENT);
  *statement.mutable_scope() = Scope("2026-01-01", "2026-03-31");
  statement.set_previous_from_date("2025-01-01");
  statement.set_previous_to_date("2025-03-31");
  *statement.add_rows() = Row("TOIMINTATUOTOT", "Toimintatuotot", 0, true, 1500000, 1400000);
  *statement.add_rows() = Row("MYYNTITUOTOT", "Myyntituotot", 1, false, 1000000, 900000);
  *statement.add_rows() = Row("MAKSUTUOTOT", "Maksutuotot", 1, false, 500000, 500000);
  *statement.add_rows() = Row("TOIMINTAKULUT", "Toimintakulut", 0, true, -2345678, -2000000);
  *statement.add_rows() = Row("HENKILOSTOKULUT", "Henkilöstökulut", 1, true, -2345678, -2000000);
  *statement.add_rows() = Row("PALKAT", "Palkat ja palkkiot", 2, false, -2345678, -2000000);
  *statement.add_rows() = Row("TOIMINTAKATE", "Toimintakate", 0, true, -845678, -600000);
  *statement.add_rows() =
      Row("YLIJAAMA", "Tilikauden ylijäämä (alijäämä)", 0, true, -845678, -600000);
  return statement;
}

TEST_CASE("report trial-balance sends range, filter, currency and freshness and prints totals") {
  ReportingServer server;
  v1::TrialBalance balance;
  *balance.mutable_scope() = Scope("2026-01-01", "2026-03-31");
  balance.mutable_scope()->set_dimension_key("cost_centre");
  balance.mutable_scope()->set_dimension_value("300");
  v1::TrialBalanceRow* cash = balance.add_rows();
  cash->set_account("1910");
  cash->set_opening_minor(1000000);
  cash->set_debit_minor(250000);
  cash->set_credit_minor(123456);
  cash->set_closing_minor(1126544);
  v1::TrialBalanceRow* wages = balance.add_rows();
  wages->set_account("4000");
  wages->set_debit_minor(123456789);
  wages->set_closing_minor(123456789);
  balance.set_total_opening_minor(1000000);
  balance.set_total_debit_minor(123706789);
  balance.set_total_credit_minor(123456);
  balance.set_total_closing_minor(124583333);
  server.reporting().SetResponse("GetTrialBalance", balance);

  RunResult result = server.Run({"report", "trial-balance", "--from", "2026-01-01", "--to",
                                 "2026-03-31", "--dimension", "cost_centre=300", "--currency",
                                 "eur", "--min-sequence", "42", "--tenant", "lahti"});
  INFO(result.err);
  REQUIRE(result.code == kExitOk);
  CHECK(result.out ==
        "Trial balance 2026-01-01..2026-03-31, EUR, cost_centre=300\n"
        "Account    Opening         Debit    Credit       Closing\n"
        "1910     10 000.00      2 500.00  1 234.56     11 265.44\n"
        "4000          0.00  1 234 567.89      0.00  1 234 567.89\n"
        "-------  ---------  ------------  --------  ------------\n"
        "Total    10 000.00  1 237 067.89  1 234.56  1 245 833.33\n"
        "2 accounts\n");
  const v1::ReportScope scope = server.Last<v1::GetTrialBalanceRequest>("GetTrialBalance").scope();
  CHECK(scope.from_date() == "2026-01-01");
  CHECK(scope.to_date() == "2026-03-31");
  CHECK(scope.dimension_key() == "cost_centre");
  CHECK(scope.dimension_value() == "300");
  CHECK(scope.currency_code() == "EUR");
  CHECK(scope.min_sequence() == 42);
  const FakeReporting::CallRecord call = server.reporting().calls().back();
  CHECK(call.authorization == absl::StrCat("Bearer ", kOperatorKey));
  CHECK(call.tenant == "lahti");
  CHECK_FALSE(call.request_id_metadata.empty());

  RunResult json = server.Run({"--json", "report", "trial-balance", "--month", "2026-03"});
  REQUIRE(json.code == kExitOk);
  CHECK(ParsedJson<v1::TrialBalance>(json.out).rows(1).debit_minor() == 123456789);
}

TEST_CASE(
    "the --month and --year shortcuts cover whole months and years, leap days and December "
    "included") {
  ReportingServer server;
  const auto scope_of = [&](std::vector<std::string> flags) {
    std::vector<std::string> args = {"report", "income-statement"};
    args.insert(args.end(), flags.begin(), flags.end());
    RunResult result = server.Run(args);
    INFO(result.err);
    REQUIRE(result.code == kExitOk);
    const v1::ReportScope scope =
        server.Last<v1::GetIncomeStatementRequest>("GetIncomeStatement").scope();
    return absl::StrCat(scope.from_date(), "..", scope.to_date());
  };
  CHECK(scope_of({"--month", "2024-02"}) == "2024-02-01..2024-02-29");
  CHECK(scope_of({"--month", "2026-02"}) == "2026-02-01..2026-02-28");
  CHECK(scope_of({"--month", "2025-12"}) == "2025-12-01..2025-12-31");
  CHECK(scope_of({"--year", "2026"}) == "2026-01-01..2026-12-31");
  CHECK(scope_of({"--from", "2026-01-15", "--to", "2026-02-03"}) == "2026-01-15..2026-02-03");
  // Whole-month reports take the shortcuts as they are.
  REQUIRE(server.Run({"report", "payroll-costs", "--year", "2025"}).code == kExitOk);
  const v1::ReportScope payroll =
      server.Last<v1::GetPayrollCostsRequest>("GetPayrollCosts").scope();
  CHECK(payroll.from_date() == "2025-01-01");
  CHECK(payroll.to_date() == "2025-12-31");
  CHECK(payroll.dimension_key().empty());
  CHECK(payroll.currency_code().empty());
  CHECK(payroll.min_sequence() == 0);
}

TEST_CASE("report income-statement indents rows by level with last year alongside") {
  ReportingServer server;
  server.reporting().SetResponse("GetIncomeStatement", IncomeStatement());
  RunResult result = server.Run({"report", "income-statement", "--year", "2026"});
  INFO(result.err);
  REQUIRE(result.code == kExitOk);
  CHECK(result.out ==
        "Income statement 2026-01-01..2026-03-31, EUR\n"
        "                                2026-01-01..2026-03-31  2025-01-01..2025-03-31\n"
        "TOIMINTATUOTOT                               15 000.00               14 000.00\n"
        "  Myyntituotot                               10 000.00                9 000.00\n"
        "  Maksutuotot                                 5 000.00                5 000.00\n"
        "TOIMINTAKULUT                               -23 456.78              -20 000.00\n"
        "  HENKILÖSTÖKULUT                           -23 456.78              -20 000.00\n"
        "    Palkat ja palkkiot                      -23 456.78              -20 000.00\n"
        "TOIMINTAKATE                                 -8 456.78               -6 000.00\n"
        "TILIKAUDEN YLIJÄÄMÄ (ALIJÄÄMÄ)               -8 456.78               -6 000.00\n");
}

TEST_CASE("report balance-sheet is as of --date, by default today, with no from date") {
  ReportingServer server;
  v1::Statement sheet;
  sheet.set_kind(v1::STATEMENT_KIND_BALANCE_SHEET);
  sheet.mutable_scope()->set_to_date("2026-03-31");
  sheet.set_previous_to_date("2025-03-31");
  *sheet.add_rows() = Row("VASTAAVAA", "Vastaavaa", 0, true, 99900000, 88800000);
  *sheet.add_rows() = Row("RAHAT", "Rahat ja pankkisaamiset", 1, false, 12345, 0);
  server.reporting().SetResponse("GetBalanceSheet", sheet);
  RunResult result = server.Run(
      {"report", "balance-sheet", "--date", "2026-03-31", "--dimension", "project=silta"});
  INFO(result.err);
  REQUIRE(result.code == kExitOk);
  CHECK(result.out ==
        "Balance sheet at 2026-03-31, EUR\n"
        "                           2026-03-31  2025-03-31\n"
        "VASTAAVAA                  999 000.00  888 000.00\n"
        "  Rahat ja pankkisaamiset      123.45        0.00\n");
  v1::ReportScope scope = server.Last<v1::GetBalanceSheetRequest>("GetBalanceSheet").scope();
  CHECK(scope.from_date().empty());
  CHECK(scope.to_date() == "2026-03-31");
  CHECK(scope.dimension_key() == "project");
  CHECK(scope.dimension_value() == "silta");

  const std::string before = FormatDate(absl::ToCivilDay(absl::Now(), absl::LocalTimeZone()));
  REQUIRE(server.Run({"report", "balance-sheet"}).code == kExitOk);
  const std::string after = FormatDate(absl::ToCivilDay(absl::Now(), absl::LocalTimeZone()));
  scope = server.Last<v1::GetBalanceSheetRequest>("GetBalanceSheet").scope();
  CHECK(scope.from_date().empty());
  CHECK((scope.to_date() == before || scope.to_date() == after));
}

TEST_CASE("report cost-centres and budget send their options and print rows with a total") {
  ReportingServer server;
  v1::CostCentreReport centres;
  *centres.mutable_scope() = Scope("2026-01-01", "2026-03-31");
  centres.set_split_by("project");
  v1::CostCentreRow* bridge = centres.add_rows();
  bridge->set_value("silta");
  bridge->set_income_minor(100000);
  bridge->set_expenses_minor(250050);
  bridge->set_net_minor(-150050);
  bridge->set_previous_expenses_minor(99);
  v1::CostCentreRow* none = centres.add_rows();
  none->set_income_minor(1);
  none->set_net_minor(1);
  v1::CostCentreRow* total = centres.mutable_total();
  total->set_income_minor(100001);
  total->set_expenses_minor(250050);
  total->set_net_minor(-150049);
  total->set_previous_expenses_minor(99);
  server.reporting().SetResponse("GetCostCentreReport", centres);
  RunResult result =
      server.Run({"report", "cost-centres", "--from", "2026-01-01", "--to", "2026-03-31",
                  "--split-by", "project", "--dimension", "cost_centre=300"});
  INFO(result.err);
  REQUIRE(result.code == kExitOk);
  CHECK(result.out ==
        "Income and expenses by project 2026-01-01..2026-03-31, EUR\n"
        "project    Income  Expenses        Net  Prev. income  Prev. expenses  Prev. net\n"
        "silta    1 000.00  2 500.50  -1 500.50          0.00            0.99       0.00\n"
        "(none)       0.01      0.00       0.01          0.00            0.00       0.00\n"
        "-------  --------  --------  ---------  ------------  --------------  ---------\n"
        "Total    1 000.01  2 500.50  -1 500.49          0.00            0.99       0.00\n");
  const v1::GetCostCentreReportRequest centres_request =
      server.Last<v1::GetCostCentreReportRequest>("GetCostCentreReport");
  CHECK(centres_request.split_by() == "project");
  CHECK(centres_request.scope().dimension_key() == "cost_centre");
  CHECK(centres_request.scope().dimension_value() == "300");

  v1::BudgetReport budget;
  *budget.mutable_scope() = Scope("2026-01-01", "2026-12-31");
  budget.set_budget("v2");
  v1::BudgetRow* row = budget.add_rows();
  row->set_account("4000");
  row->set_cost_centre("300");
  row->set_budget_minor(5000000);
  row->set_actual_minor(5123400);
  row->set_difference_minor(123400);
  v1::BudgetRow* other = budget.add_rows();
  other->set_account("4400");
  other->set_actual_minor(-5);
  other->set_difference_minor(-5);
  budget.set_total_budget_minor(5000000);
  budget.set_total_actual_minor(5123395);
  budget.set_total_difference_minor(123395);
  server.reporting().SetResponse("GetBudgetReport", budget);
  result = server.Run({"report", "budget", "--year", "2026", "--budget", "v2"});
  INFO(result.err);
  REQUIRE(result.code == kExitOk);
  CHECK(result.out ==
        "Budget v2 against actual 2026-01-01..2026-12-31, EUR\n"
        "Account  Cost centre     Budget     Actual  Difference\n"
        "4000     300          50 000.00  51 234.00    1 234.00\n"
        "4400     -                 0.00      -0.05       -0.05\n"
        "-------  -----------  ---------  ---------  ----------\n"
        "Total                 50 000.00  51 233.95    1 233.95\n");
  CHECK(server.Last<v1::GetBudgetReportRequest>("GetBudgetReport").budget() == "v2");
  CHECK(server.Last<v1::GetBudgetReportRequest>("GetBudgetReport").scope().to_date() ==
        "2026-12-31");
}

TEST_CASE("report payroll-costs prints one column per account") {
  ReportingServer server;
  v1::PayrollCosts costs;
  *costs.mutable_scope() = Scope("2026-01-01", "2026-02-28");
  const auto add = [](google::protobuf::RepeatedPtrField<v1::PayrollCostAccount>* list,
                      const std::string& account, int64_t amount) {
    v1::PayrollCostAccount* a = list->Add();
    a->set_account(account);
    a->set_amount_minor(amount);
  };
  v1::PayrollCostRow* january = costs.add_rows();
  january->set_cost_centre("300");
  january->set_month("2026-01");
  add(january->mutable_accounts(), "4000", 350000);
  add(january->mutable_accounts(), "4100", 60000);
  january->set_total_minor(410000);
  v1::PayrollCostRow* february = costs.add_rows();
  february->set_cost_centre("300");
  february->set_month("2026-02");
  add(february->mutable_accounts(), "4000", 351000);
  february->set_total_minor(351000);
  add(costs.mutable_totals(), "4000", 701000);
  add(costs.mutable_totals(), "4100", 60000);
  costs.set_total_minor(761000);
  server.reporting().SetResponse("GetPayrollCosts", costs);
  RunResult result = server.Run({"report", "payroll-costs", "--from", "2026-01-01", "--to",
                                 "2026-02-28", "--currency", "EUR"});
  INFO(result.err);
  REQUIRE(result.code == kExitOk);
  CHECK(result.out ==
        "Payroll costs 2026-01-01..2026-02-28, EUR\n"
        "Cost centre  Month        4000    4100     Total\n"
        "300          2026-01  3 500.00  600.00  4 100.00\n"
        "300          2026-02  3 510.00          3 510.00\n"
        "-----------  -------  --------  ------  --------\n"
        "Total                 7 010.00  600.00  7 610.00\n");
}

TEST_CASE("report ageing asks for the date and prints the buckets with their total") {
  ReportingServer server;
  v1::ReceivablesAgeing ageing;
  ageing.set_as_of_date("2026-11-30");
  for (auto [bucket, invoices, cents] :
       {std::tuple{"current", 2, 24000}, {"1-30", 1, 4550}, {"over-90", 1, 100000}}) {
    v1::AgeingBucket* b = ageing.add_buckets();
    b->set_bucket(bucket);
    b->set_invoices(invoices);
    b->set_open_minor(cents);
  }
  ageing.set_total_invoices(4);
  ageing.set_total_open_minor(128550);
  server.reporting().SetResponse("GetReceivablesAgeing", ageing);
  RunResult result = server.Run({"report", "ageing", "--as-of", "2026-11-30"});
  INFO(result.err);
  REQUIRE(result.code == kExitOk);
  CHECK(server.Last<v1::GetReceivablesAgeingRequest>("GetReceivablesAgeing").as_of_date() ==
        "2026-11-30");
  CHECK(result.out ==
        "Receivables ageing as of 2026-11-30 (days past due)\n"
        "\n"
        "Overdue  Invoices      Open\n"
        "current         2    240.00\n"
        "1-30            1     45.50\n"
        "over-90         1  1 000.00\n"
        "-------  --------  --------\n"
        "Total           4  1 285.50\n");
  // Without --as-of the service takes today; a bad date is refused before any call.
  REQUIRE(server.Run({"report", "ageing"}).code == kExitOk);
  CHECK(server.Last<v1::GetReceivablesAgeingRequest>("GetReceivablesAgeing").as_of_date().empty());
  RunResult bad = server.Run({"report", "ageing", "--as-of", "30.11.2026"});
  CHECK(bad.code == kExitUsage);
  CHECK(bad.err.find("--as-of") != std::string::npos);
  RunResult html = server.Run({"report", "ageing", "--export", "html", "--out", "/tmp/x.html"});
  CHECK(html.code == kExitUsage);
}

TEST_CASE("report regional and feed need no tenant straight to the cell") {
  ReportingServer server;
  v1::RegionalReport regional;
  *regional.mutable_scope() = Scope("2026-01-01", "2026-12-31");
  v1::KeyFigures* lahti = regional.add_organisations();
  lahti->set_tenant("lahti");
  lahti->set_operating_income_minor(100000000);
  lahti->set_operating_expenses_minor(-90000000);
  lahti->set_toimintakate_minor(10000000);
  lahti->set_vuosikate_minor(8000000);
  lahti->set_tilikauden_tulos_minor(7000000);
  lahti->set_total_assets_minor(500000000);
  *regional.mutable_total() = *lahti;
  regional.mutable_total()->clear_tenant();
  *regional.mutable_income_statement() = IncomeStatement();
  server.reporting().SetResponse("GetRegionalReport", regional);
  RunResult result =
      server.RunDirect({"report", "regional", "--year", "2026", "--with-income-statement"});
  INFO(result.err);
  REQUIRE(result.code == kExitOk);
  CHECK(absl::StartsWith(
      result.out,
      "Regional report 2026-01-01..2026-12-31, EUR: 1 organisation\n"
      "Organisation  Operating income  Operating expenses  Toimintakate  Vuosikate  "
      "Tilikauden tulos  Total assets\n"
      "lahti             1 000 000.00         -900 000.00    100 000.00  80 000.00         "
      "70 000.00  5 000 000.00\n"));
  CHECK(absl::StrContains(result.out, "Summed over the organisations:\nIncome statement "));
  CHECK(absl::StrContains(result.out, "TOIMINTAKATE                                 -8 456.78"));
  const v1::GetRegionalReportRequest request =
      server.Last<v1::GetRegionalReportRequest>("GetRegionalReport");
  CHECK(request.include_income_statement());
  CHECK(request.scope().from_date() == "2026-01-01");
  CHECK(server.reporting().calls().back().tenant.empty());
  CHECK(server.reporting().calls().back().internal_token == kInternalToken);

  v1::FeedStatus feed;
  v1::TenantFeedStatus* behind = feed.add_tenants();
  behind->set_tenant("lahti");
  behind->set_applied_sequence(1200);
  behind->set_ledger_sequence(1250);
  behind->set_events_behind(50);
  behind->set_seconds_behind(2.5);
  v1::TenantFeedStatus* current = feed.add_tenants();
  current->set_tenant("phhyky");
  current->set_applied_sequence(77);
  feed.set_events_behind(50);
  feed.set_seconds_behind(2.5);
  server.reporting().SetResponse("GetFeedStatus", feed);
  result = server.RunDirect({"report", "feed"});
  INFO(result.err);
  REQUIRE(result.code == kExitOk);
  CHECK(result.out ==
        "Organisation  Applied  Ledger  Behind  Seconds behind\n"
        "lahti            1200    1250      50             2.5\n"
        "phhyky             77       -       0             0.0\n"
        "------------  -------  ------  ------  --------------\n"
        "Total                              50             2.5\n"
        "50 ledger events not applied yet\n");
  // An organisation's report straight to the cell does need one.
  const size_t calls = server.CallCount();
  result = server.RunDirect({"report", "trial-balance", "--month", "2026-01"});
  CHECK(result.code == kExitUsage);
  CHECK(absl::StrContains(result.err, "report trial-balance: --tenant SLUG"));
  CHECK(server.CallCount() == calls);
}

TEST_CASE("report mapping show and set from CSV, JSON or back to the default") {
  ReportingServer server;
  v1::StatementMapping mapping;
  v1::MappingRule* rule = mapping.add_rules();
  rule->set_row_code("MYYNTITUOTOT");
  rule->set_from_account("3000");
  rule->set_to_account("3099");
  mapping.add_row_codes("MYYNTITUOTOT");
  mapping.add_row_codes("PALKAT");
  server.reporting().SetResponse("GetStatementMapping", mapping);
  server.reporting().SetResponse("SetStatementMapping", mapping);
  RunResult show = server.Run({"report", "mapping", "show"});
  INFO(show.err);
  REQUIRE(show.code == kExitOk);
  CHECK(show.out ==
        "Statement mapping: the organisation's own, 1 rule\n"
        "Row           From account  To account\n"
        "MYYNTITUOTOT  3000          3099\n"
        "Rows rules may name: MYYNTITUOTOT PALKAT\n");

  TempFile csv("report_test_mapping.csv",
               "row_code,from_account,to_account\nMYYNTITUOTOT,3000,3099\nPALKAT,4000,4099\n");
  RunResult set =
      server.Run({"report", "mapping", "set", "--file", csv.path(), "--request-id", "map-1"});
  INFO(set.err);
  REQUIRE(set.code == kExitOk);
  CHECK(absl::StartsWith(set.out, absl::StrCat("saved the statement mapping of ", csv.path(),
                                               " (request id map-1)\n")));
  v1::SetStatementMappingRequest request =
      server.Last<v1::SetStatementMappingRequest>("SetStatementMapping");
  CHECK(request.request_id() == "map-1");
  REQUIRE(request.rules_size() == 2);
  CHECK(request.rules(1).row_code() == "PALKAT");
  CHECK(request.rules(1).from_account() == "4000");
  CHECK(request.rules(1).to_account() == "4099");

  // What `mapping show --json` prints goes back in as it is.
  RunResult json = server.Run({"--json", "report", "mapping", "show"});
  REQUIRE(json.code == kExitOk);
  TempFile saved("report_test_mapping.json", json.out);
  REQUIRE(server.Run({"report", "mapping", "set", "--file", saved.path()}).code == kExitOk);
  request = server.Last<v1::SetStatementMappingRequest>("SetStatementMapping");
  REQUIRE(request.rules_size() == 1);
  CHECK(request.rules(0).to_account() == "3099");
  CHECK(absl::StartsWith(request.request_id(), "tahectl-"));

  REQUIRE(server.Run({"report", "mapping", "set", "--default"}).code == kExitOk);
  CHECK(server.Last<v1::SetStatementMappingRequest>("SetStatementMapping").rules_size() == 0);

  // The service's refusal of a rule, told by the file's rows.
  server.reporting().SetError(
      "SetStatementMapping",
      grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "rules[1]: overlaps rules[0]"));
  RunResult refused = server.Run({"report", "mapping", "set", "--file", csv.path()});
  CHECK(refused.code == kExitFailure);
  CHECK(refused.err == absl::StrCat("tahectl: INVALID_ARGUMENT: SetStatementMapping: ", csv.path(),
                                    ": row 3: overlaps row 2\n"));
}

TEST_CASE("report budget upload sends exact cents, the name and the request id") {
  ReportingServer server;
  v1::UploadBudgetResponse stored;
  stored.set_lines_stored(3);
  server.reporting().SetResponse("UploadBudget", stored);
  TempFile file("report_test_budget.csv",
                "account,cost_centre,month,amount\n"
                "4000,300,2026-01,10000.01\n"
                "4000,300,2026-02,10000.10\n"
                "3000,,2026-01,-25000\n");
  RunResult result = server.Run({"report", "budget", "upload", "--file", file.path(), "--budget",
                                 "v2", "--currency", "sek", "--request-id", "budget-1"});
  INFO(result.err);
  REQUIRE(result.code == kExitOk);
  CHECK(result.out ==
        absl::StrCat(file.path(), ": 3 lines stored in budget v2, SEK (request id budget-1)\n"));
  v1::UploadBudgetRequest request = server.Last<v1::UploadBudgetRequest>("UploadBudget");
  CHECK(request.request_id() == "budget-1");
  CHECK(request.budget() == "v2");
  CHECK(request.currency_code() == "SEK");
  REQUIRE(request.lines_size() == 3);
  CHECK(request.lines(0).amount_minor() == 1000001);
  CHECK(request.lines(1).amount_minor() == 1000010);
  CHECK(request.lines(1).month() == "2026-02");
  CHECK(request.lines(2).account() == "3000");
  CHECK(request.lines(2).cost_centre().empty());
  CHECK(request.lines(2).amount_minor() == -2500000);

  // From stdin, the default budget, a random request id.
  REQUIRE(server
              .Run({"report", "budget", "upload", "--file", "-"},
                   "account,month,amount\n4000,2026-03,1.5\n")
              .code == kExitOk);
  request = server.Last<v1::UploadBudgetRequest>("UploadBudget");
  CHECK(request.budget().empty());
  CHECK(request.currency_code().empty());
  CHECK(request.lines(0).amount_minor() == 150);
  CHECK(absl::StartsWith(request.request_id(), "tahectl-"));

  // A file with problems: all of them, by row and column, and nothing is sent.
  const size_t calls = server.CallCount();
  TempFile bad("report_test_budget_bad.csv",
               "account,cost_centre,month,amount\n4000,300,2026-1,1\n4000,300,2026-02,1.001\n");
  RunResult refused = server.Run({"report", "budget", "upload", "--file", bad.path()});
  CHECK(refused.code == kExitUsage);
  CHECK(refused.err ==
        absl::StrCat("tahectl: ", bad.path(),
                     ": 2 problems, nothing was imported:\n"
                     "  row 2, column month: want a period YYYY-MM, got \"2026-1\"\n"
                     "  row 3, column amount: want euros with at most two decimals, like "
                     "-1234.50, got \"1.001\"\n"
                     "Run 'tahectl --help' for usage.\n"));
  CHECK(server.CallCount() == calls);

  // The service's refusal of a line, told by the file's row and column.
  server.reporting().SetError(
      "UploadBudget", grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                   "lines[2].amount_minor: an income account's budget is credit"));
  RunResult line = server.Run({"report", "budget", "upload", "--file", file.path()});
  CHECK(line.code == kExitFailure);
  CHECK(line.err == absl::StrCat("tahectl: INVALID_ARGUMENT: UploadBudget: ", file.path(),
                                 ": row 4, column amount: an income account's budget is "
                                 "credit\n"));
}

TEST_CASE("report --export writes exactly the returned bytes into a new file and never over one") {
  ReportingServer server;
  v1::ExportReportResponse exported;
  exported.set_content_type("text/csv; charset=utf-8");
  exported.set_file_name("trial-balance-2026-01-01-2026-03-31.csv");
  // CRLF, a byte order mark in the middle and a NUL: bytes, not text.
  const std::string content = absl::StrCat("account,opening\r\n1910,\"-1 234.56\"\r\n\xEF\xBB\xBF",
                                           std::string(1, '\0'), "end");
  exported.set_content(content);
  server.reporting().SetResponse("ExportReport", exported);

  TempFile out("report_test_export.csv");
  RunResult result = server.Run({"report", "trial-balance", "--month", "2026-03", "--dimension",
                                 "cost_centre=300", "--export", "csv", "--out", out.path()});
  INFO(result.err);
  REQUIRE(result.code == kExitOk);
  CHECK(ReadAll(out.path()) == content);
  CHECK(result.out == absl::StrCat("wrote ", out.path(), " (text/csv; charset=utf-8, ",
                                   content.size(),
                                   " bytes; the service names it "
                                   "trial-balance-2026-01-01-2026-03-31.csv)\n"));
  v1::ExportReportRequest request = server.Last<v1::ExportReportRequest>("ExportReport");
  CHECK(request.format() == v1::EXPORT_FORMAT_CSV);
  REQUIRE(request.report_case() == v1::ExportReportRequest::kTrialBalance);
  CHECK(request.trial_balance().scope().from_date() == "2026-03-01");
  CHECK(request.trial_balance().scope().to_date() == "2026-03-31");
  CHECK(request.trial_balance().scope().dimension_value() == "300");
  // Only ExportReport was called.
  CHECK(server.CallCount() == 1);

  // Never over an existing file, and that costs no call.
  RunResult again = server.Run(
      {"report", "trial-balance", "--month", "2026-03", "--export", "csv", "--out", out.path()});
  CHECK(again.code == kExitUsage);
  CHECK(absl::StrContains(again.err, "already exists; not overwriting it"));
  CHECK(ReadAll(out.path()) == content);
  CHECK(server.CallCount() == 1);

  // Statements export as HTML; --json prints the response without its content.
  TempFile html("report_test_export.html");
  RunResult sheet = server.Run({"--json", "report", "balance-sheet", "--date", "2026-03-31",
                                "--export", "html", "--out", html.path()});
  REQUIRE(sheet.code == kExitOk);
  CHECK(ReadAll(html.path()) == content);
  const v1::ExportReportResponse printed = ParsedJson<v1::ExportReportResponse>(sheet.out);
  CHECK(printed.content().empty());
  CHECK(printed.file_name() == "trial-balance-2026-01-01-2026-03-31.csv");
  request = server.Last<v1::ExportReportRequest>("ExportReport");
  CHECK(request.format() == v1::EXPORT_FORMAT_HTML);
  REQUIRE(request.report_case() == v1::ExportReportRequest::kBalanceSheet);
  CHECK(request.balance_sheet().scope().to_date() == "2026-03-31");

  // Every report kind goes into its member of the oneof.
  const std::vector<std::pair<std::vector<std::string>, v1::ExportReportRequest::ReportCase>>
      kinds = {
          {{"income-statement", "--year", "2026", "--export", "html"},
           v1::ExportReportRequest::kIncomeStatement},
          {{"cost-centres", "--year", "2026", "--split-by", "project", "--export", "json"},
           v1::ExportReportRequest::kCostCentre},
          {{"budget", "--year", "2026", "--budget", "v2", "--export", "csv"},
           v1::ExportReportRequest::kBudget},
          {{"ageing", "--as-of", "2026-01-31", "--export", "csv"},
           v1::ExportReportRequest::kReceivablesAgeing},
          {{"payroll-costs", "--month", "2026-01", "--export", "csv"},
           v1::ExportReportRequest::kPayrollCosts},
      };
  for (const auto& [flags, report_case] : kinds) {
    TempFile file("report_test_export_kind");
    std::vector<std::string> args = {"report"};
    args.insert(args.end(), flags.begin(), flags.end());
    args.insert(args.end(), {"--out", file.path()});
    INFO(absl::StrJoin(args, " "));
    RunResult kind = server.Run(args);
    REQUIRE(kind.code == kExitOk);
    CHECK(ReadAll(file.path()) == content);
    request = server.Last<v1::ExportReportRequest>("ExportReport");
    CHECK(request.report_case() == report_case);
  }
  CHECK(request.payroll_costs().scope().to_date() == "2026-01-31");

  // The service's refusal leaves no file behind.
  server.reporting().SetError(
      "ExportReport", grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "format: not for this"));
  TempFile none("report_test_export_refused.csv");
  RunResult refused =
      server.Run({"report", "budget", "--year", "2026", "--export", "csv", "--out", none.path()});
  CHECK(refused.code == kExitFailure);
  CHECK(refused.err == "tahectl: INVALID_ARGUMENT: ExportReport: format: not for this\n");
  CHECK(::access(none.path().c_str(), F_OK) != 0);
}

TEST_CASE("the service's error code and message are passed through with exit 1") {
  ReportingServer server;
  server.reporting().SetError(
      "GetTrialBalance",
      grpc::Status(grpc::StatusCode::UNAVAILABLE,
                   "scope.min_sequence: reporting has applied 40 of 42 ledger events"));
  RunResult result =
      server.Run({"report", "trial-balance", "--month", "2026-03", "--min-sequence", "42"});
  CHECK(result.code == kExitFailure);
  CHECK(result.out.empty());
  CHECK(result.err ==
        "tahectl: UNAVAILABLE: GetTrialBalance: scope.min_sequence: reporting has applied 40 of "
        "42 ledger events\n");
  server.reporting().SetError(
      "GetIncomeStatement",
      grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "scope.to_date: before from_date"));
  result = server.Run({"report", "income-statement", "--year", "2026"});
  CHECK(result.code == kExitFailure);
  CHECK(result.err ==
        "tahectl: INVALID_ARGUMENT: GetIncomeStatement: scope.to_date: before from_date\n");
  server.reporting().SetError("GetFeedStatus",
                              grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "no role"));
  result = server.Run({"report", "feed"});
  CHECK(result.code == kExitFailure);
  CHECK(absl::StartsWith(result.err, "tahectl: PERMISSION_DENIED: GetFeedStatus: no role"));
}

TEST_CASE("report usage errors exit 2 before any call") {
  ReportingServer server;
  TempFile exists("report_test_exists.csv", "x");
  TempFile csv("report_test_usage.csv", "row_code,from_account\n");
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"report"},
           {"report", "nonsense"},
           {"report", "trial-balance"},
           {"report", "trial-balance", "extra", "--year", "2026"},
           {"report", "trial-balance", "--from", "2026-01-01"},
           {"report", "trial-balance", "--from", "2026-02-01", "--to", "2026-01-31"},
           {"report", "trial-balance", "--from", "2026-01-01", "--to", "2026-02-30"},
           {"report", "trial-balance", "--month", "2026-01", "--year", "2026"},
           {"report", "trial-balance", "--month", "2026-13"},
           {"report", "trial-balance", "--year", "26"},
           {"report", "trial-balance", "--year", "2026", "--dimension", "cost_centre"},
           {"report", "trial-balance", "--year", "2026", "--dimension", "a=1", "--dimension",
            "b=2"},
           {"report", "trial-balance", "--from", "2026-01-02", "--to", "2026-01-31", "--dimension",
            "a=1"},
           {"report", "trial-balance", "--year", "2026", "--currency", "euro"},
           {"report", "trial-balance", "--year", "2026", "--min-sequence", "0"},
           {"report", "trial-balance", "--year", "2026", "--min-sequence", "x"},
           {"report", "trial-balance", "--year", "2026", "--date", "2026-01-01"},
           {"report", "trial-balance", "--year", "2026", "--export", "html", "--out", "x.html"},
           {"report", "trial-balance", "--year", "2026", "--export", "pdf", "--out", "x.pdf"},
           {"report", "trial-balance", "--year", "2026", "--export", "csv"},
           {"report", "trial-balance", "--year", "2026", "--out", "x.csv"},
           {"report", "trial-balance", "--year", "2026", "--export", "csv", "--out", exists.path()},
           {"report", "income-statement", "--date", "2026-01-01"},
           {"report", "balance-sheet", "--month", "2026-01"},
           {"report", "balance-sheet", "--date", "31.3.2026"},
           {"report", "cost-centres", "--from", "2026-01-01", "--to", "2026-01-30"},
           {"report", "budget", "--year", "2026", "--budget", "Big Budget"},
           {"report", "budget", "--year", "2026", "--export", "html", "--out", "x.html"},
           {"report", "budget", "upload"},
           {"report", "budget", "upload", "--file", "no-such-file.csv"},
           {"report", "budget", "upload", "--file", csv.path(), "--year", "2026"},
           {"report", "budget", "download"},
           {"report", "payroll-costs", "--year", "2026", "--dimension", "a=1"},
           {"report", "payroll-costs", "--from", "2026-01-10", "--to", "2026-01-31"},
           {"report", "mapping"},
           {"report", "mapping", "edit"},
           {"report", "mapping", "set"},
           {"report", "mapping", "set", "--default", "--file", csv.path()},
           {"report", "mapping", "set", "--file", csv.path()},
           {"report", "regional"},
           {"report", "regional", "--year", "2026", "--dimension", "a=1"},
           {"report", "regional", "--year", "2026", "--export", "csv", "--out", "x.csv"},
           {"report", "feed", "--year", "2026"},
           {"report", "feed", "extra"}}) {
    INFO(absl::StrJoin(args, " "));
    RunResult result = server.Run(args);
    CHECK(result.code == kExitUsage);
    CHECK(absl::StrContains(result.err, "Run 'tahectl --help' for usage."));
  }
  CHECK(server.CallCount() == 0);
}

}  // namespace
}  // namespace tahe::tahectl
