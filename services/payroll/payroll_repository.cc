#include "services/payroll/payroll_repository.h"

#include <google/protobuf/arena.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <thread>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "libs/fi/business_id.h"
#include "libs/fi/hetu.h"
#include "libs/fi/iban.h"
#include "libs/log/log.h"
#include "libs/pg/binary_array.h"
#include "libs/pg/idempotency.h"
#include "libs/status/status.h"
#include "services/payroll/posting.h"
#include "services/payroll/sepa.h"

namespace tahe::payroll {

namespace {

constexpr int kDefaultPageSize = 100;
constexpr int kMaxPageSize = 1000;
constexpr int kMaxItemsPerRequest = 10000;
constexpr char kTimestamp[] = "YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"";

pg::TxOptions Tx(const CallContext& call, bool read_only = false) {
  return {.deadline = call.deadline, .read_only = read_only};
}

std::string Ts(absl::string_view column) {
  return absl::StrCat("coalesce(to_char(", column, " AT TIME ZONE 'UTC', '", kTimestamp, "'), '')");
}

pg::IdempotencyKey Key(const CallContext& call, const std::string& request_id) {
  return {.tenant = call.tenant, .request_id = request_id};
}

using pg::BinaryArray;

bool IsValidCode(absl::string_view text, size_t max) {
  if (text.empty() || text.size() > max) {
    return false;
  }
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    bool ok = absl::ascii_isalnum(c) || (i > 0 && (c == '_' || c == '.' || c == '-'));
    if (!ok) {
      return false;
    }
  }
  return true;
}

absl::Status ValidateEmployeeNumber(absl::string_view field, absl::string_view number) {
  if (!IsValidCode(number, 40)) {
    return InvalidField(field, "1-40 characters: letters, digits, '_', '.', '-' (not first)");
  }
  return absl::OkStatus();
}

absl::Status ValidateRate(absl::string_view field, int64_t ppm) {
  if (ppm < 0 || ppm > Percentage::kMaxPpm) {
    return InvalidField(field, "a percentage in parts per million, 0-1000000 (7.15 % = 71500)");
  }
  return absl::OkStatus();
}

absl::Status ValidateAccount(absl::string_view field, absl::string_view account) {
  if (account.empty()) {
    return absl::OkStatus();
  }
  if (account.size() < 3 || account.size() > 10 ||
      !std::all_of(account.begin(), account.end(), absl::ascii_isdigit)) {
    return InvalidField(field, "an account number of 3-10 digits");
  }
  return absl::OkStatus();
}

// --- employees ---------------------------------------------------------------------------------

const std::string kEmployeeColumns =
    "employee_number, first_name, last_name, birth_date::text, iban, bic, start_date::text,"
    " coalesce(end_date::text, ''), cost_centre, dimensions::text, salary_basis,"
    " monthly_salary_minor, hourly_rate_minor, pension_scheme, union_fee_ppm, " +
    Ts("updated_at");

// The dimensions of a stored JSON object of strings (employees.dimensions); {} if it does not
// parse.
std::map<std::string, std::string> ParseDimensions(const std::string& json) {
  std::map<std::string, std::string> out;
  if (json == "{}") {
    return out;
  }
  google::protobuf::Struct dims;
  if (google::protobuf::util::JsonStringToMessage(json, &dims).ok()) {
    for (const auto& [k, v] : dims.fields()) {
      out[k] = v.string_value();
    }
  }
  return out;
}

// A row of kEmployeeColumns. Without `with_dimensions` the employment's dimensions are left out
// (the calculation reads them as text, and parses each distinct one once).
v1::Employee EmployeeFromRow(const pqxx::row& r, bool with_dimensions = true) {
  v1::Employee e;
  e.set_employee_number(r[0].as<std::string>());
  e.set_first_name(r[1].as<std::string>());
  e.set_last_name(r[2].as<std::string>());
  e.set_birth_date(r[3].as<std::string>());
  e.set_iban(r[4].as<std::string>());
  e.set_bic(r[5].as<std::string>());
  v1::Employment* job = e.mutable_employment();
  job->set_start_date(r[6].as<std::string>());
  job->set_end_date(r[7].as<std::string>());
  job->set_cost_centre(r[8].as<std::string>());
  if (with_dimensions) {
    for (auto& [k, v] : ParseDimensions(r[9].as<std::string>())) {
      (*job->mutable_dimensions())[k] = std::move(v);
    }
  }
  job->set_salary_basis(static_cast<v1::SalaryBasis>(r[10].as<int>()));
  job->set_monthly_salary_minor(r[11].as<int64_t>());
  job->set_hourly_rate_minor(r[12].as<int64_t>());
  job->set_pension_scheme(static_cast<v1::PensionScheme>(r[13].as<int>()));
  job->set_union_fee_ppm(r[14].as<int64_t>());
  e.set_updated_at(r[15].as<std::string>());
  return e;
}

// A JSON object of the dimensions, keys in order: {"cost_centre":"KP100","project":"P1"}.
std::string DimensionsJson(const std::map<std::string, std::string>& sorted) {
  std::string json = "{";
  for (const auto& [k, v] : sorted) {
    absl::StrAppend(&json, json.size() > 1 ? "," : "", log::JsonQuote(k), ":", log::JsonQuote(v));
  }
  json.push_back('}');
  return json;
}

std::string DimensionsJson(const google::protobuf::Map<std::string, std::string>& dims) {
  return DimensionsJson(std::map<std::string, std::string>(dims.begin(), dims.end()));
}

struct ValidEmployee {
  v1::Employee employee;  // normalised, without the identity code
  std::string identity_hash;
  std::string birth_date;
};

int Utf8Length(absl::string_view text) {
  return static_cast<int>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

// The SEPA file names the payee "<first_name> <last_name>" (sepa.h: the EPC character set, at
// most 70 characters after transliteration). A name it cannot carry is refused here, when it is
// entered, rather than on pay day.
absl::Status ValidateNameForSepa(absl::string_view prefix, absl::string_view first_name,
                                 absl::string_view last_name) {
  const std::string first_field = absl::StrCat(prefix, ".first_name");
  const std::string last_field = absl::StrCat(prefix, ".last_name");
  ASSIGN_OR_RETURN(std::string first, ToSepaText(first_field, first_name, kSepaMaxNameLength));
  ASSIGN_OR_RETURN(std::string last, ToSepaText(last_field, last_name, kSepaMaxNameLength));
  const int length = Utf8Length(first) + 1 + Utf8Length(last);
  if (length > kSepaMaxNameLength) {
    return InvalidField(last_field,
                        absl::StrCat("first_name, a space and last_name are the payee's name in the"
                                     " bank file: at most ",
                                     kSepaMaxNameLength, " characters, got ", length));
  }
  return absl::OkStatus();
}

// The schema's BICIdentifier: [A-Z]{6}[A-Z2-9][A-NP-Z0-9]([A-Z0-9]{3})? (upper case).
bool IsBic(absl::string_view bic) {
  if (bic.size() != 8 && bic.size() != 11) {
    return false;
  }
  for (size_t i = 0; i < bic.size(); ++i) {
    const char c = bic[i];
    const bool ok = i < 6    ? absl::ascii_isupper(c)
                    : i == 6 ? absl::ascii_isupper(c) || (c >= '2' && c <= '9')
                    : i == 7 ? (absl::ascii_isupper(c) && c != 'O') || absl::ascii_isdigit(c)
                             : absl::ascii_isupper(c) || absl::ascii_isdigit(c);
    if (!ok) {
      return false;
    }
  }
  return true;
}

absl::StatusOr<ValidEmployee> ValidateEmployee(const v1::Employee& in, absl::string_view prefix,
                                               const std::string& identity_key) {
  auto f = [&](absl::string_view name) { return absl::StrCat(prefix, ".", name); };
  ValidEmployee out;
  v1::Employee& e = out.employee;
  e = in;
  e.clear_personal_identity_code();
  e.clear_birth_date();
  e.clear_updated_at();
  RETURN_IF_ERROR(ValidateEmployeeNumber(f("employee_number"), in.employee_number()));
  if (in.first_name().empty()) return InvalidField(f("first_name"), "required");
  if (in.last_name().empty()) return InvalidField(f("last_name"), "required");
  RETURN_IF_ERROR(ValidateText(f("first_name"), in.first_name(), 100));
  RETURN_IF_ERROR(ValidateText(f("last_name"), in.last_name(), 100));
  RETURN_IF_ERROR(ValidateNameForSepa(prefix, in.first_name(), in.last_name()));
  if (in.personal_identity_code().empty()) {
    return InvalidField(f("personal_identity_code"), "required");
  }
  ASSIGN_OR_RETURN(
      fi::PersonalIdentityCode hetu,
      fi::ParsePersonalIdentityCode(f("personal_identity_code"), in.personal_identity_code()));
  ASSIGN_OR_RETURN(out.identity_hash, fi::HmacSha256Hex(identity_key, hetu.code));
  out.birth_date = FormatDate(hetu.birth_date);
  ASSIGN_OR_RETURN(std::string iban, fi::ParseIban(f("iban"), in.iban()));
  e.set_iban(iban);
  if (in.bic().empty()) {
    ASSIGN_OR_RETURN(std::optional<std::string> bic, fi::BicOf(f("iban"), iban));
    e.set_bic(bic.value_or(""));
  } else {
    // The bank file carries it as given: check it as the file's schema does.
    const std::string bic = absl::AsciiStrToUpper(in.bic());
    if (!IsBic(bic)) {
      return InvalidField(f("bic"), "a BIC: 8 or 11 letters and digits, e.g. NDEAFIHH");
    }
    e.set_bic(bic);
  }
  const v1::Employment& job = in.employment();
  auto j = [&](absl::string_view name) { return absl::StrCat(prefix, ".employment.", name); };
  ASSIGN_OR_RETURN(absl::CivilDay start, ParseDate(j("start_date"), job.start_date()));
  if (!job.end_date().empty()) {
    ASSIGN_OR_RETURN(absl::CivilDay end, ParseDate(j("end_date"), job.end_date()));
    if (end < start) return InvalidField(j("end_date"), "before start_date");
  }
  if (job.cost_centre().empty()) return InvalidField(j("cost_centre"), "required");
  RETURN_IF_ERROR(ValidateText(j("cost_centre"), job.cost_centre(), 64));
  for (const auto& [key, value] : job.dimensions()) {
    if (key == "cost_centre" || !IsValidCode(key, 32)) {
      return InvalidField(j("dimensions"),
                          absl::StrCat("bad dimension key \"", absl::CHexEscape(key), "\""));
    }
    RETURN_IF_ERROR(ValidateText(j(absl::StrCat("dimensions[", key, "]")), value, 64));
  }
  switch (job.salary_basis()) {
    case v1::SALARY_BASIS_MONTHLY:
      if (job.monthly_salary_minor() <= 0 || job.monthly_salary_minor() > kMaxAmountCents) {
        return InvalidField(j("monthly_salary_minor"), "required for a monthly salary, > 0");
      }
      break;
    case v1::SALARY_BASIS_HOURLY:
      if (job.hourly_rate_minor() <= 0) {
        return InvalidField(j("hourly_rate_minor"), "required for hourly pay, > 0");
      }
      break;
    default:
      return InvalidField(j("salary_basis"), "MONTHLY or HOURLY");
  }
  if (job.monthly_salary_minor() < 0) return InvalidField(j("monthly_salary_minor"), ">= 0");
  if (job.hourly_rate_minor() < 0 || job.hourly_rate_minor() > kMaxUnitRateCents) {
    return InvalidField(j("hourly_rate_minor"), "between 0 and 1 000 000.00");
  }
  if (job.pension_scheme() != v1::PENSION_SCHEME_KEVA &&
      job.pension_scheme() != v1::PENSION_SCHEME_TYEL) {
    return InvalidField(j("pension_scheme"), "KEVA or TYEL");
  }
  RETURN_IF_ERROR(ValidateRate(j("union_fee_ppm"), job.union_fee_ppm()));
  return out;
}

// Inserts or replaces `employees` (distinct numbers) in one statement; RETURNING kEmployeeColumns.
pqxx::result UpsertEmployees(pqxx::work& tx, const std::string& tenant,
                             const std::vector<const ValidEmployee*>& employees) {
  std::vector<std::string> numbers, first_names, last_names, hashes, birth_dates, ibans, bics,
      start_dates, end_dates, cost_centres, dimensions;
  std::vector<int64_t> bases, monthly, hourly, schemes, union_fees;
  for (const ValidEmployee* valid : employees) {
    const v1::Employee& e = valid->employee;
    const v1::Employment& job = e.employment();
    numbers.push_back(e.employee_number());
    first_names.push_back(e.first_name());
    last_names.push_back(e.last_name());
    hashes.push_back(valid->identity_hash);
    birth_dates.push_back(valid->birth_date);
    ibans.push_back(e.iban());
    bics.push_back(e.bic());
    start_dates.push_back(job.start_date());
    end_dates.push_back(job.end_date());
    cost_centres.push_back(job.cost_centre());
    dimensions.push_back(DimensionsJson(job.dimensions()));
    bases.push_back(static_cast<int64_t>(job.salary_basis()));
    monthly.push_back(job.monthly_salary_minor());
    hourly.push_back(job.hourly_rate_minor());
    schemes.push_back(static_cast<int64_t>(job.pension_scheme()));
    union_fees.push_back(job.union_fee_ppm());
  }
  return tx.exec_params(
      absl::StrCat(
          "INSERT INTO employees (tenant_id, employee_number, first_name, last_name,"
          " identity_hash, birth_date, iban, bic, start_date, end_date, cost_centre,"
          " dimensions, salary_basis, monthly_salary_minor, hourly_rate_minor,"
          " pension_scheme, union_fee_ppm)"
          " SELECT $1, u.n, u.fn, u.ln, u.h, u.bd, u.iban, u.bic, u.sd, nullif(u.ed, '')::date,"
          " u.cc, u.dims, u.sb, u.ms, u.hr, u.ps, u.uf"
          " FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::date[], $7::text[],"
          " $8::text[], $9::date[], $10::text[], $11::text[], $12::jsonb[], $13::smallint[],"
          " $14::bigint[], $15::bigint[], $16::smallint[], $17::bigint[])"
          " AS u(n, fn, ln, h, bd, iban, bic, sd, ed, cc, dims, sb, ms, hr, ps, uf)"
          " ON CONFLICT (tenant_id, employee_number) DO UPDATE SET"
          " first_name = excluded.first_name, last_name = excluded.last_name,"
          " identity_hash = excluded.identity_hash, birth_date = excluded.birth_date,"
          " iban = excluded.iban, bic = excluded.bic, start_date = excluded.start_date,"
          " end_date = excluded.end_date, cost_centre = excluded.cost_centre,"
          " dimensions = excluded.dimensions, salary_basis = excluded.salary_basis,"
          " monthly_salary_minor = excluded.monthly_salary_minor,"
          " hourly_rate_minor = excluded.hourly_rate_minor,"
          " pension_scheme = excluded.pension_scheme,"
          " union_fee_ppm = excluded.union_fee_ppm, updated_at = now()"
          " RETURNING ",
          kEmployeeColumns),
      tenant, pg::TextArray(numbers), pg::TextArray(first_names), pg::TextArray(last_names),
      pg::TextArray(hashes), pg::TextArray(birth_dates), pg::TextArray(ibans), pg::TextArray(bics),
      pg::TextArray(start_dates), pg::TextArray(end_dates), pg::TextArray(cost_centres),
      pg::TextArray(dimensions), pg::Int64Array(bases), pg::Int64Array(monthly),
      pg::Int64Array(hourly), pg::Int64Array(schemes), pg::Int64Array(union_fees));
}

// --- pay items ---------------------------------------------------------------------------------

PayItemKind DomainKind(v1::PayItemKind kind) {
  return static_cast<PayItemKind>(static_cast<int>(kind) - 1);
}

absl::Status ValidatePayItem(const v1::PayItem& item, absl::string_view prefix) {
  auto f = [&](absl::string_view name) { return absl::StrCat(prefix, ".", name); };
  if (!IsValidCode(item.item_id(), 100)) {
    return InvalidField(f("item_id"), "1-100 characters: letters, digits, '_', '.', '-'");
  }
  RETURN_IF_ERROR(ValidateEmployeeNumber(f("employee_number"), item.employee_number()));
  RETURN_IF_ERROR(ParsePeriod(f("period"), item.period()).status());
  if (item.kind() < v1::PAY_ITEM_KIND_MONTHLY_SALARY || item.kind() > v1::PAY_ITEM_KIND_DEDUCTION) {
    return InvalidField(f("kind"), "required");
  }
  RETURN_IF_ERROR(ValidateText(f("description"), item.description(), kMaxDescriptionLength));
  if (!item.corrects_period().empty() || !item.paid_in_pay_run().empty()) {
    return InvalidField(f("corrects_period"), "set by payroll, not by the caller");
  }
  const bool quantity_form = item.quantity_centi() != 0 || item.unit_rate_minor() != 0;
  const bool needs_quantity = item.kind() == v1::PAY_ITEM_KIND_HOURLY_WORK ||
                              item.kind() == v1::PAY_ITEM_KIND_OVERTIME_50 ||
                              item.kind() == v1::PAY_ITEM_KIND_OVERTIME_100;
  if (quantity_form) {
    if (item.amount_minor() != 0) {
      return InvalidField(f("amount_minor"),
                          "give either quantity_centi x unit_rate_minor or amount_minor");
    }
    if (item.quantity_centi() <= 0 || item.quantity_centi() > kMaxQuantityHundredths) {
      return InvalidField(f("quantity_centi"), "> 0 and at most 100000000 (hundredths)");
    }
    if (item.unit_rate_minor() <= 0 || item.unit_rate_minor() > kMaxUnitRateCents) {
      return InvalidField(f("unit_rate_minor"), "> 0 and at most 100000000");
    }
  } else {
    if (needs_quantity) {
      return InvalidField(f("quantity_centi"),
                          "hours and overtime need quantity_centi x unit_rate_minor");
    }
    if (item.amount_minor() <= 0 || item.amount_minor() > kMaxAmountCents) {
      return InvalidField(f("amount_minor"), "> 0 (corrections are made by payroll)");
    }
  }
  return absl::OkStatus();
}

PayItem DomainItem(const v1::PayItem& item) {
  PayItem out;
  out.kind = DomainKind(item.kind());
  out.description = item.description();
  out.quantity_hundredths = item.quantity_centi();
  out.unit_rate_cents = item.unit_rate_minor();
  if (item.quantity_centi() == 0 && item.unit_rate_minor() == 0) {
    out.amount_cents = item.amount_minor();
  }
  return out;
}

// --- pay runs ----------------------------------------------------------------------------------

const std::string kPayRunColumns =
    "pay_run_id, period, payment_date::text, status, summary, ledger_sequence, delivery_error, " +
    Ts("created_at") + ", " + Ts("calculated_at") + ", " + Ts("approved_at") + ", " +
    Ts("posted_at") + ", approvals_seen";

v1::PayRun PayRunFromRow(const pqxx::row& r) {
  v1::PayRun run;
  if (!r[4].is_null()) {
    pqxx::binarystring summary(r[4]);
    run.ParseFromString(summary.str());
  }
  run.set_pay_run_id(r[0].as<std::string>());
  run.set_period(r[1].as<std::string>());
  run.set_payment_date(r[2].as<std::string>());
  run.set_status(static_cast<v1::PayRunStatus>(r[3].as<int>()));
  run.set_ledger_sequence(r[5].as<int64_t>());
  run.set_delivery_error(r[6].as<std::string>());
  run.set_created_at(r[7].as<std::string>());
  run.set_calculated_at(r[8].as<std::string>());
  run.set_approved_at(r[9].as<std::string>());
  run.set_posted_at(r[10].as<std::string>());
  return run;
}

absl::StatusOr<v1::PayRun> LoadPayRun(pqxx::work& tx, const std::string& tenant,
                                      const std::string& pay_run_id, bool for_update,
                                      int64_t* approvals_seen = nullptr) {
  if (pay_run_id.empty()) {
    return InvalidField("pay_run_id", "required");
  }
  pqxx::result r =
      tx.exec_params(absl::StrCat("SELECT ", kPayRunColumns,
                                  " FROM pay_runs WHERE tenant_id = $1 AND pay_run_id = $2",
                                  for_update ? " FOR UPDATE" : ""),
                     tenant, pay_run_id);
  if (r.empty()) {
    return absl::NotFoundError(absl::StrCat("pay_run_id: pay run ", pay_run_id, " does not exist"));
  }
  if (approvals_seen != nullptr) {
    *approvals_seen = r[0][11].as<int64_t>();
  }
  return PayRunFromRow(r[0]);
}

void SetFigures(v1::PayRunTotalsFigures* out, const PayslipTotals& t, int payslips) {
  out->set_payslips(payslips);
  out->set_gross_cash_minor(t.gross_cash_pay_cents);
  out->set_benefits_in_kind_minor(t.benefits_in_kind_cents);
  out->set_reimbursements_minor(t.reimbursements_cents);
  out->set_withholding_minor(t.withholding_cents);
  out->set_employee_pension_minor(t.employee_pension_cents);
  out->set_employee_unemployment_minor(t.employee_unemployment_cents);
  out->set_union_fees_minor(t.union_fee_cents);
  out->set_deductions_minor(t.deductions_cents);
  out->set_net_pay_minor(t.net_pay_cents);
  out->set_employer_pension_minor(t.employer_pension_cents);
  out->set_employer_unemployment_minor(t.employer_unemployment_cents);
  out->set_employer_health_insurance_minor(t.employer_health_insurance_cents);
  out->set_employer_accident_insurance_minor(t.employer_accident_insurance_cents);
  out->set_employer_group_life_minor(t.employer_group_life_insurance_cents);
}

PayslipTotals TotalsOf(const v1::PayRunTotalsFigures& f) {
  PayslipTotals t;
  t.gross_cash_pay_cents = f.gross_cash_minor();
  t.benefits_in_kind_cents = f.benefits_in_kind_minor();
  t.taxable_pay_cents = f.gross_cash_minor() + f.benefits_in_kind_minor();
  t.reimbursements_cents = f.reimbursements_minor();
  t.withholding_cents = f.withholding_minor();
  t.employee_pension_cents = f.employee_pension_minor();
  t.employee_unemployment_cents = f.employee_unemployment_minor();
  t.union_fee_cents = f.union_fees_minor();
  t.deductions_cents = f.deductions_minor();
  t.net_pay_cents = f.net_pay_minor();
  t.employer_pension_cents = f.employer_pension_minor();
  t.employer_unemployment_cents = f.employer_unemployment_minor();
  t.employer_health_insurance_cents = f.employer_health_insurance_minor();
  t.employer_accident_insurance_cents = f.employer_accident_insurance_minor();
  t.employer_group_life_insurance_cents = f.employer_group_life_minor();
  return t;
}

void LineToProto(const PayslipLine& l, v1::PayslipLine* out) {
  out->set_code(l.code);
  out->set_description(l.description);
  out->set_quantity_centi(l.quantity_hundredths);
  out->set_base_minor(l.quantity_hundredths != 0 ? l.unit_rate_cents : l.base_cents);
  out->set_rate_ppm(l.rate.has_value()
                        ? l.rate->ppm()
                        : (l.multiplier_percent != 0 ? l.multiplier_percent * 10000 : 0));
  out->set_amount_minor(l.amount_cents);
  out->set_rate_table_version(l.rate_table_version);
  if (l.corrects_period.has_value()) {
    out->set_corrects_period(FormatPeriod(*l.corrects_period));
  }
  out->set_provisional(l.provisional);
}

// --- settings ----------------------------------------------------------------------------------

PostingAccountNumbers AccountsOf(const v1::PayrollSettings& s) {
  PostingAccountNumbers a;
  const v1::PostingAccounts& p = s.accounts();
  auto pick = [](const std::string& set, std::string& field) {
    if (!set.empty()) field = set;
  };
  pick(p.wages(), a.wages);
  pick(p.reimbursements(), a.reimbursements);
  pick(p.pension_costs(), a.pension_costs);
  pick(p.other_social_costs(), a.other_social_costs);
  pick(p.withholding_payable(), a.withholding_payable);
  pick(p.pension_payable(), a.pension_payable);
  pick(p.unemployment_payable(), a.unemployment_payable);
  pick(p.health_insurance_payable(), a.health_insurance_payable);
  pick(p.other_payable(), a.other_payable);
  pick(p.net_pay_payable(), a.net_pay_payable);
  return a;
}

v1::PayrollSettings WithDefaults(v1::PayrollSettings s) {
  PostingAccountNumbers a = AccountsOf(s);
  v1::PostingAccounts* p = s.mutable_accounts();
  p->set_wages(a.wages);
  p->set_reimbursements(a.reimbursements);
  p->set_pension_costs(a.pension_costs);
  p->set_other_social_costs(a.other_social_costs);
  p->set_withholding_payable(a.withholding_payable);
  p->set_pension_payable(a.pension_payable);
  p->set_unemployment_payable(a.unemployment_payable);
  p->set_health_insurance_payable(a.health_insurance_payable);
  p->set_other_payable(a.other_payable);
  p->set_net_pay_payable(a.net_pay_payable);
  if (s.unemployment_tier() == v1::UNEMPLOYMENT_TIER_UNSPECIFIED) {
    s.set_unemployment_tier(v1::UNEMPLOYMENT_TIER_LOWER);
  }
  return s;
}

absl::StatusOr<v1::PayrollSettings> LoadSettings(pqxx::work& tx, const std::string& tenant) {
  pqxx::result r = tx.exec_params(
      "SELECT settings_json::text, " + Ts("updated_at") + " FROM settings WHERE tenant_id = $1",
      tenant);
  v1::PayrollSettings s;
  if (!r.empty()) {
    auto parsed = google::protobuf::util::JsonStringToMessage(r[0][0].as<std::string>(), &s);
    if (!parsed.ok()) {
      return absl::InternalError("stored payroll settings do not parse");
    }
    s.set_updated_at(r[0][1].as<std::string>());
  }
  return WithDefaults(std::move(s));
}

OrganisationSettings DomainSettings(const v1::PayrollSettings& s, PensionScheme scheme) {
  OrganisationSettings o;
  if (s.pension_total_ppm() > 0) {
    if (scheme == PensionScheme::kKeva) {
      o.keva_total = Percentage::FromPpm(s.pension_total_ppm());
    } else {
      o.tyel_total = Percentage::FromPpm(s.pension_total_ppm());
    }
  }
  o.unemployment_tier = s.unemployment_tier() == v1::UNEMPLOYMENT_TIER_UPPER
                            ? UnemploymentTier::kUpper
                            : UnemploymentTier::kLower;
  if (s.accident_insurance_ppm() > 0) {
    o.accident_insurance_rate = Percentage::FromPpm(s.accident_insurance_ppm());
  }
  if (s.group_life_insurance_ppm() > 0) {
    o.group_life_insurance_rate = Percentage::FromPpm(s.group_life_insurance_ppm());
  }
  return o;
}

}  // namespace

namespace {

// "payrun:<id>": the subject of a pay run's posting in the outbox.
constexpr char kPayRunSubject[] = "payrun:";

std::string PayRunOf(const outbox::Message& message) {
  return message.subject.substr(sizeof(kPayRunSubject) - 1);
}

}  // namespace

PayrollRepository::PayrollRepository(pg::Pool* pool, Options options)
    : pool_(pool),
      options_(std::move(options)),
      metrics_(options_.registry),
      outbox_(pool, {.on_delivered =
                         [](pqxx::work& tx, const outbox::Message& m, int64_t sequence) {
                           tx.exec_params(
                               "UPDATE pay_runs SET status = $3, ledger_sequence = $4,"
                               " posted_at = now(), delivery_error = '' WHERE tenant_id = $1 AND"
                               " pay_run_id = $2 AND status = $5",
                               m.tenant, PayRunOf(m), static_cast<int>(v1::PAY_RUN_STATUS_POSTED),
                               sequence, static_cast<int>(v1::PAY_RUN_STATUS_APPROVED));
                         },
                     .on_failed =
                         [](pqxx::work& tx, const outbox::Message& m, const std::string& error) {
                           tx.exec_params(
                               "UPDATE pay_runs SET delivery_error = $3 WHERE tenant_id = $1 AND"
                               " pay_run_id = $2",
                               m.tenant, PayRunOf(m), error);
                         }}) {}

// --- employees -----------------------------------------------------------------------------------

absl::StatusOr<v1::Employee> PayrollRepository::UpsertEmployee(
    const CallContext& call, const v1::UpsertEmployeeRequest& req) {
  RETURN_IF_ERROR(ValidateRequestId("request_id", req.request_id()));
  absl::StatusOr<ValidEmployee> validated =
      ValidateEmployee(req.employee(), "employee", options_.identity_key);
  if (!validated.ok()) {
    metrics_.EmployeesRejected(PayrollMetrics::EmployeeRpc::kUpsertEmployee, 1);
    return validated.status();
  }
  const ValidEmployee& valid = *validated;
  // The fingerprint of the request must not let anyone recover the identity code by trying
  // every code (a plain hash would): fingerprint it with the keyed hash in the code's place.
  v1::UpsertEmployeeRequest fingerprinted = req;
  fingerprinted.mutable_employee()->set_personal_identity_code(valid.identity_hash);
  return pg::InTenantTransaction<v1::Employee>(
      *pool_, call.tenant, Tx(call), [&](pqxx::work& tx) -> absl::StatusOr<v1::Employee> {
        return pg::Idempotent<v1::Employee>(
            tx, Key(call, req.request_id()), "UpsertEmployee", fingerprinted,
            [&]() -> absl::StatusOr<v1::Employee> {
              return EmployeeFromRow(UpsertEmployees(tx, call.tenant, {&valid})[0]);
            });
      });
}

absl::StatusOr<v1::Employee> PayrollRepository::GetEmployee(const CallContext& call,
                                                            const v1::GetEmployeeRequest& req) {
  RETURN_IF_ERROR(ValidateEmployeeNumber("employee_number", req.employee_number()));
  return pg::InTenantTransaction<v1::Employee>(
      *pool_, call.tenant, Tx(call, true), [&](pqxx::work& tx) -> absl::StatusOr<v1::Employee> {
        pqxx::result r = tx.exec_params(
            absl::StrCat("SELECT ", kEmployeeColumns,
                         " FROM employees WHERE tenant_id = $1 AND employee_number = $2"),
            call.tenant, req.employee_number());
        if (r.empty()) {
          return absl::NotFoundError(
              absl::StrCat("employee_number: employee ", req.employee_number(), " not found"));
        }
        return EmployeeFromRow(r[0]);
      });
}

absl::StatusOr<v1::ListEmployeesResponse> PayrollRepository::ListEmployees(
    const CallContext& call, const v1::ListEmployeesRequest& req) {
  if (req.page_size() < 0 || req.page_size() > kMaxPageSize) {
    return InvalidField("page_size", absl::StrCat("0-", kMaxPageSize));
  }
  const int limit = req.page_size() == 0 ? kDefaultPageSize : req.page_size();
  return pg::InTenantTransaction<v1::ListEmployeesResponse>(
      *pool_, call.tenant, Tx(call, true),
      [&](pqxx::work& tx) -> absl::StatusOr<v1::ListEmployeesResponse> {
        v1::ListEmployeesResponse resp;
        pqxx::result r = tx.exec_params(
            absl::StrCat("SELECT ", kEmployeeColumns,
                         " FROM employees WHERE tenant_id = $1 AND employee_number > $2"
                         " ORDER BY employee_number LIMIT $3"),
            call.tenant, req.page_token(), limit + 1);
        for (int i = 0; i < static_cast<int>(r.size()) && i < limit; ++i) {
          *resp.add_employees() = EmployeeFromRow(r[i]);
        }
        if (static_cast<int>(r.size()) > limit) {
          resp.set_next_page_token(resp.employees(limit - 1).employee_number());
        }
        return resp;
      });
}

absl::StatusOr<v1::ImportEmployeesResponse> PayrollRepository::ImportEmployeesBatch(
    const CallContext& call, const v1::ImportEmployeesRequest& req) {
  RETURN_IF_ERROR(ValidateRequestId("request_id", req.request_id()));
  if (req.employees_size() > kMaxItemsPerRequest) {
    return InvalidField("employees", absl::StrCat("at most ", kMaxItemsPerRequest, " per batch"));
  }
  v1::ImportEmployeesResponse result;
  // The fingerprint holds each identity code's keyed hash in its place (see UpsertEmployee); an
  // invalid code is hashed as given, so a replay still matches.
  v1::ImportEmployeesRequest fingerprinted = req;
  std::vector<ValidEmployee> valid;
  valid.reserve(req.employees_size());
  std::map<std::string, int> index_of;
  for (int i = 0; i < req.employees_size(); ++i) {
    const v1::Employee& in = req.employees(i);
    if (!in.personal_identity_code().empty()) {
      ASSIGN_OR_RETURN(std::string hash,
                       fi::HmacSha256Hex(options_.identity_key, in.personal_identity_code()));
      fingerprinted.mutable_employees(i)->set_personal_identity_code(hash);
    }
    const std::string prefix = absl::StrCat("employees[", i, "]");
    auto reject = [&](const absl::Status& status) {
      v1::Rejection* r = result.add_rejected();
      r->set_index(i);
      if (ValidateEmployeeNumber("", in.employee_number()).ok()) {
        r->set_key(in.employee_number());
      }
      r->set_message(std::string(status.message()));
    };
    absl::StatusOr<ValidEmployee> employee = ValidateEmployee(in, prefix, options_.identity_key);
    if (!employee.ok()) {
      reject(employee.status());
      continue;
    }
    auto [first, inserted] = index_of.emplace(in.employee_number(), i);
    if (!inserted) {
      reject(InvalidField(absl::StrCat(prefix, ".employee_number"),
                          absl::StrCat(in.employee_number(),
                                       " is repeated in this batch (first at"
                                       " employees[",
                                       first->second, "])")));
      continue;
    }
    valid.push_back(*std::move(employee));
  }
  result.set_accepted(static_cast<int32_t>(valid.size()));
  if (valid.empty()) {
    // Every row refused: nothing to write, not even the idempotency record (a replay is refused
    // the same way).
    metrics_.EmployeesRejected(PayrollMetrics::EmployeeRpc::kImportEmployees,
                               result.rejected_size());
    return result;
  }
  bool ran = false;  // false: a replay of an earlier batch, whose rejections are counted already
  absl::StatusOr<v1::ImportEmployeesResponse> response =
      pg::InTenantTransaction<v1::ImportEmployeesResponse>(
          *pool_, call.tenant, Tx(call),
          [&](pqxx::work& tx) -> absl::StatusOr<v1::ImportEmployeesResponse> {
            ran = false;
            return pg::Idempotent<v1::ImportEmployeesResponse>(
                tx, Key(call, req.request_id()), "ImportEmployees", fingerprinted,
                [&]() -> absl::StatusOr<v1::ImportEmployeesResponse> {
                  ran = true;
                  if (!valid.empty()) {
                    std::vector<const ValidEmployee*> rows;
                    rows.reserve(valid.size());
                    for (const ValidEmployee& v : valid) rows.push_back(&v);
                    UpsertEmployees(tx, call.tenant, rows);
                  }
                  return result;
                });
          });
  if (response.ok() && ran) {
    metrics_.EmployeesRejected(PayrollMetrics::EmployeeRpc::kImportEmployees,
                               response->rejected_size());
  }
  return response;
}

// --- tax cards -----------------------------------------------------------------------------------

absl::StatusOr<v1::TaxCard> PayrollRepository::SetTaxCard(const CallContext& call,
                                                          const v1::SetTaxCardRequest& req) {
  RETURN_IF_ERROR(ValidateRequestId("request_id", req.request_id()));
  const v1::TaxCard& card = req.tax_card();
  RETURN_IF_ERROR(ValidateEmployeeNumber("tax_card.employee_number", card.employee_number()));
  RETURN_IF_ERROR(ParseDate("tax_card.valid_from", card.valid_from()).status());
  RETURN_IF_ERROR(ValidateRate("tax_card.base_rate_ppm", card.base_rate_ppm()));
  RETURN_IF_ERROR(ValidateRate("tax_card.additional_rate_ppm", card.additional_rate_ppm()));
  if (card.income_limit_minor() < 0 || card.income_limit_minor() > kMaxAmountCents) {
    return InvalidField("tax_card.income_limit_minor", ">= 0");
  }
  return pg::InTenantTransaction<v1::TaxCard>(
      *pool_, call.tenant, Tx(call), [&](pqxx::work& tx) -> absl::StatusOr<v1::TaxCard> {
        return pg::Idempotent<v1::TaxCard>(
            tx, Key(call, req.request_id()), "SetTaxCard", req,
            [&]() -> absl::StatusOr<v1::TaxCard> {
              if (tx.exec_params("SELECT 1 FROM employees WHERE tenant_id = $1 AND"
                                 " employee_number = $2",
                                 call.tenant, card.employee_number())
                      .empty()) {
                return absl::NotFoundError(absl::StrCat("tax_card.employee_number: employee ",
                                                        card.employee_number(), " not found"));
              }
              tx.exec_params(
                  "INSERT INTO tax_cards (tenant_id, employee_number, valid_from, base_rate_ppm,"
                  " additional_rate_ppm, income_limit_minor) VALUES ($1, $2, $3::date, $4, $5, $6)"
                  " ON CONFLICT (tenant_id, employee_number, valid_from) DO UPDATE SET"
                  " base_rate_ppm = excluded.base_rate_ppm,"
                  " additional_rate_ppm = excluded.additional_rate_ppm,"
                  " income_limit_minor = excluded.income_limit_minor",
                  call.tenant, card.employee_number(), card.valid_from(), card.base_rate_ppm(),
                  card.additional_rate_ppm(), card.income_limit_minor());
              return card;
            });
      });
}

absl::StatusOr<v1::ListTaxCardsResponse> PayrollRepository::ListTaxCards(
    const CallContext& call, const v1::ListTaxCardsRequest& req) {
  RETURN_IF_ERROR(ValidateEmployeeNumber("employee_number", req.employee_number()));
  return pg::InTenantTransaction<v1::ListTaxCardsResponse>(
      *pool_, call.tenant, Tx(call, true),
      [&](pqxx::work& tx) -> absl::StatusOr<v1::ListTaxCardsResponse> {
        v1::ListTaxCardsResponse resp;
        for (const auto& r : tx.exec_params(
                 "SELECT valid_from::text, base_rate_ppm, additional_rate_ppm, income_limit_minor"
                 " FROM tax_cards WHERE tenant_id = $1 AND employee_number = $2"
                 " ORDER BY valid_from",
                 call.tenant, req.employee_number())) {
          v1::TaxCard* c = resp.add_tax_cards();
          c->set_employee_number(req.employee_number());
          c->set_valid_from(r[0].as<std::string>());
          c->set_base_rate_ppm(r[1].as<int64_t>());
          c->set_additional_rate_ppm(r[2].as<int64_t>());
          c->set_income_limit_minor(r[3].as<int64_t>());
        }
        return resp;
      });
}

// --- rate tables and settings --------------------------------------------------------------------

absl::StatusOr<std::vector<RateTable>> PayrollRepository::AllRateTables(pqxx::work& tx) {
  std::vector<RateTable> tables = BuiltInRateTables();
  for (const auto& r : tx.exec("SELECT table_text FROM rate_tables ORDER BY loaded_at, version")) {
    absl::StatusOr<RateTable> table = ParseRateTable(r[0].as<std::string>());
    if (!table.ok()) {
      return absl::InternalError(
          absl::StrCat("a stored rate table does not parse: ", table.status().message()));
    }
    tables.push_back(*std::move(table));
  }
  return tables;
}

namespace {

v1::RateTable RateTableToProto(const RateTable& t, bool built_in, const std::string& loaded_at) {
  v1::RateTable out;
  out.set_version(t.version);
  out.set_valid_from(FormatDate(t.valid_from));
  out.set_text(FormatRateTable(t));
  for (const std::string& f : t.provisional_fields) {
    out.add_provisional_fields(f);
  }
  out.set_built_in(built_in);
  out.set_loaded_at(loaded_at);
  return out;
}

}  // namespace

absl::StatusOr<v1::RateTable> PayrollRepository::LoadRateTable(
    const CallContext& call, const v1::LoadRateTableRequest& req) {
  RETURN_IF_ERROR(ValidateRequestId("request_id", req.request_id()));
  absl::StatusOr<RateTable> parsed = ParseRateTable(req.table().text());
  if (!parsed.ok()) {
    return InvalidField("table.text", parsed.status().message());
  }
  for (const RateTable& built_in : BuiltInRateTables()) {
    if (built_in.version == parsed->version) {
      return absl::AlreadyExistsError(
          absl::StrCat("table.text: version ", parsed->version,
                       " is built in; give the new table a new version"));
    }
  }
  return pg::InTenantTransaction<v1::RateTable>(
      *pool_, call.tenant, Tx(call), [&](pqxx::work& tx) -> absl::StatusOr<v1::RateTable> {
        return pg::Idempotent<v1::RateTable>(
            tx, Key(call, req.request_id()), "LoadRateTable", req,
            [&]() -> absl::StatusOr<v1::RateTable> {
              pqxx::result r = tx.exec_params(
                  "INSERT INTO rate_tables (version, valid_from, table_text)"
                  " VALUES ($1, $2::date, $3) ON CONFLICT (version) DO NOTHING RETURNING " +
                      Ts("loaded_at"),
                  parsed->version, FormatDate(parsed->valid_from), FormatRateTable(*parsed));
              if (r.empty()) {
                return absl::AlreadyExistsError(
                    absl::StrCat("table.text: version ", parsed->version, " is already loaded"));
              }
              return RateTableToProto(*parsed, false, r[0][0].as<std::string>());
            });
      });
}

absl::StatusOr<v1::ListRateTablesResponse> PayrollRepository::ListRateTables(
    const CallContext& call) {
  return pg::InTenantTransaction<v1::ListRateTablesResponse>(
      *pool_, call.tenant, Tx(call, true),
      [&](pqxx::work& tx) -> absl::StatusOr<v1::ListRateTablesResponse> {
        v1::ListRateTablesResponse resp;
        for (const RateTable& t : BuiltInRateTables()) {
          *resp.add_tables() = RateTableToProto(t, true, "");
        }
        for (const auto& r : tx.exec("SELECT table_text, " + Ts("loaded_at") +
                                     " FROM rate_tables ORDER BY loaded_at, version")) {
          ASSIGN_OR_RETURN(RateTable t, ParseRateTable(r[0].as<std::string>()));
          *resp.add_tables() = RateTableToProto(t, false, r[1].as<std::string>());
        }
        return resp;
      });
}

absl::StatusOr<v1::PayrollSettings> PayrollRepository::SetPayrollSettings(
    const CallContext& call, const v1::SetPayrollSettingsRequest& req) {
  RETURN_IF_ERROR(ValidateRequestId("request_id", req.request_id()));
  const v1::PayrollSettings& s = req.settings();
  RETURN_IF_ERROR(ValidateRate("settings.pension_total_ppm", s.pension_total_ppm()));
  RETURN_IF_ERROR(ValidateRate("settings.accident_insurance_ppm", s.accident_insurance_ppm()));
  RETURN_IF_ERROR(ValidateRate("settings.group_life_insurance_ppm", s.group_life_insurance_ppm()));
  const v1::PostingAccounts& a = s.accounts();
  for (const auto& [name, value] : std::vector<std::pair<const char*, const std::string*>>{
           {"wages", &a.wages()},
           {"reimbursements", &a.reimbursements()},
           {"pension_costs", &a.pension_costs()},
           {"other_social_costs", &a.other_social_costs()},
           {"withholding_payable", &a.withholding_payable()},
           {"pension_payable", &a.pension_payable()},
           {"unemployment_payable", &a.unemployment_payable()},
           {"health_insurance_payable", &a.health_insurance_payable()},
           {"other_payable", &a.other_payable()},
           {"net_pay_payable", &a.net_pay_payable()}}) {
    RETURN_IF_ERROR(ValidateAccount(absl::StrCat("settings.accounts.", name), *value));
  }
  RETURN_IF_ERROR(ValidateText("settings.debtor_name", s.debtor_name(), 70));
  if (!v1::UnemploymentTier_IsValid(s.unemployment_tier())) {
    return InvalidField("settings.unemployment_tier",
                        absl::StrCat("unknown tier ", s.unemployment_tier()));
  }
  v1::PayrollSettings normalized = WithDefaults(s);
  normalized.clear_updated_at();
  if (!s.debtor_bic().empty()) {
    ASSIGN_OR_RETURN(std::string bic, NormaliseBic("settings.debtor_bic", s.debtor_bic()));
    normalized.set_debtor_bic(bic);
  }
  if (!s.debtor_iban().empty()) {
    ASSIGN_OR_RETURN(std::string iban, fi::ParseIban("settings.debtor_iban", s.debtor_iban()));
    normalized.set_debtor_iban(iban);
    if (s.debtor_bic().empty()) {
      ASSIGN_OR_RETURN(std::optional<std::string> bic, fi::BicOf("settings.debtor_iban", iban));
      normalized.set_debtor_bic(bic.value_or(""));
    }
  }
  if (!s.debtor_business_id().empty()) {
    RETURN_IF_ERROR(fi::ValidateBusinessId("settings.debtor_business_id", s.debtor_business_id()));
  }
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(normalized, &json).ok()) {
    return absl::InternalError("settings do not serialise");
  }
  return pg::InTenantTransaction<v1::PayrollSettings>(
      *pool_, call.tenant, Tx(call), [&](pqxx::work& tx) -> absl::StatusOr<v1::PayrollSettings> {
        return pg::Idempotent<v1::PayrollSettings>(
            tx, Key(call, req.request_id()), "SetPayrollSettings", req,
            [&]() -> absl::StatusOr<v1::PayrollSettings> {
              tx.exec_params(
                  "INSERT INTO settings (tenant_id, settings_json) VALUES ($1, $2::jsonb)"
                  " ON CONFLICT (tenant_id) DO UPDATE SET settings_json = excluded.settings_json,"
                  " updated_at = now()",
                  call.tenant, json);
              return LoadSettings(tx, call.tenant);
            });
      });
}

