#include "services/reporting/reporting_metrics.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

namespace tahe::reporting {

ReportingMetrics::ReportingMetrics(prometheus::Registry* registry) {
  if (registry == nullptr) return;
  report_duration_ = &prometheus::BuildHistogram()
                          .Name("tahe_reporting_report_duration_seconds")
                          .Help("Duration of report RPCs, by report")
                          .Register(*registry);
  applied_ = &prometheus::BuildCounter()
                  .Name("tahe_reporting_feed_events_applied_total")
                  .Help("Ledger entries applied to the read model")
                  .Register(*registry)
                  .Add({});
  lag_events_ = &prometheus::BuildGauge()
                     .Name("tahe_reporting_feed_lag_events")
                     .Help("Ledger entries not applied yet, summed over tenants")
                     .Register(*registry)
                     .Add({});
  lag_seconds_ = &prometheus::BuildGauge()
                      .Name("tahe_reporting_feed_lag_seconds")
                      .Help("Age of the oldest ledger entry not applied yet; 0 when caught up")
                      .Register(*registry)
                      .Add({});
  apply_delay_ = &prometheus::BuildHistogram()
                      .Name("tahe_reporting_feed_apply_delay_seconds")
                      .Help("Time from posting in the ledger to applied in reporting, per entry")
                      .Register(*registry)
                      .Add({}, prometheus::Histogram::BucketBoundaries{0.01, 0.025, 0.05, 0.1, 0.25,
                                                                       0.5, 1, 2.5, 5, 10, 30, 60});
  errors_ = &prometheus::BuildCounter()
                 .Name("tahe_reporting_feed_errors_total")
                 .Help("Feed follower errors, by reason")
                 .Register(*registry);
  for (const char* reason : {"discovery", "stream", "apply", "conflict"}) {
    errors_->Add({{"reason", reason}});
  }
}

void ReportingMetrics::Report(const std::string& report, absl::Duration duration) {
  if (report_duration_ == nullptr) return;
  report_duration_
      ->Add({{"report", report}},
            prometheus::Histogram::BucketBoundaries{0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1,
                                                    0.25, 0.5, 1, 2.5, 5})
      .Observe(absl::ToDoubleSeconds(duration));
}

void ReportingMetrics::Applied(int64_t entries) {
  if (applied_ != nullptr) applied_->Increment(static_cast<double>(entries));
}

void ReportingMetrics::ApplyDelay(absl::Duration delay) {
  if (apply_delay_ != nullptr) apply_delay_->Observe(absl::ToDoubleSeconds(delay));
}

void ReportingMetrics::Lag(int64_t events, double seconds) {
  if (lag_events_ == nullptr) return;
  lag_events_->Set(static_cast<double>(events));
  lag_seconds_->Set(seconds);
}

void ReportingMetrics::Error(const std::string& reason) {
  if (errors_ != nullptr) errors_->Add({{"reason", reason}}).Increment();
}

}  // namespace tahe::reporting
