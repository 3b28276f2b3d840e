#include "exporter/families.h"

namespace tdpwatch::exporter {

Family::Family(Families& out, std::string name, std::string help, prometheus::MetricType type)
    : out_(out), index_(out.size()) {
  prometheus::MetricFamily& f = out.emplace_back();
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
}

Family& Family::add(std::vector<Label> labels, double value) {
  prometheus::MetricFamily& f = out_[index_];
  prometheus::ClientMetric& m = f.metric.emplace_back();
  m.label = std::move(labels);
  if (f.type == prometheus::MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  return *this;
}

}  // namespace tdpwatch::exporter
