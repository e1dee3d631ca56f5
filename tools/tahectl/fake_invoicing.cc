#include "tools/tahectl/fake_invoicing.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"

namespace tahe::tahectl {

namespace v1 = ::tahe::invoicing::v1;

namespace {

// The tenant of calls that carry none (a key of one organisation, as the gateway resolves it).
constexpr char kKeyTenant[] = "key-organisation";
// "Today" of the fake, for dates a request leaves empty.
constexpr char kToday[] = "2026-03-20";
constexpr int kPageSize = 2;
constexpr int kPaymentTermsDays = 14;

std::string Metadata(const grpc::ServerContext* context, const char* key) {
  const auto& metadata = context->client_metadata();
  auto it = metadata.find(key);
  return it == metadata.end() ? "" : std::string(it->second.data(), it->second.size());
}

grpc::Status Invalid(const std::string& message) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, message);
}

absl::CivilDay Day(const std::string& text) {
  absl::CivilDay day;
  absl::ParseCivilTime(text.empty() ? kToday : text, &day);
  return day;
}

std::string Text(absl::CivilDay day) {
  return absl::StrFormat("%04d-%02d-%02d", day.year(), day.month(), day.day());
}

int64_t RatePpm(v1::VatCategory category) {
  switch (category) {
    case v1::VAT_CATEGORY_GENERAL:
      return 255000;
    case v1::VAT_CATEGORY_REDUCED:
      return 140000;
    case v1::VAT_CATEGORY_LOWEST:
      return 100000;
    default:
      return 0;
  }
}

// Positive amounts only: half up is half away from zero.
int64_t Divide(int64_t numerator, int64_t denominator) {
  return (numerator + denominator / 2) / denominator;
}

bool Settled(v1::BillingRunStatus status) {
  return status == v1::BILLING_RUN_STATUS_DONE || status == v1::BILLING_RUN_STATUS_FAILED;
}

bool Open(const v1::Invoice& invoice) {
  return invoice.kind() == v1::INVOICE_KIND_INVOICE && invoice.open_cents() > 0 &&
         invoice.status() != v1::INVOICE_STATUS_DRAFT;
}

// Unpaid and past its due date on `day`.
std::string AgeingBucket(int64_t days_overdue) {
  if (days_overdue <= 0) return "current";
  if (days_overdue <= 30) return "1-30";
  if (days_overdue <= 60) return "31-60";
  if (days_overdue <= 90) return "61-90";
  return "over-90";
}

}  // namespace

std::vector<FakeInvoicing::CallRecord> FakeInvoicing::calls() const {
  absl::MutexLock lock(&mu_);
  return calls_;
}

void FakeInvoicing::SetBehaviour(Behaviour behaviour) {
  absl::MutexLock lock(&mu_);
  behaviour_ = behaviour;
}

std::vector<std::string> FakeInvoicing::identity_codes_received() const {
  absl::MutexLock lock(&mu_);
  return identity_codes_;
}

std::map<std::string, std::string> FakeInvoicing::payment_files() const {
  absl::MutexLock lock(&mu_);
  return payment_files_;
}

grpc::Status FakeInvoicing::Admit(grpc::ServerContext* context, const char* method,
                                  const google::protobuf::Message* request, Tenant** tenant) {
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
  *tenant = &tenants_[record.tenant.empty() ? kKeyTenant : record.tenant];
  return grpc::Status::OK;
}

grpc::Status FakeInvoicing::CheckReplay(Tenant& tenant, const char* method,
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
                        absl::StrCat("request_id: ", request_id, " was used for another request"));
  }
  response->ParseFromString(it->second.response);
  *replayed = true;
  return grpc::Status::OK;
}

void FakeInvoicing::Remember(Tenant& tenant, const char* method, const std::string& request_id,
                             const google::protobuf::Message& request,
                             const google::protobuf::Message& response) {
  tenant.by_request_id[request_id] =
      Stored{method, request.SerializeAsString(), response.SerializeAsString()};
}

template <typename Request, typename Response, typename Body>
grpc::Status FakeInvoicing::Mutate(grpc::ServerContext* context, const char* method,
                                   const Request* request, Response* response, Body body) {
  absl::MutexLock lock(&mu_);
  Tenant* tenant = nullptr;
  if (grpc::Status s = Admit(context, method, request, &tenant); !s.ok()) {
    return s;
  }
  bool replayed = false;
  if (grpc::Status s =
          CheckReplay(*tenant, method, request->request_id(), *request, response, &replayed);
      !s.ok() || replayed) {
    return s;
  }
  if (grpc::Status s = body(tenant); !s.ok()) {
    return s;
  }
  Remember(*tenant, method, request->request_id(), *request, *response);
  return grpc::Status::OK;
}

