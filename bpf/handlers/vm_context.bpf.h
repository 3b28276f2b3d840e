/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The VM-context hooks (bpf/HOOKS.md, "VM context"): KVM entry points that
 * carry a struct kvm and change SPTEs from threads that are not the VM's.
 * kvm_tdp_mmu_spte_changed has no struct kvm, so the entry notes "this thread
 * works on VM k" (thread_vm) and the exit clears it; tdpw_spte_vm_key()
 * (vm.bpf.h) looks there first while any thread is inside one.
 *
 *  - kvm_unmap_gfn_range(kvm, range): mmu notifier invalidate_range_start
 *    (reclaim's unmap, compaction and migration, khugepaged, KSM, soft-dirty
 *    clear_refs, munmap, memory hot-unplug); kvm_main.c calls it through the
 *    handler pointer of __kvm_handle_hva_range(), 6.1-6.18.
 *  - kvm_age_gfn / kvm_test_age_gfn(kvm, range): clear_flush_young,
 *    clear_young, test_young (reclaim and idle-page tracking).
 *  - kvm_set_spte_gfn(kvm, range): change_pte (KSM), 6.1-6.8 (gone in 6.9).
 *  - kvm_tdp_mmu_zap_sp(kvm, sp) (6.1-6.17) / kvm_tdp_mmu_zap_possible_nx_huge_page
 *    (6.18): the NX recovery worker zapping one possible-NX table; its
 *    parent SPTE's change comes before the zap_page tracepoint that would
 *    otherwise give the VM (6.1: a kthread of its own).
 */
#ifndef TDPWATCH_BPF_HANDLERS_VM_CONTEXT_BPF_H
#define TDPWATCH_BPF_HANDLERS_VM_CONTEXT_BPF_H

#include "kvm_compat.bpf.h"
#include "handlers/maps.bpf.h"

/* The key this plan gives kvm's events: its pointer, or its VMM's tgid. */
static __always_inline __u64 tdpw_context_key(struct kvm *kvm)
{
	if (resolve_vm_by_tgid)
		return (__u64)kvm;
	return tdpw_kvm_userspace_pid(kvm);
}

static __always_inline int tdpw_handle_vm_context_enter(struct kvm *kvm)
{
	__u32 pid = (__u32)bpf_get_current_pid_tgid();
	__u64 key = tdpw_context_key(kvm);
	bool fresh = bpf_map_lookup_elem(&thread_vm, &pid) == NULL;

	if (!key)
		return 0;
	if (bpf_map_update_elem(&thread_vm, &pid, &key, BPF_ANY)) {
		tdpw_stat_inc(TDPW_STAT_CONTEXT_FULL);
		return 0;
	}
	if (fresh)
		__sync_fetch_and_add(&threads_in_vm_context, 1);
	return 0;
}

static __always_inline int tdpw_handle_vm_context_exit(void)
{
	__u32 pid = (__u32)bpf_get_current_pid_tgid();

	/* Only an exit whose entry was seen (attached mid-call: nothing to undo). */
	if (bpf_map_delete_elem(&thread_vm, &pid) == 0)
		__sync_fetch_and_add(&threads_in_vm_context, -1);
	return 0;
}

#endif /* TDPWATCH_BPF_HANDLERS_VM_CONTEXT_BPF_H */
