// Constructors for well-formed events: used by tests, the benchmark's stream
// generator and anything else that synthesises a kernel-like stream.
#pragma once

#include <cstdint>

#include "daemon/core/abi.h"

namespace tdpwatch::events {

struct PageRef {
  std::uint64_t sp = 0;
  std::uint64_t pfn = 0;
  std::uint64_t gfn = 0;
  std::uint32_t role = 0;  // kvm_mmu_page_role.word; its level/smm fill level/as_id
};

Event vm_create(std::uint64_t vm, std::uint32_t tgid);
Event vm_destroy(std::uint64_t vm, std::uint32_t tgid);
Event root_alloc(std::uint64_t vm, const PageRef& root, int refcount = -1);
Event root_invalidate(std::uint64_t vm, const PageRef& root);
Event root_put(std::uint64_t vm, const PageRef& root, int refcount_before = -1);
Event root_free(std::uint64_t vm, const PageRef& root);
// ret: tdp_mmu_link_sp()'s return value (0 or -EBUSY).
Event link_sp(std::uint64_t vm, const PageRef& sp, bool nx_huge_page_disallowed,
              bool account_nx = false, int ret = 0);
Event unlink_sp(std::uint64_t vm, const PageRef& sp);
Event nx_track(std::uint64_t vm, const PageRef& sp, int mmu_type);
Event nx_untrack(std::uint64_t vm, const PageRef& sp, int mmu_type);
Event spte_changed(std::uint64_t vm, int as_id, std::uint64_t gfn, int level,
                   std::uint64_t old_spte, std::uint64_t new_spte);
// The daemon's fold of the probes' leaf statistics (TDPW_EV_LEAF_STATS).
Event leaf_stats(std::uint64_t vm, std::int64_t pages_4k, std::int64_t pages_2m,
                 std::int64_t pages_1g, std::uint64_t spte_changes);
Event shadow_get(std::uint64_t vm, const PageRef& sp, bool created);
Event shadow_zap(std::uint64_t vm, const PageRef& sp, int root_count = 0);

// SPTE values as the kernel builds them (make_nonleaf_spte / make_spte).
std::uint64_t nonleaf_spte(std::uint64_t child_pfn);
std::uint64_t leaf_spte(std::uint64_t pfn, int level);

}  // namespace tdpwatch::events