#define FAKE_QUERY(Method)                                                   \
  absl::MutexLock lock(&mu_);                                                \
  Tenant* tenant = nullptr;                                                  \
  if (grpc::Status s = Admit(context, #Method, request, &tenant); !s.ok()) { \
    return s;                                                                \
  }

grpc::Status FakeInvoicing::SetInvoicingSettings(grpc::ServerContext* context,
                                                 const v1::SetInvoicingSettingsRequest* request,
                                                 v1::InvoicingSettings* response) {
  return Mutate(context, "SetInvoicingSettings", request, response,
                [&](Tenant* tenant) -> grpc::Status {
                  v1::InvoicingSettings s = request->settings();
                  if (s.seller_name().empty()) {
                    return Invalid("settings.seller_name: required");
                  }
                  if (!absl::StartsWith(s.iban(), "FI")) {
                    return Invalid("settings.iban: must be a Finnish IBAN");
                  }
                  if (s.bic().empty()) {
                    s.set_bic("NDEAFIHH");
                  }
                  if (s.reference_prefix().empty()) {
                    s.set_reference_prefix("1");
                  }
                  if (s.payment_terms_days() == 0) {
                    s.set_payment_terms_days(kPaymentTermsDays);
                  }
                  if (s.series_size() == 0) {
                    v1::InvoiceSeries* series = s.add_series();
                    series->set_code("L");
                    series->set_reference_prefix(s.reference_prefix());
                  }
                  s.mutable_accounts()->set_receivables("1700");
                  tenant->settings = std::make_unique<v1::InvoicingSettings>(s);
                  *response = s;
                  return grpc::Status::OK;
                });
}

grpc::Status FakeInvoicing::GetInvoicingSettings(grpc::ServerContext* context,
                                                 const v1::GetInvoicingSettingsRequest* request,
                                                 v1::InvoicingSettings* response) {
  FAKE_QUERY(GetInvoicingSettings)
  if (tenant->settings == nullptr) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        "settings: the organisation has no invoicing settings yet");
  }
  *response = *tenant->settings;
  return grpc::Status::OK;
}

grpc::Status FakeInvoicing::UpsertCustomer(grpc::ServerContext* context,
                                           const v1::UpsertCustomerRequest* request,
                                           v1::Customer* response) {
  return Mutate(context, "UpsertCustomer", request, response, [&](Tenant* tenant) -> grpc::Status {
    const v1::Customer& in = request->customer();
    const std::string& code = in.personal_identity_code();
    if (!code.empty()) {
      identity_codes_.push_back(code);
    }
    if (in.customer_number().empty()) {
      return Invalid("customer.customer_number: required");
    }
    if (in.kind() == v1::CUSTOMER_KIND_PERSON && !code.empty()) {
      if (in.name() == "Echo") {
        // As a careless service might: the code in the message, for tahectl to redact.
        return Invalid(absl::StrCat("customer.personal_identity_code: ", code, " is not valid"));
      }
      if (code.size() != 11 || code.back() == 'U') {
        return Invalid("customer.personal_identity_code: not a valid personal identity code");
      }
    }
    if (in.kind() == v1::CUSTOMER_KIND_ORGANISATION && in.business_id().empty()) {
      return Invalid("customer.business_id: required for an organisation");
    }
    if (in.address().city().empty()) {
      return Invalid("customer.address.city: required");
    }
    v1::Customer stored = in;
    stored.clear_personal_identity_code();
    stored.set_has_personal_identity_code(!code.empty());
    tenant->customers[stored.customer_number()] = stored;
    *response = stored;
    return grpc::Status::OK;
  });
}

grpc::Status FakeInvoicing::GetCustomer(grpc::ServerContext* context,
                                        const v1::GetCustomerRequest* request,
                                        v1::Customer* response) {
  FAKE_QUERY(GetCustomer)
  auto it = tenant->customers.find(request->customer_number());
  if (it == tenant->customers.end()) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND, "customer_number: no such customer");
  }
  *response = it->second;
  return grpc::Status::OK;
}

grpc::Status FakeInvoicing::ListCustomers(grpc::ServerContext* context,
                                          const v1::ListCustomersRequest* request,
                                          v1::ListCustomersResponse* response) {
  FAKE_QUERY(ListCustomers)
  int start = 0;
  absl::SimpleAtoi(request->page_token(), &start);
  int index = 0;
  for (const auto& [number, customer] : tenant->customers) {
    if (index >= start + kPageSize) {
      response->set_next_page_token(absl::StrCat(index));
      break;
    }
    if (index++ >= start) {
      *response->add_customers() = customer;
    }
  }
  return grpc::Status::OK;
}

grpc::Status FakeInvoicing::UpsertProduct(grpc::ServerContext* context,
                                          const v1::UpsertProductRequest* request,
                                          v1::Product* response) {
  return Mutate(context, "UpsertProduct", request, response, [&](Tenant* tenant) -> grpc::Status {
    const v1::Product& in = request->product();
    if (in.code().empty()) {
      return Invalid("product.code: required");
    }
    if (in.unit_price_cents() <= 0) {
      return Invalid("product.unit_price_cents: must be positive");
    }
    v1::Product stored = in;
    if (stored.unit().empty()) {
      stored.set_unit("kpl");
    }
    tenant->products[stored.code()] = stored;
    *response = stored;
    return grpc::Status::OK;
  });
}

grpc::Status FakeInvoicing::ListProducts(grpc::ServerContext* context,
                                         const v1::ListProductsRequest* request,
                                         v1::ListProductsResponse* response) {
  FAKE_QUERY(ListProducts)
  for (const auto& [code, product] : tenant->products) {
    *response->add_products() = product;
  }
  return grpc::Status::OK;
}

