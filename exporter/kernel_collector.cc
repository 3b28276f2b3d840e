// The kernel's own figures for each VM (gathered by the reconciler:
// daemon/tdpwatchd/kernel_view.h), the reconciler's drift, and the host's
// SecPageTables.  Only figures this kernel exposes are exported: a kernel
// without tdp_mmu_pages (6.1, 6.15+) has no tdpwatch_vm_kernel_tdp_pages.
#include <optional>
#include <string>

#include "exporter/collector.h"

namespace tdpwatch::exporter {
namespace {

class KernelCollector final : public Collector {
 public:
  std::string_view name() const override { return "kernel"; }

  Status collect(const HostSnapshot& s, Families& out) const override {
    auto tdp = gauge(out, "tdpwatch_vm_kernel_tdp_pages",
                     "Non-root TDP MMU pages as the kernel counts them (kvm->arch.tdp_mmu_pages, "
                     "read by the probes; 6.2-6.14)");
    auto shadow = gauge(out, "tdpwatch_vm_kernel_shadow_pages",
                        "Shadow MMU pages as the kernel counts them (kvm->arch.n_used_mmu_pages, "
                        "read by the probes)");
    auto nx = gauge(out, "tdpwatch_vm_kernel_possible_nx_huge_pages",
                    "Possible-NX-huge-page list lengths as the kernel counts them, by MMU type "
                    "(possible_nx_huge_pages[].nr_pages, read by the probes; 6.15+)");
    auto leaves = gauge(out, "tdpwatch_vm_kernel_leaf_mappings",
                        "Leaf SPTEs by page size as the kernel counts them (kvm->stat.pages[]: "
                        "probes, else debugfs pages_4k/2m/1g)");
    auto splits = gauge(out, "tdpwatch_vm_kernel_nx_lpage_splits",
                        "Huge pages split for the NX workaround (kvm->stat.nx_lpage_splits: "
                        "probes, else debugfs)");
    auto memcg = gauge(out, "tdpwatch_vm_kernel_memcg_page_tables_bytes",
                       "sec_pagetables of the VM's memory cgroup (cgroup v2 memory.stat), when "
                       "the VM alone charges that cgroup: its non-root TDP and shadow pages");
    auto drift = gauge(out, "tdpwatch_vm_drift_pages",
                       "Model minus kernel, by figure, for each figure the reconciler compares "
                       "(non-zero: lost events, in-flight changes, or a bug)");
    for (const VmEntry& v : s.vms) {
      const VmIdentity& id = v.identity;
      const KernelFigures& k = v.kernel;
      auto shown = [&](Family& fam, std::optional<std::int64_t> kernel,
                       std::initializer_list<Label> extra = {}) {
        if (kernel) fam.add(vm_labels(id, extra), num(*kernel));
      };
      shown(tdp, k.tdp_pages);
      shown(shadow, k.shadow_pages);
      for (int t = 0; t < core::kNrMmuTypes; ++t) {
        shown(nx, k.possible_nx_huge_pages[t], {{"mmu_type", mmu_type_name(t)}});
      }
      for (int i = 0; i < core::kNrLeafLevels; ++i) {
        shown(leaves, k.leaf_pages[i], {{"size", leaf_size_name(i)}});
      }
      shown(memcg, k.memcg_page_table_bytes);
      shown(splits, k.nx_lpage_splits);
      // Drift is the reconciler's (model and kernel at one tick); the probe_*
      // figures compare with relative counters and are only judged.
      for (const ReconcileFigure& f : v.reconcile.figures) {
        if (f.figure.rfind("probe_", 0) == 0) continue;
        drift.add(vm_labels(id, {{"figure", f.figure}}), num(f.model - f.kernel));
      }
    }
    std::int64_t model_pages = 0;
    for (const VmEntry& v : s.vms) model_pages += v.model.counts.sec_page_table_pages();
    gauge(out, "tdpwatch_host_model_page_table_bytes",
          "Bytes of page-table pages of every tracked VM that SecPageTables accounts, as the "
          "model counts them: non-root TDP pages and shadow pages (TDP roots are not accounted)")
        .add(num(model_pages * 4096));
    if (s.sec_page_tables_bytes) {
      gauge(out, "tdpwatch_host_secondary_page_tables_bytes",
            "Secondary page tables on this host (/proc/meminfo SecPageTables: KVM MMU pages of "
            "every VM, tracked or not, and IOMMU page tables on newer kernels)")
          .add(num(*s.sec_page_tables_bytes));
    }
    if (s.iommu_page_tables_bytes) {
      gauge(out, "tdpwatch_host_iommu_page_tables_bytes",
            "IOMMU page tables on this host (/proc/vmstat nr_iommu_pages, 6.11+), which "
            "SecPageTables includes; the host comparison leaves them out")
          .add(num(*s.iommu_page_tables_bytes));
    }
    if (s.sec_page_tables_include_iommu) {
      gauge(out, "tdpwatch_host_secondary_pagetables_include_iommu",
            "1 when SecPageTables holds IOMMU page tables too: the kernel charges them there "
            "(6.11+, __iommu_alloc_account(); vmstat nr_iommu_pages) and devices here are behind "
            "an IOMMU (<sysfs>/bus/pci/drivers/vfio-pci, <sysfs>/kernel/iommu_groups)")
          .add(*s.sec_page_tables_include_iommu ? 1 : 0);
    }
    if (s.reconcile_time_seconds > 0) {
      gauge(out, "tdpwatch_reconcile_last_timestamp_seconds",
            "When the kernel's figures (debugfs, meminfo, the probes' maps) were last read, "
            "as Unix time")
          .add(s.reconcile_time_seconds);
    }
    return {};
  }
};

}  // namespace

std::unique_ptr<Collector> make_kernel_collector() {
  return std::make_unique<KernelCollector>();
}

}  // namespace tdpwatch::exporter
