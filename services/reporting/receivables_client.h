#pragma once

// Receivables ageing for reporting, read through from the cell's invoicing: only invoicing holds
// each invoice's due date and open amount (and keeps the open ones indexed by due date), so its
// GetReceivablesAgeing is exact and always as fresh as invoicing itself. The call carries the
// caller's tenant, request id and deadline, the internal credential and the principal
// "service:reporting"; invoicing's status comes back as it is (UNAVAILABLE when it is down).
//
//   InvoicingReceivables receivables(channel, token);
//   ReportingService service(..., {.receivables = receivables.AsSource()});

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/server/call.h"
#include "tahe/invoicing/v1/invoicing.grpc.pb.h"
#include "tahe/reporting/v1/reporting.pb.h"

namespace tahe::reporting {

// What ReportingService asks for an ageing (null: no invoicing configured).
using ReceivablesSource = std::function<absl::StatusOr<v1::ReceivablesAgeing>(
    const server::CallContext&, const v1::GetReceivablesAgeingRequest&)>;

// INVALID_ARGUMENT naming as_of_date unless it is empty or a valid "YYYY-MM-DD".
absl::Status ValidateAgeingRequest(const v1::GetReceivablesAgeingRequest& request);

// Invoicing's answer in reporting's terms (cents as *_minor, totals).
v1::ReceivablesAgeing FromInvoicing(const tahe::invoicing::v1::ReceivablesAgeing& ageing);

class InvoicingReceivables {
 public:
  struct Options {
    // Upper bound of one call when the caller has no (or a later) deadline.
    absl::Duration timeout = absl::Seconds(10);
  };

  InvoicingReceivables(std::shared_ptr<grpc::Channel> invoicing, std::string internal_token,
                       Options options);
  InvoicingReceivables(std::shared_ptr<grpc::Channel> invoicing, std::string internal_token)
      : InvoicingReceivables(std::move(invoicing), std::move(internal_token), Options()) {}

  // Blocks (run it on a worker, never on a gRPC thread). REQUIRES: call.tenant non-empty.
  absl::StatusOr<v1::ReceivablesAgeing> Ageing(const server::CallContext& call,
                                               const v1::GetReceivablesAgeingRequest& request);

  // Ageing as a ReceivablesSource. REQUIRES: *this outlives it.
  ReceivablesSource AsSource();

 private:
  std::unique_ptr<tahe::invoicing::v1::InvoicingService::Stub> stub_;
  const std::string token_;
  const Options options_;
};

}  // namespace tahe::reporting
