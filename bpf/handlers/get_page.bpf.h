/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Hook get_page: tracepoint kvmmmu:kvm_mmu_get_page(sp, created), fired by
 * tdp_mmu_init_sp() for every TDP page (roots included, before the page is
 * linked) and by the shadow MMU for every page it hands out, new or cached.
 *  - TDP root (sp->ptep == NULL): TDPW_EV_ROOT_ALLOC.  Its refcount is set
 *    after the tracepoint, so no value.
 *  - other TDP pages: no event (link_sp or the SPTE stream reports the
 *    link), only page_owner, so their zap finds the VM.  Roots get no
 *    page_owner entry: they are not zapped through kvm_mmu_prepare_zap_page,
 *    so nothing would ever delete it (page_owner is a plain hash).
 *  - shadow pages: TDPW_EV_SHADOW_GET, TDPW_F_CREATED when new.
 * Runs in the faulting vCPU thread: the VM key is the current one.
 */
#ifndef TDPWATCH_BPF_HANDLERS_GET_PAGE_BPF_H
#define TDPWATCH_BPF_HANDLERS_GET_PAGE_BPF_H

#include "handlers/emit.bpf.h"
#include "handlers/vm.bpf.h"

static __always_inline int tdpw_handle_get_page(struct kvm_mmu_page *sp, bool created)
{
	__u32 tgid = tdpw_current_tgid();
	__u64 key = tdpw_current_vm_key(tgid);
	struct tdpw_vm_counters *c;
	struct tdpw_sp_info info;
	__u32 type;
	__u8 flags = 0;

	if (!tdpw_vm_wanted(key))
		return 0;
	tdpw_read_sp(sp, &info);
	if (info.tdp) {
		/* Roots never come through zap_page: no page_owner entry (it would leak). */
		if (info.ptep) {
			tdpw_set_owner((__u64)sp, key);
			return 0;
		}
		type = TDPW_EV_ROOT_ALLOC;
	} else {
		type = TDPW_EV_SHADOW_GET;
		if (created) {
			flags = TDPW_F_CREATED;
			tdpw_set_owner((__u64)sp, key);
		} else {
			tdpw_learn_page_offset_shadow(sp, info.spt);
		}
	}
	c = tdpw_count(key, type);
	if (c && created && !info.tdp)
		c->shadow_pages += 1; /* kvm_account_mmu_page() */
	tdpw_emit_page(c, key, type, tgid, (__u64)sp, &info, flags, 0);
	return 0;
}

#endif /* TDPWATCH_BPF_HANDLERS_GET_PAGE_BPF_H */
