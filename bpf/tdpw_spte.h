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
 * An SPTE change that moves nothing tdpwatch counts (handle_changed_spte():
 * no table linked or removed, no leaf mapped, unmapped or resized): both
 * present, the same physical address, both leaves or both tables.  What
 * differs is the accessed, dirty or writable bit: aging, dirty logging.
 */
static inline int tdpw_spte_attr_only(int level, unsigned long long old_spte,
				      unsigned long long new_spte)
{
	int old_leaf = level == 1 || (old_spte & TDPW_SPTE_HUGE) != 0;
	int new_leaf = level == 1 || (new_spte & TDPW_SPTE_HUGE) != 0;

	return (old_spte & TDPW_SPTE_PRESENT) && (new_spte & TDPW_SPTE_PRESENT) &&
	       old_leaf == new_leaf &&
	       (old_spte & TDPW_SPTE_ADDR_MASK) == (new_spte & TDPW_SPTE_ADDR_MASK);
}

#endif /* TDPWATCH_BPF_TDPW_SPTE_H */
