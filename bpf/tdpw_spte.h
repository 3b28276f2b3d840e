/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The SPTE bits tdpwatch decodes, defined once for the BPF programs
 * (kvm_compat.bpf.h) and the accounting core (daemon/core/spte.h).  Like
 * tdpw_events.h: no includes, usable from BPF C and from C++.
 * Mirrors arch/x86/kvm/mmu/spte.h (6.1-6.19; 7.x changed FROZEN_SPTE).
 */
#ifndef TDPWATCH_BPF_TDPW_SPTE_H
#define TDPWATCH_BPF_TDPW_SPTE_H

/* SPTE_MMU_PRESENT_MASK: bit 11, set in every shadow-present SPTE (5.13+). */
#define TDPW_SPTE_PRESENT (1ULL << 11)
/* PT_PAGE_SIZE_MASK: bit 7, a huge (2M/1G) leaf. */
#define TDPW_SPTE_HUGE (1ULL << 7)
/* SPTE_BASE_ADDR_MASK: physical address bits 12..51. */
#define TDPW_SPTE_ADDR_MASK (((1ULL << 52) - 1) & ~0xfffULL)
/* SHADOW_NONPRESENT_VALUE: BIT_ULL(63) on x86-64 from 6.10, 0 before. */
#define TDPW_SHADOW_NONPRESENT_VALUE (1ULL << 63)
/* REMOVED_SPTE (until 6.10); FROZEN_SPTE (6.11+) is SHADOW_NONPRESENT_VALUE | 0x5a0. */
#define TDPW_REMOVED_SPTE_LEGACY 0x5a0ULL
#define TDPW_FROZEN_SPTE (TDPW_SHADOW_NONPRESENT_VALUE | TDPW_REMOVED_SPTE_LEGACY)
/*
 * 7.x: FROZEN_SPTE is SHADOW_NONPRESENT_VALUE | 0x1a0 (bit 10 no longer in
 * it): the only 0x8000...0xxx immediates in Debian 7.2.13's kvm.ko
 * handle_removed_pt() and tdp_mmu_zap_spte_atomic() (objdump); 6.19.14 still
 * has 0x5a0.
 */
#define TDPW_FROZEN_SPTE_V7 (TDPW_SHADOW_NONPRESENT_VALUE | 0x1a0ULL)

/*
 * What handle_changed_spte() (arch/x86/kvm/mmu/tdp_mmu.c, 6.1-7.2) does
 * with one change, decided once for the probes and the accounting core.
 */

/* is_last_spte() of a present SPTE: every 4K entry is a leaf; above, only huge ones. */
static inline int tdpw_spte_is_leaf(int level, unsigned long long spte)
{
	return (spte & TDPW_SPTE_PRESENT) && (level == 1 || (spte & TDPW_SPTE_HUGE) != 0);
}

static inline int tdpw_spte_pfn_changed(unsigned long long old_spte, unsigned long long new_spte)
{
	return (old_spte & TDPW_SPTE_ADDR_MASK) != (new_spte & TDPW_SPTE_ADDR_MASK);
}

/*
 * A table was hanging here and is no longer: handle_changed_spte()'s
 * "recursively handle child PTs if the change removed a subtree", i.e.
 * handle_removed_pt() (a table replaced by another one is that too, after a
 * WARN_ON_ONCE(pfn_changed)).
 */
static inline int tdpw_spte_removes_table(int level, unsigned long long old_spte,
					  unsigned long long new_spte)
{
	int was_table = (old_spte & TDPW_SPTE_PRESENT) && !tdpw_spte_is_leaf(level, old_spte);

	return was_table && (!(new_spte & TDPW_SPTE_PRESENT) || tdpw_spte_is_leaf(level, new_spte) ||
			     tdpw_spte_pfn_changed(old_spte, new_spte));
}

/*
 * A table now hangs here: tdp_mmu_link_sp() wrote make_nonleaf_spte() over a
 * non-present SPTE, a huge leaf (tdp_mmu_split_huge_page()) or, after a
 * removal, another table.
 */
