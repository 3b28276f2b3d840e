// The figures the reconciler compares, model against kernel, by name (the
// `figure` label of tdpwatch_vm_drift_pages and tdpwatch_vm_drift_confirmed),
// and what a resync or a baseline sets the model's counts to.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "daemon/core/adjust.h"
#include "daemon/core/counts.h"
#include "daemon/reconcile/kernel_view.h"

namespace tdpwatch::reconcile {

struct Figure {
  std::string name;
  std::int64_t model = 0;
  std::int64_t kernel = 0;
};

// Every figure `k` exposes, with the model's value.  The kernel's own
// figures keep their names (tdp_pages, shadow_pages,
// possible_nx_huge_pages_<type>, leaf_mappings_<size>, memcg_page_tables);
// the lossless counters are "probe_"-prefixed and, being relative, have
// `baseline` added (the kernel's figure minus the counter when the baseline
// was taken; zero for VMs seen from their creation).
std::vector<Figure> compare(const core::VmCounts& model, const KernelView& k,
                            const core::CountOffsets& baseline);

// A resync's targets: the kernel's own figure where exposed, else the
// lossless counter plus baseline.  Leaf mappings have no counter.
core::CountTargets resync_targets(const KernelView& k, const core::CountOffsets& baseline);

// A baseline's targets: the kernel's own (absolute) figures only.
core::CountTargets absolute_targets(const KernelView& k);
bool any(const core::CountTargets& t);
// "shadow_pages, leaf_mappings_4k": the figures `t` sets.
std::string names(const core::CountTargets& t);

// What a plan that cannot follow a figure takes from the kernel each tick
// instead (KernelView::leaves_from_kernel, nx_from_kernel): the leaf
// figures (stat.pages[]) and the possible-NX list per MMU type, each only
// where the kernel gives it.  `shadow_pages`: the VM's shadow pages (the
// kernel's n_used_mmu_pages where read, else the model's).
core::CountTargets kernel_owned_targets(const KernelView& k, std::int64_t shadow_pages);

// Where each exported per-VM figure comes from: "model", "kernel", or
// "unknown" (the plan cannot see it and the kernel does not say: not shown).
struct FigureSources {
  std::string leaf_mappings = "model";
  std::string possible_nx_huge_pages = "model";
};
FigureSources figure_sources(const KernelView& k, const core::CountTargets& owned);

// For the lossless counters: kernel figure minus counter, per figure the
// kernel exposes (absent counters count as zero: no event since load).
core::CountOffsets baseline_offsets(const KernelView& k);

}  // namespace tdpwatch::reconcile
