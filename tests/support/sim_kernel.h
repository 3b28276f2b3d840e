// A deliberately simple simulation of KVM's x86 TDP MMU, for tests and the
// benchmark: real page tables (512 SPTEs each, keyed by their pfn), roots per
// address space, a pfn/sp allocator that hands freed frames out again (LIFO,
// after the "RCU grace period" at the end of each operation), the
// possible-NX-huge-page lists and the leaf statistics.
//
// Every operation emits the events the kernel's hooks would report, in kernel
// order (see handle_changed_spte() / handle_removed_pt() / tdp_mmu_link_sp()
// in arch/x86/kvm/mmu/tdp_mmu.c), into a caller-owned sink, and keeps the
// kernel's own figures ("truth") as a core::VmCounts whose gauge fields a
// correct model must reproduce exactly.
//
// Thread safety: none.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "daemon/core/abi.h"
#include "daemon/core/counts.h"
#include "tests/support/event_builders.h"
#include "daemon/core/model.h"

namespace tdpwatch::sim {

// Kernel eras whose event streams differ (docs/kernel-eras.md §1).
enum class Era : std::uint8_t {
  k6_1,   // non-present 0, REMOVED_SPTE; link_sp(account_nx); fault zaps a huge page
          // then links; root zap in two passes (1G, root)
  k6_12,  // SHADOW_NONPRESENT_VALUE, FROZEN_SPTE; separate NX track; fault splits a
          // huge page; root zap in four passes (4K, 2M, 1G, root)
  k6_18,  // as 6.12, but NX recovery untracks first, then zaps under the read lock
};
std::string_view name(Era era);

struct SimOptions {
  // TDPW_EV_LINK_SP / TDPW_EV_UNLINK_SP are reported (ModelOptions.structure_from_spte
  // is the negation).
  bool explicit_events = true;
  // The untrack inside tdp_mmu_unlink_sp() / __kvm_mmu_prepare_zap_page() is
  // reported as TDPW_EV_NX_UNTRACK (ModelOptions.nx_untrack_events).
  bool nx_untrack_events = true;
  Era era = Era::k6_12;
  // for_each_*_tdp_mmu_root_yield_safe() take a reference on every root they
  // visit and put it when moving on (tdp_mmu_next_root()): many ROOT_PUT
  // events with no ROOT_ALLOC of their own, and sometimes the final put.
  bool iterator_root_refs = false;
  // TDPW_EV_ROOT_FREE is reported (tdp_mmu_free_sp_rcu_callback() of a root,
  // after the last ROOT_PUT); tracepoint-only plans have no such hook.
  bool root_free_events = true;
  // An fentry on untrack_possible_nx_huge_page() fires for every call: 6.2+
  // tdp_mmu_unlink_sp() calls it for any nx_huge_page_disallowed page, also
  // one that never made the list (the call is then a no-op).
  bool nx_untrack_every_call = false;
};

// The ModelOptions a model fed by this simulator must run with.
core::ModelOptions model_options(const SimOptions& options);

// Gauge fields of VmCounts (the ones the kernel really has): equality and a
// readable difference ("" when equal).
bool gauges_equal(const core::VmCounts& a, const core::VmCounts& b);
std::string gauge_diff(const core::VmCounts& model, const core::VmCounts& truth);

// "SPTE_CHANGED vm=.. as=0 L1 gfn=0x.. 0x..->0x.." and the like, for failure dumps.
std::string describe(const Event& ev);

struct VmConfig {
  int nr_vcpus = 2;
  bool nx_huge_pages = true;  // the NX huge page workaround (disallowed_hugepage_adjust)
  int root_level = 4;         // 5 with 5-level EPT/NPT
  std::uint64_t vm_key = 0;   // 0: pick one (freed keys are handed out again)
};

// One page fault (struct kvm_page_fault, reduced to what kvm_tdp_mmu_map reads).
struct Fault {
  int vcpu = 0;
  int as_id = 0;
  std::uint64_t gfn = 0;
  int goal_level = 1;                 // after kvm_mmu_hugepage_adjust()
  int req_level = 1;                  // largest level the memslot/host allow
  bool huge_page_disallowed = false;  // exec fault under the NX workaround
  bool exec = false;                  // leaf gets the X bit
  bool writable = true;               // leaf gets the W bit
  bool lose_link_race = false;        // first tdp_mmu_link_sp() loses the cmpxchg
};

// A linked non-root table, as tests see it.
struct TableInfo {
  std::uint64_t sp;
  std::uint64_t pfn;
  std::uint64_t gfn;
  int level;
  int as_id;
  bool nx_tracked;
  bool in_valid_root;
};

struct HugeLeafInfo {
  int as_id;
  std::uint64_t gfn;
  int level;
};

namespace detail {
struct Table;  // struct kvm_mmu_page with its page table (sim_kernel_internal.h)
struct Vm;
}  // namespace detail

class SimKernel {
 public:
  SimKernel(SimOptions options, std::vector<Event>* sink);
  ~SimKernel();
  SimKernel(const SimKernel&) = delete;
  SimKernel& operator=(const SimKernel&) = delete;

