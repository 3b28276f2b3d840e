#include "daemon/tdpwatchd/kernel_view.h"

#include <algorithm>
#include <optional>

#include <spdlog/spdlog.h>

#include "daemon/truth/memcg.h"

namespace tdpwatch::tdpwatchd {
namespace {

std::optional<std::int64_t> present(std::int64_t v) {
  return v == TDPW_TRUTH_ABSENT ? std::nullopt : std::optional<std::int64_t>(v);
}

void from_truth(const tdpw_kernel_truth& t, const char* source, reconcile::KernelView& k) {
  k.tdp_pages = present(t.tdp_mmu_pages);
  k.shadow_pages = present(t.n_used_mmu_pages);
  for (int m = 0; m < core::kNrMmuTypes; ++m) {
    k.possible_nx_huge_pages[m] = present(t.possible_nx_huge_pages[m]);
  }
  k.leaf_pages = {present(t.pages_4k), present(t.pages_2m), present(t.pages_1g)};
  k.nx_lpage_splits = present(t.nx_lpage_splits);
  k.structure_source = source;
  k.leaf_source = source;
}

// to += from, figure by figure; a figure absent in either stays absent.
void add_truth(const tdpw_kernel_truth& from, tdpw_kernel_truth& to) {
  auto add = [](__s64 a, __s64& b) {
    b = a == TDPW_TRUTH_ABSENT || b == TDPW_TRUTH_ABSENT ? TDPW_TRUTH_ABSENT : a + b;
  };
  add(from.tdp_mmu_pages, to.tdp_mmu_pages);
  for (int m = 0; m < core::kNrMmuTypes; ++m) {
    add(from.possible_nx_huge_pages[m], to.possible_nx_huge_pages[m]);
  }
  add(from.n_used_mmu_pages, to.n_used_mmu_pages);
  add(from.pages_4k, to.pages_4k);
  add(from.pages_2m, to.pages_2m);
  add(from.pages_1g, to.pages_1g);
  add(from.nx_lpage_splits, to.nx_lpage_splits);
}

// The sum of `name` over the directories; nullopt if any lacks it.
std::optional<std::int64_t> debugfs_sum(const std::vector<const truth::VmStats*>& dirs,
                                        const char* name) {
  std::optional<std::int64_t> sum = 0;
  for (const truth::VmStats* st : dirs) {
    const auto n = st->value(name);
    sum = n && sum ? std::optional<std::int64_t>(*sum + *n) : std::nullopt;
  }
  return sum;
}

// 6.18's per-type counts (possible_nx_huge_pages[type].nr_pages) are the
// lists' lengths only while they add up to stat.nx_lpage_splits, which
// track/untrack_possible_nx_huge_page() move for every type.  Debian's
// 6.19.14 breaks that: the NX recovery worker untracks TDP pages through
// unaccount_nx_huge_page(), which passes KVM_SHADOW_MMU, so the TDP count
// stays up and the shadow count goes negative while the list itself is right
// (kvm_recover_nx_huge_pages(), read-lock rework).  Then the split is taken
// from nx_lpage_splits where only one type can hold pages (no shadow page),
// else left unknown.  Returns whether the kernel's counts were inconsistent.
bool settle_nx_per_type(reconcile::KernelView& k) {
  auto& nx = k.possible_nx_huge_pages;
  const auto shadow = nx[TDPW_MMU_SHADOW];
  const auto tdp = nx[TDPW_MMU_TDP];
  if (!shadow || !tdp || !k.nx_lpage_splits) return false;
  if (*shadow >= 0 && *tdp >= 0 && *shadow + *tdp == *k.nx_lpage_splits) return false;
  if (k.shadow_pages && *k.shadow_pages == 0) {
    nx[TDPW_MMU_SHADOW] = 0;
    nx[TDPW_MMU_TDP] = k.nx_lpage_splits;
  } else {
    nx[TDPW_MMU_SHADOW].reset();
    nx[TDPW_MMU_TDP].reset();
  }
  return true;
}

}  // namespace

reconcile::KernelView KernelViewGatherer::gather(const KernelSources& src,
                                                 const core::VmSnapshot& v) {
  reconcile::KernelView k;
  const auto per_tgid = src.model_vms_per_tgid.find(v.tgid);
  const bool alone = per_tgid != src.model_vms_per_tgid.end() && per_tgid->second == 1;
  const bool kvm_key = TDPW_VM_KEY_IS_KVM_PTR(v.vm);
  if (kvm_key) {
    const auto it = std::find_if(src.iterated.begin(), src.iterated.end(),
                                 [&](const probes::IteratedVm& i) { return i.kvm == v.vm; });
    if (it != src.iterated.end()) from_truth(it->truth, "vm_iterator", k);
  } else if (alone) {
    // Keyed by tgid, the model's VM stands for every VM of the process.
    std::optional<tdpw_kernel_truth> sum;
    for (const probes::IteratedVm& i : src.iterated) {
      if (i.tgid != v.tgid) continue;
      if (!sum) {
        sum = i.truth;
      } else {
        add_truth(i.truth, *sum);
      }
    }
    if (sum) from_truth(*sum, "vm_iterator", k);
  }
  // The probes' map is as old as the VM's last event with a struct kvm: a
  // table zapped since (a huge page collapse, a fault replacing tables with
  // a huge leaf) is still in it.  Only when the iterator has nothing.
  if (k.structure_source.empty() && src.truth != nullptr && src.truth->count(v.vm) != 0) {
    from_truth(src.truth->at(v.vm), "probes", k);
  }
  if (const auto d = src.debugfs.find(v.tgid);
      alone && d != src.debugfs.end() && (d->second.size() == 1 || !kvm_key)) {
    const char* leaf[] = {"pages_4k", "pages_2m", "pages_1g"};
    bool used = false;
    for (int i = 0; i < core::kNrLeafLevels; ++i) {
      if (k.leaf_pages[i]) continue;
      k.leaf_pages[i] = debugfs_sum(d->second, leaf[i]);
      used = used || k.leaf_pages[i].has_value();
    }
    if (!k.nx_lpage_splits) {
      k.nx_lpage_splits = debugfs_sum(d->second, "nx_lpage_splits");
      used = used || k.nx_lpage_splits.has_value();
    }
    if (used && k.leaf_source.empty()) k.leaf_source = "debugfs";
  }
  if (const auto shadow = k.possible_nx_huge_pages[TDPW_MMU_SHADOW],
      tdp = k.possible_nx_huge_pages[TDPW_MMU_TDP];
      settle_nx_per_type(k) && !nx_counts_logged_) {
    nx_counts_logged_ = true;
    spdlog::warn(
        "the kernel's per-type possible-NX counts (shadow {}, TDP {}) do not add up to "
        "nx_lpage_splits ({}): its NX recovery untracked TDP pages as shadow ones "
        "(unaccount_nx_huge_page passes KVM_SHADOW_MMU); the lists are right, so the split "
        "is taken from nx_lpage_splits{}",
        shadow.value_or(0), tdp.value_or(0), k.nx_lpage_splits.value_or(0),
        k.possible_nx_huge_pages[TDPW_MMU_TDP] ? "" : " where no shadow page exists");
  }
  k.leaves_comparable = !src.shadow_mmu;
  k.leaves_from_kernel = !src.foreign_sptes_attributed && k.leaves_comparable;
  k.nx_from_kernel = !src.nx_list_seen;
  if (alone) {
    auto memcg = truth::read_memcg_page_tables(paths_, static_cast<int>(v.tgid));
    if (memcg) {
      const bool only_it = !memcg->procs.empty() &&
                           std::all_of(memcg->procs.begin(), memcg->procs.end(),
                                       [&](int pid) { return pid == static_cast<int>(v.tgid); });
      if (only_it) k.memcg_page_table_pages = memcg->sec_pagetables_bytes / 4096;
    } else if (!memcg_error_logged_) {
      memcg_error_logged_ = true;
      spdlog::info("no per-memcg page-table figure: {}", memcg.error().message);
    }
  }
  if (src.counters != nullptr) {
    if (auto c = src.counters->find(v.vm); c != src.counters->end()) k.counters = c->second;
  }
  return k;
}

}  // namespace tdpwatch::tdpwatchd
