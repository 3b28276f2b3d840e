/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Every difference between kernel versions that the BPF programs see, in one
 * place.  vmlinux.h holds one kernel's types (6.18); the fields other eras
 * name differently are declared here as CO-RE ___flavour structs and chosen
 * with bpf_core_field_exists()/bpf_core_field_size()/bpf_core_type_exists(),
 * which libbpf resolves against the running kernel's BTF (vmlinux, or the kvm
 * module's).  Never LINUX_VERSION_CODE: distro kernels backport.
 *
 * Eras (docs/kernel-eras.md §1):
 *   6.1        kvm_arch.tdp_mmu_pages is a list_head; sp->lpage_disallowed,
 *              sp->lpage_disallowed_link, kvm_arch.lpage_disallowed_mmu_pages.
 *   6.2-6.14   kvm_arch.tdp_mmu_pages is an atomic64_t: commit d25ceb926436
 *              ("KVM: x86/mmu: Track the number of TDP MMU pages, but not the
 *              actual pages").  The NX fields were renamed in the same series,
 *              in 6.2: commit 55c510e26ab6 ("KVM: x86/mmu: Rename NX huge pages
 *              fields/functions for consistency": lpage_disallowed ->
 *              nx_huge_page_disallowed, lpage_disallowed_mmu_pages ->
 *              possible_nx_huge_pages, (un)account_huge_nx_page ->
 *              (un)track_possible_nx_huge_page).
 *   6.15+      no tdp_mmu_pages in production builds: commit 81d480fdf8b7 keeps
 *              it only under CONFIG_KVM_PROVE_MMU (then it is the atomic64).
 *   6.18       kvm_arch.possible_nx_huge_pages[KVM_NR_MMU_TYPES], each a
 *              struct kvm_possible_nx_huge_pages { pages, nr_pages }: commit
 *              6777885605e1 ("KVM: x86/mmu: Track possible NX huge pages
 *              separately for TDP vs. Shadow MMU"); track/untrack gain an mmu_type
 *              argument, which equals sp->tdp_mmu_page ? KVM_TDP_MMU :
 *              KVM_SHADOW_MMU, so the programs derive it from sp in every era.
 *   7.x        (seen in Debian's 7.2.13; 6.19.14 still has the 6.18 layout)
 *              kvm_arch.n_used_mmu_pages is gone: the live shadow page count
 *              is kvm->stat.mmu_shadow_pages (also a debugfs/binary stat);
 *              role.access grows to 4 bits and smep_andnot_wp gives way to
 *              cr4_smep, so role.invalid moves from bit 11 to bit 12: the
 *              programs hand userspace the 6.1-6.18 layout (tdpw_role_word);
 *              tdp_mmu_link_sp() is inlined into its callers (no BTF FUNC).
 * Stable in every era (read from vmlinux.h's types, no flavour needed):
 * sp->gfn, spt, tdp_mmu_page, ptep/parent_ptes (a union),
 * root_count/tdp_mmu_root_count (a union; the refcount_t is read as its first
 * 4 bytes, which is also what an atomic_t would be), role.level/smm (bits
 * 0..3 and 24..31), kvm->stat.pages[] and nx_lpage_splits,
 * kvm->userspace_pid.
 *
 * Needs vmlinux.h, bpf_helpers.h and bpf_core_read.h before it.
 */
#ifndef TDPWATCH_BPF_KVM_COMPAT_BPF_H
#define TDPWATCH_BPF_KVM_COMPAT_BPF_H

#include "tdpw_events.h"
#include "tdpw_spte.h"

/* ---- flavours ------------------------------------------------------------ */

/* 6.1: before the NX rename, 55c510e26ab6 (6.2). */
struct kvm_mmu_page___v61 {
	bool lpage_disallowed;
	struct list_head lpage_disallowed_link;
} __attribute__((preserve_access_index));

/* 6.2+: after 55c510e26ab6. */
struct kvm_mmu_page___v62 {
	bool nx_huge_page_disallowed;
	struct list_head possible_nx_huge_page_link;
} __attribute__((preserve_access_index));

/*
 * kvm_arch.tdp_mmu_pages: list_head in 6.1, atomic64_t from d25ceb926436
 * (6.2), gone from 81d480fdf8b7 (6.15) unless CONFIG_KVM_PROVE_MMU.  CO-RE
 * treats any two structs as compatible, so the era is told by the field's
 * size in the running kernel: 16 (list_head) or 8 (atomic64_t).
 */
struct kvm_arch___tdp_pages {
	atomic64_t tdp_mmu_pages;
} __attribute__((preserve_access_index));

struct kvm___tdp_pages {
	struct kvm_arch___tdp_pages arch;
} __attribute__((preserve_access_index));

/* 6.1 NX list; 6.2-6.17 list (its length is not kept: absent in truth). */
struct kvm_arch___v61 {
	struct list_head lpage_disallowed_mmu_pages;
} __attribute__((preserve_access_index));

struct kvm___v61 {
	struct kvm_arch___v61 arch;
} __attribute__((preserve_access_index));

/* 6.1-6.19: the live shadow MMU page count; 7.x has stat.mmu_shadow_pages. */
struct kvm_arch___n_used {
	unsigned long n_used_mmu_pages;
} __attribute__((preserve_access_index));

struct kvm_vm_stat___v7 {
	__u64 mmu_shadow_pages;
} __attribute__((preserve_access_index));

struct kvm___shadow_count {
	struct kvm_arch___n_used arch;
	struct kvm_vm_stat___v7 stat;
} __attribute__((preserve_access_index));

/* ---- constants ----------------------------------------------------------- */

/* The SPTE bits: tdpw_spte.h (shared with the accounting core). */
/* TDPW_PUD_SIZE and tdpw_page_offset_plausible(): tdpw_spte.h too. */

/* ---- era ----------------------------------------------------------------- */

/* 6.1: sp->lpage_disallowed still has its old name. */
static __always_inline bool tdpw_kernel_is_61(void)
{
	return bpf_core_field_exists(struct kvm_mmu_page___v61, lpage_disallowed);
}

/* ---- struct kvm_mmu_page -------------------------------------------------- */

/*
 * sp->role.word in the layout of 6.1-6.18, which is what the events, the
 * iterators and userspace (daemon/core/role.h) speak: level 0..3, direct 7,
 * invalid 11, guest_mode 17, smm 24..31.  7.x widened role.access to 4 bits
 * (invalid at bit 12, cr4_smep in place of smep_andnot_wp): there the word is
 * rebuilt from the fields.  Where the layout matches, the CO-RE constants
 * make this the identity and the verifier drops the rest.
 */
#define TDPW_ROLE_BIT(field) \
	(__builtin_preserve_field_info(((union kvm_mmu_page_role *)0)->field, BPF_FIELD_LSHIFT_U64))

static __always_inline __u32 tdpw_role_word(__u32 word)
{
	union kvm_mmu_page_role r = { .word = word };
	__u32 out;

	/* Little-endian, a u32 container: LSHIFT_U64 = 64 - (bit + size). */
	if (TDPW_ROLE_BIT(invalid) == 64 - 12 && TDPW_ROLE_BIT(direct) == 64 - 8 &&
	    TDPW_ROLE_BIT(guest_mode) == 64 - 18 && TDPW_ROLE_BIT(smm) == 64 - 32)
		return word;
	out = BPF_CORE_READ_BITFIELD(&r, level) & 0xf;
	out |= (__u32)(BPF_CORE_READ_BITFIELD(&r, direct) & 1) << 7;
	out |= (__u32)(BPF_CORE_READ_BITFIELD(&r, invalid) & 1) << 11;
	out |= (__u32)(BPF_CORE_READ_BITFIELD(&r, guest_mode) & 1) << 17;
	out |= (__u32)(BPF_CORE_READ_BITFIELD(&r, smm) & 0xff) << 24;
	return out;
}

/* The fields every page event reports.  Bit-fields only through role.word. */
struct tdpw_sp_info {
	__u64 gfn;
	__u64 spt;  /* kernel virtual address of the page table (direct map) */
	__u64 ptep; /* TDP: the parent's SPTE pointer, NULL for a root */
	__u32 role; /* role.word */
	bool tdp;   /* sp->tdp_mmu_page */
	bool nx_disallowed;
};

static __always_inline bool tdpw_sp_nx_disallowed(struct kvm_mmu_page *sp)
{
	if (tdpw_kernel_is_61())
		return BPF_CORE_READ((struct kvm_mmu_page___v61 *)sp, lpage_disallowed);
	return BPF_CORE_READ((struct kvm_mmu_page___v62 *)sp, nx_huge_page_disallowed);
}

/* The fields one at a time: six bpf_probe_read_kernel() calls. */
static __always_inline void tdpw_read_sp_fields(struct kvm_mmu_page *sp, struct tdpw_sp_info *info)
{
	info->role = tdpw_role_word(BPF_CORE_READ(sp, role.word));
	info->gfn = BPF_CORE_READ(sp, gfn);
	info->spt = (__u64)BPF_CORE_READ(sp, spt);
	info->tdp = BPF_CORE_READ(sp, tdp_mmu_page);
	/* ptep and parent_ptes share a union: only meaningful for TDP pages. */
	info->ptep = info->tdp ? (__u64)BPF_CORE_READ(sp, ptep) : 0;
	info->nx_disallowed = tdpw_sp_nx_disallowed(sp);
}

/*
 * The same fields with one bpf_probe_read_kernel() of the 64 bytes from
 * tdp_mmu_page (8-aligned) on: in every era measured (6.1, 6.12, 6.18)
 * tdp_mmu_page, the NX bool, role, gfn, spt and ptep lie within bytes
 * 32..88 of the struct.  The offsets are CO-RE constants, so the verifier
 * keeps only one of the two paths; a kernel whose layout does not fit
 * takes the field-by-field one.  Each probe read costs ~12 ns here.
 */
#define TDPW_SP_WINDOW 64

static __always_inline bool tdpw_sp_in_window(__u32 lo, __u32 off, __u32 size)
{
	return off >= lo && off + size <= lo + TDPW_SP_WINDOW;
}

static __always_inline void tdpw_read_sp(struct kvm_mmu_page *sp, struct tdpw_sp_info *info)
{
	__u64 window[TDPW_SP_WINDOW / 8];
	__u32 lo = bpf_core_field_offset(sp->tdp_mmu_page) & ~7U;
	__u32 role = bpf_core_field_offset(sp->role);
	__u32 gfn = bpf_core_field_offset(sp->gfn);
	__u32 spt = bpf_core_field_offset(sp->spt);
	__u32 tdp = bpf_core_field_offset(sp->tdp_mmu_page);
	__u32 ptep = bpf_core_field_offset(sp->ptep);
	__u32 nx = tdpw_kernel_is_61() ?
			   bpf_core_field_offset(((struct kvm_mmu_page___v61 *)sp)->lpage_disallowed) :
			   bpf_core_field_offset(((struct kvm_mmu_page___v62 *)sp)->nx_huge_page_disallowed);
	const __u8 *w = (const __u8 *)window;

	if (!tdpw_sp_in_window(lo, role, 4) || !tdpw_sp_in_window(lo, gfn, 8) ||
	    !tdpw_sp_in_window(lo, spt, 8) || !tdpw_sp_in_window(lo, tdp, 1) ||
	    !tdpw_sp_in_window(lo, ptep, 8) || !tdpw_sp_in_window(lo, nx, 1) || (role & 3) ||
	    ((gfn | spt | ptep) & 7)) {
		tdpw_read_sp_fields(sp, info);
		return;
	}
	if (bpf_probe_read_kernel(window, sizeof(window), (const __u8 *)sp + lo)) {
		__builtin_memset(info, 0, sizeof(*info));
		return;
	}
	info->role = tdpw_role_word(*(const __u32 *)(w + (role - lo)));
	info->gfn = *(const __u64 *)(w + (gfn - lo));
	info->spt = *(const __u64 *)(w + (spt - lo));
	info->tdp = *(w + (tdp - lo)) != 0;
	info->ptep = info->tdp ? *(const __u64 *)(w + (ptep - lo)) : 0;
	info->nx_disallowed = *(w + (nx - lo)) != 0;
}

/* kvm_mmu_role_as_id(): role.smm, bits 24..31 of role.word. */
static __always_inline __u8 tdpw_role_as_id(__u32 role)
{
	return (role >> 24) & 0xff;
}

static __always_inline __u8 tdpw_role_level(__u32 role)
{
	return role & 0xf;
}

/* kvm_mmu_page_role.invalid: bit 11 of tdpw_role_word(). */
static __always_inline bool tdpw_role_invalid(__u32 role)
{
	return (role >> 11) & 1;
}

/*
 * sp->root_count (shadow) / sp->tdp_mmu_root_count (TDP): one union in every
 * era; int, atomic_t or refcount_t, all a 32-bit counter first.
 */
static __always_inline __s32 tdpw_sp_root_count(struct kvm_mmu_page *sp)
{
	__s32 count = 0;

	bpf_core_read(&count, sizeof(count), &sp->root_count);
	return count;
}

/*
 * Whether sp is on an NX list right now: 6.2+ tests
 * list_empty(&sp->possible_nx_huge_page_link) in track/untrack; 6.1's
 * account_huge_nx_page() tests sp->lpage_disallowed, and its
 * unaccount_huge_nx_page() always has the page on the list.
 */
static __always_inline bool tdpw_sp_on_nx_list(struct kvm_mmu_page *sp)
{
	if (tdpw_kernel_is_61())
		return BPF_CORE_READ((struct kvm_mmu_page___v61 *)sp, lpage_disallowed);

	struct kvm_mmu_page___v62 *sp62 = (void *)sp;
	void *next = BPF_CORE_READ(sp62, possible_nx_huge_page_link.next);

	return next && next != (void *)&sp62->possible_nx_huge_page_link;
}

/*
 * The SPTE that points at a shadow page: parent_ptes is a struct
 * kvm_rmap_head whose one word (unsigned long, atomic_long_t from 6.15-ish:
 * read as 8 raw bytes, so both work) is either one u64 *sptep or, with bit 0
 * set, a struct pte_list_desc * whose sptes[0] is one of several.  Parents
 * are still linked when kvm_mmu_prepare_zap_page fires (the tracepoint comes
 * before kvm_mmu_unlink_parents()).  0 if the page has no parent.
 */
static __always_inline __u64 tdpw_shadow_parent_spte(struct kvm_mmu_page *sp)
{
	__u64 head = 0, spte = 0;
	__u64 *sptep;

	bpf_core_read(&head, sizeof(head), &sp->parent_ptes);
	if (!head)
		return 0;
	if (head & 1) {
		struct pte_list_desc *desc = (void *)(head & ~1ULL);

		sptep = BPF_CORE_READ(desc, sptes[0]);
	} else {
		sptep = (__u64 *)head;
	}
	if (!sptep)
		return 0;
	bpf_probe_read_kernel(&spte, sizeof(spte), sptep);
	return spte;
}

/* ---- struct kvm: the kernel's own figures --------------------------------- */

static __always_inline __s64 tdpw_truth_tdp_mmu_pages(struct kvm *kvm)
{
	struct kvm___tdp_pages *k = (void *)kvm;

	if (!bpf_core_field_exists(k->arch.tdp_mmu_pages))
		return TDPW_TRUTH_ABSENT; /* 6.15+ without PROVE_MMU: 81d480fdf8b7 */
	if (bpf_core_field_size(k->arch.tdp_mmu_pages) != sizeof(atomic64_t))
		return TDPW_TRUTH_ABSENT; /* 6.1 list: not walked (unbounded, on the fault path) */
	return BPF_CORE_READ(k, arch.tdp_mmu_pages.counter); /* d25ceb926436 */
}

/* 6.18 (6777885605e1): possible_nx_huge_pages[type].nr_pages; absent before (lists only). */
static __always_inline void tdpw_truth_nx(struct kvm *kvm, __s64 out[TDPW_NR_MMU_TYPES])
{
	out[TDPW_MMU_SHADOW] = TDPW_TRUTH_ABSENT;
	out[TDPW_MMU_TDP] = TDPW_TRUTH_ABSENT;
	if (!bpf_core_type_exists(struct kvm_possible_nx_huge_pages))
		return;
	out[TDPW_MMU_SHADOW] = BPF_CORE_READ(kvm, arch.possible_nx_huge_pages[0].nr_pages);
	out[TDPW_MMU_TDP] = BPF_CORE_READ(kvm, arch.possible_nx_huge_pages[1].nr_pages);
}

/* Live shadow MMU pages: arch.n_used_mmu_pages, 7.x stat.mmu_shadow_pages. */
static __always_inline __s64 tdpw_truth_shadow_pages(struct kvm *kvm)
{
	struct kvm___shadow_count *k = (void *)kvm;

	if (bpf_core_field_exists(k->arch.n_used_mmu_pages))
		return BPF_CORE_READ(k, arch.n_used_mmu_pages);
	if (bpf_core_field_exists(k->stat.mmu_shadow_pages))
		return BPF_CORE_READ(k, stat.mmu_shadow_pages);
	return TDPW_TRUTH_ABSENT;
}

/* kvm->userspace_pid (the VMM's pid), 0 if the kernel lacks it. */
static __always_inline __u32 tdpw_kvm_userspace_pid(struct kvm *kvm)
{
	if (!bpf_core_field_exists(kvm->userspace_pid))
		return 0;
	return BPF_CORE_READ(kvm, userspace_pid);
}

static __always_inline void tdpw_read_truth(struct kvm *kvm, struct tdpw_kernel_truth *t)
{
	t->tdp_mmu_pages = tdpw_truth_tdp_mmu_pages(kvm);
	tdpw_truth_nx(kvm, t->possible_nx_huge_pages);
	t->n_used_mmu_pages = tdpw_truth_shadow_pages(kvm);
	t->pages_4k = BPF_CORE_READ(kvm, stat.pages[0].counter);
	t->pages_2m = BPF_CORE_READ(kvm, stat.pages[1].counter);
	t->pages_1g = BPF_CORE_READ(kvm, stat.pages[2].counter);
	t->nx_lpage_splits = BPF_CORE_READ(kvm, stat.nx_lpage_splits);
	t->tgid = tdpw_kvm_userspace_pid(kvm);
	t->reserved = 0;
	t->ts_ns = bpf_ktime_get_ns();
}

#endif /* TDPWATCH_BPF_KVM_COMPAT_BPF_H */
