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

/* Reports one track/untrack of sp; `changes`: the list really changed. */
static __always_inline int tdpw_report_nx(struct kvm *kvm, struct kvm_mmu_page *sp, bool track,
					  bool changes, struct tdpw_sp_info *info)
{
	__u32 type = track ? TDPW_EV_NX_TRACK : TDPW_EV_NX_UNTRACK;
	__u32 tgid = tdpw_current_tgid();
	__u64 key = (__u64)kvm;
	struct tdpw_vm_counters *c;

	c = tdpw_count(key, type);
	if (c && changes) {
		__s64 delta = track ? 1 : -1;

		/* Constant indices: the verifier cannot bound a bool loaded from memory. */
		if (info->tdp)
			c->possible_nx_huge_pages[TDPW_MMU_TDP] += delta;
		else
			c->possible_nx_huge_pages[TDPW_MMU_SHADOW] += delta;
	}
	tdpw_refresh_truth(kvm);
	tdpw_emit_page(c, key, type, tgid, (__u64)sp, info, 0, 0);
	return 0;
}

static __always_inline int tdpw_handle_nx(struct kvm *kvm, struct kvm_mmu_page *sp, bool track)
{
	struct tdpw_sp_info info;
	bool on_list;

	if (!kvm || !sp || !tdpw_vm_wanted((__u64)kvm))
		return 0;
	tdpw_note_cpu_vm((__u64)kvm);
	tdpw_read_sp(sp, &info);
	if (track && info.tdp && tdpw_kernel_is_61())
		return 0;
	/* 6.1's unaccount has the page on the list by contract. */
	on_list = !track && tdpw_kernel_is_61() ? true : tdpw_sp_on_nx_list(sp);
	if (!track && on_list) {
		__u32 pid = (__u32)bpf_get_current_pid_tgid();
		__u64 page = (__u64)sp;

		bpf_map_update_elem(&thread_nx_untracked, &pid, &page, BPF_ANY);
	}
	return tdpw_report_nx(kvm, sp, track, on_list != track, &info);
}

/*
 * The NX recovery worker's own untrack.  Since the read-lock rework of
 * kvm_recover_nx_huge_pages() (seen in Debian's 6.19.14), the worker calls
 * unaccount_nx_huge_page(kvm, sp) -- which takes sp off its list -- before
 * kvm_tdp_mmu_zap_possible_nx_huge_page(kvm, sp), and that untrack is
 * inlined (untrack_possible_nx_huge_page() is in the same file, mmu.c):
 * nx_untrack never sees it, and tdp_mmu_unlink_sp() no longer untracks a
 * page whose nx_huge_page_disallowed is already false.  So at the zap's entry
 * (zap_sp) a page already off its list was untracked there, unless this
 * thread's last visible untrack was that very page: reported once, as
 * NX_UNTRACK.  6.1-6.17 zap a page still on its list (the unlink untracks it,
 * visibly): nothing to do.  Pages the worker unaccounts without zapping
 * (their memslot is dirty-logged) stay unseen: bpf/HOOKS.md.
 */
static __always_inline int tdpw_handle_nx_recovered(struct kvm *kvm, struct kvm_mmu_page *sp)
{
	__u32 pid = (__u32)bpf_get_current_pid_tgid();
	struct tdpw_sp_info info;
	__u64 *last;

	if (!kvm || !sp || tdpw_kernel_is_61() || !tdpw_vm_wanted((__u64)kvm))
		return 0;
	if (tdpw_sp_on_nx_list(sp))
		return 0;
	last = bpf_map_lookup_elem(&thread_nx_untracked, &pid);
	if (last && *last == (__u64)sp) {
		bpf_map_delete_elem(&thread_nx_untracked, &pid);
		return 0;
	}
	tdpw_read_sp(sp, &info);
	return tdpw_report_nx(kvm, sp, false, true, &info);
}

#endif /* TDPWATCH_BPF_HANDLERS_NX_BPF_H */
