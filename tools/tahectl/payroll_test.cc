// Tests of `tahectl payroll ...`: the CSV files (quoting, exact euros, percentages and hours,
// every kind of bad row named by row and column), batching with content-derived request ids, the
// progress bar, identity codes never printed, and the commands in-process against an in-process
// fake PayrollService (fake_payroll.h) over real gRPC: metadata, batching, idempotent re-imports,
// progress from WatchPayRun or from polling, --json, error codes and the payment file.
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/util/json_util.h"
#include "tools/tahectl/args.h"
#include "tools/tahectl/cli.h"
#include "tools/tahectl/fake_payroll.h"
#include "tools/tahectl/parse.h"
#include "tools/tahectl/payroll_commands.h"
#include "tools/tahectl/payroll_csv.h"
#include "tools/tahectl/progress.h"

namespace tahe::tahectl {
namespace {

namespace v1 = ::tahe::payroll::v1;

constexpr char kOperatorKey[] =
    "tahe_0000000000aa_1111111111111111111111111111111111111111111111111111111111111111";
// Valid-looking identity codes (the fake checks only their length).
constexpr char kCode1[] = "131052-308T";
constexpr char kCode2[] = "010190-123A";
constexpr char kCode3[] = "240147-632T";

constexpr char kEmployeesHeader[] =
    "employee_number,first_name,last_name,personal_identity_code,iban,bic,start_date,end_date,"
    "cost_centre,salary_basis,monthly_salary,hourly_rate,pension_scheme,union_fee_percent\n";

std::string EmployeeLine(const std::string& number, const std::string& first_name,
                         const std::string& code, const std::string& iban = "FI2112345600000785",
                         const std::string& salary = "3500.00") {
  return absl::StrCat(number, ",", first_name, ",Virtanen,", code, ",", iban,
                      ",,2020-01-01,,300,MONTHLY,", salary, ",,KEVA,1.5\n");
}

// All problems of a parse as text, one a line.
template <typename Row>
std::string Problems(const CsvImport<Row>& parsed) {
  std::string text;
  for (const CsvProblem& problem : parsed.problems) {
    absl::StrAppend(&text, FormatCsvProblem(problem), "\n");
  }
  return text;
}

// --- CSV reading ---------------------------------------------------------------------------------

TEST_CASE(
    "ReadCsv handles quotes, doubled quotes, embedded newlines, CRLF, a BOM and blank lines") {
  absl::StatusOr<std::vector<CsvRecord>> records = ReadCsv(
      "\xEF\xBB\xBF"
      "a,b,c\r\n"
      "\r\n"
      "\"Virtanen, Matti\",  plain  ,\"say \"\"hi\"\"\"\n"
      "\"two\nlines\",x, \"q\" \n"
      "last,,\n");
  REQUIRE(records.ok());
  REQUIRE(records->size() == 4);
  CHECK((*records)[0].row == 1);
  CHECK((*records)[0].cells == std::vector<std::string>{"a", "b", "c"});
  CHECK((*records)[1].row == 3);
  CHECK((*records)[1].cells == std::vector<std::string>{"Virtanen, Matti", "plain", "say \"hi\""});
  CHECK((*records)[2].row == 4);
  CHECK((*records)[2].cells == std::vector<std::string>{"two\nlines", "x", "q"});
  // The record after a quoted newline starts on the line after it.
  CHECK((*records)[3].row == 6);
  CHECK((*records)[3].cells == std::vector<std::string>{"last", "", ""});
}

TEST_CASE("ReadCsv uses semicolons when the header has more of them than commas") {
  absl::StatusOr<std::vector<CsvRecord>> records = ReadCsv("a;b\n3500,50;x\n");
  REQUIRE(records.ok());
  REQUIRE(records->size() == 2);
  CHECK((*records)[1].cells == std::vector<std::string>{"3500,50", "x"});
}

TEST_CASE("ReadCsv names the row of a misplaced or unclosed quote without quoting the file") {
  CHECK(ReadCsv("a,b\n\"open,x\n").status().message() ==
        "row 2: the quote opening cell 1 is never closed");
  CHECK(ReadCsv("a,b\n\"x\"y,z\n").status().message() ==
        "row 2: text after the closing quote of cell 1");
  CHECK(ReadCsv("a,b\nx,ab\"c\n").status().message() ==
        "row 2: a quote inside the unquoted cell 2 (quote the whole cell and double the quote)");
}

// --- Exact numbers -------------------------------------------------------------------------------

TEST_CASE("euros, hours and percentages convert exactly, without floating point") {
  CHECK(*ParseEurosNonNegative("x", "3500.00") == 350000);
  CHECK(*ParseEurosNonNegative("x", "3500,5") == 350050);
  CHECK(*ParseEurosNonNegative("x", "0.07") == 7);
  CHECK(*ParseEurosNonNegative("x", "92233720368547758.07") == INT64_MAX);
  CHECK(*ParseHundredths("x", "7.5") == 750);
  CHECK(*ParseHundredths("x", "0.01") == 1);
  CHECK(*ParsePercentPpm("x", "1.5") == 15000);
  CHECK(*ParsePercentPpm("x", "20,5") == 205000);
  CHECK(*ParsePercentPpm("x", "7.15%") == 71500);
  CHECK(*ParsePercentPpm("x", "0.0001") == 1);
  CHECK(*ParsePercentPpm("x", "100") == 1000000);
  CHECK(*ParsePercentPpm("x", "0") == 0);
  for (const char* bad : {"-1", "1.234", "1 000", "", "+5", "1e3", "3500.00 "}) {
    INFO(bad);
    CHECK_FALSE(ParseEurosNonNegative("x", bad).ok());
  }
  for (const char* bad : {"100.0001", "0.00001", "-1", "abc", "", "1.5%%"}) {
    INFO(bad);
    CHECK_FALSE(ParsePercentPpm("x", bad).ok());
  }
  CHECK(ParsePercentPpm("--base-rate", "0.00001").status().message() ==
        "--base-rate: want a percentage from 0 to 100 with at most four decimals, like 20.5, got "
        "\"0.00001\"");
  CHECK(ParseEurosNonNegative("salary", "secret", false).status().message() ==
        "salary: want euros with at most two decimals, like 3500.00");
  CHECK(FormatPpmPercent(15000) == "1.5%");
  CHECK(FormatPpmPercent(205000) == "20.5%");
  CHECK(FormatPpmPercent(1) == "0.0001%");
  CHECK(FormatPpmPercent(1000000) == "100%");
  CHECK(FormatPpmPercent(0) == "0%");
}

// --- Employees file ------------------------------------------------------------------------------

TEST_CASE("ParseEmployeesCsv reads every column into the Employee message") {
  const std::string text = absl::StrCat(
      kEmployeesHeader, EmployeeLine("E1", "Matti", kCode1), "E2,\"Anna, Liisa\",Korhonen,", kCode2,
      ",FI2112345600000785,NDEAFIHH,2021-02-01,2025-12-31,400,hourly,,21.35,tyel,\n");
  CsvImport<EmployeeRow> parsed = ParseEmployeesCsv(text);
  REQUIRE(Problems(parsed).empty());
  REQUIRE(parsed.rows.size() == 2);
  const v1::Employee& matti = parsed.rows[0].employee;
  CHECK(parsed.rows[0].row == 2);
  CHECK(matti.employee_number() == "E1");
  CHECK(matti.personal_identity_code() == kCode1);
  CHECK(matti.employment().salary_basis() == v1::SALARY_BASIS_MONTHLY);
  CHECK(matti.employment().monthly_salary_minor() == 350000);
  CHECK(matti.employment().pension_scheme() == v1::PENSION_SCHEME_KEVA);
  CHECK(matti.employment().union_fee_ppm() == 15000);
  CHECK(matti.employment().end_date().empty());
  const v1::Employee& anna = parsed.rows[1].employee;
  CHECK(anna.first_name() == "Anna, Liisa");
  CHECK(anna.bic() == "NDEAFIHH");
  CHECK(anna.employment().end_date() == "2025-12-31");
  CHECK(anna.employment().salary_basis() == v1::SALARY_BASIS_HOURLY);
  CHECK(anna.employment().hourly_rate_minor() == 2135);
  CHECK(anna.employment().pension_scheme() == v1::PENSION_SCHEME_TYEL);
  CHECK(anna.employment().union_fee_ppm() == 0);
}

TEST_CASE("ParseEmployeesCsv accepts columns in any order and leaves optional ones out") {
  const std::string text = absl::StrCat(
      "Salary_Basis;Monthly_Salary;employee_number;first_name;last_name;personal_identity_code;"
      "iban;start_date;cost_centre;pension_scheme\n"
      "MONTHLY;3500,50;E1;Matti;Virtanen;",
      kCode1, ";FI2112345600000785;2020-01-01;300;KEVA\n");
  CsvImport<EmployeeRow> parsed = ParseEmployeesCsv(text);
  REQUIRE(Problems(parsed).empty());
  REQUIRE(parsed.rows.size() == 1);
  CHECK(parsed.rows[0].employee.employment().monthly_salary_minor() == 350050);
}

TEST_CASE("ParseEmployeesCsv names the row and column of every bad cell") {
  const std::string text = absl::StrCat(
      kEmployeesHeader, EmployeeLine("E1", "Matti", kCode1),                  // row 2: fine
      ",Anna,Korhonen,", kCode2, ",FI21,,2021-02-30,,400,MONTHLY,,,KEVA,\n",  // row 3
      "E3,Pekka,Nieminen,", kCode3, ",FI21,,2021-01-01,x,,WEEKLY,1.234,,STATE,101\n",  // row 4
      "E4,too,few\n",                                                                  // row 5
      EmployeeLine("E1", "Again", kCode2),                                             // row 6
      EmployeeLine("E7", "Neg", kCode3, "FI21", "-5.00"));                             // row 7
  CsvImport<EmployeeRow> parsed = ParseEmployeesCsv(text);
  CHECK(Problems(parsed) ==
        "row 3, column employee_number: required\n"
        "row 3, column start_date: want a date YYYY-MM-DD\n"
        "row 3, column monthly_salary: required for salary_basis MONTHLY\n"
        "row 4, column end_date: want a date YYYY-MM-DD\n"
        "row 4, column cost_centre: required\n"
        "row 4, column salary_basis: want MONTHLY or HOURLY\n"
        "row 4, column monthly_salary: want euros with at most two decimals, like 3500.00\n"
        "row 4, column pension_scheme: want KEVA or TYEL\n"
        "row 4, column union_fee_percent: want a percentage from 0 to 100 with at most four "
        "decimals, like 20.5\n"
        "row 5: 3 cells, the header has 14\n"
        "row 6, column employee_number: the same as on row 2\n"
        "row 7, column monthly_salary: want euros with at most two decimals, like 3500.00\n");
}

TEST_CASE("ParseEmployeesCsv checks the header before any row") {
  CHECK(absl::StartsWith(
      Problems(ParseEmployeesCsv("employee_number,first_name,nickname\nE1,Matti,M\n")),
      "row 1: unknown column \"nickname\" (the columns are employee_number, first_name, "
      "last_name, personal_identity_code, iban, bic, start_date, end_date, cost_centre, "
      "salary_basis, monthly_salary, hourly_rate, pension_scheme, union_fee_percent)\n"
      "row 1, column last_name: missing from the header\n"));
  const std::string missing =
      Problems(ParseEmployeesCsv("employee_number,employee_number\nE1,E1\n"));
  CHECK(absl::StrContains(missing, "row 1, column employee_number: appears twice in the header\n"));
  CHECK(absl::StrContains(missing, "row 1, column iban: missing from the header\n"));
  CHECK(Problems(ParseEmployeesCsv("")) ==
        "row 1: the file is empty (want a header row, then one row a record)\n");
  CHECK(Problems(ParseEmployeesCsv(kEmployeesHeader)) ==
        "row 1: the file has a header but no records\n");
}

TEST_CASE("no problem found in an employees file repeats an identity code") {
  // Codes in every column a shifted file could put them in.
  const std::string text = absl::StrCat(
      kEmployeesHeader, "E1,Matti,Virtanen,", kCode1, ",FI21,,", kCode1, ",", kCode2, ",300,",
      kCode3, ",", kCode1, ",", kCode2, ",", kCode3, ",", kCode1, "\n", kCode2, ",", kCode3, "\n");
  CsvImport<EmployeeRow> parsed = ParseEmployeesCsv(text);
  REQUIRE_FALSE(parsed.problems.empty());
  const std::string all = Problems(parsed);
  for (const char* code : {kCode1, kCode2, kCode3, "131052", "010190", "240147"}) {
    INFO(code);
    CHECK_FALSE(absl::StrContains(all, code));
  }
}

// --- Pay items file ------------------------------------------------------------------------------

TEST_CASE("ParsePayItemsCsv reads quantities, rates and amounts exactly") {
  CsvImport<PayItemRow> parsed = ParsePayItemsCsv(
      "item_id,employee_number,period,kind,quantity,unit_rate,amount,description\n"
      "t-1,E1,2025-03,overtime_50,7.5,21.35,,\"Ilta, 7.3.\"\n"
      "t-2,E1,2025-03,MILEAGE_ALLOWANCE,,,123.45,Matkat\n");
  REQUIRE(Problems(parsed).empty());
  REQUIRE(parsed.rows.size() == 2);
  const v1::PayItem& overtime = parsed.rows[0].item;
  CHECK(overtime.kind() == v1::PAY_ITEM_KIND_OVERTIME_50);
  CHECK(overtime.quantity_centi() == 750);
  CHECK(overtime.unit_rate_minor() == 2135);
  CHECK(overtime.amount_minor() == 0);
  CHECK(overtime.description() == "Ilta, 7.3.");
  const v1::PayItem& mileage = parsed.rows[1].item;
  CHECK(mileage.kind() == v1::PAY_ITEM_KIND_MILEAGE_ALLOWANCE);
  CHECK(mileage.amount_minor() == 12345);
  CHECK(mileage.quantity_centi() == 0);
}

TEST_CASE("ParsePayItemsCsv names the row and column of every bad cell") {
  CsvImport<PayItemRow> parsed = ParsePayItemsCsv(
      "item_id,employee_number,period,kind,quantity,unit_rate,amount,description\n"
      "t-1,E1,2025-13,BONUS,7.555,21.35,,\n"
      "t-2,E1,2025-03,HOURLY_WORK,7.5,,10.00,\n"
      "t-3,E1,2025-03,DEDUCTION,,,,\n"
      "t-4,,2025-03,PER_DIEM,7,,,\n"
      "t-1,E2,2025-03,PER_DIEM,,,48.00,\n");
  CHECK(Problems(parsed) ==
        "row 2, column period: want a period YYYY-MM, got \"2025-13\"\n"
        "row 2, column kind: want MONTHLY_SALARY, HOURLY_WORK, EVENING_SUPPLEMENT, "
        "NIGHT_SUPPLEMENT, SUNDAY_SUPPLEMENT, OVERTIME_50, OVERTIME_100, MEAL_BENEFIT, "
        "PHONE_BENEFIT, MILEAGE_ALLOWANCE, PER_DIEM or DEDUCTION, got \"BONUS\"\n"
        "row 2, column quantity: want a number with at most two decimals, like 7.5, got "
        "\"7.555\"\n"
        "row 3, column amount: give either amount, or quantity and unit_rate, not both\n"
        "row 4, column amount: required (or quantity and unit_rate)\n"
        "row 5, column employee_number: required\n"
        "row 5, column unit_rate: required with quantity\n"
        "row 6, column item_id: the same as on row 2\n");
}

// --- Batches and request ids ---------------------------------------------------------------------

TEST_CASE("imports go in batches of 1000 whose request ids follow from the file") {
  std::string text = kEmployeesHeader;
  for (int i = 0; i < 2500; ++i) {
    absl::StrAppend(&text, EmployeeLine(absl::StrCat("E", i), "Matti", kCode1));
  }
  CsvImport<EmployeeRow> parsed = ParseEmployeesCsv(text);
  REQUIRE(parsed.problems.empty());
  const std::string prefix = ContentRequestIdPrefix("employees", text);
  CHECK(prefix.size() == std::string("tahectl-employees-").size() + 32);
  CHECK(prefix == ContentRequestIdPrefix("employees", text));
  CHECK(prefix != ContentRequestIdPrefix("employees", text + "\n"));
  CHECK(prefix != ContentRequestIdPrefix("pay-items", text));
  std::vector<v1::ImportEmployeesRequest> batches = EmployeeBatches(parsed.rows, prefix);
  REQUIRE(batches.size() == 3);
  CHECK(batches[0].employees_size() == 1000);
  CHECK(batches[1].employees_size() == 1000);
  CHECK(batches[2].employees_size() == 500);
  CHECK(batches[0].request_id() == prefix + "-b0");
  CHECK(batches[2].request_id() == prefix + "-b2");
  CHECK(batches[2].employees(0).employee_number() == "E2000");
}

TEST_CASE("RedactIdentityCodes hides anything shaped like an identity code") {
  CHECK(RedactIdentityCodes("employee.personal_identity_code: 131052-308T is bad") ==
        "employee.personal_identity_code: [identity code] is bad");
  CHECK(RedactIdentityCodes("010190A123b,240147+632T") == "[identity code],[identity code]");
  // Dates, IBANs and amounts stay.
  CHECK(RedactIdentityCodes("2025-03-31 FI2112345600000785 3 500.00") ==
        "2025-03-31 FI2112345600000785 3 500.00");
}

TEST_CASE("DescribeRejection speaks of the file's rows and columns") {
  const std::vector<int> rows = {2, 3, 5, 9};
  v1::Rejection rejection;
  rejection.set_batch(1);
  rejection.set_index(1);
  rejection.set_key("E42");
  rejection.set_message("employees[1].employment.monthly_salary_minor: required, > 0");
  CHECK(DescribeRejection(rejection, rows, "employee", 2) ==
        "row 9 (employee E42), column monthly_salary: required, > 0");
  rejection.set_batch(0);
  rejection.set_index(0);
  rejection.set_message("items[0].quantity_centi: > 0");
  CHECK(DescribeRejection(rejection, rows, "item", 2) == "row 2 (item E42), column quantity: > 0");
  rejection.set_message("no employee E42 in this organisation");
  CHECK(DescribeRejection(rejection, rows, "item", 2) ==
        "row 2 (item E42): no employee E42 in this organisation");
  rejection.set_batch(7);
  CHECK(DescribeRejection(rejection, rows, "item", 2) ==
        "batch 7 record 0 (item E42): no employee E42 in this organisation");
}

// --- Progress ------------------------------------------------------------------------------------

TEST_CASE("the progress bar prints a line per tenth when not on a terminal") {
  std::ostringstream out;
  ProgressBar bar(out, /*terminal=*/false, "payslips");
  bar.Update("calculating", 0, 0, "");
  for (int done = 1; done <= 40; ++done) {
    bar.Update("calculating", done, 40, "");
  }
  bar.Update("calculated", 40, 40, "");
  bar.Finish();
  bar.Finish();
  CHECK(out.str() ==
        "calculating\n"
        "calculating: 1/40 payslips (2%)\n"
        "calculating: 4/40 payslips (10%)\n"
        "calculating: 8/40 payslips (20%)\n"
        "calculating: 12/40 payslips (30%)\n"
        "calculating: 16/40 payslips (40%)\n"
        "calculating: 20/40 payslips (50%)\n"
        "calculating: 24/40 payslips (60%)\n"
        "calculating: 28/40 payslips (70%)\n"
        "calculating: 32/40 payslips (80%)\n"
        "calculating: 36/40 payslips (90%)\n"
        "calculating: 40/40 payslips (100%)\n"
        "calculated: 40/40 payslips (100%)\n");
}

TEST_CASE("the progress bar redraws one line on a terminal and ends it") {
  std::ostringstream out;
  ProgressBar bar(out, /*terminal=*/true, "payslips");
  bar.Update("calculating", 5, 10, "a longer message than later");
  bar.Update("calculated", 10, 10, "");
  bar.Finish();
  const std::string text = out.str();
  REQUIRE(text.size() > 2);
  CHECK(text.front() == '\r');
  CHECK(text.back() == '\n');
  CHECK(std::count(text.begin(), text.end(), '\n') == 1);
  const std::string last = text.substr(text.rfind('\r') + 1);
  CHECK(absl::StartsWith(last, "calculated [####################]     10/10 payslips 100%  0s"));
  // Spaces cover what the longer first line left behind.
  CHECK(absl::EndsWith(last, " \n"));
}

// --- Command line --------------------------------------------------------------------------------

TEST_CASE("an identity code is never accepted as an option value, nor echoed") {
  for (const char* option : {"--personal-identity-code", "--hetu"}) {
    absl::StatusOr<Args> args = ParseArgs({"payroll", "employees", "add", option, kCode1});
    REQUIRE_FALSE(args.ok());
    CHECK(absl::StrContains(args.status().message(), "--personal-identity-code-file"));
    CHECK_FALSE(absl::StrContains(args.status().message(), kCode1));
  }
  absl::StatusOr<Args> inline_value =
      ParseArgs({"payroll", "employees", "add", absl::StrCat("--personal-identity-code=", kCode1)});
  REQUIRE_FALSE(inline_value.ok());
  CHECK_FALSE(absl::StrContains(inline_value.status().message(), kCode1));
}

TEST_CASE("Usage documents every payroll command") {
  const std::string usage = Usage();
  for (const char* command : {"payroll employees import FILE.csv",
                              "payroll employees list",
                              "payroll employees get",
                              "payroll employees add",
                              "--personal-identity-code-file",
                              "payroll tax-card set",
                              "payroll tax-cards NUMBER",
                              "payroll settings get",
                              "payroll settings set",
                              "--account-net-pay-payable",
                              "payroll rate-tables list",
                              "payroll rate-tables load",
                              "payroll items import FILE.csv",
                              "payroll items list",
                              "payroll run create",
                              "payroll run calculate",
                              "payroll run approve",
                              "--wait-posted",
                              "payroll run cancel",
                              "payroll run get",
                              "payroll runs",
                              "payroll payslips RUN_ID",
                              "payroll payment-file"}) {
    INFO(command);
    CHECK(absl::StrContains(usage, command));
  }
}

// --- Against the fake service --------------------------------------------------------------------

struct Result {
  int code;
  std::string out;
  std::string err;
};

// A gRPC server with a fake PayrollService on a free loopback port, standing for the gateway.
class PayrollServer {
 public:
  PayrollServer() {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&payroll_);
    server_ = builder.BuildAndStart();
    REQUIRE(server_ != nullptr);
    REQUIRE(port > 0);
    address_ = absl::StrCat("127.0.0.1:", port);
  }
  ~PayrollServer() { server_->Shutdown(std::chrono::system_clock::now()); }

