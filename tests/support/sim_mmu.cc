// SimKernel: page faults, splits, zaps and NX recovery, as tdp_mmu.c walks
// its tables (pre-order, by gfn).
#include <stdexcept>

#include "daemon/core/role.h"
#include "daemon/core/spte.h"
#include "tests/support/sim_kernel.h"
#include "tests/support/sim_kernel_internal.h"

namespace tdpwatch::sim {

namespace {

int entry_index(std::uint64_t gfn, int level) {
  return static_cast<int>((gfn >> (9 * (level - 1))) & (spte::kEntriesPerPage - 1));
}

std::uint64_t entry_gfn(std::uint64_t gfn, int level) {
  return gfn & ~(spte::pages_per_entry(level) - 1);
}

}  // namespace

// kvm_tdp_mmu_map().
void SimKernel::map(std::uint64_t key, const Fault& fault) {
  OpScope op(*this);
  vcpu_load_root(key, fault.vcpu, fault.as_id);
  Vm& vm = vm_at(key);
  Table* t = &table(vm, vm.vcpu_roots.at(fault.vcpu).at(fault.as_id));
  int goal = fault.goal_level;
  bool race = fault.lose_link_race;
  for (;;) {
    const int level = t->level;
    const int i = entry_index(fault.gfn, level);
    std::uint64_t old_spte = t->spte[i];
    // disallowed_hugepage_adjust(): keep an NX-split table, go one level down.
    if (vm.config.nx_huge_pages && level > spte::kLevel4K && level == goal &&
        spte::is_present(old_spte) && !spte::is_large(old_spte) &&
        table(vm, spte::to_pfn(old_spte)).nx_disallowed) {
      --goal;
    }
    if (level == goal) {
      map_target_level(vm, *t, i, fault);
      return;
    }
    if (spte::is_present(old_spte) && !spte::is_large(old_spte)) {
      t = &table(vm, spte::to_pfn(old_spte));
      continue;
    }
    // Non-present, or a huge page above the goal.
    if (spte::is_present(old_spte) && options_.era == Era::k6_1) {
      zap_spte_atomic(vm, *t, i);  // 6.1 zaps the huge page, then links an empty table
      old_spte = t->spte[i];
    }
    const bool track = fault.huge_page_disallowed && fault.req_level >= level;
    const bool account_nx = options_.era == Era::k6_1 && track;
    const bool nx_flag = options_.era == Era::k6_1 ? false : fault.huge_page_disallowed;
    const std::uint64_t child_gfn = entry_gfn(fault.gfn, level);
    if (race) {
      emit_failed_link(vm, level - 1, t->as_id, child_gfn, nx_flag, account_nx);
      race = false;  // RET_PF_RETRY; the retried fault gets this far again and wins
    }
    Table& child = new_table(vm, level - 1, t->as_id, child_gfn);
    child.nx_disallowed = nx_flag;
    if (spte::is_present(old_spte)) {
      split_huge_page(vm, *t, i, child, true);
    } else {
      link_sp(vm, *t, i, child, true, account_nx);
    }
    if (options_.era != Era::k6_1 && track && child.nx_disallowed) track_nx(vm, child, true);
    t = &child;
  }
}

// tdp_mmu_map_handle_target_level(): install the leaf (replacing a table
// removes it, through handle_changed_spte).
void SimKernel::map_target_level(Vm& vm, Table& t, int index, const Fault& fault) {
  const std::uint64_t gfn = entry_gfn(fault.gfn, t.level);
  const std::uint64_t new_spte = leaf(vm, gfn, t.level, fault.exec, fault.writable);
  if (new_spte == t.spte[index]) return;  // RET_PF_SPURIOUS
  set_spte(vm, t, index, new_spte, true);
}

// --- eager page splitting ------------------------------------------------------

void SimKernel::split_huge_pages(std::uint64_t key, int as_id, std::uint64_t start,
                                 std::uint64_t end, int target_level, bool shared) {
  OpScope op(*this);
  Vm& vm = vm_at(key);
  for_each_root_yield_safe(vm, as_id, true, [&](Table& root) {
    split_walk(vm, root, start, end, target_level, shared);
  });
}

// tdp_mmu_split_huge_pages_root(): pre-order over levels > target, so a 1G
// page becomes 2M pages that are split in turn.
void SimKernel::split_walk(Vm& vm, Table& t, std::uint64_t start, std::uint64_t end, int target,
                           bool shared) {
  int lo = 0;
  int hi = 0;
  entry_range(t, start, end, &lo, &hi);
  for (int i = lo; i < hi; ++i) {
    std::uint64_t e = t.spte[i];
    if (!spte::is_present(e)) continue;
    if (spte::is_large(e) && t.level > target) {
      Table& child =
          new_table(vm, t.level - 1, t.as_id, t.gfn + i * spte::pages_per_entry(t.level));
      split_huge_page(vm, t, i, child, shared);
      e = t.spte[i];
    }
    if (!spte::is_last(e, t.level) && t.level - 1 > target) {
      split_walk(vm, table(vm, spte::to_pfn(e)), start, end, target, shared);
    }
  }
}

// --- zaps ----------------------------------------------------------------------------

void SimKernel::zap_leafs(std::uint64_t key, int as_id, std::uint64_t start, std::uint64_t end,
                          bool all_roots) {
  OpScope op(*this);
  Vm& vm = vm_at(key);
  for_each_root_yield_safe(vm, as_id, !all_roots,
                           [&](Table& root) { zap_leafs_walk(vm, root, start, end); });
}

// tdp_mmu_zap_leafs(): only leaves go, so no table is freed.
void SimKernel::zap_leafs_walk(Vm& vm, Table& t, std::uint64_t start, std::uint64_t end) {
  int lo = 0;
  int hi = 0;
  entry_range(t, start, end, &lo, &hi);
  for (int i = lo; i < hi; ++i) {
    const std::uint64_t e = t.spte[i];
    if (!spte::is_present(e)) continue;
    if (spte::is_last(e, t.level)) {
      set_spte(vm, t, i, nonpresent(), false);
    } else {
      zap_leafs_walk(vm, table(vm, spte::to_pfn(e)), start, end);
    }
  }
}

// kvm_tdp_mmu_zap_sp(): under the write lock, zap the parent SPTE.
bool SimKernel::zap_sp(std::uint64_t key, std::uint64_t pfn) {
  OpScope op(*this);
  Vm& vm = vm_at(key);
  auto it = vm.tables.find(pfn);
  if (it == vm.tables.end() || it->second->root) return false;
  Table& t = *it->second;
  Table& parent = table(vm, t.parent_pfn);
  set_spte(vm, parent, t.parent_index, nonpresent(), false);
  return true;
}

void SimKernel::zap_collapsible(std::uint64_t key, int as_id, std::uint64_t start,
                                std::uint64_t end, int max_level) {
  OpScope op(*this);
  Vm& vm = vm_at(key);
  for_each_root_yield_safe(vm, as_id, true,
                           [&](Table& root) { collapsible_walk(vm, root, start, end, max_level); });
}

// zap_collapsible_spte_range(): pre-order over levels >= 2M; a table that a
// huge page of at most max_level could replace is zapped atomically.
void SimKernel::collapsible_walk(Vm& vm, Table& t, std::uint64_t start, std::uint64_t end,
                                 int max_level) {
  int lo = 0;
  int hi = 0;
  entry_range(t, start, end, &lo, &hi);
  for (int i = lo; i < hi; ++i) {
    const std::uint64_t e = t.spte[i];
    if (!spte::is_present(e) || spte::is_last(e, t.level)) continue;
    const std::uint64_t gfn = t.gfn + i * spte::pages_per_entry(t.level);
    if (t.level <= spte::kLevel1G && gfn >= start && gfn < end && max_level >= t.level) {
      zap_spte_atomic(vm, t, i);
      continue;
    }
    if (t.level - 1 >= spte::kLevel2M) {
      collapsible_walk(vm, table(vm, spte::to_pfn(e)), start, end, max_level);
    }
  }
}

void SimKernel::clear_dirty(std::uint64_t key, int as_id, std::uint64_t start, std::uint64_t end) {
  OpScope op(*this);
  Vm& vm = vm_at(key);
  for_each_root_yield_safe(vm, as_id, true,
                           [&](Table& root) { clear_dirty_walk(vm, root, start, end); });
}

// clear_dirty_gfn_range() with write protection: leaf -> leaf, same pfn.
void SimKernel::clear_dirty_walk(Vm& vm, Table& t, std::uint64_t start, std::uint64_t end) {
  int lo = 0;
  int hi = 0;
  entry_range(t, start, end, &lo, &hi);
  for (int i = lo; i < hi; ++i) {
    const std::uint64_t e = t.spte[i];
    if (!spte::is_present(e)) continue;
    if (!spte::is_last(e, t.level)) {
      clear_dirty_walk(vm, table(vm, spte::to_pfn(e)), start, end);
    } else if (e & kSpteW) {
      set_spte(vm, t, i, e & ~kSpteW, true);
    }
  }
}

// --- NX huge page recovery ---------------------------------------------------------

// kvm_recover_nx_huge_pages(): oldest first.  Up to 6.14 the zap itself
// untracks (tdp_mmu_unlink_sp / __kvm_mmu_prepare_zap_page); 6.18 untracks
// first (unaccount_nx_huge_page) and zaps TDP pages under the read lock.
int SimKernel::recover_nx(std::uint64_t key, int count) {
  OpScope op(*this);
  Vm& vm = vm_at(key);
  int done = 0;
  while (done < count && !vm.nx_list.empty()) {
    const auto [mmu_type, id] = vm.nx_list.begin()->second;
    const bool untrack_first = options_.era == Era::k6_18;
    if (mmu_type == TDPW_MMU_TDP) {
      Table& t = table(vm, id);
      if (untrack_first) {
        t.nx_disallowed = false;
        untrack_nx(vm, t, options_.nx_untrack_events);
      }
      set_spte(vm, table(vm, t.parent_pfn), t.parent_index, nonpresent(), untrack_first);
    } else {
      ShadowPage& p = vm.shadow.at(id);
      if (untrack_first) {
        vm.nx_list.erase(p.nx_seq);
        p.nx_seq = 0;
        --vm.truth.possible_nx_huge_pages[TDPW_MMU_SHADOW];
        if (options_.nx_untrack_events) {
          emit(vm, events::nx_untrack(vm.key, {p.sp, p.pfn, p.gfn, role::synthesize(p.level, 0)},
                                      TDPW_MMU_SHADOW));
        }
      }
      shadow_zap_page(vm, id);
    }
    ++done;
  }
  return done;
}

}  // namespace tdpwatch::sim