absl::StatusOr<v1::PayrollSettings> PayrollRepository::GetPayrollSettings(const CallContext& call) {
  return pg::InTenantTransaction<v1::PayrollSettings>(
      *pool_, call.tenant, Tx(call, true),
      [&](pqxx::work& tx) { return LoadSettings(tx, call.tenant); });
}

// --- pay items -----------------------------------------------------------------------------------

namespace {

// The employee numbers among `numbers` that name an employee.
std::set<std::string> KnownEmployees(pqxx::work& tx, const std::string& tenant,
                                     const std::set<std::string>& numbers) {
  std::set<std::string> known;
  for (const auto& r :
       tx.exec_params("SELECT employee_number FROM employees WHERE tenant_id = $1 AND"
                      " employee_number = ANY($2::text[])",
                      tenant, pg::TextArray({numbers.begin(), numbers.end()}))) {
    known.insert(r[0].as<std::string>());
  }
  return known;
}

// For each of `items` whose id is already stored: whether the stored item is the same item.
std::map<std::string, bool> StoredItems(pqxx::work& tx, const std::string& tenant,
                                        const std::vector<const v1::PayItem*>& items) {
  std::map<std::string, const v1::PayItem*> by_id;
  std::vector<std::string> ids;
  for (const v1::PayItem* item : items) {
    by_id[item->item_id()] = item;
    ids.push_back(item->item_id());
  }
  std::map<std::string, bool> stored;
  for (const auto& r : tx.exec_params(
           "SELECT item_id, employee_number, period, kind, quantity_centi, unit_rate_minor,"
           " amount_minor, description FROM pay_items WHERE tenant_id = $1 AND"
           " item_id = ANY($2::text[])",
           tenant, pg::TextArray(ids))) {
    const std::string id = r[0].as<std::string>();
    const v1::PayItem& item = *by_id.at(id);
    stored[id] = r[1].as<std::string>() == item.employee_number() &&
                 r[2].as<std::string>() == item.period() &&
                 r[3].as<int>() == static_cast<int>(item.kind()) &&
                 r[4].as<int64_t>() == item.quantity_centi() &&
                 r[5].as<int64_t>() == item.unit_rate_minor() &&
                 r[6].as<int64_t>() == item.amount_minor() &&
                 r[7].as<std::string>() == item.description();
  }
  return stored;
}

// Inserts `items` (distinct ids) in one statement, skipping ids already stored, each new one also
// as unpaid; the number inserted.
int InsertPayItems(pqxx::work& tx, const std::string& tenant,
                   const std::vector<const v1::PayItem*>& items) {
  std::vector<std::string> item_ids, employees, periods, descriptions;
  std::vector<int64_t> kinds, quantities, rates, amounts;
  for (const v1::PayItem* item : items) {
    item_ids.push_back(item->item_id());
    employees.push_back(item->employee_number());
    periods.push_back(item->period());
    descriptions.push_back(item->description());
    kinds.push_back(static_cast<int64_t>(item->kind()));
    quantities.push_back(item->quantity_centi());
    rates.push_back(item->unit_rate_minor());
    amounts.push_back(item->amount_minor());
  }
  pqxx::result inserted = tx.exec_params(
      "WITH inserted AS (INSERT INTO pay_items (tenant_id, item_id, employee_number, period, kind,"
      " quantity_centi, unit_rate_minor, amount_minor, description)"
      " SELECT $1, u.* FROM unnest($2::text[], $3::text[], $4::text[], $5::int[],"
      " $6::bigint[], $7::bigint[], $8::bigint[], $9::text[])"
      " AS u ON CONFLICT (tenant_id, item_id) DO NOTHING"
      " RETURNING item_id, employee_number, period)"
      " INSERT INTO unpaid_items (tenant_id, item_id, employee_number, period)"
      " SELECT $1, item_id, employee_number, period FROM inserted RETURNING item_id",
      tenant, pg::TextArray(item_ids), pg::TextArray(employees), pg::TextArray(periods),
      pg::Int64Array(kinds), pg::Int64Array(quantities), pg::Int64Array(rates),
      pg::Int64Array(amounts), pg::TextArray(descriptions));
  return static_cast<int>(inserted.size());
}

}  // namespace

