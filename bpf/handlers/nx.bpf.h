/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Hooks nx_track and nx_untrack, at function entry:
 *   6.2-6.17  track_possible_nx_huge_page(kvm, sp)
 *             untrack_possible_nx_huge_page(kvm, sp)
 *   6.18      the same with a third argument, enum kvm_mmu_type, which is
 *             always sp->tdp_mmu_page ? KVM_TDP_MMU : KVM_SHADOW_MMU: derived
 *             from sp here, so one program serves every era
 *   6.1       account_huge_nx_page(kvm, sp) / unaccount_huge_nx_page(kvm, sp):
 *             the loader retargets the programs (bpf/HOOKS.md).  6.1's TDP
 *             tdp_mmu_link_sp() accounts inside itself, reported as LINK_SP
 *             with TDPW_F_ACCOUNT_NX: TDP pages are not reported again here
 *             (ABI contract).
 * Every call is reported; the counters move only when the list really
 * changes (track of a page already on the list and untrack of one not on it
 * are no-ops in the kernel).
 */
#ifndef TDPWATCH_BPF_HANDLERS_NX_BPF_H
#define TDPWATCH_BPF_HANDLERS_NX_BPF_H

#include "handlers/emit.bpf.h"
#include "handlers/vm.bpf.h"

static __always_inline int tdpw_handle_nx(struct kvm *kvm, struct kvm_mmu_page *sp, bool track)
{
	__u32 type = track ? TDPW_EV_NX_TRACK : TDPW_EV_NX_UNTRACK;
	__u32 tgid = tdpw_current_tgid();
	__u64 key = (__u64)kvm;
	struct tdpw_vm_counters *c;
	struct tdpw_sp_info info;
	bool on_list;

	if (!kvm || !sp || !tdpw_vm_wanted(key))
		return 0;
	tdpw_note_cpu_vm(key);
	tdpw_read_sp(sp, &info);
	if (track && info.tdp && tdpw_kernel_is_61())
		return 0;
	/* 6.1's unaccount has the page on the list by contract. */
	on_list = !track && tdpw_kernel_is_61() ? true : tdpw_sp_on_nx_list(sp);
	c = tdpw_count(key, type);
	if (c && on_list != track) {
		__s64 delta = track ? 1 : -1;

		/* Constant indices: the verifier cannot bound a bool loaded from memory. */
		if (info.tdp)
			c->possible_nx_huge_pages[TDPW_MMU_TDP] += delta;
		else
			c->possible_nx_huge_pages[TDPW_MMU_SHADOW] += delta;
	}
	tdpw_refresh_truth(kvm);
	tdpw_emit_page(c, key, type, tgid, (__u64)sp, &info, 0, 0);
	return 0;
}

#endif /* TDPWATCH_BPF_HANDLERS_NX_BPF_H */
