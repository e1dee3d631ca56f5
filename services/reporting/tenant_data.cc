#include "services/reporting/tenant_data.h"

#include <cstdint>

#include "absl/strings/str_cat.h"

namespace tahe::reporting {

absl::StatusOr<tahe::tenancy::v1::DescribeTenantDataResponse> DescribeReportingTenantData(
    pg::Pool& pool, const server::CallContext& call) {
  using Response = tahe::tenancy::v1::DescribeTenantDataResponse;
  return pg::InTenantTransaction<Response>(
      pool, call.tenant, {.deadline = call.deadline, .read_only = true},
      [&](pqxx::work& tx) -> absl::StatusOr<Response> {
        pqxx::row counts = tx.exec_params1(
            "SELECT (SELECT count(*) FROM budgets WHERE tenant_id = $1),"
            " (SELECT count(*) FROM statement_mappings WHERE tenant_id = $1),"
            " (SELECT coalesce(max(last_sequence), 0) FROM feed_checkpoints"
            "  WHERE tenant_id = $1)",
            call.tenant);
        const int64_t budget_lines = counts[0].as<int64_t>();
        const int64_t mappings = counts[1].as<int64_t>();
        const int64_t applied = counts[2].as<int64_t>();
        Response resp;
        resp.set_service("tahe.reporting.v1.ReportingService");
        resp.set_has_data(budget_lines + mappings + applied > 0);
        resp.set_summary(absl::StrCat(
            budget_lines, " budget lines, ", mappings > 0 ? "an adjusted" : "the default",
            " statement mapping, ledger entries applied up to ", applied));
        return resp;
      });
}

}  // namespace tahe::reporting
