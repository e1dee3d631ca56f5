#include "services/reporting/ledger_follower.h"

#include <algorithm>
#include <utility>

#include "absl/time/clock.h"
#include "libs/log/log.h"
#include "libs/server/call.h"

namespace tahe::reporting {

namespace {

absl::Time ParsePostedAt(const std::string& text) {
  absl::Time t;
  std::string err;
  if (absl::ParseTime(absl::RFC3339_full, text, &t, &err)) {
    return t;
  }
  return absl::InfinitePast();
}

std::chrono::system_clock::time_point In(absl::Duration d) {
  return absl::ToChronoTime(absl::Now() + d);
}

}  // namespace

LedgerFollower::LedgerFollower(std::shared_ptr<grpc::Channel> ledger, std::string internal_token,
                               ReportingRepository* repository, ReportingMetrics* metrics,
                               Options options)
    : stub_(ledger::v1::LedgerService::NewStub(ledger)),
      token_(std::move(internal_token)),
      repository_(repository),
      metrics_(metrics),
      options_(options) {}

LedgerFollower::~LedgerFollower() { Stop(); }

void LedgerFollower::Start() {
  absl::MutexLock lock(&mu_);
  if (started_) return;
  started_ = true;
  discovery_ = std::thread([this] { Discover(); });
  for (int i = 0; i < std::max(1, options_.apply_threads); ++i) {
    appliers_.emplace_back([this] { Apply(); });
  }
}

void LedgerFollower::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
    for (auto& [tenant, feed] : feeds_) {
      if (feed->stream != nullptr) feed->stream->TryCancel();
    }
    changed_.SignalAll();
  }
  if (discovery_.joinable()) discovery_.join();
  for (std::thread& t : appliers_) t.join();
  appliers_.clear();
  // No new readers start once stopping_ is set (Discover has returned).
  std::vector<std::thread*> readers;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [tenant, feed] : feeds_) readers.push_back(&feed->reader);
  }
  for (std::thread* t : readers) {
    if (t->joinable()) t->join();
  }
}

void LedgerFollower::AddMetadata(grpc::ClientContext& ctx, const std::string& tenant) const {
  ctx.AddMetadata(server::kInternalTokenHeader, token_);
  if (!tenant.empty()) ctx.AddMetadata(server::kTenantHeader, tenant);
  ctx.AddMetadata(server::kPrincipalHeader, "service:reporting");
}

bool LedgerFollower::Sleep(absl::Duration d) {
  const absl::Time until = absl::Now() + d;
  while (!stopping_ && absl::Now() < until) {
    changed_.WaitWithDeadline(&mu_, until);
  }
  return !stopping_;
}

// --- discovery -----------------------------------------------------------------------------------

void LedgerFollower::Discover() {
  for (;;) {
    ledger::v1::ListFeedTenantsResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(In(absl::Seconds(5)));
    AddMetadata(ctx, "");
    grpc::Status status = stub_->ListFeedTenants(&ctx, ledger::v1::ListFeedTenantsRequest(), &resp);
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    if (!status.ok()) {
      if (metrics_ != nullptr) metrics_->Error("discovery");
      log::Warn("ledger feed discovery failed", {{"error", status.error_message()}});
    } else {
      for (const ledger::v1::FeedTenant& t : resp.tenants()) {
        std::unique_ptr<TenantFeed>& feed = feeds_[t.tenant()];
        if (feed == nullptr) {
          feed = std::make_unique<TenantFeed>();
          feed->tenant = t.tenant();
          TenantFeed* raw = feed.get();
          feed->reader = std::thread([this, raw] { Read(raw); });
        }
        feed->ledger_last = std::max(feed->ledger_last, t.last_sequence());
        if (feed->ledger_last == t.last_sequence()) {
          feed->ledger_last_posted = ParsePostedAt(t.last_posted_at());
        }
      }
    }
    UpdateLag();
    if (!Sleep(options_.discovery_interval)) return;
  }
}

// --- readers -------------------------------------------------------------------------------------