  FakePayroll& payroll() { return payroll_; }

  // Runs tahectl as an operator through the gateway: TAHE_GATEWAY_ADDR and TAHE_API_KEY, no env
  // file, status polled every 10 ms.
  Result Run(std::vector<std::string> args, const std::string& stdin_text = "",
             bool terminal = false) {
    const std::map<std::string, std::string> env = {{"TAHE_GATEWAY_ADDR", address_},
                                                    {"TAHE_API_KEY", kOperatorKey},
                                                    {"TAHE_LOCAL_ENV", "/dev/null"}};
    std::ostringstream out;
    std::ostringstream err;
    std::istringstream in(stdin_text);
    RunEnvironment environment;
    environment.env = [env](absl::string_view name) -> std::optional<std::string> {
      auto it = env.find(std::string(name));
      if (it == env.end()) {
        return std::nullopt;
      }
      return it->second;
    };
    environment.in = &in;
    environment.err_is_terminal = terminal;
    environment.poll_interval = absl::Milliseconds(10);
    const int code = RunTahectl(args, environment, out, err);
    return Result{code, out.str(), err.str()};
  }

  std::vector<FakePayroll::CallRecord> Calls(const std::string& method) {
    std::vector<FakePayroll::CallRecord> matching;
    for (const FakePayroll::CallRecord& call : payroll_.calls()) {
      if (call.method == method) {
        matching.push_back(call);
      }
    }
    return matching;
  }

