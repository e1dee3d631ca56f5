#include "libs/server/tls.h"

#include <grpcpp/grpcpp.h>
#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <prometheus/registry.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <string>
#include <vector>

#include "libs/metrics/testdata/echo.grpc.pb.h"
#include "libs/server/grpc_server.h"
#include "libs/server/raw_call_for_test.h"

namespace tahe::server {
namespace {

// A key and a certificate, as PEM.
struct Issued {
  std::string cert;
  std::string key;
};

std::string ToPem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(size));
  BIO_free(bio);
  return pem;
}

std::string ToPem(X509* cert) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(size));
  BIO_free(bio);
  return pem;
}

EVP_PKEY* NewKey() { return EVP_EC_gen("P-256"); }

void AddExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  REQUIRE(ext != nullptr);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

// A certificate for `name` valid for `days`, signed by `ca` (self-signed when null). A CA when
// `is_ca`, else a leaf for 127.0.0.1 and localhost usable by servers and clients.
Issued Issue(const std::string& name, int days, const Issued* ca, bool is_ca) {
  EVP_PKEY* key = NewKey();
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), static_cast<long>(std::rand()) + 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert), static_cast<long>(days) * 86400);
  X509_set_pubkey(cert, key);
  X509_NAME* subject = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(name.c_str()), -1, -1, 0);
  X509* issuer_cert = cert;
  EVP_PKEY* issuer_key = key;
  BIO* bio = nullptr;
  if (ca != nullptr) {
    bio = BIO_new_mem_buf(ca->cert.data(), static_cast<int>(ca->cert.size()));
    issuer_cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    bio = BIO_new_mem_buf(ca->key.data(), static_cast<int>(ca->key.size()));
    issuer_key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
  }
  X509_set_issuer_name(cert, X509_get_subject_name(issuer_cert));
  if (is_ca) {
    AddExtension(cert, issuer_cert, NID_basic_constraints, "critical,CA:TRUE");
    AddExtension(cert, issuer_cert, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    AddExtension(cert, issuer_cert, NID_basic_constraints, "critical,CA:FALSE");
    AddExtension(cert, issuer_cert, NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost");
    AddExtension(cert, issuer_cert, NID_ext_key_usage, "serverAuth,clientAuth");
  }
  REQUIRE(X509_sign(cert, issuer_key, EVP_sha256()) > 0);
  Issued issued{ToPem(cert), ToPem(key)};
  if (ca != nullptr) {
    X509_free(issuer_cert);
    EVP_PKEY_free(issuer_key);
  }
  X509_free(cert);
  EVP_PKEY_free(key);
  return issued;
}

// Files in a temporary directory, removed at the end of the test.
class TempFiles {
 public:
  TempFiles() {
    char templ[] = "/tmp/tahe-tls-test.XXXXXX";
    dir_ = mkdtemp(templ);
  }
  ~TempFiles() { std::system(("rm -rf " + dir_).c_str()); }
  std::string Write(const std::string& name, const std::string& contents) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path) << contents;
    return path;
  }

 private:
  std::string dir_;
};

