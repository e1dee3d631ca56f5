#pragma once

// The ledger's SQL. Every statement runs in a transaction scoped to the caller's tenant (RLS) and
// also filters on tenant_id explicitly, so isolation holds twice. Blocking: call from a worker.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "libs/pg/pg.h"
#include "libs/server/call.h"
#include "services/ledger/ledger_domain.h"
#include "tahe/ledger/v1/ledger.pb.h"
#include "tahe/tenancy/v1/tenancy.pb.h"

namespace prometheus {
class Registry;
class Counter;
class Histogram;
}  // namespace prometheus

namespace tahe::ledger {

using server::CallContext;

// One entry to post: from PostEntry, PostEntries or ReverseEntry.
struct PostInput {
  std::string tenant;
  std::string request_id;
  v1::EntryDraft draft;  // validated with ValidateDraft
  int64_t reverses_sequence = 0;
  std::string fingerprint;      // DraftFingerprint(draft, reverses_sequence)
  std::string field = "entry";  // prefix for error messages ("entries[3]")
};

struct PostOutcome {
  absl::Status status;
  v1::Entry entry;
  bool replayed = false;
  int64_t lines = 0;  // lines written (0 for a replay)
};

struct LedgerMetrics {
  explicit LedgerMetrics(prometheus::Registry* registry);
  // After a commit: counts the posted and replayed entries of one transaction.
  void Committed(const std::vector<PostOutcome>& outcomes);
  void Verified(bool ok);
  prometheus::Counter* entries_posted = nullptr;
  prometheus::Counter* lines_posted = nullptr;
  prometheus::Counter* entries_replayed = nullptr;
  prometheus::Histogram* batch_size = nullptr;
  prometheus::Counter* verify_ok = nullptr;
  prometheus::Counter* verify_failed = nullptr;
};

class LedgerRepository {
 public:
  LedgerRepository(pg::Pool* pool, LedgerMetrics* metrics) : pool_(pool), metrics_(metrics) {}

  // --- accounts, dimensions, periods (idempotent by request id) ---
  absl::StatusOr<v1::Account> CreateAccount(const CallContext& call,
                                            const v1::CreateAccountRequest& req);
  absl::StatusOr<v1::ListAccountsResponse> ListAccounts(const CallContext& call,
                                                        const v1::ListAccountsRequest& req);
  absl::StatusOr<v1::Account> UpdateAccount(const CallContext& call,
                                            const v1::UpdateAccountRequest& req);
  absl::StatusOr<v1::Account> CloseAccount(const CallContext& call,
                                           const v1::CloseAccountRequest& req);
  absl::StatusOr<v1::LoadChartTemplateResponse> LoadChartTemplate(
      const CallContext& call, const v1::LoadChartTemplateRequest& req);
  absl::StatusOr<v1::Dimension> DefineDimension(const CallContext& call,
                                                const v1::DefineDimensionRequest& req);
  absl::StatusOr<v1::ListDimensionsResponse> ListDimensions(const CallContext& call);
  absl::StatusOr<v1::Period> OpenPeriod(const CallContext& call, const v1::OpenPeriodRequest& req);
  absl::StatusOr<v1::Period> ClosePeriod(const CallContext& call,
                                         const v1::ClosePeriodRequest& req);
  absl::StatusOr<v1::Period> ReopenPeriod(const CallContext& call,
                                          const v1::ReopenPeriodRequest& req);
  absl::StatusOr<v1::ListPeriodsResponse> ListPeriods(const CallContext& call);

  // --- tenancy ---
  // What call.tenant has here (accounts, dimensions, periods, entries), for the gateway's check
  // before an organisation moves to another region.
  absl::StatusOr<tahe::tenancy::v1::DescribeTenantDataResponse> DescribeTenantData(
      const CallContext& call);

  // --- posting ---
  // Posts a group of entries (any tenants) in ONE transaction: the group commit. Each input gets
  // its own outcome; invalid inputs are skipped, valid ones committed together. If the
  // transaction as a whole fails, every input is retried in a transaction of its own, so one
  // bad apple never fails its neighbours.
  std::vector<PostOutcome> PostGroup(const std::vector<const PostInput*>& inputs);
  // All-or-nothing: either every input is posted (or replayed), or nothing is written and the
  // outcomes say which inputs failed. Outcomes of new entries carry only the sequence.
  // REQUIRES: all inputs of one tenant.
  absl::StatusOr<std::vector<PostOutcome>> PostAtomically(const CallContext& call,
                                                          const std::vector<PostInput>& inputs);

  // --- queries ---
  absl::StatusOr<v1::Entry> GetEntry(const CallContext& call, int64_t sequence);
  absl::StatusOr<v1::ListEntriesResponse> ListEntries(const CallContext& call,
                                                      const v1::ListEntriesRequest& req);
  absl::StatusOr<v1::GetAccountBalanceResponse> GetAccountBalance(
      const CallContext& call, const v1::GetAccountBalanceRequest& req);
  absl::StatusOr<v1::GetTrialBalanceResponse> GetTrialBalance(
      const CallContext& call, const v1::GetTrialBalanceRequest& req);
  absl::StatusOr<v1::VerifyChainResponse> VerifyChain(const CallContext& call);
  // Up to `limit` entries with sequence > after, in order (for the change feed).
  absl::StatusOr<std::vector<v1::Entry>> EntriesAfter(const CallContext& call, int64_t after,
                                                      int limit);
  // Every organisation of the cell with entries, its last sequence and posting time (for feed
  // followers; runs without a tenant through the SECURITY DEFINER ledger_feed_tenants()).
  absl::StatusOr<v1::ListFeedTenantsResponse> ListFeedTenants(const CallContext& call);

 private:
  // `full_entries`: fill each outcome's entry as stored (else only its sequence).
  std::vector<PostOutcome> PostInTransaction(pqxx::work& tx,
                                             const std::vector<const PostInput*>& inputs,
                                             bool full_entries);
  pg::Pool* pool_;
  LedgerMetrics* metrics_;
};

}  // namespace tahe::ledger