absl::StatusOr<v1::AddPayItemsResponse> PayrollRepository::AddPayItems(
    const CallContext& call, const v1::AddPayItemsRequest& req) {
  RETURN_IF_ERROR(ValidateRequestId("request_id", req.request_id()));
  if (req.items().empty()) {
    return InvalidField("items", "at least one");
  }
  if (req.items_size() > kMaxItemsPerRequest) {
    return InvalidField("items", absl::StrCat("at most ", kMaxItemsPerRequest, " per request"));
  }
  // The request is all or nothing: one item at fault refuses (and counts) every item of it.
  auto refuse = [&](absl::Status status) {
    metrics_.PayItemsRejected(PayrollMetrics::ItemRpc::kAddPayItems, req.items_size());
    return status;
  };
  std::set<std::string> ids;
  for (int i = 0; i < req.items_size(); ++i) {
    if (absl::Status status = ValidatePayItem(req.items(i), absl::StrCat("items[", i, "]"));
        !status.ok()) {
      return refuse(status);
    }
    if (!ids.insert(req.items(i).item_id()).second) {
      return refuse(
          InvalidField(absl::StrCat("items[", i, "].item_id"), "repeated in this request"));
    }
  }
  bool item_at_fault = false;  // refused below for one of the items, not for the request
  absl::StatusOr<v1::AddPayItemsResponse> response =
      pg::InTenantTransaction<v1::AddPayItemsResponse>(
          *pool_, call.tenant, Tx(call),
          [&](pqxx::work& tx) -> absl::StatusOr<v1::AddPayItemsResponse> {
            item_at_fault = false;
            return pg::Idempotent<v1::AddPayItemsResponse>(
                tx, Key(call, req.request_id()), "AddPayItems", req,
                [&]() -> absl::StatusOr<v1::AddPayItemsResponse> {
                  std::set<std::string> numbers;
                  std::vector<const v1::PayItem*> items;
                  for (const v1::PayItem& item : req.items()) {
                    numbers.insert(item.employee_number());
                    items.push_back(&item);
                  }
                  const std::set<std::string> known = KnownEmployees(tx, call.tenant, numbers);
                  for (int i = 0; i < req.items_size(); ++i) {
                    const v1::PayItem& item = req.items(i);
                    if (!known.contains(item.employee_number())) {
                      item_at_fault = true;
                      return absl::NotFoundError(
                          absl::StrCat("items[", i, "].employee_number: employee ",
                                       item.employee_number(), " not found"));
                    }
                  }
                  // An item id already used (by another request) must carry the same item.
                  const std::map<std::string, bool> stored = StoredItems(tx, call.tenant, items);
                  for (int i = 0; i < req.items_size(); ++i) {
                    auto it = stored.find(req.items(i).item_id());
                    if (it != stored.end() && !it->second) {
                      item_at_fault = true;
                      return absl::AlreadyExistsError(
                          absl::StrCat("items[", i, "].item_id: ", req.items(i).item_id(),
                                       " already names a different pay item"));
                    }
                  }
                  v1::AddPayItemsResponse resp;
                  resp.set_added(InsertPayItems(tx, call.tenant, items));
                  return resp;
                });
          });
  if (!response.ok() && item_at_fault) {
    return refuse(response.status());
  }
  return response;
}

