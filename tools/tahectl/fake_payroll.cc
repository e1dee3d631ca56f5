#include "tools/tahectl/fake_payroll.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"

namespace tahe::tahectl {

namespace v1 = ::tahe::payroll::v1;

namespace {

constexpr char kNow[] = "2025-01-01T00:00:00.000000Z";
// The tenant of calls that carry none (a key of one organisation, as the gateway resolves it).
constexpr char kKeyTenant[] = "key-organisation";
constexpr int kDefaultPageSize = 2;

std::string Metadata(const grpc::ServerContext* context, const char* key) {
  const auto& metadata = context->client_metadata();
  auto it = metadata.find(key);
  return it == metadata.end() ? "" : std::string(it->second.data(), it->second.size());
}

grpc::Status Invalid(const std::string& message) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, message);
}

// The fake's validation of one employee: enough to produce rejections of each kind a test needs.
// "Echo" as a first name makes it quote the identity code, as a careless service might, so that
// tests can check tahectl's redaction.
std::string EmployeeProblem(const v1::Employee& employee, const std::string& prefix) {
  if (employee.employee_number().empty()) {
    return absl::StrCat(prefix, ".employee_number: required");
  }
  if (employee.first_name() == "Echo") {
    return absl::StrCat(prefix, ".personal_identity_code: ", employee.personal_identity_code(),
                        " is not valid");
  }
  if (employee.personal_identity_code().size() != 11) {
    return absl::StrCat(prefix, ".personal_identity_code: not a personal identity code");
  }
  if (!absl::StartsWith(employee.iban(), "FI")) {
    return absl::StrCat(prefix, ".iban: check digits do not match");
  }
  if (employee.employment().salary_basis() == v1::SALARY_BASIS_MONTHLY &&
      employee.employment().monthly_salary_minor() <= 0) {
    return absl::StrCat(prefix, ".employment.monthly_salary_minor: required for a monthly salary");
  }
  return "";
}

// The stored form: no identity code, a birth date derived from it.
v1::Employee AsStored(const v1::Employee& in) {
  v1::Employee employee = in;
  const std::string& code = in.personal_identity_code();
  if (code.size() == 11) {
    const std::string century = code[6] == '-' ? "19" : "20";
    employee.set_birth_date(
        absl::StrCat(century, code.substr(4, 2), "-", code.substr(2, 2), "-", code.substr(0, 2)));
  }
  employee.clear_personal_identity_code();
  employee.set_updated_at(kNow);
  return employee;
}

bool Settled(v1::PayRunStatus status) {
  return status == v1::PAY_RUN_STATUS_CALCULATED || status == v1::PAY_RUN_STATUS_POSTED ||
         status == v1::PAY_RUN_STATUS_CANCELLED;
}

// The service's words for an approved run.
std::string ApprovedMessage(const std::string& delivery_error) {
  return delivery_error.empty()
             ? "approved: the ledger posting is being delivered"
             : absl::StrCat("approved: delivery to the ledger failed, retrying: ", delivery_error);
}

}  // namespace

std::vector<FakePayroll::CallRecord> FakePayroll::calls() const {
  absl::MutexLock lock(&mu_);
  return calls_;
}

void FakePayroll::SetBehaviour(Behaviour behaviour) {
  absl::MutexLock lock(&mu_);
  behaviour_ = std::move(behaviour);
}

void FakePayroll::FailNextCall(grpc::Status status) {
  absl::MutexLock lock(&mu_);
  fail_next_ = std::make_unique<grpc::Status>(std::move(status));
}

std::vector<v1::Employee> FakePayroll::employees(const std::string& tenant) const {
  absl::MutexLock lock(&mu_);
  std::vector<v1::Employee> result;
  if (auto it = tenants_.find(tenant); it != tenants_.end()) {
    for (const auto& [number, employee] : it->second.employees) {
      result.push_back(employee);
    }
  }
  return result;
}

std::vector<std::string> FakePayroll::identity_codes_received() const {
  absl::MutexLock lock(&mu_);
  return identity_codes_;
}

grpc::Status FakePayroll::Record(grpc::ServerContext* context, const char* method,
                                 const google::protobuf::Message* request,
                                 std::string* tenant_name) {
  CallRecord record;
  record.method = method;
  record.authorization = Metadata(context, "authorization");
  record.tenant = Metadata(context, "x-tahe-tenant");
  record.request_id_metadata = Metadata(context, "x-request-id");
  if (request != nullptr) {
    std::shared_ptr<google::protobuf::Message> copy(request->New());
    copy->CopyFrom(*request);
    record.request = std::move(copy);
  }
  calls_.push_back(record);
  if (record.authorization != absl::StrCat("Bearer ", api_key_)) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "missing or unknown API key");
  }
  if (fail_next_ != nullptr) {
    grpc::Status status = *fail_next_;
    fail_next_.reset();
    return status;
  }
  *tenant_name = record.tenant.empty() ? kKeyTenant : record.tenant;
  return grpc::Status::OK;
}

