// Integration tests of the invoicing service, wired the way main.cc wires it but in-process:
// Pool -> InvoicingRepository (a fresh PostgreSQL database, connected as a member of
// tahe_invoicing_app, so under row-level security) -> InvoicingService -> GrpcServer on
// 127.0.0.1:0, and behind it the real ledger (LedgerRepository -> GroupCommitter ->
// LedgerService -> GrpcServer) that the outbox relay delivers postings to. Both are called
// through the generated stubs with the internal token and x-tahe-tenant, as the gateway calls
// them. The relay runs no thread: each test calls DeliverDue(), so deliveries happen at known
// points.
//
// Figures (VAT by delivery date, finnish-rules.md §6): home care 40.00 €/h at the general rate
// (25.5 % since 1.9.2024), meals 8.50 € at the reduced rate (13.5 % from 2026), social services
// 1 000.00 € exempt. Every amount is worked out in a comment beside its check.

#include "services/invoicing/invoicing_service.h"

#include <grpcpp/grpcpp.h>
#include <prometheus/registry.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "libs/fi/reference.h"
#include "libs/metrics/registry_for_test.h"
#include "libs/outbox/outbox.h"
#include "libs/pg/pg.h"
#include "libs/server/call.h"
#include "libs/server/grpc_server.h"
#include "libs/server/worker_pool.h"
#include "libs/status/status.h"
#include "libs/testing/pg_fixture.h"
#include "libs/testing/xml_schema.h"
#include "services/invoicing/camt054.h"
#include "services/ledger/group_commit.h"
#include "services/ledger/ledger_migrations.h"
#include "services/ledger/ledger_repository.h"
#include "services/ledger/ledger_service.h"
#include "tahe/invoicing/v1/invoicing.grpc.pb.h"
#include "tahe/ledger/v1/ledger.grpc.pb.h"

namespace tahe::invoicing {
namespace {

namespace ledger_v1 = ::tahe::ledger::v1;
using InvoicingStub = v1::InvoicingService::Stub;
using LedgerStub = ledger_v1::LedgerService::Stub;
using metrics::CounterSum;

constexpr char kToken[] = "invoicing-service-test-internal-token";
constexpr char kIdentityKey[] = "invoicing-service-test-identity-key-0123456789";
constexpr int kPoolSize = 6;
constexpr char kTenant[] = "lahti";
constexpr char kOtherTenant[] = "vaasa";
constexpr char kIban[] = "FI2112345600000785";

std::string CodeString(grpc::StatusCode code) {
  return CodeName(static_cast<absl::StatusCode>(code));
}

#define REQUIRE_REFUSED(status, code, field)                                   \
  do {                                                                         \
    const grpc::Status& s_ = (status);                                         \
    INFO("got " << CodeString(s_.error_code()) << ": " << s_.error_message()); \
    REQUIRE(CodeString(s_.error_code()) == CodeString(code));                  \
    REQUIRE(absl::StrContains(s_.error_message(), (field)));                   \
  } while (false)

template <typename T>
T OrThrow(absl::StatusOr<T> value) {
  if (!value.ok()) throw std::runtime_error(value.status().ToString());
  return *std::move(value);
}

struct Fixture {
  Fixture()
      : ledger_service(&ledger_repository, &committer, {&auth, &ledger_workers}, {}),
        service(&repository, {&auth, &workers}, [this] { ++posted; },
                {.watch_poll_interval = absl::Milliseconds(20)}) {
    ledger_server = OrThrow(server::GrpcServer::Start(
        {.listen = "127.0.0.1:0", .services = {&ledger_service}, .metrics = &ledger_registry}));
    server_ = OrThrow(server::GrpcServer::Start({.listen = "127.0.0.1:0", .services = {&service}}));
    auto ledger_channel =
        grpc::CreateChannel(ledger_server->address(), grpc::InsecureChannelCredentials());
    ledger = ledger_v1::LedgerService::NewStub(ledger_channel);
    invoicing = v1::InvoicingService::NewStub(
        grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials()));
    relay = std::make_unique<outbox::LedgerOutboxRelay>(
        repository.outbox(), ledger_channel, kToken, &registry,
        outbox::LedgerOutboxRelay::Options{.metric_prefix = "tahe_invoicing_outbox",
                                           .principal = "service:invoicing"});
  }
  ~Fixture() {
    relay.reset();
    service.BeginShutdown();
    server_->Shutdown(absl::Seconds(5));
    workers.Drain();
    ledger_service.BeginShutdown();
    ledger_server->Shutdown(absl::Seconds(5));
    committer.Stop();
    ledger_workers.Drain();
  }

  static void Authorise(grpc::ClientContext& ctx, const std::string& tenant) {
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    ctx.AddMetadata(server::kInternalTokenHeader, kToken);
    ctx.AddMetadata(server::kTenantHeader, tenant);
    ctx.AddMetadata(server::kPrincipalHeader, "user:invoicing-test");
  }

  template <typename Req, typename Resp>
  grpc::Status Call(grpc::Status (InvoicingStub::*method)(grpc::ClientContext*, const Req&, Resp*),
                    const Req& req, Resp* resp, const std::string& tenant = kTenant) {
    grpc::ClientContext ctx;
    Authorise(ctx, tenant);
    return ((*invoicing).*method)(&ctx, req, resp);
  }
  template <typename Req, typename Resp>
  Resp Ok(grpc::Status (InvoicingStub::*method)(grpc::ClientContext*, const Req&, Resp*),
          const Req& req, const std::string& tenant = kTenant) {
    Resp resp;
    grpc::Status status = Call(method, req, &resp, tenant);
    INFO(status.error_message());
    REQUIRE(status.ok());
    return resp;
  }
  template <typename Req, typename Resp>
  Resp LedgerOk(grpc::Status (LedgerStub::*method)(grpc::ClientContext*, const Req&, Resp*),
                const Req& req, const std::string& tenant = kTenant) {
    grpc::ClientContext ctx;
    Authorise(ctx, tenant);
    Resp resp;
    grpc::Status status = ((*ledger).*method)(&ctx, req, &resp);
    INFO(status.error_message());
    REQUIRE(status.ok());
    return resp;
  }

