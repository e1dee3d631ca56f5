#include "services/payroll/posting.h"

#include "absl/strings/str_cat.h"

namespace tahe::payroll {

void AddTotals(PayslipTotals& a, const PayslipTotals& b) {
  a.gross_cash_pay_cents += b.gross_cash_pay_cents;
  a.benefits_in_kind_cents += b.benefits_in_kind_cents;
  a.taxable_pay_cents += b.taxable_pay_cents;
  a.withholding_cents += b.withholding_cents;
  a.employee_pension_cents += b.employee_pension_cents;
  a.employee_unemployment_cents += b.employee_unemployment_cents;
  a.union_fee_cents += b.union_fee_cents;
  a.deductions_cents += b.deductions_cents;
  a.reimbursements_cents += b.reimbursements_cents;
  a.net_pay_cents += b.net_pay_cents;
  a.employer_pension_cents += b.employer_pension_cents;
  a.employer_unemployment_cents += b.employer_unemployment_cents;
  a.employer_health_insurance_cents += b.employer_health_insurance_cents;
  a.employer_accident_insurance_cents += b.employer_accident_insurance_cents;
  a.employer_group_life_insurance_cents += b.employer_group_life_insurance_cents;
}

namespace {

void AddLine(ledger::v1::EntryDraft& draft, const std::string& account, int64_t amount,
             const std::map<std::string, std::string>& dimensions, const std::string& text,
             int64_t& sum) {
  if (amount == 0) {
    return;
  }
  ledger::v1::EntryLine* line = draft.add_lines();
  line->set_account(account);
  line->mutable_amount()->set_amount_minor(amount);
  line->mutable_amount()->set_currency_code("EUR");
  for (const auto& [key, value] : dimensions) {
    (*line->mutable_dimensions())[key] = value;
  }
  line->set_text(text);
  sum += amount;
}

}  // namespace

absl::StatusOr<ledger::v1::EntryDraft> BuildPayRunPosting(const PayRunRef& run,
                                                          const PostingAccountNumbers& accounts,
                                                          const std::vector<PostingGroup>& groups) {
  ledger::v1::EntryDraft draft;
  draft.set_entry_date(run.payment_date);
  draft.set_description(absl::StrCat("Palkat ", run.period, " (palkka-ajo ", run.pay_run_id, ")"));
  draft.mutable_source()->set_system("payroll");
  draft.mutable_source()->set_reference(run.pay_run_id);

  int64_t sum = 0;
  PayslipTotals all;
  for (const PostingGroup& group : groups) {
    const PayslipTotals& t = group.totals;
    AddLine(draft, accounts.wages, t.gross_cash_pay_cents, group.dimensions, "Palkat", sum);
    AddLine(draft, accounts.reimbursements, t.reimbursements_cents, group.dimensions,
            "Kulukorvaukset", sum);
    AddLine(draft, accounts.pension_costs, t.employer_pension_cents, group.dimensions,
            "Työnantajan eläkemaksut", sum);
    AddLine(draft, accounts.other_social_costs,
            t.employer_unemployment_cents + t.employer_health_insurance_cents +
                t.employer_accident_insurance_cents + t.employer_group_life_insurance_cents,
            group.dimensions, "Muut henkilösivukulut", sum);
    AddTotals(all, t);
  }
  const std::map<std::string, std::string> none;
  AddLine(draft, accounts.withholding_payable, -all.withholding_cents, none, "Ennakonpidätykset",
          sum);
  AddLine(draft, accounts.pension_payable,
          -(all.employee_pension_cents + all.employer_pension_cents), none, "Eläkemaksut", sum);
  AddLine(draft, accounts.unemployment_payable,
          -(all.employee_unemployment_cents + all.employer_unemployment_cents), none,
          "Työttömyysvakuutusmaksut", sum);
  AddLine(draft, accounts.health_insurance_payable, -all.employer_health_insurance_cents, none,
          "Sairausvakuutusmaksut", sum);
  AddLine(draft, accounts.other_payable,
          -(all.union_fee_cents + all.deductions_cents + all.employer_accident_insurance_cents +
            all.employer_group_life_insurance_cents),
          none, "Ammattiliittojen jäsenmaksut, vähennykset ja vakuutukset", sum);
  AddLine(draft, accounts.net_pay_payable, -all.net_pay_cents, none, "Nettopalkat", sum);

  if (draft.lines_size() == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("pay run ", run.pay_run_id, " has nothing to post"));
  }
  if (sum != 0) {
    return absl::InternalError(absl::StrCat("pay run ", run.pay_run_id,
                                            " posting does not balance: off by ", sum, " cents"));
  }
  return draft;
}

}  // namespace tahe::payroll
