#include "services/invoicing/invoicing_repository.h"

#include <openssl/evp.h>
#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <thread>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "libs/dates/dates.h"
#include "libs/fi/reference.h"
#include "libs/log/log.h"
#include "libs/pg/binary_array.h"
#include "libs/pg/idempotency.h"
#include "libs/status/status.h"
#include "services/invoicing/camt054.h"
#include "services/invoicing/interest.h"
#include "services/invoicing/invoicing_domain.h"
#include "services/invoicing/invoicing_model.h"

namespace tahe::invoicing {
namespace {

constexpr int kDefaultPageSize = 100;
constexpr int kMaxPageSize = 1000;
constexpr int kMaxListedRejections = 1000;

// Base statuses as stored; OVERDUE is derived when read (issued or partly paid, past due).
constexpr int kDraft = v1::INVOICE_STATUS_DRAFT;
constexpr int kIssued = v1::INVOICE_STATUS_ISSUED;
constexpr int kPartiallyPaid = v1::INVOICE_STATUS_PARTIALLY_PAID;
constexpr int kPaid = v1::INVOICE_STATUS_PAID;
constexpr int kReminded = v1::INVOICE_STATUS_REMINDED;
// Open receivables: issued, partly paid, reminded.
constexpr char kOpenStatuses[] = "(2, 3, 6)";

// What the customer still owes of an invoice.
constexpr char kOpenAmount[] =
    "(gross_cents + fees_cents + interest_cents - paid_cents - credited_cents)";

pg::TxOptions Tx(const CallContext& call, bool read_only = false) {
  return {.deadline = call.deadline, .read_only = read_only};
}

pg::IdempotencyKey Key(const CallContext& call, const std::string& request_id) {
  return {.tenant = call.tenant, .request_id = request_id};
}

std::string Hex(const google::protobuf::Message& message) {
  return absl::BytesToHexString(message.SerializeAsString());
}

template <typename Message>
absl::StatusOr<Message> FromHex(const pqxx::field& field, absl::string_view what) {
  Message message;
  if (!message.ParseFromString(absl::HexStringToBytes(field.as<std::string>()))) {
    return absl::InternalError(absl::StrCat("a stored ", what, " does not parse"));
  }
  return message;
}

using pg::BinaryArray;

// The ids of the issued invoices that may be open (an open invoice is never settled), due on or
// before `due_by` when given. Queries of open invoices read these ids first and then the invoices
// by id: each statement reads one table, so no join order can go wrong on statistics that lag
// behind a billing run of 100 000 invoices.
BinaryArray MaybeOpenInvoices(pqxx::work& tx, const std::string& tenant,
                              std::optional<absl::CivilDay> due_by = std::nullopt) {
  BinaryArray ids(BinaryArray::kText);
  for (const auto& r :
       tx.exec_params("SELECT invoice_id FROM invoice_keys WHERE tenant_id = $1 AND NOT settled"
                      " AND ($2 = '' OR due_date <= nullif($2, '')::date)",
                      tenant, due_by.has_value() ? FormatDate(*due_by) : "")) {
    ids.AddText(r[0].c_str());
  }
  return ids;
}

std::string PostingKey(const CallContext& call, absl::string_view kind, absl::string_view id) {
  return absl::StrCat("invoicing-", call.tenant, "-", kind, "-", id);
}

// --- reading ---------------------------------------------------------------------------------

absl::StatusOr<v1::InvoicingSettings> LoadSettings(pqxx::work& tx, const std::string& tenant) {
  pqxx::result r =
      tx.exec_params("SELECT encode(settings, 'hex') FROM settings WHERE tenant_id = $1", tenant);
  if (r.empty()) {
    return absl::FailedPreconditionError(
        "settings: the organisation has no invoicing settings yet (SetInvoicingSettings)");
  }
  return FromHex<v1::InvoicingSettings>(r[0][0], "settings");
}

// Of `invoices` (unaliased). An invoice issued by a billing run is posted with the run's one
// entry: its ledger sequence is the run's, read from billing_runs rather than written into each
// of the run's invoices when the posting is delivered.
constexpr char kInvoiceColumns[] =
    "encode(document, 'hex'), status, paid_cents, credited_cents, fees_cents, interest_cents,"
    " reminders_sent, coalesce(to_char(last_reminder_date, 'YYYY-MM-DD'), ''),"
    " coalesce(ledger_sequence, CASE WHEN issued_in_run THEN (SELECT b.ledger_sequence FROM"
    " billing_runs b WHERE b.tenant_id = invoices.tenant_id AND"
    " b.billing_run_id = invoices.billing_run_id) END, 0), invoice_id";

// The stored document with the columns that change after issue laid over it.
absl::StatusOr<v1::Invoice> InvoiceFromRow(const pqxx::row& r, absl::CivilDay today) {
  ASSIGN_OR_RETURN(v1::Invoice invoice, FromHex<v1::Invoice>(r[0], "invoice"));
  int status = r[1].as<int>();
  invoice.set_paid_cents(r[2].as<int64_t>());
  invoice.set_credited_cents(r[3].as<int64_t>());
  invoice.set_fees_cents(r[4].as<int64_t>());
  invoice.set_interest_cents(r[5].as<int64_t>());
  invoice.set_reminders_sent(r[6].as<int>());
  invoice.set_last_reminder_date(r[7].as<std::string>());
  invoice.set_ledger_sequence(r[8].as<int64_t>());
  invoice.set_posted(invoice.ledger_sequence() > 0);
  if (invoice.kind() == v1::INVOICE_KIND_INVOICE && status != kDraft) {
    invoice.set_open_cents(invoice.gross_cents() + invoice.fees_cents() + invoice.interest_cents() -
                           invoice.paid_cents() - invoice.credited_cents());
    if ((status == kIssued || status == kPartiallyPaid) && !invoice.due_date().empty() &&
        FormatDate(today) > invoice.due_date()) {
      status = v1::INVOICE_STATUS_OVERDUE;
    }
  }
  invoice.set_status(static_cast<v1::InvoiceStatus>(status));
  return invoice;
}

absl::StatusOr<std::optional<v1::Invoice>> FindInvoice(pqxx::work& tx, const std::string& tenant,
                                                       const std::string& invoice_id,
                                                       absl::CivilDay today, bool for_update) {
  pqxx::result r =
      tx.exec_params(absl::StrCat("SELECT ", kInvoiceColumns,
                                  " FROM invoices WHERE tenant_id = $1 AND invoice_id = $2",
                                  for_update ? " FOR UPDATE" : ""),
                     tenant, invoice_id);
  if (r.empty()) return std::optional<v1::Invoice>();
  ASSIGN_OR_RETURN(v1::Invoice invoice, InvoiceFromRow(r[0], today));
  return std::optional<v1::Invoice>(std::move(invoice));
}

absl::StatusOr<v1::Invoice> LoadInvoice(pqxx::work& tx, const std::string& tenant,
                                        const std::string& invoice_id, absl::CivilDay today,
                                        bool for_update) {
  ASSIGN_OR_RETURN(std::optional<v1::Invoice> invoice,
                   FindInvoice(tx, tenant, invoice_id, today, for_update));
  if (!invoice.has_value()) {
    return absl::NotFoundError(absl::StrCat("invoice_id: no invoice \"", invoice_id, "\""));
  }
  return *std::move(invoice);
}

// Customers by number (the stored details carry everything but the identity code).
absl::StatusOr<std::map<std::string, v1::Customer>> LoadCustomers(
    pqxx::work& tx, const std::string& tenant, const std::vector<std::string>& numbers) {
  std::map<std::string, v1::Customer> out;
  // PostgreSQL text holds no NUL byte, so no customer has such a number; passed on, it would cut
  // the array literal short ("malformed array literal"). The caller's ValidateCode names it.
  std::vector<std::string> storable;
  for (const std::string& number : numbers) {
    if (number.find('\0') == std::string::npos) storable.push_back(number);
  }
  for (const auto& r : tx.exec_params(
           "SELECT customer_number, encode(details, 'hex') FROM customers WHERE tenant_id = $1"
           " AND customer_number = ANY($2::text[])",
           tenant, pg::TextArray(storable))) {
    ASSIGN_OR_RETURN(out[r[0].as<std::string>()], FromHex<v1::Customer>(r[1], "customer"));
  }
  return out;
}

absl::StatusOr<std::map<std::string, v1::Product>> LoadProducts(pqxx::work& tx,
                                                                const std::string& tenant) {
  std::map<std::string, v1::Product> out;
  for (const auto& r : tx.exec_params(
           "SELECT code, encode(product, 'hex') FROM products WHERE tenant_id = $1", tenant)) {
    ASSIGN_OR_RETURN(out[r[0].as<std::string>()], FromHex<v1::Product>(r[1], "product"));
  }
  return out;
}

absl::StatusOr<std::map<std::string, v1::PriceList>> LoadPriceLists(pqxx::work& tx,
                                                                    const std::string& tenant) {
  std::map<std::string, v1::PriceList> out;
  for (const auto& r : tx.exec_params(
           "SELECT name, encode(price_list, 'hex') FROM price_lists WHERE tenant_id = $1",
           tenant)) {
    ASSIGN_OR_RETURN(out[r[0].as<std::string>()], FromHex<v1::PriceList>(r[1], "price list"));
  }
  return out;
}

// Everything pricing a draft needs, loaded once per request.
struct PricingData {
  v1::InvoicingSettings settings;
  std::map<std::string, v1::Customer> customers;
  std::map<std::string, v1::Product> products;
  std::map<std::string, v1::PriceList> price_lists;
};

absl::StatusOr<PricingData> LoadPricingData(pqxx::work& tx, const std::string& tenant,
                                            const std::vector<std::string>& customer_numbers) {
  PricingData data;
  ASSIGN_OR_RETURN(data.settings, LoadSettings(tx, tenant));
  ASSIGN_OR_RETURN(data.customers, LoadCustomers(tx, tenant, customer_numbers));
  ASSIGN_OR_RETURN(data.products, LoadProducts(tx, tenant));
  ASSIGN_OR_RETURN(data.price_lists, LoadPriceLists(tx, tenant));
  return data;
}

absl::StatusOr<v1::Invoice> PriceWith(const PricingData& data, const v1::InvoiceDraftInput& input,
                                      absl::string_view field) {
  RETURN_IF_ERROR(
      ValidateCode(absl::StrCat(field, ".customer_number"), input.customer_number(), 40));
  auto customer = data.customers.find(input.customer_number());
  if (customer == data.customers.end()) {
    return InvalidField(absl::StrCat(field, ".customer_number"),
                        absl::StrCat("unknown customer \"", input.customer_number(), "\""));
  }
  const v1::PriceList* price_list = nullptr;
  if (!customer->second.price_list().empty()) {
    auto list = data.price_lists.find(customer->second.price_list());
    if (list != data.price_lists.end()) price_list = &list->second;
  }
  ASSIGN_OR_RETURN(v1::Invoice invoice, PriceDraft(input, field,
                                                   {.settings = &data.settings,
                                                    .customer = &customer->second,
                                                    .products = &data.products,
                                                    .price_list = price_list}));
  *invoice.mutable_buyer() = customer->second;
  return invoice;
}

std::string GeneratedId(absl::string_view prefix) {
  // 64 random bits from the clock and the address space are enough for a caller that did not
  // name its invoice; the primary key refuses a collision.
  static std::atomic<uint64_t> counter{0};
  const uint64_t bits = static_cast<uint64_t>(absl::GetCurrentTimeNanos()) * 0x9E3779B97F4A7C15u ^
                        (counter.fetch_add(1) << 1);
  return absl::StrCat(prefix, absl::Hex(bits, absl::kZeroPad16));
}

// --- writing ---------------------------------------------------------------------------------

// The result of `insert` (a plain INSERT), or, if a row it writes already exists (a unique
// violation), of `otherwise` (the same INSERT with ON CONFLICT), with nothing of `insert` left.
// A plain insert does half the work of ON CONFLICT's speculative one, row by row. (A savepoint of
// its own: libpqxx 6.4's subtransaction does not begin its savepoint for exec_params.)
template <typename Insert, typename Otherwise>
pqxx::result InsertOrElse(pqxx::work& tx, Insert insert, Otherwise otherwise) {
  tx.exec("SAVEPOINT insert_or_else");
  try {
    pqxx::result r = insert();
    tx.exec("RELEASE SAVEPOINT insert_or_else");
    return r;
  } catch (const pqxx::unique_violation&) {
    tx.exec("ROLLBACK TO SAVEPOINT insert_or_else");
  }
  return otherwise();
}

// Stores drafts (status DRAFT), replacing drafts with the same ids. The ids of issued invoices
// among them are returned: those are left alone.
absl::StatusOr<std::set<std::string>> StoreDrafts(pqxx::work& tx, const std::string& tenant,
                                                  const std::vector<const v1::Invoice*>& drafts,
                                                  const std::string& billing_run_id) {
  if (drafts.empty()) return std::set<std::string>();
  BinaryArray ids(BinaryArray::kText), customers(BinaryArray::kText), series(BinaryArray::kText),
      delivery(BinaryArray::kText), docs(BinaryArray::kBytea), kinds(BinaryArray::kInt8),
      terms(BinaryArray::kInt8), nets(BinaryArray::kInt8), vats(BinaryArray::kInt8),
      grosses(BinaryArray::kInt8), consumers(BinaryArray::kInt8);
  for (const v1::Invoice* d : drafts) {
    ids.AddText(d->invoice_id());
    customers.AddText(d->customer_number());
    series.AddText(d->series());
    delivery.AddText(d->delivery_date());
    docs.AddMessage(*d);
    kinds.AddInt64(d->kind());
    terms.AddInt64(d->payment_terms_days());
    nets.AddInt64(d->net_cents());
    vats.AddInt64(d->vat_cents());
    grosses.AddInt64(d->gross_cents());
    consumers.AddInt64(d->buyer().kind() == v1::CUSTOMER_KIND_PERSON ? 1 : 0);
  }
  const std::string insert =
      "INSERT INTO invoices (tenant_id, invoice_id, kind, status, customer_number,"
      " buyer_is_consumer, series, delivery_date, payment_terms_days, net_cents, vat_cents,"
      " gross_cents, billing_run_id, document)"
      " SELECT $1, u.id, u.kind, 1, u.customer, u.consumer = 1, u.series, u.delivery::date,"
      " u.terms, u.net, u.vat, u.gross, $13, u.doc"
      " FROM unnest($2::text[], $3::bigint[], $4::text[], $5::bigint[], $6::text[],"
      " $7::text[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[], $12::bytea[])"
      " AS u(id, kind, customer, consumer, series, delivery, terms, net, vat, gross, doc)";
  auto store = [&](pqxx::work& on, const std::string& sql) {
    return on.exec_params(sql, tenant, ids.Param(), kinds.Param(), customers.Param(),
                          consumers.Param(), series.Param(), delivery.Param(), terms.Param(),
                          nets.Param(), vats.Param(), grosses.Param(), docs.Param(),
                          billing_run_id);
  };
  // New drafts (the usual case) by a plain insert; when some ids exist, the upsert. In its answer
  // xmax is not 0 in a row that ON CONFLICT updated (it holds the updating transaction's lock):
  // only a replaced draft has lines to delete.
  const pqxx::result stored = InsertOrElse(
      tx, [&] { return store(tx, absl::StrCat(insert, " RETURNING invoice_id, false")); },
      [&] {
        return store(
            tx, absl::StrCat(
                    insert,
                    " ON CONFLICT (tenant_id, invoice_id) DO UPDATE SET kind = excluded.kind,"
                    " customer_number = excluded.customer_number,"
                    " buyer_is_consumer = excluded.buyer_is_consumer, series = excluded.series,"
                    " delivery_date = excluded.delivery_date,"
                    " payment_terms_days = excluded.payment_terms_days,"
                    " net_cents = excluded.net_cents, vat_cents = excluded.vat_cents,"
                    " gross_cents = excluded.gross_cents, billing_run_id = excluded.billing_run_id,"
                    " document = excluded.document WHERE invoices.status = 1"
                    " RETURNING invoice_id, xmax <> 0"));
      });
  std::set<std::string> written;
  BinaryArray replaced(BinaryArray::kText);
  for (const auto& r : stored) {
    written.insert(r[0].as<std::string>());
    if (r[1].as<bool>()) replaced.AddText(r[0].c_str());
  }
  std::set<std::string> issued;
  for (const v1::Invoice* d : drafts) {
    if (written.count(d->invoice_id()) == 0) issued.insert(d->invoice_id());
  }
  // The lines as rows, replaced with the draft.
  if (!replaced.empty()) {
    tx.exec_params(
        "DELETE FROM invoice_lines WHERE tenant_id = $1 AND invoice_id = ANY($2::text[])", tenant,
        replaced.Param());
  }
  BinaryArray line_ids(BinaryArray::kText), products(BinaryArray::kText),
      descriptions(BinaryArray::kText), accounts(BinaryArray::kText),
      cost_centres(BinaryArray::kText), numbers(BinaryArray::kInt8), quantities(BinaryArray::kInt8),
      prices(BinaryArray::kInt8), rates(BinaryArray::kInt8), line_nets(BinaryArray::kInt8);
  for (const v1::Invoice* d : drafts) {
    if (written.count(d->invoice_id()) == 0) continue;
    for (const v1::InvoiceLine& line : d->lines()) {
      line_ids.AddText(d->invoice_id());
      numbers.AddInt64(line.line_number());
      products.AddText(line.product_code());
      descriptions.AddText(line.description());
      quantities.AddInt64(line.quantity_milli());
      prices.AddInt64(line.unit_price_cents());
      rates.AddInt64(line.vat_rate_ppm());
      line_nets.AddInt64(line.net_cents());
      accounts.AddText(line.sales_account());
      cost_centres.AddText(line.cost_centre());
    }
  }
  if (line_ids.empty()) return issued;
  tx.exec_params(
      "INSERT INTO invoice_lines (tenant_id, invoice_id, line_number, product_code, description,"
      " quantity_milli, unit_price_cents, vat_rate_ppm, net_cents, sales_account, cost_centre)"
      " SELECT $1, * FROM unnest($2::text[], $3::bigint[], $4::text[], $5::text[], $6::bigint[],"
      " $7::bigint[], $8::bigint[], $9::bigint[], $10::text[], $11::text[])",
      tenant, line_ids.Param(), numbers.Param(), products.Param(), descriptions.Param(),
      quantities.Param(), prices.Param(), rates.Param(), line_nets.Param(), accounts.Param(),
      cost_centres.Param());
  return issued;
}

// Issuing drafts: numbers, dates and references for drafts (priced, with their buyer), in order,
// then stored as issued. A draft that cannot be issued is left a draft and reported as rejected
// (its number goes to the next one: numbers stay gapless). Issued ones are added to the totals.
// The steps are apart so that a billing run can prepare one chunk while the previous one is
// written (PrepareIssue touches no database).
struct Rejected {
  size_t index;
  absl::Status status;
};

// The last number used of each series, and where each series' numbers of this call start and end.
struct Numbering {
  std::map<std::string, int64_t> next;  // series -> last number used
  std::map<std::string, int64_t> first;
  std::map<std::string, int64_t> last;
};

// Locks the counter of each of `series` not yet in `numbering` (creating it at 0) and reads it.
void LockSeries(pqxx::work& tx, const std::string& tenant, const std::set<std::string>& series,
                Numbering* numbering) {
  for (const std::string& code : series) {
    if (numbering->next.count(code) != 0) continue;
    tx.exec_params(
        "INSERT INTO invoice_series (tenant_id, series, last_number) VALUES ($1, $2, 0)"
        " ON CONFLICT DO NOTHING",
        tenant, code);
    numbering->next[code] = tx.exec_params1(
                                  "SELECT last_number FROM invoice_series WHERE tenant_id = $1 AND"
                                  " series = $2 FOR UPDATE",
                                  tenant, code)[0]
                                .as<int64_t>();
  }
}

void WriteSeries(pqxx::work& tx, const std::string& tenant, const Numbering& numbering) {
  for (const auto& [series, number] : numbering.next) {
    tx.exec_params(
        "UPDATE invoice_series SET last_number = $3 WHERE tenant_id = $1 AND series = $2", tenant,
        series, number);
  }
}

// Drafts issued and ready to store: the changed columns as binary arrays.
struct IssuedChunk {
  BinaryArray ids{BinaryArray::kText};
  BinaryArray series{BinaryArray::kText};
  BinaryArray dates{BinaryArray::kText};
  BinaryArray dues{BinaryArray::kText};
  BinaryArray refs{BinaryArray::kText};
  BinaryArray docs{BinaryArray::kBytea};
  BinaryArray numbers{BinaryArray::kInt8};
  BinaryArray statuses{BinaryArray::kInt8};
  std::vector<Rejected> rejected;
};

// Issues `drafts` in memory. REQUIRES: every draft's series is in `numbering` (LockSeries).
std::unique_ptr<IssuedChunk> PrepareIssue(const v1::InvoicingSettings& settings,
                                          absl::CivilDay invoice_date,
                                          std::vector<v1::Invoice>& drafts, Numbering* numbering,
                                          SalesTotals* totals) {
  auto chunk = std::make_unique<IssuedChunk>();
  for (size_t i = 0; i < drafts.size(); ++i) {
    v1::Invoice& d = drafts[i];
    int64_t& number = numbering->next.at(d.series());
    absl::Status issued = ApplyIssue(settings, number + 1, invoice_date, &d);
    if (!issued.ok()) {
      chunk->rejected.push_back({i, issued});
      continue;
    }
    ++number;
    numbering->first.emplace(d.series(), number);
    numbering->last[d.series()] = number;
    totals->Add(d);
    chunk->ids.AddText(d.invoice_id());
    chunk->series.AddText(d.series());
    chunk->dates.AddText(d.invoice_date());
    chunk->dues.AddText(d.due_date());
    chunk->refs.AddText(d.reference());
    chunk->docs.AddMessage(d);
    chunk->numbers.AddInt64(d.invoice_number());
    chunk->statuses.AddInt64(d.status());
  }
  return chunk;
}

// Stores the issued drafts of `chunk`. `in_billing_run`: issued by RunBilling, so posted with
// the run's summarised entry.
absl::Status WriteIssued(pqxx::work& tx, const std::string& tenant, bool in_billing_run,
                         IssuedChunk& chunk) {
  if (chunk.ids.empty()) return absl::OkStatus();
  const int count = chunk.ids.size();
  pqxx::result updated = tx.exec_params(
      "UPDATE invoices i SET status = u.status, invoice_number = u.number,"
      " invoice_date = u.day::date, due_date = u.due::date, reference = u.ref, document = u.doc,"
      " issued_in_run = $9"
      " FROM unnest($2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::text[], $7::text[],"
      " $8::bytea[]) AS u(id, status, number, day, due, ref, doc)"
      " WHERE i.tenant_id = $1 AND i.invoice_id = u.id AND i.status = 1",
      tenant, chunk.ids.Param(), chunk.statuses.Param(), chunk.numbers.Param(), chunk.dates.Param(),
      chunk.dues.Param(), chunk.refs.Param(), chunk.docs.Param(), in_billing_run);
  if (updated.affected_rows() != static_cast<size_t>(count)) {
    return absl::AbortedError("invoices: a draft changed while it was being issued; try again");
  }
  tx.exec_params(
      "INSERT INTO invoice_keys (tenant_id, invoice_id, series, invoice_number, reference,"
      " due_date) SELECT $1, u.id, u.series, u.number, u.ref, u.due::date"
      " FROM unnest($2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[])"
      " AS u(id, series, number, ref, due)",
      tenant, chunk.ids.Param(), chunk.series.Param(), chunk.numbers.Param(), chunk.refs.Param(),
      chunk.dues.Param());
  return absl::OkStatus();
}

// All the steps for a few drafts at once (an invoice, a credit note).
absl::Status IssueDrafts(pqxx::work& tx, const std::string& tenant,
                         const v1::InvoicingSettings& settings, absl::CivilDay invoice_date,
                         std::vector<v1::Invoice>& drafts, SalesTotals* totals,
                         std::vector<Rejected>* rejected, Numbering* numbering) {
  std::set<std::string> series;
  for (const v1::Invoice& d : drafts) series.insert(d.series());
  LockSeries(tx, tenant, series, numbering);
  std::unique_ptr<IssuedChunk> chunk =
      PrepareIssue(settings, invoice_date, drafts, numbering, totals);
  WriteSeries(tx, tenant, *numbering);
  *rejected = std::move(chunk->rejected);
  return WriteIssued(tx, tenant, false, *chunk);
}

// Drafts of a billing run read for issuing: up to kBillingChunk after `after` in id order.
struct DraftChunk {
  std::vector<std::string> documents;  // hex, as read
  std::vector<v1::Invoice> drafts;     // filled by IssueChunk
  std::string last_id;
};

// Reads the next chunk and locks the counters of its series (LockSeries).
absl::StatusOr<DraftChunk> ReadDraftChunk(pqxx::work& tx, const std::string& tenant,
                                          const std::string& billing_run_id,
                                          const std::string& after, Numbering* numbering) {
  pqxx::result rows = tx.exec_params(
      "SELECT invoice_id, series, encode(document, 'hex') FROM invoices WHERE tenant_id = $1"
      " AND billing_run_id = $2 AND status = 1 AND invoice_id > $3 ORDER BY invoice_id LIMIT $4",
      tenant, billing_run_id, after, InvoicingRepository::kBillingChunk);
  DraftChunk chunk;
  std::set<std::string> series;
  chunk.documents.reserve(rows.size());
  for (const auto& r : rows) {
    series.insert(r[1].as<std::string>());
    chunk.documents.push_back(r[2].as<std::string>());
  }
  if (!rows.empty()) chunk.last_id = rows[rows.size() - 1][0].as<std::string>();
  LockSeries(tx, tenant, series, numbering);
  return chunk;
}

// Parses the chunk's drafts and issues them in memory (PrepareIssue) into `issued`. No database:
// runs beside a write of the previous chunk.
absl::Status IssueChunk(const v1::InvoicingSettings& settings, absl::CivilDay invoice_date,
                        DraftChunk& chunk, Numbering* numbering, SalesTotals* totals,
                        std::unique_ptr<IssuedChunk>* issued) {
  chunk.drafts.resize(chunk.documents.size());
  for (size_t i = 0; i < chunk.documents.size(); ++i) {
    if (!chunk.drafts[i].ParseFromString(absl::HexStringToBytes(chunk.documents[i]))) {
      return absl::InternalError("a stored invoice does not parse");
    }
  }
  chunk.documents.clear();
  *issued = PrepareIssue(settings, invoice_date, chunk.drafts, numbering, totals);
  return absl::OkStatus();
}

// Issues the drafts of the run `billed` (its id and drafts_total set), chunk by chunk in invoice
// id order; rejections into `billed`. While a chunk is written, the next one is read and then
// issued in memory on another thread: the service's work and the database's overlap.
absl::Status IssueRunDrafts(pqxx::work& tx, const std::string& tenant,
                            const v1::InvoicingSettings& settings, absl::CivilDay invoice_date,
                            const std::function<void(int64_t, int64_t)>& progress,
                            v1::BillingRun* billed, SalesTotals* totals, Numbering* numbering) {
  const std::string& run = billed->billing_run_id();
  const int64_t total = billed->drafts_total();
  // Drafts written since the planner's statistics of invoices were taken (an organisation's first
  // billing run) would have each chunk's update planned as a scan of all the tenant's invoices:
  // the statistics are taken again first.
  if (total >= InvoicingRepository::kBillingChunk &&
      static_cast<double>(total) >
          tx.exec("SELECT reltuples FROM pg_class WHERE oid = 'invoices'::regclass")[0][0]
                  .as<double>() /
              2) {
    tx.exec("SELECT invoicing_analyze_invoices()");
  }
  int64_t done = 0;
  if (progress) progress(0, total);
  ASSIGN_OR_RETURN(DraftChunk chunk, ReadDraftChunk(tx, tenant, run, "", numbering));
  std::unique_ptr<IssuedChunk> issued;
  absl::Status prepared = IssueChunk(settings, invoice_date, chunk, numbering, totals, &issued);
  while (prepared.ok() && !chunk.drafts.empty()) {
    ASSIGN_OR_RETURN(DraftChunk next, ReadDraftChunk(tx, tenant, run, chunk.last_id, numbering));
    std::unique_ptr<IssuedChunk> next_issued;
    std::future<absl::Status> next_prepared = std::async(std::launch::async, [&] {
      return IssueChunk(settings, invoice_date, next, numbering, totals, &next_issued);
    });
    absl::Status written = WriteIssued(tx, tenant, true, *issued);
    prepared = next_prepared.get();
    RETURN_IF_ERROR(written);
    for (const Rejected& r : issued->rejected) {
      billed->set_rejected(billed->rejected() + 1);
      if (billed->rejections_size() >= kMaxListedRejections) continue;
      v1::DraftRejection* rejection = billed->add_rejections();
      rejection->set_invoice_id(chunk.drafts[r.index].invoice_id());
      rejection->set_code(CodeName(r.status.code()));
      rejection->set_message(std::string(r.status.message()));
    }
    done += static_cast<int64_t>(chunk.drafts.size());
    if (progress) progress(done, total);
    chunk = std::move(next);
    issued = std::move(next_issued);
  }
  RETURN_IF_ERROR(prepared);
  WriteSeries(tx, tenant, *numbering);
  return absl::OkStatus();
}

std::string NumberRanges(const std::map<std::string, int64_t>& first,
                         const std::map<std::string, int64_t>& last) {
  std::vector<std::string> ranges;
  for (const auto& [series, from] : first) {
    const int64_t to = last.at(series);
    ranges.push_back(from == to ? FormatInvoiceNumber(series, from)
                                : absl::StrCat(FormatInvoiceNumber(series, from), "..",
                                               FormatInvoiceNumber(series, to)));
  }
  return absl::StrJoin(ranges, ", ");
}

void EnqueuePosting(pqxx::work& tx, const std::string& tenant, const std::string& key,
                    const std::string& subject, ledger::v1::EntryDraft draft) {
  ledger::v1::PostEntryRequest request;
  *request.mutable_entry() = std::move(draft);
  outbox::Enqueue(tx, tenant, {.request_id = key, .subject = subject}, std::move(request));
}

// "1 000,00 € × 9,50 % × 20/365 (2025 H2)" for each segment, joined by " + ".
std::string ExplainInterest(int64_t principal_cents, const PenaltyInterest& interest) {
  std::vector<std::string> parts;
  for (const InterestSegment& s : interest.segments) {
    parts.push_back(absl::StrFormat("%d,%02d € × %d,%02d %% × %d/365 (%s)", principal_cents / 100,
                                    principal_cents % 100, s.annual_rate_hundredths / 100,
                                    s.annual_rate_hundredths % 100, s.days,
                                    HalfYearName(s.from.year(), s.from.month() <= 6 ? 1 : 2)));
  }
  return absl::StrJoin(parts, " + ");
}

int PageSize(int requested) {
  if (requested <= 0) return kDefaultPageSize;
  return std::min(requested, kMaxPageSize);
}

}  // namespace

// --- metrics -------------------------------------------------------------------------------------

InvoicingMetrics::InvoicingMetrics(prometheus::Registry* registry) {
  if (registry == nullptr) return;
  auto& issued = prometheus::BuildCounter()
                     .Name("tahe_invoicing_invoices_issued_total")
                     .Help("Invoices and credit notes issued (single and in billing runs)")
                     .Register(*registry);
  invoices_ = &issued.Add({{"kind", "invoice"}});
  credit_notes_ = &issued.Add({{"kind", "credit_note"}});
  billing_duration_ = &prometheus::BuildHistogram()
                           .Name("tahe_invoicing_billing_run_duration_seconds")
                           .Help("Duration of RunBilling calls that issued their run")
                           .Register(*registry)
                           .Add({}, prometheus::Histogram::BucketBoundaries{
                                        0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300});
  auto& payments = prometheus::BuildCounter()
                       .Name("tahe_invoicing_payments_total")
                       .Help("Bank payments imported, by how they were matched to invoices")
                       .Register(*registry);
  matched_ = &payments.Add({{"outcome", "matched"}});
  partial_ = &payments.Add({{"outcome", "partially_allocated"}});
  unmatched_ = &payments.Add({{"outcome", "unmatched"}});
  duplicate_ = &payments.Add({{"outcome", "duplicate"}});
  reminders_ = &prometheus::BuildCounter()
                    .Name("tahe_invoicing_reminders_total")
                    .Help("Payment reminders sent by reminder rounds")
                    .Register(*registry)
                    .Add({});
}

namespace {
void Add(prometheus::Counter* counter, int64_t n) {
  if (counter != nullptr && n > 0) counter->Increment(static_cast<double>(n));
}
}  // namespace

void InvoicingMetrics::Issued(int64_t invoices, int64_t credit_notes) {
  Add(invoices_, invoices);
  Add(credit_notes_, credit_notes);
}

void InvoicingMetrics::BillingRun(absl::Duration duration) {
  if (billing_duration_ != nullptr) billing_duration_->Observe(absl::ToDoubleSeconds(duration));
}

void InvoicingMetrics::Payments(const v1::ImportPaymentsResponse& imported) {
  Add(matched_, imported.matched());
  Add(partial_, imported.partially_allocated());
  Add(unmatched_, imported.unmatched());
  Add(duplicate_, imported.duplicates());
}

void InvoicingMetrics::Reminders(int64_t sent) { Add(reminders_, sent); }

// --- construction --------------------------------------------------------------------------------

InvoicingRepository::InvoicingRepository(pg::Pool* pool, Options options)
    : pool_(pool),
      options_(std::move(options)),
      outbox_(pool,
              {.on_delivered = [](pqxx::work& tx, const outbox::Message& m, int64_t sequence) {
                // subject "invoice:<id>" or "billing:<id>"; others need no mark.
                if (m.subject.rfind("invoice:", 0) == 0) {
                  tx.exec_params(
                      "UPDATE invoices SET ledger_sequence = $3 WHERE tenant_id = $1"
                      " AND invoice_id = $2",
                      m.tenant, m.subject.substr(8), sequence);
                } else if (m.subject.rfind("billing:", 0) == 0) {
                  // The run's invoices read their sequence from here (kInvoiceColumns).
                  tx.exec_params(
                      "UPDATE billing_runs SET ledger_sequence = $3 WHERE"
                      " tenant_id = $1 AND billing_run_id = $2",
                      m.tenant, m.subject.substr(8), sequence);
                }
              }}) {}

absl::CivilDay InvoicingRepository::Today() const {
  if (options_.today) return options_.today();
  return absl::ToCivilDay(absl::Now(), absl::LocalTimeZone());
}

// --- settings, customers, products ---------------------------------------------------------------

absl::StatusOr<v1::InvoicingSettings> InvoicingRepository::SetSettings(
    const CallContext& call, const v1::SetInvoicingSettingsRequest& req) {
  RETURN_IF_ERROR(ValidateRequestId("request_id", req.request_id()));
  ASSIGN_OR_RETURN(v1::InvoicingSettings settings, NormaliseSettings(req.settings()));
  return pg::InTenantTransaction<v1::InvoicingSettings>(
      *pool_, call.tenant, Tx(call), [&](pqxx::work& tx) {
        return pg::Idempotent<v1::InvoicingSettings>(
            tx, Key(call, req.request_id()), "SetInvoicingSettings", req,
            [&]() -> absl::StatusOr<v1::InvoicingSettings> {
              tx.exec_params(
                  "INSERT INTO settings (tenant_id, settings) VALUES ($1, decode($2, 'hex'))"
                  " ON CONFLICT (tenant_id) DO UPDATE SET settings = excluded.settings,"
                  " updated_at = now()",
                  call.tenant, Hex(settings));
              return settings;
            });
      });
}

absl::StatusOr<v1::InvoicingSettings> InvoicingRepository::GetSettings(const CallContext& call) {
  return pg::InTenantTransaction<v1::InvoicingSettings>(
      *pool_, call.tenant, Tx(call, true),
      [&](pqxx::work& tx) { return LoadSettings(tx, call.tenant); });
}

absl::StatusOr<v1::Customer> InvoicingRepository::UpsertCustomer(
    const CallContext& call, const v1::UpsertCustomerRequest& req) {
  RETURN_IF_ERROR(ValidateRequestId("request_id", req.request_id()));
  ASSIGN_OR_RETURN(ValidCustomer valid, ValidateCustomer(req.customer(), options_.identity_key));
  // The fingerprint must not let anyone recover the identity code by trying every code: the
  // keyed hash stands in for the code.
  v1::UpsertCustomerRequest fingerprinted = req;
  fingerprinted.mutable_customer()->set_personal_identity_code(valid.identity_hash);
  return pg::InTenantTransaction<v1::Customer>(*pool_, call.tenant, Tx(call), [&](pqxx::work& tx) {
    return pg::Idempotent<v1::Customer>(
        tx, Key(call, req.request_id()), "UpsertCustomer", fingerprinted,
        [&]() -> absl::StatusOr<v1::Customer> {
          const v1::Customer& c = valid.customer;
          tx.exec_params(
              "INSERT INTO customers (tenant_id, customer_number, kind, name, business_id,"
              " identity_hash, details) VALUES ($1, $2, $3, $4, $5, $6, decode($7, 'hex'))"
              " ON CONFLICT (tenant_id, customer_number) DO UPDATE SET kind = excluded.kind,"
              " name = excluded.name, business_id = excluded.business_id,"
              " identity_hash = excluded.identity_hash, details = excluded.details,"
              " updated_at = now()",
              call.tenant, c.customer_number(), static_cast<int>(c.kind()), c.name(),
              c.business_id(), valid.identity_hash, Hex(c));
          return c;
        });
  });
}

absl::StatusOr<v1::Customer> InvoicingRepository::GetCustomer(const CallContext& call,
                                                              const v1::GetCustomerRequest& req) {
  RETURN_IF_ERROR(ValidateCode("customer_number", req.customer_number(), 40));
  return pg::InTenantTransaction<v1::Customer>(
      *pool_, call.tenant, Tx(call, true), [&](pqxx::work& tx) -> absl::StatusOr<v1::Customer> {
        ASSIGN_OR_RETURN(auto customers, LoadCustomers(tx, call.tenant, {req.customer_number()}));
        if (customers.empty()) {
          return absl::NotFoundError(
              absl::StrCat("customer_number: no customer \"", req.customer_number(), "\""));
        }
        return customers.begin()->second;
      });
}

absl::StatusOr<v1::ListCustomersResponse> InvoicingRepository::ListCustomers(
    const CallContext& call, const v1::ListCustomersRequest& req) {
  const int page = PageSize(req.page_size());
  return pg::InTenantTransaction<v1::ListCustomersResponse>(
      *pool_, call.tenant, Tx(call, true),
      [&](pqxx::work& tx) -> absl::StatusOr<v1::ListCustomersResponse> {
        v1::ListCustomersResponse resp;
        pqxx::result r = tx.exec_params(
            "SELECT customer_number, encode(details, 'hex') FROM customers WHERE tenant_id = $1"
            " AND customer_number > $2 ORDER BY customer_number LIMIT $3",
            call.tenant, req.page_token(), page + 1);
        for (int i = 0; i < static_cast<int>(r.size()) && i < page; ++i) {
          ASSIGN_OR_RETURN(*resp.add_customers(), FromHex<v1::Customer>(r[i][1], "customer"));
        }
        if (static_cast<int>(r.size()) > page) {
          resp.set_next_page_token(r[page - 1][0].as<std::string>());
        }
        return resp;
      });
}

absl::StatusOr<v1::Product> InvoicingRepository::UpsertProduct(
    const CallContext& call, const v1::UpsertProductRequest& req) {
  RETURN_IF_ERROR(ValidateRequestId("request_id", req.request_id()));
  ASSIGN_OR_RETURN(v1::Product product, ValidateProduct(req.product()));
  return pg::InTenantTransaction<v1::Product>(*pool_, call.tenant, Tx(call), [&](pqxx::work& tx) {
    return pg::Idempotent<v1::Product>(
        tx, Key(call, req.request_id()), "UpsertProduct", req,
        [&]() -> absl::StatusOr<v1::Product> {
          tx.exec_params(
              "INSERT INTO products (tenant_id, code, product) VALUES ($1, $2, decode($3, 'hex'))"
              " ON CONFLICT (tenant_id, code) DO UPDATE SET product = excluded.product,"
              " updated_at = now()",
              call.tenant, product.code(), Hex(product));
          return product;
        });
  });
}

absl::StatusOr<v1::ListProductsResponse> InvoicingRepository::ListProducts(
    const CallContext& call) {
  return pg::InTenantTransaction<v1::ListProductsResponse>(
      *pool_, call.tenant, Tx(call, true),
      [&](pqxx::work& tx) -> absl::StatusOr<v1::ListProductsResponse> {
        ASSIGN_OR_RETURN(auto products, LoadProducts(tx, call.tenant));
        v1::ListProductsResponse resp;
        for (auto& [code, product] : products) *resp.add_products() = std::move(product);
        return resp;
      });
}

absl::StatusOr<v1::PriceList> InvoicingRepository::SetPriceList(
    const CallContext& call, const v1::SetPriceListRequest& req) {
  RETURN_IF_ERROR(ValidateRequestId("request_id", req.request_id()));
  RETURN_IF_ERROR(ValidatePriceList(req.price_list()));
  return pg::InTenantTransaction<v1::PriceList>(*pool_, call.tenant, Tx(call), [&](pqxx::work& tx) {
    return pg::Idempotent<v1::PriceList>(
        tx, Key(call, req.request_id()), "SetPriceList", req,
        [&]() -> absl::StatusOr<v1::PriceList> {
          tx.exec_params(
              "INSERT INTO price_lists (tenant_id, name, price_list)"
              " VALUES ($1, $2, decode($3, 'hex')) ON CONFLICT (tenant_id, name) DO UPDATE SET"
              " price_list = excluded.price_list",
              call.tenant, req.price_list().name(), Hex(req.price_list()));
          return req.price_list();
        });
  });
}

// --- invoices ------------------------------------------------------------------------------------

absl::StatusOr<v1::Invoice> InvoicingRepository::CreateInvoice(
    const CallContext& call, const v1::CreateInvoiceRequest& req) {
  RETURN_IF_ERROR(ValidateRequestId("request_id", req.request_id()));
  v1::InvoiceDraftInput input = req.invoice();
  if (input.invoice_id().empty()) input.set_invoice_id(GeneratedId("inv-"));
  return pg::InTenantTransaction<v1::Invoice>(*pool_, call.tenant, Tx(call), [&](pqxx::work& tx) {
    return pg::Idempotent<v1::Invoice>(
        tx, Key(call, req.request_id()), "CreateInvoice", req,
        [&]() -> absl::StatusOr<v1::Invoice> {
          ASSIGN_OR_RETURN(PricingData data,
                           LoadPricingData(tx, call.tenant, {input.customer_number()}));
          ASSIGN_OR_RETURN(v1::Invoice draft, PriceWith(data, input, "invoice"));
          ASSIGN_OR_RETURN(std::set<std::string> issued,
                           StoreDrafts(tx, call.tenant, {&draft}, ""));
          if (!issued.empty()) {
            return absl::FailedPreconditionError(absl::StrCat(
                "invoice.invoice_id: invoice \"", draft.invoice_id(),
                "\" is already issued; issued invoices are corrected with credit notes"));
          }
          return draft;
        });
  });
}

absl::StatusOr<v1::Invoice> InvoicingRepository::DeleteDraftInvoice(
    const CallContext& call, const v1::DeleteDraftInvoiceRequest& req) {
  RETURN_IF_ERROR(ValidateRequestId("request_id", req.request_id()));
  RETURN_IF_ERROR(ValidateCode("invoice_id", req.invoice_id(), 64));
  return pg::InTenantTransaction<v1::Invoice>(*pool_, call.tenant, Tx(call), [&](pqxx::work& tx) {
    return pg::Idempotent<v1::Invoice>(
        tx, Key(call, req.request_id()), "DeleteDraftInvoice", req,
        [&]() -> absl::StatusOr<v1::Invoice> {
          ASSIGN_OR_RETURN(v1::Invoice invoice,
                           LoadInvoice(tx, call.tenant, req.invoice_id(), Today(), true));
          if (invoice.status() != v1::INVOICE_STATUS_DRAFT) {
            return absl::FailedPreconditionError(
                "invoice_id: only a draft can be deleted; issued invoices are credited");
          }
          tx.exec_params("DELETE FROM invoice_lines WHERE tenant_id = $1 AND invoice_id = $2",
                         call.tenant, req.invoice_id());
          tx.exec_params("DELETE FROM invoices WHERE tenant_id = $1 AND invoice_id = $2",
                         call.tenant, req.invoice_id());
          return invoice;
        });
  });
}

absl::StatusOr<v1::Invoice> InvoicingRepository::IssueInvoice(const CallContext& call,
                                                              const v1::IssueInvoiceRequest& req) {
  RETURN_IF_ERROR(ValidateRequestId("request_id", req.request_id()));
  RETURN_IF_ERROR(ValidateCode("invoice_id", req.invoice_id(), 64));
  absl::CivilDay invoice_date = Today();
  if (!req.invoice_date().empty()) {
    ASSIGN_OR_RETURN(invoice_date, ParseDate("invoice_date", req.invoice_date()));
  }
  bool fresh = false;
  absl::StatusOr<v1::Invoice> result =
      pg::InTenantTransaction<v1::Invoice>(*pool_, call.tenant, Tx(call), [&](pqxx::work& tx) {
        return pg::Idempotent<v1::Invoice>(
            tx, Key(call, req.request_id()), "IssueInvoice", req,
            [&]() -> absl::StatusOr<v1::Invoice> {
              ASSIGN_OR_RETURN(v1::InvoicingSettings settings, LoadSettings(tx, call.tenant));
              ASSIGN_OR_RETURN(v1::Invoice draft,
                               LoadInvoice(tx, call.tenant, req.invoice_id(), Today(), true));
              if (draft.status() != v1::INVOICE_STATUS_DRAFT) {
                return absl::FailedPreconditionError(
                    absl::StrCat("invoice_id: invoice \"", req.invoice_id(),
                                 "\" is already issued as ", draft.display_number()));
              }
              // The buyer as of issuing.
              ASSIGN_OR_RETURN(auto customers,
                               LoadCustomers(tx, call.tenant, {draft.customer_number()}));
              *draft.mutable_buyer() = customers.at(draft.customer_number());
              std::vector<v1::Invoice> drafts{std::move(draft)};
              SalesTotals totals;
              std::vector<Rejected> rejected;
              Numbering numbering;
              RETURN_IF_ERROR(IssueDrafts(tx, call.tenant, settings, invoice_date, drafts, &totals,
                                          &rejected, &numbering));
              if (!rejected.empty()) return rejected.front().status;
              const v1::Invoice& issued = drafts.front();
              ASSIGN_OR_RETURN(ledger::v1::EntryDraft posting,
                               BuildSalesPosting(settings.accounts(), totals,
                                                 {.entry_date = issued.invoice_date(),
                                                  .description = absl::StrCat(
                                                      "Myyntilasku ", issued.display_number()),
                                                  .reference = issued.display_number()}));
              EnqueuePosting(tx, call.tenant, PostingKey(call, "invoice", issued.invoice_id()),
                             absl::StrCat("invoice:", issued.invoice_id()), std::move(posting));
              fresh = true;
              return issued;
            });
      });
  if (result.ok() && fresh && options_.metrics != nullptr) {
    options_.metrics->Issued(1, 0);
  }
  return result;
}

absl::StatusOr<v1::Invoice> InvoicingRepository::CreateCreditNote(
    const CallContext& call, const v1::CreateCreditNoteRequest& req) {
  RETURN_IF_ERROR(ValidateRequestId("request_id", req.request_id()));
  RETURN_IF_ERROR(ValidateCode("invoice_id", req.invoice_id(), 64));
  absl::CivilDay invoice_date = Today();
  if (!req.invoice_date().empty()) {
    ASSIGN_OR_RETURN(invoice_date, ParseDate("invoice_date", req.invoice_date()));
  }
  bool fresh = false;
  absl::StatusOr<v1::Invoice> result =
      pg::InTenantTransaction<v1::Invoice>(*pool_, call.tenant, Tx(call), [&](pqxx::work& tx) {
        return pg::Idempotent<v1::Invoice>(
            tx, Key(call, req.request_id()), "CreateCreditNote", req,
            [&]() -> absl::StatusOr<v1::Invoice> {
              ASSIGN_OR_RETURN(v1::InvoicingSettings settings, LoadSettings(tx, call.tenant));
              ASSIGN_OR_RETURN(v1::Invoice original,
                               LoadInvoice(tx, call.tenant, req.invoice_id(), Today(), true));
              ASSIGN_OR_RETURN(
                  v1::Invoice note,
                  CreditNoteDraft(original, {req.line_numbers().begin(), req.line_numbers().end()},
                                  GeneratedId("cn-"), req.text()));
              // At most what is still uncredited of the invoice.
              if (original.credited_cents() - note.gross_cents() > original.gross_cents()) {
                return absl::FailedPreconditionError(absl::StrCat(
                    "invoice_id: crediting ", -note.gross_cents(),
                    " cents would credit more than the", " invoice's ",
                    original.gross_cents() - original.credited_cents(), " cents left uncredited"));
              }
              ASSIGN_OR_RETURN(std::set<std::string> clash,
                               StoreDrafts(tx, call.tenant, {&note}, ""));
              if (!clash.empty()) return absl::AbortedError("credit note id taken; try again");
              std::vector<v1::Invoice> drafts{std::move(note)};
              SalesTotals totals;
              std::vector<Rejected> rejected;
              Numbering numbering;
              RETURN_IF_ERROR(IssueDrafts(tx, call.tenant, settings, invoice_date, drafts, &totals,
                                          &rejected, &numbering));
              if (!rejected.empty()) return rejected.front().status;
              const v1::Invoice& issued = drafts.front();
              tx.exec_params(
                  absl::StrCat("UPDATE invoices SET credited_cents = credited_cents + $3,"
                               " status = CASE WHEN ",
                               kOpenAmount, " - $3 <= 0 THEN ",
                               static_cast<int>(v1::INVOICE_STATUS_CREDITED),
                               " ELSE status END WHERE tenant_id = $1 AND invoice_id = $2"),
                  call.tenant, original.invoice_id(), -issued.gross_cents());
              ASSIGN_OR_RETURN(ledger::v1::EntryDraft posting,
                               BuildSalesPosting(settings.accounts(), totals,
                                                 {.entry_date = issued.invoice_date(),
                                                  .description = absl::StrCat(
                                                      "Hyvityslasku ", issued.display_number(),
                                                      " (", original.display_number(), ")"),
                                                  .reference = issued.display_number()}));
              EnqueuePosting(tx, call.tenant, PostingKey(call, "invoice", issued.invoice_id()),
                             absl::StrCat("invoice:", issued.invoice_id()), std::move(posting));
              fresh = true;
              return issued;
            });
      });
  if (result.ok() && fresh && options_.metrics != nullptr) {
    options_.metrics->Issued(0, 1);
  }
  return result;
}

absl::StatusOr<v1::Invoice> InvoicingRepository::GetInvoice(const CallContext& call,
                                                            const v1::GetInvoiceRequest& req) {
  RETURN_IF_ERROR(ValidateCode("invoice_id", req.invoice_id(), 64));
  return pg::InTenantTransaction<v1::Invoice>(
      *pool_, call.tenant, Tx(call, true), [&](pqxx::work& tx) {
        return LoadInvoice(tx, call.tenant, req.invoice_id(), Today(), false);
      });
}

absl::StatusOr<InvoicingRepository::Renderable> InvoicingRepository::GetRenderable(
    const CallContext& call, const std::string& invoice_id) {
  RETURN_IF_ERROR(ValidateCode("invoice_id", invoice_id, 64));
  return pg::InTenantTransaction<Renderable>(
      *pool_, call.tenant, Tx(call, true), [&](pqxx::work& tx) -> absl::StatusOr<Renderable> {
        Renderable out;
        ASSIGN_OR_RETURN(out.invoice, LoadInvoice(tx, call.tenant, invoice_id, Today(), false));
        if (out.invoice.invoice_number() == 0) {
          return absl::FailedPreconditionError("invoice_id: a draft is rendered once issued");
        }
        ASSIGN_OR_RETURN(out.settings, LoadSettings(tx, call.tenant));
        return out;
      });
}

absl::StatusOr<v1::ListInvoicesResponse> InvoicingRepository::ListInvoices(
    const CallContext& call, const v1::ListInvoicesRequest& req) {
  if (!req.customer_number().empty()) {
    RETURN_IF_ERROR(ValidateCode("customer_number", req.customer_number(), 40));
  }
  if (!req.due_from().empty()) RETURN_IF_ERROR(ParseDate("due_from", req.due_from()).status());
  if (!req.due_to().empty()) RETURN_IF_ERROR(ParseDate("due_to", req.due_to()).status());
  const std::string today = FormatDate(Today());
  // Statuses as stored, and whether OVERDUE (issued or partly paid past due) is asked for.
  std::vector<int64_t> stored;
  bool overdue = false;
  for (int s : req.statuses()) {
    if (s == v1::INVOICE_STATUS_OVERDUE) {
      overdue = true;
    } else if (s >= kDraft && s <= v1::INVOICE_STATUS_CREDITED) {
      stored.push_back(s);
    } else {
      return InvalidField("statuses", absl::StrCat("unknown status ", s));
    }
  }
  const int page = PageSize(req.page_size());
  return pg::InTenantTransaction<v1::ListInvoicesResponse>(
      *pool_, call.tenant, Tx(call, true),
      [&](pqxx::work& tx) -> absl::StatusOr<v1::ListInvoicesResponse> {
        // Without statuses $7 and $8 still need a type for PostgreSQL.
        std::string status_filter = "($7::smallint[] IS NOT NULL AND $8::date IS NOT NULL)";
        if (!req.statuses().empty()) {
          // Stored ISSUED/PARTIALLY_PAID rows past due read as OVERDUE, so they match only that.
          status_filter = absl::StrCat(
              "((status = ANY($7::smallint[]) AND NOT (status IN (2, 3) AND due_date < $8::date))",
              overdue ? " OR (status IN (2, 3) AND due_date < $8::date)" : "", ")");
        }
        pqxx::result r = tx.exec_params(
            absl::StrCat("SELECT ", kInvoiceColumns,
                         " FROM invoices WHERE tenant_id = $1 AND invoice_id > $2"
                         " AND ($3 = '' OR customer_number = $3)"
                         " AND ($4 = '' OR due_date >= nullif($4, '')::date)"
                         " AND ($5 = '' OR due_date <= nullif($5, '')::date)"
                         " AND ($6 = '' OR billing_run_id = $6) AND ",
                         status_filter, " ORDER BY invoice_id LIMIT $9"),
            call.tenant, req.page_token(), req.customer_number(), req.due_from(), req.due_to(),
            req.billing_run_id(), pg::Int64Array(stored), today, page + 1);
        v1::ListInvoicesResponse resp;
        const absl::CivilDay day = Today();
        for (int i = 0; i < static_cast<int>(r.size()) && i < page; ++i) {
          ASSIGN_OR_RETURN(*resp.add_invoices(), InvoiceFromRow(r[i], day));
        }
        if (static_cast<int>(r.size()) > page) {
          resp.set_next_page_token(r[page - 1][9].as<std::string>());
        }
        return resp;
      });
}

// --- billing runs --------------------------------------------------------------------------------

absl::StatusOr<v1::ImportDraftInvoicesResponse> InvoicingRepository::ImportDraftsBatch(
    const CallContext& call, const v1::ImportDraftInvoicesRequest& req, int batch) {
  RETURN_IF_ERROR(ValidateRequestId("request_id", req.request_id()));
  RETURN_IF_ERROR(ValidateCode("billing_run_id", req.billing_run_id(), 64));
  if (req.invoices_size() > kMaxDraftsPerBatch) {
    return InvalidField("invoices", absl::StrCat("more than ", kMaxDraftsPerBatch,
                                                 " drafts in one batch; send more batches"));
  }
  return pg::InTenantTransaction<v1::ImportDraftInvoicesResponse>(
      *pool_, call.tenant, Tx(call), [&](pqxx::work& tx) {
        return pg::Idempotent<v1::ImportDraftInvoicesResponse>(
            tx, Key(call, req.request_id()), "ImportDraftInvoices", req,
            [&]() -> absl::StatusOr<v1::ImportDraftInvoicesResponse> {
              pqxx::result run = tx.exec_params(
                  "INSERT INTO billing_runs (tenant_id, billing_run_id, status, run)"
                  " VALUES ($1, $2, $3, decode($4, 'hex')) ON CONFLICT (tenant_id, billing_run_id)"
                  " DO UPDATE SET updated_at = now() RETURNING status",
                  call.tenant, req.billing_run_id(), static_cast<int>(v1::BILLING_RUN_STATUS_OPEN),
                  [&] {
                    v1::BillingRun fresh;
                    fresh.set_billing_run_id(req.billing_run_id());
                    fresh.set_status(v1::BILLING_RUN_STATUS_OPEN);
                    return Hex(fresh);
                  }());
              if (run[0][0].as<int>() == v1::BILLING_RUN_STATUS_DONE) {
                return absl::FailedPreconditionError(
                    absl::StrCat("billing_run_id: billing run \"", req.billing_run_id(),
                                 "\" has been run; start another"));
              }
              std::vector<std::string> numbers;
              for (const v1::InvoiceDraftInput& d : req.invoices()) {
                numbers.push_back(d.customer_number());
              }
              ASSIGN_OR_RETURN(PricingData data, LoadPricingData(tx, call.tenant, numbers));
              v1::ImportDraftInvoicesResponse resp;
              std::vector<v1::Invoice> drafts;
              drafts.reserve(req.invoices_size());
              for (int i = 0; i < req.invoices_size(); ++i) {
                v1::InvoiceDraftInput input = req.invoices(i);
                if (input.invoice_id().empty()) {
                  input.set_invoice_id(
                      absl::StrCat(req.billing_run_id().substr(0, 40), ":", GeneratedId("")));
                }
                absl::StatusOr<v1::Invoice> draft =
                    PriceWith(data, input, absl::StrCat("invoices[", i, "]"));
                if (!draft.ok()) {
                  v1::DraftRejection* rejection = resp.add_rejections();
                  rejection->set_batch(batch);
                  rejection->set_index(i);
                  rejection->set_invoice_id(req.invoices(i).invoice_id());
                  rejection->set_code(CodeName(draft.status().code()));
                  rejection->set_message(std::string(draft.status().message()));
                  continue;
                }
                draft->set_billing_run_id(req.billing_run_id());
                drafts.push_back(*std::move(draft));
              }
              std::vector<const v1::Invoice*> pointers;
              for (const v1::Invoice& d : drafts) pointers.push_back(&d);
              ASSIGN_OR_RETURN(std::set<std::string> issued,
                               StoreDrafts(tx, call.tenant, pointers, req.billing_run_id()));
              for (const v1::Invoice& d : drafts) {
                if (issued.count(d.invoice_id()) == 0) continue;
                v1::DraftRejection* rejection = resp.add_rejections();
                rejection->set_batch(batch);
                rejection->set_invoice_id(d.invoice_id());
                rejection->set_code("FAILED_PRECONDITION");
                rejection->set_message(
                    absl::StrCat("invoice \"", d.invoice_id(), "\" is already issued"));
              }
              resp.set_accepted(static_cast<int64_t>(drafts.size() - issued.size()));
              return resp;
            });
      });
}

absl::StatusOr<v1::BillingRun> InvoicingRepository::RunBilling(
    const CallContext& call, const v1::RunBillingRequest& req,
    const std::function<void(int64_t, int64_t)>& progress) {
  RETURN_IF_ERROR(ValidateRequestId("request_id", req.request_id()));
  RETURN_IF_ERROR(ValidateCode("billing_run_id", req.billing_run_id(), 64));
  absl::CivilDay invoice_date = Today();
  if (!req.invoice_date().empty()) {
    ASSIGN_OR_RETURN(invoice_date, ParseDate("invoice_date", req.invoice_date()));
  }
  const absl::Time start = absl::Now();
  bool fresh = false;
  absl::StatusOr<v1::BillingRun> result =
      pg::InTenantTransaction<v1::BillingRun>(*pool_, call.tenant, Tx(call), [&](pqxx::work& tx) {
        return pg::Idempotent<v1::BillingRun>(
            tx, Key(call, req.request_id()), "RunBilling", req,
            [&]() -> absl::StatusOr<v1::BillingRun> {
              pqxx::result row = tx.exec_params(
                  "SELECT status FROM billing_runs WHERE tenant_id = $1 AND billing_run_id = $2"
                  " FOR UPDATE",
                  call.tenant, req.billing_run_id());
              if (row.empty()) {
                return absl::NotFoundError(
                    absl::StrCat("billing_run_id: no billing run \"", req.billing_run_id(), "\""));
              }
              if (row[0][0].as<int>() == v1::BILLING_RUN_STATUS_DONE) {
                return absl::FailedPreconditionError(absl::StrCat(
                    "billing_run_id: billing run \"", req.billing_run_id(), "\" has been run"));
              }
              ASSIGN_OR_RETURN(v1::InvoicingSettings settings, LoadSettings(tx, call.tenant));
              const int64_t total = tx.exec_params1(
                                          "SELECT count(*) FROM invoices WHERE tenant_id = $1 AND"
                                          " billing_run_id = $2 AND status = 1",
                                          call.tenant, req.billing_run_id())[0]
                                        .as<int64_t>();
              v1::BillingRun billed;
              billed.set_billing_run_id(req.billing_run_id());
              billed.set_invoice_date(FormatDate(invoice_date));
              billed.set_drafts_total(total);
              SalesTotals totals;
              Numbering numbering;
              RETURN_IF_ERROR(IssueRunDrafts(tx, call.tenant, settings, invoice_date, progress,
                                             &billed, &totals, &numbering));
              billed.set_issued(totals.invoices);
              billed.set_gross_cents(totals.gross_cents);
              billed.set_numbers(NumberRanges(numbering.first, numbering.last));
              billed.set_status(v1::BILLING_RUN_STATUS_DONE);
              if (totals.invoices > 0) {
                ASSIGN_OR_RETURN(ledger::v1::EntryDraft posting,
                                 BuildSalesPosting(settings.accounts(), totals,
                                                   {.entry_date = FormatDate(invoice_date),
                                                    .description = absl::StrCat(
                                                        "Laskutusajo ", req.billing_run_id(), ": ",
                                                        totals.invoices, " laskua"),
                                                    .reference = req.billing_run_id()}));
                EnqueuePosting(tx, call.tenant, PostingKey(call, "billing", req.billing_run_id()),
                               absl::StrCat("billing:", req.billing_run_id()), std::move(posting));
              }
              tx.exec_params(
                  "UPDATE billing_runs SET status = $3, run = decode($4, 'hex'), updated_at = now()"
                  " WHERE tenant_id = $1 AND billing_run_id = $2",
                  call.tenant, req.billing_run_id(), static_cast<int>(billed.status()),
                  Hex(billed));
              fresh = true;
              return billed;
            });
      });
  if (result.ok() && fresh && options_.metrics != nullptr) {
    options_.metrics->Issued(result->issued(), 0);
    options_.metrics->BillingRun(absl::Now() - start);
  }
  return result;
}

absl::StatusOr<v1::BillingRun> InvoicingRepository::GetBillingRun(
    const CallContext& call, const v1::GetBillingRunRequest& req) {
  RETURN_IF_ERROR(ValidateCode("billing_run_id", req.billing_run_id(), 64));
  return pg::InTenantTransaction<v1::BillingRun>(
      *pool_, call.tenant, Tx(call, true), [&](pqxx::work& tx) -> absl::StatusOr<v1::BillingRun> {
        pqxx::result r = tx.exec_params(
            "SELECT encode(run, 'hex'), coalesce(ledger_sequence, 0)"
            " FROM billing_runs WHERE tenant_id = $1 AND billing_run_id = $2",
            call.tenant, req.billing_run_id());
        if (r.empty()) {
          return absl::NotFoundError(
              absl::StrCat("billing_run_id: no billing run \"", req.billing_run_id(), "\""));
        }
        ASSIGN_OR_RETURN(v1::BillingRun run, FromHex<v1::BillingRun>(r[0][0], "billing run"));
        run.set_posted(r[0][1].as<int64_t>() > 0);
        // Only an open run's drafts are counted: once it has run, the count is in the run.
        if (run.status() == v1::BILLING_RUN_STATUS_OPEN) {
          run.set_drafts_total(tx.exec_params1("SELECT count(*) FROM invoices WHERE tenant_id = $1"
                                               " AND billing_run_id = $2 AND status = 1",
                                               call.tenant, req.billing_run_id())[0]
                                   .as<int64_t>());
        }
        return run;
      });
}

// --- payments ------------------------------------------------------------------------------------

namespace {

// A transaction of the file to import as a payment.
struct IncomingPayment {
  // The transaction's place among those the file's reader handed out.
  int64_t ordinal = 0;
  std::string payment_id;
  std::string transaction_key;
  int64_t amount_cents = 0;
  std::string booking_date;
  std::string value_date;
  // National reference digits when the file's reference is a valid national or RF reference;
  // else as written (it will match nothing).
  std::string reference;
  std::string payer_name;
};

// A payment's id: a hash of its transaction key ("pay-" and 96 bits of SHA-256), so that the key
// needs no index of its own.
std::string PaymentIdOf(const std::string& transaction_key) {
  return absl::StrCat("pay-", pg::Sha256Hex(transaction_key).substr(0, 24));
}

std::string MatchableReference(const std::string& raw) {
  if (fi::IsValidRfReference(raw)) {
    absl::StatusOr<std::string> national = fi::NationalReferenceOfRf(raw);
    if (national.ok()) return *national;
  }
  absl::StatusOr<std::string> national = fi::ParseNationalReference("reference", raw);
  return national.ok() ? *national : raw;
}

// Open invoices by national reference: their id and what is open of each.
using OpenInvoices = absl::flat_hash_map<std::string, std::pair<std::string, int64_t>>;

// How an import's new payments go to the open invoices: in the file's order, each up to what is
// open of the invoice its reference names.
struct PaymentAllocation {
  // Per payment, in order.
  std::vector<int> statuses;
  std::vector<int64_t> allocated;
  // The allocations: payment, invoice, amount.
  BinaryArray alloc_payments{BinaryArray::kText};
  BinaryArray alloc_invoices{BinaryArray::kText};
  BinaryArray alloc_amounts{BinaryArray::kInt8};
  // What each invoice receives, in all.
  std::vector<std::pair<std::string, int64_t>> paid;
  int64_t received = 0;
  int64_t allocated_total = 0;
  std::string entry_date;  // the latest booking date
};

// Allocates `payments` (new, each once) against `open` (used up), and counts the outcomes into
// `resp`.
PaymentAllocation AllocatePayments(const std::vector<const IncomingPayment*>& payments,
                                   OpenInvoices& open, v1::ImportPaymentsResponse* resp) {
  PaymentAllocation a;
  absl::flat_hash_map<std::string, size_t> paid_at;  // invoice id -> index in a.paid
  for (const IncomingPayment* p : payments) {
    a.received += p->amount_cents;
    a.entry_date = std::max(a.entry_date, p->booking_date);
    int64_t take = 0;
    auto it = open.find(p->reference);
    if (it != open.end() && it->second.second > 0) {
      take = std::min(p->amount_cents, it->second.second);
      it->second.second -= take;
      a.alloc_payments.AddText(p->payment_id);
      a.alloc_invoices.AddText(it->second.first);
      a.alloc_amounts.AddInt64(take);
      auto [at, added] = paid_at.try_emplace(it->second.first, a.paid.size());
      if (added) a.paid.emplace_back(it->second.first, 0);
      a.paid[at->second].second += take;
    }
    a.allocated_total += take;
    const int status = take == p->amount_cents ? v1::PAYMENT_STATUS_MATCHED
                       : take > 0              ? v1::PAYMENT_STATUS_PARTIALLY_ALLOCATED
                                               : v1::PAYMENT_STATUS_UNMATCHED;
    if (status == v1::PAYMENT_STATUS_MATCHED) {
      resp->set_matched(resp->matched() + 1);
      resp->set_matched_cents(resp->matched_cents() + take);
    } else if (status == v1::PAYMENT_STATUS_PARTIALLY_ALLOCATED) {
      resp->set_partially_allocated(resp->partially_allocated() + 1);
      resp->set_matched_cents(resp->matched_cents() + take);
      resp->set_unmatched_cents(resp->unmatched_cents() + p->amount_cents - take);
    } else {
      resp->set_unmatched(resp->unmatched() + 1);
      resp->set_unmatched_cents(resp->unmatched_cents() + p->amount_cents);
    }
    a.statuses.push_back(status);
    a.allocated.push_back(take);
  }
  return a;
}

}  // namespace

namespace {

// The payments matched and written so far by one import's transaction.
struct PaymentWriter {
  // Open invoices by reference, as what is left of them after the payments written so far; the
  // references looked up (also those that name no open invoice).
  OpenInvoices open;
  absl::flat_hash_set<std::string> looked_up;
  // Payment ids of the file seen so far: a transaction repeated in the file counts once.
  absl::flat_hash_set<std::string> seen;
  // Counts of what was written (matched, partially allocated, unmatched and their cents).
  v1::ImportPaymentsResponse counts;
  int64_t written = 0;
  int64_t received = 0;
  int64_t allocated = 0;
  std::string entry_date;
};

// Matches `batch` (payments of the file, in order) against the open invoices their references
// name and writes the new ones, each with its final status, their allocations and what the
// invoices received. The invoices are locked (FOR UPDATE) until the transaction ends, so that a
// concurrent import cannot allocate the same open amount.
absl::Status WritePaymentBatch(pqxx::work& tx, const std::string& tenant,
                               const std::string& message_id,
                               const std::vector<const IncomingPayment*>& batch, PaymentWriter& w) {
  // The transactions imported before are duplicates (payment_id is a hash of transaction_key).
  BinaryArray ids(BinaryArray::kText);
  for (const IncomingPayment* p : batch) ids.AddText(p->payment_id);
  absl::flat_hash_map<std::string, std::string> stored;  // payment id -> transaction key
  for (const auto& r :
       tx.exec_params("SELECT payment_id, transaction_key FROM payments WHERE tenant_id = $1 AND"
                      " payment_id = ANY($2::text[])",
                      tenant, ids.Param())) {
    stored.emplace(r[0].as<std::string>(), r[1].as<std::string>());
  }
  std::vector<const IncomingPayment*> new_payments;
  new_payments.reserve(batch.size());
  for (const IncomingPayment* p : batch) {
    auto it = stored.find(p->payment_id);
    if (it != stored.end() && it->second != p->transaction_key) {
      // 96 bits of SHA-256 alike for two keys: never expected, and never taken for a duplicate.
      return absl::InternalError(
          absl::StrCat("payment id ", p->payment_id, " is already another transaction's"));
    }
    if (it == stored.end() && w.seen.insert(p->payment_id).second) new_payments.push_back(p);
  }
  if (new_payments.empty()) return absl::OkStatus();

  // The open invoices the batch's new references name, with what is open of each. (By id, in a
  // statement of its own: see MaybeOpenInvoices.)
  BinaryArray wanted(BinaryArray::kText);
  for (const IncomingPayment* p : new_payments) {
    if (!p->reference.empty() && w.looked_up.insert(p->reference).second) {
      wanted.AddText(p->reference);
    }
  }
  if (!wanted.empty()) {
    absl::flat_hash_map<std::string, std::string> reference_of;  // invoice id ->
    BinaryArray named(BinaryArray::kText);
    for (const auto& r :
         tx.exec_params("SELECT invoice_id, reference FROM invoice_keys WHERE tenant_id = $1 AND"
                        " reference = ANY($2::text[]) ORDER BY invoice_id",
                        tenant, wanted.Param())) {
      reference_of[r[0].as<std::string>()] = r[1].as<std::string>();
      named.AddText(r[0].c_str());
    }
    if (!named.empty()) {
      for (const auto& r :
           tx.exec_params(absl::StrCat("SELECT invoice_id, ", kOpenAmount,
                                       " FROM invoices WHERE tenant_id = $1 AND kind = 1 AND"
                                       " invoice_id = ANY($2::text[]) FOR UPDATE"),
                          tenant, named.Param())) {
        std::string id = r[0].as<std::string>();
        const std::string& reference = reference_of.at(id);
        w.open[reference] = {std::move(id), r[1].as<int64_t>()};
      }
    }
  }
  // What is open of the invoices this batch names, used up by a copy: if the insert finds that
  // another import has just taken some of these transactions, the rest are allocated again.
  OpenInvoices batch_open;
  for (const IncomingPayment* p : new_payments) {
    auto it = w.open.find(p->reference);
    if (it != w.open.end()) batch_open.insert(*it);
  }
  OpenInvoices left = batch_open;
  v1::ImportPaymentsResponse counts;
  PaymentAllocation allocation = AllocatePayments(new_payments, left, &counts);
  BinaryArray new_ids(BinaryArray::kText), new_keys(BinaryArray::kText),
      bookings(BinaryArray::kText), values(BinaryArray::kText), refs(BinaryArray::kText),
      payers(BinaryArray::kText), amounts(BinaryArray::kInt8), statuses(BinaryArray::kInt8),
      allocated(BinaryArray::kInt8);
  for (size_t i = 0; i < new_payments.size(); ++i) {
    const IncomingPayment& p = *new_payments[i];
    new_ids.AddText(p.payment_id);
    new_keys.AddText(p.transaction_key);
    bookings.AddText(p.booking_date);
    values.AddText(p.value_date);
    refs.AddText(p.reference);
    payers.AddText(p.payer_name);
    amounts.AddInt64(p.amount_cents);
    statuses.AddInt64(allocation.statuses[i]);
    allocated.AddInt64(allocation.allocated[i]);
  }
  // In primary key order: the ids are hashes, and sorted they fill the index's pages one after
  // another instead of at random.
  const std::string insert =
      "INSERT INTO payments (tenant_id, payment_id, transaction_key, status,"
      " amount_cents, allocated_cents, booking_date, value_date, reference,"
      " payer_name, message_id)"
      " SELECT $1, u.id, u.key, u.status, u.amount, u.allocated, u.booking::date,"
      " nullif(u.value, '')::date, u.ref, u.payer, $11"
      " FROM unnest($2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[],"
      " $7::text[], $8::text[], $9::text[], $10::text[])"
      " AS u(id, key, status, amount, allocated, booking, value, ref, payer)"
      " ORDER BY u.id";
  auto insert_payments = [&](const std::string& sql) {
    return tx.exec_params(sql, tenant, new_ids.Param(), new_keys.Param(), statuses.Param(),
                          amounts.Param(), allocated.Param(), bookings.Param(), values.Param(),
                          refs.Param(), payers.Param(), message_id);
  };
  // A plain insert, unless another import has just taken some of these transactions: then the
  // insert that skips them (it waits for that import's end, so that what it wrote is known).
  const pqxx::result inserted = InsertOrElse(
      tx, [&] { return insert_payments(absl::StrCat(insert, " RETURNING payment_id")); },
      [&] {
        return insert_payments(absl::StrCat(insert,
                                            " ON CONFLICT (tenant_id, payment_id) DO NOTHING"
                                            " RETURNING payment_id"));
      });
  if (inserted.size() != new_payments.size()) {
    // Another import committed some of these transactions after they were looked up: those are
    // duplicates too, and the rest are allocated again without them.
    absl::flat_hash_set<std::string> inserted_ids;
    for (const auto& r : inserted) inserted_ids.insert(r[0].as<std::string>());
    std::vector<const IncomingPayment*> written;
    for (const IncomingPayment* p : new_payments) {
      if (inserted_ids.contains(p->payment_id)) written.push_back(p);
    }
    new_payments = std::move(written);
    left = batch_open;
    counts.Clear();
    allocation = AllocatePayments(new_payments, left, &counts);
    BinaryArray written_ids(BinaryArray::kText), written_statuses(BinaryArray::kInt8),
        written_allocated(BinaryArray::kInt8);
    for (size_t i = 0; i < new_payments.size(); ++i) {
      written_ids.AddText(new_payments[i]->payment_id);
      written_statuses.AddInt64(allocation.statuses[i]);
      written_allocated.AddInt64(allocation.allocated[i]);
    }
    if (!new_payments.empty()) {
      tx.exec_params(
          "UPDATE payments p SET status = u.status, allocated_cents = u.allocated"
          " FROM unnest($2::text[], $3::bigint[], $4::bigint[])"
          " AS u(id, status, allocated) WHERE p.tenant_id = $1 AND p.payment_id = u.id",
          tenant, written_ids.Param(), written_statuses.Param(), written_allocated.Param());
    }
  }
  for (auto& [reference, invoice] : left) w.open[reference] = std::move(invoice);
  if (new_payments.empty()) return absl::OkStatus();
  if (!allocation.alloc_payments.empty()) {
    tx.exec_params(
        "INSERT INTO payment_allocations (tenant_id, payment_id, invoice_id,"
        " amount_cents) SELECT $1, * FROM unnest($2::text[], $3::text[], $4::bigint[])"
        " AS u(payment, invoice, amount) ORDER BY u.payment",
        tenant, allocation.alloc_payments.Param(), allocation.alloc_invoices.Param(),
        allocation.alloc_amounts.Param());
    BinaryArray paid_ids(BinaryArray::kText), paid_amounts(BinaryArray::kInt8);
    for (const auto& [invoice_id, amount] : allocation.paid) {
      paid_ids.AddText(invoice_id);
      paid_amounts.AddInt64(amount);
    }
    tx.exec_params(
        absl::StrCat("UPDATE invoices i SET paid_cents = i.paid_cents + u.amount,"
                     " status = CASE WHEN i.gross_cents + i.fees_cents + i.interest_cents -"
                     " i.paid_cents - u.amount - i.credited_cents <= 0 THEN ",
                     kPaid, " WHEN i.status = ", kReminded, " THEN ", kReminded, " ELSE ",
                     kPartiallyPaid,
                     " END FROM unnest($2::text[], $3::bigint[]) AS u(invoice, amount)"
                     " WHERE i.tenant_id = $1 AND i.invoice_id = u.invoice"),
        tenant, paid_ids.Param(), paid_amounts.Param());
  }
  w.written += static_cast<int64_t>(new_payments.size());
  w.received += allocation.received;
  w.allocated += allocation.allocated_total;
  w.entry_date = std::max(w.entry_date, allocation.entry_date);
  w.counts.set_matched(w.counts.matched() + counts.matched());
  w.counts.set_partially_allocated(w.counts.partially_allocated() + counts.partially_allocated());
  w.counts.set_unmatched(w.counts.unmatched() + counts.unmatched());
  w.counts.set_matched_cents(w.counts.matched_cents() + counts.matched_cents());
  w.counts.set_unmatched_cents(w.counts.unmatched_cents() + counts.unmatched_cents());
  return absl::OkStatus();
}

}  // namespace

// The import's two sides: the call's thread adds chunks (parsed, turned into payments) and the
// writer thread matches and writes the payments in one transaction. They share `payments` and
// the input's end under `mu`.
struct InvoicingRepository::PaymentImport::State {
  // Payments read are handed to the writer once this many wait (or the file has ended), and at
  // most this many at a time, so that the last batch, written after the file's end, stays short.
  static constexpr size_t kMinBatch = 2000;
  static constexpr size_t kMaxBatch = 10000;

