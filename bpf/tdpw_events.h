/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * tdpwatch event ABI, shared by the BPF programs (the .bpf.c files in bpf/), the daemon,
 * and the replay file format (one record == one struct tdpw_event).
 *
 * Rules: no includes (the BPF side gets __u64 & co. from vmlinux.h, userspace
 * from <linux/types.h> before including this), fixed-width fields only,
 * explicit padding, and sizes that both compilers check below.  Changing the
 * layout means bumping TDPW_ABI_VERSION.
 *
 * Contract on what an event means (the accounting core relies on it):
 *  - every event reports one kernel operation, exactly once;
 *  - TDPW_EV_VM_DESTROY is emitted once the kernel has finished tearing the
 *    VM's MMU down, i.e. where kvm_mmu_uninit_tdp_mmu() WARNs on leftovers;
 *  - TDPW_EV_LINK_SP with TDPW_F_ACCOUNT_NX (6.1 era) includes the
 *    account_huge_nx_page() that 6.1's tdp_mmu_link_sp() does itself: sources
 *    must not report that call again as TDPW_EV_NX_TRACK;
 *  - TDPW_EV_NX_UNTRACK may report every call of the untrack function,
 *    including 6.2+'s no-op calls for disallowed pages never on the list;
 *    plans that derive structure from SPTEs (no TDPW_EV_LINK_SP) report only
 *    pages that were on the list;
 *  - after the last TDPW_EV_ROOT_PUT of a root, a TDPW_EV_ROOT_FREE for it
 *    may follow (the RCU free) or not.
 */
#ifndef TDPWATCH_BPF_TDPW_EVENTS_H
#define TDPWATCH_BPF_TDPW_EVENTS_H

/*
 * 2: TDPW_EV_LEAF_STATS, TDPW_F_LEAVES_COUNTED and vm_counters.leaf_pages
 * (leaf statistics aggregated in the probes).  Version 1 events read the same.
 */
#define TDPW_ABI_VERSION 2

enum tdpw_event_type {
	TDPW_EV_NONE = 0,
	TDPW_EV_VM_CREATE = 1,       /* kvm_create_vm() */
	TDPW_EV_VM_DESTROY = 2,      /* teardown done (see contract above) */
	TDPW_EV_ROOT_ALLOC = 3,      /* TDP root allocated, or an existing one reused */
	TDPW_EV_ROOT_INVALIDATE = 4, /* root->role.invalid set */
	TDPW_EV_ROOT_PUT = 5,        /* kvm_tdp_mmu_put_root(); value = refcount before */
	TDPW_EV_ROOT_FREE = 6,       /* root freed (last reference gone) */
	TDPW_EV_LINK_SP = 7,         /* tdp_mmu_link_sp() returned; value = return code */
	TDPW_EV_UNLINK_SP = 8,       /* tdp_mmu_unlink_sp() (handle_removed_pt) */
	TDPW_EV_NX_TRACK = 9,        /* track_possible_nx_huge_page / account_huge_nx_page */
	TDPW_EV_NX_UNTRACK = 10,     /* untrack_possible_nx_huge_page / unaccount_huge_nx_page */
	TDPW_EV_SPTE_CHANGED = 11,   /* handle_changed_spte(), as kvm_tdp_mmu_spte_changed */
	TDPW_EV_SHADOW_GET = 12,     /* shadow MMU page obtained (kvm_mmu_get_page) */
	TDPW_EV_SHADOW_ZAP = 13,     /* __kvm_mmu_prepare_zap_page(); value = root_count */
	TDPW_EV_LEAF_STATS = 14,     /* the daemon's fold of vm_counters.leaf_pages (never a probe's) */
	TDPW_EV_TYPE_MAX = 15,
};

/* struct tdpw_event.flags */
#define TDPW_F_NX_DISALLOWED (1u << 0) /* sp->nx_huge_page_disallowed (lpage_disallowed in 6.1) */
#define TDPW_F_ACCOUNT_NX (1u << 1)    /* 6.1 tdp_mmu_link_sp(..., account_nx=true, ...) */
#define TDPW_F_CREATED (1u << 2)       /* kvm_mmu_get_page: page newly created */
#define TDPW_F_VALUE_VALID (1u << 3)   /* .page.value carries a meaningful number */
/*
 * SPTE_CHANGED: the probes already counted this change's leaf statistics in
 * vm_counters.leaf_pages (they reach the model as TDPW_EV_LEAF_STATS); the
 * record is here for the structure it moves, or the full stream was asked for.
 */
