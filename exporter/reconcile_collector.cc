// The reconciler (daemon/reconcile/): which differences between model and
// kernel are real drift, which VMs lost events and were resynced, and when
// every VM was last compared.  Nothing without a reconciler (no probes).
#include <algorithm>

#include "exporter/collector.h"

namespace tdpwatch::exporter {
namespace {

class ReconcileCollector final : public Collector {
 public:
  std::string_view name() const override { return "reconcile"; }

  Status collect(const HostSnapshot& s, Families& out) const override {
    if (!s.reconciler) return {};
    auto confirmed = gauge(out, "tdpwatch_vm_drift_confirmed",
                           "1 when the model's difference from the kernel on a figure outlived "
                           "--reconcile.grace with the kernel's figure stable (real drift), else "
                           "0; every figure compared, probe_* ones against the lossless counters");
    auto degraded = gauge(out, "tdpwatch_vm_degraded",
                          "1 while a VM's counts come from a resync after lost events, until a "
                          "quiescent tick finds model == kernel on every figure");
    auto resyncs = counter(out, "tdpwatch_vm_resyncs_total",
                           "Times a VM's counts were reset from the kernel's figures and the "
                           "lossless counters after lost events");
    std::size_t degraded_vms = 0;
    bool any_audit = false;
    for (const VmEntry& v : s.vms) any_audit = any_audit || v.audit.has_value();
    if (any_audit) {
      auto when = gauge(out, "tdpwatch_vm_audit_timestamp_seconds",
                        "When the VM's TDP tables were last audited against a walk of the "
                        "kernel's live page tables (--audit.interval; tdpwatch audit), Unix time");
      auto differing = gauge(
          out, "tdpwatch_vm_audit_differing_pages",
          "Pages the last audit found on one side only: missing_from_model (the kernel has "
          "them), unknown_to_kernel (the model has them); 0 and 0: the model is the kernel's, "
          "page by page");
      auto complete = gauge(out, "tdpwatch_vm_audit_complete",
                            "1 when the last audit's walk saw every table (0: it could not, e.g. "
                            "PAGE_OFFSET unknown; the differing pages are then not exported)");
      for (const VmEntry& v : s.vms) {
        if (!v.audit) continue;
        when.add(vm_labels(v.identity), v.audit->time);
        complete.add(vm_labels(v.identity), v.audit->walk_complete ? 1 : 0);
        if (!v.audit->walk_complete) continue;
        differing.add(vm_labels(v.identity, {{"direction", "missing_from_model"}}),
                      num(v.audit->missing_total));
        differing.add(vm_labels(v.identity, {{"direction", "unknown_to_kernel"}}),
                      num(v.audit->unknown_total));
      }
    }
    for (const VmEntry& v : s.vms) {
      const VmReconcile& r = v.reconcile;
      if (r.tracking.empty()) continue;  // not reconciled yet
      for (const ReconcileFigure& f : r.figures) {
        confirmed.add(vm_labels(v.identity, {{"figure", f.figure}}), f.confirmed ? 1 : 0);
      }
      degraded.add(vm_labels(v.identity), r.degraded ? 1 : 0);
      resyncs.add(vm_labels(v.identity), num(r.resyncs));
      degraded_vms += r.degraded ? 1 : 0;
    }
    gauge(out, "tdpwatch_reconcile_degraded_vms", "VMs degraded now (see tdpwatch_vm_degraded)")
        .add(num(degraded_vms));
    counter(out, "tdpwatch_reconcile_resyncs_total",
            "VM resyncs after lost events since the daemon started (VMs gone included)")
        .add(num(s.resyncs_total));
    if (s.host_drift_pages) {
      gauge(out, "tdpwatch_host_drift_pages",
            "Every VM's non-root TDP and shadow pages (model) plus the pages SecPageTables held "
            "apart from them when first compared, minus SecPageTables now")
          .add(num(*s.host_drift_pages));
      gauge(out, "tdpwatch_host_drift_confirmed",
            "1 when tdpwatch_host_drift_pages is real drift (outlived --reconcile.grace with "
            "SecPageTables stable), else 0")
          .add(s.host_drift_confirmed ? 1 : 0);
    }
    if (s.reconcile_last_full_seconds > 0) {
      gauge(out, "tdpwatch_reconcile_last_full_timestamp_seconds",
            "When the reconciler last compared every VM with the kernel, as Unix time")
          .add(s.reconcile_last_full_seconds);
    }
    return {};
  }
};

}  // namespace

std::unique_ptr<Collector> make_reconcile_collector() {
  return std::make_unique<ReconcileCollector>();
}

}  // namespace tdpwatch::exporter