  State(InvoicingRepository* repository, CallContext call, std::string request_id)
      : repository(repository),
        call(std::move(call)),
        request_id(std::move(request_id)),
        reader(kMaxPaymentFileBytes),
        sha256(EVP_MD_CTX_new()) {
    EVP_DigestInit_ex(sha256, EVP_sha256(), nullptr);
    today = FormatDate(repository->Today());
  }
  ~State() {
    {
      absl::MutexLock lock(&mu);
      if (!ended) {
        ended = true;
        cancelled = true;
      }
    }
    if (writer.joinable()) writer.join();
    EVP_MD_CTX_free(sha256);
  }

  bool BatchReady() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return ended || payments.size() - writer_next >= kMinBatch;
  }
  // The reader's entries as payments, for the writer.
  void TakeEntries();
  // The writer thread's transaction.
  absl::StatusOr<v1::ImportPaymentsResponse> Write(bool* fresh);
  absl::StatusOr<v1::ImportPaymentsResponse> WriteIn(pqxx::work& tx, bool* fresh);

  InvoicingRepository* const repository;
  const CallContext call;
  const std::string request_id;
  std::string today;

  // The call's side.
  Camt054Reader reader;
  EVP_MD_CTX* const sha256;
  size_t bytes = 0;
  int64_t transactions = 0;  // handed out by the reader
  int64_t skipped = 0;
  std::thread writer;

