#include "tests/bench/payroll_load_driver.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "tahe/ledger/v1/ledger.grpc.pb.h"
#include "tahe/payroll/v1/payroll.grpc.pb.h"
#include "tests/bench/ledger_load_driver.h"

namespace tahe::bench {
namespace {

namespace ledger_v1 = ::tahe::ledger::v1;
namespace v1 = ::tahe::payroll::v1;
using Clock = std::chrono::steady_clock;
using PayrollStub = v1::PayrollService::Stub;

// --- the generated organisation ------------------------------------------------------------------

constexpr const char* kFirstNames[] = {
    "Aino",  "Eino",  "Helmi", "Väinö",  "Sofia", "Onni",  "Aada", "Leevi", "Eevi",   "Elias",
    "Siiri", "Toivo", "Iida",  "Oliver", "Ella",  "Mikko", "Anni", "Jussi", "Kerttu", "Pekka"};
constexpr const char* kLastNames[] = {
    "Korhonen",    "Virtanen",  "Mäkinen",  "Nieminen",   "Mäkelä",   "Hämäläinen",
    "Laine",       "Heikkinen", "Koskinen", "Järvinen",   "Lehtonen", "Lehtinen",
    "Saarinen",    "Salminen",  "Heinonen", "Niemi",      "Heikkilä", "Kinnunen",
    "Salonen",     "Turunen",   "Salo",     "Laitinen",   "Tuominen", "Rantanen",
    "Karjalainen", "Jokinen",   "Mattila",  "Savolainen", "Lahtinen", "Ahonen"};
// Bank prefixes of Finnish IBANs whose BIC payroll derives (libs/fi/iban.cc).
constexpr const char* kBankPrefixes[] = {"1", "5", "8", "405", "33", "34", "36", "470"};
// Birth dates: day 1-28 of every month of 1960-2004 (contribution ages about 21-66).
constexpr int kBirthDays = 28 * 12 * 45;

bool IsHourly(int i) { return i % 3 == 2; }

// Monthly staff: 2 500.00-4 999.00 a month and its hourly rate (a month of 160 hours) for
// overtime; hourly staff: 15.00-29.99 an hour.
int64_t MonthlySalaryMinor(int i) { return 250000 + static_cast<int64_t>(i * 37 % 2500) * 100; }
int64_t HourlyRateMinor(int i) {
  return IsHourly(i) ? 1500 + (i * 13 % 1500) : (MonthlySalaryMinor(i) + 80) / 160;
}

std::string CostCentre(int i, int cost_centres) {
  return absl::StrFormat("KP%03d", i % cost_centres);
}

v1::Employee BenchEmployee(int i, int cost_centres) {
  v1::Employee e;
  e.set_employee_number(BenchEmployeeNumber(i));
  e.set_first_name(kFirstNames[i % std::size(kFirstNames)]);
  e.set_last_name(kLastNames[(i / std::size(kFirstNames)) % std::size(kLastNames)]);
  e.set_personal_identity_code(BenchIdentityCode(i));
  e.set_iban(BenchIban(i));
  v1::Employment* job = e.mutable_employment();
  job->set_start_date(absl::StrFormat("%04d-%02d-01", 2010 + i % 15, 1 + i % 12));
  job->set_cost_centre(CostCentre(i, cost_centres));
  if (IsHourly(i)) {
    job->set_salary_basis(v1::SALARY_BASIS_HOURLY);
    job->set_pension_scheme(v1::PENSION_SCHEME_TYEL);
  } else {
    job->set_salary_basis(v1::SALARY_BASIS_MONTHLY);
    job->set_monthly_salary_minor(MonthlySalaryMinor(i));
    job->set_pension_scheme(v1::PENSION_SCHEME_KEVA);
  }
  job->set_hourly_rate_minor(HourlyRateMinor(i));
  if (i % 4 == 0) {
    job->set_union_fee_ppm(15000);  // 1.50 %
  }
  return e;
}

v1::TaxCard BenchTaxCard(int i, const std::string& valid_from) {
  v1::TaxCard card;
  card.set_employee_number(BenchEmployeeNumber(i));
  card.set_valid_from(valid_from);
  const int64_t base = 50000 + (i % 26) * 10000;  // 5 %-30 %
  card.set_base_rate_ppm(base);
  card.set_additional_rate_ppm(std::min<int64_t>(base + 200000, 1000000));
  card.set_income_limit_minor(2000000 + static_cast<int64_t>(i % 41) * 100000);  // 20-60 k€
  return card;
}

// The two pay items of employee i in `period`.
void AddBenchItems(int i, const std::string& period, v1::ImportPayItemsRequest* batch) {
  const std::string number = BenchEmployeeNumber(i);
  auto item = [&](int n, v1::PayItemKind kind) {
    v1::PayItem* it = batch->add_items();
    it->set_item_id(absl::StrCat(period, "-", number, "-", n));
    it->set_employee_number(number);
    it->set_period(period);
    it->set_kind(kind);
    return it;
  };
  auto mileage = [&](int n) {
    v1::PayItem* it = item(n, v1::PAY_ITEM_KIND_MILEAGE_ALLOWANCE);
    it->set_quantity_centi(5000 + (i % 26) * 1000);  // 50-300 km
    it->set_unit_rate_minor(55);
    it->set_description("Kilometrikorvaus");
  };
  if (IsHourly(i)) {
    v1::PayItem* hours = item(1, v1::PAY_ITEM_KIND_HOURLY_WORK);
    hours->set_quantity_centi(12000 + (i % 80) * 50);  // 120-159.5 h
    hours->set_unit_rate_minor(HourlyRateMinor(i));
    hours->set_description("Tuntityö");
    if (i % 2 == 0) {
      v1::PayItem* evening = item(2, v1::PAY_ITEM_KIND_EVENING_SUPPLEMENT);
      evening->set_amount_minor(3000 + (i % 50) * 100);
      evening->set_description("Iltalisä");
    } else {
      mileage(2);
    }
    return;
  }
  v1::PayItem* overtime = item(1, v1::PAY_ITEM_KIND_OVERTIME_50);
  overtime->set_quantity_centi(100 + (i % 16) * 50);  // 1-8.5 h
  overtime->set_unit_rate_minor(HourlyRateMinor(i));
  overtime->set_description("Ylityö 50 %");
  switch (i % 3) {
    case 0: {
      v1::PayItem* meal = item(2, v1::PAY_ITEM_KIND_MEAL_BENEFIT);
      meal->set_amount_minor(14600);  // 20 meals at 7.30
      meal->set_description("Ravintoetu");
      break;
    }
    case 1: {
      v1::PayItem* phone = item(2, v1::PAY_ITEM_KIND_PHONE_BENEFIT);
      phone->set_amount_minor(2000);
      phone->set_description("Puhelinetu");
      break;
    }
    default:
      mileage(2);
  }
}

// Counts an import response's rejections into `result`.
template <typename Response>
void CountRejections(const Response& resp, PayrollSetUpResult* result) {
  for (const v1::Rejection& r : resp.rejected()) {
    // A last rejection with index -1 counts those not listed ("and N more").
    if (r.index() < 0) {
      int64_t more = 0;
      for (absl::string_view word : absl::StrSplit(r.message(), ' ')) {
        if (absl::SimpleAtoi(word, &more)) {
          break;
        }
      }
      result->rejected += std::max<int64_t>(more, 1);
      continue;
    }
    ++result->rejected;
    if (result->first_rejection.empty()) {
      result->first_rejection =
          absl::StrCat("batch ", r.batch(), " [", r.index(), "] ", r.key(), ": ", r.message());
    }
  }
}

// One client stream of `batches` batches, each made by `fill(batch_index, request)` just before
// it is sent; the response.
template <typename Req, typename Resp>
absl::StatusOr<Resp> ImportStream(
    PayrollStub& stub,
    std::unique_ptr<grpc::ClientWriter<Req>> (PayrollStub::*method)(grpc::ClientContext*, Resp*),
    const Target& target, const std::string& what, absl::Duration timeout, int batches,
    const std::function<void(int, Req*)>& fill) {
  grpc::ClientContext ctx;
  AddMetadata(&ctx, target, "");
  SetDeadline(&ctx, timeout);
  Resp resp;
  std::unique_ptr<grpc::ClientWriter<Req>> writer = (stub.*method)(&ctx, &resp);
  for (int b = 0; b < batches; ++b) {
    Req req;
    fill(b, &req);
    if (!writer->Write(req)) {
      break;  // the server ended the call; Finish says why
    }
  }
  writer->WritesDone();
  grpc::Status s = writer->Finish();
  if (!s.ok()) {
    return CallError(what, s);
  }
  return resp;
}

absl::Status SetUpLedger(const Target& ledger, const std::string& payment_date, int cost_centres) {
  if (absl::Status s = SetUpTenant(ledger, payment_date); !s.ok()) {
    return s;
  }
  auto stub = ledger_v1::LedgerService::NewStub(NewChannel(ledger.address, 0));
  ledger_v1::DefineDimensionRequest req;
  // Fixed for the same values: a second set-up replays it.
  req.set_request_id(absl::StrCat("bench-setup-cost-centres-", cost_centres));
  req.mutable_dimension()->set_key("cost_centre");
  req.mutable_dimension()->set_description("Kustannuspaikka");
  for (int i = 0; i < cost_centres; ++i) {
    req.mutable_dimension()->add_allowed_values(CostCentre(i, cost_centres));
  }
  ledger_v1::Dimension resp;
  return Call(*stub, &ledger_v1::LedgerService::Stub::DefineDimension, ledger, "DefineDimension",
              req.request_id(), req, &resp);
}

absl::Status SetSettings(PayrollStub& stub, const Target& payroll) {
  v1::SetPayrollSettingsRequest req;
  req.set_request_id("bench-setup-settings");
  v1::PayrollSettings* s = req.mutable_settings();
  s->set_accident_insurance_ppm(5000);   // 0.50 %
  s->set_group_life_insurance_ppm(700);  // 0.07 %
  s->set_debtor_name("Esimerkin kunta");
  s->set_debtor_iban("FI2112345600000785");
  s->set_debtor_bic("NDEAFIHH");
  s->set_debtor_business_id("2077474-0");
  v1::PayrollSettings resp;
  return Call(stub, &PayrollStub::SetPayrollSettings, payroll, "SetPayrollSettings",
              req.request_id(), req, &resp);
}

// SetTaxCard for every employee, `clients` threads each with one call in flight.
void SetTaxCards(PayrollStub& stub, const Target& payroll, const PayrollSetUpOptions& options,
                 const std::string& run_id, const std::string& valid_from,
                 PayrollSetUpResult* result) {
  std::atomic<int> next{0};
  std::atomic<int64_t> set{0};
  std::mutex mu;
  int64_t failed = 0;       // guarded by mu
  std::string first_error;  // guarded by mu
  std::vector<std::thread> threads;
  for (int t = 0; t < options.tax_card_clients; ++t) {
    threads.emplace_back([&] {
      for (int i = next++; i < options.employees; i = next++) {
        v1::SetTaxCardRequest req;
        req.set_request_id(absl::StrCat("bench-card-", run_id, "-", i));
        *req.mutable_tax_card() = BenchTaxCard(i, valid_from);
        v1::TaxCard resp;
        absl::Status s = Call(stub, &PayrollStub::SetTaxCard, payroll,
                              absl::StrCat("SetTaxCard ", req.tax_card().employee_number()),
                              req.request_id(), req, &resp);
        if (s.ok()) {
          ++set;
          continue;
        }
        std::lock_guard<std::mutex> lock(mu);
        ++failed;
        if (first_error.empty()) {
          first_error = s.ToString();
        }
      }
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  result->tax_cards = set;
  result->rejected += failed;
  if (result->first_rejection.empty()) {
    result->first_rejection = first_error;
  }
}

// --- the run -------------------------------------------------------------------------------------

// The value in KiB of `key` ("VmHWM") in /proc/<pid>/status; -1 if it cannot be read.
int64_t ProcStatusKib(int pid, absl::string_view key) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    absl::string_view rest = line;
    if (absl::ConsumePrefix(&rest, key) && absl::ConsumePrefix(&rest, ":")) {
      rest = absl::StripAsciiWhitespace(rest);
      absl::ConsumeSuffix(&rest, "kB");
      int64_t kib = 0;
      if (absl::SimpleAtoi(absl::StripAsciiWhitespace(rest), &kib)) {
        return kib;
      }
    }
  }
  return -1;
}

// Resets the peak resident set of `pid` to its current resident set (Linux 4.0 and later).
bool ResetPeakRss(int pid) {
  std::ofstream out(absl::StrCat("/proc/", pid, "/clear_refs"));
  out << "5";
  out.close();
  return static_cast<bool>(out);
}

std::string CsvQuoted(const std::string& text) {
  return absl::StrCat("\"", absl::StrReplaceAll(text, {{"\"", "\"\""}}), "\"");
}

// Lists every payslip of the run (pages of 1 000) into the result's counts, and into `csv` when
// it is open.
absl::Status CountPayslips(PayrollStub& stub, const Target& payroll, const std::string& run_id,
                           std::ofstream* csv, PayRunResult* r) {
  v1::ListPayslipsRequest req;
  req.set_pay_run_id(r->pay_run_id);
  req.set_page_size(1000);
  std::string line;
  do {
    v1::ListPayslipsResponse resp;
    if (absl::Status s = Call(stub, &PayrollStub::ListPayslips, payroll, "ListPayslips",
                              absl::StrCat(run_id, "-list"), req, &resp);
        !s.ok()) {
      return s;
    }
    for (const v1::Payslip& slip : resp.payslips()) {
      ++r->payslips_listed;
      r->payslip_lines += slip.lines_size();
      if (csv == nullptr) {
        continue;
      }
      for (int n = 0; n < slip.lines_size(); ++n) {
        const v1::PayslipLine& l = slip.lines(n);
        line.clear();
        // Text quoted: an unquoted empty field would be NULL to COPY.
        absl::StrAppend(&line, CsvQuoted(payroll.tenant), ",", CsvQuoted(slip.pay_run_id()), ",",
                        CsvQuoted(slip.employee_number()), ",", n + 1, ",", CsvQuoted(l.code()),
                        ",", CsvQuoted(l.description()), ",", l.quantity_centi(), ",",
                        l.base_minor(), ",", l.rate_ppm(), ",", l.amount_minor(), ",",
                        CsvQuoted(l.rate_table_version()), "\n");
        *csv << line;
      }
    }
    req.set_page_token(resp.next_page_token());
  } while (!req.page_token().empty());
  return absl::OkStatus();
}

absl::Status CountLedgerLines(const Target& ledger, PayRunResult* r) {
  auto stub = ledger_v1::LedgerService::NewStub(NewChannel(ledger.address, 0));
  ledger_v1::GetEntryRequest req;
  req.set_sequence(r->ledger_sequence);
  ledger_v1::Entry entry;
  if (absl::Status s = Call(*stub, &ledger_v1::LedgerService::Stub::GetEntry, ledger, "GetEntry",
                            "", req, &entry);
      !s.ok()) {
    return s;
  }
  r->ledger_lines = entry.lines_size();
  int64_t sum = 0;
  for (const ledger_v1::EntryLine& line : entry.lines()) {
    sum += line.amount().amount_minor();
    if (line.account() == kNetPayAccount) {
      r->ledger_net_pay_minor += line.amount().amount_minor();
    }
  }
  r->ledger_balanced = sum == 0 && entry.lines_size() > 0;
  return absl::OkStatus();
}

// The pay period, payment date and request id prefix of a set-up or a run, defaults filled in.
struct Month {
  std::string period;        // "YYYY-MM"
  std::string payment_date;  // "YYYY-MM-DD"
  std::string run_id;
};

absl::StatusOr<Month> ResolveMonth(const std::string& period, const std::string& payment_date,
                                   const std::string& run_id) {
  Month m{.period = period.empty() ? CurrentPeriodUtc() : period,
          .payment_date = payment_date,
          .run_id = run_id.empty() ? RandomRunId() : run_id};
  if (m.payment_date.empty()) {
    m.payment_date = LastDayOfPeriod(m.period);
  }
  if (m.payment_date.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("period: YYYY-MM, not ", m.period));
  }
  return m;
}

absl::StatusOr<std::unique_ptr<PayrollStub>> ConnectPayroll(const std::string& address) {
  absl::StatusOr<std::vector<std::shared_ptr<grpc::Channel>>> channels =
      ConnectChannels(address, 1);
  if (!channels.ok()) {
    return channels.status();
  }
  return v1::PayrollService::NewStub(channels->front());
}

}  // namespace

std::string BenchEmployeeNumber(int index) { return absl::StrFormat("E%06d", index + 1); }

std::string BenchIdentityCode(int index) {
  const int d = index % kBirthDays;
  const int day = 1 + d % 28;
  const int month = 1 + (d / 28) % 12;
  const int year = 1960 + d / (28 * 12);
  const int individual = 2 + (index / kBirthDays) % 898;  // 002-899: permanent codes
  const int64_t n =
      ((static_cast<int64_t>(day) * 100 + month) * 100 + year % 100) * 1000 + individual;
  constexpr char kCheck[] = "0123456789ABCDEFHJKLMNPRSTUVWXY";
  return absl::StrFormat("%02d%02d%02d%c%03d%c", day, month, year % 100, year < 2000 ? '-' : 'A',
                         individual, kCheck[n % 31]);
}

std::string BenchIban(int index) {
  const std::string prefix = kBankPrefixes[index % std::size(kBankPrefixes)];
  const int account_digits = 14 - static_cast<int>(prefix.size());
  const std::string bban = absl::StrCat(prefix, absl::StrFormat("%0*d", account_digits, index + 1));
  // ISO 13616: the check digits make BBAN + "FI00" (F = 15, I = 18) equal 1 mod 97.
  int remainder = 0;
  for (char c : absl::StrCat(bban, "151800")) {
    remainder = (remainder * 10 + (c - '0')) % 97;
  }
  return absl::StrFormat("FI%02d%s", 98 - remainder, bban);
}

std::string CurrentPeriodUtc() {
  absl::CivilDay day = absl::ToCivilDay(absl::Now(), absl::UTCTimeZone());
  return absl::StrFormat("%04d-%02d", day.year(), day.month());
}

std::string LastDayOfPeriod(const std::string& period) {
  absl::CivilMonth month;
  if (!absl::ParseCivilTime(period, &month)) {
    return "";
  }
  absl::CivilDay last = absl::CivilDay(month + 1) - 1;
  return absl::StrFormat("%04d-%02d-%02d", last.year(), last.month(), last.day());
}

absl::StatusOr<PayrollSetUpResult> SetUpPayrollBench(const PayrollBenchTarget& target,
                                                     const PayrollSetUpOptions& options) {
  if (options.employees < 1 || options.batch_size < 1 || options.cost_centres < 1 ||
      options.cost_centres > 1000 || options.tax_card_clients < 1) {
    return absl::InvalidArgumentError(
        "employees, batch_size and tax_card_clients must be >= 1, cost_centres 1-1000");
  }
  absl::StatusOr<Month> month = ResolveMonth(options.period, options.payment_date, options.run_id);
  if (!month.ok()) {
    return month.status();
  }
  const auto& [period, payment_date, run_id] = *month;
  const Target payroll = target.payroll();
  PayrollSetUpResult result;
  const Clock::time_point start = Clock::now();

  if (absl::Status s = SetUpLedger(target.ledger(), payment_date, options.cost_centres); !s.ok()) {
    return s;
  }
  result.ledger_seconds = SecondsSince(start);

  absl::StatusOr<std::unique_ptr<PayrollStub>> stub = ConnectPayroll(target.payroll_address);
  if (!stub.ok()) {
    return stub.status();
  }
  if (absl::Status s = SetSettings(**stub, payroll); !s.ok()) {
    return s;
  }

  const int batches = (options.employees + options.batch_size - 1) / options.batch_size;
  auto batch_range = [&](int b) {
    return std::make_pair(b * options.batch_size,
                          std::min(options.employees, (b + 1) * options.batch_size));
  };
  Clock::time_point phase = Clock::now();
  absl::StatusOr<v1::ImportEmployeesResponse> employees =
      ImportStream<v1::ImportEmployeesRequest, v1::ImportEmployeesResponse>(
          **stub, &PayrollStub::ImportEmployees, payroll, "ImportEmployees", options.call_timeout,
          batches, [&](int b, v1::ImportEmployeesRequest* req) {
            req->set_request_id(absl::StrCat("bench-employees-", run_id, "-", b));
            auto [first, last] = batch_range(b);
            for (int i = first; i < last; ++i) {
              *req->add_employees() = BenchEmployee(i, options.cost_centres);
            }
          });
  if (!employees.ok()) {
    return employees.status();
  }
  result.employees = employees->accepted();
  CountRejections(*employees, &result);
  result.employees_seconds = SecondsSince(phase);

  if (options.tax_cards) {
    phase = Clock::now();
    SetTaxCards(**stub, payroll, options, run_id, absl::StrCat(period.substr(0, 4), "-01-01"),
                &result);
    result.tax_cards_seconds = SecondsSince(phase);
  }

  phase = Clock::now();
  absl::StatusOr<v1::ImportPayItemsResponse> items =
      ImportStream<v1::ImportPayItemsRequest, v1::ImportPayItemsResponse>(
          **stub, &PayrollStub::ImportPayItems, payroll, "ImportPayItems", options.call_timeout,
          batches, [&](int b, v1::ImportPayItemsRequest* req) {
            req->set_request_id(absl::StrCat("bench-items-", run_id, "-", b));
            auto [first, last] = batch_range(b);
            for (int i = first; i < last; ++i) {
              AddBenchItems(i, period, req);
            }
          });
  if (!items.ok()) {
    return items.status();
  }
  result.pay_items = items->accepted();
  CountRejections(*items, &result);
  result.pay_items_seconds = SecondsSince(phase);
  result.seconds = SecondsSince(start);
  return result;
}

absl::StatusOr<PayRunResult> RunPayRun(const PayrollBenchTarget& target,
                                       const PayRunOptions& options) {
  absl::StatusOr<Month> month = ResolveMonth(options.period, options.payment_date, options.run_id);
  if (!month.ok()) {
    return month.status();
  }
  const auto& [period, payment_date, run_id] = *month;
  const Target payroll = target.payroll();
  absl::StatusOr<std::unique_ptr<PayrollStub>> stub = ConnectPayroll(target.payroll_address);
  if (!stub.ok()) {
    return stub.status();
  }

  PayRunResult r;
  if (options.payroll_pid > 0) {
    r.rss_before_kib = ProcStatusKib(options.payroll_pid, "VmRSS");
    r.peak_reset = ResetPeakRss(options.payroll_pid);
  }

  // The timed part: nothing but the calls and the polls.
  const Clock::time_point start = Clock::now();
  v1::PayRun run;
  // One phase: `req` (pay_run_id set), with request id "bench-run-<run id>-<name>", its seconds.
  auto phase = [&](auto method, const std::string& name, auto req, absl::Duration timeout,
                   double* seconds) {
    const Clock::time_point begin = Clock::now();
    req.set_request_id(absl::StrCat("bench-run-", run_id, "-", name));
    absl::Status s = Call(**stub, method, payroll, name, req.request_id(), req, &run, timeout);
    *seconds = SecondsSince(begin);
    return s;
  };
  v1::CreatePayRunRequest create;
  create.set_period(period);
  create.set_payment_date(payment_date);
  if (absl::Status s = phase(&PayrollStub::CreatePayRun, "CreatePayRun", create, absl::Seconds(60),
                             &r.create_seconds);
      !s.ok()) {
    return s;
  }
  r.pay_run_id = run.pay_run_id();
  v1::CalculatePayRunRequest calculate;
  calculate.set_pay_run_id(r.pay_run_id);
  if (absl::Status s = phase(&PayrollStub::CalculatePayRun, "CalculatePayRun", calculate,
                             options.calculate_timeout, &r.calculate_seconds);
      !s.ok()) {
    return s;
  }
  v1::ApprovePayRunRequest approve;
  approve.set_pay_run_id(r.pay_run_id);
  if (absl::Status s = phase(&PayrollStub::ApprovePayRun, "ApprovePayRun", approve,
                             options.calculate_timeout, &r.approve_seconds);
      !s.ok()) {
    return s;
  }

  const Clock::time_point posting_start = Clock::now();
  const Clock::time_point posting_deadline =
      posting_start + absl::ToChronoNanoseconds(options.posting_timeout);
  v1::GetPayRunRequest get;
  get.set_pay_run_id(r.pay_run_id);
  while (run.status() != v1::PAY_RUN_STATUS_POSTED) {
    if (Clock::now() > posting_deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("pay run ", r.pay_run_id, " not posted within ",
                       absl::FormatDuration(options.posting_timeout), " (last delivery error: ",
                       r.last_delivery_error.empty() ? "none" : r.last_delivery_error, ")"));
    }
    if (r.polls > 0) {
      std::this_thread::sleep_for(absl::ToChronoNanoseconds(options.poll_interval));
    }
    ++r.polls;
    if (absl::Status s = Call(**stub, &PayrollStub::GetPayRun, payroll, "GetPayRun", "", get, &run);
        !s.ok()) {
      return s;
    }
    if (!run.delivery_error().empty()) {
      r.last_delivery_error = run.delivery_error();
    }
  }
  r.posting_seconds = SecondsSince(posting_start);
  r.total_seconds = SecondsSince(start);