  void SetUpLedger(const std::string& tenant = kTenant) {
    ledger_v1::LoadChartTemplateRequest chart;
    chart.set_request_id("setup-chart");
    chart.set_template_("fi-municipal");
    LedgerOk(&LedgerStub::LoadChartTemplate, chart, tenant);
    for (const char* period : {"2025-03", "2025-04", "2025-05", "2026-03", "2026-04"}) {
      ledger_v1::OpenPeriodRequest open;
      open.set_request_id(absl::StrCat("setup-open-", period));
      open.set_period(period);
      LedgerOk(&LedgerStub::OpenPeriod, open, tenant);
    }
    ledger_v1::DefineDimensionRequest dimension;
    dimension.set_request_id("setup-cost-centres");
    dimension.mutable_dimension()->set_key("cost_centre");
    dimension.mutable_dimension()->set_description("Kustannuspaikka");
    for (const char* cc : {"CC-200", "CC-300", "CC-400"}) {
      dimension.mutable_dimension()->add_allowed_values(cc);
    }
    LedgerOk(&LedgerStub::DefineDimension, dimension, tenant);
  }

  void SetUpInvoicing(const std::string& tenant = kTenant) {
    v1::SetInvoicingSettingsRequest settings;
    settings.set_request_id("setup-settings");
    v1::InvoicingSettings* s = settings.mutable_settings();
    s->set_seller_name("Lahden kaupunki");
    s->set_business_id("0201256-6");
    s->mutable_address()->set_street("Harjukatu 31");
    s->mutable_address()->set_postal_code("15100");
    s->mutable_address()->set_city("Lahti");
    s->set_iban(kIban);
    s->set_einvoice_address("003702012566");
    s->set_einvoice_operator("003721291126");
    s->set_reminder_fee_cents(500);
    s->set_reference_prefix("12");
    Ok(&InvoicingStub::SetInvoicingSettings, settings, tenant);
    Product("KOTIHOITO", "Kotihoito", "h", 4000, v1::VAT_CATEGORY_GENERAL, "3100", "CC-200",
            tenant);
    Product("ATERIA", "Ateriapalvelu", "kpl", 850, v1::VAT_CATEGORY_REDUCED, "3000", "CC-300",
            tenant);
    Product("PALVELU", "Sosiaalipalvelu", "kk", 100000, v1::VAT_CATEGORY_EXEMPT, "3100", "CC-400",
            tenant);
    v1::UpsertCustomerRequest person;
    person.set_request_id("setup-person");
    person.mutable_customer()->set_customer_number("C-1");
    person.mutable_customer()->set_kind(v1::CUSTOMER_KIND_PERSON);
    person.mutable_customer()->set_name("Matti Meikäläinen");
    person.mutable_customer()->set_personal_identity_code("131052-308T");
    person.mutable_customer()->mutable_address()->set_street("Kauppakatu 1");
    person.mutable_customer()->mutable_address()->set_postal_code("15140");
    person.mutable_customer()->mutable_address()->set_city("Lahti");
    Ok(&InvoicingStub::UpsertCustomer, person, tenant);
    v1::UpsertCustomerRequest org;
    org.set_request_id("setup-org");
    org.mutable_customer()->set_customer_number("ORG-1");
    org.mutable_customer()->set_kind(v1::CUSTOMER_KIND_ORGANISATION);
    org.mutable_customer()->set_name("Päijät-Hämeen hyvinvointialue");
    org.mutable_customer()->set_business_id("3221318-2");
    org.mutable_customer()->mutable_address()->set_street("Keskussairaalankatu 7");
    org.mutable_customer()->mutable_address()->set_postal_code("15850");
    org.mutable_customer()->mutable_address()->set_city("Lahti");
    org.mutable_customer()->set_delivery_channel(v1::DELIVERY_CHANNEL_EINVOICE);
    org.mutable_customer()->set_einvoice_address("003732213182");
    org.mutable_customer()->set_einvoice_operator("003721291126");
    Ok(&InvoicingStub::UpsertCustomer, org, tenant);
  }

  void Product(const std::string& code, const std::string& name, const std::string& unit,
               int64_t price, v1::VatCategory vat, const std::string& account,
               const std::string& cc, const std::string& tenant = kTenant) {
    v1::UpsertProductRequest req;
    req.set_request_id(absl::StrCat("setup-product-", code));
    v1::Product* p = req.mutable_product();
    p->set_code(code);
    p->set_name(name);
    p->set_unit(unit);
    p->set_unit_price_cents(price);
    p->set_vat_category(vat);
    p->set_sales_account(account);
    p->set_cost_centre(cc);
    Ok(&InvoicingStub::UpsertProduct, req, tenant);
  }

  static v1::InvoiceDraftInput Draft(const std::string& id, const std::string& customer,
                                     const std::string& delivery,
                                     std::vector<std::pair<std::string, int64_t>> lines) {
    v1::InvoiceDraftInput in;
    in.set_invoice_id(id);
    in.set_customer_number(customer);
    in.set_delivery_date(delivery);
    for (const auto& [product, quantity] : lines) {
      v1::LineInput* line = in.add_lines();
      line->set_product_code(product);
      line->set_quantity_milli(quantity);
    }
    return in;
  }

  v1::Invoice Issue(const v1::InvoiceDraftInput& draft, const std::string& invoice_date,
                    const std::string& tenant = kTenant) {
    v1::CreateInvoiceRequest create;
    create.set_request_id(absl::StrCat("create-", draft.invoice_id()));
    *create.mutable_invoice() = draft;
    Ok(&InvoicingStub::CreateInvoice, create, tenant);
    v1::IssueInvoiceRequest issue;
    issue.set_request_id(absl::StrCat("issue-", draft.invoice_id()));
    issue.set_invoice_id(draft.invoice_id());
    issue.set_invoice_date(invoice_date);
    return Ok(&InvoicingStub::IssueInvoice, issue, tenant);
  }

  v1::Invoice Get(const std::string& id, const std::string& tenant = kTenant) {
    v1::GetInvoiceRequest req;
    req.set_invoice_id(id);
    return Ok(&InvoicingStub::GetInvoice, req, tenant);
  }

  grpc::Status ImportFile(const std::string& request_id, const std::string& file,
                          v1::ImportPaymentsResponse* resp, const std::string& tenant = kTenant,
                          size_t chunk_bytes = 1000) {
    grpc::ClientContext ctx;
    Authorise(ctx, tenant);
    auto writer = invoicing->ImportPayments(&ctx, resp);
    // Chunks of 1 000 bytes by default: the file is read on the server as it arrives.
    for (size_t at = 0; at < file.size(); at += chunk_bytes) {
      v1::ImportPaymentsRequest chunk;
      if (at == 0) chunk.set_request_id(request_id);
      chunk.set_chunk(file.substr(at, chunk_bytes));
      if (!writer->Write(chunk)) break;
    }
    writer->WritesDone();
    return writer->Finish();
  }

