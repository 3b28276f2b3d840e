/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The maps and .rodata knobs of tdpwatch.bpf.c: the contract with the loader
 * (bpf/HOOKS.md lists them).  Sizes are defaults: the loader may change them
 * with bpf_map__set_max_entries() before load.
 */
#ifndef TDPWATCH_BPF_HANDLERS_MAPS_BPF_H
#define TDPWATCH_BPF_HANDLERS_MAPS_BPF_H

#include "tdpw_events.h"
#include "tdpw_stats.h"

/* ---- knobs (const volatile: set in skel->rodata before load) ------------- */

/* Send TDPW_EV_SPTE_CHANGED records (they are always counted in vm_counters). */
const volatile bool emit_spte_events = true;
/*
 * Send every SPTE change, leaf-only ones too (--record-spte-stream: a full
 * stream for bug reports).  Otherwise only changes that move structure (a
 * table linked or removed) and anomalies cross the ring; leaf statistics are
 * counted in vm_counters.leaf_pages either way.
 */
const volatile bool emit_leaf_sptes = false;
/* Only VMs of this tgid (0: all). */
const volatile __u32 target_tgid = 0;
/*
 * Count links seen in the SPTE stream (non-present or leaf -> present
 * non-leaf) into vm_counters.tdp_pages.  The loader clears it when link_sp
 * is served, which then counts them itself.
 */
const volatile bool links_from_spte = true;
/*
 * Resolve tracepoint events (no struct kvm *) to the struct kvm * key through
 * vm_of_tgid.  The loader sets it when vm_create is served, so that all of a
 * VM's events carry one key.
 */
const volatile bool resolve_vm_by_tgid = false;
/*
 * Address of the kernel variable page_offset_base (from /proc/kallsyms, which
 * lists it with CONFIG_KALLSYMS_ALL, as Debian kernels have), 0 if unknown.
 * See page_offset.bpf.h.
 */
const volatile __u64 page_offset_base_addr = 0;
/*
 * SPTE records wake the reader only when the unread data crosses a multiple
 * of this many bytes (a power of 2; the loader sets ring size / 8), or when
 * no record has woken it for TDPW_WAKEUP_AGE_NS (emit.bpf.h).
 */
const volatile __u64 wakeup_bytes = 512 << 10;

/* ---- maps ------------------------------------------------------------------ */

/* One struct tdpw_event per record. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20); /* bytes: a power of 2, multiple of the page size */
} events SEC(".maps");

/*
 * Lossless per-VM counters (per CPU: userspace sums), updated before the ring
 * buffer reserve.  Not LRU: the daemon deletes a VM's entry after its
 * VM_DESTROY.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64); /* VM key */
	__type(value, struct tdpw_vm_counters);
} vm_counters SEC(".maps");

/* The kernel's own figures per VM, refreshed by every event that has a struct kvm *. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64); /* VM key (struct kvm *) */
	__type(value, struct tdpw_kernel_truth);
} kernel_truth SEC(".maps");

/*
 * struct kvm_mmu_page * -> VM key, for zaps that run outside the VM's threads.
 * A plain (preallocated) hash, not LRU: an LRU update cost ~120 ns per
 * get_page here, a hash update ~10.  Entries are deleted when the page is
 * zapped for good; roots get none (get_page.bpf.h).  Full: the update fails
 * (stats[TDPW_STAT_OWNER_FULL]) and that page's zap falls back to the
 * current VM key.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __u64);
} page_owner SEC(".maps");

/* VMM tgid -> struct kvm * key (see resolve_vm_by_tgid); the tgid itself when one process has several VMs. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} vm_of_tgid SEC(".maps");

/*
 * Per CPU: the thread that last worked on a known VM here, and that VM.
 * kvm_tdp_mmu_spte_changed has no struct kvm, and TDP MMU work also runs in
 * threads whose tgid names no VM (6.1's kvm-nx-lpage-recovery kthread): the
 * SPTE events that handle_removed_pt() emits right after the zap tracepoint
 * of their table belong to that table's VM.
 */
struct tdpw_cpu_vm {
	__u64 pid_tgid;
	__u64 vm;
};
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tdpw_cpu_vm);
} cpu_vm SEC(".maps");

/*
 * Thread (pid) -> VM key while that thread runs one of KVM's MMU entry points
 * that carry a struct kvm but run outside the VM's own threads: the mmu
 * notifier's arch handlers (kvm_unmap_gfn_range, kvm_age_gfn,
 * kvm_test_age_gfn, 6.1's kvm_set_spte_gfn) called from reclaim, compaction,
 * khugepaged, KSM, soft-dirty clearing, and the NX recovery worker's
 * kvm_tdp_mmu_zap_sp (handlers/vm_context.bpf.h).  Keyed by thread, not CPU:
 * tdp_mmu_zap_leafs() may yield and resume on another CPU.  LRU: an exit
 * that never came (a missed kretprobe) cannot pin an entry forever.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);   /* pid (thread id) */
	__type(value, __u64); /* VM key */
} thread_vm SEC(".maps");

/*
 * The page each thread last took off a possible-NX list through a visible
 * untrack (nx_untrack): the NX recovery's zap (zap_sp) then knows that its
 * page's untrack was reported (handlers/nx.bpf.h, tdpw_handle_nx_recovered).
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);   /* pid (thread id) */
	__type(value, __u64); /* struct kvm_mmu_page * */
} thread_nx_untracked SEC(".maps");

/* Threads inside such an entry point now (thread_vm entries set and not yet cleared). */
__s64 threads_in_vm_context = 0;

/*
 * kprobe -> kretprobe hand-over of arguments, keyed by
 * pid_tgid | hook << 56 (pid_tgid never uses the top byte).
 */
struct tdpw_stash {
	__u64 kvm;
	__u64 iter;
	__u64 sp;
	__u64 account_nx;
};

enum tdpw_stash_hook {
	TDPW_STASH_VM_CREATE = 1,
	TDPW_STASH_VM_DESTROY = 2,
	TDPW_STASH_LINK_SP = 3,
	TDPW_STASH_ROOT_INVALIDATE = 4,
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct tdpw_stash);
} kprobe_stash SEC(".maps");

/* The probes' own health, indexed by enum tdpw_stat (tdpw_stats.h). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TDPW_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

static __always_inline void tdpw_stat_inc(__u32 index)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &index);

	if (v)
		*v += 1;
}

#endif /* TDPWATCH_BPF_HANDLERS_MAPS_BPF_H */
