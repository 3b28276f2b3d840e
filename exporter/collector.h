// A collector turns one concern of a HostSnapshot into metric families, in
// node_exporter's manner: one collector per file, each named, each timed and
// reported by the exporter (tdpwatch_scrape_collector_duration_seconds and
// _success{collector}).  Collectors are pure functions of the snapshot: they
// keep no state between scrapes and never touch the model.
//
// Thread safety: collect() is const and may run on several HTTP threads at once.
#pragma once

#include <initializer_list>
#include <memory>
#include <string_view>
#include <vector>

#include "daemon/common/result.h"
#include "exporter/families.h"
#include "exporter/host_snapshot.h"

namespace tdpwatch::exporter {

class Collector {
 public:
  virtual ~Collector() = default;
  // The `collector` label value.
  virtual std::string_view name() const = 0;
  // Appends this concern's families to `out`.  On error, what was appended is
  // discarded by the caller and the collector's success is 0.
  virtual Status collect(const HostSnapshot& snapshot, Families& out) const = 0;
};

// Per-VM MMU state from the model (vm_collector.cc): "vm".
std::unique_ptr<Collector> make_vm_collector();
// The kernel's own figures and the model's drift from them (kernel_collector.cc): "kernel".
std::unique_ptr<Collector> make_kernel_collector();
// Leak warnings and leaked pages, kept after the VM is gone (leak_collector.cc): "leak".
std::unique_ptr<Collector> make_leak_collector();
// Drift, resyncs, degraded VMs, the last full reconciliation (reconcile_collector.cc): "reconcile".
std::unique_ptr<Collector> make_reconcile_collector();
// The exporter and its probes: build info, attach plan, events (self_collector.cc): "exporter".
std::unique_ptr<Collector> make_self_collector();

// All of the above, in that order.
std::vector<std::unique_ptr<Collector>> default_collectors();

// The `vm` and `pid` labels of a VM, then `extra`.
std::vector<Label> vm_labels(const VmIdentity& id, std::initializer_list<Label> extra = {});

}  // namespace tdpwatch::exporter
