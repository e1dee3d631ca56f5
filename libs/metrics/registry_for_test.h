#pragma once

// Reading a prometheus::Registry in tests, without scraping it over HTTP.
//
//   REQUIRE(CounterSum(registry, "tahe_gateway_requests_total", {{"organisation", "lahti"}}) == 4);
//   REQUIRE(HistogramCount(registry, "tahe_gateway_request_duration_seconds",
//                          {{"organisation", "lahti"}}) == 4);

#include <prometheus/registry.h>

#include <cstdint>
#include <map>
#include <string>

namespace tahe::metrics {

// The sum of a counter family's samples whose labels include every pair of `labels`.
double CounterSum(prometheus::Registry& registry, const std::string& family,
                  const std::map<std::string, std::string>& labels = {});

// The total sample count of a histogram family's series whose labels include `labels`.
uint64_t HistogramCount(prometheus::Registry& registry, const std::string& family,
                        const std::map<std::string, std::string>& labels = {});

}  // namespace tahe::metrics