  // Net balance (debit - credit) per account in the tenant's ledger.
  std::map<std::string, int64_t> Balances(const std::string& tenant = kTenant) {
    ledger_v1::GetTrialBalanceRequest req;
    req.set_as_of_date("2026-12-31");
    std::map<std::string, int64_t> out;
    ledger_v1::GetTrialBalanceResponse trial = LedgerOk(&LedgerStub::GetTrialBalance, req, tenant);
    REQUIRE(trial.total_debit_minor() == trial.total_credit_minor());
    for (const auto& row : trial.rows()) out[row.account()] = row.net_minor();
    return out;
  }

  int64_t LedgerEntries(const std::string& tenant = kTenant) {
    ledger_v1::ListEntriesRequest req;
    req.set_page_size(1000);
    return LedgerOk(&LedgerStub::ListEntries, req, tenant).entries_size();
  }

  pqxx::result AsOwner(const std::string& sql) {
    pqxx::connection conn(db.owner_conninfo());
    pqxx::work tx(conn);
    pqxx::result r = tx.exec(sql);
    tx.commit();
    return r;
  }
  int64_t OwnerCount(const std::string& sql) { return AsOwner(sql)[0][0].as<int64_t>(); }

  std::map<std::string, int64_t> RowCounts() {
    std::map<std::string, int64_t> counts;
    for (const char* table : {"settings", "customers", "products", "price_lists", "invoices",
                              "invoice_lines", "invoice_series", "billing_runs", "payments",
                              "payment_allocations", "reminders", "outbox", "idempotency"}) {
      counts[table] = OwnerCount(absl::StrCat("SELECT count(*) FROM ", table));
    }
    return counts;
  }

  // The ledger.
  testing::TestDatabase ledger_db{ledger::Migrations(), "tahe_ledger_app"};
  prometheus::Registry ledger_registry;
  std::unique_ptr<pg::Pool> ledger_pool = OrThrow(
      pg::Pool::Create({.conninfo = ledger_db.app_conninfo(), .size = kPoolSize, .name = "ledger"},
                       &ledger_registry));
  ledger::LedgerMetrics ledger_metrics{&ledger_registry};
  ledger::LedgerRepository ledger_repository{ledger_pool.get(), &ledger_metrics};
  ledger::GroupCommitter committer{&ledger_repository, {.threads = 2, .max_batch = 256}};
  server::Authenticator auth{kToken};
  server::WorkerPool ledger_workers{kPoolSize};
  ledger::LedgerService ledger_service;
  std::unique_ptr<server::GrpcServer> ledger_server;