  if (options.payroll_pid > 0) {
    r.peak_rss_kib = ProcStatusKib(options.payroll_pid, "VmHWM");
  }
  r.payslips = run.totals().payslips();
  r.skipped = run.skipped_size();
  r.gross_cash_minor = run.totals().gross_cash_minor();
  r.net_pay_minor = run.totals().net_pay_minor();
  r.ledger_sequence = run.ledger_sequence();

  // Not timed: what the run produced.
  std::ofstream csv;
  if (!options.lines_csv.empty()) {
    csv.open(options.lines_csv, std::ios::trunc);
    if (!csv) {
      return absl::UnavailableError(absl::StrCat("cannot write ", options.lines_csv));
    }
  }
  if (absl::Status s = CountPayslips(**stub, payroll, run_id, csv.is_open() ? &csv : nullptr, &r);
      !s.ok()) {
    return s;
  }
  if (csv.is_open()) {
    csv.close();
    if (!csv) {
      return absl::UnavailableError(absl::StrCat("cannot write ", options.lines_csv));
    }
  }
  if (absl::Status s = CountLedgerLines(target.ledger(), &r); !s.ok()) {
    return s;
  }
  return r;
}

std::string HumanLine(const PayrollSetUpResult& r) {
  std::string line = absl::StrFormat(
      "setup: %d employees in %.1f s, %d tax cards in %.1f s, %d pay items in %.1f s (ledger "
      "%.1f s; %.1f s in all); %d rejected",
      r.employees, r.employees_seconds, r.tax_cards, r.tax_cards_seconds, r.pay_items,
      r.pay_items_seconds, r.ledger_seconds, r.seconds, r.rejected);
  if (!r.first_rejection.empty()) {
    absl::StrAppend(&line, " (first: ", r.first_rejection, ")");
  }
  return line;
}

