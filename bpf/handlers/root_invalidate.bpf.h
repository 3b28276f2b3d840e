/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Hook root_invalidate: kvm_tdp_mmu_invalidate_all_roots(kvm) (6.1-6.13) /
 * kvm_tdp_mmu_invalidate_roots(kvm, root_types) (6.14+) returned: it set
 * role.invalid on roots of kvm->arch.tdp_mmu_roots (a memslot deleted or
 * moved, kvm_mmu_zap_all_fast(), nx_huge_pages toggled).  No tracepoint
 * says so, and an invalid root stays on the list until its last put (the
 * vCPU's next kvm_mmu_load()).  At exit every root of the list whose
 * role.invalid is set is reported as TDPW_EV_ROOT_INVALIDATE; the model
 * takes a root already known invalid again as a no-op.
 */
#ifndef TDPWATCH_BPF_HANDLERS_ROOT_INVALIDATE_BPF_H
#define TDPWATCH_BPF_HANDLERS_ROOT_INVALIDATE_BPF_H

#include "handlers/emit.bpf.h"
#include "handlers/vm.bpf.h"

#define TDPW_MAX_ROOTS_SCANNED 64

struct tdpw_root_scan {
	__u64 key;
	__u64 head;
	__u64 node;
	__u32 tgid;
};

static long tdpw_root_invalidate_step(__u64 i, void *arg)
{
	struct tdpw_root_scan *s = arg;
	struct kvm_mmu_page *root;
	struct tdpw_vm_counters *c;
	struct tdpw_sp_info info;
	__u64 next = 0;

	if (!s->node || s->node == s->head)
		return 1;
	root = (void *)(s->node - bpf_core_field_offset(struct kvm_mmu_page, link));
	tdpw_read_sp(root, &info);
	if (tdpw_role_invalid(info.role)) {
		c = tdpw_count(s->key, TDPW_EV_ROOT_INVALIDATE);
		tdpw_emit_page(c, s->key, TDPW_EV_ROOT_INVALIDATE, s->tgid, (__u64)root, &info, 0, 0);
	}
	if (bpf_probe_read_kernel(&next, sizeof(next), (void *)s->node))
		return 1;
	s->node = next;
	return 0;
}

static __always_inline int tdpw_handle_root_invalidate(struct kvm *kvm)
{
	struct tdpw_root_scan s = {};

	if (!kvm)
		return 0;
	s.key = (__u64)kvm;
	if (!tdpw_vm_wanted(s.key))
		return 0;
	s.tgid = tdpw_current_tgid();
	s.head = (__u64)&kvm->arch.tdp_mmu_roots;
	if (bpf_probe_read_kernel(&s.node, sizeof(s.node), (void *)s.head))
		return 0;
	bpf_loop(TDPW_MAX_ROOTS_SCANNED, tdpw_root_invalidate_step, &s, 0);
	tdpw_refresh_truth(kvm);
	return 0;
}

#endif /* TDPWATCH_BPF_HANDLERS_ROOT_INVALIDATE_BPF_H */
