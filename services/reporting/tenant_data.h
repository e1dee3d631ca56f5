#pragma once

// What reporting_db holds of one organisation, for tahe.tenancy.v1.TenantDataService (the gateway
// asks every service of a region before an organisation moves away). The aggregates are derived
// from the ledger, whose own answer covers the entries; what only reporting holds — budgets and an
// adjusted statement mapping — and how far the feed got are what a move would strand here.

#include "absl/status/statusor.h"
#include "libs/pg/pg.h"
#include "libs/server/call.h"
#include "tahe/tenancy/v1/tenancy.pb.h"

namespace tahe::reporting {

absl::StatusOr<tahe::tenancy::v1::DescribeTenantDataResponse> DescribeReportingTenantData(
    pg::Pool& pool, const server::CallContext& call);

}  // namespace tahe::reporting