#define TDPW_F_LEAVES_COUNTED (1u << 4)
#define TDPW_F_ALL                                                                  \
	(TDPW_F_NX_DISALLOWED | TDPW_F_ACCOUNT_NX | TDPW_F_CREATED | TDPW_F_VALUE_VALID | \
	 TDPW_F_LEAVES_COUNTED)
/* What ABI version 1 knew (records of older recordings). */
#define TDPW_F_ALL_V1 (TDPW_F_NX_DISALLOWED | TDPW_F_ACCOUNT_NX | TDPW_F_CREATED | TDPW_F_VALUE_VALID)
#define TDPW_EV_TYPE_MAX_V1 14

/* struct tdpw_event.mmu_type, as the kernel's enum kvm_mmu_type (6.18). */
enum tdpw_mmu_type {
	TDPW_MMU_SHADOW = 0, /* KVM_SHADOW_MMU */
	TDPW_MMU_TDP = 1,    /* KVM_TDP_MMU */
	TDPW_NR_MMU_TYPES = 2,
};

/* Kernel eras of TDP MMU page accounting (docs/kernel-eras.md §1). */
enum tdpw_kernel_era {
	TDPW_ERA_UNKNOWN = 0,
	TDPW_ERA_6_1 = 1,  /* list tdp_mmu_pages, lpage_disallowed */
	TDPW_ERA_6_2 = 2,  /* atomic64 tdp_mmu_pages (d25ceb926436), possible_nx_huge_pages list */
	TDPW_ERA_6_15 = 3, /* no production counter (81d480fdf8b7), per-mmu-type NX lists */
	TDPW_ERA_MAX = 4,
};

/*
 * VM identity: the kernel's struct kvm pointer where the hook has it (a kernel
 * address, bit 63 set); otherwise the VMM's tgid (bit 63 clear).
 */
#define TDPW_VM_KEY_IS_KVM_PTR(key) (((key) >> 63) != 0)

/* Page events: roots, link/unlink, NX track/untrack, shadow get/zap. */
struct tdpw_page_payload {
	__u64 sp;   /* struct kvm_mmu_page *, 0 if unknown */
	__u64 pfn;  /* frame of the page table (sp->spt), 0 if unknown */
	__u64 gfn;  /* sp->gfn */
	__u32 role; /* sp->role.word in the 6.1-6.18 layout (tdpw_role_word) */
	__s32 value; /* per type, valid when TDPW_F_VALUE_VALID */
};

/* TDPW_EV_SPTE_CHANGED: one call of handle_changed_spte() (level/as_id in the header). */
struct tdpw_spte_payload {
	__u64 gfn;
	__u64 old_spte;
	__u64 new_spte;
	__u64 reserved; /* 0 */
};

/*
 * TDPW_EV_LEAF_STATS: what the probes counted for one VM key since the
 * previous fold (vm_counters differences): kvm_update_page_stats() per level
 * and the SPTE_CHANGED events behind them.  Made by the daemon, so that a
 * recording replays to the same figures.
 */
struct tdpw_leaf_payload {
	__s64 pages[3];    /* 4K, 2M, 1G leaves mapped minus unmapped */
	__u64 spte_changes; /* SPTE_CHANGED events folded (records sent or not) */
};

struct tdpw_event {
	__u16 type;     /* enum tdpw_event_type */
	__u8 flags;     /* TDPW_F_* */
	__u8 level;     /* page-table level: of the SPTE (SPTE events) or of sp (page events) */
	__u8 as_id;     /* address space: 0, or 1 for SMM */
	__u8 mmu_type;  /* enum tdpw_mmu_type (NX events) */
	__u16 cpu;      /* CPU the probe ran on */
	__u32 tgid;     /* current tgid when the probe fired */
	__u32 crc;      /* 0 from the probes; CRC-32C of the record in replay files */
	__u64 ts_ns;    /* bpf_ktime_get_ns() */
	__u64 vm;       /* VM key, see TDPW_VM_KEY_IS_KVM_PTR */
	union {
		struct tdpw_page_payload page;
		struct tdpw_spte_payload spte;
		struct tdpw_leaf_payload leaf;
	};
};

#define TDPW_EVENT_SIZE 64

