#include "services/payroll/render.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "absl/strings/match.h"

namespace tahe::payroll {
namespace {

v1::PayslipLine Line(const std::string& code, const std::string& description,
                     int64_t quantity_centi, int64_t base_minor, int64_t rate_ppm,
                     int64_t amount_minor) {
  v1::PayslipLine line;
  line.set_code(code);
  line.set_description(description);
  line.set_quantity_centi(quantity_centi);
  line.set_base_minor(base_minor);
  line.set_rate_ppm(rate_ppm);
  line.set_amount_minor(amount_minor);
  return line;
}

// An hourly employee's March: 150 h at 20.00 (at 100 %), 10.50 h of overtime at 150 %, a meal
// benefit, two hours of February's overtime paid late, withholding at 15 %, the employer's health
// insurance at a provisional 1.87 %, and a deduction whose description a spreadsheet would run as a
// formula. Gross cash pay 3 000.00 + 315.00 + 60.00 = 3 375.00; taxable 3 495.00; net
// 3 375.00 - 524.25 - 50.00 = 2 800.75.
v1::Payslip HandMadePayslip() {
  v1::Payslip slip;
  slip.set_pay_run_id("2026-03-1");
  slip.set_employee_number("E2002");
  slip.set_employee_name("Mikko Järvinen");
  slip.set_period("2026-03");
  slip.set_payment_date("2026-03-31");
  slip.set_cost_centre("KP200");
  *slip.add_lines() = Line("HOURLY_PAY", "Hourly pay", 15000, 2000, 1000000, 300000);
  *slip.add_lines() = Line("OVERTIME_50", "Overtime 50%", 1050, 2000, 1500000, 31500);
  *slip.add_lines() =
      Line("MEAL_BENEFIT", "Meal benefit (taxable, not paid in cash)", 0, 12000, 0, 12000);
  v1::PayslipLine late =
      Line("OVERTIME_50", "Overtime 50% (correction for 2026-02)", 200, 2000, 1500000, 6000);
  late.set_corrects_period("2026-02");
  *slip.add_lines() = late;
  *slip.add_lines() = Line("WITHHOLDING_BASE_RATE", "Withholding at the base rate of the tax card",
                           0, 349500, 150000, 52425);
  v1::PayslipLine health = Line("EMPLOYER_HEALTH_INSURANCE",
                                "Employer health insurance contribution", 0, 349500, 18700, 6536);
  health.set_provisional(true);
  health.set_rate_table_version("fi-2026");
  *slip.add_lines() = health;
  *slip.add_lines() = Line("DEDUCTION", "=HYPERLINK(\"x\"), bike", 0, 5000, 0, 5000);
  v1::PayRunTotalsFigures* f = slip.mutable_figures();
  f->set_payslips(1);
  f->set_gross_cash_minor(337500);
  f->set_benefits_in_kind_minor(12000);
  f->set_withholding_minor(52425);
  f->set_deductions_minor(5000);
  f->set_net_pay_minor(280075);
  f->set_employer_health_insurance_minor(6536);
  slip.set_year_to_date_taxable_minor(349500);
  return slip;
}

const char kHandMadeText[] =
    "PAYSLIP\n"
    "Pay run       2026-03-1\n"
    "Employee      Mikko Järvinen (E2002)\n"
    "Period        2026-03\n"
    "Payment date  2026-03-31\n"
    "Cost centre   KP200\n"
    "\n"
    "Code                          Quantity         Base         Rate       Amount  Description\n"
    "HOURLY_PAY                      150.00        20.00      100.00%      3000.00  Hourly pay\n"
    "OVERTIME_50                      10.50        20.00      150.00%       315.00  Overtime 50%\n"
    "MEAL_BENEFIT                                 120.00                    120.00  Meal benefit"
    " (taxable, not paid in cash)\n"
    "OVERTIME_50                       2.00        20.00      150.00%        60.00  Overtime 50%"
    " (correction for 2026-02), corrects 2026-02\n"
    "WITHHOLDING_BASE_RATE                       3495.00       15.00%       524.25  Withholding"
    " at the base rate of the tax card\n"
    "EMPLOYER_HEALTH_INSURANCE                   3495.00        1.87%        65.36  Employer"
    " health insurance contribution (provisional rate)\n"
    "DEDUCTION                                     50.00                     50.00  "
    "=HYPERLINK(\"x\"), bike\n"
    "\n"
    "Gross cash pay                          3375.00\n"
    "Withholding                             -524.25\n"
    "Employee pension                           0.00\n"
    "Employee unemployment insurance            0.00\n"
    "Union fees                                 0.00\n"
    "Deductions                               -50.00\n"
    "Reimbursements (tax-free)                  0.00\n"
    "Net pay                                 2800.75\n"
    "\n"
    "Benefits in kind (not paid in cash)      120.00\n"
    "Taxable pay                             3495.00\n"
    "Taxable pay this year to date           3495.00\n"
    "\n"
    "Employer's contributions (not deducted from pay)\n"
    "Pension                                    0.00\n"
    "Unemployment insurance                     0.00\n"
    "Health insurance                          65.36\n"
    "Accident insurance                         0.00\n"
    "Group life insurance                       0.00\n";

TEST_CASE("render: a payslip as text shows every line, its flags, the totals and the year to date",
          "[payroll][render]") {
  const std::string text = RenderPayslipText(HandMadePayslip());
  INFO(text);
  REQUIRE(text == kHandMadeText);
}

TEST_CASE("render: payslips as CSV are one RFC 4180 row per line under a header row",
          "[payroll][render]") {
  v1::Payslip second;
  second.set_pay_run_id("2026-03-1");
  second.set_employee_number("E1001");
  second.set_employee_name("Aino \"Aikku\" Virtanen");
  second.set_period("2026-03");
  second.set_payment_date("2026-03-31");
  second.set_cost_centre("+KP100");
  *second.add_lines() = Line("MONTHLY_SALARY", "Kuukausipalkka", 0, 350000, 0, 350000);
  const std::vector<v1::Payslip> slips = {HandMadePayslip(), second};
  const std::string csv = RenderPayslipsCsv(slips);
  INFO(csv);
  const std::string head = "2026-03-1,E2002,Mikko Järvinen,2026-03,2026-03-31,KP200,";
  REQUIRE(csv ==
          std::string(kPayslipCsvColumns) + "\r\n" +                                            //
              head + "1,HOURLY_PAY,Hourly pay,150.00,20.00,100.00,3000.00,,false,\r\n" +        //
              head + "2,OVERTIME_50,Overtime 50%,10.50,20.00,150.00,315.00,,false,\r\n" +       //
              head + "3,MEAL_BENEFIT,\"Meal benefit (taxable, not paid in cash)\",,120.00,," +  //
              "120.00,,false,\r\n" +                                                            //
              head + "4,OVERTIME_50,Overtime 50% (correction for 2026-02),2.00,20.00,150.00," +
              "60.00,2026-02,false,\r\n" +  //
              head + "5,WITHHOLDING_BASE_RATE,Withholding at the base rate of the tax card,," +
              "3495.00,15.00,524.25,,false,\r\n" +  //
              head + "6,EMPLOYER_HEALTH_INSURANCE,Employer health insurance contribution,," +
              "3495.00,1.87,65.36,,true,fi-2026\r\n" +  //
              head + "7,DEDUCTION,\"'=HYPERLINK(\"\"x\"\"), bike\",,50.00,,50.00,,false,\r\n" +
              "2026-03-1,E1001,\"Aino \"\"Aikku\"\" Virtanen\",2026-03,2026-03-31,'+KP100,1," +
              "MONTHLY_SALARY,Kuukausipalkka,,3500.00,,3500.00,,false,\r\n");
  REQUIRE(kPayslipCsvColumns ==
          std::string("pay_run_id,employee_number,employee_name,period,payment_date,cost_centre,"
                      "line,code,description,quantity,base,rate_percent,amount,corrects_period,"
                      "provisional,rate_table_version"));
}

TEST_CASE(
    "render: several payslips as text are separated by a blank line, and no payslips give no text",
    "[payroll][render]") {
  const std::vector<v1::Payslip> slips = {HandMadePayslip(), HandMadePayslip()};
  REQUIRE(RenderPayslipsText(slips) == std::string(kHandMadeText) + "\n" + kHandMadeText);
  REQUIRE(RenderPayslipsText({}).empty());
  REQUIRE(RenderPayslipsCsv({}) == std::string(kPayslipCsvColumns) + "\r\n");
}

TEST_CASE("render: rates are percentages with two to four decimals", "[payroll][render]") {
  REQUIRE(FormatRatePercent(0) == "0.00");
  REQUIRE(FormatRatePercent(73000) == "7.30");
  REQUIRE(FormatRatePercent(8655) == "0.8655");
  REQUIRE(FormatRatePercent(18700) == "1.87");
  REQUIRE(FormatRatePercent(71500) == "7.15");
  REQUIRE(FormatRatePercent(12345) == "1.2345");
  REQUIRE(FormatRatePercent(100) == "0.01");
  REQUIRE(FormatRatePercent(1) == "0.0001");
  REQUIRE(FormatRatePercent(1000000) == "100.00");
  REQUIRE(FormatRatePercent(1500000) == "150.00");
}

TEST_CASE("render: a CSV field is quoted only when it must be", "[payroll][render]") {
  REQUIRE(CsvField("plain text") == "plain text");
  REQUIRE(CsvField("") == "");
  REQUIRE(CsvField("a,b") == "\"a,b\"");
  REQUIRE(CsvField("say \"hi\"") == "\"say \"\"hi\"\"\"");
  REQUIRE(CsvField("two\nlines") == "\"two\nlines\"");
  REQUIRE(CsvField("cr\r") == "\"cr\r\"");
  REQUIRE(CsvField("Järvinen") == "Järvinen");
}

}  // namespace
}  // namespace tahe::payroll
