#include "exporter/metrics.h"

#include <chrono>
#include <exception>
#include <utility>

#include <spdlog/spdlog.h>

#include "exporter/text_format.h"

namespace tdpwatch::exporter {

MetricsCollectable::MetricsCollectable(std::shared_ptr<const SnapshotStore> store,
                                       std::vector<std::unique_ptr<Collector>> collectors,
                                       MetricsConfig config)
    : store_(std::move(store)), collectors_(std::move(collectors)), config_(std::move(config)) {
  if (!config_.unix_seconds) {
    config_.unix_seconds = [] {
      return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
          .count();
    };
  }
  if (!config_.monotonic_ns) {
    config_.monotonic_ns = [] {
      return static_cast<std::int64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                           std::chrono::steady_clock::now().time_since_epoch())
                                           .count());
    };
  }
}

std::vector<prometheus::MetricFamily> MetricsCollectable::Collect() const {
  const std::shared_ptr<const HostSnapshot> snapshot = store_ ? store_->current() : nullptr;
  return render(snapshot.get());
}

std::vector<prometheus::MetricFamily> MetricsCollectable::render(
    const HostSnapshot* snapshot) const {
  Families out;
  Families timing;
  auto duration = gauge(timing, "tdpwatch_scrape_collector_duration_seconds",
                        "Time each collector took to build its metrics from the snapshot");
  auto success = gauge(timing, "tdpwatch_scrape_collector_success",
                       "Whether each collector succeeded (1) or failed (0) in this scrape");
  if (snapshot != nullptr) {
    for (const auto& c : collectors_) {
      const std::size_t before = out.size();
      const std::int64_t start = config_.monotonic_ns();
      Status st;
      try {
        st = c->collect(*snapshot, out);
      } catch (const std::exception& e) {
        st = Error{e.what()};
      }
      const std::int64_t took = config_.monotonic_ns() - start;
      if (!st) {
        out.resize(before);
        spdlog::warn("collector {}: {}", c->name(), st.error().message);
      }
      const std::vector<Label> labels{{"collector", std::string(c->name())}};
      duration.add(labels, static_cast<double>(took) / 1e9);
      success.add(labels, st ? 1 : 0);
    }
  }
  for (auto& f : timing) out.push_back(std::move(f));
  const bool fresh = snapshot != nullptr &&
                     config_.unix_seconds() - snapshot->time_seconds <= config_.stale_after_seconds;
  gauge(out, "tdpwatch_up",
        "1 when the daemon's event loop has published a snapshot within the staleness limit, "
        "0 otherwise")
      .add(fresh ? 1 : 0);
  return out;
}

std::string serialize(const std::vector<prometheus::MetricFamily>& families) {
  std::string text;
  // ~72 bytes per series in practice; one allocation instead of ~20 doublings.
  std::size_t series = 0;
  for (const auto& f : families) series += f.metric.size();
  text.reserve(series * 80 + families.size() * 160);
  append_text_format(families, text);
  return text;
}

}  // namespace tdpwatch::exporter