grpc::Status FakeInvoicing::Price(const Tenant& tenant, const v1::InvoiceDraftInput& input,
                                  const std::string& field, v1::Invoice* invoice) {
  auto customer = tenant.customers.find(input.customer_number());
  if (customer == tenant.customers.end()) {
    return Invalid(absl::StrCat(field, ".customer_number: unknown customer \"",
                                input.customer_number(), "\""));
  }
  if (input.lines_size() == 0) {
    return Invalid(absl::StrCat(field, ".lines: required"));
  }
  invoice->set_kind(v1::INVOICE_KIND_INVOICE);
  invoice->set_status(v1::INVOICE_STATUS_DRAFT);
  invoice->set_customer_number(input.customer_number());
  invoice->set_customer_name(customer->second.name());
  invoice->set_series(input.series().empty() ? "L" : input.series());
  invoice->set_delivery_date(input.delivery_date());
  invoice->set_text(input.text());
  invoice->set_payment_terms_days(input.payment_terms_days() == 0 ? kPaymentTermsDays
                                                                  : input.payment_terms_days());
  std::map<int64_t, std::pair<v1::VatCategory, int64_t>> groups;  // rate -> category, net
  for (int i = 0; i < input.lines_size(); ++i) {
    const v1::LineInput& in = input.lines(i);
    const std::string lf = absl::StrCat(field, ".lines[", i, "]");
    const v1::Product* product = nullptr;
    if (!in.product_code().empty()) {
      auto found = tenant.products.find(in.product_code());
      if (found == tenant.products.end()) {
        return Invalid(
            absl::StrCat(lf, ".product_code: unknown product \"", in.product_code(), "\""));
      }
      product = &found->second;
    }
    if (in.quantity_milli() <= 0) {
      return Invalid(absl::StrCat(lf, ".quantity_milli: must be positive"));
    }
    if (product == nullptr && !in.has_unit_price()) {
      return Invalid(absl::StrCat(lf, ".unit_price_cents: required without a product"));
    }
    v1::InvoiceLine* line = invoice->add_lines();
    line->set_line_number(i + 1);
    line->set_product_code(in.product_code());
    line->set_description(product != nullptr && in.description().empty() ? product->name()
                                                                         : in.description());
    line->set_unit(product != nullptr && in.unit().empty() ? product->unit() : in.unit());
    line->set_quantity_milli(in.quantity_milli());
    line->set_unit_price_cents(in.has_unit_price() ? in.unit_price_cents()
                                                   : product->unit_price_cents());
    line->set_vat_category(in.vat_category() != v1::VAT_CATEGORY_UNSPECIFIED || product == nullptr
                               ? in.vat_category()
                               : product->vat_category());
    line->set_vat_rate_ppm(RatePpm(line->vat_category()));
    line->set_net_cents(Divide(line->quantity_milli() * line->unit_price_cents(), 1000));
    line->set_sales_account(product != nullptr ? product->sales_account() : "3000");
    line->set_cost_centre(!in.cost_centre().empty() ? in.cost_centre()
                          : product != nullptr      ? product->cost_centre()
                                                    : "");
    auto& group = groups[line->vat_rate_ppm()];
    group.first = line->vat_category();
    group.second += line->net_cents();
  }
  int64_t net = 0;
  int64_t vat = 0;
  for (const auto& [rate, group] : groups) {
    v1::VatGroup* out = invoice->add_vat_groups();
    out->set_vat_category(group.first);
    out->set_vat_rate_ppm(rate);
    out->set_net_cents(group.second);
    out->set_vat_cents(Divide(group.second * rate, 1'000'000));
    net += out->net_cents();
    vat += out->vat_cents();
  }
  invoice->set_net_cents(net);
  invoice->set_vat_cents(vat);
  invoice->set_gross_cents(net + vat);
  return grpc::Status::OK;
}

void FakeInvoicing::Issue(Tenant& tenant, const std::string& invoice_date, v1::Invoice* invoice) {
  const int64_t number = tenant.next_number++;
  const absl::CivilDay date = Day(invoice_date);
  invoice->set_invoice_number(number);
  invoice->set_display_number(absl::StrCat(invoice->series(), "-", number));
  invoice->set_invoice_date(Text(date));
  invoice->set_due_date(Text(date + invoice->payment_terms_days()));
  invoice->set_reference(absl::StrCat(1000 + number));
  invoice->set_rf_reference(absl::StrCat("RF00", 1000 + number));
  invoice->set_status(v1::INVOICE_STATUS_ISSUED);
  invoice->set_open_cents(invoice->gross_cents());
  invoice->set_posted(false);
  tenant.gets_since_issue[invoice->invoice_id()] = 0;
}

v1::Invoice FakeInvoicing::Observe(Tenant& tenant, const std::string& invoice_id) {
  v1::Invoice& invoice = tenant.invoices[invoice_id];
  if (invoice.status() != v1::INVOICE_STATUS_DRAFT && !invoice.posted() &&
      ++tenant.gets_since_issue[invoice_id] >= behaviour_.posted_after_gets) {
    invoice.set_posted(true);
    invoice.set_ledger_sequence(100 + invoice.invoice_number());
  }
  return invoice;
}