 private:
  FakePayroll payroll_{kOperatorKey};
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
};

// A file in the test's working directory, removed afterwards.
class TempFile {
 public:
  // The process id keeps test cases that ctest runs in parallel apart.
  TempFile(absl::string_view name, const std::string& contents)
      : path_(absl::StrCat(name, ".", getpid())) {
    std::ofstream file(path_, std::ios::binary);
    file << contents;
  }
  explicit TempFile(absl::string_view name) : path_(absl::StrCat(name, ".", getpid())) {
    std::remove(path_.c_str());
  }
  ~TempFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string ReadAll(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::stringstream contents;
  contents << file.rdbuf();
  return contents.str();
}

template <typename Message>
bool ParsesAs(const std::string& json) {
  Message message;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  return google::protobuf::util::JsonStringToMessage(json, &message, options).ok();
}

// Three monthly employees E1..E3 through the import.
void AddThreeEmployees(PayrollServer& server) {
  TempFile file("payroll_test_three.csv",
                absl::StrCat(kEmployeesHeader, EmployeeLine("E1", "Matti", kCode1),
                             EmployeeLine("E2", "Anna", kCode2),
                             EmployeeLine("E3", "Pekka", kCode3, "FI2112345600000785", "4000.00")));
  REQUIRE(server.Run({"payroll", "employees", "import", file.path()}).code == kExitOk);
}

TEST_CASE("employees import streams batches with the key and repeats as a no-op") {
  PayrollServer server;
  std::string text = kEmployeesHeader;
  for (int i = 0; i < 2500; ++i) {
    absl::StrAppend(&text, EmployeeLine(absl::StrCat("E", 10000 + i), "Matti", kCode1));
  }
  TempFile file("payroll_test_2500.csv", text);
  Result first = server.Run({"payroll", "employees", "import", file.path()});
  REQUIRE(first.code == kExitOk);
  CHECK(first.out ==
        absl::StrCat(file.path(), ": 2500 employees in 3 batches: 2500 accepted, 0 rejected\n"));
  CHECK(first.err.empty());

  Result again = server.Run({"payroll", "employees", "import", file.path()});
  REQUIRE(again.code == kExitOk);
  CHECK(again.out == first.out);

  std::vector<FakePayroll::CallRecord> calls = server.Calls("ImportEmployees");
  REQUIRE(calls.size() == 2);
  const std::string prefix = ContentRequestIdPrefix("employees", text);
  for (const FakePayroll::CallRecord& call : calls) {
    CHECK(call.authorization == absl::StrCat("Bearer ", kOperatorKey));
    CHECK(call.tenant.empty());
    CHECK(call.batch_sizes == std::vector<int>{1000, 1000, 500});
    CHECK(call.request_ids ==
          std::vector<std::string>{prefix + "-b0", prefix + "-b1", prefix + "-b2"});
  }
  CHECK(calls[0].request_id_metadata != calls[1].request_id_metadata);
  CHECK(server.payroll().employees("key-organisation").size() == 2500);

  Result json = server.Run({"payroll", "employees", "import", file.path(), "--json"});
  REQUIRE(json.code == kExitOk);
  CHECK(ParsesAs<v1::ImportEmployeesResponse>(json.out));
  CHECK(absl::StrContains(json.out, "\"accepted\":2500"));
}

TEST_CASE("employees import lists rejections by row and column and exits 1") {
  PayrollServer server;
  TempFile file("payroll_test_rejects.csv",
                absl::StrCat(kEmployeesHeader, EmployeeLine("E1", "Matti", kCode1),
                             EmployeeLine("E2", "Anna", kCode2, "SE4550000000058398257466"),
                             EmployeeLine("E3", "Echo", kCode3)));
  Result result = server.Run({"payroll", "employees", "import", file.path(), "--tenant", "lahti"});
  CHECK(result.code == kExitFailure);
  CHECK(result.out ==
        absl::StrCat(file.path(),
                     ": 3 employees in 1 batch: 1 accepted, 2 rejected\n"
                     "rejected: row 3 (employee E2), column iban: check digits do not match\n"
                     "rejected: row 4 (employee E3), column personal_identity_code: [identity "
                     "code] is not valid\n"));
  CHECK(result.err == "tahectl: INVALID_ARGUMENT: ImportEmployees: 2 of 3 employees rejected\n");
  CHECK(server.Calls("ImportEmployees").at(0).tenant == "lahti");
  // The codes reached the service and nowhere else.
  CHECK(server.payroll().identity_codes_received().size() == 3);
  for (const char* code : {kCode1, kCode2, kCode3}) {
    CHECK_FALSE(absl::StrContains(result.out + result.err, code));
  }
  Result json = server.Run({"payroll", "employees", "import", file.path(), "--json"});
  CHECK(json.code == kExitFailure);
  CHECK(ParsesAs<v1::ImportEmployeesResponse>(json.out));
  CHECK_FALSE(absl::StrContains(json.out, kCode3));
}

TEST_CASE("a file with problems is refused whole and nothing is called") {
  PayrollServer server;
  TempFile file("payroll_test_bad.csv",
                absl::StrCat(kEmployeesHeader, EmployeeLine("E1", "Matti", kCode1),
                             EmployeeLine("E2", "Anna", kCode2, "FI21", "35OO.00")));
  Result result = server.Run({"payroll", "employees", "import", file.path()});
  CHECK(result.code == kExitUsage);
  CHECK(result.out.empty());
  CHECK(result.err ==
        absl::StrCat("tahectl: ", file.path(),
                     ": 1 problem, nothing was imported:\n"
                     "  row 3, column monthly_salary: want euros with at most two decimals, "
                     "like 3500.00\n"
                     "Run 'tahectl --help' for usage.\n"));
  CHECK(server.payroll().calls().empty());

  Result missing = server.Run({"payroll", "employees", "import", "no-such-file.csv"});
  CHECK(missing.code == kExitUsage);
  CHECK(absl::StrContains(missing.err, "cannot read no-such-file.csv"));
}

TEST_CASE("employees add reads the identity code from a file or stdin and never prints it") {
  PayrollServer server;
  TempFile code_file("payroll_test_code", absl::StrCat(kCode1, "\n"));
  const std::vector<std::string> add = {"payroll",
                                        "employees",
                                        "add",
                                        "E1",
                                        "--first-name",
                                        "Matti",
                                        "--last-name",
                                        "Virtanen",
                                        "--iban",
                                        "FI2112345600000785",
                                        "--start-date",
                                        "2020-01-01",
                                        "--cost-centre",
                                        "300",
                                        "--salary-basis",
                                        "monthly",
                                        "--monthly-salary",
                                        "3500.00",
                                        "--pension-scheme",
                                        "KEVA",
                                        "--union-fee-percent",
                                        "1.5",
                                        "--dimension",
                                        "project=P1",
                                        "--request-id",
                                        "add-1"};
  std::vector<std::string> from_file = add;
  from_file.insert(from_file.end(), {"--personal-identity-code-file", code_file.path()});
  Result saved = server.Run(from_file);
  REQUIRE(saved.code == kExitOk);
  CHECK(absl::StartsWith(saved.out, "saved employee E1 (request id add-1)\n"));
  CHECK(absl::StrContains(saved.out, "birth date      1952-10-13\n"));
  CHECK(absl::StrContains(saved.out, "union fee       1.5%\n"));

  std::vector<FakePayroll::CallRecord> calls = server.Calls("UpsertEmployee");
  REQUIRE(calls.size() == 1);
  const auto& request = dynamic_cast<const v1::UpsertEmployeeRequest&>(*calls[0].request);
  CHECK(request.request_id() == "add-1");
  CHECK(request.employee().personal_identity_code() == kCode1);
  CHECK(request.employee().employment().monthly_salary_minor() == 350000);
  CHECK(request.employee().employment().union_fee_ppm() == 15000);
  CHECK(request.employee().employment().dimensions().at("project") == "P1");

  // From stdin; the service quotes it back in an error, tahectl does not.
  std::vector<std::string> echo = add;
  echo[5] = "Echo";
  echo.back() = "add-2";
  Result refused = server.Run(echo, absl::StrCat("  ", kCode2, "\n"));
  CHECK(refused.code == kExitFailure);
  CHECK(refused.err ==
        "tahectl: INVALID_ARGUMENT: UpsertEmployee: employee.personal_identity_code: [identity "
        "code] is not valid\n");
  CHECK(server.payroll().identity_codes_received().back() == kCode2);

  std::vector<std::string> empty_stdin = add;
  Result no_code = server.Run(empty_stdin, "");
  CHECK(no_code.code == kExitUsage);
  CHECK(absl::StrContains(no_code.err, "no personal identity code on stdin"));
  Result two_words = server.Run(empty_stdin, absl::StrCat(kCode1, " ", kCode2));
  CHECK(two_words.code == kExitUsage);
  CHECK_FALSE(absl::StrContains(two_words.err, kCode1));

  for (const Result& result : {saved, refused}) {
    for (const char* code : {kCode1, kCode2}) {
      CHECK_FALSE(absl::StrContains(result.out + result.err, code));
    }
  }
}

TEST_CASE("employees list follows pages, get shows one, and --json parses") {
  PayrollServer server;
  AddThreeEmployees(server);
  Result list = server.Run({"payroll", "employees", "list"});
  REQUIRE(list.code == kExitOk);
  CHECK(list.out ==
        "Number  Name             Birth date  Cost centre  Basis               Pay  Pension  Start"
        "       End\n"
        "E1      Virtanen, Matti  1952-10-13  300          MONTHLY  3 500.00/month  KEVA     "
        "2020-01-01\n"
        "E2      Virtanen, Anna   1990-01-01  300          MONTHLY  3 500.00/month  KEVA     "
        "2020-01-01\n"
        "E3      Virtanen, Pekka  1947-01-24  300          MONTHLY  4 000.00/month  KEVA     "
        "2020-01-01\n"
        "3 employees\n");
  CHECK(server.Calls("ListEmployees").size() == 2);  // pages of two
  Result json = server.Run({"payroll", "employees", "list", "--json"});
  REQUIRE(json.code == kExitOk);
  CHECK(ParsesAs<v1::ListEmployeesResponse>(json.out));
  CHECK(absl::StrContains(json.out, "\"E3\""));
  Result get = server.Run({"payroll", "employees", "get", "E2", "--json"});
  REQUIRE(get.code == kExitOk);
  CHECK(ParsesAs<v1::Employee>(get.out));
  Result missing = server.Run({"payroll", "employees", "get", "E9"});
  CHECK(missing.code == kExitFailure);
  CHECK(missing.err == "tahectl: NOT_FOUND: GetEmployee: no employee E9\n");
}

TEST_CASE("a refused payroll call prints its code and names the key") {
  PayrollServer server;
  server.payroll().FailNextCall(
      grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "the key lacks role payroll.admin"));
  Result result = server.Run({"payroll", "settings", "get"});
  CHECK(result.code == kExitFailure);
  CHECK(result.err ==
        "tahectl: PERMISSION_DENIED: GetPayrollSettings: the key lacks role payroll.admin (API "
        "key 0000000000aa from TAHE_API_KEY)\n");
}

TEST_CASE("tax cards and settings convert percentages and euros exactly") {
  PayrollServer server;
  AddThreeEmployees(server);
  Result set = server.Run({"payroll", "tax-card", "set", "E1", "--valid-from", "2025-01-01",
                           "--base-rate", "20.5", "--additional-rate", "40", "--income-limit",
                           "30000.00", "--request-id", "tc-1"});
  REQUIRE(set.code == kExitOk);
  const auto& card =
      dynamic_cast<const v1::SetTaxCardRequest&>(*server.Calls("SetTaxCard").at(0).request);
  CHECK(card.tax_card().base_rate_ppm() == 205000);
  CHECK(card.tax_card().additional_rate_ppm() == 400000);
  CHECK(card.tax_card().income_limit_minor() == 3000000);
  Result cards = server.Run({"payroll", "tax-cards", "E1"});
  REQUIRE(cards.code == kExitOk);
  CHECK(cards.out ==
        "Employee  Valid from  Base rate  Additional rate  Income limit\n"
        "E1        2025-01-01      20.5%              40%     30 000.00\n"
        "1 tax card\n");

  // Only what is given changes; the rest is read first and written back.
  Result settings = server.Run({"payroll", "settings", "set", "--accident-insurance", "0.7",
                                "--unemployment-tier", "upper", "--account-wages", "4001"});
  REQUIRE(settings.code == kExitOk);
  const auto& written = dynamic_cast<const v1::SetPayrollSettingsRequest&>(
      *server.Calls("SetPayrollSettings").at(0).request);
  CHECK(written.settings().accident_insurance_ppm() == 7000);
  CHECK(written.settings().unemployment_tier() == v1::UNEMPLOYMENT_TIER_UPPER);
  CHECK(written.settings().accounts().wages() == "4001");
  CHECK(written.settings().accounts().net_pay_payable() == "2880");
  Result nothing = server.Run({"payroll", "settings", "set"});
  CHECK(nothing.code == kExitUsage);
  Result bad = server.Run({"payroll", "settings", "set", "--accident-insurance", "0.00001"});
  CHECK(bad.code == kExitUsage);
}

TEST_CASE("rate tables load once per content") {
  PayrollServer server;
  TempFile table("payroll_test_table.txt", "version = fi-2027\nvalid_from = 2027-01-01\n");
  Result loaded = server.Run({"payroll", "rate-tables", "load", table.path()});
  REQUIRE(loaded.code == kExitOk);
  CHECK(absl::StartsWith(loaded.out,
                         "loaded rate table fi-2027, valid from 2027-01-01 (request "
                         "id tahectl-rate-table-"));
  REQUIRE(server.Run({"payroll", "rate-tables", "load", table.path()}).code == kExitOk);
  std::vector<FakePayroll::CallRecord> calls = server.Calls("LoadRateTable");
  REQUIRE(calls.size() == 2);
  CHECK(dynamic_cast<const v1::LoadRateTableRequest&>(*calls[0].request).request_id() ==
        dynamic_cast<const v1::LoadRateTableRequest&>(*calls[1].request).request_id());
  Result list = server.Run({"payroll", "rate-tables", "list"});
  REQUIRE(list.code == kExitOk);
  CHECK(absl::StrContains(list.out, "fi-2025  2025-01-01  built in  keva_total"));
  Result show = server.Run({"payroll", "rate-tables", "show", "fi-2026"});
  CHECK(show.out == "version = fi-2026\nvalid_from = 2026-01-01\n");
}

TEST_CASE("items import and list") {
  PayrollServer server;
  AddThreeEmployees(server);
  TempFile items("payroll_test_items.csv",
                 "item_id,employee_number,period,kind,quantity,unit_rate,amount,description\n"
                 "t-1,E1,2025-03,OVERTIME_50,7.5,21.35,,Ilta\n"
                 "t-2,E9,2025-03,PER_DIEM,,,48.00,Matka\n");
  Result imported = server.Run({"payroll", "items", "import", items.path()});
  CHECK(imported.code == kExitFailure);
  CHECK(imported.out ==
        absl::StrCat(items.path(),
                     ": 2 pay items in 1 batch: 1 accepted, 1 rejected\n"
                     "rejected: row 3 (item t-2), column employee_number: no employee E9\n"));
  const auto& batch =
      dynamic_cast<const v1::ImportPayItemsRequest&>(*server.Calls("ImportPayItems").at(0).request);
  CHECK(batch.request_id() ==
        absl::StrCat(ContentRequestIdPrefix("pay-items", ReadAll(items.path())), "-b0"));
  CHECK(batch.items(0).quantity_centi() == 750);
  CHECK(batch.items(0).unit_rate_minor() == 2135);
  Result list = server.Run({"payroll", "items", "list", "--period", "2025-03", "--employee", "E1"});
  REQUIRE(list.code == kExitOk);
  CHECK(list.out ==
        "Item  Employee  Period   Kind         Quantity  Unit rate  Amount  Description  Paid in\n"
        "t-1   E1        2025-03  OVERTIME_50      7.50      21.35          Ilta\n"
        "1 pay item\n");
}

// Creates a run for 2025-03 and returns its id.
std::string CreateRun(PayrollServer& server) {
  Result created = server.Run({"payroll", "run", "create", "--period", "2025-03", "--payment-date",
                               "2025-03-31", "--json"});
  REQUIRE(created.code == kExitOk);
  v1::PayRun run;
  REQUIRE(google::protobuf::util::JsonStringToMessage(created.out, &run).ok());
  return run.pay_run_id();
}

constexpr char kTotals[] =
    "Rate tables: fi-2025\n"
    "\n"
    "Totals                               EUR\n"
    "Payslips                               3\n"
    "Gross cash pay                 11 000.00\n"
    "Benefits in kind                    0.00\n"
    "Tax-free reimbursements             0.00\n"
    "-----------------------------  ---------\n"
    "Withholding                     2 200.00\n"
    "Employee pension                  786.50\n"
    "Employee unemployment              64.90\n"
    "Employee contributions            851.40\n"
    "Union fees                          0.00\n"
    "Deductions                          0.00\n"
    "-----------------------------  ---------\n"
    "Net pay                         7 948.60\n"
    "-----------------------------  ---------\n"
    "Employer pension                1 870.00\n"
    "Employer unemployment               0.00\n"
    "Employer health insurance         205.70\n"
    "Employer accident insurance         0.00\n"
    "Employer group life insurance       0.00\n"
    "Employer contributions          2 075.70\n"
    "\n"
    "Provisional rates used: keva_total\n"
    "Skipped employees: none\n";

TEST_CASE("run calculate follows WatchPayRun with plain progress lines and prints the totals") {
  PayrollServer server;
  AddThreeEmployees(server);
  const std::string id = CreateRun(server);
  Result result = server.Run({"payroll", "run", "calculate", id, "--request-id", "calc-1"});
  REQUIRE(result.code == kExitOk);
  CHECK(result.err ==
        "calculating\n"
        "calculating: 1/3 payslips (33%)\n"
        "calculating: 2/3 payslips (66%)\n"
        "calculated: 3/3 payslips (100%)\n");
  CHECK(result.out == absl::StrCat("calculated pay run ", id, " (request id calc-1)\n", "Pay run ",
                                   id, ": period 2025-03, payment date 2025-03-31, CALCULATED\n",
                                   kTotals));
  CHECK(server.Calls("WatchPayRun").size() == 1);
  CHECK(server.Calls("GetPayRun").empty());

  // A recalculation: a watch begun before it sees the settled run and ends, and is opened
  // again; the earlier calculation's counts are not shown.
  Result again = server.Run({"payroll", "run", "calculate", id});
  REQUIRE(again.code == kExitOk);
  CHECK(again.err == result.err);
  CHECK(server.Calls("GetPayRun").empty());

  // Recalculation with --json: the PayRun, no progress.
  Result json = server.Run({"payroll", "run", "calculate", id, "--json"});
  REQUIRE(json.code == kExitOk);
  CHECK(json.err.empty());
  CHECK(ParsesAs<v1::PayRun>(json.out));
  CHECK(absl::StrContains(json.out, "\"status\":\"PAY_RUN_STATUS_CALCULATED\""));
}

TEST_CASE("run calculate draws one line on a terminal") {
  PayrollServer server;
  AddThreeEmployees(server);
  const std::string id = CreateRun(server);
  Result result = server.Run({"payroll", "run", "calculate", id}, "", /*terminal=*/true);
  REQUIRE(result.code == kExitOk);
  CHECK(result.err.front() == '\r');
  CHECK(std::count(result.err.begin(), result.err.end(), '\n') == 1);
  CHECK(absl::StrContains(result.err.substr(result.err.rfind('\r')),
                          "calculated [####################]      3/3 payslips 100%"));
}

TEST_CASE("run calculate polls GetPayRun when the service cannot stream progress") {
  PayrollServer server;
  FakePayroll::Behaviour behaviour;
  behaviour.predates_watch = true;
  behaviour.per_payslip = absl::Milliseconds(30);
  server.payroll().SetBehaviour(behaviour);
  AddThreeEmployees(server);
  const std::string id = CreateRun(server);
  Result result = server.Run({"payroll", "run", "calculate", id});
  REQUIRE(result.code == kExitOk);
  CHECK(result.err == "calculating\ncalculated: 3/3 payslips (100%)\n");
  CHECK(absl::StrContains(result.out, kTotals));
  CHECK(server.Calls("WatchPayRun").size() == 1);
  CHECK(server.Calls("GetPayRun").size() >= 2);
}

TEST_CASE("run calculate of an unknown run fails with the calculation's error") {
  PayrollServer server;
  FakePayroll::Behaviour behaviour;
  behaviour.calculation_waits_for_watcher = false;
  server.payroll().SetBehaviour(behaviour);
  Result result = server.Run({"payroll", "run", "calculate", "run-404"});
  CHECK(result.code == kExitFailure);
  CHECK(result.err == "calculating\ntahectl: NOT_FOUND: CalculatePayRun: no pay run run-404\n");
}

TEST_CASE("run approve waits for the ledger posting with --wait-posted") {
  PayrollServer server;
  FakePayroll::Behaviour behaviour;
  behaviour.posted_after = absl::Milliseconds(100);
  behaviour.delivery_error = "ledger UNAVAILABLE";
  server.payroll().SetBehaviour(behaviour);
  AddThreeEmployees(server);
  const std::string id = CreateRun(server);
  REQUIRE(server.Run({"payroll", "run", "calculate", id}).code == kExitOk);
  Result approved =
      server.Run({"payroll", "run", "approve", id, "--wait-posted", "--request-id", "ap-1"});
  REQUIRE(approved.code == kExitOk);
  CHECK(approved.err ==
        "approved: delivery to the ledger failed, retrying: ledger UNAVAILABLE\n"
        "posted to the ledger as entry 42\n");
  CHECK(absl::StartsWith(approved.out,
                         absl::StrCat("approved pay run ", id, " (request id ap-1)\nPay run ", id,
                                      ": period 2025-03, payment date 2025-03-31, "
                                      "POSTED\nRate tables: fi-2025\nLedger entry: "
                                      "#42")));

  Result runs = server.Run({"payroll", "runs", "--period", "2025-03"});
  REQUIRE(runs.code == kExitOk);
  CHECK(absl::StrContains(runs.out, absl::StrCat(id, "    2025-03  2025-03-31    POSTED")));
  Result cancel = server.Run({"payroll", "run", "cancel", id});
  CHECK(cancel.code == kExitFailure);
  CHECK(absl::StartsWith(cancel.err, "tahectl: FAILED_PRECONDITION: CancelPayRun: "));
}

TEST_CASE("run approve --wait-posted gives up after --wait-timeout with DEADLINE_EXCEEDED") {
  PayrollServer server;
  FakePayroll::Behaviour behaviour;
  behaviour.posted_after = absl::Hours(1);
  behaviour.delivery_error = "ledger UNAVAILABLE";
  behaviour.predates_watch = true;
  server.payroll().SetBehaviour(behaviour);
  AddThreeEmployees(server);
  const std::string id = CreateRun(server);
  REQUIRE(server.Run({"payroll", "run", "calculate", id}).code == kExitOk);
  Result result = server.Run(
      {"payroll", "run", "approve", id, "--wait-posted", "--wait-timeout", "200ms", "--json"});
  CHECK(result.code == kExitFailure);
  CHECK(result.out.empty());
  CHECK(result.err == absl::StrCat("tahectl: DEADLINE_EXCEEDED: pay run ", id,
                                   " is approved but its ledger posting is still waiting after "
                                   "200ms (ledger UNAVAILABLE); the outbox keeps retrying\n"));
}

TEST_CASE("payslips print the rendered content and the payment file is written once") {
  PayrollServer server;
  AddThreeEmployees(server);
  const std::string id = CreateRun(server);
  REQUIRE(server.Run({"payroll", "run", "calculate", id}).code == kExitOk);
  Result text = server.Run({"payroll", "payslips", id, "--employee", "E2"});
  REQUIRE(text.code == kExitOk);
  CHECK(text.out == absl::StrCat("PAYSLIP ", id, " E2 Anna Virtanen\n"));
  Result csv = server.Run({"payroll", "payslips", id, "--format", "csv"});
  REQUIRE(csv.code == kExitOk);
  CHECK(csv.out == "employee_number,gross\nE1,3500.00\nE2,3500.00\nE3,4000.00\n");
  const auto& render = dynamic_cast<const v1::RenderPayslipsRequest&>(
      *server.Calls("RenderPayslips").back().request);
  CHECK(render.format() == v1::RENDER_FORMAT_CSV);
  CHECK(server.Run({"payroll", "payslips", id, "--format", "pdf"}).code == kExitUsage);

  TempFile out("payroll_test_payment.xml");
  Result early = server.Run({"payroll", "payment-file", id, "--out", out.path()});
  CHECK(early.code == kExitFailure);
  CHECK_FALSE(std::filesystem::exists(out.path()));

  REQUIRE(server.Run({"payroll", "run", "approve", id}).code == kExitOk);
  Result written = server.Run({"payroll", "payment-file", id, "--out", out.path()});
  REQUIRE(written.code == kExitOk);
  CHECK(written.out == absl::StrCat("wrote ", out.path(), " (", id,
                                    ".xml, application/xml): 3 transactions, control sum "
                                    "7 948.60 EUR\n"));
  CHECK(ReadAll(out.path()) ==
        absl::StrCat("<Document><CstmrCdtTrfInitn>", id, "</CstmrCdtTrfInitn></Document>\n"));

  const size_t calls_before = server.payroll().calls().size();
  Result again = server.Run({"payroll", "payment-file", id, "--out", out.path(), "--json"});
  CHECK(again.code == kExitUsage);
  CHECK(absl::StrContains(again.err, "already exists; not overwriting it"));
  CHECK(server.payroll().calls().size() == calls_before);
}

TEST_CASE("payroll usage errors exit 2 before any call") {
  PayrollServer server;
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"payroll"},
           {"payroll", "bogus"},
           {"payroll", "run"},
           {"payroll", "run", "explode", "x"},
           {"payroll", "run", "create", "--period", "2025-13", "--payment-date", "2025-03-31"},
           {"payroll", "run", "create", "--period", "2025-03"},
           {"payroll", "run", "calculate"},
           {"payroll", "run", "calculate", "r", "--wait-timeout", "soon"},
           {"payroll", "run", "approve", "r", "--wait-timeout", "1m"},
           {"payroll", "tax-card", "set", "E1", "--valid-from", "2025-01-01", "--base-rate", "101",
            "--additional-rate", "40", "--income-limit", "1"},
           {"payroll", "employees", "get"},
           {"payroll", "items", "list", "--period", "March"},
           {"payroll", "runs", "--employee", "E1"},
       }) {
    INFO(absl::StrJoin(args, " "));
    Result result = server.Run(args);
    CHECK(result.code == kExitUsage);
    CHECK(absl::EndsWith(result.err, "Run 'tahectl --help' for usage.\n"));
  }
  CHECK(server.payroll().calls().empty());
}

}  // namespace
}  // namespace tahe::tahectl