grpc::Status FakePayroll::Admit(grpc::ServerContext* context, const char* method,
                                const google::protobuf::Message* request, Tenant** tenant) {
  std::string name;
  grpc::Status status = Record(context, method, request, &name);
  if (!status.ok()) {
    return status;
  }
  Tenant& state = tenants_[name];
  if (state.settings.accounts().wages().empty()) {
    v1::PostingAccounts& a = *state.settings.mutable_accounts();
    a.set_wages("4000");
    a.set_reimbursements("4700");
    a.set_pension_costs("4100");
    a.set_other_social_costs("4150");
    a.set_withholding_payable("2870");
    a.set_pension_payable("2871");
    a.set_unemployment_payable("2872");
    a.set_health_insurance_payable("2873");
    a.set_other_payable("2900");
    a.set_net_pay_payable("2880");
    state.settings.set_unemployment_tier(v1::UNEMPLOYMENT_TIER_LOWER);
  }
  *tenant = &state;
  return grpc::Status::OK;
}

grpc::Status FakePayroll::CheckReplay(Tenant& tenant, const char* method,
                                      const std::string& request_id,
                                      const google::protobuf::Message& request,
                                      google::protobuf::Message* response, bool* replayed) {
  *replayed = false;
  if (request_id.empty()) {
    return Invalid("request_id: required");
  }
  auto it = tenant.by_request_id.find(request_id);
  if (it == tenant.by_request_id.end()) {
    return grpc::Status::OK;
  }
  if (it->second.method != method || it->second.request != request.SerializeAsString()) {
    return grpc::Status(grpc::StatusCode::ALREADY_EXISTS,
                        absl::StrCat("request id ", request_id, " was used for another request"));
  }
  response->ParseFromString(it->second.response);
  *replayed = true;
  return grpc::Status::OK;
}

void FakePayroll::Remember(Tenant& tenant, const char* method, const std::string& request_id,
                           const google::protobuf::Message& request,
                           const google::protobuf::Message& response) {
  tenant.by_request_id[request_id] =
      Stored{method, request.SerializeAsString(), response.SerializeAsString()};
}

void FakePayroll::Publish(Tenant& tenant, const std::string& pay_run_id,
                          v1::PayRunProgress progress) {
  tenant.progress[pay_run_id].push_back(std::move(progress));
}

void FakePayroll::AdvanceDelivery(Tenant& tenant, const std::string& pay_run_id) {
  auto run = tenant.runs.find(pay_run_id);
  auto approved = tenant.approved_at.find(pay_run_id);
  if (run == tenant.runs.end() || approved == tenant.approved_at.end() ||
      run->second.status() != v1::PAY_RUN_STATUS_APPROVED ||
      absl::Now() < approved->second + behaviour_.posted_after) {
    return;
  }
  run->second.set_status(v1::PAY_RUN_STATUS_POSTED);
  run->second.set_ledger_sequence(42);
  run->second.set_posted_at(kNow);
  run->second.clear_delivery_error();
  v1::PayRunProgress progress;
  progress.set_status(v1::PAY_RUN_STATUS_POSTED);
  progress.set_payslips_done(run->second.totals().payslips());
  progress.set_payslips_total(run->second.totals().payslips());
  progress.set_message("posted to the ledger as entry 42");
  Publish(tenant, pay_run_id, progress);
}

// --- Employees -----------------------------------------------------------------------------------

grpc::Status FakePayroll::UpsertEmployee(grpc::ServerContext* context,
                                         const v1::UpsertEmployeeRequest* request,
                                         v1::Employee* response) {
  absl::MutexLock lock(&mu_);
  Tenant* tenant = nullptr;
  if (grpc::Status s = Admit(context, "UpsertEmployee", request, &tenant); !s.ok()) {
    return s;
  }
  identity_codes_.push_back(request->employee().personal_identity_code());
  bool replayed = false;
  if (grpc::Status s = CheckReplay(*tenant, "UpsertEmployee", request->request_id(), *request,
                                   response, &replayed);
      !s.ok() || replayed) {
    return s;
  }
  if (std::string problem = EmployeeProblem(request->employee(), "employee"); !problem.empty()) {
    return Invalid(problem);
  }
  *response = AsStored(request->employee());
  tenant->employees[response->employee_number()] = *response;
  Remember(*tenant, "UpsertEmployee", request->request_id(), *request, *response);
  return grpc::Status::OK;
}