grpc::Status FakeInvoicing::CreateInvoice(grpc::ServerContext* context,
                                          const v1::CreateInvoiceRequest* request,
                                          v1::Invoice* response) {
  return Mutate(context, "CreateInvoice", request, response, [&](Tenant* tenant) -> grpc::Status {
    v1::Invoice invoice;
    if (grpc::Status s = Price(*tenant, request->invoice(), "invoice", &invoice); !s.ok()) {
      return s;
    }
    invoice.set_invoice_id(request->invoice().invoice_id().empty()
                               ? absl::StrCat("draft-", tenant->next_draft++)
                               : request->invoice().invoice_id());
    tenant->invoices[invoice.invoice_id()] = invoice;
    *response = invoice;
    return grpc::Status::OK;
  });
}

grpc::Status FakeInvoicing::DeleteDraftInvoice(grpc::ServerContext* context,
                                               const v1::DeleteDraftInvoiceRequest* request,
                                               v1::Invoice* response) {
  return Mutate(
      context, "DeleteDraftInvoice", request, response, [&](Tenant* tenant) -> grpc::Status {
        auto it = tenant->invoices.find(request->invoice_id());
        if (it == tenant->invoices.end() || it->second.status() != v1::INVOICE_STATUS_DRAFT) {
          return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                              "invoice_id: not a draft of this organisation");
        }
        *response = it->second;
        tenant->invoices.erase(it);
        return grpc::Status::OK;
      });
}

grpc::Status FakeInvoicing::IssueInvoice(grpc::ServerContext* context,
                                         const v1::IssueInvoiceRequest* request,
                                         v1::Invoice* response) {
  return Mutate(context, "IssueInvoice", request, response, [&](Tenant* tenant) -> grpc::Status {
    auto it = tenant->invoices.find(request->invoice_id());
    if (it == tenant->invoices.end()) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "invoice_id: no such invoice");
    }
    if (it->second.status() != v1::INVOICE_STATUS_DRAFT) {
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "invoice_id: already issued");
    }
    Issue(*tenant, request->invoice_date(), &it->second);
    *response = it->second;
    return grpc::Status::OK;
  });
}

grpc::Status FakeInvoicing::CreateCreditNote(grpc::ServerContext* context,
                                             const v1::CreateCreditNoteRequest* request,
                                             v1::Invoice* response) {
  return Mutate(
      context, "CreateCreditNote", request, response, [&](Tenant* tenant) -> grpc::Status {
        auto it = tenant->invoices.find(request->invoice_id());
        if (it == tenant->invoices.end() || it->second.status() == v1::INVOICE_STATUS_DRAFT) {
          return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                              "invoice_id: only an issued invoice can be credited");
        }
        v1::Invoice& original = it->second;
        v1::Invoice note;
        note.set_invoice_id(absl::StrCat(original.invoice_id(), "-credit-", tenant->next_draft++));
        note.set_kind(v1::INVOICE_KIND_CREDIT_NOTE);
        note.set_customer_number(original.customer_number());
        note.set_customer_name(original.customer_name());
        note.set_series(original.series());
        note.set_credits_invoice_id(original.invoice_id());
        note.set_credits_display_number(original.display_number());
        int64_t net = 0;
        for (const v1::InvoiceLine& line : original.lines()) {
          const bool chosen =
              request->line_numbers().empty() ||
              std::find(request->line_numbers().begin(), request->line_numbers().end(),
                        line.line_number()) != request->line_numbers().end();
          if (chosen) {
            v1::InvoiceLine* credited = note.add_lines();
            *credited = line;
            credited->set_line_number(note.lines_size());
            credited->set_net_cents(-line.net_cents());
            net += line.net_cents();
          }
        }
        if (note.lines_size() == 0) {
          return Invalid("line_numbers: no such line");
        }
        const int64_t gross =
            Divide(net * original.gross_cents(), std::max<int64_t>(1, original.net_cents()));
        note.set_net_cents(-net);
        note.set_vat_cents(-(gross - net));
        note.set_gross_cents(-gross);
        note.set_payment_terms_days(0);
        Issue(*tenant, request->invoice_date(), &note);
        note.set_status(v1::INVOICE_STATUS_CREDITED);
        note.set_open_cents(0);
        original.set_credited_cents(original.credited_cents() + gross);
        original.set_open_cents(original.open_cents() - gross);
        tenant->invoices[note.invoice_id()] = note;
        *response = note;
        return grpc::Status::OK;
      });
}

grpc::Status FakeInvoicing::GetInvoice(grpc::ServerContext* context,
                                       const v1::GetInvoiceRequest* request,
                                       v1::Invoice* response) {
  FAKE_QUERY(GetInvoice)
  if (tenant->invoices.count(request->invoice_id()) == 0) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND, "invoice_id: no such invoice");
  }
  *response = Observe(*tenant, request->invoice_id());
  return grpc::Status::OK;
}

