// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * tdpwatch's probes: every attach variant of every hook, as thin SEC()
 * wrappers over the shared handlers in handlers/ (one file per hook).
 * Program names are `<hook>__<variant>` (bpf/HOOKS.md, the loader's
 * contract).  The loader
 * picks one variant per hook with bpf_program__set_autoload() before load;
 * fentry/fexit programs whose target a kernel lacks must be disabled or
 * retargeted (bpf_program__set_attach_target) before load, or load fails.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "kvm_compat.bpf.h"
#include "handlers/maps.bpf.h"
#include "handlers/get_page.bpf.h"
#include "handlers/link_sp.bpf.h"
#include "handlers/nx.bpf.h"
#include "handlers/root_invalidate.bpf.h"
#include "handlers/root_put.bpf.h"
#include "handlers/spte_changed.bpf.h"
#include "handlers/stash.bpf.h"
#include "handlers/vm_context.bpf.h"
#include "handlers/vm_lifecycle.bpf.h"
#include "handlers/zap_page.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* ---- vm_create: kvm_arch_init_vm(kvm, type) == 0 --------------------------- */

SEC("fexit/kvm_arch_init_vm")
int BPF_PROG(vm_create__fexit, struct kvm *kvm, unsigned long type, int ret)
{
	return tdpw_handle_vm_create(kvm, ret);
}

SEC("kprobe/kvm_arch_init_vm")
int BPF_KPROBE(vm_create__kprobe, struct kvm *kvm)
{
	tdpw_stash_put(TDPW_STASH_VM_CREATE, (__u64)kvm, 0, 0, 0);
	return 0;
}

SEC("kretprobe/kvm_arch_init_vm")
int BPF_KRETPROBE(vm_create__kretprobe, int ret)
{
	struct tdpw_stash s;

	if (!tdpw_stash_take(TDPW_STASH_VM_CREATE, &s))
		return 0;
	return tdpw_handle_vm_create((struct kvm *)s.kvm, ret);
}

/* ---- vm_destroy: kvm_arch_destroy_vm(kvm) returned -------------------------- */

SEC("fexit/kvm_arch_destroy_vm")
int BPF_PROG(vm_destroy__fexit, struct kvm *kvm)
{
	return tdpw_handle_vm_destroy(kvm);
}

SEC("kprobe/kvm_arch_destroy_vm")
int BPF_KPROBE(vm_destroy__kprobe, struct kvm *kvm)
{
	tdpw_stash_put(TDPW_STASH_VM_DESTROY, (__u64)kvm, 0, 0, 0);
	return 0;
}

SEC("kretprobe/kvm_arch_destroy_vm")
int BPF_KRETPROBE(vm_destroy__kretprobe)
{
	struct tdpw_stash s;

	if (!tdpw_stash_take(TDPW_STASH_VM_DESTROY, &s))
		return 0;
	return tdpw_handle_vm_destroy((struct kvm *)s.kvm);
}

/* ---- link_sp: tdp_mmu_link_sp() returned ------------------------------------ */

/*
 * One fexit program for both prototypes: the argument count tells 6.1's
 * (kvm, iter, sp, account_nx, shared) from 6.2+'s (kvm, iter, sp, shared),
 * and bpf_get_func_ret() finds the return value after either.
 */
SEC("fexit/tdp_mmu_link_sp")
int link_sp__fexit(__u64 *ctx)
{
	__u64 kvm = 0, iter = 0, sp = 0, account_nx = 0, ret = 0;

	bpf_get_func_arg(ctx, 0, &kvm);
	bpf_get_func_arg(ctx, 1, &iter);
	bpf_get_func_arg(ctx, 2, &sp);
	if (bpf_get_func_arg_cnt(ctx) == 5)
		bpf_get_func_arg(ctx, 3, &account_nx);
	bpf_get_func_ret(ctx, &ret);
	return tdpw_handle_link_sp((struct kvm *)kvm, (struct tdp_iter *)iter,
				   (struct kvm_mmu_page *)sp, account_nx & 1, (int)ret);
}