grpc::Status FakePayroll::GetEmployee(grpc::ServerContext* context,
                                      const v1::GetEmployeeRequest* request,
                                      v1::Employee* response) {
  absl::MutexLock lock(&mu_);
  Tenant* tenant = nullptr;
  if (grpc::Status s = Admit(context, "GetEmployee", request, &tenant); !s.ok()) {
    return s;
  }
  auto it = tenant->employees.find(request->employee_number());
  if (it == tenant->employees.end()) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("no employee ", request->employee_number()));
  }
  *response = it->second;
  return grpc::Status::OK;
}

grpc::Status FakePayroll::ListEmployees(grpc::ServerContext* context,
                                        const v1::ListEmployeesRequest* request,
                                        v1::ListEmployeesResponse* response) {
  absl::MutexLock lock(&mu_);
  Tenant* tenant = nullptr;
  if (grpc::Status s = Admit(context, "ListEmployees", request, &tenant); !s.ok()) {
    return s;
  }
  // Small pages, so that clients must follow next_page_token.
  const int page_size = request->page_size() > 0 ? request->page_size() : kDefaultPageSize;
  auto it = tenant->employees.upper_bound(request->page_token());
  for (; it != tenant->employees.end() && response->employees_size() < page_size; ++it) {
    *response->add_employees() = it->second;
  }
  if (it != tenant->employees.end()) {
    response->set_next_page_token(response->employees().rbegin()->employee_number());
  }
  return grpc::Status::OK;
}

grpc::Status FakePayroll::ImportEmployees(grpc::ServerContext* context,
                                          grpc::ServerReader<v1::ImportEmployeesRequest>* reader,
                                          v1::ImportEmployeesResponse* response) {
  size_t call_index = 0;
  {
    absl::MutexLock lock(&mu_);
    Tenant* tenant = nullptr;
    if (grpc::Status s = Admit(context, "ImportEmployees", nullptr, &tenant); !s.ok()) {
      return s;
    }
    call_index = calls_.size() - 1;
  }
  std::vector<v1::ImportEmployeesRequest> batches;
  v1::ImportEmployeesRequest batch;
  while (reader->Read(&batch)) {
    batches.push_back(batch);
  }
  absl::MutexLock lock(&mu_);
  std::string tenant_name =
      calls_[call_index].tenant.empty() ? kKeyTenant : calls_[call_index].tenant;
  Tenant& tenant = tenants_[tenant_name];
  for (size_t b = 0; b < batches.size(); ++b) {
    const v1::ImportEmployeesRequest& request = batches[b];
    calls_[call_index].request_ids.push_back(request.request_id());
    calls_[call_index].batch_sizes.push_back(request.employees_size());
    calls_[call_index].request = std::make_shared<v1::ImportEmployeesRequest>(request);
    for (const v1::Employee& employee : request.employees()) {
      identity_codes_.push_back(employee.personal_identity_code());
    }
    v1::ImportEmployeesResponse result;
    bool replayed = false;
    if (grpc::Status s = CheckReplay(tenant, "ImportEmployees", request.request_id(), request,
                                     &result, &replayed);
        !s.ok()) {
      return s;
    }
    if (!replayed) {
      for (int i = 0; i < request.employees_size(); ++i) {
        const v1::Employee& employee = request.employees(i);
        std::string problem = EmployeeProblem(employee, absl::StrCat("employees[", i, "]"));
        if (problem.empty()) {
          tenant.employees[employee.employee_number()] = AsStored(employee);
          result.set_accepted(result.accepted() + 1);
          continue;
        }
        v1::Rejection* rejection = result.add_rejected();
        rejection->set_index(i);
        rejection->set_key(employee.employee_number());
        rejection->set_message(problem);
      }
      Remember(tenant, "ImportEmployees", request.request_id(), request, result);
    }
    response->set_accepted(response->accepted() + result.accepted());
    for (v1::Rejection rejection : result.rejected()) {
      rejection.set_batch(static_cast<int>(b));
      *response->add_rejected() = std::move(rejection);
    }
  }
  return grpc::Status::OK;
}

// --- Tax cards, rate tables, settings
// --------------------------------------------------------------

