#include "libs/metrics/registry_for_test.h"

#include <functional>

namespace tahe::metrics {
namespace {

bool HasLabels(const prometheus::ClientMetric& metric,
               const std::map<std::string, std::string>& labels) {
  size_t matched = 0;
  for (const prometheus::ClientMetric::Label& l : metric.label) {
    auto it = labels.find(l.name);
    if (it != labels.end() && it->second == l.value) {
      ++matched;
    }
  }
  return matched == labels.size();
}

void ForEachSeries(prometheus::Registry& registry, const std::string& family,
                   const std::map<std::string, std::string>& labels,
                   const std::function<void(const prometheus::ClientMetric&)>& fn) {
  for (const prometheus::MetricFamily& f : registry.Collect()) {
    if (f.name != family) {
      continue;
    }
    for (const prometheus::ClientMetric& m : f.metric) {
      if (HasLabels(m, labels)) {
        fn(m);
      }
    }
  }
}

}  // namespace

double CounterSum(prometheus::Registry& registry, const std::string& family,
                  const std::map<std::string, std::string>& labels) {
  double sum = 0;
  ForEachSeries(registry, family, labels,
                [&](const prometheus::ClientMetric& m) { sum += m.counter.value; });
  return sum;
}

uint64_t HistogramCount(prometheus::Registry& registry, const std::string& family,
                        const std::map<std::string, std::string>& labels) {
  uint64_t count = 0;
  ForEachSeries(registry, family, labels,
                [&](const prometheus::ClientMetric& m) { count += m.histogram.sample_count; });
  return count;
}

}  // namespace tahe::metrics
