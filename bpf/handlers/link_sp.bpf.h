/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Hook link_sp: tdp_mmu_link_sp() returning.
 *   6.1:   int tdp_mmu_link_sp(kvm, iter, sp, bool account_nx, bool shared)
 *          (account_nx: it also calls account_huge_nx_page(): TDPW_F_ACCOUNT_NX)
 *   6.2+:  int tdp_mmu_link_sp(kvm, iter, sp, bool shared)
 * Returns 0, or -EBUSY when the cmpxchg lost (nothing linked): value.
 * After a successful link *iter->sptep holds __pa(sp->spt): PAGE_OFFSET is
 * learned from it (page_offset.bpf.h).
 */
#ifndef TDPWATCH_BPF_HANDLERS_LINK_SP_BPF_H
#define TDPWATCH_BPF_HANDLERS_LINK_SP_BPF_H

#include "handlers/emit.bpf.h"
#include "handlers/vm.bpf.h"

static __always_inline int tdpw_handle_link_sp(struct kvm *kvm, struct tdp_iter *iter,
					       struct kvm_mmu_page *sp, bool account_nx, int ret)
{
	__u32 tgid = tdpw_current_tgid();
	__u64 key = (__u64)kvm;
	struct tdpw_vm_counters *c;
	struct tdpw_sp_info info;
	__u8 flags = TDPW_F_VALUE_VALID;

	if (!kvm || !sp || !tdpw_vm_wanted(key))
		return 0;
	tdpw_read_sp(sp, &info);
	if (ret == 0) {
		tdpw_set_owner((__u64)sp, key);
		if (!learned_page_offset && iter) {
			__u64 spte = 0;

			bpf_probe_read_kernel(&spte, sizeof(spte), BPF_CORE_READ(iter, sptep));
			tdpw_learn_page_offset(info.spt, spte);
		}
	}
	if (account_nx)
		flags |= TDPW_F_ACCOUNT_NX;
	c = tdpw_count(key, TDPW_EV_LINK_SP);
	if (c && ret == 0) {
		c->tdp_pages += 1; /* tdp_account_mmu_page() */
		if (account_nx)
			c->possible_nx_huge_pages[TDPW_MMU_TDP] += 1;
	}
	tdpw_refresh_truth(kvm);
	tdpw_emit_page(c, key, TDPW_EV_LINK_SP, tgid, (__u64)sp, &info, flags, ret);
	return 0;
}

#endif /* TDPWATCH_BPF_HANDLERS_LINK_SP_BPF_H */