grpc::Status FakePayroll::SetTaxCard(grpc::ServerContext* context,
                                     const v1::SetTaxCardRequest* request, v1::TaxCard* response) {
  absl::MutexLock lock(&mu_);
  Tenant* tenant = nullptr;
  if (grpc::Status s = Admit(context, "SetTaxCard", request, &tenant); !s.ok()) {
    return s;
  }
  bool replayed = false;
  if (grpc::Status s =
          CheckReplay(*tenant, "SetTaxCard", request->request_id(), *request, response, &replayed);
      !s.ok() || replayed) {
    return s;
  }
  if (tenant->employees.count(request->tax_card().employee_number()) == 0) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("no employee ", request->tax_card().employee_number()));
  }
  *response = request->tax_card();
  tenant->tax_cards[response->employee_number()].push_back(*response);
  Remember(*tenant, "SetTaxCard", request->request_id(), *request, *response);
  return grpc::Status::OK;
}

grpc::Status FakePayroll::ListTaxCards(grpc::ServerContext* context,
                                       const v1::ListTaxCardsRequest* request,
                                       v1::ListTaxCardsResponse* response) {
  absl::MutexLock lock(&mu_);
  Tenant* tenant = nullptr;
  if (grpc::Status s = Admit(context, "ListTaxCards", request, &tenant); !s.ok()) {
    return s;
  }
  for (const v1::TaxCard& card : tenant->tax_cards[request->employee_number()]) {
    *response->add_tax_cards() = card;
  }
  return grpc::Status::OK;
}

grpc::Status FakePayroll::LoadRateTable(grpc::ServerContext* context,
                                        const v1::LoadRateTableRequest* request,
                                        v1::RateTable* response) {
  absl::MutexLock lock(&mu_);
  Tenant* tenant = nullptr;
  if (grpc::Status s = Admit(context, "LoadRateTable", request, &tenant); !s.ok()) {
    return s;
  }
  bool replayed = false;
  if (grpc::Status s = CheckReplay(*tenant, "LoadRateTable", request->request_id(), *request,
                                   response, &replayed);
      !s.ok() || replayed) {
    return s;
  }
  *response = request->table();
  for (absl::string_view line : absl::StrSplit(request->table().text(), '\n')) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(line, absl::MaxSplits('=', 1));
    const absl::string_view key = absl::StripAsciiWhitespace(kv.first);
    const std::string value(absl::StripAsciiWhitespace(kv.second));
    if (key == "version") {
      response->set_version(value);
    } else if (key == "valid_from") {
      response->set_valid_from(value);
    }
  }
  if (response->version().empty() || response->valid_from().empty()) {
    return Invalid("table.text: version and valid_from are required");
  }
  response->set_loaded_at(kNow);
  Remember(*tenant, "LoadRateTable", request->request_id(), *request, *response);
  return grpc::Status::OK;
}

grpc::Status FakePayroll::ListRateTables(grpc::ServerContext* context,
                                         const v1::ListRateTablesRequest* request,
                                         v1::ListRateTablesResponse* response) {
  absl::MutexLock lock(&mu_);
  Tenant* tenant = nullptr;
  if (grpc::Status s = Admit(context, "ListRateTables", request, &tenant); !s.ok()) {
    return s;
  }
  for (const char* year : {"2025", "2026"}) {
    v1::RateTable* table = response->add_tables();
    table->set_version(absl::StrCat("fi-", year));
    table->set_valid_from(absl::StrCat(year, "-01-01"));
    table->set_text(absl::StrCat("version = fi-", year, "\nvalid_from = ", year, "-01-01\n"));
    table->set_built_in(true);
    table->add_provisional_fields("keva_total");
  }
  return grpc::Status::OK;
}

grpc::Status FakePayroll::SetPayrollSettings(grpc::ServerContext* context,
                                             const v1::SetPayrollSettingsRequest* request,
                                             v1::PayrollSettings* response) {
  absl::MutexLock lock(&mu_);
  Tenant* tenant = nullptr;
  if (grpc::Status s = Admit(context, "SetPayrollSettings", request, &tenant); !s.ok()) {
    return s;
  }
  bool replayed = false;
  if (grpc::Status s = CheckReplay(*tenant, "SetPayrollSettings", request->request_id(), *request,
                                   response, &replayed);
      !s.ok() || replayed) {
    return s;
  }
  *response = request->settings();
  response->set_updated_at(kNow);
  tenant->settings = *response;
  Remember(*tenant, "SetPayrollSettings", request->request_id(), *request, *response);
  return grpc::Status::OK;
}

grpc::Status FakePayroll::GetPayrollSettings(grpc::ServerContext* context,
                                             const v1::GetPayrollSettingsRequest* request,
                                             v1::PayrollSettings* response) {
  absl::MutexLock lock(&mu_);
  Tenant* tenant = nullptr;
  if (grpc::Status s = Admit(context, "GetPayrollSettings", request, &tenant); !s.ok()) {
    return s;
  }
  *response = tenant->settings;
  return grpc::Status::OK;
}