absl::StatusOr<v1::ImportPayItemsResponse> PayrollRepository::ImportPayItemsBatch(
    const CallContext& call, const v1::ImportPayItemsRequest& req) {
  RETURN_IF_ERROR(ValidateRequestId("request_id", req.request_id()));
  if (req.items_size() > kMaxItemsPerRequest) {
    return InvalidField("items", absl::StrCat("at most ", kMaxItemsPerRequest, " per batch"));
  }
  struct Rejected {
    int index;
    std::string message;
  };
  auto key_of = [&](int i) {
    const std::string& id = req.items(i).item_id();
    return IsValidCode(id, 100) ? id : std::string();
  };
  // Checks that need no database.
  std::vector<Rejected> invalid;
  std::vector<int> candidates;
  std::map<std::string, int> index_of;
  for (int i = 0; i < req.items_size(); ++i) {
    const v1::PayItem& item = req.items(i);
    const std::string prefix = absl::StrCat("items[", i, "]");
    if (absl::Status status = ValidatePayItem(item, prefix); !status.ok()) {
      invalid.push_back({i, std::string(status.message())});
      continue;
    }
    auto [first, inserted] = index_of.emplace(item.item_id(), i);
    if (!inserted) {
      invalid.push_back(
          {i, absl::StrCat(prefix, ".item_id: ", item.item_id(),
                           " is repeated in this batch (first at items[", first->second, "])")});
      continue;
    }
    candidates.push_back(i);
  }
  if (candidates.empty()) {
    // Every item refused without looking at the database: nothing to write, not even the
    // idempotency record (a replay is refused the same way).
    v1::ImportPayItemsResponse resp;
    for (const Rejected& r : invalid) {
      v1::Rejection* out = resp.add_rejected();
      out->set_index(r.index);
      out->set_key(key_of(r.index));
      out->set_message(r.message);
    }
    metrics_.PayItemsRejected(PayrollMetrics::ItemRpc::kImportPayItems, resp.rejected_size());
    return resp;
  }
  bool ran = false;  // false: a replay of an earlier batch, whose rejections are counted already
  absl::StatusOr<v1::ImportPayItemsResponse> response =
      pg::InTenantTransaction<v1::ImportPayItemsResponse>(
          *pool_, call.tenant, Tx(call),
          [&](pqxx::work& tx) -> absl::StatusOr<v1::ImportPayItemsResponse> {
            ran = false;
            return pg::Idempotent<v1::ImportPayItemsResponse>(
                tx, Key(call, req.request_id()), "ImportPayItems", req,
                [&]() -> absl::StatusOr<v1::ImportPayItemsResponse> {
                  ran = true;
                  std::vector<Rejected> rejected = invalid;
                  std::set<std::string> numbers;
                  std::vector<const v1::PayItem*> items;
                  for (int i : candidates) {
                    numbers.insert(req.items(i).employee_number());
                    items.push_back(&req.items(i));
                  }
                  const std::set<std::string> known = KnownEmployees(tx, call.tenant, numbers);
                  const std::map<std::string, bool> stored = StoredItems(tx, call.tenant, items);
                  std::vector<const v1::PayItem*> accepted;
                  for (int i : candidates) {
                    const v1::PayItem& item = req.items(i);
                    if (!known.contains(item.employee_number())) {
                      rejected.push_back(
                          {i, absl::StrCat("items[", i, "].employee_number: employee ",
                                           item.employee_number(), " not found")});
                      continue;
                    }
                    auto it = stored.find(item.item_id());
                    if (it != stored.end() && !it->second) {
                      rejected.push_back(
                          {i, absl::StrCat("items[", i, "].item_id: ", item.item_id(),
                                           " already names a different pay item")});
                      continue;
                    }
                    accepted.push_back(&item);
                  }
                  if (!accepted.empty()) {
                    InsertPayItems(tx, call.tenant, accepted);
                  }
                  std::sort(rejected.begin(), rejected.end(),
                            [](const Rejected& a, const Rejected& b) { return a.index < b.index; });
                  v1::ImportPayItemsResponse resp;
                  resp.set_accepted(static_cast<int32_t>(accepted.size()));
                  for (const Rejected& r : rejected) {
                    v1::Rejection* out = resp.add_rejected();
                    out->set_index(r.index);
                    out->set_key(key_of(r.index));
                    out->set_message(r.message);
                  }
                  return resp;
                });
          });
  if (response.ok() && ran) {
    metrics_.PayItemsRejected(PayrollMetrics::ItemRpc::kImportPayItems, response->rejected_size());
  }
  return response;
}