  // Invoicing, with "today" pinned to 20.3.2026.
  testing::TestDatabase db{Migrations(), kInvoicingAppRole};
  std::unique_ptr<pg::Pool> pool = OrThrow(pg::Pool::Create(
      {.conninfo = db.app_conninfo(), .size = kPoolSize, .name = "invoicing"}, nullptr));
  prometheus::Registry registry;
  InvoicingMetrics metrics{&registry};
  InvoicingRepository repository{pool.get(),
                                 {.identity_key = kIdentityKey,
                                  .today = [] { return absl::CivilDay(2026, 3, 20); },
                                  .metrics = &metrics}};
  server::WorkerPool workers{kPoolSize};
  std::atomic<int> posted{0};
  InvoicingService service;
  std::unique_ptr<server::GrpcServer> server_;
  std::unique_ptr<LedgerStub> ledger;
  std::unique_ptr<InvoicingStub> invoicing;
  std::unique_ptr<outbox::LedgerOutboxRelay> relay;
};

// --- 1. issue and post ---------------------------------------------------------------------------

TEST_CASE("invoicing: an issued invoice posts one balanced entry to its organisation's ledger",
          "[invoicing][pg]") {
  Fixture f;
  f.SetUpLedger();
  f.SetUpLedger(kOtherTenant);
  f.SetUpInvoicing();

  // 2.5 h home care = 100.00 net, VAT 25.5 % = 25.50; 4 meals = 34.00 net, VAT 13.5 % = 4.59.
  v1::Invoice invoice =
      f.Issue(Fixture::Draft("inv-1", "C-1", "2026-03-02", {{"KOTIHOITO", 2500}, {"ATERIA", 4000}}),
              "2026-03-05");
  CHECK(invoice.status() == v1::INVOICE_STATUS_ISSUED);
  CHECK(invoice.display_number() == "L-1");
  CHECK(invoice.due_date() == "2026-03-19");
  CHECK(invoice.net_cents() == 13400);
  CHECK(invoice.vat_cents() == 2550 + 459);
  CHECK(invoice.gross_cents() == 16409);
  CHECK(invoice.open_cents() == 16409);
  // Prefix 12, invoice 1 padded: base 12001 → 7-3-1 from the right 1×7 + 0 + 0 + 2×7 + 1×3 = 24
  // → check digit 6.
  CHECK(invoice.reference() == "120016");
  CHECK(fi::IsValidRfReference(invoice.rf_reference()));
  CHECK(invoice.virtual_barcode().size() == 54);
  CHECK(invoice.buyer().name() == "Matti Meikäläinen");
  CHECK(!invoice.buyer().has_personal_identity_code() == false);
  CHECK(invoice.buyer().personal_identity_code().empty());
  CHECK(f.posted.load() == 1);

  // Nothing reaches the ledger before the relay runs; then exactly one entry.
  CHECK(f.LedgerEntries() == 0);
  CHECK(f.relay->DeliverDue() == 1);
  CHECK(f.LedgerEntries() == 1);
  std::map<std::string, int64_t> balances = f.Balances();
  CHECK(balances["1700"] == 16409);
  CHECK(balances["3100"] == -10000);
  CHECK(balances["3000"] == -3400);
  CHECK(balances["2850"] == -(2550 + 459));
  CHECK(f.Get("inv-1").posted());
  CHECK(f.LedgerEntries(kOtherTenant) == 0);

  // A crash after the ledger committed but before the outbox was marked: the message is sent
  // again and the ledger answers with the entry it has. Still one entry.
  f.AsOwner("UPDATE outbox SET delivered_at = NULL");
  f.AsOwner(
      "INSERT INTO outbox_pending (tenant_id, message_id) SELECT tenant_id, message_id"
      " FROM outbox");
  CHECK(f.relay->DeliverDue() == 1);
  CHECK(f.LedgerEntries() == 1);
  CHECK(f.Balances()["1700"] == 16409);

  // Issuing again (a retry with the same request id) changes nothing; a new request is refused.
  v1::IssueInvoiceRequest again;
  again.set_request_id("issue-inv-1");
  again.set_invoice_id("inv-1");
  again.set_invoice_date("2026-03-05");
  CHECK(f.Ok(&InvoicingStub::IssueInvoice, again).display_number() == "L-1");
  again.set_request_id("issue-inv-1-second");
  v1::Invoice ignored;
  REQUIRE_REFUSED(f.Call(&InvoicingStub::IssueInvoice, again, &ignored),
                  grpc::StatusCode::FAILED_PRECONDITION, "already issued");
  CHECK(f.OwnerCount("SELECT count(*) FROM outbox") == 1);

  // The Finvoice rendering validates against the published schema.
  v1::RenderInvoiceRequest render;
  render.set_invoice_id("inv-1");
  render.set_format(v1::RENDER_FORMAT_FINVOICE);
  v1::RenderInvoiceResponse xml = f.Ok(&InvoicingStub::RenderInvoice, render);
  testing::XmlValidation valid = testing::ValidateXml(xml.content(), TAHE_FINVOICE_XSD);
  INFO(valid.output);
  CHECK(valid.exit_code == 0);
  CHECK(absl::StrContains(
      xml.content(), "<InvoiceTotalVatIncludedAmount AmountCurrencyIdentifier=\"EUR\">164,09"));
  CHECK(!absl::StrContains(xml.content(), "131052"));
  render.set_format(v1::RENDER_FORMAT_TEXT);
  CHECK(absl::StrContains(f.Ok(&InvoicingStub::RenderInvoice, render).content(),
                          invoice.virtual_barcode()));

  // The other organisation sees none of it, in code and under row-level security.
  v1::GetInvoiceRequest get;
  get.set_invoice_id("inv-1");
  REQUIRE_REFUSED(f.Call(&InvoicingStub::GetInvoice, get, &ignored, kOtherTenant),
                  grpc::StatusCode::NOT_FOUND, "invoice_id");
  {
    pqxx::connection conn(f.db.app_conninfo());
    pqxx::work tx(conn);
    tx.exec_params("SELECT set_config('tahe.tenant', $1, true)", std::string(kOtherTenant));
    CHECK(tx.exec1("SELECT count(*) FROM invoices")[0].as<int64_t>() == 0);
  }
  CHECK(CounterSum(f.registry, "tahe_invoicing_invoices_issued_total") == 1);
}

TEST_CASE("invoicing: a credit note reverses part of an invoice in the ledger", "[invoicing][pg]") {
  Fixture f;
  f.SetUpLedger();
  f.SetUpInvoicing();
  v1::Invoice invoice = f.Issue(
      Fixture::Draft("inv-1", "ORG-1", "2026-03-02", {{"KOTIHOITO", 2500}, {"ATERIA", 4000}}),
      "2026-03-05");
  v1::CreateCreditNoteRequest credit;
  credit.set_request_id("credit-1");
  credit.set_invoice_id("inv-1");
  credit.add_line_numbers(2);  // the meals: −34.00 net, −4.59 VAT
  credit.set_invoice_date("2026-03-06");
  v1::Invoice note = f.Ok(&InvoicingStub::CreateCreditNote, credit);
  CHECK(note.kind() == v1::INVOICE_KIND_CREDIT_NOTE);
  CHECK(note.display_number() == "L-2");
  CHECK(note.gross_cents() == -3859);
  CHECK(note.credits_display_number() == "L-1");
  v1::Invoice after = f.Get("inv-1");
  CHECK(after.credited_cents() == 3859);
  CHECK(after.open_cents() == 16409 - 3859);
  CHECK(f.relay->DeliverDue() == 2);
  std::map<std::string, int64_t> balances = f.Balances();
  CHECK(balances["1700"] == 16409 - 3859);
  CHECK(balances["3000"] == 0);
  CHECK(balances["2850"] == -2550);
  // Crediting the meals again would credit more than is left of them... of the invoice.
  credit.set_request_id("credit-2");
  credit.clear_line_numbers();
  v1::Invoice ignored;
  REQUIRE_REFUSED(f.Call(&InvoicingStub::CreateCreditNote, credit, &ignored),
                  grpc::StatusCode::FAILED_PRECONDITION, "credit more");
  // The credit note renders as a Finvoice credit note that validates.
  v1::RenderInvoiceRequest render;
  render.set_invoice_id(note.invoice_id());
  render.set_format(v1::RENDER_FORMAT_FINVOICE);
  v1::RenderInvoiceResponse xml = f.Ok(&InvoicingStub::RenderInvoice, render);
  testing::XmlValidation valid = testing::ValidateXml(xml.content(), TAHE_FINVOICE_XSD);
  INFO(valid.output);
  CHECK(valid.exit_code == 0);
}

// --- 2. payments ---------------------------------------------------------------------------------

Camt054Transaction Credit(int64_t cents, const std::string& reference, const std::string& ref) {
  Camt054Transaction t;
  t.amount_cents = cents;
  t.currency = "EUR";
  t.reference = reference;
  t.account_servicer_reference = ref;
  t.debtor_name = "Maksaja";
  return t;
}

std::string PaymentFile(const std::string& message_id,
                        const std::vector<Camt054Transaction>& transactions) {
  Camt054File file;
  file.message_id = message_id;
  file.creation_date_time = "2026-03-16T08:00:00+02:00";
  Camt054Notification n;
  n.id = absl::StrCat(message_id, "-N1");
  n.creation_date_time = file.creation_date_time;
  n.account_iban = kIban;
  for (const Camt054Transaction& t : transactions) {
    Camt054Entry e;
    e.amount_cents = t.amount_cents;
    e.booking_date = absl::CivilDay(2026, 3, 16);
    e.value_date = absl::CivilDay(2026, 3, 16);
    e.account_servicer_reference = t.account_servicer_reference;
    e.transactions.push_back(t);
    n.entries.push_back(e);
  }
  file.notifications.push_back(n);
  return OrThrow(WriteCamt054(file));
}

TEST_CASE("invoicing: a camt.054 file imported twice gives one set of payments, posted once",
          "[invoicing][pg]") {
  Fixture f;
  f.SetUpLedger();
  f.SetUpInvoicing();
  // Three invoices of 1 000.00 (exempt social services).
  // Issued 10.3.2026, due 24.3.: not overdue on "today", 20.3.
  v1::Invoice a =
      f.Issue(Fixture::Draft("a", "C-1", "2026-03-02", {{"PALVELU", 1000}}), "2026-03-10");
  v1::Invoice b =
      f.Issue(Fixture::Draft("b", "C-1", "2026-03-02", {{"PALVELU", 1000}}), "2026-03-10");
  v1::Invoice c =
      f.Issue(Fixture::Draft("c", "ORG-1", "2026-03-02", {{"PALVELU", 1000}}), "2026-03-10");
  REQUIRE(a.gross_cents() == 100000);
  REQUIRE(f.relay->DeliverDue() == 3);

  // a paid in full with its RF reference; b half with the national one (spaces as printed); c
  // overpaid by 50.00; and 20.00 with a reference that names no invoice.
  const std::string file = PaymentFile(
      "MSG-1", {Credit(100000, a.rf_reference(), "BANK-1"),
                Credit(50000, fi::FormatNationalReference(b.reference()), "BANK-2"),
                Credit(105000, c.reference(), "BANK-3"), Credit(2000, "1232", "BANK-4")});
  testing::XmlValidation valid = testing::ValidateXml(file, TAHE_CAMT054_XSD);
  INFO(valid.output);
  REQUIRE(valid.exit_code == 0);

  v1::ImportPaymentsResponse first;
  REQUIRE(f.ImportFile("import-1", file, &first).ok());
  CHECK(first.transactions() == 4);
  CHECK(first.matched() == 2);              // a and b: each payment allocated in full
  CHECK(first.partially_allocated() == 1);  // c: 1 000.00 of 1 050.00
  CHECK(first.unmatched() == 1);
  CHECK(first.duplicates() == 0);
  CHECK(first.matched_cents() == 100000 + 50000 + 100000);
  CHECK(first.unmatched_cents() == 5000 + 2000);
  CHECK(f.Get("a").status() == v1::INVOICE_STATUS_PAID);
  CHECK(f.Get("b").status() == v1::INVOICE_STATUS_PARTIALLY_PAID);
  CHECK(f.Get("b").open_cents() == 50000);
  CHECK(f.Get("c").status() == v1::INVOICE_STATUS_PAID);
  // Listing: all three without a filter, by status, by customer.
  v1::ListInvoicesRequest all;
  CHECK(f.Ok(&InvoicingStub::ListInvoices, all).invoices_size() == 3);
  v1::ListInvoicesRequest paid;
  paid.add_statuses(v1::INVOICE_STATUS_PAID);
  CHECK(f.Ok(&InvoicingStub::ListInvoices, paid).invoices_size() == 2);
  v1::ListInvoicesRequest of_org;
  of_org.set_customer_number("ORG-1");
  v1::ListInvoicesResponse org_invoices = f.Ok(&InvoicingStub::ListInvoices, of_org);
  REQUIRE(org_invoices.invoices_size() == 1);
  CHECK(org_invoices.invoices(0).invoice_id() == "c");
  v1::ListInvoicesRequest paged;
  paged.set_page_size(2);
  v1::ListInvoicesResponse page1 = f.Ok(&InvoicingStub::ListInvoices, paged);
  CHECK(page1.invoices_size() == 2);
  paged.set_page_token(page1.next_page_token());
  CHECK(f.Ok(&InvoicingStub::ListInvoices, paged).invoices_size() == 1);

  // The same file again, under another request id: every transaction is a duplicate.
  v1::ImportPaymentsResponse second;
  REQUIRE(f.ImportFile("import-2", file, &second).ok());
  CHECK(second.duplicates() == 4);
  CHECK(second.matched() + second.partially_allocated() + second.unmatched() == 0);
  // And under the first request id: the first answer, replayed.
  v1::ImportPaymentsResponse replay;
  REQUIRE(f.ImportFile("import-1", file, &replay).ok());
  CHECK(replay.matched() == 2);
  CHECK(f.OwnerCount("SELECT count(*) FROM payments") == 4);
  CHECK(f.OwnerCount("SELECT count(*) FROM outbox WHERE subject LIKE 'payments:%'") == 1);

  // Posted once: bank +2 570.00, receivables −2 500.00, unallocated −70.00.
  CHECK(f.relay->DeliverDue() == 1);
  std::map<std::string, int64_t> balances = f.Balances();
  CHECK(balances["1910"] == 257000);
  CHECK(balances["1700"] == 300000 - 250000);
  CHECK(balances["2900"] == -7000);

  // The unmatched 20.00 waits in the queue; an operator allocates it to b.
  v1::ListPaymentsRequest list;
  list.add_statuses(v1::PAYMENT_STATUS_UNMATCHED);
  v1::ListPaymentsResponse unmatched = f.Ok(&InvoicingStub::ListPayments, list);
  REQUIRE(unmatched.payments_size() == 1);
  CHECK(unmatched.payments(0).amount_cents() == 2000);
  v1::AllocatePaymentRequest allocate;
  allocate.set_request_id("allocate-1");
  allocate.set_payment_id(unmatched.payments(0).payment_id());
  allocate.set_invoice_id("b");
  v1::Payment allocated = f.Ok(&InvoicingStub::AllocatePayment, allocate);
  CHECK(allocated.status() == v1::PAYMENT_STATUS_MATCHED);
  CHECK(f.Get("b").open_cents() == 48000);
  CHECK(f.relay->DeliverDue() == 1);
  balances = f.Balances();
  CHECK(balances["1700"] == 48000);
  CHECK(balances["2900"] == -5000);

  // The published sample (a booked SEK debit) parses and imports nothing.
  std::string sample;
  {
    std::ifstream in(TAHE_CAMT054_SAMPLE);
    sample.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  v1::ImportPaymentsResponse skipped;
  REQUIRE(f.ImportFile("import-sample", sample, &skipped).ok());
  CHECK(skipped.transactions() >= 1);
  CHECK(skipped.skipped() == skipped.transactions());
  CHECK(f.OwnerCount("SELECT count(*) FROM payments") == 4);
  CHECK(CounterSum(f.registry, "tahe_invoicing_payments_total") == 4 + 4);
}

TEST_CASE("invoicing: two concurrent imports of the same camt.054 file give one set of payments",
          "[invoicing][pg]") {
  Fixture f;
  f.SetUpLedger();
  f.SetUpInvoicing();
  v1::Invoice a =
      f.Issue(Fixture::Draft("a", "C-1", "2026-03-02", {{"PALVELU", 1000}}), "2026-03-10");
  v1::Invoice b =
      f.Issue(Fixture::Draft("b", "ORG-1", "2026-03-02", {{"PALVELU", 1000}}), "2026-03-10");
  REQUIRE(f.relay->DeliverDue() == 2);
  // a and b paid in full, then 5 000 payments of 1.00 to a reference that names no invoice, so
  // that each import writes batches of payments while the file is still arriving.
  std::vector<Camt054Transaction> credits = {Credit(100000, a.rf_reference(), "BANK-A"),
                                             Credit(100000, b.reference(), "BANK-B")};
  for (int i = 0; i < 5000; ++i) {
    credits.push_back(Credit(100, "1232", absl::StrCat("BANK-U", i)));
  }
  const std::string file = PaymentFile("MSG-C", credits);

  // The same file, cut short: payments were written while it arrived, and it is refused at its
  // end. Nothing stays.
  v1::ImportPaymentsResponse cut;
  const grpc::Status refused =
      f.ImportFile("import-cut", file.substr(0, file.size() - 40), &cut, kTenant, 64 << 10);
  CHECK(refused.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(absl::StartsWith(refused.error_message(), "camt.054: not well-formed XML"));
  CHECK(f.OwnerCount("SELECT count(*) FROM payments") == 0);
  CHECK(f.OwnerCount("SELECT count(*) FROM outbox WHERE subject LIKE 'payments:%'") == 0);
  CHECK(f.Get("a").status() == v1::INVOICE_STATUS_ISSUED);

  // Two imports of the whole file at once, under different request ids: one writes the payments,
  // the other finds every transaction a duplicate.
  v1::ImportPaymentsResponse first, second;
  grpc::Status first_status, second_status;
  std::thread one(
      [&] { first_status = f.ImportFile("import-c1", file, &first, kTenant, 64 << 10); });
  std::thread two(
      [&] { second_status = f.ImportFile("import-c2", file, &second, kTenant, 64 << 10); });
  one.join();
  two.join();
  INFO(first_status.error_message() << " / " << second_status.error_message());
  REQUIRE(first_status.ok());
  REQUIRE(second_status.ok());
  CHECK(first.transactions() == 5002);
  CHECK(second.transactions() == 5002);
  CHECK(first.duplicates() + second.duplicates() == 5002);
  CHECK(first.matched() + second.matched() == 2);
  CHECK(first.unmatched() + second.unmatched() == 5000);
  CHECK(first.matched_cents() + second.matched_cents() == 200000);
  CHECK(first.unmatched_cents() + second.unmatched_cents() == 500000);
  CHECK(f.OwnerCount("SELECT count(*) FROM payments") == 5002);
  CHECK(f.OwnerCount("SELECT count(*) FROM payment_allocations") == 2);
  CHECK(f.OwnerCount("SELECT count(*) FROM outbox WHERE subject LIKE 'payments:%'") == 1);
  CHECK(f.Get("a").status() == v1::INVOICE_STATUS_PAID);
  CHECK(f.Get("b").status() == v1::INVOICE_STATUS_PAID);
  CHECK(f.Get("b").open_cents() == 0);

  // Posted once: bank +7 000.00, receivables −2 000.00, unallocated −5 000.00.
  CHECK(f.relay->DeliverDue() == 1);
  std::map<std::string, int64_t> balances = f.Balances();
  CHECK(balances["1910"] == 700000);
  CHECK(balances["1700"] == 0);
  CHECK(balances["2900"] == -500000);
}

// --- 3. reminders --------------------------------------------------------------------------------

TEST_CASE("invoicing: a reminder round charges the fee and the penalty interest",
          "[invoicing][pg]") {
  Fixture f;
  f.SetUpLedger();
  f.SetUpInvoicing();
  // 1 000.00 due 17.3.2025 (issued 3.3., 14 days net), one to a consumer, one to a business.
  f.Issue(Fixture::Draft("p", "C-1", "2025-03-01", {{"PALVELU", 1000}}), "2025-03-03");
  f.Issue(Fixture::Draft("o", "ORG-1", "2025-03-01", {{"PALVELU", 1000}}), "2025-03-03");
  REQUIRE(f.relay->DeliverDue() == 2);

  // 10.4.: 24 days late, a reminder is due. Too early on 30.3. (13 days).
  v1::RunReminderRoundRequest early;
  early.set_request_id("round-early");
  early.set_as_of("2025-03-30");
  CHECK(f.Ok(&InvoicingStub::RunReminderRound, early).reminders_size() == 0);

  v1::RunReminderRoundRequest round;
  round.set_request_id("round-1");
  round.set_as_of("2025-04-16");
  v1::ReminderRound first = f.Ok(&InvoicingStub::RunReminderRound, round);
  REQUIRE(first.reminders_size() == 2);
  std::map<std::string, v1::Reminder> by_id;
  for (const v1::Reminder& r : first.reminders()) by_id[r.invoice_id()] = r;
  // 30 days (18.3.-16.4.2025) at 3.5 % + 7 = 10.5 %: 1 000.00 × 10.5 % × 30/365 = 8.6301 → 8.63.
  CHECK(by_id["p"].days_late() == 30);
  CHECK(by_id["p"].fee_cents() == 500);
  CHECK(by_id["p"].interest_cents() == 863);
  // Between businesses + 8: 11.5 % × 30/365 × 1 000.00 = 9.4521 → 9.45.
  CHECK(by_id["o"].interest_cents() == 945);
  CHECK(!by_id["p"].interest_explanation().empty());
  CHECK(first.fees_cents() == 1000);
  CHECK(first.interest_cents() == 863 + 945);

  v1::Invoice p = f.Get("p");
  CHECK(p.status() == v1::INVOICE_STATUS_REMINDED);
  CHECK(p.fees_cents() == 500);
  CHECK(p.interest_cents() == 863);
  CHECK(p.open_cents() == 100000 + 500 + 863);
  CHECK(p.reminders_sent() == 1);

  // The same day again: nothing (14 days must pass since the last reminder).
  round.set_request_id("round-1-again");
  CHECK(f.Ok(&InvoicingStub::RunReminderRound, round).reminders_size() == 0);
  // 1.5.: 15 days since the last; interest only for those days (17.4.-1.5.): 1 000.00 × 10.5 %
  // × 15/365 = 4.3151 → 4.32 (half away from zero from 4.315...).
  round.set_request_id("round-2");
  round.set_as_of("2025-05-01");
  v1::ReminderRound second = f.Ok(&InvoicingStub::RunReminderRound, round);
  REQUIRE(second.reminders_size() == 2);
  for (const v1::Reminder& r : second.reminders()) {
    if (r.invoice_id() == "p") CHECK(r.interest_cents() == 432);
  }

  // Posted: receivables up by fees and interest, fee income 3400 and interest income 5210.
  CHECK(f.relay->DeliverDue() == 2);
  std::map<std::string, int64_t> balances = f.Balances();
  CHECK(balances["3400"] == -(1000 + 1000));
  CHECK(balances["5210"] == -(first.interest_cents() + second.interest_cents()));
  CHECK(balances["1700"] == 200000 + 2000 + first.interest_cents() + second.interest_cents());

  // Ageing as of 1.5.2025: both 45 days overdue.
  v1::GetReceivablesAgeingRequest ageing_req;
  ageing_req.set_as_of("2025-05-01");
  v1::ReceivablesAgeing ageing = f.Ok(&InvoicingStub::GetReceivablesAgeing, ageing_req);
  REQUIRE(ageing.buckets_size() == 5);
  CHECK(ageing.buckets(2).bucket() == "31-60");
  CHECK(ageing.buckets(2).invoices() == 2);
  CHECK(ageing.open_cents() == balances["1700"]);
}

TEST_CASE("invoicing: a reference rate loaded by the operator prices the next reminder round",
          "[invoicing][pg]") {
  Fixture f;
  f.SetUpLedger();
  f.SetUpInvoicing();
  // 1 000.00 issued 1.6.2026, due 15.6.; on 20.7. 35 days late: 16.6.-30.6. in 2026 H1 (2.5 %,
  // built in) and 1.7.-20.7. in 2026 H2, whose rate is not built in.
  f.Issue(Fixture::Draft("h2", "C-1", "2026-06-01", {{"PALVELU", 1000}}), "2026-06-01");
  v1::RunReminderRoundRequest round;
  round.set_request_id("round-h2");
  round.set_as_of("2026-07-20");
  v1::ReminderRound refused;
  grpc::Status s = f.Call(&InvoicingStub::RunReminderRound, round, &refused);
  CHECK(s.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  CHECK(s.error_message().find("no reference rate for 2026 H2") != std::string::npos);
  CHECK(f.Get("h2").reminders_sent() == 0);

  // The operator loads 2.00 % for 2026 H2; a bad one is refused naming the field.
  v1::SetReferenceRateRequest bad;
  bad.set_request_id("rate-bad");
  bad.mutable_rate()->set_year(2026);
  bad.mutable_rate()->set_half(3);
  bad.mutable_rate()->set_rate_hundredths(200);
  v1::ReferenceRate ignored;
  s = f.Call(&InvoicingStub::SetReferenceRate, bad, &ignored);
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(s.error_message().find("rate.half") != std::string::npos);
  v1::SetReferenceRateRequest load;
  load.set_request_id("rate-2026-h2");
  load.mutable_rate()->set_year(2026);
  load.mutable_rate()->set_half(2);
  load.mutable_rate()->set_rate_hundredths(200);
  v1::ReferenceRate loaded = f.Ok(&InvoicingStub::SetReferenceRate, load);
  CHECK(loaded.source() == "loaded");
  CHECK(f.Ok(&InvoicingStub::SetReferenceRate, load).rate_hundredths() == 200);  // a replay
  v1::SetReferenceRateRequest changed = load;
  changed.mutable_rate()->set_rate_hundredths(300);
  s = f.Call(&InvoicingStub::SetReferenceRate, changed, &ignored);
  CHECK(s.error_code() == grpc::StatusCode::ALREADY_EXISTS);

  v1::ListReferenceRatesResponse rates =
      f.Ok(&InvoicingStub::ListReferenceRates, v1::ListReferenceRatesRequest());
  REQUIRE(rates.rates_size() >= 2);
  const v1::ReferenceRate& last = rates.rates(rates.rates_size() - 1);
  CHECK((last.year() == 2026 && last.half() == 2 && last.rate_hundredths() == 200 &&
         last.source() == "loaded"));
  CHECK(rates.rates(0).source() == "built-in");

  // 1 000.00 × (9.5 % × 15 + 9.0 % × 20) / 365 = 8.8356 → 8.84, in two segments.
  round.set_request_id("round-h2-again");
  v1::ReminderRound priced = f.Ok(&InvoicingStub::RunReminderRound, round);
  REQUIRE(priced.reminders_size() == 1);
  CHECK(priced.reminders(0).days_late() == 35);
  CHECK(priced.reminders(0).interest_cents() == 884);
  CHECK(!priced.reminders(0).provisional_rate());
}

// --- 4. bad input --------------------------------------------------------------------------------

TEST_CASE("invoicing: bad customers, lines and files are refused naming the field, nothing written",
          "[invoicing][pg]") {
  Fixture f;
  f.SetUpLedger();
  f.SetUpInvoicing();
  const std::map<std::string, int64_t> before = f.RowCounts();

  v1::Customer ignored_customer;
  v1::UpsertCustomerRequest bad_person;
  bad_person.set_request_id("bad-person");
  bad_person.mutable_customer()->set_customer_number("C-9");
  bad_person.mutable_customer()->set_kind(v1::CUSTOMER_KIND_PERSON);
  bad_person.mutable_customer()->set_name("Virheellinen Henkilö");
  bad_person.mutable_customer()->set_personal_identity_code("131052-308U");
  grpc::Status s = f.Call(&InvoicingStub::UpsertCustomer, bad_person, &ignored_customer);
  REQUIRE_REFUSED(s, grpc::StatusCode::INVALID_ARGUMENT, "customer.personal_identity_code");
  CHECK(!absl::StrContains(s.error_message(), "131052"));
  v1::UpsertCustomerRequest bad_org;
  bad_org.set_request_id("bad-org");
  bad_org.mutable_customer()->set_customer_number("ORG-9");
  bad_org.mutable_customer()->set_kind(v1::CUSTOMER_KIND_ORGANISATION);
  bad_org.mutable_customer()->set_name("Yhtiö Oy");
  bad_org.mutable_customer()->set_business_id("0201256-5");
  REQUIRE_REFUSED(f.Call(&InvoicingStub::UpsertCustomer, bad_org, &ignored_customer),
                  grpc::StatusCode::INVALID_ARGUMENT, "customer.business_id");

  v1::Invoice ignored;
  v1::CreateInvoiceRequest bad_line;
  bad_line.set_request_id("bad-line");
  *bad_line.mutable_invoice() =
      Fixture::Draft("x", "C-1", "2026-03-02", {{"KOTIHOITO", 1000}, {"NOPE", 1000}});
  REQUIRE_REFUSED(f.Call(&InvoicingStub::CreateInvoice, bad_line, &ignored),
                  grpc::StatusCode::INVALID_ARGUMENT, "invoice.lines[1].product_code");
  bad_line.set_request_id("bad-quantity");
  *bad_line.mutable_invoice() = Fixture::Draft("x", "C-1", "2026-03-02", {{"KOTIHOITO", -1000}});
  REQUIRE_REFUSED(f.Call(&InvoicingStub::CreateInvoice, bad_line, &ignored),
                  grpc::StatusCode::INVALID_ARGUMENT, "invoice.lines[0].quantity_milli");
  bad_line.set_request_id("bad-customer");
  *bad_line.mutable_invoice() = Fixture::Draft("x", "C-404", "2026-03-02", {{"KOTIHOITO", 1000}});
  REQUIRE_REFUSED(f.Call(&InvoicingStub::CreateInvoice, bad_line, &ignored),
                  grpc::StatusCode::INVALID_ARGUMENT, "invoice.customer_number");
  // A NUL byte cannot be in PostgreSQL text: refused naming the field, not by the database.
  bad_line.set_request_id("nul-customer");
  *bad_line.mutable_invoice() =
      Fixture::Draft("x", std::string("C-1\0x", 5), "2026-03-02", {{"KOTIHOITO", 1000}});
  REQUIRE_REFUSED(f.Call(&InvoicingStub::CreateInvoice, bad_line, &ignored),
                  grpc::StatusCode::INVALID_ARGUMENT, "invoice.customer_number");

  v1::ImportPaymentsResponse ignored_import;
  REQUIRE_REFUSED(f.ImportFile("bad-file-1", "this is not XML", &ignored_import),
                  grpc::StatusCode::INVALID_ARGUMENT, "");
  std::string broken = PaymentFile("MSG-X", {Credit(1000, "1232", "B-1")});
  broken.replace(broken.find("<Amt"), 4, "<Amount");
  broken.replace(broken.find("</Amt>"), 6, "</Amount>");
  REQUIRE_REFUSED(f.ImportFile("bad-file-2", broken, &ignored_import),
                  grpc::StatusCode::INVALID_ARGUMENT, "");

  CHECK(f.RowCounts() == before);
}

// --- 5. billing runs -----------------------------------------------------------------------------

TEST_CASE("invoicing: a billing run issues its drafts gapless, reports rejects and posts once",
          "[invoicing][pg]") {
  Fixture f;
  f.SetUpLedger();
  f.SetUpInvoicing();
  v1::ImportDraftInvoicesResponse imported;
  {
    grpc::ClientContext ctx;
    Fixture::Authorise(ctx, kTenant);
    auto writer = f.invoicing->ImportDraftInvoices(&ctx, &imported);
    for (int batch = 0; batch < 3; ++batch) {
      v1::ImportDraftInvoicesRequest req;
      req.set_request_id(absl::StrCat("drafts-", batch));
      req.set_billing_run_id("2026-03-fees");
      for (int i = 0; i < 10; ++i) {
        *req.add_invoices() = Fixture::Draft(absl::StrCat("fee-", batch, "-", i), "C-1",
                                             "2026-03-31", {{"ATERIA", 10000}});
      }
      // One bad draft per batch: an unknown customer.
      *req.add_invoices() =
          Fixture::Draft(absl::StrCat("bad-", batch), "C-404", "2026-03-31", {{"ATERIA", 1000}});
      REQUIRE(writer->Write(req));
    }
    writer->WritesDone();
    grpc::Status status = writer->Finish();
    INFO(status.error_message());
    REQUIRE(status.ok());
  }
  CHECK(imported.accepted() == 30);
  REQUIRE(imported.rejections_size() == 3);
  CHECK(imported.rejections(2).batch() == 2);
  CHECK(imported.rejections(2).index() == 10);
  CHECK(absl::StrContains(imported.rejections(2).message(), "invoices[10].customer_number"));

  v1::RunBillingRequest run;
  run.set_request_id("run-fees");
  run.set_billing_run_id("2026-03-fees");
  run.set_invoice_date("2026-03-31");
  v1::BillingRun result = f.Ok(&InvoicingStub::RunBilling, run);
  CHECK(result.status() == v1::BILLING_RUN_STATUS_DONE);
  CHECK(result.issued() == 30);
  CHECK(result.rejected() == 0);
  CHECK(result.numbers() == "L-1..L-30");
  // 10 meals × 8.50 = 85.00 net, 13.5 % VAT = 11.48 (11.475 half away from zero) → 96.48 each.
  CHECK(result.gross_cents() == 30 * 9648);
  // Numbers are gapless and every invoice is issued.
  CHECK(f.OwnerCount("SELECT count(DISTINCT invoice_number) FROM invoices WHERE invoice_number"
                     " BETWEEN 1 AND 30") == 30);
  CHECK(f.OwnerCount("SELECT count(*) FROM invoices WHERE status = 1") == 0);
  // One posting for the run.
  CHECK(f.relay->DeliverDue() == 1);
  CHECK(f.LedgerEntries() == 1);
  CHECK(f.Balances()["1700"] == 30 * 9648);
  v1::GetBillingRunRequest get;
  get.set_billing_run_id("2026-03-fees");
  CHECK(f.Ok(&InvoicingStub::GetBillingRun, get).posted());
  CHECK(f.Get("fee-1-3").posted());
  // The run cannot be run twice; its watch ends at once with the final state.
  run.set_request_id("run-fees-again");
  v1::BillingRun ignored;
  REQUIRE_REFUSED(f.Call(&InvoicingStub::RunBilling, run, &ignored),
                  grpc::StatusCode::FAILED_PRECONDITION, "billing_run_id");
  grpc::ClientContext ctx;
  Fixture::Authorise(ctx, kTenant);
  v1::WatchBillingRunRequest watch;
  watch.set_billing_run_id("2026-03-fees");
  auto reader = f.invoicing->WatchBillingRun(&ctx, watch);
  v1::BillingRun seen;
  std::vector<v1::BillingRun> updates;
  while (reader->Read(&seen)) updates.push_back(seen);
  REQUIRE(reader->Finish().ok());
  REQUIRE(!updates.empty());
  CHECK(updates.back().status() == v1::BILLING_RUN_STATUS_DONE);
}

}  // namespace
}  // namespace tahe::invoicing