void LedgerFollower::Read(TenantFeed* feed) {
  absl::Duration backoff = options_.min_backoff;
  for (;;) {
    absl::StatusOr<int64_t> checkpoint =
        repository_->LoadCheckpoint(feed->tenant, absl::Now() + absl::Seconds(10));
    grpc::ClientContext ctx;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      if (!checkpoint.ok()) {
        if (metrics_ != nullptr) metrics_->Error("stream");
        log::Warn("reading the feed checkpoint failed",
                  {{"tenant", feed->tenant}, {"error", checkpoint.status().ToString()}});
        if (!Sleep(backoff)) return;
        backoff = std::min(backoff * 2, options_.max_backoff);
        continue;
      }
      // Start over from the database: nothing queued survives a reconnect.
      while (feed->applying && !stopping_) changed_.Wait(&mu_);
      if (stopping_) return;
      feed->queue.clear();
      // The checkpoint was read before waiting: a batch of ours may have committed since, and
      // only ever moves it forward.
      feed->applied = std::max(feed->applied, *checkpoint);
      feed->queued_through = feed->applied;
      feed->loaded = true;
      feed->resync = false;
      feed->stream = &ctx;
      UpdateLag();
    }
    AddMetadata(ctx, feed->tenant);
    ledger::v1::WatchEntriesRequest req;
    req.set_after_sequence(*checkpoint);
    std::unique_ptr<grpc::ClientReader<ledger::v1::Entry>> reader = stub_->WatchEntries(&ctx, req);
    ledger::v1::Entry entry;
    bool resynced = false;
    while (reader->Read(&entry)) {
      absl::MutexLock lock(&mu_);
      while (!stopping_ && !feed->resync &&
             static_cast<int>(feed->queue.size()) >= options_.max_queued_entries) {
        changed_.Wait(&mu_);
      }
      if (stopping_ || feed->resync) {
        resynced = feed->resync;
        break;
      }
      if (entry.sequence() <= feed->queued_through) continue;
      feed->queued_through = entry.sequence();
      feed->ledger_last = std::max(feed->ledger_last, entry.sequence());
      feed->queue.push_back(std::move(entry));
      backoff = options_.min_backoff;  // the stream works
      changed_.SignalAll();
    }
    {
      absl::MutexLock lock(&mu_);
      feed->stream = nullptr;
      resynced = resynced || feed->resync;
    }
    ctx.TryCancel();
    grpc::Status status = reader->Finish();
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    if (resynced) continue;  // re-read the checkpoint at once
    if (metrics_ != nullptr) metrics_->Error("stream");
    log::Warn("ledger feed stream ended; reconnecting",
              {{"tenant", feed->tenant},
               {"code", std::to_string(status.error_code())},
               {"error", status.error_message()}});
    if (!Sleep(backoff)) return;
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
}

// --- appliers ------------------------------------------------------------------------------------

