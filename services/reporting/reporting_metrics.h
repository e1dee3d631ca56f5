#pragma once

// What reporting measures (DESIGN.md §4):
//   tahe_reporting_report_duration_seconds{report}   histogram: report RPCs, by report
//   tahe_reporting_feed_events_applied_total         ledger entries applied to the read model
//   tahe_reporting_feed_lag_events                   gauge: entries the ledger has and reporting
//                                                    has not applied, summed over tenants
//   tahe_reporting_feed_lag_seconds                  gauge: age of the oldest entry not applied
//                                                    yet (0 when caught up)
//   tahe_reporting_feed_apply_delay_seconds          histogram: now - posted_at of each applied
//                                                    entry (the freshness users see)
//   tahe_reporting_feed_errors_total{reason}         discovery, stream, apply, conflict
// A null registry counts nothing. Thread-safe.

#include <string>

#include "absl/time/time.h"

namespace prometheus {
class Registry;
class Counter;
class Gauge;
class Histogram;
template <typename T>
class Family;
}  // namespace prometheus

namespace tahe::reporting {

class ReportingMetrics {
 public:
  explicit ReportingMetrics(prometheus::Registry* registry);

  void Report(const std::string& report, absl::Duration duration);
  void Applied(int64_t entries);
  void ApplyDelay(absl::Duration delay);
  void Lag(int64_t events, double seconds);
  // reason: "discovery", "stream", "apply", "conflict".
  void Error(const std::string& reason);

 private:
  prometheus::Family<prometheus::Histogram>* report_duration_ = nullptr;
  prometheus::Counter* applied_ = nullptr;
  prometheus::Gauge* lag_events_ = nullptr;
  prometheus::Gauge* lag_seconds_ = nullptr;
  prometheus::Histogram* apply_delay_ = nullptr;
  prometheus::Family<prometheus::Counter>* errors_ = nullptr;
};

}  // namespace tahe::reporting