// --- Pay items ---------------------------------------------------------------------------------

grpc::Status FakePayroll::ImportPayItems(grpc::ServerContext* context,
                                         grpc::ServerReader<v1::ImportPayItemsRequest>* reader,
                                         v1::ImportPayItemsResponse* response) {
  size_t call_index = 0;
  {
    absl::MutexLock lock(&mu_);
    Tenant* tenant = nullptr;
    if (grpc::Status s = Admit(context, "ImportPayItems", nullptr, &tenant); !s.ok()) {
      return s;
    }
    call_index = calls_.size() - 1;
  }
  std::vector<v1::ImportPayItemsRequest> batches;
  v1::ImportPayItemsRequest batch;
  while (reader->Read(&batch)) {
    batches.push_back(batch);
  }
  absl::MutexLock lock(&mu_);
  Tenant& tenant =
      tenants_[calls_[call_index].tenant.empty() ? kKeyTenant : calls_[call_index].tenant];
  for (size_t b = 0; b < batches.size(); ++b) {
    const v1::ImportPayItemsRequest& request = batches[b];
    calls_[call_index].request_ids.push_back(request.request_id());
    calls_[call_index].batch_sizes.push_back(request.items_size());
    calls_[call_index].request = std::make_shared<v1::ImportPayItemsRequest>(request);
    v1::ImportPayItemsResponse result;
    bool replayed = false;
    if (grpc::Status s = CheckReplay(tenant, "ImportPayItems", request.request_id(), request,
                                     &result, &replayed);
        !s.ok()) {
      return s;
    }
    if (!replayed) {
      for (int i = 0; i < request.items_size(); ++i) {
        const v1::PayItem& item = request.items(i);
        if (tenant.employees.count(item.employee_number()) == 0) {
          v1::Rejection* rejection = result.add_rejected();
          rejection->set_index(i);
          rejection->set_key(item.item_id());
          rejection->set_message(
              absl::StrCat("items[", i, "].employee_number: no employee ", item.employee_number()));
          continue;
        }
        tenant.items[item.item_id()] = item;
        result.set_accepted(result.accepted() + 1);
      }
      Remember(tenant, "ImportPayItems", request.request_id(), request, result);
    }
    response->set_accepted(response->accepted() + result.accepted());
    for (v1::Rejection rejection : result.rejected()) {
      rejection.set_batch(static_cast<int>(b));
      *response->add_rejected() = std::move(rejection);
    }
  }
  return grpc::Status::OK;
}

grpc::Status FakePayroll::ListPayItems(grpc::ServerContext* context,
                                       const v1::ListPayItemsRequest* request,
                                       v1::ListPayItemsResponse* response) {
  absl::MutexLock lock(&mu_);
  Tenant* tenant = nullptr;
  if (grpc::Status s = Admit(context, "ListPayItems", request, &tenant); !s.ok()) {
    return s;
  }
  for (const auto& [id, item] : tenant->items) {
    if ((request->period().empty() || item.period() == request->period()) &&
        (request->employee_number().empty() ||
         item.employee_number() == request->employee_number())) {
      *response->add_items() = item;
    }
  }
  return grpc::Status::OK;
}

// --- Pay runs ----------------------------------------------------------------------------------

grpc::Status FakePayroll::CreatePayRun(grpc::ServerContext* context,
                                       const v1::CreatePayRunRequest* request,
                                       v1::PayRun* response) {
  absl::MutexLock lock(&mu_);
  Tenant* tenant = nullptr;
  if (grpc::Status s = Admit(context, "CreatePayRun", request, &tenant); !s.ok()) {
    return s;
  }
  bool replayed = false;
  if (grpc::Status s = CheckReplay(*tenant, "CreatePayRun", request->request_id(), *request,
                                   response, &replayed);
      !s.ok() || replayed) {
    return s;
  }
  response->set_pay_run_id(absl::StrCat("run-", next_run_++));
  response->set_period(request->period());
  response->set_payment_date(request->payment_date());
  response->set_status(v1::PAY_RUN_STATUS_DRAFT);
  response->set_created_at(kNow);
  tenant->runs[response->pay_run_id()] = *response;
  Remember(*tenant, "CreatePayRun", request->request_id(), *request, *response);
  return grpc::Status::OK;
}

