// SimKernel: allocation, VM lifecycle, the kernel truth, and the SPTE
// machinery of tdp_mmu.c (handle_changed_spte, handle_removed_pt,
// tdp_mmu_link_sp, tdp_mmu_split_huge_page).
#include "tests/support/sim_kernel.h"

#include <algorithm>
#include <stdexcept>
#include <tuple>

#include "daemon/core/role.h"
#include "daemon/core/spte.h"
#include "tests/support/sim_kernel_internal.h"

namespace tdpwatch::sim {

SimKernel::SimKernel(SimOptions options, std::vector<Event>* sink)
    : options_(options),
      sink_(sink),
      next_pfn_(0x100000),                // page tables live above 4 GiB of host memory
      next_sp_(0xffff888200000000ull) {}  // and their headers in the direct map

SimKernel::~SimKernel() = default;

void SimKernel::emit(const Vm& vm, Event ev) {
  ev.tgid = vm.tgid;
  clock_ns_ += 97;
  ev.ts_ns = clock_ns_;
  sink_->push_back(ev);
}

SimKernel::Vm& SimKernel::vm_at(std::uint64_t key) {
  auto it = vms_.find(key);
  if (it == vms_.end()) throw std::logic_error("sim: unknown VM");
  return *it->second;
}

const SimKernel::Vm& SimKernel::vm_at(std::uint64_t key) const {
  auto it = vms_.find(key);
  if (it == vms_.end()) throw std::logic_error("sim: unknown VM");
  return *it->second;
}

SimKernel::Table& SimKernel::table(Vm& vm, std::uint64_t pfn) {
  auto it = vm.tables.find(pfn);
  if (it == vm.tables.end()) throw std::logic_error("sim: SPTE points at an unknown table");
  return *it->second;
}

events::PageRef SimKernel::ref(const Table& t) const {
  std::uint32_t role = role::synthesize(t.level, t.as_id);
  if (t.invalid) role |= 1u << 11;  // role.invalid
  return {t.sp, t.pfn, t.gfn, role};
}

std::uint64_t SimKernel::nonpresent() const {
  return options_.era == Era::k6_1 ? 0 : spte::kShadowNonpresentValue;
}

std::uint64_t SimKernel::frozen() const {
  return options_.era == Era::k6_1 ? spte::kRemovedSpteLegacy : spte::kFrozenSpte;
}

std::uint64_t SimKernel::leaf(const Vm& vm, std::uint64_t gfn, int level, bool exec,
                              bool writable) const {
  std::uint64_t v = events::leaf_spte(vm.mem_base_pfn + gfn, level);
  if (!exec) v &= ~kSpteX;
  if (!writable) v &= ~kSpteW;
  return v;
}

// --- allocation --------------------------------------------------------------

SimKernel::Table& SimKernel::new_table(Vm& vm, int level, int as_id, std::uint64_t gfn) {
  auto t = std::make_unique<Table>();
  if (!free_pfns_.empty()) {
    t->pfn = free_pfns_.back();
    free_pfns_.pop_back();
  } else {
    t->pfn = next_pfn_++;
  }
  if (!free_sps_.empty()) {
    t->sp = free_sps_.back();
    free_sps_.pop_back();
  } else {
    t->sp = next_sp_;
    next_sp_ += 0xc0;  // sizeof(struct kvm_mmu_page), roughly
  }
  t->level = level;
  t->as_id = as_id;
  t->gfn = gfn;
  t->spte.fill(nonpresent());
  Table& ref = *t;
  vm.tables.emplace(ref.pfn, std::move(t));
  return ref;
}

void SimKernel::free_table(Vm& vm, std::uint64_t pfn) {
  auto it = vm.tables.find(pfn);
  rcu_pfns_.push_back(pfn);
  rcu_sps_.push_back(it->second->sp);
  vm.tables.erase(it);
}

// The grace period ends: RCU callbacks run (a root's is reported as
// ROOT_FREE) and freed frames can be handed out again.
void SimKernel::rcu_barrier() {
  for (const auto& [key, root] : rcu_root_frees_) {
    emit(vm_at(key), events::root_free(key, root));
  }
  rcu_root_frees_.clear();
  free_pfns_.insert(free_pfns_.end(), rcu_pfns_.begin(), rcu_pfns_.end());
  free_sps_.insert(free_sps_.end(), rcu_sps_.begin(), rcu_sps_.end());
  rcu_pfns_.clear();
  rcu_sps_.clear();
}

// --- the SPTE machinery ------------------------------------------------------

// tdp_mmu_set_spte() / tdp_mmu_set_spte_atomic(): write, then handle_changed_spte().
void SimKernel::set_spte(Vm& vm, Table& t, int index, std::uint64_t new_spte, bool shared) {
  const std::uint64_t old_spte = t.spte[index];
  t.spte[index] = new_spte;
  handle_changed_spte(vm, t.as_id, t.gfn + index * spte::pages_per_entry(t.level), old_spte,
                      new_spte, t.level, shared);
}

// tdp_mmu_zap_spte_atomic(): 6.1 reports old -> REMOVED_SPTE, then writes 0
// without bookkeeping; later kernels report old -> SHADOW_NONPRESENT_VALUE.
void SimKernel::zap_spte_atomic(Vm& vm, Table& t, int index) {
  if (options_.era == Era::k6_1) {
    set_spte(vm, t, index, frozen(), true);
    t.spte[index] = 0;
  } else {
    set_spte(vm, t, index, nonpresent(), true);
  }
}

void SimKernel::handle_changed_spte(Vm& vm, int as_id, std::uint64_t gfn, std::uint64_t old_spte,
                                    std::uint64_t new_spte, int level, bool shared) {
  const bool was_present = spte::is_present(old_spte);
  const bool is_present = spte::is_present(new_spte);
  const bool was_leaf = was_present && spte::is_last(old_spte, level);
  const bool is_leaf = is_present && spte::is_last(new_spte, level);
  const bool pfn_changed = spte::to_pfn(old_spte) != spte::to_pfn(new_spte);
  if (was_leaf && is_leaf && pfn_changed) throw std::logic_error("sim: leaf PFN changed (BUG())");
  if (old_spte == new_spte) return;
  emit(vm, events::spte_changed(vm.key, as_id, gfn, level, old_spte, new_spte));
  if (!was_present && !is_present) return;
  if (is_leaf != was_leaf) vm.truth.leaf_pages[level - 1] += is_leaf ? 1 : -1;
  if (was_present && !was_leaf && (is_leaf || !is_present || pfn_changed)) {
    handle_removed_pt(vm, spte::to_pfn(old_spte), shared);
  }
}

void SimKernel::handle_removed_pt(Vm& vm, std::uint64_t pfn, bool shared) {
  Table& sp = table(vm, pfn);
  // trace_kvm_mmu_prepare_zap_page(sp); tdp_mmu_unlink_sp(kvm, sp);
  if (options_.explicit_events) emit(vm, events::unlink_sp(vm.key, ref(sp)));
  --vm.truth.tdp_pages[sp.as_id][sp.level - 1];
  if (sp.nx_disallowed) {
    sp.nx_disallowed = false;
    untrack_nx(vm, sp, options_.nx_untrack_events);
  }
  const std::uint64_t per = spte::pages_per_entry(sp.level);
  for (int i = 0; i < spte::kEntriesPerPage; ++i) {
    const std::uint64_t old_spte = sp.spte[i];
    // Exclusive: only present entries; shared: every entry is frozen.
    if (!shared && !spte::is_present(old_spte)) continue;
    sp.spte[i] = frozen();
    handle_changed_spte(vm, sp.as_id, sp.gfn + i * per, old_spte, frozen(), sp.level, shared);
  }
  free_table(vm, pfn);  // call_rcu(&sp->rcu_head, tdp_mmu_free_sp_rcu_callback)
}

void SimKernel::track_nx(Vm& vm, Table& t, bool report) {
  t.nx_disallowed = true;
  if (t.nx_seq != 0) return;
  t.nx_seq = ++vm.nx_seq;
  vm.nx_list.emplace(t.nx_seq, std::make_pair(int{TDPW_MMU_TDP}, t.pfn));
  ++vm.truth.possible_nx_huge_pages[TDPW_MMU_TDP];
  if (report) emit(vm, events::nx_track(vm.key, ref(t), TDPW_MMU_TDP));
}

void SimKernel::untrack_nx(Vm& vm, Table& t, bool report) {
  if (t.nx_seq == 0) {  // untrack_possible_nx_huge_page(): not on the list, a no-op
    if (report && options_.nx_untrack_every_call) {
      emit(vm, events::nx_untrack(vm.key, ref(t), TDPW_MMU_TDP));
    }
    return;
  }
  vm.nx_list.erase(t.nx_seq);
  t.nx_seq = 0;
  --vm.truth.possible_nx_huge_pages[TDPW_MMU_TDP];
  if (report) emit(vm, events::nx_untrack(vm.key, ref(t), TDPW_MMU_TDP));
}

// tdp_mmu_link_sp(); 6.1's account_nx does account_huge_nx_page() inside.
void SimKernel::link_sp(Vm& vm, Table& parent, int index, Table& child, bool shared,
                        bool account_nx) {
  child.parent_pfn = parent.pfn;
  child.parent_index = index;
  set_spte(vm, parent, index, events::nonleaf_spte(child.pfn), shared);
  ++vm.truth.tdp_pages[child.as_id][child.level - 1];  // tdp_account_mmu_page()
  // With link events, LINK_SP's ACCOUNT_NX flag stands for the track (ABI contract).
  if (account_nx) track_nx(vm, child, !options_.explicit_events);
  if (options_.explicit_events) {
    emit(vm, events::link_sp(vm.key, ref(child), child.nx_disallowed, account_nx, 0));
  }
}

// tdp_mmu_link_sp() losing the cmpxchg: the fexit reports -EBUSY, the page is
// freed at once (tdp_mmu_free_sp, no RCU: it was never reachable).
void SimKernel::emit_failed_link(Vm& vm, int level, int as_id, std::uint64_t gfn, bool nx,
                                 bool account) {
  if (!options_.explicit_events) return;
  Table& t = new_table(vm, level, as_id, gfn);
  t.nx_disallowed = nx;
  emit(vm, events::link_sp(vm.key, ref(t), nx, account, -kEbusy));
  free_pfns_.push_back(t.pfn);
  free_sps_.push_back(t.sp);
  vm.tables.erase(t.pfn);
}

// tdp_mmu_split_huge_page(): populate the child without events, link it, and
// add the 512 new leaves to the stats of the level below.
void SimKernel::split_huge_page(Vm& vm, Table& parent, int index, Table& child, bool shared) {
  const std::uint64_t huge = parent.spte[index];
  const int level = parent.level;
  const std::uint64_t per = spte::pages_per_entry(level - 1);
  for (int i = 0; i < spte::kEntriesPerPage; ++i) {
    std::uint64_t v = (huge & ~spte::kBaseAddrMask) | ((spte::to_pfn(huge) + i * per) << 12);
    if (level - 1 == spte::kLevel4K) v &= ~spte::kPageSizeMask;
    child.spte[i] = v;
  }
  link_sp(vm, parent, index, child, shared, false);
  vm.truth.leaf_pages[level - 2] += spte::kEntriesPerPage;
}

// --- VMs -------------------------------------------------------------------------

std::uint64_t SimKernel::create_vm(const VmConfig& config) {
  OpScope op(*this);
  auto vm = std::make_unique<Vm>();
  if (config.vm_key != 0) {
    vm->key = config.vm_key;
    vm->slot = next_vm_slot_++;
  } else {
    if (!free_vm_slots_.empty()) {
      vm->slot = free_vm_slots_.back();
      free_vm_slots_.pop_back();
    } else {
      vm->slot = next_vm_slot_++;
    }
    vm->key = 0xffff888100000000ull + vm->slot * 0x10000;  // a struct kvm * (bit 63 set)
  }
  if (vms_.count(vm->key)) throw std::logic_error("sim: VM key in use");
  static std::uint32_t next_tgid = 4000;
  vm->tgid = next_tgid++;
  vm->config = config;
  vm->mem_base_pfn = (vm->slot + 1) << 28;
  vm->vcpu_roots.assign(config.nr_vcpus, {});
  Vm& ref = *vm;
  vms_.emplace(ref.key, std::move(vm));
  emit(ref, events::vm_create(ref.key, ref.tgid));
  return ref.key;
}

void SimKernel::destroy_vm(std::uint64_t key, bool release) {
  {
    OpScope op(*this);
    Vm& vm = vm_at(key);
    // mmu_notifier_unregister() -> kvm_mmu_notifier_release() -> kvm_mmu_zap_all().
    if (release) {
      zap_all(key);
    } else {
      while (!vm.shadow.empty()) shadow_zap_page(vm, vm.shadow.begin()->first);
    }
    // kvm_destroy_vcpus(), then kvm_mmu_uninit_tdp_mmu().
    for (int v = 0; v < vm.config.nr_vcpus; ++v) vcpu_unload(key, v);
    invalidate_all_roots(key);
    zap_invalidated_roots(key);
    const core::VmCounts& t = vm.truth;
    if (t.tdp_pages_total() != 0 || !vm.tables.empty() || !vm.roots.empty() ||
        t.possible_nx_huge_pages != std::array<std::int64_t, core::kNrMmuTypes>{} ||
        t.leaf_pages != std::array<std::int64_t, core::kNrLeafLevels>{} || t.shadow_pages != 0) {
      throw std::logic_error("sim: VM torn down with pages left");
    }
    rcu_barrier();  // kvm_mmu_uninit_tdp_mmu() waits for the RCU callbacks
    emit(vm, events::vm_destroy(key, vm.tgid));
    if (vm.config.vm_key == 0) free_vm_slots_.push_back(vm.slot);
    vms_.erase(key);
  }
}

std::vector<std::uint64_t> SimKernel::vms() const {
  std::vector<std::uint64_t> out;
  for (const auto& [key, vm] : vms_) out.push_back(key);
  return out;
}
// --- truth and queries -------------------------------------------------------------

core::VmCounts SimKernel::truth(std::uint64_t key) const {
  return vm_at(key).truth;
}

std::vector<TableInfo> SimKernel::tables(std::uint64_t key) const {
  const Vm& vm = vm_at(key);
  std::vector<TableInfo> out;
  for (const auto& [pfn, t] : vm.tables) {
    if (t->root) continue;
    const Table* top = t.get();
    while (!top->root) top = vm.tables.at(top->parent_pfn).get();
    out.push_back({t->sp, t->pfn, t->gfn, t->level, t->as_id, t->nx_seq != 0, !top->invalid});
  }
  std::sort(out.begin(), out.end(), [](const TableInfo& a, const TableInfo& b) {
    return a.pfn < b.pfn;  // unordered_map order is not deterministic across libraries
  });
  return out;
}

std::vector<HugeLeafInfo> SimKernel::huge_leaves(std::uint64_t key) const {
  const Vm& vm = vm_at(key);
  std::vector<HugeLeafInfo> out;
  for (const auto& [pfn, t] : vm.tables) {
    if (t->level < spte::kLevel2M) continue;
    for (int i = 0; i < spte::kEntriesPerPage; ++i) {
      const std::uint64_t e = t->spte[i];
      if (spte::is_present(e) && spte::is_large(e)) {
        out.push_back({t->as_id, t->gfn + i * spte::pages_per_entry(t->level), t->level});
      }
    }
  }
  std::sort(out.begin(), out.end(), [](const HugeLeafInfo& a, const HugeLeafInfo& b) {
    return std::tie(a.as_id, a.gfn, a.level) < std::tie(b.as_id, b.gfn, b.level);
  });
  return out;
}

std::vector<std::uint64_t> SimKernel::shadow_pages(std::uint64_t key) const {
  std::vector<std::uint64_t> out;
  for (const auto& [sp, p] : vm_at(key).shadow) out.push_back(sp);
  return out;
}

bool SimKernel::has_valid_root(std::uint64_t key, int as_id) const {
  const Vm& vm = vm_at(key);
  for (std::uint64_t pfn : vm.roots) {
    const Table& r = *vm.tables.at(pfn);
    if (!r.invalid && r.as_id == as_id) return true;
  }
  return false;
}

int SimKernel::nr_vcpus(std::uint64_t key) const {
  return vm_at(key).config.nr_vcpus;
}

std::size_t SimKernel::live_tables() const {
  std::size_t n = 0;
  for (const auto& [key, vm] : vms_) n += vm->tables.size();
  return n;
}

}  // namespace tdpwatch::sim
