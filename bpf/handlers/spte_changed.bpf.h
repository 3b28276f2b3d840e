/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Hook spte_changed: tracepoint kvmmmu:kvm_tdp_mmu_spte_changed(as_id, gfn,
 * level, old_spte, new_spte), one per handle_changed_spte() call: the
 * hottest hook (every TDP fault).  One helper call for the tgid, one map
 * lookup for the counters, no reads of kernel memory; a ring buffer record
 * only for a change of structure (a table linked or removed): leaf changes,
 * nearly all of them, are counted in vm_counters.leaf_pages (bpf/HOOKS.md).
 */
#ifndef TDPWATCH_BPF_HANDLERS_SPTE_CHANGED_BPF_H
#define TDPWATCH_BPF_HANDLERS_SPTE_CHANGED_BPF_H

#include "handlers/emit.bpf.h"
#include "handlers/vm.bpf.h"

/* stat.pages[level - 1] += n, by constant offsets (the verifier wants them). */
static __always_inline void tdpw_add_leaves(struct tdpw_vm_counters *c, int level, __s64 n)
{
	if (level == 1)
		c->leaf_pages[0] += n;
	else if (level == 2)
		c->leaf_pages[1] += n;
	else if (level == 3)
		c->leaf_pages[2] += n;
}

static __always_inline int tdpw_handle_spte_changed(int as_id, __u64 gfn, int level,
						    __u64 old_spte, __u64 new_spte)
{
	/* One helper call serves both the tgid and the per-CPU context match. */
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32;
	__u64 key = tdpw_spte_vm_key(pid_tgid);
	struct tdpw_vm_counters *c;
	struct tdpw_event *ev;
	bool structure;
	int change;

	if (!tdpw_vm_wanted(key))
		return 0;
	c = tdpw_count(key, TDPW_EV_SPTE_CHANGED);
	structure = tdpw_spte_moves_structure(level, old_spte, new_spte);
	if (c) {
		/* kvm_update_page_stats(), here and not record by record. */
		change = tdpw_spte_leaf_change(level, old_spte, new_spte);
		if (change)
			tdpw_add_leaves(c, level, change);
		if (structure) {
			if (tdpw_spte_splits_huge_page(level, old_spte, new_spte))
				tdpw_add_leaves(c, level - 1, TDPW_SPTE_ENT_PER_PAGE);
			if (links_from_spte && tdpw_spte_links_table(level, old_spte, new_spte))
				c->tdp_pages += 1;
		} else if (tdpw_spte_attr_only(level, old_spte, new_spte)) {
			c->events[TDPW_COUNT_SPTE_ATTR_ONLY] += 1;
		}
	}
	if (!emit_spte_events)
		return 0;
	/*
	 * Leaf-only changes stay here (counted above), unless the full stream
	 * is asked for or the counters had no room (then the record carries
	 * the change, TDPW_F_LEAVES_COUNTED clear, and the model counts it).
	 */
	if (c && !structure && !emit_leaf_sptes && !tdpw_spte_anomalous(level, old_spte, new_spte))
		return 0;
	ev = tdpw_reserve(c, key, TDPW_EV_SPTE_CHANGED, tgid);
	if (!ev)
		return 0;
	ev->flags = c ? TDPW_F_LEAVES_COUNTED : 0;
	ev->level = level;
	ev->as_id = as_id;
	ev->mmu_type = TDPW_MMU_TDP;
	ev->spte.gfn = gfn;
	ev->spte.old_spte = old_spte;
	ev->spte.new_spte = new_spte;
	ev->spte.reserved = 0;
	tdpw_submit_bulk(ev);
	return 0;
}

#endif /* TDPWATCH_BPF_HANDLERS_SPTE_CHANGED_BPF_H */