grpc::Status FakePayroll::CalculatePayRun(grpc::ServerContext* context,
                                          const v1::CalculatePayRunRequest* request,
                                          v1::PayRun* response) {
  absl::MutexLock lock(&mu_);
  Tenant* tenant = nullptr;
  if (grpc::Status s = Admit(context, "CalculatePayRun", request, &tenant); !s.ok()) {
    return s;
  }
  bool replayed = false;
  if (grpc::Status s = CheckReplay(*tenant, "CalculatePayRun", request->request_id(), *request,
                                   response, &replayed);
      !s.ok() || replayed) {
    return s;
  }
  const std::string id = request->pay_run_id();
  if (tenant->runs.count(id) == 0) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND, absl::StrCat("no pay run ", id));
  }
  if (tenant->runs[id].status() != v1::PAY_RUN_STATUS_DRAFT &&
      tenant->runs[id].status() != v1::PAY_RUN_STATUS_CALCULATED) {
    return grpc::Status(
        grpc::StatusCode::FAILED_PRECONDITION,
        absl::StrCat("pay run ", id, " is ", v1::PayRunStatus_Name(tenant->runs[id].status())));
  }
  tenant->calculating[id] = true;
  if (behaviour_.calculation_waits_for_watcher && !behaviour_.predates_watch) {
    const auto watched = [tenant, &id]() { return tenant->watchers[id] > 0; };
    mu_.AwaitWithTimeout(absl::Condition(&watched), absl::Seconds(5));
  }
  std::vector<v1::Employee> monthly;
  std::vector<std::string> skipped;
  for (const auto& [number, employee] : tenant->employees) {
    if (employee.employment().salary_basis() == v1::SALARY_BASIS_MONTHLY) {
      monthly.push_back(employee);
    } else {
      skipped.push_back(number);
    }
  }
  const int total = static_cast<int>(monthly.size());
  v1::PayRunTotalsFigures totals;
  bool keva = false;
  for (int i = 0; i < total; ++i) {
    mu_.Unlock();
    absl::SleepFor(behaviour_.per_payslip);
    mu_.Lock();
    const int64_t gross = monthly[i].employment().monthly_salary_minor();
    const int64_t withholding = gross / 5;
    const int64_t pension = gross * 715 / 10000;
    const int64_t unemployment = gross * 59 / 10000;
    totals.set_payslips(totals.payslips() + 1);
    totals.set_gross_cash_minor(totals.gross_cash_minor() + gross);
    totals.set_withholding_minor(totals.withholding_minor() + withholding);
    totals.set_employee_pension_minor(totals.employee_pension_minor() + pension);
    totals.set_employee_unemployment_minor(totals.employee_unemployment_minor() + unemployment);
    totals.set_net_pay_minor(totals.net_pay_minor() + gross - withholding - pension - unemployment);
    totals.set_employer_pension_minor(totals.employer_pension_minor() + gross * 17 / 100);
    totals.set_employer_health_insurance_minor(totals.employer_health_insurance_minor() +
                                               gross * 187 / 10000);
    keva = keva || monthly[i].employment().pension_scheme() == v1::PENSION_SCHEME_KEVA;
    v1::PayRunProgress progress;
    progress.set_status(i + 1 == total ? v1::PAY_RUN_STATUS_CALCULATED : v1::PAY_RUN_STATUS_DRAFT);
    progress.set_payslips_done(i + 1);
    progress.set_payslips_total(total);
    Publish(*tenant, id, progress);
  }
  v1::PayRun& run = tenant->runs[id];
  if (total == 0) {
    v1::PayRunProgress progress;
    progress.set_status(v1::PAY_RUN_STATUS_CALCULATED);
    Publish(*tenant, id, progress);
  }
  run.set_status(v1::PAY_RUN_STATUS_CALCULATED);
  *run.mutable_totals() = totals;
  run.clear_rate_table_versions();
  run.add_rate_table_versions("fi-2025");
  run.clear_provisional_rates_used();
  if (keva) {
    run.add_provisional_rates_used("keva_total");
  }
  run.clear_skipped();
  for (const std::string& number : skipped) {
    v1::Rejection* rejection = run.add_skipped();
    rejection->set_key(number);
    rejection->set_message("no pay items for hourly pay in the period");
  }
  run.set_calculated_at(kNow);
  tenant->calculating[id] = false;
  *response = run;
  Remember(*tenant, "CalculatePayRun", request->request_id(), *request, *response);
  return grpc::Status::OK;
}