SEC("kprobe/tdp_mmu_link_sp")
int BPF_KPROBE(link_sp__kprobe, struct kvm *kvm, struct tdp_iter *iter, struct kvm_mmu_page *sp,
	       __u64 arg3)
{
	/* The fourth argument is account_nx only in 6.1 (shared after). */
	__u64 account_nx = tdpw_kernel_is_61() ? (arg3 & 1) : 0;

	tdpw_stash_put(TDPW_STASH_LINK_SP, (__u64)kvm, (__u64)iter, (__u64)sp, account_nx);
	return 0;
}

SEC("kretprobe/tdp_mmu_link_sp")
int BPF_KRETPROBE(link_sp__kretprobe, int ret)
{
	struct tdpw_stash s;

	if (!tdpw_stash_take(TDPW_STASH_LINK_SP, &s))
		return 0;
	return tdpw_handle_link_sp((struct kvm *)s.kvm, (struct tdp_iter *)s.iter,
				   (struct kvm_mmu_page *)s.sp, s.account_nx, ret);
}

/* ---- nx_track / nx_untrack (6.1: retargeted to (un)account_huge_nx_page) ---- */

SEC("fentry/track_possible_nx_huge_page")
int BPF_PROG(nx_track__fentry, struct kvm *kvm, struct kvm_mmu_page *sp)
{
	return tdpw_handle_nx(kvm, sp, true);
}

SEC("kprobe/track_possible_nx_huge_page")
int BPF_KPROBE(nx_track__kprobe, struct kvm *kvm, struct kvm_mmu_page *sp)
{
	return tdpw_handle_nx(kvm, sp, true);
}

SEC("fentry/untrack_possible_nx_huge_page")
int BPF_PROG(nx_untrack__fentry, struct kvm *kvm, struct kvm_mmu_page *sp)
{
	return tdpw_handle_nx(kvm, sp, false);
}

SEC("kprobe/untrack_possible_nx_huge_page")
int BPF_KPROBE(nx_untrack__kprobe, struct kvm *kvm, struct kvm_mmu_page *sp)
{
	return tdpw_handle_nx(kvm, sp, false);
}

/* ---- root_put: kvm_tdp_mmu_put_root() at entry ------------------------------ */

SEC("fentry/kvm_tdp_mmu_put_root")
int BPF_PROG(root_put__fentry, struct kvm *kvm, struct kvm_mmu_page *root)
{
	return tdpw_handle_root_put(kvm, root);
}

SEC("kprobe/kvm_tdp_mmu_put_root")
int BPF_KPROBE(root_put__kprobe, struct kvm *kvm, struct kvm_mmu_page *root)
{
	return tdpw_handle_root_put(kvm, root);
}

/* ---- VM context: entry notes the thread's VM, exit clears it (vm_context.bpf.h) ---- */

/*
 * The four programs of one VM-context hook on kernel function `fn`, all of
 * whose first argument is the struct kvm *: <hook>__fentry/__fexit and
 * <hook>__kprobe/__kretprobe (bpf/HOOKS.md).
 */
