// The TDP MMU accounting model: kernel events in, per-VM state out.  No I/O,
// no clocks, no threads: a KVM maintainer should be able to read it against
// arch/x86/kvm/mmu/tdp_mmu.c and mmu.c.  The kernel functions cited in
// daemon/core are those of 6.12 unless a comment names another version; the
// eras where they differ (6.1, 6.15+): docs/kernel-eras.md §1.
//
// Thread safety: none.  One thread applies events; readers take snapshots on
// that thread (or under the caller's lock).
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "daemon/core/abi.h"
#include "daemon/core/adjust.h"
#include "daemon/core/adoption.h"
#include "daemon/core/counts.h"
#include "daemon/core/inconsistency.h"
#include "daemon/core/leak.h"

namespace tdpwatch::core {

struct ModelOptions {
  // Tracepoint-only plans have no link_sp/unlink_sp hooks: structure (links,
  // unlinks, recursive removal) is derived from TDPW_EV_SPTE_CHANGED alone.
  // Otherwise LINK_SP/UNLINK_SP are authoritative and SPTE changes only move
  // the leaf statistics.
  bool structure_from_spte = false;
  // Whether the source reports the NX untrack that tdp_mmu_unlink_sp() and
  // __kvm_mmu_prepare_zap_page() do on an unlinked/zapped page as its own
  // TDPW_EV_NX_UNTRACK (fentry/kprobe plans do; tracepoint-only plans cannot).
  // If not, the model untracks on unlink itself, as the kernel does.
  bool nx_untrack_events = false;
  // Whether the source reports roots going away (TDPW_EV_ROOT_PUT/FREE).
  // Tracepoint-only plans see roots allocated (kvm_mmu_get_page with no
  // parent) but never released: their roots are not leaks at teardown.
  bool root_release_events = true;
  // Inconsistency details remembered per VM (counts are always kept).
  std::size_t max_inconsistency_details = 32;
};

// A point-in-time copy of one VM's state.
struct VmSnapshot {
  std::uint64_t vm = 0;
  std::uint32_t tgid = 0;
  bool implicit = false;  // first seen mid-life (no VM_CREATE): counts are since then
  bool adopted = false;   // its TDP structure was taken from the kernel (Model::adopt)
  VmCounts counts;        // events' counts plus `offsets`
  CountOffsets offsets;   // added by set_counts() (resync, baseline); zero otherwise
  InconsistencyCounts inconsistencies{};
  std::uint64_t inconsistencies_total = 0;
};

// One tracked page, for listings (tdpwatch snapshot --pages).
struct PageView {
  std::uint64_t sp;
  std::uint64_t pfn;
  std::uint64_t gfn;
  std::uint32_t role;
  int level;
  int as_id;
  bool nx_huge_page_disallowed;
  bool nx_tracked;
};

class VmState;

class Model {
 public:
  explicit Model(ModelOptions options = {});
  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;
  Model(Model&&) noexcept;
  Model& operator=(Model&&) noexcept;

  // Applies one event.  Never throws on bad input: oddities are counted as
  // inconsistencies of the event's VM.
  //
  // Which VM: a struct kvm * key is always a VM (a hook had that struct kvm).
  // A tgid key (tracepoint events: no struct kvm) is the VM of that tgid if
  // the model knows one: the tgid's own VM, or the one VM keyed by struct kvm
  // whose VMM has that tgid (a VM older than the daemon, which the probes'
  // vm_of_tgid does not know).  Otherwise only an event that a VMM's own
  // thread makes (founds_vm()) starts a VM; any other is unattributed.
  void apply(const Event& ev);

  // Whether an event of type `type` comes only from a thread of the VM's own
  // VMM: VM creation, root allocation, shadow page allocation, a link, an
  // NX track (all under a vCPU's fault or a VM ioctl).  Zaps, unlinks, SPTE
  // changes and untracks also run in reclaim, compaction, khugepaged, KSM,
  // soft-dirty writers and KVM's workers.
  static bool founds_vm(std::uint16_t type);

