// One VM's kernel figures, gathered once per --interval tick by one
// precedence rule; the reconciler judges them and everything that shows a
// kernel figure or a drift (the exporter's snapshot, the JSON API, the CLI)
// reads them from the reconciler (VmStatus::kernel), never gathers its own.
//
// Per figure, the first source that has it wins:
//  structure (tdp_mmu_pages, n_used_mmu_pages, the possible-NX lists) and
//  leaves (stat.pages[], stat.nx_lpage_splits):
//   1. the VM truth iterator (probes::VmTruthIter), read at this tick,
//      matched by struct kvm *; for VMs keyed by tgid (tracepoint-only
//      plans) the model's VM stands for every VM of the process, so the
//      process's VMs are summed (only when the process has one model VM);
//   2. the probes' kernel_truth map (struct kvm read in a hook: as old as
//      the VM's last such event, so only where the iterator has nothing);
//  leaves only:
//   3. debugfs pages_4k/2m/1g and nx_lpage_splits: the VM's directory when
//      the process has one model VM and one directory, or the sum of its
//      directories for a tgid key;
//  plus the memcg figure (truth/memcg.h) when the VM's process is alone in
//  its cgroup, and the probes' lossless counters.
// On shadow-MMU hosts leaf figures are kept (they are the kernel's) but
// marked not comparable (KernelView::leaves_comparable).  Plans that cannot
// attribute every SPTE change or see the possible-NX list take those figures
// from the kernel (KernelView::leaves_from_kernel, nx_from_kernel).
//
// Thread safety: none (the event loop's thread).
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "daemon/core/abi.h"
#include "daemon/core/model.h"
#include "daemon/probes/vm_truth_iter.h"
#include "daemon/reconcile/kernel_view.h"
#include "daemon/truth/kvm_debugfs.h"
#include "daemon/truth/paths.h"

namespace tdpwatch::tdpwatchd {

struct KernelSources {
  const std::map<std::uint64_t, tdpw_kernel_truth>* truth = nullptr;  // the probes' map, by key
  const std::map<std::uint64_t, tdpw_vm_counters>* counters = nullptr;
  std::vector<probes::IteratedVm> iterated;                             // the VM truth iterator
  std::map<std::uint32_t, std::vector<const truth::VmStats*>> debugfs;  // by owner tgid
  std::map<std::uint32_t, int> model_vms_per_tgid;
  bool shadow_mmu = false;
  // The plan's reach (probes::AttachPlan): every VM-context hook served; an
  // nx_track hook served.
  bool foreign_sptes_attributed = true;
  bool nx_list_seen = true;
};

class KernelViewGatherer {
 public:
  explicit KernelViewGatherer(truth::Paths paths) : paths_(std::move(paths)) {}

  reconcile::KernelView gather(const KernelSources& sources, const core::VmSnapshot& vm);

 private:
  truth::Paths paths_;
  bool memcg_error_logged_ = false;
  bool nx_counts_logged_ = false;  // the kernel's per-type NX counts disagreed (logged once)
};

}  // namespace tdpwatch::tdpwatchd