  const SimOptions& options() const { return options_; }

  // --- VM lifecycle -------------------------------------------------------
  // kvm_create_vm(): VM_CREATE.  Returns the VM key.
  std::uint64_t create_vm(const VmConfig& config = {});
  // kvm_destroy_vm(): if `release`, the mmu notifier's release first zaps
  // everything under the write lock (kvm_mmu_zap_all); shadow pages are zapped
  // in any case; then vCPUs put their roots, kvm_mmu_uninit_tdp_mmu()
  // invalidates and zaps the roots under the read lock and puts the last
  // references; then VM_DESTROY.
  void destroy_vm(std::uint64_t vm, bool release = true);
  std::vector<std::uint64_t> vms() const;

  // --- roots --------------------------------------------------------------
  // kvm_mmu_load(): put an obsolete root, then kvm_tdp_mmu_alloc_root().
  void vcpu_load_root(std::uint64_t vm, int vcpu, int as_id);
  // kvm_mmu_unload(): the vCPU puts its roots.
  void vcpu_unload(std::uint64_t vm, int vcpu);
  // kvm_tdp_mmu_invalidate_all_roots().
  void invalidate_all_roots(std::uint64_t vm);
  // kvm_tdp_mmu_zap_invalidated_roots(): shared zap, then put.
  void zap_invalidated_roots(std::uint64_t vm);
  // kvm_mmu_zap_all(): shadow pages, then every root under the write lock.
  void zap_all(std::uint64_t vm);

  // --- TDP MMU operations ---------------------------------------------------
  // kvm_tdp_mmu_map() (loads the vCPU's root first if needed).
  void map(std::uint64_t vm, const Fault& fault);
  // kvm_tdp_mmu_try_split_huge_pages(): eager split of [start, end) down to
  // target_level in the valid roots of as_id.
  void split_huge_pages(std::uint64_t vm, int as_id, std::uint64_t start, std::uint64_t end,
                        int target_level, bool shared);
  // kvm_tdp_mmu_zap_leafs() (as_id < 0: every valid root) or, with
  // all_roots, kvm_tdp_mmu_unmap_gfn_range() (invalid roots too).
  void zap_leafs(std::uint64_t vm, int as_id, std::uint64_t start, std::uint64_t end,
                 bool all_roots = false);
  // kvm_tdp_mmu_zap_sp() of the table with this pfn; false if not linked.
  bool zap_sp(std::uint64_t vm, std::uint64_t pfn);
  // kvm_tdp_mmu_zap_collapsible_sptes(): tables that can become huge pages of
  // at most max_level are zapped atomically.
  void zap_collapsible(std::uint64_t vm, int as_id, std::uint64_t start, std::uint64_t end,
                       int max_level);
  // kvm_tdp_mmu_clear_dirty_slot() with write protection: W bit off.
  void clear_dirty(std::uint64_t vm, int as_id, std::uint64_t start, std::uint64_t end);
  // kvm_recover_nx_huge_pages(): zaps up to `count` pages off the possible-NX
  // lists, oldest first.  Returns how many.
  int recover_nx(std::uint64_t vm, int count);

  // --- shadow MMU ---------------------------------------------------------
  // kvm_mmu_get_child_sp() creating a page, then account_nx_huge_page() if nx.
  std::uint64_t shadow_get(std::uint64_t vm, std::uint64_t gfn, int level, bool nx);
  // kvm_mmu_get_page() finding an existing page (created=false).
  void shadow_lookup(std::uint64_t vm, std::uint64_t sp);
  // __kvm_mmu_prepare_zap_page() of an unused (root_count 0) page.
  void shadow_zap(std::uint64_t vm, std::uint64_t sp);