  // Sets the VM's figures to `targets` (a resync or a baseline; see
  // adjust.h).  Later events move the counts from there.  A zap or unlink of
  // a page the model never saw then consumes a positive offset instead of
  // counting an inconsistency: it is one of the pages the offset stands for.
  // False if the VM is unknown.
  bool set_counts(std::uint64_t vm, const CountTargets& targets);

  // Takes the kernel's live TDP structure of a VM first seen mid-life
  // (adoption.h, VmState::adopt), read at a quiescent point.  Returns the
  // tables added, or nullopt if the VM is unknown.
  std::optional<std::size_t> adopt(std::uint64_t vm, const Adoption& adoption);

  // The VMM of a struct kvm-keyed VM is `tgid` (kvm->userspace_pid, read by
  // the VM iterator): corrects a VM first seen through another task's event.
  // False if the VM is unknown or already has that tgid.
  bool set_tgid(std::uint64_t vm, std::uint32_t tgid);

  // Starts tracking a VM learned from the kernel's list of VMs before any
  // of its events (the daemon started after it, and it has been quiet):
  // implicit, as if its first event had come.  False if the VM is known, or
  // was torn down recently (a straggler of its teardown).
  bool add_implicit(std::uint64_t vm, std::uint32_t tgid);

  const ModelOptions& options() const { return options_; }
  std::uint64_t events_applied() const { return events_applied_; }

  // Live VMs (destroyed ones are gone; their leak records stay below).
  std::vector<std::uint64_t> vm_keys() const;
  std::optional<VmSnapshot> snapshot(std::uint64_t vm) const;
  std::vector<VmSnapshot> snapshot_all() const;
  std::vector<PageView> pages(std::uint64_t vm) const;
  // Live (accounted) shadow MMU pages; pfn 0, level and as_id from the role.
  std::vector<PageView> shadow_pages(std::uint64_t vm) const;
  std::vector<InconsistencyDetail> inconsistency_details(std::uint64_t vm) const;

  // One record per VM_DESTROY, leak or not (empty() when clean), in order.
  const std::vector<LeakRecord>& teardowns() const { return teardowns_; }
  // Moves the teardown records out (the daemon drains them).
  std::vector<LeakRecord> take_teardowns();

  // Oddities with no live VM to charge them to (teardown of an unknown VM,
  // events after a VM's teardown, unknown event types).
  const InconsistencyCounts& global_inconsistencies() const { return global_; }

  // Events keyed by a tgid that is no VM's (see apply(): a kernel thread or
  // a process that is not a VMM changed SPTEs and the plan could not say
  // for which VM).  Counted, never applied: no VM is made up for them.
  std::uint64_t unattributed_events() const { return unattributed_total_; }
  // The tgids behind them since the last call, with their event counts (the
  // daemon names their cause: daemon/tdpwatchd/unattributed.h).
  std::unordered_map<std::uint32_t, std::uint64_t> take_unattributed();

  // Heap bytes held for TDP page tracking across VMs (the benchmark's measure).
  std::size_t page_memory_bytes() const;
  std::size_t tracked_pages() const;

 private:
  void note_global(Inconsistency kind);
  VmState* resolve(const Event& ev);
  VmState* owner_of_page(const Event& ev);
  void index_kvm_vm(std::uint64_t vm, std::uint32_t tgid);
  void unindex_kvm_vm(std::uint64_t vm);
  void remember_destroyed(std::uint64_t vm);
  void forget_destroyed(std::uint64_t vm);

  ModelOptions options_;
  std::unordered_map<std::uint64_t, std::unique_ptr<VmState>> vms_;
  std::uint64_t last_vm_key_ = 0;
  VmState* last_vm_ = nullptr;
  std::uint64_t events_applied_ = 0;
  std::vector<LeakRecord> teardowns_;
  InconsistencyCounts global_{};
  // VMMs' tgids -> their VMs keyed by struct kvm * (for tgid-keyed events).
  std::unordered_map<std::uint32_t, std::vector<std::uint64_t>> kvm_vms_of_tgid_;
  std::uint64_t unattributed_total_ = 0;
  std::unordered_map<std::uint32_t, std::uint64_t> unattributed_;
  std::deque<std::uint64_t> destroyed_order_;
  std::unordered_set<std::uint64_t> destroyed_set_;
};

}  // namespace tdpwatch::core