static inline int tdpw_spte_links_table(int level, unsigned long long old_spte,
					unsigned long long new_spte)
{
	int is_table = (new_spte & TDPW_SPTE_PRESENT) && !tdpw_spte_is_leaf(level, new_spte);

	return is_table && (!(old_spte & TDPW_SPTE_PRESENT) || tdpw_spte_is_leaf(level, old_spte) ||
			    tdpw_spte_pfn_changed(old_spte, new_spte));
}

/* A change of the page-table structure: the record must reach the model. */
static inline int tdpw_spte_moves_structure(int level, unsigned long long old_spte,
					    unsigned long long new_spte)
{
	return tdpw_spte_removes_table(level, old_spte, new_spte) ||
	       tdpw_spte_links_table(level, old_spte, new_spte);
}

/*
 * A change the kernel would not make: a present leaf remapped to another pfn
 * without a zap (handle_changed_spte() BUG()s), or a level outside 1..5, or
 * a leaf above 1G (no stat.pages[] for it).  Sent as a record for the core
 * to note.
 */
static inline int tdpw_spte_anomalous(int level, unsigned long long old_spte,
				      unsigned long long new_spte)
{
	int was_leaf = tdpw_spte_is_leaf(level, old_spte);
	int is_leaf = tdpw_spte_is_leaf(level, new_spte);

	if (level < 1 || level > 5)
		return 1;
	if (level > 3 && (was_leaf || is_leaf))
		return 1;
	return was_leaf && is_leaf && tdpw_spte_pfn_changed(old_spte, new_spte);
}

/*
 * The leaf statistics one change moves, as kvm_update_page_stats() (levels
 * 1..3 only: there is no stat.pages[] above 1G, and anomalous changes move
 * nothing here).  handle_changed_spte() adds +-1 at `level` when leafness
 * changes:
 */
static inline int tdpw_spte_leaf_change(int level, unsigned long long old_spte,
					unsigned long long new_spte)
{
	int was_leaf = tdpw_spte_is_leaf(level, old_spte);
	int is_leaf = tdpw_spte_is_leaf(level, new_spte);

	if (level < 1 || level > 3 || was_leaf == is_leaf)
		return 0;
	return is_leaf ? 1 : -1;
}

/*
 * ... and tdp_mmu_split_huge_page() adds SPTE_ENT_PER_PAGE (512) leaves one
 * level down for the table it links over a huge leaf.
 */
static inline int tdpw_spte_splits_huge_page(int level, unsigned long long old_spte,
					     unsigned long long new_spte)
{
	return level > 1 && level <= 3 && tdpw_spte_is_leaf(level, old_spte) &&
	       tdpw_spte_links_table(level, old_spte, new_spte);
}

#define TDPW_SPTE_ENT_PER_PAGE 512

/*
 * An SPTE change that moves nothing tdpwatch counts: both present, the
 * same physical address, both leaves or both tables.  What differs is the
 * accessed, dirty or writable bit: aging, dirty logging.
 */
static inline int tdpw_spte_attr_only(int level, unsigned long long old_spte,
				      unsigned long long new_spte)
{
	return (old_spte & TDPW_SPTE_PRESENT) && (new_spte & TDPW_SPTE_PRESENT) &&
	       tdpw_spte_is_leaf(level, old_spte) == tdpw_spte_is_leaf(level, new_spte) &&
	       !tdpw_spte_pfn_changed(old_spte, new_spte);
}

/*
 * A direct-map base (PAGE_OFFSET), however learned (kallsyms, a linked
 * table's parent SPTE, a vCPU's root): in the kernel half and 1 GiB aligned
 * (kernel_randomize_memory() aligns it to PUD_SIZE).  The probes, the table
 * walk and the daemon that passes one to the other accept only such values.
 */
#define TDPW_PUD_SIZE (1ULL << 30)

static inline int tdpw_page_offset_plausible(unsigned long long po)
{
	return (po >> 63) && !(po & (TDPW_PUD_SIZE - 1));
}

#endif /* TDPWATCH_BPF_TDPW_SPTE_H */
