/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Hook zap_page: tracepoint kvmmmu:kvm_mmu_prepare_zap_page(sp), fired by
 * handle_removed_pt() for every removed non-root TDP table (before
 * tdp_mmu_unlink_sp(), so sp->nx_huge_page_disallowed is still set) and by
 * __kvm_mmu_prepare_zap_page() for shadow pages (before their parents are
 * unlinked and before root_count is looked at).
 *  - TDP, non-root: TDPW_EV_UNLINK_SP; tdp_pages - 1.
 *  - shadow: TDPW_EV_SHADOW_ZAP, value = root_count; the page stays
 *    accounted while root_count > 0 (it is zapped again at its last put).
 * The VM comes from page_owner (zaps run in many contexts), else the current
 * tgid; the entry is dropped once the page is gone for good.
 */
#ifndef TDPWATCH_BPF_HANDLERS_ZAP_PAGE_BPF_H
#define TDPWATCH_BPF_HANDLERS_ZAP_PAGE_BPF_H

#include "handlers/emit.bpf.h"
#include "handlers/vm.bpf.h"

static __always_inline int tdpw_handle_zap_page(struct kvm_mmu_page *sp)
{
	__u32 tgid = tdpw_current_tgid();
	__u64 key = tdpw_page_vm_key((__u64)sp, tgid);
	struct tdpw_vm_counters *c;
	struct tdpw_sp_info info;
	__s32 root_count;

	tdpw_note_cpu_vm(key);
	if (!tdpw_vm_wanted(key))
		return 0;
	tdpw_read_sp(sp, &info);
	if (info.tdp) {
		if (!info.ptep)
			return 0; /* roots do not come through here; be safe */
		tdpw_forget_owner((__u64)sp);
		c = tdpw_count(key, TDPW_EV_UNLINK_SP);
		if (c)
			c->tdp_pages -= 1; /* tdp_unaccount_mmu_page() */
		tdpw_emit_page(c, key, TDPW_EV_UNLINK_SP, tgid, (__u64)sp, &info, 0, 0);
		return 0;
	}
	tdpw_learn_page_offset_shadow(sp, info.spt);
	root_count = tdpw_sp_root_count(sp);
	c = tdpw_count(key, TDPW_EV_SHADOW_ZAP);
	if (root_count == 0) {
		tdpw_forget_owner((__u64)sp);
		if (c)
			c->shadow_pages -= 1; /* kvm_unaccount_mmu_page() */
	}
	tdpw_emit_page(c, key, TDPW_EV_SHADOW_ZAP, tgid, (__u64)sp, &info, TDPW_F_VALUE_VALID,
		       root_count);
	return 0;
}

#endif /* TDPWATCH_BPF_HANDLERS_ZAP_PAGE_BPF_H */
