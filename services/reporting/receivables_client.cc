#include "services/reporting/receivables_client.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "libs/dates/dates.h"
#include "libs/status/status.h"

namespace tahe::reporting {

absl::Status ValidateAgeingRequest(const v1::GetReceivablesAgeingRequest& request) {
  if (request.as_of_date().empty()) {
    return absl::OkStatus();
  }
  return ParseDate("as_of_date", request.as_of_date()).status();
}

v1::ReceivablesAgeing FromInvoicing(const tahe::invoicing::v1::ReceivablesAgeing& ageing) {
  v1::ReceivablesAgeing out;
  out.set_as_of_date(ageing.as_of());
  int64_t invoices = 0;
  for (const tahe::invoicing::v1::AgeingBucket& bucket : ageing.buckets()) {
    v1::AgeingBucket* b = out.add_buckets();
    b->set_bucket(bucket.bucket());
    b->set_invoices(bucket.invoices());
    b->set_open_minor(bucket.open_cents());
    invoices += bucket.invoices();
  }
  out.set_total_open_minor(ageing.open_cents());
  out.set_total_invoices(invoices);
  return out;
}

InvoicingReceivables::InvoicingReceivables(std::shared_ptr<grpc::Channel> invoicing,
                                           std::string internal_token, Options options)
    : stub_(tahe::invoicing::v1::InvoicingService::NewStub(std::move(invoicing))),
      token_(std::move(internal_token)),
      options_(options) {}

absl::StatusOr<v1::ReceivablesAgeing> InvoicingReceivables::Ageing(
    const server::CallContext& call, const v1::GetReceivablesAgeingRequest& request) {
  RETURN_IF_ERROR(ValidateAgeingRequest(request));
  grpc::ClientContext ctx;
  ctx.AddMetadata(server::kInternalTokenHeader, token_);
  ctx.AddMetadata(server::kTenantHeader, call.tenant);
  ctx.AddMetadata(server::kPrincipalHeader, "service:reporting");
  if (!call.request_id.empty()) {
    ctx.AddMetadata(server::kRequestIdHeader, call.request_id);
  }
  ctx.set_deadline(absl::ToChronoTime(std::min(call.deadline, absl::Now() + options_.timeout)));
  tahe::invoicing::v1::GetReceivablesAgeingRequest asked;
  asked.set_as_of(request.as_of_date());
  tahe::invoicing::v1::ReceivablesAgeing ageing;
  grpc::Status status = stub_->GetReceivablesAgeing(&ctx, asked, &ageing);
  if (!status.ok()) {
    absl::Status failed = FromGrpcStatus(status);
    return absl::Status(failed.code(), absl::StrCat("invoicing's receivables: ", failed.message()));
  }
  return FromInvoicing(ageing);
}

ReceivablesSource InvoicingReceivables::AsSource() {
  return [this](const server::CallContext& call, const v1::GetReceivablesAgeingRequest& request) {
    return Ageing(call, request);
  };
}

}  // namespace tahe::reporting