  absl::Mutex mu;
  // Every importable payment read, in file order (a deque: the writer holds pointers to them
  // while more are added).
  std::deque<IncomingPayment> payments ABSL_GUARDED_BY(mu);
  size_t writer_next ABSL_GUARDED_BY(mu) = 0;  // the first payment the writer has not taken
  bool ended ABSL_GUARDED_BY(mu) = false;      // the file (or the call) has ended
  bool cancelled ABSL_GUARDED_BY(mu) = false;
  absl::Status input ABSL_GUARDED_BY(mu);  // the file's verdict, set when ended
  std::string message_id ABSL_GUARDED_BY(mu);
  std::string fingerprint ABSL_GUARDED_BY(mu);
  int64_t final_transactions ABSL_GUARDED_BY(mu) = 0;
  int64_t final_skipped ABSL_GUARDED_BY(mu) = 0;
  std::optional<std::vector<std::string>> final_keys ABSL_GUARDED_BY(mu);
  // The writer's result, set when it is done.
  bool written ABSL_GUARDED_BY(mu) = false;
  absl::StatusOr<v1::ImportPaymentsResponse> result ABSL_GUARDED_BY(mu);
};

void InvoicingRepository::PaymentImport::State::TakeEntries() {
  std::vector<Camt054Reader::EntryRead> entries = reader.TakeEntries();
  if (entries.empty()) return;
  std::vector<IncomingPayment> read;
  for (Camt054Reader::EntryRead& r : entries) {
    const Camt054Entry& e = r.entry;
    for (const Camt054Transaction& t : e.transactions) {
      const int64_t ordinal = transactions++;
      if (!t.importable || !t.amount_cents.has_value() || *t.amount_cents <= 0) {
        ++skipped;
        continue;
      }
      IncomingPayment& p = read.emplace_back();
      p.ordinal = ordinal;
      p.transaction_key = t.transaction_key;
      p.payment_id = PaymentIdOf(t.transaction_key);
      p.amount_cents = *t.amount_cents;
      p.booking_date = e.booking_date.has_value() ? FormatDate(*e.booking_date)
                       : e.value_date.has_value() ? FormatDate(*e.value_date)
                                                  : today;
      p.value_date = e.value_date.has_value() ? FormatDate(*e.value_date) : "";
      p.reference = MatchableReference(t.reference);
      p.payer_name = t.debtor_name.substr(0, 140);
    }
  }
  absl::MutexLock lock(&mu);
  if (message_id.empty()) message_id = reader.message_id();
  for (IncomingPayment& p : read) payments.push_back(std::move(p));
}

