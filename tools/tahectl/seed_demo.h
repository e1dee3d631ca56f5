#pragma once

// The demo data of the local suite: a small, realistic month of municipal bookkeeping per tenant,
// posted with fixed request ids so that seeding again changes nothing.
//
// Per tenant, SeedDemo:
//   1. loads the fi-municipal chart template and adds any demo account the template lacks;
//   2. defines the cost_centre dimension with the tenant's cost centres;
//   3. opens every period of the current year up to the current month that does not exist yet;
//   4. posts ten balanced entries (tax revenue, state funding, purchases, sales, customer fees,
//      payments, wages and pension contributions) dated in the demo month: the previous month,
//      or January when the current month is January.
// The request ids are "demo-<tenant>-<YYYY-MM>-<nn>" for entries and "demo-<tenant>-..." for
// the set-up calls, so every call replays on a second run. The content of an entry depends only
// on the tenant, the month and its number, never on the day of seeding.
//
//   ASSIGN_OR_RETURN(SeedSummary summary, SeedDemo(settings, {"lahti", "phhyky"}, today, out));

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "tahe/ledger/v1/ledger.pb.h"
#include "tools/tahectl/client.h"

namespace tahe::tahectl {

inline constexpr absl::string_view kDemoChartTemplate = "fi-municipal";
inline constexpr absl::string_view kCostCentreDimension = "cost_centre";

// The accounts the demo entries post to; created when the chart template has no such number.
const std::vector<tahe::ledger::v1::Account>& DemoAccounts();

// The cost_centre dimension of a tenant: municipal departments, or the service areas of a
// wellbeing services county for "phhyky".
tahe::ledger::v1::Dimension DemoCostCentres(absl::string_view tenant);

// The month whose entries SeedDemo posts on `today`.
absl::CivilMonth DemoMonth(absl::CivilDay today);

// The ten demo entries of `tenant` for `month`, request ids included. Every entry balances; the
// amounts are scaled per tenant and vary a little per month, all in integer cents.
std::vector<tahe::ledger::v1::PostEntryRequest> DemoEntries(absl::string_view tenant,
                                                            absl::CivilMonth month);

struct TenantSeedResult {
  std::string tenant;
  int32_t template_accounts_created = 0;
  int32_t template_accounts_existing = 0;
  int demo_accounts_created = 0;
  int periods_opened = 0;
  int periods_existing = 0;
  int entries_posted = 0;
  int entries_replayed = 0;
  int64_t first_sequence = 0;
  int64_t last_sequence = 0;
};

// Seeds every tenant in turn, printing one summary line per tenant to `out`. `settings.tenant` is
// ignored: each tenant's calls carry its own x-tahe-tenant. Stops at the first failed call.
absl::StatusOr<std::vector<TenantSeedResult>> SeedDemo(const ClientSettings& settings,
                                                       const std::vector<std::string>& tenants,
                                                       absl::CivilDay today, std::ostream& out);

}  // namespace tahe::tahectl
