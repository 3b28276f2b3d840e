// The Prometheus text exposition format (0.0.4), written straight into one
// std::string.  prometheus::TextSerializer streams every token through an
// std::ostream and formats every value with printf("%.16g"); with 1,000 VMs
// (~40,000 series) that was two thirds of a 33 ms scrape.  This writer gives
// byte-identical output (tests/unit/exporter/text_format_test.cc compares it
// with TextSerializer) at a fraction of the cost: integral values, nearly all
// of ours, are written with std::to_chars; other values still use "%.16g".
// Summaries and histograms, which tdpwatch does not export, go through
// TextSerializer.
#pragma once

#include <string>
#include <vector>

#include <prometheus/metric_family.h>

namespace tdpwatch::exporter {

// Appends the exposition of `families` to `out`, skipping families without
// samples.
void append_text_format(const std::vector<prometheus::MetricFamily>& families, std::string& out);

}  // namespace tdpwatch::exporter
