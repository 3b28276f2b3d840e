/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * VM identity (TDPW_VM_KEY_IS_KVM_PTR): the struct kvm * where the hook has
 * it, else the VMM's tgid (or, with resolve_vm_by_tgid, the struct kvm * that
 * vm_create recorded for that tgid).  Pages are attributed to the VM that
 * created or linked them through page_owner, because zaps also run in other
 * contexts (reclaim, the NX recovery worker, the exiting VMM).
 */
#ifndef TDPWATCH_BPF_HANDLERS_VM_BPF_H
#define TDPWATCH_BPF_HANDLERS_VM_BPF_H

#include "kvm_compat.bpf.h"
#include "handlers/maps.bpf.h"

static __always_inline __u32 tdpw_current_tgid(void)
{
	return bpf_get_current_pid_tgid() >> 32;
}

static __always_inline __u64 tdpw_current_vm_key(__u32 tgid)
{
	if (resolve_vm_by_tgid) {
		__u64 *key = bpf_map_lookup_elem(&vm_of_tgid, &tgid);

		if (key)
			return *key;
	}
	return tgid;
}

/* Notes that the current thread is working on VM `key` on this CPU. */
static __always_inline void tdpw_note_cpu_vm(__u64 key)
{
	__u32 zero = 0;
	struct tdpw_cpu_vm *c = bpf_map_lookup_elem(&cpu_vm, &zero);

	if (c) {
		c->pid_tgid = bpf_get_current_pid_tgid();
		c->vm = key;
	}
}

/*
 * The VM of an SPTE event: the VM whose KVM entry point this thread is in
 * (thread_vm, vm_context.bpf.h; looked up only while some thread is in one),
 * else the one this very thread last worked on here (zap_page, nx), else by
 * tgid.  A tgid that is no VMM's (kswapd, a shell writing clear_refs) is
 * still sent: userspace counts its events as unattributed, never as a VM
 * (daemon/core/model.h).  Per-CPU array lookups are inlined.
 */
static __always_inline __u64 tdpw_spte_vm_key(__u64 pid_tgid)
{
	__u32 zero = 0, pid = (__u32)pid_tgid;
	struct tdpw_cpu_vm *c;
	__u64 *ctx;

	if (threads_in_vm_context > 0) {
		ctx = bpf_map_lookup_elem(&thread_vm, &pid);
		if (ctx)
			return *ctx;
	}
	c = bpf_map_lookup_elem(&cpu_vm, &zero);
	if (c && c->pid_tgid == pid_tgid)
		return c->vm;
	return tdpw_current_vm_key(pid_tgid >> 32);
}

/* The VM that owns sp (page_owner), else the current one (counted as an owner miss). */
static __always_inline __u64 tdpw_page_vm_key(__u64 sp, __u32 tgid)
{
	__u64 *owner = bpf_map_lookup_elem(&page_owner, &sp);

	if (owner)
		return *owner;
	tdpw_stat_inc(TDPW_STAT_OWNER_MISSES);
	return tdpw_current_vm_key(tgid);
}

static __always_inline void tdpw_set_owner(__u64 sp, __u64 key)
{
	if (bpf_map_update_elem(&page_owner, &sp, &key, BPF_ANY))
		tdpw_stat_inc(TDPW_STAT_OWNER_FULL);
}

static __always_inline void tdpw_forget_owner(__u64 sp)
{
	bpf_map_delete_elem(&page_owner, &sp);
}

/* The target_tgid filter. */
static __always_inline bool tdpw_vm_wanted(__u64 key)
{
	if (!target_tgid)
		return true;
	if (!TDPW_VM_KEY_IS_KVM_PTR(key))
		return key == target_tgid;
	return tdpw_kvm_userspace_pid((struct kvm *)key) == target_tgid;
}

/* vm_create: tgid -> kvm, or the tgid itself once a process has two VMs. */
static __always_inline void tdpw_vm_of_tgid_add(__u32 tgid, __u64 kvm)
{
	__u64 *old;

	if (!resolve_vm_by_tgid)
		return;
	old = bpf_map_lookup_elem(&vm_of_tgid, &tgid);
	if (old && *old != kvm) {
		__u64 ambiguous = tgid;

		bpf_map_update_elem(&vm_of_tgid, &tgid, &ambiguous, BPF_ANY);
		return;
	}
	bpf_map_update_elem(&vm_of_tgid, &tgid, &kvm, BPF_ANY);
}

static __always_inline void tdpw_vm_of_tgid_remove(__u32 tgid, __u64 kvm)
{
	__u64 *old;

	if (!resolve_vm_by_tgid)
		return;
	old = bpf_map_lookup_elem(&vm_of_tgid, &tgid);
	if (old && *old == kvm)
		bpf_map_delete_elem(&vm_of_tgid, &tgid);
}

/* kernel_truth[kvm] = what struct kvm says now. */
static __always_inline void tdpw_refresh_truth(struct kvm *kvm)
{
	struct tdpw_kernel_truth truth;
	__u64 key = (__u64)kvm;

	tdpw_read_truth(kvm, &truth);
	if (bpf_map_update_elem(&kernel_truth, &key, &truth, BPF_ANY))
		tdpw_stat_inc(TDPW_STAT_TRUTH_FULL);
}

#endif /* TDPWATCH_BPF_HANDLERS_VM_BPF_H */