absl::StatusOr<v1::ListPayItemsResponse> PayrollRepository::ListPayItems(
    const CallContext& call, const v1::ListPayItemsRequest& req) {
  if (!req.period().empty()) {
    RETURN_IF_ERROR(ParsePeriod("period", req.period()).status());
  }
  return pg::InTenantTransaction<v1::ListPayItemsResponse>(
      *pool_, call.tenant, Tx(call, true),
      [&](pqxx::work& tx) -> absl::StatusOr<v1::ListPayItemsResponse> {
        v1::ListPayItemsResponse resp;
        for (const auto& r : tx.exec_params(
                 "SELECT i.item_id, i.employee_number, i.period, i.kind, i.quantity_centi,"
                 " i.unit_rate_minor, i.amount_minor, i.description, coalesce(paid.pay_run_id, '')"
                 // A paid item is in exactly one approved run, of its period or later.
                 " FROM pay_items i LEFT JOIN LATERAL (SELECT p.pay_run_id FROM pay_runs p"
                 " WHERE p.tenant_id = i.tenant_id AND p.status IN (3, 4) /* APPROVED, POSTED */"
                 " AND p.period >= i.period AND NOT EXISTS (SELECT 1 FROM unpaid_items u"
                 " WHERE u.tenant_id = i.tenant_id AND u.item_id = i.item_id) AND EXISTS"
                 " (SELECT 1 FROM pay_run_items r WHERE r.tenant_id = p.tenant_id AND"
                 " r.pay_run_id = p.pay_run_id AND r.item_id = i.item_id) LIMIT 1) paid ON true"
                 " WHERE i.tenant_id = $1 AND ($2 = '' OR i.period = $2)"
                 " AND ($3 = '' OR i.employee_number = $3)"
                 " ORDER BY i.period, i.employee_number, i.item_id LIMIT 10000",
                 call.tenant, req.period(), req.employee_number())) {
          v1::PayItem* item = resp.add_items();
          item->set_item_id(r[0].as<std::string>());
          item->set_employee_number(r[1].as<std::string>());
          item->set_period(r[2].as<std::string>());
          item->set_kind(static_cast<v1::PayItemKind>(r[3].as<int>()));
          item->set_quantity_centi(r[4].as<int64_t>());
          item->set_unit_rate_minor(r[5].as<int64_t>());
          item->set_amount_minor(r[6].as<int64_t>());
          item->set_description(r[7].as<std::string>());
          item->set_paid_in_pay_run(r[8].as<std::string>());
        }
        return resp;
      });
}

// --- pay runs ------------------------------------------------------------------------------------

