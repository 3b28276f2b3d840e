#include "tests/support/event_builders.h"

#include <cstring>

#include "daemon/core/role.h"
#include "daemon/core/spte.h"

namespace tdpwatch::events {
namespace {

Event blank(std::uint16_t type, std::uint64_t vm) {
  Event ev;
  std::memset(&ev, 0, sizeof(ev));
  ev.type = type;
  ev.vm = vm;
  return ev;
}

Event page_event(std::uint16_t type, std::uint64_t vm, const PageRef& p) {
  Event ev = blank(type, vm);
  ev.level = static_cast<__u8>(role::level(p.role));
  ev.as_id = static_cast<__u8>(role::as_id(p.role));
  ev.page.sp = p.sp;
  ev.page.pfn = p.pfn;
  ev.page.gfn = p.gfn;
  ev.page.role = p.role;
  return ev;
}

void set_value(Event& ev, int value) {
  ev.flags |= TDPW_F_VALUE_VALID;
  ev.page.value = value;
}

}  // namespace

Event vm_create(std::uint64_t vm, std::uint32_t tgid) {
  Event ev = blank(TDPW_EV_VM_CREATE, vm);
  ev.tgid = tgid;
  return ev;
}

Event vm_destroy(std::uint64_t vm, std::uint32_t tgid) {
  Event ev = blank(TDPW_EV_VM_DESTROY, vm);
  ev.tgid = tgid;
  return ev;
}

Event root_alloc(std::uint64_t vm, const PageRef& root, int refcount) {
  Event ev = page_event(TDPW_EV_ROOT_ALLOC, vm, root);
  if (refcount >= 0) set_value(ev, refcount);
  return ev;
}

Event root_invalidate(std::uint64_t vm, const PageRef& root) {
  return page_event(TDPW_EV_ROOT_INVALIDATE, vm, root);
}

Event root_put(std::uint64_t vm, const PageRef& root, int refcount_before) {
  Event ev = page_event(TDPW_EV_ROOT_PUT, vm, root);
  if (refcount_before >= 0) set_value(ev, refcount_before);
  return ev;
}

Event root_free(std::uint64_t vm, const PageRef& root) {
  return page_event(TDPW_EV_ROOT_FREE, vm, root);
}

Event link_sp(std::uint64_t vm, const PageRef& sp, bool nx_huge_page_disallowed, bool account_nx,
              int ret) {
  Event ev = page_event(TDPW_EV_LINK_SP, vm, sp);
  if (nx_huge_page_disallowed) ev.flags |= TDPW_F_NX_DISALLOWED;
  if (account_nx) ev.flags |= TDPW_F_ACCOUNT_NX;
  set_value(ev, ret);
  return ev;
}

Event unlink_sp(std::uint64_t vm, const PageRef& sp) {
  return page_event(TDPW_EV_UNLINK_SP, vm, sp);
}

Event nx_track(std::uint64_t vm, const PageRef& sp, int mmu_type) {
  Event ev = page_event(TDPW_EV_NX_TRACK, vm, sp);
  ev.mmu_type = static_cast<__u8>(mmu_type);
  return ev;
}

Event nx_untrack(std::uint64_t vm, const PageRef& sp, int mmu_type) {
  Event ev = page_event(TDPW_EV_NX_UNTRACK, vm, sp);
  ev.mmu_type = static_cast<__u8>(mmu_type);
  return ev;
}

Event spte_changed(std::uint64_t vm, int as_id, std::uint64_t gfn, int level,
                   std::uint64_t old_spte, std::uint64_t new_spte) {
  Event ev = blank(TDPW_EV_SPTE_CHANGED, vm);
  ev.as_id = static_cast<__u8>(as_id);
  ev.level = static_cast<__u8>(level);
  ev.spte.gfn = gfn;
  ev.spte.old_spte = old_spte;
  ev.spte.new_spte = new_spte;
  return ev;
}

Event leaf_stats(std::uint64_t vm, std::int64_t pages_4k, std::int64_t pages_2m,
                 std::int64_t pages_1g, std::uint64_t spte_changes) {
  Event ev = blank(TDPW_EV_LEAF_STATS, vm);
  ev.leaf.pages[0] = pages_4k;
  ev.leaf.pages[1] = pages_2m;
  ev.leaf.pages[2] = pages_1g;
  ev.leaf.spte_changes = spte_changes;
  return ev;
}

Event shadow_get(std::uint64_t vm, const PageRef& sp, bool created) {
  Event ev = page_event(TDPW_EV_SHADOW_GET, vm, sp);
  ev.mmu_type = TDPW_MMU_SHADOW;
  if (created) ev.flags |= TDPW_F_CREATED;
  return ev;
}

Event shadow_zap(std::uint64_t vm, const PageRef& sp, int root_count) {
  Event ev = page_event(TDPW_EV_SHADOW_ZAP, vm, sp);
  ev.mmu_type = TDPW_MMU_SHADOW;
  set_value(ev, root_count);
  return ev;
}

// make_nonleaf_spte(): present, writable/user/accessed bits, child table PA.
std::uint64_t nonleaf_spte(std::uint64_t child_pfn) {
  return spte::kMmuPresentMask | (child_pfn << 12) | 0x7 /* R/W/U (EPT RWX) */ | (1ull << 8);
}

std::uint64_t leaf_spte(std::uint64_t pfn, int level) {
  std::uint64_t v = spte::kMmuPresentMask | (pfn << 12) | 0x7;
  if (level > spte::kLevel4K) v |= spte::kPageSizeMask;
  return v;
}

}  // namespace tdpwatch::events