grpc::Status FakePayroll::WatchPayRun(grpc::ServerContext* context,
                                      const v1::WatchPayRunRequest* request,
                                      grpc::ServerWriter<v1::PayRunProgress>* writer) {
  mu_.Lock();
  Tenant* tenant = nullptr;
  if (grpc::Status s = Admit(context, "WatchPayRun", request, &tenant); !s.ok()) {
    mu_.Unlock();
    return s;
  }
  if (behaviour_.predates_watch) {
    mu_.Unlock();
    return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "WatchPayRun");
  }
  const std::string id = request->pay_run_id();
  if (tenant->runs.count(id) == 0) {
    mu_.Unlock();
    return grpc::Status(grpc::StatusCode::NOT_FOUND, absl::StrCat("no pay run ", id));
  }
  // First the run as it stands, then every step from now on.
  std::vector<v1::PayRunProgress> pending;
  {
    const v1::PayRun& run = tenant->runs[id];
    v1::PayRunProgress now;
    now.set_status(run.status());
    if (run.status() == v1::PAY_RUN_STATUS_APPROVED) {
      now.set_message(ApprovedMessage(run.delivery_error()));
    }
    pending.push_back(now);
  }
  size_t sent = tenant->progress[id].size();
  bool done = Settled(tenant->runs[id].status()) && !tenant->calculating[id];
  // Only a watch that will stay counts as following the run (a calculation waits for one).
  const bool follows = !done;
  if (follows) {
    ++tenant->watchers[id];
  }
  grpc::Status result = grpc::Status::OK;
  while (true) {
    AdvanceDelivery(*tenant, id);
    const std::vector<v1::PayRunProgress>& steps = tenant->progress[id];
    for (; sent < steps.size(); ++sent) {
      pending.push_back(steps[sent]);
    }
    mu_.Unlock();
    for (const v1::PayRunProgress& progress : pending) {
      if (!writer->Write(progress)) {
        done = true;
        break;
      }
    }
    pending.clear();
    if (context->IsCancelled()) {
      result = grpc::Status::CANCELLED;
      done = true;
    }
    mu_.Lock();
    if (done || (Settled(tenant->runs[id].status()) && !tenant->calculating[id] &&
                 sent == tenant->progress[id].size())) {
      break;
    }
    const auto more = [tenant, &id, sent]() { return tenant->progress[id].size() > sent; };
    mu_.AwaitWithTimeout(absl::Condition(&more), absl::Milliseconds(10));
  }
  if (follows) {
    --tenant->watchers[id];
  }
  mu_.Unlock();
  return result;
}

grpc::Status FakePayroll::GetPayRun(grpc::ServerContext* context,
                                    const v1::GetPayRunRequest* request, v1::PayRun* response) {
  absl::MutexLock lock(&mu_);
  Tenant* tenant = nullptr;
  if (grpc::Status s = Admit(context, "GetPayRun", request, &tenant); !s.ok()) {
    return s;
  }
  AdvanceDelivery(*tenant, request->pay_run_id());
  auto it = tenant->runs.find(request->pay_run_id());
  if (it == tenant->runs.end()) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("no pay run ", request->pay_run_id()));
  }
  *response = it->second;
  return grpc::Status::OK;
}

grpc::Status FakePayroll::ListPayRuns(grpc::ServerContext* context,
                                      const v1::ListPayRunsRequest* request,
                                      v1::ListPayRunsResponse* response) {
  absl::MutexLock lock(&mu_);
  Tenant* tenant = nullptr;
  if (grpc::Status s = Admit(context, "ListPayRuns", request, &tenant); !s.ok()) {
    return s;
  }
  for (const auto& [id, run] : tenant->runs) {
    if (request->period().empty() || run.period() == request->period()) {
      *response->add_pay_runs() = run;
    }
  }
  return grpc::Status::OK;
}

grpc::Status FakePayroll::RenderPayslips(grpc::ServerContext* context,
                                         const v1::RenderPayslipsRequest* request,
                                         v1::RenderPayslipsResponse* response) {
  absl::MutexLock lock(&mu_);
  Tenant* tenant = nullptr;
  if (grpc::Status s = Admit(context, "RenderPayslips", request, &tenant); !s.ok()) {
    return s;
  }
  auto run = tenant->runs.find(request->pay_run_id());
  if (run == tenant->runs.end()) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("no pay run ", request->pay_run_id()));
  }
  if (run->second.status() == v1::PAY_RUN_STATUS_DRAFT) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "the run is not calculated");
  }
  const bool csv = request->format() == v1::RENDER_FORMAT_CSV;
  std::string content = csv ? "employee_number,gross\n" : "";
  for (const auto& [number, employee] : tenant->employees) {
    if (!request->employee_number().empty() && number != request->employee_number()) {
      continue;
    }
    const int64_t gross = employee.employment().monthly_salary_minor();
    absl::StrAppend(
        &content,
        csv ? absl::StrCat(number, ",", gross / 100, ".", gross % 100 / 10, gross % 10, "\n")
            : absl::StrCat("PAYSLIP ", run->first, " ", number, " ", employee.first_name(), " ",
                           employee.last_name(), "\n"));
  }
  response->set_content_type(csv ? "text/csv" : "text/plain; charset=utf-8");
  response->set_content(content);
  return grpc::Status::OK;
}

