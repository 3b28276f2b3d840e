// SimKernel: roots (kvm_tdp_mmu_alloc_root, put, invalidate, zap) and the
// shadow MMU's pages.
#include <algorithm>
#include <stdexcept>

#include "daemon/core/role.h"
#include "daemon/core/spte.h"
#include "tests/support/sim_kernel.h"
#include "tests/support/sim_kernel_internal.h"

namespace tdpwatch::sim {

// --- roots -----------------------------------------------------------------------

// kvm_tdp_mmu_alloc_root(): reuse a valid root of the same role, or make one
// with two references (the vCPU's and the TDP MMU's own).
std::uint64_t SimKernel::alloc_root(Vm& vm, int as_id) {
  for (std::uint64_t pfn : vm.roots) {
    Table& r = table(vm, pfn);
    if (!r.invalid && r.as_id == as_id) {
      ++r.refcount;
      emit(vm, events::root_alloc(vm.key, ref(r), r.refcount));
      return pfn;
    }
  }
  Table& r = new_table(vm, vm.config.root_level, as_id, 0);
  r.root = true;
  r.refcount = 2;
  vm.roots.insert(vm.roots.begin(), r.pfn);
  ++vm.truth.roots_valid;
  emit(vm, events::root_alloc(vm.key, ref(r), r.refcount));
  return r.pfn;
}

// kvm_tdp_mmu_put_root(): the last reference frees the (invalid, zapped) root.
void SimKernel::put_root(Vm& vm, std::uint64_t pfn) {
  Table& r = table(vm, pfn);
  emit(vm, events::root_put(vm.key, ref(r), r.refcount));
  if (--r.refcount > 0) return;
  if (!r.invalid) throw std::logic_error("sim: last reference of a valid root");
  for (std::uint64_t e : r.spte) {
    if (spte::is_present(e)) throw std::logic_error("sim: freeing a root that maps something");
  }
  std::erase(vm.roots, pfn);
  --vm.truth.roots_invalid;
  // call_rcu(&root->rcu_head, tdp_mmu_free_sp_rcu_callback)
  if (options_.root_free_events) rcu_root_frees_.emplace_back(vm.key, ref(r));
  free_table(vm, pfn);
}

void SimKernel::vcpu_load_root(std::uint64_t key, int vcpu, int as_id) {
  OpScope op(*this);
  Vm& vm = vm_at(key);
  std::uint64_t& cur = vm.vcpu_roots.at(vcpu).at(as_id);
  if (cur != 0 && !table(vm, cur).invalid) return;
  if (cur != 0) {  // kvm_mmu_free_obsolete_roots()
    const std::uint64_t old = cur;
    cur = 0;
    put_root(vm, old);
  }
  cur = alloc_root(vm, as_id);
}

void SimKernel::vcpu_unload(std::uint64_t key, int vcpu) {
  OpScope op(*this);
  Vm& vm = vm_at(key);
  for (std::uint64_t& cur : vm.vcpu_roots.at(vcpu)) {
    if (cur == 0) continue;
    const std::uint64_t old = cur;
    cur = 0;
    put_root(vm, old);
  }
}

void SimKernel::invalidate_all_roots(std::uint64_t key) {
  OpScope op(*this);
  Vm& vm = vm_at(key);
  for (std::uint64_t pfn : vm.roots) {
    Table& r = table(vm, pfn);
    if (r.invalid) continue;
    r.invalid = true;
    r.scheduled_zap = true;
    --vm.truth.roots_valid;
    ++vm.truth.roots_invalid;
    emit(vm, events::root_invalidate(vm.key, ref(r)));
  }
}

void SimKernel::zap_invalidated_roots(std::uint64_t key) {
  OpScope op(*this);
  Vm& vm = vm_at(key);
  for_each_root_yield_safe(vm, -1, false, [&](Table& r) {
    if (!r.scheduled_zap) return;
    r.scheduled_zap = false;
    zap_root(vm, r, true);
    put_root(vm, r.pfn);  // the TDP MMU's own reference
  });
}

// tdp_mmu_zap_root(): zap in passes of growing granularity.
void SimKernel::zap_root(Vm& vm, Table& root, bool shared) {
  if (options_.era == Era::k6_1) {
    zap_root_pass(vm, root, spte::kLevel1G, shared);
  } else {
    zap_root_pass(vm, root, spte::kLevel4K, shared);
    zap_root_pass(vm, root, spte::kLevel2M, shared);
    zap_root_pass(vm, root, spte::kLevel1G, shared);
  }
  zap_root_pass(vm, root, root.level, shared);
}

// __tdp_mmu_zap_root(): pre-order walk, zapping present entries at zap_level.
void SimKernel::zap_root_pass(Vm& vm, Table& t, int zap_level, bool shared) {
  for (int i = 0; i < spte::kEntriesPerPage; ++i) {
    const std::uint64_t old_spte = t.spte[i];
    if (!spte::is_present(old_spte)) continue;
    if (t.level > zap_level) {
      if (!spte::is_last(old_spte, t.level)) {
        zap_root_pass(vm, table(vm, spte::to_pfn(old_spte)), zap_level, shared);
      }
      continue;
    }
    set_spte(vm, t, i, nonpresent(), shared);
  }
}

void SimKernel::zap_all(std::uint64_t key) {
  OpScope op(*this);
  Vm& vm = vm_at(key);
  while (!vm.shadow.empty()) shadow_zap_page(vm, vm.shadow.begin()->first);
  for_each_root_yield_safe(vm, -1, false, [&](Table& r) { zap_root(vm, r, false); });
}

// --- shadow MMU ------------------------------------------------------------------

std::uint64_t SimKernel::shadow_get(std::uint64_t key, std::uint64_t gfn, int level, bool nx) {
  OpScope op(*this);
  Vm& vm = vm_at(key);
  // Header and table come from the same allocators as TDP pages.
  Table& t = new_table(vm, level, 0, gfn);
  ShadowPage sp{t.sp, t.pfn, gfn, level, 0};
  vm.tables.erase(t.pfn);
  ++vm.truth.shadow_pages;
  const events::PageRef r{sp.sp, sp.pfn, sp.gfn, role::synthesize(level, 0)};
  emit(vm, events::shadow_get(vm.key, r, true));
  if (nx) {  // account_nx_huge_page() -> track_possible_nx_huge_page(KVM_SHADOW_MMU)
    sp.nx_seq = ++vm.nx_seq;
    vm.nx_list.emplace(sp.nx_seq, std::make_pair(int{TDPW_MMU_SHADOW}, sp.sp));
    ++vm.truth.possible_nx_huge_pages[TDPW_MMU_SHADOW];
    emit(vm, events::nx_track(vm.key, r, TDPW_MMU_SHADOW));
  }
  vm.shadow.emplace(sp.sp, sp);
  return sp.sp;
}

void SimKernel::shadow_lookup(std::uint64_t key, std::uint64_t sp) {
  OpScope op(*this);
  Vm& vm = vm_at(key);
  const ShadowPage& p = vm.shadow.at(sp);
  emit(vm, events::shadow_get(vm.key, {p.sp, p.pfn, p.gfn, role::synthesize(p.level, 0)}, false));
}

void SimKernel::shadow_zap(std::uint64_t key, std::uint64_t sp) {
  OpScope op(*this);
  shadow_zap_page(vm_at(key), sp);
}

// __kvm_mmu_prepare_zap_page(): the tracepoint, then unaccount_nx_huge_page().
void SimKernel::shadow_zap_page(Vm& vm, std::uint64_t sp) {
  const ShadowPage p = vm.shadow.at(sp);
  const events::PageRef r{p.sp, p.pfn, p.gfn, role::synthesize(p.level, 0)};
  emit(vm, events::shadow_zap(vm.key, r, 0));
  if (p.nx_seq != 0) {
    vm.nx_list.erase(p.nx_seq);
    --vm.truth.possible_nx_huge_pages[TDPW_MMU_SHADOW];
    if (options_.nx_untrack_events) emit(vm, events::nx_untrack(vm.key, r, TDPW_MMU_SHADOW));
  }
  --vm.truth.shadow_pages;
  vm.shadow.erase(sp);
  rcu_pfns_.push_back(p.pfn);
  rcu_sps_.push_back(p.sp);
}

}  // namespace tdpwatch::sim
