// Unit tests of the exports: CSV quoting and content, JSON round trips, escaped HTML.

#include "services/reporting/reporting_render.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>

#include <catch2/catch.hpp>

#include "absl/strings/match.h"
#include "services/reporting/reporting_domain.h"

namespace tahe::reporting {
namespace {

v1::Statement SampleStatement() {
  v1::Statement s;
  s.set_kind(v1::STATEMENT_KIND_INCOME_STATEMENT);
  s.mutable_scope()->set_from_date("2026-01-01");
  s.mutable_scope()->set_to_date("2026-03-31");
  s.set_previous_from_date("2025-01-01");
  s.set_previous_to_date("2025-03-31");
  AccountNets current{{"3000", -123456}, {"4000", 50000}};
  AccountNets previous{{"3000", -100}};
  for (v1::StatementRow& row :
       BuildIncomeStatement(StatementMapping::Default(), current, previous)) {
    *s.add_rows() = std::move(row);
  }
  return s;
}

TEST_CASE("CSV fields are quoted only when needed and formulas are defused", "[reporting]") {
  CHECK(CsvField("plain") == "plain");
  CHECK(CsvField("a,b") == "\"a,b\"");
  CHECK(CsvField("say \"hi\"") == "\"say \"\"hi\"\"\"");
  CHECK(CsvField("two\nlines") == "\"two\nlines\"");
  CHECK(CsvField("=SUM(A1)") == "'=SUM(A1)");
  CHECK(CsvField("-12.50") == "-12.50");
  CHECK(CsvField("") == "");
}

TEST_CASE("the trial balance CSV has a line per account and the totals", "[reporting]") {
  v1::TrialBalance tb;
  tb.mutable_scope()->set_from_date("2026-01-01");
  tb.mutable_scope()->set_to_date("2026-01-31");
  v1::TrialBalanceRow* row = tb.add_rows();
  row->set_account("1910");
  row->set_opening_minor(1000);
  row->set_debit_minor(250);
  row->set_credit_minor(5);
  row->set_closing_minor(1245);
  tb.set_total_opening_minor(1000);
  tb.set_total_debit_minor(250);
  tb.set_total_credit_minor(5);
  tb.set_total_closing_minor(1245);
  CHECK(TrialBalanceCsv(tb) ==
        "account,opening,debit,credit,closing\r\n"
        "1910,10.00,2.50,0.05,12.45\r\n"
        "total,10.00,2.50,0.05,12.45\r\n");
  absl::StatusOr<v1::ExportReportResponse> file =
      RenderExport({.kind = "trial-balance", .trial_balance = &tb}, v1::EXPORT_FORMAT_CSV);
  REQUIRE(file.ok());
  CHECK(file->content_type() == "text/csv; charset=utf-8");
  CHECK(file->file_name() == "trial-balance-2026-01-01-2026-01-31.csv");
  CHECK(file->content() == TrialBalanceCsv(tb));
}

TEST_CASE("statements render as CSV, JSON and escaped HTML", "[reporting]") {
  v1::Statement s = SampleStatement();
  std::string csv = StatementCsv(s);
  CHECK(absl::StartsWith(csv, "code,label,level,subtotal,account,amount,previous\r\n"));
  CHECK(absl::StrContains(csv, "TOIMINTATUOTOT,Toimintatuotot,0,yes,,1234.56,1.00\r\n"));
  CHECK(absl::StrContains(csv, "MYYNTITUOTOT,Myyntituotot,2,no,3000,1234.56,1.00\r\n"));
  CHECK(absl::StrContains(csv, "AINEET_TARVIKKEET_JA_TAVARAT,\"Aineet, tarvikkeet ja tavarat\""));
  CHECK(
      absl::StrContains(csv, "TILIKAUDEN_YLIJAAMA,Tilikauden ylijäämä (alijäämä),0,yes,,734.56,"));

  // JSON parses back to the same message.
  std::string json = ReportJson(s);
  v1::Statement parsed;
  REQUIRE(google::protobuf::util::JsonStringToMessage(json, &parsed).ok());
  CHECK(google::protobuf::util::MessageDifferencer::Equals(parsed, s));
  CHECK(absl::StrContains(json, "\"amount_minor\""));

  // HTML: the labels are there, and text from outside is escaped.
  s.mutable_rows(1)->set_label("<script>alert('x')</script> & co");
  std::string html = StatementHtml(s);
  CHECK(absl::StartsWith(html, "<!DOCTYPE html>"));
  CHECK(absl::StrContains(html, "<h1>Tuloslaskelma</h1>"));
  CHECK(absl::StrContains(html, "Toimintakate"));
  CHECK(absl::StrContains(html, "1234.56"));
  CHECK_FALSE(absl::StrContains(html, "<script>"));
  CHECK(absl::StrContains(html, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; co"));

  absl::StatusOr<v1::ExportReportResponse> file =
      RenderExport({.kind = "income-statement", .statement = &s}, v1::EXPORT_FORMAT_HTML);
  REQUIRE(file.ok());
  CHECK(file->content_type() == "text/html; charset=utf-8");
  CHECK(file->file_name() == "income-statement-2026-01-01-2026-03-31.html");

  v1::Statement sheet;
  sheet.set_kind(v1::STATEMENT_KIND_BALANCE_SHEET);
  sheet.mutable_scope()->set_to_date("2026-03-31");
  file = RenderExport({.kind = "balance-sheet", .statement = &sheet}, v1::EXPORT_FORMAT_HTML);
  REQUIRE(file.ok());
  CHECK(file->file_name() == "balance-sheet-2026-03-31.html");
  CHECK(absl::StrContains(file->content(), "<h1>Tase</h1>"));
}

TEST_CASE("HTML is refused for reports other than statements, naming format", "[reporting]") {
  v1::CostCentreReport cc;
  cc.set_split_by("cost_centre");
  v1::CostCentreRow* row = cc.add_rows();
  row->set_value("=evil,\"cc\"");
  row->set_income_minor(100);
  row->set_expenses_minor(40);
  row->set_net_minor(60);
  *cc.mutable_total() = *row;
  absl::StatusOr<v1::ExportReportResponse> html =
      RenderExport({.kind = "cost-centre", .cost_centre = &cc}, v1::EXPORT_FORMAT_HTML);
  REQUIRE(html.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(absl::StartsWith(html.status().message(), "format:"));
  absl::StatusOr<v1::ExportReportResponse> none =
      RenderExport({.kind = "cost-centre", .cost_centre = &cc}, v1::EXPORT_FORMAT_UNSPECIFIED);
  CHECK(absl::StartsWith(none.status().message(), "format:"));
  absl::StatusOr<v1::ExportReportResponse> csv =
      RenderExport({.kind = "cost-centre", .cost_centre = &cc}, v1::EXPORT_FORMAT_CSV);
  REQUIRE(csv.ok());
  CHECK(csv->content() ==
        "cost_centre,income,expenses,net,previous_income,previous_expenses,previous_net\r\n"
        "\"'=evil,\"\"cc\"\"\",1.00,0.40,0.60,0.00,0.00,0.00\r\n"
        "total,1.00,0.40,0.60,0.00,0.00,0.00\r\n");
}

TEST_CASE("budget and payroll CSVs list rows and totals", "[reporting]") {
  v1::BudgetReport budget;
  v1::BudgetRow* b = budget.add_rows();
  b->set_account("4000");
  b->set_cost_centre("CC-1");
  b->set_budget_minor(10000);
  b->set_actual_minor(12000);
  b->set_difference_minor(2000);
  budget.set_total_budget_minor(10000);
  budget.set_total_actual_minor(12000);
  budget.set_total_difference_minor(2000);
  CHECK(BudgetCsv(budget) ==
        "account,cost_centre,budget,actual,difference\r\n4000,CC-1,100.00,120.00,20.00\r\n"
        "total,,100.00,120.00,20.00\r\n");

  v1::PayrollCosts payroll;
  v1::PayrollCostRow* row = payroll.add_rows();
  row->set_cost_centre("CC-1");
  row->set_month("2026-03");
  v1::PayrollCostAccount* a = row->add_accounts();
  a->set_account("4000");
  a->set_amount_minor(300000);
  row->set_total_minor(300000);
  *payroll.add_totals() = *a;
  payroll.set_total_minor(300000);
  CHECK(PayrollCostsCsv(payroll) ==
        "cost_centre,month,account,amount\r\nCC-1,2026-03,4000,3000.00\r\n"
        "CC-1,2026-03,total,3000.00\r\ntotal,,4000,3000.00\r\ntotal,,total,3000.00\r\n");
}

}  // namespace
}  // namespace tahe::reporting