grpc::Status FakeInvoicing::ListInvoices(grpc::ServerContext* context,
                                         const v1::ListInvoicesRequest* request,
                                         v1::ListInvoicesResponse* response) {
  FAKE_QUERY(ListInvoices)
  int start = 0;
  absl::SimpleAtoi(request->page_token(), &start);
  int index = 0;
  for (const auto& [id, invoice] : tenant->invoices) {
    const bool status_matches = request->statuses().empty() ||
                                std::find(request->statuses().begin(), request->statuses().end(),
                                          invoice.status()) != request->statuses().end();
    if (!status_matches ||
        (!request->customer_number().empty() &&
         invoice.customer_number() != request->customer_number()) ||
        (!request->due_from().empty() && invoice.due_date() < request->due_from()) ||
        (!request->due_to().empty() && invoice.due_date() > request->due_to()) ||
        (!request->billing_run_id().empty() &&
         invoice.billing_run_id() != request->billing_run_id())) {
      continue;
    }
    if (index >= start + kPageSize) {
      response->set_next_page_token(absl::StrCat(index));
      break;
    }
    if (index++ >= start) {
      *response->add_invoices() = invoice;
    }
  }
  return grpc::Status::OK;
}

grpc::Status FakeInvoicing::RenderInvoice(grpc::ServerContext* context,
                                          const v1::RenderInvoiceRequest* request,
                                          v1::RenderInvoiceResponse* response) {
  FAKE_QUERY(RenderInvoice)
  auto it = tenant->invoices.find(request->invoice_id());
  if (it == tenant->invoices.end() || it->second.status() == v1::INVOICE_STATUS_DRAFT) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        "invoice_id: only an issued invoice is rendered");
  }
  switch (request->format()) {
    case v1::RENDER_FORMAT_FINVOICE:
      response->set_content_type("application/xml");
      response->set_content(absl::StrCat("<Finvoice>", it->second.display_number(), "</Finvoice>"));
      break;
    case v1::RENDER_FORMAT_HTML:
      response->set_content_type("text/html; charset=utf-8");
      response->set_content(absl::StrCat("<p>", it->second.display_number(), "</p>"));
      break;
    default:
      response->set_content_type("text/plain; charset=utf-8");
      response->set_content(absl::StrCat("LASKU ", it->second.display_number(), "\n"));
  }
  return grpc::Status::OK;
}

grpc::Status FakeInvoicing::ImportDraftInvoices(
    grpc::ServerContext* context, grpc::ServerReader<v1::ImportDraftInvoicesRequest>* reader,
    v1::ImportDraftInvoicesResponse* response) {
  v1::ImportDraftInvoicesRequest batch;
  std::vector<std::string> request_ids;
  std::vector<size_t> sizes;
  std::vector<v1::ImportDraftInvoicesRequest> batches;
  while (reader->Read(&batch)) {
    request_ids.push_back(batch.request_id());
    sizes.push_back(static_cast<size_t>(batch.invoices_size()));
    batches.push_back(batch);
  }
  absl::MutexLock lock(&mu_);
  Tenant* tenant = nullptr;
  const google::protobuf::Message* last = batches.empty() ? nullptr : &batches.back();
  grpc::Status admitted = Admit(context, "ImportDraftInvoices", last, &tenant);
  calls_.back().request_ids = request_ids;
  calls_.back().message_sizes = sizes;
  if (!admitted.ok()) {
    return admitted;
  }
  for (size_t b = 0; b < batches.size(); ++b) {
    const v1::ImportDraftInvoicesRequest& request = batches[b];
    v1::ImportDraftInvoicesResponse result;
    bool replayed = false;
    if (grpc::Status s = CheckReplay(*tenant, "ImportDraftInvoices", request.request_id(), request,
                                     &result, &replayed);
        !s.ok()) {
      return s;
    }
    if (!replayed) {
      for (int i = 0; i < request.invoices_size(); ++i) {
        v1::Invoice draft;
        grpc::Status priced =
            Price(*tenant, request.invoices(i), absl::StrCat("invoices[", i, "]"), &draft);
        if (!priced.ok()) {
          v1::DraftRejection* rejection = result.add_rejections();
          rejection->set_batch(static_cast<int32_t>(b));
          rejection->set_index(i);
          rejection->set_invoice_id(request.invoices(i).invoice_id());
          rejection->set_code("INVALID_ARGUMENT");
          rejection->set_message(priced.error_message());
          continue;
        }
        draft.set_invoice_id(request.invoices(i).invoice_id());
        draft.set_billing_run_id(request.billing_run_id());
        tenant->invoices[draft.invoice_id()] = draft;
        v1::BillingRun& run = tenant->runs[request.billing_run_id()];
        run.set_billing_run_id(request.billing_run_id());
        run.set_status(v1::BILLING_RUN_STATUS_OPEN);
        run.set_drafts_total(run.drafts_total() + 1);
        result.set_accepted(result.accepted() + 1);
      }
      Remember(*tenant, "ImportDraftInvoices", request.request_id(), request, result);
    }
    response->set_accepted(response->accepted() + result.accepted());
    for (const v1::DraftRejection& rejection : result.rejections()) {
      *response->add_rejections() = rejection;
    }
  }
  return grpc::Status::OK;
}