#define TDPW_VM_CONTEXT_HOOK(hook, fn)                                   \
	SEC("fentry/" #fn)                                               \
	int BPF_PROG(hook##__fentry, struct kvm *kvm)                    \
	{                                                                \
		return tdpw_handle_vm_context_enter(kvm);                \
	}                                                                \
	SEC("fexit/" #fn)                                                \
	int BPF_PROG(hook##__fexit, struct kvm *kvm)                     \
	{                                                                \
		return tdpw_handle_vm_context_exit();                    \
	}                                                                \
	SEC("kprobe/" #fn)                                               \
	int BPF_KPROBE(hook##__kprobe, struct kvm *kvm)                  \
	{                                                                \
		return tdpw_handle_vm_context_enter(kvm);                \
	}                                                                \
	SEC("kretprobe/" #fn)                                            \
	int BPF_KRETPROBE(hook##__kretprobe)                             \
	{                                                                \
		return tdpw_handle_vm_context_exit();                    \
	}

/* kvm_unmap_gfn_range(kvm, range): mmu notifier invalidate */
TDPW_VM_CONTEXT_HOOK(unmap_gfn_range, kvm_unmap_gfn_range)
/* kvm_age_gfn(kvm, range): clear_flush_young / clear_young */
TDPW_VM_CONTEXT_HOOK(age_gfn, kvm_age_gfn)
/* kvm_test_age_gfn(kvm, range): test_young */
TDPW_VM_CONTEXT_HOOK(test_age_gfn, kvm_test_age_gfn)
/* kvm_set_spte_gfn(kvm, range): change_pte, 6.1-6.8 */
TDPW_VM_CONTEXT_HOOK(set_spte_gfn, kvm_set_spte_gfn)
/*
 * kvm_tdp_mmu_zap_sp(kvm, sp), 6.18+: retargeted to
 * kvm_tdp_mmu_zap_possible_nx_huge_page.  Its entry also reports the NX
 * recovery's inlined untrack of sp (tdpw_handle_nx_recovered).
 */
SEC("fentry/kvm_tdp_mmu_zap_sp")
int BPF_PROG(zap_sp__fentry, struct kvm *kvm, struct kvm_mmu_page *sp)
{
	tdpw_handle_nx_recovered(kvm, sp);
	return tdpw_handle_vm_context_enter(kvm);
}

SEC("fexit/kvm_tdp_mmu_zap_sp")
int BPF_PROG(zap_sp__fexit, struct kvm *kvm)
{
	return tdpw_handle_vm_context_exit();
}

SEC("kprobe/kvm_tdp_mmu_zap_sp")
int BPF_KPROBE(zap_sp__kprobe, struct kvm *kvm, struct kvm_mmu_page *sp)
{
	tdpw_handle_nx_recovered(kvm, sp);
	return tdpw_handle_vm_context_enter(kvm);
}

SEC("kretprobe/kvm_tdp_mmu_zap_sp")
int BPF_KRETPROBE(zap_sp__kretprobe)
{
	return tdpw_handle_vm_context_exit();
}

/* ---- root_invalidate: kvm_tdp_mmu_invalidate_(all_)roots() returned ---------- */

SEC("fexit/kvm_tdp_mmu_invalidate_all_roots")
int BPF_PROG(root_invalidate__fexit, struct kvm *kvm)
{
	return tdpw_handle_root_invalidate(kvm);
}

SEC("kprobe/kvm_tdp_mmu_invalidate_all_roots")
int BPF_KPROBE(root_invalidate__kprobe, struct kvm *kvm)
{
	tdpw_stash_put(TDPW_STASH_ROOT_INVALIDATE, (__u64)kvm, 0, 0, 0);
	return 0;
}

SEC("kretprobe/kvm_tdp_mmu_invalidate_all_roots")
int BPF_KRETPROBE(root_invalidate__kretprobe)
{
	struct tdpw_stash s;

	if (!tdpw_stash_take(TDPW_STASH_ROOT_INVALIDATE, &s))
		return 0;
	return tdpw_handle_root_invalidate((struct kvm *)s.kvm);
}

/* ---- tracepoints ------------------------------------------------------------ */

SEC("tp_btf/kvm_mmu_get_page")
int BPF_PROG(get_page__tp_btf, struct kvm_mmu_page *sp, bool created)
{
	/* 6.12's verifier types tracepoint pointers maybe-NULL (trusted_ptr_or_null). */
	if (!sp)
		return 0;
	return tdpw_handle_get_page(sp, created);
}

SEC("raw_tp/kvm_mmu_get_page")
int BPF_PROG(get_page__raw_tp, struct kvm_mmu_page *sp, bool created)
{
	return tdpw_handle_get_page(sp, created);
}

SEC("tp_btf/kvm_mmu_prepare_zap_page")
int BPF_PROG(zap_page__tp_btf, struct kvm_mmu_page *sp)
{
	if (!sp)
		return 0;
	return tdpw_handle_zap_page(sp);
}

SEC("raw_tp/kvm_mmu_prepare_zap_page")
int BPF_PROG(zap_page__raw_tp, struct kvm_mmu_page *sp)
{
	return tdpw_handle_zap_page(sp);
}

SEC("tp_btf/kvm_tdp_mmu_spte_changed")
int BPF_PROG(spte_changed__tp_btf, int as_id, gfn_t gfn, int level, u64 old_spte, u64 new_spte)
{
	return tdpw_handle_spte_changed(as_id, gfn, level, old_spte, new_spte);
}

SEC("raw_tp/kvm_tdp_mmu_spte_changed")
int BPF_PROG(spte_changed__raw_tp, int as_id, gfn_t gfn, int level, u64 old_spte, u64 new_spte)
{
	return tdpw_handle_spte_changed(as_id, gfn, level, old_spte, new_spte);
}
