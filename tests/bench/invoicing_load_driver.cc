#include "tests/bench/invoicing_load_driver.h"

#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
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
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "libs/fi/reference.h"
#include "services/invoicing/camt054.h"
#include "tahe/invoicing/v1/invoicing.grpc.pb.h"
#include "tahe/ledger/v1/ledger.grpc.pb.h"
#include "tests/bench/ledger_load_driver.h"
#include "tests/bench/payroll_load_driver.h"

namespace tahe::bench {
namespace {

namespace ledger_v1 = ::tahe::ledger::v1;
namespace v1 = ::tahe::invoicing::v1;
using Clock = std::chrono::steady_clock;
using InvoicingStub = v1::InvoicingService::Stub;
using LedgerStub = ledger_v1::LedgerService::Stub;

// The seller's account, whose notifications the bank sends.
constexpr char kSellerIban[] = "FI2112345600000785";
constexpr char kPriceList[] = "alennus";
// Transactions per entry of the notification.
constexpr int kTransactionsPerEntry = 50;
// Ledger accounts of the fi-municipal chart that the postings use (invoicing's defaults).
constexpr char kReceivables[] = "1700";
constexpr char kBank[] = "1910";
constexpr char kOverpayments[] = "2900";

// --- dates ---------------------------------------------------------------------------------------

struct Dates {
  std::string invoice_date;  // "YYYY-MM-DD"
  std::string payment_date;
};

absl::StatusOr<Dates> ResolveDates(const std::string& invoice_date, int payment_delay_days) {
  absl::CivilDay day;
  if (invoice_date.empty()) {
    day = absl::ToCivilDay(absl::Now(), absl::UTCTimeZone());
  } else if (!absl::ParseCivilTime(invoice_date, &day)) {
    return absl::InvalidArgumentError(
        absl::StrCat("invoice_date: YYYY-MM-DD, not \"", invoice_date, "\""));
  }
  auto format = [](absl::CivilDay d) {
    return absl::StrFormat("%04d-%02d-%02d", d.year(), d.month(), d.day());
  };
  return Dates{.invoice_date = format(day), .payment_date = format(day + payment_delay_days)};
}

// --- the generated organisation ------------------------------------------------------------------

constexpr const char* kProductNames[] = {"Kotihoito",
                                         "Ateriapalvelu",
                                         "Kirjaston aineisto",
                                         "Terveyskeskusmaksu",
                                         "Siivouspalvelu",
                                         "Vesimaksu",
                                         "Jätehuolto",
                                         "Turvapuhelin",
                                         "Pysäköintilupa",
                                         "Liikuntahallin vuoro",
                                         "Kokoustilan vuokra",
                                         "Asiakirjapyyntö",
                                         "Rakennuslupa",
                                         "Uimahallin sarjakortti",
                                         "Musiikkiopiston lukukausimaksu",
                                         "Varhaiskasvatus",
                                         "Kuljetuspalvelu",
                                         "Asuntovuokra",
                                         "Hoitotarvikkeet",
                                         "Kansalaisopiston kurssi"};
constexpr const char* kUnits[] = {"h", "kpl", "kk", "kpl"};
constexpr v1::VatCategory kVatCategories[] = {v1::VAT_CATEGORY_GENERAL, v1::VAT_CATEGORY_REDUCED,
                                              v1::VAT_CATEGORY_LOWEST, v1::VAT_CATEGORY_EXEMPT};
constexpr const char* kFirstNames[] = {"Aino", "Eino",  "Helmi", "Väinö", "Sofia",
                                       "Onni", "Aada",  "Leevi", "Eevi",  "Elias",
                                       "Iida", "Toivo", "Ella",  "Mikko", "Kerttu"};
constexpr const char* kLastNames[] = {"Korhonen", "Virtanen", "Mäkinen",  "Nieminen",
                                      "Mäkelä",   "Laine",    "Koskinen", "Järvinen",
                                      "Lehtonen", "Saarinen", "Salminen", "Heinonen"};

int64_t ProductPriceCents(int k) { return 500 + static_cast<int64_t>(k) * 1373 % 20000; }

std::string CostCentre(int k) { return absl::StrFormat("KP%03d", k); }

v1::Product BenchProduct(int k, int cost_centres) {
  v1::Product p;
  p.set_code(BenchProductCode(k));
  const int names = static_cast<int>(std::size(kProductNames));
  p.set_name(k < names ? kProductNames[k] : absl::StrCat(kProductNames[k % names], " ", k / names));
  p.set_unit(kUnits[k % std::size(kUnits)]);
  p.set_unit_price_cents(ProductPriceCents(k));
  p.set_vat_category(kVatCategories[k % std::size(kVatCategories)]);
  p.set_sales_account(k % 2 == 0 ? "3000" : "3100");
  p.set_cost_centre(CostCentre(k % cost_centres));
  return p;
}

v1::Customer BenchCustomer(int i) {
  v1::Customer c;
  c.set_customer_number(BenchCustomerNumber(i));
  v1::PostalAddress* address = c.mutable_address();
  address->set_street(absl::StrCat("Kauppakatu ", 1 + i % 90));
  address->set_postal_code(absl::StrFormat("15%03d", i % 1000));
  address->set_city("Lahti");
  if (i % 3 == 0) {
    c.set_kind(v1::CUSTOMER_KIND_ORGANISATION);
    c.set_name(absl::StrCat("Yritys ", i + 1, " Oy"));
    c.set_business_id(BenchBusinessId(i));
    c.set_delivery_channel(v1::DELIVERY_CHANNEL_EINVOICE);
    c.set_einvoice_address(absl::StrCat("0037", absl::StrReplaceAll(c.business_id(), {{"-", ""}})));
    c.set_einvoice_operator("003721291126");
  } else {
    c.set_kind(v1::CUSTOMER_KIND_PERSON);
    c.set_name(absl::StrCat(kFirstNames[i % std::size(kFirstNames)], " ",
                            kLastNames[(i / std::size(kFirstNames)) % std::size(kLastNames)]));
    if (i % 3 == 1) {
      c.set_personal_identity_code(BenchIdentityCode(i));
    }
    if (i % 2 == 0) {
      c.set_delivery_channel(v1::DELIVERY_CHANNEL_EMAIL);
      c.set_email(absl::StrCat("asiakas", i + 1, "@example.fi"));
    } else {
      c.set_delivery_channel(v1::DELIVERY_CHANNEL_PAPER);
    }
  }
  c.set_language(i % 10 == 7 ? "sv" : "fi");
  if (i % 10 == 3) {
    c.set_price_list(kPriceList);
  }
  return c;
}

// Draft i of the run: its customer, 2-5 lines.
void FillDraft(const std::string& run_id, int i, const InvoicingRunOptions& options,
               const std::string& delivery_date, v1::InvoiceDraftInput* d) {
  d->set_invoice_id(BenchInvoiceId(run_id, i));
  d->set_customer_number(
      BenchCustomerNumber(static_cast<int>(int64_t{i} * 7919 % options.customers)));
  d->set_delivery_date(delivery_date);
  if (i % 5 == 0) {
    d->set_text("Palvelut kuukauden ajalta");
  }
  const int lines = 2 + i % 4;
  for (int j = 0; j < lines; ++j) {
    v1::LineInput* line = d->add_lines();
    line->set_product_code(
        BenchProductCode(static_cast<int>((int64_t{i} * 31 + j * 7) % options.products)));
    line->set_quantity_milli(1000 * (1 + (i + j) % 5) + ((i + j) % 3 == 0 ? 500 : 0));
    if ((i + j) % 10 == 0) {
      line->set_discount_ppm(100000);  // 10 %
    }
  }
}

// --- set-up ------------------------------------------------------------------------------------

absl::Status SetUpLedger(const Target& ledger, const Dates& dates, int cost_centres) {
  for (const std::string& day : {dates.invoice_date, dates.payment_date}) {
    if (absl::Status s = SetUpTenant(ledger, day); !s.ok()) {
      return s;
    }
  }
  auto stub = ledger_v1::LedgerService::NewStub(NewChannel(ledger.address, 0));
  ledger_v1::DefineDimensionRequest req;
  // Fixed for the same values: a second set-up replays it.
  req.set_request_id(absl::StrCat("bench-setup-cost-centres-", cost_centres));
  req.mutable_dimension()->set_key("cost_centre");
  req.mutable_dimension()->set_description("Kustannuspaikka");
  for (int k = 0; k < cost_centres; ++k) {
    req.mutable_dimension()->add_allowed_values(CostCentre(k));
  }
  ledger_v1::Dimension resp;
  return Call(*stub, &LedgerStub::DefineDimension, ledger, "DefineDimension", req.request_id(), req,
              &resp);
}

absl::Status SetSettings(InvoicingStub& stub, const Target& invoicing) {
  v1::SetInvoicingSettingsRequest req;
  req.set_request_id("bench-setup-settings");
  v1::InvoicingSettings* s = req.mutable_settings();
  s->set_seller_name("Esimerkin kaupunki");
  s->set_business_id("0201256-6");
  s->mutable_address()->set_street("Kaupungintalontie 1");
  s->mutable_address()->set_postal_code("15100");
  s->mutable_address()->set_city("Lahti");
  s->set_iban(kSellerIban);
  s->set_bic("NDEAFIHH");
  s->set_einvoice_address("003702012566");
  s->set_einvoice_operator("003721291126");
  s->set_reference_prefix("1");
  s->set_payment_terms_days(14);
  s->set_reminder_fee_cents(500);
  v1::InvoicingSettings resp;
  return Call(stub, &InvoicingStub::SetInvoicingSettings, invoicing, "SetInvoicingSettings",
              req.request_id(), req, &resp);
}

absl::StatusOr<std::unique_ptr<InvoicingStub>> ConnectInvoicing(const std::string& address) {
  absl::StatusOr<std::vector<std::shared_ptr<grpc::Channel>>> channels =
      ConnectChannels(address, 1);
  if (!channels.ok()) {
    return channels.status();
  }
  return v1::InvoicingService::NewStub(channels->front());
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

// CPU seconds (user + system) of process `pid` so far; -1 if it cannot be read.
double ProcessCpuSeconds(int pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  const std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // The fields after the command name (which may hold spaces), from the 3rd (state) on.
  const size_t close = stat.rfind(')');
  if (close == std::string::npos || close + 2 > stat.size()) {
    return -1;
  }
  std::vector<absl::string_view> fields =
      absl::StrSplit(absl::string_view(stat).substr(close + 2), ' ');
  int64_t user = 0, system = 0;
  if (fields.size() < 13 || !absl::SimpleAtoi(fields[11], &user) ||
      !absl::SimpleAtoi(fields[12], &system)) {
    return -1;
  }
  return static_cast<double>(user + system) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// CPU seconds of the live children of `pid` (a postmaster's backends).
double ChildrenCpuSeconds(int pid) {
  double total = 0;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", error)) {
    int child = 0;
    if (!absl::SimpleAtoi(entry.path().filename().string(), &child)) {
      continue;
    }
    std::ifstream in(entry.path() / "stat");
    const std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const size_t close = stat.rfind(')');
    if (close == std::string::npos || close + 2 > stat.size()) {
      continue;
    }
    std::vector<absl::string_view> fields =
        absl::StrSplit(absl::string_view(stat).substr(close + 2), ' ');
    int parent = 0;
    if (fields.size() > 1 && absl::SimpleAtoi(fields[1], &parent) && parent == pid) {
      total += std::max(0.0, ProcessCpuSeconds(child));
    }
  }
  return total;
}

// The CPU time of invoicing and of PostgreSQL's backends over one phase.
class PhaseCpu {
 public:
  explicit PhaseCpu(const InvoicingRunOptions& options)
      : invoicing_pid_(options.invoicing_pid), postgres_pid_(options.postgres_pid) {
    Start();
  }
  void Start() {
    invoicing_ = invoicing_pid_ > 0 ? ProcessCpuSeconds(invoicing_pid_) : -1;
    postgres_ = postgres_pid_ > 0 ? ChildrenCpuSeconds(postgres_pid_) : -1;
  }
  // The seconds since Start() into `invoicing` and `postgres` (left alone when not measured).
  void Stop(double* invoicing, double* postgres) const {
    if (invoicing_ >= 0) {
      *invoicing = ProcessCpuSeconds(invoicing_pid_) - invoicing_;
    }
    if (postgres_ >= 0) {
      *postgres = ChildrenCpuSeconds(postgres_pid_) - postgres_;
    }
  }

 private:
  const int invoicing_pid_;
  const int postgres_pid_;
  double invoicing_ = -1;
  double postgres_ = -1;
};

std::string CsvQuoted(const std::string& text) {
  return absl::StrCat("\"", absl::StrReplaceAll(text, {{"\"", "\"\""}}), "\"");
}

// What the payments need of an issued invoice.
struct Issued {
  std::string reference;
  std::string rf_reference;
  std::string payer_name;
  int64_t gross_cents = 0;
};

// Every invoice of the run in invoice id order (pages of 1 000), its lines written to `csv` when
// it is open.
absl::StatusOr<std::vector<Issued>> ListRun(InvoicingStub& stub, const Target& invoicing,
                                            const std::string& billing_run_id, std::ofstream* csv,
                                            InvoicingRunResult* r) {
  std::vector<Issued> out;
  v1::ListInvoicesRequest req;
  req.set_billing_run_id(billing_run_id);
  req.set_page_size(1000);
  std::string line;
  do {
    v1::ListInvoicesResponse resp;
    if (absl::Status s =
            Call(stub, &InvoicingStub::ListInvoices, invoicing, "ListInvoices", "", req, &resp);
        !s.ok()) {
      return s;
    }
    for (const v1::Invoice& invoice : resp.invoices()) {
      out.push_back({.reference = invoice.reference(),
                     .rf_reference = invoice.rf_reference(),
                     .payer_name = invoice.buyer().name(),
                     .gross_cents = invoice.gross_cents()});
      r->invoice_lines += invoice.lines_size();
      r->invoices_posted += invoice.posted() ? 1 : 0;
      if (csv == nullptr) {
        continue;
      }
      for (const v1::InvoiceLine& l : invoice.lines()) {
        line.clear();
        // Text quoted: an unquoted empty field would be NULL to COPY.
        absl::StrAppend(&line, CsvQuoted(invoicing.tenant), ",", CsvQuoted(invoice.invoice_id()),
                        ",", l.line_number(), ",", CsvQuoted(l.product_code()), ",",
                        CsvQuoted(l.description()), ",", l.quantity_milli(), ",",
                        l.unit_price_cents(), ",", l.vat_rate_ppm(), ",", l.net_cents(), ",",
                        CsvQuoted(l.sales_account()), ",", CsvQuoted(l.cost_centre()), "\n");
        *csv << line;
      }
    }
    req.set_page_token(resp.next_page_token());
  } while (!req.page_token().empty());
  r->invoices_listed = static_cast<int64_t>(out.size());
  return out;
}

// The camt.054 file paying `invoices` by the rule of the header comment; the expected outcome
// into `r`.
absl::StatusOr<std::string> PaymentFile(const std::vector<Issued>& invoices,
                                        const std::string& run_id, const std::string& message_id,
                                        const std::string& payment_date, InvoicingRunResult* r) {
  absl::CivilDay day;
  if (!absl::ParseCivilTime(payment_date, &day)) {
    return absl::InvalidArgumentError(absl::StrCat("payment date ", payment_date));
  }
  invoicing::Camt054File file;
  file.message_id = message_id;
  file.creation_date_time = absl::StrCat(payment_date, "T08:00:00+02:00");
  invoicing::Camt054Notification& n = file.notifications.emplace_back();
  n.id = absl::StrCat(message_id, "-1");
  n.creation_date_time = file.creation_date_time;
  n.account_iban = kSellerIban;
  for (size_t i = 0; i < invoices.size(); ++i) {
    if (i % kTransactionsPerEntry == 0) {
      invoicing::Camt054Entry& e = n.entries.emplace_back();
      e.amount_cents = 0;
      e.booking_date = day;
      e.value_date = day;
      e.account_servicer_reference = absl::StrCat(run_id, "-E", i / kTransactionsPerEntry);
    }
    const Issued& invoice = invoices[i];
    invoicing::Camt054Transaction t;
    t.currency = "EUR";
    t.end_to_end_id = "NOTPROVIDED";
    t.account_servicer_reference = absl::StrCat(run_id, "-T", i);
    t.debtor_name = invoice.payer_name.substr(0, 140);
    int64_t amount = invoice.gross_cents;
    switch (i % 100) {
      case 97: {  // a reference that names no invoice: prefix 9 is nobody's
        absl::StatusOr<std::string> unknown =
            fi::MakeNationalReference(absl::StrFormat("9%07d", i));
        if (!unknown.ok()) {
          return unknown.status();
        }
        t.reference = *unknown;
        ++r->expected_unmatched;
        ++r->expected_open_invoices;
        r->expected_open_cents += invoice.gross_cents;
        break;
      }
      case 98:  // half paid
        amount = invoice.gross_cents / 2;
        t.reference = invoice.reference;
        ++r->expected_matched;
        ++r->expected_open_invoices;
        r->expected_open_cents += invoice.gross_cents - amount;
        break;
      case 99:  // 10.00 too much
        amount = invoice.gross_cents + 1000;
        t.reference = invoice.rf_reference;
        ++r->expected_partially_allocated;
        break;
      default:
        if (i % 2 == 0) {
          t.reference =
              i % 4 == 0 ? fi::FormatRfReference(invoice.rf_reference) : invoice.rf_reference;
        } else {
          t.reference =
              i % 4 == 1 ? fi::FormatNationalReference(invoice.reference) : invoice.reference;
        }
        ++r->expected_matched;
    }
    t.amount_cents = amount;
    r->paid_cents += amount;
    invoicing::Camt054Entry& e = n.entries.back();
    *e.amount_cents += amount;
    e.transactions.push_back(std::move(t));
  }
  r->payments_in_file = static_cast<int64_t>(invoices.size());
  return invoicing::WriteCamt054(file);
}

// One ImportPayments stream of `file` in chunks; the response.
absl::StatusOr<v1::ImportPaymentsResponse> ImportFile(InvoicingStub& stub, const Target& invoicing,
                                                      const std::string& request_id,
                                                      const std::string& file, size_t chunk_bytes,
                                                      absl::Duration timeout) {
  grpc::ClientContext ctx;
  AddMetadata(&ctx, invoicing, request_id);
  SetDeadline(&ctx, timeout);
  v1::ImportPaymentsResponse resp;
  std::unique_ptr<grpc::ClientWriter<v1::ImportPaymentsRequest>> writer =
      stub.ImportPayments(&ctx, &resp);
  for (size_t at = 0; at < file.size(); at += chunk_bytes) {
    v1::ImportPaymentsRequest chunk;
    if (at == 0) {
      chunk.set_request_id(request_id);
    }
    chunk.set_chunk(file.substr(at, chunk_bytes));
    if (!writer->Write(chunk)) {
      break;  // the server ended the call; Finish says why
    }
  }
  writer->WritesDone();
  grpc::Status s = writer->Finish();
  if (!s.ok()) {
    return CallError("ImportPayments", s);
  }
  return resp;
}

// Calls `poll` every `interval` until it says done, at most `timeout`; `polls` counts the calls.
absl::Status PollUntil(const std::string& what, absl::Duration timeout, absl::Duration interval,
                       int64_t* polls, const std::function<absl::StatusOr<bool>()>& poll) {
  const Clock::time_point deadline = Clock::now() + absl::ToChronoNanoseconds(timeout);
  for (int n = 0;; ++n) {
    if (n > 0) {
      if (Clock::now() > deadline) {
        return absl::DeadlineExceededError(
            absl::StrCat(what, " not posted within ", absl::FormatDuration(timeout)));
      }
      std::this_thread::sleep_for(absl::ToChronoNanoseconds(interval));
    }
    ++*polls;
    absl::StatusOr<bool> done = poll();
    if (!done.ok()) {
      return done.status();
    }
    if (*done) {
      return absl::OkStatus();
    }
  }
}

absl::StatusOr<ledger_v1::ListEntriesResponse> InvoicingEntries(LedgerStub& stub,
                                                                const Target& ledger,
                                                                const std::string& reference) {
  ledger_v1::ListEntriesRequest req;
  req.set_source_system("invoicing");
  req.set_source_reference(reference);
  req.set_page_size(1000);
  ledger_v1::ListEntriesResponse resp;
  if (absl::Status s = Call(stub, &LedgerStub::ListEntries, ledger, "ListEntries", "", req, &resp);
      !s.ok()) {
    return s;
  }
  return resp;
}

// The ledger's side: both entries, the trial balance and the open receivables.
absl::Status CheckLedger(LedgerStub& ledger_stub, InvoicingStub& invoicing_stub,
                         const InvoicingBenchTarget& target, const std::string& billing_run_id,
                         const std::string& message_id, const std::string& payment_date,
                         InvoicingRunResult* r) {
  const Target ledger = target.ledger();
  absl::StatusOr<ledger_v1::ListEntriesResponse> entries =
      InvoicingEntries(ledger_stub, ledger, "");
  if (!entries.ok()) {
    return entries.status();
  }
  r->ledger_entries = entries->entries_size();
  r->entries_balanced = entries->entries_size() > 0;
  for (const ledger_v1::Entry& entry : entries->entries()) {
    int64_t sum = 0;
    for (const ledger_v1::EntryLine& line : entry.lines()) {
      sum += line.amount().amount_minor();
    }
    r->entries_balanced = r->entries_balanced && sum == 0;
    if (entry.source().reference() == billing_run_id) {
      r->billing_entry_lines = entry.lines_size();
    } else if (entry.source().reference() == message_id) {
      r->payment_entry_lines = entry.lines_size();
    }
  }
  ledger_v1::GetTrialBalanceRequest trial_req;
  trial_req.set_as_of_date(payment_date);
  ledger_v1::GetTrialBalanceResponse trial;
  if (absl::Status s = Call(ledger_stub, &LedgerStub::GetTrialBalance, ledger, "GetTrialBalance",
                            "", trial_req, &trial);
      !s.ok()) {
    return s;
  }
  r->entries_balanced =
      r->entries_balanced && trial.total_debit_minor() == trial.total_credit_minor();
  for (const ledger_v1::TrialBalanceRow& row : trial.rows()) {
    if (row.account() == kReceivables) {
      r->receivables_minor = row.net_minor();
    } else if (row.account() == kBank) {
      r->bank_minor = row.net_minor();
    } else if (row.account() == kOverpayments) {
      r->overpayments_minor = row.net_minor();
    }
  }
  v1::GetReceivablesAgeingRequest ageing_req;
  ageing_req.set_as_of(payment_date);
  v1::ReceivablesAgeing ageing;
  if (absl::Status s = Call(invoicing_stub, &InvoicingStub::GetReceivablesAgeing,
                            target.invoicing(), "GetReceivablesAgeing", "", ageing_req, &ageing);
      !s.ok()) {
    return s;
  }
  for (const v1::AgeingBucket& bucket : ageing.buckets()) {
    r->open_invoices += bucket.invoices();
  }
  r->open_cents = ageing.open_cents();
  return absl::OkStatus();
}

// Phase 1: the drafts through one ImportDraftInvoices stream.
absl::Status ImportDrafts(InvoicingStub& stub, const Target& invoicing, const std::string& run_id,
                          const std::string& billing_run_id, const std::string& delivery_date,
                          const InvoicingRunOptions& options, InvoicingRunResult* r) {
  grpc::ClientContext ctx;
  AddMetadata(&ctx, invoicing, "");
  SetDeadline(&ctx, options.call_timeout);
  v1::ImportDraftInvoicesResponse resp;
  std::unique_ptr<grpc::ClientWriter<v1::ImportDraftInvoicesRequest>> writer =
      stub.ImportDraftInvoices(&ctx, &resp);
  for (int first = 0, batch = 0; first < options.invoices; first += options.batch_size, ++batch) {
    v1::ImportDraftInvoicesRequest req;
    req.set_request_id(absl::StrCat("bench-drafts-", run_id, "-", batch));
    req.set_billing_run_id(billing_run_id);
    const int last = std::min(options.invoices, first + options.batch_size);
    for (int i = first; i < last; ++i) {
      FillDraft(run_id, i, options, delivery_date, req.add_invoices());
    }
    if (!writer->Write(req)) {
      break;  // the server ended the call; Finish says why
    }
  }
  writer->WritesDone();
  grpc::Status s = writer->Finish();
  if (!s.ok()) {
    return CallError("ImportDraftInvoices", s);
  }
  r->drafts_accepted = resp.accepted();
  for (const v1::DraftRejection& rejection : resp.rejections()) {
    ++r->drafts_rejected;
    if (r->first_rejection.empty()) {
      r->first_rejection = absl::StrCat("batch ", rejection.batch(), " [", rejection.index(), "] ",
                                        rejection.invoice_id(), ": ", rejection.message());
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string BenchCustomerNumber(int index) { return absl::StrFormat("A%05d", index + 1); }

std::string BenchProductCode(int index) { return absl::StrFormat("P%02d", index + 1); }

std::string BenchInvoiceId(const std::string& run_id, int index) {
  return absl::StrFormat("%s-%07d", run_id, index + 1);
}

std::string BenchBusinessId(int index) {
  // Y-tunnus: weights 7, 9, 10, 5, 8, 4, 2 over the seven digits; the check digit is 0 for
  // remainder 0, else 11 - remainder, and remainder 1 gives no valid code. Even bases, and the
  // odd base after one with remainder 1, so that no two indexes share a code.
  for (int base = 2000000 + 2 * index;; ++base) {
    constexpr int kWeights[] = {7, 9, 10, 5, 8, 4, 2};
    const std::string digits = absl::StrCat(base);
    int sum = 0;
    for (int k = 0; k < 7; ++k) {
      sum += (digits[k] - '0') * kWeights[k];
    }
    const int remainder = sum % 11;
    if (remainder != 1) {
      return absl::StrCat(digits, "-", remainder == 0 ? 0 : 11 - remainder);
    }
  }
}

bool InvoicingRunResult::Correct() const {
  return drafts_rejected == 0 && billing_rejected == 0 && issued == drafts_accepted &&
         invoices_listed == issued && invoices_posted == issued &&
         transactions == payments_in_file && duplicates == 0 && skipped == 0 &&
         matched == expected_matched && partially_allocated == expected_partially_allocated &&
         unmatched == expected_unmatched && entries_balanced && billing_entry_lines > 0 &&
         payment_entry_lines > 0 && receivables_minor == gross_cents - matched_cents &&
         bank_minor == paid_cents && overpayments_minor == -unmatched_cents &&
         open_invoices == expected_open_invoices && open_cents == expected_open_cents &&
         open_cents == receivables_minor;
}

absl::StatusOr<InvoicingSetUpResult> SetUpInvoicingBench(const InvoicingBenchTarget& target,
                                                         const InvoicingSetUpOptions& options) {
  if (options.customers < 1 || options.products < 1 || options.products > 99 ||
      options.cost_centres < 1 || options.cost_centres > 1000 || options.payment_delay_days < 0 ||
      options.payment_delay_days > 60) {
    return absl::InvalidArgumentError(
        "customers >= 1, products 1-99, cost_centres 1-1000, payment_delay_days 0-60");
  }
  absl::StatusOr<Dates> dates = ResolveDates(options.invoice_date, options.payment_delay_days);
  if (!dates.ok()) {
    return dates.status();
  }
  const Target invoicing = target.invoicing();
  InvoicingSetUpResult result;
  const Clock::time_point start = Clock::now();
  if (absl::Status s = SetUpLedger(target.ledger(), *dates, options.cost_centres); !s.ok()) {
    return s;
  }
  result.ledger_seconds = SecondsSince(start);

  absl::StatusOr<std::unique_ptr<InvoicingStub>> stub = ConnectInvoicing(target.invoicing_address);
  if (!stub.ok()) {
    return stub.status();
  }
  InvoicingStub& invoicing_stub = **stub;
  if (absl::Status s = SetSettings(invoicing_stub, invoicing); !s.ok()) {
    return s;
  }
  v1::SetPriceListRequest prices;
  prices.set_request_id(absl::StrCat("bench-setup-price-list-", options.products));
  prices.mutable_price_list()->set_name(kPriceList);
  for (int k = 0; k < options.products; ++k) {
    v1::UpsertProductRequest req;
    req.set_request_id(absl::StrCat("bench-setup-product-", k));
    *req.mutable_product() = BenchProduct(k, options.cost_centres);
    v1::Product resp;
    if (absl::Status s = Call(invoicing_stub, &InvoicingStub::UpsertProduct, invoicing,
                              absl::StrCat("UpsertProduct ", req.product().code()),
                              req.request_id(), req, &resp);
        !s.ok()) {
      return s;
    }
    ++result.products;
    (*prices.mutable_price_list()->mutable_prices())[resp.code()] =
        resp.unit_price_cents() * 9 / 10;
  }
  v1::PriceList price_list;
  if (absl::Status s = Call(invoicing_stub, &InvoicingStub::SetPriceList, invoicing, "SetPriceList",
                            prices.request_id(), prices, &price_list);
      !s.ok()) {
    return s;
  }

  const Clock::time_point customers_start = Clock::now();
  std::atomic<int64_t> customers{0};
  absl::Status upserted = ParallelFor(options.customers, 8, [&](int i) {
    v1::UpsertCustomerRequest req;
    req.set_request_id(absl::StrCat("bench-setup-customer-", i));
    *req.mutable_customer() = BenchCustomer(i);
    v1::Customer resp;
    absl::Status s = Call(invoicing_stub, &InvoicingStub::UpsertCustomer, invoicing,
                          absl::StrCat("UpsertCustomer ", req.customer().customer_number()),
                          req.request_id(), req, &resp, options.call_timeout);
    if (s.ok()) {
      ++customers;
    }
    return s;
  });
  if (!upserted.ok()) {
    return upserted;
  }
  result.customers = customers;
  result.customers_seconds = SecondsSince(customers_start);
  result.seconds = SecondsSince(start);
  return result;
}

absl::StatusOr<InvoicingRunResult> RunInvoicingBench(const InvoicingBenchTarget& target,
                                                     const InvoicingRunOptions& options) {
  if (options.invoices < 1 || options.batch_size < 1 || options.batch_size > 5000 ||
      options.customers < 1 || options.products < 1 || options.chunk_bytes < 1) {
    return absl::InvalidArgumentError(
        "invoices, customers, products and chunk_bytes must be >= 1, batch_size 1-5000");
  }
  absl::StatusOr<Dates> dates = ResolveDates(options.invoice_date, options.payment_delay_days);
  if (!dates.ok()) {
    return dates.status();
  }
  const std::string run_id = options.run_id.empty() ? RandomRunId() : options.run_id;
  const Target invoicing = target.invoicing();
  const Target ledger = target.ledger();
  absl::StatusOr<std::unique_ptr<InvoicingStub>> connected =
      ConnectInvoicing(target.invoicing_address);
  if (!connected.ok()) {
    return connected.status();
  }
  InvoicingStub& stub = **connected;
  auto ledger_stub = ledger_v1::LedgerService::NewStub(NewChannel(target.ledger_address, 0));

  InvoicingRunResult r;
  r.billing_run_id = absl::StrCat("bench-", run_id);
  const int pid = options.invoicing_pid;

  // 1. The drafts.
  PhaseCpu cpu(options);
  Clock::time_point phase = Clock::now();
  if (absl::Status s =
          ImportDrafts(stub, invoicing, run_id, r.billing_run_id, dates->invoice_date, options, &r);
      !s.ok()) {
    return s;
  }
  r.import_seconds = SecondsSince(phase);
  cpu.Stop(&r.invoicing_cpu[0], &r.postgres_cpu[0]);

  // 2. The billing run, until its posting is delivered.
  if (pid > 0) {
    r.rss_before_billing_kib = ProcStatusKib(pid, "VmRSS");
    r.peak_reset = ResetPeakRss(pid);
  }
  cpu.Start();
  phase = Clock::now();
  v1::RunBillingRequest run;
  run.set_request_id(absl::StrCat("bench-run-", run_id, "-billing"));
  run.set_billing_run_id(r.billing_run_id);
  run.set_invoice_date(dates->invoice_date);
  v1::BillingRun billed;
  if (absl::Status s = Call(stub, &InvoicingStub::RunBilling, invoicing, "RunBilling",
                            run.request_id(), run, &billed, options.call_timeout);
      !s.ok()) {
    return s;
  }
  r.billing_seconds = SecondsSince(phase);
  const Clock::time_point posting = Clock::now();
  v1::GetBillingRunRequest get;
  get.set_billing_run_id(r.billing_run_id);
  if (absl::Status s =
          PollUntil("billing run", options.posting_timeout, options.poll_interval, &r.polls,
                    [&]() -> absl::StatusOr<bool> {
                      v1::BillingRun seen;
                      if (absl::Status s = Call(stub, &InvoicingStub::GetBillingRun, invoicing,
                                                "GetBillingRun", "", get, &seen);
                          !s.ok()) {
                        return s;
                      }
                      return seen.posted();
                    });
      !s.ok()) {
    return s;
  }
  r.billing_posting_seconds = SecondsSince(posting);
  r.billing_total_seconds = SecondsSince(phase);
  cpu.Stop(&r.invoicing_cpu[1], &r.postgres_cpu[1]);
  if (pid > 0) {
    r.peak_billing_kib = ProcStatusKib(pid, "VmHWM");
  }
  r.issued = billed.issued();
  r.billing_rejected = billed.rejected();
  r.gross_cents = billed.gross_cents();
  r.numbers = billed.numbers();

  // Not timed: the invoices, their lines as CSV, the bank's file.
  std::ofstream csv;
  if (!options.lines_csv.empty()) {
    csv.open(options.lines_csv, std::ios::trunc);
    if (!csv) {
      return absl::UnavailableError(absl::StrCat("cannot write ", options.lines_csv));
    }
  }
  absl::StatusOr<std::vector<Issued>> invoices =
      ListRun(stub, invoicing, r.billing_run_id, csv.is_open() ? &csv : nullptr, &r);
  if (!invoices.ok()) {
    return invoices.status();
  }
  if (csv.is_open()) {
    csv.close();
    if (!csv) {
      return absl::UnavailableError(absl::StrCat("cannot write ", options.lines_csv));
    }
  }
  const std::string message_id = absl::StrCat("BENCH-", run_id);
  phase = Clock::now();
  absl::StatusOr<std::string> file =
      PaymentFile(*invoices, run_id, message_id, dates->payment_date, &r);
  if (!file.ok()) {
    return file.status();
  }
  r.write_file_seconds = SecondsSince(phase);
  r.file_bytes = static_cast<int64_t>(file->size());
  invoices->clear();
  invoices->shrink_to_fit();

  // 3. The payments, until their posting is in the ledger.
  if (pid > 0) {
    r.rss_before_payments_kib = ProcStatusKib(pid, "VmRSS");
    r.peak_reset = ResetPeakRss(pid) && r.peak_reset;
  }
  cpu.Start();
  phase = Clock::now();
  absl::StatusOr<v1::ImportPaymentsResponse> imported =
      ImportFile(stub, invoicing, absl::StrCat("bench-run-", run_id, "-payments"), *file,
                 static_cast<size_t>(options.chunk_bytes), options.call_timeout);
  if (!imported.ok()) {
    return imported.status();
  }
  r.payments_seconds = SecondsSince(phase);
  const Clock::time_point payment_posting = Clock::now();
  if (absl::Status s =
          PollUntil("payments", options.posting_timeout, options.poll_interval, &r.polls,
                    [&]() -> absl::StatusOr<bool> {
                      absl::StatusOr<ledger_v1::ListEntriesResponse> entries =
                          InvoicingEntries(*ledger_stub, ledger, message_id);
                      if (!entries.ok()) {
                        return entries.status();
                      }
                      return entries->entries_size() > 0;
                    });
      !s.ok()) {
    return s;
  }
  r.payments_posting_seconds = SecondsSince(payment_posting);
  r.payments_total_seconds = SecondsSince(phase);
  cpu.Stop(&r.invoicing_cpu[2], &r.postgres_cpu[2]);
  if (pid > 0) {
    r.peak_payments_kib = ProcStatusKib(pid, "VmHWM");
  }
  r.transactions = imported->transactions();
  r.matched = imported->matched();
  r.partially_allocated = imported->partially_allocated();
  r.unmatched = imported->unmatched();
  r.duplicates = imported->duplicates();
  r.skipped = imported->skipped();
  r.matched_cents = imported->matched_cents();
  r.unmatched_cents = imported->unmatched_cents();

  // Not timed: the parser alone, and what the ledger and the receivables say.
  phase = Clock::now();
  absl::StatusOr<invoicing::Camt054File> parsed = invoicing::ParseCamt054(*file);
  r.parse_seconds = SecondsSince(phase);
  if (!parsed.ok()) {
    return parsed.status();
  }
  if (absl::Status s = CheckLedger(*ledger_stub, stub, target, r.billing_run_id, message_id,
                                   dates->payment_date, &r);
      !s.ok()) {
    return s;
  }
  return r;
}

std::string HumanLine(const InvoicingSetUpResult& r) {
  return absl::StrFormat(
      "setup: %d customers in %.1f s, %d products (ledger %.1f s; %.1f s in all)", r.customers,
      r.customers_seconds, r.products, r.ledger_seconds, r.seconds);
}

std::string ResultLine(const InvoicingSetUpResult& r) {
  return absl::StrFormat(
      "RESULT mode=setup customers=%d products=%d ledger_s=%.3f customers_s=%.3f seconds=%.3f",
      r.customers, r.products, r.ledger_seconds, r.customers_seconds, r.seconds);
}

std::string HumanLine(const InvoicingRunResult& r) {
  std::string line = absl::StrFormat(
      "billing run %s: %d drafts imported in %.2f s (%d rejected); %d issued (%s, %d lines, "
      "%d rejected) in %.2f s, posted %.2f s later; %d payments (%d bytes) imported in %.2f s "
      "(%d matched, %d partially allocated, %d unmatched, %d duplicates), posted %.2f s later; "
      "the file parses in %.2f s here; ledger: %d entries%s, receivables %d, open %d in %d "
      "invoices; %s",
      r.billing_run_id, r.drafts_accepted, r.import_seconds, r.drafts_rejected, r.issued, r.numbers,
      r.invoice_lines, r.billing_rejected, r.billing_seconds, r.billing_posting_seconds,
      r.transactions, r.file_bytes, r.payments_seconds, r.matched, r.partially_allocated,
      r.unmatched, r.duplicates, r.payments_posting_seconds, r.parse_seconds, r.ledger_entries,
      r.entries_balanced ? " balanced" : " NOT BALANCED", r.receivables_minor, r.open_cents,
      r.open_invoices, r.Correct() ? "as expected" : "NOT AS EXPECTED");
  if (r.peak_billing_kib >= 0) {
    absl::StrAppend(
        &line,
        absl::StrFormat("; invoicing resident %.0f MiB, peak %.0f MiB in billing, "
                        "%.0f MiB in payments%s",
                        r.rss_before_billing_kib / 1024.0, r.peak_billing_kib / 1024.0,
                        r.peak_payments_kib / 1024.0, r.peak_reset ? "" : " (since it started)"));
  }
  if (!r.first_rejection.empty()) {
    absl::StrAppend(&line, "; first rejection: ", r.first_rejection);
  }
  return line;
}

std::string ResultLine(const InvoicingRunResult& r) {
  return absl::StrFormat(
      "RESULT mode=run billing_run_id=%s drafts=%d drafts_rejected=%d import_s=%.3f issued=%d "
      "billing_rejected=%d gross_cents=%d invoices_posted=%d invoice_lines=%d billing_s=%.3f "
      "billing_posting_s=%.3f "
      "billing_total_s=%.3f file_bytes=%d write_file_s=%.3f transactions=%d matched=%d "
      "partially_allocated=%d unmatched=%d duplicates=%d skipped=%d matched_cents=%d "
      "unmatched_cents=%d payments_s=%.3f payments_posting_s=%.3f payments_total_s=%.3f "
      "parse_s=%.3f ledger_entries=%d billing_entry_lines=%d payment_entry_lines=%d "
      "balanced=%d receivables_minor=%d bank_minor=%d overpayments_minor=%d open_invoices=%d "
      "open_cents=%d correct=%d rss_before_billing_kib=%d peak_billing_kib=%d "
      "rss_before_payments_kib=%d peak_payments_kib=%d peak_reset=%d polls=%d "
      "invoicing_cpu_import_s=%.2f invoicing_cpu_billing_s=%.2f invoicing_cpu_payments_s=%.2f "
      "postgres_cpu_import_s=%.2f postgres_cpu_billing_s=%.2f postgres_cpu_payments_s=%.2f",
      r.billing_run_id, r.drafts_accepted, r.drafts_rejected, r.import_seconds, r.issued,
      r.billing_rejected, r.gross_cents, r.invoices_posted, r.invoice_lines, r.billing_seconds,
      r.billing_posting_seconds, r.billing_total_seconds, r.file_bytes, r.write_file_seconds,
      r.transactions, r.matched, r.partially_allocated, r.unmatched, r.duplicates, r.skipped,
      r.matched_cents, r.unmatched_cents, r.payments_seconds, r.payments_posting_seconds,
      r.payments_total_seconds, r.parse_seconds, r.ledger_entries, r.billing_entry_lines,
      r.payment_entry_lines, r.entries_balanced ? 1 : 0, r.receivables_minor, r.bank_minor,
      r.overpayments_minor, r.open_invoices, r.open_cents, r.Correct() ? 1 : 0,
      r.rss_before_billing_kib, r.peak_billing_kib, r.rss_before_payments_kib, r.peak_payments_kib,
      r.peak_reset ? 1 : 0, r.polls, r.invoicing_cpu[0], r.invoicing_cpu[1], r.invoicing_cpu[2],
      r.postgres_cpu[0], r.postgres_cpu[1], r.postgres_cpu[2]);
}

}  // namespace tahe::bench