grpc::Status FakeInvoicing::RunBilling(grpc::ServerContext* context,
                                       const v1::RunBillingRequest* request,
                                       v1::BillingRun* response) {
  absl::MutexLock lock(&mu_);
  Tenant* tenant = nullptr;
  if (grpc::Status s = Admit(context, "RunBilling", request, &tenant); !s.ok()) {
    return s;
  }
  bool replayed = false;
  if (grpc::Status s =
          CheckReplay(*tenant, "RunBilling", request->request_id(), *request, response, &replayed);
      !s.ok() || replayed) {
    return s;
  }
  const std::string id = request->billing_run_id();
  if (tenant->runs.count(id) == 0) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("billing_run_id: no billing run \"", id, "\""));
  }
  if (tenant->runs[id].status() == v1::BILLING_RUN_STATUS_DONE) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        absl::StrCat("billing_run_id: billing run \"", id, "\" was run already"));
  }
  tenant->running[id] = true;
  if (behaviour_.billing_waits_for_watcher) {
    const auto watched = [tenant, &id]() { return tenant->watchers[id] > 0; };
    mu_.AwaitWithTimeout(absl::Condition(&watched), absl::Seconds(5));
  }
  std::vector<std::string> drafts;
  for (const auto& [invoice_id, invoice] : tenant->invoices) {
    if (invoice.billing_run_id() == id && invoice.status() == v1::INVOICE_STATUS_DRAFT) {
      drafts.push_back(invoice_id);
    }
  }
  v1::BillingRun run = tenant->runs[id];
  run.set_status(v1::BILLING_RUN_STATUS_RUNNING);
  run.set_invoice_date(Text(Day(request->invoice_date())));
  run.set_drafts_total(static_cast<int64_t>(drafts.size()));
  std::string first;
  std::string last;
  for (const std::string& invoice_id : drafts) {
    mu_.Unlock();
    absl::SleepFor(behaviour_.per_invoice);
    mu_.Lock();
    v1::Invoice& invoice = tenant->invoices[invoice_id];
    Issue(*tenant, run.invoice_date(), &invoice);
    run.set_issued(run.issued() + 1);
    run.set_gross_cents(run.gross_cents() + invoice.gross_cents());
    run.set_message(absl::StrCat("issued ", run.issued(), " of ", run.drafts_total()));
    (first.empty() ? first : last) = invoice.display_number();
    tenant->progress[id].push_back(run);
  }
  run.set_status(v1::BILLING_RUN_STATUS_DONE);
  run.set_numbers(first.empty() ? "" : absl::StrCat(first, "..", last.empty() ? first : last));
  run.set_message("");
  run.set_posted(true);
  tenant->runs[id] = run;
  tenant->running[id] = false;
  *response = run;
  Remember(*tenant, "RunBilling", request->request_id(), *request, *response);
  return grpc::Status::OK;
}

grpc::Status FakeInvoicing::GetBillingRun(grpc::ServerContext* context,
                                          const v1::GetBillingRunRequest* request,
                                          v1::BillingRun* response) {
  FAKE_QUERY(GetBillingRun)
  auto it = tenant->runs.find(request->billing_run_id());
  if (it == tenant->runs.end()) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND, "billing_run_id: no such billing run");
  }
  *response = it->second;
  return grpc::Status::OK;
}