absl::StatusOr<v1::ImportPaymentsResponse> InvoicingRepository::PaymentImport::State::Write(
    bool* fresh) {
  return pg::InTenantTransaction<v1::ImportPaymentsResponse>(
      *repository->pool_, call.tenant, Tx(call),
      [&](pqxx::work& tx) { return WriteIn(tx, fresh); });
}

absl::StatusOr<v1::ImportPaymentsResponse> InvoicingRepository::PaymentImport::State::WriteIn(
    pqxx::work& tx, bool* fresh) {
  // The lock pg::Idempotent takes for the request id, taken now: an import with the same request
  // id waits here for this one's end, and then finds it stored and writes nothing.
  tx.exec_params("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                 absl::StrCat(call.tenant, "/", request_id));
  // Every statement of the import reads or writes rows by key, a batch at a time. Without
  // this the planner, on statistics that lag behind the billing run that wrote the invoices,
  // scans all of a tenant's invoices (or invoice keys) once per batch: 0.6 s a batch for 100 000.
  tx.exec(
      "SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off;"
      " SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off");
  const bool replay = !tx.exec_params(
                             "SELECT 1 FROM idempotency WHERE tenant_id = $1 AND"
                             " request_id = $2",
                             call.tenant, request_id)
                           .empty();
  PaymentWriter w;
  size_t next = 0;
  std::vector<const IncomingPayment*> batch;
  while (true) {
    batch.clear();
    bool last = false;
    {
      absl::MutexLock lock(&mu);
      writer_next = next;
      mu.Await(absl::Condition(this, &State::BatchReady));
      if (cancelled) return absl::CancelledError("the import was cancelled");
      if (ended && !input.ok()) return input;
      if (ended && final_keys.has_value()) {
        // A bank reference repeats further on in the file: keys written so far may be wrong.
        // Everything is written again with the final keys (the transaction is retried).
        for (IncomingPayment& p : payments) {
          p.transaction_key = std::move((*final_keys)[p.ordinal]);
          p.payment_id = PaymentIdOf(p.transaction_key);
        }
        final_keys.reset();
        return absl::AbortedError("the file's transaction keys changed at its end");
      }
      const size_t end = std::min(payments.size(), next + kMaxBatch);
      for (size_t i = next; i < end; ++i) batch.push_back(&payments[i]);
      next = end;
      last = ended && next == payments.size();
    }
    if (!replay && !batch.empty()) {
      std::string message_id_now;
      {
        absl::MutexLock lock(&mu);
        message_id_now = message_id;
      }
      RETURN_IF_ERROR(WritePaymentBatch(tx, call.tenant, message_id_now, batch, w));
    }
    if (last) break;
  }

  std::string message_id_now, fingerprint_now;
  int64_t total_transactions = 0, total_skipped = 0, importable = 0;
  {
    absl::MutexLock lock(&mu);
    message_id_now = message_id;
    fingerprint_now = fingerprint;
    total_transactions = final_transactions;
    total_skipped = final_skipped;
    importable = static_cast<int64_t>(payments.size());
  }
  // The fingerprint covers the file: the same request id with another file is refused.
  v1::ImportPaymentsRequest fingerprinted;
  fingerprinted.set_request_id(request_id);
  fingerprinted.set_chunk(fingerprint_now);
  return pg::Idempotent<v1::ImportPaymentsResponse>(
      tx, Key(call, request_id), "ImportPayments", fingerprinted,
      [&]() -> absl::StatusOr<v1::ImportPaymentsResponse> {
        *fresh = true;
        v1::ImportPaymentsResponse resp = w.counts;
        resp.set_message_id(message_id_now);
        resp.set_transactions(total_transactions);
        resp.set_skipped(total_skipped);
        resp.set_duplicates(importable - w.written);
        if (w.written == 0) return resp;
        ASSIGN_OR_RETURN(v1::InvoicingSettings settings, LoadSettings(tx, call.tenant));
        ASSIGN_OR_RETURN(
            ledger::v1::EntryDraft posting,
            BuildPaymentPosting(settings.accounts(), w.received, w.allocated,
                                {.entry_date = w.entry_date,
                                 .description = absl::StrCat("Viitesuoritukset ", message_id_now),
                                 .reference = message_id_now.substr(0, 100)}));
        EnqueuePosting(tx, call.tenant, PostingKey(call, "payments", request_id),
                       absl::StrCat("payments:", request_id), std::move(posting));
        return resp;
      });
}

InvoicingRepository::PaymentImport::PaymentImport(std::unique_ptr<State> state)
    : state_(std::move(state)) {}

InvoicingRepository::PaymentImport::~PaymentImport() = default;

absl::Status InvoicingRepository::PaymentImport::Add(absl::string_view chunk) {
  State& s = *state_;
  if (s.bytes + chunk.size() > kMaxPaymentFileBytes) {
    return InvalidField("chunk",
                        absl::StrCat("the file is larger than ", kMaxPaymentFileBytes, " bytes"));
  }
  {
    // The writer failed (the database): no use reading on.
    absl::MutexLock lock(&s.mu);
    if (s.written && !s.result.ok()) return s.result.status();
  }
  s.bytes += chunk.size();
  EVP_DigestUpdate(s.sha256, chunk.data(), chunk.size());
  RETURN_IF_ERROR(s.reader.Feed(chunk));
  s.TakeEntries();
  return absl::OkStatus();
}

absl::StatusOr<v1::ImportPaymentsResponse> InvoicingRepository::PaymentImport::Finish() {
  State& s = *state_;
  absl::Status input =
      s.bytes == 0 ? InvalidField("chunk", "the file is empty") : s.reader.Finish();
  if (input.ok()) s.TakeEntries();
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(s.sha256, digest, &length);
  {
    absl::MutexLock lock(&s.mu);
    s.ended = true;
    s.input = input;
    s.fingerprint =
        absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(digest), length));
    s.final_transactions = s.transactions;
    s.final_skipped = s.skipped;
    s.message_id = s.reader.message_id();
    if (input.ok()) s.final_keys = s.reader.FinalKeys();
  }
  s.writer.join();
  RETURN_IF_ERROR(input);
  absl::MutexLock lock(&s.mu);
  return s.result;
}

