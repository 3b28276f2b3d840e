#include "exporter/text_format.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <sstream>

#include <prometheus/text_serializer.h>

namespace tdpwatch::exporter {
namespace {

// As TextSerializer: the stream's precision is max_digits10 - 1, general
// notation, so every integer below 2^53 prints in full without an exponent.
void append_value(double v, std::string& out) {
  if (std::isnan(v)) {
    out += "Nan";
    return;
  }
  if (std::isinf(v)) {
    out += v < 0 ? "-Inf" : "+Inf";
    return;
  }
  char buf[64];
  constexpr double kExact = 9007199254740992.0;  // 2^53
  if (v == std::trunc(v) && std::fabs(v) < kExact && !(v == 0 && std::signbit(v))) {
    const auto r = std::to_chars(buf, buf + sizeof buf, static_cast<std::int64_t>(v));
    out.append(buf, r.ptr);
    return;
  }
  const int n = std::snprintf(buf, sizeof buf, "%.*g",
                              std::numeric_limits<double>::max_digits10 - 1, v);
  out.append(buf, static_cast<std::size_t>(n));
}

void append_label_value(const std::string& value, std::string& out) {
  // Label values rarely need escaping: copy runs, not characters.
  std::size_t start = 0;
  for (std::size_t i = value.find_first_of("\\\"\n"); i != std::string::npos;
       i = value.find_first_of("\\\"\n", start)) {
    out.append(value, start, i - start);
    out += value[i] == '\n' ? "\\n" : value[i] == '\\' ? "\\\\" : "\\\"";
    start = i + 1;
  }
  out.append(value, start, std::string::npos);
}

const char* type_name(prometheus::MetricType type) {
  switch (type) {
    case prometheus::MetricType::Counter:
      return "counter";
    case prometheus::MetricType::Gauge:
      return "gauge";
    default:
      return "untyped";
  }
}

double sample_value(prometheus::MetricType type, const prometheus::ClientMetric& m) {
  switch (type) {
    case prometheus::MetricType::Counter:
      return m.counter.value;
    case prometheus::MetricType::Gauge:
      return m.gauge.value;
    default:
      return m.untyped.value;
  }
}

bool simple(prometheus::MetricType type) {
  return type == prometheus::MetricType::Counter || type == prometheus::MetricType::Gauge ||
         type == prometheus::MetricType::Untyped;
}

}  // namespace

void append_text_format(const std::vector<prometheus::MetricFamily>& families, std::string& out) {
  for (const prometheus::MetricFamily& f : families) {
    if (f.metric.empty()) continue;
    if (!simple(f.type)) {
      std::ostringstream text;
      prometheus::TextSerializer().Serialize(text, {f});
      out += text.str();
      continue;
    }
    out += "# HELP ";
    out += f.name;
    out += ' ';
    out += f.help;
    out += "\n# TYPE ";
    out += f.name;
    out += ' ';
    out += type_name(f.type);
    out += '\n';
    for (const prometheus::ClientMetric& m : f.metric) {
      out += f.name;
      if (!m.label.empty()) {
        char sep = '{';
        for (const auto& l : m.label) {
          out += sep;
          out += l.name;
          out += "=\"";
          append_label_value(l.value, out);
          out += '"';
          sep = ',';
        }
        out += '}';
      }
      out += ' ';
      append_value(sample_value(f.type, m), out);
      if (m.timestamp_ms != 0) {
        char buf[24];
        const auto r = std::to_chars(buf, buf + sizeof buf, m.timestamp_ms);
        out += ' ';
        out.append(buf, r.ptr);
      }
      out += '\n';
    }
  }
}

}  // namespace tdpwatch::exporter
