/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Hook spte_changed: tracepoint kvmmmu:kvm_tdp_mmu_spte_changed(as_id, gfn,
 * level, old_spte, new_spte), one per handle_changed_spte() call: the
 * hottest hook (every TDP fault).  One helper call for the tgid, one map
 * lookup for the counters, one ring buffer record; no reads of kernel memory.
 */
#ifndef TDPWATCH_BPF_HANDLERS_SPTE_CHANGED_BPF_H
#define TDPWATCH_BPF_HANDLERS_SPTE_CHANGED_BPF_H

#include "handlers/emit.bpf.h"
#include "handlers/vm.bpf.h"

/* tdp_mmu_link_sp() or a huge page split: a table now hangs under this SPTE. */
static __always_inline bool tdpw_spte_links_table(int level, __u64 old_spte, __u64 new_spte)
{
	bool new_table = (new_spte & TDPW_SPTE_PRESENT) && level > 1 && !(new_spte & TDPW_SPTE_HUGE);
	bool old_table = (old_spte & TDPW_SPTE_PRESENT) && level > 1 && !(old_spte & TDPW_SPTE_HUGE);

	return new_table && !old_table;
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

	if (!tdpw_vm_wanted(key))
		return 0;
	c = tdpw_count(key, TDPW_EV_SPTE_CHANGED);
	if (links_from_spte && c && tdpw_spte_links_table(level, old_spte, new_spte))
		c->tdp_pages += 1;
	if (c && tdpw_spte_attr_only(level, old_spte, new_spte))
		c->events[TDPW_COUNT_SPTE_ATTR_ONLY] += 1;
	if (!emit_spte_events)
		return 0;
	ev = tdpw_reserve(c, key, TDPW_EV_SPTE_CHANGED, tgid);
	if (!ev)
		return 0;
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