absl::StatusOr<std::unique_ptr<InvoicingRepository::PaymentImport>>
InvoicingRepository::StartPaymentImport(const CallContext& call, const std::string& request_id) {
  RETURN_IF_ERROR(ValidateRequestId("request_id", request_id));
  auto state = std::make_unique<PaymentImport::State>(this, call, request_id);
  PaymentImport::State* s = state.get();
  s->writer = std::thread([this, s] {
    bool fresh = false;
    absl::StatusOr<v1::ImportPaymentsResponse> result = s->Write(&fresh);
    if (result.ok() && fresh && options_.metrics != nullptr) options_.metrics->Payments(*result);
    absl::MutexLock lock(&s->mu);
    s->written = true;
    s->result = std::move(result);
  });
  return std::make_unique<PaymentImport>(std::move(state));
}

absl::StatusOr<v1::ImportPaymentsResponse> InvoicingRepository::ImportPayments(
    const CallContext& call, const std::string& request_id, const std::string& file) {
  ASSIGN_OR_RETURN(std::unique_ptr<PaymentImport> import, StartPaymentImport(call, request_id));
  constexpr size_t kChunk = size_t{1} << 20;
  for (size_t at = 0; at < file.size(); at += kChunk) {
    RETURN_IF_ERROR(import->Add(absl::string_view(file).substr(at, kChunk)));
  }
  return import->Finish();
}

