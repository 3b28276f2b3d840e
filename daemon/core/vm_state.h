// One VM's accounting state.  Internal to the core: the Model routes events
// here by VM key.  Each handler names the kernel function it mirrors.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "daemon/core/abi.h"
#include "daemon/core/counts.h"
#include "daemon/core/inconsistency.h"
#include "daemon/core/leak.h"
#include "daemon/core/adoption.h"
#include "daemon/core/model.h"
#include "daemon/core/page_store.h"

namespace tdpwatch::core {

class VmState {
 public:
  VmState(std::uint64_t key, std::uint32_t tgid, bool implicit, const ModelOptions& options);

  void apply(const Event& ev, std::uint64_t event_index);
  LeakRecord teardown(std::uint64_t event_index) const;
  // A VM_CREATE for a VM first seen without one (implicit): the create came
  // late (uevents race the ring buffer; a VM may allocate pages before KVM
  // announces it), so it is the same life.  False if the VM was not implicit.
  bool adopt_create(std::uint32_t tgid);
  void set_tgid(std::uint32_t tgid) { tgid_ = tgid; }
  // The page of a zap event (UNLINK_SP: a linked TDP table; SHADOW_ZAP: a
  // shadow page by sp) is this VM's.
  bool holds_page(const Event& ev) const;
  std::uint32_t tgid() const { return tgid_; }

  void set_counts(const CountTargets& targets);
  // Takes the kernel's live structure (adoption.h): roots, tables and shadow
  // pages the model lacks are added as if watched from their creation, the
  // possible-NX flags set, and the page and list offsets (a baseline's
  // stand-ins for pages the model never saw) dropped.  Returns the pages added.
  std::size_t adopt(const Adoption& adoption);
  bool adopted() const { return adopted_; }

  VmSnapshot snapshot() const;
  std::vector<PageView> pages() const;
  std::vector<PageView> shadow_pages() const;
  const std::vector<InconsistencyDetail>& details() const { return details_; }
  const PageStore& store() const { return store_; }

 private:
  struct Root {
    std::uint64_t sp;
    std::uint64_t pfn;
    std::uint64_t gfn;
    std::uint32_t role;
    int refcount;  // -1: unknown; 0: released (off tdp_mmu_roots), free pending
    bool valid;
  };
  struct ShadowPage {
    std::uint64_t gfn;
    std::uint32_t role;
    std::uint8_t flags;  // kFlagNxDisallowed, kFlagNxTracked, kFlagUnlinked
  };

  // TDPW_EV_SPTE_CHANGED: handle_changed_spte().
  void on_spte_changed(const Event& ev);
  // TDPW_EV_LEAF_STATS: the probes' leaf statistics since the last fold.
  void on_leaf_stats(const Event& ev);
  // A child table appeared under a present non-leaf SPTE (tdp_mmu_link_sp).
  void link_from_spte(int as_id, std::uint64_t gfn, int level, std::uint64_t pfn);
  // handle_removed_pt() for the table at (as_id, level, gfn, pfn).
  void removed_pt_from_spte(int as_id, std::uint64_t gfn, int level, std::uint64_t pfn);

  void on_link_sp(const Event& ev);
  void on_unlink_sp(const Event& ev);
  void on_nx_track(const Event& ev);
  void on_nx_untrack(const Event& ev);
  void on_root(const Event& ev);
  void on_shadow_get(const Event& ev);
  void on_shadow_zap(const Event& ev);

  void apply_offsets(LeakRecord& rec) const;

  Slot link_page(const PageKey& key, std::uint32_t role, std::uint8_t flags);
  // Inserts and accounts a table seen linked (SPTE stream, adoption) under
  // its parent, with the parent's role; not counted as a link event.
  Slot place_table(const PageKey& key);
  // tdp_mmu_unlink_sp(): uncount, and untrack unless an untrack event follows.
  void unlink_page(Slot slot);
  // Unlinks every linked descendant of `slot`, leaving them as zombies.
  void unlink_descendants(Slot slot);
  void drop_page(Slot slot);
  void untrack_tdp(PageRecord& r);
  void settle(Slot slot);  // frees a record that nothing waits for anymore

  std::uint8_t role_index(std::uint32_t role);
  std::uint32_t role_of(const PageRecord& r) const;
  Root* find_root(const Event& ev);
  void forget_released_roots();
  int root_level() const;
  void note(Inconsistency kind, std::uint64_t gfn, std::uint64_t id, int level);

  std::uint64_t key_;
  std::uint32_t tgid_;
  bool implicit_;
  bool adopted_ = false;  // adopt() took the kernel's structure
  const ModelOptions& options_;
  std::uint64_t event_index_ = 0;
  int max_spte_level_ = 0;

  VmCounts counts_;       // from events alone
  CountOffsets offsets_;  // set_counts()
  PageStore store_;
  std::vector<std::uint32_t> roles_;  // role words by index (<= 32)
  std::vector<Root> roots_;
  std::unordered_map<std::uint64_t, ShadowPage> shadow_;  // by sp
  InconsistencyCounts inconsistencies_{};
  std::vector<InconsistencyDetail> details_;
  // structure_from_spte: tables the zap_page tracepoint unlinked before
  // their parent SPTE's change arrived (7.x order); that change then finds
  // them gone, as it should.  Pending entries are few (one per table being
  // removed) and dropped when the parent's change comes.
  struct EarlyUnlink {
    int as_id;
    int level;
    std::uint64_t gfn;
    std::uint64_t pfn;
  };
  std::vector<EarlyUnlink> unlinked_before_parent_;
  bool take_early_unlink(int as_id, int level, std::uint64_t gfn, std::uint64_t pfn);
};

}  // namespace tdpwatch::core