  // --- kernel truth and queries ---------------------------------------------
  // Gauge fields only: tdp_pages, leaf_pages, possible_nx_huge_pages,
  // roots_valid, roots_invalid, shadow_pages.
  core::VmCounts truth(std::uint64_t vm) const;
  std::vector<TableInfo> tables(std::uint64_t vm) const;
  std::vector<HugeLeafInfo> huge_leaves(std::uint64_t vm) const;
  std::vector<std::uint64_t> shadow_pages(std::uint64_t vm) const;
  bool has_valid_root(std::uint64_t vm, int as_id) const;
  int nr_vcpus(std::uint64_t vm) const;
  std::size_t live_tables() const;  // every table of every VM, roots included

 private:
  using Table = detail::Table;
  using Vm = detail::Vm;
  class OpScope;

  // Allocation (frees wait for the end of the operation, like call_rcu).
  Table& new_table(Vm& vm, int level, int as_id, std::uint64_t gfn);
  void free_table(Vm& vm, std::uint64_t pfn);
  void rcu_barrier();

  // The SPTE machinery, as in tdp_mmu.c.
  void set_spte(Vm& vm, Table& t, int index, std::uint64_t new_spte, bool shared);
  void zap_spte_atomic(Vm& vm, Table& t, int index);
  void handle_changed_spte(Vm& vm, int as_id, std::uint64_t gfn, std::uint64_t old_spte,
                           std::uint64_t new_spte, int level, bool shared);
  void handle_removed_pt(Vm& vm, std::uint64_t pfn, bool shared);
  void link_sp(Vm& vm, Table& parent, int index, Table& child, bool shared, bool account_nx);
  void split_huge_page(Vm& vm, Table& parent, int index, Table& child, bool shared);
  void track_nx(Vm& vm, Table& t, bool report);
  void untrack_nx(Vm& vm, Table& t, bool report);
  void emit_failed_link(Vm& vm, int level, int as_id, std::uint64_t gfn, bool nx, bool account);

  // Roots.
  std::uint64_t alloc_root(Vm& vm, int as_id);
  void put_root(Vm& vm, std::uint64_t pfn);
  void zap_root(Vm& vm, Table& root, bool shared);
  void zap_root_pass(Vm& vm, Table& t, int zap_level, bool shared);

  // for_each_{valid_,}tdp_mmu_root_yield_safe(); as_id < 0: every address space.
  template <typename Fn>
  void for_each_root_yield_safe(Vm& vm, int as_id, bool only_valid, Fn&& fn);

  // Walks.
  void split_walk(Vm& vm, Table& t, std::uint64_t start, std::uint64_t end, int target,
                  bool shared);
  void zap_leafs_walk(Vm& vm, Table& t, std::uint64_t start, std::uint64_t end);
  void collapsible_walk(Vm& vm, Table& t, std::uint64_t start, std::uint64_t end, int max_level);
  void clear_dirty_walk(Vm& vm, Table& t, std::uint64_t start, std::uint64_t end);
  void map_target_level(Vm& vm, Table& t, int index, const Fault& fault);

  void shadow_zap_page(Vm& vm, std::uint64_t sp);

  // Values of this era.
  std::uint64_t nonpresent() const;
  std::uint64_t frozen() const;
  std::uint64_t leaf(const Vm& vm, std::uint64_t gfn, int level, bool exec, bool writable) const;

  Vm& vm_at(std::uint64_t key);
  const Vm& vm_at(std::uint64_t key) const;
  Table& table(Vm& vm, std::uint64_t pfn);
  events::PageRef ref(const Table& t) const;
  void emit(const Vm& vm, Event ev);

  SimOptions options_;
  std::vector<Event>* sink_;
  std::map<std::uint64_t, std::unique_ptr<Vm>> vms_;
  std::uint64_t clock_ns_ = 0;
  int op_depth_ = 0;
  // Allocators shared by every VM, as the host's page and slab allocators are.
  std::uint64_t next_pfn_;
  std::uint64_t next_sp_;
  std::uint64_t next_vm_slot_ = 0;
  std::vector<std::uint64_t> free_pfns_, free_sps_, free_vm_slots_;
  std::vector<std::uint64_t> rcu_pfns_, rcu_sps_;
  std::vector<std::pair<std::uint64_t, events::PageRef>> rcu_root_frees_;  // (vm, root)
};

}  // namespace tdpwatch::sim