std::string ResultLine(const PayrollSetUpResult& r) {
  return absl::StrFormat(
      "RESULT mode=setup employees=%d tax_cards=%d pay_items=%d rejected=%d ledger_s=%.3f "
      "employees_s=%.3f tax_cards_s=%.3f pay_items_s=%.3f seconds=%.3f",
      r.employees, r.tax_cards, r.pay_items, r.rejected, r.ledger_seconds, r.employees_seconds,
      r.tax_cards_seconds, r.pay_items_seconds, r.seconds);
}

std::string HumanLine(const PayRunResult& r) {
  std::string line = absl::StrFormat(
      "pay run %s: %d payslips (%d lines, %d skipped) in %.2f s: create %.2f s, calculate %.2f s, "
      "approve %.2f s, posting delivered %.2f s later (ledger entry %d, %d lines%s)",
      r.pay_run_id, r.payslips, r.payslip_lines, r.skipped, r.total_seconds, r.create_seconds,
      r.calculate_seconds, r.approve_seconds, r.posting_seconds, r.ledger_sequence, r.ledger_lines,
      r.ledger_balanced ? ", balanced" : ", NOT BALANCED");
  if (r.peak_rss_kib >= 0) {
    absl::StrAppend(&line, absl::StrFormat("; payroll resident %.0f MiB before, peak %.0f MiB%s",
                                           r.rss_before_kib / 1024.0, r.peak_rss_kib / 1024.0,
                                           r.peak_reset ? "" : " (since it started)"));
  }
  if (!r.last_delivery_error.empty()) {
    absl::StrAppend(&line, "; delivery error seen: ", r.last_delivery_error);
  }
  return line;
}

std::string ResultLine(const PayRunResult& r) {
  return absl::StrFormat(
      "RESULT mode=run pay_run_id=%s payslips=%d skipped=%d payslips_listed=%d payslip_lines=%d "
      "create_s=%.3f calculate_s=%.3f approve_s=%.3f posting_s=%.3f total_s=%.3f "
      "ledger_sequence=%d ledger_lines=%d ledger_balanced=%d gross_cash_minor=%d "
      "net_pay_minor=%d polls=%d rss_before_kib=%d peak_rss_kib=%d peak_reset=%d",
      r.pay_run_id, r.payslips, r.skipped, r.payslips_listed, r.payslip_lines, r.create_seconds,
      r.calculate_seconds, r.approve_seconds, r.posting_seconds, r.total_seconds, r.ledger_sequence,
      r.ledger_lines, r.ledger_balanced ? 1 : 0, r.gross_cash_minor, r.net_pay_minor, r.polls,
      r.rss_before_kib, r.peak_rss_kib, r.peak_reset ? 1 : 0);
}

}  // namespace tahe::bench
