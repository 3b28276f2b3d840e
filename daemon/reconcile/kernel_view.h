// What the kernel says about one VM at one reconciliation tick: its own
// figures (absolute, where this kernel exposes them) and the probes'
// lossless counters (relative: they start when the probes are loaded).
#pragma once

#include <linux/types.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "daemon/core/abi.h"
#include "daemon/core/counts.h"

namespace tdpwatch::reconcile {

struct KernelView {
  // The kernel's own figures; nullopt: not exposed on this host.
  std::optional<std::int64_t> tdp_pages;     // kvm->arch.tdp_mmu_pages (6.2-6.14)
  std::optional<std::int64_t> shadow_pages;  // kvm->arch.n_used_mmu_pages
  std::array<std::optional<std::int64_t>, core::kNrMmuTypes> possible_nx_huge_pages{};
  std::array<std::optional<std::int64_t>, core::kNrLeafLevels> leaf_pages{};  // stat.pages[]
  std::optional<std::int64_t> nx_lpage_splits;  // stat.nx_lpage_splits
  // False on shadow-MMU hosts: stat.pages[] counts the shadow MMU's leaves
  // too, which the model does not follow, so leaf figures are shown but never
  // compared, resynced or baselined.
  bool leaves_comparable = true;
  // The plan cannot give every SPTE change its VM (no VM-context hooks:
  // reclaim, compaction, khugepaged, KSM and soft-dirty zaps are
  // unattributed), so the VM's leaf figures are the kernel's: the reconciler
  // sets them into the model each tick instead of comparing them.
  bool leaves_from_kernel = false;
  // The plan cannot see the possible-NX list (no nx_track hook): its size
  // per MMU type is the kernel's, where it can be told (figures.h,
  // kernel_nx_targets), else unknown.
  bool nx_from_kernel = false;
  // sec_pagetables / 4096 of the VM's memory cgroup (cgroup v2), when the VM
  // is the only one charging it: non-root TDP pages + shadow pages.
  std::optional<std::int64_t> memcg_page_table_pages;
  // The probes' lossless per-VM counters (tdpw_vm_counters), since load.
  std::optional<tdpw_vm_counters> counters;
  // Where the figures came from ("probes", "vm_iterator", "debugfs"; empty:
  // nowhere): the structure figures (tdp, shadow, NX lists) and the leaf
  // figures (stat.pages[], nx_lpage_splits).
  std::string structure_source;
  std::string leaf_source;
};

// One VM's input to a tick.
struct VmInput {
  std::uint64_t vm = 0;  // the model's key
  std::string who;       // identity for log lines ("vm=... pid=... debugfs=...")
  KernelView kernel;
};

// Sums of a counters record.  events_seen leaves out the SPTE changes that
// move no figure (TDPW_COUNT_SPTE_ATTR_ONLY: aging, dirty logging), so that a
// VM whose memory kswapd or kdamond ages is still quiescent.
std::uint64_t events_seen(const tdpw_vm_counters& c);
std::uint64_t events_dropped(const tdpw_vm_counters& c);

}  // namespace tdpwatch::reconcile
