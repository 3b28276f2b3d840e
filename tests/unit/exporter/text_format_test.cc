// The exporter's own text-format writer must give exactly what prometheus-cpp's
// TextSerializer gives (which promtool and Prometheus accept), for every
// fixture host and for the awkward values: fractions, huge and tiny numbers,
// signed zero, NaN, infinities, escapes, timestamps.
#include "exporter/text_format.h"

#include <cmath>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include "exporter/metrics.h"
#include "tests/unit/exporter/fixtures.h"

namespace tdpwatch::exporter {
namespace {

std::string reference(std::vector<prometheus::MetricFamily> families) {
  std::erase_if(families, [](const prometheus::MetricFamily& f) { return f.metric.empty(); });
  std::ostringstream text;
  prometheus::TextSerializer().Serialize(text, families);
  return text.str();
}

std::string ours(const std::vector<prometheus::MetricFamily>& families) {
  std::string text;
  append_text_format(families, text);
  return text;
}

TEST(TextFormat, MatchesTextSerializerOnEveryFixtureHost) {
  std::vector<std::pair<std::string, HostSnapshot>> hosts = fixtures::all();
  hosts.emplace_back("synthetic", fixtures::synthetic(50));
  for (const auto& [name, snapshot] : hosts) {
    MetricsCollectable m(nullptr, default_collectors());
    const auto families = m.render(&snapshot);
    const std::string got = ours(families);
    EXPECT_EQ(got, reference(families)) << name;
    EXPECT_FALSE(got.empty()) << name;
  }
}

TEST(TextFormat, MatchesTextSerializerOnAwkwardValues) {
  const double values[] = {0.0,
                           -0.0,
                           1.0,
                           -1.0,
                           0.1,
                           0.30000000000000004,
                           1.0 / 3.0,
                           123456789.125,
                           9007199254740991.0,
                           9007199254740992.0,
                           1e16,
                           1e22,
                           -4.5e-9,
                           1e-300,
                           std::numeric_limits<double>::denorm_min(),
                           std::numeric_limits<double>::max(),
                           std::numeric_limits<double>::quiet_NaN(),
                           std::numeric_limits<double>::infinity(),
                           -std::numeric_limits<double>::infinity()};
  for (const auto type : {prometheus::MetricType::Gauge, prometheus::MetricType::Counter,
                          prometheus::MetricType::Untyped}) {
    std::vector<prometheus::MetricFamily> families(2);
    families[0].name = "t_values";
    families[0].help = "Help with \\ backslash and \"quotes\"";
    families[0].type = type;
    int i = 0;
    for (const double v : values) {
      prometheus::ClientMetric& m = families[0].metric.emplace_back();
      m.label = {{"i", std::to_string(i++)}, {"esc", "a\\b\"c\nd"}};
      m.gauge.value = m.counter.value = m.untyped.value = v;
    }
    families[0].metric.back().timestamp_ms = 1700000000123;
    families[1].name = "t_empty";  // no samples: left out
    families[1].type = type;
    EXPECT_EQ(ours(families), reference(families)) << static_cast<int>(type);
  }
}

TEST(TextFormat, HistogramsGoThroughTextSerializer) {
  std::vector<prometheus::MetricFamily> families(1);
  families[0].name = "t_hist";
  families[0].help = "h";
  families[0].type = prometheus::MetricType::Histogram;
  prometheus::ClientMetric& m = families[0].metric.emplace_back();
  m.histogram.sample_count = 3;
  m.histogram.sample_sum = 1.5;
  m.histogram.bucket = {{1, 0.5}, {3, std::numeric_limits<double>::infinity()}};
  EXPECT_EQ(ours(families), reference(families));
}

}  // namespace
}  // namespace tdpwatch::exporter