grpc::Status FakeInvoicing::WatchBillingRun(grpc::ServerContext* context,
                                            const v1::WatchBillingRunRequest* request,
                                            grpc::ServerWriter<v1::BillingRun>* writer) {
  mu_.Lock();
  Tenant* tenant = nullptr;
  if (grpc::Status s = Admit(context, "WatchBillingRun", request, &tenant); !s.ok()) {
    mu_.Unlock();
    return s;
  }
  const std::string id = request->billing_run_id();
  if (tenant->runs.count(id) == 0) {
    mu_.Unlock();
    return grpc::Status(grpc::StatusCode::NOT_FOUND, "billing_run_id: no such billing run");
  }
  std::vector<v1::BillingRun> pending = {tenant->runs[id]};
  size_t sent = tenant->progress[id].size();
  bool done = Settled(tenant->runs[id].status()) && !tenant->running[id];
  if (!done) {
    ++tenant->watchers[id];
  }
  const bool counted = !done;
  grpc::Status result = grpc::Status::OK;
  while (true) {
    const std::vector<v1::BillingRun>& steps = tenant->progress[id];
    for (; sent < steps.size(); ++sent) {
      pending.push_back(steps[sent]);
    }
    if (Settled(tenant->runs[id].status()) && !tenant->running[id] && sent == steps.size()) {
      pending.push_back(tenant->runs[id]);
      done = true;
    }
    mu_.Unlock();
    for (const v1::BillingRun& run : pending) {
      if (!writer->Write(run)) {
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
    if (done) {
      break;
    }
    const size_t seen = sent;
    const auto changed = [tenant, &id, seen]() {
      return tenant->progress[id].size() > seen ||
             (Settled(tenant->runs[id].status()) && !tenant->running[id]);
    };
    mu_.AwaitWithTimeout(absl::Condition(&changed), absl::Milliseconds(20));
  }
  if (counted) {
    --tenant->watchers[id];
  }
  mu_.Unlock();
  return result;
}

grpc::Status FakeInvoicing::ImportPayments(grpc::ServerContext* context,
                                           grpc::ServerReader<v1::ImportPaymentsRequest>* reader,
                                           v1::ImportPaymentsResponse* response) {
  v1::ImportPaymentsRequest chunk;
  std::vector<std::string> request_ids;
  std::vector<size_t> sizes;
  std::string file;
  std::string request_id;
  while (reader->Read(&chunk)) {
    request_ids.push_back(chunk.request_id());
    sizes.push_back(chunk.chunk().size());
    if (request_ids.size() == 1) {
      request_id = chunk.request_id();
    }
    file += chunk.chunk();
  }
  absl::MutexLock lock(&mu_);
  Tenant* tenant = nullptr;
  v1::ImportPaymentsRequest whole;
  whole.set_request_id(request_id);
  whole.set_chunk(file);
  grpc::Status admitted = Admit(context, "ImportPayments", nullptr, &tenant);
  calls_.back().request_ids = request_ids;
  calls_.back().message_sizes = sizes;
  if (!admitted.ok()) {
    return admitted;
  }
  bool replayed = false;
  if (grpc::Status s =
          CheckReplay(*tenant, "ImportPayments", request_id, whole, response, &replayed);
      !s.ok() || replayed) {
    return s;
  }
  payment_files_[request_id] = file;
  // The fake's bank file: an XML declaration, then "PAY CENTS REFERENCE BANK_REF" lines.
  std::vector<absl::string_view> lines = absl::StrSplit(file, '\n', absl::SkipEmpty());
  if (lines.empty() || !absl::StartsWith(lines[0], "<?xml")) {
    return Invalid("file: line 1: not an XML document (want camt.054.001.02)");
  }
  response->set_message_id("FAKE-MSG");
  for (size_t i = 1; i < lines.size(); ++i) {
    std::vector<std::string> words = absl::StrSplit(lines[i], ' ', absl::SkipEmpty());
    int64_t cents = 0;
    if (words.size() != 4 || words[0] != "PAY" || !absl::SimpleAtoi(words[1], &cents)) {
      continue;
    }
    response->set_transactions(response->transactions() + 1);
    const bool duplicate =
        std::any_of(tenant->payments.begin(), tenant->payments.end(),
                    [&](const v1::Payment& p) { return p.transaction_key() == words[3]; });
    if (duplicate) {
      response->set_duplicates(response->duplicates() + 1);
      continue;
    }
    v1::Payment payment;
    payment.set_payment_id(absl::StrCat("P", tenant->payments.size() + 1));
    payment.set_amount_cents(cents);
    payment.set_reference(words[2]);
    payment.set_transaction_key(words[3]);
    payment.set_booking_date(kToday);
    payment.set_status(v1::PAYMENT_STATUS_UNMATCHED);
    for (auto& [id, invoice] : tenant->invoices) {
      if ((invoice.reference() == words[2] || invoice.rf_reference() == words[2]) &&
          Open(invoice)) {
        const int64_t allocated = std::min(cents, invoice.open_cents());
        invoice.set_paid_cents(invoice.paid_cents() + allocated);
        invoice.set_open_cents(invoice.open_cents() - allocated);
        invoice.set_status(invoice.open_cents() == 0 ? v1::INVOICE_STATUS_PAID
                                                     : v1::INVOICE_STATUS_PARTIALLY_PAID);
        payment.set_allocated_cents(allocated);
        payment.add_invoice_ids(id);
        payment.set_status(allocated == cents ? v1::PAYMENT_STATUS_MATCHED
                                              : v1::PAYMENT_STATUS_PARTIALLY_ALLOCATED);
        break;
      }
    }
    switch (payment.status()) {
      case v1::PAYMENT_STATUS_MATCHED:
        response->set_matched(response->matched() + 1);
        break;
      case v1::PAYMENT_STATUS_PARTIALLY_ALLOCATED:
        response->set_partially_allocated(response->partially_allocated() + 1);
        break;
      default:
        response->set_unmatched(response->unmatched() + 1);
    }
    response->set_matched_cents(response->matched_cents() + payment.allocated_cents());
    response->set_unmatched_cents(response->unmatched_cents() + cents - payment.allocated_cents());
    tenant->payments.push_back(payment);
  }
  Remember(*tenant, "ImportPayments", request_id, whole, *response);
  return grpc::Status::OK;
}

grpc::Status FakeInvoicing::ListPayments(grpc::ServerContext* context,
                                         const v1::ListPaymentsRequest* request,
                                         v1::ListPaymentsResponse* response) {
  FAKE_QUERY(ListPayments)
  int start = 0;
  absl::SimpleAtoi(request->page_token(), &start);
  int index = 0;
  for (const v1::Payment& payment : tenant->payments) {
    if (!request->statuses().empty() &&
        std::find(request->statuses().begin(), request->statuses().end(), payment.status()) ==
            request->statuses().end()) {
      continue;
    }
    if (index >= start + kPageSize) {
      response->set_next_page_token(absl::StrCat(index));
      break;
    }
    if (index++ >= start) {
      *response->add_payments() = payment;
    }
  }
  return grpc::Status::OK;
}

grpc::Status FakeInvoicing::AllocatePayment(grpc::ServerContext* context,
                                            const v1::AllocatePaymentRequest* request,
                                            v1::Payment* response) {
  return Mutate(context, "AllocatePayment", request, response, [&](Tenant* tenant) -> grpc::Status {
    auto payment =
        std::find_if(tenant->payments.begin(), tenant->payments.end(),
                     [&](const v1::Payment& p) { return p.payment_id() == request->payment_id(); });
    if (payment == tenant->payments.end()) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "payment_id: no such payment");
    }
    auto invoice = tenant->invoices.find(request->invoice_id());
    if (invoice == tenant->invoices.end() || !Open(invoice->second)) {
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "invoice_id: not an open invoice");
    }
    const int64_t rest = payment->amount_cents() - payment->allocated_cents();
    const int64_t amount = request->amount_cents() != 0
                               ? request->amount_cents()
                               : std::min(rest, invoice->second.open_cents());
    if (amount > rest || amount > invoice->second.open_cents()) {
      return Invalid("amount_cents: more than the payment has left or the invoice has open");
    }
    payment->set_allocated_cents(payment->allocated_cents() + amount);
    payment->add_invoice_ids(request->invoice_id());
    payment->set_status(payment->allocated_cents() == payment->amount_cents()
                            ? v1::PAYMENT_STATUS_MATCHED
                            : v1::PAYMENT_STATUS_PARTIALLY_ALLOCATED);
    invoice->second.set_paid_cents(invoice->second.paid_cents() + amount);
    invoice->second.set_open_cents(invoice->second.open_cents() - amount);
    *response = *payment;
    return grpc::Status::OK;
  });
}

