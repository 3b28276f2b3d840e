/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Hooks vm_create and vm_destroy: kvm_arch_init_vm(kvm, type) returning 0,
 * and kvm_arch_destroy_vm(kvm) returning (the MMU teardown, where
 * kvm_mmu_uninit_tdp_mmu() WARNs on leftovers, is done by then; struct kvm
 * is freed only later, by kvm_arch_free_vm()).  Both carry struct kvm *:
 * the VM key is the pointer, and kernel_truth is refreshed.
 */
#ifndef TDPWATCH_BPF_HANDLERS_VM_LIFECYCLE_BPF_H
#define TDPWATCH_BPF_HANDLERS_VM_LIFECYCLE_BPF_H

#include "handlers/emit.bpf.h"
#include "handlers/vm.bpf.h"

static __always_inline void tdpw_emit_vm_event(struct kvm *kvm, __u32 type, __u32 tgid)
{
	__u64 key = (__u64)kvm;
	__u64 now = bpf_ktime_get_ns();
	struct tdpw_vm_counters *c;
	struct tdpw_event *ev;

	/*
	 * A new VM starts a new entry (its struct kvm may sit where a VM
	 * destroyed just before sat, whose entry the daemon has not deleted
	 * yet), stamped with this VM_CREATE's time.
	 */
	if (type == TDPW_EV_VM_CREATE)
		bpf_map_delete_elem(&vm_counters, &key);
	c = tdpw_count(key, type);
	if (c && type == TDPW_EV_VM_CREATE)
		c->generation = now;
	ev = tdpw_reserve(c, key, type, tgid);
	if (!ev)
		return;
	ev->ts_ns = now;
	ev->page.sp = 0;
	ev->page.pfn = 0;
	ev->page.gfn = 0;
	ev->page.role = 0;
	ev->page.value = 0;
	bpf_ringbuf_submit(ev, BPF_RB_FORCE_WAKEUP); /* rare; drains what SPTE records left */
}

static __always_inline int tdpw_handle_vm_create(struct kvm *kvm, long ret)
{
	__u32 tgid = tdpw_current_tgid();

	if (ret != 0 || !kvm || !tdpw_vm_wanted((__u64)kvm))
		return 0;
	tdpw_vm_of_tgid_add(tgid, (__u64)kvm);
	tdpw_refresh_truth(kvm);
	tdpw_emit_vm_event(kvm, TDPW_EV_VM_CREATE, tgid);
	return 0;
}

static __always_inline int tdpw_handle_vm_destroy(struct kvm *kvm)
{
	__u32 tgid = tdpw_current_tgid();

	if (!kvm || !tdpw_vm_wanted((__u64)kvm))
		return 0;
	/* The last reference may go in another process: use the VMM's pid. */
	tdpw_vm_of_tgid_remove(tdpw_kvm_userspace_pid(kvm), (__u64)kvm);
	tdpw_refresh_truth(kvm);
	tdpw_emit_vm_event(kvm, TDPW_EV_VM_DESTROY, tgid);
	return 0;
}

#endif /* TDPWATCH_BPF_HANDLERS_VM_LIFECYCLE_BPF_H */
