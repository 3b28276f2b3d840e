// Small builders for prometheus::MetricFamily values, so collectors read as
// a list of metrics: Family(out, name, help, type).add({{"vm", ...}}, value).
// Names are checked against prometheus::CheckMetricName in tests, not here.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include <prometheus/metric_family.h>

namespace tdpwatch::exporter {

using Families = std::vector<prometheus::MetricFamily>;
using Label = prometheus::ClientMetric::Label;

class Family {
 public:
  Family(Families& out, std::string name, std::string help, prometheus::MetricType type);

  // Appends a sample.  For a counter the value sets counter.value, else gauge.value.
  Family& add(std::vector<Label> labels, double value);
  Family& add(double value) { return add({}, value); }

 private:
  // An index, not a reference: a later Family grows `out`.
  Families& out_;
  std::size_t index_;
};

inline Family gauge(Families& out, std::string name, std::string help) {
  return Family(out, std::move(name), std::move(help), prometheus::MetricType::Gauge);
}
inline Family counter(Families& out, std::string name, std::string help) {
  return Family(out, std::move(name), std::move(help), prometheus::MetricType::Counter);
}

template <class T>
double num(T v) {
  return static_cast<double>(v);
}

}  // namespace tdpwatch::exporter