class EchoImpl final : public tahe::test::v1::EchoService::CallbackService {
  grpc::ServerUnaryReactor* Echo(grpc::CallbackServerContext* ctx,
                                 const tahe::test::v1::EchoRequest* req,
                                 tahe::test::v1::EchoResponse* resp) override {
    resp->set_message(req->message());
    auto* reactor = ctx->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

grpc::Status CallEcho(const std::string& address,
                      const std::shared_ptr<grpc::ChannelCredentials>& credentials) {
  auto stub = tahe::test::v1::EchoService::NewStub(grpc::CreateChannel(address, credentials));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  tahe::test::v1::EchoRequest req;
  req.set_message("hei");
  tahe::test::v1::EchoResponse resp;
  grpc::Status status = stub->Echo(&ctx, req, &resp);
  if (status.ok()) {
    CHECK(resp.message() == "hei");
  }
  return status;
}

std::shared_ptr<grpc::ChannelCredentials> ClientCredentials(const Issued& ca,
                                                            const Issued* client) {
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = ca.cert;
  if (client != nullptr) {
    options.pem_cert_chain = client->cert;
    options.pem_private_key = client->key;
  }
  return grpc::SslCredentials(options);
}

TEST_CASE("certificate expiry and key matching are read from PEM") {
  Issued ca = Issue("Tahe test CA", 365, nullptr, true);
  Issued leaf = Issue("ledger", 30, &ca, false);
  absl::StatusOr<int64_t> not_after = CertificateNotAfter(leaf.cert);
  REQUIRE(not_after.ok());
  const int64_t expected = static_cast<int64_t>(std::time(nullptr)) + 30 * 86400;
  CHECK(*not_after >= expected - 5);
  CHECK(*not_after <= expected + 5);
  CHECK(CheckKeyMatchesCertificate(leaf.cert, leaf.key).ok());
  absl::Status mismatch = CheckKeyMatchesCertificate(leaf.cert, ca.key);
  CHECK(mismatch.code() == absl::StatusCode::kInvalidArgument);
  CHECK(CertificateNotAfter("not a certificate").status().code() ==
        absl::StatusCode::kInvalidArgument);

  // An encrypted key is refused at once (OpenSSL would otherwise ask for a passphrase and wait).
  BIO* bio = BIO_new_mem_buf(leaf.key.data(), static_cast<int>(leaf.key.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  REQUIRE(key != nullptr);
  BIO* out = BIO_new(BIO_s_mem());
  static char passphrase[] = "sekret";
  REQUIRE(PEM_write_bio_PrivateKey(out, key, EVP_aes_256_cbc(), nullptr, 0, nullptr, passphrase) ==
          1);
  char* data = nullptr;
  const long size = BIO_get_mem_data(out, &data);
  const std::string encrypted(data, static_cast<size_t>(size));
  BIO_free(out);
  EVP_PKEY_free(key);
  absl::Status refused = CheckKeyMatchesCertificate(leaf.cert, encrypted);
  CHECK(refused.code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(refused.message()), Catch::Contains("encrypted"));
}

TEST_CASE("bad TLS settings fail at start naming the flag") {
  TempFiles files;
  Issued ca = Issue("Tahe test CA", 365, nullptr, true);
  Issued leaf = Issue("ledger", 30, &ca, false);
  const std::string cert = files.Write("cert.pem", leaf.cert);
  const std::string key = files.Write("key.pem", leaf.key);
  const std::string other_key = files.Write("other.pem", ca.key);
  const std::string garbage = files.Write("garbage.pem", "hello");

  auto message = [](const TlsSettings& settings) {
    absl::StatusOr<ServiceTls> tls = LoadServiceTls(settings, "", nullptr);
    REQUIRE_FALSE(tls.ok());
    CHECK(tls.status().code() == absl::StatusCode::kInvalidArgument);
    return std::string(tls.status().message());
  };
  CHECK_THAT(message({.cert_file = cert}), Catch::Contains("--tls_key_file"));
  CHECK_THAT(message({.client_ca_file = cert}), Catch::Contains("--tls_cert_file"));
  CHECK_THAT(message({.cert_file = garbage, .key_file = key}), Catch::Contains("--tls_cert_file"));
  CHECK_THAT(message({.cert_file = cert, .key_file = other_key}),
             Catch::Contains("--tls_key_file") && Catch::Contains("does not belong"));
  CHECK_THAT(message({.cert_file = cert, .key_file = "/nonexistent/key.pem"}),
             Catch::Contains("--tls_key_file"));
  CHECK_THAT(message({.upstream_cert_file = cert, .upstream_key_file = key}),
             Catch::Contains("--upstream_tls_ca_file"));
  CHECK_THAT(message({.upstream_ca_file = garbage}), Catch::Contains("--upstream_tls_ca_file"));
  CHECK_THAT(message({.upstream_ca_file = cert, .upstream_cert_file = cert}),
             Catch::Contains("--upstream_tls_key_file"));

  absl::StatusOr<ServiceTls> plain = LoadServiceTls(TlsSettings{}, "", nullptr);
  REQUIRE(plain.ok());
  CHECK(plain->server != nullptr);
  CHECK(plain->upstream != nullptr);
}

TEST_CASE("a server requiring mutual TLS refuses plaintext and strangers, serves probes apart") {
  TempFiles files;
  Issued ca = Issue("Tahe test CA", 365, nullptr, true);
  Issued other_ca = Issue("Some other CA", 365, nullptr, true);
  Issued server_cert = Issue("ledger", 30, &ca, false);
  Issued client_cert = Issue("gateway", 10, &ca, false);
  Issued stranger = Issue("stranger", 10, &other_ca, false);

  prometheus::Registry registry;
  TlsSettings settings{.cert_file = files.Write("server.pem", server_cert.cert),
                       .key_file = files.Write("server.key", server_cert.key),
                       .client_ca_file = files.Write("ca.pem", ca.cert),
                       .upstream_ca_file = files.Write("ca2.pem", ca.cert),
                       .upstream_cert_file = files.Write("client.pem", client_cert.cert),
                       .upstream_key_file = files.Write("client.key", client_cert.key)};
  absl::StatusOr<ServiceTls> tls = LoadServiceTls(settings, "127.0.0.1:0", &registry);
  REQUIRE(tls.ok());

  EchoImpl echo;
  auto started = GrpcServer::Start({.listen = "127.0.0.1:0",
                                    .services = {&echo},
                                    .health_names = {"tahe.test.v1.EchoService"},
                                    .credentials = tls->server,
                                    .health_listen = tls->health_listen});
  REQUIRE(started.ok());
  std::unique_ptr<GrpcServer> server = *std::move(started);
  REQUIRE(server->health_port() > 0);

  // The process's own upstream credentials (mTLS with the client certificate) get through.
  CHECK(CallEcho(server->address(), tls->upstream).ok());
  // Plaintext, TLS without a client certificate, and a certificate of another CA do not.
  CHECK(CallEcho(server->address(), grpc::InsecureChannelCredentials()).error_code() ==
        grpc::StatusCode::UNAVAILABLE);
  CHECK(CallEcho(server->address(), ClientCredentials(ca, nullptr)).error_code() ==
        grpc::StatusCode::UNAVAILABLE);
  CHECK(CallEcho(server->address(), ClientCredentials(ca, &stranger)).error_code() ==
        grpc::StatusCode::UNAVAILABLE);
  // A client that does not trust the server's CA refuses it.
  CHECK(CallEcho(server->address(), ClientCredentials(other_ca, &client_cert)).error_code() ==
        grpc::StatusCode::UNAVAILABLE);

  // The health listener answers in plaintext, and only health.
  const std::string health_address = "127.0.0.1:" + std::to_string(server->health_port());
  // grpc.health.v1.Health/Check by hand: HealthCheckRequest{service = 1}, the response's
  // status is field 1 (1 = SERVING).
  auto check = [&health_address](const std::string& service) {
    std::string request_bytes;
    if (!service.empty()) {
      request_bytes = std::string(1, '\x0a') + static_cast<char>(service.size()) + service;
    }
    std::string bytes;
    REQUIRE(RawUnaryCall(health_address, "/grpc.health.v1.Health/Check", request_bytes, {}, &bytes)
                .ok());
    REQUIRE(bytes.size() == 2);
    REQUIRE(bytes[0] == '\x08');
    return static_cast<int>(bytes[1]);
  };
  CHECK(check("") == 1);  // SERVING
  CHECK(check("tahe.test.v1.EchoService") == 1);
  CHECK(CallEcho(health_address, grpc::InsecureChannelCredentials()).error_code() ==
        grpc::StatusCode::UNIMPLEMENTED);

  // Both certificates' expiry is exported.
  int gauges = 0;
  for (const auto& family : registry.Collect()) {
    if (family.name != "tahe_tls_certificate_expiry_timestamp_seconds") continue;
    for (const auto& metric : family.metric) {
      ++gauges;
      const double days = (metric.gauge.value - static_cast<double>(std::time(nullptr))) / 86400;
      const std::string role = metric.label.at(0).value;
      CHECK(days == Approx(role == "server" ? 30 : 10).margin(0.01));
    }
  }
  CHECK(gauges == 2);

  server->Shutdown(absl::Seconds(1));
}

}  // namespace
}  // namespace tahe::server