absl::StatusOr<v1::ListPaymentsResponse> InvoicingRepository::ListPayments(
    const CallContext& call, const v1::ListPaymentsRequest& req) {
  std::vector<int64_t> statuses;
  for (int s : req.statuses()) {
    if (s < v1::PAYMENT_STATUS_MATCHED || s > v1::PAYMENT_STATUS_UNMATCHED) {
      return InvalidField("statuses", absl::StrCat("unknown status ", s));
    }
    statuses.push_back(s);
  }
  const int page = PageSize(req.page_size());
  return pg::InTenantTransaction<v1::ListPaymentsResponse>(
      *pool_, call.tenant, Tx(call, true),
      [&](pqxx::work& tx) -> absl::StatusOr<v1::ListPaymentsResponse> {
        pqxx::result r = tx.exec_params(
            "SELECT p.payment_id, p.status, p.amount_cents, p.allocated_cents,"
            " to_char(p.booking_date, 'YYYY-MM-DD'),"
            " coalesce(to_char(p.value_date, 'YYYY-MM-DD'), ''), p.reference,"
            " p.transaction_key, p.payer_name, p.message_id,"
            " coalesce((SELECT array_to_string(array_agg(a.invoice_id ORDER BY a.invoice_id), ',')"
            " FROM payment_allocations a WHERE a.tenant_id = p.tenant_id AND"
            " a.payment_id = p.payment_id), '')"
            " FROM payments p WHERE p.tenant_id = $1 AND p.payment_id > $2 AND"
            " (cardinality($3::smallint[]) = 0 OR p.status = ANY($3::smallint[]))"
            " ORDER BY p.payment_id LIMIT $4",
            call.tenant, req.page_token(), pg::Int64Array(statuses), page + 1);
        v1::ListPaymentsResponse resp;
        for (int i = 0; i < static_cast<int>(r.size()) && i < page; ++i) {
          v1::Payment* p = resp.add_payments();
          p->set_payment_id(r[i][0].as<std::string>());
          p->set_status(static_cast<v1::PaymentStatus>(r[i][1].as<int>()));
          p->set_amount_cents(r[i][2].as<int64_t>());
          p->set_allocated_cents(r[i][3].as<int64_t>());
          p->set_booking_date(r[i][4].as<std::string>());
          p->set_value_date(r[i][5].as<std::string>());
          p->set_reference(r[i][6].as<std::string>());
          p->set_transaction_key(r[i][7].as<std::string>());
          p->set_payer_name(r[i][8].as<std::string>());
          p->set_message_id(r[i][9].as<std::string>());
          for (absl::string_view id :
               absl::StrSplit(r[i][10].as<std::string>(), ',', absl::SkipEmpty())) {
            p->add_invoice_ids(std::string(id));
          }
        }
        if (static_cast<int>(r.size()) > page) {
          resp.set_next_page_token(r[page - 1][0].as<std::string>());
        }
        return resp;
      });
}