absl::StatusOr<v1::PayRun> PayrollRepository::CreatePayRun(const CallContext& call,
                                                           const v1::CreatePayRunRequest& req) {
  RETURN_IF_ERROR(ValidateRequestId("request_id", req.request_id()));
  ASSIGN_OR_RETURN(absl::CivilMonth period, ParsePeriod("period", req.period()));
  ASSIGN_OR_RETURN(absl::CivilDay payment, ParseDate("payment_date", req.payment_date()));
  if (payment < absl::CivilDay(period) || payment > absl::CivilDay(period + 2) - 1) {
    return InvalidField("payment_date", "within the period or the month after it");
  }
  return pg::InTenantTransaction<v1::PayRun>(
      *pool_, call.tenant, Tx(call), [&](pqxx::work& tx) -> absl::StatusOr<v1::PayRun> {
        return pg::Idempotent<v1::PayRun>(
            tx, Key(call, req.request_id()), "CreatePayRun", req,
            [&]() -> absl::StatusOr<v1::PayRun> {
              // Run ids "<period>-<n>", numbered per period.
              tx.exec_params("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                             absl::StrCat("payroll/pay_run_id/", call.tenant));
              int64_t n = tx.exec_params(
                                "SELECT count(*) FROM pay_runs WHERE tenant_id = $1"
                                " AND period = $2",
                                call.tenant, req.period())[0][0]
                              .as<int64_t>() +
                          1;
              std::string id = absl::StrCat(req.period(), "-", n);
              tx.exec_params(
                  "INSERT INTO pay_runs (tenant_id, pay_run_id, period, payment_date, status)"
                  " VALUES ($1, $2, $3, $4::date, $5)",
                  call.tenant, id, req.period(), req.payment_date(),
                  static_cast<int>(v1::PAY_RUN_STATUS_DRAFT));
              return LoadPayRun(tx, call.tenant, id, false);
            });
      });
}

namespace {

struct EmployeeFacts {
  v1::Employee employee;  // without the dimensions
  std::string dimensions_json;
  Employee domain;
  std::vector<TaxCard> tax_cards;
  std::vector<std::pair<std::string, PayItem>> items;  // item id, item
  int64_t ytd_taxable = 0;
};

// The monthly salary of `period` for an employment, prorated by calendar days when the
// employment starts or ends inside the period.
int64_t MonthlySalaryFor(const v1::Employment& job, absl::CivilMonth period) {
  const absl::CivilDay first(period);
  const absl::CivilDay last = absl::CivilDay(period + 1) - 1;
  absl::CivilDay start = *ParseDate("start_date", job.start_date());
  absl::CivilDay end = job.end_date().empty() ? last : *ParseDate("end_date", job.end_date());
  absl::CivilDay from = std::max(start, first);
  absl::CivilDay to = std::min(end, last);
  if (to < from) {
    return 0;
  }
  const int64_t days_in_month = last - first + 1;
  const int64_t days = to - from + 1;
  if (days == days_in_month) {
    return job.monthly_salary_minor();
  }
  // Half away from zero of salary * days / days_in_month (all positive).
  return (job.monthly_salary_minor() * days * 2 + days_in_month) / (2 * days_in_month);
}

// What a calculation of `run` works from, read in its transaction.
struct CalculationInput {
  v1::PayRun run;
  absl::CivilMonth period;
  absl::CivilDay payment;
  std::vector<RateTable> tables;
  v1::PayrollSettings settings;
  // Employees employed in the period or with unpaid items up to it, in employee-number order.
  std::map<std::string, EmployeeFacts> employees;
  // Employees with a monthly-salary item of the period itself (no salary from the employment).
  std::set<std::string> has_salary_item;
};

// Fills input.employees and input.has_salary_item.
void LoadEmployeeFacts(pqxx::work& tx, const std::string& tenant, CalculationInput& input) {
  const std::string& period = input.run.period();
  const std::string period_start = FormatDate(absl::CivilDay(input.period));
  const std::string period_end = FormatDate(absl::CivilDay(input.period + 1) - 1);
  std::map<std::string, EmployeeFacts>& facts = input.employees;
  for (const auto& r : tx.exec_params(
           absl::StrCat("SELECT ", kEmployeeColumns,
                        " FROM employees WHERE tenant_id = $1 AND ((start_date <= $3::date AND"
                        " (end_date IS NULL OR end_date >= $2::date)) OR employee_number IN"
                        " (SELECT employee_number FROM unpaid_items WHERE tenant_id = $1 AND"
                        " period <= $4))"),
           tenant, period_start, period_end, period)) {
    EmployeeFacts f;
    f.employee = EmployeeFromRow(r, /*with_dimensions=*/false);
    f.dimensions_json = r[9].as<std::string>();
    f.domain.birth_date = *ParseDate("birth_date", f.employee.birth_date());
    f.domain.pension_scheme = f.employee.employment().pension_scheme() == v1::PENSION_SCHEME_KEVA
                                  ? PensionScheme::kKeva
                                  : PensionScheme::kTyel;
    if (f.employee.employment().union_fee_ppm() > 0) {
      f.domain.union_fee_rate = Percentage::FromPpm(f.employee.employment().union_fee_ppm());
    }
    facts.emplace(f.employee.employee_number(), std::move(f));
  }
  for (const auto& r : tx.exec_params("SELECT employee_number, valid_from::text, base_rate_ppm,"
                                      " additional_rate_ppm, income_limit_minor FROM tax_cards"
                                      " WHERE tenant_id = $1 ORDER BY employee_number, valid_from",
                                      tenant)) {
    auto it = facts.find(r[0].as<std::string>());
    if (it == facts.end()) continue;
    it->second.tax_cards.push_back({.valid_from = *ParseDate("valid_from", r[1].as<std::string>()),
                                    .base_rate = Percentage::FromPpm(r[2].as<int64_t>()),
                                    .additional_rate = Percentage::FromPpm(r[3].as<int64_t>()),
                                    .income_limit_cents = r[4].as<int64_t>()});
  }
  for (const auto& r :
       tx.exec_params("SELECT i.item_id, i.employee_number, i.period, i.kind, i.quantity_centi,"
                      " i.unit_rate_minor, i.amount_minor, i.description FROM unpaid_items u"
                      " JOIN pay_items i ON i.tenant_id = u.tenant_id AND i.item_id = u.item_id"
                      " WHERE u.tenant_id = $1 AND u.period <= $2"
                      " ORDER BY i.employee_number, i.period, i.item_id",
                      tenant, period)) {
    auto it = facts.find(r[1].as<std::string>());
    if (it == facts.end()) continue;
    v1::PayItem item;
    item.set_kind(static_cast<v1::PayItemKind>(r[3].as<int>()));
    item.set_quantity_centi(r[4].as<int64_t>());
    item.set_unit_rate_minor(r[5].as<int64_t>());
    item.set_amount_minor(r[6].as<int64_t>());
    item.set_description(r[7].as<std::string>());
    PayItem domain = DomainItem(item);
    const std::string item_period = r[2].as<std::string>();
    if (item_period < period) {
      domain.corrects_period = *ParsePeriod("period", item_period);
    } else if (item.kind() == v1::PAY_ITEM_KIND_MONTHLY_SALARY) {
      input.has_salary_item.insert(it->first);
    }
    it->second.items.emplace_back(r[0].as<std::string>(), std::move(domain));
  }
  // Year-to-date taxable pay from runs already approved this calendar year.
  for (const auto& r : tx.exec_params(
           "SELECT s.employee_number, sum(s.taxable_minor)::bigint FROM payslips s"
           " JOIN pay_runs p ON p.tenant_id = s.tenant_id AND p.pay_run_id = s.pay_run_id"
           " WHERE s.tenant_id = $1 AND p.status IN (3, 4) /* APPROVED, POSTED */"
           " AND date_part('year', p.payment_date) = $2 GROUP BY s.employee_number",
           tenant, static_cast<int>(input.payment.year()))) {
    auto it = facts.find(r[0].as<std::string>());
    if (it != facts.end()) it->second.ytd_taxable = r[1].as<int64_t>();
  }
}

// Calculated payslips ready to insert: the payslips table's columns as binary arrays.
struct PayslipChunk {
  BinaryArray numbers{BinaryArray::kText};
  BinaryArray taxable{BinaryArray::kInt8};
  BinaryArray net{BinaryArray::kInt8};
  BinaryArray payslips{BinaryArray::kBytea};
  // The ids of the pay items these payslips pay (pay_run_items).
  BinaryArray item_ids{BinaryArray::kText};
  // Employees done (multiples of kProgressEvery) to report once this chunk is written.
  std::vector<int> progress;
};

// What a calculation found besides the payslips.
struct CalculationOutcome {
  PayslipTotals totals;
  int payslips = 0;
  std::set<std::string> versions;
  std::set<std::string> provisional;
  std::vector<v1::Rejection> skipped;
  // The payslips' figures per cost centre and dimensions (the employee's stored JSON text): the
  // posting groups, once each distinct text is parsed (PostingGroups).
  struct Group {
    PayslipTotals totals;
    int payslips = 0;
  };
  std::map<std::pair<std::string, std::string>, Group> groups;
};

// The posting groups of `outcome`, by group key (DimensionsJson of the cost centre and the other
// dimensions); figures with the number of payslips.
std::map<std::string, v1::PayRunTotalsFigures> PostingGroups(const CalculationOutcome& outcome) {
  std::map<std::string, CalculationOutcome::Group> merged;
  for (const auto& [cost_centre_and_dimensions, group] : outcome.groups) {
    const auto& [cost_centre, dimensions_json] = cost_centre_and_dimensions;
    std::map<std::string, std::string> dimensions = ParseDimensions(dimensions_json);
    dimensions["cost_centre"] = cost_centre;
    CalculationOutcome::Group& into = merged[DimensionsJson(dimensions)];
    AddTotals(into.totals, group.totals);
    into.payslips += group.payslips;
  }
  std::map<std::string, v1::PayRunTotalsFigures> out;
  for (const auto& [key, group] : merged) {
    SetFigures(&out[key], group.totals, group.payslips);
  }
  return out;
}

// Calculates the payslips of a run on a thread of its own and hands them over in chunks, so that
// payroll calculates the next chunk while PostgreSQL inserts the last one (the two would
// otherwise take turns). At most kQueued chunks wait: memory does not grow with the run.
//
//   PayslipCalculator calculator(input, &outcome);   // starts calculating
//   while (std::optional<PayslipChunk> chunk = calculator.Next()) { ...insert... }
//   // every payslip handed over; `outcome` is complete
//
// Destroying it before the end (an insert failed) stops the thread and waits for it.
class PayslipCalculator {
 public:
  // Payslips per chunk (one INSERT each).
  static constexpr int kChunk = 2000;
  static constexpr size_t kQueued = 2;

  // REQUIRES: input and outcome outlive the calculator; neither is touched by others meanwhile.
  PayslipCalculator(const CalculationInput& input, CalculationOutcome* outcome)
      : input_(input), outcome_(*outcome), thread_([this] { Run(); }) {}

  ~PayslipCalculator() {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    thread_.join();
  }

  // The next chunk, waiting for it; nullopt once every chunk was handed over (then status()
  // says whether the calculation ran to its end).
  std::optional<PayslipChunk> Next() {
    absl::MutexLock lock(&mu_);
    auto ready = [this]()
                     ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !queue_.empty() || finished_; };
    mu_.Await(absl::Condition(&ready));
    if (queue_.empty()) {
      return std::nullopt;
    }
    PayslipChunk chunk = std::move(queue_.front());
    queue_.pop_front();
    return chunk;
  }

  // INTERNAL if the calculation thread failed. REQUIRES: Next() returned nullopt.
  absl::Status status() {
    absl::MutexLock lock(&mu_);
    return error_;
  }

 private:
  void Run() {
    absl::Status error;
    try {
      PayslipChunk chunk;
      int index = 0;
      for (const auto& [number, facts] : input_.employees) {
        if (index > 0 && index % PayrollRepository::kProgressEvery == 0) {
          chunk.progress.push_back(index);
        }
        ++index;
        Calculate(index - 1, number, facts, chunk);
        if (chunk.numbers.size() >= kChunk) {
          if (!Hand(std::move(chunk))) {
            return;  // stopping
          }
          chunk = PayslipChunk();
        }
      }
      Hand(std::move(chunk));
    } catch (const std::exception& e) {
      error = absl::InternalError(absl::StrCat("calculating payslips: ", e.what()));
    }
    absl::MutexLock lock(&mu_);
    error_ = error;
    finished_ = true;
  }

  // Queues `chunk`, waiting while kQueued chunks wait; false (chunk dropped) if stopping.
  bool Hand(PayslipChunk&& chunk) {
    absl::MutexLock lock(&mu_);
    auto room = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return queue_.size() < kQueued || stopping_;
    };
    mu_.Await(absl::Condition(&room));
    if (stopping_) {
      finished_ = true;
      return false;
    }
    queue_.push_back(std::move(chunk));
    return true;
  }

  // The payslip of one employee (position `index` in the run) into `chunk`, or a skip.
  void Calculate(int index, const std::string& number, const EmployeeFacts& f,
                 PayslipChunk& chunk) {
    const v1::Employment& job = f.employee.employment();
    const v1::PayRun& run = input_.run;
    PayslipInput in;
    in.payment_date = input_.payment;
    in.employee = f.domain;
    in.organisation = DomainSettings(input_.settings, f.domain.pension_scheme);
    in.tax_cards = f.tax_cards;
    in.cumulative_taxable_pay_cents = f.ytd_taxable;
    if (job.salary_basis() == v1::SALARY_BASIS_MONTHLY &&
        !input_.has_salary_item.contains(number)) {
      const int64_t salary = MonthlySalaryFor(job, input_.period);
      if (salary > 0) {
        in.items.push_back({.kind = PayItemKind::kMonthlySalary,
                            .description = "Kuukausipalkka",
                            .amount_cents = salary});
      }
    }
    for (const auto& [id, item] : f.items) {
      in.items.push_back(item);
    }
    if (in.items.empty()) {
      return;  // nothing to pay this period
    }
    absl::StatusOr<Payslip> slip = CalculatePayslip(in, input_.tables);
    if (!slip.ok()) {
      v1::Rejection& skip = outcome_.skipped.emplace_back();
      skip.set_index(index);
      skip.set_key(number);
      skip.set_message(std::string(slip.status().message()));
      return;
    }
    // The message lives in an arena on a reused block: no allocation per field.
    google::protobuf::ArenaOptions options;
    options.initial_block = arena_block_.data();
    options.initial_block_size = arena_block_.size();
    google::protobuf::Arena arena(options);
    v1::Payslip& out = *google::protobuf::Arena::CreateMessage<v1::Payslip>(&arena);
    out.set_pay_run_id(run.pay_run_id());
    out.set_employee_number(number);
    out.set_employee_name(absl::StrCat(f.employee.first_name(), " ", f.employee.last_name()));
    out.set_period(run.period());
    out.set_payment_date(run.payment_date());
    out.set_cost_centre(job.cost_centre());
    out.mutable_lines()->Reserve(static_cast<int>(slip->lines.size()));
    for (const PayslipLine& line : slip->lines) {
      LineToProto(line, out.add_lines());
    }
    SetFigures(out.mutable_figures(), slip->totals, 1);
    out.set_year_to_date_taxable_minor(slip->totals.cumulative_taxable_pay_after_cents);
    chunk.numbers.AddText(number);
    chunk.taxable.AddInt64(slip->totals.taxable_pay_cents);
    chunk.net.AddInt64(slip->totals.net_pay_cents);
    chunk.payslips.AddMessage(out);
    for (const auto& [id, item] : f.items) {
      chunk.item_ids.AddText(id);
    }

    AddTotals(outcome_.totals, slip->totals);
    ++outcome_.payslips;
    outcome_.versions.insert(slip->rate_table_version);
    outcome_.provisional.insert(slip->provisional_fields.begin(), slip->provisional_fields.end());
    // Posted with the cost centre and dimensions the pay was calculated with, even if the
    // employment changes before approval.
    CalculationOutcome::Group& group = outcome_.groups[{job.cost_centre(), f.dimensions_json}];
    AddTotals(group.totals, slip->totals);
    ++group.payslips;
  }

  const CalculationInput& input_;
  CalculationOutcome& outcome_;
  // The first block of each payslip's arena (a payslip takes a few KB); aligned as the arena
  // requires.
  alignas(16) std::array<char, 16384> arena_block_;
  absl::Mutex mu_;
  std::deque<PayslipChunk> queue_ ABSL_GUARDED_BY(mu_);
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status error_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;  // last: starts once the rest is initialised
};

}  // namespace

absl::StatusOr<v1::PayRun> PayrollRepository::CalculatePayRun(const CallContext& call,
                                                              const v1::CalculatePayRunRequest& req,
                                                              const ProgressCallback& progress) {
  const absl::Time start = absl::Now();
  CalculationStats stats;
  absl::StatusOr<v1::PayRun> calculated = CalculatePayRunInTransaction(call, req, progress, &stats);
  if (!calculated.ok()) {
    metrics_.CalculationFailed(calculated.status());
  } else if (stats.ran) {
    metrics_.Calculated({.seconds = absl::ToDoubleSeconds(absl::Now() - start),
                         .employees = stats.employees,
                         .payslips = calculated->totals().payslips(),
                         .skipped = calculated->skipped_size()});
  }
  return calculated;
}

