#include "daemon/core/vm_state.h"

#include <algorithm>
#include <tuple>

#include "daemon/core/role.h"
#include "daemon/core/spte.h"

namespace tdpwatch::core {
namespace {

constexpr std::uint64_t kKernelHalf = 0xffff000000000000ull;

int event_level(const Event& ev) {
  return ev.level != 0 ? ev.level : role::level(ev.page.role);
}

bool has_value(const Event& ev) {
  return (ev.flags & TDPW_F_VALUE_VALID) != 0;
}

bool is_linked(std::uint8_t f) {
  return !(f & (kFlagUnlinked | kFlagZombie));
}

}  // namespace

VmState::VmState(std::uint64_t key, std::uint32_t tgid, bool implicit, const ModelOptions& options)
    : key_(key), tgid_(tgid), implicit_(implicit), options_(options) {}

void VmState::apply(const Event& ev, std::uint64_t event_index) {
  event_index_ = event_index;
  // Events the probes saw: a fold stands for the SPTE changes it counts, a
  // record whose leaves were counted is one of them.
  if (ev.type == TDPW_EV_LEAF_STATS) {
    counts_.events_total += ev.leaf.spte_changes;
  } else if (!(ev.type == TDPW_EV_SPTE_CHANGED && (ev.flags & TDPW_F_LEAVES_COUNTED))) {
    ++counts_.events_total;
  }
  switch (ev.type) {
    case TDPW_EV_SPTE_CHANGED:
      on_spte_changed(ev);
      break;
    case TDPW_EV_LEAF_STATS:
      on_leaf_stats(ev);
      break;
    case TDPW_EV_LINK_SP:
      on_link_sp(ev);
      break;
    case TDPW_EV_UNLINK_SP:
      on_unlink_sp(ev);
      break;
    case TDPW_EV_NX_TRACK:
      on_nx_track(ev);
      break;
    case TDPW_EV_NX_UNTRACK:
      on_nx_untrack(ev);
      break;
    case TDPW_EV_ROOT_ALLOC:
    case TDPW_EV_ROOT_INVALIDATE:
    case TDPW_EV_ROOT_PUT:
    case TDPW_EV_ROOT_FREE:
      on_root(ev);
      break;
    case TDPW_EV_SHADOW_GET:
      on_shadow_get(ev);
      break;
    case TDPW_EV_SHADOW_ZAP:
      on_shadow_zap(ev);
      break;
    default:
      note(Inconsistency::kUnknownEventType, 0, ev.type, 0);
      break;
  }
}

bool VmState::adopt_create(std::uint32_t tgid) {
  if (!implicit_) return false;
  implicit_ = false;
  if (tgid != 0) tgid_ = tgid;
  return true;
}

// ---- handle_changed_spte() (tdp_mmu.c; same in 6.1-6.18) -----------------

void VmState::on_spte_changed(const Event& ev) {
  // A record whose leaf statistics the probes counted is one of the changes
  // a TDPW_EV_LEAF_STATS fold counts (ABI 2); an ABI 1 record, or one the
  // probes could not count, moves them here.
  const bool leaves_counted = (ev.flags & TDPW_F_LEAVES_COUNTED) != 0;
  if (!leaves_counted) ++counts_.spte_changed_total;
  const int level = ev.level;
  const int as_id = ev.as_id;
  const std::uint64_t gfn = ev.spte.gfn;
  const std::uint64_t old_spte = ev.spte.old_spte;
  const std::uint64_t new_spte = ev.spte.new_spte;
  if (level < spte::kLevel4K || level > spte::kMaxLevel || as_id >= kNrAddressSpaces) {
    note(Inconsistency::kBadLevel, gfn, 0, level);
    return;
  }
  const bool was_present = spte::is_present(old_spte);
  const bool is_present = spte::is_present(new_spte);
  const bool was_leaf = spte::is_leaf(level, old_spte);
  const bool is_leaf = spte::is_leaf(level, new_spte);

  // The kernel BUG()s here: a present leaf must be zapped before remapping.
  if (was_leaf && is_leaf && spte::to_pfn(old_spte) != spte::to_pfn(new_spte)) {
    note(Inconsistency::kLeafPfnChanged, gfn, spte::to_pfn(new_spte), level);
    return;
  }
  if (old_spte == new_spte) return;  // the kernel does not even trace this
  // Non-present to non-present: MMIO SPTEs, or freezing (REMOVED/FROZEN_SPTE).
  if (!was_present && !is_present) return;

  max_spte_level_ = std::max(max_spte_level_, level);
  // The table holding this SPTE must be known, unless it is a root.  Entries
  // set to FROZEN_SPTE belong to a table that handle_removed_pt() is tearing
  // down, which the model has already dropped.  A VM first seen mid-life
  // and not adopted yet knows none of its older tables (kdamond's aging
  // reaches it before the first quiescent walk).
  if ((!implicit_ || adopted_) && level < root_level() && !spte::is_frozen(new_spte) &&
      store_.find_any_live(as_id, level, gfn) == kNoSlot)
    note(Inconsistency::kUnknownParent, gfn, 0, level);

  // kvm_update_page_stats(), unless the probes counted it (bpf/tdpw_spte.h:
  // one rule for both).
  if (!leaves_counted) {
    if (level > spte::kLevel1G && (was_leaf || is_leaf)) {
      note(Inconsistency::kBadLevel, gfn, 0, level);
    } else {
      counts_.leaf_pages[level - 1] += tdpw_spte_leaf_change(level, old_spte, new_spte);
      if (tdpw_spte_splits_huge_page(level, old_spte, new_spte))
        counts_.leaf_pages[level - 2] += TDPW_SPTE_ENT_PER_PAGE;
    }
  } else if (level > spte::kLevel1G && (was_leaf || is_leaf)) {
    note(Inconsistency::kBadLevel, gfn, 0, level);
  }

  // "Recursively handle child PTs if the change removed a subtree."
  if (tdpw_spte_removes_table(level, old_spte, new_spte)) {
    if (is_present && !is_leaf) note(Inconsistency::kNonleafPfnChanged, gfn, 0, level);
    if (options_.structure_from_spte)
      removed_pt_from_spte(as_id, gfn, level - 1, spte::to_pfn(old_spte));
  }

  // A child table now hangs here: tdp_mmu_link_sp() wrote make_nonleaf_spte().
  if (tdpw_spte_links_table(level, old_spte, new_spte) && options_.structure_from_spte)
    link_from_spte(as_id, gfn, level - 1, spte::to_pfn(new_spte));
}

// TDPW_EV_LEAF_STATS: the probes' kvm_update_page_stats() since the last fold.
void VmState::on_leaf_stats(const Event& ev) {
  counts_.spte_changed_total += ev.leaf.spte_changes;
  for (int i = 0; i < kNrLeafLevels; ++i) counts_.leaf_pages[i] += ev.leaf.pages[i];
}

void VmState::link_from_spte(int as_id, std::uint64_t gfn, int level, std::uint64_t pfn) {
  const PageKey key{as_id, level, gfn, pfn, 0};
  if (Slot s = store_.find(key); s != kNoSlot) {
    if (is_linked(PageStore::flags(store_.at(s)))) {
      note(Inconsistency::kDoubleLink, gfn, pfn, level);
      return;
    }
    drop_page(s);  // a stale record of a frame the kernel has reused
  }
  place_table(key);
  ++counts_.link_sp_total;
}

Slot VmState::place_table(const PageKey& key) {
  // Tree links drive the recursive removal, so only an unambiguous parent is
  // recorded; a page without one still leaves on its own SPTE event.
  const Slot parent = store_.find_unique_live(key.as_id, key.level + 1, key.gfn);
  const std::uint32_t r = parent != kNoSlot ? (role_of(store_.at(parent)) & ~0xfu) |
                                                  static_cast<std::uint32_t>(key.level)
                                            : role::synthesize(key.level, key.as_id);
  const Slot s = store_.insert(key, role_index(r), 0);
  ++counts_.tdp_pages[key.as_id][key.level - 1];  // tdp_account_mmu_page()
  if (parent != kNoSlot) store_.add_child(parent, s);
  return s;
}

bool VmState::take_early_unlink(int as_id, int level, std::uint64_t gfn, std::uint64_t pfn) {
  const auto it = std::find_if(unlinked_before_parent_.begin(), unlinked_before_parent_.end(),
                               [&](const EarlyUnlink& e) {
                                 return e.as_id == as_id && e.level == level && e.gfn == gfn &&
                                        e.pfn == pfn;
                               });
  if (it == unlinked_before_parent_.end()) return false;
  unlinked_before_parent_.erase(it);
  return true;
}

void VmState::removed_pt_from_spte(int as_id, std::uint64_t gfn, int level, std::uint64_t pfn) {
  const Slot s = store_.find({as_id, level, gfn, pfn, 0});
  // Already unlinked by its zap_page event (7.x traces the parent's change
  // after handle_removed_pt()).
  if ((s == kNoSlot || (PageStore::flags(store_.at(s)) & kFlagUnlinked)) &&
      take_early_unlink(as_id, level, gfn, pfn)) {
    return;
  }
  if (s == kNoSlot && offsets_.tdp_pages > 0) {
    // A table the model never saw linked, one of those a resync or baseline
    // stands for.  Its own child tables come through here too, by the
    // kernel's recursion over its entries.
    --offsets_.tdp_pages;
    ++counts_.unlink_sp_total;
    return;
  }
  if (s == kNoSlot) {
    note(Inconsistency::kUnlinkUnknownPage, gfn, pfn, level);
    return;
  }
  PageRecord& r = store_.at(s);
  const std::uint8_t f = PageStore::flags(r);
  if (f & kFlagZombie) {
    // Already unlinked with an ancestor; this is the kernel's recursion
    // reaching it.  Only a pending NX untrack can keep it now.
    PageStore::set_flags(r, f & ~kFlagZombie);
    settle(s);
    return;
  }
  if (f & kFlagUnlinked) {
    note(Inconsistency::kUnlinkUnknownPage, gfn, pfn, level);
    return;
  }
  // handle_removed_pt(): the table and everything under it leave the tree now.
  unlink_descendants(s);
  unlink_page(s);
  if (r.parent != kNoSlot) store_.remove_child(r.parent, s);
  settle(s);
}

// ---- link / unlink events -----------------------------------------------

void VmState::on_link_sp(const Event& ev) {
  if (has_value(ev) && ev.page.value != 0) {  // -EBUSY: lost the cmpxchg, nothing linked
    ++counts_.link_sp_failed_total;
    return;
  }
  const int level = event_level(ev);
  const int as_id = ev.as_id;
  const std::uint64_t gfn = ev.page.gfn;
  if (level < spte::kLevel4K || level >= spte::kMaxLevel || as_id >= kNrAddressSpaces) {
    note(Inconsistency::kBadLevel, gfn, ev.page.pfn, level);
    return;
  }
  const PageKey key{as_id, level, gfn, ev.page.pfn, ev.page.sp};
  std::uint8_t flags = kFlagByLinkEvent;
  if (ev.flags & TDPW_F_NX_DISALLOWED) flags |= kFlagNxDisallowed;

  Slot s = store_.find(key);
  if (s != kNoSlot && is_linked(PageStore::flags(store_.at(s)))) {
    PageRecord& r = store_.at(s);
    const std::uint8_t f = PageStore::flags(r);
    // In SPTE mode the SPTE that linked this page came first: enrich it.
    if (!options_.structure_from_spte || (f & kFlagByLinkEvent)) {
      note(Inconsistency::kDoubleLink, gfn, ev.page.pfn ? ev.page.pfn : ev.page.sp, level);
      return;
    }
    PageStore::set_flags(r, f | flags);
    r.bits = (r.bits & ~(0x1full << 59)) | (std::uint64_t{role_index(ev.page.role)} << 59);
    if (PageStore::id_is_sp(r) && ev.page.pfn) PageStore::set_id_pfn(r, ev.page.pfn);
  } else {
    if (s != kNoSlot) drop_page(s);  // stale record of a reused frame
    s = link_page(key, ev.page.role, flags);
    if (Slot parent = store_.find_unique_live(as_id, level + 1, gfn); parent != kNoSlot)
      store_.add_child(parent, s);
  }
  // 6.1 only: tdp_mmu_link_sp(..., account_nx, ...) calls account_huge_nx_page().
  if (ev.flags & TDPW_F_ACCOUNT_NX) {
    PageRecord& r = store_.at(s);
    const std::uint8_t f = PageStore::flags(r);
    if (!(f & kFlagNxTracked)) {
      PageStore::set_flags(r, f | kFlagNxTracked | kFlagNxDisallowed);
      ++counts_.possible_nx_huge_pages[TDPW_MMU_TDP];
      ++counts_.nx_track_total;
    }
  }
}

bool VmState::holds_page(const Event& ev) const {
  if (ev.type == TDPW_EV_SHADOW_ZAP) return shadow_.count(ev.page.sp) != 0;
  const Slot s = store_.find({ev.as_id, event_level(ev), ev.page.gfn, ev.page.pfn, ev.page.sp});
  return s != kNoSlot && is_linked(PageStore::flags(store_.at(s)));
}

void VmState::on_unlink_sp(const Event& ev) {
  const int level = event_level(ev);
  const Slot s = store_.find({ev.as_id, level, ev.page.gfn, ev.page.pfn, ev.page.sp});
  const bool linked = s != kNoSlot && is_linked(PageStore::flags(store_.at(s)));
  if (options_.structure_from_spte) {
    // The parent's SPTE event (traced before handle_removed_pt() up to 6.19)
    // already did it.  Where it comes after (7.x), the page leaves here and
    // the parent's change finds it gone (take_early_unlink).
    if (!linked) return;
    if (ev.page.pfn != 0) {
      if (unlinked_before_parent_.size() >= 4096) unlinked_before_parent_.clear();
      unlinked_before_parent_.push_back({ev.as_id, level, ev.page.gfn, ev.page.pfn});
    }
  } else if (!linked && s == kNoSlot && offsets_.tdp_pages > 0) {
    --offsets_.tdp_pages;  // one of the pages a resync or baseline stands for
    ++counts_.unlink_sp_total;
    return;
  } else if (!linked) {
    note(Inconsistency::kUnlinkUnknownPage, ev.page.gfn, ev.page.pfn ? ev.page.pfn : ev.page.sp,
         level);
    return;
  }
  PageRecord& r = store_.at(s);
  if (r.parent != kNoSlot) store_.remove_child(r.parent, s);
  unlink_page(s);
  settle(s);
}

Slot VmState::link_page(const PageKey& key, std::uint32_t role, std::uint8_t flags) {
  const Slot s = store_.insert(key, role_index(role), flags);
  ++counts_.tdp_pages[key.as_id][key.level - 1];  // tdp_account_mmu_page()
  ++counts_.link_sp_total;
  return s;
}

void VmState::unlink_page(Slot s) {
  PageRecord& r = store_.at(s);
  // tdp_unaccount_mmu_page() (6.2+; list_del of sp->link in 6.1): the count
  // drops here, not at the RCU free.
  --counts_.tdp_pages[PageStore::as_id(r)][PageStore::level(r) - 1];
  ++counts_.unlink_sp_total;
  PageStore::set_flags(r, PageStore::flags(r) | kFlagUnlinked);
  // tdp_mmu_unlink_sp() untracks an NX-disallowed page; when the source does
  // not report that untrack itself, the model does it here.
  if (!options_.nx_untrack_events) untrack_tdp(r);
}

void VmState::unlink_descendants(Slot top) {
  std::vector<Slot> stack;
  for (Slot c = store_.at(top).first_child; c != kNoSlot; c = store_.at(c).next_sibling)
    stack.push_back(c);
  while (!stack.empty()) {
    const Slot s = stack.back();
    stack.pop_back();
    PageRecord& r = store_.at(s);
    if (!is_linked(PageStore::flags(r))) continue;
    unlink_page(s);
    PageStore::set_flags(r, PageStore::flags(r) | kFlagZombie);
    for (Slot c = r.first_child; c != kNoSlot; c = store_.at(c).next_sibling) stack.push_back(c);
  }
}

void VmState::untrack_tdp(PageRecord& r) {
  const std::uint8_t f = PageStore::flags(r);
  if (f & kFlagNxTracked) {
    --counts_.possible_nx_huge_pages[TDPW_MMU_TDP];
    ++counts_.nx_untrack_total;
  }
  PageStore::set_flags(r, f & ~(kFlagNxTracked | kFlagNxDisallowed));
}

void VmState::settle(Slot s) {
  const std::uint8_t f = PageStore::flags(store_.at(s));
  if (is_linked(f) || (f & kFlagZombie)) return;
  const bool untrack_due = options_.nx_untrack_events && (f & (kFlagNxTracked | kFlagNxDisallowed));
  if (!untrack_due) drop_page(s);
}

void VmState::drop_page(Slot s) {
  PageRecord& r = store_.at(s);
  // A stale record dropped while still on the NX list: its untrack was lost.
  if (PageStore::flags(r) & kFlagNxTracked) untrack_tdp(r);
  if (r.parent != kNoSlot) store_.remove_child(r.parent, s);
  for (Slot c = r.first_child; c != kNoSlot;) {
    PageRecord& child = store_.at(c);
    const Slot next = child.next_sibling;
    child.parent = kNoSlot;
    child.next_sibling = kNoSlot;
    c = next;
  }
  store_.erase(s);
}

// ---- NX huge page tracking ------------------------------------------------

void VmState::on_nx_track(const Event& ev) {
  const int level = event_level(ev);
  const std::uint64_t id = ev.page.pfn ? ev.page.pfn : ev.page.sp;
  if (ev.mmu_type == TDPW_MMU_SHADOW) {
    auto it = shadow_.find(ev.page.sp);
    if (it == shadow_.end() || (it->second.flags & kFlagUnlinked)) {
      note(Inconsistency::kTrackUnknownPage, ev.page.gfn, id, level);
      return;
    }
    // Shadow pages can be linked at several places: re-tracking is a no-op.
    if (it->second.flags & kFlagNxTracked) return;
    it->second.flags |= kFlagNxTracked | kFlagNxDisallowed;
    ++counts_.possible_nx_huge_pages[TDPW_MMU_SHADOW];
    ++counts_.nx_track_total;
    return;
  }
  const Slot s = store_.find({ev.as_id, level, ev.page.gfn, ev.page.pfn, ev.page.sp});
  if (s == kNoSlot || !is_linked(PageStore::flags(store_.at(s)))) {
    note(Inconsistency::kTrackUnknownPage, ev.page.gfn, id, level);
    return;
  }
  PageRecord& r = store_.at(s);
  const std::uint8_t f = PageStore::flags(r);
  if (f & kFlagNxTracked) {
    note(Inconsistency::kDoubleTrack, ev.page.gfn, id, level);
    return;
  }
  PageStore::set_flags(r, f | kFlagNxTracked | kFlagNxDisallowed);
  ++counts_.possible_nx_huge_pages[TDPW_MMU_TDP];
  ++counts_.nx_track_total;
}

void VmState::on_nx_untrack(const Event& ev) {
  const int level = event_level(ev);
  const std::uint64_t id = ev.page.pfn ? ev.page.pfn : ev.page.sp;
  if (ev.mmu_type == TDPW_MMU_SHADOW) {
    auto it = shadow_.find(ev.page.sp);
    if (it == shadow_.end() || !(it->second.flags & (kFlagNxTracked | kFlagNxDisallowed))) {
      note(Inconsistency::kUntrackUntracked, ev.page.gfn, id, level);
      return;
    }
    if (it->second.flags & kFlagNxTracked) {
      --counts_.possible_nx_huge_pages[TDPW_MMU_SHADOW];
      ++counts_.nx_untrack_total;
    }
    it->second.flags &= static_cast<std::uint8_t>(~(kFlagNxTracked | kFlagNxDisallowed));
    if (it->second.flags & kFlagUnlinked) shadow_.erase(it);
    return;
  }
  const Slot s = store_.find({ev.as_id, level, ev.page.gfn, ev.page.pfn, ev.page.sp});
  // untrack_possible_nx_huge_page() of a page off the list is a no-op in the
  // kernel, and legal for a disallowed page that never made the list.
  if (s == kNoSlot || !(PageStore::flags(store_.at(s)) & (kFlagNxTracked | kFlagNxDisallowed))) {
    note(Inconsistency::kUntrackUntracked, ev.page.gfn, id, level);
    return;
  }
  untrack_tdp(store_.at(s));
  settle(s);
}

// ---- roots ----------------------------------------------------------------

VmState::Root* VmState::find_root(const Event& ev) {
  for (Root& r : roots_) {
    if ((ev.page.sp && r.sp == ev.page.sp) || (ev.page.pfn && r.pfn == ev.page.pfn)) return &r;
  }
  return nullptr;
}

void VmState::on_root(const Event& ev) {
  Root* root = find_root(ev);
  const std::uint64_t id = ev.page.pfn ? ev.page.pfn : ev.page.sp;
  if (ev.type == TDPW_EV_ROOT_ALLOC) {
    const int refcount = has_value(ev) ? ev.page.value : -1;
    if (root && root->refcount != 0) {  // an existing root handed out again takes a reference
      root->refcount = refcount >= 0 ? refcount : (root->refcount > 0 ? root->refcount + 1 : -1);
      return;
    }
    const Root fresh{ev.page.sp,   ev.page.pfn, ev.page.gfn,
                     ev.page.role, refcount,    !role::invalid(ev.page.role)};
    if (root)
      *root = fresh;  // a released root's frame, reused for a new root
    else
      roots_.push_back(fresh);
    return;
  }
  if (!root) {
    // A VM first seen mid-life has roots from before the daemon.
    if (!implicit_) note(Inconsistency::kUnknownRoot, ev.page.gfn, id, event_level(ev));
    return;
  }
  switch (ev.type) {
    case TDPW_EV_ROOT_INVALIDATE:
      root->valid = false;
      return;
    case TDPW_EV_ROOT_PUT: {
      const int before = has_value(ev) ? ev.page.value : root->refcount;
      if (before < 0) return;  // refcount unknown: wait for ROOT_FREE
      if (before == 0) {
        note(Inconsistency::kRootRefcountUnderflow, ev.page.gfn, id, event_level(ev));
        return;
      }
      root->refcount = before - 1;
      // kvm_tdp_mmu_put_root(): the last put takes the root off
      // tdp_mmu_roots at once; its RCU free (ROOT_FREE) may follow.
      if (root->refcount == 0) forget_released_roots();
      return;
    }
    default:  // TDPW_EV_ROOT_FREE
      roots_.erase(roots_.begin() + (root - roots_.data()));
      return;
  }
}

void VmState::forget_released_roots() {
  // Released roots wait for a ROOT_FREE that tracepoint-only plans never
  // send: keep a few, drop the oldest.
  constexpr std::size_t kKeepReleased = 16;
  std::size_t released = 0;
  for (const Root& r : roots_) released += r.refcount == 0;
  for (auto it = roots_.begin(); released > kKeepReleased && it != roots_.end();) {
    if (it->refcount == 0) {
      it = roots_.erase(it);
      --released;
    } else {
      ++it;
    }
  }
}

int VmState::root_level() const {
  int level = max_spte_level_;
  for (const Root& r : roots_) level = std::max(level, role::level(r.role));
  return level;
}

// ---- adoption (adoption.h) --------------------------------------------------

std::size_t VmState::adopt(const Adoption& a) {
  for (const AdoptedRoot& ar : a.roots) {
    const auto same = [&](const Root& r) {
      return (ar.sp && r.sp == ar.sp) || (ar.pfn && r.pfn == ar.pfn);
    };
    const auto it = std::find_if(roots_.begin(), roots_.end(), same);
    const Root root{ar.sp, ar.pfn, ar.gfn, ar.role, ar.refcount, !role::invalid(ar.role)};
    if (it == roots_.end()) {
      roots_.push_back(root);
    } else {
      *it = root;  // the kernel's refcount and validity now
    }
  }
  // Parents before children, so that each table hangs under its parent as
  // link_from_spte() would have hung it (the recursive removal needs it).
  std::vector<const AdoptedTable*> order;
  order.reserve(a.tables.size());
  for (const AdoptedTable& t : a.tables) order.push_back(&t);
  std::stable_sort(order.begin(), order.end(),
                   [](const AdoptedTable* x, const AdoptedTable* y) { return x->level > y->level; });
  std::size_t added = 0;
  for (const AdoptedTable* t : order) {
    if (t->level < spte::kLevel4K || t->level >= spte::kMaxLevel || t->as_id >= kNrAddressSpaces) {
      note(Inconsistency::kBadLevel, t->gfn, t->pfn, t->level);
      continue;
    }
    const PageKey key{t->as_id, t->level, t->gfn, t->pfn, 0};
    Slot s = store_.find(key);
    if (s == kNoSlot || !is_linked(PageStore::flags(store_.at(s)))) {
      if (s != kNoSlot) drop_page(s);
      s = place_table(key);  // accounted long ago, linked before the daemon: no link event
      ++added;
    }
    PageRecord& rec = store_.at(s);
    const std::uint8_t f = PageStore::flags(rec);
    if (t->nx_tracked && !(f & kFlagNxTracked)) {
      PageStore::set_flags(rec, f | kFlagNxTracked | kFlagNxDisallowed);
      ++counts_.possible_nx_huge_pages[TDPW_MMU_TDP];
    }
  }
  for (const AdoptedShadowPage& sp : a.shadow) {
    auto [it, inserted] = shadow_.try_emplace(sp.sp, ShadowPage{sp.gfn, sp.role, 0});
    if (!inserted && !(it->second.flags & kFlagUnlinked)) continue;  // already known
    it->second = ShadowPage{sp.gfn, sp.role, 0};
    ++counts_.shadow_pages;  // kvm_account_mmu_page(), long ago
    if (sp.nx_tracked) {
      it->second.flags |= kFlagNxTracked | kFlagNxDisallowed;
      ++counts_.possible_nx_huge_pages[TDPW_MMU_SHADOW];
    }
    ++added;
  }
  // The pages themselves stand where a baseline's offsets stood for them.
  offsets_.tdp_pages = 0;
  offsets_.shadow_pages = 0;
  offsets_.possible_nx_huge_pages[TDPW_MMU_TDP] = 0;
  offsets_.possible_nx_huge_pages[TDPW_MMU_SHADOW] = 0;
  adopted_ = true;
  return added;
}

// ---- shadow MMU -----------------------------------------------------------

void VmState::on_shadow_get(const Event& ev) {
  if (!(ev.flags & TDPW_F_CREATED)) return;  // a cache hit: already counted
  auto [it, inserted] = shadow_.try_emplace(ev.page.sp, ShadowPage{ev.page.gfn, ev.page.role, 0});
  if (!inserted) {
    if (!(it->second.flags & kFlagUnlinked)) {
      note(Inconsistency::kShadowDoubleGet, ev.page.gfn, ev.page.sp, event_level(ev));
      return;
    }
    // A zapped page still awaiting its NX untrack: that event was lost.
    if (it->second.flags & kFlagNxTracked) --counts_.possible_nx_huge_pages[TDPW_MMU_SHADOW];
    it->second = ShadowPage{ev.page.gfn, ev.page.role, 0};
  }
  ++counts_.shadow_pages;  // kvm_account_mmu_page()
  ++counts_.shadow_created_total;
}

void VmState::on_shadow_zap(const Event& ev) {
  auto it = shadow_.find(ev.page.sp);
  if (it == shadow_.end() || (it->second.flags & kFlagUnlinked)) {
    const int root_count = has_value(ev) ? ev.page.value : 0;
    if (it == shadow_.end() && offsets_.shadow_pages > 0) {
      // One of the pages a resync or baseline stands for (its get was not seen).
      ++counts_.shadow_zapped_total;
      if (root_count == 0) --offsets_.shadow_pages;
      return;
    }
    note(Inconsistency::kShadowZapUnknown, ev.page.gfn, ev.page.sp, event_level(ev));
    return;
  }
  ++counts_.shadow_zapped_total;  // ++kvm->stat.mmu_shadow_zapped
  ShadowPage& page = it->second;
  // __kvm_mmu_prepare_zap_page(): a page still in use as a root stays
  // accounted until its last root reference goes.
  const int root_count = has_value(ev) ? ev.page.value : 0;
  if (root_count == 0) {
    --counts_.shadow_pages;  // kvm_unaccount_mmu_page()
    page.flags |= kFlagUnlinked;
  }
  if ((page.flags & (kFlagNxTracked | kFlagNxDisallowed)) && !options_.nx_untrack_events) {
    if (page.flags & kFlagNxTracked) {
      --counts_.possible_nx_huge_pages[TDPW_MMU_SHADOW];
      ++counts_.nx_untrack_total;
    }
    page.flags &= static_cast<std::uint8_t>(~(kFlagNxTracked | kFlagNxDisallowed));
  }
  if ((page.flags & kFlagUnlinked) && !(page.flags & (kFlagNxTracked | kFlagNxDisallowed)))
    shadow_.erase(it);
}

// ---- reporting ------------------------------------------------------------

std::uint8_t VmState::role_index(std::uint32_t role) {
  for (std::size_t i = 0; i < roles_.size(); ++i)
    if (roles_[i] == role) return static_cast<std::uint8_t>(i);
  if (roles_.size() >= PageStore::kMaxRoleIndex) return PageStore::kMaxRoleIndex;  // overflow
  roles_.push_back(role);
  return static_cast<std::uint8_t>(roles_.size() - 1);
}

std::uint32_t VmState::role_of(const PageRecord& r) const {
  const std::size_t i = PageStore::role_index(r);
  return i < roles_.size() ? roles_[i] : role::synthesize(PageStore::level(r), PageStore::as_id(r));
}

void VmState::note(Inconsistency kind, std::uint64_t gfn, std::uint64_t id, int level) {
  ++inconsistencies_[static_cast<std::size_t>(kind)];
  if (details_.size() < options_.max_inconsistency_details)
    details_.push_back({kind, event_index_, gfn, id, level});
}

void VmState::set_counts(const CountTargets& t) {
  // offset = target - what the events alone say.
  if (t.tdp_pages) offsets_.tdp_pages = *t.tdp_pages - counts_.tdp_pages_total();
  if (t.shadow_pages) offsets_.shadow_pages = *t.shadow_pages - counts_.shadow_pages;
  for (int m = 0; m < kNrMmuTypes; ++m) {
    if (t.possible_nx_huge_pages[m]) {
      offsets_.possible_nx_huge_pages[m] =
          *t.possible_nx_huge_pages[m] - counts_.possible_nx_huge_pages[m];
    }
  }
  for (int i = 0; i < kNrLeafLevels; ++i) {
    if (t.leaf_pages[i]) offsets_.leaf_pages[i] = *t.leaf_pages[i] - counts_.leaf_pages[i];
  }
}

VmSnapshot VmState::snapshot() const {
  VmSnapshot snap;
  snap.vm = key_;
  snap.tgid = tgid_;
  snap.implicit = implicit_;
  snap.adopted = adopted_;
  snap.counts = counts_;
  snap.offsets = offsets_;
  snap.counts.tdp_pages[0][0] += offsets_.tdp_pages;
  snap.counts.shadow_pages += offsets_.shadow_pages;
  for (int m = 0; m < kNrMmuTypes; ++m) {
    snap.counts.possible_nx_huge_pages[m] += offsets_.possible_nx_huge_pages[m];
  }
  for (int i = 0; i < kNrLeafLevels; ++i) snap.counts.leaf_pages[i] += offsets_.leaf_pages[i];
  for (const Root& r : roots_) {
    if (r.refcount != 0) ++(r.valid ? snap.counts.roots_valid : snap.counts.roots_invalid);
  }
  snap.inconsistencies = inconsistencies_;
  for (std::uint64_t n : inconsistencies_) snap.inconsistencies_total += n;
  return snap;
}

std::vector<PageView> VmState::pages() const {
  std::vector<PageView> out;
  out.reserve(store_.size());
  store_.for_each([&](Slot, const PageRecord& r) {
    const std::uint8_t f = PageStore::flags(r);
    if (!is_linked(f)) return;
    const bool by_sp = PageStore::id_is_sp(r);
    out.push_back({by_sp ? PageStore::id(r) | kKernelHalf : 0, by_sp ? 0 : PageStore::id(r),
                   PageStore::gfn(r), role_of(r), PageStore::level(r), PageStore::as_id(r),
                   (f & kFlagNxDisallowed) != 0, (f & kFlagNxTracked) != 0});
  });
  return out;
}

std::vector<PageView> VmState::shadow_pages() const {
  std::vector<PageView> out;
  out.reserve(shadow_.size());
  for (const auto& [sp, page] : shadow_) {
    if (page.flags & kFlagUnlinked) continue;  // zapped, kept only for its NX untrack
    out.push_back({sp, 0, page.gfn, page.role, role::level(page.role), role::as_id(page.role),
                   (page.flags & kFlagNxDisallowed) != 0, (page.flags & kFlagNxTracked) != 0});
  }
  return out;
}

// After a resync or baseline the page list is not the whole truth: a negative
// offset says the kernel holds that many fewer pages than the list (their
// zap or unlink was lost), a positive one that many more (never seen).  The
// counts follow the offsets; a kind that comes to zero lists no pages.
void VmState::apply_offsets(LeakRecord& rec) const {
  if (offsets_.zero()) return;
  auto adjust = [&](std::int64_t& n, std::int64_t offset, LeakedPage::What what) {
    if (offset == 0) return;
    n = std::max<std::int64_t>(0, n + offset);
    if (n == 0) std::erase_if(rec.pages, [&](const LeakedPage& p) { return p.what == what; });
  };
  adjust(rec.linked_pages, offsets_.tdp_pages, LeakedPage::What::kLinked);
  adjust(rec.shadow_pages, offsets_.shadow_pages, LeakedPage::What::kShadow);
  adjust(rec.nx_tracked_pages,
         offsets_.possible_nx_huge_pages[0] + offsets_.possible_nx_huge_pages[1],
         LeakedPage::What::kNxTracked);
}

LeakRecord VmState::teardown(std::uint64_t event_index) const {
  LeakRecord rec;
  rec.vm = key_;
  rec.tgid = tgid_;
  rec.event_index = event_index;
  rec.counts_at_teardown = snapshot().counts;
  store_.for_each([&](Slot, const PageRecord& r) {
    const std::uint8_t f = PageStore::flags(r);
    const bool by_sp = PageStore::id_is_sp(r);
    LeakedPage page{LeakedPage::What::kLinked,
                    by_sp ? PageStore::id(r) | kKernelHalf : 0,
                    by_sp ? 0 : PageStore::id(r),
                    PageStore::gfn(r),
                    role_of(r),
                    PageStore::level(r),
                    PageStore::as_id(r),
                    TDPW_MMU_TDP};
    if (is_linked(f)) {
      rec.pages.push_back(page);
      ++rec.linked_pages;
    }
    if (f & kFlagNxTracked) {
      page.what = LeakedPage::What::kNxTracked;
      rec.pages.push_back(page);
      ++rec.nx_tracked_pages;
    }
  });
  for (const Root& r : roots_) {
    if (r.refcount == 0) continue;                // released, only its RCU free is pending
    if (!options_.root_release_events) continue;  // the release is invisible
    rec.pages.push_back({LeakedPage::What::kRoot, r.sp, r.pfn, r.gfn, r.role, role::level(r.role),
                         role::as_id(r.role), TDPW_MMU_TDP});
    ++rec.roots;
  }
  for (const auto& [sp, page] : shadow_) {
    LeakedPage leaked{LeakedPage::What::kShadow,
                      sp,
                      0,
                      page.gfn,
                      page.role,
                      role::level(page.role),
                      role::as_id(page.role),
                      TDPW_MMU_SHADOW};
    if (!(page.flags & kFlagUnlinked)) {
      rec.pages.push_back(leaked);
      ++rec.shadow_pages;
    }
    if (page.flags & kFlagNxTracked) {
      leaked.what = LeakedPage::What::kNxTracked;
      rec.pages.push_back(leaked);
      ++rec.nx_tracked_pages;
    }
  }
  apply_offsets(rec);
  std::sort(rec.pages.begin(), rec.pages.end(), [](const LeakedPage& a, const LeakedPage& b) {
    return std::tie(a.what, a.as_id, a.level, a.gfn, a.pfn, a.sp) <
           std::tie(b.what, b.as_id, b.level, b.gfn, b.pfn, b.sp);
  });
  return rec;
}

}  // namespace tdpwatch::core