absl::StatusOr<v1::Payment> InvoicingRepository::AllocatePayment(
    const CallContext& call, const v1::AllocatePaymentRequest& req) {
  RETURN_IF_ERROR(ValidateRequestId("request_id", req.request_id()));
  RETURN_IF_ERROR(ValidateCode("payment_id", req.payment_id(), 64));
  RETURN_IF_ERROR(ValidateCode("invoice_id", req.invoice_id(), 64));
  if (req.amount_cents() < 0) return InvalidField("amount_cents", "must not be negative");
  return pg::InTenantTransaction<v1::Payment>(*pool_, call.tenant, Tx(call), [&](pqxx::work& tx) {
    return pg::Idempotent<v1::Payment>(
        tx, Key(call, req.request_id()), "AllocatePayment", req,
        [&]() -> absl::StatusOr<v1::Payment> {
          ASSIGN_OR_RETURN(v1::InvoicingSettings settings, LoadSettings(tx, call.tenant));
          pqxx::result pay = tx.exec_params(
              "SELECT amount_cents - allocated_cents, booking_date FROM payments WHERE"
              " tenant_id = $1 AND payment_id = $2 FOR UPDATE",
              call.tenant, req.payment_id());
          if (pay.empty()) {
            return absl::NotFoundError(
                absl::StrCat("payment_id: no payment \"", req.payment_id(), "\""));
          }
          const int64_t rest = pay[0][0].as<int64_t>();
          ASSIGN_OR_RETURN(v1::Invoice invoice,
                           LoadInvoice(tx, call.tenant, req.invoice_id(), Today(), true));
          if (invoice.kind() != v1::INVOICE_KIND_INVOICE ||
              invoice.status() == v1::INVOICE_STATUS_DRAFT) {
            return absl::FailedPreconditionError(
                "invoice_id: payments are allocated to issued invoices");
          }
          const int64_t can = std::min(rest, invoice.open_cents());
          if (can <= 0) {
            return absl::FailedPreconditionError(
                rest <= 0 ? "payment_id: the payment is allocated in full"
                          : "invoice_id: nothing is open on the invoice");
          }
          const int64_t amount = req.amount_cents() == 0 ? can : req.amount_cents();
          if (amount > can) {
            return InvalidField("amount_cents",
                                absl::StrCat("at most ", can,
                                             " cents: what is left of the payment and open on"
                                             " the invoice"));
          }
          tx.exec_params(
              "INSERT INTO payment_allocations (tenant_id, payment_id, invoice_id, amount_cents)"
              " VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id, payment_id, invoice_id) DO"
              " UPDATE SET amount_cents = payment_allocations.amount_cents + excluded.amount_cents",
              call.tenant, req.payment_id(), req.invoice_id(), amount);
          tx.exec_params(
              "UPDATE payments SET allocated_cents = allocated_cents + $3, status = CASE WHEN"
              " allocated_cents + $3 = amount_cents THEN 1 ELSE 2 END WHERE tenant_id = $1 AND"
              " payment_id = $2",
              call.tenant, req.payment_id(), amount);
          tx.exec_params(
              absl::StrCat("UPDATE invoices SET paid_cents = paid_cents + $3, status = CASE WHEN ",
                           kOpenAmount, " - $3 <= 0 THEN ", kPaid, " WHEN status = ", kReminded,
                           " THEN ", kReminded, " ELSE ", kPartiallyPaid,
                           " END WHERE tenant_id = $1 AND invoice_id = $2"),
              call.tenant, req.invoice_id(), amount);
          ASSIGN_OR_RETURN(
              ledger::v1::EntryDraft posting,
              BuildAllocationPosting(
                  settings.accounts(), amount,
                  {.entry_date = FormatDate(Today()),
                   .description = absl::StrCat("Suorituksen kohdistus ", invoice.display_number()),
                   .reference = invoice.display_number()}));
          EnqueuePosting(tx, call.tenant, PostingKey(call, "allocation", req.request_id()),
                         absl::StrCat("allocation:", req.payment_id()), std::move(posting));
          v1::ListPaymentsRequest one;
          pqxx::row p = tx.exec_params1(
              "SELECT status, amount_cents, allocated_cents, to_char(booking_date, 'YYYY-MM-DD'),"
              " reference, transaction_key, message_id FROM payments WHERE tenant_id = $1 AND"
              " payment_id = $2",
              call.tenant, req.payment_id());
          v1::Payment out;
          out.set_payment_id(req.payment_id());
          out.set_status(static_cast<v1::PaymentStatus>(p[0].as<int>()));
          out.set_amount_cents(p[1].as<int64_t>());
          out.set_allocated_cents(p[2].as<int64_t>());
          out.set_booking_date(p[3].as<std::string>());
          out.set_reference(p[4].as<std::string>());
          out.set_transaction_key(p[5].as<std::string>());
          out.set_message_id(p[6].as<std::string>());
          for (const auto& r :
               tx.exec_params("SELECT invoice_id FROM payment_allocations WHERE tenant_id = $1 AND"
                              " payment_id = $2 ORDER BY invoice_id",
                              call.tenant, req.payment_id())) {
            out.add_invoice_ids(r[0].as<std::string>());
          }
          return out;
        });
  });
}

// --- reminders and ageing ------------------------------------------------------------------------

// --- reference rates -----------------------------------------------------------------------------

namespace {

// The rates in force: the built-in table with the loaded rows over it, by half-year.
std::vector<ReferenceRate> RatesInForce(pqxx::work& tx, std::vector<bool>* loaded = nullptr) {
  std::map<std::pair<int, int>, std::pair<ReferenceRate, bool>> by_half;
  for (const ReferenceRate& rate : BuiltInReferenceRates()) {
    by_half[{rate.year, rate.half}] = {rate, false};
  }
  for (const auto& row :
       tx.exec("SELECT year, half, rate_hundredths, provisional FROM reference_rates")) {
    ReferenceRate rate{.year = row[0].as<int>(),
                       .half = row[1].as<int>(),
                       .hundredths_of_percent = row[2].as<int32_t>(),
                       .provisional = row[3].as<bool>()};
    by_half[{rate.year, rate.half}] = {rate, true};
  }
  std::vector<ReferenceRate> rates;
  for (const auto& [half, rate] : by_half) {
    rates.push_back(rate.first);
    if (loaded != nullptr) loaded->push_back(rate.second);
  }
  return rates;
}

v1::ReferenceRate ToProto(const ReferenceRate& rate, bool loaded) {
  v1::ReferenceRate out;
  out.set_year(rate.year);
  out.set_half(rate.half);
  out.set_rate_hundredths(rate.hundredths_of_percent);
  out.set_provisional(rate.provisional);
  out.set_source(loaded ? "loaded" : "built-in");
  return out;
}

}  // namespace