/*
 * Lossless per-VM counters, kept by the probes in a per-CPU hash map keyed by
 * the VM key (userspace sums the CPUs).  Updated before the ring buffer
 * reserve, so a full ring buffer loses detail, never counts.
 */
/*
 * events[TDPW_EV_NONE], never an event type, counts the SPTE_CHANGED events
 * (also in events[TDPW_EV_SPTE_CHANGED]) that move no figure: both SPTEs
 * present, the same pfn, leaf or table alike (tdpw_spte_attr_only): the
 * accessed, dirty and writable bits of aging (kswapd, kdamond: DAMON_STAT
 * samples every VM's memory from 6.17) and dirty logging.  A VM whose only
 * events are these is quiescent for the figures and the audit.
 */
#define TDPW_COUNT_SPTE_ATTR_ONLY TDPW_EV_NONE

struct tdpw_vm_counters {
	__u64 events[TDPW_EV_TYPE_MAX];  /* every event seen, by type (and [0]: see above) */
	__u64 dropped[TDPW_EV_TYPE_MAX]; /* of which the ring buffer refused */
	__s64 tdp_pages;                 /* successful link_sp - unlink_sp */
	__s64 shadow_pages;              /* shadow get(created) - zap(root_count 0) */
	__s64 possible_nx_huge_pages[TDPW_NR_MMU_TYPES]; /* track - untrack */
	/*
	 * kvm_update_page_stats() as handle_changed_spte() and
	 * tdp_mmu_split_huge_page() call it, per level (4K, 2M, 1G): the leaf
	 * statistics, counted here and never sent record by record
	 * (tdpw_spte_leaf_delta, bpf/tdpw_spte.h).
	 */
	__s64 leaf_pages[3];
	/*
	 * bpf_ktime_get_ns() of the VM_CREATE that made this entry (its ts_ns;
	 * in one CPU's copy, 0 in the others), 0 if another event made it.  A
	 * struct kvm freed and allocated again at the same address starts a
	 * new entry: the daemon does not count the old life into the new one.
	 */
	__u64 generation;
};

/*
 * The kernel's own per-VM figures, read through CO-RE from struct kvm in the
 * probes whenever an event carries it (a hash map keyed by the VM key, last
 * write wins).  A field the running kernel lacks reads TDPW_TRUTH_ABSENT.
 */
#define TDPW_TRUTH_ABSENT (-1LL)
struct tdpw_kernel_truth {
	__s64 tdp_mmu_pages;               /* list length (6.1: absent), atomic64 (6.2-6.14) */
	__s64 possible_nx_huge_pages[TDPW_NR_MMU_TYPES]; /* nr_pages (6.15+); absent before */
	__s64 n_used_mmu_pages;
	__s64 pages_4k, pages_2m, pages_1g; /* kvm->stat.pages[] */
	__s64 nx_lpage_splits;
	__u64 ts_ns;                       /* when read */
	__u32 tgid;                        /* kvm->userspace_pid */
	__u32 reserved;
};

#ifdef __cplusplus
static_assert(sizeof(struct tdpw_page_payload) == 32, "tdpw_page_payload layout");
static_assert(sizeof(struct tdpw_spte_payload) == 32, "tdpw_spte_payload layout");
static_assert(sizeof(struct tdpw_leaf_payload) == 32, "tdpw_leaf_payload layout");
static_assert(sizeof(struct tdpw_event) == TDPW_EVENT_SIZE, "tdpw_event layout");
#else
_Static_assert(sizeof(struct tdpw_page_payload) == 32, "tdpw_page_payload layout");
_Static_assert(sizeof(struct tdpw_spte_payload) == 32, "tdpw_spte_payload layout");
_Static_assert(sizeof(struct tdpw_leaf_payload) == 32, "tdpw_leaf_payload layout");
_Static_assert(sizeof(struct tdpw_event) == TDPW_EVENT_SIZE, "tdpw_event layout");
#endif
#ifdef __cplusplus
static_assert(sizeof(struct tdpw_vm_counters) == 8 * (2 * TDPW_EV_TYPE_MAX + 8), "counters layout");
static_assert(sizeof(struct tdpw_kernel_truth) == 80, "truth layout");
#else
_Static_assert(sizeof(struct tdpw_vm_counters) == 8 * (2 * TDPW_EV_TYPE_MAX + 8), "counters layout");
_Static_assert(sizeof(struct tdpw_kernel_truth) == 80, "truth layout");
#endif

#endif /* TDPWATCH_BPF_TDPW_EVENTS_H */
