/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Hook root_put: kvm_tdp_mmu_put_root() at entry; value = the root's
 * tdp_mmu_root_count before the put.
 *   6.1:   kvm_tdp_mmu_put_root(kvm, root, bool shared)
 *   6.12+: kvm_tdp_mmu_put_root(kvm, root)
 * Only the first two arguments are read, so one program serves both.
 */
#ifndef TDPWATCH_BPF_HANDLERS_ROOT_PUT_BPF_H
#define TDPWATCH_BPF_HANDLERS_ROOT_PUT_BPF_H

#include "handlers/emit.bpf.h"
#include "handlers/vm.bpf.h"

static __always_inline int tdpw_handle_root_put(struct kvm *kvm, struct kvm_mmu_page *root)
{
	__u32 tgid = tdpw_current_tgid();
	__u64 key = (__u64)kvm;
	struct tdpw_vm_counters *c;
	struct tdpw_sp_info info;
	__s32 before;

	if (!kvm || !root || !tdpw_vm_wanted(key))
		return 0;
	tdpw_read_sp(root, &info);
	before = tdpw_sp_root_count(root);
	c = tdpw_count(key, TDPW_EV_ROOT_PUT);
	tdpw_refresh_truth(kvm);
	tdpw_emit_page(c, key, TDPW_EV_ROOT_PUT, tgid, (__u64)root, &info, TDPW_F_VALUE_VALID,
		       before);
	return 0;
}

#endif /* TDPWATCH_BPF_HANDLERS_ROOT_PUT_BPF_H */