grpc::Status FakePayroll::ApprovePayRun(grpc::ServerContext* context,
                                        const v1::ApprovePayRunRequest* request,
                                        v1::PayRun* response) {
  absl::MutexLock lock(&mu_);
  Tenant* tenant = nullptr;
  if (grpc::Status s = Admit(context, "ApprovePayRun", request, &tenant); !s.ok()) {
    return s;
  }
  bool replayed = false;
  if (grpc::Status s = CheckReplay(*tenant, "ApprovePayRun", request->request_id(), *request,
                                   response, &replayed);
      !s.ok() || replayed) {
    return s;
  }
  auto it = tenant->runs.find(request->pay_run_id());
  if (it == tenant->runs.end()) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("no pay run ", request->pay_run_id()));
  }
  if (it->second.status() != v1::PAY_RUN_STATUS_CALCULATED) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        absl::StrCat("pay run ", it->first, " is not calculated"));
  }
  it->second.set_status(v1::PAY_RUN_STATUS_APPROVED);
  it->second.set_approved_at(kNow);
  it->second.set_delivery_error(behaviour_.delivery_error);
  tenant->approved_at[it->first] = absl::Now();
  v1::PayRunProgress progress;
  progress.set_status(v1::PAY_RUN_STATUS_APPROVED);
  progress.set_message(ApprovedMessage(behaviour_.delivery_error));
  Publish(*tenant, it->first, progress);
  *response = it->second;
  Remember(*tenant, "ApprovePayRun", request->request_id(), *request, *response);
  return grpc::Status::OK;
}

grpc::Status FakePayroll::CancelPayRun(grpc::ServerContext* context,
                                       const v1::CancelPayRunRequest* request,
                                       v1::PayRun* response) {
  absl::MutexLock lock(&mu_);
  Tenant* tenant = nullptr;
  if (grpc::Status s = Admit(context, "CancelPayRun", request, &tenant); !s.ok()) {
    return s;
  }
  bool replayed = false;
  if (grpc::Status s = CheckReplay(*tenant, "CancelPayRun", request->request_id(), *request,
                                   response, &replayed);
      !s.ok() || replayed) {
    return s;
  }
  auto it = tenant->runs.find(request->pay_run_id());
  if (it == tenant->runs.end()) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("no pay run ", request->pay_run_id()));
  }
  if (it->second.status() == v1::PAY_RUN_STATUS_APPROVED ||
      it->second.status() == v1::PAY_RUN_STATUS_POSTED) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        absl::StrCat("pay run ", it->first, " is approved"));
  }
  it->second.set_status(v1::PAY_RUN_STATUS_CANCELLED);
  v1::PayRunProgress progress;
  progress.set_status(v1::PAY_RUN_STATUS_CANCELLED);
  Publish(*tenant, it->first, progress);
  *response = it->second;
  Remember(*tenant, "CancelPayRun", request->request_id(), *request, *response);
  return grpc::Status::OK;
}

grpc::Status FakePayroll::GetPaymentFile(grpc::ServerContext* context,
                                         const v1::GetPaymentFileRequest* request,
                                         v1::PaymentFile* response) {
  absl::MutexLock lock(&mu_);
  Tenant* tenant = nullptr;
  if (grpc::Status s = Admit(context, "GetPaymentFile", request, &tenant); !s.ok()) {
    return s;
  }
  auto it = tenant->runs.find(request->pay_run_id());
  if (it == tenant->runs.end()) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("no pay run ", request->pay_run_id()));
  }
  if (it->second.status() != v1::PAY_RUN_STATUS_APPROVED &&
      it->second.status() != v1::PAY_RUN_STATUS_POSTED) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        absl::StrCat("pay run ", it->first, " is not approved"));
  }
  response->set_file_name(absl::StrCat(it->first, ".xml"));
  response->set_content_type("application/xml");
  response->set_content(
      absl::StrCat("<Document><CstmrCdtTrfInitn>", it->first, "</CstmrCdtTrfInitn></Document>\n"));
  response->set_transactions(it->second.totals().payslips());
  response->set_control_sum_minor(it->second.totals().net_pay_minor());
  return grpc::Status::OK;
}

}  // namespace tahe::tahectl
