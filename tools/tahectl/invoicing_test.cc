// Tests of `tahectl invoicing ...`: the customers, products and drafts files (exact euros and
// quantities, every bad cell named by row and column, no personal data repeated), batching with
// content-derived request ids, refusals turned back into rows and columns, and the commands
// in-process against an in-process fake InvoicingService (fake_invoicing.h) over real gRPC:
// credentials, row-by-row and streamed imports that repeat as no-ops, payment files in 1 MiB
// chunks named by their SHA-256, billing-run progress from WatchBillingRun, waiting for a
// posting, --json, usage errors before any call.
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/util/json_util.h"
#include "tools/tahectl/args.h"
#include "tools/tahectl/cli.h"
#include "tools/tahectl/fake_invoicing.h"
#include "tools/tahectl/invoicing_commands.h"
#include "tools/tahectl/invoicing_csv.h"
#include "tools/tahectl/parse.h"

namespace tahe::tahectl {
namespace {

namespace v1 = ::tahe::invoicing::v1;

constexpr char kOperatorKey[] =
    "tahe_0000000000bb_2222222222222222222222222222222222222222222222222222222222222222";
constexpr char kCode[] = "131052-308T";

constexpr char kCustomersHeader[] =
    "customer_number,kind,name,business_id,personal_identity_code,street,postal_code,city,"
    "delivery_channel,einvoice_address,einvoice_operator,language\n";
constexpr char kProducts[] =
    "code,name,unit,unit_price,vat_category,sales_account,cost_centre\n"
    "KOTIHOITO,Kotihoito,h,40.00,GENERAL,3100,200\n"
    "ATERIA,Ateriapalvelu,kpl,8.50,reduced,,300\n"
    "PALVELU,Sosiaalipalvelu,kk,1000.00,EXEMPT,3100,400\n";

std::string Person(const std::string& number, const std::string& name, const std::string& code) {
  return absl::StrCat(number, ",PERSON,", name, ",,", code,
                      ",Kauppakatu 1,15140,Lahti,PAPER,,,fi\n");
}
std::string Organisation(const std::string& number) {
  return absl::StrCat(number,
                      ",ORGANISATION,\"Hyvinvointialue, Päijät-Häme\",3221318-2,,"
                      "Keskussairaalankatu 7,15850,Lahti,EINVOICE,003732213182,003721291126,\n");
}

template <typename Row>
std::string Problems(const CsvImport<Row>& parsed) {
  std::string text;
  for (const CsvProblem& problem : parsed.problems) {
    absl::StrAppend(&text, FormatCsvProblem(problem), "\n");
  }
  return text;
}

// --- Files ---------------------------------------------------------------------------------------

TEST_CASE("ParseCustomersCsv reads a person and an organisation into Customer messages") {
  CsvImport<CustomerRow> parsed = ParseCustomersCsv(absl::StrCat(
      kCustomersHeader, Person("C-1", "Matti Meikäläinen", kCode), Organisation("ORG-1")));
  INFO(Problems(parsed));
  REQUIRE(parsed.problems.empty());
  REQUIRE(parsed.rows.size() == 2);
  const v1::Customer& person = parsed.rows[0].customer;
  CHECK(parsed.rows[0].row == 2);
  CHECK(person.customer_number() == "C-1");
  CHECK(person.kind() == v1::CUSTOMER_KIND_PERSON);
  CHECK(person.name() == "Matti Meikäläinen");
  CHECK(person.personal_identity_code() == kCode);
  CHECK(person.address().street() == "Kauppakatu 1");
  CHECK(person.address().postal_code() == "15140");
  CHECK(person.address().city() == "Lahti");
  CHECK(person.delivery_channel() == v1::DELIVERY_CHANNEL_PAPER);
  CHECK(person.language() == "fi");
  const v1::Customer& org = parsed.rows[1].customer;
  CHECK(parsed.rows[1].row == 3);
  CHECK(org.kind() == v1::CUSTOMER_KIND_ORGANISATION);
  CHECK(org.name() == "Hyvinvointialue, Päijät-Häme");
  CHECK(org.business_id() == "3221318-2");
  CHECK(org.personal_identity_code().empty());
  CHECK(org.delivery_channel() == v1::DELIVERY_CHANNEL_EINVOICE);
  CHECK(org.einvoice_address() == "003732213182");
  CHECK(org.einvoice_operator() == "003721291126");
}

TEST_CASE("ParseCustomersCsv names the row and column of every bad cell, never quoting one") {
  CsvImport<CustomerRow> parsed = ParseCustomersCsv(absl::StrCat(
      kCustomersHeader, Person("C-1", "Matti", kCode),
      "C-2,HUMAN,Anna,,010190-123A,Katu 2,15140,,FAX,,,de\n",  // kind, city, channel, language
      Person("C-1", "Pekka", "240147-632T"),                   // the number again
      "C-4,PERSON\n"));                                        // two cells
  CHECK(Problems(parsed) ==
        "row 3, column kind: want PERSON or ORGANISATION\n"
        "row 3, column city: required\n"
        "row 3, column delivery_channel: want PAPER, EMAIL or EINVOICE\n"
        "row 3, column language: want fi, sv or en\n"
        "row 4, column customer_number: the same as on row 2\n"
        "row 5: 2 cells, the header has 12\n");
  for (const char* cell : {"HUMAN", "FAX", "010190-123A", "Anna", "240147"}) {
    INFO(cell);
    CHECK_FALSE(absl::StrContains(Problems(parsed), cell));
  }
  CHECK(Problems(ParseCustomersCsv("customer_number,name\nC-1,x\n")) ==
        "row 1, column kind: missing from the header\n"
        "row 1, column street: missing from the header\n"
        "row 1, column postal_code: missing from the header\n"
        "row 1, column city: missing from the header\n");
}

TEST_CASE("ParseProductsCsv reads prices in exact cents and names bad cells") {
  CsvImport<ProductRow> parsed = ParseProductsCsv(kProducts);
  INFO(Problems(parsed));
  REQUIRE(parsed.problems.empty());
  REQUIRE(parsed.rows.size() == 3);
  CHECK(parsed.rows[0].product.code() == "KOTIHOITO");
  CHECK(parsed.rows[0].product.unit() == "h");
  CHECK(parsed.rows[0].product.unit_price_cents() == 4000);
  CHECK(parsed.rows[0].product.vat_category() == v1::VAT_CATEGORY_GENERAL);
  CHECK(parsed.rows[0].product.sales_account() == "3100");
  CHECK(parsed.rows[0].product.cost_centre() == "200");
  // Case-insensitive category; an empty account is left to the settings' default.
  CHECK(parsed.rows[1].product.vat_category() == v1::VAT_CATEGORY_REDUCED);
  CHECK(parsed.rows[1].product.unit_price_cents() == 850);
  CHECK(parsed.rows[1].product.sales_account().empty());
  CHECK(parsed.rows[2].product.unit_price_cents() == 100000);

  // Semicolons with decimal commas, as a Finnish spreadsheet writes them.
  CsvImport<ProductRow> finnish =
      ParseProductsCsv("code;name;unit_price;vat_category\nX;Ateria;8,50;LOWEST\n");
  REQUIRE(finnish.problems.empty());
  CHECK(finnish.rows[0].product.unit_price_cents() == 850);
  CHECK(finnish.rows[0].product.vat_category() == v1::VAT_CATEGORY_LOWEST);

  CHECK(Problems(ParseProductsCsv("code,name,unit_price,vat_category\n"
                                  "A,Alpha,12.345,GENERAL\n"
                                  "B,Beta,,ZERO\n"
                                  "A,Gamma,1,EXEMPT\n")) ==
        "row 2, column unit_price: want euros with at most two decimals, like 3500.00, got "
        "\"12.345\"\n"
        "row 3, column unit_price: required\n"
        "row 3, column vat_category: want GENERAL, REDUCED, LOWEST, EXEMPT or REVERSE_CHARGE, "
        "got \"ZERO\"\n"
        "row 4, column code: the same as on row 2\n");
}

TEST_CASE("ParseDraftsCsv gathers an invoice's lines from its rows and checks its columns") {
  CsvImport<DraftRow> parsed = ParseDraftsCsv(
      "invoice_id,customer_number,delivery_date,payment_terms_days,product_code,description,"
      "quantity,unit_price,vat_category,discount_percent,line_delivery_date,cost_centre\n"
      "F-1,C-1,2026-03-31,30,ATERIA,,10,,,,,\n"
      "F-2,ORG-1,2026-03-31,,KOTIHOITO,,2.5,,,10,,200\n"
      "F-1,,,,,Kuljetus,1,12.40,GENERAL,,2026-03-15,\n");
  INFO(Problems(parsed));
  REQUIRE(parsed.problems.empty());
  REQUIRE(parsed.rows.size() == 2);
  const DraftRow& f1 = parsed.rows[0];
  CHECK(f1.line_rows == std::vector<int>{2, 4});
  CHECK(f1.draft.invoice_id() == "F-1");
  CHECK(f1.draft.customer_number() == "C-1");
  CHECK(f1.draft.delivery_date() == "2026-03-31");
  CHECK(f1.draft.payment_terms_days() == 30);
  REQUIRE(f1.draft.lines_size() == 2);
  CHECK(f1.draft.lines(0).product_code() == "ATERIA");
  CHECK(f1.draft.lines(0).quantity_milli() == 10000);
  CHECK_FALSE(f1.draft.lines(0).has_unit_price());
  CHECK(f1.draft.lines(1).description() == "Kuljetus");
  CHECK(f1.draft.lines(1).quantity_milli() == 1000);
  CHECK(f1.draft.lines(1).unit_price_cents() == 1240);
  CHECK(f1.draft.lines(1).has_unit_price());
  CHECK(f1.draft.lines(1).vat_category() == v1::VAT_CATEGORY_GENERAL);
  CHECK(f1.draft.lines(1).delivery_date() == "2026-03-15");
  const DraftRow& f2 = parsed.rows[1];
  CHECK(f2.line_rows == std::vector<int>{3});
  // 2.5 hours = 2 500 thousandths; 10 % = 100 000 ppm.
  CHECK(f2.draft.lines(0).quantity_milli() == 2500);
  CHECK(f2.draft.lines(0).discount_ppm() == 100000);
  CHECK(f2.draft.lines(0).cost_centre() == "200");

  CHECK(Problems(ParseDraftsCsv("invoice_id,customer_number,delivery_date,product_code,quantity\n"
                                "F-1,C-1,2026-03-31,ATERIA,1.2345\n"
                                "F-1,C-2,2026-03-31,ATERIA,0\n"
                                "F-2,C-1,31.3.2026,,2\n"
                                ",C-1,2026-03-31,ATERIA,\n")) ==
        "row 2, column quantity: want a number with at most three decimals, like 2.5, got "
        "\"1.2345\"\n"
        "row 3, column customer_number: differs from row 2, where invoice F-1 starts\n"
        "row 3, column quantity: must be positive\n"
        "row 4, column delivery_date: want a date YYYY-MM-DD, got \"31.3.2026\"\n"
        "row 4, column product_code: required (or a description with unit_price and "
        "vat_category)\n"
        "row 5, column invoice_id: required\n"
        "row 5, column quantity: required\n");
}

TEST_CASE("draft batches carry the run and request ids that follow from the file") {
  std::vector<DraftRow> drafts(2500);
  for (size_t i = 0; i < drafts.size(); ++i) {
    drafts[i].draft.set_invoice_id(absl::StrCat("F-", i));
  }
  std::vector<v1::ImportDraftInvoicesRequest> batches = DraftBatches(drafts, "2026-03", "p");
  REQUIRE(batches.size() == 3);
  CHECK(batches[0].request_id() == "p-b0");
  CHECK(batches[2].request_id() == "p-b2");
  CHECK(batches[0].invoices_size() == 1000);
  CHECK(batches[2].invoices_size() == 500);
  CHECK(batches[1].billing_run_id() == "2026-03");
  CHECK(batches[1].invoices(0).invoice_id() == "F-1000");
  // 64 hex digits of SHA-256; its first 32 name an import.
  CHECK(Sha256Hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(ContentRequestIdPrefix("payments", "abc") ==
        "tahectl-payments-ba7816bf8f01cfea414140de5dae2223");
}

TEST_CASE("quantities and command-line lines convert exactly") {
  CHECK(*ParseThousandths("q", "2.5") == 2500);
  CHECK(*ParseThousandths("q", "2,5") == 2500);
  CHECK(*ParseThousandths("q", "0.001") == 1);
  CHECK(*ParseThousandths("q", "1000000000000") == 1'000'000'000'000'000);
  for (const char* bad : {"", "-1", "1.2345", "1e3", "1.", ".5", "1 000", "10000000000000"}) {
    INFO(bad);
    CHECK_FALSE(ParseThousandths("q", bad).ok());
  }
  CHECK(FormatThousandths(2500) == "2.5");
  CHECK(FormatThousandths(1000) == "1");
  CHECK(FormatThousandths(1) == "0.001");
  CHECK(FormatThousandths(-1250) == "-1.25");

  absl::StatusOr<v1::LineInput> line = ParseInvoiceLine("KOTIHOITO:2.5");
  REQUIRE(line.ok());
  CHECK(line->product_code() == "KOTIHOITO");
  CHECK(line->quantity_milli() == 2500);
  CHECK_FALSE(line->has_unit_price());
  line = ParseInvoiceLine("ATERIA:4:8.00");
  REQUIRE(line.ok());
  CHECK(line->unit_price_cents() == 800);
  CHECK(line->has_unit_price());
  CHECK(ParseInvoiceLine("ATERIA").status().message() ==
        "--line \"ATERIA\": missing quantity (want PRODUCT:QUANTITY[:UNIT_PRICE], like "
        "KOTIHOITO:2.5)");
  for (const char* bad : {":1", "A:0", "A:-1", "A:1:x", "A:1:2:3", "A:1.0001"}) {
    INFO(bad);
    CHECK_FALSE(ParseInvoiceLine(bad).ok());
  }
}

TEST_CASE("the service's refusals are told in the file's rows and columns") {
  CHECK(DescribeRowRefusal(4, "customer", "C-9", "customer.",
                           "customer.personal_identity_code: not valid") ==
        "row 4 (customer C-9), column personal_identity_code: not valid");
  CHECK(DescribeRowRefusal(5, "customer", "C-8", "customer.", "customer.address.city: required") ==
        "row 5 (customer C-8), column city: required");
  CHECK(DescribeRowRefusal(2, "product", "X", "product.",
                           "product.unit_price_cents: must be positive") ==
        "row 2 (product X), column unit_price: must be positive");
  // A code in a careless message is redacted; a message without a field path is kept whole.
  CHECK(DescribeRowRefusal(3, "customer", "C-7", "customer.",
                           "customer.personal_identity_code: 131052-308U is not valid") ==
        "row 3 (customer C-7), column personal_identity_code: [identity code] is not valid");
  CHECK(DescribeRowRefusal(3, "customer", "C-7", "customer.", "request_id: used before") ==
        "row 3 (customer C-7): request_id: used before");

  std::vector<DraftRow> drafts(1002);
  drafts[1001].line_rows = {1500, 1501, 1503};
  drafts[1001].draft.set_invoice_id("F-1001");
  v1::DraftRejection rejection;
  rejection.set_batch(1);
  rejection.set_index(1);
  rejection.set_invoice_id("F-1001");
  rejection.set_message("invoices[1].lines[2].quantity_milli: must be positive");
  CHECK(DescribeDraftRejection(rejection, drafts) ==
        "row 1503 (invoice F-1001), column quantity: must be positive");
  rejection.set_message("invoices[1].customer_number: unknown customer \"C-404\"");
  CHECK(DescribeDraftRejection(rejection, drafts) ==
        "row 1500 (invoice F-1001), column customer_number: unknown customer \"C-404\"");
  rejection.set_index(-1);
  rejection.set_message("and 5 more rejections");
  CHECK(DescribeDraftRejection(rejection, drafts) == "and 5 more rejections");
}

TEST_CASE("Usage documents every invoicing command") {
  const std::string usage = Usage();
  for (const char* command :
       {"invoicing settings show",
        "invoicing settings set --file settings.json",
        "--reminder-fee EUR",
        "invoicing customers import --file customers.csv",
        "invoicing customers list",
        "invoicing customers show NUMBER",
        "invoicing products import --file products.csv",
        "invoicing products list",
        "invoicing invoice create --customer NUMBER",
        "invoicing invoice create --file draft.json",
        "invoicing invoice issue ID",
        "invoicing invoice show ID",
        "invoicing invoice delete ID",
        "invoicing invoice list",
        "--due-from",
        "invoicing invoice credit ID [--lines 1,2]",
        "invoicing invoice render ID --format finvoice|text|html [--out FILE]",
        "invoicing billing import --run RUN --file drafts.csv",
        "invoicing billing run RUN",
        "invoicing billing show RUN",
        "invoicing payments import --file camt054.xml",
        "invoicing payments list [--unmatched]",
        "invoicing payments allocate PAYMENT INVOICE",
        "invoicing reminders run [--as-of YYYY-MM-DD]",
        "invoicing ageing [--as-of YYYY-MM-DD]",
        "invoicing reference-rates list",
        "invoicing reference-rates set --year YYYY --half 1|2 --rate PERCENT"}) {
    INFO(command);
    CHECK(absl::StrContains(usage, command));
  }
}

// --- Against the fake service --------------------------------------------------------------------

struct Result {
  int code;
  std::string out;
  std::string err;
};

// A gRPC server with a fake InvoicingService on a free loopback port, standing for the gateway.
class InvoicingServer {
 public:
  InvoicingServer() {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.SetMaxReceiveMessageSize(64 << 20);
    builder.RegisterService(&invoicing_);
    server_ = builder.BuildAndStart();
    REQUIRE(server_ != nullptr);
    REQUIRE(port > 0);
    address_ = absl::StrCat("127.0.0.1:", port);
  }
  ~InvoicingServer() { server_->Shutdown(std::chrono::system_clock::now()); }

  FakeInvoicing& invoicing() { return invoicing_; }

  // Runs tahectl as an operator through the gateway: TAHE_GATEWAY_ADDR and TAHE_API_KEY, no env
  // file, waits polled every 10 ms.
  Result Run(std::vector<std::string> args, const std::string& stdin_text = "") {
    const std::map<std::string, std::string> env = {{"TAHE_GATEWAY_ADDR", address_},
                                                    {"TAHE_API_KEY", kOperatorKey},
                                                    {"TAHE_LOCAL_ENV", "/dev/null"}};
    std::ostringstream out;
    std::ostringstream err;
    std::istringstream in(stdin_text);
    RunEnvironment environment;
    environment.env = [env](absl::string_view name) -> std::optional<std::string> {
      auto it = env.find(std::string(name));
      if (it == env.end()) {
        return std::nullopt;
      }
      return it->second;
    };
    environment.in = &in;
    environment.poll_interval = absl::Milliseconds(10);
    const int code = RunTahectl(args, environment, out, err);
    return Result{code, out.str(), err.str()};
  }

  std::vector<FakeInvoicing::CallRecord> Calls(const std::string& method) {
    std::vector<FakeInvoicing::CallRecord> matching;
    for (const FakeInvoicing::CallRecord& call : invoicing_.calls()) {
      if (call.method == method) {
        matching.push_back(call);
      }
    }
    return matching;
  }

 private:
  FakeInvoicing invoicing_{kOperatorKey};
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
};

// A file in the test's working directory, removed afterwards.
class TempFile {
 public:
  // The process id keeps test cases that ctest runs in parallel apart.
  TempFile(absl::string_view name, const std::string& contents)
      : path_(absl::StrCat(name, ".", getpid())) {
    std::ofstream file(path_, std::ios::binary);
    file << contents;
  }
  explicit TempFile(absl::string_view name) : path_(absl::StrCat(name, ".", getpid())) {
    std::remove(path_.c_str());
  }
  ~TempFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string ReadAll(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::stringstream contents;
  contents << file.rdbuf();
  return contents.str();
}

template <typename Message>
Message ParsedJson(const std::string& json) {
  Message message;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  REQUIRE(google::protobuf::util::JsonStringToMessage(json, &message, options).ok());
  return message;
}

// Settings, the three products and the customers C-1 (a person) and ORG-1.
void SetUp(InvoicingServer& server) {
  REQUIRE(server
              .Run({"invoicing", "settings", "set", "--seller-name", "Lahden kaupunki",
                    "--business-id", "0135202-4", "--iban", "FI2112345600000785"})
              .code == kExitOk);
  TempFile products("invoicing_test_products.csv", kProducts);
  REQUIRE(server.Run({"invoicing", "products", "import", "--file", products.path()}).code ==
          kExitOk);
  TempFile customers(
      "invoicing_test_customers.csv",
      absl::StrCat(kCustomersHeader, Person("C-1", "Matti", kCode), Organisation("ORG-1")));
  REQUIRE(server.Run({"invoicing", "customers", "import", customers.path()}).code == kExitOk);
}

TEST_CASE("customers import upserts row by row with ids from the file, and again changes nothing") {
  InvoicingServer server;
  const std::string text =
      absl::StrCat(kCustomersHeader, Person("C-1", "Matti", kCode), Organisation("ORG-1"));
  TempFile file("invoicing_test_customers.csv", text);
  Result first = server.Run({"invoicing", "customers", "import", "--file", file.path()});
  REQUIRE(first.code == kExitOk);
  CHECK(first.out == absl::StrCat(file.path(), ": 2 customers: 2 saved, 0 refused\n"));
  Result again = server.Run({"invoicing", "customers", "import", "--file", file.path()});
  REQUIRE(again.code == kExitOk);
  CHECK(again.out == first.out);
  std::vector<FakeInvoicing::CallRecord> calls = server.Calls("UpsertCustomer");
  REQUIRE(calls.size() == 4);
  const std::string prefix = ContentRequestIdPrefix("customers", text);
  std::vector<std::string> ids;
  for (const FakeInvoicing::CallRecord& call : calls) {
    CHECK(call.authorization == absl::StrCat("Bearer ", kOperatorKey));
    ids.push_back(dynamic_cast<const v1::UpsertCustomerRequest&>(*call.request).request_id());
  }
  // One id per row (rows 2 and 3), the same on the second run: the service replays them.
  CHECK(ids ==
        std::vector<std::string>{prefix + "-r2", prefix + "-r3", prefix + "-r2", prefix + "-r3"});
  CHECK(calls[0].request_id_metadata != calls[2].request_id_metadata);

  // The list follows the pages (two customers a page) and shows no identity code.
  TempFile more(
      "invoicing_test_more.csv",
      absl::StrCat(kCustomersHeader, Person("C-2", "Anna", "010190-123A"), Organisation("ORG-2")));
  REQUIRE(server.Run({"invoicing", "customers", "import", more.path()}).code == kExitOk);
  Result list = server.Run({"invoicing", "customers", "list"});
  REQUIRE(list.code == kExitOk);
  CHECK(absl::StrContains(list.out, "4 customers\n"));
  CHECK(absl::StrContains(list.out, "on file"));
  CHECK_FALSE(absl::StrContains(list.out, "131052"));
  CHECK(server.Calls("ListCustomers").size() == 2);
  Result json = server.Run({"invoicing", "customers", "list", "--json"});
  REQUIRE(json.code == kExitOk);
  CHECK(ParsedJson<v1::ListCustomersResponse>(json.out).customers_size() == 4);
  Result show = server.Run({"invoicing", "customers", "show", "ORG-1"});
  REQUIRE(show.code == kExitOk);
  CHECK(absl::StrContains(show.out, "3221318-2"));
  // --tenant goes with the call: lahti has no such customer in the fake.
  Result other = server.Run({"invoicing", "customers", "show", "ORG-1", "--tenant", "lahti"});
  CHECK(other.code == kExitFailure);
  CHECK(other.err == "tahectl: NOT_FOUND: GetCustomer: customer_number: no such customer\n");
  CHECK(server.Calls("GetCustomer").at(1).tenant == "lahti");
}

TEST_CASE("customers import lists refused rows by row and column, exits 1, prints no code") {
  InvoicingServer server;
  TempFile file(
      "invoicing_test_refused.csv",
      absl::StrCat(kCustomersHeader, Person("C-1", "Matti", kCode),
                   Person("C-9", "Virhe", "131052-308U"), Person("C-8", "Echo", "010190-123A")));
  Result result = server.Run({"invoicing", "customers", "import", "--file", file.path()});
  CHECK(result.code == kExitFailure);
  CHECK(result.out ==
        absl::StrCat(file.path(),
                     ": 3 customers: 1 saved, 2 refused\n"
                     "refused: row 3 (customer C-9), column personal_identity_code: not a valid "
                     "personal identity code\n"
                     "refused: row 4 (customer C-8), column personal_identity_code: [identity "
                     "code] is not valid\n"));
  CHECK(result.err ==
        "tahectl: INVALID_ARGUMENT: UpsertCustomer: 2 of 3 customers refused; the first: row 3 "
        "(customer C-9), column personal_identity_code: not a valid personal identity code\n");
  // The codes reached the service and nowhere else.
  CHECK(server.invoicing().identity_codes_received().size() == 3);
  for (const char* code : {"131052", "010190"}) {
    CHECK_FALSE(absl::StrContains(result.out + result.err, code));
  }
  Result json = server.Run({"invoicing", "--json", "customers", "import", file.path()});
  CHECK(json.code == kExitFailure);
  CHECK(absl::StrContains(json.out, "\"saved\":1"));
  CHECK(absl::StrContains(json.out, "\"code\":\"INVALID_ARGUMENT\""));
  CHECK_FALSE(absl::StrContains(json.out, "010190"));
}

TEST_CASE("an invoicing file with problems is refused whole and nothing is called") {
  InvoicingServer server;
  TempFile file("invoicing_test_bad.csv",
                absl::StrCat(kCustomersHeader, Person("C-1", "Matti", kCode),
                             "C-2,PERSON,Anna,,,Katu 1,,Lahti,,,,\n"));
  Result result = server.Run({"invoicing", "customers", "import", file.path()});
  CHECK(result.code == kExitUsage);
  CHECK(result.err == absl::StrCat("tahectl: ", file.path(),
                                   ": 1 problem, nothing was imported:\n"
                                   "  row 3, column postal_code: required\n"
                                   "Run 'tahectl --help' for usage.\n"));
  TempFile products("invoicing_test_bad_products.csv", "code,name,unit_price,vat_category\n");
  result = server.Run({"invoicing", "products", "import", "--file", products.path()});
  CHECK(result.code == kExitUsage);
  CHECK(absl::StrContains(result.err, "the file has a header but no records"));
  CHECK(server.invoicing().calls().empty());
}

TEST_CASE("invoice create from --line options, issue --wait-posted, show, list and render") {
  InvoicingServer server;
  SetUp(server);
  server.invoicing().SetBehaviour({.posted_after_gets = 3});
  Result created = server.Run({"invoicing", "invoice", "create", "--customer", "ORG-1",
                               "--delivery-date", "2026-03-02", "--line", "KOTIHOITO:2.5", "--line",
                               "ATERIA:4", "--invoice-id", "inv-1", "--request-id", "create-1"});
  INFO(created.err);
  REQUIRE(created.code == kExitOk);
  const auto& request =
      dynamic_cast<const v1::CreateInvoiceRequest&>(*server.Calls("CreateInvoice").at(0).request);
  CHECK(request.request_id() == "create-1");
  CHECK(request.invoice().lines(0).quantity_milli() == 2500);
  CHECK(request.invoice().lines(1).quantity_milli() == 4000);
  // The fake's rates: 2.5 h × 40.00 = 100.00 + 25.5 % = 25.50; 4 × 8.50 = 34.00 + 14 % = 4.76.
  CHECK(absl::StrContains(created.out, "created draft inv-1 (request id create-1)\n"));
  CHECK(absl::StrContains(created.out, "Gross             164.26"));

  Result issued = server.Run(
      {"invoicing", "invoice", "issue", "inv-1", "--date", "2026-03-05", "--wait-posted"});
  INFO(issued.err);
  REQUIRE(issued.code == kExitOk);
  CHECK(absl::StrContains(issued.out, "issued inv-1 as L-1"));
  CHECK(absl::StrContains(issued.out, "posted (ledger entry #101)"));
  CHECK(absl::StrContains(issued.err, "issued, posting to the ledger"));
  CHECK(absl::StrContains(issued.err, "posted to the ledger"));
  CHECK(server.Calls("GetInvoice").size() == 3);
  CHECK(dynamic_cast<const v1::IssueInvoiceRequest&>(*server.Calls("IssueInvoice").at(0).request)
            .invoice_date() == "2026-03-05");

  Result show = server.Run({"invoicing", "--json", "invoice", "show", "inv-1"});
  REQUIRE(show.code == kExitOk);
  v1::Invoice invoice = ParsedJson<v1::Invoice>(show.out);
  CHECK(invoice.gross_cents() == 16426);
  CHECK(invoice.due_date() == "2026-03-19");

  for (const char* id : {"inv-2", "inv-3"}) {
    REQUIRE(server
                .Run({"invoicing", "invoice", "create", "--customer", "C-1", "--delivery-date",
                      "2026-03-02", "--line", "PALVELU:1", "--invoice-id", id})
                .code == kExitOk);
  }
  Result list = server.Run({"invoicing", "invoice", "list", "--status", "draft,issued"});
  REQUIRE(list.code == kExitOk);
  CHECK(absl::StrContains(list.out, "3 invoices\n"));
  CHECK(server.Calls("ListInvoices").size() == 2);  // two a page
  const auto& list_request =
      dynamic_cast<const v1::ListInvoicesRequest&>(*server.Calls("ListInvoices").at(0).request);
  CHECK(list_request.statuses_size() == 2);
  CHECK(list_request.statuses(0) == v1::INVOICE_STATUS_DRAFT);
  Result drafts = server.Run({"invoicing", "--json", "invoice", "list", "--customer", "C-1"});
  CHECK(ParsedJson<v1::ListInvoicesResponse>(drafts.out).invoices_size() == 2);

  TempFile out("invoicing_test_render.xml");
  Result rendered = server.Run(
      {"invoicing", "invoice", "render", "inv-1", "--format", "finvoice", "--out", out.path()});
  REQUIRE(rendered.code == kExitOk);
  CHECK(ReadAll(out.path()) == "<Finvoice>L-1</Finvoice>");
  // Never over an existing file, and that costs no call.
  const size_t calls = server.invoicing().calls().size();
  Result again = server.Run(
      {"invoicing", "invoice", "render", "inv-1", "--format", "finvoice", "--out", out.path()});
  CHECK(again.code == kExitUsage);
  CHECK(absl::StrContains(again.err, "already exists; not overwriting it"));
  CHECK(server.invoicing().calls().size() == calls);
  Result text = server.Run({"invoicing", "invoice", "render", "inv-1", "--format", "text"});
  CHECK(text.out == "LASKU L-1\n");

  Result credit = server.Run({"invoicing", "invoice", "credit", "inv-1", "--lines", "2"});
  REQUIRE(credit.code == kExitOk);
  CHECK(absl::StrContains(credit.out, "issued credit note"));
  CHECK(dynamic_cast<const v1::CreateCreditNoteRequest&>(
            *server.Calls("CreateCreditNote").at(0).request)
            .line_numbers(0) == 2);
}

TEST_CASE("invoice create --file reads an InvoiceDraftInput and refuses what is not one") {
  InvoicingServer server;
  SetUp(server);
  TempFile draft("invoicing_test_draft.json",
                 R"({"customerNumber": "C-1", "deliveryDate": "2026-03-02",
                     "lines": [{"productCode": "KOTIHOITO", "quantityMilli": "1500"}]})");
  Result created = server.Run({"invoicing", "--json", "invoice", "create", "--file", draft.path(),
                               "--invoice-id", "from-file"});
  REQUIRE(created.code == kExitOk);
  v1::Invoice invoice = ParsedJson<v1::Invoice>(created.out);
  CHECK(invoice.invoice_id() == "from-file");
  // 1.5 h × 40.00 = 60.00 net.
  CHECK(invoice.net_cents() == 6000);
  TempFile bad("invoicing_test_bad_draft.json", R"({"customer": "C-1"})");
  Result refused = server.Run({"invoicing", "invoice", "create", "--file", bad.path()});
  CHECK(refused.code == kExitUsage);
  CHECK(absl::StrContains(refused.err, "not a JSON InvoiceDraftInput"));
  Result mixed =
      server.Run({"invoicing", "invoice", "create", "--file", draft.path(), "--customer", "C-1"});
  CHECK(mixed.code == kExitUsage);
  CHECK(absl::StrContains(mixed.err, "--customer cannot be combined with --file"));
  // An unknown product is the service's to refuse, naming the field.
  Result unknown = server.Run({"invoicing", "invoice", "create", "--customer", "C-1",
                               "--delivery-date", "2026-03-02", "--line", "NOPE:1"});
  CHECK(unknown.code == kExitFailure);
  CHECK(unknown.err ==
        "tahectl: INVALID_ARGUMENT: CreateInvoice: invoice.lines[0].product_code: unknown "
        "product \"NOPE\"\n");
}

TEST_CASE("invoice issue --wait-posted gives up after --wait-timeout") {
  InvoicingServer server;
  SetUp(server);
  server.invoicing().SetBehaviour({.posted_after_gets = 1'000'000});
  REQUIRE(server
              .Run({"invoicing", "invoice", "create", "--customer", "C-1", "--delivery-date",
                    "2026-03-02", "--line", "PALVELU:1", "--invoice-id", "slow"})
              .code == kExitOk);
  Result result = server.Run(
      {"invoicing", "invoice", "issue", "slow", "--wait-posted", "--wait-timeout", "300ms"});
  CHECK(result.code == kExitFailure);
  CHECK(absl::StrContains(result.err,
                          "tahectl: DEADLINE_EXCEEDED: invoice slow is issued but its ledger "
                          "posting is still waiting after 300ms; the outbox keeps retrying"));
}

TEST_CASE("billing import streams batches, reports rejects by row, billing run shows progress") {
  InvoicingServer server;
  SetUp(server);
  std::string text = "invoice_id,customer_number,delivery_date,product_code,quantity\n";
  for (int i = 0; i < 1200; ++i) {
    absl::StrAppend(&text, "F-", i, ",C-1,2026-03-31,ATERIA,10\n");
  }
  absl::StrAppend(&text, "F-bad,C-404,2026-03-31,ATERIA,1\n");
  TempFile file("invoicing_test_drafts.csv", text);
  Result imported =
      server.Run({"invoicing", "billing", "import", "--run", "2026-03", "--file", file.path()});
  CHECK(imported.code == kExitFailure);
  CHECK(imported.out ==
        absl::StrCat(file.path(),
                     ": 1201 drafts in 2 batches: 1200 accepted, 1 rejected\n"
                     "rejected: row 1202 (invoice F-bad), column customer_number: unknown "
                     "customer \"C-404\"\n"));
  std::vector<FakeInvoicing::CallRecord> calls = server.Calls("ImportDraftInvoices");
  REQUIRE(calls.size() == 1);
  const std::string prefix = ContentRequestIdPrefix("drafts", absl::StrCat("2026-03\n", text));
  CHECK(calls[0].request_ids == std::vector<std::string>{prefix + "-b0", prefix + "-b1"});
  CHECK(calls[0].message_sizes == std::vector<size_t>{1000, 201});
  // Again: the batches replay, nothing new.
  Result again =
      server.Run({"invoicing", "billing", "import", "--run", "2026-03", "--file", file.path()});
  CHECK(again.out == imported.out);

  Result run = server.Run({"invoicing", "billing", "run", "2026-03", "--date", "2026-03-31"});
  INFO(run.err);
  REQUIRE(run.code == kExitOk);
  // Plain progress lines: one per tenth of the 1 200 invoices.
  CHECK(absl::StrContains(run.err, "issuing: 120/1200 invoices (10%)"));
  CHECK(absl::StrContains(run.err, "issued: 1200/1200 invoices (100%)"));
  CHECK(absl::StrContains(run.out, "Billing run 2026-03: DONE, posted to the ledger\n"));
  CHECK(absl::StrContains(run.out, "L-1..L-1200"));
  CHECK(server.Calls("WatchBillingRun").size() >= 1);
  Result show = server.Run({"invoicing", "--json", "billing", "show", "2026-03"});
  REQUIRE(show.code == kExitOk);
  v1::BillingRun shown = ParsedJson<v1::BillingRun>(show.out);
  CHECK(shown.issued() == 1200);
  // Each: 10 × 8.50 = 85.00 + 14 % = 11.90 → 96.90.
  CHECK(shown.gross_cents() == 1200 * 9690);
  // A run that cannot be run again: the service's refusal, after its watch ended.
  Result rerun = server.Run({"invoicing", "billing", "run", "2026-03"});
  CHECK(rerun.code == kExitFailure);
  CHECK(absl::StrContains(rerun.err, "FAILED_PRECONDITION: RunBilling: billing_run_id"));
}

TEST_CASE("payments import streams 1 MiB chunks named by the file's SHA-256, again is a no-op") {
  InvoicingServer server;
  SetUp(server);
  REQUIRE(server
              .Run({"invoicing", "invoice", "create", "--customer", "ORG-1", "--delivery-date",
                    "2026-03-02", "--line", "PALVELU:1", "--invoice-id", "paid"})
              .code == kExitOk);
  REQUIRE(server.Run({"invoicing", "invoice", "issue", "paid"}).code == kExitOk);
  // The fake's bank file, padded beyond two chunks: 1000.00 for invoice L-1 (reference 1001),
  // 20.00 for no invoice.
  const std::string file =
      absl::StrCat("<?xml version=\"1.0\"?>\n", std::string((5 << 20) / 2, 'x'),
                   "\nPAY 100000 1001 BANK-1\nPAY 2000 9999 BANK-2\n");
  TempFile path("invoicing_test_camt054.xml", file);
  Result first = server.Run({"invoicing", "payments", "import", "--file", path.path()});
  INFO(first.err);
  REQUIRE(first.code == kExitOk);
  const std::string request_id = ContentRequestIdPrefix("payments", file);
  CHECK(absl::StrContains(first.out, absl::StrCat("2 transactions (request id ", request_id)));
  CHECK(absl::StrContains(first.out, "matched                                    1  1 000.00"));
  CHECK(absl::StrContains(first.out, "unmatched                                  1     20.00"));
  std::vector<FakeInvoicing::CallRecord> calls = server.Calls("ImportPayments");
  REQUIRE(calls.size() == 1);
  const size_t mib = size_t{1} << 20;
  CHECK(calls[0].message_sizes == std::vector<size_t>{mib, mib, file.size() - 2 * mib});
  CHECK(calls[0].request_ids == std::vector<std::string>{request_id, "", ""});
  CHECK(server.invoicing().payment_files().at(request_id) == file);

  // The same command again: the same request id, the first answer.
  Result again = server.Run({"invoicing", "payments", "import", path.path()});
  CHECK(again.out == first.out);
  // Under a fresh request id: both transactions were imported before.
  Result fresh = server.Run({"invoicing", "--json", "payments", "import", "--file", path.path(),
                             "--request-id", "fresh"});
  REQUIRE(fresh.code == kExitOk);
  v1::ImportPaymentsResponse duplicates = ParsedJson<v1::ImportPaymentsResponse>(fresh.out);
  CHECK(duplicates.duplicates() == 2);
  CHECK(duplicates.matched() == 0);
  Result json = server.Run({"invoicing", "--json", "invoice", "show", "paid"});
  CHECK(ParsedJson<v1::Invoice>(json.out).status() == v1::INVOICE_STATUS_PAID);

  // Not a bank file: the service's refusal, with its code.
  TempFile text("invoicing_test_not.xml", "this is not XML\n");
  Result refused = server.Run({"invoicing", "payments", "import", "--file", text.path()});
  CHECK(refused.code == kExitFailure);
  CHECK(absl::StrContains(refused.err, "tahectl: INVALID_ARGUMENT: ImportPayments: file: line 1"));
}

TEST_CASE("payments list --unmatched shows the queue and allocate moves money to an invoice") {
  InvoicingServer server;
  SetUp(server);
  REQUIRE(server
              .Run({"invoicing", "invoice", "create", "--customer", "C-1", "--delivery-date",
                    "2026-03-02", "--line", "PALVELU:1", "--invoice-id", "open"})
              .code == kExitOk);
  REQUIRE(server.Run({"invoicing", "invoice", "issue", "open"}).code == kExitOk);
  TempFile path("invoicing_test_unmatched.xml",
                "<?xml version=\"1.0\"?>\nPAY 5000 42 BANK-1\nPAY 7000 43 BANK-2\n");
  REQUIRE(server.Run({"invoicing", "payments", "import", path.path()}).code == kExitOk);
  Result queue = server.Run({"invoicing", "payments", "list", "--unmatched"});
  INFO(queue.out);
  REQUIRE(queue.code == kExitOk);
  CHECK(absl::StrContains(queue.out, "2 payments\n"));
  CHECK(absl::StrContains(queue.out, "Total                           120.00       0.00\n"));
  const auto& list =
      dynamic_cast<const v1::ListPaymentsRequest&>(*server.Calls("ListPayments").at(0).request);
  CHECK(list.statuses_size() == 2);
  Result allocated =
      server.Run({"invoicing", "payments", "allocate", "P1", "open", "--amount", "20.00"});
  INFO(allocated.err);
  REQUIRE(allocated.code == kExitOk);
  CHECK(dynamic_cast<const v1::AllocatePaymentRequest&>(
            *server.Calls("AllocatePayment").at(0).request)
            .amount_cents() == 2000);
  CHECK(absl::StrContains(allocated.out, "allocated payment P1 to open"));
  CHECK(absl::StrContains(allocated.out, "PARTIALLY_ALLOCATED"));
  Result json = server.Run({"invoicing", "--json", "invoice", "show", "open"});
  // 1 000.00 - 20.00.
  CHECK(ParsedJson<v1::Invoice>(json.out).open_cents() == 98000);
}

TEST_CASE("reference-rates set sends the rate in hundredths and list prints the table") {
  InvoicingServer server;
  Result set = server.Run({"invoicing", "reference-rates", "set", "--year", "2026", "--half", "2",
                           "--rate", "2.25", "--provisional", "--request-id", "rate-1"});
  INFO(set.err);
  REQUIRE(set.code == kExitOk);
  CHECK(set.out == "reference rate of 2026 H2: 2.25 % (provisional) (request id rate-1)\n");
  const auto& sent = dynamic_cast<const v1::SetReferenceRateRequest&>(
      *server.Calls("SetReferenceRate").at(0).request);
  CHECK(sent.rate().year() == 2026);
  CHECK(sent.rate().half() == 2);
  CHECK(sent.rate().rate_hundredths() == 225);
  CHECK(sent.rate().provisional());
  Result list = server.Run({"invoicing", "reference-rates", "list"});
  REQUIRE(list.code == kExitOk);
  CHECK(list.out ==
        "Half-year  Reference rate  Provisional  Source\n"
        "2026 H2            2.25 %  yes          loaded\n");
  for (const std::vector<std::string>& bad :
       {std::vector<std::string>{"invoicing", "reference-rates", "set", "--year", "2026", "--half",
                                 "3", "--rate", "2"},
        {"invoicing", "reference-rates", "set", "--year", "2026", "--half", "1", "--rate", "2.255"},
        {"invoicing", "reference-rates", "set", "--half", "1", "--rate", "2"},
        {"invoicing", "reference-rates", "set", "--year", "1999", "--half", "1", "--rate", "2"},
        {"invoicing", "reference-rates", "drop"}}) {
    INFO(absl::StrJoin(bad, " "));
    CHECK(server.Run(bad).code == kExitUsage);
  }
  CHECK(server.Calls("SetReferenceRate").size() == 1);
}

TEST_CASE("reminders run and ageing pass the date and print the figures") {
  InvoicingServer server;
  SetUp(server);
  REQUIRE(server
              .Run({"invoicing", "invoice", "create", "--customer", "C-1", "--delivery-date",
                    "2025-03-01", "--line", "PALVELU:1", "--invoice-id", "late"})
              .code == kExitOk);
  REQUIRE(server.Run({"invoicing", "invoice", "issue", "late", "--date", "2025-03-03"}).code ==
          kExitOk);
  Result round = server.Run(
      {"invoicing", "reminders", "run", "--as-of", "2025-04-16", "--request-id", "round-1"});
  INFO(round.err);
  REQUIRE(round.code == kExitOk);
  // Due 17.3.; 30 days to 16.4.: the fake's 1 000.00 × 10.5 % × 30/365 = 8.63.
  CHECK(absl::StrContains(round.out, "Reminder round as of 2025-04-16: 1 reminder\n"));
  CHECK(absl::StrContains(round.out, "30  1 000.00  5.00      8.63"));
  CHECK(dynamic_cast<const v1::RunReminderRoundRequest&>(
            *server.Calls("RunReminderRound").at(0).request)
            .request_id() == "round-1");
  Result ageing = server.Run({"invoicing", "ageing", "--as-of", "2025-05-01"});
  REQUIRE(ageing.code == kExitOk);
  // 1 000.00 + 5.00 + 8.63, 45 days overdue on 1.5.
  CHECK(absl::StrContains(ageing.out, "31-60                1  1 013.63"));
  Result json = server.Run({"invoicing", "--json", "ageing"});
  CHECK(ParsedJson<v1::ReceivablesAgeing>(json.out).buckets_size() == 5);
  // Without --request-id each run has a fresh one.
  REQUIRE(server.Run({"invoicing", "reminders", "run"}).code == kExitOk);
  REQUIRE(server.Run({"invoicing", "reminders", "run"}).code == kExitOk);
  std::vector<FakeInvoicing::CallRecord> rounds = server.Calls("RunReminderRound");
  REQUIRE(rounds.size() == 3);
  const auto id = [&](size_t i) {
    return dynamic_cast<const v1::RunReminderRoundRequest&>(*rounds[i].request).request_id();
  };
  CHECK(absl::StartsWith(id(1), "tahectl-"));
  CHECK(id(1) != id(2));
}

TEST_CASE("settings set with options changes only those, with a file replaces all") {
  InvoicingServer server;
  // No settings yet: the options start from nothing.
  Result first = server.Run({"invoicing", "settings", "set", "--seller-name", "Lahden kaupunki",
                             "--business-id", "0135202-4", "--iban", "FI2112345600000785",
                             "--reminder-fee", "5.00"});
  INFO(first.err);
  REQUIRE(first.code == kExitOk);
  Result changed = server.Run({"invoicing", "--json", "settings", "set", "--reminder-fee", "0",
                               "--reference-prefix", "12"});
  REQUIRE(changed.code == kExitOk);
  v1::InvoicingSettings settings = ParsedJson<v1::InvoicingSettings>(changed.out);
  CHECK(settings.seller_name() == "Lahden kaupunki");
  CHECK(settings.reminder_fee_cents() == 0);
  CHECK(settings.reference_prefix() == "12");
  // Series L moved with the prefix it had.
  REQUIRE(settings.series_size() == 1);
  CHECK(settings.series(0).reference_prefix() == "12");

  TempFile file("invoicing_test_settings.json",
                R"({"sellerName": "Vaasan kaupunki", "iban": "FI2112345600000785"})");
  Result replaced = server.Run({"invoicing", "settings", "set", "--file", file.path()});
  REQUIRE(replaced.code == kExitOk);
  Result show = server.Run({"invoicing", "settings", "show"});
  CHECK(absl::StrContains(show.out, "Vaasan kaupunki"));
  CHECK(absl::StrContains(show.out, "reminder fee              0.00 EUR"));
}

TEST_CASE("invoicing usage errors exit 2 before any call") {
  InvoicingServer server;
  TempFile csv("invoicing_test_usage.csv", "x\n");
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"invoicing"},
           {"invoicing", "nonsense"},
           {"invoicing", "invoice"},
           {"invoicing", "invoice", "frobnicate"},
           {"invoicing", "settings", "set"},
           {"invoicing", "settings", "set", "--file", csv.path(), "--iban", "FI21"},
           {"invoicing", "settings", "set", "--payment-terms", "0"},
           {"invoicing", "customers", "import"},
           {"invoicing", "customers", "import", "a.csv", "--file", "b.csv"},
           {"invoicing", "customers", "import", "--file", "no-such-file.csv"},
           {"invoicing", "invoice", "create", "--customer", "C-1", "--delivery-date", "2026-02-30",
            "--line", "A:1"},
           {"invoicing", "invoice", "create", "--customer", "C-1", "--delivery-date", "2026-02-03"},
           {"invoicing", "invoice", "create", "--customer", "C-1", "--delivery-date", "2026-02-03",
            "--line", "A:x"},
           {"invoicing", "invoice", "issue"},
           {"invoicing", "invoice", "issue", "x", "--wait-timeout", "1s"},
           {"invoicing", "invoice", "issue", "x", "--date", "5.3.2026"},
           {"invoicing", "invoice", "list", "--status", "lost"},
           {"invoicing", "invoice", "credit", "x", "--lines", "0"},
           {"invoicing", "invoice", "render", "x"},
           {"invoicing", "invoice", "render", "x", "--format", "pdf"},
           {"invoicing", "billing", "import", "--file", csv.path()},
           {"invoicing", "billing", "run"},
           {"invoicing", "payments", "allocate", "P1"},
           {"invoicing", "payments", "allocate", "P1", "I1", "--amount", "0"},
           {"invoicing", "payments", "list", "--unmatched", "--period", "2026-01"},
           {"invoicing", "reminders", "run", "--as-of", "yesterday"},
           {"invoicing", "reminders", "send"},
           {"invoicing", "ageing", "extra"}}) {
    INFO(absl::StrJoin(args, " "));
    Result result = server.Run(args);
    CHECK(result.code == kExitUsage);
    CHECK(absl::StrContains(result.err, "Run 'tahectl --help' for usage."));
  }
  CHECK(server.invoicing().calls().empty());
}

}  // namespace
}  // namespace tahe::tahectl