absl::StatusOr<v1::PayRun> PayrollRepository::CalculatePayRunInTransaction(
    const CallContext& call, const v1::CalculatePayRunRequest& req,
    const ProgressCallback& progress, CalculationStats* stats) {
  RETURN_IF_ERROR(ValidateRequestId("request_id", req.request_id()));
  return pg::InTenantTransaction<v1::PayRun>(
      *pool_, call.tenant, Tx(call), [&](pqxx::work& tx) -> absl::StatusOr<v1::PayRun> {
        stats->ran = false;
        return pg::Idempotent<v1::PayRun>(
            tx, Key(call, req.request_id()), "CalculatePayRun", req,
            [&]() -> absl::StatusOr<v1::PayRun> {
              stats->ran = true;
              CalculationInput input;
              ASSIGN_OR_RETURN(input.run, LoadPayRun(tx, call.tenant, req.pay_run_id(), true));
              const v1::PayRun& run = input.run;
              if (run.status() != v1::PAY_RUN_STATUS_DRAFT &&
                  run.status() != v1::PAY_RUN_STATUS_CALCULATED) {
                return absl::FailedPreconditionError(
                    absl::StrCat("pay_run_id: pay run ", run.pay_run_id(), " is ",
                                 v1::PayRunStatus_Name(run.status()),
                                 "; only a draft or calculated run can be calculated"));
              }
              ASSIGN_OR_RETURN(input.period, ParsePeriod("period", run.period()));
              ASSIGN_OR_RETURN(input.payment, ParseDate("payment_date", run.payment_date()));
              ASSIGN_OR_RETURN(input.tables, AllRateTables(tx));
              ASSIGN_OR_RETURN(input.settings, LoadSettings(tx, call.tenant));
              LoadEmployeeFacts(tx, call.tenant, input);
              pqxx::result counter = tx.exec_params(
                  "SELECT approvals FROM approval_counters WHERE tenant_id = $1", call.tenant);
              const int64_t approvals = counter.empty() ? 0 : counter[0][0].as<int64_t>();
              for (const char* table : {"payslips", "pay_run_items", "pay_run_postings"}) {
                tx.exec_params(absl::StrCat("DELETE FROM ", table,
                                            " WHERE tenant_id = $1 AND pay_run_id = $2"),
                               call.tenant, run.pay_run_id());
              }

              // Calculate (on the calculator's thread) and insert (here), a chunk at a time.
              const int total = static_cast<int>(input.employees.size());
              stats->employees = total;
              auto report = [&](int done) {
                if (progress) progress(done, total);
              };
              report(0);
              CalculationOutcome outcome;
              int64_t item_count = 0;
              {
                PayslipCalculator calculator(input, &outcome);
                while (std::optional<PayslipChunk> chunk = calculator.Next()) {
                  if (!chunk->numbers.empty()) {
                    tx.exec_params(
                        "INSERT INTO payslips (tenant_id, pay_run_id, employee_number,"
                        " taxable_minor, net_pay_minor, payslip) SELECT $1, $2, u.* FROM"
                        " unnest($3::text[], $4::bigint[], $5::bigint[], $6::bytea[]) AS u",
                        call.tenant, run.pay_run_id(), chunk->numbers.Param(),
                        chunk->taxable.Param(), chunk->net.Param(), chunk->payslips.Param());
                  }
                  // The items the run pays, for approval.
                  item_count += chunk->item_ids.size();
                  if (!chunk->item_ids.empty()) {
                    tx.exec_params(
                        "INSERT INTO pay_run_items (tenant_id, pay_run_id, item_id)"
                        " SELECT $1, $2, unnest($3::text[])",
                        call.tenant, run.pay_run_id(), chunk->item_ids.Param());
                  }
                  for (int done : chunk->progress) {
                    report(done);
                  }
                }
                RETURN_IF_ERROR(calculator.status());
              }
              report(total);

              v1::PayRun result = run;
              result.clear_totals();
              result.clear_rate_table_versions();
              result.clear_provisional_rates_used();
              result.clear_skipped();
              SetFigures(result.mutable_totals(), outcome.totals, outcome.payslips);
              for (const std::string& v : outcome.versions) {
                result.add_rate_table_versions(v);
              }
              for (const std::string& p : outcome.provisional) {
                result.add_provisional_rates_used(p);
              }
              for (v1::Rejection& skip : outcome.skipped) {
                *result.add_skipped() = std::move(skip);
              }
              result.set_status(v1::PAY_RUN_STATUS_CALCULATED);
              v1::PayRun stored = result;
              stored.clear_created_at();
              tx.exec_params(
                  "UPDATE pay_runs SET status = $3, summary = $4, approvals_seen = $5,"
                  " item_count = $6, calculated_at = now() WHERE tenant_id = $1 AND"
                  " pay_run_id = $2",
                  call.tenant, run.pay_run_id(), static_cast<int>(v1::PAY_RUN_STATUS_CALCULATED),
                  pqxx::binarystring(stored.SerializeAsString()), approvals, item_count);
              // The sums approval posts.
              BinaryArray keys(BinaryArray::kText), figures(BinaryArray::kBytea);
              for (const auto& [key, group] : PostingGroups(outcome)) {
                keys.AddText(key);
                figures.AddMessage(group);
              }
              if (!keys.empty()) {
                tx.exec_params(
                    "INSERT INTO pay_run_postings (tenant_id, pay_run_id, group_key, figures)"
                    " SELECT $1, $2, u.* FROM unnest($3::text[], $4::bytea[]) AS u",
                    call.tenant, run.pay_run_id(), keys.Param(), figures.Param());
              }
              return LoadPayRun(tx, call.tenant, run.pay_run_id(), false);
            });
      });
}

absl::StatusOr<v1::PayRun> PayrollRepository::GetPayRun(const CallContext& call,
                                                        const v1::GetPayRunRequest& req) {
  return pg::InTenantTransaction<v1::PayRun>(
      *pool_, call.tenant, Tx(call, true),
      [&](pqxx::work& tx) { return LoadPayRun(tx, call.tenant, req.pay_run_id(), false); });
}

absl::StatusOr<v1::ListPayRunsResponse> PayrollRepository::ListPayRuns(
    const CallContext& call, const v1::ListPayRunsRequest& req) {
  if (!req.period().empty()) {
    RETURN_IF_ERROR(ParsePeriod("period", req.period()).status());
  }
  return pg::InTenantTransaction<v1::ListPayRunsResponse>(
      *pool_, call.tenant, Tx(call, true),
      [&](pqxx::work& tx) -> absl::StatusOr<v1::ListPayRunsResponse> {
        v1::ListPayRunsResponse resp;
        for (const auto& r : tx.exec_params(
                 absl::StrCat("SELECT ", kPayRunColumns,
                              " FROM pay_runs WHERE tenant_id = $1 AND ($2 = '' OR period = $2)"
                              " ORDER BY period, created_at"),
                 call.tenant, req.period())) {
          *resp.add_pay_runs() = PayRunFromRow(r);
        }
        return resp;
      });
}

absl::StatusOr<v1::ListPayslipsResponse> PayrollRepository::ListPayslips(
    const CallContext& call, const v1::ListPayslipsRequest& req) {
  if (req.page_size() < 0 || req.page_size() > kMaxPageSize) {
    return InvalidField("page_size", absl::StrCat("0-", kMaxPageSize));
  }
  const int limit = req.page_size() == 0 ? kDefaultPageSize : req.page_size();
  return pg::InTenantTransaction<v1::ListPayslipsResponse>(
      *pool_, call.tenant, Tx(call, true),
      [&](pqxx::work& tx) -> absl::StatusOr<v1::ListPayslipsResponse> {
        RETURN_IF_ERROR(LoadPayRun(tx, call.tenant, req.pay_run_id(), false).status());
        v1::ListPayslipsResponse resp;
        pqxx::result r = tx.exec_params(
            "SELECT employee_number, encode(payslip, 'hex') FROM payslips WHERE tenant_id = $1"
            " AND pay_run_id = $2 AND ($3 = '' OR employee_number = $3) AND employee_number > $4"
            " ORDER BY employee_number LIMIT $5",
            call.tenant, req.pay_run_id(), req.employee_number(), req.page_token(), limit + 1);
        for (int i = 0; i < static_cast<int>(r.size()) && i < limit; ++i) {
          if (!resp.add_payslips()->ParseFromString(
                  absl::HexStringToBytes(r[i][1].as<std::string>()))) {
            return absl::InternalError("a stored payslip does not parse");
          }
        }
        if (static_cast<int>(r.size()) > limit) {
          resp.set_next_page_token(resp.payslips(limit - 1).employee_number());
        }
        return resp;
      });
}

absl::StatusOr<std::vector<v1::Payslip>> PayrollRepository::PayslipsToRender(
    const CallContext& call, const v1::RenderPayslipsRequest& req) {
  if (!req.employee_number().empty()) {
    RETURN_IF_ERROR(ValidateEmployeeNumber("employee_number", req.employee_number()));
  }
  return pg::InTenantTransaction<std::vector<v1::Payslip>>(
      *pool_, call.tenant, Tx(call, true),
      [&](pqxx::work& tx) -> absl::StatusOr<std::vector<v1::Payslip>> {
        ASSIGN_OR_RETURN(v1::PayRun run, LoadPayRun(tx, call.tenant, req.pay_run_id(), false));
        if (run.status() == v1::PAY_RUN_STATUS_DRAFT ||
            run.status() == v1::PAY_RUN_STATUS_CANCELLED) {
          return absl::FailedPreconditionError(
              absl::StrCat("pay_run_id: pay run ", run.pay_run_id(), " is ",
                           v1::PayRunStatus_Name(run.status()), " and has no payslips"));
        }
        pqxx::result r = tx.exec_params(
            "SELECT encode(payslip, 'hex') FROM payslips WHERE tenant_id = $1 AND"
            " pay_run_id = $2 AND ($3 = '' OR employee_number = $3) ORDER BY employee_number"
            " LIMIT $4",
            call.tenant, run.pay_run_id(), req.employee_number(), kMaxRenderedPayslips + 1);
        if (static_cast<int>(r.size()) > kMaxRenderedPayslips) {
          return absl::FailedPreconditionError(absl::StrCat(
              "pay_run_id: pay run ", run.pay_run_id(), " has more than ", kMaxRenderedPayslips,
              " payslips; render them one employee at a time (employee_number) or read them with"
              " ListPayslips"));
        }
        if (r.empty() && !req.employee_number().empty()) {
          return absl::NotFoundError(absl::StrCat("employee_number: employee ",
                                                  req.employee_number(), " has no payslip in ",
                                                  run.pay_run_id()));
        }
        std::vector<v1::Payslip> slips(r.size());
        for (size_t i = 0; i < r.size(); ++i) {
          if (!slips[i].ParseFromString(absl::HexStringToBytes(r[i][0].as<std::string>()))) {
            return absl::InternalError("a stored payslip does not parse");
          }
        }
        return slips;
      });
}

