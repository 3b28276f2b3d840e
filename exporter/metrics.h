// The prometheus-cpp Collectable that the web server scrapes: takes the
// current HostSnapshot and runs every collector over it, timing each one
// (tdpwatch_scrape_collector_duration_seconds / _success{collector}), then
// adds tdpwatch_up.  Nothing per-VM lives between scrapes: series of a VM
// that is gone simply are not built again.
//
// Ownership: shares the SnapshotStore with the publisher; owns the collectors.
// Thread safety: Collect() may run concurrently on several HTTP threads.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include "exporter/collector.h"
#include "exporter/snapshot_store.h"

namespace tdpwatch::exporter {

struct MetricsConfig {
  // tdpwatch_up is 0 when there is no snapshot yet or the latest one is older
  // than this (the event loop is stuck).
  double stale_after_seconds = 30;
  // Clocks, injectable so golden tests are deterministic.  Defaults: the
  // system clock (Unix seconds) and the steady clock (nanoseconds).
  std::function<double()> unix_seconds;
  std::function<std::int64_t()> monotonic_ns;
};

class MetricsCollectable final : public prometheus::Collectable {
 public:
  MetricsCollectable(std::shared_ptr<const SnapshotStore> store,
                     std::vector<std::unique_ptr<Collector>> collectors, MetricsConfig config = {});

  std::vector<prometheus::MetricFamily> Collect() const override;

  // What Collect() gives for `snapshot` (nullptr: none published yet).
  std::vector<prometheus::MetricFamily> render(const HostSnapshot* snapshot) const;

 private:
  std::shared_ptr<const SnapshotStore> store_;
  std::vector<std::unique_ptr<Collector>> collectors_;
  MetricsConfig config_;
};

// The text exposition format (0.0.4) (exporter/text_format.h).  Families
// without samples are left out.
std::string serialize(const std::vector<prometheus::MetricFamily>& families);

}  // namespace tdpwatch::exporter