grpc::Status FakeInvoicing::RunReminderRound(grpc::ServerContext* context,
                                             const v1::RunReminderRoundRequest* request,
                                             v1::ReminderRound* response) {
  return Mutate(
      context, "RunReminderRound", request, response, [&](Tenant* tenant) -> grpc::Status {
        const absl::CivilDay as_of = Day(request->as_of());
        response->set_as_of(Text(as_of));
        for (auto& [id, invoice] : tenant->invoices) {
          if (!Open(invoice)) {
            continue;
          }
          const int64_t days_late = as_of - Day(invoice.due_date());
          if (days_late < 14) {
            continue;
          }
          v1::Reminder* reminder = response->add_reminders();
          reminder->set_invoice_id(id);
          reminder->set_display_number(invoice.display_number());
          reminder->set_customer_number(invoice.customer_number());
          reminder->set_open_cents(invoice.open_cents());
          reminder->set_days_late(static_cast<int32_t>(days_late));
          reminder->set_fee_cents(500);
          // 10.5 % a year, actual/365.
          reminder->set_interest_cents(
              Divide(invoice.open_cents() * 105 * days_late, 1000 * static_cast<int64_t>(365)));
          reminder->set_interest_explanation(
              absl::StrCat(invoice.open_cents(), " × 10,5 % × ", days_late, "/365"));
          response->set_fees_cents(response->fees_cents() + reminder->fee_cents());
          response->set_interest_cents(response->interest_cents() + reminder->interest_cents());
          invoice.set_status(v1::INVOICE_STATUS_REMINDED);
          invoice.set_fees_cents(invoice.fees_cents() + reminder->fee_cents());
          invoice.set_interest_cents(invoice.interest_cents() + reminder->interest_cents());
          invoice.set_open_cents(invoice.open_cents() + reminder->fee_cents() +
                                 reminder->interest_cents());
        }
        return grpc::Status::OK;
      });
}

grpc::Status FakeInvoicing::SetReferenceRate(grpc::ServerContext* context,
                                             const v1::SetReferenceRateRequest* request,
                                             v1::ReferenceRate* response) {
  return Mutate(context, "SetReferenceRate", request, response,
                [&](Tenant*) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> grpc::Status {
                  const v1::ReferenceRate& rate = request->rate();
                  if (rate.half() != 1 && rate.half() != 2) {
                    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "rate.half: 1 or 2");
                  }
                  *response = rate;
                  response->set_source("loaded");
                  reference_rates_[{rate.year(), rate.half()}] = *response;
                  return grpc::Status::OK;
                });
}

grpc::Status FakeInvoicing::ListReferenceRates(grpc::ServerContext* context,
                                               const v1::ListReferenceRatesRequest* request,
                                               v1::ListReferenceRatesResponse* response) {
  FAKE_QUERY(ListReferenceRates)
  (void)tenant;
  for (const auto& [half, rate] : reference_rates_) {
    *response->add_rates() = rate;
  }
  return grpc::Status::OK;
}

grpc::Status FakeInvoicing::GetReceivablesAgeing(grpc::ServerContext* context,
                                                 const v1::GetReceivablesAgeingRequest* request,
                                                 v1::ReceivablesAgeing* response) {
  FAKE_QUERY(GetReceivablesAgeing)
  const absl::CivilDay as_of = Day(request->as_of());
  response->set_as_of(Text(as_of));
  std::map<std::string, std::pair<int64_t, int64_t>> buckets;
  for (const auto& [id, invoice] : tenant->invoices) {
    if (Open(invoice)) {
      auto& bucket = buckets[AgeingBucket(as_of - Day(invoice.due_date()))];
      ++bucket.first;
      bucket.second += invoice.open_cents();
      response->set_open_cents(response->open_cents() + invoice.open_cents());
    }
  }
  for (const char* name : {"current", "1-30", "31-60", "61-90", "over-90"}) {
    v1::AgeingBucket* bucket = response->add_buckets();
    bucket->set_bucket(name);
    bucket->set_invoices(buckets[name].first);
    bucket->set_open_cents(buckets[name].second);
  }
  return grpc::Status::OK;
}

#undef FAKE_QUERY

}  // namespace tahe::tahectl