void LedgerFollower::Apply() {
  absl::MutexLock lock(&mu_);
  for (;;) {
    if (stopping_) return;
    if (options_.batch_limit > 0 && batches_started_ >= options_.batch_limit) {
      changed_.Wait(&mu_);  // a simulated crash: apply nothing more until Stop
      continue;
    }
    const absl::Time now = absl::Now();
    TenantFeed* feed = nullptr;
    absl::Time next_retry = now + absl::Milliseconds(200);
    // Round robin: the search starts after the tenant served last, so tenants with a long
    // backlog take turns with the others instead of starving them.
    const auto ready = [&](TenantFeed& f) {
      if (f.queue.empty() || f.applying || f.resync || !f.loaded) return false;
      if (f.retry_at > now) {
        next_retry = std::min(next_retry, f.retry_at);
        return false;
      }
      return true;
    };
    const auto after_last = feeds_.upper_bound(last_served_);
    for (auto it = after_last; it != feeds_.end() && feed == nullptr; ++it) {
      if (ready(*it->second)) feed = it->second.get();
    }
    for (auto it = feeds_.begin(); it != after_last && feed == nullptr; ++it) {
      if (ready(*it->second)) feed = it->second.get();
    }
    if (feed == nullptr) {
      changed_.WaitWithDeadline(&mu_, next_retry);
      continue;
    }
    std::vector<ledger::v1::Entry> batch;
    while (!feed->queue.empty() && static_cast<int>(batch.size()) < options_.max_batch_entries) {
      batch.push_back(std::move(feed->queue.front()));
      feed->queue.pop_front();
    }
    const int64_t expected = feed->applied;
    last_served_ = feed->tenant;
    feed->applying = true;
    feed->applying_posted = ParsePostedAt(batch.front().posted_at());
    ++batches_started_;
    changed_.SignalAll();  // the reader may queue more

    mu_.Unlock();
    absl::StatusOr<int64_t> applied =
        repository_->ApplyEntries(feed->tenant, expected, batch, absl::Now() + absl::Seconds(30));
    const absl::Time done = absl::Now();
    mu_.Lock();

    feed->applying = false;
    if (!applied.ok()) --batches_started_;
    if (applied.ok()) {
      const int64_t count = *applied - expected;
      feed->applied = *applied;
      feed->apply_backoff = absl::ZeroDuration();
      ++batches_applied_;
      if (metrics_ != nullptr) {
        metrics_->Applied(count);
        for (const ledger::v1::Entry& e : batch) {
          if (e.sequence() > expected) {
            absl::Time posted = ParsePostedAt(e.posted_at());
            if (posted != absl::InfinitePast()) {
              metrics_->ApplyDelay(std::max(absl::ZeroDuration(), done - posted));
            }
          }
        }
      }
    } else if (applied.status().code() == absl::StatusCode::kFailedPrecondition) {
      // Another follower moved the checkpoint (or the feed skipped): start over from the
      // database's checkpoint; this batch is dropped.
      if (metrics_ != nullptr) metrics_->Error("conflict");
      log::Warn("feed checkpoint moved; resynchronising",
                {{"tenant", feed->tenant}, {"error", applied.status().ToString()}});
      feed->resync = true;
      if (feed->stream != nullptr) feed->stream->TryCancel();
    } else {
      if (metrics_ != nullptr) metrics_->Error("apply");
      log::Warn("applying a feed batch failed; retrying",
                {{"tenant", feed->tenant}, {"error", applied.status().ToString()}});
      for (auto it = batch.rbegin(); it != batch.rend(); ++it) {
        feed->queue.push_front(std::move(*it));
      }
      feed->apply_backoff =
          std::min(std::max(options_.min_backoff, feed->apply_backoff * 2), options_.max_backoff);
      feed->retry_at = done + feed->apply_backoff;
    }
    UpdateLag();
    changed_.SignalAll();
  }
}

// --- status --------------------------------------------------------------------------------------

LedgerFollower::TenantStatus LedgerFollower::StatusOf(const TenantFeed& feed,
                                                      absl::Time now) const {
  TenantStatus s;
  s.tenant = feed.tenant;
  s.applied_sequence = feed.applied;
  s.ledger_sequence = std::max(feed.ledger_last, feed.queued_through);
  s.events_behind = std::max<int64_t>(0, s.ledger_sequence - feed.applied);
  if (s.events_behind > 0) {
    // The oldest entry not applied: the first of the batch being applied, else the head of the
    // queue, else, when the ledger has entries that have not arrived yet, (a lower bound) the
    // ledger's last one.
    absl::Time oldest = absl::InfinitePast();
    if (feed.applying) {
      oldest = feed.applying_posted;
    } else if (!feed.queue.empty()) {
      oldest = ParsePostedAt(feed.queue.front().posted_at());
    } else if (feed.ledger_last > feed.queued_through) {
      oldest = feed.ledger_last_posted;
    }
    if (oldest != absl::InfinitePast()) {
      s.seconds_behind = std::max(0.0, absl::ToDoubleSeconds(now - oldest));
    }
  }
  return s;
}

void LedgerFollower::UpdateLag() {
  if (metrics_ == nullptr) return;
  const absl::Time now = absl::Now();
  int64_t events = 0;
  double seconds = 0;
  for (const auto& [tenant, feed] : feeds_) {
    TenantStatus s = StatusOf(*feed, now);
    events += s.events_behind;
    seconds = std::max(seconds, s.seconds_behind);
  }
  metrics_->Lag(events, seconds);
}

std::vector<LedgerFollower::TenantStatus> LedgerFollower::Status() const {
  absl::MutexLock lock(&mu_);
  std::vector<TenantStatus> out;
  const absl::Time now = absl::Now();
  for (const auto& [tenant, feed] : feeds_) {
    out.push_back(StatusOf(*feed, now));
  }
  return out;
}

}  // namespace tahe::reporting