absl::StatusOr<v1::PayRun> PayrollRepository::ApprovePayRun(const CallContext& call,
                                                            const v1::ApprovePayRunRequest& req) {
  RETURN_IF_ERROR(ValidateRequestId("request_id", req.request_id()));
  const absl::Time start = absl::Now();
  bool ran = false;  // false: a replay, which approves nothing
  absl::StatusOr<v1::PayRun> approved = pg::InTenantTransaction<v1::PayRun>(
      *pool_, call.tenant, Tx(call), [&](pqxx::work& tx) -> absl::StatusOr<v1::PayRun> {
        ran = false;
        return pg::Idempotent<v1::PayRun>(
            tx, Key(call, req.request_id()), "ApprovePayRun", req,
            [&]() -> absl::StatusOr<v1::PayRun> {
              ran = true;
              // One approval at a time per tenant: the year-to-date figures of every other
              // calculated run depend on it.
              tx.exec_params("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                             absl::StrCat("payroll/approve/", call.tenant));
              int64_t approvals_seen = 0;
              ASSIGN_OR_RETURN(v1::PayRun run, LoadPayRun(tx, call.tenant, req.pay_run_id(), true,
                                                          &approvals_seen));
              if (run.status() != v1::PAY_RUN_STATUS_CALCULATED) {
                return absl::FailedPreconditionError(
                    absl::StrCat("pay_run_id: pay run ", run.pay_run_id(), " is ",
                                 v1::PayRunStatus_Name(run.status()),
                                 "; only a calculated run can be approved"));
              }
              if (run.totals().payslips() == 0) {
                return absl::FailedPreconditionError(
                    absl::StrCat("pay_run_id: pay run ", run.pay_run_id(), " has no payslips"));
              }
              pqxx::result counter = tx.exec_params(
                  "SELECT approvals FROM approval_counters WHERE tenant_id = $1 FOR UPDATE",
                  call.tenant);
              const int64_t approvals = counter.empty() ? 0 : counter[0][0].as<int64_t>();
              if (approvals != approvals_seen) {
                return absl::FailedPreconditionError(absl::StrCat(
                    "pay_run_id: another pay run was approved after ", run.pay_run_id(),
                    " was calculated; recalculate it (its year-to-date figures changed)"));
              }
              // Mark the items paid: they are no longer unpaid. An item another run paid
              // meanwhile is not there to delete, and means recalculation. The run's
              // pay_run_items rows are new, so their statistics are not gathered yet and the
              // planner would probe the index once per item (hundreds of thousands of times):
              // a hash join is several times faster.
              tx.exec("SET LOCAL enable_nestloop = off");
              const int64_t marked =
                  tx.exec_params(
                        "DELETE FROM unpaid_items u USING pay_run_items r WHERE r.tenant_id = $1"
                        " AND r.pay_run_id = $2 AND u.tenant_id = $1 AND u.item_id = r.item_id",
                        call.tenant, run.pay_run_id())
                      .affected_rows();
              tx.exec("SET LOCAL enable_nestloop TO DEFAULT");
              const int64_t expected =
                  tx.exec_params1(
                        "SELECT item_count FROM pay_runs WHERE tenant_id = $1 AND pay_run_id = $2",
                        call.tenant, run.pay_run_id())[0]
                      .as<int64_t>();
              if (marked != expected) {
                return absl::FailedPreconditionError(
                    absl::StrCat("pay_run_id: some pay items of ", run.pay_run_id(),
                                 " were paid by another run; recalculate it"));
              }
              // The posting: the payslips' figures per posting group, summed by the calculation.
              ASSIGN_OR_RETURN(v1::PayrollSettings settings, LoadSettings(tx, call.tenant));
              std::map<std::string, PostingGroup> groups;  // by group key, in key order
              v1::PayRunTotals feed;
              for (const auto& r : tx.exec_params(
                       "SELECT group_key, figures FROM pay_run_postings WHERE tenant_id = $1"
                       " AND pay_run_id = $2",
                       call.tenant, run.pay_run_id())) {
                const std::string key = r[0].as<std::string>();
                v1::PayRunTotalsFigures figures;
                google::protobuf::Struct dimensions;
                if (!figures.ParseFromString(pqxx::binarystring(r[1]).str()) ||
                    !google::protobuf::util::JsonStringToMessage(key, &dimensions).ok()) {
                  return absl::InternalError("a stored posting group does not parse");
                }
                PostingGroup& group = groups[key];
                for (const auto& [k, v] : dimensions.fields()) {
                  group.dimensions[k] = v.string_value();
                }
                group.totals = TotalsOf(figures);
                v1::PayRunTotalsFigures& cc =
                    (*feed.mutable_by_cost_centre())[group.dimensions["cost_centre"]];
                PayslipTotals cc_totals = TotalsOf(cc);
                AddTotals(cc_totals, group.totals);
                SetFigures(&cc, cc_totals, cc.payslips() + figures.payslips());
              }
              std::vector<PostingGroup> group_list;
              for (auto& [key, group] : groups) group_list.push_back(std::move(group));
              ASSIGN_OR_RETURN(ledger::v1::EntryDraft draft,
                               BuildPayRunPosting({.pay_run_id = run.pay_run_id(),
                                                   .period = run.period(),
                                                   .payment_date = run.payment_date()},
                                                  AccountsOf(settings), group_list));
              ledger::v1::PostEntryRequest post;
              *post.mutable_entry() = std::move(draft);
              outbox::Enqueue(
                  tx, call.tenant,
                  {.request_id = absl::StrCat("payroll-", call.tenant, "-", run.pay_run_id()),
                   .subject = absl::StrCat(kPayRunSubject, run.pay_run_id())},
                  std::move(post));
              tx.exec_params(
                  "INSERT INTO approval_counters (tenant_id, approvals) VALUES ($1, 1)"
                  " ON CONFLICT (tenant_id) DO UPDATE SET approvals ="
                  " approval_counters.approvals + 1",
                  call.tenant);
              // The change feed of approved runs.
              int64_t sequence = tx.exec_params(
                                       "SELECT coalesce(max(sequence), 0) + 1 FROM totals_feed"
                                       " WHERE tenant_id = $1",
                                       call.tenant)[0][0]
                                     .as<int64_t>();
              feed.set_sequence(sequence);
              feed.set_pay_run_id(run.pay_run_id());
              feed.set_period(run.period());
              feed.set_payment_date(run.payment_date());
              *feed.mutable_totals() = run.totals();
              tx.exec_params(
                  "INSERT INTO totals_feed (tenant_id, sequence, pay_run_id, totals)"
                  " VALUES ($1, $2, $3, decode($4, 'hex'))",
                  call.tenant, sequence, run.pay_run_id(),
                  absl::BytesToHexString(feed.SerializeAsString()));
              tx.exec_params(
                  "UPDATE pay_runs SET status = $3, approved_at = now() WHERE tenant_id = $1"
                  " AND pay_run_id = $2",
                  call.tenant, run.pay_run_id(), static_cast<int>(v1::PAY_RUN_STATUS_APPROVED));
              return LoadPayRun(tx, call.tenant, run.pay_run_id(), false);
            });
      });
  if (approved.ok() && ran) {
    metrics_.Approved(absl::ToDoubleSeconds(absl::Now() - start));
  }
  return approved;
}

absl::StatusOr<v1::PayRun> PayrollRepository::CancelPayRun(const CallContext& call,
                                                           const v1::CancelPayRunRequest& req) {
  RETURN_IF_ERROR(ValidateRequestId("request_id", req.request_id()));
  return pg::InTenantTransaction<v1::PayRun>(
      *pool_, call.tenant, Tx(call), [&](pqxx::work& tx) -> absl::StatusOr<v1::PayRun> {
        return pg::Idempotent<v1::PayRun>(
            tx, Key(call, req.request_id()), "CancelPayRun", req,
            [&]() -> absl::StatusOr<v1::PayRun> {
              ASSIGN_OR_RETURN(v1::PayRun run, LoadPayRun(tx, call.tenant, req.pay_run_id(), true));
              if (run.status() != v1::PAY_RUN_STATUS_DRAFT &&
                  run.status() != v1::PAY_RUN_STATUS_CALCULATED) {
                return absl::FailedPreconditionError(
                    absl::StrCat("pay_run_id: pay run ", run.pay_run_id(), " is ",
                                 v1::PayRunStatus_Name(run.status()),
                                 "; an approved run cannot be cancelled (correct it in a later"
                                 " run)"));
              }
              tx.exec_params("DELETE FROM payslips WHERE tenant_id = $1 AND pay_run_id = $2",
                             call.tenant, run.pay_run_id());
              tx.exec_params("DELETE FROM pay_run_items WHERE tenant_id = $1 AND pay_run_id = $2",
                             call.tenant, run.pay_run_id());
              tx.exec_params(
                  "DELETE FROM pay_run_postings WHERE tenant_id = $1 AND pay_run_id = $2",
                  call.tenant, run.pay_run_id());
              tx.exec_params(
                  "UPDATE pay_runs SET status = $3 WHERE tenant_id = $1 AND pay_run_id = $2",
                  call.tenant, run.pay_run_id(), static_cast<int>(v1::PAY_RUN_STATUS_CANCELLED));
              return LoadPayRun(tx, call.tenant, run.pay_run_id(), false);
            });
      });
}

absl::StatusOr<v1::PaymentFile> PayrollRepository::GetPaymentFile(
    const CallContext& call, const v1::GetPaymentFileRequest& req) {
  return pg::InTenantTransaction<v1::PaymentFile>(
      *pool_, call.tenant, Tx(call, true), [&](pqxx::work& tx) -> absl::StatusOr<v1::PaymentFile> {
        ASSIGN_OR_RETURN(v1::PayRun run, LoadPayRun(tx, call.tenant, req.pay_run_id(), false));
        if (run.status() != v1::PAY_RUN_STATUS_APPROVED &&
            run.status() != v1::PAY_RUN_STATUS_POSTED) {
          return absl::FailedPreconditionError(
              absl::StrCat("pay_run_id: pay run ", run.pay_run_id(),
                           " is not approved; pay only approved runs"));
        }
        ASSIGN_OR_RETURN(v1::PayrollSettings settings, LoadSettings(tx, call.tenant));
        if (settings.debtor_iban().empty() || settings.debtor_name().empty() ||
            settings.debtor_bic().empty()) {
          return absl::FailedPreconditionError(
              "settings: debtor_name, debtor_iban and debtor_bic are needed for the payment file"
              " (SetPayrollSettings)");
        }
        SepaCreditTransfer transfer;
        transfer.message_id = absl::StrCat("PR-", run.pay_run_id());
        transfer.creation_time = absl::Now();
        transfer.debtor = {.name = settings.debtor_name(),
                           .iban = settings.debtor_iban(),
                           .bic = settings.debtor_bic(),
                           .business_id = settings.debtor_business_id()};
        transfer.requested_execution_date = *ParseDate("payment_date", run.payment_date());
        int64_t sum = 0;
        int position = 0;
        for (const auto& r : tx.exec_params(
                 "SELECT s.employee_number, s.net_pay_minor, e.first_name, e.last_name, e.iban,"
                 " e.bic FROM payslips s JOIN employees e ON e.tenant_id = s.tenant_id AND"
                 " e.employee_number = s.employee_number WHERE s.tenant_id = $1 AND"
                 " s.pay_run_id = $2 AND s.net_pay_minor > 0 ORDER BY s.employee_number",
                 call.tenant, run.pay_run_id())) {
          SepaPayment p;
          // See GetPaymentFile in the header: valid, unique and stable, unlike the employee number.
          p.end_to_end_id = absl::StrCat(run.pay_run_id(), "-", ++position);
          p.amount_cents = r[1].as<int64_t>();
          const std::string first_name = r[2].as<std::string>();
          const std::string last_name = r[3].as<std::string>();
          if (!ValidateNameForSepa("employee", first_name, last_name).ok()) {
            // Stored before names were checked for the bank file at input.
            return absl::FailedPreconditionError(absl::StrCat(
                "employee ", r[0].as<std::string>(),
                ": the name cannot be carried by the bank file; correct it (UpsertEmployee)"));
          }
          p.creditor_name = absl::StrCat(first_name, " ", last_name);
          p.creditor_iban = r[4].as<std::string>();
          p.creditor_bic = r[5].as<std::string>();
          p.remittance_information = absl::StrCat("Palkka ", run.period());
          sum += p.amount_cents;
          transfer.payments.push_back(std::move(p));
        }
        if (transfer.payments.empty()) {
          return absl::FailedPreconditionError("pay_run_id: the run has no net pay to transfer");
        }
        ASSIGN_OR_RETURN(std::string xml, WriteSepaCreditTransfer(transfer));
        v1::PaymentFile file;
        file.set_file_name(absl::StrCat("palkat-", call.tenant, "-", run.pay_run_id(), ".xml"));
        file.set_content_type("application/xml");
        file.set_content(std::move(xml));
        file.set_transactions(static_cast<int32_t>(transfer.payments.size()));
        file.set_control_sum_minor(sum);
        return file;
      });
}

absl::StatusOr<std::vector<v1::PayRunTotals>> PayrollRepository::TotalsAfter(
    const CallContext& call, int64_t after_sequence, int limit) {
  return pg::InTenantTransaction<std::vector<v1::PayRunTotals>>(
      *pool_, call.tenant, Tx(call, true),
      [&](pqxx::work& tx) -> absl::StatusOr<std::vector<v1::PayRunTotals>> {
        std::vector<v1::PayRunTotals> out;
        for (const auto& r :
             tx.exec_params("SELECT encode(totals, 'hex') FROM totals_feed WHERE tenant_id = $1 AND"
                            " sequence > $2 ORDER BY sequence LIMIT $3",
                            call.tenant, after_sequence, limit)) {
          v1::PayRunTotals& totals = out.emplace_back();
          if (!totals.ParseFromString(absl::HexStringToBytes(r[0].as<std::string>()))) {
            return absl::InternalError("a stored totals feed entry does not parse");
          }
        }
        return out;
      });
}

absl::StatusOr<tahe::tenancy::v1::DescribeTenantDataResponse> PayrollRepository::DescribeTenantData(
    const CallContext& call) {
  using Response = tahe::tenancy::v1::DescribeTenantDataResponse;
  return pg::InTenantTransaction<Response>(
      *pool_, call.tenant, Tx(call, true), [&](pqxx::work& tx) -> absl::StatusOr<Response> {
        pqxx::row counts = tx.exec_params1(
            "SELECT (SELECT count(*) FROM employees WHERE tenant_id = $1),"
            " (SELECT count(*) FROM pay_items WHERE tenant_id = $1),"
            " (SELECT count(*) FROM pay_runs WHERE tenant_id = $1),"
            " (SELECT count(*) FROM settings WHERE tenant_id = $1)",
            call.tenant);
        const int64_t employees = counts[0].as<int64_t>(), items = counts[1].as<int64_t>(),
                      runs = counts[2].as<int64_t>(), settings = counts[3].as<int64_t>();
        Response resp;
        resp.set_service("tahe.payroll.v1.PayrollService");
        resp.set_has_data(employees + items + runs + settings > 0);
        resp.set_summary(
            absl::StrCat(employees, " employees, ", items, " pay items, ", runs, " pay runs"));
        return resp;
      });
}

}  // namespace tahe::payroll
