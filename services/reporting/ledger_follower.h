#pragma once

// Follows the ledger's change feed of every organisation of the cell into reporting's read model,
// applying each entry exactly once.
//
//   LedgerFollower follower(ledger_channel, token, &repository, &metrics, {});
//   follower.Start();   // discovery, one stream per tenant, appliers
//   ...
//   follower.Stop();    // idempotent; the destructor calls it
//
// How (README "The feed"):
//  - Discovery: every `discovery_interval` ListFeedTenants (internal credential, no tenant) says
//    which tenants have entries and how far the ledger is; a new tenant gets a reader thread.
//  - Reader (one per tenant): loads the tenant's checkpoint from reporting_db, opens
//    WatchEntries(after_sequence = checkpoint) and queues what arrives (bounded: the reader waits
//    while `max_queued_entries` are queued). A failed stream is re-opened with exponential
//    backoff, from the checkpoint in the database.
//  - Appliers (`apply_threads`): take up to `max_batch_entries` queued entries of one tenant and
//    apply them in one transaction that moves the checkpoint from the value it was read at
//    (ReportingRepository::ApplyEntries). If another follower moved it first, nothing is written
//    and the tenant resynchronises (its stream is cancelled and re-opened from the database's
//    checkpoint). Any other failure puts the batch back and retries after a backoff.
// Because the checkpoint commits with the aggregates it covers, a crash of reporting (or of the
// ledger) at any point loses nothing and repeats nothing: the next reader starts after the last
// committed batch.

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/reporting/reporting_metrics.h"
#include "services/reporting/reporting_repository.h"
#include "tahe/ledger/v1/ledger.grpc.pb.h"

namespace tahe::reporting {

class LedgerFollower {
 public:
  struct Options {
    absl::Duration discovery_interval = absl::Seconds(1);
    int max_batch_entries = 2000;
    int max_queued_entries = 20000;
    int apply_threads = 2;
    absl::Duration min_backoff = absl::Milliseconds(100);
    absl::Duration max_backoff = absl::Seconds(10);
    // For tests that simulate a crash mid-feed: after this many applied batches the follower
    // applies nothing more (0: no limit).
    int64_t batch_limit = 0;
  };

  struct TenantStatus {
    std::string tenant;
    int64_t applied_sequence = 0;
    int64_t ledger_sequence = 0;
    int64_t events_behind = 0;
    double seconds_behind = 0;
  };

  // `metrics` may be null. REQUIRES: `repository` and `metrics` outlive the follower.
  LedgerFollower(std::shared_ptr<grpc::Channel> ledger, std::string internal_token,
                 ReportingRepository* repository, ReportingMetrics* metrics, Options options);
  ~LedgerFollower();

  void Start();
  // Cancels the streams and joins every thread; queued entries not applied are dropped (the
  // checkpoint in the database says where the next follower resumes). Idempotent.
  void Stop();

  // What this follower knows, by tenant.
  std::vector<TenantStatus> Status() const;
  // Batches applied so far.
  int64_t batches_applied() const { return batches_applied_; }

 private:
  struct TenantFeed {
    std::string tenant;
    std::deque<ledger::v1::Entry> queue;
    int64_t applied = 0;         // the checkpoint, as last read or written
    int64_t queued_through = 0;  // the last sequence queued (or applied)
    int64_t ledger_last = 0;
    absl::Time ledger_last_posted = absl::InfinitePast();
    bool loaded = false;  // applied is known
    bool applying = false;
    // While applying: when the batch's first entry was posted (the oldest not applied).
    absl::Time applying_posted = absl::InfinitePast();
    bool resync = false;
    absl::Time retry_at = absl::InfinitePast();
    absl::Duration apply_backoff = absl::ZeroDuration();
    grpc::ClientContext* stream = nullptr;
    std::thread reader;
  };

  void Discover();
  void Read(TenantFeed* feed);
  void Apply();
  // Waits up to `d` or until Stop. Returns false when stopping.
  bool Sleep(absl::Duration d) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void UpdateLag() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  TenantStatus StatusOf(const TenantFeed& feed, absl::Time now) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AddMetadata(grpc::ClientContext& ctx, const std::string& tenant) const;

  const std::unique_ptr<ledger::v1::LedgerService::Stub> stub_;
  const std::string token_;
  ReportingRepository* const repository_;
  ReportingMetrics* const metrics_;
  const Options options_;

  mutable absl::Mutex mu_;
  absl::CondVar changed_;
  std::map<std::string, std::unique_ptr<TenantFeed>> feeds_ ABSL_GUARDED_BY(mu_);
  // The tenant whose batch an applier took last: the next search starts after it.
  std::string last_served_ ABSL_GUARDED_BY(mu_);
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // Batches taken for applying and not failed (for batch_limit).
  int64_t batches_started_ ABSL_GUARDED_BY(mu_) = 0;
  std::atomic<int64_t> batches_applied_{0};
  std::thread discovery_;
  std::vector<std::thread> appliers_;
};

}  // namespace tahe::reporting