absl::StatusOr<v1::ReferenceRate> InvoicingRepository::SetReferenceRate(
    const CallContext& call, const v1::SetReferenceRateRequest& req) {
  RETURN_IF_ERROR(ValidateRequestId("request_id", req.request_id()));
  const v1::ReferenceRate& rate = req.rate();
  if (rate.year() < 2000 || rate.year() > 2100) {
    return InvalidField("rate.year", "must be 2000-2100");
  }
  if (rate.half() != 1 && rate.half() != 2) {
    return InvalidField("rate.half", "must be 1 (January-June) or 2 (July-December)");
  }
  if (rate.rate_hundredths() < 0 || rate.rate_hundredths() > 5000) {
    return InvalidField("rate.rate_hundredths", "must be 0-5000 (hundredths of a percent)");
  }
  if (!rate.source().empty()) {
    return InvalidField("rate.source", "set by the service; leave it empty");
  }
  return pg::InTenantTransaction<v1::ReferenceRate>(
      *pool_, call.tenant, Tx(call), [&](pqxx::work& tx) {
        return pg::Idempotent<v1::ReferenceRate>(
            tx, Key(call, req.request_id()), "SetReferenceRate", req,
            [&]() -> absl::StatusOr<v1::ReferenceRate> {
              tx.exec_params(
                  "INSERT INTO reference_rates (year, half, rate_hundredths, provisional)"
                  " VALUES ($1, $2, $3, $4) ON CONFLICT (year, half) DO UPDATE SET"
                  " rate_hundredths = excluded.rate_hundredths,"
                  " provisional = excluded.provisional, loaded_at = now()",
                  rate.year(), rate.half(), rate.rate_hundredths(), rate.provisional());
              log::Info(
                  "reference rate loaded",
                  call.LogFields({{"half_year", HalfYearName(rate.year(), rate.half())},
                                  {"rate_hundredths", absl::StrCat(rate.rate_hundredths())}}));
              v1::ReferenceRate stored = rate;
              stored.set_source("loaded");
              return stored;
            });
      });
}

absl::StatusOr<v1::ListReferenceRatesResponse> InvoicingRepository::ListReferenceRates(
    const CallContext& call) {
  return pg::InTenantTransaction<v1::ListReferenceRatesResponse>(
      *pool_, call.tenant, Tx(call, true),
      [&](pqxx::work& tx) -> absl::StatusOr<v1::ListReferenceRatesResponse> {
        std::vector<bool> loaded;
        std::vector<ReferenceRate> rates = RatesInForce(tx, &loaded);
        v1::ListReferenceRatesResponse resp;
        for (size_t i = 0; i < rates.size(); ++i) {
          *resp.add_rates() = ToProto(rates[i], loaded[i]);
        }
        return resp;
      });
}

absl::StatusOr<v1::ReminderRound> InvoicingRepository::RunReminderRound(
    const CallContext& call, const v1::RunReminderRoundRequest& req) {
  RETURN_IF_ERROR(ValidateRequestId("request_id", req.request_id()));
  absl::CivilDay as_of = Today();
  if (!req.as_of().empty()) {
    ASSIGN_OR_RETURN(as_of, ParseDate("as_of", req.as_of()));
  }
  bool fresh = false;
  absl::StatusOr<v1::ReminderRound> result = pg::InTenantTransaction<v1::ReminderRound>(
      *pool_, call.tenant, Tx(call), [&](pqxx::work& tx) {
        return pg::Idempotent<v1::ReminderRound>(
            tx, Key(call, req.request_id()), "RunReminderRound", req,
            [&]() -> absl::StatusOr<v1::ReminderRound> {
              ASSIGN_OR_RETURN(v1::InvoicingSettings settings, LoadSettings(tx, call.tenant));
              const std::vector<ReferenceRate> rates = RatesInForce(tx);
              v1::ReminderRound round;
              round.set_as_of(FormatDate(as_of));
              // Invoices paid or credited in full since the last round leave invoice_keys_open.
              BinaryArray settled(BinaryArray::kText);
              for (const auto& r : tx.exec_params(
                       absl::StrCat("SELECT invoice_id FROM invoices WHERE tenant_id = $1 AND"
                                    " invoice_id = ANY($2::text[]) AND status IN (",
                                    kPaid, ", ", static_cast<int>(v1::INVOICE_STATUS_CREDITED),
                                    ")"),
                       call.tenant, MaybeOpenInvoices(tx, call.tenant).Param())) {
                settled.AddText(r[0].c_str());
              }
              if (!settled.empty()) {
                tx.exec_params(
                    "UPDATE invoice_keys SET settled = true WHERE tenant_id = $1 AND"
                    " invoice_id = ANY($2::text[])",
                    call.tenant, settled.Param());
              }
              // Candidates: open invoices due at least 14 days before the round.
              pqxx::result due = tx.exec_params(
                  absl::StrCat(
                      "SELECT invoice_id, to_char(due_date, 'YYYY-MM-DD'),",
                      " gross_cents - paid_cents - credited_cents, ", kOpenAmount,
                      ", buyer_is_consumer,"
                      " coalesce(to_char(last_reminder_date, 'YYYY-MM-DD'), ''),"
                      " reminders_sent, series, invoice_number, customer_number"
                      " FROM invoices WHERE tenant_id = $1 AND invoice_id = ANY($2::text[])"
                      " AND kind = 1 AND status IN ",
                      kOpenStatuses, " ORDER BY due_date, invoice_id FOR UPDATE"),
                  call.tenant,
                  MaybeOpenInvoices(tx, call.tenant, as_of - kReminderMinDaysOverdue).Param());
              std::vector<std::string> ids, explanations, docs;
              std::vector<int64_t> fees, interests, numbers;
              for (const auto& r : due) {
                const std::string id = r[0].as<std::string>();
                ASSIGN_OR_RETURN(absl::CivilDay due_date, ParseDate("due_date", r[1].c_str()));
                const int64_t principal = std::max<int64_t>(0, r[2].as<int64_t>());
                const int64_t open_amount = r[3].as<int64_t>();
                const bool consumer = r[4].as<bool>();
                std::optional<absl::CivilDay> last_reminder;
                if (!r[5].as<std::string>().empty()) {
                  ASSIGN_OR_RETURN(last_reminder, ParseDate("last_reminder_date", r[5].c_str()));
                }
                ASSIGN_OR_RETURN(
                    ReminderDecision decision,
                    DecideReminder({.due_date = due_date,
                                    .today = as_of,
                                    .open_amount_cents = open_amount,
                                    .debtor = consumer ? Debtor::kConsumer : Debtor::kBusiness,
                                    .org_fee_cents = settings.reminder_fee_cents(),
                                    .last_reminder_date = last_reminder},
                                   rates));
                if (!decision.eligible) continue;
                // Interest is charged for the days since it was last charged: from the due date
                // on the first reminder, from the previous reminder on later ones.
                const absl::CivilDay from = last_reminder.value_or(due_date);
                ASSIGN_OR_RETURN(PenaltyInterest interest,
                                 ComputePenaltyInterest(
                                     principal, from, as_of,
                                     consumer ? Debtor::kConsumer : Debtor::kBusiness, rates));
                v1::Reminder* reminder = round.add_reminders();
                reminder->set_invoice_id(id);
                reminder->set_display_number(
                    FormatInvoiceNumber(r[7].as<std::string>(), r[8].as<int64_t>()));
                reminder->set_customer_number(r[9].as<std::string>());
                reminder->set_open_cents(open_amount);
                reminder->set_fee_cents(decision.fee_cents);
                reminder->set_interest_cents(interest.interest_cents);
                reminder->set_days_late(static_cast<int32_t>(decision.days_overdue));
                reminder->set_interest_explanation(ExplainInterest(principal, interest));
                reminder->set_provisional_rate(interest.provisional);
                round.set_fees_cents(round.fees_cents() + decision.fee_cents);
                round.set_interest_cents(round.interest_cents() + interest.interest_cents);
                ids.push_back(id);
                fees.push_back(decision.fee_cents);
                interests.push_back(interest.interest_cents);
                numbers.push_back(r[6].as<int64_t>() + 1);
                docs.push_back(Hex(*reminder));
              }
              if (ids.empty()) return round;
              tx.exec_params(
                  "INSERT INTO reminders (tenant_id, invoice_id, reminder_no, as_of, fee_cents,"
                  " interest_cents, reminder) SELECT $1, u.id, u.no, $2::date, u.fee, u.interest,"
                  " decode(u.doc, 'hex') FROM unnest($3::text[], $4::int[], $5::bigint[],"
                  " $6::bigint[], $7::text[]) AS u(id, no, fee, interest, doc)",
                  call.tenant, FormatDate(as_of), pg::TextArray(ids), pg::Int64Array(numbers),
                  pg::Int64Array(fees), pg::Int64Array(interests), pg::TextArray(docs));
              tx.exec_params(absl::StrCat("UPDATE invoices i SET fees_cents = i.fees_cents + u.fee,"
                                          " interest_cents = i.interest_cents + u.interest,"
                                          " reminders_sent = i.reminders_sent + 1,"
                                          " last_reminder_date = $2::date, status = ",
                                          kReminded,
                                          " FROM unnest($3::text[], $4::bigint[], $5::bigint[])"
                                          " AS u(id, fee, interest)"
                                          " WHERE i.tenant_id = $1 AND i.invoice_id = u.id"),
                             call.tenant, FormatDate(as_of), pg::TextArray(ids),
                             pg::Int64Array(fees), pg::Int64Array(interests));
              if (round.fees_cents() + round.interest_cents() > 0) {
                ASSIGN_OR_RETURN(
                    ledger::v1::EntryDraft posting,
                    BuildReminderPosting(
                        settings.accounts(), round.fees_cents(), round.interest_cents(),
                        {.entry_date = FormatDate(as_of),
                         .description = absl::StrCat("Maksumuistutukset ", FormatDate(as_of), ": ",
                                                     round.reminders_size(), " kpl"),
                         .reference = req.request_id()}));
                EnqueuePosting(tx, call.tenant, PostingKey(call, "reminders", req.request_id()),
                               absl::StrCat("reminders:", req.request_id()), std::move(posting));
              }
              fresh = true;
              return round;
            });
      });
  if (result.ok() && fresh && options_.metrics != nullptr) {
    options_.metrics->Reminders(result->reminders_size());
  }
  return result;
}

absl::StatusOr<v1::ReceivablesAgeing> InvoicingRepository::GetReceivablesAgeing(
    const CallContext& call, const v1::GetReceivablesAgeingRequest& req) {
  absl::CivilDay as_of = Today();
  if (!req.as_of().empty()) {
    ASSIGN_OR_RETURN(as_of, ParseDate("as_of", req.as_of()));
  }
  return pg::InTenantTransaction<v1::ReceivablesAgeing>(
      *pool_, call.tenant, Tx(call, true),
      [&](pqxx::work& tx) -> absl::StatusOr<v1::ReceivablesAgeing> {
        std::map<AgeingBucket, std::pair<int64_t, int64_t>> sums;  // bucket -> (count, open)
        // Summed per due date in SQL, bucketed by invoicing_domain's rule here.
        for (const auto& r : tx.exec_params(
                 absl::StrCat("SELECT to_char(due_date, 'YYYY-MM-DD'), count(*), sum(", kOpenAmount,
                              ")::bigint FROM invoices WHERE tenant_id = $1"
                              " AND invoice_id = ANY($3::text[]) AND kind = 1 AND status IN ",
                              kOpenStatuses, " AND invoice_date <= $2::date GROUP BY due_date"),
                 call.tenant, FormatDate(as_of), MaybeOpenInvoices(tx, call.tenant).Param())) {
          ASSIGN_OR_RETURN(absl::CivilDay due, ParseDate("due_date", r[0].c_str()));
          auto& [count, open] = sums[AgeingBucketOf(due, as_of)];
          count += r[1].as<int64_t>();
          open += r[2].as<int64_t>();
        }
        v1::ReceivablesAgeing ageing;
        ageing.set_as_of(FormatDate(as_of));
        for (AgeingBucket bucket : AllAgeingBuckets()) {
          v1::AgeingBucket* out = ageing.add_buckets();
          out->set_bucket(std::string(AgeingBucketName(bucket)));
          out->set_invoices(sums[bucket].first);
          out->set_open_cents(sums[bucket].second);
          ageing.set_open_cents(ageing.open_cents() + sums[bucket].second);
        }
        return ageing;
      });
}

absl::StatusOr<tahe::tenancy::v1::DescribeTenantDataResponse>
InvoicingRepository::DescribeTenantData(const CallContext& call) {
  using Response = tahe::tenancy::v1::DescribeTenantDataResponse;
  return pg::InTenantTransaction<Response>(
      *pool_, call.tenant, Tx(call, true), [&](pqxx::work& tx) -> absl::StatusOr<Response> {
        pqxx::row counts = tx.exec_params1(
            "SELECT (SELECT count(*) FROM customers WHERE tenant_id = $1),"
            " (SELECT count(*) FROM invoices WHERE tenant_id = $1),"
            " (SELECT count(*) FROM payments WHERE tenant_id = $1),"
            " (SELECT count(*) FROM settings WHERE tenant_id = $1),"
            " (SELECT count(*) FROM products WHERE tenant_id = $1)",
            call.tenant);
        const int64_t customers = counts[0].as<int64_t>(), invoices = counts[1].as<int64_t>(),
                      payments = counts[2].as<int64_t>();
        Response resp;
        resp.set_service("tahe.invoicing.v1.InvoicingService");
        resp.set_has_data(customers + invoices + payments + counts[3].as<int64_t>() +
                              counts[4].as<int64_t>() >
                          0);
        resp.set_summary(absl::StrCat(customers, " customers, ", invoices, " invoices, ", payments,
                                      " payments"));
        return resp;
      });
}

}  // namespace tahe::invoicing
